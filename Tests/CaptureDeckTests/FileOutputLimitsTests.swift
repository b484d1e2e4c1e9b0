// The file output's limits (Apple's maxRecordedDuration, maxRecordedFileSize,
// minFreeDiskSpaceLimit) and its recording-finished callback: each limit ends the file at the
// exact frame, with its reason, while the session keeps running; every finished recording is
// reported once, in order. Files are read back with libsndfile and compared with the source.
@testable import CaptureDeck
import CaptureCore
import CaptureFiles
import CaptureTestSupport
import Dispatch
import Foundation
import Glibc
import Synchronization
import Testing

/// Every finished recording a file output reported, in order.
final class FinishedLog: Sendable {
    private let list = Mutex<[FinishedRecording]>([])
    func add(_ r: FinishedRecording) { list.withLock { $0.append(r) } }
    var all: [FinishedRecording] { list.withLock { $0 } }
}

@Suite(.serialized) struct FileOutputLimitsTests {
    static let pink = TestSignal.pink(level: -18)

    func running(_ out: CaptureAudioFileOutput) -> (CaptureSession, EventLog) {
        let s = CaptureSession()
        s.realtimePriority = nil
        s.addInput(CaptureDeviceInput(name: "pink", routes: InputRoutes(exclusive: "pink", shared: "pink"), format: liveFormat) { route in
            ScriptedSource(signal: Self.pink, name: route.pcm)
        })
        let log = EventLog()
        s.onEvent { log.append($0) }
        s.addOutput(out)
        return (s, log)
    }

    /// One recording ended by `limit`: reported with `reason` and exactly `frames` frames, which
    /// are the source's 0..<frames (recording began with the run); the session still runs.
    func check(limit: (CaptureAudioFileOutput) -> Void, reason: RecordingEndReason, frames: Int) throws {
        let dir = try tempDir("limits")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let out = CaptureAudioFileOutput(format: liveFormat)
        limit(out)
        let finished = FinishedLog()
        out.setRecordingFinishedHandler { finished.add($0) }
        let (session, log) = running(out)
        try out.startRecording(to: dir + "/take.wav", fileType: .wav)
        session.startRunning()
        defer { session.stopRunning() }
        try waitUntil("the recording reported finished") { finished.all.count == 1 }
        #expect(!out.isRecording && out.recordedFileSize == 0)
        let r = finished.all[0]
        #expect(r == FinishedRecording(path: dir + "/take.wav", frames: frames, reason: reason, error: nil))
        let at = session.framesCaptured
        try waitUntil("the session running on") { session.framesCaptured > at + 4800 }
        #expect(session.isRunning && !log.events.contains { if case .runtimeError = $0 { true } else { false } }, "\(log.events)")
        let back = try #require(ReadBack.read(r.path))
        #expect(back.frames == frames)
        #expect(firstDifference(back.samples[...], reference(Self.pink, frames: frames)[...]) == nil)
        // The output records again while running, under the same limit, from a later frame.
        try out.startRecording(to: dir + "/again.wav", fileType: .wav)
        try waitUntil("the second recording finished") { finished.all.count == 2 }
        let again = try #require(ReadBack.read(dir + "/again.wav"))
        #expect(finished.all[1].reason == reason && again.frames == frames)
        let ref = reference(Self.pink, frames: session.framesCaptured + 4800)
        #expect(offset(of: again.samples, in: ref).map { $0 > 0 } == true, "the source's frames from where it started")
    }

    @Test func durationLimitEndsTheFileAtTheExactFrame() throws {
        try check(limit: { $0.maxRecordedFrames = 12_345 }, reason: .maximumDurationReached, frames: 12_345)
    }

    /// 40,002 bytes of 4-byte frames: 10,000 whole frames fit, the 10,001st doesn't.
    @Test func sizeLimitEndsTheFileAtTheLastFrameThatFits() throws {
        try check(limit: { $0.maxRecordedFileSize = 40_002 }, reason: .maximumFileSizeReached, frames: 10_000)
    }

