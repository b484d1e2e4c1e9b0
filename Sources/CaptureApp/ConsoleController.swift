// The console: owns the terminal on the UI (main) thread, turns keys into effects
// (ConsoleInteraction) and carries them out, sends session work, the device catalog and file
// checks to its command queue, and renders ~30 frames a second.
import CaptureALSA
import CaptureConfig
import CaptureConsole
import CaptureCore
import CaptureDeck
import CaptureFiles
import CapturePulse
import ConsoleUI
import Dispatch
import Glibc
import Synchronization

/// Runs the console: owns the terminal (main thread), sends commands to the session on a
/// background queue so the screen never waits for a device, and renders ~30 frames a second.
///
/// Threading: `run` on the main thread (the UI thread: ncurses, keys, snapshots; never ALSA or
/// files). Session calls, the device catalog, `stat`/`statvfs` and the repair scan run on
/// `capdeck.console-commands`; what they find is published under `ui`'s lock.
/// `@unchecked Sendable`: the `let`s are immutable; `ui` and `log` are mutexes; `state` is touched
/// by the command queue only after init, the snapshot's label caches by the UI thread only.
public final class ConsoleController: @unchecked Sendable {
    let capture: CaptureSettings
    /// `--mute-other-streams` or `[other-audio] mute-streams`.
    private let mutesOtherStreams: Bool
    /// Where the console's remembered state goes (never the config file).
    let statePath: String
    let signals: SignalFlag
    let session: CaptureSession
    let output: CaptureAudioFileOutput
    /// EBU R128 loudness of what is captured, for the loudness strip (`l`; `i` resets it).
    let loudness = CaptureLoudnessOutput()
    /// Mix off interrupts other programs' audio (MPRIS players) while capturing; set in `run`.
    private let otherAudio = Mutex<OtherAudioCoordinator?>(nil)
    let format: StreamFormat
    let fileType: FileType
    private let commands = DispatchQueue(label: "capdeck.console-commands")
    private let log = Mutex<[ConsoleModel.Event]>([])
    private let ui: Mutex<UIState>
    private let directory: String
    /// The config file's settings for each take's bext chunk (`CaptureSettings.broadcast`).
    private let config: CapdeckConfig?
    /// The device channels recorded (`--select` or the config file's; nil: all).
    private let selection: ChannelSelection?
    /// What the console remembers for next time: only what was changed with keys (toggles, the
    /// category, a device picked with d that opened); never a flag. Command queue only, after init.
    private var state: ConsoleState

    struct UIState {
        /// What keys do now, and the overlay or prompt on screen.
        var interaction = ConsoleInteraction()
        var quitConfirmed = false
        /// Published by the command queue (`measureFiles`), about once a second.
        var fileBytes: Int64 = 0
        var freeBytes: Int64?
        var lastStat = 0.0
        var reportedOutputError = false
        /// The input shown in the header; changed by the command queue when a picked device opens.
        var inputName: String
        var builtIn = false
        /// The loudness strip's scale; nil: hidden.
        var loudnessScale: LoudnessStrip.Scale?
    }

