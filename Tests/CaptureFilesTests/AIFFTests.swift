// AIFF recordings as readers we didn't write see them (ffmpeg, sox, Python's aifc), crashed
// ones repaired by `recover`, markers as a MARK chunk, and the 4 GiB stop.
import CSndfile
import CaptureCore
@testable import CaptureFiles
import Foundation
import Glibc
import Testing

/// An AIFF's top-level chunks (id, offset of the 8-byte header, size as written), big-endian.
func aiffChunks(_ path: String) -> (form: String, formSize: Int, chunks: [RIFFChunk]) {
    let b = [UInt8](FileManager.default.contents(atPath: path) ?? Data())
    guard b.count >= 12, b[0..<4].elementsEqual("FORM".utf8) else { return ("", 0, []) }
    var out: [RIFFChunk] = []
    var pos = 12
    while pos + 8 <= b.count {
        let size = Int(HeaderRepair.be(b, pos + 4, 4))
        out.append(RIFFChunk(id: String(decoding: b[pos..<(pos + 4)], as: UTF8.self), offset: pos, size: size))
        pos += 8 + size + (size & 1)
    }
    return (String(decoding: b[8..<12], as: UTF8.self), Int(HeaderRepair.be(b, 4, 4)), out)
}

/// COMM's numSampleFrames.
func aiffCommFrames(_ path: String) -> Int? {
    let b = [UInt8](FileManager.default.contents(atPath: path) ?? Data())
    guard let comm = aiffChunks(path).chunks.first(where: { $0.id == "COMM" }) else { return nil }
    return Int(HeaderRepair.be(b, comm.offset + 10, 4))
}

/// The recorded samples as a raw little-endian stream of `sampleFormat`'s width (24-bit packed
/// in 3 bytes), which is what ffmpeg and sox are asked to decode the file to.
func rawLE(_ data: [UInt8], _ format: StreamFormat) -> [UInt8] {
    let width = format.sampleFormat == .s16LE ? 2 : format.sampleFormat == .s24LE || format.sampleFormat == .s24_3LE ? 3 : 4
    var out: [UInt8] = []
    for v in expectedSamples(data, format) {
        // Left-justified integers: the top `width` bytes; floats: their bits.
        let bits = format.sampleFormat == .floatLE ? v : v >> (8 * (4 - width))
        for i in 0..<width { out.append(UInt8(truncatingIfNeeded: bits >> (8 * i))) }
    }
    return out
}

/// The same samples big-endian, as AIFF stores them and Python's aifc returns them.
func rawBE(_ data: [UInt8], _ format: StreamFormat) -> [UInt8] {
    let width = rawLE(Array(data.prefix(format.bytesPerFrame)), format).count / format.channels
    let le = rawLE(data, format)
    return stride(from: 0, to: le.count, by: width).flatMap { le[$0..<($0 + width)].reversed() }
}

/// ffmpeg's decoding of `path` to raw little-endian PCM (or its error).
func ffmpegRaw(_ path: String, _ sampleFormat: SampleFormat, dir: TempDir) -> (ok: Bool, bytes: [UInt8], err: String)? {
    let fmt = switch sampleFormat {
    case .s16LE: "s16le"
    case .s24LE, .s24_3LE: "s24le"
    case .s32LE: "s32le"
    case .floatLE: "f32le"
    }
    let out = dir.file("ffmpeg-\(UUID().uuidString).raw")
    guard let r = runTool("/usr/bin/ffmpeg", ["-v", "error", "-nostdin", "-i", path, "-c:a", "pcm_\(fmt)", "-f", fmt, out]) else { return nil }
    return (r.status == 0, [UInt8](FileManager.default.contents(atPath: out) ?? Data()), r.err)
}

/// sox's decoding of `path` to raw little-endian PCM.
func soxRaw(_ path: String, _ sampleFormat: SampleFormat, dir: TempDir) -> (ok: Bool, bytes: [UInt8], err: String)? {
    let (enc, bits) = switch sampleFormat {
    case .s16LE: ("signed-integer", "16")
    case .s24LE, .s24_3LE: ("signed-integer", "24")
    case .s32LE: ("signed-integer", "32")
    case .floatLE: ("floating-point", "32")
    }
    let out = dir.file("sox-\(UUID().uuidString).raw")
    guard let r = runTool("/usr/bin/sox", ["-V1", path, "-t", "raw", "-e", enc, "-b", bits, "-L", out]) else { return nil }
    return (r.status == 0, [UInt8](FileManager.default.contents(atPath: out) ?? Data()), r.err)
}

