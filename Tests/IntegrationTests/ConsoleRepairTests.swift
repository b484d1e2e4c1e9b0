// On start the console finds recordings cut short by a crash in its directory and offers to
// repair them.
import Foundation
import Glibc
import Testing

extension Integration.ConsoleTmux {
    @Test("the console offers to repair a recording killed mid-way, and repairs it")
    func offersRepair() async throws {
        let crashed = rec + "/crashed.wav"
        let child = try Capdeck.spawn(["record", "-q", "-D", "builtin", crashed], home: home)
        let t0 = Monotonic.now
        while access(crashed, F_OK) != 0 && Monotonic.now - t0 < 10 { try await Task.sleep(for: .milliseconds(10)) }
        try await Task.sleep(for: .milliseconds(1500))
        child.signal(SIGKILL)
        _ = await child.wait(timeout: 5)

        let console = try await start()
        defer { console.shutdown() }
        let asked = try await console.waitFor("the repair prompt", timeout: 5) { $0.prompt != nil }
        #expect(asked.prompt?.contains("1 unfinished recording in \(rec)") == true, "\(asked)")
        try await console.press("y")
        try await console.waitFor("the repair event", timeout: 5) { s in s.events.contains { $0.contains("repaired \(crashed)") } }
        try await console.press("q")
        #expect(try await console.waitForExit() == 0)
        let r = try await Capdeck.run(["recover", crashed], home: home)
        #expect(r.exitCode == 0 && r.stdout.contains("nothing to do"), "\(r)")
    }

    /// Item 14: a W64 killed mid-way doesn't open in ffmpeg/ffprobe at all until repaired (ffmpeg
    /// reads the audio after the stale data size as a chunk), so the console's start-up offer must
    /// cover it; after the repair ffprobe opens it.
    @Test("the console offers to repair a W64 killed mid-way, which ffprobe can't open until then")
    func offersRepairOfW64() async throws {
        let crashed = rec + "/crashed.w64"
        let child = try Capdeck.spawn(["record", "-q", "-D", "builtin", "-f", "FLOAT_LE", crashed], home: home)
        let t0 = Monotonic.now
        while access(crashed, F_OK) != 0 && Monotonic.now - t0 < 10 { try await Task.sleep(for: .milliseconds(10)) }
        try await Task.sleep(for: .milliseconds(1500))
        child.signal(SIGKILL)
        _ = await child.wait(timeout: 5)
        let probe = { () async throws -> RunResult in
            try await runProgram("/usr/bin/ffprobe", ["-v", "error", "-show_entries", "stream=duration_ts", "-of", "csv=p=0", crashed],
                                 environment: ProcessInfo.processInfo.environment, scratch: self.home)
        }
        let before = try await probe()
        #expect(before.exitCode != 0, "a crashed W64 should not open in ffprobe before repair: \(before)")

        let console = try await start()
        defer { console.shutdown() }
        let asked = try await console.waitFor("the repair prompt", timeout: 5) { $0.prompt != nil }
        #expect(asked.prompt?.contains("1 unfinished recording in \(rec)") == true, "\(asked)")
        try await console.press("y")
        try await console.waitFor("the repair event", timeout: 5) { s in s.events.contains { $0.contains("repaired \(crashed)") } }
        try await console.press("q")
        #expect(try await console.waitForExit() == 0)
        let after = try await probe()
        #expect(after.exitCode == 0 && Int(after.stdout.trimmingCharacters(in: .whitespacesAndNewlines)) ?? 0 > 48_000, "\(after)")
    }
}
