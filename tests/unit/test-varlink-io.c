/* SPDX-License-Identifier: MIT */
/* common/varlink-io: NUL framing and fd passing over real socketpairs with real fds. */
#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "check-main.h"
#include "common/macro.h"
#include "common/varlink-io.h"
#include "scm-rights.h"

/* ---- helpers ---- */

static void pair(int sv[2]) {
        ck_assert_int_eq(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, sv), 0);
}

/* Sends bytes with optional fds in exactly one sendmsg(), as a peer would. */
static void raw_send(int fd, const void *buf, size_t len, const int *fds, size_t n_fds) {
        ck_assert_int_eq(scm_send(fd, buf, len, fds, n_fds, 0), (ssize_t) len);
}

/* Reads exactly len bytes from a non-blocking fd, waiting as needed. */
static void raw_recv_exact(int fd, char *buf, size_t len) {
        size_t got = 0;

        while (got < len) {
                ssize_t n = read(fd, buf + got, len - got);
                if (n < 0 && errno == EAGAIN) {
                        usleep(1000);
                        continue;
                }
                ck_assert_int_gt(n, 0);
                got += (size_t) n;
        }
}

/* A pipe whose write end we give away: the read end tells whether every copy was closed. */
struct probe {
        int r, w;
};

static struct probe probe_new(void) {
        int p[2];

        ck_assert_int_eq(pipe2(p, O_CLOEXEC | O_NONBLOCK), 0);
        return (struct probe) { .r = p[0], .w = p[1] };
}

/* True once every write end is closed (read gives EOF); false while one is still open. */
static bool probe_closed(const struct probe *p) {
        char c;
        ssize_t n = read(p->r, &c, 1);

        ck_assert(n == 0 || (n < 0 && errno == EAGAIN));
        return n == 0;
}

/* The received fd is the write end of this probe: writing through it arrives at the read end. */
static void assert_fd_is_probe(int fd, const struct probe *p, char mark) {
        char c = 0;

        ck_assert_int_eq(write(fd, &mark, 1), 1);
        ck_assert_int_eq(read(p->r, &c, 1), 1);
        ck_assert_int_eq(c, mark);
}

static void assert_same_file(int a, int b) {
        struct stat sa, sb;

        ck_assert_int_eq(fstat(a, &sa), 0);
        ck_assert_int_eq(fstat(b, &sb), 0);
        ck_assert_uint_eq(sa.st_dev, sb.st_dev);
        ck_assert_uint_eq(sa.st_ino, sb.st_ino);
}

struct msg {
        char *text;
        int fds[VL_FDS_MAX];
        size_t n_fds;
};

static void msg_done(struct msg *m) {
        free(m->text);
        close_many(m->fds, m->n_fds);
        *m = (struct msg) {};
}

/* Reads until a message is complete (the peer has written it already) and takes it. */
static void next_msg(struct vl_io *io, struct msg *m) {
        /* in_len first: only test_fresh_io_has_no_message is about a never-filled buffer */
        for (int tries = 0; tries < 1000 && (io->in_len == 0 || !vl_io_has_message(io)); tries++) {
                int r = vl_io_read(io);
                ck_assert_int_ge(r, 0);
                if (r == 0)
                        usleep(1000);
        }
        ck_assert_int_eq(vl_io_next(io, &m->text, m->fds, &m->n_fds), 1);
}

static void queue_str(struct vl_io *io, const char *s, int *fds, size_t n_fds) {
        ck_assert_int_eq(vl_io_queue(io, s, strlen(s), fds, n_fds), 0);
}

static void flush(struct vl_io *io) {
        while (vl_io_want_write(io))
                ck_assert_int_ge(vl_io_write(io), 0);
}

/* ---- framing ---- */

START_TEST(test_queue_write_exact_bytes) {
        struct vl_io io;
        char buf[16] = {};
        int sv[2];

        pair(sv);
        vl_io_init(&io, sv[0]);
        queue_str(&io, "{\"a\":1}", NULL, 0);
        queue_str(&io, "{}", NULL, 0);
        ck_assert(vl_io_want_write(&io));
        ck_assert_int_eq(vl_io_write(&io), 1);
        ck_assert(!vl_io_want_write(&io));
        ck_assert_int_eq(vl_io_write(&io), 0);   /* nothing queued */
        raw_recv_exact(sv[1], buf, 11);
        ck_assert_mem_eq(buf, "{\"a\":1}\0{}\0", 11);
        ck_assert_int_eq(read(sv[1], buf, 1), -1);   /* nothing more */
        ck_assert_int_eq(errno, EAGAIN);
        vl_io_done(&io);
        close(sv[1]);
}
END_TEST

