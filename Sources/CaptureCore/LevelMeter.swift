// Per-channel level metering (peak, sliding RMS, peak hold, clips, the selected ballistics) and its
// lock-free publication.
import Glibc
import Synchronization

/// One channel's levels, in dBFS (floored at `ChannelLevel.floorDB`).
public struct ChannelLevel: Sendable, Equatable {
    /// Sample peak over the last meter window (~300 ms).
    public var peakDB: Double
    /// RMS over the last meter window (~300 ms); a full-scale sine reads -3.01.
    public var rmsDB: Double
    /// The highest recent peak, held ~1.5 s before it falls back to the current peak.
    public var holdDB: Double
    /// Full-scale samples seen since the last reset.
    public var clips: Int
    /// The reading of the board's `ballistics` (sine-peak dBFS: a steady sine reads its peak in
    /// every mode): the PPM's or the VU needle's highest in the last 10 ms block; in `peak` mode
    /// the sample peak, `peakDB`.
    public var ballisticDB: Double
    /// The mode `ballisticDB` was read in (published with it: a switch shows its first reading
    /// only when there is one).
    public var ballistics: MeterBallistics

    public init(peakDB: Double, rmsDB: Double, holdDB: Double, clips: Int, ballisticDB: Double? = nil,
                ballistics: MeterBallistics = .peak) {
        self.peakDB = peakDB
        self.rmsDB = rmsDB
        self.holdDB = holdDB
        self.clips = clips
        self.ballisticDB = ballisticDB ?? peakDB
        self.ballistics = ballistics
    }

    public static let floorDB = -120.0
    public static let silent = ChannelLevel(peakDB: floorDB, rmsDB: floorDB, holdDB: floorDB, clips: 0)

    @inline(__always)
    public static func decibels(_ amplitude: Double) -> Double {
        amplitude <= 1e-6 ? floorDB : Swift.max(floorDB, 20 * log10(amplitude))
    }
}

/// The latest levels, written by one thread and read by any number of others without blocking.
///
/// A sequence lock: the writer makes `sequence` odd, stores every value (each an atomic), then
/// makes it even with a release store. A reader that sees an odd or changed sequence retries, so
/// it always gets one consistent snapshot and never blocks the writer. The retries are bounded:
/// a writer that never finishes a publication (stuck, or two writers at once, which breaks the
/// odd/even protocol) costs a reader at most about 10 ms, after which it gets the last consistent
/// snapshot any reader saw. Debug builds trap when two threads publish at the same time.
///
/// `@unchecked Sendable`: every slot is an atomic in raw memory, ordered by the sequence number.
public final class MeterBoard: @unchecked Sendable {
    /// As many as a stream can have (`StreamFormat.channelRange`).
    public static let maxChannels = StreamFormat.channelRange.upperBound
    private static let fields = 6
    private let sequence = Atomic<UInt64>(0)
    private let cells: UnsafeMutablePointer<Atomic<UInt64>>
    private let channelCount = Atomic<Int>(0)
    private let resetRequests = Atomic<UInt64>(0)
    private let ballisticsMode = Atomic<UInt8>(0)
    /// The last consistent snapshot a reader took (readers only; the writer never touches it).
    private let lastGood = Mutex<[ChannelLevel]>([])
    /// Debug builds: a publication is in progress (two at once trap).
    private let publishing = Atomic<Bool>(false)
    /// How long a reader retries before it gives up on the writer: a publication takes
    /// microseconds, so 2 ms (and at least a few tries) is a stuck writer. (It was 1,000 yields:
    /// "about 10 ms" on an idle machine, but on a loaded one each yield can give up a whole time
    /// slice, and a reader, the console's redraw, waited seconds.)
    static let readerPatienceNanos: UInt64 = 2_000_000
    static let readerMinimumTries = 4

    public init() {
        let n = MeterBoard.maxChannels * MeterBoard.fields
        cells = .allocate(capacity: n)
        for i in 0..<n { (cells + i).initialize(to: Atomic<UInt64>(0)) }
    }

    deinit {
        cells.deinitialize(count: MeterBoard.maxChannels * MeterBoard.fields)
        cells.deallocate()
    }

