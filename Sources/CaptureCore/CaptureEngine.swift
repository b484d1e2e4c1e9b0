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
        let ratio: Double
        init(_ converter: any SampleRateConverter, device: StreamFormat, target: StreamFormat, maxRead: Int) {
            self.converter = converter
            let floatDevice = StreamFormat(sampleFormat: .floatLE, sampleRate: device.sampleRate, channels: target.channels)
            let floatTarget = StreamFormat(sampleFormat: .floatLE, sampleRate: target.sampleRate, channels: target.channels)
            toFloat = FrameConverter(source: device, target: floatDevice)
            fromFloat = FrameConverter(source: floatTarget, target: target)
            ratio = Double(target.sampleRate) / Double(device.sampleRate)
            outCapacity = Int((Double(maxRead) * ratio).rounded(.up)) + 64
            floatIn = .allocate(capacity: maxRead * target.channels)
            floatOut = .allocate(capacity: outCapacity * target.channels)
        }
        deinit {
            floatIn.deallocate()
            floatOut.deallocate()
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
    public private(set) var lastFailedSwitchGap: DeviceSwitchReport?
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
        lastFailedSwitchGap = nil
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
        // The capture queue answers; if capture ended meanwhile, nobody will.
        while pending.done.wait(timeout: .now() + .milliseconds(100)) == .timedOut {
            if !isCapturing && switchRequested.load(ordering: .acquiring) {
                switchRequested.store(false, ordering: .relaxed)
                pendingSwitch = nil
                prepared?.device.close()
                throw .unavailable(device: newDevice.name, reason: "capture ended during the switch")
            }
        }
        pendingSwitch = nil
        // The replaced binding is released here, off the capture queue.
        let old = pending.replaced
        pending.replaced = nil
        _ = old
        if let e = pending.error {
            lastFailedSwitchGap = pending.report
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
                case .switchRequested:
                    performSwitch()
                    continue
                }
                break
            }
        } catch {
            startError.error = error
            end = .deviceLost(error)
            started.signal()
        }
        binding.device.close()
        // A switch requested just as capture ended gets an answer.
        if switchRequested.exchange(false, ordering: .acquiring), let p = pendingSwitch {
            p.prepared?.device.close()
            p.error = .unavailable(device: p.device.name, reason: "capture ended during the switch")
            p.done.signal()
        }
        threadID.store(0, ordering: .releasing)
        saved.restore()
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
        while true {
            if stopRequested.load(ordering: .relaxed) { return .ended(.stopped) }
            if captured >= limit { return .ended(.durationReached) }
            if switchRequested.load(ordering: .acquiring) { return .switchRequested }
            guard let r = readIntoRing(device, b, left: limit - captured) else {
                waitForSpace(ring)
                continue
            }
            if r.added > 0 {
                captured += r.added
                capturedFrames.store(captured, ordering: .relaxed)
                dataBell.ringIfWaiting()
            }
            if case .frames(let n) = r.result, n > 0 { continue }
            if let end = handleNoFrames(r.result, device, captured: captured) { return .ended(end) }
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
            let want = Swift.min(Int(Double(space.frames - 64) / rs.ratio), b.maxRead, Int(Double(left) / rs.ratio) + 1)
            guard want > 0 else { return nil }
            let result = device.read(into: scratch, frames: want)
            guard case .frames(let n) = result, n > 0 else { return ReadOutcome(result: result, added: 0) }
            rs.toFloat.convert(from: scratch, to: UnsafeMutableRawPointer(rs.floatIn), frames: n)
            let (_, produced) = rs.converter.process(input: rs.floatIn, frames: n, output: rs.floatOut, capacity: rs.outCapacity)
            let out = Swift.min(produced, left, ring.writableFrames)
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
    private func handleNoFrames<D: CaptureDevice>(_ result: DeviceRead, _ device: D, captured: Int) -> CaptureEndReason? {
        switch result {
        case .frames:
            switch device.waitForData(wakeFD: wake.fd, timeoutMs: 1000) {
            case .ready, .timedOut: return nil
            case .woken: wake.drain(); return nil
            case .failed(let e): return .deviceLost(e)
            }
        case .overrun, .suspended:
            let now = monotonicNanos() - startNanos.load(ordering: .relaxed)
            xrunLog.append(XrunEvent(atNanos: now, atFrame: captured, suspended: result == .suspended))
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

    /// Reads what the old device still holds, closes it, starts the new one, and fills the gap
    /// with silence. Runs on the capture queue; may allocate (it opens devices).
    private func performSwitch() {
        switchRequested.store(false, ordering: .relaxed)
        guard let p = pendingSwitch else { return }
        let old = binding!
        let target = configuration.recordingFormat
        // 1. Keep every frame the old device already captured.
        drainAvailable(old)
        let atFrame = capturedFrames.load(ordering: .relaxed)
        let stopped = monotonicNanos()
        old.device.close()
        // 2. Open (if not yet) and start the new device.
        var next: DeviceBinding
        do throws(DeviceError) {
            if let prepared = p.prepared {
                next = prepared
            } else {
                next = try DeviceBinding(device: p.device, request: p.request, target: target, rateConverter: configuration.rateConverter)
            }
            try next.device.start()
        } catch {
            p.prepared?.device.close()
            p.error = error
            // Carry on from the old device; if even that fails, capture ends with the error.
            let resumed = monotonicNanos()
            do throws(DeviceError) {
                let again = try DeviceBinding(device: old.device, request: old.request, target: target, rateConverter: configuration.rateConverter)
                try again.device.start()
                binding = again
                p.replaced = old
                let gapNanos = monotonicNanos() - stopped
                let gapFrames = fillSilence(nanos: gapNanos)
                p.report = DeviceSwitchReport(device: old.device.name, granted: again.granted, atFrame: atFrame,
                                              gapFrames: gapFrames, gapNanos: gapNanos)
                _ = resumed
            } catch {
                p.replaced = nil
                stop()
            }
            p.done.signal()
            return
        }
        let started = monotonicNanos()
        // 3. Silence for the time no device was capturing.
        let gapFrames = fillSilence(nanos: started - stopped)
        binding = next
        p.replaced = old
        p.report = DeviceSwitchReport(device: next.device.name, granted: next.granted, atFrame: atFrame,
                                      gapFrames: gapFrames, gapNanos: started - stopped)
        p.done.signal()
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

    /// Writes `nanos` worth of silence into the ring (waiting for space as needed).
    @discardableResult
    private func fillSilence(nanos: UInt64) -> Int {
        let ring = self.ring!
        let rate = configuration.recordingFormat.sampleRate
        var remaining = Int(nanos / 1000) * rate / 1_000_000
        let total = remaining
        while remaining > 0 && !stopRequested.load(ordering: .relaxed) {
            let v = ring.writeVector()
            if v.frames == 0 { waitForSpace(ring); continue }
            let n = Swift.min(v.first.frames, remaining)
            // Zero bytes are silence in every supported format (integer 0, float +0.0).
            v.first.pointer!.initializeMemory(as: UInt8.self, repeating: 0, count: n * ring.bytesPerFrame)
            ring.commitWrite(n)
            capturedFrames.add(n, ordering: .relaxed)
            remaining -= n
            dataBell.ringIfWaiting()
        }
        return total - remaining
    }

    /// The ring is full: sleep until the writer frees space or stop is requested.
    private func waitForSpace(_ ring: FrameRing) {
        spaceBell.prepareToWait()
        if ring.writableFrames > 0 || stopRequested.load(ordering: .sequentiallyConsistent) {
            spaceBell.cancelWait()
            return
        }
        spacePoll[0] = pollfd(fd: spaceBell.fd, events: Int16(POLLIN), revents: 0)
        spacePoll[1] = pollfd(fd: wake.fd, events: Int16(POLLIN), revents: 0)
        _ = poll(spacePoll, 2, 100)
        spaceBell.cancelWait()
        spaceBell.drain()
        wake.drain()
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

/// A device switch in flight between `switchDevice` and the capture queue (the semaphore and
/// `switchRequested` order every access).
private final class PendingSwitch: @unchecked Sendable {
    let device: any CaptureDevice
    let request: CaptureRequest
    let prepared: DeviceBinding?
    let done = DispatchSemaphore(value: 0)
    var report: DeviceSwitchReport?
    var error: DeviceError?
    var replaced: DeviceBinding?
    init(device: any CaptureDevice, request: CaptureRequest, prepared: DeviceBinding?) {
        self.device = device
        self.request = request
        self.prepared = prepared
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