/* Nothing read yet: no message, and no undefined behaviour (memchr on a NULL buffer shows up
 * in the sanitizer build, FEXITD_SANITIZE=ON). */
START_TEST(test_fresh_io_has_no_message) {
        struct vl_io io;
        struct msg m = {};
        int sv[2];

        pair(sv);
        vl_io_init(&io, sv[1]);
        ck_assert(!vl_io_has_message(&io));
        ck_assert_int_eq(vl_io_next(&io, &m.text, m.fds, &m.n_fds), 0);
        ck_assert_int_eq(vl_io_read(&io), 0);
        vl_io_done(&io);
        close(sv[0]);
}
END_TEST

START_TEST(test_split_across_writes) {
        const char text[] = "{\"method\":\"io.fexitd.List\"}";
        struct vl_io io;
        struct msg m = {};
        int sv[2];

        pair(sv);
        vl_io_init(&io, sv[1]);
        /* one byte per write; nothing complete until the NUL */
        for (size_t i = 0; i < sizeof(text) - 1; i++) {
                raw_send(sv[0], text + i, 1, NULL, 0);
                ck_assert_int_eq(vl_io_read(&io), 1);
                ck_assert(!vl_io_has_message(&io));
                ck_assert_int_eq(vl_io_next(&io, &m.text, m.fds, &m.n_fds), 0);
        }
        ck_assert_int_eq(vl_io_read(&io), 0);   /* EAGAIN */
        raw_send(sv[0], "", 1, NULL, 0);
        next_msg(&io, &m);
        ck_assert_str_eq(m.text, text);
        ck_assert_uint_eq(m.n_fds, 0);
        msg_done(&m);
        ck_assert_int_eq(vl_io_next(&io, &m.text, m.fds, &m.n_fds), 0);
        vl_io_done(&io);
        close(sv[0]);
}
END_TEST

START_TEST(test_many_in_one_write) {
        static const char wire[] = "{\"a\":1}\0{\"b\":2}\0{}\0{\"c\"";
        struct vl_io io;
        struct msg m = {};
        int sv[2];

        pair(sv);
        vl_io_init(&io, sv[1]);
        raw_send(sv[0], wire, sizeof(wire) - 1, NULL, 0);
        ck_assert_int_eq(vl_io_read(&io), 1);
        ck_assert_int_eq(vl_io_next(&io, &m.text, m.fds, &m.n_fds), 1);
        ck_assert_str_eq(m.text, "{\"a\":1}");
        msg_done(&m);
        ck_assert_int_eq(vl_io_next(&io, &m.text, m.fds, &m.n_fds), 1);
        ck_assert_str_eq(m.text, "{\"b\":2}");
        msg_done(&m);
        ck_assert_int_eq(vl_io_next(&io, &m.text, m.fds, &m.n_fds), 1);
        ck_assert_str_eq(m.text, "{}");
        msg_done(&m);
        /* the incomplete tail stays buffered */
        ck_assert_int_eq(vl_io_next(&io, &m.text, m.fds, &m.n_fds), 0);
        raw_send(sv[0], ":3}", 4, NULL, 0);
        next_msg(&io, &m);
        ck_assert_str_eq(m.text, "{\"c\":3}");
        msg_done(&m);
        vl_io_done(&io);
        close(sv[0]);
}
END_TEST

/* ---- fds ---- */

