// LoudnessMeter's own arithmetic against libebur128's: the momentary and short-term levels it sums
// from 100 ms steps equal libebur128's window sums; process allocates nothing; bad formats are refused.
import CAllocCounter
import CEbur128
import CaptureCore
import CaptureLoudness
import Testing

@Suite struct LoudnessMeterTests {
    /// Noise whose level moves every 0.7 s, so the windows see changes inside them.
    static func noise(channels: Int, rate: Int, seconds: Int) -> [Float] {
        var x: UInt32 = 0x1234_5678
        var out = [Float](repeating: 0, count: rate * seconds * channels)
        for i in 0..<(rate * seconds) {
            let gain = Float([0.05, 0.3, 0.01, 0.15][(i / (rate * 7 / 10)) % 4])
            for c in 0..<channels {
                x ^= x << 13; x ^= x >> 17; x ^= x << 5
                out[i * channels + c] = Float(Int32(bitPattern: x)) / 2_147_483_648 * gain
            }
        }
        return out
    }

    @Test("M and S from the 100 ms steps equal libebur128's own 400 ms and 3 s windows, step by step", arguments: [(2, 48_000), (5, 44_100), (1, 96_000)])
    func stepsMatchLibebur128(channels: Int, rate: Int) throws {
        let meter = try LoudnessMeter(channels: channels, sampleRate: rate)
        let reference = try #require(ebur128_init(UInt32(channels), UInt(rate), Int32(EBUR128_MODE_S.rawValue)))
        var st: UnsafeMutablePointer<ebur128_state>? = reference
        defer { ebur128_destroy(&st) }
        if channels >= 3 { for c in 0..<channels { ebur128_set_channel(reference, UInt32(c), Int32(EBUR128_CENTER.rawValue)) } }
        let samples = Self.noise(channels: channels, rate: rate, seconds: 8)
        let step = rate / 10
        var worstM = 0.0, worstS = 0.0
        samples.withUnsafeBufferPointer { b in
            for start in stride(from: 0, to: samples.count / channels, by: step) {
                // Odd pieces for the meter (it finds the steps itself), one call for the reference.
                let p = b.baseAddress! + start * channels
                meter.process(UnsafeRawPointer(p), count: 1000, encoding: .floatLE)
                meter.process(UnsafeRawPointer(p + 1000 * channels), count: step - 1000, encoding: .floatLE)
                ebur128_add_frames_float(reference, p, step)
                let r = meter.reading
                var m = 0.0, s = 0.0
                ebur128_loudness_momentary(reference, &m)
                ebur128_loudness_shortterm(reference, &s)
                if let rm = r.momentary { worstM = max(worstM, abs(rm - m)) }
                if let rs = r.shortTerm { worstS = max(worstS, abs(rs - s)) }
            }
        }
        #expect(worstM < 1e-6 && worstS < 1e-6, "largest differences: M \(worstM), S \(worstS)")
        #expect(meter.reading.shortTerm != nil && meter.reading.momentary != nil)
    }

    @Test(.enabled(if: CAllocCounter_isActive() != 0, "the allocation counter is off in this build"))
    func processAllocatesNothing() throws {
        let meter = try LoudnessMeter(channels: 8, sampleRate: 48_000)
        let samples = Self.noise(channels: 8, rate: 48_000, seconds: 4)
        let ints = samples.rawBytes(.s24_3LE)
        // Warm-up on another meter: the Swift runtime instantiates some type metadata on first
        // use (swift_getTypeByMangledName allocates), once per process, on whichever thread gets
        // there first: it was this one, or not, as other tests ran beside it.
        let warm = try LoudnessMeter(channels: 8, sampleRate: 48_000)
        samples.withUnsafeBytes { warm.process($0.baseAddress!, count: 48_000, encoding: .floatLE) }
        ints.withUnsafeBytes { warm.process($0.baseAddress!, count: 48_000, encoding: .s24_3LE) }
        let me = CAllocCounter_currentThreadID()
        let watched = CAllocCounter_watch(me)  // (checked after: an #expect allocates)
        samples.withUnsafeBytes { meter.process($0.baseAddress!, count: 4 * 48_000, encoding: .floatLE) }
        ints.withUnsafeBytes { meter.process($0.baseAddress!, count: 4 * 48_000, encoding: .s24_3LE) }
        let n = CAllocCounter_count(me)
        let sites = (0..<min(Int(clamping: n), 8)).map { slot in
            var buf = [CChar](repeating: 0, count: 4096)
            _ = CAllocCounter_describe(me, Int32(slot), &buf, 4096)
            return String(decoding: buf.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
        }
        CAllocCounter_unwatch(me)
        #expect(watched == 1, "a free watch slot")
        #expect(n == 0, "\(n) allocations in process: \(sites.joined(separator: " | "))")
        #expect(meter.frames == 8 * 48_000)
    }

    @Test("libebur128's limits are refused with an error, not a trap", arguments: [(0, 48_000), (65, 48_000), (2, 0)])
    func refused(channels: Int, rate: Int) {
        #expect(throws: LoudnessError.unsupported(channels: channels, sampleRate: rate)) { try LoudnessMeter(channels: channels, sampleRate: rate) }
    }

    @Test("silence: no loudness, no true peak; the summary says -inf")
    func silence() throws {
        let meter = try LoudnessMeter(channels: 2, sampleRate: 48_000)
        let zeros = [Int16](repeating: 0, count: 2 * 48_000 * 4)
        zeros.withUnsafeBytes { meter.process($0.baseAddress!, count: 48_000 * 4, encoding: .s16LE) }
        let r = meter.reading
        #expect(r.momentary == nil && r.shortTerm == nil && r.integrated == nil && r.truePeak == [nil, nil] && r.maxTruePeak == nil)
        #expect(r.summary == "I -inf LUFS, LRA 0.0 LU, max M -inf LUFS, max S -inf LUFS, max TP -inf dBTP")
    }

    /// A take too short for a window is not silent: the summary says `--` for what needs more
    /// audio, and why, where it said `-inf` (a new user read a 2 s take's `max S -inf` as silence).
    @Test("a take under 3 s: max S and LRA '--' with the reason; under 0.4 s: I and max M too")
    func shortTakesSayWhatIsNotMeasuredYet() throws {
        let noise = Self.noise(channels: 2, rate: 48_000, seconds: 2)
        let two = try LoudnessMeter(channels: 2, sampleRate: 48_000)
        noise.withUnsafeBytes { two.process($0.baseAddress!, count: 2 * 48_000, encoding: .floatLE) }
        let s = two.reading.summary
        #expect(s.contains("LRA -- LU") && s.contains("max S -- LUFS") && s.hasSuffix("(under 3 s: no short-term loudness or range)"), "\(s)")
        #expect(!s.contains("-inf") && !s.contains("I --") && !s.contains("max M --"), "\(s)")
        let brief = try LoudnessMeter(channels: 2, sampleRate: 48_000)
        noise.withUnsafeBytes { brief.process($0.baseAddress!, count: 9_600, encoding: .floatLE) }
        let b = brief.reading.summary
        #expect(b.hasPrefix("I -- LUFS, LRA -- LU, max M -- LUFS, max S -- LUFS, max TP ") && b.hasSuffix("(under 0.4 s: too short to measure loudness)"), "\(b)")
        #expect(!b.contains("max TP --") && !b.contains("-inf"), "the true peak is there at once: \(b)")
    }
}
