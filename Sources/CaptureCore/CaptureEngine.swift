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

/// One discontinuity in the captured audio: a device overrun (frames lost by the device before we
/// read them), a suspend, or a block the rate converter failed on (replaced by silence).
public struct XrunEvent: Sendable, Equatable {
    public enum Kind: UInt64, Sendable, Equatable {
        case overrun = 0
        case suspend = 1
        /// The rate converter reported an error on a block: that block is silence in the file,
        /// and the converter starts over.
        case conversionFailure = 2
    }
    /// Nanoseconds since capture started (CLOCK_MONOTONIC).
    public var atNanos: UInt64
    /// Frames captured before the event.
    public var atFrame: Int
    public var kind: Kind
    /// True for a suspend/resume rather than an overrun.
    public var suspended: Bool { kind == .suspend }

    public init(atNanos: UInt64, atFrame: Int, kind: Kind) {
        self.atNanos = atNanos
        self.atFrame = atFrame
        self.kind = kind
    }
}

/// The outcome of a capture run.
public struct CaptureSummary: Sendable, Equatable {
    public var framesCaptured: Int
    public var framesWritten: Int
    public var xruns: Int
    public var endReason: CaptureEndReason
}

/// A description of a capture device, safe to pass around.
public struct DeviceInfo: Sendable, Equatable {
    public var name: String
    public var displayName: String
    public var accessKind: AccessKind
    public init(_ d: any CaptureDevice) {
        name = d.name
        displayName = d.displayName
        accessKind = d.accessKind
    }
}

/// A device switch done while capturing (route re-negotiation).
public struct DeviceSwitchReport: Sendable, Equatable {
    /// The device now capturing, and what it granted.
    public var device: String
    public var granted: GrantedParameters
    /// Frame position (in the recording) where the old device's audio ended and the gap began.
    public var atFrame: Int
    /// Silence inserted so the recording's duration keeps matching the wall clock.
    public var gapFrames: Int
    /// Wall-clock time from the last read on the old device to the start of the new one.
    public var gapNanos: UInt64
    public var gapMs: Double { Double(gapNanos) / 1e6 }
}

/// A device with everything the capture loop needs to read it into the ring in the recording's
/// format. Built off the capture queue; freed off it too.
final class DeviceBinding: @unchecked Sendable {
    let device: any CaptureDevice
    let request: CaptureRequest
    let granted: GrantedParameters
    let converter: FrameConverter?
    let scratch: UnsafeMutableRawPointer?
    let scratchFrames: Int
    /// Never ask for more than one device buffer at once: some plugins (ALSA's file plugin with
    /// an infile) fail on larger reads, and hardware can't hold more anyway.
    let maxRead: Int
    /// When the device's rate differs from the recording's: device → Float (recording's
    /// channels) → rate converter → recording format.
    let resampler: Resampler?

    final class Resampler {
        let converter: any SampleRateConverter
        let toFloat: FrameConverter
        let fromFloat: FrameConverter
        let floatIn: UnsafeMutablePointer<Float>
        let floatOut: UnsafeMutablePointer<Float>
        let outCapacity: Int
        /// Output frames per input frame (below 1 when a one-clock card is recorded at a lower rate).
        let ratio: Double
        /// Free ring frames a read needs: the converter may hand out a few frames more than
        /// `ratio` promises (what it held back from earlier input), and at least one device frame.
        let minimumRoom: Int
        init(_ converter: any SampleRateConverter, device: StreamFormat, target: StreamFormat, maxRead: Int) {
            self.converter = converter
            let floatDevice = StreamFormat(sampleFormat: .floatLE, sampleRate: device.sampleRate, channels: target.channels)
            let floatTarget = StreamFormat(sampleFormat: .floatLE, sampleRate: target.sampleRate, channels: target.channels)
            toFloat = FrameConverter(source: device, target: floatDevice)
            fromFloat = FrameConverter(source: floatTarget, target: target)
            ratio = Double(target.sampleRate) / Double(device.sampleRate)
            outCapacity = Int((Double(maxRead) * ratio).rounded(.up)) + 64
            minimumRoom = 64 + Int(ratio.rounded(.up))
            floatIn = .allocate(capacity: maxRead * target.channels)
            floatOut = .allocate(capacity: outCapacity * target.channels)
        }
        deinit {
            floatIn.deallocate()
            floatOut.deallocate()
        }

        /// How many input frames give at most `output` frames, capped at `cap`. Computed in
        /// floating point first: `output` may be Int.max (no duration limit), and with a ratio
        /// below 1 the quotient doesn't fit an Int (issue 10: this trapped).
        @inline(__always)
        func inputFrames(forOutput output: Int, cap: Int) -> Int {
            let d = Double(output) / ratio
            return d >= Double(cap) ? cap : Int(d)
        }
    }

