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
        sourceFactory = nil
    }

    /// With the sources made by `makeSource` (tests: scripted sources standing in for devices).
    init(name: String, routes: InputRoutes, format: StreamFormat, makeSource: @escaping @Sendable (Route) -> any CaptureSource) {
        self.name = name
        self.routes = routes
        self.format = format
        periodMicros = nil
        bufferMicros = nil
        sourceFactory = makeSource
    }

    private let sourceFactory: (@Sendable (Route) -> any CaptureSource)?

    var request: CaptureRequest { CaptureRequest(format: format, periodMicros: periodMicros, bufferMicros: bufferMicros) }

    /// Opens a route's PCM: `builtin[:signal]` is the built-in source, anything else ALSA.
    /// Exclusive routes claim the PCM among CaptureDeck processes (ALSA hardware does so itself);
    /// an exclusive card view (`hw:N`, `plughw:N`) first reserves card N on the session bus
    /// (`ReservedCardSource`), so a sound server holding it lets go.
    func makeDevice(_ route: Route) -> any CaptureSource {
        if let sourceFactory { return sourceFactory(route) }
        if route.pcm == "builtin" || route.pcm.hasPrefix("builtin:") {
            let spec = route.pcm == "builtin" ? "" : String(route.pcm.dropFirst("builtin:".count))
            return BuiltInSource(signal: TestSignal(spec: spec) ?? .defaultSine, paced: true, name: route.pcm)
        }
        let access: AccessKind = switch route.kind {
        case .exclusive: .exclusive
        case .shared: DeviceCatalog.accessKind(forPCM: route.pcm) == .soundServer ? .soundServer : .shared
        case .bluetoothHQ, .bluetoothHFP: .bluetooth
        }
        let alsa = ALSACaptureSource(name: route.pcm, accessKind: access, claimsExclusively: route.kind == .exclusive)
        // A card view taken exclusively: reserve the card first, so a sound server lets go of it.
        if route.kind == .exclusive, let card = DeviceCatalog.cardIndex(forExclusivePCM: route.pcm) {
            return ReservedCardSource(inner: alsa, card: card)
        }
        return alsa
    }
}

/// Something the session delivers captured audio to.
public protocol CaptureOutput: AnyObject, Sendable {}

/// Records the session's audio to files (`AVCaptureAudioFileOutput`). Recording can start and
/// stop while the session runs; route changes inside one recording keep the same file.
///
/// The file's format follows the data: a recording started before the session runs is created in
/// the format known then (the init's, or the last run's) and, if the session's input delivers
/// another format, created again in it before its first frame. A file that already holds frames
/// can't change format: a run in another format stops its recording with
/// `RecordingError.formatMismatch` (the file finished with the frames it has).
///
/// `@unchecked Sendable`: every mutable field is behind one of its mutexes or an atomic; the
/// recorder it holds is used under `current`'s lock (the writer queue writes, any thread stops).
public final class CaptureAudioFileOutput: CaptureOutput, RecordingSink, @unchecked Sendable {
    private struct Current {
        var recorder: SndfileRecorder
        /// The stream frame this recording received first: the base of its markers. nil until
        /// that frame arrives (markers added before it wait in `pending`).
        var startFrame: Int?
        /// Stream frames not written while paused, as (first stream frame, count), merged.
        var skipped: [(at: Int, count: Int)] = []
        /// Markers (in stream frames) added before the first frame.
        var pending: [RecordingMarker] = []

        /// Where stream frame `frame` falls in the file: after the start, minus what pauses
        /// skipped before it (a marker inside a pause lands where the pause began).
        func fileFrame(_ frame: Int, start: Int) -> Int {
            var f = frame - start
            for s in skipped where frame > s.at { f -= Swift.min(s.count, frame - s.at) }
            return f
        }

        mutating func place(_ marker: RecordingMarker) {
            guard let start = startFrame else { pending.append(marker); return }
            guard marker.frame >= start else { return }
            recorder.addMarker(RecordingMarker(frame: fileFrame(marker.frame, start: start), label: marker.label))
        }
    }
    /// The recording, and the format frames arrive in. Held through file writes.
    private let current = Mutex<Current?>(nil)
    /// The format frames arrive in: the session sets it to its input's before each run. Taken
    /// inside `current`'s lock where both are needed (that order only).
    private let streamFormat: Mutex<StreamFormat>
    /// What readers see (the UI, 30 times a second), kept apart from `current`, whose lock is
    /// held through file writes: a slow disk must not stall the screen.
    private let shown = Mutex<(path: String?, frames: Int)>((nil, 0))
    private let position = Atomic<Int>(0)
    private let paused = Atomic<Bool>(false)
    private let lastError = Mutex<RecordingError?>(nil)
    /// Finishes files that failed (see `finishAfterFailure`).
    private let finishing = DispatchQueue(label: "capdeck.file-finish", qos: .utility)

