// The file output: recordings of the session's audio, started and stopped while it runs, with
// Apple's limits (duration, size, free disk space) and a callback for every finished recording.
import CaptureCore
import CaptureFiles
import Dispatch
import Glibc
import Synchronization

/// Why a recording ended (the reason `FinishedRecording` carries).
public enum RecordingEndReason: Sendable, Equatable {
    /// `stopRecording()`, or a new `startRecording` while recording.
    case stopped
    /// `maxRecordedFrames` reached (Apple: `AVError.maximumDurationReached`).
    case maximumDurationReached
    /// `maxRecordedFileSize` reached (Apple: `AVError.maximumFileSizeReached`).
    case maximumFileSizeReached
    /// The file's filesystem got down to `minFreeDiskSpaceLimit` (Apple: `AVError.diskFull`).
    case freeDiskSpaceLimitReached
    /// A write, a checkpoint or the format failed (`FinishedRecording.error` says how).
    case failed
}

/// A recording that has ended and whose file is finished.
public struct FinishedRecording: Sendable, Equatable {
    public var path: String
    /// Whole frames in the file.
    public var frames: Int
    public var reason: RecordingEndReason
    /// What went wrong: always set for `.failed`; for the other reasons, set when finishing the
    /// file failed (the file was deleted: `.vanished` says where the audio went). nil: the file
    /// is complete.
    public var error: RecordingError?
}

/// Records the session's audio to files (`AVCaptureAudioFileOutput`). Recording can start and
/// stop while the session runs, and the output can be added to or removed from a running
/// session; route changes inside one recording keep the same file.
///
/// The file's format follows the data: a recording started before the session runs is created in
/// the format known then (the init's, or the last run's) and, if the session's input delivers
/// another format, created again in it before its first frame. A file that already holds frames
/// can't change format: a run in another format stops its recording with
/// `RecordingError.formatMismatch` (the file finished with the frames it has).
///
/// Limits (`maxRecordedFrames`, `maxRecordedFileSize`, `minFreeDiskSpaceLimit`) end a recording
/// as soon as no further frame fits, frame-exact, while the session keeps running. Every
/// recording that ends — stopped, at a limit, or failed — is reported once to the
/// recording-finished handler, in the order they ended, after its file is finished.
///
/// `@unchecked Sendable`: every mutable field is behind one of its mutexes or an atomic; the
/// recorder it holds is used under `current`'s lock (the writer queue writes), and finished by
/// whoever took it out of `current`, on the `finishing` queue.
public final class CaptureAudioFileOutput: CaptureOutput, RecordingSink, @unchecked Sendable {
    private struct Current {
        var recorder: SndfileRecorder
        /// The stream frame this recording received first: the base of its markers. nil until
        /// that frame arrives (markers added before it wait in `pending`).
        var startFrame: Int?
        /// Stream frames not written while paused, as (first stream frame, count), merged.
        var skipped: [(at: Int, count: Int)] = []
        /// Markers (in stream frames) added before the first frame.
        var pending: [RecordingMarker] = []
        /// The last batch was skipped (paused): the next one written gets the "resume" marker.
        var inPause = false
        /// Bytes free for the user on the file's filesystem when last measured (at the start and
        /// at each checkpoint, while `minFreeDiskSpaceLimit` is set), and audio written since.
        var measuredFree: Int?
        var writtenSinceMeasure = 0

        /// Where stream frame `frame` falls in the file: after the start, minus what pauses
        /// skipped before it (a marker inside a pause lands where the pause began).
        func fileFrame(_ frame: Int, start: Int) -> Int {
            var f = frame - start
            for s in skipped where frame > s.at { f -= Swift.min(s.count, frame - s.at) }
            return f
        }

        /// Puts a marker (in stream frames) into the file; returns it in file frames. While
        /// paused, one for a frame the writer hasn't reached yet (the capture thread's count runs
        /// ahead of it) lands where the pause began too.
        mutating func place(_ marker: RecordingMarker) -> RecordingMarker? {
            guard let start = startFrame else { pending.append(marker); return nil }
            guard marker.frame >= start else { return nil }
            var frame = fileFrame(marker.frame, start: start)
            if inPause { frame = Swift.min(frame, recorder.framesWritten) }
            let m = RecordingMarker(frame: frame, label: marker.label)
            recorder.addMarker(m)
            return m
        }

