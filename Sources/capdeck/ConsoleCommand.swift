// `capdeck` (no subcommand): the ncurses recording console.
import ArgumentParser
import CaptureALSA
import CaptureConfig
import CaptureConsole
import CaptureCore
import CaptureDeck
import CaptureFiles
import ConsoleUI
import Dispatch
import Glibc
import Synchronization

struct ConsoleCommandLine: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "console",
        abstract: "The recording console (the default): live meters, session rules, recording.",
        discussion: """
            Keys: 1-4 toggle the four audio-session properties, r record/stop, p pause, d device, \
            c app session category, x reset peaks and clips, Ctrl-L repaint, ? help, q quit. What you \
            change with keys (1-4, c, the device picked with d) is remembered in \
            $XDG_STATE_HOME/capdeck/console.toml (default ~/.local/state/capdeck/console.toml) for the \
            next console; flags are never saved, the config file is never written, and 'capdeck record' \
            ignores what the console remembers. --reset-settings forgets it.
            """)

    @OptionGroup var capture: CaptureOptions

    @Flag(name: .customLong("reset-settings"), help: "Forget what the console remembers (the old state is kept as console.toml.old; config.toml is untouched).")
    var resetSettings = false

    func run() throws {
        let events = SignalFlag()
        let signals = SignalHandlers { events.raise() }
        defer { signals.cancel() }
        let config = try ConfigFile.load(capture.configFile)
        let statePath = ConsoleStateFile.defaultPath
        if resetSettings { try ConsoleStateFile.reset(path: statePath) }
        let (state, warning) = ConsoleStateFile.load(statePath)
        let controller = try ConsoleController(capture: capture, config: config, state: state, statePath: statePath, signals: events)
        if let warning { controller.addEvent(warning, .warning) }
        try controller.run()
    }
}

/// Set from a signal handler queue, read by the render loop.
final class SignalFlag: Sendable {
    private let raised = Atomic<Bool>(false)
    func raise() { raised.store(true, ordering: .relaxed) }
    var isRaised: Bool { raised.load(ordering: .relaxed) }
}

/// Runs the console: owns the terminal (main thread), sends commands to the session on a
/// background queue so the screen never waits for a device, and renders ~30 frames a second.
final class ConsoleController: @unchecked Sendable {
    let capture: CaptureOptions
    /// Where the console's remembered state goes (never the config file).
    let statePath: String
    let signals: SignalFlag
    let session: CaptureSession
    let output: CaptureAudioFileOutput
    let format: StreamFormat
    let fileType: FileType
    private let commands = DispatchQueue(label: "capdeck.console-commands")
    private let log = Mutex<[ConsoleModel.Event]>([])
    private let ui = Mutex(UIState())
    private var directory: String
    private var inputName: String
    private var builtIn = false
    /// What the console remembers for next time: only what was changed with keys (toggles, the
    /// category, a device picked with d that opened); never a flag. Command queue only, after init.
    private var state: ConsoleState

    struct UIState {
        var showHelp = false
        var prompt: String?
        /// Unfinished recordings the start-up prompt offers to repair (nil: the prompt is not that one).
        var repairCandidates: [String]?
        var picker: ConsoleModel.Picker?
        var pickerPCMs: [String] = []
        var quitRequested = false
        var quitConfirmed = false
        var fileBytes: Int64 = 0
        var freeBytes: Int64?
        var lastStat = 0.0
        var reportedOutputError = false
    }

