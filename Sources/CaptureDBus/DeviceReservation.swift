// The D-Bus device reservation protocol (freedesktop's "Device Reservation Spec", as JACK,
// PulseAudio and PipeWire speak it): whoever owns `org.freedesktop.ReserveDevice1.Audio<N>` on the
// session bus has sound card N. To take the card from its holder we ask it to let go
// (`RequestRelease(our priority)`), and only if it says yes do we take the name over.
//
// While we hold it, our own connection serves the protocol on a dispatch loop of its own
// (`capdeck.reservation.AudioN`): `RequestRelease` from anyone else is answered `false` (we hold
// the card because the user asked for exclusive access, and only while we capture from it: the
// user gives it back by turning mix on or stopping, not another program), and the three
// properties through `org.freedesktop.DBus.Properties`. Acquire and release are blocking calls
// with a deadline on the caller's thread (the session's), never the capture thread.
import CDBus
import Dispatch
import Glibc
import Synchronization

/// Why a card could not be reserved.
public enum ReservationError: Error, Equatable, Sendable, CustomStringConvertible {
    /// The holder answered `RequestRelease` with false. `holder` is its `ApplicationName`
    /// ("PulseAudio Sound Server", "Jack audio server"), or its unique bus name if it gave none.
    case refused(holder: String)
    /// The holder did not answer `RequestRelease` within the deadline (hung, stopped, or slow).
    /// `holder` says who it is as far as the bus can tell (its pid and program name).
    case notAnswering(holder: String, timeoutMs: Int)
    /// There is no session bus to reserve on (ssh, cron), or it does not answer.
    case noBus(String)
    /// Anything else the bus said (the name taken by a third contender, a protocol violation).
    case failed(String)

    public var description: String {
        switch self {
        case .refused(let h): "\(h) refused to release the card"
        case .notAnswering(let h, let t): "\(h) holds the card and did not answer within \(t) ms"
        case .noBus(let m): m
        case .failed(let m): m
        }
    }
}

/// A held reservation of one sound card (`acquire`); `release()` gives it back.
public final class DeviceReservation: @unchecked Sendable {  // the connection is used by the loop, then by release, never both
    public static let interface = "org.freedesktop.ReserveDevice1"
    /// Higher than PulseAudio's (0) and PipeWire's (negative), so both grant our request; lower
    /// than JACK's (INT32_MAX), which never gives a card up.
    public static let defaultPriority: Int32 = 10

    public static func serviceName(card: Int) -> String { "org.freedesktop.ReserveDevice1.Audio\(card)" }
    public static func objectPath(card: Int) -> String { "/org/freedesktop/ReserveDevice1/Audio\(card)" }

    public let card: Int
    public let serviceName: String
    /// True when a holder had to be asked (it granted): it got the card back at our release.
    public let tookOver: Bool
    private let connection: OpaquePointer
    private let served: Served
    private let loopDone = DispatchSemaphore(value: 0)
    private let released = Mutex<Bool>(false)
    private let timeoutMs: Int32

    /// Reserves card `card`. Without a holder, the name is simply taken; with one, it is asked
    /// to release the card (waiting at most `timeoutMs`) and the name is taken over if it agrees.
    public static func acquire(card: Int, applicationName: String, deviceName: String,
                               priority: Int32 = defaultPriority, timeoutMs: Int = 1000,
                               busAddress: String? = nil) throws(ReservationError) -> DeviceReservation {
        guard let address = busAddress ?? SessionBus.defaultAddress() else {
            throw .noBus("no session bus (DBUS_SESSION_BUS_ADDRESS is unset and $XDG_RUNTIME_DIR/bus does not exist)")
        }
        let timeout = Int32(clamping: timeoutMs)
        let lib = try library()
        var err = DBusError()
        lib.dbus_error_init(&err)
        guard let c = lib.dbus_connection_open_private(address, &err) else {
            throw .noBus("no session bus at \(address): \(SessionBus.take(lib, &err, fallback: "cannot connect"))")
        }
        lib.dbus_connection_set_exit_on_disconnect(c, 0)
        var keep = false
        defer {
            if !keep {
                lib.dbus_connection_close(c)
                lib.dbus_connection_unref(c)
            }
        }
        let bus = BusCalls(lib: lib, connection: c, timeoutMs: timeout)
        do throws(BusError) {
            lib.dbus_message_unref(try bus.call(BusCalls.daemon, BusCalls.daemonPath, BusCalls.daemon, "Hello", []))
        } catch {
            throw .noBus("the session bus at \(address) does not answer: \(error)")
        }

        let name = serviceName(card: card)
        let path = objectPath(card: card)
        let flags = UInt32(DBUS_NAME_FLAG_DO_NOT_QUEUE) | (priority < Int32.max ? UInt32(DBUS_NAME_FLAG_ALLOW_REPLACEMENT) : 0)
        let tookOver = try takeName(bus, name: name, path: path, flags: flags, priority: priority)
        let r = DeviceReservation(lib: lib, connection: c, card: card, serviceName: name, path: path,
                                  applicationName: applicationName, deviceName: deviceName,
                                  priority: priority, tookOver: tookOver, timeoutMs: timeout)
        keep = true
        return r
    }

