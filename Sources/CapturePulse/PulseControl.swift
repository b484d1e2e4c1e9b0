// A control connection to the user's sound server (PulseAudio, or PipeWire through
// pipewire-pulse): connect with a deadline, ask what it is. Never on the capture thread; each call
// makes and ends its own connection, on the calling thread, with a plain pa_mainloop driven by
// our own deadline, so a stalled server (SIGSTOPped, hung) costs at most the timeout.
import CPulse
import Glibc

/// What the server says about itself.
public struct SoundServerInfo: Sendable, Equatable {
    /// "pulseaudio", or "PulseAudio (on PipeWire 1.0.5)".
    public var serverName: String
    public var serverVersion: String
    public var defaultSource: String
    public var defaultSink: String
    /// True when PipeWire answers through pipewire-pulse.
    public var isPipeWire: Bool { serverName.lowercased().contains("pipewire") }
}

/// Why a control connection failed.
public enum PulseControlError: Error, Equatable, Sendable, CustomStringConvertible {
    /// No answer within the deadline: the server is stalled (stopped, hung) or overloaded.
    case timedOut(milliseconds: Int)
    /// The connection was refused or failed (libpulse's words).
    case failed(String)

    public var description: String {
        switch self {
        case .timedOut(let ms): "the sound server did not answer within \(ms) ms (stalled or stopped)"
        case .failed(let s): "the sound server could not be reached: \(s)"
        }
    }
}

public enum PulseControl {
    /// Connects to the server libpulse would use (PULSE_SERVER, else the runtime directory) and
    /// returns its self-description, or why not, within `timeoutMs`.
    public static func serverInfo(timeoutMs: Int = 500) -> Result<SoundServerInfo, PulseControlError> {
        guard let ml = pa_mainloop_new() else { return .failure(.failed("out of memory")) }
        defer { pa_mainloop_free(ml) }
        guard let ctx = pa_context_new(pa_mainloop_get_api(ml), "CaptureDeck") else { return .failure(.failed("out of memory")) }
        defer { pa_context_unref(ctx) }
        let deadline = nowMicros() + UInt64(timeoutMs) * 1000
        if pa_context_connect(ctx, nil, PA_CONTEXT_NOAUTOSPAWN, nil) < 0 {
            return .failure(.failed(String(cString: pa_strerror(pa_context_errno(ctx)))))
        }
        defer { pa_context_disconnect(ctx) }
        // Wait for READY (or a failure) without callbacks: the state is read after each pass.
        while true {
            let state = pa_context_get_state(ctx)
            if state == PA_CONTEXT_READY { break }
            if state == PA_CONTEXT_FAILED || state == PA_CONTEXT_TERMINATED {
                return .failure(.failed(String(cString: pa_strerror(pa_context_errno(ctx)))))
            }
            guard iterate(ml, until: deadline) else { return .failure(.timedOut(milliseconds: timeoutMs)) }
        }
        let box = InfoBox()
        let op = pa_context_get_server_info(ctx, { _, info, userdata in
            guard let info, let userdata else { return }
            let box = Unmanaged<InfoBox>.fromOpaque(userdata).takeUnretainedValue()
            func s(_ p: UnsafePointer<CChar>?) -> String { p.map { String(cString: $0) } ?? "" }
            box.info = SoundServerInfo(serverName: s(info.pointee.server_name), serverVersion: s(info.pointee.server_version),
                                       defaultSource: s(info.pointee.default_source_name), defaultSink: s(info.pointee.default_sink_name))
        }, Unmanaged.passUnretained(box).toOpaque())
        defer { if let op { pa_operation_unref(op) } }
        while box.info == nil {
            if let op, pa_operation_get_state(op) != PA_OPERATION_RUNNING { break }
            guard iterate(ml, until: deadline) else { return .failure(.timedOut(milliseconds: timeoutMs)) }
        }
        guard let info = box.info else { return .failure(.failed("no server information")) }
        return .success(info)
    }

    /// One pass of the main loop, waiting at most until `deadline`. False when the deadline passed.
    private static func iterate(_ ml: OpaquePointer, until deadline: UInt64) -> Bool {
        let now = nowMicros()
        guard now < deadline else { return false }
        if pa_mainloop_prepare(ml, Int32(clamping: deadline - now)) < 0 { return false }
        if pa_mainloop_poll(ml) < 0 { return false }
        return pa_mainloop_dispatch(ml) >= 0
    }

    private static func nowMicros() -> UInt64 {
        var ts = timespec()
        clock_gettime(CLOCK_MONOTONIC, &ts)
        return UInt64(ts.tv_sec) * 1_000_000 + UInt64(ts.tv_nsec) / 1000
    }
}

/// Carries the server-info callback's answer back (the callback runs on this thread, inside
/// pa_mainloop_dispatch).
private final class InfoBox {
    var info: SoundServerInfo?
}
