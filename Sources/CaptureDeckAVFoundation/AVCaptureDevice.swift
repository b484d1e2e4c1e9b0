// AVCaptureDevice: the inputs a user has (CaptureDeck's InputDevices), with Apple's names,
// authorization answered from the system's facts, configuration locks shared between processes,
// and the was-connected/was-disconnected notifications from CaptureDeck's hot-plug watcher.
import CaptureALSA
import CaptureCore
import CaptureDeck
import Dispatch
import Foundation
import Synchronization

/// A capture device: a sound-server source, a sound card's capture device, or the built-in test
/// signal (`AVCaptureDevice(uniqueID: "builtin")`).
///
/// Where Linux differs from Apple's platforms:
/// - Devices are not singletons: `AVCaptureDevice(uniqueID:)` and each discovery make new
///   objects. They compare equal (`==`, `isEqual(_:)`, `hash`) when their `uniqueID`s do, so
///   `notification.object as? AVCaptureDevice == current` works as it does on Apple's platforms;
///   `===` does not.
/// - On a desktop a card is listed twice: as the sound server's source (shared with other
///   programs) and as the card itself (`alsa:CARD=…`, which takes the card from the server while
///   captured exclusively).
/// - The built-in test signal (uniqueID `builtin`, a 440 Hz sine at the device's pace) is never
///   listed or the default, but `AVCaptureDevice(uniqueID: "builtin")` always finds it: tests and
///   machines without audio hardware have a device. It needs no authorization.
/// - Audio only: `default(for: .video)` and every video device type find nothing.
open class AVCaptureDevice: NSObject, @unchecked Sendable {
    // @unchecked Sendable: every stored property is immutable; live state (connection, locks)
    // is read from the monitor and the lock table, both behind their own locks.

    /// CaptureDeck's facts about the device, as they were when this object was made.
    let input: InputDevice

    init(input: InputDevice) {
        self.input = input
        super.init()
    }

    @available(*, unavailable, message: "Use AVCaptureDevice.default(for:), init?(uniqueID:) or a DiscoverySession")
    public override init() {
        self.input = InputDevices.testSignal
        super.init()
    }

    /// The device with this unique ID, if it is connected now (the built-in test signal always is).
    ///
    /// Linux: besides the listed devices' IDs (`pulse:SOURCE`, `alsa:CARD=ID,DEV=N`), two kinds
    /// are found here only, never listed or the default: `builtin`, the test signal, and
    /// `alsa-pcm:NAME`, any PCM the ALSA configuration defines (a test PCM, a user's own device),
    /// found when ALSA can open it for capture now or says it is busy.
    public convenience init?(uniqueID deviceUniqueID: String) {
        let found: InputDevice?
        if deviceUniqueID == InputDevices.testSignalID {
            DeviceMonitor.shared.startWatching()
            found = InputDevices.testSignal
        } else if deviceUniqueID.hasPrefix(InputDevices.namedPCMPrefix) {
            DeviceMonitor.shared.startWatching()
            found = InputDevices.namedPCM(uniqueID: deviceUniqueID)
        } else {
            found = DeviceMonitor.shared.listing().devices.first { $0.uniqueID == deviceUniqueID }
        }
        guard let found else { return nil }
        self.init(input: found)
    }

    // MARK: Finding devices

    /// The user's default device for `mediaType`: for `.audio`, the sound server's default source on
    /// a desktop, else (no sound server) the first card's first capture device, else nil. Any other
    /// media type: nil. Asks the server now (at most half a second).
    open class func `default`(for mediaType: AVMediaType) -> AVCaptureDevice? {
        guard mediaType == .audio else { return nil }
        return DeviceMonitor.shared.listing().defaultDevice.map(AVCaptureDevice.init(input:))
    }

    /// The default device of a type, for a media type and position: the default input if it is of
    /// that type, else the first such device (see `DeviceType` for what each type finds).
    open class func `default`(_ deviceType: AVCaptureDevice.DeviceType, for mediaType: AVMediaType?,
                              position: AVCaptureDevice.Position) -> AVCaptureDevice? {
        let listing = DeviceMonitor.shared.listing()
        let found = DiscoverySession.matching(listing.devices, deviceTypes: [deviceType], mediaType: mediaType, position: position)
        if let d = listing.defaultDevice, found.contains(where: { $0.uniqueID == d.uniqueID }) { return AVCaptureDevice(input: d) }
        return found.first.map(AVCaptureDevice.init(input:))
    }

    /// Every connected device (Apple deprecates it for `DiscoverySession`).
    @available(*, deprecated, message: "Use AVCaptureDevice.DiscoverySession instead.")
    open class func devices() -> [AVCaptureDevice] {
        DeviceMonitor.shared.listing().devices.map(AVCaptureDevice.init(input:))
    }

