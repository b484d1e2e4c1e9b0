// Deterministic test audio in the exact raw formats ALSA delivers, and reading recordings back
// through libsndfile.
import CSndfile
import CaptureCore
import Foundation

/// Raw interleaved audio for an ALSA `file` PCM's infile, with the values a reader must get back.
struct RawAudio {
    let format: SampleFormat
    let channels: Int
    let frames: Int
    /// The bytes exactly as the PCM delivers them.
    var bytes: [UInt8]
    /// Integer formats: every sample as a left-justified Int32 (the sample's top bit at bit 31),
    /// which is what libsndfile's `sf_readf_int` returns. Empty for FLOAT_LE.
    var leftJustified: [Int32]
    /// FLOAT_LE: every sample's bit pattern. Empty for integer formats.
    var floatBits: [UInt32]

    /// Bits of an integer format's sample.
    static func bits(_ f: SampleFormat) -> Int {
        switch f {
        case .s16LE: 16
        case .s24LE, .s24_3LE: 24
        case .s32LE: 32
        case .floatLE: 32
        }
    }

    /// A 64-bit LCG (Knuth's MMIX constants): deterministic, full-range, and cheap.
    struct LCG {
        var state: UInt64
        mutating func next() -> UInt64 {
            state = state &* 6364136223846793005 &+ 1442695040888963407
            return state
        }
    }

    /// A mix that exercises the whole range: a different sine per channel, LCG noise over the
    /// full signed range every few samples, and exact full-scale maximum and minimum values.
    /// FLOAT_LE also gets ±1.0, -0.0, a denormal and a large odd mantissa.
    static func test(format: SampleFormat, channels: Int, frames: Int, rate: Int, seed: UInt64 = 1) -> RawAudio {
        let bytesPerSample = format.bytesPerSample
        let count = frames * channels
        var bytes = [UInt8](repeating: 0, count: count * bytesPerSample)
        var lj: [Int32] = []
        var fb: [UInt32] = []
        var rng = LCG(state: seed &+ UInt64(channels) &* 0x9E37_79B9)
        let b = bits(format)
        if format == .floatLE { fb.reserveCapacity(count) } else { lj.reserveCapacity(count) }
        let maxV = b == 32 ? Int64(Int32.max) : (Int64(1) << (b - 1)) - 1
        let minV = -maxV - 1
        for i in 0..<frames {
            for c in 0..<channels {
                let k = i * channels + c
                let noise = rng.next()
                let hz = 110.0 * Double(c + 1) + 31.0 * Double(c)
                let phase = 2.0 * Double.pi * hz * Double(i) / Double(rate)
                if format == .floatLE {
                    var v = Float(0.9 * sin(phase))
                    switch (i + 3 * c) % 211 {
                    case 0: v = 1.0
                    case 1: v = -1.0
                    case 2: v = -0.0
                    case 3: v = Float.leastNonzeroMagnitude
                    case 4: v = Float(bitPattern: 0x3F7F_FFFF)  // largest float below 1
                    default:
                        if (i + c) % 5 == 0 {
                            // Uniform in [-1, 1) with a full 24-bit mantissa.
                            v = Float(Int32(truncatingIfNeeded: noise >> 40) - (1 << 23)) / Float(1 << 23)
                        }
                    }
                    let bitsV = v.bitPattern
                    fb.append(bitsV)
                    withUnsafeBytes(of: bitsV.littleEndian) { src in
                        for j in 0..<4 { bytes[k * 4 + j] = src[j] }
                    }
                } else {
                    var v: Int64
                    switch (i + 7 * c) % 997 {
                    case 0: v = maxV
                    case 1: v = minV
                    case 2: v = -1
                    case 3: v = 0
                    default:
                        if (i + c) % 5 == 0 {
                            v = Int64(Int32(truncatingIfNeeded: noise >> 32)) >> (32 - b)  // full signed range
                        } else {
                            v = Int64((0.9 * sin(phase) * Double(maxV)).rounded())
                        }
                    }
                    lj.append(Int32(truncatingIfNeeded: v << (32 - b)))
                    let o = k * bytesPerSample
                    let u = UInt32(truncatingIfNeeded: v)
                    switch format {
                    case .s16LE:
                        bytes[o] = UInt8(truncatingIfNeeded: u); bytes[o + 1] = UInt8(truncatingIfNeeded: u >> 8)
                    case .s24_3LE:
                        for j in 0..<3 { bytes[o + j] = UInt8(truncatingIfNeeded: u >> (8 * j)) }
                    case .s24LE, .s32LE:
                        // S24_LE: the 24-bit value sign-extended into a 4-byte container.
                        for j in 0..<4 { bytes[o + j] = UInt8(truncatingIfNeeded: u >> (8 * j)) }
                    case .floatLE:
                        break
                    }
                }
            }
        }
        return RawAudio(format: format, channels: channels, frames: frames, bytes: bytes, leftJustified: lj, floatBits: fb)
    }

