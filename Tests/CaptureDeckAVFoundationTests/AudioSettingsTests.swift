// Apple's settings keys and format IDs, and the StreamFormat <-> settings dictionary translation:
// round trips, overrides, and refusals that name the key and value.
@testable import CaptureDeckAVFoundation
import CaptureCore
import Foundation
import Testing

@Suite struct AudioSettingsTests {
    let s16 = StreamFormat(sampleFormat: .s16LE, sampleRate: 48000, channels: 2)

    @Test func keysAndFormatIDsAreApples() {
        #expect([AVFormatIDKey, AVSampleRateKey, AVNumberOfChannelsKey, AVLinearPCMBitDepthKey, AVLinearPCMIsBigEndianKey,
                  AVLinearPCMIsFloatKey, AVLinearPCMIsNonInterleaved, AVChannelLayoutKey, AVEncoderAudioQualityKey,
                  AVEncoderBitRateKey]
                == ["AVFormatIDKey", "AVSampleRateKey", "AVNumberOfChannelsKey", "AVLinearPCMBitDepthKey",
                    "AVLinearPCMIsBigEndianKey", "AVLinearPCMIsFloatKey", "AVLinearPCMIsNonInterleaved", "AVChannelLayoutKey",
                    "AVEncoderAudioQualityKey", "AVEncoderBitRateKey"])
        // The numbers Apple's dictionaries print (e.g. "AVFormatIDKey": 1819304813).
        #expect(kAudioFormatLinearPCM == 1_819_304_813)
        #expect(kAudioFormatAppleLossless == 0x616C_6163 && kAudioFormatMPEG4AAC == 0x6161_6320)
        #expect(kAudioFormatFLAC == 0x666C_6163 && kAudioFormatOpus == 0x6F70_7573 && kAudioFormatMPEGLayer3 == 0x2E6D_7033)
        #expect(AVAudioQuality.high.rawValue == 0x60 && AVAudioQuality.max.rawValue == 0x7F)
    }

    @Test func dictionaryReadsBackAsAppleClientsReadIt() {
        let d = AudioSettings.dictionary(for: s16)
        #expect(d[AVFormatIDKey] as? UInt32 == kAudioFormatLinearPCM)
        #expect(d[AVFormatIDKey] as? Int == Int(kAudioFormatLinearPCM))
        #expect(d[AVSampleRateKey] as? Double == 48000 && d[AVSampleRateKey] as? Int == 48000)
        #expect(d[AVNumberOfChannelsKey] as? Int == 2 && d[AVLinearPCMBitDepthKey] as? Int == 16)
        #expect(d[AVLinearPCMIsFloatKey] as? Bool == false && d[AVLinearPCMIsBigEndianKey] as? Bool == false)
        #expect(d[AVLinearPCMIsNonInterleaved] as? Bool == false)
        let f = AudioSettings.dictionary(for: StreamFormat(sampleFormat: .floatLE, sampleRate: 44100, channels: 1))
        #expect(f[AVLinearPCMIsFloatKey] as? Bool == true && f[AVLinearPCMBitDepthKey] as? Int == 32)
    }

    @Test func everyFormatRoundTrips() throws {
        for sf in SampleFormat.allCases {
            for (rate, ch) in [(8000, 1), (44100, 2), (192_000, 8)] {
                let format = StreamFormat(sampleFormat: sf, sampleRate: rate, channels: ch)
                #expect(try AudioSettings.streamFormat(from: AudioSettings.dictionary(for: format), base: format) == format)
            }
        }
        // From a base of another format, 24 bits mean Apple's packed 24-bit.
        let s24 = AudioSettings.dictionary(for: StreamFormat(sampleFormat: .s24LE, sampleRate: 48000, channels: 2))
        #expect(try AudioSettings.streamFormat(from: s24, base: s16).sampleFormat == .s24_3LE)
    }

    @Test func keysOverrideTheBase() throws {
        let f = try AudioSettings.streamFormat(from: [AVSampleRateKey: 44100.0, AVNumberOfChannelsKey: 1], base: s16)
        #expect(f == StreamFormat(sampleFormat: .s16LE, sampleRate: 44100, channels: 1))
        #expect(try AudioSettings.streamFormat(from: [:], base: s16) == s16)
        #expect(try AudioSettings.streamFormat(from: [AVLinearPCMIsFloatKey: true], base: s16).sampleFormat == .floatLE)
        #expect(try AudioSettings.streamFormat(from: [AVLinearPCMBitDepthKey: 32], base: s16).sampleFormat == .s32LE)
        let floatBase = StreamFormat(sampleFormat: .floatLE, sampleRate: 48000, channels: 2)
        #expect(try AudioSettings.streamFormat(from: [AVLinearPCMBitDepthKey: 16], base: floatBase).sampleFormat == .s16LE)
        #expect(try AudioSettings.streamFormat(from: [AVNumberOfChannelsKey: 1], base: floatBase).sampleFormat == .floatLE)
        // Encoder and converter keys mean nothing for linear PCM: accepted, no effect.
        let ignored: [String: Any] = [AVEncoderAudioQualityKey: AVAudioQuality.high.rawValue, AVEncoderBitRateKey: 128_000,
                                      AVSampleRateConverterAlgorithmKey: AVSampleRateConverterAlgorithm_Normal]
        #expect(try AudioSettings.streamFormat(from: ignored, base: s16) == s16)
    }

    @Test func refusalsNameTheKeyAndValue() {
        func refusal(_ settings: [String: Any]) -> AudioSettingsError? {
            do { _ = try AudioSettings.streamFormat(from: settings, base: s16); return nil } catch { return error }
        }
        let cases: [([String: Any], String, String)] = [
            ([AVFormatIDKey: kAudioFormatMPEG4AAC], AVFormatIDKey, "'aac '"),
            ([AVFormatIDKey: kAudioFormatAppleLossless], AVFormatIDKey, "'alac'"),
            ([AVLinearPCMIsBigEndianKey: true], AVLinearPCMIsBigEndianKey, "little-endian"),
            ([AVLinearPCMIsNonInterleaved: true], AVLinearPCMIsNonInterleaved, "interleaved"),
            ([AVLinearPCMBitDepthKey: 8], AVLinearPCMBitDepthKey, "8"),
            ([AVLinearPCMIsFloatKey: true, AVLinearPCMBitDepthKey: 64], AVLinearPCMBitDepthKey, "64"),
            ([AVSampleRateKey: 1000], AVSampleRateKey, "1000"),
            ([AVSampleRateKey: 44100.5], AVSampleRateKey, "44100.5"),
            ([AVNumberOfChannelsKey: 65], AVNumberOfChannelsKey, "65"),
            ([AVNumberOfChannelsKey: 0], AVNumberOfChannelsKey, "0"),
            ([AVSampleRateKey: "48000"], AVSampleRateKey, "48000"),
            ([AVLinearPCMIsFloatKey: 2], AVLinearPCMIsFloatKey, "2"),
            (["AVSampleRate": 48000], "AVSampleRate", "unknown key"),
        ]
        for (settings, key, fragment) in cases {
            guard let error = refusal(settings) else { Issue.record("accepted \(settings)"); continue }
            #expect(error.key == key, "\(settings)")
            #expect(error.message.contains(key) && error.message.contains(fragment), "\(error.message)")
        }
        let av = refusal([AVFormatIDKey: kAudioFormatMPEG4AAC])!.avError
        #expect(av.code == .unsupportedOutputSettings && av.localizedDescription.contains("'aac '"))
    }
}
