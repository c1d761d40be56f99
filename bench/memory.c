/* SPDX-License-Identifier: MIT */

/*
 * Part 5 with links: a fresh daemon, its RSS idle, then with 1, 10, 100 and 1,000 attached links
 * (one program instance each: a tracing program attaches once), added by Loads of at most
 * CHUNK functions so that no single reply's transient JSON dominates. The links go on functions
 * the many-targets part already traces, as second programs on their trampolines, so no function
 * is detached or newly patched here. Per link = the slope between the last two steps: by then
 * every worker thread has done loads (glibc gives each its own arena) and the one-time costs
 * of a first load (the BTF name index, libbpf's caches) are in both.
 */

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bench/bench.h"
#include "common/macro.h"

#define CHUNK 100

static int add_links(struct bench_daemon *d, const char *object_path, const char *const *names,
                     size_t n, double *ret_ms) {
        _cleanup_free_ char *params = load_params_functions(names, n, true);
        struct bconn c = { .fd = -EBADF };
        const char *error = NULL;
        int r = bconn_open(d->socket, &c);

        if (r >= 0)
                r = fexitd_load(&c, object_path, params, ret_ms, NULL, &error);
        if (r >= 0 && error) {
                fprintf(stderr, "fexitd-bench: memory: %.300s\n", c.buf);
                r = -EIO;
        }
        if (r < 0)
                bconn_close(&c);
        return r;   /* c stays open on purpose: its links must stay */
}

/* A List of everything: its reply is the largest thing the daemon builds per handle. */
static void list_all(struct bench_daemon *d) {
        struct bconn c = { .fd = -EBADF };
        json_object *reply = NULL;
        const char *error;

        if (bconn_open(d->socket, &c) >= 0)
                (void) bconn_call(&c, "io.fexitd.List", NULL, NULL, 0, &reply, &error);
        vl_put(reply);
        bconn_close(&c);
}

int memory_run(const char *object_path, struct func_pool *pool, const size_t *steps, size_t n_steps,
               const char *variant, json_object **ret) {
        json_object *o = json_object_new_object(), *rows = json_object_new_array(), *m;
        struct bench_daemon d = {};
        size_t have = 0;
        long first = -1, last = -1, first_plain = -1, last_plain = -1, idle = -1;
        size_t first_links = 0, last_links = 0;
        char label[64];
        int r;

        /* nothing else runs in this process now: the daemon inherits exactly this environment */
        if (variant)
                putenv((char *) variant);
        r = bench_daemon_start(&d);
        if (variant)
                unsetenv(strndupa(variant, strcspn(variant, "=")));
        if (r < 0)
                return r;
        json_object_array_add(rows, bench_daemon_memory(&d, "idle (a second, fresh daemon)", &idle));
        last = last_plain = idle;
        for (size_t i = 0; i < n_steps && steps[i] <= pool->n && r >= 0; i++) {
                long prev = last, prev_plain = last_plain;
                size_t prev_links = have;
                double ms = 0, t;

                while (have < steps[i] && r >= 0) {
                        size_t k = steps[i] - have < CHUNK ? steps[i] - have : CHUNK;
                        r = add_links(&d, object_path, (const char *const *) pool->names + have, k, &t);
                        have += r >= 0 ? k : 0;
                        ms += t;
                }
                if (r < 0)
                        break;
                snprintf(label, sizeof(label), "%zu links", have);
                m = bench_daemon_memory(&d, label, &last_plain);
                json_object_object_add(m, "load_ms", json_object_new_double(ms));
                json_object_array_add(rows, m);
                list_all(&d);
                snprintf(label, sizeof(label), "%zu links, after a List", have);
                json_object_array_add(rows, bench_daemon_memory(&d, label, &last));
                first = prev;                  /* the slope is taken over the last two steps */
                first_plain = prev_plain;
                first_links = prev_links;
                last_links = have;
                fprintf(stderr, "fexitd-bench: memory: %zu links, RSS %ld KiB\n", have, last);
        }
        json_object_object_add(o, "rows", rows);
        if (last_links > first_links && first > 0) {
                json_object_object_add(o, "per_link_kib", json_object_new_double(
                        (double) (last - first) / (double) (last_links - first_links)));
                json_object_object_add(o, "per_link_kib_plain", json_object_new_double(
                        (double) (last_plain - first_plain) / (double) (last_links - first_links)));
                json_object_object_add(o, "slope_from_links", json_object_new_int64((int64_t) first_links));
                json_object_object_add(o, "per_link_kib_from_idle", json_object_new_double(
                        (double) (last - idle) / (double) last_links));
        }
        json_object_object_add(o, "links", json_object_new_int64((int64_t) last_links));
        json_object_object_add(o, "malloc", json_object_new_string(variant ? variant : "glibc defaults"));
        /* the daemon is not stopped: its exit would detach every link, one grace period each */
        *ret = o;
        return r < 0 ? r : 0;
}
