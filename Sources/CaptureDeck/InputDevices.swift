// The inputs a user has, as devices (`AVCaptureDevice`'s facts): each sound-server source and
// each card's capture device, with a unique ID that survives reconnects and reboots, what the
// system tells of the hardware, the routes to capture it, and the default. A watcher reports
// devices as they come and go. The built-in test signal is a device too, found only by its ID.
import CaptureALSA
import CaptureCore
import CapturePulse
import Dispatch
import Glibc
import Synchronization

/// One input: a sound-server source, a card's capture device, or the built-in test signal.
public struct InputDevice: Sendable, Hashable, CustomStringConvertible {
    /// What an input is, as far as the system tells.
    public enum Kind: String, Sendable, Hashable {
        /// Part of the machine: a PCI or platform card (HDA, HDMI, an SoC codec).
        case builtIn = "built-in"
        case usb
        case bluetooth
        /// No hardware: a monitor of an output, a null or loopback device, a network tunnel, the
        /// built-in test signal.
        case virtual
    }

    /// Where the input comes from.
    public enum Origin: String, Sendable, Hashable {
        case soundServer = "sound server"
        case card
        case testSignal = "test signal"
        /// An ALSA PCM named in the ALSA configuration (a test PCM, a user-defined device):
        /// never listed, found by `alsa-pcm:NAME`.
        case namedPCM = "ALSA PCM"
    }

    /// Stable across reconnects and reboots, never an index: `pulse:SOURCE` (the server's source
    /// name, e.g. `pulse:alsa_input.usb-…`), `alsa:CARD=ID,DEV=N` (the card's id, as
    /// /proc/asound names it), or `builtin`.
    public var uniqueID: String
    /// For display: the server's description, or "card name: device name".
    public var name: String
    /// `usb:VVVV:PPPP` (or `bluetooth:…`) where the hardware's ids are known, else the product
    /// name the server or the card tells (an HDA codec: "Realtek ALC3246"), else the driver.
    public var modelID: String
    /// The vendor, where the server or the card tells it; else "".
    public var manufacturer: String
    public var kind: Kind
    public var origin: Origin
    /// How to capture it: a card is `plughw:` exclusive and `dsnoop:` shared; a server source is
    /// `pulse:NAME`, shared (`InputRoutes.forNamedPCM`).
    public var routes: InputRoutes
    /// Whether it was there when this value was made (false in a "disconnected" report).
    public var isConnected: Bool

    public init(uniqueID: String, name: String, modelID: String, manufacturer: String, kind: Kind, origin: Origin,
                routes: InputRoutes, isConnected: Bool = true) {
        self.uniqueID = uniqueID
        self.name = name
        self.modelID = modelID
        self.manufacturer = manufacturer
        self.kind = kind
        self.origin = origin
        self.routes = routes
        self.isConnected = isConnected
    }

    public var description: String { "\(uniqueID) (\(name), \(kind.rawValue))" }
}

/// The inputs at one moment, and which is the default.
public struct InputDeviceListing: Sendable, Equatable {
    /// Server sources (in the server's order), then cards' capture devices. Never the test signal.
    public var devices: [InputDevice]
    /// The server's default source on a desktop, else (no server configured) the first card's
    /// first capture device, else nil (`InputCatalog.defaultInput`'s choice). Never the test signal.
    public var defaultDevice: InputDevice?
    /// A server is configured but did not answer in time: its sources are unknown, not gone.
    public var serverTimedOut: Bool
}

public enum InputDevices {
    /// The built-in test signal's uniqueID.
    public static let testSignalID = "builtin"

    /// The built-in test signal (a 440 Hz sine at the device's pace): never listed and never the
    /// default, but found by `device(uniqueID: "builtin")`, so tests and machines without audio
    /// hardware have an input that is always there.
    public static let testSignal = InputDevice(uniqueID: testSignalID, name: "Built-in test signal", modelID: "builtin",
                                               manufacturer: "CaptureDeck", kind: .virtual, origin: .testSignal,
                                               routes: InputRoutes.forNamedPCM(testSignalID))

