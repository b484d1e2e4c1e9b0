// EBU R128 / ITU-R BS.1770-4 loudness and true peak over libebur128: the meter (one thread) and
// the reading it publishes (any thread).
import CEbur128
import CaptureCore
import Glibc

/// A loudness reading, EBU R128's figures. Loudness in LUFS, the range in LU, true peak in dBTP.
/// nil: no value yet (less than a window of audio) or nothing above the gates (silence), where a
/// meter program shows "-inf" or "--".
public struct LoudnessReading: Sendable, Equatable {
    /// Momentary loudness: the last 400 ms.
    public var momentary: Double?
    /// Short-term loudness: the last 3 s.
    public var shortTerm: Double?
    /// Integrated (gated) loudness since the start or the last reset (BS.1770-4: absolute gate
    /// at -70 LUFS, relative gate 10 LU below the ungated level, 400 ms blocks overlapping 75%).
    public var integrated: Double?
    /// Loudness range (EBU Tech 3342): the spread of the gated short-term loudness, 10th to 95th
    /// percentile.
    public var range: Double?
    /// The highest momentary and short-term loudness since the start or the last reset.
    public var maxMomentary: Double?
    public var maxShortTerm: Double?
    /// Per channel: the highest true peak (4× oversampled below 96 kHz, 2× below 192 kHz, as
    /// libebur128 does) since the start or the last reset, in dBTP; nil: silence so far.
    public var truePeak: [Double?]
    /// Frames measured since the start or the last reset.
    public var frames: Int

    public init(momentary: Double? = nil, shortTerm: Double? = nil, integrated: Double? = nil, range: Double? = nil,
                maxMomentary: Double? = nil, maxShortTerm: Double? = nil, truePeak: [Double?] = [], frames: Int = 0) {
        self.momentary = momentary
        self.shortTerm = shortTerm
        self.integrated = integrated
        self.range = range
        self.maxMomentary = maxMomentary
        self.maxShortTerm = maxShortTerm
        self.truePeak = truePeak
        self.frames = frames
    }

    /// The highest true peak over all channels.
    public var maxTruePeak: Double? { truePeak.compactMap { $0 }.max() }

    /// One line: `I -23.0 LUFS, LRA 0.0 LU, max M -23.0 LUFS, max S -23.0 LUFS, max TP -20.0 dBTP`.
    public var summary: String {
        func v(_ x: Double?) -> String { x.map { LoudnessReading.format($0) } ?? "-inf" }
        return "I \(v(integrated)) LUFS, LRA \(range.map { LoudnessReading.format($0) } ?? "0.0") LU, max M \(v(maxMomentary)) LUFS, "
            + "max S \(v(maxShortTerm)) LUFS, max TP \(v(maxTruePeak)) dBTP"
    }

    /// One decimal, as meters show loudness: `-23.0`, `1.5`.
    public static func format(_ x: Double) -> String {
        let t = Int((x * 10).rounded())
        return (t < 0 ? "-" : "") + "\(abs(t) / 10).\(abs(t) % 10)"
    }
}

/// Why a meter could not be made.
public enum LoudnessError: Error, Equatable, CustomStringConvertible {
    /// libebur128 refused the channel count or rate (it takes 1…64 channels, 1 Hz…2.8 MHz) or
    /// ran out of memory.
    case unsupported(channels: Int, sampleRate: Int)

    public var description: String {
        switch self {
        case .unsupported(let c, let r): "loudness meter: libebur128 can't measure \(c) channels at \(r) Hz"
        }
    }
}

/// How the channels are weighted (BS.1770-4 table 3).
public enum LoudnessLayout: Sendable, Equatable {
    /// Mono, stereo, or discrete channels (CaptureDeck's captures of 3 or more: no speaker
    /// layout), each of weight 1.
    case discrete
    /// 5.0 in the order L, R, C, Ls, Rs: the surrounds weigh 1.41 (+1.5 dB).
    case surround50
}

