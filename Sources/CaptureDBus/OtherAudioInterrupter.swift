// Apple's "mix off interrupts other apps' audio" on a Linux desktop: while asked to interrupt,
// every MPRIS media player on the session bus that is Playing gets Pause; when no longer asked,
// exactly the players CaptureDeck paused, still owned by the same connection and still Paused, get
// Play (never PlayPause, which some players toggle wrongly). Journalled before anything changes,
// so a crash is undone by the next capdeck (`restoreOrphanedJournal`). Everything runs on the
// interrupter's own serial queue (`capdeck.other-audio`); a failure is reported through
// `onChange`, never thrown at the caller, and never reaches the capture path.
import CaptureCore
import Dispatch
import Glibc
import Synchronization

/// Why a player CaptureDeck paused was not resumed.
public enum LeftAloneReason: Sendable, Equatable, CustomStringConvertible {
    /// It was playing again when we came to restore it (the user resumed it).
    case resumedByUser
    /// It is gone, or its name belongs to another connection now (it quit, or was restarted).
    case quit
    /// It was Stopped (the user stopped it, or the playlist ended).
    case stopped
    /// Asking it failed (a timeout: a hung player; the bus's message otherwise).
    case failed(String)

    public var description: String {
        switch self {
        case .resumedByUser: "resumed meanwhile"
        case .quit: "quit"
        case .stopped: "stopped meanwhile"
        case .failed(let why): "could not be resumed: \(why)"
        }
    }
}

/// What changed, for a console's event log or `record`'s stderr (`message` is one line).
public enum OtherAudioEvent: Sendable, Equatable {
    /// These players were playing and are paused now.
    case interrupted([OtherPlayer])
    /// The interruption ended: these got Play; these were left as they were, and why.
    case restored(resumed: [OtherPlayer], leftAlone: [LeftAlone])
    /// Something could not be done (no session bus, a Pause that failed, a journal that can't be
    /// written); the recording is not affected.
    case failed(String)

    public struct LeftAlone: Sendable, Equatable {
        public var player: OtherPlayer
        public var reason: LeftAloneReason
    }

    public var message: String {
        switch self {
        case .interrupted(let players):
            return "paused other audio while mix is off: \(players.map(\.identity).joined(separator: ", "))"
        case .restored(let resumed, let leftAlone):
            return "other audio " + OtherAudioInterrupter.restoreSummary(resumed: resumed, leftAlone: leftAlone)
        case .failed(let why):
            return "other audio: \(why)"
        }
    }
}

/// What the interrupter has done, as of its last pass.
public struct OtherAudioState: Sendable, Equatable {
    /// True while asked to interrupt (the last `reconcile` said so and it has been applied).
    public var isInterrupting = false
    /// The players CaptureDeck paused and will resume, in the order it paused them.
    public var paused: [OtherPlayer] = []
    /// The last thing that happened. In a call of the `onChange` handler: the event it reports,
    /// nil when only the state changed (`isInterrupting`, `paused`).
    public var lastEvent: OtherAudioEvent?

    /// "mpv, Firefox" (empty when none).
    public var summary: String { paused.map(\.identity).joined(separator: ", ") }

    public init(isInterrupting: Bool = false, paused: [OtherPlayer] = [], lastEvent: OtherAudioEvent? = nil) {
        self.isInterrupting = isInterrupting
        self.paused = paused
        self.lastEvent = lastEvent
    }
}

public final class OtherAudioInterrupter: Sendable {
    private let queue = DispatchQueue(label: "capdeck.other-audio")
    private let wanted = Atomic<Bool>(false)
    private let scheduled = Atomic<Bool>(false)
    private let published = Mutex(OtherAudioState())
    private let worker: Worker
    private let onChange: (@Sendable (OtherAudioState) -> Void)?

