// CMTime: CoreMedia's rational time, its C functions with their Swift labels, and the overlay's
// members and operators, with the arithmetic, rounding and ordering CMTime.h documents.
import Foundation

/// A time's numerator.
public typealias CMTimeValue = Int64
/// A time's denominator (units per second); positive in a numeric time.
public typealias CMTimeScale = Int32
/// A time's epoch (e.g. a loop count): times in larger epochs come later.
public typealias CMTimeEpoch = Int64
/// A track's persistent identifier.
public typealias CMPersistentTrackID = Int32

/// The largest timescale (`0x7fffffff`).
public var kCMTimeMaxTimescale: Int { 0x7FFF_FFFF }

/// A time's flags; `valid` must be set or the time is invalid.
public struct CMTimeFlags: OptionSet, Sendable {
    public let rawValue: UInt32
    public init(rawValue: UInt32) { self.rawValue = rawValue }

    public static let valid = CMTimeFlags(rawValue: 1 << 0)
    /// The value was rounded at some point, or derived from a rounded time.
    public static let hasBeenRounded = CMTimeFlags(rawValue: 1 << 1)
    public static let positiveInfinity = CMTimeFlags(rawValue: 1 << 2)
    public static let negativeInfinity = CMTimeFlags(rawValue: 1 << 3)
    public static let indefinite = CMTimeFlags(rawValue: 1 << 4)
    public static let impliedValueFlagsMask: CMTimeFlags = [.positiveInfinity, .negativeInfinity, .indefinite]
}

/// How a value is rounded when a time changes timescale.
public enum CMTimeRoundingMethod: UInt32, Sendable {
    /// Toward zero below a half, away from zero at a half or more.
    case roundHalfAwayFromZero = 1
    case roundTowardZero = 2
    case roundAwayFromZero = 3
    /// Toward zero when losing precision, away from zero when gaining it, and never a negative
    /// time to zero (-1/timescale instead).
    case quickTime = 4
    case roundTowardPositiveInfinity = 5
    case roundTowardNegativeInfinity = 6

    /// `roundHalfAwayFromZero`.
    public static var `default`: CMTimeRoundingMethod { .roundHalfAwayFromZero }
}

/// A time: `value / timescale` seconds in `epoch`, or a non-numeric value its flags imply.
public struct CMTime: Sendable {
    public var value: CMTimeValue
    public var timescale: CMTimeScale
    public var flags: CMTimeFlags
    public var epoch: CMTimeEpoch

    /// An invalid time (all fields zero).
    public init() {
        self.init(value: 0, timescale: 0, flags: [], epoch: 0)
    }

    public init(value: CMTimeValue, timescale: CMTimeScale, flags: CMTimeFlags, epoch: CMTimeEpoch) {
        self.value = value
        self.timescale = timescale
        self.flags = flags
        self.epoch = epoch
    }

    /// A valid time of `value / timescale` seconds in epoch 0 (`CMTimeMake`).
    public init(value: CMTimeValue, timescale: CMTimeScale) {
        self.init(value: value, timescale: timescale, flags: .valid, epoch: 0)
    }

    /// `CMTimeMakeWithSeconds`.
    public init(seconds: Double, preferredTimescale: CMTimeScale) {
        self = CMTimeMakeWithSeconds(seconds, preferredTimescale: preferredTimescale)
    }

    public static let zero = CMTime(value: 0, timescale: 1)
    public static let invalid = CMTime()
    public static let indefinite = CMTime(value: 0, timescale: 0, flags: [.valid, .indefinite], epoch: 0)
    public static let positiveInfinity = CMTime(value: 0, timescale: 0, flags: [.valid, .positiveInfinity], epoch: 0)
    public static let negativeInfinity = CMTime(value: 0, timescale: 0, flags: [.valid, .negativeInfinity], epoch: 0)

