// A recording file written through libsndfile: exclusive create, periodic header updates, fsync.
import CSndfile
import CaptureCore
import Dispatch
import Glibc
import Synchronization

/// Writes one recording. Created on any thread; then used on the writer queue only.
///
/// Crash safety: `checkpoint()` rewrites the header to cover every frame written so far and
/// starts an fdatasync, so after a crash or power loss the file opens with all but the last
/// ~1 s (and `capdeck recover` restores even that part when it reached the disk). The sync runs
/// on its own queue so the writer keeps draining the ring while the disk catches up; a
/// checkpoint that finds the previous sync still running skips starting another.
public final class SndfileRecorder: RecordingSink, @unchecked Sendable {
    public let path: String
    public let format: StreamFormat
    public let fileType: FileType
    public private(set) var framesWritten = 0

    private var file: OpaquePointer?
    private let fd: Int32
    private var scratch: UnsafeMutablePointer<Int32>?
    private let scratchFrames = 4096
    private let syncQueue = DispatchQueue(label: "capdeck.sync", qos: .utility)
    private let syncInFlight = Atomic<Bool>(false)
    private let syncErrno = Atomic<Int32>(0)
    private var markers: [RecordingMarker] = []

    /// Creates `path` (which must not exist) with owner-only permissions.
    public init(path: String, format: StreamFormat, fileType: FileType) throws(RecordingError) {
        try fileType.validate(format.sampleFormat)
        self.path = path
        self.format = format
        self.fileType = fileType
        let fd = Glibc.open(path, O_RDWR | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0o600)
        if fd < 0 {
            let e = errno
            var st = stat()
            if e == EEXIST && lstat(path, &st) == 0 && (st.st_mode & S_IFMT) == S_IFDIR {
                throw .cannotCreate(path: path, reason: "is a directory")
            }
            if e == EEXIST { throw .exists(path: path) }
            throw .cannotCreate(path: path, reason: String(cString: strerror(e)))
        }
        // Held for the whole recording: `capdeck recover` refuses to touch a locked file.
        _ = flock(fd, LOCK_EX | LOCK_NB)
        self.fd = fd
        var info = SF_INFO()
        info.samplerate = Int32(format.sampleRate)
        info.channels = Int32(format.channels)
        info.format = fileType.sndfileFormat(format.sampleFormat)
        guard sf_format_check(&info) != 0 else {
            Glibc.close(fd); unlink(path)
            throw .unsupportedFormat(type: fileType.rawValue, format: format.description, reason: "libsndfile refuses this combination")
        }
        // close_desc 0: we own fd, so we can fdatasync it and close it ourselves.
        guard let f = sf_open_fd(fd, Int32(SFM_WRITE), &info, 0) else {
            let reason = String(cString: sf_strerror(nil))
            Glibc.close(fd); unlink(path)
            throw .cannotCreate(path: path, reason: reason)
        }
        file = f
        if fileType == .wav {
            // Stay a plain WAV unless the file grows past 4 GiB.
            sf_command(f, Int32(SFC_RF64_AUTO_DOWNGRADE), nil, Int32(SF_TRUE))
        }
        // Float files: no PEAK chunk, whose values would only be right at the very end.
        sf_command(f, Int32(SFC_SET_ADD_PEAK_CHUNK), nil, Int32(SF_FALSE))
        // A true 0-frame header from the start, so even a file killed before its first
        // checkpoint opens as an empty recording.
        sf_command(f, Int32(SFC_UPDATE_HEADER_NOW), nil, 0)
        if format.sampleFormat == .s24LE || format.sampleFormat == .s24_3LE {
            scratch = .allocate(capacity: scratchFrames * format.channels)
        }
    }

    deinit {
        try? finish()
        scratch?.deallocate()
    }

