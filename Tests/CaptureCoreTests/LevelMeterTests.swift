// Level meters on known signals: peak, RMS, hold, clips, reset.
@testable import CaptureCore
import Dispatch
import Foundation
import Synchronization
import Testing

@Suite struct LevelMeterTests {
    /// Interleaved float frames of a sine at `amplitude` on every channel.
    func sine(amplitude: Double, frequency: Double = 997, rate: Int = 48000, seconds: Double, channels: Int) -> [Float] {
        let n = Int(Double(rate) * seconds)
        var out = [Float](repeating: 0, count: n * channels)
        for i in 0..<n {
            let v = Float(amplitude * sin(2 * Double.pi * frequency * Double(i) / Double(rate)))
            for c in 0..<channels { out[i * channels + c] = v }
        }
        return out
    }

    func meter(_ samples: [Float], channels: Int, format: SampleFormat = .floatLE, meter: LevelMeter? = nil) -> (LevelMeter, [ChannelLevel]) {
        let fmt = StreamFormat(sampleFormat: format, sampleRate: 48000, channels: channels)
        let m = meter ?? LevelMeter(format: fmt)
        var bytes = [UInt8](repeating: 0, count: samples.count * format.bytesPerSample)
        bytes.withUnsafeMutableBytes { raw in
            for (i, s) in samples.enumerated() {
                SampleCodec.storeFloat(s, raw.baseAddress! + i * format.bytesPerSample, format)
            }
            m.process(raw.baseAddress!, frames: samples.count / channels)
        }
        return (m, m.board.snapshot())
    }

    @Test(arguments: [SampleFormat.floatLE, .s16LE, .s24_3LE, .s32LE])
    func halfScaleSineReadsMinus6PeakMinus9RMS(format: SampleFormat) {
        let (_, levels) = meter(sine(amplitude: 0.5, seconds: 1, channels: 2), channels: 2, format: format)
        #expect(levels.count == 2)
        for l in levels {
            #expect(abs(l.peakDB - -6.02) < 0.05, "peak \(l.peakDB)")
            #expect(abs(l.rmsDB - -9.03) < 0.05, "rms \(l.rmsDB)")
            #expect(abs(l.holdDB - -6.02) < 0.05)
            #expect(l.clips == 0)
        }
    }

    @Test func silenceReadsTheFloor() {
        let (_, levels) = meter([Float](repeating: 0, count: 48000), channels: 1)
        #expect(levels == [.silent])
    }

    @Test func channelsAreIndependent() {
        var s = sine(amplitude: 0.5, seconds: 1, channels: 2)
        for i in stride(from: 1, to: s.count, by: 2) { s[i] *= 0.1 }  // right channel 20 dB down
        let (_, levels) = meter(s, channels: 2)
        #expect(abs(levels[0].rmsDB - -9.03) < 0.05)
        #expect(abs(levels[1].rmsDB - -29.03) < 0.05)
    }

    @Test func clipsCountFullScaleSamplesUntilReset() {
        let fmt = StreamFormat(sampleFormat: .s16LE, sampleRate: 48000, channels: 1)
        let m = LevelMeter(format: fmt)
        var square = [Float](repeating: 0, count: 4800)
        for i in 0..<4800 { square[i] = i % 2 == 0 ? 1.0 : -1.0 }
        let (_, first) = meter(square, channels: 1, format: .s16LE, meter: m)
        #expect(first[0].clips == 4800)
        #expect(abs(first[0].peakDB) < 0.01)
        m.board.requestReset()
        let (_, after) = meter([Float](repeating: 0.1, count: 4800), channels: 1, format: .s16LE, meter: m)
        #expect(after[0].clips == 0)
    }

    @Test func peakHoldLastsAboutOneAndAHalfSeconds() {
        let fmt = StreamFormat(sampleFormat: .floatLE, sampleRate: 48000, channels: 1)
        let m = LevelMeter(format: fmt)
        _ = meter(sine(amplitude: 1.0, seconds: 0.1, channels: 1), channels: 1, meter: m)
        // 1.0 s of a quieter signal: the hold stays at 0 dBFS while the peak falls.
        let (_, held) = meter(sine(amplitude: 0.1, seconds: 1.0, channels: 1), channels: 1, meter: m)
        #expect(abs(held[0].holdDB) < 0.1)
        #expect(abs(held[0].peakDB - -20) < 0.1)
        // Another second: the hold has fallen back to the current peak.
        let (_, released) = meter(sine(amplitude: 0.1, seconds: 1.0, channels: 1), channels: 1, meter: m)
        #expect(abs(released[0].holdDB - -20) < 0.1)
    }

    /// A writer stuck inside `publish` (sequence odd forever) must not hang its readers: after
    /// bounded retries they get the last consistent snapshot.
    @Test func readerOfAStuckWriterReturnsTheLastGoodSnapshot() {
        let board = MeterBoard()
        let levels = [ChannelLevel(peakDB: -6, rmsDB: -9, holdDB: -3, clips: 2), .silent]
        levels.withUnsafeBufferPointer { board.publish($0) }
        #expect(board.snapshot() == levels)
        board.simulateStuckWriter()
        let got = Mutex<[ChannelLevel]?>(nil)
        let done = DispatchSemaphore(value: 0)
        Thread.detachNewThread {  // (left spinning if the reader hangs: the test fails, the suite goes on)
            let s = board.snapshot()
            got.withLock { $0 = s }
            done.signal()
        }
        #expect(done.wait(timeout: .now() + 2) == .success, "the reader returned within 2 s")
        #expect(got.withLock { $0 } == levels)
    }

