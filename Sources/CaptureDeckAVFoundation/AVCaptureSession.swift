// AVCaptureSession: Apple's session over CaptureDeck's CaptureSession.
import CaptureCore
import CaptureDeck
import Foundation

/// Coordinates an audio input and outputs (Apple's `AVCaptureSession`), over CaptureDeck's
/// `CaptureSession` (`captureDeckSession`), which does the work: the engine, the state machine,
/// route re-negotiation and the four audio-session properties with Apple's rules.
///
/// As on Apple's platforms: `startRunning()` and `stopRunning()` block until done (call them off
/// the main thread); inputs and outputs may be added and removed while running (inside
/// `beginConfiguration()`/`commitConfiguration()` to apply several at once); state changes are
/// posted to `NotificationCenter.default` with the session as the object, from a queue of the
/// session's (not the main queue).
///
/// Linux: one audio input per session (audio capture on Apple's platforms has one microphone input
/// too; `canAddInput` says no to a second). Observe notifications with the block-based
/// `addObserver(forName:object:queue:using:)`: `#selector` needs the Objective-C runtime, which
/// Linux doesn't have.
///
/// `@unchecked Sendable` (Apple's sessions are used from any queue): its mutable state is behind
/// `lock`; CaptureDeck's session has its own locks and queues.
public class AVCaptureSession: NSObject, @unchecked Sendable {
    /// The CaptureDeck session underneath, for what Apple's API has no words for (the current
    /// route, frames captured, xruns, reconnection to lost devices, real-time priority).
    public let captureDeckSession: CaptureSession

    private let lock = NSLock()
    private var _inputs: [AVCaptureInput] = []
    private var _outputs: [AVCaptureOutput] = []
    private var _preset: Preset = .high
    /// The CaptureDeck input made for the device input under the preset, as added to the core.
    private var coreInput: CaptureDeviceInput?
    private var eventToken = 0
    private var deviceObserver: (any NSObjectProtocol)?

    /// A session with Apple's behaviour: a lost device ends capture with a runtime error
    /// (`deviceWasDisconnected`) and the session stops — CaptureDeck's own reconnection is off
    /// (`captureDeckSession.reconnectsLostDevices = true` turns it on: the session then waits
    /// for the device, interrupted with the CaptureDeck reason `audioDeviceDisconnected`).
    public override init() {
        captureDeckSession = CaptureSession()
        captureDeckSession.reconnectsLostDevices = false
        super.init()
        eventToken = captureDeckSession.onEvent { [weak self] event in self?.post(event) }
        // A device that disappears while captured from: a sound server moves its stream to
        // another source without an error, so the capture would quietly go on from another
        // device. Apple's session fails with deviceWasDisconnected instead: so does this one.
        deviceObserver = NotificationCenter.default.addObserver(forName: .AVCaptureDeviceWasDisconnected, object: nil, queue: nil) {
            [weak self] note in
            guard let device = note.object as? AVCaptureDevice else { return }
            self?.deviceDisconnected(device)
        }
    }

    deinit {
        if let deviceObserver { NotificationCenter.default.removeObserver(deviceObserver) }
        captureDeckSession.removeHandler(eventToken)
        if captureDeckSession.isRunning || captureDeckSession.isInterrupted { captureDeckSession.stopRunning() }
    }

    // MARK: The four audio-session properties (Apple's defaults and rules; see Docs/audio-session.md)

    public var usesApplicationAudioSession: Bool {
        get { captureDeckSession.usesApplicationAudioSession }
        set { captureDeckSession.usesApplicationAudioSession = newValue }
    }
    public var automaticallyConfiguresApplicationAudioSession: Bool {
        get { captureDeckSession.automaticallyConfiguresApplicationAudioSession }
        set { captureDeckSession.automaticallyConfiguresApplicationAudioSession = newValue }
    }
    /// Linux: off (Apple's default) takes the device exclusively (ALSA hardware, or the card
    /// reserved from the sound server) and pauses other audio; on shares it (dsnoop or the server).
    public var configuresApplicationAudioSessionToMixWithOthers: Bool {
        get { captureDeckSession.configuresApplicationAudioSessionToMixWithOthers }
        set { captureDeckSession.configuresApplicationAudioSessionToMixWithOthers = newValue }
    }
    public var configuresApplicationAudioSessionForBluetoothHighQualityRecording: Bool {
        get { captureDeckSession.configuresApplicationAudioSessionForBluetoothHighQualityRecording }
        set { captureDeckSession.configuresApplicationAudioSessionForBluetoothHighQualityRecording = newValue }
    }

