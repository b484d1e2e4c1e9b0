// What `capdeck record` and the console were asked for (input, format, files, routes, session
// rules), as plain values, and how flags, the config file and the defaults combine into them.
import CaptureConfig
import CaptureCore
import CaptureDeck
import CaptureFiles
import Glibc

/// The shared options' values (nil: not given). The executable parses them; the library combines.
public struct CaptureSettings: Sendable {
    /// Who asks for the device: a headless `record`, or the console with its 30 fps meters.
    public enum Use: Sendable { case record, console }

    /// The device period each command asks for without -F, in µs. Each period is a wake-up of the
    /// capture thread (and of the sound server's client thread behind a `pulse` PCM), so a
    /// headless recorder takes big ones, as arecord does (it takes a quarter of a 500 ms buffer):
    /// at 10 ms, 48 kHz stereo through PulseAudio cost 2.4% of a core, at 100 ms about 0.7%. Stop,
    /// a switch and the stall watch don't wait for a period (they poll a wake-up descriptor); what
    /// a period delays is the newest audio reaching the ring: a marker lags the device by at most
    /// one period, and so does the meter. The console's meters redraw 30 times a second, so it
    /// takes a period of one frame, 33.3 ms: a fresh reading for every frame, and 30 wake-ups a
    /// second rather than 20 ms's 50 (the writer wakes per period then too).
    public static func defaultPeriodMicros(for use: Use) -> Int {
        switch use {
        case .record: 100_000
        case .console: 33_333
        }
    }

    /// The period and buffer to ask for (µs; a nil buffer lets the device choose, which asks for
    /// max(4 periods, 200 ms)): -F and -B as given; without -F, the command's default period, or
    /// a quarter of -B when that is shorter (so -B alone always holds 4 periods).
    public func devicePeriod(for use: Use) -> (period: Int, buffer: Int?) {
        if let periodTime { return (periodTime, bufferTime) }
        let period = Swift.min(CaptureSettings.defaultPeriodMicros(for: use), (bufferTime ?? .max) / 4)
        return (period, bufferTime)
    }

    public var device: String? = nil
    public var format: SampleFormat? = nil
    public var rate: Int? = nil
    public var channels: Int? = nil
    public var fileType: FileType? = nil
    public var outputDir: String? = nil
    public var namePattern: String = FileNaming.defaultPattern
    /// -F and -B as given (nil: the command's default, `devicePeriod(for:)`).
    public var periodTime: Int? = nil
    public var bufferTime: Int? = nil
    public var rtPriority: Int = 70
    public var noRealtime: Bool = false
    public var exclusiveDevice: String? = nil
    public var sharedDevice: String? = nil
    public var bluetoothHQDevice: String? = nil
    public var bluetoothHFPDevice: String? = nil
    public var usesAppSession: Bool? = nil
    public var autoConfigure: Bool? = nil
    public var mixWithOthers: Bool? = nil
    /// `--[no-]mute-other-streams` (nil: the config file's, else off).
    public var muteOtherStreams: Bool? = nil
    public var bluetoothHQ: Bool? = nil
    public var configFile: String? = nil
    /// `--pre-roll` seconds (nil: the config file's, else 0; with a trigger, else 1).
    public var preRoll: Double? = nil
    /// `--trigger-level`, `--trigger-stop-level` (dBFS), `--trigger-hold` (seconds).
    public var triggerLevel: Double? = nil
    public var triggerStopLevel: Double? = nil
    public var triggerHold: Double? = nil
    /// `--description` (nil: the config file's `[input] description`, else none).
    public var bextDescription: String? = nil
    /// `--no-loudness`: no loudness meters (the take's, the files'), e.g. for many channels at high
    /// rates on a small machine (Docs/meters.md, the cost). The config file's `[meters] loudness =
    /// false` sets it too (`adopting`).
    public var noLoudness = false
    /// `--max-file-time` (seconds) and `--max-file-size` (bytes); nil: the config file's; 0: none.
    public var maxFileTime: Double? = nil
    public var maxFileSize: Int? = nil
    /// `--select` (nil: the config file's, unless `-c` is given).
    public var channelSelection: ChannelSelection? = nil
    /// `--[no-]split-channels` (nil: the config file's, else off).
    public var splitChannels: Bool? = nil
    /// `--meter` (nil: the config file's `[meters] ballistics`, else sample peak).
    public var meter: MeterBallistics? = nil