    /// Sets up the session on the input asked for (flags, then what the console remembers, then
    /// the config file); opens nothing yet. Throws `Failure` for a file type that can't hold the
    /// format (64) or no recordings directory (73).
    public init(_ capture: CaptureSettings, config: CapdeckConfig?, state: ConsoleState, statePath: String, signals: SignalFlag) throws {
        let capture = capture.adopting(config)
        self.capture = capture
        mutesOtherStreams = capture.mutesOtherStreams(config: config)
        self.statePath = statePath
        self.config = config
        selection = capture.selection(config: config)
        self.state = state
        self.signals = signals
        format = capture.streamFormat(config: config)
        fileType = OutputTarget.fileType(given: capture.fileType, file: nil, pattern: capture.namePattern)
        try capture.validate(fileType, format, config: config)
        let target = try OutputTarget(file: nil, outputDir: capture.outputDirectory(config: config), pattern: capture.namePattern, fileType: fileType)
        guard case .pattern(let dir, _) = target.kind else { throw Failure("no recordings directory", code: .cannotCreate) }
        directory = dir
        // Precedence: flags, then what the console remembers, then the config file, then defaults.
        var remembered = config ?? CapdeckConfig(path: statePath)
        for (k, v) in state.properties { remembered.properties[k] = v }
        if let c = state.category { remembered.appSession.category = c }
        session = CaptureSession(applicationAudioSession: ApplicationAudioSession(remembered.appSession))
        session.realtimePriority = capture.noRealtime ? nil : Int32(capture.rtPriority)
        session.meterBoard.ballistics = capture.meterBallistics(config: config)
        output = CaptureAudioFileOutput(format: format)
        output.splitsChannels = capture.splitsChannels(config: config)
        output.preRollSeconds = capture.preRollSeconds(config: config)
        try capture.applySplitLimits(to: output, format: format, config: config)
        // (An [input] device in config.toml is what an earlier capdeck saved there: still honoured.)
        let savedDevice = state.device ?? config?.inputDevice
        rememberedDevice = capture.namedADevice(config: nil) ? nil : savedDevice
        let inputName = capture.device ?? savedDevice ?? ConsoleController.defaultInputName
        ui = Mutex(UIState(inputName: inputName))
        var routes = capture.routes(config: config)
        if capture.device == nil, let savedDevice { routes = InputRoutes.forNamedPCM(savedDevice) }
        session.addInput(CaptureDeviceInput(name: inputName, routes: routes, format: format,
                                            periodMicros: capture.devicePeriod(for: .console).period, bufferMicros: capture.devicePeriod(for: .console).buffer,
                                            channelSelection: selection))
        session.addOutput(output)
        if !capture.noLoudness {
            loudness.prepare(format: format)  // libebur128 allocates here, not on the writer
            session.addOutput(loudness)
        }
        session.setProperties(capture.properties(config: remembered))
        session.onEvent { [weak self] in self?.record($0) }
        let rate = format.sampleRate
        // Files finished behind the console's back: a split take's parts, the trigger's takes.
        output.setRecordingFinishedHandler { [weak self] r in
            let length = "\(Readout.duration(Double(r.frames) / Double(rate))), \(r.frames) frames"
            if r.reason == .split { self?.addEvent("saved part \(r.part?.index ?? 0) \(r.path) (\(length))"); return }
            guard r.triggered else { return }
            if let e = r.error { self?.reportRecordingError(e) }
            if r.reason != .failed { self?.addEvent("take saved \(r.path) (\(length))") }
        }
    }

    // MARK: Running

