// AVError: AVFoundation's error domain, codes and userInfo keys, shaped as Apple's Swift overlay shapes them.
import Foundation

/// The domain of every `AVError`, as `(error as NSError).domain` reports it.
public let AVFoundationErrorDomain: String = "AVFoundationErrorDomain"

/// userInfo key: the capture device involved (an `AVCaptureDevice`).
public let AVErrorDeviceKey: String = "AVErrorDeviceKey"
/// userInfo key: a time (a `CMTime`), e.g. how much was recorded when a limit stopped a recording.
public let AVErrorTimeKey: String = "AVErrorTimeKey"
/// userInfo key: a file size in bytes (an integer).
public let AVErrorFileSizeKey: String = "AVErrorFileSizeKey"
/// userInfo key: the process ID (an integer) of the process holding a device.
public let AVErrorPIDKey: String = "AVErrorPIDKey"
/// userInfo key: whether the file is complete and playable although the recording failed (a Bool).
public let AVErrorRecordingSuccessfullyFinishedKey: String = "AVErrorRecordingSuccessfullyFinishedKey"
/// userInfo key: a media type (an `AVMediaType` or its raw string).
public let AVErrorMediaTypeKey: String = "AVErrorMediaTypeKey"
/// userInfo key: media subtypes (an array of four-character codes as integers).
public let AVErrorMediaSubTypeKey: String = "AVErrorMediaSubTypeKey"
/// userInfo key: a presentation timestamp (a `CMTime`).
public let AVErrorPresentationTimeStampKey: String = "AVErrorPresentationTimeStampKey"
/// userInfo key: a track's persistent ID (an integer).
public let AVErrorPersistentTrackIDKey: String = "AVErrorPersistentTrackIDKey"
/// userInfo key: a file type (an `AVFileType` or its raw UTI string).
public let AVErrorFileTypeKey: String = "AVErrorFileTypeKey"
/// userInfo key (macOS): the discontinuity flags of a `mediaDiscontinuity` error.
public let AVErrorDiscontinuityFlagsKey: String = "AVErrorDiscontinuityFlagsKey"

/// An AVFoundation error: a code in `AVFoundationErrorDomain` and its userInfo.
///
/// As on Apple's platforms: `catch AVError.deviceNotConnected`, `catch let e as AVError where
/// e.code == .diskFull`, `if case AVError.diskFull = error` and `(error as NSError).domain/.code`
/// all work, and the accessors read Apple's userInfo keys.
///
/// On Linux there is no Objective-C bridge, so an `NSError` built by hand with this domain does not
/// cast to `AVError` (`as? AVError` is nil); the code patterns (`catch AVError.diskFull`, `~=`)
/// still match it by domain and code. This module throws and delivers `AVError` values only.
///
/// `@unchecked Sendable` as Apple's: `userInfo` is fixed at creation and, as on Apple's platforms,
/// holds immutable values (numbers, strings, times, devices, which are themselves thread-safe).
public struct AVError: Error, CustomNSError, Hashable, @unchecked Sendable {
    /// The error's code.
    public let code: Code
    /// The userInfo dictionary, keyed by the `AVError…Key` constants (and Foundation's keys).
    public let userInfo: [String: Any]

    /// Makes an error with `code` and `userInfo`, as the overlay's initializer does.
    public init(_ code: Code, userInfo: [String: Any] = [:]) {
        self.code = code
        self.userInfo = userInfo
    }

    public static var errorDomain: String { AVFoundationErrorDomain }
    public var errorCode: Int { code.rawValue }
    public var errorUserInfo: [String: Any] { userInfo }

    /// Equal when code and userInfo are, as `NSError.isEqual` compares them: values compare as
    /// `AnyHashable`, objects that aren't hashable by identity.
    public static func == (lhs: AVError, rhs: AVError) -> Bool {
        guard lhs.code == rhs.code, lhs.userInfo.count == rhs.userInfo.count else { return false }
        return lhs.userInfo.allSatisfy { key, value in
            guard let other = rhs.userInfo[key] else { return false }
            if let a = value as? AnyHashable, let b = other as? AnyHashable { return a == b }
            return (value as AnyObject) === (other as AnyObject)
        }
    }

    public func hash(into hasher: inout Hasher) {
        hasher.combine(code)
    }

