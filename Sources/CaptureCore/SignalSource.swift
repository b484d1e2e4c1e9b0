// The built-in signal source: a capture device that synthesizes a test signal at the clock's pace.
import Glibc

/// The signals the built-in source can make.
public enum TestSignal: Sendable, Equatable {
    /// A sine at `frequency` Hz and `level` dBFS peak.
    case sine(frequency: Double, level: Double)
    /// A logarithmic sweep from 20 Hz to 20 kHz every 10 s, at `level` dBFS peak.
    case sweep(level: Double)
    /// Pink noise (-3 dB/octave) at about `level` dBFS RMS.
    case pink(level: Double)

    public static let defaultSine = TestSignal.sine(frequency: 440, level: -12)

    /// Parses `sine`, `sine:1000`, `sweep`, `pink` (the part after `builtin:`).
    public init?(spec: String) {
        let parts = spec.split(separator: ":", omittingEmptySubsequences: false).map(String.init)
        switch parts.first?.lowercased() {
        case "", "sine":
            if parts.count > 1 {
                guard parts.count == 2, let f = Double(parts[1]), f >= 1, f <= 20_000 else { return nil }
                self = .sine(frequency: f, level: -12)
            } else { self = .defaultSine }
        case "sweep" where parts.count == 1: self = .sweep(level: -12)
        case "pink" where parts.count == 1, "noise" where parts.count == 1: self = .pink(level: -18)
        default: return nil
        }
    }

    public var label: String {
        switch self {
        case .sine(let f, let l): "sine \(Int(f)) Hz at \(Int(l)) dBFS"
        case .sweep(let l): "20 Hz-20 kHz sweep at \(Int(l)) dBFS"
        case .pink(let l): "pink noise at \(Int(l)) dBFS RMS"
        }
    }
}

/// A deterministic generator of one `TestSignal` (the same samples every time from frame 0).
public struct SignalGenerator: Sendable {
    public let signal: TestSignal
    public let sampleRate: Double
    private var frame: Int = 0
    private var phase: Double = 0
    private var rng: UInt64 = 0x9E37_79B9_7F4A_7C15
    private var pink: (Double, Double, Double, Double, Double, Double, Double) = (0, 0, 0, 0, 0, 0, 0)
    /// The level as a gain, worked out once (a `pow` a sample was a fifth of the capture thread's
    /// instructions with the built-in source).
    private let gain: Double

    public init(signal: TestSignal, sampleRate: Int) {
        self.signal = signal
        self.sampleRate = Double(sampleRate)
        switch signal {
        case .sine(_, let l), .sweep(let l), .pink(let l): gain = SignalGenerator.amplitude(l)
        }
    }

    private static func amplitude(_ db: Double) -> Double { pow(10, db / 20) }

    /// The next sample (all channels carry the same signal).
    public mutating func next() -> Float {
        defer { frame += 1 }
        switch signal {
        case .sine(let f, _):
            let v = gain * sin(phase)
            phase += 2 * Double.pi * f / sampleRate
            if phase > 2 * Double.pi { phase -= 2 * Double.pi }
            return Float(v)
        case .sweep:
            let period = 10.0
            let t = Double(frame) / sampleRate
            let tm = t.truncatingRemainder(dividingBy: period)
            let k = log(20_000.0 / 20.0) / period
            let f = Swift.min(20.0 * exp(k * tm), sampleRate * 0.45)
            phase += 2 * Double.pi * f / sampleRate
            if phase > 2 * Double.pi { phase -= 2 * Double.pi }
            return Float(gain * sin(phase))
        case .pink:
            // xorshift64* white noise through Paul Kellet's economy pink filter.
            rng ^= rng >> 12; rng ^= rng << 25; rng ^= rng >> 27
            let r = rng &* 2_685_821_657_736_338_717
            let white = Double(Int64(bitPattern: r)) / Double(Int64.max)
            pink.0 = 0.99886 * pink.0 + white * 0.0555179
            pink.1 = 0.99332 * pink.1 + white * 0.0750759
            pink.2 = 0.96900 * pink.2 + white * 0.1538520
            pink.3 = 0.86650 * pink.3 + white * 0.3104856
            pink.4 = 0.55000 * pink.4 + white * 0.5329522
            pink.5 = -0.7616 * pink.5 - white * 0.0168980
            let v = pink.0 + pink.1 + pink.2 + pink.3 + pink.4 + pink.5 + pink.6 + white * 0.5362
            pink.6 = white * 0.115926
            // For uniform white noise in [-1, 1] the filter's output RMS is 1.745 (measured over
            // 2 million samples), so this scaling gives `level` dBFS RMS.
            return Float(Swift.max(-1, Swift.min(1, v * gain / 1.745)))
        }
    }
}

