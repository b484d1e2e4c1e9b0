// The true peak left to libebur128 but fed only the chunks that can raise it: the figures are
// exactly those of one libebur128 state fed everything, on signals made to catch a skip that
// shouldn't be (inter-sample peaks at fs/4, bursts after quiet, steps in level), in every sample
// format, at each oversampling factor, in uneven chunks; and the bound it skips by is libebur128's.
import CEbur128
import CaptureCore
import CaptureLoudness
import CaptureTestSupport
import Glibc
import Testing

@Suite struct TruePeakSkipTests {
    /// Programme-like: quiet noise, then a loud burst, then level steps down and up again; and a
    /// tone at a quarter of the rate, 45° off the samples, whose true peak is √2 times its
    /// samples' (the interpolator's hardest case), arriving after the peak is already set high.
    static func signal(channels: Int, rate: Int, seconds: Double) -> [Float] {
        var x: UInt32 = 0x9E37_79B9
        let n = Int(seconds * Double(rate))
        var out = [Float](repeating: 0, count: n * channels)
        for i in 0..<n {
            let t = Double(i) / Double(rate)
            for c in 0..<channels {
                x ^= x << 13; x ^= x >> 17; x ^= x << 5
                let noise = Double(Int32(bitPattern: x)) / 2_147_483_648
                let v: Double = switch t {
                case ..<0.5: 0.01 * noise
                case ..<0.8: (c == 0 ? 0.6 : 0.3) * noise
                case ..<1.6: 0.05 * noise
                case ..<2.0: 0.2 * noise
                // fs/4 at 45°: samples at ±0.45·(√2/2), true peak 0.45 (above the burst's samples on channel 1).
                case ..<2.4: 0.45 * sin(2 * .pi * Double(i) / 4 + .pi / 4)
                default: 0.001 * noise
                }
                out[i * channels + c] = Float(v)
            }
        }
        return out
    }

    static let chunks = [480, 1, 4800, 97, 2048, 13, 5000, 24, 331]

    @Test("the true peak with skipping equals one libebur128 state fed everything, bit for bit",
          arguments: [(2, 48_000, SampleFormat.s16LE), (2, 44_100, .floatLE), (3, 48_000, .s24_3LE),
                      (2, 96_000, .s32LE), (1, 88_200, .s16LE), (2, 192_000, .floatLE)])
    func truePeakSkipIsExact(channels: Int, rate: Int, encoding: SampleFormat) throws {
        let samples = Self.signal(channels: channels, rate: rate, seconds: 3)
        let bytes = encoding == .floatLE ? samples.withUnsafeBytes { Array($0) } : samples.rawBytes(encoding)
        let meter = try LoudnessMeter(channels: channels, sampleRate: rate)
        let reference = try #require(ebur128_init(UInt32(channels), UInt(rate), Int32(EBUR128_MODE_TRUE_PEAK.rawValue)))
        var st: UnsafeMutablePointer<ebur128_state>? = reference
        defer { ebur128_destroy(&st) }
        let frames = samples.count / channels
        let bpf = encoding.bytesPerSample * channels
        // The reference takes what libebur128 takes of each format (24-bit as left-justified Int32).
        let ints: [Int32] = (encoding == .s24_3LE || encoding == .s24LE)
            ? bytes.withUnsafeBytes { b in (0..<samples.count).map { SampleCodec.loadInt32(b.baseAddress! + $0 * encoding.bytesPerSample, encoding) } } : []
        bytes.withUnsafeBytes { b in
            var at = 0, k = 0
            while at < frames {
                let n = min(Self.chunks[k % Self.chunks.count], frames - at)
                meter.process(b.baseAddress! + at * bpf, count: n, encoding: encoding)
                at += n; k += 1
            }
            switch encoding {
            case .s16LE: ebur128_add_frames_short(reference, b.baseAddress!.assumingMemoryBound(to: Int16.self), frames)
            case .s32LE: ebur128_add_frames_int(reference, b.baseAddress!.assumingMemoryBound(to: Int32.self), frames)
            case .floatLE: ebur128_add_frames_float(reference, b.baseAddress!.assumingMemoryBound(to: Float.self), frames)
            case .s24LE, .s24_3LE: _ = ints.withUnsafeBufferPointer { ebur128_add_frames_int(reference, $0.baseAddress!, frames) }
            }
        }
        let expected: [Double?] = (0..<channels).map { c in
            var v = 0.0
            ebur128_true_peak(reference, UInt32(c), &v)
            return v > 0 ? 20 * log10(v) : nil
        }
        #expect(meter.reading.truePeak == expected)
        if rate < 192_000 {
            // Most chunks after the burst lie far below it: skipped; the fs/4 tone's must be fed.
            #expect(meter.truePeakBlocks.skipped > meter.truePeakBlocks.fed, "\(meter.truePeakBlocks)")
            #expect(meter.truePeakBlocks.fed > 0)
        }
        // The fs/4 tone at 45° set channel 1's true peak above its samples (so it was not skipped).
        if channels >= 2, rate < 96_000, let tp = meter.reading.truePeak[1] {
            #expect(tp > 20 * log10(0.45 * 0.7072), "true peak \(tp) dBTP")
        }
    }

