// Heap-allocation counter: interposes the allocation entry points of the executable it is
// linked into and forwards every call to glibc's own implementation (__libc_*).
//
// Sanitizer builds (`make sanitize`) compile it with -DCAPDECK_NO_ALLOC_COUNTER: AddressSanitizer
// and ThreadSanitizer interpose malloc themselves, and blocks from __libc_malloc are unknown to
// their allocators (with this interposer linked in, the ThreadSanitizer test runner crashed at
// start). Then nothing is interposed, CAllocCounter_isActive() answers 0 and the allocation tests
// skip, saying why. (Clang's __has_feature catches a sanitized C build without the define.)
#define _GNU_SOURCE
#if !defined(CAPDECK_NO_ALLOC_COUNTER) && defined(__has_feature)
#  if __has_feature(address_sanitizer) || __has_feature(thread_sanitizer) || __has_feature(memory_sanitizer)
#    define CAPDECK_NO_ALLOC_COUNTER 1
#  endif
#endif
#include "CAllocCounter.h"
#include <stdatomic.h>
#include <stddef.h>
#include <unistd.h>
#include <errno.h>
#include <sys/syscall.h>
#include <dlfcn.h>
#include <stdio.h>
#include <string.h>

extern void *__libc_malloc(size_t);
extern void *__libc_calloc(size_t, size_t);
extern void *__libc_realloc(void *, size_t);
extern void *__libc_memalign(size_t, size_t);

// Up to WATCH_SLOTS threads are watched at once, each with its own count: tests run in
// parallel, and one test's watch must not reset or read another's (a single global watch did:
// a test read the count of a thread another test had started to watch).
//
// A slot's owner and count are one 64-bit atomic (tid << 32 | count), so an allocation counts
// only while its thread still owns the slot: a thread unwatched while it runs (a capture thread
// before its engine stops) can't add to the count of a test that has just claimed the slot.
#define WATCH_SLOTS 8
// Where the first watched allocations came from (callers of malloc & co), to name the culprit.
#define TRACE_SLOTS 8
#define TRACE_DEPTH 12
struct watch {
    _Atomic uint64_t state;  // tid << 32 | count; tid 0: free
    void *traces[TRACE_SLOTS][TRACE_DEPTH];
    int trace_depths[TRACE_SLOTS];
};
static struct watch watches[WATCH_SLOTS];
static _Atomic int watched_slots = 0;
static _Atomic uint64_t total_count = 0;
static __thread pid_t my_tid = 0;

pid_t CAllocCounter_currentThreadID(void) {
    if (my_tid == 0) my_tid = (pid_t)syscall(SYS_gettid);
    return my_tid;
}

static inline uint32_t owner(uint64_t state) { return (uint32_t)(state >> 32); }

static struct watch *find(pid_t tid) {
    if (tid <= 0) return NULL;
    for (int i = 0; i < WATCH_SLOTS; i++)
        if (owner(atomic_load(&watches[i].state)) == (uint32_t)tid) return &watches[i];
    return NULL;
}

static inline void count_one(void) {
    atomic_fetch_add_explicit(&total_count, 1, memory_order_relaxed);
    if (atomic_load_explicit(&watched_slots, memory_order_relaxed) == 0) return;
    uint32_t me = (uint32_t)CAllocCounter_currentThreadID();
    for (int i = 0; i < WATCH_SLOTS; i++) {
        struct watch *w = &watches[i];
        uint64_t v = atomic_load_explicit(&w->state, memory_order_relaxed);
        while (owner(v) == me) {
            if (!atomic_compare_exchange_weak(&w->state, &v, v + 1)) continue;  // v reloaded
            uint64_t n = v & 0xFFFFFFFFu;
            if (n < TRACE_SLOTS) {
                // Frame pointers are kept in these builds (-fno-omit-frame-pointer): walk them.
                void **fp = (void **)__builtin_frame_address(0);
                int d = 0;
                while (fp && d < TRACE_DEPTH) {
                    void *ret = fp[1];
                    if (!ret) break;
                    w->traces[n][d++] = ret;
                    void **next = (void **)fp[0];
                    if (next <= fp) break;
                    fp = next;
                }
                w->trace_depths[n] = d;
            }
            return;
        }
    }
}

