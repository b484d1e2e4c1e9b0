#if canImport(AVFoundation)
import AVFoundation
#else
import CaptureDeckAVFoundation
#endif
import Foundation
import XCTest

// Program 1: a level meter as a macOS app writes it. A session with a device input and an
// AVCaptureAudioDataOutput whose delegate runs on a serial queue; the meter shows the
// connection's channel levels (averagePowerLevel / peakHoldLevel) and also computes its own RMS
// from each CMSampleBuffer, once through the C call
// CMSampleBufferGetAudioBufferListWithRetainedBlockBuffer and once through the Swift
// `withAudioBufferList`. Apple's AVRecorder sample reads the channel levels on a timer from the
// output's connections; the meter does that too (`pollChannelLevels`).

final class LevelMeter: NSObject, AVCaptureAudioDataOutputSampleBufferDelegate {
    struct Reading {
        var frames: Int
        var sampleRate: Double
        var rmsC: Double        // dBFS, via CMSampleBufferGetAudioBufferListWithRetainedBlockBuffer
        var rmsSwift: Double    // dBFS, via withAudioBufferList
        var channelAverage: [Float]
        var channelPeakHold: [Float]
    }

    let session = AVCaptureSession()
    let audioOutput = AVCaptureAudioDataOutput()
    private let sampleQueue = DispatchQueue(label: "com.example.levelmeter.samples")
    private let lock = NSLock()
    private var _readings: [Reading] = []
    private var _samplesC: [Float] = []
    private var _samplesSwift: [Float] = []
    private var _errors: [String] = []

    var readings: [Reading] { lock.lock(); defer { lock.unlock() }; return _readings }
    var allSamplesC: [Float] { lock.lock(); defer { lock.unlock() }; return _samplesC }
    var allSamplesSwift: [Float] { lock.lock(); defer { lock.unlock() }; return _samplesSwift }
    var errors: [String] { lock.lock(); defer { lock.unlock() }; return _errors }

    enum SetupError: Error { case cannotAddInput, cannotAddOutput }

    func configure(device: AVCaptureDevice) throws {
        let input = try AVCaptureDeviceInput(device: device)
        session.beginConfiguration()
        defer { session.commitConfiguration() }
        guard session.canAddInput(input) else { throw SetupError.cannotAddInput }
        session.addInput(input)
        guard session.canAddOutput(audioOutput) else { throw SetupError.cannotAddOutput }
        session.addOutput(audioOutput)
        audioOutput.setSampleBufferDelegate(self, queue: sampleQueue)
    }

    func start() { session.startRunning() }
    func stop() { session.stopRunning() }

    /// What the AVRecorder-style UI timer shows: every connection's channels.
    func pollChannelLevels() -> [(average: Float, peak: Float)] {
        var levels: [(Float, Float)] = []
        for connection in audioOutput.connections {
            for channel in connection.audioChannels {
                levels.append((channel.averagePowerLevel, channel.peakHoldLevel))
            }
        }
        return levels
    }

    func captureOutput(_ output: AVCaptureOutput, didOutput sampleBuffer: CMSampleBuffer, from connection: AVCaptureConnection) {
        guard let format = CMSampleBufferGetFormatDescription(sampleBuffer),
              let asbd = CMAudioFormatDescriptionGetStreamBasicDescription(format)?.pointee else {
            record(error: "no audio format description")
            return
        }
        let samplesC = samplesUsingRetainedBlockBuffer(sampleBuffer, asbd)
        var samplesSwift: [Float] = []
        do {
            try sampleBuffer.withAudioBufferList(flags: .audioBufferListAssure16ByteAlignment) { list, _ in
                for buffer in list { samplesSwift += decodePCM(buffer, asbd) }
            }
        } catch {
            record(error: "withAudioBufferList: \(error)")
        }
        let reading = Reading(
            frames: CMSampleBufferGetNumSamples(sampleBuffer),
            sampleRate: asbd.mSampleRate,
            rmsC: Levels(samplesC).rms,
            rmsSwift: Levels(samplesSwift).rms,
            channelAverage: connection.audioChannels.map { $0.averagePowerLevel },
            channelPeakHold: connection.audioChannels.map { $0.peakHoldLevel })
        lock.lock()
        _readings.append(reading)
        _samplesC += samplesC
        _samplesSwift += samplesSwift
        lock.unlock()
    }

    /// The C form, sized first so non-interleaved (one buffer per channel) formats fit.
    private func samplesUsingRetainedBlockBuffer(_ sampleBuffer: CMSampleBuffer, _ asbd: AudioStreamBasicDescription) -> [Float] {
        var sizeNeeded = 0
        var status = CMSampleBufferGetAudioBufferListWithRetainedBlockBuffer(
            sampleBuffer, bufferListSizeNeededOut: &sizeNeeded, bufferListOut: nil, bufferListSize: 0,
            blockBufferAllocator: nil, blockBufferMemoryAllocator: nil, flags: 0, blockBufferOut: nil)
        guard status == noErr, sizeNeeded >= MemoryLayout<AudioBufferList>.size else {
            record(error: "size query: status \(status), size \(sizeNeeded)")
            return []
        }
        let raw = UnsafeMutableRawPointer.allocate(byteCount: sizeNeeded, alignment: MemoryLayout<AudioBufferList>.alignment)
        defer { raw.deallocate() }
        let listPointer = raw.bindMemory(to: AudioBufferList.self, capacity: 1)
        var blockBuffer: CMBlockBuffer?
        status = CMSampleBufferGetAudioBufferListWithRetainedBlockBuffer(
            sampleBuffer, bufferListSizeNeededOut: nil, bufferListOut: listPointer, bufferListSize: sizeNeeded,
            blockBufferAllocator: nil, blockBufferMemoryAllocator: nil,
            flags: kCMSampleBufferFlag_AudioBufferList_Assure16ByteAlignment, blockBufferOut: &blockBuffer)
        guard status == noErr, blockBuffer != nil else {
            record(error: "CMSampleBufferGetAudioBufferListWithRetainedBlockBuffer: \(status)")
            return []
        }
        var samples: [Float] = []
        for buffer in UnsafeMutableAudioBufferListPointer(listPointer) {
            samples += decodePCM(buffer, asbd)
        }
        return samples
    }