    // MARK: State

    /// Whether the session is running (capturing, or about to resume after an interruption ends:
    /// see `isInterrupted`).
    public var isRunning: Bool { captureDeckSession.isRunning }
    /// Whether the session is interrupted (the device busy elsewhere, or lost and awaited).
    public var isInterrupted: Bool { captureDeckSession.isInterrupted }

    // MARK: Presets

    /// The quality level of the session's audio (`.high` by default). Linux: presets choose the
    /// capture sample rate — `.high` 48 kHz, `.medium` 44.1 kHz, `.low` 16 kHz; `.inputPriority`
    /// the input's own format — channels and sample format stay the input's. The video presets
    /// (`.photo`, `.hd1280x720`…) have no audio meaning: they capture as `.high` does. Apple
    /// documents no audio rates for presets; this mapping is CaptureDeck's.
    public var sessionPreset: Preset {
        get { lock.withLock { _preset } }
        set {
            lock.withLock { _preset = newValue }
            rebuildCoreInput()
        }
    }

    /// Whether `preset` can be set: every Apple preset can (an audio-only session has no format
    /// a preset could conflict with).
    public func canSetSessionPreset(_ preset: Preset) -> Bool { Preset.known.contains(preset) }

    // MARK: Inputs

    public var inputs: [AVCaptureInput] { lock.withLock { _inputs } }

    /// True for a device input not in a session, while this session has no input (one audio input
    /// per session).
    public func canAddInput(_ input: AVCaptureInput) -> Bool {
        guard input is AVCaptureDeviceInput else { return false }
        return lock.withLock { _inputs.isEmpty }
    }

    /// Adds `input` (also while running: capture starts on it). As Apple's, an input that
    /// `canAddInput` refuses is a programmer error.
    public func addInput(_ input: AVCaptureInput) {
        precondition(canAddInput(input), "AVCaptureSession.addInput: this input can't be added (one AVCaptureDeviceInput per session; check canAddInput first)")
        lock.withLock { _inputs.append(input) }
        rebuildCoreInput()
    }

    /// Adds `input` without connecting it to the session's outputs (connect with `addConnection`).
    public func addInputWithNoConnections(_ input: AVCaptureInput) {
        addInput(input)
    }

    /// Removes `input` (also while running: capture stops; the session keeps running and captures
    /// again when an input is added).
    public func removeInput(_ input: AVCaptureInput) {
        let removed = lock.withLock { () -> Bool in
            let before = _inputs.count
            _inputs.removeAll { $0 === input }
            return _inputs.count != before
        }
        if removed { rebuildCoreInput() }
    }

    // MARK: Outputs

    public var outputs: [AVCaptureOutput] { lock.withLock { _outputs } }

    /// True for an output that is in no session.
    public func canAddOutput(_ output: AVCaptureOutput) -> Bool { output.session == nil }

    /// Adds `output`, connected to the input (also while running: a file output starts receiving
    /// with the next frames, a data output's delegate with the next buffer).
    public func addOutput(_ output: AVCaptureOutput) {
        addOutput(output, connected: true)
    }

    /// Adds `output` without a connection (it receives nothing until `addConnection`).
    public func addOutputWithNoConnections(_ output: AVCaptureOutput) {
        addOutput(output, connected: false)
    }

    private func addOutput(_ output: AVCaptureOutput, connected: Bool) {
        precondition(canAddOutput(output), "AVCaptureSession.addOutput: this output is already in a session (check canAddOutput first)")
        lock.withLock { _outputs.append(output) }
        (output as? AVCaptureAudioDataOutput)?.reopen()
        output.connectsAutomatically = connected
        output.attach(to: self, connection: connected ? makeConnection(to: output) : nil)
        captureDeckSession.addOutput(output.coreOutput)
    }

    /// Removes `output`; it receives nothing after this returns (also while running).
    public func removeOutput(_ output: AVCaptureOutput) {
        let removed = lock.withLock { () -> Bool in
            let before = _outputs.count
            _outputs.removeAll { $0 === output }
            return _outputs.count != before
        }
        guard removed else { return }
        captureDeckSession.removeOutput(output.coreOutput)
        (output as? AVCaptureAudioDataOutput)?.quiesce()
        output.attach(to: nil, connection: nil)
    }

    // MARK: Connections

    /// Every connection between the input and the outputs.
    public var connections: [AVCaptureConnection] { outputs.flatMap(\.connections) }