    init(capture: CaptureOptions, config: CapdeckConfig?, state: ConsoleState, statePath: String, signals: SignalFlag) throws {
        self.capture = capture
        self.statePath = statePath
        self.state = state
        self.signals = signals
        format = capture.streamFormat(config: config)
        fileType = capture.fileType ?? .wav
        do throws(RecordingError) { try fileType.validate(format.sampleFormat) } catch {
            throw Failure("-t/--file-type: \(error)", code: .usage)
        }
        let target = try OutputTarget(file: nil, outputDir: capture.outputDirectory(config: config), pattern: capture.namePattern, fileType: fileType)
        guard case .pattern(let dir, _) = target.kind else { throw Failure("no recordings directory", code: .cannotCreate) }
        directory = dir
        // Precedence: flags, then what the console remembers, then the config file, then defaults.
        var remembered = config ?? CapdeckConfig(path: statePath)
        for (k, v) in state.properties { remembered.properties[k] = v }
        if let c = state.category { remembered.appSession.category = c }
        session = CaptureSession(applicationAudioSession: ApplicationAudioSession(remembered.appSession))
        session.realtimePriority = capture.noRealtime ? nil : Int32(capture.rtPriority)
        output = CaptureAudioFileOutput(format: format)
        // (An [input] device in config.toml is what an earlier capdeck saved there: still honoured.)
        let savedDevice = state.device ?? config?.inputDevice
        inputName = capture.device ?? savedDevice ?? "default input"
        var routes = capture.routes(config: config)
        if capture.device == nil, let savedDevice { routes = InputRoutes.forNamedPCM(savedDevice) }
        session.addInput(CaptureDeviceInput(name: inputName, routes: routes, format: format,
                                            periodMicros: capture.periodTime, bufferMicros: capture.bufferTime))
        session.addOutput(output)
        session.setProperties(capture.properties(config: remembered))
        session.onEvent { [weak self] in self?.record($0) }
    }

    // MARK: Running

    func run() throws {
        // A sound server that is configured but doesn't answer: say so and stop, as `record`
        // does. The built-in signal stands in only where there is no capture device at all.
        let named = capture.namedADevice(config: nil)
        if !named, let server = SoundServerProbe.diagnosis() { throw Failure(server, code: .unavailable) }
        session.startRunning()
        if !session.isRunning && !session.isInterrupted {
            let failure = lastRuntimeError()
            if !named && !DefaultInput.hasAnyCaptureDevice() {
                useBuiltIn(reason: failure?.description ?? "no capture device")
            } else if let failure {
                throw Failure(DefaultInput.explain(failure, routes: session.inputs.first?.routes), code: .unavailable)
            }
        }
        let term: NcursesTerminal
        do {
            term = try NcursesTerminal(noColor: getenv("NO_COLOR").map { $0.pointee != 0 } ?? false,
                                       onStderrLine: { [weak self] in self?.addEvent("stderr: \($0)", .warning) })
        } catch {
            session.stopRunning()
            throw Failure(error.description, code: .usage)
        }
        defer { term.restore() }
        offerRepairs()
        while true {
            if signals.isRaised { break }
            if let key = term.readKey() {
                if key == NcursesTerminal.resizeKey {
                    term.invalidate()
                } else if KeyMap.command(for: key) == .redraw {
                    term.repaintAll()  // in any mode: a picker or prompt is repainted too
                } else {
                    handle(key)
                }
            }
            if ui.withLock({ $0.quitConfirmed }) { break }
            let (w, h) = term.size
            var model = snapshot()
            model.unicode = term.unicode
            term.draw(ConsoleLayout.render(model, width: w, height: h))
        }
        // Finish: queued commands, the file (nothing lost), then the device, then the terminal.
        commands.sync {}
        var saved: (path: String, frames: Int)?
        var finishError: RecordingError?
        do throws(RecordingError) { saved = try output.stopRecording() } catch { finishError = error }
        session.stopRunning()
        term.restore()
        if let saved { Terminal.write("capdeck: saved \(saved.path): \(saved.frames) frames\n") }
        // After the screen is gone, so it stays readable (a deleted file's rescue says where).
        // The exit code stays 0, as for every take's problem during the session (the event log
        // showed those): quitting the console succeeded.
        if let finishError { Terminal.error("\(finishError)") }
    }

    private func useBuiltIn(reason: String) {
        builtIn = true
        inputName = "builtin"
        addEvent("no capture device could be opened (\(reason)): using the BUILT-IN TEST SIGNAL", .warning)
        session.removeInput(session.inputs[0])
        session.addInput(CaptureDeviceInput(name: "builtin", routes: InputRoutes.forNamedPCM("builtin"), format: format,
                                            periodMicros: capture.periodTime, bufferMicros: capture.bufferTime))
        session.startRunning()
    }

    private let lastError = Mutex<CaptureSessionError?>(nil)
    private func lastRuntimeError() -> CaptureSessionError? { lastError.withLock { $0 } }

    // MARK: Keys

