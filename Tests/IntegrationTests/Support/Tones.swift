// Tones for route tests: infiles carrying a known sine, a window-by-window analysis of which
// tone a recording holds (Goertzel), the RIFF chunks and cue points of a WAV file, and a fixture
// with a private PulseAudio daemon and two paced PCMs, `toneA` and `toneB`, over it.
import CSndfile
import Foundation
import Glibc

enum Tone {
    /// S16_LE stereo at `rate`, both channels the same sine of `frequency` Hz with its peak at
    /// `dBFS`, starting at phase 0. `frequency` must be a whole number of cycles per second, so
    /// one second repeats seamlessly.
    static func s16Stereo(frequency: Int, dBFS: Double, seconds: Int, rate: Int = 48_000) -> [UInt8] {
        let amplitude = 32767.0 * pow(10, dBFS / 20)
        var second = [UInt8](repeating: 0, count: rate * 4)
        for i in 0..<rate {
            let v = Int16((amplitude * sin(2 * Double.pi * Double(frequency) * Double(i) / Double(rate))).rounded())
            let u = UInt16(bitPattern: v)
            for c in 0..<2 {
                second[4 * i + 2 * c] = UInt8(truncatingIfNeeded: u)
                second[4 * i + 2 * c + 1] = UInt8(truncatingIfNeeded: u >> 8)
            }
        }
        var all: [UInt8] = []
        all.reserveCapacity(second.count * seconds)
        for _ in 0..<seconds { all += second }
        return all
    }

    /// Amplitude (peak, full scale 1.0) of the `frequency` component of `x[start..<start+count]`,
    /// by the Goertzel algorithm (exact for a whole number of cycles in the window).
    static func amplitude(_ x: [Double], start: Int, count: Int, frequency: Double, rate: Double) -> Double {
        let w = 2 * Double.pi * frequency / rate
        let coeff = 2 * cos(w)
        var s1 = 0.0, s2 = 0.0
        for n in start..<(start + count) {
            let s = x[n] + coeff * s1 - s2
            s2 = s1
            s1 = s
        }
        let power = max(0, s1 * s1 + s2 * s2 - coeff * s1 * s2)
        return 2 * sqrt(power) / Double(count)
    }
}

/// What one short window of a recording holds.
struct ToneWindow: CustomStringConvertible {
    /// First frame of the window.
    var frame: Int
    /// The tone's name, "silence" or "mixed".
    var label: String
    var rms: Double
    var amplitudes: [Double]

    var description: String {
        "\(frame): \(label) rms \(String(format: "%.4f", rms)) amps \(amplitudes.map { String(format: "%.4f", $0) })"
    }
}

enum ToneAnalysis {
    /// Classifies consecutive windows of `samples` (mono, full scale 1.0): a window is a tone's
    /// when that tone's amplitude is within 15% of `amplitude`, every other tone is below 5% of
    /// it, and the window's RMS is that of the pure sine (within 15%); "silence" when the RMS is
    /// below 1% of the tone's; "mixed" otherwise (switches, gaps, anything else).
    static func windows(_ samples: [Double], rate: Int, windowFrames: Int,
                        tones: [(name: String, frequency: Double)], amplitude: Double) -> [ToneWindow] {
        var out: [ToneWindow] = []
        var start = 0
        while start + windowFrames <= samples.count {
            var sum = 0.0
            for i in start..<(start + windowFrames) { sum += samples[i] * samples[i] }
            let rms = sqrt(sum / Double(windowFrames))
            let amps = tones.map { Tone.amplitude(samples, start: start, count: windowFrames, frequency: $0.frequency, rate: Double(rate)) }
            var label = "mixed"
            if rms < 0.01 * amplitude / 2.0.squareRoot() {
                label = "silence"
            } else {
                for (k, t) in tones.enumerated() {
                    let others = amps.enumerated().filter { $0.offset != k }.map(\.element)
                    if abs(amps[k] - amplitude) < 0.15 * amplitude, others.allSatisfy({ $0 < 0.05 * amplitude }),
                       abs(rms - amps[k] / 2.0.squareRoot()) < 0.15 * amps[k] / 2.0.squareRoot() {
                        label = t.name
                    }
                }
            }
            out.append(ToneWindow(frame: start, label: label, rms: rms, amplitudes: amps))
            start += windowFrames
        }
        return out
    }