    public func write(_ frames: UnsafeRawPointer, count: Int) throws(RecordingError) {
        guard let file else { return }
        var done = 0
        while done < count {
            let n: Int
            let written: sf_count_t
            let src = frames + done * format.bytesPerFrame
            switch format.sampleFormat {
            case .s16LE:
                n = count - done
                written = sf_writef_short(file, src.assumingMemoryBound(to: Int16.self), sf_count_t(n))
            case .s32LE:
                n = count - done
                written = sf_writef_int(file, src.assumingMemoryBound(to: Int32.self), sf_count_t(n))
            case .floatLE:
                n = count - done
                written = sf_writef_float(file, src.assumingMemoryBound(to: Float.self), sf_count_t(n))
            case .s24LE, .s24_3LE:
                // libsndfile's int API takes left-justified 32-bit samples.
                n = Swift.min(count - done, scratchFrames)
                let samples = n * format.channels
                let step = format.sampleFormat.bytesPerSample
                for i in 0..<samples {
                    scratch![i] = SampleCodec.loadInt32(src + i * step, format.sampleFormat)
                }
                written = sf_writef_int(file, scratch!, sf_count_t(n))
            }
            if written > 0 { framesWritten += Int(written) }
            if written != sf_count_t(n) {
                let e = errno
                if e == ENOSPC || e == EDQUOT { throw .diskFull(path: path, framesSaved: framesWritten) }
                throw .writeFailed(path: path, reason: String(cString: sf_strerror(file)), framesSaved: framesWritten)
            }
            done += n
        }
    }

    public func checkpoint() throws(RecordingError) {
        guard let file else { return }
        sf_command(file, Int32(SFC_UPDATE_HEADER_NOW), nil, 0)
        // Deleted while recording (the file, or its whole directory)? Writing on would lose
        // everything at close: stop now; `finish` copies the recording somewhere safe.
        if isDeleted { throw .vanished(path: path, framesSaved: framesWritten, rescuedTo: nil, reason: "not finished yet") }
        let e = syncErrno.load(ordering: .acquiring)
        if e != 0 {
            if e == ENOSPC || e == EDQUOT { throw .diskFull(path: path, framesSaved: framesWritten) }
            throw .writeFailed(path: path, reason: "fdatasync: \(String(cString: strerror(e)))", framesSaved: framesWritten)
        }
        if !syncInFlight.exchange(true, ordering: .acquiringAndReleasing) {
            let fd = self.fd
            syncQueue.async { [self] in
                if fdatasync(fd) != 0 { syncErrno.store(errno, ordering: .releasing) }
                syncInFlight.store(false, ordering: .releasing)
            }
        }
    }

    /// True once the file has no name left in the filesystem.
    private var isDeleted: Bool {
        var st = stat()
        return fstat(fd, &st) == 0 && st.st_nlink == 0
    }

    /// Remembers a marker; WAV and RF64 files get them as cue points (with labels) at `finish`.
    public func addMarker(_ marker: RecordingMarker) {
        markers.append(marker)
    }

    /// Closes a recording that has no frame and removes its file, if its path still names it (so
    /// it can be created again in another format). Returns false, and does nothing, if frames
    /// were written or it is already finished.
    public func discardEmpty() -> Bool {
        guard let f = file, framesWritten == 0 else { return false }
        file = nil
        syncQueue.sync {}
        sf_close(f)
        var mine = stat(), named = stat()
        if fstat(fd, &mine) == 0 && lstat(path, &named) == 0 && mine.st_dev == named.st_dev && mine.st_ino == named.st_ino {
            unlink(path)
        }
        Glibc.close(fd)
        return true
    }