        mutating func measureFree() {
            var s = statvfs()
            guard statvfs(recorder.path, &s) == 0 else { return }  // gone: the checkpoint says so
            measuredFree = Int(clamping: UInt64(s.f_bavail) &* UInt64(s.f_frsize))
            writtenSinceMeasure = 0
        }
    }
    private struct Limits {
        var frames: Int?
        var bytes: Int?
        var minFree: Int?
    }
    /// The recording, and the format frames arrive in. Held through file writes.
    private let current = Mutex<Current?>(nil)
    /// The format frames arrive in: the session sets it to its input's before each run. Taken
    /// inside `current`'s lock where both are needed (that order only).
    private let streamFormat: Mutex<StreamFormat>
    /// Taken inside `current`'s lock (that order only).
    private let limits = Mutex(Limits())
    /// What readers see (the UI, 30 times a second), kept apart from `current`, whose lock is
    /// held through file writes: a slow disk must not stall the screen.
    private let shown = Mutex<(path: String?, frames: Int)>((nil, 0))
    private let position = Atomic<Int>(0)
    private let paused = Atomic<Bool>(false)
    private let lastError = Mutex<RecordingError?>(nil)
    /// The current (or last) recording's markers as placed in its file, the latest
    /// `recentMarkerLimit`, and how many it has in all.
    private let placedMarkers = Mutex<(recent: [RecordingMarker], count: Int)>(([], 0))
    public static let recentMarkerLimit = 32
    /// Finishes every recording that ends, in the order they ended: a stopped one while its
    /// caller waits, one that failed or reached a limit behind the writer's back (a deleted
    /// file's rescue copies the whole take, which must hold up neither the writer, whose ring
    /// would overflow, nor the UI).
    private let finishing = DispatchQueue(label: "capdeck.file-finish", qos: .utility)
    /// Calls the recording-finished handler (serial: in order; never the writer or `finishing`,
    /// so the handler may start and stop recordings).
    private let notifications = DispatchQueue(label: "capdeck.file-output.finished")
    private let finishedHandler = Mutex<(@Sendable (FinishedRecording) -> Void)?>(nil)

    public init(format: StreamFormat = StreamFormat(sampleFormat: .s16LE, sampleRate: 48_000, channels: 2)) {
        streamFormat = Mutex(format)
    }

    /// The format frames arrive in (the session's input's, once it has run).
    var sessionFormat: StreamFormat { streamFormat.withLock { $0 } }

    /// The session, before a run (or when this output joins a running one): frames will come in
    /// `format`. A recording that has received no frame yet is created again in it; one holding
    /// frames in another format stops (its file finished as it is) and the error is returned and
    /// kept in `error`.
    func setSessionFormat(_ format: StreamFormat) throws(RecordingError) {
        let failure: RecordingError? = current.withLock { c in
            streamFormat.withLock { $0 = format }
            guard var cur = c, cur.recorder.format != format else { return nil }
            let rec = cur.recorder
            if cur.startFrame == nil && rec.discardEmpty() {
                do throws(RecordingError) {
                    cur.recorder = try SndfileRecorder(path: rec.path, format: format, fileType: rec.fileType,
                                                       fileFormat: rec.requestedFileFormat)
                    cur.skipped = []
                    c = cur
                    return nil
                } catch {
                    c = nil
                    shown.withLock { $0 = (nil, 0) }
                    let e = error
                    lastError.withLock { $0 = e }
                    finishing.async { [self] in notify(FinishedRecording(path: rec.path, frames: 0, reason: .failed, error: e)) }
                    return error
                }
            }
            c = nil
            shown.withLock { $0 = (nil, 0) }
            let e = RecordingError.formatMismatch(path: rec.path, recorded: rec.format.description, delivered: format.description,
                                                  framesSaved: rec.framesWritten)
            finishAside(rec, .failed, e)
            return e
        }
        if let failure { throw failure }
    }