    public init(format: StreamFormat = StreamFormat(sampleFormat: .s16LE, sampleRate: 48_000, channels: 2)) {
        streamFormat = Mutex(format)
    }

    /// The format frames arrive in (the session's input's, once it has run).
    var sessionFormat: StreamFormat { streamFormat.withLock { $0 } }

    /// The session, before a run: frames will come in `format`. A recording that has received
    /// no frame yet is created again in it; one holding frames in another format stops (its
    /// file finished as it is) and the error is returned and kept in `error`.
    func setSessionFormat(_ format: StreamFormat) throws(RecordingError) {
        let failure: (SndfileRecorder?, RecordingError)? = current.withLock { c in
            streamFormat.withLock { $0 = format }
            guard var cur = c, cur.recorder.format != format else { return nil }
            let rec = cur.recorder
            if cur.startFrame == nil && rec.discardEmpty() {
                do throws(RecordingError) {
                    cur.recorder = try SndfileRecorder(path: rec.path, format: format, fileType: rec.fileType)
                    cur.skipped = []
                    c = cur
                    return nil
                } catch {
                    c = nil
                    shown.withLock { $0 = (nil, 0) }
                    return (nil, error)
                }
            }
            c = nil
            shown.withLock { $0 = (nil, 0) }
            return (rec, .formatMismatch(path: rec.path, recorded: rec.format.description, delivered: format.description,
                                         framesSaved: rec.framesWritten))
        }
        guard let (rec, error) = failure else { return }
        if let rec { finishAfterFailure(rec, error) } else { lastError.withLock { $0 = error } }
        throw error
    }

    /// Starts a new file (which must not exist), in the format frames arrive in (see the type's
    /// note). Any thread; frames arrive once the session runs. Markers count from the first frame
    /// the new file receives.
    public func startRecording(to path: String, fileType: FileType) throws(RecordingError) {
        lastError.withLock { $0 = nil }
        let made: Result<SndfileRecorder?, RecordingError> = current.withLock { c in
            do throws(RecordingError) {
                let rec = try SndfileRecorder(path: path, format: streamFormat.withLock { $0 }, fileType: fileType)
                let old = c?.recorder
                c = Current(recorder: rec)
                shown.withLock { $0 = (path, 0) }
                return .success(old)
            } catch {
                return .failure(error)
            }
        }
        try made.get()?.finish()
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
        let isPaused = paused.load(ordering: .relaxed)
        attempt { c throws(RecordingError) in
            if c.startFrame == nil {
                // The new recording's first frame: its markers count from here.
                c.startFrame = at
                let waiting = c.pending
                c.pending = []
                for m in waiting { c.place(m) }
            }
            if isPaused {
                if let last = c.skipped.last, last.at + last.count == at {
                    c.skipped[c.skipped.count - 1].count += count
                } else {
                    c.skipped.append((at, count))
                }
                return
            }
            // Frames are in the session's format; a file in another can't take them (its writer
            // would read past them or split them wrongly).
            let delivered = streamFormat.withLock { $0 }
            guard c.recorder.format == delivered else {
                throw .formatMismatch(path: c.recorder.path, recorded: c.recorder.format.description,
                                      delivered: delivered.description, framesSaved: c.recorder.framesWritten)
            }
            try c.recorder.write(frames, count: count)
            let n = c.recorder.framesWritten
            shown.withLock { $0.frames = n }
        }
    }

    public func checkpoint() throws(RecordingError) {
        attempt { c throws(RecordingError) in try c.recorder.checkpoint() }
    }

    /// Runs `body` on the current recording, if any; when it fails, recording stops and the file
    /// is finished (see `finishAfterFailure`).
    private func attempt(_ body: (inout Current) throws(RecordingError) -> Void) {
        let failed: (SndfileRecorder, RecordingError)? = current.withLock { c in
            guard var cur = c else { return nil }
            do throws(RecordingError) {
                try body(&cur)
                c = cur
                return nil
            } catch {
                c = nil
                shown.withLock { $0 = (nil, 0) }
                return (cur.recorder, error)
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
    /// A marker added before the recording's first frame waits for it (its frame may lie after
    /// it); one before that first frame is dropped.
    public func addMarker(_ marker: RecordingMarker) {
        current.withLock { c in c?.place(marker) }
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
public final class CaptureAudioDataOutput: CaptureOutput, Sendable {
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
/// `@unchecked Sendable`: built on the session queue, then used by the writer queue only (the
/// engine's sink), so its plain vars have one owner.
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
