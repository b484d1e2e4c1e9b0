// Threads and the session (issue 10, finding 19): settings changed from any thread while running
// (run under ThreadSanitizer by `make sanitize`), event handlers that call back into the session,
// and a marker added right after startRecording while the writer is busy.
import CaptureCore
import CaptureDeck
import CaptureFiles
import CSndfile
import Dispatch
import Foundation
import Synchronization
import Testing

@Suite(.serialized) struct SessionThreadingTests {
    let format = StreamFormat(sampleFormat: .s16LE, sampleRate: 48_000, channels: 2)

    func makeSession() -> CaptureSession {
        let session = CaptureSession()
        session.realtimePriority = nil
        session.addInput(CaptureDeviceInput(name: "test", routes: InputRoutes(exclusive: "builtin:sine:440", shared: "builtin:sine:1000"),
                                            format: format))
        return session
    }

    func tempDir() throws -> String {
        let dir = NSTemporaryDirectory() + "capdeck-threads-" + UUID().uuidString
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        return dir
    }

    /// Every public setting of the session, and the file output's format, read and written from
    /// other threads while the session starts, runs and stops. The assertions are weak; the
    /// point is the ThreadSanitizer run (`make sanitize`), which must report nothing.
    @Test func settingsChangeFromAnotherThreadWhileRunning() throws {
        let dir = try tempDir()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let session = makeSession()
        let out = CaptureAudioFileOutput(format: format)
        session.addOutput(out)
        try out.startRecording(to: dir + "/take.wav", fileType: .wav)
        let stop = Atomic<Bool>(false)
        let group = DispatchGroup()
        DispatchQueue.global().async(group: group) {
            var i = 0
            while !stop.load(ordering: .relaxed) {
                i += 1
                session.realtimePriority = i % 2 == 0 ? nil : nil
                session.maxFrames = i % 3 == 0 ? nil : 48_000 * 60
                session.interruptionRetryInterval = .milliseconds(200 + i % 50)
                session.reconnectsLostDevices = i % 2 == 0
                _ = (session.realtimePriority, session.maxFrames, session.interruptionRetryInterval, session.reconnectsLostDevices)
                _ = out.format
                usleep(100)
            }
        }
        for _ in 0..<4 {
            session.startRunning()
            usleep(50_000)
            session.stopRunning()
        }
        stop.store(true, ordering: .relaxed)
        group.wait()
        session.maxFrames = nil
        session.reconnectsLostDevices = true
        #expect(session.maxFrames == nil && session.reconnectsLostDevices)
        #expect(try out.stopRecording() != nil)
    }

    /// A handler that stops the session from inside `didStartRunning` neither deadlocks nor
    /// produces contradictory events: it hears the start, then the stop, and the session ends
    /// stopped. (Before: the handler ran inline in the middle of the start, so its stop was
    /// announced before the start it interrupted.)
    @Test func handlerThatStopsInsideDidStartRunning() {
        let session = makeSession()
        let log = EventLog()
        let once = Atomic<Bool>(false)
        session.onEvent { [unowned session] e in
            if case .didStartRunning = e, !once.exchange(true, ordering: .relaxed) {
                session.stopRunning()  // acts first, then records what it heard
            }
            log.append(e)
        }
        let returned = DispatchSemaphore(value: 0)
        DispatchQueue.global().async {
            session.startRunning()
            returned.signal()
        }
        #expect(returned.wait(timeout: .now() + 10) == .success, "startRunning returned (no deadlock)")
        #expect(log.wait { $0.contains(.didStopRunning) }, "\(log.events)")
        usleep(100_000)
        let runEvents = log.events.filter { if case .didStartRunning = $0 { true } else { $0 == .didStopRunning } }
        #expect(runEvents.count == 2, "\(log.events)")
        if case .didStartRunning = runEvents.first {} else { Issue.record("the start is heard first: \(log.events)") }
        #expect(runEvents.last == .didStopRunning, "\(log.events)")
        #expect(!session.isRunning)
        // The session is usable afterwards, from a handler's queue or any other.
        session.startRunning()
        #expect(session.isRunning)
        session.stopRunning()
        #expect(!session.isRunning)
    }

    /// A marker added right after `startRecording`, while the writer is busy writing to the
    /// previous file, lands on its exact frame: the stream carries its own frame numbers (a
    /// ramp), and the sample at the cue point is the marker's frame. (Before: the base was taken
    /// before the swap, so a marker could land a writer chunk off.)
    @Test func markerRightAfterStartRecordingLandsOnItsFrame() throws {
        let dir = try tempDir()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let mono32 = StreamFormat(sampleFormat: .s32LE, sampleRate: 48_000, channels: 1)
        let out = CaptureAudioFileOutput(format: mono32)
        try out.startRecording(to: dir + "/first.wav", fileType: .wav)
        let stop = Atomic<Bool>(false)
        let writer = DispatchGroup()
        let chunk = 16
        DispatchQueue.global().async(group: writer) {
            // The writer queue's part: chunks of the ramp, back to back.
            var next = 0
            var buf = [Int32](repeating: 0, count: chunk)
            while !stop.load(ordering: .relaxed) && next < 200_000_000 {
                for i in 0..<chunk { buf[i] = Int32(next + i) }
                buf.withUnsafeBytes { try? out.write($0.baseAddress!, count: chunk) }
                next += chunk
            }
        }
        let takes = 500
        var expected: [(path: String, frame: Int)] = []
        for i in 0..<takes {
            let path = dir + "/take-\(i).wav"
            try out.startRecording(to: path, fileType: .wav)
            let m = out.framesWritten + 64 * chunk
            out.addMarker(RecordingMarker(frame: m, label: "at \(m)"))
            expected.append((path, m))
            while out.framesWritten < m + 64 * chunk { usleep(50) }
        }
        stop.store(true, ordering: .relaxed)
        writer.wait()
        try out.stopRecording()
        var landed: [String] = []
        for (path, m) in expected {
            let bytes = [UInt8](try Data(contentsOf: URL(fileURLWithPath: path)))
            let cue = try #require(Data(bytes).range(of: Data("cue ".utf8))).lowerBound
            func u32(_ o: Int) -> Int { Int(bytes[o]) | Int(bytes[o + 1]) << 8 | Int(bytes[o + 2]) << 16 | Int(bytes[o + 3]) << 24 }
            #expect(u32(cue + 8) == 1)
            let position = u32(cue + 12 + 20)
            var info = SF_INFO()
            let f = try #require(sf_open(path, Int32(SFM_READ), &info))
            var sample: Int32 = -1
            _ = sf_seek(f, sf_count_t(position), SEEK_SET)
            _ = sf_readf_int(f, &sample, 1)
            sf_close(f)
            landed.append("\(m)->\(sample)")
            #expect(Int(sample) == m, "the marker for frame \(m) sits on frame \(sample) (cue at \(position) in \(path))")
        }
        #expect(landed.count == takes, "\(landed)")
    }
}
