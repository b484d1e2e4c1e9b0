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

/// A source the server offers (a microphone, a line input, or the monitor of an output).
public struct SoundServerSource: Sendable, Equatable {
    /// What `-D pulse:NAME` names.
    public var name: String
    public var description: String
    /// A monitor records what an output plays, not a microphone.
    public var isMonitor: Bool
    public var sampleRate: Int
    public var channels: Int
    /// The server's properties of the source (`device.bus`, `device.vendor.name`,
    /// `device.product.name`, `device.class`, …): what it knows of the hardware behind it.
    public var properties: [String: String] = [:]
}

/// A program's playback stream on the server (a sink input).
public struct PlaybackStream: Sendable, Equatable {
    public var index: UInt32
    public var application: String
    public var muted: Bool
}

/// What the server says about itself, its sources and its playback streams.
public struct SoundServerSnapshot: Sendable, Equatable {
    public var info: SoundServerInfo
    public var sources: [SoundServerSource]
    public var playback: [PlaybackStream]
}

public enum PulseControl {
    /// Connects to the server libpulse would use (PULSE_SERVER, else the runtime directory) and
    /// returns its self-description, or why not, within `timeoutMs`.
    public static func serverInfo(timeoutMs: Int = 500) -> Result<SoundServerInfo, PulseControlError> {
        snapshot(timeoutMs: timeoutMs, lists: false).map(\.info)
    }

    /// The server's self-description, its sources and its playback streams, within `timeoutMs`.
    public static func snapshot(timeoutMs: Int = 500) -> Result<SoundServerSnapshot, PulseControlError> {
        snapshot(timeoutMs: timeoutMs, lists: true)
    }

    /// The source a recording stream of process `pid` takes from (a source output whose
    /// `application.process.id` is it: what ALSA's pulse plugin opened for us; of several, the
    /// newest, as during a switch), within `timeoutMs`; nil when that process records nothing
    /// from this server.
    public static func sourceRecorded(byProcess pid: Int32, timeoutMs: Int = 300) -> Result<SoundServerSource?, PulseControlError> {
        connected(timeoutMs: timeoutMs) { pa, ml, ctx, deadline in
            let box = StreamsBox(pa, pid: "\(pid)")
            let me = Unmanaged.passUnretained(box).toOpaque()
            var ops: [OpaquePointer] = []
            defer { for op in ops { pa.pa_operation_unref(op) } }
            if let op = pa.pa_context_get_source_output_info_list(ctx, { _, info, eol, userdata in
                guard let userdata else { return }
                let box = Unmanaged<StreamsBox>.fromOpaque(userdata).takeUnretainedValue()
                guard eol == 0, let info else { return }
                if let id = box.pa.pa_proplist_gets(info.pointee.proplist, PA_PROP_APPLICATION_PROCESS_ID), String(cString: id) == box.pid {
                    if info.pointee.index >= box.streamIndex ?? 0 { box.streamIndex = info.pointee.index; box.sourceIndex = info.pointee.source }
                }
            }, me) { ops.append(op) }
            if let op = pa.pa_context_get_source_info_list(ctx, { _, info, eol, userdata in
                guard let userdata else { return }
                let box = Unmanaged<StreamsBox>.fromOpaque(userdata).takeUnretainedValue()
                guard eol == 0, let info else { return }
                box.sources[info.pointee.index] = SoundServerSource(
                    name: text(info.pointee.name), description: text(info.pointee.description),
                    isMonitor: info.pointee.monitor_of_sink != UInt32.max, sampleRate: Int(info.pointee.sample_spec.rate),
                    channels: Int(info.pointee.sample_spec.channels))
            }, me) { ops.append(op) }
            guard ops.count == 2 else { return .failure(.failed("the server refused the request")) }
            while ops.contains(where: { pa.pa_operation_get_state($0) == PA_OPERATION_RUNNING }) {
                guard iterate(pa, ml, until: deadline) else { return .failure(.timedOut(milliseconds: timeoutMs)) }
            }
            return .success(box.sourceIndex.flatMap { box.sources[$0] })
        }
    }

