// Settings the console persists in the config file, and --reset-settings.
import CaptureConfig
import CaptureCore
import Glibc

struct Settings {
    var properties: AudioSessionProperties
    var device: String?
    var appSession: AudioSessionState
    var format: StreamFormat
    var outputDir: String?

    /// The settings as (table, key, TOML value); nil: the key should be absent.
    var entries: [(table: String, key: String, value: String?)] {
        var e: [(String, String, String?)] = []
        for key in AudioSessionProperties.Key.allCases {
            e.append(("session", key == .mixWithOthers ? "mix-with-others" : key.rawValue, "\(properties[key])"))
        }
        e.append(("app-session", "category", "\"\(appSession.category.rawValue)\""))
        e.append(("app-session", "options", "[" + appSession.options.names.map { "\"\($0)\"" }.joined(separator: ", ") + "]"))
        e.append(("app-session", "preferred-sample-rate", appSession.preferredSampleRate.map { "\($0)" }))
        e.append(("input", "device", device.map(Settings.quote)))
        e.append(("input", "format", "\"\(format.sampleFormat.rawValue)\""))
        e.append(("input", "rate", "\(format.sampleRate)"))
        e.append(("input", "channels", "\(format.channels)"))
        e.append(("input", "output-dir", outputDir.map(Settings.quote)))
        return e
    }

    /// The user's file with only the settings' lines changed (comments, blank lines, order and
    /// `[routes]` kept). Line-based: a table is a `[name]` line, a setting a `key = …` line
    /// within it (a value may continue over lines while its brackets are open).
    func merged(into old: String) -> String {
        var lines = old.split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
        if lines.last == "" { lines.removeLast() }
        func trimmed(_ l: String) -> Substring { Substring(l).drop { $0 == " " || $0 == "\t" || $0 == "\u{FEFF}" } }
        func header(_ l: String) -> String? {
            let t = trimmed(l)
            guard t.hasPrefix("["), !t.hasPrefix("[["), let close = t.firstIndex(of: "]") else { return nil }
            let name = t[t.index(after: t.startIndex)..<close].drop { $0 == " " || $0 == "\t" }
            return String(name.reversed().drop { $0 == " " || $0 == "\t" }.reversed())
        }
        func isKey(_ l: String, _ key: String) -> Bool {
            let t = trimmed(l)
            guard t.hasPrefix(key) else { return false }
            return t.dropFirst(key.count).drop { $0 == " " || $0 == "\t" }.hasPrefix("=")
        }
        /// Lines a value starting on line i spans (open brackets outside strings carry it on).
        func span(_ i: Int) -> Int {
            var depth = 0, n = 0
            repeat {
                var quote: Character?
                for c in lines[i + n] {
                    if let q = quote { if c == q { quote = nil }; continue }
                    if c == "#" { break }
                    if c == "\"" || c == "'" { quote = c } else if c == "[" { depth += 1 } else if c == "]" { depth -= 1 }
                }
                n += 1
            } while depth > 0 && i + n < lines.count
            return n
        }
        var appended: [String: [String]] = [:]
        var order: [String] = []
        for e in entries {
            let line = e.value.map { "\(e.key) = \($0)" }
            guard let h = lines.firstIndex(where: { header($0) == e.table }) else {
                if let line {
                    if appended[e.table] == nil { order.append(e.table) }
                    appended[e.table, default: []].append(line)
                }
                continue
            }
            let end = lines[(h + 1)...].firstIndex { header($0) != nil || trimmed($0).hasPrefix("[[") } ?? lines.count
            if let k = lines[(h + 1)..<end].firstIndex(where: { isKey($0, e.key) }) {
                let n = span(k)
                lines.replaceSubrange(k..<(k + n), with: line.map { [$0] } ?? [])
            } else if let line {
                var at = end
                while at > h + 1, trimmed(lines[at - 1]).isEmpty { at -= 1 }
                lines.insert(line, at: at)
            }
        }
        for t in order { lines += ["", "[\(t)]"] + appended[t]! }
        return lines.joined(separator: "\n") + "\n"
    }

