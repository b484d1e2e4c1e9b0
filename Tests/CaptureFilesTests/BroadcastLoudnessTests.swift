// The bext chunk's BWF v2 loudness fields (Tech 3285 v2), measured by the recorder over the
// file's own audio and written at finish: read back by wavinfo and from the bytes in Python, the
// chunk the same size as at creation and the audio unchanged.
import CaptureCore
import CaptureFiles
import CaptureTestSupport
import Foundation
import Glibc
import Testing

@Suite struct BroadcastLoudnessTests {
    /// The five fields as wavinfo reads them (LUFS, LU, dBTP; absent where 0x7FFF), and the version.
    static func wavinfoLoudness(_ path: String) throws -> [String: Double] {
        let script = """
        import sys, json; from wavinfo import WavInfoReader; b = WavInfoReader(sys.argv[1]).bext
        f = lambda v: None if v is None or v == 0x7FFF / 100 else v
        print(json.dumps(dict(version=b.version, I=f(b.loudness_value), LRA=f(b.loudness_range), TP=f(b.max_true_peak),
                              M=f(b.max_momentary_loudness), S=f(b.max_shortterm_loudness))))
        """
        let r = try #require(runTool("/usr/bin/env", ["python3", "-c", script, path]))
        try #require(r.status == 0, "wavinfo (pip install wavinfo): \(r.err)")
        let o = try #require(JSONSerialization.jsonObject(with: Data(r.out.utf8)) as? [String: Any])
        return o.compactMapValues { $0 as? Double }
    }

    static func record(_ signal: EBUSignal, _ path: String, encoding: SampleFormat) throws -> (bextBefore: Int, rec: SndfileRecorder, bytes: [UInt8]) {
        let format = StreamFormat(sampleFormat: encoding, sampleRate: 48000, channels: signal.channels)
        let rec = try SndfileRecorder(path: path, format: format, fileType: .wav,
                                      broadcast: BroadcastInfo(startedAt: BroadcastInfo.now, description: signal.name, source: "test"))
        let bytes = signal.render(rate: 48000).rawBytes(encoding)
        // In batches as the writer hands them over, checkpoints between.
        let batch = 4800 * format.bytesPerFrame
        for start in stride(from: 0, to: bytes.count, by: batch) {
            let n = min(batch, bytes.count - start)
            try bytes.withUnsafeBytes { try rec.write($0.baseAddress! + start, count: n / format.bytesPerFrame) }
            if start % (batch * 10) == 0 { try rec.checkpoint() }
        }
        let before = try #require(riffChunks(path).chunks.first { $0.id == "bext" }).size
        return (before, rec, bytes)
    }

    @Test("1 kHz at -23 dBFS: I -23, LRA 0, max M and S -23, max TP -23 in the finished file",
          arguments: [SampleFormat.s16LE, .s24_3LE, .floatLE])
    func tech3341Case1(_ encoding: SampleFormat) throws {
        let dir = TempDir()
        let path = dir.file("case1.wav")
        let (before, rec, bytes) = try Self.record(EBUSignal.tech3341[0], path, encoding: encoding)
        let live = try #require(rec.loudness)
        try rec.finish()
        let w = try Self.wavinfoLoudness(path)
        #expect(w["version"] == 2)
        for key in ["I", "M", "S"] { #expect(abs((w[key] ?? 0) + 23) <= 0.1, "\(key): \(w)") }
        #expect(abs(w["LRA"] ?? 99) <= 1, "\(w)")
        #expect((w["TP"] ?? 99) >= -23.4 && (w["TP"] ?? 99) <= -22.8, "\(w)")
        // The hundredths are the meter's figures, rounded.
        #expect(w["I"] == (live.integrated! * 100).rounded() / 100, "\(w) vs \(live)")
        // Same chunk size (nothing after it moved), and every sample where it was.
        let after = try #require(riffChunks(path).chunks.first { $0.id == "bext" }).size
        #expect(after == before)
        let back = try #require(FileManager.default.contents(atPath: path))
        let data = try #require(riffChunks(path).chunks.first { $0.id == "data" })
        let stored = Array(back[(data.offset + 8)..<(data.offset + 8 + data.size)])
        #expect(stored == bytes, "the audio changed")
    }

    @Test("Tech 3342 case 1 (-20 then -30 dBFS): the file's LoudnessRange reads 10 LU")
    func tech3342Case1() throws {
        let dir = TempDir()
        let path = dir.file("lra.wav")
        let (_, rec, _) = try Self.record(EBUSignal.tech3342[0], path, encoding: .s24_3LE)
        let before = try #require(ffprobe(path, entries: "format_tags")?.fields["TAG:originator_reference"])
        try rec.finish()
        // Written again at finish, the chunk keeps the OriginatorReference it was created with.
        #expect(ffprobe(path, entries: "format_tags")?.fields["TAG:originator_reference"] == before)
        let w = try Self.wavinfoLoudness(path)
        #expect(abs((w["LRA"] ?? 0) - 10) <= 1, "\(w)")
        #expect(abs((w["M"] ?? 0) + 20) <= 0.1 && abs((w["S"] ?? 0) + 20) <= 0.1, "\(w)")
    }

    @Test("silence: loudness unknown (0x7FFF) in every field")
    func silence() throws {
        let dir = TempDir()
        let path = dir.file("silence.wav")
        let format = StreamFormat(sampleFormat: .s16LE, sampleRate: 48000, channels: 2)
        let rec = try SndfileRecorder(path: path, format: format, fileType: .wav, broadcast: BroadcastInfo(startedAt: BroadcastInfo.now))
        let zeros = [UInt8](repeating: 0, count: 48000 * 5 * 4)
        try zeros.withUnsafeBytes { try rec.write($0.baseAddress!, count: 48000 * 5) }
        try rec.finish()
        let w = try Self.wavinfoLoudness(path)
        #expect(Set(w.keys) == ["version"], "\(w)")
    }

    @Test("the field encoding: hundredths, 0x7FFF for unknown, clamped")
    func fields() {
        #expect(BroadcastLoudness(integrated: -23.004, range: 6.456, maxTruePeak: -0.5, maxMomentary: nil, maxShortTerm: -400).fields
                == [-2300, 646, -50, 0x7FFF, -32768])
    }
}
