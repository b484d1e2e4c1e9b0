// The file output's file format (`startRecording(to:fileType:fileFormat:)`): frames written in
// the session's format are stored as asked, the size limit counts the file's bytes per frame,
// and a recording re-created for a new session format keeps the file format asked for. Driven
// through the output's writer-side sink, as the session's writer drives it; files read back by
// ffprobe and libsndfile.
@testable import CaptureDeck
import CSndfile
import CaptureCore
import CaptureFiles
import Foundation
import Glibc
import Testing

@Suite struct FileOutputFileFormatTests {
    /// Stereo s16 frames counting up, so every sample is distinct and known.
    static func ramp(_ frames: Int) -> [Int16] { (0..<(frames * 2)).map { Int16(truncatingIfNeeded: $0 &* 37 &- 20_000) } }

    static func codec(_ path: String) -> String? {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: "/usr/bin/ffprobe")
        p.arguments = ["-v", "error", "-show_entries", "stream=codec_name", "-of", "csv=p=0", path]
        let o = Pipe()
        p.standardOutput = o
        guard (try? p.run()) != nil else { return nil }
        let d = o.fileHandleForReading.readDataToEndOfFile()
        p.waitUntilExit()
        return String(decoding: d, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
    }

    /// libsndfile's left-justified 32-bit view of every sample.
    static func samples(_ path: String) -> [Int32]? {
        var info = SF_INFO()
        guard let f = sf_open(path, Int32(SFM_READ), &info) else { return nil }
        defer { sf_close(f) }
        var out = [Int32](repeating: 0, count: Int(info.frames) * Int(info.channels))
        guard sf_readf_int(f, &out, info.frames) == info.frames else { return nil }
        return out
    }

    /// `maxRecordedFileSize` counts 3 bytes a sample for a 24-bit file fed 16-bit frames: the
    /// recording ends at exactly size / 6 frames (stereo), and holds them widened exactly.
    @Test func sizeLimitCountsTheFilesBytesPerFrame() throws {
        let dir = NSTemporaryDirectory() + "capdeck-fileformat-" + UUID().uuidString
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let format = StreamFormat(sampleFormat: .s16LE, sampleRate: 48000, channels: 2)
        let out = CaptureAudioFileOutput(format: format)
        out.maxRecordedFileSize = 3000 * 6 + 5
        let done = DispatchSemaphore(value: 0)
        let finished = FinishedLog()
        out.setRecordingFinishedHandler { finished.add($0); done.signal() }
        let path = dir + "/take.caf"
        try out.startRecording(to: path, fileType: .caf, fileFormat: FileSampleFormat(sampleFormat: .s24_3LE, byteOrder: .big))
        let ramp = Self.ramp(5000)
        try ramp.withUnsafeBytes { b in
            try out.write(b.baseAddress!, count: 2000)
            try out.write(b.baseAddress! + 2000 * 4, count: 3000)  // the limit falls inside this batch
        }
        #expect(done.wait(timeout: .now() + 10) == .success)
        #expect(finished.all == [FinishedRecording(path: path, frames: 3000, reason: .maximumFileSizeReached, error: nil)])
        #expect(Self.codec(path) == "pcm_s24be")
        #expect(Self.samples(path) == ramp.prefix(6000).map { Int32($0) << 16 })
    }

    /// A recording started before the session's format is known is created again in the format
    /// the input delivers (before its first frame), still stored as asked: here 32-bit frames
    /// stored as little-endian 16-bit CAF (narrowed by dropping the low 16 bits).
    @Test func aRecreatedRecordingKeepsItsFileFormat() throws {
        let dir = NSTemporaryDirectory() + "capdeck-fileformat-" + UUID().uuidString
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let out = CaptureAudioFileOutput(format: StreamFormat(sampleFormat: .s16LE, sampleRate: 48000, channels: 2))
        let path = dir + "/take.caf"
        try out.startRecording(to: path, fileType: .caf, fileFormat: FileSampleFormat(sampleFormat: .s16LE, byteOrder: .little))
        let delivered = StreamFormat(sampleFormat: .s32LE, sampleRate: 44100, channels: 2)
        try out.setSessionFormat(delivered)
        let frames: [Int32] = (0..<2000).map { Int32(truncatingIfNeeded: $0 &* 0x0101_2345) }
        try frames.withUnsafeBytes { try out.write($0.baseAddress!, count: 1000) }
        let done = try #require(try out.stopRecording())
        #expect(done.frames == 1000)
        #expect(Self.codec(path) == "pcm_s16le")
        #expect(Self.samples(path) == frames.map { ($0 >> 16) << 16 })
    }

    /// Without a file format, the file takes the stream's encoding, as before; a format the
    /// container can't hold is refused at start, and no file is left.
    @Test func defaultsAndRefusals() throws {
        let dir = NSTemporaryDirectory() + "capdeck-fileformat-" + UUID().uuidString
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let out = CaptureAudioFileOutput(format: StreamFormat(sampleFormat: .s16LE, sampleRate: 48000, channels: 1))
        #expect(throws: RecordingError.self) {
            try out.startRecording(to: dir + "/big.wav", fileType: .wav, fileFormat: FileSampleFormat(sampleFormat: .s16LE, byteOrder: .big))
        }
        #expect(!FileManager.default.fileExists(atPath: dir + "/big.wav") && !out.isRecording)
        try out.startRecording(to: dir + "/plain.wav", fileType: .wav)
        let ramp = Self.ramp(500)
        try ramp.withUnsafeBytes { try out.write($0.baseAddress!, count: 1000) }
        try out.stopRecording()
        #expect(Self.codec(dir + "/plain.wav") == "pcm_s16le")
        #expect(Self.samples(dir + "/plain.wav") == ramp.map { Int32($0) << 16 })
    }
}
