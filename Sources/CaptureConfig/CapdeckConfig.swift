// The config file: session properties, app audio session and route overrides, in TOML.
//
//   [session]      uses-app-session, auto-configure, mix-with-others, bluetooth-hq  (booleans)
//   [app-session]  category (string), options (array of strings), preferred-sample-rate (integer)
//   [routes]       exclusive, shared, bluetooth-hq, bluetooth-hfp                     (PCM names)
//   [input]        device, format, rate, channels, output-dir, description, pre-roll (seconds)
//                  (yours; earlier capdecks' consoles wrote them here, and such a file is still
//                  read as configuration), max-file-time, max-file-size (a number of seconds or
//                  bytes, or "10m", "2G")
//   [meters]       ballistics ("peak", "ppm1", "ppm2" or "vu"), loudness (boolean: false is
//                  --no-loudness)
//
// capdeck never writes this file: the console's own memory is `ConsoleState` (console.toml).
//
// Every error names the file, the line and the key.
import CaptureCore

public struct RouteOverrides: Equatable, Sendable {
    public var exclusive: String?
    public var shared: String?
    public var bluetoothHQ: String?
    public var bluetoothHFP: String?
    public var isEmpty: Bool { exclusive == nil && shared == nil && bluetoothHQ == nil && bluetoothHFP == nil }
    public init() {}
}

public struct CapdeckConfig: Equatable, Sendable {
    public var path: String
    /// Properties set in the file (others keep Apple's defaults).
    public var properties: AudioSessionProperties
    public var appSession: AudioSessionState
    public var routes: RouteOverrides
    /// `[input]`: defaults for the input and the recording (flags override each).
    public var inputDevice: String?
    public var inputFormat: SampleFormat?
    public var inputRate: Int?
    public var inputChannels: Int?
    public var outputDir: String?
    /// `[input] pre-roll`: seconds of audio before a take's start that it begins with (0-60).
    public var preRoll: Double?
    /// `[input] description`: the WAV/RF64 bext Description (at most 256 bytes).
    public var bextDescription: String?
    /// `[input] max-file-time` (seconds) and `max-file-size` (bytes): split recordings into parts.
    public var maxFileTime: Double?
    public var maxFileSize: Int?
    /// `[input] select`: the device channels recorded, in order (`"1,2,5-8"`); not with `channels`.
    public var inputSelection: ChannelSelection?
    /// `[input] split-channels`: one mono file per channel.
    public var splitChannels: Bool?
    /// `[other-audio] mute-streams`: while mix off interrupts other audio, also mute other
    /// programs' playback streams on the sound server (nil: not set).
    public var muteOtherStreams: Bool?
    /// `[meters] ballistics`: what the meters read (`--meter` overrides it; nil: not set).
    public var meterBallistics: MeterBallistics?
    /// `[meters] loudness`: false turns the EBU R128 meters off, as `--no-loudness` does (for a
    /// recorder on a tight CPU budget; nil: not set, on).
    public var loudness: Bool?

    public init(path: String) {
        self.path = path
        properties = AudioSessionProperties()
        appSession = AudioSessionState()
        routes = RouteOverrides()
    }
}

/// A config file problem: `file:line: [table] key: what is wrong`.
public struct ConfigError: Error, Equatable, Sendable, CustomStringConvertible {
    public var path: String
    public var line: Int?
    public var key: String?
    public var message: String
    public var description: String {
        var s = path
        if let line { s += ":\(line)" }
        s += ": "
        if let key { s += "\(key): " }
        return ConfigError.printable(s + message)
    }

    /// One line, with no terminal control characters: a value quoted from the file may hold
    /// newlines or escape sequences (the config fuzz target found the first).
    static func printable(_ s: String) -> String {
        var out = ""
        for u in s.unicodeScalars {
            switch u {
            case "\n": out += "\\n"
            case "\r": out += "\\r"
            case "\t": out += "\\t"
            case _ where u.value < 0x20 || (u.value >= 0x7F && u.value < 0xA0):
                out += "\\u{" + String(u.value, radix: 16) + "}"
            default: out.unicodeScalars.append(u)
            }
        }
        return out
    }
}

