// Seamless splitting (issue 12) end to end: `capdeck record --max-file-time/--max-file-size`
// through the real ALSA library (an unpaced file PCM), the parts read back by libsndfile, sox and
// Python and concatenated to exactly the infile's prefix; `split` on stdin and SIGUSR1 through a
// paced PCM over a private PulseAudio daemon; SIGKILL inside a part, then `capdeck recover`; the
// console's split key in tmux.
import CaptureCore
import Foundation
import Glibc
import Testing

extension Integration {
    /// The parts of a split take, in order: `base-001.ext`, `base-002.ext`, … as `ls -v` lists them.
    static func parts(in dir: String, base: String, ext: String) throws -> [String] {
        let names = try FileManager.default.contentsOfDirectory(atPath: dir).filter { $0.hasPrefix(base + "-") && $0.hasSuffix("." + ext) }
        return names.sorted { a, b in a.compare(b, options: .numeric) == .orderedAscending }.map { dir + "/" + $0 }
    }

    /// The parts' samples concatenated (libsndfile), each part checked to open on its own.
    static func concatenated(_ parts: [String]) throws -> (ints: [Int32], frames: [Int]) {
        var all: [Int32] = [], frames: [Int] = []
        for p in parts {
            let f = try SoundFile.read(p, samples: .int)
            all += f.ints
            frames.append(f.frames)
        }
        return (all, frames)
    }

    @Suite("Splitting: sample-exact parts through ALSA")
    struct SplitExact {
        static let rate = 48_000

        struct Case: Sendable, CustomTestStringConvertible {
            var flags: [String]
            /// Frames in every part but the last.
            var partFrames: Int
            var testDescription: String { flags.joined(separator: " ") }
        }
        static let cases: [Case] = [
            Case(flags: ["--max-file-time", "0.7"], partFrames: 33_600),
            Case(flags: ["--max-file-time", "1s"], partFrames: 48_000),
            Case(flags: ["--max-file-time", "0.01m"], partFrames: 28_800),
            Case(flags: ["--max-file-size", "100k"], partFrames: 25_600),
            Case(flags: ["--max-file-size", "250001"], partFrames: 62_500),
        ]

        @Test("3 s split into parts: each a whole file, the parts concatenated are the infile's first 3 s", arguments: cases)
        func partsConcatenateToTheSource(_ c: Case) async throws {
            let home = try TempDir()
            defer { home.remove() }
            let total = Self.rate * 3
            let audio = RawAudio.counterS16Stereo(frames: total + Self.rate)
            try home.write("in.raw", bytes: audio.bytes)
            try home.write(".asoundrc", ALSAConfig.filePCM("exact", infile: home.path("in.raw")))
            let dir = home.makeDirectory("rec")
            let r = try await Capdeck.run(["record", "-D", "exact", "-d", "3"] + c.flags + [dir + "/take.wav"], home: home)
            #expect(r.exitCode == 0, "\(r)")
            try #require(r.exitCode == 0)
            let count = (total + c.partFrames - 1) / c.partFrames
            let parts = try Integration.parts(in: dir, base: "take", ext: "wav")
            #expect(parts == (1...count).map { dir + "/take-" + String(format: "%03d", $0) + ".wav" })
            #expect(try FileManager.default.contentsOfDirectory(atPath: dir).count == count, "nothing else: no take.wav, no spare part")
            let (ints, frames) = try Integration.concatenated(parts)
            #expect(frames.dropLast().allSatisfy { $0 == c.partFrames } && frames.reduce(0, +) == total, "\(frames)")
            #expect(firstDifference(ints, Array(audio.leftJustified.prefix(total * 2)), channels: 2) == nil)
            // Each finished part is printed as it is saved; the last with the take's total.
            for (i, p) in parts.dropLast().enumerated() {
                #expect(r.stderr.contains("capdeck: saved part \(i + 1) \(p): \(frames[i]) frames"), "\(r.stderr)")
            }
            #expect(r.stderr.contains("saved \(parts.last!): \(frames.last!) frames") && r.stderr.contains("part \(count), \(total) frames"), "\(r.stderr)")

            // Independent readers: sox joins the parts into the infile's bytes; Python's wave agrees on every length.
            if let sox = which("sox") {
                let s = try await runProgram(sox, parts + ["-t", "raw", home.path("joined.raw")], environment: ProcessInfo.processInfo.environment, scratch: home)
                #expect(s.exitCode == 0, "sox: \(s)")
                let joined = [UInt8](try Data(contentsOf: URL(fileURLWithPath: home.path("joined.raw"))))
                #expect(joined == Array(audio.bytes.prefix(total * 4)), "sox's concatenation is the infile's first \(total) frames")
            } else {
                Issue.record("sox not installed (apt-get install sox)")
            }
            if let ffprobe = which("ffprobe") {
                for (i, part) in parts.enumerated() {
                    let f = try await runProgram(ffprobe, ["-v", "error", "-show_entries", "stream=duration_ts", "-of", "csv=p=0", part],
                                                 environment: ProcessInfo.processInfo.environment, scratch: home)
                    #expect(f.exitCode == 0 && f.stderr.isEmpty, "ffprobe \(part): \(f)")
                    #expect(Int(f.stdout.trimmingCharacters(in: .whitespacesAndNewlines)) == frames[i], "ffprobe \(part): \(f.stdout)")
                }
            }
            if let py = which("python3") {
                let script = "import sys, wave\nfor p in sys.argv[1:]:\n  w = wave.open(p)\n  print(w.getnframes(), len(w.readframes(w.getnframes())) // 4)\n"
                let s = try await runProgram(py, ["-c", script] + parts, environment: ProcessInfo.processInfo.environment, scratch: home)
                #expect(s.exitCode == 0, "python: \(s)")
                #expect(s.stdout.split(separator: "\n").map(String.init) == frames.map { "\($0) \($0)" }, "\(s.stdout)")
            }
        }

