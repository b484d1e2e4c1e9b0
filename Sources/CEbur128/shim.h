// Thin shim over libebur128 (EBU R128 / ITU-R BS.1770 loudness and true peak): the library imports
// cleanly; this header only includes it, so CaptureLoudness is the one module that sees its C API.
#ifndef CAPDECK_CEBUR128_SHIM_H
#define CAPDECK_CEBUR128_SHIM_H
#include <ebur128.h>
#endif
