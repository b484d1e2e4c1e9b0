// The preview (monitoring) output on real ALSA PCMs: a `file` PCM over `null` (unpaced, exact
// content) and one over a private PulseAudio daemon (real-time pace), each writing what it
// played to a file that is compared with what was received, sample for sample.
import CSndfile
import CaptureCore
import CaptureDeck
import CaptureFiles
import CaptureTestSupport
import Foundation
import Glibc
import Testing

/// A temporary directory with an ALSA configuration defining the test's PCMs.
final class PreviewScratch {
    let path: String
    init() {
        path = NSTemporaryDirectory() + "capdeck-preview-" + UUID().uuidString
        try! FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
    }
    deinit { try? FileManager.default.removeItem(atPath: path) }
    func file(_ name: String) -> String { path + "/" + name }

    /// `pcm.NAME`: a file PCM writing the raw frames it plays to `out`, over `slave`.
    func config(_ pcms: [(name: String, out: String, slave: String)]) -> String {
        let text = pcms.map { "pcm.\($0.name) { type file slave.pcm \($0.slave) file \"\($0.out)\" format raw }\n" }.joined()
        let conf = file("asound.conf")
        try! text.write(toFile: conf, atomically: true, encoding: .utf8)
        return conf
    }

    func contents(_ name: String) -> [UInt8] { [UInt8](FileManager.default.contents(atPath: file(name)) ?? Data()) }
}

/// Deterministic frames: full scale, negatives, every bit; floats in [-1, 1).
func previewPattern(_ format: StreamFormat, frames: Int, seed: UInt32 = 0x9E37_79B9) -> [UInt8] {
    var out = [UInt8](repeating: 0, count: frames * format.bytesPerFrame)
    var x = seed
    let step = format.sampleFormat.bytesPerSample
    for i in 0..<(frames * format.channels) {
        x ^= x << 13; x ^= x >> 17; x ^= x << 5
        var v = Int32(bitPattern: x)
        if i % 101 == 0 { v = .max } else if i % 103 == 0 { v = .min } else if i % 107 == 0 { v = -1 } else if i % 109 == 0 { v = 1 << 8 }
        let at = i * step
        switch format.sampleFormat {
        case .s16LE: withUnsafeBytes(of: Int16(truncatingIfNeeded: v >> 16).littleEndian) { out.replaceSubrange(at..<(at + 2), with: $0) }
        case .s24LE: withUnsafeBytes(of: (v >> 8).littleEndian) { out.replaceSubrange(at..<(at + 4), with: $0) }
        case .s24_3LE: withUnsafeBytes(of: (v >> 8).littleEndian) { out.replaceSubrange(at..<(at + 3), with: $0.prefix(3)) }
        case .s32LE: withUnsafeBytes(of: v.littleEndian) { out.replaceSubrange(at..<(at + 4), with: $0) }
        case .floatLE:
            withUnsafeBytes(of: (Float(v >> 8) / 8_388_608).bitPattern.littleEndian) { out.replaceSubrange(at..<(at + 4), with: $0) }
        }
    }
    return out
}

/// `data` at half volume, worked out on the bytes: integers halved with halves rounded away from
/// zero, floats halved (exact).
func halved(_ data: [UInt8], _ format: SampleFormat) -> [UInt8] {
    let step = format.bytesPerSample
    var out = data
    for at in stride(from: 0, to: data.count, by: step) {
        if format == .floatLE {
            let bits = (0..<4).reduce(UInt32(0)) { $0 | UInt32(data[at + $1]) << (8 * $1) }
            let half = (Float(bitPattern: bits) / 2).bitPattern
            for i in 0..<4 { out[at + i] = UInt8(truncatingIfNeeded: half >> (8 * i)) }
            continue
        }
        let width = format == .s16LE ? 2 : format == .s32LE ? 4 : 3  // S24_LE: the low 3 bytes hold it
        var x = Int64((0..<width).reduce(UInt64(0)) { $0 | UInt64(data[at + $1]) << (8 * $1) })
        if x >= 1 << (8 * width - 1) { x -= 1 << (8 * width) }  // sign
        let y = x >= 0 ? (x + 1) / 2 : (x - 1) / 2
        for i in 0..<step { out[at + i] = UInt8(truncatingIfNeeded: y >> (8 * i)) }  // S24_LE: sign-extended top byte
    }
    return out
}