    /// On a 4 MiB tmpfs of its own (nothing else writes there), a limit 200,000 bytes below the
    /// free space at the start ends the file where the audio written reaches it, to within the
    /// filesystem's page accounting that the once-a-second measurement picks up.
    @Test func freeDiskSpaceLimitEndsTheFileOnAFullingFilesystem() throws {
        let mnt = try tempDir("tmpfs")
        defer { try? FileManager.default.removeItem(atPath: mnt) }
        guard mount("tmpfs", mnt, "tmpfs", 0, "size=4m") == 0 else {
            print("skipped: mounting a tmpfs needs root (\(String(cString: strerror(errno))))")
            return
        }
        defer { umount(mnt) }
        let out = CaptureAudioFileOutput(format: liveFormat)
        let finished = FinishedLog()
        out.setRecordingFinishedHandler { finished.add($0) }
        let (session, _) = running(out)
        func free() -> Int {
            var s = statvfs()
            statvfs(mnt, &s)
            return Int(s.f_bavail) * Int(s.f_frsize)
        }
        let path = mnt + "/take.wav"
        out.minFreeDiskSpaceLimit = free() - 200_000 - 8192  // the header's page, and one more
        try out.startRecording(to: path, fileType: .wav)
        let atStart = free()
        let limit = try #require(out.minFreeDiskSpaceLimit)
        session.startRunning()
        defer { session.stopRunning() }
        try waitUntil("the recording reported finished") { finished.all.count == 1 }
        let r = finished.all[0]
        #expect(r.reason == .freeDiskSpaceLimitReached && r.error == nil, "\(r)")
        let expected = (atStart - limit) / 4
        #expect(abs(r.frames - expected) <= 2 * 4096 / 4, "\(r.frames) frames; \(expected) to the limit")
        #expect(free() >= limit - 4096, "free \(free()), limit \(limit)")
        #expect(session.isRunning)
        let back = try #require(ReadBack.read(path))
        #expect(back.frames == r.frames)
        #expect(firstDifference(back.samples[...], reference(Self.pink, frames: r.frames)[...]) == nil)
    }

    /// Stopped, replaced by a new startRecording, at a limit, failed: four recordings reported
    /// once each, in that order, with their reasons and frames (the output fed by hand, as the
    /// writer queue would). Pause and resume say whether they took effect, and paused frames
    /// neither reach the file nor count towards the limit.
    @Test func everyFinishedRecordingIsReportedInOrder() throws {
        let dir = try tempDir("finished")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let out = CaptureAudioFileOutput(format: liveFormat)
        let finished = FinishedLog()
        out.setRecordingFinishedHandler { finished.add($0) }
        let ref = reference(Self.pink, frames: 10_000)
        var fed = 0
        func feed(_ n: Int) {
            ref[(2 * fed)..<(2 * (fed + n))].withUnsafeBytes { _ = try? out.write($0.baseAddress!, count: n) }
            fed += n
        }
        #expect(!out.pause(), "nothing to pause")
        try out.startRecording(to: dir + "/1.wav", fileType: .wav)
        feed(1000)
        #expect(try out.stopRecording()?.frames == 1000)
        try out.startRecording(to: dir + "/2.wav", fileType: .wav)
        feed(500)
        #expect(out.recordedFileSize > 500 * 4, "header and audio on disk")
        try out.startRecording(to: dir + "/3.wav", fileType: .wav)  // 2 ends, stopped
        out.maxRecordedFrames = 1500
        feed(1000)
        #expect(out.pause() && !out.pause(), "paused once")
        feed(700)
        #expect(out.resume() && !out.resume(), "resumed once")
        feed(700)  // 500 fit
        #expect(!out.isRecording, "3 reached its limit")
        out.maxRecordedFrames = nil
        try out.startRecording(to: dir + "/4.wav", fileType: .wav)
        feed(300)
        let mono = StreamFormat(sampleFormat: .s16LE, sampleRate: 44_100, channels: 1)
        #expect(throws: RecordingError.self) { try out.setSessionFormat(mono) }
        #expect(try out.stopRecording() == nil)
        try waitUntil("four reports") { finished.all.count == 4 }
        let mismatch = RecordingError.formatMismatch(path: dir + "/4.wav", recorded: liveFormat.description,
                                                     delivered: mono.description, framesSaved: 300)
        #expect(finished.all == [
            FinishedRecording(path: dir + "/1.wav", frames: 1000, reason: .stopped, error: nil),
            FinishedRecording(path: dir + "/2.wav", frames: 500, reason: .stopped, error: nil),
            FinishedRecording(path: dir + "/3.wav", frames: 1500, reason: .maximumDurationReached, error: nil),
            FinishedRecording(path: dir + "/4.wav", frames: 300, reason: .failed, error: mismatch),
        ])
        // 3 holds the 1000 frames before the pause and the first 500 after it, exactly.
        let three = try #require(ReadBack.read(dir + "/3.wav"))
        let expected = Array(ref[(2 * 1500)..<(2 * 2500)]) + Array(ref[(2 * 3200)..<(2 * 3700)])
        #expect(three.samples == expected)
    }
}
