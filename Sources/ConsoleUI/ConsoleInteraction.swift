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
        /// The device picker; `pcms[i]` is what `picker.items[i]` names.
        case picker(ConsoleModel.Picker, pcms: [String])
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
        case .picker(var p, let pcms):
            switch KeyMap.modalCommand(for: key) {
            case .up: p.selected = max(0, p.selected - 1); mode = .picker(p, pcms: pcms)
            case .down: p.selected = min(p.items.count - 1, p.selected + 1); mode = .picker(p, pcms: pcms)
            case .accept: backToNormal(); return [.choose(pcm: pcms[p.selected])]
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

    /// The catalog's capture PCMs arrived (`listDevices`): opens the picker on them and the
    /// built-in signals, unless another mode came up meanwhile.
    public mutating func devicesListed(_ pcms: [String]) {
        guard mode == .normal else { return }
        let all = pcms + Self.builtInSignals
        let labels = all.map { $0.hasPrefix("builtin") ? "\($0)  (built-in test signal)" : $0 }
        mode = .picker(ConsoleModel.Picker(title: "Input device", items: labels, selected: 0), pcms: all)
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
        }
    }
}
