/* SPDX-License-Identifier: MIT */
/* One typed function per method of io.fexitd: build the parameters, call, decode the reply. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>

#include "client/libfexit-internal.h"
#include "common/varlink-json.h"

/* Turns a decoding failure of a well-formed reply into a recorded error. */
static int client_bad_reply(struct fexit_client *c, int r, const char *method) {
        if (r == -ENOMEM)
                return client_fail(c, r, "out of memory");
        return client_fail(c, r, "the reply of %s lacks a field or has a wrong type", method);
}

static int lifetime_to_json(json_object *p, enum fexit_lifetime lifetime) {
        if (lifetime == FEXIT_LIFETIME_DEFAULT)
                return 0;
        if (!fexit_lifetime_name(lifetime))
                return -EINVAL;
        vl_add_str(p, "lifetime", fexit_lifetime_name(lifetime));
        return 0;
}

static int strv_to_json(json_object *p, const char *key, const char *const *v, size_t n) {
        json_object *a;

        if (n == 0)
                return 0;
        if (!v)
                return -EINVAL;
        a = vl_array();
        vl_add(p, key, a);
        for (size_t i = 0; i < n; i++) {
                if (!v[i] || !*v[i])
                        return -EINVAL;
                vl_append(a, json_object_new_string(v[i]));
        }
        return 0;
}

static int select_to_json(json_object *array, const struct fexit_program_select *s) {
        json_object *o;

        if (!s->name || !*s->name || !OPTS_VALID(s, fexit_program_select))
                return -EINVAL;
        o = vl_obj();
        vl_append(array, o);
        vl_add_str(o, "name", s->name);
        vl_add_str(o, "function", OPTS_GET(s, function, NULL));
        if (OPTS_GET(s, target_prog_id, 0) != 0)
                vl_add_int(o, "target_prog_id", s->target_prog_id);
        return strv_to_json(o, "functions", OPTS_GET(s, functions, NULL), OPTS_GET(s, n_functions, 0));
}

/* The selects are an array whose stride is the caller's sizeof, taken from the first sz. */
static int selects_to_json(json_object *p, const struct fexit_program_select *v, size_t n) {
        size_t stride;
        json_object *a;
        int r;

        if (n == 0)
                return 0;
        if (!v || v->sz < sizeof(size_t))
                return -EINVAL;
        stride = v->sz;
        a = vl_array();
        vl_add(p, "programs", a);
        for (size_t i = 0; i < n; i++) {
                const struct fexit_program_select *s = (const void *) ((const char *) v + i * stride);
                if (s->sz != stride)
                        return -EINVAL;
                r = select_to_json(a, s);
                if (r < 0)
                        return r;
        }
        return 0;
}

static int load_params(json_object *p, const struct fexit_load_opts *opts) {
        int r;

        if (!OPTS_VALID(opts, fexit_load_opts))
                return -EINVAL;
        r = selects_to_json(p, OPTS_GET(opts, programs, NULL), OPTS_GET(opts, n_programs, 0));
        if (r >= 0)
                r = lifetime_to_json(p, OPTS_GET(opts, lifetime, FEXIT_LIFETIME_DEFAULT));
        if (r >= 0)
                r = strv_to_json(p, "grants", OPTS_GET(opts, grants, NULL), OPTS_GET(opts, n_grants, 0));
        if (r >= 0 && OPTS_GET(opts, attach, false))
                vl_add_bool(p, "attach", true);
        if (r >= 0 && OPTS_GET(opts, name, NULL))
                vl_add_str(p, "name", OPTS_GET(opts, name, NULL));
        return r;
}

static int client_load(struct fexit_client *c, int object_fd, const char *catalog,
                       const struct fexit_load_opts *opts, struct fexit_load_result **ret) {
        _cleanup_json_ json_object *p = vl_obj(), *reply = NULL;
        int r;

        if (!p)
                return client_fail(c, -ENOMEM, "out of memory");
        r = load_params(p, opts);
        if (r < 0)
                return client_fail(c, r, "invalid load options");
        if (catalog)
                vl_add_str(p, "catalog", catalog);
        else
                vl_add_int(p, "object", 0);
        r = client_call(c, "io.fexitd.Load", TAKE_PTR(p), &object_fd, catalog ? 0 : 1,
                        &reply, NULL, NULL);
        if (r < 0)
                return r;
        r = load_result_from_json(reply, ret);
        return r < 0 ? client_bad_reply(c, r, "io.fexitd.Load") : 0;
}

FEXIT_API int fexit_client_load(struct fexit_client *c, int object_fd,
                                const struct fexit_load_opts *opts, struct fexit_load_result **ret) {
        if (!c || !ret)
                return -EINVAL;
        if (object_fd < 0)
                return client_fail(c, -EBADF, "invalid object fd");
        return client_load(c, object_fd, NULL, opts, ret);
}

