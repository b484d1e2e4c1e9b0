// Inputs and outputs of a CaptureSession: a device input, a file output and a data output.
import CaptureALSA
import CaptureCore
import CaptureFiles
import Dispatch
import Synchronization

/// An audio input: one logical microphone and the PCMs it can be opened through, by access kind.
/// (`AVCaptureDeviceInput`.)
public final class CaptureDeviceInput: Sendable {
    /// A name for display ("Built-in mic", "hw:0", "builtin").
    public let name: String
    /// The PCM for each access kind.
    public let routes: InputRoutes
    /// The format asked of the device and recorded.
    public let format: StreamFormat
    public let periodMicros: Int?
    public let bufferMicros: Int?

    public init(name: String, routes: InputRoutes, format: StreamFormat = StreamFormat(sampleFormat: .s16LE, sampleRate: 48_000, channels: 2),
                periodMicros: Int? = nil, bufferMicros: Int? = nil) {
        self.name = name
        self.routes = routes
        self.format = format
        self.periodMicros = periodMicros
        self.bufferMicros = bufferMicros
    }

    var request: CaptureRequest { CaptureRequest(format: format, periodMicros: periodMicros, bufferMicros: bufferMicros) }

    /// Opens a route's PCM: `builtin[:signal]` is the built-in source, anything else ALSA.
    /// Exclusive routes claim the PCM among CaptureDeck processes (ALSA hardware does so itself).
    func makeDevice(_ route: Route) -> any CaptureDevice {
        if route.pcm == "builtin" || route.pcm.hasPrefix("builtin:") {
            let spec = route.pcm == "builtin" ? "" : String(route.pcm.dropFirst("builtin:".count))
            return SignalSourceDevice(signal: TestSignal(spec: spec) ?? .defaultSine, paced: true, name: route.pcm)
        }
        let access: AccessKind = switch route.kind {
        case .exclusive: .exclusive
        case .shared: DeviceCatalog.accessKind(forPCM: route.pcm) == .soundServer ? .soundServer : .shared
        case .bluetoothHQ, .bluetoothHFP: .bluetooth
        }
        return ALSACaptureDevice(name: route.pcm, accessKind: access, claimsExclusively: route.kind == .exclusive)
    }
}

/// Something the session delivers captured audio to.
public protocol CaptureOutput: AnyObject, Sendable {}

/// Records the session's audio to files (`AVCaptureAudioFileOutput`). Recording can start and
/// stop while the session runs; route changes inside one recording keep the same file.
public final class CaptureAudioFileOutput: CaptureOutput, RecordingSink, @unchecked Sendable {
    private struct Current {
        var recorder: SndfileRecorder
        var startFrame: Int
        /// Stream frames not written while paused, as (first stream frame, count), merged.
        var skipped: [(at: Int, count: Int)] = []

        /// Where stream frame `frame` falls in the file: after the start, minus what pauses
        /// skipped before it (a marker inside a pause lands where the pause began).
        func fileFrame(_ frame: Int) -> Int {
            var f = frame - startFrame
            for s in skipped where frame > s.at { f -= Swift.min(s.count, frame - s.at) }
            return f
        }
    }
    private let current = Mutex<Current?>(nil)
    /// What readers see (the UI, 30 times a second), kept apart from `current`, whose lock is
    /// held through file writes: a slow disk must not stall the screen.
    private let shown = Mutex<(path: String?, frames: Int)>((nil, 0))
    private let position = Atomic<Int>(0)
    private let paused = Atomic<Bool>(false)
    private let lastError = Mutex<RecordingError?>(nil)
    /// Finishes files that failed (see `finishAfterFailure`).
    private let finishing = DispatchQueue(label: "capdeck.file-finish", qos: .utility)
    var sessionFormat: StreamFormat

    public init(format: StreamFormat = StreamFormat(sampleFormat: .s16LE, sampleRate: 48_000, channels: 2)) {
        sessionFormat = format
    }