    /// - Parameters:
    ///   - journalDirectory: where the journal goes (default `$XDG_STATE_HOME/capdeck`).
    ///   - busAddress: the session bus (default `DBUS_SESSION_BUS_ADDRESS`, else `$XDG_RUNTIME_DIR/bus`).
    ///   - timeoutMs: the limit of each bus call (a hung player costs at most this).
    ///   - onChange: called on the interrupter's queue after each pass that changed something or
    ///     failed; it must not wait for the interrupter (`waitUntilIdle`, `restoreAndWait`).
    public convenience init(journalDirectory: String? = nil, busAddress: String? = nil, timeoutMs: Int = 500,
                            onChange: (@Sendable (OtherAudioState) -> Void)? = nil) {
        self.init(journalDirectory: journalDirectory, writer: .current, onChange: onChange) { () throws(BusError) -> any MediaPlayerBus in
            try SessionBus(address: busAddress, timeoutMs: timeoutMs)
        }
    }

    /// Where journals go by default: `$XDG_STATE_HOME/capdeck` (else `~/.local/state/capdeck`).
    public static var defaultJournalDirectory: String { OtherAudioJournal.defaultDirectory() }

    /// Players reached through `connect` (another kind of "player": the sound server's playback
    /// streams, muted and unmuted), with their own journal directory.
    public convenience init(journalDirectory: String, onChange: (@Sendable (OtherAudioState) -> Void)? = nil,
                            connect: @escaping @Sendable () throws(BusError) -> any MediaPlayerBus) {
        self.init(journalDirectory: journalDirectory, writer: .current, onChange: onChange, connect: connect)
    }

    /// The bus and the journal's writer given (tests: a scripted bus; a stand-in writer process).
    init(journalDirectory: String?, writer: ProcessIdentity, onChange: (@Sendable (OtherAudioState) -> Void)?,
         connect: @escaping @Sendable () throws(BusError) -> any MediaPlayerBus) {
        let dir = journalDirectory ?? OtherAudioJournal.defaultDirectory()
        worker = Worker(journalPath: dir + "/" + OtherAudioJournal.fileName(pid: writer.pid), writer: writer, connect: connect)
        self.onChange = onChange
    }

    /// Level-triggered and idempotent: call it whenever the answer may have changed (every session
    /// event, and on a timer about once a second, so players that start playing meanwhile are
    /// paused too). `interrupt` is "the session runs, uses the app session, and its effective mix
    /// is off". Returns at once; the work runs on the interrupter's queue, and calls that arrive
    /// while a pass is pending are folded into it (the latest value wins).
    public func reconcile(interrupt: Bool) {
        wanted.store(interrupt, ordering: .sequentiallyConsistent)
        guard !scheduled.exchange(true, ordering: .sequentiallyConsistent) else { return }
        queue.async { [self] in
            scheduled.store(false, ordering: .sequentiallyConsistent)
            let interrupt = wanted.load(ordering: .sequentiallyConsistent)
            let (state, events, changed) = worker.pass(interrupt: interrupt)
            var s = state
            s.lastEvent = events.last ?? published.withLock { $0.lastEvent }
            published.withLock { $0 = s }
            guard let onChange else { return }
            for e in events {
                s.lastEvent = e
                onChange(s)
            }
            // A change of state alone carries no event: the last one was reported when it
            // happened (both of capdeck's handlers print or list each event they are given, and
            // `record` printed an unreachable bus's line again when the session's wish changed).
            if events.isEmpty && changed {
                s.lastEvent = nil
                onChange(s)
            }
        }
    }

    /// Which players are paused by us now, and the last event.
    public var state: OtherAudioState { published.withLock { $0 } }

    /// Waits until every pass asked for so far has run. Not from `onChange`.
    public func waitUntilIdle() { queue.sync {} }

    /// Restores and waits at most `timeout` seconds (at exit: a process that ends while its
    /// restore is queued leaves the journal to the next start). True when it finished in time.
    @discardableResult
    public func restoreAndWait(timeout: Double = 3) -> Bool {
        reconcile(interrupt: false)
        let done = DispatchSemaphore(value: 0)
        queue.async { done.signal() }
        return done.wait(timeout: .now() + timeout) == .success
    }

