// An ALSA capture PCM behind the engine's CaptureSource interface.
import CALSA
import CaptureCore
import Glibc

/// Turns ALSA's negative error codes into text (snd_strerror covers errno and ALSA's own codes).
func alsaText(_ err: Int32) -> String { String(cString: snd_strerror(err)) }

/// Process-wide ALSA setup: silences ALSA's own stderr diagnostics (we report errors ourselves).
public enum ALSA {
    private static let once: Void = { CALSA_silenceErrors() }()
    public static func initialize() { _ = once }
}

/// A capture PCM opened by name (`hw:0,0`, `plughw:1`, `dsnoop:…`, `default`, `pulse`, a test PCM).
///
/// Opened non-blocking, so a busy exclusive device is reported at once (EBUSY), never waited on.
/// `read` and `waitForData` run on the capture queue only; they call no allocating API.
/// `@unchecked Sendable`: the PCM handle is opened and closed by one control thread and read by
/// the capture queue only, never at the same time (the engine orders the hand-overs).
public final class ALSACaptureSource: CaptureSource, @unchecked Sendable {
    public let name: String
    public let accessKind: AccessKind
    public var displayName: String { "ALSA PCM \(name) (\(accessKind.rawValue))" }

    /// Whether this open claims the PCM exclusively among CaptureDeck processes (see `RouteLock`).
    public let claimsExclusively: Bool
    private var pcm: OpaquePointer?
    private var fds: UnsafeMutablePointer<pollfd>?
    private var pcmFDCount = 0
    private var lock: RouteLock?
    /// A resume is pending (the device said EAGAIN); poll would report POLLERR at once.
    private var resuming = false

    /// Formats to fall back to when the device refuses the requested one, best first.
    static let fallbackOrder: [SampleFormat] = [.floatLE, .s32LE, .s24LE, .s24_3LE, .s16LE]

    /// - Parameters:
    ///   - claimsExclusively: take CaptureDeck's exclusive-route lock for this PCM, so a second
    ///     exclusive opener gets EBUSY even where the PCM itself (a plugin or test PCM) would allow
    ///     sharing. Hardware PCMs give EBUSY on their own as well.
    public init(name: String, accessKind: AccessKind? = nil, claimsExclusively: Bool = false) {
        ALSA.initialize()
        self.name = name
        self.accessKind = accessKind ?? DeviceCatalog.accessKind(forPCM: name)
        self.claimsExclusively = claimsExclusively
    }

    deinit { close() }

    static func alsaFormat(_ f: SampleFormat) -> snd_pcm_format_t {
        switch f {
        case .s16LE: SND_PCM_FORMAT_S16_LE
        case .s24LE: SND_PCM_FORMAT_S24_LE
        case .s24_3LE: SND_PCM_FORMAT_S24_3LE
        case .s32LE: SND_PCM_FORMAT_S32_LE
        case .floatLE: SND_PCM_FORMAT_FLOAT_LE
        }
    }

    public func open(_ request: CaptureRequest) throws(DeviceError) -> GrantedParameters {
        close()
        if claimsExclusively {
            lock = try RouteLock(pcm: name)
        }
        var handle: OpaquePointer?
        let err = snd_pcm_open(&handle, name, SND_PCM_STREAM_CAPTURE, CALSA_nonblockMode())
        if err < 0 {
            lock = nil
            if err == -EBUSY { throw .busy(device: name) }
            if Errno(-err).isDescriptorLimit { throw .systemLimit(device: name, reason: Errno(-err).description) }
            if err == -ENOENT || err == -ENODEV || err == -ENXIO { throw .notFound(device: name, reason: alsaText(err)) }
            throw .unavailable(device: name, reason: alsaText(err))
        }
        pcm = handle
        do throws(DeviceError) {
            let granted = try negotiate(request)
            try setupPoll()
            return granted
        } catch {
            close()
            throw error
        }
    }

    private func check(_ r: Int32, _ what: String) throws(DeviceError) {
        if r < 0 { throw .unsupported(device: name, parameter: what, reason: alsaText(r)) }
    }

