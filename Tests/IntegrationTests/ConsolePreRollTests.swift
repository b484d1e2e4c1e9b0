// The console's pre-roll and trigger key (issue 12), driven in tmux over a paced PCM (a `file`
// PCM over a private PulseAudio) whose infile is a counter pattern: every frame distinct, so
// where a take begins in the source is found exactly and any frame lost or doubled shows.
import Foundation
import Glibc
import Testing

extension Integration {
    @Suite("Console in tmux: pre-roll and the trigger key")
    struct ConsolePreRoll {
        /// r after about `keyAt` seconds with an N-second pre-roll: the panel shows it filling to
        /// N; the file is the source from N seconds before the key (from its first frame when
        /// less was captured), contiguous through the join to the end.
        @Test("r's take begins with the pre-roll, the source's frames just before the key", arguments: [(1.0, 3.0), (10.0, 2.0)])
        func preRollFromTheConsole(seconds: Double, keyAt: Double) async throws {
            let pulse = try await PulseDaemon.start()
            defer { pulse.shutdown() }
            let home = try TempDir()
            defer { home.remove() }
            let audio = RawAudio.counterS16Stereo(frames: 48_000 * 30)
            try home.write("in.raw", bytes: audio.bytes)
            try home.write(".asoundrc", ALSAConfig.filePCM("counter", infile: home.path("in.raw"), slave: "\"pulse\""))
            let rec = home.makeDirectory("rec")
            let console = try await TmuxConsole(["-D", "counter", "-o", rec, "--pre-roll", "\(seconds)"], home: home,
                                                environment: pulse.clientEnvironment, width: 110, height: 32)
            defer { console.shutdown() }
            _ = try await console.waitFor("the console capturing", timeout: 10) { s in s.isConsole && s.route?.pcm == "counter" }
            let t0 = Monotonic.now
            let full = try await console.waitFor("the pre-roll filling", timeout: 10) { s in s.contains("Pre-roll ") }
            #expect(full.lines.contains { $0.hasPrefix("Recording ") && $0.contains("/\(String(format: "%.1f", seconds)) s") }, "\(full)")
            try await sleepUntil(t0 + keyAt)
            let before = ConsoleScreen(try await console.screen())
            // "Recording … Pre-roll 2.9/10.0 s" on the recording row.
            let row = before.lines.first { $0.hasPrefix("Recording ") } ?? ""
            let tail = row.range(of: "Pre-roll ").map { row[$0.upperBound...] } ?? ""
            let held = Double(tail.split(separator: "/").first ?? "") ?? -1
            #expect(held > min(seconds, keyAt) - 0.6 && held <= seconds, "held \(held) s of \(seconds) after \(keyAt) s:\n\(before)")
            try await console.press("r")
            let keyTime = Monotonic.now - t0
            let recording = try await console.waitFor("a file on the Recording panel", timeout: 5) { $0.recordingFile != nil }
            let path = try #require(recording.recordingFile)
            try await Task.sleep(for: .milliseconds(1000))
            try await console.press("r")
            _ = try await console.waitFor("the saved line", timeout: 5) { s in s.events.contains { $0.hasPrefix("saved \(path) ") } }
            try await console.press("q")
            #expect(try await console.waitForExit() == 0)

            let file = try SoundFile.read(path, samples: .int)
            let first = Int(UInt16(bitPattern: Int16(file.ints[0] >> 16)) &+ 32768)  // i*3 mod 65536
            // Channel 0 counts by 3 modulo 65536 (3 × 43691 ≡ 1); channel 1's noise picks the frame.
            let candidates = (0..<23).map { first * 43_691 % 65_536 + $0 * 65_536 }.filter { $0 + file.frames <= audio.frames }
            let at = try #require(candidates.first { c in
                (0..<file.frames).allSatisfy { file.ints[2 * $0 + 1] == audio.leftJustified[2 * (c + $0) + 1] }
            }, "the file is no contiguous run of the source")
            #expect(firstDifference(file.ints, Array(audio.leftJustified[(2 * at)..<(2 * (at + file.frames))]), channels: 2) == nil)
            if seconds > keyAt {
                #expect(at == 0, "more pre-roll than captured: the take starts at the input's first frame, not \(at)")
            } else {
                let expected = (keyTime - seconds) * 48_000
                #expect(abs(Double(at) - expected) < 0.4 * 48_000, "the take starts at \(at), the key was \(keyTime) s in")
            }
            #expect(Double(file.frames) > (seconds > keyAt ? keyTime : seconds) * 48_000 + 0.8 * 48_000, "\(file.frames) frames")
        }

        /// v arms the trigger: the -12 dBFS tone is above -20, so a take starts at once and the
        /// panel says triggered; v again disarms it: the take is saved and logged, the panel
        /// shows no trigger. The take begins with the half second of pre-roll.
        @Test("v arms and disarms the trigger; its take is logged")
        func triggerKey() async throws {
            let routes = try await ToneRoutes()
            defer { routes.shutdown() }
            let rec = routes.home.makeDirectory("rec")
            let console = try await TmuxConsole(["-D", "toneA", "-o", rec, "--trigger-level", "-20", "--pre-roll", "0.5"], home: routes.home,
                                                environment: routes.environment, width: 110, height: 32)
            defer { console.shutdown() }
            _ = try await console.waitFor("the console capturing", timeout: 10) { s in s.isConsole && s.route?.pcm == "toneA" }
            try await Task.sleep(for: .milliseconds(800))
            #expect(!ConsoleScreen(try await console.screen()).contains("Trigger "), "off until v")
            try await console.press("v")
            let on = try await console.waitFor("a triggered take", timeout: 5) { s in s.contains("Trigger triggered") && s.recordingFile != nil }
            let path = try #require(on.recordingFile)
            #expect(on.events.contains { $0.hasPrefix("trigger armed: takes start at -20.0 dBFS, end 2.0 s below -26.0 dBFS") }, "\(on.events)")
            try await Task.sleep(for: .milliseconds(1000))
            try await console.press("v")
            let off = try await console.waitFor("the take saved", timeout: 5) { s in s.events.contains { $0.hasPrefix("take saved \(path) ") } }
            #expect(off.events.contains("trigger off") && !off.contains("Trigger ") && off.recordingFile == nil, "\(off)")
            try await console.press("q")
            #expect(try await console.waitForExit() == 0)
            let file = try SoundFile.read(path, samples: .int)
            #expect(file.frames > 48_000 + 24_000 - 4_800, "the pre-roll and a second of take: \(file.frames) frames")
        }
    }
}
