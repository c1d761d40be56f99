/* SPDX-License-Identifier: MIT */
/* Decoding replies into the public result structs. Strings are borrowed from the reply's JSON,
 * which each result keeps a reference to. Unknown fields are ignored so that a newer daemon
 * can add some; missing required ones make the reply -EBADMSG. */
#include <errno.h>
#include <stdlib.h>

#include "client/libfexit-internal.h"
#include "common/varlink-json.h"

enum field_type { F_INT, F_STR, F_DOUBLE };

struct field {
        const char *name;
        enum field_type type;
        bool required;
        size_t offset;
};

static int decode_field(const struct field *f, json_object *v, void *out) {
        char *p = (char *) out + f->offset;

        switch (f->type) {
        case F_INT:
                if (!json_object_is_type(v, json_type_int))
                        return -EBADMSG;
                *(int64_t *) p = json_object_get_int64(v);
                return 0;
        case F_STR:
                if (!json_object_is_type(v, json_type_string))
                        return -EBADMSG;
                *(const char **) p = json_object_get_string(v);
                return 0;
        case F_DOUBLE:
                if (!json_object_is_type(v, json_type_int) && !json_object_is_type(v, json_type_double))
                        return -EBADMSG;
                *(double *) p = json_object_get_double(v);
                return 0;
        }
        return -EBADMSG;
}

/* Optional fields that are absent or null keep the defaults the caller put in *out. */
static int decode_fields(json_object *o, const struct field *spec, void *out) {
        if (!json_object_is_type(o, json_type_object))
                return -EBADMSG;
        for (const struct field *f = spec; f->name; f++) {
                json_object *v = json_object_object_get(o, f->name);
                if (!v) {
                        if (f->required)
                                return -EBADMSG;
                        continue;
                }
                if (decode_field(f, v, out) < 0)
                        return -EBADMSG;
        }
        return 0;
}

static int enum_from_name(const char *const *names, size_t n, const char *s) {
        for (size_t i = 1; s && i < n; i++)
                if (names[i] && streq(names[i], s))
                        return (int) i;
        return 0;
}

static const char *const kind_names[] = { NULL, "program", "link", "map" };
static const char *const lifetime_names[] = { NULL, "persistent", "connection" };
static const char *const state_names[] = { NULL, "loaded", "attached", "handed-off" };
static const char *const role_names[] = { NULL, "admin", "consumer" };

FEXIT_API const char *fexit_kind_name(enum fexit_kind kind) {
        return (size_t) kind < ELEMENTSOF(kind_names) ? kind_names[kind] : NULL;
}

FEXIT_API const char *fexit_lifetime_name(enum fexit_lifetime lifetime) {
        return (size_t) lifetime < ELEMENTSOF(lifetime_names) ? lifetime_names[lifetime] : NULL;
}

/* A string array into a NULL-terminated vector of borrowed strings; with key, an array of objects
 * into their string fields key (Describe's functions: [{"function": NAME, ...}, ...]). */
static int strv_from_json(json_object *a, const char *key, const char ***ret, size_t *ret_n) {
        size_t n;
        const char **v;

        if (!json_object_is_type(a, json_type_array))
                return -EBADMSG;
        n = json_object_array_length(a);
        v = calloc(n + 1, sizeof(*v));
        if (!v)
                return -ENOMEM;
        for (size_t i = 0; i < n; i++) {
                json_object *s = json_object_array_get_idx(a, i);
                if (key)
                        s = json_object_is_type(s, json_type_object) ? json_object_object_get(s, key) : NULL;
                if (!json_object_is_type(s, json_type_string)) {
                        free(v);
                        return -EBADMSG;
                }
                v[i] = json_object_get_string(s);
        }
        *ret = v;
        *ret_n = n;
        return 0;
}

/* ---- Handle ---- */

struct handle_impl {
        struct fexit_handle pub;        /* first: the public pointer is the impl's */
        struct fexit_target target;
        const char **grants;
        const char **functions;
        json_object *json;
        const char *kind, *lifetime;
};

