// Keys to commands: one table, the same vocabulary as `capdeck record`'s control input.
import CaptureCore

public enum ConsoleCommand: Equatable, Sendable {
    case toggle(AudioSessionProperties.Key)
    case recordStartStop
    case pauseResume
    case chooseDevice
    case cycleCategory
    case resetMeters
    case redraw
    case help
    case quit
    // Inside a picker or prompt.
    case up, down, accept, cancel, yes, no
}

public struct KeyBinding: Sendable {
    public var keys: [String]
    public var command: ConsoleCommand
    public var help: String
}

public enum KeyMap {
    /// Key codes the console understands besides printable characters (ncurses values).
    public static let escape: Int32 = 27
    public static let f1: Int32 = 0o411
    public static let up: Int32 = 0o403
    public static let down: Int32 = 0o402
    public static let enter: Int32 = 10
    public static let ctrlL: Int32 = 12

    /// The table the help overlay and the footer are made from, in display order.
    public static let bindings: [KeyBinding] = [
        KeyBinding(keys: ["1"], command: .toggle(.usesAppSession), help: "toggle usesApplicationAudioSession"),
        KeyBinding(keys: ["2"], command: .toggle(.autoConfigure), help: "toggle automaticallyConfiguresApplicationAudioSession"),
        KeyBinding(keys: ["3"], command: .toggle(.mixWithOthers), help: "toggle configuresApplicationAudioSessionToMixWithOthers"),
        KeyBinding(keys: ["4"], command: .toggle(.bluetoothHQ), help: "toggle configuresApplicationAudioSessionForBluetoothHighQualityRecording"),
        KeyBinding(keys: ["r"], command: .recordStartStop, help: "start / stop recording"),
        KeyBinding(keys: ["p"], command: .pauseResume, help: "pause / resume recording"),
        KeyBinding(keys: ["d"], command: .chooseDevice, help: "choose the input device"),
        KeyBinding(keys: ["c"], command: .cycleCategory, help: "cycle the app session category (when not configured automatically)"),
        KeyBinding(keys: ["x"], command: .resetMeters, help: "reset peak holds and clip lights"),
        KeyBinding(keys: ["Ctrl-L"], command: .redraw, help: "repaint the whole screen"),
        KeyBinding(keys: ["?", "F1"], command: .help, help: "this help"),
        KeyBinding(keys: ["q", "Esc"], command: .quit, help: "quit (asks first while recording)"),
    ]

    /// The command for a key in normal mode.
    public static func command(for key: Int32) -> ConsoleCommand? {
        switch key {
        case Int32(UInt8(ascii: "1")): .toggle(.usesAppSession)
        case Int32(UInt8(ascii: "2")): .toggle(.autoConfigure)
        case Int32(UInt8(ascii: "3")): .toggle(.mixWithOthers)
        case Int32(UInt8(ascii: "4")): .toggle(.bluetoothHQ)
        case Int32(UInt8(ascii: "r")), Int32(UInt8(ascii: "R")): .recordStartStop
        case Int32(UInt8(ascii: "p")), Int32(UInt8(ascii: "P")): .pauseResume
        case Int32(UInt8(ascii: "d")), Int32(UInt8(ascii: "D")): .chooseDevice
        case Int32(UInt8(ascii: "c")), Int32(UInt8(ascii: "C")): .cycleCategory
        case Int32(UInt8(ascii: "x")), Int32(UInt8(ascii: "X")): .resetMeters
        case ctrlL: .redraw
        case Int32(UInt8(ascii: "?")), f1: .help
        case Int32(UInt8(ascii: "q")), Int32(UInt8(ascii: "Q")), escape: .quit
        default: nil
        }
    }

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
