// The loudness strip: where a level falls on the EBU +9 and +18 scales, the figures beside the
// bars, the one-line form where the terminal has no room, and the rest of the console still there.
import CaptureCore
import ConsoleUI
import Testing

@Suite struct LoudnessStripTests {
    func model(_ strip: LoudnessStrip?, channels: Int = 2) -> ConsoleModel {
        var m = ConsoleModel()
        m.levels = Array(repeating: ChannelLevel(peakDB: -20, rmsDB: -23, holdDB: -20, clips: 0), count: channels)
        m.clipLatched = Array(repeating: false, count: channels)
        m.loudness = strip
        return m
    }

    /// Filled cells of a bar row (between the label and the figures).
    func filled(_ row: String, width: Int) -> Int {
        Array(row.dropFirst(4).prefix(width)).filter { "█▏▎▍▌▋▊▉".contains($0) }.count
    }

    @Test("the strip shows M, S, I, LRA and TP under the meters, with the scale in LU", arguments: LoudnessStrip.Scale.allCases)
    func stripUnderTheMeters(_ scale: LoudnessStrip.Scale) {
        let s = LoudnessStrip(scale: scale, momentary: -23, shortTerm: -24.5, integrated: -23.04, range: 6.2, maxTruePeak: -19.96)
        let g = ConsoleLayout.render(model(s), width: 80, height: 24)
        let rows = (0..<24).map { g.row($0) }
        // Title, header (2), rule, L, R, the dBFS scale: the strip starts at row 7.
        #expect(rows[7].hasPrefix(" M ") && rows[7].contains("-23.0  I  -23.0 LUFS"), "\(rows[7])")
        #expect(rows[8].hasPrefix(" S ") && rows[8].contains("-24.5 LRA   6.2 LU"), "\(rows[8])")
        #expect(rows[9].hasPrefix(scale == .ebu9 ? " +9 " : "+18 ") && rows[9].contains("LU  TP  -20.0 dBTP"), "\(rows[9])")
        let ticks = scale == .ebu9 ? ["-18", "-9", "0", "+3", "+9"] : ["-36", "-18", "0", "+6", "+18"]
        for t in ticks { #expect(rows[9].contains(t), "\(t) in \(rows[9])") }
        // -23 LUFS is 0 LU: two thirds of the way on both scales (18 of 27 LU, 36 of 54).
        let barW = 80 - 4 - 27 - 1
        #expect(abs(filled(rows[7], width: barW) - barW * 2 / 3) <= 1, "\(rows[7])")
        // The rest of the console is still there, below.
        #expect(rows.contains { $0.contains("Capture session") } && rows[23].contains("quit"))
    }

    @Test("-14 LUFS fills the +9 scale; on the +18 scale it reaches 45 of 54 LU")
    func scalesDiffer() {
        let barW = 80 - 4 - 27 - 1
        let nine = ConsoleLayout.render(model(LoudnessStrip(scale: .ebu9, momentary: -14)), width: 80, height: 24).row(7)
        let eighteen = ConsoleLayout.render(model(LoudnessStrip(scale: .ebu18, momentary: -14)), width: 80, height: 24).row(7)
        #expect(filled(nine, width: barW) == barW, "\(nine)")
        #expect(abs(filled(eighteen, width: barW) - barW * 45 / 54) <= 1, "\(eighteen)")
        // Below the scale: nothing filled, the figure still shown.
        let quiet = ConsoleLayout.render(model(LoudnessStrip(scale: .ebu9, momentary: -50)), width: 80, height: 24).row(7)
        #expect(filled(quiet, width: barW) == 0 && quiet.contains("-50.0"), "\(quiet)")
    }

    @Test("no value yet reads -inf, and the range -- until there is an integrated level")
    func noValues() {
        let g = ConsoleLayout.render(model(LoudnessStrip(scale: .ebu9)), width: 80, height: 24)
        #expect(g.row(7).contains("-inf  I   -inf LUFS"), "\(g.row(7))")
        #expect(g.row(8).contains("LRA    -- LU"), "\(g.row(8))")
    }

    @Test("with no room for three rows the strip is one line of figures; at the minimum size, none")
    func narrowTerminal() {
        let s = LoudnessStrip(scale: .ebu18, momentary: -23, shortTerm: -23, integrated: -23, range: 0, maxTruePeak: -20)
        let h = ConsoleLayout.minHeight(channels: 2) + 1
        let g = ConsoleLayout.render(model(s), width: 80, height: h)
        #expect(g.row(7).hasPrefix("Loudness M -23.0 S -23.0 I -23.0 LUFS  LRA   0.0 LU  TP -20.0 dBTP  EBU +18"), "\(g.row(7))")
        let min = ConsoleLayout.render(model(s), width: 80, height: h - 1)
        #expect(!(0..<(h - 1)).contains { min.row($0).contains("Loudness") })
        #expect((0..<(h - 1)).contains { min.row($0).contains("Capture session") })
    }

    @Test("l cycles hidden, +9, +18, hidden")
    func cycle() {
        #expect(LoudnessStrip.next(after: nil) == .ebu9)
        #expect(LoudnessStrip.next(after: .ebu9) == .ebu18)
        #expect(LoudnessStrip.next(after: .ebu18) == nil)
    }
}
