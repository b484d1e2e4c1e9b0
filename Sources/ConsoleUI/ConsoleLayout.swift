// Lays the console out on a grid: header, meters, session rules, app session, recording, event
// log, footer, and the help / picker / prompt overlays. Pure: model in, grid out.
import CaptureCore

public enum ConsoleLayout {
    public static let minWidth = 64
    /// Rows needed for `channels` meters.
    public static func minHeight(channels: Int) -> Int { 18 + max(1, channels) }

    public static func render(_ m: ConsoleModel, width: Int, height: Int) -> ScreenGrid {
        var g = ScreenGrid(width: width, height: height)
        let channels = max(1, m.levels.count)
        guard width >= minWidth, height >= minHeight(channels: channels) else {
            tooSmall(&g, m, needW: minWidth, needH: minHeight(channels: channels))
            return g
        }
        var y = 0
        titleBar(&g, m, y: y); y += 1
        header(&g, m, y: y); y += 2
        rule(&g, m, y: y); y += 1
        meters(&g, m, y: y); y += channels + 1
        if let l = m.loudness {
            // All three rows where the rest still fits, else one line of figures.
            let rows = height - minHeight(channels: channels) >= LoudnessStrip.fullRows ? LoudnessStrip.fullRows : min(1, height - minHeight(channels: channels))
            if rows > 0 { LoudnessStrip.draw(&g, l, y: y, rows: rows, unicode: m.unicode); y += rows }
        }
        rule(&g, m, y: y); y += 1
        sessionPanel(&g, m, y: y); y += 5
        appSessionLine(&g, m, y: y); y += 1
        recordingPanel(&g, m, y: y); y += 2
        // The markers line, where the log below keeps at least three rows (80×24 with two channels).
        if height - 1 - (y + 2) >= 3 { markersLine(&g, m, y: y); y += 1 }
        rule(&g, m, y: y); y += 1
        // The first row of the log area says what mix off does to other programs' audio, where
        // the log keeps at least two rows (at the minimum size the log comes first).
        if height - 1 - y >= 3 { otherAudioLine(&g, m, y: y); y += 1 }
        eventLog(&g, m, y: y, rows: height - 1 - y)
        footer(&g, m, y: height - 1)
        if let p = m.prompt { promptLine(&g, p, y: height - 2) }
        if let picker = m.picker { pickerOverlay(&g, m, picker) }
        if m.showHelp { helpOverlay(&g, m) }
        return g
    }

    // MARK: Pieces

    static func tooSmall(_ g: inout ScreenGrid, _ m: ConsoleModel, needW: Int, needH: Int) {
        let x = m.unicode ? "×" : "x"
        let lines = ["capdeck needs a terminal of at least \(needW)\(x)\(needH)",
                     "(this one is \(g.width)\(x)\(g.height)); please enlarge it.",
                     m.recording == .stopped ? "q quits." : "Recording continues; q asks before quitting."]
        for (i, l) in lines.enumerated() {
            let y = g.height / 2 - 1 + i
            g.put(l, x: max(0, (g.width - l.count) / 2), y: y, style: i == 0 ? .warning : .normal)
        }
    }

    static func titleBar(_ g: inout ScreenGrid, _ m: ConsoleModel, y: Int) {
        g.fill(" ", x: 0, y: y, width: g.width, style: .reverse)
        g.put(" CaptureDeck ", x: 0, y: y, style: .reverse)
        let state: (String, CellStyle) = switch m.recording {
        case .recording: (m.unicode ? " ● REC " : " * REC ", .recording)
        case .paused: (m.unicode ? " ‖ PAUSED " : " || PAUSED ", .warning)
        case .stopped: (m.unicode ? " ■ NOT RECORDING " : " - NOT RECORDING ", .reverse)
        }
        g.put(state.0, x: 14, y: y, style: state.1)
        var status = m.interrupted ? "INTERRUPTED: " + m.interruption : (m.running ? "capturing" : "not capturing")
        if m.builtIn { status += (m.unicode ? " · " : " - ") + "BUILT-IN TEST SIGNAL" }
        g.put(status, x: 15 + state.0.count, y: y, style: m.interrupted || m.builtIn ? .warning : .reverse,
              maxWidth: g.width - 30 - state.0.count)
        let help = "? help "
        g.put(help, x: g.width - help.count, y: y, style: .reverse)
    }

