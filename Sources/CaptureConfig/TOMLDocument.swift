// A parsed TOML document, from toml++ (Sources/CTOMLParse, compiled into capdeck).
//
// Why not TOMLKit: it brings Foundation (and with it ICU and CoreFoundation), which cost every
// `record` about 3 MiB of resident memory and part of its start-up, though most runs have no
// config file; toml++ is what TOMLKit wraps, called here through one C function. The accessors
// mirror TOMLKit's (`type`, `table`, `string`, `int`…), so the checks in `ConfigLoader` read as
// before.
import CTOMLParse
import Glibc

/// A TOML value (a date, time or date-time is kept only as such).
public indirect enum TOMLNode: Equatable, Sendable {
    case table(TOMLNodeTable)
    case array([TOMLNode])
    case string(String)
    case int(Int)
    case double(Double)
    case bool(Bool)
    case dateOrTime

    public enum Kind: Sendable { case table, array, string, int, double, bool, dateOrTime }
    public var type: Kind {
        switch self {
        case .table: .table
        case .array: .array
        case .string: .string
        case .int: .int
        case .double: .double
        case .bool: .bool
        case .dateOrTime: .dateOrTime
        }
    }
    public var table: TOMLNodeTable? { if case .table(let t) = self { t } else { nil } }
    public var array: [TOMLNode]? { if case .array(let a) = self { a } else { nil } }
    public var string: String? { if case .string(let s) = self { s } else { nil } }
    public var int: Int? { if case .int(let i) = self { i } else { nil } }
    public var double: Double? { if case .double(let d) = self { d } else { nil } }
    public var bool: Bool? { if case .bool(let b) = self { b } else { nil } }
}

/// A table's keys in toml++'s order (sorted), and their values.
public struct TOMLNodeTable: Equatable, Sendable {
    public private(set) var keys: [String] = []
    private var values: [String: TOMLNode] = [:]
    public subscript(key: String) -> TOMLNode? { values[key] }
    public func contains(key: String) -> Bool { values[key] != nil }
    mutating func append(_ key: String, _ value: TOMLNode) {
        if values.updateValue(value, forKey: key) == nil { keys.append(key) }
    }
}

/// A TOML syntax error (`line` nil when the parser gave none).
public struct TOMLSyntaxError: Error, Sendable {
    public var line: Int?
    public var message: String
}

public enum TOMLDocument {
    /// Parses `text` into its root table.
    public static func parse(_ text: String) throws(TOMLSyntaxError) -> TOMLNodeTable {
        var out: UnsafeMutableRawPointer?
        var count = 0
        var copy = text
        let status = copy.withUTF8 { capdeck_toml_parse($0.baseAddress, $0.count, &out, &count) }
        guard let out, status >= 0 else { throw TOMLSyntaxError(line: nil, message: "out of memory") }
        defer { free(out) }
        var reader = Reader(bytes: UnsafeRawBufferPointer(start: out, count: count))
        if status != 0 {
            let line = reader.u32()
            throw TOMLSyntaxError(line: line == 0 ? nil : line, message: reader.string())
        }
        guard reader.u8() == UInt8(ascii: "t"), let root = reader.node(table: true)?.table, reader.ok else {
            throw TOMLSyntaxError(line: nil, message: "the TOML parser returned a document capdeck can't read")
        }
        return root
    }

    /// Reads the encoding of Sources/CTOMLParse/include/capdeck_toml.h; `ok` turns false on a
    /// short or malformed buffer.
    private struct Reader {
        let bytes: UnsafeRawBufferPointer
        var at = 0
        var ok = true
        init(bytes: UnsafeRawBufferPointer) { self.bytes = bytes }

        mutating func take(_ n: Int) -> UnsafeRawBufferPointer? {
            guard ok, n >= 0, n <= bytes.count - at else { ok = false; return nil }
            defer { at += n }
            return UnsafeRawBufferPointer(rebasing: bytes[at..<at + n])
        }
        mutating func u8() -> UInt8 { take(1)?[0] ?? 0 }
        mutating func u32() -> Int { take(4).map { Int(UInt32(littleEndian: $0.loadUnaligned(as: UInt32.self))) } ?? 0 }
        mutating func u64() -> UInt64 { take(8).map { UInt64(littleEndian: $0.loadUnaligned(as: UInt64.self)) } ?? 0 }
        mutating func string() -> String { take(u32()).map { String(decoding: $0, as: UTF8.self) } ?? "" }

        /// The value after its tag (`table`: the tag `t` was just read).
        mutating func node(table: Bool = false) -> TOMLNode? {
            let tag = table ? UInt8(ascii: "t") : u8()
            switch tag {
            case UInt8(ascii: "t"):
                var t = TOMLNodeTable()
                for _ in 0..<u32() {
                    let key = string()
                    guard ok, let v = node() else { return nil }
                    t.append(key, v)
                }
                return .table(t)
            case UInt8(ascii: "a"):
                var items: [TOMLNode] = []
                for _ in 0..<u32() {
                    guard ok, let v = node() else { return nil }
                    items.append(v)
                }
                return .array(items)
            case UInt8(ascii: "s"): return .string(string())
            case UInt8(ascii: "i"): return .int(Int(truncatingIfNeeded: Int64(bitPattern: u64())))
            case UInt8(ascii: "d"): return .double(Double(bitPattern: u64()))
            case UInt8(ascii: "b"): return .bool(u8() != 0)
            case UInt8(ascii: "D"): return .dateOrTime
            default: ok = false; return nil
            }
        }
    }
}