    /// Opens the input and the terminal, runs until q (confirmed) or a signal, then saves a
    /// recording in progress and restores the terminal. Main thread only.
    public func run() throws {
        // A sound server that is configured but doesn't answer: say so and stop, as `record`
        // does. The built-in signal stands in only where there is no capture device at all and
        // none was chosen: not for a device named, or remembered from an earlier console (over
        // ssh, the desktop's sound server can't be reached: its source must not turn into the
        // test signal, which `r` would record).
        let named = capture.namedADevice(config: nil)
        let chosen = named || rememberedDevice != nil
        if !chosen, let server = SoundServerProbe.diagnosis() { throw Failure(server, code: .unavailable) }
        otherAudio.withLock {
            $0 = OtherAudioCoordinator.ifSessionBus(session: session, muteStreams: mutesOtherStreams) { [weak self] state in
                guard let e = state.lastEvent else { return }
                if case .failed = e { self?.addEvent(e.message, .warning) } else { self?.addEvent(e.message) }
            }
        }
        // SIGUSR1 splits the take, as the s key does.
        let output = self.output
        let splitSignal = SplitSignal { [weak self] in if let e = ControlInput.split(output) { self?.addEvent("SIGUSR1: \(e)", .warning) } }
        defer { splitSignal.cancel() }
        session.startRunning()
        if !session.isRunning && !session.isInterrupted, case .cannotStart(.categoryCannotRecord(let c)) = lastRuntimeError() {
            // The session's rules said no (the remembered category can't record with automatic
            // configuration off), not the device: the console opens so c or 2 can change that
            // (it exited 69, "the input can't be opened", and could not be started to fix it).
            addEvent("not capturing: category '\(c.rawValue)' can't record with auto-configure off (c: a category that can, or 2: auto-configure on)", .warning)
        } else if !session.isRunning && !session.isInterrupted {
            let failure = lastRuntimeError()
            if !chosen && !DefaultInput.hasAnyCaptureDevice() {
                useBuiltIn(reason: failure?.description ?? "no capture device")
            } else if let failure {
                let why = DefaultInput.explain(failure, routes: session.inputs.first?.routes)
                guard let remembered = rememberedDevice else { throw Failure(why, code: .unavailable) }
                throw Failure("\(remembered), the input the console remembers, can't be opened: \(why); "
                              + "to use another, name it with -D (-D builtin for the test signal)", code: .unavailable)
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
        commands.async { self.offerRepairs() }
        // Lays out only what changed since the last frame; an unchanged frame draws nothing.
        var renderer = ConsoleRenderer()
        while true {
            if signals.isRaised { break }
            if let key = term.readKey() {
                if key == NcursesTerminal.resizeKey {
                    term.invalidate()
                    renderer.invalidate()
                } else {
                    for effect in ui.withLock({ $0.interaction.handle(key: key) }) {
                        if effect == .repaint { term.repaintAll(); renderer.invalidate() } else { perform(effect) }
                    }
                }
            }
            if ui.withLock({ $0.quitConfirmed }) { break }
            let (w, h) = term.size
            var model = snapshot()
            model.unicode = term.unicode
            let frame = renderer.render(model, width: w, height: h)
            if frame.changed { term.draw(frame.grid) }
            if StartupTrace.enabled, model.levels.contains(where: { $0.peakDB > -90 }) { StartupTrace.mark("first-meters") }
        }
        // Finish: queued commands, the file (nothing lost), then the device, then the terminal.
        commands.sync {}
        var saved: (path: String, frames: Int)?
        var finishError: RecordingError?
        do throws(RecordingError) { saved = try output.stopRecording() } catch { finishError = error }
        session.stopRunning()
        otherAudio.withLock { $0 }?.stop()  // what mix off paused plays again
        term.restore()
        if let saved, saved.frames == 0 {
            HeadlessRecording.discardEmptyTake(takeFiles(saved.path))
            Terminal.write("capdeck: \(HeadlessRecording.emptyTake)\n")
        } else if let saved {
            Terminal.write("capdeck: saved \(saved.path): \(saved.frames) frames\n")
        }
        // After the screen is gone, so it stays readable (a deleted file's rescue says where).
        // The exit code stays 0, as for every take's problem during the session (the event log
        // showed those): quitting the console succeeded.
        if let finishError { Terminal.error("\(finishError)") }
    }

    /// The input remembered from an earlier console (or the config file's), when no flag names one.
    private let rememberedDevice: String?

    /// The input's name when none was named or remembered (the system's default input).
    static let defaultInputName = "default input"

    private func useBuiltIn(reason: String) {
        ui.withLock { $0.builtIn = true; $0.inputName = "builtin" }
        // What it means first: the screen's edge clips the end of a long line.
        addEvent("using the BUILT-IN TEST SIGNAL: no capture device could be opened (\(reason))", .warning)
        session.removeInput(session.inputs[0])
        session.addInput(CaptureDeviceInput(name: "builtin", routes: InputRoutes.forNamedPCM("builtin"), format: format,
                                            periodMicros: capture.devicePeriod(for: .console).period, bufferMicros: capture.devicePeriod(for: .console).buffer,
                                            channelSelection: selection))
        session.startRunning()
    }

    private let lastError = Mutex<CaptureSessionError?>(nil)
    private func lastRuntimeError() -> CaptureSessionError? { lastError.withLock { $0 } }

    // MARK: Effects

    /// Carries out what a key does (`ConsoleInteraction`). UI thread. Session work goes to the
    /// command queue; the screen never waits for it.
    func perform(_ effect: ConsoleEffect) {
        switch effect {
        case .toggle(let key):
            commands.async {
                var p = self.session.properties
                p[key].toggle()
                self.session.setProperties(p)
                // Not capturing because the rules said no (a category that can't record): a
                // toggle that allows it starts capture, as c does.
                if !self.session.isRunning && !self.session.isInterrupted, self.session.inputs.isEmpty == false,
                   case .success = self.session.resolution?.route { self.session.startRunning() }
                self.addEvent(PropertyWords.toggled(key, p[key]))
                for note in self.session.resolution?.notes ?? [] { self.addEvent("note: \(note)", .warning) }
                self.state.properties[key] = p[key]
                self.saveState()
            }
        case .toggleRecording:
            commands.async { self.toggleRecording() }
        case .pauseResume:
            guard output.isRecording else { return addEvent("not recording: r starts a recording", .warning) }
            if output.isPaused { output.resume(); addEvent("recording resumed") } else { output.pause(); addEvent("recording paused") }
        case .toggleTrigger:
            commands.async { self.toggleTrigger() }
        case .split:
            // Creates the next file: off the UI thread.
            commands.async {
                if let e = ControlInput.split(self.output) { self.addEvent(e, .warning) }
            }
        case .mark:
            // On the UI thread, as the key arrives: the frame is the one being captured now.
            guard output.isRecording else { return addEvent("not recording: r starts a recording", .warning) }
            if !session.addMarker(label: "mark") { addEvent("not capturing: no marker added", .warning) }
        case .listDevices:
            // The catalog is ALSA's hint API: never on the UI thread. The picker opens when it answers.
            commands.async {
                let server = InputCatalog.serverSources()
                let pcms = DevicePickerList.devices(server: server, pcms: DeviceCatalog.capturePCMs().map(\.name), isUsable: DevicePickerList.isUsable(server: server))
                // The device being captured: the one picked or named, else the route the default opened.
                let named = self.ui.withLock { $0.inputName }
                let current = named == ConsoleController.defaultInputName ? self.session.currentRoute?.pcm : named
                self.ui.withLock { $0.interaction.devicesListed(pcms, current: current) }
            }
        case .choose(let pcm):
            commands.async { self.chooseDevice(pcm) }
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
        case .cycleLoudnessStrip:
            if capture.noLoudness { return addEvent("no loudness metering (--no-loudness, or the config file's [meters] loudness = false)", .warning) }
            ui.withLock { $0.loudnessScale = LoudnessStrip.next(after: $0.loudnessScale) }
        case .resetLoudness:
            commands.async { self.loudness.reset() }
            addEvent("loudness integration reset")
        case .cycleBallistics:
            let next = session.meterBoard.ballistics.next
            session.meterBoard.ballistics = next
            addEvent("meters: \(next.label)\(next.standard.map { " (\($0))" } ?? "")")
        case .requestQuit:
            commands.sync {}  // keys typed before q (r, 1-4…) take effect first
            if output.isRecording {
                ui.withLock { $0.interaction.recordingBlocksQuit() }
            } else {
                ui.withLock { $0.quitConfirmed = true }
            }
        case .quit:
            ui.withLock { $0.quitConfirmed = true }
        case .repair(let files):
            commands.async { self.repair(files) }
        case .leaveUnrepaired(let n):
            addEvent("left \(n) unfinished recording\(n == 1 ? "" : "s") as they are ('capdeck recover' repairs them later)")
        case .repaint:
            break  // the terminal's: done by the loop
        }
    }

    /// Unfinished recordings (cut short by a crash) in the recordings directory: offer to repair.
    /// Command queue (it opens every candidate).
    private func offerRepairs() {
        guard let dir = opendir(directory) else { return }
        var found: [String] = []
        while let entry = readdir(dir) {
            let name = withUnsafeBytes(of: entry.pointee.d_name) { raw in
                String(decoding: raw.prefix { $0 != 0 }, as: UTF8.self)
            }
            // Every extension capdeck writes (and .rf64, .wave, .aif).
            guard name.contains("."), FileType(name: String(name.split(separator: ".").last ?? "")) != nil else { continue }
            let path = directory + "/" + name
            if Recovery.needsRepair(path: path) { found.append(path) }
        }
        closedir(dir)
        found.sort()
        ui.withLock { $0.interaction.offerRepair(found, in: directory) }
    }

    private func repair(_ files: [String]) {
        for path in files {
            let (outcome, markers) = Recovery.recoverWithMarkers(path: path)
            let cues = markers.note(path: path).map { ", \($0)" } ?? ""
            switch outcome {
            case .repaired(let container, _, let frames, _):
                addEvent("repaired \(path) (\(container), \(frames) frames\(cues))")
            case .alreadyComplete:
                addEvent(markers.note(path: path).map { "\(path): audio complete; \($0)" } ?? "\(path) was already complete")
            case .untouched(let reason), .missing(let reason):
                addEvent("could not repair \(path): \(reason)", .warning)
            }
        }
    }

    private func toggleRecording() {
        if output.isRecording {
            do throws(RecordingError) {
                if let saved = try output.stopRecording() {
                    if saved.frames == 0 { return discardEmptyTake(saved.path) }
                    addEvent("saved \(saved.path) (\(Readout.duration(Double(saved.frames) / Double(format.sampleRate))), \(saved.frames) frames)")
                }
            } catch {
                reportRecordingError(error)
            }
            return
        }
        do {
            let target = try OutputTarget(file: nil, outputDir: directory, pattern: capture.namePattern, fileType: fileType)
            let path = try target.start(output, fileType: fileType, broadcast: capture.broadcast(config: config))
            addEvent("recording to \(path)")
            if !session.isRunning && !session.isInterrupted { session.startRunning() }
        } catch let f as Failure {
            addEvent(f.message, .error)
        } catch {
            addEvent("\(error)", .error)
        }
    }

    /// r again before any audio arrived: no file is kept, as `record` does.
    private func discardEmptyTake(_ path: String) {
        HeadlessRecording.discardEmptyTake(takeFiles(path))
        addEvent(HeadlessRecording.emptyTake, .warning)
    }

    /// The files a take at `path` is: itself, or one per channel.
    private func takeFiles(_ path: String) -> [String] {
        output.splitsChannels ? FileNaming.channelFiles(of: path, channels: format.channels) : [path]
    }

    /// v: arms the level trigger (each take a file from the name pattern, logged as it ends), or
    /// disarms it (a take it started ends and is saved). Command queue.
    private func toggleTrigger() {
        guard output.triggerState == .off else {
            do throws(RecordingError) { try output.disarmTrigger() } catch { reportRecordingError(error) }
            return addEvent("trigger off")
        }
        guard let trigger = capture.levelTrigger(orDefault: true) else { return }
        let target: OutputTarget
        do {
            target = try OutputTarget(file: nil, outputDir: directory, pattern: capture.namePattern, fileType: fileType)
        } catch let f as Failure {
            return addEvent(f.message, .error)
        } catch {
            return addEvent("\(error)", .error)
        }
        let type = fileType
        output.armTrigger(trigger, files: TriggeredTakeFiles(fileType: type, broadcast: capture.broadcast(config: config)) { take, attempt in
            target.takePath(take: take, attempt: attempt, fileType: type)
        })
        let db = { (v: Double) in Readout.db(v).drop { $0 == " " } }
        addEvent("trigger armed: takes start at \(db(trigger.startLevel)) dBFS, end \(Readout.seconds(trigger.holdSeconds)) s below \(db(trigger.stopLevel)) dBFS")
        if !session.isRunning && !session.isInterrupted { session.startRunning() }
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
                                     periodMicros: capture.devicePeriod(for: .console).period, bufferMicros: capture.devicePeriod(for: .console).buffer,
                                     channelSelection: selection)
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
            let now = session.currentRoute?.pcm ?? oldRoute?.pcm ?? ui.withLock { $0.inputName }
            let still = session.isRunning ? "still capturing \(now)" : session.isInterrupted ? "still waiting for \(now)" : "capture stays stopped"
            // The session's rules, not the device, said no: the device was never tried, and
            // "could not be opened" would send the user to the wrong place.
            if case .failure(.categoryCannotRecord(let c)) = wanted {
                addEvent("\(pcm) not tried: category '\(c.rawValue)' can't record (c: a category that can, or 2: auto-configure on); \(still)"
                         + (wasRecording ? ", the recording goes on" : ""), .error)
                return
            }
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
        ui.withLock { $0.builtIn = false; $0.inputName = pcm }
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
        case .didStartRunning(let r, let g):
            addEvent("capturing \(r.pcm) (\(r.kind.rawValue)): \(g.format)")
            announceServerSource()
        case .didStopRunning: addEvent("capture stopped")
        case .runtimeError(.cannotStart(let why)) where session.isRunning:
            // A rule that forbids a new start, set while capturing (a category that can't record,
            // with auto-configure off): it applies at the next start. "cannot start" alone read as
            // if the take had stopped, while it went on.
            lastError.withLock { $0 = .cannotStart(why) }
            addEvent("\(why): capture goes on with its route" + (output.isRecording ? ", the recording goes on" : "") + "; a new start would fail", .warning)
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
            announceServerSource()
        case .appAudioSessionConfigured(let s): addEvent("app session configured: \(s.category.rawValue), options \(s.options)")
        case .gap(_, let ms, let reason): addEvent("gap \(Readout.ms(ms)): \(reason)", .warning)
        }
    }

