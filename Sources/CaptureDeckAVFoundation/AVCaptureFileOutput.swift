// AVCaptureFileOutput and AVCaptureAudioFileOutput: recordings to files, reported to a delegate.
import CaptureCore
import CaptureDeck
import CaptureFiles
import Dispatch
import Foundation
import Glibc

/// Follows a file output's recordings. Only the did-finish method is required, as on Apple's.
public protocol AVCaptureFileOutputRecordingDelegate: NSObjectProtocol {
    /// The recording has begun: the file holds its first frames.
    func fileOutput(_ output: AVCaptureFileOutput, didStartRecordingTo fileURL: URL, from connections: [AVCaptureConnection])
    /// Recording paused (`pauseRecording()` took effect).
    func fileOutput(_ output: AVCaptureFileOutput, didPauseRecordingTo fileURL: URL, from connections: [AVCaptureConnection])
    /// Recording resumed (`resumeRecording()` took effect).
    func fileOutput(_ output: AVCaptureFileOutput, didResumeRecordingTo fileURL: URL, from connections: [AVCaptureConnection])
    /// The recording is ending (stopped, a limit reached, or an error), before the file is finished.
    func fileOutput(_ output: AVCaptureFileOutput, willFinishRecordingTo fileURL: URL, from connections: [AVCaptureConnection], error: Error?)
    /// The file is finished and closed. `error` is nil for a recording stopped by `stopRecording()`;
    /// for a limit reached or a disk full it is an `AVError` whose `AVErrorRecordingSuccessfullyFinishedKey`
    /// is true (the file is whole and playable up to there); otherwise the file may hold nothing.
    func fileOutput(_ output: AVCaptureFileOutput, didFinishRecordingTo outputFileURL: URL, from connections: [AVCaptureConnection], error: Error?)
}

extension AVCaptureFileOutputRecordingDelegate {
    public func fileOutput(_ output: AVCaptureFileOutput, didStartRecordingTo fileURL: URL, from connections: [AVCaptureConnection]) {}
    public func fileOutput(_ output: AVCaptureFileOutput, didPauseRecordingTo fileURL: URL, from connections: [AVCaptureConnection]) {}
    public func fileOutput(_ output: AVCaptureFileOutput, didResumeRecordingTo fileURL: URL, from connections: [AVCaptureConnection]) {}
    public func fileOutput(_ output: AVCaptureFileOutput, willFinishRecordingTo fileURL: URL, from connections: [AVCaptureConnection], error: Error?) {}
}

/// Records the session's audio to a file (Apple's abstract `AVCaptureFileOutput`; use
/// `AVCaptureAudioFileOutput`).
///
/// Linux: files are CaptureDeck's crash-safe recordings — the header and data are synced at
/// least once a second, a recording cut off by a crash is repaired by `capdeck recover`, and an
/// existing file is never overwritten (starting a recording to one finishes at once with
/// `AVError.fileAlreadyExists`). Delegate methods are called in order on a serial queue of the
/// output's, never on the caller's thread and never on the capture thread.
public class AVCaptureFileOutput: AVCaptureOutput, @unchecked Sendable {
    let file: CaptureAudioFileOutput
    /// Delegate calls, in order.
    private let delegateQueue = DispatchQueue(label: "capdeck.avfoundation.file-output")
    /// A recording's delegate and what it has been told.
    private struct Recording {
        var url: URL
        var delegate: any AVCaptureFileOutputRecordingDelegate
        var paused = false
        var toldWillFinish = false
    }
    /// The recording in progress (nil when none), behind `lock`.
    private var current: Recording?
    /// Recordings that have ended and whose did-finish is still to come, by path.
    private var ending: [String: Recording] = [:]
    /// The last recording's frames and bytes, for `recordedDuration`/`recordedFileSize` once it
    /// has ended (in will-finish and did-finish, and until the next recording starts).
    private var last: (frames: Int, bytes: Int64) = (0, 0)
    private var _maxDuration = CMTime.invalid
    private var _maxFileSize: Int64 = 0
    private var _minFreeDisk: Int64 = 0

