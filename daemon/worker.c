/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>

#include "common/macro.h"
#include "daemon/log.h"
#include "daemon/worker.h"

#define THREADS_MAX 64

struct worker_pool {
        pthread_mutex_t lock;
        pthread_cond_t cond;
        struct job *todo_head, *todo_tail;
        struct job *done_head, *done_tail;
        unsigned busy;
        bool stopping;
        int efd;
        sd_event_source *src;
        pthread_t threads[THREADS_MAX];
        unsigned n_threads;
};

static void push(struct job **head, struct job **tail, struct job *j) {
        j->next = NULL;
        if (*tail)
                (*tail)->next = j;
        else
                *head = j;
        *tail = j;
}

static struct job *pop(struct job **head, struct job **tail) {
        struct job *j = *head;

        if (j) {
                *head = j->next;
                if (!*head)
                        *tail = NULL;
        }
        return j;
}

static void *worker_main(void *arg) {
        struct worker_pool *p = arg;

        pthread_mutex_lock(&p->lock);
        for (;;) {
                struct job *j = pop(&p->todo_head, &p->todo_tail);
                if (!j) {
                        if (p->stopping)
                                break;
                        pthread_cond_wait(&p->cond, &p->lock);
                        continue;
                }
                pthread_mutex_unlock(&p->lock);
                j->run(j);
                pthread_mutex_lock(&p->lock);
                push(&p->done_head, &p->done_tail, j);
                (void) eventfd_write(p->efd, 1);
        }
        pthread_mutex_unlock(&p->lock);
        return NULL;
}

/* Runs done() of every finished job, on the loop's thread. */
static void drain(struct worker_pool *p) {
        struct job *list;

        pthread_mutex_lock(&p->lock);
        list = p->done_head;
        p->done_head = p->done_tail = NULL;
        pthread_mutex_unlock(&p->lock);
        while (list) {
                struct job *j = list;
                list = j->next;
                pthread_mutex_lock(&p->lock);
                p->busy--;
                pthread_mutex_unlock(&p->lock);
                j->done(j);
        }
}

static int on_eventfd(sd_event_source *s, int fd, uint32_t revents, void *userdata) {
        eventfd_t v;

        (void) eventfd_read(fd, &v);
        drain(userdata);
        return 0;
}

int worker_pool_new(sd_event *e, unsigned n_threads, struct worker_pool **ret) {
        struct worker_pool *p;
        int r;

        if (n_threads == 0 || n_threads > THREADS_MAX)
                return -EINVAL;
        p = calloc(1, sizeof(*p));
        if (!p)
                return -ENOMEM;
        pthread_mutex_init(&p->lock, NULL);
        pthread_cond_init(&p->cond, NULL);
        p->efd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
        if (p->efd < 0) {
                r = -errno;
                free(p);
                return r;
        }
        r = sd_event_add_io(e, &p->src, p->efd, EPOLLIN, on_eventfd, p);
        if (r < 0) {
                worker_pool_free(p);
                return r;
        }
        for (; p->n_threads < n_threads; p->n_threads++) {
                r = -pthread_create(&p->threads[p->n_threads], NULL, worker_main, p);
                if (r < 0) {
                        worker_pool_free(p);
                        return r;
                }
        }
        *ret = p;
        return 0;
}

struct worker_pool *worker_pool_free(struct worker_pool *p) {
        if (!p)
                return NULL;
        pthread_mutex_lock(&p->lock);
        p->stopping = true;
        pthread_cond_broadcast(&p->cond);
        pthread_mutex_unlock(&p->lock);
        for (unsigned i = 0; i < p->n_threads; i++)
                pthread_join(p->threads[i], NULL);
        drain(p);
        sd_event_source_disable_unref(p->src);
        safe_close(p->efd);
        pthread_cond_destroy(&p->cond);
        pthread_mutex_destroy(&p->lock);
        free(p);
        return NULL;
}

void worker_pool_submit(struct worker_pool *p, struct job *j) {
        pthread_mutex_lock(&p->lock);
        p->busy++;
        push(&p->todo_head, &p->todo_tail, j);
        pthread_cond_signal(&p->cond);
        pthread_mutex_unlock(&p->lock);
}

bool worker_pool_stopping(struct worker_pool *p) {
        bool r;

        pthread_mutex_lock(&p->lock);
        r = p->stopping;
        pthread_mutex_unlock(&p->lock);
        return r;
}

unsigned worker_pool_busy(struct worker_pool *p) {
        unsigned n;

        pthread_mutex_lock(&p->lock);
        n = p->busy;
        pthread_mutex_unlock(&p->lock);
        return n;
}

struct close_job {
        struct job job;
        void (*then)(void *userdata);
        void *userdata;
        size_t n;
        int fds[];
};

static void close_run(struct job *j) {
        struct close_job *c = (struct close_job *) j;

        close_many(c->fds, c->n);
}

static void close_done(struct job *j) {
        struct close_job *c = (struct close_job *) j;

        if (c->then)
                c->then(c->userdata);
        free(c);
}

void worker_pool_close_fds(struct worker_pool *p, int *fds, size_t n, void (*then)(void *userdata),
                           void *userdata) {
        struct close_job *c;
        size_t k = 0;

        for (size_t i = 0; i < n; i++)
                k += fds[i] >= 0;
        c = k > 0 ? malloc(sizeof(*c) + k * sizeof(int)) : NULL;
        if (!c) {
                /* nothing to close, or out of memory: closing here is slow but correct */
                close_many(fds, n);
                if (then)
                        then(userdata);
                return;
        }
        *c = (struct close_job) { .job = { .run = close_run, .done = close_done }, .then = then,
                                  .userdata = userdata };
        for (size_t i = 0; i < n; i++)
                if (fds[i] >= 0)
                        c->fds[c->n++] = TAKE_FD(fds[i]);
        worker_pool_submit(p, &c->job);
}
