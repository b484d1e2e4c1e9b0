// A recording whose file or directory is deleted while it is being written. On Linux the open
// file lives on unnamed and vanishes at close; capdeck notices at its next checkpoint (or when it
// finishes), finishes the file through its descriptor and copies it to the rescue directory
// ($XDG_DATA_HOME/capdeck/rescued here). The copy must hold every frame, exactly.
import CaptureCore
import Foundation
import Glibc
import Testing

extension Integration {
    @Suite("Recording file or directory deleted mid-recording")
    struct VanishedFile {
        /// The first frame where the file leaves the built-in 1 kHz sine, which it may join at any
        /// of the 48 frames of its cycle (a console take starts at the period the key was pressed
        /// in; 33.3 ms periods are no whole number of cycles): nil if it never does.
        static func firstDifferenceFromBuiltInSine(_ ints: [Int32], frames: Int) -> Int? {
            var latest = 0
            for phase in 0..<48 {
                guard let at = firstDifferenceFromBuiltInSine(ints, frames: frames, phase: phase) else { return nil }
                latest = max(latest, at)
            }
            return latest
        }

        /// Against the sine from `phase` on (S16 values left-justified in Int32, as read).
        static func firstDifferenceFromBuiltInSine(_ ints: [Int32], frames: Int, phase: Int) -> Int? {
            var gen = SignalGenerator(signal: .sine(frequency: 1000, level: -12), sampleRate: 48_000)
            for _ in 0..<phase { _ = gen.next() }
            var b = [UInt8](repeating: 0, count: 2)
            for i in 0..<frames {
                let v = gen.next()
                let expected = b.withUnsafeMutableBytes { p -> Int32 in
                    SampleCodec.storeFloat(v, p.baseAddress!, .s16LE)
                    return SampleCodec.loadInt32(p.baseAddress!, .s16LE)
                }
                if ints[2 * i] != expected || ints[2 * i + 1] != expected { return i }
            }
            return nil
        }

        static func rescuedPath(in message: String) -> String? {
            guard let r = message.range(of: " frames saved to ") else { return nil }
            return String(message[r.upperBound...].prefix { $0 != "\n" })
        }

        static func waitForFile(_ path: String) async throws {
            let start = Monotonic.now
            while access(path, F_OK) != 0 && Monotonic.now - start < 10 { try await Task.sleep(for: .milliseconds(5)) }
        }

