// The command line as a user meets it: exit codes and one-line errors for bad input, the
// no built-in fallback when no device is named, and `capdeck devices`.
import Foundation
import Glibc
import Testing

extension Integration {
    @Suite("Command line")
    struct CLI {
        /// One bad invocation. In `arguments`, `{out}` is a fresh path in the temp dir, `{existing}`
        /// an existing recording, `{text}` a text file, `{missing}` a nonexistent directory.
        struct BadInput: Sendable, CustomTestStringConvertible {
            var arguments: [String]
            var code: Int32
            var testDescription: String { arguments.joined(separator: " ") + " → \(code)" }

            /// `capdeck record` against a working test PCM, so only the named problem can fail.
            static func record(_ extra: [String], device: String = "t16", file: String? = "{out}", code: Int32) -> BadInput {
                BadInput(arguments: ["record", "-q", "-D", device, "-d", "0.2"] + extra + (file.map { [$0] } ?? []), code: code)
            }
        }

        static let badInputs: [BadInput] = [
            .record(["-r", "7"], code: 64),
            .record(["-r", "abc"], code: 64),
            .record(["-c", "0"], code: 64),
            .record(["-c", "65"], code: 64),
            .record(["-f", "S8"], code: 64),
            .record(["-t", "mp3"], code: 64),
            .record(["-d", "-1"], code: 64),
            .record(["-d", "nan"], code: 64),
            .record(["--rt-priority", "100"], code: 64),
            .record(["-F", "10 "], code: 64),
            .record(["-t", "flac", "-f", "S32_LE"], code: 64),
            .record([], device: "nosuchpcm", code: 69),
            .record([], file: "{existing}", code: 73),
            .record([], file: "{missing}/out.wav", code: 73),
            .record(["-o", "/nonexistent"], file: nil, code: 73),
            BadInput(arguments: ["recover", "{text}"], code: 65),
        ]

        @Test("bad input: the documented exit code and one line on stderr", arguments: badInputs)
        func badInput(_ c: BadInput) async throws {
            let home = try TempDir()
            defer { home.remove() }
            let raw = RawAudio.counterS16Stereo(frames: 48_000)
            try home.write("in.raw", bytes: raw.bytes)
            try home.write(".asoundrc", ALSAConfig.filePCM("t16", infile: home.path("in.raw")))
            let existingBytes = Array("RIFF, but not really: a recording that must survive".utf8)
            try home.write("existing.wav", bytes: existingBytes)
            let textBytes = Array("just some notes\nnot audio\n".utf8)
            try home.write("notes.txt", bytes: textBytes)
            let out = home.path("out.wav")
            let args = c.arguments.map {
                $0.replacingOccurrences(of: "{out}", with: out)
                    .replacingOccurrences(of: "{existing}", with: home.path("existing.wav"))
                    .replacingOccurrences(of: "{text}", with: home.path("notes.txt"))
                    .replacingOccurrences(of: "{missing}", with: home.path("no/such/dir"))
            }

            let r = try await Capdeck.run(args, home: home, timeout: 20)
            #expect(r.exitCode == c.code, "\(r)")
            #expect(r.stderrLines.count == 1, "stderr must be exactly one line: \(r.stderr.debugDescription)")
            #expect(r.stderr.hasPrefix("capdeck: "), "\(r.stderr.debugDescription)")
            #expect(r.stderr.hasSuffix("\n"))
            for bad in ["Fatal error", "Stack dump", "Current stack trace", "backtrace", "Segmentation"] {
                #expect(!r.stderr.contains(bad), "\(r.stderr)")
            }
            #expect(access(out, F_OK) != 0, "a failed run leaves no output file behind")
            #expect(try Data(contentsOf: URL(fileURLWithPath: home.path("existing.wav"))) == Data(existingBytes))
            #expect(try Data(contentsOf: URL(fileURLWithPath: home.path("notes.txt"))) == Data(textBytes))
        }