    /// Through the sound server, which of its sources capture takes from (ALSA's `pulse` PCM
    /// doesn't say): asked of the server off the command queue (a slow server must not hold up
    /// a key), one event line.
    private func announceServerSource() {
        guard let engine = session.engine, engine.device.accessKind == .soundServer else { return }
        DispatchQueue.global().async { [self] in
            guard session.engine === engine, let source = DefaultInput.serverSourceName() else { return }
            addEvent("sound server source: \(source)")
        }
    }

    /// Adds a line to the event log, stamped with the local time. Any thread.
    public func addEvent(_ text: String, _ severity: ConsoleModel.Event.Severity = .info) {
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
        let u = ui.withLock { $0 }
        m.inputName = u.inputName
        m.builtIn = u.builtIn || (session.currentRoute?.pcm.hasPrefix("builtin") ?? false)
        m.route = session.currentRoute
        m.accessLabel = engine.map { accessLabel($0, route: m.route) } ?? ""
        m.granted = engine?.granted
        m.realtime = engine.map { realtimeLabel($0.realtimeStatus) } ?? "not capturing"
        m.xruns = session.xrunCount
        m.running = session.isRunning
        let interruption = session.interruptionReason  // one read: the flag and its reason agree
        m.interrupted = interruption != nil
        if interruption == .audioDeviceDisconnected { m.interruption = "device lost, waiting for it to return" }
        if interruption == .audioDeviceStalled { m.interruption = "device stopped delivering audio, waiting for it" }
        m.levels = session.meterBoard.snapshot()
        // The mode of the readings shown (a switch takes effect at the meter's next block).
        m.ballistics = m.levels.first?.ballistics ?? session.meterBoard.ballistics
        // Not capturing: nothing to show (the board keeps the last levels it saw).
        if m.levels.isEmpty || engine == nil {
            m.ballistics = session.meterBoard.ballistics
            m.levels = Array(repeating: ChannelLevel(peakDB: ChannelLevel.floorDB, rmsDB: ChannelLevel.floorDB, holdDB: ChannelLevel.floorDB,
                                                     clips: 0, ballistics: m.ballistics), count: format.channels)
        }
        m.clipLatched = m.levels.map { $0.clips > 0 }
        if let scale = u.loudnessScale {
            let r = loudness.reading
            m.loudness = LoudnessStrip(scale: scale, momentary: r?.momentary, shortTerm: r?.shortTerm, integrated: r?.integrated,
                                       range: r?.range, maxTruePeak: r?.maxTruePeak)
        }
        // Meters numbered by the device channel they show, named where the device names it.
        m.channelNumbers = selection?.numbers ?? []
        if let names = m.granted?.channelNames {
            m.channelNames = (selection?.indices ?? Array(0..<m.levels.count)).map { $0 < names.count ? names[$0] : "" }
        }
        m.properties = session.properties
        if let r = session.resolution {
            m.effective = r.effective
            m.notes = r.notes
        } else {
            m.effective = RouteResolver.resolve(m.properties, appSession: session.applicationAudioSession.current,
                                                routes: session.inputs.first?.routes ?? InputRoutes()).effective
        }
        m.appSession = session.applicationAudioSession.current
        m.cardsReserved = CardReservations.reservedByUs
        if let other = otherAudio.withLock({ $0 })?.state {
            m.otherAudioPaused = other.paused.map(\.identity)
            m.otherAudioInterrupting = other.isInterrupting
        }
        m.recording = output.isRecording ? (output.isPaused ? .paused : .recording) : .stopped
        m.filePath = output.recordingPath
        m.filePart = output.currentPart?.index
        m.recordedSeconds = Double(output.recordedFrames) / Double(format.sampleRate)
        m.markerCount = output.markerCount
        m.markers = output.recentMarkers.suffix(ConsoleModel.markersShown).map {
            ConsoleModel.Marker(seconds: Double($0.frame) / Double(format.sampleRate), label: $0.label)
        }
        m.bytesPerSecond = format.bytesPerFrame * format.sampleRate
        m.directory = directory
        m.preRollSeconds = output.preRollSeconds
        m.preRollHeldSeconds = Double(output.preRollHeldFrames) / Double(format.sampleRate)
        m.trigger = output.triggerState.rawValue
        // The file's size and the free space: measured on the command queue about once a second
        // (a slow or hung disk must not freeze the screen); shown as last published.
        let now = Double(time(nil))
        if now - u.lastStat >= 1 {
            ui.withLock { $0.lastStat = now }
            commands.async { self.measureFiles() }
        }
        m.fileBytes = u.fileBytes
        m.freeBytes = u.freeBytes
        // A failed file (disk full…) has stopped itself with every frame that fit; say so once.
        if let e = output.error, !u.reportedOutputError {
            ui.withLock { $0.reportedOutputError = true }
            reportRecordingError(e)
        }
        m.events = log.withLock { $0 }
        u.interaction.apply(to: &m)
        return m
    }

