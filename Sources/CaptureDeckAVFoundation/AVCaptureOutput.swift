// AVCaptureOutput, the connections between a session's input and its outputs, and the audio
// channels (levels, volume) of a connection.
import CaptureCore
import CaptureDeck
import Foundation

/// The abstract base of the outputs (`AVCaptureAudioDataOutput`, `AVCaptureAudioFileOutput`,
/// `AVCaptureAudioPreviewOutput`). Its connections appear when it and an input are in one session.
///
/// `@unchecked Sendable` (as Apple's capture objects are used from any queue): its mutable state
/// is behind `lock`.
public class AVCaptureOutput: NSObject, @unchecked Sendable {
    let lock = NSLock()
    private var _connections: [AVCaptureConnection] = []
    private weak var _session: AVCaptureSession?
    /// The CaptureDeck output the session adds for this one.
    let coreOutput: any CaptureDeck.CaptureOutput

    init(core: any CaptureDeck.CaptureOutput) {
        coreOutput = core
    }

    /// The connections feeding this output (one per input in its session: audio capture has one).
    public var connections: [AVCaptureConnection] { lock.withLock { _connections } }

    /// The first connection whose input ports carry `mediaType`.
    public func connection(with mediaType: AVMediaType) -> AVCaptureConnection? {
        connections.first { c in c.inputPorts.contains { $0.mediaType == mediaType } }
    }

    /// Whether the session connects this output to its input by itself (false once added with
    /// `addOutputWithNoConnections`, until `addConnection`).
    var connectsAutomatically = true

    /// The session this output is in (nil when in none).
    var session: AVCaptureSession? { lock.withLock { _session } }

    /// The session added this output, or changed its input: `connection` is the one connection
    /// (nil: no input, so no connection).
    func attach(to session: AVCaptureSession?, connection: AVCaptureConnection?) {
        lock.withLock {
            _session = session
            _connections = connection.map { [$0] } ?? []
        }
        connectionsChanged()
    }

    /// Subclasses: the session's connections to this output changed, or one was enabled or disabled.
    func connectionsChanged() {}

    /// Whether media flows to this output: it has a connection and the connection is enabled.
    var isFed: Bool { connections.first?.isEnabled ?? false }
}

/// The link between a session's input ports and one output. Disabling it stops the flow to that
/// output: a data output delivers no buffers, a preview output plays silence, and a file output
/// records nothing while it is disabled, as if paused (Linux: Apple documents no effect on a file's
/// timeline; CaptureDeck's files skip those frames).
public class AVCaptureConnection: NSObject, @unchecked Sendable {
    /// The input ports the connection takes media from.
    public let inputPorts: [AVCaptureInput.Port]
    private weak var _output: AVCaptureOutput?
    private let lock = NSLock()
    private var _enabled = true
    private var _channels: [AVCaptureAudioChannel] = []
    weak var session: AVCaptureSession?

    /// A connection between `ports` and `output`, for `AVCaptureSession.addConnection(_:)`.
    public init(inputPorts ports: [AVCaptureInput.Port], output: AVCaptureOutput) {
        inputPorts = ports
        _output = output
    }

    /// The output the connection feeds.
    public var output: AVCaptureOutput? { _output }

    /// Whether media flows through the connection (true by default).
    public var isEnabled: Bool {
        get { lock.withLock { _enabled } }
        set {
            lock.withLock { _enabled = newValue }
            _output?.connectionsChanged()
        }
    }

    /// Whether the connection is enabled and its session is running.
    public var isActive: Bool { isEnabled && (session?.isRunning ?? false) }

    /// One channel per channel of the input's audio, with its levels (see `AVCaptureAudioChannel`).
    public var audioChannels: [AVCaptureAudioChannel] {
        let count = session?.channelCount ?? 0
        return lock.withLock {
            if _channels.count != count {
                _channels = (0..<count).map { i in i < _channels.count ? _channels[i] : AVCaptureAudioChannel(connection: self, index: i) }
            }
            return _channels
        }
    }

    /// Per-channel gain and mute (`AVCaptureAudioChannel.volume`/`isEnabled`), for the outputs that
    /// apply them; nil when every channel is at unity and enabled (nothing to do).
    func channelGains(count: Int) -> [Float]? {
        let channels = lock.withLock { _channels }
        guard !channels.isEmpty else { return nil }
        let gains = (0..<count).map { i in i < channels.count ? channels[i].effectiveGain : 1 }
        return gains.allSatisfy { $0 == 1 } ? nil : gains
    }
}

/// One channel of a connection: its levels, and (as on macOS) its volume and whether it is enabled.
///
/// Linux: the levels are CaptureDeck's meters, read when asked. `averagePowerLevel` is the RMS
/// over the last ~300 ms (a sliding window of 10 ms blocks) in dBFS (a full-scale sine reads
/// −3.01 dB); `peakHoldLevel` is the highest sample peak of the last ~1.5 s in dBFS. Apple
/// documents neither integration time. Silence reads −120 dB (Apple's meters also bottom out at
/// a finite floor). Both are the session's input's levels, before `volume`.
public class AVCaptureAudioChannel: NSObject, @unchecked Sendable {
    private weak var connection: AVCaptureConnection?
    private let index: Int
    private let lock = NSLock()
    private var _volume: Float = 1
    private var _enabled = true

    init(connection: AVCaptureConnection, index: Int) {
        self.connection = connection
        self.index = index
    }

    private var level: ChannelLevel {
        let levels = connection?.session?.captureDeckSession.meterBoard.snapshot() ?? []
        return index < levels.count ? levels[index] : .silent
    }

    /// The channel's average power level, in dB (see the type's note for the window).
    public var averagePowerLevel: Float { Float(level.rmsDB) }
    /// The channel's peak hold level, in dB (see the type's note for the hold time).
    public var peakHoldLevel: Float { Float(level.holdDB) }

    /// The gain applied to this channel for the connection's output, 0...1 (values outside are
    /// clamped). Linux: applied by data outputs; file and preview outputs take the input as it is.
    public var volume: Float {
        get { lock.withLock { _volume } }
        set { lock.withLock { _volume = min(1, max(0, newValue.isNaN ? 1 : newValue)) } }
    }

    /// Whether the channel is passed to the output (a disabled channel is silence), with the same
    /// Linux note as `volume`.
    public var isEnabled: Bool {
        get { lock.withLock { _enabled } }
        set { lock.withLock { _enabled = newValue } }
    }

    var effectiveGain: Float { lock.withLock { _enabled ? _volume : 0 } }
}