/// Measures one stream's loudness and true peak (libebur128, histogram mode). One thread at a time
/// (the writer queue); never the capture thread.
///
/// libebur128 allocates in `ebur128_init` only: the state is made here, for a format, and the
/// histogram mode keeps the integrated loudness and the range in fixed bins (1000 of 0.1 LU from
/// -70 to +30 LUFS) instead of a list of blocks that grows with the recording, so `process`
/// allocates nothing and a reading costs the same after an hour as after a second. (The bins cost
/// at most 0.05 LU of precision; the EBU cases in Docs/meters.md pass with it.) Mono is one
/// channel of weight 1 as BS.1770 defines it (not dual mono, +3 dB); three or more channels are
/// CaptureDeck's discrete channels, each weighted 1 (no surround weights, no LFE left out).
public final class LoudnessMeter {
    public let channels: Int
    public let sampleRate: Int
    private var state: UnsafeMutablePointer<ebur128_state>?
    /// Integer formats libebur128 can't take as they are (24-bit): left-justified Int32, a chunk at a time.
    private var scratch: UnsafeMutablePointer<Int32>
    private let scratchFrames = 4096
    /// Frames since the last 100 ms step, where the momentary and short-term maxima are sampled.
    private var sinceStep = 0
    private let stepFrames: Int
    private(set) public var frames = 0
    private var maxMomentary = -Double.infinity
    private var maxShortTerm = -Double.infinity
    /// The mean-square energy of each of the last 30 steps of 100 ms (a ring), from which the
    /// momentary (4 steps) and short-term (30) levels are summed: libebur128 sums its whole 3 s
    /// of filtered audio for each short-term value (9 million samples at 32 channels and 96 kHz),
    /// which ten times a second cost more than the filtering itself. Same figures: the steps are
    /// the 100 ms from the stream's start, the windows whole steps.
    private var steps: UnsafeMutablePointer<Double>
    private var stepIndex = 0
    private var lastMomentary = -Double.infinity
    private var lastShortTerm = -Double.infinity

    /// A meter for `channels` at `sampleRate` (allocates libebur128's state).
    public init(channels: Int, sampleRate: Int, layout: LoudnessLayout = .discrete) throws(LoudnessError) {
        guard channels >= 1, channels <= 64, sampleRate >= 1, layout == .discrete || channels == 5 else { throw .unsupported(channels: channels, sampleRate: sampleRate) }
        let mode = Int32(EBUR128_MODE_S.rawValue | EBUR128_MODE_I.rawValue | EBUR128_MODE_LRA.rawValue
                         | EBUR128_MODE_TRUE_PEAK.rawValue | EBUR128_MODE_HISTOGRAM.rawValue)
        guard let st = ebur128_init(UInt32(channels), UInt(sampleRate), mode) else {
            throw .unsupported(channels: channels, sampleRate: sampleRate)
        }
        state = st
        self.channels = channels
        self.sampleRate = sampleRate
        stepFrames = max(1, sampleRate / 10)
        scratch = .allocate(capacity: scratchFrames * channels)
        steps = .allocate(capacity: 30)
        steps.initialize(repeating: 0, count: 30)
        let surround = [EBUR128_LEFT, EBUR128_RIGHT, EBUR128_CENTER, EBUR128_LEFT_SURROUND, EBUR128_RIGHT_SURROUND]
        if layout == .surround50 {
            for (ch, c) in surround.enumerated() { ebur128_set_channel(st, UInt32(ch), Int32(c.rawValue)) }
        } else if channels >= 3 {
            // Discrete channels: libebur128's default map makes the 4th channel LFE (unused) and
            // the 5th and 6th surrounds (weight 1.41); each counts 1 here.
            for ch in 0..<channels { ebur128_set_channel(st, UInt32(ch), Int32(EBUR128_CENTER.rawValue)) }
        }
    }

    deinit {
        ebur128_destroy(&state)
        scratch.deallocate()
        steps.deallocate()
    }