    func handle(_ key: Int32) {
        let state = ui.withLock { $0 }
        if state.prompt != nil {
            if let files = state.repairCandidates {
                switch KeyMap.modalCommand(for: key) {
                case .yes:
                    ui.withLock { $0.prompt = nil; $0.repairCandidates = nil }
                    commands.async { self.repair(files) }
                case .no, .cancel:
                    ui.withLock { $0.prompt = nil; $0.repairCandidates = nil }
                    addEvent("left \(files.count) unfinished recording\(files.count == 1 ? "" : "s") as they are ('capdeck recover' repairs them later)")
                default: break
                }
                return
            }
            switch KeyMap.modalCommand(for: key) {
            case .yes: ui.withLock { $0.prompt = nil; $0.quitConfirmed = true }
            case .no, .cancel: ui.withLock { $0.prompt = nil; $0.quitRequested = false }
            default: break
            }
            return
        }
        if var p = state.picker {
            switch KeyMap.modalCommand(for: key) {
            case .up: p.selected = max(0, p.selected - 1); ui.withLock { $0.picker = p }
            case .down: p.selected = min(p.items.count - 1, p.selected + 1); ui.withLock { $0.picker = p }
            case .accept:
                let pcm = state.pickerPCMs[p.selected]
                ui.withLock { $0.picker = nil }
                commands.async { self.chooseDevice(pcm) }
            case .cancel: ui.withLock { $0.picker = nil }
            default: break
            }
            return
        }
        if state.showHelp {
            if KeyMap.modalCommand(for: key) == .cancel || KeyMap.command(for: key) == .help {
                ui.withLock { $0.showHelp = false }
            }
            return
        }
        guard let command = KeyMap.command(for: key) else { return }
        perform(command)
    }

    /// Runs a command. Session work goes to the command queue; the screen never waits for it.
    func perform(_ command: ConsoleCommand) {
        switch command {
        case .toggle(let key):
            commands.async {
                var p = self.session.properties
                p[key].toggle()
                self.session.setProperties(p)
                self.addEvent("\(key.appleName) \(p[key] ? "on" : "off")")
                for note in self.session.resolution?.notes ?? [] { self.addEvent("note: \(note)", .warning) }
                self.state.properties[key] = p[key]
                self.saveState()
            }
        case .recordStartStop:
            commands.async { self.toggleRecording() }
        case .pauseResume:
            guard output.isRecording else { return addEvent("not recording: r starts a recording", .warning) }
            if output.isPaused { output.resume(); addEvent("recording resumed") } else { output.pause(); addEvent("recording paused") }
        case .chooseDevice:
            let pcms = DeviceCatalog.capturePCMs().map(\.name) + ["builtin", "builtin:sweep", "builtin:pink"]
            let labels = pcms.map { $0.hasPrefix("builtin") ? "\($0)  (built-in test signal)" : $0 }
            ui.withLock { $0.picker = ConsoleModel.Picker(title: "Input device", items: labels, selected: 0); $0.pickerPCMs = pcms }
        case .cycleCategory:
            let p = session.properties
            if p.usesApplicationAudioSession && p.automaticallyConfiguresApplicationAudioSession {
                addEvent("the capture session sets the category while it configures automatically (2 turns that off)", .warning)
                return
            }
            commands.async {
                let all = AudioSessionCategory.allCases
                let now = self.session.applicationAudioSession.category
                let next = all[(all.firstIndex(of: now)! + 1) % all.count]
                self.session.applicationAudioSession.update { $0.category = next }
                self.session.setProperties(self.session.properties)  // re-resolve under the new category
                if !self.session.isRunning && !self.session.isInterrupted { self.session.startRunning() }
                self.addEvent("app session category \(next.rawValue)")
                self.state.category = next
                self.saveState()
            }
        case .resetMeters:
            session.meterBoard.requestReset()
            addEvent("peak holds and clip lights reset")
        case .help:
            ui.withLock { $0.showHelp = true }
        case .quit:
            commands.sync {}  // keys typed before q (r, 1-4…) take effect first
            if output.isRecording {
                ui.withLock { $0.prompt = "Recording in progress: stop it, save the file and quit? (y/n)"; $0.quitRequested = true }
            } else {
                ui.withLock { $0.quitConfirmed = true }
            }
        default:
            break
        }
    }

