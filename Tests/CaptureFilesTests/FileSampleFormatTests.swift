// Recordings whose file stores samples in another format than the stream's: every container ×
// every encoding and byte order it holds, decoded by ffmpeg (and sox where it reads the file)
// and compared sample by sample with the conversion computed here; the ones a container can't
// hold refused; crashed files in such formats repaired by `recover`.
import CaptureCore
import CaptureFiles
import Foundation
import Glibc
import Testing

/// The file sample formats each container holds (nil: its own byte order).
let fileFormatMatrix: [(FileType, FileSampleFormat)] = {
    var cases: [(FileType, FileSampleFormat)] = []
    let all: [SampleFormat] = [.s16LE, .s24_3LE, .s32LE, .floatLE]
    for e in all {
        cases += [(.wav, .init(sampleFormat: e)), (.wav, .init(sampleFormat: e, byteOrder: .little)),
                  (.w64, .init(sampleFormat: e, byteOrder: .little)),
                  (.caf, .init(sampleFormat: e)), (.caf, .init(sampleFormat: e, byteOrder: .little)),
                  (.caf, .init(sampleFormat: e, byteOrder: .big)),
                  (.aiff, .init(sampleFormat: e)), (.aiff, .init(sampleFormat: e, byteOrder: .big))]
    }
    cases += [(.aiff, .init(sampleFormat: .s16LE, byteOrder: .little)),
              (.flac, .init(sampleFormat: .s16LE)), (.flac, .init(sampleFormat: .s24_3LE))]
    return cases
}()

/// The file's samples, computed independently of CaptureCore: integers narrow by dropping low
/// bits and widen by shifting, integers become float as value / 2^31 (left-justified, rounded
/// to float), float becomes an integer rounded half to even and clamped. Integers are returned
/// left-justified in 32 bits (as ffmpeg's s32 decode gives them), floats as their bits.
func expectedFileSamples(_ stream: [UInt8], _ format: StreamFormat, _ file: SampleFormat) -> [UInt32] {
    let n = stream.count / format.sampleFormat.bytesPerSample
    return stream.withUnsafeBytes { raw in
        (0..<n).map { i in
            let p = raw.baseAddress! + i * format.sampleFormat.bytesPerSample
            let bits = file == .s16LE ? 16 : file == .s32LE ? 32 : 24
            if format.sampleFormat == .floatLE {
                let f = Float(bitPattern: p.loadUnaligned(as: UInt32.self))
                if file == .floatLE { return f.bitPattern }
                let scale = Double(1 << (bits - 1))
                let v = Swift.min(scale - 1, Swift.max(-scale, (Double(f) * scale).rounded(.toNearestOrEven)))
                return UInt32(bitPattern: Int32(v) << (32 - bits))
            }
            // The stream sample, left-justified.
            let left: Int32
            switch format.sampleFormat {
            case .s16LE: left = Int32(p.loadUnaligned(as: Int16.self)) << 16
            case .s24LE: left = p.loadUnaligned(as: Int32.self) << 8
            case .s24_3LE: left = Int32(bitPattern: UInt32(p.load(as: UInt8.self)) << 8 | UInt32(p.load(fromByteOffset: 1, as: UInt8.self)) << 16
                                            | UInt32(p.load(fromByteOffset: 2, as: UInt8.self)) << 24)
            default: left = p.loadUnaligned(as: Int32.self)
            }
            if file == .floatLE { return Float(Double(left) / 2_147_483_648).bitPattern }
            return UInt32(bitPattern: (left >> (32 - bits)) << (32 - bits))
        }
    }
}

/// Decodes `path` with ffmpeg to raw little-endian s32 (integers, left-justified) or f32.
func ffmpegDecode(_ path: String, float: Bool) -> [UInt32]? {
    let out = path + ".raw"
    defer { unlink(out) }
    let codec = float ? "f32le" : "s32le"
    guard let r = runTool("/usr/bin/ffmpeg", ["-v", "error", "-y", "-i", path, "-f", codec, "-c:a", "pcm_" + codec, out]),
          r.status == 0, let d = FileManager.default.contents(atPath: out) else { return nil }
    return d.withUnsafeBytes { b in (0..<(d.count / 4)).map { b.loadUnaligned(fromByteOffset: $0 * 4, as: UInt32.self) } }
}

