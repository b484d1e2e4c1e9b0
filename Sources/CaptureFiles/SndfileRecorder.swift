// A recording file written through libsndfile: exclusive create, periodic header updates, fsync.
import CSndfile
import CaptureCore
import CaptureLoudness
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
///
/// `@unchecked Sendable`: one writer (the engine's writer queue, or the caller holding its
/// output's lock) at a time; the sync queue touches only the descriptor and an atomic.
public final class SndfileRecorder: RecordingSink, @unchecked Sendable {
    public let path: String
    /// The format frames arrive in.
    public let format: StreamFormat
    public let fileType: FileType
    /// How the file stores them: the stream's encoding unless asked otherwise (`requestedFileFormat`).
    public let fileFormat: FileSampleFormat
    /// The file format asked for at creation (nil: the stream's), to create the file again alike.
    public let requestedFileFormat: FileSampleFormat?
    /// The tags in the file: those given that the container holds and that aren't empty.
    public let tags: [FileTag: String]
    /// The file's `bext` chunk (WAV and RF64), or what CAF's `info` chunk says in its place
    /// (`BroadcastInfo.cafTags`); nil for the other types or when none was asked for. Route
    /// changes' lines join its history as their markers arrive (`addMarker`).
    public private(set) var broadcast: BroadcastInfo?
    /// Route changes whose line didn't fit the coding history's reserve (their markers have them).
    public private(set) var routeLinesLeftOut = 0
    /// Bytes a frame takes in the file (in each file, when there is one per channel).
    public var fileBytesPerFrame: Int { fileFormat.bytesPerFrame(channels: splitsChannels ? 1 : format.channels) }
    public private(set) var framesWritten = 0
    /// A file with a `bext` chunk measures its own audio's loudness as it is written (on the
    /// writer queue), for the chunk's loudness fields at `finish`: each file its own, so each part
    /// of a split take and each triggered take carries the figures of exactly the audio it holds.
    public private(set) var loudnessMeter: LoudnessMeter?
    /// The file's loudness so far (nil: no `bext` chunk, so not measured; one file per channel:
    /// each channel's file has its own).
    public var loudness: LoudnessReading? { loudnessMeter?.reading }
    /// One mono file per channel (`FileNaming.channelFile`): `path` names the take, not a file,
    /// and `channelFiles` are the files, each an ordinary recorder of its own (crash-safe,
    /// recoverable, with the markers and the bext chunk). Frames are handed to them a chunk at a
    /// time, channel after channel, so after a crash their ends differ by at most `scratchFrames`.
    public let splitsChannels: Bool
    private let channelFiles: [SndfileRecorder]
    private let channelPicks: [ChannelSelection]
    private var channelScratch: UnsafeMutableRawPointer?
    /// The files on disk: the one file, or each channel's.
    public var filePaths: [String] { splitsChannels ? channelFiles.map(\.path) : [path] }

    private var file: OpaquePointer?
    private let fd: Int32
    private var scratch: UnsafeMutablePointer<Int32>?
    private let scratchFrames = 4096
    /// Frames converted to the file's encoding (when it differs from the stream's), a chunk at a time.
    private var converter: FrameConverter?
    private var converted: UnsafeMutableRawPointer?
    /// The stream's rate and channels with the file's encoding: what the file's header describes.
    private let stored: StreamFormat
    private let syncQueue = DispatchQueue(label: "capdeck.sync", qos: .utility)
    private let syncInFlight = Atomic<Bool>(false)
    private let syncErrno = Atomic<Int32>(0)
    private var markers: [RecordingMarker] = []
    /// Markers `finish` could not write into the file (past 2^32 frames, no room under 4 GiB, or
    /// past an AIFF MARK chunk's 32767).
    public private(set) var droppedMarkers: [RecordingMarker] = []
    /// The crash-safe sidecar (`PATH.markers`; for W64, CAF and FLAC, the markers' only home): its
    /// descriptor once created, and how many markers it holds.
    private var sidecarFD: Int32 = -1
    private var sidecarCount = 0
    private var sidecarFailed = false
    /// AIFF: where the sound data starts, and the largest FORM size (its sizes are 32-bit;
    /// tests lower it).
    private var aiffDataOffset = 0
    var aiffSizeLimit = 0xFFFF_FFFF
    /// WAV with a bext chunk: the history's bytes as first given to libsndfile (it must never
    /// change size once audio follows), whether `broadcast` has lines the file doesn't have yet
    /// (written at the next checkpoint), and whether the iXML chunk is still to be added.
    private var historyBytes = 0
    /// The container is little-endian PCM (WAV, RF64, W64): frames already in the file's
    /// encoding go to it as bytes (`writeAsIs`).
    private let writesRaw: Bool
    private var historyStale = false
    private var ixmlPending = false

