/* SPDX-License-Identifier: MIT */
/* The listening socket of the Varlink server (common/varlink-server.h). */
#include <errno.h>
#include <grp.h>
#include <stdbool.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <systemd/sd-daemon.h>
#include <unistd.h>

#include "common/macro.h"
#include "common/varlink-io.h"
#include "common/varlink-server.h"

/* root:GROUP 0660 when the group exists, else 0666. The umask makes bind() create the node with
 * the final mode, so it is never wider for a moment. */
static int listen_bind(int fd, const struct sockaddr_un *sa, const char *group, bool *ret_open) {
        struct group *gr = group ? getgrnam(group) : NULL;
        mode_t old = umask(gr ? 0117 : 0111);
        int r = bind(fd, (const struct sockaddr *) sa, sizeof(*sa));

        umask(old);
        if (r < 0)
                return -errno;
        *ret_open = !gr;
        if (!gr)
                return 0;
        if (chown(sa->sun_path, geteuid(), gr->gr_gid) < 0)
                return -errno;
        return 0;
}

int vl_server_listen(const char *path, const char *group, bool *ret_open) {
        struct sockaddr_un sa = { .sun_family = AF_UNIX };
        _cleanup_close_ int fd = -EBADF;
        int probe, r;

        if (sd_listen_fds(true) == 1 && sd_is_socket_unix(SD_LISTEN_FDS_START, SOCK_STREAM, 1, NULL, 0) > 0)
                return SD_LISTEN_FDS_START;
        if (strlen(path) >= sizeof(sa.sun_path))
                return -ENAMETOOLONG;
        strcpy(sa.sun_path, path);
        /* A socket file nobody listens on is a leftover of a crash; a live one is not ours. */
        probe = vl_connect(path);
        if (probe >= 0) {
                safe_close(probe);
                return -EADDRINUSE;
        }
        (void) unlink(path);
        fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
        if (fd < 0)
                return -errno;
        r = listen_bind(fd, &sa, group, ret_open);
        if (r < 0)
                return r;
        if (listen(fd, SOMAXCONN) < 0)
                return -errno;
        return TAKE_FD(fd);
}
