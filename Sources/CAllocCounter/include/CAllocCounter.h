// Counts heap allocations made by watched threads, for tests and `make bench`.
// Linking this target into an executable interposes malloc and friends process-wide;
// each call still goes to glibc's allocator, and is counted only on a watched thread.
#ifndef CAPDECK_CALLOCCOUNTER_H
#define CAPDECK_CALLOCCOUNTER_H
#include <stdint.h>
#include <sys/types.h>

/// Starts counting allocations made on the thread with this kernel thread id (gettid()), from
/// zero (again, if it was watched). Up to 8 threads are watched at once, each with its own
/// count, so tests running in parallel don't disturb each other; returns 0 when all 8 are taken.
int CAllocCounter_watch(pid_t tid);
/// Stops watching the thread.
void CAllocCounter_unwatch(pid_t tid);
/// Allocations counted on the watched thread since its CAllocCounter_watch; UINT64_MAX when it
/// is not watched (so a test that lost its watch can't read "none").
uint64_t CAllocCounter_count(pid_t tid);
/// Total allocation calls in the process since start (shows the interposer is live).
uint64_t CAllocCounter_totalCount(void);
/// Return addresses (innermost first) of the watched thread's `slot`-th allocation (slot < 8);
/// returns how many were written to `out`. For naming the code that allocated, with dladdr.
int CAllocCounter_trace(pid_t tid, int slot, void **out, int max);
/// The symbol names of `slot`'s return addresses, " <- "-separated, into `buf`.
int CAllocCounter_describe(pid_t tid, int slot, char *buf, int len);
/// 1 when malloc and friends are interposed and counted; 0 in builds made with
/// -DCAPDECK_NO_ALLOC_COUNTER (the sanitizer builds), where nothing is counted.
int CAllocCounter_isActive(void);
/// The calling thread's kernel thread id.
pid_t CAllocCounter_currentThreadID(void);
#endif
