// Inputs and outputs changed while the session runs, as Apple allows: a file output added to a
// running session records exactly the source's frames from the next batch on; a removed output
// gets nothing once removeOutput returns; an input replaced in a batch keeps one continuous file
// (or, in another format, restarts with the file rules); removing the only input keeps the
// session running. Sample-exact against the built-in source's generator.
@testable import CaptureDeck
import CaptureCore
import CaptureTestSupport
import Dispatch
import Foundation
import Synchronization
import Testing

/// A receiver that notes every `receive` and whether it came after the test's cutoff.
final class CountingReceiver: StreamReceiver, Sendable {
    let cutoff = Atomic<Bool>(false)
    let frames = Atomic<Int>(0)
    let lateCalls = Atomic<Int>(0)
    let stops = Atomic<Int>(0)
    func receive(_ frames: UnsafeRawPointer, count: Int, format: StreamFormat) {
        if cutoff.load(ordering: .sequentiallyConsistent) { lateCalls.add(1, ordering: .relaxed) }
        self.frames.add(count, ordering: .relaxed)
    }
    func sessionDidStop() { stops.add(1, ordering: .relaxed) }
}

@Suite(.serialized) struct LiveChangesTests {
    static let pink = TestSignal.pink(level: -18)
    static let sweep = TestSignal.sweep(level: -12)

    /// An input whose routes are all `pcm`, opened as a paced built-in source of `signal`.
    func input(_ pcm: String, _ signal: TestSignal, format: StreamFormat = liveFormat) -> CaptureDeviceInput {
        CaptureDeviceInput(name: pcm, routes: InputRoutes(exclusive: pcm, shared: pcm), format: format) { route in
            ScriptedSource(signal: signal, name: route.pcm)
        }
    }

    func session(_ input: CaptureDeviceInput) -> (CaptureSession, EventLog) {
        let s = CaptureSession()
        s.realtimePriority = nil
        s.addInput(input)
        let log = EventLog()
        s.onEvent { log.append($0) }
        return (s, log)
    }

    func errors(_ log: EventLog) -> [CaptureSessionEvent] {
        log.events.filter { if case .runtimeError = $0 { true } else { false } }
    }

    /// Added 200 ms into a run, in another format than the session's: the file is in the
    /// session's format and holds exactly the source's frames from one point on, to the end.
    @Test func fileOutputAddedWhileRunningRecordsTheSourceFromTheNextBatch() throws {
        let dir = try tempDir("live-add")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let (session, log) = session(input("a:pink", Self.pink))
        // A file recording from the start shows where the writer is: the new output joins the
        // writer's stream (which may lag the capture thread's count under load), not the
        // capture thread's.
        let whole = CaptureAudioFileOutput(format: liveFormat)
        session.addOutput(whole)
        try whole.startRecording(to: dir + "/whole.wav", fileType: .wav)
        session.startRunning()
        try waitUntil("200 ms captured") { session.framesCaptured >= 9600 }
        let out = CaptureAudioFileOutput(format: StreamFormat(sampleFormat: .s16LE, sampleRate: 44_100, channels: 1))
        try out.startRecording(to: dir + "/late.wav", fileType: .wav)
        let before = whole.recordedFrames
        session.addOutput(out)
        let after = session.framesCaptured
        try waitUntil("300 ms recorded") { out.recordedFrames >= 14_400 }
        let saved = try #require(try out.stopRecording())
        try whole.stopRecording()
        let total = session.framesCaptured
        session.stopRunning()
        #expect(errors(log).isEmpty, "\(log.events)")
        let file = try #require(ReadBack.read(dir + "/late.wav"))
        #expect(file.sampleRate == 48_000 && file.channels == 2, "the session's format, not the output's")
        #expect(file.frames == saved.frames && saved.frames >= 14_400)
        let ref = reference(Self.pink, frames: total + 4800)
        let k = try #require(offset(of: file.samples, in: ref), "the file is one stretch of the source")
        #expect(k >= before && k <= after + 4800, "joined at stream frame \(k): added between the writer at \(before) and the capture at \(after)")
    }

