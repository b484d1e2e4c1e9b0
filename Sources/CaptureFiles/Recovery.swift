// `capdeck recover`: repairs a crashed recording's header, then proves it opens.
import CSndfile
import CaptureCore
import Glibc

/// What recovering one file did.
public enum RecoveryOutcome: Equatable, Sendable {
    case alreadyComplete(container: String, frames: Int)
    /// `headerFrames` is nil when the old header gave no usable length.
    case repaired(container: String, headerFrames: Int?, frames: Int, droppedBytes: Int)
    /// Left untouched, with the reason.
    case untouched(reason: String)
    /// No such file (sysexits: no input).
    case missing(reason: String)
}

public enum Recovery {
    /// Repairs `path` in place if its header is stale. Never modifies a file it can't understand,
    /// nor one a running recording holds (the recorder keeps an exclusive flock on it).
    public static func recover(path: String) -> RecoveryOutcome { recoverWithMarkers(path: path).outcome }

    /// `recover(path:)`, and what it did with a crashed recording's marker sidecar
    /// (`PATH.markers`): a file whose audio was complete may still have been changed, which the
    /// caller should say (`MarkerFold.note`).
    public static func recoverWithMarkers(path: String) -> (outcome: RecoveryOutcome, markers: MarkerFold) {
        let outcome = recover(path: path, lock: flock)
        switch outcome {
        case .repaired, .alreadyComplete:
            var fold = MarkerFold.none
            if let problem = foldMarkers(path: path, into: &fold) { return (.untouched(reason: problem), .none) }
            return (outcome, fold)
        default: return (outcome, .none)
        }
    }

    /// What `recover` did with a WAV's or AIFF's marker sidecar.
    public enum MarkerFold: Equatable, Sendable {
        /// No sidecar, or one a W64, CAF or FLAC keeps as its markers' record.
        case none
        /// This many markers added to the file (cue points; AIFF: a MARK chunk), the sidecar removed.
        case added(Int)
        /// The file held them already (it was finished before the crash): the sidecar removed.
        case sidecarRemoved

        /// `added 3 markers from take.wav.markers to the file`; nil for `.none`.
        public func note(path: String) -> String? {
            switch self {
            case .none: nil
            case .added(let n): "added \(n) marker\(n == 1 ? "" : "s") from \(MarkerSidecar.path(for: path)) to the file"
            case .sidecarRemoved: "removed \(MarkerSidecar.path(for: path)), whose markers the file already holds"
            }
        }
    }

    /// A crashed WAV's or AIFF's marker sidecar (`PATH.markers`): its markers become cue points
    /// (AIFF: a MARK chunk) in the (now consistent) file, which is synced, and then the sidecar is
    /// removed; `fold` says which happened. Nil when done or there was nothing to do; else why the
    /// sidecar was kept.
    private static func foldMarkers(path: String, into fold: inout MarkerFold) -> String? {
        guard let markers = MarkerSidecar.read(for: path) else { return nil }
        let fd: Int32
        do throws(Errno) { fd = try valueOrErrno { open(path, O_RDWR | O_NOFOLLOW | O_CLOEXEC) } } catch {
            return "can't open it to add the markers: \(error)"
        }
        defer { closeReleasingLock(fd) }
        if let e = failure({ flock(fd, LOCK_EX | LOCK_NB) }) { return lockRefusal(e) }
        var head = [UInt8](repeating: 0, count: 4)
        guard pread(fd, &head, 4, 0) == 4 else { return nil }
        let aiff = head == Array("FORM".utf8)
        guard aiff || head == Array("RIFF".utf8) || head == Array("RF64".utf8) else {
            return nil  // not a WAV or AIFF: nothing to hold them; the sidecar stays as their record
        }
        // A file finished before the crash may already hold them.
        let reader = fileReader(fd, size: { var st = stat(); fstat(fd, &st); return Int(st.st_size) }())
        if !markers.isEmpty && !(aiff ? MarkWriter.hasMarkChunk(reader) : hasCueChunk(reader)) {
            switch aiff ? MarkWriter.append(markers, toAIFF: fd) : CueWriter.append(markers, toWAV: fd) {
            case .appended(let dropped) where dropped.isEmpty: fold = .added(markers.count)
            case .appended, .noRoom:
                let limits = aiff ? "a MARK chunk (past 2^32 frames or 32767 markers, or 4 GiB)" : "cue points (past 2^32 frames or 4 GiB)"
                return "some markers can't be \(limits); kept in \(MarkerSidecar.path(for: path))"
            case .failed: return "adding the markers failed: \(Errno.current); kept in \(MarkerSidecar.path(for: path))"
            }
            if let e = failure({ fsync(fd) }) { return "fsync failed after adding the markers: \(e)" }
        } else {
            fold = .sidecarRemoved
        }
        unlink(MarkerSidecar.path(for: path))
        return nil
    }

