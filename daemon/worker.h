/* SPDX-License-Identifier: MIT */
#pragma once

/*
 * Slow kernel work (verifier, BTF, trampoline attach, detach on close) runs on a small pool of
 * threads so the event loop keeps answering. A job's run() executes on a worker; its done() then
 * executes on the loop's thread, which alone touches the handle table and the connections.
 */

#include <stdbool.h>
#include <systemd/sd-event.h>

struct job {
        void (*run)(struct job *j);
        void (*done)(struct job *j);   /* owns and frees the job */
        struct job *next;
};

struct worker_pool;

int worker_pool_new(sd_event *e, unsigned n_threads, struct worker_pool **ret);
/* Finishes the jobs already queued, runs their done(), joins the threads. Accepts NULL. */
struct worker_pool *worker_pool_free(struct worker_pool *p);
void worker_pool_submit(struct worker_pool *p, struct job *j);
/* Jobs queued or running (for STATUS= and for a clean shutdown). */
unsigned worker_pool_busy(struct worker_pool *p);
/* worker_pool_free() began: a job submitted from a done() now would never run. */
bool worker_pool_stopping(struct worker_pool *p);

/* A job that only closes fds off the loop: closing the last fd of a tracing link detaches it,
 * which waits for RCU grace periods. Takes ownership of the fds (negative ones are skipped).
 * Then, unless it is NULL, then(userdata) runs on the loop's thread: at once if there was
 * nothing to close, or no memory for the job (the fds are closed here then, slow but correct). */
void worker_pool_close_fds(struct worker_pool *p, int *fds, size_t n, void (*then)(void *userdata),
                           void *userdata);
