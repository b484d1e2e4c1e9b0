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
    public init(_ d: any CaptureSource) {
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

/// Runs one capture: device → ring → (meters, recording file).
///
/// Threads and ownership:
/// - The **capture queue** (serial, one long work item) is the only caller of the device's
///   `read`/`waitForData` and the only producer into the ring. It raises its worker thread to
///   SCHED_FIFO when allowed, and restores it on exit. After `start()` returns it does not
///   allocate, lock, log or touch files, except while switching devices (`switchDevice`).
/// - The **writer queue** (serial, one long work item) is the only consumer of the ring; it owns
///   the meter and the recording sink, and checkpoints the file about once a second. It wakes
///   per batch (`writerBatchSeconds`), not per device period.
/// - Any thread may read the published state (`framesCaptured`, `xrunCount`, meters…) and call
///   `stop()`. `switchDevice` is called from one control thread (the session's queue).
///
/// `@unchecked Sendable`: shared state is atomics or behind `state`/`markers` mutexes; the rest is
/// owned by one queue as listed above (`EngineRun`, `PendingSwitch`).
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
        /// The device channels recorded, in order (nil: all of `recordingFormat`'s, by index). Its
        /// count is `recordingFormat.channels`; the device must give `deviceChannels` of them.
        public var channelSelection: ChannelSelection?
        /// Audio the writer lets gather in the ring before it wakes (capped at a quarter of the
        /// ring): it sleeps until the capture thread has published this much, the capture ends,
        /// a marker arrives, or 250 ms (two batches, when that is longer) pass. With periods
        /// shorter than this the writer wakes once per batch instead of once per period (meters,
        /// files and data outputs get the same frames, in bigger batches); with longer periods,
        /// once per period. 20 ms keeps a 30 fps meter fresh; longer batches save wake-ups and
        /// lose more to a crash (`CaptureSession.outputBatchSeconds`). 0: every period.
        public var writerBatchSeconds: Double

        public init(request: CaptureRequest, recordingFormat: StreamFormat? = nil,
                    realtimePriority: Int32? = 70, maxFrames: Int? = nil, ringSeconds: Double = 2,
                    rateConverter: RateConverterFactory? = nil, channelSelection: ChannelSelection? = nil,
                    writerBatchSeconds: Double = 0.02) {
            self.request = request
            self.recordingFormat = recordingFormat ?? request.format
            self.realtimePriority = realtimePriority
            self.maxFrames = maxFrames
            self.ringSeconds = ringSeconds
            self.rateConverter = rateConverter
            self.channelSelection = channelSelection
            self.writerBatchSeconds = writerBatchSeconds
        }

        /// What the capture thread puts into the ring: the recording's encoding and rate, with
        /// every device channel up to the highest selected (the writer gathers the selection).
        public var ringFormat: StreamFormat {
            guard let sel = channelSelection else { return recordingFormat }
            var f = recordingFormat
            f.channels = sel.deviceChannels
            return f
        }
    }

    public let configuration: Configuration
    public let meterBoard: MeterBoard
    let sink: (any RecordingSink)?
    let initialDevice: any CaptureSource

    let captureQueue = DispatchQueue(label: "capdeck.capture", qos: .userInteractive)
    let writerQueue = DispatchQueue(label: "capdeck.writer", qos: .userInitiated)
    let finished = DispatchGroup()

    let wake: Doorbell
    let dataBell: Doorbell
    let spaceBell: Doorbell

    /// A switch handed from `switchDevice` to the capture queue (ordered by `switchRequested`).
    var pendingSwitch: PendingSwitch?
    let switchRequested = Atomic<Bool>(false)
    /// The gap a failed close-first switch cost (the old device was closed and reopened).
    public var lastFailedSwitchGap: DeviceSwitchReport? { failedSwitchGap.withLock { $0 } }
    let failedSwitchGap = Mutex<DeviceSwitchReport?>(nil)
    /// The poll set for a full ring, allocated once. (A local tuple here would have Swift
    /// instantiate tuple type metadata, an allocation, the first time the ring fills: found by
    /// `captureThreadDoesNotAllocate` under load.)
    let spacePoll = UnsafeMutablePointer<pollfd>.allocate(capacity: 2)
    /// Serialises `switchDevice` callers.
    let switchLock = DispatchSemaphore(value: 1)

    // Published state.
    let stopRequested = Atomic<Bool>(false)
    let captureEnded = Atomic<Bool>(false)
    let capturedFrames = Atomic<Int>(0)
    let written = Atomic<Int>(0)
    let xruns = Atomic<Int>(0)
    let threadID = Atomic<Int32>(0)
    let startNanos = Atomic<UInt64>(0)
    let xrunLog: XrunLog
    let state = Mutex<EngineState>(EngineState())
    let markers = Mutex<[RecordingMarker]>([])
    /// Markers added since the writer last took them.
    let markersPending = Atomic<Int>(0)

    struct EngineState {
        var device: (any CaptureSource)?
        var granted: GrantedParameters?
        var realtime: RealtimeStatus = .notStarted
        var captureEnd: CaptureEndReason?
        var writeError: RecordingError?
        var summary: CaptureSummary?
        var started = false
    }

    public init(device: any CaptureSource, configuration: Configuration,
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
        if let sel = configuration.channelSelection {
            precondition(sel.count == configuration.recordingFormat.channels, "channel selection and recording format disagree")
        }
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
    /// CLOCK_MONOTONIC nanoseconds when the first device started (0 before): the host time of
    /// the run's frame 0. Set on the capture queue before the first frame reaches the ring, so
    /// the writer queue (and anyone after `start()` returns) reads it set.
    public var startedAtNanos: UInt64 { startNanos.load(ordering: .relaxed) }

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
        let target = configuration.ringFormat
        let b = try DeviceBinding(device: initialDevice, request: configuration.request, target: target, rateConverter: configuration.rateConverter,
                                  exactChannels: configuration.channelSelection != nil)
        StartupTrace.mark("device-open")
        let g = b.granted
        let ringFrames = Swift.max(Int(Double(target.sampleRate) * configuration.ringSeconds), g.bufferFrames * 2, 4096)
        let ring = FrameRing(minimumFrames: ringFrames, bytesPerFrame: target.bytesPerFrame)
        _ = mlock(ring.storageBytes.baseAddress, ring.storageBytes.count)  // best effort
        let batch = Swift.min(ring.capacity / 4, Int((Double(target.sampleRate) * Swift.max(0, configuration.writerBatchSeconds)).rounded()))
        let run = EngineRun(ring: ring, meter: LevelMeter(format: configuration.recordingFormat, board: meterBoard), binding: b,
                            selection: configuration.channelSelection.map { ($0, target) }, writerBatch: Swift.max(1, batch),
                            writerIdleTimeoutMs: Int32(Swift.max(250, 2 * batch * 1000 / Swift.max(1, target.sampleRate))))
        state.withLock { $0.granted = g; $0.device = initialDevice }

        let started = DispatchSemaphore(value: 0)
        let startError = StartResult()
        finished.enter()
        finished.enter()
        writerQueue.async { self.writerLoop(run) }
        captureQueue.async { self.captureEntry(run, started: started, startError: startError) }
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

    /// Records a marker for the recording file (written where the container supports markers);
    /// a route change's carries the new route (`RouteNote`).
    public func addMarker(atFrame frame: Int, label: String, route: RouteNote? = nil) {
        markers.withLock { $0.append(RecordingMarker(frame: frame, label: label, route: route)) }
        markersPending.add(1, ordering: .releasing)
        dataBell.ringIfWaiting()
    }
}

/// Hands a start failure from the capture queue to `start()` (the semaphore orders the access).
/// `@unchecked Sendable`: written by the capture queue before `started.signal()`, read after the wait.
final class StartResult: @unchecked Sendable {
    var error: DeviceError?
}
