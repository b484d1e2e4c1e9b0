// Keys, stdin commands and signals: one table (the key map, the help overlay, `help` on stdin and
// the table in Docs/console.md are all made from it).
import CaptureCore

/// One row of the control table: what a console key, a line on `record`'s standard input and a
/// signal do, where they do the same thing. Rows with keys make the console's key map, help
/// overlay and footer; rows with stdin forms make `help` on stdin; all rows make the table in
/// Docs/console.md (checked by a test).
public struct KeyBinding: Sendable {
    /// Console keys (names for `KeyMap.codes(named:)`); empty: stdin or signals only.
    public var keys: [String]
    /// What the keys do in the console (nil when there is no key).
    public var command: ConsoleCommand?
    /// What the console's help overlay (and `help` on stdin) says.
    public var help: String
    /// `record`'s standard-input forms, e.g. `mark [LABEL]` (the first word is the verb).
    public var stdin: [String]
    /// Signals that do it (`SIGINT`…).
    public var signals: [String]
    /// The docs table's longer text (nil: `help`).
    public var doc: String?
    /// Apple's name for what it controls (the four `AVCaptureSession` properties), shown after
    /// the Linux words in the help overlay.
    public var apple: String?

    public init(keys: [String], command: ConsoleCommand?, help: String, stdin: [String] = [], signals: [String] = [],
                doc: String? = nil, apple: String? = nil) {
        self.keys = keys
        self.command = command
        self.help = help
        self.stdin = stdin
        self.signals = signals
        self.doc = doc
        self.apple = apple
    }
}

public enum KeyMap {
    /// Key codes the console understands besides printable characters (ncurses values).
    public static let escape: Int32 = 27
    public static let f1: Int32 = 0o411
    public static let up: Int32 = 0o403
    public static let down: Int32 = 0o402
    public static let enter: Int32 = 10
    public static let ctrlL: Int32 = 12

