// The loudness output on a real session: a scripted 1 kHz sine at -12 dBFS reads -12 LUFS
// (M, S, I) and -12 dBTP, measured on the writer queue while the capture thread allocates
// nothing; reset starts it afresh; the reading stays after the session stops.
@testable import CaptureDeck
import CAllocCounter
import CaptureCore
import CaptureTestSupport
import Glibc
import Testing

@Suite(.serialized) struct LoudnessOutputTests {
    func session(paced: Bool) -> (CaptureSession, CaptureLoudnessOutput) {
        let s = CaptureSession()
        s.realtimePriority = nil
        s.addInput(CaptureDeviceInput(name: "tone", routes: InputRoutes(exclusive: "tone", shared: "tone"), format: liveFormat) { route in
            ScriptedSource(signal: .sine(frequency: 1000, level: -12), paced: paced, name: route.pcm)
        })
        let loudness = CaptureLoudnessOutput()
        loudness.prepare(format: liveFormat)
        s.addOutput(loudness)
        return (s, loudness)
    }

    @Test func aKnownToneReadsItsLoudnessAndTheCaptureThreadAllocatesNothing() throws {
        let (session, loudness) = session(paced: true)
        session.startRunning()
        defer { session.stopRunning() }
        let engine = try #require(session.engine)
        try waitUntil("a second captured") { engine.framesCaptured >= 48_000 }
        let watching = CAllocCounter_isActive() != 0
        if watching { try #require(CAllocCounter_watch(engine.captureThreadID) == 1, "a free watch slot") }
        defer { CAllocCounter_unwatch(engine.captureThreadID) }
        try waitUntil("3.5 s measured", timeout: 15) { (loudness.reading?.frames ?? 0) >= 48_000 * 35 / 10 }
        let allocations = watching ? CAllocCounter_count(engine.captureThreadID) : 0
        CAllocCounter_unwatch(engine.captureThreadID)
        let r = try #require(loudness.reading)
        for (name, v) in [("M", r.momentary), ("S", r.shortTerm), ("I", r.integrated)] {
            #expect(abs((v ?? 0) + 12) <= 0.1, "\(name): \(r)")
        }
        #expect(r.truePeak.count == 2 && r.truePeak.allSatisfy { ($0 ?? 0) >= -12.4 && ($0 ?? 0) <= -11.8 }, "\(r)")
        if watching { #expect(allocations == 0, "capture thread allocated \(allocations) times with loudness metering on") }
        // Reset: nothing until the next publication, then a fresh integration (fewer frames).
        let before = r.frames
        loudness.reset()
        #expect(loudness.reading == nil)
        try waitUntil("a reading after the reset") { loudness.reading != nil }
        #expect((loudness.reading?.frames ?? .max) < before)
        session.stopRunning()
        // Stopped: the last figures stay.
        #expect(loudness.reading != nil && loudness.error == nil)
    }

    @Test func moreChannelsThanLibebur128TakesIsAnErrorNotATrap() {
        let loudness = CaptureLoudnessOutput()
        loudness.prepare(format: StreamFormat(sampleFormat: .s16LE, sampleRate: 48_000, channels: 65))
        #expect(loudness.error == .unsupported(channels: 65, sampleRate: 48_000))
        let frames = [Int16](repeating: 1000, count: 65 * 480)
        frames.withUnsafeBytes { loudness.receive($0.baseAddress!, count: 480, format: StreamFormat(sampleFormat: .s16LE, sampleRate: 48_000, channels: 65)) }
        #expect(loudness.reading == nil)
    }
}
