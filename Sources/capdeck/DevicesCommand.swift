// `capdeck devices`: what can be captured from, what kind of access each gives, and what `record`
// without -D uses.
import ArgumentParser
import CaptureALSA
import CaptureApp
import CaptureCore
import CaptureDeck
import ConsoleUI

struct DevicesCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "devices",
        abstract: "List the sound server's sources, capture PCMs and sound cards, with the kind of access each gives.",
        discussion: "Exit codes: 0 success, 64 usage error, 71 out of file descriptors at start.")

    func run() throws {
        print("Without -D, capdeck uses: " + InputCatalog.defaultInput().summary)
        print("")
        print("Sound server sources (name them with -D pulse:SOURCE):")
        let server = InputCatalog.serverSources()
        if let server {
            let width = max(24, (server.sources.map { InputCatalog.pcmName(forSource: $0).count }.max() ?? 0) + 2)
            for s in server.sources {
                let kind = s.isMonitor ? "monitor" : "input"
                let mark = s.name == server.info.defaultSource ? "  (default)" : ""
                print("  " + Readout.pad(InputCatalog.pcmName(forSource: s), width) + Readout.pad("server", 14)
                      + "\(s.description) [\(kind), \(s.sampleRate) Hz \(s.channels) ch]\(mark)")
            }
            if server.sources.isEmpty { print("  (the server offers none)") }
        } else if let why = SoundServerProbe.diagnosis() {
            print("  (none: \(why))")
        } else {
            print("  (none: no sound server is configured here)")
        }
        let pcms = DeviceCatalog.capturePCMs()
        let cards = DeviceCatalog.cards()
        let unusable = DevicePickerList.unusable(server: server)
        print("")
        print("Capture PCMs (name them with -D):")
        if pcms.isEmpty { print("  (none listed by ALSA)") }
        let width = max(24, (pcms.map(\.name.count).max() ?? 0) + 2)
        for p in pcms {
            print("  " + Readout.pad(p.name, width)
                  + Readout.pad(p.access.rawValue, 14) + p.description + (unusable(p.name).map { "  (can't capture here: \($0))" } ?? ""))
        }
        print("")
        print("Sound cards:")
        if cards.isEmpty {
            // Only where nothing else captures is that the whole story: a sound server's sources
            // (or a PCM of the user's ALSA configuration) may well be real microphones.
            print(server?.sources.isEmpty == false ? "  (none that ALSA sees directly; the sound server's sources above capture)"
                                                   : "  (none: this machine has no sound card with a capture device)")
        }
        for c in cards {
            print("  card \(c.index) [\(c.id)]: \(c.name) — \(c.longName)")
            for d in c.captureDevices {
                print("    hw:CARD=\(c.id),DEV=\(d.device)  exclusive     \(d.name)")
                print("    dsnoop:CARD=\(c.id),DEV=\(d.device)  shared     \(d.name)")
            }
        }
        print("")
        print("Built-in source (only when named):")
        print("  builtin, builtin:sine[:HZ], builtin:sweep, builtin:pink   built-in  synthesized test signal, clock-paced")
    }
}
