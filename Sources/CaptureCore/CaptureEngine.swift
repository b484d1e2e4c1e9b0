// The capture engine: a real-time capture loop feeding a ring, and a writer loop draining it.
import Dispatch
import Glibc
import Synchronization

/// Why a capture run ended.
public enum CaptureEndReason: Sendable, Equatable, CustomStringConvertible {
    case durationReached
    case stopped
    case deviceLost(DeviceError)
    case writeFailed(RecordingError)

    public var description: String {
        switch self {
        case .durationReached: "duration reached"
        case .stopped: "stopped"
        case .deviceLost(let e): e.description
        case .writeFailed(let e): e.description
        }
    }
}

/// One device overrun (frames lost by the device before we read them).
public struct XrunEvent: Sendable, Equatable {
    /// Nanoseconds since capture started (CLOCK_MONOTONIC).
    public var atNanos: UInt64
    /// Frames captured before the overrun.
    public var atFrame: Int
    /// True for a suspend/resume rather than an overrun.
    public var suspended: Bool
}

/// The outcome of a capture run.
public struct CaptureSummary: Sendable, Equatable {
    public var framesCaptured: Int
    public var framesWritten: Int
    public var xruns: Int
    public var endReason: CaptureEndReason
}

/// Runs one capture: device → ring → (meters, recording file).
///
/// Threads and ownership:
/// - The **capture queue** (serial, one long work item) is the only caller of the device's
///   `read`/`waitForData` and the only producer into the ring. It raises its worker thread to
///   SCHED_FIFO when allowed, and restores it on exit. After `start()` returns it does not
///   allocate, lock, log or touch files.
/// - The **writer queue** (serial, one long work item) is the only consumer of the ring; it owns
///   the meter and the recording sink, and checkpoints the file about once a second.
/// - Any thread may read the published state (`framesCaptured`, `xrunCount`, meters…) and call
///   `stop()`.
public final class CaptureEngine: @unchecked Sendable {
    public struct Configuration: Sendable {
        public var request: CaptureRequest
        /// The format written to the ring and the file. Device output is converted into it.
        public var recordingFormat: StreamFormat
        /// SCHED_FIFO priority for the capture thread (1...99), or nil for normal scheduling.
        public var realtimePriority: Int32?
        /// Stop after exactly this many frames (nil: until stopped).
        public var maxFrames: Int?
        /// Ring capacity in seconds of audio (rounded up to a power of two in frames).
        public var ringSeconds: Double

        public init(request: CaptureRequest, recordingFormat: StreamFormat? = nil,
                    realtimePriority: Int32? = 70, maxFrames: Int? = nil, ringSeconds: Double = 2) {
            self.request = request
            self.recordingFormat = recordingFormat ?? request.format
            self.realtimePriority = realtimePriority
            self.maxFrames = maxFrames
            self.ringSeconds = ringSeconds
        }
    }

    public let device: any CaptureDevice
    public let configuration: Configuration
    public let meterBoard: MeterBoard
    private let sink: (any RecordingSink)?

    private let captureQueue = DispatchQueue(label: "capdeck.capture", qos: .userInteractive)
    private let writerQueue = DispatchQueue(label: "capdeck.writer", qos: .userInitiated)
    private let finished = DispatchGroup()

    // Set up in start(), read-only afterwards.
    private var ring: FrameRing!
    private var converter: FrameConverter?
    private var scratch: UnsafeMutableRawPointer?
    private var scratchFrames = 0
    private var maxReadFrames = 4096
    private var meter: LevelMeter!
    private let wake: Doorbell
    private let dataBell: Doorbell
    private let spaceBell: Doorbell

    // Published state.
    private let stopRequested = Atomic<Bool>(false)
    private let captureEnded = Atomic<Bool>(false)
    private let capturedFrames = Atomic<Int>(0)
    private let xruns = Atomic<Int>(0)
    private let threadID = Atomic<Int32>(0)
    private let startNanos = Atomic<UInt64>(0)
    private let xrunLog: XrunLog
    private let state = Mutex<EngineState>(EngineState())

    private struct EngineState {
        var granted: GrantedParameters?
        var realtime: RealtimeStatus = .notStarted
        var captureEnd: CaptureEndReason?
        var writeError: RecordingError?
        var summary: CaptureSummary?
        var started = false
    }

