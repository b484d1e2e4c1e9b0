// The file output's writer side between takes: the pre-roll ring (the last seconds before a take
// starts) and the level trigger that starts and ends takes by themselves (voice activation).
import CaptureCore
import CaptureFiles
import Glibc

/// The last frames delivered while no take records, up to its capacity, oldest dropped first.
/// Allocated once (when the input opens or the pre-roll changes), never on the writer queue; the
/// writer only copies into it. Used under the file output's `side` lock.
final class PreRollRing {
    let format: StreamFormat
    /// Frames it can hold.
    let capacity: Int
    private let storage: UnsafeMutableRawPointer
    /// Where the next frame goes.
    private var end = 0
    /// Frames held (≤ capacity).
    private(set) var held = 0

    init(format: StreamFormat, frames: Int) {
        self.format = format
        capacity = Swift.max(1, frames)
        storage = .allocate(byteCount: capacity * format.bytesPerFrame, alignment: 16)
    }

    deinit { storage.deallocate() }

    func reset() { end = 0; held = 0 }

    /// Appends `count` frames, keeping the last `capacity`. Allocation-free.
    func append(_ frames: UnsafeRawPointer, count: Int) {
        let bpf = format.bytesPerFrame
        let n = Swift.min(count, capacity)
        var src = frames + (count - n) * bpf
        var left = n
        while left > 0 {
            let run = Swift.min(left, capacity - end)
            (storage + end * bpf).copyMemory(from: src, byteCount: run * bpf)
            src += run * bpf
            end = (end + run) % capacity
            left -= run
        }
        held = Swift.min(capacity, held + n)
    }

    /// The last `n` frames held (at most `held`), oldest first, in up to two contiguous runs.
    func forEachRun<E: Error>(last n: Int, _ body: (UnsafeRawPointer, Int) throws(E) -> Void) throws(E) {
        let n = Swift.min(n, held)
        guard n > 0 else { return }
        let bpf = format.bytesPerFrame
        let start = (end - n + capacity) % capacity
        let first = Swift.min(n, capacity - start)
        try body(UnsafeRawPointer(storage + start * bpf), first)
        if n > first { try body(UnsafeRawPointer(storage), n - first) }
    }
}

/// What the level trigger is doing (the console and `status` show it).
public enum TriggerState: String, Sendable, Equatable {
    /// No trigger set.
    case off
    /// Waiting for the level to reach the start threshold.
    case armed
    /// A take is recording; the level is at or above the stop threshold.
    case triggered
    /// A take is recording; the level has been below the stop threshold for less than the hold.
    case holding
}

/// Voice-activated recording: thresholds with hysteresis and a hang time.
///
/// Each 10 ms block's sample peak (the loudest channel; the level meter's sub-block) is compared
/// with the thresholds: a take starts at the end of the first block at or above `startLevel`,
/// beginning with the pre-roll and that block; it goes on while blocks reach `stopLevel`, and ends
/// once every block for `holdSeconds` has stayed below it (the quiet tail is in the take). A block
/// at or above `stopLevel` while holding cancels the hold.
public struct LevelTrigger: Sendable, Equatable {
    /// dBFS (sample peak) that starts a take.
    public var startLevel: Double
    /// dBFS below which the take's hold begins (at most `startLevel`).
    public var stopLevel: Double
    /// Seconds below `stopLevel` before the take ends.
    public var holdSeconds: Double

    /// How far below the start threshold the stop threshold is by default.
    public static let defaultHysteresis = 6.0
    public static let defaultHoldSeconds = 2.0

    public init(startLevel: Double, stopLevel: Double? = nil, holdSeconds: Double = LevelTrigger.defaultHoldSeconds) {
        self.startLevel = startLevel
        self.stopLevel = Swift.min(startLevel, stopLevel ?? startLevel - LevelTrigger.defaultHysteresis)
        self.holdSeconds = Swift.max(0, holdSeconds)
    }
}

/// The trigger's state machine over block levels (writer queue, under the `side` lock).
struct TriggerMachine {
    enum Action { case none, start, stop }
    let trigger: LevelTrigger
    let holdFrames: Int
    private(set) var state: TriggerState = .armed
    /// The first frame of the quiet run while holding.
    private var quietSince = 0

    init(_ trigger: LevelTrigger, sampleRate: Int) {
        self.trigger = trigger
        holdFrames = Int((trigger.holdSeconds * Double(sampleRate)).rounded())
    }

    /// The take ended some other way (stopped, a limit): wait for the next start.
    mutating func rearm() { state = .armed }
    /// A take of its own is recording (the trigger was set again during it).
    mutating func resume() { if state == .armed { state = .triggered } }

    /// A block of frames [`start`, `end`) whose peak was `peakDB`.
    mutating func block(peakDB: Double, start: Int, end: Int) -> Action {
        switch state {
        case .off:
            return .none
        case .armed:
            guard peakDB >= trigger.startLevel else { return .none }
            state = .triggered
            return .start
        case .triggered:
            if peakDB < trigger.stopLevel {
                state = .holding
                quietSince = start
                return end - quietSince >= holdFrames ? finish() : .none
            }
            return .none
        case .holding:
            if peakDB >= trigger.stopLevel { state = .triggered; return .none }
            return end - quietSince >= holdFrames ? finish() : .none
        }
    }

    private mutating func finish() -> Action {
        state = .armed
        return .stop
    }
}

/// A recording's first sample, pre-roll included: what a Broadcast Wave TimeReference needs.
public struct RecordingTake: Sendable, Equatable {
    public var path: String
    /// The output's frame (in the count `addMarker` uses: every frame delivered to it since it
    /// was created) of the file's first sample.
    public var firstFrame: Int
    /// Frames of pre-roll the file begins with (the live take starts at `firstFrame + preRollFrames`).
    public var preRollFrames: Int
    /// Whether the level trigger started it.
    public var triggered: Bool
    /// CLOCK_REALTIME of the first sample, from the engine's clock (its start time plus the
    /// frames since, at the nominal rate); nil if the engine's start time wasn't known.
    public var firstSampleTime: timespec?

    public static func == (a: RecordingTake, b: RecordingTake) -> Bool {
        a.path == b.path && a.firstFrame == b.firstFrame && a.preRollFrames == b.preRollFrames && a.triggered == b.triggered
            && a.firstSampleTime?.tv_sec == b.firstSampleTime?.tv_sec && a.firstSampleTime?.tv_nsec == b.firstSampleTime?.tv_nsec
    }
}

/// Where a level trigger's takes go.
public struct TriggeredTakeFiles: Sendable {
    public var fileType: FileType
    public var fileFormat: FileSampleFormat?
    /// The path for take `take` (1 the first), `attempt` counting from 0 while the names it gave
    /// exist (files are never overwritten); nil: no name left. Called on the writer queue.
    public var path: @Sendable (_ take: Int, _ attempt: Int) -> String?
    /// Every take's tags and `bext` chunk (`CaptureAudioFileOutput.startRecording`); the chunk's
    /// time is set to each take's first sample, pre-roll included.
    public var tags: [FileTag: String]
    public var broadcast: BroadcastInfo?

    public init(fileType: FileType, fileFormat: FileSampleFormat? = nil, tags: [FileTag: String] = [:],
                broadcast: BroadcastInfo? = nil, path: @escaping @Sendable (_ take: Int, _ attempt: Int) -> String?) {
        self.fileType = fileType
        self.fileFormat = fileFormat
        self.tags = tags
        self.broadcast = broadcast
        self.path = path
    }
}
