/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "daemon/bpf-backend.h"
#include "daemon/log.h"
#include "daemon/methods.h"

int server_drop_handle(struct server *s, uint64_t id) {
        struct handle *h = handle_table_remove(&s->handles, id);
        int fd;

        if (!h)
                return -EBADF;
        if (h->lifetime == LIFETIME_PERSISTENT)
                state_unpin(s, h);
        fd = TAKE_FD(h->fd);
        handle_free(h);
        return fd;
}

struct close_reply_job {
        struct job job;
        struct call *call;
        json_object *params;
        size_t n;
        int fds[];
};

static void close_reply_run(struct job *job) {
        struct close_reply_job *j = (struct close_reply_job *) job;

        close_many(j->fds, j->n);
}

static void close_reply_done(struct job *job) {
        struct close_reply_job *j = (struct close_reply_job *) job;

        call_reply(j->call, j->params);
        free(j);
}

void call_reply_after_close(struct call *c, int *fds, size_t n_fds, json_object *params) {
        struct close_reply_job *j = malloc(sizeof(*j) + n_fds * sizeof(int));

        if (!j) {
                close_many(fds, n_fds);   /* slow on this thread, but nothing leaks */
                call_reply(c, params);
                return;
        }
        *j = (struct close_reply_job) { .job = { .run = close_reply_run, .done = close_reply_done },
                                        .call = c, .params = params, .n = n_fds };
        memcpy(j->fds, fds, n_fds * sizeof(int));
        for (size_t i = 0; i < n_fds; i++)
                fds[i] = -EBADF;
        call_submit(c, &j->job);
}

/* A handed-off link is its holder's; its record only says who holds it. Once the program it
 * came from is released too, nothing here can act on it any more, and the record goes. */
void server_forget_orphans(struct server *s) {
        bool changed = false;

        for (size_t i = 0; i < s->handles.n;) {
                struct handle *h = s->handles.v[i];
                if (h->kind != HANDLE_LINK || h->state != HSTATE_HANDED_OFF ||
                    handle_table_get(&s->handles, h->program)) {
                        i++;
                        continue;
                }
                log_full(LOG_INFO, &(struct log_ctx) { .handle = h->id, .kernel_id = h->kernel_id,
                                                       .function = h->function },
                         "Forgetting handed-off link handle %" PRIu64 " (link id %u, held by uid %u "
                         "pid %d): its program was released", h->id, h->kernel_id,
                         (unsigned) h->holder_uid, (int) h->holder_pid);
                changed |= h->lifetime == LIFETIME_PERSISTENT;
                handle_free(handle_table_remove(&s->handles, h->id));
        }
        if (changed)
                (void) state_save(s);
}

/* A connection is gone: what it owned goes too, links before programs before maps so that each
 * close is the one that really releases the object. */
void server_release_connection(struct server *s, uint64_t conn_id) {
        static const enum handle_kind order[] = { HANDLE_LINK, HANDLE_PROGRAM, HANDLE_MAP };
        _cleanup_free_ int *fds = NULL;
        size_t n = 0, cap = 0, owned = 0;
        struct handle *h;
        bool here;

        HANDLE_TABLE_FOREACH(&s->handles, h, i)
                owned += h->conn_id == conn_id && !h->busy;
        if (owned == 0)
                return;
        /* Without room for the fds, they are closed here: slow on the loop's thread, but nothing
         * stays loaded for a client that is gone. */
        here = GREEDY_REALLOC(fds, cap, owned) < 0;
        for (size_t k = 0; k < ELEMENTSOF(order); k++)
                for (size_t i = 0; i < s->handles.n;) {
                        int fd;
                        h = s->handles.v[i];
                        if (h->conn_id != conn_id || h->kind != order[k] || h->busy) {
                                i++;
                                continue;
                        }
                        log_full(LOG_INFO, &(struct log_ctx) { .handle = h->id, .kernel_id = h->kernel_id,
                                                               .function = h->function },
                                 "Releasing %s handle %" PRIu64 " of a closed connection",
                                 handle_kind_to_string(h->kind), h->id);
                        fd = server_drop_handle(s, h->id);
                        if (here)
                                safe_close(fd);
                        else
                                fds[n++] = fd;
                }
        if (n > 0)
                worker_pool_close_fds(s->pool, fds, n);
        server_forget_orphans(s);
        server_notify_status(s);
}

struct warm_up {
        struct job job;              /* first: the pool hands back this pointer */
        struct server *server;
        struct bb_features features;
};

static void warm_up_run(struct job *j) {
        struct warm_up *w = (struct warm_up *) j;

        (void) bb_check_function("vfs_read", NULL);
        w->features = *bb_features();
}

/* On the loop's thread, the only one that reads server->features. */
static void warm_up_done(struct job *j) {
        struct warm_up *w = (struct warm_up *) j;
        const struct bb_features *f = &w->features;

        w->server->features = *f;
        w->server->have_features = true;
        log_info("Kernel features: fexit %s%s, sleepable fexit %s, fexit arguments %u, module BTF %s.",
                 f->fexit ? "yes" : "refused: ", f->fexit ? "" : strerrorname_np(f->fexit_errno) ?: "?",
                 f->sleepable_fexit ? "yes" : "no", f->max_args, f->module_btf ? "yes" : "no");
        free(w);
}

void server_warm_up(struct server *s) {
        struct warm_up *w = calloc(1, sizeof(*w));

        if (!w)
                return;
        *w = (struct warm_up) { .job = { .run = warm_up_run, .done = warm_up_done }, .server = s };
        worker_pool_submit(s->pool, &w->job);
}
