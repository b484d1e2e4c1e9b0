// The engine end to end with the built-in source: exact frames, meters, xruns, device loss,
// and zero heap allocations on the capture thread.
import CAllocCounter
import CaptureCore
import CaptureTestSupport
import Foundation
import Testing

/// An in-memory recording (for engine tests; the real libsndfile sink is tested in CaptureFilesTests).
final class MemorySink: RecordingSink, @unchecked Sendable {
    let path = "memory"
    let format: StreamFormat
    var bytes: [UInt8] = []
    var framesWritten = 0
    var checkpoints = 0
    var finished = 0
    var failAfterFrames: Int?

    init(format: StreamFormat) { self.format = format }

    func write(_ frames: UnsafeRawPointer, count: Int) throws(RecordingError) {
        if let limit = failAfterFrames, framesWritten + count > limit {
            throw .diskFull(path: path, framesSaved: framesWritten)
        }
        bytes.append(contentsOf: UnsafeRawBufferPointer(start: frames, count: count * format.bytesPerFrame))
        framesWritten += count
    }
    func checkpoint() throws(RecordingError) { checkpoints += 1 }
    func finish() throws(RecordingError) { finished += 1 }
}

/// Wraps a device and injects faults at chosen reads (ALSA can't be made to fail on demand).
/// Symbol names of the code behind the first watched allocations.
func allocationSites(_ count: Int, thread: pid_t) -> String {
    var out: [String] = []
    for slot in 0..<min(count, 8) {
        var buf = [CChar](repeating: 0, count: 4096)
        _ = CAllocCounter_describe(thread, Int32(slot), &buf, 4096)
        out.append(String(decoding: buf.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self))
    }
    return out.joined(separator: " | ")
}

@Suite struct CaptureEngineTests {
    let format = StreamFormat(sampleFormat: .s16LE, sampleRate: 48000, channels: 2)

    func expectedSine(frames: Int, format: StreamFormat) -> [UInt8] {
        var g = SignalGenerator(signal: .defaultSine, sampleRate: format.sampleRate)
        var out = [UInt8](repeating: 0, count: frames * format.bytesPerFrame)
        out.withUnsafeMutableBytes { raw in
            var p = raw.baseAddress!
            for _ in 0..<frames {
                let v = g.next()
                for _ in 0..<format.channels {
                    SampleCodec.storeFloat(v, p, format.sampleFormat)
                    p += format.sampleFormat.bytesPerSample
                }
            }
        }
        return out
    }

    @Test(arguments: [SampleFormat.s16LE, .s24LE, .s24_3LE, .floatLE])
    func unpacedRunDeliversExactFramesInOrder(sampleFormat: SampleFormat) throws {
        let f = StreamFormat(sampleFormat: sampleFormat, sampleRate: 44100, channels: 3)
        let sink = MemorySink(format: f)
        let engine = try CaptureEngine(
            device: BuiltInSource(paced: false),
            configuration: .init(request: CaptureRequest(format: f), realtimePriority: nil, maxFrames: 250_001),
            sink: sink)
        try engine.start()
        let summary = engine.waitUntilFinished()
        #expect(summary.endReason == .durationReached)
        #expect(summary.framesCaptured == 250_001)
        #expect(sink.framesWritten == 250_001)
        #expect(sink.finished == 1)
        #expect(sink.bytes == expectedSine(frames: 250_001, format: f))
        // -12 dBFS sine: peak -12, RMS -15.
        let levels = engine.meterBoard.snapshot()
        #expect(levels.count == 3)
        #expect(abs(levels[0].peakDB - -12) < 0.1 && abs(levels[0].rmsDB - -15.01) < 0.1)
    }

