// Mix off takes the card when the server holds it (issue 9), end to end: the real capdeck, a
// private session bus, stand-in holders of card 7's reservation (Tests/Support/reserve-holder.py:
// "PulseAudio Sound Server" granting or refusing RequestRelease, "Jack audio server" refusing), and
// test PCMs standing in for the card: the test's ALSA config redefines plughw and dsnoop as two
// views of a pretend card 7 (plughw:7 plays toneA, dsnoop:7 toneB). No sound card is involved.
import Foundation
import Glibc
import Testing

/// A stand-in holder of a card's reservation, its stdout ("owned NAME", "lost", "request P ...")
/// in a file.
final class ReserveHolder: @unchecked Sendable {
    let child: Child
    let outPath: String
    let errPath: String

    static var script: String {
        URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .appendingPathComponent("Support/reserve-holder.py").path
    }

    init(bus: DesktopBus, card: Int = 7, applicationName: String, grants: Bool) async throws {
        // Debian's python3, where python3-dbus and python3-gi are (not another python on PATH).
        let python = "/usr/bin/python3"
        guard access(python, X_OK) == 0 else { throw SpawnError(description: "python3 with python3-dbus and python3-gi is needed") }
        outPath = bus.dir.path("holder-\(UUID().uuidString).out")
        errPath = outPath + ".err"
        var env = Capdeck.environment(home: bus.dir.root)
        env["DBUS_SESSION_BUS_ADDRESS"] = bus.address
        child = try Child(python, [Self.script, String(card), applicationName, grants ? "grant" : "refuse"],
                          environment: env, stdout: outPath, stderr: errPath)
        try await waitFor("owned", count: 1, within: 10)
    }

    var lines: [String] { ((try? String(contentsOfFile: outPath, encoding: .utf8)) ?? "").split(separator: "\n").map(String.init) }
    func count(_ prefix: String) -> Int { lines.filter { $0.hasPrefix(prefix) }.count }
    /// Owns the name now, as it says (its last "owned"/"lost" line).
    var owns: Bool { lines.last { $0.hasPrefix("owned") || $0 == "lost" }?.hasPrefix("owned") == true }

    func waitFor(_ prefix: String, count n: Int, within seconds: Double) async throws {
        let deadline = Monotonic.now + seconds
        while count(prefix) < n {
            if Monotonic.now > deadline { throw SpawnError(description: "the holder said \(lines), not \(n)× \(prefix), in \(seconds) s") }
            if child.poll() != nil { throw SpawnError(description: "the holder exited: \(lines) \((try? String(contentsOfFile: errPath, encoding: .utf8)) ?? "")") }
            try await Task.sleep(for: .milliseconds(20))
        }
    }

    func stop() { if child.poll() == nil { child.kill() } }
    deinit { stop() }
}

extension Integration {
    @Suite("Mix off takes the card: the D-Bus device reservation with stand-in holders", .serialized)
    final class CardReservation {
        let routes: ToneRoutes
        let bus: DesktopBus

        init() async throws {
            routes = try await ToneRoutes()
            bus = try await DesktopBus.start()
            let rc = try String(contentsOfFile: routes.home.path(".asoundrc"), encoding: .utf8)
            func view(_ name: String, _ tone: String) -> String {
                "pcm.!\(name) { @args [ CARD ] @args.CARD { type string } type file slave.pcm \"pulse\" file \"/dev/null\" "
                    + "infile \"\(routes.home.path(tone + ".raw"))\" format \"raw\" }\n"
            }
            try routes.home.write(".asoundrc", rc + view("plughw", "toneA") + view("dsnoop", "toneB"))
        }

        deinit {
            bus.shutdown()
            routes.shutdown()
        }

        func record(_ out: String) async throws -> ControlledCapdeck {
            var env = routes.environment
            env.merge(bus.environment) { $1 }
            let p = try ControlledCapdeck(["record", "-D", "plughw:7", "--exclusive-device", "plughw:7", "--shared-device", "dsnoop:7",
                                           "--mix-with-others", out], home: routes.home, label: "capdeck", extraEnvironment: env)
            _ = try await p.waitForFile(out)
            let s = try await p.status()
            try #require(s.string("route.pcm") == "dsnoop:7", "not on the shared view: \(s); \(p.stderr)")
            return p
        }

