// Per-channel level metering (peak, sliding RMS, peak hold, clips) and its lock-free publication.
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
/// it always gets one consistent snapshot and never blocks the writer.
public final class MeterBoard: @unchecked Sendable {
    public static let maxChannels = 8
    private static let fields = 4
    private let sequence = Atomic<UInt64>(0)
    private let cells: UnsafeMutablePointer<Atomic<UInt64>>
    private let channelCount = Atomic<Int>(0)
    private let resetRequests = Atomic<UInt64>(0)

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
        }
        channelCount.store(n, ordering: .relaxed)
        sequence.store(s &+ 2, ordering: .releasing)
    }

    /// The latest consistent levels (empty before the first publication). Any thread.
    public func snapshot() -> [ChannelLevel] {
        while true {
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
                    clips: Int(cells[base + 3].load(ordering: .relaxed))))
            }
            atomicMemoryFence(ordering: .acquiring)
            if sequence.load(ordering: .relaxed) == s1 { return out }
        }
    }

    /// Asks the metering thread to clear peak holds and clip counts. Any thread.
    public func requestReset() { resetRequests.add(1, ordering: .releasing) }

    /// Number of reset requests so far (the meter compares it with the last one it honoured).
    var resetGeneration: UInt64 { resetRequests.load(ordering: .acquiring) }
}

/// Computes levels from interleaved frames. Used by one thread (the writer queue); allocates
/// only in `init`.
public final class LevelMeter: @unchecked Sendable {
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
    private var sumSq: [Double]          // current sub-block, per channel
    private var maxAbs: [Float]          // current sub-block, per channel
    private var windowSumSq: [Double]    // channels × windowBlocks
    private var windowPeak: [Float]      // channels × windowBlocks
    private var windowPos = 0
    private var windowFilled = 0
    private var hold: [Float]
    private var holdAge: [Int]
    private var clips: [Int]
    private var levels: [ChannelLevel]
    private var honouredReset: UInt64 = 0

    public init(format: StreamFormat, board: MeterBoard = MeterBoard()) {
        self.format = format
        self.board = board
        channels = format.channels
        blockFrames = Swift.max(1, format.sampleRate / 100)
        let bits = format.sampleFormat.isFloat ? 0 : format.sampleFormat.bitDepth
        clipThreshold = bits == 0 ? 1.0 : Float(1.0 - 1.0 / Double(1 << (bits - 1)))
        sumSq = Array(repeating: 0, count: channels)
        maxAbs = Array(repeating: 0, count: channels)
        windowSumSq = Array(repeating: 0, count: channels * windowBlocks)
        windowPeak = Array(repeating: 0, count: channels * windowBlocks)
        hold = Array(repeating: 0, count: channels)
        holdAge = Array(repeating: 0, count: channels)
        clips = Array(repeating: 0, count: channels)
        levels = Array(repeating: .silent, count: channels)
        honouredReset = board.resetGeneration
    }

    /// Meters `frames` interleaved frames in `format` at `pointer`. Allocation-free.
    public func process(_ pointer: UnsafeRawPointer, frames: Int) {
        let sf = format.sampleFormat
        let step = sf.bytesPerSample
        let frameBytes = format.bytesPerFrame
        var done = 0
        while done < frames {
            let n = Swift.min(frames - done, blockFrames - blockFill)
            let base = pointer + done * frameBytes
            for ch in 0..<channels {
                var s = 0.0
                var m = maxAbs[ch]
                var c = 0
                var p = base + ch * step
                for _ in 0..<n {
                    let x = SampleCodec.loadFloat(p, sf)
                    let a = Swift.abs(x)
                    s += Double(x) * Double(x)
                    if a > m { m = a }
                    if a >= clipThreshold { c += 1 }
                    p += frameBytes
                }
                sumSq[ch] += s
                maxAbs[ch] = m
                clips[ch] += c
            }
            blockFill += n
            done += n
            if blockFill == blockFrames { finishBlock() }
        }
    }

    private func finishBlock() {
        let reset = board.resetGeneration
        let doReset = reset != honouredReset
        honouredReset = reset
        if windowFilled < windowBlocks { windowFilled += 1 }
        for ch in 0..<channels {
            let slot = ch * windowBlocks + windowPos
            windowSumSq[slot] = sumSq[ch]
            windowPeak[slot] = maxAbs[ch]
            sumSq[ch] = 0
            maxAbs[ch] = 0
            var total = 0.0
            var peak: Float = 0
            for b in 0..<windowFilled {
                total += windowSumSq[ch * windowBlocks + b]
                peak = Swift.max(peak, windowPeak[ch * windowBlocks + b])
            }
            let rms = (total / Double(windowFilled * blockFrames)).squareRoot()
            if doReset { hold[ch] = 0; clips[ch] = 0; holdAge[ch] = 0 }
            if peak >= hold[ch] {
                hold[ch] = peak
                holdAge[ch] = 0
            } else {
                holdAge[ch] += 1
                if holdAge[ch] > holdBlocks { hold[ch] = peak; holdAge[ch] = 0 }
            }
            levels[ch] = ChannelLevel(
                peakDB: ChannelLevel.decibels(Double(peak)),
                rmsDB: ChannelLevel.decibels(rms),
                holdDB: ChannelLevel.decibels(Double(hold[ch])),
                clips: clips[ch])
        }
        windowPos = (windowPos + 1) % windowBlocks
        blockFill = 0
        levels.withUnsafeBufferPointer { board.publish($0) }
    }
}
