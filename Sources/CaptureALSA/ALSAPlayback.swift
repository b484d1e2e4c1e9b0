// An ALSA playback PCM for monitoring: small periods, non-blocking writes with bounded waits,
// underrun recovery.
import CALSA
import CaptureCore
import Glibc

/// Why a playback PCM could not be opened or written.
public enum PlaybackError: Error, Equatable, Sendable, CustomStringConvertible {
    /// Another program holds the device (EBUSY).
    case busy(device: String)
    /// No such PCM, or it can't be opened for playback.
    case cannotOpen(device: String, reason: String)
    /// The device can't play the stream's format, rate or channels as they are.
    case unsupported(device: String, parameter: String, reason: String)
    /// The device went away or broke while playing.
    case lost(device: String, reason: String)

    public var description: String {
        switch self {
        case .busy(let d): "\(d): device is busy (in use by another program)"
        case .cannotOpen(let d, let r): "\(d): cannot open for playback: \(r)"
        case .unsupported(let d, let p, let r): "\(d): \(p): \(r)"
        case .lost(let d, let r): "\(d): playback device lost: \(r)"
        }
    }
}

/// A playback PCM opened by name (`default`, which on a desktop is the sound server, `hw:0,0`,
/// `plughw:1`, a test PCM), in exactly the stream's format, rate and channels.
///
/// Low latency: periods of about `periodMicros` (10 ms), a buffer of `periods` of them, and the
/// device starts once two periods are queued. Opened non-blocking, so a busy device is reported
/// at once and a write never waits longer than `waitMs` on a device that stalls: the caller's
/// thread stays responsive to stop. Not for the capture thread (ALSA's plugins may allocate).
///
/// `@unchecked Sendable`: used by one thread at a time (the preview output's playback thread).
public final class ALSAPlayback: @unchecked Sendable {
    public let name: String
    public let format: StreamFormat
    /// Granted by the device.
    public let periodFrames: Int
    public let bufferFrames: Int
    private var pcm: OpaquePointer?
    /// The configuration the PCM was opened from, when it isn't the global one.
    private var config: OpaquePointer?

    /// What one `write` did.
    public enum WriteResult: Equatable, Sendable {
        /// Frames the device took (0: no room within the wait).
        case wrote(Int)
        /// The device ran dry (or was suspended) before this write: it was prepared again and
        /// took nothing; write the same frames again.
        case underrun
        case failed(PlaybackError)
    }

    /// - Parameter configurationFile: an ALSA configuration file read on top of the system's for
    ///   this open only (PCM definitions of the caller's own), as `snd_pcm_open_lconf` allows; nil
    ///   uses the global configuration (`~/.asoundrc`, `ALSA_CONFIG_PATH`).
    public init(name: String, format: StreamFormat, periodMicros: Int = 10_000, periods: Int = 4,
                configurationFile: String? = nil) throws(PlaybackError) {
        ALSA.initialize()
        self.name = name
        self.format = format
        var local: OpaquePointer?
        if let configurationFile {
            local = try ALSAPlayback.configuration(adding: configurationFile, device: name)
        }
        var handle: OpaquePointer?
        let err = local.map { snd_pcm_open_lconf(&handle, name, SND_PCM_STREAM_PLAYBACK, CALSA_nonblockMode(), $0) }
            ?? snd_pcm_open(&handle, name, SND_PCM_STREAM_PLAYBACK, CALSA_nonblockMode())
        guard err >= 0, let handle else {
            if let local { snd_config_delete(local) }
            if err == -EBUSY { throw .busy(device: name) }
            throw .cannotOpen(device: name, reason: alsaText(err))
        }
        do throws(PlaybackError) {
            (periodFrames, bufferFrames) = try ALSAPlayback.negotiate(handle, name: name, format: format,
                                                                       periodMicros: periodMicros, periods: periods)
        } catch {
            snd_pcm_close(handle)
            if let local { snd_config_delete(local) }
            throw error
        }
        pcm = handle
        config = local
    }

    deinit { close() }

    /// A copy of the global configuration with `file` loaded into it.
    private static func configuration(adding file: String, device: String) throws(PlaybackError) -> OpaquePointer {
        var top: OpaquePointer?
        var r = snd_config_update_ref(&top)
        guard r >= 0, let top else { throw .cannotOpen(device: device, reason: "ALSA configuration: \(alsaText(r))") }
        var copy: OpaquePointer?
        r = snd_config_copy(&copy, top)
        snd_config_unref(top)
        guard r >= 0, let copy else { throw .cannotOpen(device: device, reason: "ALSA configuration: \(alsaText(r))") }
        var input: OpaquePointer?
        r = snd_input_stdio_open(&input, file, "r")
        guard r >= 0, let input else {
            snd_config_delete(copy)
            throw .cannotOpen(device: device, reason: "\(file): \(alsaText(r))")
        }
        r = snd_config_load(copy, input)
        snd_input_close(input)
        guard r >= 0 else {
            snd_config_delete(copy)
            throw .cannotOpen(device: device, reason: "\(file): \(alsaText(r))")
        }
        return copy
    }