    /// Creates `path` (which must not exist) with owner-only permissions. `fileFormat` (nil: the
    /// stream's encoding, in the container's byte order) is how the file stores the samples: frames
    /// are converted to it exactly as `FrameConverter` does (widening is exact, narrowing integers
    /// truncates, float to integer rounds to nearest and clamps) before libsndfile writes them.
    ///
    /// `tags` go into the file's own metadata (`FileTag` says where), written with the header
    /// before the first frame, so they are in every checkpoint's header and survive a crash and
    /// `capdeck recover`. Tags the container doesn't hold, and empty ones, are skipped; a value
    /// ends at its first NUL. libsndfile appends its own name and version to `.software`
    /// ("App 1.0 (libsndfile-1.2.0)"), and cuts that one to 127 bytes.
    ///
    /// `broadcast` is written as a WAV's (RF64's) `bext` chunk with the header, before the first
    /// frame; its `startedAt` is the wall-clock time of the file's first sample (`BroadcastInfo`).
    /// Its coding history has a fixed reserve, so route changes can join it later without the
    /// audio moving (`addMarker`), and an iXML chunk repeating its time goes in just before the
    /// first frame (`IXML`). A CAF gets its information as `info` strings (`cafTags`); the other
    /// types ignore it.
    ///
    /// `splitChannels`: one mono file per channel instead (see `splitsChannels`), all created
    /// here or none (a name that exists removes those made and throws `.exists` for it).
    public init(path: String, format: StreamFormat, fileType: FileType,
                fileFormat: FileSampleFormat? = nil, tags: [FileTag: String] = [:],
                broadcast: BroadcastInfo? = nil, splitChannels: Bool = false) throws(RecordingError) {
        let stores = fileFormat ?? FileSampleFormat(sampleFormat: format.sampleFormat)
        try fileType.validate(stores)
        try fileType.validate(channels: format.channels, splitChannels: splitChannels)
        splitsChannels = splitChannels
        if splitChannels {
            var mono = format
            mono.channels = 1
            var made: [SndfileRecorder] = []
            for ch in 1...format.channels {
                do throws(RecordingError) {
                    made.append(try SndfileRecorder(path: FileNaming.channelFile(of: path, channel: ch, channels: format.channels), format: mono,
                                                    fileType: fileType, fileFormat: fileFormat, tags: tags, broadcast: broadcast))
                } catch {
                    for m in made { _ = m.discardEmpty() }
                    throw error
                }
            }
            channelFiles = made
            channelPicks = (0..<format.channels).map { try! ChannelSelection(indices: [$0]) }
            channelScratch = .allocate(byteCount: scratchFrames * format.sampleFormat.bytesPerSample, alignment: 16)
            self.path = path
            self.format = format
            self.fileType = fileType
            self.fileFormat = stores
            requestedFileFormat = fileFormat
            self.tags = made[0].tags
            self.broadcast = made[0].broadcast
            var stored = format
            stored.sampleFormat = stores.sampleFormat
            self.stored = stored
            writesRaw = false  // each channel's file decides
            fd = -1
            return
        }
        channelFiles = []
        channelPicks = []
        self.path = path
        self.format = format
        self.fileType = fileType
        self.fileFormat = stores
        self.requestedFileFormat = fileFormat
        let held = fileType.heldTags
        self.tags = tags.filter { held.contains($0.key) && !$0.value.isEmpty }
        self.broadcast = fileType.holdsBroadcastInfo || fileType == .caf ? broadcast : nil
        var stored = format
        stored.sampleFormat = stores.sampleFormat
        self.stored = stored
        #if _endian(little)
        writesRaw = fileType == .wav || fileType == .w64
        #else
        writesRaw = false
        #endif
        let fd: Int32
        do throws(Errno) {
            fd = try valueOrErrno { Glibc.open(path, O_RDWR | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0o600) }
        } catch {
            var st = stat()
            if error == .exists && lstat(path, &st) == 0 && (st.st_mode & S_IFMT) == S_IFDIR {
                throw .cannotCreate(path: path, reason: "is a directory")
            }
            if error == .exists { throw .exists(path: path) }
            throw .cannotCreate(path: path, reason: error.description)
        }
        // Held for the whole recording: `capdeck recover` refuses to touch a locked file. A new
        // file can't be locked by anyone else, so a failure means a filesystem without locks
        // (ENOLCK, ENOTSUP…): the recording goes ahead (losing it would be worse), and there
        // `recover`'s own flock fails the same way, so it refuses every file rather than patch
        // one that may be live.
        _ = flock(fd, LOCK_EX | LOCK_NB)
        self.fd = fd
        var info = SF_INFO()
        info.samplerate = Int32(format.sampleRate)
        info.channels = Int32(format.channels)
        info.format = fileType.sndfileFormat(stores)
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
        // Float files: no PEAK chunk, whose values would only be right at the very end. Only CAF
        // adds one by itself; libsndfile 1.2's SFC_SET_ADD_PEAK_CHUNK with SF_FALSE on a file that
        // has none *adds* one (it frees a PEAK if present, else allocates), so RF64 is left alone.
        // AIFF-C keeps its PEAK: libsndfile writes the header (PEAK included) at open, and dropping
        // the chunk after that rewrites a shorter header in front of a stale SSND that readers
        // take for audio. Each checkpoint brings its values up to date; `recover` recomputes them.
        if fileType == .caf && stores.sampleFormat == .floatLE {
            sf_command(f, Int32(SFC_SET_ADD_PEAK_CHUNK), nil, Int32(SF_FALSE))
        }
        // The chunk is written again (route lines at checkpoints, the loudness at finish): the
        // same OriginatorReference every time.
        if fileType.holdsBroadcastInfo, var b = self.broadcast, b.originatorReference == nil {
            b.originatorReference = b.reference(rate: format.sampleRate)
            self.broadcast = b
        }
        if fileType.holdsBroadcastInfo, let broadcast = self.broadcast {
            if let reason = broadcast.apply(to: f, format: stored, fileFormat: stores) {
                sf_close(f); Glibc.close(fd); unlink(path)
                throw .cannotCreate(path: path, reason: "writing the bext chunk: \(reason)")
            }
            historyBytes = broadcast.codingHistory(format: stored, fileFormat: stores).utf8.count
            ixmlPending = true
        }
        // CAF: the bext's information in its `info` chunk, where no tag given says otherwise.
        var strings = self.tags
        if fileType == .caf, let broadcast = self.broadcast {
            strings.merge(broadcast.cafTags(rate: format.sampleRate)) { given, _ in given }
        }
        // Tags before the header update below: it writes them ahead of the audio (libsndfile can
        // place them there only while no frame is written; FLAC writes its one header then).
        for tag in FileTag.allCases {
            guard let value = strings[tag] else { continue }
            let r = sf_set_string(f, tag.sndfileType, value)
            if r != 0 {
                sf_close(f); Glibc.close(fd); unlink(path)
                throw .cannotCreate(path: path, reason: "writing the \(tag.rawValue) tag: \(String(cString: sf_error_number(r)))")
            }
        }
        // A true 0-frame header from the start, so even a file killed before its first
        // checkpoint opens as an empty recording.
        sf_command(f, Int32(SFC_UPDATE_HEADER_NOW), nil, 0)
        var formatChunk = fileType == .wav && sf_error(f) == 0 ? WAVFormatChunk.applying(fd: fd, format: stored) : .none
        if formatChunk == .none && historyBytes > 0 { formatChunk = BextHistory.tidy(fd: fd) }
        if sf_error(f) != 0 || formatChunk != .none {
            let reason = sf_error(f) != 0 ? String(cString: sf_strerror(f)) : formatChunk.description
            sf_close(f); Glibc.close(fd); unlink(path)
            throw .cannotCreate(path: path, reason: "writing the header: \(reason)")
        }
        if fileType == .aiff {
            var st = stat()
            fstat(fd, &st)
            aiffDataOffset = Int(st.st_size)  // the 0-frame header ends where the audio begins
        }
        // Same encoding (24-bit in 3 or 4 bytes alike): libsndfile takes the frames as they come.
        if FileSampleFormat(sampleFormat: format.sampleFormat).sampleFormat != stores.sampleFormat {
            converter = FrameConverter(source: format, target: stored)
            converted = .allocate(byteCount: scratchFrames * stored.bytesPerFrame, alignment: 16)
        }
        if stores.sampleFormat == .s24_3LE {
            scratch = .allocate(capacity: scratchFrames * format.channels)
        }
        if fileType.holdsBroadcastInfo && self.broadcast?.measuresLoudness == true {
            loudnessMeter = try? LoudnessMeter(channels: format.channels, sampleRate: format.sampleRate)
        }
    }

