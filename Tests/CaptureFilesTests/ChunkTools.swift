// Test helpers: a byte-level RIFF/RF64 chunk walk, and running readers we didn't write
// (ffprobe, Python's wave, flac, mediainfo) on recordings.
import CaptureCore
import CaptureFiles
import Foundation
import Glibc

struct RIFFChunk: Equatable {
    var id: String
    var offset: Int
    var size: Int
}

/// The top-level chunks of a RIFF or RF64 file, in file order (sizes as written), read with
/// pread so that a sparse 4 GiB file costs nothing. RF64's data size comes from ds64.
func riffChunks(_ path: String) -> (magic: String, chunks: [RIFFChunk]) {
    let fd = open(path, O_RDONLY)
    guard fd >= 0 else { return ("", []) }
    defer { close(fd) }
    var st = stat()
    fstat(fd, &st)
    func read(_ at: Int, _ n: Int) -> [UInt8] {
        var b = [UInt8](repeating: 0, count: n)
        return pread(fd, &b, n, off_t(at)) == n ? b : []
    }
    let head = read(0, 12)
    guard head.count == 12 else { return ("", []) }
    var out: [RIFFChunk] = []
    var pos = 12
    var ds64Data: Int?
    while pos + 8 <= Int(st.st_size) {
        let h = read(pos, 8)
        let id = String(decoding: h[0..<4], as: UTF8.self)
        let size = Int(le(h, 4, 4))
        out.append(RIFFChunk(id: id, offset: pos, size: size))
        if id == "ds64" { ds64Data = Int(le(read(pos + 8, 24), 8, 8)) }
        let length = id == "data" && size == 0xFFFF_FFFF ? (ds64Data ?? 0) : size
        pos += 8 + length + (length & 1)
    }
    return (String(decoding: head[0..<4], as: UTF8.self), out)
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
