// Voice-activated recording through the real ALSA library (issue 12): `capdeck record
// --trigger-level` over a `file` PCM whose infile holds tone bursts at known levels in a noise
// floor. Unpaced, every take is compared sample by sample with the infile; paced (over a private
// PulseAudio), `status` follows the trigger through armed, triggered, holding and armed again.
import Foundation
import Glibc
import Testing

/// Stereo S16 48 kHz: LCG noise at about -60 dBFS (every frame distinct, far below any
/// threshold) with 1 kHz sine bursts (first frame, frames, dBFS peak) added.
func burstAudio(frames: Int, bursts: [(at: Int, frames: Int, level: Double)]) -> (bytes: [UInt8], samples: [Int32]) {
    var rng = RawAudio.LCG(state: 12)
    var v = [Int16](repeating: 0, count: frames * 2)
    for i in 0..<v.count { v[i] = Int16(Int64(rng.next() >> 58) - 32) }  // -32...31
    for b in bursts {
        let amp = pow(10, b.level / 20) * 32767 - 32
        for i in 0..<b.frames {
            let s = Int16((amp * sin(2 * Double.pi * 1000 * Double(i) / 48_000)).rounded())
            v[(b.at + i) * 2] &+= s
            v[(b.at + i) * 2 + 1] &+= s
        }
    }
    var bytes = [UInt8](repeating: 0, count: v.count * 2)
    for (i, s) in v.enumerated() {
        bytes[2 * i] = UInt8(truncatingIfNeeded: UInt16(bitPattern: s))
        bytes[2 * i + 1] = UInt8(truncatingIfNeeded: UInt16(bitPattern: s) >> 8)
    }
    return (bytes, v.map { Int32($0) << 16 })
}

extension Integration {
    @Suite("Voice-activated recording")
    struct Trigger {
        /// Two bursts at -20 dBFS, one at -33 (below the -30 start: no take), a 0.3 s dip (shorter
        /// than the 0.5 s hold) inside the first; a 0.25 s pre-roll. Each take is the infile's
        /// frames from the pre-roll before the 10 ms block that crossed -30 to where the hold ran
        /// out, in its own file, named from the explicit FILE with the collision counter; each is
        /// printed as it ends.
        @Test("takes start and stop on bursts, keep the pre-roll, each in its own file", arguments: ["explicit", "pattern"])
        func takesOnBursts(_ naming: String) async throws {
            let home = try TempDir()
            defer { home.remove() }
            let audio = burstAudio(frames: 480_000, bursts: [(48_000, 24_000, -20), (86_400, 24_000, -20),
                                                             (200_000, 24_000, -33), (288_137, 19_200, -20)])
            try home.write("in.raw", bytes: audio.bytes)
            try home.write(".asoundrc", ALSAConfig.filePCM("bursts", infile: home.path("in.raw")))
            let dir = home.makeDirectory("takes")
            let target = naming == "explicit" ? [dir + "/voice.wav"] : ["-o", dir, "--name", "voice"]
            let r = try await Capdeck.run(["record", "-D", "bursts", "-d", "8", "--trigger-level", "-30", "--trigger-stop-level", "-36",
                                           "--trigger-hold", "0.5", "--pre-roll", "0.25"] + target, home: home)
            #expect(r.exitCode == 0, "\(r)")
            // Take 1: [36000, 134400): A from 48000, B's quiet from 110400 plus the 24000-frame hold.
            // Take 2: D's onset 288137 is in the block [288000, 288480): from 276000; its quiet
            // from 307680 (the block after 307337), out at 331680.
            let expected = [(dir + "/voice.wav", 36_000, 134_400), (dir + "/voice-1.wav", 276_000, 331_680)]
            for (n, (path, from, to)) in expected.enumerated() {
                let file = try SoundFile.read(path, samples: .int)
                #expect(file.frames == to - from, "\(path): \(file.frames) frames")
                #expect(firstDifference(file.ints, Array(audio.samples[(from * 2)..<(to * 2)]), channels: 2) == nil, "\(path)")
                #expect(r.stderr.contains("capdeck: take \(n + 1) saved \(path): \(to - from) frames"), "\(r.stderr)")
            }
            #expect(access(dir + "/voice-2.wav", F_OK) != 0, "the -33 dBFS burst started no take")
            #expect(r.stderr.contains("capdeck: 2 takes saved, 0 xruns"), "\(r.stderr)")
        }