    /// Frames an AIFF can still take: its FORM size (and libsndfile's pad byte) must fit 32 bits.
    private var aiffRoom: Int {
        Swift.max(0, (aiffSizeLimit + 8 - 1 - aiffDataOffset) / fileBytesPerFrame - framesWritten)
    }

    deinit {
        try? finish()
        scratch?.deallocate()
        converted?.deallocate()
        channelScratch?.deallocate()
    }

    public func write(_ frames: UnsafeRawPointer, count: Int) throws(RecordingError) {
        if splitsChannels { return try writeChannels(frames, count: count) }
        guard let file else { return }
        // The frames that reached the file (all of them, unless a write failed) are measured.
        let before = framesWritten
        defer { loudnessMeter?.process(frames, count: framesWritten - before, encoding: format.sampleFormat) }
        if ixmlPending && count > 0 { try addIXML(file) }
        defer {
            if historyTidyPending && framesWritten > 0 {
                historyTidyPending = false
                _ = BextHistory.tidy(fd: fd)  // a failure shows at the next checkpoint's
            }
        }
        // AIFF stops at 4 GiB with what fits (libsndfile would wrap its sizes).
        let accepted = fileType == .aiff ? Swift.min(count, aiffRoom) : count
        guard let converter, let converted else {
            try writeAsIs(file, frames, count: accepted, format.sampleFormat)
            if accepted < count { throw aiffFull }
            return
        }
        var done = 0
        while done < accepted {
            let n = Swift.min(accepted - done, scratchFrames)
            converter.convert(from: frames + done * format.bytesPerFrame, to: converted, frames: n)
            try writeAsIs(file, converted, count: n, converter.target.sampleFormat)
            done += n
        }
        if accepted < count { throw aiffFull }
    }

