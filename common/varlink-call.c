/* SPDX-License-Identifier: MIT */
/* Calls: parsing a message into a call, dispatching it through the method tables, and the replies
 * that end it (common/varlink-server.h). */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>
#include <unistd.h>

#include "common/macro.h"
#include "common/varlink-server-internal.h"

static void call_free(struct call *c) {
        if (c->frame)
                c->frame->ended = true;
        free(c->origin);
        close_many(c->fds, c->n_fds);
        vl_put(c->msg);
        free(c);
}

static void call_finish(struct call *c, char *text, int *fds, size_t n_fds) {
        struct vl_conn *conn = c->conn;

        if (conn && !c->oneway)
                vl_conn_send(conn, text, fds, n_fds);
        else {
                free(text);
                close_many(fds, n_fds);
        }
        if (conn) {
                conn->pending = NULL;
                call_free(c);
                vl_conn_schedule(conn);
        } else
                call_free(c);
}

void call_defer(struct call *c) {
        if (c->frame)
                c->frame->deferred = true;
}

void call_reply_fds(struct call *c, json_object *params, int *fds, size_t n_fds) {
        call_finish(c, vl_format_reply(params), fds, n_fds);
}

void call_reply(struct call *c, json_object *params) {
        call_reply_fds(c, params, NULL, 0);
}

void call_reply_error(struct call *c, const char *error, json_object *params) {
        const char *method = c->method ? c->method->name : NULL;

        if (c->origin)
                vl_server_log(c->vs, LOG_ERR, &c->peer, method, "%s failed: %s %s", c->origin, error,
                       params ? json_object_to_json_string_ext(params, JSON_C_TO_STRING_PLAIN) : "");
        else
                vl_server_log(c->vs, LOG_INFO, &c->peer, method, "Call failed: %s", error);
        call_finish(c, vl_format_error(error, params), NULL, 0);
}

void call_reply_invalid_parameter(struct call *c, const char *name) {
        json_object *p = vl_obj();

        vl_add_echo(p, "parameter", name);
        call_reply_error(c, "org.varlink.service.InvalidParameter", p);
}

void call_reply_protocol_error(struct call *c, const char *reason) {
        struct vl_conn *conn = c->conn;

        vl_server_log(c->vs, LOG_INFO, &c->peer, c->method ? c->method->name : NULL, "Call refused: %s", reason);
        if (!conn) {
                call_free(c);
                return;
        }
        conn->pending = NULL;
        call_free(c);
        vl_conn_protocol_error_reason(conn, conn->server->cfg.errors.protocol, reason);
        vl_conn_schedule(conn);
}

void call_reply_errno(struct call *c, const char *operation, int err) {
        json_object *p = vl_obj();

        err = abs(err);
        vl_add_str(p, "operation", operation);
        vl_add_str(p, "errno", strerrorname_np(err) ? strerrorname_np(err) : "EUNKNOWN");
        vl_add_str(p, "message", strerror(err));
        call_reply_error(c, c->vs->cfg.errors.system, p);
}

/* Parses one message into a call and dispatches it. Returns < 0 if the connection was freed. */
int vl_conn_handle_message(struct vl_conn *c, char *text, int *fds, size_t n_fds) {
        struct call *call = calloc(1, sizeof(*call));
        const char *reason = "malformed JSON or not a JSON object";
        struct vl_call vc;

        if (!call) {
                close_many(fds, n_fds);
                vl_conn_free(c);
                return -ENOMEM;
        }
        *call = (struct call) { .server = c->server->cfg.app, .vs = c->server, .conn = c, .conn_id = c->id, .peer = c->peer,
                                .n_fds = n_fds };
        memcpy(call->fds, fds, n_fds * sizeof(int));
        if (vl_json_parse(text, &call->msg) < 0 || vl_call_parse(call->msg, &vc, &reason) < 0) {
                call_free(call);
                vl_conn_protocol_error_reason(c, c->server->cfg.errors.protocol, reason);
                return 0;
        }
        call->params = vc.parameters;
        call->oneway = vc.oneway;
        c->pending = call;
        method_dispatch(call, vc.method);
        return 0;
}