START_TEST(test_fds_one_message_at_a_time) {
        struct probe p1 = probe_new(), p2 = probe_new(), p3 = probe_new();
        struct vl_io tx, rx;
        struct msg m = {};
        int sv[2], fds[2];

        pair(sv);
        vl_io_init(&tx, sv[0]);
        vl_io_init(&rx, sv[1]);

        queue_str(&tx, "first", NULL, 0);
        flush(&tx);
        next_msg(&rx, &m);
        ck_assert_str_eq(m.text, "first");
        ck_assert_uint_eq(m.n_fds, 0);
        msg_done(&m);

        fds[0] = p1.w;
        queue_str(&tx, "second", fds, 1);
        flush(&tx);
        next_msg(&rx, &m);
        ck_assert_str_eq(m.text, "second");
        ck_assert_uint_eq(m.n_fds, 1);
        ck_assert_int_ge(m.fds[0], 3);
        ck_assert_int_eq(fcntl(m.fds[0], F_GETFD) & FD_CLOEXEC, FD_CLOEXEC);
        assert_fd_is_probe(m.fds[0], &p1, 'x');
        msg_done(&m);
        /* the queue closed the sender's copy once sent, and we closed ours */
        ck_assert(probe_closed(&p1));

        fds[0] = p2.w;
        fds[1] = p3.w;
        queue_str(&tx, "third", fds, 2);
        flush(&tx);
        next_msg(&rx, &m);
        ck_assert_str_eq(m.text, "third");
        ck_assert_uint_eq(m.n_fds, 2);
        assert_fd_is_probe(m.fds[0], &p2, 'a');   /* order preserved */
        assert_fd_is_probe(m.fds[1], &p3, 'b');
        msg_done(&m);

        vl_io_done(&tx);
        vl_io_done(&rx);
        ck_assert(probe_closed(&p2) && probe_closed(&p3));
}
END_TEST

/* Pipelined: the sender queues several messages, the receiver reads only afterwards. The
 * kernel may hand the tail of an fd-less message and the next message's fds to one recvmsg();
 * the fds must still land on the message they were sent with. */
START_TEST(test_fds_pipelined_messages) {
        struct probe p1 = probe_new(), p2 = probe_new();
        struct vl_io tx, rx;
        struct msg m = {};
        int sv[2], fd;

        pair(sv);
        vl_io_init(&tx, sv[0]);
        vl_io_init(&rx, sv[1]);
        queue_str(&tx, "{\"no\":\"fds\"}", NULL, 0);
        fd = p1.w;
        queue_str(&tx, "{\"one\":\"fd\"}", &fd, 1);
        queue_str(&tx, "{\"no\":\"fds either\"}", NULL, 0);
        fd = p2.w;
        queue_str(&tx, "{\"another\":\"fd\"}", &fd, 1);
        flush(&tx);

        next_msg(&rx, &m);
        ck_assert_str_eq(m.text, "{\"no\":\"fds\"}");
        ck_assert_uint_eq(m.n_fds, 0);
        msg_done(&m);
        next_msg(&rx, &m);
        ck_assert_str_eq(m.text, "{\"one\":\"fd\"}");
        ck_assert_uint_eq(m.n_fds, 1);
        assert_fd_is_probe(m.fds[0], &p1, '1');
        msg_done(&m);
        next_msg(&rx, &m);
        ck_assert_str_eq(m.text, "{\"no\":\"fds either\"}");
        ck_assert_uint_eq(m.n_fds, 0);
        msg_done(&m);
        next_msg(&rx, &m);
        ck_assert_str_eq(m.text, "{\"another\":\"fd\"}");
        ck_assert_uint_eq(m.n_fds, 1);
        assert_fd_is_probe(m.fds[0], &p2, '2');
        msg_done(&m);
        vl_io_done(&tx);
        vl_io_done(&rx);
}
END_TEST

/* The same, from a peer that sends each message with its own sendmsg(), fds on its first byte. */
START_TEST(test_fds_after_fdless_message_same_read) {
        struct probe p = probe_new();
        struct vl_io rx;
        struct msg m = {};
        int sv[2];

        pair(sv);
        vl_io_init(&rx, sv[1]);
        raw_send(sv[0], "A", 2, NULL, 0);
        raw_send(sv[0], "B", 2, &p.w, 1);
        ck_assert_int_eq(vl_io_read(&rx), 1);

        ck_assert_int_eq(vl_io_next(&rx, &m.text, m.fds, &m.n_fds), 1);
        ck_assert_str_eq(m.text, "A");
        ck_assert_uint_eq(m.n_fds, 0);
        msg_done(&m);
        next_msg(&rx, &m);
        ck_assert_str_eq(m.text, "B");
        ck_assert_uint_eq(m.n_fds, 1);
        msg_done(&m);
        vl_io_done(&rx);
        close(sv[0]);
        close(p.w);
}
END_TEST

