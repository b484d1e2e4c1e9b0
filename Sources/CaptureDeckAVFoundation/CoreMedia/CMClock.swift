// CMClock: the host time clock that sample-buffer timestamps are on.
import CaptureCore
import Foundation

/// A clock (CoreMedia's `CMClock`). Linux: only the host time clock exists; it is CLOCK_MONOTONIC,
/// the clock the sample buffers' presentation timestamps count on (see `AVCaptureAudioDataOutput`).
public final class CMClock: @unchecked Sendable {
    // @unchecked Sendable: immutable.
    private init() {}

    /// The host time clock (`CMClockGetHostTimeClock()`).
    public static let hostTimeClock = CMClock()

    /// Now on this clock, in nanoseconds (timescale 1,000,000,000).
    public var time: CMTime { CMTime(value: CMTimeValue(monotonicNanos()), timescale: 1_000_000_000) }

    /// `time` converted to this clock from `otherClock`: the identity, as there is one clock.
    public func convertTime(_ time: CMTime, to otherClock: CMClock) -> CMTime { time }
}

/// The host time clock.
public func CMClockGetHostTimeClock() -> CMClock { .hostTimeClock }
/// Now on `clock`.
public func CMClockGetTime(_ clock: CMClock) -> CMTime { clock.time }

extension AVCaptureSession {
    /// The clock the session's sample-buffer timestamps are on: the host time clock.
    public var synchronizationClock: CMClock? { .hostTimeClock }
    /// The older name of `synchronizationClock`.
    @available(*, deprecated, renamed: "synchronizationClock")
    public var masterClock: CMClock? { .hostTimeClock }
}