    @Test func deviceFormatIsConvertedToTheRecordingFormat() throws {
        // The device is asked for S16 but the recording is FLOAT, mono into stereo.
        let deviceFormat = StreamFormat(sampleFormat: .s16LE, sampleRate: 48000, channels: 1)
        let recording = StreamFormat(sampleFormat: .floatLE, sampleRate: 48000, channels: 2)
        let sink = MemorySink(format: recording)
        let engine = try CaptureEngine(
            device: BuiltInSource(paced: false),
            configuration: .init(request: CaptureRequest(format: deviceFormat), recordingFormat: recording,
                                 realtimePriority: nil, maxFrames: 4800),
            sink: sink)
        try engine.start()
        _ = engine.waitUntilFinished()
        let expected16 = expectedSine(frames: 4800, format: deviceFormat)
        let got = sink.bytes.withUnsafeBytes { Array($0.bindMemory(to: Float.self)) }
        let want = expected16.withUnsafeBytes { Array($0.bindMemory(to: Int16.self)) }
        #expect(got.count == 9600)
        for i in 0..<4800 {
            let w = Float(want[i]) / 32768
            if got[2 * i] != w || got[2 * i + 1] != w { Issue.record("frame \(i)"); break }
        }
    }

    @Test func stopEndsAPacedRunAndFinishesTheFile() throws {
        let sink = MemorySink(format: format)
        let engine = try CaptureEngine(device: BuiltInSource(paced: true),
                                       configuration: .init(request: CaptureRequest(format: format), realtimePriority: nil),
                                       sink: sink)
        try engine.start()
        try waitUntil("engine.framesCaptured >= 4800") { engine.framesCaptured >= 4800 }
        engine.stop()
        let s = engine.waitUntilFinished()
        #expect(s.endReason == .stopped)
        #expect(s.framesWritten == s.framesCaptured)
        #expect(sink.finished == 1)
        #expect(sink.bytes == expectedSine(frames: s.framesWritten, format: format))
    }

    /// The built-in source, silent (no frames, no error) for `silentFrom..<silentUntil` seconds
    /// after its start: a device slow to start, or one that stops delivering.
    final class SilentSpell: CaptureSource, @unchecked Sendable {
        let inner = BuiltInSource(paced: true)
        let silentFrom: Double, silentUntil: Double
        var startedAt: UInt64 = 0
        init(silentFrom: Double, until: Double) { self.silentFrom = silentFrom; silentUntil = until }
        var name: String { "silent-spell" }
        var displayName: String { name }
        var accessKind: AccessKind { .shared }
        func open(_ r: CaptureRequest) throws(DeviceError) -> GrantedParameters { try inner.open(r) }
        func start() throws(DeviceError) { startedAt = monotonicNanos(); try inner.start() }
        var silent: Bool {
            let t = Double(monotonicNanos() - startedAt) / 1e9
            return t >= silentFrom && t < silentUntil
        }
        func read(into buffer: UnsafeMutableRawPointer, frames: Int) -> DeviceRead { silent ? .frames(0) : inner.read(into: buffer, frames: frames) }
        func waitForData(wakeFD: Int32, timeoutMs: Int32) -> DeviceWait {
            guard silent else { return inner.waitForData(wakeFD: wakeFD, timeoutMs: timeoutMs) }
            var p = pollfd(fd: wakeFD, events: Int16(POLLIN), revents: 0)
            return poll(&p, 1, timeoutMs) > 0 ? .woken : .timedOut
        }
        func close() { inner.close() }
    }

    /// A device slow to start (its first frames 2.5 s after the start, then everything since, as
    /// a sound server's source with a long latency delivers) is not called stalled: before its
    /// first frame a device gets 5 s (at `record`'s 100 ms periods the limit is 1.6 s). Once
    /// running, the limit is the usual one: the same silence later ends capture as stalled.
    @Test func aDeviceSlowToStartIsNotStalledButOneThatStopsIs() throws {
        let request = CaptureRequest(format: format, periodMicros: 100_000)
        let slow = try CaptureEngine(device: SilentSpell(silentFrom: 0, until: 2.5),
                                     configuration: .init(request: request, realtimePriority: nil), sink: MemorySink(format: format))
        try slow.start()
        try waitUntil("slow.framesCaptured >= 48000 * 3", timeout: 10) { slow.framesCaptured >= 48_000 * 3 }
        slow.stop()
        let s = slow.waitUntilFinished()
        #expect(s.endReason == .stopped, "\(s.endReason)")
        #expect(s.framesWritten == s.framesCaptured)

        let stops = try CaptureEngine(device: SilentSpell(silentFrom: 0.5, until: 100),
                                      configuration: .init(request: request, realtimePriority: nil), sink: MemorySink(format: format))
        try stops.start()
        let t = stops.waitUntilFinished()
        guard case .deviceLost(.stalled(_, let seconds)) = t.endReason else {
            Issue.record("\(t.endReason)")
            return
        }
        #expect(seconds >= 1.6 && seconds < 2.5, "stalled after \(seconds) s of silence")
    }