    /// Each channel of `count` frames to its own file, `scratchFrames` at a time.
    private func writeChannels(_ frames: UnsafeRawPointer, count: Int) throws(RecordingError) {
        guard let buffer = channelScratch else { return }
        defer { framesWritten = channelFiles.lazy.map(\.framesWritten).min() ?? 0 }
        var done = 0
        while done < count {
            let n = Swift.min(count - done, scratchFrames)
            for (ch, file) in channelFiles.enumerated() {
                channelPicks[ch].gather(from: frames + done * format.bytesPerFrame, format, to: buffer, frames: n)
                try file.write(buffer, count: n)
            }
            done += n
        }
    }

    /// Runs `body` on every channel's file, all of them even when one fails; throws the first error.
    private func eachChannelFile(_ body: (SndfileRecorder) throws(RecordingError) -> Void) throws(RecordingError) {
        var first: RecordingError?
        for f in channelFiles {
            do throws(RecordingError) { try body(f) } catch { if first == nil { first = error } }
        }
        if let first { throw first }
    }

    private var aiffFull: RecordingError {
        .containerFull(path: path, type: "AIFF", limit: "4 GiB", framesSaved: framesWritten)
    }

    /// Hands `count` frames in `encoding` (the file's, or one libsndfile stores as it) to libsndfile.
    private func writeAsIs(_ file: OpaquePointer, _ frames: UnsafeRawPointer, count: Int, _ encoding: SampleFormat) throws(RecordingError) {
        let bytesPerFrame = encoding.bytesPerSample * format.channels
        var done = 0
        while done < count {
            let n: Int
            let written: sf_count_t
            let src = frames + done * bytesPerFrame
            switch encoding {
            case _ where writesRaw && encoding == stored.sampleFormat:
                // The bytes are the file's already: one write(2) for the batch, where sf_writef
                // copies into an 8 KiB buffer and writes each.
                n = count - done
                let bytes = sf_write_raw(file, src, sf_count_t(n * bytesPerFrame))
                written = bytes / sf_count_t(bytesPerFrame)
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
                let step = encoding.bytesPerSample
                for i in 0..<samples {
                    scratch![i] = SampleCodec.loadInt32(src + i * step, encoding)
                }
                written = sf_writef_int(file, scratch!, sf_count_t(n))
            }
            if written > 0 { framesWritten += Int(written) }
            if written != sf_count_t(n) {
                let e = Errno.current  // libsndfile's write(2) failed just now
                if e == .noSpace || e == Errno(EDQUOT) { throw .diskFull(path: path, framesSaved: framesWritten) }
                throw .writeFailed(path: path, reason: String(cString: sf_strerror(file)), framesSaved: framesWritten)
            }
            done += n
        }
    }

