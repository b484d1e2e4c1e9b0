// AVCaptureDevice, discovery, hot-plug notifications, AVCaptureDeviceInput, configuration locks and
// authorization against a real private PulseAudio daemon (its sources are the devices), with
// pactl as the independent reader, and helper processes (this test binary run again, as another
// user where it matters) for what takes two processes.
import CaptureALSA
import CaptureCore
@testable import CaptureDeck
import CaptureTestSupport
import Foundation
import Glibc
import Synchronization
import Testing
@testable import CaptureDeckAVFoundation

/// Points this process's sound-server settings at `daemon` (libpulse and CaptureDeck read them
/// on each connection).
private func use(_ daemon: PulseDaemon) {
    for (k, v) in daemon.clientEnvironment { setenv(k, v, 1) }
}

/// `pactl list short sources`' names: the server's own word.
private func sourceNames(_ daemon: PulseDaemon) async throws -> [String] {
    let out = try await daemon.pactl(["list", "short", "sources"]).stdout
    return out.split(separator: "\n").compactMap { line in
        let f = line.split(separator: "\t")
        return f.count > 1 ? String(f[1]) : nil
    }
}

/// A source like a USB microphone's (bus, vendor, ids as a USB card's source carries them): a remap of
/// the null sink's monitor, the one module that takes source properties.
private let usbMicArgs = ["load-module", "module-remap-source", "source_name=usbmic", "master=nullsink.monitor",
                          "source_properties='device.bus=usb device.vendor.name=Acme device.product.name=Mic-9 device.vendor.id=1234 device.product.id=5678 device.description=Acme-Mic-9'"]
/// A source like a built-in card's (PCI).
private let pciMicArgs = ["load-module", "module-remap-source", "source_name=pcimic", "master=nullsink.monitor",
                          "source_properties='device.bus=pci device.vendor.name=Intel device.description=Internal-Mic'"]

/// Collects one notification's posts.
private final class Posts: @unchecked Sendable {  // the list is behind its mutex; tokens fixed at init
    /// Each post: the device, which notification, what `isConnected` said when it arrived, when.
    private let list = Mutex<[(device: AVCaptureDevice, connected: Bool, isConnected: Bool, at: Double)]>([])
    private var tokens: [NSObjectProtocol] = []

    init() {
        for (name, connected) in [(AVCaptureDevice.wasConnectedNotification, true), (NSNotification.Name.AVCaptureDeviceWasDisconnected, false)] {
            tokens.append(NotificationCenter.default.addObserver(forName: name, object: nil, queue: nil) { [weak self] n in
                guard let self, let d = n.object as? AVCaptureDevice else { return }
                let entry = (d, connected, d.isConnected, Monotonic.now)
                self.list.withLock { $0.append(entry) }
            })
        }
    }

    deinit { tokens.forEach { NotificationCenter.default.removeObserver($0) } }

    func first(_ uniqueID: String, connected: Bool, timeout: Double = 6) async -> (device: AVCaptureDevice, isConnected: Bool, at: Double)? {
        let end = Monotonic.now + timeout
        while Monotonic.now < end {
            let hit = list.withLock { $0.first { $0.device.uniqueID == uniqueID && $0.connected == connected } }
            if let hit { return (hit.device, hit.isConnected, hit.at) }
            try? await Task.sleep(for: .milliseconds(20))
        }
        return nil
    }

    func count(_ uniqueID: String) -> Int {
        list.withLock { $0.filter { $0.device.uniqueID == uniqueID }.count }
    }
}

