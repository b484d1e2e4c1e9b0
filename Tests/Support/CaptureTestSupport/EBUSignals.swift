// The EBU loudness test signals that are described well enough to generate: EBU Tech 3341's
// minimum-requirements cases 1–6, 9, 12 and 15–19, and Tech 3342's cases 1–4 (the others are
// authentic programme, shipped only as files in the EBU loudness test set).
import CaptureCore
import Glibc

/// One generated test signal: segments of sine, each with a level (or amplitude) per channel.
public struct EBUSignal: Sendable {
    public struct Segment: Sendable {
        public var seconds: Double
        /// Peak amplitude per channel, full scale 1.0 (a channel with 0 is silent).
        public var amplitudes: [Double]
        /// Hz; nil: a quarter, sixth… of the rate (`fractionOfRate`).
        public var frequency: Double?
        public var fractionOfRate: Int?
        /// Phase at the segment's start, in degrees.
        public var phaseDegrees: Double
        /// A raised-cosine fade-in this long (the true-peak cases: see `truePeakSine`).
        public var fadeInSeconds: Double

        public init(seconds: Double, amplitudes: [Double], frequency: Double? = 1000, fractionOfRate: Int? = nil, phaseDegrees: Double = 0,
                    fadeInSeconds: Double = 0) {
            self.seconds = seconds
            self.fadeInSeconds = fadeInSeconds
            self.amplitudes = amplitudes
            self.frequency = frequency
            self.fractionOfRate = fractionOfRate
            self.phaseDegrees = phaseDegrees
        }
    }

    public enum Expectation: Sendable {
        /// Integrated loudness, LUFS, ±0.1 LU.
        case integrated(Double)
        /// Short-term loudness constant at this value after 3 s, ±0.1 LU.
        case shortTermConstant(Double)
        /// Momentary loudness constant at this value after 1 s, ±0.1 LU.
        case momentaryConstant(Double)
        /// Momentary, short-term and integrated at this value (cases 1 and 2), ±0.1 LU.
        case allThree(Double)
        /// Maximum true peak, dBTP, +0.2/−0.4 dB.
        case truePeak(Double)
        /// Loudness range, LU, ±1 LU.
        case range(Double)
    }

    /// "Tech 3341 case 1" …
    public var name: String
    /// What the document describes, in a few words (the docs table).
    public var description: String
    public var channels: Int
    public var segments: [Segment]
    public var expected: Expectation
    /// Case 6 is 5.0 surround (L R C Ls Rs), weighted as BS.1770 weighs surrounds.
    public var surround50 = false

    public var seconds: Double { segments.reduce(0) { $0 + $1.seconds } }

    /// dBFS (of a sine's peak) to amplitude.
    public static func amp(_ db: Double) -> Double { pow(10, db / 20) }

    static func stereo(_ parts: [(Double, Double)]) -> [Segment] {
        parts.map { Segment(seconds: $0.0, amplitudes: [amp($0.1), amp($0.1)]) }
    }

    /// Interleaved float samples at `rate`. Each segment starts at its own phase (its time counts
    /// from its start), as the EBU's files are cut.
    public func render(rate: Int) -> [Float] {
        var out: [Float] = []
        out.reserveCapacity(Int(seconds * Double(rate) + 1) * channels)
        for s in segments {
            let n = Int((s.seconds * Double(rate)).rounded())
            let f = s.fractionOfRate.map { Double(rate) / Double($0) } ?? s.frequency ?? 1000
            let w = 2 * Double.pi * f / Double(rate)
            let phase = s.phaseDegrees * Double.pi / 180
            let fade = Int(s.fadeInSeconds * Double(rate))
            for i in 0..<n {
                var v = sin(w * Double(i) + phase)
                if i < fade { v *= 0.5 - 0.5 * cos(Double.pi * Double(i) / Double(fade)) }
                for ch in 0..<channels { out.append(Float(s.amplitudes[ch] * v)) }
            }
        }
        return out
    }

    /// A true-peak case's sine: 3 s of a sine at `rate / fraction` and `phase`, faded in over
    /// 50 ms. Without the fade the signal starts with a step (0.43 FFS at 60°), whose own
    /// inter-sample overshoot is what any band-limited interpolator then reads (libebur128
    /// -5.66 dBTP for case 17, ffmpeg's ebur128 filter -5.4 for case 16); the cases are about
    /// the sine's peak between samples, which the fade leaves as it is from 50 ms on.
    static func truePeakSine(_ amplitude: Double, fraction: Int, phase: Double) -> [Segment] {
        [Segment(seconds: 3, amplitudes: [amplitude, amplitude], frequency: nil, fractionOfRate: fraction, phaseDegrees: phase, fadeInSeconds: 0.05)]
    }

