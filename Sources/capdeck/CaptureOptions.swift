// Options shared by `capdeck record` and the console: input, format, files, routes, session rules.
import ArgumentParser
import CaptureApp
import CaptureCore
import CaptureFiles

struct CaptureOptions: ParsableArguments {
    @Option(name: [.customShort("D"), .customLong("device")],
            help: "Capture PCM (e.g. hw:0,0, plughw:1, dsnoop:0, default) or builtin[:sine[:HZ]|:sweep|:pink].",
            completion: Completion.device)
    var device: String?

    @Option(name: [.customShort("f"), .customLong("format")],
            help: "Sample format of the recording: S16_LE (default), S24_LE, S24_3LE, S32_LE, FLOAT_LE.",
            completion: Completion.formats, transform: Parse.format)
    var format: SampleFormat?

    @Option(name: [.customShort("r"), .customLong("rate")], parsing: .unconditional, help: "Sample rate in Hz (8000-384000, or 8k-384k: 48k, 44.1k; default 48000).",
            transform: Parse.rate)
    var rate: Int?

    @Option(name: [.customShort("c"), .customLong("channels")], parsing: .unconditional, help: "Channels (1-64, FLAC at most 8; default 2).",
            transform: Parse.int("channels", StreamFormat.channelRange))
    var channels: Int?

    @Option(name: .customLong("select"),
            help: "Record these device channels, in this order: 1,2,5-8 (counted from 1; each once; config [input] select). Sets the channels recorded.",
            transform: Parse.selection)
    var select: ChannelSelection?

    @Flag(name: .customLong("split-channels"), inversion: .prefixedNo,
          help: "One mono file per channel, sample-aligned: NAME-ch01.EXT, NAME-ch02.EXT, … (config [input] split-channels).")
    var splitChannels: Bool?

    @Option(name: [.customShort("t"), .customLong("file-type")],
            help: "File type: wav (RF64 past 4 GiB), w64, caf, flac, aiff (at most 4 GiB). Default: from FILE's extension, else wav.",
            completion: Completion.fileTypes, transform: Parse.fileType)
    var fileType: FileType?

    @Option(name: [.customShort("o"), .customLong("output-dir")],
            help: "Directory for recordings (default: $XDG_DATA_HOME/capdeck/recordings, else ~/.local/share/capdeck/recordings).",
            completion: .directory)
    var outputDir: String?

    @Option(name: .customLong("name"), help: "strftime pattern for file names in --output-dir; the type's extension is added unless the pattern ends with it (take.wav).")
    var namePattern: String = FileNaming.defaultPattern

    @Option(name: .customLong("description"), help: "WAV/RF64 bext Description (at most 256 bytes; UTF-8 kept as is).")
    var bextDescription: String?

    @Option(name: [.customShort("F"), .customLong("period-time")], parsing: .unconditional,
            help: "Device period in microseconds (1000-1000000; default: record 100000, console 33333, at most a quarter of -B; given, at most half of -B).",
            transform: Parse.int("period-time", 1_000...1_000_000, unit: " µs"))
    var periodTime: Int?

    @Option(name: [.customShort("B"), .customLong("buffer-time")], parsing: .unconditional,
            help: "Device buffer in microseconds (2000-4000000; default: max(4 periods, 200000)).",
            transform: Parse.int("buffer-time", 2_000...4_000_000, unit: " µs"))
    var bufferTime: Int?

    @Option(name: .customLong("rt-priority"), parsing: .unconditional, help: "SCHED_FIFO priority of the capture thread (1-99; default 70).",
            transform: Parse.int("rt-priority", 1...99))
    var rtPriority: Int = 70

    @Flag(name: .customLong("no-realtime"), help: "Capture at normal priority (no SCHED_FIFO).")
    var noRealtime = false

    @Flag(name: .customLong("no-loudness"), help: "No EBU R128 loudness metering (no strip, summary or bext loudness: they read unknown).")
    var noLoudness = false

