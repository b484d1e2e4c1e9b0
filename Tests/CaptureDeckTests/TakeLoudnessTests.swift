// A take measured once: its WAV files measure themselves for their bext chunks, and the take's
// figures (`takeLoudness`) pool the parts' meters. Checked against meters run afresh over the
// parts as libsndfile reads them back, and against one meter over the whole take.
@testable import CaptureDeck
import CSndfile
import CaptureCore
import CaptureFiles
import CaptureLoudness
import CaptureTestSupport
import Foundation
import Testing

@Suite(.serialized) struct TakeLoudnessTests {
    /// A file's frames as Float, read back by libsndfile.
    func floats(_ path: String) throws -> (frames: Int, samples: [Float]) {
        var info = SF_INFO()
        let f = try #require(sf_open(path, Int32(SFM_READ), &info), "\(path) opens")
        defer { sf_close(f) }
        var out = [Float](repeating: 0, count: Int(info.frames) * Int(info.channels))
        let n = out.withUnsafeMutableBufferPointer { sf_readf_float(f, $0.baseAddress, info.frames) }
        return (Int(n), out)
    }

    @Test("a take split in four: its figures are its parts' meters pooled, as meters run afresh over the files give them")
    func splitTakeIsItsPartsPooled() throws {
        let dir = try tempDir("take-loudness")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let out = CaptureAudioFileOutput(format: liveFormat)
        out.splitFrames = 30 * 48_000 + 17
        let finished = FinishedLog()
        out.setRecordingFinishedHandler { finished.add($0) }
        #expect(out.takeLoudness == nil)
        let info = BroadcastInfo(startedAt: timespec(tv_sec: 1_700_000_000, tv_nsec: 0), description: "pooled", source: "test")
        try out.startRecording(to: dir + "/take.wav", fileType: .wav, broadcast: info)
        // Loud, then 10 dB down, then louder again: one part alone is not the take.
        let total = 120 * 48_000
        var ref = reference(.pink(level: -14), frames: 40 * 48_000)
        ref += reference(.pink(level: -24), frames: 30 * 48_000)
        ref += reference(.pink(level: -18), frames: total - 70 * 48_000)
        var at = 0
        while at < total {
            let n = min(960, total - at)
            try ref.withUnsafeBytes { try out.write($0.baseAddress! + at * 4, count: n) }
            at += n
            if at == 50 * 48_000 {
                // While the take runs: the parts so far and the one being written.
                let live = try #require(out.takeLoudness)
                #expect(live.frames == at)
            }
        }
        try out.stopRecording()
        try waitUntil("every part reported") { finished.all.last.map { $0.reason != .split } == true }
        let parts = finished.all
        #expect(parts.count == 4)
        let take = try #require(out.takeLoudness)
        // Afresh, from the files as libsndfile reads them.
        var fresh: [LoudnessMeter] = []
        for p in parts {
            let (frames, samples) = try floats(p.path)
            let m = try LoudnessMeter(channels: 2, sampleRate: 48_000)
            samples.withUnsafeBytes { m.process($0.baseAddress!, count: frames, encoding: .floatLE) }
            fresh.append(m)
        }
        #expect(take == LoudnessMeter.combined(fresh))
        #expect(take.frames == total)
        // And near one meter over the whole take: the seams' blocks aside (3 of the 400 ms ones
        // and 2 of the 3 s ones a seam), within the EBU's tolerances.
        let whole = try LoudnessMeter(channels: 2, sampleRate: 48_000)
        ref.withUnsafeBytes { whole.process($0.baseAddress!, count: total, encoding: .s16LE) }
        let w = whole.reading
        #expect(abs(take.integrated! - w.integrated!) < 0.1 && abs(take.range! - w.range!) < 1)
        let firstPart = try #require(fresh.first?.reading.integrated)
        #expect(abs(firstPart - take.integrated!) > 1, "first part \(firstPart), take \(take.integrated!)")
    }

    @Test("a borrowing loudness output gives the files' figures and measures nothing until reset")
    func borrowingOutput() throws {
        let dir = try tempDir("take-borrow")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let out = CaptureAudioFileOutput(format: liveFormat)
        let loudness = CaptureLoudnessOutput(borrowing: { out.takeLoudness })
        loudness.prepare(format: liveFormat)
        try out.startRecording(to: dir + "/take.wav", fileType: .wav,
                               broadcast: BroadcastInfo(startedAt: timespec(tv_sec: 1_700_000_000, tv_nsec: 0), description: "", source: "test"))
        let ref = reference(.sine(frequency: 1000, level: -20), frames: 48_000)
        try ref.withUnsafeBytes {
            try out.write($0.baseAddress!, count: 48_000)
            loudness.receive($0.baseAddress!, count: 48_000, format: liveFormat)
        }
        #expect(loudness.measures == false)
        #expect(loudness.reading == out.takeLoudness && loudness.reading?.frames == 48_000)
        loudness.reset()
        #expect(loudness.measures && loudness.reading == nil)
        ref.withUnsafeBytes { loudness.receive($0.baseAddress!, count: 48_000, format: liveFormat) }
        #expect(loudness.reading?.frames == 48_000)
        try out.stopRecording()
    }
}
