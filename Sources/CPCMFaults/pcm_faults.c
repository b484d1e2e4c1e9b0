// libCapdeckPCMFaults.so: an LD_PRELOAD fault injector for ALSA capture (tests and `make soak`
// only; never linked into capdeck). ALSA can't be made to fail on demand without a sound card,
// so this library wraps three calls of the real libasound, snd_pcm_readi, snd_pcm_resume and
// snd_pcm_open (and snd_pcm_close, to forget a dead handle), and makes them fail at chosen moments; everything else (prepare, start, state,
// the plugins, the stream itself) is the real ALSA. That puts capdeck's own recovery code in
// ALSACaptureSource.read under test end to end.
//
// CAPDECK_PCM_FAULTS is a comma-separated plan; each entry fires once the process has read F
// frames in total (over every PCM it opened):
//   epipe@F[xN]       the next N reads (default 1) return -EPIPE (an overrun)
//   estrpipe@F[:MS]   the stream is suspended: reads return -ESTRPIPE until snd_pcm_resume
//                     succeeds, and snd_pcm_resume answers -EAGAIN for MS milliseconds
//                     (default 0) before calling the real one (as a driver waking up does)
//   enodev@F[:MS]     the device is unplugged: every read returns -ENODEV, and opening a
//                     capture PCM fails with -ENODEV, for MS milliseconds (default: for good);
//                     then it is back (reads on the old handle keep failing, as a replugged
//                     USB device is a new device)
// CAPDECK_PCM_RATES=NAME=RATE[,NAME=RATE…] makes each named PCM a card with one clock: opened by
// that name, it grants only RATE (snd_pcm_hw_params_any answers with the rate already fixed, as a
// USB microphone's or an HDA codec's hardware parameters do), so `hw:`-style negotiation is
// tested on file PCMs.
// Malformed plans are reported on stderr once and ignored. All parsing happens when the library
// loads: the wrapped calls themselves don't allocate, lock or print.
#define _GNU_SOURCE
#include <alsa/asoundlib.h>
#include <dlfcn.h>
#include <errno.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <limits.h>
#include <time.h>

enum kind { EPIPE_FAULT, ESTRPIPE_FAULT, ENODEV_FAULT };
struct fault {
    enum kind kind;
    long long at;    // frames read before it fires
    long count;      // EPIPE: reads that fail
    long resumeMs;   // ESTRPIPE: how long resume answers EAGAIN
    long goneMs;     // ENODEV: how long the device stays away (-1: for good)
    int fired;
};

#define MAX_FAULTS 64
static struct fault plan[MAX_FAULTS];
static int planSize;
static _Atomic long long framesRead;
static long pendingEpipe;
static _Atomic long long goneUntilNs;    // opens fail until then (LLONG_MAX: for good)
static _Atomic(snd_pcm_t *) deadHandle;
static int suspended;
static long long resumeUntilNs;

#define MAX_RATED 16
static struct { char name[128]; unsigned rate; } ratedNames[MAX_RATED];
static int ratedCount;
static struct { _Atomic(snd_pcm_t *) pcm; unsigned rate; } ratedHandles[MAX_RATED];
static int (*realHwAny)(snd_pcm_t *, snd_pcm_hw_params_t *);
static int (*realSetRate)(snd_pcm_t *, snd_pcm_hw_params_t *, unsigned int, int);

static snd_pcm_sframes_t (*realReadi)(snd_pcm_t *, void *, snd_pcm_uframes_t);
static int (*realOpen)(snd_pcm_t **, const char *, snd_pcm_stream_t, int);
static int (*realClose)(snd_pcm_t *);
static int (*realResume)(snd_pcm_t *);

static long long nowNs(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (long long)t.tv_sec * 1000000000LL + t.tv_nsec;
}

static int parseEntry(const char *s, struct fault *f) {
    char name[16];
    int used = 0;
    memset(f, 0, sizeof *f);
    f->count = 1;
    if (sscanf(s, "%15[a-z]@%lld%n", name, &f->at, &used) != 2 || f->at < 0) return 0;
    const char *rest = s + used;
    if (strcmp(name, "epipe") == 0) {
        f->kind = EPIPE_FAULT;
        if (*rest == 'x' && (sscanf(rest + 1, "%ld%n", &f->count, &used) != 1 || f->count < 1)) return 0;
        if (*rest == 'x') rest += 1 + used;
    } else if (strcmp(name, "estrpipe") == 0) {
        f->kind = ESTRPIPE_FAULT;
        if (*rest == ':' && (sscanf(rest + 1, "%ld%n", &f->resumeMs, &used) != 1 || f->resumeMs < 0)) return 0;
        if (*rest == ':') rest += 1 + used;
    } else if (strcmp(name, "enodev") == 0) {
        f->kind = ENODEV_FAULT;
        f->goneMs = -1;
        if (*rest == ':' && (sscanf(rest + 1, "%ld%n", &f->goneMs, &used) != 1 || f->goneMs < 0)) return 0;
        if (*rest == ':') rest += 1 + used;
    } else {
        return 0;
    }
    return *rest == '\0';
}