void vl_server_call_internal(struct vl_server *s, const struct peer *peer, const char *origin,
                             const char *method, json_object *msg, int *fds, size_t n_fds) {
        struct call *c = calloc(1, sizeof(*c));

        if (!c || !(c->origin = strdup(origin))) {
                free(c);
                vl_put(msg);
                close_many(fds, n_fds);
                return;
        }
        c->server = s->cfg.app;
        c->vs = s;
        c->peer = *peer;
        c->msg = msg;
        c->params = msg;
        c->n_fds = n_fds;
        memcpy(c->fds, fds, n_fds * sizeof(int));
        method_dispatch(c, method);
}

/* Dispatching ------------------------------------------------------------------------------- */

static const struct method *method_find(const struct vl_server *s, const char *name) {
        for (const struct method *const *t = s->cfg.tables; *t; t++)
                for (const struct method *m = *t; m->name; m++)
                        if (strcmp(m->name, name) == 0)
                                return m;
        return NULL;
}

/* An interface is served if a method of the tables belongs to it. */
static bool interface_served(const struct vl_server *s, const char *name, size_t len) {
        for (const struct method *const *t = s->cfg.tables; *t; t++)
                for (const struct method *m = *t; m->name; m++)
                        if (strncmp(m->name, name, len) == 0 && m->name[len] == '.' &&
                            !strchr(m->name + len + 1, '.'))
                                return true;
        return false;
}

static void reply_not_found(struct call *c, const char *name) {
        const char *dot = strrchr(name, '.');
        json_object *p = vl_obj();

        if (dot && interface_served(c->vs, name, (size_t) (dot - name))) {
                vl_add_echo(p, "method", name);
                call_reply_error(c, "org.varlink.service.MethodNotFound", p);
                return;
        }
        if (dot) {
                _cleanup_free_ char *interface = strndup(name, (size_t) (dot - name));
                vl_add_echo(p, "interface", interface ? interface : "");
        } else
                vl_add_echo(p, "interface", name);
        call_reply_error(c, "org.varlink.service.InterfaceNotFound", p);
}

static void finish_default(struct call *c, struct call_frame *f, int r) {
        vl_put(TAKE_PTR(f->error_params));
        if (f->ended || f->deferred)
                return;
        c->frame = NULL;
        call_reply_errno(c, c->method && c->method->operation ? c->method->operation : "call",
                         r < 0 ? -r : EPROTO);
}

/* Checks the call against its method's row; then the handler runs, or deny, with a frame. */
static int method_run(struct call *c, const struct method *m) {
        _cleanup_free_ void *params = NULL;
        const char *bad = NULL;

        if (c->peer.role < m->role)
                return c->vs->cfg.ops->deny(c);
        if (c->n_fds > m->max_fds) {
                json_object *p = vl_obj();
                vl_add_int(p, "expected", m->max_fds);
                vl_add_int(p, "received", (int64_t) c->n_fds);
                call_reply_error(c, c->vs->cfg.errors.fds, p);
                return 0;
        }
        params = calloc(1, m->params_size ? m->params_size : 1);
        if (!params)
                return -ENOMEM;
        if (vl_params_parse(c->params, m->params, params, &bad) < 0) {
                call_reply_invalid_parameter(c, bad);
                return 0;
        }
        return m->handler(c, params);
}

void method_dispatch(struct call *c, const char *name) {
        const struct method *m = method_find(c->vs, name);
        void (*finish)(struct call *, struct call_frame *, int) = c->vs->cfg.ops->finish ?: finish_default;
        struct vl_server *vs = c->vs;
        struct call_frame f = {};
        int r;

        if (!m) {
                reply_not_found(c, name);
                return;
        }
        c->method = m;
        /* the fds would be closed unsent while the handle counts as handed off or shared */
        if (c->oneway && m->returns_fds) {
                call_reply_protocol_error(c, "oneway is refused for methods that return file descriptors");
                return;
        }
        vl_server_log(vs, LOG_DEBUG, &c->peer, m->name, "Call %s", m->name);
        c->frame = &f;
        r = method_run(c, m);
        if (f.ended) {   /* c is gone */
                if (r != 0)
                        vl_server_log(vs, LOG_ERR, NULL, m->name, "Bug: %s replied and returned %d", m->name, r);
                vl_put(f.error_params);
                return;
        }
        finish(c, &f, r);
}