    static func header(_ g: inout ScreenGrid, _ m: ConsoleModel, y: Int) {
        // Line 1: input and route on the left; real-time status and xruns on the right.
        var rt = m.realtime.hasPrefix("normal priority: ") ? "normal priority (" + m.realtime.dropFirst(17) + ")" : m.realtime
        if g.width < 100 { rt = m.realtime.hasPrefix("SCHED_FIFO") ? m.realtime : "normal priority" }
        let xr = "xruns \(m.xruns)"
        let right = rt + "  " + xr
        let rx = g.width - right.count
        let leftLimit = rx - 2
        var x = g.put("Input ", x: 0, y: y, style: .dim)
        if m.builtIn {
            x += g.put("BUILT-IN TEST SIGNAL", x: x, y: y, style: .warning, maxWidth: leftLimit - x)
        } else {
            x += g.put(m.inputName, x: x, y: y, style: .bold, maxWidth: min(28, leftLimit - x))
        }
        x += g.put("  Route ", x: x, y: y, style: .dim, maxWidth: max(0, leftLimit - x))
        if let r = m.route {
            x += g.put(r.pcm, x: x, y: y, style: .bold, maxWidth: max(0, min(30, leftLimit - x)))
            g.put(" (\(m.accessLabel.isEmpty ? r.kind.rawValue : m.accessLabel))", x: x, y: y, maxWidth: max(0, leftLimit - x))
        } else {
            g.put(m.interrupted ? "waiting for the device" : "none", x: x, y: y, style: .warning, maxWidth: max(0, leftLimit - x))
        }
        g.put(rt, x: rx, y: y, style: m.realtime.hasPrefix("SCHED_FIFO") ? .good : .warning)
        g.put(xr, x: g.width - xr.count, y: y, style: m.xruns > 0 ? .error : .normal)
        // Line 2: what was negotiated.
        var line = "no device open"
        if let gr = m.granted {
            let dot = m.unicode ? " · " : ", "
            line = "\(gr.format.sampleFormat.rawValue) \(gr.format.sampleRate) Hz \(gr.format.channels) ch\(dot)period \(Readout.ms(gr.periodMs))\(dot)buffer \(Readout.ms(gr.bufferMs))\(dot)latency \(Readout.ms(gr.periodMs + gr.bufferMs))\(dot)\(gr.access)"
        }
        g.put(line, x: 0, y: y + 1, style: m.granted == nil ? .warning : .normal)
    }

    static func rule(_ g: inout ScreenGrid, _ m: ConsoleModel, y: Int) {
        g.fill(m.unicode ? "─" : "-", x: 0, y: y, width: g.width, style: .dim)
    }

    // MARK: Meters

    /// dBFS range of the meter scale.
    public static let floorDB = -60.0

    static func meters(_ g: inout ScreenGrid, _ m: ConsoleModel, y: Int) {
        let labelW = 4
        let numbersW = 27
        let barX = labelW
        let barW = g.width - labelW - numbersW - 1
        let levels = m.levels.isEmpty ? [ChannelLevel.silent] : m.levels
        for (i, l) in levels.enumerated() {
            let row = y + i
            g.put(channelLabel(i, count: levels.count), x: 0, y: row, style: .dim)
            MeterBar.draw(&g, level: l, x: barX, y: row, width: barW, unicode: m.unicode)
            let nx = barX + barW + 1
            g.put(Readout.db(l.peakDB) + " pk", x: nx, y: row, style: .bold)
            g.put(Readout.db(l.rmsDB) + " rms", x: nx + 10, y: row)
            let latched = i < m.clipLatched.count && m.clipLatched[i]
            g.put(latched ? "CLIP" : (m.unicode ? " ·  " : " .  "), x: nx + 22, y: row, style: latched ? .clip : .dim)
        }
        // The scale: ticks every 10 dB under the bar.
        let sy = y + levels.count
        var db = floorDB
        while db <= 0 {
            let col = barX + MeterBar.column(for: db, width: barW)
            let label = db == 0 ? "0" : String(Int(db))
            let lx = min(max(barX, col - label.count / 2), barX + barW - label.count)
            g.put(label, x: lx, y: sy, style: .dim)
            db += 10
        }
        g.put("dBFS", x: barX + barW + 1, y: sy, style: .dim)
    }

    static func channelLabel(_ i: Int, count: Int) -> String {
        if count == 2 { return i == 0 ? " L  " : " R  " }
        if count == 1 { return " M  " }
        return " \(i + 1)  "
    }

    // MARK: Panels

