// A headless take's threads sleep until there is work (issue 14): every wake-up of a thread costs
// CPU whatever it carries, so `record`'s main thread waits for events instead of polling.
import CaptureCore
import Foundation
import Glibc
import Testing

extension Integration {
    @Suite("record's threads sleep until there is work")
    struct RecordWakeups {
        /// A thread's voluntary context switches: each time it went to sleep (and so woke again).
        static func sleeps(_ pid: pid_t, thread tid: pid_t) -> Int? {
            guard let text = try? String(contentsOfFile: "/proc/\(pid)/task/\(tid)/status", encoding: .utf8) else { return nil }
            for line in text.split(separator: "\n") where line.hasPrefix("voluntary_ctxt_switches:") {
                return Int(line.split(separator: ":")[1].trimmingCharacters(in: .whitespaces))
            }
            return nil
        }

        /// The main thread of a running take wakes about once a second (its safety net), not 5
        /// times a second as it did when it polled; the take still ends at once on SIGINT, with
        /// every frame of the clock-paced built-in source in the file.
        @Test func theMainThreadWaitsForEventsNotAClock() async throws {
            let home = try TempDir()
            defer { home.remove() }
            let out = home.path("take.wav")
            let child = try Capdeck.spawn(["record", "-q", "-D", "builtin:sine:1000", out], home: home)
            defer { child.kill() }
            let start = Monotonic.now
            while access(out, F_OK) != 0 && Monotonic.now - start < 10 { try await Task.sleep(for: .milliseconds(5)) }
            try await Task.sleep(for: .milliseconds(1000))
            let before = try #require(Self.sleeps(child.pid, thread: child.pid))
            let t0 = Monotonic.now
            try await Task.sleep(for: .milliseconds(3000))
            let after = try #require(Self.sleeps(child.pid, thread: child.pid))
            let seconds = Monotonic.now - t0
            // Polling every 200 ms made 15 in 3 s; a 1 s safety net makes 3 (4 with a late one).
            #expect(after - before <= Int(seconds) + 2, "main thread slept \(after - before) times in \(seconds) s")
            let stopAt = Monotonic.now
            child.signal(SIGINT)
            let t = await child.wait(timeout: 10)
            #expect(t == .exited(0), "\(String(describing: t))")
            #expect(Monotonic.now - stopAt < 1.0, "SIGINT was answered at once, not at the next poll")
            let file = try SoundFile.read(out, samples: .int)
            let recorded = Double(file.frames) / 48_000
            let ran = stopAt - start
            #expect(recorded > ran - 1.0 && recorded < ran + 0.5, "\(recorded) s recorded in \(ran) s")
        }
    }
}
