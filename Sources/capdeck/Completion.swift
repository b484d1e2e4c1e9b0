// Shell completion: what the generated bash, zsh and fish scripts offer for option values. Device
// names come from capdeck itself when the shell asks (the argument parser calls the binary back
// with `---completion`), from the same catalog `capdeck devices` lists, without opening a PCM.
import ArgumentParser
import CaptureALSA
import CaptureCore
import CaptureDeck
import CaptureFiles
import ConsoleUI

enum Completion {
    /// -D and the route overrides: the catalog's names, then the built-in signals.
    static let device = CompletionKind.custom { _, _, prefix in forShell(devices(matching: prefix)) }
    /// The sample formats `-f` takes, by their ALSA names.
    static let formats = CompletionKind.list(SampleFormat.allCases.map(\.rawValue))
    /// The file types `-t` takes.
    static let fileTypes = CompletionKind.list(FileType.allCases.map(\.rawValue))
    /// Files capdeck records or recovers, by extension.
    static let recordings = CompletionKind.file(extensions: FileType.allCases.map(\.rawValue) + ["aif"])
    static let config = CompletionKind.file(extensions: ["toml"])

    /// How long the sound server may take to list its sources: a shell waits for this.
    static let serverTimeoutMs = 250

    /// The names `-D` takes that start with `prefix`: the sound server's sources (`pulse:NAME`,
    /// when a server is configured and answers within `serverTimeoutMs`), ALSA's capture PCM hints,
    /// each card's capture devices as `hw:CARD=ID,DEV=N` and `dsnoop:CARD=ID,DEV=N` (the card list
    /// and their control devices, never a PCM), and the built-in signals.
    static func devices(matching prefix: String) -> [String] {
        var names: [String] = []
        if let server = InputCatalog.serverSources(timeoutMs: serverTimeoutMs) {
            names += server.sources.map(InputCatalog.pcmName(forSource:))
        }
        names += DeviceCatalog.capturePCMs().map(\.name)
        for card in DeviceCatalog.cards() {
            for d in card.captureDevices {
                names += ["hw:CARD=\(card.id),DEV=\(d.device)", "dsnoop:CARD=\(card.id),DEV=\(d.device)"]
            }
        }
        names += ConsoleInteraction.builtInSignals + ["builtin:sine"]
        var seen = Set<String>()
        return names.filter { $0.hasPrefix(prefix) && seen.insert($0).inserted }
    }

    /// Candidates as the requesting shell's script takes them: zsh's `_describe` reads `value:description`,
    /// so a colon in a value (`hw:CARD=PCH,DEV=0`, `builtin:pink`) is escaped; bash and fish take them as they are.
    static func forShell(_ candidates: [String]) -> [String] {
        guard CompletionShell.requesting == .zsh else { return candidates }
        return candidates.map { String($0.flatMap { $0 == ":" ? ["\\", ":"] : [$0] }) }
    }

    /// Whether this run is the argument parser's introspection (a completion callback, a script or
    /// the help dump) rather than a command: it must print only what the shell or tool reads.
    static func isIntrospection(_ arguments: [String]) -> Bool {
        guard let first = arguments.dropFirst().first else { return false }
        return first == "---completion" || first.hasPrefix("--generate-completion-script") || first == "--experimental-dump-help"
    }
}