    private func negotiate(_ request: CaptureRequest) throws(DeviceError) -> GrantedParameters {
        var hw: OpaquePointer?
        guard snd_pcm_hw_params_malloc(&hw) == 0, let hw else {
            throw .unavailable(device: name, reason: "out of memory")
        }
        defer { snd_pcm_hw_params_free(hw) }
        try check(snd_pcm_hw_params_any(pcm, hw), "hardware parameters")
        try check(snd_pcm_hw_params_set_access(pcm, hw, SND_PCM_ACCESS_RW_INTERLEAVED), "access RW_INTERLEAVED")

        // Format: the requested one, else the best the device offers (converted in the engine).
        var format = request.format.sampleFormat
        if snd_pcm_hw_params_test_format(pcm, hw, ALSACaptureSource.alsaFormat(format)) != 0 {
            guard let alt = ALSACaptureSource.fallbackOrder.first(where: {
                snd_pcm_hw_params_test_format(pcm, hw, ALSACaptureSource.alsaFormat($0)) == 0
            }) else {
                throw .unsupported(device: name, parameter: "format",
                                   reason: "none of S16_LE, S24_LE, S24_3LE, S32_LE, FLOAT_LE is offered")
            }
            format = alt
        }
        try check(snd_pcm_hw_params_set_format(pcm, hw, ALSACaptureSource.alsaFormat(format)), "format \(format.rawValue)")

        var channels = UInt32(request.format.channels)
        if snd_pcm_hw_params_set_channels(pcm, hw, channels) < 0 {
            try check(snd_pcm_hw_params_set_channels_near(pcm, hw, &channels),
                      "channels \(request.format.channels)")
        }

        _ = snd_pcm_hw_params_set_rate_resample(pcm, hw, 1)
        var rate = UInt32(request.format.sampleRate)
        var dir: Int32 = 0
        try check(snd_pcm_hw_params_set_rate_near(pcm, hw, &rate, &dir), "rate \(request.format.sampleRate) Hz")

        var periodUs = UInt32(request.periodMicros ?? 10_000)
        dir = 0
        try check(snd_pcm_hw_params_set_period_time_near(pcm, hw, &periodUs, &dir), "period time")
        var bufferUs = UInt32(request.bufferMicros ?? Swift.max(Int(periodUs) * 4, 200_000))
        dir = 0
        try check(snd_pcm_hw_params_set_buffer_time_near(pcm, hw, &bufferUs, &dir), "buffer time")

        try check(snd_pcm_hw_params(pcm, hw), "installing hardware parameters")

        var period: snd_pcm_uframes_t = 0
        var buffer: snd_pcm_uframes_t = 0
        dir = 0
        _ = snd_pcm_hw_params_get_period_size(hw, &period, &dir)
        _ = snd_pcm_hw_params_get_buffer_size(hw, &buffer)

        var sw: OpaquePointer?
        guard snd_pcm_sw_params_malloc(&sw) == 0, let sw else {
            throw .unavailable(device: name, reason: "out of memory")
        }
        defer { snd_pcm_sw_params_free(sw) }
        try check(snd_pcm_sw_params_current(pcm, sw), "software parameters")
        try check(snd_pcm_sw_params_set_avail_min(pcm, sw, period), "avail_min")
        // We start the stream ourselves (snd_pcm_start), after the ring is ready.
        try check(snd_pcm_sw_params_set_start_threshold(pcm, sw, buffer * 2), "start threshold")
        try check(snd_pcm_sw_params(pcm, sw), "installing software parameters")

        var granted = GrantedParameters(
            format: StreamFormat(sampleFormat: format, sampleRate: Int(rate), channels: Int(channels)),
            periodFrames: Int(period), bufferFrames: Int(buffer), access: "RW_INTERLEAVED, non-blocking")
        granted.channelNames = channelNames()
        return granted
    }

