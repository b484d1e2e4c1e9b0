// ThreadSanitizer and Swift's Synchronization.Mutex on Linux: an LD_PRELOAD library for the
// ThreadSanitizer run of `make sanitize` (scripts/sanitize.sh builds and preloads it).
//
// Why: Mutex's fast paths (a compare-and-swap of the lock word, acquiring to lock, releasing to
// unlock) are inlined into CaptureDeck's instrumented code, so ThreadSanitizer sees them. When
// the lock is contended, both sides go to the uninstrumented libswiftSynchronization.so
// (_MutexHandle._lockSlow / _unlockSlow: FUTEX_LOCK_PI / FUTEX_UNLOCK_PI, the kernel hands the
// lock to the waiter), and no atomic on the lock word orders the unlocker before the new owner.
// ThreadSanitizer then reports every access to a contended Mutex's value as a race: a false
// positive of the uninstrumented library, not of the code using the lock.
//
// What: this wraps those two entry points (and _tryLockSlow) and tells ThreadSanitizer what they
// do: a release on the lock word before the unlock, an acquire on it after the lock is held. The
// lock itself is unchanged (the real functions do the work). Races on data *not* behind a Mutex
// are still reported.
#define _GNU_SOURCE
#include <dlfcn.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

// Weak: a program without ThreadSanitizer that inherits LD_PRELOAD (sox, tmux…) still loads this.
__attribute__((weak)) void __tsan_acquire(void *addr);
__attribute__((weak)) void __tsan_release(void *addr);

// The Swift entry points: `self` (the _MutexHandle, whose only field is the lock word) travels in
// the Swift self register, which clang's swift_context parameter attribute names.
#define LOCK_SLOW "$s15Synchronization12_MutexHandleV9_lockSlowyys6UInt32VF"
#define TRY_LOCK_SLOW "$s15Synchronization12_MutexHandleV12_tryLockSlowSbyF"
#define UNLOCK_SLOW "$s15Synchronization12_MutexHandleV11_unlockSlowyyF"

typedef __attribute__((swiftcall)) void (*lock_slow_fn)(uint32_t, void *__attribute__((swift_context)));
typedef __attribute__((swiftcall)) bool (*try_lock_slow_fn)(void *__attribute__((swift_context)));
typedef __attribute__((swiftcall)) void (*unlock_slow_fn)(void *__attribute__((swift_context)));

static void *real(const char *name) {
    void *f = dlsym(RTLD_NEXT, name);
    if (!f) { fprintf(stderr, "tsan-mutex: %s not found\n", name); abort(); }
    return f;
}

__attribute__((swiftcall)) void lock_slow(uint32_t self_id, void *__attribute__((swift_context)) handle) __asm__(LOCK_SLOW);
__attribute__((swiftcall)) void lock_slow(uint32_t self_id, void *__attribute__((swift_context)) handle) {
    static lock_slow_fn f;
    if (!f) f = (lock_slow_fn)real(LOCK_SLOW);
    f(self_id, handle);
    if (__tsan_acquire) __tsan_acquire(handle);
}

__attribute__((swiftcall)) bool try_lock_slow(void *__attribute__((swift_context)) handle) __asm__(TRY_LOCK_SLOW);
__attribute__((swiftcall)) bool try_lock_slow(void *__attribute__((swift_context)) handle) {
    static try_lock_slow_fn f;
    if (!f) f = (try_lock_slow_fn)real(TRY_LOCK_SLOW);
    bool locked = f(handle);
    if (locked && __tsan_acquire) __tsan_acquire(handle);
    return locked;
}

__attribute__((swiftcall)) void unlock_slow(void *__attribute__((swift_context)) handle) __asm__(UNLOCK_SLOW);
__attribute__((swiftcall)) void unlock_slow(void *__attribute__((swift_context)) handle) {
    static unlock_slow_fn f;
    if (!f) f = (unlock_slow_fn)real(UNLOCK_SLOW);
    if (__tsan_release) __tsan_release(handle);
    f(handle);
}
