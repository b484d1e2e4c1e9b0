// The file output's pre-roll and level trigger through a running session: a take begins with
// exactly the source's frames before it (never more than was captured), joins the live frames
// seamlessly, and the trigger starts and ends takes on tone bursts at known levels, frame-exact,
// each in its own file. Files are read back with libsndfile and compared sample by sample.
@testable import CaptureDeck
import CaptureCore
import CaptureFiles
import CaptureTestSupport
import Foundation
import Glibc
import Synchronization
import Testing

/// Delivers `samples` (interleaved S16 stereo at 48 kHz) as fast as it is read, then silence:
/// a scripted input whose every frame the test knows.
final class SamplesSource: CaptureSource, @unchecked Sendable {
    let samples: [Int16]
    private var at = 0
    private var granted: GrantedParameters?
    init(_ samples: [Int16]) { self.samples = samples }
    var name: String { "samples" }
    var accessKind: AccessKind { .exclusive }
    var displayName: String { "samples" }
    func open(_ r: CaptureRequest) throws(DeviceError) -> GrantedParameters {
        let g = GrantedParameters(format: r.format, periodFrames: 480, bufferFrames: 4800, access: "scripted, unpaced")
        granted = g
        return g
    }
    func start() throws(DeviceError) { at = 0 }
    func read(into buffer: UnsafeMutableRawPointer, frames n: Int) -> DeviceRead {
        let p = buffer.assumingMemoryBound(to: Int16.self)
        for i in 0..<n * 2 { p[i] = at * 2 + i < samples.count ? samples[at * 2 + i] : 0 }
        at += n
        return .frames(n)
    }
    func waitForData(wakeFD: Int32, timeoutMs: Int32) -> DeviceWait { .ready }
    func close() { granted = nil }
}

/// Tone bursts in silence: (first frame, frames, dBFS peak) of a 1 kHz sine, both channels.
func bursts(_ list: [(at: Int, frames: Int, level: Double)], total: Int) -> [Int16] {
    var out = [Int16](repeating: 0, count: total * 2)
    for b in list {
        let amp = pow(10, b.level / 20) * 32767
        for i in 0..<b.frames {
            let v = Int16((amp * sin(2 * Double.pi * 1000 * Double(i) / 48_000)).rounded())
            out[(b.at + i) * 2] = v
            out[(b.at + i) * 2 + 1] = v
        }
    }
    return out
}

@Suite(.serialized) struct PreRollTriggerTests {
    static let pink = TestSignal.pink(level: -18)

    func session(_ out: CaptureAudioFileOutput, source: @escaping @Sendable () -> any CaptureSource) -> CaptureSession {
        let s = CaptureSession()
        s.realtimePriority = nil
        s.addInput(CaptureDeviceInput(name: "t", routes: InputRoutes(exclusive: "t", shared: "t"), format: liveFormat) { _ in source() })
        s.addOutput(out)
        return s
    }