    #if DEBUG
    /// Debug builds enforce the one-writer rule: two threads publishing at once trap (in a child
    /// process), instead of leaving the sequence odd for every reader.
    @Test func twoWritersAtOnceTrapInDebugBuilds() async {
        await #expect(processExitsWith: .failure) {
            let board = MeterBoard()
            let levels = [ChannelLevel](repeating: .silent, count: MeterBoard.maxChannels)
            DispatchQueue.concurrentPerform(iterations: 2) { _ in
                for _ in 0..<10_000_000 { levels.withUnsafeBufferPointer { board.publish($0) } }
            }
        }
    }
    #endif

    /// Every format and channel count the scan treats apart (one run of lanes for 1, 2 and 4
    /// channels; groups of four, the last overlapping, from 5; one channel at a time for 3 and
    /// for 3-byte samples), fed in uneven pieces: each channel's peak and RMS over the last
    /// 300 ms window (of 0.95 s getting quieter, so the loudest blocks leave it and the running
    /// sums slide) and its clips equal a plain Double computation over the same bytes, decoded
    /// here.
    @Test(arguments: [SampleFormat.s16LE, .s24LE, .s24_3LE, .s32LE, .floatLE])
    func everyChannelMatchesAPlainComputation(format: SampleFormat) {
        for channels in [1, 2, 3, 4, 5, 6, 8, 12, 32, 33, 64] {
            let fmt = StreamFormat(sampleFormat: format, sampleRate: 48000, channels: channels)
            let frames = 48000 * 95 / 100, window = 48000 * 3 / 10
            let bps = format.bytesPerSample
            var bytes = [UInt8](repeating: 0, count: frames * channels * bps)
            var rng = SystemRandomNumberGenerator()
            bytes.withUnsafeMutableBytes { raw in
                for f in 0..<frames {
                    for ch in 0..<channels {
                        let p = raw.baseAddress! + (f * channels + ch) * bps
                        let amplitude = 0.9 / Double(1 + ch % 7) * (1 - 0.7 * Double(f) / Double(frames))
                        let v = Double.random(in: -amplitude...amplitude, using: &rng)
                        // Full scale now and then on every fifth channel: clips.
                        let full = ch % 5 == 0 && f % 997 == 0
                        if format == .floatLE {
                            SampleCodec.storeFloat(full ? (f % 2 == 0 ? 1 : -1) : Float(v), p, format)
                        } else {
                            SampleCodec.storeInt32(full ? (f % 2 == 0 ? .max : .min) : Int32(v * 2_147_483_647), p, format)
                        }
                    }
                }
            }
            // The reference: each sample decoded from its bytes, in Double.
            let bits = format == .floatLE ? 0 : format.bitDepth
            func sample(_ i: Int) -> Double {
                let o = i * bps
                let b = [UInt32(bytes[o]), UInt32(bytes[o + 1]), bps > 2 ? UInt32(bytes[o + 2]) : 0, bps > 3 ? UInt32(bytes[o + 3]) : 0]
                switch format {
                case .floatLE: return Double(Float(bitPattern: b[0] | b[1] << 8 | b[2] << 16 | b[3] << 24))
                case .s16LE: return Double(Int16(bitPattern: UInt16(b[0] | b[1] << 8))) / 32768
                case .s24LE, .s24_3LE: return Double(Int32(bitPattern: (b[0] | b[1] << 8 | b[2] << 16) << 8) >> 8) / 8_388_608
                case .s32LE: return Double(Int32(bitPattern: b[0] | b[1] << 8 | b[2] << 16 | b[3] << 24)) / 2_147_483_648
                }
            }
            let clipAt = bits == 0 ? 1.0 : 1.0 - 1.0 / Double(1 << (bits - 1))
            let m = LevelMeter(format: fmt)
            bytes.withUnsafeBytes { raw in
                var done = 0, piece = 7
                while done < frames {
                    let n = Swift.min(piece, frames - done)
                    m.process(raw.baseAddress! + done * fmt.bytesPerFrame, frames: n)
                    done += n
                    piece = piece * 3 % 1_001 + 1
                }
            }
            let levels = m.board.snapshot()
            #expect(levels.count == channels)
            for ch in 0..<Swift.min(channels, levels.count) {
                var peak = 0.0, sum = 0.0, clips = 0
                for f in 0..<frames {
                    let x = sample(f * channels + ch)
                    if Swift.abs(x) >= clipAt { clips += 1 }
                    guard f >= frames - window else { continue }
                    peak = Swift.max(peak, Swift.abs(x))
                    sum += x * x
                }
                let rmsDB = ChannelLevel.decibels((sum / Double(window)).squareRoot())
                #expect(abs(levels[ch].peakDB - ChannelLevel.decibels(peak)) < 1e-4, "\(format) \(channels) ch, channel \(ch): peak \(levels[ch].peakDB)")
                #expect(abs(levels[ch].rmsDB - rmsDB) < 1e-3, "\(format) \(channels) ch, channel \(ch): rms \(levels[ch].rmsDB) against \(rmsDB)")
                #expect(levels[ch].clips == clips, "\(format) \(channels) ch, channel \(ch): clips")
                if ch % 5 == 0 { #expect(clips > 0) }
            }
        }
    }
}
