// The package (issue 15): the man pages against the argument parser and the code, the shell
// completions in real shells on a pty, `make install`/`make uninstall`'s manifest, and the .deb
// that `make deb` built (make test builds it first): its control file, its contents, and its
// binary run with the Swift toolchain out of reach. `make deb-test` goes further (a clean Debian
// root, apt, lintian); see Docs/packaging.md.
import Foundation
import Glibc
import Testing

extension Integration {
    @Suite("Package")
    struct Package {
        static let repo = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent()

        static func path(_ relative: String) -> String { repo.appendingPathComponent(relative).path }

        /// Runs a tool to completion in a bare environment (PATH only, plus `environment`).
        static func tool(_ executable: String, _ arguments: [String], environment: [String: String] = [:],
                         scratch: TempDir, timeout: Double = 60) async throws -> RunResult {
            guard let exe = executable.hasPrefix("/") ? executable : which(executable) else {
                throw SpawnError(description: "\(executable) is needed (make deps installs it)")
            }
            return try await runProgram(exe, arguments, environment: ["PATH": "/usr/bin:/bin"].merging(environment) { $1 },
                                        scratch: scratch, timeout: timeout)
        }

        /// The parser's model of capdeck: `--experimental-dump-help`'s "command" object.
        static func dump(_ binary: String, scratch: TempDir) async throws -> [String: Any] {
            let r = try await tool(binary, ["--experimental-dump-help"], scratch: scratch)
            #expect(r.exitCode == 0, "\(r)")
            let json = try JSONSerialization.jsonObject(with: Data(r.stdout.utf8)) as? [String: Any]
            return try #require(json?["command"] as? [String: Any])
        }

        /// Each page's name and the command it documents (capdeck, then each subcommand but help).
        static func commands(_ root: [String: Any]) -> [(page: String, command: [String: Any])] {
            let subs = (root["subcommands"] as? [[String: Any]] ?? []).filter {
                ($0["shouldDisplay"] as? Bool ?? true) && $0["commandName"] as? String != "help"
            }
            return [("capdeck", root)] + subs.map { ("capdeck-" + ($0["commandName"] as! String), $0) }
        }

        /// The generated pages of `binary`, by page name.
        static func pages(_ binary: String, scratch: TempDir) async throws -> [String: String] {
            let out = scratch.path("man")
            let r = try await tool("python3", [path("scripts/manpages.py"), "--binary", binary, "--out", out], scratch: scratch)
            #expect(r.exitCode == 0, "\(r)")
            var pages: [String: String] = [:]
            for file in try FileManager.default.contentsOfDirectory(atPath: out) where file.hasSuffix(".1") {
                pages[String(file.dropLast(2))] = try String(contentsOfFile: out + "/" + file, encoding: .utf8)
            }
            return pages
        }

        /// One section of a page (between its .SH and the next), as plain text: fonts, escapes
        /// and requests gone, so `--device` and `~/.config/capdeck/config.toml` read as typed.
        static func section(_ page: String, _ name: String) -> String? {
            var lines: [Substring] = []
            var inside = false
            for line in page.split(separator: "\n", omittingEmptySubsequences: false) {
                if line.hasPrefix(".SH ") {
                    inside = line.dropFirst(4).replacingOccurrences(of: "\"", with: "") == name
                    continue
                }
                if inside { lines.append(line) }
            }
            guard !lines.isEmpty else { return nil }
            return plain(lines.joined(separator: "\n"))
        }

        static func plain(_ roff: String) -> String {
            var s = roff
            for (from, to) in [("\\-", "-"), ("\\fB", ""), ("\\fI", ""), ("\\fR", ""), ("\\fP", ""), ("\\e", "\\"), ("\\&", ""), ("\\(dq", "\"")] {
                s = s.replacingOccurrences(of: from, with: to)
            }
            return s.split(separator: "\n").map { line in
                // ".B x y" shows its words; ".BR a \", \" b" and ".IR a .b" join theirs (quoted ones
                // whole) without blanks, as the font-alternating requests print them.
                guard line.hasPrefix(".") else { return String(line) }
                let parts = line.split(separator: " ", maxSplits: 1)
                guard parts.count == 2 else { return "" }
                var args: [String] = [], current = "", quoted = false
                for ch in parts[1] {
                    if ch == "\"" { quoted.toggle() } else if ch == " " && !quoted {
                        if !current.isEmpty { args.append(current); current = "" }
                    } else { current.append(ch) }
                }
                if !current.isEmpty { args.append(current) }
                return args.joined(separator: parts[0].count == 3 ? "" : " ")
            }.joined(separator: "\n")
        }

