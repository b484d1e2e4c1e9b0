// What the live-change, data-output and file-limit tests share: the built-in source's exact
// samples (to compare files and buffers with), a WAV read back by libsndfile, and a collector of
// data-output buffers.
import CaptureCore
import CaptureDeck
import CSndfile
import Foundation
import Synchronization

/// 48 kHz stereo S16: what the tests' inputs deliver.
let liveFormat = StreamFormat(sampleFormat: .s16LE, sampleRate: 48_000, channels: 2)

/// The samples a built-in source of `signal` delivers for frames 0..<n, interleaved, encoded as
/// it encodes them (`SignalGenerator` and `SampleCodec`, from the device's open).
func reference(_ signal: TestSignal, frames n: Int, format: StreamFormat = liveFormat) -> [Int16] {
    precondition(format.sampleFormat == .s16LE)
    var g = SignalGenerator(signal: signal, sampleRate: format.sampleRate)
    var out = [Int16](repeating: 0, count: n * format.channels)
    out.withUnsafeMutableBytes { raw in
        var p = raw.baseAddress!
        for _ in 0..<n {
            let v = g.next()
            for _ in 0..<format.channels {
                SampleCodec.storeFloat(v, p, format.sampleFormat)
                p += 2
            }
        }
    }
    return out
}

/// A recording read back through libsndfile: its frames, interleaved S16.
struct ReadBack {
    var sampleRate: Int
    var channels: Int
    var samples: [Int16]
    var frames: Int { samples.count / max(1, channels) }

    static func read(_ path: String) -> ReadBack? {
        var info = SF_INFO()
        guard let f = sf_open(path, Int32(SFM_READ), &info) else { return nil }
        defer { sf_close(f) }
        var s = [Int16](repeating: 0, count: Int(info.frames) * Int(info.channels))
        let got = s.withUnsafeMutableBufferPointer { sf_readf_short(f, $0.baseAddress, info.frames) }
        guard got == info.frames else { return nil }
        return ReadBack(sampleRate: Int(info.samplerate), channels: Int(info.channels), samples: s)
    }
}

/// Where `samples` (interleaved, `channels` wide) start in `ref`: the first frame offset at which
/// all of them match, or nil. (Pink noise: the first few frames already single out one offset;
/// every sample is then compared.)
func offset(of samples: [Int16], in ref: [Int16], channels: Int = 2) -> Int? {
    let probe = min(samples.count, 64 * channels)
    guard probe > 0 else { return nil }
    var k = 0
    while (k * channels) + samples.count <= ref.count {
        let base = k * channels
        if ref[base..<base + probe].elementsEqual(samples[0..<probe]) && ref[base..<base + samples.count].elementsEqual(samples) {
            return k
        }
        k += 1
    }
    return nil
}

/// The first frame at which `a` and `b` differ, or nil (for a message that says where).
func firstDifference(_ a: ArraySlice<Int16>, _ b: ArraySlice<Int16>, channels: Int = 2) -> Int? {
    for (i, (x, y)) in zip(a, b).enumerated() where x != y { return i / channels }
    return a.count == b.count ? nil : min(a.count, b.count) / channels
}

func tempDir(_ label: String) throws -> String {
    let dir = NSTemporaryDirectory() + "capdeck-\(label)-" + UUID().uuidString
    try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
    return dir
}

/// Every buffer a data output's handler received, with whether it arrived after a given moment.
final class BufferLog: Sendable {
    struct Entry {
        var buffer: AudioSampleBuffer
        var afterCutoff: Bool
    }
    private let entries = Mutex<[Entry]>([])
    /// Set by the test once the handler must not be called any more.
    let cutoff = Atomic<Bool>(false)
    func add(_ b: AudioSampleBuffer) {
        let late = cutoff.load(ordering: .sequentiallyConsistent)
        entries.withLock { $0.append(Entry(buffer: b, afterCutoff: late)) }
    }
    var buffers: [AudioSampleBuffer] { entries.withLock { $0.map(\.buffer) } }
    var lateCalls: Int { entries.withLock { $0.filter(\.afterCutoff).count } }
    var count: Int { entries.withLock { $0.count } }
}