    public init(device: String? = nil, format: SampleFormat? = nil, rate: Int? = nil, channels: Int? = nil, fileType: FileType? = nil, outputDir: String? = nil, namePattern: String = FileNaming.defaultPattern, periodTime: Int? = nil, bufferTime: Int? = nil, rtPriority: Int = 70, noRealtime: Bool = false, exclusiveDevice: String? = nil, sharedDevice: String? = nil, bluetoothHQDevice: String? = nil, bluetoothHFPDevice: String? = nil, usesAppSession: Bool? = nil, autoConfigure: Bool? = nil, mixWithOthers: Bool? = nil, bluetoothHQ: Bool? = nil, configFile: String? = nil, muteOtherStreams: Bool? = nil,
                preRoll: Double? = nil, triggerLevel: Double? = nil, triggerStopLevel: Double? = nil, triggerHold: Double? = nil) {
        self.preRoll = preRoll
        self.triggerLevel = triggerLevel
        self.triggerStopLevel = triggerStopLevel
        self.triggerHold = triggerHold
        self.muteOtherStreams = muteOtherStreams
        self.device = device
        self.format = format
        self.rate = rate
        self.channels = channels
        self.fileType = fileType
        self.outputDir = outputDir
        self.namePattern = namePattern
        self.periodTime = periodTime
        self.bufferTime = bufferTime
        self.rtPriority = rtPriority
        self.noRealtime = noRealtime
        self.exclusiveDevice = exclusiveDevice
        self.sharedDevice = sharedDevice
        self.bluetoothHQDevice = bluetoothHQDevice
        self.bluetoothHFPDevice = bluetoothHFPDevice
        self.usesAppSession = usesAppSession
        self.autoConfigure = autoConfigure
        self.mixWithOthers = mixWithOthers
        self.bluetoothHQ = bluetoothHQ
        self.configFile = configFile
    }

    /// The four properties: flags over the config file over Apple's defaults.
    /// Whether mix off also mutes other programs' playback streams: the flag, else the config
    /// file's `[other-audio] mute-streams`, else off.
    public func mutesOtherStreams(config: CapdeckConfig?) -> Bool { muteOtherStreams ?? config?.muteOtherStreams ?? false }

    public func properties(config: CapdeckConfig?) -> AudioSessionProperties {
        var p = config?.properties ?? AudioSessionProperties()
        if let v = usesAppSession { p.usesApplicationAudioSession = v }
        if let v = autoConfigure { p.automaticallyConfiguresApplicationAudioSession = v }
        if let v = mixWithOthers { p.configuresApplicationAudioSessionToMixWithOthers = v }
        if let v = bluetoothHQ { p.configuresApplicationAudioSessionForBluetoothHighQualityRecording = v }
        return p
    }

    /// The input's routes: from -D (or the system default), then the config file, then flags.
    public func routes(config: CapdeckConfig?) -> InputRoutes {
        var r = device.map(InputRoutes.forNamedPCM) ?? InputRoutes.systemDefault()
        if let c = config?.routes {
            r.exclusive = c.exclusive ?? r.exclusive
            r.shared = c.shared ?? r.shared
            r.bluetoothHQ = c.bluetoothHQ ?? r.bluetoothHQ
            r.bluetoothHFP = c.bluetoothHFP ?? r.bluetoothHFP
        }
        r.exclusive = exclusiveDevice ?? r.exclusive
        r.shared = sharedDevice ?? r.shared
        r.bluetoothHQ = bluetoothHQDevice ?? r.bluetoothHQ
        r.bluetoothHFP = bluetoothHFPDevice ?? r.bluetoothHFP
        return r
    }

    /// Whether the user named any device (then the built-in fallback never applies).
    public func namedADevice(config: CapdeckConfig?) -> Bool {
        device != nil || exclusiveDevice != nil || sharedDevice != nil || bluetoothHQDevice != nil || bluetoothHFPDevice != nil
            || config?.routes.isEmpty == false
    }

    /// The recording format: flags, else the config file's [input] (the user's; the console never
    /// writes it), else 48 kHz stereo S16_LE.
    public func streamFormat(config: CapdeckConfig?) -> StreamFormat {
        StreamFormat(sampleFormat: format ?? config?.inputFormat ?? .s16LE,
                     sampleRate: rate ?? config?.inputRate ?? 48_000,
                     channels: selection(config: config)?.count ?? channels ?? config?.inputChannels ?? 2)
    }

    /// The device channels recorded: --select, else (unless -c says how many) the config file's.
    public func selection(config: CapdeckConfig?) -> ChannelSelection? {
        channelSelection ?? (channels == nil ? config?.inputSelection : nil)
    }

    /// One mono file per channel: the flag, else the config file's, else off.
    public func splitsChannels(config: CapdeckConfig?) -> Bool { splitChannels ?? config?.splitChannels ?? false }

    /// Checks the file type can hold the format (one line, exit 64): the encoding, and the
    /// channels per file (FLAC: 8), before any file or device is opened.
    public func validate(_ type: FileType, _ format: StreamFormat, config: CapdeckConfig?) throws {
        do throws(RecordingError) {
            try type.validate(format.sampleFormat)
            try type.validate(channels: format.channels, splitChannels: splitsChannels(config: config))
        } catch {
            throw Failure("-t/--file-type: \(error)", code: .usage)
        }
    }

