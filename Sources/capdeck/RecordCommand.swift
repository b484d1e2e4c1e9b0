// `capdeck record`: headless recording through a CaptureSession, scriptable from standard input.
import ArgumentParser
import CaptureALSA
import CaptureConfig
import CaptureCore
import ConsoleUI
import CaptureDeck
import CaptureFiles
import Dispatch
import Glibc
import Synchronization

struct RecordCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "record",
        abstract: "Record from a capture PCM to a file until the duration passes or a signal arrives.",
        discussion: """
            Like arecord, -d counts captured frames, not wall-clock time. SIGINT, SIGTERM and \
            SIGHUP finish the file and exit cleanly. Existing files are never overwritten.
            Without -D, the system's default input is used; if nothing can be opened, the built-in \
            test signal is recorded instead, with a warning.
            When standard input is not a terminal, capdeck reads control commands from it, one per \
            line: 'set mix on', 'toggle uses-app-session', 'status' (one JSON line on stdout), \
            'stop'. Properties: uses-app-session, auto-configure, mix, bluetooth-hq.
            """)

    @Argument(help: "Output file (must not exist). Default: a name from --name in --output-dir.")
    var file: String?

    @OptionGroup var capture: CaptureOptions

    @Option(name: [.customShort("d"), .customLong("duration")], parsing: .unconditional,
            help: "Stop after this many seconds of captured audio (0 or absent: until stopped).",
            transform: Parse.seconds)
    var duration: Double?

    @Option(name: .customLong("reconnect-wait"), parsing: .unconditional,
            help: "If the device is lost (unplugged), wait this many seconds for it to come back and go on recording into the same file; 0: stop at once. (default: 10)",
            transform: Parse.seconds)
    var reconnectWait: Double?

    @Flag(name: [.customShort("q"), .customLong("quiet")], help: "No status output (errors and warnings still print).")
    var quiet = false

    func validate() throws {
        guard let file else { return }
        if file.isEmpty { throw ValidationError("FILE is empty") }
        if file == "-" { throw ValidationError("writing to standard output is not supported; name a file") }
        let last = file.split(separator: "/").last.map(String.init) ?? file
        guard let dot = last.lastIndex(of: "."), dot != last.startIndex else {
            // Also what a mistyped command looks like ('capdeck devcies'): never record into it.
            throw ValidationError("'\(file)' is neither a command (record, devices, recover) nor a file name with an extension (.wav, .w64, .caf, .flac)")
        }
        let ext = String(last[last.index(after: dot)...])
        guard let inferred = FileType(name: ext) else {
            if capture.fileType == nil {
                throw ValidationError("FILE: '.\(ext)' is not a type capdeck writes; use .wav, .w64, .caf or .flac, or choose one with -t")
            }
            return
        }
        if let t = capture.fileType, t != inferred {
            throw ValidationError("-t \(t.rawValue) does not match FILE's extension '.\(ext)'")
        }
    }

    func run() throws {
        // Signals first: from here on SIGINT/SIGTERM/SIGHUP never kill a half-made recording.
        let events = SessionEvents(quiet: quiet)
        let signals = SignalHandlers { events.requestStop() }
        defer { signals.cancel() }
        let config = try ConfigFile.load(capture.configFile)
        let format = capture.streamFormat(config: config)
        let type = capture.fileType ?? file.flatMap { FileType(name: String($0.split(separator: ".").last ?? "")) } ?? .wav
        do throws(RecordingError) { try type.validate(format.sampleFormat) } catch {
            throw Failure("-t/--file-type: \(error)", code: .usage)
        }
        let target = try OutputTarget(file: file, outputDir: capture.outputDirectory(config: config), pattern: capture.namePattern, fileType: type)
        let output = CaptureAudioFileOutput(format: format)
        let path = try target.start(output, fileType: type)

        // Nothing named: the system's default input, and never a stand-in for it. A script must
        // not get a recording of the built-in signal where it asked for the microphone.
        let namedADevice = capture.namedADevice(config: config)
        if !namedADevice, let problem = DefaultInput.problem() {
            _ = try? output.stopRecording()
            unlink(path)
            throw Failure(problem, code: .unavailable)
        }
        let session = makeSession(config: config, format: format, output: output,
                                  routes: capture.routes(config: config), events: events)
        session.startRunning()
        let outcome = events.startOutcome(session)
        if case .failed(let error) = outcome {
            _ = try? output.stopRecording()
            unlink(path)  // nothing was captured into it
            throw Failure(DefaultInput.explain(error, routes: session.inputs.first?.routes), code: .unavailable)
        }
        // (A short take from an unpaced PCM may be over already: then what the start said.)
        let engine = session.engine
        if !quiet, let (route, g) = engine.flatMap({ e in session.currentRoute.flatMap { r in e.granted.map { (r, $0) } } }) ?? events.start {
            let realtime = engine.map { ", \($0.realtimeStatus)" } ?? ""
            Terminal.write("capdeck: recording \(engine?.device.displayName ?? route.pcm) [\(route.kind.rawValue) route]: \(g.format), period \(Text.ms(g.periodMs)), buffer \(Text.ms(g.bufferMs))"
                           + (g.format != format ? " (converted to \(format))" : "") + realtime + "\n")
            for note in session.resolution?.notes ?? [] { Terminal.write("capdeck: note: \(note)\n") }
            Terminal.write("capdeck: saving to \(path)\n")
        }

        let status = StatusLine(session: session, rate: format.sampleRate, enabled: !quiet && Terminal.stderrIsTerminal)
        events.statusLine = status
        let control = isatty(0) == 1 ? nil : ControlInput(session: session, output: output, onStop: { events.requestStop() })
        control?.start()
        status.start()
        var ending = events.waitForEnd(session, output: output, reconnectWait: reconnectWait ?? 10)
        status.stop()
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
        let line = "saved \(path): \(frames) frames (\(Fmt.duration(Double(frames) / Double(format.sampleRate)))), \(ending.xruns) xrun\(ending.xruns == 1 ? "" : "s")"
        if case .recording(let e) = ending.error {
            // The message already says the file was stopped and saved, with its frames.
            throw Failure((earlierError.map { "\($0); " } ?? "") + "\(e)", code: .ioError)
        }
        if let error = ending.error ?? output.error.map({ CaptureSessionError.recording($0) }) {
            throw Failure("\(error); \(line)", code: .ioError)
        }
        if !quiet { Terminal.write("capdeck: \(line)\n") }
    }

    private func makeSession(config: CapdeckConfig?, format: StreamFormat, output: CaptureAudioFileOutput,
                             routes: InputRoutes, events: SessionEvents) -> CaptureSession {
        let app = ApplicationAudioSession(config?.appSession ?? AudioSessionState())
        let session = CaptureSession(applicationAudioSession: app)
        session.realtimePriority = capture.noRealtime ? nil : Int32(capture.rtPriority)
        session.reconnectsLostDevices = (reconnectWait ?? 10) > 0
        session.maxFrames = duration.flatMap { $0 > 0 ? max(1, Int(($0 * Double(format.sampleRate)).rounded())) : nil }
        session.addInput(CaptureDeviceInput(name: capture.device ?? "default input", routes: routes, format: format,
                                            periodMicros: capture.periodTime, bufferMicros: capture.bufferTime))
        session.addOutput(output)
        session.setProperties(capture.properties(config: config))
        session.onEvent { events.handle($0) }
        return session
    }
}

