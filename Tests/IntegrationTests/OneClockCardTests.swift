// Cards with one clock (USB microphones, HDA codecs: 48 or 96 kHz only) recorded at a lower rate,
// on the real ALSA library: `libCapdeckPCMFaults.so` (CAPDECK_PCM_RATES) makes a file PCM answer
// its hardware parameters with the rate fixed, as such a card's `hw:` does. Issue 10, item 1:
// without a duration limit, capdeck trapped (SIGILL) on its first read.
import Foundation
import Glibc
import Testing

extension Integration {
    @Suite("Cards with one clock, recorded at other rates")
    struct OneClockCard {
        /// A home with `card48` (48 kHz only) and `card96` (96 kHz only), each reading a 1 kHz sine
        /// at its rate, and a plain 48 kHz PCM `other` with a 440 Hz sine.
        static func fixture() throws -> (TempDir, [String: String]) {
            let home = try TempDir()
            try home.write("s48.raw", bytes: Tone.s16Stereo(frequency: 1000, dBFS: -6, seconds: 20, rate: 48_000))
            try home.write("s96.raw", bytes: Tone.s16Stereo(frequency: 1000, dBFS: -6, seconds: 20, rate: 96_000))
            try home.write("o48.raw", bytes: Tone.s16Stereo(frequency: 440, dBFS: -6, seconds: 20, rate: 48_000))
            try home.write(".asoundrc", ALSAConfig.filePCM("card48", infile: home.path("s48.raw"))
                + ALSAConfig.filePCM("card96", infile: home.path("s96.raw"))
                + ALSAConfig.filePCM("other", infile: home.path("o48.raw")))
            let env = ["LD_PRELOAD": try FaultInjection.injector(), "CAPDECK_PCM_RATES": "card48=48000,card96=96000"]
            return (home, env)
        }

        /// Level of the 1 kHz tone (peak, full scale 1) over `seconds` from `start` of channel 0.
        static func toneLevel(_ file: SoundFile, frequency: Double, start: Double, seconds: Double) -> Double {
            let x = file.ints.enumerated().filter { $0.offset % file.channels == 0 }.map { Double($0.element) / 2_147_483_648 }
            let from = Int(start * Double(file.sampleRate)), count = Int(seconds * Double(file.sampleRate))
            guard from + count <= x.count else { return 0 }
            return Tone.amplitude(x, start: from, count: count, frequency: frequency, rate: Double(file.sampleRate))
        }

        static let cases: [(card: String, rate: Int)] = [
            ("card48", 8000), ("card48", 16000), ("card48", 22050), ("card48", 44100),
            ("card96", 8000), ("card96", 16000), ("card96", 22050), ("card96", 44100),
        ]

        @Test("record -d 1 from a one-clock card at a lower rate: exactly 1 s at the asked rate, the tone's pitch and level kept", arguments: cases)
        func limited(_ c: (card: String, rate: Int)) async throws {
            let (home, env) = try Self.fixture()
            defer { home.remove() }
            let out = home.path("take.wav")
            let r = try await Capdeck.run(["record", "-D", c.card, "-r", "\(c.rate)", "-d", "1", out], home: home,
                                          extraEnvironment: env, timeout: 30)
            #expect(r.exitCode == 0, "\(r)")
            #expect(r.stderr.contains("resampl") || r.stderr.contains("Hz"), "the start line says the device's rate: \(r.stderr)")
            let file = try SoundFile.read(out, samples: .int)
            #expect(file.sampleRate == c.rate && file.frames == c.rate, "\(file.sampleRate) Hz, \(file.frames) frames")
            let level = Self.toneLevel(file, frequency: 1000, start: 0.2, seconds: 0.5)
            #expect(abs(20 * log10(max(level, 1e-9)) - -6) < 0.5, "1 kHz at \(20 * log10(max(level, 1e-9))) dBFS, not -6")
        }