#define H(f) offsetof(struct handle_impl, f)
static const struct field handle_fields[] = {
        { "handle",      F_INT,    true,  H(pub.handle) },
        { "kind",        F_STR,    true,  H(kind) },
        { "kernel_id",   F_INT,    true,  H(pub.kernel_id) },
        { "name",        F_STR,    true,  H(pub.name) },
        { "program",     F_INT,    false, H(pub.program) },
        { "lifetime",    F_STR,    true,  H(lifetime) },
        { "state",       F_STR,    true,  H(pub.state_name) },
        { "owner_uid",   F_INT,    true,  H(pub.owner_uid) },
        { "owner_pid",   F_INT,    true,  H(pub.owner_pid) },
        { "holder_uid",  F_INT,    false, H(pub.holder_uid) },
        { "holder_pid",  F_INT,    false, H(pub.holder_pid) },
        { "holder_state", F_STR,   false, H(pub.holder_state) },
        { "age_sec",     F_DOUBLE, true,  H(pub.age_sec) },
        { "run_count",   F_INT,    false, H(pub.run_count) },
        { "run_time_ns", F_INT,    false, H(pub.run_time_ns) },
        { "map_type",    F_STR,    false, H(pub.map_type) },
        { "key_size",    F_INT,    false, H(pub.key_size) },
        { "value_size",  F_INT,    false, H(pub.value_size) },
        { "max_entries", F_INT,    false, H(pub.max_entries) },
        { "map_flags",   F_INT,    false, H(pub.map_flags) },
        { "mode",        F_STR,    false, H(pub.mode) },
        { "function_count", F_INT, false, H(pub.function_count) },
        {}
};
#undef H

#define T(f) offsetof(struct fexit_target, f)
static const struct field target_fields[] = {
        { "function",       F_STR, true,  T(function) },
        { "btf_object",     F_STR, false, T(btf_object) },
        { "btf_id",         F_INT, false, T(btf_id) },
        { "target_prog_id", F_INT, false, T(target_prog_id) },
        {}
};
#undef T

FEXIT_API struct fexit_handle *fexit_handle_free(struct fexit_handle *h) {
        struct handle_impl *impl = (struct handle_impl *) h;

        if (!impl)
                return NULL;
        free(impl->grants);
        free(impl->functions);
        vl_put(impl->json);
        free(impl);
        return NULL;
}

static int handle_decode(struct handle_impl *h, json_object *o) {
        json_object *target = json_object_object_get(o, "target");
        json_object *grants = json_object_object_get(o, "grants");
        json_object *functions = json_object_object_get(o, "functions");
        int r;

        r = decode_fields(o, handle_fields, h);
        if (r < 0)
                return r;
        h->pub.kind = enum_from_name(kind_names, ELEMENTSOF(kind_names), h->kind);
        h->pub.lifetime = enum_from_name(lifetime_names, ELEMENTSOF(lifetime_names), h->lifetime);
        h->pub.state = enum_from_name(state_names, ELEMENTSOF(state_names), h->pub.state_name);
        if (target) {
                h->target = (struct fexit_target) { .btf_id = FEXIT_ABSENT };
                r = decode_fields(target, target_fields, &h->target);
                if (r < 0)
                        return r;
                h->pub.target = &h->target;
        }
        if (grants) {
                r = strv_from_json(grants, NULL, &h->grants, &h->pub.n_grants);
                if (r < 0)
                        return r;
                h->pub.grants = h->grants;
        }
        if (functions) {
                r = strv_from_json(functions, "function", &h->functions, &h->pub.n_functions);
                if (r < 0)
                        return r;
                h->pub.functions = h->functions;
        }
        return 0;
}

int handle_from_json(json_object *o, struct fexit_handle **ret) {
        _cleanup_(fexit_handle_freep) struct fexit_handle *pub = NULL;
        struct handle_impl *h = calloc(1, sizeof(*h));
        int r;

        if (!h)
                return -ENOMEM;
        pub = &h->pub;
        h->json = json_object_get(o);
        h->pub.program = h->pub.holder_uid = h->pub.holder_pid = FEXIT_ABSENT;
        h->pub.run_count = h->pub.run_time_ns = FEXIT_ABSENT;
        h->pub.key_size = h->pub.value_size = h->pub.max_entries = h->pub.map_flags = FEXIT_ABSENT;
        h->pub.function_count = FEXIT_ABSENT;
        r = handle_decode(h, o);
        if (r < 0)
                return r;
        *ret = TAKE_PTR(pub);
        return 0;
}

