// `capdeck record`: headless recording through a CaptureSession, scriptable from standard input.
import ArgumentParser
import CaptureApp
import CaptureFiles

struct RecordCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "record",
        abstract: "Record from a capture PCM to a file until the duration passes or a signal arrives.",
        discussion: """
            Like arecord, -d counts captured frames, not wall-clock time. SIGINT, SIGTERM and \
            SIGHUP finish the file and exit cleanly. Existing files are never overwritten.
            Without -D, the system's default input is used (the sound server's default source, else \
            the card); if there is none, record says why and exits 69: it never records a stand-in. \
            The built-in test signal is recorded only when named (-D builtin).
            When standard input is not a terminal, capdeck reads control commands from it, one per \
            line: 'set mix on', 'toggle uses-app-session', 'split', 'status' (one JSON line on stdout), \
            'stop'. Properties: uses-app-session, auto-configure, mix, bluetooth-hq.
            Splitting: --max-file-time, --max-file-size, 'split' on stdin and SIGUSR1 start the next \
            part at once, sample-contiguous. A split take's parts are numbered before the extension \
            (take.wav: take-001.wav, take-002.wav, ...; the first part takes its number at the first \
            split, and a take never split keeps its name); a taken name gets -1, -2 after the number.
            """)

    @Argument(help: "Output file (must not exist). Default: a name from --name in --output-dir.",
              completion: Completion.recordings)
    var file: String?

    @OptionGroup var capture: CaptureOptions

    @Option(name: [.customShort("d"), .customLong("duration")], parsing: .unconditional,
            help: "Stop after this many seconds of captured audio (0 or absent: until stopped).",
            transform: Parse.seconds)
    var duration: Double?

    @Option(name: .customLong("reconnect-wait"), parsing: .unconditional,
            help: "If the device is lost (unplugged), wait this many seconds for it to come back and go on recording into the same file; 0: stop at once. (default: 10)",
            transform: Parse.seconds)
    var reconnectWait: Double?

    @Flag(name: [.customShort("q"), .customLong("quiet")], help: "No status output (errors and warnings still print).")
    var quiet = false

    func validate() throws {
        guard let file else { return }
        if file.isEmpty { throw ValidationError("FILE is empty") }
        if file == "-" { throw ValidationError("writing to standard output is not supported; name a file") }
        let last = file.split(separator: "/").last.map(String.init) ?? file
        guard let dot = last.lastIndex(of: "."), dot != last.startIndex else {
            // Also what a mistyped command looks like ('capdeck devcies'): never record into it.
            throw ValidationError("'\(file)' is neither a command (record, devices, recover) nor a file name with an extension (.wav, .w64, .caf, .flac, .aiff)")
        }
        let ext = String(last[last.index(after: dot)...])
        guard let inferred = FileType(name: ext) else {
            if capture.fileType == nil {
                throw ValidationError("FILE: '.\(ext)' is not a type capdeck writes; use .wav, .w64, .caf, .flac or .aiff, or choose one with -t")
            }
            return
        }
        if let t = capture.fileType, t != inferred {
            throw ValidationError("-t \(t.rawValue) does not match FILE's extension '.\(ext)'")
        }
    }

    func run() throws {
        // Signals first: from here on SIGINT/SIGTERM/SIGHUP never kill a half-made recording.
        let events = SessionEvents(quiet: quiet)
        let signals = SignalHandlers { events.requestStop() }
        defer { signals.cancel() }
        let config = try ConfigFile.load(capture.configFile)
        let take = try HeadlessRecording(capture.settings, config: config, file: file, duration: duration,
                                         reconnectWait: reconnectWait ?? 10, quiet: quiet, events: events)
        try take.start()
        try take.finish(take.follow())
    }
}
