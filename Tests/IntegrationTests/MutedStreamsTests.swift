// The optional half of "mix off interrupts other programs' audio" (issue 9): with
// --mute-other-streams, other programs' playback streams on the sound server are muted while mix
// off interrupts, and exactly those are unmuted after; off by default; crash-safe like the
// players (a journal the next capdeck command restores).
import Foundation
import Glibc
import Testing

extension Integration {
    @Suite("Other programs' playback streams muted while mix off interrupts (--mute-other-streams)")
    final class MutedStreams {
        let routes: ToneRoutes
        init() async throws { routes = try await ToneRoutes() }
        deinit { routes.shutdown() }

        /// The "Mute:" lines of every playback stream (the daemon's feeder is one: a real pacat).
        func mutes() async throws -> [String] {
            try await routes.pulse.pactl(["list", "sink-inputs"]).stdout.split(separator: "\n")
                .map { $0.trimmingCharacters(in: .whitespaces) }.filter { $0.hasPrefix("Mute:") }
        }

        func waitForMutes(_ want: String, within seconds: Double) async throws {
            let deadline = Monotonic.now + seconds
            var last: [String] = []
            while Monotonic.now < deadline {
                last = try await mutes()
                if !last.isEmpty && last.allSatisfy({ $0 == "Mute: \(want)" }) { return }
                try await Task.sleep(for: .milliseconds(50))
            }
            Issue.record("playback streams are \(last), not all 'Mute: \(want)' after \(seconds) s")
        }

        @Test("mix off mutes the other stream, mix on and the end of capture unmute it; without the flag nothing is muted")
        func muteAndUnmute() async throws {
            #expect(try await mutes() == ["Mute: no"], "one playing stream to begin with")
            let out = routes.home.path("m.wav")
            let p = try routes.capdeck(["record", "-D", "toneA", "--mute-other-streams", out])
            _ = try await p.waitForFile(out)
            try await waitForMutes("yes", within: 2 + Capdeck.timingSlack)
            try p.send("set mix on")
            try await waitForMutes("no", within: 2.5 + Capdeck.timingSlack)
            try p.send("set mix off")
            try await waitForMutes("yes", within: 2.5 + Capdeck.timingSlack)
            try p.send("stop")
            #expect(await p.finish(timeout: 10) == .exited(0), "\(p.stderr)")
            try await waitForMutes("no", within: 2 + Capdeck.timingSlack)

            let plain = routes.home.path("plain.wav")
            let r = try await Capdeck.run(["record", "-D", "toneA", "-d", "1.5", plain], home: routes.home,
                                          extraEnvironment: routes.environment, timeout: 20)
            #expect(r.exitCode == 0, "\(r)")
            #expect(try await mutes() == ["Mute: no"], "off by default")
        }

        @Test("kill -9 while muting: the next capdeck command unmutes the stream and says so")
        func killNineThenRestore() async throws {
            let out = routes.home.path("k.wav")
            let p = try routes.capdeck(["record", "-D", "toneA", "--mute-other-streams", out])
            _ = try await p.waitForFile(out)
            try await waitForMutes("yes", within: 2 + Capdeck.timingSlack)
            p.child.signal(SIGKILL)
            _ = await p.finish(timeout: 5)
            #expect(try await mutes() == ["Mute: yes"])
            let r = try await Capdeck.run(["devices"], home: routes.home, extraEnvironment: routes.environment, timeout: 20)
            #expect(r.exitCode == 0 && r.stderr.contains("playback streams muted by a capdeck that ended"), "\(r)")
            try await waitForMutes("no", within: 2 + Capdeck.timingSlack)
        }
    }
}
