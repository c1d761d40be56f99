/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/pidfd.h>
#include <unistd.h>

#include "daemon/holder.h"
#include "daemon/log.h"
#include "daemon/manager.h"

const char *holder_state_to_string(enum holder_state st) {
        switch (st) {
        case HOLDER_ALIVE:
                return "alive";
        case HOLDER_EXITED:
                return "exited";
        default:
                return "unknown";
        }
}

int holder_start_time(int pid, unsigned long long *ret) {
        char path[64], buf[1024], *p, *save = NULL;
        ssize_t n;
        int fd;

        snprintf(path, sizeof(path), "/proc/%d/stat", pid);
        fd = open(path, O_RDONLY | O_CLOEXEC);
        if (fd < 0)
                return -errno;
        n = read(fd, buf, sizeof(buf) - 1);
        close(fd);
        if (n <= 0)
                return n < 0 ? -errno : -EIO;
        buf[n] = '\0';
        /* field 2, the command, is in parentheses and may hold spaces and ')' itself */
        p = strrchr(buf, ')');
        if (!p)
                return -EIO;
        p = strtok_r(p + 1, " ", &save);
        for (int field = 3; p; field++, p = strtok_r(NULL, " ", &save))
                if (field == 22) {
                        *ret = strtoull(p, NULL, 10);
                        return 0;
                }
        return -EIO;
}

static struct log_ctx holder_ctx(const struct handle *h) {
        return (struct log_ctx) { .handle = h->id, .kernel_id = h->kernel_id, .function = h->function,
                                  .uid = h->holder_uid, .pid = h->holder_pid };
}

static int on_holder_exit(sd_event_source *src, int fd, uint32_t revents, void *userdata) {
        struct handle *h = userdata;
        struct log_ctx ctx = holder_ctx(h);

        h->holder_state = HOLDER_EXITED;
        log_full(LOG_NOTICE, &ctx,
                 "Holder pid %d (uid %u) of handed-off link handle %" PRIu64 " (link id %u) exited: "
                 "the link is detached unless it passed the fd on", (int) h->holder_pid,
                 (unsigned) h->holder_uid, h->id, h->kernel_id);
        h->holder_src = sd_event_source_disable_unref(h->holder_src);   /* closes the pidfd */
        return 0;
}

/* What the pid is now: EXITED (gone, or another process with the same pid), ALIVE (the same
 * process; *pidfd stays open for watching) or UNKNOWN (alive, identity unproven: still worth
 * watching, since its exit proves the holder gone either way). */
static enum holder_state holder_probe(struct handle *h, bool at_handoff, int *ret_pidfd) {
        unsigned long long start = 0;
        int pidfd = pidfd_open(h->holder_pid, 0), r;

        if (pidfd < 0)
                return errno == ESRCH ? HOLDER_EXITED : HOLDER_UNKNOWN;
        r = holder_start_time(h->holder_pid, &start);
        /* the pid may have been reused before the pidfd was opened: the pidfd is the same
         * process as the one whose start time was read only if it is still alive now */
        if (pidfd_send_signal(pidfd, 0, NULL, 0) < 0 && errno == ESRCH) {
                close(pidfd);
                return HOLDER_EXITED;
        }
        *ret_pidfd = pidfd;
        if (at_handoff) {
                h->holder_start = r >= 0 ? start : 0;
                return HOLDER_ALIVE;
        }
        if (r < 0 || h->holder_start == 0)
                return HOLDER_UNKNOWN;
        if (start != h->holder_start) {
                close(pidfd);
                *ret_pidfd = -EBADF;
                return HOLDER_EXITED;
        }
        return HOLDER_ALIVE;
}

void holder_watch(struct server *s, struct handle *h, bool at_handoff) {
        struct log_ctx ctx = holder_ctx(h);
        int pidfd = -EBADF, r;

        h->holder_src = sd_event_source_disable_unref(h->holder_src);
        h->holder_state = h->holder_pid > 0 ? holder_probe(h, at_handoff, &pidfd) : HOLDER_UNKNOWN;
        if (!at_handoff && h->holder_state != HOLDER_ALIVE)
                log_full(LOG_NOTICE, &ctx,
                         "Holder pid %d (uid %u) of handed-off link handle %" PRIu64 " (link id %u): %s",
                         (int) h->holder_pid, (unsigned) h->holder_uid, h->id, h->kernel_id,
                         h->holder_state == HOLDER_EXITED ?
                         "exited; the link is detached unless it passed the fd on" :
                         "cannot tell whether it is still the same process");
        if (pidfd < 0)
                return;
        /* the source lives as long as the handle (handle_free() drops it) or the process */
        r = sd_event_add_io(s->event, &h->holder_src, pidfd, EPOLLIN, on_holder_exit, h);
        if (r >= 0)
                r = sd_event_source_set_io_fd_own(h->holder_src, true);
        if (r < 0) {
                h->holder_src = sd_event_source_disable_unref(h->holder_src);
                close(pidfd);
                log_warning("Cannot watch the holder of link handle %" PRIu64 ": %s", h->id, strerror(-r));
        }
}

void holder_watch_all(struct server *s) {
        struct handle *h;

        HANDLE_TABLE_FOREACH(&s->handles, h, i)
                if (h->kind == HANDLE_LINK && h->state == HSTATE_HANDED_OFF)
                        holder_watch(s, h, false);
}