    /// The control table, in display order: console keys, stdin commands and signals. To add a
    /// control, add a row here (and its `ConsoleCommand` and/or a `case` for its verb in
    /// `ControlInput.handle`); the help overlay, `help` on stdin and the docs table follow.
    public static let controls: [KeyBinding] = [
        KeyBinding(keys: ["1"], command: .toggle(.usesAppSession), help: PropertyWords.help(.usesAppSession),
                   stdin: ["toggle uses-app-session", "set uses-app-session on|off"],
                   doc: "toggle use app session: on, 2-4 set up the app session; off, a private record-only session on the exclusive device, and 2-4 have no effect (`usesApplicationAudioSession`)",
                   apple: AudioSessionProperties.Key.usesAppSession.appleName),
        KeyBinding(keys: ["2"], command: .toggle(.autoConfigure), help: PropertyWords.help(.autoConfigure),
                   stdin: ["toggle auto-configure", "set auto-configure on|off"],
                   doc: "toggle auto-configure: on, capdeck sets the app session up for recording (category, mix and Bluetooth options); off, the app session is yours (`c` cycles its category) and its options decide 3 and 4 (`automaticallyConfiguresApplicationAudioSession`)",
                   apple: AudioSessionProperties.Key.autoConfigure.appleName),
        KeyBinding(keys: ["3"], command: .toggle(.mixWithOthers), help: PropertyWords.help(.mixWithOthers),
                   stdin: ["toggle mix", "set mix on|off"],
                   doc: "toggle mix with others: on, the shared device (`dsnoop:`, or the sound server), other programs record too; off, the exclusive device (`hw:`), other programs' audio paused. While capturing, this re-negotiates the ALSA device (exclusive ↔ shared route) without interrupting the recording (`configuresApplicationAudioSessionToMixWithOthers`)",
                   apple: AudioSessionProperties.Key.mixWithOthers.appleName),
        KeyBinding(keys: ["4"], command: .toggle(.bluetoothHQ), help: PropertyWords.help(.bluetoothHQ),
                   stdin: ["toggle bluetooth-hq", "set bluetooth-hq on|off"],
                   doc: "toggle Bluetooth HQ: on, a Bluetooth input's high-quality route, else its hands-free (HFP) profile; off, the ordinary route (`configuresApplicationAudioSessionForBluetoothHighQualityRecording`)",
                   apple: AudioSessionProperties.Key.bluetoothHQ.appleName),
        KeyBinding(keys: ["r"], command: .recordStartStop, help: "start / stop recording",
                   doc: "start / stop recording. The file name comes from `--name` in the `-o` directory; existing files are never overwritten"),
        KeyBinding(keys: ["p"], command: .pauseResume, help: "pause / resume recording (a marker at each)", stdin: ["pause", "resume"],
                   doc: "pause / resume the recording (the file stays open; nothing is written while paused). Each adds a marker, `pause` and `resume`, at the frame where the file pauses, also when both come before the next audio arrives (a source that delivers in bursts)"),
        KeyBinding(keys: ["m"], command: .mark, help: "add a marker at the current frame", stdin: ["mark [LABEL]"],
                   doc: "add a marker at the frame being captured (label `mark`, or LABEL); the Recording panel lists the last few"),
        KeyBinding(keys: ["s"], command: .split, help: "split: go on recording in the next file, sample-contiguous",
                   stdin: ["split"], signals: ["SIGUSR1"],
                   doc: "split the take: the next frame starts the next part (`take-002.wav`…), sample-contiguous; also `--max-file-time`/`--max-file-size`"),
        KeyBinding(keys: ["v"], command: .armTrigger, help: "arm / disarm voice-activated recording (--trigger-level, default -30 dBFS)",
                   doc: "arm / disarm voice-activated recording: a take starts when the level reaches `--trigger-level` (default -30 dBFS) and ends `--trigger-hold` seconds after it falls below `--trigger-stop-level`; each take in its own file, beginning with the pre-roll (`--pre-roll`, 1 s by default with a trigger). `record --trigger-level` arms it from the start"),
        KeyBinding(keys: ["d"], command: .chooseDevice, help: "choose the input device",
                   doc: "choose the input device from the catalog (`capdeck devices`) or a built-in signal. The new device is opened beside the current one, as a route switch is: while recording, the take goes on in the same file with a marker at the seam. A device that doesn't open (`jack` with no JACK server, a PCM name that fails) leaves capture where it was, untouched, and one event line says so (`jack could not be opened; still capturing hw:1, the recording goes on (…)`); it is not remembered. While the console waits for an unplugged device, a new one is test-opened first, so one that fails leaves the wait as it was"),
        KeyBinding(keys: ["c"], command: .cycleCategory, help: "cycle the app session category (when not configured automatically)",
                   stdin: ["category NAME"],
                   doc: "cycle the app session's category, when the capture session does not configure it; on stdin, set it (`ambient`, `soloAmbient`, `playback`, `record`, `playAndRecord`)"),
        KeyBinding(keys: ["x"], command: .resetMeters, help: "reset peak holds and clip lights"),
        KeyBinding(keys: ["l"], command: .cycleLoudness, help: "loudness strip: EBU +9 scale, +18 scale, hidden",
                   doc: "show the loudness strip (EBU R128: momentary and short-term bars, integrated, range, max true peak; Docs/meters.md) on the EBU +9 scale, then the +18 scale, then hide it"),
        KeyBinding(keys: ["i"], command: .resetLoudness, help: "reset the loudness integration (I, LRA, maxima)", stdin: ["reset-loudness"],
                   doc: "start the loudness integration afresh: integrated, range, max momentary, short-term and true peak (the files' own `bext` figures are not affected)"),
        KeyBinding(keys: ["["], command: .previousChannel, help: "many channels: show the previous channel's numbers",
                   doc: "with more channels than rows, the meters are vertical bars and one line shows a channel's numbers (peak, RMS, hold, clip): `[` and `]` choose the channel"),
        KeyBinding(keys: ["]"], command: .nextChannel, help: "many channels: show the next channel's numbers"),
        KeyBinding(keys: ["b"], command: .cycleBallistics, help: "meter ballistics: peak, PPM I, PPM II, VU",
                   stdin: ["meter peak|ppm1|ppm2|vu"],
                   doc: "cycle the meters' ballistics: sample peak → PPM type I (IEC 60268-10, DIN) → PPM type II (BBC/EBU) → VU (IEC 60268-17, 0 VU = -18 dBFS) → peak; the scale changes with it ([meters.md](meters.md#ballistics)). On stdin, set one; `--meter` and the config file's `[meters] ballistics` choose the first"),
        KeyBinding(keys: [], command: nil, help: "print one JSON line of state on standard output", stdin: ["status"],
                   doc: "print one JSON line of state on standard output: the same keys in every state (`frames`, `seconds`, `xruns`, `granted`, `realtime`, `route`… are null, not missing, while interrupted or stalled)"),
        KeyBinding(keys: ["Ctrl-L"], command: .redraw, help: "repaint the whole screen",
                   doc: "repaint the whole screen (after something else wrote over it), in any mode"),
        KeyBinding(keys: ["?", "F1"], command: .help, help: "this help", stdin: ["help"],
                   doc: "help overlay with every key; on stdin, the commands on standard error"),
        KeyBinding(keys: ["q", "Esc"], command: .quit, help: "quit (asks first while recording)", stdin: ["stop", "quit"],
                   signals: ["SIGINT", "SIGTERM", "SIGHUP"],
                   doc: "quit. While recording the console asks first; `y` saves the file and quits. `stop` on stdin and the signals save the file and exit"),
    ]

