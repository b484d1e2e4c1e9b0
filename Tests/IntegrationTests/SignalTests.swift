// SIGINT, SIGTERM and SIGHUP finish the recording cleanly: exit 0, a complete header, the
// summary line printed; nothing left for `recover` to do.
import CaptureCore
import Foundation
import Glibc
import Testing

extension Integration {
    @Suite("Signals finish the file")
    struct Signals {
        @Test("a signal mid-recording finalizes the file", arguments: [SIGINT, SIGTERM, SIGHUP])
        func signalFinalizes(_ sig: Int32) async throws {
            let home = try TempDir()
            defer { home.remove() }
            let out = home.path("take.wav")
            // The built-in source is paced by the clock, like hardware.
            let child = try Capdeck.spawn(["record", "-D", "builtin:sine:1000", out], home: home)
            defer { child.kill() }
            let start = Monotonic.now
            while access(out, F_OK) != 0 && Monotonic.now - start < 10 {
                try await Task.sleep(for: .milliseconds(5))
            }
            try await Task.sleep(for: .milliseconds(1200))
            #expect(child.poll() == nil, "capdeck ended before the signal")
            child.signal(sig)
            let t = await child.wait(timeout: 10)
            #expect(t == .exited(0), "signal \(sig): \(String(describing: t))")
            let stderr = (try? String(contentsOfFile: home.path("capdeck-bg.err"), encoding: .utf8)) ?? ""
            #expect(stderr.contains("saved \(out)"), "summary line: \(stderr)")

            let file = try SoundFile.read(out, samples: .int)
            #expect(file.frames >= 48_000, "about 1.2 s recorded, got \(file.frames) frames")
            #expect(file.channels == 2 && file.sampleRate == 48_000)
            // Exactly the built-in generator's samples, every one.
            var gen = SignalGenerator(signal: .sine(frequency: 1000, level: -12), sampleRate: 48_000)
            var mismatch: Int?
            for i in 0..<file.frames {
                var b = [UInt8](repeating: 0, count: 2)
                let v = gen.next()
                let expected = b.withUnsafeMutableBytes { p -> Int32 in
                    SampleCodec.storeFloat(v, p.baseAddress!, .s16LE)
                    return SampleCodec.loadInt32(p.baseAddress!, .s16LE)
                }
                if file.ints[2 * i] != expected || file.ints[2 * i + 1] != expected { mismatch = i; break }
            }
            #expect(mismatch == nil, "first wrong frame: \(String(describing: mismatch))")
            let r = try await Capdeck.run(["recover", out], home: home)
            #expect(r.stdout.contains("nothing to do"), "\(r)")
        }
    }
}
