// A `capdeck record` process driven through its standard input, as a script would: stdin is a
// FIFO the test writes control commands to (`set mix on`, `status`, `stop`, ...), stdout and
// stderr go to files the test reads while the process runs.
import Foundation
import Glibc

final class ControlledCapdeck: @unchecked Sendable {
    let child: Child
    let label: String
    let stdoutPath: String
    let stderrPath: String
    private let fifoPath: String
    /// Our end of the FIFO, opened read-write: it never blocks, and the child never sees end of
    /// input until we close it. Close-on-exec, so no other child inherits it.
    private var fifoFD: Int32

    struct Failure: Error, CustomStringConvertible {
        var description: String
    }

    /// Starts capdeck with `arguments` (HOME = `home`), stdin connected to a fresh FIFO.
    /// `label` names its files in `home` (`label.ctl`, `label.out`, `label.err`), so several
    /// processes can share one home.
    init(_ arguments: [String], home: TempDir, label: String = "capdeck", extraEnvironment: [String: String] = [:]) throws {
        let exe = try Capdeck.require()
        self.label = label
        fifoPath = home.path("\(label).ctl")
        stdoutPath = home.path("\(label).out")
        stderrPath = home.path("\(label).err")
        unlink(fifoPath)
        guard mkfifo(fifoPath, 0o600) == 0 else {
            throw Failure(description: "mkfifo \(fifoPath): \(String(cString: strerror(errno)))")
        }
        fifoFD = open(fifoPath, O_RDWR | O_CLOEXEC)
        guard fifoFD >= 0 else {
            throw Failure(description: "open \(fifoPath): \(String(cString: strerror(errno)))")
        }
        do {
            child = try Child(exe, arguments, environment: Capdeck.environment(home: home.root, extra: extraEnvironment),
                              stdin: fifoPath, stdout: stdoutPath, stderr: stderrPath)
        } catch {
            close(fifoFD)
            throw error
        }
    }

    deinit {
        child.kill()
        closeInput()
    }

    /// Writes one command line to the process's standard input.
    func send(_ command: String) throws {
        guard fifoFD >= 0 else { throw Failure(description: "\(label): standard input already closed") }
        let bytes = Array((command + "\n").utf8)
        var done = 0
        while done < bytes.count {
            let n = bytes[done...].withUnsafeBytes { Glibc.write(fifoFD, $0.baseAddress, $0.count) }
            if n < 0 {
                if errno == EINTR { continue }
                throw Failure(description: "\(label): write to stdin: \(String(cString: strerror(errno)))")
            }
            done += n
        }
    }

    /// Closes our end of the FIFO: the process reads end of input.
    func closeInput() {
        if fifoFD >= 0 {
            close(fifoFD)
            fifoFD = -1
        }
    }

    var stdout: String { (try? String(contentsOfFile: stdoutPath, encoding: .utf8)) ?? "" }
    var stderr: String { (try? String(contentsOfFile: stderrPath, encoding: .utf8)) ?? "" }

    /// Complete lines (ending in a newline) of a text.
    static func lines(_ text: String) -> [String] {
        var parts = text.split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
        parts.removeLast()  // the (possibly partial) text after the last newline
        return parts
    }

    var stdoutLines: [String] { Self.lines(stdout) }
    var stderrLines: [String] { Self.lines(stderr) }

    /// Waits until `path` exists; returns the monotonic time it was first seen.
    /// Throws if the process ends first or nothing appears within `timeout`.
    func waitForFile(_ path: String, timeout: Double = 10) async throws -> Double {
        let start = Monotonic.now
        while Monotonic.now - start < timeout {
            if access(path, F_OK) == 0 { return Monotonic.now }
            if let t = child.poll() {
                throw Failure(description: "\(label) ended (\(t)) before creating \(path); stderr: \(stderr)")
            }
            try await Task.sleep(for: .milliseconds(2))
        }
        throw Failure(description: "\(label) did not create \(path) within \(timeout) s; stderr: \(stderr)")
    }

