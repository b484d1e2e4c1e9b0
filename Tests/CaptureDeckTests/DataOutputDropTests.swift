// The data output under a client whose queue is blocked, as Apple's data outputs behave: a
// bounded number of buffers in flight, the rest dropped and counted, the gap visible in the
// stream positions, host times on the capture clock, and no handler call after stopRunning or
// after the handler is removed. Every buffer is compared with the built-in source's samples.
@testable import CaptureDeck
import CaptureCore
import CaptureTestSupport
import Dispatch
import Foundation
import Glibc
import Synchronization
import Testing

@Suite(.serialized) struct DataOutputDropTests {
    static let pink = TestSignal.pink(level: -18)

    func session() -> (CaptureSession, CaptureAudioDataOutput) {
        let s = CaptureSession()
        s.realtimePriority = nil
        s.addInput(CaptureDeviceInput(name: "pink", routes: InputRoutes(exclusive: "pink", shared: "pink"), format: liveFormat) { route in
            ScriptedSource(signal: Self.pink, name: route.pcm)
        })
        let data = CaptureAudioDataOutput()
        s.addOutput(data)
        return (s, data)
    }

    /// The handler blocks for about a second on its first buffer. Meanwhile at most
    /// max(2 buffers, 150 ms of audio) wait; every later buffer is dropped and counted. After
    /// it: the positions show exactly the dropped frames as gaps, each buffer's host time is the
    /// run's start plus its position at 48 kHz (so consecutive ones are continuous), and every
    /// buffer holds the source's own samples at its position.
    @Test func aBlockedClientQueueDropsLateBuffersBoundedAndCounted() throws {
        let (session, data) = session()
        let gate = DispatchSemaphore(value: 0)
        let buffers = BufferLog()
        let first = Atomic<Bool>(true)
        let client = DispatchQueue(label: "client")
        data.setSampleBufferHandler(queue: client) { b in
            buffers.add(b)
            if first.exchange(false, ordering: .relaxed) { gate.wait() }
        }
        let beforeStart = monotonicNanos()
        session.startRunning()
        try waitUntil("the first buffer in the handler") { buffers.count == 1 }
        try waitUntil("buffers dropped") { data.droppedBufferCount > 0 }
        usleep(300_000)
        let inFlight = data.deliveredBufferCount
        let droppedMid = data.droppedBufferCount
        usleep(700_000)
        #expect(data.deliveredBufferCount == inFlight, "nothing more admitted while the client is blocked")
        #expect(data.droppedBufferCount > droppedMid, "still dropping, not queueing")
        gate.signal()
        let resumedAt = session.framesCaptured
        try waitUntil("buffers again after the gap") { buffers.buffers.last.map { $0.startFrame > resumedAt } ?? false }
        session.stopRunning()
        let all = buffers.buffers
        // The bound: what was admitted while blocked (the blocked buffer included).
        let admitted = all.prefix(inFlight)
        let admittedFrames = admitted.reduce(0) { $0 + $1.frameCount }
        #expect(inFlight >= CaptureAudioDataOutput.minimumInFlightBuffers)
        #expect(inFlight == CaptureAudioDataOutput.minimumInFlightBuffers || admittedFrames <= 7200,
                "\(inFlight) buffers of \(admittedFrames) frames in flight")
        // Every frame is delivered or counted dropped; the gaps are exactly the dropped frames.
        var next = 0, gaps = 0, gapCount = 0
        for b in all {
            #expect(b.startFrame >= next)
            if b.startFrame > next { gaps += b.startFrame - next; gapCount += 1 }
            next = b.startFrame + b.frameCount
        }
        #expect(all.first?.startFrame == 0)
        #expect(gapCount >= 1 && gaps > 48_000 / 2, "the blocked second shows as a gap of \(gaps) frames")
        #expect(gaps == data.droppedFrameCount, "gaps \(gaps), dropped \(data.droppedFrameCount)")
        // Host times: the run's start plus the position at the rate, to the nanosecond.
        let base = try #require(all.first).hostTimeNanos
        #expect(base >= beforeStart && base <= monotonicNanos())
        for b in all {
            let f = UInt64(b.startFrame)
            #expect(b.hostTimeNanos == base + f / 48_000 * 1_000_000_000 + f % 48_000 * 1_000_000_000 / 48_000)
        }
        // The samples: each buffer is the source at its position.
        let ref = reference(Self.pink, frames: next)
        var wrong = 0
        for b in all {
            let s = b.bytes.withUnsafeBytes { Array($0.bindMemory(to: Int16.self)) }
            if firstDifference(s[...], ref[(2 * b.startFrame)..<(2 * (b.startFrame + b.frameCount))]) != nil { wrong += 1 }
        }
        #expect(wrong == 0, "\(wrong) buffers differ from the source at their positions")
    }

    /// Stopped while the handler is blocked with buffers queued behind it: once stopRunning
    /// returns no handler call starts (the queued buffers are dropped); the blocked call finishes.
    /// Then the same with the handler set to nil.
    @Test(arguments: ["stopRunning", "handler nil"])
    func noHandlerCallStartsAfterStopOrClear(_ how: String) throws {
        let (session, data) = session()
        let gate = DispatchSemaphore(value: 0)
        let buffers = BufferLog()
        let blocked = Atomic<Bool>(false)
        data.setSampleBufferHandler(queue: DispatchQueue(label: "client")) { b in
            buffers.add(b)
            if b.startFrame >= 4800 && !blocked.exchange(true, ordering: .relaxed) { gate.wait() }
        }
        session.startRunning()
        try waitUntil("the handler blocked, with buffers queued") { blocked.load(ordering: .relaxed) && data.deliveredBufferCount >= buffers.count + 1 }
        if how == "stopRunning" {
            session.stopRunning()
        } else {
            data.setSampleBufferHandler(queue: DispatchQueue(label: "other"), nil)
        }
        buffers.cutoff.store(true, ordering: .sequentiallyConsistent)
        gate.signal()
        usleep(200_000)
        session.stopRunning()
        #expect(buffers.lateCalls == 0, "\(buffers.lateCalls) handler calls started after \(how)")
        #expect(data.deliveredBufferCount > buffers.count, "buffers were queued, and dropped")
    }
}
