// Child processes for the integration tests: posix_spawn in a new process group, output to
// files (no pipes to deadlock on), waiting with a deadline, and killing by pid/pgid only.
import Foundation
import Glibc

/// How a child process ended.
enum Termination: Equatable, CustomStringConvertible {
    case exited(Int32)
    case signaled(Int32)

    var description: String {
        switch self {
        case .exited(let c): "exit \(c)"
        case .signaled(let s): "signal \(s)"
        }
    }

    var exitCode: Int32? {
        if case .exited(let c) = self { return c }
        return nil
    }

    /// Decodes a waitpid status (the W* macros don't import into Swift).
    init(waitStatus s: Int32) {
        if s & 0x7F == 0 {
            self = .exited((s >> 8) & 0xFF)
        } else {
            self = .signaled(s & 0x7F)
        }
    }
}

struct SpawnError: Error, CustomStringConvertible {
    var description: String
}

/// One child process, leader of its own process group (pgid == pid).
final class Child: @unchecked Sendable {
    let pid: pid_t
    let executable: String
    private(set) var termination: Termination?

    /// Starts `executable` with exactly `arguments` and `environment`.
    /// stdin, stdout and stderr are files (paths); stdout/stderr are created or truncated.
    init(_ executable: String, _ arguments: [String], environment: [String: String],
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
    func poll() -> Termination? {
        if let termination { return termination }
        var status: Int32 = 0
        let r = waitpid(pid, &status, WNOHANG)
        if r == pid {
            termination = Termination(waitStatus: status)
        }
        return termination
    }

    /// Waits up to `timeout` seconds for the child to end; nil if it is still running.
    func wait(timeout: Double) async -> Termination? {
        let deadline = Monotonic.now + timeout
        while Monotonic.now < deadline {
            if let t = poll() { return t }
            try? await Task.sleep(for: .milliseconds(5))
        }
        return poll()
    }

    /// Sends `sig` to the child's whole process group (it leads it), if it has not been reaped.
    func signalGroup(_ sig: Int32) {
        guard termination == nil else { return }
        _ = Glibc.kill(-pid, sig)
    }

    /// Sends `sig` to the child process only.
    func signal(_ sig: Int32) {
        guard termination == nil else { return }
        _ = Glibc.kill(pid, sig)
    }

    /// SIGKILLs the process group and reaps the child (blocking; SIGKILL can't be ignored).
    func kill() {
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
    func stop(grace: Double = 2) async {
        guard poll() == nil else { return }
        signalGroup(SIGTERM)
        if await wait(timeout: grace) == nil { kill() }
    }
}

/// Monotonic seconds.
enum Monotonic {
    static var now: Double {
        var ts = timespec()
        clock_gettime(CLOCK_MONOTONIC, &ts)
        return Double(ts.tv_sec) + Double(ts.tv_nsec) / 1e9
    }
}

/// The result of a child run to completion.
struct RunResult: CustomStringConvertible {
    var termination: Termination
    var stdout: String
    var stderr: String
    /// Wall-clock seconds from spawn to reaping.
    var seconds: Double

    var exitCode: Int32? { termination.exitCode }

    var description: String {
        "\(termination) after \(String(format: "%.2f", seconds)) s; stderr: \(stderr.debugDescription); stdout: \(stdout.debugDescription)"
    }

    /// stderr's lines, without the final newline's empty remainder.
    var stderrLines: [Substring] {
        var lines = stderr.split(separator: "\n", omittingEmptySubsequences: false)
        if lines.last == "" { lines.removeLast() }
        return lines
    }
}

struct TimedOut: Error, CustomStringConvertible {
    var description: String
}

/// Runs a program to completion (killing its group after `timeout`), capturing its output.
func runProgram(_ executable: String, _ arguments: [String], environment: [String: String],
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
final class TempDir: @unchecked Sendable {
    let url: URL
    private var removed = false

    init(_ label: String = "capdeck-it") throws {
        var template = Array("/tmp/\(label)-XXXXXX".utf8CString)
        guard let p = mkdtemp(&template) else {
            throw SpawnError(description: "mkdtemp: \(String(cString: strerror(errno)))")
        }
        url = URL(fileURLWithPath: String(cString: p), isDirectory: true)
    }

    deinit { remove() }

    var root: String { url.path }

    func path(_ name: String) -> String { url.appendingPathComponent(name).path }

    func write(_ name: String, _ text: String) throws {
        try text.write(toFile: path(name), atomically: false, encoding: .utf8)
    }

    func write(_ name: String, bytes: [UInt8]) throws {
        try Data(bytes).write(to: url.appendingPathComponent(name))
    }

    @discardableResult
    func makeDirectory(_ name: String, mode: mode_t = 0o700) -> String {
        let p = path(name)
        mkdir(p, mode)
        return p
    }

    func remove() {
        guard !removed else { return }
        removed = true
        try? FileManager.default.removeItem(at: url)
    }
}