    init(file: CaptureAudioFileOutput) {
        self.file = file
        super.init(core: file)
        file.setRecordingFinishedHandler { [weak self] finished in self?.recordingFinished(finished) }
    }

    /// The URL being recorded to (nil when not recording).
    public var outputFileURL: URL? { lock.withLock { current?.url } }
    /// Whether a recording is in progress (including paused).
    public var isRecording: Bool { lock.withLock { current != nil } }
    /// Whether the recording in progress is paused.
    public var isRecordingPaused: Bool { lock.withLock { current?.paused ?? false } }

    /// The duration recorded so far in the current file, in the capture rate's timescale: exact
    /// frames. Once a recording ends — in will-finish and did-finish, and until the next one
    /// starts — the ended recording's (zero before the first).
    public var recordedDuration: CMTime {
        let frames = isRecording ? file.recordedFrames : lock.withLock { last.frames }
        return CMTime(value: CMTimeValue(frames), timescale: CMTimeScale(session?.sampleRate ?? file.format.sampleRate))
    }

    /// Bytes the current file takes on disk now; once a recording ends, the ended file's (as
    /// `recordedDuration`).
    public var recordedFileSize: Int64 { isRecording ? Int64(file.recordedFileSize) : lock.withLock { last.bytes } }

    /// Keeps the ending recording's figures (called before the core finishes it).
    private func keepFigures() {
        let figures = (file.recordedFrames, Int64(file.recordedFileSize))
        lock.withLock { last = figures }
    }

    /// The longest a recording may be; reaching it finishes the recording, frame-exact, with
    /// `AVError.maximumDurationReached` (`AVErrorRecordingSuccessfullyFinishedKey` true) while the
    /// session keeps running. `.invalid` (the default) or a non-positive time: no limit. Applies
    /// to the recording in progress too.
    public var maxRecordedDuration: CMTime {
        get { lock.withLock { _maxDuration } }
        set {
            lock.withLock { _maxDuration = newValue }
            applyLimits()
        }
    }
    /// The most bytes of audio a recording may hold (frames × bytes per frame; the header comes on
    /// top); reaching it finishes the recording with `AVError.maximumFileSizeReached`. 0 (the
    /// default): no limit.
    public var maxRecordedFileSize: Int64 {
        get { lock.withLock { _maxFileSize } }
        set {
            lock.withLock { _maxFileSize = max(0, newValue) }
            applyLimits()
        }
    }
    /// The free space on the file's disk below which recording finishes, in bytes, with
    /// `AVError.diskFull` (`AVErrorRecordingSuccessfullyFinishedKey` true). 0 (the default): no
    /// limit of its own (a disk that fills still finishes the file with every frame it holds).
    public var minFreeDiskSpaceLimit: Int64 {
        get { lock.withLock { _minFreeDisk } }
        set {
            lock.withLock { _minFreeDisk = max(0, newValue) }
            applyLimits()
        }
    }

    /// Hands the limits to the CaptureDeck output, the duration in frames of the capture rate.
    private func applyLimits() {
        let (duration, size, free) = lock.withLock { (_maxDuration, _maxFileSize, _minFreeDisk) }
        let rate = session?.sampleRate ?? file.format.sampleRate
        file.maxRecordedFrames = duration.isNumeric && duration.value > 0 ? Int((duration.seconds * Double(rate)).rounded()) : nil
        file.maxRecordedFileSize = size > 0 ? Int(size) : nil
        file.minFreeDiskSpaceLimit = free > 0 ? Int(free) : nil
    }

    override func connectionsChanged() {
        applyLimits()  // the rate may have changed with the input
        // A missing or disabled connection records nothing, as a pause does.
        let userPaused = lock.withLock { current?.paused ?? false }
        if !isFed { file.pause() } else if !userPaused { file.resume() }
    }

