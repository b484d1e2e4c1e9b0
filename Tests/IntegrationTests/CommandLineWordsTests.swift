// The command line in a Linux user's words, run through the real binary: mistakes named with
// what was meant and the subcommand's --help, FILE and --name as cp and arecord users expect,
// durations and rates as people write them, a duration the disk can't hold said at the start,
// and the status line on a real terminal (tmux) in a UTF-8 and a C locale.
import Foundation
import Glibc
import Testing

extension Integration {
    @Suite("Command-line words")
    struct CommandLineWords {
        /// capdeck run in `directory` (its current directory), HOME `home`.
        func run(in directory: String, _ arguments: [String], home: TempDir, timeout: Double = 30) async throws -> RunResult {
            let exe = try Capdeck.require()
            let command = "cd \(TmuxConsole.quote(directory)) && exec " + ([exe] + arguments).map(TmuxConsole.quote).joined(separator: " ")
            return try await runProgram("/bin/sh", ["-c", command], environment: Capdeck.environment(home: home.root), scratch: home, timeout: timeout)
        }

        @Test("mistakes: a mistyped option or command is named with the closest the parser has; every error points to its subcommand's --help",
              arguments: [
                (["record", "--duraton", "3", "x.wav"], "capdeck: unknown option '--duraton'; did you mean '--duration'? (see 'capdeck record --help')"),
                (["recrod", "x.wav"], "capdeck: unknown command 'recrod'; did you mean 'record'? (see 'capdeck --help')"),
                (["devcies"], "capdeck: unknown command 'devcies'; did you mean 'devices'? (see 'capdeck --help')"),
                (["--mix-with-other"], "capdeck: unknown option '--mix-with-other'; did you mean '--mix-with-others'? (see 'capdeck console --help')"),
                (["record", "--no-loudnes", "x.wav"], "capdeck: unknown option '--no-loudnes'; did you mean '--no-loudness'? (see 'capdeck record --help')"),
                (["record", "--frobnicate", "x.wav"], "capdeck: unknown option '--frobnicate' (see 'capdeck record --help')"),
                (["record", "devcies"], "capdeck: FILE 'devcies' has no extension; add one (.wav, .w64, .caf, .flac, .aiff) or choose the type with -t; or did you mean 'capdeck devices'? (see 'capdeck record --help')"),
                // A directory is named as one (it said "has no extension"), with or without its slash.
                (["record", "/tmp/"], "capdeck: FILE '/tmp/' is a directory; name a file in it, or give it as -o/--output-dir for a name from --name (see 'capdeck record --help')"),
                (["record", "-t", "wav", "/tmp"], "capdeck: FILE '/tmp' is a directory; name a file in it, or give it as -o/--output-dir for a name from --name (see 'capdeck record --help')"),
                (["record", "-r", "48q", "x.wav"], "capdeck: The value '48q' is invalid for '-r <rate>': not a sample rate; rate takes 8000-384000 Hz, or 8k-384k (see 'capdeck record --help')"),
                (["record", "-d", "1:75", "x.wav"], "capdeck: The value '1:75' is invalid for '-d <duration>': '1:75' is not a time; minutes and seconds after the first field are 0-59 (see 'capdeck record --help')"),
                (["recover"], "capdeck: Missing expected argument '<files> ...' (see 'capdeck recover --help')"),
                (["record", "-t", "flac", "--name", "take.wav"], "capdeck: -t flac does not match --name's extension '.wav' (see 'capdeck record --help')"),
                // An option's value is never taken for an option ("--name --x" names a file --x).
                (["record", "--trigger-level", "-3O", "x.wav"], "capdeck: The value '-3O' is invalid for '--trigger-level <trigger-level>': not a number; --trigger-level takes -120 to 0 dBFS (see 'capdeck record --help')"),
              ])
        func mistakes(arguments: [String], line: String) async throws {
            let home = try TempDir()
            defer { home.remove() }
            let r = try await run(in: home.root, arguments, home: home)
            #expect(r.exitCode == 64, "\(r)")
            #expect(r.stderr == line + "\n", "\(r.stderr.debugDescription)")
            #expect(!FileManager.default.fileExists(atPath: home.path("x.wav")))
        }