@Suite(.serialized) struct AVCaptureDeviceTests {
    @Test func serverSourcesAreDevicesWithStableIDsAcrossARestart() async throws {
        var daemon = try await PulseDaemon.start()
        defer { daemon.shutdown() }
        use(daemon)
        let loaded = try await daemon.pactl(usbMicArgs)
        try #require(loaded.exitCode == 0, "\(loaded)")
        let names = try await sourceNames(daemon)
        #expect(names.contains("usbmic") && names.contains("nullsink.monitor"))

        let all = AVCaptureDevice.DiscoverySession(deviceTypes: [.microphone], mediaType: .audio, position: .unspecified).devices
        // Every source the server lists, and only those (no card here; never the test signal).
        #expect(Set(all.map(\.uniqueID)) == Set(names.map { "pulse:" + $0 }))
        let mic = try #require(all.first { $0.uniqueID == "pulse:usbmic" })
        #expect(mic.localizedName == "Acme-Mic-9")
        #expect(mic.manufacturer == "Acme")
        #expect(mic.modelID == "usb:1234:5678")
        #expect(mic.transportType == 0x7573_6220)  // 'usb '
        #expect(mic.isConnected && mic.hasMediaType(.audio) && !mic.hasMediaType(.video))
        #expect(mic.deviceType == .microphone && mic.position == .unspecified)
        let monitor = try #require(all.first { $0.uniqueID == "pulse:nullsink.monitor" })
        #expect(monitor.transportType == 0x7669_7274)  // 'virt'
        // The Swift-native list says the same, with the routes a session opens.
        let native = try #require(InputDevices.device(uniqueID: "pulse:usbmic"))
        #expect(native.kind == .usb && native.origin == .soundServer)
        #expect(native.routes == InputRoutes(shared: "pulse:usbmic"))

        // A new daemon (another socket, another process): the same sources have the same IDs.
        let before = Set(all.map(\.uniqueID))
        daemon.shutdown()
        daemon = try await PulseDaemon.start()
        use(daemon)
        _ = try await daemon.pactl(usbMicArgs)
        let after = Set(AVCaptureDevice.DiscoverySession(deviceTypes: [.microphone], mediaType: .audio, position: .unspecified).devices.map(\.uniqueID))
        #expect(after == before)
        #expect(AVCaptureDevice(uniqueID: "pulse:usbmic") == mic)
    }

    @Test func defaultDeviceIsTheServersDefaultSource() async throws {
        let daemon = try await PulseDaemon.start()
        defer { daemon.shutdown() }
        use(daemon)
        _ = try await daemon.pactl(usbMicArgs)
        for source in ["usbmic", "nullsink.monitor"] {
            _ = try await daemon.pactl(["set-default-source", source])
            let told = try await daemon.pactl(["get-default-source"]).stdout.trimmingCharacters(in: .whitespacesAndNewlines)
            #expect(told == source)
            #expect(AVCaptureDevice.default(for: .audio)?.uniqueID == "pulse:" + source)
            #expect(InputDevices.listing().defaultDevice?.uniqueID == "pulse:" + source)
        }
        #expect(AVCaptureDevice.default(for: .video) == nil)
        // By type: the default when it is of the type, else the first of the type.
        #expect(AVCaptureDevice.default(.microphone, for: .audio, position: .unspecified)?.uniqueID == "pulse:nullsink.monitor")
        #expect(AVCaptureDevice.default(.builtInMicrophone, for: .audio, position: .unspecified) == nil)
        #expect(AVCaptureDevice.default(.builtInWideAngleCamera, for: .video, position: .back) == nil)
    }

    @Test func hotPlugPostsConnectedAndDisconnected() async throws {
        let daemon = try await PulseDaemon.start()
        defer { daemon.shutdown() }
        use(daemon)
        let posts = Posts()
        _ = AVCaptureDevice.default(for: .audio)  // asked for devices: the watcher runs

        let loaded = Monotonic.now
        let module = try await daemon.pactl(["load-module", "module-null-sink", "sink_name=hotplug"]).stdout
            .trimmingCharacters(in: .whitespacesAndNewlines)
        let connected = try #require(await posts.first("pulse:hotplug.monitor", connected: true), "no was-connected notification")
        print("was-connected \(String(format: "%.2f", connected.at - loaded)) s after load-module")
        #expect(connected.isConnected)
        let held = try #require(AVCaptureDevice(uniqueID: "pulse:hotplug.monitor"))
        #expect(held == connected.device)
        let input = try AVCaptureDeviceInput(device: held)
        #expect(input.captureInput.routes == InputRoutes(shared: "pulse:hotplug.monitor"))

        let unloaded = Monotonic.now
        _ = try await daemon.pactl(["unload-module", module])
        let gone = try #require(await posts.first("pulse:hotplug.monitor", connected: false), "no was-disconnected notification")
        print("was-disconnected \(String(format: "%.2f", gone.at - unloaded)) s after unload-module")
        #expect(gone.device == held)
        #expect(!gone.isConnected)  // already false when the notification arrived
        #expect(!held.isConnected)
        #expect(AVCaptureDevice(uniqueID: "pulse:hotplug.monitor") == nil)
        #expect { try AVCaptureDeviceInput(device: held) } throws: { ($0 as? AVError)?.code == .deviceNotConnected }
        #expect(posts.count("pulse:hotplug.monitor") == 2)  // one each, no repeats
    }

