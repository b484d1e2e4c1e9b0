// Big interfaces end to end (issue 13): 64 channels at 96 kHz S32 through the real ALSA library
// (a `file` PCM over `null`) into every container that holds them, read back sample by sample
// (libsndfile) and by ffprobe, sox and Python; FLAC's 8 refused up front; `--select` in its
// order and bad selections; `--split-channels` files each equal to their channel, sample-aligned,
// in parts, and recovered after SIGKILL (paced through PulseAudio); the console at 80×24.
import Foundation
import Glibc
import Testing

extension Integration {
    /// Fast per-channel test audio: every sample distinct and full-range (S32), so a swapped,
    /// shifted or dropped channel shows. Sample (frame i, channel c) as a left-justified Int32.
    static func channelPattern(_ i: Int, _ c: Int) -> Int32 {
        Int32(truncatingIfNeeded: UInt32(truncatingIfNeeded: c &* 0x0100_0193) &+ UInt32(truncatingIfNeeded: i &* 0x9E37_79B1) ^ UInt32(c << 26))
    }

    static func channelPatternS32(channels: Int, frames: Int) -> [UInt8] {
        var bytes = [UInt8](repeating: 0, count: channels * frames * 4)
        bytes.withUnsafeMutableBytes { b in
            for i in 0..<frames { for c in 0..<channels { b.storeBytes(of: channelPattern(i, c).littleEndian, toByteOffset: (i * channels + c) * 4, as: Int32.self) } }
        }
        return bytes
    }

    /// Runs a program and returns its stdout (tests fail, not skip, when it is missing: make deps installs it).
    static func output(_ tool: String, _ args: [String], home: TempDir) async throws -> String {
        let path = try #require(which(tool), "\(tool) is needed (make deps installs it)")
        let r = try await runProgram(path, args, environment: Capdeck.environment(home: home.root), scratch: home, timeout: 60)
        #expect(r.exitCode == 0, "\(tool) \(args): \(r)")
        return r.stdout
    }

    /// The files `dir` holds whose names start with `prefix`, in `ls -v` order.
    static func naturallySorted(in dir: String, prefix: String) throws -> [String] {
        try FileManager.default.contentsOfDirectory(atPath: dir).filter { $0.hasPrefix(prefix) && !$0.hasSuffix(".markers") }
            .sorted { $0.compare($1, options: .numeric) == .orderedAscending }
    }

    @Suite("Channels: 64 at 96 kHz, --select, --split-channels")
    final class Channels {
        static let rate = 96_000
        static let channels = 64
        static let seconds = 2
        let home: TempDir
        let frames = Channels.rate * Channels.seconds

        init() throws {
            home = try TempDir()
            // Half a second longer than the takes (past the end the file plugin repeats its last period).
            try home.write("in.raw", bytes: Integration.channelPatternS32(channels: Self.channels, frames: frames + Self.rate / 2))
            // A PCM that gives exactly 2 channels (ALSA's multi plugin over the 64-channel one).
            try home.write(".asoundrc", ALSAConfig.filePCM("ch64", infile: home.path("in.raw")) + """
                pcm.two { type multi slaves.a { pcm "ch64" channels 64 } bindings { 0 { slave a channel 0 } 1 { slave a channel 1 } } }

                """)
        }

        deinit { home.remove() }

        func expected(_ channel: Int, frames n: Int? = nil) -> [Int32] { (0..<(n ?? frames)).map { Integration.channelPattern($0, channel) } }

        /// What device channel `c` of frame `i` holds when the 64-channel infile is opened with
        /// `opened` channels: the file plugin hands out its bytes as they are, `opened` to a frame.
        static func device(_ i: Int, _ c: Int, opened: Int) -> Int32 {
            let k = i * opened + c
            return Integration.channelPattern(k / 64, k % 64)
        }

