// Lays the console out on a grid: header, meters, session rules, app session, recording, event
// log, footer, and the help / picker / prompt overlays. Pure: model in, grid out.
import CaptureCore

public enum ConsoleLayout {
    public static let minWidth = 64
    /// Rows everything but the meters takes at the smallest.
    static let fixedRows = 17
    /// Rows needed for `channels` meters on a terminal `width` wide: a row each, or, where that is
    /// more, the vertical bars (`meterLayout`).
    public static func minHeight(channels: Int, width: Int = minWidth) -> Int {
        let n = max(1, channels)
        return fixedRows + min(n + 1, width >= n ? MeterLayout.verticalMinimum(channels: n) : .max)
    }

    public static func render(_ m: ConsoleModel, width: Int, height: Int) -> ScreenGrid {
        var g = ScreenGrid(width: width, height: height)
        draw(&g, m)
        return g
    }

    /// Where the meters went: their first row and layout (`ConsoleRenderer` redraws just them).
    struct MeterPlace: Equatable {
        var y: Int
        var layout: MeterLayout
        var rows: Range<Int>
    }

    /// Draws the whole screen on a blank grid; returns where the meters are (nil: too small).
    @discardableResult
    static func draw(_ g: inout ScreenGrid, _ m: ConsoleModel) -> MeterPlace? {
        let width = g.width, height = g.height
        let channels = max(1, m.levels.count)
        guard width >= minWidth, var layout = MeterLayout.choose(channels: channels, width: width, rows: height - fixedRows) else {
            tooSmall(&g, m, needW: max(minWidth, min(channels, 2 * minWidth)), needH: minHeight(channels: channels, width: max(width, minWidth)))
            return nil
        }
        // The loudness strip under the meters: all three rows where the meters still fit beside
        // it, else one line of figures, else (at the minimum size) none.
        var stripRows = 0
        if m.loudness != nil {
            for rows in [LoudnessStrip.fullRows, 1] {
                if let l = MeterLayout.choose(channels: channels, width: width, rows: height - fixedRows - rows) {
                    layout = l
                    stripRows = rows
                    break
                }
            }
        }
        var y = 0
        titleBar(&g, m, y: y); y += 1
        header(&g, m, y: y); y += 2
        rule(&g, m, y: y); y += 1
        let place = MeterPlace(y: y, layout: layout, rows: y..<(y + layout.rows(channels: channels)))
        drawMeters(&g, m, place)
        y = place.rows.upperBound
        if let l = m.loudness, stripRows > 0 { LoudnessStrip.draw(&g, l, y: y, rows: stripRows, unicode: m.unicode); y += stripRows }
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
        return place
    }

    /// The meters (and their scale or labels) on their rows, which nothing else draws on.
    static func drawMeters(_ g: inout ScreenGrid, _ m: ConsoleModel, _ place: MeterPlace) {
        switch place.layout {
        case .rows: meters(&g, m, y: place.y)
        case .vertical: verticalMeters(&g, m, y: place.y, layout: place.layout)
        }
    }

    // MARK: Pieces

