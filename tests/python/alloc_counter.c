/* alloc_counter.c — an LD_PRELOAD shim that counts heap and mapping calls of a process.
 *
 * Built and used by tests/python/test_contracts.py:
 *   gcc -shared -fPIC -O1 -o alloc_counter.so alloc_counter.c -ldl
 *   ALLOC_COUNTER_OUT=counts.txt LD_PRELOAD=./alloc_counter.so lockstep run ...
 * At exit it writes one line "name count" per function to $ALLOC_COUNTER_OUT: malloc,
 * calloc, realloc, free, posix_memalign, aligned_alloc, memalign, valloc, pvalloc, mmap,
 * munmap, mremap, brk_sbrk. The test compares the counts of a short and a long generation:
 * per-token heap use shows as a difference.
 *
 * malloc and friends forward to glibc's exported __libc_* entry points, so no dlsym is
 * needed for them (dlsym itself may call calloc). mmap/munmap/mremap/sbrk forward through
 * dlsym(RTLD_NEXT); they only see calls made through the PLT (the program's and other
 * libraries'), not glibc's internal ones — those are system calls, and the test's strace
 * count sees them. Counters are atomic: the runtime's worker threads may allocate too. */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

extern void *__libc_malloc(size_t);
extern void *__libc_calloc(size_t, size_t);
extern void *__libc_realloc(void *, size_t);
extern void __libc_free(void *);
extern void *__libc_memalign(size_t, size_t);
extern void *__libc_valloc(size_t);
extern void *__libc_pvalloc(size_t);

enum { MALLOC, CALLOC, REALLOC, FREE, POSIX_MEMALIGN, ALIGNED_ALLOC, MEMALIGN, VALLOC,
       PVALLOC, MMAP, MUNMAP, MREMAP, SBRK, N_COUNTERS };
static const char *names[N_COUNTERS] = {"malloc", "calloc", "realloc", "free",
                                        "posix_memalign", "aligned_alloc", "memalign",
                                        "valloc", "pvalloc", "mmap", "munmap", "mremap",
                                        "brk_sbrk"};
static unsigned long counts[N_COUNTERS];

static void count(int which) { __atomic_fetch_add(&counts[which], 1, __ATOMIC_RELAXED); }

void *malloc(size_t n) { count(MALLOC); return __libc_malloc(n); }
void *calloc(size_t n, size_t size) { count(CALLOC); return __libc_calloc(n, size); }
void *realloc(void *p, size_t n) { count(REALLOC); return __libc_realloc(p, n); }
void free(void *p) {
    if (p) count(FREE); /* free(NULL) is a no-op: not counted */
    __libc_free(p);
}
int posix_memalign(void **out, size_t alignment, size_t n) {
    count(POSIX_MEMALIGN);
    if (alignment < sizeof(void *) || (alignment & (alignment - 1))) return EINVAL;
    void *p = __libc_memalign(alignment, n);
    if (!p && n) return ENOMEM;
    *out = p;
    return 0;
}
void *aligned_alloc(size_t alignment, size_t n) { count(ALIGNED_ALLOC); return __libc_memalign(alignment, n); }
void *memalign(size_t alignment, size_t n) { count(MEMALIGN); return __libc_memalign(alignment, n); }
void *valloc(size_t n) { count(VALLOC); return __libc_valloc(n); }
void *pvalloc(size_t n) { count(PVALLOC); return __libc_pvalloc(n); }

void *mmap(void *address, size_t n, int prot, int flags, int fd, off_t offset) {
    static void *(*next)(void *, size_t, int, int, int, off_t);
    if (!next) next = (void *(*)(void *, size_t, int, int, int, off_t))dlsym(RTLD_NEXT, "mmap");
    count(MMAP);
    return next(address, n, prot, flags, fd, offset);
}
void *mmap64(void *address, size_t n, int prot, int flags, int fd, off_t offset) {
    return mmap(address, n, prot, flags, fd, offset);
}
int munmap(void *address, size_t n) {
    static int (*next)(void *, size_t);
    if (!next) next = (int (*)(void *, size_t))dlsym(RTLD_NEXT, "munmap");
    count(MUNMAP);
    return next(address, n);
}
void *mremap(void *old, size_t old_size, size_t new_size, int flags, ...) {
    static void *(*next)(void *, size_t, size_t, int, ...);
    if (!next) next = (void *(*)(void *, size_t, size_t, int, ...))dlsym(RTLD_NEXT, "mremap");
    count(MREMAP);
    void *new_address = NULL;
    if (flags & MREMAP_FIXED) {
        va_list args;
        va_start(args, flags);
        new_address = va_arg(args, void *);
        va_end(args);
        return next(old, old_size, new_size, flags, new_address);
    }
    return next(old, old_size, new_size, flags);
}
void *sbrk(intptr_t increment) {
    static void *(*next)(intptr_t);
    if (!next) next = (void *(*)(intptr_t))dlsym(RTLD_NEXT, "sbrk");
    count(SBRK);
    return next(increment);
}

/* Written with open/write (no stdio: it would allocate while we report). */
__attribute__((destructor)) static void report(void) {
    const char *path = getenv("ALLOC_COUNTER_OUT");
    if (!path) return;
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    if (fd < 0) return;
    for (int i = 0; i < N_COUNTERS; i++) {
        char line[64], digits[24];
        unsigned long v = __atomic_load_n(&counts[i], __ATOMIC_RELAXED);
        int n = 0;
        do digits[n++] = (char)('0' + v % 10); while ((v /= 10) && n < 24);
        size_t length = strlen(names[i]);
        memcpy(line, names[i], length);
        line[length++] = ' ';
        while (n) line[length++] = digits[--n];
        line[length++] = '\n';
        if (write(fd, line, length) != (ssize_t)length) break;
    }
    close(fd);
}
