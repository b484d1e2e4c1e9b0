// Thin shim over ALSA (libasound2): only what Swift cannot import directly.
#ifndef CAPDECK_CALSA_SHIM_H
#define CAPDECK_CALSA_SHIM_H

#include <alsa/asoundlib.h>

// Why: snd_lib_error_handler_t is variadic, which a Swift closure cannot implement.
// ALSA otherwise prints its own diagnostics to stderr (under a TUI, or beside ours).
static void CALSA_quietErrorHandler(const char *file, int line, const char *function,
                                    int err, const char *fmt, ...) {
    (void)file; (void)line; (void)function; (void)err; (void)fmt;
}

/// Silences ALSA's stderr printing for the whole process. We report errors ourselves.
static inline void CALSA_silenceErrors(void) {
    snd_lib_error_set_handler(CALSA_quietErrorHandler);
}

// Why: the SND_PCM_NONBLOCK flag is a macro of type int that imports, but the mode
// argument of snd_pcm_open is int; kept here so the open mode is named in one place.
static inline int CALSA_nonblockMode(void) { return SND_PCM_NONBLOCK; }

#endif
