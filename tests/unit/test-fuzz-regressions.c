/* SPDX-License-Identifier: MIT */

/*
 * The fuzz targets' harnesses (tests/fuzz/, docs/fuzzing.md) without libFuzzer, in the ordinary
 * build: every seed of tests/fuzz/corpus/<target>/ and every input that once crashed a target,
 * kept in tests/fuzz/regressions/<target>/, goes through its target once more. A harness aborts
 * on what it checks (a sanitizer report in a FEXITD_SANITIZE build, an fd leak, a reply that does
 * not match the interface, an access the policy does not allow, a hang), and Check reports the
 * test as failed with the input's name printed before it.
 *
 * The harness sources are compiled in with their libFuzzer entry points renamed (tests/unit/
 * fuzz.cmake), one pair per target: fuzz_<target>_one() and fuzz_<target>_init().
 */

#include <check.h>
#include <dirent.h>
#include <fcntl.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "check-main.h"

int fuzz_framing_one(const uint8_t *data, size_t size);
int fuzz_requests_init(int *argc, char ***argv);
int fuzz_requests_one(const uint8_t *data, size_t size);
int fuzz_programs_d_init(int *argc, char ***argv);
int fuzz_programs_d_one(const uint8_t *data, size_t size);
int fuzz_state_init(int *argc, char ***argv);
int fuzz_state_one(const uint8_t *data, size_t size);

/* The input being replayed, named on stderr if it takes the process down. */
static char current[8192];

static void name_current(void) {
        if (*current)
                (void) !write(2, current, strlen(current));
}

static void on_fatal(int sig) {
        name_current();
        signal(sig, SIG_DFL);
        raise(sig);
}

/* Sanitizers end the process without a signal; they call this first when it exists. */
void __sanitizer_set_death_callback(void (*callback)(void)) __attribute__((weak));

static void watch(void) {
        signal(SIGABRT, on_fatal);
        signal(SIGSEGV, on_fatal);
        signal(SIGBUS, on_fatal);
        if (__sanitizer_set_death_callback)
                __sanitizer_set_death_callback(name_current);
}

static uint8_t *read_all(const char *path, size_t *ret_size) {
        struct stat st;
        uint8_t *buf;
        ssize_t n;
        int fd = open(path, O_RDONLY | O_CLOEXEC);

        ck_assert_msg(fd >= 0, "cannot open %s", path);
        ck_assert_int_eq(fstat(fd, &st), 0);
        buf = malloc((size_t) st.st_size + 1);
        ck_assert_ptr_nonnull(buf);
        n = read(fd, buf, (size_t) st.st_size);
        ck_assert_int_eq(n, st.st_size);
        close(fd);
        *ret_size = (size_t) n;
        return buf;
}

static int compare(const void *a, const void *b) {
        return strcmp(*(char *const *) a, *(char *const *) b);
}

/* Runs every file of FUZZ_DIR/sub/target through one(), in name order; returns how many. */
static size_t replay(const char *sub, const char *target, int (*one)(const uint8_t *, size_t)) {
        char dir[4096], path[8192], *names[4096];
        struct dirent *de;
        size_t n = 0;
        DIR *d;

        snprintf(dir, sizeof(dir), "%s/%s/%s", FUZZ_DIR, sub, target);
        d = opendir(dir);
        if (!d)
                return 0;   /* a target without regressions yet */
        while ((de = readdir(d)) && n < 4096)
                if (de->d_name[0] != '.')
                        names[n++] = strdup(de->d_name);
        closedir(d);
        qsort(names, n, sizeof(char *), compare);
        for (size_t i = 0; i < n; i++) {
                size_t size;
                uint8_t *data;

                snprintf(path, sizeof(path), "%s/%s", dir, names[i]);
                data = read_all(path, &size);
                snprintf(current, sizeof(current), "the input was tests/fuzz/%s/%s/%s\n", sub, target,
                         names[i]);
                (void) one(data, size);
                free(data);
                free(names[i]);
        }
        return n;
}

/* One input of FUZZ_DIR/regressions/target through one(). */
static void replay_one(const char *target, const char *name, int (*one)(const uint8_t *, size_t)) {
        char path[8192];
        uint8_t *data;
        size_t size;

        snprintf(path, sizeof(path), "%s/regressions/%s/%s", FUZZ_DIR, target, name);
        data = read_all(path, &size);
        snprintf(current, sizeof(current), "the input was tests/fuzz/regressions/%s/%s\n", target, name);
        (void) one(data, size);
        free(data);
}

static void quiet(void) {
        setenv("FEXITD_FUZZ_LOG", "crit", 0);
        watch();
}

