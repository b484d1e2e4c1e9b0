// The device reservation protocol (issue 9, "mix off takes the card"), with real parts: a private
// session bus (dbus-daemon) and stand-in holders (Tests/Support/reserve-holder.py, dbus-python)
// that own org.freedesktop.ReserveDevice1.Audio7 and grant or refuse RequestRelease the way
// PulseAudio and JACK do.
import CaptureTestSupport
import Foundation
import Glibc
import Testing
@testable import CaptureDBus

/// A stand-in holder of card `card`, started on `bus`; stopped (SIGKILL, by pid) at deinit.
final class StandInHolder: @unchecked Sendable {  // immutable after init
    let process: Process
    let uniqueName: String
    let name: String
    private let outPath: String

    static var script: String {
        URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .appendingPathComponent("Support/reserve-holder.py").path
    }

    init(on bus: PrivateBus, card: Int = 7, applicationName: String, grants: Bool) throws {
        // Debian's python3, where python3-dbus and python3-gi are (not another python on PATH).
        let python = "/usr/bin/python3"
        guard access(python, X_OK) == 0 else { throw SupportFailure(description: "python3 is needed (apt-get install python3 python3-dbus python3-gi)") }
        name = DeviceReservation.serviceName(card: card)
        outPath = bus.scratch.path + "/holder-\(UUID().uuidString).out"
        _ = FileManager.default.createFile(atPath: outPath, contents: nil)
        let p = Process()
        p.executableURL = URL(fileURLWithPath: python)
        p.arguments = [Self.script, String(card), applicationName, grants ? "grant" : "refuse"]
        var env = ProcessInfo.processInfo.environment
        env["DBUS_SESSION_BUS_ADDRESS"] = bus.address
        p.environment = env
        p.standardOutput = FileHandle(forWritingAtPath: outPath)
        p.standardError = FileHandle(forWritingAtPath: bus.scratch.path + "/holder.err")
        try p.run()
        process = p
        var owner: String?
        let outPath = outPath
        func output() -> String { (try? String(contentsOfFile: outPath, encoding: .utf8)) ?? "" }
        do {
            try waitUntil("the stand-in holder owning \(name)", timeout: 10, pollMs: 10) {
                owner = output().split(separator: "\n").first { $0.hasPrefix("owned ") }.map { String($0.dropFirst(6)) }
                return owner != nil || !p.isRunning
            }
        } catch {
            kill(p.processIdentifier, SIGKILL)
            throw error
        }
        guard let owner else { throw SupportFailure(description: "the stand-in holder exited: \(output())") }
        uniqueName = owner
    }

    var output: String { (try? String(contentsOfFile: outPath, encoding: .utf8)) ?? "" }
    var pid: pid_t { process.processIdentifier }
    deinit {
        kill(pid, SIGCONT)
        kill(pid, SIGKILL)
        process.waitUntilExit()
    }
}

@Suite(.serialized, .timeLimit(.minutes(1)))
struct ReservationTests {
    static let name = DeviceReservation.serviceName(card: 7)

    @Test func aFreeCardIsTakenAndGivenBack() throws {
        let bus = try PrivateBus()
        let look = try bus.connect()
        let r = try DeviceReservation.acquire(card: 7, applicationName: "CaptureDeck", deviceName: "plughw:7", busAddress: bus.address)
        #expect(r.isHeld && !r.tookOver)
        #expect(try look.owner(of: Self.name) != nil)
        r.release()
        #expect(!r.isHeld)
        #expect(try look.owner(of: Self.name) == nil)
    }

    @Test func aSoundServerThatGrantsGetsTheCardBackAfterRelease() throws {
        let bus = try PrivateBus()
        let look = try bus.connect()
        let holder = try StandInHolder(on: bus, applicationName: "PulseAudio Sound Server", grants: true)
        let r = try DeviceReservation.acquire(card: 7, applicationName: "CaptureDeck", deviceName: "plughw:7", busAddress: bus.address)
        #expect(r.isHeld && r.tookOver)
        let ours = try look.owner(of: Self.name)
        #expect(ours != nil && ours != holder.uniqueName)
        #expect(holder.output.contains("request 10 granted"), "\(holder.output)")
        r.release()
        // As PulseAudio does: it watches the name and takes it back once it is free.
        try waitUntil("the holder owning the name again", timeout: 5, pollMs: 10) {
            (try? look.owner(of: Self.name)) == holder.uniqueName
        }
    }