        static func source(_ relative: String) throws -> String { try String(contentsOfFile: path(relative), encoding: .utf8) }

        /// Every Swift file of the product's sources (not the test tools: bench, fuzz, fault injection).
        static func productSources() throws -> [String] {
            let fm = FileManager.default
            let sources = path("Sources")
            let skip = ["capdeck-bench", "capdeck-fuzz", "CPCMFaults", "CAllocCounter", "CFuzzer"]
            var texts: [String] = []
            for target in try fm.contentsOfDirectory(atPath: sources) where !skip.contains(target) {
                guard let e = fm.enumerator(atPath: sources + "/" + target) else { continue }
                for case let file as String in e where file.hasSuffix(".swift") {
                    texts.append(try String(contentsOfFile: sources + "/" + target + "/" + file, encoding: .utf8))
                }
            }
            return texts
        }

        static func matches(_ pattern: String, in text: String) -> [String] {
            let re = try! NSRegularExpression(pattern: pattern)
            return re.matches(in: text, range: NSRange(text.startIndex..., in: text)).compactMap {
                Range($0.range(at: 1), in: text).map { String(text[$0]) }
            }
        }

        // MARK: man pages

        @Test("every command has a page, and every option the parser knows is on its command's page")
        func pagesCoverTheParser() async throws {
            let scratch = try TempDir()
            defer { scratch.remove() }
            let exe = try Capdeck.require()
            let root = try await Self.dump(exe, scratch: scratch)
            let pages = try await Self.pages(exe, scratch: scratch)
            let commands = Self.commands(root)
            #expect(Set(pages.keys) == Set(commands.map(\.page)))
            #expect(commands.count >= 5, "capdeck, console, record, devices, recover")
            var checked = 0
            for (name, command) in commands {
                let options = try #require(Self.section(pages[name] ?? "", "OPTIONS"), "\(name): no OPTIONS")
                for arg in command["arguments"] as? [[String: Any]] ?? [] where arg["shouldDisplay"] as? Bool ?? true {
                    if arg["kind"] as? String == "positional" {
                        let value = (arg["valueName"] as! String).uppercased()
                        #expect(options.contains(value), "\(name): the argument \(value) is not in OPTIONS")
                    }
                    for n in arg["names"] as? [[String: String]] ?? [] {
                        let flag = (n["kind"] == "short" ? "-" : "--") + n["name"]!
                        #expect(options.range(of: "(^|[\\s,])\(NSRegularExpression.escapedPattern(for: flag))([\\s,]|$)",
                                              options: .regularExpression) != nil,
                                "\(name): \(flag) is not in OPTIONS")
                        checked += 1
                    }
                    // The help text too: the page says what --help says.
                    if let abstract = arg["abstract"] as? String, let first = abstract.split(separator: " ").prefix(4).joined(separator: " ") as String? {
                        #expect(options.replacingOccurrences(of: "\n", with: " ").contains(first), "\(name): \(abstract) not on the page")
                    }
                }
            }
            #expect(checked > 80, "only \(checked) option names checked")
        }

        @Test("the pages lint clean (groff -ww, mandoc -Tlint), render with man -l, and have every section")
        func pagesLint() async throws {
            let scratch = try TempDir()
            defer { scratch.remove() }
            let pages = try await Self.pages(try Capdeck.require(), scratch: scratch)
            for (name, text) in pages.sorted(by: { $0.key < $1.key }) {
                let file = scratch.path("man/\(name).1")
                let groff = try await Self.tool("groff", ["-man", "-ww", "-z", file], scratch: scratch)
                #expect(groff.exitCode == 0 && groff.stderr.isEmpty, "\(name): groff: \(groff.stderr)")
                let mandoc = try await Self.tool("mandoc", ["-Tlint", "-Wstyle", file], scratch: scratch)
                #expect(mandoc.stdout.isEmpty && mandoc.stderr.isEmpty, "\(name): mandoc: \(mandoc.stdout)\(mandoc.stderr)")
                let man = try await Self.tool("man", ["-l", file], environment: ["MANWIDTH": "80", "LANG": "C.UTF-8"], scratch: scratch)
                #expect(man.exitCode == 0, "\(name): man -l: \(man)")
                var wanted = ["NAME", "SYNOPSIS", "DESCRIPTION", "OPTIONS", "EXIT STATUS", "EXAMPLES", "SEE ALSO"]
                if name != "capdeck-recover" { wanted.append("ENVIRONMENT") }
                wanted.append("FILES")
                for s in wanted {
                    #expect(man.stdout.contains("\n\(s)\n"), "\(name): no \(s) section")
                    #expect(Self.section(text, s) != nil, "\(name): no .SH \(s)")
                }
                #expect(man.stdout.split(separator: "\n").allSatisfy { $0.count <= 80 }, "\(name): a line wider than MANWIDTH")
            }
        }

        @Test("capdeck(1) and --help list every exit code the code uses (ExitStatus and _exit)")
        func exitCodes() async throws {
            let scratch = try TempDir()
            defer { scratch.remove() }
            let exe = try Capdeck.require()
            let failure = try Self.source("Sources/CaptureApp/Failure.swift")
            var codes = Set(Self.matches(#"case [a-zA-Z]+ = ([0-9]+)"#, in: failure))
            for text in try Self.productSources() { codes.formUnion(Self.matches(#"_exit\(([0-9]+)\)"#, in: text)) }
            #expect(codes.isSuperset(of: ["0", "64", "65", "66", "69", "73", "74", "78"]), "\(codes)")
            let page = try #require(try await Self.pages(exe, scratch: scratch)["capdeck"])
            let status = try #require(Self.section(page, "EXIT STATUS"))
            let help = try await Self.tool(exe, ["--help"], scratch: scratch)
            let helpText = help.stdout.replacingOccurrences(of: "\n", with: " ")
            for code in codes.sorted() {
                #expect(status.contains("\n\(code)\n"), "capdeck(1) EXIT STATUS lacks \(code)")
                #expect(helpText.range(of: "[ ,:]\(code) [A-Za-z]", options: .regularExpression) != nil, "--help lacks exit code \(code)")
            }
        }

        @Test("capdeck(1) names every environment variable and every capdeck path the code uses")
        func environmentAndFiles() async throws {
            let scratch = try TempDir()
            defer { scratch.remove() }
            let page = try #require(try await Self.pages(try Capdeck.require(), scratch: scratch)["capdeck"])
            let environment = try #require(Self.section(page, "ENVIRONMENT"))
            let files = try #require(Self.section(page, "FILES"))
            var variables = Set<String>()
            var paths = Set<String>()
            for text in try Self.productSources() {
                variables.formUnion(Self.matches(#"getenv\("([A-Z_][A-Z0-9_]*)"\)"#, in: text))
                variables.formUnion(Self.matches(#"(?:environment|env)\["([A-Z_][A-Z0-9_]*)"\]"#, in: text))
                variables.formUnion(Self.matches(#"merge\("([A-Z_][A-Z0-9_]*)""#, in: text))
                for key in Self.matches(#"for key in \[([^\]]*)\]"#, in: text) where text.contains("getenv(key)") {
                    variables.formUnion(Self.matches(#""([A-Z_][A-Z0-9_]*)""#, in: key))
                }
                paths.formUnion(Self.matches(#""(/[^"\s]*capdeck[^"\s]*)""#, in: text))
            }
            for v in ["XDG_CONFIG_HOME", "XDG_STATE_HOME", "XDG_RUNTIME_DIR", "XDG_DATA_HOME", "NO_COLOR", "TERM", "PULSE_SERVER", "HOME"] {
                #expect(variables.contains(v), "the scan missed \(v): \(variables.sorted())")
            }
            for v in variables.sorted() {
                #expect(environment.range(of: "(^|\\n|, )\(v)(\\n|,|$)", options: .regularExpression) != nil,
                        "ENVIRONMENT lacks \(v)")
            }
            #expect(paths.count >= 8, "\(paths.sorted())")
            for p in paths.sorted() {
                let shown = p.replacingOccurrences(of: #"\\\(getuid\(\)\)"#, with: "UID", options: .regularExpression)
                #expect((files + environment).contains(shown), "FILES lacks \(shown)")
            }
        }

        // MARK: completions

        /// A shell on a pty (a private tmux server), `capdeck` on its PATH, HOME at `home`.
        final class ShellPane: @unchecked Sendable {
            let socket = "capdeck-shell-" + UUID().uuidString.prefix(12).lowercased()
            let scratch: TempDir
            let tmux: String

            init(_ shell: [String], home: TempDir) async throws {
                tmux = try #require(which("tmux"), "tmux is needed")
                scratch = try TempDir("capdeck-shell")
                let bin = scratch.makeDirectory("bin", mode: 0o755)
                symlink(try Capdeck.require(), bin + "/capdeck")
                let env = ["PATH=\(bin):/usr/bin:/bin", "HOME=\(home.root)", "TERM=xterm", "LANG=C.UTF-8"]
                let r = try await runProgram(tmux, ["-L", socket, "-f", "/dev/null", "new-session", "-d", "-x", "200", "-y", "40",
                                                    "-c", home.root, "env", "-i"] + env + shell,
                                             environment: ["PATH": "/usr/bin:/bin", "TMUX_TMPDIR": scratch.root, "HOME": scratch.root],
                                             scratch: scratch)
                #expect(r.exitCode == 0, "\(r)")
            }

            func keys(_ keys: String...) async throws {
                _ = try await runProgram(tmux, ["-L", socket, "send-keys"] + keys,
                                         environment: ["PATH": "/usr/bin:/bin", "TMUX_TMPDIR": scratch.root], scratch: scratch)
            }

            func screen() async throws -> String {
                // -N: with each line's trailing blanks (a completed word's space shows it was the only one).
                try await runProgram(tmux, ["-L", socket, "capture-pane", "-p", "-N"],
                                     environment: ["PATH": "/usr/bin:/bin", "TMUX_TMPDIR": scratch.root], scratch: scratch).stdout
            }

            /// Waits until the screen satisfies `test` (at most `seconds`); the last screen.
            @discardableResult
            func wait(_ seconds: Double = 10, for what: String, _ test: (String) -> Bool) async throws -> String {
                let end = Monotonic.now + seconds
                var last = ""
                while Monotonic.now < end {
                    last = try await screen()
                    if test(last) { return last }
                    try await Task.sleep(nanoseconds: 100_000_000)
                }
                Issue.record("\(what): not on the screen after \(seconds) s:\n\(last)")
                return last
            }

            /// Types `line`, presses Tab (twice for a list), and returns the screen after.
            func complete(_ line: String, tabs: Int = 1, expect what: String, _ test: @escaping (String) -> Bool) async throws -> String {
                try await keys("C-u", line)
                for _ in 0..<tabs { try await keys("Tab"); try await Task.sleep(nanoseconds: 400_000_000) }
                let s = try await wait(for: "\(line)⇥: \(what)", test)
                try await keys("C-c")
                try await Task.sleep(nanoseconds: 200_000_000)
                try await keys("clear", "Enter")
                _ = try await wait(2, for: "a clear screen") { $0.split(separator: "\n").count <= 1 }
                return s
            }

            func stop() async {
                _ = try? await runProgram(tmux, ["-L", socket, "kill-server"],
                                          environment: ["PATH": "/usr/bin:/bin", "TMUX_TMPDIR": scratch.root], scratch: scratch)
                scratch.remove()
            }
        }

        /// A home whose ALSA configuration has one hinted capture PCM over a file: opening it would
        /// create `opened.raw`, so its absence afterwards shows completion never opened a device.
        static func probeHome() throws -> TempDir {
            let home = try TempDir()
            try home.write("in.raw", bytes: [UInt8](repeating: 0, count: 19_200))
            try home.write(".asoundrc", """
                pcm.capdeck_probe {
                  type file
                  slave.pcm null
                  file "\(home.path("opened.raw"))"
                  infile "\(home.path("in.raw"))"
                  format "raw"
                  hint { show on description "Completion probe" }
                }

                """)
            return home
        }

        static func scripts(scratch: TempDir) async throws -> String {
            let out = scratch.path("completions")
            let r = try await tool("bash", [path("scripts/completions.sh"), try Capdeck.require(), out], scratch: scratch)
            #expect(r.exitCode == 0, "\(r)")
            return out
        }

        @Test("bash (readline on a pty): device names from the catalog without opening one, across ':', formats, file types")
        func bashCompletion() async throws {
            let home = try Self.probeHome()
            defer { home.remove() }
            let dir = try await Self.scripts(scratch: home)
            let pane = try await ShellPane(["bash", "--norc", "--noprofile"], home: home)
            do {
                try await pane.keys("source \(dir)/capdeck; complete -p capdeck", "Enter")
                try await pane.wait(for: "complete -p") { $0.contains("complete -o filenames -F _capdeck_joined capdeck") }
                try await pane.keys("clear", "Enter")
                let list = try await pane.complete("capdeck record -D ", tabs: 2, expect: "the device list") {
                    $0.contains("capdeck_probe") && $0.contains("builtin:pink")
                }
                #expect(list.contains("builtin:sweep") && list.contains("builtin:sine"), "\(list)")
                // ':' is one of bash's word breaks: the whole name still completes, once.
                let pink = try await pane.complete("capdeck record -D builtin:p", expect: "builtin:pink") {
                    $0.contains("capdeck record -D builtin:pink ")
                }
                #expect(!pink.contains("builtin:builtin"), "\(pink)")
                _ = try await pane.complete("capdeck record -f S24_3", expect: "S24_3LE") { $0.contains("-f S24_3LE ") }
                _ = try await pane.complete("capdeck record -t fl", expect: "flac") { $0.contains("-t flac ") }
                _ = try await pane.complete("capdeck console --shared-device capdeck_p", expect: "capdeck_probe") {
                    $0.contains("--shared-device capdeck_probe ")
                }
                _ = try await pane.complete("capdeck dev", expect: "devices") { $0.contains("capdeck devices ") }
            } catch { Issue.record(error) }
            await pane.stop()
            #expect(access(home.path("opened.raw"), F_OK) != 0, "completing opened the capture PCM")
        }

        @Test("fish (on a pty): device names, formats; zsh: loads, and completes builtin:pink through its colon")
        func fishAndZshCompletion() async throws {
            let home = try Self.probeHome()
            defer { home.remove() }
            let dir = try await Self.scripts(scratch: home)

            let fish = try await ShellPane(["fish", "--no-config"], home: home)
            do {
                try await fish.keys("source \(dir)/capdeck.fish; clear", "Enter")
                try await Task.sleep(nanoseconds: 500_000_000)
                let list = try await fish.complete("capdeck record -D ", expect: "the device list") {
                    $0.contains("capdeck_probe") && $0.contains("builtin:pink")
                }
                #expect(list.contains("builtin:sweep"), "\(list)")
                _ = try await fish.complete("capdeck record -D builtin:p", expect: "builtin:pink") { $0.contains("-D builtin:pink ") }
                _ = try await fish.complete("capdeck record -f FLO", expect: "FLOAT_LE") { $0.contains("-f FLOAT_LE ") }
            } catch { Issue.record(error) }
            await fish.stop()

            let load = try await Self.tool("zsh", ["-f", "-c", "autoload -U compinit && compinit -u -d \(home.path("zcomp")) && source \(dir)/_capdeck && whence -w _capdeck"],
                                           environment: ["HOME": home.root], scratch: home)
            #expect(load.exitCode == 0 && load.stderr.isEmpty && load.stdout.contains("_capdeck: function"), "\(load)")

            try FileManager.default.createDirectory(atPath: home.path("zfunc"), withIntermediateDirectories: true)
            try FileManager.default.copyItem(atPath: dir + "/_capdeck", toPath: home.path("zfunc/_capdeck"))
            let zsh = try await ShellPane(["zsh", "-f"], home: home)
            do {
                try await zsh.keys("fpath=(\(home.path("zfunc")) $fpath); autoload -U compinit; compinit -u -d \(home.path("zcomp2")); clear", "Enter")
                try await Task.sleep(nanoseconds: 800_000_000)
                _ = try await zsh.complete("capdeck record -D builtin:p", expect: "builtin:pink") { $0.contains("-D builtin:pink") }
                _ = try await zsh.complete("capdeck record -D capdeck_p", expect: "capdeck_probe") { $0.contains("-D capdeck_probe") }
                _ = try await zsh.complete("capdeck record -t w6", expect: "w64") { $0.contains("-t w64") }
            } catch { Issue.record(error) }
            await zsh.stop()
            #expect(access(home.path("opened.raw"), F_OK) != 0, "completing opened the capture PCM")
        }

        // MARK: make install / make uninstall

        @Test("install puts the staged tree under DESTDIR/PREFIX with a manifest; uninstall removes exactly that")
        func installUninstall() async throws {
            let scratch = try TempDir()
            defer { scratch.remove() }
            let stage = Self.path(".build-package/stage")
            try #require(access(stage + "/bin/capdeck", X_OK) == 0, "no staged tree: run make stage (make test does, through make deb)")
            let dest = scratch.path("dest")
            let prefix = "/opt/capdeck-test"
            let root = dest + prefix
            // Someone else's files where capdeck installs: they must survive uninstall.
            try FileManager.default.createDirectory(atPath: root + "/share/man/man1", withIntermediateDirectories: true)
            try "other".write(toFile: root + "/share/man/man1/other.1", atomically: false, encoding: .utf8)
            let env = ["DESTDIR": dest, "PREFIX": prefix]
            let install = try await Self.tool("bash", [Self.path("scripts/install.sh"), "install", stage], environment: env, scratch: scratch)
            #expect(install.exitCode == 0, "\(install)")
            let expected = ["bin/capdeck", "share/man/man1/capdeck.1.gz", "share/man/man1/capdeck-record.1.gz",
                            "share/man/man1/capdeck-console.1.gz", "share/man/man1/capdeck-devices.1.gz", "share/man/man1/capdeck-recover.1.gz",
                            "share/bash-completion/completions/capdeck", "share/zsh/vendor-completions/_capdeck",
                            "share/fish/vendor_completions.d/capdeck.fish", "share/doc/capdeck/README.md",
                            "share/doc/capdeck/Docs/architecture.md", "share/capdeck/installed-files"]
            for f in expected { #expect(access(root + "/" + f, F_OK) == 0, "\(f) not installed") }
            let manifest = try String(contentsOfFile: root + "/share/capdeck/installed-files", encoding: .utf8)
            let listed = manifest.split(separator: "\n").filter { $0.hasPrefix("file ") }.map { String($0.split(separator: " ")[2]) }
            var staged: [String] = []
            let e = FileManager.default.enumerator(atPath: stage)!
            for case let f as String in e where !FileManager.default.isDirectory(stage + "/" + f) { staged.append(f) }
            #expect(Set(listed) == Set(staged), "the manifest is not the staged tree")
            #expect(!manifest.contains("dir share/man\n") && manifest.contains("dir share/doc/capdeck\n"), "\(manifest)")
            let v = try await Self.tool(root + "/bin/capdeck", ["--version"], scratch: scratch)
            #expect(v.exitCode == 0 && !v.stdout.isEmpty)

            // A file changed after install is the user's now: kept, and said so.
            try "# my edit\n".write(toFile: root + "/share/doc/capdeck/Docs/console.md", atomically: false, encoding: .utf8)
            let uninstall = try await Self.tool("bash", [Self.path("scripts/install.sh"), "uninstall"], environment: env, scratch: scratch)
            #expect(uninstall.exitCode == 0, "\(uninstall)")
            #expect(uninstall.stdout.contains("kept \(root)/share/doc/capdeck/Docs/console.md"), "\(uninstall.stdout)")
            var left: [String] = []
            let after = FileManager.default.enumerator(atPath: root)!
            for case let f as String in after { left.append(f) }
            // What stays: the other program's page, the edited doc, and the shared directories.
            #expect(Set(left) == ["share", "share/man", "share/man/man1", "share/man/man1/other.1", "bin",
                                  "share/bash-completion", "share/bash-completion/completions", "share/zsh",
                                  "share/zsh/vendor-completions", "share/fish", "share/fish/vendor_completions.d",
                                  "share/doc", "share/doc/capdeck", "share/doc/capdeck/Docs", "share/doc/capdeck/Docs/console.md"],
                    "\(left.sorted())")
            let again = try await Self.tool("bash", [Self.path("scripts/install.sh"), "uninstall"], environment: env, scratch: scratch)
            #expect(again.exitCode == 0 && again.stdout.contains("nothing to uninstall"), "\(again)")
        }

        // MARK: the .deb

        @Test("the .deb: control fields, Depends from what the binary links, contents, and the binary without a toolchain")
        func debPackage() async throws {
            let scratch = try TempDir()
            defer { scratch.remove() }
            let dir = Self.path(".build-package")
            let debs = ((try? FileManager.default.contentsOfDirectory(atPath: dir)) ?? []).filter { $0.hasPrefix("capdeck_") && $0.hasSuffix(".deb") }
            let deb = dir + "/" + (try #require(debs.first, "no .build-package/capdeck_*.deb: run make deb (make test does)"))
            func field(_ name: String) async throws -> String {
                try await Self.tool("dpkg-deb", ["-f", deb, name], scratch: scratch).stdout.trimmingCharacters(in: .whitespacesAndNewlines)
            }
            let tree = scratch.path("tree")
            let x = try await Self.tool("dpkg-deb", ["-x", deb, tree], scratch: scratch)
            #expect(x.exitCode == 0, "\(x)")
            let binary = tree + "/usr/bin/capdeck"

            // Built from this source tree: the same parser model as the debug build's.
            let shipped = try await Self.tool(binary, ["--experimental-dump-help"], scratch: scratch).stdout
            let current = try await Self.tool(try Capdeck.require(), ["--experimental-dump-help"], scratch: scratch).stdout
            #expect(shipped == current, "the .deb is older than the code (its options differ): run make deb")

            let version = try await Self.tool(binary, ["--version"], scratch: scratch).stdout.trimmingCharacters(in: .whitespacesAndNewlines)
            #expect(try await field("Package") == "capdeck")
            #expect(try await field("Version").hasPrefix(version + "-"))
            let arch = try await Self.tool("dpkg", ["--print-architecture"], scratch: scratch).stdout.trimmingCharacters(in: .whitespacesAndNewlines)
            #expect(try await field("Architecture") == arch)
            #expect(try await field("Maintainer").range(of: #"^[^<>]+ <[^@<>]+@[^@<>]+\.[a-z]+>$"#, options: .regularExpression) != nil)
            #expect(!(try await field("Description")).isEmpty)
            #expect(URL(fileURLWithPath: deb).lastPathComponent == "capdeck_\(try await field("Version"))_\(arch).deb")

            // Installed-Size: the tree's size in KiB, as dpkg counts it (within a few blocks).
            let du = try await Self.tool("du", ["-sk", "--apparent-size", tree + "/usr"], scratch: scratch)
            let measured = Int(du.stdout.split(separator: "\t").first ?? "") ?? -1
            let declared = Int(try await field("Installed-Size")) ?? -2
            #expect(abs(measured - declared) <= 16, "Installed-Size \(declared), the tree \(measured) KiB")

            // Depends names the Debian package of every library the binary needs, found here
            // independently (readelf's NEEDED, ldd's path, dpkg -S), and none from the toolchain.
            let depends = try await field("Depends")
            let dependsNames = Set(depends.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces).split(separator: " ")[0] }.map(String.init))
            let readelf = try await Self.tool("readelf", ["-d", binary], scratch: scratch).stdout
            let needed = Self.matches(#"\(NEEDED\)\s+Shared library: \[([^\]]+)\]"#, in: readelf)
            #expect(needed.contains("libasound.so.2") && needed.contains("libsndfile.so.1") && needed.contains("libncursesw.so.6"))
            #expect(!needed.contains { $0.hasPrefix("libswift") || $0.hasPrefix("libFoundation") || $0.hasPrefix("lib_Foundation") }, "\(needed)")
            // libpulse and libdbus are opened at run time, not linked (Sources/CPulse, Sources/CDBus):
            // Depends names their packages itself; packed relative relocations need glibc 2.36's loader.
            #expect(!needed.contains { $0.hasPrefix("libpulse") || $0.hasPrefix("libdbus") || $0.hasPrefix("libsystemd") }, "\(needed)")
            #expect(depends.range(of: #"(^|, )libpulse0 \(>= [0-9.]+\)"#, options: .regularExpression) != nil, "\(depends)")
            #expect(depends.range(of: #"(^|, )libdbus-1-3 \(>= [0-9.]+\)"#, options: .regularExpression) != nil, "\(depends)")
            if readelf.contains("(RELR)") { #expect(depends.contains("libc6 (>= 2.36)"), "\(depends)") }
            #expect(!readelf.contains("(RUNPATH)") && !readelf.contains("(RPATH)"))
            #expect(readelf.contains("BIND_NOW") || readelf.contains("Flags: NOW"))
            let ldd = try await Self.tool("ldd", [binary], scratch: scratch).stdout
            #expect(!ldd.contains("/opt/swift") && !ldd.contains("not found"), "\(ldd)")
            for lib in needed {
                let line = ldd.split(separator: "\n").first { $0.trimmingCharacters(in: .whitespaces).hasPrefix(lib + " ") || $0.contains("/" + lib + " ") }
                let libPath = try #require(line.flatMap { Self.matches(#"(/\S+)"#, in: String($0)).first }, "\(lib) not in ldd: \(ldd)")
                var owner = ""
                for candidate in [libPath, (try? FileManager.default.destinationOfSymbolicLink(atPath: libPath)).map { URL(fileURLWithPath: libPath).deletingLastPathComponent().appendingPathComponent($0).path } ?? libPath] {
                    for variant in [candidate, candidate.hasPrefix("/usr") ? String(candidate.dropFirst(4)) : "/usr" + candidate] where owner.isEmpty {
                        let s = try await Self.tool("dpkg", ["-S", variant], scratch: scratch)
                        if s.exitCode == 0 { owner = String(s.stdout.split(separator: ":")[0]) }
                    }
                }
                #expect(!owner.isEmpty && dependsNames.contains(owner), "\(lib) (\(libPath)) is from '\(owner)', not in Depends: \(depends)")
            }

            // Contents: only under /usr, where Debian looks; pages gzipped and valid; md5sums true.
            let listing = try await Self.tool("dpkg-deb", ["-c", deb], scratch: scratch).stdout
            let paths = listing.split(separator: "\n").compactMap { $0.split(separator: " ").last.map(String.init) }
            #expect(paths.allSatisfy { $0 == "./" || $0.hasPrefix("./usr/") }, "\(paths)")
            #expect(listing.contains("-rwxr-xr-x root/root") && listing.contains("./usr/bin/capdeck"))
            let root = try await Self.dump(binary, scratch: scratch)
            for (page, _) in Self.commands(root) {
                let gz = tree + "/usr/share/man/man1/\(page).1.gz"
                let z = try await Self.tool("sh", ["-c", "gzip -dc \"$0\" | groff -man -ww -z", gz], scratch: scratch)
                #expect(z.exitCode == 0 && z.stderr.isEmpty, "\(page).1.gz: \(z)")
            }
            for f in ["usr/share/bash-completion/completions/capdeck", "usr/share/zsh/vendor-completions/_capdeck",
                      "usr/share/fish/vendor_completions.d/capdeck.fish", "usr/share/doc/capdeck/copyright",
                      "usr/share/doc/capdeck/changelog.Debian.gz", "usr/share/doc/capdeck/README.md"] {
                #expect(access(tree + "/" + f, R_OK) == 0, "\(f) missing")
            }
            let control = scratch.path("control")
            _ = try await Self.tool("dpkg-deb", ["-e", deb, control], scratch: scratch)
            let sums = try await Self.tool("sh", ["-c", "cd \"$0\" && md5sum --quiet -c \"$1\"", tree, control + "/md5sums"], scratch: scratch)
            #expect(sums.exitCode == 0, "\(sums)")
            let changelog = try await Self.tool("sh", ["-c", "gzip -dc \"$0\" | head -1", tree + "/usr/share/doc/capdeck/changelog.Debian.gz"], scratch: scratch)
            #expect(changelog.stdout.hasPrefix("capdeck (\(try await field("Version"))) "), "\(changelog.stdout)")

            // It runs with a bare environment and the toolchain out of reach (an empty /opt/swift in
            // a private mount namespace), and records the built-in source; Python's wave reads it.
            let wav = scratch.path("x.wav")
            let run = try await Self.tool("unshare", ["-m", "sh", "-c", "mount -t tmpfs none /opt/swift && [ -z \"$(ls /opt/swift)\" ] && exec env -i \"$0\" record -q -D builtin -d 0.5 \"$1\"", binary, wav],
                                          scratch: scratch)
            #expect(run.exitCode == 0, "\(run)")
            let read = try await Self.tool("python3", ["-c", "import wave,sys; w=wave.open(sys.argv[1]); print(w.getnchannels(), w.getsampwidth(), w.getframerate(), w.getnframes())", wav],
                                           scratch: scratch)
            #expect(read.stdout == "2 2 48000 24000\n", "\(read)")
        }
    }
}

extension FileManager {
    fileprivate func isDirectory(_ path: String) -> Bool {
        var d: ObjCBool = false
        return fileExists(atPath: path, isDirectory: &d) && d.boolValue
    }
}
