// The console's state file (what it remembers: toggles, category, picked device), and
// --reset-settings. capdeck never writes the config file; this is the only file the console saves.
import CaptureConfig
import CaptureCore
import Glibc

public enum ConsoleStateFile {
    public static var defaultPath: String { ConsoleState.defaultPath(environment: Environment.current) }

    /// The remembered state; empty when there is none. A file that can't be used gives the empty
    /// state and a warning to show (it is the console's own file, rewritten at the next change).
    public static func load(_ path: String) -> (state: ConsoleState, warning: String?) {
        let text: String?
        do { text = try ConfigFile.readText(path, mustExist: false) } catch let f as Failure {
            let m = f.message.hasPrefix("--config ") ? String(f.message.dropFirst("--config ".count)) : f.message
            return (ConsoleState(), "the console's remembered state is ignored: \(m)")
        } catch {
            return (ConsoleState(), "the console's remembered state is ignored: \(path): \(error)")
        }
        guard let text else { return (ConsoleState(), nil) }
        do throws(ConfigError) {
            return (try ConsoleState.parse(text, path: path), nil)
        } catch {
            return (ConsoleState(), "the console's remembered state is ignored (the next change rewrites it): \(error)")
        }
    }

    /// Writes the state atomically (a private temporary file, synced, renamed over the old one),
    /// mode 0600, in a directory made 0700. Returns an error text.
    public static func write(_ state: ConsoleState, to path: String) -> String? {
        let dir = String(path[..<(path.lastIndex(of: "/") ?? path.startIndex)])
        if !dir.isEmpty {
            do { try OutputTarget.makeDirectories(dir) } catch let f as Failure { return f.message } catch { return "\(dir): \(error)" }
        }
        let tmp = path + ".tmp-\(getpid())"
        unlink(tmp)  // a leftover of a crashed run of this pid number
        let fd: Int32
        do throws(Errno) { fd = try valueOrErrno { open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0o600) } } catch {
            return "\(tmp): \(error)"
        }
        // Each step's own errno (before: whatever the last call left, a short write's none).
        let problem = writeAll(fd, Array(state.text.utf8), at: 0) ?? failure({ fsync(fd) })
        close(fd)
        if let e = problem ?? failure({ rename(tmp, path) }) {
            unlink(tmp)
            return "\(path): \(e)"
        }
        if let d = dir.isEmpty ? nil : open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC), d >= 0 { fsync(d); close(d) }
        return nil
    }

    /// Moves the state file aside (console.toml.old, .old-1, …) so the console starts from the
    /// config file and the defaults again. The config file is never touched.
    public static func reset(path: String) throws {
        guard access(path, F_OK) == 0 else { return }
        for n in 0..<1000 {
            let dest = n == 0 ? path + ".old" : path + ".old-\(n)"
            if access(dest, F_OK) == 0 { continue }
            if let e = failure({ rename(path, dest) }) {
                throw Failure("--reset-settings: \(path): \(e)", code: .cannotCreate)
            }
            Terminal.write("capdeck: the console's remembered settings are reset; the old file is \(dest)\n")
            return
        }
    }
}