START_TEST(test_fds_same_file_fstat) {
        struct vl_io tx, rx;
        struct msg m = {};
        int sv[2], file, dup1;

        file = memfd_create("test-varlink-io", MFD_CLOEXEC);
        ck_assert_int_ge(file, 0);
        dup1 = fcntl(file, F_DUPFD_CLOEXEC, 3);
        pair(sv);
        vl_io_init(&tx, sv[0]);
        vl_io_init(&rx, sv[1]);
        queue_str(&tx, "{\"object\":0}", &dup1, 1);
        flush(&tx);
        next_msg(&rx, &m);
        ck_assert_uint_eq(m.n_fds, 1);
        assert_same_file(m.fds[0], file);
        msg_done(&m);
        vl_io_done(&tx);
        vl_io_done(&rx);
        close(file);
}
END_TEST

/* More fds than the control buffer holds: MSG_CTRUNC is a protocol error, nothing leaks. */
START_TEST(test_fds_ctrunc) {
        struct probe p[VL_FDS_MAX + 1];
        int fds[VL_FDS_MAX + 1], sv[2];
        struct vl_io rx;

        for (size_t i = 0; i < ELEMENTSOF(p); i++) {
                p[i] = probe_new();
                fds[i] = p[i].w;
        }
        pair(sv);
        vl_io_init(&rx, sv[1]);
        raw_send(sv[0], "{}", 3, fds, ELEMENTSOF(fds));
        for (size_t i = 0; i < ELEMENTSOF(p); i++)
                close(p[i].w);
        ck_assert_int_eq(vl_io_read(&rx), -EPROTO);
        vl_io_done(&rx);
        for (size_t i = 0; i < ELEMENTSOF(p); i++)
                ck_assert_msg(probe_closed(&p[i]), "fd %zu of the truncated message leaked", i);
        close(sv[0]);
}
END_TEST

/* Fds piling up faster than messages are taken: the excess is refused and closed at once. */
START_TEST(test_fds_too_many_pending) {
        struct probe p[3][VL_FDS_MAX];
        struct vl_io rx;
        int sv[2];

        pair(sv);
        vl_io_init(&rx, sv[1]);
        for (size_t m = 0; m < 3; m++) {
                int fds[VL_FDS_MAX];
                for (size_t i = 0; i < VL_FDS_MAX; i++) {
                        p[m][i] = probe_new();
                        fds[i] = p[m][i].w;
                }
                raw_send(sv[0], "{}", 3, fds, VL_FDS_MAX);
                for (size_t i = 0; i < VL_FDS_MAX; i++)
                        close(p[m][i].w);
        }
        /* one recvmsg() never returns the fds of two sendmsg() calls */
        ck_assert_int_eq(vl_io_read(&rx), 1);
        ck_assert_int_eq(vl_io_read(&rx), 1);
        ck_assert_int_eq(vl_io_read(&rx), -EPROTO);
        for (size_t i = 0; i < VL_FDS_MAX; i++)
                ck_assert_msg(probe_closed(&p[2][i]), "excess fd %zu not closed", i);
        vl_io_done(&rx);
        for (size_t m = 0; m < 2; m++)
                for (size_t i = 0; i < VL_FDS_MAX; i++)
                        ck_assert(probe_closed(&p[m][i]));
        close(sv[0]);
}
END_TEST

START_TEST(test_queue_too_many_fds) {
        struct probe p[VL_FDS_MAX + 1];
        int fds[VL_FDS_MAX + 1], sv[2];
        struct vl_io tx;

        for (size_t i = 0; i < ELEMENTSOF(p); i++) {
                p[i] = probe_new();
                fds[i] = p[i].w;
        }
        pair(sv);
        vl_io_init(&tx, sv[0]);
        ck_assert_int_eq(vl_io_queue(&tx, "{}", 2, fds, ELEMENTSOF(fds)), -EINVAL);
        ck_assert(!vl_io_want_write(&tx));
        for (size_t i = 0; i < ELEMENTSOF(p); i++)
                ck_assert(probe_closed(&p[i]));
        vl_io_done(&tx);
        close(sv[1]);
}
END_TEST