    /// Publishes levels. One writer thread only; allocation-free.
    public func publish(_ levels: UnsafeBufferPointer<ChannelLevel>) {
        #if DEBUG
        let entered = publishing.compareExchange(expected: false, desired: true, ordering: .acquiring).exchanged
        precondition(entered, "MeterBoard.publish: two threads publish at once (one writer only)")
        defer { publishing.store(false, ordering: .releasing) }
        #endif
        let s = sequence.load(ordering: .relaxed)
        sequence.store(s &+ 1, ordering: .relaxed)
        atomicMemoryFence(ordering: .releasing)
        let n = Swift.min(levels.count, MeterBoard.maxChannels)
        for ch in 0..<n {
            let base = ch * MeterBoard.fields
            cells[base].store(levels[ch].peakDB.bitPattern, ordering: .relaxed)
            cells[base + 1].store(levels[ch].rmsDB.bitPattern, ordering: .relaxed)
            cells[base + 2].store(levels[ch].holdDB.bitPattern, ordering: .relaxed)
            cells[base + 3].store(UInt64(levels[ch].clips), ordering: .relaxed)
            cells[base + 4].store(levels[ch].ballisticDB.bitPattern, ordering: .relaxed)
            cells[base + 5].store(UInt64(levels[ch].ballistics.code), ordering: .relaxed)
        }
        channelCount.store(n, ordering: .relaxed)
        sequence.store(s &+ 2, ordering: .releasing)
    }

    /// The latest consistent levels (empty before the first publication). Any thread.
    public func snapshot() -> [ChannelLevel] {
        var tries = 0
        var deadline: UInt64 = 0
        while true {
            tries += 1
            if tries > MeterBoard.readerMinimumTries {
                // (The clock only once a first try has failed: the usual read costs no call.)
                let now = monotonicNanos()
                if deadline == 0 { deadline = now + MeterBoard.readerPatienceNanos } else if now >= deadline { break }
            }
            let s1 = sequence.load(ordering: .acquiring)
            if s1 & 1 == 1 { sched_yield(); continue }
            let n = channelCount.load(ordering: .relaxed)
            var out: [ChannelLevel] = []
            out.reserveCapacity(n)
            for ch in 0..<n {
                let base = ch * MeterBoard.fields
                out.append(ChannelLevel(
                    peakDB: Double(bitPattern: cells[base].load(ordering: .relaxed)),
                    rmsDB: Double(bitPattern: cells[base + 1].load(ordering: .relaxed)),
                    holdDB: Double(bitPattern: cells[base + 2].load(ordering: .relaxed)),
                    clips: Int(cells[base + 3].load(ordering: .relaxed)),
                    ballisticDB: Double(bitPattern: cells[base + 4].load(ordering: .relaxed)),
                    ballistics: MeterBallistics(code: UInt8(truncatingIfNeeded: cells[base + 5].load(ordering: .relaxed)))))
            }
            atomicMemoryFence(ordering: .acquiring)
            if sequence.load(ordering: .relaxed) == s1 {
                lastGood.withLock { $0 = out }
                return out
            }
        }
        // The writer never finished a publication while we looked: what was last consistent.
        return lastGood.withLock { $0 }
    }

    /// Tests: a writer that stopped mid-publication (the sequence left odd), as a writer thread
    /// that dies or is suspended inside `publish` would leave it.
    func simulateStuckWriter() {
        sequence.store(sequence.load(ordering: .relaxed) | 1, ordering: .releasing)
    }

    /// Asks the metering thread to clear peak holds and clip counts. Any thread.
    public func requestReset() { resetRequests.add(1, ordering: .releasing) }

    /// Number of reset requests so far (the meter compares it with the last one it honoured).
    var resetGeneration: UInt64 { resetRequests.load(ordering: .acquiring) }

    /// What the meters are asked to read (any thread). The metering thread takes a change at its
    /// next 10 ms block, starting the new mode's filter from rest; each published level says
    /// which mode its reading is in (`ChannelLevel.ballistics`).
    public var ballistics: MeterBallistics {
        get { MeterBallistics(code: ballisticsMode.load(ordering: .relaxed)) }
        set { ballisticsMode.store(newValue.code, ordering: .relaxed) }
    }
}

