// Validation of option values: every message names the flag and the accepted range.
import ArgumentParser
import CaptureCore
import CaptureFiles

/// Validates names and ranges in one place, so every message names the flag and the range.
enum Parse {
    static func format(_ s: String) throws -> SampleFormat {
        guard let f = SampleFormat(name: s) else {
            throw ValidationError("not a sample format; use S16_LE, S24_LE, S24_3LE, S32_LE or FLOAT_LE")
        }
        return f
    }
    static func fileType(_ s: String) throws -> FileType {
        guard let t = FileType(name: s) else { throw ValidationError("not a file type; use wav, w64, caf, flac or aiff") }
        return t
    }
    static func meter(_ s: String) throws -> MeterBallistics {
        guard let m = MeterBallistics(name: trimmed(s)) else { throw ValidationError("not a meter; use \(MeterBallistics.names)") }
        return m
    }
    static func int(_ flag: String, _ range: ClosedRange<Int>, unit: String = "") -> @Sendable (String) throws -> Int {
        { s in
            guard let v = Int(trimmed(s)) else {
                throw ValidationError("not a whole number; \(flag) takes \(range.lowerBound)-\(range.upperBound)\(unit)")
            }
            guard range.contains(v) else {
                throw ValidationError("out of range; \(flag) takes \(range.lowerBound)-\(range.upperBound)\(unit)")
            }
            return v
        }
    }
    /// Without the spaces and tabs around it.
    private static func trimmed(_ s: String) -> String {
        var t = Substring(s)
        while let f = t.first, f == " " || f == "\t" { t = t.dropFirst() }
        while let l = t.last, l == " " || l == "\t" { t = t.dropLast() }
        return String(t)
    }
    static func selection(_ s: String) throws -> ChannelSelection {
        do throws(ChannelSelectionError) { return try ChannelSelection(parsing: s) } catch { throw ValidationError(error.description) }
    }
    static func splitDuration(_ s: String) throws -> Double {
        do throws(SplitLimitError) { return try SplitLimits.duration(s).get() } catch { throw ValidationError(error.description) }
    }
    static func splitSize(_ s: String) throws -> Int {
        do throws(SplitLimitError) { return try SplitLimits.size(s).get() } catch { throw ValidationError(error.description) }
    }
    /// A duration: seconds (`90`, `1.5`), a unit (`90s`, `10m`, `2h`) or a clock time (`1:30`,
    /// `1:02:03`); the same parser as `--max-file-time` and the config file's.
    static func seconds(_ s: String) throws -> Double {
        do throws(SplitLimitError) { return try SplitLimits.duration(trimmed(s)).get() } catch { throw ValidationError(error.description) }
    }

    /// A sample rate in Hz: `48000`, or in kHz as people say it, `48k`, `44.1k` (a whole number of Hz).
    static func rate(_ raw: String) throws -> Int {
        let r = StreamFormat.rateRange
        let bounds = "rate takes \(r.lowerBound)-\(r.upperBound) Hz, or 8k-384k"
        var s = Substring(trimmed(raw).lowercased())
        var scale = 1.0
        if s.hasSuffix("khz") { s = s.dropLast(3); scale = 1000 } else if s.hasSuffix("k") { s = s.dropLast(); scale = 1000 } else if s.hasSuffix("hz") { s = s.dropLast(2) }
        let plain = !s.isEmpty && s.allSatisfy { $0.isASCII && ($0.isNumber || $0 == ".") } && s.filter { $0 == "." }.count <= 1
            && (scale > 1 || !s.contains("."))
        guard plain, let v = Double(s) else { throw ValidationError("not a sample rate; \(bounds)") }
        let hz = v * scale
        guard hz == hz.rounded(), hz >= Double(r.lowerBound), hz <= Double(r.upperBound) else {
            throw ValidationError("out of range; \(bounds)")
        }
        return Int(hz)
    }

    /// A plain decimal (an optional '-' before it) from `range`, for `flag` in `unit`.
    static func decimal(_ flag: String, _ range: ClosedRange<Double>, unit: String) -> @Sendable (String) throws -> Double {
        { raw in
            let s = trimmed(raw)
            let digits = s.hasPrefix("-") ? s.dropFirst() : Substring(s)
            let plain = !digits.isEmpty && digits.allSatisfy { $0.isASCII && ($0.isNumber || $0 == ".") } && digits.filter { $0 == "." }.count <= 1
            let bounds = "\(flag) takes \(number(range.lowerBound)) to \(number(range.upperBound)) \(unit)"
            guard plain, let v = Double(s), v.isFinite else { throw ValidationError("not a number; \(bounds)") }
            guard range.contains(v) else { throw ValidationError("out of range; \(bounds)") }
            return v
        }
    }
    /// `-30`, `2.5`: as a user writes it.
    static func number(_ v: Double) -> String { v == v.rounded() ? String(Int(v)) : String(v) }
}
