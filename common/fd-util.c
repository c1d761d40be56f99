/* SPDX-License-Identifier: MIT */
#include <fcntl.h>

#include "common/macro.h"

int fd_move_above_stdio(int fd) {
        int nfd;

        if (fd < 0 || fd > 2)
                return fd;
        nfd = fcntl(fd, F_DUPFD_CLOEXEC, 3);
        safe_close(fd);
        return nfd < 0 ? -errno : nfd;
}

void close_many(int *fds, size_t n) {
        for (size_t i = 0; i < n; i++)
                fds[i] = safe_close(fds[i]);
}
