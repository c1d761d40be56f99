/* SPDX-License-Identifier: MIT */

/*
 * Message framing and decoding: arbitrary bytes, cut where the input says and with real fds
 * attached where it says, go through a socketpair into struct vl_io (vl_io_read/vl_io_next, with
 * a message size cap the input may lower), and every message that comes out goes through
 * vl_json_parse, vl_call_parse, vl_params_parse and vl_reply_parse. Optionally the messages and
 * their fds then make a round trip through vl_io_queue/vl_io_write and are read back, and must
 * come back unchanged, each with its own fds. No fd may outlive the input.
 *
 * Input layout (tests/fuzz/gen-corpus writes seeds in it):
 *   byte 0   flags: bit 0 read after every chunk (else send everything first),
 *                   bit 1 round trip, bit 2 hang up the sender before the last read,
 *                   bit 3 round trip in lockstep (each message read back before the next one
 *                   is queued)
 *   byte 1   low nibble: cuts (0-15); high nibble: fd marks (0-15, at most 4 used)
 *   byte 2   max_in: 0 the default (VL_MSG_MAX), else byte * 16
 *   2 bytes per cut: offset into the payload (big endian, modulo its length)
 *   3 bytes per mark: offset (2 bytes), then fds: low nibble count (1-12: above VL_FDS_MAX on
 *            purpose), high nibble kind (0 memfd, 1 eventfd, 2 pipe)
 *   the rest is the payload: the bytes a client would send.
 */

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/macro.h"
#include "common/varlink-io.h"
#include "common/varlink-json.h"
#include "tests/fuzz/fuzz-util.h"
#include "tests/lib/scm-rights.h"

#define CUTS_MAX 15
#define MARKS_MAX 4
#define MARK_FDS_MAX 12
#define ROUND_TRIP_MAX 64

enum {
        F_READ_EACH = 1 << 0,
        F_ROUND_TRIP = 1 << 1,
        F_HANGUP = 1 << 2,
        F_LOCKSTEP = 1 << 3,
};

struct mark {
        size_t pos;
        unsigned n, kind;
};

/* What a message looked like when it was queued, to compare with what comes back. */
struct sent {
        char *text;
        size_t n_fds;
        dev_t dev[VL_FDS_MAX];
        ino_t ino[VL_FDS_MAX];
};

struct state {
        struct vl_io rx;             /* the daemon's end */
        struct vl_io tx, back;       /* round trip: tx queues and writes, back reads */
        struct sent sent[ROUND_TRIP_MAX];
        size_t n_sent, n_back;
        bool rx_dead;
        uint8_t flags;
};

static int make_fd(unsigned kind) {
        int p[2], fd;

        switch (kind % 3) {
        case 1:
                fd = eventfd(0, EFD_CLOEXEC);
                break;
        case 2:
                if (pipe2(p, O_CLOEXEC) < 0)
                        return -errno;
                close(p[1]);
                fd = p[0];
                break;
        default:
                return fuzz_memfd("x", 1);
        }
        return fd < 0 ? -errno : fd;
}

static void identify(int fd, dev_t *dev, ino_t *ino) {
        struct stat st;

        if (fstat(fd, &st) < 0) {
                fuzz_fail("fuzz-framing: a received fd is not valid: %m");
        }
        *dev = st.st_dev;
        *ino = st.st_ino;
}

/* Every decoder a message meets in the daemon and the client library. */
static void decode(const char *text) {
        struct {
                int64_t i;
                uint32_t u;
                const char *s;
                bool b;
                json_object *a, *o;
        } out;
        static const struct vl_param spec[] = {
                { "handle", VL_INT, true, offsetof(typeof(out), i) },
                { "target_prog_id", VL_UINT32, false, offsetof(typeof(out), u) },
                { "name", VL_STRING, false, offsetof(typeof(out), s) },
                { "attach", VL_BOOL, false, offsetof(typeof(out), b) },
                { "programs", VL_ARRAY, false, offsetof(typeof(out), a) },
                { "options", VL_OBJECT, false, offsetof(typeof(out), o) },
                {}
        };
        const char *reason = NULL, *bad = NULL;
        struct vl_reply reply;
        struct vl_call call;
        json_object *m;

        if (vl_json_parse(text, &m) < 0)
                return;
        if (vl_call_parse(m, &call, &reason) >= 0) {
                if (!call.method || !*call.method || !json_object_is_type(call.parameters, json_type_object))
                        fuzz_fail("fuzz-framing: vl_call_parse() took a call without method or "
                                  "parameters object: %s", text);
                memset(&out, 0, sizeof(out));
                if (vl_params_parse(call.parameters, spec, &out, &bad) < 0 && !bad)
                        fuzz_fail("fuzz-framing: vl_params_parse() refused without naming a "
                                  "parameter: %s", text);
                (void) vl_get_int(call.parameters, "handle", 0);
                (void) vl_get_str(call.parameters, "name");
                (void) vl_get_bool(call.parameters, "attach", false);
        } else if (!reason)
                fuzz_fail("fuzz-framing: vl_call_parse() refused without a reason: %s", text);
        json_object_put(m);
        if (vl_json_parse(text, &m) < 0)
                fuzz_fail("fuzz-framing: the same text parsed once and not twice: %s", text);
        (void) vl_reply_parse(m, &reply);
        json_object_put(m);
}