    /// Opens `device` and prepares conversion into `target`. Throws (closing the device) when it
    /// can't give the target's rate and there is no rate converter.
    init(device: any CaptureDevice, request: CaptureRequest, target: StreamFormat,
         rateConverter: RateConverterFactory?) throws(DeviceError) {
        let g = try device.open(request)
        var resamplerConverter: (any SampleRateConverter)?
        if g.format.sampleRate != target.sampleRate {
            resamplerConverter = rateConverter?(target.channels, g.format.sampleRate, target.sampleRate)
            if resamplerConverter == nil {
                device.close()
                throw .unsupported(device: device.name, parameter: "rate",
                                   reason: "device gives \(g.format.sampleRate) Hz, not \(target.sampleRate) Hz (try a plughw: or plug PCM)")
            }
        }
        self.device = device
        self.request = request
        granted = g
        let needsScratch = g.format != target
        if needsScratch {
            converter = resamplerConverter == nil ? FrameConverter(source: g.format, target: target) : nil
            scratchFrames = Swift.max(g.periodFrames, 1024)
            scratch = .allocate(byteCount: scratchFrames * g.format.bytesPerFrame, alignment: 64)
        } else {
            converter = nil
            scratchFrames = 0
            scratch = nil
        }
        let reads = Swift.max(1, Swift.min(g.bufferFrames, needsScratch ? scratchFrames : Int.max))
        maxRead = reads
        if let c = resamplerConverter {
            resampler = Resampler(c, device: g.format, target: target, maxRead: reads)
        } else {
            resampler = nil
        }
    }

    /// Free ring frames one read needs (more than one frame only when resampling).
    var minimumRoom: Int { resampler?.minimumRoom ?? 1 }

    deinit { scratch?.deallocate() }
}