/// Feeds `data` in writer-sized pieces, never more than `ahead` frames beyond what has played
/// (so nothing is dropped), from one thread as the writer queue does.
func feed(_ output: CapturePreviewOutput, _ data: [UInt8], _ format: StreamFormat, chunk: Int = 480,
          ahead: Int = 4800, pacedBy seconds: Double? = nil, each: () -> Void = {}) throws {
    let frames = data.count / format.bytesPerFrame
    let base = output.framesPlayed + output.framesDropped
    var fed = 0
    try data.withUnsafeBytes { raw in
        while fed < frames {
            try waitUntil("room to feed", timeout: 20) { fed - (output.framesPlayed + output.framesDropped - base) < ahead }
            let n = Swift.min(chunk, frames - fed)
            output.receive(raw.baseAddress! + fed * format.bytesPerFrame, count: n, format: format)
            fed += n
            each()
            if let seconds { usleep(UInt32(seconds * 1_000_000)) }
        }
    }
}

/// A private PulseAudio daemon with a null sink (real-time pace) and a low-latency client on it,
/// so the sink runs in small steps; stopped by its pids at deinit.
final class PreviewPulse {
    let dir = PreviewScratch()
    let socket: String
    private var children: [Process] = []

    init() throws {
        let run = dir.file("run")
        mkdir(run, 0o700)
        socket = run + "/native"
        var env = ProcessInfo.processInfo.environment
        env["HOME"] = dir.path
        env["XDG_RUNTIME_DIR"] = run
        env["PULSE_SERVER"] = "unix:" + socket
        func start(_ exe: String, _ args: [String], stdin: String? = nil) throws {
            let p = Process()
            p.executableURL = URL(fileURLWithPath: exe)
            p.arguments = args
            p.environment = env
            p.standardInput = stdin.map { FileHandle(forReadingAtPath: $0)! } ?? FileHandle.nullDevice
            p.standardOutput = FileHandle.nullDevice
            p.standardError = FileHandle.nullDevice
            try p.run()
            children.append(p)
        }
        try start("/usr/bin/pulseaudio", ["-n", "--daemonize=no", "--exit-idle-time=-1", "--use-pid-file=no", "--disable-shm=yes",
                                          "--log-target=file:" + dir.file("pa.log"),
                                          "-L", "module-native-protocol-unix auth-anonymous=1 socket=\(socket)",
                                          "-L", "module-null-sink sink_name=nullsink rate=48000 channels=2",
                                          "-L", "module-always-sink"])
        try waitUntil("pulseaudio's socket", timeout: 20, pollMs: 20) { access(socket, F_OK) == 0 }
        usleep(300_000)
        try start("/usr/bin/pacat", ["-p", "-d", "nullsink", "--latency-msec=20"], stdin: "/dev/zero")
        usleep(1_000_000)  // the null sink drops its 2 s latency once the low-latency client runs
    }

    deinit {
        // By pid, and bounded: SIGTERM, then SIGKILL if it hasn't gone within 2 s.
        for p in children.reversed() where p.isRunning {
            kill(p.processIdentifier, SIGTERM)
            if (try? waitUntil("\(p.executableURL?.lastPathComponent ?? "child") to exit", timeout: 2, pollMs: 10) { !p.isRunning }) == nil {
                kill(p.processIdentifier, SIGKILL)
            }
        }
    }
}

@Suite struct PreviewOutputTests {
    static let formats: [SampleFormat] = [.s16LE, .s24LE, .s24_3LE, .s32LE, .floatLE]

