// The data output: captured audio handed to a client's handler on its queue, late buffers dropped
// (counted) instead of queued without bound, as Apple's data outputs do.
import CaptureCore
import Dispatch
import Synchronization

/// Captured audio handed to a client (`CMSampleBuffer`'s role): interleaved frames in `format`.
public struct AudioSampleBuffer: Sendable {
    public var format: StreamFormat
    /// Position of the first frame in the session's stream: frames since the session last
    /// started, across reconnections, input changes and route switches (the frames
    /// `CaptureSession.framesCaptured` counts). A buffer dropped before it (a blocked client
    /// queue) shows as a gap: the next buffer starts later than this one ends.
    public var startFrame: Int
    public var frameCount: Int
    /// CLOCK_MONOTONIC nanoseconds of the first frame, on the capture clock: the run's start
    /// (when its device started) plus `startFrame` frames at the format's rate from there. So
    /// consecutive buffers of one run are exactly `frameCount / sampleRate` apart, a dropped one
    /// leaves its gap, and a new run (a reconnection, an input whose format differs, an input
    /// added after one was removed) starts from its own device's start, later by the time
    /// without capture. 0 when the buffer was not fed by a session.
    public var hostTimeNanos: UInt64
    /// Interleaved samples, `format.bytesPerFrame * frameCount` bytes.
    public var bytes: [UInt8]

    public init(format: StreamFormat, startFrame: Int, frameCount: Int, hostTimeNanos: UInt64 = 0, bytes: [UInt8]) {
        self.format = format
        self.startFrame = startFrame
        self.frameCount = frameCount
        self.hostTimeNanos = hostTimeNanos
        self.bytes = bytes
    }
}

/// The clock of one engine run: the stream position of its first frame and the host time it
/// started, read from the engine (`CaptureEngine.startedAtNanos`) when first asked, on the
/// writer queue, where the first frame has already arrived.
final class RunClock: Sendable {
    let startPosition: Int
    let sampleRate: Int
    private let startNanos: Mutex<(@Sendable () -> UInt64)?> = Mutex(nil)
    private let base = Atomic<UInt64>(0)

    init(startPosition: Int, sampleRate: Int) {
        self.startPosition = startPosition
        self.sampleRate = sampleRate
    }

    /// Where the run's start time comes from (the session, before the engine starts).
    func bind(_ startNanos: @escaping @Sendable () -> UInt64) { self.startNanos.withLock { $0 = startNanos } }

    /// Host time of stream position `position` (writer queue: after the run's first frame).
    func hostNanos(at position: Int) -> UInt64 {
        var b = base.load(ordering: .relaxed)
        if b == 0, let f = startNanos.withLock({ $0 }) {
            b = f()
            base.store(b, ordering: .relaxed)
        }
        guard b != 0 else { return 0 }
        let frames = UInt64(Swift.max(0, position - startPosition))
        let rate = UInt64(sampleRate)
        // Whole seconds and the remainder apart: no overflow for any real length.
        return b + frames / rate * 1_000_000_000 + frames % rate * 1_000_000_000 / rate
    }
}

/// Hands captured audio to a client on its queue (`AVCaptureAudioDataOutput`).
///
/// A client that falls behind loses buffers, never the session's time: at most the buffers that
/// fit in `maximumInFlightSeconds` of audio (and at least `minimumInFlightBuffers`) wait for or
/// run in the handler; a buffer that would exceed that is dropped and counted
/// (`droppedBufferCount`), and the next one delivered carries its own stream position and host
/// time, so the gap shows. Memory stays bounded whatever the client does.
///
/// No handler call starts after `stopRunning()` returns, after `removeOutput` of this output
/// returns, or after the handler is changed or set to nil: buffers queued before are dropped
/// (not counted: they were not late). A call that has already started may finish; the session
/// never waits for it (the handler may itself call `stopRunning`). To have the last buffers
/// delivered, end capture first: `removeInput` ends the run and lets what is queued reach the
/// handler; `queue.sync {}` on the handler's queue waits for it; then `stopRunning()`.
///
/// Threading: `receive` on the session's writer queue; everything else from any thread.
public final class CaptureAudioDataOutput: CaptureOutput, StreamReceiver, Sendable {
    /// Audio in flight to the client at most (with `minimumInFlightBuffers`): 150 ms, in the
    /// range where Apple's data outputs start dropping.
    public static let maximumInFlightSeconds = 0.15
    /// Buffers in flight at least, whatever their length: one in the handler, one waiting.
    public static let minimumInFlightBuffers = 2

