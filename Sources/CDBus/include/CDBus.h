// Thin shim over libdbus-1 (the reference D-Bus client library), for the session bus's media
// players (MPRIS) and the device reservation protocol (org.freedesktop.ReserveDevice1). Besides
// the loader, only what Swift can't import: the type codes are macros with casts (`((int) 's')`),
// and appending a string argument takes the address of a `const char *`.
//
// capdeck doesn't link libdbus: it is opened (dlopen) the first time the session bus is used (a
// card's reservation, the players paused while mix is off, the console's), so a take that never
// uses the bus (a file PCM, the built-in source, a sound server's PCM) never maps it and what it
// links (libsystemd, libgcrypt, lz4, zstd, lzma, libcap: about 0.8 MiB resident). The include
// directories come from pkg-config without its -ldbus-1 (Package.swift).
#ifndef CAPDECK_CDBUS_H
#define CAPDECK_CDBUS_H
#include <dbus/dbus.h>

/// Every libdbus function capdeck calls (X(name)).
#define CAPDECK_DBUS_FUNCTIONS(X) \
    X(dbus_threads_init_default) X(dbus_error_init) X(dbus_error_free) X(dbus_error_is_set) \
    X(dbus_connection_open_private) X(dbus_connection_set_exit_on_disconnect) \
    X(dbus_connection_close) X(dbus_connection_unref) X(dbus_connection_get_is_connected) \
    X(dbus_connection_add_filter) X(dbus_connection_read_write_dispatch) X(dbus_connection_send) \
    X(dbus_connection_send_with_reply_and_block) X(dbus_message_new_method_call) \
    X(dbus_message_new_method_return) X(dbus_message_new_error) X(dbus_message_unref) \
    X(dbus_message_get_type) X(dbus_message_has_path) X(dbus_message_is_method_call) \
    X(dbus_message_is_signal) X(dbus_message_iter_init) X(dbus_message_iter_init_append) \
    X(dbus_message_iter_next) X(dbus_message_iter_recurse) X(dbus_message_iter_get_arg_type) \
    X(dbus_message_iter_get_basic) X(dbus_message_iter_append_basic) \
    X(dbus_message_iter_open_container) X(dbus_message_iter_close_container)

/// libdbus's functions, by their own names and with their own types (from its headers).
struct capdeck_dbus {
#define CAPDECK_DBUS_FIELD(name) __typeof__(name) *_Nonnull name;
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
