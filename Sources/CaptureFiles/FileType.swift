// The container types CaptureDeck records, and how each maps onto libsndfile.
import CSndfile
import CaptureCore

/// A recording container.
public enum FileType: String, CaseIterable, Sendable {
    /// RIFF WAVE; becomes RF64 automatically past 4 GiB.
    case wav
    /// Sony Wave64 (64-bit sizes throughout).
    case w64
    /// Apple Core Audio Format.
    case caf
    /// FLAC, lossless compression (16 or 24-bit integer samples only).
    case flac
    /// Apple's Audio Interchange File Format, big-endian; float samples make it AIFF-C (`FL32`),
    /// as libsndfile writes them. Its sizes are 32-bit, so a recording stops at 4 GiB.
    case aiff

    public var fileExtension: String { rawValue }

    public init?(name: String) {
        switch name.lowercased() {
        case "wav", "wave", "rf64": self = .wav
        case "w64": self = .w64
        case "caf": self = .caf
        case "flac": self = .flac
        case "aiff", "aif": self = .aiff
        default: return nil
        }
    }

    /// Checks this container can hold `format`'s samples exactly.
    public func validate(_ format: SampleFormat) throws(RecordingError) {
        if self == .flac && (format == .s32LE || format == .floatLE) {
            throw .unsupportedFormat(type: "FLAC", format: format.rawValue,
                                     reason: "FLAC holds 16 or 24-bit integer samples; use -t wav, w64, caf or aiff")
        }
    }

    /// The most channels the container holds: FLAC's frame header has 3 bits for them (8); the
    /// others take every channel count CaptureDeck captures (`StreamFormat.channelRange`).
    public var maxChannels: Int { self == .flac ? 8 : StreamFormat.channelRange.upperBound }

    /// Checks this container can hold `channels` channels (checked up front, before any file or
    /// device is opened). One file per channel (`splitChannels`) is mono whatever the stream has.
    public func validate(channels: Int, splitChannels: Bool = false) throws(RecordingError) {
        let perFile = splitChannels ? 1 : channels
        if perFile > maxChannels {
            throw .unsupportedFormat(type: rawValue.uppercased(), format: "\(channels) channels",
                                     reason: "\(rawValue.uppercased()) holds at most \(maxChannels) channels; use -t wav, w64, caf or aiff, or --split-channels (one mono file each)")
        }
    }

    /// Whether markers go into the file itself (WAV cue points, an AIFF MARK chunk), kept in the
    /// crash-safe sidecar until then. The other containers keep them in the sidecar for good:
    /// libsndfile writes no cues into them.
    var holdsMarkers: Bool { self == .wav || self == .aiff }

    func sndfileFormat(_ format: SampleFormat) -> Int32 {
        let major: Int32
        switch self {
        case .wav: major = Int32(SF_FORMAT_RF64)
        case .w64: major = Int32(SF_FORMAT_W64)
        case .caf: major = Int32(SF_FORMAT_CAF)
        case .flac: major = Int32(SF_FORMAT_FLAC)
        case .aiff: major = Int32(SF_FORMAT_AIFF)
        }
        let minor: Int32
        switch format {
        case .s16LE: minor = Int32(SF_FORMAT_PCM_16)
        case .s24LE, .s24_3LE: minor = Int32(SF_FORMAT_PCM_24)
        case .s32LE: minor = Int32(SF_FORMAT_PCM_32)
        case .floatLE: minor = Int32(SF_FORMAT_FLOAT)
        }
        return major | minor
    }
}
