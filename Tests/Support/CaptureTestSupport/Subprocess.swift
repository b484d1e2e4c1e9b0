// Child processes for the tests (integration and unit targets alike): posix_spawn in a new process group, output to
// files (no pipes to deadlock on), waiting with a deadline, and killing by pid/pgid only.
import Foundation
import Glibc

/// How a child process ended.
public enum Termination: Equatable, CustomStringConvertible {
    case exited(Int32)
    case signaled(Int32)

    public var description: String {
        switch self {
        case .exited(let c): "exit \(c)"
        case .signaled(let s): "signal \(s)"
        }
    }

    public var exitCode: Int32? {
        if case .exited(let c) = self { return c }
        return nil
    }

    /// Decodes a waitpid status (the W* macros don't import into Swift).
    public init(waitStatus s: Int32) {
        if s & 0x7F == 0 {
            self = .exited((s >> 8) & 0xFF)
        } else {
            self = .signaled(s & 0x7F)
        }
    }
}

public struct SpawnError: Error, CustomStringConvertible {
    public var description: String
    public init(description: String) { self.description = description }
}

/// One child process, leader of its own process group (pgid == pid).
public final class Child: @unchecked Sendable {
    public let pid: pid_t
    public let executable: String
    public private(set) var termination: Termination?

    /// Starts `executable` with exactly `arguments` and `environment`.
    /// stdin, stdout and stderr are files (paths); stdout/stderr are created or truncated.
    public init(_ executable: String, _ arguments: [String], environment: [String: String],
         stdin: String = "/dev/null", stdout: String = "/dev/null", stderr: String = "/dev/null") throws {
        self.executable = executable
        var actions = posix_spawn_file_actions_t()
        var attr = posix_spawnattr_t()
        posix_spawn_file_actions_init(&actions)
        posix_spawnattr_init(&attr)
        defer {
            posix_spawn_file_actions_destroy(&actions)
            posix_spawnattr_destroy(&attr)
        }
        posix_spawn_file_actions_addopen(&actions, 0, stdin, O_RDONLY, 0)
        posix_spawn_file_actions_addopen(&actions, 1, stdout, O_WRONLY | O_CREAT | O_TRUNC, 0o644)
        posix_spawn_file_actions_addopen(&actions, 2, stderr, O_WRONLY | O_CREAT | O_TRUNC, 0o644)
        // Own process group; default signal dispositions and an empty mask whatever the test
        // runner has set up.
        var defaults = sigset_t()
        sigemptyset(&defaults)
        for s in [SIGPIPE, SIGINT, SIGTERM, SIGHUP, SIGQUIT, SIGCHLD, SIGUSR1, SIGUSR2, SIGALRM] {
            sigaddset(&defaults, s)
        }
        var mask = sigset_t()
        sigemptyset(&mask)
        posix_spawnattr_setsigdefault(&attr, &defaults)
        posix_spawnattr_setsigmask(&attr, &mask)
        posix_spawnattr_setpgroup(&attr, 0)
        posix_spawnattr_setflags(&attr, Int16(POSIX_SPAWN_SETPGROUP | POSIX_SPAWN_SETSIGDEF | POSIX_SPAWN_SETSIGMASK))

        let argv: [UnsafeMutablePointer<CChar>?] = ([executable] + arguments).map { strdup($0) } + [nil]
        let envp: [UnsafeMutablePointer<CChar>?] = environment.map { strdup("\($0.key)=\($0.value)") } + [nil]
        defer {
            argv.forEach { free($0) }
            envp.forEach { free($0) }
        }
        var pid: pid_t = 0
        let r = posix_spawn(&pid, executable, &actions, &attr, argv, envp)
        if r != 0 {
            throw SpawnError(description: "posix_spawn \(executable): \(String(cString: strerror(r)))")
        }
        self.pid = pid
    }

    deinit {
        // Never leave a child behind, whatever path a test took.
        kill()
    }

    /// Reaps the child if it has ended (non-blocking).
    @discardableResult
    public func poll() -> Termination? {
        if let termination { return termination }
        var status: Int32 = 0
        let r = waitpid(pid, &status, WNOHANG)
        if r == pid {
            termination = Termination(waitStatus: status)
        }
        return termination
    }

    /// Waits up to `timeout` seconds for the child to end; nil if it is still running.
    public func wait(timeout: Double) async -> Termination? {
        let deadline = Monotonic.now + timeout
        while Monotonic.now < deadline {
            if let t = poll() { return t }
            try? await Task.sleep(for: .milliseconds(5))
        }
        return poll()
    }

    /// Sends `sig` to the child's whole process group (it leads it), if it has not been reaped.
    public func signalGroup(_ sig: Int32) {
        guard termination == nil else { return }
        _ = Glibc.kill(-pid, sig)
    }

    /// Sends `sig` to the child process only.
    public func signal(_ sig: Int32) {
        guard termination == nil else { return }
        _ = Glibc.kill(pid, sig)
    }

    /// SIGKILLs the process group and reaps the child (blocking; SIGKILL can't be ignored).
    public func kill() {
        guard poll() == nil else { return }
        _ = Glibc.kill(-pid, SIGKILL)
        var status: Int32 = 0
        while true {
            let r = waitpid(pid, &status, 0)
            if r == pid {
                termination = Termination(waitStatus: status)
                return
            }
            if r < 0 && errno != EINTR { return }
        }
    }

    /// Asks politely (SIGTERM to the group), then SIGKILLs after `grace` seconds.
    public func stop(grace: Double = 2) async {
        guard poll() == nil else { return }
        signalGroup(SIGTERM)
        if await wait(timeout: grace) == nil { kill() }
    }
}