    /// True when the connection's output is in this session without a connection, and its ports
    /// are the input's.
    public func canAddConnection(_ connection: AVCaptureConnection) -> Bool {
        guard let output = connection.output, outputs.contains(where: { $0 === output }), output.connections.isEmpty,
              let input = inputs.first else { return false }
        return connection.inputPorts.allSatisfy { p in input.ports.contains { $0 == p } }
    }

    public func addConnection(_ connection: AVCaptureConnection) {
        precondition(canAddConnection(connection), "AVCaptureSession.addConnection: this connection can't be added (check canAddConnection first)")
        connection.session = self
        connection.output?.connectsAutomatically = true
        connection.output?.attach(to: self, connection: connection)
    }

    public func removeConnection(_ connection: AVCaptureConnection) {
        guard let output = connection.output, output.connections.contains(where: { $0 === connection }) else { return }
        output.attach(to: self, connection: nil)
    }

    private func makeConnection(to output: AVCaptureOutput) -> AVCaptureConnection? {
        guard let input = inputs.first else { return nil }
        let c = AVCaptureConnection(inputPorts: input.ports, output: output)
        c.session = self
        return c
    }

    /// Channels of the audio the connections carry (0 without an input).
    var channelCount: Int { lock.withLock { coreInput?.format.channels ?? 0 } }
    /// The sample rate the session captures at (nil without an input).
    var sampleRate: Int? { lock.withLock { coreInput?.format.sampleRate } }

    // MARK: Configuration and running

    /// Starts a batch of changes (nestable); they apply together at the outermost commit.
    public func beginConfiguration() { captureDeckSession.beginConfiguration() }
    /// Applies the batch (re-negotiating the device while running if the input or route changed).
    public func commitConfiguration() { captureDeckSession.commitConfiguration() }

    /// Starts the flow from the input to the outputs; blocks until running, interrupted or failed
    /// (a failure posts `runtimeErrorNotification`).
    public func startRunning() {
        for o in outputs { (o as? AVCaptureAudioDataOutput)?.reopen() }
        captureDeckSession.startRunning()
    }
    /// Stops the flow; blocks until stopped. No data-output delegate call starts after it
    /// returns, and none is still running on another queue (one on the calling thread — a
    /// delegate that stops the session — carries on).
    public func stopRunning() {
        captureDeckSession.stopRunning()
        for o in outputs { (o as? AVCaptureAudioDataOutput)?.quiesce() }
    }

    /// Makes the CaptureDeck input for the device input under the preset, hands it to the core
    /// session (replacing the last one, in one configuration step) and reconnects the outputs.
    private func rebuildCoreInput() {
        let (device, preset, old) = lock.withLock { (_inputs.first as? AVCaptureDeviceInput, _preset, coreInput) }
        let new = device.map { Self.coreInput(for: $0.captureInput, preset: preset) }
        if old !== new {
            captureDeckSession.beginConfiguration()
            if let old { captureDeckSession.removeInput(old) }
            if let new { captureDeckSession.addInput(new) }
            lock.withLock { coreInput = new }
            captureDeckSession.commitConfiguration()
        }
        // Connected outputs get a connection to the new input (none without one).
        for output in outputs where output.connectsAutomatically {
            output.attach(to: self, connection: makeConnection(to: output))
        }
    }

    /// The device's CaptureDeck input under `preset` (the same object when the preset keeps its format).
    static func coreInput(for base: CaptureDeviceInput, preset: Preset) -> CaptureDeviceInput {
        guard let rate = preset.sampleRate, rate != base.format.sampleRate else { return base }
        var format = base.format
        format.sampleRate = rate
        return CaptureDeviceInput(name: base.name, routes: base.routes, format: format,
                                  periodMicros: base.periodMicros, bufferMicros: base.bufferMicros)
    }

    /// The input's device went away: while capturing from it, a runtime error and a stop (unless
    /// CaptureDeck's reconnection is on, which waits for it: the core sees the loss itself then).
    private func deviceDisconnected(_ device: AVCaptureDevice) {
        guard let input = inputs.first as? AVCaptureDeviceInput, input.device.uniqueID == device.uniqueID,
              captureDeckSession.isRunning, !captureDeckSession.reconnectsLostDevices else { return }
        let error = AVError(.deviceWasDisconnected, userInfo: [
            AVErrorDeviceKey: device,
            NSLocalizedDescriptionKey: "\(device.localizedName) (\(device.uniqueID)) was disconnected.",
        ])
        NotificationCenter.default.post(name: .AVCaptureSessionRuntimeError, object: self, userInfo: [AVCaptureSessionErrorKey: error])
        captureDeckSession.stopRunning()
    }

