// The session's run state machine and its retry rules, with no device and no waiting (issue 16
// item 6): the transitions as values, and a session whose retry clock the test ticks by hand.
@testable import CaptureDeck
import CaptureCore
import CaptureTestSupport
import Dispatch
import Foundation
import Synchronization
import Testing

/// A stand-in for a running engine: the state machine only keeps and compares it.
final class FakeEngine {}

@Suite struct SessionRunStateTests {
    let a = Route(pcm: "dsnoop:1", kind: .shared)
    let b = Route(pcm: "hw:1", kind: .exclusive)

    @Test func startRunBusySwitchStop() {
        var s = SessionRunState<FakeEngine>()
        #expect(s.phase == .idle)
        s.begin()
        let e = FakeEngine()
        let started = s.started(e, on: a)
        #expect(!started.endedInterruption && started.waitedSince == nil)
        #expect(s.phase == .running(a) && s.isRunning && !s.isInterrupted)
        // The wanted route is busy: interrupted while still capturing `a`; said once.
        let first = s.busy(wanting: b), again = s.busy(wanting: b)
        #expect(first)
        #expect(!again, "a retry of the same route is no news")
        #expect(s.phase == .interrupted(.audioDeviceInUseByAnotherClient, wanted: b, capturing: a))
        // It frees up: the switch ends the interruption.
        let ended = s.switched(to: b)
        #expect(ended)
        #expect(s.phase == .running(b))
        let stop = s.stop()
        #expect(stop.engine === e && stop.wasRunning && !stop.wasInterrupted)
        #expect(s.phase == .idle && !s.wantRunning)
    }

    @Test func backOnTheCurrentRouteEndsAnInterruption() {
        var s = SessionRunState<FakeEngine>()
        s.begin()
        _ = s.started(FakeEngine(), on: a)
        _ = s.busy(wanting: b)
        let settled = s.settledOnCurrentRoute(), twice = s.settledOnCurrentRoute()
        #expect(settled)
        #expect(!twice, "only once")
        #expect(s.phase == .running(a))
    }

    @Test func lostDeviceWaitsThenReconnectsAndCountsAcrossIt() {
        var s = SessionRunState<FakeEngine>()
        s.begin()
        let e1 = FakeEngine()
        _ = s.started(e1, on: a)
        let ended = s.ended(e1, frames: 1000, xruns: 2, lost: true, stalledFor: nil, reconnects: true, now: 5_000)
        #expect(ended?.waitFor == a)
        #expect(s.phase == .interrupted(.audioDeviceDisconnected, wanted: a, capturing: nil))
        #expect(s.isWaitingForLostDevice && !s.isWaitingForStalledDevice)
        let said = s.reportOnceWhileWaiting(), saidAgain = s.reportOnceWhileWaiting()
        #expect(said && !saidAgain, "a failure while waiting is said once")
        // startRunning again while waiting is not a fresh start: the frames still count.
        s.begin()
        #expect(s.endedFrames == 1000 && s.endedXruns == 2)
        let back = s.started(FakeEngine(), on: a)
        #expect(back.endedInterruption && back.waitedSince == 5_000 && !back.stalled)
        #expect(s.phase == .running(a))
    }

    @Test func aStallIsItsOwnReasonAndDatesFromTheSilence() {
        var s = SessionRunState<FakeEngine>()
        s.begin()
        let e = FakeEngine()
        _ = s.started(e, on: a)
        _ = s.ended(e, frames: 10, xruns: 0, lost: true, stalledFor: 1.5, reconnects: true, now: 10_000_000_000)
        #expect(s.interruptionReason == .audioDeviceStalled)
        let back = s.started(FakeEngine(), on: a)
        #expect(back.stalled && back.waitedSince == 8_500_000_000)
    }

    @Test func aLateEndOfAStoppedEngineChangesNothing() {
        var s = SessionRunState<FakeEngine>()
        s.begin()
        let old = FakeEngine()
        _ = s.started(old, on: a)
        _ = s.stop()
        s.begin()
        _ = s.started(FakeEngine(), on: b)
        let late = s.ended(old, frames: 1, xruns: 1, lost: true, stalledFor: nil, reconnects: true, now: 1)
        #expect(late == nil)
        #expect(s.phase == .running(b) && s.endedXruns == 0)
    }

    @Test func withoutReconnectingALostDeviceJustEnds() {
        var s = SessionRunState<FakeEngine>()
        s.begin()
        let e = FakeEngine()
        _ = s.started(e, on: a)
        let end = s.ended(e, frames: 1, xruns: 0, lost: true, stalledFor: nil, reconnects: false, now: 1)
        #expect(end != nil && end?.waitFor == nil)
        #expect(s.phase == .idle)
    }

    /// The only input removed while running: still running, with nothing captured, its counts
    /// kept; an input added later starts from there, not from zero; a stop says it was running.
    @Test func anInputRemovedWhileRunningLeavesItRunningWithoutInput() {
        var s = SessionRunState<FakeEngine>()
        s.begin()
        let e = FakeEngine()
        _ = s.started(e, on: a)
        let removed = s.inputRemoved(e, frames: 4800, xruns: 1, now: 7)
        #expect(!removed.wasInterrupted)
        #expect(s.phase == .runningWithoutInput && s.isRunning && s.engine == nil && s.inputlessSince == 7)
        s.begin()  // startRunning again: already running, not a fresh start
        #expect(s.endedFrames == 4800 && s.endedXruns == 1)
        _ = s.started(FakeEngine(), on: b)
        #expect(s.phase == .running(b) && !s.inputless)
        let stop = s.stop()
        #expect(stop.wasRunning && s.phase == .idle)
        // Removed while waiting for a lost device: the wait ends, and it isn't running.
        var w = SessionRunState<FakeEngine>()
        w.begin()
        let lost = FakeEngine()
        _ = w.started(lost, on: a)
        _ = w.ended(lost, frames: 10, xruns: 0, lost: true, stalledFor: nil, reconnects: true, now: 1)
        let ended = w.inputRemoved(nil, frames: 0, xruns: 0, now: 2)
        #expect(ended.wasInterrupted && w.phase == .idle && !w.isRunning)
        // An input added to a session running without one that fails to start: no longer running.
        var f = SessionRunState<FakeEngine>()
        f.begin()
        let g = FakeEngine()
        _ = f.started(g, on: a)
        _ = f.inputRemoved(g, frames: 0, xruns: 0, now: 0)
        let wasInputless = f.inputlessStartFailed()
        #expect(wasInputless && !f.isRunning)
    }

