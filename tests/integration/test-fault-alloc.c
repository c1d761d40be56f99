/* SPDX-License-Identifier: MIT */

/*
 * Allocation failures on the real daemon (issue 11): every verb is called again and again, and
 * call number N fails the Nth allocation the daemon makes after accepting the connection
 * (fault-alloc.c, preloaded into the daemon only), for N = 1, 2, ... until the call no longer
 * reaches N allocations. Each answer must be the answer without the fault, or an error (or the
 * connection closed), never a success that differs from it; and the daemon must stay up. The
 * host kernel refuses fexit, so the verbs that need a loaded program end in their refusal here:
 * the paths after a successful load (registration, attach) are covered by the VM tier.
 */

#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "check-main.h"
#include "common/macro.h"
#include "common/varlink-json.h"
#include "daemon-helper.h"

#define TRIALS_MAX 20000   /* a host Load makes a few thousand (libbpf parses the object) */

static struct test_daemon d;
static char fault_file[300], fired_file[310];

static const struct verb {
        const char *method, *params;
        bool with_object;
} verbs[] = {
        { "org.varlink.service.GetInfo", NULL },
        { "org.varlink.service.GetInterfaceDescription", "{\"interface\":\"io.fexitd\"}" },
        { "io.fexitd.Status", NULL },
        { "io.fexitd.List", NULL },
        { "io.fexitd.Describe", "{\"handle\":4242}" },
        { "io.fexitd.Attach", "{\"handle\":4242,\"grants\":[\"user:root\"]}" },
        { "io.fexitd.Detach", "{\"handle\":4242}" },
        { "io.fexitd.TakeLink", "{\"handle\":4242}" },
        { "io.fexitd.ShareMap", "{\"handle\":4242}" },
        { "io.fexitd.Unload", "{\"handle\":4242}" },
        { "io.fexitd.Nope", NULL },
        { "io.fexitd.Load", "{\"catalog\":\"nothing-here\"}" },
        { "io.fexitd.Load", "{\"catalog\":\"x\",\"grants\":[\"user:root\",\"group:root\"]}" },
        { "io.fexitd.Load", "{\"catalog\":\"fexit_count\",\"lifetime\":\"persistent\",\"attach\":true}" },
        { "io.fexitd.Load", "{\"object\":0,\"programs\":[{\"name\":\"fexit_count\",\"functions\":[\"vfs_*\"]}]}", true },
        /* errors a handler returns as a code, with each kind of parameter of the error table */
        { "org.varlink.service.GetInterfaceDescription", "{\"interface\":\"org.nope\"}" },
        { "org.nope.Method", NULL },
        { "io.fexitd.Load", "{\"catalog\":\"x\",\"lifetime\":\"forever\"}" },
        { "io.fexitd.Load", "{\"object\":1}", true },
        { "io.fexitd.Load", "{\"object\":0,\"programs\":[{\"name\":\"p\",\"functions\":[\"a*\",\"b*\","
          "\"c*\",\"d*\",\"e*\",\"f*\",\"g*\",\"h*\",\"i*\",\"j*\",\"k*\",\"l*\",\"m*\",\"n*\",\"o*\","
          "\"p*\",\"q*\",\"r*\",\"s*\",\"t*\",\"u*\",\"v*\",\"w*\",\"x*\",\"y*\",\"z*\",\"A*\",\"B*\","
          "\"C*\",\"D*\",\"E*\",\"F*\",\"G*\"]}]}", true },
};

static void arm(long n) {
        char buf[32];
        int fd = open(fault_file, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);

        ck_assert_int_ge(fd, 0);
        snprintf(buf, sizeof(buf), "%ld\n", n);
        ck_assert_int_eq(write(fd, buf, strlen(buf)), (ssize_t) strlen(buf));
        close(fd);
}

/* Disarms the allocator: the next accept reads 0. A connection of its own, so that what is left
 * of an unreached countdown cannot fire in the next trial's count. */
static void disarm(void) {
        arm(0);
        test_disconnect(test_connect(&d));
        (void) unlink(fired_file);
}

static void assert_daemon_alive(void) {
        int st;

        ck_assert_msg(waitpid(d.pid, &st, WNOHANG) == 0, "the daemon died: %s %d",
                      WIFSIGNALED(st) ? "signal" : "exit status", WIFSIGNALED(st) ? WTERMSIG(st) : WEXITSTATUS(st));
}

/* The reply's parameters as text without what changes from call to call. */
static char *stable_text(json_object *reply) {
        json_object *p = json_object_object_get(reply, "parameters");

        if (!p)
                return strdup("");
        json_object_object_del(p, "uptime_sec");
        json_object_object_del(p, "connections");
        json_object_object_del(p, "jobs");
        return strdup(json_object_to_json_string_ext(p, JSON_C_TO_STRING_PLAIN));
}

