// Test support for the unit-test targets: one scripted capture source (the built-in signal with
// the faults and quirks a test asks for) instead of a near-copy wrapper per test file, and a
// bounded wait that fails with what it waited for instead of hanging the suite.
import CaptureCore
import Foundation
import Glibc
import Synchronization

/// The built-in source, scripted: what real devices do that a test needs on demand.
///
/// `@unchecked Sendable`: like any device, opened by one control thread and read by the capture
/// queue only, never at the same time; the script's switches are atomics.
public final class ScriptedSource: CaptureSource, @unchecked Sendable {
    public let inner: BuiltInSource
    private let label: String?
    private let access: AccessKind
    /// Only this rate is granted, whatever is asked (a card with one clock).
    public let fixedRate: Int?
    /// Each open takes this long (a USB device, a sound server).
    public let openDelayMs: Int
    /// The next this many opens fail with EBUSY (another program holds the device).
    public let busyOpens = Atomic<Int>(0)
    /// Every Nth read is an overrun.
    public let overrunEvery: Int?
    /// After this many frames every read fails with ENODEV (unplugged).
    public let loseAfterFrames: Int?
    /// `start()` fails (the device opens, then won't run).
    public let failStart = Atomic<Bool>(false)
    /// Opens fail with ENOENT (the device is gone).
    public let failOpens = Atomic<Bool>(false)
    /// Only one open view of a card at a time (hw: and dsnoop: of one card).
    public let card: Card?
    /// Where opens, closes and the release happened (scheduling policy of the thread).
    public let log: ThreadLog?
    private let frameCount = Atomic<Int>(0)
    private var reads = 0

    public init(signal: TestSignal = .defaultSine, paced: Bool = true, name: String? = nil, access: AccessKind = .exclusive,
                fixedRate: Int? = nil, openDelayMs: Int = 0, busyOpens: Int = 0, overrunEvery: Int? = nil,
                loseAfterFrames: Int? = nil, card: Card? = nil, log: ThreadLog? = nil) {
        inner = BuiltInSource(signal: signal, paced: paced, name: name ?? "builtin")
        label = name
        self.access = access
        self.fixedRate = fixedRate
        self.openDelayMs = openDelayMs
        self.busyOpens.store(busyOpens, ordering: .relaxed)
        self.overrunEvery = overrunEvery
        self.loseAfterFrames = loseAfterFrames
        self.card = card
        self.log = log
    }

    deinit { log?.note("release \(name)") }

    /// Frames the source delivered so far.
    public var framesRead: Int { frameCount.load(ordering: .relaxed) }

    public var name: String { label ?? (fixedRate.map { "fixed-\($0):" } ?? "scripted:") + inner.name }
    public var accessKind: AccessKind { access }
    public var displayName: String { name }

    public func open(_ r: CaptureRequest) throws(DeviceError) -> GrantedParameters {
        log?.note("open \(name)")
        if openDelayMs > 0 { usleep(useconds_t(openDelayMs * 1000)) }
        if failOpens.load(ordering: .relaxed) { throw .notFound(device: name, reason: "gone") }
        if busyOpens.load(ordering: .relaxed) > 0 {
            busyOpens.subtract(1, ordering: .relaxed)
            throw .busy(device: name)
        }
        if let card, !card.claim(self) { throw .busy(device: name) }
        log?.note("opened \(name)")
        var req = r
        if let fixedRate { req.format.sampleRate = fixedRate }
        return try inner.open(req)
    }

    public func start() throws(DeviceError) {
        if failStart.load(ordering: .relaxed) { throw .unavailable(device: name, reason: "start failed") }
        try inner.start()
    }

    public func read(into buffer: UnsafeMutableRawPointer, frames n: Int) -> DeviceRead {
        reads += 1
        if let every = overrunEvery, reads % every == 0 { return .overrun }
        if let lose = loseAfterFrames, frameCount.load(ordering: .relaxed) >= lose {
            return .failed(.lost(device: name, reason: "No such device"))
        }
        let r = inner.read(into: buffer, frames: n)
        if case .frames(let k) = r { frameCount.add(k, ordering: .relaxed) }
        return r
    }

    public func waitForData(wakeFD: Int32, timeoutMs: Int32) -> DeviceWait { inner.waitForData(wakeFD: wakeFD, timeoutMs: timeoutMs) }

    public func close() {
        log?.note("close \(name)")
        inner.close()
        card?.release(self)
    }
}

/// One sound card: at most one open view at a time.
public final class Card: Sendable {
    private let holder = Mutex<ObjectIdentifier?>(nil)
    public init() {}
    public func claim(_ view: AnyObject) -> Bool {
        holder.withLock { h in
            if let h, h != ObjectIdentifier(view) { return false }
            h = ObjectIdentifier(view)
            return true
        }
    }
    public func release(_ view: AnyObject) { holder.withLock { h in if h == ObjectIdentifier(view) { h = nil } } }
    public var isHeld: Bool { holder.withLock { $0 != nil } }
}

/// Scheduling policy of the calling thread.
public func currentPolicy() -> Int32 {
    var policy: Int32 = 0
    var param = sched_param()
    pthread_getschedparam(pthread_self(), &policy, &param)
    return policy
}

/// What happened to devices, with the scheduling policy of the thread it happened on.
public final class ThreadLog: Sendable {
    private let entries = Mutex<[(String, Int32)]>([])
    public init() {}
    public func note(_ what: String) { let p = currentPolicy(); entries.withLock { $0.append((what, p)) } }
    public var all: [(String, Int32)] { entries.withLock { $0 } }
    public var atRealtime: [String] { all.filter { $0.1 == SCHED_FIFO }.map(\.0) }
}

/// A bounded wait timed out: says what was waited for.
public struct WaitTimedOut: Error, CustomStringConvertible {
    public var description: String
}

/// Polls `condition` every `pollMs` until it holds; throws `WaitTimedOut` naming `what` after
/// `timeout` seconds, so a broken engine fails the test instead of hanging the suite.
public func waitUntil(_ what: String, timeout: Double = 10, pollMs: Int = 1, _ condition: () -> Bool) throws {
    let deadline = Date().addingTimeInterval(timeout)
    while !condition() {
        if Date() > deadline { throw WaitTimedOut(description: "timed out after \(timeout) s waiting for \(what)") }
        usleep(useconds_t(pollMs * 1000))
    }
}