    /// An engine replaced by another (an input in another format): its counts carry on, and
    /// its late end notice changes nothing.
    @Test func aReplacedEngineCountsOnAndItsEndIsIgnored() {
        var s = SessionRunState<FakeEngine>()
        s.begin()
        let old = FakeEngine()
        _ = s.started(old, on: a)
        #expect(s.replacing(FakeEngine(), frames: 1, xruns: 0) == nil, "only the running engine")
        #expect(s.replacing(old, frames: 9600, xruns: 2) == a)
        #expect(s.wantRunning && s.engine == nil && s.endedFrames == 9600)
        _ = s.started(FakeEngine(), on: b)
        #expect(s.ended(old, frames: 9600, xruns: 2, lost: false, stalledFor: nil, reconnects: true, now: 1) == nil)
        #expect(s.endedFrames == 9600 && s.endedXruns == 2 && s.phase == .running(b))
    }

    @Test(arguments: [
        (false, Bool?.none, true, false),   // unrelated routes never close first
        (true, Bool?.some(true), true, false),   // another program holds it: never
        (true, Bool?.some(false), false, true),  // nobody else holds it: the hold is ours, on a retry too
        (true, Bool?.none, true, true),     // can't tell: when the user asks
        (true, Bool?.none, false, false),   // can't tell: not on the retry timer
    ])
    func closeFirstRule(_ c: (Bool, Bool?, Bool, Bool)) {
        #expect(CloseFirstRule.allows(sharesHardware: c.0, heldByAnother: c.1, userAsked: c.2) == c.3)
    }
}

/// A retry clock the test ticks: `tick()` runs every live timer's body once on its queue and
/// waits for it.
final class ManualRetryClock: RetryClock, @unchecked Sendable {
    final class Timer: RetryTimer, @unchecked Sendable {
        let queue: DispatchQueue
        let body: @Sendable () -> Void
        let cancelled = Atomic<Bool>(false)
        init(_ queue: DispatchQueue, _ body: @escaping @Sendable () -> Void) { self.queue = queue; self.body = body }
        func cancel() { cancelled.store(true, ordering: .relaxed) }
    }
    private let timers = Mutex<[Timer]>([])
    func every(_ interval: DispatchTimeInterval, on queue: DispatchQueue, _ body: @escaping @Sendable () -> Void) -> any RetryTimer {
        let t = Timer(queue, body)
        timers.withLock { $0.append(t) }
        return t
    }
    var live: Int { timers.withLock { $0.filter { !$0.cancelled.load(ordering: .relaxed) }.count } }
    func tick() {
        for t in timers.withLock({ $0 }) where !t.cancelled.load(ordering: .relaxed) {
            t.queue.sync { t.body() }
        }
    }
}

final class EventRecorder: @unchecked Sendable {
    private let list = Mutex<[CaptureSessionEvent]>([])
    func add(_ e: CaptureSessionEvent) { list.withLock { $0.append(e) } }
    var all: [CaptureSessionEvent] { list.withLock { $0 } }
}

@Suite struct SessionRetryTests {
    /// A route held by another program for three retries, then free: interrupted once, one
    /// attempt per tick and nothing said per retry, then running, in milliseconds.
    @Test func aBusyRouteIsRetriedOnTheClockAndResumesOnce() throws {
        let clock = ManualRetryClock()
        let session = CaptureSession(applicationAudioSession: ApplicationAudioSession(), retryClock: clock)
        let held = Atomic<Int>(3)
        let opens = Atomic<Int>(0)
        let format = StreamFormat(sampleFormat: .s16LE, sampleRate: 48000, channels: 2)
        session.addInput(CaptureDeviceInput(name: "card", routes: InputRoutes(exclusive: "hw:9", shared: "hw:9"), format: format) { route in
            opens.add(1, ordering: .relaxed)
            let busy = held.load(ordering: .relaxed) > 0
            return ScriptedSource(name: route.pcm, busyOpens: busy ? 1 : 0)
        })
        let events = EventRecorder()
        session.onEvent { events.add($0) }
        session.startRunning()
        #expect(session.isInterrupted && session.interruptionReason == .audioDeviceInUseByAnotherClient)
        #expect(clock.live == 1)
        for _ in 0..<3 {
            held.subtract(1, ordering: .relaxed)
            if held.load(ordering: .relaxed) > 0 { clock.tick() }
        }
        #expect(opens.load(ordering: .relaxed) == 3, "one open at start and one per tick")
        #expect(session.isInterrupted)
        clock.tick()  // now free
        session.stopRunning()  // also waits for the events so far
        let e = events.all
        #expect(e.filter { if case .wasInterrupted = $0 { true } else { false } }.count == 1, "\(e)")
        #expect(e.contains(.interruptionEnded), "\(e)")
        #expect(e.contains { if case .didStartRunning = $0 { true } else { false } }, "\(e)")
        #expect(clock.live == 0, "the retry timer is cancelled once running")
    }
}
