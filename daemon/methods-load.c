/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <fcntl.h>
#include <malloc.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "daemon/bpf-backend.h"
#include "daemon/btf-index.h"
#include "daemon/log.h"
#include "daemon/methods.h"
#include "daemon/policy.h"

#define SELECT_MAX 64
/* Function names and globs in one request, all selects together: a multi-link program takes
 * thousands (the 1 MiB message bounds the names); instances stay within BB_INSTANCES_MAX. */
#define FUNCTIONS_MAX 16384
#define GLOBS_MAX 32         /* each glob scans the whole BTF index */

struct load_params {
        int64_t object;
        const char *catalog;
        const char *name;
        json_object *programs;
        const char *lifetime;
        json_object *grants;
        bool attach;
};

struct select_params {
        const char *name;
        const char *function;
        uint32_t target_prog_id;
        json_object *functions;
};

struct load_job {
        struct job job;
        struct call *call;
        int object_fd;
        const char *catalog;
        const char *object_name;
        struct bb_select select[SELECT_MAX];
        size_t n_select;
        enum handle_lifetime lifetime;
        struct grant grants[GRANTS_MAX];
        size_t n_grants;
        bool attach;

        int r;
        struct bb_load_result res;
        struct bb_error err;
        int *link_fds;
        uint32_t *link_ids;
        struct bb_multi_attach *multi;   /* per program: what its multi-link left out */
};

/* The handles a Load registered so far, to drop them again if it cannot reply them all. */
struct registered {
        uint64_t *ids;
        size_t n, cap;
};

static void registered_done(struct registered *r) {
        free(r->ids);
}

static struct load_job *load_job_free(struct load_job *j) {
        if (!j)
                return NULL;
        for (size_t i = 0; i < j->n_select; i++)
                free((void *) j->select[i].functions);
        safe_close(j->object_fd);
        bb_load_result_free(&j->res);
        bb_error_clear(&j->err);
        if (j->link_fds)
                for (size_t i = 0; i < j->res.n_progs; i++)
                        safe_close(j->link_fds[i]);
        free(j->link_fds);
        free(j->link_ids);
        for (size_t i = 0; j->multi && i < j->res.n_progs; i++)
                bb_multi_attach_done(&j->multi[i]);
        free(j->multi);
        free(j);
        return NULL;
}
DEFINE_TRIVIAL_CLEANUP_FUNC(struct load_job *, load_job_free);

/* A catalog name is a plain file name; the object is NAME.bpf.o in the first catalog dir that
 * has it. The daemon opens only these administrator-installed files, never a client's path. */
static int catalog_open(const char *dirs, const char *name, struct bb_error *err) {
        char path[4096];
        const char *d = dirs;

        if (!policy_entry_name_valid(name))   /* the spec refused it already: never a path */
                goto not_found;
        while (d && *d) {
                const char *end = strchrnul(d, ':');
                int fd;

                snprintf(path, sizeof(path), "%.*s/%s.bpf.o", (int) (end - d), d, name);
                fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
                if (fd >= 0)
                        return fd_move_above_stdio(fd);
                d = *end ? end + 1 : NULL;
        }
not_found:
        err->kind = BB_ERR_KERNEL;   /* mapped to NoSuchCatalogEntry by the caller */
        err->err = ENOENT;
        return -ENOENT;
}

/* Attaches multi program i; the functions the kernel refused stay in j->multi[i], for the reply's
 * skipped and the link's functions (the link covers the rest; each keeps its cookie). */
static int load_attach_multi(struct load_job *j, size_t i) {
        struct bb_prog *p = &j->res.progs[i];
        int r;

        r = bb_attach_multi(p->fd, p->functions, p->btf_ids, p->n_functions, &j->multi[i], &j->err);
        if (r < 0)
                return r;
        j->link_fds[i] = TAKE_FD(j->multi[i].link_fd);
        j->link_ids[i] = j->multi[i].link_id;
        return 0;
}