/// Runs one capture: device → ring → (meters, recording file).
///
/// Threads and ownership:
/// - The **capture queue** (serial, one long work item) is the only caller of the device's
///   `read`/`waitForData` and the only producer into the ring. It raises its worker thread to
///   SCHED_FIFO when allowed, and restores it on exit. After `start()` returns it does not
///   allocate, lock, log or touch files, except while switching devices (`switchDevice`).
/// - The **writer queue** (serial, one long work item) is the only consumer of the ring; it owns
///   the meter and the recording sink, and checkpoints the file about once a second.
/// - Any thread may read the published state (`framesCaptured`, `xrunCount`, meters…) and call
///   `stop()`. `switchDevice` is called from one control thread (the session's queue).
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
        /// Converts a device's rate to the recording's when they differ (nil: such a device is
        /// refused).
        public var rateConverter: RateConverterFactory?

        public init(request: CaptureRequest, recordingFormat: StreamFormat? = nil,
                    realtimePriority: Int32? = 70, maxFrames: Int? = nil, ringSeconds: Double = 2,
                    rateConverter: RateConverterFactory? = nil) {
            self.request = request
            self.recordingFormat = recordingFormat ?? request.format
            self.realtimePriority = realtimePriority
            self.maxFrames = maxFrames
            self.ringSeconds = ringSeconds
            self.rateConverter = rateConverter
        }
    }

    public let configuration: Configuration
    public let meterBoard: MeterBoard
    private let sink: (any RecordingSink)?
    private let initialDevice: any CaptureDevice

    private let captureQueue = DispatchQueue(label: "capdeck.capture", qos: .userInteractive)
    private let writerQueue = DispatchQueue(label: "capdeck.writer", qos: .userInitiated)
    private let finished = DispatchGroup()

    // Set up in start(), read-only afterwards.
    private var ring: FrameRing!
    private var meter: LevelMeter!
    private let wake: Doorbell
    private let dataBell: Doorbell
    private let spaceBell: Doorbell

    /// The device being captured. Written by the capture queue only (at start and at switches).
    private var binding: DeviceBinding!
    /// A switch handed from `switchDevice` to the capture queue (ordered by `switchRequested`).
    private var pendingSwitch: PendingSwitch?
    private let switchRequested = Atomic<Bool>(false)
    /// The gap a failed close-first switch cost (the old device was closed and reopened).
    public var lastFailedSwitchGap: DeviceSwitchReport? { failedSwitchGap.withLock { $0 } }
    private let failedSwitchGap = Mutex<DeviceSwitchReport?>(nil)
    /// The poll set for a full ring, allocated once. (A local tuple here would have Swift
    /// instantiate tuple type metadata, an allocation, the first time the ring fills: found by
    /// `captureThreadDoesNotAllocate` under load.)
    private let spacePoll = UnsafeMutablePointer<pollfd>.allocate(capacity: 2)
    /// Serialises `switchDevice` callers.
    private let switchLock = DispatchSemaphore(value: 1)

    // Published state.
    private let stopRequested = Atomic<Bool>(false)
    private let captureEnded = Atomic<Bool>(false)
    private let capturedFrames = Atomic<Int>(0)
    private let written = Atomic<Int>(0)
    private let xruns = Atomic<Int>(0)
    private let threadID = Atomic<Int32>(0)
    private let startNanos = Atomic<UInt64>(0)
    private let xrunLog: XrunLog
    private let state = Mutex<EngineState>(EngineState())
    private let markers = Mutex<[RecordingMarker]>([])

    private struct EngineState {
        var device: (any CaptureDevice)?
        var granted: GrantedParameters?
        var realtime: RealtimeStatus = .notStarted
        var captureEnd: CaptureEndReason?
        var writeError: RecordingError?
        var summary: CaptureSummary?
        var started = false
    }

    public init(device: any CaptureDevice, configuration: Configuration,
                sink: (any RecordingSink)? = nil, meterBoard: MeterBoard = MeterBoard()) throws(SystemError) {
        initialDevice = device
        self.configuration = configuration
        self.sink = sink
        self.meterBoard = meterBoard
        wake = try Doorbell()
        dataBell = try Doorbell()
        spaceBell = try Doorbell()
        xrunLog = XrunLog(capacity: 256)
        // Also makes Swift instantiate pollfd's type metadata now, off the real-time path.
        spacePoll.initialize(repeating: pollfd(), count: 2)
        if let sink { precondition(sink.format == configuration.recordingFormat, "sink format mismatch") }
    }

    deinit { spacePoll.deallocate() }

    // MARK: Published state (any thread)

    /// What is being captured now (a description; the device object itself belongs to the
    /// capture queue while it runs).
    public var device: DeviceInfo { DeviceInfo(state.withLock { $0.device } ?? initialDevice) }
    /// The parameters the current device granted (nil before start).
    public var granted: GrantedParameters? { state.withLock { $0.granted } }
    /// How the capture thread is scheduled.
    public var realtimeStatus: RealtimeStatus { state.withLock { $0.realtime } }
    /// Frames put into the recording so far (device frames plus gap silence).
    public var framesCaptured: Int { capturedFrames.load(ordering: .relaxed) }
    /// Device overruns and suspends so far.
    public var xrunCount: Int { xruns.load(ordering: .relaxed) }
    /// The most recent overruns, oldest first.
    public var recentXruns: [XrunEvent] { xrunLog.snapshot() }
    /// Kernel thread id of the capture thread while it runs (0 otherwise).
    public var captureThreadID: Int32 { threadID.load(ordering: .acquiring) }
    /// Whether the run has ended (the summary is available).
    public var isFinished: Bool { state.withLock { $0.summary != nil } }
    /// Whether capture is still running (started, not yet ended).
    public var isCapturing: Bool { threadID.load(ordering: .acquiring) != 0 && !captureEnded.load(ordering: .acquiring) }
    /// Frames the writer has handed to the sink so far.
    public var framesWritten: Int { written.load(ordering: .relaxed) }

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
        let b = try DeviceBinding(device: initialDevice, request: configuration.request, target: target, rateConverter: configuration.rateConverter)
        let g = b.granted
        binding = b
        let ringFrames = Swift.max(Int(Double(target.sampleRate) * configuration.ringSeconds), g.bufferFrames * 2, 4096)
        ring = FrameRing(minimumFrames: ringFrames, bytesPerFrame: target.bytesPerFrame)
        _ = mlock(ring.storageBytes.baseAddress, ring.storageBytes.count)  // best effort
        meter = LevelMeter(format: target, board: meterBoard)
        state.withLock { $0.granted = g; $0.device = initialDevice }

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

    /// Records a marker for the recording file (written where the container supports markers).
    public func addMarker(atFrame frame: Int, label: String) {
        markers.withLock { $0.append(RecordingMarker(frame: frame, label: label)) }
    }

    /// Switches capture to `newDevice` while running, keeping the recording going in the same
    /// ring and file, in the same format. The new device is opened first while the old one keeps
    /// capturing; if it is busy (the same hardware), the old one is closed first. The time
    /// between the old device's last frame and the new one's first is filled with silence, so the
    /// recording's duration keeps matching the wall clock.
    ///
    /// On failure capture carries on from the old device (reopened if it had to be closed) and
    /// the error is thrown. Blocking; call from one control thread (the session queue).
    ///
    /// - Parameter allowCloseFirst: when the new device is busy, whether to try again after
    ///   closing the old one (right when the old one is what holds it, as `hw` and `dsnoop` of
    ///   one card; it costs a gap if someone else holds it). A failed close-first attempt leaves
    ///   its gap in `lastFailedSwitchGap`.
    public func switchDevice(to newDevice: any CaptureDevice, request: CaptureRequest? = nil,
                             allowCloseFirst: Bool = true) throws(DeviceError) -> DeviceSwitchReport {
        let req = request ?? configuration.request
        switchLock.wait()
        defer { switchLock.signal() }
        failedSwitchGap.withLock { $0 = nil }
        guard isCapturing else { throw .unavailable(device: newDevice.name, reason: "capture is not running") }
        var prepared: DeviceBinding?
        do throws(DeviceError) {
            prepared = try DeviceBinding(device: newDevice, request: req, target: configuration.recordingFormat, rateConverter: configuration.rateConverter)
        } catch {
            // Busy may be our own hold on the same hardware: retry after closing the old device.
            guard case .busy = error, allowCloseFirst else { throw error }
        }
        let pending = PendingSwitch(device: newDevice, request: req, prepared: prepared)
        pendingSwitch = pending
        switchRequested.store(true, ordering: .releasing)
        wake.ring()
        // Serve the capture queue's requests (every device is opened and closed here, on this
        // thread, never at SCHED_FIFO) until it answers; if capture ended before it took the
        // switch, nobody will: take it back.
        served: while true {
            if pending.toSession.wait(timeout: .now() + .milliseconds(100)) == .timedOut {
                if captureEnded.load(ordering: .acquiring) && switchRequested.exchange(false, ordering: .acquiring) {
                    pending.finish(.unavailable(device: newDevice.name, reason: "capture ended during the switch"))
                    break served
                }
                continue
            }
            switch pending.message {
            case .finished: break served
            case .openNew: pending.answer = pending.open(newDevice, req, target: configuration.recordingFormat, configuration.rateConverter)
            case .reopen(let old): pending.answer = pending.open(old.device, old.request, target: configuration.recordingFormat, configuration.rateConverter)
            case nil: break
            }
            pending.message = nil
            pending.toCapture.signal()
        }
        pendingSwitch = nil
        // Everything the capture queue let go of is closed and released here, off the capture queue.
        pending.releaseRetired()
        if let e = pending.error {
            failedSwitchGap.withLock { $0 = pending.report }
            throw e
        }
        let report = pending.report!
        state.withLock { $0.granted = report.granted; $0.device = newDevice }
        return report
    }

    // MARK: Capture queue

    private func captureEntry(started: DispatchSemaphore, startError: StartResult) {
        let (saved, rt) = SavedScheduling.promote(priority: configuration.realtimePriority)
        state.withLock { $0.realtime = rt }
        threadID.store(currentThreadID(), ordering: .releasing)
        var end: CaptureEndReason = .stopped
        do throws(DeviceError) {
            try binding.device.start()
            startNanos.store(monotonicNanos(), ordering: .relaxed)
            started.signal()
            while true {
                switch captureLoop(binding) {
                case .ended(let reason):
                    end = reason
                    // Stopped by request: keep what the device already captured.
                    if reason == .stopped { drainAvailable(binding) }
                    // Whatever the converter still holds belongs to the recording too.
                    if reason != .durationReached { flushResampler(binding) }
                case .switchRequested:
                    if let failure = performSwitch() {
                        end = .deviceLost(failure)
                        break
                    }
                    continue
                }
                break
            }
        } catch {
            startError.error = error
            end = .deviceLost(error)
            started.signal()
        }
        // A switch requested just as capture ended gets an answer (its prepared device is closed
        // by the switching thread).
        if switchRequested.exchange(false, ordering: .acquiring), let p = pendingSwitch {
            p.finish(.unavailable(device: p.device.name, reason: "capture ended during the switch"))
        }
        threadID.store(0, ordering: .releasing)
        // Normal scheduling again before closing: a close frees memory and may join threads.
        saved.restore()
        if case .deviceLost = end {
            // A device that failed or stalled may not close promptly (the pulse plugin's close
            // waits for a stopped server to answer): close it aside, so the end is reported now
            // and the session can wait for the device to come back.
            let device = binding.device
            DispatchQueue.global(qos: .utility).async { device.close() }
        } else {
            binding.device.close()
        }
        state.withLock { $0.captureEnd = end }
        captureEnded.store(true, ordering: .releasing)
        dataBell.ring()
        finished.leave()
    }

    private enum LoopExit { case ended(CaptureEndReason), switchRequested }

    private func captureLoop(_ b: DeviceBinding) -> LoopExit {
        runLoop(b.device, b)
    }

    /// The real-time loop. No allocation, lock, logging or file I/O in here.
    private func runLoop<D: CaptureDevice>(_ device: D, _ b: DeviceBinding) -> LoopExit {
        let ring = self.ring!
        let limit = configuration.maxFrames ?? Int.max
        var captured = capturedFrames.load(ordering: .relaxed)
        var watch = StallWatch(granted: b.granted)
        while true {
            if stopRequested.load(ordering: .relaxed) { return .ended(.stopped) }
            if captured >= limit { return .ended(.durationReached) }
            if switchRequested.load(ordering: .acquiring) { return .switchRequested }
            guard let r = readIntoRing(device, b, left: limit - captured) else {
                waitForSpace(ring, needed: b.minimumRoom)
                continue
            }
            if r.added > 0 {
                captured += r.added
                capturedFrames.store(captured, ordering: .relaxed)
                dataBell.ringIfWaiting()
            }
            if case .frames(let n) = r.result, n > 0 { watch.delivered(); continue }
            if let end = handleNoFrames(r.result, device, captured: captured, watch: &watch) { return .ended(end) }
        }
    }

    /// One non-blocking read of the device straight into the ring, converted (and resampled)
    /// into the recording's format, then published. Returns the device's answer and the frames
    /// added, or nil when the ring has no room for a read. Real-time path: shared by the capture
    /// loop and the drains at a stop or a switch, so every path converts the same way.
    /// (A nominal struct, not a tuple: tuple type metadata can be instantiated lazily, which
    /// allocates, the first time a path runs.)
    private struct ReadOutcome {
        let result: DeviceRead
        let added: Int
    }

    @inline(__always)
    private func readIntoRing<D: CaptureDevice>(_ device: D, _ b: DeviceBinding, left: Int) -> ReadOutcome? {
        let ring = self.ring!
        let space = ring.writeVector()
        if let rs = b.resampler, let scratch = b.scratch {
            // Read what fits once resampled; write it across the ring's wrap.
            guard space.frames >= rs.minimumRoom else { return nil }
            let want = Swift.min(rs.inputFrames(forOutput: space.frames - 64, cap: b.maxRead),
                                 rs.inputFrames(forOutput: left, cap: b.maxRead - 1) + 1)
            guard want > 0 else { return nil }
            let result = device.read(into: scratch, frames: want)
            guard case .frames(let n) = result, n > 0 else { return ReadOutcome(result: result, added: 0) }
            rs.toFloat.convert(from: scratch, to: UnsafeMutableRawPointer(rs.floatIn), frames: n)
            let c = rs.converter.process(input: rs.floatIn, frames: n, output: rs.floatOut,
                                         capacity: Swift.min(rs.outCapacity, space.frames))
            if c.failed || c.consumed < n {
                // Never silently short: the block becomes silence of its length, counted as a
                // discontinuity, and the converter starts over.
                rs.converter.reset()
                let now = monotonicNanos() - startNanos.load(ordering: .relaxed)
                xrunLog.append(XrunEvent(atNanos: now, atFrame: capturedFrames.load(ordering: .relaxed), kind: .conversionFailure))
                xruns.add(1, ordering: .relaxed)
                let lost = Int((Double(n - (c.failed ? 0 : c.consumed)) * rs.ratio).rounded())
                if !c.failed { writeResampled(rs, frames: Swift.min(c.produced, left), into: ring) }
                let converted = c.failed ? 0 : Swift.min(c.produced, left)
                let silence = Swift.min(lost, ring.writableFrames, left - converted)
                writeSilence(frames: silence, into: ring)
                return ReadOutcome(result: result, added: converted + silence)
            }
            let out = Swift.min(c.produced, left)
            writeResampled(rs, frames: out, into: ring)
            return ReadOutcome(result: result, added: out)
        }
        let want = Swift.min(space.first.frames, left, b.maxRead)
        guard want > 0, let target = space.first.pointer else { return nil }
        let result: DeviceRead
        if let converter = b.converter, let scratch = b.scratch {
            result = device.read(into: scratch, frames: want)
            if case .frames(let n) = result, n > 0 { converter.convert(from: scratch, to: target, frames: n) }
        } else {
            result = device.read(into: target, frames: want)
        }
        guard case .frames(let n) = result, n > 0 else { return ReadOutcome(result: result, added: 0) }
        ring.commitWrite(n)
        return ReadOutcome(result: result, added: n)
    }

    /// A read that brought no frames: wait for the device, or count an overrun, or end on a
    /// failure (the returned reason). Real-time path: no allocation, lock or logging.
    @inline(__always)
    private func handleNoFrames<D: CaptureDevice>(_ result: DeviceRead, _ device: D, captured: Int,
                                                  watch: inout StallWatch) -> CaptureEndReason? {
        switch result {
        case .frames:
            let w = device.waitForData(wakeFD: wake.fd, timeoutMs: watch.pollMs)
            switch w {
            case .ready, .timedOut:
                if let quiet = watch.nothing(timedOut: w == .timedOut) {
                    return .deviceLost(.stalled(device: device.name, seconds: Double(quiet) / 1e9))
                }
                return nil
            case .woken: wake.drain(); return nil
            case .failed(let e): return .deviceLost(e)
            }
        case .overrun, .suspended:
            watch.delivered()
            let now = monotonicNanos() - startNanos.load(ordering: .relaxed)
            xrunLog.append(XrunEvent(atNanos: now, atFrame: captured, kind: result == .suspended ? .suspend : .overrun))
            xruns.add(1, ordering: .relaxed)
            return nil
        case .failed(let e):
            return .deviceLost(e)
        }
    }

    /// Converts `frames` resampled Float frames into the ring (across the wrap) and publishes them.
    private func writeResampled(_ rs: DeviceBinding.Resampler, frames: Int, into ring: FrameRing) {
        guard frames > 0 else { return }
        let v = ring.writeVector()
        let n1 = Swift.min(frames, v.first.frames)
        rs.fromFloat.convert(from: UnsafeRawPointer(rs.floatOut), to: v.first.pointer!, frames: n1)
        if frames > n1, let second = v.second.pointer {
            let channels = configuration.recordingFormat.channels
            rs.fromFloat.convert(from: UnsafeRawPointer(rs.floatOut + n1 * channels), to: second, frames: frames - n1)
        }
        ring.commitWrite(frames)
    }

    /// Moves capture from the current device to the pending switch's. Runs on the capture queue,
    /// which only reads, starts and drains devices here: every open, close and release happens on
    /// the switching (session) thread, which this asks and waits for — so no helper thread a
    /// device starts (the pulse plugin's mainloop) inherits SCHED_FIFO, and no binding is freed
    /// at real-time priority.
    ///
    /// - Opened beside (the usual case): the old device keeps running while the new one starts;
    ///   if the new one fails to start, capture simply stays on the old one (no gap).
    /// - Close first (same hardware): the old device is drained and closed, the new one opened
    ///   and started; if that fails, it is closed and the old one reopened, and the time without a
    ///   device is silence. If even the old one can't be reopened, capture ends with that error
    ///   (`deviceLost`), so the session reconnects instead of taking it for a stop.
    ///
    /// Returns the error that ends capture, or nil to carry on.
    private func performSwitch() -> DeviceError? {
        guard switchRequested.exchange(false, ordering: .acquiring), let p = pendingSwitch else { return nil }
        let failure = switchBody(p)
        // Every local reference to a binding is gone by now: the switching thread releases them.
        p.finish(nil)
        return failure
    }

    private func switchBody(_ p: PendingSwitch) -> DeviceError? {
        let old = binding!
        if let prepared = p.prepared {
            // 1. Opened beside: start the new device while the old one keeps capturing, then take
            // what the old one still holds (and its converter's tail). Their audio meets with no
            // gap, so no silence is written.
            do throws(DeviceError) {
                try prepared.device.start()
            } catch {
                // The old device never stopped capturing: carry on with it, nothing lost.
                p.retire(prepared)
                p.error = error
                return nil
            }
            drainAvailable(old)
            flushResampler(old)
            let atFrame = capturedFrames.load(ordering: .relaxed)
            binding = prepared
            p.preparedTaken = true
            p.retire(old)
            p.report = DeviceSwitchReport(device: prepared.device.name, granted: prepared.granted, atFrame: atFrame,
                                          gapFrames: 0, gapNanos: 0)
            return nil
        }
        // Keep every frame the old device already captured, and what its converter holds.
        drainAvailable(old)
        flushResampler(old)
        let atFrame = capturedFrames.load(ordering: .relaxed)
        // 2. Close first: the switching thread closes the old device and opens the new one.
        let stopped = monotonicNanos()
        p.retire(old)
        var next: DeviceBinding?
        var error: DeviceError?
        switch p.ask(.openNew) {
        case .success(let b):
            do throws(DeviceError) {
                try b.device.start()
                next = b
            } catch let e {
                p.retire(b)
                error = e
            }
        case .failure(let e):
            error = e
        }
        if let next {
            let started = monotonicNanos()
            let gapFrames = fillSilence(nanos: started - stopped)
            binding = next
            p.report = DeviceSwitchReport(device: next.device.name, granted: next.granted, atFrame: atFrame,
                                          gapFrames: gapFrames, gapNanos: started - stopped)
            return nil
        }
        // 3. The new device failed: back to the old one, with the time in between as silence.
        p.error = error
        switch p.ask(.reopen(old)) {
        case .success(let again):
            binding = again
            do throws(DeviceError) {
                try again.device.start()
            } catch let e {
                return e  // captureEntry closes it
            }
            let gapNanos = monotonicNanos() - stopped
            let gapFrames = fillSilence(nanos: gapNanos)
            p.report = DeviceSwitchReport(device: old.device.name, granted: again.granted, atFrame: atFrame,
                                          gapFrames: gapFrames, gapNanos: gapNanos)
            return nil
        case .failure(let e):
            return e
        }
    }

    /// Reads everything the device has ready into the ring (bounded; stops at a full ring or at
    /// the duration limit).
    private func drainAvailable(_ b: DeviceBinding) {
        let limit = configuration.maxFrames ?? Int.max
        for _ in 0..<64 {
            let left = limit - capturedFrames.load(ordering: .relaxed)
            guard left > 0, let r = readIntoRing(b.device, b, left: left) else { return }
            if r.added > 0 {
                capturedFrames.add(r.added, ordering: .relaxed)
                dataBell.ringIfWaiting()
            }
            guard case .frames(let n) = r.result, n > 0 else { return }
        }
    }

    /// The device's input has ended (a stop, a lost device, a switch away from it): writes what
    /// its rate converter still holds back into the ring, up to the duration limit.
    private func flushResampler(_ b: DeviceBinding) {
        guard let rs = b.resampler else { return }
        let ring = self.ring!
        let limit = configuration.maxFrames ?? Int.max
        while true {
            let left = limit - capturedFrames.load(ordering: .relaxed)
            guard left > 0 else { rs.converter.reset(); return }
            let room = ring.writableFrames
            if room == 0 { waitForSpace(ring, needed: 1, evenWhenStopping: true); continue }
            let n = rs.converter.flush(output: rs.floatOut, capacity: Swift.min(rs.outCapacity, room))
            guard n > 0 else { return }
            let out = Swift.min(n, left)
            writeResampled(rs, frames: out, into: ring)
            capturedFrames.add(out, ordering: .relaxed)
            dataBell.ringIfWaiting()
        }
    }

    /// Writes `nanos` worth of silence into the ring (waiting for space as needed), never past the
    /// duration limit.
    @discardableResult
    private func fillSilence(nanos: UInt64) -> Int {
        let ring = self.ring!
        let rate = configuration.recordingFormat.sampleRate
        let limit = configuration.maxFrames ?? Int.max
        var remaining = Swift.min(Int(nanos / 1000) * rate / 1_000_000,
                                  Swift.max(0, limit - capturedFrames.load(ordering: .relaxed)))
        let total = remaining
        while remaining > 0 && !stopRequested.load(ordering: .relaxed) {
            let v = ring.writeVector()
            if v.frames == 0 { waitForSpace(ring, needed: 1); continue }
            let n = Swift.min(v.first.frames, remaining)
            writeSilence(frames: n, into: ring)
            capturedFrames.add(n, ordering: .relaxed)
            remaining -= n
            dataBell.ringIfWaiting()
        }
        return total - remaining
    }

    /// Writes `frames` of silence into the ring (which must have room) and publishes them.
    private func writeSilence(frames: Int, into ring: FrameRing) {
        guard frames > 0 else { return }
        let v = ring.writeVector()
        // Zero bytes are silence in every supported format (integer 0, float +0.0).
        let n1 = Swift.min(frames, v.first.frames)
        v.first.pointer!.initializeMemory(as: UInt8.self, repeating: 0, count: n1 * ring.bytesPerFrame)
        if frames > n1, let second = v.second.pointer {
            second.initializeMemory(as: UInt8.self, repeating: 0, count: (frames - n1) * ring.bytesPerFrame)
        }
        ring.commitWrite(frames)
    }

    /// The ring has fewer than `needed` free frames: sleep until the writer frees that much, or
    /// (unless `evenWhenStopping`) a stop is requested. Never returns at once while the room is
    /// short, so a loop that needs room for a whole converted block doesn't spin at SCHED_FIFO.
    private func waitForSpace(_ ring: FrameRing, needed: Int, evenWhenStopping: Bool = false) {
        spaceBell.prepareToWait()
        if ring.writableFrames >= needed || (!evenWhenStopping && stopRequested.load(ordering: .sequentiallyConsistent)) {
            spaceBell.cancelWait()
            return
        }
        spacePoll[0] = pollfd(fd: spaceBell.fd, events: Int16(POLLIN), revents: 0)
        spacePoll[1] = pollfd(fd: wake.fd, events: Int16(POLLIN), revents: 0)
        _ = poll(spacePoll, evenWhenStopping ? 1 : 2, 100)
        spaceBell.cancelWait()
        spaceBell.drain()
        if !evenWhenStopping { wake.drain() }
    }

    // MARK: Writer queue

    private func writerLoop() {
        let ring = self.ring!
        let meter = self.meter!
        var writeError: RecordingError?
        var lastCheckpoint = monotonicNanos()
        let checkpointInterval: UInt64 = 1_000_000_000
        // Checkpoint at least once a second of wall time and once a second of audio, so an
        // unpaced capture also never has more than ~1 s of audio beyond its last header.
        let checkpointFrames = configuration.recordingFormat.sampleRate
        var framesSinceCheckpoint = 0
        while true {
            let v = ring.readVector(limit: checkpointFrames)
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
                written.add(v.frames, ordering: .relaxed)
                spaceBell.ringIfWaiting()
                framesSinceCheckpoint += v.frames
            }
            let now = monotonicNanos()
            if now - lastCheckpoint >= checkpointInterval || framesSinceCheckpoint >= checkpointFrames {
                lastCheckpoint = now
                framesSinceCheckpoint = 0
                // Markers go to the sink while its file is open (a console recording may end
                // long before the engine does).
                if let sink {
                    for m in markers.withLock({ m -> [RecordingMarker] in defer { m.removeAll() }; return m }) { sink.addMarker(m) }
                }
                if let sink, writeError == nil {
                    do throws(RecordingError) { try sink.checkpoint() } catch {
                        writeError = error
                        stop()
                    }
                }
            }
        }
        if let sink {
            for m in markers.withLock({ m -> [RecordingMarker] in defer { m.removeAll() }; return m }) { sink.addMarker(m) }
            do throws(RecordingError) { try sink.finish() } catch {
                if writeError == nil { writeError = error }
            }
        }
        let savedFrames = sink?.framesWritten ?? ring.totalRead
        state.withLock { s in
            s.writeError = writeError
            var end = s.captureEnd ?? .stopped
            if let writeError { end = .writeFailed(writeError) }
            s.summary = CaptureSummary(framesCaptured: capturedFrames.load(ordering: .relaxed),
                                       framesWritten: savedFrames, xruns: xruns.load(ordering: .relaxed),
                                       endReason: end)
        }
        finished.leave()
    }
}

