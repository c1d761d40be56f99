/* SPDX-License-Identifier: MIT */
#include <malloc.h>
#include <string.h>
#include <time.h>

#include "config.h"
#include "common/macro.h"
#include "daemon/bpf-backend.h"
#include "daemon/holder.h"
#include "daemon/methods.h"

static double age_sec(uint64_t created_usec) {
        return created_usec ? (double) (int64_t) (now_usec(CLOCK_REALTIME) - created_usec) / 1e6 : 0;
}

static json_object *target_to_json(const struct handle *h) {
        json_object *t = vl_obj();

        vl_add_str(t, "function", h->function);
        vl_add_str(t, "btf_object", h->btf_object);
        if (h->btf_id)
                vl_add_int(t, "btf_id", h->btf_id);
        if (h->target_prog_id)
                vl_add_int(t, "target_prog_id", h->target_prog_id);
        return t;
}

json_object *handle_to_json(struct server *s, const struct handle *h) {
        json_object *o = vl_obj();
        struct bb_info info;

        vl_add_int(o, "handle", (int64_t) h->id);
        vl_add_str(o, "kind", handle_kind_to_string(h->kind));
        vl_add_int(o, "kernel_id", h->kernel_id);
        vl_add_str(o, "name", h->name);
        if (h->function)
                vl_add(o, "target", target_to_json(h));
        if (h->multi) {
                vl_add_str(o, "mode", "multi-link");
                if (h->n_functions > 0)
                        vl_add_int(o, "function_count", (int64_t) h->n_functions);
                else   /* lost with its state record: see state-rebuild.c */
                        vl_add_bool(o, "functions_unknown", true);
        }
        if (h->program)
                vl_add_int(o, "program", (int64_t) h->program);
        vl_add_str(o, "lifetime", handle_lifetime_to_string(h->lifetime));
        vl_add_str(o, "state", handle_state_to_string(h->state));
        vl_add_int(o, "owner_uid", h->owner_uid);
        vl_add_int(o, "owner_pid", h->owner_pid);
        if (h->state == HSTATE_HANDED_OFF) {
                vl_add_int(o, "holder_uid", h->holder_uid);
                vl_add_int(o, "holder_pid", h->holder_pid);
                vl_add_str(o, "holder_state", holder_state_to_string(h->holder_state));
        }
        vl_add_double(o, "age_sec", age_sec(h->created_usec));
        vl_add_str(o, "recovery", h->recovery);
        if (h->kind == HANDLE_PROGRAM && h->fd >= 0 && bb_prog_info(h->fd, &info) >= 0 &&
            (info.run_cnt || info.run_time_ns)) {
                vl_add_int(o, "run_count", (int64_t) info.run_cnt);
                vl_add_int(o, "run_time_ns", (int64_t) info.run_time_ns);
        }
        if (h->kind == HANDLE_MAP) {
                vl_add_str(o, "map_type", bb_map_type_name(h->map_type));
                vl_add_int(o, "key_size", h->key_size);
                vl_add_int(o, "value_size", h->value_size);
                vl_add_int(o, "max_entries", h->max_entries);
                vl_add_int(o, "map_flags", h->map_flags);
        }
        if (h->n_grants > 0)
                vl_add(o, "grants", handle_grants_to_json(h));
        return o;
}

json_object *skipped_to_json(json_object *a, const struct bb_skipped *v, size_t n) {
        if (!a)
                a = vl_array();
        for (size_t i = 0; i < n; i++) {
                json_object *o = vl_obj();

                vl_add_str(o, "function", v[i].function);
                vl_add_str(o, "reason", v[i].reason);
                vl_append(a, o);
        }
        return a;
}

static int method_list(struct call *c, void *params) {
        struct server *s = c->server;   /* c is freed by the reply */
        json_object *p = vl_obj(), *list = vl_array();
        struct handle *h;

        HANDLE_TABLE_FOREACH(&c->server->handles, h, i)
                if (peer_may(c->server, &c->peer, h, ACCESS_SHARE))
                        vl_append(list, handle_to_json(c->server, h));
        vl_add(p, "handles", list);
        call_reply(c, p);
        /* a List of many handles builds and frees megabytes of json-c objects; hand the freed
         * pages back rather than let the heap keep its high-water mark */
        if (s->handles.n > 256)
                (void) malloc_trim(0);
        return 0;
}

