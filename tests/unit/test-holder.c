/* SPDX-License-Identifier: MIT */
/* Holder liveness (daemon/holder.c) with real processes: a child stands in for the holder of a
 * handed-off link; its exit must be noticed through the pidfd, and after a "restart" the pid
 * must count only with the start time recorded at the hand-off. */
#include <check.h>
#include <dirent.h>
#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

#include "check-main.h"
#include "daemon/holder.h"
#include "daemon/methods.h"

static pid_t child_start(void) {
        pid_t pid = fork();

        ck_assert_int_ge(pid, 0);
        if (pid == 0) {
                pause();
                _exit(0);
        }
        return pid;
}

static void child_reap(pid_t pid) {
        kill(pid, SIGKILL);
        ck_assert_int_eq(waitpid(pid, NULL, 0), pid);
}

static int fd_count(void) {
        DIR *d = opendir("/proc/self/fd");
        int n = 0;

        ck_assert_ptr_nonnull(d);
        while (readdir(d))
                n++;
        closedir(d);
        return n;
}

static struct handle *handed_off(pid_t pid) {
        struct handle *h = handle_new(HANDLE_LINK, "count");

        ck_assert_ptr_nonnull(h);
        h->id = 7;
        h->state = HSTATE_HANDED_OFF;
        h->holder_uid = getuid();
        h->holder_pid = pid;
        return h;
}

/* A loop, a child and a link handed off to it. */
static struct handle *setup(struct server *s, pid_t *ret_pid) {
        *s = (struct server) {};
        ck_assert_int_eq(sd_event_new(&s->event), 0);
        *ret_pid = child_start();
        return handed_off(*ret_pid);
}

static void teardown(struct server *s, struct handle *h) {
        handle_free(h);
        sd_event_unref(s->event);
}

START_TEST(start_time_of_self) {
        unsigned long long a = 0, b = 0;

        ck_assert_int_eq(holder_start_time(getpid(), &a), 0);
        ck_assert_uint_gt(a, 0);
        ck_assert_int_eq(holder_start_time(getpid(), &b), 0);
        ck_assert_uint_eq(a, b);
        ck_assert_int_eq(holder_start_time(0x7ffffff0, &b), -ENOENT);
}
END_TEST

START_TEST(exit_is_noticed) {
        struct server s;
        pid_t pid;
        struct handle *h = setup(&s, &pid);

        holder_watch(&s, h, true);
        ck_assert_str_eq(holder_state_to_string(h->holder_state), "alive");
        ck_assert_uint_gt(h->holder_start, 0);
        ck_assert_ptr_nonnull(h->holder_src);
        /* nothing happens while it lives */
        ck_assert_int_eq(sd_event_run(s.event, 0), 0);
        ck_assert_int_eq(h->holder_state, HOLDER_ALIVE);
        kill(pid, SIGKILL);
        for (int i = 0; i < 50 && h->holder_state == HOLDER_ALIVE; i++)
                ck_assert_int_ge(sd_event_run(s.event, 100 * 1000), 0);
        ck_assert_str_eq(holder_state_to_string(h->holder_state), "exited");
        ck_assert_ptr_null(h->holder_src);
        ck_assert_int_eq(waitpid(pid, NULL, 0), pid);
        teardown(&s, h);
}
END_TEST

/* After a restart: the recorded start time decides whether the pid is still the holder. */
START_TEST(restart_checks_the_start_time) {
        struct server s;
        pid_t pid;
        struct handle *h = setup(&s, &pid);
        unsigned long long start;

        ck_assert_int_eq(holder_start_time(pid, &start), 0);
        h->holder_start = start;
        holder_watch(&s, h, false);
        ck_assert_int_eq(h->holder_state, HOLDER_ALIVE);
        ck_assert_ptr_nonnull(h->holder_src);
        /* the same pid with another start time is another process: the holder is gone */
        h->holder_start = start + 1;
        holder_watch(&s, h, false);
        ck_assert_int_eq(h->holder_state, HOLDER_EXITED);
        ck_assert_ptr_null(h->holder_src);
        /* no start time recorded (an older state file): alive, but not provably the holder */
        h->holder_start = 0;
        holder_watch(&s, h, false);
        ck_assert_str_eq(holder_state_to_string(h->holder_state), "unknown");
        /* still watched: its exit proves the holder gone either way */
        ck_assert_ptr_nonnull(h->holder_src);
        child_reap(pid);
        holder_watch(&s, h, false);
        ck_assert_int_eq(h->holder_state, HOLDER_EXITED);
        teardown(&s, h);
}
END_TEST

/* A handle freed while its holder lives drops the watch and its pidfd. */
START_TEST(free_drops_the_watch) {
        struct server s;
        pid_t pid;
        struct handle *h = setup(&s, &pid);
        int before;

        ck_assert_int_eq(sd_event_run(s.event, 0), 0);   /* the loop's own fds exist now */
        before = fd_count();
        holder_watch(&s, h, true);
        ck_assert_ptr_nonnull(h->holder_src);
        ck_assert_int_eq(fd_count(), before + 1);         /* the pidfd */
        handle_free(h);
        ck_assert_int_eq(fd_count(), before);
        child_reap(pid);
        ck_assert_int_eq(sd_event_run(s.event, 0), 0);
        teardown(&s, NULL);
}
END_TEST

Suite *test_suite(void) {
        Suite *s = suite_create("holder");
        TCase *tc = tcase_create("holder");

        tcase_add_test(tc, start_time_of_self);
        tcase_add_test(tc, exit_is_noticed);
        tcase_add_test(tc, restart_checks_the_start_time);
        tcase_add_test(tc, free_drops_the_watch);
        suite_add_tcase(s, tc);
        return s;
}
