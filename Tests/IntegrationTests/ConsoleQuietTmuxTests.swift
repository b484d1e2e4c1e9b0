// The console's cost when nothing moves (issue 14): a screen that doesn't change sends the
// terminal nothing, and the meters still come alive at once when the signal does. Real parts: a
// paced PCM over the tests' own PulseAudio daemon (silence, then a tone), the console in a private
// tmux server, and every byte capdeck writes to the pane copied out by tmux itself (pipe-pane).
import Foundation
import Glibc
import Testing

extension Integration {
    @Suite("Console in tmux: a still screen writes nothing, the meters still move")
    final class ConsoleQuietScreen {
        let routes: ToneRoutes
        /// The PCM's silence before its tone: long enough for start-up, settling and the quiet
        /// window on a loaded machine.
        static let silentSeconds = 10
        static let toneDB = -6.0

        init() async throws {
            routes = try await ToneRoutes()
            let silence = [UInt8](repeating: 0, count: Self.silentSeconds * ToneRoutes.rate * 4)
            try routes.home.write("quietloud.raw", bytes: silence + Tone.s16Stereo(frequency: 1000, dBFS: Self.toneDB, seconds: 30))
            let rc = try String(contentsOfFile: routes.home.path(".asoundrc"), encoding: .utf8)
            try routes.home.write(".asoundrc", rc + ALSAConfig.filePCM("quietloud", infile: routes.home.path("quietloud.raw"), slave: "\"pulse\""))
        }

        deinit { routes.shutdown() }

        /// Both meters read `-inf` (parsed as -infinity).
        static func silent(_ s: ConsoleScreen) -> Bool {
            s.meters.count == 2 && s.meters.allSatisfy { ($0.peak ?? -.infinity) == -.infinity && ($0.rms ?? -.infinity) == -.infinity }
        }

        static func bytes(_ path: String) -> Int {
            var st = stat()
            return stat(path, &st) == 0 ? Int(st.st_size) : 0
        }

        @Test("silence: not one byte goes to the terminal for 2 s; when the tone starts the meters move and read it; a resize repaints at once")
        func stillScreenWritesNothing() async throws {
            // Recordings on tmpfs where there is one: the free-space figure on screen then stays
            // put while the machine's disk fills and empties around the test.
            let shm = "/dev/shm/capdeck-quiet-\(getpid())"
            let rec = mkdir(shm, 0o700) == 0 ? shm : routes.home.makeDirectory("rec")
            defer { if rec == shm { try? FileManager.default.removeItem(atPath: shm) } }
            let console = try await TmuxConsole(["-D", "quietloud", "-o", rec], home: routes.home, environment: routes.environment,
                                                width: 120, height: 40)
            defer { console.shutdown() }
            try await console.waitFor("the console capturing quietloud's silence", timeout: 10) { s in
                s.isConsole && s.route?.pcm == "quietloud" && Self.silent(s)
            }
            // Start-up's event lines and the first free-space figure have been drawn by now.
            try await Task.sleep(for: .seconds(1))
            let out = routes.home.path("pane-output")
            try await console.copyOutput(to: out)
            let before = try await console.screen()
            try await Task.sleep(for: .seconds(2))
            let after = try await console.screen()
            let still = Self.bytes(out)
            #expect(Self.silent(ConsoleScreen(after)), "the tone started inside the quiet window (a very slow start): \(after)")
            #expect(before == after, "the screen changed while the input was silent:\n\(before)\n---\n\(after)")
            #expect(still == 0, "\(still) bytes went to the terminal in 2 s of an unchanging screen")

            // The tone: the meters come alive and settle on its level, drawn frame by frame.
            let live = try await console.waitFor("the meters to show the tone", timeout: Double(Self.silentSeconds) + 5) { s in
                s.meters.count == 2 && s.meters.allSatisfy { ($0.peak ?? -200) > -30 }
            }
            #expect(live.meters.allSatisfy { $0.bar.count == 120 - 32 }, "the bars at 120 columns: \(live.meters.map(\.row))")
            let moving = Self.bytes(out)
            #expect(moving > still, "the meters moved but nothing was written to the terminal")
            let settled = try await console.waitFor("the peak to read the tone's -6 dBFS", timeout: 3) { s in
                s.meters.count == 2 && s.meters.allSatisfy { abs(($0.peak ?? -200) - Self.toneDB) <= 0.5 }
            }
            #expect(settled.meters.allSatisfy { abs(($0.peak ?? -200) - Self.toneDB) <= 0.5 }, "\(settled.meters)")

            // A resize lays the screen out again at the new size (the bars narrower), whatever the model.
            try await console.resize(width: 100, height: 32)
            let resized = try await console.waitFor("the layout at 100x32", timeout: 3) { s in
                s.isConsole && s.meters.count == 2 && s.meters.allSatisfy { $0.bar.count == 100 - 32 }
            }
            #expect(resized.meters.allSatisfy { abs(($0.peak ?? -200) - Self.toneDB) <= 0.5 }, "\(resized.meters)")

            try await console.press("q")
            #expect(try await console.waitForExit() == 0)
        }
    }
}
