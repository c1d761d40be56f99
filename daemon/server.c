/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <grp.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <systemd/sd-daemon.h>
#include <time.h>

#include "common/macro.h"
#include "daemon/log.h"
#include "daemon/methods.h"
#include "daemon/policy.h"
#include "daemon/server.h"

static void conn_free(struct conn *c);
static void conn_process(struct conn *c);

bool peer_in_group(const struct peer *p, gid_t gid) {
        if (p->gid == gid)
                return true;
        for (size_t i = 0; i < p->n_groups; i++)
                if (p->groups[i] == gid)
                        return true;
        return false;
}

/* Root, the admin group and the policy's admin rules are admins; everyone else a consumer. */
static enum role peer_role(const struct server *s, const struct peer *p) {
        if (p->uid == 0 || (s->have_admin_gid && peer_in_group(p, s->admin_gid)) ||
            policy_is_admin(s->policy, p))
                return ROLE_ADMIN;
        return ROLE_CONSUMER;
}

static int peer_read(const struct server *s, int fd, struct peer *ret) {
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

int server_load_policy(struct server *s) {
        char path[4096], *error = NULL;
        struct policy *p = NULL;
        int r;

        snprintf(path, sizeof(path), "%s/policy.conf", s->cfg.conf_dir);
        r = policy_load_file(path, &p, &error);
        if (r < 0) {
                log_error("%s", error ? error : strerror(-r));
                free(error);
                return r;
        }
        policy_free(s->policy);
        s->policy = p;
        /* roles follow the policy at once, for connections already open too */
        for (struct conn *c = s->conns; c; c = c->next)
                c->peer.role = peer_role(s, &c->peer);
        log_info("Policy %s: %zu rules.", r > 0 ? path : "(none)", policy_n_rules(p));
        return 0;
}

static struct user *user_get(struct server *s, uid_t uid) {
        struct user *u;

        for (u = s->users; u; u = u->next)
                if (u->uid == uid)
                        return u;
        u = calloc(1, sizeof(*u));
        if (!u)
                return NULL;
        *u = (struct user) { .uid = uid, .next = s->users };
        s->users = u;
        return u;
}

static void user_drop_conn(struct server *s, struct user *u) {
        if (--u->n_conns > 0)
                return;
        for (struct user **p = &s->users; *p; p = &(*p)->next)
                if (*p == u) {
                        *p = u->next;
                        break;
                }
        free(u);
}

static uint64_t server_now(struct server *s) {
        uint64_t t;

        if (sd_event_now(s->event, CLOCK_MONOTONIC, &t) < 0)
                t = now_usec(CLOCK_MONOTONIC);
        return t;
}

/* A connection takes its next call once the last is answered and its replies are read, but
 * for conn_queue bytes: a reply not yet read holds back the next call, as the socket holds
 * back the client. A closing connection takes none. */
static bool conn_may_take_call(struct conn *c) {
        return !c->pending && !c->closing && vl_io_out_pending(&c->io) < c->server->cfg.limits.conn_queue;
}

/* The loop watches for input only while the connection may take a new call, so a busy or
 * flooding client is held back by the socket buffer instead of our memory. The deadlines run
 * while the client owes us the rest of a message, or we wait for it to read. */
static void conn_update_events(struct conn *c) {
        uint64_t now = server_now(c->server);
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
        (void) sd_event_source_set_io_events(c->src, ev);
}

/* Closes a connection that holds or withholds too much, naming who it was. */
static void conn_evict(struct conn *c, const char *why) {
        log_full(LOG_WARNING, &(struct log_ctx) { .uid = c->peer.uid, .pid = c->peer.pid },
                 "Disconnecting client (connection %" PRIu64 "): %s", c->id, why);
        conn_free(c);
}

/* The largest connection of user u (any user if NULL) that may be closed now. */
static struct conn *largest_conn(struct server *s, const struct user *u) {
        struct conn *best = NULL;

        for (struct conn *c = s->conns; c; c = c->next)
                if ((!u || c->user == u) && !c->in_process && (!best || c->charged > best->charged))
                        best = c;
        return best;
}

static struct user *largest_user(struct server *s) {
        struct user *best = NULL;

        for (struct user *u = s->users; u; u = u->next)
                if (!best || u->buffers > best->buffers)
                        best = u;
        return best;
}

/* Counts what c's buffers hold now against its user and the daemon, then closes the largest
 * connections of whoever is over budget. Returns -ENOBUFS if c itself was closed. */
static int conn_charge(struct conn *c) {
        struct server *s = c->server;
        const struct limits *l = &s->cfg.limits;
        struct user *u = c->user;
        size_t held;
        bool gone = false;

        vl_io_trim(&c->io);
        held = vl_io_footprint(&c->io);
        u->buffers = u->buffers - c->charged + held;
        s->buffers = s->buffers - c->charged + held;
        c->charged = held;
        while (!gone && u->buffers > l->user_buffers) {
                struct conn *victim = largest_conn(s, u);
                if (!victim)
                        break;
                gone = victim == c;
                conn_evict(victim, "its user holds more buffers than its share (unread replies, unfinished messages)");
        }
        while (!gone && s->buffers > l->total_buffers) {
                struct conn *victim = largest_conn(s, largest_user(s));
                if (!victim)
                        victim = largest_conn(s, NULL);
                if (!victim)
                        break;
                gone = victim == c;
                conn_evict(victim, "the daemon's buffers are full and its user holds the most");
        }
        return gone ? -ENOBUFS : 0;
}

/* What a client gets when its reply could not be built (vl_format_*() failed): an error, never
 * silence, and never a reply with something left out. */
static const char reply_enomem[] = "{\"error\":\"io.fexitd.KernelError\",\"parameters\":{"
        "\"operation\":\"reply\",\"errno\":\"ENOMEM\",\"message\":\"Cannot allocate memory\"}}";

static void conn_send(struct conn *c, char *text, int *fds, size_t n_fds) {
        int r;

        if (!text) {
                close_many(fds, n_fds);
                n_fds = 0;
        }
        r = vl_io_queue(&c->io, text ? text : reply_enomem, strlen(text ? text : reply_enomem), fds, n_fds);
        free(text);
        if (r < 0) {
                /* The client would wait for this reply forever, and the next one would answer
                 * the wrong call: hang up (the loop sees the EOF and frees the connection). */
                log_warning("Dropping a reply to connection %" PRIu64 " and hanging up: %s", c->id, strerror(-r));
                (void) shutdown(c->io.fd, SHUT_RDWR);
        }
}

/* The client broke the protocol: what follows the bad message is discarded unanswered; the
 * calls before it are still answered, then the error goes out and the connection closes
 * (conn_process). The reply deadline bounds how long that may take. */
static void conn_protocol_error(struct conn *c, const char *error, json_object *params) {
        log_full(LOG_NOTICE, &(struct log_ctx) { .uid = c->peer.uid, .pid = c->peer.pid },
                 "Disconnecting client: %s", error);
        vl_io_drop_input(&c->io);
        c->closing = true;
        free(c->goodbye);
        c->goodbye = vl_format_error(error, params);
}

static void conn_protocol_error_reason(struct conn *c, const char *error, const char *reason) {
        json_object *p = vl_obj();

        vl_add_str(p, "reason", reason);
        conn_protocol_error(c, error, p);
}

static void call_free(struct call *c) {
        free(c->origin);
        close_many(c->fds, c->n_fds);
        vl_put(c->msg);
        free(c);
}

static void call_finish(struct call *c, char *text, int *fds, size_t n_fds) {
        struct conn *conn = c->conn;

        if (conn && !c->oneway)
                conn_send(conn, text, fds, n_fds);
        else {
                free(text);
                close_many(fds, n_fds);
        }
        if (conn) {
                conn->pending = NULL;
                call_free(c);
                conn_process(conn);
        } else
                call_free(c);
}

void call_reply_fds(struct call *c, json_object *params, int *fds, size_t n_fds) {
        call_finish(c, vl_format_reply(params), fds, n_fds);
}

void call_reply(struct call *c, json_object *params) {
        call_reply_fds(c, params, NULL, 0);
}

void call_reply_error(struct call *c, const char *error, json_object *params) {
        struct log_ctx ctx = { .uid = c->peer.uid, .pid = c->peer.pid,
                               .method = c->method ? c->method->name : NULL };

        if (c->origin)
                log_full(LOG_ERR, &ctx, "%s failed: %s %s", c->origin, error,
                         params ? json_object_to_json_string_ext(params, JSON_C_TO_STRING_PLAIN) : "");
        else
                log_full(LOG_INFO, &ctx, "Call failed: %s", error);
        call_finish(c, vl_format_error(error, params), NULL, 0);
}

void call_reply_invalid_parameter(struct call *c, const char *name) {
        json_object *p = vl_obj();

        vl_add_echo(p, "parameter", name);
        call_reply_error(c, "org.varlink.service.InvalidParameter", p);
}

void call_reply_protocol_error(struct call *c, const char *reason) {
        struct log_ctx ctx = { .uid = c->peer.uid, .pid = c->peer.pid,
                               .method = c->method ? c->method->name : NULL };
        struct conn *conn = c->conn;

        log_full(LOG_INFO, &ctx, "Call refused: %s", reason);
        if (!conn) {
                call_free(c);
                return;
        }
        conn->pending = NULL;
        call_free(c);
        conn_protocol_error_reason(conn, "io.fexitd.ProtocolError", reason);
        conn_process(conn);
}

void call_reply_errno(struct call *c, const char *operation, int err) {
        json_object *p = vl_obj();

        err = abs(err);
        vl_add_str(p, "operation", operation);
        vl_add_str(p, "errno", strerrorname_np(err) ? strerrorname_np(err) : "EUNKNOWN");
        vl_add_str(p, "message", strerror(err));
        call_reply_error(c, "io.fexitd.KernelError", p);
}

/* Parses one message into a call and dispatches it. Returns < 0 if the connection was freed. */
static int conn_handle_message(struct conn *c, char *text, int *fds, size_t n_fds) {
        struct call *call = calloc(1, sizeof(*call));
        const char *reason = "malformed JSON or not a JSON object";
        struct vl_call vc;

        if (!call) {
                close_many(fds, n_fds);
                conn_free(c);
                return -ENOMEM;
        }
        *call = (struct call) { .server = c->server, .conn = c, .conn_id = c->id, .peer = c->peer,
                                .n_fds = n_fds };
        memcpy(call->fds, fds, n_fds * sizeof(int));
        if (vl_json_parse(text, &call->msg) < 0 || vl_call_parse(call->msg, &vc, &reason) < 0) {
                call_free(call);
                conn_protocol_error_reason(c, "io.fexitd.ProtocolError", reason);
                return 0;
        }
        call->params = vc.parameters;
        call->oneway = vc.oneway;
        c->pending = call;
        method_dispatch(call, vc.method);
        return 0;
}

/* Takes the buffered calls the connection may. Returns < 0 if the connection was freed. */
static int conn_take_calls(struct conn *c) {
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
                        conn_protocol_error(c, "io.fexitd.LimitExceeded", p);
                        break;
                }
                r = conn_handle_message(c, text, fds, n_fds);
                free(text);
                if (r < 0)
                        return r;
        }
        return 0;
}