    @Test func discoveryFiltersByTypeMediaAndPosition() async throws {
        let daemon = try await PulseDaemon.start()
        defer { daemon.shutdown() }
        use(daemon)
        _ = try await daemon.pactl(usbMicArgs)
        _ = try await daemon.pactl(pciMicArgs)
        func ids(_ types: [AVCaptureDevice.DeviceType], _ media: AVMediaType? = .audio, _ position: AVCaptureDevice.Position = .unspecified) -> [String] {
            AVCaptureDevice.DiscoverySession(deviceTypes: types, mediaType: media, position: position).devices.map(\.uniqueID)
        }
        #expect(Set(ids([.microphone])) == ["pulse:usbmic", "pulse:pcimic", "pulse:nullsink.monitor"])
        #expect(ids([.builtInMicrophone]) == ["pulse:pcimic"])
        #expect(Set(ids([.external])) == ["pulse:usbmic", "pulse:nullsink.monitor"])
        #expect(Set(ids([.externalUnknown])) == Set(ids([.external])))
        // In the order of the types given.
        #expect(ids([.builtInMicrophone, .externalUnknown]).first == "pulse:pcimic")
        #expect(ids([.externalUnknown, .builtInMicrophone]).last == "pulse:pcimic")
        #expect(Set(ids([.microphone], nil)) == Set(ids([.microphone])))
        #expect(ids([.microphone], .video).isEmpty)
        #expect(ids([.microphone], .audio, .front).isEmpty)
        #expect(ids([.builtInWideAngleCamera, .continuityCamera], nil).isEmpty)
        #expect(AVCaptureDevice(uniqueID: "pulse:pcimic")?.transportType == 0x626c_746e)  // 'bltn'
    }

    @Test func builtInSignalIsFoundByIDOnlyAndUnknownIDsAreNot() throws {
        let builtin = try #require(AVCaptureDevice(uniqueID: "builtin"))
        #expect(builtin.uniqueID == "builtin" && builtin.isConnected)
        #expect(AVCaptureDevice(uniqueID: "pulse:no-such-source") == nil)
        #expect(AVCaptureDevice(uniqueID: "alsa:CARD=NoSuchCard,DEV=0") == nil)
        #expect(AVCaptureDevice(uniqueID: "") == nil)
        let listed = AVCaptureDevice.DiscoverySession(deviceTypes: [.microphone, .external, .builtInMicrophone], mediaType: nil, position: .unspecified).devices
        #expect(!listed.contains(builtin))
        #expect(AVCaptureDevice.default(for: .audio) != builtin)

        let input = try AVCaptureDeviceInput(device: builtin)
        #expect(input.device == builtin)
        #expect(input.captureInput.routes == InputRoutes(exclusive: "builtin", shared: "builtin"))
        let port = try #require(input.ports.first)
        #expect(input.ports.count == 1 && port.mediaType == .audio && port.isEnabled)
        #expect(port.input === input && port.sourceDeviceType == .microphone)
        port.isEnabled = false
        #expect(input.ports[0] === port && !input.ports[0].isEnabled)
    }

    @Test func configurationLockIsRefusedWhileAnotherProcessHoldsIt() async throws {
        let scratch = try TempDir("capdeck-avlock")
        let ready = scratch.path("ready")
        // Both processes' runtime directory, where the lock files are.
        setenv("XDG_RUNTIME_DIR", scratch.makeDirectory("run"), 1)
        let device = try #require(AVCaptureDevice(uniqueID: "builtin"))
        // The lock works and nests within this process.
        try device.lockForConfiguration()
        try device.lockForConfiguration()
        device.unlockForConfiguration()
        #expect(RouteLock.holder(pcm: "config:builtin") == getpid())
        device.unlockForConfiguration()
        #expect(RouteLock.holder(pcm: "config:builtin") == nil)

        let child = try Helper.spawn("lock", ["CAPDECK_HELPER_ID": "builtin", "CAPDECK_HELPER_OUT": ready], scratch: scratch)
        defer { child.kill() }
        let text = try await Helper.waitForFile(ready, child: child)
        #expect(text.hasPrefix("locked"))
        do {
            try device.lockForConfiguration()
            Issue.record("took the lock another process holds")
        } catch let e as AVError {
            #expect(e.code == .deviceLockedForConfigurationByAnotherProcess)
            #expect(e.userInfo[AVErrorPIDKey] as? Int == Int(child.pid))
        }
        child.kill()  // its exit releases the lock, as a crash would
        try device.lockForConfiguration()
        device.unlockForConfiguration()
    }

