// `capdeck record`'s run, step by step: the file first, then the session on the input asked for
// (never a stand-in for the default input), the start line, following the run, and the end
// (the saved line, or the one-line error whose exit code says what went wrong).
import CaptureConfig
import CaptureCore
import CaptureDeck
import CaptureFiles
import ConsoleUI
import Glibc

/// One headless take. Threading: made and driven by one thread (the executable's main thread);
/// the session and its events run on their own queues.
public final class HeadlessRecording {
    let settings: CaptureSettings
    let config: CapdeckConfig?
    let format: StreamFormat
    let output: CaptureAudioFileOutput
    /// The file, created exclusively before anything is opened (a split take's first part, which
    /// takes its number, `-001`, at the first split).
    public let path: String
    /// SIGUSR1 splits the take (as arecord).
    private var splitSignal: SplitSignal?
    let quiet: Bool
    let reconnectWait: Double
    let maxFrames: Int?
    let events: SessionEvents
    private var session: CaptureSession?
    /// Mix off interrupts other programs' audio (MPRIS players) while the take runs.
    private var otherAudio: OtherAudioCoordinator?

    /// Works out the format and file type and creates the file (exit 64 for a type that can't
    /// hold the format, 73 for a file that can't be created).
    public init(_ settings: CaptureSettings, config: CapdeckConfig?, file: String?, duration: Double?,
                reconnectWait: Double, quiet: Bool, events: SessionEvents) throws {
        self.settings = settings
        self.config = config
        self.quiet = quiet
        self.reconnectWait = reconnectWait
        self.events = events
        let format = settings.streamFormat(config: config)
        self.format = format
        maxFrames = duration.flatMap { $0 > 0 ? max(1, Int(($0 * Double(format.sampleRate)).rounded())) : nil }
        let type = settings.fileType ?? file.flatMap { FileType(name: String($0.split(separator: ".").last ?? "")) } ?? .wav
        do throws(RecordingError) { try type.validate(format.sampleFormat) } catch {
            throw Failure("-t/--file-type: \(error)", code: .usage)
        }
        let target = try OutputTarget(file: file, outputDir: settings.outputDirectory(config: config), pattern: settings.namePattern, fileType: type)
        output = CaptureAudioFileOutput(format: format)
        settings.applySplitLimits(to: output, rate: format.sampleRate, config: config)
        let rate = format.sampleRate
        output.setRecordingFinishedHandler { r in
            guard r.reason == .split, !quiet else { return }
            Terminal.write("capdeck: saved part \(r.part?.index ?? 0) \(r.path): \(r.frames) frames (\(Readout.duration(Double(r.frames) / Double(rate), tenths: true)))\n")
        }
        // SIGUSR1 before the file: its dispatch source is made while descriptors are surely left
        // (a process at its descriptor limit gets one clean error line, not a crash in libdispatch).
        let output = self.output
        splitSignal = SplitSignal { if let e = ControlInput.split(output) { Terminal.error("SIGUSR1: \(e)") } }
        path = try target.start(output, fileType: type, broadcast: settings.broadcast(config: config))
    }

    deinit { splitSignal?.cancel() }

    /// Starts the session and prints the start line. A device that can't be had removes the
    /// still empty file and throws (exit 69).
    public func start() throws {
        // Nothing named: the system's default input, and never a stand-in for it. A script must
        // not get a recording of the built-in signal where it asked for the microphone.
        if !settings.namedADevice(config: config), let problem = DefaultInput.problem() {
            discardFile()
            throw Failure(problem, code: .unavailable)
        }
        let session = makeSession()
        self.session = session
        otherAudio = OtherAudioCoordinator.ifSessionBus(session: session, muteStreams: settings.mutesOtherStreams(config: config)) { state in
            if let m = state.lastEvent?.message { Terminal.write("capdeck: \(m)\n") }
        }
        session.startRunning()
        if case .failed(let error) = events.startOutcome(session) {
            otherAudio?.stop()
            discardFile()  // nothing was captured into it
            throw Failure(DefaultInput.explain(error, routes: session.inputs.first?.routes), code: .unavailable)
        }
        // (A short take from an unpaced PCM may be over already: then what the start said.)
        let engine = session.engine
        if !quiet, let (route, g) = engine.flatMap({ e in session.currentRoute.flatMap { r in e.granted.map { (r, $0) } } }) ?? events.start {
            let realtime = engine.map { ", \($0.realtimeStatus)" } ?? ""
            Terminal.write("capdeck: recording \(engine?.device.displayName ?? route.pcm) [\(route.kind.rawValue) route]: \(g.format), period \(Readout.ms(g.periodMs)), buffer \(Readout.ms(g.bufferMs))"
                           + (g.format != format ? " (converted to \(format))" : "") + realtime + "\n")
            for note in session.resolution?.notes ?? [] { Terminal.write("capdeck: note: \(note)\n") }
            Terminal.write("capdeck: saving to \(path)\n")
        }
    }

