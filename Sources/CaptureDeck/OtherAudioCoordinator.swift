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
    /// MPRIS players (when a session bus is there), and the sound server's playback streams (when
    /// asked for: `muteStreams`).
    private let interrupters: [OtherAudioInterrupter]
    private let token = Mutex<Int?>(nil)
    private let timer: any RetryTimer

    /// - Parameters:
    ///   - session: the session whose mix-with-others setting decides when others are interrupted.
    ///   - players: follow MPRIS players on the session bus.
    ///   - muteStreams: also mute other programs' playback streams on the sound server while
    ///     interrupting, and unmute exactly those after (off by default in capdeck: servers
    ///     remember mutes per application).
    ///   - journalDirectory: where the crash journal goes (default `$XDG_STATE_HOME/capdeck`).
    ///   - busAddress: the session bus (default `DBUS_SESSION_BUS_ADDRESS`, else the runtime directory's).
    ///   - onChange: what was interrupted or restored, or a failure (on an interrupter's queue; say
    ///     it, don't wait in it).
    public init(session: CaptureSession, players: Bool = true, muteStreams: Bool = false, journalDirectory: String? = nil,
                busAddress: String? = nil, onChange: (@Sendable (OtherAudioState) -> Void)? = nil) {
        self.session = session
        var list: [OtherAudioInterrupter] = []
        if players {
            list.append(OtherAudioInterrupter(journalDirectory: journalDirectory, busAddress: busAddress, onChange: onChange))
        }
        if muteStreams {
            list.append(OtherAudioInterrupter(journalDirectory: (journalDirectory ?? OtherAudioInterrupter.defaultJournalDirectory) + "/muted-streams",
                                              onChange: onChange) { () throws(BusError) -> any MediaPlayerBus in try SoundServerStreams() })
        }
        interrupters = list
        let all = list
        let follow: @Sendable () -> Void = { [session] in
            let want = Self.wantsInterruption(session)
            for i in all { i.reconcile(interrupt: want) }
        }
        token.withLock { $0 = session.onEvent { _ in follow() } }
        // The repeating timer the session's retries use, on a queue of its own (reconcile only queues work).
        timer = DispatchRetryClock().every(.seconds(1), on: DispatchQueue(label: "capdeck.other-audio-timer"), follow)
        follow()
    }

    /// What is interrupted now (for the console's line and `status`): players paused and streams muted.
    public var state: OtherAudioState {
        var s = OtherAudioState()
        for i in interrupters {
            let x = i.state
            s.isInterrupting = s.isInterrupting || x.isInterrupting
            s.paused += x.paused
            if x.lastEvent != nil { s.lastEvent = x.lastEvent }
        }
        return s
    }

    /// Whether there is a session bus to find players on. Without one (ssh, cron, a headless box)
    /// there are no desktop players to interrupt.
    public static var sessionBusAvailable: Bool { SessionBus.defaultAddress() != nil }

    /// A coordinator for `session` following what there is to follow (players when a session bus
    /// is there; streams when asked for and a sound server is configured), else nil.
    public static func ifSessionBus(session: CaptureSession, muteStreams: Bool = false,
                                    onChange: (@Sendable (OtherAudioState) -> Void)? = nil) -> OtherAudioCoordinator? {
        let players = sessionBusAvailable
        let streams = muteStreams && SoundServerProbe.expected() != nil
        guard players || streams else { return nil }
        return OtherAudioCoordinator(session: session, players: players, muteStreams: streams, onChange: onChange)
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
        var ok = true
        for i in interrupters where !i.restoreAndWait(timeout: timeout) { ok = false }
        return ok
    }

    /// Journals left by a capdeck that died while interrupting: restored (players resumed, streams
    /// unmuted), and one line saying so (nil when there was none). Call at the start of every
    /// command and in `recover`.
    public static func restoreOrphanedJournal() -> String? {
        let players = OtherAudioInterrupter.restoreOrphanedJournal()
        let dir = OtherAudioInterrupter.defaultJournalDirectory + "/muted-streams"
        let streams = OtherAudioInterrupter.restoreOrphanedJournal(directory: dir) { () throws(BusError) -> any MediaPlayerBus in
            try SoundServerStreams()
        }
        let lines = [players, streams.map { "playback streams muted by a capdeck that ended: \($0)" }].compactMap { $0 }
        return lines.isEmpty ? nil : lines.joined(separator: "; ")
    }
}