static void load_run(struct job *job) {
        struct load_job *j = (struct load_job *) job;
        struct bb_load_request req;

        if (j->catalog) {
                j->object_fd = catalog_open(j->call->server->cfg.catalog_dirs, j->catalog, &j->err);
                if (j->object_fd < 0) {
                        j->r = j->object_fd;
                        return;
                }
        }
        req = (struct bb_load_request) { .object_fd = j->object_fd, .select = j->select,
                                         .n_select = j->n_select, .object_name = j->object_name,
                                         .multi_link = j->call->server->tracing_multi };
        j->r = bb_load(&req, &j->res, &j->err);
        if (j->r < 0 || !j->attach)
                return;
        j->link_fds = malloc(j->res.n_progs * sizeof(int));
        j->link_ids = calloc(j->res.n_progs, sizeof(uint32_t));
        j->multi = calloc(j->res.n_progs, sizeof(*j->multi));
        if (!j->link_fds || !j->link_ids || !j->multi) {
                j->r = -ENOMEM;
                return;
        }
        for (size_t i = 0; i < j->res.n_progs; i++)
                j->link_fds[i] = j->multi[i].link_fd = -EBADF;
        for (size_t i = 0; i < j->res.n_progs && j->r >= 0; i++) {
                const struct bb_prog *p = &j->res.progs[i];

                if (p->multi)
                        j->r = load_attach_multi(j, i);
                else
                        j->r = bb_attach(p->fd, &j->link_fds[i], &j->link_ids[i], &j->err);
        }
        /* all or nothing: detach what did attach, here rather than on the loop's thread */
        if (j->r < 0)
                close_many(j->link_fds, j->res.n_progs);
}

/* A load parses vmlinux BTF inside libbpf (megabytes, freed at once); without a trim, the
 * worker's malloc arena keeps those pages and the daemon's RSS grows with every load. */
static void load_run_and_trim(struct job *job) {
        load_run(job);
        (void) malloc_trim(0);
}

/* A new handle owned by the caller of c, with the load's lifetime and grants. */
static struct handle *handle_for_call(struct load_job *j, enum handle_kind kind, const char *name) {
        struct call *c = j->call;
        struct handle *h = handle_new(kind, name);

        if (!h)
                return NULL;
        h->lifetime = j->lifetime;
        h->owner_uid = c->peer.uid;
        h->owner_pid = c->peer.pid;
        h->conn_id = j->lifetime == LIFETIME_CONNECTION ? c->conn_id : 0;
        h->created_usec = now_usec(CLOCK_REALTIME);
        memcpy(h->grants, j->grants, j->n_grants * sizeof(struct grant));
        h->n_grants = j->n_grants;
        if ((c->origin || j->catalog) && !(h->source = strdup(c->origin ? c->origin : j->catalog)))
                return handle_free(h);   /* without its source the policy would judge it wrongly */
        return h;
}

static int set_target(struct handle *h, const struct bb_prog *p) {
        h->function = strdup(p->function ? p->function : "");
        h->btf_object = strdup(p->btf_object ? p->btf_object : "");
        h->btf_id = p->btf_id;
        h->target_prog_id = p->target_prog_id;
        if (!h->function || !h->btf_object)
                return -ENOMEM;
        return p->multi ? handle_set_functions(h, p->functions, p->btf_ids, p->n_functions) : 0;
}

/* Moves one result object into the table; its fd moves with it. */
static struct handle *adopt(struct server *s, struct handle *h, int *fd, uint32_t kernel_id) {
        if (!h || handle_table_add(&s->handles, h) < 0) {
                handle_free(h);
                return NULL;
        }
        h->fd = TAKE_FD(*fd);
        h->kernel_id = kernel_id;
        return h;
}

/* Drops what a failed registration had added; their fds are closed here, on the loop's thread
 * (slow for links, but only after an allocation failure). */
static void unregister(struct server *s, struct registered *r) {
        for (; r->n > 0; r->n--)   /* links before the programs they were added after */
                safe_close(server_drop_handle(s, r->ids[r->n - 1]));
}

/* Notes h, just added to the table, in r; without room it goes again at once. */
static int registered_add(struct server *s, struct registered *r, const struct handle *h) {
        if (ARRAY_APPEND(r->ids, r->n, r->cap, h->id) >= 0)
                return 0;
        safe_close(server_drop_handle(s, h->id));
        return -ENOMEM;
}

/* Moves every result object into the table, notes it in reg and describes it in the arrays.
 * All or nothing: on an allocation failure what was added goes again, the rest stays in the
 * job (closed with it), and -ENOMEM tells the caller to say so instead of replying a Load with
 * handles left out. */
