// Mix off interrupts other programs' audio; mix on lets it play (issue 9). Real parts: a private
// session bus, real mpv players with the mpv-mpris plugin, playerctl as the user.
import CaptureTestSupport
import Foundation
import Glibc
import Synchronization
import Testing
@testable import CaptureDBus

/// Collects what the interrupter reports.
final class EventLog: Sendable {
    private let events = Mutex<[OtherAudioEvent]>([])
    var all: [OtherAudioEvent] { events.withLock { $0 } }
    func add(_ s: OtherAudioState) { if let e = s.lastEvent { events.withLock { $0.append(e) } } }
}

func status(_ bus: SessionBus, _ p: MPVPlayer) -> PlaybackStatus? { try? bus.playbackStatus(p.owner) }

func waitForStatus(_ bus: SessionBus, _ p: MPVPlayer, _ want: PlaybackStatus, within seconds: Double = 1) throws {
    try waitUntil("\(p.busName) \(want.rawValue)", timeout: seconds, pollMs: 10) { status(bus, p) == want }
}

func journalFiles(_ dir: String) -> [String] {
    ((try? FileManager.default.contentsOfDirectory(atPath: dir)) ?? []).filter { $0.hasPrefix("other-audio-") }.sorted()
}

@Suite(.serialized, .timeLimit(.minutes(1)))
struct OtherAudioTests {
    @Test func interruptPausesPlayingPlayersAndRestoreResumesThem() throws {
        let bus = try PrivateBus()
        let look = try bus.connect()
        let a = try MPVPlayer(on: bus)
        let b = try MPVPlayer(on: bus)
        let dir = bus.scratch.path + "/state"
        let log = EventLog()
        let interrupter = OtherAudioInterrupter(journalDirectory: dir, busAddress: bus.address, onChange: log.add)
        let t0 = Date()
        interrupter.reconcile(interrupt: true)
        try waitForStatus(look, a, .paused)
        try waitForStatus(look, b, .paused)
        #expect(Date().timeIntervalSince(t0) < 1)
        #expect(try playerctl(bus, a, "status") == "Paused")
        interrupter.waitUntilIdle()
        #expect(interrupter.state.isInterrupting)
        #expect(interrupter.state.summary == "mpv, mpv")
        #expect(Set(interrupter.state.paused.map(\.owner)) == [a.owner, b.owner])

        // The journal: one file, 0600, naming both players as paused, with this process as writer.
        let path = dir + "/other-audio-\(getpid()).journal"
        #expect(journalFiles(dir) == ["other-audio-\(getpid()).journal"])
        var st = stat()
        #expect(stat(path, &st) == 0 && st.st_mode & 0o777 == 0o600)
        let journal = try #require(OtherAudioJournal.parse(try String(contentsOfFile: path, encoding: .utf8)))
        #expect(journal.writer.pid == getpid())
        #expect(Set(journal.entries.map(\.player.busName)) == [a.busName, b.busName])
        #expect(journal.entries.allSatisfy { $0.state == .paused })

        // Idempotent: asking again changes nothing.
        interrupter.reconcile(interrupt: true)
        interrupter.waitUntilIdle()
        #expect(interrupter.state.paused.count == 2)

        interrupter.reconcile(interrupt: false)
        try waitForStatus(look, a, .playing)
        try waitForStatus(look, b, .playing)
        #expect(try playerctl(bus, a, "status") == "Playing")
        interrupter.waitUntilIdle()
        #expect(!interrupter.state.isInterrupting && interrupter.state.paused.isEmpty)
        #expect(journalFiles(dir).isEmpty)
        guard case .restored(let resumed, let leftAlone) = log.all.last else { Issue.record("no restored event: \(log.all)"); return }
        #expect(resumed.count == 2 && leftAlone.isEmpty)
        #expect(log.all.last?.message == "other audio resumed mpv, mpv")
        guard case .interrupted(let paused) = log.all.first else { Issue.record("no interrupted event: \(log.all)"); return }
        #expect(paused.count == 2)
    }

    @Test func aPlayerTheUserPausedStaysPaused() throws {
        let bus = try PrivateBus()
        let look = try bus.connect()
        let playing = try MPVPlayer(on: bus)
        let userPaused = try MPVPlayer(on: bus, paused: true)
        let interrupter = OtherAudioInterrupter(journalDirectory: bus.scratch.path + "/state", busAddress: bus.address)
        interrupter.reconcile(interrupt: true)
        try waitForStatus(look, playing, .paused)
        interrupter.waitUntilIdle()
        #expect(interrupter.state.paused.map(\.owner) == [playing.owner])
        interrupter.reconcile(interrupt: false)
        try waitForStatus(look, playing, .playing)
        interrupter.waitUntilIdle()
        usleep(200_000)
        #expect(status(look, userPaused) == .paused)
    }

