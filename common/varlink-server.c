/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <syslog.h>
#include <time.h>
#include <unistd.h>

#include "common/macro.h"
#include "common/varlink-server-internal.h"

static void conn_process(struct vl_conn *c);

/* One line for the application's log. */
void vl_server_log(const struct vl_server *s, int priority, const struct peer *peer, const char *method,
                   const char *fmt, ...) {
        va_list ap;

        if (!s->cfg.ops->log)
                return;
        va_start(ap, fmt);
        s->cfg.ops->log(priority, peer, method, fmt, ap);
        va_end(ap);
}

static enum role peer_role(const struct vl_server *s, const struct peer *p) {
        return s->cfg.ops->peer_role ? s->cfg.ops->peer_role(s->cfg.app, p) : ROLE_CONSUMER;
}

static int peer_read(const struct vl_server *s, int fd, struct peer *ret) {
        struct ucred cred;
        socklen_t len = sizeof(cred);
        struct peer p = {};

        if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) < 0)
                return -errno;
        p.uid = cred.uid;
        p.gid = cred.gid;
        p.pid = cred.pid;
        len = sizeof(p.groups);
        if (getsockopt(fd, SOL_SOCKET, SO_PEERGROUPS, p.groups, &len) < 0)
                len = 0;   /* more than PEER_GROUPS_MAX groups: judge by the primary group alone */
        p.n_groups = len / sizeof(gid_t);
        p.role = peer_role(s, &p);
        *ret = p;
        return 0;
}

void vl_server_refresh_roles(struct vl_server *s) {
        for (struct vl_conn *c = s->conns; c; c = c->next)
                c->peer.role = peer_role(s, &c->peer);
}

uint64_t vl_server_now(struct vl_server *s) {
        uint64_t t;

        if (sd_event_now(s->event, CLOCK_MONOTONIC, &t) < 0)
                t = now_usec(CLOCK_MONOTONIC);
        return t;
}

/* A connection takes its next call once the last is answered and its replies are read, but
 * for conn_queue bytes: a reply not yet read holds back the next call, as the socket holds
 * back the client. A closing connection takes none. */
static bool conn_may_take_call(struct vl_conn *c) {
        return !c->pending && !c->closing && vl_io_out_pending(&c->io) < c->server->cfg.limits.conn_queue;
}

/* The loop watches for input only while the connection may take a new call, so a busy or
 * flooding client is held back by the socket buffer instead of our memory. The deadlines run
 * while the client owes us the rest of a message, or we wait for it to read. */
static void conn_update_events(struct vl_conn *c) {
        uint64_t now = vl_server_now(c->server);
        uint32_t ev = 0;

        if (conn_may_take_call(c) && !vl_io_has_message(&c->io))
                ev |= EPOLLIN;
        if (vl_io_want_write(&c->io))
                ev |= EPOLLOUT;
        if (!(ev & EPOLLIN) || c->io.in_len == 0)
                c->in_since = 0;
        else if (!c->in_since)
                c->in_since = now;
        if (!(ev & EPOLLOUT))
                c->out_since = 0;
        else if (!c->out_since)
                c->out_since = now;
        if (ev != c->events) {
                struct epoll_event e = { .events = ev, .data.ptr = c };
                if (epoll_ctl(c->server->epoll_fd, EPOLL_CTL_MOD, c->io.fd, &e) >= 0)
                        c->events = ev;
        }
}

void vl_conn_send(struct vl_conn *c, char *text, int *fds, size_t n_fds) {
        const char *out;
        int r;

        if (!text) {
                close_many(fds, n_fds);
                n_fds = 0;
        }
        /* the reply could not be built (vl_format_*() failed): an error, never silence, and
         * never a reply with something left out */
        out = text ? text : c->server->reply_enomem;
        r = vl_io_queue(&c->io, out, strlen(out), fds, n_fds);
        free(text);
        if (r < 0) {
                /* The client would wait for this reply forever, and the next one would answer
                 * the wrong call: hang up (the loop sees the EOF and frees the connection). */
                vl_server_log(c->server, LOG_WARNING, NULL, NULL, "Dropping a reply to connection %" PRIu64
                       " and hanging up: %s", c->id, strerror(-r));
                (void) shutdown(c->io.fd, SHUT_RDWR);
        }
}

/* The client broke the protocol: what follows the bad message is discarded unanswered; the
 * calls before it are still answered, then the error goes out and the connection closes
 * (conn_process). The reply deadline bounds how long that may take. */
