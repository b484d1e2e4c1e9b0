// Loudness through the real recorder path: EBU test signals generated into an ALSA file PCM's
// infile, recorded by `capdeck record`; the summary line, each part's bext loudness (wavinfo),
// ffmpeg's own ebur128 filter over the same files, and `status`'s loudness while a take runs.
import CaptureCore
import CaptureTestSupport
import Foundation
import Glibc
import Testing

extension Integration {
    @Suite("Loudness (record)")
    struct LoudnessRecord {
        /// wavinfo's five bext loudness fields (absent where 0x7FFF).
        static func bextLoudness(_ path: String) throws -> [String: Double] {
            let script = """
            import sys, json; from wavinfo import WavInfoReader; b = WavInfoReader(sys.argv[1]).bext
            d = dict(I=b.loudness_value, LRA=b.loudness_range, TP=b.max_true_peak, M=b.max_momentary_loudness, S=b.max_shortterm_loudness)
            print(json.dumps({k: v for k, v in d.items() if v is not None and v != 327.67}))
            """
            let r = try runTool("/usr/bin/env", ["python3", "-c", script, path])
            try #require(r.status == 0, "wavinfo (pip install wavinfo): \(r.err)")
            return try #require(JSONSerialization.jsonObject(with: Data(r.out.utf8)) as? [String: Double])
        }