    /// A file output, a data output and another stream receiver removed while running: once
    /// removeOutput returns, none of them gets anything (the file's position doesn't move, no
    /// handler call starts, no receive is made), and the session runs on. The file holds
    /// exactly the source's frames 0..<n.
    @Test func removedOutputsGetNothingAfterRemoval() throws {
        let dir = try tempDir("live-remove")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let (session, log) = session(input("a:pink", Self.pink))
        let file = CaptureAudioFileOutput(format: liveFormat)
        try file.startRecording(to: dir + "/take.wav", fileType: .wav)
        let data = CaptureAudioDataOutput()
        let client = DispatchQueue(label: "client")
        let buffers = BufferLog()
        data.setSampleBufferHandler(queue: client) { buffers.add($0) }
        let receiver = CountingReceiver()
        for o in [file, data, receiver] as [any CaptureOutput] { session.addOutput(o) }
        session.startRunning()
        try waitUntil("300 ms captured") { session.framesCaptured >= 14_400 && receiver.frames.load(ordering: .relaxed) > 0 }
        session.removeOutput(receiver)
        receiver.cutoff.store(true, ordering: .sequentiallyConsistent)
        session.removeOutput(file)
        let filePosition = file.framesWritten
        session.removeOutput(data)
        // A call that had passed the gate before the removal may finish; none starts after it.
        client.sync { buffers.cutoff.store(true, ordering: .sequentiallyConsistent) }
        let atRemoval = session.framesCaptured
        try waitUntil("200 ms more captured") { session.framesCaptured >= atRemoval + 9600 }
        #expect(session.isRunning)
        #expect(receiver.lateCalls.load(ordering: .relaxed) == 0, "receive after removeOutput returned")
        #expect(receiver.stops.load(ordering: .relaxed) >= 1, "the receiver heard that nothing more arrives")
        #expect(file.framesWritten == filePosition, "the file output got frames after its removal")
        #expect(buffers.lateCalls == 0, "\(buffers.lateCalls) handler calls after removeOutput returned")
        let saved = try #require(try file.stopRecording())
        session.stopRunning()
        #expect(errors(log).isEmpty, "\(log.events)")
        #expect(saved.frames == filePosition && saved.frames >= 9600, "\(saved.frames) frames")
        let back = try #require(ReadBack.read(dir + "/take.wav"))
        let ref = reference(Self.pink, frames: saved.frames)
        #expect(firstDifference(back.samples[...], ref[...]) == nil, "the file is the source's frames 0..<\(saved.frames)")
        // The data output saw one unbroken stretch from frame 0 (a fast client drops nothing).
        var next = 0
        for b in buffers.buffers {
            #expect(b.startFrame == next)
            next = b.startFrame + b.frameCount
        }
        #expect(data.droppedBufferCount == 0 && next > 0)
    }

    /// Added and removed 30 times while running, each time with a client queue: never a handler
    /// call after a removal returns.
    @Test func dataOutputAddedAndRemovedRepeatedly() throws {
        let (session, _) = session(input("a:pink", Self.pink))
        session.startRunning()
        defer { session.stopRunning() }
        var late = 0, received = 0
        for _ in 0..<30 {
            let data = CaptureAudioDataOutput()
            let client = DispatchQueue(label: "client")
            let buffers = BufferLog()
            data.setSampleBufferHandler(queue: client) { buffers.add($0) }
            session.addOutput(data)
            usleep(15_000)
            session.removeOutput(data)
            client.sync { buffers.cutoff.store(true, ordering: .sequentiallyConsistent) }
            usleep(15_000)
            late += buffers.lateCalls
            received += buffers.count
        }
        #expect(late == 0)
        #expect(received > 0)
    }

    /// removeInput/addInput in a batch while recording, same format: the engine switches device
    /// as for a route change, and the one file holds the old source's frames then the new one's,
    /// each from its own first frame, with nothing lost or added at the join.
    @Test func inputSwappedWhileRunningKeepsOneContinuousFile() throws {
        let dir = try tempDir("live-swap")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let a = input("a:pink", Self.pink), b = input("b:sweep", Self.sweep)
        let (session, log) = session(a)
        let out = CaptureAudioFileOutput(format: liveFormat)
        session.addOutput(out)
        try out.startRecording(to: dir + "/take.wav", fileType: .wav)
        session.startRunning()
        try waitUntil("300 ms captured") { session.framesCaptured >= 14_400 }
        session.beginConfiguration()
        session.removeInput(a)
        session.addInput(b)
        session.commitConfiguration()
        #expect(session.inputs.first === b)
        let at = session.framesCaptured
        try waitUntil("300 ms more") { session.framesCaptured >= at + 14_400 }
        session.stopRunning()
        let saved = try #require(try out.stopRecording())
        #expect(errors(log).isEmpty, "\(log.events)")
        let change = try #require(log.events.compactMap { e -> RouteChange? in if case .routeChanged(let c) = e { c } else { nil } }.first)
        #expect(change.old?.pcm == "a:pink" && change.new.pcm == "b:sweep" && change.gapFrames == 0, "\(change)")
        #expect(log.events.filter { $0 == .didStopRunning }.count == 1, "running throughout: \(log.events)")
        let back = try #require(ReadBack.read(dir + "/take.wav"))
        #expect(back.frames == saved.frames)
        let j = change.atFrame
        let old = reference(Self.pink, frames: j), new = reference(Self.sweep, frames: saved.frames - j)
        #expect(j > 0 && j < saved.frames)
        #expect(firstDifference(back.samples[0..<(2 * j)], old[...]) == nil, "frames before the swap are a's 0..<\(j)")
        #expect(firstDifference(back.samples[(2 * j)...], new[...]) == nil, "frames from \(j) on are b's from its first")
    }

