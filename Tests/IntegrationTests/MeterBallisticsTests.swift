// Meter ballistics end to end on a real PCM (a paced file PCM over the tests' own PulseAudio
// daemon carrying a 1 kHz tone at the -18 dBFS alignment level): the console's b key switching
// the bar, its scale and its reading, driven in tmux; `record --meter` and `meter MODE` on stdin
// answered by `status`.
import Foundation
import Testing

extension Integration {
    @Suite("Meter ballistics: the console's b key and record's meter command on a real PCM")
    final class MeterBallistics {
        let routes: ToneRoutes
        /// The alignment tone: 0 VU, mark 4 on the BBC PPM, -9 dB on the DIN PPM.
        static let alignDB = -18.0

        init() async throws {
            routes = try await ToneRoutes()
            try routes.home.write("align.raw", bytes: Tone.s16Stereo(frequency: 1000, dBFS: Self.alignDB, seconds: 60))
            let rc = try String(contentsOfFile: routes.home.path(".asoundrc"), encoding: .utf8)
            try routes.home.write(".asoundrc", rc + ALSAConfig.filePCM("align", infile: routes.home.path("align.raw"), slave: "\"pulse\""))
        }

        deinit { routes.shutdown() }

        /// A meter row's sample peak and its second number with its unit (`rms`, `dB`, `PPM`, `VU`).
        struct Row {
            var label: String, peak: Double?, value: Double?, unit: String, bar: String
        }

