#if canImport(AVFoundation)
import AVFoundation
#else
import CaptureDeckAVFoundation
#endif
import Foundation
import XCTest

// Program 2: a macOS audio recorder. It picks its microphone as recorder apps do (a saved
// uniqueID, else the default input, else the first one discovery finds), records with
// AVCaptureAudioFileOutput, logs its recording delegate's calls, pauses and resumes, and stops
// at a duration limit.

final class AudioRecorder: NSObject, AVCaptureFileOutputRecordingDelegate {
    enum Event: Equatable {
        case didStart, didPause, didResume, willFinish, didFinish
    }

    let session = AVCaptureSession()
    let fileOutput = AVCaptureAudioFileOutput()
    private let lock = NSLock()
    private var _events: [Event] = []
    private var _urls: [URL] = []
    private var _finishError: Error?
    private var _durationAtWillFinish: CMTime = .invalid
    private var _durationAtFinish: CMTime = .invalid
    private var _sizeAtFinish: Int64 = -1
    let finished = DispatchSemaphore(value: 0)

    var events: [Event] { lock.lock(); defer { lock.unlock() }; return _events }
    var eventURLs: [URL] { lock.lock(); defer { lock.unlock() }; return _urls }
    var finishError: Error? { lock.lock(); defer { lock.unlock() }; return _finishError }
    var durationAtWillFinish: CMTime { lock.lock(); defer { lock.unlock() }; return _durationAtWillFinish }
    var durationAtFinish: CMTime { lock.lock(); defer { lock.unlock() }; return _durationAtFinish }
    var sizeAtFinish: Int64 { lock.lock(); defer { lock.unlock() }; return _sizeAtFinish }

    /// The microphone: the one saved in the preferences, else the default, else the first found.
    static func chooseMicrophone(savedUniqueID: String?) -> AVCaptureDevice? {
        if let id = savedUniqueID, let device = AVCaptureDevice(uniqueID: id) { return device }
        if let device = AVCaptureDevice.default(for: .audio) { return device }
        let discovery = AVCaptureDevice.DiscoverySession(deviceTypes: [.microphone, .external],
                                                         mediaType: .audio, position: .unspecified)
        return discovery.devices.first
    }

    func configure(device: AVCaptureDevice) throws {
        let input = try AVCaptureDeviceInput(device: device)
        session.beginConfiguration()
        if session.canAddInput(input) { session.addInput(input) }
        if session.canAddOutput(fileOutput) { session.addOutput(fileOutput) }
        session.commitConfiguration()
    }

    func record(to url: URL, type: AVFileType) {
        fileOutput.startRecording(to: url, outputFileType: type, recordingDelegate: self)
    }

    private func log(_ event: Event, _ url: URL) {
        lock.lock(); _events.append(event); _urls.append(url); lock.unlock()
    }

    func fileOutput(_ output: AVCaptureFileOutput, didStartRecordingTo fileURL: URL, from connections: [AVCaptureConnection]) {
        log(.didStart, fileURL)
    }

    func fileOutput(_ output: AVCaptureFileOutput, didPauseRecordingTo fileURL: URL, from connections: [AVCaptureConnection]) {
        log(.didPause, fileURL)
    }

    func fileOutput(_ output: AVCaptureFileOutput, didResumeRecordingTo fileURL: URL, from connections: [AVCaptureConnection]) {
        log(.didResume, fileURL)
    }

    func fileOutput(_ output: AVCaptureFileOutput, willFinishRecordingTo fileURL: URL, from connections: [AVCaptureConnection], error: Error?) {
        lock.lock(); _durationAtWillFinish = output.recordedDuration; lock.unlock()
        log(.willFinish, fileURL)
    }

    func fileOutput(_ output: AVCaptureFileOutput, didFinishRecordingTo outputFileURL: URL, from connections: [AVCaptureConnection], error: Error?) {
        lock.lock()
        _finishError = error
        _durationAtFinish = output.recordedDuration
        _sizeAtFinish = output.recordedFileSize
        lock.unlock()
        log(.didFinish, outputFileURL)
        finished.signal()
    }
}