    public var isValid: Bool { flags.contains(.valid) }
    public var isPositiveInfinity: Bool { isValid && flags.contains(.positiveInfinity) }
    public var isNegativeInfinity: Bool { isValid && flags.contains(.negativeInfinity) }
    public var isIndefinite: Bool { isValid && flags.contains(.indefinite) }
    /// Valid and not infinite or indefinite: value, timescale and epoch mean something.
    public var isNumeric: Bool { flags.intersection([.valid, .impliedValueFlagsMask]) == .valid }
    public var hasBeenRounded: Bool { isNumeric && flags.contains(.hasBeenRounded) }
    /// `CMTimeGetSeconds`.
    public var seconds: Double { CMTimeGetSeconds(self) }

    /// `CMTimeConvertScale`.
    public func convertScale(_ newTimescale: Int32, method: CMTimeRoundingMethod) -> CMTime {
        CMTimeConvertScale(self, timescale: newTimescale, method: method)
    }
}

extension CMTime: Equatable, Comparable {
    /// Equal as `CMTimeCompare` says: 1/2 == 2/4; all invalid times are equal.
    public static func == (lhs: CMTime, rhs: CMTime) -> Bool { CMTimeCompare(lhs, rhs) == 0 }
    public static func < (lhs: CMTime, rhs: CMTime) -> Bool { CMTimeCompare(lhs, rhs) < 0 }

    /// `CMTimeAdd`.
    public static func + (addend1: CMTime, addend2: CMTime) -> CMTime { CMTimeAdd(addend1, addend2) }
    /// `CMTimeSubtract`.
    public static func - (minuend: CMTime, subtrahend: CMTime) -> CMTime { CMTimeSubtract(minuend, subtrahend) }
}

public func CMTIME_IS_VALID(_ time: CMTime) -> Bool { time.isValid }
public func CMTIME_IS_INVALID(_ time: CMTime) -> Bool { !time.isValid }
public func CMTIME_IS_POSITIVEINFINITY(_ time: CMTime) -> Bool { time.isPositiveInfinity }
public func CMTIME_IS_NEGATIVEINFINITY(_ time: CMTime) -> Bool { time.isNegativeInfinity }
public func CMTIME_IS_INDEFINITE(_ time: CMTime) -> Bool { time.isIndefinite }
public func CMTIME_IS_NUMERIC(_ time: CMTime) -> Bool { time.isNumeric }
public func CMTIME_HAS_BEEN_ROUNDED(_ time: CMTime) -> Bool { time.hasBeenRounded }

// MARK: The C functions

public func CMTimeMake(value: Int64, timescale: Int32) -> CMTime {
    CMTime(value: value, timescale: timescale)
}

public func CMTimeMakeWithEpoch(value: Int64, timescale: Int32, epoch: Int64) -> CMTime {
    CMTime(value: value, timescale: timescale, flags: .valid, epoch: epoch)
}

/// `seconds` at `preferredTimescale`, rounded half away from zero; the timescale is halved while
/// the value overflows (±infinity if it still does at 1). Rounded when the value, read back,
/// isn't `seconds` exactly. Invalid for a timescale <= 0 or NaN.
public func CMTimeMakeWithSeconds(_ seconds: Float64, preferredTimescale: Int32) -> CMTime {
    guard preferredTimescale > 0, !seconds.isNaN else { return .invalid }
    if seconds.isInfinite { return seconds > 0 ? .positiveInfinity : .negativeInfinity }
    var scale = preferredTimescale
    while true {
        let v = (seconds * Double(scale)).rounded(.toNearestOrAwayFromZero)
        if let value = Int64(exactly: v), v < 9.223_372_036_854_775_807e18 {
            let rounded = Double(value) / Double(scale) != seconds
            return CMTime(value: value, timescale: scale, flags: rounded ? [.valid, .hasBeenRounded] : .valid, epoch: 0)
        }
        if scale == 1 { return seconds > 0 ? .positiveInfinity : .negativeInfinity }
        scale /= 2
    }
}

/// NaN for invalid or indefinite times, ±infinity for infinite ones, else `value / timescale`
/// (epoch ignored).
public func CMTimeGetSeconds(_ time: CMTime) -> Float64 {
    if !time.isValid || time.isIndefinite { return .nan }
    if time.isPositiveInfinity { return .infinity }
    if time.isNegativeInfinity { return -.infinity }
    return Double(time.value) / Double(time.timescale)
}

