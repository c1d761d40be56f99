/* SPDX-License-Identifier: MIT */

/*
 * The floor: a bare AF_UNIX echo server with Varlink's framing (NUL-terminated messages over
 * SOCK_STREAM) and the daemon's loop shape (one thread, epoll, non-blocking sockets, a buffer per
 * connection). It sends every complete message back as it came: whatever fexitd costs beyond this
 * is parsing, dispatch, the reply's JSON and sd-event.
 */

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include "bench/bench.h"
#include "common/macro.h"

struct echo_conn {
        int fd;
        char *in, *out;
        size_t in_len, in_cap, out_pos, out_len, out_cap;
};

static struct echo_conn *echo_conn_free(struct echo_conn *c) {
        if (c) {
                safe_close(c->fd);
                free(c->in);
                free(c->out);
                free(c);
        }
        return NULL;
}

static int grow(char **buf, size_t *cap, size_t need) {
        size_t n = *cap ? *cap : 4096;
        char *b;

        while (n < need)
                n *= 2;
        if (n == *cap)
                return 0;
        b = realloc(*buf, n);
        if (!b)
                return -ENOMEM;
        *buf = b;
        *cap = n;
        return 0;
}

/* Writes what the socket takes; >0 while output is left. */
static int echo_flush(struct echo_conn *c) {
        while (c->out_pos < c->out_len) {
                ssize_t n = send(c->fd, c->out + c->out_pos, c->out_len - c->out_pos, MSG_NOSIGNAL);
                if (n < 0)
                        return errno == EAGAIN ? 1 : -errno;
                c->out_pos += (size_t) n;
        }
        c->out_pos = c->out_len = 0;
        return 0;
}

/* Moves every complete message from in to out. */
static int echo_messages(struct echo_conn *c, size_t scan_from) {
        char *nul;
        size_t done = 0;

        while ((nul = memchr(c->in + scan_from, '\0', c->in_len - scan_from))) {
                size_t end = (size_t) (nul - c->in) + 1;
                if (grow(&c->out, &c->out_cap, c->out_len + end - done) < 0)
                        return -ENOMEM;
                memcpy(c->out + c->out_len, c->in + done, end - done);
                c->out_len += end - done;
                done = scan_from = end;
        }
        memmove(c->in, c->in + done, c->in_len - done);
        c->in_len -= done;
        return 0;
}

static int echo_read(struct echo_conn *c) {
        for (;;) {
                ssize_t n;
                size_t before = c->in_len;

                if (grow(&c->in, &c->in_cap, c->in_len + 4096) < 0)
                        return -ENOMEM;
                n = recv(c->fd, c->in + c->in_len, c->in_cap - c->in_len, 0);
                if (n < 0)
                        return errno == EAGAIN ? 0 : -errno;
                if (n == 0)
                        return -ECONNRESET;
                c->in_len += (size_t) n;
                if (echo_messages(c, before) < 0)
                        return -ENOMEM;
        }
}

static void echo_accept(int ep, int lfd) {
        struct echo_conn *c;
        int fd;

        while ((fd = accept4(lfd, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK)) >= 0) {
                struct epoll_event ev = { .events = EPOLLIN };
                c = calloc(1, sizeof(*c));
                if (!c) {
                        close(fd);
                        continue;
                }
                c->fd = fd;
                ev.data.ptr = c;
                if (epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev) < 0)
                        echo_conn_free(c);
        }
}

static void echo_io(int ep, struct echo_conn *c, uint32_t events) {
        struct epoll_event ev = { .data.ptr = c };
        int r = 0;

        if (events & (EPOLLIN | EPOLLHUP | EPOLLERR))
                r = echo_read(c);
        if (r >= 0)
                r = echo_flush(c);
        if (r < 0) {
                echo_conn_free(c);   /* closing the fd removes it from the epoll set */
                return;
        }
        ev.events = r > 0 ? EPOLLOUT : EPOLLIN;
        (void) epoll_ctl(ep, EPOLL_CTL_MOD, c->fd, &ev);
}

int echo_server_main(const char *socket_path) {
        struct sockaddr_un sa = { .sun_family = AF_UNIX };
        struct epoll_event ev = { .events = EPOLLIN, .data.ptr = NULL }, evs[64];
        int lfd, ep;

        if (strlen(socket_path) >= sizeof(sa.sun_path))
                return -ENAMETOOLONG;
        strcpy(sa.sun_path, socket_path);
        (void) unlink(socket_path);
        lfd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
        if (lfd < 0 || bind(lfd, (struct sockaddr *) &sa, sizeof(sa)) < 0 || listen(lfd, 4096) < 0)
                return -errno;
        ep = epoll_create1(EPOLL_CLOEXEC);
        if (ep < 0 || epoll_ctl(ep, EPOLL_CTL_ADD, lfd, &ev) < 0)
                return -errno;
        for (;;) {
                int n = epoll_wait(ep, evs, (int) ELEMENTSOF(evs), -1);
                if (n < 0 && errno == EINTR)
                        continue;
                if (n < 0)
                        return -errno;
                for (int i = 0; i < n; i++) {
                        if (!evs[i].data.ptr)
                                echo_accept(ep, lfd);
                        else
                                echo_io(ep, evs[i].data.ptr, evs[i].events);
                }
        }
}

int echo_server_start(const char *socket_path, pid_t *ret_pid) {
        pid_t pid = fork();

        if (pid < 0)
                return -errno;
        if (pid == 0) {
                (void) prctl(PR_SET_PDEATHSIG, SIGTERM);   /* never outlive the benchmark */
                execl("/proc/self/exe", "fexitd-bench", "echo-server", socket_path, (char *) NULL);
                _exit(127);
        }
        for (int i = 0; i < 500; i++) {
                struct bconn c;
                int st;
                if (bconn_open(socket_path, &c) >= 0) {
                        bconn_close(&c);
                        *ret_pid = pid;
                        return 0;
                }
                if (waitpid(pid, &st, WNOHANG) == pid)
                        return -ECHILD;
                usleep(10000);
        }
        kill(pid, SIGKILL);
        (void) waitpid(pid, NULL, 0);
        return -ETIMEDOUT;
}

void echo_server_stop(pid_t pid) {
        if (pid <= 0)
                return;
        kill(pid, SIGTERM);
        (void) waitpid(pid, NULL, 0);
}
