// `capdeck record`'s run, step by step: the file first, then the session on the input asked for
// (never a stand-in for the default input), the start line, following the run, and the end
// (the saved line, or the one-line error whose exit code says what went wrong).
import CaptureConfig
import CaptureCore
import CaptureDeck
import CaptureFiles
import ConsoleUI
import Glibc
import Synchronization

/// One headless take. Threading: made and driven by one thread (the executable's main thread);
/// the session and its events run on their own queues.
public final class HeadlessRecording {
    let settings: CaptureSettings
    let config: CapdeckConfig?
    let format: StreamFormat
    let output: CaptureAudioFileOutput
    /// The file, created exclusively before anything is opened (a split take's first part, which
    /// takes its number, `-001`, at the first split); with a level trigger, what the takes'
    /// names look like (each take's file is created as it starts).
    public let path: String
    /// Voice-activated recording (`--trigger-level`): the takes' names, and the takes reported.
    let trigger: LevelTrigger?
    let target: OutputTarget
    let fileType: FileType
    private let takes = TakeLog()
    /// SIGUSR1 splits the take (as arecord).
    private var splitSignal: SplitSignal?
    let quiet: Bool
    let reconnectWait: Double
    let maxFrames: Int?
    let events: SessionEvents
    private var session: CaptureSession?
    /// The take's loudness (EBU R128), for `status` and the summary line at the end.
    let loudness: CaptureLoudnessOutput
    /// Mix off interrupts other programs' audio (MPRIS players) while the take runs.
    private var otherAudio: OtherAudioCoordinator?

    /// Works out the format and file type and creates the file (exit 64 for a type that can't
    /// hold the format, 73 for a file that can't be created).
    public init(_ settings: CaptureSettings, config: CapdeckConfig?, file: String?, duration: Double?,
                reconnectWait: Double, quiet: Bool, events: SessionEvents) throws {
        let settings = settings.adopting(config)
        self.settings = settings
        self.config = config
        self.quiet = quiet
        self.reconnectWait = reconnectWait
        self.events = events
        let format = settings.streamFormat(config: config)
        self.format = format
        maxFrames = duration.flatMap { $0 > 0 ? max(1, Int(($0 * Double(format.sampleRate)).rounded())) : nil }
        let type = OutputTarget.fileType(given: settings.fileType, file: file, pattern: settings.namePattern)
        try settings.validate(type, format, config: config)
        let target = try OutputTarget(file: file, outputDir: settings.outputDirectory(config: config), pattern: settings.namePattern, fileType: type)
        output = CaptureAudioFileOutput(format: format)
        output.splitsChannels = settings.splitsChannels(config: config)
        self.target = target
        fileType = type
        trigger = settings.levelTrigger()
        // The take measured once: a WAV or RF64 take's files measure themselves for their bext
        // chunks, and their figures are the take's (split parts pooled). Not so where the take
        // isn't its files' audio: a trigger's summary covers all captured audio, and files of
        // one channel each have no figure for the take.
        if !settings.noLoudness, type.holdsBroadcastInfo, trigger == nil, !output.splitsChannels {
            let files = output
            loudness = CaptureLoudnessOutput(borrowing: { files.takeLoudness })
        } else {
            loudness = CaptureLoudnessOutput()
        }
        try settings.applySplitLimits(to: output, format: format, config: config)
        // SIGUSR1 before the file: its dispatch source is made while descriptors are surely left
        // (a process at its descriptor limit gets one clean error line, not a crash in libdispatch).
        let output = self.output
        splitSignal = SplitSignal { if let e = ControlInput.split(output) { Terminal.error("SIGUSR1: \(e)") } }
        if trigger != nil {
            // Triggered: each take's file is made when it starts; an explicit one must be free now.
            if case .explicit(let file) = target.kind, access(file, F_OK) == 0 {
                throw Failure(RecordingError.exists(path: file).description, code: .cannotCreate)
            }
            path = target.takesDescription
            output.preRollSeconds = settings.preRollSeconds(config: config)
        } else {
            path = try target.start(output, fileType: type, broadcast: settings.broadcast(config: config))
        }
        reportFinishedFiles()
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
        if let t = trigger { armTrigger(t) }
        otherAudio = OtherAudioCoordinator.ifSessionBus(session: session, muteStreams: settings.mutesOtherStreams(config: config)) { state in
            if let m = state.lastEvent?.message { Terminal.write("capdeck: \(m)\n") }
        }
        session.startRunning()
        StartupTrace.mark("running")
        if case .failed(let error) = events.startOutcome(session) {
            otherAudio?.stop()
            discardFile()  // nothing was captured into it
            // A selection the device hasn't the channels for is the user's to correct (64).
            if case .device(.unsupported(_, "channels", _)) = error, let sel = settings.selection(config: config) {
                throw Failure("--select \(sel): \(error)", code: .usage)
            }
            throw Failure(DefaultInput.explain(error, routes: session.inputs.first?.routes), code: .unavailable)
        }
        // (A short take from an unpaced PCM may be over already: then what the start said.)
        let engine = session.engine
        if !quiet, let (route, g) = engine.flatMap({ e in session.currentRoute.flatMap { r in e.granted.map { (r, $0) } } }) ?? events.start {
            let realtime = engine.map { ", \($0.realtimeStatus)" } ?? ""
            Terminal.write("capdeck: recording \(engine?.device.displayName ?? route.pcm) [\(route.kind.rawValue) route]: \(g.format), period \(Readout.ms(g.periodMs)), buffer \(Readout.ms(g.bufferMs))"
                           + Self.conversionNote(granted: g.format, recorded: format, selection: settings.selection(config: config)) + realtime + "\n")
            // Through the sound server, which of its sources (a line of its own: the server's
            // words, quotes and brackets and all, stay out of the line scripts parse).
            if engine?.device.accessKind == .soundServer, let source = DefaultInput.serverSourceName() {
                Terminal.write("capdeck: sound server source: \(source)\n")
            }
            for note in session.resolution?.notes ?? [] { Terminal.write("capdeck: note: \(note)\n") }
            if let t = trigger {
                let db = { (v: Double) in Readout.db(v).drop { $0 == " " } }
                Terminal.write("capdeck: armed: a take starts at \(db(t.startLevel)) dBFS and ends after \(Readout.seconds(t.holdSeconds)) s below \(db(t.stopLevel)) dBFS, with \(Readout.seconds(output.preRollSeconds)) s of pre-roll\n")
                Terminal.write("capdeck: saving takes to \(path)\n")
            } else {
                Terminal.write("capdeck: saving to \(describeFiles(path))\n")
            }
        }
        // A duration the disk can't hold: said now, once (-q too: it is a warning), and the take goes on.
        if let frames = maxFrames, let warning = OutputTarget.spaceWarning(frames: frames, format: format, fileType: fileType,
                                                                             free: OutputTarget.freeBytes(at: target.directory),
                                                                             directory: target.directory) {
            Terminal.write("capdeck: \(warning)\n")
        }
    }