    public init(device: any CaptureDevice, configuration: Configuration,
                sink: (any RecordingSink)? = nil, meterBoard: MeterBoard = MeterBoard()) throws(SystemError) {
        self.device = device
        self.configuration = configuration
        self.sink = sink
        self.meterBoard = meterBoard
        wake = try Doorbell()
        dataBell = try Doorbell()
        spaceBell = try Doorbell()
        xrunLog = XrunLog(capacity: 256)
        if let sink { precondition(sink.format == configuration.recordingFormat, "sink format mismatch") }
    }

    deinit { scratch?.deallocate() }

    // MARK: Published state (any thread)

    /// The parameters the device granted (nil before start).
    public var granted: GrantedParameters? { state.withLock { $0.granted } }
    /// How the capture thread is scheduled.
    public var realtimeStatus: RealtimeStatus { state.withLock { $0.realtime } }
    /// Frames read from the device so far.
    public var framesCaptured: Int { capturedFrames.load(ordering: .relaxed) }
    /// Device overruns and suspends so far.
    public var xrunCount: Int { xruns.load(ordering: .relaxed) }
    /// The most recent overruns, oldest first.
    public var recentXruns: [XrunEvent] { xrunLog.snapshot() }
    /// Kernel thread id of the capture thread while it runs (0 otherwise).
    public var captureThreadID: Int32 { threadID.load(ordering: .acquiring) }
    /// Whether the run has ended (the summary is available).
    public var isFinished: Bool { state.withLock { $0.summary != nil } }
    /// Frames written to the recording so far (writer's count).
    public var framesWritten: Int { ring?.totalRead ?? 0 }

    // MARK: Control

    /// Opens and starts the device, then returns once capture is running.
    /// Throws if the device can't be opened, can't give the recording's rate, or can't start.
    @discardableResult
    public func start() throws(DeviceError) -> GrantedParameters {
        let alreadyStarted = state.withLock { s in
            defer { s.started = true }
            return s.started
        }
        precondition(!alreadyStarted, "a CaptureEngine runs once")
        let target = configuration.recordingFormat
        let g = try device.open(configuration.request)
        if g.format.sampleRate != target.sampleRate {
            device.close()
            throw .unsupported(device: device.name, parameter: "rate",
                               reason: "device gives \(g.format.sampleRate) Hz, not \(target.sampleRate) Hz (try a plughw: or plug PCM)")
        }
        let ringFrames = Swift.max(Int(Double(target.sampleRate) * configuration.ringSeconds), g.bufferFrames * 2, 4096)
        ring = FrameRing(minimumFrames: ringFrames, bytesPerFrame: target.bytesPerFrame)
        _ = mlock(ring.storageBytes.baseAddress, ring.storageBytes.count)  // best effort
        if g.format != target {
            converter = FrameConverter(source: g.format, target: target)
            scratchFrames = Swift.max(g.periodFrames, 1024)
            scratch = .allocate(byteCount: scratchFrames * g.format.bytesPerFrame, alignment: 64)
        }
        meter = LevelMeter(format: target, board: meterBoard)
        maxReadFrames = Swift.max(1, g.bufferFrames)
        state.withLock { $0.granted = g }

        let started = DispatchSemaphore(value: 0)
        let startError = StartResult()
        finished.enter()
        finished.enter()
        writerQueue.async { self.writerLoop() }
        captureQueue.async { self.captureEntry(started: started, startError: startError) }
        started.wait()
        if let e = startError.error {
            // The writer has been told capture ended; let it finish the sink before we return,
            // so the caller may remove the (empty) file without racing it.
            finished.wait()
            throw e
        }
        return g
    }

    /// Asks capture to stop; the writer then drains the ring and finishes the file. Any thread.
    public func stop() {
        stopRequested.store(true, ordering: .sequentiallyConsistent)
        wake.ring()
    }

    /// Blocks until the run has ended and the file is finished.
    public func waitUntilFinished() -> CaptureSummary {
        finished.wait()
        return state.withLock { $0.summary! }
    }

