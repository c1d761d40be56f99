/* SPDX-License-Identifier: MIT */

/* The daemon under test: the real fexitd on temporary dirs, started and stopped by the integration
 * tier's helper (tests/integration/daemon-helper.c; $FEXITD_BIN picks the binary). */

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "bench/bench.h"
#include "daemon-helper.h"

int bench_daemon_start(struct bench_daemon *d) {
        return bench_daemon_start_args(d, NULL);
}

int bench_daemon_start_args(struct bench_daemon *d, const char *const *extra_args) {
        struct test_daemon *t = calloc(1, sizeof(*t));
        int r;

        if (!t)
                return -ENOMEM;
        r = test_daemon_start(t, extra_args);
        if (r < 0) {
                test_daemon_stop(t);
                free(t);
                return r;
        }
        *d = (struct bench_daemon) { .pid = t->pid, .priv = t };
        snprintf(d->socket, sizeof(d->socket), "%s", t->socket);
        if (t->bpffs)
                snprintf(d->pin_dir, sizeof(d->pin_dir), "%s", t->pin_dir);
        return 0;
}

void bench_daemon_stop(struct bench_daemon *d) {
        if (!d->priv)
                return;
        test_daemon_stop(d->priv);
        free(d->priv);
        d->priv = NULL;
        d->pid = 0;
}

/* Waits (at most 60 s) until no kernel job runs (Status.jobs == 0: the BTF warm-up at start, the
 * closes after a release), so that RSS is read between jobs, not during one. */
static json_object *status_when_quiet(struct bconn *c) {
        json_object *reply = NULL;
        const char *error;

        for (int i = 0; i < 600; i++) {
                vl_put(reply);
                reply = NULL;
                if (bconn_call(c, "io.fexitd.Status", NULL, NULL, 0, &reply, &error) < 0 || error)
                        break;
                if (json_num(reply, "jobs", 0) == 0)
                        return reply;
                usleep(100000);
        }
        return reply;
}

json_object *bench_daemon_memory(struct bench_daemon *d, const char *label, long *ret_rss) {
        json_object *o = json_object_new_object(), *reply = NULL;
        struct bconn c = { .fd = -EBADF };
        long rss = -1, anon = -1, heap, maps, file;

        json_object_object_add(o, "label", json_object_new_string(label));
        if (bconn_open(d->socket, &c) >= 0)
                reply = status_when_quiet(&c);
        (void) proc_rss_kib(d->pid, &rss, &anon);
        if (proc_rss_breakdown(d->pid, &heap, &maps, &file) >= 0) {
                json_object_object_add(o, "heap_kib", json_object_new_int64(heap));
                json_object_object_add(o, "anon_maps_kib", json_object_new_int64(maps));
                json_object_object_add(o, "file_kib", json_object_new_int64(file));
        }
        bconn_close(&c);
        json_object_object_add(o, "links", json_object_new_int64((int64_t) json_num(reply, "links", -1)));
        json_object_object_add(o, "programs", json_object_new_int64((int64_t) json_num(reply, "programs", -1)));
        json_object_object_add(o, "rss_kib", json_object_new_int64(rss));
        json_object_object_add(o, "rss_anon_kib", json_object_new_int64(anon));
        vl_put(reply);
        if (ret_rss)
                *ret_rss = rss;
        return o;
}
