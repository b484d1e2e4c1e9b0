// capdeck_dbus_load (include/CDBus.h): libdbus-1.so.3 opened once, every function resolved; and the
// two helpers, through that table.
#include "CDBus.h"
#include "CLoader.h"

static struct capdeck_dbus table;
#define CAPDECK_DBUS_NAME(name, result, parameters) #name,
static const char *const names[] = {CAPDECK_DBUS_FUNCTIONS(CAPDECK_DBUS_NAME)};
_Static_assert(sizeof table == sizeof names / sizeof *names * sizeof(void *), "a table of function pointers, one per name");
static struct capdeck_library lib = {PTHREAD_MUTEX_INITIALIZER, "libdbus-1.so.3", names, sizeof names / sizeof *names, &table};

const struct capdeck_dbus *capdeck_dbus_load(const char **error) {
    if (capdeck_library_load(&lib)) return &table;
    *error = lib.why;
    return NULL;
}

dbus_bool_t cdbus_append_string(DBusMessageIter *iter, const char *value) {
    return table.dbus_message_iter_append_basic(iter, DBUS_TYPE_STRING, &value);
}

const char *cdbus_get_string(DBusMessageIter *iter) {
    const char *value = NULL;
    table.dbus_message_iter_get_basic(iter, &value);
    return value;
}