    // Route overrides: which PCM stands for each access kind of the input.
    @Option(name: .customLong("exclusive-device"), help: "PCM for the exclusive route (mix with others off).", completion: Completion.device)
    var exclusiveDevice: String?
    @Option(name: .customLong("shared-device"), help: "PCM for the shared route (mix with others on).", completion: Completion.device)
    var sharedDevice: String?
    @Option(name: .customLong("bluetooth-hq-device"), help: "PCM for high-quality Bluetooth recording.", completion: Completion.device)
    var bluetoothHQDevice: String?
    @Option(name: .customLong("bluetooth-hfp-device"), help: "PCM for Bluetooth hands-free (HFP) recording.", completion: Completion.device)
    var bluetoothHFPDevice: String?

    // The four AVCaptureSession properties (Apple's defaults: on, on, off, off).
    @Flag(name: .customLong("uses-app-session"), inversion: .prefixedNo,
          help: "usesApplicationAudioSession (default on).")
    var usesAppSession: Bool?
    @Flag(name: .customLong("auto-configure"), inversion: .prefixedNo,
          help: "automaticallyConfiguresApplicationAudioSession (default on).")
    var autoConfigure: Bool?
    @Flag(name: .customLong("mix-with-others"), inversion: .prefixedNo,
          help: "configuresApplicationAudioSessionToMixWithOthers (default off).")
    var mixWithOthers: Bool?
    @Flag(name: .customLong("bluetooth-hq"), inversion: .prefixedNo,
          help: "configuresApplicationAudioSessionForBluetoothHighQualityRecording (default off).")
    var bluetoothHQ: Bool?

    @Flag(name: .customLong("mute-other-streams"), inversion: .prefixedNo,
          help: "While mix off interrupts other programs' audio, also mute their playback streams on the sound server, and unmute exactly those after (default off: servers remember mutes per application).")
    var muteOtherStreams: Bool?

    @Option(name: .customLong("pre-roll"), parsing: .unconditional,
            help: "Seconds of audio before a take's start that it begins with (0-60; config [input] pre-roll; default 0, or 1 with --trigger-level).",
            transform: Parse.decimal("--pre-roll", 0...60, unit: "seconds"))
    var preRoll: Double?

    @Option(name: .customLong("trigger-level"), parsing: .unconditional,
            help: "Voice-activated recording: a take starts when a 10 ms block's peak reaches this many dBFS (-120 to 0); each take in its own file. In the console, v arms it (default -30).",
            transform: Parse.decimal("--trigger-level", -120...0, unit: "dBFS"))
    var triggerLevel: Double?

    @Option(name: .customLong("trigger-stop-level"), parsing: .unconditional,
            help: "The take's hold starts when the peak falls below this many dBFS (at most --trigger-level; default 6 dB below it).",
            transform: Parse.decimal("--trigger-stop-level", -120...0, unit: "dBFS"))
    var triggerStopLevel: Double?

    @Option(name: .customLong("trigger-hold"), parsing: .unconditional,
            help: "Seconds below the stop level before a triggered take ends (0-3600; default 2).",
            transform: Parse.decimal("--trigger-hold", 0...3600, unit: "seconds"))
    var triggerHold: Double?
    @Option(name: .customLong("max-file-time"), parsing: .unconditional,
            help: "Split the recording into parts of at most this long: seconds (as arecord), 90s, 10m, 2h, or 1:30, 1:02:03; at least 0.1 s; 0: no limit (config: [input] max-file-time).",
            transform: Parse.splitDuration)
    var maxFileTime: Double?
    @Option(name: .customLong("max-file-size"), parsing: .unconditional,
            help: "Split the recording into parts of at most this much audio: bytes, or 500k, 500M, 2G (1024-based); at least 0.1 s of audio; 0: no limit (config: [input] max-file-size).",
            transform: Parse.splitSize)
    var maxFileSize: Int?

    @Option(name: .customLong("meter"),
            help: "What the meters read: peak (sample peak, default), ppm1 (IEC 60268-10 type I, DIN), ppm2 (type II, BBC/EBU) or vu (IEC 60268-17, 0 VU = -18 dBFS); config [meters] ballistics. In the console, b cycles them.",
            transform: Parse.meter)
    var meter: MeterBallistics?

    @Option(name: .customLong("config"), help: "Config file (default: $XDG_CONFIG_HOME/capdeck/config.toml, if it exists).",
            completion: Completion.config)
    var configFile: String?

