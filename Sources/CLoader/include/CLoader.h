// What the libpulse and libdbus loaders share (Sources/CPulse, Sources/CDBus): a library opened
// with dlopen on first use and its functions resolved into a table, once, thread-safe.
#ifndef CAPDECK_CLOADER_H
#define CAPDECK_CLOADER_H
#include <pthread.h>
#include <stddef.h>

/// One library: its soname, its functions' names, and the table they are resolved into (a struct
/// of as many function pointers, in the names' order). Initialise the lock with
/// PTHREAD_MUTEX_INITIALIZER and leave the rest zero.
struct capdeck_library {
    pthread_mutex_t lock;
    const char *_Nonnull soname;
    const char *_Nonnull const *_Nonnull names;
    size_t count;
    void *_Nonnull table;
    int tried, loaded;
    char why[512];
};

/// Opens and resolves `lib` the first time (later calls answer the same): nonzero when every
/// function is there, else 0 with why in `lib->why` (dlerror's words, or the function missing).
int capdeck_library_load(struct capdeck_library *_Nonnull lib);
#endif
