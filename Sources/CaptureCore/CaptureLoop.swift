// The capture queue's work: the real-time loop that reads the device into the ring, and the
// drains, flushes and silence it writes at a stop or a switch.
//
// Ownership: everything here runs on the engine's capture queue (one long work item), the only
// caller of the device's read/waitForData and the only producer into the ring. After start() it
// allocates, locks, logs and touches files never; a switch (DeviceSwitch.swift) asks the session
// thread for every open and close.
import Dispatch
import Glibc
import Synchronization

extension CaptureEngine {
    // MARK: Capture queue

    func captureEntry(_ run: EngineRun, started: DispatchSemaphore, startError: StartResult) {
        let (saved, rt) = SavedScheduling.promote(priority: configuration.realtimePriority)
        state.withLock { $0.realtime = rt }
        threadID.store(currentThreadID(), ordering: .releasing)
        var end: CaptureEndReason = .stopped
        do throws(DeviceError) {
            try run.binding.device.start()
            startNanos.store(monotonicNanos(), ordering: .relaxed)
            started.signal()
            while true {
                switch captureLoop(run, run.binding) {
                case .ended(let reason):
                    end = reason
                    // Stopped by request: keep what the device already captured.
                    if reason == .stopped { drainAvailable(run, run.binding) }
                    // Whatever the converter still holds belongs to the recording too.
                    if reason != .durationReached { flushResampler(run, run.binding) }
                case .switchRequested:
                    if let failure = performSwitch(run) {
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
            let device = run.binding.device
            DispatchQueue.global(qos: .utility).async { device.close() }
        } else {
            run.binding.device.close()
        }
        state.withLock { $0.captureEnd = end }
        captureEnded.store(true, ordering: .releasing)
        dataBell.ring()
        finished.leave()
    }

    enum LoopExit { case ended(CaptureEndReason), switchRequested }

    func captureLoop(_ run: EngineRun, _ b: DeviceBinding) -> LoopExit {
        runLoop(run, b.device, b)
    }

    /// The real-time loop. No allocation, lock, logging or file I/O in here.
    func runLoop<D: CaptureSource>(_ run: EngineRun, _ device: D, _ b: DeviceBinding) -> LoopExit {
        let ring = run.ring
        let limit = configuration.maxFrames ?? Int.max
        var captured = capturedFrames.load(ordering: .relaxed)
        var watch = StallWatch(granted: b.granted)
        while true {
            if stopRequested.load(ordering: .relaxed) { return .ended(.stopped) }
            if captured >= limit { return .ended(.durationReached) }
            if switchRequested.load(ordering: .acquiring) { return .switchRequested }
            guard let r = readIntoRing(run, device, b, left: limit - captured) else {
                waitForSpace(ring, needed: b.minimumRoom)
                continue
            }
            if r.added > 0 {
                captured += r.added
                capturedFrames.store(captured, ordering: .relaxed)
                publish(run.ring)
            }
            if case .frames(let n) = r.result, n > 0 {
                watch.delivered(frames: n)
                // A short read took all the device had: wait now rather than ask again for the
                // nothing a second read would bring (one call through the plugins per period).
                if !r.short { continue }
            }
            if let end = handleNoFrames(r.result, device, captured: captured, watch: &watch) { return .ended(end) }
        }
    }

    /// One non-blocking read of the device straight into the ring, converted (and resampled)
    /// into the recording's format, then published. Returns the device's answer and the frames
    /// added, or nil when the ring has no room for a read. Real-time path: shared by the capture
    /// loop and the drains at a stop or a switch, so every path converts the same way.
    /// (A nominal struct, not a tuple: tuple type metadata can be instantiated lazily, which
    /// allocates, the first time a path runs.)
    struct ReadOutcome {
        let result: DeviceRead
        let added: Int
        /// The device gave fewer frames than asked for: it has no more now.
        var short = false
    }

    @inline(__always)
    func readIntoRing<D: CaptureSource>(_ run: EngineRun, _ device: D, _ b: DeviceBinding, left: Int) -> ReadOutcome? {
        let ring = run.ring
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
            return ReadOutcome(result: result, added: out, short: n < want)
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
        return ReadOutcome(result: result, added: n, short: n < want)
    }

    /// A read that brought no frames: wait for the device, or count an overrun, or end on a
    /// failure (the returned reason). Real-time path: no allocation, lock or logging.
    @inline(__always)
    func handleNoFrames<D: CaptureSource>(_ result: DeviceRead, _ device: D, captured: Int,
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
            watch.delivered(frames: 0)
            let now = monotonicNanos() - startNanos.load(ordering: .relaxed)
            xrunLog.append(XrunEvent(atNanos: now, atFrame: captured, kind: result == .suspended ? .suspend : .overrun))
            xruns.add(1, ordering: .relaxed)
            return nil
        case .failed(let e):
            return .deviceLost(e)
        }
    }

    /// Converts `frames` resampled Float frames into the ring (across the wrap) and publishes them.
    func writeResampled(_ rs: DeviceBinding.Resampler, frames: Int, into ring: FrameRing) {
        guard frames > 0 else { return }
        let v = ring.writeVector()
        let n1 = Swift.min(frames, v.first.frames)
        rs.fromFloat.convert(from: UnsafeRawPointer(rs.floatOut), to: v.first.pointer!, frames: n1)
        if frames > n1, let second = v.second.pointer {
            let channels = configuration.ringFormat.channels
            rs.fromFloat.convert(from: UnsafeRawPointer(rs.floatOut + n1 * channels), to: second, frames: frames - n1)
        }
        ring.commitWrite(frames)
    }

    /// Reads everything the device has ready into the ring (bounded; stops at a full ring or at
    /// the duration limit).
    func drainAvailable(_ run: EngineRun, _ b: DeviceBinding) {
        let limit = configuration.maxFrames ?? Int.max
        for _ in 0..<64 {
            let left = limit - capturedFrames.load(ordering: .relaxed)
            guard left > 0, let r = readIntoRing(run, b.device, b, left: left) else { return }
            if r.added > 0 {
                capturedFrames.add(r.added, ordering: .relaxed)
                publish(run.ring)
            }
            guard case .frames(let n) = r.result, n > 0 else { return }
        }
    }

    /// The device's input has ended (a stop, a lost device, a switch away from it): writes what
    /// its rate converter still holds back into the ring, up to the duration limit.
    func flushResampler(_ run: EngineRun, _ b: DeviceBinding) {
        guard let rs = b.resampler else { return }
        let ring = run.ring
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
            publish(run.ring)
        }
    }

    /// Writes `nanos` worth of silence into the ring (waiting for space as needed), never past the
    /// duration limit.
    @discardableResult
    func fillSilence(_ run: EngineRun, nanos: UInt64) -> Int {
        let ring = run.ring
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
            publish(run.ring)
        }
        return total - remaining
    }

