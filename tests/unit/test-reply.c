/* SPDX-License-Identifier: MIT */
/* The reply contract of the verbs (daemon/reply.h) at the dispatcher's end: what a handler's
 * return value becomes. The calls are the daemon's own (no connection, an origin), whose outcome
 * the daemon logs: the log on stderr shows the error that was answered. */
#include <check.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "check-main.h"
#include "daemon/log.h"
#include "daemon/methods.h"

/* The transport logs an answered error of a call without a connection through its log hook. */
static void on_log(int priority, const struct peer *peer, const char *method, const char *fmt, va_list ap) {
        log_fullv(priority, &(struct log_ctx) { .method = method }, fmt, ap);
}

static const struct vl_server_ops ops = { .log = on_log };
static struct vl_server vs = { .cfg = { .ops = &ops } };
static struct server server;
static const struct method method = { .name = "io.fexitd.Test", .operation = "testing" };
static char log_path[] = "/tmp/test-reply-XXXXXX";
static int saved_stderr = -1;

/* stderr goes to a file that each test reads back. */
static void setup(void) {
        int fd = mkstemp(log_path);

        ck_assert_int_ge(fd, 0);
        fflush(stderr);
        saved_stderr = dup(STDERR_FILENO);
        ck_assert_int_ge(dup2(fd, STDERR_FILENO), 0);
        close(fd);
        log_setup(LOG_DEBUG);
}

static void teardown(void) {
        fflush(stderr);
        dup2(saved_stderr, STDERR_FILENO);
        close(saved_stderr);
        unlink(log_path);
        strcpy(log_path, "/tmp/test-reply-XXXXXX");
}

static char *logged(void) {
        static char buf[8192];
        FILE *f;
        size_t n;

        fflush(stderr);
        f = fopen(log_path, "re");
        ck_assert_ptr_nonnull(f);
        n = fread(buf, 1, sizeof(buf) - 1, f);
        fclose(f);
        buf[n] = 0;
        return buf;
}

static struct call *call_new(struct call_frame *f) {
        struct call *c = calloc(1, sizeof(*c));

        ck_assert_ptr_nonnull(c);
        c->server = &server;
        c->vs = &vs;
        c->method = &method;
        c->origin = strdup("test");
        c->peer.role = ROLE_ADMIN;
        c->frame = f;
        return c;
}

START_TEST(negative_errno_is_a_kernel_error) {
        struct call_frame f = {};
        struct call *c = call_new(&f);

        call_finish_handler(c, &f, -ENOENT);   /* replies (and frees c) */
        ck_assert_ptr_nonnull(strstr(logged(), "io.fexitd.KernelError {\"operation\":\"testing\","
                                                "\"errno\":\"ENOENT\""));
}
END_TEST

START_TEST(code_is_its_error_with_the_recorded_parameters) {
        struct call_frame f = {};
        struct call *c = call_new(&f);
        int r = CALL_ERROR(c, ERR_NOT_DETACHABLE, .handle = 7, .reason = "busy");

        ck_assert_int_eq(r, ERR_NOT_DETACHABLE);
        ck_assert(!f.ended);   /* recorded only: the dispatcher replies */
        call_finish_handler(c, &f, r);
        ck_assert_ptr_nonnull(strstr(logged(), "io.fexitd.NotDetachable {\"handle\":7,\"reason\":\"busy\"}"));
}
END_TEST

START_TEST(a_reply_ends_the_call) {
        struct call_frame f = {};
        struct call *c = call_new(&f);

        call_reply(c, NULL);
        ck_assert(f.ended);
        call_finish_handler(c, &f, 0);
        ck_assert_ptr_null(strstr(logged(), "failed"));
        ck_assert_ptr_null(strstr(logged(), "Bug"));
}
END_TEST

START_TEST(a_deferred_call_waits_for_its_job) {
        struct call_frame f = {};
        struct call *c = call_new(&f);

        call_defer(c);
        call_finish_handler(c, &f, 0);
        ck_assert(!f.ended);
        ck_assert_ptr_null(c->frame);   /* the frame is gone with the dispatcher's stack */
        ck_assert_ptr_null(strstr(logged(), "failed"));
        call_reply_code(c, ERR_NO_SUCH_HANDLE, &(struct error_args) { .handle = 3 });
        ck_assert_ptr_nonnull(strstr(logged(), "io.fexitd.NoSuchHandle {\"handle\":3}"));
}
END_TEST

/* The bugs the dispatcher survives: no reply coming at all is answered, not left hanging; an
 * error after a reply is not answered twice. */
START_TEST(bugs_are_logged_and_answered_once) {
        struct call_frame f = {};
        struct call *c = call_new(&f);

        call_finish_handler(c, &f, 0);
        ck_assert_ptr_nonnull(strstr(logged(), "Bug: io.fexitd.Test returned without a reply"));
        ck_assert_ptr_nonnull(strstr(logged(), "\"errno\":\"EPROTO\""));
        f = (struct call_frame) {};
        c = call_new(&f);
        ck_assert_int_eq(CALL_ERROR(c, ERR_PERMISSION_DENIED, .reason = "no"), ERR_PERMISSION_DENIED);
        call_reply(c, NULL);
        call_finish_handler(c, &f, ERR_PERMISSION_DENIED);
        ck_assert_ptr_nonnull(strstr(logged(), "Bug: a handler replied and returned"));
        ck_assert_ptr_null(strstr(logged(), "PermissionDenied"));
}
END_TEST

Suite *test_suite(void) {
        Suite *s = suite_create("reply");
        TCase *tc = tcase_create("contract");

        tcase_add_checked_fixture(tc, setup, teardown);
        tcase_add_test(tc, negative_errno_is_a_kernel_error);
        tcase_add_test(tc, code_is_its_error_with_the_recorded_parameters);
        tcase_add_test(tc, a_reply_ends_the_call);
        tcase_add_test(tc, a_deferred_call_waits_for_its_job);
        tcase_add_test(tc, bugs_are_logged_and_answered_once);
        suite_add_tcase(s, tc);
        return s;
}
