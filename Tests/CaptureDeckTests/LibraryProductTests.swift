// The CaptureDeck product alone is enough to list devices, pick a file type and record: this file
// imports nothing else of CaptureDeck's (imports are per file, so it compiles only if the product
// re-exports what it needs).
import CaptureDeck
import Foundation
import XCTest

final class LibraryProductTests: XCTestCase {
    func testDevicesAndFileTypesAreReachableFromTheProduct() throws {
        XCTAssertEqual(FileType(name: "aif"), .aiff)
        XCTAssertEqual(Set(FileType.allCases.map(\.fileExtension)), ["wav", "w64", "caf", "flac", "aiff"])
        let listing = InputDevices.listing(timeoutMs: 200)
        XCTAssertFalse(listing.devices.contains { $0.uniqueID == InputDevices.testSignalID }, "the test signal is never listed")
        XCTAssertEqual(DeviceCatalog.cards().count, DeviceCatalog.cards().count)

        // Record a quarter second of the test signal to a WAV file with only this import.
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("capdeck-product-\(getpid())")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        let session = CaptureSession()
        session.addInput(CaptureDeviceInput(name: "builtin", routes: InputRoutes.forNamedPCM("builtin"),
                                            format: StreamFormat(sampleFormat: .s16LE, sampleRate: 48_000, channels: 2)))
        let file = CaptureAudioFileOutput()
        session.addOutput(file)
        file.maxRecordedFrames = 12_000
        let path = dir.appendingPathComponent("take.wav").path
        try file.startRecording(to: path, fileType: .wav)
        session.startRunning()
        let deadline = Date().addingTimeInterval(10)
        while file.isRecording && Date() < deadline { Thread.sleep(forTimeInterval: 0.02) }
        session.stopRunning()
        XCTAssertFalse(file.isRecording, "the duration limit ended the recording")
        let size = try XCTUnwrap(FileManager.default.attributesOfItem(atPath: path)[.size] as? NSNumber).intValue
        XCTAssertGreaterThanOrEqual(size, 12_000 * 4, "12,000 stereo 16-bit frames are in the file")
    }
}
