// The essentials against a real PipeWire (issue 9): capdeck knows the server is PipeWire, records
// its default source without -D, and notices a stall of its pulse protocol server.
import Foundation
import Glibc
import Testing

extension Integration {
    @Suite("PipeWire (pipewire, wireplumber and its PulseAudio protocol)")
    final class PipeWire {
        let pw: PipeWireDaemon
        init() async throws { pw = try await PipeWireDaemon.start() }
        deinit { pw.shutdown() }

        @Test("capdeck devices names PipeWire and its sources; record without -D records its default source")
        func devicesAndRecord() async throws {
            let home = try TempDir()
            defer { home.remove() }
            let d = try await Capdeck.run(["devices"], home: home, extraEnvironment: pw.clientEnvironment, timeout: 20)
            #expect(d.exitCode == 0 && d.stdout.contains("PipeWire") && d.stdout.contains("pulse:nullsink.monitor"), "\(d)")
            let out = home.path("pw.wav")
            let r = try await Capdeck.run(["record", "-d", "1", out], home: home, extraEnvironment: pw.clientEnvironment, timeout: 20)
            #expect(r.exitCode == 0 && r.stderr.contains("ALSA PCM pulse"), "\(r)")
            // pipewire-pulse answers for the stream's source as PulseAudio does.
            #expect(r.stderr.contains("capdeck: sound server source: \"") && r.stderr.contains("(monitor nullsink.monitor)\n"), "\(r.stderr)")
            let file = try SoundFile.read(out, samples: .none)
            #expect(file.frames == 48_000, "\(file.frames)")
        }

        @Test("the pulse protocol server stopped for 3 s while recording: interrupted (audioDeviceStalled), then capture resumes with a gap line; exit 0")
        func stall() async throws {
            let home = try TempDir()
            defer { home.remove() }
            let out = home.path("stall.wav")
            let p = try ControlledCapdeck(["record", "-D", "pulse", out], home: home, extraEnvironment: pw.clientEnvironment)
            let t0 = try await p.waitForFile(out)
            try await sleepUntil(t0 + 1.0)
            pw.stall()
            let said = await p.waitForStderrLine(timeout: 5) { $0.contains("stopped delivering") }
            #expect(said?.contains("audioDeviceStalled") == true, "\(p.stderr)")
            try await sleepUntil(t0 + 4.0)
            pw.resume()
            let gap = await p.waitForStderrLine(timeout: 10) { $0.contains("gap") && $0.contains("stalled") }
            #expect(gap != nil, "\(p.stderr)")
            try await Task.sleep(for: .milliseconds(800))
            try p.send("stop")
            #expect(await p.finish(timeout: 10) == .exited(0), "\(p.stderr)")
            #expect(try WAVChunks(path: out).cuePoints.count == 1)
        }
    }
}