/// A capture device that delivers a `TestSignal`, paced by CLOCK_MONOTONIC like real hardware
/// (or as fast as it is read, when `paced` is false, like ALSA's file-over-null test PCMs).
/// `@unchecked Sendable`: like any device, opened and closed by one control thread and read by
/// the capture queue only, never at the same time (the engine orders the hand-overs).
public final class BuiltInSource: CaptureSource, @unchecked Sendable {
    public let name: String
    public let signal: TestSignal
    public let paced: Bool
    public var accessKind: AccessKind { .builtIn }
    public var displayName: String { "BUILT-IN TEST SIGNAL (\(signal.label))" }

    /// Measurement option (capdeck-bench): behave like a hardware ring of the granted buffer
    /// size, so a reader late by more than the buffer gets an overrun and loses what the ring
    /// held, as from ALSA. Off (the default, and always for capdeck): nothing is ever lost.
    public let modelsOverruns: Bool
    /// Frames lost to modelled overruns (read it after capture has ended).
    public private(set) var droppedFrames = 0

    private var granted: GrantedParameters?
    private var generator: SignalGenerator
    private var startNanos: UInt64 = 0
    private var delivered = 0

    public init(signal: TestSignal = .defaultSine, paced: Bool = true, name: String = "builtin", modelsOverruns: Bool = false) {
        self.signal = signal
        self.paced = paced
        self.name = name
        self.modelsOverruns = modelsOverruns && paced
        generator = SignalGenerator(signal: signal, sampleRate: 48_000)
    }

    public func open(_ request: CaptureRequest) throws(DeviceError) -> GrantedParameters {
        let rate = request.format.sampleRate
        let period = Swift.max(16, (request.periodMicros ?? 10_000) * rate / 1_000_000)
        // The buffer asked for (at least two periods, as ALSA grants it), else four periods.
        let asked = (request.bufferMicros ?? 0) * rate / 1_000_000
        let buffer = asked > 0 ? Swift.max(period * 2, asked) : period * 4
        let g = GrantedParameters(format: request.format, periodFrames: period, bufferFrames: buffer,
                                  access: paced ? "synthesized, clock-paced" : "synthesized, unpaced")
        granted = g
        generator = SignalGenerator(signal: signal, sampleRate: rate)
        return g
    }

    public func start() throws(DeviceError) {
        guard granted != nil else { throw .unavailable(device: name, reason: "not open") }
        startNanos = monotonicNanos()
        delivered = 0
    }


    private func framesDue() -> Int {
        guard let g = granted else { return 0 }
        let elapsed = monotonicNanos() - startNanos
        return Int(elapsed / 1000) * g.format.sampleRate / 1_000_000
    }

    public func read(into buffer: UnsafeMutableRawPointer, frames: Int) -> DeviceRead {
        guard let g = granted else { return .failed(.lost(device: name, reason: "not open")) }
        // The generator as a local for the loop: a class's stored property, mutated once a
        // sample, costs a dynamic exclusivity check (a runtime call and a thread-local lookup)
        // each time, on the capture thread.
        var generator = self.generator
        defer { self.generator = generator }
        var n = frames
        if paced {
            let available = framesDue() - delivered
            if modelsOverruns && available >= g.bufferFrames {  // full, as ALSA counts it
                // The ring overflowed while nobody read. As with ALSA, the stream restarts empty
                // (capdeck's EPIPE recovery prepares it): everything in it is lost.
                for _ in 0..<available { _ = generator.next() }
                delivered += available
                droppedFrames += available
                return .overrun
            }
            // Whole periods only, as hardware delivers them.
            n = Swift.min(n, available - available % g.periodFrames)
            if n <= 0 { return .frames(0) }
        }
        let f = g.format.sampleFormat
        let step = f.bytesPerSample
        var p = buffer
        for _ in 0..<n {
            let v = generator.next()
            for _ in 0..<g.format.channels {
                SampleCodec.storeFloat(v, p, f)
                p += step
            }
        }
        delivered += n
        return .frames(n)
    }

    public func waitForData(wakeFD: Int32, timeoutMs: Int32) -> DeviceWait {
        guard let g = granted else { return .failed(.lost(device: name, reason: "not open")) }
        var timeout = timeoutMs
        if paced {
            let missing = delivered + g.periodFrames - framesDue()
            if missing <= 0 { return .ready }
            let waitMs = Int32((missing * 1000 + g.format.sampleRate - 1) / g.format.sampleRate)
            timeout = timeoutMs < 0 ? waitMs : Swift.min(timeoutMs, waitMs)
        } else {
            return .ready
        }
        var p = pollfd(fd: wakeFD, events: Int16(POLLIN), revents: 0)
        let r = poll(&p, 1, timeout)
        if r > 0 { return .woken }
        return paced && framesDue() - delivered >= g.periodFrames ? .ready : .timedOut
    }

    public func close() { granted = nil }
}