    /// Runs of equal labels among the tone windows (silence and mixed windows skipped):
    /// (label, first frame, frame after the last window).
    static func runs(_ windows: [ToneWindow], windowFrames: Int, ignoring: Set<String> = ["silence", "mixed"])
        -> [(label: String, start: Int, end: Int)] {
        var runs: [(label: String, start: Int, end: Int)] = []
        for w in windows where !ignoring.contains(w.label) {
            if let last = runs.last, last.label == w.label {
                runs[runs.count - 1].end = w.frame + windowFrames
            } else {
                runs.append((w.label, w.frame, w.frame + windowFrames))
            }
        }
        return runs
    }

    /// Frames where none of the tones' recurrences x[n] = 2cos(w)·x[n-1] - x[n-2] holds (to within
    /// 4 LSB of 16 bits, beyond rounding): a dropped, repeated or foreign frame in a sine.
    static func recurrenceBreaks(_ x: [Double], frequencies: [Double], rate: Double) -> [Int] {
        let coeffs = frequencies.map { 2 * cos(2 * Double.pi * $0 / rate) }
        let tolerance = 4.0 / 32768
        var out: [Int] = []
        guard x.count > 2 else { return out }
        for n in 2..<x.count {
            var ok = false
            for c in coeffs where abs(x[n] - c * x[n - 1] + x[n - 2]) <= tolerance {
                ok = true
                break
            }
            if !ok { out.append(n) }
        }
        return out
    }

    /// Runs of exactly-zero samples at least `minimum` long.
    static func zeroRuns(_ x: [Double], minimum: Int) -> [ZeroRun] {
        var out: [ZeroRun] = []
        var start: Int?
        for i in 0...x.count {
            if i < x.count && x[i] == 0 {
                if start == nil { start = i }
            } else if let s = start {
                if i - s >= minimum { out.append(ZeroRun(start: s, count: i - s)) }
                start = nil
            }
        }
        return out
    }

    struct ZeroRun: CustomStringConvertible {
        var start: Int
        var count: Int
        var description: String { "\(count) at \(start)" }
    }
}

/// The RIFF structure of a WAV file, read byte by byte (not through libsndfile).
struct WAVChunks {
    struct Chunk {
        var id: String
        /// Offset of the chunk's payload in the file.
        var offset: Int
        var size: Int
    }
    struct CuePoint {
        var name: UInt32
        var position: UInt32
        var chunk: String
        var sampleOffset: UInt32
    }

    let bytes: [UInt8]
    let riffSize: Int
    let form: String
    var chunks: [Chunk] = []
    /// Problems with the structure (empty when the file walks cleanly to its end).
    var problems: [String] = []

    init(path: String) throws {
        bytes = Array(try Data(contentsOf: URL(fileURLWithPath: path)))
        guard bytes.count >= 12 else {
            riffSize = 0
            form = ""
            problems.append("shorter than a RIFF header")
            return
        }
        riffSize = Int(Self.u32(bytes, 4))
        form = String(decoding: bytes[8..<12], as: UTF8.self)
        if String(decoding: bytes[0..<4], as: UTF8.self) != "RIFF" { problems.append("does not start with RIFF") }
        if form != "WAVE" { problems.append("form is \(form), not WAVE") }
        if riffSize + 8 != bytes.count { problems.append("RIFF size \(riffSize) + 8 != file size \(bytes.count)") }
        var i = 12
        while i + 8 <= bytes.count {
            let id = String(decoding: bytes[i..<(i + 4)], as: UTF8.self)
            let size = Int(Self.u32(bytes, i + 4))
            chunks.append(Chunk(id: id, offset: i + 8, size: size))
            if i + 8 + size > bytes.count { problems.append("chunk '\(id)' at \(i) runs past the end of the file") }
            i += 8 + size + (size & 1)
        }
        if i != bytes.count { problems.append("chunks end at \(i), the file at \(bytes.count)") }
    }

    static func u32(_ b: [UInt8], _ o: Int) -> UInt32 {
        UInt32(b[o]) | UInt32(b[o + 1]) << 8 | UInt32(b[o + 2]) << 16 | UInt32(b[o + 3]) << 24
    }

    func chunk(_ id: String) -> Chunk? { chunks.first { $0.id == id } }

