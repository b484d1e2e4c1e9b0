// Device faults end to end: the real capdeck binary on the real ALSA library, with
// libCapdeckPCMFaults.so preloaded to make snd_pcm_readi / snd_pcm_resume fail at chosen frame
// counts (EPIPE overruns, an ESTRPIPE suspend that takes a while to resume, ENODEV unplugging).
// Everything else, including the prepare/start/resume calls of capdeck's recovery, is real ALSA.
// The infile is a counter pattern, so any frame that is lost, repeated or reordered shows.
import Foundation
import Glibc
import Testing

extension Integration {
    @Suite("Device faults (preloaded ALSA fault injector)")
    struct FaultInjection {
        /// The injector built beside capdeck (a product of this package).
        static func injector() throws -> String {
            let exe = try Capdeck.require()
            let lib = URL(fileURLWithPath: exe).deletingLastPathComponent().appendingPathComponent("libCapdeckPCMFaults.so").path
            guard FileManager.default.fileExists(atPath: lib) else {
                throw SpawnError(description: "\(lib) is missing: build the package (swift build) first")
            }
            return lib
        }

        static func environment(_ plan: String) throws -> [String: String] {
            ["LD_PRELOAD": try injector(), "CAPDECK_PCM_FAULTS": plan]
        }

        /// A home with a counter-pattern infile of `seconds` and a file PCM `pcm` reading it.
        static func fixture(pcm: String, seconds: Int) throws -> (TempDir, RawAudio) {
            let home = try TempDir()
            let audio = RawAudio.counterS16Stereo(frames: 48_000 * seconds)
            try home.write("in.raw", bytes: audio.bytes)
            try home.write(".asoundrc", ALSAConfig.filePCM(pcm, infile: home.path("in.raw")))
            return (home, audio)
        }