    /// The inputs now and the default: one question to the server (at most `timeoutMs`) and one
    /// pass over the cards.
    public static func listing(timeoutMs: Int = 500) -> InputDeviceListing {
        listing(server: InputCatalog.askServer { PulseControl.snapshot(timeoutMs: timeoutMs) }, cards: DeviceCatalog.cards())
    }

    /// The prefix of a named ALSA PCM's unique ID: `alsa-pcm:NAME` is the PCM ALSA calls NAME
    /// (e.g. a file PCM in ~/.asoundrc), captured from as `-D NAME` would be.
    public static let namedPCMPrefix = "alsa-pcm:"

    /// The named ALSA PCM behind an `alsa-pcm:NAME` ID, if ALSA can open it for capture now (or
    /// it is busy: it exists). Not listed by `listing`: ALSA can't enumerate every PCM its
    /// configuration can make.
    public static func namedPCM(uniqueID: String) -> InputDevice? {
        guard uniqueID.hasPrefix(namedPCMPrefix) else { return nil }
        let name = String(uniqueID.dropFirst(namedPCMPrefix.count))
        guard !name.isEmpty else { return nil }
        let device = InputDevice(uniqueID: uniqueID, name: name, modelID: "alsa-pcm", manufacturer: "ALSA",
                                 kind: .virtual, origin: .namedPCM, routes: InputRoutes.forNamedPCM(name))
        let input = CaptureDeviceInput(name: name, routes: device.routes)
        guard let route = device.routes.shared ?? device.routes.exclusive else { return nil }
        switch input.probe(Route(pcm: route, kind: .shared)) {
        case nil, .busy?: return device
        default: return nil
        }
    }

    /// The device with `uniqueID` if it is there now (the test signal always is).
    public static func device(uniqueID: String, timeoutMs: Int = 500) -> InputDevice? {
        if uniqueID == testSignalID { return testSignal }
        if uniqueID.hasPrefix(namedPCMPrefix) { return namedPCM(uniqueID: uniqueID) }
        return listing(timeoutMs: timeoutMs).devices.first { $0.uniqueID == uniqueID }
    }

    /// The listing from the server's answer (nil: none configured) and the cards.
    static func listing(server: Result<SoundServerSnapshot, InputCatalog.ServerUnreachable>?, cards: [SoundCard],
                        procRoot: String = "/proc/asound") -> InputDeviceListing {
        var all: [InputDevice] = []
        if case .success(let snapshot)? = server { all += snapshot.sources.map(device(source:)) }
        let cardDevices = cards.flatMap { devices(card: $0, procRoot: procRoot) }
        all += cardDevices
        let choice = InputCatalog.defaultInput(server: server.map { $0.map(\.info) }, cards: { cards })
        let defaultDevice: InputDevice? = switch choice {
        case .server(let info): all.first { $0.origin == .soundServer && $0.uniqueID == sourceID(info.defaultSource) }
        case .card(let card, let dev): cardDevices.first { $0.uniqueID == cardDeviceID(card: card.id, device: dev) }
        case .unreachableServer, .nothing: nil
        }
        var timedOut = false
        if case .failure(let e)? = server { timedOut = e.timedOut }
        return InputDeviceListing(devices: all, defaultDevice: defaultDevice, serverTimedOut: timedOut)
    }

    static func sourceID(_ name: String) -> String { "pulse:" + name }
    static func cardDeviceID(card id: String, device: Int) -> String { "alsa:CARD=\(id),DEV=\(device)" }

    /// A server source as a device: what the server's properties tell (`device.bus`,
    /// `device.vendor.name`, `device.product.name`, the ids), else its name's form.
    static func device(source s: SoundServerSource) -> InputDevice {
        let p = s.properties
        let bus = p["device.bus"]?.lowercased() ?? ""
        let kind: InputDevice.Kind
        if s.isMonitor || p["device.class"] == "monitor" {
            kind = .virtual  // what an output plays, whatever hardware the output is
        } else if bus == "usb" {
            kind = .usb
        } else if bus == "bluetooth" || s.name.hasPrefix("bluez_") {
            kind = .bluetooth
        } else if ["pci", "platform", "isa", "firewire"].contains(bus) {
            kind = .builtIn
        } else {
            kind = .virtual  // no bus: a null source, a tunnel, a filter
        }
        let model: String
        if let v = p["device.vendor.id"], let pid = p["device.product.id"], !bus.isEmpty {
            model = "\(bus):\(v):\(pid)"
        } else if let product = p["device.product.name"], !product.isEmpty {
            model = product
        } else {
            model = p["device.class"] ?? "pulse"
        }
        let pcm = InputCatalog.pcmName(forSource: s)
        return InputDevice(uniqueID: sourceID(s.name), name: s.description.isEmpty ? s.name : s.description, modelID: model,
                           manufacturer: p["device.vendor.name"] ?? "", kind: kind, origin: .soundServer,
                           routes: InputRoutes.forNamedPCM(pcm))
    }