    /// Starts a new file (which must not exist), at the rate and channels frames arrive in (see
    /// the type's note), its samples stored as `fileFormat` says: nil keeps the stream's encoding
    /// in the container's byte order; otherwise frames are converted on the writer queue, exactly
    /// (`SndfileRecorder.init`), and the file stays crash-safe and recoverable. A format the
    /// container can't hold throws `.unsupportedFormat`. Any thread; frames arrive once the
    /// session runs (from its next writer batch, when it is running). Markers count from the
    /// first frame the new file receives. A recording in progress is finished first, reported as
    /// `.stopped`.
    public func startRecording(to path: String, fileType: FileType, fileFormat: FileSampleFormat? = nil) throws(RecordingError) {
        lastError.withLock { $0 = nil }
        let measure = limits.withLock { $0.minFree != nil }
        let made: Result<Void, RecordingError> = finishing.sync {
            let swapped: Result<SndfileRecorder?, RecordingError> = current.withLock { c in
                do throws(RecordingError) {
                    let rec = try SndfileRecorder(path: path, format: streamFormat.withLock { $0 }, fileType: fileType,
                                                  fileFormat: fileFormat)
                    let old = c?.recorder
                    var new = Current(recorder: rec)
                    if measure { new.measureFree() }
                    c = new
                    shown.withLock { $0 = (path, 0) }
                    placedMarkers.withLock { $0 = ([], 0) }
                    paused.store(false, ordering: .relaxed)
                    return .success(old)
                } catch {
                    return .failure(error)
                }
            }
            switch swapped {
            case .failure(let e): return .failure(e)
            case .success(let old?): _ = finishNow(old, .stopped, nil)
            case .success(nil): break
            }
            return .success(())
        }
        try made.get()
    }

    /// Finishes the current file. Returns its path and frames, if one was recording. Also
    /// reported to the recording-finished handler (`.stopped`, with the error if finishing failed).
    @discardableResult
    public func stopRecording() throws(RecordingError) -> (path: String, frames: Int)? {
        // On `finishing`: after a failed or limited file still being finished (its error
        // published, its report first).
        let result: (path: String, frames: Int, error: RecordingError?)? = finishing.sync {
            guard let c = current.withLock({ c -> Current? in defer { c = nil }; return c }) else { return nil }
            shown.withLock { $0 = (nil, 0) }
            paused.store(false, ordering: .relaxed)
            let error = finishNow(c.recorder, .stopped, nil)
            return (c.recorder.path, c.recorder.framesWritten, error)
        }
        guard let result else { return nil }
        if let e = result.error { throw e }
        return (result.path, result.frames)
    }

    /// Calls `handler` for every recording that ends, once its file is finished: stopped,
    /// reaching a limit, or failing (Apple's `fileOutput(_:didFinishRecordingTo:from:error:)`).
    /// On the output's own serial queue, in the order the recordings ended; it may start and
    /// stop recordings. nil removes it.
    public func setRecordingFinishedHandler(_ handler: (@Sendable (FinishedRecording) -> Void)?) {
        finishedHandler.withLock { $0 = handler }
    }

    public var isRecording: Bool { shown.withLock { $0.path != nil } }
    /// While paused, captured audio is not written (the file stays open; resume continues it).
    public var isPaused: Bool { paused.load(ordering: .relaxed) }
    /// Pauses the recording in progress. Returns true if that changed anything (recording, and
    /// not paused yet): from the next writer batch on, no frame is written (a batch being written
    /// as it returns completes); the time doesn't count towards `maxRecordedFrames`.
    @discardableResult
    public func pause() -> Bool {
        guard isRecording else { return false }
        return !paused.exchange(true, ordering: .relaxed)
    }
    /// Resumes a paused recording: frames are written again from the next writer batch on.
    /// Returns true if it was recording and paused.
    @discardableResult
    public func resume() -> Bool {
        guard isRecording else { return false }
        return paused.exchange(false, ordering: .relaxed)
    }
    public var recordingPath: String? { shown.withLock { $0.path } }
    public var recordedFrames: Int { shown.withLock { $0.frames } }
    /// Bytes the current recording's file takes now (header, audio and any chunks written so
    /// far); 0 when not recording or the file is gone.
    public var recordedFileSize: Int {
        guard let path = recordingPath else { return 0 }
        var st = stat()
        return stat(path, &st) == 0 ? Int(st.st_size) : 0
    }
    /// The last write error (disk full…); recording stops when one happens.
    public var error: RecordingError? { lastError.withLock { $0 } }

