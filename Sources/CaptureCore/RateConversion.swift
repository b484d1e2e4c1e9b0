// The interface for sample-rate conversion, for routes that can't give the recording's rate.
// Implemented over libsamplerate by CaptureResample (the core imports no C library).

/// What one conversion call did. (A nominal struct: the capture path must not instantiate tuple
/// metadata lazily.)
public struct RateConversionResult: Sendable, Equatable {
    /// Input frames used.
    public var consumed: Int
    /// Output frames written.
    public var produced: Int
    /// The converter reported an error: nothing was produced for this input (call `reset`).
    public var failed: Bool
    public init(consumed: Int, produced: Int, failed: Bool = false) {
        self.consumed = consumed
        self.produced = produced
        self.failed = failed
    }
}

/// Converts interleaved Float frames from one rate to another, continuously across calls.
/// Every method runs on the capture queue: none may allocate, lock or log.
///
/// A band-limited converter holds back the last few output frames (its filter needs input after
/// them); `flush` releases them when the input ends, so no audio stays inside the converter at a
/// stop or a device switch.
public protocol SampleRateConverter: AnyObject {
    var inputRate: Int { get }
    var outputRate: Int { get }
    /// Converts up to `frames` input frames into at most `capacity` output frames.
    func process(input: UnsafePointer<Float>, frames: Int, output: UnsafeMutablePointer<Float>,
                 capacity: Int) -> RateConversionResult
    /// The input has ended: writes up to `capacity` of the frames still held back, returning how
    /// many. Call until it returns 0; then the converter is reset for new input.
    func flush(output: UnsafeMutablePointer<Float>, capacity: Int) -> Int
    /// Forgets all input (after an error, or to start over).
    func reset()
}

/// Makes a converter for `channels` channels from `inputRate` to `outputRate` (nil: can't).
public typealias RateConverterFactory = @Sendable (_ channels: Int, _ inputRate: Int, _ outputRate: Int) -> (any SampleRateConverter)?
