// Cards with one clock (USB mics, HDA: 48 or 96 kHz only) recorded at a lower rate: the resampler's
// ratio is below 1. Issue 10, item 1: a capture with no duration limit trapped on its first read
// (`Int(Double(Int.max) / ratio)` overflowed). Also: the resampler's tail is flushed at a stop
// (item 6), and a switch's silence respects the duration limit (item 5).
import CaptureCore
import CaptureTestSupport
import CaptureResample
import Foundation
import Testing

@Suite struct DownsamplingTests {
    static let cases: [(device: Int, recording: Int)] = [
        (48000, 8000), (48000, 16000), (48000, 22050), (48000, 44100),
        (96000, 8000), (96000, 16000), (96000, 22050), (96000, 44100), (96000, 48000),
    ]

    /// No duration limit (the console; `record` without -d): runs, keeps pitch, and stops cleanly.
    @Test(arguments: cases)
    func unlimitedCaptureFromAOneClockDevice(_ c: (device: Int, recording: Int)) throws {
        let format = StreamFormat(sampleFormat: .floatLE, sampleRate: c.recording, channels: 2)
        let sink = CollectingSink(format: format)
        let dev = ScriptedSource(signal: .sine(frequency: 1000, level: -12), paced: false, fixedRate: c.device)
        let engine = try CaptureEngine(device: dev, configuration: .init(request: CaptureRequest(format: format), realtimePriority: nil,
                                                                         rateConverter: LibsamplerateConverter.factory),
                                       sink: sink)
        let g = try engine.start()
        #expect(g.format.sampleRate == c.device)
        try waitUntil("a second of audio") { engine.framesCaptured >= c.recording }
        engine.stop()
        let s = engine.waitUntilFinished()
        #expect(s.endReason == .stopped)
        #expect(s.framesCaptured >= c.recording && sink.framesWritten == s.framesCaptured)
        let r = ResamplingTests()
        let f = r.frequency(sink.samples, channels: 2, rate: c.recording, range: (c.recording / 10)..<sink.framesWritten)
        #expect(abs(f - 1000) < 3, "frequency \(f)")
    }

    /// With -d: exactly that many frames, at every ratio.
    @Test(arguments: cases)
    func limitedCaptureFromAOneClockDevice(_ c: (device: Int, recording: Int)) throws {
        let format = StreamFormat(sampleFormat: .s16LE, sampleRate: c.recording, channels: 1)
        let dev = ScriptedSource(signal: .sine(frequency: 440, level: -12), paced: false, fixedRate: c.device)
        let frames = c.recording * 3 / 2
        let engine = try CaptureEngine(device: dev, configuration: .init(request: CaptureRequest(format: format), realtimePriority: nil,
                                                                         maxFrames: frames, rateConverter: LibsamplerateConverter.factory))
        try engine.start()
        let s = engine.waitUntilFinished()
        #expect(s.endReason == .durationReached && s.framesCaptured == frames && s.framesWritten == frames)
    }

    /// At a stop, the converter's withheld tail reaches the file: the recording holds the device's
    /// audio at the recording rate to within a frame (before: short by the converter's latency).
    @Test(arguments: [(48000, 16000), (44100, 48000), (96000, 44100)])
    func stopFlushesTheConverter(_ c: (device: Int, recording: Int)) throws {
        let format = StreamFormat(sampleFormat: .floatLE, sampleRate: c.recording, channels: 1)
        let sink = CollectingSink(format: format)
        let dev = ScriptedSource(signal: .sine(frequency: 1000, level: -12), paced: false, fixedRate: c.device)
        let engine = try CaptureEngine(device: dev, configuration: .init(request: CaptureRequest(format: format), realtimePriority: nil,
                                                                         rateConverter: LibsamplerateConverter.factory),
                                       sink: sink)
        try engine.start()
        try waitUntil("engine.framesCaptured >= c.recording") { engine.framesCaptured >= c.recording }
        engine.stop()
        let s = engine.waitUntilFinished()
        let expected = Double(dev.framesRead) * Double(c.recording) / Double(c.device)
        #expect(abs(Double(s.framesCaptured) - expected) <= 2, "captured \(s.framesCaptured), device gave \(dev.framesRead) → \(expected)")
    }

