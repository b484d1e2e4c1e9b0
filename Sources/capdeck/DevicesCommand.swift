// `capdeck devices`: what can be captured from, and what kind of access each gives.
import ArgumentParser
import CaptureALSA
import CaptureCore
import ConsoleUI

struct DevicesCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "devices",
        abstract: "List capture PCMs and sound cards with the kind of access each gives.")

    func run() throws {
        let pcms = DeviceCatalog.capturePCMs()
        let cards = DeviceCatalog.cards()
        print("Capture PCMs (name them with -D):")
        if pcms.isEmpty { print("  (none listed by ALSA)") }
        let width = max(24, (pcms.map(\.name.count).max() ?? 0) + 2)
        for p in pcms {
            print("  " + Readout.pad(p.name, width)
                  + Readout.pad(p.access.rawValue, 14) + p.description)
        }
        print("")
        print("Sound cards:")
        if cards.isEmpty {
            print("  (none: this machine has no capture hardware; 'capdeck record' without -D")
            print("   falls back to the built-in test signal and says so)")
        }
        for c in cards {
            print("  card \(c.index) [\(c.id)]: \(c.name) — \(c.longName)")
            for d in c.captureDevices {
                print("    hw:CARD=\(c.id),DEV=\(d.device)  exclusive     \(d.name)")
                print("    dsnoop:CARD=\(c.id),DEV=\(d.device)  shared     \(d.name)")
            }
        }
        print("")
        print("Built-in source:")
        print("  builtin, builtin:sine[:HZ], builtin:sweep, builtin:pink   built-in  synthesized test signal, clock-paced")
    }
}