    /// The built-in source delivering in bursts, as a source with a long fixed latency does
    /// (PulseAudio's `module-sine-source`: 2 s at once, then nothing for 2 s): every `every`
    /// seconds, all the audio of the seconds since.
    final class BurstSource: CaptureSource, @unchecked Sendable {
        let inner = BuiltInSource(paced: true)
        let every: Double
        var startedAt: UInt64 = 0
        var delivered = 0
        var rate = 48_000
        init(every: Double) { self.every = every }
        var name: String { "bursts" }
        var displayName: String { name }
        var accessKind: AccessKind { .shared }
        func open(_ r: CaptureRequest) throws(DeviceError) -> GrantedParameters {
            let g = try inner.open(r)
            rate = g.format.sampleRate
            return g
        }
        func start() throws(DeviceError) { startedAt = monotonicNanos(); try inner.start() }
        var elapsed: Double { Double(monotonicNanos() - startedAt) / 1e9 }
        /// Frames released so far: the audio up to the last burst.
        var released: Int { Int((elapsed / every).rounded(.down) * every * Double(rate)) }
        func read(into buffer: UnsafeMutableRawPointer, frames: Int) -> DeviceRead {
            let n = Swift.min(frames, released - delivered)
            guard n > 0 else { return .frames(0) }
            let r = inner.read(into: buffer, frames: n)
            if case .frames(let got) = r { delivered += got }
            return r
        }
        func waitForData(wakeFD: Int32, timeoutMs: Int32) -> DeviceWait {
            if released > delivered { return .ready }
            let next = ((elapsed / every).rounded(.down) + 1) * every
            let ms = Swift.min(Int32(timeoutMs), Int32(((next - elapsed) * 1000).rounded(.up)))
            var p = pollfd(fd: wakeFD, events: Int16(POLLIN), revents: 0)
            if poll(&p, 1, ms) > 0 { return .woken }
            return released > delivered ? .ready : .timedOut
        }
        func close() { inner.close() }
    }

    /// A source that delivers 2 s at once every 2 s is on time, not stalled: the silence is
    /// counted from when the audio delivered runs out. (Counted from the last delivery, the 2 s
    /// after a burst were over the 1.6 s limit: the stream was reopened and the next burst, on
    /// the old stream, lost; the desktop check lost ~1.9 s of `module-sine-source` at each.)
    @Test func aSourceThatDeliversInBurstsIsNotStalled() throws {
        let request = CaptureRequest(format: format, periodMicros: 100_000)
        let sink = MemorySink(format: format)
        let engine = try CaptureEngine(device: BurstSource(every: 2),
                                       configuration: .init(request: request, realtimePriority: nil), sink: sink)
        try engine.start()
        try waitUntil("four bursts captured", timeout: 15) { engine.framesCaptured >= 48_000 * 8 || engine.isFinished }
        engine.stop()
        let s = engine.waitUntilFinished()
        #expect(s.endReason == .stopped, "\(s.endReason)")
        #expect(s.framesCaptured >= 48_000 * 8)
        #expect(sink.bytes == expectedSine(frames: s.framesWritten, format: format), "every frame, in order")
    }

