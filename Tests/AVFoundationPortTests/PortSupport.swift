#if canImport(AVFoundation)
import AVFoundation
#else
import CaptureDeckAVFoundation
#endif
import Foundation
import XCTest
import CaptureTestSupport

// Test scaffolding shared by the port programs (not itself a port): the test source, independent
// file readers (ffprobe/ffmpeg and Python's wave/aifc in subprocesses), and level arithmetic.

/// The built-in test source: a 440 Hz sine at −12 dBFS peak, paced in real time.
enum TestTone {
    static let frequency = 440.0
    static let peakDBFS = -12.0
    /// A sine's RMS is its peak / √2: −12 − 3.0103 = −15.0103 dBFS.
    static let rmsDBFS = -12.0 - 10 * log10(2.0)

    /// The device the programs run on: `AVCaptureDevice(uniqueID: "builtin")`, which is always
    /// there (its absence fails the test).
    static func device(file: StaticString = #filePath, line: UInt = #line) throws -> AVCaptureDevice {
        if let device = AVCaptureDevice(uniqueID: "builtin") {
            print("port test runs on uniqueID=\(device.uniqueID) name=\(device.localizedName)")
            return device
        }
        throw MissingPart("no built-in test source (AVCaptureDevice(uniqueID: \"builtin\") is nil)")
    }

    /// The worst-case error, in dB, of an RMS measured over `frames` frames of this sine, from the
    /// window not holding whole periods: mean(sin²) = (1 − m)/2 with |m| = |Σcos(2ωn + φ)|/N ≤
    /// 1/(N·sin ω), ω = 2πf/fs. Plus 0.01 dB for 16-bit quantization and rounding.
    static func rmsErrorBoundDB(frames: Int, sampleRate: Double) -> Double {
        let omega = 2 * Double.pi * frequency / sampleRate
        let m = min(0.9, 1 / (Double(frames) * sin(omega)))
        return -10 * log10(1 - m) + 0.01
    }
}

func dBFS(_ linear: Double) -> Double { linear > 0 ? 20 * log10(linear) : -.infinity }

struct Levels {
    var peak: Double
    var rms: Double
    var count: Int
    init(_ samples: [Float]) {
        var p = 0.0, s = 0.0
        for x in samples { let d = Double(x); p = max(p, abs(d)); s += d * d }
        peak = dBFS(p)
        rms = samples.isEmpty ? -.infinity : dBFS(sqrt(s / Double(samples.count)))
        count = samples.count
    }
}

/// A temporary directory removed by the caller.
func makeTemporaryDirectory(_ name: String) throws -> URL {
    let url = FileManager.default.temporaryDirectory.appendingPathComponent("avports-\(name)-\(UUID().uuidString)")
    try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
    return url
}

struct ProgramResult { var status: Int32; var stdout: Data; var stderr: String }

/// Runs a reader to its end with binary stdout (CaptureTestSupport's runProgram gives text).
func runTool(_ path: String, _ args: [String]) throws -> ProgramResult {
    let p = Process()
    p.executableURL = URL(fileURLWithPath: path)
    p.arguments = args
    let out = Pipe(), err = Pipe()
    p.standardOutput = out
    p.standardError = err
    p.standardInput = FileHandle.nullDevice
    try p.run()
    // Read both to the end before waiting, so a large stdout can't fill the pipe and stall.
    final class Box { var data = Data() }
    let errBox = Box()
    let errDone = DispatchSemaphore(value: 0)
    let errHandle = err.fileHandleForReading
    DispatchQueue.global().async { errBox.data = errHandle.readDataToEndOfFile(); errDone.signal() }
    let outData = out.fileHandleForReading.readDataToEndOfFile()
    errDone.wait()
    p.waitUntilExit()
    return ProgramResult(status: p.terminationStatus, stdout: outData, stderr: String(decoding: errBox.data, as: UTF8.self))
}

/// A file as ffprobe describes it and ffmpeg decodes it (to 32-bit float, interleaved).
struct DecodedFile {
    var codec: String
    var sampleRate: Double
    var channels: Int
    var frames: Int
    var samples: [Float]

