// `--max-file-time` and `--max-file-size` values (flags and config keys): a bare number is
// seconds or bytes, as in arecord; or with a unit.

public enum SplitLimits {
    /// Seconds from `90`, `1.5`, `90s`, `10m`, `2h`, or a clock time `1:30`, `1:02:03.5`
    /// (`[[H:]M:]S`, minutes and seconds below 60 after the first field). 0 means no limit; at most a
    /// year. One parser for every duration capdeck takes (`-d`, `--max-file-time`, the config).
    public static func duration(_ text: String) -> Result<Double, SplitLimitError> {
        let s = text.lowercased()
        let bad = SplitLimitError("'\(text)' is not a duration; use seconds (90), a unit (90s, 10m, 2h) or minutes:seconds (1:30)")
        // Plain decimals only (Double() would also take "0x10", "1e3", "inf").
        func plain(_ n: Substring) -> Double? {
            guard !n.isEmpty, n.allSatisfy({ $0.isASCII && ($0.isNumber || $0 == ".") }), n.filter({ $0 == "." }).count <= 1 else { return nil }
            return Double(n)
        }
        var seconds: Double
        if s.contains(":") {
            let fields = s.split(separator: ":", omittingEmptySubsequences: false)
            guard fields.count <= 3, let last = plain(fields[fields.count - 1]) else { return .failure(bad) }
            // The earlier fields are whole numbers; each after the first is below 60.
            var whole: [Double] = []
            for f in fields.dropLast() {
                guard !f.isEmpty, f.allSatisfy({ $0.isASCII && $0.isNumber }), let v = Double(f) else { return .failure(bad) }
                whole.append(v)
            }
            guard last < 60, whole.dropFirst().allSatisfy({ $0 < 60 }) else {
                return .failure(SplitLimitError("'\(text)' is not a time; minutes and seconds after the first field are 0-59"))
            }
            seconds = whole.reduce(0) { $0 * 60 + $1 } * 60 + last
        } else {
            var scale = 1.0
            var number = Substring(s)
            if let u = number.last, let f = ["s": 1.0, "m": 60.0, "h": 3600.0][u] { scale = f; number = number.dropLast() }
            guard let v = plain(number) else { return .failure(bad) }
            seconds = v * scale
        }
        guard seconds <= 31_536_000 else { return .failure(SplitLimitError("'\(text)' is out of range; at most a year (8760h)")) }
        return .success(seconds)
    }

    /// Bytes from `1000000`, `500k`, `500M`, `2G`, `1T` (units of 1024, as split(1) and dd; a
    /// trailing `B` or `iB` is allowed: `500MiB`). 0 means no limit.
    public static func size(_ text: String) -> Result<Int, SplitLimitError> {
        var s = Substring(text.lowercased())
        if s.hasSuffix("ib") { s = s.dropLast(2) } else if s.hasSuffix("b"), s.count > 1, !(s.dropLast().last?.isNumber ?? true) { s = s.dropLast() }
        var scale = 1
        if let u = s.last, let f = ["k": 1 << 10, "m": 1 << 20, "g": 1 << 30, "t": 1 << 40][u] { scale = f; s = s.dropLast() }
        guard !s.isEmpty, s.allSatisfy({ $0.isASCII && $0.isNumber }), let v = Int(s) else {
            return .failure(SplitLimitError("'\(text)' is not a size; use bytes (1000000) or a unit: 500k, 500M, 2G"))
        }
        let (bytes, over) = v.multipliedReportingOverflow(by: scale)
        guard !over else { return .failure(SplitLimitError("'\(text)' is out of range")) }
        return .success(bytes)
    }

    /// Frames in `seconds` at `rate` (at least one for any time above 0; nil for 0: no limit).
    public static func frames(_ seconds: Double, rate: Int) -> Int? {
        seconds > 0 ? max(1, Int((seconds * Double(rate)).rounded())) : nil
    }
}

public struct SplitLimitError: Error, Equatable, Sendable, CustomStringConvertible {
    public var description: String
    public init(_ d: String) { description = d }
}
