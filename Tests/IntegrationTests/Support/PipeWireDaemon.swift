// A private, real PipeWire (pipewire, wireplumber, and the PulseAudio protocol on it, as
// pipewire-pulse) with its own session bus and XDG_RUNTIME_DIR. Debian's pipewire-pulse package
// conflicts with pulseaudio, which the other tests need, so the pulse protocol server is run from
// a configuration of our own (`pipewire -c`: the same binary pipewire-pulse is a link to).
import Foundation
import Glibc

final class PipeWireDaemon: @unchecked Sendable {
    let dir: TempDir
    private var children: [Child] = []
    private var busPID: pid_t = 0
    private var pulseServer: Child?
    let clientEnvironment: [String: String]
    private let environment: [String: String]

    struct Failure: Error, CustomStringConvertible { var description: String }

    static let pulseConfig = """
        # A minimal pipewire-pulse for the tests: the PulseAudio protocol on PipeWire.
        context.properties = { }
        context.spa-libs = {
            audio.convert.* = audioconvert/libspa-audioconvert
            support.*       = support/libspa-support
        }
        context.modules = [
            { name = libpipewire-module-rt args = { } flags = [ ifexists nofail ] }
            { name = libpipewire-module-protocol-native }
            { name = libpipewire-module-client-node }
            { name = libpipewire-module-adapter }
            { name = libpipewire-module-metadata }
            { name = libpipewire-module-protocol-pulse args = { } }
        ]
        pulse.properties = { server.address = [ "unix:native" ] }
        stream.properties = { }

        """

    private init(dir: TempDir, client: [String: String], environment: [String: String]) {
        self.dir = dir
        clientEnvironment = client
        self.environment = environment
    }

    /// Starts the bus, PipeWire, WirePlumber and the pulse protocol server, loads a null sink
    /// (its monitor is a paced source), and returns once `pactl info` answers.
    static func start() async throws -> PipeWireDaemon {
        guard let pipewire = which("pipewire"), let wireplumber = which("wireplumber"), let dbus = which("dbus-daemon"),
              which("pactl") != nil else {
            throw Failure(description: "pipewire, wireplumber, dbus-daemon and pactl are needed (apt-get install pipewire wireplumber dbus pulseaudio-utils)")
        }
        let dir = try TempDir("capdeck-pipewire")
        let run = dir.makeDirectory("run", mode: 0o700)
        try dir.write("pipewire-pulse.conf", pulseConfig)
        var env = Capdeck.environment(home: dir.root)
        env["XDG_RUNTIME_DIR"] = run
        // A private session bus: WirePlumber wants one.
        let bus = try await runProgram(dbus, ["--session", "--fork", "--print-address=1", "--print-pid=1"],
                                       environment: env, scratch: dir, timeout: 10)
        let lines = bus.stdout.split(separator: "\n").map(String.init)
        guard bus.exitCode == 0, lines.count >= 2, let busPID = pid_t(lines[1]) else {
            throw Failure(description: "dbus-daemon: \(bus)")
        }
        env["DBUS_SESSION_BUS_ADDRESS"] = lines[0]
        let client = ["XDG_RUNTIME_DIR": run, "PULSE_SERVER": "unix:" + run + "/pulse/native",
                      "DBUS_SESSION_BUS_ADDRESS": lines[0]]
        let pw = PipeWireDaemon(dir: dir, client: client, environment: env.merging(client) { $1 })
        pw.busPID = busPID
        do {
            pw.children.append(try Child(pipewire, [], environment: env, stdout: dir.path("pw.log"), stderr: dir.path("pw.log")))
            try await Task.sleep(for: .milliseconds(300))
            pw.children.append(try Child(wireplumber, [], environment: env, stdout: dir.path("wp.log"), stderr: dir.path("wp.log")))
            let pulse = try Child(pipewire, ["-c", dir.path("pipewire-pulse.conf")], environment: env,
                                  stdout: dir.path("pwp.log"), stderr: dir.path("pwp.log"))
            pw.pulseServer = pulse
            pw.children.append(pulse)
            let deadline = Monotonic.now + 20
            while try await pw.pactl(["info"]).exitCode != 0 {
                if Monotonic.now > deadline { throw Failure(description: "pipewire-pulse did not answer within 20 s") }
                try await Task.sleep(for: .milliseconds(50))
            }
            _ = try await pw.pactl(["load-module", "module-null-sink", "sink_name=nullsink"])
            while try await !pw.pactl(["list", "short", "sources"]).stdout.contains("nullsink.monitor") {
                if Monotonic.now > deadline { throw Failure(description: "the null sink did not appear within 20 s") }
                try await Task.sleep(for: .milliseconds(50))
            }
        } catch {
            pw.shutdown()
            throw error
        }
        return pw
    }

    func pactl(_ args: [String]) async throws -> RunResult {
        try await runProgram(which("pactl")!, args, environment: environment, scratch: dir, timeout: 10)
    }

    /// Stalls the pulse protocol server without an error (SIGSTOP).
    func stall() { pulseServer?.signal(SIGSTOP) }
    func resume() { pulseServer?.signal(SIGCONT) }

    func shutdown() {
        for c in children.reversed() {
            c.signal(SIGCONT)
            c.kill()
        }
        children.removeAll()
        if busPID > 0 { kill(busPID, SIGTERM); busPID = 0 }
        dir.remove()
    }

    deinit { shutdown() }
}