/// `time` at `newTimescale`, rounded by `method` (rounded flag set if the value changed);
/// non-numeric times come back unchanged, and a timescale <= 0 gives an invalid time.
public func CMTimeConvertScale(_ time: CMTime, timescale newTimescale: Int32, method: CMTimeRoundingMethod) -> CMTime {
    guard time.isNumeric else { return time }
    guard newTimescale > 0, time.timescale > 0 else { return .invalid }
    if newTimescale == time.timescale { return time }
    let (q, inexact) = RationalTime.divide(Int128(time.value) * Int128(newTimescale), by: Int128(time.timescale),
                                           method: method, gainingPrecision: newTimescale > time.timescale)
    guard let value = Int64(exactly: q) else { return q > 0 ? .positiveInfinity : .negativeInfinity }
    var flags = time.flags
    if inexact { flags.insert(.hasBeenRounded) }
    return CMTime(value: value, timescale: newTimescale, flags: flags, epoch: time.epoch)
}

/// The sum, as CMTime.h specifies: same timescale kept, else their LCM (capped at
/// `kCMTimeMaxTimescale`), halved while the value overflows; invalid across nonzero epochs;
/// +inf + -inf is invalid.
public func CMTimeAdd(_ lhs: CMTime, _ rhs: CMTime) -> CMTime {
    RationalTime.sum(lhs, rhs, negateRight: false)
}

/// The difference, with `CMTimeAdd`'s rules; +inf - +inf is invalid.
public func CMTimeSubtract(_ lhs: CMTime, _ rhs: CMTime) -> CMTime {
    RationalTime.sum(lhs, rhs, negateRight: true)
}

/// `time * multiplier` at `time`'s timescale (halved while it overflows).
public func CMTimeMultiply(_ time: CMTime, multiplier: Int32) -> CMTime {
    if let special = RationalTime.scaledSpecial(time, sign: Int(multiplier.signum())) { return special }
    return RationalTime.make(Int128(time.value) * Int128(multiplier), over: Int128(time.timescale), timescale: time.timescale,
                             rounded: time.flags.contains(.hasBeenRounded), epoch: time.epoch)
}

/// `time * multiplier`, its timescale first doubled up to at least 65536 so the fraction keeps
/// precision (then halved while the value overflows).
public func CMTimeMultiplyByFloat64(_ time: CMTime, multiplier: Float64) -> CMTime {
    if multiplier.isNaN { return .invalid }
    if let special = RationalTime.scaledSpecial(time, sign: multiplier > 0 ? 1 : multiplier < 0 ? -1 : 0) { return special }
    guard time.timescale > 0 else { return .invalid }
    var scale = time.timescale
    while scale < 65536 { scale *= 2 }
    var rounded = time.flags.contains(.hasBeenRounded)
    while true {
        let exact = Double(time.value) * multiplier * (Double(scale) / Double(time.timescale))
        let v = exact.rounded(.toNearestOrAwayFromZero)
        if v.isFinite, let value = Int64(exactly: v), v < 9.223_372_036_854_775_807e18 {
            if v != exact { rounded = true }
            return CMTime(value: value, timescale: scale, flags: rounded ? [.valid, .hasBeenRounded] : .valid, epoch: time.epoch)
        }
        if scale == 1 { return (exact > 0) ? .positiveInfinity : .negativeInfinity }
        scale /= 2
    }
}

