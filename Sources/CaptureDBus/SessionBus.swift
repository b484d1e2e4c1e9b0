// A connection to the user's session D-Bus for its media players (MPRIS): list them, read their
// status and name, pause and play them. Plain blocking libdbus calls, each with its own timeout
// (500 ms by default), so a hung player or bus costs at most that; never on the capture thread
// (OtherAudioInterrupter runs it on its own serial queue).
import CDBus
import Glibc

/// Why a bus call failed: the bus's error name (`org.freedesktop.DBus.Error.NoReply` for a
/// timeout, `...ServiceUnknown` for a player that went away) and its message.
public struct BusError: Error, Equatable, Sendable, CustomStringConvertible {
    public var name: String
    public var message: String
    public init(name: String, message: String) {
        self.name = name
        self.message = message
    }
    public var description: String { message.isEmpty ? name : message }
    public var isTimeout: Bool { name == "org.freedesktop.DBus.Error.NoReply" || name == "org.freedesktop.DBus.Error.Timeout" }
    public var isNoOwner: Bool { name == "org.freedesktop.DBus.Error.NameHasNoOwner" || name == "org.freedesktop.DBus.Error.ServiceUnknown" }
}

/// libdbus, opened the first time the bus is used (CDBus.h says why it isn't linked), its threads
/// initialised (a reservation's loop and the interrupter's queue each use a connection); a
/// machine without it gets the loader's one line, as a bus that can't be reached.
let libdbus: Result<capdeck_dbus, BusError> = {
    var why: UnsafePointer<CChar>?
    guard let table = capdeck_dbus_load(&why) else {
        return .failure(BusError(name: "capdeck.NoLibdbus", message: why.map { String(cString: $0) } ?? "libdbus-1.so.3 could not be loaded"))
    }
    _ = table.pointee.dbus_threads_init_default()
    return .success(table.pointee)
}()

/// An MPRIS player's `PlaybackStatus`.
public enum PlaybackStatus: String, Sendable, Equatable {
    case playing = "Playing", paused = "Paused", stopped = "Stopped"
}

/// What the interrupter needs from the bus (the session bus in production; the protocol lets the
/// interrupter's bookkeeping be driven by a scripted bus too).
public protocol MediaPlayerBus: AnyObject {
    /// Every bus name with the prefix `org.mpris.MediaPlayer2.`.
    func playerNames() throws(BusError) -> [String]
    /// The unique name (`:1.42`) that owns `name` now, or nil when nobody does.
    func owner(of name: String) throws(BusError) -> String?
    /// `org.mpris.MediaPlayer2.Player.PlaybackStatus` of the player at `destination`.
    func playbackStatus(_ destination: String) throws(BusError) -> PlaybackStatus
    /// `org.mpris.MediaPlayer2.Identity` ("mpv", "Firefox").
    func identity(_ destination: String) throws(BusError) -> String
    func pause(_ destination: String) throws(BusError)
    func play(_ destination: String) throws(BusError)
}

/// One private connection to a session bus. Not thread-safe: one queue uses it (the interrupter's).
public final class SessionBus: MediaPlayerBus {
    public static let playerPrefix = "org.mpris.MediaPlayer2."
    static let objectPath = "/org/mpris/MediaPlayer2"

    private let lib: capdeck_dbus
    private let connection: OpaquePointer
    public let timeoutMs: Int32

    /// The session bus's address: `DBUS_SESSION_BUS_ADDRESS`, else the socket systemd and
    /// dbus-user-session put in `$XDG_RUNTIME_DIR/bus`; nil when there is neither (ssh, cron).
    public static func defaultAddress() -> String? {
        if let a = getenv("DBUS_SESSION_BUS_ADDRESS").map({ String(cString: $0) }), !a.isEmpty { return a }
        if let r = getenv("XDG_RUNTIME_DIR").map({ String(cString: $0) }), r.hasPrefix("/"),
           access(r + "/bus", F_OK) == 0 {
            return "unix:path=" + r + "/bus"
        }
        return nil
    }

    /// Connects to `address` (default: `defaultAddress()`) and says Hello, within `timeoutMs` for
    /// the Hello. The connection never exits the process when the bus goes away (libdbus's
    /// default for bus connections).
    public init(address: String? = nil, timeoutMs: Int = 500) throws(BusError) {
        guard let address = address ?? SessionBus.defaultAddress() else {
            throw BusError(name: "capdeck.NoSessionBus", message: "no session bus (DBUS_SESSION_BUS_ADDRESS is unset and $XDG_RUNTIME_DIR/bus does not exist)")
        }
        let lib = try libdbus.get()
        self.lib = lib
        self.timeoutMs = Int32(clamping: timeoutMs)
        var err = DBusError()
        lib.dbus_error_init(&err)
        guard let c = lib.dbus_connection_open_private(address, &err) else {
            throw SessionBus.take(lib, &err, fallback: "could not connect to the session bus at \(address)")
        }
        connection = c
        lib.dbus_connection_set_exit_on_disconnect(c, 0)
        // Hello by hand (dbus_bus_register waits up to libdbus's default 25 s).
        do throws(BusError) {
            _ = try call(destination: "org.freedesktop.DBus", path: "/org/freedesktop/DBus",
                         interface: "org.freedesktop.DBus", method: "Hello", arguments: [])
        } catch {
            lib.dbus_connection_close(c)
            lib.dbus_connection_unref(c)
            throw error
        }
    }

    deinit {
        lib.dbus_connection_close(connection)
        lib.dbus_connection_unref(connection)
    }

    public var isConnected: Bool { lib.dbus_connection_get_is_connected(connection) != 0 }