        @Test("the directory removed mid-recording: stopped within about a second, one line naming the rescued copy, which holds every frame")
        func directoryRemoved() async throws {
            let home = try TempDir()
            defer { home.remove() }
            let dir = home.makeDirectory("takes")
            let out = dir + "/take.wav"
            let child = try Capdeck.spawn(["record", "-q", "-D", "builtin:sine:1000", out], home: home)
            defer { child.kill() }
            try await Self.waitForFile(out)
            try await Task.sleep(for: .milliseconds(1500))
            let removed = try await runProgram(try #require(which("rm")), ["-rf", dir], environment: [:], scratch: home)
            try #require(removed.exitCode == 0)
            let removedAt = Monotonic.now
            let t = await child.wait(timeout: 10)
            let stoppedAfter = Monotonic.now - removedAt
            #expect(t == .exited(74), "\(String(describing: t))")
            #expect(stoppedAfter < 2, "stopped \(stoppedAfter) s after the directory went")
            let stderr = (try? String(contentsOfFile: home.path("capdeck-bg.err"), encoding: .utf8)) ?? ""
            let lines = stderr.split(separator: "\n")
            #expect(lines.count == 1, "one line: \(stderr)")
            #expect(stderr.hasPrefix("capdeck: \(out) was deleted while recording; recording stopped and all "), "\(stderr)")
            let rescued = try #require(Self.rescuedPath(in: stderr), "\(stderr)")
            #expect(rescued == home.root + "/.local/share/capdeck/rescued/take.wav", "\(rescued)")
            var st = stat()
            #expect(stat(rescued, &st) == 0 && st.st_mode & 0o777 == 0o600, "owner-only, like every recording")
            let file = try SoundFile.read(rescued, samples: .int)
            #expect(file.frames >= 48_000 * 3 / 2, "at least the 1.5 s before the removal: \(file.frames)")
            #expect(stderr.contains("all \(file.frames) frames"), "the message names what was kept: \(stderr)")
            #expect(Self.firstDifferenceFromBuiltInSine(file.ints, frames: file.frames) == nil, "every frame exact")
            let r = try await Capdeck.run(["recover", rescued], home: home)
            #expect(r.stdout.contains("nothing to do"), "a finished file, not a crashed one: \(r)")
        }

        @Test("the file deleted just before Ctrl-C: finishing notices, rescues it, and says so; a name already taken in the rescue directory is not overwritten")
        func fileDeletedThenStopped() async throws {
            let home = try TempDir()
            defer { home.remove() }
            let out = home.path("take.wav")
            // A rescued take.wav from before: the new rescue must take another name.
            let rescueDir = home.root + "/.local/share/capdeck/rescued"
            try FileManager.default.createDirectory(atPath: rescueDir, withIntermediateDirectories: true)
            try Data("older".utf8).write(to: URL(fileURLWithPath: rescueDir + "/take.wav"))
            let child = try Capdeck.spawn(["record", "-q", "-D", "builtin:sine:1000", out], home: home)
            defer { child.kill() }
            try await Self.waitForFile(out)
            try await Task.sleep(for: .milliseconds(1200))
            #expect(unlink(out) == 0)
            child.signal(SIGINT)  // well before the next checkpoint
            let t = await child.wait(timeout: 10)
            #expect(t == .exited(74), "\(String(describing: t))")
            let stderr = (try? String(contentsOfFile: home.path("capdeck-bg.err"), encoding: .utf8)) ?? ""
            let rescued = try #require(Self.rescuedPath(in: stderr), "\(stderr)")
            #expect(rescued == rescueDir + "/take-1.wav", "\(stderr)")
            #expect(try String(contentsOfFile: rescueDir + "/take.wav", encoding: .utf8) == "older")
            let file = try SoundFile.read(rescued, samples: .int)
            #expect(file.frames >= 48_000, "\(file.frames)")
            #expect(Self.firstDifferenceFromBuiltInSine(file.ints, frames: file.frames) == nil)
        }

        @Test("in the console: the event log says where the take went, and the console keeps metering")
        func consoleDirectoryRemoved() async throws {
            let home = try TempDir()
            defer { home.remove() }
            let dir = home.makeDirectory("takes")
            let console = try await TmuxConsole(["-D", "builtin:sine:1000", "-o", dir], home: home, width: 130, height: 34)
            defer { console.shutdown() }
            _ = try await console.waitFor("live meters", timeout: 8) { s in s.isConsole && (s.meters.first?.peak ?? -200) > -30 }
            try await console.press("r")
            let recording = try await console.waitFor("recording", timeout: 5) { $0.recordingFile != nil }
            let path = try #require(recording.recordingFile)
            try await Task.sleep(for: .milliseconds(1200))
            let removed = try await runProgram(try #require(which("rm")), ["-rf", dir], environment: [:], scratch: home)
            try #require(removed.exitCode == 0)
            let rescued = home.root + "/.local/share/capdeck/rescued/" + URL(fileURLWithPath: path).lastPathComponent
            let told = try await console.waitFor("the rescue in the event log", timeout: 5) { s in
                s.events.contains { $0.hasPrefix("saved to \(rescued) (") }
            }
            #expect(told.events.contains("\(path) was deleted while recording; recording stopped"), "\(told.events)")
            #expect(told.titleBar.contains("NOT RECORDING"), "\(told.titleBar)")
            #expect((told.meters.first?.peak ?? -200) > -30, "still metering: \(told.meters)")
            try await console.press("q")
            #expect(try await console.waitForExit() == 0)
            let file = try SoundFile.read(rescued, samples: .int)
            #expect(file.frames >= 48_000, "\(file.frames)")
            #expect(Self.firstDifferenceFromBuiltInSine(file.ints, frames: file.frames) == nil)
        }
    }
}