    /// Labels the snapshot reads every frame, built again only when what they say changes: the
    /// engine's `device` describes the device afresh (its display name) on each read. UI thread only.
    private var accessLabels: (engine: ObjectIdentifier, route: Route?, label: String)?
    private var realtimeLabels: (status: RealtimeStatus, label: String)?

    private func accessLabel(_ engine: CaptureEngine, route: Route?) -> String {
        if let c = accessLabels, c.engine == ObjectIdentifier(engine), c.route == route { return c.label }
        let label = engine.device.accessKind.rawValue
        accessLabels = (ObjectIdentifier(engine), route, label)
        return label
    }

    private func realtimeLabel(_ status: RealtimeStatus) -> String {
        if let c = realtimeLabels, c.status == status { return c.label }
        realtimeLabels = (status, status.description)
        return status.description
    }

    /// The recording's size and the free space in the recordings directory (command queue).
    private func measureFiles() {
        var st = stat()
        // One file per channel: the take's size is theirs together.
        let files = output.recordingPath.map { output.splitsChannels ? FileNaming.channelFiles(of: $0, channels: format.channels) : [$0] } ?? []
        let fileBytes = files.reduce(Int64(0)) { $0 + (stat($1, &st) == 0 ? Int64(st.st_size) : 0) }
        var vfs = statvfs()
        let freeBytes = statvfs(directory, &vfs) == 0 ? Int64(vfs.f_bavail) * Int64(vfs.f_frsize) : nil
        ui.withLock { $0.fileBytes = fileBytes; $0.freeBytes = freeBytes }
    }
}