        @Test("64 channels at 96 kHz S32 through ALSA: every sample back, in libsndfile, ffprobe, sox and Python",
              arguments: ["wav", "w64", "caf", "aiff"])
        func sixtyFourChannels(_ type: String) async throws {
            let out = home.path("big.\(type)")
            let r = try await Capdeck.run(["record", "-q", "-D", "ch64", "-f", "S32_LE", "-r", "\(Self.rate)", "-c", "64", "-d", "\(Self.seconds)", out], home: home)
            #expect(r.exitCode == 0 && r.stderr.isEmpty, "\(r)")
            try #require(r.exitCode == 0)
            let f = try SoundFile.read(out, samples: .int)
            #expect(f.frames == frames && f.channels == 64 && f.sampleRate == Self.rate)
            var want = [Int32](repeating: 0, count: frames * 64)
            for i in 0..<frames { for c in 0..<64 { want[i * 64 + c] = Integration.channelPattern(i, c) } }
            #expect(firstDifference(f.ints, want, channels: 64) == nil)
            let probe = try await Integration.output("ffprobe", ["-v", "error", "-show_entries", "stream=channels,sample_rate,duration_ts", "-of", "default=nw=1", out], home: home)
            #expect(probe.contains("channels=64") && probe.contains("sample_rate=96000") && probe.contains("duration_ts=\(frames)"), "\(probe)")
            let sox = try await Integration.output("sox", ["--i", "-c", out], home: home)
            #expect(sox.trimmingCharacters(in: .whitespacesAndNewlines) == "64", "\(sox)")
            if type == "wav" || type == "w64" {
                // Python, on its own: the data chunk's bytes are the infile's, and a 64-channel WAV
                // is WAVE_FORMAT_EXTENSIBLE with channel mask 0 (discrete: no speaker layout).
                let script = """
                import struct, sys
                d = open(sys.argv[1], 'rb').read(); raw = open(sys.argv[2], 'rb').read()
                w64 = d[:4] == b'riff'
                if w64:
                    i = d.find(b'data')
                    size = struct.unpack('<Q', d[i + 16:i + 24])[0] - 24; start = i + 24
                else:
                    i = d.find(b'data'); size = struct.unpack('<I', d[i + 4:i + 8])[0]; start = i + 8
                    f = d.find(b'fmt '); tag, ch = struct.unpack('<HH', d[f + 8:f + 12]); mask = struct.unpack('<I', d[f + 28:f + 32])[0]
                    assert (tag, ch, mask) == (0xFFFE, 64, 0), (tag, ch, mask)
                n = int(sys.argv[3]) * 64 * 4
                assert size == n, (size, n)
                assert d[start:start + n] == raw[:n], 'data differs'
                print('ok')
                """
                try home.write("check.py", script)
                let py = try await Integration.output("python3", [home.path("check.py"), out, home.path("in.raw"), "\(frames)"], home: home)
                #expect(py.hasPrefix("ok"), "\(py)")
            }
        }

        @Test("FLAC with 9 channels is refused up front, in one line, before the device or a file opens; --split-channels takes them")
        func flacNine() async throws {
            // A device that doesn't exist: opening anything would fail with 69, not 64.
            let r = try await Capdeck.run(["record", "-D", "hw:99", "-f", "S24_LE", "-c", "9", home.path("x.flac")], home: home)
            #expect(r.exitCode == 64, "\(r)")
            #expect(r.stderr.contains("FLAC holds at most 8 channels") && r.stderr.split(separator: "\n").count == 1, "\(r.stderr)")
            #expect(access(home.path("x.flac"), F_OK) != 0)
            let dir = home.makeDirectory("flac9")
            let ok = try await Capdeck.run(["record", "-q", "-D", "ch64", "-f", "S24_LE", "-r", "\(Self.rate)", "-c", "9", "--split-channels", "-d", "1", dir + "/x.flac"], home: home)
            #expect(ok.exitCode == 0, "\(ok)")
            let files = try Integration.naturallySorted(in: dir, prefix: "x-ch")
            #expect(files == (1...9).map { String(format: "x-ch%02d.flac", $0) })
            for (c, name) in files.enumerated() {
                let f = try SoundFile.read(dir + "/" + name, samples: .int)
                // S24: the infile's top three bytes of each 32-bit pattern's low three (S24_LE reads 4-byte containers).
                let want = (0..<Self.rate).map { Self.device($0, c, opened: 9) << 8 }
                #expect(f.channels == 1 && firstDifference(f.ints, want, channels: 1) == nil, "\(name)")
            }
        }

