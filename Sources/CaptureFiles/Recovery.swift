// `capdeck recover`: applies a header repair plan to a crashed recording, then proves it opens.
import CSndfile
import CaptureCore
import Glibc

/// What recovering one file did.
public enum RecoveryOutcome: Equatable, Sendable {
    case alreadyComplete(container: String, frames: Int)
    case repaired(container: String, headerFrames: Int, frames: Int, droppedBytes: Int)
    /// Left untouched, with the reason.
    case untouched(reason: String)
}

public enum Recovery {
    /// Repairs `path` in place if its header is stale. Never modifies a file it can't understand.
    public static func recover(path: String) -> RecoveryOutcome {
        let fd = open(path, O_RDWR | O_NOFOLLOW | O_CLOEXEC)
        if fd < 0 { return .untouched(reason: String(cString: strerror(errno))) }
        defer { close(fd) }
        var st = stat()
        guard fstat(fd, &st) == 0 else { return .untouched(reason: String(cString: strerror(errno))) }
        guard (st.st_mode & S_IFMT) == S_IFREG else { return .untouched(reason: "not a regular file") }
        let size = Int(st.st_size)
        let analysis = HeaderRepair.analyze(fileSize: size) { offset, count in
            guard offset >= 0, count > 0, offset < size else { return [] }
            var buf = [UInt8](repeating: 0, count: Swift.min(count, size - offset))
            let n = buf.withUnsafeMutableBytes { pread(fd, $0.baseAddress, $0.count, off_t(offset)) }
            return n <= 0 ? [] : Array(buf[0..<n])
        }
        switch analysis {
        case .notUnderstood(let reason):
            return .untouched(reason: reason)
        case .consistent(let container, let frames):
            return .alreadyComplete(container: container, frames: frames)
        case .repairable(let plan):
            for patch in plan.patches {
                let n = patch.bytes.withUnsafeBytes { pwrite(fd, $0.baseAddress, $0.count, off_t(patch.offset)) }
                if n != patch.bytes.count {
                    return .untouched(reason: "write failed: \(String(cString: strerror(errno))) (header may be partly updated)")
                }
            }
            if let t = plan.truncateTo, ftruncate(fd, off_t(t)) != 0 {
                return .untouched(reason: "truncate failed: \(String(cString: strerror(errno)))")
            }
            fsync(fd)
            return .repaired(container: plan.container, headerFrames: plan.headerFrames, frames: plan.diskFrames,
                             droppedBytes: plan.truncateTo.map { size - $0 } ?? 0)
        }
    }

    /// Frames libsndfile reads from `path`, or nil with its error when it can't open the file.
    public static func readableFrames(path: String) -> (frames: Int?, error: String?) {
        var info = SF_INFO()
        guard let f = sf_open(path, Int32(SFM_READ), &info) else {
            return (nil, String(cString: sf_strerror(nil)))
        }
        sf_close(f)
        return (Int(info.frames), nil)
    }
}