    public func finish() throws(RecordingError) {
        guard let f = file else { return }
        file = nil
        syncQueue.sync {}  // let an in-flight checkpoint sync finish before the descriptor closes
        var r = sf_close(f)
        if r == 0 && fileType == .wav && !markers.isEmpty && !CueWriter.append(markers, toWAV: fd) {
            r = -1
        }
        let synced = fdatasync(fd)
        let e = errno
        if isDeleted {
            // The finished file exists only through fd: copy it out before closing. A problem
            // finishing it travels with the rescue, so "saved" is never claimed for a bad copy.
            let problem: String? = r == -1 ? "could not append cue points: \(String(cString: strerror(e)))"
                : r != 0 ? String(cString: sf_error_number(r))
                : synced != 0 ? "fdatasync: \(String(cString: strerror(e)))" : nil
            let rescue = FileRescue.copy(from: fd, originalPath: path)
            Glibc.close(fd)
            switch rescue {
            case .success(let to): throw .vanished(path: path, framesSaved: framesWritten, rescuedTo: to, reason: problem)
            case .failure(let f):
                throw .vanished(path: path, framesSaved: framesWritten, rescuedTo: nil, reason: [problem, f.reason].compactMap { $0 }.joined(separator: "; "))
            }
        }
        Glibc.close(fd)
        if r == -1 {
            throw .writeFailed(path: path, reason: "could not append cue points: \(String(cString: strerror(e)))", framesSaved: framesWritten)
        }
        if r != 0 {
            throw .writeFailed(path: path, reason: String(cString: sf_error_number(r)), framesSaved: framesWritten)
        }
        if synced != 0 {
            throw .writeFailed(path: path, reason: "fdatasync: \(String(cString: strerror(e)))", framesSaved: framesWritten)
        }
    }
}

/// Appends a `cue ` chunk and a `LIST`/`adtl` chunk of labels after a finished WAV or RF64
/// file's data, and fixes the RIFF size. (libsndfile can't add cues once audio is written.)
enum CueWriter {
    static func le(_ v: UInt64, _ n: Int) -> [UInt8] { (0..<n).map { UInt8(truncatingIfNeeded: v >> (8 * $0)) } }

    static func chunks(_ markers: [RecordingMarker]) -> [UInt8] {
        var cue: [UInt8] = Array("cue ".utf8)
        cue += le(UInt64(4 + 24 * markers.count), 4)
        cue += le(UInt64(markers.count), 4)
        for (i, m) in markers.enumerated() {
            cue += le(UInt64(i + 1), 4)                       // dwName
            cue += le(UInt64(UInt32(clamping: m.frame)), 4)   // dwPosition
            cue += Array("data".utf8)
            cue += le(0, 4) + le(0, 4)                        // chunk start, block start
            cue += le(UInt64(UInt32(clamping: m.frame)), 4)   // sample offset
        }
        var adtl: [UInt8] = Array("adtl".utf8)
        for (i, m) in markers.enumerated() {
            let text = Array(m.label.utf8) + [0]
            adtl += Array("labl".utf8)
            adtl += le(UInt64(4 + text.count), 4)
            adtl += le(UInt64(i + 1), 4)
            adtl += text
            if text.count % 2 == 1 { adtl.append(0) }
        }
        var list: [UInt8] = Array("LIST".utf8)
        list += le(UInt64(adtl.count), 4)
        list += adtl
        return cue + list
    }

    /// Returns false (errno set) if a write failed.
    static func append(_ markers: [RecordingMarker], toWAV fd: Int32) -> Bool {
        var st = stat()
        guard fstat(fd, &st) == 0 else { return false }
        var size = Int(st.st_size)
        var head = [UInt8](repeating: 0, count: 12)
        guard pread(fd, &head, 12, 0) == 12 else { return false }
        let magic = String(decoding: head[0..<4], as: UTF8.self)
        var bytes = chunks(markers)
        if size % 2 == 1 { bytes.insert(0, at: 0) }  // RIFF chunks start on even offsets
        guard pwrite(fd, bytes, bytes.count, off_t(size)) == bytes.count else { return false }
        size += bytes.count
        if magic == "RIFF" {
            return pwrite(fd, le(UInt64(size - 8), 4), 4, 4) == 4
        }
        if magic == "RF64" {
            // ds64 is the first chunk: its RIFF size field is at byte 20.
            var id = [UInt8](repeating: 0, count: 4)
            guard pread(fd, &id, 4, 12) == 4, id == Array("ds64".utf8) else { return true }
            return pwrite(fd, le(UInt64(size - 8), 8), 8, 20) == 8
        }
        return true
    }
}
