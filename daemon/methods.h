/* SPDX-License-Identifier: MIT */
#pragma once

/* The verbs: static tables from method name to {handler, least role, parameter spec}
 * (struct method, common/varlink-server.h). A handler parses nothing itself: it receives its
 * parameters already checked against the spec, does one thing, and returns as daemon/reply.h
 * says: 0 once it replied or handed the call to a job, a negative errno, or an error code. */

#include "common/varlink-json.h"
#include "common/varlink-server.h"
#include "daemon/access.h"
#include "daemon/backend-errors.h"
#include "daemon/manager.h"
#include "daemon/release.h"
#include "daemon/reply.h"
#include "daemon/state.h"

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
/* All of them, NULL-terminated. */
extern const struct method *const methods_all[];

/* org.varlink.service's interface description, as GetInterfaceDescription serves it. */
extern const char interface_varlink_service[];

/* Shared by the verbs. */
json_object *handle_to_json(struct server *s, const struct handle *h);
/* Appends [{function, reason}] for the n entries of v to a (a new array when a is NULL); returns a. */
struct bb_skipped;
json_object *skipped_to_json(json_object *a, const struct bb_skipped *v, size_t n);
/* A new link of program prog, owned by the caller of c: the program's name, target, functions,
 * load, grants and source. Not in the table yet; NULL when out of memory. */
struct handle *link_handle_new(const struct call *c, const struct handle *prog, enum handle_lifetime lifetime);