/// Follows a session's events for the record command: prints them, and tells `run` when to stop.
final class SessionEvents: @unchecked Sendable {
    enum StartOutcome { case running, interrupted, failed(CaptureSessionError) }
    struct Ending { var error: CaptureSessionError?; var xruns: Int }

    private let quiet: Bool
    private let lock = Mutex<State>(State())
    private let changed = DispatchSemaphore(value: 0)
    var statusLine: StatusLine?
    private struct State {
        var lastError: CaptureSessionError?
        /// When the device was lost, while waiting for it to come back.
        var lostSince: Double?
        var stopRequested = false
        var stopped = false
        /// didStartRunning was heard (a short take from an unpaced PCM may already be over when
        /// startRunning returns: it started all the same), and what it said.
        var started: (Route, GrantedParameters)?
    }

    /// The route and parameters the first start reported.
    var start: (Route, GrantedParameters)? { lock.withLock { $0.started } }

    init(quiet: Bool) { self.quiet = quiet }

    func handle(_ e: CaptureSessionEvent) {
        switch e {
        case .runtimeError(let err):
            lock.withLock { $0.lastError = err }
        case .didStopRunning:
            lock.withLock { $0.stopped = true }
        case .wasInterrupted(.audioDeviceDisconnected, let wanted):
            lock.withLock { $0.lostSince = (Double(monotonicNanos()) / 1e9) }
            say("waiting for \(wanted.pcm) to come back; the recording continues in the same file when it does", always: true)
        case .wasInterrupted(.audioDeviceStalled, let wanted):
            lock.withLock { $0.lostSince = (Double(monotonicNanos()) / 1e9) }
            say("interrupted: \(wanted.pcm) stopped delivering audio (audioDeviceStalled); reopening it when it answers, the recording continues in the same file", always: true)
        case .wasInterrupted(let reason, let wanted):
            say("interrupted: \(wanted) is in use by another program (\(reason.rawValue)); retrying", always: true)
        case .interruptionEnded:
            // (Also sent when a stop ends the wait for a lost device: that is no news.)
            if lock.withLock({ $0.lostSince == nil }) { say("interruption ended", always: true) }
        case .routeChanged(let c):
            say("route changed: \(c.old.map { "\($0)" } ?? "none") -> \(c.new), \(c.granted.format), gap \(Text.ms(c.gapMs))")
        case .appAudioSessionConfigured(let s):
            say("app audio session configured: category \(s.category.rawValue), options \(s.options)")
        case .gap(_, let ms, let reason):
            say("gap \(Text.ms(ms)) in the recording: \(reason)", always: true)
        case .didStartRunning:
            // Running again after a lost device: the loss is no longer the session's outcome.
            let wasLost = lock.withLock { s -> Bool in
                defer { s.stopped = false; s.lostSince = nil }
                // Whatever the device said while it was away (lost, stalled, busy while its old
                // handle closed) is over now that it is back.
                if s.lostSince != nil, case .device = s.lastError { s.lastError = nil }
                if s.started == nil, case .didStartRunning(let r, let g) = e { s.started = (r, g) }
                return s.lostSince != nil
            }
            if wasLost { say("the device is back; recording again", always: true) }
        }
        changed.signal()
    }

