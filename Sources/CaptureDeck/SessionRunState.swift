// The session's run state as an explicit state machine (issue 16 item 6): a pure value whose
// transitions the session makes on its queue (under its lock), and which tests drive with no
// device. `Engine` is generic so a test can stand any object in for a running engine.
import CaptureCore
import Dispatch

/// What a capture session is doing, and how it got there.
struct SessionRunState<Engine: AnyObject> {
    /// Why an interrupted session waits.
    enum Waiting: Equatable {
        /// The wanted route is held by another program (retried on the timer).
        case busy
        /// The device went away (lost) at `since` (monotonic nanoseconds), or stopped delivering
        /// (stalled) with its silence beginning at `since`; the route is reopened when it is back.
        case lost(since: UInt64)
        case stalled(since: UInt64)

        var reason: InterruptionReason {
            switch self {
            case .busy: .audioDeviceInUseByAnotherClient
            case .lost: .audioDeviceDisconnected
            case .stalled: .audioDeviceStalled
            }
        }
        var since: UInt64? {
            switch self {
            case .busy: nil
            case .lost(let t), .stalled(let t): t
            }
        }
    }

    /// The phase, as a caller sees it.
    enum Phase: Equatable {
        case idle
        case running(Route)
        /// Running with no input: the only one was removed while running (see
        /// `CaptureSession.removeInput`); nothing is captured until one is added.
        case runningWithoutInput
        /// Waiting for `wanted`; capturing `capturing` meanwhile (a busy switch) or nothing.
        case interrupted(InterruptionReason, wanted: Route, capturing: Route?)
    }

    private(set) var engine: Engine?
    /// The route being captured (set with the engine).
    private(set) var route: Route?
    /// While interrupted: the route waited for, and why.
    private(set) var wanted: Route?
    private(set) var waiting: Waiting?
    /// The caller wants capture (between startRunning and stopRunning).
    private(set) var wantRunning = false
    /// Running, with no input to capture: its only input was removed while it ran.
    private(set) var inputless = false
    /// When it began (monotonic nanoseconds).
    private(set) var inputlessSince: UInt64 = 0
    /// Not running: interrupted with no engine when its input was removed; it starts (afresh,
    /// announced) when one is added.
    private(set) var awaitingInput = false
    /// Frames and xruns of the engines that have ended since the last fresh start (so maxFrames,
    /// framesCaptured and xrunCount span a reconnection).
    private(set) var endedFrames = 0
    private(set) var endedXruns = 0
    /// A failure other than "not there" while waiting for a lost device was reported.
    private(set) var reportedWhileWaiting = false
    /// How the current combination resolved (for display).
    var resolution: RouteResolution?

    var phase: Phase {
        if let wanted, let waiting { return .interrupted(waiting.reason, wanted: wanted, capturing: engine == nil ? nil : route) }
        if engine != nil, let route { return .running(route) }
        if inputless { return .runningWithoutInput }
        return .idle
    }
    var isRunning: Bool { engine != nil || inputless }
    var isInterrupted: Bool { wanted != nil }
    var interruptionReason: InterruptionReason? { wanted == nil ? nil : waiting?.reason }
    /// Waiting for a device that was lost or stalled (not for a busy one).
    var isWaitingForLostDevice: Bool { waiting?.since != nil }
    var isWaitingForStalledDevice: Bool { if case .stalled = waiting { true } else { false } }

    // MARK: Transitions

    /// `startRunning`: capture is wanted. A fresh start (not a reconnection) counts from zero.
    mutating func begin() {
        wantRunning = true
        if engine == nil && wanted == nil && !inputless { endedFrames = 0 }
    }

    /// An engine runs on `route`. Returns what it ends: an interruption (and, for a lost or
    /// stalled device, when that began).
    mutating func started(_ e: Engine, on r: Route) -> (endedInterruption: Bool, waitedSince: UInt64?, stalled: Bool) {
        let out = (wanted != nil, waiting?.since, isWaitingForStalledDevice)
        engine = e
        route = r
        wanted = nil
        waiting = nil
        inputless = false
        awaitingInput = false
        return out
    }

    /// The wanted route is busy. Returns true the first time for this route (say it once).
    mutating func busy(wanting r: Route) -> Bool {
        let first = wanted != r
        wanted = r
        if waiting == nil || first { waiting = .busy }
        return first
    }

    /// Back on the route being captured: an interruption for another one is over. True if there was one.
    mutating func settledOnCurrentRoute() -> Bool {
        guard engine != nil, wanted != nil else { return false }
        wanted = nil
        waiting = nil
        return true
    }

    /// The running engine moved to `r` (a switch, or the same PCM under another kind of route).
    /// True if that ended an interruption.
    mutating func switched(to r: Route) -> Bool {
        let was = wanted != nil
        route = r
        wanted = nil
        waiting = nil
        return was
    }

    /// While waiting for a lost device: true the first time only. Otherwise: true.
    mutating func reportOnceWhileWaiting() -> Bool {
        guard isWaitingForLostDevice else { return true }
        defer { reportedWhileWaiting = true }
        return !reportedWhileWaiting
    }

