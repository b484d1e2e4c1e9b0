#if canImport(AVFoundation)
import AVFoundation
#else
import CaptureDeckAVFoundation
#endif
import Foundation
import XCTest

// Program 3: a camera app's audio component. The app owns the session and configures it in one
// beginConfiguration/commitConfiguration batch; the component adds the microphone and an audio
// data output whose delegate hands each CMSampleBuffer to a writer (here: a log of its timing,
// format and bytes, as a muxer would see them).

final class CameraAudioComponent: NSObject, AVCaptureAudioDataOutputSampleBufferDelegate {
    struct Buffer {
        var pts: CMTime
        var duration: CMTime
        var numSamples: Int
        var asbd: AudioStreamBasicDescription
        var dataLength: Int
        var firstSamples: [Float]
        var arrival: Date
        var afterStop: Bool
        var cAgrees: Bool
    }

    let audioOutput = AVCaptureAudioDataOutput()
    let sampleQueue = DispatchQueue(label: "com.example.camera.audio")
    private let lock = NSLock()
    private var _buffers: [Buffer] = []
    private var _stopped = false

    var buffers: [Buffer] { lock.lock(); defer { lock.unlock() }; return _buffers }

    /// Called by the app between its beginConfiguration and commitConfiguration.
    func add(to session: AVCaptureSession, device: AVCaptureDevice) throws {
        let input = try AVCaptureDeviceInput(device: device)
        guard session.canAddInput(input), session.canAddOutput(audioOutput) else {
            throw PortFailure("cannot add the audio input/output")
        }
        session.addInput(input)
        session.addOutput(audioOutput)
        audioOutput.setSampleBufferDelegate(self, queue: sampleQueue)
    }

    /// The app calls this right after its stopRunning() returned.
    func markStopped() { lock.lock(); _stopped = true; lock.unlock() }

    func captureOutput(_ output: AVCaptureOutput, didOutput sampleBuffer: CMSampleBuffer, from connection: AVCaptureConnection) {
        lock.lock(); let afterStop = _stopped; lock.unlock()
        guard CMSampleBufferDataIsReady(sampleBuffer),
              let asbd = sampleBuffer.formatDescription?.audioStreamBasicDescription else { return }
        var length = 0
        var firstSamples: [Float] = []
        if let block = CMSampleBufferGetDataBuffer(sampleBuffer) {
            length = CMBlockBufferGetDataLength(block)
            // A writer copies the bytes out (the block may not be contiguous).
            var bytes = [UInt8](repeating: 0, count: length)
            let status = bytes.withUnsafeMutableBytes { raw in
                CMBlockBufferCopyDataBytes(block, atOffset: 0, dataLength: length, destination: raw.baseAddress!)
            }
            if status == kCMBlockBufferNoErr {
                bytes.withUnsafeMutableBytes { raw in
                    let buffer = AudioBuffer(mNumberChannels: asbd.mChannelsPerFrame, mDataByteSize: UInt32(length), mData: raw.baseAddress)
                    firstSamples = Array(decodePCM(buffer, asbd).prefix(4096))
                }
            }
        }
        // The same facts through the C functions older code calls.
        var cAgrees = false
        if let fd = CMSampleBufferGetFormatDescription(sampleBuffer),
           let c = CMAudioFormatDescriptionGetStreamBasicDescription(fd)?.pointee {
            cAgrees = c.mSampleRate == asbd.mSampleRate && c.mFormatFlags == asbd.mFormatFlags
                && c.mBytesPerFrame == asbd.mBytesPerFrame && c.mChannelsPerFrame == asbd.mChannelsPerFrame
                && CMSampleBufferGetPresentationTimeStamp(sampleBuffer) == sampleBuffer.presentationTimeStamp
                && CMSampleBufferGetDuration(sampleBuffer) == sampleBuffer.duration
                && CMSampleBufferGetNumSamples(sampleBuffer) == sampleBuffer.numSamples
        }
        let entry = Buffer(pts: sampleBuffer.presentationTimeStamp, duration: sampleBuffer.duration,
                           numSamples: sampleBuffer.numSamples, asbd: asbd, dataLength: length,
                           firstSamples: firstSamples, arrival: Date(), afterStop: afterStop, cAgrees: cAgrees)
        lock.lock(); _buffers.append(entry); lock.unlock()
    }
}