    /// Mutes or unmutes a playback stream (sink input `index`), within `timeoutMs`.
    public static func setMute(sinkInput index: UInt32, _ muted: Bool, timeoutMs: Int = 500) -> Result<Void, PulseControlError> {
        connected(timeoutMs: timeoutMs) { pa, ml, ctx, deadline in
            let box = AnswerBox()
            guard let op = pa.pa_context_set_sink_input_mute(ctx, index, muted ? 1 : 0, { _, success, userdata in
                guard let userdata else { return }
                Unmanaged<AnswerBox>.fromOpaque(userdata).takeUnretainedValue().answer = success != 0
            }, Unmanaged.passUnretained(box).toOpaque()) else { return .failure(.failed("no such stream")) }
            defer { pa.pa_operation_unref(op) }
            while box.answer == nil {
                guard iterate(pa, ml, until: deadline) else { return .failure(.timedOut(milliseconds: timeoutMs)) }
            }
            return box.answer == true ? .success(()) : .failure(.failed("the server refused (no such stream?)"))
        }
    }

    private static func snapshot(timeoutMs: Int, lists: Bool) -> Result<SoundServerSnapshot, PulseControlError> {
        connected(timeoutMs: timeoutMs) { pa, ml, ctx, deadline in
            let box = InfoBox(pa)
            let me = Unmanaged.passUnretained(box).toOpaque()
            var ops: [OpaquePointer] = []
            defer { for op in ops { pa.pa_operation_unref(op) } }
            if let op = pa.pa_context_get_server_info(ctx, { _, info, userdata in
                guard let info, let userdata else { return }
                let box = Unmanaged<InfoBox>.fromOpaque(userdata).takeUnretainedValue()
                box.info = SoundServerInfo(serverName: text(info.pointee.server_name), serverVersion: text(info.pointee.server_version),
                                           defaultSource: text(info.pointee.default_source_name), defaultSink: text(info.pointee.default_sink_name))
            }, me) { ops.append(op) }
            if lists {
                if let op = pa.pa_context_get_source_info_list(ctx, { _, info, eol, userdata in
                    guard let userdata else { return }
                    let box = Unmanaged<InfoBox>.fromOpaque(userdata).takeUnretainedValue()
                    guard eol == 0, let info else { box.sourcesDone = true; return }
                    box.sources.append(SoundServerSource(name: text(info.pointee.name), description: text(info.pointee.description),
                                                         isMonitor: info.pointee.monitor_of_sink != UInt32.max /* PA_INVALID_INDEX */,
                                                         sampleRate: Int(info.pointee.sample_spec.rate),
                                                         channels: Int(info.pointee.sample_spec.channels),
                                                         properties: strings(info.pointee.proplist, box.pa)))
                }, me) { ops.append(op) }
                if let op = pa.pa_context_get_sink_input_info_list(ctx, { _, info, eol, userdata in
                    guard let userdata else { return }
                    let box = Unmanaged<InfoBox>.fromOpaque(userdata).takeUnretainedValue()
                    guard eol == 0, let info else { box.playbackDone = true; return }
                    let app = box.pa.pa_proplist_gets(info.pointee.proplist, PA_PROP_APPLICATION_NAME)
                    box.playback.append(PlaybackStream(index: info.pointee.index, application: text(app ?? info.pointee.name),
                                                       muted: info.pointee.mute != 0))
                }, me) { ops.append(op) }
            } else {
                box.sourcesDone = true
                box.playbackDone = true
            }
            while box.info == nil || !box.sourcesDone || !box.playbackDone {
                if ops.allSatisfy({ pa.pa_operation_get_state($0) != PA_OPERATION_RUNNING }) { break }
                guard iterate(pa, ml, until: deadline) else { return .failure(.timedOut(milliseconds: timeoutMs)) }
            }
            guard let info = box.info else { return .failure(.failed("no server information")) }
            return .success(SoundServerSnapshot(info: info, sources: box.sources, playback: box.playback))
        }
    }

    /// libpulse, opened the first time the server is asked something (CPulse.h says why it isn't
    /// linked); a machine without it gets the loader's one line, as a server that can't be reached.
    private static let library: Result<capdeck_pulse, PulseControlError> = {
        var why: UnsafePointer<CChar>?
        guard let table = capdeck_pulse_load(&why) else { return .failure(.failed(why.map { String(cString: $0) } ?? "libpulse.so.0 could not be loaded")) }
        return .success(table.pointee)
    }()

