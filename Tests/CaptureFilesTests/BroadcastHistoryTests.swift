// The bext coding history kept current: a line per route change, written at the next
// checkpoint into a chunk that never changes size (the audio after it never moves), its padding
// NULs; kept by `recover`; the reserve's limit. The iXML chunk, and CAF's info strings. Read
// back by Python from the bytes, wavinfo, ffprobe, mediainfo and sox.
import CaptureCore
import CaptureFiles
import Foundation
import Glibc
import Testing

/// Python's view of a WAV: the bext history's raw bytes (hex) and the chunk's size, the data
/// chunk's offset and size, and every iXML chunk's text.
private let layoutScript = #"""
import json, struct, sys, hashlib
b = open(sys.argv[1], 'rb').read()
pos, out = 12, dict(ixml=[])
while pos + 8 <= len(b):
    cid, size = b[pos:pos+4], struct.unpack('<I', b[pos+4:pos+8])[0]
    if cid == b'bext':
        out['bextSize'] = size
        out['history'] = b[pos+8+602:pos+8+size].hex()
    if cid == b'iXML':
        out['ixml'].append(b[pos+8:pos+8+size].decode('utf-8'))
    if cid == b'data':
        out['dataOffset'] = pos + 8
        out['dataSize'] = size
        break
    pos += 8 + size + (size & 1)