    @Test("a burst in a block's last frames: its true peak comes out of the interpolator while the silent block after it goes in")
    func burstAtABlocksEnd() throws {
        let rate = 48_000, block = TruePeakSkip.blockFrames
        // Silence, with 8-frame bursts of fs/4 at 45° (true peak √2 × the samples) ending exactly
        // at block boundaries, each louder than the last, so each must raise the peak.
        var samples = [Float](repeating: 0, count: 64 * block)
        for (k, end) in stride(from: 4 * block, to: 64 * block, by: 6 * block).enumerated() {
            let a = 0.05 * Double(k + 1)
            for i in (end - 8)..<end { samples[i] = Float(a * sin(2 * .pi * Double(i) / 4 + .pi / 4)) }
        }
        let meter = try LoudnessMeter(channels: 1, sampleRate: rate)
        let reference = try #require(ebur128_init(1, UInt(rate), Int32(EBUR128_MODE_TRUE_PEAK.rawValue)))
        var st: UnsafeMutablePointer<ebur128_state>? = reference
        defer { ebur128_destroy(&st) }
        samples.withUnsafeBufferPointer { b in
            for at in stride(from: 0, to: samples.count, by: 2 * block) {
                meter.process(UnsafeRawPointer(b.baseAddress! + at), count: 2 * block, encoding: .floatLE)
            }
            ebur128_add_frames_float(reference, b.baseAddress!, samples.count)
        }
        var expected = 0.0
        ebur128_true_peak(reference, 0, &expected)
        #expect(meter.reading.truePeak == [20 * log10(expected)])
        #expect(meter.truePeakBlocks.skipped > meter.truePeakBlocks.fed)
    }

    @Test("the skip's bound is libebur128's: the input that reaches it makes libebur128 report it", arguments: [48_000, 96_000])
    func boundIsLibebur128s(rate: Int) throws {
        let skip = try #require(TruePeakSkip(sampleRate: rate))
        #expect(skip.factor == (rate < 96_000 ? 4 : 2))
        let state = try #require(ebur128_init(1, UInt(rate), Int32(EBUR128_MODE_TRUE_PEAK.rawValue)))
        var st: UnsafeMutablePointer<ebur128_state>? = state
        defer { ebur128_destroy(&st) }
        // x[n − d] = A·sign(h[d]) for the worst sub-filter h: its output at frame n is G·A.
        let a: Float = 0.25
        var x = [Float](repeating: 0, count: skip.history + 64)
        for d in 0..<skip.history { x[skip.history - 1 - d] = skip.worstPhase[d] < 0 ? -a : a }
        _ = x.withUnsafeBufferPointer { ebur128_add_frames_float(state, $0.baseAddress!, x.count) }
        var peak = 0.0
        ebur128_true_peak(state, 0, &peak)
        #expect(abs(peak - skip.gain * Double(a)) < 1e-6, "libebur128 \(peak), G·A \(skip.gain * Double(a))")
        #expect(peak <= skip.gain * Double(a) * (1 + 1e-6), "the bound with its margin holds")
        #expect(TruePeakSkip(sampleRate: 192_000) == nil)
    }
}

/// A finished file's meter kept for its take's figures: retired, it keeps them in kilobytes; the
/// take's parts combine as libebur128 combines tracks.
@Suite struct RetiredMeterTests {
    @Test("retire keeps every figure, frees libebur128's windows, and measures nothing more")
    func retireKeepsTheFigures() throws {
        let meter = try LoudnessMeter(channels: 32, sampleRate: 96_000)
        let samples = LoudnessMeterTests.noise(channels: 32, rate: 96_000, seconds: 4)
        samples.withUnsafeBytes { meter.process($0.baseAddress!, count: 4 * 96_000, encoding: .floatLE) }
        let before = meter.reading
        let resident = Self.residentBytes()
        meter.retire()
        let freed = resident - Self.residentBytes()
        #expect(meter.reading == before)
        #expect(before.integrated != nil && before.range != nil && before.truePeak.allSatisfy { $0 != nil })
        // libebur128's window, 3 s × 96 kHz × 32 channels of doubles, is 74 MB; other tests
        // running beside this one move the resident size by far less.
        #expect(freed >= 60_000_000, "freed \(freed) bytes")
        samples.withUnsafeBytes { meter.process($0.baseAddress!, count: 96_000, encoding: .floatLE) }
        #expect(meter.reading == before)
    }

    /// The second field of /proc/self/statm (resident pages), in bytes.
    static func residentBytes() -> Int {
        let fd = open("/proc/self/statm", O_RDONLY)
        guard fd >= 0 else { return 0 }
        defer { close(fd) }
        var buf = [UInt8](repeating: 0, count: 128)
        let n = read(fd, &buf, buf.count)
        let fields = buf[..<max(0, n)].split(separator: UInt8(ascii: " "))
        guard fields.count > 1, let pages = Int(String(decoding: fields[1], as: UTF8.self)) else { return 0 }
        return pages * Int(sysconf(Int32(_SC_PAGESIZE)))
    }

