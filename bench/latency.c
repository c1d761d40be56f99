/* SPDX-License-Identifier: MIT */

/*
 * Parts 1 and 2: control-call latency. Every client is a thread with its own connection that
 * sends prebuilt request bytes and waits for the reply's NUL (bconn_roundtrip), timing each call.
 * The echo floor is measured with the same threads and the same bytes, in the same run, and the
 * targets take turns within each round so that a noisy neighbour hurts them alike.
 */

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bench/bench.h"
#include "common/macro.h"

#define LEVELS_MAX 8

static const struct target {
        const char *name;
        const char *request;             /* NUL included by sizeof */
        size_t size;
} targets[] = {
#define REQ(s) s, sizeof(s)
        { "echo", REQ("{\"method\":\"org.varlink.service.GetInfo\",\"parameters\":{}}") },
        { "GetInfo", REQ("{\"method\":\"org.varlink.service.GetInfo\",\"parameters\":{}}") },
        { "List", REQ("{\"method\":\"io.fexitd.List\",\"parameters\":{}}") },
#undef REQ
};

struct client {
        pthread_t thread;
        const char *socket;
        const struct target *target;
        size_t warmup, count;
        pthread_barrier_t *start;
        struct samples s;
        uint64_t t0, t1;
        size_t reply_bytes;
        int r;
};

static bool is_error_reply(const struct bconn *c) {
        return memmem(c->buf, c->len < 32 ? c->len : 32, "\"error\"", 7) != NULL;
}

static void *client_main(void *arg) {
        struct client *cl = arg;
        struct bconn c = { .fd = -EBADF };
        int r = bconn_open(cl->socket, &c);

        for (size_t i = 0; r >= 0 && i < cl->warmup; i++)
                r = bconn_roundtrip(&c, cl->target->request, cl->target->size, NULL, 0, NULL, NULL);
        if (r >= 0 && cl->warmup > 0 && is_error_reply(&c))
                r = -EPROTO;
        pthread_barrier_wait(cl->start);   /* everyone connected and warm: go */
        cl->t0 = now_ns();
        for (size_t i = 0; r >= 0 && i < cl->count; i++) {
                uint64_t t = now_ns();
                r = bconn_roundtrip(&c, cl->target->request, cl->target->size, NULL, 0, NULL, NULL);
                if (r >= 0 && is_error_reply(&c))
                        r = -EPROTO;
                if (r >= 0)
                        r = samples_add(&cl->s, now_ns() - t);
        }
        cl->t1 = now_ns();
        cl->reply_bytes = c.len;
        cl->r = r < 0 ? r : 0;
        bconn_close(&c);
        return NULL;
}

/* One measurement: n clients, count calls in all, samples appended to out. */
static int measure(const char *socket, const struct target *t, unsigned n, size_t count, size_t warmup,
                   pid_t server, struct samples *out, double *wall_s, size_t *reply_bytes,
                   double *server_cpu_s) {
        struct client *cl = calloc(n, sizeof(*cl));
        pthread_barrier_t start;
        uint64_t t0 = UINT64_MAX, t1 = 0, cpu0 = proc_main_thread_cpu_ns(server);
        int r = 0;

        if (!cl)
                return -ENOMEM;
        pthread_barrier_init(&start, NULL, n);
        for (unsigned i = 0; i < n; i++) {
                cl[i] = (struct client) { .socket = socket, .target = t, .warmup = warmup,
                                          .count = count / n + (i < count % n), .start = &start };
                if (pthread_create(&cl[i].thread, NULL, client_main, &cl[i]) != 0)
                        abort();   /* the barrier would wait forever: nothing sensible to do */
        }
        for (unsigned i = 0; i < n; i++) {
                pthread_join(cl[i].thread, NULL);
                if (cl[i].r < 0 && r == 0)
                        r = cl[i].r;
                if (r == 0)
                        r = samples_append(out, &cl[i].s);
                t0 = cl[i].t0 < t0 ? cl[i].t0 : t0;
                t1 = cl[i].t1 > t1 ? cl[i].t1 : t1;
                *reply_bytes = cl[i].reply_bytes;
                samples_done(&cl[i].s);
        }
        pthread_barrier_destroy(&start);
        free(cl);
        *wall_s += (double) (t1 - t0) / 1e9;
        /* warm-up calls included: they are few, and the loop does the same work for them */
        *server_cpu_s += (double) (proc_main_thread_cpu_ns(server) - cpu0) / 1e9 /
                         (double) (count + warmup * n) * (double) count;
        return r;
}

