// Where the user's sound server (PulseAudio, or PipeWire through pipewire-pulse) should be, and
// whether it answers there: found the way libpulse looks (PULSE_SERVER, then the user's runtime
// directory), and checked by connecting to its socket, without speaking its protocol. This is
// what lets `record` and the console say "the server is configured but unreachable" instead of
// recording something else.
import CaptureCore
import Glibc

/// A sound server a client on this machine should reach, and how we know of it.
public struct SoundServerLocation: Sendable, Equatable {
    /// `unix:/run/user/1000/pulse/native`, `tcp:127.0.0.1:4713`, …
    public var address: String
    /// How it was found: "PULSE_SERVER", "XDG_RUNTIME_DIR", or a runtime directory found while
    /// XDG_RUNTIME_DIR is unset.
    public var foundThrough: String
    /// The socket path, for a local server.
    public var socketPath: String?
}

/// Finds the expected sound server and checks it answers. Any thread; a few system calls; the
/// connect has a short timeout (local sockets answer at once).
public enum SoundServerProbe {
    public enum Reachability: Sendable, Equatable {
        case reachable
        /// Configured but not answering: why (the system's words) and what to do.
        case unreachable(cause: String, fix: String)
    }

    /// The server this user's clients would use, or nil when none is configured (no
    /// PULSE_SERVER, no server socket in the runtime directory).
    public static func expected(environment: [String: String] = currentEnvironment()) -> SoundServerLocation? {
        if let list = environment["PULSE_SERVER"], !list.trimmingCharacters(in: " \t").isEmpty {
            // libpulse tries each entry in turn; the first one is the one to name.
            let first = list.split(whereSeparator: { $0 == " " || $0 == "\t" }).first.map(String.init) ?? list
            var entry = first
            if entry.hasPrefix("{"), let close = entry.firstIndex(of: "}") { entry = String(entry[entry.index(after: close)...]) }
            if entry.hasPrefix("unix:") { return SoundServerLocation(address: first, foundThrough: "PULSE_SERVER", socketPath: String(entry.dropFirst(5))) }
            if entry.hasPrefix("/") { return SoundServerLocation(address: first, foundThrough: "PULSE_SERVER", socketPath: entry) }
            return SoundServerLocation(address: first, foundThrough: "PULSE_SERVER", socketPath: nil)
        }
        if let runtime = environment["XDG_RUNTIME_DIR"], runtime.hasPrefix("/") {
            let native = runtime + "/pulse/native"
            if isSocket(native) { return SoundServerLocation(address: "unix:" + native, foundThrough: "XDG_RUNTIME_DIR", socketPath: native) }
            return nil
        }
        // ssh or cron without a login session: XDG_RUNTIME_DIR is unset, but the user's desktop
        // server may be running in /run/user/UID.
        let native = "/run/user/\(getuid())/pulse/native"
        if isSocket(native) {
            return SoundServerLocation(address: "unix:" + native, foundThrough: "/run/user/\(getuid()) (XDG_RUNTIME_DIR is unset)", socketPath: native)
        }
        return nil
    }

    /// Whether the server at `location` answers.
    public static func check(_ location: SoundServerLocation) -> Reachability {
        if location.foundThrough.contains("XDG_RUNTIME_DIR is unset") {
            let dir = (location.socketPath.map { String($0.dropLast("/pulse/native".count)) }) ?? "/run/user/\(getuid())"
            return .unreachable(cause: "XDG_RUNTIME_DIR is unset (an ssh or cron session), so clients don't find it",
                                fix: "run with XDG_RUNTIME_DIR=\(dir)")
        }
        guard let path = location.socketPath else {
            // A network server: not probed (the sandbox of a test, or a host we must not reach
            // from here); the capture itself reports what it meets.
            return .reachable
        }
        let fd = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue) | Int32(SOCK_NONBLOCK.rawValue), 0)
        guard fd >= 0 else { return .reachable }
        defer { close(fd) }
        var addr = sockaddr_un()
        addr.sun_family = sa_family_t(AF_UNIX)
        let bytes = Array(path.utf8)
        guard bytes.count < MemoryLayout.size(ofValue: addr.sun_path) else {
            return .unreachable(cause: "the socket path is too long", fix: "check PULSE_SERVER")
        }
        withUnsafeMutableBytes(of: &addr.sun_path) { raw in
            for (i, b) in bytes.enumerated() { raw[i] = b }
        }
        let connected = failure {
            withUnsafePointer(to: &addr) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_un>.size)) }
            }
        }
        guard let e = connected else { return .reachable }
        if e == Errno(EINPROGRESS) || e == Errno(EAGAIN) {
            // A listening server whose backlog is full, or one that is stalled: not "unreachable".
            return .reachable
        }
        let text = e.description
        switch e.rawValue {
        case ENOENT:
            return .unreachable(cause: "no server socket at \(path) (\(text))",
                                fix: location.foundThrough == "PULSE_SERVER" ? "check PULSE_SERVER, or start the server" : "start the sound server (pulseaudio --start, or systemctl --user start pipewire-pulse)")
        case ECONNREFUSED:
            return .unreachable(cause: "nothing listens on \(path) (\(text): the server has stopped)",
                                fix: "start the sound server (pulseaudio --start, or systemctl --user start pipewire-pulse)")
        case EACCES, EPERM:
            return .unreachable(cause: "no permission to connect to \(path) (\(text))", fix: "run as the user whose server it is")
        default:
            return .unreachable(cause: "\(path): \(text)", fix: "check that the sound server runs")
        }
    }

    /// One line for a server that is configured but doesn't answer (nil: none is configured, or it
    /// answers): "the sound server unix:/… (found through …) is unreachable: <cause>; <fix>, or
    /// name another device with -D".
    public static func diagnosis(environment: [String: String] = currentEnvironment()) -> String? {
        guard let loc = expected(environment: environment), case .unreachable(let cause, let fix) = check(loc) else { return nil }
        return "the sound server \(loc.address) (found through \(loc.foundThrough)) is unreachable: \(cause); \(fix), or name another device with -D (see 'capdeck devices')"
    }

    public static func currentEnvironment() -> [String: String] {
        var out: [String: String] = [:]
        for key in ["PULSE_SERVER", "XDG_RUNTIME_DIR"] {
            if let v = getenv(key) { out[key] = String(cString: v) }
        }
        return out
    }

    private static func isSocket(_ path: String) -> Bool {
        var st = stat()
        return lstat(path, &st) == 0 && (st.st_mode & S_IFMT) == S_IFSOCK
    }
}

extension String {
    fileprivate func trimmingCharacters(in set: String) -> String {
        String(drop { set.contains($0) }.reversed().drop { set.contains($0) }.reversed())
    }
}