    /// Unfinished recordings (cut short by a crash) in the recordings directory: offer to repair.
    private func offerRepairs() {
        guard let dir = opendir(directory) else { return }
        var found: [String] = []
        while let entry = readdir(dir) {
            let name = withUnsafeBytes(of: entry.pointee.d_name) { raw in
                String(decoding: raw.prefix { $0 != 0 }, as: UTF8.self)
            }
            let ext = name.split(separator: ".").last.map { $0.lowercased() } ?? ""
            guard ["wav", "w64", "caf", "flac", "rf64"].contains(ext) else { continue }
            let path = directory + "/" + name
            if Recovery.needsRepair(path: path) { found.append(path) }
        }
        closedir(dir)
        guard !found.isEmpty else { return }
        found.sort()
        let n = found.count
        ui.withLock {
            $0.prompt = "\(n) unfinished recording\(n == 1 ? "" : "s") in \(directory) (cut short by a crash). Repair now? (y/n)"
            $0.repairCandidates = found
        }
    }

    private func repair(_ files: [String]) {
        for path in files {
            switch Recovery.recover(path: path) {
            case .repaired(let container, _, let frames, _):
                addEvent("repaired \(path) (\(container), \(frames) frames)")
            case .alreadyComplete:
                addEvent("\(path) was already complete")
            case .untouched(let reason), .missing(let reason):
                addEvent("could not repair \(path): \(reason)", .warning)
            }
        }
    }

    private func toggleRecording() {
        if output.isRecording {
            do throws(RecordingError) {
                if let saved = try output.stopRecording() {
                    addEvent("saved \(saved.path) (\(Readout.duration(Double(saved.frames) / Double(format.sampleRate))), \(saved.frames) frames)")
                }
            } catch {
                reportRecordingError(error)
            }
            return
        }
        do {
            let target = try OutputTarget(file: nil, outputDir: directory, pattern: capture.namePattern, fileType: fileType)
            let path = try target.start(output, fileType: fileType)
            addEvent("recording to \(path)")
            if !session.isRunning && !session.isInterrupted { session.startRunning() }
        } catch let f as Failure {
            addEvent(f.message, .error)
        } catch {
            addEvent("\(error)", .error)
        }
    }

    /// A recording error in the event log. A deleted file's rescue gets a line of its own that
    /// starts with the new path, so the screen edge clips the details rather than the path.
    private func reportRecordingError(_ e: RecordingError) {
        if case .vanished(let path, let frames, let to, let reason) = e {
            addEvent("\(path) was deleted while recording; recording stopped", .error)
            if let to {
                addEvent("saved to \(to) (\(Readout.duration(Double(frames) / Double(format.sampleRate))), \(frames) frames)", .warning)
                if let reason { addEvent("that copy may be incomplete: \(reason)", .error) }
            } else {
                addEvent("the \(frames) frames recorded are lost: \(reason ?? "could not copy them")", .error)
            }
            return
        }
        addEvent("\(e)", .error)
    }

