/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "daemon/bpf-backend.h"
#include "daemon/log.h"
#include "daemon/release.h"
#include "daemon/state.h"

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

int fd_list_reserve(struct fd_list *l, size_t n) {
        return GREEDY_REALLOC(l->fds, l->cap, n);
}

void fd_list_drop(struct server *s, struct fd_list *l, uint64_t id) {
        const struct handle *h = handle_table_get(&s->handles, id);
        int fd;

        if (!h)
                return;
        l->persistent |= h->lifetime == LIFETIME_PERSISTENT;
        fd = server_drop_handle(s, id);
        if (fd >= 0 && ARRAY_APPEND(l->fds, l->n, l->cap, fd) < 0)
                safe_close(fd);
}

void fd_list_done(struct fd_list *l) {
        close_many(l->fds, l->n);
        free(l->fds);
        *l = (struct fd_list) {};
}

static void reply_closed(void *call) {
        call_reply(call, NULL);
}

/* A persistent handle went: the reply waits for state.json to say so too. */
static void save_then_reply(void *call) {
        struct call *c = call;

        state_save_then(c->server, reply_closed, c);
}

void call_reply_after_close(struct call *c, struct fd_list *l) {
        call_defer(c);
        worker_pool_close_fds(c->server->pool, l->fds, l->n, l->persistent ? save_then_reply : reply_closed, c);
        l->n = 0;
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
        _cleanup_fd_list_ struct fd_list l = {};
        size_t owned = 0;
        struct handle *h;

        HANDLE_TABLE_FOREACH(&s->handles, h, i)
                owned += h->conn_id == conn_id && !h->busy;
        if (owned == 0)
                return;
        /* Without room for the fds, they are closed here: slow on the loop's thread, but nothing
         * stays loaded for a client that is gone. */
        (void) fd_list_reserve(&l, owned);
        for (size_t k = 0; k < ELEMENTSOF(order); k++)
                for (size_t i = 0; i < s->handles.n;) {
                        h = s->handles.v[i];
                        if (h->conn_id != conn_id || h->kind != order[k] || h->busy) {
                                i++;
                                continue;
                        }
                        log_full(LOG_INFO, &(struct log_ctx) { .handle = h->id, .kernel_id = h->kernel_id,
                                                               .function = h->function },
                                 "Releasing %s handle %" PRIu64 " of a closed connection",
                                 handle_kind_to_string(h->kind), h->id);
                        fd_list_drop(s, &l, h->id);
                }
        worker_pool_close_fds(s->pool, l.fds, l.n, NULL, NULL);
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
