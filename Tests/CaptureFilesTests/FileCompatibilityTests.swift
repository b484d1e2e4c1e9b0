// What the files look like to readers we didn't write: chunk layout, format tags, channel masks.
import CSndfile
import CaptureCore
import CaptureFiles
import Foundation
import Testing

@Suite struct FileCompatibilityTests {
    /// Item 12: float WAV files carry no PEAK chunk (its values would only be right at the end),
    /// checked by walking the chunks byte by byte; CAF ("peak") likewise.
    @Test(arguments: [1, 2, 4])
    func floatFilesHaveNoPeakChunk(channels: Int) throws {
        let dir = TempDir()
        let format = StreamFormat(sampleFormat: .floatLE, sampleRate: 48000, channels: channels)
        let wav = dir.file("f.wav")
        let (rec, _) = try recordPattern(wav, format, .wav, frames: 4800, finish: false)
        try rec.checkpoint()
        // While recording (as a crash leaves it) and after finishing.
        #expect(!riffChunks(wav).chunks.contains { $0.id == "PEAK" }, "\(riffChunks(wav))")
        try rec.finish()
        let walk = riffChunks(wav)
        #expect(walk.magic == "RIFF")
        #expect(walk.chunks.contains { $0.id == "data" })
        #expect(!walk.chunks.contains { $0.id == "PEAK" }, "\(walk)")
        let caf = dir.file("f.caf")
        try recordPattern(caf, format, .caf, frames: 4800)
        let bytes = [UInt8](FileManager.default.contents(atPath: caf)!)
        var pos = 8, ids: [String] = []
        while pos + 12 <= bytes.count {
            ids.append(String(decoding: bytes[pos..<(pos + 4)], as: UTF8.self))
            let size = Int(HeaderRepair.be(bytes, pos + 4, 8))
            pos += 12 + size
        }
        #expect(ids.contains("data") && !ids.contains("peak"), "\(ids)")
    }

    /// Python's `wave` module as Debian 12 ships it (3.11, WAVE_FORMAT_PCM only): the frames it
    /// reads, as hex, or its error.
    static func pythonWave(_ path: String) -> (ok: Bool, text: String)? {
        let script = """
            import sys, wave
            try:
                w = wave.open(sys.argv[1])
                print(w.getnchannels(), w.getsampwidth(), w.getframerate(), w.getnframes())
                print(w.readframes(w.getnframes()).hex())
            except Exception as e:
                print("ERROR", e); sys.exit(1)
            """
        guard let r = runTool("/usr/bin/python3", ["-c", script, path]) else { return nil }
        return (r.status == 0, r.out)
    }

    /// Item 13: 16-bit mono and stereo captures are plain PCM WAV (format tag 1), which Debian 12's
    /// Python `wave` opens: after finishing, and while recording (each checkpoint's header).
    @Test(arguments: [1, 2])
    func pythonWaveOpens16BitCaptures(channels: Int) throws {
        let dir = TempDir()
        let format = StreamFormat(sampleFormat: .s16LE, sampleRate: 48000, channels: channels)
        let path = dir.file("take.wav")
        let (rec, data) = try recordPattern(path, format, .wav, frames: 4801, finish: false)
        try rec.checkpoint()
        let live = try #require(Self.pythonWave(path), "python3 missing")
        #expect(live.ok && live.text.hasPrefix("\(channels) 2 48000 4801\n"), "mid-recording: \(live.text.prefix(200))")
        try rec.finish()
        let done = try #require(Self.pythonWave(path))
        #expect(done.ok, "\(done.text.prefix(200))")
        let lines = done.text.split(separator: "\n")
        try #require(lines.count == 2)
        #expect(lines[0] == "\(channels) 2 48000 4801")
        let hex = data.map { String(format: "%02x", $0) }.joined()
        #expect(lines[1] == hex[...], "samples as Python reads them")
        let fmt = try #require(riffChunks(path).chunks.first { $0.id == "fmt " })
        let b = [UInt8](FileManager.default.contents(atPath: path)!)
        #expect(le(b, fmt.offset + 8, 2) == 1 && fmt.size == 16, "WAVE_FORMAT_PCM")
        let ff = try #require(ffprobe(path))
        #expect(ff.fields["duration_ts"] == "4801" && ff.warnings.isEmpty, "\(ff)")
    }

    /// Item 13: float mono/stereo is WAVE_FORMAT_IEEE_FLOAT (tag 3); 24-bit stays EXTENSIBLE (more
    /// than 16 bits), and 3+ channels are discrete: EXTENSIBLE with channel mask 0, which ffprobe
    /// reports as a layout it can't name, never quad, 5.1 or 7.1.
    @Test func formatTagsAndDiscreteChannels() throws {
        let dir = TempDir()
        func fmtOf(_ path: String) throws -> (tag: UInt64, size: Int, mask: UInt64?) {
            let fmt = try #require(riffChunks(path).chunks.first { $0.id == "fmt " })
            let b = [UInt8](FileManager.default.contents(atPath: path)!)
            let tag = le(b, fmt.offset + 8, 2)
            return (tag, fmt.size, tag == 0xFFFE ? le(b, fmt.offset + 8 + 20, 4) : nil)
        }
        let float2 = dir.file("f2.wav")
        try recordPattern(float2, StreamFormat(sampleFormat: .floatLE, sampleRate: 48000, channels: 2), .wav, frames: 480)
        #expect(try fmtOf(float2).tag == 3)
        #expect(readBack(float2, float: true)?.frames == 480)
        let s24 = dir.file("s24.wav")
        try recordPattern(s24, StreamFormat(sampleFormat: .s24_3LE, sampleRate: 48000, channels: 2), .wav, frames: 480)
        #expect(try fmtOf(s24).tag == 0xFFFE && fmtOf(s24).mask == 3)
        for (ch, sf) in [(4, SampleFormat.s16LE), (6, .s24LE), (8, .floatLE), (3, .s32LE)] {
            let p = dir.file("c\(ch).wav")
            try recordPattern(p, StreamFormat(sampleFormat: sf, sampleRate: 48000, channels: ch), .wav, frames: 480)
            let f = try fmtOf(p)
            #expect(f.tag == 0xFFFE && f.mask == 0, "\(ch) ch: \(f)")
            let ff = try #require(ffprobe(p))
            #expect(ff.fields["channels"] == "\(ch)")
            let layout = ff.fields["channel_layout"] ?? "unknown"
            #expect(layout == "unknown" || layout == "\(ch) channels", "\(ch) ch: \(ff)")
            #expect(readBack(p, float: sf == .floatLE)?.frames == 480)
        }
    }
}
