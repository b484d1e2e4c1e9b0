// How the writer queue's frames reach the session's outputs, whose list the session changes while
// it runs.
import CaptureCore
import Synchronization

/// Feeds one engine run's frames to the session's outputs: the file outputs, then every
/// `StreamReceiver` (the data output, the preview output), each in the order added.
///
/// The session adds and removes outputs while the run goes on. The list is behind a lock the
/// writer queue holds for each batch (one `write`), and nothing else holds for longer than a list
/// change: an output added joins at the next batch, and `remove` returns only once a delivery in
/// progress has ended, so nothing reaches an output after its removal returns. The capture thread
/// never takes it (the writer only); the wait in `remove` is at most one batch.
final class OutputFanOut: RecordingSink, Sendable {
    let format: StreamFormat
    /// The run's stream position and host time (what data outputs stamp their buffers with).
    let clock: RunClock

    private struct File {
        let output: CaptureAudioFileOutput
        /// The output's position (its `framesWritten`) at this run's frame 0: the engine counts its
        /// markers from its own start, a file output from its creation (it outlives runs).
        let base: Int
    }
    private struct State {
        var files: [File] = []
        var receivers: [any StreamReceiver] = []
        /// Frames of this run delivered so far.
        var framesWritten = 0
    }
    private let state = Mutex(State())

    /// A run whose first frame is stream position `streamPosition`, feeding `outputs`.
    init(format: StreamFormat, streamPosition: Int, outputs: [any CaptureOutput]) {
        self.format = format
        clock = RunClock(startPosition: streamPosition, sampleRate: format.sampleRate)
        for o in outputs { add(o) }
    }

    /// Adds `output` from the next batch on (the session has set a file output's format).
    func add(_ output: any CaptureOutput) {
        state.withLock { s in
            if let f = output as? CaptureAudioFileOutput, !s.files.contains(where: { $0.output === f }) {
                s.files.append(File(output: f, base: f.framesWritten - s.framesWritten))
                f.attach(clock: clock, base: f.framesWritten - s.framesWritten)
            }
            if let r = output as? any StreamReceiver, !s.receivers.contains(where: { $0 === r }) {
                (r as? CaptureAudioDataOutput)?.join(at: clock.startPosition + s.framesWritten, clock: clock)
                s.receivers.append(r)
            }
        }
    }

    /// Removes `output`; returns once no delivery to it is in progress, and tells a receiver
    /// that nothing more arrives (what it has queued is dropped).
    func remove(_ output: any CaptureOutput) {
        state.withLock { s in
            s.files.removeAll { $0.output === output }
            s.receivers.removeAll { $0 === output }
        }
        (output as? any StreamReceiver)?.sessionDidStop()
    }

    /// The run has ended (its writer is done): every receiver hears it. `continuing`: the
    /// session goes on running with another engine (another input, or none for now), and a
    /// data output's client still gets the buffers it has queued.
    func sessionDidStop(continuing: Bool = false) {
        for r in state.withLock({ $0.receivers }) {
            if continuing, let d = r as? CaptureAudioDataOutput { d.runEnded() } else { r.sessionDidStop() }
        }
    }

    // RecordingSink (writer queue).
    var path: String { state.withLock { $0.files.first?.output.path ?? "" } }
    var framesWritten: Int { state.withLock { $0.framesWritten } }

    func write(_ frames: UnsafeRawPointer, count: Int) throws(RecordingError) {
        try state.withLock { s throws(RecordingError) in
            for f in s.files { try f.output.write(frames, count: count) }
            for r in s.receivers { r.receive(frames, count: count, format: format) }
            s.framesWritten += count
        }
    }
    func checkpoint() throws(RecordingError) {
        try state.withLock { s throws(RecordingError) in for f in s.files { try f.output.checkpoint() } }
    }
    /// Files outlive a run (the session's owner stops them), but the run's last frames get a
    /// header and a sync now: a session may wait a long time for a lost device to return.
    func finish() throws(RecordingError) { try checkpoint() }
    func addMarker(_ marker: RecordingMarker) {
        state.withLock { s in
            for f in s.files {
                var m = marker
                m.frame = f.base + marker.frame
                f.output.addMarker(m)
            }
        }
    }
}