    /// What a file PCM over `null` (no clock: it takes frames as fast as they come) wrote is what
    /// was received, byte for byte at volume 1 and halved exactly at 0.5, in every sample format.
    @Test(arguments: formats, [Float(1), 0.5])
    func playsWhatItReceives(sampleFormat: SampleFormat, volume: Float) throws {
        let scratch = PreviewScratch()
        let format = StreamFormat(sampleFormat: sampleFormat, sampleRate: 48000, channels: 2)
        let output = CapturePreviewOutput(outputDevice: "capdeck_preview")
        output.alsaConfigurationFile = scratch.config([("capdeck_preview", scratch.file("out.raw"), "null")])
        output.volume = volume
        let data = previewPattern(format, frames: 48_007)
        try feed(output, data, format)
        try waitUntil("every frame played", timeout: 20) { output.framesPlayed == 48_007 }
        #expect(output.isPlaying && output.error == nil)
        output.sessionDidStop()
        try waitUntil("the device closed") { !output.isPlaying }
        #expect(output.framesDropped == 0 && output.framesPlayed == 48_007)
        let played = scratch.contents("out.raw")
        let expected = volume == 1 ? data : halved(data, sampleFormat)
        #expect(played.count == expected.count)
        #expect(played == expected, "\(sampleFormat) at volume \(volume)")
    }

    /// `receive` never waits: what doesn't fit the ring (a quarter second) is dropped and counted,
    /// and what did fit plays. One receive of 2 s into an empty ring keeps exactly its capacity.
    @Test func dropsAndCountsWhatTheRingCannotHold() throws {
        let scratch = PreviewScratch()
        let format = StreamFormat(sampleFormat: .s16LE, sampleRate: 48000, channels: 2)
        let output = CapturePreviewOutput(outputDevice: "capdeck_preview")
        output.alsaConfigurationFile = scratch.config([("capdeck_preview", scratch.file("out.raw"), "null")])
        let data = previewPattern(format, frames: 96_000)
        let start = monotonicNanos()
        data.withUnsafeBytes { output.receive($0.baseAddress!, count: 96_000, format: format) }
        let took = Double(monotonicNanos() - start) / 1e9
        let capacity = 16_384  // 12 000 frames, rounded up to a power of two
        #expect(output.framesDropped == 96_000 - capacity)
        try waitUntil("what fit played") { output.framesPlayed == capacity }
        output.sessionDidStop()
        try waitUntil("the device closed") { !output.isPlaying }
        #expect(scratch.contents("out.raw") == Array(data.prefix(capacity * format.bytesPerFrame)))
        print("preview: one 2 s receive took \(String(format: "%.3f", took * 1000)) ms")
    }

    /// A PCM that doesn't exist: a clear error, the frames dropped (none plays late), and the
    /// output plays once a real device is named.
    @Test func aMissingDeviceIsAClearErrorAndAnotherCanBeChosen() throws {
        let scratch = PreviewScratch()
        let format = StreamFormat(sampleFormat: .s16LE, sampleRate: 44100, channels: 1)
        let output = CapturePreviewOutput(outputDevice: "capdeck_no_such_pcm")
        output.alsaConfigurationFile = scratch.config([("capdeck_preview", scratch.file("out.raw"), "null")])
        let data = previewPattern(format, frames: 4410)
        data.withUnsafeBytes { output.receive($0.baseAddress!, count: 4410, format: format) }
        try waitUntil("the error") { output.error != nil }
        let message = "\(output.error!)"
        #expect(message.hasPrefix("capdeck_no_such_pcm: cannot open for playback: "), "\(message)")
        try waitUntil("the frames dropped") { output.framesDropped == 4410 }
        #expect(!output.isPlaying && output.framesPlayed == 0)
        output.outputDevice = "capdeck_preview"
        try feed(output, data, format)
        try waitUntil("played on the new device") { output.framesPlayed == 4410 }
        #expect(output.error == nil)
        output.sessionDidStop()
        try waitUntil("the device closed") { !output.isPlaying }
        #expect(scratch.contents("out.raw") == data)
    }

