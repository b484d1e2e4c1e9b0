// Meter ballistics: how a meter's reading rises and falls. Sample peak (the default), the two
// quasi-peak programme meters of IEC 60268-10 and the VU meter of IEC 60268-17, each a filter on
// the rectified samples run by `LevelMeter` on the writer queue, never on the capture thread.
import Glibc

/// What the meters read: the mode selected with `--meter`, the config file's `meter` or the
/// console's `b` key. Docs/meters.md ("Ballistics") has the figures and where they come from.
public enum MeterBallistics: String, Sendable, CaseIterable {
    /// Sample peak over the ~300 ms window (the meter as it has always been).
    case peak
    /// IEC 60268-10 type I (DIN 45406, the German/Nordic quasi-PPM): 5 ms integration, 20 dB
    /// return in 1.5 s.
    case ppm1
    /// IEC 60268-10 type II (the BBC/EBU quasi-PPM): 10 ms integration, 24 dB return in 2.8 s.
    case ppm2
    /// IEC 60268-17 VU: the rectified average through a second-order needle, 300 ms to 99 %.
    case vu

    /// `peak`, `ppm1`, `ppm2` or `vu`, any case.
    public init?(name: String) {
        self.init(rawValue: name.lowercased())
    }

    /// A number for lock-free publication, and back (the writer uses these every block: a
    /// switch, where `allCases` would allocate).
    public var code: UInt8 {
        switch self {
        case .peak: 0
        case .ppm1: 1
        case .ppm2: 2
        case .vu: 3
        }
    }

    public init(code: UInt8) {
        switch code {
        case 1: self = .ppm1
        case 2: self = .ppm2
        case 3: self = .vu
        default: self = .peak
        }
    }

    /// The next mode (the console's key cycles through them in this order).
    public var next: MeterBallistics {
        let all = MeterBallistics.allCases
        return all[(all.firstIndex(of: self)! + 1) % all.count]
    }

    /// How the console and `status` name it.
    public var label: String {
        switch self {
        case .peak: "peak"
        case .ppm1: "PPM I"
        case .ppm2: "PPM II"
        case .vu: "VU"
        }
    }

    /// The standard it follows, for messages (nil: sample peak).
    public var standard: String? {
        switch self {
        case .peak: nil
        case .ppm1: "IEC 60268-10 type I"
        case .ppm2: "IEC 60268-10 type II"
        case .vu: "IEC 60268-17"
        }
    }

    /// The level that reads 0 VU: a sine whose peak is at -18 dBFS, the EBU R68 alignment level
    /// (0 dBu ≙ -18 dBFS), as most digital VU meters are calibrated; one fixed reference, so a
    /// reading always means the same level.
    public static let vuReferenceDBFS = -18.0

    /// The names `--meter` and the config file take, for messages.
    public static let names = "peak, ppm1, ppm2 or vu"
}

/// One channel's ballistic filter, fed one rectified sample at a time. Value type, no
/// allocation: `LevelMeter` keeps one per channel in memory allocated once.
///
/// Every reading is calibrated in sine-peak dBFS: a steady 1 kHz sine reads its peak level in
/// every mode (the VU's rectified average × π/2, as the standard's reference indication is set
/// with a sine), so switching modes on a steady tone moves nothing.
public struct BallisticDetector: Sendable {
    public let mode: MeterBallistics
    // PPM: two peak-charging branches (`slow`, `fast`, mixed by `mix`) with one exponential
    // discharge `fall` per sample. VU: `slow` is ωn²·dt² and `fast` 2ζωn·dt, the needle's terms.
    private let slow: Double, fast: Double, mix: Double, fall: Double, gain: Double
    private var s1 = 0.0, s2 = 0.0
    /// The highest reading since `takeMax()` (linear, 1 = a full-scale sine).
    private var highest = 0.0

    /// The quasi-PPM designs (see `init`): attack rates per second of the two charging branches,
    /// the fast branch's share of the reading, and the return in dB per second.
    struct PPMDesign {
        var slowRate: Double, fastRate: Double, fastShare: Double, fallDBPerSecond: Double
    }

