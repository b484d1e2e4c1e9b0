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

    /// The config file text. Route overrides already in the file are kept; comments are not.
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

    /// Writes the file atomically (a temporary file renamed over it). Returns an error text.
    func write(to path: String) -> String? {
        let old = try? ConfigFile.load(path)
        let dir = String(path[..<(path.lastIndex(of: "/") ?? path.startIndex)])
        if !dir.isEmpty { try? OutputTarget.makeDirectories(dir) }
        let tmp = path + ".tmp-\(getpid())"
        let fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0o600)
        if fd < 0 { return "\(tmp): \(String(cString: strerror(errno)))" }
        let bytes = Array(text(keeping: old).utf8)
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