static void sent_clear(struct state *s) {
        for (size_t i = 0; i < s->n_sent; i++)
                free(s->sent[i].text);
        s->n_sent = s->n_back = 0;
}

/* Reads back what the round trip wrote and compares it with what was queued: the same text in the
 * same order, each message with exactly the fds it was queued with. */
static void back_pump(struct state *s, size_t *fds_back) {
        int fds[VL_FDS_MAX], r;
        size_t n_fds;
        char *text;

        do {
                r = vl_io_read(&s->back);
                if (r < 0) {
                        fuzz_fail("fuzz-framing: round trip read failed: %s", strerror(-r));
                }
                while (vl_io_next(&s->back, &text, fds, &n_fds) > 0) {
                        struct sent *e = s->n_back < s->n_sent ? &s->sent[s->n_back++] : NULL;

                        if (!e || strcmp(e->text, text) != 0) {
                                fuzz_fail("fuzz-framing: round trip changed message %zu", s->n_back);
                        }
                        if (n_fds != e->n_fds) {
                                fuzz_fail("fuzz-framing: round trip message %zu was queued with %zu "
                                        "fds and came back with %zu", s->n_back, e->n_fds, n_fds);
                        }
                        for (size_t i = 0; i < n_fds; i++) {
                                dev_t dev;
                                ino_t ino;
                                identify(fds[i], &dev, &ino);
                                if (dev != e->dev[i] || ino != e->ino[i]) {
                                        fuzz_fail("fuzz-framing: round trip message %zu: fd %zu is "
                                                "another file", s->n_back, i);
                                }
                        }
                        *fds_back += n_fds;
                        close_many(fds, n_fds);
                        free(text);
                }
        } while (r > 0);
}

static void back_flush(struct state *s, size_t *fds_back) {
        while (vl_io_want_write(&s->tx)) {
                int r = vl_io_write(&s->tx);
                if (r < 0) {
                        fuzz_fail("fuzz-framing: round trip write failed: %s", strerror(-r));
                }
                back_pump(s, fds_back);
        }
        back_pump(s, fds_back);
}

/* The message goes through the decoders, then (round trip) is queued again with its fds. */
static void handle_message(struct state *s, char *text, int *fds, size_t n_fds, size_t *fds_queued,
                           size_t *fds_back) {
        decode(text);
        if (!(s->flags & F_ROUND_TRIP) || s->n_sent == ROUND_TRIP_MAX) {
                close_many(fds, n_fds);
                return;
        }
        struct sent *e = &s->sent[s->n_sent++];
        e->text = strdup(text);
        e->n_fds = n_fds;
        if (!e->text)
                fuzz_fail("fuzz-framing: out of memory");
        for (size_t i = 0; i < n_fds; i++)
                identify(fds[i], &e->dev[i], &e->ino[i]);
        if (vl_io_queue(&s->tx, text, strlen(text), fds, n_fds) < 0)
                fuzz_fail("fuzz-framing: vl_io_queue() refused a message of %zu bytes", strlen(text));
        *fds_queued += n_fds;
        if (s->flags & F_LOCKSTEP)
                back_flush(s, fds_back);
}

/* What the daemon's connection does on input: read once, then take every complete message, and
 * again while there is more. A protocol error (EPROTO, too many fds), an oversized message or the
 * end of the stream ends the connection. */
static void rx_pump(struct state *s, size_t *fds_queued, size_t *fds_back) {
        int fds[VL_FDS_MAX], r, next;
        size_t n_fds;
        char *text;

        while (!s->rx_dead) {
                r = vl_io_read(&s->rx);
                if (r < 0 && r != -EMSGSIZE)
                        s->rx_dead = true;
                while (!s->rx_dead && (next = vl_io_next(&s->rx, &text, fds, &n_fds)) != 0) {
                        if (next < 0) {
                                s->rx_dead = true;
                                break;
                        }
                        if (n_fds > VL_FDS_MAX || strlen(text) + 1 > s->rx.max_in) {
                                fuzz_fail("fuzz-framing: a message of %zu bytes with %zu fds passed "
                                        "a cap of %zu bytes", strlen(text) + 1, n_fds, s->rx.max_in);
                        }
                        handle_message(s, text, fds, n_fds, fds_queued, fds_back);
                        free(text);
                }
                /* what a connection holds stays near its cap (the daemon's budgets count it) */
                vl_io_trim(&s->rx);
                if (s->rx.in_cap > 4096 && s->rx.in_cap >= 2 * s->rx.max_in)
                        fuzz_fail("fuzz-framing: %zu bytes of input buffer under a cap of %zu",
                                  s->rx.in_cap, s->rx.max_in);
                if (vl_io_footprint(&s->rx) < s->rx.in_len)
                        fuzz_fail("fuzz-framing: footprint below the bytes buffered");
                if (r <= 0)
                        break;
        }
}

