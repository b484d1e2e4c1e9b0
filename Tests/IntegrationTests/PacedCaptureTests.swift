// Real-time capture through a real PulseAudio daemon (ALSA `pulse` plugin under a `file` PCM that
// substitutes known content), and crash safety: SIGKILL mid-recording, then `capdeck recover`.
import CAllocCounter
import CaptureCore
import Foundation
import Glibc
import Testing

extension Integration {
    /// One private PulseAudio daemon per test (started in init, stopped in deinit by pid).
    @Suite("Real-time capture through PulseAudio")
    final class PacedCapture {
        static let rate = 48_000
        let pulse: PulseDaemon
        let home: TempDir
        let audio: RawAudio

        init() async throws {
            (pulse, home, audio) = try await Self.pacedPCM(rate: Self.rate)
        }

        /// A private PulseAudio daemon and, in a temporary HOME's `.asoundrc`, the PCM `paced`:
        /// 60 s of a S16_LE stereo counter (far longer than any recording here) played through
        /// the daemon, so it is read at real-time pace.
        static func pacedPCM(rate: Int) async throws -> (PulseDaemon, TempDir, RawAudio) {
            let pulse = try await PulseDaemon.start()
            let home = try TempDir()
            let audio = RawAudio.counterS16Stereo(frames: rate * 60)
            try home.write("long.raw", bytes: audio.bytes)
            try home.write(".asoundrc", ALSAConfig.filePCM("paced", infile: home.path("long.raw"), slave: "\"pulse\""))
            return (pulse, home, audio)
        }

        deinit {
            pulse.shutdown()
            home.remove()
        }

        @Test("no heap allocation on the capture thread through PulseAudio (the poll path, SCHED_FIFO)",
              .enabled(if: CAllocCounter_isActive() != 0, "the allocation counter is off in this build (sanitizer builds compile it with CAPDECK_NO_ALLOC_COUNTER)"))
        func noAllocationsThroughPulse() async throws {
            let bench = try Allocations.bench()
            let r = try await runProgram(bench, ["paced", "300", "10000"],
                                         environment: Capdeck.environment(home: home.root, extra: pulse.clientEnvironment),
                                         scratch: home, timeout: 30)
            #expect(r.exitCode == 0, "\(r)")
            let m = try #require(Allocations.parse(r.stdout), "\(r)")
            #expect(m.periods >= 300)
            #expect(m.allocations == 0, "\(r.stdout)")
        }

        @Test("3 s of audio takes about 3 s and arrives sample-exact")
        func pacing() async throws {
            let out = home.path("paced.wav")
            let r = try await Capdeck.run(["record", "-q", "-D", "paced", "-f", "S16_LE", "-r", "48000", "-c", "2", "-d", "3", out],
                                          home: home, extraEnvironment: pulse.clientEnvironment, timeout: 30)
            #expect(r.exitCode == 0, "\(r)")
            #expect(r.seconds >= 2.5 && r.seconds <= 8, "3 s of real-time audio took \(r.seconds) s of wall time")
            try #require(r.exitCode == 0)
            let file = try SoundFile.read(out, samples: .int)
            #expect(file.frames == 144_000)
            #expect(file.channels == 2 && file.sampleRate == 48_000)
            #expect(firstDifference(file.ints, audio.leftJustified, channels: 2) == nil)
        }

        /// Seconds after the output file appears at which capdeck is SIGKILLed (one run each).
        static let killTimes: [(Double, String)] = [(1.5, "wav"), (2.7, "wav"), (4.2, "wav"), (2.2, "w64"), (2.2, "caf"), (2.2, "flac")]

        @Test("SIGKILL mid-recording: the file opens as is, and recover keeps every frame", arguments: killTimes)
        func crashThenRecover(_ killAfter: Double, _ type: String) async throws {
            let out = home.path("crash.\(type)")
            let child = try Capdeck.spawn(["record", "-q", "-D", "paced", out], home: home,
                                          extraEnvironment: pulse.clientEnvironment)
            defer { child.kill() }

            // The moment the output file appears.
            let spawned = Monotonic.now
            var created: Double?
            while Monotonic.now - spawned < 10 {
                if access(out, F_OK) == 0 {
                    created = Monotonic.now
                    break
                }
                if let t = child.poll() {
                    Issue.record("capdeck ended before creating the file: \(t); \(backgroundStderr())")
                    return
                }
                try await Task.sleep(for: .milliseconds(2))
            }
            let t0 = try #require(created, "capdeck did not create \(out) within 10 s")
            try await Task.sleep(for: .seconds(max(0, t0 + killAfter - Monotonic.now)))
            #expect(child.poll() == nil, "capdeck ended on its own before the kill: \(backgroundStderr())")
            child.signal(SIGKILL)
            let killedAt = Monotonic.now
            let t = await child.wait(timeout: 10)
            #expect(t == .signaled(SIGKILL), "\(String(describing: t))")
            let elapsed = killedAt - t0
            let rate = Double(Self.rate)

            // 1. Without recover: the checkpointed header already makes the file readable.
            // (Not FLAC: its length field is only written at the end; readers see "unknown".)
            if type != "flac" {
                do {
                    let file = try SoundFile.read(out, samples: .int)
                    let floor = Int((elapsed - 2.0) * rate)
                    #expect(file.frames >= floor,
                            "unrecovered file: \(file.frames) frames after \(elapsed) s; expected at least \(floor) (checkpoint about every second)")
                    #expect(firstDifference(file.ints, audio.leftJustified, channels: 2) == nil, "unrecovered file content")
                } catch {
                    Issue.record("the killed file (before recover) does not open with libsndfile: \(error)")
                }
            }

            // 2. recover: every whole frame on disk.
            let r = try await Capdeck.run(["recover", out], home: home)
            #expect(r.exitCode == 0, "\(r)")
            let file = try SoundFile.read(out, samples: .int)
            let floor = Int((elapsed - 1.0 - 0.7) * rate)
            #expect(file.frames >= floor, "recovered \(file.frames) frames after \(elapsed) s; expected at least \(floor)")
            #expect(file.channels == 2 && file.sampleRate == 48_000)
            #expect(firstDifference(file.ints, audio.leftJustified, channels: 2) == nil, "recovered file content")

            // sox reads it too, with the same length.
            if let soxi = which("soxi") {
                let s = try await runProgram(soxi, ["-s", out], environment: ProcessInfo.processInfo.environment, scratch: home)
                #expect(s.exitCode == 0, "soxi: \(s)")
                #expect(Int(s.stdout.trimmingCharacters(in: .whitespacesAndNewlines)) == file.frames, "soxi -s: \(s.stdout)")
            } else {
                Issue.record("soxi not installed (apt-get install sox)")
            }

            // A second recover finds nothing to do and changes nothing.
            let before = try Data(contentsOf: URL(fileURLWithPath: out))
            let again = try await Capdeck.run(["recover", out], home: home)
            #expect(again.exitCode == 0, "\(again)")
            #expect(again.stdout.contains("nothing to do"), "\(again)")
            #expect(try Data(contentsOf: URL(fileURLWithPath: out)) == before)
        }

        private func backgroundStderr() -> String {
            (try? String(contentsOfFile: home.path("capdeck-bg.err"), encoding: .utf8)) ?? ""
        }
    }
}
