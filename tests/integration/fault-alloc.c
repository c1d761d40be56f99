/* SPDX-License-Identifier: MIT */

/*
 * An allocator that fails one allocation on demand, preloaded into the daemon by
 * test-fault-alloc (LD_PRELOAD; never part of an installed build).
 *
 * Each accepted connection arms it: accept4() reads N from the file $FEXITD_FAULT_FILE, and the
 * Nth malloc/calloc/realloc after it, on any thread, returns NULL with ENOMEM. When that happens
 * the file $FEXITD_FAULT_FILE.fired is created, so the test knows whether the call it made had
 * N allocations at all. N = 0 (or no file) disarms it.
 *
 * Everything here runs inside malloc: only system calls, no stdio, nothing that allocates. The
 * real allocator is the next one (glibc's, or AddressSanitizer's in a FEXITD_SANITIZE build, run
 * with ASAN_OPTIONS=verify_asan_link_order=0); dlsym() itself allocates while it resolves it,
 * from a small static arena.
 */

#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

static void *(*next_malloc)(size_t);
static void *(*next_calloc)(size_t, size_t);
static void *(*next_realloc)(void *, size_t);
static void (*next_free)(void *);
static int (*next_accept4)(int, struct sockaddr *, socklen_t *, int);

static _Alignas(16) char arena[16384];
static size_t arena_used;
static __thread int resolving;

static long countdown;          /* allocations until the failing one; 0: disarmed */
static __thread int spared;     /* inside a library call that cannot take a failure */
static char file[4096], fired[4096 + 8];

static bool in_arena(const void *p) {
        return (const char *) p >= arena && (const char *) p < arena + sizeof(arena);
}

static void *arena_alloc(size_t n) {
        size_t at = __atomic_fetch_add(&arena_used, (n + 15) & ~(size_t) 15, __ATOMIC_RELAXED);

        if (at + n > sizeof(arena))
                abort();
        return arena + at;   /* static: zeroed */
}

/* Whether the next allocator is known. While ASan starts, dlsym() can come back empty (the
 * loader allocates inside ASan's own lookups): the arena serves until a later call succeeds. */
static bool resolve(void) {
        if (__atomic_load_n(&next_free, __ATOMIC_ACQUIRE))
                return true;
        resolving = 1;
        next_malloc = dlsym(RTLD_NEXT, "malloc");
        next_calloc = dlsym(RTLD_NEXT, "calloc");
        next_realloc = dlsym(RTLD_NEXT, "realloc");
        next_accept4 = dlsym(RTLD_NEXT, "accept4");
        if (next_malloc && next_calloc && next_realloc && next_accept4)
                __atomic_store_n(&next_free, (void (*)(void *)) dlsym(RTLD_NEXT, "free"), __ATOMIC_RELEASE);
        resolving = 0;
        return __atomic_load_n(&next_free, __ATOMIC_ACQUIRE);
}

static bool fail_now(void) {
        long left = __atomic_load_n(&countdown, __ATOMIC_RELAXED);
        int fd;

        if (spared)
                return false;
        while (left > 0 && !__atomic_compare_exchange_n(&countdown, &left, left - 1, false,
                                                        __ATOMIC_RELAXED, __ATOMIC_RELAXED))
                ;
        if (left != 1)
                return false;
        fd = open(fired, O_WRONLY | O_CREAT | O_CLOEXEC, 0600);
        if (fd >= 0)
                close(fd);
        errno = ENOMEM;
        return true;
}

void *malloc(size_t n) {
        if (resolving || !resolve())
                return arena_alloc(n);
        return fail_now() ? NULL : next_malloc(n);
}

void *calloc(size_t n, size_t size) {
        if (resolving || !resolve())
                return arena_alloc(n * size);
        return fail_now() ? NULL : next_calloc(n, size);
}

void *realloc(void *p, size_t n) {
        void *q;

        if (resolving || !resolve())
                return arena_alloc(n);
        if (fail_now())
                return NULL;
        if (!in_arena(p))
                return next_realloc(p, n);
        /* from the arena: its old size is unknown, but it cannot reach past the arena's end */
        size_t room = (size_t) (arena + sizeof(arena) - (char *) p);
        q = next_malloc(n);
        if (q)
                memcpy(q, p, n < room ? n : room);
        return q;
}

/* glibc's own reallocarray() calls its realloc directly, past this one */
void *reallocarray(void *p, size_t n, size_t size) {
        if (size && n > SIZE_MAX / size) {
                errno = ENOMEM;
                return NULL;
        }
        return realloc(p, n * size);
}

void free(void *p) {
        if (!p || in_arena(p) || !resolve())
                return;
        next_free(p);
}

/* Two libraries do not survive an allocation failure, and a daemon cannot defend against that:
 * json-c 0.16's tokener (a key whose strdup() failed goes on to strlen(NULL) in
 * json_object_object_add_ex()) and libbpf 1.1's bpf_object__open_mem() + bpf_object__load()
 * (an object opened despite a failed allocation is a SIGSEGV inside the load). The test spares
 * those calls; everything around them, json-c's builders and the rest of
 * libbpf included, still sees failures. */
struct json_object;
struct json_tokener;
struct bpf_object;

/* Defines name(params) as the next name(args) with allocation failures off. */
#define SPARE(type, name, params, args)                                 \
        type name params {                                              \
                static type (*next) params;                             \
                type r;                                                 \
                                                                        \
                if (!next)                                              \
                        next = dlsym(RTLD_NEXT, #name);                 \
                spared++;                                               \
                r = next args;                                          \
                spared--;                                               \
                return r;                                               \
        }

SPARE(struct json_object *, json_tokener_parse_ex, (struct json_tokener *tok, const char *str, int len),
      (tok, str, len))
SPARE(struct bpf_object *, bpf_object__open_mem, (const void *buf, size_t size, const void *opts),
      (buf, size, opts))
SPARE(int, bpf_object__load, (struct bpf_object *obj), (obj))

static long read_n(void) {
        char buf[32] = "";
        long n = 0;
        int fd = open(file, O_RDONLY | O_CLOEXEC);

        if (fd < 0)
                return 0;
        if (read(fd, buf, sizeof(buf) - 1) < 0)
                buf[0] = 0;
        close(fd);
        for (const char *c = buf; *c >= '0' && *c <= '9'; c++)
                n = n * 10 + (*c - '0');
        return n;
}

int accept4(int fd, struct sockaddr *addr, socklen_t *len, int flags) {
        int r;

        if (!resolve())
                return -1;
        r = next_accept4(fd, addr, len, flags);
        if (r >= 0 && *file)
                __atomic_store_n(&countdown, read_n(), __ATOMIC_RELAXED);
        return r;
}

__attribute__((constructor)) static void init(void) {
        const char *f = getenv("FEXITD_FAULT_FILE");

        if (f && strlen(f) < sizeof(file)) {
                strcpy(file, f);
                strcpy(fired, f);
                strcat(fired, ".fired");
        }
}