static void conn_protocol_error(struct vl_conn *c, const char *error, json_object *params) {
        vl_server_log(c->server, LOG_NOTICE, &c->peer, NULL, "Disconnecting client: %s", error);
        vl_io_drop_input(&c->io);
        c->closing = true;
        free(c->goodbye);
        c->goodbye = vl_format_error(error, params);
}

void vl_conn_protocol_error_reason(struct vl_conn *c, const char *error, const char *reason) {
        json_object *p = vl_obj();

        vl_add_str(p, "reason", reason);
        conn_protocol_error(c, error, p);
}

/* The connection goes on with its next call from the deferred source, unless its own turn is
 * running (conn_process() loops for a reply given during it). */
void vl_conn_schedule(struct vl_conn *c) {
        struct vl_server *s = c->server;

        if (c->in_process || c->scheduled)
                return;
        c->scheduled = true;
        c->sched_next = s->sched_head;
        s->sched_head = c;
        (void) sd_event_source_set_enabled(s->defer_src, SD_EVENT_ONESHOT);
}

static void conn_unschedule(struct vl_conn *c) {
        if (!c->scheduled)
                return;
        for (struct vl_conn **p = &c->server->sched_head; *p; p = &(*p)->sched_next)
                if (*p == c) {
                        *p = c->sched_next;
                        break;
                }
        c->scheduled = false;
}

static int on_defer(sd_event_source *src, void *userdata) {
        struct vl_server *s = userdata;
        struct vl_conn *c;

        while ((c = s->sched_head)) {
                s->sched_head = c->sched_next;
                c->scheduled = false;
                conn_process(c);
        }
        return 0;
}

/* Takes the buffered calls the connection may. Returns < 0 if the connection was freed. */
static int conn_take_calls(struct vl_conn *c) {
        int fds[VL_FDS_MAX];
        size_t n_fds;
        char *text;
        int r;

        while (conn_may_take_call(c)) {
                r = vl_io_next(&c->io, &text, fds, &n_fds);
                if (r == 0)
                        break;
                if (r < 0) {
                        json_object *p = vl_obj();
                        vl_add_str(p, "limit", "message size");
                        vl_add_int(p, "max", (int64_t) c->io.max_in);
                        conn_protocol_error(c, c->server->cfg.errors.limit, p);
                        break;
                }
                r = vl_conn_handle_message(c, text, fds, n_fds);
                free(text);
                if (r < 0)
                        return r;
        }
        return 0;
}

/* A closing connection ends once the pending call is answered and everything owed is sent. */
static bool conn_done(struct vl_conn *c) {
        if (!c->closing || c->pending)
                return false;
        if (c->goodbye)
                vl_conn_send(c, TAKE_PTR(c->goodbye), NULL, 0);
        return !vl_io_want_write(&c->io);
}

/* The connection's state machine: take the calls it may, flush what can be sent, again while
 * sending made room for a call already buffered (nothing else would wake us for it), then
 * watch for what is needed next. Replies given synchronously come back here through
 * call_finish(), which the in_process flag turns into another turn of this loop instead of a
 * recursion. */
static void conn_process(struct vl_conn *c) {
        int r;

        if (c->in_process)
                return;
        c->in_process = true;
        do {
                if (conn_take_calls(c) < 0)
                        return;
                conn_done(c);
                r = vl_io_write(&c->io);
                if (r > 0)
                        c->out_since = vl_server_now(c->server);
        } while (r >= 0 && conn_may_take_call(c) && vl_io_has_message(&c->io));
        c->in_process = false;
        if (r < 0 || conn_done(c)) {
                vl_conn_free(c);
                return;
        }
        if (vl_conn_charge(c) < 0)
                return;
        conn_update_events(c);
}

static void conn_io(struct vl_conn *c, uint32_t revents) {
        int r;

        if (revents & EPOLLOUT) {
                r = vl_io_write(&c->io);
                if (r < 0) {
                        vl_conn_free(c);
                        return;
                }
                if (r > 0)
                        c->out_since = vl_server_now(c->server);
        }
        if (c->closing && (revents & (EPOLLHUP | EPOLLERR))) {
                vl_conn_free(c);   /* nobody is left to read what is owed */
                return;
        }
        if (!c->closing && (revents & (EPOLLIN | EPOLLHUP | EPOLLERR))) {
                r = vl_io_read(&c->io);
                if (r == -EPROTO)
                        vl_conn_protocol_error_reason(c, c->server->cfg.errors.protocol,
                                                   "truncated or too many file descriptors");
                else if (r < 0 && (r != -EMSGSIZE || (revents & (EPOLLHUP | EPOLLERR)))) {
                        /* The client is gone. Over the message limit the read makes no more
                         * progress: waiting for the pending call to end would have the hang-up,
                         * which epoll reports whatever it is asked for, wake us at once, over
                         * and over. Nobody is left to read the answers anyway. */
                        vl_conn_free(c);
                        return;
                }
        }
        conn_process(c);
}