START_TEST(test_queued_fds_closed_by_done) {
        struct probe p = probe_new();
        struct vl_io tx;
        int sv[2];

        pair(sv);
        vl_io_init(&tx, sv[0]);
        queue_str(&tx, "{}", &p.w, 1);
        ck_assert(!probe_closed(&p));   /* never sent: still owned by the queue */
        vl_io_done(&tx);
        ck_assert(probe_closed(&p));
        close(sv[1]);
}
END_TEST

/* ---- limits and end of stream ---- */

START_TEST(test_oversized_without_nul) {
        char big[100];
        struct vl_io rx;
        struct msg m = {};
        int sv[2];

        memset(big, 'x', sizeof(big));
        pair(sv);
        vl_io_init(&rx, sv[1]);
        rx.max_in = 64;
        raw_send(sv[0], big, sizeof(big), NULL, 0);
        ck_assert_int_eq(vl_io_read(&rx), 1);
        ck_assert_int_eq(vl_io_next(&rx, &m.text, m.fds, &m.n_fds), -EMSGSIZE);
        ck_assert_int_eq(vl_io_read(&rx), -EMSGSIZE);
        vl_io_done(&rx);
        close(sv[0]);
}
END_TEST

/* A message longer than max_in is refused even when its NUL arrived in the same read. */
START_TEST(test_oversized_with_nul) {
        char big[100];
        struct vl_io rx;
        struct msg m = {};
        int sv[2];

        memset(big, 'x', sizeof(big));
        big[sizeof(big) - 1] = 0;
        pair(sv);
        vl_io_init(&rx, sv[1]);
        rx.max_in = 64;
        raw_send(sv[0], big, sizeof(big), NULL, 0);
        ck_assert_int_eq(vl_io_read(&rx), 1);
        ck_assert_int_eq(vl_io_next(&rx, &m.text, m.fds, &m.n_fds), -EMSGSIZE);
        free(m.text);
        vl_io_done(&rx);
        close(sv[0]);
}
END_TEST

START_TEST(test_exactly_max_in) {
        char msg64[64];
        struct vl_io rx;
        struct msg m = {};
        int sv[2];

        memset(msg64, 'y', sizeof(msg64));
        msg64[63] = 0;           /* 64 bytes, NUL included: the largest allowed */
        pair(sv);
        vl_io_init(&rx, sv[1]);
        rx.max_in = 64;
        raw_send(sv[0], msg64, sizeof(msg64), NULL, 0);
        next_msg(&rx, &m);
        ck_assert_uint_eq(strlen(m.text), 63);
        msg_done(&m);
        vl_io_done(&rx);
        close(sv[0]);
}
END_TEST

struct writer {
        int fd;
        size_t len;
};

static void *write_big(void *arg) {
        struct writer *w = arg;
        char *buf = malloc(w->len);

        memset(buf, 'z', w->len);
        for (size_t off = 0; off < w->len;) {
                ssize_t n = send(w->fd, buf + off, w->len - off, MSG_NOSIGNAL);
                if (n < 0 && errno == EAGAIN) {
                        usleep(100);
                        continue;
                }
                if (n <= 0)
                        break;   /* the reader gave up: fine */
                off += (size_t) n;
        }
        free(buf);
        return NULL;
}

START_TEST(test_oversized_default_limit) {
        struct writer w;
        struct vl_io rx;
        struct msg m = {};
        pthread_t t;
        int sv[2], r = 0;

        pair(sv);
        w = (struct writer) { .fd = sv[0], .len = VL_MSG_MAX + 4096 };
        ck_assert_int_eq(pthread_create(&t, NULL, write_big, &w), 0);
        vl_io_init(&rx, sv[1]);
        /* either the read or the next message extraction notices first */
        for (;;) {
                r = vl_io_read(&rx);
                if (r < 0)
                        break;
                if (r == 0)
                        usleep(100);
                r = vl_io_next(&rx, &m.text, m.fds, &m.n_fds);
                if (r != 0)
                        break;
        }
        ck_assert_int_eq(r, -EMSGSIZE);
        ck_assert_ptr_null(m.text);
        ck_assert_uint_le(rx.in_len, VL_MSG_MAX + 4096);
        vl_io_done(&rx);   /* closes sv[1]; the writer then fails and ends */
        pthread_join(t, NULL);
        close(sv[0]);
}
END_TEST