final class SampleBufferConsumerPortTests: XCTestCase {
    private func startCameraSession() throws -> (AVCaptureSession, CameraAudioComponent) {
        let session = AVCaptureSession()
        let audio = CameraAudioComponent()
        session.beginConfiguration()
        XCTAssertTrue(session.canSetSessionPreset(.high))
        session.sessionPreset = .high
        try audio.add(to: session, device: try TestTone.device())
        session.commitConfiguration()
        XCTAssertEqual(session.inputs.count, 1)
        XCTAssertEqual(session.outputs.count, 1)
        XCTAssertEqual(audio.audioOutput.connections.count, 1)
        XCTAssertTrue(audio.audioOutput.sampleBufferDelegate === audio)
        session.startRunning()
        return (session, audio)
    }

    /// Gaps between consecutive buffers, in seconds (0 where continuous).
    private func gaps(_ buffers: [CameraAudioComponent.Buffer]) -> [Double] {
        zip(buffers, buffers.dropFirst()).map { a, b in (b.pts - (a.pts + a.duration)).seconds }
    }

    func testTimestampsAreContinuousAndTheFormatIsDescribed() throws {
        let (session, audio) = try startCameraSession()
        usleep(1_500_000)
        session.stopRunning()
        audio.markStopped()
        usleep(500_000)
        let buffers = audio.buffers
        XCTAssertGreaterThan(buffers.count, 10)
        guard let first = buffers.first, let last = buffers.last else { return }
        let asbd = first.asbd
        print("camera audio: \(buffers.count) buffers, first PTS \(first.pts.value)/\(first.pts.timescale), \(first.numSamples) samples; ASBD rate \(asbd.mSampleRate) flags 0x\(String(asbd.mFormatFlags, radix: 16)) bpf \(asbd.mBytesPerFrame) ch \(asbd.mChannelsPerFrame) bits \(asbd.mBitsPerChannel)")

        // PTS + duration == next PTS, exactly (CMTime equality across timescales).
        for (i, (a, b)) in zip(buffers, buffers.dropFirst()).enumerated() {
            XCTAssertEqual(a.pts + a.duration, b.pts, "buffer \(i): \(a.pts.value)/\(a.pts.timescale) + \(a.duration.value)/\(a.duration.timescale) ≠ \(b.pts.value)/\(b.pts.timescale)")
            XCTAssertEqual(CMTimeCompare(CMTimeAdd(a.pts, a.duration), b.pts), 0)
        }
        // The timestamps advance at the wall clock's pace (real time, one clock).
        let ptsSpan = (last.pts - first.pts).seconds
        let wallSpan = last.arrival.timeIntervalSince(first.arrival)
        XCTAssertEqual(ptsSpan, wallSpan, accuracy: 0.15)

        for b in buffers {
            XCTAssertTrue(b.pts.isValid && b.duration.isValid)
            XCTAssertGreaterThan(b.numSamples, 0)
            // duration == numSamples / sample rate.
            XCTAssertEqual(b.duration, CMTime(value: CMTimeValue(b.numSamples), timescale: CMTimeScale(b.asbd.mSampleRate)))
            XCTAssertEqual(b.asbd.mSampleRate, asbd.mSampleRate)
            let planes = b.asbd.mFormatFlags & kAudioFormatFlagIsNonInterleaved != 0 ? Int(b.asbd.mChannelsPerFrame) : 1
            XCTAssertEqual(b.dataLength, b.numSamples * Int(b.asbd.mBytesPerFrame) * planes, "data length")
            XCTAssertFalse(b.afterStop, "no callback after stopRunning() returned")
        }

        // The AudioStreamBasicDescription is linear PCM as Apple describes it.
        XCTAssertEqual(asbd.mFormatID, kAudioFormatLinearPCM)
        XCTAssertNotEqual(asbd.mFormatFlags & kAudioFormatFlagIsPacked, 0, "packed")
        let isFloat = asbd.mFormatFlags & kAudioFormatFlagIsFloat != 0
        let isSigned = asbd.mFormatFlags & kAudioFormatFlagIsSignedInteger != 0
        XCTAssertTrue(isFloat != isSigned, "float or signed integer, not both")
        XCTAssertEqual(asbd.mFormatFlags & kAudioFormatFlagIsBigEndian, 0, "native (little) endian")
        XCTAssertEqual(asbd.mFramesPerPacket, 1)
        XCTAssertEqual(asbd.mBytesPerPacket, asbd.mBytesPerFrame)
        let interleaved = asbd.mFormatFlags & kAudioFormatFlagIsNonInterleaved == 0
        XCTAssertEqual(asbd.mBytesPerFrame, (interleaved ? asbd.mChannelsPerFrame : 1) * asbd.mBitsPerChannel / 8)
        XCTAssertGreaterThanOrEqual(asbd.mChannelsPerFrame, 1)
        XCTAssertEqual(buffers.filter { !$0.cAgrees }.count, 0, "the C accessors say what the Swift properties say")

        // The bytes are the tone.
        let samples = buffers.flatMap { $0.firstSamples }
        XCTAssertEqual(Levels(samples).peak, TestTone.peakDBFS, accuracy: 0.01)
    }

