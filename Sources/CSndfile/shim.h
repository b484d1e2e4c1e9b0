// Thin shim over libsndfile: the library imports cleanly; this header only includes it.
#ifndef CAPDECK_CSNDFILE_SHIM_H
#define CAPDECK_CSNDFILE_SHIM_H
#include <sndfile.h>
#endif
