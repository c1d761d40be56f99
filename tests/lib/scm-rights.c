/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "scm-rights.h"

union scm_control {
        struct cmsghdr align;
        char buf[CMSG_SPACE(sizeof(int) * TEST_SCM_FDS_MAX)];
};

ssize_t scm_send(int fd, const void *buf, size_t len, const int *fds, size_t n_fds, int flags) {
        union scm_control control = {};
        struct iovec iov = { .iov_base = (void *) buf, .iov_len = len };
        struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1 };
        ssize_t n;

        if (n_fds > TEST_SCM_FDS_MAX)
                return -EINVAL;
        if (n_fds > 0) {
                struct cmsghdr *c;

                mh.msg_control = &control;
                mh.msg_controllen = CMSG_SPACE(sizeof(int) * n_fds);
                c = CMSG_FIRSTHDR(&mh);
                c->cmsg_level = SOL_SOCKET;
                c->cmsg_type = SCM_RIGHTS;
                c->cmsg_len = CMSG_LEN(sizeof(int) * n_fds);
                memcpy(CMSG_DATA(c), fds, sizeof(int) * n_fds);
        }
        n = sendmsg(fd, &mh, flags | MSG_NOSIGNAL);
        return n < 0 ? -errno : n;
}

/* Closes every fd of the message's SCM_RIGHTS headers. */
static void scm_close_all(struct msghdr *mh) {
        for (struct cmsghdr *c = CMSG_FIRSTHDR(mh); c; c = CMSG_NXTHDR(mh, c)) {
                size_t k = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
                int got[TEST_SCM_FDS_MAX];

                if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS)
                        continue;
                memcpy(got, CMSG_DATA(c), k * sizeof(int));
                for (size_t i = 0; i < k; i++)
                        close(got[i]);
        }
}

ssize_t scm_recv(int fd, void *buf, size_t len, int *fds, size_t max_fds, size_t *n_fds) {
        union scm_control control;
        struct iovec iov = { .iov_base = buf, .iov_len = len };
        struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = &control,
                             .msg_controllen = sizeof(control) };
        size_t total = *n_fds;
        ssize_t n;

        n = recvmsg(fd, &mh, MSG_CMSG_CLOEXEC);
        if (n < 0)
                return -errno;
        for (struct cmsghdr *c = CMSG_FIRSTHDR(&mh); c; c = CMSG_NXTHDR(&mh, c))
                if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_RIGHTS)
                        total += (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
        if ((mh.msg_flags & MSG_CTRUNC) || total > max_fds) {
                scm_close_all(&mh);
                return -EMSGSIZE;
        }
        for (struct cmsghdr *c = CMSG_FIRSTHDR(&mh); c; c = CMSG_NXTHDR(&mh, c)) {
                size_t k = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);

                if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS)
                        continue;
                memcpy(fds + *n_fds, CMSG_DATA(c), k * sizeof(int));
                *n_fds += k;
        }
        return n;
}
