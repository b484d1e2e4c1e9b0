// What "no -D" means and why it can't be had: the checks `record` and the console make before
// (and after) opening the system's default input, so neither ever records something else.
import CaptureALSA
import CaptureCore
import CaptureDeck
import CapturePulse
import Glibc

public enum DefaultInput {
    /// Why the default input can't be used, in one line, or nil when it may be tried: a sound
    /// server that is configured but doesn't answer, or a machine with no capture device at all.
    public static func problem() -> String? {
        if let server = SoundServerProbe.diagnosis() { return server }
        if !hasAnyCaptureDevice() {
            return "no capture device here: no sound card and no sound server; name a PCM with -D (see 'capdeck devices'), or -D builtin for the built-in test signal"
        }
        return nil
    }

    /// A sound card with a capture device, or a configured sound server.
    public static func hasAnyCaptureDevice() -> Bool {
        SoundServerProbe.expected() != nil || DeviceCatalog.cards().contains { !$0.captureDevices.isEmpty }
    }

    /// The start error, with the server's diagnosis when the failed route goes to a sound server
    /// (the pulse plugin only says "Connection refused").
    public static func explain(_ error: CaptureSessionError, routes: InputRoutes?) -> String {
        let pcms = [routes?.shared, routes?.exclusive].compactMap { $0 }
        let serverPCMs = pcms.filter { DeviceCatalog.accessKind(forPCM: $0) == .soundServer }
        if !serverPCMs.isEmpty {
            if let server = SoundServerProbe.diagnosis() { return server }
            // No server for this session to reach at all (ssh without the desktop's runtime
            // directory, a box without one): the plugin only says "Connection refused".
            if SoundServerProbe.expected() == nil {
                let why = getenv("XDG_RUNTIME_DIR") == nil ? "XDG_RUNTIME_DIR is unset (an ssh or cron session?) and PULSE_SERVER too"
                    : "no server socket in XDG_RUNTIME_DIR, and no PULSE_SERVER"
                return "\(error): no sound server can be reached from here (\(why)); name a card with -D hw:N ('capdeck devices' lists what can be captured from)"
            }
            // A pulse:SOURCE the server hasn't (the plugin says "Input/output error").
            if let source = serverPCMs.lazy.compactMap(Self.namedSource).first,
               case .success(let snapshot) = PulseControl.snapshot(timeoutMs: 1000), !snapshot.sources.contains(where: { $0.name == source }) {
                return "the sound server has no source '\(source)' ('capdeck devices' lists its sources as pulse:NAME)"
            }
        }
        // A PCM that isn't there or won't open (a card number or a name mistyped): where to find
        // what is.
        switch error {
        case .device(.notFound), .device(.unavailable):
            return error.description + " ('capdeck devices' lists what can be captured from)"
        default: break
        }
        return error.description
    }

    /// The sound server's source this process records from (the server is asked: ALSA's `pulse`
    /// or `default` PCM says nothing of it), as `"Built-in Audio Analog Stereo"
    /// (alsa_input.pci-0000_00_1f.3.analog-stereo)`, a monitor as `(monitor NAME)`; nil when the
    /// server doesn't say within a second, or we record nothing from it. Loads libpulse: only
    /// for a sound-server route.
    static func serverSourceName() -> String? {
        guard case .success(let s?) = PulseControl.sourceRecorded(byProcess: getpid(), timeoutMs: 1000) else { return nil }
        return "\"\(s.description)\" (\(s.isMonitor ? "monitor " : "")\(s.name))"
    }

    /// The source a `pulse:NAME` PCM names (ALSA's pulse plugin takes `pulse:DEVICE`).
    static func namedSource(_ pcm: String) -> String? {
        guard pcm.lowercased().hasPrefix("pulse:") else { return nil }
        var name = String(pcm.dropFirst("pulse:".count))
        if name.uppercased().hasPrefix("DEVICE=") { name = String(name.dropFirst("DEVICE=".count)) }
        return name.isEmpty || name.contains(",") ? nil : name
    }
}