        /// A triggered take longer than --max-file-time is split like any take: its parts (from the
        /// take's name, `voice-001.wav`…) concatenated are the infile's frames from the pre-roll to
        /// the hold's end, and the take's line gives the whole length.
        @Test("a triggered take is split into sample-contiguous parts")
        func triggeredTakeSplits() async throws {
            let home = try TempDir()
            defer { home.remove() }
            let audio = burstAudio(frames: 288_000, bursts: [(48_000, 144_000, -20)])
            try home.write("in.raw", bytes: audio.bytes)
            try home.write(".asoundrc", ALSAConfig.filePCM("bursts", infile: home.path("in.raw")))
            let dir = home.makeDirectory("takes")
            let r = try await Capdeck.run(["record", "-D", "bursts", "-d", "5.5", "--trigger-level", "-30", "--trigger-hold", "0.5",
                                           "--pre-roll", "1", "--max-file-time", "1", dir + "/voice.wav"], home: home)
            #expect(r.exitCode == 0, "\(r)")
            // From the pre-roll's frame 0 to the hold's end, 0.5 s after the burst's last block.
            let total = 192_000 + 24_000
            var joined: [Int32] = []
            for i in 1...5 {
                let file = try SoundFile.read(dir + "/voice-00\(i).wav", samples: .int)
                #expect(file.frames == (i < 5 ? 48_000 : total - 4 * 48_000), "part \(i): \(file.frames) frames")
                joined += file.ints
            }
            #expect(access(dir + "/voice.wav", F_OK) != 0 && access(dir + "/voice-006.wav", F_OK) != 0)
            #expect(firstDifference(joined, Array(audio.samples[0..<(total * 2)]), channels: 2) == nil)
            #expect(r.stderr.contains("capdeck: take 1 saved \(dir)/voice-005.wav: 24000 frames (00:00:00.5); part 5, \(total) frames"), "\(r.stderr)")
        }

        @Test("an explicit FILE that exists is refused before anything opens")
        func existingFileRefused() async throws {
            let home = try TempDir()
            defer { home.remove() }
            try home.write("taken.wav", "mine")
            let r = try await Capdeck.run(["record", "-D", "builtin", "-d", "1", "--trigger-level", "-30", home.path("taken.wav")], home: home)
            #expect(r.exitCode == 73, "\(r)")
            #expect(r.stderrLines.count == 1 && r.stderr.contains("file exists"), "\(r.stderr)")
            #expect(try String(contentsOfFile: home.path("taken.wav"), encoding: .utf8) == "mine")
        }

        @Test("bad trigger values: one line and exit 64", arguments: [
            ["--trigger-level", "5"], ["--trigger-level", "loud"], ["--trigger-level", "-30", "--trigger-stop-level", "-20"],
            ["--trigger-hold", "-1"], ["--pre-roll", "61"], ["--pre-roll", "1e3"],
        ])
        func badValues(_ args: [String]) async throws {
            let home = try TempDir()
            defer { home.remove() }
            let r = try await Capdeck.run(["record", "-D", "builtin", "-d", "1"] + args + [home.path("x.wav")], home: home)
            #expect(r.exitCode == 64, "\(args): \(r)")
            #expect(r.stderr.contains(args[args.count - 2]), "names the flag: \(r.stderr)")
            #expect(access(home.path("x.wav"), F_OK) != 0)
        }

