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
#include "daemon/bpf-backend.h"
#include "daemon/handles.h"
#include "daemon/worker.h"

#define PEER_GROUPS_MAX 64
#define CONNS_PER_UID_MAX 64       /* root and admins are not limited */
#define CONNS_MAX 4096

struct policy;

/* What clients may make the daemon hold (docs/security.md, "Limits"). Buffers are counted by
 * their capacity: input being assembled plus replies not yet read. */
struct limits {
        size_t conn_queue;           /* a connection is no longer read while this much is queued */
        size_t user_buffers;         /* all connections of one uid; beyond: its largest is closed */
        size_t total_buffers;        /* all connections; beyond: the largest of the largest user */
        uint64_t message_usec;       /* a message begun must be complete within this */
        uint64_t reply_usec;         /* queued replies must make progress within this */
};

#define LIMITS_DEFAULT                                                                      \
        ((struct limits) { .conn_queue = 128u << 10, .user_buffers = 32u << 20,           \
                           .total_buffers = 128u << 20, .message_usec = 30 * 1000000ULL, \
                           .reply_usec = 30 * 1000000ULL })

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

enum role { ROLE_CONSUMER, ROLE_ADMIN };

struct peer {
        uid_t uid;
        gid_t gid;
        pid_t pid;
        gid_t groups[PEER_GROUPS_MAX];
        size_t n_groups;
        enum role role;
};

/* The connections of one uid, and the buffers they hold. */
struct user {
        uid_t uid;
        size_t n_conns;
        size_t buffers;
        struct user *next;
};

struct conn {
        struct server *server;
        uint64_t id;
        struct vl_io io;
        sd_event_source *src;
        struct peer peer;
        struct user *user;
        size_t charged;              /* vl_io_footprint() as last counted in user and server */
        uint64_t in_since;           /* CLOCK_MONOTONIC: a message began and is waited for */
        uint64_t out_since;          /* CLOCK_MONOTONIC: replies queued, or last written */
        struct call *pending;        /* the call being answered, at most one */
        char *goodbye;               /* closing: the error to send once the pending call is answered */
        bool closing;                /* broke the protocol: owed replies go out, then it closes */
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
        struct user *users;
        size_t buffers;              /* held by all connections */
        sd_event_source *sweep_src;  /* enforces the message and reply deadlines */
        sd_event_source *accept_retry_src;
        bool accept_starved;         /* out of fds: the listener rests until the retry */
        uint64_t next_conn_id;
        struct handle_table handles;
        struct worker_pool *pool;
        struct policy *policy;
        uint64_t start_usec;         /* CLOCK_MONOTONIC */
        bool persist;                /* the pin dir is usable: persistent handles survive restarts */
        gid_t admin_gid;
        bool have_admin_gid;
        bool tracing_multi;          /* the kernel has tracing multi-links (probed at start) */
        struct bb_features features; /* probed on a worker at start (server_warm_up) */
        bool have_features;
        struct state_writer *state_writer;   /* writes state.json off the loop (state-save.c) */
};

struct method;

/* While its handler runs, what the dispatcher learns of the call (daemon/reply.h): a reply frees
 * the call, so the transport notes its end here. */
struct call_frame {
        bool ended;                  /* answered (or dropped): the call is freed */
        bool deferred;               /* a job took it and will answer it */
        int error;                   /* the error code the handler recorded, and its parameters */
        json_object *error_params;
};

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
        struct call_frame *frame;    /* while its handler runs */
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
/* The call broke the protocol: no reply; the connection answers the calls before it, sends
 * io.fexitd.ProtocolError with reason and closes (docs/io.fexitd.varlink). */
void call_reply_protocol_error(struct call *c, const char *reason);

/* Runs a call on the daemon's own behalf, as root, with no connection to answer to: its outcome
 * is logged under origin. Takes ownership of msg and fds. */
void server_call_internal(struct server *s, const char *origin, const char *method, json_object *msg,
                          int *fds, size_t n_fds);

/* Releases the connection-bound handles of a connection that is gone. */
void server_release_connection(struct server *s, uint64_t conn_id);
