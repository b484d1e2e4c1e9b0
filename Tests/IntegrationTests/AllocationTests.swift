// The capture thread makes no heap allocation after start, measured in a real capture process:
// `capdeck-bench` interposes malloc and counts the capture thread's calls over thousands of
// periods (real ALSA through the file plugin; the clock-paced built-in source, whose loop sleeps
// in poll every period; see PacedCaptureTests for real ALSA through PulseAudio).
import CAllocCounter
import Foundation
import Testing

extension Integration {
    @Suite("Zero allocations on the capture path",
           .enabled(if: CAllocCounter_isActive() != 0, "the allocation counter is off in this build (sanitizer builds compile it with CAPDECK_NO_ALLOC_COUNTER)"))
    struct Allocations {
        static func bench() throws -> String {
            let capdeck = try Capdeck.require()
            return URL(fileURLWithPath: capdeck).deletingLastPathComponent().appendingPathComponent("capdeck-bench").path
        }

        /// Parses `allocations=N periods=M ...`.
        static func parse(_ out: String) -> (allocations: Int, periods: Int)? {
            var a: Int?, p: Int?
            for field in out.split(whereSeparator: { $0 == " " || $0 == "\n" }) {
                if field.hasPrefix("allocations=") { a = Int(field.dropFirst(12)) }
                if field.hasPrefix("periods=") { p = Int(field.dropFirst(8)) }
            }
            guard let a, let p else { return nil }
            return (a, p)
        }

        @Test("ALSA file PCM, 1 ms periods")
        func alsa() async throws {
            let home = try TempDir()
            defer { home.remove() }
            let audio = RawAudio.counterS16Stereo(frames: 48_000 * 30)
            try home.write("in.raw", bytes: audio.bytes)
            try home.write(".asoundrc", ALSAConfig.filePCM("alloc", infile: home.path("in.raw")))
            let r = try await runProgram(try Self.bench(), ["alloc", "10000", "1000"],
                                         environment: Capdeck.environment(home: home.root), scratch: home, timeout: 60)
            #expect(r.exitCode == 0, "\(r)")
            let m = try #require(Self.parse(r.stdout), "\(r)")
            #expect(m.periods >= 10_000)
            #expect(m.allocations == 0, "\(r.stdout)")
        }

        @Test("built-in source paced by the clock: the poll path, 1 ms periods")
        func paced() async throws {
            let home = try TempDir()
            defer { home.remove() }
            let r = try await runProgram(try Self.bench(), ["builtin-paced", "2000", "1000"],
                                         environment: Capdeck.environment(home: home.root), scratch: home, timeout: 60)
            #expect(r.exitCode == 0, "\(r)")
            let m = try #require(Self.parse(r.stdout), "\(r)")
            #expect(m.periods >= 2_000)
            #expect(m.allocations == 0, "\(r.stdout)")
        }
    }
}
