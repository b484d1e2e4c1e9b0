// `recover` on real crashed recordings: header bytes libsndfile wrote, files that pass 4 GiB
// (sparse), fact and PEAK chunks, FLAC cut mid-frame; each checked with readers we didn't write.
import CSndfile
import CaptureCore
import CaptureFiles
import Foundation
import Glibc
import Testing

/// What a crash leaves: the recording's bytes as they are on disk now (copied before finish).
func crashCopy(of rec: SndfileRecorder, to path: String) throws {
    try FileManager.default.copyItem(atPath: rec.path, toPath: path)
}

@Suite struct RecoveryTests {
    /// A finished recording is free for `recover` at once, even while a child forked during the
    /// recording still lives: the flock belongs to the open file description, which the child
    /// shares until it execs or exits, so closing the descriptor alone left the file locked, and
    /// `recover` called it "in use by a running recording" (CI saw it: other tests spawn processes
    /// all the time). The recorder releases the lock before it closes.
    @Test func aFinishedRecordingIsUnlockedWhileAForkedChildLives() throws {
        let dir = TempDir()
        let format = StreamFormat(sampleFormat: .s16LE, sampleRate: 48000, channels: 2)
        let rec = try SndfileRecorder(path: dir.file("take.wav"), format: format, fileType: .wav)
        let data = patternFrames(format, frames: 4_800)
        try data.withUnsafeBytes { try rec.write($0.baseAddress!, count: 4_800) }
        // A child that holds the process's descriptors for 2 s and does nothing else.
        let child = fork()
        if child == 0 { usleep(2_000_000); _exit(0) }
        #expect(child > 0)
        defer { var status: Int32 = 0; kill(child, SIGKILL); waitpid(child, &status, 0) }
        try rec.finish()
        #expect(Recovery.recover(path: dir.file("take.wav")) == .alreadyComplete(container: "WAV", frames: 4_800))
    }

    /// Item 10: a WAV that passed 4 GiB before its next checkpoint. The header is libsndfile's own
    /// (RIFF, a 24-byte JUNK, fmt, fact, data); the data is extended sparsely past 4 GiB, as a
    /// crash before the checkpoint leaves it. `recover` rebuilds it as RF64 the way libsndfile
    /// lays one out (ds64 first, fmt, PAD, data), and libsndfile and ffprobe agree on the length.
    @Test(arguments: [SampleFormat.s16LE, .floatLE, .s24_3LE])
    func recoverUpgradesAWAVPast4GiBToRF64(sampleFormat: SampleFormat) throws {
        let dir = TempDir()
        let format = StreamFormat(sampleFormat: sampleFormat, sampleRate: 48000, channels: 2)
        let (rec, data) = try recordPattern(dir.file("live.wav"), format, .wav, frames: 48000, finish: false)
        try rec.checkpoint()
        let crashed = dir.file("crashed.wav")
        try crashCopy(of: rec, to: crashed)
        try rec.finish()
        let before = riffChunks(crashed)
        #expect(before.magic == "RIFF" && before.chunks.first == RIFFChunk(id: "JUNK", offset: 12, size: 24), "\(before)")
        let dataChunk = try #require(before.chunks.first { $0.id == "data" })
        let dataOffset = dataChunk.offset + 8
        let fmtBefore = try #require(before.chunks.first { $0.id == "fmt " })
        let original = [UInt8](FileManager.default.contents(atPath: crashed)!)  // before it grows
        let fmtBytes = Array(original[fmtBefore.offset..<(fmtBefore.offset + 8 + fmtBefore.size)])
        // Past 4 GiB, with a torn frame at the end.
        let bpf = format.bytesPerFrame
        let frames = (Int(UInt32.max) + 4096 * 1024) / bpf
        let size = dataOffset + frames * bpf + 1
        try #require(truncate(crashed, off_t(size)) == 0)

        let outcome = Recovery.recover(path: crashed)
        guard case .repaired(let container, _, let got, let dropped) = outcome else { Issue.record("\(outcome)"); return }
        #expect(container == "WAV" && got == frames && dropped == 1)
        let after = riffChunks(crashed)
        #expect(after.magic == "RF64")
        #expect(after.chunks.first?.id == "ds64" && after.chunks.first?.size == 28, "\(after)")
        #expect(!after.chunks.contains { $0.id == "fact" || $0.id == "JUNK" && $0.offset == 12 })
        let d = try #require(after.chunks.first { $0.id == "data" })
        #expect(d.offset + 8 == dataOffset, "audio stays where it was")
        let fmtAfter = try #require(after.chunks.first { $0.id == "fmt " })
        let fd = open(crashed, O_RDONLY)
        defer { close(fd) }
        var head = [UInt8](repeating: 0, count: dataOffset)
        #expect(pread(fd, &head, dataOffset, 0) == dataOffset)
        #expect(Array(head[fmtAfter.offset..<(fmtAfter.offset + fmtBytes.count)]) == fmtBytes, "fmt unchanged")
        #expect(le(head, 20, 8) == UInt64(dataOffset + frames * bpf - 8), "ds64 RIFF size")
        #expect(le(head, 28, 8) == UInt64(frames * bpf), "ds64 data size")
        #expect(le(head, 36, 8) == UInt64(frames), "ds64 sample count")
        var st = stat()
        stat(crashed, &st)
        #expect(Int(st.st_size) == dataOffset + frames * bpf)
        // Readers we didn't write.
        #expect(Recovery.readableFrames(path: crashed).frames == frames)
        let ff = try #require(ffprobe(crashed), "ffprobe missing")
        #expect(ff.fields["duration_ts"] == "\(frames)" && ff.warnings.isEmpty, "\(ff)")
        // The recorded audio reads back unchanged.
        var info = SF_INFO()
        let f = try #require(sf_open(crashed, Int32(SFM_READ), &info))
        var ints = [Int32](repeating: 0, count: 48000 * 2)
        #expect(sf_readf_int(f, &ints, 48000) == 48000)
        sf_close(f)
        if sampleFormat != .floatLE {
            #expect(ints.map { UInt32(bitPattern: $0) } == expectedSamples(data, format))
        }
        #expect(Recovery.recover(path: crashed) == .alreadyComplete(container: "RF64", frames: frames))
    }

