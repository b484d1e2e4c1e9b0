// AVCaptureInput and AVCaptureDeviceInput: what a session captures from, and its ports.
import CaptureCore
import CaptureDeck
import Foundation
import Synchronization

/// What a session captures from: its ports, one per stream of media.
open class AVCaptureInput: NSObject, @unchecked Sendable {
    // @unchecked Sendable: the port states are immutable references; the port cache is behind a mutex.

    private let portStates: [Port.State]
    /// The ports handed out, held weakly (a port holds its input): the same object while anyone
    /// holds it, an equal one after.
    private let portCache = Mutex<[WeakPort]>([])

    init(ports: [Port.State]) {
        portStates = ports
        super.init()
    }

    @available(*, unavailable, message: "Use AVCaptureDeviceInput(device:)")
    public override init() {
        portStates = []
        super.init()
    }

    /// The input's ports: one `.audio` port for an audio device.
    open var ports: [AVCaptureInput.Port] {
        portCache.withLock { cache in
            if cache.count != portStates.count { cache = portStates.map { _ in WeakPort() } }
            return portStates.indices.map { i in
                if let p = cache[i].port { return p }
                let p = Port(input: self, state: portStates[i])
                cache[i].port = p
                return p
            }
        }
    }

    private final class WeakPort: @unchecked Sendable {
        weak var port: Port?
    }

    /// One stream of media from an input (Apple's `AVCaptureInput.Port`).
    open class Port: NSObject, @unchecked Sendable {
        // @unchecked Sendable: `isEnabled` is atomic; everything else immutable.

        /// A port's state, owned by its input (ports come and go; the state stays).
        final class State: Sendable {
            let mediaType: AVMediaType
            let sourceDeviceType: AVCaptureDevice.DeviceType?
            let sourceDevicePosition: AVCaptureDevice.Position
            let enabled = Atomic<Bool>(true)

            init(mediaType: AVMediaType, sourceDeviceType: AVCaptureDevice.DeviceType?, sourceDevicePosition: AVCaptureDevice.Position) {
                self.mediaType = mediaType
                self.sourceDeviceType = sourceDeviceType
                self.sourceDevicePosition = sourceDevicePosition
            }
        }

        let state: State
        /// The input the port belongs to.
        public let input: AVCaptureInput

        init(input: AVCaptureInput, state: State) {
            self.input = input
            self.state = state
            super.init()
        }

        /// The port's media type (`.audio`).
        open var mediaType: AVMediaType { state.mediaType }
        /// Whether the port's media flows to the session's connections (true at first).
        open var isEnabled: Bool {
            get { state.enabled.load(ordering: .relaxed) }
            set { state.enabled.store(newValue, ordering: .relaxed) }
        }
        /// The type of the device the port's media comes from.
        open var sourceDeviceType: AVCaptureDevice.DeviceType? { state.sourceDeviceType }
        /// The position of the device the port's media comes from (`.unspecified` for audio).
        open var sourceDevicePosition: AVCaptureDevice.Position { state.sourceDevicePosition }

        /// Ports are equal when they are the same stream of the same input.
        open override func isEqual(_ object: Any?) -> Bool {
            (object as? Port)?.state === state
        }

        open override var hash: Int { ObjectIdentifier(state).hashValue }
    }
}

/// Captures from a device. Making one checks what Apple's does, so `try`/`catch` is where a
/// port expects the error:
/// - this user may not capture (`authorizationStatus(for: .audio)` is `.denied` or
///   `.restricted`): `AVError.applicationIsNotAuthorizedToUseDevice`;
/// - the device is gone (not in the sound server's sources or the cards now):
///   `AVError.deviceNotConnected`;
/// - the device is there but can't capture: its shared route (the server's source, or the card's
///   `dsnoop:`) is opened and closed once, and an error other than "busy" is thrown as the
///   nearest Apple code (`deviceNotConnected`, `unsupportedDeviceActiveFormat`,
///   `applicationIsNotAuthorizedToUseDevice`, `unknown`). A busy device is no error here: the
///   session is interrupted when it starts, as Apple's is.
///
/// Linux: the route the session captures through (shared or exclusive) is chosen, and opened,
/// when it starts running; failures then reach the runtime-error notification. The probe is
/// skipped while the sound server doesn't answer (opening its PCM would block). The built-in test
/// signal and `alsa-pcm:` devices need no check here (the latter was opened when it was found).
open class AVCaptureDeviceInput: AVCaptureInput, @unchecked Sendable {
    // @unchecked Sendable: immutable.

    /// The device captured from.
    public let device: AVCaptureDevice
    /// CaptureDeck's input for the session: the device's routes (a card's `plughw:` exclusive and
    /// `dsnoop:` shared, a server source's `pulse:NAME` shared, the test signal's `builtin`).
    let captureInput: CaptureDeviceInput

    public init(device: AVCaptureDevice) throws {
        let facts = device.input
        if facts.origin != .testSignal && facts.origin != .namedPCM {
            let access = InputDevices.captureAccess()
            let status = AVCaptureDevice.status(access)
            if status == .denied || status == .restricted {
                throw AVError(.applicationIsNotAuthorizedToUseDevice, userInfo: [
                    AVErrorDeviceKey: device,
                    NSLocalizedDescriptionKey: "This user may not capture from \(facts.name).",
                    NSLocalizedFailureReasonErrorKey: access.reason,
                ])
            }
            let listing = DeviceMonitor.shared.listing()
            let stalled = listing.serverTimedOut && facts.origin == .soundServer
            if !stalled && !listing.devices.contains(where: { $0.uniqueID == facts.uniqueID }) {
                throw AVError(.deviceNotConnected, userInfo: [
                    AVErrorDeviceKey: device,
                    NSLocalizedDescriptionKey: "\(facts.name) (\(facts.uniqueID)) is not connected.",
                ])
            }
            if !listing.serverTimedOut, let shared = facts.routes.shared,
               let error = CaptureDeviceInput(name: facts.name, routes: facts.routes).probe(Route(pcm: shared, kind: .shared)) {
                if case .busy = error {} else {
                    throw AVError(AVError.Code(error), userInfo: [AVErrorDeviceKey: device, NSLocalizedDescriptionKey: error.description])
                }
            }
        }
        self.device = device
        captureInput = CaptureDeviceInput(name: facts.name, routes: facts.routes)
        super.init(ports: [Port.State(mediaType: .audio, sourceDeviceType: device.deviceType, sourceDevicePosition: device.position)])
    }

    open override var description: String { "<AVCaptureDeviceInput: [\(device.localizedName)]>" }
}
