/* SPDX-License-Identifier: MIT */
/* The connection: blocking calls over the non-blocking framing of common/varlink-io. */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "client/libfexit-internal.h"
#include "common/varlink-json.h"

static fexit_print_fn_t print_fn;

FEXIT_API fexit_print_fn_t fexit_set_print(fexit_print_fn_t fn) {
        return __atomic_exchange_n(&print_fn, fn, __ATOMIC_SEQ_CST);
}

void fexit_debug(const char *format, ...) {
        fexit_print_fn_t fn = __atomic_load_n(&print_fn, __ATOMIC_SEQ_CST);
        int saved = errno;
        va_list ap;

        if (!fn)
                return;
        va_start(ap, format);
        fn(FEXIT_DEBUG, format, ap);
        va_end(ap);
        errno = saved;
}

bool opts_valid(const void *opts, size_t known_size) {
        size_t sz = *(const size_t *) opts;

        if (sz < sizeof(size_t))
                return false;
        for (size_t i = known_size; i < sz; i++)
                if (((const char *) opts)[i] != 0)
                        return false;
        return true;
}

static void client_clear_error(struct fexit_client *c) {
        c->error_name = mfree(c->error_name);
        c->error_message = mfree(c->error_message);
        c->error_parameters = mfree(c->error_parameters);
        c->last_reply = mfree(c->last_reply);
}

int client_fail(struct fexit_client *c, int err, const char *format, ...) {
        va_list ap;

        client_clear_error(c);
        va_start(ap, format);
        if (vasprintf(&c->error_message, format, ap) < 0)
                c->error_message = NULL;
        va_end(ap);
        fexit_debug("libfexit: %s\n", c->error_message ? c->error_message : "out of memory");
        return err;
}

