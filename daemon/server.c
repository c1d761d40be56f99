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

static size_t conns_of_uid(struct server *s, uid_t uid) {
        size_t n = 0;

        for (struct conn *c = s->conns; c; c = c->next)
                n += c->peer.uid == uid;
        return n;
}

/* The loop watches for input only while the connection may take a new call, so a busy or
 * flooding client is held back by the socket buffer instead of our memory. */
static void conn_update_events(struct conn *c) {
        uint32_t ev = 0;

        if (!c->pending && !vl_io_has_message(&c->io) &&
            c->io.out_len - c->io.out_pos < OUT_QUEUE_MAX)
                ev |= EPOLLIN;
        if (vl_io_want_write(&c->io))
                ev |= EPOLLOUT;
        (void) sd_event_source_set_io_events(c->src, ev);
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

/* Replies with an error and hangs up: the client broke the protocol. */
static void conn_protocol_error(struct conn *c, const char *error, json_object *params) {
        conn_send(c, vl_format_error(error, params), NULL, 0);
        (void) vl_io_write(&c->io);
        log_full(LOG_NOTICE, &(struct log_ctx) { .uid = c->peer.uid, .pid = c->peer.pid },
                 "Disconnecting client: %s", error);
        conn_free(c);
}

static void call_free(struct call *c) {
        free(c->origin);
        close_many(c->fds, c->n_fds);
        json_object_put(c->msg);
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

void call_reply_errno(struct call *c, const char *operation, int err) {
        json_object *p = vl_obj();

        err = abs(err);
        vl_add_str(p, "operation", operation);
        vl_add_str(p, "errno", strerrorname_np(err) ? strerrorname_np(err) : "EUNKNOWN");
        vl_add_str(p, "message", strerror(err));
        call_reply_error(c, "io.fexitd.KernelError", p);
}

/* Parses one message into a call and dispatches it. Returns < 0 if the connection was freed
 * because the message broke the protocol. */
static int conn_handle_message(struct conn *c, char *text, int *fds, size_t n_fds) {
        struct call *call = calloc(1, sizeof(*call));
        const char *reason = "malformed JSON or not a JSON object";
        struct vl_call vc;
        json_object *p;

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
                p = vl_obj();
                vl_add_str(p, "reason", reason);
                conn_protocol_error(c, "io.fexitd.ProtocolError", p);
                return -EBADMSG;
        }
        call->params = vc.parameters;
        call->oneway = vc.oneway;
        c->pending = call;
        method_dispatch(call, vc.method);
        return 0;
}

/* The connection's state machine: while no call is pending, take the next buffered message;
 * then flush what can be sent and watch for what is needed next. Replies given synchronously
 * come back here through call_finish(), which the in_process flag turns into another turn of
 * this loop instead of a recursion. */
static void conn_process(struct conn *c) {
        int fds[VL_FDS_MAX];
        size_t n_fds;
        char *text;
        int r;

        if (c->in_process)
                return;
        c->in_process = true;
        while (!c->pending) {
                r = vl_io_next(&c->io, &text, fds, &n_fds);
                if (r == 0)
                        break;
                if (r < 0) {
                        json_object *p = vl_obj();
                        vl_add_str(p, "limit", "message size");
                        vl_add_int(p, "max", (int64_t) c->io.max_in);
                        conn_protocol_error(c, "io.fexitd.LimitExceeded", p);
                        return;
                }
                r = conn_handle_message(c, text, fds, n_fds);
                free(text);
                if (r < 0)
                        return;
        }
        c->in_process = false;
        if (vl_io_write(&c->io) < 0) {
                conn_free(c);
                return;
        }
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
        }
        if (revents & (EPOLLIN | EPOLLHUP | EPOLLERR)) {
                r = vl_io_read(&c->io);
                if (r == -EPROTO) {
                        json_object *p = vl_obj();
                        vl_add_str(p, "reason", "truncated or too many file descriptors");
                        conn_protocol_error(c, "io.fexitd.ProtocolError", p);
                        return 0;
                }
                if (r < 0 && r != -EMSGSIZE) {
                        conn_free(c);   /* the client is gone */
                        return 0;
                }
        }
        conn_process(c);
        return 0;
}

static void conn_free(struct conn *c) {
        struct server *s = c->server;

        if (c->pending)
                c->pending->conn = NULL;   /* its job finishes and cleans up on its own */
        sd_event_source_disable_unref(c->src);
        vl_io_done(&c->io);
        if (c->prev)
                c->prev->next = c->next;
        else
                s->conns = c->next;
        if (c->next)
                c->next->prev = c->prev;
        s->n_conns--;
        server_release_connection(s, c->id);
        free(c);
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

static int on_accept(sd_event_source *src, int lfd, uint32_t revents, void *userdata) {
        struct server *s = userdata;
        struct conn *c;
        struct peer peer;
        int fd, r;

        fd = accept4(lfd, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK);
        if (fd < 0)
                return 0;   /* EAGAIN, or the client already left */
        fd = fd_move_above_stdio(fd);
        if (fd < 0 || peer_read(s, fd, &peer) < 0) {
                safe_close(fd);
                return 0;
        }
        if (s->n_conns >= CONNS_MAX) {
                reject(fd, "connections", CONNS_MAX);
                return 0;
        }
        if (peer.role != ROLE_ADMIN && conns_of_uid(s, peer.uid) >= CONNS_PER_UID_MAX) {
                reject(fd, "connections per user", CONNS_PER_UID_MAX);
                return 0;
        }
        c = calloc(1, sizeof(*c));
        if (!c) {
                safe_close(fd);
                return 0;
        }
        c->server = s;
        c->id = ++s->next_conn_id;
        c->peer = peer;
        vl_io_init(&c->io, fd);
        r = sd_event_add_io(s->event, &c->src, fd, EPOLLIN, on_conn_io, c);
        if (r < 0) {
                vl_io_done(&c->io);
                free(c);
                return 0;
        }
        c->next = s->conns;
        if (c->next)
                c->next->prev = c;
        s->conns = c;
        s->n_conns++;
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
        return sd_event_add_io(e, &s->listen_src, listen_fd, EPOLLIN, on_accept, s);
}

void server_done(struct server *s) {
        while (s->conns)
                conn_free(s->conns);
        sd_event_source_disable_unref(s->listen_src);
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
                json_object_put(msg);
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