    /// Just before the first frame: the iXML chunk (WAV and RF64 with a bext chunk), now that
    /// the TimeReference it repeats is final. libsndfile writes it with the header at that
    /// first write; the history is tidied after it (`BextHistory`).
    private func addIXML(_ file: OpaquePointer) throws(RecordingError) {
        ixmlPending = false
        guard let broadcast, framesWritten == 0 else { return }
        let text = IXML.text(broadcast, project: tags[.title], format: stored, fileFormat: fileFormat)
        if let reason = IXML.add(to: file, text) {
            throw .writeFailed(path: path, reason: "adding the iXML chunk: \(reason)", framesSaved: 0)
        }
        historyTidyPending = true
    }
    /// The first write has just written a header with the padded history.
    private var historyTidyPending = false

    /// A file made ahead of its first frame (the next part of a split take) learns when that
    /// frame is: its bext chunk is written again with `info` (same size: the history's reserve
    /// is fixed) and the header updated; a CAF's date alike. Nothing happens once a frame is
    /// written, or for a file without either.
    public func restampBroadcast(_ info: BroadcastInfo) {
        if splitsChannels {
            for f in channelFiles { f.restampBroadcast(info) }
            broadcast = channelFiles.first?.broadcast
            return
        }
        guard framesWritten == 0, broadcast != nil, let file else { return }
        var info = info
        if info.originatorReference == nil { info.originatorReference = broadcast?.originatorReference }  // kept when written again
        if fileType == .caf {
            for (tag, value) in info.cafTags(rate: format.sampleRate) where tags[tag] == nil {
                guard sf_set_string(file, tag.sndfileType, value) == 0 else { return }
            }
        } else {
            guard info.codingHistory(format: stored, fileFormat: fileFormat).utf8.count == historyBytes,
                  info.apply(to: file, format: stored, fileFormat: fileFormat) == nil else { return }
        }
        broadcast = info
        sf_command(file, Int32(SFC_UPDATE_HEADER_NOW), nil, 0)
        if historyBytes > 0 { _ = BextHistory.tidy(fd: fd) }  // a failure shows at the next checkpoint's
    }

    /// Writes the coding history's new lines (route changes since the last checkpoint) into the
    /// bext chunk: libsndfile rewrites the header, the chunk the same size as before (the reserve
    /// is fixed), so the audio after it stays where it is. Then `checkpoint`'s header write and
    /// tidy follow, as after every header write.
    private func refreshHistory(_ file: OpaquePointer) {
        guard historyStale, let broadcast else { return }
        historyStale = false
        // Never a header of another size over the audio: libsndfile would write it before noticing.
        guard broadcast.codingHistory(format: stored, fileFormat: fileFormat).utf8.count == historyBytes else { return }
        _ = broadcast.apply(to: file, format: stored, fileFormat: fileFormat)  // a failure shows in sf_error
    }

    /// Writes the measured loudness into the `bext` chunk before the final header. libsndfile
    /// takes SFC_SET_BROADCAST_INFO after audio when the file had a chunk from the start, and the
    /// chunk keeps its size (same coding history), so nothing after it moves. A refusal leaves
    /// the fields unknown (0x7FFF); the audio is not at stake.
    private func updateLoudness(_ file: OpaquePointer) {
        guard var info = broadcast, let meter = loudnessMeter, framesWritten > 0,
              info.codingHistory(format: stored, fileFormat: fileFormat).utf8.count == historyBytes else { return }
        info.loudness = BroadcastLoudness(meter.reading)
        if info.apply(to: file, format: stored, fileFormat: fileFormat) == nil { broadcast = info }
    }