    static let shortNames: [AudioSessionProperties.Key: String] = [
        .usesAppSession: "uses app audio session",
        .autoConfigure: "auto-configures app session",
        .mixWithOthers: "mixes with others",
        .bluetoothHQ: "Bluetooth HQ recording",
    ]

    static func sessionPanel(_ g: inout ScreenGrid, _ m: ConsoleModel, y: Int) {
        g.put("Capture session", x: 0, y: y, style: .title)
        g.put("key property", x: 17, y: y, style: .dim)
        let wide = g.width >= 118
        let narrow = g.width < 90
        let nameW = wide ? 66 : (narrow ? 16 : 29)
        // Narrow terminals pack the columns tighter so the effect text keeps its words.
        let sx = narrow ? 4 + nameW + 1 : 19 + nameW
        let (defX, effX) = narrow ? (6, 13) : (7, 16)
        g.put(narrow ? "state default effect" : "state  default  effect", x: sx, y: y, style: .dim)
        for (i, key) in AudioSessionProperties.Key.allCases.enumerated() {
            let row = y + 1 + i
            let on = m.properties[key]
            let eff = m.effective[key] ?? .applies(on)
            let dim = !eff.isInEffect
            let base: CellStyle = dim ? .dim : .normal
            g.put(" \(i + 1) ", x: 0, y: row, style: .key)
            let name = wide ? key.appleName : (narrow ? (tinyNames[key] ?? key.rawValue) : (shortNames[key] ?? key.rawValue))
            g.put(name, x: 4, y: row, style: base, maxWidth: nameW + 14)
            g.put(on ? "ON " : "off", x: sx, y: row, style: dim ? .dim : (on ? .good : .bold))
            g.put(key.appleDefault ? "on " : "off", x: sx + defX, y: row, style: .dim)
            if on == key.appleDefault { g.put("*", x: sx + defX + 3, y: row, style: .dim) }
            let text = effectText(eff)
            let fits = text.count <= g.width - sx - effX
            g.put(fits ? text : shortEffectText(eff), x: sx + effX, y: row,
                  style: dim ? .dim : (isAppDecides(eff) ? .warning : .normal), maxWidth: g.width - sx - effX)
        }
    }

    static let tinyNames: [AudioSessionProperties.Key: String] = [
        .usesAppSession: "uses app session", .autoConfigure: "auto-configure",
        .mixWithOthers: "mix with others", .bluetoothHQ: "Bluetooth HQ",
    ]

    static func shortEffectText(_ e: EffectiveState) -> String {
        switch e {
        case .applies(let v): v ? "in effect: on" : "in effect: off"
        case .noEffect(let r): r == "uses app session is off" ? "no effect: app session off" : "no effect"
        case .appSessionDecides(let v): "app session decides (\(v ? "on" : "off"))"
        }
    }

    static func isAppDecides(_ e: EffectiveState) -> Bool { if case .appSessionDecides = e { true } else { false } }

    static func effectText(_ e: EffectiveState) -> String {
        switch e {
        case .applies(let v): v ? "in effect: on" : "in effect: off"
        case .noEffect(let r): "no effect: \(r)"
        case .appSessionDecides(let v): "app session decides (\(v ? "on" : "off"))"
        }
    }

    static func appSessionLine(_ g: inout ScreenGrid, _ m: ConsoleModel, y: Int) {
        var x = g.put("App session ", x: 0, y: y, style: .title)
        x += g.put("category ", x: x, y: y, style: .dim)
        x += g.put(m.appSession.category.rawValue, x: x, y: y, style: m.appSession.category.permitsRecording ? .bold : .warning)
        x += g.put("  options ", x: x, y: y, style: .dim)
        x += g.put(m.appSession.options.description, x: x, y: y, maxWidth: 52)
        x += g.put("  rate ", x: x, y: y, style: .dim)
        x += g.put(m.appSession.preferredSampleRate.map { "\($0) Hz" } ?? "any", x: x, y: y)
        let who = m.properties.usesApplicationAudioSession && m.properties.automaticallyConfiguresApplicationAudioSession
            ? "  (set by the capture session)" : (m.properties.usesApplicationAudioSession ? "  (yours: c cycles the category)" : "  (not used)")
        g.put(who, x: x, y: y, style: .dim, maxWidth: g.width - x)
    }