        @Test("--select 64,1,5-8 records those channels in that order; [input] select does too; -c overrides the config's")
        func selectOrder() async throws {
            let out = home.path("sel.wav")
            let r = try await Capdeck.run(["record", "-q", "-D", "ch64", "-f", "S32_LE", "-r", "\(Self.rate)", "--select", "64,1,5-8", "-d", "1", out], home: home)
            #expect(r.exitCode == 0, "\(r)")
            let f = try SoundFile.read(out, samples: .int)
            let order = [63, 0, 4, 5, 6, 7]
            #expect(f.channels == 6 && f.frames == Self.rate)
            var want: [Int32] = []
            for i in 0..<Self.rate { for c in order { want.append(Integration.channelPattern(i, c)) } }
            #expect(firstDifference(f.ints, want, channels: 6) == nil)
            try home.write("sel.toml", "[input]\nselect = \"3, 2\"\nformat = \"S32_LE\"\nrate = 96000\n")
            let c = try await Capdeck.run(["record", "-q", "--config", home.path("sel.toml"), "-D", "ch64", "-d", "0.5", home.path("cfg.wav")], home: home)
            #expect(c.exitCode == 0, "\(c)")
            let g = try SoundFile.read(home.path("cfg.wav"), samples: .int)
            // The device is opened with 3 channels (up to the highest selected).
            let first4 = [Self.device(0, 2, opened: 3), Self.device(0, 1, opened: 3), Self.device(1, 2, opened: 3), Self.device(1, 1, opened: 3)]
            #expect(g.channels == 2 && Array(g.ints.prefix(4)) == first4)
            let o = try await Capdeck.run(["record", "-q", "--config", home.path("sel.toml"), "-D", "ch64", "-c", "4", "-d", "0.5", home.path("c4.wav")], home: home)
            #expect(o.exitCode == 0, "\(o)")
            let c4 = try SoundFile.read(home.path("c4.wav"), samples: .none)
            #expect(c4.channels == 4)
        }

        @Test("bad selections: one line and exit 64, no file")
        func badSelections() async throws {
            for (sel, says) in [("0", "count from 1"), ("", "no channel"), ("3-1", "a range goes up"), ("1,1", "selected twice"),
                                ("65", "beyond the 64"), ("1,,2", "empty item"), ("x", "not a channel number"), ("2-", "not a channel number")] {
                let r = try await Capdeck.run(["record", "-D", "ch64", "--select", sel, home.path("bad.wav")], home: home)
                #expect(r.exitCode == 64 && r.stderr.contains(says) && r.stderr.split(separator: "\n").count == 1, "\(sel): \(r)")
            }
            let both = try await Capdeck.run(["record", "-D", "ch64", "-c", "4", "--select", "1,2", home.path("bad.wav")], home: home)
            #expect(both.exitCode == 64 && both.stderr.contains("disagree"), "\(both)")
            try home.write("both.toml", "[input]\nchannels = 2\nselect = \"1\"\n")
            let cfg = try await Capdeck.run(["record", "--config", home.path("both.toml"), "-D", "ch64", home.path("bad.wav")], home: home)
            #expect(cfg.exitCode == 78 && cfg.stderr.contains("select"), "\(cfg)")
            // Beyond what the device gives: found when it opens, said as the selection's fault.
            let beyond = try await Capdeck.run(["record", "-D", "two", "-f", "S32_LE", "-r", "\(Self.rate)", "--select", "1,3", "-d", "1", home.path("bad.wav")], home: home)
            #expect(beyond.exitCode == 64, "\(beyond)")
            #expect(beyond.stderr.contains("--select 1,3") && beyond.stderr.contains("gives 2 channels"), "\(beyond.stderr)")
            #expect(access(home.path("bad.wav"), F_OK) != 0, "no file is left")
        }

        @Test("--split-channels: 64 mono files, named -ch01…-ch64, each its channel, sample-aligned")
        func splitSixtyFour() async throws {
            let dir = home.makeDirectory("split")
            let r = try await Capdeck.run(["record", "-D", "ch64", "-f", "S32_LE", "-r", "\(Self.rate)", "-c", "64", "--split-channels", "-d", "\(Self.seconds)", dir + "/take.wav"], home: home)
            #expect(r.exitCode == 0, "\(r)")
            #expect(r.stderr.contains("saved \(dir)/take-ch01.wav … \(dir)/take-ch64.wav (64 mono files): \(frames) frames"), "\(r.stderr)")
            let files = try Integration.naturallySorted(in: dir, prefix: "take")
            #expect(files == (1...64).map { String(format: "take-ch%02d.wav", $0) })
            for (c, name) in files.enumerated() {
                let f = try SoundFile.read(dir + "/" + name, samples: .int)
                #expect(f.channels == 1 && f.frames == frames && f.sampleRate == Self.rate, "\(name)")
                #expect(firstDifference(f.ints, expected(c), channels: 1) == nil, "\(name)")
            }
            let probe = try await Integration.output("ffprobe", ["-v", "error", "-show_entries", "stream=channels,duration_ts", "-of", "default=nw=1", dir + "/take-ch64.wav"], home: home)
            #expect(probe.contains("channels=1") && probe.contains("duration_ts=\(frames)"), "\(probe)")
        }

