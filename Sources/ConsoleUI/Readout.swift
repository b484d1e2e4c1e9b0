// How capdeck writes quantities for people: levels, times, sizes, paths. One implementation per
// quantity, shared by the console's widgets, its event log, `record`'s lines and `devices`.
import CaptureCore

public enum Readout {
    /// `text` in lines of at most `width` columns, broken at spaces; a word longer than a line
    /// is broken where the line ends.
    public static func wrap(_ text: String, width: Int) -> [String] {
        let w = max(1, width)
        var lines: [String] = []
        var line = ""
        for word in text.split(separator: " ") {
            var rest = Substring(word)
            if !line.isEmpty, line.count + 1 + rest.count <= w { line += " " + rest; continue }
            if !line.isEmpty { lines.append(line); line = "" }
            while rest.count > w { lines.append(String(rest.prefix(w))); rest = rest.dropFirst(w) }
            line = String(rest)
        }
        if !line.isEmpty || lines.isEmpty { lines.append(line) }
        return lines
    }

    /// A level in dBFS, right-aligned in 6 columns with one decimal (`" -18.8"`); `"  -inf"` at the
    /// meter's floor.
    public static func db(_ v: Double) -> String {
        if v <= ChannelLevel.floorDB { return "  -inf" }
        let t = Int((v * 10).rounded())
        let a = abs(t)
        let body = (t < 0 ? "-" : "") + "\(a / 10).\(a % 10)"
        return String(repeating: " ", count: max(0, 6 - body.count)) + body
    }

    /// Milliseconds with one decimal: `"10.0 ms"`.
    public static func ms(_ v: Double) -> String {
        let t = Int((v * 10).rounded())
        return "\(t / 10).\(t % 10) ms"
    }

    /// Seconds with one decimal: `"2.5"`.
    public static func seconds(_ v: Double) -> String {
        let t = Int((v * 10).rounded())
        return "\(t / 10).\(t % 10)"
    }

    /// `hh:mm:ss`, or `hh:mm:ss.t` with `tenths` (the headless status and saved lines).
    public static func duration(_ s: Double, tenths: Bool = false) -> String {
        // Cut to the tenth (a clock doesn't round up), in whole tenths, with a margin for the
        // binary fraction a length such as 115200 / 48000 (2.4 s, a hair under in binary) is.
        let t = Int((Swift.max(0, s) * 10 * (1 + 1e-12)).rounded(.down))
        let total = t / 10
        func two(_ v: Int) -> String { v < 10 ? "0\(v)" : "\(v)" }
        let hms = "\(two(total / 3600)):\(two((total / 60) % 60)):\(two(total % 60))"
        return tenths ? hms + ".\(t % 10)" : hms
    }

    /// Decimal units with one decimal: `"480.2 KB"`, `"80.4 GB"`; plain bytes below 1000.
    public static func bytes(_ b: Int64) -> String {
        let units = ["B", "KB", "MB", "GB", "TB"]
        var v = Double(b)
        var u = 0
        while v >= 1000 && u < units.count - 1 { v /= 1000; u += 1 }
        if u == 0 { return "\(b) B" }
        let t = Int((v * 10).rounded())
        return "\(t / 10).\(t % 10) \(units[u])"
    }

    /// A long time, roughly: `"116 h"`, `"2 h 5 min"`, `"40 min"`.
    public static func hours(_ s: Double) -> String {
        if s >= 3600 * 48 { return "\(Int(s / 3600)) h" }
        if s >= 3600 { return "\(Int(s / 3600)) h \(Int(s.truncatingRemainder(dividingBy: 3600) / 60)) min" }
        return "\(Int(s / 60)) min"
    }

    /// Keeps the end of a path (the file name) when it doesn't fit.
    public static func fitPath(_ p: String, width: Int, unicode: Bool = true) -> String {
        guard p.count > width, width > 3 else { return p }
        return unicode ? "…" + String(p.suffix(width - 1)) : "..." + String(p.suffix(width - 3))
    }

    /// A table column: `s` padded to `width`, or followed by one space when it is as wide or wider.
    public static func pad(_ s: String, _ width: Int) -> String {
        s.count >= width ? s + " " : s + String(repeating: " ", count: width - s.count)
    }
}