/* A closing connection ends once the pending call is answered and everything owed is sent. */
static bool conn_done(struct conn *c) {
        if (!c->closing || c->pending)
                return false;
        if (c->goodbye)
                conn_send(c, TAKE_PTR(c->goodbye), NULL, 0);
        return !vl_io_want_write(&c->io);
}

/* The connection's state machine: take the calls it may, flush what can be sent, again while
 * sending made room for a call already buffered (nothing else would wake us for it), then
 * watch for what is needed next. Replies given synchronously come back here through
 * call_finish(), which the in_process flag turns into another turn of this loop instead of a
 * recursion. */
static void conn_process(struct conn *c) {
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
                        c->out_since = server_now(c->server);
        } while (r >= 0 && conn_may_take_call(c) && vl_io_has_message(&c->io));
        c->in_process = false;
        if (r < 0 || conn_done(c)) {
                conn_free(c);
                return;
        }
        if (conn_charge(c) < 0)
                return;
        conn_update_events(c);
}

static int on_conn_io(sd_event_source *src, int fd, uint32_t revents, void *userdata) {
        struct conn *c = userdata;
        int r;

        if (revents & EPOLLOUT) {
                r = vl_io_write(&c->io);
                if (r < 0) {
                        conn_free(c);
                        return 0;
                }
                if (r > 0)
                        c->out_since = server_now(c->server);
        }
        if (c->closing && (revents & (EPOLLHUP | EPOLLERR))) {
                conn_free(c);   /* nobody is left to read what is owed */
                return 0;
        }
        if (!c->closing && (revents & (EPOLLIN | EPOLLHUP | EPOLLERR))) {
                r = vl_io_read(&c->io);
                if (r == -EPROTO)
                        conn_protocol_error_reason(c, "io.fexitd.ProtocolError",
                                                   "truncated or too many file descriptors");
                else if (r < 0 && r != -EMSGSIZE) {
                        conn_free(c);   /* the client is gone */
                        return 0;
                }
        }
        conn_process(c);
        return 0;
}

