// The config file and the session-property flags through the real CLI (issue 3): a bad
// `--config FILE` exits 78 with exactly one line naming the file, the line and the key; an empty
// file is valid; with automatic configuration off, a category that can't record stops the
// recording from starting (exit 69, the category named).
import Foundation
import Glibc
import Testing

extension Integration {
    @Suite("Config file and session flags")
    struct ConfigFile {
        /// One bad config file and the error it must produce.
        struct BadConfig: Sendable, CustomTestStringConvertible {
            var name: String
            var bytes: [UInt8]
            /// The line the error must name (nil: no line applies).
            var line: Int?
            /// The key as printed, e.g. `[session] mix-with-others` (nil: no key applies).
            var key: String?
            /// Text the message must contain.
            var fragment: String

            init(_ name: String, _ text: String, line: Int?, key: String?, _ fragment: String) {
                self.init(name, bytes: Array(text.utf8), line: line, key: key, fragment)
            }

            init(_ name: String, bytes: [UInt8], line: Int?, key: String?, _ fragment: String) {
                self.name = name
                self.bytes = bytes
                self.line = line
                self.key = key
                self.fragment = fragment
            }

            var testDescription: String { name }
        }

        static let badConfigs: [BadConfig] = [
            // Wrong types.
            BadConfig("boolean as a string", "[session]\nmix-with-others = \"yes\"\n",
                      line: 2, key: "[session] mix-with-others", "expected true or false"),
            BadConfig("boolean as a number", "[session]\nuses-app-session = 1\n",
                      line: 2, key: "[session] uses-app-session", "expected true or false"),
            BadConfig("route as a number", "[routes]\nexclusive = 5\n",
                      line: 2, key: "[routes] exclusive", "PCM name"),
            BadConfig("empty route", "[routes]\nshared = \"toneB\"\nbluetooth-hq = \"\"\n",
                      line: 3, key: "[routes] bluetooth-hq", "PCM name"),
            BadConfig("sample rate as a string", "[app-session]\ncategory = \"record\"\npreferred-sample-rate = \"48000\"\n",
                      line: 3, key: "[app-session] preferred-sample-rate", "8000"),
            BadConfig("category as a number", "[app-session]\ncategory = 3\n",
                      line: 2, key: "[app-session] category", "playAndRecord"),
            BadConfig("unknown category", "[app-session]\ncategory = \"karaoke\"\n",
                      line: 2, key: "[app-session] category", "karaoke"),
            BadConfig("unknown option", "[app-session]\noptions = [\"mixWithOthers\", \"loud\"]\n",
                      line: 2, key: "[app-session] options", "loud"),
            BadConfig("options as a string", "[app-session]\noptions = \"mixWithOthers\"\n",
                      line: 2, key: "[app-session] options", "array"),
            // Unknown keys and tables.
            BadConfig("unknown key after comments", "# my settings\n\n[session]\nuses-app-session = true\nmix-it-up = true\n",
                      line: 5, key: "[session] mix-it-up", "unknown key"),
            BadConfig("unknown key in [app-session]", "[app-session]\nvolume = 11\n",
                      line: 2, key: "[app-session] volume", "unknown key"),
            BadConfig("unknown key in [routes]", "[routes]\nexclusiv = \"toneA\"\n",
                      line: 2, key: "[routes] exclusiv", "unknown key"),
            BadConfig("a key of another table", "[routes]\nshared = \"toneB\"\n\n[session]\nshared = true\n",
                      line: 5, key: "[session] shared", "unknown key"),
            BadConfig("unknown table", "[session]\nmix-with-others = true\n\n[sesion]\nmix-with-others = true\n",
                      line: 4, key: "[sesion]", "unknown table"),
            BadConfig("key outside any table", "mix-with-others = true\n",
                      line: 1, key: "mix-with-others", "expected a table"),
            BadConfig("sub-table of [session]", "[session]\nmix-with-others = true\n[session.extra]\nx = 1\n",
                      line: 3, key: "[session] extra", "unknown key"),
            BadConfig("dotted key", "session.mix-with-others = \"x\"\n",
                      line: 1, key: "[session] mix-with-others", "expected true or false"),
            BadConfig("inline table", "session = { mix-with-others = 1 }\n",
                      line: 1, key: "[session] mix-with-others", "expected true or false"),
            BadConfig("CRLF line ends", "[session]\r\nmix-with-others = \"yes\"\r\n",
                      line: 2, key: "[session] mix-with-others", "expected true or false"),
            BadConfig("UTF-8 byte order mark", "\u{FEFF}[session]\nmix-with-others = 1\n",
                      line: 2, key: "[session] mix-with-others", "expected true or false"),
            // Not TOML at all.
            BadConfig("syntax error", "[session]\nmix-with-others = tru\n", line: 2, key: nil, "TOML"),
            BadConfig("duplicate key", "[session]\nmix-with-others = true\nmix-with-others = false\n", line: 3, key: nil, "TOML"),
            BadConfig("binary, not UTF-8", bytes: [0x7F, 0x45, 0x4C, 0x46, 0x02, 0x01, 0x01, 0x00, 0xFF, 0xFE, 0x80, 0x00, 0x0A, 0x9C],
                      line: nil, key: nil, "UTF-8"),
            BadConfig("binary with NUL bytes", bytes: Array("[session]\nmix = true\n".utf8) + [0, 0, 0, 1, 2, 3],
                      line: nil, key: nil, "text"),
        ]

        /// A home with `t16`, an unpaced file PCM over `null` (S16_LE stereo): recordings with -d
        /// finish at once, so only the named problem can fail.
        static func home() throws -> TempDir {
            let home = try TempDir()
            try home.write("in.raw", bytes: RawAudio.counterS16Stereo(frames: 48_000).bytes)
            try home.write(".asoundrc", ALSAConfig.filePCM("t16", infile: home.path("in.raw")))
            return home
        }

