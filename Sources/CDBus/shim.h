// Thin shim over libdbus-1 (the reference D-Bus client library), for the session bus's media
// players (MPRIS) and the device reservation protocol (org.freedesktop.ReserveDevice1). Only what
// Swift can't import: the type codes are macros with casts (`((int) 's')`), and appending a
// string argument takes the address of a `const char *`.
// The include directories come from pkg-config (dbus-1's .pc carries only -I, which SwiftPM takes).
#ifndef CAPDECK_CDBUS_SHIM_H
#define CAPDECK_CDBUS_SHIM_H
#include <dbus/dbus.h>

static const int cdbus_type_string = DBUS_TYPE_STRING;
static const int cdbus_type_variant = DBUS_TYPE_VARIANT;
static const int cdbus_type_array = DBUS_TYPE_ARRAY;
static const int cdbus_type_invalid = DBUS_TYPE_INVALID;
static const int cdbus_type_int32 = DBUS_TYPE_INT32;
static const int cdbus_type_uint32 = DBUS_TYPE_UINT32;
static const int cdbus_type_boolean = DBUS_TYPE_BOOLEAN;
static const int cdbus_type_dict_entry = DBUS_TYPE_DICT_ENTRY;

/// Appends one string argument; FALSE when out of memory.
static inline dbus_bool_t cdbus_append_string(DBusMessageIter *iter, const char *value) {
    return dbus_message_iter_append_basic(iter, DBUS_TYPE_STRING, &value);
}

/// The string at the iterator (its type must be checked first); owned by the message.
static inline const char *cdbus_get_string(DBusMessageIter *iter) {
    const char *value = NULL;
    dbus_message_iter_get_basic(iter, &value);
    return value;
}
#endif
