// Thin shim over libpulse (the sound server's client library; PipeWire answers it through
// pipewire-pulse). Only the asynchronous API with a plain pa_mainloop is used, so every wait has
// our own deadline. No pkg-config: libpulse's .pc carries -D_REENTRANT, which SwiftPM rejects;
// the headers are on the default include path.
#ifndef CAPDECK_CPULSE_SHIM_H
#define CAPDECK_CPULSE_SHIM_H
#include <pulse/pulseaudio.h>
#endif