static int register_results(struct load_job *j, struct registered *reg, json_object *progs,
                            json_object *maps, json_object *links) {
        struct server *s = j->call->server;
        uint64_t group = 0;

        for (size_t i = 0; i < j->res.n_progs; i++) {
                struct bb_prog *p = &j->res.progs[i];
                struct handle *h = handle_for_call(j, HANDLE_PROGRAM, p->name), *l;

                if (h && set_target(h, p) < 0)
                        h = handle_free(h);
                if (!(h = adopt(s, h, &p->fd, p->id)))
                        goto fail;   /* p->fd stays in res and is closed with it */
                if (registered_add(s, reg, h) < 0)
                        goto fail;
                h->group = group = group ? group : h->id;
                vl_append(progs, handle_to_json(s, h));
                log_full(LOG_INFO, &(struct log_ctx) { .handle = h->id, .kernel_id = p->id,
                                                       .function = p->function, .uid = h->owner_uid,
                                                       .pid = h->owner_pid },
                         "Loaded program %s on %s%s (prog id %u, handle %" PRIu64 ")", p->name,
                         p->function, p->multi ? " and the rest of its functions, one multi-link "
                                                 "program" : "", p->id, h->id);
                if (!j->link_fds)
                        continue;
                if (!(l = adopt(s, link_handle_new(j->call, h, j->lifetime), &j->link_fds[i], j->link_ids[i])) ||
                    registered_add(s, reg, l) < 0)
                        goto fail;
                handle_drop_functions(l, j->multi[i].skipped_index, j->multi[i].n_skipped);
                h->state = HSTATE_ATTACHED;
                vl_append(links, handle_to_json(s, l));
        }
        for (size_t i = 0; i < j->res.n_maps; i++) {
                struct bb_map *m = &j->res.maps[i];
                struct handle *h = adopt(s, handle_for_call(j, HANDLE_MAP, m->name), &m->fd, m->id);

                if (!h || registered_add(s, reg, h) < 0)
                        goto fail;
                h->program = h->group = group;
                h->map_type = m->type;
                h->key_size = m->key_size;
                h->value_size = m->value_size;
                h->max_entries = m->max_entries;
                h->map_flags = m->flags;
                vl_append(maps, handle_to_json(s, h));
        }
        if (vl_broken(progs) || vl_broken(maps) || vl_broken(links))
                goto fail;
        return 0;
fail:
        unregister(s, reg);
        return -ENOMEM;
}

static void pin_group(struct server *s, json_object *arrays[3]) {
        for (size_t a = 0; a < 3; a++)
                for (size_t i = 0; i < json_object_array_length(arrays[a]); i++) {
                        json_object *o = json_object_array_get_idx(arrays[a], i);
                        struct handle *h = handle_table_get(&s->handles, (uint64_t) vl_get_int(o, "handle", 0));
                        if (h)
                                (void) state_pin(s, h);
                }
        (void) state_save(s);
}

/* "multi-link" when a program of the load is one for many functions, else "instances". */
static const char *load_mode(const struct load_job *j) {
        for (size_t i = 0; i < j->res.n_progs; i++)
                if (j->res.progs[i].multi)
                        return "multi-link";
        return "instances";
}

static void load_done(struct job *job) {
        _cleanup_(load_job_freep) struct load_job *j = (struct load_job *) job;
        _cleanup_(registered_done) struct registered reg = {};
        struct call *c = j->call;
        struct server *s = c->server;   /* c is freed by the reply */
        json_object *p, *arrays[3], *skipped;

        if (j->r < 0) {
                if (j->catalog && j->object_fd < 0)
                        call_reply_code(c, ERR_NO_SUCH_CATALOG_ENTRY, &(struct error_args) { .name = j->catalog });
                else if (j->err.kind != BB_ERR_NONE)
                        call_reply_bb_error(c, &j->err);
                else
                        call_reply_errno(c, "load", j->r);
                return;
        }
        if (!c->conn && j->lifetime == LIFETIME_CONNECTION) {
                /* the client left while we worked: its connection-bound objects go with it */
                call_reply(c, NULL);
                worker_pool_close_fds(s->pool, j->link_fds, j->link_fds ? j->res.n_progs : 0, NULL, NULL);
                return;
        }
        for (size_t a = 0; a < 3; a++)
                arrays[a] = vl_array();
        if (register_results(j, &reg, arrays[0], arrays[1], arrays[2]) < 0) {
                for (size_t a = 0; a < 3; a++)
                        vl_put(arrays[a]);
                call_reply_errno(c, "load", ENOMEM);
                return;
        }
        skipped = skipped_to_json(NULL, j->res.skipped, j->res.n_skipped);
        for (size_t i = 0; j->multi && i < j->res.n_progs; i++)
                skipped_to_json(skipped, j->multi[i].skipped, j->multi[i].n_skipped);
        p = vl_obj();
        vl_add_str(p, "mode", load_mode(j));
        if (j->res.multi_fallback)
                vl_add_str(p, "mode_reason", j->res.multi_fallback);
        vl_add(p, "programs", arrays[0]);
        vl_add(p, "maps", arrays[1]);
        vl_add(p, "links", arrays[2]);
        vl_add(p, "skipped", skipped);
        if (vl_broken(p)) {   /* a reply that cannot say what was loaded: nothing was */
                vl_put(p);
                unregister(s, &reg);
                call_reply_errno(c, "load", ENOMEM);
                return;
        }
        if (j->lifetime == LIFETIME_PERSISTENT)
                pin_group(s, arrays);
        server_notify_status(s);
        call_reply(c, p);
}