    // MARK: Limits (Apple's maxRecordedDuration, maxRecordedFileSize, minFreeDiskSpaceLimit)

    /// A recording ends (`.maximumDurationReached`) when it holds this many frames: exactly this
    /// many are in the file. Paused time doesn't count. nil (or ≤ 0): no limit. Applies to the
    /// recording in progress too, from the next writer batch.
    public var maxRecordedFrames: Int? {
        get { limits.withLock { $0.frames } }
        set { limits.withLock { $0.frames = newValue.flatMap { $0 > 0 ? $0 : nil } } }
    }
    /// A recording ends (`.maximumFileSizeReached`) when no further frame fits in this many bytes
    /// of audio data (frames × bytes per frame of the file's format — 24-bit samples take 3 — the
    /// file's header and markers come on top; for FLAC, the uncompressed size). nil (or ≤ 0): no limit.
    public var maxRecordedFileSize: Int? {
        get { limits.withLock { $0.bytes } }
        set { limits.withLock { $0.bytes = newValue.flatMap { $0 > 0 ? $0 : nil } } }
    }
    /// A recording ends (`.freeDiskSpaceLimitReached`) when writing a further frame would leave
    /// less than this many bytes free for the user on the file's filesystem. Free space is
    /// measured (statvfs) at the start and at each checkpoint, about once a second, and counted
    /// down by the audio written in between; what else fills the disk meanwhile shows at the
    /// next measurement. nil (or ≤ 0): no limit.
    public var minFreeDiskSpaceLimit: Int? {
        get { limits.withLock { $0.minFree } }
        set { limits.withLock { $0.minFree = newValue.flatMap { $0 > 0 ? $0 : nil } } }
    }

    // RecordingSink (writer queue).
    public var path: String { recordingPath ?? "" }
    public var format: StreamFormat { sessionFormat }
    public var framesWritten: Int { position.load(ordering: .relaxed) }

    public func write(_ frames: UnsafeRawPointer, count: Int) throws(RecordingError) {
        let at = position.add(count, ordering: .releasing).newValue - count
        attempt { c throws(RecordingError) -> RecordingEndReason? in
            if c.startFrame == nil {
                // The new recording's first frame: its markers count from here.
                c.startFrame = at
                let waiting = c.pending
                c.pending = []
                for m in waiting { placed(c.place(m)) }
            }
            // Pausing and resuming mark the file where it pauses (both at the same frame: nothing
            // is written in between).
            let isPaused = paused.load(ordering: .relaxed)
            if isPaused != c.inPause {
                c.inPause = isPaused
                let m = RecordingMarker(frame: c.recorder.framesWritten, label: isPaused ? "pause" : "resume")
                c.recorder.addMarker(m)
                placed(m)
            }
            if isPaused {
                if let last = c.skipped.last, last.at + last.count == at {
                    c.skipped[c.skipped.count - 1].count += count
                } else {
                    c.skipped.append((at, count))
                }
                return nil
            }
            // Frames are in the session's format; a file in another can't take them (its writer
            // would read past them or split them wrongly).
            let delivered = streamFormat.withLock { $0 }
            guard c.recorder.format == delivered else {
                throw .formatMismatch(path: c.recorder.path, recorded: c.recorder.format.description,
                                      delivered: delivered.description, framesSaved: c.recorder.framesWritten)
            }
            // The limits: write what still fits, and end the recording as soon as nothing more does.
            let l = limits.withLock { $0 }
            let bpf = c.recorder.fileBytesPerFrame
            let written = c.recorder.framesWritten
            var n = count
            var reached: RecordingEndReason?
            func fit(_ room: Int, _ reason: RecordingEndReason) {
                guard n >= room else { return }
                n = Swift.max(0, room)
                reached = reason
            }
            if let max = l.frames { fit(max - written, .maximumDurationReached) }
            if let max = l.bytes { fit(max / bpf - written, .maximumFileSizeReached) }
            if let min = l.minFree {
                if c.measuredFree == nil { c.measureFree() }
                if let free = c.measuredFree { fit((free - c.writtenSinceMeasure - min) / bpf, .freeDiskSpaceLimitReached) }
            }
            if n > 0 {
                try c.recorder.write(frames, count: n)
                c.writtenSinceMeasure += n * bpf
                let total = c.recorder.framesWritten
                shown.withLock { $0.frames = total }
            }
            return reached
        }
    }

