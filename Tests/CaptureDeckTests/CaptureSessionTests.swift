// CaptureSession end to end on the built-in source: defaults, batching, automatic configuration,
// live route changes, data output, and the failure when the category can't record.
import CaptureCore
import CaptureDeck
import CaptureTestSupport
import Dispatch
import Foundation
import Synchronization
import Testing

/// Collects a session's events.
final class EventLog: @unchecked Sendable {
    private let lock = NSLock()
    private var list: [CaptureSessionEvent] = []
    func append(_ e: CaptureSessionEvent) { lock.lock(); list.append(e); lock.unlock() }
    var events: [CaptureSessionEvent] { lock.lock(); defer { lock.unlock() }; return list }
    func wait(timeout: Double = 5, until: ([CaptureSessionEvent]) -> Bool) -> Bool {
        let end = Date().addingTimeInterval(timeout)
        while Date() < end { if until(events) { return true }; usleep(5000) }
        return until(events)
    }
}

@Suite(.serialized) struct CaptureSessionTests {
    let format = StreamFormat(sampleFormat: .s16LE, sampleRate: 48000, channels: 2)

    func makeSession() -> (CaptureSession, EventLog) {
        let session = CaptureSession()
        session.realtimePriority = nil
        session.addInput(CaptureDeviceInput(name: "test", routes: InputRoutes(exclusive: "builtin:sine:440", shared: "builtin:sine:1000"),
                                            format: format))
        let log = EventLog()
        session.onEvent { log.append($0) }
        return (session, log)
    }

    @Test func defaultsAreApples() {
        let s = CaptureSession()
        #expect(s.usesApplicationAudioSession && s.automaticallyConfiguresApplicationAudioSession)
        #expect(!s.configuresApplicationAudioSessionToMixWithOthers)
        #expect(!s.configuresApplicationAudioSessionForBluetoothHighQualityRecording)
        #expect(s.applicationAudioSession.category == .soloAmbient)
        #expect(!s.isRunning && !s.isInterrupted)
    }

    @Test func startConfiguresTheAppSessionAndNothingIsRestored() {
        let (session, log) = makeSession()
        session.startRunning()
        #expect(session.isRunning)
        #expect(session.currentRoute == Route(pcm: "builtin:sine:440", kind: .exclusive))
        #expect(session.applicationAudioSession.category == .playAndRecord)
        #expect(log.events.contains(.appAudioSessionConfigured(session.applicationAudioSession.current)))
        session.stopRunning()
        #expect(!session.isRunning)
        #expect(session.applicationAudioSession.category == .playAndRecord, "Apple: not restored")
        #expect(log.wait { $0.contains(.didStopRunning) })
    }

    @Test func batchedChangesApplyAtTheOutermostCommit() {
        let (session, log) = makeSession()
        session.startRunning()
        session.beginConfiguration()
        session.beginConfiguration()
        session.configuresApplicationAudioSessionToMixWithOthers = true
        session.commitConfiguration()
        #expect(session.currentRoute?.kind == .exclusive, "inner commit applies nothing")
        session.configuresApplicationAudioSessionToMixWithOthers = false
        session.configuresApplicationAudioSessionToMixWithOthers = true
        session.commitConfiguration()
        #expect(session.currentRoute == Route(pcm: "builtin:sine:1000", kind: .shared))
        let changes = log.events.compactMap { e -> RouteChange? in if case .routeChanged(let c) = e { c } else { nil } }
        #expect(changes.count == 1, "one atomic change")
        #expect(changes.first?.old?.kind == .exclusive && changes.first?.new.kind == .shared)
        #expect(session.applicationAudioSession.options.contains(.mixWithOthers))
        session.stopRunning()
    }

