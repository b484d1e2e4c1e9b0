// The session layer over CaptureDeck: Apple's notifications for a device busy elsewhere (on the
// real ALSA library), presets choosing the capture rate, named ALSA PCMs as devices, and the
// error mapping.
import CaptureCore
@testable import CaptureDeck
@testable import CaptureDeckAVFoundation
import Foundation
import XCTest

/// Records a session's notifications, in order.
private final class NotificationLog: @unchecked Sendable {
    private let lock = NSLock()
    private var entries: [(name: NSNotification.Name, info: [AnyHashable: Any]?)] = []
    private var tokens: [any NSObjectProtocol] = []

    init(_ session: AVCaptureSession) {
        for name in [AVCaptureSession.didStartRunningNotification, AVCaptureSession.didStopRunningNotification,
                     AVCaptureSession.runtimeErrorNotification, AVCaptureSession.wasInterruptedNotification,
                     AVCaptureSession.interruptionEndedNotification] {
            tokens.append(NotificationCenter.default.addObserver(forName: name, object: session, queue: nil) { [weak self] n in
                guard let self else { return }
                let info = n.userInfo
                self.lock.withLock { self.entries.append((n.name, info)) }
            })
        }
    }

    deinit { tokens.forEach(NotificationCenter.default.removeObserver) }

    var names: [NSNotification.Name] { lock.withLock { entries.map(\.name) } }
    func info(_ name: NSNotification.Name) -> [AnyHashable: Any]? { lock.withLock { entries.last { $0.name == name }?.info } }

    func waitFor(_ name: NSNotification.Name, seconds: Double = 10) -> Bool {
        let deadline = Date().addingTimeInterval(seconds)
        while Date() < deadline {
            if names.contains(name) { return true }
            Thread.sleep(forTimeInterval: 0.02)
        }
        return false
    }
}

final class SessionLayerTests: XCTestCase {
    /// Two sessions want ALSA's `null` PCM exclusively (mix with others off, Apple's default): the
    /// second is interrupted with Apple's reason 2 (audioDeviceInUseByAnotherClient), and when the
    /// first stops, its interruption ends and it starts running by itself.
    func testAnExclusiveDeviceBusyElsewhereInterruptsWithApplesReasonAndResumes() throws {
        let device = try XCTUnwrap(AVCaptureDevice(uniqueID: "alsa-pcm:null"), "ALSA's null PCM opens for capture")
        XCTAssertEqual(device.uniqueID, "alsa-pcm:null")
        func session() throws -> AVCaptureSession {
            let s = AVCaptureSession()
            let input = try AVCaptureDeviceInput(device: device)
            XCTAssertTrue(s.canAddInput(input))
            s.addInput(input)
            XCTAssertFalse(s.configuresApplicationAudioSessionToMixWithOthers, "Apple's default: exclusive")
            return s
        }
        let first = try session(), second = try session()
        let log1 = NotificationLog(first), log2 = NotificationLog(second)
        first.startRunning()
        XCTAssertTrue(first.isRunning)
        XCTAssertEqual(log1.names, [AVCaptureSession.didStartRunningNotification])

        second.startRunning()
        XCTAssertTrue(log2.waitFor(AVCaptureSession.wasInterruptedNotification))
        XCTAssertTrue(second.isInterrupted)
        XCTAssertFalse(second.isRunning)
        let reason = log2.info(AVCaptureSession.wasInterruptedNotification)?[AVCaptureSessionInterruptionReasonKey]
        XCTAssertEqual(reason as? Int, 2, "as Int, as a Linux port reads it")
        XCTAssertEqual((reason as? NSNumber)?.intValue, AVCaptureSession.InterruptionReason.audioDeviceInUseByAnotherClient.rawValue)

        first.stopRunning()
        XCTAssertEqual(log1.names, [AVCaptureSession.didStartRunningNotification, AVCaptureSession.didStopRunningNotification])
        XCTAssertTrue(log2.waitFor(AVCaptureSession.didStartRunningNotification), "the second resumes when the device frees")
        XCTAssertEqual(log2.names, [AVCaptureSession.wasInterruptedNotification, AVCaptureSession.interruptionEndedNotification,
                                    AVCaptureSession.didStartRunningNotification])
        XCTAssertTrue(second.isRunning)
        XCTAssertFalse(second.isInterrupted)
        second.stopRunning()
        XCTAssertFalse(log2.names.contains(AVCaptureSession.runtimeErrorNotification))
    }