    // MARK: Notifications

    private func post(_ event: CaptureSessionEvent) {
        let center = NotificationCenter.default
        switch event {
        case .didStartRunning:
            center.post(name: .AVCaptureSessionDidStartRunning, object: self)
        case .didStopRunning:
            center.post(name: .AVCaptureSessionDidStopRunning, object: self)
        case .runtimeError(let error):
            center.post(name: .AVCaptureSessionRuntimeError, object: self, userInfo: [AVCaptureSessionErrorKey: AVError(error)])
        case .wasInterrupted(let reason, _):
            center.post(name: .AVCaptureSessionWasInterrupted, object: self,
                        userInfo: [AVCaptureSessionInterruptionReasonKey: NSNumber(value: InterruptionReason(reason).rawValue)])
        case .interruptionEnded:
            center.post(name: .AVCaptureSessionInterruptionEnded, object: self)
        case .routeChanged, .appAudioSessionConfigured, .gap:
            break  // CaptureDeck's own news: see captureDeckSession.onEvent
        }
    }
}

extension AVCaptureSession {
    /// A session's quality level (Apple's raw values). See `sessionPreset` for what each means here.
    public struct Preset: RawRepresentable, Hashable, Sendable {
        public let rawValue: String
        public init(rawValue: String) { self.rawValue = rawValue }

        public static let photo = Preset(rawValue: "AVCaptureSessionPresetPhoto")
        public static let high = Preset(rawValue: "AVCaptureSessionPresetHigh")
        public static let medium = Preset(rawValue: "AVCaptureSessionPresetMedium")
        public static let low = Preset(rawValue: "AVCaptureSessionPresetLow")
        public static let qvga320x240 = Preset(rawValue: "AVCaptureSessionPreset320x240")
        public static let vga640x480 = Preset(rawValue: "AVCaptureSessionPreset640x480")
        public static let cif352x288 = Preset(rawValue: "AVCaptureSessionPreset352x288")
        public static let hd1280x720 = Preset(rawValue: "AVCaptureSessionPreset1280x720")
        public static let hd1920x1080 = Preset(rawValue: "AVCaptureSessionPreset1920x1080")
        public static let hd4K3840x2160 = Preset(rawValue: "AVCaptureSessionPreset3840x2160")
        public static let iFrame960x540 = Preset(rawValue: "AVCaptureSessionPresetiFrame960x540")
        public static let iFrame1280x720 = Preset(rawValue: "AVCaptureSessionPresetiFrame1280x720")
        public static let inputPriority = Preset(rawValue: "AVCaptureSessionPresetInputPriority")

        static let known: Set<Preset> = [.photo, .high, .medium, .low, .qvga320x240, .vga640x480, .cif352x288, .hd1280x720,
                                         .hd1920x1080, .hd4K3840x2160, .iFrame960x540, .iFrame1280x720, .inputPriority]

        /// The capture rate this preset asks for (nil: the input's own).
        var sampleRate: Int? {
            switch self {
            case .inputPriority: nil
            case .medium: 44_100
            case .low: 16_000
            default: 48_000
            }
        }
    }
}

extension AVError {
    /// The Apple error a CaptureDeck session error is reported as (the description is CaptureDeck's).
    init(_ error: CaptureSessionError) {
        let code: AVError.Code
        let info: [String: Any] = [NSLocalizedDescriptionKey: error.description]
        switch error {
        case .noInput: code = .sessionNotRunning
        case .cannotStart(.noRoute): code = .deviceNotConnected
        case .cannotStart(.categoryCannotRecord): code = .unknown
        case .device(let d): code = AVError.Code(d)
        case .recording(let r):
            self.init(r)
            return
        }
        self.init(code, userInfo: info)
    }
}

extension AVError.Code {
    /// The Apple code nearest to a device error.
    init(_ error: DeviceError) {
        switch error {
        case .busy: self = .deviceInUseByAnotherApplication
        case .notFound: self = .deviceNotConnected
        case .lost, .stalled: self = .deviceWasDisconnected
        case .unavailable(_, let reason) where reason.localizedCaseInsensitiveContains("permission"):
            self = .applicationIsNotAuthorizedToUseDevice
        case .unsupported: self = .unsupportedDeviceActiveFormat
        case .unavailable, .systemLimit: self = .unknown
        }
    }
}