/// Decodes an integer file with sox to raw little-endian s32 (nil if sox can't read it).
func soxDecode(_ path: String) -> [UInt32]? {
    let out = path + ".sox.raw"
    defer { unlink(out) }
    guard let r = runTool("/usr/bin/sox", [path, "-t", "raw", "-e", "signed-integer", "-b", "32", "-L", out]),
          r.status == 0, let d = FileManager.default.contents(atPath: out) else { return nil }
    return d.withUnsafeBytes { b in (0..<(d.count / 4)).map { b.loadUnaligned(fromByteOffset: $0 * 4, as: UInt32.self) } }
}

/// ffprobe's warnings but its note that W64 and CAF durations come from the bit rate (true of
/// every such file: an exact rate, so an exact duration).
func realWarnings(_ w: String) -> [Substring] {
    w.split(separator: "\n").filter { !$0.contains("Estimating duration from bitrate") }
}

/// ffprobe's codec name for a file holding `file` (the byte order the container gives it).
func expectedCodec(_ type: FileType, _ file: FileSampleFormat) -> String {
    if type == .flac { return "flac" }
    let big = file.byteOrder == .big || (file.byteOrder == nil && (type == .caf || type == .aiff))
    let kind = file.sampleFormat == .floatLE ? "f32" : "s\(file.sampleFormat == .s16LE ? 16 : file.sampleFormat == .s32LE ? 32 : 24)"
    return "pcm_\(kind)\(big ? "be" : "le")"
}

@Suite struct FileSampleFormatTests {
    static let streams: [SampleFormat] = [.s16LE, .s24LE, .s24_3LE, .s32LE, .floatLE]

    /// Each container × each encoding and byte order it holds, from every stream format: ffprobe
    /// names the codec asked for, and ffmpeg's decode (and sox's, for the integer files it reads)
    /// is the expected conversion sample by sample.
    @Test(arguments: fileFormatMatrix.indices)
    func writesTheFileFormatExactly(index: Int) throws {
        let (type, file) = fileFormatMatrix[index]
        let dir = TempDir()
        for stream in Self.streams {
            let format = StreamFormat(sampleFormat: stream, sampleRate: 48000, channels: 2)
            let path = dir.file("\(stream.rawValue).\(type.fileExtension)")
            let rec = try SndfileRecorder(path: path, format: format, fileType: type, fileFormat: file)
            #expect(rec.fileBytesPerFrame == 2 * file.sampleFormat.bytesPerSample)
            // More frames than one conversion chunk (4096), so the chunking is exercised.
            let data = patternFrames(format, frames: 10_007)
            try data.withUnsafeBytes { try rec.write($0.baseAddress!, count: 10_007) }
            try rec.finish()
            let label = "\(type) \(file) from \(stream)"
            let probe = try #require(ffprobe(path), "ffprobe missing")
            #expect(probe.fields["codec_name"] == expectedCodec(type, file), "\(label): \(probe)")
            #expect(realWarnings(probe.warnings).isEmpty, "\(label): \(probe)")
            let expected = expectedFileSamples(data, format, file.sampleFormat)
            let decoded = try #require(ffmpegDecode(path, float: file.sampleFormat == .floatLE), "\(label): ffmpeg can't decode")
            #expect(decoded.count == expected.count && decoded == expected, "\(label): ffmpeg reads other samples")
            if file.sampleFormat != .floatLE && (type == .wav || type == .aiff && file.byteOrder != .little) {
                let sox = try #require(soxDecode(path), "\(label): sox can't decode")
                #expect(sox == expected, "\(label): sox reads other samples")
            }
        }
    }

