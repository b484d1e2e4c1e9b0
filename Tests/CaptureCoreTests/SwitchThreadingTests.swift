// Who opens, closes and frees devices during a switch, and what a failed close-first switch
// leaves behind (issue 10, items 3, 7 and 8). Two views of one card (like hw:0 and dsnoop:0) are
// modelled by `Card`: while one view holds it, opening the other is EBUSY.
import CaptureCore
import Foundation
import Glibc
import Synchronization
import Testing

/// One sound card: at most one open view at a time.
final class Card: @unchecked Sendable {
    private let holder = Mutex<ObjectIdentifier?>(nil)
    func claim(_ view: AnyObject) -> Bool {
        holder.withLock { h in
            if let h, h != ObjectIdentifier(view) { return false }
            h = ObjectIdentifier(view)
            return true
        }
    }
    func release(_ view: AnyObject) { holder.withLock { h in if h == ObjectIdentifier(view) { h = nil } } }
    var isHeld: Bool { holder.withLock { $0 != nil } }
}

/// Scheduling policy of the calling thread.
func currentPolicy() -> Int32 {
    var policy: Int32 = 0
    var param = sched_param()
    pthread_getschedparam(pthread_self(), &policy, &param)
    return policy
}

/// Where each open, close and release of a device happened (scheduling policy of the thread).
final class ThreadLog: @unchecked Sendable {
    private let entries = Mutex<[(String, Int32)]>([])
    func note(_ what: String) { let p = currentPolicy(); entries.withLock { $0.append((what, p)) } }
    var all: [(String, Int32)] { entries.withLock { $0 } }
    var atRealtime: [String] { all.filter { $0.1 == SCHED_FIFO }.map(\.0) }
}

/// A view of a `Card` over the built-in source; can be told to fail its start or its opens.
final class CardView: CaptureDevice, @unchecked Sendable {
    let inner: SignalSourceDevice
    let card: Card
    let log: ThreadLog
    let label: String
    let failStart = Atomic<Bool>(false)
    let failOpens = Atomic<Bool>(false)
    init(_ label: String, card: Card, log: ThreadLog, signal: TestSignal) {
        self.label = label
        self.card = card
        self.log = log
        inner = SignalSourceDevice(signal: signal, paced: true, name: label)
    }
    deinit { log.note("release \(label)") }
    var name: String { label }
    var accessKind: AccessKind { .exclusive }
    var displayName: String { label }
    func open(_ r: CaptureRequest) throws(DeviceError) -> GrantedParameters {
        log.note("open \(label)")
        if failOpens.load(ordering: .relaxed) { throw .notFound(device: label, reason: "gone") }
        guard card.claim(self) else { throw .busy(device: label) }
        log.note("opened \(label)")
        return try inner.open(r)
    }
    func start() throws(DeviceError) {
        if failStart.load(ordering: .relaxed) { throw .unavailable(device: label, reason: "start failed") }
        try inner.start()
    }
    func read(into b: UnsafeMutableRawPointer, frames: Int) -> DeviceRead { inner.read(into: b, frames: frames) }
    func waitForData(wakeFD: Int32, timeoutMs: Int32) -> DeviceWait { inner.waitForData(wakeFD: wakeFD, timeoutMs: timeoutMs) }
    func close() {
        log.note("close \(label)")
        inner.close()
        card.release(self)
    }
}

@Suite struct SwitchThreadingTests {
    let format = StreamFormat(sampleFormat: .s16LE, sampleRate: 48000, channels: 2)

    func waitFor(_ what: String, timeout: Double = 5, _ cond: () -> Bool) throws {
        let deadline = Date().addingTimeInterval(timeout)
        while !cond() {
            if Date() > deadline { Issue.record("timed out waiting for \(what)"); throw CancellationError() }
            usleep(2000)
        }
    }