    /// Every connected device of `mediaType` (Apple deprecates it for `DiscoverySession`).
    @available(*, deprecated, message: "Use AVCaptureDevice.DiscoverySession instead.")
    open class func devices(for mediaType: AVMediaType) -> [AVCaptureDevice] {
        guard mediaType == .audio else { return [] }
        return DeviceMonitor.shared.listing().devices.map(AVCaptureDevice.init(input:))
    }

    // MARK: Identity

    /// Stable across reconnects and reboots, never an index: `pulse:SOURCE` (the sound server's
    /// source name), `alsa:CARD=ID,DEV=N` (the card's id), or `builtin`.
    open var uniqueID: String { input.uniqueID }
    /// The server's description of the source, or "card name: device name".
    open var localizedName: String { input.name }
    /// `usb:VVVV:PPPP` (or `bluetooth:…`) where the hardware's ids are known, else the product or
    /// codec name the system tells, else the driver.
    open var modelID: String { input.modelID }
    /// The vendor as the sound server (`device.vendor.name`) or the card (its long name, its HDA
    /// codec) tells it; "" where nothing does.
    open var manufacturer: String { input.manufacturer }
    /// Always `.microphone`, as Apple's platforms report audio devices since macOS 14 and iOS 17;
    /// discovery also finds devices by the older types (see `DeviceType`).
    open var deviceType: AVCaptureDevice.DeviceType { .microphone }
    /// Always `.unspecified`: audio inputs have no position.
    open var position: AVCaptureDevice.Position { .unspecified }

    /// How the device is attached (macOS's `transportType`, Core Audio's transport codes):
    /// `'bltn'` built-in, `'usb '` USB, `'blue'` Bluetooth, `'virt'` virtual (a monitor, a null or
    /// loopback device, the test signal).
    open var transportType: Int32 {
        switch input.kind {
        case .builtIn: AVCaptureDevice.fourCC("bltn")
        case .usb: AVCaptureDevice.fourCC("usb ")
        case .bluetooth: AVCaptureDevice.fourCC("blue")
        case .virtual: AVCaptureDevice.fourCC("virt")
        }
    }

    /// True for `.audio` only.
    open func hasMediaType(_ mediaType: AVMediaType) -> Bool { mediaType == .audio }

    /// Whether the device is still there: the hot-plug watcher's last look (about once a second
    /// for server sources, at once for cards). False before the was-disconnected notification for
    /// it is posted.
    open var isConnected: Bool {
        input.origin == .testSignal || input.origin == .namedPCM || DeviceMonitor.shared.lastListing().devices.contains { $0.uniqueID == input.uniqueID }
    }

    /// Whether another program holds the card open for capture (the kernel's record of each capture
    /// substream's owner). Always false for a server source (the server shares it) and the test signal.
    open var isInUseByAnotherApplication: Bool {
        guard input.origin == .card, let pcm = input.routes.exclusive else { return false }
        return DeviceCatalog.heldByAnotherProgram(pcm: pcm) == true
    }

    /// Always false: Linux has no privacy switch that suspends a microphone.
    open var isSuspended: Bool { false }

    open override func isEqual(_ object: Any?) -> Bool {
        guard let other = object as? AVCaptureDevice else { return false }
        return other.uniqueID == uniqueID
    }

    open override var hash: Int { uniqueID.hashValue }

    open override var description: String {
        "<AVCaptureDevice: [\(localizedName)][\(uniqueID)]>"
    }

    // MARK: Configuration lock

    /// Takes exclusive control of the device's configuration, shared with every process of this
    /// user: an flock on `capdeck/config_<uniqueID>.lock` in `$XDG_RUNTIME_DIR` (else
    /// `/tmp/capdeck-UID`), held until `unlockForConfiguration()` or the process ends, crash
    /// included. Calls within one process nest (each lock needs its unlock).
    ///
    /// - Throws: `AVError.deviceLockedForConfigurationByAnotherProcess` (with `AVErrorPIDKey` when
    ///   the holder is known) while another process holds it; `AVError.unknown` when the lock file
    ///   can't be made or locked (the reason in `NSLocalizedFailureReasonErrorKey`).
    open func lockForConfiguration() throws {
        try ConfigurationLocks.lock(uniqueID)
    }

    /// Gives up one `lockForConfiguration()`; the lock is released with the last. Without a lock, nothing.
    open func unlockForConfiguration() {
        ConfigurationLocks.unlock(uniqueID)
    }

    // MARK: Authorization

