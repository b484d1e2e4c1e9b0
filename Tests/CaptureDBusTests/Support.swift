// Real desktop parts for the other-audio tests: a private session bus (dbus-daemon) and real MPRIS
// players (mpv with the mpv-mpris plugin, audio to mpv's null output: the plugin registers and
// reports Playing/Paused with it as with a sound server). Every process is stopped by its pid.
import CaptureTestSupport
import Foundation
import Glibc
@testable import CaptureDBus

struct SupportFailure: Error, CustomStringConvertible {
    var description: String
}

func which(_ program: String) -> String? {
    for dir in ["/usr/bin", "/bin", "/usr/local/bin"] where access(dir + "/" + program, X_OK) == 0 {
        return dir + "/" + program
    }
    return nil
}

/// A temporary directory, removed at deinit.
final class Scratch: @unchecked Sendable {  // immutable after init
    let path: String
    init() throws {
        var template = Array("/tmp/capdeck-dbus-XXXXXX".utf8CString)
        guard let p = template.withUnsafeMutableBufferPointer({ mkdtemp($0.baseAddress!) }) else {
            throw SupportFailure(description: "mkdtemp: \(String(cString: strerror(errno)))")
        }
        path = String(cString: p)
    }
    deinit { try? FileManager.default.removeItem(atPath: path) }
}

/// A private session bus: `dbus-daemon --session --fork --print-address=1 --print-pid=1`.
final class PrivateBus: @unchecked Sendable {  // immutable after init
    let address: String
    let pid: pid_t
    let scratch: Scratch
    private let process: Process

    init() throws {
        guard let daemon = which("dbus-daemon") else { throw SupportFailure(description: "dbus-daemon is needed (apt-get install dbus)") }
        scratch = try Scratch()
        // In the foreground (the forking parent is never reaped by Foundation's Process), printing
        // its address and pid into a file.
        let p = Process()
        p.executableURL = URL(fileURLWithPath: daemon)
        p.arguments = ["--session", "--nofork", "--nosyslog", "--print-address=1", "--print-pid=1",
                       "--address=unix:path=\(scratch.path)/bus"]
        let outPath = scratch.path + "/bus.out"
        _ = FileManager.default.createFile(atPath: outPath, contents: nil)
        p.standardOutput = FileHandle(forWritingAtPath: outPath)
        p.standardError = FileHandle(forWritingAtPath: "/dev/null")
        try p.run()
        process = p
        var lines: [Substring] = []
        do {
            try waitUntil("dbus-daemon's address and pid", timeout: 10, pollMs: 5) {
                lines = ((try? String(contentsOfFile: outPath, encoding: .utf8)) ?? "").split(separator: "\n")
                return lines.count >= 2 || !p.isRunning
            }
        } catch {
            kill(p.processIdentifier, SIGKILL)
            throw error
        }
        guard lines.count >= 2, let pid = pid_t(lines[1]) else {
            kill(p.processIdentifier, SIGKILL)
            throw SupportFailure(description: "dbus-daemon printed \(lines)")
        }
        address = String(lines[0])
        self.pid = pid
    }

    func stop() {
        kill(process.processIdentifier, SIGKILL)
        let deadline = Date().addingTimeInterval(3)
        while process.isRunning && Date() < deadline { usleep(5000) }
    }
    deinit { stop() }

    /// A connection of the test's own, to look at the players as a bystander would.
    func connect() throws -> SessionBus { try SessionBus(address: address, timeoutMs: 2000) }
}

/// A silent 16-bit mono WAV of `seconds` at 8 kHz (mpv loops it).
func writeSilentWAV(_ path: String, seconds: Int = 2) {
    let frames = 8000 * seconds
    var b: [UInt8] = []
    func u32(_ v: Int) { b += withUnsafeBytes(of: UInt32(v).littleEndian, Array.init) }
    func u16(_ v: Int) { b += withUnsafeBytes(of: UInt16(v).littleEndian, Array.init) }
    b += Array("RIFF".utf8); u32(36 + frames * 2); b += Array("WAVEfmt ".utf8)
    u32(16); u16(1); u16(1); u32(8000); u32(16000); u16(2); u16(16)
    b += Array("data".utf8); u32(frames * 2); b += [UInt8](repeating: 0, count: frames * 2)
    _ = FileManager.default.createFile(atPath: path, contents: Data(b))
}

/// A real mpv, playing a looped silent file, with the mpv-mpris plugin on the private bus.
final class MPVPlayer: @unchecked Sendable {  // immutable after init
    let process: Process
    let busName: String
    let owner: String

    /// Starts mpv and waits (at most 10 s) until a new `org.mpris.MediaPlayer2.mpv*` name is on
    /// the bus and reports Playing.
    init(on bus: PrivateBus, paused: Bool = false) throws {
        guard let mpv = which("mpv") else { throw SupportFailure(description: "mpv is needed (apt-get install mpv mpv-mpris)") }
        let look = try bus.connect()
        let before = Set(try look.playerNames())
        let wav = bus.scratch.path + "/silence.wav"
        if access(wav, F_OK) != 0 { writeSilentWAV(wav) }
        let p = Process()
        p.executableURL = URL(fileURLWithPath: mpv)
        p.arguments = ["--no-video", "--no-terminal", "--ao=null", "--loop=inf"] + (paused ? ["--pause"] : []) + [wav]
        var env = ProcessInfo.processInfo.environment
        env["DBUS_SESSION_BUS_ADDRESS"] = bus.address
        env["HOME"] = bus.scratch.path
        env["XDG_CONFIG_HOME"] = bus.scratch.path + "/config"
        p.environment = env
        p.standardOutput = FileHandle(forWritingAtPath: "/dev/null")
        p.standardError = FileHandle(forWritingAtPath: "/dev/null")
        try p.run()
        process = p
        var found: (String, String)?
        do {
            try waitUntil("mpv's MPRIS name on the bus", timeout: 10, pollMs: 20) {
                guard let names = try? look.playerNames() else { return false }
                for n in names where !before.contains(n) {
                    if let o = try? look.owner(of: n), let s = try? look.playbackStatus(o), s == (paused ? .paused : .playing) {
                        found = (n, o)
                        return true
                    }
                }
                return false
            }
        } catch {
            kill(p.processIdentifier, SIGKILL)
            throw error
        }
        (busName, owner) = found!
    }

    var pid: pid_t { process.processIdentifier }
    func kill9() {
        kill(pid, SIGKILL)
        process.waitUntilExit()
    }
    deinit {
        if process.isRunning { kill(pid, SIGKILL) }
    }
}

/// `playerctl -p NAME COMMAND` on the private bus (a user at the keyboard, or looking).
@discardableResult
func playerctl(_ bus: PrivateBus, _ player: MPVPlayer, _ command: String) throws -> String {
    guard let path = which("playerctl") else { throw SupportFailure(description: "playerctl is needed (apt-get install playerctl)") }
    let p = Process()
    p.executableURL = URL(fileURLWithPath: path)
    p.arguments = ["-p", String(player.busName.dropFirst(SessionBus.playerPrefix.count)), command]
    var env = ProcessInfo.processInfo.environment
    env["DBUS_SESSION_BUS_ADDRESS"] = bus.address
    p.environment = env
    let out = Pipe()
    p.standardOutput = out
    p.standardError = FileHandle(forWritingAtPath: "/dev/null")
    try p.run()
    let data = out.fileHandleForReading.readDataToEndOfFile()
    p.waitUntilExit()
    return String(decoding: data, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
}
