// Splitting a recording into parts: by frames, by size and on demand, the parts concatenated
// are exactly the frames one file would hold (compared sample by sample with the source), each
// part a finished file of its own, named with its number and never over an existing file;
// markers land in the part that holds their frame, at its part-relative frame.
@testable import CaptureDeck
import CaptureCore
import CaptureFiles
import CaptureTestSupport
import Foundation
import Glibc
import Synchronization
import Testing

@Suite(.serialized) struct FileOutputSplitTests {
    static let pink = TestSignal.pink(level: -18)

    /// Feeds `out` the source's frames 0..<total directly (as the writer queue does), in batches
    /// of the given sizes (cycled), calling `between` after each batch with the frames so far.
    func feed(_ out: CaptureAudioFileOutput, total: Int, batches: [Int], between: (Int) throws -> Void = { _ in }) throws {
        let ref = reference(Self.pink, frames: total)
        var at = 0, k = 0
        while at < total {
            let n = min(batches[k % batches.count], total - at)
            try ref.withUnsafeBytes { try out.write($0.baseAddress! + at * 4, count: n) }
            at += n
            k += 1
            try between(at)
        }
    }

    /// The parts reported, in order, read back and concatenated; checks each is a finished file.
    func concatenated(_ parts: [FinishedRecording]) throws -> [Int16] {
        var all: [Int16] = []
        for p in parts {
            let back = try #require(ReadBack.read(p.path), "\(p.path) opens")
            #expect(back.frames == p.frames, "\(p.path): the header covers every frame")
            all += back.samples
        }
        return all
    }

    func record(split: (CaptureAudioFileOutput) -> Void, total: Int, batches: [Int]) throws -> (dir: String, parts: [FinishedRecording], slowestSeam: Int) {
        let dir = try tempDir("split")
        let out = CaptureAudioFileOutput(format: liveFormat)
        split(out)
        let finished = FinishedLog()
        out.setRecordingFinishedHandler { finished.add($0) }
        try out.startRecording(to: dir + "/take.wav", fileType: .wav)
        try feed(out, total: total, batches: batches)
        try out.stopRecording()
        try waitUntil("every part reported") { finished.all.last.map { $0.reason != .split } == true }
        return (dir, finished.all, out.slowestSeamCreateNanos)
    }

    /// `record` prints its saved line as the last after every part's: a handler slower than the
    /// parts come (1 ms each, 300 parts in a few ms) has them all once the wait returns.
    @Test func waitForFinishedNotificationsReturnsAfterEveryPartReachedTheHandler() throws {
        let dir = try tempDir("split-wait")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let out = CaptureAudioFileOutput(format: liveFormat)
        out.splitFrames = 10
        let finished = FinishedLog()
        out.setRecordingFinishedHandler { usleep(1_000); finished.add($0) }
        try out.startRecording(to: dir + "/take.wav", fileType: .wav)
        try feed(out, total: 3_000, batches: [10])
        try out.stopRecording()
        out.waitForFinishedNotifications()
        #expect(finished.all.count == 300, "\(finished.all.count) of 300 reported")
        #expect(finished.all.last?.reason != .split)
    }

    @Test(arguments: [(1, [441]), (997, [480, 1, 4096]), (4800, [4800]), (12_345, [1024, 333])])
    func splitsByFramesConcatenateToTheSource(length: Int, batches: [Int]) throws {
        let total = 3 * length + length / 2 + 7
        let (dir, parts, slowest) = try record(split: { $0.splitFrames = length }, total: min(total, 20_000), batches: batches)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let total2 = min(total, 20_000)
        let count = (total2 + length - 1) / length
        #expect(parts.count == count)
        for (i, p) in parts.enumerated() {
            #expect(p.path == dir + "/" + FileNaming.partCandidate(of: "take.wav", part: i + 1, attempt: 0))
            #expect(p.frames == (i < count - 1 ? length : total2 - length * (count - 1)))
            #expect(p.reason == (i < count - 1 ? .split : .stopped))
            #expect(p.part?.index == i + 1 && p.part?.framesBefore == i * length && p.part?.streamFrame == i * length)
        }
        let all = try concatenated(parts)
        #expect(firstDifference(all[...], reference(Self.pink, frames: total2)[...]) == nil)
        // Fed faster than real time, some seams came before their part was made ahead: made on the
        // writer then, far inside the ring's 2 s.
        #expect(slowest < 200_000_000, "\(slowest) ns")
        let names = try FileManager.default.contentsOfDirectory(atPath: dir).sorted()
        #expect(names == parts.map { String($0.path.split(separator: "/").last!) }.sorted(), "no spare part left behind")
    }