    /// Whether this user may capture, from the system's facts (Linux has no prompt):
    /// - `.authorized`: the sound server answers this user, or a capture node in /dev/snd is
    ///   readable and writable by it (and its card's control node opens); or `requestAccess` was
    ///   called while nothing stood in the way.
    /// - `.denied`: capture nodes exist but their owner, mode and group keep this user out (not
    ///   in the `audio` group), the server's socket is closed to it or the server refuses it, and
    ///   nothing else lets it in. An administrator can change it (`usermod -aG audio USER`).
    /// - `.restricted`: the permissions allow it but the system refuses the open (EPERM: a
    ///   container's device cgroup, a security module): nothing the user can change. Also every
    ///   media type but `.audio`, which this library can't capture.
    /// - `.notDetermined`: no capture node and no sound server answering, and `requestAccess`
    ///   not yet called: nothing to decide yet.
    ///
    /// The built-in test signal needs no authorization.
    open class func authorizationStatus(for mediaType: AVMediaType) -> AVAuthorizationStatus {
        authorizationStatus(for: mediaType, deviceDirectory: "/dev/snd")
    }

    static func authorizationStatus(for mediaType: AVMediaType, deviceDirectory: String) -> AVAuthorizationStatus {
        guard mediaType == .audio else { return .restricted }
        return status(InputDevices.captureAccess(deviceDirectory: deviceDirectory))
    }

    static func status(_ access: CaptureAccess) -> AVAuthorizationStatus {
        switch access {
        case .granted: .authorized
        case .denied: .denied
        case .restricted: .restricted
        case .undetermined: accessRequested.load(ordering: .relaxed) ? .authorized : .notDetermined
        }
    }

    /// Set by `requestAccess` while nothing stood in the way: the answer a prompt would have given.
    private static let accessRequested = Atomic<Bool>(false)

    /// Asks for access: there is no prompt on Linux, so the answer is the facts (see
    /// `authorizationStatus(for:)`): true when authorized, or when nothing stands in the way
    /// (`.notDetermined`, which becomes `.authorized`). `handler` runs on a global queue.
    open class func requestAccess(for mediaType: AVMediaType, completionHandler handler: @escaping @Sendable (Bool) -> Void) {
        DispatchQueue.global().async { handler(grantAccess(for: mediaType)) }
    }

    /// Asks for access (see `requestAccess(for:completionHandler:)`).
    open class func requestAccess(for mediaType: AVMediaType) async -> Bool {
        await withCheckedContinuation { done in
            requestAccess(for: mediaType) { done.resume(returning: $0) }
        }
    }

    private static func grantAccess(for mediaType: AVMediaType) -> Bool {
        switch authorizationStatus(for: mediaType) {
        case .authorized: return true
        case .notDetermined:
            accessRequested.store(true, ordering: .relaxed)
            return true
        case .denied, .restricted: return false
        }
    }

    private static func fourCC(_ s: StaticString) -> Int32 {
        var v: UInt32 = 0
        s.withUTF8Buffer { for b in $0 { v = v << 8 | UInt32(b) } }
        return Int32(bitPattern: v)
    }
}

// MARK: - Types

extension AVCaptureDevice {
    /// A kind of capture device, with Apple's raw values. On Linux the audio types find:
    /// - `.microphone`: every input (server sources, cards' capture devices), as on macOS 14 and
    ///   iOS 17, where it replaces the two below;
    /// - `.builtInMicrophone`: built-in inputs (a PCI or platform card, and server sources on one);
    /// - `.external`, `.externalUnknown`: every other input: USB, Bluetooth and virtual (a monitor
    ///   of an output, a null or loopback device, a network tunnel).
    ///
    /// The video types exist so code that names them compiles; they find nothing.
    public struct DeviceType: RawRepresentable, Hashable, Sendable {
        public let rawValue: String
        public init(rawValue: String) { self.rawValue = rawValue }
        public init(_ rawValue: String) { self.rawValue = rawValue }

        public static let microphone = DeviceType("AVCaptureDeviceTypeMicrophone")
        public static let builtInMicrophone = DeviceType("AVCaptureDeviceTypeBuiltInMicrophone")
        public static let external = DeviceType("AVCaptureDeviceTypeExternal")
        public static let externalUnknown = DeviceType("AVCaptureDeviceTypeExternalUnknown")
        public static let builtInWideAngleCamera = DeviceType("AVCaptureDeviceTypeBuiltInWideAngleCamera")
        public static let builtInTelephotoCamera = DeviceType("AVCaptureDeviceTypeBuiltInTelephotoCamera")
        public static let builtInUltraWideCamera = DeviceType("AVCaptureDeviceTypeBuiltInUltraWideCamera")
        public static let builtInDualCamera = DeviceType("AVCaptureDeviceTypeBuiltInDualCamera")
        public static let builtInDualWideCamera = DeviceType("AVCaptureDeviceTypeBuiltInDualWideCamera")
        public static let builtInTripleCamera = DeviceType("AVCaptureDeviceTypeBuiltInTripleCamera")
        public static let builtInTrueDepthCamera = DeviceType("AVCaptureDeviceTypeBuiltInTrueDepthCamera")
        public static let builtInLiDARDepthCamera = DeviceType("AVCaptureDeviceTypeBuiltInLiDARDepthCamera")
        public static let continuityCamera = DeviceType("AVCaptureDeviceTypeContinuityCamera")
        public static let deskViewCamera = DeviceType("AVCaptureDeviceTypeDeskViewCamera")

