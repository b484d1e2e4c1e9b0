// The EBU's minimum-requirements cases (Tech 3341, Tech 3342), generated as the documents describe
// them, through LoudnessMeter in each way samples reach it (float, 24-bit in 3 bytes, 16-bit),
// with the documents' tolerances. The table in Docs/meters.md is these results.
import CaptureCore
import CaptureLoudness
import CaptureTestSupport
import Testing

// Serialized: the cases are CPU-heavy, and one at a time leaves the other core to the timing-sensitive
// tests that may run beside them in one `swift test`.
@Suite("EBU Tech 3341 and 3342 through the loudness meter", .serialized)
struct EBUComplianceTests {
    /// What a case measured: the figure its expectation names (the worst step for the
    /// "constant" cases).
    struct Outcome {
        var measured: Double
        var ok: Bool
    }

    static func run(_ signal: EBUSignal, encoding: SampleFormat, rate: Int = 48_000) throws -> Outcome {
        let meter = try LoudnessMeter(channels: signal.channels, sampleRate: rate, layout: signal.surround50 ? .surround50 : .discrete)
        let samples = signal.render(rate: rate)
        let bytes = encoding == .floatLE ? samples.withUnsafeBytes { Array($0) } : samples.rawBytes(encoding)
        let frameBytes = encoding.bytesPerSample * signal.channels
        let frames = bytes.count / frameBytes
        // 100 ms chunks: the "constant" cases read the meter at each step, as a display does.
        let chunk = rate / 10
        var worst: Double?
        var at = 0
        func feed(_ n: Int) {
            bytes.withUnsafeBytes { b in meter.process(b.baseAddress! + at * frameBytes, count: n, encoding: encoding) }
            at += n
        }
        while at < frames {
            feed(min(chunk, frames - at))
            let r = meter.reading
            switch signal.expected {
            case .shortTermConstant(let v) where at >= 3 * rate:
                let s = r.shortTerm ?? -.infinity
                if worst == nil || abs(s - v) > abs(worst! - v) { worst = s }
            case .momentaryConstant(let v) where at >= rate:
                let m = r.momentary ?? -.infinity
                if worst == nil || abs(m - v) > abs(worst! - v) { worst = m }
            default: break
            }
        }
        let r = meter.reading
        func within(_ x: Double?, _ v: Double, _ lo: Double, _ hi: Double) -> Bool { x.map { $0 >= v - lo && $0 <= v + hi } ?? false }
        switch signal.expected {
        case .allThree(let v):
            let all = [r.momentary, r.shortTerm, r.integrated]
            let far = all.map { $0 ?? -.infinity }.max { abs($0 - v) < abs($1 - v) }!
            return Outcome(measured: far, ok: all.allSatisfy { within($0, v, 0.1, 0.1) })
        case .integrated(let v):
            return Outcome(measured: r.integrated ?? -.infinity, ok: within(r.integrated, v, 0.1, 0.1))
        case .shortTermConstant(let v), .momentaryConstant(let v):
            return Outcome(measured: worst ?? -.infinity, ok: within(worst, v, 0.1, 0.1))
        case .truePeak(let v):
            return Outcome(measured: r.maxTruePeak ?? -.infinity, ok: within(r.maxTruePeak, v, 0.4, 0.2))
        case .range(let v):
            return Outcome(measured: r.range ?? -.infinity, ok: within(r.range, v, 1, 1))
        }
    }

    @Test("each generated case reads within the EBU's tolerance", arguments: EBUSignal.all, [SampleFormat.floatLE, .s24_3LE, .s16LE])
    func ebuCase(_ signal: EBUSignal, _ encoding: SampleFormat) throws {
        let o = try Self.run(signal, encoding: encoding)
        print("EBU-RESULT | \(signal.name) | \(encoding.rawValue) | \(LoudnessReading.format(o.measured)) | \(o.measured)")
        #expect(o.ok, "\(signal.name) (\(signal.description)), \(encoding.rawValue): measured \(o.measured), expected \(signal.expected)")
    }

    @Test("1 kHz at -23 dBFS reads -23 LUFS at 44.1, 96 and 192 kHz too", arguments: [44_100, 96_000, 192_000])
    func otherRates(_ rate: Int) throws {
        let o = try Self.run(EBUSignal.tech3341[0], encoding: .floatLE, rate: rate)
        #expect(o.ok, "at \(rate) Hz: \(o.measured)")
    }

    @Test("true peak is oversampled at 96 kHz too: an fs/4 sine at phase 45° reads -6 dBTP, 3 dB above its samples")
    func truePeakAt96k() throws {
        let o = try Self.run(EBUSignal.tech3341.first { $0.name.hasSuffix("case 16") }!, encoding: .floatLE, rate: 96_000)
        #expect(o.ok, "\(o.measured)")
    }
}

/// Makes `@Test(arguments:)` name each case by the document's number.
extension EBUSignal: CustomTestStringConvertible {
    public var testDescription: String { name }
}
