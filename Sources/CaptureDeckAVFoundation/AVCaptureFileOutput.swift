// AVCaptureFileOutput and AVCaptureAudioFileOutput: recordings to files, reported to a delegate.
import CaptureCore
import CaptureDeck
import CaptureFiles
import Dispatch
import Foundation

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
    let delegateQueue = DispatchQueue(label: "capdeck.avfoundation.file-output")
    /// The recording in progress (or finishing), behind `lock`.
    struct Recording {
        var url: URL
        var delegate: any AVCaptureFileOutputRecordingDelegate
        var started = false
        var paused = false
        var id: Int
    }
    var recording: Recording?
    private var recordingIDs = 0
    private var _maxDuration = CMTime.invalid
    private var _maxFileSize: Int64 = 0
    private var _minFreeDisk: Int64 = 0

    init(file: CaptureAudioFileOutput) {
        self.file = file
        super.init(core: file)
    }

    /// The URL being recorded to (nil when not recording).
    public var outputFileURL: URL? { lock.withLock { recording?.url } }
    /// Whether a recording is in progress (including paused).
    public var isRecording: Bool { lock.withLock { recording != nil } }
    /// Whether the recording in progress is paused.
    public var isRecordingPaused: Bool { lock.withLock { recording?.paused ?? false } }

    /// The duration recorded so far in the current file (zero when not recording), in the
    /// capture rate's timescale.
    public var recordedDuration: CMTime {
        let rate = session?.sampleRate ?? file.format.sampleRate
        return isRecording ? CMTime(value: CMTimeValue(file.recordedFrames), timescale: CMTimeScale(rate)) : .zero
    }

    /// Bytes the current file holds on disk (zero when not recording).
    public var recordedFileSize: Int64 { isRecording ? Int64(file.recordedFileSize) : 0 }

    /// The longest a recording may be; reaching it finishes the recording with
    /// `AVError.maximumDurationReached` (frame-exact; the session keeps running). `.invalid`
    /// (the default) for no limit. Taken when a recording starts.
    public var maxRecordedDuration: CMTime {
        get { lock.withLock { _maxDuration } }
        set { lock.withLock { _maxDuration = newValue } }
    }
    /// The most bytes of audio a recording may hold; reaching it finishes the recording with
    /// `AVError.maximumFileSizeReached`. 0 (the default) for no limit. Taken when a recording starts.
    public var maxRecordedFileSize: Int64 {
        get { lock.withLock { _maxFileSize } }
        set { lock.withLock { _maxFileSize = max(0, newValue) } }
    }
    /// The free space below which recording stops, in bytes, with `AVError.diskFull`. 0 (the
    /// default): CaptureDeck's own reserve (a disk that fills finishes the file with what it holds).
    /// Taken when a recording starts.
    public var minFreeDiskSpaceLimit: Int64 {
        get { lock.withLock { _minFreeDisk } }
        set { lock.withLock { _minFreeDisk = max(0, newValue) } }
    }

    /// Starts recording to `outputFileURL` in the type its extension names (.wav, .caf, .aif/.aiff).
    public func startRecording(to outputFileURL: URL, recordingDelegate delegate: any AVCaptureFileOutputRecordingDelegate) {
        startRecording(to: outputFileURL, fileType: FileType(name: outputFileURL.pathExtension), recordingDelegate: delegate)
    }

    /// Starts a recording (finishing one in progress first, as Apple's does). Failures — a file
    /// that exists, a folder that can't be written, a type CaptureDeck doesn't write — end it at
    /// once through `didFinishRecordingTo…error:`.
    func startRecording(to url: URL, fileType: FileType?, recordingDelegate delegate: any AVCaptureFileOutputRecordingDelegate) {
        let id = lock.withLock { () -> Int in recordingIDs += 1; return recordingIDs }
        finishCurrent(error: nil, stopFile: true)
        guard url.isFileURL, let fileType else {
            let error = url.isFileURL
                ? AVError(.formatUnsupported, userInfo: [NSLocalizedDescriptionKey: "\(url.path): CaptureDeck records .wav, .caf and .aiff files"])
                : AVError(.invalidOutputURLPathExtension, userInfo: [NSLocalizedDescriptionKey: "\(url): not a file URL"])
            callDelegate(delegate) { $0.fileOutput(self, didFinishRecordingTo: url, from: self.connections, error: error) }
            return
        }
        let (maxDuration, maxSize, minFree) = lock.withLock { (_maxDuration, _maxFileSize, _minFreeDisk) }
        let rate = session?.sampleRate ?? file.format.sampleRate
        var limits = RecordingLimits()
        if maxDuration.isValid && maxDuration.isNumeric && maxDuration.value > 0 {
            limits.maxFrames = Int((maxDuration.seconds * Double(rate)).rounded())
        }
        if maxSize > 0 { limits.maxBytes = Int(maxSize) }
        if minFree > 0 { limits.minFreeBytes = Int(minFree) }
        lock.withLock { recording = Recording(url: url, delegate: delegate, id: id) }
        do throws(RecordingError) {
            try file.startRecording(to: url.path, fileType: fileType, limits: limits)
        } catch {
            lock.withLock { if recording?.id == id { recording = nil } }
            callDelegate(delegate) { $0.fileOutput(self, didFinishRecordingTo: url, from: self.connections, error: AVError(error)) }
        }
    }

    /// Stops the recording; the delegate's `didFinishRecordingTo…` follows once the file is finished.
    /// Returns at once, as Apple's does.
    public func stopRecording() {
        finishCurrent(error: nil, stopFile: true)
    }

    /// Pauses the recording: frames are not written until `resumeRecording()`.
    public func pauseRecording() {
        guard let r = lock.withLock({ () -> Recording? in
            guard var r = recording, !r.paused else { return nil }
            r.paused = true
            recording = r
            return r
        }) else { return }
        file.pause()
        callDelegate(r.delegate) { $0.fileOutput(self, didPauseRecordingTo: r.url, from: self.connections) }
    }

    public func resumeRecording() {
        guard let r = lock.withLock({ () -> Recording? in
            guard var r = recording, r.paused else { return nil }
            r.paused = false
            recording = r
            return r
        }) else { return }
        if isFed { file.resume() }
        callDelegate(r.delegate) { $0.fileOutput(self, didResumeRecordingTo: r.url, from: self.connections) }
    }

    override func connectionsChanged() {
        // A disabled (or missing) connection records nothing, as a pause does.
        let paused = lock.withLock { recording?.paused ?? false }
        if isFed && !paused { file.resume() } else if !isFed { file.pause() }
    }

    /// Ends the recording in progress, if any: will-finish, the file finished (stopped now unless
    /// the core already ended it), then did-finish, in order on the delegate queue.
    func finishCurrent(error: Error?, stopFile: Bool) {
        guard let r = lock.withLock({ () -> Recording? in defer { recording = nil }; return recording }) else { return }
        let connections = self.connections
        callDelegate(r.delegate) { $0.fileOutput(self, willFinishRecordingTo: r.url, from: connections, error: error) }
        var finalError = error
        if stopFile {
            do throws(RecordingError) { try file.stopRecording() } catch { finalError = AVError(error) }
        }
        callDelegate(r.delegate) { $0.fileOutput(self, didFinishRecordingTo: r.url, from: connections, error: finalError) }
    }

    func callDelegate(_ delegate: any AVCaptureFileOutputRecordingDelegate,
                      _ body: @escaping @Sendable (any AVCaptureFileOutputRecordingDelegate) -> Void) {
        nonisolated(unsafe) let d = delegate
        delegateQueue.async { body(d) }
    }
}

