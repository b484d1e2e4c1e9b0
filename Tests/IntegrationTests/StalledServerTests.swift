// A sound server that stops delivering without an error (issue 9): SIGSTOP the real PulseAudio
// daemon while capdeck records through it. The engine notices within max(1 s, 4 buffers), the
// session is interrupted (`audioDeviceStalled`) and says so, `status` shows it; when the daemon
// goes on, the route is reopened, the gap gets a cue point and a `gap` line, and capture resumes
// in the same file.
import Foundation
import Glibc
import Testing

extension Integration {
    @Suite("The sound server: a stall, and how our stream introduces itself")
    final class StalledServer {
        let routes: ToneRoutes
        init() async throws { routes = try await ToneRoutes() }
        deinit { routes.shutdown() }

        @Test("record through a server stopped for 3 s: interrupted while it lasts, a cue and a gap line at the seam, capture resumes, exit 0")
        func stallWhileRecording() async throws {
            let rate = ToneRoutes.rate
            let out = routes.home.path("stall.wav")
            let p = try routes.capdeck(["record", "-D", "toneA", out])
            let t0 = try await p.waitForFile(out)
            try await sleepUntil(t0 + 1.5)
            routes.pulse.stall()
            let stalledAt = Monotonic.now - t0
            let said = await p.waitForStderrLine(timeout: 4) { $0.contains("stopped delivering") }
            let noticedAt = Monotonic.now - t0
            #expect(said?.contains("audioDeviceStalled") == true, "\(p.stderr)")
            #expect(noticedAt - stalledAt < 2.5 + Capdeck.timingSlack, "noticed \(noticedAt - stalledAt) s after the stall")
            let s = try await p.status()
            #expect(s.bool("interrupted") == true && s.string("interruptionReason") == "audioDeviceStalled", "\(s)")
            // The same keys as while capturing (null where there is no engine): a script's
            // status["frames"] must not fail mid-stall.
            for key in ["frames", "seconds", "xruns", "granted", "realtime", "route"] { #expect(s.object.keys.contains(key), "\(key) in \(s)") }
            #expect((s.number("frames") ?? 0) > 0, "\(s)")
            try await sleepUntil(t0 + 4.5)
            routes.pulse.resume()
            let resumedAt = Monotonic.now - t0
            let gap = await p.waitForStderrLine(timeout: 8) { $0.contains("gap") && $0.contains("stalled") }
            #expect(gap != nil, "no gap line after the server went on: \(p.stderr)")
            let s2 = try await p.status()
            #expect(s2.bool("running") == true && s2.bool("interrupted") == false, "\(s2)")
            try await Task.sleep(for: .milliseconds(1200))
            try p.send("stop")
            #expect(await p.finish(timeout: 10) == .exited(0), "\(p.stderr)")

            // One file: toneA before and after, one cue at the seam, near where the stall began.
            let file = try SoundFile.read(out, samples: .int)
            let cues = try WAVChunks(path: out).cuePoints.map { Double($0.position) / Double(rate) }
            #expect(cues.count == 1, "one cue at the gap: \(cues)")
            if let cue = cues.first { #expect(abs(cue - stalledAt) < 0.7, "cue at \(cue) s; the server stopped at \(stalledAt) s") }
            let seconds = Double(file.frames) / Double(rate)
            #expect(seconds > 1.0 + 1.0 && seconds < resumedAt + 2.5, "file holds \(seconds) s")
            let windows = ToneAnalysis.windows(file.channel(0), rate: rate, windowFrames: 2400,
                                               tones: [("toneA", 440.0), ("toneB", 1000.0)], amplitude: ToneRoutes.amplitude)
            let after = windows.filter { Double($0.frame) / Double(rate) > (cues.first ?? 0) + 0.3 }
            #expect(after.filter { $0.label == "toneA" }.count >= 8, "toneA after the seam: \(after.prefix(5))")
        }

        @Test("the console while the server is stopped for 3 s: INTERRUPTED with the reason, empty meters, the take stays open; back: a gap event, the take saves whole")
        func stallInTheConsole() async throws {
            let rec = routes.home.makeDirectory("rec")
            let console = try await TmuxConsole(["-D", "toneA", "-o", rec], home: routes.home, environment: routes.environment,
                                                width: 120, height: 32)
            defer { console.shutdown() }
            _ = try await console.waitFor("the console capturing toneA", timeout: 10) { s in
                s.isConsole && s.route?.pcm == "toneA" && (s.meters.first?.peak ?? -200) > -30
            }
            try await console.press("r")
            let recording = try await console.waitFor("recording", timeout: 5) { $0.recordingFile != nil }
            let path = try #require(recording.recordingFile)
            try await Task.sleep(for: .milliseconds(800))
            routes.pulse.stall()
            let stalled = try await console.waitFor("the stall noticed", timeout: 5) { s in
                s.titleBar.contains("INTERRUPTED: device stopped delivering audio")
            }
            #expect(stalled.events.contains { $0.contains("stopped delivering audio") }, "events: \(stalled.events)")
            #expect(stalled.recordingFile == path && stalled.titleBar.contains("REC"), "the take stays open: \(stalled.titleBar)")
            #expect(stalled.meters.allSatisfy { ($0.peak ?? -.infinity) == -.infinity }, "no frozen levels: \(stalled.meters)")
            try await Task.sleep(for: .milliseconds(1500))
            routes.pulse.resume()
            let back = try await console.waitFor("capture back", timeout: 10) { s in
                s.route?.pcm == "toneA" && s.events.contains { $0.hasPrefix("gap ") && $0.contains("stalled") }
            }
            #expect(back.recordingFile == path && !back.titleBar.contains("INTERRUPTED"), "\(back.titleBar)")
            try await Task.sleep(for: .milliseconds(800))
            try await console.press("r")
            _ = try await console.waitFor("the saved line", timeout: 5) { s in s.events.contains { $0.hasPrefix("saved \(path) ") } }
            try await console.press("q")
            #expect(try await console.waitForExit() == 0)
            let cues = try WAVChunks(path: path).cuePoints
            #expect(cues.count == 1, "one cue at the gap: \(cues.map(\.position))")
        }

        /// PulseAudio's `module-sine-source` has a fixed 2 s latency: it delivers 2 s at once,
        /// then nothing for 2 s. That is on time, not a stall. Before the stall watch counted the
        /// silence from when the delivered audio runs out, each 2 s pause looked stalled at
        /// 1.6 s: the stream was reopened, the ~1.9 s the old stream would have delivered next
        /// were lost, and a 5 s take had two such seams, each with a cue and a `gap` line.
        @Test("record from a source that delivers 2 s at a time (module-sine-source): no stall, no gap, no cue, the sine unbroken")
        func aSourceWithALongFixedLatencyIsNotStalled() async throws {
            let rate = ToneRoutes.rate
            _ = try await routes.pulse.pactl(["load-module", "module-sine-source", "rate=\(rate)", "frequency=440", "source_name=sine"])
            let rc = try String(contentsOfFile: routes.home.path(".asoundrc"), encoding: .utf8)
            try routes.home.write(".asoundrc", rc + "\npcm.sine { type pulse device \"sine\" }\n")
            let out = routes.home.path("sine.wav")
            let p = try routes.capdeck(["record", "-D", "sine", "-d", "5", out])
            #expect(await p.finish(timeout: 20) == .exited(0), "\(p.stderr)")
            #expect(!p.stderr.contains("stopped delivering") && !p.stderr.contains("gap"), "\(p.stderr)")
            let file = try SoundFile.read(out, samples: .int)
            #expect(file.frames == 5 * rate)
            // The source's blocks repeat its sine exactly, so a lost block leaves the sine whole
            // (and a reopened stream gets 2 s at once, so the take's length doesn't show it
            // either): the loss shows as the cue each reopen put at its seam.
            #expect(try WAVChunks(path: out).cuePoints.isEmpty)
            let x = file.channel(0)
            #expect(ToneAnalysis.zeroRuns(x, minimum: rate / 100).isEmpty, "silence in the take: \(ToneAnalysis.zeroRuns(x, minimum: rate / 100))")
            let breaks = ToneAnalysis.recurrenceBreaks(x, frequencies: [440], rate: Double(rate))
            #expect(breaks.isEmpty, "\(breaks.count) breaks in the sine, first at \(breaks.prefix(5))")
        }

        /// ALSA's `pulse` PCM says nothing of where its audio comes from; the start line said only
        /// "ALSA PCM pulse". A line after it now names the server's source our stream takes from
        /// (asked of the server: the source output of this process), a monitor as one; the start
        /// line itself is as it was (scripts parse it).
        @Test("record through the sound server names the source it records from: its description and name, a monitor as one")
        func namesTheServersSource() async throws {
            func lines(_ name: String) async throws -> [String] {
                let p = try routes.capdeck(["record", "-D", "pulse", "-d", "0.5", routes.home.path(name)])
                #expect(await p.finish(timeout: 15) == .exited(0), "\(p.stderr)")
                return p.stderr.split(separator: "\n").map(String.init)
            }
            let monitor = try await lines("monitor.wav")
            let start = try #require(monitor.firstIndex { $0.hasPrefix("capdeck: recording ALSA PCM pulse (sound-server) [shared route]: ") }, "\(monitor)")
            #expect(monitor[start + 1] == "capdeck: sound server source: \"Monitor of Null Output\" (monitor nullsink.monitor)", "\(monitor)")
            _ = try await routes.pulse.pactl(["load-module", "module-sine-source", "rate=48000", "frequency=440", "source_name=mic"])
            _ = try await routes.pulse.pactl(["set-default-source", "mic"])
            let mic = try await lines("mic.wav")
            #expect(mic.contains("capdeck: sound server source: \"Sine source at 440 Hz\" (mic)"), "\(mic)")
            // -q: no query, no line.
            let q = try routes.capdeck(["record", "-q", "-D", "pulse", "-d", "0.3", routes.home.path("q.wav")])
            #expect(await q.finish(timeout: 15) == .exited(0) && q.stderr.isEmpty, "\(q.stderr)")
        }

        /// The pulse plugin says "installing hardware parameters: Input/output error" for a source
        /// the server hasn't; the server is asked and the line says so.
        @Test("record -D pulse:NAME for a source the server hasn't: one line saying so and where the sources are listed, exit 69, no file")
        func aSourceTheServerHasnt() async throws {
            let out = routes.home.path("nosuch.wav")
            let p = try routes.capdeck(["record", "-D", "pulse:nosuchsource", "-d", "1", out])
            #expect(await p.finish(timeout: 15) == .exited(69), "\(p.stderr)")
            #expect(p.stderr.contains("the sound server has no source 'nosuchsource' ('capdeck devices' lists its sources as pulse:NAME)"), "\(p.stderr)")
            #expect(!p.stderr.contains("Input/output error") && access(out, F_OK) != 0, "\(p.stderr)")
        }

        @Test("the console through the sound server says which of its sources it captures, in the event log")
        func theConsoleNamesTheServersSource() async throws {
            let console = try await TmuxConsole(["-D", "pulse", "-o", routes.home.makeDirectory("rec-src")], home: routes.home,
                                                environment: routes.environment, width: 120, height: 32)
            defer { console.shutdown() }
            let s = try await console.waitFor("the source's event", timeout: 10) { s in
                s.events.contains { $0.hasPrefix("sound server source: ") }
            }
            #expect(s.events.contains("sound server source: \"Monitor of Null Output\" (monitor nullsink.monitor)"), "\(s.events)")
            try await console.press("q")
            #expect(try await console.waitForExit() == 0)
        }

        @Test("the capture stream tells the server who it is: application name, media.role production, icon (pactl list source-outputs)")
        func streamIdentity() async throws {
            let out = routes.home.path("who.wav")
            let p = try routes.capdeck(["record", "-D", "toneA", out])
            _ = try await p.waitForFile(out)
            // The file is made before capture starts: wait (bounded) for the stream to be on the server.
            var r = try await routes.pulse.pactl(["list", "source-outputs"])
            let deadline = Monotonic.now + 10
            while !r.stdout.contains("application.name") && Monotonic.now < deadline {
                try await Task.sleep(for: .milliseconds(50))
                r = try await routes.pulse.pactl(["list", "source-outputs"])
            }
            try p.send("stop")
            _ = await p.finish(timeout: 10)
            #expect(r.stdout.contains("application.name = \"CaptureDeck\""), "\(r.stdout)")
            #expect(r.stdout.contains("media.role = \"production\""), "\(r.stdout)")
            #expect(r.stdout.contains("application.icon_name = \"audio-input-microphone\""), "\(r.stdout)")
        }
    }
}
