// What the console remembers between runs (its state, not configuration): the properties you
// toggled, the app session category you chose, the device you picked. Kept apart from the
// config file you write, in `$XDG_STATE_HOME/capdeck/console.toml`; `capdeck record` never reads it.
//
//   [session]      only the properties toggled in the console (booleans)
//   [app-session]  category, if cycled with c
//   [input]        device, if picked with d (and it opened)
import CaptureCore

public struct ConsoleState: Equatable, Sendable {
    /// Only the properties toggled in the console; the others come from config and defaults.
    public var properties: [AudioSessionProperties.Key: Bool] = [:]
    public var category: AudioSessionCategory?
    public var device: String?

    public init() {}

    public var isEmpty: Bool { properties.isEmpty && category == nil && device == nil }

    /// `$XDG_STATE_HOME/capdeck/console.toml` (an absolute XDG_STATE_HOME only, as the XDG spec
    /// says), else `~/.local/state/capdeck/console.toml`.
    public static func defaultPath(environment: [String: String]) -> String {
        if let x = environment["XDG_STATE_HOME"], x.hasPrefix("/") { return x + "/capdeck/console.toml" }
        return (environment["HOME"] ?? ".") + "/.local/state/capdeck/console.toml"
    }

    static func keyName(_ k: AudioSessionProperties.Key) -> String { k == .mixWithOthers ? "mix-with-others" : k.rawValue }

    /// Parses the state file. It is checked like a config file (same tables and value types, errors
    /// with file, line and key), and may hold only what the console writes.
    public static func parse(_ text: String, path: String) throws(ConfigError) -> ConsoleState {
        let checked = try ConfigLoader.parse(text, path: path)
        let locate = KeyLocator(text)
        var state = ConsoleState()
        guard let root = try? TOMLDocument.parse(text) else { return state }  // parse() accepted it
        for tableName in root.keys {
            let table = root[tableName]?.table
            let allowed: [String] = switch tableName {
            case "session": AudioSessionProperties.Key.allCases.map(keyName) + ["mix"]
            case "app-session": ["category"]
            case "input": ["device"]
            default: []
            }
            for key in table?.keys ?? [] where !allowed.contains(key) {
                throw ConfigError(path: path, line: locate.line(table: tableName, key: key), key: "[\(tableName)] \(key)",
                                  message: "not something the console remembers (its state holds [session] toggles, [app-session] category and [input] device; settings go in config.toml)")
            }
            if allowed.isEmpty {
                throw ConfigError(path: path, line: locate.line(table: nil, key: tableName), key: "[\(tableName)]",
                                  message: "not something the console remembers (its state holds [session], [app-session] category and [input] device)")
            }
        }
        if let session = root["session"]?.table {
            for key in session.keys {
                if let k = AudioSessionProperties.Key(name: key) { state.properties[k] = checked.properties[k] }
            }
        }
        if root["app-session"]?.table?.contains(key: "category") == true { state.category = checked.appSession.category }
        state.device = checked.inputDevice
        return state
    }

    /// The file's text.
    public var text: String {
        var t = """
            # What the CaptureDeck console remembers between runs: written by the console, read only by it
            # (capdeck record never reads it). Settings of your own go in config.toml; flags are never saved.
            # capdeck --reset-settings starts over.

            """
        if !properties.isEmpty {
            t += "\n[session]\n"
            for k in AudioSessionProperties.Key.allCases { if let v = properties[k] { t += "\(ConsoleState.keyName(k)) = \(v)\n" } }
        }
        if let category { t += "\n[app-session]\ncategory = \"\(category.rawValue)\"\n" }
        if let device { t += "\n[input]\ndevice = \(ConsoleState.quote(device))\n" }
        return t
    }

    static func quote(_ s: String) -> String {
        var out = "\""
        for u in s.unicodeScalars {
            switch u {
            case "\\": out += "\\\\"
            case "\"": out += "\\\""
            case _ where u.value < 0x20 || u.value == 0x7F: out += "\\u" + String(repeating: "0", count: 4 - String(u.value, radix: 16).count) + String(u.value, radix: 16)
            default: out.unicodeScalars.append(u)
            }
        }
        return out + "\""
    }
}
