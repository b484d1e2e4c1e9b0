// `capdeck record`: headless recording from an ALSA PCM (or the built-in source) to a file.
import ArgumentParser
import CaptureALSA
import CaptureCore
import CaptureFiles
import Dispatch
import Glibc

struct RecordCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "record",
        abstract: "Record from a capture PCM to a file until the duration passes or a signal arrives.",
        discussion: """
            Like arecord, -d counts captured frames, not wall-clock time. SIGINT, SIGTERM and \
            SIGHUP finish the file and exit cleanly. Existing files are never overwritten.
            Without -D, the 'default' PCM is used; if it can't be opened, the built-in test \
            signal is recorded instead, with a warning.
            """)

    @Argument(help: "Output file (must not exist). Default: a name from --name in --output-dir.")
    var file: String?

    @Option(name: [.customShort("D"), .customLong("device")],
            help: "Capture PCM (e.g. hw:0,0, plughw:1, dsnoop:0, default) or builtin[:sine[:HZ]|:sweep|:pink].")
    var device: String?

    @Option(name: [.customShort("f"), .customLong("format")],
            help: "Sample format of the recording: S16_LE, S24_LE, S24_3LE, S32_LE, FLOAT_LE.",
            transform: Parse.format)
    var format: SampleFormat = .s16LE

    @Option(name: [.customShort("r"), .customLong("rate")], parsing: .unconditional, help: "Sample rate in Hz (8000-192000).",
            transform: Parse.int("rate", StreamFormat.rateRange, unit: " Hz"))
    var rate: Int = 48_000

    @Option(name: [.customShort("c"), .customLong("channels")], parsing: .unconditional, help: "Channels (1-8).",
            transform: Parse.int("channels", StreamFormat.channelRange))
    var channels: Int = 2

    @Option(name: [.customShort("t"), .customLong("file-type")],
            help: "File type: wav (RF64 past 4 GiB), w64, caf, flac. Default: from FILE's extension, else wav.",
            transform: Parse.fileType)
    var fileType: FileType?

    @Option(name: [.customShort("d"), .customLong("duration")],
            parsing: .unconditional, help: "Stop after this many seconds of captured audio (0 or absent: until stopped).",
            transform: Parse.seconds)
    var duration: Double?

    @Option(name: [.customShort("o"), .customLong("output-dir")],
            help: "Directory for recordings (default: $XDG_DATA_HOME/capdeck/recordings).")
    var outputDir: String?

    @Option(name: .customLong("name"), help: "strftime pattern for file names (default: \(FileNaming.defaultPattern)).")
    var namePattern: String = FileNaming.defaultPattern

    @Option(name: [.customShort("F"), .customLong("period-time")],
            parsing: .unconditional, help: "Device period in microseconds (1000-1000000; default 10000).",
            transform: Parse.int("period-time", 1_000...1_000_000, unit: " µs"))
    var periodTime: Int?

    @Option(name: [.customShort("B"), .customLong("buffer-time")],
            parsing: .unconditional, help: "Device buffer in microseconds (2000-4000000; default 200000).",
            transform: Parse.int("buffer-time", 2_000...4_000_000, unit: " µs"))
    var bufferTime: Int?

    @Option(name: .customLong("rt-priority"), parsing: .unconditional, help: "SCHED_FIFO priority of the capture thread (1-99).",
            transform: Parse.int("rt-priority", 1...99))
    var rtPriority: Int = 70

    @Flag(name: .customLong("no-realtime"), help: "Capture at normal priority (no SCHED_FIFO).")
    var noRealtime = false

    @Flag(name: [.customShort("q"), .customLong("quiet")], help: "No status output (errors and warnings still print).")
    var quiet = false

    func validate() throws {
        if let b = bufferTime, let p = periodTime, b < 2 * p {
            throw ValidationError("-B/--buffer-time must be at least twice -F/--period-time (\(p) µs)")
        }
        if let file, file.isEmpty { throw ValidationError("FILE is empty") }
        if let file, file == "-" { throw ValidationError("writing to standard output is not supported; name a file") }
        if namePattern.isEmpty { throw ValidationError("--name: the pattern is empty") }
    }

    func run() throws {
        let type = fileType ?? file.flatMap { FileType(name: String($0.split(separator: ".").last ?? "")) } ?? .wav
        do throws(RecordingError) { try type.validate(format) } catch {
            throw Failure("-t/--file-type: \(error)", code: .usage)
        }
        let recording = StreamFormat(sampleFormat: format, sampleRate: rate, channels: channels)
        let request = CaptureRequest(format: recording, periodMicros: periodTime, bufferMicros: bufferTime)
        let maxFrames = duration.flatMap { $0 > 0 ? Int(($0 * Double(rate)).rounded()) : nil }
        let config = CaptureEngine.Configuration(
            request: request, recordingFormat: recording,
            realtimePriority: noRealtime ? nil : Int32(rtPriority), maxFrames: maxFrames.map { Swift.max(1, $0) })

        let target = try OutputTarget(file: file, outputDir: outputDir, pattern: namePattern, fileType: type)
        let (engine, sink) = try startEngine(config: config, target: target, fileType: type)
        let status = StatusLine(engine: engine, path: sink.path, enabled: !quiet && Terminal.stderrIsTerminal)
        let signals = SignalHandlers { engine.stop() }
        status.start()
        let summary = engine.waitUntilFinished()
        status.stop()
        signals.cancel()
        try report(summary, path: sink.path, rate: rate)
    }

    /// Opens the device and starts capture into a new file. Falls back to the built-in source only
    /// when the user named no device, and then says so on stderr even with -q.
    private func startEngine(config: CaptureEngine.Configuration, target: OutputTarget,
                             fileType: FileType) throws -> (CaptureEngine, SndfileRecorder) {
        let primary: any CaptureDevice = makeDevice(device ?? "default")
        do {
            return try attempt(primary, config: config, target: target, fileType: fileType)
        } catch let DeviceFailure.device(error) {
            if device != nil {
                throw Failure(error.description, code: .unavailable)
            }
            let fallback = SignalSourceDevice(signal: .defaultSine, paced: true, name: "builtin")
            Terminal.error("warning: no capture device could be opened (\(error)).")
            Terminal.error("warning: recording the \(fallback.displayName) instead. Name a device with -D; see 'capdeck devices'.")
            do {
                return try attempt(fallback, config: config, target: target, fileType: fileType)
            } catch let DeviceFailure.device(error) {
                throw Failure(error.description, code: .unavailable)
            }
        }
    }

    private enum DeviceFailure: Error { case device(DeviceError) }

    private func attempt(_ dev: any CaptureDevice, config: CaptureEngine.Configuration, target: OutputTarget,
                         fileType: FileType) throws -> (CaptureEngine, SndfileRecorder) {
        let sink = try target.create(format: config.recordingFormat, fileType: fileType)
        let engine: CaptureEngine
        do {
            engine = try CaptureEngine(device: dev, configuration: config, sink: sink)
        } catch {
            try? sink.finish(); unlink(sink.path)
            throw Failure("cannot set up capture: \(error)", code: .ioError)
        }
        do {
            let g = try engine.start()
            if !quiet {
                Terminal.write("capdeck: recording \(dev.displayName): \(g.format), period \(Fmt.ms(g.periodMs)), buffer \(Fmt.ms(g.bufferMs))"
                               + (g.format != config.recordingFormat ? " (converted to \(config.recordingFormat))" : "")
                               + ", \(engine.realtimeStatus)\n")
                Terminal.write("capdeck: saving to \(sink.path)\n")
            }
            return (engine, sink)
        } catch {
            // Nothing was captured (the engine has finished the sink): remove the empty file.
            try? sink.finish()
            if sink.framesWritten == 0 { unlink(sink.path) }
            throw DeviceFailure.device(error)
        }
    }

    private func makeDevice(_ name: String) -> any CaptureDevice {
        if name == "builtin" || name.hasPrefix("builtin:") {
            let spec = name == "builtin" ? "" : String(name.dropFirst("builtin:".count))
            return SignalSourceDevice(signal: TestSignal(spec: spec) ?? .defaultSine, paced: true, name: name)
        }
        return ALSACaptureDevice(name: name)
    }

    private func report(_ s: CaptureSummary, path: String, rate: Int) throws {
        let seconds = Double(s.framesWritten) / Double(rate)
        let line = "saved \(path): \(s.framesWritten) frames (\(Fmt.duration(seconds))), \(s.xruns) xrun\(s.xruns == 1 ? "" : "s")"
        switch s.endReason {
        case .durationReached, .stopped:
            if !quiet { Terminal.write("capdeck: \(line)\n") }
        case .deviceLost(let e):
            throw Failure("\(e); \(line)", code: .ioError)
        case .writeFailed(let e):
            throw Failure("\(e); \(line)", code: .ioError)
        }
    }
}

