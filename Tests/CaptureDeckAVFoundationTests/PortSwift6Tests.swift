#if canImport(AVFoundation)
import AVFoundation
#else
import CaptureDeckAVFoundation
#endif
import Foundation
import XCTest

// A port in Swift 6 mode (strict concurrency), written as a Swift 6 app writes against Apple's
// SDK: the session lives in a controller that owns a serial session queue (the session itself is
// not Sendable), the delegates are `@unchecked Sendable` classes guarding their state with a
// lock, and the app awaits the session's work and the recording's end with continuations.

final class Swift6CaptureController: NSObject, AVCaptureAudioDataOutputSampleBufferDelegate,
    AVCaptureFileOutputRecordingDelegate, @unchecked Sendable
{
    private let session = AVCaptureSession()
    private let sessionQueue = DispatchQueue(label: "swift6.session")
    private let sampleQueue = DispatchQueue(label: "swift6.samples")
    private let audioOutput = AVCaptureAudioDataOutput()
    private let fileOutput = AVCaptureAudioFileOutput()
    private let lock = NSLock()
    private var peak: Float = 0
    private var buffers = 0
    private var finish: CheckedContinuation<(URL, (any Error)?), Never>?

    var measuredPeak: Float { lock.withLock { peak } }
    var bufferCount: Int { lock.withLock { buffers } }

    func configure(uniqueID: String) async throws {
        try await onSessionQueue {
            guard let device = AVCaptureDevice(uniqueID: uniqueID) else { throw AVError(.deviceNotConnected) }
            let input = try AVCaptureDeviceInput(device: device)
            self.session.beginConfiguration()
            defer { self.session.commitConfiguration() }
            if self.session.canAddInput(input) { self.session.addInput(input) }
            if self.session.canAddOutput(self.audioOutput) { self.session.addOutput(self.audioOutput) }
            if self.session.canAddOutput(self.fileOutput) { self.session.addOutput(self.fileOutput) }
            self.audioOutput.setSampleBufferDelegate(self, queue: self.sampleQueue)
        }
    }

    func start() async { await onSessionQueue { self.session.startRunning() } }
    func stop() async { await onSessionQueue { self.session.stopRunning() } }
    var isRunning: Bool { get async { await onSessionQueue { self.session.isRunning } } }

    /// Records for `seconds` and returns when the delegate says the file is finished.
    func record(to url: URL, seconds: Double) async -> (URL, (any Error)?) {
        await withCheckedContinuation { continuation in
            lock.withLock { finish = continuation }
            sessionQueue.async {
                self.fileOutput.startRecording(to: url, outputFileType: .wav, recordingDelegate: self)
                self.sessionQueue.asyncAfter(deadline: .now() + seconds) { self.fileOutput.stopRecording() }
            }
        }
    }

    private func onSessionQueue<T: Sendable>(_ work: @escaping @Sendable () throws -> T) async throws -> T {
        try await withCheckedThrowingContinuation { continuation in
            sessionQueue.async { continuation.resume(with: Result { try work() }) }
        }
    }

    private func onSessionQueue<T: Sendable>(_ work: @escaping @Sendable () -> T) async -> T {
        await withCheckedContinuation { continuation in
            sessionQueue.async { continuation.resume(returning: work()) }
        }
    }

    func captureOutput(_ output: AVCaptureOutput, didOutput sampleBuffer: CMSampleBuffer, from connection: AVCaptureConnection) {
        guard let asbd = sampleBuffer.formatDescription?.audioStreamBasicDescription else { return }
        var bufferPeak: Float = 0
        try? sampleBuffer.withAudioBufferList { list, _ in
            for buffer in list {
                guard let data = buffer.mData else { continue }
                let isFloat = asbd.mFormatFlags & kAudioFormatFlagIsFloat != 0
                if isFloat && asbd.mBitsPerChannel == 32 {
                    let samples = UnsafeBufferPointer(start: data.assumingMemoryBound(to: Float.self), count: Int(buffer.mDataByteSize) / 4)
                    for s in samples { bufferPeak = max(bufferPeak, abs(s)) }
                } else if !isFloat && asbd.mBitsPerChannel == 16 {
                    let samples = UnsafeBufferPointer(start: data.assumingMemoryBound(to: Int16.self), count: Int(buffer.mDataByteSize) / 2)
                    for s in samples { bufferPeak = max(bufferPeak, abs(Float(s) / 32768)) }
                } else if !isFloat && asbd.mBitsPerChannel == 32 {
                    let samples = UnsafeBufferPointer(start: data.assumingMemoryBound(to: Int32.self), count: Int(buffer.mDataByteSize) / 4)
                    for s in samples { bufferPeak = max(bufferPeak, abs(Float(Double(s) / 2147483648))) }
                }
            }
        }
        lock.withLock {
            peak = max(peak, bufferPeak)
            buffers += 1
        }
    }

    func fileOutput(_ output: AVCaptureFileOutput, didFinishRecordingTo outputFileURL: URL, from connections: [AVCaptureConnection], error: (any Error)?) {
        let continuation = lock.withLock { () -> CheckedContinuation<(URL, (any Error)?), Never>? in
            defer { finish = nil }
            return finish
        }
        continuation?.resume(returning: (outputFileURL, error))
    }
}

final class PortSwift6Tests: XCTestCase {
    func testASwift6AppMetersAndRecordsTheBuiltInTone() async throws {
        XCTAssertNotNil(AVCaptureDevice(uniqueID: "builtin"), "the built-in test source is always there")
        let controller = Swift6CaptureController()
        try await controller.configure(uniqueID: "builtin")
        await controller.start()
        let running = await controller.isRunning
        XCTAssertTrue(running)
        let url = FileManager.default.temporaryDirectory.appendingPathComponent("swift6-\(UUID().uuidString).wav")
        defer { try? FileManager.default.removeItem(at: url) }
        let (finishedURL, error) = await controller.record(to: url, seconds: 0.5)
        await controller.stop()
        XCTAssertEqual(finishedURL, url)
        XCTAssertNil(error)
        XCTAssertGreaterThan(controller.bufferCount, 5)
        // −12 dBFS peak = 0.2512; the sampled peak of 440 Hz is within 0.05 % of it.
        XCTAssertEqual(Double(controller.measuredPeak), pow(10, -12.0 / 20), accuracy: 0.0005)
        let size = (try FileManager.default.attributesOfItem(atPath: url.path)[.size] as? NSNumber)?.intValue ?? 0
        XCTAssertGreaterThan(size, 44 + 20_000, "a WAV with about 0.5 s of audio")
    }
}
