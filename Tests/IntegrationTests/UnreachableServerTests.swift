// A sound server that is configured but doesn't answer (issue 9): `record` and the console stop
// with one line naming the server, the cause and the fix (exit 69), leave no file, and never
// record the built-in signal in its place — a script must not get a fake recording.
import Foundation
import Glibc
import Testing

extension Integration {
    @Suite("A configured sound server that doesn't answer")
    struct UnreachableServer {
        /// A socket file nothing listens on (a server that died and left its socket).
        static func staleSocket(_ path: String) throws {
            let fd = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue), 0)
            defer { close(fd) }
            var addr = sockaddr_un()
            addr.sun_family = sa_family_t(AF_UNIX)
            withUnsafeMutableBytes(of: &addr.sun_path) { raw in for (i, b) in path.utf8.enumerated() { raw[i] = b } }
            let r = withUnsafePointer(to: &addr) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_un>.size)) }
            }
            if r != 0 { throw SpawnError(description: "bind \(path): \(String(cString: strerror(errno)))") }
        }

        static func check(_ r: RunResult, mentions: [String], file: String?) {
            #expect(r.exitCode == 69, "exit 69 (EX_UNAVAILABLE): \(r)")
            // One line for the error (an informational line about the app audio session may come first).
            let lines = r.stderr.split(separator: "\n").filter { !$0.contains("app audio session configured") }
            #expect(lines.count == 1, "one line: \(r.stderr)")
            for m in mentions { #expect(r.stderr.contains(m), "'\(m)' in \(r.stderr)") }
            #expect(!r.stderr.contains("BUILT-IN") && !r.stderr.contains("built-in test signal instead"), "\(r.stderr)")
            if let file { #expect(!FileManager.default.fileExists(atPath: file), "\(file) was left behind") }
        }

        @Test("PULSE_SERVER names a socket that doesn't exist: record exits 69 naming it, no file, no built-in tone")
        func missingSocket() async throws {
            let home = try TempDir()
            defer { home.remove() }
            let server = "unix:" + home.path("gone/native")
            let out = home.path("take.wav")
            let r = try await Capdeck.run(["record", "-d", "1", out], home: home, extraEnvironment: ["PULSE_SERVER": server], timeout: 20)
            Self.check(r, mentions: [server, "PULSE_SERVER", "no server socket"], file: out)
        }

        @Test("a stale server socket in XDG_RUNTIME_DIR (the server died): record and the console exit 69 with the cause and the fix")
        func refused() async throws {
            let home = try TempDir()
            defer { home.remove() }
            let run = home.makeDirectory("run")
            mkdir(run + "/pulse", 0o700)
            try Self.staleSocket(run + "/pulse/native")
            let out = home.path("take.wav")
            let r = try await Capdeck.run(["record", "-d", "1", out], home: home, timeout: 20)
            Self.check(r, mentions: [run + "/pulse/native", "XDG_RUNTIME_DIR", "the server has stopped", "start the sound server"], file: out)

            let c = try await Capdeck.run([], home: home, extraEnvironment: ["TERM": "xterm-256color"], timeout: 20)
            Self.check(c, mentions: [run + "/pulse/native", "the server has stopped"], file: nil)
        }

        @Test("-D pulse with the server gone: the pulse plugin's bare 'Connection refused' becomes the server's diagnosis")
        func namedServerPCM() async throws {
            let home = try TempDir()
            defer { home.remove() }
            let server = "unix:" + home.path("gone/native")
            let out = home.path("take.wav")
            let r = try await Capdeck.run(["record", "-D", "pulse", "-d", "1", out], home: home,
                                          extraEnvironment: ["PULSE_SERVER": server], timeout: 20)
            Self.check(r, mentions: [server, "unreachable"], file: out)
        }

        @Test("no sound card and no sound server: record without -D exits 69 saying so (the built-in signal only when named)")
        func nothingAtAll() async throws {
            let home = try TempDir()
            defer { home.remove() }
            let out = home.path("take.wav")
            let r = try await Capdeck.run(["record", "-d", "1", out], home: home, timeout: 20)
            Self.check(r, mentions: ["no capture device", "-D builtin"], file: out)
            let named = try await Capdeck.run(["record", "-D", "builtin", "-d", "0.2", "-q", out], home: home, timeout: 20)
            #expect(named.exitCode == 0, "\(named)")
            #expect(FileManager.default.fileExists(atPath: out))
        }

        /// A new user's trial: the console picked a desktop server's source; started again over
        /// ssh (no server reachable, no card), it fell back to the built-in test signal, and `r`
        /// saved a file of 440 Hz sine named like any take. A device the user chose (remembered,
        /// or named) that can't be opened is an error; the stand-in is for a machine with nothing
        /// and nothing chosen.
        @Test("the console's remembered server source, with no server reachable: exit 69 naming it and why, never the built-in signal")
        func aRememberedSourceIsNotReplacedByTheTestSignal() async throws {
            let home = try TempDir()
            defer { home.remove() }
            try FileManager.default.createDirectory(atPath: home.path(".local/state/capdeck"), withIntermediateDirectories: true)
            try home.write(".local/state/capdeck/console.toml", "[input]\ndevice = \"pulse:sine700\"\n")
            let c = try await Capdeck.run([], home: home, extraEnvironment: ["TERM": "xterm-256color"], timeout: 20)
            Self.check(c, mentions: ["pulse:sine700, the input the console remembers, can't be opened", "no sound server can be reached from here",
                                     "-D builtin"], file: nil)
            // record names it the same way (the plugin alone said "Connection refused").
            let r = try await Capdeck.run(["record", "-D", "pulse:sine700", "-d", "1", home.path("t.wav")], home: home, timeout: 20)
            Self.check(r, mentions: ["pulse:sine700", "no sound server can be reached from here", "capdeck devices"], file: home.path("t.wav"))
            // With nothing remembered and nothing named, the stand-in is still there (make run on a bare machine).
            try FileManager.default.removeItem(atPath: home.path(".local/state/capdeck/console.toml"))
            let bare = try await TmuxConsole([], home: home, width: 100, height: 30)
            defer { bare.shutdown() }
            _ = try await bare.waitFor("the built-in stand-in", timeout: 10) { $0.titleBar.contains("BUILT-IN") || $0.contains("BUILT-IN TEST SIGNAL") }
        }
    }
}