    @Test func aPlayerTheUserResumedWhileInterruptedIsLeftAlone() throws {
        let bus = try PrivateBus()
        let look = try bus.connect()
        let p = try MPVPlayer(on: bus)
        let log = EventLog()
        let interrupter = OtherAudioInterrupter(journalDirectory: bus.scratch.path + "/state", busAddress: bus.address, onChange: log.add)
        interrupter.reconcile(interrupt: true)
        try waitForStatus(look, p, .paused)
        // The user resumes it: the next passes (the 1 s timer) don't pause it again.
        try playerctl(bus, p, "play")
        try waitForStatus(look, p, .playing)
        for _ in 0..<3 {
            interrupter.reconcile(interrupt: true)
            interrupter.waitUntilIdle()
        }
        #expect(status(look, p) == .playing)
        #expect(interrupter.state.paused.isEmpty)
        // Then pauses it himself: the restore doesn't resume what is no longer ours.
        try playerctl(bus, p, "pause")
        try waitForStatus(look, p, .paused)
        interrupter.reconcile(interrupt: false)
        interrupter.waitUntilIdle()
        usleep(200_000)
        #expect(status(look, p) == .paused)
    }

    @Test func aPlayerThatQuitIsSkippedAndTheOthersResume() throws {
        let bus = try PrivateBus()
        let look = try bus.connect()
        let stays = try MPVPlayer(on: bus)
        let quits = try MPVPlayer(on: bus)
        let log = EventLog()
        let interrupter = OtherAudioInterrupter(journalDirectory: bus.scratch.path + "/state", busAddress: bus.address, onChange: log.add)
        interrupter.reconcile(interrupt: true)
        try waitForStatus(look, stays, .paused)
        try waitForStatus(look, quits, .paused)
        quits.kill9()
        try waitUntil("the killed mpv's name to go", timeout: 5, pollMs: 10) { (try? look.owner(of: quits.busName)) == .some(nil) }
        interrupter.reconcile(interrupt: false)
        try waitForStatus(look, stays, .playing)
        interrupter.waitUntilIdle()
        guard case .restored(let resumed, let leftAlone) = log.all.last else { Issue.record("no restored event: \(log.all)"); return }
        #expect(resumed.map(\.owner) == [stays.owner])
        #expect(leftAlone.map(\.player.owner) == [quits.owner] && leftAlone.first?.reason == .quit)
        #expect(log.all.last?.message == "other audio resumed mpv; left alone: mpv (quit)")
    }

    @Test func aPlayerThatStartsWhileInterruptedIsPausedToo() throws {
        let bus = try PrivateBus()
        let look = try bus.connect()
        let first = try MPVPlayer(on: bus)
        let interrupter = OtherAudioInterrupter(journalDirectory: bus.scratch.path + "/state", busAddress: bus.address)
        interrupter.reconcile(interrupt: true)
        try waitForStatus(look, first, .paused)
        let late = try MPVPlayer(on: bus)
        interrupter.reconcile(interrupt: true)
        try waitForStatus(look, late, .paused)
        interrupter.waitUntilIdle()
        #expect(interrupter.state.paused.count == 2)
        interrupter.reconcile(interrupt: false)
        try waitForStatus(look, first, .playing)
        try waitForStatus(look, late, .playing)
    }

    /// kill -9 of the process that holds the journal: the journal's writer is a real process (a
    /// `sleep`), killed with SIGKILL while its players are paused; the next start restores them.
    @Test func anOrphanedJournalIsRestoredAfterKill9() throws {
        let bus = try PrivateBus()
        let look = try bus.connect()
        let p = try MPVPlayer(on: bus)
        let dir = bus.scratch.path + "/state"
        let holder = Process()
        holder.executableURL = URL(fileURLWithPath: "/bin/sleep")
        holder.arguments = ["60"]
        try holder.run()
        defer { if holder.isRunning { kill(holder.processIdentifier, SIGKILL) } }
        let pid = holder.processIdentifier
        var interrupter: OtherAudioInterrupter? = OtherAudioInterrupter(
            journalDirectory: dir, writer: ProcessIdentity(pid: pid, startTime: ProcessIdentity.startTime(of: pid)), onChange: nil
        ) { () throws(BusError) -> any MediaPlayerBus in try SessionBus(address: bus.address) }
        interrupter?.reconcile(interrupt: true)
        try waitForStatus(look, p, .paused)
        interrupter?.waitUntilIdle()
        interrupter = nil  // gone without restoring, as a killed process would be
        #expect(journalFiles(dir) == ["other-audio-\(pid).journal"])

        // Its writer lives: the journal is left alone.
        #expect(OtherAudioInterrupter.restoreOrphanedJournal(directory: dir, busAddress: bus.address) == nil)
        #expect(status(look, p) == .paused)

        kill(pid, SIGKILL)
        holder.waitUntilExit()
        let line = OtherAudioInterrupter.restoreOrphanedJournal(directory: dir, busAddress: bus.address)
        #expect(line == "other audio paused by a capdeck (pid \(pid)) that ended without restoring it: resumed mpv")
        try waitForStatus(look, p, .playing)
        #expect(journalFiles(dir).isEmpty)
        // Nothing left: the next start says nothing.
        #expect(OtherAudioInterrupter.restoreOrphanedJournal(directory: dir, busAddress: bus.address) == nil)
    }

