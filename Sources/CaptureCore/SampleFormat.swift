// Sample formats, stream formats, and exact conversion between the formats CaptureDeck records.

/// The PCM sample encodings CaptureDeck captures and records (little-endian, interleaved).
public enum SampleFormat: String, CaseIterable, Sendable, Codable {
    case s16LE = "S16_LE"
    /// 24-bit samples in the low three bytes of a 32-bit container, sign-extended.
    case s24LE = "S24_LE"
    /// 24-bit samples packed in three bytes.
    case s24_3LE = "S24_3LE"
    case s32LE = "S32_LE"
    case floatLE = "FLOAT_LE"

    /// Bytes one sample of one channel takes in memory and in a raw stream.
    public var bytesPerSample: Int {
        switch self {
        case .s16LE: 2
        case .s24LE, .s32LE, .floatLE: 4
        case .s24_3LE: 3
        }
    }

    /// Significant bits of precision.
    public var bitDepth: Int {
        switch self {
        case .s16LE: 16
        case .s24LE, .s24_3LE: 24
        case .s32LE: 32
        case .floatLE: 24
        }
    }

    public var isFloat: Bool { self == .floatLE }

    /// Parses a format name as arecord spells it (case-insensitive; `FLOAT` and `S24_3` accepted).
    public init?(name: String) {
        let upper = name.uppercased()
        switch upper {
        case "S16_LE", "S16": self = .s16LE
        case "S24_LE", "S24": self = .s24LE
        case "S24_3LE", "S24_3": self = .s24_3LE
        case "S32_LE", "S32": self = .s32LE
        case "FLOAT_LE", "FLOAT", "F32", "F32_LE": self = .floatLE
        default: return nil
        }
    }
}

/// What a stream carries: encoding, frames per second and interleaved channels.
public struct StreamFormat: Equatable, Sendable, CustomStringConvertible {
    public var sampleFormat: SampleFormat
    public var sampleRate: Int
    public var channels: Int

    /// What CaptureDeck captures and records. The containers narrow it: FLAC holds at most 8
    /// channels (`FileType.validate`); WAV/RF64, W64, CAF and AIFF take all 64.
    public static let rateRange = 8_000...384_000
    public static let channelRange = 1...64

    public init(sampleFormat: SampleFormat, sampleRate: Int, channels: Int) {
        self.sampleFormat = sampleFormat
        self.sampleRate = sampleRate
        self.channels = channels
    }

    public var bytesPerFrame: Int { sampleFormat.bytesPerSample * channels }

    public var description: String {
        "\(sampleFormat.rawValue) \(sampleRate) Hz \(channels) ch"
    }
}

/// Reads and writes single samples of any `SampleFormat` at a byte address.
///
/// Integer samples travel as "left-justified" Int32 (the sample's most significant bit at bit
/// 31), so that every integer conversion is an exact shift; float travels as Float.
/// All functions are allocation-free and safe on the real-time capture path.
public enum SampleCodec {
    /// Loads one sample as a left-justified Int32 (float samples are scaled and clamped).
    @inline(__always)
    public static func loadInt32(_ p: UnsafeRawPointer, _ format: SampleFormat) -> Int32 {
        switch format {
        case .s16LE:
            return Int32(Int16(littleEndian: p.loadUnaligned(as: Int16.self))) << 16
        case .s24LE:
            // Low 24 bits hold the sample; move them to the top (drops the container's high byte).
            return Int32(littleEndian: p.loadUnaligned(as: Int32.self)) << 8
        case .s24_3LE:
            let b0 = UInt32(p.load(fromByteOffset: 0, as: UInt8.self))
            let b1 = UInt32(p.load(fromByteOffset: 1, as: UInt8.self))
            let b2 = UInt32(p.load(fromByteOffset: 2, as: UInt8.self))
            return Int32(bitPattern: (b0 << 8) | (b1 << 16) | (b2 << 24))
        case .s32LE:
            return Int32(littleEndian: p.loadUnaligned(as: Int32.self))
        case .floatLE:
            return floatToInt32(loadFloat(p, format))
        }
    }

    /// Loads one sample as Float in [-1, 1).
    @inline(__always)
    public static func loadFloat(_ p: UnsafeRawPointer, _ format: SampleFormat) -> Float {
        switch format {
        case .floatLE:
            return Float(bitPattern: UInt32(littleEndian: p.loadUnaligned(as: UInt32.self)))
        case .s16LE:
            return Float(Int16(littleEndian: p.loadUnaligned(as: Int16.self))) * (1.0 / 32768.0)
        default:
            return Float(loadInt32(p, format)) * (1.0 / 2_147_483_648.0)
        }
    }

