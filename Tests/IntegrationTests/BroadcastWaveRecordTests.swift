// `capdeck record --description`: the bext chunk of a real take, read by ffprobe, its
// TimeReference within the wall-clock span the take started in; bad descriptions refused. A take
// through real route switches (two paced PulseAudio PCMs): its coding history names each route
// at its cue's time, read by wavinfo and ffprobe, the audio unmoved; a SIGKILL after a switch and
// `capdeck recover` keep the history.
import Foundation
import Glibc
import Testing

extension Integration {
    @Suite("Broadcast Wave")
    struct BroadcastWaveRecord {
        /// Samples from local midnight to `t` at `rate` (worked out here with the C library, as
        /// a reader would from the file's date and time).
        static func samplesSinceMidnight(_ t: timespec, rate: Int) -> Int {
            var s = t.tv_sec
            var lt = tm()
            localtime_r(&s, &lt)
            return (Int(lt.tm_hour) * 3600 + Int(lt.tm_min) * 60 + Int(lt.tm_sec)) * rate + Int(t.tv_nsec) * rate / 1_000_000_000
        }

        /// The file's format tags as ffprobe reads them (`TAG:comment`, `TAG:time_reference`, …),
        /// and its output.
        static func ffprobeTags(_ path: String) throws -> (tags: [String: String], text: String) {
            let p = Process()
            p.executableURL = URL(fileURLWithPath: "/usr/bin/ffprobe")
            p.arguments = ["-v", "error", "-of", "default=nw=1", "-show_entries", "format_tags", path]
            let pipe = Pipe()
            p.standardOutput = pipe
            try p.run()
            let text = String(decoding: pipe.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
            p.waitUntilExit()
            var tags: [String: String] = [:]
            for line in text.split(separator: "\n") {
                let kv = line.split(separator: "=", maxSplits: 1)
                if kv.count == 2 { tags[String(kv[0])] = String(kv[1]) }
            }
            return (tags, text)
        }

        @Test("record --description writes a bext chunk whose TimeReference is the take's start")
        func recordWritesBext() async throws {
            let home = try TempDir()
            defer { home.remove() }
            let out = home.path("take.wav")
            var before = timespec(), after = timespec()
            clock_gettime(CLOCK_REALTIME, &before)
            let r = try await Capdeck.run(["record", "-q", "-D", "builtin", "-r", "44100", "-d", "0.5", "--description", "Dawn chorus — Wald", out],
                                          home: home, timeout: 20)
            clock_gettime(CLOCK_REALTIME, &after)
            #expect(r.exitCode == 0, "\(r)")
            let (tags, text) = try Self.ffprobeTags(out)
            #expect(tags["TAG:comment"] == "Dawn chorus — Wald", "\(text)")
            #expect(tags["TAG:encoded_by"]?.hasPrefix("CaptureDeck ") == true)
            #expect(tags["TAG:coding_history"]?.contains("T=CaptureDeck") == true && tags["TAG:coding_history"]?.contains("; builtin") == true, "\(text)")
            let tr = try #require(tags["TAG:time_reference"].flatMap { Int($0) }, "\(text)")
            let lo = Self.samplesSinceMidnight(before, rate: 44100), hi = Self.samplesSinceMidnight(after, rate: 44100)
            // (A take across local midnight would wrap; the span is half a second.)
            #expect(lo <= tr && tr <= hi || hi < lo, "TimeReference \(tr) outside [\(lo), \(hi)]")
        }

        @Test("a description over 256 bytes is refused", arguments: [String(repeating: "a", count: 257), String(repeating: "é", count: 129)])
        func longDescriptionRefused(_ text: String) async throws {
            let home = try TempDir()
            defer { home.remove() }
            let out = home.path("take.wav")
            let r = try await Capdeck.run(["record", "-q", "-D", "builtin", "-d", "0.2", "--description", text, out], home: home, timeout: 15)
            #expect(r.exitCode == 64, "\(r)")
            let lines = r.stderr.split(separator: "\n").filter { !$0.isEmpty }
            #expect(lines.count == 1 && lines[0].hasPrefix("capdeck: ") && r.stderr.contains("--description") && r.stderr.contains("256 bytes"), "\(r.stderr)")
            #expect(!FileManager.default.fileExists(atPath: out))
        }
    }

    @Suite("Broadcast Wave through route switches")
    final class BroadcastWaveRoutes {
        let routes: ToneRoutes

        init() async throws {
            routes = try await ToneRoutes()
        }

        deinit { routes.shutdown() }

        static let bothRoutes = ["-D", "toneA", "--exclusive-device", "toneA", "--shared-device", "toneB"]
        static let version = "0.1.0"