    /// `r` after about `keyAfter` seconds with an N-second pre-roll: the file is the source's
    /// frames from exactly N seconds (or, with less captured, from the first frame) before the
    /// take's first live frame, which falls between the frames delivered before and after the
    /// call, and on, contiguous (no frame lost or doubled at the join).
    @Test(arguments: [(0.0, 1.0), (0.5, 1.0), (2.0, 1.0), (60.0, 0.6), (0.25, 0.0)])
    func preRollIsTheSourceJustBeforeTheKey(seconds: Double, keyAfter: Double) throws {
        let dir = try tempDir("preroll")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let out = CaptureAudioFileOutput(format: liveFormat)
        out.preRollSeconds = seconds
        let finished = FinishedLog()
        out.setRecordingFinishedHandler { finished.add($0) }
        let s = session(out) { ScriptedSource(signal: Self.pink, name: "pink") }
        var before = timespec()
        clock_gettime(CLOCK_REALTIME, &before)
        s.startRunning()
        defer { s.stopRunning() }
        try waitUntil("audio before the key") { out.framesWritten >= Int(keyAfter * 48_000) + 1 }
        let limit = Int(seconds * 48_000)
        let held = out.preRollHeldFrames
        #expect(held <= limit + 480 && held <= out.framesWritten)
        let at0 = out.framesWritten
        try out.startRecording(to: dir + "/take.wav", fileType: .wav)
        let at1 = out.framesWritten
        try waitUntil("the take's first frame") { out.currentTake != nil }
        let take = try #require(out.currentTake)
        try waitUntil("half a second of take") { out.recordedFrames >= take.preRollFrames + 24_000 }
        let stopped = try #require(try out.stopRecording())
        let live = take.firstFrame + take.preRollFrames
        #expect(live >= at0 && live <= at1, "the take starts at the key: \(live) in \(at0)...\(at1)")
        #expect(take.preRollFrames == min(limit, live), "N seconds, or all captured since the input opened")
        #expect(take.path == dir + "/take.wav" && !take.triggered)
        // Its first sample's wall-clock time: the engine's start plus the frames before it.
        let t = try #require(take.firstSampleTime)
        let since = Double(t.tv_sec - before.tv_sec) + Double(t.tv_nsec - before.tv_nsec) / 1e9 - Double(take.firstFrame) / 48_000
        #expect(since >= 0 && since < 1, "first sample at \(since) s after the start request, less its frames")
        let back = try #require(ReadBack.read(stopped.path))
        #expect(back.frames == stopped.frames)
        let ref = reference(Self.pink, frames: take.firstFrame + back.frames)
        let expected = ref[(take.firstFrame * 2)...]
        #expect(firstDifference(back.samples[...], expected) == nil, "the file is the source from its first frame on, contiguous")
        // The next take's pre-roll holds only what came after this one's start (no frame in two files).
        try out.startRecording(to: dir + "/again.wav", fileType: .wav)
        try waitUntil("the second take's first frame") { out.currentTake != nil }
        let second = try #require(out.currentTake)
        try out.stopRecording()
        #expect(second.firstFrame >= stopped.frames + take.firstFrame)
    }

    /// The session restarts: the pre-roll holds nothing from before (the input opened again).
    @Test func preRollEmptiesWhenTheInputOpens() throws {
        let dir = try tempDir("preroll-restart")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let out = CaptureAudioFileOutput(format: liveFormat)
        out.preRollSeconds = 5
        let s = session(out) { ScriptedSource(signal: Self.pink, name: "pink") }
        s.startRunning()
        try waitUntil("a second held") { out.preRollHeldFrames >= 48_000 }
        s.stopRunning()
        let end = out.framesWritten
        s.startRunning()
        defer { s.stopRunning() }
        try waitUntil("the new run's audio") { out.framesWritten >= end + 9_600 }
        try out.startRecording(to: dir + "/take.wav", fileType: .wav)
        try waitUntil("the take's first frame") { out.currentTake != nil }
        let take = try #require(out.currentTake)
        try out.stopRecording()
        #expect(take.firstFrame >= end, "nothing of the earlier run: \(take.firstFrame) < \(end)")
        #expect(take.preRollFrames > 0)
    }