static json_object *row(unsigned clients, const struct target *t, struct samples *s, double wall_s,
                        size_t reply_bytes, double cpu_s) {
        json_object *o = samples_to_json(s);

        json_object_object_add(o, "clients", json_object_new_int((int) clients));
        json_object_object_add(o, "target", json_object_new_string(t->name));
        json_object_object_add(o, "request_bytes", json_object_new_int((int) t->size));
        json_object_object_add(o, "reply_bytes", json_object_new_int((int) reply_bytes));
        json_object_object_add(o, "calls_per_s",
                               json_object_new_double(wall_s > 0 ? (double) s->n / wall_s : 0));
        /* the server loop's own CPU time per call (its main thread, from schedstat) */
        json_object_object_add(o, "server_cpu_us",
                               json_object_new_double(s->n ? cpu_s * 1e6 / (double) s->n : 0));
        return o;
}

struct latency_acc {
        struct latency_opts o;
        struct samples s[LEVELS_MAX][ELEMENTSOF(targets)];
        double wall[LEVELS_MAX][ELEMENTSOF(targets)], cpu[LEVELS_MAX][ELEMENTSOF(targets)];
        size_t bytes[LEVELS_MAX][ELEMENTSOF(targets)];
};

int latency_acc_new(const struct latency_opts *o, struct latency_acc **ret) {
        struct latency_acc *a;

        if (o->n_clients > LEVELS_MAX)
                return -EINVAL;
        a = calloc(1, sizeof(*a));
        if (!a)
                return -ENOMEM;
        a->o = *o;
        *ret = a;
        return 0;
}

struct latency_acc *latency_acc_free(struct latency_acc *a) {
        if (!a)
                return NULL;
        for (size_t l = 0; l < LEVELS_MAX; l++)
                for (size_t t = 0; t < ELEMENTSOF(targets); t++)
                        samples_done(&a->s[l][t]);
        free(a);
        return NULL;
}

int latency_round(struct latency_acc *a) {
        const struct latency_opts *o = &a->o;
        int r = 0;

        for (size_t l = 0; r >= 0 && l < o->n_clients; l++)
                for (size_t t = 0; r >= 0 && t < ELEMENTSOF(targets); t++) {
                        const char *sock = t == 0 ? o->echo_socket : o->daemon_socket;
                        if (!sock)
                                continue;
                        r = measure(sock, &targets[t], o->clients[l], o->samples, o->warmup,
                                    t == 0 ? o->echo_pid : o->daemon_pid, &a->s[l][t], &a->wall[l][t],
                                    &a->bytes[l][t], &a->cpu[l][t]);
                        if (r < 0)
                                fprintf(stderr, "fexitd-bench: %s with %u clients: %s\n",
                                        targets[t].name, o->clients[l], strerror(-r));
                }
        return r;
}

json_object *latency_acc_rows(struct latency_acc *a) {
        json_object *rows = json_object_new_array();

        for (size_t l = 0; l < a->o.n_clients; l++)
                for (size_t t = 0; t < ELEMENTSOF(targets); t++)
                        if (a->s[l][t].n > 0)
                                json_object_array_add(rows, row(a->o.clients[l], &targets[t], &a->s[l][t],
                                                                a->wall[l][t], a->bytes[l][t], a->cpu[l][t]));
        return rows;
}
