// Apple's rule for a capture session whose mix setting is off: it "interrupts the audio of other
// apps"; with mix on, "background audio from other apps" continues. On a Linux desktop that is
// other programs' playback: this keeps an `OtherAudioInterrupter` (MPRIS players on the session
// bus) in step with a session, level-triggered, on every session event and once a second.
import CaptureCore
import CaptureDBus
import Dispatch
import Synchronization

/// Interrupts other programs' audio while `session` runs with the app session and an effective
/// mix of off; restores exactly what it changed when that stops being so (capture stops, mix
/// turns on, uses-app-session turns off) and at `stop()`. Create one per session whose owner wants
/// Apple's behaviour (capdeck's `record` and console do); nothing here touches the capture path.
public final class OtherAudioCoordinator: Sendable {
    private let session: CaptureSession
    private let interrupter: OtherAudioInterrupter
    private let token = Mutex<Int?>(nil)
    private let timer: DispatchSourceTimerBox

    /// - Parameter onChange: what was interrupted or restored, or a failure (on the interrupter's
    ///   queue; say it, don't wait in it).
    public init(session: CaptureSession, journalDirectory: String? = nil, busAddress: String? = nil,
                onChange: (@Sendable (OtherAudioState) -> Void)? = nil) {
        self.session = session
        interrupter = OtherAudioInterrupter(journalDirectory: journalDirectory, busAddress: busAddress, onChange: onChange)
        timer = DispatchSourceTimerBox(label: "capdeck.other-audio-timer")
        let interrupter = self.interrupter
        token.withLock { $0 = session.onEvent { [session] _ in interrupter.reconcile(interrupt: Self.wantsInterruption(session)) } }
        timer.start(every: .seconds(1)) { [session] in interrupter.reconcile(interrupt: Self.wantsInterruption(session)) }
        interrupter.reconcile(interrupt: Self.wantsInterruption(session))
    }

    /// What is interrupted now (for the console's line and `status`).
    public var state: OtherAudioState { interrupter.state }

    /// Whether there is a session bus to find players on. Without one (ssh, cron, a headless box)
    /// there are no desktop players to interrupt, and nothing is followed or said.
    public static var sessionBusAvailable: Bool { SessionBus.defaultAddress() != nil }

    /// A coordinator for `session` when a session bus is there, else nil.
    public static func ifSessionBus(session: CaptureSession, onChange: (@Sendable (OtherAudioState) -> Void)? = nil) -> OtherAudioCoordinator? {
        sessionBusAvailable ? OtherAudioCoordinator(session: session, onChange: onChange) : nil
    }

    /// The rule: running, using the app session, effective mix off.
    public static func wantsInterruption(_ session: CaptureSession) -> Bool {
        guard session.isRunning, session.usesApplicationAudioSession, let r = session.resolution else { return false }
        return !r.effectiveMix
    }

    /// Stops following the session and restores what was interrupted (waits up to `timeout`).
    @discardableResult
    public func stop(timeout: Double = 3) -> Bool {
        timer.cancel()
        if let t = token.withLock({ t -> Int? in defer { t = nil }; return t }) { session.removeHandler(t) }
        return interrupter.restoreAndWait(timeout: timeout)
    }

    /// A journal left by a capdeck that died while interrupting: restored, and one line saying
    /// so (nil when there was none). Call at the start of every command and in `recover`.
    public static func restoreOrphanedJournal() -> String? { OtherAudioInterrupter.restoreOrphanedJournal() }
}

/// A repeating timer that can be cancelled from any thread.
/// `@unchecked Sendable`: `source` is only touched under `lock`; DispatchSource itself is
/// thread-safe to cancel.
final class DispatchSourceTimerBox: @unchecked Sendable {
    private let queue: DispatchQueue
    private let lock = Mutex(())
    private var source: DispatchSourceTimer?
    init(label: String) { queue = DispatchQueue(label: label) }
    func start(every interval: DispatchTimeInterval, _ body: @escaping @Sendable () -> Void) {
        let t = DispatchSource.makeTimerSource(queue: queue)
        t.schedule(deadline: .now() + interval, repeating: interval)
        t.setEventHandler(handler: body)
        lock.withLock { _ in source = t }
        t.resume()
    }
    func cancel() {
        lock.withLock { _ in
            source?.cancel()
            source = nil
        }
    }
}
