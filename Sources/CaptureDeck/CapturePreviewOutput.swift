// Monitoring: the session's audio played on an ALSA playback device as it is captured
// (AVCaptureAudioPreviewOutput's part in the core).
import CaptureALSA
import CaptureCore
import Dispatch
import Glibc
import Synchronization

/// Plays the session's audio on a playback device while it captures, for monitoring.
///
/// The writer queue only copies frames into a lock-free ring (`receive`), never waiting: what
/// doesn't fit is dropped and counted. The output's own playback thread takes them from there,
/// applies `volume` and writes them to the device in periods of about 10 ms, recovering from
/// underruns (the feed pausing), so latency stays at the ring's fill plus the device's small
/// buffer (`latencySeconds`). The device is opened in the stream's format, rate and channels
/// when the first frames arrive, and closed when the session stops.
///
/// Linux: `outputDevice` is an ALSA PCM name (Apple: a Core Audio device's unique ID); nil is
/// `default`, which on a desktop is the sound server. A device that can't be opened is tried
/// again every second while frames arrive; `error` says why.
///
/// `@unchecked Sendable`: `receive`'s state is the writer queue's (calls are serial, as the
/// protocol says); everything else is atomics and mutexes shared with the playback thread.
public final class CapturePreviewOutput: StreamReceiver, @unchecked Sendable {
    private let player: PreviewPlayer
    /// The feed `receive` writes into (writer queue only), and whether the playback thread has
    /// it yet.
    private var feed: PreviewFeed?
    private var unpublished = false

    public init(outputDevice: String? = nil) {
        player = PreviewPlayer(device: outputDevice)
        let player = self.player
        DispatchQueue(label: "capdeck.preview", qos: .userInitiated).async { player.run() }
    }

    deinit {
        // The playback thread ends on its own within one bounded wait and closes the device;
        // the writer queue (which may drop the last reference) never waits for it.
        player.shutdown.store(true, ordering: .releasing)
        player.bell?.ring()
    }

    /// The ALSA PCM to play on (nil: `default`). A change takes effect at once.
    public var outputDevice: String? {
        get { player.settings.withLock { $0.device } }
        set {
            player.settings.withLock { $0.device = newValue }
            player.deviceChanges.add(1, ordering: .releasing)
            player.bell?.ring()
        }
    }

    /// ALSA configuration read on top of the system's when opening the device (test PCMs
    /// without touching the process's HOME or ALSA_CONFIG_PATH).
    package var alsaConfigurationFile: String? {
        get { player.settings.withLock { $0.configurationFile } }
        set { player.settings.withLock { $0.configurationFile = newValue } }
    }

    /// Playback gain, 0...1 (clamped), applied on the playback thread from its next period.
    /// Integer samples are rounded to the nearest step (halves away from zero); at 1 every sample
    /// plays exactly as captured.
    public var volume: Float {
        get { Float(bitPattern: player.volumeBits.load(ordering: .relaxed)) }
        set {
            let v = newValue.isNaN ? 0 : Swift.min(1, Swift.max(0, newValue))
            player.volumeBits.store(v.bitPattern, ordering: .relaxed)
        }
    }

    /// Frames handed to the device.
    public var framesPlayed: Int { player.played.load(ordering: .relaxed) }
    /// Frames never played: the ring was full (the device is slower than the feed, or stalled),
    /// or no device could be opened.
    public var framesDropped: Int { player.dropped.load(ordering: .relaxed) }
    /// Times the device ran dry and was restarted.
    public var underruns: Int { player.underruns.load(ordering: .relaxed) }
    /// Last measured time from `receive` to the speaker: the ring's fill plus the device's delay
    /// (`snd_pcm_delay`), in seconds; 0 when nothing plays.
    public var latencySeconds: Double {
        let rate = player.rate.load(ordering: .relaxed)
        return rate > 0 ? Double(player.latencyFrames.load(ordering: .relaxed)) / Double(rate) : 0
    }
    /// Whether the playback device is open.
    public var isPlaying: Bool { player.open.load(ordering: .relaxed) }
    /// Why the device could not be opened or broke, until it plays again.
    public var error: PlaybackError? { player.lastError.withLock { $0 } }

