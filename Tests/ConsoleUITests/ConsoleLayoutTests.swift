// The console's widgets and layout, rendered into a plain grid and checked as text.
import CaptureCore
import ConsoleUI
import Testing

@Suite struct ConsoleLayoutTests {
    func model(channels: Int = 2, db: Double = -12) -> ConsoleModel {
        var m = ConsoleModel()
        m.inputName = "hw:1,0"
        m.route = Route(pcm: "plughw:CARD=USB,DEV=0", kind: .exclusive)
        m.accessLabel = "exclusive"
        m.granted = GrantedParameters(format: StreamFormat(sampleFormat: .s16LE, sampleRate: 48000, channels: channels),
                                      periodFrames: 480, bufferFrames: 9600, access: "RW_INTERLEAVED")
        m.realtime = "SCHED_FIFO 70"
        m.running = true
        m.levels = Array(repeating: ChannelLevel(peakDB: db, rmsDB: db - 3, holdDB: db + 2, clips: 0), count: channels)
        m.clipLatched = Array(repeating: false, count: channels)
        m.effective = RouteResolver.resolve(m.properties, appSession: AudioSessionState(), routes: InputRoutes(exclusive: "hw")).effective
        m.appSession = AudioSessionState(category: .playAndRecord)
        m.directory = "/home/u/rec"
        m.events = [ConsoleModel.Event(time: "12:00:01", text: "capturing plughw:CARD=USB,DEV=0 (exclusive)")]
        return m
    }