FEXIT_API int fexit_client_load_catalog(struct fexit_client *c, const char *name,
                                        const struct fexit_load_opts *opts,
                                        struct fexit_load_result **ret) {
        if (!c || !ret)
                return -EINVAL;
        if (!name || !*name)
                return client_fail(c, -EINVAL, "empty catalog name");
        return client_load(c, -EBADF, name, opts, ret);
}

static json_object *handle_params(int64_t handle) {
        json_object *p = vl_obj();

        if (p)
                vl_add_int(p, "handle", handle);
        return p;
}

/* Calls a method whose only parameter is a handle and whose reply carries one Handle in `key`. */
static int call_for_handle(struct fexit_client *c, const char *method, json_object *params,
                           const char *key, struct fexit_handle **ret) {
        _cleanup_json_ json_object *reply = NULL;
        int r;

        r = client_call(c, method, params, NULL, 0, &reply, NULL, NULL);
        if (r < 0 || !ret)
                return r;
        r = handle_from_json(json_object_object_get(reply, key), ret);
        return r < 0 ? client_bad_reply(c, r, method) : 0;
}

static int attach_params(struct fexit_client *c, int64_t handle, const struct fexit_attach_opts *opts,
                         bool group, json_object **ret) {
        json_object *p;

        if (!OPTS_VALID(opts, fexit_attach_opts))
                return client_fail(c, -EINVAL, "invalid attach options");
        p = handle_params(handle);
        if (!p)
                return client_fail(c, -ENOMEM, "out of memory");
        if (lifetime_to_json(p, OPTS_GET(opts, lifetime, FEXIT_LIFETIME_DEFAULT)) < 0) {
                vl_put(p);
                return client_fail(c, -EINVAL, "invalid lifetime");
        }
        if (group)
                vl_add_bool(p, "group", true);
        if (strv_to_json(p, "grants", OPTS_GET(opts, grants, NULL), OPTS_GET(opts, n_grants, 0)) < 0) {
                vl_put(p);
                return client_fail(c, -ENOMEM, "out of memory");
        }
        *ret = p;
        return 0;
}

FEXIT_API int fexit_client_attach(struct fexit_client *c, int64_t handle,
                                  const struct fexit_attach_opts *opts,
                                  struct fexit_handle **ret_link) {
        json_object *p = NULL;
        int r;

        if (!c)
                return -EINVAL;
        r = attach_params(c, handle, opts, false, &p);
        if (r < 0)
                return r;
        return call_for_handle(c, "io.fexitd.Attach", p, "link", ret_link);
}

FEXIT_API int fexit_client_attach_group(struct fexit_client *c, int64_t handle,
                                        const struct fexit_attach_opts *opts,
                                        struct fexit_handle_list **ret_links) {
        _cleanup_json_ json_object *reply = NULL;
        struct fexit_handle_list *l;
        json_object *p = NULL;
        int r;

        if (!c)
                return -EINVAL;
        r = attach_params(c, handle, opts, true, &p);
        if (r < 0)
                return r;
        r = client_call(c, "io.fexitd.Attach", p, NULL, 0, &reply, NULL, NULL);
        if (r < 0 || !ret_links)
                return r;
        l = calloc(1, sizeof(*l));
        if (!l)
                return client_fail(c, -ENOMEM, "out of memory");
        r = handles_from_json(json_object_object_get(reply, "links"), &l->handles, &l->n_handles);
        if (r < 0) {
                free(l);
                return client_bad_reply(c, r, "io.fexitd.Attach");
        }
        *ret_links = l;
        return 0;
}

FEXIT_API int fexit_client_detach(struct fexit_client *c, int64_t handle) {
        if (!c)
                return -EINVAL;
        return call_for_handle(c, "io.fexitd.Detach", handle_params(handle), NULL, NULL);
}

FEXIT_API int fexit_client_detach_group(struct fexit_client *c, int64_t handle) {
        json_object *p;

        if (!c)
                return -EINVAL;
        p = handle_params(handle);
        if (p)
                vl_add_bool(p, "group", true);
        return call_for_handle(c, "io.fexitd.Detach", p, NULL, NULL);
}

FEXIT_API int fexit_client_unload(struct fexit_client *c, int64_t handle) {
        if (!c)
                return -EINVAL;
        return call_for_handle(c, "io.fexitd.Unload", handle_params(handle), NULL, NULL);
}

FEXIT_API int fexit_client_describe(struct fexit_client *c, int64_t handle,
                                    struct fexit_handle **ret) {
        if (!c || !ret)
                return -EINVAL;
        return call_for_handle(c, "io.fexitd.Describe", handle_params(handle), "handle", ret);
}

