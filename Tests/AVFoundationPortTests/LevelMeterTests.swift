// Runs the level meter program on sample buffers of a known tone, as the capture session would
// deliver them, and checks the level it reports against the tone's.
@testable import CaptureDeck
@testable import CaptureDeckAVFoundation
import CaptureCore
import Foundation
import Testing

/// `frames` of a `level` dBFS sine in `format` (every channel the same), as captured.
func toneBuffer(_ format: StreamFormat, frequency: Double, level: Double, frames: Int) -> CMSampleBuffer {
    var generator = SignalGenerator(signal: .sine(frequency: frequency, level: level), sampleRate: format.sampleRate)
    var bytes = [UInt8](repeating: 0, count: frames * format.bytesPerFrame)
    bytes.withUnsafeMutableBytes { raw in
        for f in 0..<frames {
            let v = generator.next()
            for c in 0..<format.channels {
                SampleCodec.storeFloat(v, raw.baseAddress! + f * format.bytesPerFrame + c * format.sampleFormat.bytesPerSample, format.sampleFormat)
            }
        }
    }
    let audio = AudioSampleBuffer(format: format, startFrame: 0, frameCount: frames, bytes: bytes)
    return CMSampleBuffer(audio: audio, presentationTimeStamp: CMTime(value: 0, timescale: Int32(format.sampleRate)))
}

@Suite struct LevelMeterTests {
    // A sine's RMS is its amplitude / sqrt(2): -12 dBFS peak reads -15.05 dB RMS.
    static let level = -12.0
    static let expectedRMS = level - 20 * log10(2.0.squareRoot())

    @Test(arguments: [SampleFormat.s16LE, .floatLE])
    func classicPathReadsTheTonesLevel(_ sampleFormat: SampleFormat) {
        // 4800 frames of 1 kHz at 48 kHz: exactly 100 cycles.
        let sbuf = toneBuffer(StreamFormat(sampleFormat: sampleFormat, sampleRate: 48000, channels: 2),
                              frequency: 1000, level: Self.level, frames: 4800)
        let meter = AudioLevelMeter()
        meter.process(sbuf)
        #expect(abs(Double(meter.averagePowerLevel) - Self.expectedRMS) < 0.02, "\(meter.averagePowerLevel)")
        #expect(abs(Double(meter.peakLevel) - Self.level) < 0.02, "\(meter.peakLevel)")
    }

    @Test(arguments: [SampleFormat.s16LE, .floatLE])
    func swiftEraPathAgreesWithTheClassicOne(_ sampleFormat: SampleFormat) throws {
        let sbuf = toneBuffer(StreamFormat(sampleFormat: sampleFormat, sampleRate: 44100, channels: 1),
                              frequency: 441, level: Self.level, frames: 4410)
        let classic = AudioLevelMeter(), modern = AudioLevelMeter()
        classic.process(sbuf)
        try modern.processModern(sbuf)
        #expect(abs(Double(modern.averagePowerLevel) - Self.expectedRMS) < 0.02, "\(modern.averagePowerLevel)")
        #expect(modern.averagePowerLevel == classic.averagePowerLevel && modern.peakLevel == classic.peakLevel)
    }

    @Test func silenceReadsAsTheFloor() {
        let sbuf = toneBuffer(StreamFormat(sampleFormat: .s16LE, sampleRate: 48000, channels: 2),
                              frequency: 1000, level: -200, frames: 480)
        let meter = AudioLevelMeter()
        meter.process(sbuf)
        #expect(meter.averagePowerLevel <= -160)
    }
}