    /// At start-up of any capdeck command, and in `capdeck recover`: restores the journals of
    /// capdecks that ended without restoring (killed, crashed), and says what it did in one line
    /// (print it as `capdeck: LINE`), or nil when there was nothing to do. A live capdeck's journal
    /// is left alone. Bounded: each bus call waits at most `timeoutMs`.
    public static func restoreOrphanedJournal(directory: String? = nil, busAddress: String? = nil,
                                              timeoutMs: Int = 500) -> String? {
        restoreOrphanedJournals(directory: directory) { () throws(BusError) -> any MediaPlayerBus in
            try SessionBus(address: busAddress, timeoutMs: timeoutMs)
        }
    }

    /// The same for players reached through `connect`, journalled in `directory`.
    public static func restoreOrphanedJournal(directory: String, connect: () throws(BusError) -> any MediaPlayerBus) -> String? {
        restoreOrphanedJournals(directory: directory, connect: connect)
    }

    static func restoreOrphanedJournals(directory: String?, connect: () throws(BusError) -> any MediaPlayerBus) -> String? {
        let dir = directory ?? OtherAudioJournal.defaultDirectory()
        let me = getpid()
        var resumed: [OtherPlayer] = []
        var leftAlone: [OtherAudioEvent.LeftAlone] = []
        var writers: [Int32] = []
        var problems: [String] = []
        var bus: (any MediaPlayerBus)?
        for name in journalFiles(in: dir) {
            let path = dir + "/" + name
            // A journal being restored by another capdeck: `NAME.restoring-PID`, PID the restorer.
            var base = name
            if let (journal, claimerText) = splitClaimed(name) {
                base = journal
                guard let claimer = Int32(claimerText), claimer != me,
                      !ProcessIdentity(pid: claimer, startTime: nil).isAlive else { continue }
            } else {
                guard let text = OtherAudioJournal.read(path) else { continue }
                if let j = OtherAudioJournal.parse(text), j.writer.isAlive, j.writer.pid != me { continue }
            }
            // Claim it (rename is atomic: of two capdecks starting at once, one restores it).
            let claimed = dir + "/" + base + ".restoring-\(me)"
            if claimed != path && rename(path, claimed) != 0 { continue }
            guard let text = OtherAudioJournal.read(claimed), let journal = OtherAudioJournal.parse(text) else {
                OtherAudioJournal.remove(claimed)
                problems.append("removed a damaged journal \(dir)/\(base)")
                continue
            }
            if bus == nil {
                do throws(BusError) { bus = try connect() } catch {
                    _ = rename(claimed, dir + "/" + base)  // left for the next start
                    problems.append("could not resume what capdeck (pid \(journal.writer.pid)) paused: \(error); the next capdeck will try again")
                    continue
                }
            }
            guard let bus else { continue }
            let result = restore(journal.entries.map(\.player), on: bus)
            resumed += result.resumed
            leftAlone += result.leftAlone
            writers.append(journal.writer.pid)
            OtherAudioJournal.remove(claimed)
        }
        guard !writers.isEmpty || !problems.isEmpty else { return nil }
        var parts: [String] = []
        if !writers.isEmpty {
            let who = writers.count == 1 ? "capdeck (pid \(writers[0]))" : "capdecks (pids \(writers.map(String.init).joined(separator: ", ")))"
            parts.append("other audio paused by a \(who) that ended without restoring it: " + restoreSummary(resumed: resumed, leftAlone: leftAlone))
        }
        return (parts + problems).joined(separator: "; ")
    }

    static func restoreSummary(resumed: [OtherPlayer], leftAlone: [OtherAudioEvent.LeftAlone]) -> String {
        var s = resumed.isEmpty ? "nothing to resume" : "resumed " + resumed.map(\.identity).joined(separator: ", ")
        if !leftAlone.isEmpty {
            s += "; left alone: " + leftAlone.map { "\($0.player.identity) (\($0.reason))" }.joined(separator: ", ")
        }
        return s
    }

