// Live route re-negotiation (issue 3): `capdeck record` with an exclusive and a shared route,
// each a paced PCM over the tests' own PulseAudio daemon carrying a different tone; mix is
// switched on and off through standard input while recording. The one file must hold the right
// tone in each span, in order, continuous apart from the reported gaps, its length must match
// the wall clock, and each switch must leave a cue point.
import CSndfile
import Foundation
import Glibc
import Testing

extension Integration {
    @Suite("Live route re-negotiation through PulseAudio")
    final class RouteRenegotiation {
        let routes: ToneRoutes

        init() async throws {
            routes = try await ToneRoutes()
        }

        deinit { routes.shutdown() }

        /// Control commands and when they are sent (seconds after the output file appears);
        /// the route after each.
        static let toggles: [(at: Double, command: String, to: String)] = [
            (1.2, "set mix on", "toneB"),
            (2.4, "set mix off", "toneA"),
            (3.6, "toggle mix", "toneB"),
            (4.8, "toggle mix", "toneA"),
        ]
        static let stopAt = 6.0
        static let windowFrames = 2_400  // 50 ms: a whole number of cycles of 440 Hz and 1000 Hz

        @Test("mix on/off while recording: one file, right tone per span, gaps reported and filled, a cue per switch")
        func toggleMixWhileRecording() async throws {
            let rate = ToneRoutes.rate
            let out = routes.home.path("toggle.wav")
            let p = try routes.capdeck(["record", "-D", "toneA", "--exclusive-device", "toneA", "--shared-device", "toneB", out])
            let t0 = try await p.waitForFile(out)
            var sentAt: [Double] = []
            for t in Self.toggles {
                try await sleepUntil(t0 + t.at)
                #expect(p.child.poll() == nil, "capdeck ended before '\(t.command)': \(p.stderr)")
                try p.send(t.command)
                sentAt.append(Monotonic.now - t0)
            }
            try await sleepUntil(t0 + Self.stopAt)
            try p.send("stop")
            let stopSent = Monotonic.now - t0
            let term = await p.finish(timeout: 15)
            #expect(term == .exited(0), "\(String(describing: term)); stderr: \(p.stderr)")
            try #require(term != nil, "capdeck did not stop within 15 s of 'stop': \(p.stderr)")

            // The event log: one "route changed" line per switch, in order, each with its gap.
            let stderrLines = p.stderrLines
            let changes = stderrLines.filter { $0.hasPrefix("capdeck: route changed: ") }
            #expect(changes.count == Self.toggles.count, "route changed lines: \(p.stderr)")
            var gapsMs: [Double] = []
            var from = "toneA"
            for (i, line) in changes.enumerated() where i < Self.toggles.count {
                let to = Self.toggles[i].to
                let kinds = ["toneA": "exclusive", "toneB": "shared"]
                let expected = "\(from) (\(kinds[from]!)) -> \(to) (\(kinds[to]!))"
                #expect(line.contains(expected), "switch \(i + 1): expected '\(expected)' in \(line.debugDescription)")
                #expect(line.contains("S16_LE 48000 Hz 2 ch"), "negotiated parameters in \(line.debugDescription)")
                if let g = Self.gapMs(in: line) {
                    gapsMs.append(g)
                    #expect(g >= 0 && g < 1000, "switch \(i + 1): gap \(g) ms")
                } else {
                    Issue.record("switch \(i + 1): no 'gap N ms' in \(line.debugDescription)")
                }
                from = to
            }
            #expect(!stderrLines.contains { $0.contains("interrupted") || $0.contains("error") }, "\(p.stderr)")
            #expect(stderrLines.last?.hasPrefix("capdeck: saved \(out): ") == true, "\(p.stderr)")

            // The file: the session's format throughout, as long as the wall clock says.
            let file = try SoundFile.read(out, samples: .int)
            #expect(file.channels == 2 && file.sampleRate == rate, "\(file.channels) ch \(file.sampleRate) Hz")
            #expect([Int32(SF_FORMAT_WAV), Int32(SF_FORMAT_WAVEX)].contains(file.majorFormat) && file.subtype == Int32(SF_FORMAT_PCM_16),
                    "container 0x\(String(file.format, radix: 16))")
            let seconds = Double(file.frames) / Double(rate)
            #expect(abs(seconds - stopSent) <= 0.7,
                    "file holds \(seconds) s; wall clock from file creation to 'stop' was \(stopSent) s (gaps must be filled)")

            let left = file.channel(0)
            let right = file.channel(1)
            #expect(left == right, "both channels carry the same tone, frame for frame")

