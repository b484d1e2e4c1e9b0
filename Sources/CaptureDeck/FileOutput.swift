// The file output: recordings of the session's audio, started and stopped while it runs, with
// Apple's limits (duration, size, free disk space) and a callback for every finished recording.
import CaptureCore
import CaptureFiles
import CaptureLoudness
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
    /// A part of a split recording, finished at a seam: the recording goes on in the next part
    /// (`splitRecording()`, `splitFrames`, `splitFileSize`).
    case split
}

/// One part of a recording (`CaptureAudioFileOutput.currentPart`, `FinishedRecording.part`).
public struct RecordingPart: Sendable, Equatable {
    /// 1 for the first part.
    public var index: Int
    public var path: String
    /// Frames of the recording in the parts before this one: the part's first frame counted
    /// from the recording's first (a Broadcast Wave TimeReference is the first part's plus this).
    public var framesBefore: Int
    /// The part's first frame as the output's stream counts it (markers' frames); nil until it
    /// has arrived.
    public var streamFrame: Int?
    /// CLOCK_REALTIME when the writer queue began the part, at its first frame: after the
    /// sample by the ring's latency (≤ a period or two); 0 until then.
    public var startedAt: timespec
    public init(index: Int, path: String, framesBefore: Int, streamFrame: Int?, startedAt: timespec) {
        self.index = index
        self.path = path
        self.framesBefore = framesBefore
        self.streamFrame = streamFrame
        self.startedAt = startedAt
    }
    public static func == (a: RecordingPart, b: RecordingPart) -> Bool {
        a.index == b.index && a.path == b.path && a.framesBefore == b.framesBefore && a.streamFrame == b.streamFrame
            && a.startedAt.tv_sec == b.startedAt.tv_sec && a.startedAt.tv_nsec == b.startedAt.tv_nsec
    }
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
    /// The part this file is, in a recording that was split (nil: never split).
    public var part: RecordingPart? = nil
    /// The level trigger started the recording (`armTrigger`).
    public var triggered = false
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
        /// The take's files' loudness meters (its parts share it; a new take gets its own).
        let loudness = TakeLoudness()
        /// The stream frame this recording received first: the base of its markers. nil until
        /// that frame arrives (markers added before it wait in `pending`).
        var startFrame: Int?
        /// Stream frames not written while paused, as (first stream frame, count), merged.
        var skipped: [(at: Int, count: Int)] = []
        /// Markers (in stream frames) added before the first frame.
        var pending: [RecordingMarker] = []
        /// The last batch was skipped (paused): the next one written gets the "resume" marker.
        var inPause = false
        /// `pauseChanges` as the writer last saw it (nil: not yet, at the first batch).
        var seenPauseChanges: Int?
        /// Bytes free for the user on the file's filesystem when last measured (at the start and
        /// at each checkpoint, while `minFreeDiskSpaceLimit` is set), and audio written since.
        var measuredFree: Int?
        var writtenSinceMeasure = 0
        /// The level trigger started it (and ends it).
        var triggered = false
        /// Pre-roll frames it may begin with (the ring's last ones, at its first frame).
        var preRollLimit = 0
        /// The part being written (splitting: every part but the last ended with `.split`) and
        /// the path the first part was created at, which names the others.
        var part: RecordingPart
        var firstPath: String
        /// The stream frame after the last one received: markers at or past it wait in `pending`
        /// (the next batch may begin a new part).
        var streamEnd = 0
        /// Markers put into a file since the output last looked (for `recentMarkers`): placing
        /// happens in several places (a marker, a seam, a part's first frame), reporting in one.
        var newlyPlaced: [RecordingMarker] = []

        init(recorder: SndfileRecorder) {
            self.recorder = recorder
            part = RecordingPart(index: 1, path: recorder.path, framesBefore: 0, streamFrame: nil, startedAt: timespec())
            firstPath = recorder.path
        }

        /// Where stream frame `frame` falls in the file: after the start, minus what pauses
        /// skipped before it (a marker inside a pause lands where the pause began).
        func fileFrame(_ frame: Int, start: Int) -> Int {
            var f = frame - start
            for s in skipped where frame > s.at { f -= Swift.min(s.count, frame - s.at) }
            return f
        }

        /// Puts a marker (in stream frames) into the file; returns it in file frames. One at or
        /// past the part's end waits for the next part. While paused, one for a frame the writer
        /// hasn't reached yet (the capture thread's count runs ahead of it) lands where the pause
        /// began too.
        @discardableResult
        mutating func place(_ marker: RecordingMarker) -> RecordingMarker? {
            guard let start = startFrame, marker.frame < streamEnd else { pending.append(marker); return nil }
            guard marker.frame >= start else { return nil }
            var frame = fileFrame(marker.frame, start: start)
            if inPause { frame = Swift.min(frame, recorder.framesWritten) }
            var m = marker  // a route change's note goes along (the recorder's bext history)
            m.frame = frame
            recorder.addMarker(m)
            newlyPlaced.append(m)
            return m
        }

        /// Places the markers waiting for frames that have now arrived.
        mutating func placePending() {
            guard !pending.isEmpty else { return }
            let waiting = pending
            pending = []
            for m in waiting { place(m) }
        }