    /// What a container can't hold is refused before any file is made, with a message that says why.
    @Test(arguments: [
        (FileType.wav, FileSampleFormat(sampleFormat: .s16LE, byteOrder: .big)),
        (.wav, .init(sampleFormat: .floatLE, byteOrder: .big)),
        (.w64, .init(sampleFormat: .s24_3LE, byteOrder: .big)),
        (.aiff, .init(sampleFormat: .s24_3LE, byteOrder: .little)),
        (.aiff, .init(sampleFormat: .s32LE, byteOrder: .little)),
        (.aiff, .init(sampleFormat: .floatLE, byteOrder: .little)),
        (.flac, .init(sampleFormat: .s16LE, byteOrder: .little)),
        (.flac, .init(sampleFormat: .floatLE)),
        (.flac, .init(sampleFormat: .s32LE)),
    ])
    func refusesWhatTheContainerCantHold(type: FileType, file: FileSampleFormat) {
        let dir = TempDir()
        let path = dir.file("x.\(type.fileExtension)")
        let format = StreamFormat(sampleFormat: .s16LE, sampleRate: 48000, channels: 2)
        #expect {
            _ = try SndfileRecorder(path: path, format: format, fileType: type, fileFormat: file)
        } throws: { error in
            guard case RecordingError.unsupportedFormat(let t, _, let reason)? = error as? RecordingError else { return false }
            return t == type.rawValue.uppercased() && !reason.isEmpty
        }
        #expect(!FileManager.default.fileExists(atPath: path))
    }

    /// A 32-bit stream can go to FLAC as 24 bits (FLAC refuses 32-bit samples, not streams).
    @Test func a32BitStreamRecordsAs24BitFLAC() throws {
        let dir = TempDir()
        let format = StreamFormat(sampleFormat: .s32LE, sampleRate: 48000, channels: 2)
        let rec = try SndfileRecorder(path: dir.file("x.flac"), format: format, fileType: .flac,
                                      fileFormat: .init(sampleFormat: .s24_3LE))
        let data = patternFrames(format, frames: 3000)
        try data.withUnsafeBytes { try rec.write($0.baseAddress!, count: 3000) }
        try rec.finish()
        #expect(ffmpegDecode(rec.path, float: false) == expectedFileSamples(data, format, .s24_3LE))
    }

    /// A crash in a non-native format: the checkpointed file opens, and `recover` restores the
    /// audio after the checkpoint (cutting the torn frame); ffmpeg then reads every frame as the
    /// expected conversion. Big-endian CAF and AIFF-C (`sowt`, `FL32` with its PEAK chunk).
    @Test(arguments: [
        (FileType.caf, FileSampleFormat(sampleFormat: .s24_3LE, byteOrder: .big), SampleFormat.s16LE),
        (.caf, .init(sampleFormat: .s32LE, byteOrder: .big), .floatLE),
        (.caf, .init(sampleFormat: .floatLE, byteOrder: .big), .s24LE),
        (.caf, .init(sampleFormat: .s16LE, byteOrder: .little), .s32LE),
        (.aiff, .init(sampleFormat: .s24_3LE), .s16LE),
        (.aiff, .init(sampleFormat: .s16LE, byteOrder: .little), .s32LE),
        (.aiff, .init(sampleFormat: .floatLE), .s16LE),
        (.wav, .init(sampleFormat: .floatLE), .s24_3LE),
        (.w64, .init(sampleFormat: .s16LE), .floatLE),
    ])
    func recoversACrashedFileInAnotherFormat(type: FileType, file: FileSampleFormat, stream: SampleFormat) throws {
        let dir = TempDir()
        let format = StreamFormat(sampleFormat: stream, sampleRate: 48000, channels: 2)
        let frames = 30_001
        let rec = try SndfileRecorder(path: dir.file("live.\(type.fileExtension)"), format: format, fileType: type, fileFormat: file)
        let data = patternFrames(format, frames: frames)
        try data.withUnsafeBytes { (raw: UnsafeRawBufferPointer) throws -> Void in
            try rec.write(raw.baseAddress!, count: 20_000)
            try rec.checkpoint()
            try rec.write(raw.baseAddress! + 20_000 * format.bytesPerFrame, count: frames - 20_000)
        }
        let crashed = dir.file("crashed.\(type.fileExtension)")
        try crashCopy(of: rec, to: crashed)
        try rec.finish()
        let h = try #require(FileHandle(forWritingAtPath: crashed))
        h.seekToEndOfFile(); h.write(Data([1, 2, 3])); h.closeFile()  // a torn frame
        let outcome = Recovery.recover(path: crashed)
        guard case .repaired(_, _, let got, let dropped) = outcome else { Issue.record("\(outcome)"); return }
        #expect(got == frames && dropped == 3)
        let probe = try #require(ffprobe(crashed), "ffprobe missing")
        #expect(probe.fields["codec_name"] == expectedCodec(type, file) && probe.fields["duration_ts"] == "\(frames)", "\(probe)")
        #expect(realWarnings(probe.warnings).isEmpty, "\(probe)")
        let decoded = try #require(ffmpegDecode(crashed, float: file.sampleFormat == .floatLE))
        #expect(decoded == expectedFileSamples(data, format, file.sampleFormat))
        if case .alreadyComplete = Recovery.recover(path: crashed) {} else { Issue.record("not complete after recover") }
        // The finished file (same audio) and the recovered one are byte-identical in their audio.
        #expect(ffmpegDecode(rec.path, float: file.sampleFormat == .floatLE) == decoded)
    }
}
