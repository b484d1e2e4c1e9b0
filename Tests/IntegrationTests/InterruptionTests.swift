// EBUSY on an exclusive route (issue 3): a second CaptureDeck process that wants a route another
// one holds exclusively is interrupted with `audioDeviceInUseByAnotherClient`, keeps running,
// and resumes by itself once the device frees up, then records real audio.
import Foundation
import Glibc
import Testing

extension Integration {
    @Suite("Interruption: exclusive route in use by another program")
    final class Interruption {
        let routes: ToneRoutes

        init() async throws {
            routes = try await ToneRoutes()
        }

        deinit { routes.shutdown() }

        static let tones = [(name: "toneA", frequency: 440.0), (name: "toneB", frequency: 1000.0)]
        static let windowFrames = 2_400

        func toneWindows(_ path: String) throws -> (file: SoundFile, windows: [ToneWindow]) {
            let file = try SoundFile.read(path, samples: .int)
            let w = ToneAnalysis.windows(file.channel(0), rate: ToneRoutes.rate, windowFrames: Self.windowFrames,
                                         tones: Self.tones, amplitude: ToneRoutes.amplitude)
            return (file, w)
        }

        /// Starts process A on the exclusive route `toneA` and returns once it is capturing.
        func startHolder(_ out: String) async throws -> ControlledCapdeck {
            let a = try routes.capdeck(["record", "-D", "toneA", "--exclusive-device", "toneA", out], label: "A")
            _ = try await a.waitForFile(out)
            let s = try await a.status()
            try #require(s.bool("running") == true && s.string("route.pcm") == "toneA", "A is not capturing toneA: \(s); \(a.stderr)")
            return a
        }

        @Test("a second recorder on a held exclusive route is interrupted, waits, and resumes by itself when the first stops")
        func interruptedAtStart() async throws {
            let aOut = routes.home.path("a.wav")
            let bOut = routes.home.path("b.wav")
            let a = try await startHolder(aOut)
            let aStarted = Monotonic.now

            let b = try routes.capdeck(["record", "-D", "toneA", "--exclusive-device", "toneA", bOut], label: "B")
            _ = try await b.waitForFile(bOut)
            let interrupted = await b.waitForStderrLine { $0.contains("interrupted") }
            let line = try #require(interrupted, "B reports no interruption: \(b.stderr)")
            #expect(line.hasPrefix("capdeck: "), "\(line)")
            #expect(line.contains("in use by another program"), "\(line)")
            #expect(line.contains("toneA"), "\(line)")
            #expect(line.contains("audioDeviceInUseByAnotherClient"), "\(line)")

            // B waits: running process, interrupted session, no route.
            let sb = try await b.status()
            #expect(sb.bool("interrupted") == true, "\(sb)")
            #expect(sb.bool("running") == false, "\(sb)")
            try await Task.sleep(for: .milliseconds(800))
            #expect(b.child.poll() == nil, "B must not exit while interrupted: \(b.stderr)")
            #expect(!b.stderr.contains("interruption ended"), "A still holds the route: \(b.stderr)")
            #expect(b.stderrLines.filter { $0.contains("interrupted") }.count == 1, "reported once, not per retry: \(b.stderr)")

            // A stops (SIGINT): B resumes on its own.
            a.child.signal(SIGINT)
            let aTerm = await a.finish(timeout: 10)
            let freed = Monotonic.now
            let aSeconds = freed - aStarted
            #expect(aTerm == .exited(0), "A: \(String(describing: aTerm)); \(a.stderr)")
            let ended = await b.waitForStderrLine(timeout: 5) { $0.contains("interruption ended") }
            let resumed = Monotonic.now
            #expect(ended == "capdeck: interruption ended", "B: \(b.stderr)")
            #expect(resumed - freed < 2, "B resumed \(resumed - freed) s after A freed the route")
            let sr = try await b.status()
            #expect(sr.bool("running") == true && sr.bool("interrupted") == false, "\(sr)")
            #expect(sr.string("route.pcm") == "toneA" && sr.string("route.kind") == "exclusive", "\(sr)")

            try await sleepUntil(resumed + 1.5)
            b.child.signal(SIGINT)
            let stoppedB = Monotonic.now
            let bTerm = await b.finish(timeout: 10)
            #expect(bTerm == .exited(0), "B: \(String(describing: bTerm)); \(b.stderr)")
            #expect(b.stderr.contains("saved \(bOut)"), "\(b.stderr)")

            // B's file: at least a second of the tone, nothing else but a partial last window.
            let (bFile, bWindows) = try toneWindows(bOut)
            let toneSeconds = Double(bWindows.filter { $0.label == "toneA" }.count * Self.windowFrames) / Double(ToneRoutes.rate)
            #expect(toneSeconds >= 1.0, "B's file holds \(toneSeconds) s of toneA (\(bFile.frames) frames)")
            #expect(Double(bFile.frames) / Double(ToneRoutes.rate) <= stoppedB - freed + 0.7 + Capdeck.timingSlack,
                    "B recorded \(bFile.frames) frames in the \(stoppedB - freed) s after the route freed")
            #expect(bWindows.allSatisfy { $0.label == "toneA" }, "B: \(bWindows.filter { $0.label != "toneA" }.prefix(5))")

