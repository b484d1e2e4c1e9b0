// What a meter bar shows in each ballistics mode: its scale, ticks, zones and the reading's number.
import CaptureCore
import ConsoleUI
import Testing

@Suite struct MeterScaleTests {
    func model(_ b: MeterBallistics, ballisticDB: Double, peakDB: Double = -6) -> ConsoleModel {
        var m = ConsoleModel()
        m.running = true
        m.ballistics = b
        m.levels = Array(repeating: ChannelLevel(peakDB: peakDB, rmsDB: peakDB - 3, holdDB: peakDB, clips: 0, ballisticDB: ballisticDB), count: 2)
        m.clipLatched = [false, false]
        return m
    }

    /// The rows of the two meters and the scale under them.
    func meterRows(_ m: ConsoleModel, width: Int) -> (meters: [String], scale: String) {
        let g = ConsoleLayout.render(m, width: width, height: 24)
        let rows = (0..<24).map { g.row($0) }
        let first = rows.firstIndex { $0.hasPrefix(" L  ") }!
        return ([rows[first], rows[first + 1]], rows[first + 2])
    }

    @Test("each mode's scale: its ticks in its own units, its unit and 0 named, no two labels touching",
          arguments: [(MeterBallistics.peak, ["-60", "-50", "-40", "-30", "-20", "-10", "0"], "dBFS"),
                      (.ppm1, ["-50", "-40", "-30", "-20", "-10", "-5", "0", "+5"], "PPM I dB, 0=-9 dBFS"),
                      (.ppm2, ["1", "2", "3", "4", "5", "6", "7"], "PPM II BBC, 4=-18 dBFS"),
                      (.vu, ["-20", "-10", "-7", "-5", "-3", "0", "+3"], "VU, 0=-18 dBFS")], [80, 100])
    func scales(_ c: (mode: MeterBallistics, ticks: [String], unit: String), width: Int) {
        let (mode, ticks, unit) = c
        let (_, scale) = meterRows(model(mode, ballisticDB: -18), width: width)
        let words = scale.split(separator: " ").map(String.init)
        #expect(Array(words.prefix(ticks.count)) == ticks, "\(mode) at \(width): \(scale)")
        #expect(scale.hasSuffix(unit) || scale.contains(unit), "\(scale)")
    }

    @Test("at the narrowest console the VU ticks that would touch are left out, the others stay in order")
    func narrowVUScale() {
        let (_, scale) = meterRows(model(.vu, ballisticDB: -18), width: ConsoleLayout.minWidth)
        let words = scale.split(separator: " ").map(String.init).prefix { $0 != "VU," }
        let all = ["-20", "-10", "-7", "-5", "-3", "0", "+3"]
        #expect(words.first == "-20" && words.last == "+3" && words.allSatisfy(all.contains), "\(scale)")
        #expect(all.filter(words.contains) == Array(words), "in order: \(scale)")
    }

    @Test("the reading's number is in the scale's units: DIN dB, the BBC mark, VU")
    func readouts() {
        #expect(MeterScale(.ppm1).readout(-9) == "   0.0 dB")
        #expect(MeterScale(.ppm1).readout(-21.5) == " -12.5 dB")
        #expect(MeterScale(.ppm2).readout(-18) == "   4.0 PPM")
        #expect(MeterScale(.ppm2).readout(-12) == "   5.5 PPM")
        #expect(MeterScale(.ppm2).readout(-29) == "   1.5 PPM")  // 6 dB from 1 to 2
        #expect(MeterScale(.ppm2).readout(-4) == "   7.5 PPM")
        #expect(MeterScale(.vu).readout(-21.2) == "  -3.2 VU")
        #expect(MeterScale(.vu).readout(-15) == "   3.0 VU")
        #expect(MeterScale(.vu).readout(ChannelLevel.floorDB) == "  -inf VU")
        let (meters, _) = meterRows(model(.ppm2, ballisticDB: -14), width: 80)
        #expect(meters[0].contains("  -6.0 pk    5.0 PPM"), "\(meters[0])")
        let (vu, _) = meterRows(model(.vu, ballisticDB: -21), width: 80)
        #expect(vu[1].contains("  -6.0 pk   -3.0 VU"), "\(vu[1])")
        let (peak, _) = meterRows(model(.peak, ballisticDB: -6), width: 80)
        #expect(peak[0].contains("  -6.0 pk   -9.0 rms"), "peak mode as before: \(peak[0])")
    }

    @Test("a ballistic bar fills to the mode's reading on its scale, with no sample-peak tip or hold marker; 0 VU is where red begins")
    func barFollowsTheReading() {
        let scale = MeterScale(.vu)
        var g = ScreenGrid(width: 46, height: 1)
        // 0 VU (-18 dBFS) on -20…+3 VU: 20/23 of the bar.
        MeterBar.draw(&g, level: ChannelLevel(peakDB: -3, rmsDB: -40, holdDB: -1, clips: 0, ballisticDB: -18), x: 0, y: 0, width: 46,
                      unicode: true, scale: scale)
        #expect(g.row(0).prefix(40).allSatisfy { $0 == "█" } && g[40, 0].char == " ", "\(g.row(0))")
        #expect(!g.row(0).contains("▌") && !g.row(0).contains("▏"), "no peak tip or hold: \(g.row(0))")
        #expect(g[39, 0].style == .meterMid && g[10, 0].style == .meterLow)
        var loud = ScreenGrid(width: 46, height: 1)
        MeterBar.draw(&loud, level: ChannelLevel(peakDB: -3, rmsDB: -40, holdDB: -1, clips: 0, ballisticDB: -15), x: 0, y: 0, width: 46,
                      unicode: true, scale: scale)
        #expect(loud[41, 0].style == .meterHigh && loud.row(0).allSatisfy { $0 == "█" })
        // PPM II: mark 6 (-10 dBFS) on -36…-2: 26/34 of 34 columns.
        var ppm = ScreenGrid(width: 34, height: 1)
        MeterBar.draw(&ppm, level: ChannelLevel(peakDB: -3, rmsDB: -40, holdDB: -1, clips: 0, ballisticDB: -10), x: 0, y: 0, width: 34,
                      unicode: true, scale: MeterScale(.ppm2))
        #expect(ppm.row(0).filter { $0 == "█" }.count == 26, "\(ppm.row(0))")
        #expect(MeterBar.column(for: -10, width: 34, scale: MeterScale(.ppm2)) == 26)
    }
}
