/* SPDX-License-Identifier: MIT */

/*
 * Writing state.json. A write fsyncs the file and its folder (8-12 ms): Detach, Unload and
 * TakeLink of persistent handles hand it to a worker and reply once it is on disk, so the loop
 * serves everyone else meanwhile. Every write is a snapshot of the whole table, numbered when it
 * is taken on the loop. One write job at a time; a snapshot taken while one is out waits as
 * "next", and a newer one replaces it (latest wins: the newer covers its waiters). The file lock
 * orders these jobs with the synchronous state_save() of the other verbs, and a snapshot older
 * than the file is never written.
 */

#include <errno.h>
#include <pthread.h>
#include <stdlib.h>

#include "daemon/log.h"
#include "daemon/state.h"

struct state_waiter {
        uint64_t snapshot;           /* replied once this one is on disk */
        void (*then)(void *userdata);
        void *userdata;
        struct state_waiter *next;
};

struct state_writer {
        pthread_mutex_t lock;        /* held while the file is written, on either thread */
        uint64_t written;            /* under lock: the newest snapshot written (or tried) */
        /* the rest only on the loop's thread */
        uint64_t taken;              /* the newest snapshot taken */
        uint64_t done;               /* every snapshot up to this one is written (or tried) */
        bool out;                    /* a write job is queued or running */
        char *next;                  /* the newest snapshot not handed to a job yet */
        uint64_t next_snapshot;
        struct state_waiter *waiters, **waiters_tail;
};

struct state_job {
        struct job job;
        struct server *server;
        char *text;
        uint64_t snapshot;
};

static struct state_writer *writer_get(struct server *s) {
        struct state_writer *w = s->state_writer;

        if (w)
                return w;
        w = calloc(1, sizeof(*w));
        if (!w)
                return NULL;
        pthread_mutex_init(&w->lock, NULL);
        w->waiters_tail = &w->waiters;
        return s->state_writer = w;
}

/* Writes snapshot n unless a newer one is in the file already. */
static int writer_write(struct state_writer *w, const char *dir, const char *text, uint64_t n) {
        int r = 0;

        pthread_mutex_lock(&w->lock);
        if (n > w->written) {
                r = state_write_file(dir, text);
                w->written = n;
        }
        pthread_mutex_unlock(&w->lock);
        return r;
}

/* Snapshots up to n are written: their waiters get their reply, in the order they came. */
static void writer_done(struct state_writer *w, uint64_t n) {
        struct state_waiter *ready = NULL, **tail = &ready;

        if (n > w->done)
                w->done = n;
        if (w->next && w->next_snapshot <= w->done) {
                free(w->next);
                w->next = NULL;
        }
        while (w->waiters && w->waiters->snapshot <= w->done) {
                *tail = w->waiters;
                w->waiters = w->waiters->next;
                tail = &(*tail)->next;
        }
        *tail = NULL;
        if (!w->waiters)
                w->waiters_tail = &w->waiters;
        /* a reply may start the next call, which may wait here itself: the list is ours now */
        while (ready) {
                struct state_waiter *x = ready;
                ready = x->next;
                x->then(x->userdata);
                free(x);
        }
}

static void save_run(struct job *job) {
        struct state_job *j = (struct state_job *) job;

        (void) writer_write(j->server->state_writer, j->server->cfg.state_dir, j->text, j->snapshot);
}

static void writer_send_next(struct server *s);

static void save_done(struct job *job) {
        struct state_job *j = (struct state_job *) job;
        struct server *s = j->server;

        s->state_writer->out = false;
        writer_done(s->state_writer, j->snapshot);
        free(j->text);
        free(j);
        writer_send_next(s);
}

/* Hands the next snapshot to a job, or writes it here if there is no memory for one or the
 * daemon is stopping (the pool would never run it). */
static void writer_send_next(struct server *s) {
        struct state_writer *w = s->state_writer;
        struct state_job *j;

        if (w->out || !w->next)
                return;
        j = worker_pool_stopping(s->pool) ? NULL : malloc(sizeof(*j));
        if (!j) {
                uint64_t n = w->next_snapshot;
                (void) writer_write(w, s->cfg.state_dir, w->next, n);
                writer_done(w, n);
                return;
        }
        *j = (struct state_job) { .job = { .run = save_run, .done = save_done }, .server = s,
                                  .text = TAKE_PTR(w->next), .snapshot = w->next_snapshot };
        w->out = true;
        worker_pool_submit(s->pool, &j->job);
}

int state_save(struct server *s) {
        struct state_writer *w = writer_get(s);
        _cleanup_free_ char *text = state_snapshot(s);
        uint64_t n;
        int r;

        if (!text)
                return -ENOMEM;
        if (!w)
                return state_write_file(s->cfg.state_dir, text);
        n = ++w->taken;
        r = writer_write(w, s->cfg.state_dir, text, n);
        writer_done(w, n);
        return r;
}

void state_save_then(struct server *s, void (*then)(void *userdata), void *userdata) {
        struct state_writer *w = writer_get(s);
        struct state_waiter *x = w ? malloc(sizeof(*x)) : NULL;
        char *text;

        if (!x) {   /* out of memory: the write happens here, on the loop, as it used to */
                (void) state_save(s);
                then(userdata);
                return;
        }
        text = state_snapshot(s);
        if (!text) {   /* logged: like a failed write, it does not hold the reply back */
                free(x);
                then(userdata);
                return;
        }
        free(w->next);
        w->next = text;
        w->next_snapshot = ++w->taken;
        *x = (struct state_waiter) { .snapshot = w->next_snapshot, .then = then, .userdata = userdata };
        *w->waiters_tail = x;
        w->waiters_tail = &x->next;
        writer_send_next(s);
}

struct state_writer *state_writer_free(struct state_writer *w) {
        if (!w)
                return NULL;
        /* the pool is gone, its jobs done: no waiter is left, nor a snapshot to write */
        free(w->next);
        while (w->waiters) {
                struct state_waiter *x = w->waiters;
                w->waiters = x->next;
                free(x);
        }
        pthread_mutex_destroy(&w->lock);
        free(w);
        return NULL;
}