void handles_free(struct fexit_handle **h, size_t n) {
        for (size_t i = 0; h && i < n; i++)
                fexit_handle_free(h[i]);
        free(h);
}

int handles_from_json(json_object *array, struct fexit_handle ***ret, size_t *ret_n) {
        size_t n;
        struct fexit_handle **v;
        int r;

        if (!json_object_is_type(array, json_type_array))
                return -EBADMSG;
        n = json_object_array_length(array);
        v = calloc(n + 1, sizeof(*v));
        if (!v)
                return -ENOMEM;
        for (size_t i = 0; i < n; i++) {
                r = handle_from_json(json_object_array_get_idx(array, i), &v[i]);
                if (r < 0) {
                        handles_free(v, i);
                        return r;
                }
        }
        *ret = v;
        *ret_n = n;
        return 0;
}

/* ---- Lists, load results, status, service info ---- */

FEXIT_API struct fexit_handle_list *fexit_handle_list_free(struct fexit_handle_list *l) {
        if (l) {
                handles_free(l->handles, l->n_handles);
                free(l);
        }
        return NULL;
}

struct load_result_impl {
        struct fexit_load_result pub;
        json_object *json;
};

FEXIT_API struct fexit_load_result *fexit_load_result_free(struct fexit_load_result *r) {
        struct load_result_impl *impl = (struct load_result_impl *) r;

        if (!impl)
                return NULL;
        handles_free(impl->pub.programs, impl->pub.n_programs);
        handles_free(impl->pub.maps, impl->pub.n_maps);
        handles_free(impl->pub.links, impl->pub.n_links);
        for (size_t i = 0; impl->pub.skipped && i < impl->pub.n_skipped; i++)
                free(impl->pub.skipped[i]);
        free(impl->pub.skipped);
        vl_put(impl->json);
        free(impl);
        return NULL;
}

static const struct field skipped_fields[] = {
        { "function", F_STR, true, offsetof(struct fexit_skipped, function) },
        { "reason",   F_STR, true, offsetof(struct fexit_skipped, reason) },
        {}
};

static int skipped_from_json(json_object *a, struct fexit_skipped ***ret, size_t *ret_n) {
        size_t n;
        struct fexit_skipped **v;

        if (!json_object_is_type(a, json_type_array))
                return -EBADMSG;
        n = json_object_array_length(a);
        v = calloc(n + 1, sizeof(*v));
        if (!v)
                return -ENOMEM;
        *ret = v;                       /* freed with the result on every path */
        for (size_t i = 0; i < n; i++) {
                v[i] = calloc(1, sizeof(**v));
                if (!v[i])
                        return -ENOMEM;
                *ret_n = i + 1;
                if (decode_fields(json_object_array_get_idx(a, i), skipped_fields, v[i]) < 0)
                        return -EBADMSG;
        }
        return 0;
}

int load_result_from_json(json_object *o, struct fexit_load_result **ret) {
        struct load_result_impl *impl = calloc(1, sizeof(*impl));
        struct fexit_load_result *r;
        int k;

        if (!impl)
                return -ENOMEM;
        r = &impl->pub;
        impl->json = json_object_get(o);
        k = handles_from_json(json_object_object_get(o, "programs"), &r->programs, &r->n_programs);
        if (k >= 0)
                k = handles_from_json(json_object_object_get(o, "maps"), &r->maps, &r->n_maps);
        if (k >= 0)
                k = handles_from_json(json_object_object_get(o, "links"), &r->links, &r->n_links);
        if (k >= 0)
                k = skipped_from_json(json_object_object_get(o, "skipped"), &r->skipped, &r->n_skipped);
        r->mode = vl_get_str(o, "mode");
        r->mode_reason = vl_get_str(o, "mode_reason");
        if (k < 0) {
                fexit_load_result_free(r);
                return k;
        }
        *ret = r;
        return 0;
}

