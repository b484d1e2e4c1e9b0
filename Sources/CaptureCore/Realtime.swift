// Raising the capture thread to real-time scheduling, and putting it back afterwards.
import Glibc

/// How the capture thread is being scheduled.
public enum RealtimeStatus: Sendable, Equatable, CustomStringConvertible {
    case notStarted
    /// SCHED_FIFO at this priority.
    case realtime(priority: Int32)
    /// Ordinary time-sharing scheduling, and why (not requested, or refused by the system).
    case normal(reason: String)

    public var description: String {
        switch self {
        case .notStarted: "not started"
        case .realtime(let p): "SCHED_FIFO \(p)"
        case .normal(let r): "normal priority: \(r)"
        }
    }
}

/// The calling thread's scheduling, saved so it can be restored (Dispatch reuses its threads).
struct SavedScheduling {
    var policy: Int32
    var param: sched_param

    /// Tries to switch the calling thread to SCHED_FIFO at `priority`. Returns the previous
    /// scheduling (to restore) and the resulting status. Never fails: falls back to normal.
    static func promote(priority: Int32?) -> (SavedScheduling, RealtimeStatus) {
        var policy: Int32 = 0
        var param = sched_param()
        pthread_getschedparam(pthread_self(), &policy, &param)
        let saved = SavedScheduling(policy: policy, param: param)
        guard let priority else { return (saved, .normal(reason: "real-time not requested")) }
        var rt = sched_param()
        rt.sched_priority = priority
        let err = pthread_setschedparam(pthread_self(), SCHED_FIFO, &rt)
        if err == 0 { return (saved, .realtime(priority: priority)) }
        let reason: String
        if err == EPERM {
            var lim = rlimit()
            getrlimit(__rlimit_resource_t(__RLIMIT_RTPRIO.rawValue), &lim)
            reason = "no permission (RLIMIT_RTPRIO \(lim.rlim_cur))"
        } else {
            reason = Errno(err).description
        }
        return (saved, .normal(reason: reason))
    }

    func restore() {
        var p = param
        pthread_setschedparam(pthread_self(), policy, &p)
    }
}

/// Kernel thread id of the calling thread (Swift's Glibc does not export gettid(2); the
/// /proc/thread-self link names it as "PID/task/TID"). Allocates: call it outside real-time code.
public func currentThreadID() -> Int32 {
    var buf = [CChar](repeating: 0, count: 64)
    let n = readlink("/proc/thread-self", &buf, 63)
    guard n > 0 else { return 0 }
    let text = String(decoding: buf[0..<n].map { UInt8(bitPattern: $0) }, as: UTF8.self)
    return Int32(text.split(separator: "/").last ?? "") ?? 0
}

/// CLOCK_MONOTONIC in nanoseconds: the clock of the capture path and the built-in source.
/// Allocation-free.
@inline(__always)
public func monotonicNanos() -> UInt64 {
    var ts = timespec()
    clock_gettime(CLOCK_MONOTONIC, &ts)
    return UInt64(ts.tv_sec) * 1_000_000_000 + UInt64(ts.tv_nsec)
}