    /// Who holds card `card`'s reservation now, asked without taking it: its `ApplicationName`
    /// (its unique name if it gives none), nil when nobody holds it; throws when there is no bus
    /// or the holder does not answer within `timeoutMs`.
    public static func holder(card: Int, timeoutMs: Int = 500, busAddress: String? = nil) throws(ReservationError) -> String? {
        guard let address = busAddress ?? SessionBus.defaultAddress() else { throw .noBus("no session bus") }
        let lib = try library()
        var err = DBusError()
        lib.dbus_error_init(&err)
        guard let c = lib.dbus_connection_open_private(address, &err) else {
            throw .noBus("no session bus at \(address): \(SessionBus.take(lib, &err, fallback: "cannot connect"))")
        }
        lib.dbus_connection_set_exit_on_disconnect(c, 0)
        defer {
            lib.dbus_connection_close(c)
            lib.dbus_connection_unref(c)
        }
        let bus = BusCalls(lib: lib, connection: c, timeoutMs: Int32(clamping: timeoutMs))
        guard let hello = try? bus.call(BusCalls.daemon, BusCalls.daemonPath, BusCalls.daemon, "Hello", []) else {
            throw .noBus("the session bus at \(address) does not answer")
        }
        lib.dbus_message_unref(hello)
        let name = serviceName(card: card)
        guard let owner = try? bus.owner(of: name) else { return nil }
        switch Result(catching: { () throws(BusError) -> String in try bus.stringProperty(name, path: objectPath(card: card), "ApplicationName") }) {
        case .success(let app): return app.isEmpty ? owner : app
        case .failure(let e) where e.isTimeout: throw .notAnswering(holder: bus.describe(uniqueName: owner), timeoutMs: timeoutMs)
        case .failure: return owner
        }
    }

    /// libdbus; without it there is no bus to reserve on, as when the bus can't be reached.
    private static func library() throws(ReservationError) -> capdeck_dbus {
        switch libdbus {
        case .success(let lib): return lib
        case .failure(let e): throw .noBus("no session bus: \(e)")
        }
    }