/// `time * multiplier / divisor`, exact where it fits: at `time`'s timescale when that divides
/// evenly, else at the reduced fraction's; otherwise rounded at `time`'s timescale.
public func CMTimeMultiplyByRatio(_ time: CMTime, multiplier: Int32, divisor: Int32) -> CMTime {
    guard time.isValid else { return .invalid }
    if divisor == 0 {
        if time.isNumeric && (time.value == 0 || multiplier == 0) { return .invalid }
        if time.isIndefinite { return time }
        let sign = (time.isNegativeInfinity || (time.isNumeric && time.value < 0) ? -1 : 1) * (multiplier < 0 ? -1 : 1)
        return sign > 0 ? .positiveInfinity : .negativeInfinity
    }
    let sign = (multiplier < 0) != (divisor < 0) ? -1 : (multiplier == 0 ? 0 : 1)
    if let special = RationalTime.scaledSpecial(time, sign: sign) { return special }
    guard time.timescale > 0 else { return .invalid }
    var num = Int128(time.value) * Int128(multiplier)
    var den = Int128(divisor)
    if den < 0 { num = -num; den = -den }
    let rounded = time.flags.contains(.hasBeenRounded)
    if num % den == 0, let value = Int64(exactly: num / den) {
        return CMTime(value: value, timescale: time.timescale, flags: rounded ? [.valid, .hasBeenRounded] : .valid, epoch: time.epoch)
    }
    let fullDen = den * Int128(time.timescale)
    let g = RationalTime.gcd(num, fullDen)
    if let value = Int64(exactly: num / g), let scale = Int32(exactly: fullDen / g) {
        return CMTime(value: value, timescale: scale, flags: rounded ? [.valid, .hasBeenRounded] : .valid, epoch: time.epoch)
    }
    return RationalTime.make(num, over: fullDen, timescale: time.timescale, rounded: rounded, epoch: time.epoch)
}

/// -1, 0 or 1 in CMTime.h's total order: -infinity < numeric < indefinite < +infinity < invalid;
/// numeric times in a larger epoch are later.
public func CMTimeCompare(_ time1: CMTime, _ time2: CMTime) -> Int32 {
    let r1 = RationalTime.rank(time1), r2 = RationalTime.rank(time2)
    if r1 != r2 { return r1 < r2 ? -1 : 1 }
    guard r1 == 1 else { return 0 }
    if time1.epoch != time2.epoch { return time1.epoch < time2.epoch ? -1 : 1 }
    let a = Int128(time1.value) * Int128(time2.timescale), b = Int128(time2.value) * Int128(time1.timescale)
    return a == b ? 0 : (a < b ? -1 : 1)
}

public func CMTimeMinimum(_ time1: CMTime, _ time2: CMTime) -> CMTime {
    CMTimeCompare(time1, time2) <= 0 ? time1 : time2
}

public func CMTimeMaximum(_ time1: CMTime, _ time2: CMTime) -> CMTime {
    CMTimeCompare(time1, time2) >= 0 ? time1 : time2
}

/// `time` with a negative value or -infinity made positive.
public func CMTimeAbsoluteValue(_ time: CMTime) -> CMTime {
    if time.isNegativeInfinity { return .positiveInfinity }
    guard time.isNumeric, time.value < 0 else { return time }
    return RationalTime.make(-Int128(time.value), over: Int128(time.timescale), timescale: time.timescale,
                             rounded: time.flags.contains(.hasBeenRounded), epoch: time.epoch)
}

/// Prints a description of `time` to standard output, as `CFShow` would.
public func CMTimeShow(_ time: CMTime) {
    print(RationalTime.describe(time))
}

/// The exact-rational arithmetic behind the functions above (Int128, so no intermediate
/// overflows: a value times a timescale times a timescale fits).
enum RationalTime {
    static func rank(_ t: CMTime) -> Int {
        if !t.isValid { return 4 }
        if t.flags.contains(.positiveInfinity) { return 3 }
        if t.flags.contains(.indefinite) { return 2 }
        if t.flags.contains(.negativeInfinity) { return 0 }
        return 1
    }

    static func gcd(_ a: Int128, _ b: Int128) -> Int128 {
        var (x, y) = (a.magnitude, b.magnitude)
        while y != 0 { (x, y) = (y, x % y) }
        return x == 0 ? 1 : Int128(x)
    }

    /// `n / d` (d > 0) rounded by `method`; whether it was inexact.
    static func divide(_ n: Int128, by d: Int128, method: CMTimeRoundingMethod, gainingPrecision: Bool) -> (Int128, Bool) {
        let q = n / d, r = n % d
        if r == 0 { return (q, false) }
        let away = q + (n < 0 ? -1 : 1)
        switch method {
        case .roundHalfAwayFromZero: return (2 * r.magnitude >= d.magnitude ? away : q, true)
        case .roundTowardZero: return (q, true)
        case .roundAwayFromZero: return (away, true)
        case .roundTowardPositiveInfinity: return (n > 0 ? away : q, true)
        case .roundTowardNegativeInfinity: return (n < 0 ? away : q, true)
        case .quickTime:
            let v = gainingPrecision ? away : q
            return (n < 0 && v == 0 ? -1 : v, true)
        }
    }