    /// AVFoundation's error codes, with Apple's raw values.
    ///
    /// All of Apple's codes are here so code that switches over them compiles. Linux: CaptureDeck
    /// produces `unknown`, `sessionNotRunning` (starting with no input), `deviceNotConnected`,
    /// `deviceWasDisconnected`, `deviceInUseByAnotherApplication`,
    /// `deviceLockedForConfigurationByAnotherProcess`, `applicationIsNotAuthorizedToUseDevice`,
    /// `unsupportedDeviceActiveFormat`, `diskFull`, `fileAlreadyExists`, `maximumDurationReached`,
    /// `maximumFileSizeReached`, `unsupportedOutputSettings`, `formatUnsupported` and
    /// `invalidOutputURLPathExtension`; the others are never produced (a device busy in another
    /// session interrupts the session instead of `deviceAlreadyUsedByAnotherSession`).
    /// `sessionWasInterrupted` and `mediaServicesWereReset` are iOS-only on Apple's platforms;
    /// they are available here.
    public enum Code: Int, Sendable, Equatable {
        /// An unknown error occurred.
        case unknown = -11800
        /// There isn't enough memory to process the media.
        case outOfMemory = -11801
        /// The recording couldn't start because the session isn't running.
        case sessionNotRunning = -11803
        /// Another capture session already uses the device.
        case deviceAlreadyUsedByAnotherSession = -11804
        /// The recording failed because no data arrived.
        case noDataCaptured = -11805
        /// Recording stopped because the session's sources and destinations changed.
        case sessionConfigurationChanged = -11806
        /// Recording stopped because the disk is full.
        case diskFull = -11807
        /// A device that was connected is no longer available.
        case deviceWasDisconnected = -11808
        /// Recording stopped because the source's format changed.
        case mediaChanged = -11809
        /// Recording stopped at the output's maximum duration.
        case maximumDurationReached = -11810
        /// Recording stopped at the output's maximum file size.
        case maximumFileSizeReached = -11811
        /// Recording stopped because the input media was interrupted.
        case mediaDiscontinuity = -11812
        /// Recording stopped at the most samples the file format can hold.
        case maximumNumberOfSamplesForFileFormatReached = -11813
        /// The device isn't connected.
        case deviceNotConnected = -11814
        /// Another application uses the device.
        case deviceInUseByAnotherApplication = -11815
        /// Another process holds the device's configuration lock.
        case deviceLockedForConfigurationByAnotherProcess = -11817
        /// Recording stopped because the session was interrupted.
        case sessionWasInterrupted = -11818
        /// The media services were reset.
        case mediaServicesWereReset = -11819
        case exportFailed = -11820
        case decodeFailed = -11821
        case invalidSourceMedia = -11822
        /// A file exists at the destination and can't be overwritten.
        case fileAlreadyExists = -11823
        case compositionTrackSegmentsNotContiguous = -11824
        case invalidCompositionTrackSegmentDuration = -11825
        case invalidCompositionTrackSegmentSourceStartTime = -11826
        case invalidCompositionTrackSegmentSourceDuration = -11827
        case fileFormatNotRecognized = -11828
        case fileFailedToParse = -11829
        case maximumStillImageCaptureRequestsExceeded = -11830
        case contentIsProtected = -11831
        case noImageAtTime = -11832
        case decoderNotFound = -11833
        case encoderNotFound = -11834
        case contentIsNotAuthorized = -11835
        case applicationIsNotAuthorized = -11836
        @available(*, deprecated, message: "Apple stopped producing it in iOS 9; never produced here.")
        case deviceIsNotAvailableInBackground = -11837
        case operationNotSupportedForAsset = -11838
        case decoderTemporarilyUnavailable = -11839
        case encoderTemporarilyUnavailable = -11840
        case invalidVideoComposition = -11841
        case referenceForbiddenByReferencePolicy = -11842
        case invalidOutputURLPathExtension = -11843
        case screenCaptureFailed = -11844
        case displayWasDisabled = -11845
        case torchLevelUnavailable = -11846
        case operationInterrupted = -11847
        case incompatibleAsset = -11848
        case failedToLoadMediaData = -11849
        case serverIncorrectlyConfigured = -11850
        /// The user denied this application access to the capture device.
        case applicationIsNotAuthorizedToUseDevice = -11852
        case failedToParse = -11853
        case fileTypeDoesNotSupportSampleReferences = -11854
        case undecodableMediaData = -11855
        case airPlayControllerRequiresInternet = -11856
        case airPlayReceiverRequiresInternet = -11857
        case videoCompositorFailed = -11858
        /// A recording is already under way on this output.
        case recordingAlreadyInProgress = -11859
        case createContentKeyRequestFailed = -11860
        /// The output settings request something the output can't produce.
        case unsupportedOutputSettings = -11861
        case operationNotAllowed = -11862
        case contentIsUnavailable = -11863
        case formatUnsupported = -11864
        case malformedDepth = -11865
        case contentNotUpdated = -11866
        case noLongerPlayable = -11867
        case noCompatibleAlternatesForExternalDisplay = -11868
        case noSourceTrack = -11869
        case externalPlaybackNotSupportedForAsset = -11870
        case operationNotSupportedForPreset = -11871
        case sessionHardwareCostOverage = -11872
        case unsupportedDeviceActiveFormat = -11873
        case incorrectlyConfigured = -11875
        case segmentStartedWithNonSyncSample = -11876
        case rosettaNotInstalled = -11877
        case operationCancelled = -11878
        case contentKeyRequestCancelled = -11879
        case invalidSampleCursor = -11880
        case failedToLoadSampleData = -11881
        case airPlayReceiverTemporarilyUnavailable = -11882
        case encodeFailed = -11883
        case sandboxExtensionDenied = -11884
        case toneMappingFailed = -11885
        case mediaExtensionDisabled = -11886
        case mediaExtensionConflict = -11887
        case noSmartFramingsEnabled = -11890
        case autoWhiteBalanceNotLocked = -11891
        case followExternalSyncDeviceTimedOut = -11892