    /// A recorder file crashed after a checkpoint, with more audio (and a torn frame) after it.
    static func crashed(_ dir: TempDir, _ format: StreamFormat, _ type: FileType, frames: Int = 30_001)
        throws -> (path: String, data: [UInt8]) {
        let rec = try SndfileRecorder(path: dir.file("live.\(type.fileExtension)"), format: format, fileType: type)
        let data = patternFrames(format, frames: frames)
        try data.withUnsafeBytes { (raw: UnsafeRawBufferPointer) throws -> Void in
            try rec.write(raw.baseAddress!, count: 20_000)
            try rec.checkpoint()
            try rec.write(raw.baseAddress! + 20_000 * format.bytesPerFrame, count: frames - 20_000)
        }
        let path = dir.file("crashed.\(type.fileExtension)")
        try crashCopy(of: rec, to: path)
        try rec.finish()
        let h = FileHandle(forWritingAtPath: path)!
        h.seekToEndOfFile(); h.write(Data([1, 2, 3])); h.closeFile()
        return (path, data)
    }

    /// Item 11: `recover` brings the fact chunk up to date with the length (every WAV has one;
    /// float W64 too), so ffprobe reads the right duration with no "wrong sample_count" warning.
    @Test(arguments: [(FileType.wav, SampleFormat.s16LE), (.wav, .floatLE), (.wav, .s24_3LE), (.w64, .floatLE), (.w64, .s16LE)])
    func recoverUpdatesTheFactChunk(type: FileType, sampleFormat: SampleFormat) throws {
        let dir = TempDir()
        let format = StreamFormat(sampleFormat: sampleFormat, sampleRate: 48000, channels: 2)
        let (path, _) = try Self.crashed(dir, format, type)
        let outcome = Recovery.recover(path: path)
        guard case .repaired(_, _, 30_001, 3) = outcome else { Issue.record("\(outcome)"); return }
        let ff = try #require(ffprobe(path), "ffprobe missing")
        #expect(ff.fields["duration_ts"] == "30001", "\(type) \(sampleFormat): \(ff)")
        // ffmpeg estimates every PCM W64's duration (there is no fact chunk to carry it), the
        // finished original's too: only that warning is allowed, and only when the original gets it.
        let original = try #require(ffprobe(dir.file("live.\(type.fileExtension)")))
        let estimate = "Estimating duration from bitrate"
        let warnings = ff.warnings.split(separator: "\n").filter { !(original.warnings.contains(estimate) && $0.contains(estimate)) }
        #expect(warnings.isEmpty, "\(type) \(sampleFormat): \(ff.warnings)")
        if type == .wav {
            let fact = try #require(riffChunks(path).chunks.first { $0.id == "fact" })
            let b = [UInt8](FileManager.default.contents(atPath: path)!)
            #expect(le(b, fact.offset + 8, 4) == 30_001)
        }
    }