    /// Connects a context on a fresh main loop, waits (by our own deadline, without callbacks:
    /// the state is read after each pass) until it is ready, runs `body` with libpulse, the loop,
    /// the context and the deadline, then disconnects and frees both.
    private static func connected<T>(timeoutMs: Int,
                                     _ body: (capdeck_pulse, OpaquePointer, OpaquePointer, UInt64) -> Result<T, PulseControlError>) -> Result<T, PulseControlError> {
        let pa: capdeck_pulse
        switch library {
        case .success(let table): pa = table
        case .failure(let e): return .failure(e)
        }
        guard let ml = pa.pa_mainloop_new() else { return .failure(.failed("out of memory")) }
        defer { pa.pa_mainloop_free(ml) }
        guard let ctx = pa.pa_context_new(pa.pa_mainloop_get_api(ml), "CaptureDeck") else { return .failure(.failed("out of memory")) }
        defer { pa.pa_context_unref(ctx) }
        let deadline = nowMicros() + UInt64(timeoutMs) * 1000
        if pa.pa_context_connect(ctx, nil, PA_CONTEXT_NOAUTOSPAWN, nil) < 0 {
            return .failure(.failed(text(pa.pa_strerror(pa.pa_context_errno(ctx)))))
        }
        defer { pa.pa_context_disconnect(ctx) }
        while true {
            let state = pa.pa_context_get_state(ctx)
            if state == PA_CONTEXT_READY { break }
            if state == PA_CONTEXT_FAILED || state == PA_CONTEXT_TERMINATED {
                return .failure(.failed(text(pa.pa_strerror(pa.pa_context_errno(ctx)))))
            }
            guard iterate(pa, ml, until: deadline) else { return .failure(.timedOut(milliseconds: timeoutMs)) }
        }
        return body(pa, ml, ctx, deadline)
    }


    /// One pass of the main loop, waiting at most until `deadline`. False when the deadline passed.
    private static func iterate(_ pa: capdeck_pulse, _ ml: OpaquePointer, until deadline: UInt64) -> Bool {
        let now = nowMicros()
        guard now < deadline else { return false }
        if pa.pa_mainloop_prepare(ml, Int32(clamping: deadline - now)) < 0 { return false }
        if pa.pa_mainloop_poll(ml) < 0 { return false }
        return pa.pa_mainloop_dispatch(ml) >= 0
    }

    private static func nowMicros() -> UInt64 {
        var ts = timespec()
        clock_gettime(CLOCK_MONOTONIC, &ts)
        return UInt64(ts.tv_sec) * 1_000_000 + UInt64(ts.tv_nsec) / 1000
    }
}

/// A C string from libpulse, or "" (a free function: C callbacks can't capture context).
private func text(_ p: UnsafePointer<CChar>?) -> String { p.map { String(cString: $0) } ?? "" }

/// A property list's string values (binary ones are left out).
private func strings(_ list: OpaquePointer?, _ pa: capdeck_pulse) -> [String: String] {
    guard let list else { return [:] }
    var out: [String: String] = [:]
    var state: UnsafeMutableRawPointer?
    while let key = pa.pa_proplist_iterate(list, &state) {
        if let value = pa.pa_proplist_gets(list, key) { out[String(cString: key)] = String(cString: value) }
    }
    return out
}

/// Carries the stream and source lists back for `sourceRecorded(byProcess:)`.
private final class StreamsBox {
    let pa: capdeck_pulse
    let pid: String
    init(_ pa: capdeck_pulse, pid: String) { self.pa = pa; self.pid = pid }
    var streamIndex: UInt32?
    var sourceIndex: UInt32?
    var sources: [UInt32: SoundServerSource] = [:]
}

/// Carries a success callback's answer back.
private final class AnswerBox {
    var answer: Bool?
}

/// Carries the server-info callback's answer back (the callback runs on this thread, inside
/// pa_mainloop_dispatch).
private final class InfoBox {
    let pa: capdeck_pulse
    init(_ pa: capdeck_pulse) { self.pa = pa }
    var info: SoundServerInfo?
    var sources: [SoundServerSource] = []
    var playback: [PlaybackStream] = []
    var sourcesDone = false
    var playbackDone = false
}