struct status_impl {
        struct fexit_status pub;
        struct fexit_features features;
        json_object *json;
};

#define S(f) offsetof(struct status_impl, pub.f)
static const struct field status_fields[] = {
        { "version",     F_STR,    true, S(version) },
        { "uptime_sec",  F_DOUBLE, true, S(uptime_sec) },
        { "programs",    F_INT,    true, S(programs) },
        { "links",       F_INT,    true, S(links) },
        { "maps",        F_INT,    true, S(maps) },
        { "connections", F_INT,    true, S(connections) },
        { "caller_uid",  F_INT,    true, S(caller_uid) },
        { "caller_role", F_STR,    true, S(caller_role_name) },
        {}
};
#undef S

FEXIT_API struct fexit_status *fexit_status_free(struct fexit_status *s) {
        struct status_impl *impl = (struct status_impl *) s;

        if (impl) {
                vl_put(impl->json);
                free(impl);
        }
        return NULL;
}

/* 1 when the daemon reported them; strings point into the status's JSON. */
static int features_from_json(json_object *o, struct fexit_features *ret) {
        if (!json_object_is_type(o, json_type_object))
                return 0;
        *ret = (struct fexit_features) {
                .fexit = vl_get_bool(o, "fexit", false),
                .fexit_errno = vl_get_str(o, "fexit_errno"),
                .sleepable_fexit = vl_get_bool(o, "sleepable_fexit", false),
                .max_fexit_args = vl_get_int(o, "max_fexit_args", 0),
                .module_btf = vl_get_bool(o, "module_btf", false),
                .tracing_multi = vl_get_bool(o, "tracing_multi", false),
        };
        return 1;
}

int status_from_json(json_object *o, struct fexit_status **ret) {
        struct status_impl *impl = calloc(1, sizeof(*impl));

        if (!impl)
                return -ENOMEM;
        impl->json = json_object_get(o);
        if (decode_fields(o, status_fields, impl) < 0) {
                fexit_status_free(&impl->pub);
                return -EBADMSG;
        }
        impl->pub.caller_role = enum_from_name(role_names, ELEMENTSOF(role_names),
                                               impl->pub.caller_role_name);
        /* added to Status later: a daemon without it keeps persistent handles on bpffs */
        impl->pub.persistence = vl_get_bool(o, "persistence", true);
        if (features_from_json(json_object_object_get(o, "features"), &impl->features) > 0)
                impl->pub.features = &impl->features;
        *ret = &impl->pub;
        return 0;
}

struct info_impl {
        struct fexit_service_info pub;
        const char **interfaces;
        json_object *json;
};

#define I(f) offsetof(struct info_impl, pub.f)
static const struct field info_fields[] = {
        { "vendor",  F_STR, true, I(vendor) },
        { "product", F_STR, true, I(product) },
        { "version", F_STR, true, I(version) },
        { "url",     F_STR, true, I(url) },
        {}
};
#undef I

FEXIT_API struct fexit_service_info *fexit_service_info_free(struct fexit_service_info *i) {
        struct info_impl *impl = (struct info_impl *) i;

        if (impl) {
                free(impl->interfaces);
                vl_put(impl->json);
                free(impl);
        }
        return NULL;
}

int service_info_from_json(json_object *o, struct fexit_service_info **ret) {
        struct info_impl *impl = calloc(1, sizeof(*impl));
        int r;

        if (!impl)
                return -ENOMEM;
        impl->json = json_object_get(o);
        r = decode_fields(o, info_fields, impl);
        if (r >= 0)
                r = strv_from_json(json_object_object_get(o, "interfaces"), NULL, &impl->interfaces,
                                   &impl->pub.n_interfaces);
        if (r < 0) {
                fexit_service_info_free(&impl->pub);
                return r;
        }
        impl->pub.interfaces = impl->interfaces;
        *ret = &impl->pub;
        return 0;
}
