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
}