        @Test("--split-channels with --select and --max-file-time: parts of each channel, numbered before the channel, contiguous")
        func splitWithParts() async throws {
            let dir = home.makeDirectory("parts")
            let r = try await Capdeck.run(["record", "-q", "-D", "ch64", "-f", "S32_LE", "-r", "\(Self.rate)", "--select", "3,1", "--split-channels",
                                           "--max-file-time", "0.5", "-d", "1.25", dir + "/t.w64"], home: home)
            #expect(r.exitCode == 0, "\(r)")
            let files = try Integration.naturallySorted(in: dir, prefix: "t")
            #expect(files == ["t-001-ch01.w64", "t-001-ch02.w64", "t-002-ch01.w64", "t-002-ch02.w64", "t-003-ch01.w64", "t-003-ch02.w64"], "\(files)")
            for (ch, device) in [(1, 2), (2, 0)] {
                let (ints, lengths) = try Integration.concatenated(files.filter { $0.hasSuffix(String(format: "-ch%02d.w64", ch)) }.map { dir + "/" + $0 })
                #expect(lengths == [48_000, 48_000, 24_000], "\(lengths)")
                let want = (0..<120_000).map { Self.device($0, device, opened: 3) }
                #expect(firstDifference(ints, want, channels: 1) == nil, "channel file \(ch)")
            }
        }
    }

    @Suite("Channels: --split-channels after SIGKILL, paced through PulseAudio")
    final class SplitChannelsKilled {
        static let rate = 48_000
        static let channels = 8
        let pulse: PulseDaemon
        let home: TempDir

        init() async throws {
            pulse = try await PulseDaemon.start()
            home = try TempDir()
            var bytes = [UInt8](repeating: 0, count: Self.rate * 30 * Self.channels * 2)
            bytes.withUnsafeMutableBytes { b in
                for i in 0..<(Self.rate * 30) { for c in 0..<Self.channels {
                    b.storeBytes(of: Int16(truncatingIfNeeded: Integration.channelPattern(i, c) >> 16).littleEndian, toByteOffset: (i * Self.channels + c) * 2, as: Int16.self)
                } }
            }
            try home.write("long.raw", bytes: bytes)
            try home.write(".asoundrc", ALSAConfig.filePCM("paced8", infile: home.path("long.raw"), slave: "\"pulse\""))
        }

        deinit {
            pulse.shutdown()
            home.remove()
        }

        @Test("SIGKILL mid-take: every channel file recovers, each its channel's prefix, all the same length but for the last chunk")
        func killAndRecover() async throws {
            let dir = home.makeDirectory("rec")
            let child = try Capdeck.spawn(["record", "-q", "-D", "paced8", "-c", "8", "--split-channels", dir + "/k.wav"], home: home,
                                          extraEnvironment: pulse.clientEnvironment)
            defer { child.kill() }
            let start = Monotonic.now
            while access(dir + "/k-ch08.wav", F_OK) != 0 && Monotonic.now - start < 10 { try await Task.sleep(for: .milliseconds(2)) }
            try await Task.sleep(for: .seconds(2.5))
            child.signal(SIGKILL)
            #expect(await child.wait(timeout: 10) == .signaled(SIGKILL))
            let files = try Integration.naturallySorted(in: dir, prefix: "k")
            #expect(files == (1...8).map { String(format: "k-ch%02d.wav", $0) }, "\(files)")
            var lengths: [Int] = []
            for (c, name) in files.enumerated() {
                let r = try await Capdeck.run(["recover", dir + "/" + name], home: home)
                #expect(r.exitCode == 0, "\(name): \(r)")
                let f = try SoundFile.read(dir + "/" + name, samples: .int)
                lengths.append(f.frames)
                let want = (0..<f.frames).map { Int32(Int16(truncatingIfNeeded: Integration.channelPattern($0, c) >> 16)) << 16 }
                #expect(f.channels == 1 && firstDifference(f.ints, want, channels: 1) == nil, "\(name)")
            }
            // About 2.5 s each; aligned at the start, their ends at most one 4096-frame chunk apart.
            #expect(lengths.allSatisfy { abs(Double($0) / Double(Self.rate) - 2.5) < 0.6 }, "\(lengths)")
            #expect((lengths.max() ?? 0) - (lengths.min() ?? 0) <= 4096, "\(lengths)")
        }
    }

