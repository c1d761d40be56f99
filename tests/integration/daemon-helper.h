/* SPDX-License-Identifier: MIT */
#pragma once

/* Runs the real fexitd on a temporary socket, state dir and bpffs pin dir, and talks raw Varlink
 * to it: the host integration tier (docs/testing.md). */

#include <json-c/json.h>
#include <stdbool.h>
#include <sys/types.h>

#include "common/varlink-io.h"

struct test_daemon {
        pid_t pid;
        char dir[256];          /* temporary root: sock, state/, conf/, pins/ */
        char socket[300];
        char pin_dir[300];
        char state_dir[300];
        char conf_dir[300];
        bool bpffs;             /* pins/ is a bpffs mount of our own */
        unsigned nofile;        /* RLIMIT_NOFILE (soft and hard) for the daemon; 0: inherited */
        const char *const *extra_args;   /* kept for restarts */
        char log[300];          /* set: the daemon's stderr (its log) is appended here */
};

/* Starts fexitd (path from FEXITD_BIN) and waits until it answers. extra: NULL-terminated. */
int test_daemon_start(struct test_daemon *d, const char *const *extra_args);
/* The same, with RLIMIT_NOFILE set to nofile (soft and hard) before the daemon is executed. */
int test_daemon_start_nofile(struct test_daemon *d, const char *const *extra_args, unsigned nofile);
/* The same, with the daemon's stderr in DIR/daemon.log (d->log) for test_daemon_log_lines(). */
int test_daemon_start_logged(struct test_daemon *d, const char *const *extra_args);
/* From the next (re)start on, the daemon's stderr goes to DIR/daemon.log (d->log). */
void test_daemon_log_to_file(struct test_daemon *d);
/* How many lines of that log contain text, or -errno if it cannot be read. */
int test_daemon_log_lines(const struct test_daemon *d, const char *text);
/* Restarts on the same dirs (state, pins and conf are kept). */
int test_daemon_restart(struct test_daemon *d, int sig);
void test_daemon_stop(struct test_daemon *d);
/* Number of open fds of the daemon, from /proc/PID/fd. */
int test_daemon_fd_count(const struct test_daemon *d);

/* The daemon's resident memory in KiB (VmRSS), and its CPU time in clock ticks (utime + stime). */
long test_daemon_rss_kb(const struct test_daemon *d);
long test_daemon_cpu_ticks(const struct test_daemon *d);

/* The same, counted while the daemon has exactly one connection (ours, subtracted): earlier
 * connections the daemon has not yet seen close do not count. */
int test_daemon_quiet_fd_count(const struct test_daemon *d);

/* A blocking Varlink connection for tests. */
int test_connect(const struct test_daemon *d);
/* Closes a test connection and forgets what was buffered for it. */
void test_disconnect(int fd);
/* Sends raw bytes (no NUL added) with optional fds. */
int test_send_raw(int fd, const void *buf, size_t len, const int *fds, size_t n_fds);
/* Sends a call: method + parameters as JSON text (NULL: {}), with fds. */
int test_send_call(int fd, const char *method, const char *params_json, const int *fds, size_t n_fds);
/* Receives one reply (timeout 30 s): parsed object, and the fds that came with it. Returns -EPIPE
 * if the daemon closed the connection. */
int test_recv(int fd, json_object **ret, int *ret_fds, size_t *ret_n_fds);
/* Status's "features" once the daemon's probe finished (a new reference), NULL if it never did. */
json_object *test_features(int fd);
/* send_call + recv; returns the error name (static empty string on success) in *ret_error. */
int test_call(int fd, const char *method, const char *params_json, const int *fds, size_t n_fds,
              json_object **ret_reply, const char **ret_error);
