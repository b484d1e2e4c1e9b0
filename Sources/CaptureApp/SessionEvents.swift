// How `capdeck record` follows its session: the events it prints, and when the run ends (a stop
// request, a device that didn't come back, a failed file, capture ending by itself).
import CaptureCore
import CaptureDeck
import ConsoleUI
import Dispatch
import Glibc
import Synchronization

/// Follows a session's events for the record command: prints them, and tells `run` when to stop.
public final class SessionEvents: Sendable {
    public enum StartOutcome: Sendable { case running, interrupted, failed(CaptureSessionError) }
    public struct Ending: Sendable { public var error: CaptureSessionError?; public var xruns: Int }

    private let quiet: Bool
    private let lock = Mutex<State>(State())
    private let changed = DispatchSemaphore(value: 0)
    /// The status line to clear before a message (set once it runs; read on the session queue).
    private let status = Mutex<StatusLine?>(nil)
    public var statusLine: StatusLine? {
        get { status.withLock { $0 } }
        set { status.withLock { $0 = newValue } }
    }
    private struct State {
        var lastError: CaptureSessionError?
        /// When the device was lost, while waiting for it to come back.
        var lostSince: Double?
        var stopRequested = false
        var stopped = false
        /// Capturing, as the events tell it (started, not stopped or lost since).
        var capturing = false
        /// didStartRunning was heard (a short take from an unpaced PCM may already be over when
        /// startRunning returns: it started all the same), and what it said.
        var started: (Route, GrantedParameters)?
    }

    /// The route and parameters the first start reported.
    public var start: (Route, GrantedParameters)? { lock.withLock { $0.started } }

    public init(quiet: Bool) { self.quiet = quiet }

    public func handle(_ e: CaptureSessionEvent) {
        switch e {
        case .runtimeError(let err):
            // A device error while capture goes on is a route switch that failed (a sound server
            // that won't release its card, a PCM that won't open): said now, and the take goes
            // on; it is not how the take ends.
            // So is a rule that forbids a new start (a category that can't record, set while
            // automatic configuration is off): it applies at the next start, not to this capture.
            let goesOn = lock.withLock { s -> String? in
                if s.capturing {
                    switch err {
                    case .device(.lost), .device(.stalled): break
                    case .cannotStart(let why):
                        return "\(why): the capture running goes on with its route, the recording goes on; a new start would fail"
                    case .device: return "\(err); still capturing on the current route, the recording goes on"
                    default: break
                    }
                }
                s.lastError = err
                return nil
            }
            if let goesOn { say(goesOn, always: true) }
        case .didStopRunning:
            lock.withLock { $0.stopped = true; $0.capturing = false }
        case .wasInterrupted(let reason, _) where reason == .audioDeviceDisconnected || reason == .audioDeviceStalled:
            lock.withLock { $0.capturing = false }
            handleInterruption(e)
        default:
            handleInterruption(e)
        }
        changed.signal()
    }