    public func checkpoint() throws(RecordingError) {
        if splitsChannels { return try eachChannelFile { f throws(RecordingError) in try f.checkpoint() } }
        guard let file else { return }
        refreshHistory(file)
        // SFC_UPDATE_HEADER_NOW itself always returns 0; a failed header write shows in sf_error.
        sf_command(file, Int32(SFC_UPDATE_HEADER_NOW), nil, 0)
        if sf_error(file) != 0 {
            let e = Errno.current  // the header's write(2) failed just now
            if e == .noSpace || e == Errno(EDQUOT) { throw .diskFull(path: path, framesSaved: framesWritten) }
            throw .writeFailed(path: path, reason: "header: \(String(cString: sf_strerror(file)))", framesSaved: framesWritten)
        }
        // Plain PCM/float format chunk where WAV allows it; discrete channels (WAVFormatChunk).
        if fileType == .wav {
            var e = WAVFormatChunk.applying(fd: fd, format: stored)
            if e == .none && historyBytes > 0 { e = BextHistory.tidy(fd: fd) }
            if e != .none { throw .writeFailed(path: path, reason: "header: \(e)", framesSaved: framesWritten) }
        }
        // Deleted while recording (the file, or its whole directory)? Writing on would lose
        // everything at close: stop now; `finish` copies the recording somewhere safe.
        if isDeleted { throw .vanished(path: path, framesSaved: framesWritten, rescuedTo: nil, reason: "not finished yet") }
        let e = Errno(syncErrno.load(ordering: .acquiring))
        if e != .none {
            if e == .noSpace || e == Errno(EDQUOT) { throw .diskFull(path: path, framesSaved: framesWritten) }
            throw .writeFailed(path: path, reason: "fdatasync: \(e)", framesSaved: framesWritten)
        }
        let sidecar = writeSidecar()
        if !syncInFlight.exchange(true, ordering: .acquiringAndReleasing) {
            let fd = self.fd
            syncQueue.async { [self] in
                do throws(Errno) { try valueOrErrno { fdatasync(fd) } } catch { syncErrno.store(error.rawValue, ordering: .releasing) }
                if sidecar >= 0 { _ = fdatasync(sidecar) }
                syncInFlight.store(false, ordering: .releasing)
            }
        }
    }

    /// Appends markers added since the last checkpoint to the sidecar (creating it, 0600, never
    /// overwriting). Returns its descriptor when it changed (to sync), else -1. A sidecar that
    /// can't be created (the name is taken) or written is given up: WAV and AIFF markers still go
    /// into the file at finish, just not crash-safely; the other types' are dropped.
    private func writeSidecar() -> Int32 {
        guard !sidecarFailed, markers.count > sidecarCount else { return -1 }
        if sidecarFD < 0 {
            guard let fd = MarkerSidecar.create(for: path) else { sidecarFailed = true; return -1 }
            sidecarFD = fd
        }
        let text = markers[sidecarCount...].map(MarkerSidecar.line).joined()
        guard MarkerSidecar.write(sidecarFD, text) else { sidecarFailed = true; return -1 }
        sidecarCount = markers.count
        return sidecarFD
    }

    /// True once the file has no name left in the filesystem.
    private var isDeleted: Bool {
        var st = stat()
        return fstat(fd, &st) == 0 && st.st_nlink == 0
    }

    /// Remembers a marker; WAV and RF64 files get them as cue points (with labels) at `finish`,
    /// AIFF files as a MARK chunk (names cut to 255 bytes); W64, CAF and FLAC keep them in the
    /// sidecar (libsndfile 1.2 accepts SFC_SET_CUE for those but writes no cues).
    ///
    /// A route change's marker (`RecordingMarker.route`) also adds its line to a WAV's bext
    /// coding history (`BroadcastInfo.routeLine`), written at the next checkpoint; a line that
    /// doesn't fit the reserve is left out (`routeLinesLeftOut`).
    public func addMarker(_ marker: RecordingMarker) {
        markers.append(marker)
        if splitsChannels {
            for f in channelFiles { f.addMarker(marker) }
            broadcast = channelFiles.first?.broadcast
            routeLinesLeftOut = channelFiles.first?.routeLinesLeftOut ?? 0
            return
        }
        if let note = marker.route, historyBytes > 0, var info = broadcast {
            if info.addRouteLine(info.routeLine(note, atFrame: marker.frame, rate: format.sampleRate), format: stored, fileFormat: fileFormat) {
                broadcast = info
                historyStale = true
            } else {
                routeLinesLeftOut += 1
            }
        }
    }