        mutating func measureFree() {
            var s = statvfs()
            guard statvfs(recorder.filePaths[0], &s) == 0 else { return }  // gone: the checkpoint says so
            measuredFree = Int(clamping: UInt64(s.f_bavail) &* UInt64(s.f_frsize))
            writtenSinceMeasure = 0
        }
    }
    private struct Limits {
        var frames: Int?
        var bytes: Int?
        var minFree: Int?
        var splitFrames: Int?
        var splitBytes: Int?
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
    /// The route the session captures from now (its run's start, then each switch): the first
    /// line of a recording's bext coding history names it at the recording's first frame.
    private let inputRoute = Mutex<RouteNote?>(nil)
    /// The current recording's first sample, once its first frame has arrived.
    private let shownTake = Mutex<RecordingTake?>(nil)
    /// The writer's side between takes: the pre-roll ring and the level trigger. Taken inside
    /// `current`'s lock (that order only). `@unchecked Sendable`: the ring and the meter it holds
    /// are used under that lock only.
    private struct Side: @unchecked Sendable {
        var preRollSeconds = 0.0
        /// The pre-roll in frames at the ring's rate (the ring holds a trigger block more).
        var preRollFrames = 0
        var ring: PreRollRing?
        /// The trigger's own meter (the level meter's 10 ms blocks, aligned with what this output
        /// receives), its state machine, and where its takes go.
        var meter: LevelMeter?
        var machine: TriggerMachine?
        var takeFiles: TriggeredTakeFiles?
        var takes = 0
        /// The running engine's clock and this output's frame at the run's frame 0 (the fan-out's).
        var clock: (clock: RunClock, base: Int)?

        /// Frames in `format` for the pre-roll, the trigger's meter: a ring (the pre-roll and the
        /// trigger's block) allocated here, never on the writer queue, when its size or format
        /// changes, and emptied when `opened` (a new input: nothing from before it).
        mutating func prepare(_ format: StreamFormat, opened: Bool) {
            preRollFrames = Int((preRollSeconds * Double(format.sampleRate)).rounded())
            if preRollFrames == 0 && machine == nil {
                ring = nil
            } else {
                let frames = preRollFrames + Swift.max(1, format.sampleRate / 100)
                if let r = ring, r.format == format, r.capacity == frames {
                    if opened { r.reset() }
                } else {
                    ring = PreRollRing(format: format, frames: frames)
                }
            }
            if let m = machine {
                if meter?.format != format { meter = LevelMeter(format: format) }
                if m.holdFrames != TriggerMachine(m.trigger, sampleRate: format.sampleRate).holdFrames {
                    machine = TriggerMachine(m.trigger, sampleRate: format.sampleRate)
                }
            } else {
                meter = nil
            }
        }
    }
    private let side = Mutex(Side())
    /// What readers see of the side (the UI, `status`), never waiting for the writer.
    private let preRollHeld = Atomic<Int>(0)
    private let preRollShown = Atomic<UInt64>(0.0.bitPattern)
    private let triggerShown = Mutex<LevelTrigger?>(nil)
    private let triggerCode = Atomic<Int>(0)
    private let triggerTakes = Atomic<Int>(0)
    private let position = Atomic<Int>(0)
    private let paused = Atomic<Bool>(false)
    /// Every pause and resume that changed `paused`, counted (after the change), so the writer
    /// marks a pause and resume that both fell between two of its batches.
    private let pauseChanges = Atomic<Int>(0)
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
    /// Splitting: the next part, created ahead on `preparing` (so no frame waits on a file being
    /// created), the part number it is for (asked for or made), and a split asked for.
    /// `take` counts recordings (a new one, or one ended, moves it on), so a part made ahead for
    /// one is never used by another. Nothing on `preparing` takes `current`'s lock: the writer,
    /// which holds it, may wait for a part being made there.
    private let spare = Mutex<(take: Int, part: Int, recorder: SndfileRecorder)?>(nil)
    private let spareAskedFor = Atomic<Int>(0)
    private let take = Atomic<Int>(0)
    /// The latest take's meters, for `takeLoudness` after it ended.
    private let latestTake = Mutex<TakeLoudness?>(nil)
    /// What names and makes a recording's next part.
    private struct PartRequest: Sendable {
        var take: Int
        var part: Int
        var first: String
        var fileType: FileType
        var fileFormat: FileSampleFormat?
        /// The take's tags and bext chunk: every part carries them (the bext restamped at its seam).
        var tags: [FileTag: String]
        var broadcast: BroadcastInfo?
        var splitChannels = false
    }
    private func request(_ c: Current) -> PartRequest {
        PartRequest(take: take.load(ordering: .relaxed), part: c.part.index + 1, first: c.firstPath,
                    fileType: c.recorder.fileType, fileFormat: c.recorder.requestedFileFormat,
                    tags: c.recorder.tags, broadcast: c.recorder.broadcast, splitChannels: c.recorder.splitsChannels)
    }
    private let splitAsked = Atomic<Bool>(false)
    private let preparing = DispatchQueue(label: "capdeck.file-output.next-part", qos: .userInitiated)
    private let shownPart = Mutex<RecordingPart?>(nil)
    /// The longest a part's file took to create on the writer queue, when none was ready at its
    /// seam (nanoseconds; 0: every part was ready).
    public var slowestSeamCreateNanos: Int { seamCreate.load(ordering: .relaxed) }
    private let seamCreate = Atomic<Int>(0)

    public init(format: StreamFormat = StreamFormat(sampleFormat: .s16LE, sampleRate: 48_000, channels: 2)) {
        streamFormat = Mutex(format)
    }

    /// Recordings started from now on (`startRecording`, the trigger's takes) write one mono file
    /// per channel (`SndfileRecorder.splitsChannels`), their parts too; `path` then names the
    /// take (`take.wav`), and the files are `take-ch01.wav` … (`FileNaming.channelFile`).
    public var splitsChannels: Bool {
        get { splitChannelsFlag.load(ordering: .relaxed) }
        set { splitChannelsFlag.store(newValue, ordering: .relaxed) }
    }
    private let splitChannelsFlag = Atomic<Bool>(false)

    /// The format frames arrive in (the session's input's, once it has run).
    var sessionFormat: StreamFormat { streamFormat.withLock { $0 } }

    /// The session, before a run (or when this output joins a running one): frames will come in
    /// `format`. A recording that has received no frame yet is created again in it; one holding
    /// frames in another format stops (its file finished as it is) and the error is returned and
    /// kept in `error`.
    /// The session's run captures from `note`'s route (a switch later comes as a marker's route).
    func setSessionRoute(_ note: RouteNote) {
        inputRoute.withLock { $0 = note }
    }

    func setSessionFormat(_ format: StreamFormat) throws(RecordingError) {
        let failure: RecordingError? = current.withLock { c in
            streamFormat.withLock { $0 = format }
            // The input opens: the pre-roll holds nothing captured before it.
            side.withLock { $0.prepare(format, opened: true) }
            preRollHeld.store(0, ordering: .relaxed)
            guard var cur = c, cur.recorder.format != format else { return nil }
            let rec = cur.recorder
            if cur.startFrame == nil && rec.discardEmpty() {
                do throws(RecordingError) {
                    cur.recorder = try SndfileRecorder(path: rec.path, format: format, fileType: rec.fileType,
                                                       fileFormat: rec.requestedFileFormat, tags: rec.tags, broadcast: rec.broadcast,
                                                       splitChannels: rec.splitsChannels)
                    cur.skipped = []
                    c = cur
                    return nil
                } catch {
                    c = nil
                    tookOut(cur)
                    let e = error
                    lastError.withLock { $0 = e }
                    finishing.async { [self] in notify(FinishedRecording(path: rec.path, frames: 0, reason: .failed, error: e)) }
                    return error
                }
            }
            c = nil
            tookOut(cur)
            let e = RecordingError.formatMismatch(path: rec.path, recorded: rec.format.description, delivered: format.description,
                                                  framesSaved: rec.framesWritten)
            finishAside(rec, .failed, e, triggered: cur.triggered, take: cur.loudness)
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
    /// `.stopped`. `tags` go into the file's own metadata, those the container holds
    /// (`SndfileRecorder.init`); none by default. `broadcast` is the WAV/RF64 `bext` chunk
    /// (`SndfileRecorder.init`); none by default. Its time is set again at the recording's first
    /// frame to that frame's wall-clock time (pre-roll included) from the running engine's clock
    /// (with no engine, as given).
    public func startRecording(to path: String, fileType: FileType, fileFormat: FileSampleFormat? = nil,
                               tags: [FileTag: String] = [:], broadcast: BroadcastInfo? = nil) throws(RecordingError) {
        lastError.withLock { $0 = nil }
        let measure = limits.withLock { $0.minFree != nil }
        let made: Result<Void, RecordingError> = finishing.sync {
            let swapped: Result<(SndfileRecorder, RecordingPart, Bool, TakeLoudness)?, RecordingError> = current.withLock { c in
                do throws(RecordingError) {
                    let rec = try SndfileRecorder(path: path, format: streamFormat.withLock { $0 }, fileType: fileType,
                                                  fileFormat: fileFormat, tags: tags, broadcast: broadcast,
                                                  splitChannels: splitsChannels)
                    let old = c.map { ($0.recorder, $0.part, $0.triggered, $0.loudness) }
                    take.add(1, ordering: .relaxed)
                    var new = Current(recorder: rec)
                    new.preRollLimit = side.withLock { s in
                        if c?.triggered == true { s.machine?.rearm() }
                        return s.preRollFrames
                    }
                    if measure { new.measureFree() }
                    c = new
                    latestTake.withLock { $0 = new.loudness }
                    shown.withLock { $0 = (path, 0) }
                    shownTake.withLock { $0 = nil }
                    shownPart.withLock { $0 = new.part }
                    placedMarkers.withLock { $0 = ([], 0) }
                    paused.store(false, ordering: .relaxed)
                    return .success(old)
                } catch {
                    return .failure(error)
                }
            }
            switch swapped {
            case .failure(let e): return .failure(e)
            case .success(let (old, part, triggered, loudness)?):
                discardSpare()
                _ = finishNow(old, .stopped, nil, part: part.index > 1 ? part : nil, triggered: triggered, take: loudness)
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
            guard let c = current.withLock({ c -> Current? in
                if c != nil { take.add(1, ordering: .relaxed) }
                defer { c = nil }
                if c?.triggered == true { side.withLock { $0.machine?.rearm() } }
                return c
            }) else { return nil }
            clearShown()
            paused.store(false, ordering: .relaxed)
            discardSpare()
            var last = c
            last.streamEnd = .max  // markers past the last frame go in as before
            last.placePending()
            let error = finishNow(c.recorder, .stopped, nil, part: c.part.index > 1 ? c.part : nil, triggered: c.triggered, take: c.loudness)
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

    /// Returns once every recording reported so far has reached the finished handler and the
    /// handler has returned: after `stopRecording()`, every part and take of it. (The handler
    /// runs on a queue of its own, so a part finished just before the stop may still be on its
    /// way.) Not from inside the handler: it would wait for itself.
    public func waitForFinishedNotifications() {
        notifications.sync {}
    }

    public var isRecording: Bool { shown.withLock { $0.path != nil } }

    /// The take's loudness as its files measure it for their `bext` chunks (WAV and RF64, with
    /// loudness on): every part so far and the one being written, pooled (`TakeLoudness`); the
    /// latest take's once it ended. nil: its files don't measure (another type, no audio yet,
    /// one file per channel). What the files hold: paused audio is not in it.
    public var takeLoudness: LoudnessReading? {
        current.withLock { c in
            (c?.loudness ?? latestTake.withLock { $0 })?.reading(writing: c?.recorder.loudnessMeter)
        }
    }
    /// While paused, captured audio is not written (the file stays open; resume continues it).
    public var isPaused: Bool { paused.load(ordering: .relaxed) }
    /// Pauses the recording in progress. Returns true if that changed anything (recording, and
    /// not paused yet): from the next writer batch on, no frame is written (a batch being written
    /// as it returns completes); the time doesn't count towards `maxRecordedFrames`.
    @discardableResult
    public func pause() -> Bool {
        guard isRecording else { return false }
        guard !paused.exchange(true, ordering: .sequentiallyConsistent) else { return false }
        pauseChanges.add(1, ordering: .sequentiallyConsistent)
        return true
    }
    /// Resumes a paused recording: frames are written again from the next writer batch on.
    /// Returns true if it was recording and paused.
    @discardableResult
    public func resume() -> Bool {
        guard isRecording else { return false }
        guard paused.exchange(false, ordering: .sequentiallyConsistent) else { return false }
        pauseChanges.add(1, ordering: .sequentiallyConsistent)
        return true
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

    // MARK: Pre-roll and the level trigger (CaptureDeck extensions)

    /// The pre-record buffer: a recording started while the session runs begins with up to this
    /// many seconds (0–60) of the audio delivered just before its first live frame, then goes on
    /// with the live frames, sample-contiguous. It holds only what was captured since the input
    /// opened (each run's start empties it) and since the last recording started (no frame is in
    /// two files). Its memory, allocated when set and when the input opens, never on the writer
    /// queue: seconds × rate × channels × bytes per sample (60 s of 48 kHz stereo S16: 11 MiB).
    /// Setting it empties the buffer. 0: none.
    public var preRollSeconds: Double {
        get { Double(bitPattern: preRollShown.load(ordering: .relaxed)) }
        set {
            let seconds = newValue.isFinite ? Swift.min(60, Swift.max(0, newValue)) : 0
            preRollShown.store(seconds.bitPattern, ordering: .relaxed)
            current.withLock { _ in
                side.withLock { s in
                    s.preRollSeconds = seconds
                    s.prepare(streamFormat.withLock { $0 }, opened: true)
                }
            }
            preRollHeld.store(0, ordering: .relaxed)
        }
    }
    /// Frames the pre-roll holds now (it fills from 0 towards `preRollSeconds` of frames).
    public var preRollHeldFrames: Int { preRollHeld.load(ordering: .relaxed) }

    /// The current recording's first sample (pre-roll included) and its wall-clock time; nil
    /// when not recording and until the recording's first frame has arrived.
    public var currentTake: RecordingTake? { shownTake.withLock { $0 } }

    /// Arms voice-activated recording: from the next writer batch on, takes start and end by
    /// themselves as `trigger` says, each in its own file from `files`, each beginning with the
    /// pre-roll (so the first syllable is kept: set `preRollSeconds`). Decided on the writer
    /// queue, frame-exact at 10 ms block ends. Each take is reported to the recording-finished
    /// handler as it ends (`.stopped`); a file that can't be created disarms the trigger
    /// (reported `.failed`, kept in `error`). While a recording started by hand runs, the trigger
    /// waits. Re-arming replaces the trigger.
    public func armTrigger(_ trigger: LevelTrigger, files: TriggeredTakeFiles) {
        current.withLock { _ in
            side.withLock { s in
                let format = streamFormat.withLock { $0 }
                s.machine = TriggerMachine(trigger, sampleRate: format.sampleRate)
                s.takeFiles = files
                s.prepare(format, opened: false)
            }
        }
        triggerShown.withLock { $0 = trigger }
        triggerCode.store(Self.code(.armed), ordering: .relaxed)
    }

    /// Disarms the trigger; a take it started ends (reported `.stopped`). Returns that take's
    /// path and frames, if one was recording.
    @discardableResult
    public func disarmTrigger() throws(RecordingError) -> (path: String, frames: Int)? {
        let wasRecording = current.withLock { c in
            side.withLock { s in
                s.machine = nil
                s.prepare(streamFormat.withLock { $0 }, opened: false)
            }
            return c?.triggered == true
        }
        triggerShown.withLock { $0 = nil }
        triggerCode.store(Self.code(.off), ordering: .relaxed)
        return wasRecording ? try stopRecording() : nil
    }

    public var triggerState: TriggerState {
        switch triggerCode.load(ordering: .relaxed) { case 1: .armed; case 2: .triggered; case 3: .holding; default: .off }
    }
    /// Takes the trigger has started since the output was created.
    public var triggeredTakeCount: Int { triggerTakes.load(ordering: .relaxed) }
    /// The trigger's settings while armed.
    public var trigger: LevelTrigger? { triggerShown.withLock { $0 } }

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

    // MARK: Splitting (the recording goes on in the next part, sample-contiguous)

    /// Each part holds at most this many frames, then the next part begins with the next frame.
    /// nil (or ≤ 0): no limit. Applies to the part in progress too, from the next writer batch.
    public var splitFrames: Int? {
        get { limits.withLock { $0.splitFrames } }
        set { limits.withLock { $0.splitFrames = newValue.flatMap { $0 > 0 ? $0 : nil } } }
    }
    /// Each part holds at most this many bytes of audio data (counted as `maxRecordedFileSize`
    /// counts them; at least one frame), then the next part begins. nil (or ≤ 0): no limit.
    public var splitFileSize: Int? {
        get { limits.withLock { $0.splitBytes } }
        set { limits.withLock { $0.splitBytes = newValue.flatMap { $0 > 0 ? $0 : nil } } }
    }
    /// The part being recorded (index 1 until the first split); nil when not recording.
    public var currentPart: RecordingPart? { shownPart.withLock { $0 } }

    /// Ends the current part and begins the next with the next frame the writer receives: the
    /// parts concatenated hold exactly what one file would. The next part's file is created here,
    /// before the seam; returns its path (nil: not recording, or the part has no frame yet, so
    /// there is nothing to split). The finished part is reported to the recording-finished
    /// handler (`.split`). Parts are named `FileNaming.partCandidate`; the first part keeps the
    /// name it was started with until it is finished at the first seam, then takes its number.
    @discardableResult
    public func splitRecording() throws(RecordingError) -> String? {
        guard let next = current.withLock({ c in c.flatMap { $0.recorder.framesWritten > 0 ? request($0) : nil } }) else { return nil }
        let made = preparing.sync { prepareSpare(next) }
        let path = try made?.get()
        if path != nil { splitAsked.store(true, ordering: .relaxed) }
        return path
    }

    /// Has the next part made ahead on `preparing`, once per part.
    private func askForSpare(_ next: PartRequest) {
        guard spareAskedFor.exchange(next.part, ordering: .relaxed) != next.part else { return }
        preparing.async { [self] in _ = prepareSpare(next) }
    }

    /// On `preparing`: creates the part's file (unless it is ready) and returns its path; nil
    /// when its recording has ended. A file already there gets the collision number.
    private func prepareSpare(_ next: PartRequest) -> Result<String, RecordingError>? {
        guard take.load(ordering: .relaxed) == next.take else { return nil }
        let format = streamFormat.withLock { $0 }
        if let ready = spare.withLock({ $0 }), ready.take == next.take, ready.part == next.part, ready.recorder.format == format {
            return .success(ready.recorder.path)
        }
        // A stale one (another part, recording or format) goes; what was asked for stays asked.
        _ = spare.withLock { s -> (take: Int, part: Int, recorder: SndfileRecorder)? in defer { s = nil }; return s }?.recorder.discardEmpty()
        switch Self.makePart(next.part, of: next.first, format: format, fileType: next.fileType, fileFormat: next.fileFormat,
                             tags: next.tags, broadcast: next.broadcast, splitChannels: next.splitChannels) {
        case .success(let rec):
            spare.withLock { $0 = (next.take, next.part, rec) }
            return .success(rec.path)
        case .failure(let e):
            return .failure(e)
        }
    }

    private static func makePart(_ part: Int, of first: String, format: StreamFormat, fileType: FileType,
                                 fileFormat: FileSampleFormat?, tags: [FileTag: String],
                                 broadcast: BroadcastInfo?, splitChannels: Bool) -> Result<SndfileRecorder, RecordingError> {
        for attempt in 0..<10_000 {
            let path = FileNaming.partCandidate(of: first, part: part, attempt: attempt)
            do throws(RecordingError) {
                return .success(try SndfileRecorder(path: path, format: format, fileType: fileType, fileFormat: fileFormat,
                                                    tags: tags, broadcast: broadcast, splitChannels: splitChannels))
            } catch {
                if case .exists = error { continue }
                return .failure(error)
            }
        }
        return .failure(.exists(path: FileNaming.partCandidate(of: first, part: part, attempt: 9_999)))
    }

    /// Removes the file made ahead for a next part that won't come (it holds no frame).
    private func discardSpare(onPreparing: Bool = false) {
        let body = { [self] in
            if let s = spare.withLock({ s -> (take: Int, part: Int, recorder: SndfileRecorder)? in defer { s = nil }; return s }) {
                _ = s.recorder.discardEmpty()
            }
            spareAskedFor.store(0, ordering: .relaxed)
        }
        if onPreparing { body() } else { preparing.sync(execute: body) }
    }

    /// On the writer queue, under `current`'s lock: the part ends at stream frame `frame`, and
    /// the next (made ahead, or now if none is ready) begins there. The ended part is finished
    /// aside. Throws if the next part can't be created (the recording ends with the part it has).
    private func beginNextPart(_ c: inout Current, at frame: Int) throws(RecordingError) {
        c.streamEnd = frame
        c.placePending()  // markers before the seam stay in this part
        let wanted = request(c)
        let index = wanted.part
        let format = c.recorder.format
        func ready() -> SndfileRecorder? {
            spare.withLock { s -> SndfileRecorder? in
                guard let r = s, r.take == wanted.take, r.part == index, r.recorder.format == format else { return nil }
                s = nil
                return r.recorder
            }
        }
        var next = ready()
        if next == nil && spareAskedFor.load(ordering: .relaxed) == index {
            // Being made: wait for it rather than make another beside it (a file open's time).
            preparing.sync {}
            next = ready()
        }
        if next == nil {
            var t0 = timespec(), t1 = timespec()
            clock_gettime(CLOCK_MONOTONIC, &t0)
            next = try Self.makePart(index, of: c.firstPath, format: format, fileType: c.recorder.fileType,
                                     fileFormat: c.recorder.requestedFileFormat, tags: wanted.tags,
                                     broadcast: wanted.broadcast, splitChannels: wanted.splitChannels).get()
            clock_gettime(CLOCK_MONOTONIC, &t1)
            let ns = (t1.tv_sec - t0.tv_sec) * 1_000_000_000 + (t1.tv_nsec - t0.tv_nsec)
            if ns > seamCreate.load(ordering: .relaxed) { seamCreate.store(ns, ordering: .relaxed) }
            if spare.withLock({ $0 != nil }) { preparing.async { [self] in discardSpare(onPreparing: true) } }
        }
        guard let next else { return }
        splitAsked.store(false, ordering: .relaxed)
        let old = c.recorder, oldPart = c.part
        var part = RecordingPart(index: index, path: next.path, framesBefore: oldPart.framesBefore + old.framesWritten,
                                 streamFrame: frame, startedAt: timespec())
        clock_gettime(CLOCK_REALTIME, &part.startedAt)
        // The part's bext: the take's start, plus the frames of the parts before it, exactly.
        if var info = old.broadcast {
            info.sampleOffset = UInt64(part.framesBefore)
            info.originatorReference = nil
            next.restampBroadcast(info)
        }
        c.recorder = next
        c.part = part
        c.startFrame = frame
        c.skipped = []
        c.writtenSinceMeasure = 0
        shown.withLock { $0 = (next.path, 0) }
        shownPart.withLock { $0 = part }
        let first = c.firstPath, triggered = c.triggered, take = c.loudness
        take.left(old)  // in the take's figures while it is finished
        finishing.async { [self] in
            _ = finishNow(old, .split, nil, part: oldPart, numbering: oldPart.index == 1 ? first : nil, triggered: triggered, take: take)
        }
    }

    // RecordingSink (writer queue).
    public var path: String { recordingPath ?? "" }
    public var format: StreamFormat { sessionFormat }
    public var framesWritten: Int { position.load(ordering: .relaxed) }

    public func write(_ frames: UnsafeRawPointer, count: Int) throws(RecordingError) {
        let at = position.add(count, ordering: .releasing).newValue - count
        if at == 0 && count > 0 { StartupTrace.mark("first-frame") }
        defer { reportPlaced() }
        current.withLock { c in
            side.withLock { s in
                guard let meter = s.meter, s.machine != nil else {
                    deliver(&c, &s, frames, count: count, at: at)
                    return
                }
                // The trigger decides at each 10 ms block's end: deliver up to there, then look.
                let bpf = meter.format.bytesPerFrame
                var done = 0
                while done < count {
                    let n = Swift.min(count - done, meter.framesLeftInBlock)
                    let blocks = meter.finishedBlocks
                    meter.process(frames + done * bpf, frames: n)
                    deliver(&c, &s, frames + done * bpf, count: n, at: at + done)
                    done += n
                    if meter.finishedBlocks != blocks {
                        evaluate(&c, &s, peak: meter.blockPeak, start: at + done - meter.framesPerBlock, end: at + done)
                    }
                }
            }
        }
    }

    /// Frames [`at`, `at + count`) to the recording, or, with none, to the pre-roll.
    private func deliver(_ c: inout Current?, _ s: inout Side, _ frames: UnsafeRawPointer, count: Int, at: Int) {
        guard c != nil else {
            if let ring = s.ring {
                ring.append(frames, count: count)
                preRollHeld.store(Swift.min(ring.held, s.preRollFrames), ordering: .relaxed)
            }
            return
        }
        run(&c) { cur throws(RecordingError) -> RecordingEndReason? in
            if cur.startFrame == nil {
                // The new recording's first frame: the pre-roll's last frames go first (the ones
                // just before `at`, so the join is seamless), and its markers count from there.
                let pre = Swift.min(s.ring?.held ?? 0, cur.preRollLimit)
                let first = at - pre
                cur.startFrame = first
                cur.part.streamFrame = first
                let firstTime = wallClock(ofFrame: first, s)
                if let t = firstTime { cur.part.startedAt = t } else { clock_gettime(CLOCK_REALTIME, &cur.part.startedAt) }
                // The bext chunk's time is its first sample's (pre-roll included), not the time
                // the file was created (before the device opened, or long before a trigger),
                // when the running engine's clock tells it.
                if let firstTime, var info = cur.recorder.broadcast {
                    info.startedAt = firstTime
                    info.sampleOffset = 0
                    // The device it is captured from now (a take started after a route switch
                    // or another input isn't from the one the take was set up with).
                    if let note = inputRoute.withLock({ $0 }) { info.source = Self.describe(note.route) }
                    cur.recorder.restampBroadcast(info)
                }
                let part = cur.part
                shownPart.withLock { $0 = part }
                let take = RecordingTake(path: cur.recorder.path, firstFrame: first, preRollFrames: pre,
                                         triggered: cur.triggered, firstSampleTime: firstTime)
                shownTake.withLock { $0 = take }
                cur.placePending()
                if let ring = s.ring {
                    defer { ring.reset(); preRollHeld.store(0, ordering: .relaxed) }
                    var reached: RecordingEndReason?
                    var runAt = first
                    try ring.forEachRun(last: pre) { p, n throws(RecordingError) in
                        if reached == nil { reached = try put(&cur, p, count: n, at: runAt) }
                        runAt += n
                    }
                    if let reached { return reached }
                }
            }
            // Pausing and resuming mark the file where it pauses (both at the same frame: nothing
            // is written in between). A pause and a resume that both came between two batches
            // (a source that delivers in bursts) are marked too: the user's presses are kept.
            let changes = pauseChanges.load(ordering: .sequentiallyConsistent)
            let isPaused = paused.load(ordering: .sequentiallyConsistent)
            let unseen = cur.seenPauseChanges.map { changes - $0 } ?? 0
            cur.seenPauseChanges = changes
            var labels: [String] = []
            if unseen >= 2 && isPaused == cur.inPause { labels = cur.inPause ? ["resume", "pause"] : ["pause", "resume"] }
            if isPaused != cur.inPause { labels = (unseen >= 3 ? (cur.inPause ? ["resume", "pause"] : ["pause", "resume"]) : []) + [isPaused ? "pause" : "resume"] }
            cur.inPause = isPaused
            for label in labels {
                let m = RecordingMarker(frame: cur.recorder.framesWritten, label: label)
                cur.recorder.addMarker(m)
                cur.newlyPlaced.append(m)
            }
            if isPaused {
                if let last = cur.skipped.last, last.at + last.count == at {
                    cur.skipped[cur.skipped.count - 1].count += count
                } else {
                    cur.skipped.append((at, count))
                }
                cur.streamEnd = at + count
                cur.placePending()
                return nil
            }
            return try put(&cur, frames, count: count, at: at)
        }
    }

    /// Writes stream frames [`at`, `at + count`) as far as the limits let in, splitting where a
    /// part is full (or a split was asked for); says which limit the recording reached.
    private func put(_ c: inout Current, _ frames: UnsafeRawPointer, count: Int, at: Int) throws(RecordingError) -> RecordingEndReason? {
        // Frames are in the session's format; a file in another can't take them (its writer
        // would read past them or split them wrongly).
        let delivered = streamFormat.withLock { $0 }
        guard c.recorder.format == delivered else {
            throw .formatMismatch(path: c.recorder.path, recorded: c.recorder.format.description,
                                  delivered: delivered.description, framesSaved: c.recorder.framesWritten)
        }
        // The limits: write what still fits, and end the recording as soon as nothing more does.
        // Splitting: a full part (or a split asked for) ends before the next frame, which
        // begins the next part; a seam can fall anywhere in a batch.
        let l = limits.withLock { $0 }
        let bpf = c.recorder.fileBytesPerFrame
        var done = 0
        while done < count {
            let written = c.recorder.framesWritten
            var n = count - done
            var reached: RecordingEndReason?
            func fit(_ room: Int, _ reason: RecordingEndReason) {
                guard n >= room else { return }
                n = Swift.max(0, room)
                reached = reason
            }
            // Apple's limits count the whole recording, every part.
            let total = c.part.framesBefore + written
            if let max = l.frames { fit(max - total, .maximumDurationReached) }
            if let max = l.bytes { fit(max / bpf - total, .maximumFileSizeReached) }
            if let min = l.minFree {
                if c.measuredFree == nil { c.measureFree() }
                if let free = c.measuredFree { fit((free - c.writtenSinceMeasure - min) / bpf, .freeDiskSpaceLimitReached) }
            }
            var room = Int.max
            if let max = l.splitFrames { room = max - written }
            if let max = l.splitBytes { room = Swift.min(room, Swift.max(1, max / bpf) - written) }
            if splitAsked.load(ordering: .relaxed) {
                if written > 0 { room = 0 } else { splitAsked.store(false, ordering: .relaxed) }  // an empty part stays
            }
            if room <= 0 && n > 0 {
                try beginNextPart(&c, at: at + done)
                continue
            }
            if room < n { n = room; reached = nil }
            if n > 0 {
                try c.recorder.write(frames + done * delivered.bytesPerFrame, count: n)
                c.writtenSinceMeasure += n * bpf
                let total = c.recorder.framesWritten
                shown.withLock { $0.frames = total }
                done += n
            }
            if let reached { c.streamEnd = at + done; c.placePending(); return reached }
            // A limit's next part is made ahead, about 2 s before its seam.
            if room != Int.max && room - n <= 2 * delivered.sampleRate { askForSpare(request(c)) }
        }
        c.streamEnd = at + count
        c.placePending()
        return nil
    }

    /// The trigger's look at a finished block [`start`, `end`) whose peak was `peak`: it may
    /// start a take (its pre-roll ends with this block) or end its own.
    private func evaluate(_ c: inout Current?, _ s: inout Side, peak: Float, start: Int, end: Int) {
        guard var m = s.machine else { return }
        if let cur = c, !cur.triggered { return }  // a take started by hand: the trigger waits
        if c == nil && m.state != .armed { m.rearm() }  // its take ended some other way
        if c != nil && m.state == .armed { m.resume() }  // its take goes on (the trigger was re-armed)
        let action = m.block(peakDB: ChannelLevel.decibels(Double(peak)), start: start, end: end)
        s.machine = m
        switch action {
        case .none: break
        case .start: if c == nil { startTriggeredTake(&c, &s) }
        case .stop:
            guard var cur = c else { break }
            c = nil
            tookOut(cur)
            cur.streamEnd = .max  // markers past the last frame go in as before
            cur.placePending()
            finishAside(cur.recorder, .stopped, nil, part: cur.part.index > 1 ? cur.part : nil, triggered: true, take: cur.loudness)
        }
        triggerCode.store(Self.code(s.machine?.state ?? .off), ordering: .relaxed)
    }

    /// Creates the next triggered take's file (writer queue: the trigger's start must not wait
    /// for another queue, or the take would begin late). A name that exists takes the next
    /// attempt; any other failure disarms the trigger, reported like a failed recording.
    private func startTriggeredTake(_ c: inout Current?, _ s: inout Side) {
        guard let files = s.takeFiles else { return }
        s.takes += 1
        triggerTakes.store(s.takes, ordering: .relaxed)
        var failure: RecordingError?
        var attempt = 0
        while let path = files.path(s.takes, attempt) {
            do throws(RecordingError) {
                let rec = try SndfileRecorder(path: path, format: streamFormat.withLock { $0 }, fileType: files.fileType,
                                              fileFormat: files.fileFormat, tags: files.tags, broadcast: files.broadcast,
                                              splitChannels: splitsChannels)
                var new = Current(recorder: rec)
                new.triggered = true
                new.preRollLimit = s.ring?.capacity ?? 0
                if limits.withLock({ $0.minFree != nil }) { new.measureFree() }
                take.add(1, ordering: .relaxed)
                c = new
                latestTake.withLock { $0 = new.loudness }
                shown.withLock { $0 = (path, 0) }
                shownPart.withLock { $0 = new.part }
                placedMarkers.withLock { $0 = ([], 0) }
                paused.store(false, ordering: .relaxed)
                return
            } catch {
                failure = error
                if case .exists = error { attempt += 1; continue }
                break
            }
        }
        let e = failure ?? .cannotCreate(path: "take \(s.takes)", reason: "no file name left for it")
        s.machine = nil
        s.meter = nil
        triggerShown.withLock { $0 = nil }
        lastError.withLock { $0 = e }
        let path: String = if case .exists(let p) = e { p } else if case .cannotCreate(let p, _) = e { p } else { "" }
        finishing.async { [self] in notify(FinishedRecording(path: path, frames: 0, reason: .failed, error: e)) }
    }

    private static func code(_ state: TriggerState) -> Int {
        switch state { case .off: 0; case .armed: 1; case .triggered: 2; case .holding: 3 }
    }

    /// CLOCK_REALTIME of this output's frame `frame`, from the running engine's clock.
    private func wallClock(ofFrame frame: Int, _ s: Side) -> timespec? {
        guard let (clock, base) = s.clock else { return nil }
        let host = clock.hostNanos(at: clock.startPosition + frame - base)
        guard host != 0 else { return nil }
        var mono = timespec(), real = timespec()
        clock_gettime(CLOCK_MONOTONIC, &mono)
        clock_gettime(CLOCK_REALTIME, &real)
        let offset = (Int64(real.tv_sec) - Int64(mono.tv_sec)) * 1_000_000_000 + Int64(real.tv_nsec) - Int64(mono.tv_nsec)
        let t = Int64(host) + offset
        return timespec(tv_sec: Int(t / 1_000_000_000), tv_nsec: Int(t % 1_000_000_000))
    }

    /// A route as the bext coding history names it (`BroadcastInfo.routeLine`'s words).
    static func describe(_ route: Route) -> String { "\(route.pcm) (\(route.kind.rawValue) route)" }

    private func clearShown() {
        shown.withLock { $0 = (nil, 0) }
        shownTake.withLock { $0 = nil }
        shownPart.withLock { $0 = nil }
    }

    /// The fan-out of a run this output joins: its clock, and this output's frame at the run's
    /// frame 0 (for `RecordingTake.firstSampleTime`).
    func attach(clock: RunClock, base: Int) {
        side.withLock { $0.clock = (clock, base) }
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
        current.withLock { c in run(&c, body) }
    }

    /// `attempt` with `current`'s lock held.
    private func run(_ c: inout Current?, _ body: (inout Current) throws(RecordingError) -> RecordingEndReason?) {
        guard var cur = c else { return }
        var ended: (RecordingEndReason, RecordingError?)?
        do throws(RecordingError) {
            if let reason = try body(&cur) { ended = (reason, nil) }
        } catch {
            ended = (.failed, error)
        }
        guard let (reason, error) = ended else { c = cur; return }
        c = nil
        tookOut(cur)
        finishAside(cur.recorder, reason, error, part: cur.part.index > 1 ? cur.part : nil, triggered: cur.triggered, take: cur.loudness)
    }

    /// Under `current`'s lock: the recording `cur` has just been taken out of it, behind its
    /// owner's back (a limit, a failure, the trigger). Readers stop seeing it, and a next part
    /// made ahead for it goes.
    private func tookOut(_ cur: Current) {
        take.add(1, ordering: .relaxed)
        clearShown()
        paused.store(false, ordering: .relaxed)
        preparing.async { [self] in discardSpare(onPreparing: true) }
    }

    /// A recording ended behind its owner's back (a limit, a failure): finish the file with every
    /// frame it holds on `finishing`, then report it. Called under `current`'s lock, so a later
    /// recording's finish queues after this one.
    private func finishAside(_ rec: SndfileRecorder, _ reason: RecordingEndReason, _ error: RecordingError?,
                             part: RecordingPart? = nil, triggered: Bool = false, take: TakeLoudness) {
        take.left(rec)  // in the take's figures while it is finished
        finishing.async { [self] in _ = finishNow(rec, reason, error, part: part, triggered: triggered, take: take) }
    }

    /// On `finishing`: finishes `rec`, publishes a failure's error (the first one, unless
    /// finishing found the file deleted: its error says where the audio went), reports the
    /// recording to the handler, and returns the error finishing it met (or the failure's).
    /// A split recording's first part (`numbering`: its path) takes its number once finished.
    private func finishNow(_ rec: SndfileRecorder, _ reason: RecordingEndReason, _ failure: RecordingError?,
                           part: RecordingPart? = nil, numbering first: String? = nil, triggered: Bool = false,
                           take: TakeLoudness) -> RecordingError? {
        var final = failure
        take.left(rec)
        do throws(RecordingError) {
            try rec.finish()
        } catch {
            if failure == nil { final = error } else if case .vanished = error { final = error }
        }
        take.finished(rec)
        if reason == .failed { lastError.withLock { $0 = final } }
        var path = rec.path
        if let first, final == nil { path = Self.number(first, files: rec.splitsChannels ? rec.format.channels : nil) }
        notify(FinishedRecording(path: path, frames: rec.framesWritten, reason: reason, error: final,
                                 part: part.map { var p = $0; p.path = path; return p }, triggered: triggered))
        return final
    }

    /// Gives a split recording's finished first part its number, never replacing a file (a
    /// hard link, then the old name removed; its marker sidecar, if one stayed, alike). Returns
    /// the path it has now (the old one if the filesystem can't link).
    /// One file per channel (`channels`): each channel's file takes the number, all with the
    /// same attempt (`take-ch01.wav` → `take-001-ch01.wav`), or none is renamed.
    private static func number(_ first: String, files channels: Int? = nil) -> String {
        let names = { (p: String) in channels.map { FileNaming.channelFiles(of: p, channels: $0) } ?? [p] }
        for attempt in 0..<10_000 {
            let to = FileNaming.partCandidate(of: first, part: 1, attempt: attempt)
            let pairs = Array(zip(names(first), names(to)))
            var linked = 0
            while linked < pairs.count && link(pairs[linked].0, pairs[linked].1) == 0 { linked += 1 }
            if linked == pairs.count {
                for (from, into) in pairs {
                    unlink(from)
                    let sidecar = MarkerSidecar.path(for: from)
                    if link(sidecar, MarkerSidecar.path(for: into)) == 0 { unlink(sidecar) }
                }
                return to
            }
            let e = errno
            for (_, into) in pairs[..<linked] { unlink(into) }
            if e != EEXIST { return first }
        }
        return first
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
        if let note = marker.route { inputRoute.withLock { $0 = note } }
        current.withLock { c in
            guard c != nil else { return }
            c!.place(marker)
        }
        reportPlaced()
    }

    /// Moves the markers placed since the last look into `recentMarkers`.
    private func reportPlaced() {
        let placed = current.withLock { c -> [RecordingMarker] in
            guard let n = c?.newlyPlaced, !n.isEmpty else { return [] }
            c?.newlyPlaced = []
            return n
        }
        for m in placed { self.placed(m) }
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