    /// Docs/meters.md says where each figure comes from.
    /// IEC 60268-10 type I. The standard defines the integration time as the length of a 5 kHz
    /// burst that reads 2 dB below the steady reading: 5 ms. One charging branch (τ = 1.37 ms)
    /// meets it (-2.0 dB) and the table's other bursts: 10 ms -0.7 dB (-1 ± 0.5), 3 ms -3.6 dB
    /// (-4 ± 1), 0.4 ms -15.6 dB (-15 ± 4). Return: 20 dB in 1.5 s (DIN 45406; the Nordic variant
    /// takes 1.7 s).
    static let typeI = PPMDesign(slowRate: 732, fastRate: 732, fastShare: 0, fallDBPerSecond: 20 / 1.5)
    /// IEC 60268-10 type II: integration time 10 ms (a 10 ms 5 kHz burst reads 2 dB below the
    /// steady reading), 5 ms -4 ± 0.75 dB, 1.5 ms -9 ± 1 dB, 100 ms 0 ± 0.5 dB. One branch can't
    /// meet all four (at 1.5 ms it reads -11 dB); a slow branch (τ = 3.4 ms) with a fifth of a fast
    /// one (τ = 0.36 ms) reads -2.0, -4.0, -9.0 and 0.0 dB, fitted by least squares against the
    /// table. Return: 24 dB (7 to 1 on the BBC scale) in 2.8 s.
    static let typeII = PPMDesign(slowRate: 291, fastRate: 2769, fastShare: 0.2045, fallDBPerSecond: 24 / 2.8)

    /// The VU needle: a second-order low-pass on the rectified signal. IEC 60268-17 asks that a
    /// suddenly applied reference sine reach 99 % of its reading in 300 ms (± 10 %) and overshoot
    /// it by 1 to 1.5 %. For 1.25 % overshoot ζ = -ln 0.0125 / √(π² + ln² 0.0125) = 0.8127; the
    /// step response of that damping first reaches 0.99 at ωn·t = 4.054, so ωn = 4.054 / 0.3 s.
    /// The needle is linear, so it falls as it rises: to 1 % of the reading 300 ms after the
    /// signal stops.
    static let vuDamping = 0.8127
    static let vuNaturalFrequency = 4.054 / 0.3

    public init(_ mode: MeterBallistics, sampleRate: Int) {
        self.mode = mode
        let fs = Double(max(1, sampleRate))
        switch mode {
        case .peak, .ppm1, .ppm2:
            let d = mode == .ppm2 ? Self.typeII : Self.typeI
            slow = 1 - exp(-d.slowRate / fs)
            fast = 1 - exp(-d.fastRate / fs)
            mix = d.fastShare
            fall = pow(10, -d.fallDBPerSecond / 20 / fs)
            // The charge never quite reaches a sine's peak (it falls between the peaks): the gain
            // that makes a steady 1 kHz sine read its peak, measured on the filter itself.
            var probe = BallisticDetector(slow: slow, fast: fast, mix: mix, fall: fall, gain: 1, mode: mode)
            let frames = Int(fs * 0.3)
            for i in 0..<frames { probe.feed(abs(sin(2 * Double.pi * 1000 * (Double(i) + 0.5) / fs))) }
            _ = probe.takeMax()
            for i in frames..<(frames + Int(fs * 0.01)) { probe.feed(abs(sin(2 * Double.pi * 1000 * (Double(i) + 0.5) / fs))) }
            gain = 1 / max(1e-3, probe.takeMax())
        case .vu:
            let dt = 1 / fs
            let wn = Self.vuNaturalFrequency
            slow = wn * wn * dt * dt
            fast = 2 * Self.vuDamping * wn * dt
            mix = 0
            fall = 1
            // The rectified average of a sine is 2/π of its peak.
            gain = Double.pi / 2
        }
    }

    private init(slow: Double, fast: Double, mix: Double, fall: Double, gain: Double, mode: MeterBallistics) {
        self.mode = mode
        self.slow = slow
        self.fast = fast
        self.mix = mix
        self.fall = fall
        self.gain = gain
    }

    /// One rectified sample (|x|, 1 = full scale). Allocation-free.
    @inline(__always)
    public mutating func feed(_ r: Double) {
        let reading: Double
        if mode == .vu {
            // Semi-implicit Euler on y'' = ωn²(r - y) - 2ζωn·y': s1 the needle y, s2 its speed
            // times dt (ωn·dt is 3·10⁻⁴ at 44.1 kHz, far inside the method's stable, exact range).
            s2 += slow * (r - s1) - fast * s2
            s1 += s2
            reading = s1
        } else {
            s1 *= fall
            s2 *= fall
            if r > s1 { s1 += slow * (r - s1) }
            if r > s2 { s2 += fast * (r - s2) }
            reading = (1 - mix) * s1 + mix * s2
        }
        if reading > highest { highest = reading }
    }

    /// The current reading (linear, a steady sine reads its peak).
    public var reading: Double {
        gain * (mode == .vu ? s1 : (1 - mix) * s1 + mix * s2)
    }

    /// The highest reading since the last call (linear), and starts the next interval at the
    /// current reading. Values too small to show are flushed to zero here, so a long silence
    /// never leaves the filter working on subnormal numbers.
    public mutating func takeMax() -> Double {
        let m = gain * highest
        if abs(s1) < 1e-12 { s1 = 0 }
        if abs(s2) < 1e-12 { s2 = 0 }
        highest = mode == .vu ? s1 : (1 - mix) * s1 + mix * s2
        return Swift.max(0, m)
    }
}
