// Thin shim over libdbus-1 (the reference D-Bus client library), for the session bus's media
// players (MPRIS) and the device reservation protocol (org.freedesktop.ReserveDevice1). Besides
// the loader, only what Swift can't import: the type codes are macros with casts (`((int) 's')`),
// and appending a string argument takes the address of a `const char *`.
//
// capdeck doesn't link libdbus: it is opened (dlopen) the first time the session bus is used (a
// card's reservation, the players paused while mix is off, the console's), so a take that never
// uses the bus (a file PCM, the built-in source, a sound server's PCM) never maps it and what it
// links (libsystemd, libgcrypt, lz4, zstd, lzma, libcap: about 0.8 MiB resident). Nor does it
// build with libdbus's headers: libdbus-abi.h declares what it uses, so the package needs no -I.
#ifndef CAPDECK_CDBUS_H
#define CAPDECK_CDBUS_H
#include "libdbus-abi.h"

/// Every libdbus function capdeck calls, X(name, return type, (parameters)), as libdbus declares
/// it (LibdbusDeclarationTests checks), with nullability for Swift.
#define CAPDECK_DBUS_FUNCTIONS(X) \
    X(dbus_threads_init_default, dbus_bool_t, (void)) \
    X(dbus_error_init, void, (DBusError *_Nonnull error)) \
    X(dbus_error_free, void, (DBusError *_Nonnull error)) \
    X(dbus_error_is_set, dbus_bool_t, (const DBusError *_Nonnull error)) \
    X(dbus_connection_open_private, DBusConnection *_Nullable, (const char *_Nonnull address, DBusError *_Nullable error)) \
    X(dbus_connection_set_exit_on_disconnect, void, (DBusConnection *_Nonnull connection, dbus_bool_t exit_on_disconnect)) \
    X(dbus_connection_close, void, (DBusConnection *_Nonnull connection)) \
    X(dbus_connection_unref, void, (DBusConnection *_Nonnull connection)) \
    X(dbus_connection_get_is_connected, dbus_bool_t, (DBusConnection *_Nonnull connection)) \
    X(dbus_connection_add_filter, dbus_bool_t, (DBusConnection *_Nonnull connection, DBusHandleMessageFunction _Nonnull function, \
                                                void *_Nullable user_data, DBusFreeFunction _Nullable free_data_function)) \
    X(dbus_connection_read_write_dispatch, dbus_bool_t, (DBusConnection *_Nonnull connection, int timeout_milliseconds)) \
    X(dbus_connection_send, dbus_bool_t, (DBusConnection *_Nonnull connection, DBusMessage *_Nonnull message, \
                                          dbus_uint32_t *_Nullable client_serial)) \
    X(dbus_connection_send_with_reply_and_block, DBusMessage *_Nullable, (DBusConnection *_Nonnull connection, \
                                                                          DBusMessage *_Nonnull message, int timeout_milliseconds, \
                                                                          DBusError *_Nullable error)) \
    X(dbus_message_new_method_call, DBusMessage *_Nullable, (const char *_Nullable bus_name, const char *_Nonnull path, \
                                                             const char *_Nullable iface, const char *_Nonnull method)) \
    X(dbus_message_new_method_return, DBusMessage *_Nullable, (DBusMessage *_Nonnull method_call)) \
    X(dbus_message_new_error, DBusMessage *_Nullable, (DBusMessage *_Nonnull reply_to, const char *_Nonnull error_name, \
                                                       const char *_Nullable error_message)) \
    X(dbus_message_unref, void, (DBusMessage *_Nonnull message)) \
    X(dbus_message_get_type, int, (DBusMessage *_Nonnull message)) \
    X(dbus_message_has_path, dbus_bool_t, (DBusMessage *_Nonnull message, const char *_Nullable object_path)) \
    X(dbus_message_is_method_call, dbus_bool_t, (DBusMessage *_Nonnull message, const char *_Nonnull iface, const char *_Nonnull method)) \
    X(dbus_message_is_signal, dbus_bool_t, (DBusMessage *_Nonnull message, const char *_Nonnull iface, const char *_Nonnull signal_name)) \
    X(dbus_message_iter_init, dbus_bool_t, (DBusMessage *_Nonnull message, DBusMessageIter *_Nonnull iter)) \
    X(dbus_message_iter_init_append, void, (DBusMessage *_Nonnull message, DBusMessageIter *_Nonnull iter)) \
    X(dbus_message_iter_next, dbus_bool_t, (DBusMessageIter *_Nonnull iter)) \
    X(dbus_message_iter_recurse, void, (DBusMessageIter *_Nonnull iter, DBusMessageIter *_Nonnull sub)) \
    X(dbus_message_iter_get_arg_type, int, (DBusMessageIter *_Nonnull iter)) \
    X(dbus_message_iter_get_basic, void, (DBusMessageIter *_Nonnull iter, void *_Nonnull value)) \
    X(dbus_message_iter_append_basic, dbus_bool_t, (DBusMessageIter *_Nonnull iter, int type, const void *_Nonnull value)) \
    X(dbus_message_iter_open_container, dbus_bool_t, (DBusMessageIter *_Nonnull iter, int type, \
                                                      const char *_Nullable contained_signature, DBusMessageIter *_Nonnull sub)) \
    X(dbus_message_iter_close_container, dbus_bool_t, (DBusMessageIter *_Nonnull iter, DBusMessageIter *_Nonnull sub))

/// libdbus's functions, by their own names.
struct capdeck_dbus {
#define CAPDECK_DBUS_FIELD(name, result, parameters) result (*_Nonnull name) parameters;
    CAPDECK_DBUS_FUNCTIONS(CAPDECK_DBUS_FIELD)
#undef CAPDECK_DBUS_FIELD
};

/// libdbus-1.so.3's functions, loaded on the first call (thread-safe; later calls return the same
/// table), or NULL with why in `*error` ("libdbus-1.so.3: cannot open shared object file…").
const struct capdeck_dbus *_Nullable capdeck_dbus_load(const char *_Nullable *_Nonnull error);

static const int cdbus_type_string = DBUS_TYPE_STRING;
static const int cdbus_type_variant = DBUS_TYPE_VARIANT;
static const int cdbus_type_array = DBUS_TYPE_ARRAY;
static const int cdbus_type_invalid = DBUS_TYPE_INVALID;
static const int cdbus_type_int32 = DBUS_TYPE_INT32;
static const int cdbus_type_uint32 = DBUS_TYPE_UINT32;
static const int cdbus_type_boolean = DBUS_TYPE_BOOLEAN;
static const int cdbus_type_dict_entry = DBUS_TYPE_DICT_ENTRY;

// The two helpers call through the loaded table: an iterator exists only once libdbus is loaded.

/// Appends one string argument; FALSE when out of memory.
dbus_bool_t cdbus_append_string(DBusMessageIter *_Nonnull iter, const char *_Nonnull value);

/// The string at the iterator (its type must be checked first); owned by the message.
const char *_Nullable cdbus_get_string(DBusMessageIter *_Nonnull iter);
#endif
