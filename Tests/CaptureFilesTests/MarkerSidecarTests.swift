// Markers survive a crash: a line-based sidecar beside the recording, synced with checkpoints,
// folded into the file at finish and by `recover`.
import CaptureCore
@testable import CaptureFiles
import Foundation
import Glibc
import Testing

/// The cue points and their labels in a WAV/RF64 file, by a byte-level walk.
func cuePoints(_ path: String) -> [RecordingMarker] {
    let walk = riffChunks(path).chunks
    guard let cue = walk.first(where: { $0.id == "cue " }), let list = walk.first(where: { $0.id == "LIST" }) else { return [] }
    let fd = open(path, O_RDONLY)
    defer { close(fd) }
    func read(_ at: Int, _ n: Int) -> [UInt8] { var b = [UInt8](repeating: 0, count: n); pread(fd, &b, n, off_t(at)); return b }
    let c = read(cue.offset + 8, cue.size)
    var frames: [UInt64: Int] = [:]
    for i in 0..<Int(le(c, 0, 4)) { frames[le(c, 4 + 24 * i, 4)] = Int(le(c, 4 + 24 * i + 20, 4)) }
    let l = read(list.offset + 8, list.size)
    var out: [RecordingMarker] = []
    var pos = 4
    while pos + 12 <= l.count {
        let size = Int(le(l, pos + 4, 4))
        let name = le(l, pos + 8, 4)
        let text = l[(pos + 12)..<(pos + 8 + size)].prefix { $0 != 0 }
        out.append(RecordingMarker(frame: frames[name] ?? -1, label: String(decoding: text, as: UTF8.self)))
        pos += 8 + size + (size & 1)
    }
    return out
}

@Suite struct MarkerSidecarTests {
    /// Item 17: markers added while recording are in `take.wav.markers` (0600) by the next
    /// checkpoint; a crash copy of both is recovered with its cue points and the sidecar removed;
    /// the live recording's finish folds them in and removes its sidecar too.
    @Test func markersSurviveACrash() throws {
        let dir = TempDir()
        let format = StreamFormat(sampleFormat: .s16LE, sampleRate: 48000, channels: 2)
        let path = dir.file("take.wav")
        let markers = [RecordingMarker(frame: 100, label: "device back after 1503 ms"),
                       RecordingMarker(frame: 2000, label: "tab\there, new\nline, back\\slash")]
        let (rec, _) = try recordPattern(path, format, .wav, frames: 4800, finish: false)
        for m in markers { rec.addMarker(m) }
        try rec.checkpoint()
        let sidecar = path + ".markers"
        var st = stat()
        #expect(lstat(sidecar, &st) == 0 && st.st_mode & 0o777 == 0o600, "sidecar beside the recording, private")
        let more = patternFrames(format, frames: 100)
        try more.withUnsafeBytes { try rec.write($0.baseAddress!, count: 100) }
        // The crash, after audio past the checkpoint: what is on disk now, recording and sidecar.
        let crashed = dir.file("crashed.wav")
        try FileManager.default.copyItem(atPath: path, toPath: crashed)
        try FileManager.default.copyItem(atPath: sidecar, toPath: crashed + ".markers")
        try rec.finish()
        #expect(cuePoints(path) == markers)
        #expect(access(sidecar, F_OK) != 0, "removed at finish")

        guard case .repaired = Recovery.recover(path: crashed) else { Issue.record("recover"); return }
        #expect(cuePoints(crashed) == markers)
        #expect(access(crashed + ".markers", F_OK) != 0, "removed by recover")
        #expect(Recovery.recover(path: crashed) == .alreadyComplete(container: "WAV", frames: 4900))
        let ff = try #require(ffprobe(crashed))
        #expect(ff.fields["duration_ts"] == "4900" && ff.warnings.isEmpty, "\(ff)")
    }
}