    /// A card's capture devices: kind, model and vendor from the driver, /proc/asound/cardN/usbid,
    /// the HDA codec file and the long name (a USB card's is "VENDOR PRODUCT at usb-…").
    static func devices(card: SoundCard, procRoot: String = "/proc/asound") -> [InputDevice] {
        let usbID = DeviceCatalog.cardFile(card.index, "usbid", root: procRoot).map { $0.filter { !$0.isWhitespace } }
        let codec = DeviceCatalog.cardFile(card.index, "codec#0", root: procRoot).flatMap { text in
            text.split(separator: "\n").first { $0.hasPrefix("Codec:") }.map { String($0.dropFirst("Codec:".count)).trimmed }
        }
        let kind: InputDevice.Kind
        if usbID != nil || card.driver == "USB-Audio" {
            kind = .usb
        } else if ["Loopback", "Dummy", "aloop", "VirMIDI"].contains(card.driver) || ["Loopback", "Dummy"].contains(card.id) {
            kind = .virtual
        } else {
            kind = .builtIn
        }
        let model: String = if let usbID, !usbID.isEmpty { "usb:" + usbID } else if let codec, !codec.isEmpty { codec }
                            else if !card.driver.isEmpty { card.driver } else { card.name }
        var vendor = ""
        if kind == .usb {
            // snd-usb-audio's long name: "<manufacturer> <product> at usb-<path>, <speed> speed".
            let head = card.longName.prefix(before: " at ")
            if head.hasSuffix(" " + card.name) { vendor = String(head.dropLast(card.name.count + 1)).trimmed }
        } else if let codec, let first = codec.split(separator: " ").first, codec.contains(" ") {
            vendor = String(first)  // "Realtek ALC3246" → "Realtek"
        }
        return card.captureDevices.map { dev in
            let spec = "CARD=\(card.id),DEV=\(dev.device)"
            return InputDevice(uniqueID: cardDeviceID(card: card.id, device: dev.device),
                               name: dev.name.isEmpty ? card.name : "\(card.name): \(dev.name)", modelID: model,
                               manufacturer: vendor, kind: kind, origin: .card,
                               routes: InputRoutes.forNamedPCM("plughw:" + spec))
        }
    }
}

// MARK: - Whether this user may capture

/// Whether this user can open a capture device, from the facts (`AVCaptureDevice`'s
/// authorization): Linux has no prompt; access is the device nodes' permissions, the audio group,
/// and the sound server letting this user in.
public enum CaptureAccess: Sendable, Equatable {
    /// A way in is open: the sound server answers this user, or a capture node in /dev/snd is
    /// readable and writable by it. The reason says which.
    case granted(String)
    /// Capture devices exist but permissions keep this user out (owner, mode, the audio group, the
    /// server's socket or its refusal), and nothing else lets it in: an administrator can change it.
    case denied(String)
    /// The permissions allow it but the system refuses (EPERM: a container's device cgroup, a
    /// security module): nothing this user or its groups can change.
    case restricted(String)
    /// No capture node and no sound server answering: nothing to decide yet.
    case undetermined(String)

    public var reason: String {
        switch self {
        case .granted(let r), .denied(let r), .restricted(let r), .undetermined(let r): r
        }
    }
}

