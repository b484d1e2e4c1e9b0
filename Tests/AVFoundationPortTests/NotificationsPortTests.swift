#if canImport(AVFoundation)
import AVFoundation
#else
import CaptureDeckAVFoundation
#endif
import Foundation
import XCTest
import CaptureTestSupport

// Program 5: an app's session and device observers, as AVCam has them but block-based
// (`addObserver(forName:object:queue:using:)`): AVCam's `#selector` observers need the
// Objective-C runtime, which Linux doesn't have.

final class CaptureObserver {
    enum Event: Equatable {
        case didStartRunning, didStopRunning
        case runtimeError(AVError.Code)
        case wasInterrupted(Int?)
        case interruptionEnded
        case deviceConnected(String), deviceDisconnected(String)
    }

    private let lock = NSLock()
    private var _events: [Event] = []
    private var tokens: [NSObjectProtocol] = []
    var events: [Event] { lock.lock(); defer { lock.unlock() }; return _events }

    init(session: AVCaptureSession) {
        let center = NotificationCenter.default
        tokens.append(center.addObserver(forName: AVCaptureSession.didStartRunningNotification, object: session, queue: nil) { [weak self] _ in
            self?.log(.didStartRunning)
        })
        tokens.append(center.addObserver(forName: AVCaptureSession.didStopRunningNotification, object: session, queue: nil) { [weak self] _ in
            self?.log(.didStopRunning)
        })
        tokens.append(center.addObserver(forName: AVCaptureSession.runtimeErrorNotification, object: session, queue: nil) { [weak self] note in
            // AVCam: `guard let error = notification.userInfo?[AVCaptureSessionErrorKey] as? AVError`.
            guard let error = note.userInfo?[AVCaptureSessionErrorKey] as? AVError else {
                self?.log(.runtimeError(.unknown))
                return
            }
            self?.log(.runtimeError(error.code))
        })
        tokens.append(center.addObserver(forName: AVCaptureSession.wasInterruptedNotification, object: session, queue: nil) { [weak self] note in
            // AVCam reads the reason with `as AnyObject?` and `.integerValue` (Objective-C
            // dynamic lookup); `as? Int` is the portable spelling. The key and the reason enum
            // exist on iOS, not macOS.
            var reason: Int?
            #if !os(macOS)
            if let value = note.userInfo?[AVCaptureSessionInterruptionReasonKey] as? Int,
               let r = AVCaptureSession.InterruptionReason(rawValue: value) {
                reason = r.rawValue
            }
            #endif
            self?.log(.wasInterrupted(reason))
        })
        tokens.append(center.addObserver(forName: AVCaptureSession.interruptionEndedNotification, object: session, queue: nil) { [weak self] _ in
            self?.log(.interruptionEnded)
        })
        tokens.append(center.addObserver(forName: AVCaptureDevice.wasConnectedNotification, object: nil, queue: nil) { [weak self] note in
            guard let device = note.object as? AVCaptureDevice else { return }
            self?.log(.deviceConnected(device.uniqueID))
        })
        tokens.append(center.addObserver(forName: AVCaptureDevice.wasDisconnectedNotification, object: nil, queue: nil) { [weak self] note in
            guard let device = note.object as? AVCaptureDevice else { return }
            self?.log(.deviceDisconnected(device.uniqueID))
        })
    }

    deinit {
        for token in tokens { NotificationCenter.default.removeObserver(token) }
    }

    private func log(_ event: Event) {
        lock.lock(); _events.append(event); lock.unlock()
    }
}

final class NotificationsPortTests: XCTestCase {
    func testDidStartAndDidStopRunning() throws {
        let session = AVCaptureSession()
        let observer = CaptureObserver(session: session)
        let other = AVCaptureSession()
        let otherObserver = CaptureObserver(session: other)
        session.addInput(try AVCaptureDeviceInput(device: try TestTone.device()))
        session.addOutput(AVCaptureAudioDataOutput())
        session.startRunning()
        XCTAssertTrue(session.isRunning)
        XCTAssertFalse(session.isInterrupted)
        XCTAssertTrue(waitUntil(2) { observer.events.contains(.didStartRunning) })
        session.stopRunning()
        XCTAssertFalse(session.isRunning)
        XCTAssertTrue(waitUntil(2) { observer.events.contains(.didStopRunning) })
        XCTAssertEqual(observer.events, [.didStartRunning, .didStopRunning])
        XCTAssertEqual(otherObserver.events, [], "object: filters by session")
    }