    /// Prints each file as it is finished behind the take's back: a split take's parts, and a
    /// triggered recording's takes (numbered; a failed one as an error).
    private func reportFinishedFiles() {
        let rate = format.sampleRate, quiet = self.quiet, events = self.events, takes = self.takes, triggered = trigger != nil
        let perChannel = output.splitsChannels ? format.channels : nil
        output.setRecordingFinishedHandler { r in
            let clear = events.statusLine?.isActive == true ? "\r\u{1B}[2K" : ""
            let length = "\(r.frames) frames (\(Readout.duration(Double(r.frames) / Double(rate), tenths: true)))"
            if r.reason == .split {
                if !quiet { Terminal.write(clear + "capdeck: saved part \(r.part?.index ?? 0) \(Self.describe(r.path, channels: perChannel)): \(length)\n") }
                return
            }
            guard triggered else { return }
            let n = takes.add(r)
            guard r.reason != .failed else {
                Terminal.write(clear + "capdeck: error: take \(n): \(r.error.map { "\($0)" } ?? "failed")\n")
                return
            }
            guard !quiet else { return }
            // A split take's last part: the take's whole length too, as the end line of `record` says it.
            let all = r.part.map { p in
                "; part \(p.index), \(p.framesBefore + r.frames) frames (\(Readout.duration(Double(p.framesBefore + r.frames) / Double(rate), tenths: true))) in all"
            } ?? ""
            Terminal.write(clear + "capdeck: take \(n) saved \(Self.describe(r.path, channels: perChannel)): \(length)\(all)" + (r.error.map { " (\($0))" } ?? "") + "\n")
        }
    }

    /// Arms the trigger before the session runs; each take is printed as it ends.
    private func armTrigger(_ t: LevelTrigger) {
        let target = self.target, type = fileType
        output.armTrigger(t, files: TriggeredTakeFiles(fileType: type, broadcast: settings.broadcast(config: config)) { take, attempt in
            target.takePath(take: take, attempt: attempt, fileType: type)
        })
    }