extension InputDevices {
    /// Whether this user can capture now (see `CaptureAccess`). Asks the server (at most
    /// `timeoutMs`) and checks the capture nodes in `deviceDirectory` with access(2) and an open of
    /// their card's control node (which captures nothing).
    public static func captureAccess(deviceDirectory: String = "/dev/snd", timeoutMs: Int = 500) -> CaptureAccess {
        var denials: [String] = []
        if let server = SoundServerProbe.expected() {
            if let path = server.socketPath, access(path, R_OK | W_OK) != 0 {
                let e = Errno.current
                if e == Errno(EACCES) || e == Errno(EPERM) { denials.append("the sound server's socket \(path) is closed to this user (\(e))") }
            } else {
                switch InputCatalog.askServer({ PulseControl.serverInfo(timeoutMs: timeoutMs) }) {
                case .success(let info)?: return .granted("the sound server \(server.address) answers (\(info.serverName) \(info.serverVersion))")
                case .failure(let e)? where !e.timedOut && e.reason.contains("denied"):
                    denials.append("the sound server \(server.address) refuses this user: \(e.reason)")
                default: break
                }
            }
        }
        var restrictions: [String] = []
        for node in captureNodes(in: deviceDirectory) {
            let path = deviceDirectory + "/" + node.name
            guard access(path, R_OK | W_OK) == 0 else {
                denials.append("\(path) is \(ownership(path)) and this user (\(userDescription())) may not open it")
                continue
            }
            let control = deviceDirectory + "/controlC\(node.card)"
            let fd = open(control, O_RDONLY | O_NONBLOCK | O_CLOEXEC)
            let e = Errno.current
            if fd >= 0 { close(fd); return .granted("\(path) is open to this user") }
            switch e.rawValue {
            case EPERM: restrictions.append("\(control): the system refuses the open although its permissions allow it (\(e))")
            case EACCES: denials.append("\(control) is \(ownership(control)) and this user may not open it")
            default: break  // ENXIO, ENODEV, ENOENT: a stale node, no card behind it
            }
        }
        if let r = restrictions.first { return .restricted(r) }
        if !denials.isEmpty { return .denied(denials.joined(separator: "; ")) }
        return .undetermined("no capture device in \(deviceDirectory) and no sound server answering")
    }

    /// `pcmC<card>D<device>c` character devices in `directory`.
    static func captureNodes(in directory: String) -> [(name: String, card: Int)] {
        guard let d = opendir(directory) else { return [] }
        defer { closedir(d) }
        var out: [(String, Int)] = []
        while let e = readdir(d) {
            let name = withUnsafeBytes(of: e.pointee.d_name) { String(decoding: $0.prefix { $0 != 0 }, as: UTF8.self) }
            guard name.hasPrefix("pcmC"), name.hasSuffix("c"), let dIndex = name.firstIndex(of: "D"),
                  let card = Int(name[name.index(name.startIndex, offsetBy: 4)..<dIndex]) else { continue }
            var st = stat()
            guard stat(directory + "/" + name, &st) == 0, (st.st_mode & S_IFMT) == S_IFCHR else { continue }
            out.append((name, card))
        }
        return out.sorted { $0.0 < $1.0 }
    }

    /// getpwuid, getgrgid and getgrnam answer in one static buffer: one caller at a time.
    private static let userDatabase = Mutex(())

    /// "root:audio 660".
    private static func ownership(_ path: String) -> String {
        var st = stat()
        guard stat(path, &st) == 0 else { return "unreadable" }
        return userDatabase.withLock { _ in
            let user = getpwuid(st.st_uid).map { String(cString: $0.pointee.pw_name) } ?? "\(st.st_uid)"
            let group = getgrgid(st.st_gid).map { String(cString: $0.pointee.gr_name) } ?? "\(st.st_gid)"
            return "\(user):\(group) \(String(st.st_mode & 0o777, radix: 8))"
        }
    }

    /// "uid 65534, groups 65534" and whether it is in the audio group.
    private static func userDescription() -> String {
        let count = getgroups(0, nil)
        var groups = [gid_t](repeating: 0, count: Int(max(count, 0)))
        let n = getgroups(count, &groups)
        let ids = Set([getegid()] + groups.prefix(Int(max(n, 0))))
        let audio = userDatabase.withLock { _ in getgrnam("audio").map { ids.contains($0.pointee.gr_gid) } }
        let inAudio = audio.map { $0 ? ", in the audio group" : ", not in the audio group" } ?? ""
        return "uid \(geteuid())\(inAudio)"
    }
}

