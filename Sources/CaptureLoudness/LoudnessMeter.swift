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
    /// Their rate (0: unknown), which tells a value not there yet (too little audio for its
    /// window) from silence.
    public var sampleRate: Int = 0

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

    /// Whether fewer than `seconds` of audio were measured (false when the rate is unknown).
    func shorterThan(_ seconds: Double) -> Bool { sampleRate > 0 && Double(frames) < seconds * Double(sampleRate) }

    /// One line: `I -23.0 LUFS, LRA 0.0 LU, max M -23.0 LUFS, max S -23.0 LUFS, max TP -20.0 dBTP`.
    /// `-inf` is silence (nothing above the gate); `--` a value that needs more audio than there
    /// was (400 ms for M and I, 3 s for S and LRA), said at the end: a 2 s take is not silent.
    public var summary: String {
        func v(_ x: Double?, _ window: Double) -> String { x.map { LoudnessReading.format($0) } ?? (shorterThan(window) ? "--" : "-inf") }
        // (libebur128 gives a range of 0 before its first 3 s block.)
        let lra = shorterThan(3) ? "--" : range.map { LoudnessReading.format($0) } ?? "0.0"
        let note = shorterThan(0.4) ? " (under 0.4 s: too short to measure loudness)"
            : shorterThan(3) ? " (under 3 s: no short-term loudness or range)" : ""
        return "I \(v(integrated, 0.4)) LUFS, LRA \(lra) LU, max M \(v(maxMomentary, 0.4)) LUFS, "
            + "max S \(v(maxShortTerm, 3)) LUFS, max TP \(v(maxTruePeak, 0)) dBTP" + note
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
///
/// True peak is libebur128's too, in a second state of its own, which is fed only the chunks that
/// could raise it (`TruePeakSkip`): its 4× interpolator is three quarters of the meter's cost, and
/// in programme material most chunks lie too far below the peak so far to matter. The figures are
/// exactly those of one libebur128 state fed everything (`LoudnessMeterTests.truePeakSkipIsExact`).
public final class LoudnessMeter {
    public let channels: Int
    public let sampleRate: Int
    /// Loudness (M, S, I, LRA) and each chunk's sample peak.
    private var state: UnsafeMutablePointer<ebur128_state>?
    /// True peak only, one mono state per channel, so each channel is fed only what could raise
    /// its own peak (empty at 192 kHz and above, where libebur128 doesn't oversample: the true
    /// peak is the sample peak).
    private var peakStates: [UnsafeMutablePointer<ebur128_state>?] = []
    private let skip: TruePeakSkip?
    /// Per channel, the highest true peak so far (linear).
    private var truePeak: UnsafeMutablePointer<Double>
    /// Per channel a lane of `lane` Floats (-1…1, as the interpolator takes them): the last
    /// `skip.history` frames before the chunk (to prime the interpolator after skipped frames),
    /// then the chunk's frames where they are needed.
    private var lanes: UnsafeMutablePointer<Float>
    private let lane: Int
    /// Per channel: whether its interpolator's memory is the stream's last frames (the frames
    /// before were fed), and the first frame of the run being fed (-1: none).
    private var primed: UnsafeMutablePointer<Bool>
    private var runStart: UnsafeMutablePointer<Int>
    /// Per channel, the peaks of the block before and of this one (fractions of full scale).
    private var before: UnsafeMutablePointer<Double>
    private var now: UnsafeMutablePointer<Double>
    /// Blocks (`TruePeakSkip.blockFrames`, per channel) fed to and skipped from the true-peak
    /// states (for the bench and the tests).
    private(set) public var truePeakBlocks = (fed: 0, skipped: 0)
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
    /// The first 29 steps' energies, and how many steps there have been: with the ring's last 30
    /// they hold every window of a take's parts that straddles a seam (`combined`).
    private var head: UnsafeMutablePointer<Double>
    private var stepCount = 0
    private var lastMomentary = -Double.infinity
    private var lastShortTerm = -Double.infinity

    /// A meter for `channels` at `sampleRate` (allocates libebur128's state).
    public init(channels: Int, sampleRate: Int, layout: LoudnessLayout = .discrete) throws(LoudnessError) {
        guard channels >= 1, channels <= 64, sampleRate >= 1, layout == .discrete || channels == 5 else { throw .unsupported(channels: channels, sampleRate: sampleRate) }
        // At 192 kHz and above libebur128 doesn't oversample: its true peak is the sample peak,
        // which the loudness state keeps then.
        skip = TruePeakSkip(sampleRate: sampleRate)
        let mode = Int32(EBUR128_MODE_S.rawValue | EBUR128_MODE_I.rawValue | EBUR128_MODE_LRA.rawValue
                         | (skip == nil ? EBUR128_MODE_SAMPLE_PEAK.rawValue : 0) | EBUR128_MODE_HISTOGRAM.rawValue)
        guard let st = ebur128_init(UInt32(channels), UInt(sampleRate), mode) else {
            throw .unsupported(channels: channels, sampleRate: sampleRate)
        }
        if skip != nil {
            for _ in 0..<channels {
                guard let tp = ebur128_init(1, UInt(sampleRate), Int32(EBUR128_MODE_TRUE_PEAK.rawValue)) else {
                    var s: UnsafeMutablePointer<ebur128_state>? = st
                    ebur128_destroy(&s)
                    for var t in peakStates { ebur128_destroy(&t) }
                    throw .unsupported(channels: channels, sampleRate: sampleRate)
                }
                peakStates.append(tp)
            }
        }
        state = st
        self.channels = channels
        self.sampleRate = sampleRate
        stepFrames = max(1, sampleRate / 10)
        scratch = .allocate(capacity: scratchFrames * channels)
        lane = (skip?.history ?? 0) + scratchFrames
        lanes = .allocate(capacity: lane * channels)
        lanes.initialize(repeating: 0, count: lane * channels)
        primed = .allocate(capacity: channels)
        primed.initialize(repeating: true, count: channels)
        runStart = .allocate(capacity: channels)
        runStart.initialize(repeating: -1, count: channels)
        truePeak = .allocate(capacity: channels)
        truePeak.initialize(repeating: 0, count: channels)
        before = .allocate(capacity: channels)
        before.initialize(repeating: 0, count: channels)
        now = .allocate(capacity: channels)
        now.initialize(repeating: 0, count: channels)
        steps = .allocate(capacity: 30)
        steps.initialize(repeating: 0, count: 30)
        head = .allocate(capacity: 29)
        head.initialize(repeating: 0, count: 29)
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
        for i in peakStates.indices { ebur128_destroy(&peakStates[i]) }
        scratch.deallocate()
        lanes.deallocate()
        primed.deallocate()
        runStart.deallocate()
        truePeak.deallocate()
        before.deallocate()
        now.deallocate()
        steps.deallocate()
        head.deallocate()
    }

    /// Measures `count` interleaved frames of `channels` channels in `encoding`. Allocation-free.
    public func process(_ frames: UnsafeRawPointer, count: Int, encoding: SampleFormat) {
        guard !isRetired else { return }
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
        if stepCount < 29 { head[stepCount] = steps[stepIndex] }
        stepCount += 1
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
        addTruePeak(p, n, encoding)
    }

    /// The chunk just measured for loudness, for the true peak: fed to libebur128's true-peak
    /// state when it could raise a channel's peak, skipped otherwise (`TruePeakSkip`).
    private func addTruePeak(_ p: UnsafeRawPointer, _ n: Int, _ encoding: SampleFormat) {
        guard let skip else {
            // No oversampling at this rate: the true peak is the sample peak, as in libebur128.
            for c in 0..<channels {
                var peak = 0.0
                ebur128_prev_sample_peak(state, UInt32(c), &peak)
                truePeak[c] = max(truePeak[c], peak)
            }
            return
        }
        let held = skip.history
        // Block by block (a few ms: a voice's peaks come and go within a batch), each channel
        // fed a block when the window its outputs depend on (the block and the `held` frames
        // before it, which lie in the block before) could raise the channel's peak; fed blocks
        // go to libebur128 in runs.
        for c in 0..<channels {
            var peak: Float = 0
            let h = lanes + c * lane
            for i in 0..<held { peak = max(peak, abs(h[i])) }
            before[c] = Double(peak)
        }
        var block = 0
        while block < n {
            let len = min(TruePeakSkip.blockFrames, n - block)
            peaks(p, from: block, count: len, encoding, into: now)
            for c in 0..<channels {
                if skip.mayRaise(truePeak[c], windowPeak: max(now[c], before[c])) {
                    if runStart[c] < 0 { runStart[c] = block }
                } else {
                    if runStart[c] >= 0 { feed(c, p, from: runStart[c], to: block, encoding, held) }
                    runStart[c] = -1
                    primed[c] = false
                    truePeakBlocks.skipped += 1
                }
            }
            swap(&before, &now)
            block += len
        }
        for c in 0..<channels where runStart[c] >= 0 {
            feed(c, p, from: runStart[c], to: n, encoding, held)
            runStart[c] = -1
        }
        // The last `held` frames of each lane (its history and this chunk) become its history.
        for c in 0..<channels {
            let l = lanes + c * lane
            convert(p, channel: c, from: max(0, n - held), to: n, encoding, into: l + held)
            memmove(l, l + n, held * MemoryLayout<Float>.stride)  // may overlap (n < held)
        }
    }

    /// Per channel, the largest |sample| of chunk frames `from..<from + count`, as a fraction
    /// of full scale.
    private func peaks(_ p: UnsafeRawPointer, from: Int, count: Int, _ encoding: SampleFormat, into out: UnsafeMutablePointer<Double>) {
        func scan<T: FixedWidthInteger & SignedInteger>(_ s: UnsafePointer<T>, _ scale: Double) {
            for c in 0..<channels {
                var m: T.Magnitude = 0
                var i = from * channels + c
                for _ in 0..<count { m = max(m, s[i].magnitude); i += channels }
                out[c] = Double(m) / scale
            }
        }
        switch encoding {
        case .s16LE: scan(p.assumingMemoryBound(to: Int16.self), 32768)
        case .s32LE: scan(p.assumingMemoryBound(to: Int32.self), 2_147_483_648)
        case .s24LE, .s24_3LE: scan(UnsafePointer(scratch), 2_147_483_648)
        case .floatLE:
            let s = p.assumingMemoryBound(to: Float.self)
            for c in 0..<channels {
                var m: Float = 0
                var i = from * channels + c
                for _ in 0..<count { m = max(m, abs(s[i])); i += channels }
                out[c] = Double(m)
            }
        }
    }

    /// Channel `c`'s chunk frames `from..<to` into its true-peak state, primed first with the
    /// `held` frames before them if those were skipped.
    private func feed(_ c: Int, _ p: UnsafeRawPointer, from: Int, to: Int, _ encoding: SampleFormat, _ held: Int) {
        let chunk = lanes + c * lane + held
        convert(p, channel: c, from: max(0, from - (primed[c] ? 0 : held)), to: to, encoding, into: chunk)
        if !primed[c] {
            // The interpolator's memory is from before the skipped frames: refill it with the
            // frames just before these; what it outputs meanwhile is not the stream's.
            ebur128_add_frames_float(peakStates[c], chunk + from - held, held)
        }
        ebur128_add_frames_float(peakStates[c], chunk + from, to - from)
        var peak = 0.0
        ebur128_prev_true_peak(peakStates[c], 0, &peak)
        truePeak[c] = max(truePeak[c], peak)
        primed[c] = true
        truePeakBlocks.fed += (to - from + TruePeakSkip.blockFrames - 1) / TruePeakSkip.blockFrames
    }

    /// Channel `c` of chunk frames `from..<to` into `out` (at the same offsets), as Float.
    private func convert(_ p: UnsafeRawPointer, channel c: Int, from: Int, to: Int, _ encoding: SampleFormat, into out: UnsafeMutablePointer<Float>) {
        guard from < to else { return }
        switch encoding {
        case .s16LE:
            let s = p.assumingMemoryBound(to: Int16.self)
            for i in from..<to { out[i] = Float(Double(s[i * channels + c]) / 32768) }
        case .s32LE:
            let s = p.assumingMemoryBound(to: Int32.self)
            for i in from..<to { out[i] = Float(Double(s[i * channels + c]) / 2_147_483_648) }
        case .floatLE:
            let s = p.assumingMemoryBound(to: Float.self)
            for i in from..<to { out[i] = s[i * channels + c] }
        case .s24LE, .s24_3LE:
            // `add` left the chunk in `scratch` as left-justified Int32.
            for i in from..<to { out[i] = Float(Double(scratch[i * channels + c]) / 2_147_483_648) }
        }
    }

    /// Whether `retire()` was called: the meter measures nothing more.
    private(set) public var isRetired = false

    /// The stream ended (a finished file): keeps the figures and frees what only measuring needs.
    /// libebur128's windows (3 s of filtered audio per channel: 2.3 MB for 48 kHz stereo, 147 MB
    /// for 64 channels at 96 kHz) go by shrinking the state to one channel at 16 Hz; the gating
    /// blocks and short-term blocks (its histograms) stay, as `ebur128_change_parameters`
    /// documents ("the current unfinished block will be lost"), so `reading` and `combined`
    /// still give the integrated level and the range. `process` does nothing afterwards.
    public func retire() {
        guard !isRetired else { return }
        isRetired = true
        _ = ebur128_change_parameters(state, 1, 16)  // NO_CHANGE for a meter already that small
        for i in peakStates.indices { ebur128_destroy(&peakStates[i]) }
        peakStates = []
    }

    /// One stream's figures from meters of its consecutive parts (a take split into files), as
    /// libebur128 combines them (`ebur128_loudness_global_multiple`, `_range_multiple`: the
    /// parts' gating blocks pooled). The blocks that would have straddled a seam are not in any
    /// part: 3 of the 400 ms blocks and 2 of the 3 s ones per seam, against 10 and 1 a second
    /// of audio. True peaks are the parts' highest. Momentary and short-term windows run on
    /// across the seams, from the parts' 100 ms steps (`seamSteps`): the maxima are the highest
    /// of every whole window of the take (a take of parts shorter than 3 s has short-term values
    /// too), the current values the take's last windows; each part's last partial step (under
    /// 100 ms) is left out, so a window across a seam is up to that much off the whole stream's.
    /// All of one channel count (else the last part's figures alone).
    public static func combined(_ parts: [LoudnessMeter]) -> LoudnessReading? {
        guard let last = parts.last else { return nil }
        guard parts.count > 1, parts.allSatisfy({ $0.channels == last.channels }) else { return last.reading }
        var r = last.reading
        var states = parts.map { $0.state }
        var v = -Double.infinity
        r.integrated = states.withUnsafeMutableBufferPointer { ebur128_loudness_global_multiple($0.baseAddress, $0.count, &v) } == 0
            && v.isFinite && v > -200 ? v : nil
        var lra = 0.0
        r.range = states.withUnsafeMutableBufferPointer { ebur128_loudness_range_multiple($0.baseAddress, $0.count, &lra) } == 0
            && lra.isFinite ? lra : nil
        let finite = { (x: Double) in x.isFinite ? x : nil }
        // The take's steps in order, nil where a long part's middle (its own maxima have it) is left out.
        let sequence = parts.flatMap { $0.seamSteps }
        func windows(_ n: Int) -> (max: Double?, last: Double?) {
            var best = -Double.infinity, sum = 0.0, run = 0, last: Double?
            for (i, e) in sequence.enumerated() {
                guard let e else { sum = 0; run = 0; last = nil; continue }
                sum += e
                run += 1
                if run > n { sum -= sequence[i - n]! }
                last = nil
                if run >= n, sum > 0 {
                    let level = 10 * log10(sum / Double(n)) - 0.691
                    best = max(best, level)
                    last = level
                }
            }
            return (best > -200 ? best : nil, last.flatMap { $0 > -200 ? $0 : nil })
        }
        let m = windows(4), st = windows(30)
        r.maxMomentary = ([m.max] + parts.map { finite($0.maxMomentary) }).compactMap { $0 }.max()
        r.maxShortTerm = ([st.max] + parts.map { finite($0.maxShortTerm) }).compactMap { $0 }.max()
        r.momentary = m.last
        r.shortTerm = st.last
        r.truePeak = (0..<last.channels).map { c in
            let peak = parts.map { $0.truePeak[c] }.max() ?? 0
            return peak > 0 ? 20 * log10(peak) : nil
        }
        r.frames = parts.reduce(0) { $0 + $1.frames }
        r.sampleRate = last.sampleRate
        return r
    }

    /// This meter's 100 ms steps that a window across a seam can reach, in order: all of them
    /// when there are at most 59, else the first 29, nil (the middle, left out), the last 30.
    var seamSteps: [Double?] {
        let ring = { (i: Int) -> Double in self.steps[i % 30] }
        if stepCount <= 59 { return (0..<stepCount).map { $0 < 29 ? head[$0] : ring($0) } }
        return (0..<29).map { head[$0] } + [nil] + ((stepCount - 30)..<stepCount).map(ring)
    }

    /// The figures now: momentary and short-term as of the last 100 ms step; integrated and range
    /// from the histogram's bins (a pass over 1000 of them: fine ten times a second).
    public var reading: LoudnessReading {
        func lufs(_ f: (UnsafeMutablePointer<ebur128_state>?, UnsafeMutablePointer<Double>?) -> Int32) -> Double? {
            var v = -Double.infinity
            return f(state, &v) == 0 && v.isFinite && v > -200 ? v : nil
        }
        var r = LoudnessReading(frames: frames)
        r.sampleRate = sampleRate
        // As of the last 100 ms step (at most 100 ms ago; the output reads at each step).
        if frames >= sampleRate * 4 / 10, lastMomentary > -200 { r.momentary = lastMomentary }
        if frames >= sampleRate * 3, lastShortTerm > -200 { r.shortTerm = lastShortTerm }
        r.integrated = lufs(ebur128_loudness_global)
        var lra = 0.0
        r.range = ebur128_loudness_range(state, &lra) == 0 && lra.isFinite ? lra : nil
        r.maxMomentary = maxMomentary.isFinite ? maxMomentary : nil
        r.maxShortTerm = maxShortTerm.isFinite ? maxShortTerm : nil
        r.truePeak = (0..<channels).map { ch in truePeak[ch] > 0 ? 20 * log10(truePeak[ch]) : nil }
        return r
    }
}

/// When a chunk can be left out of the true peak without changing it (exactly).
///
/// libebur128's true peak is the largest |y| of its interpolator (49-tap windowed sinc, 4× below
/// 96 kHz, 2× below 192 kHz; `interp_create` in ebur128.c, 1.2.6), where each output is
/// y = Σ h_f[t]·x[n − t] over one of the polyphase sub-filters h_f and the last `history` inputs.
/// So |y| ≤ (Σ_t |h_f[t]|)·max|x| ≤ G·max|x| with G the largest sub-filter's sum of magnitudes
/// (1.86 at 4×, 2.31 at 2×). Every output made while a chunk is fed depends on the chunk and on
/// the `history − 1` frames before it; when G times their peak is at most the channel's true peak
/// so far, no output can raise it, and the chunk is skipped. The coefficients are computed here
/// as libebur128 computes them; `LoudnessMeterTests.boundIsLibebur128s` feeds libebur128 the
/// input that reaches G and checks it reports G, so a library with another interpolator fails a
/// test instead of reading low.
public struct TruePeakSkip: Sendable {
    /// libebur128's oversampling factor.
    public let factor: Int
    /// The interpolator's memory in input frames (libebur128's `delay`).
    public let history: Int
    /// The largest sum of |coefficients| over the sub-filters.
    public let gain: Double
    /// The sub-filter reaching `gain`, its coefficients by input delay (for the test).
    public let worstPhase: [Double]

    static let taps = 49
    /// Frames decided on at a time: 256 (5.3 ms at 48 kHz), a few cycles of a voice's pitch;
    /// each fed block after a skipped one costs `history` frames of priming.
    public static let blockFrames = 256

    /// nil at 192 kHz and above (no oversampling).
    public init?(sampleRate: Int) {
        guard sampleRate < 192_000 else { return nil }
        factor = sampleRate < 96_000 ? 4 : 2
        history = (Self.taps + factor - 1) / factor
        var phases = [[Double]](repeating: [Double](repeating: 0, count: history), count: factor)
        for j in 0..<Self.taps {
            let m = Double(j) - Double(Self.taps - 1) / 2
            var c = 1.0
            if abs(m) > 0.000001 { c = sin(m * .pi / Double(factor)) / (m * .pi / Double(factor)) }
            c *= 0.5 * (1 - cos(2 * .pi * Double(j) / Double(Self.taps - 1)))
            if abs(c) > 0.000001 { phases[j % factor][j / factor] = c }
        }
        let sums = phases.map { $0.reduce(0) { $0 + abs($1) } }
        let worst = sums.indices.max { sums[$0] < sums[$1] }!
        gain = sums[worst]
        worstPhase = phases[worst]
    }

    /// Whether a chunk whose window (the chunk and the `history` frames before it) peaks at
    /// `windowPeak` could produce an output above `truePeak`. The margin covers the Float
    /// rounding of the inputs and of each output (a few parts in 10⁷).
    public func mayRaise(_ truePeak: Double, windowPeak: Double) -> Bool {
        gain * windowPeak * (1 + 1e-6) > truePeak
    }
}