    /// The cases, as EBU Tech 3341 (v4, 2016) and Tech 3342 (v4, 2016) list them.
    public static let tech3341: [EBUSignal] = [
        EBUSignal(name: "Tech 3341 case 1", description: "stereo 1 kHz sine at -23 dBFS, 20 s", channels: 2,
                  segments: stereo([(20, -23)]), expected: .allThree(-23)),
        EBUSignal(name: "Tech 3341 case 2", description: "stereo 1 kHz sine at -33 dBFS, 20 s", channels: 2,
                  segments: stereo([(20, -33)]), expected: .allThree(-33)),
        EBUSignal(name: "Tech 3341 case 3", description: "-36 dBFS 10 s, -23 dBFS 60 s, -36 dBFS 10 s (relative gate)", channels: 2,
                  segments: stereo([(10, -36), (60, -23), (10, -36)]), expected: .integrated(-23)),
        EBUSignal(name: "Tech 3341 case 4", description: "-72, -36, -23 (60 s), -36, -72 dBFS, 10 s each otherwise (both gates)", channels: 2,
                  segments: stereo([(10, -72), (10, -36), (60, -23), (10, -36), (10, -72)]), expected: .integrated(-23)),
        EBUSignal(name: "Tech 3341 case 5", description: "-26 dBFS 20 s, -20 dBFS 20.1 s, -26 dBFS 20 s", channels: 2,
                  segments: stereo([(20, -26), (20.1, -20), (20, -26)]), expected: .integrated(-23)),
        EBUSignal(name: "Tech 3341 case 6", description: "5.0: L, R -28 dBFS, C -24 dBFS, Ls, Rs -30 dBFS, 20 s", channels: 5,
                  segments: [Segment(seconds: 20, amplitudes: [amp(-28), amp(-28), amp(-24), amp(-30), amp(-30)])],
                  expected: .integrated(-23), surround50: true),
        EBUSignal(name: "Tech 3341 case 9", description: "-20 dBFS 1.34 s, -30 dBFS 1.66 s, 5 times", channels: 2,
                  segments: Array(repeating: stereo([(1.34, -20), (1.66, -30)]), count: 5).flatMap { $0 }, expected: .shortTermConstant(-23)),
        EBUSignal(name: "Tech 3341 case 12", description: "-20 dBFS 0.18 s, -30 dBFS 0.22 s, 25 times", channels: 2,
                  segments: Array(repeating: stereo([(0.18, -20), (0.22, -30)]), count: 25).flatMap { $0 }, expected: .momentaryConstant(-23)),
        EBUSignal(name: "Tech 3341 case 15", description: "fs/4 sine at 0.50 FFS, phase 0°", channels: 2,
                  segments: truePeakSine(0.5, fraction: 4, phase: 0), expected: .truePeak(-6)),
        EBUSignal(name: "Tech 3341 case 16", description: "fs/4 sine at 0.50 FFS, phase 45°", channels: 2,
                  segments: truePeakSine(0.5, fraction: 4, phase: 45), expected: .truePeak(-6)),
        EBUSignal(name: "Tech 3341 case 17", description: "fs/6 sine at 0.50 FFS, phase 60°", channels: 2,
                  segments: truePeakSine(0.5, fraction: 6, phase: 60), expected: .truePeak(-6)),
        EBUSignal(name: "Tech 3341 case 18", description: "fs/8 sine at 0.50 FFS, phase 67.5°", channels: 2,
                  segments: truePeakSine(0.5, fraction: 8, phase: 67.5), expected: .truePeak(-6)),
        EBUSignal(name: "Tech 3341 case 19", description: "fs/4 sine at 1.41 FFS, phase 45° (samples at full scale)", channels: 2,
                  segments: truePeakSine(1.41, fraction: 4, phase: 45), expected: .truePeak(3)),
    ]

    public static let tech3342: [EBUSignal] = [
        EBUSignal(name: "Tech 3342 case 1", description: "stereo 1 kHz: -20 dBFS 20 s, then -30 dBFS 20 s", channels: 2,
                  segments: stereo([(20, -20), (20, -30)]), expected: .range(10)),
        EBUSignal(name: "Tech 3342 case 2", description: "-20 dBFS 20 s, then -15 dBFS 20 s", channels: 2,
                  segments: stereo([(20, -20), (20, -15)]), expected: .range(5)),
        EBUSignal(name: "Tech 3342 case 3", description: "-40 dBFS 20 s, then -20 dBFS 20 s", channels: 2,
                  segments: stereo([(20, -40), (20, -20)]), expected: .range(20)),
        EBUSignal(name: "Tech 3342 case 4", description: "-50, -35, -20, -35, -50 dBFS, 20 s each", channels: 2,
                  segments: stereo([(20, -50), (20, -35), (20, -20), (20, -35), (20, -50)]), expected: .range(15)),
    ]

    public static var all: [EBUSignal] { tech3341 + tech3342 }
}

extension Array where Element == Float {
    /// The samples as raw little-endian bytes in `format` (an ALSA file PCM's infile):
    /// integers rounded from the float and clamped to full scale.
    public func rawBytes(_ format: SampleFormat) -> [UInt8] {
        var out = [UInt8](repeating: 0, count: count * format.bytesPerSample)
        out.withUnsafeMutableBytes { b in
            for (i, v) in self.enumerated() { SampleCodec.storeFloat(v, b.baseAddress! + i * format.bytesPerSample, format) }
        }
        return out
    }
}