    /// Play to each player whose name is still owned by the same connection and which is still
    /// Paused; the others are left alone, with the reason.
    static func restore(_ players: [OtherPlayer], on bus: any MediaPlayerBus) -> (resumed: [OtherPlayer], leftAlone: [OtherAudioEvent.LeftAlone]) {
        var resumed: [OtherPlayer] = []
        var leftAlone: [OtherAudioEvent.LeftAlone] = []
        for p in players {
            do throws(BusError) {
                guard try bus.owner(of: p.busName) == p.owner else {
                    leftAlone.append(.init(player: p, reason: .quit))
                    continue
                }
                switch try bus.playbackStatus(p.owner) {
                case .playing: leftAlone.append(.init(player: p, reason: .resumedByUser))
                case .stopped: leftAlone.append(.init(player: p, reason: .stopped))
                case .paused:
                    try bus.play(p.owner)
                    resumed.append(p)
                }
            } catch {
                leftAlone.append(.init(player: p, reason: error.isNoOwner ? .quit : .failed(error.description)))
            }
        }
        return (resumed, leftAlone)
    }

    /// `NAME.journal.restoring-PID` → (`NAME.journal`, `PID`).
    private static func splitClaimed(_ name: String) -> (String, Substring)? {
        let marker = ".journal.restoring-"
        var i = name.startIndex
        while i < name.endIndex {
            if name[i...].hasPrefix(marker) {
                let pidStart = name.index(i, offsetBy: marker.count)
                return (String(name[..<name.index(i, offsetBy: ".journal".count)]), name[pidStart...])
            }
            i = name.index(after: i)
        }
        return nil
    }

    /// `other-audio-*.journal` and `other-audio-*.journal.restoring-*` in `dir`.
    private static func journalFiles(in dir: String) -> [String] {
        guard let d = opendir(dir) else { return [] }
        defer { closedir(d) }
        var names: [String] = []
        while let e = readdir(d) {
            let name = withUnsafeBytes(of: e.pointee.d_name) { String(decoding: $0.prefix { $0 != 0 }, as: UTF8.self) }
            guard name.hasPrefix("other-audio-"), !name.hasSuffix(".tmp") else { continue }
            if name.hasSuffix(".journal") || splitClaimed(name) != nil { names.append(name) }
        }
        return names.sorted()
    }
}

/// The interrupter's working state. Safe to share because only the interrupter's serial queue
/// touches it (every call is from `queue.async` in `reconcile`, or from `restoreAndWait`'s pass
/// through the same queue).
/// (`@unchecked Sendable` for that reason.)
private final class Worker: @unchecked Sendable {
    let journalPath: String
    let writer: ProcessIdentity
    let connect: @Sendable () throws(BusError) -> any MediaPlayerBus
    var bus: (any MediaPlayerBus)?
    /// Paused by us, in order.
    var paused: [OtherPlayer] = []
    /// Players the user resumed during this interruption (name and owner): never paused again
    /// until the interruption ends.
    var released: Set<String> = []
    var interrupting = false
    /// The last failure reported, so a steady failure (no bus) is reported once, not every second
    /// nor each time the session's wish changes; cleared by a pass that reached the bus.
    var lastFailure: String?

    init(journalPath: String, writer: ProcessIdentity, connect: @escaping @Sendable () throws(BusError) -> any MediaPlayerBus) {
        self.journalPath = journalPath
        self.writer = writer
        self.connect = connect
    }

    private func key(_ name: String, _ owner: String) -> String { name + " " + owner }

    /// One pass: the state after it, what happened (a failure is reported when it differs from
    /// the last one, so a steady one, such as no bus, is reported once), and whether the state changed.
    func pass(interrupt: Bool) -> (state: OtherAudioState, events: [OtherAudioEvent], changed: Bool) {
        let before = (interrupting, paused)
        var events: [OtherAudioEvent] = []
        var failures: [String] = []
        // Whether this pass went to the bus (or tried): only then does a pass without failures
        // say the last one is over.
        var triedBus = false
        if interrupt {
            interrupting = true
            triedBus = true
            if let e = interruptPass(&failures) { events.append(e) }
        } else if interrupting || !paused.isEmpty {
            interrupting = false
            triedBus = !paused.isEmpty
            if let e = restorePass(&failures) { events.append(e) }
        }
        if failures.isEmpty {
            if triedBus { lastFailure = nil }
        } else {
            let f = failures.joined(separator: "; ")
            if f != lastFailure {
                lastFailure = f
                events.append(.failed(f))
            }
        }
        return (OtherAudioState(isInterrupting: interrupting, paused: paused), events,
                before.0 != interrupting || before.1 != paused)
    }