/// Python 3.11's aifc: "channels width rate frames", the frames as hex, then each marker as
/// "id position name-hex"; or "ERROR ...".
func pythonAIFC(_ path: String) -> (ok: Bool, lines: [String])? {
    let script = """
        import sys, warnings
        warnings.simplefilter("ignore")
        import aifc
        try:
            a = aifc.open(sys.argv[1])
            print(a.getnchannels(), a.getsampwidth(), a.getframerate(), a.getnframes())
            print(a.readframes(a.getnframes()).hex())
            for m in a.getmarkers() or []:
                print(m[0], m[1], m[2].hex())
        except Exception as e:
            print("ERROR", e); sys.exit(1)
        """
    guard let r = runTool("/usr/bin/python3", ["-c", script, path]) else { return nil }
    return (r.status == 0, r.out.split(separator: "\n", omittingEmptySubsequences: false).map(String.init).filter { !$0.isEmpty })
}

func hex(_ b: [UInt8]) -> String { b.map { String(format: "%02x", $0) }.joined() }

@Suite struct AIFFTests {
    static let formats: [SampleFormat] = [.s16LE, .s24LE, .s24_3LE, .s32LE, .floatLE]

    /// Every sample format as AIFF (integers) or AIFF-C `FL32` (float, as libsndfile 1.2 writes
    /// it), read by ffmpeg and sox decoding to raw PCM compared byte for byte, and by Python's
    /// aifc (integers: it has no float AIFF-C); the header is valid mid-recording too.
    @Test(arguments: formats)
    func independentReadersGetEverySample(sampleFormat: SampleFormat) throws {
        let dir = TempDir()
        let format = StreamFormat(sampleFormat: sampleFormat, sampleRate: 44100, channels: 2)
        let path = dir.file("take.aiff")
        let (rec, data) = try recordPattern(path, format, .aiff, frames: 10_007, finish: false)
        try rec.checkpoint()
        let float = sampleFormat == .floatLE
        // While recording: the checkpoint's header describes every frame written.
        let live = try #require(ffprobe(path), "ffprobe missing")
        #expect(live.fields["duration_ts"] == "10007" && live.warnings.isEmpty, "mid-recording: \(live)")
        try rec.finish()

        let walk = aiffChunks(path)
        #expect(walk.form == (float ? "AIFC" : "AIFF"), "\(walk)")
        #expect(walk.formSize + 8 == Int(try FileManager.default.attributesOfItem(atPath: path)[.size] as! UInt64))
        #expect(aiffCommFrames(path) == 10_007)
        let codec = switch sampleFormat {
        case .s16LE: "pcm_s16be"
        case .s24LE, .s24_3LE: "pcm_s24be"
        case .s32LE: "pcm_s32be"
        case .floatLE: "pcm_f32be"
        }
        let ff = try #require(ffprobe(path))
        #expect(ff.fields["codec_name"] == codec && ff.fields["duration_ts"] == "10007" && ff.fields["sample_rate"] == "44100", "\(ff)")
        #expect(ff.warnings.isEmpty, "\(ff.warnings)")
        let expected = rawLE(data, format)
        let fm = try #require(ffmpegRaw(path, sampleFormat, dir: dir), "ffmpeg missing")
        #expect(fm.ok && fm.bytes.count == expected.count, "\(fm.err)")
        #expect(fm.bytes == expected, "ffmpeg's samples")
        let sx = try #require(soxRaw(path, sampleFormat, dir: dir), "sox missing")
        #expect(sx.ok && sx.bytes.count == expected.count, "\(sx.err)")
        #expect(sx.bytes == expected, "sox's samples")
        if !float {
            let py = try #require(pythonAIFC(path), "python3 missing")
            #expect(py.ok, "\(py.lines.prefix(1))")
            let width = sampleFormat == .s16LE ? 2 : sampleFormat == .s32LE ? 4 : 3
            #expect(py.lines.first == "2 \(width) 44100 10007")
            #expect(py.lines.dropFirst().first == hex(rawBE(data, format)), "aifc's samples")
        }
    }

