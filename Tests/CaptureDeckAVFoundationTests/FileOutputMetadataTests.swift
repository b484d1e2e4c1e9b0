// AVMetadataItem/AVMutableMetadataItem (Apple's raw values, identifier ↔ key space and key) and
// AVCaptureAudioFileOutput.metadata in Swift 6 mode: items recorded from the built-in tone into
// each file type, read back by ffprobe as the file's own tags; no metadata, no tags; metadata is
// taken when a recording starts.
import CaptureDeckAVFoundation
import Foundation
import XCTest

final class FileOutputMetadataTests: XCTestCase {
    private var session: AVCaptureSession!
    private var output: AVCaptureAudioFileOutput!
    private var directory: URL!

    override func setUpWithError() throws {
        let device = try XCTUnwrap(AVCaptureDevice(uniqueID: "builtin"), "the built-in test source is always there")
        session = AVCaptureSession()
        session.addInput(try AVCaptureDeviceInput(device: device))
        output = AVCaptureAudioFileOutput()
        session.addOutput(output)
        directory = FileManager.default.temporaryDirectory.appendingPathComponent("metadata-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
    }

    override func tearDown() {
        session?.stopRunning()
        if let directory { try? FileManager.default.removeItem(at: directory) }
    }

    /// ffprobe's format tags (keys lowercased).
    private func ffprobeTags(_ url: URL) throws -> [String: String] {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: "/usr/bin/ffprobe")
        p.arguments = ["-v", "error", "-of", "default=nw=1", "-show_entries", "format_tags", url.path]
        let o = Pipe()
        p.standardOutput = o
        try p.run()  // ffprobe is one of the readers `make deps` installs (ffmpeg): missing is a failure
        let out = String(decoding: o.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        p.waitUntilExit()
        XCTAssertEqual(p.terminationStatus, 0)
        var tags: [String: String] = [:]
        for line in out.split(separator: "\n") {
            let kv = line.split(separator: "=", maxSplits: 1)
            if kv.count == 2, kv[0].hasPrefix("TAG:") { tags[String(kv[0].dropFirst(4)).lowercased()] = String(kv[1]) }
        }
        return tags
    }

    private func record(_ name: String, _ type: AVFileType, whileRecording: () -> Void = {}) throws -> URL {
        let url = directory.appendingPathComponent(name)
        let delegate = SettingsRecordingDelegate()
        output.startRecording(to: url, outputFileType: type, recordingDelegate: delegate)
        whileRecording()
        Thread.sleep(forTimeInterval: 0.3)
        output.stopRecording()
        XCTAssertEqual(delegate.finished.wait(timeout: .now() + 10), .success)
        XCTAssertNil(delegate.error)
        return url
    }

    private func item(_ id: AVMetadataIdentifier, _ value: any NSCopying & NSObjectProtocol) -> AVMutableMetadataItem {
        let item = AVMutableMetadataItem()
        item.identifier = id
        item.value = value
        return item
    }

    func testRawValuesAreApples() {
        XCTAssertEqual(AVMetadataIdentifier.commonIdentifierTitle.rawValue, "common/title")
        XCTAssertEqual(AVMetadataIdentifier.commonIdentifierCreationDate.rawValue, "common/creationDate")
        XCTAssertEqual(AVMetadataIdentifier.commonIdentifierCopyrights.rawValue, "common/copyrights")
        XCTAssertEqual(AVMetadataIdentifier.commonIdentifierAlbumName.rawValue, "common/albumName")
        XCTAssertEqual(AVMetadataIdentifier.id3MetadataTitleDescription.rawValue, "id3/TIT2")
        XCTAssertEqual(AVMetadataKey.commonKeyTitle.rawValue, "title")
        XCTAssertEqual(AVMetadataKey.commonKeyCopyrights.rawValue, "copyrights")
        XCTAssertEqual(AVMetadataKeySpace.common.rawValue, "comn")
        XCTAssertEqual(AVMetadataKeySpace.id3.rawValue, "org.id3")
        XCTAssertEqual(AVMetadataKeySpace.audioFile.rawValue, "caaf")
    }

    /// An identifier gives the key space and key, and the other way round; "©" escapes as Apple's "%A9".
    func testIdentifierKeySpaceAndKey() throws {
        let byID = item(.commonIdentifierTitle, "T" as NSString)
        XCTAssertEqual(byID.keySpace, .common)
        XCTAssertEqual(byID.key as? NSString, "title")
        XCTAssertEqual(byID.commonKey, .commonKeyTitle)
        XCTAssertEqual(byID.stringValue, "T")

        let byKey = AVMutableMetadataItem()
        byKey.keySpace = .common
        byKey.key = AVMetadataKey.commonKeyArtist.rawValue as NSString
        XCTAssertEqual(byKey.identifier, .commonIdentifierArtist)
        byKey.identifier = .id3MetadataLeadPerformer
        XCTAssertEqual(byKey.keySpace, .id3)
        XCTAssertEqual(byKey.key as? NSString, "TPE1")
        XCTAssertNil(byKey.commonKey)

        XCTAssertEqual(AVMetadataItem.identifier(forKey: "©nam", keySpace: .iTunes)?.rawValue, "itsk/%A9nam")
        XCTAssertEqual(AVMetadataItem.key(forIdentifier: AVMetadataIdentifier("itsk/%A9nam")) as? NSString, "©nam")
        XCTAssertEqual(AVMetadataItem.metadataItems(from: [byID, byKey], filteredByIdentifier: .commonIdentifierTitle), [byID])
        XCTAssertEqual(AVMetadataItem.metadataItems(from: [byID, byKey], withKey: "title", keySpace: .common), [byID])

        let date = Date(timeIntervalSince1970: 1_700_000_000)
        let dated = item(.commonIdentifierCreationDate, date as NSDate)
        XCTAssertEqual(dated.stringValue, "2023-11-14T22:13:20Z")
        XCTAssertEqual(dated.dateValue, date)
        XCTAssertEqual(item(.id3MetadataTrackNumber, 3 as NSNumber).stringValue, "3")
        XCTAssertEqual(item(.id3MetadataTrackNumber, "12" as NSString).numberValue, 12)
        let copy = try XCTUnwrap(dated.copy() as? AVMetadataItem)
        XCTAssertFalse(copy is AVMutableMetadataItem)
        XCTAssertEqual(copy.identifier, .commonIdentifierCreationDate)
        XCTAssertEqual(copy.dateValue, date)
    }

    /// Items as apps write them, into each type: ffprobe reads exactly the tags the container holds.
    func testMetadataIsWrittenAsTheFilesTags() throws {
        let date = Date(timeIntervalSince1970: 1_700_000_000)
        let byKey = AVMutableMetadataItem()
        byKey.keySpace = .common
        byKey.key = AVMetadataKey.commonKeyArtist.rawValue as NSString
        byKey.value = "The Testers" as NSString
        output.metadata = [
            item(.commonIdentifierTitle, "Take 7" as NSString), byKey,
            item(.commonIdentifierDescription, "room mic" as NSString),
            item(.commonIdentifierCreationDate, date as NSDate),
            item(.commonIdentifierSoftware, "PortApp 2.1" as NSString),
            item(.commonIdentifierCopyrights, "© 2024 Nobody" as NSString),
            item(.commonIdentifierAlbumName, "Sessions" as NSString),
            item(.id3MetadataTrackNumber, 3 as NSNumber),
            item(.commonIdentifierArtwork, Data([1, 2, 3]) as NSData),  // no tag for it: skipped
            item(.id3MetadataTitleDescription, "second title" as NSString),  // the first title wins
        ]
        session.startRunning()
        let sw = "PortApp 2.1 (libsndfile-1.2.0)"
        let wav = try ffprobeTags(try record("t.wav", .wav))
        XCTAssertEqual(wav, ["title": "Take 7", "artist": "The Testers", "comment": "room mic", "date": "2023-11-14T22:13:20Z",
                             "encoder": sw, "copyright": "© 2024 Nobody", "album": "Sessions", "track": "3"])
        let caf = try ffprobeTags(try record("t.caf", .caf))
        XCTAssertEqual(caf, ["title": "Take 7", "artist": "The Testers", "comment": "room mic", "date": "2023-11-14T22:13:20Z",
                             "software": sw, "copyright": "© 2024 Nobody", "album": "Sessions", "tracknumber": "3"])
        let aiff = try ffprobeTags(try record("t.aif", .aiff))
        XCTAssertEqual(aiff, ["title": "Take 7", "author": "The Testers", "comment": "room mic", "copyright": "© 2024 Nobody"])
    }

    /// No metadata (the default, and set back to empty): the file has no tags at all.
    func testNoMetadataWritesNoTags() throws {
        XCTAssertTrue(output.metadata.isEmpty)
        session.startRunning()
        XCTAssertEqual(try ffprobeTags(try record("plain.wav", .wav)), [:])
        output.metadata = [item(.commonIdentifierTitle, "x" as NSString)]
        output.metadata = []
        XCTAssertEqual(try ffprobeTags(try record("plain.caf", .caf)), [:])
    }

    /// Metadata is taken at the start: items changed while recording apply to the next file.
    func testMetadataIsTakenWhenARecordingStarts() throws {
        let title = item(.commonIdentifierTitle, "first" as NSString)
        output.metadata = [title]
        session.startRunning()
        let first = try record("a.wav", .wav) {
            title.value = "second" as NSString
            output.metadata = [title, item(.commonIdentifierAlbumName, "late" as NSString)]
        }
        XCTAssertEqual(try ffprobeTags(first), ["title": "first"])
        XCTAssertEqual(try ffprobeTags(try record("b.wav", .wav)), ["title": "second", "album": "late"])
    }
}
