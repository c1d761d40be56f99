/* SPDX-License-Identifier: MIT */
#pragma once

/*
 * fexitd's benchmarks (docs/performance.md). One binary, fexitd-bench, with a subcommand per part:
 * `host` (control-call latency against a bare echo floor, daemon memory), `vm` (latency under
 * kernel load, load+attach against libbpf, many targets, memory with links: the parts that need
 * fexit, which only the VM's kernel allows), `report` (tables and the merged JSON file) and
 * `echo-server` (the floor). Benchmarks print numbers; they never fail on a time.
 */

#include <json-c/json.h>
#include "common/varlink-json.h"
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/types.h>

/* ---- clock and samples (stats.c) ------------------------------------------------------------ */

uint64_t now_ns(void);   /* CLOCK_MONOTONIC */

struct samples {
        uint64_t *v;             /* nanoseconds */
        size_t n, cap;
};

int samples_add(struct samples *s, uint64_t ns);
int samples_append(struct samples *s, const struct samples *other);
void samples_done(struct samples *s);
/* Sorts in place, then the nearest-rank percentile (0 < p <= 100). 0 if empty. */
uint64_t samples_percentile(struct samples *s, double p);
double samples_mean(const struct samples *s);
/* {n, p50_us, p99_us, p999_us, mean_us, max_us} */
json_object *samples_to_json(struct samples *s);

/* ---- the client side of the wire, shared by every benchmark (wire.c) ------------------------- */

/* A blocking connection speaking Varlink's framing: NUL-terminated messages over SOCK_STREAM, fds
 * as SCM_RIGHTS. The latency loop sends prebuilt bytes and waits for the NUL of the reply, the same
 * code for the daemon and for the echo floor. */
struct bconn {
        int fd;
        char *buf;               /* the last reply, NUL-terminated */
        size_t len, cap;         /* len: bytes of the last reply, NUL included */
};

int bconn_open(const char *path, struct bconn *ret);
void bconn_close(struct bconn *c);
/* Sends len bytes (the NUL included) with fds, then reads one reply into c->buf. The reply's fds
 * land in ret_fds (room for 8) or are closed. Returns the reply's length or -errno. */
int bconn_roundtrip(struct bconn *c, const char *msg, size_t len, const int *fds, size_t n_fds,
                    int *ret_fds, size_t *ret_n_fds);
/* A Varlink call: params_json NULL means {}. On success *ret is the reply's parameters (owned by the
 * caller) and *ret_error is NULL, or the error's name (valid until the next call on c). */
int bconn_call(struct bconn *c, const char *method, const char *params_json, const int *fds,
               size_t n_fds, json_object **ret, const char **ret_error);

/* CPU time the main thread of pid has run, in ns (/proc/PID/schedstat); 0 if unknown. */
uint64_t proc_main_thread_cpu_ns(pid_t pid);
/* RSS by where it lives (/proc/PID/smaps), KiB: the main heap (the loop thread's malloc arena),
 * other anonymous mappings (other threads' arenas, their stacks, large mmap'd blocks), files. */
int proc_rss_breakdown(pid_t pid, long *ret_heap, long *ret_anon_maps, long *ret_file);
/* Reads /proc/PID/status: VmRSS and RssAnon in KiB. */
int proc_rss_kib(pid_t pid, long *ret_rss, long *ret_anon);

/* ---- the bare floor (echo-server.c) ----------------------------------------------------------- */

/* The echo server's main loop (subcommand echo-server). */
int echo_server_main(const char *socket_path);
/* Runs /proc/self/exe echo-server PATH and waits until it answers. */
int echo_server_start(const char *socket_path, pid_t *ret_pid);
void echo_server_stop(pid_t pid);

/* ---- the daemon under test (daemon.c) --------------------------------------------------------- */

struct bench_daemon {
        pid_t pid;
        char socket[300];
        char pin_dir[300];       /* a bpffs mounted for it: unmount it if we die early */
        void *priv;              /* tests/integration/daemon-helper's struct test_daemon */
};

int bench_daemon_start(struct bench_daemon *d);
/* The same with extra fexitd arguments (NULL-terminated; kept until the daemon is stopped). */
int bench_daemon_start_args(struct bench_daemon *d, const char *const *extra_args);
void bench_daemon_stop(struct bench_daemon *d);
/* Daemon's RSS after a round trip (so it has served at least one call), KiB. */
json_object *bench_daemon_memory(struct bench_daemon *d, const char *label, long *ret_rss);