    /// Switches to `pcm` the way a route switch does: the new device is opened beside the current
    /// one and capture moves only once it runs (same file, a cue at the seam). A device that
    /// doesn't open leaves capture where it was, untouched, says so in one event line, and is not
    /// remembered.
    private func chooseDevice(_ pcm: String) {
        guard let old = session.inputs.first else { return }
        let new = CaptureDeviceInput(name: pcm, routes: InputRoutes.forNamedPCM(pcm), format: format,
                                     periodMicros: capture.periodTime, bufferMicros: capture.bufferTime)
        let wasRecording = output.isRecording
        let oldRoute = session.currentRoute
        let wasRunning = session.isRunning && oldRoute != nil
        func swap(_ a: CaptureDeviceInput, _ b: CaptureDeviceInput) {
            session.beginConfiguration()
            session.removeInput(a)
            session.addInput(b)
            session.commitConfiguration()  // running: re-resolves and switches (new opened beside old)
        }
        let wanted = RouteResolver.resolve(session.properties, appSession: session.applicationAudioSession.current, routes: new.routes).route
        func failed(_ reason: String, _ gap: String = "") {
            let now = session.currentRoute?.pcm ?? oldRoute?.pcm ?? inputName
            let still = session.isRunning ? "still capturing \(now)" : session.isInterrupted ? "still waiting for \(now)" : "capture stays stopped"
            // What happens first, the reason after: the screen edge clips the end of a long line.
            addEvent("\(pcm) could not be opened; \(still)" + (wasRecording ? ", the recording goes on" : "") + gap + " (\(reason))", .error)
        }
        if !wasRunning {
            // Nothing to switch from live: try the new device first, so a failure leaves the
            // session as it was (waiting for a lost device goes on waiting).
            switch wanted {
            case .failure(let f): return failed("\(f)")
            case .success(let w): if let e = new.probe(w) { return failed("\(e)") }
            }
        }
        // The session's own reports of this attempt are collected and said in one line.
        switchReports.withLock { $0 = [] }
        defer { switchReports.withLock { $0 = nil } }
        if wasRunning {
            swap(old, new)
        } else {
            session.stopRunning()
            swap(old, new)
            session.startRunning()
        }
        let opened: Bool
        if case .success(let w) = wanted, session.isRunning, session.currentRoute?.pcm == w.pcm { opened = true } else { opened = false }
        let reports = switchReports.withLock { $0 ?? [] }
        guard opened else {
            // Back to the input we had. Running: the session is still on its device, so this only
            // ends any wait for the new one. Not running (the old device was lost): wait for it again.
            if wasRunning {
                swap(new, old)
            } else {
                session.stopRunning()
                swap(new, old)
                session.startRunning()
            }
            let reason = reports.first { !$0.isGap }?.text ?? {
                if case .failure(let f) = wanted { return "\(f)" }
                return "it did not start"
            }()
            failed(reason, reports.first { $0.isGap }.map { "; \($0.text)" } ?? "")
            return
        }
        builtIn = false
        inputName = pcm
        addEvent("input \(pcm)" + (wasRecording ? " (the recording continues in the same file)" : ""))
        state.device = pcm
        saveState()
    }

    /// What the session reported while `chooseDevice` tried a device (nil: not trying one).
    private struct Report { var text: String; var isGap: Bool }
    private let switchReports = Mutex<[Report]?>(nil)

    /// Whether the session's event belongs to a device being tried: then it is kept for its one line.
    private func collectedForSwitch(_ e: CaptureSessionEvent) -> Bool {
        switchReports.withLock { reports in
            guard reports != nil else { return false }
            switch e {
            case .runtimeError(let err): reports!.append(Report(text: "\(err)", isGap: false))
            case .wasInterrupted(let why, _):
                reports!.append(Report(text: why == .audioDeviceInUseByAnotherClient ? "in use by another program" : "device lost", isGap: false))
            case .interruptionEnded, .didStopRunning: break
            case .gap(_, let ms, _): reports!.append(Report(text: "a gap of \(Readout.ms(ms)) is marked in the file", isGap: true))
            default: return false
            }
            return true
        }
    }

    /// Writes what the console remembers (command queue). Never the config file, never flags.
    private func saveState() {
        if let error = ConsoleStateFile.write(state, to: statePath) { addEvent("settings not remembered: \(error)", .warning) }
    }

    // MARK: Events and snapshot

    private func record(_ e: CaptureSessionEvent) {
        if collectedForSwitch(e) { return }
        switch e {
        case .didStartRunning(let r, let g): addEvent("capturing \(r.pcm) (\(r.kind.rawValue)): \(g.format)")
        case .didStopRunning: addEvent("capture stopped")
        case .runtimeError(let err):
            lastError.withLock { $0 = err }
            addEvent("\(err)", .error)
            // (A lost device while recording: the take stays open while the session waits for the
            // device to come back; r saves it at any time.)
        case .wasInterrupted(.audioDeviceDisconnected, let wanted):
            addEvent("waiting for \(wanted.pcm) to come back" + (output.isRecording ? "; the recording continues when it does (r saves it now)" : ""), .warning)
        case .wasInterrupted(.audioDeviceStalled, let wanted):
            addEvent("\(wanted.pcm) stopped delivering audio: waiting for it" + (output.isRecording ? "; the recording continues when it does (r saves it now)" : ""), .warning)
        case .wasInterrupted(_, let wanted): addEvent("interrupted: \(wanted.pcm) is in use by another program; retrying", .warning)
        case .interruptionEnded: addEvent("interruption ended")
        case .routeChanged(let c):
            addEvent("route \(c.old?.pcm ?? "none") -> \(c.new.pcm) (\(c.new.kind.rawValue)), gap \(Readout.ms(c.gapMs))")
        case .appAudioSessionConfigured(let s): addEvent("app session configured: \(s.category.rawValue), options \(s.options)")
        case .gap(_, let ms, let reason): addEvent("gap \(Readout.ms(ms)): \(reason)", .warning)
        }
    }

