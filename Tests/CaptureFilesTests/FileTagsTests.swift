// Text tags in the file's own metadata: read back by readers we didn't write (ffprobe, metaflac,
// mediainfo), skipped where the container has no place for them, and kept through a crash and
// `recover`.
import CSndfile
import CaptureCore
import CaptureFiles
import Foundation
import Testing

/// ffprobe's format-level tags of `path` (keys lowercased, as ffprobe prints them).
func ffprobeTags(_ path: String) -> [String: String]? {
    guard let r = runTool("/usr/bin/ffprobe", ["-v", "error", "-of", "default=nw=1", "-show_entries", "format_tags", path]),
          r.status == 0 else { return nil }
    var tags: [String: String] = [:]
    for line in r.out.split(separator: "\n") {
        let kv = line.split(separator: "=", maxSplits: 1)
        guard kv.count == 2, kv[0].hasPrefix("TAG:") else { continue }
        tags[String(kv[0].dropFirst(4)).lowercased()] = String(kv[1])
    }
    return tags
}

@Suite struct FileTagsTests {
    static let every: [FileTag: String] = [
        .title: "Take 7 — Ünïcode", .artist: "The Testers", .comment: "room mic, no EQ",
        .date: "2024-05-17T10:11:12Z", .software: "CaptureDeck tests", .copyright: "© 2024 Nobody",
        .album: "Sessions", .genre: "Field recording", .trackNumber: "7", .license: "CC0",
    ]
    /// What ffprobe shows for each container, by its own tag names.
    static func ffprobeView(_ type: FileType) -> [String: String] {
        let t = every
        let sw = "CaptureDeck tests (libsndfile-1.2.0)"
        switch type {
        case .wav:
            return ["title": t[.title]!, "artist": t[.artist]!, "comment": t[.comment]!, "date": t[.date]!,
                    "encoder": sw, "copyright": t[.copyright]!, "album": t[.album]!, "genre": t[.genre]!,
                    "track": t[.trackNumber]!]
        case .caf:
            return ["title": t[.title]!, "artist": t[.artist]!, "comment": t[.comment]!, "date": t[.date]!,
                    "software": sw, "copyright": t[.copyright]!, "album": t[.album]!, "genre": t[.genre]!,
                    "tracknumber": t[.trackNumber]!, "license": t[.license]!]
        case .aiff:
            return ["title": t[.title]!, "author": t[.artist]!, "comment": t[.comment]!, "copyright": t[.copyright]!]
        case .flac:
            return ["title": t[.title]!, "artist": t[.artist]!, "comment": t[.comment]!, "date": t[.date]!,
                    "software": sw, "copyright": t[.copyright]!, "album": t[.album]!, "genre": t[.genre]!,
                    "track": t[.trackNumber]!, "license": t[.license]!]
        case .w64:
            return [:]
        }
    }
    /// Tags a file has of its encoder's own (libFLAC's vendor string), not asked for.
    static func ownTags(_ tags: [String: String]) -> [String: String] {
        tags.filter { !($0.key == "encoder" && $0.value.hasPrefix("reference libFLAC")) }
    }

    @discardableResult
    static func record(_ path: String, _ type: FileType, tags: [FileTag: String], frames: Int = 48_000,
                       finish: Bool = true) throws -> (SndfileRecorder, [UInt8], StreamFormat) {
        let format = StreamFormat(sampleFormat: .s16LE, sampleRate: 48000, channels: 2)
        let rec = try SndfileRecorder(path: path, format: format, fileType: type, tags: tags)
        let data = patternFrames(format, frames: frames)
        try data.withUnsafeBytes { (raw: UnsafeRawBufferPointer) throws -> Void in
            try rec.write(raw.baseAddress!, count: frames)
        }
        if finish { try rec.finish() }
        return (rec, data, format)
    }

    /// Every tag the container holds reads back in ffprobe, exactly, the audio unchanged beside it.
    @Test(arguments: [FileType.wav, .caf, .aiff, .flac])
    func tagsReadBackInFFprobe(type: FileType) throws {
        let dir = TempDir()
        let path = dir.file("tagged.\(type.fileExtension)")
        let (rec, data, format) = try Self.record(path, type, tags: Self.every)
        #expect(Set(rec.tags.keys) == type.heldTags)
        let tags = try #require(ffprobeTags(path), "ffprobe missing or failed")
        #expect(Self.ownTags(tags) == Self.ffprobeView(type), "\(type)")
        let back = try #require(readBack(path, float: false))
        #expect(back.frames == 48_000 && back.samples == expectedSamples(data, format))
    }