/* Serves the connections that are ready, as many as one epoll_wait() returns: the rest, if
 * any, keep our epoll fd readable and are served on the next iteration of the loop, after the
 * other event sources had their turn. Serving one may free another that is further in the
 * batch: vl_conn_free() clears its entry. */
static int on_conns_ready(sd_event_source *src, int fd, uint32_t revents, void *userdata) {
        struct vl_server *s = userdata;
        int n;

        n = epoll_wait(s->epoll_fd, s->batch, VL_SERVER_BATCH, 0);
        if (n <= 0)
                return 0;
        s->batch_len = (size_t) n;
        for (s->batch_pos = 0; s->batch_pos < s->batch_len; s->batch_pos++) {
                struct vl_conn *c = s->batch[s->batch_pos].data.ptr;
                if (c)
                        conn_io(c, s->batch[s->batch_pos].events);
        }
        s->batch_len = s->batch_pos = 0;
        return 0;
}

static void accept_resume(struct vl_server *s);

void vl_conn_free(struct vl_conn *c) {
        struct vl_server *s = c->server;

        if (c->pending)
                c->pending->conn = NULL;   /* its job finishes and cleans up on its own */
        conn_unschedule(c);
        for (size_t i = s->batch_pos; i < s->batch_len; i++)
                if (s->batch[i].data.ptr == c)
                        s->batch[i].data.ptr = NULL;
        (void) epoll_ctl(s->epoll_fd, EPOLL_CTL_DEL, c->io.fd, NULL);
        vl_io_done(&c->io);
        free(c->goodbye);
        if (c->prev)
                c->prev->next = c->next;
        else
                s->conns = c->next;
        if (c->next)
                c->next->prev = c->prev;
        s->n_conns--;
        s->buffers -= c->charged;
        c->user->buffers -= c->charged;
        vl_user_drop_conn(s, c->user);
        if (s->cfg.ops->disconnected)
                s->cfg.ops->disconnected(s->cfg.app, c->id);
        free(c);
        if (s->accept_starved)
                accept_resume(s);   /* an fd was just freed */
}

void vl_timer_arm(sd_event_source *src, uint64_t usec) {
        (void) sd_event_source_set_time_relative(src, usec);
        (void) sd_event_source_set_enabled(src, SD_EVENT_ONESHOT);
}

static void reject(struct vl_server *s, int fd, const char *limit, int64_t max) {
        vl_send_limit_error(s, fd, limit, max);
        safe_close(fd);
}

/* Out of fds (or kernel memory) the listener stays readable, and retrying at once would spin:
 * stop watching it until a connection closes or ACCEPT_RETRY_USEC pass, and say so once. */
#define ACCEPT_RETRY_USEC (500 * 1000ULL)

static void accept_resume(struct vl_server *s) {
        (void) sd_event_source_set_enabled(s->listen_src, SD_EVENT_ON);
}

static int on_accept_retry(sd_event_source *src, uint64_t usec, void *userdata) {
        accept_resume(userdata);
        return 0;
}

static void accept_pause(struct vl_server *s, int err) {
        if (!s->accept_starved)
                vl_server_log(s, LOG_WARNING, NULL, NULL, "Cannot accept connections: %s; pausing the listener until a connection "
                            "closes (retrying every %llu ms).", strerror(err), ACCEPT_RETRY_USEC / 1000);
        s->accept_starved = true;
        (void) sd_event_source_set_enabled(s->listen_src, SD_EVENT_OFF);
        vl_timer_arm(s->accept_retry_src, ACCEPT_RETRY_USEC);
}

static int conn_new(struct vl_server *s, int fd, const struct peer *peer) {
        _cleanup_free_ struct vl_conn *c = calloc(1, sizeof(*c));
        int r;

        if (!c)
                return -ENOMEM;
        c->user = vl_user_get(s, peer->uid);
        if (!c->user)
                return -ENOMEM;
        c->user->n_conns++;
        c->server = s;
        c->id = ++s->next_conn_id;
        c->peer = *peer;
        vl_io_init(&c->io, fd);
        c->events = EPOLLIN;
        r = epoll_ctl(s->epoll_fd, EPOLL_CTL_ADD, fd, &(struct epoll_event) { .events = EPOLLIN, .data.ptr = c });
        if (r < 0) {
                r = -errno;
                c->io.fd = -EBADF;   /* the caller closes it */
                vl_io_done(&c->io);
                vl_user_drop_conn(s, c->user);
                return r;
        }
        c->next = s->conns;
        if (c->next)
                c->next->prev = c;
        s->conns = TAKE_PTR(c);
        s->n_conns++;
        vl_sweep_start(s);
        if (s->cfg.ops->connected)
                s->cfg.ops->connected(s->cfg.app, s->conns->id);
        return 0;
}

