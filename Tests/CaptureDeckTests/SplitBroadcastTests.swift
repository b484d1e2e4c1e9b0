// Each part of a split WAV take carries the take's bext chunk with its own first sample's time:
// TimeReference = the first part's + the frames of the parts before it, exactly; the same
// description and coding history; and the take's tags. Read back from the bytes.
@testable import CaptureDeck
import CaptureCore
import CaptureFiles
import CaptureTestSupport
import Foundation
import Testing

@Suite(.serialized) struct SplitBroadcastTests {
    /// The bext chunk's TimeReference and Description, and whether a LIST chunk is there, parsed
    /// from the file's bytes (Tech 3285's layout: Description 256, Originator 32, Reference 32,
    /// Date 10, Time 8, TimeReference low/high at 338).
    func bext(_ path: String) throws -> (timeReference: UInt64, description: String, hasList: Bool, history: [String]) {
        let b = [UInt8](try Data(contentsOf: URL(fileURLWithPath: path)))
        var at = 12, found: (UInt64, String, [String])?, list = false
        while at + 8 <= b.count {
            let id = String(decoding: b[at..<at + 4], as: UTF8.self)
            let size = Int(b[at + 4]) | Int(b[at + 5]) << 8 | Int(b[at + 6]) << 16 | Int(b[at + 7]) << 24
            let body = at + 8
            if id == "bext" {
                func u32(_ o: Int) -> UInt64 { UInt64(b[o]) | UInt64(b[o + 1]) << 8 | UInt64(b[o + 2]) << 16 | UInt64(b[o + 3]) << 24 }
                let tr = u32(body + 338) | u32(body + 342) << 32
                let desc = String(decoding: b[body..<body + 256].prefix { $0 != 0 }, as: UTF8.self)
                let history = String(decoding: b[(body + 602)..<(body + size)].prefix { $0 != 0 }, as: UTF8.self)
                found = (tr, desc, history.components(separatedBy: "\r\n").dropLast().map { $0 })
            }
            if id == "LIST" { list = true }
            if id == "data" { break }
            at = body + size + (size & 1)
        }
        let f = try #require(found, "\(path) has a bext chunk")
        return (f.0, f.1, list, f.2)
    }

    @Test func everyPartHasTheTakesBextAtItsOwnFirstSample() throws {
        let dir = try tempDir("split-bext")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let out = CaptureAudioFileOutput(format: liveFormat)
        out.splitFrames = 4_800
        let finished = FinishedLog()
        out.setRecordingFinishedHandler { finished.add($0) }
        let info = BroadcastInfo(startedAt: timespec(tv_sec: 1_700_000_000, tv_nsec: 250_000_000), description: "split take", source: "test")
        try out.startRecording(to: dir + "/take.wav", fileType: .wav, tags: [.title: "Split"], broadcast: info)
        let ref = reference(.pink(level: -18), frames: 12_000)
        var at = 0
        while at < 12_000 {
            let n = min(1_000, 12_000 - at)
            try ref.withUnsafeBytes { try out.write($0.baseAddress! + at * 4, count: n) }
            at += n
        }
        try out.stopRecording()
        try waitUntil("every part reported") { finished.all.last.map { $0.reason != .split } == true }
        let parts = finished.all
        #expect(parts.count == 3)
        let first = info.timeReference(rate: liveFormat.sampleRate)
        var before: UInt64 = 0
        for p in parts {
            let b = try bext(p.path)
            #expect(b.timeReference == first + before, "\(p.path): TimeReference is the take's + the frames before the part")
            #expect(b.description == "split take")
            #expect(b.hasList, "\(p.path) keeps the take's tags")
            before += UInt64(p.frames)
        }
    }

    /// Route changes' lines (their markers carry the route) go into the part their frame falls
    /// in, at the checkpoint after; each later part starts with the take's history so far. The
    /// times are on the take's timeline (a line's time is the same in every part).
    @Test func everyPartCarriesTheRouteHistoryUpToItsStart() throws {
        let dir = try tempDir("split-history")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let out = CaptureAudioFileOutput(format: liveFormat)
        out.splitFrames = 4_800
        let finished = FinishedLog()
        out.setRecordingFinishedHandler { finished.add($0) }
        let info = BroadcastInfo(startedAt: timespec(tv_sec: 1_700_000_000, tv_nsec: 250_000_000), source: "toneA")
        try out.startRecording(to: dir + "/take.wav", fileType: .wav, broadcast: info)
        let toneB = RouteNote(route: Route(pcm: "toneB", kind: .shared), format: liveFormat)
        let toneA = RouteNote(route: Route(pcm: "toneA", kind: .exclusive), format: liveFormat)
        let ref = reference(.pink(level: -18), frames: 12_000)
        var at = 0
        while at < 12_000 {
            let n = min(1_000, 12_000 - at)
            try ref.withUnsafeBytes { try out.write($0.baseAddress! + at * 4, count: n) }
            at += n
            if at == 3_000 { out.addMarker(RecordingMarker(frame: 2_000, label: "route: toneA -> toneB", route: toneB)) }
            if at == 7_000 { out.addMarker(RecordingMarker(frame: 6_000, label: "route: toneB -> toneA", route: toneA)) }
            try out.checkpoint()
        }
        try out.stopRecording()
        try waitUntil("every part reported") { finished.all.last.map { $0.reason != .split } == true }
        let parts = finished.all
        try #require(parts.count == 3)
        let first = "A=PCM,F=48000,W=16,M=stereo,T=CaptureDeck \(BroadcastInfo.captureDeckVersion); toneA"
        let lineB = info.routeLine(toneB, atFrame: 2_000, rate: 48_000), lineA = info.routeLine(toneA, atFrame: 6_000, rate: 48_000)
        let sndfile = "A=PCM,F=48000,W=16,M=stereo,T=libsndfile-1.2.0"
        #expect(lineB.hasSuffix(" toneB (shared route) at " + timeOfDay(info, plusFrames: 2_000)), "\(lineB)")
        let expected = [[first, lineB, sndfile], [first, lineB, lineA, sndfile], [first, lineB, lineA, sndfile]]
        for (p, want) in zip(parts, expected) {
            #expect(try bext(p.path).history == want, "\(p.path)")
        }
    }

    /// hh:mm:ss.mmm, local, of `info`'s first sample plus `frames` at 48 kHz (worked out with the C
    /// library here).
    func timeOfDay(_ info: BroadcastInfo, plusFrames frames: Int) -> String {
        let ns = Int(info.startedAt.tv_nsec) + frames * 1_000_000_000 / 48_000
        var t = info.startedAt.tv_sec + ns / 1_000_000_000
        var lt = tm()
        localtime_r(&t, &lt)
        return String(format: "%02d:%02d:%02d.%03d", lt.tm_hour, lt.tm_min, lt.tm_sec, ns % 1_000_000_000 / 1_000_000)
    }
}
