// Recording file names: strftime patterns, the default directory, and collision numbering.
import Glibc

public enum FileNaming {
    /// The default name pattern (strftime); the file type's extension is appended.
    public static let defaultPattern = "capdeck-%Y%m%d-%H%M%S"

    /// `$XDG_DATA_HOME/capdeck/recordings`, or `~/.local/share/capdeck/recordings`.
    public static func defaultDirectory(environment: [String: String]) -> String {
        if let xdg = environment["XDG_DATA_HOME"], xdg.hasPrefix("/") {
            return xdg + "/capdeck/recordings"
        }
        let home = environment["HOME"].flatMap { $0.isEmpty ? nil : $0 } ?? "."
        return home + "/.local/share/capdeck/recordings"
    }

    public enum PatternError: Error, Equatable, CustomStringConvertible {
        case empty, containsSlash, tooLong, expandsToNothing
        public var description: String {
            switch self {
            case .empty: "the name pattern is empty"
            case .containsSlash: "the name pattern must not contain '/' (use -o/--output-dir for the directory)"
            case .tooLong: "the name pattern expands to more than 200 bytes"
            case .expandsToNothing: "the name pattern expands to an empty name"
            }
        }
    }

    /// Expands an strftime `pattern` at `time` (local time) into a base name (no extension).
    public static func expand(pattern: String, time: time_t) throws(PatternError) -> String {
        if pattern.isEmpty { throw .empty }
        if pattern.contains("/") { throw .containsSlash }
        if pattern.utf8.count > 200 { throw .tooLong }
        var t = time
        var tmv = tm()
        localtime_r(&t, &tmv)
        var buf = [CChar](repeating: 0, count: 1024)
        let n = strftime(&buf, buf.count, pattern, &tmv)
        if n == 0 { throw .expandsToNothing }
        let name = String(decoding: buf[0..<n].map { UInt8(bitPattern: $0) }, as: UTF8.self)
        if name.contains("/") { throw .containsSlash }
        if name.utf8.count > 200 { throw .tooLong }
        if name == "." || name == ".." { throw .expandsToNothing }
        return name
    }

    /// The n-th candidate file name for a base name: `base.ext`, `base-1.ext`, `base-2.ext`, …
    public static func candidate(base: String, fileExtension: String, attempt: Int) -> String {
        attempt == 0 ? "\(base).\(fileExtension)" : "\(base)-\(attempt).\(fileExtension)"
    }

    /// The n-th candidate name for part `part` (1, 2, …) of a split recording first named
    /// `path`: the counter, three digits and more as needed, goes before the extension
    /// (`take.wav` → `take-001.wav`, `take-002.wav`, …, `take-1000.wav`: the order `ls -v`
    /// keeps); a taken name gets the collision number after it (`take-002-1.wav`).
    public static func partCandidate(of path: String, part: Int, attempt: Int) -> String {
        let slash = path.lastIndex(of: "/").map { path.index(after: $0) } ?? path.startIndex
        let name = path[slash...]
        let dot = name.lastIndex(of: ".").flatMap { $0 == name.startIndex ? nil : $0 }
        let base = String(path[..<(dot ?? path.endIndex)])
        let ext = dot.map { String(path[path.index(after: $0)...]) }
        let digits = String(part)
        let numbered = base + "-" + String(repeating: "0", count: Swift.max(0, 3 - digits.count)) + digits
        guard let ext else { return attempt == 0 ? numbered : "\(numbered)-\(attempt)" }
        return candidate(base: numbered, fileExtension: ext, attempt: attempt)
    }

    /// One channel's file of a take recorded one file per channel (`--split-channels`): `-chNN`
    /// before the extension, counted from 1 and zero-padded to two digits, so `ls -v` (and a
    /// plain sort) lists them in channel order: `take.wav` → `take-ch01.wav` … `take-ch64.wav`;
    /// a part, `take-002.wav` → `take-002-ch01.wav`.
    public static func channelFile(of path: String, channel: Int, channels: Int) -> String {
        let slash = path.lastIndex(of: "/").map { path.index(after: $0) } ?? path.startIndex
        let name = path[slash...]
        let dot = name.lastIndex(of: ".").flatMap { $0 == name.startIndex ? nil : $0 }
        let base = String(path[..<(dot ?? path.endIndex)])
        let ext = dot.map { String(path[$0...]) } ?? ""
        let digits = String(channel), width = Swift.max(2, String(channels).count)
        return base + "-ch" + String(repeating: "0", count: Swift.max(0, width - digits.count)) + digits + ext
    }

    /// Every channel's file of a take recorded one file per channel, in channel order.
    public static func channelFiles(of path: String, channels: Int) -> [String] {
        (1...Swift.max(1, channels)).map { channelFile(of: path, channel: $0, channels: channels) }
    }
}