    /// Starts recording to `outputFileURL` in the type its extension names: .wav, .caf, .aif/.aiff
    /// (Apple's types), and, as CaptureDeck extensions, .w64 and .flac.
    public func startRecording(to outputFileURL: URL, recordingDelegate delegate: any AVCaptureFileOutputRecordingDelegate) {
        startRecording(to: outputFileURL, fileType: FileType(name: outputFileURL.pathExtension), recordingDelegate: delegate)
    }

    /// Starts a recording, finishing one in progress first (as Apple's does). A file that exists,
    /// a folder that can't be written or a type CaptureDeck doesn't write ends it at once, through
    /// `didFinishRecordingTo…error:` with no did-start. Did-start follows as soon as the file is
    /// created; frames arrive from the next writer batch (at most a device period later).
    func startRecording(to url: URL, fileType: FileType?, recordingDelegate delegate: any AVCaptureFileOutputRecordingDelegate) {
        let connections = self.connections
        guard url.isFileURL, let fileType else {
            let error = url.isFileURL
                ? AVError(.formatUnsupported, userInfo: [NSLocalizedDescriptionKey: "\(url.path): CaptureDeck records .wav, .caf and .aiff files"])
                : AVError(.invalidOutputURLPathExtension, userInfo: [NSLocalizedDescriptionKey: "\(url): not a file URL"])
            callDelegate(delegate) { $0.fileOutput(self, didFinishRecordingTo: url, from: connections, error: error) }
            return
        }
        // The recording in progress: told it will finish; CaptureDeck finishes it as the new one starts.
        if isRecording { keepFigures() }
        if let old = lock.withLock({ () -> Recording? in
            guard var old = current else { return nil }
            old.toldWillFinish = true
            ending[old.url.path] = old
            current = nil
            return old
        }) {
            let oldURL = old.url
            callDelegate(old.delegate) { $0.fileOutput(self, willFinishRecordingTo: oldURL, from: connections, error: nil) }
        }
        applyLimits()
        let fileFormat: FileSampleFormat?
        do throws(AudioSettingsError) { fileFormat = try recordingFileFormat(for: fileType) } catch {
            callDelegate(delegate) { $0.fileOutput(self, didFinishRecordingTo: url, from: connections, error: error.avError) }
            return
        }
        lock.withLock { current = Recording(url: url, delegate: delegate); last = (0, 0) }
        do throws(RecordingError) {
            try file.startRecording(to: url.path, fileType: fileType, fileFormat: fileFormat, tags: recordingTags())
            if !isFed { file.pause() }
            callDelegate(delegate) { $0.fileOutput(self, didStartRecordingTo: url, from: connections) }
        } catch {
            lock.withLock { if current?.url == url { current = nil } }
            callDelegate(delegate) { $0.fileOutput(self, didFinishRecordingTo: url, from: connections, error: AVError(error)) }
        }
    }

    /// How the next recording's file stores its samples (nil: the session's format); refused
    /// settings end the recording at once. `AVCaptureAudioFileOutput`: its `audioSettings`.
    func recordingFileFormat(for fileType: FileType) throws(AudioSettingsError) -> FileSampleFormat? { nil }

    /// The tags the next recording's file gets. `AVCaptureAudioFileOutput`: from its `metadata`.
    func recordingTags() -> [FileTag: String] { [:] }

    /// Stops the recording; will-finish and then did-finish follow on the delegate queue, once the
    /// file is finished. Returns at once, as Apple's does.
    public func stopRecording() {
        if isRecording { keepFigures() }
        guard let r = lock.withLock({ () -> Recording? in
            guard var r = current else { return nil }
            r.toldWillFinish = true
            ending[r.url.path] = r
            current = nil
            return r
        }) else { return }
        let connections = self.connections, url = r.url
        callDelegate(r.delegate) { $0.fileOutput(self, willFinishRecordingTo: url, from: connections, error: nil) }
        // The finished handler reports the end (with any error finishing met).
        DispatchQueue.global(qos: .userInitiated).async { [file] in _ = try? file.stopRecording() }
    }

