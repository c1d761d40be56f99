/* SPDX-License-Identifier: MIT */
#pragma once

/* The verbs: static tables from method name to {handler, least role, parameter spec}
 * (struct method, common/varlink-server.h). A handler parses nothing itself: it receives its
 * parameters already checked against the spec, does one thing, and ends in call_reply*() — at
 * once, or from a worker job's done(). */

#include "common/varlink-json.h"
#include "common/varlink-server.h"
#include "daemon/access.h"
#include "daemon/backend-errors.h"
#include "daemon/manager.h"
#include "daemon/release.h"
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

/* Shared by the verbs. */
json_object *handle_to_json(struct server *s, const struct handle *h);