    /// What mix off does to other programs' audio right now, and what `3` would change, in plain
    /// words: "mpv, Firefox paused (mix off) · 3 lets them play".
    static func otherAudioLine(_ g: inout ScreenGrid, _ m: ConsoleModel, y: Int) {
        var x = g.put("Other audio ", x: 0, y: y, style: .title)
        let dot = m.unicode ? " · " : " - "
        let text: String
        var style: CellStyle = .normal
        if let paused = m.otherAudioPaused {
            if !m.properties.usesApplicationAudioSession {
                text = "left alone (no app session: 1 turns it on)"
            } else if m.otherAudioInterrupting {
                text = paused.isEmpty ? "nothing playing to pause (mix off pauses players that start)\(dot)3 lets them play"
                                      : "\(paused.joined(separator: ", ")) paused (mix off)\(dot)3 lets \(paused.count == 1 ? "it" : "them") play"
                style = paused.isEmpty ? .normal : .warning
            } else if !m.running {
                text = "plays on (not capturing)"
            } else {
                text = "plays on (mix on)\(dot)3 pauses players while capturing"
            }
        } else {
            text = "not followed (no session bus)"
            style = .dim
        }
        x += g.put(text, x: x, y: y, style: style, maxWidth: g.width - x)
        if !m.cardsReserved.isEmpty {
            let cards = m.cardsReserved.map { "card \($0)" }.joined(separator: ", ")
            g.put("\(dot)\(cards) reserved", x: x, y: y, style: .warning, maxWidth: g.width - x)
        }
    }

    static func recordingPanel(_ g: inout ScreenGrid, _ m: ConsoleModel, y: Int) {
        var x = g.put("Recording ", x: 0, y: y, style: .title)
        switch m.recording {
        case .recording: x += g.put(m.unicode ? "● recording" : "* recording", x: x, y: y, style: .recording)
        case .paused: x += g.put(m.unicode ? "‖ paused" : "|| paused", x: x, y: y, style: .warning)
        case .stopped: x += g.put("stopped (r records)", x: x, y: y, style: .dim)
        }
        x += g.put("  \(Readout.duration(m.recordedSeconds))", x: x, y: y, style: .bold)
        x += g.put("  \(Readout.bytes(m.fileBytes))", x: x, y: y)
        if let free = m.freeBytes {
            x += g.put("  free ", x: x, y: y, style: .dim)
            x += g.put(Readout.bytes(free), x: x, y: y)
            if m.bytesPerSecond > 0 {
                let secs = Double(free) / Double(m.bytesPerSecond)
                g.put(" (\(m.unicode ? "≈" : "~") \(Readout.hours(secs)) at this format)", x: x, y: y, style: secs < 600 ? .warning : .dim)
            }
        }
        preRollAndTrigger(&g, m, y: y, after: x)
        x = g.put("File ", x: 0, y: y + 1, style: .dim)
        if let part = m.filePart, part > 1, m.filePath != nil { x += g.put("part \(part) ", x: x, y: y + 1, style: .bold) }
        let path = m.filePath ?? "next file goes in \(m.directory)"
        g.put(Readout.fitPath(path, width: g.width - x, unicode: m.unicode), x: x, y: y + 1, style: m.filePath == nil ? .dim : .normal)
    }

    /// `Pre-roll 1.2/5.0 s  Trigger armed`, when set, at the right of the recording row: after
    /// what is there if it fits, else over the end of the free-space estimate.
    static func preRollAndTrigger(_ g: inout ScreenGrid, _ m: ConsoleModel, y: Int, after end: Int) {
        var parts: [(String, CellStyle)] = []
        if m.preRollSeconds > 0 {
            parts += [("Pre-roll ", .dim), ("\(Readout.seconds(m.preRollHeldSeconds))/\(Readout.seconds(m.preRollSeconds)) s", .normal)]
        }
        if m.trigger != "off" {
            let style: CellStyle = switch m.trigger { case "triggered": .recording; case "holding": .warning; default: .bold }
            parts += [(parts.isEmpty ? "Trigger " : "  Trigger ", .dim), (m.trigger, style)]
        }
        guard !parts.isEmpty else { return }
        let width = parts.reduce(0) { $0 + $1.0.count }
        var x = Swift.max(0, Swift.min(end + 2, g.width - width))
        if x > 0 { g.fill(" ", x: x - 1, y: y, width: 1, style: .normal) }
        for (text, style) in parts { x += g.put(text, x: x, y: y, style: style) }
    }

