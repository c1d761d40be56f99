/* SPDX-License-Identifier: MIT */
#pragma once

/* Ownership helpers in the style of systemd: a cleanup attribute per owned resource and explicit
 * hand-over with TAKE_FD()/TAKE_PTR(). */

#include <errno.h>
#include <stdint.h>
#include <time.h>
#include <stdlib.h>
#include <unistd.h>

#define _cleanup_(f) __attribute__((cleanup(f)))
#define _unused_ __attribute__((unused))
#define _printf_(a, b) __attribute__((format(printf, a, b)))
#define ELEMENTSOF(x) (sizeof(x) / sizeof((x)[0]))

static inline void freep(void *p) {
        free(*(void **) p);
}
#define _cleanup_free_ _cleanup_(freep)

/* Closes fd if valid, preserving errno; always returns -EBADF so `fd = safe_close(fd)` works. */
static inline int safe_close(int fd) {
        if (fd >= 0) {
                int saved = errno;
                close(fd);
                errno = saved;
        }
        return -EBADF;
}
static inline void closep(int *fd) {
        safe_close(*fd);
}
#define _cleanup_close_ _cleanup_(closep)

#define TAKE_FD(fd)                          \
        ({                                   \
                int *_pfd_ = &(fd);          \
                int _fd_ = *_pfd_;           \
                *_pfd_ = -EBADF;             \
                _fd_;                        \
        })

#define TAKE_PTR(ptr)                              \
        ({                                         \
                typeof(ptr) *_pptr_ = &(ptr);      \
                typeof(ptr) _ptr_ = *_pptr_;       \
                *_pptr_ = NULL;                    \
                _ptr_;                             \
        })

/* unused: clang warns about a static inline function of a .c file that nothing calls. */
#define DEFINE_TRIVIAL_CLEANUP_FUNC(type, func)          \
        static inline __attribute__((unused)) void func##p(type *p) { \
                if (*p)                                  \
                        func(*p);                        \
        }

/* Makes room for need elements of size bytes in *p, doubling (at least 16). Grow or fail, never
 * both: *p and *cap change only once realloc succeeded (as systemd's GREEDY_REALLOC). 0 or
 * -ENOMEM. */
static inline int greedy_realloc(void **p, size_t *cap, size_t need, size_t size) {
        size_t n = *cap ? *cap : 16;
        void *q;

        if (need <= *cap)
                return 0;
        while (n < need) {
                if (n > SIZE_MAX / 2)
                        return -ENOMEM;
                n *= 2;
        }
        q = reallocarray(*p, n, size);
        if (!q)
                return -ENOMEM;
        *p = q;
        *cap = n;
        return 0;
}
#define GREEDY_REALLOC(array, cap, need) \
        greedy_realloc((void **) &(array), &(cap), (need), sizeof((array)[0]))
/* Appends value to array (n used of cap), growing it first: 0, or -ENOMEM with nothing changed. */
#define ARRAY_APPEND(array, n, cap, value) \
        (GREEDY_REALLOC(array, cap, (n) + 1) < 0 ? -ENOMEM : ((array)[(n)++] = (value), 0))

/* Keeps fds above stdio so a stray write to fd 0-2 never lands in a BPF object (as libbpf's
 * ensure_good_fd does). Consumes fd; returns the new fd or -errno. */
int fd_move_above_stdio(int fd);
/* Closes every fd in the array and sets them to -EBADF. */
void close_many(int *fds, size_t n);
/* A close-on-exec duplicate of fd, >= 3; -errno on failure. */
int fd_dup_cloexec(int fd);
/* The clock's time in microseconds (CLOCK_REALTIME, CLOCK_MONOTONIC...). */
uint64_t now_usec(clockid_t clock);
