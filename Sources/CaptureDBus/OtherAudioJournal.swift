// The crash journal of the other-audio interrupter: which media players CaptureDeck is about to
// pause or has paused, written (atomically, synced, 0600) before any of them is paused, so a
// capdeck killed while it interrupts can be undone by the next one.
//
// File: `$XDG_STATE_HOME/capdeck/other-audio-PID.journal` (default `~/.local/state/capdeck/`), one
// per process, text:
//
//     capdeck other-audio journal 1
//     writer PID STARTTIME
//     player STATE<TAB>BUS NAME<TAB>UNIQUE OWNER<TAB>IDENTITY
//
// STATE is `pausing` (about to be paused: written before the Pause) or `paused` (Pause answered).
// STARTTIME is the writer's start time in clock ticks since boot (/proc/PID/stat field 22), so a
// reused pid is not taken for the writer. IDENTITY escapes `\`, tab and newline as `\\`, `\t`, `\n`.
import CaptureCore
import Glibc

/// A media player on the session bus, as CaptureDeck saw it when it paused it.
public struct OtherPlayer: Sendable, Hashable, CustomStringConvertible {
    /// `org.mpris.MediaPlayer2.mpv` (a second mpv is `org.mpris.MediaPlayer2.mpv.instance1234`).
    public var busName: String
    /// The unique connection name that owned `busName` (`:1.42`): a player restarted under the
    /// same name has another one, and is not ours to resume.
    public var owner: String
    /// Its `Identity` ("mpv", "Firefox"), for display.
    public var identity: String
    public init(busName: String, owner: String, identity: String) {
        self.busName = busName
        self.owner = owner
        self.identity = identity
    }
    public var description: String { identity }
}

/// A process as the journal names its writer: the pid and its start time, so a pid the kernel
/// gave to another process since is not taken for a live writer.
struct ProcessIdentity: Sendable, Equatable {
    var pid: Int32
    var startTime: UInt64?

    static var current: ProcessIdentity { ProcessIdentity(pid: getpid(), startTime: startTime(of: getpid())) }

    /// Field 22 of /proc/PID/stat (after the parenthesized command, which may hold spaces).
    static func startTime(of pid: Int32) -> UInt64? {
        let fd = open("/proc/\(pid)/stat", O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { return nil }
        defer { close(fd) }
        var buf = [UInt8](repeating: 0, count: 1024)
        let n = buf.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
        guard n > 0, let close = buf[..<n].lastIndex(of: UInt8(ascii: ")")) else { return nil }
        let fields = buf[(close + 1)..<n].split(separator: UInt8(ascii: " "))
        // fields[0] is field 3 (the state), so field 22 is fields[19].
        guard fields.count > 19 else { return nil }
        return UInt64(String(decoding: fields[19], as: UTF8.self))
    }

    /// True while this process runs (a pid that exists with the same start time).
    var isAlive: Bool {
        if kill(pid, 0) != 0 && Errno.current != Errno(EPERM) { return false }
        guard let startTime, let now = ProcessIdentity.startTime(of: pid) else { return true }
        return now == startTime
    }
}

struct JournalEntry: Sendable, Equatable {
    enum State: String, Sendable { case pausing, paused }
    var state: State
    var player: OtherPlayer
}

struct OtherAudioJournal: Sendable, Equatable {
    static let header = "capdeck other-audio journal 1"
    var writer: ProcessIdentity
    var entries: [JournalEntry]

    /// `$XDG_STATE_HOME/capdeck` (an absolute XDG_STATE_HOME only, as the XDG spec says), else
    /// `~/.local/state/capdeck`.
    static func defaultDirectory() -> String {
        if let x = getenv("XDG_STATE_HOME").map({ String(cString: $0) }), x.hasPrefix("/") { return x + "/capdeck" }
        var home = getenv("HOME").map { String(cString: $0) } ?? ""
        if home.isEmpty, let pw = getpwuid(getuid()), let dir = pw.pointee.pw_dir { home = String(cString: dir) }
        return (home.isEmpty ? "/tmp" : home) + "/.local/state/capdeck"
    }