    /// A recording cut off by a crash, after a checkpoint (with more audio and a torn frame
    /// after it) or before the first (its header still the 0-frame one from the start):
    /// `recover` sets FORM size, COMM's numSampleFrames and the SSND size to every whole frame
    /// on disk, cuts the torn frame, recomputes a float file's PEAK; every reader then gets the
    /// recorded samples exactly.
    @Test(arguments: formats, [true, false])
    func recoverRepairsACrashedAIFF(sampleFormat: SampleFormat, checkpointed: Bool) throws {
        let dir = TempDir()
        // Mono 24-bit with an odd frame count: odd sound data, whose pad byte libsndfile counts.
        let channels = sampleFormat == .s24_3LE ? 1 : 2
        let format = StreamFormat(sampleFormat: sampleFormat, sampleRate: 48000, channels: channels)
        let rec = try SndfileRecorder(path: dir.file("live.aiff"), format: format, fileType: .aiff)
        let data = patternFrames(format, frames: 30_001)
        try data.withUnsafeBytes { (raw: UnsafeRawBufferPointer) throws -> Void in
            try rec.write(raw.baseAddress!, count: 20_000)
            if checkpointed { try rec.checkpoint() }
            try rec.write(raw.baseAddress! + 20_000 * format.bytesPerFrame, count: 10_001)
        }
        let crashed = dir.file("crashed.aiff")
        try crashCopy(of: rec, to: crashed)
        try rec.finish()
        let h = FileHandle(forWritingAtPath: crashed)!
        h.seekToEndOfFile(); h.write(Data([1, 2])); h.closeFile()

        let headerFrames = checkpointed ? 20_000 : 0
        #expect(aiffCommFrames(crashed) == headerFrames, "the stale header")
        #expect(readBack(crashed, float: false)?.frames == headerFrames, "libsndfile opens it before recover")
        #expect(Recovery.needsRepair(path: crashed))
        let outcome = Recovery.recover(path: crashed)
        #expect(outcome == .repaired(container: "AIFF", headerFrames: headerFrames, frames: 30_001, droppedBytes: 2))
        #expect(!Recovery.needsRepair(path: crashed))
        #expect(Recovery.recover(path: crashed) == .alreadyComplete(container: "AIFF", frames: 30_001))

        let size = Int(try FileManager.default.attributesOfItem(atPath: crashed)[.size] as! UInt64)
        let walk = aiffChunks(crashed)
        let ssnd = try #require(walk.chunks.first { $0.id == "SSND" })
        #expect(walk.formSize == size - 8 && aiffCommFrames(crashed) == 30_001)
        let fileBytes = 30_001 * channels * (sampleFormat == .s16LE ? 2 : sampleFormat == .s32LE || sampleFormat == .floatLE ? 4 : 3)
        #expect(ssnd.size == 8 + fileBytes && ssnd.offset + 16 + fileBytes == size, "\(walk)")
        let back = try #require(readBack(crashed, float: sampleFormat == .floatLE))
        #expect(back.frames == 30_001 && back.samples == expectedSamples(data, format))
        let expected = rawLE(data, format)
        let fm = try #require(ffmpegRaw(crashed, sampleFormat, dir: dir), "ffmpeg missing")
        #expect(fm.ok && fm.bytes == expected, "ffmpeg: \(fm.err)")
        let sx = try #require(soxRaw(crashed, sampleFormat, dir: dir), "sox missing")
        #expect(sx.ok && sx.bytes == expected, "sox: \(sx.err)")
        if sampleFormat != .floatLE {
            let py = try #require(pythonAIFC(crashed), "python3 missing")
            #expect(py.ok && py.lines.dropFirst().first == hex(rawBE(data, format)), "aifc: \(py.lines.prefix(1))")
        } else {
            // PEAK: the values libsndfile wrote when it finished the same audio itself.
            let b = [UInt8](FileManager.default.contents(atPath: crashed)!)
            let done = [UInt8](FileManager.default.contents(atPath: dir.file("live.aiff"))!)
            let peak = try #require(walk.chunks.first { $0.id == "PEAK" })
            let ref = try #require(aiffChunks(dir.file("live.aiff")).chunks.first { $0.id == "PEAK" })
            let n = 8 * channels
            #expect(Array(b[(peak.offset + 16)..<(peak.offset + 16 + n)]) == Array(done[(ref.offset + 16)..<(ref.offset + 16 + n)]))
        }
    }

