// Scripting a recording through standard input (issue 3): `status` answers with one JSON line
// (session state, route, properties, app audio session, meters), unknown commands are reported
// on stderr and ignored, the config file's routes and session settings are honoured, and
// `--no-uses-app-session` gives a private session that leaves the app audio session alone.
import Foundation
import Glibc
import Testing

extension Integration {
    @Suite("Session control over standard input")
    final class SessionControl {
        let routes: ToneRoutes

        init() async throws {
            routes = try await ToneRoutes()
        }

        deinit { routes.shutdown() }

        static let bothRoutes = ["-D", "toneA", "--exclusive-device", "toneA", "--shared-device", "toneB"]

        @Test("status prints one JSON line with state, route, properties, app session and meters; bad commands are reported and ignored")
        func statusAndBadCommands() async throws {
            let out = routes.home.path("status.wav")
            let p = try routes.capdeck(["record"] + Self.bothRoutes + [out])
            let t0 = try await p.waitForFile(out)
            // A second of audio, so the meters have settled on the tone.
            try await sleepUntil(t0 + 1.0)
            let s = try await p.status()
            let asked = Monotonic.now - t0
            #expect(p.stdoutLines.count == 1, "one line per status: \(p.stdout.debugDescription)")
            #expect(s.bool("running") == true, "\(s)")
            #expect(s.bool("interrupted") == false, "\(s)")
            #expect(s.string("route.pcm") == "toneA", "\(s)")
            #expect(s.string("route.kind") == "exclusive", "\(s)")
            for (key, value) in ["uses-app-session": true, "auto-configure": true, "mix": false, "bluetooth-hq": false] {
                #expect(s.bool("properties.\(key)") == value, "properties.\(key): \(s)")
            }
            #expect(s.string("effective.mix") == "off", "\(s)")
            // Apple: automatic configuration makes the app session play-and-record.
            #expect(s.string("appSession.category") == "playAndRecord", "\(s)")
            #expect((s.array("appSession.options") as? [String]) == [], "\(s)")
            #expect(s.string("file") == out, "\(s)")
            #expect(s.number("granted.rate") == 48_000 && s.number("granted.channels") == 2, "\(s)")
            if let seconds = s.number("seconds") {
                #expect(abs(seconds - asked) <= 0.7, "status says \(seconds) s captured after \(asked) s of wall clock")
            } else {
                Issue.record("no seconds in \(s)")
            }
            let firstFrames = s.number("recordedFrames") ?? 0
            #expect(firstFrames > 0, "\(s)")
            let meters = s.array("meters") as? [[String: Any]] ?? []
            #expect(meters.count == 2, "one meter per channel: \(s)")
            for (i, m) in meters.enumerated() {
                let rms = (m["rms"] as? NSNumber)?.doubleValue ?? .nan
                let peak = (m["peak"] as? NSNumber)?.doubleValue ?? .nan
                #expect(abs(rms - ToneRoutes.rmsDB) <= 1, "channel \(i) rms \(rms) dBFS; a -12 dBFS sine has \(ToneRoutes.rmsDB)")
                #expect(abs(peak - ToneRoutes.dBFS) <= 0.5, "channel \(i) peak \(peak) dBFS")
            }

            // Unknown commands and bad values: one `capdeck: control:` line each, nothing changes.
            // An empty line is no command at all.
            let bad = ["frobnicate the knobs", "set volume on", "set mix maybe"]
            for b in bad { try p.send(b) }
            try p.send("")
            let controlLines = { p.stderrLines.filter { $0.hasPrefix("capdeck: control: ") } }
            let deadline = Monotonic.now + 5
            while controlLines().count < bad.count && Monotonic.now < deadline {
                try await Task.sleep(for: .milliseconds(20))
            }
            let complaints = controlLines()
            #expect(complaints.count == bad.count, "stderr: \(p.stderr)")
            if complaints.count == bad.count {
                #expect(complaints[0].contains("frobnicate the knobs"), "\(complaints[0])")
                #expect(complaints[1].contains("volume"), "\(complaints[1])")
                #expect(complaints[2].contains("maybe"), "\(complaints[2])")
            }
            try await Task.sleep(for: .milliseconds(300))
            let again = try await p.status()
            #expect(p.child.poll() == nil, "capdeck keeps recording after bad commands")
            #expect(again.bool("running") == true, "\(again)")
            #expect(again.string("route.pcm") == "toneA" && again.bool("properties.mix") == false, "\(again)")
            #expect((again.number("recordedFrames") ?? 0) > firstFrames, "recording continues: \(firstFrames) then \(again)")

            try p.send("stop")
            let term = await p.finish(timeout: 10)
            #expect(term == .exited(0), "\(String(describing: term)); \(p.stderr)")
            #expect(p.stdoutLines.count == 2, "exactly one line per status: \(p.stdout.debugDescription)")
            #expect(controlLines().count == bad.count, "the empty line is not a command: \(p.stderr)")
            #expect(!p.stderr.contains("route changed"), "\(p.stderr)")
            #expect(p.stderrLines.allSatisfy { $0.hasPrefix("capdeck: ") }, "\(p.stderr)")
            let file = try SoundFile.read(out, samples: .int)
            #expect(Double(file.frames) / 48_000 >= asked, "\(file.frames) frames")
        }

