// A take's loudness from its files' own meters. A WAV or RF64 file measures its audio for its
// bext chunk; the take's figures (`status`, record's summary) pool its parts' meters instead of
// measuring the same audio a second time.
import CaptureFiles
import CaptureLoudness
import Synchronization

/// The loudness meters of one take's files, in order. A part's meter joins when the part leaves
/// the output (a split, the take's end): it is no longer fed then, only read, by the file's
/// finish (its bext) and by `reading`. Once the file is finished, `finished` retires it (its
/// figures stay, libebur128's windows go), so a take of many parts holds kilobytes per part.
///
/// Threading: `left` under the output's lock; `finished` on its finishing queue; `reading` on any
/// thread, under the output's lock, where the writer feeds the part being written.
final class TakeLoudness: Sendable {
    // The meters are read by `reading` and retired by `finished`, each under this lock; the
    // file's finish reads a meter no one feeds any more (libebur128's getters only read).
    private struct Parts: @unchecked Sendable { var meters: [LoudnessMeter] = [] }
    private let parts = Mutex(Parts())

    /// `recorder`'s part left the output; a part already in is not added again.
    func left(_ recorder: SndfileRecorder) {
        guard let m = recorder.loudnessMeter else { return }
        parts.withLock { p in if !p.meters.contains(where: { $0 === m }) { p.meters.append(m) } }
    }

    /// `recorder`'s file is finished.
    func finished(_ recorder: SndfileRecorder) {
        guard let m = recorder.loudnessMeter else { return }
        parts.withLock { _ in m.retire() }
    }

    /// The take's figures, with `writing` the meter of the part being written.
    func reading(writing: LoudnessMeter?) -> LoudnessReading? {
        parts.withLock { p in LoudnessMeter.combined(p.meters + (writing.map { [$0] } ?? [])) }
    }
}