/// Computes levels from interleaved frames. Used by one thread (the writer queue); allocates
/// only in `init` (its working state lives in buffers allocated once).
public final class LevelMeter {
    public let format: StreamFormat
    public let board: MeterBoard
    /// Frames in one sub-block of the sliding window (10 ms).
    private let blockFrames: Int
    /// Sub-blocks in the RMS/peak window (~300 ms).
    private let windowBlocks = 30
    /// Sub-blocks a peak is held (~1.5 s).
    private let holdBlocks = 150
    private let clipThreshold: Float

    private let channels: Int
    private var blockFill = 0
    /// The last finished 10 ms sub-block's sample peak, highest channel (linear, 0…1), and how
    /// many sub-blocks have finished: what a level trigger reads between `process` calls.
    public private(set) var blockPeak: Float = 0
    public private(set) var finishedBlocks = 0
    /// Frames still to come before the current sub-block finishes (a caller that wants a decision
    /// at each block end processes at most this many at a time).
    public var framesLeftInBlock: Int { blockFrames - blockFill }
    /// Frames in one sub-block.
    public var framesPerBlock: Int { blockFrames }
    private var windowPos = 0
    private var windowFilled = 0
    private var honouredReset: UInt64 = 0
    /// The ballistics the detectors run (the board's, taken at block ends).
    public private(set) var ballistics: MeterBallistics = .peak
    // Per-channel state, in buffers allocated once.
    private let sumSq: UnsafeMutablePointer<Double>        // current sub-block
    private let maxAbs: UnsafeMutablePointer<Float>        // current sub-block
    private let windowSumSq: UnsafeMutablePointer<Double>  // channels × windowBlocks
    private let windowPeak: UnsafeMutablePointer<Float>    // channels × windowBlocks
    private let windowTotal: UnsafeMutablePointer<Double>  // the window's sum of squares
    private let windowMax: UnsafeMutablePointer<Float>     // the window's peak
    private let shownPeak: UnsafeMutablePointer<Float>     // the peak and hold `levels` show
    private let shownHold: UnsafeMutablePointer<Float>
    private let hold: UnsafeMutablePointer<Float>
    private let holdAge: UnsafeMutablePointer<Int>
    private let clips: UnsafeMutablePointer<Int>
    private let levels: UnsafeMutablePointer<ChannelLevel>
    private let detectors: UnsafeMutablePointer<BallisticDetector>

    public init(format: StreamFormat, board: MeterBoard = MeterBoard()) {
        self.format = format
        self.board = board
        channels = format.channels
        blockFrames = Swift.max(1, format.sampleRate / 100)
        let bits = format.sampleFormat.isFloat ? 0 : format.sampleFormat.bitDepth
        clipThreshold = bits == 0 ? 1.0 : Float(1.0 - 1.0 / Double(1 << (bits - 1)))
        func zeroed<T>(_ n: Int, _ v: T) -> UnsafeMutablePointer<T> {
            let p = UnsafeMutablePointer<T>.allocate(capacity: n)
            p.initialize(repeating: v, count: n)
            return p
        }
        sumSq = zeroed(channels, 0)
        maxAbs = zeroed(channels, 0)
        windowSumSq = zeroed(channels * windowBlocks, 0)
        windowPeak = zeroed(channels * windowBlocks, 0)
        windowTotal = zeroed(channels, 0)
        windowMax = zeroed(channels, 0)
        shownPeak = zeroed(channels, 0)
        shownHold = zeroed(channels, 0)
        hold = zeroed(channels, 0)
        holdAge = zeroed(channels, 0)
        clips = zeroed(channels, 0)
        levels = zeroed(channels, ChannelLevel.silent)
        let mode = board.ballistics
        ballistics = mode
        detectors = zeroed(channels, BallisticDetector(mode, sampleRate: format.sampleRate))
        honouredReset = board.resetGeneration
    }

    deinit {
        sumSq.deallocate(); maxAbs.deallocate(); windowSumSq.deallocate(); windowPeak.deallocate()
        windowTotal.deallocate(); windowMax.deallocate(); shownPeak.deallocate(); shownHold.deallocate()
        hold.deallocate(); holdAge.deallocate(); clips.deallocate(); levels.deallocate()
        detectors.deallocate()
    }