        @Test("a config file's [routes] and [session] are honoured (no -D)")
        func configRoutesAndSession() async throws {
            let home = routes.home
            try home.write("routes.toml", """
                # CaptureDeck config for the integration tests
                [routes]
                exclusive = "toneA"
                shared = "toneB"

                [session]
                mix-with-others = false

                """)
            let out = home.path("config.wav")
            let p = try routes.capdeck(["record", "--config", home.path("routes.toml"), out], label: "config")
            _ = try await p.waitForFile(out)
            let s = try await p.status()
            #expect(s.string("route.pcm") == "toneA" && s.string("route.kind") == "exclusive", "\(s)")
            #expect(s.bool("properties.mix") == false, "\(s)")
            // The config's shared route is the one mix switches to.
            try p.send("set mix on")
            let changed = await p.waitForStderrLine { $0.contains("route changed") }
            #expect(changed?.contains("toneA (exclusive) -> toneB (shared)") == true, "\(p.stderr)")
            let s2 = try await p.status()
            #expect(s2.string("route.pcm") == "toneB" && s2.string("route.kind") == "shared", "\(s2)")
            #expect((s2.array("appSession.options") as? [String])?.contains("mixWithOthers") == true, "\(s2)")
            try await p.waitForFrames()
            try p.send("stop")
            #expect(await p.finish() == .exited(0), "\(p.stderr)")

            // mix-with-others = true in the file: the shared route from the start.
            try home.write("mix.toml", "[routes]\nexclusive = \"toneA\"\nshared = \"toneB\"\n[session]\nmix-with-others = true\n")
            let out2 = home.path("config-mix.wav")
            let q = try routes.capdeck(["record", "--config", home.path("mix.toml"), out2], label: "config-mix")
            _ = try await q.waitForFile(out2)
            let m = try await q.status()
            #expect(m.string("route.pcm") == "toneB" && m.string("route.kind") == "shared", "\(m)")
            #expect(m.bool("properties.mix") == true, "\(m)")
            try await q.waitForFrames()
            try q.send("stop")
            #expect(await q.finish() == .exited(0), "\(q.stderr)")
        }

        @Test("--no-uses-app-session: a private session; the other properties have no effect, the app session is untouched")
        func privateSession() async throws {
            let out = routes.home.path("private.wav")
            let p = try routes.capdeck(["record"] + Self.bothRoutes + ["--no-uses-app-session", out], label: "private")
            _ = try await p.waitForFile(out)
            let s = try await p.status()
            #expect(s.bool("running") == true, "\(s)")
            #expect(s.bool("properties.uses-app-session") == false, "\(s)")
            #expect(s.string("route.pcm") == "toneA" && s.string("route.kind") == "exclusive", "\(s)")
            for key in ["auto-configure", "mix", "bluetooth-hq"] {
                #expect(s.string("effective.\(key)") == "no effect: uses app session is off", "effective.\(key): \(s)")
            }
            #expect(s.string("appSession.category") == "soloAmbient", "the app session is left as it was: \(s)")
            #expect((s.array("appSession.options") as? [String]) == [], "\(s)")

            // Mix has no effect while the master switch is off: no switch, nothing configured.
            try p.send("set mix on")
            let s2 = try await p.status()
            #expect(s2.bool("properties.mix") == true, "\(s2)")
            #expect(s2.string("effective.mix") == "no effect: uses app session is off", "\(s2)")
            #expect(s2.string("route.pcm") == "toneA" && s2.string("route.kind") == "exclusive", "\(s2)")
            #expect(s2.string("appSession.category") == "soloAmbient", "\(s2)")
            #expect(!p.stderr.contains("route changed") && !p.stderr.contains("app audio session configured"), "\(p.stderr)")

            // Master switch on: the app session is configured (mix on), and the route follows.
            try p.send("toggle uses-app-session")
            let changed = await p.waitForStderrLine { $0.contains("route changed") }
            #expect(changed?.contains("toneA (exclusive) -> toneB (shared)") == true, "\(p.stderr)")
            let s3 = try await p.status()
            #expect(s3.string("route.pcm") == "toneB" && s3.string("route.kind") == "shared", "\(s3)")
            #expect(s3.string("effective.mix") == "on", "\(s3)")
            #expect(s3.string("appSession.category") == "playAndRecord", "\(s3)")
            #expect((s3.array("appSession.options") as? [String])?.contains("mixWithOthers") == true, "\(s3)")
            try await p.waitForFrames()
            try p.send("stop")
            #expect(await p.finish() == .exited(0), "\(p.stderr)")
            #expect(try SoundFile.cueCount(out) == 1, "one switch, one cue")
        }
    }
}