/// Records the session's audio to WAV, CAF or AIFF files (Apple's `AVCaptureAudioFileOutput`).
///
/// Linux: the file holds the session's capture format (linear PCM; `audioSettings` reports it);
/// WAV becomes RF64 past 4 GiB, as CaptureDeck's recordings do.
public class AVCaptureAudioFileOutput: AVCaptureFileOutput, @unchecked Sendable {
    public override init() {
        super.init(file: CaptureAudioFileOutput())
    }

    /// The types this output writes: WAV, CAF and AIFF.
    public class func availableOutputFileTypes() -> [AVFileType] { [.wav, .caf, .aiff] }

    /// Starts recording to `outputFileURL` as `fileType` (one of `availableOutputFileTypes()`).
    public func startRecording(to outputFileURL: URL, outputFileType fileType: AVFileType,
                               recordingDelegate delegate: any AVCaptureFileOutputRecordingDelegate) {
        startRecording(to: outputFileURL, fileType: FileType(fileType), recordingDelegate: delegate)
    }

    /// The format the file is written in (linear PCM at the session's rate and channels). Linux:
    /// read-only in effect — the file takes the session's format; set the rate with `sessionPreset`.
    public var audioSettings: [String: Any]! {
        get {
            guard let session, let rate = session.sampleRate else { return nil }
            var format = file.format
            format.sampleRate = rate
            format.channels = session.channelCount
            return AudioSettings.settings(for: format)
        }
        set {}
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
        default: code = .unknown
        }
        self.init(code, userInfo: info)
    }
}