    /// Item 11: a float WAV with a PEAK chunk (as libsndfile's WAV writer adds, and capdeck before
    /// this fix did) crashed after a checkpoint: `recover` rewrites each channel's peak and its
    /// position from all the audio now in the file.
    @Test func recoverUpdatesAStalePeakChunk() throws {
        let dir = TempDir()
        let path = dir.file("peak.wav")
        var info = SF_INFO()
        info.samplerate = 48000
        info.channels = 2
        info.format = Int32(SF_FORMAT_WAV | SF_FORMAT_FLOAT)
        let f = try #require(sf_open(path, Int32(SFM_WRITE), &info))
        var first = [Float](repeating: 0, count: 2 * 1000)
        first[2 * 10] = 0.25; first[2 * 20 + 1] = -0.5
        #expect(sf_writef_float(f, first, 1000) == 1000)
        sf_command(f, Int32(SFC_UPDATE_HEADER_NOW), nil, 0)
        sf_write_sync(f)
        var second = [Float](repeating: 0, count: 2 * 1000)
        second[2 * 500] = -0.75; second[2 * 900 + 1] = 0.875
        #expect(sf_writef_float(f, second, 1000) == 1000)
        sf_write_sync(f)
        let crashed = dir.file("crashed.wav")
        try FileManager.default.copyItem(atPath: path, toPath: crashed)
        sf_close(f)
        let peakBefore = try #require(riffChunks(crashed).chunks.first { $0.id == "PEAK" }, "libsndfile wrote no PEAK")
        let outcome = Recovery.recover(path: crashed)
        guard case .repaired(_, _, 2000, _) = outcome else { Issue.record("\(outcome)"); return }
        let b = [UInt8](FileManager.default.contents(atPath: crashed)!)
        let peak = try #require(riffChunks(crashed).chunks.first { $0.id == "PEAK" })
        #expect(peak.offset == peakBefore.offset)
        func value(_ ch: Int) -> Float { Float(bitPattern: UInt32(le(b, peak.offset + 16 + 8 * ch, 4))) }
        func position(_ ch: Int) -> UInt64 { le(b, peak.offset + 20 + 8 * ch, 4) }
        #expect(value(0) == 0.75 && position(0) == 1500, "left: \(value(0)) at \(position(0))")
        #expect(value(1) == 0.875 && position(1) == 1900, "right: \(value(1)) at \(position(1))")
        // The file libsndfile finished itself agrees.
        let done = [UInt8](FileManager.default.contents(atPath: path)!)
        let ref = try #require(riffChunks(path).chunks.first { $0.id == "PEAK" })
        #expect(Array(done[(ref.offset + 16)..<(ref.offset + 32)]) == Array(b[(peak.offset + 16)..<(peak.offset + 32)]))
    }

