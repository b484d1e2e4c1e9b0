// AVCaptureAudioDataOutput: captured audio as CMSampleBuffers, to a delegate on its queue.
import CaptureCore
import CaptureDeck
import Dispatch
import Foundation
import Glibc

/// Receives the sample buffers of an `AVCaptureAudioDataOutput`. Its method is optional, as
/// Apple's is (a default that does nothing).
public protocol AVCaptureAudioDataOutputSampleBufferDelegate: NSObjectProtocol {
    /// A new buffer of captured audio, on the queue given with the delegate.
    func captureOutput(_ output: AVCaptureOutput, didOutput sampleBuffer: CMSampleBuffer, from connection: AVCaptureConnection)
}

extension AVCaptureAudioDataOutputSampleBufferDelegate {
    public func captureOutput(_ output: AVCaptureOutput, didOutput sampleBuffer: CMSampleBuffer, from connection: AVCaptureConnection) {}
}

/// Hands captured audio to a delegate as `CMSampleBuffer`s (Apple's `AVCaptureAudioDataOutput`).
///
/// As Apple's: buffers arrive in order on the (serial) queue given with the delegate; when that
/// queue is blocked, late buffers are dropped rather than queued without bound — CaptureDeck keeps
/// at most `CaptureAudioDataOutput`'s bound in flight and counts the rest in `droppedSampleBuffers`
/// (a CaptureDeck extension); a consumer sees the gap in the presentation timestamps. No callback
/// starts after `stopRunning()`, `removeOutput(_:)` or a nil delegate takes effect (one already
/// running finishes). The delegate is held weakly (keep your own reference, as on Apple's).
///
/// Timestamps: the presentation timestamp counts in the sample rate (timescale = rate) on the
/// capture clock — CLOCK_MONOTONIC at the session's first frame plus the frames since — so it is
/// continuous across buffers (each one's PTS + duration is the next one's) and jumps only where
/// audio was dropped or the session stopped.
public class AVCaptureAudioDataOutput: AVCaptureOutput, @unchecked Sendable {
    private let data: CaptureAudioDataOutput
    private weak var _delegate: (any AVCaptureAudioDataOutputSampleBufferDelegate)?
    private var _queue: DispatchQueue?
    private var _settings: [String: Any]?
    /// Whether buffers may reach the delegate: false from `stopRunning()`/`removeOutput` until the
    /// next start or add, so no delegate call starts once those return.
    private var open = true
    /// The threads inside a delegate call now (see `quiesce`).
    private var delivering: [pthread_t] = []
    /// The PTS timeline: stream frame → PTS value (in the rate), rebased when the capture clock
    /// and the frame count part (a stop and start, a drop).
    private var timeline: (rate: Int, offset: Int64)?

    public init() {
        let d = CaptureAudioDataOutput()
        data = d
        super.init(core: d)
    }

    /// Sets the delegate and the serial queue it is called on. The queue may be nil only with a nil
    /// delegate (Apple's rule; a violation is a programmer error, as there).
    public func setSampleBufferDelegate(_ sampleBufferDelegate: (any AVCaptureAudioDataOutputSampleBufferDelegate)?,
                                        queue sampleBufferCallbackQueue: DispatchQueue?) {
        precondition(sampleBufferDelegate == nil || sampleBufferCallbackQueue != nil,
                     "AVCaptureAudioDataOutput.setSampleBufferDelegate: the queue may be nil only when the delegate is")
        lock.withLock {
            _delegate = sampleBufferDelegate
            _queue = sampleBufferDelegate == nil ? nil : sampleBufferCallbackQueue
        }
        if let queue = sampleBufferCallbackQueue, sampleBufferDelegate != nil {
            data.setSampleBufferHandler(queue: queue) { [weak self] buffer in self?.deliver(buffer) }
        } else {
            data.setSampleBufferHandler(queue: .global(), nil)
        }
    }

    public var sampleBufferDelegate: (any AVCaptureAudioDataOutputSampleBufferDelegate)? { lock.withLock { _delegate } }
    public var sampleBufferCallbackQueue: DispatchQueue? { lock.withLock { _queue } }

    /// CaptureDeck extension: buffers dropped because the delegate's queue was still busy.
    public var droppedSampleBuffers: Int { data.droppedBufferCount }

    /// The format buffers are delivered in (nil: the session's capture format, Apple's "device's
    /// native format"). Linux: linear PCM only, little-endian and interleaved; the sample format
    /// (16/24/32-bit integer or 32-bit float) is converted exactly; `AVNumberOfChannelsKey` maps
    /// channels by index (a mono input fills every channel, channels beyond the input's are
    /// silent, extra input channels are left out); `AVSampleRateKey`, when given, must be the
    /// session's (choose the rate with `sessionPreset`) — buffers keep the session's rate
    /// otherwise, and their format description says so. Settings CaptureDeck can't produce
    /// (another format, big-endian, non-interleaved) are a programmer error, as Apple's
    /// unsupported settings raise an exception.
    public var audioSettings: [String: Any]! {
        get { lock.withLock { _settings } }
        set {
            if let newValue {
                let base = sessionFormat() ?? StreamFormat(sampleFormat: .s16LE, sampleRate: 48_000, channels: 2)
                do throws(AudioSettingsError) { _ = try AudioSettings.streamFormat(from: newValue, base: base) } catch {
                    preconditionFailure("AVCaptureAudioDataOutput.audioSettings: \(error.message)")
                }
            }
            lock.withLock { _settings = newValue }
        }
    }

