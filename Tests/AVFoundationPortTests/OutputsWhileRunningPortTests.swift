#if canImport(AVFoundation)
import AVFoundation
#else
import CaptureDeckAVFoundation
#endif
import Foundation
import XCTest

// Program 4: an app that keeps its session running and changes its outputs: a monitor (data
// output) runs all the time; "Record" adds a file output to the running session and records;
// closing the monitor removes its data output while the session runs on.

final class LiveMonitor: NSObject, AVCaptureAudioDataOutputSampleBufferDelegate {
    let output = AVCaptureAudioDataOutput()
    private let lock = NSLock()
    private var _pts: [(CMTime, CMTime)] = []
    private var _removed = false
    private var _afterRemoval = 0

    var timestamps: [(CMTime, CMTime)] { lock.lock(); defer { lock.unlock() }; return _pts }
    var callbacksAfterRemoval: Int { lock.lock(); defer { lock.unlock() }; return _afterRemoval }
    func markRemoved() { lock.lock(); _removed = true; lock.unlock() }

    override init() {
        super.init()
        output.setSampleBufferDelegate(self, queue: DispatchQueue(label: "com.example.monitor"))
    }

    func captureOutput(_ output: AVCaptureOutput, didOutput sampleBuffer: CMSampleBuffer, from connection: AVCaptureConnection) {
        lock.lock()
        if _removed { _afterRemoval += 1 }
        _pts.append((sampleBuffer.presentationTimeStamp, sampleBuffer.duration))
        lock.unlock()
    }
}

final class LiveRecordingDelegate: NSObject, AVCaptureFileOutputRecordingDelegate {
    let started = DispatchSemaphore(value: 0)
    let finished = DispatchSemaphore(value: 0)
    private(set) var error: Error?
    func fileOutput(_ output: AVCaptureFileOutput, didStartRecordingTo fileURL: URL, from connections: [AVCaptureConnection]) {
        started.signal()
    }
    func fileOutput(_ output: AVCaptureFileOutput, didFinishRecordingTo outputFileURL: URL, from connections: [AVCaptureConnection], error: Error?) {
        self.error = error
        finished.signal()
    }
}

final class OutputsWhileRunningPortTests: XCTestCase {
    func testAFileOutputAddedToARunningSessionRecordsAndARemovedDataOutputStopsAtOnce() throws {
        let directory = try makeTemporaryDirectory("live")
        defer { try? FileManager.default.removeItem(at: directory) }
        let session = AVCaptureSession()
        let input = try AVCaptureDeviceInput(device: try TestTone.device())
        XCTAssertTrue(input.device.uniqueID == "builtin")
        let monitor = LiveMonitor()
        session.beginConfiguration()
        session.addInput(input)
        session.addOutput(monitor.output)
        session.commitConfiguration()
        session.startRunning()
        defer { session.stopRunning() }
        XCTAssertTrue(waitUntil(3) { monitor.timestamps.count > 3 }, "the monitor receives")

        // "Record": a file output added while running.
        let fileOutput = AVCaptureAudioFileOutput()
        session.beginConfiguration()
        XCTAssertTrue(session.canAddOutput(fileOutput))
        session.addOutput(fileOutput)
        session.commitConfiguration()
        XCTAssertTrue(session.isRunning)
        XCTAssertEqual(session.outputs.count, 2)
        XCTAssertEqual(fileOutput.connections.count, 1)
        let delegate = LiveRecordingDelegate()
        let url = directory.appendingPathComponent("live.wav")
        fileOutput.startRecording(to: url, outputFileType: .wav, recordingDelegate: delegate)
        XCTAssertEqual(delegate.started.wait(timeout: .now() + 5), .success, "didStart")
        usleep(1_000_000)
        fileOutput.stopRecording()
        XCTAssertEqual(delegate.finished.wait(timeout: .now() + 10), .success, "didFinish")
        XCTAssertNil(delegate.error)
        let file = try DecodedFile(url)
        print("live.wav: \(file.frames) frames at \(file.sampleRate) Hz")
        XCTAssertEqual(Double(file.frames) / file.sampleRate, 1.0, accuracy: 0.25)
        XCTAssertEqual(Levels(file.samples).peak, TestTone.peakDBFS, accuracy: 0.01)
        XCTAssertEqual(Levels(file.samples).rms, TestTone.rmsDBFS, accuracy: TestTone.rmsErrorBoundDB(frames: file.frames, sampleRate: file.sampleRate) + 0.02)

        // Measured, not asserted (Apple doesn't promise a glitch-free reconfiguration): did the
        // monitor's stream stay continuous while the file output came and went?
        let ts = monitor.timestamps
        let monitorGaps = zip(ts, ts.dropFirst()).map { a, b in (b.0 - (a.0 + a.1)).seconds }.filter { $0 != 0 }
        print("monitor gaps while the file output was added and recorded: \(monitorGaps)")

        // Closing the monitor: remove its output while running; nothing arrives after.
        session.removeOutput(monitor.output)
        monitor.markRemoved()
        XCTAssertTrue(session.isRunning)
        XCTAssertFalse(session.outputs.contains { $0 === monitor.output })
        XCTAssertEqual(monitor.output.connections.count, 0, "a removed output has no connections")
        usleep(500_000)
        XCTAssertEqual(monitor.callbacksAfterRemoval, 0, "no callback after removeOutput returned")

        // The session still records with what is left.
        let second = directory.appendingPathComponent("after-removal.wav")
        let delegate2 = LiveRecordingDelegate()
        fileOutput.startRecording(to: second, outputFileType: .wav, recordingDelegate: delegate2)
        XCTAssertEqual(delegate2.started.wait(timeout: .now() + 5), .success)
        usleep(300_000)
        fileOutput.stopRecording()
        XCTAssertEqual(delegate2.finished.wait(timeout: .now() + 10), .success)
        XCTAssertGreaterThan(try DecodedFile(second).frames, 0)
    }
}
