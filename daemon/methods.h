/* SPDX-License-Identifier: MIT */
#pragma once

/* The verbs: a static table from method name to {handler, least role, parameter spec}. A handler
 * parses nothing itself: it receives its parameters already checked against the spec, does one
 * thing, and returns as daemon/reply.h says: 0 once it replied or handed the call to a job, a
 * negative errno, or an error code. */

#include "common/varlink-json.h"
#include "daemon/reply.h"
#include "daemon/server.h"

struct method {
        const char *name;
        int (*handler)(struct call *c, void *params);
        enum role role;
        const struct vl_param *params;
        size_t params_size;
        unsigned max_fds;            /* fds the call may carry; more is InvalidFileDescriptors */
        bool returns_fds;            /* its reply carries fds: refused as oneway, which drops them */
        const char *operation;       /* KernelError's operation for a negative errno ("call") */
};

/* Takes ownership of the call: validates and runs it, which ends in a reply. */
void method_dispatch(struct call *c, const char *method);

/* org.varlink.service's interface description, as GetInterfaceDescription serves it. */
extern const char interface_varlink_service[];

/* The parameters of the verbs that take nothing but a handle. */
struct handle_params {
        int64_t handle;
};
#define HANDLE_PARAM { { "handle", VL_INT, true, offsetof(struct handle_params, handle) }, {} }

/* The verb groups, each in its own file. */
extern const struct method methods_service[];   /* org.varlink.service */
extern const struct method methods_query[];     /* List, Describe, Status */
extern const struct method methods_load[];      /* Load, Unload */
extern const struct method methods_link[];      /* Attach, Detach, TakeLink, ShareMap */

/* Shared by the verbs. */
json_object *handle_to_json(struct server *s, const struct handle *h);
/* Parts of a handle as the verbs and state.json both write them: the grants ["user:UID", ...],
 * and the functions of a multi-link handle [{"function": NAME, "btf_id": ID}, ...]. */
json_object *handle_grants_to_json(const struct handle *h);
json_object *handle_functions_to_json(const struct handle *h);
/* A new link of program prog, owned by the caller of c: the program's name, target, functions,
 * load, grants and source. Not in the table yet; NULL when out of memory. */
struct handle *link_handle_new(const struct call *c, const struct handle *prog, enum handle_lifetime lifetime);
/* What a caller wants to do with a handle (access.c, docs/security.md). */
enum access {
        ACCESS_SHARE,   /* List, Describe, ShareMap */
        ACCESS_USE,     /* Attach, Detach, TakeLink */
        ACCESS_OWN,     /* Unload */
};
bool peer_may(const struct server *s, const struct peer *p, const struct handle *h, enum access a);
/* Looks up handle id of the given kind that the caller may act on, as *ret; else returns the
 * error code (NoSuchHandle, PermissionDenied, WrongHandleKind, LimitExceeded). */
int call_get_handle(struct call *c, int64_t id, enum handle_kind kind, enum access a, struct handle **ret);
/* Appends the grants of a JSON array of "user:NAME"/"group:NAME" strings to grants[*n_grants],
 * at most GRANTS_MAX in all: -E2BIG beyond, -EINVAL for a malformed or unknown one. */
int grants_from_json(json_object *array, struct grant *grants, size_t *n_grants);
/* Logs the refusal with the caller's identity and returns PermissionDenied (call_error()). */
int call_denied(struct call *c, const struct handle *h, const char *reason);
/* Writes the state file after a change of persistent handles; logs failures. */
void server_persist(struct server *s);

/* The backend's error as the matching error code and its parameters (borrowed from e). */
struct bb_error;
int bb_error_to_args(const struct bb_error *e, struct error_args *ret);
/* Replies the backend's error (from a job's done()). */
void call_reply_bb_error(struct call *c, const struct bb_error *e);

/* Persistence (state.c): pins live in cfg.pin_dir as KIND-HANDLE; metadata in state.json. */
int state_pin(struct server *s, const struct handle *h);
void state_unpin(struct server *s, const struct handle *h);
int state_save(struct server *s);
/* The same off the loop's thread (8-12 ms of fsync): the table is taken as it is now, written by
 * a worker job, and then(userdata) runs on the loop once it is on disk (or the write failed,
 * which is logged, as state_save() does). Writes are ordered, and a snapshot overtaken by a newer
 * one before its turn is never written: the newer one covers its waiters. */
void state_save_then(struct server *s, void (*then)(void *userdata), void *userdata);
struct state_writer *state_writer_free(struct state_writer *w);
/* Re-adopts the persistent handles of a previous run; cleans up stale pins and records. */
int state_restore(struct server *s);

/* Removes a handle from the table, unpins it and returns its fd (for a close job). */
int server_drop_handle(struct server *s, uint64_t id);

/* The fds of the handles a verb drops, closed on a worker afterwards (closing the last fd of a
 * tracing link waits for RCU grace periods). Grow or fail: a verb that drops all or nothing makes
 * room with fd_list_reserve() before it drops anything. */
struct fd_list {
        int *fds;
        size_t n, cap;
        bool persistent;             /* a persistent handle was dropped: state.json changes */
};
int fd_list_reserve(struct fd_list *l, size_t n);
/* Drops handle id (server_drop_handle()) and keeps its fd; without room the fd is closed here:
 * slow on the loop's thread, but nothing leaks and nothing is overwritten. */
void fd_list_drop(struct server *s, struct fd_list *l, uint64_t id);
/* Closes what it still holds and frees it. */
void fd_list_done(struct fd_list *l);
#define _cleanup_fd_list_ _cleanup_(fd_list_done)

/* Drops the records of handed-off links whose program is no longer ours. */
void server_forget_orphans(struct server *s);

/* Closes the fds of l on a worker (detach is slow), then replies to the call; l is emptied. If
 * a persistent handle was dropped, the reply also waits for state.json (state_save_then()). */
void call_reply_after_close(struct call *c, struct fd_list *l);
