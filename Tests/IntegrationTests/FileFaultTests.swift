// errno read in one place (issue 16 item 2), end to end: the real capdeck with the preloaded
// fault library's CAPDECK_FILE_FAULTS making pwrite and fdatasync misbehave at chosen calls.
// Before: `recover` reported a stale errno for a short write (and left the header half done);
// `record` reported the fdatasync's errno for an earlier step's failure at finish.
import Foundation
import Glibc
import Testing

extension Integration {
    @Suite("File faults: short writes and failing syncs say what really happened")
    struct FileFaults {
        static func environment(_ plan: String) throws -> [String: String] {
            ["LD_PRELOAD": try FaultInjection.injector(), "CAPDECK_FILE_FAULTS": plan]
        }

        /// A WAV whose header is stale, as a crash before the next checkpoint leaves it.
        static func crashedWAV(_ home: TempDir) async throws -> (path: String, frames: Int) {
            let path = home.path("crashed.wav")
            let r = try await Capdeck.run(["record", "-D", "builtin", "-d", "0.5", "-q", path], home: home, timeout: 20)
            guard r.exitCode == 0 else { throw SpawnError(description: "\(r)") }
            var bytes = try [UInt8](Data(contentsOf: URL(fileURLWithPath: path)))
            // The data chunk's size and the RIFF size as if only the first 1,000 frames were covered.
            guard let d = Data(bytes).range(of: Data("data".utf8))?.lowerBound else { throw SpawnError(description: "no data chunk") }
            func put(_ v: UInt32, at o: Int) { for i in 0..<4 { bytes[o + i] = UInt8(truncatingIfNeeded: v >> (8 * i)) } }
            put(4000, at: d + 4)
            put(UInt32(d + 8 + 4000 - 8), at: 4)
            try Data(bytes).write(to: URL(fileURLWithPath: path))
            return (path, 24_000)
        }

        @Test("recover meets a short write: it finishes the write (before: 'write failed' with a stale errno), and the file is whole")
        func recoverThroughAShortWrite() async throws {
            let home = try TempDir()
            defer { home.remove() }
            let (path, frames) = try await Self.crashedWAV(home)
            let r = try await Capdeck.run(["recover", path], home: home, extraEnvironment: try Self.environment("pwrite-short@1"), timeout: 20)
            #expect(r.exitCode == 0 && r.stdout.contains("repaired"), "\(r)")
            #expect(!r.stdout.contains("Inappropriate ioctl") && !r.stderr.contains("Inappropriate ioctl"), "a stale errno: \(r)")
            let file = try SoundFile.read(path, samples: .none)
            #expect(file.frames == frames, "\(file.frames) frames after recover")
        }

        @Test("a failing format-chunk write at finish is reported with its own errno, not the fdatasync's after it")
        func finishReportsTheRightErrno() async throws {
            let home = try TempDir()
            defer { home.remove() }
            let out = home.path("take.wav")
            // Our pwrites (libsndfile writes with write(2)): the format chunk and the bext history's
            // tidy-up after each header write — 1, 2 at creation, 3, 4 at the first frame's restamp,
            // 5, 6 at the stop's last checkpoint, 7 the format chunk at finish (EROFS).
            // fdatasync 1: the checkpoint's, 2: the finish's, after the failed step (EIO).
            let r = try await Capdeck.run(["record", "-D", "builtin", "-d", "0.3", "-q", out], home: home,
                                          extraEnvironment: try Self.environment("pwrite-errno@7:30,fdatasync-errno@2:5"), timeout: 20)
            #expect(r.exitCode != 0, "\(r)")
            #expect(r.stderr.contains("could not write the format chunk: Read-only file system"), "\(r.stderr)")
        }
    }
}
