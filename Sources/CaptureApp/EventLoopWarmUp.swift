// libdispatch's event loop made at start-up, while descriptors are surely left.
//
// On Linux, libdispatch creates its epoll instance and wake-up eventfd lazily, the first time a
// source, a timer or the manager queue needs them — often on its manager thread, asynchronously
// — and traps (SIGILL, DISPATCH_INTERNAL_CRASH "epoll_create1() failed") when that fails. A
// process at its descriptor limit (`ulimit -n`) then died after its clean "out of file
// descriptors" line instead of exiting with it: the manager thread lost the race for the last
// descriptors to the recording's file and the engine's pipes (CI saw it twice). So `capdeck`
// makes the event loop first, and waits until a timer has fired on it: from then on libdispatch
// needs no new descriptor to run (a signal source or a timer clock that can't get one is a
// source that never fires, not a trap).
import CaptureCore
import Dispatch
import Glibc

public enum EventLoopWarmUp {
    /// Makes libdispatch's event loop now. Returns nil, or, when the process can't open the few
    /// descriptors it takes, the error to report (before any dispatch source exists, so nothing
    /// traps).
    public static func run() -> Errno? {
        // epoll, its eventfd and the monotonic timerfd, and one to spare: known to be there
        // before libdispatch is asked for them.
        var probes: [Int32] = []
        defer { probes.forEach { _ = close($0) } }
        for _ in 0..<4 {
            let fd = open("/dev/null", O_RDONLY | O_CLOEXEC)
            if fd < 0 { return Errno.current }
            probes.append(fd)
        }
        probes.forEach { _ = close($0) }
        probes = []
        let fired = DispatchSemaphore(value: 0)
        // A timer, not `async`: only a timer (or a source) goes through the event loop.
        DispatchQueue.global().asyncAfter(deadline: .now() + .microseconds(1)) { fired.signal() }
        fired.wait()
        return nil
    }
}
