// Apple's audio settings keys and values, and the translation between a settings dictionary and
// the CaptureDeck stream format the session layer produces.
import CaptureCore
import CaptureFiles
import Foundation

// MARK: Keys for all formats

/// The format ID (an `AudioFormatID` such as `kAudioFormatLinearPCM`).
public let AVFormatIDKey: String = "AVFormatIDKey"
/// The sample rate in hertz (floating point).
public let AVSampleRateKey: String = "AVSampleRateKey"
/// The number of channels (an integer).
public let AVNumberOfChannelsKey: String = "AVNumberOfChannelsKey"

// MARK: Linear PCM keys

/// Bits per sample: 8, 16, 24 or 32.
public let AVLinearPCMBitDepthKey: String = "AVLinearPCMBitDepthKey"
/// Big-endian samples (a Bool).
public let AVLinearPCMIsBigEndianKey: String = "AVLinearPCMIsBigEndianKey"
/// Floating-point samples (a Bool).
public let AVLinearPCMIsFloatKey: String = "AVLinearPCMIsFloatKey"
/// One buffer per channel (a Bool).
public let AVLinearPCMIsNonInterleaved: String = "AVLinearPCMIsNonInterleaved"

// MARK: Encoder, sample rate converter and layout keys

/// The encoder's quality (an `AVAudioQuality` raw value).
public let AVEncoderAudioQualityKey: String = "AVEncoderAudioQualityKey"
/// The encoder's quality for variable bit rate (an `AVAudioQuality` raw value).
public let AVEncoderAudioQualityForVBRKey: String = "AVEncoderAudioQualityForVBRKey"
/// The encoder's bit rate in bits per second (an integer).
public let AVEncoderBitRateKey: String = "AVEncoderBitRateKey"
/// The encoder's bit rate per channel in bits per second (an integer).
public let AVEncoderBitRatePerChannelKey: String = "AVEncoderBitRatePerChannelKey"
/// The encoder's bit rate strategy (an `AVAudioBitRateStrategy_…` string).
public let AVEncoderBitRateStrategyKey: String = "AVEncoderBitRateStrategyKey"
/// The encoder's source bit depth hint (8 to 32).
public let AVEncoderBitDepthHintKey: String = "AVEncoderBitDepthHintKey"
/// The sample rate converter's algorithm (an `AVSampleRateConverterAlgorithm_…` string).
public let AVSampleRateConverterAlgorithmKey: String = "AVSampleRateConverterAlgorithmKey"
/// The sample rate converter's quality (an `AVAudioQuality` raw value).
public let AVSampleRateConverterAudioQualityKey: String = "AVSampleRateConverterAudioQualityKey"
/// The channel layout (`Data` holding an `AudioChannelLayout`).
public let AVChannelLayoutKey: String = "AVChannelLayoutKey"

public let AVAudioBitRateStrategy_Constant: String = "AVAudioBitRateStrategy_Constant"
public let AVAudioBitRateStrategy_LongTermAverage: String = "AVAudioBitRateStrategy_LongTermAverage"
public let AVAudioBitRateStrategy_VariableConstrained: String = "AVAudioBitRateStrategy_VariableConstrained"
public let AVAudioBitRateStrategy_Variable: String = "AVAudioBitRateStrategy_Variable"
public let AVSampleRateConverterAlgorithm_Normal: String = "AVSampleRateConverterAlgorithm_Normal"
public let AVSampleRateConverterAlgorithm_Mastering: String = "AVSampleRateConverterAlgorithm_Mastering"
public let AVSampleRateConverterAlgorithm_MinimumPhase: String = "AVSampleRateConverterAlgorithm_MinimumPhase"

/// Encoder and sample rate converter quality, with Apple's raw values.
public enum AVAudioQuality: Int, Sendable {
    case min = 0
    case low = 0x20
    case medium = 0x40
    case high = 0x60
    case max = 0x7F
}

// MARK: Translation to and from CaptureDeck's stream format

/// A settings key or value CaptureDeck can't produce, with a message that names it.
struct AudioSettingsError: Error, Equatable, CustomStringConvertible {
    /// The key whose value (or whose presence) is refused.
    let key: String
    let message: String

    var description: String { message }

    /// As Apple reports settings an output can't honour: `unsupportedOutputSettings`, with the
    /// message as its localized description.
    var avError: AVError {
        AVError(.unsupportedOutputSettings, userInfo: [NSLocalizedDescriptionKey: message])
    }
}