    /// Item 15: a FLAC cut mid-frame (a real capdeck FLAC copied mid-recording, as a crash leaves
    /// it, and cut inside a frame). `recover` cuts at the end of the last whole frame and writes
    /// the count, so `flac -t` passes, and the samples are the recorded ones.
    @Test(arguments: [SampleFormat.s16LE, .s24LE])
    func recoverCutsAFLACAtTheLastWholeFrame(sampleFormat: SampleFormat) throws {
        let dir = TempDir()
        let format = StreamFormat(sampleFormat: sampleFormat, sampleRate: 48000, channels: 2)
        let (rec, data) = try recordPattern(dir.file("live.flac"), format, .flac, frames: 100_000, finish: false)
        try rec.checkpoint()
        let crashed = dir.file("crashed.flac")
        try crashCopy(of: rec, to: crashed)
        try rec.finish()
        var st = stat()
        stat(crashed, &st)
        // Cut inside a frame: 1000 bytes before the end (frames here are thousands of bytes).
        let cut = Int(st.st_size) - 1000
        try #require(cut > 8192 && truncate(crashed, off_t(cut)) == 0)
        let torn = try #require(runTool("/usr/bin/flac", ["-t", "-s", crashed]), "flac missing")
        #expect(torn.status != 0, "the torn file should fail flac -t: \(torn)")

        let outcome = Recovery.recover(path: crashed)
        guard case .repaired(let container, _, let frames, let dropped) = outcome else { Issue.record("\(outcome)"); return }
        #expect(container == "FLAC" && frames > 0 && dropped > 0 && dropped < cut)
        stat(crashed, &st)
        #expect(Int(st.st_size) == cut - dropped)
        let test = try #require(runTool("/usr/bin/flac", ["-t", "-s", crashed]))
        #expect(test.status == 0, "flac -t: \(test)")
        let back = try #require(readBack(crashed, float: false))
        #expect(back.frames == frames)
        #expect(back.samples == Array(expectedSamples(data, format)[0..<(frames * 2)]))
        #expect(Recovery.recover(path: crashed) == .alreadyComplete(container: "FLAC", frames: frames))
    }

    /// A finished FLAC cut short afterwards (a copy that stopped, a truncated download) still
    /// says its old total in STREAMINFO. `recover` said "complete" for it, exit 0; `flac -t`
    /// and ffmpeg failed at the cut. Now its frames are counted against the total: cut at the
    /// last whole frame, the count written and the MD5 (the whole stream's) cleared, so `flac -t`
    /// passes and the samples are the recorded ones. A complete file stays complete, a tag after
    /// its frames untouched.
    @Test func aFinishedFLACCutShortIsRepairedNotCalledComplete() throws {
        let dir = TempDir()
        let format = StreamFormat(sampleFormat: .s16LE, sampleRate: 48000, channels: 2)
        let path = dir.file("done.flac")
        let (_, data) = try recordPattern(path, format, .flac, frames: 144_000)
        #expect(Recovery.recover(path: path) == .alreadyComplete(container: "FLAC", frames: 144_000))
        var st = stat()
        stat(path, &st)
        let whole = Int(st.st_size)
        // A tag after the frames (ID3v1's 128 bytes) leaves a complete stream complete, untouched.
        let tagged = dir.file("tagged.flac")
        var bytes = try #require(FileManager.default.contents(atPath: path))
        bytes.append(Data("TAG".utf8 + [UInt8](repeating: 0x20, count: 125)))
        try bytes.write(to: URL(fileURLWithPath: tagged))
        #expect(Recovery.recover(path: tagged) == .alreadyComplete(container: "FLAC", frames: 144_000))
        stat(tagged, &st)
        #expect(Int(st.st_size) == whole + 128)

        let cut = whole * 2 / 3 + 1
        try #require(truncate(path, off_t(cut)) == 0)
        let torn = try #require(runTool("/usr/bin/flac", ["-t", "-s", path]), "flac missing")
        #expect(torn.status != 0, "the cut file should fail flac -t: \(torn)")

        let outcome = Recovery.recover(path: path)
        guard case .repaired(let container, let said, let frames, let dropped) = outcome else { Issue.record("\(outcome)"); return }
        #expect(container == "FLAC" && said == 144_000 && frames > 0 && frames < 144_000 && dropped >= 0)
        stat(path, &st)
        #expect(Int(st.st_size) == cut - dropped)
        let test = try #require(runTool("/usr/bin/flac", ["-t", "-s", path]))
        #expect(test.status == 0, "flac -t: \(test)")
        let ff = try #require(runTool("/usr/bin/ffmpeg", ["-v", "error", "-i", path, "-f", "null", "-"]))
        #expect(ff.status == 0 && ff.err.isEmpty, "ffmpeg: \(ff)")
        let back = try #require(readBack(path, float: false))
        #expect(back.frames == frames)
        #expect(back.samples == Array(expectedSamples(data, format)[0..<(frames * 2)]))
        #expect(Recovery.recover(path: path) == .alreadyComplete(container: "FLAC", frames: frames))
    }
}