        /// Whether a device of this kind is found by this type (see the type's note).
        func finds(_ kind: InputDevice.Kind) -> Bool {
            switch self {
            case .microphone: true
            case .builtInMicrophone: kind == .builtIn
            case .external, .externalUnknown: kind != .builtIn
            default: false
            }
        }
    }

    /// Where a device is on the hardware, with Apple's raw values. Audio inputs are `.unspecified`.
    public enum Position: Int, Sendable {
        case unspecified = 0
        case back = 1
        case front = 2
    }

    /// Posted on `NotificationCenter.default` when a device appears (a card plugged in, a server
    /// source added); the object is the device. From CaptureDeck's hot-plug watcher, on its queue,
    /// once anything has asked for devices.
    public static let wasConnectedNotification = NSNotification.Name.AVCaptureDeviceWasConnected
    /// Posted when a device goes away; the object is the device, whose `isConnected` is false by then.
    public static let wasDisconnectedNotification = NSNotification.Name.AVCaptureDeviceWasDisconnected
}

extension NSNotification.Name {
    /// `AVCaptureDevice.wasConnectedNotification`.
    public static let AVCaptureDeviceWasConnected = NSNotification.Name("AVCaptureDeviceWasConnectedNotification")
    /// `AVCaptureDevice.wasDisconnectedNotification`.
    public static let AVCaptureDeviceWasDisconnected = NSNotification.Name("AVCaptureDeviceWasDisconnectedNotification")
}

// MARK: - The monitor and the locks

/// One hot-plug watcher for the process, started by the first question about devices (as Apple's
/// notifications start once an app has asked for devices), posting the notifications on its queue.
final class DeviceMonitor: Sendable {
    static let shared = DeviceMonitor()

    private let watcher: InputDeviceWatcher

    private init() {
        watcher = InputDeviceWatcher(queue: DispatchQueue(label: "capdeck.av.device-notifications")) { changes in
            for change in changes {
                switch change {
                case .connected(let d):
                    NotificationCenter.default.post(name: .AVCaptureDeviceWasConnected, object: AVCaptureDevice(input: d))
                case .disconnected(let d):
                    NotificationCenter.default.post(name: .AVCaptureDeviceWasDisconnected, object: AVCaptureDevice(input: d))
                }
            }
        }
    }

    func startWatching() { watcher.start() }

    /// Asks now (the server, at most half a second, and the cards), and watches from then on.
    func listing() -> InputDeviceListing {
        if !watcher.isWatching {
            watcher.start()  // its first look is this one
            return watcher.listing
        }
        return watcher.refresh()
    }

    /// The watcher's last look (no new question).
    func lastListing() -> InputDeviceListing {
        watcher.start()
        return watcher.listing
    }
}

/// The configuration locks this process holds, by uniqueID, with their nesting counts.
enum ConfigurationLocks {
    private static let held = Mutex<[String: (lock: RouteLock, count: Int)]>([:])

    static func lock(_ uniqueID: String) throws {
        let name = "config:" + uniqueID
        let failure: AVError? = held.withLock { table in
            if let entry = table[uniqueID] {
                table[uniqueID] = (entry.lock, entry.count + 1)
                return nil
            }
            do throws(DeviceError) {
                table[uniqueID] = (try RouteLock(pcm: name), 1)
                return nil
            } catch .busy {
                var info: [String: Any] = [NSLocalizedDescriptionKey: "Another process holds the device's configuration lock (\(uniqueID))."]
                if let pid = RouteLock.holder(pcm: name) { info[AVErrorPIDKey] = Int(pid) }
                return AVError(.deviceLockedForConfigurationByAnotherProcess, userInfo: info)
            } catch {
                return AVError(.unknown, userInfo: [NSLocalizedDescriptionKey: "The device's configuration lock can't be taken.",
                                                    NSLocalizedFailureReasonErrorKey: "\(error)"])
            }
        }
        if let failure { throw failure }
    }

    static func unlock(_ uniqueID: String) {
        held.withLock { table in
            guard let entry = table[uniqueID] else { return }
            table[uniqueID] = entry.count > 1 ? (entry.lock, entry.count - 1) : nil  // the last closes the file: unlocked
        }
    }
}
