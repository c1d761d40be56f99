/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>

#include "common/macro.h"
#include "common/varlink-io.h"

#define IN_CHUNK 4096
#define TRIM_ABOVE (64u << 10)   /* idle buffers larger than this are given back */

void vl_io_init(struct vl_io *io, int fd) {
        *io = (struct vl_io) { .fd = fd, .max_in = VL_MSG_MAX };
}

void vl_io_done(struct vl_io *io) {
        for (size_t i = 0; i < io->n_in_fds; i++)
                safe_close(io->in_fds[i].fd);
        for (size_t i = 0; i < io->n_marks; i++)
                close_many(io->marks[i].fds, io->marks[i].n_fds);
        free(io->in);
        free(io->out);
        free(io->marks);
        safe_close(io->fd);
        *io = (struct vl_io) { .fd = -EBADF };
}

static int grow(char **buf, size_t *cap, size_t need) {
        size_t n = *cap ? *cap : IN_CHUNK;
        char *p;

        if (need <= *cap)
                return 0;
        while (n < need)
                n *= 2;
        p = realloc(*buf, n);
        if (!p)
                return -ENOMEM;
        *buf = p;
        *cap = n;
        return 0;
}

/* Moves received fds into the pending list; any excess or truncation is a protocol error. */
static int take_fds(struct vl_io *io, struct msghdr *mh, size_t pos) {
        int r = 0;

        for (struct cmsghdr *c = CMSG_FIRSTHDR(mh); c; c = CMSG_NXTHDR(mh, c)) {
                if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS)
                        continue;
                size_t n = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
                int *fds = (int *) CMSG_DATA(c);
                for (size_t i = 0; i < n; i++) {
                        if (r < 0 || io->n_in_fds >= ELEMENTSOF(io->in_fds)) {
                                safe_close(fds[i]);
                                r = -EPROTO;
                                continue;
                        }
                        io->in_fds[io->n_in_fds++] = (struct vl_infd) { .pos = pos, .fd = fds[i] };
                }
        }
        if (mh->msg_flags & MSG_CTRUNC)
                r = -EPROTO;
        return r;
}

int vl_io_read(struct vl_io *io) {
        union {
                struct cmsghdr align;
                char buf[CMSG_SPACE(sizeof(int) * VL_FDS_MAX)];
        } control;
        struct iovec iov;
        struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1,
                             .msg_control = &control, .msg_controllen = sizeof(control) };
        ssize_t n;
        int r;

        if (io->in_len >= io->max_in)
                return -EMSGSIZE;
        /* never more than max_in: doubling past it would double what a half-sent message holds */
        r = grow(&io->in, &io->in_cap, io->in_len + IN_CHUNK < io->max_in ? io->in_len + IN_CHUNK : io->max_in);
        if (r < 0)
                return r;
        iov = (struct iovec) { .iov_base = io->in + io->in_len, .iov_len = io->in_cap - io->in_len };
        n = recvmsg(io->fd, &mh, MSG_DONTWAIT | MSG_CMSG_CLOEXEC);
        if (n < 0)
                return (errno == EAGAIN || errno == EINTR) ? 0 : -errno;
        /* The kernel glues fd-less data in front of an skb that carries fds into one read, and ends
         * the read with that skb; a sender of ours ends an fd-carrying write with the message the
         * fds belong to. So the fds belong to the message holding the last byte of this read. */
        r = take_fds(io, &mh, n > 0 ? io->in_len + (size_t) n - 1 : io->in_len);
        if (r < 0)
                return r;
        if (n == 0)
                return -ECONNRESET;
        io->in_len += (size_t) n;
        return 1;
}

static char *find_nul(struct vl_io *io) {
        if (io->in_scanned >= io->in_len)
                return NULL;
        char *nul = memchr(io->in + io->in_scanned, 0, io->in_len - io->in_scanned);

        io->in_scanned = nul ? (size_t) (nul - io->in) : io->in_len;
        return nul;
}

bool vl_io_has_message(struct vl_io *io) {
        return find_nul(io) != NULL;
}

int vl_io_next(struct vl_io *io, char **ret_msg, int *ret_fds, size_t *ret_n_fds) {
        char *nul = find_nul(io), *msg;
        size_t len, n = 0, kept = 0;

        if (!nul)
                return io->in_len >= io->max_in ? -EMSGSIZE : 0;
        len = (size_t) (nul - io->in) + 1;
        if (len > io->max_in)
                return -EMSGSIZE;
        msg = malloc(len);
        if (!msg)
                return -ENOMEM;
        memcpy(msg, io->in, len);

        /* fds that arrived with a byte of this message belong to it */
        for (size_t i = 0; i < io->n_in_fds; i++) {
                if (io->in_fds[i].pos < len && n < VL_FDS_MAX)
                        ret_fds[n++] = io->in_fds[i].fd;
                else if (io->in_fds[i].pos < len)
                        safe_close(io->in_fds[i].fd);
                else
                        io->in_fds[kept++] = (struct vl_infd) { io->in_fds[i].pos - len, io->in_fds[i].fd };
        }
        io->n_in_fds = kept;
        memmove(io->in, io->in + len, io->in_len - len);
        io->in_len -= len;
        io->in_scanned = 0;

        *ret_msg = msg;
        *ret_n_fds = n;
        return 1;
}