    /// RequestName, and if someone holds it, RequestRelease and RequestName(REPLACE_EXISTING).
    /// True when a holder granted the card.
    private static func takeName(_ bus: BusCalls, name: String, path: String, flags: UInt32,
                                 priority: Int32) throws(ReservationError) -> Bool {
        func busFailure(_ e: BusError) -> ReservationError {
            e.isTimeout ? .noBus("the session bus does not answer: \(e)") : .failed("\(name): \(e)")
        }
        var reply: UInt32
        switch Result(catching: { () throws(BusError) -> UInt32 in try bus.requestName(name, flags: flags) }) {
        case .success(let r): reply = r
        case .failure(let e): throw busFailure(e)
        }
        var tookOver = false
        if reply == UInt32(DBUS_REQUEST_NAME_REPLY_EXISTS) {
            // Someone holds the card: ask it.
            let holderID = (try? bus.owner(of: name)) ?? name
            let granted: Bool
            switch Result(catching: { () throws(BusError) -> Bool in try bus.requestRelease(name, path: path, priority: priority) }) {
            case .success(let g): granted = g
            case .failure(let e) where e.isTimeout:
                throw .notAnswering(holder: bus.describe(uniqueName: holderID), timeoutMs: Int(bus.timeoutMs))
            case .failure(let e) where e.isNoOwner: granted = true  // it went away meanwhile: the name is free
            case .failure(let e): throw .failed("\(name): RequestRelease: \(e)")
            }
            guard granted else {
                let app = (try? bus.stringProperty(name, path: path, "ApplicationName")) ?? ""
                throw .refused(holder: app.isEmpty ? holderID : app)
            }
            switch Result(catching: { () throws(BusError) -> UInt32 in
                try bus.requestName(name, flags: flags | UInt32(DBUS_NAME_FLAG_REPLACE_EXISTING))
            }) {
            case .success(let r): reply = r
            case .failure(let e): throw busFailure(e)
            }
            tookOver = true
        }
        guard reply == UInt32(DBUS_REQUEST_NAME_REPLY_PRIMARY_OWNER) || reply == UInt32(DBUS_REQUEST_NAME_REPLY_ALREADY_OWNER) else {
            // Racy by nature: a third contender may have taken it, or the holder granted but does
            // not allow replacement.
            throw .failed("\(name): the bus did not make us its owner (RequestName answered \(reply))")
        }
        return tookOver
    }

    private init(lib: capdeck_dbus, connection: OpaquePointer, card: Int, serviceName: String, path: String, applicationName: String,
                 deviceName: String, priority: Int32, tookOver: Bool, timeoutMs: Int32) {
        self.connection = connection
        self.card = card
        self.serviceName = serviceName
        self.tookOver = tookOver
        self.timeoutMs = timeoutMs
        served = Served(lib: lib, serviceName: serviceName, path: path, applicationName: applicationName,
                        deviceName: deviceName, priority: priority)
        let box = Unmanaged.passRetained(served).toOpaque()
        _ = lib.dbus_connection_add_filter(connection, reservationFilter, box, { p in
            if let p { Unmanaged<Served>.fromOpaque(p).release() }
        })
        // One long work item: read, write and dispatch with a short timeout, until release.
        let c = UncheckedConnection(pointer: connection)
        let queue = DispatchQueue(label: "capdeck.reservation.Audio\(card)")
        queue.async { [served, loopDone] in
            while !served.stop.load(ordering: .acquiring) {
                if served.lib.dbus_connection_read_write_dispatch(c.pointer, 50) == 0 { break }  // disconnected
            }
            loopDone.signal()
        }
    }

    deinit { release() }

    /// Still ours: not released, and not taken by anyone (a peer that replaced us without asking).
    public var isHeld: Bool { !released.withLock { $0 } && !served.lost.load(ordering: .relaxed) }
    /// How many `RequestRelease` calls we answered (all with false) while holding the card.
    public var refusedRequests: Int { served.refused.load(ordering: .relaxed) }

    /// Gives the name up (`ReleaseName`) and closes the connection; a holder that granted us the
    /// card takes it back then. Waits at most ~50 ms for the loop plus the bus call's deadline.
    /// Safe to call more than once.
    public func release() {
        let first = released.withLock { r -> Bool in defer { r = true }; return !r }
        guard first else { return }
        served.stop.store(true, ordering: .releasing)
        loopDone.wait()
        let lib = served.lib
        let bus = BusCalls(lib: lib, connection: connection, timeoutMs: timeoutMs)
        if lib.dbus_connection_get_is_connected(connection) != 0 {
            if let m = try? bus.call(BusCalls.daemon, BusCalls.daemonPath, BusCalls.daemon, "ReleaseName", [.string(serviceName)]) {
                lib.dbus_message_unref(m)
            }
        }
        lib.dbus_connection_close(connection)
        lib.dbus_connection_unref(connection)
    }
}

/// The connection pointer, handed to the loop's queue (used there only until release waits for it).
private struct UncheckedConnection: @unchecked Sendable {
    let pointer: OpaquePointer
}