    @Test func aSoundServerThatRefusesIsNamed() throws {
        let bus = try PrivateBus()
        let look = try bus.connect()
        let holder = try StandInHolder(on: bus, applicationName: "PulseAudio Sound Server", grants: false)
        #expect(throws: ReservationError.refused(holder: "PulseAudio Sound Server")) {
            try DeviceReservation.acquire(card: 7, applicationName: "CaptureDeck", deviceName: "plughw:7", busAddress: bus.address)
        }
        #expect(try look.owner(of: Self.name) == holder.uniqueName)
    }

    @Test func aCardHeldByJackIsRefused() throws {
        let bus = try PrivateBus()
        let look = try bus.connect()
        let holder = try StandInHolder(on: bus, applicationName: "Jack audio server", grants: false)
        #expect(throws: ReservationError.refused(holder: "Jack audio server")) {
            try DeviceReservation.acquire(card: 7, applicationName: "CaptureDeck", deviceName: "plughw:7", busAddress: bus.address)
        }
        #expect(try look.owner(of: Self.name) == holder.uniqueName)
    }

    @Test func aHolderThatDoesNotAnswerCostsTheTimeoutAndIsNamed() throws {
        let bus = try PrivateBus()
        let holder = try StandInHolder(on: bus, applicationName: "PulseAudio Sound Server", grants: true)
        kill(holder.pid, SIGSTOP)
        defer { kill(holder.pid, SIGCONT) }
        let t0 = Date()
        do {
            _ = try DeviceReservation.acquire(card: 7, applicationName: "CaptureDeck", deviceName: "plughw:7",
                                              timeoutMs: 300, busAddress: bus.address)
            Issue.record("acquired a card whose holder is stopped")
        } catch {
            guard case .notAnswering(let who, let ms) = error else { Issue.record("\(error)"); return }
            #expect(ms == 300)
            #expect(who.contains("pid \(holder.pid)"), "\(who)")
        }
        let took = Date().timeIntervalSince(t0)
        #expect(took >= 0.25 && took < 2, "\(took) s")
    }

    @Test func noBusIsTold() {
        #expect(throws: ReservationError.self) {
            try DeviceReservation.acquire(card: 7, applicationName: "CaptureDeck", deviceName: "plughw:7",
                                          busAddress: "unix:path=/nonexistent/capdeck-no-bus")
        }
        do {
            _ = try DeviceReservation.acquire(card: 7, applicationName: "CaptureDeck", deviceName: "plughw:7",
                                              busAddress: "unix:path=/nonexistent/capdeck-no-bus")
        } catch {
            guard case .noBus = error else { Issue.record("\(error)"); return }
        }
    }

    /// While we hold the card, our connection serves the protocol: a third program's
    /// RequestRelease gets false, and the properties say who we are.
    @Test func whileHeldWeRefuseOthersAndAnswerTheProperties() throws {
        let bus = try PrivateBus()
        let r = try DeviceReservation.acquire(card: 7, applicationName: "CaptureDeck", deviceName: "plughw:7", busAddress: bus.address)
        defer { r.release() }
        // A third client, as PulseAudio would ask (priority 0) and as JACK would (INT32_MAX).
        let other = try bus.connect()
        #expect(try dbusSend(bus, ["--dest=\(Self.name)", DeviceReservation.objectPath(card: 7),
                                   "org.freedesktop.ReserveDevice1.RequestRelease", "int32:2147483647"]).contains("boolean false"))
        #expect(try dbusSend(bus, ["--dest=\(Self.name)", DeviceReservation.objectPath(card: 7),
                                   "org.freedesktop.ReserveDevice1.RequestRelease", "int32:0"]).contains("boolean false"))
        #expect(r.refusedRequests == 2)
        let get = try dbusSend(bus, ["--dest=\(Self.name)", DeviceReservation.objectPath(card: 7),
                                     "org.freedesktop.DBus.Properties.Get", "string:org.freedesktop.ReserveDevice1", "string:ApplicationName"])
        #expect(get.contains("string \"CaptureDeck\""), "\(get)")
        let all = try dbusSend(bus, ["--dest=\(Self.name)", DeviceReservation.objectPath(card: 7),
                                     "org.freedesktop.DBus.Properties.GetAll", "string:org.freedesktop.ReserveDevice1"])
        #expect(all.contains("\"ApplicationDeviceName\"") && all.contains("string \"plughw:7\""), "\(all)")
        #expect(all.contains("\"Priority\"") && all.contains("int32 10"), "\(all)")
        #expect(r.isHeld)
        _ = other
    }
}

/// `dbus-send --print-reply` on the private bus (a third program), its output; bounded by its
/// own reply timeout.
func dbusSend(_ bus: PrivateBus, _ args: [String]) throws -> String {
    guard let path = which("dbus-send") else { throw SupportFailure(description: "dbus-send is needed (apt-get install dbus)") }
    let p = Process()
    p.executableURL = URL(fileURLWithPath: path)
    p.arguments = ["--session", "--print-reply", "--reply-timeout=2000"] + args
    var env = ProcessInfo.processInfo.environment
    env["DBUS_SESSION_BUS_ADDRESS"] = bus.address
    p.environment = env
    let out = Pipe()
    p.standardOutput = out
    p.standardError = out
    try p.run()
    let data = out.fileHandleForReading.readDataToEndOfFile()
    p.waitUntilExit()
    return String(decoding: data, as: UTF8.self)
}