__attribute__((constructor)) static void loadPlan(void) {
    realReadi = (snd_pcm_sframes_t (*)(snd_pcm_t *, void *, snd_pcm_uframes_t))dlsym(RTLD_NEXT, "snd_pcm_readi");
    realResume = (int (*)(snd_pcm_t *))dlsym(RTLD_NEXT, "snd_pcm_resume");
    realOpen = (int (*)(snd_pcm_t **, const char *, snd_pcm_stream_t, int))dlsym(RTLD_NEXT, "snd_pcm_open");
    realClose = (int (*)(snd_pcm_t *))dlsym(RTLD_NEXT, "snd_pcm_close");
    realHwAny = (int (*)(snd_pcm_t *, snd_pcm_hw_params_t *))dlsym(RTLD_NEXT, "snd_pcm_hw_params_any");
    realSetRate = (int (*)(snd_pcm_t *, snd_pcm_hw_params_t *, unsigned int, int))dlsym(RTLD_NEXT, "snd_pcm_hw_params_set_rate");
    const char *rates = getenv("CAPDECK_PCM_RATES");
    if (rates && *rates) {
        char *copy = strdup(rates), *save = NULL;
        for (char *tok = strtok_r(copy, ",", &save); tok && ratedCount < MAX_RATED; tok = strtok_r(NULL, ",", &save)) {
            char *eq = strrchr(tok, '=');
            long rate = eq ? strtol(eq + 1, NULL, 10) : 0;
            if (!eq || eq == tok || rate <= 0 || (size_t)(eq - tok) >= sizeof ratedNames[0].name) {
                fprintf(stderr, "pcm-faults: ignoring malformed rate entry '%s'\n", tok);
                continue;
            }
            memcpy(ratedNames[ratedCount].name, tok, (size_t)(eq - tok));
            ratedNames[ratedCount].name[eq - tok] = '\0';
            ratedNames[ratedCount].rate = (unsigned)rate;
            ratedCount++;
        }
        free(copy);
    }
    const char *env = getenv("CAPDECK_PCM_FAULTS");
    if (!env || !*env) return;
    char *copy = strdup(env), *save = NULL;
    for (char *tok = strtok_r(copy, ",", &save); tok && planSize < MAX_FAULTS; tok = strtok_r(NULL, ",", &save)) {
        if (parseEntry(tok, &plan[planSize])) planSize++;
        else fprintf(stderr, "pcm-faults: ignoring malformed entry '%s'\n", tok);
    }
    free(copy);
}

snd_pcm_sframes_t snd_pcm_readi(snd_pcm_t *pcm, void *buffer, snd_pcm_uframes_t size) {
    if (atomic_load(&deadHandle) == pcm) return -ENODEV;
    if (suspended) return -ESTRPIPE;
    long long done = atomic_load(&framesRead);
    for (int i = 0; i < planSize; i++) {
        struct fault *f = &plan[i];
        if (f->fired || done < f->at) continue;
        f->fired = 1;
        switch (f->kind) {
        case EPIPE_FAULT: pendingEpipe += f->count; break;
        case ENODEV_FAULT:
            atomic_store(&deadHandle, pcm);
            atomic_store(&goneUntilNs, f->goneMs < 0 ? LLONG_MAX : nowNs() + (long long)f->goneMs * 1000000LL);
            return -ENODEV;
        case ESTRPIPE_FAULT:
            suspended = 1;
            resumeUntilNs = nowNs() + (long long)f->resumeMs * 1000000LL;
            return -ESTRPIPE;
        }
    }
    if (pendingEpipe > 0) { pendingEpipe--; return -EPIPE; }
    snd_pcm_sframes_t n = realReadi(pcm, buffer, size);
    if (n > 0) atomic_fetch_add(&framesRead, n);
    return n;
}

// Called from the same (capture) thread as snd_pcm_readi.
int snd_pcm_resume(snd_pcm_t *pcm) {
    if (suspended && nowNs() < resumeUntilNs) return -EAGAIN;
    suspended = 0;
    return realResume(pcm);
}

// While the device is away, opening a capture PCM fails as ALSA does for a missing card.
int snd_pcm_open(snd_pcm_t **pcm, const char *name, snd_pcm_stream_t stream, int mode) {
    if (stream == SND_PCM_STREAM_CAPTURE && nowNs() < atomic_load(&goneUntilNs)) return -ENODEV;
    int err = realOpen(pcm, name, stream, mode);
    if (err < 0 || !name) return err;
    for (int i = 0; i < ratedCount; i++) {
        if (strcmp(ratedNames[i].name, name) != 0) continue;
        for (int j = 0; j < MAX_RATED; j++) {
            snd_pcm_t *empty = NULL;
            ratedHandles[j].rate = ratedNames[i].rate;
            if (atomic_compare_exchange_strong(&ratedHandles[j].pcm, &empty, *pcm)) break;
        }
        break;
    }
    return err;
}

// A one-clock card: its hardware parameters come with the rate already fixed.
int snd_pcm_hw_params_any(snd_pcm_t *pcm, snd_pcm_hw_params_t *params) {
    int err = realHwAny(pcm, params);
    if (err < 0) return err;
    for (int j = 0; j < MAX_RATED; j++) {
        if (atomic_load(&ratedHandles[j].pcm) == pcm) return realSetRate(pcm, params, ratedHandles[j].rate, 0);
    }
    return err;
}

// A closed handle's address can come back from the next open: it is not the dead device.
int snd_pcm_close(snd_pcm_t *pcm) {
    snd_pcm_t *dead = pcm;
    atomic_compare_exchange_strong(&deadHandle, &dead, NULL);
    for (int j = 0; j < MAX_RATED; j++) {
        snd_pcm_t *mine = pcm;
        atomic_compare_exchange_strong(&ratedHandles[j].pcm, &mine, NULL);
    }
    return realClose(pcm);
}