        @Test("a sound server that grants: mix off takes plughw:7 and the name; mix on goes back to dsnoop:7 and the server owns the card again")
        func grantedAndGivenBack() async throws {
            let holder = try await ReserveHolder(bus: bus, applicationName: "PulseAudio Sound Server", grants: true)
            let out = routes.home.path("granted.wav")
            let p = try await record(out)
            try p.send("set mix off")
            let changed = await p.waitForStderrLine(timeout: 5) { $0.contains("route changed") && $0.contains("-> plughw:7") }
            #expect(changed != nil, "\(p.stderr)")
            try await holder.waitFor("lost", count: 1, within: 3)
            #expect(!holder.owns && holder.lines.contains { $0.hasPrefix("request 10 granted") }, "\(holder.lines)")
            let held = try await p.status()
            #expect(held.string("route.pcm") == "plughw:7")
            #expect(held.line.contains("\"cardsReserved\":[7]"), "status says the card is ours: \(held.line)")
            try p.send("set mix on")
            let back = await p.waitForStderrLine(timeout: 5) { $0.contains("route changed") && $0.contains("-> dsnoop:7") }
            #expect(back != nil, "\(p.stderr)")
            // The reservation is released: the server takes its card back (as PulseAudio does).
            try await holder.waitFor("owned", count: 2, within: 3)
            #expect(holder.owns)
            let given = try await p.status()
            #expect(given.line.contains("\"cardsReserved\":[]"), "\(given.line)")
            try p.send("stop")
            #expect(await p.finish(timeout: 10) == .exited(0), "\(p.stderr)")
        }

        @Test("a sound server that refuses: capture stays on dsnoop:7 and says the sound server refused to release the card")
        func refusedBySoundServer() async throws {
            let holder = try await ReserveHolder(bus: bus, applicationName: "PulseAudio Sound Server", grants: false)
            let out = routes.home.path("refused.wav")
            let p = try await record(out)
            try p.send("set mix off")
            let said = await p.waitForStderrLine(timeout: 5) { $0.contains("refused to release the card") }
            let line = try #require(said, "\(p.stderr)")
            #expect(line.contains("the sound server (PulseAudio Sound Server)") && line.contains("plughw:7"), "\(line)")
            #expect(try await p.status().string("route.pcm") == "dsnoop:7")
            #expect(holder.owns)
            #expect(!p.stderr.contains("interrupted"), "\(p.stderr)")
            try p.send("stop")
            #expect(await p.finish(timeout: 10) == .exited(0), "\(p.stderr)")
        }

        @Test("a card held by JACK: interrupted (audioDeviceInUseByAnotherClient) without a gap, and the switch happens when JACK quits")
        func heldByJack() async throws {
            let jack = try await ReserveHolder(bus: bus, applicationName: "Jack audio server", grants: false)
            let out = routes.home.path("jack.wav")
            let p = try await record(out)
            try p.send("set mix off")
            let interrupted = await p.waitForStderrLine(timeout: 5) { $0.contains("interrupted") }
            let line = try #require(interrupted, "\(p.stderr)")
            #expect(line.contains("audioDeviceInUseByAnotherClient") && line.contains("plughw:7"), "\(line)")
            try await Task.sleep(for: .milliseconds(1000))
            #expect(try await p.status().string("route.pcm") == "dsnoop:7")
            #expect(!p.stderr.contains("gap"), "the shared view glitched while JACK held the card: \(p.stderr)")
            #expect(jack.owns)
            jack.stop()
            let changed = await p.waitForStderrLine(timeout: 5) { $0.contains("route changed") && $0.contains("-> plughw:7") }
            #expect(changed != nil, "\(p.stderr)")
            #expect(p.stderr.contains("interruption ended"), "\(p.stderr)")
            try p.send("stop")
            #expect(await p.finish(timeout: 10) == .exited(0), "\(p.stderr)")
        }
    }
}