    /// Says how big the terminal must be, wrapped to whatever width it has (down to one column)
    /// and centred; the size line first where not every line fits.
    static func tooSmall(_ g: inout ScreenGrid, _ m: ConsoleModel, needW: Int, needH: Int) {
        let x = m.unicode ? "×" : "x"
        let sentences = [("capdeck needs a terminal of at least \(needW)\(x)\(needH) (this one is \(g.width)\(x)\(g.height)); please enlarge it.", CellStyle.warning),
                         (m.recording == .stopped ? "q quits." : "Recording continues; q asks before quitting.", .normal)]
        let lines = sentences.flatMap { text, style in Readout.wrap(text, width: g.width).map { ($0, style) } }
        let shown = lines.prefix(g.height)
        let top = max(0, (g.height - shown.count) / 2)
        for (i, (l, style)) in shown.enumerated() {
            g.put(l, x: max(0, (g.width - l.count) / 2), y: top + i, style: style)
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
        // Up to one column before "? help".
        let room = g.width - 23 - state.0.count
        if m.builtIn {
            // The stand-in source's label must stay readable however narrow: the state's word
            // goes first, then the label shortens (it was cut to "BUILT-IN TEST S" at 64 columns).
            let full = status + (m.unicode ? " · " : " - ") + "BUILT-IN TEST SIGNAL"
            status = [full, "BUILT-IN TEST SIGNAL", "BUILT-IN SIGNAL", "BUILT-IN"].first { $0.count <= room } ?? "BUILT-IN"
        }
        g.put(status, x: 15 + state.0.count, y: y, style: m.interrupted || m.builtIn ? .warning : .reverse,
              maxWidth: room)
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
        let scale = MeterScale.of(m.ballistics)
        for (i, l) in levels.enumerated() {
            let row = y + i
            g.put(rowLabel(m, i, count: levels.count), x: 0, y: row, style: .dim)
            MeterBar.draw(&g, level: l, x: barX, y: row, width: barW, unicode: m.unicode, scale: scale)
            let nx = barX + barW + 1
            g.put(Readout.db(l.peakDB) + " pk", x: nx, y: row, style: .bold)
            // Sample peak: the RMS beside it; a ballistic mode: its reading, in its scale's units.
            if m.ballistics == .peak {
                g.put(Readout.db(l.rmsDB) + " rms", x: nx + 10, y: row)
            } else {
                g.put(scale.readout(l.ballisticDB), x: nx + 10, y: row)
            }
            let latched = i < m.clipLatched.count && m.clipLatched[i]
            g.put(latched ? "CLIP" : (m.unicode ? " ·  " : " .  "), x: nx + 22, y: row, style: latched ? .clip : .dim)
        }
        // The scale under the bar: its ticks (a label that would touch the one before is left
        // out), then the unit and, in a ballistic mode, its name.
        let sy = y + levels.count
        var free = barX
        for t in scale.ticks {
            let col = barX + MeterBar.column(for: t.dBFS, width: barW, scale: scale)
            let lx = min(max(barX, col - t.label.count / 2), barX + barW - t.label.count)
            guard lx >= free else { continue }
            g.put(t.label, x: lx, y: sy, style: .dim)
            free = lx + t.label.count + 1
        }
        g.put(scale.unit, x: barX + barW + 1, y: sy, style: .dim, maxWidth: numbersW)
    }

    /// A meter's label: ` L  `, ` R  `, ` M  ` (mono), else the channel's number (also the status line's).
    public static func channelLabel(_ i: Int, count: Int) -> String {
        if count == 2 { return i == 0 ? " L  " : " R  " }
        if count == 1 { return " M  " }
        return " \(i + 1)  "
    }

    /// A meter's label in the rows layout: the device's name for the channel when it has one
    /// (3 letters at most), the selected device channel's number, else as `channelLabel`.
    static func rowLabel(_ m: ConsoleModel, _ i: Int, count: Int) -> String {
        if i < m.channelNames.count, !m.channelNames[i].isEmpty { return " " + m.channelNames[i].prefix(3).padding(3) }
        if m.channelNumbers.count == count { return " " + String(m.channelNumbers[i]).padding(3) }
        return channelLabel(i, count: count)
    }

    /// The device channel number meter `i` shows.
    static func number(_ m: ConsoleModel, _ i: Int) -> Int { i < m.channelNumbers.count ? m.channelNumbers[i] : i + 1 }

    /// The focused meter's numbers on one line: `ch 12/64 AUX11  -8.3 pk  -18.8 rms  hold -6.0  CLIP  [ ] channel`.
    static func focusLine(_ g: inout ScreenGrid, _ m: ConsoleModel, y: Int, levels: [ChannelLevel]) {
        let n = levels.count
        let i = ((m.meterFocus % n) + n) % n
        let l = levels[i]
        var x = g.put("ch ", x: 0, y: y, style: .dim)
        x += g.put("\(number(m, i))", x: x, y: y, style: .bold)
        x += g.put("/\(m.channelNumbers.count == n ? "\(i + 1) of \(n)" : "\(n)")", x: x, y: y, style: .dim)
        if i < m.channelNames.count, !m.channelNames[i].isEmpty { x += g.put(" " + m.channelNames[i], x: x, y: y, style: .bold, maxWidth: 10) }
        x += 1
        x += g.put(Readout.db(l.peakDB) + " pk", x: x, y: y, style: .bold)
        // Sample peak: the RMS beside it; a ballistic mode: its reading, in its scale's units.
        x += g.put(" " + (m.ballistics == .peak ? Readout.db(l.rmsDB) + " rms" : MeterScale.of(m.ballistics).readout(l.ballisticDB)), x: x, y: y)
        x += g.put("  hold" + Readout.db(l.holdDB), x: x, y: y, style: .dim)
        let latched = i < m.clipLatched.count && m.clipLatched[i]
        x += g.put(latched ? "  CLIP" : "      ", x: x, y: y, style: latched ? .clip : .dim)
        let loudest = levels.indices.max { levels[$0].peakDB < levels[$1].peakDB } ?? 0
        let tail = "  max \(number(m, loudest))" + Readout.db(levels[loudest].peakDB) + "  [ ] channel"
        g.put(tail, x: x, y: y, style: .dim, maxWidth: g.width - x)
    }

    /// Many channels: a column per channel, the bar rising from the bottom (RMS, in eighths of a
    /// cell; the peak's cell brighter, the hold a mark), numbered underneath (two rows for two
    /// digits in a one-cell column), the dBFS scale at the left where it fits, and the focused
    /// channel's numbers on the line above. Same scale and colours as the rows.
    static func verticalMeters(_ g: inout ScreenGrid, _ m: ConsoleModel, y: Int, layout: MeterLayout) {
        guard case .vertical(let barRows, let cw, let scale) = layout else { return }
        let levels = m.levels.isEmpty ? [ChannelLevel.silent] : m.levels
        let n = levels.count
        focusLine(&g, m, y: y, levels: levels)
        let focus = ((m.meterFocus % n) + n) % n
        let top = y + 1
        let x0 = scale ? 5 : 0
        let meter = MeterScale.of(m.ballistics)
        if scale {
            // The scale's ticks, top down, each on its row unless one is there already (the ticks
            // ascend, so top down their rows only grow: only the last one drawn can share one).
            var used = Int.min
            for t in meter.ticks.reversed() {
                let row = top + barRows - 1 - MeterBar.column(for: t.dBFS, width: barRows, scale: meter)
                guard row > used else { continue }
                used = row
                g.put(String(t.label.prefix(4)).padding(4, left: true), x: 0, y: row, style: .dim)
            }
        }
        let blocks: [Unicode.Scalar] = ["▁", "▂", "▃", "▄", "▅", "▆", "▇", "█"]
        let wide = n * cw + x0 + 4 <= g.width
        for (i, l) in levels.enumerated() {
            let x = x0 + i * cw
            let fill = MeterBar.eighths(for: meter.ballistics == .peak ? l.rmsDB : l.ballisticDB, width: barRows, scale: meter)
            let peak = l.peakDB > meter.floorDB ? MeterBar.column(for: l.peakDB, width: barRows, scale: meter) : -1
            let hold = l.holdDB > meter.floorDB ? MeterBar.column(for: l.holdDB, width: barRows, scale: meter) : -1
            let bw = max(1, cw - 1)
            for r in 0..<barRows {
                let row = top + barRows - 1 - r
                let style = MeterBar.zone(r, width: barRows, scale: meter)
                var cell = Cell(scalar: m.unicode ? " " : ".", .dim)
                if r < fill / 8 {
                    cell = Cell(scalar: m.unicode ? "█" : "#", style)
                } else if r == fill / 8 && fill % 8 > 0 {
                    cell = Cell(scalar: m.unicode ? blocks[fill % 8 - 1] : (fill % 8 >= 4 ? "=" : "-"), style)
                } else if r == peak {
                    cell = Cell(scalar: m.unicode ? "▄" : "|", .peakTip)
                } else if r == hold && hold > peak {
                    cell = Cell(scalar: m.unicode ? "▔" : "^", .hold)
                } else if !m.unicode {
                    cell = Cell(scalar: " ", .dim)
                }
                for k in 0..<bw { g[x + k, row] = cell }
            }
            let latched = i < m.clipLatched.count && m.clipLatched[i]
            let style: CellStyle = latched ? .clip : (i == focus ? .reverse : .dim)
            let label = String(number(m, i))
            if MeterLayout.labelRows(channels: n, columnWidth: cw) == 1 {
                g.put(label, x: x, y: top + barRows, style: style)
            } else {
                // Columns too narrow for two digits and a space between numbers (one or two
                // cells; side by side, 10 11 12 would read 101112): the tens over the units.
                let digits = Array(label.count == 1 ? " " + label : label)
                g[x, top + barRows] = Cell(digits[digits.count - 2], style)
                g[x, top + barRows + 1] = Cell(digits[digits.count - 1], style)
            }
        }
        if wide { g.put(meter.unit, x: x0 + n * cw, y: top + barRows - 1, style: .dim, maxWidth: g.width - x0 - n * cw) }
    }

    // MARK: Panels

    /// The session panel's columns: key, name, state, default, effect (fixed, so every width from
    /// the minimum shows them; the effect text takes the longest wording that fits).
    static let sessionColumns = (name: 4, state: 20, defaultValue: 25, effect: 31)

    static func sessionPanel(_ g: inout ScreenGrid, _ m: ConsoleModel, y: Int) {
        let c = sessionColumns
        g.put("Capture session", x: 0, y: y, style: .title)
        g.put("state", x: c.state - 1, y: y, style: .dim)
        g.put("dflt", x: c.defaultValue, y: y, style: .dim)
        g.put("effect", x: c.effect, y: y, style: .dim)
        for (i, key) in AudioSessionProperties.Key.allCases.enumerated() {
            let row = y + 1 + i
            let on = m.properties[key]
            let eff = m.effective[key] ?? .applies(on)
            let dim = !eff.isInEffect
            g.put(" \(i + 1) ", x: 0, y: row, style: .key)
            g.put(PropertyWords.name(key), x: c.name, y: row, style: dim ? .dim : .normal, maxWidth: c.state - c.name - 1)
            g.put(on ? "ON " : "off", x: c.state, y: row, style: dim ? .dim : (on ? .good : .bold))
            g.put(key.appleDefault ? "on " : "off", x: c.defaultValue, y: row, style: .dim)
            if on == key.appleDefault { g.put("*", x: c.defaultValue + 3, y: row, style: .dim) }
            let room = g.width - c.effect
            let text = PropertyWords.effect(key, eff).first { $0.count <= room } ?? PropertyWords.effect(key, eff).last ?? ""
            g.put(text, x: c.effect, y: row, style: dim ? .dim : (isAppDecides(eff) ? .warning : .normal), maxWidth: room)
        }
    }

    static func isAppDecides(_ e: EffectiveState) -> Bool { if case .appSessionDecides = e { true } else { false } }

    static func appSessionLine(_ g: inout ScreenGrid, _ m: ConsoleModel, y: Int) {
        var x = g.put("App session ", x: 0, y: y, style: .title)
        x += g.put("category ", x: x, y: y, style: .dim)
        x += g.put(m.appSession.category.rawValue, x: x, y: y, style: m.appSession.category.permitsRecording ? .bold : .warning)
        x += g.put("  options ", x: x, y: y, style: .dim)
        let rate = m.appSession.preferredSampleRate.map { "\($0) Hz" } ?? "any"
        // Whole option names only (the row was cut to "bluetoothHighQuali"): those that don't fit
        // are counted, "+1"; the rate keeps its room.
        let options = m.appSession.options.description.split(separator: ", ").map(String.init)
        x += g.put(Self.fitList(options, width: g.width - x - 7 - rate.count), x: x, y: y)
        x += g.put("  rate ", x: x, y: y, style: .dim)
        x += g.put(rate, x: x, y: y)
        let who: [String] = m.properties.usesApplicationAudioSession && m.properties.automaticallyConfiguresApplicationAudioSession
            ? ["  (set by the capture session)", "  (capture session's)"]
            : (m.properties.usesApplicationAudioSession ? ["  (yours: c cycles the category)", "  (yours: c)"] : ["  (not used)"])
        if let fits = who.first(where: { $0.count <= g.width - x }) { g.put(fits, x: x, y: y, style: .dim) }
    }

    /// `items` joined with ", ", as many whole ones as fit in `width`, the rest counted: "a, b +2".
    public static func fitList(_ items: [String], width: Int) -> String {
        let all = items.joined(separator: ", ")
        if all.count <= width { return all }
        var shown: [String] = []
        for item in items {
            let left = items.count - shown.count - 1
            let candidate = (shown + [item]).joined(separator: ", ") + (left > 0 ? " +\(left)" : "")
            guard candidate.count <= width else { break }
            shown.append(item)
        }
        let left = items.count - shown.count
        return shown.joined(separator: ", ") + (left > 0 ? (shown.isEmpty ? "+\(left)" : " +\(left)") : "")
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
        var estimateEnd = x
        if let free = m.freeBytes {
            x += g.put("  free ", x: x, y: y, style: .dim)
            x += g.put(Readout.bytes(free), x: x, y: y)
            estimateEnd = x
            if m.bytesPerSecond > 0 {
                let secs = Double(free) / Double(m.bytesPerSecond)
                estimateEnd += g.put(" (\(m.unicode ? "≈" : "~") \(Readout.hours(secs)) at this format)", x: x, y: y, style: secs < 600 ? .warning : .dim)
            }
        }
        preRollAndTrigger(&g, m, y: y, after: x, estimateEnd: estimateEnd)
        x = g.put("File ", x: 0, y: y + 1, style: .dim)
        if let part = m.filePart, part > 1, m.filePath != nil { x += g.put("part \(part) ", x: x, y: y + 1, style: .bold) }
        let path = m.filePath ?? "next file goes in \(m.directory)"
        g.put(Readout.fitPath(path, width: g.width - x, unicode: m.unicode), x: x, y: y + 1, style: m.filePath == nil ? .dim : .normal)
    }

    /// `Pre-roll 1.2/5.0 s  Trigger armed`, when set, at the right of the recording row: after
    /// the free-space estimate (which ends at `estimateEnd`) if it fits, else over the estimate,
    /// whose rest is cleared (a tail such as "rmat)" was left beside it).
    static func preRollAndTrigger(_ g: inout ScreenGrid, _ m: ConsoleModel, y: Int, after end: Int, estimateEnd: Int) {
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
        var x: Int
        if estimateEnd + 2 + width <= g.width {
            x = estimateEnd + 2
        } else {
            x = Swift.max(0, Swift.min(end + 2, g.width - width))
            // Over the estimate: none of it stays beside the parts.
            if x > 0 { g.fill(" ", x: x - 1, y: y, width: g.width - x + 1, style: .normal) }
        }
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

    /// The newest events, each whole: wrapped at spaces under its text (not cut at the screen's
    /// edge, where a device's name or a file's path was lost), as many as fit from the newest
    /// back. Only the newest, when it alone is longer than the log, is cut: its first rows, the
    /// last ending in "…" ("..." without Unicode).
    static func eventLog(_ g: inout ScreenGrid, _ m: ConsoleModel, y: Int, rows: Int) {
        guard rows > 0 else { return }
        g.put("Events", x: 0, y: y, style: .title)
        let room = rows - 1
        var shown: [(event: ConsoleModel.Event, lines: [String])] = []
        var used = 0
        for e in m.events.reversed() {
            let width = g.width - e.time.count - 1
            var lines = Readout.wrap(e.text, width: width)
            if used + lines.count > room {
                if shown.isEmpty, room > 0 {
                    lines = Array(lines.prefix(room))
                    let more = m.unicode ? "…" : "..."
                    lines[room - 1] = String(lines[room - 1].prefix(max(0, width - more.count))) + more
                    shown.append((e, lines))
                }
                break
            }
            shown.append((e, lines))
            used += lines.count
        }
        var row = y + 1
        for (e, lines) in shown.reversed() {
            g.put(e.time, x: 0, y: row, style: .dim)
            let style: CellStyle = switch e.severity {
            case .info: .normal
            case .warning: .warning
            case .error: .error
            }
            for line in lines {
                g.put(line, x: e.time.count + 1, y: row, style: style, maxWidth: g.width - e.time.count - 1)
                row += 1
            }
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

    /// The prompt above the footer. Its question (the last sentence: "Repair now? (y/n)") is
    /// always shown whole; on a narrow screen what comes before it gives way in its middle,
    /// where a long path is (the question was cut off below 160 columns).
    static func promptLine(_ g: inout ScreenGrid, _ text: String, y: Int) {
        g.fill(" ", x: 0, y: y, width: g.width, style: .warning)
        var line = text
        let room = g.width - 1
        let chars = Array(line)
        if chars.count > room, let dot = chars.indices.dropLast().last(where: { chars[$0] == "." && chars[$0 + 1] == " " }) {
            let head = String(chars[...(dot + 1)]), question = String(chars[(dot + 2)...])
            let keep = max(0, room - question.count - 1)
            line = String(head.prefix(keep / 2)) + "…" + String(head.suffix(keep - keep / 2)) + question
        }
        g.put(" " + line, x: 0, y: y, style: .warning)
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

    /// The help overlay's width on a terminal `width` wide, and the text column's.
    static func helpWidths(_ width: Int) -> (box: Int, text: Int) {
        let w = min(width - 4, 92)
        return (w, w - 13)
    }

    /// The help's lines at `width`: each key's text (and Apple's name for it) wrapped into the
    /// text column, the keys on the first line of each.
    public static func helpLines(width: Int) -> [(keys: String, text: String, binding: Int)] {
        let textW = helpWidths(width).text
        var out: [(String, String, Int)] = []
        for (i, b) in KeyMap.bindings.enumerated() {
            let full = b.help + (b.apple.map { " (Apple: \($0))" } ?? "")
            for (j, l) in Readout.wrap(full, width: textW).enumerated() { out.append((j == 0 ? b.keys.joined(separator: " / ") : "", l, i)) }
        }
        return out
    }

    /// Every key with its words, wrapped; where they don't all fit the height, a window of them
    /// that ↑/↓ scrolls (wrapping round at either end, as `[`/`]` do the meters).
    static func helpOverlay(_ g: inout ScreenGrid, _ m: ConsoleModel) {
        let lines = helpLines(width: g.width)
        let w = helpWidths(g.width).box
        // A row of margin above and below where it all fits with it; the note on dimmed
        // properties gives way to keys first.
        let all = lines.count + 4
        let h = min(all <= g.height - 2 ? all : g.height, all)
        let note = all <= h
        let rows = h - (note ? 4 : 3)
        let scrolls = lines.count > rows
        let positions = max(1, lines.count - rows + 1)
        let first = scrolls ? ((m.helpScroll % positions) + positions) % positions : 0
        let x = (g.width - w) / 2
        let y = max(0, (g.height - h) / 2)
        box(&g, x: x, y: y, w: w, h: h, title: "Keys", unicode: m.unicode)
        for (i, l) in lines.dropFirst(first).prefix(rows).enumerated() {
            g.put(l.keys, x: x + 2, y: y + 1 + i, style: .key, maxWidth: 9)
            g.put(l.text, x: x + 12, y: y + 1 + i, maxWidth: w - 13)
        }
        if note { g.put("Dimmed properties have no effect under the current combination.", x: x + 2, y: y + h - 3, style: .dim, maxWidth: w - 4) }
        let close = scrolls ? (m.unicode ? "↑↓ more (\(first + rows)/\(lines.count)) · Esc, ? or q closes" : "up/down more (\(first + rows)/\(lines.count)), Esc ? q close")
                            : "Esc, ? or q closes this help."
        g.put(close, x: x + 2, y: y + h - 2, style: .dim, maxWidth: w - 4)
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

/// A meter's scale in one ballistics mode: the dBFS range the bar spans, the ticks under it (in
/// the mode's own units), its colour zones and the reading's number. Every reading is sine-peak
/// dBFS (`ChannelLevel.ballisticDB`); a scale only places and names it.
public struct MeterScale: Sendable {
    /// dBFS at the bar's left and right ends.
    public var floorDB: Double
    public var topDB: Double
    /// Where the bar turns to the middle and the high colour (dBFS).
    public var midDB: Double
    public var highDB: Double
    public var ticks: [(dBFS: Double, label: String)]
    /// Under the numbers: the unit and what its 0 is.
    public var unit: String
    public let ballistics: MeterBallistics

    /// DIN scale (type I): 0 dB is the permitted maximum level, 9 dB above the EBU R68 alignment
    /// level, so -9 dBFS; the scale spans -50 to +5 as DIN 45406's does.
    public static let dinZeroDBFS = -9.0
    /// BBC scale (type II): mark 4 is the alignment level (-18 dBFS, EBU R68), 4 dB a mark, 6 dB
    /// from 1 to 2; 6 is the BBC's maximum.
    public static let bbcMarks: [(mark: Int, dBFS: Double)] = [(1, -32), (2, -26), (3, -22), (4, -18), (5, -14), (6, -10), (7, -6)]

    /// Each mode's scale, built once: a frame places every meter's bar, peak and hold on one.
    public static let peak = MeterScale(.peak)
    static let ppm1 = MeterScale(.ppm1), ppm2 = MeterScale(.ppm2), vu = MeterScale(.vu)
    public static func of(_ b: MeterBallistics) -> MeterScale {
        switch b {
        case .peak: peak
        case .ppm1: ppm1
        case .ppm2: ppm2
        case .vu: vu
        }
    }

    public init(_ b: MeterBallistics) {
        ballistics = b
        switch b {
        case .peak:
            floorDB = ConsoleLayout.floorDB; topDB = 0; midDB = -18; highDB = -6
            ticks = stride(from: -60, through: 0, by: 10).map { (Double($0), "\($0)") }
            unit = "dBFS"
        case .ppm1:
            let z = Self.dinZeroDBFS
            floorDB = z - 50; topDB = z + 5; midDB = z - 9; highDB = z
            ticks = [-50, -40, -30, -20, -10, -5, 0, 5].map { (z + Double($0), $0 > 0 ? "+\($0)" : "\($0)") }
            unit = "PPM I dB, 0=-9 dBFS"
        case .ppm2:
            floorDB = -36; topDB = -2; midDB = -18; highDB = -10
            ticks = Self.bbcMarks.map { ($0.dBFS, "\($0.mark)") }
            unit = "PPM II BBC, 4=-18 dBFS"
        case .vu:
            let z = MeterBallistics.vuReferenceDBFS
            floorDB = z - 20; topDB = z + 3; midDB = z - 3; highDB = z
            ticks = [-20, -10, -7, -5, -3, 0, 3].map { (z + Double($0), $0 > 0 ? "+\($0)" : "\($0)") }
            unit = "VU, 0=-18 dBFS"
        }
    }

    /// The reading in the scale's units, 6 columns and a unit word: `" -12.0 dB"` (DIN),
    /// `"   4.5 PPM"` (the BBC mark), `"  -3.2 VU"`.
    public func readout(_ dBFS: Double) -> String {
        guard dBFS > ChannelLevel.floorDB else { return Readout.db(dBFS) + unitWord }
        return Readout.db(value(dBFS)) + unitWord
    }

    private var unitWord: String {
        switch ballistics {
        case .peak: " pk"
        case .ppm1: " dB"
        case .ppm2: " PPM"
        case .vu: " VU"
        }
    }

    /// A dBFS reading in the scale's units: DIN dB, the BBC mark (piecewise linear between the
    /// marks, 4 dB a mark beyond them), VU; dBFS in peak mode.
    public func value(_ dBFS: Double) -> Double {
        switch ballistics {
        case .peak: return dBFS
        case .ppm1: return dBFS - Self.dinZeroDBFS
        case .vu: return dBFS - MeterBallistics.vuReferenceDBFS
        case .ppm2:
            let m = Self.bbcMarks
            if dBFS <= m[0].dBFS { return 1 - (m[0].dBFS - dBFS) / 6 }
            for i in 1..<m.count where dBFS <= m[i].dBFS {
                return Double(m[i - 1].mark) + (dBFS - m[i - 1].dBFS) / (m[i].dBFS - m[i - 1].dBFS)
            }
            return 7 + (dBFS - m[m.count - 1].dBFS) / 4
        }
    }
}

/// Draws one horizontal meter. Sample peak: RMS as the bar, the peak as a brighter tip, a
/// peak-hold marker. A ballistic mode: the mode's reading as the bar on its own scale (the
/// sample peak stays in the numbers beside it).
public enum MeterBar {
    static let partials: [Unicode.Scalar] = ["▏", "▎", "▍", "▌", "▋", "▊", "▉"]

    /// The column (0..<width) where `db` falls on the scale (-60…0 dBFS unless given).
    public static func column(for db: Double, width: Int, scale: MeterScale = .peak) -> Int {
        let span = scale.topDB - scale.floorDB
        let f = (min(scale.topDB, max(scale.floorDB, db)) - scale.floorDB) / span
        return min(width - 1, max(0, Int((f * Double(width)).rounded(.down))))
    }

    /// Fill of the bar in eighths of a cell.
    public static func eighths(for db: Double, width: Int, scale: MeterScale = .peak) -> Int {
        guard db > scale.floorDB else { return 0 }
        let f = (min(scale.topDB, db) - scale.floorDB) / (scale.topDB - scale.floorDB)
        return Int((f * Double(width * 8)).rounded())
    }

    static func zone(_ col: Int, width: Int, scale: MeterScale) -> CellStyle {
        let db = scale.floorDB + Double(col) / Double(width) * (scale.topDB - scale.floorDB)
        return db >= scale.highDB ? .meterHigh : (db >= scale.midDB ? .meterMid : .meterLow)
    }

    public static func draw(_ g: inout ScreenGrid, level: ChannelLevel, x: Int, y: Int, width: Int, unicode: Bool,
                            scale: MeterScale = .peak) {
        let ballistic = scale.ballistics != .peak
        let fill = eighths(for: ballistic ? level.ballisticDB : level.rmsDB, width: width, scale: scale)
        let full = fill / 8
        let part = fill % 8
        for c in 0..<width {
            var ch: Unicode.Scalar = unicode ? " " : "."
            var style = CellStyle.dim
            if c < full {
                ch = unicode ? "█" : "#"
                style = zone(c, width: width, scale: scale)
            } else if c == full && part > 0 {
                ch = unicode ? partials[part - 1] : (part >= 4 ? "=" : "-")
                style = zone(c, width: width, scale: scale)
            } else if !unicode {
                ch = " "
            }
            g[x + c, y] = Cell(scalar: ch, style)
        }
        if ballistic { return }
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

/// Where the meters go: one row per channel while they fit, else vertical bars, a column each
/// (readable at 80×24 with 64 channels). Pure, so the choice is tested by itself.
public enum MeterLayout: Equatable, Sendable {
    /// A row per channel and the scale under them (`channels + 1` rows).
    case rows
    /// A column per channel: `barRows` of bar, `columnWidth` cells per channel (1-3; the bar
    /// one cell narrower from 2 on, a gap between), the dBFS scale at the left when `scale`.
    case vertical(barRows: Int, columnWidth: Int, scale: Bool)

    /// Rows of labels under vertical bars: two for two-digit channel numbers in columns of one
    /// or two cells (tens over units), else one.
    static func labelRows(channels: Int, columnWidth: Int) -> Int { channels >= 10 && columnWidth < 3 ? 2 : 1 }

    /// The fewest rows vertical bars can use: the focus line, two rows of bar, the labels.
    static func verticalMinimum(channels: Int) -> Int { 1 + 2 + labelRows(channels: channels, columnWidth: 1) }

    /// The layout for `channels` meters in `rows` rows of a terminal `width` wide; nil: neither fits.
    public static func choose(channels: Int, width: Int, rows: Int) -> MeterLayout? {
        let n = max(1, channels)
        if n + 1 <= rows { return .rows }
        guard width >= n else { return nil }
        // Widest columns that fit with the scale (5 cells), else without it.
        let scale = width >= n + 5
        let room = width - (scale ? 5 : 0)
        let cw = min(3, max(1, room / n))
        // At most 16 rows of bar (a 3.75 dB cell, 0.5 dB an eighth): the log keeps the rest.
        let bars = min(16, rows - 1 - labelRows(channels: n, columnWidth: cw))
        guard bars >= 2 else { return nil }
        return .vertical(barRows: bars, columnWidth: cw, scale: scale)
    }

    /// Rows the meters take, scale or labels included.
    public func rows(channels: Int) -> Int {
        switch self {
        case .rows: Swift.max(1, channels) + 1
        case .vertical(let bars, let cw, _): 1 + bars + Self.labelRows(channels: Swift.max(1, channels), columnWidth: cw)
        }
    }
}

extension StringProtocol {
    /// Padded with spaces to `width` (at the right, or the left).
    fileprivate func padding(_ width: Int, left: Bool = false) -> String {
        let pad = String(repeating: " ", count: Swift.max(0, width - count))
        return left ? pad + self : self + pad
    }
}