    /// A device that delivers ahead of the clock (an unpaced one, here) builds up no more than
    /// `StallWatch.maxLeadNanos` of lead: when it stops, the stall is still noticed.
    @Test func aSourceAheadOfTheClockThatStopsIsStillNoticed() throws {
        final class Unpaced: CaptureSource, @unchecked Sendable {
            let inner = BuiltInSource(paced: false)
            var reads = 0
            var stoppedAt: UInt64 = 0
            var name: String { "ahead" }
            var displayName: String { name }
            var accessKind: AccessKind { .shared }
            func open(_ r: CaptureRequest) throws(DeviceError) -> GrantedParameters { try inner.open(r) }
            func start() throws(DeviceError) { try inner.start() }
            var stopped: Bool { reads >= 2_000 }
            func read(into buffer: UnsafeMutableRawPointer, frames: Int) -> DeviceRead {
                if stopped { return .frames(0) }
                reads += 1
                if stopped { stoppedAt = monotonicNanos() }
                return inner.read(into: buffer, frames: frames)
            }
            func waitForData(wakeFD: Int32, timeoutMs: Int32) -> DeviceWait {
                guard stopped else { return .ready }
                var p = pollfd(fd: wakeFD, events: Int16(POLLIN), revents: 0)
                return poll(&p, 1, timeoutMs) > 0 ? .woken : .timedOut
            }
            func close() { inner.close() }
        }
        let request = CaptureRequest(format: format, periodMicros: 100_000)
        let device = Unpaced()
        let engine = try CaptureEngine(device: device, configuration: .init(request: request, realtimePriority: nil),
                                       sink: MemorySink(format: format))
        try engine.start()
        let s = engine.waitUntilFinished()
        let took = Double(monotonicNanos() - device.stoppedAt) / 1e9
        guard case .deviceLost(.stalled) = s.endReason else { Issue.record("\(s.endReason)"); return }
        let bound = 4.0 + 1.6 * 1.25 + 1  // StallWatch.maxLeadNanos, the limit and a poll, and slack
        #expect(took < bound, "stall noticed \(took) s after the device stopped (bound \(bound) s)")
    }

    @Test func overrunsAreCountedAndTimestamped() throws {
        let dev = ScriptedSource(paced: false, overrunEvery: 10)
        let engine = try CaptureEngine(device: dev, configuration: .init(request: CaptureRequest(format: format, periodMicros: 10_000, bufferMicros: 40_000),
                                                                         realtimePriority: nil, maxFrames: 96_000))
        try engine.start()
        let s = engine.waitUntilFinished()
        #expect(s.xruns > 0)
        #expect(s.xruns == engine.recentXruns.count)
        let frames = engine.recentXruns.map(\.atFrame)
        #expect(frames == frames.sorted())
        #expect(s.framesCaptured == 96_000)
    }

    @Test func deviceLossEndsCaptureAndKeepsEverythingCaptured() throws {
        let dev = ScriptedSource(paced: false, loseAfterFrames: 10_000)
        let sink = MemorySink(format: format)
        let engine = try CaptureEngine(device: dev, configuration: .init(request: CaptureRequest(format: format), realtimePriority: nil),
                                       sink: sink)
        try engine.start()
        let s = engine.waitUntilFinished()
        guard case .deviceLost(.lost) = s.endReason else { Issue.record("end: \(s.endReason)"); return }
        #expect(s.framesCaptured >= 10_000)
        #expect(sink.framesWritten == s.framesCaptured)
        #expect(sink.finished == 1)
    }

    @Test func writeFailureStopsCaptureAndReports() throws {
        let sink = MemorySink(format: format)
        sink.failAfterFrames = 20_000
        let engine = try CaptureEngine(device: BuiltInSource(paced: false),
                                       configuration: .init(request: CaptureRequest(format: format), realtimePriority: nil),
                                       sink: sink)
        try engine.start()
        let s = engine.waitUntilFinished()
        #expect(s.endReason == .writeFailed(.diskFull(path: "memory", framesSaved: sink.framesWritten)))
        #expect(sink.finished == 1)
    }

    @Test func realtimeStatusIsReportedEitherWay() throws {
        let engine = try CaptureEngine(device: BuiltInSource(paced: false),
                                       configuration: .init(request: CaptureRequest(format: format), realtimePriority: 10, maxFrames: 4800))
        try engine.start()
        let status = engine.realtimeStatus
        _ = engine.waitUntilFinished()
        switch status {
        case .realtime(let p): #expect(p == 10)
        case .normal(let reason): #expect(!reason.isEmpty)
        case .notStarted: Issue.record("status not set after start")
        }
        let off = try CaptureEngine(device: BuiltInSource(paced: false),
                                    configuration: .init(request: CaptureRequest(format: format), realtimePriority: nil, maxFrames: 4800))
        try off.start()
        #expect(off.realtimeStatus == .normal(reason: "real-time not requested"))
        _ = off.waitUntilFinished()
    }