    /// The recording's last few markers, newest last, as many as fit: `00:01:05 mark`.
    static func markersLine(_ g: inout ScreenGrid, _ m: ConsoleModel, y: Int) {
        var x = g.put("Markers ", x: 0, y: y, style: .dim)
        guard m.markerCount > 0 else {
            g.put(m.recording == .stopped ? "none" : "none yet (m marks the frame being captured)", x: x, y: y, style: .dim,
                  maxWidth: g.width - x)
            return
        }
        x += g.put("\(m.markerCount)  ", x: x, y: y, style: .bold)
        let cut = m.unicode ? "…" : "~"
        let items = m.markers.map { mk in
            (Readout.duration(mk.seconds, tenths: true), mk.label.count > 24 ? mk.label.prefix(23) + cut : mk.label)
        }
        var fit = 0
        var width = 0
        for (t, l) in items.reversed() {
            let w = t.count + 1 + l.count + 2
            if x + width + w - 2 > g.width { break }
            width += w
            fit += 1
        }
        for (t, l) in items.suffix(fit) {
            x += g.put(t, x: x, y: y, style: .dim)
            x += g.put(" " + l + "  ", x: x, y: y, maxWidth: g.width - x)
        }
    }

    static func eventLog(_ g: inout ScreenGrid, _ m: ConsoleModel, y: Int, rows: Int) {
        guard rows > 0 else { return }
        g.put("Events", x: 0, y: y, style: .title)
        let shown = m.events.suffix(max(0, rows - 1))
        for (i, e) in shown.enumerated() {
            let row = y + 1 + i
            g.put(e.time, x: 0, y: row, style: .dim)
            let style: CellStyle = switch e.severity {
            case .info: .normal
            case .warning: .warning
            case .error: .error
            }
            g.put(e.text, x: e.time.count + 1, y: row, style: style, maxWidth: g.width - e.time.count - 1)
        }
    }

    static func footer(_ g: inout ScreenGrid, _ m: ConsoleModel, y: Int) {
        g.fill(" ", x: 0, y: y, width: g.width, style: .reverse)
        var items = [("1-4", "session"), ("r", m.recording == .stopped ? "record" : "stop"), ("p", m.recording == .paused ? "resume" : "pause"),
                     ("d", "device"), ("c", "category"), ("x", "reset"), ("?", "help"), ("q", "quit")]
        let marks = m.recording != .stopped
        if marks { items.insert(("m", "mark"), at: 3) }
        // Narrow terminals get short labels, so every key (quit above all) stays visible.
        if items.reduce(1, { $0 + $1.0.count + $1.1.count + 3 }) > g.width {
            items = [("1-4", "rules"), ("r", m.recording == .stopped ? "rec" : "stop"), ("p", m.recording == .paused ? "resume" : "pause"),
                     ("d", "dev"), ("c", "cat"), ("x", "reset"), ("?", "help"), ("q", "quit")]
            if marks { items.insert(("m", "mark"), at: 3) }
        }
        let gap = items.reduce(1, { $0 + $1.0.count + $1.1.count + 3 }) > g.width ? " " : "  "
        var x = 1
        for (k, label) in items {
            if x + k.count + label.count + 1 + gap.count > g.width { break }
            x += g.put(k, x: x, y: y, style: .key)
            x += g.put(" \(label)\(gap)", x: x, y: y, style: .reverse)
        }
    }

    static func promptLine(_ g: inout ScreenGrid, _ text: String, y: Int) {
        g.fill(" ", x: 0, y: y, width: g.width, style: .warning)
        g.put(" " + text, x: 0, y: y, style: .warning)
    }

    // MARK: Overlays

    static func box(_ g: inout ScreenGrid, x: Int, y: Int, w: Int, h: Int, title: String, unicode: Bool) {
        let (tl, tr, bl, br, hz, vt): (Character, Character, Character, Character, Character, Character) =
            unicode ? ("┌", "┐", "└", "┘", "─", "│") : ("+", "+", "+", "+", "-", "|")
        for row in y..<(y + h) { g.fill(" ", x: x, y: row, width: w) }
        g.fill(hz, x: x, y: y, width: w)
        g.fill(hz, x: x, y: y + h - 1, width: w)
        for row in y..<(y + h) {
            g[x, row] = Cell(vt)
            g[x + w - 1, row] = Cell(vt)
        }
        g[x, y] = Cell(tl); g[x + w - 1, y] = Cell(tr); g[x, y + h - 1] = Cell(bl); g[x + w - 1, y + h - 1] = Cell(br)
        g.put(" \(title) ", x: x + 2, y: y, style: .title)
    }

