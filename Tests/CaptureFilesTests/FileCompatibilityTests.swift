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
}
