// What a key does, given what is on screen: a pure value. The console's controller only carries
// out the effects (session work on its command queue, screen work on the UI thread).
import CaptureCore

/// What the controller does for a key.
public enum ConsoleEffect: Equatable, Sendable {
    /// Toggle one of the four session properties (and remember it).
    case toggle(AudioSessionProperties.Key)
    /// Start a recording, or stop and save the one in progress.
    case toggleRecording
    case pauseResume
    /// Arm the level trigger, or disarm it (a take it started ends).
    case toggleTrigger
    /// End the recording's part and begin the next at once (`--max-file-time` does it by itself).
    case split
    /// Add a marker at the frame being captured.
    case mark
    /// List the capture devices (off the UI thread: the catalog is ALSA), then call
    /// `devicesListed(_:)`, which opens the picker.
    case listDevices
    /// Switch to the device picked in the picker.
    case choose(pcm: String)
    case cycleCategory
    case resetMeters
    /// Show the loudness strip on the next scale, or hide it.
    case cycleLoudnessStrip
    case resetLoudness
    /// Switch the meters to the next ballistics (peak → PPM I → PPM II → VU).
    case cycleBallistics
    /// Quit, once the keys typed before it have taken effect; while recording, ask first
    /// (`recordingBlocksQuit()`).
    case requestQuit
    /// Quit: confirmed (saves a recording in progress).
    case quit
    /// Repair these unfinished recordings.
    case repair([String])
    /// The repair offer was declined for this many files: say so.
    case leaveUnrepaired(Int)
    /// Repaint the whole screen (something else wrote over it).
    case repaint
}

/// The console's modes and what each key does in each. Pure: no session, no terminal, no clock.
///
/// Threading: a value; the controller keeps it under its UI lock (the UI thread handles keys, the
/// command queue delivers device lists and repair offers).
public struct ConsoleInteraction: Equatable, Sendable {
    public enum Mode: Equatable, Sendable {
        case normal
        case help
        /// Quit while recording: "save the file and quit? (y/n)".
        case confirmQuit
        /// Unfinished recordings found in `directory` at start-up.
        case offerRepair([String], directory: String)
        /// The device picker; `pcms[i]` is what `picker.items[i]` names (`typeAName`: the item that
        /// asks for a name).
        case picker(ConsoleModel.Picker, pcms: [String])
        /// A PCM name being typed (from the picker's last item); Enter chooses it.
        case typeName(String)
    }

    public private(set) var mode: Mode = .normal
    /// The meter whose numbers are on the focus line (wraps around the channels when drawn).
    public private(set) var meterFocus = 0
    /// The help overlay's scroll (↑/↓ where its keys don't all fit; the layout wraps it round).
    public private(set) var helpScroll = 0
    /// A repair offer that came while another mode was up; it is shown on the way back to normal.
    private var pendingRepair: Mode?

    public static let quitPrompt = "Recording in progress: stop it, save the file and quit? (y/n)"
    /// Offered in the picker after the catalog's PCMs.
    public static let builtInSignals = ["builtin", "builtin:sweep", "builtin:pink"]
    /// The picker's last item: type any PCM name (`hw:2,0`, a name from ~/.asoundrc).
    public static let typeAName = "type a PCM name…"
    /// The prompt while a name is typed.
    public static let typeNamePrompt = "PCM name (Enter opens it, Esc cancels): "

    public init() {}