    private static func negotiate(_ pcm: OpaquePointer, name: String, format: StreamFormat, periodMicros: Int,
                                  periods: Int) throws(PlaybackError) -> (period: Int, buffer: Int) {
        func check(_ r: Int32, _ what: String) throws(PlaybackError) {
            if r < 0 { throw .unsupported(device: name, parameter: what, reason: alsaText(r)) }
        }
        var hw: OpaquePointer?
        guard snd_pcm_hw_params_malloc(&hw) == 0, let hw else { throw .cannotOpen(device: name, reason: "out of memory") }
        defer { snd_pcm_hw_params_free(hw) }
        try check(snd_pcm_hw_params_any(pcm, hw), "hardware parameters")
        try check(snd_pcm_hw_params_set_access(pcm, hw, SND_PCM_ACCESS_RW_INTERLEAVED), "access RW_INTERLEAVED")
        try check(snd_pcm_hw_params_set_format(pcm, hw, ALSACaptureSource.alsaFormat(format.sampleFormat)),
                  "format \(format.sampleFormat.rawValue)")
        try check(snd_pcm_hw_params_set_channels(pcm, hw, UInt32(format.channels)), "channels \(format.channels)")
        _ = snd_pcm_hw_params_set_rate_resample(pcm, hw, 1)
        try check(snd_pcm_hw_params_set_rate(pcm, hw, UInt32(format.sampleRate), 0), "rate \(format.sampleRate) Hz")
        var periodUs = UInt32(periodMicros)
        var dir: Int32 = 0
        try check(snd_pcm_hw_params_set_period_time_near(pcm, hw, &periodUs, &dir), "period time")
        var bufferUs = UInt32(periodMicros * Swift.max(2, periods))
        dir = 0
        try check(snd_pcm_hw_params_set_buffer_time_near(pcm, hw, &bufferUs, &dir), "buffer time")
        try check(snd_pcm_hw_params(pcm, hw), "installing hardware parameters")
        var period: snd_pcm_uframes_t = 0
        var buffer: snd_pcm_uframes_t = 0
        dir = 0
        _ = snd_pcm_hw_params_get_period_size(hw, &period, &dir)
        _ = snd_pcm_hw_params_get_buffer_size(hw, &buffer)

        var sw: OpaquePointer?
        guard snd_pcm_sw_params_malloc(&sw) == 0, let sw else { throw .cannotOpen(device: name, reason: "out of memory") }
        defer { snd_pcm_sw_params_free(sw) }
        try check(snd_pcm_sw_params_current(pcm, sw), "software parameters")
        try check(snd_pcm_sw_params_set_avail_min(pcm, sw, period), "avail_min")
        // Start once two periods are queued: a period of cushion against the feed's jitter.
        try check(snd_pcm_sw_params_set_start_threshold(pcm, sw, Swift.min(buffer, 2 * period)), "start threshold")
        try check(snd_pcm_sw_params(pcm, sw), "installing software parameters")
        return (Int(period), Int(buffer))
    }

    /// Writes up to `count` frames, waiting at most `waitMs` for room.
    public func write(_ frames: UnsafeRawPointer, count: Int, waitMs: Int32 = 100) -> WriteResult {
        guard let pcm else { return .failed(.lost(device: name, reason: "not open")) }
        var n = snd_pcm_writei(pcm, frames, snd_pcm_uframes_t(count))
        if n == -snd_pcm_sframes_t(EAGAIN) {
            let w = snd_pcm_wait(pcm, waitMs)
            n = w < 0 ? snd_pcm_sframes_t(w) : w == 0 ? 0 : snd_pcm_writei(pcm, frames, snd_pcm_uframes_t(count))
            if n == -snd_pcm_sframes_t(EAGAIN) { n = 0 }
        }
        if n >= 0 { return .wrote(Int(n)) }
        let err = Int32(n)
        if err == -EPIPE || err == -ESTRPIPE {
            // Underrun (or suspend): prepare again; the device restarts at the start threshold.
            let r = snd_pcm_recover(pcm, err, 1)
            return r < 0 ? .failed(.lost(device: name, reason: alsaText(r))) : .underrun
        }
        return .failed(.lost(device: name, reason: alsaText(err)))
    }

    /// Frames written that the device has not played yet (`snd_pcm_delay`); 0 when not running.
    public var delayFrames: Int {
        guard let pcm else { return 0 }
        var d: snd_pcm_sframes_t = 0
        return snd_pcm_delay(pcm, &d) == 0 ? Swift.max(0, Int(d)) : 0
    }

    /// Stops at once, dropping what is queued.
    public func stop() {
        guard let pcm else { return }
        snd_pcm_drop(pcm)
        snd_pcm_prepare(pcm)
    }

    public func close() {
        if let pcm {
            snd_pcm_drop(pcm)
            snd_pcm_close(pcm)
            self.pcm = nil
        }
        if let config {
            snd_config_delete(config)
            self.config = nil
        }
    }
}