    /// On the writer queue: copies what fits into the ring and wakes the playback thread.
    public func receive(_ frames: UnsafeRawPointer, count: Int, format: StreamFormat) {
        guard count > 0 else { return }
        let stops = player.stops.load(ordering: .acquiring)
        let me = pthread_self()
        // A new ring for a new format, after a stop, or for another writer thread (each ring
        // side belongs to one thread).
        if feed.map({ $0.format != format || $0.generation != stops || pthread_equal($0.producer, me) == 0 }) ?? true {
            feed = PreviewFeed(format: format, generation: stops, producer: me)
            unpublished = true
        }
        guard let feed else { return }
        if unpublished {
            // Never wait for the playback thread's lock: try again with the next frames.
            unpublished = player.pending.withLockIfAvailable { $0 = feed } == nil
            player.bell?.ring()
        }
        let v = feed.ring.writeVector()
        let n = Swift.min(count, v.frames)
        let first = Swift.min(n, v.first.frames)
        let bpf = format.bytesPerFrame
        if first > 0, let p = v.first.pointer { p.copyMemory(from: frames, byteCount: first * bpf) }
        if n > first, let p = v.second.pointer { p.copyMemory(from: frames + first * bpf, byteCount: (n - first) * bpf) }
        feed.ring.commitWrite(n)
        if n < count { player.dropped.add(count - n, ordering: .relaxed) }
        player.bell?.ringIfWaiting()
    }

    /// Drops what is queued and closes the device (released while the session doesn't run).
    public func sessionDidStop() {
        player.stops.add(1, ordering: .releasing)
        player.bell?.ring()
    }
}

/// One stream into the playback thread: a ring in one format, written by one writer thread.
final class PreviewFeed: Sendable {
    let format: StreamFormat
    let ring: FrameRing
    /// The output's stop count when it was made: a feed from before a stop is not played.
    let generation: Int
    let producer: pthread_t

    init(format: StreamFormat, generation: Int, producer: pthread_t) {
        self.format = format
        self.generation = generation
        self.producer = producer
        // A quarter second: room for the writer's bursts, little enough to bound the latency.
        ring = FrameRing(minimumFrames: Swift.max(1024, format.sampleRate / 4), bytesPerFrame: format.bytesPerFrame)
    }
}

/// The state shared by the output and its playback thread, and the thread's loop.
final class PreviewPlayer: Sendable {
    struct Settings {
        var device: String?
        var configurationFile: String?
    }
    let settings: Mutex<Settings>
    let pending = Mutex<PreviewFeed?>(nil)
    /// nil only if no pipe could be made: the loop then wakes every few milliseconds instead.
    let bell = try? Doorbell()
    let stops = Atomic<Int>(0)
    let deviceChanges = Atomic<Int>(0)
    let shutdown = Atomic<Bool>(false)
    let volumeBits = Atomic<UInt32>(Float(1).bitPattern)
    let played = Atomic<Int>(0)
    let dropped = Atomic<Int>(0)
    let underruns = Atomic<Int>(0)
    let latencyFrames = Atomic<Int>(0)
    let rate = Atomic<Int>(0)
    let open = Atomic<Bool>(false)
    let lastError = Mutex<PlaybackError?>(nil)

    init(device: String?) {
        settings = Mutex(Settings(device: device))
    }

    private func sleep(ms: Int32) {
        if let bell { _ = bell.wait(timeoutMs: ms) } else { usleep(UInt32(ms) * 1000) }
    }