/* TakeLink and ShareMap: a Handle plus the index of the fd that came with the reply. */
static int call_for_fd(struct fexit_client *c, const char *method, int64_t handle,
                       const char *key, int *ret_fd, struct fexit_handle **ret_handle,
                       bool *ret_writable) {
        _cleanup_json_ json_object *reply = NULL;
        _cleanup_(fexit_handle_freep) struct fexit_handle *h = NULL;
        int fds[FEXIT_FDS_MAX];
        size_t n_fds = 0;
        int64_t index;
        int r, fd;

        r = client_call(c, method, handle_params(handle), NULL, 0, &reply, fds, &n_fds);
        if (r < 0)
                return r;
        index = vl_get_int(reply, "fd", -1);
        r = handle_from_json(json_object_object_get(reply, key), &h);
        if (r >= 0 && (index < 0 || (size_t) index >= n_fds))
                r = -EBADMSG;
        if (r >= 0 && ret_writable && !json_object_is_type(json_object_object_get(reply, "writable"),
                                                          json_type_boolean))
                r = -EBADMSG;
        if (r < 0) {
                close_many(fds, n_fds);
                return client_fail(c, r, "the reply of %s lacks its fd or a field", method);
        }
        fd = TAKE_FD(fds[index]);
        close_many(fds, n_fds);
        *ret_fd = fd;
        if (ret_writable)
                *ret_writable = vl_get_bool(reply, "writable", false);
        if (ret_handle)
                *ret_handle = TAKE_PTR(h);
        return 0;
}

FEXIT_API int fexit_client_take_link(struct fexit_client *c, int64_t handle, int *ret_fd,
                                     struct fexit_handle **ret_link) {
        if (!c || !ret_fd)
                return -EINVAL;
        return call_for_fd(c, "io.fexitd.TakeLink", handle, "link", ret_fd, ret_link, NULL);
}

FEXIT_API int fexit_client_share_map(struct fexit_client *c, int64_t handle, int *ret_fd,
                                     bool *ret_writable, struct fexit_handle **ret_map) {
        if (!c || !ret_fd)
                return -EINVAL;
        return call_for_fd(c, "io.fexitd.ShareMap", handle, "map", ret_fd, ret_map, ret_writable);
}

FEXIT_API int fexit_client_list(struct fexit_client *c, struct fexit_handle_list **ret) {
        _cleanup_json_ json_object *reply = NULL;
        struct fexit_handle_list *l;
        int r;

        if (!c || !ret)
                return -EINVAL;
        r = client_call(c, "io.fexitd.List", NULL, NULL, 0, &reply, NULL, NULL);
        if (r < 0)
                return r;
        l = calloc(1, sizeof(*l));
        if (!l)
                return client_fail(c, -ENOMEM, "out of memory");
        r = handles_from_json(json_object_object_get(reply, "handles"), &l->handles, &l->n_handles);
        if (r < 0) {
                free(l);
                return client_bad_reply(c, r, "io.fexitd.List");
        }
        *ret = l;
        return 0;
}

FEXIT_API int fexit_client_status(struct fexit_client *c, struct fexit_status **ret) {
        _cleanup_json_ json_object *reply = NULL;
        int r;

        if (!c || !ret)
                return -EINVAL;
        r = client_call(c, "io.fexitd.Status", NULL, NULL, 0, &reply, NULL, NULL);
        if (r < 0)
                return r;
        r = status_from_json(reply, ret);
        return r < 0 ? client_bad_reply(c, r, "io.fexitd.Status") : 0;
}

FEXIT_API int fexit_client_get_info(struct fexit_client *c, struct fexit_service_info **ret) {
        _cleanup_json_ json_object *reply = NULL;
        int r;

        if (!c || !ret)
                return -EINVAL;
        r = client_call(c, "org.varlink.service.GetInfo", NULL, NULL, 0, &reply, NULL, NULL);
        if (r < 0)
                return r;
        r = service_info_from_json(reply, ret);
        return r < 0 ? client_bad_reply(c, r, "org.varlink.service.GetInfo") : 0;
}

FEXIT_API int fexit_client_call_json(struct fexit_client *c, const char *method,
                                     const char *params_json, const int *fds, size_t n_fds,
                                     char **ret_reply_json, int *ret_fds, size_t *ret_n_fds) {
        _cleanup_json_ json_object *p = NULL, *reply = NULL;
        _cleanup_free_ char *full = NULL;
        char *text;
        int r;

        if (!c || !method || !*method || !ret_reply_json || (n_fds > 0 && !fds) || (ret_fds && !ret_n_fds))
                return -EINVAL;
        if (params_json && vl_json_parse(params_json, &p) < 0)
                return client_fail(c, -EINVAL, "the parameters are not a JSON object");
        /* the daemon refuses it too; a caller that sent one meant some other string */
        if (vl_json_has_nul(p))
                return client_fail(c, -EINVAL, "a string in the parameters contains a NUL (\\u0000)");
        if (!strchr(method, '.') && asprintf(&full, "io.fexitd.%s", method) < 0)
                return client_fail(c, -ENOMEM, "out of memory");
        r = client_call(c, full ? full : method, TAKE_PTR(p), fds, n_fds, &reply, ret_fds, ret_n_fds);
        if (r < 0)
                return r;
        text = strdup(c->last_reply);
        if (!text) {
                if (ret_fds && ret_n_fds)
                        close_many(ret_fds, *ret_n_fds);
                return client_fail(c, -ENOMEM, "out of memory");
        }
        *ret_reply_json = text;
        return 0;
}