    /// The pre-roll: --pre-roll, else the config file's, else 1 s for a triggered take (its
    /// first syllable) and none for one started by hand.
    public func preRollSeconds(config: CapdeckConfig?) -> Double {
        preRoll ?? config?.preRoll ?? (triggerLevel != nil ? 1 : 0)
    }

    /// The level trigger asked for (`--trigger-level`), or, with `orDefault`, the console's
    /// default (-30 dBFS) for its arm key.
    public func levelTrigger(orDefault: Bool = false) -> LevelTrigger? {
        guard let start = triggerLevel ?? (orDefault ? -30 : nil) else { return nil }
        return LevelTrigger(startLevel: start, stopLevel: triggerStopLevel, holdSeconds: triggerHold ?? LevelTrigger.defaultHoldSeconds)
    }

    /// The bext chunk of a recording whose first sample is at `startedAt` (now, by default):
    /// --description, else the config file's; the input device in the coding history.
    public func broadcast(config: CapdeckConfig?, startedAt: timespec = BroadcastInfo.now) -> BroadcastInfo {
        var b = BroadcastInfo(startedAt: startedAt, description: bextDescription ?? config?.bextDescription ?? "",
                              source: device ?? config?.inputDevice ?? "default")
        b.measuresLoudness = !noLoudness
        return b
    }

    /// The least audio a part may hold, in seconds: a shorter limit is a mistake (`--max-file-size
    /// 10` is 10 bytes, two frames: thousands of files a second), refused before anything opens.
    public static let shortestPart = 0.1

    /// Splits `output`'s recordings of `format` at the parts' limits: the flags, else the config
    /// file's. Throws `Failure` (64 for a flag, 78 for the config file's) for a limit under
    /// `shortestPart` of audio.
    public func applySplitLimits(to output: CaptureAudioFileOutput, format: StreamFormat, config: CapdeckConfig?) throws {
        let time = maxFileTime ?? config?.maxFileTime, size = maxFileSize ?? config?.maxFileSize
        let least = Int((Self.shortestPart * Double(format.sampleRate)).rounded(.up))
        let shortest = "a part holds at least \(Self.shortestPart) s of audio"
        func secs(_ t: Double) -> String { t == t.rounded() && t < 1e15 ? "\(Int(t)) s" : "\(t) s" }
        func refuse(_ what: String, fromFlag: Bool, _ problem: String) -> Failure {
            let name = fromFlag ? "--\(what)" : "\(config?.path ?? "the config file"): [input] \(what)"
            return Failure("\(name) \(problem)", code: fromFlag ? .usage : .config)
        }
        if let t = time, t > 0, let frames = SplitLimits.frames(t, rate: format.sampleRate), frames < least {
            throw refuse("max-file-time", fromFlag: maxFileTime != nil,
                         "\(secs(t)) is \(frames) frame\(frames == 1 ? "" : "s") at \(format.sampleRate) Hz; \(shortest)")
        }
        // The size counts each file's bytes as the file stores them (24-bit samples in 3 bytes;
        // with --split-channels, one channel a file), as the split itself does.
        let channels = output.splitsChannels ? 1 : format.channels
        let perFrame = max(1, FileSampleFormat(sampleFormat: format.sampleFormat).bytesPerFrame(channels: channels))
        if let b = size, b > 0, b / perFrame < least {
            let frames = b / perFrame
            let of = output.splitsChannels ? "\(format.sampleFormat.rawValue) \(format.sampleRate) Hz, one channel a file" : "\(format)"
            throw refuse("max-file-size", fromFlag: maxFileSize != nil,
                         "\(b) is \(b) byte\(b == 1 ? "" : "s"), \(frames) frame\(frames == 1 ? "" : "s") of \(of); \(shortest) "
                         + "(\(least * perFrame) bytes here)" + (b < 1024 ? "; for mebibytes write \(b)M" : ""))
        }
        output.splitFrames = time.flatMap { SplitLimits.frames($0, rate: format.sampleRate) }
        output.splitFileSize = size
    }

    /// What the meters read: --meter, else the config file's, else sample peak.
    public func meterBallistics(config: CapdeckConfig?) -> MeterBallistics { meter ?? config?.meterBallistics ?? .peak }

    /// These settings with what the config file sets that is read as a flag everywhere after
    /// (`[meters] loudness = false`: `--no-loudness`; there is no flag to turn it back on).
    public func adopting(_ config: CapdeckConfig?) -> CaptureSettings {
        var s = self
        if config?.loudness == false { s.noLoudness = true }
        return s
    }

    /// The recordings directory: -o, else the config file's [input] output-dir.
    public func outputDirectory(config: CapdeckConfig?) -> String? { outputDir ?? config?.outputDir }
}
