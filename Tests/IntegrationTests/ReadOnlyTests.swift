// A read-only filesystem or an unwritable directory: a clear error before recording starts,
// and nothing else touched.
import Foundation
import Glibc
import Testing

extension Integration {
    @Suite("Read-only and unwritable destinations")
    struct ReadOnly {
        @Test("a read-only tmpfs: exit 73 and one line naming the file and the reason")
        func readOnlyFilesystem() async throws {
            let home = try TempDir()
            defer { home.remove() }
            let mnt = home.makeDirectory("ro")
            let mount = try await runProgram(try #require(which("mount")), ["-t", "tmpfs", "-o", "ro,size=1m", "tmpfs", mnt],
                                             environment: ProcessInfo.processInfo.environment, scratch: home)
            try #require(mount.exitCode == 0, "mounting a tmpfs needs root: \(mount)")
            defer { _ = umount(mnt) }
            for args in [["record", "-q", "-D", "builtin", "-d", "1", mnt + "/take.wav"],
                         ["record", "-q", "-D", "builtin", "-d", "1", "-o", mnt]] {
                let r = try await Capdeck.run(args, home: home, timeout: 15)
                #expect(r.exitCode == 73, "\(args): \(r)")
                let lines = r.stderr.split(separator: "\n")
                #expect(lines.count == 1 && r.stderr.contains("Read-only file system"), "\(r.stderr)")
            }
        }

        @Test("a directory without write permission, for an unprivileged user: exit 73")
        func unwritableDirectory() async throws {
            let home = try TempDir()
            defer { home.remove() }
            let dir = home.makeDirectory("locked", mode: 0o555)
            // root ignores permissions; run capdeck as nobody where possible.
            guard getuid() == 0, let setpriv = which("setpriv") else {
                let r = try await Capdeck.run(["record", "-q", "-D", "builtin", "-d", "1", "-o", dir], home: home, timeout: 15)
                #expect(r.exitCode == 73 || getuid() == 0, "\(r)")
                return
            }
            chmod(home.root, 0o755)
            let exe = try Capdeck.require()
            var env = Capdeck.environment(home: home.root)
            env["XDG_RUNTIME_DIR"] = nil
            let r = try await runProgram(setpriv, ["--reuid=65534", "--regid=65534", "--clear-groups", exe,
                                                   "record", "-q", "-D", "builtin", "-d", "1", "-o", dir],
                                         environment: env, scratch: home, timeout: 15)
            #expect(r.exitCode == 73, "\(r)")
            #expect(r.stderr.contains("Permission denied") && r.stderr.split(separator: "\n").count == 1, "\(r.stderr)")
        }
    }
}
