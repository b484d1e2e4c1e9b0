// The loudness fields of a Broadcast Wave `bext` chunk (EBU Tech 3285 v2): what the recorder
// measured over the file's audio, written when the file is finished.
import CaptureLoudness

/// BWF v2's five loudness fields, each a signed 16-bit integer of hundredths (-23.00 LUFS is
/// -2300), 0x7FFF where a value is unknown: LoudnessValue (integrated, LUFS), LoudnessRange (LU),
/// MaxTruePeakLevel (dBTP, over all channels), MaxMomentaryLoudness and MaxShortTermLoudness (LUFS).
public struct BroadcastLoudness: Sendable, Equatable {
    public var integrated: Double?
    public var range: Double?
    public var maxTruePeak: Double?
    public var maxMomentary: Double?
    public var maxShortTerm: Double?

    public init(integrated: Double? = nil, range: Double? = nil, maxTruePeak: Double? = nil, maxMomentary: Double? = nil, maxShortTerm: Double? = nil) {
        self.integrated = integrated
        self.range = range
        self.maxTruePeak = maxTruePeak
        self.maxMomentary = maxMomentary
        self.maxShortTerm = maxShortTerm
    }

    /// A file's figures from its meter's final reading (silence: every loudness unknown).
    public init(_ r: LoudnessReading) {
        self.init(integrated: r.integrated, range: r.integrated == nil ? nil : r.range, maxTruePeak: r.maxTruePeak,
                  maxMomentary: r.maxMomentary, maxShortTerm: r.maxShortTerm)
    }

    /// Unknown: 0x7FFF.
    public static let unknown: Int16 = 0x7FFF

    /// A value in the field's hundredths, rounded; unknown (0x7FFF) for nil, clamped to what an
    /// int16 holds otherwise (−327.68…+327.66).
    public static func field(_ v: Double?) -> Int16 {
        guard let v, v.isFinite else { return unknown }
        return Int16(max(-32768, min(32766, (v * 100).rounded())))
    }

    /// The five fields in the chunk's order.
    public var fields: [Int16] { [integrated, range, maxTruePeak, maxMomentary, maxShortTerm].map(Self.field) }
}