    /// Bursts at -20 dBFS in silence with a -30/-36 dBFS trigger, a 0.5 s hold and a 0.25 s
    /// pre-roll: a take per sound, each in its own file, each the source's exact frames from the
    /// pre-roll before the block that crossed -30 to the block where the hold ran out; a 0.3 s dip
    /// doesn't end a take; a -33 dBFS burst starts none but keeps one going (hysteresis).
    @Test func triggerTakesAreTheBurstsWithPreRollAndHold() throws {
        let dir = try tempDir("trigger")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        // A: 48000..<72000, dip 0.3 s, B: 86400..<110400; C (-33 dBFS, alone): 200000..<224000;
        // D: 288137..<302537 at -20, then -33 to 331337; silence to the end.
        let total = 400_000
        let src = bursts([(48_000, 24_000, -20), (86_400, 24_000, -20), (200_000, 24_000, -33),
                          (288_137, 14_400, -20), (302_537, 28_800, -33)], total: total)
        let out = CaptureAudioFileOutput(format: liveFormat)
        out.preRollSeconds = 0.25
        let finished = FinishedLog()
        out.setRecordingFinishedHandler { finished.add($0) }
        let names = Mutex<[Int]>([])
        out.armTrigger(LevelTrigger(startLevel: -30, stopLevel: -36, holdSeconds: 0.5),
                       files: TriggeredTakeFiles(fileType: .wav) { take, attempt in
                           names.withLock { $0.append(take) }
                           return dir + "/" + FileNaming.candidate(base: "take\(take)", fileExtension: "wav", attempt: attempt)
                       })
        #expect(out.triggerState == .armed)
        // A name taken already: the take goes to the next candidate.
        #expect(FileManager.default.createFile(atPath: dir + "/take2.wav", contents: Data("mine".utf8)))
        let s = session(out) { SamplesSource(src) }
        s.maxFrames = total
        s.startRunning()
        try waitUntil("the input's end") { !s.isRunning && out.framesWritten >= total }
        try waitUntil("both takes reported") { finished.all.count == 2 }
        #expect(out.triggerState == .armed && out.triggeredTakeCount == 2)
        // Take 1: block [48000, 48480) crossed; from 12000 frames before it; B's quiet from
        // 110400, the hold's 24000 frames run out at the block ending 134400.
        // Take 2: D's onset 288137 lies in [288000, 288480), whose 343 tone frames peak at -20;
        // -33 keeps it going (above -36) to 331337 (the block [331200, 331680) still has 137
        // frames of it); quiet from 331680, the hold out at 355680.
        let expected = [(path: dir + "/take1.wav", from: 48_000 - 12_000, to: 134_400),
                        (path: dir + "/take2-1.wav", from: 288_000 - 12_000, to: 355_680)]
        for (r, e) in zip(finished.all, expected) {
            #expect(r.path == e.path && r.reason == .stopped && r.error == nil)
            #expect(r.frames == e.to - e.from, "\(r.path): \(r.frames) frames, expected \(e.to - e.from)")
            let back = try #require(ReadBack.read(r.path))
            #expect(firstDifference(back.samples[...], src[(e.from * 2)..<(e.to * 2)]) == nil, "\(r.path) is the source's \(e.from)..<\(e.to)")
        }
        #expect(try String(contentsOfFile: dir + "/take2.wav", encoding: .utf8) == "mine", "never overwritten")
        #expect(names.withLock { $0 } == [1, 2, 2])
    }

    /// No pre-roll: the take still begins with the block that crossed the threshold, so a burst
    /// starting on a block boundary is kept from its first sample.
    @Test func triggerWithoutPreRollKeepsTheFirstBlock() throws {
        let dir = try tempDir("trigger0")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let total = 200_000
        let src = bursts([(96_000, 24_000, -20)], total: total)
        let out = CaptureAudioFileOutput(format: liveFormat)
        let finished = FinishedLog()
        out.setRecordingFinishedHandler { finished.add($0) }
        out.armTrigger(LevelTrigger(startLevel: -30, holdSeconds: 0.1),
                       files: TriggeredTakeFiles(fileType: .wav) { take, attempt in
                           dir + "/" + FileNaming.candidate(base: "t\(take)", fileExtension: "wav", attempt: attempt)
                       })
        let s = session(out) { SamplesSource(src) }
        s.maxFrames = total
        s.startRunning()
        try waitUntil("the take reported") { finished.all.count == 1 && !s.isRunning }
        let r = finished.all[0]
        #expect(r.frames == 24_000 + 4_800, "the burst and the 0.1 s hold")
        let back = try #require(ReadBack.read(r.path))
        #expect(firstDifference(back.samples[...], src[(96_000 * 2)..<((96_000 + r.frames) * 2)]) == nil)
        #expect(back.samples[2] != 0, "the burst's first samples")
    }

    /// The state machine alone: hysteresis, hold, a dip shorter than the hold.
    @Test func triggerMachineStates() {
        var m = TriggerMachine(LevelTrigger(startLevel: -30, stopLevel: -40, holdSeconds: 0.02), sampleRate: 48_000)
        #expect(m.trigger.stopLevel == -40 && LevelTrigger(startLevel: -30).stopLevel == -36)
        #expect(LevelTrigger(startLevel: -30, stopLevel: -20).stopLevel == -30, "the stop threshold is never above the start")
        var f = 0
        func block(_ db: Double) -> TriggerMachine.Action { defer { f += 480 }; return m.block(peakDB: db, start: f, end: f + 480) }
        #expect(block(-35) == .none && m.state == .armed, "between the thresholds: no start")
        #expect(block(-30) == .start && m.state == .triggered)
        #expect(block(-39) == .none && m.state == .triggered, "above the stop threshold: on")
        #expect(block(-41) == .none && m.state == .holding)
        #expect(block(-39) == .none && m.state == .triggered, "back above the stop threshold: the hold is off")
        #expect(block(-50) == .none && m.state == .holding)
        #expect(block(-50) == .stop && m.state == .armed, "960 frames of quiet: the 0.02 s hold is out")
    }
}