extension RecordCommand {
    /// Validates names and ranges in one place, so every message names the flag and the range.
    enum Parse {
        static func format(_ s: String) throws -> SampleFormat {
            guard let f = SampleFormat(name: s) else {
                throw ValidationError("not a sample format; use S16_LE, S24_LE, S24_3LE, S32_LE or FLOAT_LE")
            }
            return f
        }
        static func fileType(_ s: String) throws -> FileType {
            guard let t = FileType(name: s) else { throw ValidationError("not a file type; use wav, w64, caf or flac") }
            return t
        }
        static func int(_ flag: String, _ range: ClosedRange<Int>, unit: String = "") -> @Sendable (String) throws -> Int {
            { s in
                guard let v = Int(Fmt.trimmed(s)) else {
                    throw ValidationError("not a whole number; \(flag) takes \(range.lowerBound)-\(range.upperBound)\(unit)")
                }
                guard range.contains(v) else {
                    throw ValidationError("out of range; \(flag) takes \(range.lowerBound)-\(range.upperBound)\(unit)")
                }
                return v
            }
        }
        static func seconds(_ s: String) throws -> Double {
            guard let v = Double(s), v.isFinite else {
                throw ValidationError("not a number of seconds; duration takes 0-31536000")
            }
            guard v >= 0, v <= 31_536_000 else { throw ValidationError("out of range; duration takes 0-31536000 seconds") }
            return v
        }
    }
}


