/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "bench/bench.h"
#include "common/macro.h"

#define FDS_MAX 8

int bconn_open(const char *path, struct bconn *ret) {
        struct sockaddr_un sa = { .sun_family = AF_UNIX };
        int fd;

        if (strlen(path) >= sizeof(sa.sun_path))
                return -ENAMETOOLONG;
        strcpy(sa.sun_path, path);
        fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
        if (fd < 0)
                return -errno;
        if (connect(fd, (struct sockaddr *) &sa, sizeof(sa)) < 0) {
                int r = -errno;
                close(fd);
                return r;
        }
        *ret = (struct bconn) { .fd = fd };
        return 0;
}

void bconn_close(struct bconn *c) {
        c->fd = safe_close(c->fd);
        free(c->buf);
        c->buf = NULL;
        c->len = c->cap = 0;
}

static int send_all(int fd, const char *msg, size_t len, const int *fds, size_t n_fds) {
        union {
                struct cmsghdr align;
                char buf[CMSG_SPACE(sizeof(int) * FDS_MAX)];
        } control = {};
        struct iovec iov;
        struct msghdr mh = {};
        size_t off = 0;

        if (n_fds > FDS_MAX)
                return -EINVAL;
        if (n_fds > 0) {
                struct cmsghdr *cm;
                mh.msg_control = &control;
                mh.msg_controllen = CMSG_SPACE(sizeof(int) * n_fds);
                cm = CMSG_FIRSTHDR(&mh);
                cm->cmsg_level = SOL_SOCKET;
                cm->cmsg_type = SCM_RIGHTS;
                cm->cmsg_len = CMSG_LEN(sizeof(int) * n_fds);
                memcpy(CMSG_DATA(cm), fds, sizeof(int) * n_fds);
        }
        while (off < len) {
                ssize_t n;

                iov = (struct iovec) { .iov_base = (char *) msg + off, .iov_len = len - off };
                mh.msg_iov = &iov;
                mh.msg_iovlen = 1;
                n = sendmsg(fd, &mh, MSG_NOSIGNAL);
                if (n < 0 && errno == EINTR)
                        continue;
                if (n < 0)
                        return -errno;
                off += (size_t) n;
                mh.msg_control = NULL;   /* fds ride on the first byte only */
                mh.msg_controllen = 0;
        }
        return 0;
}

static void take_fds(struct msghdr *mh, int *ret_fds, size_t *n) {
        for (struct cmsghdr *cm = CMSG_FIRSTHDR(mh); cm; cm = CMSG_NXTHDR(mh, cm)) {
                size_t k;
                if (cm->cmsg_level != SOL_SOCKET || cm->cmsg_type != SCM_RIGHTS)
                        continue;
                k = (cm->cmsg_len - CMSG_LEN(0)) / sizeof(int);
                for (size_t i = 0; i < k; i++) {
                        int fd;
                        memcpy(&fd, CMSG_DATA(cm) + i * sizeof(int), sizeof(int));
                        if (ret_fds && *n < FDS_MAX)
                                ret_fds[(*n)++] = fd;
                        else
                                close(fd);
                }
        }
}

/* Reads until the reply's NUL. Calls are never pipelined here, so the NUL ends what we read. */
static int recv_reply(struct bconn *c, int *ret_fds, size_t *ret_n_fds) {
        union {
                struct cmsghdr align;
                char buf[CMSG_SPACE(sizeof(int) * FDS_MAX)];
        } control;
        size_t n_fds = 0;

        c->len = 0;
        for (;;) {
                struct iovec iov;
                struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = &control,
                                     .msg_controllen = sizeof(control) };
                ssize_t n;

                if (c->cap - c->len < 4096) {
                        size_t cap = c->cap ? c->cap * 2 : 65536;
                        char *b = realloc(c->buf, cap);
                        if (!b)
                                return -ENOMEM;
                        c->buf = b;
                        c->cap = cap;
                }
                iov = (struct iovec) { .iov_base = c->buf + c->len, .iov_len = c->cap - c->len };
                n = recvmsg(c->fd, &mh, MSG_CMSG_CLOEXEC);
                if (n < 0 && errno == EINTR)
                        continue;
                if (n < 0)
                        return -errno;
                if (n == 0)
                        return -ECONNRESET;
                take_fds(&mh, ret_fds, &n_fds);
                c->len += (size_t) n;
                if (c->buf[c->len - 1] == '\0')
                        break;
        }
        if (ret_n_fds)
                *ret_n_fds = n_fds;
        return (int) c->len;
}

int bconn_roundtrip(struct bconn *c, const char *msg, size_t len, const int *fds, size_t n_fds,
                    int *ret_fds, size_t *ret_n_fds) {
        int r = send_all(c->fd, msg, len, fds, n_fds);

        return r < 0 ? r : recv_reply(c, ret_fds, ret_n_fds);
}

int bconn_call(struct bconn *c, const char *method, const char *params_json, const int *fds,
               size_t n_fds, json_object **ret, const char **ret_error) {
        static __thread char error[256];
        json_object *o, *e, *p;
        char *msg;
        int r;

        if (asprintf(&msg, "{\"method\":\"%s\",\"parameters\":%s}", method,
                     params_json ? params_json : "{}") < 0)
                return -ENOMEM;
        r = bconn_roundtrip(c, msg, strlen(msg) + 1, fds, n_fds, NULL, NULL);
        free(msg);
        if (r < 0)
                return r;
        o = json_tokener_parse(c->buf);
        if (!o)
                return -EBADMSG;
        *ret_error = NULL;
        if (json_object_object_get_ex(o, "error", &e)) {
                snprintf(error, sizeof(error), "%s", json_object_get_string(e));
                *ret_error = error;
        }
        p = json_object_object_get(o, "parameters");
        *ret = p ? json_object_get(p) : json_object_new_object();
        vl_put(o);
        return 0;
}
