// Switching devices while capturing: the recording continues in the same sink and format,
// the gap is silence, and a failed switch keeps capturing from the old device.
import CaptureCore
import CaptureTestSupport
import Foundation
import Testing

@Suite struct DeviceSwitchTests {
    let format = StreamFormat(sampleFormat: .s16LE, sampleRate: 48000, channels: 2)

    func samples(_ sink: MemorySink) -> [Int16] { sink.bytes.withUnsafeBytes { Array($0.bindMemory(to: Int16.self)) } }

    @Test func switchKeepsRecordingInTheSameSink() throws {
        let sink = MemorySink(format: format)
        let a = BuiltInSource(signal: .sine(frequency: 440, level: -12), paced: true, name: "a")
        let engine = try CaptureEngine(device: a, configuration: .init(request: CaptureRequest(format: format), realtimePriority: nil), sink: sink)
        try engine.start()
        try waitUntil("engine.framesCaptured >= 9600") { engine.framesCaptured >= 9600 }
        // The new device grants another format (mono FLOAT): it is converted into the recording's.
        let b = BuiltInSource(signal: .sine(frequency: 1000, level: -6), paced: true, name: "b")
        let monoFloat = StreamFormat(sampleFormat: .floatLE, sampleRate: 48000, channels: 1)
        let report = try engine.switchDevice(to: b, request: CaptureRequest(format: monoFloat))
        #expect(report.device == "b" && report.granted.format == monoFloat)
        #expect(report.atFrame >= 9600)
        #expect(report.gapFrames >= 0 && report.gapMs < 1000)
        #expect(engine.device.name == "b")
        let after = engine.framesCaptured
        try waitUntil("engine.framesCaptured >= after + 9600") { engine.framesCaptured >= after + 9600 }
        engine.stop()
        let summary = engine.waitUntilFinished()
        #expect(summary.endReason == .stopped)
        #expect(sink.framesWritten == summary.framesCaptured)
        let s = samples(sink)
        // Before the switch: device a's sine, exactly.
        var ga = SignalGenerator(signal: .sine(frequency: 440, level: -12), sampleRate: 48000)
        for i in 0..<report.atFrame {
            let v = ga.next()
            var buf: Int16 = 0
            SampleCodec.storeFloat(v, &buf, .s16LE)
            if s[2 * i] != buf || s[2 * i + 1] != buf { Issue.record("frame \(i) before the switch"); break }
        }
        // The gap: silence.
        for i in report.atFrame..<(report.atFrame + report.gapFrames) where s[2 * i] != 0 || s[2 * i + 1] != 0 {
            Issue.record("gap frame \(i) not silent"); break
        }
        // After: device b's louder sine on both channels (mono fills every channel).
        let tail = Array(s[(2 * (report.atFrame + report.gapFrames))...])
        let peak = tail.map { abs(Int($0)) }.max() ?? 0
        #expect(abs(Double(peak) / 32768 - 0.5) < 0.01, "peak after the switch \(peak)")
        #expect(stride(from: 0, to: tail.count - 1, by: 2).allSatisfy { tail[$0] == tail[$0 + 1] })
    }

    @Test func busyNewDeviceIsOpenedAfterTheOldOneCloses() throws {
        let a = BuiltInSource(paced: true, name: "hw-a")
        let engine = try CaptureEngine(device: a, configuration: .init(request: CaptureRequest(format: format), realtimePriority: nil))
        try engine.start()
        let b = ScriptedSource(name: "dsnoop-a", busyOpens: 1)
        let report = try engine.switchDevice(to: b)
        #expect(report.device == "dsnoop-a")
        engine.stop()
        _ = engine.waitUntilFinished()
    }

    @Test func failedSwitchCarriesOnFromTheOldDevice() throws {
        let sink = MemorySink(format: format)
        let a = BuiltInSource(paced: true, name: "a")
        let engine = try CaptureEngine(device: a, configuration: .init(request: CaptureRequest(format: format), realtimePriority: nil), sink: sink)
        try engine.start()
        let stuck = ScriptedSource(name: "held", busyOpens: 2)
        #expect(throws: DeviceError.busy(device: "held")) { try engine.switchDevice(to: stuck) }
        #expect(engine.device.name == "a")
        let now = engine.framesCaptured
        try waitUntil("engine.framesCaptured >= now + 4800") { engine.framesCaptured >= now + 4800 }  // still capturing
        engine.stop()
        let s = engine.waitUntilFinished()
        #expect(s.endReason == .stopped && sink.framesWritten == s.framesCaptured)
    }
}