/// Notices a running device that delivers nothing without an error (a sound server stopped, a
/// stream unlinked): nothing for longer than max(1 s, 4 device buffers) ends capture with
/// `DeviceError.stalled`, and the session reopens the route. It adds no system call to the steady
/// state: the device's poll timeout is half that limit, and the clock is read only when a poll
/// times out (or after 256 wake-ups in a row that brought nothing).
struct StallWatch {
    let limitNanos: UInt64
    let pollMs: Int32
    /// When the silence began (0: data arrived since the last look at the clock).
    private var quietSince: UInt64 = 0
    private var emptyWakes = 0

    init(granted: GrantedParameters) {
        let buffer = UInt64(granted.bufferFrames) * 1_000_000_000 / UInt64(Swift.max(1, granted.format.sampleRate))
        limitNanos = Swift.max(1_000_000_000, 4 * buffer)
        pollMs = Int32(limitNanos / 2 / 1_000_000)
    }

    @inline(__always)
    mutating func delivered() {
        quietSince = 0
        emptyWakes = 0
    }

    /// A wait brought nothing (it timed out, or woke with no data): the silence's length once it
    /// is over the limit, else nil.
    @inline(__always)
    mutating func nothing(timedOut: Bool) -> UInt64? {
        if !timedOut {
            emptyWakes += 1
            guard emptyWakes & 255 == 0 else { return nil }
        }
        let now = monotonicNanos()
        if quietSince == 0 {
            // A timed-out poll waited pollMs with nothing: the silence began that long ago.
            quietSince = timedOut ? now - UInt64(pollMs) * 1_000_000 : now
            return nil
        }
        let quiet = now - quietSince
        return quiet >= limitNanos ? quiet : nil
    }
}

