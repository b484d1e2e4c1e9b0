// The bext chunk (EBU Tech 3285) of WAV and RF64 recordings, read back by readers we didn't
// write: a Python parser of the bytes (below), ffprobe, wavinfo; kept by `recover`.
import CaptureCore
import CaptureFiles
import Foundation
import Glibc
import Testing

/// Python's view of the file's bext chunk, parsed from the bytes; TimeReference and the local
/// date and time are worked out again in Python from the epoch time `at` (seconds, nanoseconds).
private let bextScript = #"""
import json, struct, sys, datetime
path, sec, nsec, rate = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
b = open(path, 'rb').read(1 << 20)
pos, out = 12, {}
while pos + 8 <= len(b):
    cid, size = b[pos:pos+4], struct.unpack('<I', b[pos+4:pos+8])[0]
    if cid == b'bext':
        c = b[pos+8:pos+8+size]
        z = lambda s: s.split(b'\0')[0]
        out = dict(description=z(c[0:256]).decode('utf-8'), originator=z(c[256:288]).decode(),
                   reference=z(c[288:320]).decode(), date=c[320:330].decode(), time=c[330:338].decode(),
                   timeReference=struct.unpack('<Q', c[338:346])[0], version=struct.unpack('<H', c[346:348])[0],
                   loudness=list(struct.unpack('<5h', c[412:422])), history=z(c[602:]).decode())
        break
    if cid == b'data': break
    pos += 8 + size + (size & 1)
