// Sample formats: names, exact integer widening, float scaling and channel mapping.
import CaptureCore
import Testing

@Suite struct SampleFormatTests {
    @Test func namesParseLikeArecord() {
        #expect(SampleFormat(name: "s16_le") == .s16LE)
        #expect(SampleFormat(name: "S24_3LE") == .s24_3LE)
        #expect(SampleFormat(name: "FLOAT") == .floatLE)
        #expect(SampleFormat(name: "S8") == nil)
        #expect(SampleFormat(name: "") == nil)
    }

    /// Stores `value` (left-justified) in `format` and loads it back.
    func roundTrip(_ value: Int32, _ format: SampleFormat) -> Int32 {
        var bytes = [UInt8](repeating: 0, count: 8)
        return bytes.withUnsafeMutableBytes { raw in
            SampleCodec.storeInt32(value, raw.baseAddress!, format)
            return SampleCodec.loadInt32(raw.baseAddress!, format)
        }
    }

    @Test(arguments: SampleFormat.allCases)
    func extremesSurviveTheirOwnFormat(format: SampleFormat) {
        let bits = format == .floatLE ? 24 : format.bitDepth
        let step = Int32(1) << (32 - bits)
        for v in [Int32.min, Int32.max & ~(step - 1), 0, step, -step, 0x1234_5600 & ~(step - 1)] {
            #expect(roundTrip(v, format) == v, "\(format) \(v)")
        }
    }

    @Test func integerWideningIsExact() {
        // Every 16-bit value survives S16 → S24 → S32 → S24_3 → S16.
        for s in stride(from: Int(Int16.min), through: Int(Int16.max), by: 1) {
            let v = Int32(s) << 16
            var x = roundTrip(v, .s24LE)
            x = roundTrip(x, .s32LE)
            x = roundTrip(x, .s24_3LE)
            x = roundTrip(x, .s16LE)
            if x != v { Issue.record("lost \(s)"); return }
        }
    }

    @Test func s24LEIgnoresTheContainerHighByte() {
        var bytes: [UInt8] = [0x01, 0x02, 0x83, 0x55]  // 0x830201 = negative 24-bit sample
        let v = bytes.withUnsafeMutableBytes { SampleCodec.loadInt32($0.baseAddress!, .s24LE) }
        #expect(v == Int32(bitPattern: 0x8302_0100))
    }

    @Test func floatScalingIsExactForSixteenBit() {
        for s: Int16 in [.min, -1, 0, 1, 12345, .max] {
            var b = [UInt8](repeating: 0, count: 4)
            b.withUnsafeMutableBytes { p in
                p.storeBytes(of: s.littleEndian, as: Int16.self)
                let f = SampleCodec.loadFloat(p.baseAddress!, .s16LE)
                #expect(f == Float(s) / 32768)
                SampleCodec.storeFloat(f, p.baseAddress!, .s16LE)
                #expect(p.load(as: Int16.self) == s)
            }
        }
    }

    @Test func floatClampsAtFullScale() {
        var b = [UInt8](repeating: 0, count: 4)
        b.withUnsafeMutableBytes { p in
            SampleCodec.storeFloat(1.5, p.baseAddress!, .s16LE)
            #expect(p.load(as: Int16.self) == .max)
            SampleCodec.storeFloat(-2, p.baseAddress!, .s16LE)
            #expect(p.load(as: Int16.self) == .min)
            SampleCodec.storeFloat(.nan, p.baseAddress!, .s32LE)
            #expect(p.load(as: Int32.self) == 0)
        }
    }

    @Test func converterMapsChannelsAndFormats() {
        let mono = StreamFormat(sampleFormat: .s16LE, sampleRate: 48000, channels: 1)
        let stereo32 = StreamFormat(sampleFormat: .s32LE, sampleRate: 48000, channels: 2)
        let src: [Int16] = [100, -200, 300]
        var dst = [Int32](repeating: 7, count: 6)
        src.withUnsafeBytes { s in
            dst.withUnsafeMutableBytes { d in
                FrameConverter(source: mono, target: stereo32).convert(from: s.baseAddress!, to: d.baseAddress!, frames: 3)
            }
        }
        let want: [Int32] = [6_553_600, 6_553_600, -13_107_200, -13_107_200, 19_660_800, 19_660_800]
        #expect(dst == want)

        let six = StreamFormat(sampleFormat: .floatLE, sampleRate: 48000, channels: 6)
        let two = StreamFormat(sampleFormat: .floatLE, sampleRate: 48000, channels: 2)
        let s6: [Float] = [0.1, 0.2, 0.3, 0.4, 0.5, 0.6]
        var d2 = [Float](repeating: 9, count: 2)
        s6.withUnsafeBytes { s in
            d2.withUnsafeMutableBytes { d in
                FrameConverter(source: six, target: two).convert(from: s.baseAddress!, to: d.baseAddress!, frames: 1)
            }
        }
        #expect(d2 == [0.1, 0.2])

        // Stereo into 4 channels: the extra channels are silent.
        let four = StreamFormat(sampleFormat: .floatLE, sampleRate: 48000, channels: 4)
        var d4 = [Float](repeating: 9, count: 4)
        [Float(0.25), -0.5].withUnsafeBytes { s in
            d4.withUnsafeMutableBytes { d in
                FrameConverter(source: two, target: four).convert(from: s.baseAddress!, to: d.baseAddress!, frames: 1)
            }
        }
        #expect(d4 == [0.25, -0.5, 0, 0])
    }
}