    func validate() throws {
        // (Without -F the period is at most a quarter of -B: CaptureSettings.devicePeriod.)
        if let b = bufferTime, let p = periodTime, b < 2 * p {
            throw ValidationError("-B/--buffer-time must be at least twice the period (\(p) µs; set -F/--period-time to change it)")
        }
        if let stop = triggerStopLevel, stop > (triggerLevel ?? -30) {
            throw ValidationError("--trigger-stop-level must be at most --trigger-level (\(Parse.number(triggerLevel ?? -30)) dBFS)")
        }
        if let select, let c = channels, c != select.count {
            throw ValidationError("-c/--channels \(c) and --select \(select) disagree: --select records \(select.count) channel\(select.count == 1 ? "" : "s"); drop -c")
        }
        if namePattern.isEmpty { throw ValidationError("--name: the pattern is empty") }
        if let t = fileType, let ext = OutputTarget.extensionOf(namePattern), let named = FileType(name: ext), named != t {
            throw ValidationError("-t \(t.rawValue) does not match --name's extension '.\(ext)'")
        }
        if namePattern.contains("/") { throw ValidationError("--name: the pattern must not contain '/' (use -o/--output-dir for the directory)") }
        if let o = outputDir, o.isEmpty { throw ValidationError("-o/--output-dir: the directory name is empty") }
        if let c = configFile, c.isEmpty { throw ValidationError("--config: the file name is empty") }
        for (flag, v) in [("-o/--output-dir", outputDir), ("--config", configFile)] {
            if let v, v.utf8.count > 4000 { throw ValidationError("\(flag): the path is too long") }
            if let v, v.unicodeScalars.contains(where: { $0.value < 0x20 }) {
                throw ValidationError("\(flag): the path contains control characters")
            }
        }
        if namePattern.unicodeScalars.contains(where: { $0.value < 0x20 || $0.value == 0x7F })
            || namePattern.contains("%n") || namePattern.contains("%t") {
            throw ValidationError("--name: the pattern must not make control characters (newline, tab…)")
        }
        if let d = bextDescription, let problem = BroadcastDescription.problem(d) {
            throw ValidationError("--description: \(problem)")
        }
        for (flag, v) in [("-D/--device", device), ("--exclusive-device", exclusiveDevice), ("--shared-device", sharedDevice),
                          ("--bluetooth-hq-device", bluetoothHQDevice), ("--bluetooth-hfp-device", bluetoothHFPDevice)] {
            if let v, v.isEmpty || v.utf8.count > 512 || v.contains(where: { $0.isNewline }) {
                throw ValidationError("\(flag): not a PCM name")
            }
            if let v, v.hasPrefix("builtin:"), TestSignal(spec: String(v.dropFirst("builtin:".count))) == nil {
                throw ValidationError("\(flag): '\(v)' is not a built-in signal; use builtin, builtin:sine, builtin:sine:HZ (1-20000), builtin:sweep or builtin:pink")
            }
        }
    }

    /// The values, for the library (which knows no argument parser).
    var settings: CaptureSettings {
        var s = CaptureSettings(device: device, format: format, rate: rate, channels: channels, fileType: fileType,
                        outputDir: outputDir, namePattern: namePattern, periodTime: periodTime, bufferTime: bufferTime,
                        rtPriority: rtPriority, noRealtime: noRealtime,
                        exclusiveDevice: exclusiveDevice, sharedDevice: sharedDevice,
                        bluetoothHQDevice: bluetoothHQDevice, bluetoothHFPDevice: bluetoothHFPDevice,
                        usesAppSession: usesAppSession, autoConfigure: autoConfigure, mixWithOthers: mixWithOthers,
                        bluetoothHQ: bluetoothHQ, configFile: configFile, muteOtherStreams: muteOtherStreams,
                        preRoll: preRoll, triggerLevel: triggerLevel, triggerStopLevel: triggerStopLevel, triggerHold: triggerHold)
        s.bextDescription = bextDescription
        s.noLoudness = noLoudness
        s.maxFileTime = maxFileTime
        s.maxFileSize = maxFileSize
        s.channelSelection = select
        s.splitChannels = splitChannels
        s.meter = meter
        return s
    }
}
