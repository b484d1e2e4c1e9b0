// The parser's own names (subcommands, long options), for "did you mean" and for pointing an
// error at the right --help: read from the parser's help dump (what --experimental-dump-help
// prints), so there is no hand-kept list to fall out of step.
import ArgumentParser

/// One command as the parser knows it.
struct CommandNames: Sendable {
    var name: String
    /// Long option names without `--`, and whether each takes a value.
    var longOptions: [String: Bool]
    /// Short option letters, and whether each takes a value.
    var shortOptions: [Character: Bool]
    var subcommands: [CommandNames]

    /// The whole tree, from the root command's help dump.
    static let root: CommandNames = CommandNames(dump: Capdeck._dumpHelp()) ?? CommandNames(name: "capdeck", longOptions: [:], shortOptions: [:], subcommands: [])

    init(name: String, longOptions: [String: Bool], shortOptions: [Character: Bool], subcommands: [CommandNames]) {
        self.name = name
        self.longOptions = longOptions
        self.shortOptions = shortOptions
        self.subcommands = subcommands
    }

    init?(dump: String) {
        var reader = JSONReader(Array(dump.utf8))
        guard case .object(let top)? = reader.value(), case .object(let command)? = top["command"] else { return nil }
        self.init(command)
    }

    private init(_ c: [String: JSONReader.Value]) {
        name = c["commandName"]?.string ?? ""
        longOptions = [:]
        shortOptions = [:]
        for case .object(let a) in c["arguments"]?.array ?? [] {
            let takesValue = a["kind"]?.string == "option"
            for case .object(let n) in a["names"]?.array ?? [] {
                guard let s = n["name"]?.string else { continue }
                switch n["kind"]?.string {
                case "long", "longWithSingleDash": longOptions[s] = takesValue
                case "short": if let ch = s.first { shortOptions[ch] = takesValue }
                default: break
                }
            }
        }
        subcommands = (c["subcommands"]?.array ?? []).compactMap { if case .object(let o) = $0 { CommandNames(o) } else { nil } }
    }

    /// The subcommand `arguments` run (the first word that is not an option, when it names one;
    /// else the default, `console`), and the index of that word (nil: the default).
    func command(for arguments: [String]) -> (CommandNames, Int?) {
        if let i = arguments.firstIndex(where: { !$0.hasPrefix("-") }), let sub = subcommands.first(where: { $0.name == arguments[i] }) {
            return (sub, i)
        }
        return (subcommands.first { $0.name == "console" } ?? self, nil)
    }

    /// What --help to read after an error in `arguments`: `capdeck record --help`.
    func helpHint(for arguments: [String]) -> String {
        let (c, _) = command(for: arguments)
        return c.name == name ? "capdeck --help" : "capdeck \(c.name) --help"
    }

    /// A mistyped subcommand or long option in `arguments`, in one line with the closest name the
    /// parser has: "unknown option '--duraton'; did you mean '--duration'?". nil: none found
    /// (the parser then judges the arguments as usual).
    func misspelling(in arguments: [String]) -> (message: String, help: String)? {
        let (c, index) = command(for: arguments)
        // A first word that names no subcommand but is close to one (the console takes no words).
        if index == nil, let first = arguments.first, !first.hasPrefix("-"),
           let near = Self.closest(to: first, among: subcommands.map(\.name)) {
            return ("unknown command '\(first)'; did you mean '\(near)'?", "capdeck --help")
        }
        var i = (index ?? -1) + 1
        while i < arguments.count {
            let a = arguments[i]
            i += 1
            if a == "--" { break }
            if a.hasPrefix("--") {
                let name = String(a.dropFirst(2).prefix { $0 != "=" })
                if let takesValue = c.longOptions[name] ?? longOptions[name] {
                    if takesValue && !a.contains("=") { i += 1 }  // its value, whatever it looks like
                    continue
                }
                let near = Self.closest(to: name, among: Array(c.longOptions.keys)).map { "; did you mean '--\($0)'?" } ?? ""
                return ("unknown option '--\(name)'\(near)", helpHint(for: arguments))
            }
            if a.hasPrefix("-"), a.count > 1, let letter = a.dropFirst().first, c.shortOptions[letter] == true, a.count == 2 {
                i += 1  // `-d 10`: the value follows
            }
        }
        return nil
    }