    /// Markers become a MARK chunk after the sound data at finish (names as Pascal strings, a
    /// long one cut at a character boundary under 255 bytes), which Python's aifc reads; a crash
    /// keeps them in the sidecar until `recover` appends the chunk to the repaired file.
    @Test func markersBecomeAMarkChunkAndSurviveACrash() throws {
        let dir = TempDir()
        let format = StreamFormat(sampleFormat: .s24_3LE, sampleRate: 48000, channels: 1)  // odd data: a pad byte
        let path = dir.file("take.aiff")
        let long = String(repeating: "é", count: 200)  // 400 bytes
        let markers = [RecordingMarker(frame: 0, label: "start"), RecordingMarker(frame: 1001, label: "tab\there"),
                       RecordingMarker(frame: 4000, label: long), RecordingMarker(frame: 4500, label: "")]
        let (rec, _) = try recordPattern(path, format, .aiff, frames: 4801, finish: false)
        for m in markers { rec.addMarker(m) }
        try rec.checkpoint()
        let sidecar = path + ".markers"
        #expect(access(sidecar, F_OK) == 0, "markers kept crash-safe beside the recording")
        let more = patternFrames(format, frames: 100)
        try more.withUnsafeBytes { try rec.write($0.baseAddress!, count: 100) }
        let crashed = dir.file("crashed.aiff")
        try FileManager.default.copyItem(atPath: path, toPath: crashed)
        try FileManager.default.copyItem(atPath: sidecar, toPath: crashed + ".markers")
        try rec.finish()
        #expect(access(sidecar, F_OK) != 0, "removed at finish")
        #expect(rec.droppedMarkers.isEmpty)

        let cut = String(repeating: "é", count: 127)  // 254 bytes
        func expectedLines() -> [String] {
            zip(markers.indices, markers).map { i, m in
                "\(i + 1) \(m.frame) \(hex(Array((m.label == long ? cut : m.label).utf8)))"
            }
        }
        for file in [path, crashed] {
            if file == crashed {
                let bytes = [UInt8](FileManager.default.contents(atPath: file)!)
                #expect(!(0..<(bytes.count - 4)).contains { bytes[$0..<($0 + 4)].elementsEqual("MARK".utf8) }, "no MARK yet")
                #expect(Recovery.recover(path: file) == .repaired(container: "AIFF", headerFrames: 4801, frames: 4901, droppedBytes: 0))
                #expect(access(crashed + ".markers", F_OK) != 0, "removed by recover")
            }
            let walk = aiffChunks(file)
            #expect(walk.chunks.map(\.id).suffix(2) == ["SSND", "MARK"], "\(walk)")
            let size = Int(try FileManager.default.attributesOfItem(atPath: file)[.size] as! UInt64)
            #expect(walk.formSize == size - 8)
            let py = try #require(pythonAIFC(file), "python3 missing")
            #expect(py.ok && py.lines.first == "1 3 48000 4901", "\(py.lines.prefix(1))")
            #expect(Array(py.lines.dropFirst(2)) == expectedLines(), "aifc's markers in \(file)")
            #expect(Recovery.recover(path: file) == .alreadyComplete(container: "AIFF", frames: 4901))
            let ff = try #require(ffprobe(file))
            #expect(ff.fields["duration_ts"] == "4901" && ff.warnings.isEmpty, "\(ff)")
            #expect(readBack(file, float: false)?.frames == 4901)
        }
    }

