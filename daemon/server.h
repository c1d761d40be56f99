/* SPDX-License-Identifier: MIT */
#pragma once

/*
 * The daemon's state and its connections. The event loop only dispatches readiness; each
 * connection is a small state machine that reads, answers one call at a time (replies stay in
 * order, as Varlink wants), and writes. Calls that need the kernel hand a job to the worker pool
 * and answer when it is done; other connections keep being served meanwhile.
 */

#include <json-c/json.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>
#include <systemd/sd-event.h>

#include "common/varlink-io.h"
#include "daemon/handles.h"
#include "daemon/worker.h"

#define PEER_GROUPS_MAX 64
#define CONNS_PER_UID_MAX 64       /* root and admins are not limited */
#define CONNS_MAX 4096
#define OUT_QUEUE_MAX (16u << 20)  /* stop reading a client that does not read its replies */

struct policy;

struct config {
        const char *socket_path;
        const char *pin_dir;
        const char *state_dir;
        const char *conf_dir;
        const char *catalog_dirs;    /* ':'-separated, searched in order */
        const char *admin_group;     /* members may call everything, like root */
        unsigned workers;
        bool no_multi_link;          /* one program per function even where the kernel has
                                        tracing multi-links (comparisons, kernel bugs) */
};

enum role { ROLE_CONSUMER, ROLE_ADMIN };

struct peer {
        uid_t uid;
        gid_t gid;
        pid_t pid;
        gid_t groups[PEER_GROUPS_MAX];
        size_t n_groups;
        enum role role;
};

struct conn {
        struct server *server;
        uint64_t id;
        struct vl_io io;
        sd_event_source *src;
        struct peer peer;
        struct call *pending;        /* the call being answered, at most one */
        bool in_process;
        struct conn *prev, *next;
};

struct server {
        sd_event *event;
        struct config cfg;
        int listen_fd;
        sd_event_source *listen_src;
        struct conn *conns;
        size_t n_conns;
        uint64_t next_conn_id;
        struct handle_table handles;
        struct worker_pool *pool;
        struct policy *policy;
        uint64_t start_usec;         /* CLOCK_MONOTONIC */
        bool persist;                /* the pin dir is usable: persistent handles survive restarts */
        gid_t admin_gid;
        bool have_admin_gid;
        bool tracing_multi;          /* the kernel has tracing multi-links (probed at start) */
};

struct method;

struct call {
        struct server *server;
        struct conn *conn;           /* NULL once the client is gone */
        uint64_t conn_id;
        struct peer peer;
        const struct method *method;
        json_object *msg;            /* owns parameters */
        json_object *params;
        int fds[VL_FDS_MAX];
        size_t n_fds;
        bool oneway;
        char *origin;                /* set for calls the daemon makes itself (programs.d) */
};

/* The peer's primary or one of its supplementary groups is gid. */
bool peer_in_group(const struct peer *p, gid_t gid);

int server_init(struct server *s, sd_event *e, const struct config *cfg, int listen_fd);
void server_done(struct server *s);
/* (Re)reads CONF_DIR/policy.conf; on failure logs the line at fault and keeps the old one. */
int server_load_policy(struct server *s);
/* Builds the BTF name index on a worker, so the first Load does not pay for it. */
void server_warm_up(struct server *s);
/* Updates STATUS= for the service manager. */
void server_notify_status(struct server *s);

/* Replies end a call: they queue the answer (unless the client is gone or asked for none), free
 * the call and let its connection go on with the next message. They take ownership of params and
 * fds. */
void call_reply(struct call *c, json_object *params);
void call_reply_fds(struct call *c, json_object *params, int *fds, size_t n_fds);
void call_reply_error(struct call *c, const char *error, json_object *params);
void call_reply_invalid_parameter(struct call *c, const char *name);
void call_reply_errno(struct call *c, const char *operation, int err);   /* io.fexitd.KernelError */

/* Runs a call on the daemon's own behalf, as root, with no connection to answer to: its outcome
 * is logged under origin. Takes ownership of msg and fds. */
void server_call_internal(struct server *s, const char *origin, const char *method, json_object *msg,
                          int *fds, size_t n_fds);

/* Releases the connection-bound handles of a connection that is gone. */
void server_release_connection(struct server *s, uint64_t conn_id);