    /// The name closest to `word` by edit distance (a swap of two neighbours counts once), if
    /// it is close: at most 2 edits, and fewer than a third of the longer word.
    static func closest(to word: String, among names: [String]) -> String? {
        let w = Array(word.lowercased())
        let scored = names.map { ($0, distance(w, Array($0.lowercased()))) }
        guard let best = scored.min(by: { $0.1 < $1.1 || ($0.1 == $1.1 && $0.0 < $1.0) }) else { return nil }
        let limit = min(2, max(1, max(w.count, best.0.count) / 3))
        return best.1 <= limit ? best.0 : nil
    }

    /// Optimal string alignment distance: insertions, deletions, substitutions, adjacent swaps.
    static func distance(_ a: [Character], _ b: [Character]) -> Int {
        if a.isEmpty { return b.count }
        if b.isEmpty { return a.count }
        var d = [[Int]](repeating: [Int](repeating: 0, count: b.count + 1), count: a.count + 1)
        for i in 0...a.count { d[i][0] = i }
        for j in 0...b.count { d[0][j] = j }
        for i in 1...a.count {
            for j in 1...b.count {
                let cost = a[i - 1] == b[j - 1] ? 0 : 1
                d[i][j] = min(d[i - 1][j] + 1, d[i][j - 1] + 1, d[i - 1][j - 1] + cost)
                if i > 1, j > 1, a[i - 1] == b[j - 2], a[i - 2] == b[j - 1] { d[i][j] = min(d[i][j], d[i - 2][j - 2] + 1) }
            }
        }
        return d[a.count][b.count]
    }
}

/// Just enough JSON for the parser's help dump (objects, arrays, strings, numbers, literals).
struct JSONReader {
    indirect enum Value {
        case object([String: Value]), array([Value]), string(String), other
        var string: String? { if case .string(let s) = self { s } else { nil } }
        var array: [Value]? { if case .array(let a) = self { a } else { nil } }
    }
    private let bytes: [UInt8]
    private var i = 0
    init(_ bytes: [UInt8]) { self.bytes = bytes }

    private mutating func skipSpace() { while i < bytes.count, [0x20, 0x0A, 0x0D, 0x09].contains(bytes[i]) { i += 1 } }

    mutating func value() -> Value? {
        skipSpace()
        guard i < bytes.count else { return nil }
        switch bytes[i] {
        case UInt8(ascii: "{"):
            i += 1
            var o: [String: Value] = [:]
            skipSpace()
            if i < bytes.count, bytes[i] == UInt8(ascii: "}") { i += 1; return .object(o) }
            while true {
                skipSpace()
                guard case .string(let k)? = value() else { return nil }
                skipSpace()
                guard i < bytes.count, bytes[i] == UInt8(ascii: ":") else { return nil }
                i += 1
                guard let v = value() else { return nil }
                o[k] = v
                skipSpace()
                guard i < bytes.count else { return nil }
                if bytes[i] == UInt8(ascii: ",") { i += 1; continue }
                if bytes[i] == UInt8(ascii: "}") { i += 1; return .object(o) }
                return nil
            }
        case UInt8(ascii: "["):
            i += 1
            var a: [Value] = []
            skipSpace()
            if i < bytes.count, bytes[i] == UInt8(ascii: "]") { i += 1; return .array(a) }
            while true {
                guard let v = value() else { return nil }
                a.append(v)
                skipSpace()
                guard i < bytes.count else { return nil }
                if bytes[i] == UInt8(ascii: ",") { i += 1; continue }
                if bytes[i] == UInt8(ascii: "]") { i += 1; return .array(a) }
                return nil
            }
        case UInt8(ascii: "\""):
            i += 1
            var out: [UInt8] = []
            while i < bytes.count, bytes[i] != UInt8(ascii: "\"") {
                if bytes[i] == UInt8(ascii: "\\"), i + 1 < bytes.count {
                    i += 1
                    switch bytes[i] {
                    case UInt8(ascii: "n"): out.append(0x0A)
                    case UInt8(ascii: "t"): out.append(0x09)
                    case UInt8(ascii: "u"):
                        // \uXXXX: the dump escapes only ASCII control characters; others kept as '?'.
                        let hex = bytes[min(bytes.count, i + 1)..<min(bytes.count, i + 5)]
                        let v = UInt32(String(decoding: hex, as: UTF8.self), radix: 16) ?? 0x3F
                        out.append(v < 0x80 ? UInt8(v) : 0x3F)
                        i += 4
                    default: out.append(bytes[i])
                    }
                } else {
                    out.append(bytes[i])
                }
                i += 1
            }
            i += 1
            return .string(String(decoding: out, as: UTF8.self))
        default:
            while i < bytes.count, ![UInt8(ascii: ","), UInt8(ascii: "}"), UInt8(ascii: "]")].contains(bytes[i]) { i += 1 }
            return .other
        }
    }
}
