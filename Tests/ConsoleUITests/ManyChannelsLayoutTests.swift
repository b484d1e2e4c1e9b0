// Many channels on a small terminal: where the meters go (rows, else vertical bars), what each
// column shows, and the focused channel's numbers on one line, checked as text.
import CaptureCore
import ConsoleUI
import Testing

@Suite struct ManyChannelsLayoutTests {
    /// Channel c (0-based) peaks at -(c) dBFS, its RMS 3 dB lower: every column different.
    func model(channels: Int) -> ConsoleModel {
        var m = ConsoleModel()
        m.inputName = "hw:2"
        m.route = Route(pcm: "hw:2", kind: .exclusive)
        m.granted = GrantedParameters(format: StreamFormat(sampleFormat: .s32LE, sampleRate: 96_000, channels: channels),
                                      periodFrames: 960, bufferFrames: 9600, access: "RW_INTERLEAVED")
        m.running = true
        m.levels = (0..<channels).map { c in ChannelLevel(peakDB: -Double(c), rmsDB: -Double(c) - 3, holdDB: -Double(c), clips: 0) }
        m.clipLatched = Array(repeating: false, count: channels)
        m.appSession = AudioSessionState(category: .playAndRecord)
        return m
    }

    @Test func theLayoutIsRowsWhileTheyFitThenVerticalBars() {
        // 80×24 leaves 7 rows: 6 channels and the scale fit as rows; 7 do not.
        #expect(MeterLayout.choose(channels: 6, width: 80, rows: 24 - 17) == .rows)
        #expect(MeterLayout.choose(channels: 7, width: 80, rows: 7) == .vertical(barRows: 5, columnWidth: 3, scale: true))
        // 64 channels at 80 columns: one cell each, two label rows (tens over units), 4 rows of bar.
        #expect(MeterLayout.choose(channels: 64, width: 80, rows: 7) == .vertical(barRows: 4, columnWidth: 1, scale: true))
        #expect(MeterLayout.choose(channels: 64, width: 80, rows: 7)?.rows(channels: 64) == 7)
        // At the minimum width there is no room for the scale; narrower than the channels, nothing fits.
        #expect(MeterLayout.choose(channels: 64, width: 64, rows: 7) == .vertical(barRows: 4, columnWidth: 1, scale: false))
        #expect(MeterLayout.choose(channels: 64, width: 63, rows: 40) == nil)
        #expect(MeterLayout.choose(channels: 64, width: 80, rows: 4) == nil)
        // Wide terminals get wider columns; the bars stop at 16 rows.
        #expect(MeterLayout.choose(channels: 32, width: 120, rows: 30) == .vertical(barRows: 16, columnWidth: 3, scale: true))
        #expect(ConsoleLayout.minHeight(channels: 2) == 20)
        #expect(ConsoleLayout.minHeight(channels: 64, width: 80) == 22)
    }

    @Test func sixtyFourChannelsAt80x24() {
        var m = model(channels: 64)
        m.meterFocus = 11
        let g = ConsoleLayout.render(m, width: 80, height: 24)
        let rows = (0..<24).map { g.row($0) }
        #expect(!rows.joined().contains("please enlarge"), "\(rows.joined(separator: "\n"))")
        // The focus line: channel 12's numbers (peak -11, RMS -14, hold -11) on one line.
        let focus = rows[4]
        #expect(focus.hasPrefix("ch 12/64"), "\(focus)")
        #expect(focus.contains("-11.0 pk") && focus.contains("-14.0 rms") && focus.contains("hold -11.0"), "\(focus)")
        #expect(focus.contains("max 1"), "the loudest channel is named: \(focus)")
        // Channel numbers under the bars: tens over units, one column each after the 5-cell scale.
        let tens = rows[9], units = rows[10]
        #expect(String(Array(tens)[5..<69]) == String((1...64).map { $0 < 10 ? " " : Character(String($0 / 10)) }), "\(tens)")
        #expect(String(Array(units)[5..<69]) == String((1...64).map { Character(String($0 % 10)) }), "\(units)")
        // The bars fall from channel 1 (RMS -3 dBFS, nearly full) to channel 64 (-66: empty).
        let bar = (5..<9).map { Array(rows[$0]) }
        func filled(_ c: Int) -> Int { bar.filter { $0[5 + c] == "█" }.count }
        #expect(filled(0) == 3 && filled(63) == 0, "\(rows[5...8].joined(separator: "\n"))")
        #expect((0..<63).allSatisfy { filled($0) >= filled($0 + 1) })
        // The rest of the console is still there.
        #expect(rows.contains { $0.hasPrefix("Capture session") } && rows.contains { $0.hasPrefix("Recording ") })
        #expect(rows[23].contains("quit"))
    }

    @Test("two-cell columns: 10 and up tens over units, not run together (101112)")
    func twoCellColumnsLabelTensOverUnits() throws {
        let m = model(channels: 32)
        guard case .vertical(let bars, let cw, let scale)? = MeterLayout.choose(channels: 32, width: 100, rows: 30 - 17) else {
            Issue.record("32 channels at 100×30 should be vertical bars"); return
        }
        #expect(cw == 2 && scale)
        let g = ConsoleLayout.render(m, width: 100, height: 30)
        let rows = (0..<30).map { Array(g.row($0)) }
        let top = try #require(rows.firstIndex { String($0).hasPrefix("ch 1/32") }) + 1
        let tens = rows[top + bars], units = rows[top + bars + 1]
        let shownTens = String((0..<32).map { (c: Int) -> Character in tens[5 + 2 * c] })
        let shownUnits = String((0..<32).map { (c: Int) -> Character in units[5 + 2 * c] })
        let wantTens = String((1...32).map { (c: Int) -> Character in c < 10 ? " " : Character(String(c / 10)) })
        let wantUnits = String((1...32).map { (c: Int) -> Character in Character(String(c % 10)) })
        #expect(shownTens == wantTens, "\(String(tens))")
        #expect(shownUnits == wantUnits, "\(String(units))")
        #expect(!String(units).contains("1011"))
    }

    @Test func focusWrapsAndSelectionNumbersAndNamesLabelTheMeters() {
        var m = model(channels: 10)
        m.channelNumbers = [3, 1, 5, 6, 7, 8, 9, 10, 11, 12]
        m.meterFocus = -1  // `[` from the first: the last
        let g = ConsoleLayout.render(m, width: 80, height: 24)
        let rows = (0..<24).map { g.row($0) }
        #expect(rows[4].hasPrefix("ch 12/10 of 10"), "\(rows[4])")
        // Three-cell columns: the number on one row.
        #expect(rows[10].hasPrefix("     3  1  5  6  7  8  9  10 11 12"), "\(rows[10])")
        // Rows layout: the device's names where it names the channels.
        var named = model(channels: 2)
        named.channelNames = ["FL", "FR"]
        let r = ConsoleLayout.render(named, width: 80, height: 24)
        #expect(r.row(4).hasPrefix(" FL ") && r.row(5).hasPrefix(" FR "), "\(r.row(4))")
    }

    @Test func theBracketKeysMoveTheFocus() {
        var i = ConsoleInteraction()
        _ = i.handle(key: Int32(Character("]").asciiValue!))
        _ = i.handle(key: Int32(Character("]").asciiValue!))
        _ = i.handle(key: Int32(Character("[").asciiValue!))
        var m = ConsoleModel()
        i.apply(to: &m)
        #expect(m.meterFocus == 1)
    }
}