size_t vl_io_footprint(const struct vl_io *io) {
        return io->in_cap + io->out_cap + io->marks_cap * sizeof(struct vl_outmark);
}

void vl_io_trim(struct vl_io *io) {
        if (io->in_len == 0 && io->in_cap > TRIM_ABOVE) {
                free(io->in);
                io->in = NULL;
                io->in_cap = io->in_scanned = 0;
        }
        if (io->out_pos == io->out_len && io->out_cap > TRIM_ABOVE) {
                free(io->out);
                io->out = NULL;
                io->out_pos = io->out_len = io->out_cap = 0;
        }
}

void vl_io_drop_input(struct vl_io *io) {
        for (size_t i = 0; i < io->n_in_fds; i++)
                safe_close(io->in_fds[i].fd);
        io->n_in_fds = 0;
        io->in_len = io->in_scanned = 0;
}

int vl_io_queue(struct vl_io *io, const char *msg, size_t len, int *fds, size_t n_fds) {
        int r;

        if (n_fds > VL_FDS_MAX) {
                close_many(fds, n_fds);
                return -EINVAL;
        }
        /* drop what was already sent so the buffer does not grow forever */
        if (io->out_pos == io->out_len)
                io->out_pos = io->out_len = 0;
        r = grow(&io->out, &io->out_cap, io->out_len + len + 1);
        if (r >= 0 && n_fds > 0 && io->n_marks == io->marks_cap) {
                size_t cap = io->marks_cap ? io->marks_cap * 2 : 4;
                struct vl_outmark *m = realloc(io->marks, cap * sizeof(*m));
                if (!m)
                        r = -ENOMEM;
                else {
                        io->marks = m;
                        io->marks_cap = cap;
                }
        }
        if (r < 0) {
                close_many(fds, n_fds);
                return r;
        }
        if (n_fds > 0) {
                struct vl_outmark *m = &io->marks[io->n_marks++];
                m->pos = io->out_len;
                m->n_fds = n_fds;
                memcpy(m->fds, fds, n_fds * sizeof(int));
        }
        memcpy(io->out + io->out_len, msg, len);
        io->out[io->out_len + len] = 0;
        io->out_len += len + 1;
        return 0;
}

/* Sends bytes [out_pos, end) with the fds of the head mark if it starts at out_pos. */
static ssize_t send_chunk(struct vl_io *io, size_t end, struct vl_outmark *mark) {
        union {
                struct cmsghdr align;
                char buf[CMSG_SPACE(sizeof(int) * VL_FDS_MAX)];
        } control;
        struct iovec iov = { .iov_base = io->out + io->out_pos, .iov_len = end - io->out_pos };
        struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1 };

        if (mark) {
                struct cmsghdr *c;
                mh.msg_control = &control;
                mh.msg_controllen = CMSG_SPACE(sizeof(int) * mark->n_fds);
                c = CMSG_FIRSTHDR(&mh);
                c->cmsg_level = SOL_SOCKET;
                c->cmsg_type = SCM_RIGHTS;
                c->cmsg_len = CMSG_LEN(sizeof(int) * mark->n_fds);
                memcpy(CMSG_DATA(c), mark->fds, sizeof(int) * mark->n_fds);
        }
        return sendmsg(io->fd, &mh, MSG_DONTWAIT | MSG_NOSIGNAL);
}

int vl_io_write(struct vl_io *io) {
        int progress = 0;

        while (io->out_pos < io->out_len) {
                struct vl_outmark *mark = io->n_marks > 0 ? &io->marks[0] : NULL;
                bool with_fds = mark && mark->pos == io->out_pos;
                size_t end = io->out_len;
                ssize_t n;

                if (mark && !with_fds)
                        end = mark->pos;
                else if (with_fds)   /* exactly the message the fds belong to: see vl_io_read() */
                        end = (size_t) ((char *) memchr(io->out + io->out_pos, 0, io->out_len - io->out_pos) - io->out) + 1;
                n = send_chunk(io, end, with_fds ? mark : NULL);
                if (n < 0) {
                        if (errno == EAGAIN || errno == EINTR)
                                return progress;
                        return -errno;
                }
                if (with_fds) {
                        close_many(mark->fds, mark->n_fds);
                        memmove(io->marks, io->marks + 1, --io->n_marks * sizeof(*mark));
                }
                io->out_pos += (size_t) n;
                progress = 1;
        }
        return progress;
}

int vl_connect(const char *path) {
        struct sockaddr_un sa = { .sun_family = AF_UNIX };
        _cleanup_close_ int fd = -EBADF;
        size_t len = strlen(path);

        if (len >= sizeof(sa.sun_path))
                return -ENAMETOOLONG;
        memcpy(sa.sun_path, path, len);
        fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
        if (fd < 0)
                return -errno;
        /* Connecting to a Unix socket completes at once or fails (EAGAIN means a full backlog). */
        if (connect(fd, (struct sockaddr *) &sa, offsetof(struct sockaddr_un, sun_path) + len + 1) < 0)
                return -errno;
        return fd_move_above_stdio(TAKE_FD(fd));
}