    /// Meters `frames` interleaved frames in `format` at `pointer`. Allocation-free.
    public func process(_ pointer: UnsafeRawPointer, frames: Int) {
        let frameBytes = format.bytesPerFrame
        var done = 0
        while done < frames {
            let n = Swift.min(frames - done, blockFrames - blockFill)
            scanBlock(pointer + done * frameBytes, frames: n)
            if ballistics != .peak { feedBallistics(pointer + done * frameBytes, frames: n) }
            blockFill += n
            done += n
            if blockFill == blockFrames { finishBlock() }
        }
    }

    /// Accumulates squares, peaks and clips of `frames` frames into the current sub-block.
    /// The format is chosen outside the loops, and the samples go through them four at a time
    /// (one SSE register): the scan is the writer's largest per-sample cost.
    @inline(__always)
    private func scanBlock(_ base: UnsafeRawPointer, frames n: Int) {
        switch format.sampleFormat {
        case .s16LE: scanLanes(S16Lanes.self, base, frames: n)
        case .s24LE: scanLanes(S24Lanes.self, base, frames: n)
        case .s32LE: scanLanes(S32Lanes.self, base, frames: n)
        case .floatLE: scanLanes(FloatLanes.self, base, frames: n)
        case .s24_3LE: scanScalar(base, frames: n, channels: 0..<channels)
        }
    }

    /// 1, 2 or 4 channels: the block as one run of samples, each lane of a vector always the
    /// same channel (lane % channels). More: four channels at a time (the last four overlap the
    /// others when the count isn't a multiple of four), over chunks of frames that stay in the
    /// L1 cache while each group reads its part of them. Three: one channel at a time.
    @inline(__always)
    private func scanLanes<L: LaneLoader>(_: L.Type, _ base: UnsafeRawPointer, frames n: Int) {
        let c = channels
        let bps = L.bytesPerSample
        let threshold = SIMD4<Float>(repeating: clipThreshold)
        if c == 1 || c == 2 || c == 4 {
            let vectors = n * c / 4
            var sum = SIMD4<Float>.zero, peak = SIMD4<Float>.zero
            var p = base
            for _ in 0..<vectors {
                let a = vabs(L.load(p))
                sum += a * a
                peak = vmax(peak, a)
                p += 4 * bps
            }
            let counted = vectors * 4 / c
            for lane in 0..<4 {
                sumSq[lane % c] += Double(sum[lane])
                maxAbs[lane % c] = Swift.max(maxAbs[lane % c], peak[lane])
            }
            if any(peak .>= threshold) { countClips(base, frames: counted, channels: 0..<c) }
            if n > counted { scanScalar(p, frames: n - counted, channels: 0..<c) }
            return
        }
        guard c > 4 else { return scanScalar(base, frames: n, channels: 0..<c) }
        let frameBytes = format.bytesPerFrame
        let chunk = Swift.max(16, 16_384 / frameBytes)
        var done = 0
        while done < n {
            let m = Swift.min(chunk, n - done)
            let chunkBase = base + done * frameBytes
            var g = 0
            while g < c {
                // The last group ends at the last channel; its lanes before `g` were counted.
                let first = Swift.min(g, c - 4)
                var sum = SIMD4<Float>.zero, peak = SIMD4<Float>.zero
                var p = chunkBase + first * bps
                for _ in 0..<m {
                    let a = vabs(L.load(p))
                    sum += a * a
                    peak = vmax(peak, a)
                    p += frameBytes
                }
                for lane in (g - first)..<4 {
                    let ch = first + lane
                    sumSq[ch] += Double(sum[lane])
                    maxAbs[ch] = Swift.max(maxAbs[ch], peak[lane])
                }
                if any(peak .>= threshold) { countClips(chunkBase, frames: m, channels: g..<(first + 4)) }
                g = first + 4
            }
            done += m
        }
    }

    /// Full-scale samples are rare: the vector scans count them only where a peak reached the
    /// threshold, by looking again at those frames.
    private func countClips(_ base: UnsafeRawPointer, frames n: Int, channels range: Range<Int>) {
        let sf = format.sampleFormat
        for ch in range {
            var p = base + ch * sf.bytesPerSample
            var c = 0
            for _ in 0..<n {
                c += Swift.abs(SampleCodec.loadFloat(p, sf)) >= clipThreshold ? 1 : 0
                p += format.bytesPerFrame
            }
            clips[ch] += c
        }
    }

