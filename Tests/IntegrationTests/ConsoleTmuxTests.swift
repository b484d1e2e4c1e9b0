// The console end to end (issue 4), driven like a person in a private tmux server: keys in with
// send-keys, the screen read back with capture-pane. Real input: the built-in test signal, or
// paced PCMs over the tests' own PulseAudio daemon carrying known tones. Recordings made from the
// console are read back through libsndfile.
import CSndfile
import Foundation
import Glibc
import Testing

extension Integration {
    /// Meters and a live route switch, against paced test PCMs over a private PulseAudio daemon.
    @Suite("Console in tmux: meters and a route switch through PulseAudio")
    final class ConsoleTmuxPaced {
        let routes: ToneRoutes
        /// The level PCM's sine: peak -6 dBFS on both channels, so RMS -9.03 dBFS.
        static let levelDB = -6.0

        init() async throws {
            routes = try await ToneRoutes()
            // A third paced PCM beside toneA/toneB: 1000 Hz with its peak at -6 dBFS.
            try routes.home.write("level6.raw", bytes: Tone.s16Stereo(frequency: 1000, dBFS: Self.levelDB, seconds: 30))
            let rc = try String(contentsOfFile: routes.home.path(".asoundrc"), encoding: .utf8)
            try routes.home.write(".asoundrc", rc + ALSAConfig.filePCM("level6", infile: routes.home.path("level6.raw"), slave: "\"pulse\""))
        }

        deinit { routes.shutdown() }

        @Test("the meters read a -6 dBFS sine as -6.0 pk and -9.0 rms (within 0.5 dB), bars drawn to match")
        func metersReadKnownLevel() async throws {
            let rec = routes.home.makeDirectory("rec")
            let console = try await TmuxConsole(["-D", "level6", "-o", rec], home: routes.home, environment: routes.environment)
            defer { console.shutdown() }
            let expectedRMS = Self.levelDB - 10 * log10(2)

            let first = try await console.waitFor("the meters to show the tone", timeout: 10) { s in
                s.isConsole && s.meters.count == 2 && s.meters.allSatisfy { ($0.peak ?? -200) > -30 }
            }
            #expect(first.route?.pcm == "level6", "header: \(first.lines.prefix(3))")
            #expect(!first.titleBar.contains("BUILT-IN"), "a real PCM, not the built-in signal: \(first.titleBar)")
            #expect(first.lines.count > 2 && first.lines[2].hasPrefix("S16_LE 48000 Hz 2 ch"), "granted format: \(first.lines.prefix(3))")

            // Let the ~300 ms meter window fill with the tone, then read it on several frames over 1 s.
            try await Task.sleep(for: .milliseconds(600))
            for _ in 0..<5 {
                let s = ConsoleScreen(try await console.screen())
                let meters = s.meters
                #expect(meters.map(\.label) == ["L", "R"], "meter rows: \(meters)\n\(s)")
                for m in meters {
                    let peak = try #require(m.peak, "\(m.label) peak reads -inf:\n\(s)")
                    let rms = try #require(m.rms, "\(m.label) rms reads -inf:\n\(s)")
                    #expect(abs(peak - Self.levelDB) <= 0.5, "\(m.label) peak \(peak) dBFS; the tone's peak is \(Self.levelDB)")
                    #expect(abs(rms - expectedRMS) <= 0.5, "\(m.label) rms \(rms) dBFS; the tone's RMS is \(expectedRMS)")
                    // The bar agrees with the numbers: full blocks up to the RMS, the peak tip at the peak.
                    let bar = Array(m.bar)
                    let width = bar.count
                    let full = bar.filter { $0 == "█" }.count
                    let rmsColumn = Int(((rms + 60) / 60 * Double(width)).rounded(.down))
                    #expect(abs(full - rmsColumn) <= 1, "\(m.label): \(full) full blocks of \(width); rms \(rms) is column \(rmsColumn): \(m.row)")
                    let tip = bar.lastIndex(of: "▌")
                    let peakColumn = Int(((peak + 60) / 60 * Double(width)).rounded(.down))
                    #expect(tip.map { abs($0 - peakColumn) <= 1 } == true, "\(m.label): peak tip at \(String(describing: tip)), expected column \(peakColumn): \(m.row)")
                }
                try await Task.sleep(for: .milliseconds(200))
            }

            try await console.press("q")
            #expect(try await console.waitForExit() == 0)
        }