    /// Pauses the recording: no frame is written from the next writer batch until `resumeRecording()`.
    public func pauseRecording() {
        guard let r = lock.withLock({ () -> Recording? in
            guard var r = current, !r.paused else { return nil }
            r.paused = true
            current = r
            return r
        }) else { return }
        file.pause()
        let connections = self.connections, url = r.url
        callDelegate(r.delegate) { $0.fileOutput(self, didPauseRecordingTo: url, from: connections) }
    }

    /// Resumes a paused recording from the next writer batch.
    public func resumeRecording() {
        guard let r = lock.withLock({ () -> Recording? in
            guard var r = current, r.paused else { return nil }
            r.paused = false
            current = r
            return r
        }) else { return }
        if isFed { file.resume() }
        let connections = self.connections, url = r.url
        callDelegate(r.delegate) { $0.fileOutput(self, didResumeRecordingTo: url, from: connections) }
    }

    /// CaptureDeck finished a recording's file (stopped, a limit, an error): will-finish unless
    /// already told, then did-finish with Apple's error for the reason.
    private func recordingFinished(_ finished: FinishedRecording) {
        guard let r = lock.withLock({ () -> Recording? in
            if let r = ending.removeValue(forKey: finished.path) { return r }
            if let r = current, r.url.path == finished.path {
                current = nil
                return r
            }
            return nil
        }) else { return }
        let error = Self.error(for: finished)
        var st = stat()
        let bytes = stat(finished.path, &st) == 0 ? Int64(st.st_size) : 0
        lock.withLock { if current == nil { last = (finished.frames, bytes) } }
        let connections = self.connections, url = r.url
        if !r.toldWillFinish {
            callDelegate(r.delegate) { $0.fileOutput(self, willFinishRecordingTo: url, from: connections, error: error) }
        }
        callDelegate(r.delegate) { $0.fileOutput(self, didFinishRecordingTo: url, from: connections, error: error) }
    }

    /// Apple's error for how a recording ended (nil: stopped, and the file is complete).
    static func error(for finished: FinishedRecording) -> AVError? {
        let whole: [String: Any] = [AVErrorRecordingSuccessfullyFinishedKey: true]
        switch finished.reason {
        case .stopped, .split: return finished.error.map { AVError($0) }
        case .maximumDurationReached: return finished.error.map { AVError($0) } ?? AVError(.maximumDurationReached, userInfo: whole)
        case .maximumFileSizeReached: return finished.error.map { AVError($0) } ?? AVError(.maximumFileSizeReached, userInfo: whole)
        case .freeDiskSpaceLimitReached: return finished.error.map { AVError($0) } ?? AVError(.diskFull, userInfo: whole)
        case .failed: return AVError(finished.error ?? .writeFailed(path: finished.path, reason: "unknown", framesSaved: finished.frames))
        }
    }

    private func callDelegate(_ delegate: any AVCaptureFileOutputRecordingDelegate,
                              _ body: @escaping @Sendable (any AVCaptureFileOutputRecordingDelegate) -> Void) {
        // The delegate isn't Sendable (a client's class); it is only used on this serial queue.
        nonisolated(unsafe) let d = delegate
        delegateQueue.async { body(d) }
    }
}

/// Records the session's audio to WAV, CAF or AIFF files (Apple's `AVCaptureAudioFileOutput`).
///
/// Linux: the file holds linear PCM at the session's rate and channels, in the session's capture
/// format or the one `audioSettings` chooses; WAV becomes RF64 past 4 GiB, as CaptureDeck's
/// recordings do.
public class AVCaptureAudioFileOutput: AVCaptureFileOutput, @unchecked Sendable {
    /// What `audioSettings` was set to (nil: the session's format), behind `lock`.
    private var _settings: [String: Any]?
    /// What `metadata` was set to, behind `lock`.
    private var _metadata: [AVMetadataItem] = []

    public init() {
        super.init(file: CaptureAudioFileOutput())
    }