final class FileRecorderPortTests: XCTestCase {
    private var directory: URL!

    override func setUpWithError() throws {
        directory = try makeTemporaryDirectory("recorder")
    }

    override func tearDown() {
        try? FileManager.default.removeItem(at: directory)
    }

    func testDeviceDiscoveryAndUniqueIDs() throws {
        let discovery = AVCaptureDevice.DiscoverySession(deviceTypes: [.microphone, .external],
                                                         mediaType: .audio, position: .unspecified)
        let devices = discovery.devices
        print("discovered: " + devices.map { "\($0.uniqueID) (\($0.localizedName), \($0.deviceType.rawValue))" }.joined(separator: ", "))
        for device in devices {
            XCTAssertFalse(device.uniqueID.isEmpty)
            XCTAssertFalse(device.localizedName.isEmpty)
            XCTAssertTrue(device.hasMediaType(.audio))
            XCTAssertTrue(device.isConnected)
            XCTAssertEqual(AVCaptureDevice(uniqueID: device.uniqueID)?.uniqueID, device.uniqueID)
        }
        XCTAssertEqual(Set(devices.map { $0.uniqueID }).count, devices.count, "unique IDs are unique")
        if let device = AVCaptureDevice.default(for: .audio) {
            XCTAssertTrue(devices.contains { $0.uniqueID == device.uniqueID }, "the default input is one discovery finds")
        }
        XCTAssertNil(AVCaptureDevice(uniqueID: "no-such-device-\(UUID().uuidString)"))

        // The saved preference wins; a stale one falls back to the default or the first found.
        let saved = try TestTone.device()
        XCTAssertEqual(AudioRecorder.chooseMicrophone(savedUniqueID: saved.uniqueID)?.uniqueID, saved.uniqueID)
        let fallback = AudioRecorder.chooseMicrophone(savedUniqueID: "unplugged-mic")
        XCTAssertEqual(fallback?.uniqueID, (AVCaptureDevice.default(for: .audio) ?? devices.first)?.uniqueID)
        print("fallback microphone: \(fallback?.uniqueID ?? "none")")
    }

    func testAvailableOutputFileTypes() {
        let types = AVCaptureAudioFileOutput.availableOutputFileTypes()
        print("availableOutputFileTypes: \(types.map { $0.rawValue })")
        XCTAssertTrue(types.contains(.wav))
        XCTAssertTrue(types.contains(.aiff))
        XCTAssertTrue(types.contains(.caf))
    }