    /// The capture thread makes no heap allocation after start, over thousands of periods.
    @Test(.enabled(if: CAllocCounter_isActive() != 0, "the allocation counter is off in this build (sanitizer builds compile it with CAPDECK_NO_ALLOC_COUNTER)"))
    func captureThreadDoesNotAllocate() throws {
        #expect(CAllocCounter_totalCount() > 0, "the allocation counter is not interposed")
        let sink = MemorySink(format: format)
        sink.bytes.reserveCapacity(0)
        // Unpaced with a small ring and period: the loop runs through full-ring waits, wake-ups,
        // reads and commits many thousands of times.
        let engine = try CaptureEngine(
            device: BuiltInSource(paced: false),
            configuration: .init(request: CaptureRequest(format: format, periodMicros: 2_000, bufferMicros: 4_000),
                                 realtimePriority: nil, maxFrames: nil, ringSeconds: 0.05))
        try engine.start()
        let tid = engine.captureThreadID
        #expect(tid > 0)
        try waitUntil("engine.framesCaptured >= 48_000") { engine.framesCaptured >= 48_000 }  // warm-up
        try #require(CAllocCounter_watch(tid) == 1, "a free watch slot")
        defer { CAllocCounter_unwatch(tid) }
        let from = engine.framesCaptured
        try waitUntil("engine.framesCaptured - from >= 96 * 5_000") { engine.framesCaptured - from >= 96 * 5_000 }  // ≥ 5,000 periods of 96 frames
        let allocations = CAllocCounter_count(tid)
        let sites = allocationSites(Int(clamping: allocations), thread: tid)
        CAllocCounter_unwatch(tid)
        engine.stop()
        _ = engine.waitUntilFinished()
        #expect(allocations == 0, "allocated from: \(sites)")
    }
}

/// The built-in source grants the buffer asked for, as an ALSA PCM does: `-F 100000 -B 200000`
/// reported "buffer 400.0 ms" (it took at least four periods whatever was asked).
@Suite struct BuiltInGrantTests {
    @Test func theBufferAskedForIsGranted() throws {
        let format = StreamFormat(sampleFormat: .s16LE, sampleRate: 48_000, channels: 2)
        let d = BuiltInSource(paced: true)
        #expect(try d.open(CaptureRequest(format: format, periodMicros: 100_000, bufferMicros: 200_000)).bufferFrames == 9_600)
        #expect(try d.open(CaptureRequest(format: format, periodMicros: 100_000, bufferMicros: 1_000_000)).bufferFrames == 48_000)
        // Less than two periods can't be: two, as ALSA rounds it; none asked for: four.
        #expect(try d.open(CaptureRequest(format: format, periodMicros: 100_000, bufferMicros: 50_000)).bufferFrames == 9_600)
        #expect(try d.open(CaptureRequest(format: format, periodMicros: 100_000)).bufferFrames == 19_200)
    }
}

/// capdeck-bench's hardware-like source: a reader late by more than the buffer gets one overrun
/// and loses what the ring held, as from ALSA; the default source never loses anything.
@Suite struct HardwareModelTests {
    @Test func aLateReaderLosesTheOverflowAndGetsAnOverrun() throws {
        let format = StreamFormat(sampleFormat: .s16LE, sampleRate: 48_000, channels: 1)
        for models in [true, false] {
            let d = BuiltInSource(paced: true, modelsOverruns: models)
            let g = try d.open(CaptureRequest(format: format, periodMicros: 5000, bufferMicros: 20_000))
            #expect(g.bufferFrames == 960)
            try d.start()
            usleep(60_000)  // 60 ms unread: 40 ms past the 20 ms ring
            var buffer = [Int16](repeating: 0, count: 48_000)
            let first = buffer.withUnsafeMutableBytes { d.read(into: $0.baseAddress!, frames: 48_000) }
            if models {
                #expect(first == .overrun)
                #expect(d.droppedFrames >= 48 * 60 && d.droppedFrames < 48 * 120, "all 60 ms: \(d.droppedFrames)")
                let next = buffer.withUnsafeMutableBytes { d.read(into: $0.baseAddress!, frames: 48_000) }
                #expect(next == .frames(0), "the stream restarted empty: \(next)")
            } else {
                guard case .frames(let n) = first else { Issue.record("\(first)"); continue }
                #expect(n >= 48 * 60 - g.periodFrames && d.droppedFrames == 0, "nothing lost: \(n) frames")
            }
            d.close()
        }
    }
}