    /// `num / den` seconds (den > 0) at `timescale`, default rounding, the timescale halved while
    /// the value overflows Int64; ±infinity if it still does at timescale 1.
    static func make(_ num: Int128, over den: Int128, timescale: Int32, rounded: Bool, epoch: Int64) -> CMTime {
        var scale = timescale
        while true {
            let (q, inexact) = divide(num * Int128(scale), by: den, method: .default, gainingPrecision: false)
            if let value = Int64(exactly: q) {
                let r = rounded || inexact
                return CMTime(value: value, timescale: scale, flags: r ? [.valid, .hasBeenRounded] : .valid, epoch: epoch)
            }
            if scale == 1 { return num > 0 ? .positiveInfinity : .negativeInfinity }
            scale /= 2
        }
    }

    /// The result of scaling a non-numeric `time` by a factor of sign `sign`, or nil if `time`
    /// is numeric.
    static func scaledSpecial(_ time: CMTime, sign: Int) -> CMTime? {
        if !time.isValid { return .invalid }
        if time.isIndefinite { return .indefinite }
        if time.isPositiveInfinity || time.isNegativeInfinity {
            if sign == 0 { return .invalid }
            return (time.isPositiveInfinity == (sign > 0)) ? .positiveInfinity : .negativeInfinity
        }
        return nil
    }

    static func sum(_ a: CMTime, _ b: CMTime, negateRight: Bool) -> CMTime {
        guard a.isValid, b.isValid else { return .invalid }
        // Infinities as signs: +1, -1, or 0 for finite/indefinite.
        let ia = a.isPositiveInfinity ? 1 : a.isNegativeInfinity ? -1 : 0
        var ib = b.isPositiveInfinity ? 1 : b.isNegativeInfinity ? -1 : 0
        if negateRight { ib = -ib }
        if ia != 0 || ib != 0 {
            if ia != 0 && ib != 0 && ia != ib { return .invalid }
            return (ia != 0 ? ia : ib) > 0 ? .positiveInfinity : .negativeInfinity
        }
        if a.isIndefinite || b.isIndefinite { return .indefinite }
        guard a.timescale > 0, b.timescale > 0 else { return .invalid }
        let epoch: Int64
        if a.epoch != 0 && b.epoch != 0 {
            guard a.epoch == b.epoch else { return .invalid }
            epoch = 0
        } else {
            epoch = a.epoch != 0 ? a.epoch : b.epoch
        }
        let rounded = a.flags.contains(.hasBeenRounded) || b.flags.contains(.hasBeenRounded)
        let bv = negateRight ? -Int128(b.value) : Int128(b.value)
        let sa = Int128(a.timescale), sb = Int128(b.timescale)
        if a.timescale == b.timescale {
            return make(Int128(a.value) + bv, over: sa, timescale: a.timescale, rounded: rounded, epoch: epoch)
        }
        let lcm = sa / gcd(sa, sb) * sb
        let scale = lcm > Int128(kCMTimeMaxTimescale) ? Int32(kCMTimeMaxTimescale) : Int32(lcm)
        return make(Int128(a.value) * sb + bv * sa, over: sa * sb, timescale: scale, rounded: rounded, epoch: epoch)
    }

    static func describe(_ t: CMTime) -> String {
        if !t.isValid { return "{INVALID}" }
        if t.isPositiveInfinity { return "{+INFINITY}" }
        if t.isNegativeInfinity { return "{-INFINITY}" }
        if t.isIndefinite { return "{INDEFINITE}" }
        var s = "{\(t.value)/\(t.timescale) = \(String(format: "%.3f", t.seconds))"
        if t.hasBeenRounded { s += ", rounded" }
        if t.epoch != 0 { s += ", epoch = \(t.epoch)" }
        return s + "}"
    }
}