    private struct State {
        var queue: DispatchQueue?
        var body: (@Sendable (AudioSampleBuffer) -> Void)?
        /// Bumped whenever queued buffers must not reach a handler any more.
        var generation = 0
        var inFlightBuffers = 0
        var inFlightFrames = 0
        /// The next frame's stream position, and the run it belongs to.
        var position = 0
        var clock: RunClock?
        var droppedBuffers = 0
        var droppedFrames = 0
        var delivered = 0

        /// Queued buffers will find another generation and not run; nothing is in flight any more.
        mutating func invalidateQueued() {
            generation &+= 1
            inFlightBuffers = 0
            inFlightFrames = 0
        }
    }
    private let state = Mutex(State())

    public init() {}

    /// Sets the handler and the queue it is called on (nil removes it). Buffers queued for the
    /// previous handler are dropped; a call already running may finish.
    public func setSampleBufferHandler(queue: DispatchQueue, _ body: (@Sendable (AudioSampleBuffer) -> Void)?) {
        state.withLock { s in
            s.queue = body == nil ? nil : queue
            s.body = body
            s.invalidateQueued()
        }
    }

    /// Buffers dropped because the client's queue was behind (see the type's note), since the
    /// output was created.
    public var droppedBufferCount: Int { state.withLock { $0.droppedBuffers } }
    /// The frames those buffers held.
    public var droppedFrameCount: Int { state.withLock { $0.droppedFrames } }
    /// Buffers handed to the client's queue so far.
    public var deliveredBufferCount: Int { state.withLock { $0.delivered } }

    /// The session, before this output's first frame of a run (under the fan-out's lock, so
    /// never during a `receive`): the next frame is stream position `position`, on `clock`.
    func join(at position: Int, clock: RunClock) {
        state.withLock { s in
            s.position = position
            s.clock = clock
        }
    }

    // MARK: StreamReceiver (writer queue)

    public func receive(_ frames: UnsafeRawPointer, count: Int, format: StreamFormat) {
        struct Admitted {
            let queue: DispatchQueue
            let generation: Int
            let start: Int
            let host: UInt64
        }
        let admitted: Admitted? = state.withLock { s in
            let start = s.position
            s.position += count
            guard let queue = s.queue, s.body != nil else { return nil }
            let budget = Int(Double(format.sampleRate) * Self.maximumInFlightSeconds)
            guard s.inFlightBuffers < Self.minimumInFlightBuffers || s.inFlightFrames + count <= budget else {
                s.droppedBuffers += 1
                s.droppedFrames += count
                return nil
            }
            s.inFlightBuffers += 1
            s.inFlightFrames += count
            s.delivered += 1
            return Admitted(queue: queue, generation: s.generation, start: start, host: s.clock?.hostNanos(at: start) ?? 0)
        }
        guard let a = admitted else { return }
        let buffer = AudioSampleBuffer(format: format, startFrame: a.start, frameCount: count, hostTimeNanos: a.host,
                                       bytes: Array(UnsafeRawBufferPointer(start: frames, count: count * format.bytesPerFrame)))
        a.queue.async { [self] in
            // The gate: passed under the lock, or never (see the type's note).
            guard let body = state.withLock({ $0.generation == a.generation ? $0.body : nil }) else { return }
            body(buffer)
            state.withLock { s in
                guard s.generation == a.generation else { return }
                s.inFlightBuffers -= 1
                s.inFlightFrames -= count
            }
        }
    }

    /// The session's run ended but the session goes on (an input replaced or removed): buffers
    /// queued still reach the handler; the next run's clock comes with its first frame.
    func runEnded() {
        state.withLock { $0.clock = nil }
    }

    /// The session stopped capturing, or removed this output: what is queued is dropped.
    public func sessionDidStop() {
        state.withLock { s in
            s.invalidateQueued()
            s.clock = nil
        }
    }
}