// MARK: - Hot-plug

/// Reports inputs as they come and go: cards through inotify on /dev/snd (a card's nodes appear
/// and vanish with it), the server's sources by asking it about once a second while the watcher
/// runs (each question has its deadline; a server that doesn't answer in time keeps its sources,
/// one that is gone loses them). Works on its own queue; reports on `queue`, in order.
///
/// `@unchecked Sendable`: its state is a `QueueBound` of `work`, touched only there; the
/// dispatch sources are behind a mutex.
public final class InputDeviceWatcher: @unchecked Sendable {
    public enum Change: Sendable, Equatable {
        case connected(InputDevice)
        /// The device as it was last seen, with `isConnected` false.
        case disconnected(InputDevice)
    }

    private struct State {
        var listing: InputDeviceListing?
        var server: Result<SoundServerSnapshot, InputCatalog.ServerUnreachable>?
        var cards: [SoundCard] = []
        var cardsStale = true
        var inotify: Int32 = -1
        var watch: Int32 = -1
    }

    /// The timer and the inotify reader: cancelled from anywhere (deinit may run on `work`).
    private struct Sources {
        var timer: SourceBox?
        var reader: SourceBox?
    }

    /// `@unchecked Sendable`: a dispatch source may be cancelled from any thread.
    private final class SourceBox: @unchecked Sendable {
        let source: any DispatchSourceProtocol
        init(_ source: any DispatchSourceProtocol) { self.source = source }
    }

    private let work = DispatchQueue(label: "capdeck.input-devices")
    private let reports: DispatchQueue
    private let state: QueueBound<State>
    private let sources = Mutex(Sources())
    private let interval: Double
    private let timeoutMs: Int
    private let deviceDirectory: String
    private let handler: @Sendable ([Change]) -> Void

    /// - Parameters:
    ///   - interval: seconds between questions to the server (and card rescans where inotify
    ///     can't be had).
    ///   - serverTimeoutMs: how long each question to the sound server may take.
    ///   - deviceDirectory: where the ALSA device nodes are (watched for cards coming and going).
    ///   - queue: where `handler` runs (a serial queue of the watcher's own by default).
    ///   - handler: each refresh's changes, connected and disconnected devices, never empty.
    public init(interval: Double = 1, serverTimeoutMs: Int = 500, deviceDirectory: String = "/dev/snd",
                queue: DispatchQueue? = nil, handler: @escaping @Sendable ([Change]) -> Void) {
        self.interval = interval
        timeoutMs = serverTimeoutMs
        self.deviceDirectory = deviceDirectory
        reports = queue ?? DispatchQueue(label: "capdeck.input-devices.reports")
        self.handler = handler
        state = QueueBound(State(), queue: work)
    }

    deinit {
        // The sources' handlers hold the watcher weakly; cancelled, they end (closing inotify's fd).
        cancelSources()
    }

    /// Starts watching (idempotent). The first listing is the baseline: nothing is reported for it.
    public func start() {
        work.sync {
            guard sources.withLock({ $0.timer == nil }) else { return }
            let fd = inotify_init1(Int32(IN_NONBLOCK | IN_CLOEXEC))
            state.value.inotify = fd
            if fd >= 0 {
                let reader = DispatchSource.makeReadSource(fileDescriptor: fd, queue: work)
                reader.setEventHandler { [weak self] in self?.inotifyEvents() }
                reader.setCancelHandler { close(fd) }
                reader.resume()
                let box = SourceBox(reader)
                sources.withLock { $0.reader = box }
            }
            addWatchIfNeeded()
            if state.value.listing == nil { _ = refreshOnQueue() }
            let timer = DispatchSource.makeTimerSource(queue: work)
            timer.schedule(deadline: .now() + interval, repeating: interval, leeway: .milliseconds(100))
            timer.setEventHandler { [weak self] in
                guard let self else { return }
                self.addWatchIfNeeded()
                _ = self.refreshOnQueue()
            }
            timer.resume()
            let box = SourceBox(timer)
            sources.withLock { $0.timer = box }
        }
    }

