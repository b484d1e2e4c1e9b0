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

static _Atomic pid_t watched_tid = 0;
static _Atomic uint64_t watched_count = 0;
static _Atomic uint64_t total_count = 0;
static __thread pid_t my_tid = 0;

pid_t CAllocCounter_currentThreadID(void) {
    if (my_tid == 0) my_tid = (pid_t)syscall(SYS_gettid);
    return my_tid;
}

// Where the first watched allocations came from (callers of malloc & co), to name the culprit.
#define TRACE_SLOTS 8
#define TRACE_DEPTH 12
static void *traces[TRACE_SLOTS][TRACE_DEPTH];
static int trace_depths[TRACE_SLOTS];

static inline void count_one(void) {
    atomic_fetch_add_explicit(&total_count, 1, memory_order_relaxed);
    pid_t w = atomic_load_explicit(&watched_tid, memory_order_relaxed);
    if (w != 0 && CAllocCounter_currentThreadID() == w) {
        uint64_t n = atomic_fetch_add_explicit(&watched_count, 1, memory_order_relaxed);
        if (n < TRACE_SLOTS) {
            // Frame pointers are kept in these builds (-fno-omit-frame-pointer): walk them.
            void **fp = (void **)__builtin_frame_address(0);
            int d = 0;
            while (fp && d < TRACE_DEPTH) {
                void *ret = fp[1];
                if (!ret) break;
                traces[n][d++] = ret;
                void **next = (void **)fp[0];
                if (next <= fp) break;
                fp = next;
            }
            trace_depths[n] = d;
        }
    }
}

int CAllocCounter_trace(int slot, void **out, int max) {
    if (slot < 0 || slot >= TRACE_SLOTS || slot >= (int)atomic_load(&watched_count)) return 0;
    int d = trace_depths[slot] < max ? trace_depths[slot] : max;
    for (int i = 0; i < d; i++) out[i] = traces[slot][i];
    return d;
}

void CAllocCounter_watch(pid_t tid) {
    atomic_store(&watched_count, 0);
    atomic_store(&watched_tid, tid);
}
uint64_t CAllocCounter_count(void) { return atomic_load(&watched_count); }
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

int CAllocCounter_describe(int slot, char *buf, int len) {
    void *frames[TRACE_DEPTH];
    int n = CAllocCounter_trace(slot, frames, TRACE_DEPTH);
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