START_TEST(test_eof) {
        struct vl_io rx;
        struct msg m = {};
        int sv[2];

        pair(sv);
        vl_io_init(&rx, sv[1]);
        raw_send(sv[0], "{\"complete\":true}\0{\"trunc", 25, NULL, 0);
        close(sv[0]);
        ck_assert_int_eq(vl_io_read(&rx), 1);
        ck_assert_int_eq(vl_io_read(&rx), -ECONNRESET);
        /* what arrived before the end is still delivered; the partial tail is not */
        ck_assert_int_eq(vl_io_next(&rx, &m.text, m.fds, &m.n_fds), 1);
        ck_assert_str_eq(m.text, "{\"complete\":true}");
        msg_done(&m);
        ck_assert_int_eq(vl_io_next(&rx, &m.text, m.fds, &m.n_fds), 0);
        vl_io_done(&rx);
}
END_TEST

START_TEST(test_write_to_closed_peer) {
        struct vl_io tx;
        int sv[2];

        pair(sv);
        vl_io_init(&tx, sv[0]);
        close(sv[1]);
        queue_str(&tx, "{}", NULL, 0);
        ck_assert_int_eq(vl_io_write(&tx), -EPIPE);   /* and no SIGPIPE killed us */
        vl_io_done(&tx);
}
END_TEST

/* A queue much larger than the socket buffer: partial writes, and a large message with an fd
 * whose first part alone carries the fd. */
START_TEST(test_large_queue_partial_writes) {
        enum { N = 200, BIG = 256 * 1024 };
        struct probe p = probe_new();
        struct vl_io tx, rx;
        struct msg m = {};
        int sv[2], sndbuf = 4096, received = 0, partial = 0;
        char *big = malloc(BIG + 1);
        char text[64];

        pair(sv);
        ck_assert_int_eq(setsockopt(sv[0], SOL_SOCKET, SO_SNDBUF, &sndbuf, sizeof(sndbuf)), 0);
        vl_io_init(&tx, sv[0]);
        vl_io_init(&rx, sv[1]);
        memset(big, 'B', BIG);
        big[BIG] = 0;
        ck_assert_int_eq(vl_io_queue(&tx, big, BIG, &p.w, 1), 0);
        for (int i = 0; i < N; i++) {
                snprintf(text, sizeof(text), "{\"i\":%d}", i);
                queue_str(&tx, text, NULL, 0);
        }
        while (received < N + 1) {
                ck_assert_int_ge(vl_io_write(&tx), 0);
                if (vl_io_want_write(&tx))
                        partial++;
                ck_assert_int_ge(vl_io_read(&rx), 0);
                while (vl_io_next(&rx, &m.text, m.fds, &m.n_fds) == 1) {
                        if (received == 0) {
                                ck_assert_uint_eq(strlen(m.text), BIG);
                                ck_assert_uint_eq(m.n_fds, 1);
                                assert_fd_is_probe(m.fds[0], &p, 'p');
                        } else {
                                snprintf(text, sizeof(text), "{\"i\":%d}", received - 1);
                                ck_assert_str_eq(m.text, text);
                                ck_assert_uint_eq(m.n_fds, 0);
                        }
                        received++;
                        msg_done(&m);
                }
        }
        ck_assert_int_gt(partial, 0);
        ck_assert(!vl_io_want_write(&tx));
        ck_assert_uint_eq(rx.n_in_fds, 0);
        vl_io_done(&tx);
        vl_io_done(&rx);
        ck_assert(probe_closed(&p));
        free(big);
}
END_TEST

/* vl_io_out_whole() is false exactly while a message is sent in part: what the server sends of
 * its own then (a LimitExceeded before it closes) would land inside that message. */