/// What the filter serves: our properties, and what happened to the name.
private final class Served: Sendable {
    /// libdbus, for the filter (a C callback: it has only this object) and the connection's owner.
    let lib: capdeck_dbus
    let serviceName: String
    let path: String
    let applicationName: String
    let deviceName: String
    let priority: Int32
    let refused = Atomic<Int>(0)
    let lost = Atomic<Bool>(false)
    /// Set by release: the loop ends.
    let stop = Atomic<Bool>(false)
    init(lib: capdeck_dbus, serviceName: String, path: String, applicationName: String, deviceName: String, priority: Int32) {
        self.lib = lib
        self.serviceName = serviceName
        self.path = path
        self.applicationName = applicationName
        self.deviceName = deviceName
        self.priority = priority
    }
}

/// The filter on a held reservation's connection (runs on its loop's queue).
private func reservationFilter(_ c: OpaquePointer?, _ m: OpaquePointer?, _ data: UnsafeMutableRawPointer?) -> DBusHandlerResult {
    guard let c, let m, let data else { return DBUS_HANDLER_RESULT_NOT_YET_HANDLED }
    let s = Unmanaged<Served>.fromOpaque(data).takeUnretainedValue()
    let lib = s.lib
    let iface = DeviceReservation.interface
    if lib.dbus_message_is_signal(m, "org.freedesktop.DBus", "NameLost") != 0 {
        var it = DBusMessageIter()
        if lib.dbus_message_iter_init(m, &it) != 0, lib.dbus_message_iter_get_arg_type(&it) == cdbus_type_string,
           let p = cdbus_get_string(&it), String(cString: p) == s.serviceName {
            s.lost.store(true, ordering: .relaxed)
        }
        return DBUS_HANDLER_RESULT_NOT_YET_HANDLED
    }
    guard lib.dbus_message_get_type(m) == DBUS_MESSAGE_TYPE_METHOD_CALL, lib.dbus_message_has_path(m, s.path) != 0 else {
        return DBUS_HANDLER_RESULT_NOT_YET_HANDLED
    }
    var reply: OpaquePointer?
    if lib.dbus_message_is_method_call(m, iface, "RequestRelease") != 0 {
        var it = DBusMessageIter()
        guard lib.dbus_message_iter_init(m, &it) != 0, lib.dbus_message_iter_get_arg_type(&it) == cdbus_type_int32 else {
            reply = lib.dbus_message_new_error(m, "org.freedesktop.DBus.Error.InvalidArgs", "RequestRelease takes one int32 (the priority)")
            return send(lib, c, reply)
        }
        // Refused whatever the priority: we hold the card only while capturing from it, because
        // the user asked for exclusive access.
        s.refused.add(1, ordering: .relaxed)
        reply = lib.dbus_message_new_method_return(m)
        if let reply {
            var out = DBusMessageIter()
            lib.dbus_message_iter_init_append(reply, &out)
            var no: dbus_bool_t = 0
            _ = lib.dbus_message_iter_append_basic(&out, cdbus_type_boolean, &no)
        }
        return send(lib, c, reply)
    }
    if lib.dbus_message_is_method_call(m, "org.freedesktop.DBus.Properties", "Get") != 0 {
        let args = stringArguments(lib, m)
        guard args.count == 2 else {
            return send(lib, c, lib.dbus_message_new_error(m, "org.freedesktop.DBus.Error.InvalidArgs", "Get takes two strings"))
        }
        guard args[0] == iface || args[0].isEmpty, ["ApplicationName", "ApplicationDeviceName", "Priority"].contains(args[1]) else {
            return send(lib, c, lib.dbus_message_new_error(m, "org.freedesktop.DBus.Error.UnknownProperty", "no property \(args[0]).\(args[1])"))
        }
        reply = lib.dbus_message_new_method_return(m)
        if let reply {
            var out = DBusMessageIter()
            lib.dbus_message_iter_init_append(reply, &out)
            appendVariant(&out, property: args[1], s)
        }
        return send(lib, c, reply)
    }
    if lib.dbus_message_is_method_call(m, "org.freedesktop.DBus.Properties", "GetAll") != 0 {
        let args = stringArguments(lib, m)
        reply = lib.dbus_message_new_method_return(m)
        if let reply {
            var out = DBusMessageIter()
            lib.dbus_message_iter_init_append(reply, &out)
            var dict = DBusMessageIter()
            _ = lib.dbus_message_iter_open_container(&out, cdbus_type_array, "{sv}", &dict)
            if args.first.map({ $0 == iface || $0.isEmpty }) ?? true {
                for p in ["ApplicationName", "ApplicationDeviceName", "Priority"] {
                    var entry = DBusMessageIter()
                    _ = lib.dbus_message_iter_open_container(&dict, cdbus_type_dict_entry, nil, &entry)
                    _ = cdbus_append_string(&entry, p)
                    appendVariant(&entry, property: p, s)
                    _ = lib.dbus_message_iter_close_container(&dict, &entry)
                }
            }
            _ = lib.dbus_message_iter_close_container(&out, &dict)
        }
        return send(lib, c, reply)
    }
    return DBUS_HANDLER_RESULT_NOT_YET_HANDLED
}