    /// Closes a recording that has no frame and removes its file, if its path still names it (so
    /// it can be created again in another format). Returns false, and does nothing, if frames
    /// were written or it is already finished.
    public func discardEmpty() -> Bool {
        if splitsChannels {
            guard framesWritten == 0, channelScratch != nil else { return false }
            var all = true
            for f in channelFiles where !f.discardEmpty() { all = false }
            return all
        }
        guard let f = file, framesWritten == 0 else { return false }
        file = nil
        syncQueue.sync {}
        sf_close(f)
        var mine = stat(), named = stat()
        if fstat(fd, &mine) == 0 && lstat(path, &named) == 0 && mine.st_dev == named.st_dev && mine.st_ino == named.st_ino {
            unlink(path)
        }
        Recovery.closeReleasingLock(fd)
        return true
    }

    public func finish() throws(RecordingError) {
        if splitsChannels {
            defer { droppedMarkers = channelFiles.first?.droppedMarkers ?? [] }
            return try eachChannelFile { f throws(RecordingError) in try f.finish() }
        }
        guard let f = file else { return }
        file = nil
        syncQueue.sync {}  // let an in-flight checkpoint sync finish before the descriptor closes
        updateLoudness(f)
        var markersInFile = markers.isEmpty
        refreshHistory(f)
        var r = sf_close(f)
        var step = fileType == .aiff ? "could not append the MARK chunk" : "could not append cue points"
        // Each step's errno is taken right after that step (before: the fdatasync's, read last).
        var stepError = Errno.none
        if r == 0 && fileType == .wav {
            stepError = WAVFormatChunk.applying(fd: fd, format: stored)
            if stepError != .none { r = -1; step = "could not write the format chunk" }
        }
        if r == 0 && historyBytes > 0 {
            stepError = BextHistory.tidy(fd: fd)
            if stepError != .none { r = -1; step = "could not write the bext coding history" }
        }
        if r == 0 && fileType == .wav && !markers.isEmpty {
            switch CueWriter.append(markers, toWAV: fd) {
            case .appended(let dropped): droppedMarkers = dropped; markersInFile = dropped.isEmpty
            case .noRoom: droppedMarkers = markers
            case .failed: r = -1; stepError = .current
            }
        }
        if r == 0 && fileType == .aiff && !markers.isEmpty {
            switch MarkWriter.append(markers, toAIFF: fd) {
            case .appended(let dropped): droppedMarkers = dropped; markersInFile = dropped.isEmpty
            case .noRoom: droppedMarkers = markers
            case .failed: r = -1; stepError = .current
            }
        }
        if !fileType.holdsMarkers && !markers.isEmpty {
            // The sidecar is these types' record of their markers: written by the last checkpoint
            // or now (a finish before any checkpoint), and kept.
            _ = writeSidecar()
            if sidecarFailed { droppedMarkers = markers }
            if sidecarFD >= 0 { _ = fdatasync(sidecarFD) }
        }
        var syncError = Errno.none
        do throws(Errno) { try valueOrErrno { fdatasync(fd) } } catch { syncError = error }
        let synced: Int32 = syncError == .none ? 0 : -1
        if sidecarFD >= 0 {
            // The markers are in the file (and synced): the sidecar has done its job. If some
            // couldn't be written, it stays beside the file with all of them.
            Glibc.close(sidecarFD)
            sidecarFD = -1
            if markersInFile && r == 0 && synced == 0 { unlink(MarkerSidecar.path(for: path)) }
        }
        if isDeleted {
            // The finished file exists only through fd: copy it out before closing. A problem
            // finishing it travels with the rescue, so "saved" is never claimed for a bad copy.
            let problem: String? = r == -1 ? "\(step): \(stepError)"
                : r != 0 ? String(cString: sf_error_number(r))
                : synced != 0 ? "fdatasync: \(syncError)" : nil
            let rescue = FileRescue.copy(from: fd, originalPath: path)
            Recovery.closeReleasingLock(fd)
            switch rescue {
            case .success(let to): throw .vanished(path: path, framesSaved: framesWritten, rescuedTo: to, reason: problem)
            case .failure(let f):
                throw .vanished(path: path, framesSaved: framesWritten, rescuedTo: nil, reason: [problem, f.reason].compactMap { $0 }.joined(separator: "; "))
            }
        }
        Recovery.closeReleasingLock(fd)
        if r == -1 {
            throw .writeFailed(path: path, reason: "\(step): \(stepError)", framesSaved: framesWritten)
        }
        if r != 0 {
            throw .writeFailed(path: path, reason: String(cString: sf_error_number(r)), framesSaved: framesWritten)
        }
        if synced != 0 {
            throw .writeFailed(path: path, reason: "fdatasync: \(syncError)", framesSaved: framesWritten)
        }
    }
}