    /// Settings for an asset writer writing `outputFileType` from this output's buffers: linear PCM
    /// in the format delivered (for .wav little-endian, for .aiff big-endian, .caf either), nil for
    /// types CaptureDeck can't describe.
    public func recommendedAudioSettingsForAssetWriter(writingTo outputFileType: AVFileType) -> [String: Any]? {
        guard let format = deliveredFormat() else { return nil }
        return AudioSettings.recommended(for: format, fileType: outputFileType)
    }

    /// The session's capture format (nil before the session has an input).
    private func sessionFormat() -> StreamFormat? {
        guard let session, let rate = session.sampleRate,
              let input = session.captureDeckSession.inputs.first else { return nil }
        return StreamFormat(sampleFormat: input.format.sampleFormat, sampleRate: rate, channels: session.channelCount)
    }

    /// The stream format buffers are delivered in now (nil before the session has an input).
    func deliveredFormat() -> StreamFormat? { sessionFormat().map { target(for: $0) } }

    /// What `audioSettings` asks of buffers in `base`: its sample format and channels, at
    /// `base`'s rate (CaptureDeck's data outputs don't resample: see `audioSettings`).
    private func target(for base: StreamFormat) -> StreamFormat {
        guard let settings = lock.withLock({ _settings }),
              var format = try? AudioSettings.streamFormat(from: settings, base: base) else { return base }
        format.sampleRate = base.sampleRate
        return format
    }

    /// No delegate call starts from now on, and none is running on another thread when this
    /// returns (one on this thread — a delegate that stops the session — carries on). The core
    /// already starts no handler after a stop; this closes the window between its handler and
    /// the delegate call.
    func quiesce() {
        lock.withLock { open = false }
        let me = pthread_self()
        while lock.withLock({ delivering.contains { pthread_equal($0, me) == 0 } }) { usleep(500) }
    }

    /// Buffers may reach the delegate again (the session starts, or the output is added).
    func reopen() { lock.withLock { open = true } }

    /// On the delegate's queue: one buffer from the session, converted and handed over.
    private func deliver(_ buffer: AudioSampleBuffer) {
        guard isFed, let connection = connections.first else { return }
        let me = pthread_self()
        guard let delegate = lock.withLock({ () -> (any AVCaptureAudioDataOutputSampleBufferDelegate)? in
            guard open, let d = _delegate else { return nil }
            delivering.append(me)
            return d
        }) else { return }
        defer { lock.withLock { if let i = delivering.firstIndex(where: { pthread_equal($0, me) != 0 }) { delivering.remove(at: i) } } }
        var out = buffer
        do {
            let format = target(for: buffer.format)
            if format != buffer.format {
                var bytes = [UInt8](repeating: 0, count: format.bytesPerFrame * buffer.frameCount)
                let converter = FrameConverter(source: buffer.format, target: format)
                buffer.bytes.withUnsafeBytes { src in
                    bytes.withUnsafeMutableBytes { dst in converter.convert(from: src.baseAddress!, to: dst.baseAddress!, frames: buffer.frameCount) }
                }
                out.format = format
                out.bytes = bytes
            }
        }
        if let gains = connection.channelGains(count: out.format.channels) { Self.apply(gains, to: &out) }
        let pts = presentationTime(of: buffer)
        delegate.captureOutput(self, didOutput: CMSampleBuffer(audio: out, presentationTimeStamp: pts), from: connection)
    }

    /// The PTS of `buffer`: on the timeline (continuous), rebased when the capture clock says the
    /// stream moved on without frames (more than 100 ms off: a stop and start, or drops).
    private func presentationTime(of buffer: AudioSampleBuffer) -> CMTime {
        let rate = buffer.format.sampleRate
        let clock = Int64((Double(buffer.hostTimeNanos) * Double(rate) / 1e9).rounded())
        let value = lock.withLock { () -> Int64 in
            if let t = timeline, t.rate == rate {
                let onTimeline = t.offset + Int64(buffer.startFrame)
                if abs(onTimeline - clock) <= Int64(rate / 10) { return onTimeline }
            }
            timeline = (rate, clock - Int64(buffer.startFrame))
            return clock
        }
        return CMTime(value: value, timescale: CMTimeScale(rate))
    }

    /// Scales each channel of `buffer` by its gain (0 mutes).
    private static func apply(_ gains: [Float], to buffer: inout AudioSampleBuffer) {
        let f = buffer.format.sampleFormat, bytes = f.bytesPerSample, channels = buffer.format.channels
        let frames = buffer.frameCount
        buffer.bytes.withUnsafeMutableBytes { raw in
            guard let base = raw.baseAddress else { return }
            for frame in 0..<frames {
                for ch in 0..<channels where gains[ch] != 1 {
                    let p = base + (frame * channels + ch) * bytes
                    if f.isFloat {
                        SampleCodec.storeFloat(SampleCodec.loadFloat(p, f) * gains[ch], p, f)
                    } else {
                        SampleCodec.storeInt32(Int32((Double(SampleCodec.loadInt32(p, f)) * Double(gains[ch])).rounded()), p, f)
                    }
                }
            }
        }
    }
}

extension AudioSettings {
    /// Linear PCM settings for writing `format` to `fileType`: the sample format and layout the
    /// type holds (AIFF is big-endian; WAV little-endian; CAF and AIFC take the delivered
    /// little-endian). nil for types that aren't linear PCM containers (m4a, mp4, mov…).
    static func recommended(for format: StreamFormat, fileType: AVFileType) -> [String: Any]? {
        var settings = dictionary(for: format)
        switch fileType {
        case .wav, .caf, .aifc: break
        case .aiff: settings[AVLinearPCMIsBigEndianKey] = NSNumber(value: true)
        default: return nil
        }
        return settings
    }
}