    private func handleInterruption(_ e: CaptureSessionEvent) {
        switch e {
        case .wasInterrupted(.audioDeviceDisconnected, let wanted):
            lock.withLock { $0.lostSince = (Double(monotonicNanos()) / 1e9) }
            say("waiting for \(wanted.pcm) to come back; the recording continues in the same file when it does", always: true)
        case .wasInterrupted(.audioDeviceStalled, let wanted):
            lock.withLock { $0.lostSince = (Double(monotonicNanos()) / 1e9) }
            say("interrupted: \(wanted.pcm) stopped delivering audio (audioDeviceStalled); reopening it when it answers, the recording continues in the same file", always: true)
        case .wasInterrupted(let reason, let wanted):
            say("interrupted: \(wanted) is in use by another program (\(reason.rawValue)); retrying", always: true)
        case .interruptionEnded:
            // (Also sent when a stop ends the wait for a lost device: that is no news.)
            if lock.withLock({ $0.lostSince == nil }) { say("interruption ended", always: true) }
        case .routeChanged(let c):
            say("route changed: \(c.old.map { "\($0)" } ?? "none") -> \(c.new), \(c.granted.format), gap \(Readout.ms(c.gapMs))")
        case .appAudioSessionConfigured(let s):
            say("app audio session configured: category \(s.category.rawValue), options \(s.options)")
        case .gap(_, let ms, let reason):
            say("gap \(Readout.ms(ms)) in the recording: \(reason)", always: true)
        case .didStartRunning(let r, let g):
            // Running again after a lost device: the loss is no longer the session's outcome.
            let wasLost = lock.withLock { s -> Bool in
                if s.started == nil { s.started = (r, g) }
                defer { s.stopped = false; s.lostSince = nil; s.capturing = true }
                // Whatever the device said while it was away (lost, stalled, busy while its old
                // handle closed) is over now that it is back.
                if s.lostSince != nil, case .device = s.lastError { s.lastError = nil }
                return s.lostSince != nil
            }
            if wasLost { say("the device is back; recording again", always: true) }
        case .runtimeError, .didStopRunning:
            break  // handled above
        }
    }

    private func say(_ text: String, always: Bool = false) {
        guard always || !quiet else { return }
        Terminal.write((statusLine?.isActive == true ? "\r\u{1B}[2K" : "") + "capdeck: \(text)\n")
    }

    /// The first request finishes the file; a second one (Ctrl-C again while finishing hangs)
    /// exits at once: the file still opens up to its last checkpoint, and `recover` restores the rest.
    public func requestStop() {
        let again = lock.withLock { s -> Bool in
            defer { s.stopRequested = true }
            return s.stopRequested
        }
        if again {
            Terminal.error("stopping without finishing the file; run 'capdeck recover' on it")
            _exit(130)
        }
        changed.signal()
    }

    /// After startRunning: running, interrupted (waiting for the device), or failed.
    public func startOutcome(_ session: CaptureSession) -> StartOutcome {
        // (startRunning returns after the events it caused have been handled.)
        if session.isRunning || start != nil { return .running }
        if session.isInterrupted { return .interrupted }
        let err = lock.withLock { s -> CaptureSessionError? in defer { s.lastError = nil }; return s.lastError }
        return .failed(err ?? .noInput)
    }

    /// Blocks until stop is requested (signal, `stop` command) or capture ends by itself.
    public func waitForEnd(_ session: CaptureSession, output: CaptureAudioFileOutput, reconnectWait: Double) -> Ending {
        while true {
            // Every way the run can end signals `changed` (events, a stop request; a failed file
            // stops the engine, which sends didStopRunning), so this sleeps until something
            // happens: a second at most as a safety net, and until the deadline while a lost
            // device is awaited. (It woke 5 times a second for nothing: 0.2 ms of CPU a second.)
            let wait: Double = lock.withLock { s in
                guard let since = s.lostSince else { return 1 }
                return Swift.min(1, Swift.max(0.01, since + reconnectWait - Double(monotonicNanos()) / 1e9))
            }
            _ = changed.wait(timeout: .now() + .nanoseconds(Int(wait * 1e9)))
            // A lost device that didn't come back in time: end as a lost device.
            if let since = lock.withLock({ $0.lostSince }), (Double(monotonicNanos()) / 1e9) - since >= reconnectWait {
                session.stopRunning()
                return Ending(error: lock.withLock { $0.lastError }, xruns: session.xrunCount)
            }
            // The file failed (disk full…): it is already finished with every frame that fit.
            if let e = output.error {
                session.stopRunning()
                return Ending(error: .recording(e), xruns: session.xrunCount)
            }
            let (stopReq, stopped, err) = lock.withLock { ($0.stopRequested, $0.stopped, $0.lastError) }
            if stopReq {
                session.stopRunning()
                return Ending(error: lock.withLock { $0.lastError }, xruns: session.xrunCount)
            }
            if stopped && !session.isRunning && !session.isInterrupted {
                return Ending(error: err, xruns: session.xrunCount)
            }
        }
    }
}

