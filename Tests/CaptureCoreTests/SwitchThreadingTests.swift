// Who opens, closes and frees devices during a switch, and what a failed close-first switch
// leaves behind (issue 10, items 3, 7 and 8). Two views of one card (like hw:0 and dsnoop:0) are
// modelled by `Card`: while one view holds it, opening the other is EBUSY.
import CaptureCore
import CaptureTestSupport
import Foundation
import Glibc
import Synchronization
import Testing

@Suite struct SwitchThreadingTests {
    let format = StreamFormat(sampleFormat: .s16LE, sampleRate: 48000, channels: 2)

    /// Item 3: the new view opens (after the old one closed), then fails to start. It must be
    /// closed, the old view reopened, capture must go on, and the gap must be reported.
    @Test func failedCloseFirstSwitchClosesTheNewDeviceAndGoesBackToTheOld() throws {
        let card = Card(), log = ThreadLog()
        let shared = ScriptedSource(signal: .sine(frequency: 440, level: -12), name: "dsnoop:9", card: card, log: log)
        let sink = MemorySink(format: format)
        let engine = try CaptureEngine(device: shared, configuration: .init(request: CaptureRequest(format: format), realtimePriority: nil), sink: sink)
        try engine.start()
        try waitUntil("capture") { engine.framesCaptured >= 4800 }
        let exclusive = ScriptedSource(signal: .sine(frequency: 1000, level: -12), name: "hw:9", card: card, log: log)
        exclusive.failStart.store(true, ordering: .relaxed)
        #expect(throws: DeviceError.self) { try engine.switchDevice(to: exclusive) }
        #expect(engine.isCapturing, "capture must go on from the old device")
        #expect(engine.device.name == "dsnoop:9")
        let gap = try #require(engine.lastFailedSwitchGap, "the failed close-first switch cost a gap: it must be reported")
        #expect(gap.device == "dsnoop:9")
        let at = engine.framesCaptured
        try waitUntil("capture after the failed switch") { engine.framesCaptured >= at + 4800 }
        engine.stop()
        let s = engine.waitUntilFinished()
        #expect(s.endReason == .stopped)
        // Every open of the failed view was closed again.
        let opens = log.all.filter { $0.0 == "opened hw:9" }.count
        let closes = log.all.filter { $0.0 == "close hw:9" }.count
        #expect(opens >= 1 && closes >= opens, "hw:9 opened \(opens)×, closed \(closes)×: \(log.all.map(\.0))")
        #expect(!card.isHeld, "the card is still held after the run: \(log.all.map(\.0))")
    }

    /// Item 3: when even the old view can't be reopened, capture ends with that error (so the
    /// session reconnects), not as a plain stop.
    @Test func closeFirstSwitchThatCannotGoBackEndsWithTheError() throws {
        let card = Card(), log = ThreadLog()
        let shared = ScriptedSource(signal: .sine(frequency: 440, level: -12), name: "dsnoop:9", card: card, log: log)
        let engine = try CaptureEngine(device: shared, configuration: .init(request: CaptureRequest(format: format), realtimePriority: nil))
        try engine.start()
        try waitUntil("capture") { engine.framesCaptured >= 4800 }
        let exclusive = ScriptedSource(signal: .sine(frequency: 1000, level: -12), name: "hw:9", card: card, log: log)
        exclusive.failStart.store(true, ordering: .relaxed)
        shared.failOpens.store(true, ordering: .relaxed)
        _ = try? engine.switchDevice(to: exclusive)
        let s = engine.waitUntilFinished()
        guard case .deviceLost = s.endReason else {
            Issue.record("capture ended as '\(s.endReason)', not with the device error")
            return
        }
        #expect(!card.isHeld)
    }

    /// Items 7 and 8: with the capture thread at SCHED_FIFO, no device of a switch is opened,
    /// closed or freed at real-time priority (helper threads a device starts at open inherit
    /// the opener's policy).
    @Test func switchesOpenCloseAndReleaseDevicesOffTheRealtimeThread() throws {
        let card = Card(), log = ThreadLog()
        var shared: ScriptedSource? = ScriptedSource(signal: .sine(frequency: 440, level: -12), name: "dsnoop:9", card: card, log: log)
        let engine = try CaptureEngine(device: shared!, configuration: .init(request: CaptureRequest(format: format), realtimePriority: 70))
        shared = nil
        try engine.start()
        guard case .realtime = engine.realtimeStatus else {
            // Without CAP_SYS_NICE there is no SCHED_FIFO to inherit; nothing to prove here.
            engine.stop(); _ = engine.waitUntilFinished()
            return
        }
        try waitUntil("capture") { engine.framesCaptured >= 4800 }
        // Close first (same card), then back (same card again), then a failed close-first.
        var exclusive: ScriptedSource? = ScriptedSource(signal: .sine(frequency: 1000, level: -12), name: "hw:9", card: card, log: log)
        _ = try engine.switchDevice(to: exclusive!)
        exclusive = nil
        var back: ScriptedSource? = ScriptedSource(signal: .sine(frequency: 440, level: -12), name: "dsnoop:9b", card: card, log: log)
        _ = try engine.switchDevice(to: back!)
        back = nil
        #expect(log.atRealtime.isEmpty, "at SCHED_FIFO after two switches: \(log.atRealtime)")
        let failing = ScriptedSource(signal: .sine(frequency: 1000, level: -12), name: "hw:9b", card: card, log: log)
        failing.failStart.store(true, ordering: .relaxed)
        _ = try? engine.switchDevice(to: failing)
        try waitUntil("capture after the switches") { engine.isCapturing && engine.framesCaptured >= 24_000 }
        engine.stop()
        _ = engine.waitUntilFinished()
        #expect(log.all.contains { $0.0 == "release hw:9" }, "\(log.all.map(\.0))")
        #expect(log.atRealtime.isEmpty, "at SCHED_FIFO: \(log.atRealtime)")
    }
}
