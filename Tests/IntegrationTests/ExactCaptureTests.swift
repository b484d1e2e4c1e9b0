// Sample-exact capture through the real ALSA library: a `file` PCM over `null` delivers a known
// infile (unpaced), `capdeck record` writes it, and libsndfile reads every sample back.
import CSndfile
import CaptureCore
import Foundation
import Testing

extension Integration {
    @Suite("Sample-exact ALSA capture")
    struct ExactCapture {
        struct Case: Sendable, CustomTestStringConvertible {
            var format: SampleFormat
            var rate: Int
            var channels: Int
            var fileType: String

            var testDescription: String { "\(format.rawValue) \(rate) Hz \(channels) ch → \(fileType)" }
        }

        /// Every format, channel count (1, 2, 6) and rate at least once; every container.
        static let cases: [Case] = [
            Case(format: .s16LE, rate: 48_000, channels: 2, fileType: "wav"),
            Case(format: .s16LE, rate: 44_100, channels: 1, fileType: "flac"),
            Case(format: .s24LE, rate: 96_000, channels: 6, fileType: "wav"),
            Case(format: .s24LE, rate: 44_100, channels: 2, fileType: "caf"),
            Case(format: .s24_3LE, rate: 48_000, channels: 1, fileType: "wav"),
            Case(format: .s24_3LE, rate: 96_000, channels: 2, fileType: "flac"),
            Case(format: .s32LE, rate: 44_100, channels: 6, fileType: "wav"),
            Case(format: .s32LE, rate: 48_000, channels: 2, fileType: "w64"),
            Case(format: .floatLE, rate: 96_000, channels: 2, fileType: "wav"),
            Case(format: .floatLE, rate: 48_000, channels: 6, fileType: "caf"),
            Case(format: .s24_3LE, rate: 44_100, channels: 2, fileType: "aiff"),
            Case(format: .floatLE, rate: 48_000, channels: 1, fileType: "aiff"),
        ]

        @Test("records exactly rate × 2 frames, equal to the infile sample by sample", arguments: cases)
        func sampleExact(_ c: Case) async throws {
            let home = try TempDir()
            defer { home.remove() }
            let seconds = 2
            let expectedFrames = c.rate * seconds
            // Longer than the recording: past its end the file plugin repeats the last period.
            let audio = RawAudio.test(format: c.format, channels: c.channels, frames: expectedFrames + c.rate / 2, rate: c.rate)
            if c.format != .floatLE {
                // The product's decoder agrees with the independent encoding above.
                #expect(audio.codecLeftJustified() == audio.leftJustified, "SampleCodec.loadInt32 disagrees with the test's encoding")
            }
            try home.write("in.raw", bytes: audio.bytes)
            try home.write(".asoundrc", ALSAConfig.filePCM("exact", infile: home.path("in.raw")))
            let out = home.path("out.\(c.fileType)")

            let r = try await Capdeck.run(["record", "-q", "-D", "exact", "-f", c.format.rawValue, "-r", "\(c.rate)",
                                           "-c", "\(c.channels)", "-t", c.fileType, "-d", "\(seconds)", out], home: home)
            #expect(r.exitCode == 0, "\(r)")
            #expect(r.stderr.isEmpty, "with -q a successful recording prints nothing: \(r.stderr)")
            try #require(r.exitCode == 0)

            let file = try SoundFile.read(out, samples: c.format == .floatLE ? .float : .int)
            #expect(file.frames == expectedFrames)
            #expect(file.channels == c.channels)
            #expect(file.sampleRate == c.rate)
            // A short "wav" is a plain WAV (PCM/float tag) or, for >16 bits or >2 channels, EXTENSIBLE.
            let containers = c.fileType == "wav" ? [Int32(SF_FORMAT_WAV), Int32(SF_FORMAT_WAVEX)]
                : [SoundFile.majorFormat(forType: c.fileType)]
            #expect(containers.contains(file.majorFormat), "container 0x\(String(file.format, radix: 16))")
            #expect(file.subtype == SoundFile.subtype(for: c.format), "subtype 0x\(String(file.format, radix: 16))")
            if c.format == .floatLE {
                let got = file.floats.map(\.bitPattern)
                #expect(firstDifference(got, audio.floatBits, channels: c.channels, show: hex32) == nil)
            } else {
                #expect(firstDifference(file.ints, audio.leftJustified, channels: c.channels) == nil)
            }
        }

        /// The device refuses the requested format: capdeck takes the best it offers and converts.
        /// A `file` PCM over `linear` (whose slave is fixed to S16_LE) accepts integer formats only,
        /// so FLOAT_LE is refused and S32_LE granted; the infile is read in the granted S32_LE.
        /// (A `linear`/`plug` PCM *above* the file plugin is no good: ALSA's file plugin then
        /// delivers misordered infile data to mmap-reading plugins, even to arecord.)
        @Test("converts S32_LE from a device that refuses FLOAT_LE, exactly")
        func conversionWhenDeviceRefusesFormat() async throws {
            let home = try TempDir()
            defer { home.remove() }
            let rate = 48_000, channels = 2
            let audio = RawAudio.test(format: .s32LE, channels: channels, frames: rate * 3, rate: rate)
            try home.write("in.raw", bytes: audio.bytes)
            try home.write(".asoundrc", ALSAConfig.filePCM("nofloat", infile: home.path("in.raw"),
                                                           slave: "{ type linear slave { pcm \"null\" format S16_LE } }"))
            let out = home.path("out.wav")
            let r = try await Capdeck.run(["record", "-D", "nofloat", "-f", "FLOAT_LE", "-r", "\(rate)", "-c", "\(channels)",
                                           "-d", "2", out], home: home)
            #expect(r.exitCode == 0, "\(r)")
            #expect(r.stderr.contains("S32_LE 48000 Hz 2 ch") && r.stderr.contains("converted to FLOAT_LE"),
                    "the status line says which format the device gave and that it is converted: \(r.stderr)")
            try #require(r.exitCode == 0)
            let file = try SoundFile.read(out, samples: .float)
            #expect(file.frames == rate * 2)
            #expect(file.subtype == Int32(SF_FORMAT_FLOAT))
            // S32 → float: one rounding to the nearest float of v / 2^31.
            let expected = audio.leftJustified.prefix(rate * 2 * channels).map { Float(Double($0) / 2_147_483_648.0).bitPattern }
            #expect(firstDifference(file.floats.map(\.bitPattern), Array(expected), channels: channels, show: hex32) == nil)
        }
    }
}
