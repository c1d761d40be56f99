/* SPDX-License-Identifier: MIT */
#pragma once

/* Who may act on which handle (docs/security.md): ownership, grants and the policy's rules. */

#include <json-c/json.h>
#include <stdbool.h>

#include "daemon/handles.h"
#include "daemon/manager.h"

/* What a caller wants to do with a handle. */
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