    /// Presets choose the capture rate (CaptureDeck's mapping), seen in the sample buffers' format
    /// description and in a file recorded at the same time.
    func testPresetsChooseTheCaptureRate() throws {
        let session = AVCaptureSession()
        XCTAssertEqual(session.sessionPreset, .high, "Apple's default")
        for preset: AVCaptureSession.Preset in [.high, .medium, .low, .inputPriority, .hd1920x1080] {
            XCTAssertTrue(session.canSetSessionPreset(preset))
        }
        XCTAssertFalse(session.canSetSessionPreset(AVCaptureSession.Preset(rawValue: "AVCaptureSessionPresetNoSuchThing")))
        let device = try XCTUnwrap(AVCaptureDevice(uniqueID: "builtin"))
        session.addInput(try AVCaptureDeviceInput(device: device))
        let data = AVCaptureAudioDataOutput()
        final class Rates: NSObject, AVCaptureAudioDataOutputSampleBufferDelegate, @unchecked Sendable {
            let lock = NSLock()
            var seen: [Double] = []
            func captureOutput(_ output: AVCaptureOutput, didOutput sampleBuffer: CMSampleBuffer, from connection: AVCaptureConnection) {
                let rate = sampleBuffer.formatDescription?.audioStreamBasicDescription?.mSampleRate ?? 0
                lock.withLock { seen.append(rate) }
            }
        }
        let rates = Rates()
        data.setSampleBufferDelegate(rates, queue: DispatchQueue(label: "rates"))
        session.addOutput(data)
        for (preset, rate) in [(AVCaptureSession.Preset.low, 16_000.0), (.medium, 44_100), (.high, 48_000)] {
            session.sessionPreset = preset
            rates.lock.withLock { rates.seen = [] }
            session.startRunning()
            Thread.sleep(forTimeInterval: 0.3)
            session.stopRunning()
            let seen = rates.lock.withLock { rates.seen }
            XCTAssertFalse(seen.isEmpty, "\(preset.rawValue): buffers arrived")
            XCTAssertEqual(Set(seen), [rate], "\(preset.rawValue) captures at \(rate) Hz")
            XCTAssertEqual(data.recommendedAudioSettingsForAssetWriter(writingTo: .wav)?[AVSampleRateKey] as? Double, rate)
        }
    }

    /// A named ALSA PCM that ALSA can't open is no device; one that opens is, never listed.
    func testNamedALSAPCMsAreFoundByIDOnly() {
        XCTAssertNil(AVCaptureDevice(uniqueID: "alsa-pcm:capdeck_no_such_pcm"))
        XCTAssertNil(AVCaptureDevice(uniqueID: "alsa-pcm:"))
        let null = AVCaptureDevice(uniqueID: "alsa-pcm:null")
        XCTAssertNotNil(null)
        XCTAssertEqual(null?.isConnected, true)
        let listed = AVCaptureDevice.DiscoverySession(deviceTypes: [.microphone], mediaType: .audio, position: .unspecified).devices
        XCTAssertFalse(listed.contains { $0.uniqueID.hasPrefix("alsa-pcm:") })
    }

    /// CaptureDeck's session errors reach ports as the Apple codes their handlers test.
    func testSessionErrorsMapOntoApplesCodes() {
        let cases: [(CaptureSessionError, AVError.Code)] = [
            (.device(.busy(device: "hw:0")), .deviceInUseByAnotherApplication),
            (.device(.notFound(device: "hw:9", reason: "No such device")), .deviceNotConnected),
            (.device(.lost(device: "hw:0", reason: "unplugged")), .deviceWasDisconnected),
            (.device(.stalled(device: "pulse", seconds: 2)), .deviceWasDisconnected),
            (.device(.unavailable(device: "hw:0", reason: "Permission denied")), .applicationIsNotAuthorizedToUseDevice),
            (.device(.unsupported(device: "hw:0", parameter: "rate", reason: "no")), .unsupportedDeviceActiveFormat),
            (.recording(.diskFull(path: "/x.wav", framesSaved: 10)), .diskFull),
            (.recording(.exists(path: "/x.wav")), .fileAlreadyExists),
            (.cannotStart(.noRoute), .deviceNotConnected),
        ]
        for (error, code) in cases {
            let e = AVError(error)
            XCTAssertEqual(e.code, code, "\(error)")
            XCTAssertEqual((e as NSError).domain, AVFoundationErrorDomain)
            XCTAssertEqual(e.userInfo[NSLocalizedDescriptionKey] as? String, error.description)
        }
        XCTAssertEqual(AVError(.recording(.diskFull(path: "/x.wav", framesSaved: 10))).recordingSuccessfullyFinished, true,
                       "a full disk leaves a whole file")
    }