/// Appends a `cue ` chunk and a `LIST`/`adtl` chunk of labels after a finished WAV or RF64
/// file's data, and fixes the RIFF size. (libsndfile can't add cues once audio is written.)
enum CueWriter {
    static func le(_ v: UInt64, _ n: Int) -> [UInt8] { (0..<n).map { UInt8(truncatingIfNeeded: v >> (8 * $0)) } }
    static func le32(_ b: [UInt8], _ at: Int) -> UInt64 { (0..<4).reversed().reduce(0) { $0 << 8 | UInt64(b[at + $1]) } }

    /// Markers a cue chunk can hold: positions fit its 32-bit fields (RF64 has no wider cue
    /// chunk, and libsndfile's cue support is 32-bit too). The rest are dropped, never wrapped.
    static func split(_ markers: [RecordingMarker]) -> (kept: [RecordingMarker], dropped: [RecordingMarker]) {
        (markers.filter { $0.frame >= 0 && $0.frame <= 0xFFFF_FFFF }, markers.filter { $0.frame < 0 || $0.frame > 0xFFFF_FFFF })
    }

    static func chunks(_ markers: [RecordingMarker]) -> [UInt8] {
        var cue: [UInt8] = Array("cue ".utf8)
        cue += le(UInt64(4 + 24 * markers.count), 4)
        cue += le(UInt64(markers.count), 4)
        for (i, m) in markers.enumerated() {
            cue += le(UInt64(i + 1), 4)                       // dwName
            cue += le(UInt64(m.frame), 4)                     // dwPosition (split keeps 32 bits)
            cue += Array("data".utf8)
            cue += le(0, 4) + le(0, 4)                        // chunk start, block start
            cue += le(UInt64(m.frame), 4)                     // sample offset
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

    enum AppendResult: Equatable {
        /// Written; `dropped` could not be (positions past 32 bits).
        case appended(dropped: [RecordingMarker])
        /// Not written: the RIFF would pass 4 GiB.
        case noRoom
        /// A read or write failed (errno set).
        case failed
    }

    static func append(_ markers: [RecordingMarker], toWAV fd: Int32) -> AppendResult {
        var st = stat()
        guard fstat(fd, &st) == 0 else { return .failed }
        var size = Int(st.st_size)
        var head = [UInt8](repeating: 0, count: 12)
        guard pread(fd, &head, 12, 0) == 12 else { return .failed }
        let magic = String(decoding: head[0..<4], as: UTF8.self)
        let (kept, dropped) = split(markers)
        guard !kept.isEmpty else { return .appended(dropped: dropped) }
        var bytes = chunks(kept)
        if size % 2 == 1 { bytes.insert(0, at: 0) }  // RIFF chunks start on even offsets
        // A RIFF's size is 32 bits: appending must not carry it past 4 GiB (it would wrap).
        if magic == "RIFF" && UInt64(size + bytes.count - 8) > 0xFFFF_FFFF { return .noRoom }
        guard pwrite(fd, bytes, bytes.count, off_t(size)) == bytes.count else { return .failed }
        size += bytes.count
        if magic == "RIFF" {
            return pwrite(fd, le(UInt64(size - 8), 4), 4, 4) == 4 ? .appended(dropped: dropped) : .failed
        }
        if magic == "RF64" {
            // ds64 is the first chunk: its RIFF size field is at byte 20.
            var id = [UInt8](repeating: 0, count: 4)
            guard pread(fd, &id, 4, 12) == 4, id == Array("ds64".utf8) else { return .appended(dropped: dropped) }
            return pwrite(fd, le(UInt64(size - 8), 8), 8, 20) == 8 ? .appended(dropped: dropped) : .failed
        }
        return .appended(dropped: dropped)
    }
}