    @Test func authorizationFromThisMachinesFacts() async throws {
        let daemon = try await PulseDaemon.start()
        defer { daemon.shutdown() }
        use(daemon)
        // The server answers this user: authorized, and so is a request.
        #expect(AVCaptureDevice.authorizationStatus(for: .audio) == .authorized)
        #expect(await AVCaptureDevice.requestAccess(for: .audio))
        #expect(AVCaptureDevice.authorizationStatus(for: .video) == .restricted)

        // Nothing at all: no server answering, no capture node: not determined until asked.
        let empty = try TempDir("capdeck-avauth")
        setenv("PULSE_SERVER", "unix:" + empty.path("no-server"), 1)
        defer { use(daemon) }
        if InputDevices.captureNodes(in: "/dev/snd").isEmpty {
            #expect(AVCaptureDevice.authorizationStatus(for: .audio, deviceDirectory: empty.root) == .notDetermined)
            let granted = await withCheckedContinuation { done in
                AVCaptureDevice.requestAccess(for: .audio) { done.resume(returning: $0) }
            }
            #expect(granted)
            #expect(AVCaptureDevice.authorizationStatus(for: .audio, deviceDirectory: empty.root) == .authorized)
        }
    }

    /// Another user, through setpriv: the kernel's own permission checks on real device nodes
    /// (made with mknod, ALSA's major 116, as udev makes them: root:audio 0660) and on the server's
    /// socket (in the root-only runtime directory).
    @Test(.enabled(if: getuid() == 0 && which("setpriv") != nil, "needs root and setpriv"))
    func authorizationIsDeniedToAUserWhomPermissionsKeepOut() async throws {
        let daemon = try await PulseDaemon.start()
        defer { daemon.shutdown() }
        let scratch = try TempDir("capdeck-avauth")
        chmod(scratch.root, 0o755)
        let out = scratch.makeDirectory("out", mode: 0o777)
        chmod(out, 0o777)
        let nodes = scratch.makeDirectory("snd", mode: 0o755)
        chmod(nodes, 0o755)
        let audio = try #require(getgrnam("audio")?.pointee.gr_gid)
        for (name, minor) in [("controlC0", 0), ("pcmC0D0c", 24)] {
            try #require(mknod(nodes + "/" + name, S_IFCHR | 0o660, dev_t(116 << 8 | minor)) == 0, "mknod: \(Errno.current)")
            chown(nodes + "/" + name, 0, audio)
            chmod(nodes + "/" + name, 0o660)
        }
        func check(_ name: String, groups: String?, server: String, task: String = "access") async throws -> String {
            let file = out + "/" + name
            let child = try Helper.spawn(task, ["CAPDECK_HELPER_DIR": nodes, "CAPDECK_HELPER_OUT": file, "PULSE_SERVER": server],
                                         scratch: scratch, user: (65534, groups))
            defer { child.kill() }
            return try await Helper.waitForFile(file, child: child)
        }
        let noServer = "unix:" + scratch.path("no-server")
        // Not in the audio group: the nodes are closed to it.
        let outsider = try await check("outsider", groups: nil, server: noServer)
        print("as nobody: \(outsider)")
        #expect(outsider.hasPrefix("\(AVAuthorizationStatus.denied.rawValue) "), "\(outsider)")
        #expect(outsider.contains("pcmC0D0c") && outsider.contains("not in the audio group"), "\(outsider)")
        // In the audio group: the permissions let it in (the nodes have no driver behind them, so
        // there is still no device: not determined, and not denied).
        let member = try await check("member", groups: "\(audio)", server: noServer)
        #expect(member.hasPrefix("\(AVAuthorizationStatus.notDetermined.rawValue) "), "\(member)")
        // The daemon's socket is in root's 0700 runtime directory: closed to that user.
        let server = try #require(daemon.clientEnvironment["PULSE_SERVER"])
        let locked = try await check("socket", groups: "\(audio)", server: server)
        print("as nobody, the server's socket: \(locked)")
        // And so a device input can't be made for that user: Apple's error for it.
        let input = try await check("input", groups: "\(audio)", server: server, task: "input")
        #expect(input == "\(AVError.Code.applicationIsNotAuthorizedToUseDevice.rawValue)", "\(input)")
        #expect(locked.hasPrefix("\(AVAuthorizationStatus.denied.rawValue) ") && locked.contains("socket"), "\(locked)")
        // This process (root) is let in by the same server.
        use(daemon)
        #expect(AVCaptureDevice.authorizationStatus(for: .audio, deviceDirectory: nodes) == .authorized)
    }
}