        /// Matches an error of this code: an `AVError`, or any error bridging to an `NSError` in
        /// `AVFoundationErrorDomain` with this code. Makes `catch AVError.diskFull` work.
        public static func ~= (match: AVError.Code, error: any Error) -> Bool {
            if let error = error as? AVError { return error.code == match }
            let ns = error as NSError
            return ns.domain == AVFoundationErrorDomain && ns.code == match.rawValue
        }
    }

    public static var unknown: AVError.Code { .unknown }
    public static var outOfMemory: AVError.Code { .outOfMemory }
    public static var sessionNotRunning: AVError.Code { .sessionNotRunning }
    public static var deviceAlreadyUsedByAnotherSession: AVError.Code { .deviceAlreadyUsedByAnotherSession }
    public static var noDataCaptured: AVError.Code { .noDataCaptured }
    public static var sessionConfigurationChanged: AVError.Code { .sessionConfigurationChanged }
    public static var diskFull: AVError.Code { .diskFull }
    public static var deviceWasDisconnected: AVError.Code { .deviceWasDisconnected }
    public static var mediaChanged: AVError.Code { .mediaChanged }
    public static var maximumDurationReached: AVError.Code { .maximumDurationReached }
    public static var maximumFileSizeReached: AVError.Code { .maximumFileSizeReached }
    public static var mediaDiscontinuity: AVError.Code { .mediaDiscontinuity }
    public static var maximumNumberOfSamplesForFileFormatReached: AVError.Code { .maximumNumberOfSamplesForFileFormatReached }
    public static var deviceNotConnected: AVError.Code { .deviceNotConnected }
    public static var deviceInUseByAnotherApplication: AVError.Code { .deviceInUseByAnotherApplication }
    public static var deviceLockedForConfigurationByAnotherProcess: AVError.Code { .deviceLockedForConfigurationByAnotherProcess }
    public static var sessionWasInterrupted: AVError.Code { .sessionWasInterrupted }
    public static var mediaServicesWereReset: AVError.Code { .mediaServicesWereReset }
    public static var exportFailed: AVError.Code { .exportFailed }
    public static var decodeFailed: AVError.Code { .decodeFailed }
    public static var invalidSourceMedia: AVError.Code { .invalidSourceMedia }
    public static var fileAlreadyExists: AVError.Code { .fileAlreadyExists }
    public static var compositionTrackSegmentsNotContiguous: AVError.Code { .compositionTrackSegmentsNotContiguous }
    public static var invalidCompositionTrackSegmentDuration: AVError.Code { .invalidCompositionTrackSegmentDuration }
    public static var invalidCompositionTrackSegmentSourceStartTime: AVError.Code { .invalidCompositionTrackSegmentSourceStartTime }
    public static var invalidCompositionTrackSegmentSourceDuration: AVError.Code { .invalidCompositionTrackSegmentSourceDuration }
    public static var fileFormatNotRecognized: AVError.Code { .fileFormatNotRecognized }
    public static var fileFailedToParse: AVError.Code { .fileFailedToParse }
    public static var maximumStillImageCaptureRequestsExceeded: AVError.Code { .maximumStillImageCaptureRequestsExceeded }
    public static var contentIsProtected: AVError.Code { .contentIsProtected }
    public static var noImageAtTime: AVError.Code { .noImageAtTime }
    public static var decoderNotFound: AVError.Code { .decoderNotFound }
    public static var encoderNotFound: AVError.Code { .encoderNotFound }
    public static var contentIsNotAuthorized: AVError.Code { .contentIsNotAuthorized }
    public static var applicationIsNotAuthorized: AVError.Code { .applicationIsNotAuthorized }
    @available(*, deprecated, message: "Apple stopped producing it in iOS 9; never produced here.")
    public static var deviceIsNotAvailableInBackground: AVError.Code { .deviceIsNotAvailableInBackground }
    public static var operationNotSupportedForAsset: AVError.Code { .operationNotSupportedForAsset }
    public static var decoderTemporarilyUnavailable: AVError.Code { .decoderTemporarilyUnavailable }
    public static var encoderTemporarilyUnavailable: AVError.Code { .encoderTemporarilyUnavailable }
    public static var invalidVideoComposition: AVError.Code { .invalidVideoComposition }
    public static var referenceForbiddenByReferencePolicy: AVError.Code { .referenceForbiddenByReferencePolicy }
    public static var invalidOutputURLPathExtension: AVError.Code { .invalidOutputURLPathExtension }
    public static var screenCaptureFailed: AVError.Code { .screenCaptureFailed }
    public static var displayWasDisabled: AVError.Code { .displayWasDisabled }
    public static var torchLevelUnavailable: AVError.Code { .torchLevelUnavailable }
    public static var operationInterrupted: AVError.Code { .operationInterrupted }
    public static var incompatibleAsset: AVError.Code { .incompatibleAsset }
    public static var failedToLoadMediaData: AVError.Code { .failedToLoadMediaData }
    public static var serverIncorrectlyConfigured: AVError.Code { .serverIncorrectlyConfigured }
    public static var applicationIsNotAuthorizedToUseDevice: AVError.Code { .applicationIsNotAuthorizedToUseDevice }
    public static var failedToParse: AVError.Code { .failedToParse }
    public static var fileTypeDoesNotSupportSampleReferences: AVError.Code { .fileTypeDoesNotSupportSampleReferences }
    public static var undecodableMediaData: AVError.Code { .undecodableMediaData }
    public static var airPlayControllerRequiresInternet: AVError.Code { .airPlayControllerRequiresInternet }
    public static var airPlayReceiverRequiresInternet: AVError.Code { .airPlayReceiverRequiresInternet }
    public static var videoCompositorFailed: AVError.Code { .videoCompositorFailed }
    public static var recordingAlreadyInProgress: AVError.Code { .recordingAlreadyInProgress }
    public static var createContentKeyRequestFailed: AVError.Code { .createContentKeyRequestFailed }
    public static var unsupportedOutputSettings: AVError.Code { .unsupportedOutputSettings }
    public static var operationNotAllowed: AVError.Code { .operationNotAllowed }
    public static var contentIsUnavailable: AVError.Code { .contentIsUnavailable }
    public static var formatUnsupported: AVError.Code { .formatUnsupported }
    public static var malformedDepth: AVError.Code { .malformedDepth }
    public static var contentNotUpdated: AVError.Code { .contentNotUpdated }
    public static var noLongerPlayable: AVError.Code { .noLongerPlayable }
    public static var noCompatibleAlternatesForExternalDisplay: AVError.Code { .noCompatibleAlternatesForExternalDisplay }
    public static var noSourceTrack: AVError.Code { .noSourceTrack }
    public static var externalPlaybackNotSupportedForAsset: AVError.Code { .externalPlaybackNotSupportedForAsset }
    public static var operationNotSupportedForPreset: AVError.Code { .operationNotSupportedForPreset }
    public static var sessionHardwareCostOverage: AVError.Code { .sessionHardwareCostOverage }
    public static var unsupportedDeviceActiveFormat: AVError.Code { .unsupportedDeviceActiveFormat }
    public static var incorrectlyConfigured: AVError.Code { .incorrectlyConfigured }
    public static var segmentStartedWithNonSyncSample: AVError.Code { .segmentStartedWithNonSyncSample }
    public static var rosettaNotInstalled: AVError.Code { .rosettaNotInstalled }
    public static var operationCancelled: AVError.Code { .operationCancelled }
    public static var contentKeyRequestCancelled: AVError.Code { .contentKeyRequestCancelled }
    public static var invalidSampleCursor: AVError.Code { .invalidSampleCursor }
    public static var failedToLoadSampleData: AVError.Code { .failedToLoadSampleData }
    public static var airPlayReceiverTemporarilyUnavailable: AVError.Code { .airPlayReceiverTemporarilyUnavailable }
    public static var encodeFailed: AVError.Code { .encodeFailed }
    public static var sandboxExtensionDenied: AVError.Code { .sandboxExtensionDenied }
    public static var toneMappingFailed: AVError.Code { .toneMappingFailed }
    public static var mediaExtensionDisabled: AVError.Code { .mediaExtensionDisabled }
    public static var mediaExtensionConflict: AVError.Code { .mediaExtensionConflict }
    public static var noSmartFramingsEnabled: AVError.Code { .noSmartFramingsEnabled }
    public static var autoWhiteBalanceNotLocked: AVError.Code { .autoWhiteBalanceNotLocked }
    public static var followExternalSyncDeviceTimedOut: AVError.Code { .followExternalSyncDeviceTimedOut }
}