static void accept_resume(struct server *s);

static void conn_free(struct conn *c) {
        struct server *s = c->server;

        if (c->pending)
                c->pending->conn = NULL;   /* its job finishes and cleans up on its own */
        sd_event_source_disable_unref(c->src);
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
        user_drop_conn(s, c->user);
        server_release_connection(s, c->id);
        free(c);
        if (s->accept_starved)
                accept_resume(s);   /* an fd was just freed */
}

static void timer_arm(sd_event_source *src, uint64_t usec) {
        (void) sd_event_source_set_time_relative(src, usec);
        (void) sd_event_source_set_enabled(src, SD_EVENT_ONESHOT);
}

/* Closes the connections whose message or replies are overdue. The timer runs while there are
 * connections, at a quarter of the shorter deadline. */
static uint64_t sweep_interval(const struct server *s) {
        const struct limits *l = &s->cfg.limits;

        return (l->message_usec < l->reply_usec ? l->message_usec : l->reply_usec) / 4;
}

static int on_sweep(sd_event_source *src, uint64_t usec, void *userdata) {
        struct server *s = userdata;
        const struct limits *l = &s->cfg.limits;
        uint64_t now = server_now(s);

        for (struct conn *c = s->conns, *next; c; c = next) {
                next = c->next;
                if (c->in_process)
                        continue;
                if (c->out_since && now - c->out_since > l->reply_usec)
                        conn_evict(c, "it did not read its replies in time");
                else if (c->in_since && now - c->in_since > l->message_usec)
                        conn_evict(c, "it did not finish its message in time");
        }
        if (s->n_conns > 0)
                timer_arm(src, sweep_interval(s));
        return 0;
}