    func testPauseResumeStopDelegateOrderAndTheFileReadBack() throws {
        let recorder = AudioRecorder()
        guard let device = AudioRecorder.chooseMicrophone(savedUniqueID: try TestTone.device().uniqueID) else { return }
        try recorder.configure(device: device)
        recorder.session.startRunning()
        defer { recorder.session.stopRunning() }
        let url = directory.appendingPathComponent("take.wav")
        XCTAssertFalse(recorder.fileOutput.isRecording)
        recorder.record(to: url, type: .wav)
        XCTAssertTrue(waitUntil(5) { recorder.events.contains(.didStart) }, "didStart within 5 s")
        XCTAssertTrue(recorder.fileOutput.isRecording)
        XCTAssertEqual(recorder.fileOutput.outputFileURL, url)
        let started = Date()
        usleep(600_000)
        XCTAssertGreaterThan(recorder.fileOutput.recordedDuration.seconds, 0.3)
        XCTAssertGreaterThan(recorder.fileOutput.recordedFileSize, 0)

        recorder.fileOutput.pauseRecording()
        XCTAssertTrue(waitUntil(5) { recorder.events.contains(.didPause) }, "didPause within 5 s")
        XCTAssertTrue(recorder.fileOutput.isRecordingPaused)
        let pausedAt = recorder.fileOutput.recordedDuration
        usleep(500_000)
        XCTAssertEqual(recorder.fileOutput.recordedDuration, pausedAt, "no time is recorded while paused")

        recorder.fileOutput.resumeRecording()
        XCTAssertTrue(waitUntil(5) { recorder.events.contains(.didResume) }, "didResume within 5 s")
        XCTAssertFalse(recorder.fileOutput.isRecordingPaused)
        usleep(600_000)
        let lastDuration = recorder.fileOutput.recordedDuration
        let lastSize = recorder.fileOutput.recordedFileSize
        recorder.fileOutput.stopRecording()
        XCTAssertEqual(recorder.finished.wait(timeout: .now() + 10), .success, "didFinish within 10 s")
        let wall = Date().timeIntervalSince(started)

        XCTAssertEqual(recorder.events, [.didStart, .didPause, .didResume, .willFinish, .didFinish])
        XCTAssertEqual(Set(recorder.eventURLs), [url])
        XCTAssertNil(recorder.finishError)
        XCTAssertFalse(recorder.fileOutput.isRecording)
        XCTAssertTrue(recorder.session.isRunning, "stopping a recording leaves the session running")

        let file = try DecodedFile(url)
        let python = try pythonHeader(url)
        print("take.wav: \(file.frames) frames, \(file.sampleRate) Hz, \(file.channels) ch, \(file.codec); recordedDuration before stop \(lastDuration.seconds) s, in willFinish \(recorder.durationAtWillFinish.seconds) s, in didFinish \(recorder.durationAtFinish.seconds) s (size \(recorder.sizeAtFinish)); wall \(wall) s")
        XCTAssertEqual(python.frames, file.frames, "two readers agree on the length")
        XCTAssertEqual(Double(python.rate), file.sampleRate)
        // 1.2 s recorded (0.6 + 0.6), the 0.5 s pause not: allow 0.25 s for the calls' latency.
        let seconds = Double(file.frames) / file.sampleRate
        XCTAssertEqual(seconds, 1.2, accuracy: 0.25)
        XCTAssertLessThan(seconds, wall - 0.3, "the pause is not in the file")
        // What was recorded so far, just before the stop, is in the file (Apple documents the two
        // properties only while recording; what they read after didFinish is not promised).
        XCTAssertLessThanOrEqual(lastDuration.seconds * file.sampleRate, Double(file.frames) + 0.5)
        XCTAssertGreaterThan(lastDuration.seconds * file.sampleRate, Double(file.frames) - 0.25 * file.sampleRate)
        let onDisk = (try FileManager.default.attributesOfItem(atPath: url.path)[.size] as? NSNumber)?.int64Value ?? -1
        XCTAssertGreaterThan(lastSize, 0)
        XCTAssertLessThanOrEqual(lastSize, onDisk)
        // The content is the tone (the pause joins two stretches of it; level is unaffected).
        let levels = Levels(file.samples)
        XCTAssertEqual(levels.peak, TestTone.peakDBFS, accuracy: 0.01)
        XCTAssertEqual(levels.rms, TestTone.rmsDBFS, accuracy: TestTone.rmsErrorBoundDB(frames: file.frames, sampleRate: file.sampleRate) + 0.02)
    }

