// capdeck_library_load (include/CLoader.h).
#include "CLoader.h"

#include <dlfcn.h>
#include <stdio.h>

int capdeck_library_load(struct capdeck_library *lib) {
    pthread_mutex_lock(&lib->lock);
    if (!lib->tried) {
        lib->tried = 1;
        void *handle = dlopen(lib->soname, RTLD_NOW | RTLD_LOCAL);
        if (!handle) {
            snprintf(lib->why, sizeof lib->why, "%s", dlerror());
        } else {
            void **slots = lib->table;
            size_t i = 0;
            for (; i < lib->count && (slots[i] = dlsym(handle, lib->names[i])); i++) {}
            if (i < lib->count) {
                snprintf(lib->why, sizeof lib->why, "%s has no %s (too old a version)", lib->soname, lib->names[i]);
            } else {
                lib->loaded = 1;
            }
        }
    }
    int loaded = lib->loaded;
    pthread_mutex_unlock(&lib->lock);
    return loaded;
}