    /// The PCM's channel map as names (`snd_pcm_get_chmap`, known once the parameters are
    /// installed): nil when it has none, or names none of its channels (UNKNOWN, NA).
    private func channelNames() -> [String]? {
        guard let map = snd_pcm_get_chmap(pcm) else { return nil }
        defer { free(map) }
        let raw = UnsafeRawPointer(map)
        let count = Int(raw.load(as: UInt32.self))
        let names = (0..<count).map { i -> String in
            let pos = raw.load(fromByteOffset: 4 + 4 * i, as: UInt32.self)
            guard pos > SND_CHMAP_NA.rawValue, let name = snd_pcm_chmap_name(snd_pcm_chmap_position(pos)) else { return "" }
            return String(cString: name)
        }
        return names.contains { !$0.isEmpty } ? names : nil
    }

    private func setupPoll() throws(DeviceError) {
        let count = Int(snd_pcm_poll_descriptors_count(pcm))
        guard count > 0 else { throw .unavailable(device: name, reason: "no poll descriptors") }
        let p = UnsafeMutablePointer<pollfd>.allocate(capacity: count + 1)
        p.initialize(repeating: pollfd(), count: count + 1)
        let filled = snd_pcm_poll_descriptors(pcm, p, UInt32(count))
        if filled < 0 {
            p.deallocate()
            throw .unavailable(device: name, reason: alsaText(filled))
        }
        fds = p
        pcmFDCount = Int(filled)
    }

    public func start() throws(DeviceError) {
        guard let pcm else { throw .unavailable(device: name, reason: "not open") }
        let r = snd_pcm_start(pcm)
        if r < 0 { throw .unavailable(device: name, reason: "start: \(alsaText(r))") }
    }

    public func read(into buffer: UnsafeMutableRawPointer, frames: Int) -> DeviceRead {
        guard let pcm else { return .failed(.lost(device: name, reason: "not open")) }
        let n = snd_pcm_readi(pcm, buffer, snd_pcm_uframes_t(frames))
        if n >= 0 {
            resuming = false  // (a stream that delivers is not suspended, whoever resumed it)
            return .frames(Int(n))
        }
        let err = Int32(n)
        switch -err {
        case EAGAIN:
            return .frames(0)
        case EPIPE:
            // The one recovery path: re-prepare, restart, and only then fail.
            let r = snd_pcm_prepare(pcm)
            if r < 0 { return .failed(.lost(device: name, reason: alsaText(r))) }
            let s = snd_pcm_start(pcm)
            if s < 0 { return .failed(.lost(device: name, reason: "restart: \(alsaText(s))")) }
            return .overrun
        case ESTRPIPE:
            // Suspended (power management). Try to resume once, without sleeping on this
            // real-time thread: EAGAIN means "not yet", so report nothing and let the loop wait
            // (stop stays prompt); other answers mean the driver can't resume: prepare and restart.
            let r = snd_pcm_resume(pcm)
            if r == -EAGAIN {
                resuming = true  // waitForData then sleeps 10 ms on the wake descriptor only
                return .frames(0)
            }
            resuming = false
            if r < 0 {
                let p = snd_pcm_prepare(pcm)
                if p < 0 { return .failed(.lost(device: name, reason: alsaText(p))) }
            }
            if snd_pcm_state(pcm) != SND_PCM_STATE_RUNNING {
                let s = snd_pcm_start(pcm)
                if s < 0 { return .failed(.lost(device: name, reason: "restart: \(alsaText(s))")) }
            }
            return .suspended
        default:
            return .failed(.lost(device: name, reason: alsaText(err)))
        }
    }

    public func waitForData(wakeFD: Int32, timeoutMs: Int32) -> DeviceWait {
        guard let pcm, let fds else { return .failed(.lost(device: name, reason: "not open")) }
        let count = pcmFDCount
        fds[count] = pollfd(fd: wakeFD, events: Int16(POLLIN), revents: 0)
        if resuming {
            let r = poll(fds + count, 1, Swift.min(10, timeoutMs < 0 ? 10 : timeoutMs))
            return r > 0 ? .woken : .timedOut
        }
        for i in 0..<count { fds[i].revents = 0 }
        let polled = retryingInterrupts { Int(poll(fds, nfds_t(count + 1), timeoutMs)) }
        if polled.failed { return .failed(.lost(device: name, reason: "poll: \(polled.error)")) }
        let r = polled.value
        if r == 0 { return .timedOut }
        if fds[count].revents != 0 { return .woken }
        var revents: UInt16 = 0
        let e = snd_pcm_poll_descriptors_revents(pcm, fds, UInt32(count), &revents)
        if e < 0 { return .failed(.lost(device: name, reason: alsaText(e))) }
        // POLLERR means an xrun or a lost device: the next read reports which.
        return .ready
    }

