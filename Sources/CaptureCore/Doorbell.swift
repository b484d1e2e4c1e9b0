// A wake-up descriptor one thread can poll on and another can ring without locks.
import Glibc
import Synchronization

/// A non-blocking pipe that wakes a sleeping thread (eventfd is not exported by Swift's Glibc).
///
/// `ring()` is a single non-blocking write(2) (no allocation, no lock) so it is safe on the
/// real-time path. `ringIfWaiting()` skips even that unless the other side said it is about to
/// sleep (`prepareToWait`), so a busy pipeline makes no system calls at all. The waiter must
/// re-check its condition after `prepareToWait` and before polling; sequentially consistent
/// ordering on both sides rules out the lost wake-up. A waiter may also ask to be woken only once
/// a level is reached (`prepareToWait(untilLevel:)`: the engine's writer waits for a batch of
/// frames, not for each device period), and the ringer says its level (`ringIfWaiting(level:)`).
/// `@unchecked Sendable`: two pipe descriptors, fixed at init, and an atomic level.
public final class Doorbell: @unchecked Sendable {
    /// The descriptor to include in a poll set (readable when rung).
    public let fd: Int32
    private let writeFD: Int32
    /// The level the waiter waits for (0: not waiting).
    private let waiting = Atomic<Int>(0)
    /// Scratch for `drain`, allocated once: a local tuple would make Swift instantiate its type
    /// metadata lazily, which allocates, the first time the real-time path drains.
    private let drainBuffer = UnsafeMutableRawPointer.allocate(byteCount: 64, alignment: 8)

    public init() throws(SystemError) {
        var fds: (Int32, Int32) = (-1, -1)
        let r = withUnsafeMutableBytes(of: &fds) {
            pipe($0.baseAddress!.assumingMemoryBound(to: Int32.self))
        }
        if r != 0 { throw SystemError(operation: "pipe", errno: .current) }
        for end in [fds.0, fds.1] {
            _ = fcntl(end, F_SETFL, fcntl(end, F_GETFL) | O_NONBLOCK)
            _ = fcntl(end, F_SETFD, FD_CLOEXEC)
        }
        fd = fds.0
        writeFD = fds.1
    }

    deinit {
        close(fd)
        close(writeFD)
        drainBuffer.deallocate()
    }

    /// Wakes the waiter unconditionally.
    @inline(__always)
    public func ring() {
        var one: UInt8 = 1
        _ = retryingInterrupts { write(writeFD, &one, 1) }  // a full pipe (EAGAIN) is already rung
    }

    /// Wakes the waiter only if it announced it is going to sleep, and `level` (the ringer's
    /// measure of what it published, e.g. frames in a ring) reaches what it waits for. The default
    /// wakes any waiter.
    @inline(__always)
    public func ringIfWaiting(level: Int = .max) {
        // Orders the caller's earlier (release) publication before this load: without the fence
        // the store and the load may be reordered (StoreLoad), and both sides could miss each other.
        atomicMemoryFence(ordering: .sequentiallyConsistent)
        let wanted = waiting.load(ordering: .sequentiallyConsistent)
        if wanted > 0 && level >= wanted {
            if waiting.compareExchange(expected: wanted, desired: 0, ordering: .sequentiallyConsistent).exchanged { ring() }
        }
    }

    /// Announces that the caller is about to sleep on `fd` until rung at `untilLevel` or more (at
    /// least 1); re-check the condition after this.
    @inline(__always)
    public func prepareToWait(untilLevel: Int = 1) {
        waiting.store(Swift.max(1, untilLevel), ordering: .sequentiallyConsistent)
        // The waiter's re-check (an acquire load of the ring index) must not move above the store.
        atomicMemoryFence(ordering: .sequentiallyConsistent)
    }

    /// Withdraws the announcement (the condition turned out true, or the wait ended).
    @inline(__always)
    public func cancelWait() { waiting.store(0, ordering: .sequentiallyConsistent) }

    /// Consumes pending rings so the descriptor stops polling readable.
    @inline(__always)
    public func drain() {
        while retryingInterrupts({ read(fd, drainBuffer, 64) }).value == 64 {}
    }

    /// Sleeps until rung or `timeoutMs` passes (-1: no timeout). Returns true when rung.
    public func wait(timeoutMs: Int32) -> Bool {
        var p = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
        let n = poll(&p, 1, timeoutMs)
        if n > 0 { drain(); return true }
        return false
    }
}