    /// Stores a left-justified Int32 sample (truncating to the format's precision).
    @inline(__always)
    public static func storeInt32(_ v: Int32, _ p: UnsafeMutableRawPointer, _ format: SampleFormat) {
        switch format {
        case .s16LE:
            p.storeBytes(of: Int16(truncatingIfNeeded: v >> 16).littleEndian, as: Int16.self)
        case .s24LE:
            p.storeBytes(of: (v >> 8).littleEndian, as: Int32.self)
        case .s24_3LE:
            let u = UInt32(bitPattern: v)
            p.storeBytes(of: UInt8(truncatingIfNeeded: u >> 8), toByteOffset: 0, as: UInt8.self)
            p.storeBytes(of: UInt8(truncatingIfNeeded: u >> 16), toByteOffset: 1, as: UInt8.self)
            p.storeBytes(of: UInt8(truncatingIfNeeded: u >> 24), toByteOffset: 2, as: UInt8.self)
        case .s32LE:
            p.storeBytes(of: v.littleEndian, as: Int32.self)
        case .floatLE:
            storeFloat(Float(v) * (1.0 / 2_147_483_648.0), p, format)
        }
    }

    /// Stores a Float sample, rounded to the nearest step of the format's precision and clamped
    /// to full scale for integer formats.
    @inline(__always)
    public static func storeFloat(_ v: Float, _ p: UnsafeMutableRawPointer, _ format: SampleFormat) {
        switch format {
        case .floatLE:
            p.storeBytes(of: v.bitPattern.littleEndian, as: UInt32.self)
        case .s16LE:
            p.storeBytes(of: Int16(clampedRound(v, scale: 32768, max: 32767)).littleEndian, as: Int16.self)
        case .s24LE, .s24_3LE:
            storeInt32(Int32(clampedRound(v, scale: 8_388_608, max: 8_388_607)) << 8, p, format)
        case .s32LE:
            storeInt32(floatToInt32(v), p, format)
        }
    }

    @inline(__always)
    static func clampedRound(_ v: Float, scale: Double, max: Double) -> Int {
        if !(v == v) { return 0 }  // NaN
        let x = (Double(v) * scale).rounded(.toNearestOrEven)
        return Int(Swift.min(max, Swift.max(-scale, x)))
    }

    @inline(__always)
    static func floatToInt32(_ v: Float) -> Int32 {
        if !(v == v) { return 0 }  // NaN
        let scaled = Double(v) * 2_147_483_648.0
        if scaled >= 2_147_483_647.0 { return Int32.max }
        if scaled <= -2_147_483_648.0 { return Int32.min }
        return Int32(scaled.rounded(.toNearestOrEven))
    }
}

/// Converts interleaved frames from one stream format to another with the same rate.
///
/// Sample encodings convert exactly where the target has the precision (integer widening is a
/// shift). Channels map by index: extra source channels are dropped; a mono source fills every
/// target channel; otherwise missing target channels are silent. Allocation-free.
public struct FrameConverter: Sendable {
    public let source: StreamFormat
    public let target: StreamFormat

    public init(source: StreamFormat, target: StreamFormat) {
        precondition(source.sampleRate == target.sampleRate, "FrameConverter does not resample")
        self.source = source
        self.target = target
    }

    public var isIdentity: Bool { source == target }

    public func convert(from src: UnsafeRawPointer, to dst: UnsafeMutableRawPointer, frames: Int) {
        let sf = source.sampleFormat, tf = target.sampleFormat
        let sBytes = sf.bytesPerSample, tBytes = tf.bytesPerSample
        let sCh = source.channels, tCh = target.channels
        let useFloat = sf.isFloat || tf.isFloat
        for frame in 0..<frames {
            let sFrame = src + frame * sCh * sBytes
            let tFrame = dst + frame * tCh * tBytes
            for ch in 0..<tCh {
                let out = tFrame + ch * tBytes
                let sCh0: Int
                if ch < sCh { sCh0 = ch } else if sCh == 1 { sCh0 = 0 } else {
                    if useFloat { SampleCodec.storeFloat(0, out, tf) } else { SampleCodec.storeInt32(0, out, tf) }
                    continue
                }
                let inp = sFrame + sCh0 * sBytes
                if useFloat {
                    SampleCodec.storeFloat(SampleCodec.loadFloat(inp, sf), out, tf)
                } else {
                    SampleCodec.storeInt32(SampleCodec.loadInt32(inp, sf), out, tf)
                }
            }
        }
    }
}