    func testMaxRecordedDurationFinishesExactlyAndTheSessionKeepsRunning() throws {
        let recorder = AudioRecorder()
        try recorder.configure(device: try TestTone.device())
        // A data output too, to see the session go on delivering after the limit.
        let counter = BufferCounter()
        let dataOutput = AVCaptureAudioDataOutput()
        dataOutput.setSampleBufferDelegate(counter, queue: DispatchQueue(label: "recorder.counter"))
        recorder.session.beginConfiguration()
        XCTAssertTrue(recorder.session.canAddOutput(dataOutput))
        recorder.session.addOutput(dataOutput)
        recorder.session.commitConfiguration()

        recorder.fileOutput.maxRecordedDuration = CMTime(value: 3, timescale: 4)  // 0.75 s
        XCTAssertEqual(recorder.fileOutput.maxRecordedDuration, CMTimeMake(value: 3, timescale: 4))
        recorder.session.startRunning()
        defer { recorder.session.stopRunning() }
        let url = directory.appendingPathComponent("limited.aiff")
        recorder.record(to: url, type: .aiff)
        XCTAssertEqual(recorder.finished.wait(timeout: .now() + 10), .success, "didFinish within 10 s")
        XCTAssertEqual(recorder.events, [.didStart, .willFinish, .didFinish])

        // Apple's AVCam idiom, ported (it reads the flag with `as AnyObject).boolValue`, which
        // needs the Objective-C runtime; `as? Bool` is the portable spelling).
        let error = recorder.finishError
        XCTAssertNotNil(error)
        var success = true
        if let error = error {
            success = (error as NSError).userInfo[AVErrorRecordingSuccessfullyFinishedKey] as? Bool ?? false
            XCTAssertEqual((error as NSError).domain, AVFoundationErrorDomain)
            XCTAssertEqual((error as NSError).code, AVError.Code.maximumDurationReached.rawValue)
        }
        XCTAssertTrue(success, "AVErrorRecordingSuccessfullyFinishedKey is true")
        let avError = error as? AVError
        XCTAssertEqual(avError?.code, .maximumDurationReached)
        XCTAssertEqual(avError?.recordingSuccessfullyFinished, true)

        // The session keeps running and delivering.
        XCTAssertTrue(recorder.session.isRunning)
        XCTAssertFalse(recorder.fileOutput.isRecording)
        let before = counter.count
        XCTAssertTrue(waitUntil(2) { counter.count > before + 3 }, "buffers keep coming after the limit")

        // Exact to the frame, by two independent readers.
        let file = try DecodedFile(url)
        let python = try pythonHeader(url)
        let expected = Int(file.sampleRate * 0.75)
        print("limited.aiff: \(file.frames) frames (\(python.frames) by aifc) at \(file.sampleRate) Hz; expected \(expected)")
        XCTAssertEqual(file.frames, expected)
        XCTAssertEqual(python.frames, expected)
        XCTAssertEqual(Levels(file.samples).peak, TestTone.peakDBFS, accuracy: 0.01)
    }

    func testCAFWithLinearPCMAudioSettings() throws {
        let recorder = AudioRecorder()
        try recorder.configure(device: try TestTone.device())
        recorder.fileOutput.audioSettings = [
            AVFormatIDKey: kAudioFormatLinearPCM,
            AVLinearPCMBitDepthKey: 24,
            AVLinearPCMIsFloatKey: false,
            AVLinearPCMIsBigEndianKey: true,
            AVLinearPCMIsNonInterleaved: false,
        ]
        recorder.session.startRunning()
        defer { recorder.session.stopRunning() }
        let url = directory.appendingPathComponent("take.caf")
        recorder.record(to: url, type: .caf)
        XCTAssertTrue(waitUntil(5) { recorder.events.contains(.didStart) })
        usleep(500_000)
        recorder.fileOutput.stopRecording()
        XCTAssertEqual(recorder.finished.wait(timeout: .now() + 10), .success)
        XCTAssertNil(recorder.finishError)
        let file = try DecodedFile(url)
        print("take.caf: \(file.codec), \(file.frames) frames at \(file.sampleRate) Hz")
        XCTAssertEqual(file.codec, "pcm_s24be", "the audioSettings' 24-bit big-endian integer PCM")
        XCTAssertEqual(Double(file.frames) / file.sampleRate, 0.5, accuracy: 0.25)
        XCTAssertEqual(Levels(file.samples).peak, TestTone.peakDBFS, accuracy: 0.01)
    }
}

/// Counts sample buffers (a second consumer on the same session).
final class BufferCounter: NSObject, AVCaptureAudioDataOutputSampleBufferDelegate {
    private let lock = NSLock()
    private var _count = 0
    var count: Int { lock.lock(); defer { lock.unlock() }; return _count }
    func captureOutput(_ output: AVCaptureOutput, didOutput sampleBuffer: CMSampleBuffer, from connection: AVCaptureConnection) {
        lock.lock(); _count += 1; lock.unlock()
    }
}