/// What the device picker (`d`) lists: the sound server's sources first (inputs, then monitors:
/// what a desktop records from), then ALSA's capture PCMs that can capture here.
public enum DevicePickerList {
    public static func devices(server: SoundServerSnapshot?, pcms: [String], isUsable: (String) -> Bool) -> [String] {
        let all = server?.sources ?? []
        let sources = (all.filter { !$0.isMonitor } + all.filter(\.isMonitor)).map(InputCatalog.pcmName(forSource:))
        var seen = Set(sources)
        return sources + pcms.filter { isUsable($0) && seen.insert($0).inserted }
    }

    /// Whether a catalog PCM can capture on this machine, judged without opening it (opening
    /// `jack` or `pulse` with no server to answer can block, print or start a daemon).
    public static func isUsable(server: SoundServerSnapshot?) -> (String) -> Bool {
        let why = unusable(server: server)
        return { why($0) == nil }
    }

    /// Why a catalog PCM can't capture here, or nil: a sound server's PCM only while that server
    /// answers (`pulse`, `pipewire`; `jack` with a JACK or PipeWire server), OSS only with
    /// /dev/dsp, `default` only when the default input can be had.
    public static func unusable(server: SoundServerSnapshot?) -> (String) -> String? {
        let answers = server != nil
        let jack = server?.info.isPipeWire == true || jackServerRuns()
        let oss = access("/dev/dsp", F_OK) == 0
        let defaultProblem = DefaultInput.problem()
        return { name in
            switch name.split(separator: ":", maxSplits: 1).first.map(String.init) ?? name {
            case "pulse", "pipewire": answers ? nil : "no sound server answers"
            case "jack": jack ? nil : "no JACK server runs"
            case "oss": oss ? nil : "no /dev/dsp"
            case "default": defaultProblem == nil ? nil : "no default input"
            default: nil
            }
        }
    }

    /// A JACK server's request socket: /dev/shm/jack_SERVER_UID_0 (SERVER from
    /// JACK_DEFAULT_SERVER, else `default`). Clients leave other entries (`jack_db-0`), so only
    /// that name counts.
    static func jackServerRuns() -> Bool {
        let server = getenv("JACK_DEFAULT_SERVER").map { String(cString: $0) }.flatMap { $0.isEmpty ? nil : $0 } ?? "default"
        return access("/dev/shm/jack_\(server)_\(getuid())_0", F_OK) == 0
    }
}
