// Thin shim over libsamplerate (Secret Rabbit Code): the library imports cleanly; this header
// only includes it.
#ifndef CAPDECK_CSAMPLERATE_SHIM_H
#define CAPDECK_CSAMPLERATE_SHIM_H
#include <samplerate.h>
#endif
