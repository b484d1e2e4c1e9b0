// Other programs' playback streams on the sound server, seen as "players" the other-audio
// interrupter can pause (mute) and resume (unmute): the optional second half of "mix off
// interrupts other programs' audio", for programs that don't speak MPRIS. Off by default
// (`muteOtherStreams`): servers remember volumes and mutes per application or role, so a mute can
// outlive us in the server's own memory if we are killed before the journal is restored.
import CaptureDBus
import CapturePulse

/// A playback stream is named `pulse.sink-input.INDEX`; its "owner" is the index while the server
/// still has it (an index is not reused while the server runs), and it "plays" unless muted.
/// One instance per pass of the interrupter's queue: it reads the server once, then answers.
final class SoundServerStreams: MediaPlayerBus {
    static let prefix = "pulse.sink-input."
    private var streams: [PlaybackStream] = []

    init() throws(BusError) {
        try refresh()
    }

    private func refresh() throws(BusError) {
        switch PulseControl.snapshot(timeoutMs: 500) {
        case .success(let s): streams = s.playback
        case .failure(let e): throw BusError(name: "capdeck.SoundServer", message: "\(e)")
        }
    }

    private func stream(_ destination: String) -> PlaybackStream? {
        guard destination.hasPrefix(Self.prefix), let i = UInt32(destination.dropFirst(Self.prefix.count)) else { return nil }
        return streams.first { $0.index == i }
    }

    func playerNames() throws(BusError) -> [String] {
        try refresh()
        return streams.map { Self.prefix + String($0.index) }
    }

    func owner(of name: String) throws(BusError) -> String? { stream(name).map { _ in name } }

    func playbackStatus(_ destination: String) throws(BusError) -> PlaybackStatus {
        guard let s = stream(destination) else { throw BusError(name: "capdeck.NoSuchStream", message: "\(destination) is gone") }
        return s.muted ? .paused : .playing
    }

    func identity(_ destination: String) throws(BusError) -> String { stream(destination)?.application ?? destination }

    func pause(_ destination: String) throws(BusError) { try setMute(destination, true) }
    func play(_ destination: String) throws(BusError) { try setMute(destination, false) }

    private func setMute(_ destination: String, _ muted: Bool) throws(BusError) {
        guard let s = stream(destination) else { throw BusError(name: "capdeck.NoSuchStream", message: "\(destination) is gone") }
        if case .failure(let e) = PulseControl.setMute(sinkInput: s.index, muted) {
            throw BusError(name: "capdeck.SoundServer", message: "\(e)")
        }
        try refresh()
    }

    /// Where the streams' journal lives (apart from the MPRIS players').
    static var journalDirectory: String { OtherAudioInterrupter.defaultJournalDirectory + "/muted-streams" }
}