    /// 40,002 bytes of 4-byte frames: parts of 10,000 frames; 7 bytes: one frame each is the least.
    @Test(arguments: [(40_002, 10_000), (4 * 777 + 3, 777), (3, 1)])
    func splitsBySizeConcatenateToTheSource(bytes: Int, frames: Int) throws {
        let total = min(25_003, frames * 5 + 2)
        let (dir, parts, _) = try record(split: { $0.splitFileSize = bytes }, total: total, batches: [960, 17])
        defer { try? FileManager.default.removeItem(atPath: dir) }
        #expect(parts.dropLast().allSatisfy { $0.frames == frames && $0.reason == .split })
        #expect(parts.map(\.frames).reduce(0, +) == total)
        #expect(firstDifference(try concatenated(parts)[...], reference(Self.pink, frames: total)[...]) == nil)
    }

    /// Apple's limit still ends the recording, counting every part; splitting doesn't restart it.
    @Test func durationLimitCountsEveryPart() throws {
        let (dir, parts, _) = try record(split: { $0.splitFrames = 4000; $0.maxRecordedFrames = 10_000 }, total: 20_000, batches: [1500])
        defer { try? FileManager.default.removeItem(atPath: dir) }
        #expect(parts.map(\.frames) == [4000, 4000, 2000])
        #expect(parts.map(\.reason) == [.split, .split, .maximumDurationReached])
        #expect(firstDifference(try concatenated(parts)[...], reference(Self.pink, frames: 10_000)[...]) == nil)
    }

    /// `splitRecording()` makes the next part's file at once and the writer's next frame begins
    /// it; a split before the part's first frame does nothing.
    @Test func splitOnDemandStartsTheNextPartAtTheNextFrame() throws {
        let dir = try tempDir("split")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let out = CaptureAudioFileOutput(format: liveFormat)
        let finished = FinishedLog()
        out.setRecordingFinishedHandler { finished.add($0) }
        try out.startRecording(to: dir + "/take.wav", fileType: .wav)
        #expect(try out.splitRecording() == nil, "nothing to split yet")
        var asked: [Int] = []
        try feed(out, total: 30_000, batches: [700]) { at in
            if at == 7000 || at == 21_000 {
                let next = try #require(try out.splitRecording())
                #expect(FileManager.default.fileExists(atPath: next), "made before the seam")
                asked.append(at)
            }
        }
        #expect(out.currentPart?.index == 3 && out.currentPart?.framesBefore == 21_000)
        try out.stopRecording()
        try waitUntil("every part reported") { finished.all.count == 3 }
        let parts = finished.all
        #expect(parts.map(\.frames) == [7000, 14_000, 9000])
        #expect(parts.map(\.path) == ["take-001.wav", "take-002.wav", "take-003.wav"].map { dir + "/" + $0 })
        #expect(!FileManager.default.fileExists(atPath: dir + "/take.wav"), "the first part took its number")
        #expect(firstDifference(try concatenated(parts)[...], reference(Self.pink, frames: 30_000)[...]) == nil)
    }

    /// Never over an existing file: a taken part name gets the collision number.
    @Test func partNamesSkipExistingFiles() throws {
        let dir = try tempDir("split")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        for n in ["take-001.wav", "take-002.wav"] { try Data("keep".utf8).write(to: URL(fileURLWithPath: dir + "/" + n)) }
        let (d2, parts) = try { () throws -> (String, [FinishedRecording]) in
            let out = CaptureAudioFileOutput(format: liveFormat)
            out.splitFrames = 1000
            let finished = FinishedLog()
            out.setRecordingFinishedHandler { finished.add($0) }
            try out.startRecording(to: dir + "/take.wav", fileType: .wav)
            try feed(out, total: 2500, batches: [256])
            try out.stopRecording()
            try waitUntil("every part reported") { finished.all.count == 3 }
            return (dir, finished.all)
        }()
        #expect(parts.map(\.path) == ["take-001-1.wav", "take-002-1.wav", "take-003.wav"].map { d2 + "/" + $0 })
        for n in ["take-001.wav", "take-002.wav"] {
            #expect(try String(contentsOfFile: dir + "/" + n, encoding: .utf8) == "keep")
        }
        #expect(FileNaming.partCandidate(of: "/a.b/take", part: 12, attempt: 0) == "/a.b/take-012")
        #expect(FileNaming.partCandidate(of: "x.flac", part: 1234, attempt: 2) == "x-1234-2.flac")
    }