enum Fmt {
    static func pad(_ s: String, _ width: Int) -> String {
        s.count >= width ? s + " " : s + String(repeating: " ", count: width - s.count)
    }
    static func trimmed(_ s: String) -> String {
        var t = Substring(s)
        while let f = t.first, f == " " || f == "\t" { t = t.dropFirst() }
        while let l = t.last, l == " " || l == "\t" { t = t.dropLast() }
        return String(t)
    }
    static func ms(_ v: Double) -> String {
        let tenths = Int((v * 10).rounded())
        return "\(tenths / 10).\(tenths % 10) ms"
    }
    static func duration(_ seconds: Double) -> String {
        let total = Int(seconds)
        let tenths = Int((seconds - Double(total)) * 10)
        let h = total / 3600, m = (total / 60) % 60, s = total % 60
        func two(_ v: Int) -> String { v < 10 ? "0\(v)" : "\(v)" }
        return "\(two(h)):\(two(m)):\(two(s)).\(tenths)"
    }
    static func db(_ v: Double) -> String {
        if v <= ChannelLevel.floorDB { return "  -inf" }
        let t = Int((v * 10).rounded())
        let sign = t < 0 ? "-" : " "
        let a = abs(t)
        let body = "\(a / 10).\(a % 10)"
        return String(repeating: " ", count: max(0, 5 - body.count)) + sign + body
    }
}