    /// Waits until a complete stderr line satisfies `match`; returns it (nil after `timeout` or
    /// if the process ended without printing it).
    func waitForStderrLine(timeout: Double = 5, _ match: (String) -> Bool) async -> String? {
        let start = Monotonic.now
        while true {
            if let line = stderrLines.first(where: match) { return line }
            if child.poll() != nil || Monotonic.now - start > timeout {
                return stderrLines.first(where: match)
            }
            try? await Task.sleep(for: .milliseconds(10))
        }
    }

    /// Sends `status` and returns the JSON object of the one stdout line that answers it.
    func status(timeout: Double = 5) async throws -> StatusReply {
        let before = stdoutLines.count
        try send("status")
        let start = Monotonic.now
        while Monotonic.now - start < timeout {
            let lines = stdoutLines
            if lines.count > before {
                return try StatusReply(line: lines[before])
            }
            if let t = child.poll() {
                throw Failure(description: "\(label) ended (\(t)) without answering status; stderr: \(stderr)")
            }
            try await Task.sleep(for: .milliseconds(5))
        }
        throw Failure(description: "\(label): no answer to status within \(timeout) s; stdout: \(stdout.debugDescription)")
    }

    /// Waits until the session has captured at least `frames` frames (status's `frames`). A take
    /// stopped before any audio arrived keeps no file, by design; a test that expects a file
    /// waits for audio first (under load a fresh PulseAudio stream can deliver nothing for over
    /// a second: CI saw a test stop such a take and find no file).
    @discardableResult
    func waitForFrames(atLeast frames: Double = 1, timeout: Double = 10) async throws -> StatusReply {
        let start = Monotonic.now
        while true {
            let s = try await status()
            if (s.number("frames") ?? 0) >= frames { return s }
            if Monotonic.now - start > timeout {
                throw Failure(description: "\(label): fewer than \(frames) frames captured in \(timeout) s: \(s)")
            }
            try await Task.sleep(for: .milliseconds(20))
        }
    }

    /// Waits for the process to end; SIGKILLs it after `timeout`.
    func finish(timeout: Double = 10) async -> Termination? {
        if let t = await child.wait(timeout: timeout) { return t }
        child.kill()
        return nil
    }
}

/// One `status` answer: the raw line and its parsed JSON object.
struct StatusReply: @unchecked Sendable, CustomStringConvertible {
    let line: String
    let object: [String: Any]

    struct NotJSON: Error, CustomStringConvertible {
        var description: String
    }

    init(line: String) throws {
        self.line = line
        let any: Any
        do {
            any = try JSONSerialization.jsonObject(with: Data(line.utf8))
        } catch {
            throw NotJSON(description: "status answer is not JSON (\(error)): \(line.debugDescription)")
        }
        guard let o = any as? [String: Any] else {
            throw NotJSON(description: "status answer is not a JSON object: \(line.debugDescription)")
        }
        object = o
    }

    var description: String { line }

    /// The value at a dotted path, e.g. `route.kind`.
    subscript(path: String) -> Any? {
        var v: Any? = object
        for part in path.split(separator: ".") {
            v = (v as? [String: Any])?[String(part)]
        }
        return v
    }

    func string(_ path: String) -> String? { self[path] as? String }
    /// JSONSerialization gives booleans as NSNumber: only accept real JSON booleans (objCType
    /// "c"), not the numbers 0 and 1.
    func bool(_ path: String) -> Bool? {
        guard let n = self[path] as? NSNumber, String(cString: n.objCType) == "c" else { return nil }
        return n.boolValue
    }
    func number(_ path: String) -> Double? {
        guard let n = self[path] as? NSNumber else { return nil }
        return n.doubleValue
    }
    func array(_ path: String) -> [Any]? { self[path] as? [Any] }
    func isNull(_ path: String) -> Bool { self[path] is NSNull }
}

/// Sleeps until the monotonic clock reaches `deadline` (returns at once if it has).
func sleepUntil(_ deadline: Double) async throws {
    let wait = deadline - Monotonic.now
    if wait > 0 { try await Task.sleep(for: .milliseconds(Int(wait * 1000))) }
}