    /// Markers go to the part holding their frame, at the frame counted from that part's start;
    /// one waiting for its frame goes to the part that frame begins.
    @Test func markersLandInTheirPart() throws {
        let dir = try tempDir("split")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let out = CaptureAudioFileOutput(format: liveFormat)
        out.splitFrames = 1000
        let finished = FinishedLog()
        out.setRecordingFinishedHandler { finished.add($0) }
        try out.startRecording(to: dir + "/take.wav", fileType: .wav)
        try feed(out, total: 3000, batches: [600]) { at in
            if at == 600 { out.addMarker(RecordingMarker(frame: 100, label: "a")); out.addMarker(RecordingMarker(frame: 1200, label: "b")) }
            if at == 1800 { out.addMarker(RecordingMarker(frame: 2000, label: "c")) }
        }
        try out.stopRecording()
        try waitUntil("every part reported") { finished.all.count == 3 }
        func cues(_ path: String) throws -> [Int] {
            let bytes = [UInt8](try Data(contentsOf: URL(fileURLWithPath: path)))
            guard let cue = Data(bytes).range(of: Data("cue ".utf8))?.lowerBound else { return [] }
            func u32(_ o: Int) -> Int { Int(bytes[o]) | Int(bytes[o + 1]) << 8 | Int(bytes[o + 2]) << 16 | Int(bytes[o + 3]) << 24 }
            return (0..<u32(cue + 8)).map { u32(cue + 12 + 24 * $0 + 20) }
        }
        let parts = finished.all
        #expect(try parts.map { try cues($0.path) } == [[100], [200], [0]])
    }
}

/// A split output beside an unsplit one on the same running session, through a route switch and
/// a lost device's reconnect: the parts concatenated equal the one file, sample by sample.
@Suite(.serialized) struct SplitAcrossRunsTests {
    static let pink = TestSignal.pink(level: -18)
    static let sweep = TestSignal.sweep(level: -12)

    func cues(_ path: String) throws -> [Int] {
        let bytes = [UInt8](try Data(contentsOf: URL(fileURLWithPath: path)))
        guard let cue = Data(bytes).range(of: Data("cue ".utf8))?.lowerBound else { return [] }
        func u32(_ o: Int) -> Int { Int(bytes[o]) | Int(bytes[o + 1]) << 8 | Int(bytes[o + 2]) << 16 | Int(bytes[o + 3]) << 24 }
        return (0..<u32(cue + 8)).map { u32(cue + 12 + 24 * $0 + 20) }
    }

