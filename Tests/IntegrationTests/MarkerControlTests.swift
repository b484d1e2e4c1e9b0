// Markers from `record`'s standard input and the console's `m` key, on a paced source (a file PCM
// over the tests' own PulseAudio daemon), read back from the file by an independent reader
// (Tests/Support/read-markers.py).
import Foundation
import Glibc
import Testing

extension Integration {
    @Suite("Markers from stdin and the console key, on a paced source")
    final class MarkerControl {
        let routes: ToneRoutes

        init() async throws { routes = try await ToneRoutes() }
        deinit { routes.shutdown() }

        /// The frame each `mark` gets is the one being captured as the line arrives: between the
        /// frames `status` reports just before and just after it (the same batch of stdin lines),
        /// which lie within two device periods of each other. `pause` and `resume` mark the frame
        /// where the file paused.
        @Test("mark on stdin lands within the frames captured around it; pause and resume are marked")
        func markOnStdin() async throws {
            let out = routes.home.path("marks.wav")
            let c = try routes.capdeck(["record", "-q", "-D", ToneRoutes.toneA.name, "-f", "S16_LE", "-r", "48000", "-c", "2", out])
            _ = try await c.waitForFile(out)
            try await Task.sleep(for: .milliseconds(500))
            var brackets: [(before: Int, after: Int, period: Int)] = []
            for i in 0..<3 {
                let seen = c.stdoutLines.count
                try c.send("status\nmark take \(i)  two words\nstatus")
                let start = Monotonic.now
                while c.stdoutLines.count < seen + 2 && Monotonic.now - start < 5 { try await Task.sleep(for: .milliseconds(5)) }
                let lines = c.stdoutLines
                try #require(lines.count >= seen + 2, "two status answers; stderr: \(c.stderr)")
                let before = try StatusReply(line: lines[seen]), after = try StatusReply(line: lines[seen + 1])
                brackets.append((Int(try #require(before.number("frames"))), Int(try #require(after.number("frames"))),
                                 Int(try #require(after.number("granted.periodFrames")))))
                try await Task.sleep(for: .milliseconds(300))
            }
            try c.send("pause")
            try await Task.sleep(for: .milliseconds(400))
            let paused = try await c.status()
            try c.send("resume")
            try await Task.sleep(for: .milliseconds(300))
            try c.send("mark")  // no label: "mark"
            try c.send("mark")
            try await Task.sleep(for: .milliseconds(200))
            // status lists them as placed in the file (the writer has passed them by now).
            let listed = try await c.status()
            let recent = try #require(listed.array("markers.recent") as? [[String: Any]], "\(listed)")
            #expect(listed.number("markers.count") == 7 && recent.count == 7, "\(listed)")
            let statusLabels = recent.compactMap { $0["label"] as? String }
            try c.send("stop")
            let t = await c.child.wait(timeout: 15)
            #expect(t?.exitCode == 0, "\(String(describing: t)); stderr: \(c.stderr)")
            #expect(!c.stderr.contains("control:"), "every command was taken: \(c.stderr)")

            let marks = try await readMarkers(out, scratch: routes.home)
            try #require(marks.count == 7, "\(marks)")
            for (i, b) in brackets.enumerated() {
                #expect(marks[i].label == "take \(i) two words")
                // The recording began with the session's first frame: file frames are session frames here.
                #expect(b.before <= marks[i].frame && marks[i].frame <= b.after, "mark \(i) at \(marks[i].frame), captured \(b.before)...\(b.after)")
                #expect(b.after - b.before <= 2 * b.period, "status, mark, status took \(b.after - b.before) frames; period \(b.period)")
            }
            #expect(marks[3].label == "pause" && marks[4].label == "resume" && marks[3].frame == marks[4].frame, "\(marks)")
            // The file paused at or after the last take's mark, and before the frames written when `status` saw it paused.
            let pausedAt = Int(try #require(paused.number("recordedFrames")))
            #expect(marks[3].frame == pausedAt && marks[3].frame > marks[2].frame, "pause at \(marks[3].frame); paused with \(pausedAt) frames written")
            #expect(marks[5].label == "mark" && marks[6].label == "mark" && marks[5].frame > marks[4].frame && marks[6].frame >= marks[5].frame)
            #expect(statusLabels == marks.map(\.label), "status's markers: \(statusLabels)")
            #expect(recent.compactMap { ($0["frame"] as? NSNumber)?.intValue } == marks.map(\.frame), "status's frames are the file's: \(recent)")
            let file = try SoundFile.read(out, samples: .int)
            #expect(marks.allSatisfy { $0.frame <= file.frames })
        }

        /// With automatic configuration off, a category that can't record stops a start
        /// (exit 69). Set while capture runs, it takes effect at the next start: the take goes
        /// on, one line says so, and the take ends as any other (exit 0). It used to be kept as
        /// the take's failure: "cannot start: …" printed at the stop, with exit 74, after a
        /// whole take that `status` had shown running.
        @Test("category ambient on stdin while recording with auto-configure off: one warning now, the take goes on and saves, exit 0")
        func aCategoryThatCantRecordSetWhileRunning() async throws {
            let out = routes.home.path("ambient.wav")
            let c = try routes.capdeck(["record", "-D", ToneRoutes.toneA.name, out])
            _ = try await c.waitForFile(out)
            try c.send("set auto-configure off")
            try c.send("category ambient")
            let said = await c.waitForStderrLine { $0.contains("'ambient'") }
            #expect(said?.contains("does not permit recording") == true && said?.contains("the recording goes on") == true, "\(c.stderr)")
            let s = try await c.status()
            #expect(s.bool("running") == true && s.bool("interrupted") == false, "\(s)")
            try await Task.sleep(for: .milliseconds(500))
            try c.send("stop")
            #expect(await c.child.wait(timeout: 15)?.exitCode == 0, "\(c.stderr)")
            #expect(!c.stderr.contains("cannot start"), "\(c.stderr)")
            #expect(c.stderrLines.last?.contains("saved") == true, "\(c.stderr)")
            #expect(try SoundFile.read(out, samples: .none).frames > 24_000, "\(c.stderr)")
        }

        /// A crashed WAV's markers wait in its sidecar; `recover` folds them in as cue points. It
        /// said "complete: … nothing to do" for a file whose audio was whole, while it had just
        /// changed it, and never named the markers.
        @Test("kill -9 after two marks: recover says it added 2 markers from the sidecar, the file has their cue points; again: nothing to do")
        func recoverSaysItFoldedTheSidecarsMarkers() async throws {
            let out = routes.home.path("crash-marks.wav")
            let c = try routes.capdeck(["record", "-q", "-D", ToneRoutes.toneA.name, out])
            _ = try await c.waitForFile(out)
            try await Task.sleep(for: .milliseconds(400))
            try c.send("mark one")
            try c.send("mark two")
            // A checkpoint syncs the sidecar about once a second.
            try await Task.sleep(for: .milliseconds(2200))
            c.child.signal(SIGKILL)
            _ = await c.child.wait(timeout: 5)
            try #require(access(out + ".markers", F_OK) == 0, "the sidecar is there after the crash")
            let r = try await Capdeck.run(["recover", out], home: routes.home)
            #expect(r.exitCode == 0 && r.stdout.contains("added 2 markers from \(out).markers to the file"), "\(r)")
            #expect(access(out + ".markers", F_OK) != 0, "the sidecar is folded in and gone")
            #expect(try await readMarkers(out, scratch: routes.home).map(\.label) == ["one", "two"])
            let again = try await Capdeck.run(["recover", out], home: routes.home)
            #expect(again.exitCode == 0 && again.stdout.contains("nothing to do") && !again.stdout.contains("marker"), "\(again)")
        }

        @Test("mark while not recording, and unknown commands, say so on one line")
        func markRefusals() async throws {
            let out = routes.home.path("refuse.wav")
            let c = try routes.capdeck(["record", "-q", "-D", ToneRoutes.toneA.name, out])
            _ = try await c.waitForFile(out)
            try c.send("pause")
            try c.send("pause")
            try c.send("resume")
            try c.send("resume")
            try c.send("marks")
            try c.send("help")
            let help = await c.waitForStderrLine { $0.contains("control: commands:") }
            let h = try #require(help, "\(c.stderr)")
            for form in ["mark [LABEL]", "pause", "resume", "status", "stop", "category NAME", "set mix on|off"] { #expect(h.contains(form), "\(h)") }
            #expect(c.stderrLines.contains("capdeck: control: already paused") || c.stderr.contains("control: already paused"), "\(c.stderr)")
            #expect(c.stderr.contains("control: not paused") && c.stderr.contains("control: unknown command 'marks'"), "\(c.stderr)")
            try c.send("stop")
            #expect(await c.child.wait(timeout: 15)?.exitCode == 0)
        }

        /// The console's `m` adds a marker at the frame being captured as the key arrives. tmux
        /// delivers keys with tens of ms of jitter, so the bound here is wall-clock: the marker
        /// sits where the file was when `m` was sent, within 150 ms, as seen from both ends of the
        /// take (from `r`, and back from the stop). The panel lists it with `p`'s two.
        @Test("the console's m key marks the current frame; the Recording panel lists the markers")
        func consoleKey() async throws {
            let rec = routes.home.makeDirectory("rec")
            let console = try await TmuxConsole(["-D", ToneRoutes.toneA.name, "-o", rec], home: routes.home,
                                                environment: routes.environment, width: 80, height: 24)
            defer { console.shutdown() }
            _ = try await console.waitFor("capturing", timeout: 10) { $0.isConsole && $0.contains("capturing") }
            let tR = Monotonic.now
            try await console.press("r")
            let recording = try await console.waitFor("recording") { $0.recordingFile != nil }
            let path = try #require(recording.recordingFile)
            #expect(recording.contains("Markers none yet (m marks the frame being captured)"), "\(recording)")
            try await Task.sleep(for: .milliseconds(1200))
            let tM = Monotonic.now
            try await console.press("m")
            let marked = try await console.waitFor("the marker listed") { $0.lines.contains { $0.hasPrefix("Markers 1  00:00:01.") } }
            #expect(marked.lines.contains { $0.hasPrefix("Markers 1  ") && $0.hasSuffix(" mark") }, "\(marked)")
            try await Task.sleep(for: .milliseconds(500))
            let tP = Monotonic.now
            try await console.press("p")
            _ = try await console.waitFor("paused") { $0.contains("‖ paused") }
            try await Task.sleep(for: .milliseconds(300))  // a pause that skips no frame leaves no marker
            try await console.press("p")
            let resumed = try await console.waitFor("three markers") { $0.lines.contains { $0.hasPrefix("Markers 3  ") } }
            let line = try #require(resumed.lines.first { $0.hasPrefix("Markers 3  ") })
            #expect(line.contains(" mark  ") && line.contains(" pause  ") && line.hasSuffix(" resume") && line.count <= 80, "\(line)")
            #expect(resumed.lines.last { !$0.isEmpty }?.contains("m mark") == true, "footer: \(resumed.lines.last ?? "")")
            try await Task.sleep(for: .milliseconds(600))
            try await console.press("r")
            _ = try await console.waitFor("stopped") { $0.contains("stopped (r records)") }
            let marks = try await readMarkers(path, scratch: routes.home)
            try #require(marks.count == 3, "\(marks)")
            #expect(marks.map(\.label) == ["mark", "pause", "resume"])
            let file = try SoundFile.read(path, samples: .int)
            let rate = Double(ToneRoutes.rate)
            let fromStart = (tM - tR) * rate
            #expect(abs(Double(marks[0].frame) - fromStart) <= 0.15 * rate, "mark at \(marks[0].frame); \(tM - tR) s after r is \(fromStart)")
            let toPause = (tP - tM) * rate
            #expect(abs(Double(marks[1].frame - marks[0].frame) - toPause) <= 0.15 * rate,
                    "mark to pause: \(marks[1].frame - marks[0].frame) frames; the keys were \(tP - tM) s apart")
            #expect(marks[1].frame == marks[2].frame && marks[2].frame < file.frames)
        }
    }
}
