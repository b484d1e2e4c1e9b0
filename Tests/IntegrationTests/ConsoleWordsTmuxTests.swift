// The console's words on a real terminal (tmux): the session panel and help overlay whole at the
// minimum width and a wide one, the "too small" notice whole at 40×10, and the device picker
// on the current device, with the sound server's sources, without what can't capture, and
// taking a typed name.
import Foundation
import Glibc
import Testing

extension Integration {
    @Suite("Console words (tmux)")
    final class ConsoleWordsTmux {
        let routes: ToneRoutes
        init() async throws { routes = try await ToneRoutes() }
        deinit { routes.shutdown() }

        func start(width: Int, height: Int) async throws -> TmuxConsole {
            let rec = routes.home.path("rec")
            mkdir(rec, 0o700)
            return try await TmuxConsole(["-D", "toneA", "--exclusive-device", "toneA", "--shared-device", "toneB", "-o", rec],
                                         home: routes.home, environment: routes.environment, width: width, height: height)
        }

        @Test("64×20 and 120×32: the panel's effect words whole; ? shows every key (scrolled with ↓ at 64×20) with Apple's names; 40×10 says so whole")
        func panelHelpAndNotice() async throws {
            let console = try await start(width: 64, height: 20)
            defer { console.shutdown() }
            var s = try await console.waitFor("the console", timeout: 10) { $0.isConsole && $0.route?.pcm == "toneA" }
            #expect(s.properties[3]?.name == "mix with others" && s.properties[3]?.effect == "exclusive, others paused", "\(s)")
            #expect(s.properties[1]?.effect == "2-4 set up the app session", "\(s.properties)")
            try await console.press("?")
            s = try await console.waitFor("the help", timeout: 3) { $0.contains("↑↓ more") }
            var seen = s.text
            for _ in 0..<60 {
                try await console.press("Down")
                seen += try await console.screen()
            }
            for words in ["mix with others: shared device, other", "configuresApplicationAudioSessionToMixWit", "quit (asks first while recording)",
                          "Esc, ? or q closes"] {
                #expect(seen.contains(words), "\(words) never shown in the help")
            }
            try await console.press("Escape")
            try await console.resize(width: 120, height: 32)
            s = try await console.waitFor("the wide console", timeout: 5) { $0.isConsole && $0.lines.first?.count ?? 0 > 100 }
            #expect(s.properties[3]?.effect == "exclusive device, other audio paused", "\(s.properties)")
            try await console.resize(width: 40, height: 10)
            s = try await console.waitFor("the notice", timeout: 5) { $0.contains("enlarge it.") }
            let notice = s.lines.map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty }.joined(separator: " ")
            #expect(notice.contains("capdeck needs a terminal of at least 64×20 (this one is 40×10); please enlarge it. q quits."), "\(s)")
            try await console.press("q")
            #expect(try await console.waitForExit() == 0)
        }

        @Test("d opens on the current device, marked; lists the server's sources; leaves out jack and oss (no JACK, no /dev/dsp); a typed name opens")
        func picker() async throws {
            let console = try await start(width: 100, height: 32)
            defer { console.shutdown() }
            _ = try await console.waitFor("the console", timeout: 10) { $0.isConsole && $0.route?.pcm == "toneA" }
            try await console.press("d")
            let s = try await console.waitFor("the device picker", timeout: 5) { $0.contains("Enter select") && !TmuxConsole.pickerItems($0).isEmpty }
            let items = TmuxConsole.pickerItems(s)
            #expect(items.first { $0.selected }?.pcm == "toneA", "\(items)")
            #expect(s.lines.contains { $0.contains("> toneA  (current)") }, "\(s)")
            #expect(items.contains { $0.pcm == "pulse:nullsink.monitor" }, "the server's sources: \(items)")
            #expect(!items.contains { $0.pcm == "jack" || $0.pcm == "oss" }, "what can't capture here is left out: \(items)")
            #expect(items.last?.pcm == "type", "\(items)")
            try await console.press("Escape")
            try await console.pick("toneB")  // not listed: typed into "type a PCM name…"
            let switched = try await console.waitFor("toneB", timeout: 8) { $0.route?.pcm == "toneB" }
            #expect(switched.events.contains { $0.contains("toneB") }, "\(switched.events)")
            try await console.press("q")
            #expect(try await console.waitForExit() == 0)
        }

        @Test("capdeck devices with a sound server answering: its default first, no claim of no capture hardware, jack and oss marked as unable to capture here")
        func devicesWithAServer() async throws {
            let r = try await Capdeck.run(["devices"], home: routes.home, extraEnvironment: routes.environment, timeout: 20)
            #expect(r.exitCode == 0, "\(r)")
            let lines = r.stdout.split(separator: "\n").map(String.init)
            #expect(lines.first?.hasPrefix("Without -D, capdeck uses: pulse: the sound server's default source") == true, "\(r.stdout)")
            #expect(!r.stdout.contains("no capture hardware") && !r.stdout.contains("nothing:"), "a working default, and no fallback claimed:\n\(r.stdout)")
            #expect(lines.contains("  (none that ALSA sees directly; the sound server's sources above capture)"), "\(r.stdout)")
            if access("/dev/shm/jack_default_\(getuid())_0", F_OK) != 0 {
                #expect(lines.contains { $0.hasPrefix("  jack ") && $0.hasSuffix("(can't capture here: no JACK server runs)") }, "\(r.stdout)")
            }
            #expect(lines.contains { $0.hasPrefix("  pulse ") && !$0.contains("can't capture") }, "\(r.stdout)")
        }
    }
}