    /// The scan one sample at a time: `channels` of `frames` frames from `base`.
    private func scanScalar(_ base: UnsafeRawPointer, frames n: Int, channels range: Range<Int>) {
        let sf = format.sampleFormat
        let step = sf.bytesPerSample
        let frameBytes = format.bytesPerFrame
        for ch in range {
            var s: Float = 0
            var m: Float = 0
            var c = 0
            var p = base + ch * step
            for _ in 0..<n {
                let x = SampleCodec.loadFloat(p, sf)
                s += x * x
                let a = Swift.abs(x)
                m = Swift.max(m, a)
                c += a >= clipThreshold ? 1 : 0
                p += frameBytes
            }
            // Float accumulation is exact enough within one 10 ms block (≤ 1,920 samples).
            sumSq[ch] += Double(s)
            maxAbs[ch] = Swift.max(maxAbs[ch], m)
            clips[ch] += c
        }
    }

    // The standard library's pointwiseMax is a generic call (not inlined): these compile to a
    // compare and a blend.
    @inline(__always) private func vmax(_ a: SIMD4<Float>, _ b: SIMD4<Float>) -> SIMD4<Float> { a.replacing(with: b, where: a .< b) }
    @inline(__always) private func vabs(_ a: SIMD4<Float>) -> SIMD4<Float> {
        unsafeBitCast(unsafeBitCast(a, to: SIMD4<UInt32>.self) & 0x7FFF_FFFF, to: SIMD4<Float>.self)  // the sign bit cleared
    }

    /// Feeds `frames` frames to each channel's ballistic filter: a second pass, only when a
    /// ballistic mode is on (sample peak needs none), so the peak/RMS scan above stays the tight,
    /// vectorised loop it is.
    private func feedBallistics(_ base: UnsafeRawPointer, frames n: Int) {
        let sf = format.sampleFormat
        let step = sf.bytesPerSample
        let frameBytes = format.bytesPerFrame
        for ch in 0..<channels {
            var d = detectors[ch]
            var p = base + ch * step
            switch sf {
            case .s16LE:
                for _ in 0..<n {
                    let x = Int32(Int16(littleEndian: p.loadUnaligned(as: Int16.self)))
                    d.feed(Double(x < 0 ? -x : x) * (1.0 / 32768.0))
                    p += frameBytes
                }
            case .floatLE:
                for _ in 0..<n {
                    d.feed(Double(Swift.abs(Float(bitPattern: UInt32(littleEndian: p.loadUnaligned(as: UInt32.self))))))
                    p += frameBytes
                }
            default:
                for _ in 0..<n {
                    d.feed(Double(Swift.abs(SampleCodec.loadFloat(p, sf))))
                    p += frameBytes
                }
            }
            detectors[ch] = d
        }
    }