    /// Starts a new file (which must not exist). Any thread; frames arrive once the session runs.
    public func startRecording(to path: String, fileType: FileType) throws(RecordingError) {
        let rec = try SndfileRecorder(path: path, format: sessionFormat, fileType: fileType)
        lastError.withLock { $0 = nil }
        let start = position.load(ordering: .acquiring)
        let old = current.withLock { c -> SndfileRecorder? in
            let o = c?.recorder
            c = Current(recorder: rec, startFrame: start)
            return o
        }
        shown.withLock { $0 = (path, 0) }
        try old?.finish()
    }

    /// Finishes the current file. Returns its path and frames, if one was recording.
    @discardableResult
    public func stopRecording() throws(RecordingError) -> (path: String, frames: Int)? {
        finishing.sync {}  // a failed file still being finished: done, and its error published
        guard let c = current.withLock({ c -> Current? in defer { c = nil }; return c }) else { return nil }
        shown.withLock { $0 = (nil, 0) }
        paused.store(false, ordering: .relaxed)
        try c.recorder.finish()
        return (c.recorder.path, c.recorder.framesWritten)
    }

    public var isRecording: Bool { shown.withLock { $0.path != nil } }
    /// While paused, captured audio is not written (the file stays open; resume continues it).
    public var isPaused: Bool { paused.load(ordering: .relaxed) }
    public func pause() { paused.store(true, ordering: .relaxed) }
    public func resume() { paused.store(false, ordering: .relaxed) }
    public var recordingPath: String? { shown.withLock { $0.path } }
    public var recordedFrames: Int { shown.withLock { $0.frames } }
    /// The last write error (disk full…); recording stops when one happens.
    public var error: RecordingError? { lastError.withLock { $0 } }

    // RecordingSink (writer queue).
    public var path: String { recordingPath ?? "" }
    public var format: StreamFormat { sessionFormat }
    public var framesWritten: Int { position.load(ordering: .relaxed) }

    public func write(_ frames: UnsafeRawPointer, count: Int) throws(RecordingError) {
        let at = position.add(count, ordering: .releasing).newValue - count
        if paused.load(ordering: .relaxed) {
            current.withLock { c in
                guard c != nil else { return }
                if let last = c!.skipped.last, last.at + last.count == at {
                    c!.skipped[c!.skipped.count - 1].count += count
                } else {
                    c!.skipped.append((at, count))
                }
            }
            return
        }
        attempt { rec throws(RecordingError) in
            try rec.write(frames, count: count)
            let n = rec.framesWritten
            shown.withLock { $0.frames = n }
        }
    }

    public func checkpoint() throws(RecordingError) {
        attempt { rec throws(RecordingError) in try rec.checkpoint() }
    }

    /// Runs `body` on the current file, if any; when it fails, recording stops and the file is
    /// finished (see `finishAfterFailure`).
    private func attempt(_ body: (SndfileRecorder) throws(RecordingError) -> Void) {
        let failed: (SndfileRecorder, RecordingError)? = current.withLock { c in
            guard let rec = c?.recorder else { return nil }
            do throws(RecordingError) {
                try body(rec)
                return nil
            } catch {
                c = nil
                shown.withLock { $0 = (nil, 0) }
                return (rec, error)
            }
        }
        if let (rec, error) = failed { finishAfterFailure(rec, error) }
    }

    /// A write or checkpoint failed, and recording has stopped: finish the file with every frame
    /// it holds, on a queue of its own (a deleted file's rescue copies the whole take, which must
    /// hold up neither the writer, whose ring would overflow, nor the UI), then publish the error:
    /// the first one, unless finishing found the file deleted (its error says where the audio went).
    private func finishAfterFailure(_ rec: SndfileRecorder, _ error: RecordingError) {
        finishing.async { [self] in
            var final = error
            do throws(RecordingError) {
                try rec.finish()
            } catch {
                if case .vanished = error { final = error }
            }
            lastError.withLock { $0 = final }
        }
    }

    public func finish() throws(RecordingError) {
        try stopRecording()
    }

