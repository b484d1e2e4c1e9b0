// The interface for sample-rate conversion, for routes that can't give the recording's rate.
// Implemented over libsamplerate by CaptureResample (the core imports no C library).

/// Converts interleaved Float frames from one rate to another, continuously across calls.
/// `process` runs on the capture queue: it must not allocate, lock or log.
public protocol SampleRateConverter: AnyObject {
    var inputRate: Int { get }
    var outputRate: Int { get }
    /// Converts up to `frames` input frames into at most `capacity` output frames; returns how
    /// many input frames were used and output frames produced.
    func process(input: UnsafePointer<Float>, frames: Int, output: UnsafeMutablePointer<Float>,
                 capacity: Int) -> (consumed: Int, produced: Int)
}

/// Makes a converter for `channels` channels from `inputRate` to `outputRate` (nil: can't).
public typealias RateConverterFactory = @Sendable (_ channels: Int, _ inputRate: Int, _ outputRate: Int) -> (any SampleRateConverter)?
