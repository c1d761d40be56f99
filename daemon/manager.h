/* SPDX-License-Identifier: MIT */
#pragma once

/*
 * The manager: the daemon's own state, apart from the transport (common/varlink-server.h) that
 * carries its calls. It holds the handle table, the worker pool, the policy and the
 * configuration, and answers the transport's questions about peers. Every verb reaches it as
 * c->server (its C name is still struct server, as the verbs spell it).
 */

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>
#include <systemd/sd-event.h>

#include "common/peer.h"
#include "common/varlink-server.h"
#include "daemon/bpf-backend.h"
#include "daemon/handles.h"
#include "daemon/worker.h"

struct policy;

struct config {
        const char *socket_path;
        const char *pin_dir;
        const char *state_dir;
        const char *conf_dir;
        const char *catalog_dirs;    /* ':'-separated, searched in order */
        const char *admin_group;     /* members may call everything, like root */
        const char *socket_group;    /* owns the socket we bind ourselves (not socket-activated) */
        unsigned workers;
        bool no_multi_link;          /* one program per function even where the kernel has
                                        tracing multi-links (comparisons, kernel bugs) */
        struct limits limits;
};

struct server {
        sd_event *event;
        struct config cfg;
        struct vl_server vs;         /* the transport serving the verbs */
        size_t n_conns;              /* clients connected (the transport's hooks count them) */
        struct handle_table handles;
        struct worker_pool *pool;
        struct state_writer *state_writer;   /* writes state.json off the loop (state-save.c) */
        struct policy *policy;
        uint64_t start_usec;         /* CLOCK_MONOTONIC */
        bool persist;                /* the pin dir is usable: persistent handles survive restarts */
        gid_t admin_gid;
        bool have_admin_gid;
        bool tracing_multi;          /* the kernel has tracing multi-links (probed at start) */
        struct bb_features features; /* probed on a worker at start (server_warm_up) */
        bool have_features;
};

/* The state alone: handle table, worker pool, admin group. No policy yet, no transport. */
int manager_init(struct server *s, sd_event *e, const struct config *cfg);
void manager_done(struct server *s);
/* Root, the admin group and the policy's admin rules are admins; everyone else a consumer. */
enum role manager_peer_role(struct server *s, const struct peer *p);
/* (Re)reads CONF_DIR/policy.conf; on failure logs the line at fault and keeps the old one. */
int server_load_policy(struct server *s);
/* Updates STATUS= for the service manager. */
void server_notify_status(struct server *s);

/* Runs a call on the daemon's own behalf, as root, with no connection to answer to: its outcome
 * is logged under origin. Takes ownership of msg and fds. */
void server_call_internal(struct server *s, const char *origin, const char *method, json_object *msg,
                          int *fds, size_t n_fds);
