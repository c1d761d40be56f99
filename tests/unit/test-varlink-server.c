/* SPDX-License-Identifier: MIT */
/* common/varlink-server alone, serving a toy interface of this file on a real socket: it links
 * nothing of the daemon. How the loop takes calls: a reply given outside a connection's own turn
 * (as from a worker job) does not run the next pipelined call on its stack, and one wake-up of
 * the loop serves every connection that is ready. */
#include <check.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "check-main.h"
#include "common/macro.h"
#include "common/varlink-server.h"

#define CLIENTS 3

struct server {
        sd_event *event;
        struct vl_server vs;
        char dir[48], path[100];
        size_t connected, calls;
        struct call *held;            /* a Later call, answered when the test says so */
        bool replying;                /* the test is inside call_reply() of the held call */
        bool nested;                  /* a handler ran inside it */
};

static struct server app;

static int method_echo(struct call *c, void *params) {
        app.calls++;
        app.nested |= app.replying;
        call_reply(c, vl_obj());
        return 0;
}

static int method_later(struct call *c, void *params) {
        app.calls++;
        app.held = c;
        call_defer(c);
        return 0;
}

static const struct method toy[] = {
        { "org.example.toy.Echo", method_echo, ROLE_CONSUMER, (const struct vl_param[]) { {} }, 0, 0 },
        { "org.example.toy.Later", method_later, ROLE_CONSUMER, (const struct vl_param[]) { {} }, 0, 0 },
        {}
};
static const struct method *const tables[] = { toy, NULL };

static enum role toy_role(struct server *s, const struct peer *p) {
        return ROLE_CONSUMER;
}

static int toy_deny(struct call *c) {
        call_reply_error(c, "org.example.toy.Denied", NULL);
        return 0;
}

static void toy_connected(struct server *s, uint64_t id) {
        s->connected++;
}

static void toy_disconnected(struct server *s, uint64_t id) {
        s->connected--;
}

static const struct vl_server_ops ops = {
        .peer_role = toy_role,
        .deny = toy_deny,
        .connected = toy_connected,
        .disconnected = toy_disconnected,
};

static void setup(void) {
        struct vl_server_config cfg = {
                .app = &app, .ops = &ops, .tables = tables, .limits = LIMITS_DEFAULT,
                .errors = { .protocol = "org.example.toy.ProtocolError", .limit = "org.example.toy.Limit",
                            .system = "org.example.toy.SystemError", .fds = "org.example.toy.Fds" },
        };
        bool open_to_all;
        int fd;

        app = (struct server) {};
        snprintf(app.dir, sizeof(app.dir), "/tmp/test-varlink-server.XXXXXX");
        ck_assert_ptr_nonnull(mkdtemp(app.dir));
        snprintf(app.path, sizeof(app.path), "%s/sock", app.dir);
        ck_assert_int_eq(sd_event_new(&app.event), 0);
        fd = vl_server_listen(app.path, NULL, &open_to_all);
        ck_assert_int_ge(fd, 0);
        ck_assert(open_to_all);
        ck_assert_int_eq(vl_server_init(&app.vs, app.event, &cfg, fd), 0);
}

static void teardown(void) {
        vl_server_done(&app.vs);
        sd_event_unref(app.event);
        unlink(app.path);
        rmdir(app.dir);
}

/* Runs the loop (bounded by iterations, not time) until *count reaches n. */
static void run_until(const size_t *count, size_t n) {
        for (int i = 0; i < 1000 && *count < n; i++)
                ck_assert_int_ge(sd_event_run(app.event, 10 * 1000), 0);
        ck_assert_uint_eq(*count, n);
}

static void send_text(int fd, const char *text) {
        ck_assert_int_eq(send(fd, text, strlen(text) + 1, MSG_NOSIGNAL), (ssize_t) strlen(text) + 1);
}

/* Reads n NUL-terminated replies (blocking); each must be a plain reply. */
static void recv_replies(int fd, size_t n) {
        char buf[4096];
        size_t got = 0, len = 0;

        while (got < n) {
                ssize_t k = recv(fd, buf + len, sizeof(buf) - len, 0);
                ck_assert_int_gt(k, 0);
                for (ssize_t i = 0; i < k; i++)
                        got += buf[len + (size_t) i] == '\0';
                len += (size_t) k;
        }
        ck_assert_uint_eq(got, n);
        for (char *m = buf; m < buf + len; m += strlen(m) + 1)
                ck_assert_msg(!strstr(m, "\"error\""), "%s", m);
}

static int connect_client(void) {
        int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
        struct sockaddr_un sa = { .sun_family = AF_UNIX };

        ck_assert_int_ge(fd, 0);
        snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", app.path);
        ck_assert_int_eq(connect(fd, (struct sockaddr *) &sa, sizeof(sa)), 0);
        return fd;
}

START_TEST(next_call_is_not_run_on_the_reply_stack) {
        int fd = connect_client();

        run_until(&app.connected, 1);
        /* pipelined: Later waits for the test, Echo waits for Later */
        send_text(fd, "{\"method\":\"org.example.toy.Later\"}");
        send_text(fd, "{\"method\":\"org.example.toy.Echo\"}");
        run_until(&app.calls, 1);
        ck_assert_ptr_nonnull(app.held);
        /* the answer comes from elsewhere, as a worker job's done() gives it */
        app.replying = true;
        call_reply(TAKE_PTR(app.held), vl_obj());
        app.replying = false;
        run_until(&app.calls, 2);
        ck_assert_msg(!app.nested, "the next call ran inside the reply to the previous one");
        recv_replies(fd, 2);
        close(fd);
}
END_TEST

START_TEST(one_wake_up_serves_every_ready_connection) {
        int fds[CLIENTS];

        for (size_t i = 0; i < CLIENTS; i++)
                fds[i] = connect_client();
        run_until(&app.connected, CLIENTS);
        for (size_t i = 0; i < CLIENTS; i++)
                send_text(fds[i], "{\"method\":\"org.example.toy.Echo\"}");
        /* sd-event dispatches one source per iteration: the connections are one source */
        ck_assert_int_gt(sd_event_run(app.event, 0), 0);
        ck_assert_uint_eq(app.calls, CLIENTS);
        for (size_t i = 0; i < CLIENTS; i++) {
                recv_replies(fds[i], 1);
                close(fds[i]);
        }
}
END_TEST

Suite *test_suite(void) {
        Suite *s = suite_create("varlink-server");
        TCase *tc = tcase_create("loop");

        tcase_add_checked_fixture(tc, setup, teardown);
        tcase_add_test(tc, next_call_is_not_run_on_the_reply_stack);
        tcase_add_test(tc, one_wake_up_serves_every_ready_connection);
        suite_add_tcase(s, tc);
        return s;
}