private func send(_ lib: capdeck_dbus, _ c: OpaquePointer, _ reply: OpaquePointer?) -> DBusHandlerResult {
    guard let reply else { return DBUS_HANDLER_RESULT_NEED_MEMORY }
    _ = lib.dbus_connection_send(c, reply, nil)
    lib.dbus_message_unref(reply)
    return DBUS_HANDLER_RESULT_HANDLED
}

private func stringArguments(_ lib: capdeck_dbus, _ m: OpaquePointer) -> [String] {
    var it = DBusMessageIter()
    var out: [String] = []
    guard lib.dbus_message_iter_init(m, &it) != 0 else { return out }
    while lib.dbus_message_iter_get_arg_type(&it) == cdbus_type_string {
        if let p = cdbus_get_string(&it) { out.append(String(cString: p)) }
        _ = lib.dbus_message_iter_next(&it)
    }
    return out
}

private func appendVariant(_ it: inout DBusMessageIter, property: String, _ s: Served) {
    let lib = s.lib
    var v = DBusMessageIter()
    if property == "Priority" {
        _ = lib.dbus_message_iter_open_container(&it, cdbus_type_variant, "i", &v)
        var p = s.priority
        _ = lib.dbus_message_iter_append_basic(&v, cdbus_type_int32, &p)
    } else {
        _ = lib.dbus_message_iter_open_container(&it, cdbus_type_variant, "s", &v)
        _ = cdbus_append_string(&v, property == "ApplicationName" ? s.applicationName : s.deviceName)
    }
    _ = lib.dbus_message_iter_close_container(&it, &v)
}

/// Blocking calls with a deadline on one connection (the acquiring or releasing thread's).
struct BusCalls {
    static let daemon = "org.freedesktop.DBus"
    static let daemonPath = "/org/freedesktop/DBus"
    enum Argument { case string(String), uint32(UInt32), int32(Int32) }

    let lib: capdeck_dbus
    let connection: OpaquePointer
    let timeoutMs: Int32

    /// The caller unrefs the reply.
    func call(_ destination: String, _ path: String, _ interface: String, _ method: String,
              _ arguments: [Argument]) throws(BusError) -> OpaquePointer {
        guard let msg = lib.dbus_message_new_method_call(destination, path, interface, method) else {
            throw BusError(name: "org.freedesktop.DBus.Error.NoMemory", message: "out of memory")
        }
        defer { lib.dbus_message_unref(msg) }
        var it = DBusMessageIter()
        lib.dbus_message_iter_init_append(msg, &it)
        for a in arguments {
            let ok: dbus_bool_t
            switch a {
            case .string(let s): ok = cdbus_append_string(&it, s)
            case .uint32(var u): ok = lib.dbus_message_iter_append_basic(&it, cdbus_type_uint32, &u)
            case .int32(var i): ok = lib.dbus_message_iter_append_basic(&it, cdbus_type_int32, &i)
            }
            if ok == 0 { throw BusError(name: "org.freedesktop.DBus.Error.NoMemory", message: "out of memory") }
        }
        var err = DBusError()
        lib.dbus_error_init(&err)
        guard let reply = lib.dbus_connection_send_with_reply_and_block(connection, msg, timeoutMs, &err) else {
            throw SessionBus.take(lib, &err, fallback: "\(method) failed")
        }
        return reply
    }