static int on_accept(sd_event_source *src, int lfd, uint32_t revents, void *userdata) {
        struct vl_server *s = userdata;
        struct vl_user *u;
        struct peer peer;
        int fd;

        fd = accept4(lfd, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK);
        if (fd < 0) {
                if (errno == EMFILE || errno == ENFILE || errno == ENOBUFS || errno == ENOMEM)
                        accept_pause(s, errno);
                return 0;   /* else EAGAIN, or the client already left */
        }
        if (s->accept_starved) {
                s->accept_starved = false;
                vl_server_log(s, LOG_NOTICE, NULL, NULL, "Accepting connections again.");
        }
        fd = fd_move_above_stdio(fd);
        if (fd < 0 || peer_read(s, fd, &peer) < 0) {
                safe_close(fd);
                return 0;
        }
        if (s->n_conns >= CONNS_MAX) {
                reject(s, fd, "connections", CONNS_MAX);
                return 0;
        }
        for (u = s->users; u && u->uid != peer.uid; u = u->next)
                ;
        if (peer.role != ROLE_ADMIN && u && u->n_conns >= CONNS_PER_UID_MAX) {
                reject(s, fd, "connections per user", CONNS_PER_UID_MAX);
                return 0;
        }
        if (conn_new(s, fd, &peer) < 0) {
                safe_close(fd);
                return 0;
        }
        vl_server_log(s, LOG_DEBUG, &peer, NULL, "Client connected (%s)",
               peer.role == ROLE_ADMIN ? "admin" : "consumer");
        return 0;
}

int vl_server_init(struct vl_server *s, sd_event *e, const struct vl_server_config *cfg, int listen_fd) {
        json_object *p = vl_obj();
        int r;

        *s = (struct vl_server) { .event = sd_event_ref(e), .cfg = *cfg, .listen_fd = listen_fd,
                                  .epoll_fd = epoll_create1(EPOLL_CLOEXEC),
                                  .batch = calloc(VL_SERVER_BATCH, sizeof(struct epoll_event)) };
        if (s->epoll_fd < 0)
                return -errno;
        if (!s->batch)
                return -ENOMEM;
        vl_add_str(p, "operation", "reply");
        vl_add_str(p, "errno", "ENOMEM");
        vl_add_str(p, "message", strerror(ENOMEM));
        s->reply_enomem = vl_format_error(cfg->errors.system, p);
        if (!s->reply_enomem)
                return -ENOMEM;
        r = sd_event_add_io(e, &s->epoll_src, s->epoll_fd, EPOLLIN, on_conns_ready, s);
        if (r >= 0)
                r = sd_event_add_defer(e, &s->defer_src, on_defer, s);
        if (r >= 0)
                r = sd_event_source_set_enabled(s->defer_src, SD_EVENT_OFF);
        /* both timers start disabled and are armed when needed */
        if (r >= 0)
                r = sd_event_add_time(e, &s->sweep_src, CLOCK_MONOTONIC, 0, 0, vl_sweep_run, s);
        if (r >= 0)
                r = sd_event_source_set_enabled(s->sweep_src, SD_EVENT_OFF);
        if (r >= 0)
                r = sd_event_add_time(e, &s->accept_retry_src, CLOCK_MONOTONIC, 0, 0, on_accept_retry, s);
        if (r >= 0)
                r = sd_event_source_set_enabled(s->accept_retry_src, SD_EVENT_OFF);
        if (r < 0)
                return r;
        return sd_event_add_io(e, &s->listen_src, listen_fd, EPOLLIN, on_accept, s);
}

void vl_server_done(struct vl_server *s) {
        while (s->conns)
                vl_conn_free(s->conns);
        sd_event_source_disable_unref(s->listen_src);
        sd_event_source_disable_unref(s->sweep_src);
        sd_event_source_disable_unref(s->accept_retry_src);
        sd_event_source_disable_unref(s->epoll_src);
        sd_event_source_disable_unref(s->defer_src);
        safe_close(s->epoll_fd);
        free(s->batch);
        safe_close(s->listen_fd);
        free(s->reply_enomem);
        sd_event_unref(s->event);
        *s = (struct vl_server) { .listen_fd = -EBADF, .epoll_fd = -EBADF };
}