    /// Calls `handler` on a global queue once the run has ended.
    public func onFinished(_ handler: @escaping @Sendable (CaptureSummary) -> Void) {
        finished.notify(queue: .global()) { [self] in handler(state.withLock { $0.summary! }) }
    }

    // MARK: Capture queue

    private func captureEntry(started: DispatchSemaphore, startError: StartResult) {
        let (saved, rt) = SavedScheduling.promote(priority: configuration.realtimePriority)
        state.withLock { $0.realtime = rt }
        threadID.store(currentThreadID(), ordering: .releasing)
        var end: CaptureEndReason = .stopped
        do throws(DeviceError) {
            try device.start()
            startNanos.store(SignalSourceDevice.monotonicNanos(), ordering: .relaxed)
            started.signal()
            end = captureLoop(device)
        } catch {
            startError.error = error
            end = .deviceLost(error)
            started.signal()
        }
        device.close()
        threadID.store(0, ordering: .releasing)
        saved.restore()
        state.withLock { $0.captureEnd = end }
        captureEnded.store(true, ordering: .releasing)
        dataBell.ring()
        finished.leave()
    }

    /// The real-time loop. No allocation, lock, logging or file I/O in here.
    private func captureLoop<D: CaptureDevice>(_ device: D) -> CaptureEndReason {
        let ring = self.ring!
        let limit = configuration.maxFrames ?? Int.max
        let converter = self.converter
        let scratch = self.scratch
        let scratchFrames = self.scratchFrames
        // Never ask for more than one device buffer at once: some plugins (ALSA's file plugin
        // with an infile) fail on larger reads, and hardware can't hold more anyway.
        let maxRead = maxReadFrames
        var captured = 0
        while true {
            if stopRequested.load(ordering: .relaxed) { return .stopped }
            if captured >= limit { return .durationReached }
            let space = ring.writeVector()
            if space.frames == 0 {
                waitForSpace(ring)
                continue
            }
            let region = space.first
            var want = Swift.min(region.frames, limit - captured, maxRead)
            let target = region.pointer!
            let result: DeviceRead
            if let converter, let scratch {
                want = Swift.min(want, scratchFrames)
                result = device.read(into: scratch, frames: want)
                if case .frames(let n) = result, n > 0 {
                    converter.convert(from: scratch, to: target, frames: n)
                }
            } else {
                result = device.read(into: target, frames: want)
            }
            switch result {
            case .frames(let n) where n > 0:
                ring.commitWrite(n)
                captured += n
                capturedFrames.store(captured, ordering: .relaxed)
                dataBell.ringIfWaiting()
            case .frames:
                switch device.waitForData(wakeFD: wake.fd, timeoutMs: 1000) {
                case .ready, .timedOut: break
                case .woken: wake.drain()
                case .failed(let e): return .deviceLost(e)
                }
            case .overrun, .suspended:
                let now = SignalSourceDevice.monotonicNanos() - startNanos.load(ordering: .relaxed)
                xrunLog.append(XrunEvent(atNanos: now, atFrame: captured, suspended: result == .suspended))
                xruns.add(1, ordering: .relaxed)
            case .failed(let e):
                return .deviceLost(e)
            }
        }
    }

    /// The ring is full: sleep until the writer frees space or stop is requested.
    private func waitForSpace(_ ring: FrameRing) {
        spaceBell.prepareToWait()
        if ring.writableFrames > 0 || stopRequested.load(ordering: .sequentiallyConsistent) {
            spaceBell.cancelWait()
            return
        }
        var fds = (pollfd(fd: spaceBell.fd, events: Int16(POLLIN), revents: 0),
                   pollfd(fd: wake.fd, events: Int16(POLLIN), revents: 0))
        withUnsafeMutableBytes(of: &fds) { raw in
            _ = poll(raw.baseAddress!.assumingMemoryBound(to: pollfd.self), 2, 100)
        }
        spaceBell.cancelWait()
        spaceBell.drain()
        wake.drain()
    }

    // MARK: Writer queue