    /// A device that disappears while the session runs: a sound-server source unloaded under it.
    /// Apple posts a runtime error (deviceWasDisconnected) and the device's was-disconnected
    /// notification; hot-plugging a source posts was-connected.
    func testHotPlugAndARuntimeErrorFromADeviceThatGoesAway() async throws {
        let pulse = try await TestPulseServer.start()
        defer { pulse.stop() }
        let session = AVCaptureSession()
        let observer = CaptureObserver(session: session)

        // An app lists its microphones at launch; what is plugged in later is announced.
        let atLaunch = AVCaptureDevice.DiscoverySession(deviceTypes: [.microphone, .external], mediaType: .audio, position: .unspecified).devices
        print("devices at launch: \(atLaunch.map { $0.uniqueID })")
        let module = try await pulse.pactl(["load-module", "module-null-source", "source_name=plugged_mic", "rate=48000"])
        XCTAssertTrue(waitUntil(5) { observer.events.contains { if case .deviceConnected = $0 { return true }; return false } },
                      "was-connected for a hot-plugged source; events: \(observer.events)")
        let discovery = AVCaptureDevice.DiscoverySession(deviceTypes: [.microphone, .external], mediaType: .audio, position: .unspecified)
        print("devices with the test server: " + discovery.devices.map { "\($0.uniqueID) (\($0.localizedName))" }.joined(separator: ", "))
        guard let mic = discovery.devices.first(where: { $0.uniqueID.contains("plugged_mic") || $0.localizedName.contains("plugged_mic") }) else {
            XCTFail("the hot-plugged source is not among the discovered devices")
            return
        }
        XCTAssertTrue(mic.isConnected)
        session.addInput(try AVCaptureDeviceInput(device: mic))
        let counter = BufferCounter()
        let output = AVCaptureAudioDataOutput()
        output.setSampleBufferDelegate(counter, queue: DispatchQueue(label: "hotplug.counter"))
        session.addOutput(output)
        session.startRunning()
        defer { session.stopRunning() }
        XCTAssertTrue(waitUntil(5) { counter.count > 3 }, "capturing from the server's source")

        let beforeLoss = counter.count
        _ = try await pulse.pactl(["unload-module", module.trimmingCharacters(in: .whitespacesAndNewlines)])
        XCTAssertTrue(waitUntil(5) { observer.events.contains(.deviceDisconnected(mic.uniqueID)) }, "was-disconnected; events: \(observer.events)")
        XCTAssertTrue(waitUntil(5) { observer.events.contains(.runtimeError(.deviceWasDisconnected)) }, "runtime error; events: \(observer.events)")
        XCTAssertFalse(mic.isConnected)
        XCTAssertNil(AVCaptureDevice(uniqueID: mic.uniqueID), "a device that is gone can't be looked up")
        XCTAssertThrowsError(try AVCaptureDeviceInput(device: mic), "an input for a disconnected device")
        // Measured: whether the session stopped by itself after losing its only input.
        waitUntil(2) { !session.isRunning }
        let afterLoss = counter.count
        usleep(500_000)
        let streams = (try? await pulse.pactl(["list", "source-outputs", "short"])) ?? "?"
        let sources = (try? await pulse.pactl(["list", "sources", "short"])) ?? "?"
        print("server after the loss: source-outputs [\(streams)] sources [\(sources)]")
        print("hot-plug events: \(observer.events); after the loss: running \(session.isRunning), interrupted \(session.isInterrupted), buffers \(beforeLoss) -> \(afterLoss) -> \(counter.count)")
    }
}

extension NotificationsPortTests {
    /// The sound server dies under a running session: its input can't deliver any more. Apple
    /// reports a device that stops working while running with a runtime error.
    func testARuntimeErrorWhenTheServerUnderTheDeviceDies() async throws {
        let pulse = try await TestPulseServer.start()
        defer { pulse.stop() }
        let session = AVCaptureSession()
        let observer = CaptureObserver(session: session)
        let devices = AVCaptureDevice.DiscoverySession(deviceTypes: [.microphone, .external], mediaType: .audio, position: .unspecified).devices
        guard let device = AVCaptureDevice.default(for: .audio) ?? devices.first else {
            XCTFail("the server's source is not a device: \(devices.map { $0.uniqueID })")
            return
        }
        print("server device: \(device.uniqueID)")
        session.addInput(try AVCaptureDeviceInput(device: device))
        let counter = BufferCounter()
        let output = AVCaptureAudioDataOutput()
        output.setSampleBufferDelegate(counter, queue: DispatchQueue(label: "server.counter"))
        session.addOutput(output)
        session.startRunning()
        defer { session.stopRunning() }
        XCTAssertTrue(waitUntil(5) { counter.count > 3 }, "capturing from the server")
        pulse.daemon.shutdown()
        let gotError = waitUntil(8) { observer.events.contains { if case .runtimeError = $0 { return true }; return false } }
        print("server gone: events \(observer.events); running \(session.isRunning), interrupted \(session.isInterrupted)")
        XCTAssertTrue(gotError, "a runtime error once the server is gone")
        #if !os(macOS)
        for case let .wasInterrupted(raw?) in observer.events {
            // Apple's reasons are 1...5; print what a port's switch would meet.
            print("interruption reason \(raw): \(String(describing: AVCaptureSession.InterruptionReason(rawValue: raw)))")
        }
        #endif
    }
}

/// The team's private PulseAudio daemon (CaptureTestSupport), its address exported into this
/// process so the library's server connection reaches it; restored by `stop()`.
final class TestPulseServer {
    let daemon: PulseDaemon
    private var saved: [String: String?] = [:]

    static func start() async throws -> TestPulseServer {
        // PulseAudio is one of the parts `make deps` installs: a daemon that won't start fails the test.
        let daemon = try await PulseDaemon.start()
        let server = TestPulseServer(daemon)
        for (key, value) in daemon.clientEnvironment {
            server.saved[key] = ProcessInfo.processInfo.environment[key]
            setenv(key, value, 1)
        }
        return server
    }

    private init(_ daemon: PulseDaemon) { self.daemon = daemon }

    /// `pactl ARGS`; its stdout, or an error if it fails.
    @discardableResult
    func pactl(_ args: [String]) async throws -> String {
        let r = try await daemon.pactl(args)
        guard r.exitCode == 0 else { throw PortFailure("pactl \(args): \(r)") }
        return r.stdout
    }

    func stop() {
        daemon.shutdown()
        for (key, value) in saved {
            if let value = value { setenv(key, value, 1) } else { unsetenv(key) }
        }
    }
}