    @Test("a take split into parts: the parts' combined figures are the whole take's, within the EBU's tolerances")
    func partsCombine() throws {
        let rate = 48_000
        // Tech 3342 case 1's idea: 20 s at -20 dBFS then 20 s at -30 dBFS (LRA 10 LU), split at odd frames.
        var samples = [Float](repeating: 0, count: 40 * rate * 2)
        for i in 0..<(40 * rate) {
            let a = (i < 20 * rate ? 0.1 : 0.0316) * sin(2 * Double.pi * 1000 * Double(i) / Double(rate))
            samples[2 * i] = Float(a); samples[2 * i + 1] = Float(a)
        }
        let whole = try LoudnessMeter(channels: 2, sampleRate: rate)
        var parts: [LoudnessMeter] = []
        let seams = [0, 7 * rate + 123, 19 * rate + 4_001, 31 * rate + 17, 40 * rate]
        samples.withUnsafeBytes { b in
            whole.process(b.baseAddress!, count: 40 * rate, encoding: .floatLE)
            for (from, to) in zip(seams, seams.dropFirst()) {
                let m = try! LoudnessMeter(channels: 2, sampleRate: rate)
                m.process(b.baseAddress! + from * 8, count: to - from, encoding: .floatLE)
                m.retire()
                parts.append(m)
            }
        }
        let w = whole.reading, c = try #require(LoudnessMeter.combined(parts))
        let wi = try #require(w.integrated), ci = try #require(c.integrated)
        let wr = try #require(w.range), cr = try #require(c.range)
        #expect(abs(wi - ci) < 0.1, "I whole \(wi), parts \(ci)")
        #expect(abs(wr - cr) < 1, "LRA whole \(wr), parts \(cr)")
        #expect(abs(cr - 10) < 1, "LRA \(cr)")
        // A part's interpolator starts from silence, as a file's does: its first outputs differ
        // from the whole stream's by a little ringing.
        for (a, b) in zip(c.truePeak, w.truePeak) { #expect(abs(a! - b!) < 0.2, "TP parts \(a!), whole \(b!)") }
        #expect(abs(c.maxMomentary! - w.maxMomentary!) < 0.1 && abs(c.maxShortTerm! - w.maxShortTerm!) < 0.1)
        #expect(c.frames == w.frames)
        // One part alone is not the take.
        let first = try #require(parts.first?.reading.integrated)
        #expect(abs(first - ci) > 1)
    }

    @Test("parts shorter than 3 s: short-term and momentary run across the seams, as in the whole take")
    func shortPartsHaveShortTerm() throws {
        let rate = 48_000, seconds = 9
        // 1 kHz, 1.3 s at -20 dBFS then 1.3 s at -34 dBFS, over and over: the loudest 3 s window
        // lies across seams wherever they fall.
        var samples = [Float](repeating: 0, count: seconds * rate * 2)
        for i in 0..<(seconds * rate) {
            let loud = (i / (13 * rate / 10)) % 2 == 0
            let a = (loud ? 0.1 : 0.02) * sin(2 * Double.pi * 1000 * Double(i) / Double(rate))
            samples[2 * i] = Float(a); samples[2 * i + 1] = Float(a)
        }
        let whole = try LoudnessMeter(channels: 2, sampleRate: rate)
        var parts: [LoudnessMeter] = []
        let seams = [0, 2 * rate + 17, 4 * rate + 4_001, 6 * rate + 123, 8 * rate + 5, seconds * rate]
        samples.withUnsafeBytes { b in
            whole.process(b.baseAddress!, count: seconds * rate, encoding: .floatLE)
            for (from, to) in zip(seams, seams.dropFirst()) {
                let m = try! LoudnessMeter(channels: 2, sampleRate: rate)
                m.process(b.baseAddress! + from * 8, count: to - from, encoding: .floatLE)
                m.retire()
                parts.append(m)
            }
        }
        #expect(parts.allSatisfy { $0.reading.maxShortTerm == nil }, "each part alone is under 3 s")
        let w = whole.reading, c = try #require(LoudnessMeter.combined(parts))
        let ws = try #require(w.maxShortTerm), cs = try #require(c.maxShortTerm, "the take has short-term values")
        let wm = try #require(w.maxMomentary), cm = try #require(c.maxMomentary)
        // Each seam leaves out its part's last partial step (under 100 ms of a 3 s window).
        #expect(abs(ws - cs) < 0.3, "max S whole \(ws), parts \(cs)")
        #expect(abs(wm - cm) < 0.1, "max M whole \(wm), parts \(cm)")
        let wst = try #require(w.shortTerm), cst = try #require(c.shortTerm)
        #expect(abs(wst - cst) < 0.5, "S now: whole \(wst), parts \(cst)")
    }
}