    /// A journal written with the state `pausing` (killed between the journal and the Pause
    /// answers) is restored the same way: a player still Paused gets Play.
    @Test func aJournalOfADeadWriterWrittenBeforeThePauseIsRestored() throws {
        let bus = try PrivateBus()
        let look = try bus.connect()
        let p = try MPVPlayer(on: bus)
        try look.pause(p.owner)
        try waitForStatus(look, p, .paused)
        let dir = bus.scratch.path + "/state"
        let dead = Process()
        dead.executableURL = URL(fileURLWithPath: "/bin/true")
        try dead.run()
        dead.waitUntilExit()
        let journal = OtherAudioJournal(writer: ProcessIdentity(pid: dead.processIdentifier, startTime: 1),
                                        entries: [.init(state: .pausing, player: OtherPlayer(busName: p.busName, owner: p.owner, identity: "mpv\tof\nthe tests"))])
        #expect(journal.write(to: dir + "/" + OtherAudioJournal.fileName(pid: dead.processIdentifier)) == nil)
        #expect(OtherAudioJournal.parse(journal.text) == journal)
        let line = try #require(OtherAudioInterrupter.restoreOrphanedJournal(directory: dir, busAddress: bus.address))
        #expect(line.hasSuffix("resumed mpv\tof\nthe tests"))
        try waitForStatus(look, p, .playing)
        #expect(journalFiles(dir).isEmpty)
    }

    /// A hung player (SIGSTOPped mpv) costs at most the timeout; the other one is still paused
    /// and the failure is reported, not thrown.
    @Test func aHungPlayerDoesNotHangTheInterrupter() throws {
        let bus = try PrivateBus()
        let look = try bus.connect()
        let fine = try MPVPlayer(on: bus)
        let hung = try MPVPlayer(on: bus)
        kill(hung.pid, SIGSTOP)
        defer { kill(hung.pid, SIGCONT) }
        let log = EventLog()
        let interrupter = OtherAudioInterrupter(journalDirectory: bus.scratch.path + "/state", busAddress: bus.address, timeoutMs: 300, onChange: log.add)
        let t0 = Date()
        interrupter.reconcile(interrupt: true)
        try waitForStatus(look, fine, .paused, within: 3)
        interrupter.waitUntilIdle()
        #expect(Date().timeIntervalSince(t0) < 3)
        #expect(interrupter.state.paused.map(\.owner) == [fine.owner])
        #expect(log.all.contains { if case .failed(let f) = $0 { f.contains(hung.busName) } else { false } })
        interrupter.reconcile(interrupt: false)
        try waitForStatus(look, fine, .playing, within: 3)
    }

    /// No session bus (ssh, cron): reported once, nothing thrown, nothing written.
    @Test func noSessionBusIsReportedOnce() throws {
        let scratch = try Scratch()
        let log = EventLog()
        let interrupter = OtherAudioInterrupter(journalDirectory: scratch.path + "/state",
                                                busAddress: "unix:path=\(scratch.path)/no-such-bus", onChange: log.add)
        for _ in 0..<3 { interrupter.reconcile(interrupt: true); interrupter.waitUntilIdle() }
        // Passes that don't go to the bus (nothing to restore: the session stopped wanting the
        // interruption for a moment, as `record` does between configuring and starting) don't
        // make the same failure news again (`record` printed the line twice).
        for want in [false, true, false, true] { interrupter.reconcile(interrupt: want); interrupter.waitUntilIdle() }
        #expect(log.all.count == 1, "\(log.all.map(\.message))")
        #expect(log.all.first?.message.hasPrefix("other audio: other programs' audio is not paused: ") == true)
        #expect(journalFiles(scratch.path + "/state").isEmpty)
        #expect(interrupter.restoreAndWait(timeout: 3))
    }
}