    private func record(error: String) {
        lock.lock(); _errors.append(error); lock.unlock()
    }
}

final class LevelMeterPortTests: XCTestCase {
    func testLevelsOfTheBuiltInToneFromTheConnectionAndFromTheSampleBuffers() throws {
        let device = try TestTone.device()
        let meter = LevelMeter()
        try meter.configure(device: device)
        meter.start()
        XCTAssertTrue(meter.session.isRunning)
        // 1.5 s of real-time audio, with the UI's 100 ms timer reading the connection's channels.
        var polled: [[(average: Float, peak: Float)]] = []
        for _ in 0..<15 {
            usleep(100_000)
            polled.append(meter.pollChannelLevels())
        }
        meter.stop()
        XCTAssertFalse(meter.session.isRunning)

        XCTAssertEqual(meter.errors, [])
        let readings = meter.readings
        XCTAssertGreaterThan(readings.count, 5, "buffers in 1.5 s")
        guard let first = readings.first else { return }
        print("level meter: \(readings.count) buffers of \(first.frames) frames at \(first.sampleRate) Hz, channels \(first.channelAverage.count)")

        // Our own RMS over everything received: a window of ≥ 1 s, so the bound is ~0.01 dB.
        let samplesC = meter.allSamplesC
        let levelsC = Levels(samplesC)
        let frames = readings.reduce(0) { $0 + $1.frames }
        let bound = TestTone.rmsErrorBoundDB(frames: frames, sampleRate: first.sampleRate)
        print("own RMS \(levelsC.rms) dBFS, peak \(levelsC.peak) dBFS over \(frames) frames (bound ±\(bound) dB)")
        XCTAssertEqual(levelsC.rms, TestTone.rmsDBFS, accuracy: bound)
        // The sampled peak of 440 Hz at ≥ 44.1 kHz is within cos(π·440/44100) = −0.0043 dB of the true one.
        XCTAssertEqual(levelsC.peak, TestTone.peakDBFS, accuracy: 0.01)
        // The Swift form hands over the same data.
        XCTAssertEqual(meter.allSamplesSwift, samplesC)

        // Each buffer's RMS, within the bound for its own length.
        for r in readings {
            let b = TestTone.rmsErrorBoundDB(frames: r.frames, sampleRate: r.sampleRate)
            XCTAssertEqual(r.rmsC, TestTone.rmsDBFS, accuracy: b, "a buffer of \(r.frames) frames")
            XCTAssertEqual(r.rmsSwift, r.rmsC)
        }

        // The connection's meters, once settled (the last half second). Apple documents no
        // integration time; any window ≥ 10 ms holds 4.4 periods, so by the bound above the
        // average power is within 0.16 dB; 0.25 dB allows for a smoothed meter. The peak hold,
        // held over ≥ one period (2.3 ms), sees the peak to 0.01 dB.
        let settled = readings.suffix(max(1, readings.count / 3))
        for r in settled {
            XCTAssertFalse(r.channelAverage.isEmpty, "connection.audioChannels in the callback")
            for (avg, peak) in zip(r.channelAverage, r.channelPeakHold) {
                XCTAssertEqual(Double(avg), TestTone.rmsDBFS, accuracy: 0.25, "averagePowerLevel")
                XCTAssertEqual(Double(peak), TestTone.peakDBFS, accuracy: 0.1, "peakHoldLevel")
            }
        }
        let lastPolled = polled.last ?? []
        print("polled channel levels: \(lastPolled)")
        XCTAssertFalse(lastPolled.isEmpty, "output.connections[].audioChannels from the UI timer")
        for level in lastPolled {
            XCTAssertEqual(Double(level.average), TestTone.rmsDBFS, accuracy: 0.25)
            XCTAssertEqual(Double(level.peak), TestTone.peakDBFS, accuracy: 0.1)
        }
    }

    /// A meter app asks for the default input first and must cope with none (a headless machine).
    func testTheDefaultInputOrNone() throws {
        guard let device = AVCaptureDevice.default(for: .audio) else {
            print("no default audio input on this machine: the meter shows 'No microphone'")
            XCTAssertNil(AVCaptureDevice.default(for: .audio))
            return
        }
        print("default input: \(device.uniqueID) \(device.localizedName)")
        XCTAssertTrue(device.hasMediaType(.audio))
        XCTAssertFalse(device.uniqueID.isEmpty)
    }
}