    /// Wakes the writer if it sleeps and the ring now holds the batch it waits for
    /// (`Configuration.writerBatchSeconds`): not at every period. Real-time path: an atomic load
    /// or two, and a write(2) only when the writer is woken.
    @inline(__always)
    func publish(_ ring: FrameRing) {
        dataBell.ringIfWaiting(level: ring.capacity - ring.writableFrames)
    }

    /// Writes `frames` of silence into the ring (which must have room) and publishes them.
    func writeSilence(frames: Int, into ring: FrameRing) {
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
    func waitForSpace(_ ring: FrameRing, needed: Int, evenWhenStopping: Bool = false) {
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
}

/// Notices a running device that delivers nothing without an error (a sound server stopped, a
/// stream unlinked): nothing for longer than max(1 s, 4 device buffers) ends capture with
/// `DeviceError.stalled`, and the session reopens the route. It adds no system call to the steady
/// state: the device's poll timeout is a quarter of that limit (a timeout happens only in a
/// silence, so the notice comes within 1.25 limits), and the clock (the vDSO's, no system call)
/// is read at a delivery and when a poll times out (or after 256 wake-ups in a row that brought
/// nothing).
///
/// The silence is counted from when the audio delivered runs out, not from the last delivery:
/// a delivery of n frames covers n / rate seconds from the later of now and the end of what came
/// before. A source that delivers 2 s at once and then nothing for 2 s (PulseAudio's
/// `module-sine-source`, whose latency is a fixed 2 s; a network source; any source with a latency
/// longer than the limit) is on time, not stalled: counted from its last delivery it looked
/// stalled at 1.6 s, the stream was reopened, and the ~1.9 s the old stream would have delivered
/// next were lost (the take got a cue and a `gap` line at each such seam). The lead is capped at
/// `maxLeadNanos`, so a device whose clock runs fast against the system's doesn't build up a lead
/// that would delay a real stall's notice.
///
/// Before its first frame a device gets longer (`startLimitNanos`, 5 s): starting can take
/// seconds where running never does (a Bluetooth headset switching to its headset profile, a
/// sound server resuming a suspended card).
struct StallWatch {
    let limitNanos: UInt64
    static let startLimitNanos: UInt64 = 5_000_000_000
    /// The most a run of deliveries may cover beyond now (twice PulseAudio's maximum latency).
    static let maxLeadNanos: UInt64 = 4_000_000_000
    let pollMs: Int32
    private let nanosPerFrame: Double
    /// When the audio delivered so far runs out (its end on the monotonic clock); 0 before the
    /// first delivery.
    private var coveredUntil: UInt64 = 0
    /// When the watch began (the device's start): the silence before a first delivery counts from here.
    private let since: UInt64
    private var emptyWakes = 0

    init(granted: GrantedParameters) {
        let rate = UInt64(Swift.max(1, granted.format.sampleRate))
        let buffer = UInt64(granted.bufferFrames) * 1_000_000_000 / rate
        limitNanos = Swift.max(1_000_000_000, 4 * buffer)
        pollMs = Int32(limitNanos / 4 / 1_000_000)
        nanosPerFrame = 1e9 / Double(rate)
        since = monotonicNanos()
    }

    /// The device delivered `frames` (an overrun or a resume counts as alive, with 0).
    @inline(__always)
    mutating func delivered(frames: Int) {
        let now = monotonicNanos()
        let from = Swift.max(coveredUntil, now)
        let covered = from &+ UInt64(Double(Swift.max(0, frames)) * nanosPerFrame)
        coveredUntil = Swift.min(covered, now &+ StallWatch.maxLeadNanos)
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
        let started = coveredUntil != 0
        let from = started ? coveredUntil : since
        guard now > from else { return nil }
        let quiet = now - from
        return quiet >= (started ? limitNanos : Swift.max(limitNanos, StallWatch.startLimitNanos)) ? quiet : nil
    }
}

/// A fixed-capacity log of recent overruns: appended on the capture queue without allocating,
/// read from any thread. Each field is atomic; an entry being overwritten (more than `capacity`
/// xruns behind the newest) while a snapshot reads it may mix two events' fields.
/// `@unchecked Sendable`: the slots are atomics in raw memory; one thread appends (checked in
/// debug builds), any thread reads.
final class XrunLog: @unchecked Sendable {
    private let capacity: Int
    private let count = Atomic<Int>(0)
    private let times: UnsafeMutablePointer<Atomic<UInt64>>
    private let frames: UnsafeMutablePointer<Atomic<Int>>
    private let appender = ThreadOwner("XrunLog.append")

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
        appender.check()
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
