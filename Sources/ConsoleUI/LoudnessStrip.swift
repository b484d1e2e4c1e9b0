// The console's loudness strip: momentary and short-term bars on an EBU Tech 3341 scale, with the
// integrated level marked, and the figures (M, S, I, LRA, max true peak) beside them.
import CaptureCore

/// What the strip shows (`ConsoleModel.loudness`; nil: hidden). Loudness in LUFS, the range in
/// LU, true peak in dBTP; nil: no value yet (or silence).
public struct LoudnessStrip: Sendable, Equatable {
    /// EBU Tech 3341's two scales, in LU relative to the -23 LUFS target (0 LU): +9 shows
    /// -18…+9 LU (-41…-14 LUFS), +18 shows -36…+18 LU (-59…-5 LUFS).
    public enum Scale: String, Sendable, CaseIterable {
        case ebu9 = "+9", ebu18 = "+18"
        /// The scale's ends, in LU.
        public var range: (low: Double, high: Double) { self == .ebu9 ? (-18, 9) : (-36, 18) }
        /// LU between tick labels.
        var tick: Double { self == .ebu9 ? 3 : 6 }
    }

    /// EBU R128's target level: 0 LU.
    public static let target = -23.0

    public var scale: Scale
    public var momentary: Double?
    public var shortTerm: Double?
    public var integrated: Double?
    public var range: Double?
    /// The highest true peak over all channels since the start or the last reset.
    public var maxTruePeak: Double?

    public init(scale: Scale, momentary: Double? = nil, shortTerm: Double? = nil, integrated: Double? = nil,
                range: Double? = nil, maxTruePeak: Double? = nil) {
        self.scale = scale
        self.momentary = momentary
        self.shortTerm = shortTerm
        self.integrated = integrated
        self.range = range
        self.maxTruePeak = maxTruePeak
    }

    /// Rows the strip takes when there is room for all of it: M bar, S bar, scale.
    public static let fullRows = 3

    /// Hidden, +9, +18, hidden… (the `l` key).
    public static func next(after s: Scale?) -> Scale? {
        switch s {
        case nil: .ebu9
        case .ebu9: .ebu18
        case .ebu18: nil
        }
    }

    /// Draws the strip at row `y` in `rows` rows: 3, the bars and the scale; fewer, one line of
    /// figures. The readouts are in LUFS (and LU for the range), the scale's ticks in LU.
    static func draw(_ g: inout ScreenGrid, _ s: LoudnessStrip, y: Int, rows: Int, unicode: Bool) {
        func v(_ x: Double?) -> String { Readout.db(x ?? ChannelLevel.floorDB) }
        guard rows >= fullRows else {
            var x = g.put("Loudness ", x: 0, y: y, style: .title)
            for (label, value, unit) in [("M", s.momentary, ""), (" S", s.shortTerm, ""), (" I", s.integrated, " LUFS"),
                                         ("  LRA", s.range, " LU"), ("  TP", s.maxTruePeak, " dBTP")] {
                x += g.put(label, x: x, y: y, style: .dim)
                x += g.put(v(value), x: x, y: y, style: .bold)
                x += g.put(unit, x: x, y: y, style: .dim)
            }
            g.put("  EBU \(s.scale.rawValue)", x: x, y: y, style: .dim, maxWidth: g.width - x)
            return
        }
        let labelW = 4, numbersW = 27
        let barW = g.width - labelW - numbersW - 1
        let nx = labelW + barW + 1
        bar(&g, s, value: s.momentary, x: labelW, y: y, width: barW, unicode: unicode)
        bar(&g, s, value: s.shortTerm, x: labelW, y: y + 1, width: barW, unicode: unicode)
        g.put(" M  ", x: 0, y: y, style: .dim)
        g.put(" S  ", x: 0, y: y + 1, style: .dim)
        var x = nx + g.put(v(s.momentary), x: nx, y: y, style: .bold)
        x += g.put("  I ", x: x, y: y, style: .dim)
        x += g.put(v(s.integrated), x: x, y: y, style: .bold)
        g.put(" LUFS", x: x, y: y, style: .dim)
        x = nx + g.put(v(s.shortTerm), x: nx, y: y + 1, style: .bold)
        x += g.put(" LRA", x: x, y: y + 1, style: .dim)
        x += g.put(s.integrated == nil ? "    --" : Readout.db(s.range ?? 0), x: x, y: y + 1, style: .bold)
        g.put(" LU", x: x, y: y + 1, style: .dim)
        // The scale: ticks in LU, 0 LU = -23 LUFS.
        g.put(s.scale == .ebu9 ? " +9 " : "+18 ", x: 0, y: y + 2, style: .dim)
        var lu = s.scale.range.low
        while lu <= s.scale.range.high {
            let label = lu == 0 ? "0" : (lu > 0 ? "+" : "") + String(Int(lu))
            let col = labelW + column(s.scale, LoudnessStrip.target + lu, width: barW)
            let lx = min(max(labelW, col - label.count / 2), labelW + barW - label.count)
            g.put(label, x: lx, y: y + 2, style: lu == 0 ? .bold : .dim)
            lu += s.scale.tick
        }
        x = nx + g.put("LU  TP ", x: nx, y: y + 2, style: .dim)
        x += g.put(v(s.maxTruePeak), x: x, y: y + 2, style: (s.maxTruePeak ?? -200) > -1 ? .clip : .bold)
        g.put(" dBTP", x: x, y: y + 2, style: .dim)
    }

    /// The column (0..<width) of `lufs` on the scale.
    static func column(_ scale: Scale, _ lufs: Double, width: Int) -> Int {
        min(width - 1, max(0, Int((fraction(scale, lufs) * Double(width)).rounded(.down))))
    }

    static func fraction(_ scale: Scale, _ lufs: Double) -> Double {
        let (lo, hi) = scale.range
        return (min(hi, max(lo, lufs - target)) - lo) / (hi - lo)
    }

    /// One bar: filled up to `value`, green below the target, amber to +1 LU, red above; the
    /// integrated level marked on it.
    static func bar(_ g: inout ScreenGrid, _ s: LoudnessStrip, value: Double?, x: Int, y: Int, width: Int, unicode: Bool) {
        let fill = value.map { $0 - target > s.scale.range.low ? Int((fraction(s.scale, $0) * Double(width * 8)).rounded()) : 0 } ?? 0
        let full = fill / 8, part = fill % 8
        for c in 0..<width {
            let lu = s.scale.range.low + (Double(c) + 0.5) / Double(width) * (s.scale.range.high - s.scale.range.low)
            let zone: CellStyle = lu > 1 ? .meterHigh : (lu > -1 ? .meterMid : .meterLow)
            var cell = Cell(" ", .dim)
            if c < full {
                cell = Cell(unicode ? "█" : "#", zone)
            } else if c == full && part > 0 {
                cell = Cell(scalar: unicode ? MeterBar.partials[part - 1] : (part >= 4 ? "=" : "-"), zone)
            } else if lu.magnitude < (s.scale.range.high - s.scale.range.low) / Double(width) / 2 {
                cell = Cell(unicode ? "┊" : ":", .dim)  // the 0 LU target, where the bar doesn't reach
            }
            g[x + c, y] = cell
        }
        if let i = s.integrated, i - target >= s.scale.range.low {
            g[x + column(s.scale, i, width: width), y] = Cell(unicode ? "│" : "|", .hold)
        }
    }
}