t = datetime.datetime.fromtimestamp(sec)
midnight = t.replace(hour=0, minute=0, second=0)
out['expectDate'], out['expectTime'] = t.strftime('%Y-%m-%d'), t.strftime('%H:%M:%S')
out['expectTimeReference'] = int((t - midnight).total_seconds()) * rate + nsec * rate // 10**9
print(json.dumps(out))
"""#

private func pythonBext(_ path: String, _ info: BroadcastInfo, rate: Int) throws -> [String: Any] {
    let r = try #require(runTool("/usr/bin/python3", ["-c", bextScript, path, "\(info.startedAt.tv_sec)", "\(info.startedAt.tv_nsec)", "\(rate)"]))
    #expect(r.status == 0, "\(r.err)")
    return try #require(JSONSerialization.jsonObject(with: Data(r.out.utf8)) as? [String: Any])
}

/// The bext chunk's bytes (header included), or nil.
private func bextBytes(_ path: String) -> [UInt8]? {
    guard let c = riffChunks(path).chunks.first(where: { $0.id == "bext" }),
          let all = FileManager.default.contents(atPath: path) else { return nil }
    return Array(all[c.offset..<(c.offset + 8 + c.size)])
}

/// A start 12 h 34 min 56.789 s after local midnight, on a fixed day (so the test doesn't depend
/// on when it runs).
private func fixedStart() -> timespec {
    var t = tm()
    t.tm_year = 2026 - 1900; t.tm_mon = 5; t.tm_mday = 17; t.tm_hour = 12; t.tm_min = 34; t.tm_sec = 56; t.tm_isdst = -1
    return timespec(tv_sec: mktime(&t), tv_nsec: 789_000_000)
}

@Suite struct BroadcastWaveTests {
    /// Every field, read by Python from the bytes: Description (UTF-8 kept), Originator,
    /// an R99-shaped OriginatorReference, local date and time and TimeReference of `startedAt`
    /// (computed again in Python), version 2, loudness "unknown", coding history with the device.
    @Test(arguments: [SampleFormat.s16LE, .s24_3LE, .floatLE])
    func bextFieldsReadBackFromTheBytes(sampleFormat: SampleFormat) throws {
        let dir = TempDir()
        let format = StreamFormat(sampleFormat: sampleFormat, sampleRate: 48000, channels: 2)
        let info = BroadcastInfo(startedAt: fixedStart(), description: "Interview — Straße 3", source: "hw:Loopback,1")
        let path = dir.file("take.wav")
        let rec = try SndfileRecorder(path: path, format: format, fileType: .wav, broadcast: info)
        let data = patternFrames(format, frames: 4800)
        try data.withUnsafeBytes { try rec.write($0.baseAddress!, count: 4800) }
        try rec.finish()
        let py = try pythonBext(path, info, rate: 48000)
        #expect(py["description"] as? String == "Interview — Straße 3")
        #expect(py["originator"] as? String == "CaptureDeck \(BroadcastInfo.captureDeckVersion)")
        let ref = try #require(py["reference"] as? String)
        #expect(ref.count == 32 && ref.hasPrefix("ZZCDK") && ref.dropFirst(17).prefix(6) == "123456", "\(ref)")
        #expect(py["date"] as? String == py["expectDate"] as? String && py["date"] as? String == "2026-06-17")
        #expect(py["time"] as? String == py["expectTime"] as? String && py["time"] as? String == "12:34:56")
        #expect(py["timeReference"] as? Int == py["expectTimeReference"] as? Int)
        #expect(py["timeReference"] as? Int == (12 * 3600 + 34 * 60 + 56) * 48000 + 37872)
        #expect(py["version"] as? Int == 2)
        // 0.1 s: no whole 400 ms window, so no loudness (0x7FFF); the true peak is known (the
        // pattern has full-scale samples). BroadcastLoudnessTests checks measured figures.
        let l = try #require(py["loudness"] as? [Int])
        #expect(l[0] == 0x7FFF && l[1] == 0x7FFF && l[3] == 0x7FFF && l[4] == 0x7FFF && l[2] >= 0 && l[2] < 600, "\(l)")
        let history = try #require(py["history"] as? String)
        let w = sampleFormat.bitDepth
        #expect(history.hasPrefix("A=PCM,F=48000,W=\(w),M=stereo,T=CaptureDeck \(BroadcastInfo.captureDeckVersion); hw:Loopback 1\r\n"), "\(history)")
        // The audio is unchanged by the chunk before it.
        #expect(Recovery.readableFrames(path: path).frames == 4800)
    }

    /// Two files never share an OriginatorReference (its 9 random digits).
    @Test func originatorReferencesDiffer() throws {
        let dir = TempDir()
        let format = StreamFormat(sampleFormat: .s16LE, sampleRate: 48000, channels: 1)
        let info = BroadcastInfo(startedAt: fixedStart())
        var refs: Set<String> = []
        for i in 0..<5 {
            let path = dir.file("\(i).wav")
            try SndfileRecorder(path: path, format: format, fileType: .wav, broadcast: info).finish()
            refs.insert(try pythonBext(path, info, rate: 48000)["reference"] as? String ?? "")
        }
        #expect(refs.count == 5, "\(refs)")
    }

    /// ffprobe's format tags and wavinfo's bext agree with what was asked for.
    @Test func ffprobeAndWavinfoReadTheChunk() throws {
        let dir = TempDir()
        let format = StreamFormat(sampleFormat: .s16LE, sampleRate: 44100, channels: 1)
        let info = BroadcastInfo(startedAt: fixedStart(), description: "Field take", source: "hw:0")
        let path = dir.file("take.wav")
        try recordWith(info, path, format, frames: 44100)
        let ff = try #require(ffprobe(path, entries: "format_tags"), "ffprobe missing")
        let expected = (12 * 3600 + 34 * 60 + 56) * 44100 + 789 * 441 / 10
        // ffmpeg's names: Description is comment, Originator encoded_by, the date and time date
        // and creation_time.
        #expect(ff.fields["TAG:comment"] == "Field take", "\(ff)")
        #expect(ff.fields["TAG:encoded_by"] == "CaptureDeck \(BroadcastInfo.captureDeckVersion)")
        #expect(ff.fields["TAG:date"] == "2026-06-17" && ff.fields["TAG:creation_time"] == "12:34:56")
        #expect(ff.fields["TAG:time_reference"] == "\(expected)")
        #expect(ff.fields["TAG:originator_reference"]?.count == 32)
        #expect(ff.fields["TAG:coding_history"]?.hasPrefix("A=PCM,F=44100,W=16,M=mono,T=CaptureDeck \(BroadcastInfo.captureDeckVersion); hw:0\r\n") == true)
        let script = "import sys, json; from wavinfo import WavInfoReader; b = WavInfoReader(sys.argv[1]).bext; print(json.dumps(b.to_dict(), default=str))"
        let r = try #require(runTool("/usr/bin/env", ["python3", "-c", script, path]))
        try #require(r.status == 0, "wavinfo (pip install wavinfo): \(r.err)")
        let w = try #require(JSONSerialization.jsonObject(with: Data(r.out.utf8)) as? [String: Any])
        #expect(w["description"] as? String == "Field take", "\(w)")
        #expect(w["originator"] as? String == "CaptureDeck \(BroadcastInfo.captureDeckVersion)")
        #expect(w["originator_date"] as? String == "2026-06-17" && w["originator_time"] as? String == "12:34:56")
        #expect(w["time_reference"] as? Int == expected)
        #expect((w["coding_history"] as? String)?.contains("A=PCM,F=44100,W=16,M=mono,T=CaptureDeck") == true)
    }

    @discardableResult
    private func recordWith(_ info: BroadcastInfo, _ path: String, _ format: StreamFormat, frames: Int, finish: Bool = true) throws -> SndfileRecorder {
        let rec = try SndfileRecorder(path: path, format: format, fileType: .wav, broadcast: info)
        let data = patternFrames(format, frames: frames)
        try data.withUnsafeBytes { try rec.write($0.baseAddress!, count: frames) }
        if finish { try rec.finish() }
        return rec
    }

    /// The chunk is in the header from the start: a file crashed after a checkpoint, with more
    /// audio after it, comes back from `recover` with the same bext bytes; so does one that passed
    /// 4 GiB (sparse) and is rebuilt as RF64, which ffprobe still reads the bext of.
    @Test(arguments: [false, true])
    func recoverKeepsTheChunk(past4GiB: Bool) throws {
        let dir = TempDir()
        let format = StreamFormat(sampleFormat: .s16LE, sampleRate: 48000, channels: 2)
        let info = BroadcastInfo(startedAt: fixedStart(), description: "Crash test", source: "hw:1")
        let rec = try recordWith(info, dir.file("live.wav"), format, frames: 48000, finish: false)
        try rec.checkpoint()
        let more = patternFrames(format, frames: 1000)
        try more.withUnsafeBytes { try rec.write($0.baseAddress!, count: 1000) }
        let crashed = dir.file("crashed.wav")
        try FileManager.default.copyItem(atPath: rec.path, toPath: crashed)
        try rec.finish()
        let before = try #require(bextBytes(crashed))
        var frames = 49000
        if past4GiB {
            let d = try #require(riffChunks(crashed).chunks.first { $0.id == "data" })
            frames = (Int(UInt32.max) + 4096 * 1024) / 4
            try #require(truncate(crashed, off_t(d.offset + 8 + frames * 4)) == 0)
        }
        let outcome = Recovery.recover(path: crashed)
        guard case .repaired(_, _, let got, _) = outcome else { Issue.record("\(outcome)"); return }
        #expect(got == frames)
        #expect(riffChunks(crashed).magic == (past4GiB ? "RF64" : "RIFF"))
        #expect(bextBytes(crashed) == before, "bext unchanged")
        let ff = try #require(ffprobe(crashed, entries: "format_tags:stream=duration_ts"), "ffprobe missing")
        #expect(ff.fields["TAG:comment"] == "Crash test" && ff.fields["duration_ts"] == "\(frames)", "\(ff)")
    }

    /// Types without a bext chunk ignore the info (no error, no chunk; CAF keeps it for its info
    /// strings, BroadcastHistoryTests); WAV without it has none.
    @Test func onlyWAVGetsTheChunk() throws {
        let dir = TempDir()
        let format = StreamFormat(sampleFormat: .s16LE, sampleRate: 48000, channels: 2)
        let info = BroadcastInfo(startedAt: fixedStart(), description: "x")
        for type in [FileType.caf, .w64, .flac, .aiff] {
            let rec = try SndfileRecorder(path: dir.file("t.\(type.fileExtension)"), format: format, fileType: type, broadcast: info)
            #expect((rec.broadcast != nil) == (type == .caf))
            try rec.finish()
        }
        let plain = dir.file("plain.wav")
        try SndfileRecorder(path: plain, format: format, fileType: .wav).finish()
        #expect(bextBytes(plain) == nil)
    }

    /// Description: 256 bytes fit (a full field has no NUL, read back whole); more, or a NUL,
    /// is refused with a reason.
    @Test func descriptionLimits() throws {
        let full = String(repeating: "é", count: 128)  // 256 bytes of UTF-8
        #expect(BroadcastDescription.problem(full) == nil)
        #expect(BroadcastDescription.problem(full + "a") == "at most 256 bytes (this one has 257)")
        #expect(BroadcastDescription.problem("a\0b") != nil)
        let dir = TempDir()
        let info = BroadcastInfo(startedAt: fixedStart(), description: full)
        let path = dir.file("full.wav")
        try recordWith(info, path, StreamFormat(sampleFormat: .s16LE, sampleRate: 48000, channels: 1), frames: 10)
        #expect(try pythonBext(path, info, rate: 48000)["description"] as? String == full)
    }
}