int CAllocCounter_trace(pid_t tid, int slot, void **out, int max) {
    struct watch *w = find(tid);
    if (w == NULL || slot < 0 || slot >= TRACE_SLOTS || (uint64_t)slot >= (atomic_load(&w->state) & 0xFFFFFFFFu)) return 0;
    int d = w->trace_depths[slot] < max ? w->trace_depths[slot] : max;
    for (int i = 0; i < d; i++) out[i] = w->traces[slot][i];
    return d;
}

int CAllocCounter_watch(pid_t tid) {
    if (tid <= 0) return 0;
    uint64_t claimed = (uint64_t)(uint32_t)tid << 32;
    struct watch *w = find(tid);
    if (w != NULL) {  // watched already: back to zero
        uint64_t v = atomic_load(&w->state);
        while (owner(v) == (uint32_t)tid && !atomic_compare_exchange_weak(&w->state, &v, claimed)) {}
        if (owner(v) == (uint32_t)tid) return 1;
    }
    for (int i = 0; i < WATCH_SLOTS; i++) {
        uint64_t free_slot = 0;
        if (atomic_compare_exchange_strong(&watches[i].state, &free_slot, claimed)) {
            // (A trace the thread writes before this is lost; the count is not.)
            memset(watches[i].trace_depths, 0, sizeof watches[i].trace_depths);
            atomic_fetch_add(&watched_slots, 1);
            return 1;
        }
    }
    return 0;
}
void CAllocCounter_unwatch(pid_t tid) {
    for (int i = 0; i < WATCH_SLOTS; i++) {
        uint64_t v = atomic_load(&watches[i].state);
        while (owner(v) == (uint32_t)tid && tid > 0) {
            if (atomic_compare_exchange_weak(&watches[i].state, &v, 0)) { atomic_fetch_sub(&watched_slots, 1); return; }
        }
    }
}
uint64_t CAllocCounter_count(pid_t tid) {
    struct watch *w = find(tid);
    return w ? (atomic_load(&w->state) & 0xFFFFFFFFu) : UINT64_MAX;
}
uint64_t CAllocCounter_totalCount(void) { return atomic_load(&total_count); }

#ifdef CAPDECK_NO_ALLOC_COUNTER
int CAllocCounter_isActive(void) { return 0; }
#else
int CAllocCounter_isActive(void) { return 1; }

void *malloc(size_t n) { count_one(); return __libc_malloc(n); }
void *calloc(size_t a, size_t b) { count_one(); return __libc_calloc(a, b); }
void *realloc(void *p, size_t n) { count_one(); return __libc_realloc(p, n); }
void *memalign(size_t a, size_t n) { count_one(); return __libc_memalign(a, n); }
void *aligned_alloc(size_t a, size_t n) { count_one(); return __libc_memalign(a, n); }
int posix_memalign(void **out, size_t a, size_t n) {
    count_one();
    void *p = __libc_memalign(a, n);
    if (p == NULL) return ENOMEM;
    *out = p;
    return 0;
}
#endif

int CAllocCounter_describe(pid_t tid, int slot, char *buf, int len) {
    void *frames[TRACE_DEPTH];
    int n = CAllocCounter_trace(tid, slot, frames, TRACE_DEPTH);
    int used = 0;
    buf[0] = 0;
    for (int i = 0; i < n && used < len - 1; i++) {
        Dl_info info;
        const char *name = (dladdr(frames[i], &info) && info.dli_sname) ? info.dli_sname : "?";
        int w = snprintf(buf + used, (size_t)(len - used), "%s%s", i ? " <- " : "", name);
        if (w < 0) break;
        used += w;
    }
    return n;
}