    /// Swapped for an input in another format: the old capture stops and a new one starts in
    /// the new format, still running (no didStopRunning); the file holding 48 kHz stereo frames
    /// stops with formatMismatch, intact; a data output's buffers switch format, their stream
    /// positions running on without a gap, their host times a later run's.
    @Test func inputInAnotherFormatRestartsAndTheFileRulesApply() throws {
        let dir = try tempDir("live-format")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let mono = StreamFormat(sampleFormat: .s16LE, sampleRate: 44_100, channels: 1)
        let a = input("a:pink", Self.pink), b = input("b:sweep", Self.sweep, format: mono)
        let (session, log) = session(a)
        let out = CaptureAudioFileOutput(format: liveFormat)
        let data = CaptureAudioDataOutput()
        let buffers = BufferLog()
        data.setSampleBufferHandler(queue: DispatchQueue(label: "client")) { buffers.add($0) }
        session.addOutput(out)
        session.addOutput(data)
        try out.startRecording(to: dir + "/take.wav", fileType: .wav)
        session.startRunning()
        try waitUntil("200 ms captured") { session.framesCaptured >= 9600 }
        session.beginConfiguration()
        session.removeInput(a)
        session.addInput(b)
        session.commitConfiguration()
        #expect(session.isRunning)
        try waitUntil("buffers in the new format") { buffers.buffers.contains { $0.format == mono } }
        session.stopRunning()
        let change = try #require(log.events.compactMap { e -> RouteChange? in if case .routeChanged(let c) = e { c } else { nil } }.first)
        #expect(change.old?.pcm == "a:pink" && change.new.pcm == "b:sweep" && change.granted.format == mono, "\(change)")
        #expect(log.events.filter { $0 == .didStopRunning }.count == 1, "\(log.events)")
        let mismatch = try #require(log.events.compactMap { e -> RecordingError? in
            if case .runtimeError(.recording(let r)) = e { r } else { nil }
        }.first, "\(log.events)")
        guard case .formatMismatch(_, _, _, let framesSaved) = mismatch else { Issue.record("\(mismatch)"); return }
        #expect(try out.stopRecording() == nil, "the recording stopped")
        #expect(framesSaved == change.atFrame, "every frame of the first run, and none after")
        let back = try #require(ReadBack.read(dir + "/take.wav"))
        #expect(back.sampleRate == 48_000 && back.frames == framesSaved)
        #expect(firstDifference(back.samples[...], reference(Self.pink, frames: framesSaved)[...]) == nil)
        let all = buffers.buffers
        let firstNew = try #require(all.firstIndex { $0.format == mono })
        #expect(firstNew > 0 && all[firstNew].startFrame == change.atFrame)
        let last = all[firstNew - 1]
        #expect(last.startFrame + last.frameCount == all[firstNew].startFrame, "positions run on")
        let lastEnd = last.hostTimeNanos + UInt64(last.frameCount) * 1_000_000_000 / 48_000
        #expect(all[firstNew].hostTimeNanos >= lastEnd, "the new run starts after the old one ended")
        // The new run's buffers are the new source from its first frame.
        let newSamples = all[firstNew...].filter { $0.format == mono }.flatMap { b in
            b.bytes.withUnsafeBytes { Array($0.bindMemory(to: Int16.self)) }
        }
        #expect(firstDifference(newSamples[...], reference(Self.sweep, frames: newSamples.count, format: mono)[...], channels: 1) == nil)
    }

    /// The only input removed while running: still running (no didStopRunning), nothing
    /// delivered; an input added later is captured into the same file, the stream positions
    /// carrying on. The file is a's frames then b's, exactly.
    @Test func removingTheOnlyInputKeepsTheSessionRunningUntilOneIsAdded() throws {
        let dir = try tempDir("live-noinput")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let a = input("a:pink", Self.pink), b = input("b:sweep", Self.sweep)
        let (session, log) = session(a)
        let out = CaptureAudioFileOutput(format: liveFormat)
        let data = CaptureAudioDataOutput()
        let buffers = BufferLog()
        data.setSampleBufferHandler(queue: DispatchQueue(label: "client")) { buffers.add($0) }
        session.addOutput(out)
        session.addOutput(data)
        try out.startRecording(to: dir + "/take.wav", fileType: .wav)
        session.startRunning()
        try waitUntil("200 ms captured") { session.framesCaptured >= 9600 }
        session.removeInput(a)
        #expect(session.isRunning && session.inputs.isEmpty && session.currentRoute == nil)
        let removedAt = session.framesCaptured
        let filePosition = out.framesWritten
        usleep(200_000)
        #expect(session.framesCaptured == removedAt && out.framesWritten == filePosition, "nothing captured without input")
        #expect(!log.events.contains(.didStopRunning), "\(log.events)")
        session.startRunning()  // already running: nothing to do, no error
        session.addInput(b)
        #expect(session.currentRoute?.pcm == "b:sweep")
        try waitUntil("200 ms more") { session.framesCaptured >= removedAt + 9600 }
        session.stopRunning()
        let saved = try #require(try out.stopRecording())
        #expect(errors(log).isEmpty, "\(log.events)")
        #expect(log.events.filter { $0 == .didStopRunning }.count == 1)
        let change = try #require(log.events.compactMap { e -> RouteChange? in if case .routeChanged(let c) = e { c } else { nil } }.first)
        #expect(change.old == nil && change.new.pcm == "b:sweep" && change.atFrame == removedAt, "\(change)")
        let back = try #require(ReadBack.read(dir + "/take.wav"))
        #expect(back.frames == saved.frames)
        #expect(firstDifference(back.samples[0..<(2 * removedAt)], reference(Self.pink, frames: removedAt)[...]) == nil)
        #expect(firstDifference(back.samples[(2 * removedAt)...], reference(Self.sweep, frames: saved.frames - removedAt)[...]) == nil)
        // The data output: one unbroken run of positions across the time without input.
        var next = 0
        for buf in buffers.buffers {
            #expect(buf.startFrame == next)
            next = buf.startFrame + buf.frameCount
        }
        #expect(next > removedAt && buffers.buffers.contains { $0.startFrame == removedAt })
    }

    /// Waiting for a lost device when its input is removed: the interruption ends and the retry
    /// timer stops; the session isn't running. An input added later starts it, announced.
    @Test func removingTheInputOfAnInterruptedSessionEndsTheWait() throws {
        let clock = ManualRetryClock()
        let session = CaptureSession(applicationAudioSession: ApplicationAudioSession(), retryClock: clock)
        session.realtimePriority = nil
        let lost = CaptureDeviceInput(name: "a", routes: InputRoutes(exclusive: "a", shared: "a"), format: liveFormat) { route in
            ScriptedSource(signal: Self.pink, name: route.pcm, loseAfterFrames: 4800)
        }
        session.addInput(lost)
        let log = EventLog()
        session.onEvent { log.append($0) }
        session.startRunning()
        try waitUntil("waiting for the lost device") { session.isInterrupted && clock.live == 1 }
        session.removeInput(lost)
        #expect(!session.isInterrupted && !session.isRunning && clock.live == 0)
        #expect(log.wait { $0.contains(.interruptionEnded) }, "\(log.events)")
        clock.tick()  // nothing live: no attempt, no error
        session.addInput(input("b:sweep", Self.sweep))
        #expect(session.isRunning && session.currentRoute?.pcm == "b:sweep")
        session.stopRunning()
        let starts = log.events.filter { if case .didStartRunning = $0 { true } else { false } }
        #expect(starts.count == 2 && log.events.filter { $0 == .didStopRunning }.count == 2, "\(log.events)")
        #expect(!log.events.contains(.runtimeError(.noInput)), "\(log.events)")
    }
}