        @Test("r records, 3 switches the route while recording (header and event log say so), r saves; the file holds toneA then toneB, continuous apart from the gap")
        func routeSwitchWhileRecording() async throws {
            let rate = ToneRoutes.rate
            let rec = routes.home.makeDirectory("rec")
            // 110 columns: the event log's "saved PATH (…)" line fits unclipped.
            let console = try await TmuxConsole(["-D", "toneA", "--exclusive-device", "toneA", "--shared-device", "toneB", "-o", rec],
                                                home: routes.home, environment: routes.environment, width: 110, height: 32)
            defer { console.shutdown() }

            let ready = try await console.waitFor("the console capturing toneA", timeout: 10) { s in
                s.isConsole && s.route?.pcm == "toneA" && (s.meters.first?.peak ?? -200) > -30
            }
            #expect(ready.route?.kind == "exclusive", "header: \(ready.lines.prefix(3))")
            #expect(ready.titleBar.contains("NOT RECORDING"), "\(ready.titleBar)")
            #expect(ready.properties[3]?.state == "off", "\(ready.properties)")

            // r: recording starts.
            try await console.press("r")
            let rPressed = Monotonic.now
            let recording = try await console.waitFor("REC and a file on the Recording panel", timeout: 5) { s in
                s.titleBar.contains("REC") && !s.titleBar.contains("NOT RECORDING") && s.recordingFile != nil
            }
            let path = try #require(recording.recordingFile)
            #expect(path.hasPrefix(rec + "/") && path.hasSuffix(".wav"), "file \(path) (directory \(rec))")
            #expect(recording.events.contains("recording to \(path)"), "events: \(recording.events)")
            #expect(recording.lines.contains { $0.hasPrefix("Recording ● recording") }, "\(recording)")

            // 3 (mix on): the route switches to the shared PCM, with the gap in the event log.
            try await sleepUntil(rPressed + 1.5)
            try await console.press("3")
            let switchPressed = Monotonic.now
            let switched = try await console.waitFor("the route to change to toneB", timeout: 5) { s in
                s.route?.pcm == "toneB" && s.events.contains { $0.hasPrefix("route toneA -> toneB") }
            }
            #expect(switched.route?.kind == "shared", "header: \(switched.lines.prefix(3))")
            let routeLine = switched.events.first { $0.hasPrefix("route toneA -> toneB") } ?? ""
            #expect(routeLine.hasPrefix("route toneA -> toneB (shared), gap "), "\(routeLine)")
            let gapMs = RouteRenegotiation.gapMs(in: routeLine)
            #expect(gapMs.map { $0 >= 0 && $0 < 1000 } == true, "gap in \(routeLine.debugDescription)")
            #expect(switched.properties[3]?.state == "ON" && switched.properties[3]?.effect == "shared device, other programs record too", "\(switched.properties)")
            #expect(switched.titleBar.contains("REC") && switched.recordingFile == path, "still recording to the same file:\n\(switched)")
            #expect(!switched.events.contains { $0.contains("error") || $0.contains("interrupted") }, "events: \(switched.events)")

            // r again: the file is saved and the log says where.
            try await sleepUntil(switchPressed + 1.5)
            try await console.press("r")
            let stopPressed = Monotonic.now
            let stopped = try await console.waitFor("the saved line in the event log", timeout: 5) { s in
                s.events.contains { $0.hasPrefix("saved \(path) ") }
            }
            #expect(stopped.titleBar.contains("NOT RECORDING"), "\(stopped.titleBar)")
            #expect(stopped.recordingFile == nil, "the File line after stopping: \(stopped.lines.filter { $0.hasPrefix("File") })")
            let savedLine = stopped.events.first { $0.hasPrefix("saved \(path) ") } ?? ""
            let savedFrames = savedLine.range(of: #"[0-9]+ frames\)$"#, options: .regularExpression)
                .flatMap { Int(savedLine[$0].split(separator: " ")[0]) }

            try await console.press("q")
            #expect(try await console.waitForExit() == 0)

            // The file: as long as the time between the two r presses, both tones in order.
            let file = try SoundFile.read(path, samples: .int)
            #expect(file.channels == 2 && file.sampleRate == rate, "\(file.channels) ch \(file.sampleRate) Hz")
            #expect(savedFrames == file.frames, "event log \(savedLine.debugDescription); file \(file.frames) frames")
            let seconds = Double(file.frames) / Double(rate)
            let wall = stopPressed - rPressed
            #expect(abs(seconds - wall) <= 0.5, "file holds \(seconds) s; r was pressed twice \(wall) s apart")
            let left = file.channel(0)
            #expect(left == file.channel(1), "both channels carry the same tone")

            let windowFrames = RouteRenegotiation.windowFrames
            let tones = [(name: "toneA", frequency: 440.0), (name: "toneB", frequency: 1000.0)]
            let windows = ToneAnalysis.windows(left, rate: rate, windowFrames: windowFrames, tones: tones, amplitude: ToneRoutes.amplitude)
            let runs = ToneAnalysis.runs(windows, windowFrames: windowFrames)
            #expect(runs.map(\.label) == ["toneA", "toneB"], "tone spans: \(runs.map { "\($0.label) \($0.start)..<\($0.end)" })")
            try #require(runs.count == 2)
            // Where the switch is: between the runs, near the moment 3 was pressed.
            let switchFrame = runs[0].end
            let pressedAt = (switchPressed - rPressed) * Double(rate)
            #expect(abs(Double(switchFrame) - pressedAt) <= 0.5 * Double(rate),
                    "toneA ends at frame \(switchFrame); 3 was pressed \(switchPressed - rPressed) s into the recording")
            let odd = windows.filter { $0.label == "silence" || $0.label == "mixed" }
            #expect(odd.allSatisfy { $0.frame >= runs[0].end - windowFrames && $0.frame < runs[1].start + windowFrames },
                    "windows holding neither tone away from the switch: \(odd.prefix(10))")
            #expect(odd.count <= 3, "\(odd.count) windows hold neither tone: \(odd.prefix(12))")

            // The cue the switch leaves, inside the switch (without one, the switch is where the
            // silence nearest the end of toneA starts).
            let silences = ToneAnalysis.zeroRuns(left, minimum: 2)
            let cues = try WAVChunks(path: path).cuePoints.map { Int($0.position) }
            #expect(cues.count == 1, "cue points in a file recorded from the console: \(cues) (one route switch)")
            let cue = cues.first ?? silences.min { abs($0.start - switchFrame) < abs($1.start - switchFrame) }?.start ?? switchFrame
            #expect(cue >= runs[0].end - windowFrames && cue <= runs[1].start + windowFrames,
                    "cue at \(cue); the tone changes between \(runs[0].end) and \(runs[1].start)")

