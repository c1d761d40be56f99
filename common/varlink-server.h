/* SPDX-License-Identifier: MIT */
#pragma once

/*
 * A Varlink server over AF_UNIX that knows nothing of the service it serves: it accepts
 * connections, reads each peer's credentials once, frames messages with their fds, answers one
 * call per connection at a time (replies stay in order, as Varlink wants), enforces the limits of
 * docs/security.md ("Limits"), and dispatches calls through method tables with parameter specs
 * and roles. The application gives it its tables, its error names and a few hooks (vl_server_ops):
 * the role of a peer, the refusal of a call, a connection that is gone, and logging.
 *
 * Calls that need slow work hand a job elsewhere and answer when it is done; other connections
 * keep being served meanwhile.
 */

#include <json-c/json.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/epoll.h>
#include <sys/types.h>
#include <systemd/sd-event.h>

#include "common/peer.h"
#include "common/varlink-io.h"
#include "common/varlink-json.h"

#define CONNS_PER_UID_MAX 64       /* the most privileged role is not limited */
#define CONNS_MAX 4096
#define VL_SERVER_BATCH 64         /* ready connections served per wake-up */

/* What clients may make the server hold (docs/security.md, "Limits"). Buffers are counted by
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

struct server;                       /* the application's object: opaque here */
struct call;
struct vl_server;

/* A handler returns 0 once it replied or handed the call to something that will; anything else
 * goes to the application's finish hook (vl_server_ops), which turns it into an error reply. */
struct method {
        const char *name;
        int (*handler)(struct call *c, void *params);
        enum role role;              /* the least role that may call it */
        const struct vl_param *params;
        size_t params_size;
        unsigned max_fds;            /* fds the call may carry; more is the fds error */
        bool returns_fds;            /* its reply carries fds: refused as oneway, which drops them */
        const char *operation;       /* what failed, for the system error of a negative errno */
};

/* While its handler runs, what the dispatcher learns of the call: a reply frees the call, so the
 * transport notes its end here. The error fields are the application's (its finish hook). */
struct call_frame {
        bool ended;                  /* answered (or dropped): the call is freed */
        bool deferred;               /* something else took it and will answer it */
        int error;                   /* the error code the handler recorded, and its parameters */
        json_object *error_params;
};

/* The connections of one uid, and the buffers they hold. */
struct vl_user {
        uid_t uid;
        size_t n_conns;
        size_t buffers;
        struct vl_user *next;
};

struct vl_conn {
        struct vl_server *server;
        uint64_t id;
        struct vl_io io;
        uint32_t events;             /* what the server's epoll watches for it */
        struct peer peer;
        struct vl_user *user;
        size_t charged;              /* vl_io_footprint() as last counted in user and server */
        uint64_t in_since;           /* CLOCK_MONOTONIC: a message began and is waited for */
        uint64_t out_since;          /* CLOCK_MONOTONIC: replies queued, or last written */
        struct call *pending;        /* the call being answered, at most one */
        char *goodbye;               /* closing: the error to send once the pending call is answered */
        bool closing;                /* broke the protocol: owed replies go out, then it closes */
        bool in_process;
        bool scheduled;              /* on the server's list for the deferred source */
        struct vl_conn *prev, *next;
        struct vl_conn *sched_next;
};

struct vl_server_ops {
        /* The role of a peer: when it connects, and again on vl_server_refresh_roles(). */
        enum role (*peer_role)(struct server *app, const struct peer *p);
        /* The call's peer has a lower role than the method's: log, and return as a handler does. */
        int (*deny)(struct call *c);
        /* The end of a handler (or deny) that returned r, with its frame: reply the error r
         * stands for unless the call was answered. NULL: a nonzero r is the system error. */
        void (*finish)(struct call *c, struct call_frame *f, int r);
        /* A connection was accepted, or is gone (its call in flight lives on, conn NULL). */
        void (*connected)(struct server *app, uint64_t conn_id);
        void (*disconnected)(struct server *app, uint64_t conn_id);
        /* One line to log, at a syslog priority; peer and method may be NULL. Formatting is
         * the hook's, so that a line below the log level costs nothing. */
        void (*log)(int priority, const struct peer *peer, const char *method, const char *fmt, va_list ap);
};