    func addEvent(_ text: String, _ severity: ConsoleModel.Event.Severity = .info) {
        var t = time(nil)
        var tmv = tm()
        localtime_r(&t, &tmv)
        func two(_ v: Int32) -> String { v < 10 ? "0\(v)" : "\(v)" }
        let stamp = "\(two(tmv.tm_hour)):\(two(tmv.tm_min)):\(two(tmv.tm_sec))"
        log.withLock {
            $0.append(ConsoleModel.Event(time: stamp, text: text, severity: severity))
            if $0.count > 200 { $0.removeFirst($0.count - 200) }
        }
    }

    func snapshot() -> ConsoleModel {
        var m = ConsoleModel()
        let engine = session.engine
        m.inputName = inputName
        m.builtIn = builtIn || (session.currentRoute?.pcm.hasPrefix("builtin") ?? false)
        m.route = session.currentRoute
        m.accessLabel = engine?.device.accessKind.rawValue ?? ""
        m.granted = engine?.granted
        m.realtime = engine?.realtimeStatus.description ?? "not capturing"
        m.xruns = session.xrunCount
        m.running = session.isRunning
        let interruption = session.interruptionReason  // one read: the flag and its reason agree
        m.interrupted = interruption != nil
        if interruption == .audioDeviceDisconnected { m.interruption = "device lost, waiting for it to return" }
        if interruption == .audioDeviceStalled { m.interruption = "device stopped delivering audio, waiting for it" }
        m.levels = session.meterBoard.snapshot()
        // Not capturing: nothing to show (the board keeps the last levels it saw).
        if m.levels.isEmpty || engine == nil { m.levels = Array(repeating: .silent, count: format.channels) }
        m.clipLatched = m.levels.map { $0.clips > 0 }
        m.properties = session.properties
        if let r = session.resolution {
            m.effective = r.effective
            m.notes = r.notes
        } else {
            m.effective = RouteResolver.resolve(m.properties, appSession: session.applicationAudioSession.current,
                                                routes: session.inputs.first?.routes ?? InputRoutes()).effective
        }
        m.appSession = session.applicationAudioSession.current
        m.recording = output.isRecording ? (output.isPaused ? .paused : .recording) : .stopped
        m.filePath = output.recordingPath
        m.recordedSeconds = Double(output.recordedFrames) / Double(format.sampleRate)
        m.bytesPerSecond = format.bytesPerFrame * format.sampleRate
        m.directory = directory
        let now = Double(time(nil))
        var u = ui.withLock { $0 }
        if now - u.lastStat >= 1 {
            var st = stat()
            u.fileBytes = m.filePath.map { stat($0, &st) == 0 ? Int64(st.st_size) : 0 } ?? 0
            var vfs = statvfs()
            u.freeBytes = statvfs(directory, &vfs) == 0 ? Int64(vfs.f_bavail) * Int64(vfs.f_frsize) : nil
            u.lastStat = now
            ui.withLock { $0.fileBytes = u.fileBytes; $0.freeBytes = u.freeBytes; $0.lastStat = now }
        }
        m.fileBytes = u.fileBytes
        m.freeBytes = u.freeBytes
        // A failed file (disk full…) has stopped itself with every frame that fit; say so once.
        if let e = output.error, !u.reportedOutputError {
            ui.withLock { $0.reportedOutputError = true }
            reportRecordingError(e)
        }
        m.events = log.withLock { $0 }
        m.showHelp = u.showHelp
        m.prompt = u.prompt
        m.picker = u.picker
        return m
    }
}
