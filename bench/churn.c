/* SPDX-License-Identifier: MIT */

/*
 * Part 2's background: one client that loads, attaches and detaches without pause, so that the
 * daemon's workers are always in the verifier, in libbpf's BTF parsing, in a trampoline attach or
 * in a detach's RCU wait while the latency clients call GetInfo and List.
 */

#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bench/bench.h"

struct churn {
        pthread_t thread;
        const char *socket, *object_path;
        atomic_bool stop;
        struct samples load, unload;
        unsigned errors;
        char first_error[256];
        uint64_t t0, t1;
};

static void churn_error(struct churn *c, const char *what, const char *error, int r) {
        if (c->errors++ == 0)
                snprintf(c->first_error, sizeof(c->first_error), "%s: %s", what,
                         error ? error : strerror(-r));
}

/* Load with attach, then Unload, which answers once the link is detached and the fds closed. */
static void churn_cycle(struct churn *c, struct bconn *conn) {
        json_object *reply = NULL, *r2 = NULL;
        const char *error = NULL;
        char params[64];
        double ms;
        uint64_t t;
        int64_t prog;
        int r;

        r = fexitd_load(conn, c->object_path, NULL, &ms, &reply, &error);
        if (r < 0 || error) {
                churn_error(c, "Load", error, r);
                vl_put(reply);
                return;
        }
        (void) samples_add(&c->load, (uint64_t) (ms * 1e6));
        prog = load_reply_program(reply);
        vl_put(reply);
        snprintf(params, sizeof(params), "{\"handle\":%lld}", (long long) prog);
        t = now_ns();
        r = bconn_call(conn, "io.fexitd.Unload", params, NULL, 0, &r2, &error);
        if (r < 0 || error)
                churn_error(c, "Unload", error, r);
        else
                (void) samples_add(&c->unload, now_ns() - t);
        vl_put(r2);
}

static void *churn_main(void *arg) {
        struct churn *c = arg;
        struct bconn conn = { .fd = -EBADF };
        int r = bconn_open(c->socket, &conn);

        if (r < 0)
                churn_error(c, "connect", NULL, r);
        c->t0 = now_ns();
        while (r >= 0 && !atomic_load(&c->stop))
                churn_cycle(c, &conn);
        c->t1 = now_ns();
        bconn_close(&conn);
        return NULL;
}

int churn_start(const char *socket, const char *object_path, struct churn **ret) {
        struct churn *c = calloc(1, sizeof(*c));

        if (!c)
                return -ENOMEM;
        c->socket = socket;
        c->object_path = object_path;
        if (pthread_create(&c->thread, NULL, churn_main, c) != 0) {
                free(c);
                return -EAGAIN;
        }
        *ret = c;
        return 0;
}

static json_object *ms_stats(struct samples *s) {
        json_object *o = json_object_new_object();

        json_object_object_add(o, "n", json_object_new_int64((int64_t) s->n));
        json_object_object_add(o, "p50_ms", json_object_new_double((double) samples_percentile(s, 50) / 1e6));
        json_object_object_add(o, "max_ms", json_object_new_double(s->n ? (double) s->v[s->n - 1] / 1e6 : 0));
        return o;
}

json_object *churn_stop(struct churn *c) {
        json_object *o = json_object_new_object();

        atomic_store(&c->stop, true);
        pthread_join(c->thread, NULL);
        json_object_object_add(o, "cycles", json_object_new_int64((int64_t) c->unload.n));
        json_object_object_add(o, "seconds", json_object_new_double((double) (c->t1 - c->t0) / 1e9));
        json_object_object_add(o, "load_attach", ms_stats(&c->load));
        json_object_object_add(o, "unload", ms_stats(&c->unload));
        json_object_object_add(o, "errors", json_object_new_int((int) c->errors));
        if (c->errors)
                json_object_object_add(o, "first_error", json_object_new_string(c->first_error));
        samples_done(&c->load);
        samples_done(&c->unload);
        free(c);
        return o;
}