        /// The bext chunk as Python reads it from the bytes: its size, TimeReference and history;
        /// the data chunk's offset and size; and wavinfo's coding history.
        static let script = #"""
        import json, struct, sys
        from wavinfo import WavInfoReader
        b = open(sys.argv[1], 'rb').read()
        pos, out = 12, {}
        while pos + 8 <= len(b):
            cid, size = b[pos:pos+4], struct.unpack('<I', b[pos+4:pos+8])[0]
            if cid == b'bext':
                out['bextSize'] = size
                out['timeReference'] = struct.unpack('<Q', b[pos+8+338:pos+8+346])[0]
                h = b[pos+8+602:pos+8+size]
                out['history'] = h.split(b'\0')[0].decode()
                out['paddingIsNUL'] = all(c == 0 for c in h[len(out['history']):])
            if cid == b'data':
                out['dataOffset'], out['dataSize'] = pos + 8, size
                break
            pos += 8 + size + (size & 1)
        out['wavinfo'] = WavInfoReader(sys.argv[1]).bext.coding_history
        print(json.dumps(out))
        """#

        static func bext(_ path: String) throws -> [String: Any] {
            let p = Process()
            p.executableURL = URL(fileURLWithPath: "/usr/bin/env")
            p.arguments = ["python3", "-c", script, path]
            let out = Pipe(), err = Pipe()
            p.standardOutput = out
            p.standardError = err
            try p.run()
            let data = out.fileHandleForReading.readDataToEndOfFile()
            let e = String(decoding: err.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
            p.waitUntilExit()
            try #require(p.terminationStatus == 0, "python3 with wavinfo (pip install wavinfo): \(e)")
            return try #require(JSONSerialization.jsonObject(with: data) as? [String: Any])
        }

        static func ffprobeHistory(_ path: String) throws -> String? {
            let p = Process()
            p.executableURL = URL(fileURLWithPath: "/usr/bin/ffprobe")
            p.arguments = ["-v", "error", "-of", "json", "-show_entries", "format_tags=coding_history", path]
            let pipe = Pipe()
            p.standardOutput = pipe
            try p.run()
            let data = pipe.fileHandleForReading.readDataToEndOfFile()
            p.waitUntilExit()
            let o = try JSONSerialization.jsonObject(with: data) as? [String: Any]
            return ((o?["format"] as? [String: Any])?["tags"] as? [String: Any])?["coding_history"] as? String
        }

        /// hh:mm:ss.mmm of `samples` since midnight at 48 kHz.
        static func time(_ samples: Int) -> String {
            let s = samples / 48_000 % 86_400, ms = samples % 48_000 * 1000 / 48_000
            return String(format: "%02d:%02d:%02d.%03d", s / 3600, s / 60 % 60, s % 60, ms)
        }

        /// The built-in source is one device with both kinds of route: toggling mix changes the
        /// kind, not the PCM. That change got a `route changed` line but no cue and no history
        /// line, unlike a switch between two PCMs (and unlike Docs/console.md's screen).
        @Test("record -D builtin, mix toggled: a cue and a coding-history line for the new kind of route, as for a switch between PCMs")
        func aRouteKindChangeOnOneDeviceIsMarked() async throws {
            let out = routes.home.path("kind.wav")
            let p = try routes.capdeck(["record", "-D", "builtin", out])
            let t0 = try await p.waitForFile(out)
            try await sleepUntil(t0 + 1.0)
            try p.send("set mix on")
            #expect(await p.waitForStderrLine { $0.contains("route changed") } != nil, "\(p.stderr)")
            try await sleepUntil(t0 + 2.0)
            let s = try await p.status()
            try p.send("stop")
            #expect(await p.finish(timeout: 15) == .exited(0), "\(p.stderr)")
            #expect("\(s)".contains("route: builtin -> builtin (gap 0 ms)"), "status lists the marker: \(s)")
            let riff = try WAVChunks(path: out)
            let cues = riff.cuePoints.map { Int($0.position) }
            try #require(cues.count == 1, "a cue at the change: \(cues)")
            let b = try Self.bext(out)
            let tr = try #require(b["timeReference"] as? Int)
            let lines = try #require(b["history"] as? String).components(separatedBy: "\r\n")
            #expect(lines.count == 4 && lines[0].hasSuffix("; builtin (exclusive route)")
                    && lines[1].hasSuffix("; builtin (shared route) at \(Self.time(tr + cues[0]))"), "\(lines)")
        }

        @Test("a take through two route switches: its coding history names each route at its cue's time; the audio stays put")
        func historyListsTheRoutes() async throws {
            let out = routes.home.path("routes.wav")
            let p = try routes.capdeck(["record"] + Self.bothRoutes + ["--description", "two routes", out])
            let t0 = try await p.waitForFile(out)
            try await sleepUntil(t0 + 1.5)
            // Before any switch (a checkpoint has passed): where the audio is, and what it is.
            let early = routes.home.path("early.wav")
            try FileManager.default.copyItem(atPath: out, toPath: early)
            let before = try Self.bext(early)
            try p.send("set mix on")
            #expect(await p.waitForStderrLine { $0.contains("route changed") } != nil, "\(p.stderr)")
            try await sleepUntil(t0 + 3.0)
            try p.send("set mix off")
            #expect(await p.waitForStderrLine { $0.contains("route changed") && $0.contains("-> toneA") } != nil, "\(p.stderr)")
            try await sleepUntil(t0 + 4.5)
            try p.send("stop")
            #expect(await p.finish(timeout: 15) == .exited(0), "\(p.stderr)")

            let b = try Self.bext(out)
            let riff = try WAVChunks(path: out)
            #expect(riff.problems.isEmpty, "\(riff.problems)")
            let cues = riff.cuePoints.map { Int($0.position) }
            try #require(cues.count == 2, "a cue per switch: \(cues)")
            let tr = try #require(b["timeReference"] as? Int)
            let history = try #require(b["history"] as? String)
            let lines = history.components(separatedBy: "\r\n")
            let expected = [
                "A=PCM,F=48000,W=16,M=stereo,T=CaptureDeck \(Self.version); toneA (exclusive route)",
                "A=PCM,F=48000,W=16,M=stereo,T=CaptureDeck \(Self.version); toneB (shared route) at \(Self.time(tr + cues[0]))",
                "A=PCM,F=48000,W=16,M=stereo,T=CaptureDeck \(Self.version); toneA (exclusive route) at \(Self.time(tr + cues[1]))",
                "A=PCM,F=48000,W=16,M=stereo,T=libsndfile-1.2.0", "",
            ]
            #expect(lines == expected, "\(history.debugDescription)")
            #expect(b["paddingIsNUL"] as? Bool == true)
            #expect(b["wavinfo"] as? String == history, "wavinfo: \(String(describing: b["wavinfo"]))")
            #expect(try Self.ffprobeHistory(out) == history, "ffprobe")
            // The chunk kept its size and the audio its place; what was there before the
            // switches is there still, byte for byte.
            #expect(b["bextSize"] as? Int == before["bextSize"] as? Int && b["dataOffset"] as? Int == before["dataOffset"] as? Int, "\(before) vs \(b)")
            let offset = try #require(before["dataOffset"] as? Int), earlySize = try #require(before["dataSize"] as? Int)
            let a = [UInt8](try Data(contentsOf: URL(fileURLWithPath: early))), f = riff.bytes
            #expect(earlySize > 48_000 && f.count >= offset + earlySize && a[offset..<(offset + earlySize)] == f[offset..<(offset + earlySize)])
            // The tones: A, then B, then A, continuous between the switches.
            let file = try SoundFile.read(out, samples: .int)
            let tones = [(name: "toneA", frequency: 440.0), (name: "toneB", frequency: 1000.0)]
            let w = ToneAnalysis.windows(file.channel(0), rate: 48_000, windowFrames: 2_400, tones: tones, amplitude: ToneRoutes.amplitude)
            #expect(ToneAnalysis.runs(w, windowFrames: 2_400).map(\.label) == ["toneA", "toneB", "toneA"])
            #expect(riff.chunk("data")?.size == file.frames * 4)
        }

        @Test("SIGKILL after a route switch, then capdeck recover: the coding history has the switch")
        func killAfterSwitchThenRecover() async throws {
            let out = routes.home.path("killed.wav")
            let p = try routes.capdeck(["record"] + Self.bothRoutes + [out], label: "killed")
            let t0 = try await p.waitForFile(out)
            try await sleepUntil(t0 + 1.0)
            try p.send("set mix on")
            #expect(await p.waitForStderrLine { $0.contains("route changed") } != nil, "\(p.stderr)")
            // A checkpoint (once a second) after the switch's marker reached the writer.
            try await Task.sleep(for: .milliseconds(2500))
            p.child.signal(SIGKILL)
            _ = await p.finish(timeout: 5)
            let crashed = try Self.bext(out)
            let r = try await Capdeck.run(["recover", out], home: routes.home, extraEnvironment: routes.environment, timeout: 20)
            #expect(r.exitCode == 0 && r.stdout.contains("repaired"), "\(r)")
            let b = try Self.bext(out)
            let history = try #require(b["history"] as? String)
            #expect(history == crashed["history"] as? String, "recover keeps the chunk")
            let lines = history.components(separatedBy: "\r\n")
            #expect(lines.count == 4 && lines[1].contains("T=CaptureDeck \(Self.version); toneB (shared route) at "), "\(history.debugDescription)")
            #expect(try Self.ffprobeHistory(out) == history)
            let file = try SoundFile.read(out, samples: .int)
            #expect(file.frames > 2 * 48_000, "\(file.frames) frames")
            let w = ToneAnalysis.windows(file.channel(0), rate: 48_000, windowFrames: 2_400,
                                         tones: [(name: "toneA", frequency: 440.0), (name: "toneB", frequency: 1000.0)], amplitude: ToneRoutes.amplitude)
            #expect(ToneAnalysis.runs(w, windowFrames: 2_400).map(\.label) == ["toneA", "toneB"])
        }
    }
}
