// `capdeck record`: headless recording through a CaptureSession, scriptable from standard input.
import ArgumentParser
import Glibc
import CaptureApp
import CaptureFiles
import ConsoleUI

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
            line ('status' prints one JSON line on stdout; 'help' lists them on stderr):
            """ + " " + KeyMap.stdinHelp.dropFirst("commands: ".count) + """
            .
            Splitting: --max-file-time, --max-file-size, 'split' on stdin and SIGUSR1 start the next \
            part at once, sample-contiguous. A split take's parts are numbered before the extension \
            (take.wav: take-001.wav, take-002.wav, ...; the first part takes its number at the first \
            split, and a take never split keeps its name); a taken name gets -1, -2 after the number.
            """ + "\n\n" + Capdeck.exitCodes)

    @Argument(help: "Output file (must not exist), relative to the current directory; without an extension, -t gives it one. Default: a name from --name in --output-dir.",
              completion: Completion.recordings)
    var file: String?

    @OptionGroup var capture: CaptureOptions

    @Option(name: [.customShort("d"), .customLong("duration")], parsing: .unconditional,
            help: "Stop after this much captured audio: seconds (90), 90s, 10m, 2h, or 1:30, 1:02:03 (0 or absent: until stopped).",
            transform: Parse.seconds)
    var duration: Double?

    @Option(name: .customLong("reconnect-wait"), parsing: .unconditional,
            help: "If the device is lost (unplugged), wait this long (seconds, or 30s, 2m) for it to come back and go on recording into the same file; 0: stop at once. (default: 10)",
            transform: Parse.seconds)
    var reconnectWait: Double?

    @Flag(name: [.customShort("q"), .customLong("quiet")], help: "No status output (errors and warnings still print).")
    var quiet = false

    func validate() throws {
        guard let file else { return }
        if file.isEmpty { throw ValidationError("FILE is empty") }
        if file == "-" { throw ValidationError("writing to standard output is not supported; name a file") }
        var st = stat()
        if file.hasSuffix("/") || (stat(file, &st) == 0 && (st.st_mode & S_IFMT) == S_IFDIR) {
            throw ValidationError("FILE '\(file)' is a directory; name a file in it, or give it as -o/--output-dir for a name from --name")
        }
        guard let ext = OutputTarget.extensionOf(file) else {
            // With -t the type is known: the name gets its extension (`-t wav take`: take.wav).
            if capture.fileType != nil { return }
            // Also what a mistyped command looks like ('capdeck record devcies'): never record into it.
            let commands = CommandNames.root.subcommands.map(\.name)
            let near = file.contains("/") ? nil : CommandNames.closest(to: file, among: commands)
            throw ValidationError("FILE '\(file)' has no extension; add one (.wav, .w64, .caf, .flac, .aiff) or choose the type with -t"
                                  + (near.map { "; or did you mean 'capdeck \($0)'?" } ?? ""))
        }
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
        if let file, !file.hasPrefix("/"), capture.outputDir != nil, !quiet {
            Terminal.write("capdeck: note: \(file) is relative to the current directory; -o/--output-dir is where names from --name go\n")
        }
        let take = try HeadlessRecording(capture.settings, config: config, file: file, duration: duration,
                                         reconnectWait: reconnectWait ?? 10, quiet: quiet, events: events)
        try take.start()
        try take.finish(take.follow())
    }
}