    /// The types this output writes: WAV, CAF and AIFF.
    public class func availableOutputFileTypes() -> [AVFileType] { [.wav, .caf, .aiff] }

    /// Starts recording to `outputFileURL` as `fileType` (one of `availableOutputFileTypes()`).
    public func startRecording(to outputFileURL: URL, outputFileType fileType: AVFileType,
                               recordingDelegate delegate: any AVCaptureFileOutputRecordingDelegate) {
        startRecording(to: outputFileURL, fileType: FileType(fileType), recordingDelegate: delegate)
    }

    /// The format files are written in, from the next recording on; nil: the session's capture
    /// format (Apple's "device native format"). Linear PCM, interleaved: 16, 24 or 32-bit integer
    /// or 32-bit float (`AVLinearPCMBitDepthKey`, `AVLinearPCMIsFloatKey`), in the byte order
    /// `AVLinearPCMIsBigEndianKey` says (absent: the container's own — WAV little-endian, CAF and
    /// AIFF big-endian). Frames are converted exactly on CaptureDeck's writer (narrower integers
    /// truncate, float to integer rounds and clamps), and the file stays crash-safe.
    ///
    /// Linux, where it must differ:
    /// - The rate and channels are the session's (choose the rate with `sessionPreset`): an
    ///   `AVSampleRateKey` or `AVNumberOfChannelsKey` that differs from the session's when the
    ///   recording starts ends it at once with `AVError.unsupportedOutputSettings` naming the
    ///   key (checked then, not here, since the session's format is only known once it runs).
    /// - A byte order the file type can't hold — big-endian WAV, little-endian AIFF beyond 16
    ///   bits — ends the recording the same way. Apple's AIFF type takes big-endian integers
    ///   only; CaptureDeck writes 16-bit little-endian as AIFF-C `sowt` and float as AIFF-C
    ///   `FL32` (as it does for a float session with nil settings): a program meant for both
    ///   should use big-endian integers for `.aiff`, or `.caf`.
    /// - Settings CaptureDeck can't write at all (another format ID, non-interleaved, 8-bit or
    ///   other depths, unknown keys) are a programmer error, as Apple's raise an exception.
    ///
    /// Reading it back: what was set, with the format keys as the file will take them (the
    /// session's rate and channels once it has them); nil settings read back as the session's
    /// format (nil before the session has one).
    public var audioSettings: [String: Any]! {
        get {
            let settings = lock.withLock { _settings }
            guard let base = sessionFormat() else { return settings }
            guard let settings else { return AudioSettings.dictionary(for: base) }
            guard let (format, stored) = try? AudioSettings.fileFormat(from: settings, base: base) else { return settings }
            var merged = settings.merging(AudioSettings.dictionary(for: format)) { _, session in session }
            merged[AVSampleRateKey] = NSNumber(value: Double(base.sampleRate))
            merged[AVNumberOfChannelsKey] = NSNumber(value: base.channels)
            merged[AVLinearPCMIsBigEndianKey] = stored.byteOrder.map { NSNumber(value: $0 == .big) }
            return merged
        }
        set {
            if let newValue {
                let base = sessionFormat() ?? file.format
                do throws(AudioSettingsError) { _ = try AudioSettings.fileFormat(from: newValue, base: base) } catch {
                    preconditionFailure("AVCaptureAudioFileOutput.audioSettings: \(error.message)")
                }
            }
            lock.withLock { _settings = newValue }
        }
    }