/// A device switch in flight between `switchDevice` (the switching thread) and the capture queue.
/// The two take turns: the capture queue posts a message and waits on `toCapture`; the switching
/// thread waits on `toSession`, acts, and signals back. The semaphores order every access.
private final class PendingSwitch: @unchecked Sendable {
    enum Message {
        /// Close-first: open the new device (the old one is already retired).
        case openNew
        /// Open this device again, as it was (the new one failed).
        case reopen(DeviceBinding)
        /// The switch is over (`report`/`error` say how).
        case finished
    }
    let device: any CaptureDevice
    let request: CaptureRequest
    let prepared: DeviceBinding?
    let toSession = DispatchSemaphore(value: 0)
    let toCapture = DispatchSemaphore(value: 0)
    var message: Message?
    var answer: Result<DeviceBinding, DeviceError>?
    var report: DeviceSwitchReport?
    var error: DeviceError?
    /// Bindings the capture queue is done with, closed and released by the switching thread.
    private var retired: [DeviceBinding] = []
    /// The prepared binding became the capture queue's.
    var preparedTaken = false

    init(device: any CaptureDevice, request: CaptureRequest, prepared: DeviceBinding?) {
        self.device = device
        self.request = request
        self.prepared = prepared
        // Room for what one switch can retire, so the capture queue never grows the array.
        retired.reserveCapacity(4)
    }