/* The names of the errors the server itself sends, in the application's interface. */
struct vl_server_errors {
        const char *protocol;        /* (reason: string): the client broke the protocol */
        const char *limit;           /* (limit: string, max: int): a limit of struct limits */
        const char *system;          /* (operation, errno, message: string): a failed syscall */
        const char *fds;             /* (expected, received: int): too many fds with a call */
};

struct vl_server_config {
        struct server *app;          /* handed to the ops and to every call as c->server */
        const struct vl_server_ops *ops;
        struct vl_server_errors errors;
        const struct method *const *tables;   /* NULL-terminated; each table ends with {} */
        struct limits limits;
};

struct vl_server {
        sd_event *event;
        struct vl_server_config cfg;
        char *reply_enomem;          /* what a client gets when its reply could not be built */
        int listen_fd;
        sd_event_source *listen_src;
        struct vl_conn *conns;
        size_t n_conns;
        struct vl_user *users;
        size_t buffers;              /* held by all connections */
        sd_event_source *sweep_src;  /* enforces the message and reply deadlines */
        sd_event_source *accept_retry_src;
        bool accept_starved;         /* out of fds: the listener rests until the retry */
        uint64_t next_conn_id;
        /* The connections' own epoll set, one sd-event source: a wake-up serves every ready
         * connection (up to VL_SERVER_BATCH), where sd-event would dispatch one per iteration. */
        int epoll_fd;
        sd_event_source *epoll_src;
        struct epoll_event *batch;   /* the events being served; a freed connection's are cleared */
        size_t batch_pos, batch_len;
        /* Connections whose call was answered outside their own turn (from a job): their next
         * call runs from this deferred source, never on the stack of the reply. */
        sd_event_source *defer_src;
        struct vl_conn *sched_head;
};

struct call {
        struct server *server;       /* the application's object */
        struct vl_server *vs;
        struct vl_conn *conn;        /* NULL once the client is gone */
        uint64_t conn_id;
        struct peer peer;
        const struct method *method;
        json_object *msg;            /* owns parameters */
        json_object *params;
        int fds[VL_FDS_MAX];
        size_t n_fds;
        bool oneway;
        char *origin;                /* set for calls the application makes itself */
        struct call_frame *frame;    /* while its handler runs */
};

/* The listening socket: the one socket activation passed, else path bound here (a socket file
 * nobody listens on is a leftover of a crash and replaced; a live one is -EADDRINUSE), root:group
 * 0660, or 0666 when the group does not exist, which *ret_open then says. Returns the fd. */
int vl_server_listen(const char *path, const char *group, bool *ret_open);

/* Serves listen_fd (taken) on e. cfg's pointers must outlive the server. */
int vl_server_init(struct vl_server *s, sd_event *e, const struct vl_server_config *cfg, int listen_fd);
/* Closes every connection (their calls in flight live on) and the listener. */
void vl_server_done(struct vl_server *s);
/* Asks ops->peer_role again for every connection (the rules changed). */
void vl_server_refresh_roles(struct vl_server *s);

/* Validates a call against its method's row (role, fds, parameters) and runs the handler, or
 * replies the error. Takes ownership of the call. */
void method_dispatch(struct call *c, const char *method);

/* Runs a call on the application's own behalf, as peer, with no connection to answer to: its
 * outcome is logged under origin. Takes ownership of msg and fds. */
void vl_server_call_internal(struct vl_server *s, const struct peer *peer, const char *origin,
                             const char *method, json_object *msg, int *fds, size_t n_fds);

/* Replies end a call: they queue the answer (unless the client is gone or asked for none), free
 * the call and let its connection go on with the next message. They take ownership of params and
 * fds. */
/* The handler returns 0 and the reply comes later (from a job, a timer, the application). */
void call_defer(struct call *c);
void call_reply(struct call *c, json_object *params);
void call_reply_fds(struct call *c, json_object *params, int *fds, size_t n_fds);
void call_reply_error(struct call *c, const char *error, json_object *params);
void call_reply_invalid_parameter(struct call *c, const char *name);
void call_reply_errno(struct call *c, const char *operation, int err);   /* errors.system */
/* The call broke the protocol: no reply; the connection answers the calls before it, sends
 * errors.protocol with reason and closes (docs/io.fexitd.varlink). */
void call_reply_protocol_error(struct call *c, const char *reason);
