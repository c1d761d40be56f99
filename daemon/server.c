/* SPDX-License-Identifier: MIT */
#include "daemon/access.h"
#include "daemon/errors.h"
#include "daemon/log.h"
#include "daemon/methods.h"
#include "daemon/release.h"
#include "daemon/server.h"
#include "daemon/state.h"

static int on_deny(struct call *c) {
        return call_denied(c, NULL, "this method is for root and the admin group only");
}

static void on_connected(struct server *s, uint64_t conn_id) {
        s->n_conns++;
}

static void on_disconnected(struct server *s, uint64_t conn_id) {
        s->n_conns--;
        server_release_connection(s, conn_id);
}

static void on_log(int priority, const struct peer *peer, const char *method, const char *fmt, va_list ap) {
        struct log_ctx ctx = { .method = method };

        if (peer) {
                ctx.uid = peer->uid;
                ctx.pid = peer->pid;
        }
        log_fullv(priority, peer || method ? &ctx : NULL, fmt, ap);
}

static const struct vl_server_ops server_ops = {
        .peer_role = manager_peer_role,
        .deny = on_deny,
        .finish = call_finish_handler,
        .connected = on_connected,
        .disconnected = on_disconnected,
        .log = on_log,
};

int server_init(struct server *s, sd_event *e, const struct config *cfg, int listen_fd) {
        struct vl_server_config vc = {
                .app = s,
                .ops = &server_ops,
                .errors = { .protocol = error_name(ERR_PROTOCOL), .limit = error_name(ERR_LIMIT_EXCEEDED),
                            .system = error_name(ERR_KERNEL), .fds = error_name(ERR_INVALID_FDS) },
                .tables = methods_all,
                .limits = cfg->limits,
        };
        int r;

        r = manager_init(s, e, cfg);
        if (r < 0) {
                safe_close(listen_fd);
                return r;
        }
        return vl_server_init(&s->vs, e, &vc, listen_fd);
}

void server_done(struct server *s) {
        vl_server_done(&s->vs);
        manager_done(s);
        s->state_writer = state_writer_free(s->state_writer);   /* after the pool: its jobs use it */
}