    static func helpOverlay(_ g: inout ScreenGrid, _ m: ConsoleModel) {
        let lines = KeyMap.bindings.map { b in (b.keys.joined(separator: " / "), b.help) }
        let w = min(g.width - 4, 92)
        let h = min(g.height - 2, lines.count + 4)
        let x = (g.width - w) / 2
        let y = max(0, (g.height - h) / 2)
        box(&g, x: x, y: y, w: w, h: h, title: "Keys", unicode: m.unicode)
        for (i, l) in lines.prefix(h - 4).enumerated() {
            g.put(l.0, x: x + 2, y: y + 1 + i, style: .key)
            g.put(l.1, x: x + 12, y: y + 1 + i, maxWidth: w - 13)
        }
        g.put("Dimmed properties have no effect under the current combination.", x: x + 2, y: y + h - 3, style: .dim, maxWidth: w - 4)
        g.put("Esc, ? or q closes this help.", x: x + 2, y: y + h - 2, style: .dim, maxWidth: w - 4)
    }

    static func pickerOverlay(_ g: inout ScreenGrid, _ m: ConsoleModel, _ p: ConsoleModel.Picker) {
        let w = min(g.width - 4, max(40, (p.items.map(\.count).max() ?? 0) + 8))
        let visible = min(p.items.count, g.height - 6)
        let h = visible + 4
        let x = (g.width - w) / 2
        let y = max(0, (g.height - h) / 2)
        box(&g, x: x, y: y, w: w, h: h, title: p.title, unicode: m.unicode)
        let first = max(0, min(p.selected - visible + 1, p.items.count - visible))
        for i in 0..<visible {
            let idx = first + i
            let sel = idx == p.selected
            g.fill(" ", x: x + 1, y: y + 1 + i, width: w - 2, style: sel ? .reverse : .normal)
            g.put((sel ? "> " : "  ") + p.items[idx], x: x + 2, y: y + 1 + i, style: sel ? .reverse : .normal, maxWidth: w - 4)
        }
        g.put(m.unicode ? "↑↓ choose · Enter select · Esc cancel" : "up/down choose, Enter select, Esc cancel", x: x + 2, y: y + h - 2, style: .dim, maxWidth: w - 4)
    }
}

/// Draws one horizontal meter: RMS as the bar, the peak as a brighter tip, a peak-hold marker.
public enum MeterBar {
    static let partials: [Character] = ["▏", "▎", "▍", "▌", "▋", "▊", "▉"]

    /// The column (0..<width) where `db` falls on the -60…0 dBFS scale.
    public static func column(for db: Double, width: Int) -> Int {
        let f = (min(0, max(ConsoleLayout.floorDB, db)) - ConsoleLayout.floorDB) / -ConsoleLayout.floorDB
        return min(width - 1, max(0, Int((f * Double(width)).rounded(.down))))
    }

    /// Fill of the bar in eighths of a cell.
    public static func eighths(for db: Double, width: Int) -> Int {
        guard db > ConsoleLayout.floorDB else { return 0 }
        let f = (min(0, db) - ConsoleLayout.floorDB) / -ConsoleLayout.floorDB
        return Int((f * Double(width * 8)).rounded())
    }

    static func zone(_ col: Int, width: Int) -> CellStyle {
        let db = ConsoleLayout.floorDB + Double(col) / Double(width) * -ConsoleLayout.floorDB
        return db >= -6 ? .meterHigh : (db >= -18 ? .meterMid : .meterLow)
    }

    public static func draw(_ g: inout ScreenGrid, level: ChannelLevel, x: Int, y: Int, width: Int, unicode: Bool) {
        let fill = eighths(for: level.rmsDB, width: width)
        let full = fill / 8
        let part = fill % 8
        for c in 0..<width {
            var ch: Character = unicode ? " " : "."
            var style = CellStyle.dim
            if c < full {
                ch = unicode ? "█" : "#"
                style = zone(c, width: width)
            } else if c == full && part > 0 {
                ch = unicode ? partials[part - 1] : (part >= 4 ? "=" : "-")
                style = zone(c, width: width)
            } else if !unicode {
                ch = " "
            }
            g[x + c, y] = Cell(ch, style)
        }
        if level.peakDB > ConsoleLayout.floorDB {
            let pc = column(for: level.peakDB, width: width)
            if pc >= full { g[x + pc, y] = Cell(unicode ? "▌" : "|", .peakTip) }
        }
        if level.holdDB > ConsoleLayout.floorDB {
            let hc = column(for: level.holdDB, width: width)
            if hc > column(for: level.peakDB, width: width) { g[x + hc, y] = Cell(unicode ? "▏" : "!", .hold) }
        }
    }
}