        /// ffmpeg's ebur128 filter (its own BS.1770 implementation) over a file: I, LRA, true peak.
        static func ffmpegLoudness(_ path: String) throws -> (i: Double, lra: Double, tp: Double) {
            let r = try runTool("/usr/bin/ffmpeg", ["-nostats", "-hide_banner", "-i", path, "-af", "ebur128=peak=true", "-f", "null", "-"])
            let summary = r.err.components(separatedBy: "Summary:").last ?? ""
            func value(_ label: String) -> Double? {
                guard let line = summary.split(separator: "\n").first(where: { $0.trimmingCharacters(in: .whitespaces).hasPrefix(label) }) else { return nil }
                return Double(line.split(separator: " ").dropFirst().first { Double($0) != nil } ?? "")
            }
            return (try #require(value("I:"), "\(summary)"), try #require(value("LRA:"), "\(summary)"), try #require(value("Peak:"), "\(summary)"))
        }

        /// `samples` (48 kHz stereo) as the infile of an ALSA file PCM named "ebu" in `home`'s
        /// .asoundrc, recorded as 24-bit stereo into `home`/take.wav with `options` added.
        static func recordEBU(_ samples: [Float], home: TempDir, _ options: [String]) async throws -> RunResult {
            try home.write("ebu.raw", bytes: samples.rawBytes(.s24_3LE))
            try home.write(".asoundrc", ALSAConfig.filePCM("ebu", infile: home.path("ebu.raw")))
            return try await Capdeck.run(["record", "-D", "ebu", "-f", "S24_3LE", "-r", "48000", "-c", "2"] + options + [home.path("take.wav")],
                                         home: home, timeout: 60)
        }

        static func runTool(_ exe: String, _ args: [String]) throws -> (status: Int32, out: String, err: String) {
            let p = Process()
            p.executableURL = URL(fileURLWithPath: exe)
            p.arguments = args
            let out = Pipe(), err = Pipe()
            p.standardOutput = out
            p.standardError = err
            try p.run()
            let e = err.fileHandleForReading.readDataToEndOfFile()
            let o = out.fileHandleForReading.readDataToEndOfFile()
            p.waitUntilExit()
            return (p.terminationStatus, String(decoding: o, as: UTF8.self), String(decoding: e, as: UTF8.self))
        }

        @Test("Tech 3342 case 1 through record, split in two: each part's bext has its own loudness, the summary the take's")
        func splitTakeOfTech3342Case1() async throws {
            let home = try TempDir()
            defer { home.remove() }
            let signal = EBUSignal.tech3342[0]  // -20 dBFS 20 s, then -30 dBFS 20 s
            let r = try await Self.recordEBU(signal.render(rate: 48000), home: home, ["-d", "40", "--max-file-time", "20"])
            #expect(r.exitCode == 0, "\(r)")
            // The take's summary: its integrated level (the -30 dBFS half is inside the relative
            // gate: I is the energy mean of both, -22.6, ±0.1 and the line's rounding), its range 10 LU, its peaks the -20 half's.
            let line = try #require(r.stderr.split(separator: "\n").first { $0.hasPrefix("capdeck: loudness: ") }, "\(r.stderr)")
            let words = line.split(separator: " ")
            let lra = words.firstIndex(of: "LRA").flatMap { Double(words[$0 + 1]) }
            let integrated = words.firstIndex(of: "I").flatMap { Double(words[$0 + 1]) }
            #expect(abs((lra ?? 0) - 10) <= 1 && abs((integrated ?? 0) + 22.6) <= 0.15, "\(line)")
            #expect(line.contains("max M -20.0 LUFS") && line.contains("max S -20.0 LUFS") && line.contains("max TP -20.0 dBTP"), "\(line)")
            let parts = [home.path("take-001.wav"), home.path("take-002.wav")]
            for (part, level) in zip(parts, [-20.0, -30.0]) {
                let b = try Self.bextLoudness(part)
                for k in ["I", "M", "S"] { #expect(abs((b[k] ?? 0) - level) <= 0.1, "\(part) \(k): \(b)") }
                #expect((b["TP"] ?? 0) >= level - 0.4 && (b["TP"] ?? 0) <= level + 0.2, "\(part): \(b)")
                #expect((b["LRA"] ?? 99) <= 1, "\(part): \(b)")
                // ffmpeg, measuring the same file by itself, agrees.
                let ff = try Self.ffmpegLoudness(part)
                #expect(abs(ff.i - (b["I"] ?? 0)) <= 0.15 && abs(ff.tp - (b["TP"] ?? 0)) <= 0.2, "\(part): ffmpeg \(ff), bext \(b)")
            }
        }

        @Test("a take split into parts shorter than 3 s: the summary's short-term maximum is the take's, across the seams")
        func shortPartsShortTerm() async throws {
            let home = try TempDir()
            defer { home.remove() }
            let signal = EBUSignal.tech3342[0]  // -20 dBFS for its first 20 s
            let r = try await Self.recordEBU(signal.render(rate: 48000), home: home, ["-d", "5", "--max-file-time", "2"])
            #expect(r.exitCode == 0, "\(r)")
            #expect(FileManager.default.fileExists(atPath: home.path("take-003.wav")), "three parts: \(r.stderr)")
            let line = try #require(r.stderr.split(separator: "\n").first { $0.hasPrefix("capdeck: loudness: ") }, "\(r.stderr)")
            // Each part alone is under 3 s and has no short-term value; the take's 5 s have.
            #expect(line.contains("max M -20.0 LUFS") && line.contains("max S -20.0 LUFS"), "\(line)")
        }

        /// The generated EBU cases as 24-bit stereo (case 6 is 5.0 surround, which CaptureDeck's
        /// discrete channels don't weigh as such: the meter's own test covers it).
        static let recordedCases = (EBUSignal.tech3341 + EBUSignal.tech3342).filter { !$0.surround50 }

        @Test("each EBU case recorded from an ALSA file PCM: the file's bext loudness within the EBU's tolerance", arguments: recordedCases)
        func ebuCaseThroughRecord(_ signal: EBUSignal) async throws {
            let home = try TempDir()
            defer { home.remove() }
            let samples = signal.render(rate: 48000)
            let out = home.path("take.wav")
            let r = try await Self.recordEBU(samples, home: home, ["-q", "-d", "\(Double(samples.count / 2) / 48000)"])
            #expect(r.exitCode == 0, "\(r)")
            let b = try Self.bextLoudness(out)
            func near(_ key: String, _ v: Double, _ lo: Double, _ hi: Double) -> Bool { b[key].map { $0 >= v - lo && $0 <= v + hi } ?? false }
            switch signal.expected {
            case .allThree(let v): #expect(near("I", v, 0.1, 0.1) && near("M", v, 0.1, 0.1) && near("S", v, 0.1, 0.1), "\(b)")
            case .integrated(let v): #expect(near("I", v, 0.1, 0.1), "\(b)")
            // Constant after the first window: its maximum is that level.
            case .shortTermConstant(let v): #expect(near("S", v, 0.1, 0.1), "\(b)")
            case .momentaryConstant(let v): #expect(near("M", v, 0.1, 0.1), "\(b)")
            case .truePeak(let v): #expect(near("TP", v, 0.4, 0.2), "\(b)")
            case .range(let v): #expect(near("LRA", v, 1, 1), "\(b)")
            }
        }

        /// And the config file's `[meters] loudness = false`, for a recorder on a tight CPU budget
        /// that should never meter (Docs/benchmarks.md: libebur128 is most of a take's cost).
        @Test("--no-loudness, or [meters] loudness = false in the config file: no summary line, the bext loudness unknown (0x7FFF)",
              arguments: [["--no-loudness"], ["--config", "quiet.toml"]])
        func noLoudness(_ how: [String]) async throws {
            let home = try TempDir()
            defer { home.remove() }
            try home.write("tone.raw", bytes: EBUSignal.tech3341[0].render(rate: 48000).rawBytes(.s16LE))
            try home.write(".asoundrc", ALSAConfig.filePCM("ebu", infile: home.path("tone.raw")))
            try home.write("quiet.toml", "[meters]\nloudness = false\n")
            let out = home.path("quiet.wav")
            let args = how.map { $0 == "quiet.toml" ? home.path($0) : $0 }
            let r = try await Capdeck.run(["record"] + args + ["-D", "ebu", "-f", "S16_LE", "-r", "48000", "-c", "2", "-d", "5", out],
                                          home: home, timeout: 30)
            #expect(r.exitCode == 0, "\(r)")
            #expect(r.stderr.contains("capdeck: saved ") && !r.stderr.contains("loudness"), "\(r.stderr)")
            #expect(try Self.bextLoudness(out).isEmpty)
        }

        @Test("status shows the loudness while a take runs; reset-loudness starts it afresh")
        func statusAndReset() async throws {
            let home = try TempDir()
            defer { home.remove() }
            let out = home.path("tone.wav")
            // The built-in source, paced: a 1 kHz stereo sine at -12 dBFS reads -12 LUFS.
            let p = try ControlledCapdeck(["record", "-D", "builtin:sine:1000", "-r", "48000", "-c", "2", out], home: home)
            try await p.waitForFrames(atLeast: 48000 * 3.5, timeout: 15)
            let s = try await p.status()
            for key in ["momentary", "shortTerm", "integrated"] {
                #expect(abs((s.number("loudness.\(key)") ?? 0) + 12) <= 0.1, "\(key): \(s)")
            }
            #expect((s.number("loudness.range") ?? 99) <= 1, "\(s)")
            let tp = try #require(s.array("loudness.truePeak") as? [Double], "\(s)")
            #expect(tp.count == 2 && tp.allSatisfy { $0 >= -12.4 && $0 <= -11.8 }, "\(tp)")
            try p.send("reset-loudness")
            let after = try await p.status()
            #expect(after.isNull("loudness.integrated") && after.isNull("loudness.shortTerm") && (after.array("loudness.truePeak")?.isEmpty ?? false), "\(after)")
            // A second later it reads again (momentary: 400 ms windows), the short-term not yet.
            try await Task.sleep(for: .milliseconds(1200))
            let again = try await p.status()
            #expect(abs((again.number("loudness.momentary") ?? 0) + 12) <= 0.1 && again.isNull("loudness.shortTerm"), "\(again)")
            try p.send("stop")
            let t = await p.finish(timeout: 15)
            #expect(t?.exitCode == 0, "\(p.stderr)")
            #expect(p.stderr.contains("capdeck: loudness: I -12.0 LUFS"), "\(p.stderr)")
        }
    }
}

/// Names each recorded case by the document's number.
extension EBUSignal: CustomTestStringConvertible {
    public var testDescription: String { name }
}