    public func close() {
        if let pcm {
            snd_pcm_drop(pcm)
            snd_pcm_close(pcm)
            self.pcm = nil
        }
        if let fds {
            fds.deallocate()
            self.fds = nil
        }
        lock = nil
    }
}

/// CaptureDeck's claim on an exclusive route: an flock on a file named after the PCM in the
/// user's runtime directory, held while the PCM is open. Released by close, exit or crash. The
/// file holds the holder's pid, so another CaptureDeck can tell who holds a route (`holder`).
/// (Public for `AVCaptureDevice.lockForConfiguration`, whose lock is one of these on another name.)
public final class RouteLock {
    private let fd: Int32

    static func path(pcm: String) -> String {
        let safe = String(pcm.map { $0.isLetter || $0.isNumber || $0 == "." || $0 == "-" ? $0 : "_" })
        return directory() + "/" + safe + ".lock"
    }

    /// Who holds `pcm`'s lock: nil when nobody does (or it can't be told), else the pid.
    public static func holder(pcm: String) -> pid_t? {
        let fd = open(path(pcm: pcm), O_RDONLY | O_CLOEXEC | O_NOFOLLOW)
        guard fd >= 0 else { return nil }
        defer { close(fd) }
        // A shared lock is refused only while someone holds the exclusive one.
        if flock(fd, LOCK_SH | LOCK_NB) == 0 { flock(fd, LOCK_UN); return nil }
        var buf = [UInt8](repeating: 0, count: 16)
        let n = pread(fd, &buf, 15, 0)
        guard n > 0 else { return nil }
        return pid_t(String(decoding: buf[0..<n], as: UTF8.self).trimmingWhitespace)
    }

    static func directory() -> String {
        if let xdg = getenv("XDG_RUNTIME_DIR").map({ String(cString: $0) }), xdg.hasPrefix("/") {
            return xdg + "/capdeck"
        }
        return "/tmp/capdeck-\(getuid())"
    }

    /// - Parameter lock: flock(2), replaceable in tests (a filesystem without locks can't be had).
    public init(pcm: String, lock: (Int32, Int32) -> Int32 = { flock($0, $1) }) throws(DeviceError) {
        mkdir(RouteLock.directory(), 0o700)
        let path = RouteLock.path(pcm: pcm)
        let fd: Int32
        do throws(Errno) {
            fd = try valueOrErrno { open(path, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0o600) }
        } catch {
            throw error.isDescriptorLimit ? .systemLimit(device: pcm, reason: "lock \(path): \(error)")
                                          : .unavailable(device: pcm, reason: "lock \(path): \(error)")
        }
        do throws(Errno) {
            try valueOrErrno { lock(fd, LOCK_EX | LOCK_NB) }
        } catch {
            close(fd)
            // Only "someone holds it" is busy; anything else (no locks on this filesystem) is said
            // as it is, so the session doesn't wait for a holder that doesn't exist.
            if error == .wouldBlock { throw .busy(device: pcm) }
            throw .unavailable(device: pcm, reason: "can't lock \(path) (\(error)): the runtime directory's filesystem may not support locks")
        }
        let pid = Array("\(getpid())\n".utf8)
        _ = ftruncate(fd, 0)
        _ = pwrite(fd, pid, pid.count, 0)
        self.fd = fd
    }

    deinit { close(fd) }  // closing releases the flock
}

extension String {
    fileprivate var trimmingWhitespace: String {
        String(drop { $0.isWhitespace }.reversed().drop { $0.isWhitespace }.reversed())
    }
}