    /// The points of the `cue ` chunk (empty if none).
    var cuePoints: [CuePoint] {
        guard let c = chunk("cue "), c.size >= 4 else { return [] }
        let n = Int(Self.u32(bytes, c.offset))
        var out: [CuePoint] = []
        for k in 0..<n {
            let o = c.offset + 4 + 24 * k
            guard o + 24 <= c.offset + c.size else { break }
            out.append(CuePoint(name: Self.u32(bytes, o), position: Self.u32(bytes, o + 4),
                                chunk: String(decoding: bytes[(o + 8)..<(o + 12)], as: UTF8.self),
                                sampleOffset: Self.u32(bytes, o + 20)))
        }
        return out
    }

    /// `cue ` point name → label text, from `LIST`/`adtl`/`labl` chunks.
    var cueLabels: [UInt32: String] {
        var out: [UInt32: String] = [:]
        for c in chunks where c.id == "LIST" && c.size >= 4 {
            guard String(decoding: bytes[c.offset..<(c.offset + 4)], as: UTF8.self) == "adtl" else { continue }
            var i = c.offset + 4
            while i + 8 <= c.offset + c.size {
                let id = String(decoding: bytes[i..<(i + 4)], as: UTF8.self)
                let size = Int(Self.u32(bytes, i + 4))
                if id == "labl" && size >= 4 && i + 8 + size <= bytes.count {
                    let name = Self.u32(bytes, i + 8)
                    let text = bytes[(i + 12)..<(i + 8 + size)].prefix { $0 != 0 }
                    out[name] = String(decoding: text, as: UTF8.self)
                }
                i += 8 + size + (size & 1)
            }
        }
        return out
    }
}

extension SoundFile {
    /// libsndfile's own count of the file's cue points (SFC_GET_CUE_COUNT); nil if it finds none.
    static func cueCount(_ path: String) throws -> Int? {
        var info = SF_INFO()
        guard let f = sf_open(path, Int32(SFM_READ), &info) else {
            throw OpenError(description: "sf_open \(path): \(String(cString: sf_strerror(nil)))")
        }
        defer { sf_close(f) }
        var count: UInt32 = 0
        let found = sf_command(f, Int32(SFC_GET_CUE_COUNT), &count, Int32(MemoryLayout<UInt32>.size))
        return found == SF_TRUE ? Int(count) : nil
    }

    /// Channel `channel` of an integer read as Doubles in [-1, 1).
    func channel(_ channel: Int) -> [Double] {
        (0..<frames).map { Double(ints[$0 * channels + channel]) / 2_147_483_648.0 }
    }
}

/// A private PulseAudio daemon, and in `home`'s `.asoundrc` two paced capture PCMs over it,
/// each a `file` PCM over `pulse` with its own 60 s S16_LE 48 kHz stereo infile:
/// `toneA` a 440 Hz sine, `toneB` a 1000 Hz sine, both with their peak at -12 dBFS.
final class ToneRoutes: @unchecked Sendable {
    static let rate = 48_000
    static let toneA = (name: "toneA", frequency: 440)
    static let toneB = (name: "toneB", frequency: 1000)
    static let dBFS = -12.0
    /// The tones' peak at full scale 1.0 (as S16 rounds it).
    static let amplitude = (32767.0 * pow(10, dBFS / 20)).rounded() / 32768.0
    /// RMS of a sine with that peak: -15.01 dBFS.
    static let rmsDB = dBFS - 10 * log10(2)

    let pulse: PulseDaemon
    let home: TempDir

    init() async throws {
        pulse = try await PulseDaemon.start()
        home = try TempDir("capdeck-routes")
        var rc = ""
        for t in [Self.toneA, Self.toneB] {
            let file = "\(t.name).raw"
            try home.write(file, bytes: Tone.s16Stereo(frequency: t.frequency, dBFS: Self.dBFS, seconds: 60, rate: Self.rate))
            rc += ALSAConfig.filePCM(t.name, infile: home.path(file), slave: "\"pulse\"")
        }
        try home.write(".asoundrc", rc)
    }

    /// Environment for capdeck: reaches this daemon (and shares its XDG_RUNTIME_DIR, so every
    /// capdeck started here takes its exclusive-route locks in the same directory).
    var environment: [String: String] { pulse.clientEnvironment }

    /// Starts `capdeck` with its standard input under the test's control.
    func capdeck(_ arguments: [String], label: String = "capdeck") throws -> ControlledCapdeck {
        try ControlledCapdeck(arguments, home: home, label: label, extraEnvironment: environment)
    }

    func shutdown() {
        pulse.shutdown()
        home.remove()
    }

    deinit { shutdown() }
}