    /// A delegate call in progress when `stopRunning()` is called has finished when it returns, and
    /// none starts after (before, a call that had passed the core's gate could still reach the
    /// delegate after the return).
    func testNoDelegateCallIsRunningOrStartsOnceStopRunningReturns() throws {
        final class Slow: NSObject, AVCaptureAudioDataOutputSampleBufferDelegate, @unchecked Sendable {
            let lock = NSLock()
            var inside = false, calls = 0, afterStop = 0, stopped = false
            func captureOutput(_ output: AVCaptureOutput, didOutput sampleBuffer: CMSampleBuffer, from connection: AVCaptureConnection) {
                lock.withLock { inside = true; calls += 1; if stopped { afterStop += 1 } }
                usleep(150_000)  // slower than the buffers come: the call is often in progress
                lock.withLock { inside = false }
            }
        }
        for _ in 0..<3 {
            let session = AVCaptureSession()
            session.addInput(try AVCaptureDeviceInput(device: try XCTUnwrap(AVCaptureDevice(uniqueID: "builtin"))))
            let output = AVCaptureAudioDataOutput()
            let slow = Slow()
            output.setSampleBufferDelegate(slow, queue: DispatchQueue(label: "slow"))
            session.addOutput(output)
            session.startRunning()
            // Stop while a call is inside the delegate.
            let deadline = Date().addingTimeInterval(5)
            while !slow.lock.withLock({ slow.inside }) && Date() < deadline { usleep(1_000) }
            usleep(20_000)
            session.stopRunning()
            let insideAtReturn = slow.lock.withLock { () -> Bool in slow.stopped = true; return slow.inside }
            XCTAssertFalse(insideAtReturn, "the call in progress finished before stopRunning() returned")
            usleep(400_000)
            XCTAssertEqual(slow.lock.withLock { slow.afterStop }, 0, "no call started after stopRunning() returned")
            XCTAssertGreaterThan(slow.lock.withLock { slow.calls }, 0)
        }
    }

    /// In will-finish and did-finish, `recordedDuration` and `recordedFileSize` are the ending
    /// recording's (they read 0 there before: the recording was already cleared).
    func testRecordedFiguresAreTheEndedRecordingsInTheFinishCallbacks() throws {
        final class Figures: NSObject, AVCaptureFileOutputRecordingDelegate, @unchecked Sendable {
            let lock = NSLock()
            var will: (CMTime, Int64)?, did: (CMTime, Int64)?
            let done = DispatchSemaphore(value: 0)
            func fileOutput(_ output: AVCaptureFileOutput, willFinishRecordingTo fileURL: URL, from connections: [AVCaptureConnection], error: Error?) {
                let f = (output.recordedDuration, output.recordedFileSize)
                lock.withLock { will = f }
            }
            func fileOutput(_ output: AVCaptureFileOutput, didFinishRecordingTo outputFileURL: URL, from connections: [AVCaptureConnection], error: Error?) {
                let f = (output.recordedDuration, output.recordedFileSize)
                lock.withLock { did = f }
                done.signal()
            }
        }
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("capdeck-figures-\(getpid())")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        let session = AVCaptureSession()
        session.addInput(try AVCaptureDeviceInput(device: try XCTUnwrap(AVCaptureDevice(uniqueID: "builtin"))))
        let output = AVCaptureAudioFileOutput()
        session.addOutput(output)
        session.startRunning()
        let figures = Figures()
        let url = dir.appendingPathComponent("take.wav")
        output.startRecording(to: url, outputFileType: .wav, recordingDelegate: figures)
        Thread.sleep(forTimeInterval: 0.5)
        output.stopRecording()
        XCTAssertEqual(figures.done.wait(timeout: .now() + 10), .success)
        session.stopRunning()
        let size = try XCTUnwrap(FileManager.default.attributesOfItem(atPath: url.path)[.size] as? NSNumber).int64Value
        let (will, did) = figures.lock.withLock { (figures.will, figures.did) }
        XCTAssertGreaterThan(try XCTUnwrap(will).0.seconds, 0.3, "will-finish: the ending recording's duration")
        XCTAssertGreaterThan(try XCTUnwrap(will).1, 0)
        XCTAssertGreaterThan(try XCTUnwrap(did).0.seconds, 0.3, "did-finish: the ended recording's duration")
        XCTAssertEqual(try XCTUnwrap(did).1, size, "did-finish: the finished file's size")
    }
}