    /// The status line and the control input while the take runs; returns how it ended.
    public func follow() -> SessionEvents.Ending {
        guard let session else { preconditionFailure("follow() before start()") }
        let status = StatusLine(session: session, rate: format.sampleRate, enabled: !quiet && Terminal.stderrIsTerminal, output: output)
        events.statusLine = status
        let events = self.events
        let control = isatty(0) == 1 ? nil : ControlInput(session: session, output: output, otherAudio: otherAudio, loudness: settings.noLoudness ? nil : loudness,
                                                              onStop: { events.requestStop() })
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
        splitSignal?.cancel()
        if trigger != nil { return try finishTakes(end) }
        var ending = end
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
        // Every earlier part's line is out before the saved line, which scripts read as the last.
        output.waitForFinishedNotifications()
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
            case .diskFull(_, let n), .writeFailed(_, _, let n), .vanished(_, let n, _, _), .formatMismatch(_, _, _, let n),
                 .containerFull(_, _, _, let n): frames = n
            default: break
            }
        }
        if frames == 0 && ending.error == nil && output.error == nil {
            Self.discardEmptyTake(files(path))
            if !quiet { Terminal.write("capdeck: \(Self.emptyTake)\n") }
            return
        }
        var line = "saved \(describeFiles(saved?.path ?? path)): \(frames) frames (\(Readout.duration(Double(frames) / Double(format.sampleRate), tenths: true))), \(ending.xruns) xrun\(ending.xruns == 1 ? "" : "s")"
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
        if !quiet {
            // The saved line stays the last: scripts read it there.
            printLoudness()
            Terminal.write("capdeck: \(line)\n")
        }
    }

    /// The one-line loudness summary: the whole take's (a split take's parts each carry their
    /// own figures in their bext chunks), or everything captured while armed for a trigger.
    private func printLoudness() {
        guard let r = loudness.reading else { return }
        Terminal.write("capdeck: loudness\(trigger == nil ? "" : " (all captured audio)"): \(r.summary)\n")
    }

    /// Triggered: the take in progress ends; every take has been printed; one line sums up.
    private func finishTakes(_ end: SessionEvents.Ending) throws {
        var fileError: RecordingError?
        do throws(RecordingError) { try output.disarmTrigger() } catch { fileError = error }
        // Every take started is reported (the handler runs on the output's queue).
        for _ in 0..<200 where takes.count < output.triggeredTakeCount { usleep(10_000) }
        output.waitForFinishedNotifications()
        let n = takes.saved
        let line = "\(n) take\(n == 1 ? "" : "s") saved, \(end.xruns) xrun\(end.xruns == 1 ? "" : "s")"
        if let e = fileError ?? takes.firstError {
            throw Failure("\(e); \(line)", code: .ioError)
        }
        if let error = end.error { throw Failure("\(error); \(line)", code: .ioError) }
        if !quiet {
            // The saved line stays the last: scripts read it there.
            printLoudness()
            Terminal.write("capdeck: \(line)\n")
        }
    }

    private func discardFile() {
        _ = try? output.stopRecording()
        if trigger == nil { for p in files(path) { unlink(p) } }
    }

    /// What the start line says after the granted format: the conversion into the recorded one,
    /// and with a selection, which of the device's channels are recorded.
    static func conversionNote(granted: StreamFormat, recorded: StreamFormat, selection: ChannelSelection?) -> String {
        var asked = recorded
        if selection != nil { asked.channels = granted.channels }
        var note = granted != asked ? " (converted to \(asked))" : ""
        if let selection { note += " (channels \(selection) recorded: \(selection.count) ch)" }
        return note
    }

    /// A take stopped before any audio arrived keeps no file (an empty file is no recording),
    /// in the console as in `record`; this line says so.
    public static let emptyTake = "stopped before any audio was captured; no file kept"
    static func discardEmptyTake(_ files: [String]) { for p in files { unlink(p) } }

    /// The files a take at `path` is: itself, or one per channel (`--split-channels`).
    private func files(_ path: String) -> [String] { Self.files(path, channels: output.splitsChannels ? format.channels : nil) }
    private func describeFiles(_ path: String) -> String { Self.describe(path, channels: output.splitsChannels ? format.channels : nil) }
    static func files(_ path: String, channels: Int?) -> [String] {
        channels.map { FileNaming.channelFiles(of: path, channels: $0) } ?? [path]
    }

    /// `path`, or its channel files' first and last (`take-ch01.wav … take-ch64.wav (64 mono files)`).
    static func describe(_ path: String, channels: Int?) -> String {
        let all = files(path, channels: channels)
        guard all.count > 1, let first = all.first, let last = all.last else { return all.first ?? path }
        return "\(first) … \(last) (\(all.count) mono files)"
    }

    private func makeSession() -> CaptureSession {
        let app = ApplicationAudioSession(config?.appSession ?? AudioSessionState())
        let session = CaptureSession(applicationAudioSession: app)
        session.realtimePriority = settings.noRealtime ? nil : Int32(settings.rtPriority)
        session.reconnectsLostDevices = reconnectWait > 0
        session.maxFrames = maxFrames
        session.meterBoard.ballistics = settings.meterBallistics(config: config)
        session.addInput(CaptureDeviceInput(name: settings.device ?? "default input", routes: settings.routes(config: config), format: format,
                                            periodMicros: settings.devicePeriod(for: .record).period,
                                            bufferMicros: settings.devicePeriod(for: .record).buffer,
                                            channelSelection: settings.selection(config: config)))
        session.addOutput(output)
        if !settings.noLoudness {
            loudness.prepare(format: format)  // libebur128 allocates here, not on the writer
            session.addOutput(loudness)
        }
        session.setProperties(settings.properties(config: config))
        let events = self.events
        session.onEvent { events.handle($0) }
        return session
    }
}

/// The takes a triggered recording reported, in order (the output's handler adds them).
final class TakeLog: Sendable {
    private let list = Mutex<[FinishedRecording]>([])
    /// Adds one; returns its take number.
    func add(_ r: FinishedRecording) -> Int { list.withLock { $0.append(r); return $0.count } }
    var count: Int { list.withLock { $0.count } }
    var saved: Int { list.withLock { $0.filter { $0.reason != .failed }.count } }
    var firstError: RecordingError? { list.withLock { $0.first { $0.reason == .failed }?.error } }
}
