/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <inttypes.h>

#include "daemon/access.h"
#include "daemon/log.h"
#include "daemon/policy.h"
#include "daemon/reply.h"

static bool granted(const struct peer *p, const struct handle *h) {
        for (size_t i = 0; i < h->n_grants; i++) {
                const struct grant *g = &h->grants[i];
                if (g->group ? peer_in_group(p, g->id) : g->id == p->uid)
                        return true;
        }
        return false;
}

/* Admins may do everything; an owner everything with its own handles; a grant or a policy "use"
 * rule allows using a handle (Attach, Detach, TakeLink) and a "share" rule seeing it and sharing
 * its maps. Unloading stays with the owner. */
bool peer_may(const struct server *s, const struct peer *p, const struct handle *h, enum access a) {
        if (p->role == ROLE_ADMIN || h->owner_uid == p->uid)
                return true;
        if (a == ACCESS_OWN)
                return false;
        if (granted(p, h) || policy_may_use(s->policy, p, h->source))
                return true;
        return a == ACCESS_SHARE && policy_may_share(s->policy, p, h->source);
}

int call_denied(struct call *c, const struct handle *h, const char *reason) {
        log_full(LOG_NOTICE, &(struct log_ctx) { .uid = c->peer.uid, .pid = c->peer.pid,
                                                 .handle = h ? h->id : 0,
                                                 .method = c->method ? c->method->name : NULL },
                 "Refused %s to uid %u pid %d: %s", c->method ? c->method->name : "a call",
                 (unsigned) c->peer.uid, (int) c->peer.pid, reason);
        return CALL_ERROR(c, ERR_PERMISSION_DENIED, .reason = reason);
}

int call_get_handle(struct call *c, int64_t id, enum handle_kind kind, enum access a, struct handle **ret) {
        struct handle *h = id > 0 ? handle_table_get(&c->server->handles, (uint64_t) id) : NULL;

        if (!h)
                return CALL_ERROR(c, ERR_NO_SUCH_HANDLE, .handle = id);
        if (!peer_may(c->server, &c->peer, h, a))
                return call_denied(c, h, a == ACCESS_OWN ? "only the handle's owner or an admin may do this" :
                                   "the handle belongs to another user and was not granted to you");
        if (h->kind != kind)
                return CALL_ERROR(c, ERR_WRONG_HANDLE_KIND, .handle = id, .expected_kind = handle_kind_to_string(kind),
                                  .actual_kind = handle_kind_to_string(h->kind));
        if (h->busy)
                return CALL_ERROR(c, ERR_LIMIT_EXCEEDED, .limit = "one operation at a time per handle", .max = 1);
        *ret = h;
        return 0;
}

int grants_from_json(json_object *array, struct grant *grants, size_t *n_grants) {
        size_t n = array ? json_object_array_length(array) : 0;

        for (size_t i = 0; i < n; i++) {
                json_object *e = json_object_array_get_idx(array, i);
                if (*n_grants >= GRANTS_MAX)
                        return -E2BIG;
                if (!json_object_is_type(e, json_type_string) ||
                    grant_parse(json_object_get_string(e), &grants[*n_grants]) < 0)
                        return -EINVAL;
                (*n_grants)++;
        }
        return 0;
}