    /// The playback thread: one long work item on its own queue, until the output goes away.
    func run() {
        var feed: PreviewFeed?
        var device: ALSAPlayback?
        var scratch = UnsafeMutableRawPointer.allocate(byteCount: 1, alignment: 16)
        var scratchBytes = 1
        var seenStops = stops.load(ordering: .acquiring)
        var seenDevice = deviceChanges.load(ordering: .acquiring)
        var retryAt: UInt64 = 0
        func close() {
            device?.close()
            device = nil
            open.store(false, ordering: .relaxed)
            latencyFrames.store(0, ordering: .relaxed)
        }
        /// Frames that can't be played (no device): dropped now, so none plays late.
        func discard(_ f: PreviewFeed) {
            let n = f.ring.readableFrames
            f.ring.commitRead(n)
            if n > 0 { dropped.add(n, ordering: .relaxed) }
        }
        defer {
            close()
            scratch.deallocate()
        }
        while !shutdown.load(ordering: .acquiring) {
            if let f = pending.withLock({ p -> PreviewFeed? in defer { p = nil }; return p }) { feed = f }
            let s = stops.load(ordering: .acquiring)
            if s != seenStops { seenStops = s; close() }
            if let f = feed, f.generation != s { feed = nil }
            let d = deviceChanges.load(ordering: .acquiring)
            if d != seenDevice { seenDevice = d; close(); retryAt = 0 }
            guard let f = feed else { sleep(ms: 100); continue }
            if let o = device, o.format != f.format { close(); retryAt = 0 }
            if device == nil {
                guard monotonicNanos() >= retryAt else { discard(f); sleep(ms: 20); continue }
                let (name, file) = settings.withLock { ($0.device ?? "default", $0.configurationFile) }
                do throws(PlaybackError) {
                    let o = try ALSAPlayback(name: name, format: f.format, configurationFile: file)
                    device = o
                    let bytes = o.periodFrames * f.format.bytesPerFrame
                    if bytes > scratchBytes {
                        scratch.deallocate()
                        scratch = .allocate(byteCount: bytes, alignment: 16)
                        scratchBytes = bytes
                    }
                    rate.store(f.format.sampleRate, ordering: .relaxed)
                    open.store(true, ordering: .relaxed)
                    lastError.withLock { $0 = nil }
                } catch {
                    lastError.withLock { $0 = error }
                    retryAt = monotonicNanos() + 1_000_000_000
                    discard(f)
                    continue
                }
            }
            guard let out = device else { continue }
            let v = f.ring.readVector(limit: out.periodFrames)
            if v.frames == 0 {
                latencyFrames.store(out.delayFrames, ordering: .relaxed)
                bell?.prepareToWait()
                if f.ring.readableFrames == 0 && !shutdown.load(ordering: .sequentiallyConsistent) { sleep(ms: 100) }
                bell?.cancelWait()
                continue
            }
            let bpf = f.format.bytesPerFrame
            let gain = Float(bitPattern: volumeBits.load(ordering: .relaxed))
            if let p = v.first.pointer, v.first.frames > 0 {
                PreviewGain.apply(gain, from: p, to: scratch, samples: v.first.frames * f.format.channels, format: f.format.sampleFormat)
            }
            if let p = v.second.pointer, v.second.frames > 0 {
                PreviewGain.apply(gain, from: p, to: scratch + v.first.frames * bpf, samples: v.second.frames * f.format.channels,
                                  format: f.format.sampleFormat)
            }
            f.ring.commitRead(v.frames)
            var done = 0
            write: while done < v.frames {
                if shutdown.load(ordering: .relaxed) || stops.load(ordering: .relaxed) != seenStops { break }
                switch out.write(scratch + done * bpf, count: v.frames - done) {
                case .wrote(let n):
                    done += n
                    played.add(n, ordering: .relaxed)
                case .underrun:
                    underruns.add(1, ordering: .relaxed)
                case .failed(let e):
                    lastError.withLock { $0 = e }
                    dropped.add(v.frames - done, ordering: .relaxed)
                    close()
                    retryAt = monotonicNanos() + 1_000_000_000
                    break write
                }
            }
            latencyFrames.store(f.ring.readableFrames + (device?.delayFrames ?? 0), ordering: .relaxed)
        }
    }
}

/// The preview's volume on interleaved samples (allocation-free).
enum PreviewGain {
    /// Copies `samples` samples from `src` to `dst` scaled by `gain` (exact copy at 1). Integers
    /// are scaled at their own precision and rounded to nearest, halves away from zero.
    static func apply(_ gain: Float, from src: UnsafeRawPointer, to dst: UnsafeMutableRawPointer, samples: Int,
                      format: SampleFormat) {
        let step = format.bytesPerSample
        if gain == 1 { dst.copyMemory(from: src, byteCount: samples * step); return }
        if format == .floatLE {
            for i in 0..<samples {
                SampleCodec.storeFloat(SampleCodec.loadFloat(src + i * step, format) * gain, dst + i * step, format)
            }
            return
        }
        let shift = Int32(32 - format.bitDepth)
        let g = Double(gain)
        for i in 0..<samples {
            let x = SampleCodec.loadInt32(src + i * step, format) >> shift
            let y = Int32((Double(x) * g).rounded())  // |y| <= |x|: gain is at most 1
            SampleCodec.storeInt32(y << shift, dst + i * step, format)
        }
    }
}