    /// WAV: the LIST/INFO chunk sits ahead of the audio (where a crash can't lose it), and
    /// mediainfo reads it too.
    @Test func wavTagsAreAheadOfTheAudioAndMediainfoReadsThem() throws {
        let dir = TempDir()
        let path = dir.file("tagged.wav")
        try Self.record(path, .wav, tags: [.title: "Ahead", .artist: "Someone"])
        let ids = riffChunks(path).chunks.map(\.id)
        let list = try #require(ids.firstIndex(of: "LIST")), dataAt = try #require(ids.firstIndex(of: "data"))
        #expect(list < dataAt, "\(ids)")
        // mediainfo names IART "Director".
        let mi = try #require(runTool("/usr/bin/mediainfo", ["--Output=General;%Title%|%Director%", path]), "mediainfo missing")
        #expect(mi.out.trimmingCharacters(in: .whitespacesAndNewlines) == "Ahead|Someone", "\(mi)")
    }

    /// FLAC: metaflac sees the Vorbis comments libsndfile wrote.
    @Test func flacTagsReadBackInMetaflac() throws {
        let dir = TempDir()
        let path = dir.file("tagged.flac")
        try Self.record(path, .flac, tags: [.title: "Vorbis", .date: "2024"])
        let r = try #require(runTool("/usr/bin/metaflac", ["--export-tags-to=-", path]), "metaflac missing")
        #expect(r.status == 0)
        #expect(Set(r.out.split(separator: "\n").map(String.init)) == ["title=Vorbis", "date=2024"], "\(r)")
    }

