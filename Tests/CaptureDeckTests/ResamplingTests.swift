// A device that can't give the recording's rate is resampled (libsamplerate), at start and
// when a route switch lands on it: the file keeps its rate, the tone keeps its pitch and level.
import CAllocCounter
import CaptureCore
import CaptureTestSupport
import CaptureResample
import Foundation
import Testing

/// Collects the recording in memory.
final class CollectingSink: RecordingSink, @unchecked Sendable {
    let path = "memory"
    let format: StreamFormat
    var samples: [Float] = []
    var framesWritten = 0
    init(format: StreamFormat) { self.format = format }
    func write(_ frames: UnsafeRawPointer, count: Int) throws(RecordingError) {
        let p = frames.assumingMemoryBound(to: Float.self)
        samples.append(contentsOf: UnsafeBufferPointer(start: p, count: count * format.channels))
        framesWritten += count
    }
    func checkpoint() throws(RecordingError) {}
    func finish() throws(RecordingError) {}
}

@Suite struct ResamplingTests {
    let format = StreamFormat(sampleFormat: .floatLE, sampleRate: 48000, channels: 2)

    /// Zero crossings per second of channel 0 over `range` → frequency.
    func frequency(_ s: [Float], channels: Int, rate: Int, range: Range<Int>) -> Double {
        var crossings = 0
        for i in (range.lowerBound + 1)..<range.upperBound where (s[(i - 1) * channels] < 0) != (s[i * channels] < 0) {
            crossings += 1
        }
        return Double(crossings) / 2 / (Double(range.count) / Double(rate))
    }

    func rmsDB(_ s: [Float], channels: Int, range: Range<Int>) -> Double {
        let sum = range.reduce(0.0) { $0 + Double(s[$1 * channels]) * Double(s[$1 * channels]) }
        return 20 * log10((sum / Double(range.count)).squareRoot())
    }

    @Test func unpacedFixedRateDeviceIsResampledToTheRecordingRate() throws {
        let sink = CollectingSink(format: format)
        let dev = ScriptedSource(signal: .sine(frequency: 1000, level: -12), paced: false, fixedRate: 44100)
        let engine = try CaptureEngine(device: dev, configuration: .init(request: CaptureRequest(format: format), realtimePriority: nil,
                                                                         maxFrames: 96_000, rateConverter: LibsamplerateConverter.factory),
                                       sink: sink)
        let g = try engine.start()
        #expect(g.format.sampleRate == 44100)
        let s = engine.waitUntilFinished()
        #expect(s.framesCaptured == 96_000 && sink.framesWritten == 96_000)
        // After the converter's start-up, a 1 kHz tone at 48 kHz: same pitch, same level.
        let f = frequency(sink.samples, channels: 2, rate: 48000, range: 4800..<96_000)
        #expect(abs(f - 1000) < 2, "frequency \(f)")
        let level = rmsDB(sink.samples, channels: 2, range: 4800..<96_000)
        #expect(abs(level - -15.05) < 0.2, "rms \(level)")
    }

    @Test(.enabled(if: CAllocCounter_isActive() != 0, "the allocation counter is off in this build (sanitizer builds compile it with CAPDECK_NO_ALLOC_COUNTER)"))
    func resamplingCaptureThreadDoesNotAllocate() throws {
        let dev = ScriptedSource(paced: false, fixedRate: 44100)
        let engine = try CaptureEngine(device: dev, configuration: .init(
            request: CaptureRequest(format: format, periodMicros: 2_000, bufferMicros: 8_000), realtimePriority: nil,
            ringSeconds: 0.05, rateConverter: LibsamplerateConverter.factory))
        try engine.start()
        try waitUntil("engine.framesCaptured >= 48_000") { engine.framesCaptured >= 48_000 }
        try #require(CAllocCounter_watch(engine.captureThreadID) == 1, "a free watch slot")
        defer { CAllocCounter_unwatch(engine.captureThreadID) }
        let from = engine.framesCaptured
        try waitUntil("engine.framesCaptured - from >= 96 * 5_000") { engine.framesCaptured - from >= 96 * 5_000 }
        let allocations = CAllocCounter_count(engine.captureThreadID)
        CAllocCounter_unwatch(engine.captureThreadID)
        engine.stop()
        _ = engine.waitUntilFinished()
        #expect(allocations == 0)
    }

    @Test func withoutAConverterTheDeviceIsRefused() throws {
        let dev = ScriptedSource(paced: false, fixedRate: 44100)
        let engine = try CaptureEngine(device: dev, configuration: .init(request: CaptureRequest(format: format), realtimePriority: nil))
        #expect(throws: DeviceError.self) { try engine.start() }
    }

    @Test func switchingToAFixedRateDeviceKeepsTheRecordingRate() throws {
        let sink = CollectingSink(format: format)
        let a = BuiltInSource(signal: .sine(frequency: 440, level: -12), paced: true)
        let engine = try CaptureEngine(device: a, configuration: .init(request: CaptureRequest(format: format), realtimePriority: nil,
                                                                       rateConverter: LibsamplerateConverter.factory), sink: sink)
        try engine.start()
        try waitUntil("engine.framesCaptured >= 24_000") { engine.framesCaptured >= 24_000 }
        let b = ScriptedSource(signal: .sine(frequency: 1000, level: -12), paced: true, fixedRate: 44100)
        let report = try engine.switchDevice(to: b)
        #expect(report.granted.format.sampleRate == 44100)
        let at = engine.framesCaptured
        try waitUntil("engine.framesCaptured >= at + 48_000") { engine.framesCaptured >= at + 48_000 }
        engine.stop()
        _ = engine.waitUntilFinished()
        let end = sink.framesWritten
        let f = frequency(sink.samples, channels: 2, rate: 48000, range: (at + 4800)..<end)
        #expect(abs(f - 1000) < 3, "frequency after the switch \(f)")
        let before = frequency(sink.samples, channels: 2, rate: 48000, range: 2400..<report.atFrame)
        #expect(abs(before - 440) < 3, "frequency before the switch \(before)")
    }
}