static int64_t now_ms(void) {
        struct timespec ts;

        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (int64_t) ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Waits for events on the socket until the deadline (-1: none). */
static int client_wait(struct fexit_client *c, short events, int64_t deadline) {
        struct pollfd p = { .fd = c->io.fd, .events = events };
        int timeout = -1, n;

        if (deadline >= 0) {
                int64_t left = deadline - now_ms();
                if (left <= 0)
                        return -ETIMEDOUT;
                timeout = left > INT32_MAX ? INT32_MAX : (int) left;
        }
        n = poll(&p, 1, timeout);
        if (n < 0)
                return errno == EINTR ? 0 : -errno;
        return n == 0 ? -ETIMEDOUT : 0;
}

static int client_open_socket(const char *path, int timeout_ms) {
        int64_t deadline = timeout_ms > 0 ? now_ms() + timeout_ms : -1;
        useconds_t backoff = 1000;

        for (;;) {
                int fd = vl_connect(path);
                /* EAGAIN: the listen backlog is full; a Unix socket cannot be polled for that */
                if (fd != -EAGAIN)
                        return fd;
                if (deadline >= 0 && now_ms() >= deadline)
                        return -ETIMEDOUT;
                usleep(backoff);
                backoff = backoff < 100000 ? backoff * 2 : backoff;
        }
}

FEXIT_API int fexit_client_open(const char *path, const struct fexit_client_opts *opts,
                                struct fexit_client **ret) {
        int timeout_ms = OPTS_GET(opts, timeout_ms, 0);
        struct fexit_client *c;
        int fd;

        if (!ret || !OPTS_VALID(opts, fexit_client_opts) || timeout_ms < 0)
                return -EINVAL;
        if (!path)
                path = secure_getenv("FEXITD_SOCKET");
        if (!path || !*path)
                path = FEXIT_DEFAULT_SOCKET;
        c = calloc(1, sizeof(*c));
        if (!c)
                return -ENOMEM;
        fd = client_open_socket(path, timeout_ms);
        if (fd < 0) {
                fexit_debug("libfexit: cannot connect to %s: %s\n", path, strerror(-fd));
                free(c);
                return fd;
        }
        vl_io_init(&c->io, fd);
        c->timeout_ms = timeout_ms;
        fexit_debug("libfexit: connected to %s\n", path);
        *ret = c;
        return 0;
}

FEXIT_API struct fexit_client *fexit_client_free(struct fexit_client *c) {
        if (!c)
                return NULL;
        vl_io_done(&c->io);
        client_clear_error(c);
        free(c);
        return NULL;
}

FEXIT_API const char *fexit_client_error_name(const struct fexit_client *c) {
        return c ? c->error_name : NULL;
}

FEXIT_API const char *fexit_client_error_message(const struct fexit_client *c) {
        return c ? c->error_message : NULL;
}

FEXIT_API const char *fexit_client_error_parameters(const struct fexit_client *c) {
        return c ? c->error_parameters : NULL;
}

FEXIT_API const char *fexit_client_last_reply(const struct fexit_client *c) {
        return c ? c->last_reply : NULL;
}

/* Duplicates the caller's fds for the send queue, which closes what it owns once sent. */
static int dup_fds(const int *fds, size_t n_fds, int *ret) {
        for (size_t i = 0; i < n_fds; i++) {
                ret[i] = fds[i] < 0 ? -EBADF : fcntl(fds[i], F_DUPFD_CLOEXEC, 3);
                if (ret[i] < 0) {
                        int err = fds[i] < 0 ? -EBADF : -errno;
                        close_many(ret, i);
                        return err;
                }
        }
        return 0;
}

static int client_send(struct fexit_client *c, const char *method, json_object *parameters,
                       const int *fds, size_t n_fds, int64_t deadline) {
        _cleanup_free_ char *text = vl_format_call(method, parameters, false);
        int dups[FEXIT_FDS_MAX];
        int r;

        if (!text)
                return client_fail(c, -ENOMEM, "out of memory");
        r = dup_fds(fds, n_fds, dups);
        if (r < 0)
                return client_fail(c, r, "cannot duplicate fd to send: %s", strerror(-r));
        fexit_debug("libfexit: -> %s (%zu fds)\n", text, n_fds);
        r = vl_io_queue(&c->io, text, strlen(text), dups, n_fds);
        while (r >= 0 && vl_io_want_write(&c->io)) {
                r = vl_io_write(&c->io);
                if (r == 0)
                        r = client_wait(c, POLLOUT, deadline);
        }
        return r;
}

/* Reads until one whole message is buffered, then takes it. */
static int client_receive(struct fexit_client *c, int64_t deadline, char **ret_text,
                          int *ret_fds, size_t *ret_n_fds) {
        int r;

        /* in_len first: vl_io_has_message() on a buffer never allocated calls memchr(NULL) */
        while (c->io.in_len == 0 || !vl_io_has_message(&c->io)) {
                r = vl_io_read(&c->io);
                if (r == 0)
                        r = client_wait(c, POLLIN, deadline);
                if (r < 0)
                        return r;
        }
        r = vl_io_next(&c->io, ret_text, ret_fds, ret_n_fds);
        return r < 0 ? r : 0;
}

static int client_transport_fail(struct fexit_client *c, int r, const char *what) {
        c->broken = true;
        if (r == -ETIMEDOUT)
                return client_fail(c, r, "no reply from fexitd within %d ms; connection closed",
                                   c->timeout_ms);
        if (r == -ECONNRESET || r == -EPIPE)
                return client_fail(c, r, "fexitd closed the connection");
        return client_fail(c, r, "%s: %s", what, strerror(-r));
}

static int client_set_error(struct fexit_client *c, const char *name, json_object *parameters) {
        const char *p = json_object_to_json_string_ext(parameters, JSON_C_TO_STRING_PLAIN |
                                                       JSON_C_TO_STRING_NOSLASHESCAPE);

        client_clear_error(c);
        c->error_name = strdup(name);
        c->error_parameters = p ? strdup(p) : NULL;
        c->error_message = error_describe(name, parameters);
        fexit_debug("libfexit: <- error %s %s\n", name, p ? p : "");
        return error_to_errno(name, parameters);
}

/* Checks the reply and hands its parameters and fds over. */
static int client_take_reply(struct fexit_client *c, const char *text, int *fds, size_t n_fds,
                             json_object **ret_params, int *ret_fds, size_t *ret_n_fds) {
        _cleanup_json_ json_object *msg = NULL;
        struct vl_reply reply;
        const char *p;

        if (vl_json_parse(text, &msg) < 0 || vl_reply_parse(msg, &reply) < 0 || reply.continues) {
                c->broken = true;
                return client_fail(c, -EBADMSG, "malformed reply from fexitd");
        }
        if (reply.error)
                return client_set_error(c, reply.error, reply.parameters);
        for (size_t i = 0; i < n_fds; i++) {
                fds[i] = fd_move_above_stdio(fds[i]);
                if (fds[i] < 0)
                        return client_fail(c, fds[i], "cannot move received fd: %s", strerror(-fds[i]));
        }
        p = json_object_to_json_string_ext(reply.parameters, JSON_C_TO_STRING_PLAIN |
                                           JSON_C_TO_STRING_NOSLASHESCAPE);
        c->last_reply = p ? strdup(p) : NULL;
        if (!c->last_reply)
                return client_fail(c, -ENOMEM, "out of memory");
        *ret_params = json_object_get(reply.parameters);
        if (ret_fds) {
                memcpy(ret_fds, fds, n_fds * sizeof(int));
                for (size_t i = 0; i < n_fds; i++)
                        fds[i] = -EBADF;
        }
        if (ret_n_fds)
                *ret_n_fds = ret_fds ? n_fds : 0;
        return 0;
}

int client_call(struct fexit_client *c, const char *method, json_object *parameters,
                const int *fds, size_t n_fds,
                json_object **ret_params, int *ret_fds, size_t *ret_n_fds) {
        int64_t deadline = c->timeout_ms > 0 ? now_ms() + c->timeout_ms : -1;
        _cleanup_free_ char *text = NULL;
        int got[VL_FDS_MAX];
        size_t n_got = 0;
        int r;

        client_clear_error(c);
        if (c->broken) {
                vl_put(parameters);
                return client_fail(c, -ENOTCONN, "the connection to fexitd was closed after an earlier failure");
        }
        if (n_fds > FEXIT_FDS_MAX) {
                vl_put(parameters);
                return client_fail(c, -EINVAL, "at most %d fds per call", FEXIT_FDS_MAX);
        }
        r = client_send(c, method, parameters, fds, n_fds, deadline);
        if (r < 0)
                return c->error_message ? r : client_transport_fail(c, r, "cannot send to fexitd");
        r = client_receive(c, deadline, &text, got, &n_got);
        if (r < 0)
                return client_transport_fail(c, r, "cannot receive from fexitd");
        fexit_debug("libfexit: <- %s (%zu fds)\n", text, n_got);
        r = client_take_reply(c, text, got, n_got, ret_params, ret_fds, ret_n_fds);
        close_many(got, n_got);
        return r;
}
