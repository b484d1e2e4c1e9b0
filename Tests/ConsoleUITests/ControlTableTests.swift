// The one control table (keys, stdin commands, signals) against the docs and the screen, and the
// Recording panel's markers line.
import CaptureCore
import ConsoleUI
import Foundation
import Testing

@Suite struct ControlTableTests {
    static let docs = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
        .appendingPathComponent("../../Docs/console.md").standardizedFileURL.path
    static let begin = "<!-- controls: made from KeyMap.controls (Sources/ConsoleUI/KeyMap.swift); a test checks they match -->\n"
    static let end = "<!-- end of controls -->"

    /// Set CAPDECK_UPDATE_DOCS=1 to write the code's table into Docs/console.md instead.
    @Test func controlsTableInTheDocsMatchesTheCode() throws {
        let text = try String(contentsOfFile: Self.docs, encoding: .utf8)
        let a = try #require(text.range(of: Self.begin), "Docs/console.md has no controls table marker")
        let b = try #require(text.range(of: Self.end, range: a.upperBound..<text.endIndex))
        let table = KeyMap.markdownTable
        if ProcessInfo.processInfo.environment["CAPDECK_UPDATE_DOCS"] == "1" {
            try (text[..<a.upperBound] + table + text[b.lowerBound...]).write(toFile: Self.docs, atomically: true, encoding: .utf8)
            return
        }
        #expect(String(text[a.upperBound..<b.lowerBound]) == table,
                "Docs/console.md's controls table differs from KeyMap.controls; it should read:\n\(table)(CAPDECK_UPDATE_DOCS=1 swift test --filter controlsTableInTheDocs writes it)")
        // Every row is in it, with its key, stdin forms and signals.
        for c in KeyMap.controls {
            let cells = (c.keys + c.stdin + c.signals).map { "`\($0.replacing("|", with: "\\|"))`" }
            #expect(table.split(separator: "\n").contains { row in cells.allSatisfy(row.contains) }, "\(c.help)")
        }
    }

    @Test func stdinVerbsAndHelpComeFromTheTable() {
        #expect(KeyMap.stdinVerbs == ["toggle", "set", "pause", "resume", "mark", "split", "category", "reset-loudness", "meter", "status", "help", "stop", "quit"])
        for form in KeyMap.controls.flatMap(\.stdin) { #expect(KeyMap.stdinHelp.contains(form), "\(form)") }
        // Keys are unique across the table.
        let codes = KeyMap.bindings.flatMap { $0.keys.flatMap(KeyMap.codes(named:)) }
        #expect(Set(codes).count == codes.count)
        #expect(KeyMap.command(for: Int32(UInt8(ascii: "m"))) == .mark && KeyMap.command(for: Int32(UInt8(ascii: "M"))) == .mark)
    }

    func recording(markers: [ConsoleModel.Marker], count: Int? = nil) -> ConsoleModel {
        var m = ConsoleModel()
        m.levels = [ChannelLevel(peakDB: -12, rmsDB: -15, holdDB: -10, clips: 0), ChannelLevel(peakDB: -12, rmsDB: -15, holdDB: -10, clips: 0)]
        m.clipLatched = [false, false]
        m.running = true
        m.recording = .recording
        m.filePath = "/home/u/rec/take.wav"
        m.markers = markers
        m.markerCount = count ?? markers.count
        return m
    }

    @Test func helpOverlayListsEveryKeyAt80x24() {
        var m = recording(markers: [])
        m.showHelp = true
        // Scrolled through (↑/↓), the overlay shows every key's words.
        var seen = ""
        for scroll in 0..<ConsoleLayout.helpLines(width: 80).count {
            m.helpScroll = scroll
            seen += ConsoleLayout.render(m, width: 80, height: 24).text
        }
        for b in KeyMap.bindings { #expect(seen.contains(String(b.help.prefix(40))), "\(b.help)") }
        #expect(seen.contains("Esc, ? or q closes"))
    }

    @Test func markersLineShowsTheLastFewThatFit() throws {
        let ms = (1...8).map { ConsoleModel.Marker(seconds: Double($0) * 61 + 0.25, label: $0 == 8 ? "resume" : "mark \($0)") }
        let m = recording(markers: ms, count: 12)
        // 80×24, two channels: the line is there, newest last, cut at a whole marker, and the
        // event log keeps its rows.
        let grid = ConsoleLayout.render(m, width: 80, height: 24)
        let rows = grid.text.split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
        let line = try #require(rows.first { $0.hasPrefix("Markers ") }, "\(grid.text)")
        #expect(line.hasPrefix("Markers 12  "))
        #expect(line.contains("00:08:08.2 resume") && line.contains("00:07:07.2 mark 7"), "\(line)")
        #expect(!line.contains("mark 1 ") && line.count <= 80)
        let at = try #require(rows.firstIndex(of: line))
        #expect(rows[at - 1].hasPrefix("File /home/u/rec/take.wav") && rows.filter { $0.hasPrefix("Events") }.count == 1)
        // Wider: more of them.
        let wide = ConsoleLayout.render(m, width: 200, height: 30).text
        let wideLine = try #require(wide.split(separator: "\n").first { $0.hasPrefix("Markers ") })
        #expect(wideLine.contains("00:01:01.2 mark 1") && wideLine.contains("00:08:08.2 resume"), "\(wideLine)")
        // Too short for it: the log keeps its rows instead.
        #expect(!ConsoleLayout.render(m, width: 80, height: 21).text.contains("Markers "))
        // None yet: says how to add one; the footer offers m while recording, at 80 columns too.
        let none = ConsoleLayout.render(recording(markers: []), width: 80, height: 24)
        #expect(none.text.contains("Markers none yet (m marks the frame being captured)"))
        #expect(none.row(23).contains("m mark") && none.row(23).contains("q quit"))
        var stopped = recording(markers: [])
        stopped.recording = .stopped
        #expect(!ConsoleLayout.render(stopped, width: 80, height: 24).row(23).contains("m mark"))
    }
}