    static func hasCueChunk(_ read: HeaderRepair.Reader) -> Bool {
        var pos = 12
        var ds64Data: Int?
        for _ in 0..<10_000 {
            let h = read(pos, 8)
            guard h.count == 8 else { return false }
            let id = String(decoding: h[0..<4], as: UTF8.self)
            if id == "cue " { return true }
            if id == "ds64" { let d = read(pos + 8, 24); if d.count == 24 { ds64Data = Int(clamping: HeaderRepair.leValue(d, 8, 8)) } }
            var size = Int(HeaderRepair.leValue(h, 4, 4))
            if id == "data" && size == 0xFFFF_FFFF { size = ds64Data ?? 0 }
            pos += 8 + size + (size & 1)
        }
        return false
    }

    /// `lock` is flock (a test passes one that fails as a filesystem without locks does).
    static func recover(path: String, lock: (Int32, Int32) -> Int32) -> RecoveryOutcome {
        var lst = stat()
        if let e = failure({ lstat(path, &lst) }) {
            return e == .notFound ? .missing(reason: "no such file") : .untouched(reason: e.description)
        }
        if (lst.st_mode & S_IFMT) == S_IFLNK { return .untouched(reason: "is a symbolic link; recover the file it points to") }
        if (lst.st_mode & S_IFMT) == S_IFDIR { return .untouched(reason: "is a directory") }
        guard (lst.st_mode & S_IFMT) == S_IFREG else { return .untouched(reason: "not a regular file") }

        // Analyse read-only (a complete file on read-only media is fine).
        let rfd: Int32
        do throws(Errno) { rfd = try valueOrErrno { open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC) } } catch {
            return .untouched(reason: error.description)
        }
        defer { closeReleasingLock(rfd) }
        if let e = failure({ lock(rfd, LOCK_SH | LOCK_NB) }) { return .untouched(reason: lockRefusal(e)) }
        var st = stat()
        if let e = failure({ fstat(rfd, &st) }) { return .untouched(reason: e.description) }
        let size = Int(st.st_size)
        let reader = fileReader(rfd, size: size)
        if reader(0, 4) == Array("fLaC".utf8) { return recoverFLAC(path: path, lockFD: rfd, size: size, read: reader) }
        switch HeaderRepair.analyze(fileSize: size, read: reader) {
        case .notUnderstood(let reason):
            return .untouched(reason: reason)
        case .consistent(let container, let frames):
            return .alreadyComplete(container: container, frames: frames)
        case .repairable(let plan):
            // Upgrade our shared lock to exclusive for the writes (flock locks belong to the open
            // file description, so the lock is taken on the descriptor we analysed with).
            if let e = failure({ lock(rfd, LOCK_EX | LOCK_NB) }) { return .untouched(reason: lockRefusal(e)) }
            let wfd: Int32
            switch openForWriting(path) {
            case .success(let fd): wfd = fd
            case .failure(let e): return .untouched(reason: e.description)
            }
            defer { close(wfd) }
            for patch in plan.patches {
                // A short write sets no errno: writeAll goes on, or says EIO (before: a stale errno).
                if let e = writeAll(wfd, patch.bytes, at: patch.offset) {
                    return .untouched(reason: "write failed: \(e) (header may be partly updated)")
                }
            }
            if let t = plan.truncateTo, let e = failure({ ftruncate(wfd, off_t(t)) }) {
                return .untouched(reason: "truncate failed: \(e)")
            }
            // A float WAV's PEAK chunk: recomputed from all the audio now in the file.
            if let scan = plan.peak, let patch = HeaderRepair.peakPatch(scan, read: fileReader(wfd, size: plan.truncateTo ?? size)) {
                if let e = writeAll(wfd, patch.bytes, at: patch.offset) {
                    return .untouched(reason: "write failed: \(e) (PEAK chunk may be partly updated)")
                }
            }
            if let e = failure({ fsync(wfd) }) {
                return .untouched(reason: "repaired, but fsync failed (\(e)): the new header may not be on disk; run recover again")
            }
            let plausible = plan.headerFrames <= plan.diskFrames * 2 + 1_000_000 ? plan.headerFrames : nil
            return .repaired(container: plan.container, headerFrames: plausible, frames: plan.diskFrames,
                             droppedBytes: plan.truncateTo.map { size - $0 } ?? 0)
        }
    }

    /// Closes a descriptor this process holds a flock on, releasing the lock first. A lock belongs
    /// to the open file description, which a child forked at that moment shares until its exec
    /// closes it (O_CLOEXEC or not): a plain close would leave the file locked for that while, and
    /// a `recover` right after (the test suite's, which spawns processes all the time) found its
    /// own just-repaired file "in use by a running recording". LOCK_UN frees it for every holder.
    static func closeReleasingLock(_ fd: Int32) {
        _ = flock(fd, LOCK_UN)
        _ = close(fd)
    }

    /// Why a file whose lock failed (`e` from flock) is left alone. EWOULDBLOCK: a recording holds
    /// it. Anything else (ENOLCK, EINVAL, ENOTSUP: a filesystem without locks): recover can't tell
    /// whether a recording holds it, so it must not patch it either.
    static func lockRefusal(_ e: Errno) -> String {
        if e == .wouldBlock { return "in use by a running recording; recover it after that recording ends" }
        return "can't lock it (\(e)): this filesystem may not support locks, so recover can't "
            + "tell whether a recording still holds it; copy it to a local disk once no recording runs, and recover the copy"
    }

    /// Reads byte ranges of an open file for the header parser (short at the end of the file).
    static func fileReader(_ fd: Int32, size: Int) -> HeaderRepair.Reader {
        { offset, count in
            guard offset >= 0, count > 0, offset < size else { return [] }
            var buf = [UInt8](repeating: 0, count: Swift.min(count, size - offset))
            let n = buf.withUnsafeMutableBytes { pread(fd, $0.baseAddress, $0.count, off_t(offset)) }
            return n <= 0 ? [] : Array(buf[0..<n])
        }
    }

    private static func openForWriting(_ path: String) -> Result<Int32, Errno> {
        do throws(Errno) { return .success(try valueOrErrno { open(path, O_RDWR | O_NOFOLLOW | O_CLOEXEC) }) } catch { return .failure(error) }
    }

    /// FLAC: a crashed encoder leaves STREAMINFO's total-samples field at 0 ("unknown"). Decode
    /// to count the whole frames, then write the count there (MD5 stays "unset").
    ///
    /// A finished file's total is checked against its frames too: a finished FLAC cut short
    /// afterwards (a copy that stopped, a truncated download) still says its old total, and
    /// "complete" for it would be a lie every reader finds out at the cut. It is repaired the
    /// same way, its MD5 signature cleared (it was the whole stream's: readers would call the
    /// whole frames corrupt).
    static func recoverFLAC(path: String, lockFD: Int32, size: Int, read: HeaderRepair.Reader) -> RecoveryOutcome {
        let head = read(0, 42)
        // "fLaC", a STREAMINFO block header (type 0, 34 bytes), then STREAMINFO.
        guard head.count == 42, head[4] & 0x7F == 0, Int(HeaderRepair.be(head, 5, 3)) == 34 else {
            return .untouched(reason: "FLAC without a STREAMINFO block first")
        }
        let total = (UInt64(head[8 + 13] & 0x0F) << 32) | HeaderRepair.be(head, 8 + 14, 4)
        // A finished stream's count (0: a crashed encoder's "unknown").
        let declared: Int? = total != 0 ? Int(total) : nil
        var info = SF_INFO()
        guard let f = sf_open(path, Int32(SFM_READ), &info) else {
            return .untouched(reason: "libsndfile can't decode it: \(String(cString: sf_strerror(nil)))")
        }
        sf_close(f)
        // Count the whole frames (header and CRC-16 intact), and cut a torn final one.
        let scan = FLACFrames.scan(fileSize: size, read: read, total: declared)
        // (Bytes after the last whole frame of a complete stream are someone's tag: left alone.)
        if let declared, let scan, scan.samples == declared {
            return .alreadyComplete(container: "FLAC", frames: declared)
        }
        guard let scan, scan.samples > 0, UInt64(scan.samples) < (1 << 36) else {
            return .untouched(reason: declared.map { "its header says \($0) frames, and no whole FLAC frame can be decoded" } ?? "no decodable FLAC frames")
        }
        if let e = failure({ flock(lockFD, LOCK_EX | LOCK_NB) }) { return .untouched(reason: lockRefusal(e)) }
        let wfd: Int32
        switch openForWriting(path) {
        case .success(let fd): wfd = fd
        case .failure(let e): return .untouched(reason: e.description)
        }
        defer { close(wfd) }
        let decoded = scan.samples
        let v = UInt64(decoded)
        // STREAMINFO: the total at byte 13, then the 16-byte MD5 (cleared: "unset", when the
        // frames it covered are no longer all there).
        var patch: [UInt8] = [(head[8 + 13] & 0xF0) | UInt8(v >> 32)] + HeaderRepair.beBytes(v & 0xFFFF_FFFF, 4)
        if declared != nil { patch += [UInt8](repeating: 0, count: 16) }
        if let e = writeAll(wfd, patch, at: 8 + 13) { return .untouched(reason: "write failed: \(e)") }
        if scan.end < size, let e = failure({ ftruncate(wfd, off_t(scan.end)) }) {
            return .untouched(reason: "truncate failed: \(e)")
        }
        if let e = failure({ fsync(wfd) }) {
            return .untouched(reason: "repaired, but fsync failed (\(e)): the new length may not be on disk; run recover again")
        }
        return .repaired(container: "FLAC", headerFrames: declared, frames: decoded, droppedBytes: size - scan.end)
    }

    /// Whether `path` looks like a recording cut short (its header is stale), without changing
    /// it. False for complete files, files it doesn't understand and files still being recorded.
    public static func needsRepair(path: String) -> Bool { needsRepair(path: path, lock: flock) }

    static func needsRepair(path: String, lock: (Int32, Int32) -> Int32) -> Bool {
        let fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC)
        if fd < 0 { return false }
        defer { closeReleasingLock(fd) }
        if lock(fd, LOCK_SH | LOCK_NB) != 0 { return false }  // a recording in progress
        var st = stat()
        guard fstat(fd, &st) == 0, (st.st_mode & S_IFMT) == S_IFREG else { return false }
        let size = Int(st.st_size)
        let reader = fileReader(fd, size: size)
        let head = reader(0, 42)
        if head.count == 42, head.prefix(4) == [0x66, 0x4C, 0x61, 0x43] {  // fLaC: length unset?
            return (head[8 + 13] & 0x0F) == 0 && HeaderRepair.be(head, 8 + 14, 4) == 0 && size > 42
        }
        if case .repairable = HeaderRepair.analyze(fileSize: size, read: reader) { return true }
        return false
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
