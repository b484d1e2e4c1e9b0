// `capdeck record --description`: the bext chunk of a real take, read by ffprobe, its
// TimeReference within the wall-clock span the take started in; bad descriptions refused.
import Foundation
import Glibc
import Testing

extension Integration {
    @Suite("Broadcast Wave")
    struct BroadcastWaveRecord {
        /// Samples from local midnight to `t` at `rate` (worked out here with the C library, as
        /// a reader would from the file's date and time).
        static func samplesSinceMidnight(_ t: timespec, rate: Int) -> Int {
            var s = t.tv_sec
            var lt = tm()
            localtime_r(&s, &lt)
            return (Int(lt.tm_hour) * 3600 + Int(lt.tm_min) * 60 + Int(lt.tm_sec)) * rate + Int(t.tv_nsec) * rate / 1_000_000_000
        }

        /// The file's format tags as ffprobe reads them (`TAG:comment`, `TAG:time_reference`, …),
        /// and its output.
        static func ffprobeTags(_ path: String) throws -> (tags: [String: String], text: String) {
            let p = Process()
            p.executableURL = URL(fileURLWithPath: "/usr/bin/ffprobe")
            p.arguments = ["-v", "error", "-of", "default=nw=1", "-show_entries", "format_tags", path]
            let pipe = Pipe()
            p.standardOutput = pipe
            try p.run()
            let text = String(decoding: pipe.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
            p.waitUntilExit()
            var tags: [String: String] = [:]
            for line in text.split(separator: "\n") {
                let kv = line.split(separator: "=", maxSplits: 1)
                if kv.count == 2 { tags[String(kv[0])] = String(kv[1]) }
            }
            return (tags, text)
        }

        @Test("record --description writes a bext chunk whose TimeReference is the take's start")
        func recordWritesBext() async throws {
            let home = try TempDir()
            defer { home.remove() }
            let out = home.path("take.wav")
            var before = timespec(), after = timespec()
            clock_gettime(CLOCK_REALTIME, &before)
            let r = try await Capdeck.run(["record", "-q", "-D", "builtin", "-r", "44100", "-d", "0.5", "--description", "Dawn chorus — Wald", out],
                                          home: home, timeout: 20)
            clock_gettime(CLOCK_REALTIME, &after)
            #expect(r.exitCode == 0, "\(r)")
            let (tags, text) = try Self.ffprobeTags(out)
            #expect(tags["TAG:comment"] == "Dawn chorus — Wald", "\(text)")
            #expect(tags["TAG:encoded_by"]?.hasPrefix("CaptureDeck ") == true)
            #expect(tags["TAG:coding_history"]?.contains("T=CaptureDeck") == true && tags["TAG:coding_history"]?.contains("; builtin") == true, "\(text)")
            let tr = try #require(tags["TAG:time_reference"].flatMap { Int($0) }, "\(text)")
            let lo = Self.samplesSinceMidnight(before, rate: 44100), hi = Self.samplesSinceMidnight(after, rate: 44100)
            // (A take across local midnight would wrap; the span is half a second.)
            #expect(lo <= tr && tr <= hi || hi < lo, "TimeReference \(tr) outside [\(lo), \(hi)]")
        }

        @Test("a description over 256 bytes is refused", arguments: [String(repeating: "a", count: 257), String(repeating: "é", count: 129)])
        func longDescriptionRefused(_ text: String) async throws {
            let home = try TempDir()
            defer { home.remove() }
            let out = home.path("take.wav")
            let r = try await Capdeck.run(["record", "-q", "-D", "builtin", "-d", "0.2", "--description", text, out], home: home, timeout: 15)
            #expect(r.exitCode == 64, "\(r)")
            let lines = r.stderr.split(separator: "\n").filter { !$0.isEmpty }
            #expect(lines.count == 1 && lines[0].hasPrefix("capdeck: ") && r.stderr.contains("--description") && r.stderr.contains("256 bytes"), "\(r.stderr)")
            #expect(!FileManager.default.fileExists(atPath: out))
        }
    }
}
