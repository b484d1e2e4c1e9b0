// AVCaptureAudioFileOutput.audioSettings in Swift 6 mode: each file type with each linear-PCM
// format it takes is recorded from the built-in tone and read back by ffprobe/ffmpeg (codec,
// length, the tone's peak); settings read back merged with the session's format; what can't be
// honoured (another rate or channel count, a byte order the type can't hold) ends the recording
// at once with AVError.unsupportedOutputSettings and no file.
import CaptureDeckAVFoundation
import Foundation
import XCTest

final class SettingsRecordingDelegate: NSObject, AVCaptureFileOutputRecordingDelegate, @unchecked Sendable {
    private let lock = NSLock()
    private var _error: (any Error)?
    private var _started = false
    let finished = DispatchSemaphore(value: 0)
    var error: (any Error)? { lock.withLock { _error } }
    var started: Bool { lock.withLock { _started } }

    func fileOutput(_ output: AVCaptureFileOutput, didStartRecordingTo fileURL: URL, from connections: [AVCaptureConnection]) {
        lock.withLock { _started = true }
    }
    func fileOutput(_ output: AVCaptureFileOutput, didFinishRecordingTo outputFileURL: URL, from connections: [AVCaptureConnection], error: (any Error)?) {
        lock.withLock { _error = error }
        finished.signal()
    }
}

final class FileOutputAudioSettingsTests: XCTestCase {
    private var session: AVCaptureSession!
    private var output: AVCaptureAudioFileOutput!
    private var directory: URL!

    override func setUpWithError() throws {
        let device = try XCTUnwrap(AVCaptureDevice(uniqueID: "builtin"), "the built-in test source is always there")
        session = AVCaptureSession()
        let input = try AVCaptureDeviceInput(device: device)
        session.addInput(input)
        output = AVCaptureAudioFileOutput()
        session.addOutput(output)
        directory = FileManager.default.temporaryDirectory.appendingPathComponent("settings-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
    }

    override func tearDown() {
        session?.stopRunning()
        if let directory { try? FileManager.default.removeItem(at: directory) }
    }

    private func tool(_ exe: String, _ args: [String]) -> Data? {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: exe)
        p.arguments = args
        let o = Pipe()
        p.standardOutput = o
        p.standardError = FileHandle.nullDevice
        guard (try? p.run()) != nil else { return nil }
        let d = o.fileHandleForReading.readDataToEndOfFile()
        p.waitUntilExit()
        return p.terminationStatus == 0 ? d : nil
    }

    /// Records about `seconds` to `name` as `type`; returns the delegate once it finished.
    private func record(_ name: String, _ type: AVFileType, seconds: Double = 0.3) -> (URL, SettingsRecordingDelegate) {
        let url = directory.appendingPathComponent(name)
        let delegate = SettingsRecordingDelegate()
        output.startRecording(to: url, outputFileType: type, recordingDelegate: delegate)
        if delegate.finished.wait(timeout: .now() + seconds) == .success { return (url, delegate) }  // ended at once
        output.stopRecording()
        XCTAssertEqual(delegate.finished.wait(timeout: .now() + 10), .success)
        return (url, delegate)
    }

    private func settings(bits: Int, float: Bool, bigEndian: Bool?) -> [String: Any] {
        var s: [String: Any] = [AVFormatIDKey: kAudioFormatLinearPCM, AVLinearPCMBitDepthKey: bits,
                                AVLinearPCMIsFloatKey: float, AVLinearPCMIsNonInterleaved: false]
        if let bigEndian { s[AVLinearPCMIsBigEndianKey] = bigEndian }
        return s
    }

    /// Every format each type takes: ffprobe names the codec asked for, the file is about as long
    /// as recorded at the session's rate and channels, and ffmpeg's decode peaks at the tone's
    /// −12 dBFS (a wrong conversion — a 16-bit stream read as 24, a byte swap — would not).
    func testEachFileTypeWithEachFormatItTakes() throws {
        session.startRunning()
        let rate = try XCTUnwrap(output.audioSettings[AVSampleRateKey] as? Double)
        let channels = try XCTUnwrap(output.audioSettings[AVNumberOfChannelsKey] as? Int)
        var cases: [(AVFileType, String, Int, Bool, Bool?, String)] = []
        for (bits, float, name) in [(16, false, "s16"), (24, false, "s24"), (32, false, "s32"), (32, true, "f32")] {
            cases.append((.wav, "wav", bits, float, false, name + "le"))
            cases.append((.caf, "caf", bits, float, false, name + "le"))
            cases.append((.caf, "caf", bits, float, true, name + "be"))
            cases.append((.caf, "caf", bits, float, nil, name + "be"))
            cases.append((.aiff, "aiff", bits, float, float ? nil : true, name + "be"))
        }
        cases.append((.aiff, "aiff", 16, false, false, "s16le"))
        for (i, (type, ext, bits, float, big, codec)) in cases.enumerated() {
            output.audioSettings = settings(bits: bits, float: float, bigEndian: big)
            let (url, delegate) = record("take\(i).\(ext)", type)
            let label = "\(ext) \(bits)-bit\(float ? " float" : "") big-endian \(String(describing: big))"
            XCTAssertNil(delegate.error, label)
            let probe = String(decoding: tool("/usr/bin/ffprobe", ["-v", "error", "-show_entries", "stream=codec_name,sample_rate,channels",
                                                                 "-of", "csv=p=0", url.path]) ?? Data(), as: UTF8.self)
            XCTAssertEqual(probe.trimmingCharacters(in: .whitespacesAndNewlines), "pcm_\(codec),\(Int(rate)),\(channels)", label)
            let raw = try XCTUnwrap(tool("/usr/bin/ffmpeg", ["-v", "error", "-i", url.path, "-f", "f32le", "-c:a", "pcm_f32le", "-"]), label)
            let samples = raw.withUnsafeBytes { b in (0..<(raw.count / 4)).map { b.loadUnaligned(fromByteOffset: $0 * 4, as: Float.self) } }
            XCTAssertEqual(Double(samples.count / channels) / rate, 0.3, accuracy: 0.2, label)
            XCTAssertEqual(Double(samples.map(abs).max() ?? 0), pow(10, -12.0 / 20), accuracy: 0.0005, label)
        }
    }