        static func rows(_ s: ConsoleScreen) -> [Row] {
            let number = #"(-?[0-9]+\.[0-9]|-inf)"#
            return s.lines.compactMap { l in
                guard let r = l.range(of: #"^ ([LR])  "#, options: .regularExpression),
                      let n = l.range(of: number + " pk +" + number + " (rms|dB|PPM|VU)", options: .regularExpression) else { return nil }
                let words = l[n].split(separator: " ")
                let start = l.distance(from: l.startIndex, to: r.upperBound)
                let end = l.distance(from: l.startIndex, to: n.lowerBound)
                let bar = String(Array(l)[start..<max(start, end - 1)])
                return Row(label: l[r].trimmingCharacters(in: .whitespaces), peak: Double(words[0]), value: Double(words[2]),
                           unit: String(words[3]), bar: bar)
            }
        }

        /// The scale line under the meters (the one naming the unit).
        static func scaleLine(_ s: ConsoleScreen) -> String? {
            s.lines.first { $0.contains("dBFS") && !$0.hasPrefix(" L ") && !$0.hasPrefix(" R ") && $0.range(of: #"^ +-?[0-9]"#, options: .regularExpression) != nil }
        }

        /// Waits for both meters to read `unit` steadily at `expected` (± `tolerance`), then checks
        /// them on three more frames.
        func expectSteady(_ console: TmuxConsole, unit: String, expected: Double, tolerance: Double, scale: String) async throws {
            let s = try await console.waitFor("both meters to read \(expected) \(unit)", timeout: 8) { s in
                let r = Self.rows(s)
                return r.count == 2 && r.allSatisfy { $0.unit == unit && abs(($0.value ?? -200) - expected) <= tolerance }
            }
            #expect(Self.scaleLine(s)?.contains(scale) == true, "scale line: \(String(describing: Self.scaleLine(s)))\n\(s)")
            for _ in 0..<3 {
                try await Task.sleep(for: .milliseconds(150))
                let now = ConsoleScreen(try await console.screen())
                for r in Self.rows(now) {
                    #expect(r.unit == unit && abs((r.value ?? -200) - expected) <= tolerance, "\(r.label): \(String(describing: r.value)) \(r.unit)\n\(now)")
                    #expect(abs((r.peak ?? -200) - Self.alignDB) <= 0.3, "the sample peak stays beside it: \(String(describing: r.peak))")
                }
            }
        }

        @Test("--meter ppm2 starts on the BBC scale at mark 4; b switches to VU (0 VU), then peak (rms back), then PPM I (-9 dB); each switch in the event log")
        func keySwitchesTheMode() async throws {
            let rec = routes.home.makeDirectory("rec")
            let console = try await TmuxConsole(["-D", "align", "--meter", "ppm2", "-o", rec], home: routes.home, environment: routes.environment)
            defer { console.shutdown() }

            try await expectSteady(console, unit: "PPM", expected: 4.0, tolerance: 0.1, scale: "PPM II BBC, 4=-18 dBFS")

            try await console.press("b")
            let vu = try await console.waitFor("the VU scale and its event line", timeout: 5) { s in
                Self.scaleLine(s)?.contains("VU, 0=-18 dBFS") == true && s.events.contains("meters: VU (IEC 60268-17)")
            }
            #expect(Self.rows(vu).allSatisfy { $0.unit == "VU" }, "\(vu)")
            try await expectSteady(console, unit: "VU", expected: 0.0, tolerance: 0.3, scale: "VU, 0=-18 dBFS")
            // The bar: 0 VU is 20/23 of the way along -20…+3 VU.
            let settled = ConsoleScreen(try await console.screen())
            for r in Self.rows(settled) {
                let full = r.bar.filter { $0 == "█" }.count
                let expected = Int((20.0 / 23 * Double(r.bar.count)).rounded(.down))
                #expect(abs(full - expected) <= 1, "\(r.label): \(full) full blocks of \(r.bar.count), 0 VU is column \(expected): \(r.bar)")
            }

            try await console.press("b")
            try await expectSteady(console, unit: "rms", expected: Self.alignDB - 10 * log10(2), tolerance: 0.3, scale: "dBFS")
            let peak = ConsoleScreen(try await console.screen())
            #expect(peak.events.contains("meters: peak"), "\(peak.events)")

            try await console.press("b")
            try await expectSteady(console, unit: "dB", expected: Self.alignDB + 9, tolerance: 0.3, scale: "PPM I dB, 0=-9 dBFS")
            let ppm1 = ConsoleScreen(try await console.screen())
            #expect(ppm1.events.contains("meters: PPM I (IEC 60268-10 type I)"), "\(ppm1.events)")

            try await console.press("q")
            #expect(try await console.waitForExit() == 0)
        }

        @Test("record --meter vu: status says the mode and each channel's reading (-18 dBFS = 0 VU); meter ppm1 on stdin switches it; a bad mode is refused on one line")
        func recordAndStatus() async throws {
            let out = routes.home.path("vu.wav")
            let c = try routes.capdeck(["record", "-q", "-D", "align", "--meter", "vu", out])
            _ = try await c.waitForFile(out)
            try await Task.sleep(for: .milliseconds(1200))  // the needle settles (300 ms to 99 %)
            let vu = try await c.status()
            #expect(vu.string("meterMode") == "vu", "\(vu)")
            let meters = try #require(vu.array("meters") as? [[String: Any]], "\(vu)")
            #expect(meters.count == 2)
            for m in meters {
                let b = try #require((m["ballistic"] as? NSNumber)?.doubleValue, "\(vu)")
                #expect(abs(b - Self.alignDB) <= 0.3, "VU reading \(b) dBFS: \(vu)")
            }

            try c.send("meter PPM1")
            try await Task.sleep(for: .milliseconds(500))
            let ppm = try await c.status()
            #expect(ppm.string("meterMode") == "ppm1", "\(ppm)")
            for m in try #require(ppm.array("meters") as? [[String: Any]]) {
                let b = try #require((m["ballistic"] as? NSNumber)?.doubleValue)
                let p = try #require((m["peak"] as? NSNumber)?.doubleValue)
                #expect(abs(b - Self.alignDB) <= 0.3 && abs(p - Self.alignDB) <= 0.3, "PPM I \(b), peak \(p): \(ppm)")
            }

            try c.send("meter loud")
            try await Task.sleep(for: .milliseconds(300))
            #expect(c.stderr.contains("control: unknown meter 'loud'; use peak, ppm1, ppm2 or vu"), "\(c.stderr)")
            #expect(try await c.status().string("meterMode") == "ppm1")
            try c.send("stop")
            let t = await c.child.wait(timeout: 15)
            #expect(t?.exitCode == 0, "\(String(describing: t)); stderr: \(c.stderr)")
        }

        @Test("the config file's [meters] ballistics chooses the mode; --meter overrides it")
        func configFile() async throws {
            let conf = routes.home.path("meters.toml")
            try routes.home.write("meters.toml", "[meters]\nballistics = \"ppm2\"\n")
            for (extra, expected) in [([String](), "ppm2"), (["--meter", "peak"], "peak")] {
                let out = routes.home.path("conf-\(expected).wav")
                let c = try routes.capdeck(["record", "-q", "-D", "align", "--config", conf] + extra + [out])
                _ = try await c.waitForFile(out)
                #expect(try await c.status().string("meterMode") == expected)
                try c.send("stop")
                #expect(await c.child.wait(timeout: 15)?.exitCode == 0, "stderr: \(c.stderr)")
            }
        }
    }
}
