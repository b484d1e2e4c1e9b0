// An empty take (stopped before any audio arrived) keeps no file and says so, the same way in
// `record` and in the console (r then r). The device that delivers nothing is an exclusive
// route another capdeck holds: the session waits, interrupted, so no frame can arrive.
import Foundation
import Glibc
import Testing

extension Integration {
    @Suite("Empty takes: no audio, no file, in record and the console alike")
    final class EmptyTake {
        let routes: ToneRoutes

        init() async throws { routes = try await ToneRoutes() }
        deinit { routes.shutdown() }

        /// Another capdeck on toneA, exclusive: what the test's recorder asks for is busy.
        func holdToneA() async throws -> ControlledCapdeck {
            let out = routes.home.path("holder.wav")
            let a = try routes.capdeck(["record", "-D", "toneA", "--exclusive-device", "toneA", out], label: "holder")
            _ = try await a.waitForFile(out)
            _ = try await a.waitForFrames()
            return a
        }

        @Test("record stopped before any audio: no file, one line says so, exit 0")
        func headless() async throws {
            let holder = try await holdToneA()
            defer { holder.child.signal(SIGINT) }
            let out = routes.home.path("empty.wav")
            let b = try routes.capdeck(["record", "-D", "toneA", "--exclusive-device", "toneA", out], label: "B")
            _ = try await b.waitForFile(out)
            let waiting = await b.waitForStderrLine { $0.contains("interrupted") }
            try #require(waiting != nil, "B is not waiting for the held device: \(b.stderr)")
            b.child.signal(SIGINT)
            let end = await b.finish(timeout: 10)
            #expect(end == .exited(0), "\(String(describing: end)); \(b.stderr)")
            #expect(b.stderrLines.last == "capdeck: stopped before any audio was captured; no file kept", "\(b.stderr)")
            #expect(access(out, F_OK) != 0, "an empty take left \(out)")
        }

        @Test("console: r then r before any audio keeps no file and the event log says so, as record does")
        func console() async throws {
            let holder = try await holdToneA()
            defer { holder.child.signal(SIGINT) }
            let rec = routes.home.path("rec")
            mkdir(rec, 0o700)
            let console = try await TmuxConsole(["-D", "toneA", "--exclusive-device", "toneA", "-o", rec], home: routes.home,
                                                environment: routes.environment, width: 120, height: 32)
            defer { console.shutdown() }
            _ = try await console.waitFor("the console, interrupted", timeout: 10) { $0.isConsole && $0.contains("INTERRUPTED") }
            try await console.press("r")
            _ = try await console.waitFor("the recording to start", timeout: 5) { $0.contains("recording to \(rec)/") }
            let made = try FileManager.default.contentsOfDirectory(atPath: rec)
            #expect(made.count == 1, "r made \(made)")
            try await console.press("r")
            _ = try await console.waitFor("the empty take's line", timeout: 5) {
                $0.contains("stopped before any audio was captured; no file kept")
            }
            let left = try FileManager.default.contentsOfDirectory(atPath: rec)
            #expect(left.isEmpty, "an empty take left \(left)")
            // Quitting with an empty take in progress keeps none either.
            try await console.press("r")
            _ = try await console.waitFor("the second recording", timeout: 5) { $0.contains("● recording") }
            try await console.press("q")
            _ = try await console.waitFor("the quit question", timeout: 5) { $0.contains("(y/n)") }
            try await console.press("y")
            let code = try await console.waitForExit()
            #expect(code == 0)
            let screen = try await console.screen()
            #expect(screen.contains("capdeck: stopped before any audio was captured; no file kept"), "\(screen)")
            #expect(try FileManager.default.contentsOfDirectory(atPath: rec).isEmpty)
        }
    }
}