        static func xruns(in stderr: String) -> Int? {
            guard let r = stderr.range(of: #"[0-9]+ xruns"#, options: .regularExpression) else { return nil }
            return Int(stderr[r].split(separator: " ")[0])
        }

        @Test("an xrun storm (55 overruns) and a 30 ms suspend: all 56 recovered and counted, even when the recording ends first; the file is exact and complete")
        func xrunStormAndSuspend() async throws {
            let (home, audio) = try Self.fixture(pcm: "dev", seconds: 4)
            defer { home.remove() }
            let out = home.path("storm.wav")
            // 50 overruns in a row, a suspend whose resume answers EAGAIN for 30 ms, 5 more overruns.
            let plan = "epipe@24000x50,estrpipe@48000:30,epipe@96000x5"
            let r = try await Capdeck.run(["record", "-D", "dev", "-d", "3", out], home: home,
                                          extraEnvironment: try Self.environment(plan), timeout: 30)
            #expect(r.exitCode == 0, "\(r)")
            #expect(Self.xruns(in: r.stderr) == 56, "50 + 1 suspend + 5 overruns, each counted once: \(r.stderr)")
            #expect(!r.stderr.contains("pcm-faults"), "the plan parsed: \(r.stderr)")
            let file = try SoundFile.read(out, samples: .int)
            #expect(file.frames == 144_000, "-d 3 counts captured frames: \(file.frames)")
            // The injected errors came before ALSA read anything, so nothing was lost: the file is
            // the infile, sample for sample.
            #expect(firstDifference(file.ints, audio.leftJustified, channels: 2) == nil)
        }

        @Test("the device unplugged mid-recording, with --reconnect-wait 0: one clear line, exit 74, the file finished with every frame read, exactly")
        func deviceLost() async throws {
            let (home, audio) = try Self.fixture(pcm: "usbmic", seconds: 6)
            defer { home.remove() }
            let out = home.path("lost.wav")
            let r = try await Capdeck.run(["record", "-q", "-D", "usbmic", "-d", "5", "--reconnect-wait", "0", out], home: home,
                                          extraEnvironment: try Self.environment("epipe@12000x2,enodev@96000"), timeout: 30)
            #expect(r.exitCode == 74, "\(r)")
            let lines = r.stderr.split(separator: "\n")
            #expect(lines.count == 1, "one line: \(r.stderr)")
            let line = String(lines.first ?? "")
            #expect(line.hasPrefix("capdeck: usbmic: device lost: No such device; saved \(out): "), "\(line)")
            #expect(Self.xruns(in: line) == 2, "the overruns before the loss are reported too: \(line)")
            let file = try SoundFile.read(out, samples: .int)
            #expect(file.frames >= 96_000 && file.frames < 240_000, "\(file.frames) frames")
            #expect(line.contains("\(file.frames) frames"), "the message names what was kept: \(line)")
            #expect(firstDifference(file.ints, audio.leftJustified, channels: 2) == nil, "every frame read is in the file")
            // Finished, not merely recoverable: recover finds nothing to repair.
            let rec = try await Capdeck.run(["recover", out], home: home)
            #expect(rec.exitCode == 0 && rec.stdout.contains("complete"), "\(rec)")
        }

        @Test("a malformed plan is reported by the injector and ignored (the injector itself can fail loudly)")
        func malformedPlanIsReported() async throws {
            let (home, _) = try Self.fixture(pcm: "dev", seconds: 1)
            defer { home.remove() }
            let r = try await Capdeck.run(["record", "-D", "dev", "-d", "0.5", "--reconnect-wait", "0", home.path("x.wav")], home: home,
                                          extraEnvironment: try Self.environment("epipe@x,enodev@12"), timeout: 30)
            #expect(r.stderr.contains("pcm-faults: ignoring malformed entry 'epipe@x'"), "\(r.stderr)")
            #expect(r.exitCode == 74 && r.stderr.contains("device lost"), "the valid entry still fired: \(r)")
        }

        @Test("the device unplugged for 1.5 s: capdeck waits, reopens it, and goes on in the same file; -d still counts exactly; the gap is marked")
        func deviceLostAndBack() async throws {
            let (home, audio) = try Self.fixture(pcm: "usbmic", seconds: 6)
            defer { home.remove() }
            let out = home.path("back.wav")
            let r = try await Capdeck.run(["record", "-D", "usbmic", "-d", "3", out], home: home,
                                          extraEnvironment: try Self.environment("enodev@96000:1500"), timeout: 30)
            #expect(r.exitCode == 0, "\(r)")
            #expect(r.stderr.contains("capdeck: waiting for usbmic to come back; the recording continues in the same file when it does"), "\(r.stderr)")
            #expect(r.stderr.contains("was lost and is back") && r.stderr.contains("capdeck: the device is back; recording again"), "\(r.stderr)")
            #expect(r.stderr.contains("saved \(out): 144000 frames"), "\(r.stderr)")
            let file = try SoundFile.read(out, samples: .int)
            #expect(file.frames == 144_000)
            // Reopened, the file PCM starts its infile again: the take is the infile up to the
            // loss, then the infile from its start. The cue point marks the seam.
            let wav = try [UInt8](Data(contentsOf: URL(fileURLWithPath: out)))
            let cue = try #require(Data(wav).range(of: Data("cue ".utf8))).lowerBound
            let seam = Int(wav[cue + 32]) | Int(wav[cue + 33]) << 8 | Int(wav[cue + 34]) << 16 | Int(wav[cue + 35]) << 24
            #expect(seam >= 96_000 && seam < 144_000, "seam at \(seam)")
            #expect(Data(wav).range(of: Data("device back after ".utf8)) != nil, "the cue's label")
            #expect(firstDifference(Array(file.ints[0..<(2 * seam)]), audio.leftJustified, channels: 2) == nil, "before the loss")
            #expect(firstDifference(Array(file.ints[(2 * seam)...]), audio.leftJustified, channels: 2) == nil, "after the return")
        }

        @Test("the device gone for good: capdeck waits --reconnect-wait seconds, then finishes the file and exits 74")
        func deviceLostForGood() async throws {
            let (home, audio) = try Self.fixture(pcm: "usbmic", seconds: 4)
            defer { home.remove() }
            let out = home.path("gone.wav")
            let r = try await Capdeck.run(["record", "-q", "-D", "usbmic", "-d", "3", "--reconnect-wait", "1", out], home: home,
                                          extraEnvironment: try Self.environment("enodev@48000"), timeout: 30)
            #expect(r.exitCode == 74, "\(r)")
            #expect(r.seconds >= 1 && r.seconds < 5, "waited about 1 s: \(r.seconds)")
            let lines = r.stderr.split(separator: "\n").map(String.init)
            #expect(lines.count == 2 && lines[0] == "capdeck: waiting for usbmic to come back; the recording continues in the same file when it does"
                    && lines[1].hasPrefix("capdeck: usbmic: device lost: No such device; saved \(out): "), "\(r.stderr)")
            let file = try SoundFile.read(out, samples: .int)
            #expect(file.frames >= 48_000 && firstDifference(file.ints, audio.leftJustified, channels: 2) == nil)
        }