    /// The rows with console keys: the key map, the help overlay.
    public static let bindings: [KeyBinding] = controls.filter { !$0.keys.isEmpty }

    /// The verbs `record`'s standard input takes (first words of the table's stdin forms).
    public static let stdinVerbs: Set<String> = Set(controls.flatMap(\.stdin).compactMap { $0.split(separator: " ").first.map(String.init) })

    /// `help` on stdin: the table's stdin forms, one line.
    public static var stdinHelp: String {
        "commands: " + controls.flatMap(\.stdin).joined(separator: ", ")
            + " (properties: uses-app-session, auto-configure, mix, bluetooth-hq)"
    }

    /// The console's keys in one paragraph (`capdeck console --help`), from the table: the four
    /// property toggles in one phrase, then each other key with its help-overlay words.
    public static var keysHelp: String {
        let others = bindings.filter { if case .toggle = $0.command { false } else { true } }
            .map { "\($0.keys.joined(separator: " or ")) \($0.help)" }
        return "Keys: " + (["1-4 toggle the four audio-session properties"] + others).joined(separator: "; ") + "."
    }

    /// The table in Docs/console.md ("## Controls"), made from `controls`.
    public static var markdownTable: String {
        // A `|` inside a cell is written `\|`.
        func code(_ xs: [String]) -> String { xs.map { "`\($0.replacing("|", with: "\\|"))`" }.joined(separator: ", ") }
        var lines = ["| key | stdin (`record`) | signal | does |", "|---|---|---|---|"]
        for c in controls {
            lines.append("| \(code(c.keys)) | \(code(c.stdin)) | \(code(c.signals)) | \(c.doc ?? c.help) |")
        }
        return lines.joined(separator: "\n") + "\n"
    }

    /// Key codes for a key's name in the table: `Esc`, `F1`, `Ctrl-L`, or one character (a
    /// letter also in upper case, so Caps Lock doesn't change what a key does).
    public static func codes(named name: String) -> [Int32] {
        switch name {
        case "Esc": return [escape]
        case "F1": return [f1]
        case "Ctrl-L": return [ctrlL]
        default:
            guard name.count == 1, let a = name.first?.asciiValue else { preconditionFailure("key name \(name)") }
            let c = Character(UnicodeScalar(a))
            let upper = c.isLetter ? c.uppercased().first?.asciiValue : nil
            return [Int32(a)] + (upper.map { [Int32($0)] } ?? [])
        }
    }

    private static let normal: [Int32: ConsoleCommand] = {
        var table: [Int32: ConsoleCommand] = [:]
        for b in bindings { for name in b.keys { for code in codes(named: name) { table[code] = b.command } } }
        return table
    }()

    /// The command for a key in normal mode (from `bindings`).
    public static func command(for key: Int32) -> ConsoleCommand? { normal[key] }

    /// The command for a key inside a picker, a prompt or the help overlay.
    public static func modalCommand(for key: Int32) -> ConsoleCommand? {
        switch key {
        case up, Int32(UInt8(ascii: "k")): .up
        case down, Int32(UInt8(ascii: "j")): .down
        case enter, 13, 0o527: .accept
        case escape, Int32(UInt8(ascii: "q")): .cancel
        case Int32(UInt8(ascii: "y")), Int32(UInt8(ascii: "Y")): .yes
        case Int32(UInt8(ascii: "n")), Int32(UInt8(ascii: "N")): .no
        case Int32(UInt8(ascii: "?")), f1: .cancel
        default: nil
        }
    }
}