        @Test("record with no duration limit from a one-clock card at a lower rate: records until SIGINT, exit 0, the tone kept", arguments: cases)
        func unlimited(_ c: (card: String, rate: Int)) async throws {
            let (home, env) = try Self.fixture()
            defer { home.remove() }
            let out = home.path("take.wav")
            let p = try ControlledCapdeck(["record", "-D", c.card, "-r", "\(c.rate)", out], home: home, extraEnvironment: env)
            _ = try await p.waitForFile(out)
            try await Task.sleep(for: .milliseconds(400))
            #expect(p.child.poll() == nil, "capdeck died: \(String(describing: p.child.poll())); \(p.stderr)")
            p.child.signal(SIGINT)
            let term = await p.finish(timeout: 20)
            #expect(term == .exited(0), "\(String(describing: term)); \(p.stderr)")
            let file = try SoundFile.read(out, samples: .int)
            #expect(file.sampleRate == c.rate && file.frames >= c.rate / 2, "\(file.sampleRate) Hz, \(file.frames) frames")
            let level = Self.toneLevel(file, frequency: 1000, start: 0.1, seconds: 0.3)
            #expect(abs(20 * log10(max(level, 1e-9)) - -6) < 0.5, "1 kHz at \(20 * log10(max(level, 1e-9))) dBFS, not -6")
        }

        @Test("a route switch onto a one-clock card while recording at 16 kHz without a limit: the take goes on, then holds its tone")
        func switchOntoIt() async throws {
            let (home, env) = try Self.fixture()
            defer { home.remove() }
            let out = home.path("switch.wav")
            let p = try ControlledCapdeck(["record", "-D", "other", "--exclusive-device", "card48", "--shared-device", "other",
                                           "--mix-with-others", "-r", "16000", out], home: home, extraEnvironment: env)
            _ = try await p.waitForFile(out)
            try p.send("set mix off")
            let changed = await p.waitForStderrLine(timeout: 10) { $0.contains("route changed") }
            #expect(changed?.contains("card48") == true, "\(p.stderr)")
            try await Task.sleep(for: .milliseconds(300))
            #expect(p.child.poll() == nil, "capdeck died after the switch: \(p.stderr)")
            try p.send("stop")
            let term = await p.finish(timeout: 20)
            #expect(term == .exited(0), "\(String(describing: term)); \(p.stderr)")
            let file = try SoundFile.read(out, samples: .int)
            #expect(file.sampleRate == 16000)
            // After the switch's cue: card48's 1 kHz tone, resampled (the file PCMs are unpaced, so
            // only the audio right after the cue is sure to be the infile's start, not its end
            // repeating).
            let cue = try #require(try WAVChunks(path: out).cuePoints.first, "no cue at the switch")
            let level = Self.toneLevel(file, frequency: 1000, start: Double(cue.position) / 16000 + 0.05, seconds: 0.2)
            #expect(abs(20 * log10(max(level, 1e-9)) - -6) < 0.5, "1 kHz at \(20 * log10(max(level, 1e-9))) dBFS after the switch")
        }

        @Test("the console on a one-clock card at 16 kHz meters the tone and quits cleanly")
        func console() async throws {
            let (home, env) = try Self.fixture()
            defer { home.remove() }
            let rec = home.makeDirectory("rec")
            let console = try await TmuxConsole(["-D", "card48", "-r", "16000", "-o", rec], home: home, environment: env)
            defer { console.shutdown() }
            let screen = try await console.waitFor("meters", timeout: 10) { $0.contains("pk") && $0.contains("48000") || $0.contains("EXIT=") }
            #expect(!screen.contains("EXIT="), "the console ended: \(screen.text)")
            try await Task.sleep(for: .milliseconds(500))
            let again = try await console.screen()
            #expect(!again.contains("EXIT="), "the console ended: \(again)")
            try await console.press("q")
            #expect(try await console.waitForExit() == 0)
        }
    }
}
