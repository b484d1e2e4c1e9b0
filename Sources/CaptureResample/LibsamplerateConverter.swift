// Sample-rate conversion through libsamplerate (band-limited sinc interpolation).
import CSamplerate
import CaptureCore

/// A libsamplerate converter. `process` calls `src_process` only: no allocation after init.
/// `@unchecked Sendable`: the libsamplerate state is used by one thread at a time (the capture
/// queue while its binding is current).
public final class LibsamplerateConverter: SampleRateConverter, @unchecked Sendable {
    public let inputRate: Int
    public let outputRate: Int
    private let state: OpaquePointer
    private let data: UnsafeMutablePointer<SRC_DATA>
    private let ratio: Double
    /// A valid, distinct input pointer for the end-of-input call (which reads nothing from it).
    private let noInput: UnsafeMutablePointer<Float>

    /// - Parameter quality: SRC_SINC_MEDIUM_QUALITY by default (transparent for recording, and
    ///   light enough for the capture thread).
    public init?(channels: Int, inputRate: Int, outputRate: Int, quality: Int32 = Int32(SRC_SINC_MEDIUM_QUALITY)) {
        var err: Int32 = 0
        guard channels > 0, inputRate > 0, outputRate > 0,
              let s = src_new(quality, Int32(channels), &err), err == 0 else { return nil }
        state = s
        self.inputRate = inputRate
        self.outputRate = outputRate
        ratio = Double(outputRate) / Double(inputRate)
        data = .allocate(capacity: 1)
        data.initialize(to: SRC_DATA())
        noInput = .allocate(capacity: channels)
        noInput.initialize(repeating: 0, count: channels)
    }

    deinit {
        src_delete(state)
        data.deallocate()
        noInput.deallocate()
    }

    public func process(input: UnsafePointer<Float>, frames: Int, output: UnsafeMutablePointer<Float>,
                        capacity: Int) -> RateConversionResult {
        run(input: input, frames: frames, output: output, capacity: capacity, endOfInput: false)
    }

    public func flush(output: UnsafeMutablePointer<Float>, capacity: Int) -> Int {
        // end_of_input with no input: libsamplerate writes what its filter still holds. (The
        // input pointer must not be the output: libsamplerate refuses overlapping buffers.)
        let r = run(input: noInput, frames: 0, output: output, capacity: capacity, endOfInput: true)
        if r.produced == 0 || r.failed { reset() }
        return r.failed ? 0 : r.produced
    }

    public func reset() { src_reset(state) }

    private func run(input: UnsafePointer<Float>, frames: Int, output: UnsafeMutablePointer<Float>,
                     capacity: Int, endOfInput: Bool) -> RateConversionResult {
        data.pointee.data_in = input
        data.pointee.input_frames = frames
        data.pointee.data_out = output
        data.pointee.output_frames = capacity
        data.pointee.src_ratio = ratio
        data.pointee.end_of_input = endOfInput ? 1 : 0
        guard src_process(state, data) == 0 else { return RateConversionResult(consumed: frames, produced: 0, failed: true) }
        return RateConversionResult(consumed: Int(data.pointee.input_frames_used), produced: Int(data.pointee.output_frames_gen))
    }

    /// For `CaptureEngine.Configuration.rateConverter`.
    public static let factory: RateConverterFactory = { channels, input, output in
        LibsamplerateConverter(channels: channels, inputRate: input, outputRate: output)
    }
}