        // Issue 9 reversed the old fallback: a script must never get the built-in signal in place
        // of the microphone it asked for.
        @Test("without -D, an unopenable 'default' on a machine with no device is exit 69 and no file, never the built-in signal", arguments: [false, true])
        func noFallbackToBuiltIn(quiet: Bool) async throws {
            let home = try TempDir()
            defer { home.remove() }
            try home.write(".asoundrc", "")
            let dir = home.makeDirectory("recordings")
            let r = try await Capdeck.run(["record"] + (quiet ? ["-q"] : []) + ["-d", "1", "-o", dir], home: home, timeout: 20)
            #expect(r.exitCode == 69, "\(r)")
            #expect(!r.stderr.contains("BUILT-IN TEST SIGNAL"), "\(r.stderr)")
            #expect(r.stderr.contains("no capture device") && r.stderr.contains("-D builtin"), "\(r.stderr)")
            let files = try FileManager.default.contentsOfDirectory(atPath: dir)
            #expect(files.isEmpty, "\(files)")
        }

        // Issue 16 item 2: errno read in one place, and a descriptor limit said as such.
        @Test("out of file descriptors: one line saying so and what to do, not 'device unavailable'; no file left")
        func descriptorLimit() async throws {
            guard let prlimit = which("prlimit") else { Issue.record("prlimit (util-linux) is needed"); return }
            let home = try TempDir()
            defer { home.remove() }
            let out = home.path("take.wav")
            let exe = try Capdeck.require()
            // Wherever the limit is met first (the config file, the recording, the engine's pipes,
            // the device: it depends on what the test runner lets children inherit), the one line
            // says what happened and what to do.
            // From 4 descriptors up: below about 6, libdispatch itself can't make its event loop;
            // it trapped (SIGILL, exit 132) when that came late — on the manager thread, racing the
            // recording for the last descriptors (CI saw it). capdeck now makes it first, or says
            // it can't (exit 71).
            var failures = 0
            for limit in [4, 5, 6, 7] + Array(stride(from: 8, through: 64, by: 4)) {
                let r = try await runProgram(prlimit, ["--nofile=\(limit):\(limit)", exe, "record", "-D", "builtin", "-d", "0.2", "-q", out],
                                             environment: Capdeck.environment(home: home.root), scratch: home, timeout: 20)
                if r.exitCode == 0 { unlink(out); break }
                failures += 1
                #expect(r.stderr.contains("out of file descriptors") && r.stderr.contains("ulimit -n"), "limit \(limit): \(r.stderr)")
                #expect(r.stderr.split(separator: "\n").count == 1, "one line: \(r.stderr)")
                #expect(!r.stderr.contains("Fatal error") && access(out, F_OK) != 0, "limit \(limit): \(r)")
                #expect([69, 71, 73, 78].contains(r.exitCode), "limit \(limit): a clean exit, not a trap: \(r)")
            }
            #expect(failures > 0, "no limit was low enough to fail")
        }

        @Test("a named device that can't be opened never falls back")
        func namedDeviceDoesNotFallBack() async throws {
            let home = try TempDir()
            defer { home.remove() }
            try home.write(".asoundrc", "")
            let dir = home.makeDirectory("recordings")
            for pcm in ["nosuchpcm", "hw:99"] {
                let r = try await Capdeck.run(["record", "-D", pcm, "-d", "1", "-o", dir], home: home, timeout: 20)
                #expect(r.exitCode == 69, "\(r)")
                #expect(!r.stderr.contains("BUILT-IN"), "\(r.stderr)")
                // A PCM that isn't there: where to look (the line named only the errno's words).
                let last = r.stderrLines.last.map(String.init) ?? ""
                #expect(last.hasPrefix("capdeck: \(pcm): cannot open for capture: ") && last.hasSuffix(" ('capdeck devices' lists what can be captured from)"), "\(r.stderr)")
                #expect(try FileManager.default.contentsOfDirectory(atPath: dir).isEmpty, "no file left behind")
            }
        }

        @Test("capdeck devices lists the test PCM and the built-in source")
        func devices() async throws {
            let home = try TempDir()
            defer { home.remove() }
            try home.write(".asoundrc", ALSAConfig.filePCM("capdeckitpcm", infile: "/dev/zero", hint: "CaptureDeck integration test PCM"))
            let r = try await Capdeck.run(["devices"], home: home, timeout: 20)
            #expect(r.exitCode == 0, "\(r)")
            #expect(r.stdout.contains("Built-in source (only when named):"), "\(r.stdout)")
            #expect(r.stdout.contains("builtin"), "\(r.stdout)")
            #expect(r.stdout.contains("capdeckitpcm") && r.stdout.contains("CaptureDeck integration test PCM"),
                    "a PCM with a hint in ~/.asoundrc is listed: \(r.stdout)")
            #expect(r.stderr.isEmpty, "\(r.stderr)")
        }
    }
}
