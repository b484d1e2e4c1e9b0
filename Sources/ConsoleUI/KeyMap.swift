// Keys to commands: one table (the help overlay, the footer and dispatch are all made from it).
import CaptureCore

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
        KeyBinding(keys: ["s"], command: .split, help: "split: go on recording in the next file, sample-contiguous"),
        KeyBinding(keys: ["d"], command: .chooseDevice, help: "choose the input device"),
        KeyBinding(keys: ["c"], command: .cycleCategory, help: "cycle the app session category (when not configured automatically)"),
        KeyBinding(keys: ["x"], command: .resetMeters, help: "reset peak holds and clip lights"),
        KeyBinding(keys: ["Ctrl-L"], command: .redraw, help: "repaint the whole screen"),
        KeyBinding(keys: ["?", "F1"], command: .help, help: "this help"),
        KeyBinding(keys: ["q", "Esc"], command: .quit, help: "quit (asks first while recording)"),
    ]

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
