/* SPDX-License-Identifier: MIT */
#pragma once

/* Cleanup helpers the BPF backend needs beyond common/macro.h. Private to the backend's files
 * (daemon/bpf-*.c, daemon/btf-*.c). */

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>

#include "common/macro.h"

static inline void *mfree(void *p) {
        free(p);
        return NULL;
}

static inline void fclosep(FILE **f) {
        if (*f)
                fclose(*f);
}

static inline void closedirp(DIR **d) {
        if (*d)
                closedir(*d);
}

/* dup() that keeps the copy above stdio and close-on-exec, as libbpf's ensure_good_fd() does. */
#define bb_fd_dup(fd) fcntl((fd), F_DUPFD_CLOEXEC, 3)
