#if canImport(AVFoundation)
import AVFoundation
#else
import CaptureDeckAVFoundation
#endif
import Foundation
import XCTest

// Smaller idioms that capture apps use around the main programs, each kept apart so one missing
// symbol doesn't hide the others: the authorization dance (Apple's "Requesting authorization to
// capture and save media"), device configuration locks, a macOS channel's volume, and sample
// timestamps on the host clock.

final class MicrophonePermission {
    /// Apple's documented pattern, with the completion handler form.
    static func ensureAccess(_ done: @escaping (Bool) -> Void) {
        switch AVCaptureDevice.authorizationStatus(for: .audio) {
        case .authorized:
            done(true)
        case .notDetermined:
            AVCaptureDevice.requestAccess(for: .audio) { granted in done(granted) }
        case .denied, .restricted:
            done(false)
        @unknown default:
            done(false)
        }
    }
}

final class CaptureIdiomsPortTests: XCTestCase {
    func testAuthorization() {
        let status = AVCaptureDevice.authorizationStatus(for: .audio)
        print("authorizationStatus(for: .audio) = \(status.rawValue)")
        let answered = expectation(description: "answered")
        var granted: Bool?
        MicrophonePermission.ensureAccess { g in granted = g; answered.fulfill() }
        wait(for: [answered], timeout: 5)
        let after = AVCaptureDevice.authorizationStatus(for: .audio)
        print("granted \(String(describing: granted)); authorizationStatus after \(after.rawValue)")
        // Apple: once requestAccess has answered, the status is decided and matches the answer.
        XCTAssertNotEqual(after, .notDetermined)
        XCTAssertEqual(granted, after == .authorized)
        XCTAssertNil(AVCaptureDevice.default(for: .video), "no camera here")
    }

    func testLockForConfiguration() throws {
        let device = try TestTone.device()
        try device.lockForConfiguration()
        device.unlockForConfiguration()
        XCTAssertEqual(device.modelID.isEmpty, false)
        print("builtin: model \(device.modelID), manufacturer \(device.manufacturer), connected \(device.isConnected)")
    }

    /// macOS: AVCaptureAudioChannel.volume scales what the connection delivers. 0.5 is −6.02 dB.
    func testChannelVolumeScalesTheSamples() throws {
        let session = AVCaptureSession()
        session.addInput(try AVCaptureDeviceInput(device: try TestTone.device()))
        let output = AVCaptureAudioDataOutput()
        let sink = PeakSink()
        output.setSampleBufferDelegate(sink, queue: DispatchQueue(label: "volume.sink"))
        session.addOutput(output)
        let channels = output.connections.flatMap { $0.audioChannels }
        XCTAssertFalse(channels.isEmpty)
        for channel in channels {
            XCTAssertEqual(channel.volume, 1.0)
            XCTAssertTrue(channel.isEnabled)
            channel.volume = 0.5
        }
        session.startRunning()
        usleep(800_000)
        session.stopRunning()
        let expected = TestTone.peakDBFS + 20 * log10(0.5)
        print("peak at volume 0.5: \(sink.peakDB) dBFS (expected \(expected))")
        XCTAssertEqual(sink.peakDB, expected, accuracy: 0.02)
    }

    /// The presentation timestamps are on the host clock (AVCaptureSession's default
    /// synchronization clock): a buffer's PTS is a little in the past when it arrives.
    func testTimestampsAreOnTheHostClock() throws {
        let session = AVCaptureSession()
        session.addInput(try AVCaptureDeviceInput(device: try TestTone.device()))
        let output = AVCaptureAudioDataOutput()
        let sink = PeakSink()
        output.setSampleBufferDelegate(sink, queue: DispatchQueue(label: "clock.sink"))
        session.addOutput(output)
        session.startRunning()
        usleep(600_000)
        session.stopRunning()
        let lags = sink.lagsBehindHostClock
        print("PTS end lag behind the host clock at arrival: min \(lags.min() ?? .nan) s, max \(lags.max() ?? .nan) s")
        XCTAssertFalse(lags.isEmpty)
        for lag in lags {
            XCTAssertGreaterThanOrEqual(lag, -0.001, "a buffer's end is not in the future")
            XCTAssertLessThan(lag, 0.5, "and not long ago")
        }
    }
}

final class PeakSink: NSObject, AVCaptureAudioDataOutputSampleBufferDelegate {
    private let lock = NSLock()
    private var peak: Double = 0
    private var lags: [Double] = []
    var peakDB: Double { lock.lock(); defer { lock.unlock() }; return dBFS(peak) }
    var lagsBehindHostClock: [Double] { lock.lock(); defer { lock.unlock() }; return lags }

    func captureOutput(_ output: AVCaptureOutput, didOutput sampleBuffer: CMSampleBuffer, from connection: AVCaptureConnection) {
        let now = CMClockGetTime(CMClockGetHostTimeClock())
        let end = CMTimeAdd(CMSampleBufferGetPresentationTimeStamp(sampleBuffer), CMSampleBufferGetDuration(sampleBuffer))
        guard let asbd = sampleBuffer.formatDescription?.audioStreamBasicDescription else { return }
        var p = 0.0
        try? sampleBuffer.withAudioBufferList { list, _ in
            for buffer in list { for s in decodePCM(buffer, asbd) { p = max(p, Double(abs(s))) } }
        }
        lock.lock()
        peak = max(peak, p)
        lags.append(CMTimeGetSeconds(CMTimeSubtract(now, end)))
        lock.unlock()
    }
}
