// capdeck-bench: measures heap allocations per period on the capture thread of a real capture
// (an ALSA PCM, or the built-in source unpaced or paced), for `make bench` and the tests.
// `builtin-hw` is the paced source behaving like a hardware ring of BUFFER_US: a capture thread
// late by more than the buffer loses audio, so xruns and dropped frames measure scheduling
// (make soak's CPU-load runs; PulseAudio would buffer such lateness away).
// Usage: capdeck-bench PCM|builtin|builtin-paced|builtin-hw [PERIODS] [PERIOD_US] [BUFFER_US]
//        capdeck-bench loudness CHANNELS RATE SECONDS (LoudnessBench.swift)
import CAllocCounter
import CaptureALSA
import CaptureCore
import Glibc

func complain(_ s: String) {
    let line = s + "\n"
    _ = line.withCString { write(2, $0, strlen($0)) }
}

let args = CommandLine.arguments
guard args.count >= 2 else {
    complain("usage: capdeck-bench PCM|builtin [PERIODS] [PERIOD_US]")
    exit(64)
}
let name = args[1]
if name == "loudness" {
    loudnessBench(channels: args.count > 2 ? Int(args[2]) ?? 2 : 2, rate: args.count > 3 ? Int(args[3]) ?? 48_000 : 48_000,
                  seconds: args.count > 4 ? Int(args[4]) ?? 60 : 60, infile: args.count > 5 ? args[5] : nil)
    exit(0)
}
let periods = args.count > 2 ? Int(args[2]) ?? 20_000 : 20_000
let periodMicros = args.count > 3 ? Int(args[3]) ?? 10_000 : 10_000
let bufferMicros = args.count > 4 ? Int(args[4]) : nil
let hardwareModel = BuiltInSource(paced: true, modelsOverruns: true)
let format = StreamFormat(sampleFormat: .s16LE, sampleRate: 48_000, channels: 2)
let device: any CaptureSource = switch name {
case "builtin": BuiltInSource(paced: false)
case "builtin-paced": BuiltInSource(paced: true)  // exercises the poll/wait path
case "builtin-hw": hardwareModel
default: ALSACaptureSource(name: name)
}
// SCHED_FIFO where allowed, as in real use (CAPDECK_BENCH_NORT=1 to measure without).
let priority: Int32? = getenv("CAPDECK_BENCH_NORT") == nil ? 70 : nil

do {
    let engine = try CaptureEngine(
        device: device,
        configuration: .init(request: CaptureRequest(format: format, periodMicros: periodMicros, bufferMicros: bufferMicros),
                             realtimePriority: priority, ringSeconds: 0.25))
    let granted = try engine.start()
    while engine.framesCaptured < granted.periodFrames * 100 && !engine.isFinished { usleep(200) }
    CAllocCounter_watch(engine.captureThreadID)
    let from = engine.framesCaptured
    while engine.framesCaptured - from < granted.periodFrames * periods && !engine.isFinished { usleep(200) }
    let allocations = CAllocCounter_count(engine.captureThreadID)
    let covered = (engine.framesCaptured - from) / granted.periodFrames
    CAllocCounter_unwatch(engine.captureThreadID)
    engine.stop()
    _ = engine.waitUntilFinished()
    let perPeriod = Double(allocations) / Double(max(1, covered))
    // A build without the counter (CAPDECK_NO_ALLOC_COUNTER, the sanitizer builds) measures nothing.
    let counted = CAllocCounter_isActive() != 0 ? "\(allocations)" : "unmeasured"
    print("allocations=\(counted) periods=\(covered) period_frames=\(granted.periodFrames) per_period=\(perPeriod) realtime=\(engine.realtimeStatus)"
          + (name == "builtin-hw" ? " buffer_frames=\(granted.bufferFrames) xruns=\(engine.xrunCount) dropped_frames=\(hardwareModel.droppedFrames)" : ""))
} catch {
    complain("capdeck-bench: \(error)")
    exit(69)
}