    /// `engine` ended by itself (`lost`: the device was lost or stalled; `stalledFor`: seconds of
    /// silence before it was noticed). Returns nil when it was not this state's engine (a late
    /// notice of a stopped one); else the route to wait for, when the session reconnects.
    mutating func ended(_ e: Engine, frames: Int, xruns: Int, lost: Bool, stalledFor: Double?,
                        reconnects: Bool, now: UInt64) -> (waitFor: Route?, Void)? {
        guard engine === e else { return nil }
        endedXruns += xruns
        endedFrames += frames
        let r = route
        engine = nil
        route = nil
        // Reconnecting: interrupted before anyone hears "stopped", so no one takes the stop for the end.
        if lost && reconnects && wantRunning, let r {
            if let s = stalledFor {
                waiting = .stalled(since: now - UInt64(Swift.max(0, s) * 1e9))
            } else {
                waiting = .lost(since: now)
            }
            reportedWhileWaiting = false
            wanted = r
            return (r, ())
        }
        return (nil, ())
    }

    /// The running engine `e` was stopped by the session to start another (an input in another
    /// format): its counts carry on into the next engine's, as across a reconnection. Returns the
    /// route it captured, or nil when `e` is not this state's engine.
    mutating func replacing(_ e: Engine, frames: Int, xruns: Int) -> Route? {
        guard engine === e else { return nil }
        endedFrames += frames
        endedXruns += xruns
        let r = route
        engine = nil
        route = nil
        return r
    }

    /// The session's only input was removed. A running engine `e` (stopped by the session, with
    /// its counts) ends, and the session goes on running without input; an interruption ends
    /// (there is nothing left to wait for). Returns whether it was interrupted.
    mutating func inputRemoved(_ e: Engine?, frames: Int, xruns: Int, now: UInt64) -> (wasInterrupted: Bool, Void) {
        let was = wanted != nil
        if let e, engine === e {
            endedFrames += frames
            endedXruns += xruns
            engine = nil
            route = nil
            inputless = wantRunning
            inputlessSince = now
        } else if engine == nil && was && wantRunning {
            awaitingInput = true
        }
        wanted = nil
        waiting = nil
        return (was, ())
    }

    /// An input added to a session running without one could not start: it is no longer
    /// running (unless a busy route made it wait). True if it had been running without input.
    mutating func inputlessStartFailed() -> Bool {
        defer { inputless = false }
        return inputless
    }

    /// `stopRunning`. Returns the engine to stop and what the caller was told so far.
    mutating func stop() -> (engine: Engine?, wasRunning: Bool, wasInterrupted: Bool) {
        let out = (engine, engine != nil || inputless, wanted != nil)
        inputless = false
        awaitingInput = false
        wantRunning = false
        engine = nil
        route = nil
        wanted = nil
        waiting = nil
        return out
    }

    /// xruns an engine met after it was counted (its final drain).
    mutating func addEndedXruns(_ n: Int) { endedXruns += n }
}

/// The session's retry timer, injectable so the retry rules are tested in milliseconds.
protocol RetryClock: Sendable {
    /// Calls `body` on `queue` every `interval` until the returned timer is cancelled.
    func every(_ interval: DispatchTimeInterval, on queue: DispatchQueue, _ body: @escaping @Sendable () -> Void) -> any RetryTimer
}

protocol RetryTimer: AnyObject, Sendable {
    func cancel()
}

/// Dispatch's timer: the real clock.
struct DispatchRetryClock: RetryClock {
    func every(_ interval: DispatchTimeInterval, on queue: DispatchQueue, _ body: @escaping @Sendable () -> Void) -> any RetryTimer {
        DispatchRetryTimer(interval, queue, body)
    }
}

/// `@unchecked Sendable`: the source is fixed at init, and DispatchSource is safe to cancel from
/// any thread.
final class DispatchRetryTimer: RetryTimer, @unchecked Sendable {
    private let source: DispatchSourceTimer
    init(_ interval: DispatchTimeInterval, _ queue: DispatchQueue, _ body: @escaping @Sendable () -> Void) {
        source = DispatchSource.makeTimerSource(queue: queue)
        source.schedule(deadline: .now() + interval, repeating: interval)
        source.setEventHandler(handler: body)
        source.resume()
    }
    func cancel() { source.cancel() }
}

/// When a switch may close the working device before opening the wanted one (which costs a gap):
/// only between two views of the same hardware (a busy new view may be our own hold), never while
/// another program holds the wanted view, and, when that can't be told, only when the user asked
/// (a first attempt), not on the retry timer's attempts. So while another program holds the card,
/// the working route goes on without a glitch (issue 10 item 4).
enum CloseFirstRule {
    static func allows(sharesHardware: Bool, heldByAnother: Bool?, userAsked: Bool) -> Bool {
        guard sharesHardware else { return false }
        return heldByAnother == false || (heldByAnother == nil && userAsked)
    }
}