    /// The config file text written from scratch. Route overrides already in the file are kept;
    /// comments are not (`merged(into:)` keeps them).
    func text(keeping old: CapdeckConfig?) -> String {
        var t = "# CaptureDeck settings, written by the console (capdeck --reset-settings starts over).\n\n[session]\n"
        for key in AudioSessionProperties.Key.allCases {
            let name = key == .mixWithOthers ? "mix-with-others" : key.rawValue
            t += "\(name) = \(properties[key])\n"
        }
        t += "\n[app-session]\ncategory = \"\(appSession.category.rawValue)\"\n"
        t += "options = [" + appSession.options.names.map { "\"\($0)\"" }.joined(separator: ", ") + "]\n"
        if let r = appSession.preferredSampleRate { t += "preferred-sample-rate = \(r)\n" }
        if let routes = old?.routes, !routes.isEmpty {
            t += "\n[routes]\n"
            for (k, v) in [("exclusive", routes.exclusive), ("shared", routes.shared),
                           ("bluetooth-hq", routes.bluetoothHQ), ("bluetooth-hfp", routes.bluetoothHFP)] {
                if let v { t += "\(k) = \(Settings.quote(v))\n" }
            }
        }
        t += "\n[input]\n"
        if let device { t += "device = \(Settings.quote(device))\n" }
        t += "format = \"\(format.sampleFormat.rawValue)\"\nrate = \(format.sampleRate)\nchannels = \(format.channels)\n"
        if let outputDir { t += "output-dir = \(Settings.quote(outputDir))\n" }
        return t
    }

    static func quote(_ s: String) -> String {
        "\"" + s.replacingAll("\\", "\\\\").replacingAll("\"", "\\\"") + "\""
    }

    /// What to write: the user's file with the settings merged in, when that provably means the
    /// same as the full rewrite (both parse to equal configs); else the full rewrite.
    func fileText(path: String) -> String {
        // Read once: the text to merge into, and what it says (for its [routes]).
        let oldText = (try? ConfigFile.readText(path, mustExist: true)) ?? nil
        let old = oldText.flatMap { try? ConfigLoader.parse($0, path: path) }
        let rewrite = text(keeping: old)
        guard let oldText, old != nil else { return rewrite }
        let merged = merged(into: oldText)
        guard let a = try? ConfigLoader.parse(merged, path: path), let b = try? ConfigLoader.parse(rewrite, path: path),
              a == b else { return rewrite }
        return merged
    }

    /// Writes the file atomically (a temporary file renamed over it). Returns an error text.
    func write(to path: String) -> String? {
        let dir = String(path[..<(path.lastIndex(of: "/") ?? path.startIndex)])
        if !dir.isEmpty { try? OutputTarget.makeDirectories(dir) }
        let tmp = path + ".tmp-\(getpid())"
        let fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0o600)
        if fd < 0 { return "\(tmp): \(String(cString: strerror(errno)))" }
        let bytes = Array(fileText(path: path).utf8)
        let n = bytes.withUnsafeBytes { Glibc.write(fd, $0.baseAddress, $0.count) }
        fsync(fd)
        close(fd)
        if n != bytes.count || rename(tmp, path) != 0 {
            let e = String(cString: strerror(errno))
            unlink(tmp)
            return "\(path): \(e)"
        }
        return nil
    }

    /// Moves the config file aside (config.toml.old, .old-1, …) so the defaults apply again.
    static func reset(path: String) throws {
        guard access(path, F_OK) == 0 else { return }
        for n in 0..<1000 {
            let dest = n == 0 ? path + ".old" : path + ".old-\(n)"
            if access(dest, F_OK) == 0 { continue }
            if rename(path, dest) != 0 {
                throw Failure("--reset-settings: \(path): \(String(cString: strerror(errno)))", code: .cannotCreate)
            }
            Terminal.write("capdeck: settings reset; the old file is \(dest)\n")
            return
        }
    }
}

extension String {
    func replacingAll(_ a: String, _ b: String) -> String {
        var out = ""
        var rest = Substring(self)
        while let r = rest.range(of: a) {
            out += rest[..<r.lowerBound] + b
            rest = rest[r.upperBound...]
        }
        return out + rest
    }
}
