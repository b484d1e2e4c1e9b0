// The outputs that receive the session's frames besides files: the data output (client
// callbacks) and the preview output (monitoring to a playback device).
import CaptureCore

/// An output fed the session's frames on the writer queue, after the file outputs. It must not
/// block the writer (whose ring would overflow): it copies what it needs and hands it off to its
/// own queue or thread, dropping (and counting) what it can't take.
public protocol StreamReceiver: CaptureOutput {
    /// On the writer queue: the next `count` frames of the session's stream, interleaved, in
    /// `format` (the session's input's).
    func receive(_ frames: UnsafeRawPointer, count: Int, format: StreamFormat)
    /// The session stopped capturing (`stopRunning`, or its engine ended): nothing more arrives
    /// until it starts again; whatever is queued and not yet handed over is dropped.
    func sessionDidStop()
}
