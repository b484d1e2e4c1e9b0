// Saving a recording whose file was deleted while it was being written.
//
// On Linux a deleted file lives on while it is open, but it can't be linked back into the tree
// (linkat refuses a file with no links), and it is gone once closed. So the recorder notices the
// deletion at its next checkpoint (st_nlink == 0), finishes the file as usual through its open
// descriptor, and copies the finished bytes to a new file here before closing.
import CaptureCore
import Glibc

public enum FileRescue {
    /// Where rescued recordings go, first that can be created: `$XDG_DATA_HOME/capdeck/rescued`,
    /// `~/.local/share/capdeck/rescued`, `/var/tmp/capdeck-rescued-UID`, `/tmp/capdeck-rescued-UID`.
    public static func candidateDirectories() -> [String] {
        var dirs: [String] = []
        if let x = getenv("XDG_DATA_HOME").map({ String(cString: $0) }), x.hasPrefix("/") { dirs.append(x + "/capdeck/rescued") }
        if let h = getenv("HOME").map({ String(cString: $0) }), h.hasPrefix("/") { dirs.append(h + "/.local/share/capdeck/rescued") }
        dirs += ["/var/tmp/capdeck-rescued-\(getuid())", "/tmp/capdeck-rescued-\(getuid())"]
        return dirs
    }

    /// Copies everything readable from `fd` (from offset 0) into a new owner-only file named
    /// after `originalPath` in the first usable rescue directory (never overwriting: "-1", "-2"…
    /// are added before the extension when needed), and syncs it. Returns the new path, or why not.
    public static func copy(from fd: Int32, originalPath: String) -> Result<String, RescueFailure> {
        var failures: [String] = []
        for dir in candidateDirectories() {
            if let problem = prepare(dir) {
                failures.append("\(dir): \(problem)")
                continue
            }
            switch copy(from: fd, into: dir, name: baseName(originalPath)) {
            case .success(let p): return .success(p)
            case .failure(let f): failures.append(f.reason)
            }
        }
        return .failure(RescueFailure(reason: failures.joined(separator: "; ")))
    }

    public struct RescueFailure: Error {
        public var reason: String
    }

    static func copy(from fd: Int32, into dir: String, name: String) -> Result<String, RescueFailure> {
        let (stem, ext) = splitExtension(name)
        var out: Int32 = -1
        var path = ""
        var openError = Errno.none
        for n in 0..<1000 {
            path = dir + "/" + (n == 0 ? name : "\(stem)-\(n)\(ext)")
            let r = retryingInterrupts { Int(open(path, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0o600)) }
            out = Int32(r.value)
            openError = r.error
            if !r.failed || r.error != .exists { break }
        }
        guard out >= 0 else { return .failure(RescueFailure(reason: "\(path): \(openError)")) }
        var buffer = [UInt8](repeating: 0, count: 1 << 20)
        var offset: off_t = 0
        while true {
            let r = retryingInterrupts { buffer.withUnsafeMutableBytes { pread(fd, $0.baseAddress, $0.count, offset) } }
            if r.failed { return fail(out, path, "reading the deleted file: \(r.error)") }
            if r.value == 0 { break }
            if let e = writeAll(out, Array(buffer[0..<r.value]), at: Int(offset)) { return fail(out, path, e.description) }
            offset += off_t(r.value)
        }
        if let e = failure({ fsync(out) }) { return fail(out, path, "fsync: \(e)") }
        close(out)
        return .success(path)
    }

    private static func fail(_ fd: Int32, _ path: String, _ reason: String) -> Result<String, RescueFailure> {
        close(fd)
        unlink(path)  // a partial copy is no rescue
        return .failure(RescueFailure(reason: "\(path): \(reason)"))
    }

    /// Creates `dir` if needed, and checks it is safe to hold the only copy of a recording: a
    /// real directory (not a symlink), ours, and writable by nobody else. (The /var/tmp and /tmp
    /// fallbacks have predictable names another user could create first.) nil when usable.
    static func prepare(_ dir: String) -> String? {
        if let failed = Directories.create(dir) { return "\(failed.path): \(failed.errno)" }
        var st = stat()
        if let e = failure({ lstat(dir, &st) }) { return e.description }
        if (st.st_mode & S_IFMT) != S_IFDIR { return "not a directory (a symlink?)" }
        if st.st_uid != geteuid() { return "owned by another user" }
        if st.st_mode & 0o022 != 0 { return "writable by other users" }
        return nil
    }

    static func baseName(_ path: String) -> String {
        path.lastIndex(of: "/").map { String(path[path.index(after: $0)...]) } ?? path
    }

    static func splitExtension(_ name: String) -> (String, String) {
        guard let dot = name.lastIndex(of: "."), dot != name.startIndex else { return (name, "") }
        return (String(name[..<dot]), String(name[dot...]))
    }
}

/// mkdir -p with owner-only permissions for what it creates: the recordings directory, the
/// config directory, the rescue directory.
public enum Directories {
    /// nil on success; else the component that could not be created and why.
    public static func create(_ path: String) -> (path: String, errno: Errno)? {
        var current = path.hasPrefix("/") ? "" : "."
        for part in path.split(separator: "/") {
            current += "/" + part
            if let e = failure({ mkdir(current, 0o700) }), e != .exists { return (current, e) }
        }
        return nil
    }
}