print(json.dumps(out))
"""#

private struct Layout {
    var bextSize: Int
    var history: [UInt8]
    var dataOffset: Int
    /// The data chunk's bytes, read at the offset Python found.
    var audio: [UInt8]
    var ixml: [String]
    /// The history's text: the bytes before the first NUL.
    var text: String { String(decoding: history.prefix { $0 != 0 }, as: UTF8.self) }
    /// Its lines (CRLF-terminated), without the ends.
    var lines: [String] { text.components(separatedBy: "\r\n").dropLast().map { $0 } }
}

private func layout(_ path: String) throws -> Layout {
    let r = try #require(runTool("/usr/bin/python3", ["-c", layoutScript, path]))
    try #require(r.status == 0, "\(r.err)")
    let o = try #require(JSONSerialization.jsonObject(with: Data(r.out.utf8)) as? [String: Any])
    let hex = o["history"] as? String ?? ""
    var bytes: [UInt8] = []
    var i = hex.startIndex
    while i < hex.endIndex {
        let j = hex.index(i, offsetBy: 2)
        bytes.append(UInt8(hex[i..<j], radix: 16)!)
        i = j
    }
    let offset = o["dataOffset"] as? Int ?? -1, size = o["dataSize"] as? Int ?? 0
    let all = [UInt8](try Data(contentsOf: URL(fileURLWithPath: path)))
    let audio = offset >= 0 && offset + size <= all.count ? Array(all[offset..<(offset + size)]) : []
    return Layout(bextSize: o["bextSize"] as? Int ?? -1, history: bytes, dataOffset: offset, audio: audio, ixml: o["ixml"] as? [String] ?? [])
}

/// 12:34:56.789 local on a fixed day (as BroadcastWaveTests).
private func fixedStart() -> timespec {
    var t = tm()
    t.tm_year = 2026 - 1900; t.tm_mon = 5; t.tm_mday = 17; t.tm_hour = 12; t.tm_min = 34; t.tm_sec = 56; t.tm_isdst = -1
    return timespec(tv_sec: mktime(&t), tv_nsec: 789_000_000)
}

private func wavinfoHistory(_ path: String) throws -> String {
    let script = "import sys; from wavinfo import WavInfoReader; sys.stdout.write(WavInfoReader(sys.argv[1]).bext.coding_history)"
    let r = try #require(runTool("/usr/bin/env", ["python3", "-c", script, path]))
    try #require(r.status == 0, "wavinfo (pip install wavinfo): \(r.err)")
    return r.out
}

@Suite struct BroadcastHistoryTests {
    let format = StreamFormat(sampleFormat: .s16LE, sampleRate: 48000, channels: 2)
    let toneB = RouteNote(route: Route(pcm: "toneB", kind: .shared), format: StreamFormat(sampleFormat: .s16LE, sampleRate: 44100, channels: 1))
    let toneA = RouteNote(route: Route(pcm: "toneA", kind: .exclusive), format: StreamFormat(sampleFormat: .s24_3LE, sampleRate: 48000, channels: 2))
    let libsndfileLine = "A=PCM,F=48000,W=16,M=stereo,T=libsndfile-1.2.0"

    private func write(_ rec: SndfileRecorder, _ data: [UInt8], from: Int, count: Int) throws {
        try data.withUnsafeBytes { try rec.write($0.baseAddress! + from * format.bytesPerFrame, count: count) }
    }

    /// A route change's marker adds its line at the next checkpoint: a crash copy taken then has
    /// it (and `recover` keeps the chunk byte for byte), the finished file too; the chunk keeps
    /// its size and the data chunk its offset from the first frame on, the audio is exactly what
    /// was written, and the padding is NULs (no line has trailing spaces). wavinfo and ffprobe
    /// read the same lines.
    @Test func routeChangesJoinTheHistoryAtTheNextCheckpoint() throws {
        let dir = TempDir()
        let info = BroadcastInfo(startedAt: fixedStart(), description: "Route take", source: "toneA")
        let path = dir.file("take.wav")
        let rec = try SndfileRecorder(path: path, format: format, fileType: .wav, broadcast: info)
        let data = patternFrames(format, frames: 96_000)
        try write(rec, data, from: 0, count: 48_000)
        try rec.checkpoint()
        let before = try layout(path)
        let first = "A=PCM,F=48000,W=16,M=stereo,T=CaptureDeck \(BroadcastInfo.captureDeckVersion); toneA"
        #expect(before.lines == [first, libsndfileLine], "\(before.text.debugDescription)")

        // Frame 30000 at 48 kHz is 0.625 s after 12:34:56.789.
        rec.addMarker(RecordingMarker(frame: 30_000, label: "route: toneA -> toneB (gap 0 ms)", route: toneB))
        let line = "A=PCM,F=44100,W=16,M=mono,T=CaptureDeck \(BroadcastInfo.captureDeckVersion); toneB (shared route) at 12:34:57.414"
        #expect(rec.broadcast?.routeHistory == [line])
        #expect(try layout(path).lines == [first, libsndfileLine], "written at the next checkpoint, not on the marker")
        try write(rec, data, from: 48_000, count: 24_000)
        try rec.checkpoint()
        let crashed = dir.file("crashed.wav")
        try FileManager.default.copyItem(atPath: path, toPath: crashed)
        let after = try layout(crashed)
        #expect(after.lines == [first, line, libsndfileLine], "\(after.text.debugDescription)")
        #expect(after.bextSize == before.bextSize && after.dataOffset == before.dataOffset, "the chunk's size and the audio's place don't change")
        #expect(after.bextSize == 602 + BroadcastInfo.codingHistoryCapacity + libsndfileLine.utf8.count + 2)
        let used = after.text.utf8.count
        #expect(after.history[used...].allSatisfy { $0 == 0 }, "the padding is NULs")
        #expect(!after.text.contains(" \r\n"), "no trailing spaces")
        #expect(after.audio == Array(data[0..<(72_000 * 4)]), "the audio is what was written, at its place")

        // recover: the header made whole, the chunk as it was (the audio past the checkpoint too).
        try write(rec, data, from: 72_000, count: 1_000)
        try FileManager.default.removeItem(atPath: crashed)
        try FileManager.default.copyItem(atPath: path, toPath: crashed)
        let crashBext = try layout(crashed)
        guard case .repaired(_, _, let frames, _) = Recovery.recover(path: crashed) else { Issue.record("not repaired"); return }
        #expect(frames == 73_000)
        let recovered = try layout(crashed)
        #expect(recovered.history == crashBext.history && recovered.lines == [first, line, libsndfileLine])
        #expect(recovered.audio == Array(data[0..<(73_000 * 4)]))

        // Another change, then finish: the last lines are written with the final header.
        try write(rec, data, from: 73_000, count: 23_000)
        rec.addMarker(RecordingMarker(frame: 90_000, label: "route: toneB -> toneA (gap 0 ms)", route: toneA))
        try rec.finish()
        let done = try layout(path)
        let back = "A=PCM,F=48000,W=24,M=stereo,T=CaptureDeck \(BroadcastInfo.captureDeckVersion); toneA (exclusive route) at 12:34:58.664"
        #expect(done.lines == [first, line, back, libsndfileLine], "\(done.text.debugDescription)")
        #expect(done.dataOffset == before.dataOffset && done.bextSize == before.bextSize)
        #expect(done.audio == data)
        #expect(try wavinfoHistory(path) == done.text, "wavinfo reads the same lines")
        let ff = try #require(ffprobe(path, entries: "format_tags"), "ffprobe missing")
        #expect(ff.fields["TAG:coding_history"]?.hasPrefix(first + "\r\n" + line + "\r\n" + back + "\r\n") == true, "\(ff)")
        let mi = try #require(runTool("/usr/bin/mediainfo", ["--Inform=General;%Encoded_Library_Settings%", path]), "mediainfo missing")
        #expect(mi.out.trimmingCharacters(in: .whitespacesAndNewlines) == [first, line, back, libsndfileLine].joined(separator: " / "), "mediainfo: \(mi.out)")
        #expect(Recovery.readableFrames(path: path).frames == 96_000)
        // sox decodes the audio exactly (nothing of the header taken for samples).
        let sox = try #require(soxDecode(path), "sox missing")
        let expected = (0..<(96_000 * 2)).map { UInt32(UInt16(data[2 * $0]) | UInt16(data[2 * $0 + 1]) << 8) << 16 }
        #expect(sox == expected)
    }

    /// The reserve holds about 30 changes; later ones are left out (counted), every line in the
    /// file whole, the chunk's size never changing, the audio exact.
    @Test func aFullReserveLeavesLaterChangesOut() throws {
        let dir = TempDir()
        let info = BroadcastInfo(startedAt: fixedStart(), source: "toneA")
        let path = dir.file("many.wav")
        let rec = try SndfileRecorder(path: path, format: format, fileType: .wav, broadcast: info)
        let data = patternFrames(format, frames: 48_000)
        try write(rec, data, from: 0, count: 1_000)
        try rec.checkpoint()
        let start = try layout(path)
        for i in 0..<60 {
            let long = RouteNote(route: Route(pcm: "pulse:" + String(repeating: "x", count: 60) + "\(i)", kind: .shared), format: toneB.format)
            rec.addMarker(RecordingMarker(frame: 1_000 + i, label: "route", route: long))
        }
        #expect(rec.routeLinesLeftOut > 0 && rec.routeLinesLeftOut < 60, "\(rec.routeLinesLeftOut)")
        let kept = 60 - rec.routeLinesLeftOut
        try write(rec, data, from: 1_000, count: 47_000)
        try rec.checkpoint()
        let mid = try layout(path)
        #expect(mid.bextSize == start.bextSize && mid.dataOffset == start.dataOffset)
        try rec.finish()
        let l = try layout(path)
        #expect(l.bextSize == start.bextSize && l.dataOffset == start.dataOffset)
        #expect(l.lines.count == 1 + kept + 1, "\(l.lines.count) lines")
        #expect(l.lines.last == libsndfileLine)
        for (i, line) in l.lines.dropFirst().dropLast().enumerated() {
            #expect(line.contains("x\(i) (shared route) at 12:34:56."), "\(line)")
        }
        #expect(l.text.utf8.count - libsndfileLine.utf8.count - 2 <= BroadcastInfo.codingHistoryCapacity)
        #expect(l.audio == data)
    }

    /// A line is at most 256 bytes, its T= text cut at a character; commas and line breaks in a
    /// device's name become spaces (Tech 3285: no commas in T=).
    @Test func aLineIsCleanAndBounded() {
        let info = BroadcastInfo(startedAt: fixedStart())
        let name = "Mikrofon, Büro\r\n" + String(repeating: "é", count: 200)
        let line = info.routeLine(RouteNote(route: Route(pcm: name, kind: .bluetoothHQ), format: toneB.format), atFrame: 0, rate: 48_000)
        #expect(line.utf8.count + 2 <= BroadcastInfo.codingHistoryLineLimit && line.utf8.count + 2 >= BroadcastInfo.codingHistoryLineLimit - 1)
        #expect(line.hasPrefix("A=PCM,F=44100,W=16,M=mono,T=CaptureDeck \(BroadcastInfo.captureDeckVersion); Mikrofon  Büro é"), "\(line)")
        #expect(!line.dropFirst(30).contains(",") && !line.contains("\r") && !line.contains("\n"))
    }

    /// The next part of a split take is made ahead and restamped before its first frame with the
    /// take's history so far: the chunk stays the same size, the history is whole.
    @Test func aRestampCarriesTheHistory() throws {
        let dir = TempDir()
        var info = BroadcastInfo(startedAt: fixedStart(), source: "toneA")
        let path = dir.file("part2.wav")
        let rec = try SndfileRecorder(path: path, format: format, fileType: .wav, broadcast: info)
        // The file's OriginatorReference, made at creation, is kept when the chunk is written again.
        #expect(rec.broadcast?.originatorReference?.count == 32)
        info.originatorReference = rec.broadcast?.originatorReference
        let empty = try layout(path)
        let line = info.routeLine(toneB, atFrame: 100, rate: 48_000)
        let added = info.addRouteLine(line, format: format, fileFormat: FileSampleFormat(sampleFormat: .s16LE))
        #expect(added)
        info.sampleOffset = 48_000
        rec.restampBroadcast(info)
        #expect(rec.broadcast == info)
        try write(rec, patternFrames(format, frames: 480), from: 0, count: 480)
        try rec.finish()
        let l = try layout(path)
        #expect(l.bextSize == empty.bextSize)
        #expect(l.lines.count == 3 && l.lines[1] == line, "\(l.lines)")
    }

    /// iXML: one chunk, set before the first frame, after the restamp: NOTE, PROJECT, the file's
    /// rate and depth, samples since midnight equal to the bext TimeReference, one track per
    /// channel; unchanged through checkpoints and `recover`; wavinfo reads it (ffprobe and
    /// mediainfo 23 show no iXML).
    @Test(arguments: [SampleFormat.s16LE, .floatLE])
    func iXMLMatchesTheBext(sampleFormat: SampleFormat) throws {
        let dir = TempDir()
        let f = StreamFormat(sampleFormat: sampleFormat, sampleRate: 48000, channels: 3)
        var info = BroadcastInfo(startedAt: fixedStart(), description: "Dawn <chorus> & wind", source: "toneA")
        let path = dir.file("ixml.wav")
        let rec = try SndfileRecorder(path: path, format: f, fileType: .wav, tags: [.title: "Wald"], broadcast: info)
        #expect(try layout(path).ixml.isEmpty, "not before the first frame")
        info.startedAt.tv_sec += 7  // the first frame's time, as FileOutput restamps it
        rec.restampBroadcast(info)
        let data = patternFrames(f, frames: 4_800)
        try data.withUnsafeBytes { try rec.write($0.baseAddress!, count: 4_800) }
        try rec.checkpoint()
        let once = try layout(path)
        #expect(once.ixml.count == 1)
        try data.withUnsafeBytes { try rec.write($0.baseAddress!, count: 4_800) }
        try rec.checkpoint()
        let crashed = dir.file("crashed.wav")
        try FileManager.default.copyItem(atPath: path, toPath: crashed)
        try rec.finish()
        let script = #"""
        import sys, json, xml.etree.ElementTree as ET
        x = ET.fromstring(sys.argv[1])
        g = lambda p: x.findtext(p)
        print(json.dumps(dict(note=g('NOTE'), project=g('PROJECT'), rate=g('SPEED/FILE_SAMPLE_RATE'), bits=g('SPEED/AUDIO_BIT_DEPTH'),
            hi=g('SPEED/TIMESTAMP_SAMPLES_SINCE_MIDNIGHT_HI'), lo=g('SPEED/TIMESTAMP_SAMPLES_SINCE_MIDNIGHT_LO'),
            tsr=g('SPEED/TIMESTAMP_SAMPLE_RATE'), count=g('TRACK_LIST/TRACK_COUNT'),
            tracks=[(t.findtext('CHANNEL_INDEX'), t.findtext('INTERLEAVE_INDEX')) for t in x.findall('TRACK_LIST/TRACK')])))
        """#
        for p in [path, crashed] {
            if p == crashed { _ = Recovery.recover(path: crashed) }
            let l = try layout(p)
            try #require(l.ixml.count == 1, "\(p): \(l.ixml.count) iXML chunks")
            #expect(l.dataOffset == once.dataOffset)
            let r = try #require(runTool("/usr/bin/python3", ["-c", script, l.ixml[0]]))
            try #require(r.status == 0, "\(r.err)")
            let x = try #require(JSONSerialization.jsonObject(with: Data(r.out.utf8)) as? [String: Any])
            let tr = info.timeReference(rate: 48000)
            #expect(x["note"] as? String == "Dawn <chorus> & wind" && x["project"] as? String == "Wald", "\(x)")
            #expect(x["rate"] as? String == "48000" && x["tsr"] as? String == "48000")
            #expect(x["bits"] as? String == (sampleFormat == .floatLE ? "32" : "16"))
            #expect(x["hi"] as? String == "\(tr >> 32)" && x["lo"] as? String == "\(tr & 0xFFFF_FFFF)", "\(x) vs \(tr)")
            #expect(x["count"] as? String == "3")
            #expect((x["tracks"] as? [[String]]) == [["1", "1"], ["2", "2"], ["3", "3"]])
        }
        let wi = try #require(runTool("/usr/bin/env", ["python3", "-c",
            "import sys, json; from wavinfo import WavInfoReader; i = WavInfoReader(sys.argv[1]).ixml; print(json.dumps(dict(project=i.project, tracks=len(list(i.track_list)))))", path]))
        try #require(wi.status == 0, "wavinfo: \(wi.err)")
        #expect(wi.out.contains("\"project\": \"Wald\"") && wi.out.contains("\"tracks\": 3"), "\(wi.out)")
    }

    /// CAF: the description, the originator and the origination date and time in its info
    /// chunk (ffprobe's format tags); a tag given wins; restamped before the first frame.
    @Test func cafInfoCarriesTheBext() throws {
        let dir = TempDir()
        var info = BroadcastInfo(startedAt: fixedStart(), description: "Field take", source: "toneA")
        let path = dir.file("take.caf")
        let rec = try SndfileRecorder(path: path, format: format, fileType: .caf, broadcast: info)
        info.startedAt.tv_sec += 3600
        rec.restampBroadcast(info)
        try write(rec, patternFrames(format, frames: 4_800), from: 0, count: 4_800)
        try rec.checkpoint()
        try rec.finish()
        let tags = try #require(ffprobeTags(path), "ffprobe missing")
        #expect(tags["comment"] == "Field take", "\(tags)")
        #expect(tags["date"] == "2026-06-17T13:34:56", "\(tags)")
        #expect(tags["software"] == "CaptureDeck \(BroadcastInfo.captureDeckVersion) (libsndfile-1.2.0)", "\(tags)")

        let given = dir.file("given.caf")
        try SndfileRecorder(path: given, format: format, fileType: .caf, tags: [.comment: "mine", .date: "2020"], broadcast: info).finish()
        let g = try #require(ffprobeTags(given))
        #expect(g["comment"] == "mine" && g["date"] == "2020", "\(g)")
    }
}