    /// A counter/LCG pattern for S16_LE stereo: channel 0 counts frames (wrapping through the whole
    /// signed range, so any skipped or repeated frame shows), channel 1 is LCG noise.
    static func counterS16Stereo(frames: Int, seed: UInt64 = 7) -> RawAudio {
        var bytes = [UInt8](repeating: 0, count: frames * 4)
        var lj = [Int32](repeating: 0, count: frames * 2)
        var rng = LCG(state: seed)
        for i in 0..<frames {
            let a = Int16(truncatingIfNeeded: i &* 3 &- 32768)
            let n = Int16(truncatingIfNeeded: rng.next() >> 48)
            for (c, v) in [a, n].enumerated() {
                let u = UInt16(bitPattern: v)
                bytes[i * 4 + 2 * c] = UInt8(truncatingIfNeeded: u)
                bytes[i * 4 + 2 * c + 1] = UInt8(truncatingIfNeeded: u >> 8)
                lj[i * 2 + c] = Int32(v) << 16
            }
        }
        return RawAudio(format: .s16LE, channels: 2, frames: frames, bytes: bytes, leftJustified: lj, floatBits: [])
    }

    /// The product's own decoder's view of the bytes (must agree with `leftJustified`).
    func codecLeftJustified() -> [Int32] {
        let n = frames * channels
        let step = format.bytesPerSample
        return bytes.withUnsafeBytes { raw in
            (0..<n).map { SampleCodec.loadInt32(raw.baseAddress! + $0 * step, format) }
        }
    }
}

/// A recording read back through libsndfile.
struct SoundFile {
    var frames: Int
    var channels: Int
    var sampleRate: Int
    /// SF_FORMAT_* major and subtype, e.g. SF_FORMAT_WAV | SF_FORMAT_PCM_24.
    var format: Int32
    var ints: [Int32] = []
    var floats: [Float] = []

    var majorFormat: Int32 { format & Int32(SF_FORMAT_TYPEMASK) }
    var subtype: Int32 { format & Int32(SF_FORMAT_SUBMASK) }

    struct OpenError: Error, CustomStringConvertible {
        var description: String
    }

    enum Samples { case none, int, float }

    /// Opens `path` with sf_open and reads every frame as `samples`.
    static func read(_ path: String, samples: Samples) throws -> SoundFile {
        var info = SF_INFO()
        guard let f = sf_open(path, Int32(SFM_READ), &info) else {
            throw OpenError(description: "sf_open \(path): \(String(cString: sf_strerror(nil)))")
        }
        defer { sf_close(f) }
        var out = SoundFile(frames: Int(info.frames), channels: Int(info.channels), sampleRate: Int(info.samplerate),
                            format: info.format)
        let n = out.frames * out.channels
        switch samples {
        case .none:
            break
        case .int:
            out.ints = [Int32](repeating: 0, count: n)
            let got = out.ints.withUnsafeMutableBufferPointer { sf_readf_int(f, $0.baseAddress, info.frames) }
            if got != info.frames { throw OpenError(description: "sf_readf_int \(path): \(got) of \(info.frames) frames") }
        case .float:
            // Float files: no normalisation games, the stored values as they are.
            out.floats = [Float](repeating: 0, count: n)
            let got = out.floats.withUnsafeMutableBufferPointer { sf_readf_float(f, $0.baseAddress, info.frames) }
            if got != info.frames { throw OpenError(description: "sf_readf_float \(path): \(got) of \(info.frames) frames") }
        }
        return out
    }

    static func majorFormat(forType type: String) -> Int32 {
        switch type {
        case "wav": Int32(SF_FORMAT_WAV)
        case "w64": Int32(SF_FORMAT_W64)
        case "caf": Int32(SF_FORMAT_CAF)
        case "flac": Int32(SF_FORMAT_FLAC)
        case "aiff": Int32(SF_FORMAT_AIFF)
        default: -1
        }
    }

    static func subtype(for f: SampleFormat) -> Int32 {
        switch f {
        case .s16LE: Int32(SF_FORMAT_PCM_16)
        case .s24LE, .s24_3LE: Int32(SF_FORMAT_PCM_24)
        case .s32LE: Int32(SF_FORMAT_PCM_32)
        case .floatLE: Int32(SF_FORMAT_FLOAT)
        }
    }
}

/// Describes the first difference between `got` and the first `got.count` values of `expected`
/// (nil when equal), with the frame and channel it is at and how many samples differ.
func firstDifference<T: Equatable>(_ got: [T], _ expected: [T], channels: Int,
                                   show: (T) -> String = { "\($0)" }) -> String? {
    guard got.count <= expected.count else {
        return "got \(got.count) samples, but only \(expected.count) were sent"
    }
    var first: Int?
    var differing = 0
    for i in 0..<got.count where got[i] != expected[i] {
        if first == nil { first = i }
        differing += 1
    }
    guard let i = first else { return nil }
    return "\(differing) of \(got.count) samples differ; first at frame \(i / channels) channel \(i % channels): "
        + "got \(show(got[i])), expected \(show(expected[i]))"
}

func hex32(_ v: UInt32) -> String { "0x" + String(v, radix: 16) }