static int parse_select(json_object *o, struct bb_select *ret) {
        static const struct vl_param spec[] = {
                { "name", VL_STRING, true, offsetof(struct select_params, name) },
                { "function", VL_STRING, false, offsetof(struct select_params, function) },
                { "target_prog_id", VL_UINT32, false, offsetof(struct select_params, target_prog_id) },
                { "functions", VL_ARRAY, false, offsetof(struct select_params, functions) },
                {}
        };
        struct select_params p = {};
        const char *bad;
        size_t n;

        if (!json_object_is_type(o, json_type_object) || vl_params_parse(o, spec, &p, &bad) < 0)
                return -EINVAL;
        *ret = (struct bb_select) { .name = p.name, .function = p.function,
                                    .target_prog_id = p.target_prog_id };
        if (!p.functions)
                return 0;
        n = json_object_array_length(p.functions);
        if (n == 0 || n > FUNCTIONS_MAX || p.function)
                return -EINVAL;
        _cleanup_free_ const char **f = calloc(n, sizeof(char *));
        if (!f)
                return -ENOMEM;
        for (size_t i = 0; i < n; i++) {
                json_object *e = json_object_array_get_idx(p.functions, i);
                if (!json_object_is_type(e, json_type_string))
                        return -EINVAL;
                f[i] = json_object_get_string(e);
        }
        ret->functions = TAKE_PTR(f);
        ret->n_functions = n;
        return 0;
}

/* Bounds the work one request can ask of the BTF index. */
static bool over_function_limits(const struct load_job *j, const char **ret_limit, int64_t *ret_max) {
        size_t functions = 0, globs = 0;

        for (size_t i = 0; i < j->n_select; i++)
                for (size_t k = 0; k < j->select[i].n_functions; k++) {
                        functions++;
                        globs += btf_glob_is_pattern(j->select[i].functions[k]);
                }
        if (functions > FUNCTIONS_MAX) {
                *ret_limit = "functions per load";
                *ret_max = FUNCTIONS_MAX;
                return true;
        }
        if (globs > GLOBS_MAX) {
                *ret_limit = "globs per load";
                *ret_max = GLOBS_MAX;
                return true;
        }
        return false;
}

static bool consumer_retargets(json_object *programs) {
        for (size_t i = 0; programs && i < json_object_array_length(programs); i++) {
                json_object *o = json_object_array_get_idx(programs, i);
                if (json_object_object_get_ex(o, "function", NULL) ||
                    json_object_object_get_ex(o, "functions", NULL) ||
                    json_object_object_get_ex(o, "target_prog_id", NULL))
                        return true;
        }
        return false;
}

static int method_load(struct call *c, void *params) {
        struct load_params *p = params;
        _cleanup_(load_job_freep) struct load_job *j = NULL;
        size_t n_sel = p->programs ? json_object_array_length(p->programs) : 0;
        const char *limit;
        int64_t max;
        int lifetime = p->lifetime ? handle_lifetime_from_string(p->lifetime) : LIFETIME_CONNECTION;

        if (lifetime < 0)
                return call_invalid_parameter(c, "lifetime");
        if (n_sel > SELECT_MAX)
                return call_invalid_parameter(c, "programs");
        if (c->peer.role != ROLE_ADMIN) {
                /* Bytecode reads kernel memory: a consumer loads only what the administrator
                 * installed, as installed (retargeting it would make it another program). */
                if (!p->catalog)
                        return call_denied(c, NULL, "consumers may load programs from the catalog only");
                if (!policy_may_load(c->server->policy, &c->peer, p->catalog))
                        return call_denied(c, NULL, "the policy does not let you load this catalog entry");
                if (consumer_retargets(p->programs))
                        return call_denied(c, NULL, "consumers may not change a catalog program's target");
                if (p->name && strcmp(p->name, p->catalog) != 0)
                        return call_denied(c, NULL, "consumers may not rename a catalog object");
        }
        j = calloc(1, sizeof(*j));
        if (!j)
                return -ENOMEM;
        *j = (struct load_job) { .job = { .run = load_run_and_trim, .done = load_done }, .call = c,
                                 .object_fd = -EBADF, .catalog = p->catalog,
                                 .object_name = p->name ? p->name : p->catalog,
                                 .lifetime = (enum handle_lifetime) lifetime, .attach = p->attach };
        for (size_t i = 0; i < n_sel; i++, j->n_select++) {
                int r = parse_select(json_object_array_get_idx(p->programs, i), &j->select[i]);

                if (r == -ENOMEM)
                        return r;   /* not the client's mistake */
                if (r < 0)
                        return call_invalid_parameter(c, "programs");
        }
        if (over_function_limits(j, &limit, &max))
                return CALL_ERROR(c, ERR_LIMIT_EXCEEDED, .limit = limit, .max = max);
        if (grants_from_json(p->grants, j->grants, &j->n_grants) < 0)
                return call_invalid_parameter(c, "grants");
        if (p->catalog ? c->n_fds != 0 : (c->n_fds != 1 || p->object != 0)) {
                /* with one fd the count is right and the index is not */
                bool index = !p->catalog && c->n_fds == 1;

                return CALL_ERROR(c, ERR_INVALID_FDS, .expected_fds = p->catalog ? 0 : 1,
                                  .received_fds = (int64_t) c->n_fds, .parameter = index ? "object" : NULL,
                                  .index = { index, p->object });
        }
        if (!p->catalog)
                j->object_fd = TAKE_FD(c->fds[0]);
        call_submit(c, &TAKE_PTR(j)->job);
        return 0;
}

