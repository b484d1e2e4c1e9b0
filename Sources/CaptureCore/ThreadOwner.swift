// A debug-only check that one side of a single-owner structure stays on one thread (as cubeb's
// ring buffer asserts, and NIO's NIOLoopBound): the first thread to use it becomes its owner, and
// any other thread is a programmer error that stops the process at once with what was misused.
// Release builds compile the check away: it costs nothing on the real-time path there, and in
// debug builds it is one relaxed atomic load (no allocation, no lock, no system call).
import Glibc
import Synchronization

public final class ThreadOwner: Sendable {
    private let owner = Atomic<UInt>(0)
    private let what: StaticString

    public init(_ what: StaticString) { self.what = what }

    /// Claims the calling thread on first use; afterwards, traps (debug builds) if called from
    /// another thread.
    @inline(__always)
    public func check() {
        #if DEBUG
        let me = UInt(pthread_self())
        let current = owner.load(ordering: .relaxed)
        if current == me { return }
        if current == 0, owner.compareExchange(expected: 0, desired: me, ordering: .relaxed).exchanged { return }
        preconditionFailure("\(what) used from a second thread (owner \(owner.load(ordering: .relaxed)), caller \(me))")
        #endif
    }

    /// Gives the side up, for a structure handed to another thread on purpose (between runs).
    public func release() {
        #if DEBUG
        owner.store(0, ordering: .relaxed)
        #endif
    }
}
