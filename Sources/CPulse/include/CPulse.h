// Thin shim over libpulse (the sound server's client library; PipeWire answers it through
// pipewire-pulse). Only the asynchronous API with a plain pa_mainloop is used, so every wait has
// our own deadline. No pkg-config: libpulse's .pc carries -D_REENTRANT, which SwiftPM rejects;
// the headers are on the default include path.
//
// capdeck doesn't link libpulse: it is opened (dlopen) the first time the sound server is asked
// something, so a recording that never talks to the server (a hw: or file PCM, the built-in
// source) never maps it and what it pulls in (about 1.6 MiB resident). A pulse: PCM loads it
// anyway, through ALSA's pulse plugin: the same library, mapped once.
#ifndef CAPDECK_CPULSE_H
#define CAPDECK_CPULSE_H
#include <pulse/pulseaudio.h>

/// Every libpulse function capdeck calls (X(name)).
#define CAPDECK_PULSE_FUNCTIONS(X) \
    X(pa_strerror) X(pa_proplist_gets) X(pa_proplist_iterate) X(pa_operation_unref) \
    X(pa_operation_get_state) X(pa_mainloop_new) X(pa_mainloop_get_api) X(pa_mainloop_free) \
    X(pa_mainloop_prepare) X(pa_mainloop_poll) X(pa_mainloop_dispatch) X(pa_context_new) \
    X(pa_context_unref) X(pa_context_connect) X(pa_context_disconnect) X(pa_context_errno) \
    X(pa_context_get_state) X(pa_context_get_server_info) X(pa_context_get_source_info_list) \
    X(pa_context_get_sink_input_info_list) X(pa_context_set_sink_input_mute) \
    X(pa_context_get_source_output_info_list)

/// libpulse's functions, by their own names and with their own types (from its headers).
struct capdeck_pulse {
#define CAPDECK_PULSE_FIELD(name) __typeof__(name) *_Nonnull name;
    CAPDECK_PULSE_FUNCTIONS(CAPDECK_PULSE_FIELD)
#undef CAPDECK_PULSE_FIELD
};

/// libpulse.so.0's functions, loaded on the first call (thread-safe; later calls return the same
/// table), or NULL with why in `*error` ("libpulse.so.0: cannot open shared object file…").
const struct capdeck_pulse *_Nullable capdeck_pulse_load(const char *_Nullable *_Nonnull error);

#endif