        /// A pattern name's parts, and never over an existing file: a taken number gets the
        /// collision suffix, and the file that had it is untouched.
        @Test("pattern names get the part number; taken names are skipped, never overwritten")
        func namingAndNoOverwrite() async throws {
            let home = try TempDir()
            defer { home.remove() }
            let audio = RawAudio.counterS16Stereo(frames: Self.rate * 3)
            try home.write("in.raw", bytes: audio.bytes)
            try home.write(".asoundrc", ALSAConfig.filePCM("exact", infile: home.path("in.raw")))
            let dir = home.makeDirectory("rec")
            try home.write("rec/field-002.wav", "not a recording")
            let r = try await Capdeck.run(["record", "-q", "-D", "exact", "-d", "2", "--max-file-time", "0.5", "-o", dir, "--name", "field"], home: home)
            #expect(r.exitCode == 0, "\(r)")
            let names = try FileManager.default.contentsOfDirectory(atPath: dir).sorted { $0.compare($1, options: .numeric) == .orderedAscending }
            #expect(names == ["field-001.wav", "field-002-1.wav", "field-002.wav", "field-003.wav", "field-004.wav"], "\(names)")
            #expect(try String(contentsOfFile: dir + "/field-002.wav", encoding: .utf8) == "not a recording")
            let (ints, _) = try Integration.concatenated(["field-001.wav", "field-002-1.wav", "field-003.wav", "field-004.wav"].map { dir + "/" + $0 })
            #expect(firstDifference(ints, Array(audio.leftJustified.prefix(Self.rate * 2 * 2)), channels: 2) == nil)
            // `ls -v` keeps the parts in order.
            let ls = try await runProgram(try #require(which("ls")), ["-v", dir], environment: ["LC_ALL": "C"], scratch: home)
            #expect(ls.stdout.split(separator: "\n").filter { $0 != "field-002.wav" } == ["field-001.wav", "field-002-1.wav", "field-003.wav", "field-004.wav"], "\(ls.stdout)")
        }

        @Test("bad sizes and durations: one clear line, exit 64", arguments: [
            ["--max-file-time", "10x"], ["--max-file-time", "-1"], ["--max-file-size", "2Q"], ["--max-file-size", "99999999999999999999"],
        ])
        func badValues(_ flags: [String]) async throws {
            let home = try TempDir()
            defer { home.remove() }
            let r = try await Capdeck.run(["record", "-D", "builtin"] + flags + [home.path("x.wav")], home: home)
            #expect(r.exitCode == 64, "\(r)")
            #expect(r.stderr.contains(flags[0]) && r.stderr.split(separator: "\n").count <= 2, "\(r.stderr)")
        }

        /// `--max-file-size 10` is ten bytes: two frames a part, 24,000 files a second (a new user
        /// meant 10M). A part under 0.1 s of audio is refused before anything opens, saying the
        /// least and the unit; from the config file with its own code and name.
        @Test("limits under 0.1 s of audio: refused in one line saying the least (flag 64, config 78), no file made")
        func partsTooShort() async throws {
            let home = try TempDir()
            defer { home.remove() }
            for (flags, says) in [(["--max-file-size", "10"], ["--max-file-size 10 is 10 bytes, 2 frames of", "at least 0.1 s", "19200 bytes here", "10M"]),
                                  (["--max-file-size", "19199"], ["4799 frames", "19200 bytes here"]),
                                  (["--max-file-time", "0.05"], ["--max-file-time 0.05 s is 2400 frames at 48000 Hz", "at least 0.1 s"])] {
                let r = try await Capdeck.run(["record", "-D", "builtin", "-f", "S16_LE", "-c", "2", "-r", "48000"] + flags + [home.path("x.wav")], home: home)
                #expect(r.exitCode == 64 && r.stderr.split(separator: "\n").count == 1, "\(r)")
                for s in says { #expect(r.stderr.contains(s), "\(flags): \(r.stderr)") }
                #expect(access(home.path("x.wav"), F_OK) != 0, "no file for a refused take")
            }
            // The least itself is a limit like any other, counted in the file's bytes: 24-bit
            // samples take 3 (not the stream's 4), and with --split-channels a file is one channel.
            for (i, flags) in [["-f", "S16_LE", "--max-file-size", "19200"], ["-f", "S24_LE", "--max-file-size", "28800"],
                               ["-f", "S16_LE", "--split-channels", "--max-file-size", "9600"]].enumerated() {
                let ok = try await Capdeck.run(["record", "-q", "-D", "builtin", "-c", "2", "-r", "48000", "-d", "0.3"] + flags + [home.path("ok\(i).wav")], home: home)
                #expect(ok.exitCode == 0, "\(flags): \(ok)")
            }
            let mono = try await Capdeck.run(["record", "-D", "builtin", "-f", "S16_LE", "-c", "2", "-r", "48000", "--split-channels", "--max-file-size", "9598", home.path("m.wav")], home: home)
            #expect(mono.exitCode == 64 && mono.stderr.contains("4799 frames of S16_LE 48000 Hz, one channel a file") && mono.stderr.contains("(9600 bytes here)"), "\(mono)")
            try home.write("tiny.toml", "[input]\nmax-file-size = 1000\n")
            let c = try await Capdeck.run(["record", "--config", home.path("tiny.toml"), "-D", "builtin", home.path("y.wav")], home: home)
            #expect(c.exitCode == 78 && c.stderr.contains("tiny.toml: [input] max-file-size 1000 is 1000 bytes"), "\(c)")
            #expect(access(home.path("y.wav"), F_OK) != 0)
        }

        /// An empty file (a split take's part made ahead of its seam, left by a kill): recover
        /// said "complete: 0 frames; nothing to do", which reads like a take that holds nothing
        /// by mistake; it says the file is empty. Written by Python's wave, not by us.
        @Test("recover on a valid WAV of no audio says it is empty, exit 0, and leaves it")
        func recoverSaysAnEmptyFileIsEmpty() async throws {
            let home = try TempDir()
            defer { home.remove() }
            let path = home.path("empty.wav")
            let py = try await runProgram(try #require(which("python3")),
                                          ["-c", "import wave; w = wave.open('\(path)', 'wb'); w.setnchannels(2); w.setsampwidth(2); w.setframerate(48000); w.close()"],
                                          environment: ProcessInfo.processInfo.environment, scratch: home)
            #expect(py.exitCode == 0, "\(py)")
            let before = try Data(contentsOf: URL(fileURLWithPath: path))
            let r = try await Capdeck.run(["recover", path], home: home)
            #expect(r.exitCode == 0 && r.stdout == "\(path): WAV, complete but empty: no audio was recorded into it; nothing to do (remove it if you like)\n", "\(r)")
            #expect(try Data(contentsOf: URL(fileURLWithPath: path)) == before, "left as it was")
        }

        @Test("config keys [input] max-file-time and max-file-size split; a flag overrides them")
        func configKeys() async throws {
            let home = try TempDir()
            defer { home.remove() }
            let audio = RawAudio.counterS16Stereo(frames: Self.rate * 3)
            try home.write("in.raw", bytes: audio.bytes)
            try home.write(".asoundrc", ALSAConfig.filePCM("exact", infile: home.path("in.raw")))
            try home.write("c.toml", "[input]\nmax-file-time = \"0.5s\"\n")
            try home.write("d.toml", "[input]\nmax-file-size = 96000\n")
            try home.write("bad.toml", "[input]\nmax-file-size = \"lots\"\n")
            for (config, extra, frames) in [("c.toml", [String](), 24_000), ("d.toml", [], 24_000), ("c.toml", ["--max-file-time", "0.25"], 12_000)] {
                let dir = home.makeDirectory("rec-\(config)-\(extra.count)")
                let r = try await Capdeck.run(["record", "-q", "--config", home.path(config), "-D", "exact", "-d", "1"] + extra + [dir + "/t.wav"], home: home)
                #expect(r.exitCode == 0, "\(r)")
                let (_, got) = try Integration.concatenated(try Integration.parts(in: dir, base: "t", ext: "wav"))
                #expect(got == Array(repeating: frames, count: 48_000 / frames), "\(config) \(extra): \(got)")
            }
            let bad = try await Capdeck.run(["record", "--config", home.path("bad.toml"), "-D", "exact", "-d", "1", home.path("b.wav")], home: home)
            #expect(bad.exitCode != 0 && bad.stderr.contains("max-file-size") && bad.stderr.contains("not a size"), "\(bad)")
        }
    }

    /// Splits on demand and crash safety, at real-time pace through PulseAudio.
    @Suite("Splitting: on demand and after SIGKILL, through PulseAudio")
    final class SplitPaced {
        static let rate = 48_000
        let pulse: PulseDaemon
        let home: TempDir
        let audio: RawAudio

        init() async throws {
            (pulse, home, audio) = try await PacedCapture.pacedPCM(rate: Self.rate)
        }

        deinit {
            pulse.shutdown()
            home.remove()
        }

        @Test("stdin split and SIGUSR1 each start the next part at once; status says which; nothing lost at the seams")
        func splitOnDemand() async throws {
            let dir = home.makeDirectory("rec")
            let p = try ControlledCapdeck(["record", "-D", "paced", dir + "/interview.wav"], home: home, extraEnvironment: pulse.clientEnvironment)
            let t0 = try await p.waitForFile(dir + "/interview.wav")
            try await sleepUntil(t0 + 1.0)
            #expect(try await p.status().number("part") == 1)
            try p.send("split")
            let first = await p.waitForStderrLine { $0.hasPrefix("capdeck: saved part 1 \(dir)/interview-001.wav: ") }
            #expect(first != nil, "stdin split finished part 1: \(p.stderr)")
            #expect(try await p.status().number("part") == 2)
            try await sleepUntil(t0 + 2.0)
            p.child.signal(SIGUSR1)
            let second = await p.waitForStderrLine { $0.hasPrefix("capdeck: saved part 2 \(dir)/interview-002.wav: ") }
            #expect(second != nil, "SIGUSR1 finished part 2: \(p.stderr)")
            let s = try await p.status()
            #expect(s.number("part") == 3 && s.string("file") == dir + "/interview-003.wav", "\(s)")
            try await sleepUntil(t0 + 2.8)
            try p.send("stop")
            let term = await p.finish(timeout: 15)
            #expect(term == .exited(0), "\(String(describing: term)); \(p.stderr)")
            let parts = try Integration.parts(in: dir, base: "interview", ext: "wav")
            #expect(parts.map { String($0.split(separator: "/").last!) } == ["interview-001.wav", "interview-002.wav", "interview-003.wav"])
            #expect(!FileManager.default.fileExists(atPath: dir + "/interview.wav"))
            let (ints, frames) = try Integration.concatenated(parts)
            // Each split came about when it was asked for (at a period's pace).
            #expect(abs(Double(frames[0]) / Double(Self.rate) - 1.0) < 0.4 && abs(Double(frames[0] + frames[1]) / Double(Self.rate) - 2.0) < 0.4, "\(frames)")
            #expect(firstDifference(ints, Array(audio.leftJustified.prefix(ints.count)), channels: 2) == nil, "the parts are the infile's prefix")
        }

        @Test("SIGKILL inside a part: the finished parts are whole, the killed one recovers, all contiguous")
        func killMidPart() async throws {
            let dir = home.makeDirectory("rec")
            let child = try Capdeck.spawn(["record", "-q", "-D", "paced", "--max-file-time", "1", dir + "/t.wav"], home: home,
                                          extraEnvironment: pulse.clientEnvironment)
            defer { child.kill() }
            let start = Monotonic.now
            while access(dir + "/t.wav", F_OK) != 0 && Monotonic.now - start < 10 { try await Task.sleep(for: .milliseconds(2)) }
            try await Task.sleep(for: .seconds(2.6))
            #expect(child.poll() == nil)
            child.signal(SIGKILL)
            #expect(await child.wait(timeout: 10) == .signaled(SIGKILL))
            let parts = try Integration.parts(in: dir, base: "t", ext: "wav")
            try #require(parts.count >= 3, "\(parts)")
            // Parts 1 and 2 were finished at their seams: nothing for recover to do.
            for p in parts.prefix(2) {
                let r = try await Capdeck.run(["recover", p], home: home)
                #expect(r.exitCode == 0 && r.stdout.contains("nothing to do"), "\(p): \(r)")
                #expect(try SoundFile.read(p, samples: .int).frames == Self.rate)
            }
            // The killed part opens as checkpointed, and recover repairs it.
            let r = try await Capdeck.run(["recover", parts[2]], home: home)
            #expect(r.exitCode == 0, "\(r)")
            let killed = try SoundFile.read(parts[2], samples: .int)
            #expect(killed.frames > Self.rate / 4, "recovered part 3: \(killed.frames) frames")
            // A next part made ahead of its seam may be there, empty and valid.
            for p in parts.dropFirst(3) {
                #expect(try SoundFile.read(p, samples: .int).frames == 0, "\(p)")
                let e = try await Capdeck.run(["recover", p], home: home)
                #expect(e.exitCode == 0 && e.stdout.contains("complete but empty: no audio was recorded into it"), "\(e)")
            }
            let (ints, _) = try Integration.concatenated(Array(parts.prefix(3)))
            #expect(firstDifference(ints, Array(audio.leftJustified.prefix(ints.count)), channels: 2) == nil)
        }
    }

    @Suite("Splitting: the console's split key in tmux")
    struct SplitConsole {
        @Test("s and SIGUSR1 split the take: the event log names each saved part, the File line says the part")
        func splitKey() async throws {
            let home = try TempDir()
            defer { home.remove() }
            let rec = home.makeDirectory("rec")
            let console = try await TmuxConsole(["-D", "builtin", "-o", rec, "--name", "take"], home: home, width: 120, height: 32)
            defer { console.shutdown() }
            _ = try await console.waitFor("the console", timeout: 10) { $0.isConsole }
            try await console.press("s")
            _ = try await console.waitFor("split refused: not recording") { $0.events.contains("split: not recording") }
            try await console.press("r")
            _ = try await console.waitFor("recording") { $0.recordingFile == rec + "/take.wav" }
            try await Task.sleep(for: .milliseconds(700))
            try await console.press("s")
            let split = try await console.waitFor("part 1 saved, part 2 recording") { s in
                s.events.contains { $0.hasPrefix("saved part 1 \(rec)/take-001.wav (") } && s.recordingFile == "part 2 \(rec)/take-002.wav"
            }
            _ = split
            try await Task.sleep(for: .milliseconds(500))
            try await console.press("s")
            _ = try await console.waitFor("part 2 saved") { $0.events.contains { $0.hasPrefix("saved part 2 \(rec)/take-002.wav (") } }
            // SIGUSR1 to the console's process does what s does.
            try await Task.sleep(for: .milliseconds(300))
            let shell = try #require(Int32(try await console.paneFormat("pane_pid").trimmingCharacters(in: .whitespacesAndNewlines)))
            let children = (try? String(contentsOfFile: "/proc/\(shell)/task/\(shell)/children", encoding: .utf8)) ?? ""
            let capdeck = try #require(children.split(separator: " ").compactMap { Int32($0) }.first, "capdeck under the pane's shell")
            #expect(kill(capdeck, SIGUSR1) == 0)
            _ = try await console.waitFor("part 3 saved") { $0.events.contains { $0.hasPrefix("saved part 3 \(rec)/take-003.wav (") } }
            try await Task.sleep(for: .milliseconds(300))
            try await console.press("r")
            _ = try await console.waitFor("stopped") { $0.events.contains { $0.hasPrefix("saved \(rec)/take-004.wav ") } }
            try await console.press("q")
            #expect(try await console.waitForExit() == 0)
            let names = try FileManager.default.contentsOfDirectory(atPath: rec).sorted()
            #expect(names == ["take-001.wav", "take-002.wav", "take-003.wav", "take-004.wav"], "\(names)")
            for n in names { #expect(try SoundFile.read(rec + "/" + n, samples: .int).frames > 4800, "\(n)") }
        }
    }
}
