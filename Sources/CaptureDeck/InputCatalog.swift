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
        defaultInput(server: askServer { PulseControl.serverInfo(timeoutMs: timeoutMs) }, cards: DeviceCatalog.cards)
    }

    /// The default input from the server's answer (nil: no server is configured), asking for the
    /// cards only when there is no server: the server's default source while it answers, else
    /// (no server configured) the first card with a capture device.
    public static func defaultInput(server: Result<SoundServerInfo, ServerUnreachable>?, cards: () -> [SoundCard]) -> DefaultInputChoice {
        if let server {
            switch server {
            case .success(let info): return .server(info)
            case .failure(let e): return .unreachableServer(e.reason)
            }
        }
        if let card = cards().first(where: { !$0.captureDevices.isEmpty }), let dev = card.captureDevices.first?.device {
            return .card(card, device: dev)
        }
        return .nothing
    }

    /// Why a configured server gave no answer.
    public struct ServerUnreachable: Error, Sendable, Equatable {
        /// In words: the probe's diagnosis, or the control connection's error.
        public var reason: String
        /// It was reached but did not answer in time (stalled): not evidence that it is gone.
        public var timedOut: Bool
    }

    /// Asks the configured sound server (`ask`: one PulseControl call with its deadline): nil
    /// when no server is configured; one that is configured but doesn't answer at its socket is
    /// a failure with the probe's diagnosis, without asking.
    public static func askServer<T>(_ ask: () -> Result<T, PulseControlError>) -> Result<T, ServerUnreachable>? {
        guard SoundServerProbe.expected() != nil else { return nil }
        if let why = SoundServerProbe.diagnosis() { return .failure(ServerUnreachable(reason: why, timedOut: false)) }
        return ask().mapError { e in
            if case .timedOut = e { return ServerUnreachable(reason: "\(e)", timedOut: true) }
            return ServerUnreachable(reason: "\(e)", timedOut: false)
        }
    }

    /// The server's sources (nil when no server is configured or it doesn't answer).
    public static func serverSources(timeoutMs: Int = 500) -> SoundServerSnapshot? {
        try? askServer { PulseControl.snapshot(timeoutMs: timeoutMs) }?.get()
    }

    /// The -D name of a server source.
    public static func pcmName(forSource s: SoundServerSource) -> String { "pulse:" + s.name }
}