    @Suite("Channels: the console at 80×24 with 64 channels")
    struct ConsoleSixtyFour {
        @Test("64 channels at 80×24: every channel numbered under its bar; [ and ] show each channel's known level on one line")
        func sixtyFourAt80x24() async throws {
            let home = try TempDir()
            defer { home.remove() }
            // Channel c: a square wave at -c dBFS (S16), so peak and RMS both read -c.
            let frames = 48_000
            var bytes = [UInt8](repeating: 0, count: frames * 64 * 2)
            bytes.withUnsafeMutableBytes { b in
                for i in 0..<frames { for c in 0..<64 {
                    let a = Int16((32767 * pow(10.0, -Double(c) / 20)).rounded())
                    b.storeBytes(of: ((i / 24) % 2 == 0 ? a : -a).littleEndian, toByteOffset: (i * 64 + c) * 2, as: Int16.self)
                } }
            }
            try home.write("levels.raw", bytes: bytes)
            try home.write(".asoundrc", ALSAConfig.filePCM("levels64", infile: home.path("levels.raw")))
            let rec = home.makeDirectory("rec")
            let console = try await TmuxConsole(["-D", "levels64", "-c", "64", "-o", rec], home: home, width: 80, height: 24)
            defer { console.shutdown() }
            func focus(_ s: ConsoleScreen) -> String? { s.lines.first { $0.hasPrefix("ch ") } }
            let first = try await console.waitFor("the vertical meters with channel 1 at 0 dBFS", timeout: 10) { s in
                s.isConsole && (focus(s)?.hasPrefix("ch 1/64") ?? false) && (focus(s)?.contains("0.0 pk") ?? false)
            }
            // Every channel's number under its column: tens over units, after the scale.
            let i = try #require(first.lines.firstIndex { $0.hasPrefix("ch ") })
            let tens = Array(first.lines[i + 5]), units = Array(first.lines[i + 6])
            let wantTens = (1...64).map { (n: Int) -> Character in n < 10 ? " " : Character(String(n / 10)) }
            let wantUnits = (1...64).map { (n: Int) -> Character in Character(String(n % 10)) }
            #expect(String(tens[5..<69]) == String(wantTens), "\(first)")
            #expect(String(units[5..<69]) == String(wantUnits), "\(first)")
            #expect(first.lines.count == 24 && first.lines.allSatisfy { $0.count <= 80 })
            // ] eleven times: channel 12, at -11 dBFS; [ from channel 1: channel 64, at -63. The
            // PCM is unpaced (ALSA's pulse plugin stops at 32 channels): it delivers its infile
            // in bursts, so the screen is read until one frame shows the channel's full window.
            func reads(_ line: String, _ channel: Int) -> Bool {
                let nums = line.split(separator: " ").compactMap { Double($0) }
                let amplitude: Double = (32767 * pow(10, -Double(channel - 1) / 20)).rounded()
                let db: Double = 20 * log10(amplitude / 32768)
                return line.hasPrefix("ch \(channel)/64") && nums.count >= 2 && abs(nums[0] - db) <= 0.15 && abs(nums[1] - db) <= 0.15
            }
            for (keys, channel) in [(Array(repeating: "]", count: 11), 12), (Array(repeating: "[", count: 12), 64)] {
                for k in keys { try await console.press(k) }
                let s = try await console.waitFor("channel \(channel)'s numbers", timeout: 10) { focus($0).map { reads($0, channel) } ?? false }
                #expect(reads(focus(s) ?? "", channel), "\(s)")
            }
            try await console.press("q")
            _ = try await console.waitForExit()
        }
    }
}