enum AudioSettings {
    /// The settings dictionary describing `format` as Apple's outputs report theirs: linear PCM,
    /// interleaved, little-endian. Values are `NSNumber`s, so `as? Int`, `as? UInt32`,
    /// `as? Double` and `as? Bool` all read them, as they do on Apple's platforms.
    ///
    /// A dictionary can't say "24 bits in a 4-byte container": S24_LE reads back as 24-bit, which
    /// Apple means packed in 3 bytes (S24_3LE); the sample buffers' ASBD does tell them apart.
    static func dictionary(for format: StreamFormat) -> [String: Any] {
        [
            AVFormatIDKey: NSNumber(value: kAudioFormatLinearPCM),
            AVSampleRateKey: NSNumber(value: Double(format.sampleRate)),
            AVNumberOfChannelsKey: NSNumber(value: format.channels),
            AVLinearPCMBitDepthKey: NSNumber(value: bitDepth(format.sampleFormat)),
            AVLinearPCMIsFloatKey: NSNumber(value: format.sampleFormat.isFloat),
            AVLinearPCMIsBigEndianKey: NSNumber(value: false),
            AVLinearPCMIsNonInterleaved: NSNumber(value: false),
        ]
    }

    /// `AVLinearPCMBitDepthKey`'s value for a sample format: its container's bits, except 24 for
    /// both 24-bit formats.
    static func bitDepth(_ format: SampleFormat) -> Int {
        switch format {
        case .s16LE: 16
        case .s24LE, .s24_3LE: 24
        case .s32LE, .floatLE: 32
        }
    }

    /// Keys that configure an encoder or converter; linear PCM has no encoder and CaptureDeck
    /// resamples with its own converter, so they are accepted and have no effect.
    static let ignoredKeys: Set<String> = [
        AVEncoderAudioQualityKey, AVEncoderAudioQualityForVBRKey, AVEncoderBitRateKey,
        AVEncoderBitRatePerChannelKey, AVEncoderBitRateStrategyKey, AVEncoderBitDepthHintKey,
        AVSampleRateConverterAlgorithmKey, AVSampleRateConverterAudioQualityKey, AVChannelLayoutKey,
    ]

    /// The stream format `settings` asks for, starting from `base` (what the output would deliver
    /// untold): each key present overrides it. Throws, naming the key and value, for anything
    /// CaptureDeck can't produce: another format ID, big-endian or non-interleaved samples, 8-bit
    /// or other depths, a rate or channel count out of range, or a key that isn't Apple's.
    ///
    /// Without `AVLinearPCMIsFloatKey`, a given bit depth means integer samples (Apple's default);
    /// with neither, `base`'s encoding stays. 24 bits keep `base`'s 24-bit layout, else S24_3LE.
    static func streamFormat(from settings: [String: Any], base: StreamFormat) throws(AudioSettingsError) -> StreamFormat {
        for key in settings.keys.sorted() where !known.contains(key) {
            throw AudioSettingsError(key: key, message: "audio settings: unknown key \"\(key)\"")
        }
        if let id = try integer(settings, AVFormatIDKey), id != Int(kAudioFormatLinearPCM) {
            throw AudioSettingsError(
                key: AVFormatIDKey,
                message: "audio settings: \(AVFormatIDKey) \(fourCC(id)) is not produced; CaptureDeck delivers linear PCM only ('lpcm')")
        }
        if try bool(settings, AVLinearPCMIsBigEndianKey) == true {
            throw AudioSettingsError(key: AVLinearPCMIsBigEndianKey,
                                     message: "audio settings: \(AVLinearPCMIsBigEndianKey) true is not produced; samples are little-endian")
        }
        if try bool(settings, AVLinearPCMIsNonInterleaved) == true {
            throw AudioSettingsError(key: AVLinearPCMIsNonInterleaved,
                                     message: "audio settings: \(AVLinearPCMIsNonInterleaved) true is not produced; samples are interleaved")
        }
        var format = base
        if let rate = try number(settings, AVSampleRateKey) {
            let hz = rate.doubleValue
            guard hz.rounded() == hz, let whole = Int(exactly: hz), StreamFormat.rateRange.contains(whole) else {
                throw AudioSettingsError(
                    key: AVSampleRateKey,
                    message: "audio settings: \(AVSampleRateKey) \(rate) is not produced; rates are whole hertz in \(StreamFormat.rateRange.lowerBound)...\(StreamFormat.rateRange.upperBound)")
            }
            format.sampleRate = whole
        }
        if let channels = try integer(settings, AVNumberOfChannelsKey) {
            guard StreamFormat.channelRange.contains(channels) else {
                throw AudioSettingsError(
                    key: AVNumberOfChannelsKey,
                    message: "audio settings: \(AVNumberOfChannelsKey) \(channels) is not produced; channels are \(StreamFormat.channelRange.lowerBound)...\(StreamFormat.channelRange.upperBound)")
            }
            format.channels = channels
        }
        let bits = try integer(settings, AVLinearPCMBitDepthKey)
        let isFloat = try bool(settings, AVLinearPCMIsFloatKey) ?? (bits == nil ? base.sampleFormat.isFloat : false)
        if isFloat {
            guard bits == nil || bits == 32 else {
                throw AudioSettingsError(key: AVLinearPCMBitDepthKey,
                                         message: "audio settings: \(AVLinearPCMBitDepthKey) \(bits!) with float samples is not produced; float samples are 32-bit")
            }
            format.sampleFormat = .floatLE
        } else {
            switch bits ?? bitDepth(base.sampleFormat) {
            case 16: format.sampleFormat = .s16LE
            case 24: format.sampleFormat = base.sampleFormat == .s24LE ? .s24LE : .s24_3LE
            case 32: format.sampleFormat = .s32LE
            case let other:
                throw AudioSettingsError(key: AVLinearPCMBitDepthKey,
                                         message: "audio settings: \(AVLinearPCMBitDepthKey) \(other) is not produced; integer samples are 16, 24 or 32 bits")
            }
        }
        return format
    }