        /// Paced: a burst from 1 s to 3 s with a 1 s hold. `status` says armed before it,
        /// triggered inside it, holding just after it, armed again after the hold with one take;
        /// the pre-roll fills up to its 0.5 s.
        @Test("status follows the trigger: armed, triggered, holding, armed")
        func statusStates() async throws {
            let pulse = try await PulseDaemon.start()
            defer { pulse.shutdown() }
            let home = try TempDir()
            defer { home.remove() }
            let audio = burstAudio(frames: 48_000 * 30, bursts: [(48_000, 96_000, -20)])
            try home.write("in.raw", bytes: audio.bytes)
            try home.write(".asoundrc", ALSAConfig.filePCM("paced", infile: home.path("in.raw"), slave: "\"pulse\""))
            let dir = home.makeDirectory("takes")
            var launched = timespec(), startLine = timespec()
            clock_gettime(CLOCK_REALTIME, &launched)
            let p = try ControlledCapdeck(["record", "-D", "paced", "-o", dir, "--name", "v", "--trigger-level", "-30",
                                           "--trigger-hold", "1", "--pre-roll", "0.5", "--description", "voice"],
                                          home: home, extraEnvironment: pulse.clientEnvironment)
            guard await p.waitForStderrLine(timeout: 10, { $0.hasPrefix("capdeck: saving takes to") }) != nil else {
                Issue.record("no start line: \(p.stderr)")
                return
            }
            clock_gettime(CLOCK_REALTIME, &startLine)
            let t0 = Monotonic.now
            func state(at t: Double) async throws -> StatusReply {
                try await sleepUntil(t0 + t)
                return try await p.status()
            }
            let s1 = try await state(at: 0.7)
            #expect(s1.string("trigger.state") == "armed" && s1.number("trigger.takes") == 0, "\(s1)")
            #expect(s1.number("trigger.startLevel") == -30 && s1.number("trigger.stopLevel") == -36 && s1.number("trigger.holdSeconds") == 1, "\(s1)")
            #expect(s1.number("preRoll.seconds") == 0.5 && (s1.number("preRoll.heldSeconds") ?? 0) > 0.4, "\(s1)")
            #expect(s1.isNull("file"), "\(s1)")
            let s2 = try await state(at: 2.0)
            #expect(s2.string("trigger.state") == "triggered" && s2.number("trigger.takes") == 1, "\(s2)")
            #expect(s2.string("file") == dir + "/v.wav", "\(s2)")
            let s3 = try await state(at: 3.5)
            #expect(s3.string("trigger.state") == "holding", "\(s3)")
            let s4 = try await state(at: 5.0)
            #expect(s4.string("trigger.state") == "armed" && s4.isNull("file"), "\(s4)")
            try p.send("stop")
            let end = await p.finish()
            #expect(end?.exitCode == 0, "\(p.stderr)")
            // The take: the pre-roll's 0.5 s before the burst, the burst, the 1 s hold.
            let file = try SoundFile.read(dir + "/v.wav", samples: .int)
            #expect(file.frames == 24_000 + 96_000 + 48_000, "\(file.frames) frames")
            #expect(firstDifference(file.ints, Array(audio.samples[(24_000 * 2)..<(192_000 * 2)]), channels: 2) == nil)
            #expect(p.stderr.contains("capdeck: take 1 saved \(dir)/v.wav: 168000 frames"), "\(p.stderr)")
            // Its bext chunk (ffprobe reads it) is dated at its first sample, the pre-roll's: 0.5 s
            // after the stream's first frame, which came between the launch and the start line;
            // not when the trigger created the file, half a second later.
            let (tags, text) = try Integration.BroadcastWaveRecord.ffprobeTags(dir + "/v.wav")
            #expect(tags["TAG:comment"] == "voice", "\(text)")
            let tr = try #require(tags["TAG:time_reference"].flatMap { Int($0) }, "\(text)")
            let lo = Integration.BroadcastWaveRecord.samplesSinceMidnight(launched, rate: 48_000) + 24_000
            let hi = Integration.BroadcastWaveRecord.samplesSinceMidnight(startLine, rate: 48_000) + 24_000 + 12_000
            #expect(lo <= tr && tr <= hi || hi < lo, "TimeReference \(tr) outside [\(lo), \(hi)]")
        }
    }
}
