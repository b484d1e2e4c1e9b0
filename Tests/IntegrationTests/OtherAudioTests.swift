// Mix off interrupts other programs' audio (issue 9), end to end: the real capdeck, a private
// session bus, a real MPRIS player (mpv with mpv-mpris), and playerctl as the user: mix off
// pauses it within a second, mix on and the end of capture resume it, a player the user paused
// stays paused, and a capdeck killed while interrupting leaves a journal the next capdeck
// command restores.
import Foundation
import Glibc
import Testing

/// A private session bus and a real mpv on it.
final class DesktopBus: @unchecked Sendable {
    let dir: TempDir
    let address: String
    private let daemon: Child
    private var players: [Child] = []

    private init(dir: TempDir, address: String, daemon: Child) {
        self.dir = dir
        self.address = address
        self.daemon = daemon
    }

    static func start() async throws -> DesktopBus {
        guard let dbus = which("dbus-daemon"), which("mpv") != nil, which("playerctl") != nil else {
            throw SpawnError(description: "dbus-daemon, mpv (with mpv-mpris) and playerctl are needed (apt-get install dbus mpv mpv-mpris playerctl)")
        }
        let dir = try TempDir("capdeck-bus")
        let socket = dir.path("bus")
        let daemon = try Child(dbus, ["--session", "--nofork", "--nosyslog", "--address=unix:path=\(socket)"],
                               environment: Capdeck.environment(home: dir.root), stdout: "/dev/null", stderr: "/dev/null")
        let deadline = Monotonic.now + 10
        var st = stat()
        while stat(socket, &st) != 0 {
            if Monotonic.now > deadline { daemon.kill(); throw SpawnError(description: "dbus-daemon made no socket") }
            try await Task.sleep(for: .milliseconds(20))
        }
        return DesktopBus(dir: dir, address: "unix:path=" + socket, daemon: daemon)
    }

    /// mpv playing a looped file (no audio output needed: mpv-mpris reports Playing with --ao=null).
    func startPlayer(paused: Bool = false) async throws {
        let wav = dir.path("loop.wav")
        if access(wav, F_OK) != 0 { try dir.write("loop.wav", bytes: WAV.silence(seconds: 2)) }
        var env = Capdeck.environment(home: dir.root)
        env["DBUS_SESSION_BUS_ADDRESS"] = address
        let p = try Child(which("mpv")!, ["--no-video", "--no-terminal", "--ao=null", "--loop=inf"] + (paused ? ["--pause"] : []) + [wav],
                          environment: env, stdout: "/dev/null", stderr: "/dev/null")
        players.append(p)
        let want = paused ? "Paused" : "Playing"
        try await waitForStatus(want, within: 10)
    }

    func playerctl(_ args: [String]) async throws -> String {
        var env = Capdeck.environment(home: dir.root)
        env["DBUS_SESSION_BUS_ADDRESS"] = address
        let r = try await runProgram(which("playerctl")!, ["-p", "mpv"] + args, environment: env, scratch: dir, timeout: 10)
        return r.stdout.trimmingCharacters(in: .whitespacesAndNewlines)
    }

    func status() async throws -> String { try await playerctl(["status"]) }

    func waitForStatus(_ want: String, within seconds: Double) async throws {
        let deadline = Monotonic.now + seconds
        var last = ""
        while Monotonic.now < deadline {
            last = try await status()
            if last == want { return }
            try await Task.sleep(for: .milliseconds(50))
        }
        throw SpawnError(description: "mpv is \(last.isEmpty ? "not on the bus" : last), not \(want), after \(seconds) s")
    }

    var environment: [String: String] { ["DBUS_SESSION_BUS_ADDRESS": address] }

    func shutdown() {
        for p in players { p.kill() }
        players.removeAll()
        daemon.kill()
        dir.remove()
    }
    deinit { shutdown() }
}

enum WAV {
    /// A silent 8 kHz mono 16-bit WAV.
    static func silence(seconds: Int) -> [UInt8] {
        let frames = 8000 * seconds
        var b: [UInt8] = []
        func u32(_ v: Int) { b += withUnsafeBytes(of: UInt32(v).littleEndian, Array.init) }
        func u16(_ v: Int) { b += withUnsafeBytes(of: UInt16(v).littleEndian, Array.init) }
        b += Array("RIFF".utf8); u32(36 + frames * 2); b += Array("WAVEfmt ".utf8)
        u32(16); u16(1); u16(1); u32(8000); u32(16000); u16(2); u16(16)
        b += Array("data".utf8); u32(frames * 2); b += [UInt8](repeating: 0, count: frames * 2)
        return b
    }
}

extension Integration {
    @Suite("Other programs' audio: mix off pauses MPRIS players, restores exactly what it paused")
    final class OtherAudio {
        let bus: DesktopBus
        init() async throws { bus = try await DesktopBus.start() }
        deinit { bus.shutdown() }