    /// No tags asked for: the file has none (no LIST chunk, no info chunk, no comments but
    /// libFLAC's vendor string).
    @Test(arguments: FileType.allCases)
    func aRecordingWithoutTagsHasNone(type: FileType) throws {
        let dir = TempDir()
        let path = dir.file("plain.\(type.fileExtension)")
        let (rec, _, _) = try Self.record(path, type, tags: [:])
        #expect(rec.tags.isEmpty)
        let tags = try #require(ffprobeTags(path), "ffprobe missing or failed")
        #expect(Self.ownTags(tags).isEmpty, "\(type): \(tags)")
        if type == .wav { #expect(!riffChunks(path).chunks.contains { $0.id == "LIST" }) }
        if type == .flac {
            let r = try #require(runTool("/usr/bin/metaflac", ["--export-tags-to=-", path]))
            #expect(r.out.isEmpty, "\(r)")
        }
    }

    /// Tags the container can't hold are skipped, not refused: W64 takes none, AIFF four; empty
    /// values are skipped everywhere.
    @Test func tagsTheContainerCantHoldAreSkipped() throws {
        let dir = TempDir()
        let (w64, _, _) = try Self.record(dir.file("x.w64"), .w64, tags: Self.every)
        #expect(w64.tags.isEmpty)
        #expect(try #require(ffprobeTags(w64.path)).isEmpty)
        let (aiff, _, _) = try Self.record(dir.file("x.aiff"), .aiff, tags: [.title: "T", .date: "2024", .album: "A", .comment: ""])
        #expect(aiff.tags == [.title: "T"])
        #expect(try #require(ffprobeTags(aiff.path)) == ["title": "T"])
    }

    /// A tagged recording crashed after a checkpoint with more audio (and a torn frame) after it:
    /// `recover` repairs it, every frame that reached the disk reads back sample by sample, and
    /// the tags (written with the header, ahead of the audio) are still there.
    @Test(arguments: [FileType.wav, .caf, .aiff])
    func aCrashedTaggedRecordingRecoversWithItsAudioAndTags(type: FileType) throws {
        let dir = TempDir()
        let (rec, data, format) = try Self.record(dir.file("live.\(type.fileExtension)"), type, tags: Self.every,
                                                  frames: 20_000, finish: false)
        try rec.checkpoint()
        let more = patternFrames(format, frames: 10_001)
        try more.withUnsafeBytes { (raw: UnsafeRawBufferPointer) throws -> Void in try rec.write(raw.baseAddress!, count: 10_001) }
        let path = dir.file("crashed.\(type.fileExtension)")
        try crashCopy(of: rec, to: path)
        try rec.finish()
        let h = try #require(FileHandle(forWritingAtPath: path))
        h.seekToEndOfFile(); h.write(Data([1, 2, 3])); h.closeFile()

        let outcome = Recovery.recover(path: path)
        guard case .repaired(_, _, 30_001, _) = outcome else { Issue.record("\(type): \(outcome)"); return }
        let back = try #require(readBack(path, float: false))
        #expect(back.frames == 30_001 && back.samples == expectedSamples(data + more, format))
        #expect(try #require(ffprobeTags(path)) == Self.ffprobeView(type), "\(type)")
    }

    /// FLAC killed mid-recording: `recover` counts the whole frames; the Vorbis comments (in the
    /// metadata ahead of the first frame) survive.
    @Test func aCrashedTaggedFLACRecoversWithItsTags() throws {
        let dir = TempDir()
        let (rec, data, format) = try Self.record(dir.file("live.flac"), .flac, tags: Self.every, frames: 100_000, finish: false)
        try rec.checkpoint()
        let path = dir.file("crashed.flac")
        try crashCopy(of: rec, to: path)
        try rec.finish()
        let outcome = Recovery.recover(path: path)
        guard case .repaired(_, _, let frames, _) = outcome else { Issue.record("\(outcome)"); return }
        let back = try #require(readBack(path, float: false))
        #expect(frames > 0 && back.frames == frames)
        #expect(back.samples == Array(expectedSamples(data, format)[0..<(frames * 2)]))
        #expect(Self.ownTags(try #require(ffprobeTags(path))) == Self.ffprobeView(.flac))
    }

    /// A crash before the first checkpoint: the tags were in the header from the start.
    @Test(arguments: [FileType.wav, .caf, .aiff])
    func tagsAreInTheFileBeforeTheFirstCheckpoint(type: FileType) throws {
        let dir = TempDir()
        let (rec, data, format) = try Self.record(dir.file("live.\(type.fileExtension)"), type, tags: [.title: "Early"],
                                                  frames: 5_000, finish: false)
        let path = dir.file("crashed.\(type.fileExtension)")
        try crashCopy(of: rec, to: path)
        try rec.finish()
        #expect(try #require(ffprobeTags(path))["title"] == "Early")
        guard case .repaired = Recovery.recover(path: path) else { Issue.record("not repaired"); return }
        let back = try #require(readBack(path, float: false))
        #expect(back.frames == 5_000 && back.samples == expectedSamples(data, format))
        #expect(try #require(ffprobeTags(path))["title"] == "Early")
    }

    /// A tagged WAV crashed past 4 GiB (the data extended sparsely, as a crash before the next
    /// checkpoint leaves it): `recover` rebuilds it as RF64 and keeps the LIST/INFO chunk ahead of
    /// the audio; ffprobe reads the tags and the whole length.
    @Test func aTaggedWAVRecoveredPast4GiBKeepsItsTags() throws {
        let dir = TempDir()
        let (rec, _, format) = try Self.record(dir.file("live.wav"), .wav, tags: [.title: "Long", .artist: "Someone"],
                                               frames: 48_000, finish: false)
        try rec.checkpoint()
        let path = dir.file("crashed.wav")
        try crashCopy(of: rec, to: path)
        try rec.finish()
        let before = riffChunks(path)
        let list = try #require(before.chunks.first { $0.id == "LIST" })
        let dataOffset = try #require(before.chunks.first { $0.id == "data" }).offset + 8
        let frames = (Int(UInt32.max) + 4096 * 1024) / format.bytesPerFrame
        try #require(truncate(path, off_t(dataOffset + frames * format.bytesPerFrame)) == 0)
        let outcome = Recovery.recover(path: path)
        guard case .repaired(_, _, let got, _) = outcome, got == frames else { Issue.record("\(outcome)"); return }
        let after = riffChunks(path)
        // The same LIST chunk, moved up where the dropped fact chunk was, still ahead of the audio.
        let listAfter = try #require(after.chunks.first { $0.id == "LIST" }, "\(after)")
        #expect(after.magic == "RF64" && listAfter.size == list.size && listAfter.offset < dataOffset, "\(after)")
        #expect(try #require(ffprobeTags(path)) == ["title": "Long", "artist": "Someone"])
        #expect(ffprobe(path)?.fields["duration_ts"] == "\(frames)")
    }
}