    /// AIFF's sizes are 32-bit: the recorder takes the frames that fit under the limit (lowered
    /// here from 4 GiB), says why it stopped, and the file finishes whole.
    @Test func stopsAtTheSizeLimitWithAClearError() throws {
        let dir = TempDir()
        let format = StreamFormat(sampleFormat: .s16LE, sampleRate: 48000, channels: 2)
        let path = dir.file("long.aiff")
        let rec = try SndfileRecorder(path: path, format: format, fileType: .aiff)
        rec.aiffSizeLimit = 10_000
        let data = patternFrames(format, frames: 3000)
        let fits = (10_000 + 8 - 1 - 54) / 4  // libsndfile's 16-bit AIFF header is 54 bytes
        #expect(throws: RecordingError.containerFull(path: path, type: "AIFF", limit: "4 GiB", framesSaved: fits)) {
            try data.withUnsafeBytes { try rec.write($0.baseAddress!, count: 3000) }
        }
        #expect(throws: RecordingError.self) { try data.withUnsafeBytes { try rec.write($0.baseAddress!, count: 1) } }
        try rec.finish()
        #expect(aiffChunks(path).formSize <= 10_000)
        let back = try #require(readBack(path, float: false))
        #expect(back.frames == fits && back.samples == Array(expectedSamples(data, format).prefix(fits * 2)))
    }

    /// Files `recover` must not guess about, and what it keeps: hand-made AIFFs.
    @Test func analysisOfHandMadeAIFFs() {
        func aiff(comm: [UInt8], ssndData: Int, claimed: Int, tail: [UInt8] = [], commAfter: Bool = false, form: String = "AIFF") -> [UInt8] {
            let commChunk = Array("COMM".utf8) + HeaderRepair.beBytes(UInt64(comm.count), 4) + comm
            let ssnd = Array("SSND".utf8) + HeaderRepair.beBytes(UInt64(8 + claimed), 4) + [UInt8](repeating: 0, count: 8)
                + [UInt8](repeating: 7, count: ssndData)
            let body = Array(form.utf8) + (commAfter ? ssnd + commChunk : commChunk + ssnd) + tail
            return Array("FORM".utf8) + HeaderRepair.beBytes(UInt64(body.count), 4) + body
        }
        func analyze(_ b: [UInt8]) -> RepairAnalysis {
            HeaderRepair.analyze(fileSize: b.count) { o, n in o < b.count ? Array(b[o..<min(b.count, o + n)]) : [] }
        }
        // 2 channels, 100 frames claimed, 16 bits, an 80-bit rate (48000).
        func comm(frames: Int, type: String? = nil) -> [UInt8] {
            HeaderRepair.beBytes(2, 2) + HeaderRepair.beBytes(UInt64(frames), 4) + HeaderRepair.beBytes(16, 2)
                + [0x40, 0x0E, 0xBB, 0x80, 0, 0, 0, 0, 0, 0] + (type.map { Array($0.utf8) + [0, 0] } ?? [])
        }
        #expect(analyze(aiff(comm: comm(frames: 100), ssndData: 400, claimed: 400)) == .consistent(container: "AIFF", frames: 100))
        let mark = Array("MARK".utf8) + HeaderRepair.beBytes(2, 4) + [0, 0]
        #expect(analyze(aiff(comm: comm(frames: 100), ssndData: 400, claimed: 400, tail: mark)) == .consistent(container: "AIFF", frames: 100),
                "a chunk after the audio is kept")
        // A stale COMM with a whole MARK after the audio: only COMM changes, nothing is cut.
        guard case .repairable(let plan) = analyze(aiff(comm: comm(frames: 60), ssndData: 400, claimed: 400, tail: mark)) else {
            Issue.record("stale COMM"); return
        }
        #expect(plan.diskFrames == 100 && plan.truncateTo == nil && plan.patches.count == 2)
        guard case .repairable(let grown) = analyze(aiff(comm: comm(frames: 60), ssndData: 403, claimed: 240)) else {
            Issue.record("grown"); return
        }
        #expect(grown.headerFrames == 60 && grown.diskFrames == 100 && grown.truncateTo == 12 + 8 + 18 + 16 + 400)
        if case .notUnderstood = analyze(aiff(comm: comm(frames: 60), ssndData: 400, claimed: 240, commAfter: true)) {} else {
            Issue.record("SSND before COMM must be left alone")
        }
        if case .notUnderstood = analyze(aiff(comm: comm(frames: 60, type: "ulaw"), ssndData: 400, claimed: 240, form: "AIFC")) {} else {
            Issue.record("compressed AIFF-C must be left alone")
        }
        #expect(analyze(aiff(comm: comm(frames: 100, type: "sowt"), ssndData: 400, claimed: 400, form: "AIFC")) == .consistent(container: "AIFF", frames: 100))
    }

    @Test func namesAndFormats() throws {
        #expect(FileType(name: "aiff") == .aiff && FileType(name: "AIF") == .aiff && FileType.aiff.fileExtension == "aiff")
        for f in Self.formats { try FileType.aiff.validate(f) }
    }
}