    @Test(arguments: [(80, 24), (100, 30), (120, 40), (ConsoleLayout.minWidth, ConsoleLayout.minHeight(channels: 2))])
    func fullLayoutAtSizes(w: Int, h: Int) {
        let g = ConsoleLayout.render(model(), width: w, height: h)
        let rows = (0..<h).map { g.row($0) }
        #expect(rows[0].hasPrefix(" CaptureDeck"))
        #expect(rows[0].hasSuffix("? help "))
        #expect(rows[1].contains("Input hw:1,0") && rows[1].contains("Route plughw:CARD"))
        #expect(rows[1].hasSuffix("SCHED_FIFO 70  xruns 0"))
        if w >= 80 { #expect(rows[1].contains("Route plughw:CARD=USB,DEV=0 (exclusive)")) }
        #expect(rows[2].contains("S16_LE 48000 Hz 2 ch") && rows[2].contains("period 10.0 ms"))
        #expect(rows[4].hasPrefix(" L ") && rows[4].contains("-12.0 pk") && rows[4].contains("-15.0 rms"))
        #expect(rows[5].hasPrefix(" R "))
        #expect(rows[6].contains("-60") && rows[6].contains("dBFS"))
        #expect(rows.contains { $0.contains("Capture session") })
        #expect(rows.contains { $0.contains("App session category playAndRecord") })
        #expect(rows.contains { $0.hasPrefix("Recording stopped") })
        #expect(rows.contains { $0.contains("12:00:01 capturing") })
        #expect(rows[h - 1].contains("r rec") && rows[h - 1].contains("q quit"))
        #expect(g.text.split(separator: "\n").allSatisfy { $0.count <= w })
    }

    /// A long event is wrapped under its text, not cut at the screen's edge (a new user could
    /// not read where the built-in signal's reason or a rescued file's path went); the newest
    /// events are whole, the oldest give way; one longer than the log shows its start and "…".
    @Test func longEventsWrapUnderTheirTextAndTheNewestStayWhole() throws {
        var m = model()
        let long = "using the BUILT-IN TEST SIGNAL: no capture device could be opened (default: ALSA lib pcm.c: Unknown PCM default; hw:0: No such file or directory) ('capdeck devices' lists what can be captured from)"
        m.events = (1...6).map { ConsoleModel.Event(time: "12:00:0\($0)", text: "event \($0)") } + (1...6).map { ConsoleModel.Event(time: "12:00:06", text: "event 6.\($0)") }
            + [ConsoleModel.Event(time: "12:00:07", text: long, severity: .warning)]
        let (w, h) = (80, 34)
        let g = ConsoleLayout.render(m, width: w, height: h)
        let rows = (0..<h).map { g.row($0) }
        let first = try #require(rows.firstIndex { $0.hasPrefix("12:00:07 using the BUILT-IN TEST SIGNAL") })
        // Its rows, joined, are the whole text; continuation rows start under the text.
        var text: [String] = []
        var i = first
        while i < h - 1, i == first || rows[i].hasPrefix(String(repeating: " ", count: 9)) && !rows[i].trimmingCharacters(in: .whitespaces).isEmpty {
            text.append(String(rows[i].dropFirst(9)).trimmingCharacters(in: .whitespaces))
            i += 1
        }
        #expect(text.count >= 3 && text.joined(separator: " ") == long, "\(text)")
        #expect(rows.allSatisfy { $0.count <= w })
        #expect(g[9, first + 1].style == .warning, "continuation rows keep the event's style")
        // The events above it are the newest that fit, in order, ending just above it.
        #expect(rows[first - 1].hasPrefix("12:00:06 event 6.6"))
        #expect(!rows.contains { $0.hasPrefix("12:00:01") }, "the oldest give way")
        // At the smallest log the newest shows its start, marked cut.
        let tiny = ConsoleLayout.render(m, width: ConsoleLayout.minWidth, height: ConsoleLayout.minHeight(channels: 2))
        let tinyRows = (0..<tiny.height).map { tiny.row($0) }
        let cut = tinyRows.filter { $0.contains("…") || $0.contains("...") }
        #expect(tinyRows.contains { $0.hasPrefix("12:00:07 using the") } && cut.count == 1, "\(tinyRows)")
    }

    /// The repair offer's question stayed off-screen below 160 columns behind a long path.
    @Test(arguments: [ConsoleLayout.minWidth, 80, 100])
    func aPromptsQuestionIsAlwaysWhole(width: Int) {
        var m = model()
        m.prompt = "1 unfinished recording in /tmp/trial-home/.local/share/capdeck/recordings (cut short by a crash). Repair now? (y/n)"
        let h = 30
        let g = ConsoleLayout.render(m, width: width, height: h)
        let row = g.row(h - 2)
        #expect(row.hasSuffix("Repair now? (y/n)") || row.trimmingCharacters(in: .whitespaces).hasSuffix("Repair now? (y/n)"), "\(row)")
        #expect(row.hasPrefix(" 1 unfinished recording") && row.contains("…") && row.count <= width, "\(row)")
    }

    @Test func belowTheMinimumSaysHowBigItNeedsToBe() {
        let w = ConsoleLayout.minWidth - 1, h = ConsoleLayout.minHeight(channels: 2)
        let text = ConsoleLayout.render(model(), width: w, height: h).text
        #expect(text.contains("needs a terminal of at least \(ConsoleLayout.minWidth)×\(h)"))
        #expect(text.contains("this one is \(w)×\(h)"))
        #expect(!text.contains("Capture session"))
        let short = ConsoleLayout.render(model(), width: 100, height: ConsoleLayout.minHeight(channels: 2) - 1).text
        #expect(short.contains("needs a terminal"))
        // More channels need more rows, up to where vertical bars take over.
        #expect(ConsoleLayout.render(model(channels: 4), width: 100, height: 20).text.contains("needs a terminal of at least 64×21"))
        #expect(ConsoleLayout.render(model(channels: 64), width: 100, height: 21).text.contains("needs a terminal of at least 64×22"))
    }

    @Test func sessionPanelShowsStatesDefaultsAndEffects() {
        var m = model()
        m.properties.usesApplicationAudioSession = false
        m.effective = RouteResolver.resolve(m.properties, appSession: AudioSessionState(), routes: InputRoutes(exclusive: "hw")).effective
        let g = ConsoleLayout.render(m, width: 100, height: 30)
        let rows = (0..<30).map { g.row($0) }
        let uses = rows.first { $0.contains("use app session") }!
        #expect(uses.contains("off") && uses.contains("on ") && uses.contains("private session: record-only, exclusive device"))
        let mix = rows.first { $0.contains("mix with others") }!
        #expect(mix.contains("no effect: 1 is off (private session)"))
        // Dimmed when it has no effect.
        let y = rows.firstIndex(of: mix)!
        #expect(g[6, y].style == .dim)
        // Apple's property names are in the help overlay, after the Linux words.
        m.showHelp = true
        let help = ConsoleLayout.render(m, width: 140, height: 40).text
        #expect(help.contains("mix with others: shared device, other programs record too /"))
        #expect(help.contains("configuresApplicationAudioSessionToMixWithOthers)"))
    }

    @Test func meterBarHasSubCellResolutionZonesPeakAndHold() {
        var g = ScreenGrid(width: 60, height: 1)
        // -30 dBFS RMS on a 60-cell -60…0 scale: exactly half.
        MeterBar.draw(&g, level: ChannelLevel(peakDB: -12, rmsDB: -30, holdDB: -3, clips: 0), x: 0, y: 0, width: 60, unicode: true)
        #expect(g.row(0).prefix(30).allSatisfy { $0 == "█" })
        #expect(g[30, 0].char == " ")
        #expect(g[MeterBar.column(for: -12, width: 60), 0].char == "▌" && g[MeterBar.column(for: -12, width: 60), 0].style == .peakTip)
        #expect(g[MeterBar.column(for: -3, width: 60), 0].style == .hold)
        #expect(g[5, 0].style == .meterLow)
        // A fraction of a cell draws a partial block.
        var p = ScreenGrid(width: 60, height: 1)
        MeterBar.draw(&p, level: ChannelLevel(peakDB: -120, rmsDB: -29.5, holdDB: -120, clips: 0), x: 0, y: 0, width: 60, unicode: true)
        #expect(p[30, 0].char == "▌")
        #expect(MeterBar.eighths(for: -29.5, width: 60) == 244)
        // Loud: red zone.
        var r = ScreenGrid(width: 60, height: 1)
        MeterBar.draw(&r, level: ChannelLevel(peakDB: -1, rmsDB: -2, holdDB: -1, clips: 3), x: 0, y: 0, width: 60, unicode: true)
        #expect(r[57, 0].style == .meterHigh && r[45, 0].style == .meterMid && r[20, 0].style == .meterLow)
    }

    @Test func asciiFallbackUsesNoUnicode() {
        var m = model()
        m.unicode = false
        m.recording = .recording
        m.freeBytes = 1_000_000_000
        m.bytesPerSecond = 192_000
        let text = ConsoleLayout.render(m, width: 100, height: 30).text
        #expect(text.unicodeScalars.allSatisfy { $0.isASCII || $0 == "×" })
        #expect(text.contains("#####"))
        #expect(text.contains("* REC"))
    }

    /// Recording for 83 s into a 15.9 MB file, `free` bytes left at 48 kHz stereo S16.
    func recordingModel(free: Int64) -> ConsoleModel {
        var m = model()
        m.recording = .recording
        m.filePath = "/home/u/rec/capdeck-20261124-120000.wav"
        m.recordedSeconds = 83
        m.fileBytes = 15_936_044
        m.freeBytes = free
        m.bytesPerSecond = 192_000
        return m
    }

    @Test func clipLightStaysLitAndRecordingPanelShowsTheFile() {
        var m = recordingModel(free: 50_000_000_000)
        m.clipLatched = [true, false]
        let g = ConsoleLayout.render(m, width: 100, height: 30)
        let rows = (0..<30).map { g.row($0) }
        #expect(rows[4].contains("CLIP") && !rows[5].contains("CLIP"))
        let rec = rows.first { $0.hasPrefix("Recording") }!
        #expect(rec.contains("● recording") && rec.contains("00:01:23") && rec.contains("15.9 MB") && rec.contains("free 50.0 GB"))
        #expect(rec.contains("72 h"))
        #expect(rows.contains { $0.contains("File /home/u/rec/capdeck-20261124-120000.wav") })
        #expect(rows[0].contains("● REC"))
    }

    /// The trigger's state beside the free-space estimate: after it where the row has room, else
    /// over it with none of the estimate left beside (at 110 columns the row read
    /// "free 52.3 GB  Trigger triggeredrmat)": the tail of "(≈ 75 h at this format)").
    @Test func theTriggerNeverLeavesPartOfTheEstimateBesideIt() {
        var m = recordingModel(free: 52_300_000_000)
        m.trigger = "triggered"
        for width in [64, 80, 90, 100, 110, 120, 140, 200] {
            let rec = (0..<30).map { ConsoleLayout.render(m, width: width, height: 30).row($0) }.first { $0.hasPrefix("Recording") }!
            let trimmed = rec.replacingOccurrences(of: " +$", with: "", options: .regularExpression)
            #expect(trimmed.hasSuffix("Trigger triggered"), "\(width) columns: \(rec)")
            // The estimate is whole or gone.
            #expect(rec.contains("(≈ 75 h at this format)") || !rec.contains("(≈"), "\(width) columns: \(rec)")
            #expect(!rec.contains("format)") || rec.contains("(≈ 75 h at this format)"), "\(width) columns: \(rec)")
        }
    }

    /// The stand-in source's label in the title bar stays whole at every width down to the
    /// console's minimum (64×20): it was cut to "capturing · BUILT-IN TEST S".
    @Test func theBuiltInLabelStaysReadableInTheTitle() {
        var m = model()
        m.builtIn = true
        m.running = true
        for recording in [ConsoleModel.RecordingState.stopped, .recording, .paused] {
            m.recording = recording
            for width in [64, 70, 80, 100, 120] {
                let title = ConsoleLayout.render(m, width: width, height: 24).row(0)
                #expect(title.contains("BUILT-IN TEST SIGNAL") && title.hasSuffix("? help "), "\(width) columns, \(recording): \(title)")
                if width >= 100 { #expect(title.contains("capturing · BUILT-IN TEST SIGNAL"), "\(width): \(title)") }
            }
        }
    }

    /// The app session's options are shown as whole names at every width, the rest counted
    /// ("+1"), and the line's note whole or not at all: at 120 columns it read
    /// "options mixWithOthers, allowBluetoothHFP, bluetoothHighQuali  rate any".
    @Test func theAppSessionLineCutsNoWord() {
        var m = model()
        m.appSession.options = [.mixWithOthers, .allowBluetoothHFP, .bluetoothHighQualityRecording]
        let names = ["mixWithOthers", "allowBluetoothHFP", "bluetoothHighQualityRecording"]
        for width in [64, 80, 100, 120, 140, 200] {
            let row = (0..<40).map { ConsoleLayout.render(m, width: width, height: 40).row($0) }.first { $0.hasPrefix("App session") } ?? ""
            let found: Range<String.Index>? = row.range(of: "options (.*)  rate", options: .regularExpression)
            #expect(found != nil, "\(width): \(row)")
            let options = found.map { String(row[$0]) } ?? ""
            let words = options.dropFirst("options ".count).dropLast("  rate".count)
                .components(separatedBy: ", ").flatMap { $0.components(separatedBy: " ") }.filter { !$0.isEmpty }
            for w in words { #expect(names.contains(w) || w.hasPrefix("+"), "\(width) columns: '\(w)' in \(row)") }
            #expect(row.contains("rate any"), "\(width): \(row)")
            let trimmed = row.replacingOccurrences(of: " +$", with: "", options: .regularExpression)
            #expect(trimmed.hasSuffix(")") || trimmed.hasSuffix("rate any"), "\(width): \(row)")
            if width >= 140 { #expect(row.contains(names.joined(separator: ", ")), "\(width): \(row)") }
        }
        #expect(ConsoleLayout.fitList(["ab", "cd", "ef"], width: 10) == "ab, cd, ef")
        #expect(ConsoleLayout.fitList(["ab", "cd", "ef"], width: 9) == "ab, cd +1")
        #expect(ConsoleLayout.fitList(["ab", "cd", "ef"], width: 2) == "+3")
    }

    @Test func overlays() {
        var m = model()
        m.showHelp = true
        let help = ConsoleLayout.render(m, width: 100, height: 50).text
        for b in KeyMap.bindings { #expect(help.contains(String(b.help.prefix(70))), "\(b.help)") }
        m.showHelp = false
        m.picker = ConsoleModel.Picker(title: "Input device", items: ["hw:0", "dsnoop:0", "builtin"], selected: 1)
        let pick = ConsoleLayout.render(m, width: 100, height: 30).text
        #expect(pick.contains("Input device") && pick.contains("> dsnoop:0"))
        m.picker = nil
        m.prompt = "Recording in progress: stop it, save the file and quit? (y/n)"
        let grid = ConsoleLayout.render(m, width: 100, height: 30)
        #expect(grid.row(28).contains("stop it, save the file and quit? (y/n)"))
    }

    @Test func keyTableMatchesTheIssue() {
        func key(_ c: Character) -> Int32 { Int32(c.asciiValue!) }
        #expect(KeyMap.command(for: key("1")) == .toggle(.usesAppSession))
        #expect(KeyMap.command(for: key("2")) == .toggle(.autoConfigure))
        #expect(KeyMap.command(for: key("3")) == .toggle(.mixWithOthers))
        #expect(KeyMap.command(for: key("4")) == .toggle(.bluetoothHQ))
        #expect(KeyMap.command(for: key("r")) == .recordStartStop)
        #expect(KeyMap.command(for: key("p")) == .pauseResume)
        #expect(KeyMap.command(for: key("d")) == .chooseDevice)
        #expect(KeyMap.command(for: key("c")) == .cycleCategory)
        #expect(KeyMap.command(for: key("x")) == .resetMeters)
        #expect(KeyMap.command(for: key("?")) == .help && KeyMap.command(for: KeyMap.f1) == .help)
        #expect(KeyMap.command(for: key("q")) == .quit && KeyMap.command(for: KeyMap.escape) == .quit)
        #expect(KeyMap.command(for: KeyMap.ctrlL) == .redraw)
        #expect(KeyMap.command(for: key("z")) == nil)
    }
}