    /// The first argument of `reply`, a uint32 or boolean.
    func firstUInt32(_ reply: OpaquePointer, _ what: String) throws(BusError) -> UInt32 {
        var it = DBusMessageIter()
        guard lib.dbus_message_iter_init(reply, &it) != 0 else { throw BusError(name: "capdeck.BadReply", message: "\(what): no reply argument") }
        let t = lib.dbus_message_iter_get_arg_type(&it)
        guard t == cdbus_type_uint32 || t == cdbus_type_boolean else {
            throw BusError(name: "capdeck.BadReply", message: "\(what): unexpected reply type")
        }
        var v: UInt32 = 0
        lib.dbus_message_iter_get_basic(&it, &v)
        return v
    }

    func requestName(_ name: String, flags: UInt32) throws(BusError) -> UInt32 {
        let r = try call(Self.daemon, Self.daemonPath, Self.daemon, "RequestName", [.string(name), .uint32(flags)])
        defer { lib.dbus_message_unref(r) }
        return try firstUInt32(r, "RequestName")
    }

    func requestRelease(_ name: String, path: String, priority: Int32) throws(BusError) -> Bool {
        let r = try call(name, path, DeviceReservation.interface, "RequestRelease", [.int32(priority)])
        defer { lib.dbus_message_unref(r) }
        return try firstUInt32(r, "RequestRelease") != 0
    }

    func owner(of name: String) throws(BusError) -> String {
        let r = try call(Self.daemon, Self.daemonPath, Self.daemon, "GetNameOwner", [.string(name)])
        defer { lib.dbus_message_unref(r) }
        var it = DBusMessageIter()
        guard lib.dbus_message_iter_init(r, &it) != 0, lib.dbus_message_iter_get_arg_type(&it) == cdbus_type_string,
              let p = cdbus_get_string(&it) else { throw BusError(name: "capdeck.BadReply", message: "GetNameOwner: not a string") }
        return String(cString: p)
    }

    /// A string property of the reservation interface.
    func stringProperty(_ name: String, path: String, _ property: String) throws(BusError) -> String {
        let r = try call(name, path, "org.freedesktop.DBus.Properties", "Get", [.string(DeviceReservation.interface), .string(property)])
        defer { lib.dbus_message_unref(r) }
        var it = DBusMessageIter()
        guard lib.dbus_message_iter_init(r, &it) != 0, lib.dbus_message_iter_get_arg_type(&it) == cdbus_type_variant else {
            throw BusError(name: "capdeck.BadReply", message: "\(property): not a variant")
        }
        var sub = DBusMessageIter()
        lib.dbus_message_iter_recurse(&it, &sub)
        guard lib.dbus_message_iter_get_arg_type(&sub) == cdbus_type_string, let p = cdbus_get_string(&sub) else {
            throw BusError(name: "capdeck.BadReply", message: "\(property): not a string")
        }
        return String(cString: p)
    }

    /// "pid 1234 (jackd)" for a unique bus name, as the bus daemon knows it (it answers even
    /// when the connection's program is stopped); the unique name when it can't tell.
    func describe(uniqueName: String) -> String {
        guard let r = try? call(Self.daemon, Self.daemonPath, Self.daemon, "GetConnectionUnixProcessID", [.string(uniqueName)]) else {
            return uniqueName
        }
        defer { lib.dbus_message_unref(r) }
        guard let pid = try? firstUInt32(r, "GetConnectionUnixProcessID") else { return uniqueName }
        var comm = ""
        if let f = fopen("/proc/\(pid)/comm", "r") {
            var buf = [CChar](repeating: 0, count: 64)
            if fgets(&buf, 64, f) != nil {
                comm = String(decoding: buf.prefix { $0 != 0 && $0 != 10 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
            }
            fclose(f)
        }
        return comm.isEmpty ? "pid \(pid)" : "pid \(pid) (\(comm))"
    }
}
