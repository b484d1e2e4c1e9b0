// File-call faults for the same LD_PRELOAD library (tests only): a disk that misbehaves can't be
// had on demand either. CAPDECK_FILE_FAULTS is a comma-separated plan over the process's calls of
// pwrite and fdatasync, counted from 1:
//   pwrite-short@N           the Nth pwrite writes one byte less than asked and returns that
//                            (a short write sets no errno: errno is left at ENOTTY, as a stale
//                            value from some earlier call would be)
//   pwrite-errno@N:E         the Nth pwrite fails with errno E (a number, e.g. 30 for EROFS)
//   fdatasync-errno@N:E      the Nth fdatasync fails with errno E
// Everything else is the real call. Parsed once at load; the wrappers don't allocate.
#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

enum fkind { PWRITE_SHORT, PWRITE_ERRNO, FDATASYNC_ERRNO };
struct ffault { enum fkind kind; long at; int err; };
#define MAX_FFAULTS 16
static struct ffault fplan[MAX_FFAULTS];
static int fplanSize;
static _Atomic long pwrites, fdatasyncs;
static ssize_t (*realPwrite)(int, const void *, size_t, off_t);
static int (*realFdatasync)(int);

__attribute__((constructor)) static void loadFilePlan(void) {
    realPwrite = (ssize_t (*)(int, const void *, size_t, off_t))dlsym(RTLD_NEXT, "pwrite");
    realFdatasync = (int (*)(int))dlsym(RTLD_NEXT, "fdatasync");
    const char *env = getenv("CAPDECK_FILE_FAULTS");
    if (!env || !*env) return;
    char *copy = strdup(env), *save = NULL;
    for (char *tok = strtok_r(copy, ",", &save); tok && fplanSize < MAX_FFAULTS; tok = strtok_r(NULL, ",", &save)) {
        struct ffault f = {0};
        char name[24];
        int used = 0;
        if (sscanf(tok, "%23[a-z-]@%ld%n", name, &f.at, &used) != 2 || f.at < 1) goto bad;
        if (strcmp(name, "pwrite-short") == 0 && tok[used] == '\0') f.kind = PWRITE_SHORT;
        else if (strcmp(name, "pwrite-errno") == 0 && sscanf(tok + used, ":%d", &f.err) == 1 && f.err > 0) f.kind = PWRITE_ERRNO;
        else if (strcmp(name, "fdatasync-errno") == 0 && sscanf(tok + used, ":%d", &f.err) == 1 && f.err > 0) f.kind = FDATASYNC_ERRNO;
        else goto bad;
        fplan[fplanSize++] = f;
        continue;
    bad:
        fprintf(stderr, "file-faults: ignoring malformed entry '%s'\n", tok);
    }
    free(copy);
}

ssize_t pwrite(int fd, const void *buf, size_t count, off_t offset) {
    long n = atomic_fetch_add(&pwrites, 1) + 1;
    for (int i = 0; i < fplanSize; i++) {
        if (fplan[i].at != n) continue;
        if (fplan[i].kind == PWRITE_ERRNO) { errno = fplan[i].err; return -1; }
        if (fplan[i].kind == PWRITE_SHORT && count > 1) {
            ssize_t r = realPwrite(fd, buf, count - 1, offset);
            if (r >= 0) errno = ENOTTY;
            return r;
        }
    }
    return realPwrite(fd, buf, count, offset);
}

int fdatasync(int fd) {
    long n = atomic_fetch_add(&fdatasyncs, 1) + 1;
    for (int i = 0; i < fplanSize; i++) {
        if (fplan[i].kind == FDATASYNC_ERRNO && fplan[i].at == n) { errno = fplan[i].err; return -1; }
    }
    return realFdatasync(fd);
}
