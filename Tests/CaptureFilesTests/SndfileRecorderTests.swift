// Real files through libsndfile: every format and container written, read back and compared
// sample by sample; exclusive create; checkpoints that survive a crash; header repair.
import CSndfile
import CaptureCore
import CaptureFiles
import Foundation
import Testing

/// A temporary directory removed at deinit.
final class TempDir {
    let path: String
    init() {
        path = NSTemporaryDirectory() + "capdeck-files-" + UUID().uuidString
        try! FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
    }
    deinit { try? FileManager.default.removeItem(atPath: path) }
    func file(_ name: String) -> String { path + "/" + name }
}

/// Deterministic test frames covering full scale, negatives and every bit of precision.
func patternFrames(_ format: StreamFormat, frames: Int) -> [UInt8] {
    var out = [UInt8](repeating: 0, count: frames * format.bytesPerFrame)
    var x: UInt32 = 0x2545_F491
    out.withUnsafeMutableBytes { raw in
        var p = raw.baseAddress!
        for i in 0..<(frames * format.channels) {
            x ^= x << 13; x ^= x >> 17; x ^= x << 5
            var v = Int32(bitPattern: x)
            if i % 97 == 0 { v = .max } else if i % 89 == 0 { v = .min }
            if format.sampleFormat == .floatLE {
                // Floats with 24 bits of precision in [-1, 1).
                SampleCodec.storeFloat(Float(v >> 8) / 8_388_608, p, .floatLE)
            } else {
                SampleCodec.storeInt32(v, p, format.sampleFormat)
            }
            p += format.sampleFormat.bytesPerSample
        }
    }
    return out
}

/// Reads a file with libsndfile: (frames, rate, channels, samples as left-justified Int32 or Float bits).
func readBack(_ path: String, float: Bool) -> (frames: Int, rate: Int, channels: Int, samples: [UInt32])? {
    var info = SF_INFO()
    guard let f = sf_open(path, Int32(SFM_READ), &info) else { return nil }
    defer { sf_close(f) }
    let n = Int(info.frames) * Int(info.channels)
    var samples = [UInt32](repeating: 0, count: n)
    let got = samples.withUnsafeMutableBufferPointer { b -> sf_count_t in
        if float {
            return b.withMemoryRebound(to: Float.self) { sf_readf_float(f, $0.baseAddress, info.frames) }
        }
        return b.withMemoryRebound(to: Int32.self) { sf_readf_int(f, $0.baseAddress, info.frames) }
    }
    guard got == info.frames else { return nil }
    return (Int(info.frames), Int(info.samplerate), Int(info.channels), samples)
}

/// What the recording should read back as.
func expectedSamples(_ bytes: [UInt8], _ format: StreamFormat) -> [UInt32] {
    let n = bytes.count / format.sampleFormat.bytesPerSample
    return bytes.withUnsafeBytes { raw in
        (0..<n).map { i in
            let p = raw.baseAddress! + i * format.sampleFormat.bytesPerSample
            return format.sampleFormat == .floatLE
                ? SampleCodec.loadFloat(p, .floatLE).bitPattern
                : UInt32(bitPattern: SampleCodec.loadInt32(p, format.sampleFormat))
        }
    }
}

@Suite struct SndfileRecorderTests {
    static let cases: [(FileType, SampleFormat)] = [
        (.wav, .s16LE), (.wav, .s24LE), (.wav, .s24_3LE), (.wav, .s32LE), (.wav, .floatLE),
        (.w64, .s16LE), (.w64, .s24_3LE), (.w64, .floatLE),
        (.caf, .s16LE), (.caf, .s32LE), (.caf, .floatLE),
        (.flac, .s16LE), (.flac, .s24LE),
        (.aiff, .s16LE), (.aiff, .s24LE), (.aiff, .s24_3LE), (.aiff, .s32LE), (.aiff, .floatLE),
    ]

    @Test(arguments: cases)
    func writesExactSamples(type: FileType, sampleFormat: SampleFormat) throws {
        let dir = TempDir()
        for channels in [1, 2, 6] {
            let format = StreamFormat(sampleFormat: sampleFormat, sampleRate: 96000, channels: channels)
            let path = dir.file("t\(channels).\(type.fileExtension)")
            let rec = try SndfileRecorder(path: path, format: format, fileType: type)
            let data = patternFrames(format, frames: 10_007)
            try data.withUnsafeBytes { (raw: UnsafeRawBufferPointer) throws -> Void in
                // In uneven pieces, with a checkpoint in between, as the writer queue does.
                try rec.write(raw.baseAddress!, count: 3)
                try rec.checkpoint()
                try rec.write(raw.baseAddress! + 3 * format.bytesPerFrame, count: 10_004)
            }
            try rec.finish()
            let back = try #require(readBack(path, float: sampleFormat == .floatLE))
            #expect(back.frames == 10_007 && back.rate == 96000 && back.channels == channels)
            #expect(back.samples == expectedSamples(data, format), "\(type) \(sampleFormat) \(channels) ch")
            var st = stat()
            stat(path, &st)
            #expect(st.st_mode & 0o777 == 0o600, "recordings are private")
        }
    }