/// This test binary run again as a helper process: `Helper.run` below does the task its
/// environment names.
enum Helper {
    static func spawn(_ task: String, _ env: [String: String], scratch: TempDir,
                      user: (uid: Int, groups: String?)? = nil) throws -> Child {
        let exe = try FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe")
        var environment = ProcessInfo.processInfo.environment
        environment.merge(env) { $1 }
        environment["CAPDECK_AV_HELPER"] = task
        let testArgs = ["--testing-library", "swift-testing", "--filter", "AVCaptureDeviceHelper"]
        if let user {
            let setpriv = try #require(which("setpriv"))
            let groups = user.groups.map { "--groups=\($0)" } ?? "--clear-groups"
            return try Child(setpriv, ["--reuid=\(user.uid)", "--regid=65534", groups, "--", exe] + testArgs,
                             environment: environment, stdout: scratch.path("helper-\(task).out"), stderr: scratch.path("helper-\(task).out"))
        }
        return try Child(exe, testArgs, environment: environment,
                         stdout: scratch.path("helper-\(task).out"), stderr: scratch.path("helper-\(task).out"))
    }

    /// The file's text once the helper has written it (it writes to a temp name, then renames).
    static func waitForFile(_ path: String, child: Child, timeout: Double = 30) async throws -> String {
        let end = Monotonic.now + timeout
        while Monotonic.now < end {
            if let text = try? String(contentsOfFile: path, encoding: .utf8) { return text }
            if let t = child.poll() { throw SpawnError(description: "the helper ended (\(t)) without writing \(path)") }
            try await Task.sleep(for: .milliseconds(20))
        }
        throw TimedOut(description: "the helper wrote no \(path) in \(timeout) s")
    }
}

@Suite struct AVCaptureDeviceHelper {
    static let task = ProcessInfo.processInfo.environment["CAPDECK_AV_HELPER"]

    /// Runs only as a helper process (see `Helper`); skipped in the suite.
    @Test(.enabled(if: task != nil, "runs only in a helper process"))
    func run() throws {
        let env = ProcessInfo.processInfo.environment
        let out = try #require(env["CAPDECK_HELPER_OUT"])
        func write(_ text: String) throws {
            try text.write(toFile: out + ".tmp", atomically: false, encoding: .utf8)
            rename(out + ".tmp", out)
        }
        switch Self.task {
        case "lock":
            let id = try #require(env["CAPDECK_HELPER_ID"])
            let device = try #require(AVCaptureDevice(uniqueID: id))
            try device.lockForConfiguration()
            try write("locked \(getpid())")
            sleep(60)  // until the test kills it
        case "access":
            let dir = try #require(env["CAPDECK_HELPER_DIR"])
            let access = InputDevices.captureAccess(deviceDirectory: dir)
            try write("\(AVCaptureDevice.status(access).rawValue) \(access.reason)")
        case "input":
            // A server source this user can't reach (the listing can't be asked): made from its facts.
            let device = AVCaptureDevice(input: InputDevice(uniqueID: "pulse:nullsink.monitor", name: "Monitor", modelID: "monitor",
                                                            manufacturer: "", kind: .virtual, origin: .soundServer,
                                                            routes: InputRoutes(shared: "pulse:nullsink.monitor")))
            do {
                _ = try AVCaptureDeviceInput(device: device)
                try write("made")
            } catch let e as AVError {
                try write("\(e.code.rawValue)")
            }
        default:
            Issue.record("unknown helper task \(Self.task ?? "")")
        }
    }
}
