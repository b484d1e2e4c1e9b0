// capdeck_pulse_load (include/CPulse.h): dlopen libpulse.so.0 once, resolve every function.
#include "CPulse.h"

#include <dlfcn.h>
#include <pthread.h>
#include <stdio.h>

static struct capdeck_pulse table;
static const struct capdeck_pulse *loaded;
static char why[512];
static pthread_once_t once = PTHREAD_ONCE_INIT;

static void load(void) {
    void *lib = dlopen("libpulse.so.0", RTLD_NOW | RTLD_LOCAL);
    if (!lib) {
        snprintf(why, sizeof why, "%s", dlerror());
        return;
    }
#define CAPDECK_PULSE_RESOLVE(name)                                                      \
    if (!(*(void **)&table.name = dlsym(lib, #name))) {                                  \
        snprintf(why, sizeof why, "libpulse.so.0 has no %s (too old a libpulse)", #name); \
        return;                                                                          \
    }
    CAPDECK_PULSE_FUNCTIONS(CAPDECK_PULSE_RESOLVE)
#undef CAPDECK_PULSE_RESOLVE
    loaded = &table;
}

const struct capdeck_pulse *capdeck_pulse_load(const char **error) {
    pthread_once(&once, load);
    if (!loaded) *error = why;
    return loaded;
}