START_TEST(test_out_whole_only_between_messages) {
        enum { BIG = 64 * 1024 };
        struct vl_io tx;
        int sv[2], sndbuf = 4096;
        char *big = malloc(BIG), drain[4096];

        ck_assert_ptr_nonnull(big);
        pair(sv);
        ck_assert_int_eq(setsockopt(sv[0], SOL_SOCKET, SO_SNDBUF, &sndbuf, sizeof(sndbuf)), 0);
        vl_io_init(&tx, sv[0]);
        memset(big, 'B', BIG);
        ck_assert(vl_io_out_whole(&tx));
        ck_assert_int_eq(vl_io_queue(&tx, big, BIG, NULL, 0), 0);
        ck_assert_int_eq(vl_io_queue(&tx, "{}", 2, NULL, 0), 0);
        ck_assert(vl_io_out_whole(&tx));   /* queued, nothing sent yet */
        ck_assert_int_eq(vl_io_write(&tx), 1);
        ck_assert(vl_io_want_write(&tx));
        ck_assert(!vl_io_out_whole(&tx));  /* the socket took a part of the big one */
        while (vl_io_want_write(&tx)) {
                ssize_t n = read(sv[1], drain, sizeof(drain));
                ck_assert(n > 0 || errno == EAGAIN);
                ck_assert_int_ge(vl_io_write(&tx), 0);
        }
        ck_assert(vl_io_out_whole(&tx));   /* all sent */
        vl_io_done(&tx);
        safe_close(sv[1]);
        free(big);
}
END_TEST

/* ---- connect ---- */

START_TEST(test_connect) {
        struct sockaddr_un sa = { .sun_family = AF_UNIX };
        char dir[] = "/tmp/test-varlink-io.XXXXXX";
        int l, fd;

        ck_assert_ptr_nonnull(mkdtemp(dir));
        snprintf(sa.sun_path, sizeof(sa.sun_path), "%s/sock", dir);
        ck_assert_int_eq(vl_connect(sa.sun_path), -ENOENT);
        l = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
        ck_assert_int_eq(bind(l, (struct sockaddr *) &sa, sizeof(sa)), 0);
        ck_assert_int_eq(listen(l, 4), 0);
        close(0);   /* a free fd 0 must not be handed out */
        fd = vl_connect(sa.sun_path);
        ck_assert_int_ge(fd, 3);
        ck_assert_int_eq(fcntl(fd, F_GETFD) & FD_CLOEXEC, FD_CLOEXEC);
        ck_assert_int_eq(fcntl(fd, F_GETFL) & O_NONBLOCK, O_NONBLOCK);
        close(fd);
        close(l);
        unlink(sa.sun_path);
        rmdir(dir);
}
END_TEST

START_TEST(test_connect_path_too_long) {
        char path[200];

        memset(path, 'a', sizeof(path) - 1);
        path[sizeof(path) - 1] = 0;
        ck_assert_int_eq(vl_connect(path), -ENAMETOOLONG);
}
END_TEST

Suite *test_suite(void) {
        Suite *s = suite_create("varlink-io");
        TCase *framing = tcase_create("framing"), *fds = tcase_create("fds");
        TCase *limits = tcase_create("limits"), *conn = tcase_create("connect");

        tcase_add_test(framing, test_fresh_io_has_no_message);
        tcase_add_test(framing, test_queue_write_exact_bytes);
        tcase_add_test(framing, test_split_across_writes);
        tcase_add_test(framing, test_many_in_one_write);
        tcase_add_test(framing, test_large_queue_partial_writes);
        tcase_add_test(framing, test_out_whole_only_between_messages);
        tcase_add_test(fds, test_fds_one_message_at_a_time);
        tcase_add_test(fds, test_fds_pipelined_messages);
        tcase_add_test(fds, test_fds_after_fdless_message_same_read);
        tcase_add_test(fds, test_fds_same_file_fstat);
        tcase_add_test(fds, test_fds_ctrunc);
        tcase_add_test(fds, test_fds_too_many_pending);
        tcase_add_test(fds, test_queue_too_many_fds);
        tcase_add_test(fds, test_queued_fds_closed_by_done);
        tcase_add_test(limits, test_oversized_without_nul);
        tcase_add_test(limits, test_oversized_with_nul);
        tcase_add_test(limits, test_exactly_max_in);
        tcase_add_test(limits, test_oversized_default_limit);
        tcase_add_test(limits, test_eof);
        tcase_add_test(limits, test_write_to_closed_peer);
        tcase_add_test(conn, test_connect);
        tcase_add_test(conn, test_connect_path_too_long);
        tcase_set_timeout(limits, 30);
        tcase_set_timeout(framing, 30);
        suite_add_tcase(s, framing);
        suite_add_tcase(s, fds);
        suite_add_tcase(s, limits);
        suite_add_tcase(s, conn);
        return s;
}