    static func fileName(pid: Int32) -> String { "other-audio-\(pid).journal" }

    var text: String {
        var s = OtherAudioJournal.header + "\n"
        s += "writer \(writer.pid) \(writer.startTime.map(String.init) ?? "-")\n"
        for e in entries {
            s += "player \(e.state.rawValue)\t\(FieldEscaping.escape(e.player.busName))\t\(FieldEscaping.escape(e.player.owner))\t\(FieldEscaping.escape(e.player.identity))\n"
        }
        return s
    }

    /// Parses a journal; nil when it isn't one (damaged, or another program's file).
    static func parse(_ text: String) -> OtherAudioJournal? {
        let lines = text.split(separator: "\n", omittingEmptySubsequences: true)
        guard lines.first == Substring(header), lines.count >= 2 else { return nil }
        let w = lines[1].split(separator: " ")
        guard w.count == 3, w[0] == "writer", let pid = Int32(w[1]) else { return nil }
        var journal = OtherAudioJournal(writer: ProcessIdentity(pid: pid, startTime: UInt64(w[2])), entries: [])
        for line in lines.dropFirst(2) {
            guard line.hasPrefix("player ") else { return nil }
            let f = line.dropFirst("player ".count).split(separator: "\t", omittingEmptySubsequences: false)
            guard f.count == 4, let state = JournalEntry.State(rawValue: String(f[0])) else { return nil }
            journal.entries.append(JournalEntry(state: state, player: OtherPlayer(
                busName: FieldEscaping.unescape(f[1]), owner: FieldEscaping.unescape(f[2]), identity: FieldEscaping.unescape(f[3]))))
        }
        return journal
    }

    /// Writes the journal atomically: a private temporary file (0600), synced, renamed over the old
    /// one, and the directory synced; the directory is made (0700) when missing. An error text.
    func write(to path: String) -> String? {
        let dir = String(path[..<(path.lastIndex(of: "/") ?? path.startIndex)])
        if !dir.isEmpty, let e = makeDirectories(dir) { return "\(dir): \(e)" }
        let tmp = path + ".tmp"
        unlink(tmp)  // a leftover of a crashed run with this pid number
        let fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0o600)
        if fd < 0 { return "\(tmp): \(Errno.current)" }
        var failed = writeAll(fd, Array(text.utf8), at: 0)
        if failed == nil { failed = CaptureCore.failure { fsync(fd) } }
        close(fd)
        if failed == nil { failed = CaptureCore.failure { rename(tmp, path) } }
        if let failed {
            unlink(tmp)
            return "\(path): \(failed)"
        }
        syncDirectory(dir)
        return nil
    }

    static func read(_ path: String) -> String? {
        let fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC)
        guard fd >= 0 else { return nil }
        defer { close(fd) }
        var bytes: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 4096)
        while bytes.count < 1 << 20 {
            let r = retryingInterrupts { chunk.withUnsafeMutableBytes { Glibc.read(fd, $0.baseAddress, $0.count) } }
            if r.failed { return nil }
            if r.value == 0 { break }
            bytes += chunk[..<r.value]
        }
        return String(decoding: bytes, as: UTF8.self)
    }

    /// Removes a journal and syncs its directory, so a restore isn't repeated after a power cut.
    static func remove(_ path: String) {
        unlink(path)
        syncDirectory(String(path[..<(path.lastIndex(of: "/") ?? path.startIndex)]))
    }
}

func syncDirectory(_ dir: String) {
    guard !dir.isEmpty else { return }
    let d = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
    if d >= 0 { fsync(d); close(d) }
}

/// `mkdir -p` with mode 0700 for what it creates; the errno of a failure.
func makeDirectories(_ dir: String) -> Errno? {
    var path = dir.hasPrefix("/") ? "" : "."
    for part in dir.split(separator: "/") {
        path += "/" + part
        if mkdir(path, 0o700) != 0 && Errno.current != .exists { return Errno.current }
    }
    return nil
}