    /// Capture queue: hands `b` over for closing (it must not be read again).
    func retire(_ b: DeviceBinding) {
        if !retired.contains(where: { $0 === b }) { retired.append(b) }
    }

    /// Capture queue: asks the switching thread to act and waits for its answer. The retired
    /// bindings are closed first (close-first means the old device must let go of the hardware).
    func ask(_ m: Message) -> Result<DeviceBinding, DeviceError> {
        message = m
        toSession.signal()
        toCapture.wait()
        let a = answer!
        answer = nil
        return a
    }

    /// Either side, once: the switch is over.
    func finish(_ e: DeviceError?) {
        if let e { error = e }
        message = .finished
        toSession.signal()
    }

    /// Switching thread: closes what was retired, then opens `device` afresh.
    func open(_ device: any CaptureDevice, _ request: CaptureRequest, target: StreamFormat,
              _ rateConverter: RateConverterFactory?) -> Result<DeviceBinding, DeviceError> {
        closeRetired()
        do throws(DeviceError) {
            return .success(try DeviceBinding(device: device, request: request, target: target, rateConverter: rateConverter))
        } catch {
            return .failure(error)
        }
    }

    private var closedUpTo = 0
    private func closeRetired() {
        while closedUpTo < retired.count {
            retired[closedUpTo].device.close()
            closedUpTo += 1
        }
    }

