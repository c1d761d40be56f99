/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <inttypes.h>

#include "daemon/log.h"
#include "daemon/methods.h"

static bool peer_in_group(const struct peer *p, gid_t gid) {
        if (p->gid == gid)
                return true;
        for (size_t i = 0; i < p->n_groups; i++)
                if (p->groups[i] == gid)
                        return true;
        return false;
}

/* Admins see everything; a consumer sees what it owns and what was granted to it. */
bool peer_may_see(const struct peer *p, const struct handle *h) {
        if (p->role == ROLE_ADMIN || h->owner_uid == p->uid)
                return true;
        for (size_t i = 0; i < h->n_grants; i++) {
                const struct grant *g = &h->grants[i];
                if (g->group ? peer_in_group(p, g->id) : g->id == p->uid)
                        return true;
        }
        return false;
}

struct handle *call_get_handle(struct call *c, int64_t id, enum handle_kind kind) {
        struct handle *h = id > 0 ? handle_table_get(&c->server->handles, (uint64_t) id) : NULL;
        json_object *p = vl_obj();

        if (!h) {
                vl_add_int(p, "handle", id);
                call_reply_error(c, "io.fexitd.NoSuchHandle", p);
                return NULL;
        }
        if (!peer_may_see(&c->peer, h)) {
                log_full(LOG_NOTICE, &(struct log_ctx) { .uid = c->peer.uid, .pid = c->peer.pid,
                                                         .handle = h->id, .method = c->method->name },
                         "Refused access to handle %" PRIu64 " owned by uid %u", h->id,
                         (unsigned) h->owner_uid);
                vl_add_str(p, "reason", "the handle belongs to another user and was not granted to you");
                call_reply_error(c, "io.fexitd.PermissionDenied", p);
                return NULL;
        }
        if (h->kind != kind) {
                vl_add_int(p, "handle", id);
                vl_add_str(p, "expected", handle_kind_to_string(kind));
                vl_add_str(p, "actual", handle_kind_to_string(h->kind));
                call_reply_error(c, "io.fexitd.WrongHandleKind", p);
                return NULL;
        }
        if (h->busy) {
                vl_add_str(p, "limit", "one operation at a time per handle");
                vl_add_int(p, "max", 1);
                call_reply_error(c, "io.fexitd.LimitExceeded", p);
                return NULL;
        }
        json_object_put(p);
        return h;
}