    func testABlockedDelegateQueueDropsBuffersInsteadOfQueueingThem() throws {
        let (session, audio) = try startCameraSession()
        usleep(500_000)
        // The app's writer stalls the delegate queue for 2 s (a slow disk, say).
        let blockStart = Date()
        let unblocked = DispatchSemaphore(value: 0)
        audio.sampleQueue.async {
            Thread.sleep(forTimeInterval: 2.0)
            unblocked.signal()
        }
        XCTAssertEqual(unblocked.wait(timeout: .now() + 5), .success)
        let unblockedAt = Date()
        usleep(1_000_000)
        session.stopRunning()
        audio.markStopped()
        usleep(500_000)

        let buffers = audio.buffers
        let g = gaps(buffers)
        let dropped = g.reduce(0, +)
        let burst = buffers.filter { $0.arrival >= unblockedAt && $0.arrival < unblockedAt.addingTimeInterval(0.05) }
        let burstSeconds = burst.reduce(0.0) { $0 + $1.duration.seconds }
        print("blocked queue: \(buffers.count) buffers, gaps \(g.filter { $0 != 0 }) s (dropped \(dropped) s), burst after unblock \(burst.count) buffers = \(burstSeconds) s; blocked from \(blockStart)")
        XCTAssertTrue(g.contains { $0 > 0 }, "a gap in the PTS: late buffers were dropped")
        XCTAssertFalse(g.contains { $0 < 0 }, "never overlapping")
        // An unbounded backlog would deliver the whole 2 s at once; a bounded one a few buffers.
        XCTAssertLessThan(burstSeconds, 0.5, "backlog after a 2 s block")
        XCTAssertEqual(dropped, 2.0 - burstSeconds, accuracy: 0.5, "about the blocked time is missing")
        // Delivery resumes: the last 0.8 s are continuous again.
        let tail = buffers.filter { $0.arrival > unblockedAt.addingTimeInterval(0.2) }
        XCTAssertGreaterThan(tail.count, 5)
        XCTAssertEqual(gaps(tail).filter { $0 != 0 }, [])
        XCTAssertFalse(buffers.contains { $0.afterStop }, "no callback after stopRunning() returned")
    }
}