    /// Measures `count` interleaved frames of `channels` channels in `encoding`. Allocation-free.
    public func process(_ frames: UnsafeRawPointer, count: Int, encoding: SampleFormat) {
        var done = 0
        let bytesPerFrame = encoding.bytesPerSample * channels
        while done < count {
            // Up to the next 100 ms step, so the maxima see every step's momentary and short-term value.
            let n = min(count - done, stepFrames - sinceStep, scratchFrames)
            add(frames + done * bytesPerFrame, n, encoding)
            done += n
            sinceStep += n
            self.frames += n
            if sinceStep == stepFrames {
                sinceStep = 0
                step()
            }
        }
    }

    /// A 100 ms step ended: its energy into the ring, the momentary and short-term levels, the
    /// maxima (over whole windows only: before, libebur128 counts zeros in).
    private func step() {
        var l = -Double.infinity
        ebur128_loudness_window(state, 100, &l)
        steps[stepIndex] = l.isFinite ? pow(10, (l + 0.691) / 10) : 0
        var m = 0.0, s = 0.0
        for i in 0..<30 {
            let e = steps[(stepIndex + 30 - i) % 30]
            if i < 4 { m += e }
            s += e
        }
        stepIndex = (stepIndex + 1) % 30
        func lufs(_ e: Double) -> Double { e > 0 ? 10 * log10(e) - 0.691 : -Double.infinity }
        lastMomentary = lufs(m / 4)
        lastShortTerm = lufs(s / 30)
        if frames >= sampleRate * 4 / 10, lastMomentary.isFinite { maxMomentary = max(maxMomentary, lastMomentary) }
        if frames >= 3 * sampleRate, lastShortTerm.isFinite { maxShortTerm = max(maxShortTerm, lastShortTerm) }
    }

    private func add(_ p: UnsafeRawPointer, _ n: Int, _ encoding: SampleFormat) {
        switch encoding {
        case .s16LE: ebur128_add_frames_short(state, p.assumingMemoryBound(to: Int16.self), n)
        case .s32LE: ebur128_add_frames_int(state, p.assumingMemoryBound(to: Int32.self), n)
        case .floatLE: ebur128_add_frames_float(state, p.assumingMemoryBound(to: Float.self), n)
        case .s24LE, .s24_3LE:
            let step = encoding.bytesPerSample
            for i in 0..<(n * channels) { scratch[i] = SampleCodec.loadInt32(p + i * step, encoding) }
            ebur128_add_frames_int(state, scratch, n)
        }
    }

    /// The figures now: momentary and short-term as of the last 100 ms step; integrated and range
    /// from the histogram's bins (a pass over 1000 of them: fine ten times a second).
    public var reading: LoudnessReading {
        func lufs(_ f: (UnsafeMutablePointer<ebur128_state>?, UnsafeMutablePointer<Double>?) -> Int32) -> Double? {
            var v = -Double.infinity
            return f(state, &v) == 0 && v.isFinite && v > -200 ? v : nil
        }
        var r = LoudnessReading(frames: frames)
        // As of the last 100 ms step (at most 100 ms ago; the output reads at each step).
        if frames >= sampleRate * 4 / 10, lastMomentary > -200 { r.momentary = lastMomentary }
        if frames >= sampleRate * 3, lastShortTerm > -200 { r.shortTerm = lastShortTerm }
        r.integrated = lufs(ebur128_loudness_global)
        var lra = 0.0
        r.range = ebur128_loudness_range(state, &lra) == 0 && lra.isFinite ? lra : nil
        r.maxMomentary = maxMomentary.isFinite ? maxMomentary : nil
        r.maxShortTerm = maxShortTerm.isFinite ? maxShortTerm : nil
        r.truePeak = (0..<channels).map { ch in
            var peak = 0.0
            guard ebur128_true_peak(state, UInt32(ch), &peak) == 0, peak > 0 else { return nil }
            return 20 * log10(peak)
        }
        return r
    }
}