    private func connectedBus() throws(BusError) -> any MediaPlayerBus {
        if let b = bus as? SessionBus, !b.isConnected { bus = nil }
        if let bus { return bus }
        let b = try connect()
        bus = b
        return b
    }

    private func interruptPass(_ failures: inout [String]) -> OtherAudioEvent? {
        let bus: any MediaPlayerBus
        do throws(BusError) { bus = try connectedBus() } catch {
            failures.append("other programs' audio is not paused: \(error)")
            return nil
        }
        // Ours that quit, were restarted, or that the user resumed: no longer ours.
        var dropped = false
        paused = paused.filter { p in
            do throws(BusError) {
                guard try bus.owner(of: p.busName) == p.owner else { dropped = true; return false }
                if try bus.playbackStatus(p.owner) == .playing {
                    released.insert(key(p.busName, p.owner))
                    dropped = true
                    return false
                }
                return true
            } catch {
                if error.isNoOwner { dropped = true; return false }
                return true
            }
        }
        // Whatever plays now, and isn't one the user took back.
        var candidates: [OtherPlayer] = []
        do throws(BusError) {
            for name in try bus.playerNames() {
                do throws(BusError) {
                    guard let owner = try bus.owner(of: name), !released.contains(key(name, owner)),
                          !paused.contains(where: { $0.owner == owner }),
                          !candidates.contains(where: { $0.owner == owner }),
                          try bus.playbackStatus(owner) == .playing else { continue }
                    let identity = (try? bus.identity(owner)) ?? String(name.dropFirst(SessionBus.playerPrefix.count))
                    candidates.append(OtherPlayer(busName: name, owner: owner, identity: identity))
                } catch where error.isNoOwner {
                    continue
                } catch {
                    failures.append("\(name): \(error)")
                }
            }
        } catch {
            failures.append("listing media players: \(error)")
        }
        guard !candidates.isEmpty else {
            if dropped { saveJournal(&failures) }
            return nil
        }
        // The journal first: a crash from here on is undone by the next capdeck.
        let journal = OtherAudioJournal(writer: writer, entries: paused.map { .init(state: .paused, player: $0) }
                                        + candidates.map { .init(state: .pausing, player: $0) })
        if let e = journal.write(to: journalPath) {
            failures.append("other programs' audio is not paused: the journal can't be written: \(e)")
            return nil
        }
        var newlyPaused: [OtherPlayer] = []
        for p in candidates {
            do throws(BusError) {
                try bus.pause(p.owner)
                newlyPaused.append(p)
            } catch {
                failures.append("could not pause \(p.identity): \(error)")
            }
        }
        paused += newlyPaused
        saveJournal(&failures)
        return newlyPaused.isEmpty ? nil : .interrupted(newlyPaused)
    }

    private func restorePass(_ failures: inout [String]) -> OtherAudioEvent? {
        released = []
        guard !paused.isEmpty else {
            OtherAudioJournal.remove(journalPath)
            return nil
        }
        let bus: any MediaPlayerBus
        do throws(BusError) { bus = try connectedBus() } catch {
            // The journal stays: once this process has ended, the next capdeck resumes them.
            failures.append("could not resume \(paused.map(\.identity).joined(separator: ", ")): \(error)")
            paused = []
            return nil
        }
        let result = OtherAudioInterrupter.restore(paused, on: bus)
        paused = []
        OtherAudioJournal.remove(journalPath)
        return .restored(resumed: result.resumed, leftAlone: result.leftAlone)
    }

    /// The journal as `paused` says, or none when nothing is paused.
    private func saveJournal(_ failures: inout [String]) {
        if paused.isEmpty {
            OtherAudioJournal.remove(journalPath)
        } else if let e = OtherAudioJournal(writer: writer, entries: paused.map { .init(state: .paused, player: $0) }).write(to: journalPath) {
            failures.append("the journal can't be updated: \(e)")
        }
    }
}