/* One call on a new connection: 0 and the reply, or -EPIPE if the daemon hung up. */
static int call_verb_once(const struct verb *v, json_object **ret) {
        int fd = test_connect(&d), obj = -EBADF, r;

        ck_assert_int_ge(fd, 0);
        if (v->with_object) {
                obj = open(FEXIT_COUNT_OBJECT, O_RDONLY | O_CLOEXEC);
                ck_assert_int_ge(obj, 0);
        }
        r = test_send_call(fd, v->method, v->params, &obj, v->with_object ? 1 : 0);
        if (r >= 0)
                r = test_recv(fd, ret, NULL, NULL);
        safe_close(obj);
        test_disconnect(fd);
        return r;
}

START_TEST(every_verb_under_allocation_failures) {
        const struct verb *v = &verbs[_i];
        json_object *ref = NULL, *o;
        _cleanup_free_ char *ref_text = NULL;
        const char *ref_error;
        size_t failures = 0;
        long n;

        disarm();
        ck_assert_int_eq(call_verb_once(v, &ref), 0);
        ref_error = vl_get_str(ref, "error");
        ref_text = stable_text(ref);
        for (n = 1; n <= TRIALS_MAX; n++) {
                const char *error;
                int r;

                arm(n);
                r = call_verb_once(v, &o);
                assert_daemon_alive();
                if (access(fired_file, F_OK) < 0) {
                        /* the call made fewer than n allocations: it ran unharmed, as it must */
                        ck_assert_int_eq(r, 0);
                        ck_assert_str_eq(vl_get_str(o, "error") ?: "", ref_error ?: "");
                        json_object_put(o);
                        break;
                }
                disarm();
                if (r == -EPIPE)   /* the daemon could not take the call and hung up: no lie */
                        continue;
                ck_assert_int_eq(r, 0);
                error = vl_get_str(o, "error");
                if (error)
                        failures++;
                else {
                        _cleanup_free_ char *text = stable_text(o);
                        ck_assert_msg(!ref_error, "%s: allocation %ld failed and it answered success, "
                                      "where without a failure it answers %s", v->method, n, ref_error);
                        size_t at = 0;
                        while (text[at] && text[at] == ref_text[at])
                                at++;
                        ck_assert_msg(strcmp(text, ref_text) == 0, "%s: allocation %ld failed and it "
                                      "answered (%zu bytes) ...%.80s, not (%zu bytes) ...%.80s", v->method, n,
                                      strlen(text), text + at, strlen(ref_text), ref_text + at);
                }
                json_object_put(o);
        }
        ck_assert_msg(n <= TRIALS_MAX, "%s still allocating after %d", v->method, TRIALS_MAX);
        fprintf(stderr, "%s: %ld allocations, each failed once: %zu error replies\n", v->method, n - 1, failures);
        disarm();
        json_object_put(ref);
        /* and the table holds nothing a failed call left behind */
        ck_assert_int_eq(call_verb_once(&(struct verb) { "io.fexitd.List", NULL }, &o), 0);
        ck_assert_int_eq(json_object_array_length(json_object_object_get(
                json_object_object_get(o, "parameters"), "handles")), 0);
        json_object_put(o);
}
END_TEST

static void setup(void) {
        static const char *const extra[] = { "--catalog", FEXIT_COUNT_DIR, NULL };

        snprintf(fault_file, sizeof(fault_file), "/tmp/fexitd-fault-%d", (int) getpid());
        snprintf(fired_file, sizeof(fired_file), "%s.fired", fault_file);
        setenv("FEXITD_FAULT_FILE", fault_file, 1);
        setenv("LD_PRELOAD", FAULT_ALLOC_LIB, 1);
        ck_assert_int_eq(test_daemon_start(&d, extra), 0);
        unsetenv("LD_PRELOAD");
}

static void teardown(void) {
        test_daemon_stop(&d);
        (void) unlink(fault_file);
        (void) unlink(fired_file);
}

Suite *test_suite(void) {
#ifdef FEXITD_SANITIZE
        /* ASan's runtime starts by resolving its interceptors with dlsym(), and the loader's
         * allocations inside that reach an allocator preloaded in front of it before it can
         * know the next one: the daemon dies before main(). */
        test_skip("skipped: the allocator cannot be preloaded in front of AddressSanitizer's; "
                  "this test runs in the ordinary build");
#endif
        Suite *s = suite_create("fault-alloc");
        TCase *tc = tcase_create("verbs");

        tcase_add_checked_fixture(tc, setup, teardown);
        tcase_set_timeout(tc, 600);
        tcase_add_loop_test(tc, every_verb_under_allocation_failures, 0, ELEMENTSOF(verbs));
        suite_add_tcase(s, tc);
        return s;
}