    @Test func neverOverwrites() throws {
        let dir = TempDir()
        let path = dir.file("keep.wav")
        try Data("precious".utf8).write(to: URL(fileURLWithPath: path))
        let format = StreamFormat(sampleFormat: .s16LE, sampleRate: 48000, channels: 2)
        #expect(throws: RecordingError.exists(path: path)) {
            try SndfileRecorder(path: path, format: format, fileType: .wav)
        }
        #expect(try String(contentsOfFile: path, encoding: .utf8) == "precious")
    }

    @Test func doesNotFollowAPlantedSymlink() throws {
        let dir = TempDir()
        let target = dir.file("victim")
        try Data("victim".utf8).write(to: URL(fileURLWithPath: target))
        let link = dir.file("take.wav")
        symlink(target, link)
        let format = StreamFormat(sampleFormat: .s16LE, sampleRate: 48000, channels: 2)
        #expect(throws: RecordingError.self) { try SndfileRecorder(path: link, format: format, fileType: .wav) }
        #expect(try String(contentsOfFile: target, encoding: .utf8) == "victim")
    }

    @Test func flacRefusesFormatsItCannotHold() {
        let dir = TempDir()
        for f in [SampleFormat.s32LE, .floatLE] {
            let format = StreamFormat(sampleFormat: f, sampleRate: 48000, channels: 2)
            #expect(throws: RecordingError.self) { try SndfileRecorder(path: dir.file("x.flac"), format: format, fileType: .flac) }
            #expect(!FileManager.default.fileExists(atPath: dir.file("x.flac")))
        }
    }

    @Test func unwritableDirectoryIsAClearError() {
        let format = StreamFormat(sampleFormat: .s16LE, sampleRate: 48000, channels: 2)
        #expect(throws: RecordingError.cannotCreate(path: "/nonexistent-dir/x.wav", reason: "No such file or directory")) {
            try SndfileRecorder(path: "/nonexistent-dir/x.wav", format: format, fileType: .wav)
        }
    }

    /// A crash after a checkpoint: the on-disk file (copied before finish, as a kill -9 leaves it)
    /// opens with every checkpointed frame; `recover` then restores every whole frame written.
    @Test(arguments: [FileType.wav, .w64, .caf, .aiff])
    func checkpointedFileSurvivesACrashAndRecoverRestoresTheRest(type: FileType) throws {
        let dir = TempDir()
        let format = StreamFormat(sampleFormat: .s24_3LE, sampleRate: 48000, channels: 2)
        let path = dir.file("live.\(type.fileExtension)")
        let rec = try SndfileRecorder(path: path, format: format, fileType: type)
        // An odd frame count: 6-byte frames leave the data unaligned to W64's 8-byte chunks.
        let data = patternFrames(format, frames: 30_001)
        try data.withUnsafeBytes { (raw: UnsafeRawBufferPointer) throws -> Void in
            try rec.write(raw.baseAddress!, count: 20_000)
            try rec.checkpoint()
            try rec.write(raw.baseAddress! + 20_000 * format.bytesPerFrame, count: 10_001)
        }
        // What a kill -9 leaves: the bytes on disk now (libsndfile keeps no user-space buffer).
        let crashed = dir.file("crashed.\(type.fileExtension)")
        try FileManager.default.copyItem(atPath: path, toPath: crashed)
        // ... plus a torn partial frame at the end.
        let h = FileHandle(forWritingAtPath: crashed)!
        h.seekToEndOfFile(); h.write(Data([1, 2, 3])); h.closeFile()
        try rec.finish()

        let before = try #require(readBack(crashed, float: false), "checkpointed file must open")
        #expect(before.frames >= 20_000)
        #expect(before.samples == Array(expectedSamples(data, format)[0..<(before.frames * 2)]))

        let outcome = Recovery.recover(path: crashed)
        guard case .repaired(_, _, let frames, let dropped) = outcome else { Issue.record("\(outcome)"); return }
        #expect(frames == 30_001 && dropped == 3)
        let after = try #require(readBack(crashed, float: false))
        #expect(after.frames == 30_001)
        #expect(after.samples == expectedSamples(data, format))
        // Recovering again changes nothing.
        #expect(Recovery.recover(path: crashed) == .alreadyComplete(container: outcome.container, frames: 30_001))
    }

    @Test func recoverLeavesFilesItDoesNotUnderstandUntouched() throws {
        let dir = TempDir()
        let path = dir.file("notes.wav")
        let text = Data("RIFF but actually a shopping list".utf8)
        try text.write(to: URL(fileURLWithPath: path))
        guard case .untouched = Recovery.recover(path: path) else { Issue.record("modified"); return }
        #expect(try Data(contentsOf: URL(fileURLWithPath: path)) == text)
    }
}

extension RecoveryOutcome {
    var container: String {
        switch self {
        case .alreadyComplete(let c, _), .repaired(let c, _, _, _): c
        case .untouched, .missing: ""
        }
    }
}