    private func writerLoop() {
        let ring = self.ring!
        let meter = self.meter!
        var writeError: RecordingError?
        var lastCheckpoint = SignalSourceDevice.monotonicNanos()
        let checkpointInterval: UInt64 = 1_000_000_000
        // Checkpoint at least once a second of wall time and once a second of audio, so an
        // unpaced capture also never has more than ~1 s of audio beyond its last header.
        let checkpointFrames = configuration.recordingFormat.sampleRate
        var framesSinceCheckpoint = 0
        while true {
            let v = ring.readVector()
            if v.frames == 0 {
                if captureEnded.load(ordering: .acquiring) && ring.readableFrames == 0 { break }
                dataBell.prepareToWait()
                if ring.readableFrames == 0 && !captureEnded.load(ordering: .sequentiallyConsistent) {
                    _ = dataBell.wait(timeoutMs: 250)
                }
                dataBell.cancelWait()
            } else {
                for region in 0..<2 {
                    let r = region == 0 ? v.first : v.second
                    guard r.frames > 0, let p = r.pointer.map(UnsafeRawPointer.init) else { continue }
                    meter.process(p, frames: r.frames)
                    if let sink, writeError == nil {
                        do throws(RecordingError) {
                            try sink.write(p, count: r.frames)
                        } catch {
                            writeError = error
                            stop()
                        }
                    }
                }
                ring.commitRead(v.frames)
                spaceBell.ringIfWaiting()
                framesSinceCheckpoint += v.frames
            }
            let now = SignalSourceDevice.monotonicNanos()
            if now - lastCheckpoint >= checkpointInterval || framesSinceCheckpoint >= checkpointFrames {
                lastCheckpoint = now
                framesSinceCheckpoint = 0
                if let sink, writeError == nil {
                    do throws(RecordingError) { try sink.checkpoint() } catch {
                        writeError = error
                        stop()
                    }
                }
            }
        }
        if let sink {
            do throws(RecordingError) { try sink.finish() } catch {
                if writeError == nil { writeError = error }
            }
        }
        let written = sink?.framesWritten ?? ring.totalRead
        state.withLock { s in
            s.writeError = writeError
            var end = s.captureEnd ?? .stopped
            if let writeError { end = .writeFailed(writeError) }
            s.summary = CaptureSummary(framesCaptured: capturedFrames.load(ordering: .relaxed),
                                       framesWritten: written, xruns: xruns.load(ordering: .relaxed),
                                       endReason: end)
        }
        finished.leave()
    }
}

/// Hands a start failure from the capture queue to `start()` (the semaphore orders the access).
private final class StartResult: @unchecked Sendable {
    var error: DeviceError?
}

/// A fixed-capacity log of recent overruns: appended on the capture queue without allocating,
/// read from any thread (a sequence lock per slot keeps each entry consistent).
final class XrunLog: @unchecked Sendable {
    private let capacity: Int
    private let count = Atomic<Int>(0)
    private let times: UnsafeMutablePointer<Atomic<UInt64>>
    private let frames: UnsafeMutablePointer<Atomic<Int>>

    init(capacity: Int) {
        self.capacity = capacity
        times = .allocate(capacity: capacity)
        frames = .allocate(capacity: capacity)
        for i in 0..<capacity {
            (times + i).initialize(to: Atomic<UInt64>(0))
            (frames + i).initialize(to: Atomic<Int>(0))
        }
    }

    deinit {
        times.deinitialize(count: capacity); times.deallocate()
        frames.deinitialize(count: capacity); frames.deallocate()
    }

    /// Capture queue only.
    func append(_ e: XrunEvent) {
        let n = count.load(ordering: .relaxed)
        let slot = n % capacity
        // Suspends are marked in the top bit of the time (never reached: 292 years of uptime).
        times[slot].store(e.atNanos | (e.suspended ? 1 << 63 : 0), ordering: .relaxed)
        frames[slot].store(e.atFrame, ordering: .relaxed)
        count.store(n + 1, ordering: .releasing)
    }

    func snapshot() -> [XrunEvent] {
        let n = count.load(ordering: .acquiring)
        let first = Swift.max(0, n - capacity)
        return (first..<n).map { i in
            let t = times[i % capacity].load(ordering: .relaxed)
            return XrunEvent(atNanos: t & ~(1 << 63), atFrame: frames[i % capacity].load(ordering: .relaxed),
                             suspended: t & (1 << 63) != 0)
        }
    }
}