    /// A switch near the end of a -d take: the silence for the gap counts towards the limit
    /// (before: it was written whole, and the take came out longer than asked).
    @Test func switchSilenceRespectsTheDurationLimit() throws {
        let format = StreamFormat(sampleFormat: .s16LE, sampleRate: 48000, channels: 2)
        let a = BuiltInSource(signal: .sine(frequency: 440, level: -12), paced: true)
        let limit = 48000 / 2
        let engine = try CaptureEngine(device: a, configuration: .init(request: CaptureRequest(format: format), realtimePriority: nil,
                                                                       maxFrames: limit))
        try engine.start()
        try waitUntil("engine.framesCaptured >= limit - 2400") { engine.framesCaptured >= limit - 2400 }
        // A new device that takes 200 ms to open: a gap of at least 200 ms, past the limit.
        let b = ScriptedSource(signal: .sine(frequency: 1000, level: -12), openDelayMs: 200)
        _ = try? engine.switchDevice(to: b)
        let s = engine.waitUntilFinished()
        #expect(s.framesCaptured == limit && s.framesWritten == limit, "\(s)")
    }
}

extension DownsamplingTests {
    /// CPU time the thread has used, in seconds (/proc's schedstat: nanoseconds on a CPU).
    static func cpuSeconds(thread tid: Int32) -> Double {
        guard let text = try? String(contentsOfFile: "/proc/self/task/\(tid)/schedstat", encoding: .utf8),
              let ns = text.split(separator: " ").first.flatMap({ Double($0) }) else { return -1 }
        return ns / 1e9
    }

    /// Issue 10, item 2: while the writer is stalled (a slow disk), the resampling capture loop
    /// sleeps instead of spinning on the few free frames a converted block can't fit into.
    @Test(arguments: [48000, 44100])
    func aStalledWriterDoesNotMakeTheResamplingLoopSpin(_ deviceRate: Int) throws {
        let format = StreamFormat(sampleFormat: .s16LE, sampleRate: 16000, channels: 2)
        let sink = StallingSink(format: format)
        let dev = ScriptedSource(signal: .sine(frequency: 440, level: -12), paced: true, fixedRate: deviceRate)
        let engine = try CaptureEngine(device: dev, configuration: .init(request: CaptureRequest(format: format), realtimePriority: nil,
                                                                         ringSeconds: 0.25, rateConverter: LibsamplerateConverter.factory),
                                       sink: sink)
        try engine.start()
        // The ring (0.25 s) fills while the sink holds its first write.
        try waitUntil("the ring filling") { engine.framesCaptured >= 4000 }
        usleep(400_000)
        let tid = engine.captureThreadID
        let before = Self.cpuSeconds(thread: tid)
        usleep(1_000_000)
        let used = Self.cpuSeconds(thread: tid) - before
        sink.release()
        engine.stop()
        _ = engine.waitUntilFinished()
        #expect(before >= 0 && used < 0.05, "the capture thread used \(used) s of CPU in 1 s with a full ring")
    }
}

/// Holds the writer in its first write until released (a stalled disk).
final class StallingSink: RecordingSink, @unchecked Sendable {
    let path = "stalled"
    let format: StreamFormat
    private(set) var framesWritten = 0
    private let gate = DispatchSemaphore(value: 0)
    private var held = false
    init(format: StreamFormat) { self.format = format }
    func release() { gate.signal() }
    func write(_ frames: UnsafeRawPointer, count: Int) throws(RecordingError) {
        if !held { held = true; gate.wait() }
        framesWritten += count
    }
    func checkpoint() throws(RecordingError) {}
    func finish() throws(RecordingError) {}
}