    public func playerNames() throws(BusError) -> [String] {
        let reply = try call(destination: "org.freedesktop.DBus", path: "/org/freedesktop/DBus",
                             interface: "org.freedesktop.DBus", method: "ListNames", arguments: [])
        defer { lib.dbus_message_unref(reply) }
        var it = DBusMessageIter()
        guard lib.dbus_message_iter_init(reply, &it) != 0, lib.dbus_message_iter_get_arg_type(&it) == cdbus_type_array else {
            throw BusError(name: "capdeck.BadReply", message: "ListNames: not an array")
        }
        var sub = DBusMessageIter()
        lib.dbus_message_iter_recurse(&it, &sub)
        var names: [String] = []
        while lib.dbus_message_iter_get_arg_type(&sub) == cdbus_type_string {
            if let s = cdbus_get_string(&sub) {
                let name = String(cString: s)
                if name.hasPrefix(SessionBus.playerPrefix) { names.append(name) }
            }
            _ = lib.dbus_message_iter_next(&sub)
        }
        return names.sorted()
    }

    public func owner(of name: String) throws(BusError) -> String? {
        do throws(BusError) {
            let reply = try call(destination: "org.freedesktop.DBus", path: "/org/freedesktop/DBus",
                                 interface: "org.freedesktop.DBus", method: "GetNameOwner", arguments: [name])
            defer { lib.dbus_message_unref(reply) }
            return try firstString(reply, what: "GetNameOwner")
        } catch where error.isNoOwner {
            return nil
        }
    }

    public func playbackStatus(_ destination: String) throws(BusError) -> PlaybackStatus {
        let s = try property(destination, interface: "org.mpris.MediaPlayer2.Player", name: "PlaybackStatus")
        guard let status = PlaybackStatus(rawValue: s) else {
            throw BusError(name: "capdeck.BadReply", message: "PlaybackStatus \"\(s)\" is not Playing, Paused or Stopped")
        }
        return status
    }

    public func identity(_ destination: String) throws(BusError) -> String {
        try property(destination, interface: "org.mpris.MediaPlayer2", name: "Identity")
    }

    public func pause(_ destination: String) throws(BusError) {
        lib.dbus_message_unref(try call(destination: destination, path: SessionBus.objectPath,
                                    interface: "org.mpris.MediaPlayer2.Player", method: "Pause", arguments: []))
    }

    public func play(_ destination: String) throws(BusError) {
        lib.dbus_message_unref(try call(destination: destination, path: SessionBus.objectPath,
                                    interface: "org.mpris.MediaPlayer2.Player", method: "Play", arguments: []))
    }

    /// `org.freedesktop.DBus.Properties.Get` of a string property.
    private func property(_ destination: String, interface: String, name: String) throws(BusError) -> String {
        let reply = try call(destination: destination, path: SessionBus.objectPath,
                             interface: "org.freedesktop.DBus.Properties", method: "Get", arguments: [interface, name])
        defer { lib.dbus_message_unref(reply) }
        var it = DBusMessageIter()
        guard lib.dbus_message_iter_init(reply, &it) != 0, lib.dbus_message_iter_get_arg_type(&it) == cdbus_type_variant else {
            throw BusError(name: "capdeck.BadReply", message: "\(name): not a variant")
        }
        var sub = DBusMessageIter()
        lib.dbus_message_iter_recurse(&it, &sub)
        guard lib.dbus_message_iter_get_arg_type(&sub) == cdbus_type_string, let s = cdbus_get_string(&sub) else {
            throw BusError(name: "capdeck.BadReply", message: "\(name): not a string")
        }
        return String(cString: s)
    }

    private func firstString(_ reply: OpaquePointer, what: String) throws(BusError) -> String {
        var it = DBusMessageIter()
        guard lib.dbus_message_iter_init(reply, &it) != 0, lib.dbus_message_iter_get_arg_type(&it) == cdbus_type_string,
              let s = cdbus_get_string(&it) else {
            throw BusError(name: "capdeck.BadReply", message: "\(what): not a string")
        }
        return String(cString: s)
    }

    /// One method call with string arguments, waiting at most `timeoutMs` for the reply. The
    /// caller unrefs the reply.
    private func call(destination: String, path: String, interface: String, method: String,
                      arguments: [String]) throws(BusError) -> OpaquePointer {
        guard isConnected else { throw BusError(name: "org.freedesktop.DBus.Error.Disconnected", message: "the session bus connection is closed") }
        guard let msg = lib.dbus_message_new_method_call(destination, path, interface, method) else {
            throw BusError(name: "org.freedesktop.DBus.Error.NoMemory", message: "out of memory")
        }
        defer { lib.dbus_message_unref(msg) }
        var it = DBusMessageIter()
        lib.dbus_message_iter_init_append(msg, &it)
        for a in arguments where cdbus_append_string(&it, a) == 0 {
            throw BusError(name: "org.freedesktop.DBus.Error.NoMemory", message: "out of memory")
        }
        var err = DBusError()
        lib.dbus_error_init(&err)
        guard let reply = lib.dbus_connection_send_with_reply_and_block(connection, msg, timeoutMs, &err) else {
            throw SessionBus.take(lib, &err, fallback: "\(method) failed")
        }
        return reply
    }

    static func take(_ lib: capdeck_dbus, _ err: inout DBusError, fallback: String) -> BusError {
        defer { lib.dbus_error_free(&err) }
        guard lib.dbus_error_is_set(&err) != 0 else { return BusError(name: "capdeck.Unknown", message: fallback) }
        return BusError(name: err.name.map { String(cString: $0) } ?? "", message: err.message.map { String(cString: $0) } ?? fallback)
    }
}