    /// `marker.frame` counts in this output's frames (every frame written to it since it was
    /// created, recording or not).
    public func addMarker(_ marker: RecordingMarker) {
        current.withLock { c in
            guard let c, marker.frame >= c.startFrame else { return }
            c.recorder.addMarker(RecordingMarker(frame: c.fileFrame(marker.frame), label: marker.label))
        }
    }
}

/// Captured audio handed to a client (`CMSampleBuffer`'s role): interleaved frames in `format`.
public struct AudioSampleBuffer: Sendable {
    public var format: StreamFormat
    /// Position of the first frame since the session started capturing.
    public var startFrame: Int
    public var frameCount: Int
    /// Interleaved samples, `format.bytesPerFrame * frameCount` bytes.
    public var bytes: [UInt8]
}

/// Hands captured audio to a client on its queue (`AVCaptureAudioDataOutput`).
public final class CaptureAudioDataOutput: CaptureOutput, @unchecked Sendable {
    private let handler = Mutex<(queue: DispatchQueue, body: @Sendable (AudioSampleBuffer) -> Void)?>(nil)
    private let position = Atomic<Int>(0)

    public init() {}

    /// Sets the handler and the queue it is called on (nil removes it).
    public func setSampleBufferHandler(queue: DispatchQueue, _ body: (@Sendable (AudioSampleBuffer) -> Void)?) {
        handler.withLock { $0 = body.map { (queue, $0) } }
    }

    /// Called on the writer queue.
    func deliver(_ frames: UnsafeRawPointer, count: Int, format: StreamFormat) {
        let start = position.add(count, ordering: .relaxed).newValue - count
        guard let h = handler.withLock({ $0 }) else { return }
        let buffer = AudioSampleBuffer(format: format, startFrame: start, frameCount: count,
                                       bytes: Array(UnsafeRawBufferPointer(start: frames, count: count * format.bytesPerFrame)))
        h.queue.async { h.body(buffer) }
    }
}

/// Fans the writer queue's frames out to the session's outputs.
final class OutputFanOut: RecordingSink, @unchecked Sendable {
    let format: StreamFormat
    let files: [CaptureAudioFileOutput]
    let data: [CaptureAudioDataOutput]
    private(set) var framesWritten = 0
    var path: String { files.first?.path ?? "" }

    init(format: StreamFormat, files: [CaptureAudioFileOutput], data: [CaptureAudioDataOutput]) {
        self.format = format
        self.files = files
        self.data = data
    }

    /// Each file output's position when this run's stream began: the engine counts its markers
    /// from its own start, a file output from its creation (it outlives runs, e.g. across a
    /// device change in the console).
    private var bases: [Int]?

    func write(_ frames: UnsafeRawPointer, count: Int) throws(RecordingError) {
        if bases == nil { bases = files.map(\.framesWritten) }
        framesWritten += count
        for f in files { try f.write(frames, count: count) }
        for d in data { d.deliver(frames, count: count, format: format) }
    }
    func checkpoint() throws(RecordingError) { for f in files { try f.checkpoint() } }
    /// Files outlive a run (the session's owner stops them), but the run's last frames get a
    /// header and a sync now: a session may wait a long time for a lost device to return.
    func finish() throws(RecordingError) { for f in files { try f.checkpoint() } }
    func addMarker(_ marker: RecordingMarker) {
        let base = bases ?? files.map(\.framesWritten)
        for (f, b) in zip(files, base) { f.addMarker(RecordingMarker(frame: b + marker.frame, label: marker.label)) }
    }
}

extension CaptureDeviceInput {
    /// Opens `route`'s PCM with this input's request and closes it again: nil when it opens now,
    /// else the error. For a caller that must not give up a device (or a wait for one) for a device
    /// that won't open, when the session is not capturing and so can't switch live.
    public func probe(_ route: Route) -> DeviceError? {
        let device = makeDevice(route)
        defer { device.close() }
        do throws(DeviceError) {
            _ = try device.open(request)
            return nil
        } catch {
            return error
        }
    }
}