    @Test func mixToggleWhileRecordingKeepsOneFileWithACuePoint() throws {
        let (session, log) = makeSession()
        let dir = NSTemporaryDirectory() + "capdeck-session-" + UUID().uuidString
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let out = CaptureAudioFileOutput(format: format)
        session.addOutput(out)
        let data = CaptureAudioDataOutput()
        let received = Atomic<Int>(0)
        let client = DispatchQueue(label: "client")
        data.setSampleBufferHandler(queue: client) { b in
            received.add(b.frameCount, ordering: .relaxed)
        }
        session.addOutput(data)
        try out.startRecording(to: dir + "/take.wav", fileType: .wav)
        session.startRunning()
        usleep(300_000)
        session.configuresApplicationAudioSessionToMixWithOthers = true
        usleep(300_000)
        session.configuresApplicationAudioSessionToMixWithOthers = false
        usleep(200_000)
        // The client's queue drained before the stop, which drops what is still queued.
        let input = try #require(session.inputs.first)
        session.removeInput(input)
        client.sync {}
        session.stopRunning()
        let saved = try #require(try out.stopRecording())
        #expect(saved.frames > 30_000)
        #expect(log.events.filter { if case .routeChanged = $0 { true } else { false } }.count == 2)
        #expect(received.load(ordering: .relaxed) + data.droppedFrameCount == saved.frames,
                "the data output sees every frame (or counts it late): saved \(saved.frames), received \(received.load(ordering: .relaxed))")
        // Two cue points at the switches, after the audio.
        let bytes = try Data(contentsOf: URL(fileURLWithPath: dir + "/take.wav"))
        let cue = try #require(bytes.range(of: Data("cue ".utf8)))
        #expect(bytes[cue.upperBound + 4] == 2)
        #expect(bytes.range(of: Data("route: builtin:sine:440 -> builtin:sine:1000".utf8)) != nil)
    }

    /// `outputBatchSeconds` (issue 14: a headless recorder's writer wakes per 250 ms, not per
    /// period): with 100 ms periods from the clock-paced built-in source, a 250 ms batch reaches
    /// the outputs in pieces of at least two periods, the 20 ms default in pieces of one; every
    /// frame arrives either way, in the file and at the data output.
    @Test func outputBatchSecondsSetsHowMuchAudioTheOutputsGetAtOnce() throws {
        func run(batch: Double?) throws -> (pieces: [Int], saved: Int, received: Int) {
            let session = CaptureSession()
            session.realtimePriority = nil
            if let batch { session.outputBatchSeconds = batch }
            let input = CaptureDeviceInput(name: "test", routes: InputRoutes(exclusive: "builtin:sine:440", shared: "builtin:sine:440"),
                                           format: format, periodMicros: 100_000)
            session.addInput(input)
            let dir = try TempDir("capdeck-batch")
            let out = CaptureAudioFileOutput(format: format)
            session.addOutput(out)
            let data = CaptureAudioDataOutput()
            let pieces = Mutex<[Int]>([])
            let client = DispatchQueue(label: "client")
            data.setSampleBufferHandler(queue: client) { b in pieces.withLock { $0.append(b.frameCount) } }
            session.addOutput(data)
            try out.startRecording(to: dir.path("take.wav"), fileType: .wav)
            session.startRunning()
            usleep(1_600_000)
            // Capture ends with the input; buffers queued for the client still reach it then (at
            // stopRunning they would be dropped, by the data output's contract, and a loaded
            // machine's client queue may not have run them yet).
            session.removeInput(input)
            client.sync {}
            session.stopRunning()
            let saved = try #require(try out.stopRecording())
            let all = pieces.withLock { $0 }
            return (all, saved.frames, all.reduce(0, +) + data.droppedFrameCount)
        }
        let batched = try run(batch: 0.25)
        let perPeriod = try run(batch: nil)
        for r in [batched, perPeriod] {
            #expect(r.saved > 48_000 && r.received == r.saved,
                    "every frame reaches the file and the data output (or is counted late): saved \(r.saved), received \(r.received)")
        }
        // The median piece: the first and last of a run, and those split at the ring's wrap, are shorter.
        func median(_ a: [Int]) -> Int { a.sorted()[a.count / 2] }
        #expect(median(batched.pieces) >= 9_600, "250 ms batches: \(batched.pieces)")
        #expect(median(perPeriod.pieces) <= 4_800, "the default, 20 ms: a period at a time: \(perPeriod.pieces)")
        #expect(batched.pieces.count * 2 <= perPeriod.pieces.count, "batched \(batched.pieces.count) pieces, per period \(perPeriod.pieces.count)")
    }

    /// Markers land where their audio is in the file, even after a pause: frames captured while
    /// paused are not in the file, so the markers after them move back by the paused length.
    @Test func markersAfterAPauseLandOnTheirAudio() throws {
        let dir = NSTemporaryDirectory() + "capdeck-markers-" + UUID().uuidString
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let out = CaptureAudioFileOutput(format: format)
        let frames = [Int16](repeating: 0, count: 2 * 1000)
        func write(_ n: Int) throws { try frames.withUnsafeBytes { try out.write($0.baseAddress!, count: n) } }
        try write(1000)  // stream 0..<1000: before the file
        try out.startRecording(to: dir + "/take.wav", fileType: .wav)
        try write(1000)  // stream 1000..<2000 → file 0..<1000
        out.pause()
        try write(500)   // stream 2000..<2500: not in the file
        try write(300)   // stream 2500..<2800: not in the file
        out.resume()
        try write(1000)  // stream 2800..<3800 → file 1000..<2000
        out.addMarker(RecordingMarker(frame: 1500, label: "before the pause"))
        out.addMarker(RecordingMarker(frame: 2200, label: "inside the pause"))
        out.addMarker(RecordingMarker(frame: 3000, label: "after the pause"))
        let saved = try #require(try out.stopRecording())
        #expect(saved.frames == 2000)
        let bytes = [UInt8](try Data(contentsOf: URL(fileURLWithPath: dir + "/take.wav")))
        let cue = try #require(Data(bytes).range(of: Data("cue ".utf8))).lowerBound
        func u32(_ o: Int) -> Int { Int(bytes[o]) | Int(bytes[o + 1]) << 8 | Int(bytes[o + 2]) << 16 | Int(bytes[o + 3]) << 24 }
        #expect(u32(cue + 8) == 5)
        let positions = (0..<5).map { u32(cue + 12 + 24 * $0 + 20) }  // each point's sample offset
        // The pause's own two markers first (placed as the writer skipped and resumed), then the three.
        #expect(positions == [1000, 1000, 500, 1000, 1200], "file frames of pause, resume and the three markers")
    }

    /// A file that spans two runs of the session (stop and start while recording, as the
    /// console's device change does): a route change in the second run is marked where it
    /// happened in the file, not counted from the second run's start.
    @Test func markerInASecondRunLandsOnItsAudio() throws {
        let (session, _) = makeSession()
        let dir = NSTemporaryDirectory() + "capdeck-runs-" + UUID().uuidString
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let out = CaptureAudioFileOutput(format: format)
        session.addOutput(out)
        try out.startRecording(to: dir + "/take.wav", fileType: .wav)
        session.startRunning()
        usleep(400_000)
        session.stopRunning()
        let firstRun = out.recordedFrames
        session.startRunning()
        usleep(300_000)
        let beforeSwitch = out.recordedFrames
        session.configuresApplicationAudioSessionToMixWithOthers = true
        usleep(300_000)
        session.stopRunning()
        let saved = try #require(try out.stopRecording())
        let bytes = [UInt8](try Data(contentsOf: URL(fileURLWithPath: dir + "/take.wav")))
        let cue = try #require(Data(bytes).range(of: Data("cue ".utf8))).lowerBound
        func u32(_ o: Int) -> Int { Int(bytes[o]) | Int(bytes[o + 1]) << 8 | Int(bytes[o + 2]) << 16 | Int(bytes[o + 3]) << 24 }
        #expect(u32(cue + 8) == 1)
        let position = u32(cue + 12 + 20)
        #expect(firstRun > 10_000 && position >= beforeSwitch && position < saved.frames,
                "marker at \(position); first run \(firstRun) frames, \(beforeSwitch) before the switch, \(saved.frames) in all")
    }

    /// maxFrames counts from each start (and across a reconnection only): a second start after
    /// a run that reached its length runs its full length again.
    @Test func maxFramesCountsFromEachStart() {
        let (session, log) = makeSession()
        session.maxFrames = 4800
        for run in 1...2 {
            session.startRunning()
            #expect(log.wait { $0.filter { $0 == .didStopRunning }.count == run }, "run \(run) ended by itself")
            #expect(session.framesCaptured == 4800, "run \(run): \(session.framesCaptured) frames")
        }
    }

    @Test func categoryThatCannotRecordFailsWithoutAutomaticConfiguration() {
        let (session, log) = makeSession()
        session.automaticallyConfiguresApplicationAudioSession = false
        session.startRunning()
        #expect(!session.isRunning)
        #expect(log.events.contains(.runtimeError(.cannotStart(.categoryCannotRecord(.soloAmbient)))))
        session.applicationAudioSession.setCategory(.record)
        session.startRunning()
        #expect(session.isRunning)
        #expect(session.applicationAudioSession.category == .record, "the app session is used as it is")
        session.stopRunning()
    }

    @Test func privateSessionLeavesTheAppSessionAlone() {
        let (session, _) = makeSession()
        session.usesApplicationAudioSession = false
        session.configuresApplicationAudioSessionToMixWithOthers = true  // no effect
        session.startRunning()
        #expect(session.currentRoute?.kind == .exclusive)
        #expect(session.applicationAudioSession.current == AudioSessionState())
        #expect(session.resolution?.effective[.mixWithOthers] == .noEffect(reason: "uses app session is off"))
        session.stopRunning()
    }

    @Test func eventsArriveAsAnAsyncStream() async {
        let (session, _) = makeSession()
        let stream = session.events
        session.startRunning()
        var iterator = stream.makeAsyncIterator()
        var sawStart = false
        for _ in 0..<5 {
            if case .didStartRunning = await iterator.next() { sawStart = true; break }
        }
        #expect(sawStart)
        session.stopRunning()
    }
}