    /// Stops watching (idempotent); `refresh()` still works.
    public func stop() { work.sync { stopOnQueue() } }

    public var isWatching: Bool { sources.withLock { $0.timer != nil } }

    /// Asks now (the server and the cards), reports what changed since the last look and returns
    /// the listing. Blocks up to the server's deadline.
    @discardableResult
    public func refresh() -> InputDeviceListing {
        work.sync {
            state.value.cardsStale = true
            return refreshOnQueue()
        }
    }

    /// The last listing (taken now if there is none yet).
    public var listing: InputDeviceListing {
        work.sync { state.value.listing ?? refreshOnQueue() }
    }

    private func stopOnQueue() {
        cancelSources()
        state.value.inotify = -1
        state.value.watch = -1
    }

    private func cancelSources() {
        sources.withLock { s in
            s.timer?.source.cancel()
            s.reader?.source.cancel()  // its cancel handler closes the inotify descriptor
            s = Sources()
        }
    }

    private func addWatchIfNeeded() {
        let fd = state.value.inotify
        guard fd >= 0, state.value.watch < 0 else { return }
        let wd = inotify_add_watch(fd, deviceDirectory, UInt32(IN_CREATE | IN_DELETE | IN_ATTRIB | IN_MOVED_FROM | IN_MOVED_TO))
        if wd >= 0 {
            state.value.watch = wd
            state.value.cardsStale = true  // cards may have come while there was no directory
        }
    }

    private func inotifyEvents() {
        let fd = state.value.inotify
        guard fd >= 0 else { return }
        var buf = [UInt8](repeating: 0, count: 4096)
        var any = false
        while true {
            let n = read(fd, &buf, buf.count)
            guard n > 0 else { break }
            any = true
            // struct inotify_event: wd, mask, cookie, len, then len bytes of name.
            var offset = 0
            while offset + 16 <= n {
                let mask = buf[offset + 4..<offset + 8].reversed().reduce(UInt32(0)) { $0 << 8 | UInt32($1) }
                let len = buf[offset + 12..<offset + 16].reversed().reduce(0) { $0 << 8 | Int($1) }
                if mask & UInt32(IN_IGNORED) != 0 { state.value.watch = -1 }  // the directory went away
                offset += 16 + len
            }
        }
        guard any else { return }
        state.value.cardsStale = true
        _ = refreshOnQueue()
    }

    private func refreshOnQueue() -> InputDeviceListing {
        let s = state.value
        if s.cardsStale || s.inotify < 0 || s.watch < 0 {
            state.value.cards = DeviceCatalog.cards()
            state.value.cardsStale = false
        }
        var server = InputCatalog.askServer { PulseControl.snapshot(timeoutMs: timeoutMs) }
        if case .failure(let e)? = server, e.timedOut, let last = s.server {
            server = last  // stalled: what it had is unknown, not gone
        }
        state.value.server = server
        let new = InputDevices.listing(server: server, cards: state.value.cards)
        if let old = s.listing {
            let changes = InputDeviceWatcher.changes(from: old.devices, to: new.devices)
            if !changes.isEmpty { reports.async { [handler] in handler(changes) } }
        }
        state.value.listing = new
        return new
    }

    /// Devices gone (reported as last seen, not connected) and devices new, by uniqueID.
    static func changes(from old: [InputDevice], to new: [InputDevice]) -> [Change] {
        let newIDs = Set(new.map(\.uniqueID))
        let oldIDs = Set(old.map(\.uniqueID))
        var out: [Change] = []
        for d in old where !newIDs.contains(d.uniqueID) {
            var gone = d
            gone.isConnected = false
            out.append(.disconnected(gone))
        }
        for d in new where !oldIDs.contains(d.uniqueID) { out.append(.connected(d)) }
        return out
    }
}

extension String {
    /// Everything before the first `separator` (all of it when there is none).
    fileprivate func prefix(before separator: String) -> String {
        var i = startIndex
        while i < endIndex {
            if self[i...].hasPrefix(separator) { return String(self[..<i]) }
            i = index(after: i)
        }
        return self
    }

    fileprivate var trimmed: String {
        String(drop { $0.isWhitespace }.reversed().drop { $0.isWhitespace }.reversed())
    }
}
