// The loudness output: EBU R128 loudness and true peak of the session's stream, measured on the
// writer queue and published for the console, `status` and `record`'s summary.
import CaptureCore
import CaptureLoudness
import Synchronization

/// Measures the session's stream (momentary, short-term, integrated, range, true peak per
/// channel; `LoudnessMeter`) as a meter program does, from when it is added or last reset.
///
/// The measuring runs on the writer queue as part of each batch's delivery, never on the capture
/// thread; it costs a few per cent of a core for 32 channels at 96 kHz (Docs/benchmarks.md) and
/// allocates nothing: libebur128's state is made by `prepare(format:)` (call it before the session
/// starts) or by `reset()`, on the caller's thread, and swapped in under a lock the writer holds
/// only for its batch. A batch in a format the meter wasn't made for (no `prepare`, or an input
/// of another format) makes one on the writer, once. The reading is published every 100 ms of
/// audio behind its own lock, so the console reading it 30 times a second never waits on a batch.
///
/// Integration goes on across runs (a device lost and back, a route switch) until `reset()`.
///
/// Made `borrowing` another measurement of the same audio (`CaptureAudioFileOutput.takeLoudness`:
/// the take's WAV or RF64 files measure themselves for their bext), it measures nothing and
/// gives that one's figures, until `reset()` asks for figures of its own from then on.
/// Threading: `receive` on the writer queue; everything else from any thread.
public final class CaptureLoudnessOutput: StreamReceiver, Sendable {
    private struct Meter {
        var meter: LoudnessMeter?
        var format: StreamFormat?
        var sincePublish = 0
        /// Whose figures are given instead of measuring (until `reset()`).
        var borrowed: (@Sendable () -> LoudnessReading?)?
    }
    // `LoudnessMeter` is one thread's; the lock makes each use one thread's at a time.
    private struct Locked: @unchecked Sendable { var m = Meter() }
    private let meter = Mutex(Locked())
    private let published = Mutex<LoudnessReading?>(nil)
    private let failure = Mutex<LoudnessError?>(nil)

    public init() {}

    /// Gives `source`'s figures, measuring nothing, until `reset()`.
    public init(borrowing source: @escaping @Sendable () -> LoudnessReading?) {
        meter.withLock { $0.m.borrowed = source }
    }

    /// The latest figures (nil before any audio since the start or the last reset).
    public var reading: LoudnessReading? {
        if let source = meter.withLock({ $0.m.borrowed }) { return source() }
        return published.withLock { $0 }
    }

    /// Whether it measures (not borrowing).
    public var measures: Bool { meter.withLock { $0.m.borrowed == nil } }

    /// Why nothing is measured (libebur128 refused the format: more than 64 channels).
    public var error: LoudnessError? { failure.withLock { $0 } }

    /// Makes the meter for `format` now (libebur128 allocates here), so the writer doesn't.
    public func prepare(format: StreamFormat) {
        if meter.withLock({ l in
            guard l.m.borrowed != nil else { return false }
            l.m.format = format
            return true
        }) { return }
        let made = make(format)
        let old = meter.withLock { l -> LoudnessMeter? in
            defer { l.m = Meter(meter: made, format: format) }
            return l.m.meter
        }
        _ = old  // freed here, on the caller's thread
    }

    /// Starts the integration, the range and the maxima afresh (the console's key, `reset-loudness`);
    /// a borrowing output measures for itself from now on.
    public func reset() {
        guard let format = meter.withLock({ l -> StreamFormat? in
            l.m.borrowed = nil
            return l.m.format
        }) else { return }
        prepare(format: format)
        published.withLock { $0 = nil }
    }

    private func make(_ format: StreamFormat) -> LoudnessMeter? {
        do throws(LoudnessError) {
            let m = try LoudnessMeter(channels: format.channels, sampleRate: format.sampleRate)
            failure.withLock { $0 = nil }
            return m
        } catch {
            failure.withLock { $0 = error }
            return nil
        }
    }

    // StreamReceiver (writer queue).
    public func receive(_ frames: UnsafeRawPointer, count: Int, format: StreamFormat) {
        let reading = meter.withLock { l -> LoudnessReading? in
            guard l.m.borrowed == nil else { return nil }
            if l.m.format != format {
                l.m = Meter(meter: make(format), format: format)
            }
            guard let m = l.m.meter else { return nil }
            m.process(frames, count: count, encoding: format.sampleFormat)
            l.m.sincePublish += count
            guard l.m.sincePublish >= format.sampleRate / 10 else { return nil }
            l.m.sincePublish = 0
            return m.reading
        }
        if let reading { published.withLock { $0 = reading } }
    }

    /// The session stopped: the figures stay as they were (a meter holds its last reading).
    public func sessionDidStop() {
        let r = meter.withLock { l -> LoudnessReading? in
            guard let m = l.m.meter, m.frames > 0 else { return nil }
            l.m.sincePublish = 0
            return m.reading
        }
        if let r { published.withLock { $0 = r } }
    }
}