            // Continuity sample by sample: only the switch (tone ending, gap, tone starting) may
            // break the sine recurrence; the gap is silence of the logged length.
            let gapFrames = Int((gapMs ?? 0) * Double(rate) / 1000)
            let breaks = ToneAnalysis.recurrenceBreaks(left, frequencies: tones.map(\.frequency), rate: Double(rate))
            let stray = breaks.filter { $0 < cue - rate / 100 || $0 > cue + gapFrames + rate / 100 }
            #expect(stray.isEmpty, "the tone is discontinuous away from the switch at frames \(stray.prefix(20)) (cue \(cue), gap \(gapFrames) frames)")
            let near = silences.filter { abs($0.start - cue) <= rate / 100 }
            let silent = near.map(\.count).reduce(0, +)
            #expect(abs(Double(silent - gapFrames)) <= 0.25 * Double(gapFrames) + 50,
                    "\(silent) silent frames at the switch (\(near)); the log says gap \(gapMs ?? -1) ms = \(gapFrames) frames")
            let straySilence = silences.filter { abs($0.start - cue) > rate / 100 }
            #expect(straySilence.isEmpty, "silence away from the switch: \(straySilence.prefix(10))")
        }
    }

    /// Keys, resize, quit, colours, refusals and settings, on the built-in test signal.
    @Suite("Console in tmux: keys, resize, quit, colour, settings")
    final class ConsoleTmux {
        let home: TempDir
        let rec: String
        /// The built-in sine: 1000 Hz, peak -12 dBFS, RMS -15.0 dBFS.
        static let input = ["-D", "builtin:sine:1000"]

        init() throws {
            home = try TempDir("capdeck-console")
            rec = home.makeDirectory("rec")
        }

        deinit { home.remove() }

        func start(_ extra: [String] = [], environment: [String: String] = [:], width: Int = 100, height: Int = 32) async throws -> TmuxConsole {
            try await TmuxConsole(Self.input + ["-o", rec] + extra, home: home, environment: environment, width: width, height: height)
        }

        /// Waits for the full console with live meters.
        @discardableResult
        func ready(_ console: TmuxConsole) async throws -> ConsoleScreen {
            try await console.waitFor("the console with live meters", timeout: 8) { s in
                s.isConsole && s.meters.count == 2 && s.meters.allSatisfy { ($0.peak ?? -200) > -30 }
            }
        }

        typealias Rows = [Int: (state: String, effect: String)]

        static let defaults: Rows = [1: ("ON", "2-4 set up the app session"), 2: ("ON", "capdeck sets the app session up for recording"),
                                     3: ("off", "exclusive device, other audio paused"), 4: ("off", "ordinary route, no Bluetooth HQ")]
        /// At the minimum width each takes its shorter wording, whole.
        static let narrowDefaults: Rows = [1: ("ON", "2-4 set up the app session"), 2: ("ON", "capdeck sets it up"),
                                           3: ("off", "exclusive, others paused"), 4: ("off", "ordinary route, no Bluetooth HQ")]
        static let appleDefaults = [1: "on", 2: "on", 3: "off", 4: "off"]

        static func matches(_ s: ConsoleScreen, _ rows: Rows) -> Bool {
            let p = s.properties
            return rows.allSatisfy { p[$0.key]?.state == $0.value.state && p[$0.key]?.effect == $0.value.effect }
        }

        /// Presses `key`, waits for the session panel to show `rows` and the event log to gain
        /// an event starting with `event`, and checks every row.
        func pressAndExpect(_ console: TmuxConsole, _ key: String, _ rows: Rows, _ what: String,
                            event: String) async throws -> ConsoleScreen {
            let before = ConsoleScreen(try await console.screen()).events.filter { $0.hasPrefix(event) }.count
            try await console.press(key)
            var s: ConsoleScreen
            do {
                s = try await console.waitFor(what, timeout: 3) { s in
                    Self.matches(s, rows) && s.events.filter { $0.hasPrefix(event) }.count > before
                }
            } catch {
                s = ConsoleScreen(try await console.screen())
            }
            let p = s.properties
            for k in 1...4 {
                let row = p[k]
                #expect(row?.state == rows[k]?.state, "after \(what): row \(k) state \(row?.state ?? "missing"), expected \(rows[k]!.state)\n\(s)")
                #expect(row?.effect == rows[k]?.effect, "after \(what): row \(k) effect \(row?.effect.debugDescription ?? "missing"), expected \(rows[k]!.effect.debugDescription)")
                #expect(row?.defaultValue == Self.appleDefaults[k], "row \(k) default column: \(String(describing: row))")
                #expect(row?.isDefault == (row?.state.lowercased() == Self.appleDefaults[k]), "row \(k) default marker: \(String(describing: row))")
            }
            #expect(s.events.filter { $0.hasPrefix(event) }.count == before + 1, "after \(what): the event log should gain \(event.debugDescription): \(s.events)")
            return s
        }

        @Test("meters read the built-in sine (-12.0 pk, -15.0 rms); 1-4 each change their state and effect text")
        func propertyKeys() async throws {
            let console = try await start()
            defer { console.shutdown() }
            let first = try await ready(console)
            #expect(first.route?.pcm == "builtin:sine:1000", "header: \(first.lines.prefix(3))")
            try await Task.sleep(for: .milliseconds(500))
            let s0 = ConsoleScreen(try await console.screen())
            for m in s0.meters {
                #expect(m.peak.map { abs($0 + 12) <= 0.5 } == true, "\(m) (the built-in sine peaks at -12 dBFS)")
                #expect(m.rms.map { abs($0 + 15.01) <= 0.5 } == true, "\(m) (its RMS is -15.0 dBFS)")
            }
            let p0 = s0.properties
            #expect(p0.count == 4, "session panel rows: \(p0)\n\(s0)")
            #expect(p0[1]?.name == "use app session" && p0[2]?.name == "auto-configure"
                    && p0[3]?.name == "mix with others" && p0[4]?.name == "Bluetooth HQ", "\(p0)")
            #expect(Self.matches(s0, Self.defaults), "defaults: \(p0)")

            // Linux words first, Apple's property name after them.
            let off = "no effect: 1 is off (private session)"
            var s = try await pressAndExpect(console, "1", [1: ("off", "private session: record-only, exclusive device"), 2: ("ON", off), 3: ("off", off), 4: ("off", off)],
                                             "1 (uses app session off)", event: "use app session off: private, exclusive (usesApplicationAudioSession)")
            #expect(s.lines.contains { $0.hasPrefix("App session") && $0.hasSuffix("(not used)") }, "\(s)")
            s = try await pressAndExpect(console, "1", Self.defaults, "1 again", event: "use app session on: 2-4 apply (usesApplicationAudioSession)")

            s = try await pressAndExpect(console, "2", [1: ("ON", "2-4 set up the app session"), 2: ("off", "you set the app session (c: category)"),
                                                        3: ("off", "app session decides: exclusive device, other audio paused"),
                                                        4: ("off", "app session decides: ordinary route, no Bluetooth HQ")],
                                         "2 (auto-configure off)", event: "auto-configure off: yours (c: category) (automaticallyConfiguresApplicationAudioSession)")
            #expect(s.lines.contains { $0.hasPrefix("App session") && $0.contains("(yours: c cycles the category)") }, "\(s)")
            s = try await pressAndExpect(console, "2", Self.defaults, "2 again", event: "auto-configure on: capdeck sets it up")
            #expect(s.lines.contains { $0.hasPrefix("App session") && $0.contains("(set by the capture session)") }, "\(s)")

            var rows = Self.defaults
            rows[3] = ("ON", "shared device, other programs record too")
            s = try await pressAndExpect(console, "3", rows, "3 (mix on)", event: "mix with others on: shared device (configuresApplicationAudioSession")
            #expect(s.lines.contains { $0.hasPrefix("App session") && $0.contains("options mixWithOthers") }, "\(s)")
            s = try await pressAndExpect(console, "3", Self.defaults, "3 again", event: "mix with others off: exclusive, others paused (configuresApplication")

            rows = Self.defaults
            rows[4] = ("ON", "Bluetooth high quality, else hands-free (HFP)")
            s = try await pressAndExpect(console, "4", rows, "4 (Bluetooth HQ on)", event: "Bluetooth HQ on: Bluetooth HQ, else HFP (configuresApplication")
            s = try await pressAndExpect(console, "4", Self.defaults, "4 again", event: "Bluetooth HQ off: ordinary route (configuresApplication")
            #expect(!s.events.contains { $0.contains("error") }, "events: \(s.events)")

            try await console.press("q")
            #expect(try await console.waitForExit() == 0)
        }

        @Test("below the minimum size the screen says how big it must be; at the minimum and back at 100x32 the full layout returns")
        func resize() async throws {
            let console = try await start()
            defer { console.shutdown() }
            try await ready(console)

            for (w, h) in [(50, 12), (63, 20), (64, 19)] {
                try await console.resize(width: w, height: h)
                // (Wrapped to the width: read as one text.)
                let s = try await console.waitFor("the too-small notice for \(w)x\(h)", timeout: 3) {
                    $0.joinedText.contains("(this one is \(w)×\(h)); please enlarge it.")
                }
                #expect(s.joinedText.contains("capdeck needs a terminal of at least 64×20"), "\(s)")
                #expect(!s.contains("CaptureDeck") && s.meters.isEmpty, "no layout drawn at \(w)x\(h):\n\(s)")
                #expect(s.lines.allSatisfy { $0.count <= w }, "lines wider than \(w):\n\(s)")
            }
            for (w, h) in [(64, 20), (100, 32)] {
                try await console.resize(width: w, height: h)
                let s = try await console.waitFor("the full layout at \(w)x\(h)", timeout: 3) { s in
                    // The title bar's "? help" ends at the right edge (tmux trims the last blank): drawn for this width.
                    s.isConsole && s.titleBar.count == w - 1 && s.meters.count == 2 && s.meters.allSatisfy { $0.peak != nil }
                        && s.contains("Capture session")
                }
                #expect(!s.contains("needs a terminal"), "\(s)")
                // Every panel keeps its meaning at the minimum size: the four property rows with
                // their state and their effect text.
                #expect(s.properties.count == 4 && Self.matches(s, w < 80 ? Self.narrowDefaults : Self.defaults),
                        "at \(w)x\(h) the session panel must show each property's state and effect:\n\(s.lines.filter { $0.range(of: #"^ [1-4]  "#, options: .regularExpression) != nil }.joined(separator: "\n"))")
                #expect(s.lines.count <= h && s.lines.allSatisfy { $0.count <= w }, "drawn within \(w)x\(h):\n\(s)")
            }
            try await console.press("q")
            #expect(try await console.waitForExit() == 0)
        }

        @Test("q while recording asks; n keeps recording; q y saves and exits 0 with the terminal restored; q when stopped exits at once; so does Esc")
        func quit() async throws {
            do {
                let console = try await start()
                defer { console.shutdown() }
                try await ready(console)
                #expect(try await console.paneFormat("alternate_on") == "1", "the console runs on the alternate screen")
                try await console.press("r")
                let recording = try await console.waitFor("recording", timeout: 5) { $0.recordingFile != nil && $0.titleBar.contains("REC") }
                let path = try #require(recording.recordingFile)

                try await console.press("q")
                let asked = try await console.waitFor("the quit prompt", timeout: 3) { $0.prompt != nil }
                #expect(asked.prompt == "Recording in progress: stop it, save the file and quit? (y/n)", "\(asked)")
                try await console.press("n")
                let kept = try await console.waitFor("the prompt to go", timeout: 3) { $0.prompt == nil }
                #expect(kept.exitCode == nil && kept.isConsole, "n keeps the console:\n\(kept)")
                #expect(kept.titleBar.contains("REC") && !kept.titleBar.contains("NOT") && kept.recordingFile == path, "n keeps recording:\n\(kept)")
                let t0 = kept.recordedSeconds ?? 0
                try await console.waitFor("the recording clock to advance", timeout: 3) { ($0.recordedSeconds ?? 0) > t0 }

                try await console.press("q")
                try await console.waitFor("the quit prompt again", timeout: 3) { $0.prompt != nil }
                try await console.press("y")
                #expect(try await console.waitForExit() == 0)
                let after = ConsoleScreen(try await console.screen())
                #expect(!after.contains("CaptureDeck") && after.meters.isEmpty, "the console is gone from the pane:\n\(after)")
                #expect(after.lines.contains { $0.hasPrefix("capdeck: saved \(path): ") && $0.hasSuffix(" frames") }, "\(after)")
                #expect(try await console.paneFormat("alternate_on") == "0", "the alternate screen is left on exit")
                #expect(try await console.paneFormat("cursor_flag") == "1", "the cursor is visible again on exit")
                let file = try SoundFile.read(path, samples: .int)
                #expect(file.frames > 48_000 && file.channels == 2 && file.sampleRate == 48_000, "saved \(file.frames) frames")
                let savedFrames = after.lines.first { $0.hasPrefix("capdeck: saved ") }?.split(separator: " ").dropLast().last.flatMap { Int($0) }
                #expect(savedFrames == file.frames, "the saved line vs \(file.frames) frames in the file")
            }

            // Not recording: q quits at once, without a prompt and without a file.
            for key in ["q", "Escape"] {
                let console = try await start()
                defer { console.shutdown() }
                try await ready(console)
                let before = try FileManager.default.contentsOfDirectory(atPath: rec)
                try await console.press(key)
                let pressed = Monotonic.now
                let code = try await console.waitForExit(timeout: 5)
                #expect(code == 0, "\(key) when not recording: exit \(code)")
                #expect(Monotonic.now - pressed < 2, "\(key) took \(Monotonic.now - pressed) s to quit")
                let after = ConsoleScreen(try await console.screen())
                #expect(after.prompt == nil && !after.contains("CaptureDeck"), "\(after)")
                #expect(try await console.paneFormat("alternate_on") == "0", "\(key): the alternate screen is left on exit")
                #expect(try FileManager.default.contentsOfDirectory(atPath: rec) == before, "\(key) wrote no file")
            }
        }

        /// The meter rows of a capture-pane -e screen, escapes kept.
        static func meterRowsWithEscapes(_ text: String) -> [String] {
            text.split(separator: "\n").map(String.init).filter {
                SGR.strip($0).range(of: #"^ [LR]  .* pk "#, options: .regularExpression) != nil
            }
        }

        @Test("colours by default; NO_COLOR=1 draws the meters without colour; LANG=C draws them in ASCII")
        func colourAndLocale() async throws {
            // Control: with colours, the meter bars are coloured (green zone at -15 dBFS).
            do {
                let console = try await start()
                defer { console.shutdown() }
                try await ready(console)
                let rows = Self.meterRowsWithEscapes(try await console.screenWithEscapes())
                #expect(rows.count == 2)
                #expect(rows.allSatisfy { SGR.colours(in: $0).contains(32) }, "no green in the meter rows: \(rows.map(\.debugDescription))")
                try await console.press("q")
                _ = try await console.waitForExit()
            }
            do {
                let console = try await start(environment: ["NO_COLOR": "1"])
                defer { console.shutdown() }
                try await ready(console)
                let screen = try await console.screenWithEscapes()
                let rows = Self.meterRowsWithEscapes(screen)
                #expect(rows.count == 2, "\(screen)")
                for r in rows {
                    #expect(SGR.colours(in: r).isEmpty, "NO_COLOR: colour escapes \(SGR.colours(in: r)) in \(r.debugDescription)")
                }
                #expect(SGR.colours(in: screen).isEmpty, "NO_COLOR: colour escapes \(Set(SGR.colours(in: screen))) on the screen")
                // Still readable without colour: the bar, the numbers.
                let s = ConsoleScreen(SGR.strip(screen))
                #expect(s.meters.allSatisfy { $0.bar.contains("█") && $0.peak != nil }, "\(s.meters)")
                try await console.press("q")
                #expect(try await console.waitForExit() == 0)
            }
            do {
                let console = try await start(environment: ["LANG": "C"])
                defer { console.shutdown() }
                let s = try await ready(console)
                for m in s.meters {
                    #expect(m.bar.contains("#") && m.bar.contains("|"), "ASCII bar and peak tip: \(m.row)")
                    let blocks = m.row.unicodeScalars.filter { (0x2580...0x259F).contains($0.value) }
                    #expect(blocks.isEmpty, "block characters in an ASCII meter: \(m.row)")
                }
                #expect(!s.text.unicodeScalars.contains { (0x2580...0x259F).contains($0.value) || (0x2500...0x257F).contains($0.value) },
                        "block or box-drawing characters under LANG=C:\n\(s)")
                #expect(s.titleBar.contains("- NOT RECORDING"), "\(s.titleBar)")
                // The too-small notice under LANG=C: its numbers must still read as W x H.
                try await console.resize(width: 50, height: 12)
                let small = try await console.waitFor("the too-small notice under LANG=C", timeout: 3) { $0.joinedText.contains("needs a terminal") }
                #expect(small.joinedText.range(of: #"at least 64\D+20"#, options: .regularExpression) != nil,
                        "LANG=C: the minimum size must read as 64 by 20:\n\(small)")
                #expect(small.joinedText.range(of: #"this one is 50\D+12"#, options: .regularExpression) != nil,
                        "LANG=C: the current size must read as 50 by 12:\n\(small)")
                try await console.resize(width: 100, height: 32)
                try await console.press("q")
                #expect(try await console.waitForExit() == 0)
            }
        }

        @Test("TERM=dumb or unset, or no terminal: exit 64 and one clear error line on stderr")
        func refusesWithoutATerminal() async throws {
            let exe = try Capdeck.require()
            var base = Capdeck.environment(home: home.root)
            base["LANG"] = "C.UTF-8"
            base["NO_COLOR"] = nil
            for term in ["dumb", "", nil] as [String?] {
                var env = base
                env["TERM"] = term
                let r = try await runProgram(exe, Self.input + ["-o", rec], environment: env, scratch: home, timeout: 15)
                let what = "TERM=\(term.map { "'\($0)'" } ?? "unset")"
                #expect(r.exitCode == 64, "\(what): \(r)")
                #expect(r.stderrLines.count == 1, "\(what): stderr must be one line: \(r.stderr.debugDescription)")
                let line = r.stderrLines.first ?? ""
                #expect(line.hasPrefix("capdeck: ") && line.contains("TERM") && line.contains("capdeck record"), "\(what): \(line)")
                #expect(!line.contains("\u{1B}"), "\(what): escape sequences in \(line.debugDescription)")
                #expect(r.stdout.isEmpty, "\(what): stdout \(r.stdout.debugDescription)")
            }
            // A real TERM, but stdin/stdout are files.
            var env = base
            env["TERM"] = "xterm-256color"
            let r = try await runProgram(exe, Self.input + ["-o", rec], environment: env, scratch: home, timeout: 15)
            #expect(r.exitCode == 64, "stdin/stdout not a terminal: \(r)")
            #expect(r.stderrLines.count == 1 && r.stderrLines.first?.hasPrefix("capdeck: ") == true
                    && r.stderr.contains("terminal"), "\(r.stderr.debugDescription)")
            #expect(r.stdout.isEmpty, "stdout \(r.stdout.debugDescription)")
            #expect(try FileManager.default.contentsOfDirectory(atPath: rec).isEmpty, "no recording made")
        }

        func pick(_ console: TmuxConsole, _ pcm: String) async throws { try await console.pick(pcm) }

        /// No -D and no capture device (the default PCM a card that isn't there, no sound server):
        /// the console stands in the built-in signal, and its event line says so first, so the
        /// screen's edge can only cut the reason (it read "…: using the BUIL" at 120 columns).
        @Test("no device at all: the event line leads with the built-in stand-in, and the title names it")
        func theStandInSaysSoFirst() async throws {
            try home.write(".asoundrc", "pcm.!default { type hw card 99 }\nctl.!default { type hw card 99 }\n")
            let env = ["PULSE_SERVER": "", "PIPEWIRE_REMOTE": "", "XDG_RUNTIME_DIR": home.makeDirectory("run")]
            let console = try await TmuxConsole(["-o", rec], home: home, environment: env, width: 120, height: 36)
            defer { console.shutdown() }
            let s = try await console.waitFor("the stand-in", timeout: 10) { s in s.isConsole && s.events.contains { $0.contains("BUILT-IN") } }
            let line = s.events.first { $0.contains("BUILT-IN") } ?? ""
            #expect(line.hasPrefix("using the BUILT-IN TEST SIGNAL: no capture device could be opened"), "\(line)")
            #expect(s.titleBar.contains("BUILT-IN TEST SIGNAL"), "\(s.titleBar)")
            try await console.press("q")
            _ = try await console.waitForExit()
        }

        /// With auto-configure off and the category `ambient`, no device can be switched to: the
        /// rules say no before any device is tried. The line said "builtin:pink could not be
        /// opened; …" (cut at the screen's edge before the reason), sending the user to the device.
        @Test("d with auto-configure off and category ambient: the event line names the category, not the device, and says what to press")
        func pickUnderACategoryThatCantRecord() async throws {
            let console = try await start()
            defer { console.shutdown() }
            try await ready(console)
            try await console.press("2")  // auto-configure off: the category is the app's
            _ = try await console.waitFor("auto-configure off", timeout: 5) { $0.lines.contains { $0.hasPrefix(" 2  auto-configure  off") } }
            var s = ConsoleScreen(try await console.screen())
            for _ in 0..<5 where !s.lines.contains(where: { $0.hasPrefix("App session category ambient") }) {
                try await console.press("c")
                try await Task.sleep(for: .milliseconds(300))
                s = ConsoleScreen(try await console.screen())
            }
            #expect(s.lines.contains { $0.hasPrefix("App session category ambient") }, "\(s.lines)")
            let before = s.events.count
            try await pick(console, "builtin:pink")
            let said = try await console.waitFor("the refused pick", timeout: 8) { s in s.events.dropFirst(before).contains { $0.hasPrefix("builtin:pink") } }
            let line = said.events.dropFirst(before).first { $0.hasPrefix("builtin:pink") } ?? ""
            #expect(line.hasPrefix("builtin:pink not tried: category 'ambient' can't record"), "\(line)")
            #expect(!line.contains("could not be opened"), "\(line)")
            try await console.press("q")
            _ = try await console.waitForExit()
        }

        @Test("d picking a device that does not open while recording (jack, no server): capture and the file go on untouched, one event line says so, nothing remembered")
        func pickDeviceThatFails() async throws {
            let console = try await start()
            defer { console.shutdown() }
            try await ready(console)
            try await console.press("r")
            let recording = try await console.waitFor("recording", timeout: 5) { $0.recordingFile != nil }
            let path = recording.recordingFile!
            let rPressed = Monotonic.now
            let before = recording.events.count

            try await pick(console, "jack")
            let failed = try await console.waitFor("the failed pick in the event log", timeout: 8) { s in
                s.events.dropFirst(before).contains { $0.hasPrefix("jack") }
            }
            try await Task.sleep(for: .milliseconds(700))  // anything else the pick set off
            let s = ConsoleScreen(try await console.screen())
            // (libjack's own complaints, from its stderr, come as "stderr: …" lines.)
            let about = s.events.dropFirst(before).filter { $0.contains("jack") && !$0.hasPrefix("stderr: ") }
            #expect(about.count == 1, "one event line about jack: \(about)\n\(failed)")
            let line = about.first ?? ""
            #expect(line.contains("could not be opened") && line.contains("builtin:sine:1000") && line.contains("recording goes on"),
                    "says jack failed, where capture stays and that the recording goes on: \(line)")
            #expect(!s.events.dropFirst(before).contains { $0.hasPrefix("capture stopped") || $0.hasPrefix("input jack") },
                    "capture never left the old device: \(s.events.dropFirst(before))")
            #expect(s.route?.pcm == "builtin:sine:1000", "still capturing the old device: \(s.lines.prefix(3))")
            #expect(s.meters.count == 2 && s.meters.allSatisfy { ($0.peak ?? -200) > -30 }, "live meters: \(s.meters)")
            #expect(s.recordingFile == path, "the same take: \(s.lines.filter { $0.hasPrefix("File") })")
            #expect(!s.titleBar.contains("INTERRUPTED"), "\(s.titleBar)")
            try await Task.sleep(for: .milliseconds(500))
            try await console.press("r")
            let stopPressed = Monotonic.now
            try await console.waitFor("saved", timeout: 5) { $0.recordingFile == nil }
            try await console.press("q")
            #expect(try await console.waitForExit() == 0)

            let file = try SoundFile.read(path, samples: .int)
            let seconds = Double(file.frames) / Double(file.sampleRate)
            #expect(abs(seconds - (stopPressed - rPressed)) <= 0.5, "file holds \(seconds) s; r was pressed twice \(stopPressed - rPressed) s apart")
            #expect(try WAVChunks(path: path).cuePoints.isEmpty, "no gap or switch marked in the file")
            let gaps = ToneAnalysis.zeroRuns(file.channel(0), minimum: 48)
            #expect(gaps.isEmpty, "no silence in the take (the device never stopped): \(gaps.prefix(5))")
            // Nothing remembers jack.
            for f in [home.root + "/.config/capdeck/config.toml", home.root + "/.local/state/capdeck/console.toml"] {
                let text = (try? String(contentsOfFile: f, encoding: .utf8)) ?? ""
                #expect(!text.contains("jack"), "\(f) remembers the device that failed: \(text)")
            }
        }

        @Test("d picking a device that opens while recording switches live: same file, one cue at the seam, the device remembered")
        func pickDeviceThatOpens() async throws {
            do {
                let console = try await start()
                defer { console.shutdown() }
                try await ready(console)
                try await console.press("r")
                let recording = try await console.waitFor("recording", timeout: 5) { $0.recordingFile != nil }
                let path = recording.recordingFile!
                try await Task.sleep(for: .milliseconds(500))
                try await pick(console, "builtin:pink")
                let s = try await console.waitFor("the pink route", timeout: 8) { $0.route?.pcm == "builtin:pink" }
                #expect(s.events.contains { $0.hasPrefix("route builtin:sine:1000 -> builtin:pink") }, "a live switch: \(s.events)")
                #expect(!s.events.contains { $0.hasPrefix("capture stopped") }, "capture never stopped: \(s.events)")
                #expect(s.recordingFile == path, "the same take")
                try await Task.sleep(for: .milliseconds(500))
                try await console.press("r")
                try await console.waitFor("saved", timeout: 5) { $0.recordingFile == nil }
                try await console.press("q")
                #expect(try await console.waitForExit() == 0)
                #expect(try WAVChunks(path: path).cuePoints.count == 1, "one cue at the switch")
            }
            // Started again without -D: the picked device.
            let console = try await TmuxConsole(["-o", rec], home: home)
            defer { console.shutdown() }
            let s = try await console.waitFor("the remembered device", timeout: 8) { $0.route != nil }
            #expect(s.route?.pcm == "builtin:pink", "remembered: \(s.lines.prefix(3))")
            try await console.press("q")
            #expect(try await console.waitForExit() == 0)
        }

        @Test("what libraries write to stderr (libjack, on d -> jack with no server) goes to the event log, never over the screen; Ctrl-L repaints the whole screen after garbage")
        func stderrAndRedraw() async throws {
            let console = try await start()
            defer { console.shutdown() }
            try await ready(console)
            try await pick(console, "jack")
            let s = try await console.waitFor("libjack's complaint in the event log", timeout: 8) { s in
                s.events.contains { $0.contains("jack server is not running") }
            }
            try await Task.sleep(for: .milliseconds(300))
            let after = ConsoleScreen(try await console.screen())
            for screen in [s, after] {
                // Every line holding libjack's words is an event line (a time stamp first), not raw text.
                let raw = screen.lines.filter { ($0.contains("Cannot connect to server") || $0.contains("jack server is not running")
                                                 || $0.contains("JackShm")) && $0.range(of: #"^[0-9]{2}:[0-9]{2}:[0-9]{2} "#, options: .regularExpression) == nil }
                #expect(raw.isEmpty, "stderr written over the screen: \(raw)\n\(screen)")
                #expect(screen.isConsole && screen.route?.pcm == "builtin:sine:1000", "the layout is intact:\n\(screen)")
            }

            // Garbage from outside (another program writing to the terminal), then Ctrl-L.
            try await Task.sleep(for: .milliseconds(300))
            let clean = ConsoleScreen(try await console.screen())
            try await console.writeToTerminal("\u{1B}[30;40HGARBAGE-FROM-ELSEWHERE\u{1B}[2;70HMORE-GARBAGE")
            let dirty = try await console.waitFor("the garbage on the screen", timeout: 3) { $0.contains("GARBAGE-FROM-ELSEWHERE") }
            try await Task.sleep(for: .milliseconds(300))
            #expect(ConsoleScreen(try await console.screen()).contains("GARBAGE"), "garbage stays until a repaint:\n\(dirty)")
            try await console.press("C-l")
            let repainted = try await console.waitFor("Ctrl-L to repaint", timeout: 3) { !$0.contains("GARBAGE") }
            #expect(repainted.isConsole && repainted.lines.count == clean.lines.count, "the full layout after Ctrl-L:\n\(repainted)")
            #expect(repainted.lines[1].hasPrefix("Input") && repainted.route?.pcm == "builtin:sine:1000", "header repainted: \(repainted.lines[1])")
            try await console.press("q")
            #expect(try await console.waitForExit() == 0)
        }

        @Test("an unknown TERM (no terminfo entry) on a real terminal: one line saying what to do, exit 64")
        func unknownTerminalType() async throws {
            for term in ["no-such-term", "xterm-kitty"] {
                let console = try await start(environment: ["TERM": term], width: 200)  // the line is longer than 100 columns
                defer { console.shutdown() }
                let code = try await console.waitForExit(timeout: 10)
                let s = ConsoleScreen(try await console.screen())
                let said = s.lines.prefix { !$0.hasPrefix("EXIT=") }.filter { !$0.isEmpty }
                #expect(code == 64, "TERM=\(term): exit \(code)\n\(s)")
                #expect(said.count == 1, "TERM=\(term): one line, not \(said)")
                let line = said.first ?? ""
                #expect(line.hasPrefix("capdeck: ") && line.contains("'\(term)'") && line.contains("terminfo")
                        && line.contains("TERM=xterm-256color"), "TERM=\(term): \(line)")
                #expect(!s.contains("Error opening terminal"), "ncurses' own message: \(s)")
                #expect(try FileManager.default.contentsOfDirectory(atPath: rec).isEmpty, "no recording made")
            }
        }

        var configPath: String { home.root + "/.config/capdeck/config.toml" }
        var statePath: String { home.root + "/.local/state/capdeck/console.toml" }

        /// Runs `capdeck arguments` with `directory` as its working directory.
        func run(in directory: String, _ arguments: [String]) async throws -> RunResult {
            let exe = try Capdeck.require()
            return try await runProgram("/bin/sh", ["-c", "cd \"$1\" && shift && exec \"$@\"", "sh", directory, exe] + arguments,
                                        environment: Capdeck.environment(home: home.root), scratch: home, timeout: 30)
        }

        @Test("flags given to the console are never saved; toggles and the picked device go to the console's state file (0600), never config.toml; record is untouched by either")
        func consoleStateStaysApart() async throws {
            let flagged = home.makeDirectory("flagged")
            do {
                let console = try await TmuxConsole(Self.input + ["-r", "44100", "-c", "1", "-o", flagged], home: home)
                defer { console.shutdown() }
                let s = try await console.waitFor("the console with a live mono meter", timeout: 8) { s in
                    s.isConsole && s.meters.count == 1 && s.meters.allSatisfy { ($0.peak ?? -200) > -30 }
                }
                #expect(s.lines[2].contains("44100 Hz 1 ch"), "the flags apply this time: \(s.lines[2])")
                try await console.press("3")
                try await console.waitFor("mix on", timeout: 3) { $0.properties[3]?.state == "ON" }
                try await pick(console, "builtin:pink")
                try await console.waitFor("the pink route", timeout: 8) { $0.route?.pcm == "builtin:pink" }
                try await console.press("q")
                #expect(try await console.waitForExit() == 0)
            }
            #expect(access(configPath, F_OK) != 0, "config.toml was written: \((try? String(contentsOfFile: configPath, encoding: .utf8)) ?? "")")
            let state = (try? String(contentsOfFile: statePath, encoding: .utf8)) ?? "(no file)"
            #expect(state.contains("mix-with-others = true") && state.contains("device = \"builtin:pink\""), "\(statePath): \(state)")
            for flag in ["44100", "channels", "rate", "output-dir", flagged, "builtin:sine:1000"] {
                #expect(!state.contains(flag), "a flag was saved (\(flag)): \(state)")
            }
            var st = stat()
            #expect(stat(statePath, &st) == 0 && st.st_mode & 0o777 == 0o600, "state file mode \(String(st.st_mode & 0o777, radix: 8))")
            let leftovers = try FileManager.default.contentsOfDirectory(atPath: home.root + "/.local/state/capdeck").filter { $0 != "console.toml" }
            #expect(leftovers.isEmpty, "temporary files left beside the state: \(leftovers)")

            // Headless recording in another directory: as its help says, whatever the console did.
            let elsewhere = home.makeDirectory("elsewhere")
            // Without -D on this machine (no card, no server) record has no device: the console's
            // remembered builtin:pink must not stand in for it.
            let none = try await run(in: elsewhere, ["record", "-d", "1", "take.wav"])
            #expect(none.exitCode == 69 && none.stderr.contains("no capture device"), "the console's device leaked into record: \(none)")
            let r = try await run(in: elsewhere, ["record", "-D", "builtin", "-d", "1", "take.wav"])
            #expect(r.exitCode == 0, "\(r)")
            let file = try SoundFile.read(elsewhere + "/take.wav", samples: .none)
            #expect(file.sampleRate == 48_000 && file.channels == 2 && file.frames == 48_000,
                    "record: \(file.sampleRate) Hz \(file.channels) ch \(file.frames) frames, not 48 kHz stereo 1 s")
            #expect(try FileManager.default.contentsOfDirectory(atPath: flagged).isEmpty, "nothing lands in the console's -o directory")
            #expect(!r.stderr.contains("pink") && r.stderr.contains("[exclusive route]"),
                    "record used neither the console's device nor its mix toggle: \(r.stderr)")
            #expect(access(configPath, F_OK) != 0, "config.toml appeared")

            // The console again, no flags: its toggles and device, not the flags.
            let console = try await TmuxConsole([], home: home)
            defer { console.shutdown() }
            let s = try await console.waitFor("the console on the remembered device", timeout: 8) { s in
                s.isConsole && s.route != nil && s.meters.count == 2
            }
            #expect(s.route?.pcm == "builtin:pink", "remembered device: \(s.lines.prefix(3))")
            #expect(s.properties[3]?.state == "ON", "remembered mix: \(s.properties)")
            #expect(s.lines[2].contains("48000 Hz 2 ch"), "the flags' format is not remembered: \(s.lines[2])")
            let fileLine = s.lines.first { $0.hasPrefix("File ") } ?? ""
            #expect(fileLine.contains(home.root + "/.local/share/capdeck/recordings") && !fileLine.contains(flagged),
                    "the flags' directory is not remembered: \(fileLine)")
            try await console.press("q")
            #expect(try await console.waitForExit() == 0)
        }

        @Test("a config.toml you wrote (or an earlier capdeck wrote) is read as configuration and never written: toggles leave it byte for byte")
        func configNeverWritten() async throws {
            let dir = home.root + "/.config/capdeck"
            try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
            // What an earlier capdeck's console wrote: still the user's configuration now.
            let original = """
                # CaptureDeck settings, written by the console (capdeck --reset-settings starts over).

                [session]
                # mixing stays off for takes
                mix-with-others = false

                [routes]
                exclusive = "builtin:sine:1000"

                [input]
                format = "S16_LE"
                rate = 44100
                channels = 1

                """
            try original.write(toFile: configPath, atomically: true, encoding: .utf8)
            chmod(configPath, 0o644)
            var before = stat()
            stat(configPath, &before)
            let console = try await start()
            defer { console.shutdown() }
            let s = try await console.waitFor("the console with a live mono meter", timeout: 8) { s in
                s.isConsole && s.meters.count == 1 && s.meters.allSatisfy { ($0.peak ?? -200) > -30 }
            }
            #expect(s.lines[2].contains("44100 Hz 1 ch"), "the config applies: \(s.lines[2])")
            try await console.press("3")
            try await console.waitFor("mix on", timeout: 3) { $0.properties[3]?.state == "ON" }
            try await console.press("c", "2", "c")
            try await console.waitFor("auto-configure off", timeout: 3) { $0.properties[2]?.state == "off" }
            try await console.press("q")
            #expect(try await console.waitForExit() == 0)
            let text = try String(contentsOfFile: configPath, encoding: .utf8)
            #expect(text == original, "config.toml changed: \(text)")
            var after = stat()
            stat(configPath, &after)
            #expect(after.st_ino == before.st_ino && after.st_mtim.tv_sec == before.st_mtim.tv_sec
                    && after.st_mtim.tv_nsec == before.st_mtim.tv_nsec && after.st_mode == before.st_mode, "config.toml was rewritten")
            let state = (try? String(contentsOfFile: statePath, encoding: .utf8)) ?? "(no file)"
            #expect(state.contains("mix-with-others = true") && state.contains("auto-configure = false") && state.contains("category = "),
                    "the toggles went to the state file: \(state)")
            // And record reads the config (not the state): 44100 Hz mono, mix off.
            let r = try await run(in: home.root, ["record", "-d", "1", "cfg.wav"])
            #expect(r.exitCode == 0, "\(r)")
            let f = try SoundFile.read(home.path("cfg.wav"), samples: .none)
            #expect(f.sampleRate == 44_100 && f.channels == 1, "\(f.sampleRate) Hz \(f.channels) ch")
            #expect(r.stderr.contains("[exclusive route]"), "record ignores the console's mix toggle: \(r.stderr)")
        }

        @Test("a broken state file (bad TOML, or configuration in it) is ignored with one warning in the event log; the console starts from the defaults")
        func brokenStateIgnored() async throws {
            let dir = home.root + "/.local/state/capdeck"
            try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
            for (text, says) in [("[session\nmix = yes\n", "console.toml:1"), ("[input]\nrate = 44100\n", "not something the console remembers")] {
                try text.write(toFile: statePath, atomically: true, encoding: .utf8)
                let console = try await start(width: 240)  // the whole line, path and all
                defer { console.shutdown() }
                let s = try await ready(console)
                let warnings = s.events.filter { $0.contains("remembered state is ignored") }
                #expect(warnings.count == 1 && warnings.first?.contains(says) == true, "\(text.debugDescription): \(s.events)")
                #expect(Self.matches(s, Self.defaults) && s.lines[2].contains("48000 Hz 2 ch"), "defaults: \(s.properties)")
                try await console.press("q")
                #expect(try await console.waitForExit() == 0)
            }
        }

        @Test("3 then q remembers mix on; the next start shows it; --reset-settings forgets it and keeps console.toml.old")
        func settingsPersist() async throws {
            let state = statePath
            do {
                let console = try await start()
                defer { console.shutdown() }
                let s = try await ready(console)
                #expect(s.properties[3]?.state == "off", "fresh start: \(s.properties)")
                try await console.press("3")
                try await console.waitFor("mix on", timeout: 3) { $0.properties[3]?.state == "ON" }
                try await console.press("q")
                #expect(try await console.waitForExit() == 0)
            }
            let text = (try? String(contentsOfFile: state, encoding: .utf8)) ?? ""
            #expect(text.contains("mix-with-others = true"), "\(state): \(text.debugDescription)")

            do {
                let console = try await start()
                defer { console.shutdown() }
                let s = try await ready(console)
                #expect(s.properties[3]?.state == "ON" && s.properties[3]?.effect == "shared device, other programs record too", "after a restart: \(s.properties)")
                #expect(s.properties[3]?.isDefault == false, "mix on is not the default: \(String(describing: s.properties[3]))")
                try await console.press("q")
                #expect(try await console.waitForExit() == 0)
            }

            do {
                let console = try await start(["--reset-settings"])
                defer { console.shutdown() }
                let s = try await ready(console)
                #expect(Self.matches(s, Self.defaults), "after --reset-settings: \(s.properties)")
                #expect(access(state + ".old", F_OK) == 0, "console.toml.old exists")
                let old = (try? String(contentsOfFile: state + ".old", encoding: .utf8)) ?? ""
                #expect(old.contains("mix-with-others = true"), "the old state is kept: \(old.debugDescription)")
                try await console.press("q")
                #expect(try await console.waitForExit() == 0)
            }
            // And the reset sticks: a plain start after it still has the defaults.
            do {
                let console = try await start()
                defer { console.shutdown() }
                let s = try await ready(console)
                #expect(Self.matches(s, Self.defaults), "after the reset, a plain start: \(s.properties)")
                try await console.press("q")
                #expect(try await console.waitForExit() == 0)
            }
            #expect(access(configPath, F_OK) != 0, "config.toml was written")
        }

        @Test("typeahead: r and q pressed together ask before quitting (r came first), and y saves a real file")
        func recordThenQuitTypeahead() async throws {
            let console = try await start()
            defer { console.shutdown() }
            try await ready(console)
            try await Task.sleep(for: .milliseconds(500))  // a settled screen: frames draw quickly
            try await console.pressTogether(["r", "q"])
            let s = try await console.waitFor("the quit prompt or an exit", timeout: 5) { $0.prompt != nil || $0.exitCode != nil }
            let left = try FileManager.default.contentsOfDirectory(atPath: rec).map { rec + "/" + $0 }
            if s.exitCode != nil {
                let frames = left.map { (try? SoundFile.read($0, samples: .none).frames).map(String.init) ?? "unreadable" }
                Issue.record("r then q: the console quit without asking although r (start recording) came first; files left: \(zip(left, frames).map { "\($0.0): \($0.1) frames" })\n\(s)")
                return
            }
            #expect(s.prompt == "Recording in progress: stop it, save the file and quit? (y/n)", "\(s)")
            // The take records while the prompt waits: give it audio (a take stopped before any
            // arrived keeps no file, as in `record`; the console's first batch can take 40 ms).
            try await Task.sleep(for: .milliseconds(300))
            try await console.press("y")
            #expect(try await console.waitForExit() == 0)
            let files = try FileManager.default.contentsOfDirectory(atPath: rec)
            #expect(files.count == 1, "\(files)")
            if let f = files.first {
                #expect(try SoundFile.read(rec + "/" + f, samples: .none).frames > 0, "\(f) is empty")
            }
        }

        @Test("typeahead: 3 and q pressed together still save mix on before quitting")
        func settingsSurviveTypeahead() async throws {
            let config = statePath
            do {
                let console = try await start()
                defer { console.shutdown() }
                try await ready(console)
                try await Task.sleep(for: .milliseconds(500))  // a settled screen: frames draw quickly
                try await console.pressTogether(["3", "q"])
                #expect(try await console.waitForExit() == 0)
            }
            let text = (try? String(contentsOfFile: config, encoding: .utf8)) ?? "(no file)"
            #expect(text.contains("mix-with-others = true"),
                    "3 was pressed before q, but the setting was not saved: \(config): \(text.debugDescription)")
        }
    }
}