    /// At real-time pace (a file PCM over a private PulseAudio daemon): the feed pauses for
    /// 300 ms, the device runs dry, the output recovers and plays on; the file holds every frame
    /// received, in order. Prints the latency measured while playing (ring + device delay).
    @Test func recoversFromAnUnderrunWhenTheFeedPauses() throws {
        let pulse = try PreviewPulse()
        let scratch = PreviewScratch()
        let format = StreamFormat(sampleFormat: .s16LE, sampleRate: 48000, channels: 2)
        let output = CapturePreviewOutput(outputDevice: "capdeck_paced")
        output.alsaConfigurationFile = scratch.config([
            ("capdeck_paced", scratch.file("out.raw"), "{ type pulse server \"unix:\(pulse.socket)\" }"),
        ])
        let first = previewPattern(format, frames: 24_000, seed: 1)
        let second = previewPattern(format, frames: 24_000, seed: 2)
        // As a capture delivers: 10 ms every 10 ms, a little ahead of what has played.
        var latencies: [Double] = []
        // Sampled once the device has played for a moment, in steady state.
        let sample = { if output.framesPlayed > 4800 && output.isPlaying { latencies.append(output.latencySeconds) } }
        try feed(output, first, format, ahead: 2400, pacedBy: 0.01, each: sample)
        try waitUntil("the first half played", timeout: 10) { output.framesPlayed == 24_000 }
        let underrunsBefore = output.underruns
        usleep(300_000)  // the feed pauses: the device runs dry
        try feed(output, second, format, ahead: 2400, pacedBy: 0.01, each: sample)
        try waitUntil("the second half played", timeout: 10) { output.framesPlayed == 48_000 }
        latencies.sort()
        #expect(output.underruns > underrunsBefore, "an underrun after the pause")
        #expect(output.framesDropped == 0 && output.error == nil)
        output.sessionDidStop()
        try waitUntil("the device closed") { !output.isPlaying }
        #expect(scratch.contents("out.raw") == first + second, "every frame, in order")
        let median = latencies.isEmpty ? 0 : latencies[latencies.count / 2]
        let worst = latencies.last ?? 0
        print("preview latency through PulseAudio (ring + snd_pcm_delay, 10 ms periods): median \(String(format: "%.1f", median * 1000)) ms, "
              + "max \(String(format: "%.1f", worst * 1000)) ms over \(latencies.count) samples; underruns \(output.underruns)")
        #expect(!latencies.isEmpty && median > 0)
        withExtendedLifetime(pulse) {}
    }

    /// Through a session (the fan-out feeds every StreamReceiver on the writer queue): the
    /// preview plays exactly what the session's file output records, from the first frame, and
    /// releases the device when the session stops.
    @Test func playsASessionsAudioAsItsFileRecordsIt() throws {
        let scratch = PreviewScratch()
        let format = StreamFormat(sampleFormat: .s16LE, sampleRate: 48000, channels: 2)
        let session = CaptureSession()
        session.realtimePriority = nil
        session.addInput(CaptureDeviceInput(name: "builtin", routes: .forNamedPCM("builtin"), format: format))
        let file = CaptureAudioFileOutput(format: format)
        let preview = CapturePreviewOutput(outputDevice: "capdeck_preview")
        preview.alsaConfigurationFile = scratch.config([("capdeck_preview", scratch.file("out.raw"), "null")])
        session.addOutput(file)
        session.addOutput(preview)
        try file.startRecording(to: scratch.file("take.wav"), fileType: .wav)
        session.startRunning()
        try waitUntil("the preview plays", timeout: 10) { preview.framesPlayed >= 24_000 }
        session.stopRunning()
        _ = try file.stopRecording()
        try waitUntil("the device closed") { !preview.isPlaying }
        var info = SF_INFO()
        let f = try #require(sf_open(scratch.file("take.wav"), Int32(SFM_READ), &info))
        var recorded = [Int16](repeating: 0, count: Int(info.frames) * 2)
        #expect(sf_readf_short(f, &recorded, info.frames) == info.frames)
        sf_close(f)
        let played = scratch.contents("out.raw").withUnsafeBytes { Array($0.bindMemory(to: Int16.self)) }
        #expect(played.count == preview.framesPlayed * 2 && played.count <= recorded.count)
        #expect(played[...] == recorded.prefix(played.count), "the preview's samples are the recording's")
        #expect(preview.framesDropped == 0 && preview.error == nil)
    }
}