    /// What a file output's `settings` ask of its files, starting from `base`: the stream format
    /// (as `streamFormat(from:base:)` reads it) and how the file stores its samples. Unlike a data
    /// output's buffers, a file may be big-endian: `AVLinearPCMIsBigEndianKey` chooses the byte
    /// order (absent: the container's own). Whether the container holds it is the file type's
    /// to say (`FileType.validate`), once the recording names one.
    static func fileFormat(from settings: [String: Any], base: StreamFormat) throws(AudioSettingsError)
        -> (stream: StreamFormat, file: FileSampleFormat) {
        var rest = settings
        let bigEndian = try bool(settings, AVLinearPCMIsBigEndianKey)
        rest[AVLinearPCMIsBigEndianKey] = nil
        let format = try streamFormat(from: rest, base: base)
        return (format, FileSampleFormat(sampleFormat: format.sampleFormat, byteOrder: bigEndian.map { $0 ? .big : .little }))
    }

    static let known: Set<String> = ignoredKeys.union([
        AVFormatIDKey, AVSampleRateKey, AVNumberOfChannelsKey, AVLinearPCMBitDepthKey,
        AVLinearPCMIsBigEndianKey, AVLinearPCMIsFloatKey, AVLinearPCMIsNonInterleaved,
    ])

    private static func number(_ settings: [String: Any], _ key: String) throws(AudioSettingsError) -> NSNumber? {
        guard let value = settings[key] else { return nil }
        guard let number = value as? NSNumber else {
            throw AudioSettingsError(key: key, message: "audio settings: \(key) must be a number, not \(type(of: value)) \(value)")
        }
        return number
    }

    private static func integer(_ settings: [String: Any], _ key: String) throws(AudioSettingsError) -> Int? {
        guard let number = try number(settings, key) else { return nil }
        let d = number.doubleValue
        guard d.rounded() == d, let i = Int(exactly: d) else {
            throw AudioSettingsError(key: key, message: "audio settings: \(key) must be a whole number, not \(number)")
        }
        return i
    }

    private static func bool(_ settings: [String: Any], _ key: String) throws(AudioSettingsError) -> Bool? {
        guard let value = settings[key] else { return nil }
        if let b = value as? Bool { return b }
        if let n = value as? NSNumber, n.doubleValue == 0 || n.doubleValue == 1 { return n.doubleValue == 1 }
        throw AudioSettingsError(key: key, message: "audio settings: \(key) must be a Bool, not \(type(of: value)) \(value)")
    }

    /// `'lpcm'`-style spelling of a format ID, or the number when it isn't printable.
    static func fourCC(_ id: Int) -> String {
        guard let u = UInt32(exactly: id) else { return String(id) }
        let bytes = [24, 16, 8, 0].map { UInt8(truncatingIfNeeded: u >> UInt32($0)) }
        guard bytes.allSatisfy({ (0x20...0x7E).contains($0) }) else { return String(id) }
        return "'" + String(decoding: bytes, as: UTF8.self) + "'"
    }
}