static void sweep_start(struct server *s) {
        int on;

        if (sd_event_source_get_enabled(s->sweep_src, &on) < 0 || !on)
                timer_arm(s->sweep_src, sweep_interval(s));
}

static void reject(int fd, const char *limit, int64_t max) {
        json_object *p = vl_obj();
        char *text;

        vl_add_str(p, "limit", limit);
        vl_add_int(p, "max", max);
        text = vl_format_error("io.fexitd.LimitExceeded", p);
        if (text)
                (void) send(fd, text, strlen(text) + 1, MSG_DONTWAIT | MSG_NOSIGNAL);
        free(text);
        safe_close(fd);
}

/* Out of fds (or kernel memory) the listener stays readable, and retrying at once would spin:
 * stop watching it until a connection closes or ACCEPT_RETRY_USEC pass, and say so once. */
#define ACCEPT_RETRY_USEC (500 * 1000ULL)

static void accept_resume(struct server *s) {
        (void) sd_event_source_set_enabled(s->listen_src, SD_EVENT_ON);
}

static int on_accept_retry(sd_event_source *src, uint64_t usec, void *userdata) {
        accept_resume(userdata);
        return 0;
}

static void accept_pause(struct server *s, int err) {
        if (!s->accept_starved)
                log_warning("Cannot accept connections: %s; pausing the listener until a connection "
                            "closes (retrying every %llu ms).", strerror(err), ACCEPT_RETRY_USEC / 1000);
        s->accept_starved = true;
        (void) sd_event_source_set_enabled(s->listen_src, SD_EVENT_OFF);
        timer_arm(s->accept_retry_src, ACCEPT_RETRY_USEC);
}