    /// Switching thread, after the switch: closes and releases everything the capture queue let
    /// go of, and a prepared device that never ran.
    func releaseRetired() {
        closeRetired()
        // Capture ended before it took the switch: the prepared device never ran.
        if let prepared, !preparedTaken, !retired.contains(where: { $0 === prepared }) { prepared.device.close() }
        retired.removeAll()
    }
}

/// Hands a start failure from the capture queue to `start()` (the semaphore orders the access).
private final class StartResult: @unchecked Sendable {
    var error: DeviceError?
}

/// A fixed-capacity log of recent overruns: appended on the capture queue without allocating,
/// read from any thread. Each field is atomic; an entry being overwritten (more than `capacity`
/// xruns behind the newest) while a snapshot reads it may mix two events' fields.
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
        // The kind goes in the top two bits of the time (never reached: 146 years of uptime).
        times[slot].store(e.atNanos | e.kind.rawValue << 62, ordering: .relaxed)
        frames[slot].store(e.atFrame, ordering: .relaxed)
        count.store(n + 1, ordering: .releasing)
    }

    func snapshot() -> [XrunEvent] {
        let n = count.load(ordering: .acquiring)
        let first = Swift.max(0, n - capacity)
        return (first..<n).map { i in
            let t = times[i % capacity].load(ordering: .relaxed)
            return XrunEvent(atNanos: t & ~(3 << 62), atFrame: frames[i % capacity].load(ordering: .relaxed),
                             kind: XrunEvent.Kind(rawValue: t >> 62) ?? .overrun)
        }
    }
}
