// A full disk: recording stops with a clear message and exit 74, and the file is finished and
// valid with every frame that fit (sample-exact). The test mounts its own small tmpfs (root).
import Foundation
import Glibc
import Testing

extension Integration {
    @Suite("Disk full")
    struct DiskFull {
        @Test("recording onto a full tmpfs stops cleanly and keeps every frame that fit")
        func diskFull() async throws {
            let home = try TempDir()
            defer { home.remove() }
            let mnt = home.makeDirectory("small")
            let mount = try await runProgram(try #require(which("mount")), ["-t", "tmpfs", "-o", "size=1m", "tmpfs", mnt],
                                             environment: ProcessInfo.processInfo.environment, scratch: home)
            try #require(mount.exitCode == 0, "mounting a tmpfs needs root: \(mount)")
            defer { _ = umount(mnt) }
            let audio = RawAudio.counterS16Stereo(frames: 48_000 * 20)
            try home.write("in.raw", bytes: audio.bytes)
            try home.write(".asoundrc", ALSAConfig.filePCM("fast", infile: home.path("in.raw")))
            let out = mnt + "/take.wav"
            let r = try await Capdeck.run(["record", "-q", "-D", "fast", "-d", "10", out], home: home, timeout: 30)
            #expect(r.exitCode == 74, "\(r)")
            // 10 s can't fit in 1 MiB: one warning at the start (-q keeps warnings), then the error.
            let lines = r.stderr.split(separator: "\n")
            #expect(lines.count == 2 && lines.first?.hasPrefix("capdeck: warning: 00:00:10 at ") == true
                    && lines.first?.contains("needs about 1.9 MB; \(mnt) has") == true, "\(r.stderr)")
            #expect(lines.last?.hasPrefix("capdeck: ") == true && lines.last?.contains("disk full") == true, "\(r.stderr)")
            let file = try SoundFile.read(out, samples: .int)
            #expect(file.frames > 200_000, "1 MiB holds ~262,000 stereo S16 frames; got \(file.frames)")
            #expect(r.stderr.contains("saved with \(file.frames) frames"), "the message names what was kept: \(r.stderr)")
            #expect(firstDifference(file.ints, audio.leftJustified, channels: 2) == nil, "every kept frame is exact")
        }
    }
}