    /// The status line and the control input while the take runs; returns how it ended.
    public func follow() -> SessionEvents.Ending {
        guard let session else { preconditionFailure("follow() before start()") }
        let status = StatusLine(session: session, rate: format.sampleRate, enabled: !quiet && Terminal.stderrIsTerminal, output: output)
        events.statusLine = status
        let events = self.events
        let control = isatty(0) == 1 ? nil : ControlInput(session: session, output: output, otherAudio: otherAudio, onStop: { events.requestStop() })
        control?.start()
        status.start()
        let ending = events.waitForEnd(session, output: output, reconnectWait: reconnectWait)
        status.stop()
        return ending
    }

    /// Finishes the file and says how the take ended: the saved line, or one error line (exit
    /// 74) that still names what was saved. A take stopped before any audio leaves no file.
    public func finish(_ end: SessionEvents.Ending) throws {
        // Capture has stopped: what mix off interrupted plays again (exactly what we paused).
        otherAudio?.stop()
        var ending = end
        splitSignal?.cancel()
        // The last part (a split take's earlier ones were printed as they were finished).
        let part = output.currentPart
        let path = part?.path ?? self.path
        var saved: (path: String, frames: Int)?
        var earlierError: CaptureSessionError?
        var fileError: RecordingError?
        do throws(RecordingError) {
            saved = try output.stopRecording()
        } catch {
            fileError = error  // finishing failed, or found the file deleted
        }
        // Or the file failed on its own (disk full, or deleted: found by a checkpoint, perhaps
        // the one as the session stopped). A deletion's message says where the audio went, so it
        // wins over an earlier error, which it then carries along.
        if let e = fileError ?? output.error, ending.error != .recording(e) {
            if case .vanished = e, let earlier = ending.error {
                earlierError = earlier
                ending.error = .recording(e)
            } else if ending.error == nil {
                ending.error = .recording(e)
            }
        }
        var frames = saved?.frames ?? 0
        if case .recording(let e) = ending.error {
            switch e {
            case .diskFull(_, let n), .writeFailed(_, _, let n), .vanished(_, let n, _, _), .formatMismatch(_, _, _, let n): frames = n
            default: break
            }
        }
        if frames == 0 && ending.error == nil && output.error == nil {
            // Stopped before any audio arrived: an empty file is no recording.
            unlink(path)
            if !quiet { Terminal.write("capdeck: stopped before any audio was captured; no file kept\n") }
            return
        }
        var line = "saved \(saved?.path ?? path): \(frames) frames (\(Readout.duration(Double(frames) / Double(format.sampleRate), tenths: true))), \(ending.xruns) xrun\(ending.xruns == 1 ? "" : "s")"
        if let part, part.index > 1 {
            let all = part.framesBefore + frames
            line += "; part \(part.index), \(all) frames (\(Readout.duration(Double(all) / Double(format.sampleRate), tenths: true))) in all"
        }
        if case .recording(let e) = ending.error {
            // The message already says the file was stopped and saved, with its frames.
            throw Failure((earlierError.map { "\($0); " } ?? "") + "\(e)", code: .ioError)
        }
        if let error = ending.error ?? output.error.map({ CaptureSessionError.recording($0) }) {
            throw Failure("\(error); \(line)", code: .ioError)
        }
        if !quiet { Terminal.write("capdeck: \(line)\n") }
    }

    private func discardFile() {
        _ = try? output.stopRecording()
        unlink(path)
    }

    private func makeSession() -> CaptureSession {
        let app = ApplicationAudioSession(config?.appSession ?? AudioSessionState())
        let session = CaptureSession(applicationAudioSession: app)
        session.realtimePriority = settings.noRealtime ? nil : Int32(settings.rtPriority)
        session.reconnectsLostDevices = reconnectWait > 0
        session.maxFrames = maxFrames
        session.addInput(CaptureDeviceInput(name: settings.device ?? "default input", routes: settings.routes(config: config), format: format,
                                            periodMicros: settings.periodTime, bufferMicros: settings.bufferTime))
        session.addOutput(output)
        session.setProperties(settings.properties(config: config))
        let events = self.events
        session.onEvent { events.handle($0) }
        return session
    }
}