    private func say(_ text: String, always: Bool = false) {
        guard always || !quiet else { return }
        Terminal.write((statusLine?.isActive == true ? "\r\u{1B}[2K" : "") + "capdeck: \(text)\n")
    }

    /// The first request finishes the file; a second one (Ctrl-C again while finishing hangs)
    /// exits at once: the file still opens up to its last checkpoint, and `recover` restores the rest.
    func requestStop() {
        let again = lock.withLock { s -> Bool in
            defer { s.stopRequested = true }
            return s.stopRequested
        }
        if again {
            Terminal.error("stopping without finishing the file; run 'capdeck recover' on it")
            _exit(130)
        }
        changed.signal()
    }

    /// After startRunning: running, interrupted (waiting for the device), or failed.
    /// (startRunning returns after the events it caused have been handled.)
    func startOutcome(_ session: CaptureSession) -> StartOutcome {
        if session.isRunning || start != nil { return .running }
        if session.isInterrupted { return .interrupted }
        let err = lock.withLock { s -> CaptureSessionError? in defer { s.lastError = nil }; return s.lastError }
        return .failed(err ?? .noInput)
    }

    /// Blocks until stop is requested (signal, `stop` command) or capture ends by itself.
    func waitForEnd(_ session: CaptureSession, output: CaptureAudioFileOutput, reconnectWait: Double) -> Ending {
        while true {
            _ = changed.wait(timeout: .now() + .milliseconds(200))
            // A lost device that didn't come back in time: end as a lost device.
            if let since = lock.withLock({ $0.lostSince }), (Double(monotonicNanos()) / 1e9) - since >= reconnectWait {
                session.stopRunning()
                return Ending(error: lock.withLock { $0.lastError }, xruns: session.xrunCount)
            }
            // The file failed (disk full…): it is already finished with every frame that fit.
            if let e = output.error {
                session.stopRunning()
                return Ending(error: .recording(e), xruns: session.xrunCount)
            }
            let (stopReq, stopped, err) = lock.withLock { ($0.stopRequested, $0.stopped, $0.lastError) }
            if stopReq {
                session.stopRunning()
                return Ending(error: lock.withLock { $0.lastError }, xruns: session.xrunCount)
            }
            if stopped && !session.isRunning && !session.isInterrupted {
                return Ending(error: err, xruns: session.xrunCount)
            }
        }
    }
}

/// Loads the config file named by --config, or the default one if it exists.
enum ConfigFile {
    static func load(_ named: String?) throws -> CapdeckConfig? {
        let path = named ?? ConfigLoader.defaultPath(environment: Environment.current)
        guard let text = try readText(path, mustExist: named != nil) else { return nil }
        do throws(ConfigError) {
            return try ConfigLoader.parse(text, path: path)
        } catch {
            throw Failure(error.description, code: .config)
        }
    }

    /// The config file's text (a regular file of at most 1 MiB, UTF-8); nil if it doesn't exist
    /// and need not.
    static func readText(_ path: String, mustExist: Bool) throws -> String? {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        if fd < 0 {
            if !mustExist && errno == ENOENT { return nil }
            throw Failure("--config \(path): \(String(cString: strerror(errno)))", code: .config)
        }
        defer { close(fd) }
        var st = stat()
        fstat(fd, &st)
        if (st.st_mode & S_IFMT) != S_IFREG { throw Failure("--config \(path): not a regular file", code: .config) }
        if st.st_size > 1 << 20 { throw Failure("--config \(path): larger than 1 MiB; not a config file", code: .config) }
        var bytes = [UInt8](repeating: 0, count: Int(st.st_size))
        let n = bytes.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
        guard n == bytes.count else { throw Failure("--config \(path): could not read", code: .config) }
        guard let text = String(validating: bytes, as: UTF8.self) else {
            throw Failure("\(path): not UTF-8 text", code: .config)
        }
        return text
    }
}
