// Start-up milestones, for `make bench`'s start-up figures (scripts/bench-footprint.sh).
// CAPDECK_TRACE_STARTUP (read once, at the first milestone) turns them on: `1` prints them on
// stderr (the stderr capdeck started with, even after the console captures its own), an absolute
// path appends them to that file. Each milestone is one line, once:
//   capdeck-trace: NAME MONOTONIC_NS
// (CLOCK_MONOTONIC in nanoseconds: the bench reads the same clock just before it starts capdeck).
// Milestones, in order: `main` (the executable's entry: the dynamic linker and the Swift runtime
// are done), `args-parsed`, `device-open` (the engine has the device open and configured),
// `running` (record's session started), `first-frame` (the file's writer has the first captured
// frames; record) and `first-meters` (the console drew meters with audio in them, above -90 dBFS).
// `running` and `first-frame` may come in either order. Never on the capture thread.
import Glibc
import Synchronization

public enum StartupTrace {
    /// Where milestones go: -1 when off.
    static let fd: Int32 = {
        guard let v = getenv("CAPDECK_TRACE_STARTUP").map({ String(cString: $0) }), !v.isEmpty, v != "0" else { return -1 }
        if v.hasPrefix("/") { return open(v, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0o644) }
        return fcntl(2, F_DUPFD_CLOEXEC, 3)
    }()
    public static var enabled: Bool { fd >= 0 }
    private static let printed = Mutex<Set<String>>([])

    public static func mark(_ name: String) {
        guard enabled, printed.withLock({ $0.insert(name).inserted }) else { return }
        var ts = timespec()
        clock_gettime(CLOCK_MONOTONIC, &ts)
        let line = "capdeck-trace: \(name) \(Int(ts.tv_sec) * 1_000_000_000 + ts.tv_nsec)\n"
        _ = line.withCString { write(fd, $0, strlen($0)) }
    }
}