        /// The recording commands list every code; `devices` and `recover` the ones they can
        /// end with, once (recover's help had its own list, then the recording commands' one).
        @Test("every subcommand's --help lists the exit codes it can end with, once (an error points there)", arguments: [
            ("record", ["0", "64", "65", "66", "69", "71", "73", "74", "78", "130"]),
            ("console", ["0", "64", "65", "66", "69", "71", "73", "74", "78", "130"]),
            ("devices", ["0", "64", "71"]),
            ("recover", ["0", "64", "65", "66", "71"]),
        ])
        func exitCodesInEachHelp(command: String, codes: [String]) async throws {
            let home = try TempDir()
            defer { home.remove() }
            let r = try await run(in: home.root, [command, "--help"], home: home)
            let text = r.stdout.replacingOccurrences(of: "\n", with: " ")
            for code in codes {
                #expect(text.range(of: "[ ,:]\(code) [A-Za-z]", options: .regularExpression) != nil, "\(command) --help lacks \(code)")
            }
            #expect(text.components(separatedBy: "Exit codes:").count == 2, "one list: \(text)")
        }

        @Test("-t wav gives an extension-less FILE its type; a relative FILE is relative to the current directory even with -o; --name take.wav makes take.wav")
        func fileNames() async throws {
            let home = try TempDir()
            defer { home.remove() }
            let cwd = home.makeDirectory("cwd")
            let dir = home.makeDirectory("rec")
            var r = try await run(in: cwd, ["record", "-D", "builtin", "-d", "0.2", "-t", "caf", "take"], home: home)
            #expect(r.exitCode == 0, "\(r)")
            #expect(r.stderr.contains("saved \(cwd.hasPrefix("/") ? "take.caf" : "take.caf")"), "\(r.stderr)")
            #expect(try SoundFile.read(cwd + "/take.caf", samples: .int).frames == 9_600)
            r = try await run(in: cwd, ["record", "-D", "builtin", "-d", "0.2", "-o", dir, "here.wav"], home: home)
            #expect(r.exitCode == 0, "\(r)")
            #expect(r.stderr.contains("capdeck: note: here.wav is relative to the current directory; -o/--output-dir is where names from --name go"), "\(r.stderr)")
            #expect(FileManager.default.fileExists(atPath: cwd + "/here.wav") && !FileManager.default.fileExists(atPath: dir + "/here.wav"))
            r = try await run(in: cwd, ["record", "-D", "builtin", "-d", "0.2", "-o", dir, "--name", "take.wav"], home: home)
            #expect(r.exitCode == 0, "\(r)")
            #expect(try FileManager.default.contentsOfDirectory(atPath: dir) == ["take.wav"])
            // The name's extension gives the type when -t doesn't.
            r = try await run(in: cwd, ["record", "-D", "builtin", "-d", "0.2", "-o", dir, "--name", "take.flac"], home: home)
            #expect(r.exitCode == 0, "\(r)")
            #expect(try FileManager.default.contentsOfDirectory(atPath: dir).sorted() == ["take.flac", "take.wav"])
            let probe = try await runProgram(try #require(which("ffprobe")), ["-v", "error", "-show_entries", "stream=codec_name", "-of", "csv=p=0", dir + "/take.flac"],
                                             environment: ProcessInfo.processInfo.environment, scratch: home)
            #expect(probe.stdout.trimmingCharacters(in: .whitespacesAndNewlines) == "flac", "\(probe)")
        }

        @Test("-d takes 1:30, 90s, 1.5m and 0:00:02.5; -r takes 44.1k: the file holds exactly that many frames at that rate",
              arguments: [("1:30", "48000", 4_320_000), ("90s", "48k", 4_320_000), ("1.5m", "48kHz", 4_320_000), ("0:00:02.5", "44.1k", 110_250)])
        func durationsAndRates(duration: String, rate: String, frames: Int) async throws {
            let home = try TempDir()
            defer { home.remove() }
            // An unpaced file PCM: 90 s of audio are read in well under a second.
            let audio = RawAudio.counterS16Stereo(frames: 4_400_000)
            try home.write("in.raw", bytes: audio.bytes)
            let fileRate = rate == "44.1k" ? 44_100 : 48_000
            try home.write(".asoundrc", ALSAConfig.filePCM("fast", infile: home.path("in.raw")))
            let out = home.path("take.wav")
            let r = try await run(in: home.root, ["record", "-q", "-D", "fast", "-r", rate, "-d", duration, out], home: home, timeout: 60)
            #expect(r.exitCode == 0, "\(r)")
            let file = try SoundFile.read(out, samples: .int)
            #expect(file.frames == frames && file.sampleRate == fileRate, "\(file.frames) frames at \(file.sampleRate) Hz")
            #expect(firstDifference(file.ints, Array(audio.leftJustified.prefix(frames * 2)), channels: 2) == nil, "sample-exact")
        }

