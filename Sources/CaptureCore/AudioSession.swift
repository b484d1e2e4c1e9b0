// The application audio session: a model of AVAudioSession's recording-relevant state.
import Synchronization

/// AVAudioSession categories (Apple's names). `soloAmbient` is Apple's default.
public enum AudioSessionCategory: String, CaseIterable, Sendable, Codable {
    case ambient, soloAmbient, playback, record, playAndRecord

    /// Whether a session in this category may capture audio.
    public var permitsRecording: Bool { self == .record || self == .playAndRecord }
}

/// AVAudioSession category options that matter for capture.
public struct AudioSessionOptions: OptionSet, Sendable, Hashable, CustomStringConvertible {
    public let rawValue: Int
    public init(rawValue: Int) { self.rawValue = rawValue }

    /// Other apps' audio keeps playing alongside this session.
    public static let mixWithOthers = AudioSessionOptions(rawValue: 1)
    /// Bluetooth hands-free (HFP, narrowband) inputs may be used.
    public static let allowBluetoothHFP = AudioSessionOptions(rawValue: 2)
    /// Prefer full-bandwidth Bluetooth recording; falls back to HFP where the route can't.
    public static let bluetoothHighQualityRecording = AudioSessionOptions(rawValue: 4)

    public static let all: [(AudioSessionOptions, String)] = [
        (.mixWithOthers, "mixWithOthers"), (.allowBluetoothHFP, "allowBluetoothHFP"),
        (.bluetoothHighQualityRecording, "bluetoothHighQualityRecording"),
    ]

    public var names: [String] { Self.all.filter { contains($0.0) }.map(\.1) }
    public var description: String { names.isEmpty ? "none" : names.joined(separator: ", ") }
}

/// A value snapshot of the application audio session.
public struct AudioSessionState: Equatable, Sendable {
    public var category: AudioSessionCategory = .soloAmbient
    public var options: AudioSessionOptions = []
    /// Preferred sample rate in Hz (nil: no preference).
    public var preferredSampleRate: Int?
    /// Preferred I/O buffer duration in seconds (nil: no preference).
    public var preferredIOBufferDuration: Double?
    /// Preferred input (a device catalog input name; nil: the default input).
    public var preferredInput: String?

    public init(category: AudioSessionCategory = .soloAmbient, options: AudioSessionOptions = [],
                preferredSampleRate: Int? = nil, preferredIOBufferDuration: Double? = nil,
                preferredInput: String? = nil) {
        self.category = category
        self.options = options
        self.preferredSampleRate = preferredSampleRate
        self.preferredIOBufferDuration = preferredIOBufferDuration
        self.preferredInput = preferredInput
    }
}

/// The application's audio session (one per process in Apple's model; here an object you create
/// and share). Thread-safe: any thread may read or change it; observers hear every change.
public final class ApplicationAudioSession: Sendable {
    private let state: Mutex<AudioSessionState>
    private let observers = Broadcaster<AudioSessionState>()

    public init(_ initial: AudioSessionState = AudioSessionState()) {
        state = Mutex(initial)
    }

    /// The current state.
    public var current: AudioSessionState { state.withLock { $0 } }
    public var category: AudioSessionCategory { current.category }
    public var options: AudioSessionOptions { current.options }

    public func setCategory(_ category: AudioSessionCategory, options: AudioSessionOptions = []) {
        update { $0.category = category; $0.options = options }
    }
    public func setPreferredSampleRate(_ rate: Int?) { update { $0.preferredSampleRate = rate } }
    public func setPreferredIOBufferDuration(_ seconds: Double?) { update { $0.preferredIOBufferDuration = seconds } }
    public func setPreferredInput(_ input: String?) { update { $0.preferredInput = input } }

    /// Replaces the whole state (used by the capture session's automatic configuration).
    public func apply(_ new: AudioSessionState) { update { $0 = new } }

    /// Applies `change` and notifies observers if anything changed.
    public func update(_ change: (inout AudioSessionState) -> Void) {
        let (old, new) = state.withLock { s -> (AudioSessionState, AudioSessionState) in
            let old = s
            change(&s)
            return (old, s)
        }
        guard old != new else { return }
        observers.send(new)
    }

    /// Calls `handler` (on the changing thread) after every change. Returns a token for `removeObserver`.
    @discardableResult
    public func observe(_ handler: @escaping @Sendable (AudioSessionState) -> Void) -> Int {
        observers.add(handler)
    }

    public func removeObserver(_ token: Int) { observers.remove(token) }

    /// Every change as an async sequence.
    public var changes: AsyncStream<AudioSessionState> { observers.stream() }
}