    /// The metadata written into each file, taken when a recording starts (a later change, or an
    /// item changed after, applies from the next recording). Empty (the default): the file gets
    /// no tags at all — CaptureDeck adds none of its own.
    ///
    /// Linux: items go into the file's own tags, those the container holds (`FileTag`): a WAV's
    /// LIST/INFO chunk, a CAF's info chunk, AIFF's NAME/AUTH/ANNO/(c) chunks. Apple's takes ID3
    /// items only; here both the common identifiers and the ID3 ones map:
    /// - title: `.commonIdentifierTitle`, `.id3MetadataTitleDescription`
    /// - artist: `.commonIdentifierArtist`, `…Creator`, `…Author`, `.id3MetadataLeadPerformer`
    /// - comment: `.commonIdentifierDescription`, `.id3MetadataComments`
    /// - date: `.commonIdentifierCreationDate`, `.id3MetadataRecordingTime`, `.id3MetadataYear`
    /// - software: `.commonIdentifierSoftware`, `.id3MetadataEncodedWith` (libsndfile appends
    ///   its own name and version: "App 1.0 (libsndfile-1.2.0)")
    /// - copyright: `.commonIdentifierCopyrights`, `.id3MetadataCopyright`
    /// - album: `.commonIdentifierAlbumName`, `.id3MetadataAlbumTitle`
    /// - genre: `.id3MetadataContentType`; track number: `.id3MetadataTrackNumber`
    /// The first item for a tag wins; a value is its `stringValue` (dates in ISO 8601). Other
    /// identifiers, values that aren't strings, numbers or dates, and tags the container can't
    /// hold (WAV: all of these; CAF: all; AIFF: title, artist, comment and copyright only) are
    /// skipped, as Apple's writes only what a file type holds. The tags are written with the
    /// header, ahead of the audio, so a file cut off by a crash keeps them through
    /// `capdeck recover`.
    public var metadata: [AVMetadataItem] {
        get { lock.withLock { _metadata } }
        set { lock.withLock { _metadata = newValue } }
    }

    override func recordingTags() -> [FileTag: String] { AVMetadataItem.fileTags(from: metadata) }

    /// The session's capture format (nil before it has a rate).
    private func sessionFormat() -> StreamFormat? {
        guard let session, let rate = session.sampleRate else { return nil }
        var format = file.format
        format.sampleRate = rate
        format.channels = session.channelCount
        return format
    }

    override func recordingFileFormat(for fileType: FileType) throws(AudioSettingsError) -> FileSampleFormat? {
        guard let settings = lock.withLock({ _settings }) else { return nil }
        let session = sessionFormat()
        let (format, stored) = try AudioSettings.fileFormat(from: settings, base: session ?? file.format)
        if let session, format.sampleRate != session.sampleRate {
            throw AudioSettingsError(key: AVSampleRateKey, message: "audio settings: \(AVSampleRateKey) \(format.sampleRate) can't be recorded: files take the session's rate, \(session.sampleRate) Hz (choose it with sessionPreset)")
        }
        if let session, format.channels != session.channels {
            throw AudioSettingsError(key: AVNumberOfChannelsKey, message: "audio settings: \(AVNumberOfChannelsKey) \(format.channels) can't be recorded: files take the session's \(session.channels) channels")
        }
        do throws(RecordingError) { try fileType.validate(stored) } catch {
            throw AudioSettingsError(key: AVLinearPCMIsBigEndianKey, message: "audio settings: \(error.description)")
        }
        return stored
    }
}

extension FileType {
    /// The CaptureDeck type for an Apple file type (nil for types CaptureDeck doesn't write).
    init?(_ type: AVFileType) {
        switch type {
        case .wav: self = .wav
        case .caf: self = .caf
        case .aiff: self = .aiff
        default: return nil
        }
    }
}

extension AVError {
    /// The Apple error a recording error is reported as.
    init(_ error: RecordingError) {
        var info: [String: Any] = [NSLocalizedDescriptionKey: error.description]
        let code: AVError.Code
        switch error {
        case .exists: code = .fileAlreadyExists
        case .diskFull: code = .diskFull; info[AVErrorRecordingSuccessfullyFinishedKey] = true
        case .containerFull:
            // The file holds everything up to the container's limit, finished.
            code = .maximumNumberOfSamplesForFileFormatReached; info[AVErrorRecordingSuccessfullyFinishedKey] = true
        default: code = .unknown
        }
        self.init(code, userInfo: info)
    }
}