public enum ConfigLoader {
    /// `$XDG_CONFIG_HOME/capdeck/config.toml` (or `~/.config/capdeck/config.toml`).
    public static func defaultPath(environment: [String: String]) -> String {
        if let x = environment["XDG_CONFIG_HOME"], x.hasPrefix("/") { return x + "/capdeck/config.toml" }
        return (environment["HOME"] ?? ".") + "/.config/capdeck/config.toml"
    }

    /// Parses config text. `path` is used in messages.
    public static func parse(_ text: String, path: String) throws(ConfigError) -> CapdeckConfig {
        if text.utf8.contains(0) { throw ConfigError(path: path, line: nil, key: nil, message: "not a text file") }
        if let f = TOMLGuard.check(text) {
            throw ConfigError(path: path, line: f.line, key: nil, message: "TOML syntax: \(f.message)")
        }
        let locate = KeyLocator(text)
        let root: TOMLNodeTable
        do throws(TOMLSyntaxError) {
            root = try TOMLDocument.parse(text)
        } catch {
            throw ConfigError(path: path, line: error.line, key: nil, message: "TOML syntax: \(oneLine(error.message))")
        }
        var config = CapdeckConfig(path: path)
        for tableName in root.keys {
            guard let table = root[tableName]?.table else {
                throw ConfigError(path: path, line: locate.line(table: nil, key: tableName), key: tableName,
                                  message: "expected a table such as [session], [app-session] or [routes]")
            }
            func fail(_ key: String, _ message: String) -> ConfigError {
                ConfigError(path: path, line: locate.line(table: tableName, key: key), key: "[\(tableName)] \(key)", message: message)
            }
            switch tableName {
            case "session":
                for key in table.keys {
                    guard let k = AudioSessionProperties.Key(name: key), key == k.rawValue || key == "mix-with-others" else {
                        throw fail(key, "unknown key; use uses-app-session, auto-configure, mix-with-others (or mix) or bluetooth-hq")
                    }
                    guard let v = table[key]?.bool, table[key]?.type == .bool else {
                        throw fail(key, "expected true or false, got \(describe(table[key]))")
                    }
                    config.properties[k] = v
                }
            case "other-audio":
                for key in table.keys {
                    guard key == "mute-streams" else { throw fail(key, "unknown key; use mute-streams") }
                    guard let v = table[key]?.bool, table[key]?.type == .bool else {
                        throw fail(key, "expected true or false, got \(describe(table[key]))")
                    }
                    config.muteOtherStreams = v
                }
            case "meters":
                for key in table.keys {
                    switch key {
                    case "ballistics":
                        guard table[key]?.type == .string, let m = table[key]?.string.flatMap(MeterBallistics.init(name:)) else {
                            throw fail(key, "expected \"peak\", \"ppm1\", \"ppm2\" or \"vu\", got \(describe(table[key]))")
                        }
                        config.meterBallistics = m
                    case "loudness":
                        guard let v = table[key]?.bool, table[key]?.type == .bool else {
                            throw fail(key, "expected true or false, got \(describe(table[key]))")
                        }
                        config.loudness = v
                    default: throw fail(key, "unknown key; use ballistics or loudness")
                    }
                }
            case "app-session":
                for key in table.keys {
                    let value = table[key]
                    switch key {
                    case "category":
                        guard value?.type == .string, let s = value?.string, let c = AudioSessionCategory(rawValue: s) else {
                            throw fail(key, "expected one of \(AudioSessionCategory.allCases.map { "\"\($0.rawValue)\"" }.joined(separator: ", ")), got \(describe(value))")
                        }
                        config.appSession.category = c
                    case "options":
                        guard value?.type == .array, let arr = value?.array else {
                            throw fail(key, "expected an array of option names, got \(describe(value))")
                        }
                        var opts = AudioSessionOptions()
                        for item in arr {
                            guard item.type == .string, let name = item.string,
                                  let o = AudioSessionOptions.all.first(where: { $0.1 == name }) else {
                                throw fail(key, "unknown option \(item.string.map { "\"\($0)\"" } ?? describe(item)); use mixWithOthers, allowBluetoothHFP or bluetoothHighQualityRecording")
                            }
                            opts.insert(o.0)
                        }
                        config.appSession.options = opts
                    case "preferred-sample-rate":
                        guard value?.type == .int, let r = value?.int, StreamFormat.rateRange.contains(r) else {
                            throw fail(key, "expected a whole number of Hz from 8000 to 384000, got \(describe(value))")
                        }
                        config.appSession.preferredSampleRate = r
                    default:
                        throw fail(key, "unknown key; use category, options or preferred-sample-rate")
                    }
                }
            case "routes":
                for key in table.keys {
                    let value = table[key]
                    guard value?.type == .string, let s = value?.string, !s.isEmpty, s.utf8.count <= 512 else {
                        throw fail(key, "expected a PCM name in quotes, got \(describe(value))")
                    }
                    switch key {
                    case "exclusive": config.routes.exclusive = s
                    case "shared": config.routes.shared = s
                    case "bluetooth-hq": config.routes.bluetoothHQ = s
                    case "bluetooth-hfp": config.routes.bluetoothHFP = s
                    default: throw fail(key, "unknown key; use exclusive, shared, bluetooth-hq or bluetooth-hfp")
                    }
                }
            case "input":
                for key in table.keys {
                    let value = table[key]
                    switch key {
                    case "device", "output-dir":
                        guard value?.type == .string, let s = value?.string, !s.isEmpty, s.utf8.count <= 4096 else {
                            throw fail(key, "expected \(key == "device" ? "a PCM name" : "a directory") in quotes, got \(describe(value))")
                        }
                        if key == "device" { config.inputDevice = s } else { config.outputDir = s }
                    case "description":
                        guard value?.type == .string, let s = value?.string else {
                            throw fail(key, "expected the recordings' description in quotes, got \(describe(value))")
                        }
                        if let problem = BroadcastDescription.problem(s) { throw fail(key, problem) }
                        config.bextDescription = s
                    case "format":
                        guard value?.type == .string, let f = value?.string.flatMap(SampleFormat.init(name:)) else {
                            throw fail(key, "expected one of \"S16_LE\", \"S24_LE\", \"S24_3LE\", \"S32_LE\", \"FLOAT_LE\", got \(describe(value))")
                        }
                        config.inputFormat = f
                    case "rate":
                        guard value?.type == .int, let r = value?.int, StreamFormat.rateRange.contains(r) else {
                            throw fail(key, "expected a whole number of Hz from 8000 to 384000, got \(describe(value))")
                        }
                        config.inputRate = r
                    case "channels":
                        guard value?.type == .int, let c = value?.int, StreamFormat.channelRange.contains(c) else {
                            throw fail(key, "expected a whole number from 1 to 64, got \(describe(value))")
                        }
                        config.inputChannels = c
                    case "pre-roll":
                        let seconds = value?.type == .int ? value?.int.map(Double.init) : value?.type == .double ? value?.double : nil
                        guard let seconds, seconds >= 0, seconds <= 60 else {
                            throw fail(key, "expected seconds from 0 to 60, got \(describe(value))")
                        }
                        config.preRoll = seconds
                    case "max-file-time", "max-file-size":
                        let time = key == "max-file-time"
                        let text = value?.type == .int ? value?.int.map(String.init) : value?.type == .string ? value?.string : nil
                        guard let text else {
                            throw fail(key, "expected \(time ? "seconds or a duration like \"10m\"" : "bytes or a size like \"2G\""), got \(describe(value))")
                        }
                        do throws(SplitLimitError) {
                            if time { config.maxFileTime = try SplitLimits.duration(text).get() } else { config.maxFileSize = try SplitLimits.size(text).get() }
                        } catch {
                            throw fail(key, error.description)
                        }
                    case "select":
                        guard value?.type == .string, let text = value?.string else {
                            throw fail(key, "expected channels in quotes, like \"1,2,5-8\", got \(describe(value))")
                        }
                        do throws(ChannelSelectionError) { config.inputSelection = try ChannelSelection(parsing: text) } catch {
                            throw fail(key, error.description)
                        }
                        if table.keys.contains("channels") { throw fail(key, "select sets the channels recorded; remove channels") }
                    case "split-channels":
                        guard value?.type == .bool, let b = value?.bool else { throw fail(key, "expected true or false, got \(describe(value))") }
                        config.splitChannels = b
                    default:
                        throw fail(key, "unknown key; use device, format, rate, channels, select, split-channels, output-dir, description, pre-roll, max-file-time or max-file-size")
                    }
                }
            default:
                throw ConfigError(path: path, line: locate.line(table: nil, key: tableName), key: "[\(tableName)]",
                                  message: "unknown table; use [session], [app-session], [routes], [input], [other-audio] or [meters]")
            }
        }
        return config
    }

    /// Folds a multi-line message (toml++ quotes the offending text, newlines and all) into one line.
    static func oneLine(_ s: String) -> String {
        String(s.unicodeScalars.map { $0 == "\n" || $0 == "\r" ? " " : Character($0) })
    }

    static func describe(_ v: TOMLNode?) -> String {
        guard let v else { return "nothing" }
        switch v.type {
        case .string: return "the string \"\(v.string ?? "")\""
        case .int: return "the number \(v.int ?? 0)"
        case .double: return "the number \(v.double ?? 0)"
        case .bool: return "\(v.bool ?? false)"
        case .array: return "an array"
        case .table: return "a table"
        default: return "a date or time"
        }
    }
}