// The overlay's accessors for Apple's userInfo keys. Values are read as Apple stores them
// (numbers as NSNumber) and also as the Swift values a Linux caller stores directly.
extension AVError {
    /// The device the error concerns, from `AVErrorDeviceKey`.
    public var device: AVCaptureDevice? { userInfo[AVErrorDeviceKey] as? AVCaptureDevice }

    /// The file size, from `AVErrorFileSizeKey`.
    public var fileSize: Int64? { (userInfo[AVErrorFileSizeKey] as? NSNumber)?.int64Value }

    /// The process ID, from `AVErrorPIDKey`.
    public var processID: Int? { (userInfo[AVErrorPIDKey] as? NSNumber)?.intValue }

    /// Whether the recording finished playable in spite of the error, from
    /// `AVErrorRecordingSuccessfullyFinishedKey`.
    public var recordingSuccessfullyFinished: Bool? {
        (userInfo[AVErrorRecordingSuccessfullyFinishedKey] as? NSNumber)?.boolValue
    }

    /// The media type, from `AVErrorMediaTypeKey` (an `AVMediaType` or its raw string).
    public var mediaType: AVMediaType? {
        switch userInfo[AVErrorMediaTypeKey] {
        case let type as AVMediaType: type
        case let raw as String: AVMediaType(rawValue: raw)
        default: nil
        }
    }

    /// The media subtypes (four-character codes), from `AVErrorMediaSubTypeKey`.
    public var mediaSubtypes: [Int]? {
        (userInfo[AVErrorMediaSubTypeKey] as? [Any])?.compactMap { ($0 as? NSNumber)?.intValue }
    }

    /// The time, from `AVErrorTimeKey` (a `CMTime`).
    public var time: CMTime? { userInfo[AVErrorTimeKey] as? CMTime }

    /// The presentation timestamp, from `AVErrorPresentationTimeStampKey` (a `CMTime`).
    public var presentationTimeStamp: CMTime? { userInfo[AVErrorPresentationTimeStampKey] as? CMTime }

    /// The track's persistent ID, from `AVErrorPersistentTrackIDKey`.
    public var persistentTrackID: CMPersistentTrackID? {
        (userInfo[AVErrorPersistentTrackIDKey] as? NSNumber)?.int32Value
    }

    /// The file type, from `AVErrorFileTypeKey` (an `AVFileType` or its raw UTI string).
    public var fileType: AVFileType? {
        switch userInfo[AVErrorFileTypeKey] {
        case let type as AVFileType: type
        case let raw as String: AVFileType(rawValue: raw)
        default: nil
        }
    }
}
