// Test helpers: a byte-level RIFF/RF64 chunk walk, and running readers we didn't write
// (ffprobe, Python's wave, flac, mediainfo) on recordings.
import CaptureCore
import CaptureFiles
import Foundation

struct RIFFChunk: Equatable {
    var id: String
    var offset: Int
    var size: Int
}

/// The top-level chunks of a RIFF or RF64 file, in file order (sizes as written).
func riffChunks(_ path: String) -> (magic: String, chunks: [RIFFChunk]) {
    guard let d = FileManager.default.contents(atPath: path), d.count >= 12 else { return ("", []) }
    let b = [UInt8](d)
    func le32(_ at: Int) -> Int { Int(b[at]) | Int(b[at + 1]) << 8 | Int(b[at + 2]) << 16 | Int(b[at + 3]) << 24 }
    var out: [RIFFChunk] = []
    var pos = 12
    while pos + 8 <= b.count {
        let id = String(decoding: b[pos..<(pos + 4)], as: UTF8.self)
        let size = le32(pos + 4)
        out.append(RIFFChunk(id: id, offset: pos, size: size))
        if id == "data" && size == 0xFFFF_FFFF { break }  // RF64: the size is in ds64
        pos += 8 + size + (size & 1)
    }
    return (String(decoding: b[0..<4], as: UTF8.self), out)
}

func le(_ b: [UInt8], _ at: Int, _ n: Int) -> UInt64 {
    (0..<n).reversed().reduce(UInt64(0)) { $0 << 8 | UInt64(b[at + $1]) }
}

/// Runs a program and collects its output. nil if it isn't installed.
func runTool(_ exe: String, _ args: [String]) -> (status: Int32, out: String, err: String)? {
    guard FileManager.default.isExecutableFile(atPath: exe) else { return nil }
    let p = Process()
    p.executableURL = URL(fileURLWithPath: exe)
    p.arguments = args
    let o = Pipe(), e = Pipe()
    p.standardOutput = o
    p.standardError = e
    do { try p.run() } catch { return nil }
    let od = o.fileHandleForReading.readDataToEndOfFile()
    let ed = e.fileHandleForReading.readDataToEndOfFile()
    p.waitUntilExit()
    return (p.terminationStatus, String(decoding: od, as: UTF8.self), String(decoding: ed, as: UTF8.self))
}

/// ffprobe's view of the first audio stream: key=value pairs (and its warnings).
func ffprobe(_ path: String, entries: String = "stream=codec_name,channels,channel_layout,duration_ts,duration,sample_rate")
    -> (fields: [String: String], warnings: String)? {
    guard let r = runTool("/usr/bin/ffprobe", ["-v", "warning", "-of", "default=nw=1", "-show_entries", entries, path]) else { return nil }
    var fields: [String: String] = [:]
    for line in r.out.split(separator: "\n") {
        let kv = line.split(separator: "=", maxSplits: 1)
        if kv.count == 2 { fields[String(kv[0])] = String(kv[1]) }
    }
    return (fields, r.err)
}

/// Records `frames` frames of the test pattern into a new file and finishes it.
@discardableResult
func recordPattern(_ path: String, _ format: StreamFormat, _ type: FileType, frames: Int,
                   markers: [RecordingMarker] = [], finish: Bool = true) throws -> (SndfileRecorder, [UInt8]) {
    let rec = try SndfileRecorder(path: path, format: format, fileType: type)
    let data = patternFrames(format, frames: frames)
    try data.withUnsafeBytes { (raw: UnsafeRawBufferPointer) throws -> Void in
        try rec.write(raw.baseAddress!, count: frames)
    }
    for m in markers { rec.addMarker(m) }
    if finish { try rec.finish() }
    return (rec, data)
}