    @Test func partsEqualOneFileAcrossARouteSwitchAndAReconnect() throws {
        let dir = try tempDir("split-runs")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let session = CaptureSession()
        session.realtimePriority = nil
        session.reconnectsLostDevices = true
        session.interruptionRetryInterval = .milliseconds(50)
        let opens = Atomic<Int>(0)
        // The exclusive route's first open is unplugged after 0.4 s; it comes back at the next.
        session.addInput(CaptureDeviceInput(name: "t", routes: InputRoutes(exclusive: "a", shared: "b"), format: liveFormat) { route in
            if route.pcm == "b" { return ScriptedSource(signal: Self.sweep, name: "b", access: .shared) }
            let first = opens.add(1, ordering: .relaxed).newValue == 1
            return ScriptedSource(signal: Self.pink, name: "a", loseAfterFrames: first ? 19_200 : nil)
        })
        let log = EventLog()
        session.onEvent { log.append($0) }
        let whole = CaptureAudioFileOutput(format: liveFormat)
        let split = CaptureAudioFileOutput(format: liveFormat)
        split.splitFrames = 7_001
        let finished = FinishedLog()
        split.setRecordingFinishedHandler { finished.add($0) }
        session.addOutput(whole)
        session.addOutput(split)
        try whole.startRecording(to: dir + "/whole.wav", fileType: .wav)
        try split.startRecording(to: dir + "/take.wav", fileType: .wav)
        session.startRunning()
        try waitUntil("the lost device back", timeout: 15) { opens.load(ordering: .relaxed) >= 2 && session.framesCaptured > 30_000 }
        session.configuresApplicationAudioSessionToMixWithOthers = true
        try waitUntil("frames on the shared route") { session.framesCaptured > 50_000 }
        _ = try split.splitRecording()  // on demand too, between the limit's seams
        session.configuresApplicationAudioSessionToMixWithOthers = false
        try waitUntil("frames after switching back") { session.framesCaptured > 70_000 }
        session.stopRunning()
        let one = try #require(try whole.stopRecording())
        try split.stopRecording()
        try waitUntil("every part reported") { finished.all.last?.reason == .stopped }
        let kinds = log.events.compactMap { e -> String? in
            switch e { case .routeChanged: "route"; case .interruptionEnded: "back"; default: nil }
        }
        #expect(kinds.contains("route") && kinds.contains("back"), "a switch and a reconnect happened: \(log.events)")
        let parts = finished.all
        #expect(parts.count >= 10)
        #expect(parts.map(\.frames).reduce(0, +) == one.frames)
        var all: [Int16] = []
        for p in parts { all += try #require(ReadBack.read(p.path)).samples }
        let reference = try #require(ReadBack.read(dir + "/whole.wav")).samples
        #expect(firstDifference(all[...], reference[...]) == nil, "the parts concatenated are the one file")
        // The one file's markers (the reconnect, the two switches), each in its part at the
        // part-relative frame.
        let oneCues = try cues(dir + "/whole.wav")
        var splitCues: [Int] = []
        for p in parts { splitCues += try cues(p.path).map { $0 + (p.part?.framesBefore ?? 0) } }
        #expect(oneCues.count >= 3 && splitCues == oneCues, "\(splitCues) vs \(oneCues)")
        // Each next part was made ahead of its seam, or made at it well inside the ring's 2 s.
        #expect(split.slowestSeamCreateNanos < 200_000_000, "\(split.slowestSeamCreateNanos) ns")
    }
}

/// A recording started after a route switch names the route it is captured from in its bext
/// coding history's first line, not the one the session started on.
@Suite(.serialized) struct BroadcastSourceTests {
    @Test func aTakeStartedAfterASwitchNamesTheCurrentRoute() throws {
        let dir = try tempDir("bext-source")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let session = CaptureSession()
        session.realtimePriority = nil
        session.addInput(CaptureDeviceInput(name: "t", routes: InputRoutes(exclusive: "a", shared: "b"), format: liveFormat) { route in
            ScriptedSource(signal: .pink(level: -18), name: route.pcm, access: route.pcm == "b" ? .shared : .exclusive)
        })
        let out = CaptureAudioFileOutput(format: liveFormat)
        session.addOutput(out)
        session.startRunning()
        defer { session.stopRunning() }
        try waitUntil("frames on the exclusive route") { session.framesCaptured > 10_000 }
        let info = BroadcastInfo(startedAt: BroadcastInfo.now, source: "the -D device")
        try out.startRecording(to: dir + "/before.wav", fileType: .wav, broadcast: info)
        try waitUntil("frames in the first take") { out.recordedFrames > 4_800 }
        try out.stopRecording()
        session.configuresApplicationAudioSessionToMixWithOthers = true
        let switched = session.framesCaptured
        try waitUntil("frames on the shared route") { session.currentRoute?.pcm == "b" && session.framesCaptured > switched + 10_000 }
        try out.startRecording(to: dir + "/after.wav", fileType: .wav, broadcast: info)
        try waitUntil("frames in the second take") { out.recordedFrames > 4_800 }
        try out.stopRecording()
        func firstLine(_ path: String) throws -> String {
            // ffprobe, an independent reader of the chunk.
            let p = Process()
            p.executableURL = URL(fileURLWithPath: "/usr/bin/ffprobe")
            p.arguments = ["-v", "error", "-of", "default=nw=1:nk=1", "-show_entries", "format_tags=coding_history", path]
            let pipe = Pipe()
            p.standardOutput = pipe
            try p.run()
            let text = String(decoding: pipe.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
            p.waitUntilExit()
            return String(text.split(whereSeparator: \.isNewline).first ?? "")
        }
        #expect(try firstLine(dir + "/before.wav").hasSuffix("T=CaptureDeck \(BroadcastInfo.captureDeckVersion); a (exclusive route)"))
        #expect(try firstLine(dir + "/after.wav").hasSuffix("T=CaptureDeck \(BroadcastInfo.captureDeckVersion); b (shared route)"))
    }
}
