// `capdeck-bench loudness CHANNELS RATE SECONDS`: what EBU R128 metering costs on the writer side.
// One LoudnessMeter over SECONDS of noise in 100 ms batches, with a reading every batch (as
// CaptureLoudnessOutput publishes): CPU seconds per second of audio, and the allocations on the
// measuring thread (libebur128 allocates in ebur128_init only). Then an unpaced capture through
// the engine, its writer feeding a do-nothing sink or one that meters: the capture thread's
// allocations (zero either way: metering never runs there) and the wall time each takes.
import CAllocCounter
import CaptureCore
import CaptureLoudness
import Glibc

func threadCPUSeconds() -> Double {
    var t = timespec()
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t)
    return Double(t.tv_sec) + Double(t.tv_nsec) / 1e9
}

func monotonicSeconds() -> Double {
    var t = timespec()
    clock_gettime(CLOCK_MONOTONIC, &t)
    return Double(t.tv_sec) + Double(t.tv_nsec) / 1e9
}

/// The engine's sink: meters each batch (or not), writes nothing.
final class MeteringSink: RecordingSink {
    let path = ""
    let format: StreamFormat
    var framesWritten = 0
    let meter: LoudnessMeter?
    init(format: StreamFormat, metering: Bool) throws(LoudnessError) {
        self.format = format
        meter = metering ? try LoudnessMeter(channels: format.channels, sampleRate: format.sampleRate) : nil
    }
    func write(_ frames: UnsafeRawPointer, count: Int) throws(RecordingError) {
        meter?.process(frames, count: count, encoding: format.sampleFormat)
        framesWritten += count
    }
    func checkpoint() throws(RecordingError) { _ = meter?.reading }
    func finish() throws(RecordingError) {}
    func addMarker(_ marker: RecordingMarker) {}
}

/// `infile`: raw S16_LE of `channels` at `rate` to measure instead of noise (the meter over
/// SECONDS of it, or all of it if shorter): programme material, where the true peak can rest.
func loudnessBench(channels: Int, rate: Int, seconds requested: Int, infile: String? = nil) {
    let encoding: SampleFormat = channels <= 2 || infile != nil ? .s16LE : .s32LE
    let format = StreamFormat(sampleFormat: encoding, sampleRate: rate, channels: channels)
    let batch = rate / 10
    var seconds = requested
    // One second of white noise at about -20 dBFS, repeated: the true peak never rests (the
    // meter's worst case). Or the infile, second after second.
    var audio = [UInt8](repeating: 0, count: rate * format.bytesPerFrame)
    if let infile {
        guard let f = fopen(infile, "rb") else { complain("capdeck-bench: can't open \(infile)"); exit(66) }
        audio = [UInt8](repeating: 0, count: requested * rate * format.bytesPerFrame)
        let got = fread(&audio, rate * format.bytesPerFrame, requested, f)
        fclose(f)
        guard got > 0 else { complain("capdeck-bench: \(infile) holds less than a second"); exit(65) }
        seconds = got
    } else {
        var x: UInt32 = 0x2545_F491
        audio.withUnsafeMutableBytes { b in
            for i in 0..<(rate * channels) {
                x ^= x << 13; x ^= x >> 17; x ^= x << 5
                SampleCodec.storeFloat(Float(Int32(bitPattern: x)) / 2_147_483_648 * 0.17, b.baseAddress! + i * encoding.bytesPerSample, encoding)
            }
        }
    }
    let secondBytes = rate * format.bytesPerFrame
    let meter: LoudnessMeter
    do throws(LoudnessError) { meter = try LoudnessMeter(channels: channels, sampleRate: rate) } catch {
        complain("capdeck-bench: \(error)")
        exit(69)
    }
    let tid = CAllocCounter_currentThreadID()
    var processAllocations: UInt64 = 0, readingAllocations: UInt64 = 0
    let cpu0 = threadCPUSeconds()
    for s in 0..<seconds {
        audio.withUnsafeBytes { all in
            let b = UnsafeRawBufferPointer(rebasing: all[(infile == nil ? 0 : s * secondBytes)...])
            for start in stride(from: 0, to: rate, by: batch) {
                CAllocCounter_watch(tid)
                meter.process(b.baseAddress! + start * format.bytesPerFrame, count: min(batch, rate - start), encoding: encoding)
                processAllocations &+= CAllocCounter_count(tid)
                CAllocCounter_watch(tid)
                _ = meter.reading
                readingAllocations &+= CAllocCounter_count(tid)
            }
        }
    }
    CAllocCounter_unwatch(tid)
    let cpu = threadCPUSeconds() - cpu0

    // The engine, unpaced: the same audio length with and without metering on its writer.
    func engineRun(metering: Bool) -> (wall: Double, captureAllocations: UInt64) {
        do {
            let sink = try MeteringSink(format: format, metering: metering)
            let engine = try CaptureEngine(device: BuiltInSource(signal: .pink(level: -18), paced: false),
                                           configuration: .init(request: CaptureRequest(format: format, periodMicros: 10_000), ringSeconds: 0.5),
                                           sink: sink)
            let t0 = monotonicSeconds()
            _ = try engine.start()
            while engine.framesCaptured < rate / 10 && !engine.isFinished { usleep(100) }
            CAllocCounter_watch(engine.captureThreadID)
            while sink.framesWritten < rate * seconds && !engine.isFinished { usleep(500) }
            let n = CAllocCounter_count(engine.captureThreadID)
            CAllocCounter_unwatch(engine.captureThreadID)
            let wall = monotonicSeconds() - t0
            engine.stop()
            _ = engine.waitUntilFinished()
            return (wall, n)
        } catch {
            complain("capdeck-bench: \(error)")
            exit(69)
        }
    }
    let off = engineRun(metering: false)
    let on = engineRun(metering: true)
    let counted = CAllocCounter_isActive() != 0
    func n(_ v: UInt64) -> String { counted ? "\(v)" : "unmeasured" }
    print("channels=\(channels) rate=\(rate) format=\(encoding.rawValue) audio_seconds=\(seconds)"
          + " true_peak_blocks_fed=\(meter.truePeakBlocks.fed) skipped=\(meter.truePeakBlocks.skipped)"
          + " meter_cpu_s=\(cpu) core_fraction=\(cpu / Double(seconds)) process_allocations=\(n(processAllocations))"
          + " readings=\(seconds * 10) reading_allocations=\(n(readingAllocations))"
          + " engine_wall_off_s=\(off.wall) engine_wall_on_s=\(on.wall)"
          + " capture_allocations_off=\(n(off.captureAllocations)) capture_allocations_on=\(n(on.captureAllocations))")
}