/* What Unload of program id drops in each pass: its links, itself, then the maps of its load
 * once no other program of that load is left. */
static bool unload_drops(const struct handle *o, size_t pass, uint64_t id, uint64_t group, bool group_left) {
        switch (pass) {
        case 0: return o->kind == HANDLE_LINK && o->program == id && o->state != HSTATE_HANDED_OFF;
        case 1: return o->id == id;
        default: return !group_left && o->kind == HANDLE_MAP && o->group == group;
        }
}

/* Unload: links first (they pin the program), then the program, then the maps of its load once
 * no program of that load is left. The fds are closed on a worker; the reply comes after. All
 * or nothing: the room for every fd is made before anything is dropped. */
static int method_unload(struct call *c, void *params) {
        struct server *s = c->server;
        _cleanup_fd_list_ struct fd_list l = {};
        struct handle *h, *o;
        uint64_t id, group;
        size_t total = 0;
        bool group_left = false;
        int r;

        r = call_get_handle(c, ((struct handle_params *) params)->handle, HANDLE_PROGRAM, ACCESS_OWN, &h);
        if (r != 0)
                return r;
        id = h->id;
        group = h->group;
        HANDLE_TABLE_FOREACH(&s->handles, o, i)
                if (o->kind == HANDLE_PROGRAM && o->group == group && o->id != id)
                        group_left = true;
        for (size_t pass = 0; pass < 3; pass++)
                HANDLE_TABLE_FOREACH(&s->handles, o, i)
                        total += unload_drops(o, pass, id, group, group_left);
        if (fd_list_reserve(&l, total) < 0)
                return -ENOMEM;   /* nothing was dropped */
        for (size_t pass = 0; pass < 3; pass++)
                for (size_t i = 0; i < s->handles.n;) {
                        o = s->handles.v[i];
                        if (!unload_drops(o, pass, id, group, group_left)) {
                                i++;
                                continue;
                        }
                        fd_list_drop(s, &l, o->id);
                }
        server_forget_orphans(s);
        server_notify_status(s);
        call_reply_after_close(c, &l);   /* and saves the state when it changed */
        return 0;
}

const struct method methods_load[] = {
        { "io.fexitd.Load", method_load, ROLE_CONSUMER,
          (const struct vl_param[]) {
                  { "object", VL_INT, false, offsetof(struct load_params, object) },
                  { "catalog", VL_STRING, false, offsetof(struct load_params, catalog), policy_entry_name_valid },
                  /* libbpf names the .bss/.data/.rodata maps after the object: bpftool shows NAME.bss */
                  { "name", VL_STRING, false, offsetof(struct load_params, name), policy_entry_name_valid },
                  { "programs", VL_ARRAY, false, offsetof(struct load_params, programs) },
                  { "lifetime", VL_STRING, false, offsetof(struct load_params, lifetime) },
                  { "grants", VL_ARRAY, false, offsetof(struct load_params, grants) },
                  { "attach", VL_BOOL, false, offsetof(struct load_params, attach) },
                  {} },
          sizeof(struct load_params), 1, .operation = "load" },
        { "io.fexitd.Unload", method_unload, ROLE_CONSUMER,
          (const struct vl_param[]) HANDLE_PARAM, sizeof(struct handle_params), 0, .operation = "unload" },
        {}
};