    /// What `key` does now; changes the mode as the key says.
    public mutating func handle(key: Int32) -> [ConsoleEffect] {
        // Ctrl-L repaints in any mode: a picker or prompt is repainted too.
        if KeyMap.command(for: key) == .redraw { return [.repaint] }
        switch mode {
        case .offerRepair(let files, _):
            switch KeyMap.modalCommand(for: key) {
            case .yes: backToNormal(); return [.repair(files)]
            case .no, .cancel: backToNormal(); return [.leaveUnrepaired(files.count)]
            default: return []
            }
        case .confirmQuit:
            switch KeyMap.modalCommand(for: key) {
            case .yes: backToNormal(); return [.quit]
            case .no, .cancel: backToNormal(); return []
            default: return []
            }
        case .typeName(let text):
            switch key {
            case KeyMap.escape: backToNormal()
            case KeyMap.enter, 13, 0o527:
                let name = text.trimmingSpaces
                backToNormal()
                if !name.isEmpty { return [.choose(pcm: name)] }
            case 127, 8, 0o407: mode = .typeName(String(text.dropLast()))
            default:
                // Printable ASCII (PCM names are), up to the length -D takes.
                if key >= 0x20, key < 0x7F, text.utf8.count < 512 { mode = .typeName(text + String(UnicodeScalar(UInt8(key)))) }
            }
            return []
        case .picker(var p, let pcms):
            switch KeyMap.modalCommand(for: key) {
            case .up: p.selected = max(0, p.selected - 1); mode = .picker(p, pcms: pcms)
            case .down: p.selected = min(p.items.count - 1, p.selected + 1); mode = .picker(p, pcms: pcms)
            case .accept:
                if pcms[p.selected] == Self.typeAName { mode = .typeName(""); return [] }
                backToNormal(); return [.choose(pcm: pcms[p.selected])]
            case .cancel: backToNormal()
            default: break
            }
            return []
        case .help:
            switch KeyMap.modalCommand(for: key) {
            case .up: helpScroll -= 1
            case .down: helpScroll += 1
            case .cancel: backToNormal()
            default: if KeyMap.command(for: key) == .help { backToNormal() }
            }
            return []
        case .normal:
            guard let command = KeyMap.command(for: key) else { return [] }
            switch command {
            case .toggle(let k): return [.toggle(k)]
            case .recordStartStop: return [.toggleRecording]
            case .pauseResume: return [.pauseResume]
            case .armTrigger: return [.toggleTrigger]
            case .split: return [.split]
            case .mark: return [.mark]
            case .chooseDevice: return [.listDevices]
            case .cycleCategory: return [.cycleCategory]
            case .resetMeters: return [.resetMeters]
            case .cycleLoudness: return [.cycleLoudnessStrip]
            case .resetLoudness: return [.resetLoudness]
            case .cycleBallistics: return [.cycleBallistics]
            case .help: mode = .help; helpScroll = 0; return []
            case .quit: return [.requestQuit]
            case .redraw: return [.repaint]
            case .previousChannel: meterFocus -= 1; return []
            case .nextChannel: meterFocus += 1; return []
            case .up, .down, .accept, .cancel, .yes, .no: return []  // not in the normal table
            }
        }
    }

    /// The devices that can capture arrived (`listDevices`): opens the picker on them, the
    /// built-in signals and a typed name, on the `current` device (marked; listed first when the
    /// catalog doesn't name it), unless another mode came up meanwhile.
    public mutating func devicesListed(_ pcms: [String], current: String? = nil) {
        guard mode == .normal else { return }
        var all = pcms + Self.builtInSignals.filter { !pcms.contains($0) }
        if let current, !current.isEmpty, !all.contains(current) { all.insert(current, at: 0) }
        all.append(Self.typeAName)
        let labels = all.map { pcm in
            pcm == Self.typeAName ? pcm
                : pcm + (pcm.hasPrefix("builtin") ? "  (built-in test signal)" : "") + (pcm == current ? "  (current)" : "")
        }
        let selected = current.flatMap { all.firstIndex(of: $0) } ?? 0
        mode = .picker(ConsoleModel.Picker(title: "Input device", items: labels, selected: selected), pcms: all)
    }

    /// `requestQuit` found a recording in progress: ask before quitting.
    public mutating func recordingBlocksQuit() {
        if mode == .normal { mode = .confirmQuit }
    }

    /// Offers to repair `files` (unfinished recordings in `directory`); if another mode is up,
    /// once it closes.
    public mutating func offerRepair(_ files: [String], in directory: String) {
        guard !files.isEmpty else { return }
        let offer = Mode.offerRepair(files, directory: directory)
        if mode == .normal { mode = offer } else { pendingRepair = offer }
    }

    private mutating func backToNormal() {
        mode = pendingRepair ?? .normal
        pendingRepair = nil
    }

    /// The overlays and prompt for this mode, for the model the render loop draws.
    public func apply(to m: inout ConsoleModel) {
        m.showHelp = mode == .help
        m.meterFocus = meterFocus
        m.helpScroll = helpScroll
        m.picker = nil
        m.prompt = nil
        switch mode {
        case .normal, .help: break
        case .confirmQuit: m.prompt = Self.quitPrompt
        case .offerRepair(let files, let dir):
            let n = files.count
            m.prompt = "\(n) unfinished recording\(n == 1 ? "" : "s") in \(dir) (cut short by a crash). Repair now? (y/n)"
        case .picker(let p, _): m.picker = p
        case .typeName(let text): m.prompt = Self.typeNamePrompt + text + "_"
        }
    }
}

extension String {
    /// Without the spaces around it.
    fileprivate var trimmingSpaces: String { String(drop { $0 == " " }.reversed().drop { $0 == " " }.reversed()) }
}