            // Cue points: libsndfile counts them; the chunk itself has one per switch, in order,
            // each near the moment its command was sent, with a label naming the switch.
            let riff = try WAVChunks(path: out)
            #expect(riff.problems.isEmpty, "RIFF structure: \(riff.problems)")
            #expect(riff.chunk("data")?.size == file.frames * 4, "data chunk size vs \(file.frames) frames")
            let cues = riff.cuePoints
            #expect(try SoundFile.cueCount(out) == Self.toggles.count, "libsndfile SFC_GET_CUE_COUNT")
            #expect(cues.count == Self.toggles.count, "cue chunk: \(cues.map(\.position))")
            let cueFrames = cues.map { Int($0.position) }
            #expect(cueFrames == cueFrames.sorted() && Set(cueFrames).count == cueFrames.count, "cue positions \(cueFrames)")
            let labels = riff.cueLabels
            var labelFrom = "toneA"
            for (i, c) in cues.enumerated() where i < Self.toggles.count {
                #expect(c.chunk == "data" && c.sampleOffset == c.position, "cue \(i + 1): \(c)")
                let to = Self.toggles[i].to
                #expect(labels[c.name]?.contains("\(labelFrom) -> \(to)") == true, "cue \(i + 1) label: \(String(describing: labels[c.name]))")
                labelFrom = to
                let at = Double(c.position) / Double(rate)
                #expect(abs(at - sentAt[i]) <= 0.7, "cue \(i + 1) at \(at) s in the file; its command was sent at \(sentAt[i]) s")
            }

            // Content, 50 ms at a time: A, B, A, B, A; anything else only next to a switch.
            let tones = [(name: "toneA", frequency: 440.0), (name: "toneB", frequency: 1000.0)]
            let windows = ToneAnalysis.windows(left, rate: rate, windowFrames: Self.windowFrames, tones: tones,
                                               amplitude: ToneRoutes.amplitude)
            let runs = ToneAnalysis.runs(windows, windowFrames: Self.windowFrames)
            #expect(runs.map(\.label) == ["toneA", "toneB", "toneA", "toneB", "toneA"],
                    "tone spans: \(runs.map { "\($0.label) \($0.start)..<\($0.end)" })")
            let nearSwitch = { (frame: Int) -> Bool in
                cueFrames.contains { frame + Self.windowFrames >= $0 - Self.windowFrames && frame <= $0 + 2 * Self.windowFrames }
            }
            let odd = windows.filter { $0.label == "silence" || $0.label == "mixed" }
            let stray = odd.filter { !nearSwitch($0.frame) }
            #expect(stray.isEmpty, "windows that hold neither tone away from any switch: \(stray.prefix(10))")
            #expect(odd.count <= 3 * cueFrames.count, "\(odd.count) windows hold neither tone: \(odd.prefix(12))")
            if runs.count == cueFrames.count + 1 {
                for (i, cue) in cueFrames.enumerated() {
                    #expect(cue >= runs[i].end - Self.windowFrames && cue <= runs[i + 1].start + Self.windowFrames,
                            "cue \(i + 1) at frame \(cue), tone changes between \(runs[i].end) and \(runs[i + 1].start)")
                }
            }

            // Continuity, sample by sample: a sine obeys x[n] = 2cos(w)·x[n-1] - x[n-2] (to within
            // 16-bit rounding), so a dropped, repeated or foreign frame shows as a residual. Only
            // the switches (the tone ending, the silence, the new tone starting) may break it.
            let breaks = ToneAnalysis.recurrenceBreaks(left, frequencies: tones.map(\.frequency), rate: Double(rate))
            let strayBreaks = breaks.filter { b in
                !zip(cueFrames, gapsMs + Array(repeating: 0, count: max(0, cueFrames.count - gapsMs.count))).contains { cue, gap in
                    b >= cue - rate / 100 && b <= cue + Int(gap * Double(rate) / 1000) + rate / 100
                }
            }
            #expect(strayBreaks.isEmpty, "the tone is discontinuous away from the switches at frames \(strayBreaks.prefix(20)) (cues \(cueFrames))")

            // The gaps: each reported gap is silence in the file at its cue.
            let silences = ToneAnalysis.zeroRuns(left, minimum: 2)
            for (i, cue) in cueFrames.enumerated() where i < gapsMs.count {
                let expectedFrames = gapsMs[i] * Double(rate) / 1000
                let near = silences.filter { $0.start >= cue - rate / 100 && $0.start <= cue + rate / 100 }
                let got = near.map(\.count).reduce(0, +)
                #expect(abs(Double(got) - expectedFrames) <= 0.25 * expectedFrames + 48 + 2,
                        "switch \(i + 1): \(got) silent frames at the cue (\(near)); the log says gap \(gapsMs[i]) ms = \(expectedFrames) frames")
            }
            let straySilence = silences.filter { s in !cueFrames.contains { abs(s.start - $0) <= rate / 100 } }
            #expect(straySilence.isEmpty, "silence away from any switch: \(straySilence.prefix(10))")
        }

        static func gapMs(in line: String) -> Double? {
            guard let r = line.range(of: #"gap (-?[0-9]+(\.[0-9]+)?) ms"#, options: .regularExpression) else { return nil }
            return Double(line[r].dropFirst(4).dropLast(3))
        }
    }
}
