// capdeck_pulse_load (include/CPulse.h): libpulse.so.0 opened once, every function resolved.
#include "CPulse.h"
#include "CLoader.h"

static struct capdeck_pulse table;
#define CAPDECK_PULSE_NAME(name) #name,
static const char *const names[] = {CAPDECK_PULSE_FUNCTIONS(CAPDECK_PULSE_NAME)};
_Static_assert(sizeof table == sizeof names / sizeof *names * sizeof(void *), "a table of function pointers, one per name");
static struct capdeck_library lib = {PTHREAD_MUTEX_INITIALIZER, "libpulse.so.0", names, sizeof names / sizeof *names, &table};

const struct capdeck_pulse *capdeck_pulse_load(const char **error) {
    if (capdeck_library_load(&lib)) return &table;
    *error = lib.why;
    return NULL;
}