            // A's file is untouched by B's attempts: toneA throughout, as long as A ran.
            let (aFile, aWindows) = try toneWindows(aOut)
            #expect(aWindows.allSatisfy { $0.label == "toneA" }, "A: \(aWindows.filter { $0.label != "toneA" }.prefix(5))")
            #expect(abs(Double(aFile.frames) / Double(ToneRoutes.rate) - aSeconds) <= 0.7 + Capdeck.timingSlack,
                    "A recorded \(aFile.frames) frames in about \(aSeconds) s")
        }

        @Test("switching to a held exclusive route: interrupted, the shared route keeps recording cleanly, the switch happens when it frees")
        func interruptedOnSwitch() async throws {
            let rate = ToneRoutes.rate
            let aOut = routes.home.path("hold.wav")
            let bOut = routes.home.path("switch.wav")
            let a = try await startHolder(aOut)

            // B starts on the shared route (mix on), then asks for the exclusive one.
            let b = try routes.capdeck(["record", "-D", "toneA", "--exclusive-device", "toneA", "--shared-device", "toneB",
                                        "--mix-with-others", bOut], label: "B")
            let t0 = try await b.waitForFile(bOut)
            let s0 = try await b.status()
            #expect(s0.string("route.pcm") == "toneB" && s0.string("route.kind") == "shared", "\(s0)")
            try await sleepUntil(t0 + 0.8)
            try b.send("set mix off")
            let interrupted = await b.waitForStderrLine { $0.contains("interrupted") }
            #expect(interrupted?.contains("in use by another program") == true && interrupted?.contains("toneA") == true,
                    "B: \(b.stderr)")
            let s1 = try await b.status()
            #expect(s1.bool("interrupted") == true, "\(s1)")
            #expect(s1.bool("running") == true && s1.string("route.pcm") == "toneB", "B goes on with the shared route: \(s1)")

            // Held for 1.5 s (several retries), then A stops.
            try await sleepUntil(t0 + 2.3)
            a.child.signal(SIGINT)
            #expect(await a.finish(timeout: 10) == .exited(0), "A: \(a.stderr)")
            let freedAt = Monotonic.now - t0
            let ended = await b.waitForStderrLine(timeout: 5) { $0.contains("interruption ended") }
            #expect(ended != nil, "B: \(b.stderr)")
            let changed = await b.waitForStderrLine(timeout: 5) { $0.contains("route changed") }
            #expect(changed?.contains("toneB (shared) -> toneA (exclusive)") == true, "B: \(b.stderr)")
            let s2 = try await b.status()
            #expect(s2.string("route.pcm") == "toneA" && s2.bool("interrupted") == false, "\(s2)")

            try await sleepUntil(Monotonic.now + 1.0)
            try b.send("stop")
            let stopSent = Monotonic.now - t0
            #expect(await b.finish(timeout: 10) == .exited(0), "B: \(b.stderr)")

            // One file: toneB until the switch, toneA after it, nothing lost (length = wall clock),
            // and no glitch in the shared route's audio while the exclusive one was retried.
            let (file, windows) = try toneWindows(bOut)
            let runs = ToneAnalysis.runs(windows, windowFrames: Self.windowFrames)
            #expect(runs.map(\.label) == ["toneB", "toneA"], "spans: \(runs.map { "\($0.label) \($0.start)..<\($0.end)" })")
            #expect(abs(Double(file.frames) / Double(rate) - stopSent) <= 0.7,
                    "file holds \(Double(file.frames) / Double(rate)) s; wall clock \(stopSent) s")
            let cues = try WAVChunks(path: bOut).cuePoints.map { Int($0.position) }
            #expect(cues.count == 1, "one switch, one cue: \(cues)")
            let cue = cues.first ?? 0
            #expect(abs(Double(cue) / Double(rate) - freedAt) <= 0.7 + Capdeck.timingSlack, "cue at \(Double(cue) / Double(rate)) s; the route freed at \(freedAt) s")
            let samples = file.channel(0)
            let breaks = ToneAnalysis.recurrenceBreaks(samples, frequencies: Self.tones.map(\.frequency), rate: Double(rate))
            let stray = breaks.filter { abs($0 - cue) > rate / 20 }
            let silences = ToneAnalysis.zeroRuns(samples, minimum: 2).filter { abs($0.start - cue) > rate / 20 }
            #expect(stray.isEmpty && silences.isEmpty,
                    "the recording breaks away from the switch (cue at \(cue)): discontinuities at \(stray.prefix(12)), silences \(silences.prefix(12))")
        }
            @Test("a view of the same card held by another program: the shared view keeps recording without a single gap for 3 s of retries, and the switch happens once it frees")
        func sameCardHeldByAnother() async throws {
            let rate = ToneRoutes.rate
            // Two views of one pretend card 7, as a desktop's hw:/plughw: and dsnoop: of a card:
            // plughw:7 plays toneA, dsnoop:7 toneB (ALSA lets a user config redefine them).
            let rc = try String(contentsOfFile: routes.home.path(".asoundrc"), encoding: .utf8)
            func view(_ name: String, _ tone: String) -> String {
                "pcm.!\(name) { @args [ CARD ] @args.CARD { type string } type file slave.pcm \"pulse\" file \"/dev/null\" "
                    + "infile \"\(routes.home.path(tone + ".raw"))\" format \"raw\" }\n"
            }
            try routes.home.write(".asoundrc", rc + view("plughw", "toneA") + view("dsnoop", "toneB"))
            let aOut = routes.home.path("holder.wav")
            let bOut = routes.home.path("card.wav")
            let a = try routes.capdeck(["record", "-D", "plughw:7", "--exclusive-device", "plughw:7", aOut], label: "A")
            _ = try await a.waitForFile(aOut)
            let b = try routes.capdeck(["record", "-D", "plughw:7", "--exclusive-device", "plughw:7", "--shared-device", "dsnoop:7",
                                        "--mix-with-others", bOut], label: "B")
            let t0 = try await b.waitForFile(bOut)
            try await sleepUntil(t0 + 0.8)
            try b.send("set mix off")
            let interrupted = await b.waitForStderrLine { $0.contains("interrupted") }
            #expect(interrupted?.contains("plughw:7") == true, "B: \(b.stderr)")
            // 3 s held: twelve retries, each of which used to be allowed to close dsnoop:7 first
            // every 8th time (a gap of silence every 2 s).
            try await sleepUntil(t0 + 4.0)
            #expect(!b.stderr.contains("gap"), "B glitched while the other program held the card: \(b.stderr)")
            a.child.signal(SIGINT)
            #expect(await a.finish(timeout: 10) == .exited(0), "A: \(a.stderr)")
            let freedAt = Monotonic.now - t0
            let changed = await b.waitForStderrLine(timeout: 5) { $0.contains("route changed") }
            #expect(changed?.contains("plughw:7") == true, "B: \(b.stderr)")
            try await sleepUntil(Monotonic.now + 0.8)
            try b.send("stop")
            #expect(await b.finish(timeout: 10) == .exited(0), "B: \(b.stderr)")

            let (file, windows) = try toneWindows(bOut)
            let runs = ToneAnalysis.runs(windows, windowFrames: Self.windowFrames)
            #expect(runs.map(\.label) == ["toneB", "toneA"], "spans: \(runs.map { "\($0.label) \($0.start)..<\($0.end)" })")
            let cue = try WAVChunks(path: bOut).cuePoints.map { Int($0.position) }.last ?? 0
            #expect(abs(Double(cue) / Double(rate) - freedAt) <= 0.7 + Capdeck.timingSlack, "cue at \(Double(cue) / Double(rate)) s; freed at \(freedAt) s")
            let silences = ToneAnalysis.zeroRuns(file.channel(0), minimum: 2).filter { abs($0.start - cue) > rate / 20 }
            #expect(silences.isEmpty, "silence away from the switch (cue at \(cue)): \(silences.prefix(12))")
        }
    }
}