/* ---- machine description (machine.c) --------------------------------------------------------- */

json_object *machine_describe(void);
const char *json_str(json_object *o, const char *key, const char *def);
double json_num(json_object *o, const char *key, double def);

/* ---- part 1 and 2: control-call latency (latency.c) -------------------------------------------- */

struct latency_opts {
        const unsigned *clients;         /* concurrency levels, e.g. 1, 8, 64 */
        size_t n_clients;
        size_t samples;                  /* calls per level and target in one round */
        size_t warmup;                   /* calls per client before timing */
        const char *echo_socket;         /* NULL: no floor */
        const char *daemon_socket;
        pid_t echo_pid, daemon_pid;      /* their main thread's CPU time is read per measurement */
};

/* Samples of echo, GetInfo and List at each concurrency level, pooled over rounds: the targets
 * take turns within a round, and rounds let a caller interleave conditions (idle, busy). */
struct latency_acc;
int latency_acc_new(const struct latency_opts *o, struct latency_acc **ret);
struct latency_acc *latency_acc_free(struct latency_acc *a);
/* One round: every level, every target, o->samples calls each. */
int latency_round(struct latency_acc *a);
/* A JSON array of rows {clients, target, n, p50_us, ..., calls_per_s, server_cpu_us}. */
json_object *latency_acc_rows(struct latency_acc *a);

/* ---- part 2: the kernel work running meanwhile (churn.c) -------------------------------------- */

struct churn;
/* A client that loads, attaches and detaches object_path's programs without pause. */
int churn_start(const char *socket, const char *object_path, struct churn **ret);
/* Stops after the cycle in progress; {cycles, errors, cycle_p50_ms, ...}. */
json_object *churn_stop(struct churn *c);

/* ---- part 3: load+attach through fexitd against in-process libbpf (loadattach.c) -------------- */

int loadattach_run(const char *socket, const char *object_path, unsigned iterations, unsigned settle_ms,
                   json_object **ret);

/* ---- part 4 and 5: many targets, memory with links (many.c, memory.c) ------------------------- */

struct func_pool {
        char **names;
        size_t n, next;
};
/* Functions the daemon can load fexit_count on, found by loading (not attaching) the program on
 * the globs; shuffled with a fixed seed. */
int func_pool_probe(const char *socket, const char *object_path, const char *const *globs,
                    json_object **ret_info, struct func_pool *ret);
/* Takes the next n unused names; NULL if fewer are left. */
const char *const *func_pool_take(struct func_pool *p, size_t n);
void func_pool_done(struct func_pool *p);

/* libbpf opens the object and loads fexit_count retargeted to function, as fexitd's first instance
 * of a program is loaded. On failure *ret_obj may still need bpf_object__close(). */
struct bpf_object;
struct bpf_program;
int object_load_retargeted(const char *object_path, const char *function, struct bpf_object **ret_obj,
                           struct bpf_program **ret_prog);

/* {"programs":[{"name":"fexit_count","functions":[...]}],"attach":true} as text. */
char *load_params_functions(const char *const *functions, size_t n, bool attach);
/* Load with the object's fd; *ret_ms is the round trip. Returns the number of links. */
int fexitd_load(struct bconn *c, const char *object_path, const char *params_json, double *ret_ms,
                json_object **ret_reply, const char **ret_error);
/* The first program handle of a Load reply, -1 if none. */
int64_t load_reply_program(json_object *reply);

/* Part 6: one program on N functions as a tracing multi-link, as instances, and the in-process
 * floor (multi.c). Rows {n, per_target_us_multi, per_target_us_instances, per_target_us_floor,
 * ...}: the "multi_link" key of the results. */
int multi_run(const char *object_path, const char *const *globs, const size_t *ns, size_t n_ns,
              size_t instances_max, json_object **ret);

int many_run(const char *socket, const char *object_path, struct func_pool *pool,
             const size_t *ns, size_t n_ns, size_t separate_max, json_object **ret);

/* variant names the daemon's malloc settings: NULL for glibc's defaults, or an environment
 * assignment (GLIBC_TUNABLES=...) the daemon is started with, to show where the memory goes. */
int memory_run(const char *object_path, struct func_pool *pool, const size_t *steps, size_t n_steps,
               const char *variant, json_object **ret);

/* ---- tables (report.c) ------------------------------------------------------------------------ */

/* Prints the tables of whatever parts o (the merged document, or one part) holds. */
void report_print(FILE *f, json_object *doc);
int report_main(int argc, char **argv);
