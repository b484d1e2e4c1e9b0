// The console's loudness strip in a real terminal (tmux): l shows it with a known tone's reading
// on the EBU +9 scale, again on the +18 scale, then hides it; i resets the integration.
import CaptureTestSupport
import Foundation
import Testing

extension Integration {
    @Suite("Console in tmux: the loudness strip")
    struct ConsoleLoudnessTmux {
        /// The figure after `label` on a strip row (`-12.0` in ` M  ███ -12.0  I  -12.0 LUFS`).
        static func figure(_ row: String, after label: String) -> Double? {
            guard let r = row.range(of: label) else { return nil }
            return row[r.upperBound...].split(separator: " ").first.flatMap { Double($0) }
        }

        @Test("l shows M, S, I, LRA and TP of the built-in 1 kHz sine (-12 dBFS: -12 LUFS), on +9 then +18; l again hides it; i resets")
        func stripShowsTheTone() async throws {
            let home = try TempDir("capdeck-console")
            defer { home.remove() }
            let rec = home.makeDirectory("rec")
            let console = try await TmuxConsole(["-D", "builtin:sine:1000", "-o", rec], home: home, width: 100, height: 32)
            defer { console.shutdown() }
            _ = try await console.waitFor("the console with live meters", timeout: 8) { s in s.isConsole && s.meters.count == 2 }
            try await console.press("l")
            // The short-term level needs 3 s of audio; wait for it, then read the whole strip.
            let s = try await console.waitFor("the strip with a short-term reading", timeout: 10) { s in
                s.lines.contains { $0.hasPrefix(" S ") && $0.contains("LRA") && !$0.contains("-inf") }
            }
            let m = try #require(s.lines.first { $0.hasPrefix(" M ") && $0.contains("LUFS") }, "\(s)")
            let st = try #require(s.lines.first { $0.hasPrefix(" S ") && $0.contains("LRA") }, "\(s)")
            let scale = try #require(s.lines.first { $0.hasPrefix(" +9 ") }, "\(s)")
            #expect(abs((Self.figure(m, after: "  I ") ?? 0) + 12) <= 0.1, "\(m)")
            #expect(m.split(separator: " ").compactMap { Double($0) }.first.map { abs($0 + 12) <= 0.1 } == true, "M in \(m)")
            #expect(st.split(separator: " ").compactMap { Double($0) }.first.map { abs($0 + 12) <= 0.1 } == true, "S in \(st)")
            #expect((Self.figure(st, after: "LRA") ?? 99) <= 1, "\(st)")
            #expect(abs((Self.figure(scale, after: "TP ") ?? 0) + 12) <= 0.3, "\(scale)")
            for tick in ["-18", "-9", "0", "+9", "LU"] { #expect(scale.contains(tick), "\(tick) in \(scale)") }
            // -12 LUFS is +11 LU: past the +9 scale's end, so the M bar is full.
            #expect(!m.dropFirst(4).prefix(100 - 4 - 27 - 1).contains(" "), "\(m)")
            try await console.press("l")
            let wide = try await console.waitFor("the +18 scale", timeout: 3) { s in s.lines.contains { $0.hasPrefix("+18 ") } }
            let m18 = try #require(wide.lines.first { $0.hasPrefix(" M ") && $0.contains("LUFS") })
            // +11 of -36…+18 LU: 47/54 of the bar.
            let barW = 100 - 4 - 27 - 1
            let filled = m18.dropFirst(4).prefix(barW).filter { "█▏▎▍▌▋▊▉│".contains($0) }.count
            #expect(abs(filled - barW * 47 / 54) <= 1, "\(m18)")
            // i: the integration starts afresh (I reads -inf until the next 400 ms block).
            try await console.press("i")
            _ = try await console.waitFor("the reset event", timeout: 3) { s in s.events.contains("loudness integration reset") }
            try await console.press("l")
            _ = try await console.waitFor("the strip hidden", timeout: 3) { s in !s.lines.contains { $0.hasPrefix("+18 ") || $0.hasPrefix(" +9 ") } }
        }
    }
}