    private func finishBlock() {
        let reset = board.resetGeneration
        let doReset = reset != honouredReset
        honouredReset = reset
        if windowFilled < windowBlocks { windowFilled += 1 }
        var loudest: Float = 0
        for ch in 0..<channels { loudest = Swift.max(loudest, maxAbs[ch]) }
        blockPeak = loudest
        finishedBlocks &+= 1
        for ch in 0..<channels {
            // The window's sum and peak run along: the block replaces the one leaving. The sum is
            // summed afresh once a window (no drift); the peak when the loudest block leaves.
            let row = ch * windowBlocks
            let slot = row + windowPos
            let leavingPeak = windowPeak[slot]
            windowTotal[ch] += sumSq[ch] - windowSumSq[slot]
            windowSumSq[slot] = sumSq[ch]
            windowPeak[slot] = maxAbs[ch]
            var peak = windowMax[ch]
            if maxAbs[ch] >= peak {
                peak = maxAbs[ch]
            } else if leavingPeak >= peak {
                peak = 0
                for b in 0..<windowFilled { peak = Swift.max(peak, windowPeak[row + b]) }
            }
            windowMax[ch] = peak
            if windowPos == 0 {
                var total = 0.0
                for b in 0..<windowFilled { total += windowSumSq[row + b] }
                windowTotal[ch] = total
            }
            sumSq[ch] = 0
            maxAbs[ch] = 0
            let rms = (Swift.max(0, windowTotal[ch]) / Double(windowFilled * blockFrames)).squareRoot()
            if doReset { hold[ch] = 0; clips[ch] = 0; holdAge[ch] = 0 }
            if peak >= hold[ch] {
                hold[ch] = peak
                holdAge[ch] = 0
            } else {
                holdAge[ch] += 1
                if holdAge[ch] > holdBlocks { hold[ch] = peak; holdAge[ch] = 0 }
            }
            // A logarithm only for a level that changed (the peak and the hold mostly don't).
            let last = levels[ch]
            let peakDB = peak == shownPeak[ch] ? last.peakDB : ChannelLevel.decibels(Double(peak))
            let holdDB = hold[ch] == shownHold[ch] ? last.holdDB : ChannelLevel.decibels(Double(hold[ch]))
            shownPeak[ch] = peak
            shownHold[ch] = hold[ch]
            levels[ch] = ChannelLevel(
                peakDB: peakDB,
                rmsDB: ChannelLevel.decibels(rms),
                holdDB: holdDB,
                clips: clips[ch],
                ballisticDB: ballistics == .peak ? peakDB : ChannelLevel.decibels(detectors[ch].takeMax()),
                ballistics: ballistics)
        }
        // A new mode starts from rest at the next block (the PPM charges within ms, the VU needle
        // rises as it would from silence).
        let wanted = board.ballistics
        if wanted != ballistics {
            ballistics = wanted
            let fresh = BallisticDetector(wanted, sampleRate: format.sampleRate)
            for ch in 0..<channels { detectors[ch] = fresh }
        }
        windowPos = (windowPos + 1) % windowBlocks
        blockFill = 0
        board.publish(UnsafeBufferPointer(start: levels, count: channels))
    }
}

/// Four consecutive samples of one format as Float in [-1, 1] (`SampleCodec.loadFloat`'s scaling).
protocol LaneLoader {
    static var bytesPerSample: Int { get }
    static func load(_ p: UnsafeRawPointer) -> SIMD4<Float>
}

enum S16Lanes: LaneLoader {
    static var bytesPerSample: Int { 2 }
    @inline(__always) static func load(_ p: UnsafeRawPointer) -> SIMD4<Float> {
        let v = p.loadUnaligned(as: SIMD4<Int16>.self)
        return SIMD4(Float(Int16(littleEndian: v[0])), Float(Int16(littleEndian: v[1])),
                     Float(Int16(littleEndian: v[2])), Float(Int16(littleEndian: v[3]))) * (1.0 / 32768.0)
    }
}

enum S32Lanes: LaneLoader {
    static var bytesPerSample: Int { 4 }
    @inline(__always) static func load(_ p: UnsafeRawPointer) -> SIMD4<Float> { scaled(words(p)) }
    /// Four little-endian 32-bit words in the host's order.
    @inline(__always) static func words(_ p: UnsafeRawPointer) -> SIMD4<Int32> {
        let v = p.loadUnaligned(as: SIMD4<Int32>.self)
        #if _endian(big)
        return SIMD4(v[0].byteSwapped, v[1].byteSwapped, v[2].byteSwapped, v[3].byteSwapped)
        #else
        return v
        #endif
    }
    /// Left-justified samples as Float.
    @inline(__always) static func scaled(_ v: SIMD4<Int32>) -> SIMD4<Float> {
        SIMD4(Float(v[0]), Float(v[1]), Float(v[2]), Float(v[3])) * (1.0 / 2_147_483_648.0)
    }
}

/// The low 24 bits of each 4-byte container, moved to the top (as `SampleCodec.loadInt32`).
enum S24Lanes: LaneLoader {
    static var bytesPerSample: Int { 4 }
    @inline(__always) static func load(_ p: UnsafeRawPointer) -> SIMD4<Float> { S32Lanes.scaled(S32Lanes.words(p) &<< 8) }
}

enum FloatLanes: LaneLoader {
    static var bytesPerSample: Int { 4 }
    @inline(__always) static func load(_ p: UnsafeRawPointer) -> SIMD4<Float> {
        let v = p.loadUnaligned(as: SIMD4<UInt32>.self)
        return SIMD4(Float(bitPattern: UInt32(littleEndian: v[0])), Float(bitPattern: UInt32(littleEndian: v[1])),
                     Float(bitPattern: UInt32(littleEndian: v[2])), Float(bitPattern: UInt32(littleEndian: v[3])))
    }
}