    public func checkpoint() throws(RecordingError) {
        let measure = limits.withLock { $0.minFree != nil }
        attempt { c throws(RecordingError) -> RecordingEndReason? in
            try c.recorder.checkpoint()
            if measure { c.measureFree() }
            return nil
        }
    }

    /// Runs `body` on the current recording, if any; when it reports a limit reached or fails,
    /// the recording ends and its file is finished aside (see `finishAside`).
    private func attempt(_ body: (inout Current) throws(RecordingError) -> RecordingEndReason?) {
        current.withLock { c in
            guard var cur = c else { return }
            var ended: (RecordingEndReason, RecordingError?)?
            do throws(RecordingError) {
                if let reason = try body(&cur) { ended = (reason, nil) }
            } catch {
                ended = (.failed, error)
            }
            guard let (reason, error) = ended else { c = cur; return }
            c = nil
            shown.withLock { $0 = (nil, 0) }
            paused.store(false, ordering: .relaxed)
            finishAside(cur.recorder, reason, error)
        }
    }

    /// A recording ended behind its owner's back (a limit, a failure): finish the file with every
    /// frame it holds on `finishing`, then report it. Called under `current`'s lock, so a later
    /// recording's finish queues after this one.
    private func finishAside(_ rec: SndfileRecorder, _ reason: RecordingEndReason, _ error: RecordingError?) {
        finishing.async { [self] in _ = finishNow(rec, reason, error) }
    }

    /// On `finishing`: finishes `rec`, publishes a failure's error (the first one, unless
    /// finishing found the file deleted: its error says where the audio went), reports the
    /// recording to the handler, and returns the error finishing it met (or the failure's).
    private func finishNow(_ rec: SndfileRecorder, _ reason: RecordingEndReason, _ failure: RecordingError?) -> RecordingError? {
        var final = failure
        do throws(RecordingError) {
            try rec.finish()
        } catch {
            if failure == nil { final = error } else if case .vanished = error { final = error }
        }
        if reason == .failed { lastError.withLock { $0 = final } }
        notify(FinishedRecording(path: rec.path, frames: rec.framesWritten, reason: reason, error: final))
        return final
    }

    private func notify(_ r: FinishedRecording) {
        guard let h = finishedHandler.withLock({ $0 }) else { return }
        notifications.async { h(r) }
    }

    public func finish() throws(RecordingError) {
        try stopRecording()
    }

    /// `marker.frame` counts in this output's frames (every frame written to it since it was
    /// created, recording or not).
    /// A marker added before the recording's first frame waits for it (its frame may lie after
    /// it); one before that first frame is dropped.
    public func addMarker(_ marker: RecordingMarker) {
        current.withLock { c in
            guard c != nil else { return }
            placed(c!.place(marker))
        }
    }

    private func placed(_ m: RecordingMarker?) {
        guard let m else { return }
        placedMarkers.withLock { p in
            p.recent.append(m)
            if p.recent.count > Self.recentMarkerLimit { p.recent.removeFirst() }
            p.count += 1
        }
    }

    /// The current recording's markers in file frames (pause and resume, route changes and
    /// reconnections, `CaptureSession.addMarker`), oldest first: the latest `recentMarkerLimit`.
    /// After a recording ends, its markers until the next one starts.
    public var recentMarkers: [RecordingMarker] { placedMarkers.withLock { $0.recent } }
    /// How many markers the current (or last) recording has.
    public var markerCount: Int { placedMarkers.withLock { $0.count } }
}
