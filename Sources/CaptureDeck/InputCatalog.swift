// Everything a user can capture from, in one list: the sound server's sources (named
// `pulse:SOURCE` with -D), ALSA's PCMs and the cards' views, the built-in signal; and what
// `record` without -D uses, truthfully.
import CaptureALSA
import CaptureCore
import CapturePulse

/// What `record` and the console use when no device is named.
public enum DefaultInputChoice: Sendable, Equatable {
    /// A sound server answers: its default source, through the ALSA pulse plugin (`pulse`).
    case server(SoundServerInfo)
    /// No server: the first card with a capture device (`plughw:`/`dsnoop:` of it).
    case card(SoundCard, device: Int)
    /// A server is configured but doesn't answer: nothing is used (one line says why).
    case unreachableServer(String)
    /// No card and no server.
    case nothing

    public var routes: InputRoutes? {
        switch self {
        case .server: return InputRoutes(shared: "pulse")
        case .card(let c, let dev):
            let spec = "CARD=\(c.id),DEV=\(dev)"
            return InputRoutes(exclusive: "plughw:" + spec, shared: "dsnoop:" + spec)
        case .unreachableServer, .nothing: return nil
        }
    }

    /// One line for `capdeck devices`.
    public var summary: String {
        switch self {
        case .server(let i):
            let source = i.defaultSource.isEmpty ? "" : " \(i.defaultSource)"
            return "pulse: the sound server's default source\(source) (\(i.serverName) \(i.serverVersion))"
        case .card(let c, let dev): return "plughw:CARD=\(c.id),DEV=\(dev) (exclusive) or dsnoop:CARD=\(c.id),DEV=\(dev) (shared): \(c.name), the first card that captures"
        case .unreachableServer(let why): return "nothing: \(why)"
        case .nothing: return "nothing: no sound card and no sound server here (name a PCM with -D, or -D builtin for the test signal)"
        }
    }
}

public enum InputCatalog {
    /// The default input: the sound server's default source while a server runs, else the first
    /// card. Asks the server (at most `timeoutMs`).
    public static func defaultInput(timeoutMs: Int = 500) -> DefaultInputChoice {
        if SoundServerProbe.expected() != nil {
            if let why = SoundServerProbe.diagnosis() { return .unreachableServer(why) }
            switch PulseControl.serverInfo(timeoutMs: timeoutMs) {
            case .success(let info): return .server(info)
            case .failure(let e): return .unreachableServer("\(e)")
            }
        }
        if let card = DeviceCatalog.cards().first(where: { !$0.captureDevices.isEmpty }), let dev = card.captureDevices.first?.device {
            return .card(card, device: dev)
        }
        return .nothing
    }

    /// The server's sources (nil when no server is configured or it doesn't answer).
    public static func serverSources(timeoutMs: Int = 500) -> SoundServerSnapshot? {
        guard SoundServerProbe.expected() != nil, SoundServerProbe.diagnosis() == nil,
              case .success(let s) = PulseControl.snapshot(timeoutMs: timeoutMs) else { return nil }
        return s
    }

    /// The -D name of a server source.
    public static func pcmName(forSource s: SoundServerSource) -> String { "pulse:" + s.name }
}