static int conn_new(struct server *s, int fd, const struct peer *peer) {
        _cleanup_free_ struct conn *c = calloc(1, sizeof(*c));
        int r;

        if (!c)
                return -ENOMEM;
        c->user = user_get(s, peer->uid);
        if (!c->user)
                return -ENOMEM;
        c->user->n_conns++;
        c->server = s;
        c->id = ++s->next_conn_id;
        c->peer = *peer;
        vl_io_init(&c->io, fd);
        r = sd_event_add_io(s->event, &c->src, fd, EPOLLIN, on_conn_io, c);
        if (r < 0) {
                c->io.fd = -EBADF;   /* the caller closes it */
                vl_io_done(&c->io);
                user_drop_conn(s, c->user);
                return r;
        }
        c->next = s->conns;
        if (c->next)
                c->next->prev = c;
        s->conns = TAKE_PTR(c);
        s->n_conns++;
        sweep_start(s);
        return 0;
}

static int on_accept(sd_event_source *src, int lfd, uint32_t revents, void *userdata) {
        struct server *s = userdata;
        struct user *u;
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
                log_notice("Accepting connections again.");
        }
        fd = fd_move_above_stdio(fd);
        if (fd < 0 || peer_read(s, fd, &peer) < 0) {
                safe_close(fd);
                return 0;
        }
        if (s->n_conns >= CONNS_MAX) {
                reject(fd, "connections", CONNS_MAX);
                return 0;
        }
        for (u = s->users; u && u->uid != peer.uid; u = u->next)
                ;
        if (peer.role != ROLE_ADMIN && u && u->n_conns >= CONNS_PER_UID_MAX) {
                reject(fd, "connections per user", CONNS_PER_UID_MAX);
                return 0;
        }
        if (conn_new(s, fd, &peer) < 0) {
                safe_close(fd);
                return 0;
        }
        log_full(LOG_DEBUG, &(struct log_ctx) { .uid = peer.uid, .pid = peer.pid },
                 "Client connected (%s)", peer.role == ROLE_ADMIN ? "admin" : "consumer");
        return 0;
}

int server_init(struct server *s, sd_event *e, const struct config *cfg, int listen_fd) {
        int r;

        *s = (struct server) { .event = sd_event_ref(e), .cfg = *cfg, .listen_fd = listen_fd,
                               .start_usec = now_usec(CLOCK_MONOTONIC) };
        handle_table_init(&s->handles);
        if (cfg->admin_group) {
                struct group *gr = getgrnam(cfg->admin_group);
                if (gr) {
                        s->admin_gid = gr->gr_gid;
                        s->have_admin_gid = true;
                } else
                        log_notice("Admin group '%s' does not exist; only root is admin.", cfg->admin_group);
        }
        r = worker_pool_new(e, cfg->workers, &s->pool);
        if (r < 0)
                return r;
        /* both timers start disabled and are armed when needed */
        r = sd_event_add_time(e, &s->sweep_src, CLOCK_MONOTONIC, 0, 0, on_sweep, s);
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

void server_done(struct server *s) {
        while (s->conns)
                conn_free(s->conns);
        sd_event_source_disable_unref(s->listen_src);
        sd_event_source_disable_unref(s->sweep_src);
        sd_event_source_disable_unref(s->accept_retry_src);
        s->pool = worker_pool_free(s->pool);
        handle_table_done(&s->handles);
        s->policy = policy_free(s->policy);
        safe_close(s->listen_fd);
        sd_event_unref(s->event);
}

void server_call_internal(struct server *s, const char *origin, const char *method, json_object *msg,
                          int *fds, size_t n_fds) {
        struct call *c = calloc(1, sizeof(*c));

        if (!c || !(c->origin = strdup(origin))) {
                free(c);
                vl_put(msg);
                close_many(fds, n_fds);
                return;
        }
        c->server = s;
        c->peer = (struct peer) { .uid = 0, .gid = 0, .pid = getpid(), .role = ROLE_ADMIN };
        c->msg = msg;
        c->params = msg;
        c->n_fds = n_fds;
        memcpy(c->fds, fds, n_fds * sizeof(int));
        method_dispatch(c, method);
}

void server_notify_status(struct server *s) {
        (void) sd_notifyf(false, "STATUS=%zu programs, %zu links, %zu maps, %zu clients",
                          handle_table_count(&s->handles, HANDLE_PROGRAM),
                          handle_table_count(&s->handles, HANDLE_LINK),
                          handle_table_count(&s->handles, HANDLE_MAP), s->n_conns);
}