/* The kernel's own view of a multi-link: what it attached, sorted by BTF id. */
static json_object *multi_link_to_json(const struct handle *h) {
        struct bb_multi_link_info info;
        json_object *o, *ids, *addrs, *cookies;

        if (h->kind != HANDLE_LINK || h->fd < 0 || bb_multi_link_info(h->fd, &info) < 0)
                return NULL;
        o = vl_obj();
        ids = vl_array();
        addrs = vl_array();
        cookies = vl_array();
        for (size_t i = 0; i < info.count; i++) {
                vl_append(ids, json_object_new_int64(info.ids[i]));
                vl_append(addrs, json_object_new_int64((int64_t) info.addrs[i]));
                vl_append(cookies, json_object_new_int64((int64_t) info.cookies[i]));
        }
        vl_add_int(o, "count", (int64_t) info.count);
        vl_add_int(o, "btf_obj_id", info.btf_obj_id);
        vl_add(o, "ids", ids);
        vl_add(o, "addrs", addrs);
        vl_add(o, "cookies", cookies);
        bb_multi_link_info_done(&info);
        return o;
}

/* Describe's detail on top of List's: every function of a multi-link handle. */
static json_object *describe_to_json(struct server *s, const struct handle *h) {
        json_object *o = handle_to_json(s, h), *k;

        if (!h->multi)
                return o;
        vl_add(o, "functions", handle_functions_to_json(h));
        if ((k = multi_link_to_json(h)))
                vl_add(o, "link_info", k);
        return o;
}

static int method_describe(struct call *c, void *params) {
        struct handle_params *p = params;
        struct handle *h = handle_table_get(&c->server->handles, p->handle > 0 ? (uint64_t) p->handle : 0);
        json_object *r;

        /* Describe works on any kind, so it cannot use call_get_handle's kind check. */
        if (!h)
                return CALL_ERROR(c, ERR_NO_SUCH_HANDLE, .handle = p->handle);
        if (!peer_may(c->server, &c->peer, h, ACCESS_SHARE))
                return call_denied(c, h, "the handle belongs to another user and was not granted to you");
        r = vl_obj();
        vl_add(r, "handle", describe_to_json(c->server, h));
        call_reply(c, r);
        return 0;
}

/* tracing_multi is probed at start, before the others (it decides how loads are planned). */
static json_object *features_to_json(const struct bb_features *f, bool tracing_multi) {
        json_object *o = vl_obj();

        vl_add_bool(o, "fexit", f->fexit);
        if (!f->fexit)
                vl_add_str(o, "fexit_errno", strerrorname_np(f->fexit_errno) ?: "EUNKNOWN");
        vl_add_bool(o, "sleepable_fexit", f->sleepable_fexit);
        vl_add_int(o, "max_fexit_args", f->max_args);
        vl_add_bool(o, "module_btf", f->module_btf);
        vl_add_bool(o, "tracing_multi", tracing_multi);
        return o;
}

static int method_status(struct call *c, void *params) {
        struct server *s = c->server;
        json_object *p = vl_obj();

        vl_add_str(p, "version", FEXITD_VERSION);
        vl_add_double(p, "uptime_sec", (double) (now_usec(CLOCK_MONOTONIC) - s->start_usec) / 1e6);
        vl_add_int(p, "programs", (int64_t) handle_table_count(&s->handles, HANDLE_PROGRAM));
        vl_add_int(p, "links", (int64_t) handle_table_count(&s->handles, HANDLE_LINK));
        vl_add_int(p, "maps", (int64_t) handle_table_count(&s->handles, HANDLE_MAP));
        vl_add_int(p, "connections", (int64_t) s->n_conns);
        vl_add_int(p, "jobs", worker_pool_busy(s->pool));
        vl_add_int(p, "caller_uid", c->peer.uid);
        vl_add_str(p, "caller_role", c->peer.role == ROLE_ADMIN ? "admin" : "consumer");
        vl_add_bool(p, "persistence", s->persist);
        if (s->have_features)
                vl_add(p, "features", features_to_json(&s->features, s->tracing_multi));
        call_reply(c, p);
        return 0;
}

const struct method methods_query[] = {
        { "io.fexitd.List", method_list, ROLE_CONSUMER, (const struct vl_param[]) { {} }, 0, 0 },
        { "io.fexitd.Describe", method_describe, ROLE_CONSUMER, (const struct vl_param[]) HANDLE_PARAM,
          sizeof(struct handle_params), 0 },
        { "io.fexitd.Status", method_status, ROLE_CONSUMER, (const struct vl_param[]) { {} }, 0, 0 },
        {}
};