        static let record = ["record", "-D", "t16", "-d", "0.2"]

        static func expectOneLine(_ r: RunResult, _ context: String) {
            #expect(r.stderrLines.count == 1, "\(context): stderr must be exactly one line: \(r.stderr.debugDescription)")
            #expect(r.stderr.hasPrefix("capdeck: ") && r.stderr.hasSuffix("\n"), "\(context): \(r.stderr.debugDescription)")
            for bad in ["Fatal error", "Stack dump", "backtrace", "Segmentation"] {
                #expect(!r.stderr.contains(bad), "\(context): \(r.stderr)")
            }
        }

        @Test("a bad config file: exit 78, one line naming the file, line and key", arguments: badConfigs)
        func badConfig(_ c: BadConfig) async throws {
            let home = try Self.home()
            defer { home.remove() }
            let config = home.path("capdeck.toml")
            try home.write("capdeck.toml", bytes: c.bytes)
            let out = home.path("out.wav")
            let r = try await Capdeck.run(Self.record + ["--config", config, out], home: home, timeout: 20)
            #expect(r.exitCode == 78, "\(r)")
            Self.expectOneLine(r, c.name)
            var prefix = "capdeck: \(config)"
            if let line = c.line { prefix += ":\(line)" }
            prefix += ": "
            if let key = c.key { prefix += "\(key): " }
            #expect(r.stderr.hasPrefix(prefix), "expected a line starting \(prefix.debugDescription); got \(r.stderr.debugDescription)")
            #expect(r.stderr.contains(c.fragment), "expected \(c.fragment.debugDescription) in \(r.stderr.debugDescription)")
            #expect(access(out, F_OK) != 0, "a config error leaves no output file")
        }

        @Test("an empty config file (or only comments) is valid: Apple's defaults")
        func emptyConfig() async throws {
            let home = try Self.home()
            defer { home.remove() }
            for (name, text) in [("empty.toml", ""), ("comments.toml", "# nothing set yet\n\n   \n")] {
                try home.write(name, text)
                let out = home.path(name + ".wav")
                let r = try await Capdeck.run(Self.record + ["--config", home.path(name), out], home: home, timeout: 20)
                #expect(r.exitCode == 0, "\(name): \(r)")
                #expect(r.stderr.contains("app audio session configured: category playAndRecord"), "\(name): \(r.stderr)")
                #expect(r.stderr.contains("[exclusive route]"), "mix off by default: \(r.stderr)")
                let file = try SoundFile.read(out, samples: .none)
                #expect(file.frames == 9_600, "\(name): \(file.frames) frames")
            }
        }

        @Test("--config naming a missing file or a directory: exit 78, one line naming it")
        func unreadableConfig() async throws {
            let home = try Self.home()
            defer { home.remove() }
            let missing = home.path("no-such.toml")
            let dir = home.makeDirectory("confdir")
            for (path, fragment) in [(missing, "No such file"), (dir, "not a regular file")] {
                let out = home.path("out.wav")
                let r = try await Capdeck.run(Self.record + ["--config", path, out], home: home, timeout: 20)
                #expect(r.exitCode == 78, "\(r)")
                Self.expectOneLine(r, path)
                #expect(r.stderr.contains(path) && r.stderr.contains(fragment), "\(r.stderr.debugDescription)")
                #expect(access(out, F_OK) != 0)
            }
        }

        /// Automatic configuration off: the app session is used as it is.
        struct NoAutoConfigure: Sendable, CustomTestStringConvertible {
            /// `[app-session] category` in a config file (nil: none, Apple's default soloAmbient).
            var category: String?
            var extraFlags: [String] = []
            var code: Int32
            var testDescription: String {
                "category \(category ?? "default (soloAmbient)")\(extraFlags.isEmpty ? "" : " " + extraFlags.joined(separator: " ")) → \(code)"
            }
        }

        static let noAutoConfigureCases: [NoAutoConfigure] = [
            NoAutoConfigure(category: nil, code: 69),
            NoAutoConfigure(category: "playback", code: 69),
            NoAutoConfigure(category: "ambient", code: 69),
            NoAutoConfigure(category: "record", code: 0),
            NoAutoConfigure(category: "playAndRecord", code: 0),
            // The master switch off: a private session; automatic configuration has no effect.
            NoAutoConfigure(category: nil, extraFlags: ["--no-uses-app-session"], code: 0),
        ]

        @Test("--no-auto-configure: a category that can't record fails to start (69, the category named)",
              arguments: noAutoConfigureCases)
        func noAutoConfigure(_ c: NoAutoConfigure) async throws {
            let home = try Self.home()
            defer { home.remove() }
            var args = Self.record + ["--exclusive-device", "t16", "--no-auto-configure"] + c.extraFlags
            if let category = c.category {
                try home.write("app.toml", "[app-session]\ncategory = \"\(category)\"\n")
                args += ["--config", home.path("app.toml")]
            }
            let out = home.path("out.wav")
            let r = try await Capdeck.run(args + [out], home: home, timeout: 20)
            #expect(r.exitCode == c.code, "\(r)")
            if c.code == 0 {
                #expect(!r.stderr.contains("app audio session configured"), "nothing is configured automatically: \(r.stderr)")
                #expect(try SoundFile.read(out, samples: .none).frames == 9_600)
            } else {
                Self.expectOneLine(r, c.testDescription)
                let category = c.category ?? "soloAmbient"
                #expect(r.stderr.contains("'\(category)'"), "the error names the category: \(r.stderr.debugDescription)")
                #expect(access(out, F_OK) != 0, "a recording that never started leaves no file")
            }
        }
    }
}