    init(_ url: URL) throws {
        guard let ffprobe = which("ffprobe"), let ffmpeg = which("ffmpeg") else {
            throw MissingPart("ffprobe/ffmpeg are needed to read the files back (apt-get install ffmpeg)")
        }
        let probe = try runTool(ffprobe, ["-v", "error", "-select_streams", "a:0", "-show_entries",
                                             "stream=codec_name,sample_rate,channels", "-of", "default=noprint_wrappers=1", url.path])
        guard probe.status == 0 else { throw PortFailure("ffprobe failed on \(url.path): \(probe.stderr)") }
        var fields: [String: String] = [:]
        for line in String(decoding: probe.stdout, as: UTF8.self).split(separator: "\n") {
            let kv = line.split(separator: "=", maxSplits: 1).map(String.init)
            if kv.count == 2 { fields[kv[0]] = kv[1] }
        }
        codec = fields["codec_name"] ?? "?"
        sampleRate = Double(fields["sample_rate"] ?? "") ?? 0
        channels = Int(fields["channels"] ?? "") ?? 0
        let decode = try runTool(ffmpeg, ["-v", "error", "-i", url.path, "-f", "f32le", "-c:a", "pcm_f32le", "-"])
        guard decode.status == 0, channels > 0 else { throw PortFailure("ffmpeg failed on \(url.path): \(decode.stderr)") }
        samples = decode.stdout.withUnsafeBytes { raw in Array(raw.bindMemory(to: Float.self)) }
        frames = samples.count / channels
    }
}

/// Frame count, rate and channels as Python's own wave/aifc modules read them (a second reader).
func pythonHeader(_ url: URL) throws -> (frames: Int, rate: Int, channels: Int) {
    guard let python = which("python3") else { throw MissingPart("python3 is needed") }
    let script = """
    import sys, warnings
    warnings.simplefilter('ignore')
    p = sys.argv[1]
    if p.endswith('.wav'):
        import wave; f = wave.open(p, 'rb')
    else:
        import aifc; f = aifc.open(p, 'rb')
    print(f.getnframes(), f.getframerate(), f.getnchannels())
    """
    let r = try runTool(python, ["-c", script, url.path])
    let words = String(decoding: r.stdout, as: UTF8.self).split(whereSeparator: { $0 == " " || $0 == "\n" }).compactMap { Int($0) }
    guard r.status == 0, words.count == 3 else { throw PortFailure("python could not read \(url.path): \(r.stderr)") }
    return (words[0], words[1], words[2])
}

struct PortFailure: Error, CustomStringConvertible {
    var description: String
    init(_ d: String) { description = d }
}

/// Polls `condition` until it holds or `timeout` seconds pass.
@discardableResult
func waitUntil(_ timeout: TimeInterval, _ condition: () -> Bool) -> Bool {
    let deadline = Date().addingTimeInterval(timeout)
    while Date() < deadline {
        if condition() { return true }
        usleep(10_000)
    }
    return condition()
}

/// Decodes one AudioBuffer of linear PCM into floats in −1...1, as a meter app does (float32,
/// int16 or int32, either endianness is native here).
func decodePCM(_ buffer: AudioBuffer, _ asbd: AudioStreamBasicDescription) -> [Float] {
    guard let data = buffer.mData else { return [] }
    let bytes = Int(buffer.mDataByteSize)
    let isFloat = asbd.mFormatFlags & kAudioFormatFlagIsFloat != 0
    switch (isFloat, asbd.mBitsPerChannel) {
    case (true, 32):
        return Array(UnsafeBufferPointer(start: data.assumingMemoryBound(to: Float.self), count: bytes / 4))
    case (false, 16):
        return UnsafeBufferPointer(start: data.assumingMemoryBound(to: Int16.self), count: bytes / 2).map { Float($0) / 32768 }
    case (false, 32):
        return UnsafeBufferPointer(start: data.assumingMemoryBound(to: Int32.self), count: bytes / 4).map { Float(Double($0) / 2147483648) }
    default:
        return []
    }
}

/// A part the tests need and `make deps` installs (a reader, the built-in source) is missing: the
/// test fails, saying which (never a skip: CI would pass without checking anything).
struct MissingPart: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}