        @Test("record with mix off pauses mpv within a second; set mix on resumes it; mix off again pauses; stop resumes; status says so")
        func mixOffPausesAndRestores() async throws {
            try await bus.startPlayer()
            let home = try TempDir()
            defer { home.remove() }
            let out = home.path("take.wav")
            let p = try ControlledCapdeck(["record", "-D", "builtin", out], home: home, extraEnvironment: bus.environment)
            _ = try await p.waitForFile(out)
            try await bus.waitForStatus("Paused", within: 1.5 + Capdeck.timingSlack)
            let said = await p.waitForStderrLine(timeout: 3) { $0.contains("mpv") }
            #expect(said != nil, "a line says what was paused: \(p.stderr)")
            let s = try await p.status()
            #expect(s.bool("otherAudio.interrupting") == true, "\(s)")
            #expect(s.line.contains("\"paused\":[\"mpv\"]"), "\(s.line)")
            try p.send("set mix on")
            try await bus.waitForStatus("Playing", within: 2 + Capdeck.timingSlack)
            try p.send("set mix off")
            try await bus.waitForStatus("Paused", within: 2 + Capdeck.timingSlack)
            try p.send("stop")
            #expect(await p.finish(timeout: 10) == .exited(0), "\(p.stderr)")
            try await bus.waitForStatus("Playing", within: 2 + Capdeck.timingSlack)
        }

        @Test("a player the user paused himself stays paused after the take")
        func userPausedStaysPaused() async throws {
            try await bus.startPlayer(paused: true)
            let home = try TempDir()
            defer { home.remove() }
            let out = home.path("take.wav")
            let r = try await Capdeck.run(["record", "-D", "builtin", "-d", "1.5", out], home: home, extraEnvironment: bus.environment, timeout: 20)
            #expect(r.exitCode == 0, "\(r)")
            #expect(try await bus.status() == "Paused")
        }

        @Test("with --mix-with-others the player plays on")
        func mixOnLeavesItPlaying() async throws {
            try await bus.startPlayer()
            let home = try TempDir()
            defer { home.remove() }
            let out = home.path("take.wav")
            let p = try ControlledCapdeck(["record", "-D", "builtin", "--mix-with-others", out], home: home, extraEnvironment: bus.environment)
            _ = try await p.waitForFile(out)
            try await Task.sleep(for: .milliseconds(1500))
            #expect(try await bus.status() == "Playing")
            try p.send("stop")
            #expect(await p.finish(timeout: 10) == .exited(0), "\(p.stderr)")
        }

        @Test("kill -9 while interrupting: the player stays paused until the next capdeck command, which resumes it and says so in one line")
        func killNineThenNextCommandRestores() async throws {
            try await bus.startPlayer()
            let home = try TempDir()
            defer { home.remove() }
            let out = home.path("take.wav")
            let p = try ControlledCapdeck(["record", "-D", "builtin", out], home: home, extraEnvironment: bus.environment)
            _ = try await p.waitForFile(out)
            try await bus.waitForStatus("Paused", within: 1.5 + Capdeck.timingSlack)
            p.child.signal(SIGKILL)
            _ = await p.finish(timeout: 5)
            try await Task.sleep(for: .milliseconds(300))
            #expect(try await bus.status() == "Paused", "nobody resumed it yet")
            let r = try await Capdeck.run(["devices"], home: home, extraEnvironment: bus.environment, timeout: 20)
            #expect(r.exitCode == 0, "\(r)")
            let lines = r.stderr.split(separator: "\n")
            #expect(lines.count == 1 && lines[0].contains("mpv"), "one line about the restore: \(r.stderr)")
            try await bus.waitForStatus("Playing", within: 2 + Capdeck.timingSlack)
        }

        @Test("the console says in plain words what mix off does to other audio, and 3 changes it")
        func consoleLine() async throws {
            try await bus.startPlayer()
            let home = try TempDir()
            defer { home.remove() }
            let console = try await TmuxConsole(["-D", "builtin", "-o", home.makeDirectory("rec")], home: home,
                                                environment: bus.environment, width: 120, height: 34)
            defer { console.shutdown() }
            let s = try await console.waitFor("the other-audio line", timeout: 8) { $0.contains("Other audio mpv paused (mix off)") }
            #expect(s.contains("3 lets it play"), "\(s)")
            try await bus.waitForStatus("Paused", within: 1 + Capdeck.timingSlack)
            try await console.press("3")
            _ = try await console.waitFor("mix on", timeout: 5) { $0.contains("Other audio plays on (mix on)") }
            try await bus.waitForStatus("Playing", within: 2 + Capdeck.timingSlack)
            try await console.press("3")
            try await bus.waitForStatus("Paused", within: 2 + Capdeck.timingSlack)
            try await console.press("q")
            #expect(try await console.waitForExit() == 0)
            try await bus.waitForStatus("Playing", within: 2 + Capdeck.timingSlack)
        }
    }
}