    /// Reading back: what was set, with the session's rate and channels; ignored encoder keys
    /// kept; nil reads back as the session's format.
    func testSettingsReadBackMergedWithTheSessionsFormat() throws {
        session.startRunning()
        let native = try XCTUnwrap(output.audioSettings)
        output.audioSettings = [AVLinearPCMBitDepthKey: 24, AVLinearPCMIsBigEndianKey: true,
                                AVEncoderAudioQualityKey: AVAudioQuality.high.rawValue]
        let s = try XCTUnwrap(output.audioSettings)
        XCTAssertEqual(s[AVFormatIDKey] as? UInt32, kAudioFormatLinearPCM)
        XCTAssertEqual(s[AVLinearPCMBitDepthKey] as? Int, 24)
        XCTAssertEqual(s[AVLinearPCMIsFloatKey] as? Bool, false)
        XCTAssertEqual(s[AVLinearPCMIsBigEndianKey] as? Bool, true)
        XCTAssertEqual(s[AVLinearPCMIsNonInterleaved] as? Bool, false)
        XCTAssertEqual(s[AVSampleRateKey] as? Double, native[AVSampleRateKey] as? Double)
        XCTAssertEqual(s[AVNumberOfChannelsKey] as? Int, native[AVNumberOfChannelsKey] as? Int)
        XCTAssertEqual(s[AVEncoderAudioQualityKey] as? Int, AVAudioQuality.high.rawValue)
        output.audioSettings = [AVLinearPCMIsFloatKey: true]
        XCTAssertEqual(output.audioSettings[AVLinearPCMBitDepthKey] as? Int, 32)
        XCTAssertNil(output.audioSettings[AVLinearPCMIsBigEndianKey], "unset: the container's own order")
        output.audioSettings = nil
        XCTAssertEqual(output.audioSettings[AVLinearPCMBitDepthKey] as? Int, native[AVLinearPCMBitDepthKey] as? Int)
        XCTAssertEqual(output.audioSettings[AVLinearPCMIsFloatKey] as? Bool, native[AVLinearPCMIsFloatKey] as? Bool)
    }

    /// What can't be honoured ends the recording at once, with no did-start and no file:
    /// another rate or channel count than the session's, big-endian WAV, little-endian 24-bit
    /// or float AIFF. The next recording with good settings works.
    func testUnhonourableSettingsEndTheRecordingWithUnsupportedOutputSettings() throws {
        session.startRunning()
        let rate = try XCTUnwrap(output.audioSettings[AVSampleRateKey] as? Double)
        let channels = try XCTUnwrap(output.audioSettings[AVNumberOfChannelsKey] as? Int)
        let refused: [([String: Any], AVFileType, String, String)] = [
            ([AVSampleRateKey: rate == 44_100 ? 48_000.0 : 44_100.0], .caf, "caf", AVSampleRateKey),
            ([AVNumberOfChannelsKey: channels == 1 ? 2 : 1], .wav, "wav", AVNumberOfChannelsKey),
            ([AVLinearPCMBitDepthKey: 16, AVLinearPCMIsBigEndianKey: true], .wav, "wav", "little-endian"),
            ([AVLinearPCMBitDepthKey: 24, AVLinearPCMIsBigEndianKey: false], .aiff, "aiff", "16-bit"),
            ([AVLinearPCMIsFloatKey: true, AVLinearPCMIsBigEndianKey: false], .aiff, "aiff", "16-bit"),
        ]
        for (i, (settings, type, ext, mentions)) in refused.enumerated() {
            output.audioSettings = settings
            let (url, delegate) = record("refused\(i).\(ext)", type, seconds: 5)
            let error = try XCTUnwrap(delegate.error as? AVError, "\(settings)")
            XCTAssertEqual(error.code, .unsupportedOutputSettings)
            XCTAssertTrue(error.localizedDescription.contains(mentions), error.localizedDescription)
            XCTAssertFalse(delegate.started)
            XCTAssertFalse(FileManager.default.fileExists(atPath: url.path))
        }
        output.audioSettings = [AVSampleRateKey: rate, AVNumberOfChannelsKey: channels, AVLinearPCMBitDepthKey: 32]
        let (url, delegate) = record("fine.wav", .wav)
        XCTAssertNil(delegate.error)
        XCTAssertTrue(FileManager.default.fileExists(atPath: url.path))
    }
}
