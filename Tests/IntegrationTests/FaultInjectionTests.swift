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

        static func xruns(in stderr: String) -> Int? {
            guard let r = stderr.range(of: #"[0-9]+ xruns"#, options: .regularExpression) else { return nil }
            return Int(stderr[r].split(separator: " ")[0])
        }

        @Test("an xrun storm (55 overruns) and a 30 ms suspend: all 56 recovered and counted, even when the recording ends first; the file is exact and complete")
        func xrunStormAndSuspend() async throws {
            let home = try TempDir()
            defer { home.remove() }
            let audio = RawAudio.counterS16Stereo(frames: 48_000 * 4)
            try home.write("in.raw", bytes: audio.bytes)
            try home.write(".asoundrc", ALSAConfig.filePCM("dev", infile: home.path("in.raw")))
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

        @Test("the device unplugged mid-recording: one clear line, exit 74, the file finished with every frame read, exactly")
        func deviceLost() async throws {
            let home = try TempDir()
            defer { home.remove() }
            let audio = RawAudio.counterS16Stereo(frames: 48_000 * 6)
            try home.write("in.raw", bytes: audio.bytes)
            try home.write(".asoundrc", ALSAConfig.filePCM("usbmic", infile: home.path("in.raw")))
            let out = home.path("lost.wav")
            let r = try await Capdeck.run(["record", "-q", "-D", "usbmic", "-d", "5", out], home: home,
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
            let home = try TempDir()
            defer { home.remove() }
            let audio = RawAudio.counterS16Stereo(frames: 48_000)
            try home.write("in.raw", bytes: audio.bytes)
            try home.write(".asoundrc", ALSAConfig.filePCM("dev", infile: home.path("in.raw")))
            let r = try await Capdeck.run(["record", "-D", "dev", "-d", "0.5", home.path("x.wav")], home: home,
                                          extraEnvironment: try Self.environment("epipe@x,enodev@12"), timeout: 30)
            #expect(r.stderr.contains("pcm-faults: ignoring malformed entry 'epipe@x'"), "\(r.stderr)")
            #expect(r.exitCode == 74 && r.stderr.contains("device lost"), "the valid entry still fired: \(r)")
        }

        @Test("the console when the device is unplugged while recording: it says so, saves the file, keeps running, and quits cleanly")
        func consoleDeviceLost() async throws {
            let routes = try await ToneRoutes()
            defer { routes.shutdown() }
            let rec = routes.home.makeDirectory("rec")
            var env = routes.environment
            // Paced at 48 kHz: the device goes 6 s after capture starts (r comes well before).
            env.merge(try Self.environment("enodev@288000")) { $1 }
            let console = try await TmuxConsole(["-D", "toneA", "-o", rec], home: routes.home, environment: env,
                                                width: 110, height: 32)
            defer { console.shutdown() }
            _ = try await console.waitFor("the console capturing toneA", timeout: 10) { s in
                s.isConsole && s.route?.pcm == "toneA" && (s.meters.first?.peak ?? -200) > -30
            }
            try await console.press("r")
            let recording = try await console.waitFor("recording", timeout: 5) { $0.recordingFile != nil }
            let path = try #require(recording.recordingFile)
            let lost = try await console.waitFor("the loss in the event log and the file saved", timeout: 12) { s in
                s.events.contains { $0.contains("device lost") } && s.events.contains { $0.hasPrefix("saved \(path) ") }
            }
            #expect(lost.events.contains("toneA: device lost: No such device"), "events: \(lost.events)")
            #expect(lost.titleBar.contains("NOT RECORDING") && lost.titleBar.contains("not capturing"), "\(lost.titleBar)")
            #expect(lost.meters.allSatisfy { ($0.peak ?? -.infinity) == -.infinity && $0.bar.allSatisfy { $0 == " " } }, "no stale levels without a device: \(lost.meters)")
            // Still alive and answering keys: help opens and closes.
            try await console.press("?")
            _ = try await console.waitFor("the help screen", timeout: 3) { $0.text.contains("Keys") }
            try await console.press("?")
            try await console.press("q")
            #expect(try await console.waitForExit() == 0)
            let file = try SoundFile.read(path, samples: .int)
            #expect(file.frames > 0 && file.frames < 6 * 48_000, "recorded from r to the loss: \(file.frames) frames")
            let savedLine = lost.events.first { $0.hasPrefix("saved \(path) ") } ?? ""
            #expect(savedLine.contains("\(file.frames) frames"), "\(savedLine)")
        }
    }
}