START_TEST(framing) {
        watch();
        ck_assert_uint_gt(replay("corpus", "framing", fuzz_framing_one), 0);
        (void) replay("regressions", "framing", fuzz_framing_one);
}
END_TEST

START_TEST(requests) {
        quiet();
        fuzz_requests_init(NULL, NULL);
        ck_assert_uint_gt(replay("corpus", "requests", fuzz_requests_one), 0);
        (void) replay("regressions", "requests", fuzz_requests_one);
}
END_TEST

START_TEST(programs_d) {
        quiet();
        fuzz_programs_d_init(NULL, NULL);
        ck_assert_uint_gt(replay("corpus", "programs-d", fuzz_programs_d_one), 0);
        (void) replay("regressions", "programs-d", fuzz_programs_d_one);
}
END_TEST

START_TEST(state) {
        quiet();
        fuzz_state_init(NULL, NULL);
        ck_assert_uint_gt(replay("corpus", "state", fuzz_state_one), 0);
        (void) replay("regressions", "state", fuzz_state_one);
}
END_TEST

/* The findings, one test each (docs/fuzzing.md, "Findings"). */

/* Detach and TakeLink read c->server after call_get_handle()'s error reply had freed the call
 * (seen by ASan: a FEXITD_SANITIZE build fails here while the bug is there). */
START_TEST(detach_of_a_missing_handle) {
        quiet();
        fuzz_requests_init(NULL, NULL);
        replay_one("requests", "detach-no-such-handle", fuzz_requests_one);
        replay_one("requests", "take-link-no-such-handle", fuzz_requests_one);
}
END_TEST

/* A section name that is not UTF-8 reached the client verbatim in InvalidObject's reason, in a
 * reply no strict JSON parser (ours included) accepts. */
START_TEST(reply_from_an_object_with_a_non_utf8_section_name) {
        quiet();
        fuzz_requests_init(NULL, NULL);
        replay_one("requests", "reply-not-utf8", fuzz_requests_one);
}
END_TEST

/* 64 selects of 200 globs "*a" each: every glob scanned the whole BTF index and every match was
 * checked against every target planned so far, for about a minute of a worker (the harness
 * gives a call 30 s). Duplicates never reached the instance limit that bounds the rest. */
START_TEST(load_with_thousands_of_globs) {
        quiet();
        fuzz_requests_init(NULL, NULL);
        replay_one("requests", "load-many-globs", fuzz_requests_one);
}
END_TEST

/* An object whose BTF names a variable at a string offset past the string section, and one of
 * whose symbols is an undefined weak one (an extern): libbpf 1.1's find_extern_btf_id() passes
 * btf__name_by_offset()'s NULL to strcmp() and the daemon dies of SIGSEGV (libbpf/libbpf#682,
 * gone with libbpf 1.3's BTF validation). Four bytes changed in fexit_count.bpf.o. */
START_TEST(object_with_a_btf_name_out_of_range) {
        quiet();
        fuzz_requests_init(NULL, NULL);
        replay_one("requests", "load-btf-name-out-of-range", fuzz_requests_one);
}
END_TEST

START_TEST(programs_d_object_with_a_btf_name_out_of_range) {
        quiet();
        fuzz_programs_d_init(NULL, NULL);
        replay_one("programs-d", "btf-name-out-of-range", fuzz_programs_d_one);
}
END_TEST

/* state.json with "handles" an object, not an array: json-c asserted at start. */
START_TEST(state_file_with_handles_not_an_array) {
        quiet();
        fuzz_state_init(NULL, NULL);
        replay_one("state", "handles-not-an-array", fuzz_state_one);
}
END_TEST

Suite *test_suite(void) {
        Suite *s = suite_create("fuzz-regressions");
        TCase *tc = tcase_create("replay");

        /* each test forks (Check's default), so each target's seccomp filter and server stay in
         * its own process */
        tcase_set_timeout(tc, 110);
        tcase_add_test(tc, framing);
        tcase_add_test(tc, requests);
        tcase_add_test(tc, programs_d);
        tcase_add_test(tc, state);
        suite_add_tcase(s, tc);
        tc = tcase_create("findings");
        tcase_set_timeout(tc, 110);
        tcase_add_test(tc, detach_of_a_missing_handle);
        tcase_add_test(tc, reply_from_an_object_with_a_non_utf8_section_name);
        tcase_add_test(tc, load_with_thousands_of_globs);
        tcase_add_test(tc, object_with_a_btf_name_out_of_range);
        tcase_add_test(tc, programs_d_object_with_a_btf_name_out_of_range);
        tcase_add_test(tc, state_file_with_handles_not_an_array);
        suite_add_tcase(s, tc);
        return s;
}