    /// Item 3: the new view opens (after the old one closed), then fails to start. It must be
    /// closed, the old view reopened, capture must go on, and the gap must be reported.
    @Test func failedCloseFirstSwitchClosesTheNewDeviceAndGoesBackToTheOld() throws {
        let card = Card(), log = ThreadLog()
        let shared = CardView("dsnoop:9", card: card, log: log, signal: .sine(frequency: 440, level: -12))
        let sink = MemorySink(format: format)
        let engine = try CaptureEngine(device: shared, configuration: .init(request: CaptureRequest(format: format), realtimePriority: nil), sink: sink)
        try engine.start()
        try waitFor("capture") { engine.framesCaptured >= 4800 }
        let exclusive = CardView("hw:9", card: card, log: log, signal: .sine(frequency: 1000, level: -12))
        exclusive.failStart.store(true, ordering: .relaxed)
        #expect(throws: DeviceError.self) { try engine.switchDevice(to: exclusive) }
        #expect(engine.isCapturing, "capture must go on from the old device")
        #expect(engine.device.name == "dsnoop:9")
        let gap = try #require(engine.lastFailedSwitchGap, "the failed close-first switch cost a gap: it must be reported")
        #expect(gap.device == "dsnoop:9")
        let at = engine.framesCaptured
        try waitFor("capture after the failed switch") { engine.framesCaptured >= at + 4800 }
        engine.stop()
        let s = engine.waitUntilFinished()
        #expect(s.endReason == .stopped)
        // Every open of the failed view was closed again.
        let opens = log.all.filter { $0.0 == "opened hw:9" }.count
        let closes = log.all.filter { $0.0 == "close hw:9" }.count
        #expect(opens >= 1 && closes >= opens, "hw:9 opened \(opens)×, closed \(closes)×: \(log.all.map(\.0))")
        #expect(!card.isHeld, "the card is still held after the run: \(log.all.map(\.0))")
    }

    /// Item 3: when even the old view can't be reopened, capture ends with that error (so the
    /// session reconnects), not as a plain stop.
    @Test func closeFirstSwitchThatCannotGoBackEndsWithTheError() throws {
        let card = Card(), log = ThreadLog()
        let shared = CardView("dsnoop:9", card: card, log: log, signal: .sine(frequency: 440, level: -12))
        let engine = try CaptureEngine(device: shared, configuration: .init(request: CaptureRequest(format: format), realtimePriority: nil))
        try engine.start()
        try waitFor("capture") { engine.framesCaptured >= 4800 }
        let exclusive = CardView("hw:9", card: card, log: log, signal: .sine(frequency: 1000, level: -12))
        exclusive.failStart.store(true, ordering: .relaxed)
        shared.failOpens.store(true, ordering: .relaxed)
        _ = try? engine.switchDevice(to: exclusive)
        let s = engine.waitUntilFinished()
        guard case .deviceLost = s.endReason else {
            Issue.record("capture ended as '\(s.endReason)', not with the device error")
            return
        }
        #expect(!card.isHeld)
    }

    /// Items 7 and 8: with the capture thread at SCHED_FIFO, no device of a switch is opened,
    /// closed or freed at real-time priority (helper threads a device starts at open inherit
    /// the opener's policy).
    @Test func switchesOpenCloseAndReleaseDevicesOffTheRealtimeThread() throws {
        let card = Card(), log = ThreadLog()
        var shared: CardView? = CardView("dsnoop:9", card: card, log: log, signal: .sine(frequency: 440, level: -12))
        let engine = try CaptureEngine(device: shared!, configuration: .init(request: CaptureRequest(format: format), realtimePriority: 70))
        shared = nil
        try engine.start()
        guard case .realtime = engine.realtimeStatus else {
            // Without CAP_SYS_NICE there is no SCHED_FIFO to inherit; nothing to prove here.
            engine.stop(); _ = engine.waitUntilFinished()
            return
        }
        try waitFor("capture") { engine.framesCaptured >= 4800 }
        // Close first (same card), then back (same card again), then a failed close-first.
        var exclusive: CardView? = CardView("hw:9", card: card, log: log, signal: .sine(frequency: 1000, level: -12))
        _ = try engine.switchDevice(to: exclusive!)
        exclusive = nil
        var back: CardView? = CardView("dsnoop:9b", card: card, log: log, signal: .sine(frequency: 440, level: -12))
        _ = try engine.switchDevice(to: back!)
        back = nil
        #expect(log.atRealtime.isEmpty, "at SCHED_FIFO after two switches: \(log.atRealtime)")
        let failing = CardView("hw:9b", card: card, log: log, signal: .sine(frequency: 1000, level: -12))
        failing.failStart.store(true, ordering: .relaxed)
        _ = try? engine.switchDevice(to: failing)
        try waitFor("capture after the switches") { engine.isCapturing && engine.framesCaptured >= 24_000 }
        engine.stop()
        _ = engine.waitUntilFinished()
        #expect(log.all.contains { $0.0 == "release hw:9" }, "\(log.all.map(\.0))")
        #expect(log.atRealtime.isEmpty, "at SCHED_FIFO: \(log.atRealtime)")
    }
}