static int cmp_size(const void *a, const void *b) {
        size_t x = *(const size_t *) a, y = *(const size_t *) b;

        return x < y ? -1 : x > y;
}

/* Sends payload [from, to) in one piece, with the fds of every mark at from. The sender's copies
 * of the fds are closed once they are in flight. */
static void send_piece(struct state *s, int wfd, const uint8_t *payload, size_t from, size_t to,
                       const struct mark *marks, size_t n_marks, size_t *fds_queued, size_t *fds_back) {
        int fds[MARKS_MAX * MARK_FDS_MAX];
        size_t n_fds = 0, off = from;

        for (size_t m = 0; m < n_marks; m++)
                for (unsigned k = 0; marks[m].pos == from && k < marks[m].n; k++) {
                        int fd = make_fd(marks[m].kind);
                        if (fd >= 0)
                                fds[n_fds++] = fd;
                }
        while (off < to || n_fds > 0) {
                ssize_t n = scm_send(wfd, payload + off, to - off, fds, n_fds, MSG_DONTWAIT);
                if (n == -EAGAIN) {
                        rx_pump(s, fds_queued, fds_back);   /* make room, as a peer would */
                        if (s->rx_dead)
                                break;
                        continue;
                }
                if (n < 0)
                        break;   /* the receiver is gone */
                off += (size_t) n;
                close_many(fds, n_fds);
                n_fds = 0;
        }
        close_many(fds, n_fds);
        if (s->flags & F_READ_EACH)
                rx_pump(s, fds_queued, fds_back);
}

static int socketpair_nb(int sv[2]) {
        return socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0, sv);
}

/* The input's header: flags, the cap, the marks, and the cut points (the marks' offsets, 0 and
 * len among them) in order. Returns the payload's length; 0 if there is none. */
static size_t parse_header(struct fuzz_input *in, uint8_t *flags, size_t *max_in, struct mark *marks,
                           size_t *n_marks, size_t *cuts, size_t *n_cuts) {
        uint8_t counts, scale;
        uint16_t raw[CUTS_MAX];
        size_t n = 0, len;

        *flags = fuzz_u8(in);
        counts = fuzz_u8(in);
        scale = fuzz_u8(in);
        *max_in = scale ? (size_t) scale * 16 : VL_MSG_MAX;
        for (size_t i = 0; i < (counts & 0xfu); i++)
                raw[n++] = fuzz_u16(in);
        *n_marks = counts >> 4 < MARKS_MAX ? counts >> 4 : MARKS_MAX;
        for (size_t i = 0; i < *n_marks; i++) {
                uint16_t pos = fuzz_u16(in);
                uint8_t f = fuzz_u8(in);
                marks[i] = (struct mark) { .pos = pos, .n = (f & 0xfu) % MARK_FDS_MAX + 1, .kind = f >> 4 };
        }
        len = in->n;
        if (len == 0)
                return 0;
        for (size_t i = 0; i < n; i++)
                cuts[i] = raw[i] % len;
        for (size_t i = 0; i < *n_marks; i++)
                cuts[n++] = marks[i].pos %= len;
        cuts[n++] = 0;
        cuts[n++] = len;
        qsort(cuts, n, sizeof(size_t), cmp_size);
        *n_cuts = n;
        return len;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        struct fuzz_input in = { data, size };
        struct mark marks[MARKS_MAX];
        size_t cuts[CUTS_MAX + MARKS_MAX + 2], n_cuts, n_marks, len, max_in, fds_queued = 0, fds_back = 0;
        int before = fuzz_fd_count(), sv[2], rt[2];
        struct state s = {};

        if (size > 1 << 20)
                return -1;
        len = parse_header(&in, &s.flags, &max_in, marks, &n_marks, cuts, &n_cuts);
        if (len == 0)
                return 0;
        if (socketpair_nb(sv) < 0 || socketpair_nb(rt) < 0)
                fuzz_fail("fuzz-framing: socketpair: %m");
        vl_io_init(&s.rx, sv[0]);
        s.rx.max_in = max_in;
        vl_io_init(&s.tx, rt[0]);
        vl_io_init(&s.back, rt[1]);

        for (size_t i = 0; i + 1 < n_cuts; i++)
                if (cuts[i + 1] > cuts[i])
                        send_piece(&s, sv[1], in.p, cuts[i], cuts[i + 1], marks, n_marks, &fds_queued,
                                   &fds_back);
        if (s.flags & F_HANGUP)
                sv[1] = safe_close(sv[1]);
        rx_pump(&s, &fds_queued, &fds_back);
        back_flush(&s, &fds_back);
        if (s.n_back != s.n_sent || fds_back != fds_queued)
                fuzz_fail("fuzz-framing: round trip: %zu of %zu messages and %zu of %zu fds came back",
                          s.n_back, s.n_sent, fds_back, fds_queued);

        sent_clear(&s);
        vl_io_done(&s.rx);
        vl_io_done(&s.tx);
        vl_io_done(&s.back);
        safe_close(sv[1]);
        fuzz_check_fds(before, "framing");
        return 0;
}
