// Running the real `capdeck` binary with a private ALSA configuration.
// The child processes, temp dirs and the PulseAudio daemon are the shared test support's, seen by
// every file of this target through this one import.
@_exported import CaptureTestSupport
import Foundation
import Glibc

enum Capdeck {
    /// The capdeck executable built beside this test runner (nil if none was found).
    static let executable: String? = locate()

    /// `CAPDECK_EXECUTABLE` if set (`make sanitize` sets it to its sanitized build's binary, and
    /// it must exist); else beside the test runner (`swift test` builds every product into the same
    /// directory, so a runner in `.build-asan` finds `.build-asan/debug/capdeck`), then upwards
    /// from the working directory and this source file for `.build*/debug/capdeck`, newest first.
    static func locate() -> String? {
        let fm = FileManager.default
        if let given = ProcessInfo.processInfo.environment["CAPDECK_EXECUTABLE"], !given.isEmpty {
            return fm.isExecutableFile(atPath: given) ? given : nil
        }
        var candidates: [String] = []
        if let exe = try? fm.destinationOfSymbolicLink(atPath: "/proc/self/exe") {
            candidates.append(URL(fileURLWithPath: exe).deletingLastPathComponent().appendingPathComponent("capdeck").path)
        }
        if let arg0 = CommandLine.arguments.first {
            candidates.append(URL(fileURLWithPath: arg0).deletingLastPathComponent().appendingPathComponent("capdeck").path)
        }
        for c in candidates where fm.isExecutableFile(atPath: c) { return c }

        var found: [(path: String, date: Date)] = []
        for start in [fm.currentDirectoryPath, URL(fileURLWithPath: #filePath).deletingLastPathComponent().path] {
            var dir = URL(fileURLWithPath: start)
            while dir.path != "/" {
                for entry in (try? fm.contentsOfDirectory(atPath: dir.path)) ?? [] where entry.hasPrefix(".build") {
                    let p = dir.appendingPathComponent(entry).appendingPathComponent("debug/capdeck").path
                    if fm.isExecutableFile(atPath: p) {
                        let date = (try? fm.attributesOfItem(atPath: p)[.modificationDate] as? Date) ?? .distantPast
                        found.append((p, date))
                    }
                }
                dir.deleteLastPathComponent()
            }
        }
        return found.max { $0.date < $1.date }?.path
    }

    /// The environment capdeck runs in: the test's own, with HOME (and so `~/.asoundrc`) pointed at
    /// `home`, and nothing that could reach the real user's ALSA or sound-server configuration.
    static func environment(home: String, extra: [String: String] = [:]) -> [String: String] {
        testEnvironment(home: home, extra: extra)
    }

    /// The sanitizer runtime's options (and the ThreadSanitizer run's preload) this test run was
    /// given by `make sanitize`, for a child started with an environment of its own (`env -i` in
    /// tmux, the fuzz replay): its reports go to the run's log files like everyone else's.
    static var sanitizerEnvironment: [String: String] {
        ProcessInfo.processInfo.environment.filter { ["ASAN_OPTIONS", "TSAN_OPTIONS", "LSAN_OPTIONS", "UBSAN_OPTIONS", "LD_PRELOAD"].contains($0.key) }
    }

    /// Extra seconds on wall-clock tolerances that include a capdeck process's exit: 0, except
    /// in `make sanitize`'s ThreadSanitizer run (CAPDECK_TEST_TIMING_SLACK), where a process
    /// takes up to about a second longer to exit after closing its device.
    static let timingSlack: Double = Double(ProcessInfo.processInfo.environment["CAPDECK_TEST_TIMING_SLACK"] ?? "") ?? 0

    /// Runs capdeck to completion with `HOME=home`.
    static func run(_ arguments: [String], home: TempDir, extraEnvironment: [String: String] = [:],
                    timeout: Double = 60) async throws -> RunResult {
        let exe = try require()
        return try await runProgram(exe, arguments, environment: environment(home: home.root, extra: extraEnvironment),
                                    scratch: home, timeout: timeout)
    }

    /// Starts capdeck in the background (its own process group), output to files in `home`.
    static func spawn(_ arguments: [String], home: TempDir, extraEnvironment: [String: String] = [:]) throws -> Child {
        let exe = try require()
        return try Child(exe, arguments, environment: environment(home: home.root, extra: extraEnvironment),
                         stdout: home.path("capdeck-bg.out"), stderr: home.path("capdeck-bg.err"))
    }

    static func require() throws -> String {
        guard let exe = executable else {
            throw SpawnError(description: "no capdeck executable beside the test runner or in .build*/debug")
        }
        return exe
    }
}

/// ALSA configuration snippets for the test PCMs.
enum ALSAConfig {
    /// A capture PCM that delivers `infile`'s raw bytes over `slave` (unpaced `null`, or `"pulse"`
    /// for real-time pace). The client must open it in exactly the infile's format.
    static func filePCM(_ name: String, infile: String, slave: String = "null", hint: String? = nil) -> String {
        var s = "pcm.\(name) {\n  type file\n  slave.pcm \(slave)\n  file \"/dev/null\"\n  infile \"\(infile)\"\n  format \"raw\"\n"
        if let hint { s += "  hint { show on description \"\(hint)\" }\n" }
        s += "}\n"
        return s
    }
}
