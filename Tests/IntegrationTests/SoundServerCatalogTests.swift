// Knowing the sound server (issue 9): `capdeck devices` lists its sources as `pulse:SOURCE` and
// says truthfully what `record` without -D uses; with a server running, that is its default
// source, not the first card; a named source records.
import Foundation
import Glibc
import Testing

extension Integration {
    @Suite("The sound server in the device catalog")
    final class SoundServerCatalog {
        let routes: ToneRoutes
        init() async throws { routes = try await ToneRoutes() }
        deinit { routes.shutdown() }

        @Test("capdeck devices lists the server's sources (monitor marked, default marked) and says record without -D uses the server's default source")
        func devicesListsTheServer() async throws {
            let r = try await Capdeck.run(["devices"], home: routes.home, extraEnvironment: routes.environment, timeout: 20)
            #expect(r.exitCode == 0, "\(r)")
            #expect(r.stdout.contains("Without -D, capdeck uses: pulse: the sound server's default source nullsink.monitor"), "\(r.stdout)")
            let line = r.stdout.split(separator: "\n").first { $0.contains("pulse:nullsink.monitor") }
            #expect(line?.contains("server") == true && line?.contains("monitor") == true && line?.contains("(default)") == true,
                    "\(r.stdout)")
        }

        @Test("record without -D while a server runs records its default source through the server; -D pulse:SOURCE names one")
        func recordUsesTheServer() async throws {
            let out = routes.home.path("default.wav")
            let r = try await Capdeck.run(["record", "-d", "0.5", out], home: routes.home, extraEnvironment: routes.environment, timeout: 20)
            #expect(r.exitCode == 0, "\(r)")
            #expect(r.stderr.contains("ALSA PCM pulse"), "the server's PCM, not a card or the built-in signal: \(r.stderr)")
            let file = try SoundFile.read(out, samples: .none)
            #expect(file.frames == 24_000)
            let named = routes.home.path("named.wav")
            let n = try await Capdeck.run(["record", "-D", "pulse:nullsink.monitor", "-d", "0.5", named], home: routes.home,
                                          extraEnvironment: routes.environment, timeout: 20)
            #expect(n.exitCode == 0 && n.stderr.contains("pulse:nullsink.monitor"), "\(n)")
        }

        @Test("capdeck devices with the server gone says why there is nothing, and record without -D would use nothing")
        func devicesWithTheServerGone() async throws {
            let home = try TempDir()
            defer { home.remove() }
            let gone = "unix:" + home.path("gone/native")
            let r = try await Capdeck.run(["devices"], home: home, extraEnvironment: ["PULSE_SERVER": gone], timeout: 20)
            #expect(r.exitCode == 0, "\(r)")
            #expect(r.stdout.contains("Without -D, capdeck uses: nothing: the sound server \(gone)"), "\(r.stdout)")
            #expect(!r.stdout.contains("falls back"), "\(r.stdout)")
        }

        @Test("the console's device picker lists the server's sources first, and one picked records")
        func pickerListsTheServer() async throws {
            let rec = routes.home.makeDirectory("rec")
            let console = try await TmuxConsole(["-D", "toneA", "-o", rec], home: routes.home, environment: routes.environment,
                                                width: 120, height: 40)
            defer { console.shutdown() }
            _ = try await console.waitFor("the console capturing toneA", timeout: 10) { s in s.isConsole && s.route?.pcm == "toneA" }
            try await console.press("d")
            let s = try await console.waitFor("the device picker", timeout: 5) { $0.contains("Enter select") }
            let items = TmuxConsole.pickerItems(s).map(\.pcm)
            #expect(items.first == "pulse:nullsink.monitor", "the server's sources come first: \(items)")
            try await console.press("Escape")
            try await console.pick("pulse:nullsink.monitor")
            _ = try await console.waitFor("capturing the server source", timeout: 8) { $0.route?.pcm == "pulse:nullsink.monitor" }
            try await console.press("q")
            #expect(try await console.waitForExit() == 0)
        }
    }
}
