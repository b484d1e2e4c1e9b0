// capdeck_dbus_load (include/CDBus.h): dlopen libdbus-1.so.3 once, resolve every function.
#include "CDBus.h"

#include <dlfcn.h>
#include <pthread.h>
#include <stdio.h>

static struct capdeck_dbus table;
static const struct capdeck_dbus *loaded;
static char why[512];
static pthread_once_t once = PTHREAD_ONCE_INIT;

static void load(void) {
    void *lib = dlopen("libdbus-1.so.3", RTLD_NOW | RTLD_LOCAL);
    if (!lib) {
        snprintf(why, sizeof why, "%s", dlerror());
        return;
    }
#define CAPDECK_DBUS_RESOLVE(name)                                                          \
    if (!(*(void **)&table.name = dlsym(lib, #name))) {                                     \
        snprintf(why, sizeof why, "libdbus-1.so.3 has no %s (too old a libdbus)", #name);   \
        return;                                                                             \
    }
    CAPDECK_DBUS_FUNCTIONS(CAPDECK_DBUS_RESOLVE)
#undef CAPDECK_DBUS_RESOLVE
    loaded = &table;
}

const struct capdeck_dbus *capdeck_dbus_load(const char **error) {
    pthread_once(&once, load);
    if (!loaded) *error = why;
    return loaded;
}

dbus_bool_t cdbus_append_string(DBusMessageIter *iter, const char *value) {
    return table.dbus_message_iter_append_basic(iter, DBUS_TYPE_STRING, &value);
}

const char *cdbus_get_string(DBusMessageIter *iter) {
    const char *value = NULL;
    table.dbus_message_iter_get_basic(iter, &value);
    return value;
}
