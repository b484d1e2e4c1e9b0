#if canImport(AVFoundation)
import AVFoundation
#else
import CaptureDeckAVFoundation
#endif
import Foundation
import XCTest
import CaptureTestSupport  // scaffolding only (which)

// Program: a macOS field recorder that tags its takes. Before each recording it sets the file
// output's metadata from the take's name and the time, as AVFoundation apps write it
// (AVMutableMetadataItem, identifier, value), records a WAV, and reads nothing back itself.

final class TaggedTakeRecorder: NSObject, AVCaptureFileOutputRecordingDelegate {
    let session = AVCaptureSession()
    let fileOutput = AVCaptureAudioFileOutput()
    let finished = DispatchSemaphore(value: 0)
    private(set) var finishError: Error?

    func configure(device: AVCaptureDevice) throws {
        let input = try AVCaptureDeviceInput(device: device)
        session.beginConfiguration()
        if session.canAddInput(input) { session.addInput(input) }
        if session.canAddOutput(fileOutput) { session.addOutput(fileOutput) }
        session.commitConfiguration()
    }

    func metadata(title: String, takenAt date: Date) -> [AVMetadataItem] {
        let titleItem = AVMutableMetadataItem()
        titleItem.identifier = .commonIdentifierTitle
        titleItem.value = title as NSString
        let dateItem = AVMutableMetadataItem()
        dateItem.identifier = .commonIdentifierCreationDate
        dateItem.value = date as NSDate
        let artistItem = AVMutableMetadataItem()
        artistItem.keySpace = .common
        artistItem.key = AVMetadataKey.commonKeyArtist.rawValue as NSString
        artistItem.value = "Field Team" as NSString
        return [titleItem, dateItem, artistItem]
    }

    func recordTake(_ title: String, to url: URL) {
        fileOutput.metadata = metadata(title: title, takenAt: Date(timeIntervalSince1970: 1_700_000_000))
        fileOutput.startRecording(to: url, outputFileType: .wav, recordingDelegate: self)
    }

    func fileOutput(_ output: AVCaptureFileOutput, didFinishRecordingTo outputFileURL: URL,
                    from connections: [AVCaptureConnection], error: Error?) {
        finishError = error
        finished.signal()
    }
}

final class MetadataPortTests: XCTestCase {
    /// The take's file carries the title, date and artist as its own tags (ffprobe reads them),
    /// next to the recorded tone (ffmpeg decodes it).
    func testTaggedTakeCarriesItsTags() throws {
        let dir = try makeTemporaryDirectory("metadata")
        defer { try? FileManager.default.removeItem(at: dir) }
        let app = TaggedTakeRecorder()
        try app.configure(device: try TestTone.device())
        app.session.startRunning()
        defer { app.session.stopRunning() }
        let url = dir.appendingPathComponent("take-1.wav")
        app.recordTake("Take 1 — dawn chorus", to: url)
        Thread.sleep(forTimeInterval: 0.5)
        app.fileOutput.stopRecording()
        XCTAssertEqual(app.finished.wait(timeout: .now() + 10), .success)
        XCTAssertNil(app.finishError)

        guard let ffprobe = which("ffprobe") else { throw MissingPart("ffprobe is needed") }
        let probe = try runTool(ffprobe, ["-v", "error", "-of", "default=nw=1", "-show_entries", "format_tags", url.path])
        XCTAssertEqual(probe.status, 0, probe.stderr)
        let lines = Set(String(decoding: probe.stdout, as: UTF8.self).split(separator: "\n").map(String.init))
        XCTAssertEqual(lines, ["TAG:title=Take 1 — dawn chorus", "TAG:date=2023-11-14T22:13:20Z", "TAG:artist=Field Team"])
        let decoded = try DecodedFile(url)
        XCTAssertGreaterThan(decoded.frames, 0)
        XCTAssertEqual(Levels(decoded.samples).peak, TestTone.peakDBFS, accuracy: 0.1)
    }
}