        @Test("the console when the device is unplugged for 2 s while recording: it says so and waits, the take stays open, capture and recording resume, the take saves whole")
        func consoleDeviceLost() async throws {
            let routes = try await ToneRoutes()
            defer { routes.shutdown() }
            let rec = routes.home.makeDirectory("rec")
            var env = routes.environment
            // Paced at 48 kHz: the device goes 6 s after capture starts (r comes well before), for 2 s.
            env.merge(try Self.environment("enodev@288000:2000")) { $1 }
            let console = try await TmuxConsole(["-D", "toneA", "-o", rec], home: routes.home, environment: env,
                                                width: 120, height: 32)
            defer { console.shutdown() }
            _ = try await console.waitFor("the console capturing toneA", timeout: 10) { s in
                s.isConsole && s.route?.pcm == "toneA" && (s.meters.first?.peak ?? -200) > -30
            }
            try await console.press("r")
            let recording = try await console.waitFor("recording", timeout: 5) { $0.recordingFile != nil }
            let path = try #require(recording.recordingFile)
            let lost = try await console.waitFor("the loss and the wait", timeout: 12) { s in
                s.titleBar.contains("INTERRUPTED: device lost, waiting for it to return")
            }
            #expect(lost.events.contains("toneA: device lost: No such device"), "events: \(lost.events)")
            #expect(lost.events.contains { $0.hasPrefix("waiting for toneA to come back; the recording continues when it does") }, "\(lost.events)")
            #expect(lost.recordingFile == path && lost.titleBar.contains("REC"), "the take stays open: \(lost.titleBar)")
            #expect(lost.meters.allSatisfy { ($0.peak ?? -.infinity) == -.infinity }, "no stale levels without a device: \(lost.meters)")
            let back = try await console.waitFor("capture back", timeout: 8) { s in
                s.route?.pcm == "toneA" && s.events.contains { $0.hasPrefix("gap ") && $0.hasSuffix("toneA was lost and is back") }
            }
            #expect(back.recordingFile == path && !back.titleBar.contains("INTERRUPTED"), "\(back.titleBar)")
            #expect(back.events.filter { $0.hasPrefix("app session configured") }.count == 1,
                    "the retries every 250 ms configure nothing new: \(back.events)")
            try await Task.sleep(for: .milliseconds(1000))
            try await console.press("r")
            let saved = try await console.waitFor("the saved line", timeout: 5) { s in s.events.contains { $0.hasPrefix("saved \(path) ") } }
            try await console.press("q")
            #expect(try await console.waitForExit() == 0)
            let file = try SoundFile.read(path, samples: .int)
            let savedLine = saved.events.first { $0.hasPrefix("saved \(path) ") } ?? ""
            #expect(file.frames > 48_000 && savedLine.contains("\(file.frames) frames"), "\(savedLine); file \(file.frames) frames")
        }

        @Test("the console waiting for a lost device: d picking one that doesn't open says so in one line and goes on waiting; the device back, the take resumes")
        func consolePickWhileWaiting() async throws {
            let routes = try await ToneRoutes()
            defer { routes.shutdown() }
            let rec = routes.home.makeDirectory("rec")
            var env = routes.environment
            // The device goes 3 s after capture starts, for 4 s (every open fails meanwhile).
            env.merge(try Self.environment("enodev@144000:4000")) { $1 }
            let console = try await TmuxConsole(["-D", "toneA", "-o", rec], home: routes.home, environment: env,
                                                width: 120, height: 32)
            defer { console.shutdown() }
            _ = try await console.waitFor("the console capturing toneA", timeout: 10) { s in
                s.isConsole && s.route?.pcm == "toneA" && (s.meters.first?.peak ?? -200) > -30
            }
            try await console.press("r")
            let recording = try await console.waitFor("recording", timeout: 5) { $0.recordingFile != nil }
            let path = try #require(recording.recordingFile)
            _ = try await console.waitFor("the loss and the wait", timeout: 12) { s in
                s.titleBar.contains("INTERRUPTED: device lost, waiting for it to return")
            }
            try await console.pick("jack")
            let said = try await console.waitFor("the failed pick", timeout: 5) { s in s.events.contains { $0.hasPrefix("jack could not be opened") } }
            let line = said.events.first { $0.hasPrefix("jack could not be opened") } ?? ""
            #expect(line.hasPrefix("jack could not be opened; still waiting for toneA, the recording goes on"), "\(line)")
            #expect(said.titleBar.contains("INTERRUPTED: device lost, waiting for it to return") && said.recordingFile == path,
                    "still waiting, the take open: \(said.titleBar)")
            let back = try await console.waitFor("capture back on toneA", timeout: 10) { s in
                s.route?.pcm == "toneA" && s.events.contains { $0.hasPrefix("gap ") && $0.hasSuffix("toneA was lost and is back") }
            }
            #expect(back.recordingFile == path && !back.titleBar.contains("INTERRUPTED"), "\(back.titleBar)")
            try await console.press("r")
            _ = try await console.waitFor("saved", timeout: 5) { $0.recordingFile == nil }
            try await console.press("q")
            #expect(try await console.waitForExit() == 0)
            let state = (try? String(contentsOfFile: routes.home.root + "/.local/state/capdeck/console.toml", encoding: .utf8)) ?? ""
            #expect(!state.contains("jack"), "the device that failed is not remembered: \(state)")
        }
    }
}