/// Finds the line of `key` in `[table]` (toml++ reports positions only for syntax errors).
/// Understands `[table]` sections, `[table.key]` sub-tables, dotted keys (`table.key = …`) and
/// inline tables (`table = { key = … }`), CRLF line ends and a UTF-8 byte-order mark.
struct KeyLocator {
    let lines: [String]
    init(_ text: String) {
        // Split on scalars: in Swift "\r\n" is one Character, so a Character split would miss it.
        var ls = text.unicodeScalars.split(separator: "\n", omittingEmptySubsequences: false).map { String(String.UnicodeScalarView($0)) }
        if let first = ls.first, first.hasPrefix("\u{FEFF}") { ls[0] = String(first.dropFirst()) }
        lines = ls.map { $0.hasSuffix("\r") ? String($0.dropLast()) : $0 }
    }

    static func unquote(_ s: String) -> String {
        s.count >= 2 && (s.hasPrefix("\"") || s.hasPrefix("'")) ? String(s.dropFirst().dropLast()) : s
    }

    /// The dotted name on the left of `=` (quotes removed, spaces around dots ignored).
    static func lhs(_ line: Substring) -> String? {
        guard let eq = line.firstIndex(of: "=") else { return nil }
        return line[..<eq].split(separator: ".").map { unquote(Substring($0).trimmingSpaces) }.joined(separator: ".")
    }

    func line(table: String?, key: String) -> Int? {
        var current: String?
        let full = table.map { "\($0).\(key)" } ?? key
        for (i, raw) in lines.enumerated() {
            let l = Substring(raw).drop { $0 == " " || $0 == "\t" }
            if l.hasPrefix("#") { continue }
            if l.hasPrefix("[") {
                let name = l.drop { $0 == "[" }.prefix { $0 != "]" }.split(separator: ".")
                    .map { KeyLocator.unquote(Substring($0).trimmingSpaces) }.joined(separator: ".")
                current = name
                if name == full || (table == nil && name.hasPrefix(key + ".")) { return i + 1 }
                continue
            }
            guard let name = KeyLocator.lhs(l) else { continue }
            let qualified = current.map { "\($0).\(name)" } ?? name
            if qualified == full || (table == nil && qualified.hasPrefix(key + ".")) { return i + 1 }
            // An inline table: `table = { key = … }`.
            if let table, qualified == table, l.contains("{"), l.contains(key) { return i + 1 }
        }
        return nil
    }
}

extension Substring {
    var trimmingSpaces: String {
        String(drop { $0 == " " || $0 == "\t" }.reversed().drop { $0 == " " || $0 == "\t" || $0 == "\r" }.reversed())
    }
}