/// Monotonic seconds.
public enum Monotonic {
    public static var now: Double {
        var ts = timespec()
        clock_gettime(CLOCK_MONOTONIC, &ts)
        return Double(ts.tv_sec) + Double(ts.tv_nsec) / 1e9
    }
}

/// The result of a child run to completion.
public struct RunResult: CustomStringConvertible {
    public var termination: Termination
    public var stdout: String
    public var stderr: String
    /// Wall-clock seconds from spawn to reaping.
    public var seconds: Double

    public var exitCode: Int32? { termination.exitCode }

    public var description: String {
        "\(termination) after \(String(format: "%.2f", seconds)) s; stderr: \(stderr.debugDescription); stdout: \(stdout.debugDescription)"
    }

    /// stderr's lines, without the final newline's empty remainder.
    public var stderrLines: [Substring] {
        var lines = stderr.split(separator: "\n", omittingEmptySubsequences: false)
        if lines.last == "" { lines.removeLast() }
        return lines
    }
}

public struct TimedOut: Error, CustomStringConvertible {
    public var description: String
    public init(description: String) { self.description = description }
}

/// Runs a program to completion (killing its group after `timeout`), capturing its output.
public func runProgram(_ executable: String, _ arguments: [String], environment: [String: String],
                scratch: TempDir, stdin: String = "/dev/null", timeout: Double = 60) async throws -> RunResult {
    let tag = UUID().uuidString.prefix(8)
    let out = scratch.path("stdout-\(tag).txt")
    let err = scratch.path("stderr-\(tag).txt")
    let start = Monotonic.now
    let child = try Child(executable, arguments, environment: environment, stdin: stdin, stdout: out, stderr: err)
    guard let t = await child.wait(timeout: timeout) else {
        child.kill()
        let e = (try? String(contentsOfFile: err, encoding: .utf8)) ?? ""
        throw TimedOut(description: "\(executable) \(arguments) still running after \(timeout) s; stderr: \(e)")
    }
    let seconds = Monotonic.now - start
    let stdoutText = (try? String(contentsOfFile: out, encoding: .utf8)) ?? ""
    let stderrText = (try? String(contentsOfFile: err, encoding: .utf8)) ?? ""
    unlink(out)
    unlink(err)
    return RunResult(termination: t, stdout: stdoutText, stderr: stderrText, seconds: seconds)
}

/// A private temporary directory, removed (recursively) by `remove()` or on deinit.
public final class TempDir: @unchecked Sendable {
    public let url: URL
    private var removed = false

    public init(_ label: String = "capdeck-it") throws {
        var template = Array("/tmp/\(label)-XXXXXX".utf8CString)
        guard let p = mkdtemp(&template) else {
            throw SpawnError(description: "mkdtemp: \(String(cString: strerror(errno)))")
        }
        url = URL(fileURLWithPath: String(cString: p), isDirectory: true)
    }

    deinit { remove() }

    public var root: String { url.path }

    public func path(_ name: String) -> String { url.appendingPathComponent(name).path }

    public func write(_ name: String, _ text: String) throws {
        try text.write(toFile: path(name), atomically: false, encoding: .utf8)
    }

    public func write(_ name: String, bytes: [UInt8]) throws {
        try Data(bytes).write(to: url.appendingPathComponent(name))
    }

    @discardableResult
    public func makeDirectory(_ name: String, mode: mode_t = 0o700) -> String {
        let p = path(name)
        mkdir(p, mode)
        return p
    }

    public func remove() {
        guard !removed else { return }
        removed = true
        try? FileManager.default.removeItem(at: url)
    }
}

/// Finds a program on PATH (or in the usual system directories).
public func which(_ name: String) -> String? {
    let path = ProcessInfo.processInfo.environment["PATH"] ?? ""
    for dir in path.split(separator: ":").map(String.init) + ["/usr/bin", "/bin", "/usr/sbin", "/sbin"] {
        let p = dir + "/" + name
        if FileManager.default.isExecutableFile(atPath: p) { return p }
    }
    return nil
}

/// This process's environment for a child that must see only its own test world: no sound server,
/// ALSA or D-Bus settings inherited, HOME and the XDG directories under `home` (its runtime
/// directory made), then `extra`. A test's own LD_PRELOAD goes before an inherited one (the
/// ThreadSanitizer run's Mutex annotations, scripts/sanitize.sh), which is kept.
public func testEnvironment(home: String, extra: [String: String] = [:]) -> [String: String] {
    var env = ProcessInfo.processInfo.environment
    for key in ["ALSA_CONFIG_PATH", "ALSA_CARD", "ALSA_PCM_CARD", "ALSA_PCM_DEVICE",
                "PULSE_SERVER", "PULSE_COOKIE", "PULSE_RUNTIME_PATH", "PULSE_CLIENTCONFIG", "PULSE_SINK", "PULSE_SOURCE",
                "XDG_CONFIG_HOME", "XDG_DATA_HOME", "XDG_STATE_HOME", "XDG_RUNTIME_DIR", "DBUS_SESSION_BUS_ADDRESS"] {
        env[key] = nil
    }
    env["HOME"] = home
    env["XDG_CONFIG_HOME"] = home + "/.config"
    env["XDG_DATA_HOME"] = home + "/.local/share"
    env["XDG_STATE_HOME"] = home + "/.local/state"
    let run = home + "/run"
    mkdir(run, 0o700)
    env["XDG_RUNTIME_DIR"] = run
    env.merge(extra) { $1 }
    if let mine = extra["LD_PRELOAD"], let inherited = ProcessInfo.processInfo.environment["LD_PRELOAD"], !inherited.isEmpty {
        env["LD_PRELOAD"] = mine + ":" + inherited
    }
    return env
}