        @Test("-d 2h at 48 kHz stereo S16 (1.4 GB) on a 1 MiB tmpfs: one warning with the start lines, and the take goes on; 1 s that fits: none")
        func durationThatCannotFit() async throws {
            let home = try TempDir()
            defer { home.remove() }
            let mnt = home.makeDirectory("small")
            let mount = try await runProgram(try #require(which("mount")), ["-t", "tmpfs", "-o", "size=1m", "tmpfs", mnt],
                                             environment: ProcessInfo.processInfo.environment, scratch: home)
            try #require(mount.exitCode == 0, "mounting a tmpfs needs root: \(mount)")
            defer { _ = umount(mnt) }
            let r = try await run(in: home.root, ["record", "-D", "builtin", "-d", "2h", mnt + "/long.wav"], home: home)
            // (The disk fills after about 5 s of audio: then exit 74, the file kept.)
            let lines = r.stderr.split(separator: "\n").map(String.init)
            let warnings = lines.filter { $0.hasPrefix("capdeck: warning:") }
            #expect(warnings == ["capdeck: warning: 02:00:00 at S16_LE 48000 Hz 2 ch needs about 1.4 GB; \(mnt) has 1.0 MB free, so the recording will stop when the disk is full (it goes on until then)"],
                    "\(r.stderr)")
            // With the start lines: right after "saving to", before any audio is written.
            let saving = try #require(lines.firstIndex { $0.hasPrefix("capdeck: saving to ") }, "\(lines)")
            #expect(lines.firstIndex { $0.hasPrefix("capdeck: warning:") } == saving + 1, "at the start: \(lines)")
            #expect(r.exitCode == 74 && r.stderr.contains("disk full"), "it went on until the disk was full: \(r)")
            let ok = try await run(in: home.root, ["record", "-D", "builtin", "-d", "0.2", mnt + "/short.wav"], home: home)
            #expect(ok.exitCode == 74 || !ok.stderr.contains("warning"), "\(ok)")
            let fits = try await run(in: home.root, ["record", "-D", "builtin", "-d", "1", home.path("fits.wav")], home: home)
            #expect(fits.exitCode == 0 && !fits.stderr.contains("warning"), "\(fits)")
        }

        @Test("the status line on a terminal labels peak and RMS as the console does; LANG=C makes it ASCII", arguments: ["C.UTF-8", "C"])
        func statusLine(lang: String) async throws {
            let home = try TempDir()
            defer { home.remove() }
            let console = try await TmuxConsole(["record", "-D", "builtin", "-d", "30", home.path("s.wav")], home: home,
                                                environment: ["LANG": lang], width: 120, height: 10)
            defer { console.shutdown() }
            let s = try await console.waitFor("the status line", timeout: 10) { $0.lines.contains { $0.contains(" pk ") && $0.contains(" rms") } }
            let line = try #require(s.lines.first { $0.contains(" pk ") })
            let re = try NSRegularExpression(pattern: #"^(● REC|\* REC) 00:00:\d\d\.\d  L -12\.0 pk -15\.0 rms  R -12\.0 pk -15\.0 rms \(dBFS\)  xruns 0  builtin \[exclusive\]$"#)
            #expect(re.firstMatch(in: line, range: NSRange(line.startIndex..., in: line)) != nil, "\(line.debugDescription)")
            #expect(line.hasPrefix(lang == "C" ? "* REC" : "● REC"), "\(line)")
            if lang == "C" { #expect(s.text.unicodeScalars.allSatisfy { $0.isASCII }, "\(s.text)") }
        }
    }
}
