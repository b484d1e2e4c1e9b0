// A device bound for capture (its converter, scratch and resampler), and what one engine run
// captures with. Built on the session (switching) thread, used by the capture queue, released on
// the session thread again: the capture queue never allocates or frees one.
import Glibc

/// A device with everything the capture loop needs to read it into the ring in the recording's
/// format. Built off the capture queue; freed off it too.
/// `@unchecked Sendable`: immutable after init except the device, which only the thread that
/// holds the binding uses (capture queue while bound, switching thread before and after).
final class DeviceBinding: @unchecked Sendable {
    let device: any CaptureSource
    let request: CaptureRequest
    let granted: GrantedParameters
    let converter: FrameConverter?
    let scratch: UnsafeMutableRawPointer?
    let scratchFrames: Int
    /// Never ask for more than one device buffer at once: some plugins (ALSA's file plugin with
    /// an infile) fail on larger reads, and hardware can't hold more anyway.
    let maxRead: Int
    /// When the device's rate differs from the recording's: device → Float (recording's
    /// channels) → rate converter → recording format.
    let resampler: Resampler?

    final class Resampler {
        let converter: any SampleRateConverter
        let toFloat: FrameConverter
        let fromFloat: FrameConverter
        let floatIn: UnsafeMutablePointer<Float>
        let floatOut: UnsafeMutablePointer<Float>
        let outCapacity: Int
        /// Output frames per input frame (below 1 when a one-clock card is recorded at a lower rate).
        let ratio: Double
        /// Free ring frames a read needs: the converter may hand out a few frames more than
        /// `ratio` promises (what it held back from earlier input), and at least one device frame.
        let minimumRoom: Int
        init(_ converter: any SampleRateConverter, device: StreamFormat, target: StreamFormat, maxRead: Int) {
            self.converter = converter
            let floatDevice = StreamFormat(sampleFormat: .floatLE, sampleRate: device.sampleRate, channels: target.channels)
            let floatTarget = StreamFormat(sampleFormat: .floatLE, sampleRate: target.sampleRate, channels: target.channels)
            toFloat = FrameConverter(source: device, target: floatDevice)
            fromFloat = FrameConverter(source: floatTarget, target: target)
            ratio = Double(target.sampleRate) / Double(device.sampleRate)
            outCapacity = Int((Double(maxRead) * ratio).rounded(.up)) + 64
            minimumRoom = 64 + Int(ratio.rounded(.up))
            floatIn = .allocate(capacity: maxRead * target.channels)
            floatOut = .allocate(capacity: outCapacity * target.channels)
        }
        deinit {
            floatIn.deallocate()
            floatOut.deallocate()
        }

        /// How many input frames give at most `output` frames, capped at `cap`. Computed in
        /// floating point first: `output` may be Int.max (no duration limit), and with a ratio
        /// below 1 the quotient doesn't fit an Int (issue 10: this trapped).
        @inline(__always)
        func inputFrames(forOutput output: Int, cap: Int) -> Int {
            let d = Double(output) / ratio
            return d >= Double(cap) ? cap : Int(d)
        }
    }

    /// Opens `device` and prepares conversion into `target`. Throws (closing the device) when it
    /// can't give the target's rate and there is no rate converter, or, with `exactChannels` (a
    /// channel selection, which must never record a channel the device lacks), fewer channels
    /// than the target's (otherwise channels map by index, a mono device filling them all).
    init(device: any CaptureSource, request: CaptureRequest, target: StreamFormat,
         rateConverter: RateConverterFactory?, exactChannels: Bool = false) throws(DeviceError) {
        let g = try device.open(request)
        if exactChannels && g.format.channels < target.channels {
            device.close()
            throw .unsupported(device: device.name, parameter: "channels",
                               reason: "the device gives \(g.format.channels) channel\(g.format.channels == 1 ? "" : "s"); the channel selection needs \(target.channels)")
        }
        var resamplerConverter: (any SampleRateConverter)?
        if g.format.sampleRate != target.sampleRate {
            resamplerConverter = rateConverter?(target.channels, g.format.sampleRate, target.sampleRate)
            if resamplerConverter == nil {
                device.close()
                throw .unsupported(device: device.name, parameter: "rate",
                                   reason: "device gives \(g.format.sampleRate) Hz, not \(target.sampleRate) Hz (try a plughw: or plug PCM)")
            }
        }
        self.device = device
        self.request = request
        granted = g
        let needsScratch = g.format != target
        if needsScratch {
            converter = resamplerConverter == nil ? FrameConverter(source: g.format, target: target) : nil
            scratchFrames = Swift.max(g.periodFrames, 1024)
            scratch = .allocate(byteCount: scratchFrames * g.format.bytesPerFrame, alignment: 64)
        } else {
            converter = nil
            scratchFrames = 0
            scratch = nil
        }
        let reads = Swift.max(1, Swift.min(g.bufferFrames, needsScratch ? scratchFrames : Int.max))
        maxRead = reads
        if let c = resamplerConverter {
            resampler = Resampler(c, device: g.format, target: target, maxRead: reads)
        } else {
            resampler = nil
        }
    }

    /// Free ring frames one read needs (more than one frame only when resampling).
    var minimumRoom: Int { resampler?.minimumRoom ?? 1 }

    deinit { scratch?.deallocate() }
}

/// What one run of an engine captures with, built in `start()` once the device has said what it
/// grants, and handed to the two loops as their argument.
/// `@unchecked Sendable`: `ring` is single-producer (capture queue) single-consumer (writer
/// queue) by construction; `meter` is the writer queue's; `binding` is the capture queue's only.
final class EngineRun: @unchecked Sendable {
    let ring: FrameRing
    let meter: LevelMeter
    /// The device being captured. Capture queue only (replaced at switches).
    var binding: DeviceBinding
    /// A channel selection, the ring's format, and the writer's buffer it gathers into (writer
    /// queue only; allocated here, off both loops).
    let selection: (selection: ChannelSelection, ringFormat: StreamFormat)?
    let gathered: UnsafeMutableRawPointer?
    static let gatherFrames = 4096
    /// The frames the writer waits for before it wakes (`Configuration.writerBatchSeconds`).
    let writerBatch: Int
    /// How long the writer sleeps at most when less than a batch has gathered (a device that
    /// delivers a trickle, or none): 250 ms, or two batches when they are longer, so a batch that
    /// gathers at the device's pace is one wake-up, and what a trickle brings still reaches the
    /// file and the checkpoint well within a second.
    let writerIdleTimeoutMs: Int32

    init(ring: FrameRing, meter: LevelMeter, binding: DeviceBinding, selection: (ChannelSelection, StreamFormat)? = nil,
         writerBatch: Int = 1, writerIdleTimeoutMs: Int32) {
        self.ring = ring
        self.writerBatch = writerBatch
        self.writerIdleTimeoutMs = writerIdleTimeoutMs
        self.meter = meter
        self.binding = binding
        self.selection = selection
        gathered = selection.map {
            .allocate(byteCount: EngineRun.gatherFrames * $0.0.count * $0.1.sampleFormat.bytesPerSample, alignment: 64)
        }
    }

    deinit { gathered?.deallocate() }
}
