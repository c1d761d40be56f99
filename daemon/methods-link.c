/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "daemon/bpf-backend.h"
#include "daemon/holder.h"
#include "daemon/log.h"
#include "daemon/methods.h"

struct attach_params {
        int64_t handle;
        const char *lifetime;
        bool group;
        json_object *grants;
};

struct attach_item {
        uint64_t program;
        int prog_fd;             /* our own dup: the handle may be unloaded meanwhile */
        int link_fd;
        uint32_t link_id;
        uint32_t *btf_ids;       /* a multi-link program: a copy of its functions' ids */
        char **functions;        /* ... and names */
        size_t n_btf_ids;
        struct bb_multi_attach multi; /* ... and what its link left out */
        uint64_t link;           /* the new link's handle, once registered */
};

struct attach_job {
        struct job job;
        struct call *call;
        enum handle_lifetime lifetime;
        struct grant grants[GRANTS_MAX];   /* given at attach time, added to the program's */
        size_t n_grants;
        int r;
        struct bb_error err;
        size_t n;
        struct attach_item items[];
};

static void item_free_functions(struct attach_item *it) {
        for (size_t i = 0; it->functions && i < it->n_btf_ids; i++)
                free(it->functions[i]);
        free(it->functions);
        free(it->btf_ids);
        it->functions = NULL;
        it->btf_ids = NULL;
}

/* Closes what the job still holds: fds not handed to a handle or a close job. */
static struct attach_job *attach_job_free(struct attach_job *j) {
        if (!j)
                return NULL;
        for (size_t i = 0; i < j->n; i++) {
                safe_close(j->items[i].prog_fd);
                safe_close(j->items[i].link_fd);
                item_free_functions(&j->items[i]);
                bb_multi_attach_done(&j->items[i].multi);
        }
        bb_error_clear(&j->err);
        free(j);
        return NULL;
}
DEFINE_TRIVIAL_CLEANUP_FUNC(struct attach_job *, attach_job_free);

static int attach_item_run(struct attach_item *it, struct bb_error *err) {
        int r;

        if (!it->btf_ids)
                return bb_attach(it->prog_fd, &it->link_fd, &it->link_id, err);
        r = bb_attach_multi(it->prog_fd, it->functions, it->btf_ids, it->n_btf_ids, &it->multi, err);
        if (r < 0)
                return r;
        it->link_fd = TAKE_FD(it->multi.link_fd);
        it->link_id = it->multi.link_id;
        return 0;
}

/* All or nothing: if one attach fails, what did attach is detached again, here on the worker. A
 * multi-link may leave out functions the kernel refuses (it.multi says which). */
static void attach_run(struct job *job) {
        struct attach_job *j = (struct attach_job *) job;

        for (size_t i = 0; i < j->n && j->r >= 0; i++)
                j->r = attach_item_run(&j->items[i], &j->err);
        for (size_t i = 0; i < j->n; i++) {
                item_free_functions(&j->items[i]);
                j->items[i].prog_fd = safe_close(j->items[i].prog_fd);
                if (j->r < 0)
                        j->items[i].link_fd = safe_close(j->items[i].link_fd);
        }
}

/* A copy of s in *ret, NULL for NULL; -ENOMEM. */
static int strdup_or_null(const char *s, char **ret) {
        *ret = s ? strdup(s) : NULL;
        return s && !*ret ? -ENOMEM : 0;
}

struct handle *link_handle_new(const struct call *c, const struct handle *prog, enum handle_lifetime lifetime) {
        _cleanup_(handle_freep) struct handle *l = handle_new(HANDLE_LINK, prog->name);

        if (!l || strdup_or_null(prog->function, &l->function) < 0 ||
            strdup_or_null(prog->btf_object, &l->btf_object) < 0 ||
            strdup_or_null(prog->source, &l->source) < 0 ||
            (prog->multi && handle_set_functions(l, prog->functions, prog->btf_ids, prog->n_functions) < 0))
                return NULL;
        l->lifetime = lifetime;
        l->state = HSTATE_ATTACHED;
        l->btf_id = prog->btf_id;
        l->target_prog_id = prog->target_prog_id;
        l->program = prog->id;
        l->group = prog->group;
        l->owner_uid = c->peer.uid;
        l->owner_pid = c->peer.pid;
        l->conn_id = lifetime == LIFETIME_CONNECTION ? c->conn_id : 0;
        l->created_usec = now_usec(CLOCK_REALTIME);
        memcpy(l->grants, prog->grants, sizeof(l->grants));
        l->n_grants = prog->n_grants;
        return TAKE_PTR(l);
}

/* The link of an attach job, in the table: its program's grants and the attach's. */
static struct handle *link_new(struct call *c, const struct handle *prog, const struct attach_job *j) {
        _cleanup_(handle_freep) struct handle *l = link_handle_new(c, prog, j->lifetime);

        if (!l)
                return NULL;
        for (size_t i = 0; i < j->n_grants && l->n_grants < GRANTS_MAX; i++)
                l->grants[l->n_grants++] = j->grants[i];
        if (handle_table_add(&c->server->handles, l) < 0)
                return NULL;
        return TAKE_PTR(l);
}

/* Programs with no link of ours left are "loaded" again. */
static void update_program_state(struct server *s, uint64_t program) {
        struct handle *p = handle_table_get(&s->handles, program), *o;

        if (!p)
                return;
        HANDLE_TABLE_FOREACH(&s->handles, o, i)
                if (o->kind == HANDLE_LINK && o->program == program && o->state == HSTATE_ATTACHED)
                        return;
        p->state = HSTATE_LOADED;
}

/* Registers one new link as it->link. -ENOENT if its program was unloaded meanwhile, or the
 * client left and the link was to be its own (its fd then goes to a close job); -ENOMEM if
 * it could not be registered (its fd stays in it). */
static int attach_register(struct attach_job *j, struct attach_item *it, bool gone) {
        struct call *c = j->call;
        struct server *s = c->server;
        struct handle *prog = handle_table_get(&s->handles, it->program), *l;

        if (!prog || (gone && j->lifetime == LIFETIME_CONNECTION)) {
                worker_pool_close_fds(s->pool, &it->link_fd, 1, NULL, NULL);
                return -ENOENT;
        }
        l = link_new(c, prog, j);
        if (!l)
                return -ENOMEM;
        l->fd = TAKE_FD(it->link_fd);
        l->kernel_id = it->link_id;
        it->link = l->id;
        handle_drop_functions(l, it->multi.skipped_index, it->multi.n_skipped);
        prog->state = HSTATE_ATTACHED;
        if (l->lifetime == LIFETIME_PERSISTENT)
                (void) state_pin(s, l);
        log_full(LOG_INFO, &(struct log_ctx) { .handle = l->id, .kernel_id = l->kernel_id,
                                               .function = l->function, .uid = c->peer.uid,
                                               .pid = c->peer.pid },
                 "Attached program handle %" PRIu64 " to %s (link id %u, handle %" PRIu64 ")",
                 prog->id, l->function, l->kernel_id, l->id);
        return 0;
}

/* Drops the links registered so far and closes every link fd of the job: on the loop's thread,
 * slow, but only after an allocation failure. */
static void attach_unregister_all(struct attach_job *j) {
        struct server *s = j->call->server;

        for (size_t i = 0; i < j->n; i++) {
                if (j->items[i].link)
                        j->items[i].link_fd = server_drop_handle(s, j->items[i].link);
                j->items[i].link_fd = safe_close(j->items[i].link_fd);
                j->items[i].link = 0;
                update_program_state(s, j->items[i].program);
        }
}

/* Registers every new link, all or nothing: on an allocation failure (here or in the reply's
 * description of them) the links registered so far are dropped, every link fd is closed, and
 * -ENOMEM is returned; otherwise links lists the new links. */
static int attach_register_all(struct attach_job *j, bool gone, json_object *links) {
        struct server *s = j->call->server;
        int r = 0;

        for (size_t i = 0; i < j->n && r >= 0; i++)
                if (attach_register(j, &j->items[i], gone) == -ENOMEM)
                        r = -ENOMEM;
                else if (j->items[i].link)
                        vl_append(links, handle_to_json(s, handle_table_get(&s->handles, j->items[i].link)));
        if (r >= 0 && !vl_broken(links))
                return 0;
        attach_unregister_all(j);
        return -ENOMEM;
}

/* The functions the job's multi-links left out, all items together. */
static json_object *attach_skipped_to_json(const struct attach_job *j) {
        json_object *a = vl_array();

        for (size_t i = 0; i < j->n; i++)
                skipped_to_json(a, j->items[i].multi.skipped, j->items[i].multi.n_skipped);
        return a;
}

static void attach_done(struct job *job) {
        _cleanup_(attach_job_freep) struct attach_job *j = (struct attach_job *) job;
        struct call *c = j->call;
        struct server *s = c->server;
        uint64_t conn_id = c->conn_id;
        bool gone = !c->conn;   /* c is freed by the reply */
        json_object *p = NULL, *links = vl_array();
        struct handle *h;
        int r = 0;

        for (size_t i = 0; i < j->n; i++)
                if ((h = handle_table_get(&s->handles, j->items[i].program)))
                        h->busy = false;
        if (j->r >= 0)
                r = attach_register_all(j, gone, links);
        if (j->r < 0)
                call_reply_bb_error(c, &j->err);
        else if (r < 0)
                call_reply_errno(c, "attach", r);
        else if (json_object_array_length(links) == 0)
                call_reply_code(c, ERR_NO_SUCH_HANDLE, &(struct error_args) { .handle = (int64_t) j->items[0].program });
        else {
                p = vl_obj();
                vl_add(p, "link", json_object_get(json_object_array_get_idx(links, 0)));
                vl_add(p, "links", json_object_get(links));
                vl_add(p, "skipped", attach_skipped_to_json(j));
                if (vl_broken(p)) {   /* a reply that cannot name the links: there are none */
                        vl_put(p);
                        attach_unregister_all(j);
                        call_reply_errno(c, "attach", ENOMEM);
                } else {
                        if (j->lifetime == LIFETIME_PERSISTENT)
                                (void) state_save(s);
                        server_notify_status(s);
                        call_reply(c, p);
                }
        }
        vl_put(links);
        /* a connection-bound program whose client left during the attach goes now */
        if (gone)
                server_release_connection(s, conn_id);
}

/* The program itself, or with group every program of its load not attached by us yet. */
static size_t attach_targets(struct server *s, const struct handle *h, bool group, struct handle **ret, size_t max) {
        struct handle *o;
        size_t n = 0;

        if (!group) {
                ret[0] = (struct handle *) h;
                return 1;
        }
        HANDLE_TABLE_FOREACH(&s->handles, o, i)
                if (n < max && o->kind == HANDLE_PROGRAM && o->group == h->group &&
                    o->state == HSTATE_LOADED && !o->busy && o->fd >= 0)
                        ret[n++] = o;
        return n;
}

#define ATTACH_GROUP_MAX 1024

static int attach_item_init(struct attach_item *it, const struct handle *prog) {
        *it = (struct attach_item) { .program = prog->id, .link_fd = -EBADF,
                                     .prog_fd = fd_dup_cloexec(prog->fd),
                                     .multi = { .link_fd = -EBADF } };
        if (it->prog_fd < 0)
                return it->prog_fd;
        if (!prog->multi)
                return 0;
        /* the job owns copies: the handle may be unloaded while it runs */
        it->btf_ids = malloc(prog->n_functions * sizeof(uint32_t));
        it->functions = calloc(prog->n_functions, sizeof(char *));
        if (!it->btf_ids || !it->functions)
                return -ENOMEM;
        it->n_btf_ids = prog->n_functions;
        memcpy(it->btf_ids, prog->btf_ids, prog->n_functions * sizeof(uint32_t));
        for (size_t i = 0; i < prog->n_functions; i++)
                if (!(it->functions[i] = strdup(prog->functions[i])))
                        return -ENOMEM;
        return 0;
}

static int method_attach(struct call *c, void *params) {
        struct attach_params *p = params;
        _cleanup_free_ struct handle **targets = NULL;
        _cleanup_(attach_job_freep) struct attach_job *j = NULL;
        struct handle *h;
        int lifetime, r;
        size_t n;

        r = call_get_handle(c, p->handle, HANDLE_PROGRAM, ACCESS_USE, &h);
        if (r != 0)
                return r;
        lifetime = p->lifetime ? handle_lifetime_from_string(p->lifetime) : (int) h->lifetime;
        if (lifetime < 0)
                return call_invalid_parameter(c, "lifetime");
        targets = calloc(ATTACH_GROUP_MAX, sizeof(*targets));
        if (!targets)
                return -ENOMEM;
        n = attach_targets(c->server, h, p->group, targets, ATTACH_GROUP_MAX);
        if (n == 0)
                return -EBUSY;   /* the whole group is attached */
        j = calloc(1, sizeof(*j) + n * sizeof(struct attach_item));
        if (!j)
                return -ENOMEM;
        *j = (struct attach_job) { .job = { .run = attach_run, .done = attach_done }, .call = c,
                                   .lifetime = (enum handle_lifetime) lifetime };
        if (grants_from_json(p->grants, j->grants, &j->n_grants) < 0)
                return call_invalid_parameter(c, "grants");
        /* n counts the items that hold something, for attach_job_free() */
        while (j->n < n) {
                if (targets[j->n]->multi && targets[j->n]->n_functions == 0)
                        return CALL_ERROR(c, ERR_FUNCTIONS_UNKNOWN, .handle = (int64_t) targets[j->n]->id,
                                          .reason = "a multi-link program rebuilt from its pin without "
                                          "its state record: the kernel keeps a multi program's "
                                          "functions only with its links, and it has none. Unload "
                                          "it and load it again");
                r = attach_item_init(&j->items[j->n], targets[j->n]);
                j->n++;   /* a half-made item too: attach_job_free() frees what it holds */
                if (r < 0)
                        return r;
        }
        for (size_t i = 0; i < n; i++)
                targets[i]->busy = true;
        call_submit(c, &TAKE_PTR(j)->job);
        return 0;
}

struct detach_params {
        int64_t handle;
        bool group;
};

static int method_detach(struct call *c, void *params) {
        struct detach_params *p = params;
        struct server *s = c->server;
        _cleanup_fd_list_ struct fd_list l = {};
        struct handle *h, *o;
        uint64_t group, first;
        int r;

        r = call_get_handle(c, p->handle, HANDLE_LINK, ACCESS_USE, &h);
        if (r != 0)
                return r;
        if (h->state == HSTATE_HANDED_OFF) {
                char reason[160];
                snprintf(reason, sizeof(reason),
                         "handed off to uid %u pid %d: a tracing link detaches only when its holder "
                         "closes its last fd", (unsigned) h->holder_uid, (int) h->holder_pid);
                return CALL_ERROR(c, ERR_NOT_DETACHABLE, .handle = (int64_t) h->id, .reason = reason);
        }
        if (fd_list_reserve(&l, s->handles.n) < 0)
                return -ENOMEM;   /* nothing was dropped */
        group = h->group;
        first = h->id;
        for (size_t i = 0; i < s->handles.n;) {
                o = s->handles.v[i];
                if (o->id != first && !(p->group && o->kind == HANDLE_LINK && o->group == group &&
                                o->state == HSTATE_ATTACHED && !o->busy && peer_may(s, &c->peer, o, ACCESS_USE))) {
                        i++;
                        continue;
                }
                log_full(LOG_INFO, &(struct log_ctx) { .handle = o->id, .kernel_id = o->kernel_id,
                                                       .function = o->function, .uid = c->peer.uid,
                                                       .pid = c->peer.pid },
                         "Detaching link handle %" PRIu64 " from %s", o->id, o->function);
                uint64_t program = o->program;
                fd_list_drop(s, &l, o->id);
                update_program_state(s, program);
        }
        server_notify_status(s);
        call_reply_after_close(c, &l);   /* and saves the state when it changed */
        return 0;
}

/* A reply with one fd that waits for state.json. */
struct saved_reply {
        struct call *call;
        json_object *params;
        int fd;
};

static void saved_reply_send(void *userdata) {
        struct saved_reply *x = userdata;

        call_reply_fds(x->call, x->params, &x->fd, 1);
        free(x);
}

/* Replies params and fd once the state is saved; on the loop at once without memory to wait. */
static void reply_fd_after_save(struct call *c, json_object *params, int fd) {
        struct saved_reply *x = malloc(sizeof(*x));

        if (!x) {
                (void) state_save(c->server);
                call_reply_fds(c, params, &fd, 1);
                return;
        }
        *x = (struct saved_reply) { .call = c, .params = params, .fd = fd };
        call_defer(c);
        state_save_then(c->server, saved_reply_send, x);
}

static int method_take_link(struct call *c, void *params) {
        struct server *s = c->server;
        struct handle *h;
        json_object *p;
        int fd, r;

        r = call_get_handle(c, ((struct handle_params *) params)->handle, HANDLE_LINK, ACCESS_USE, &h);
        if (r != 0)
                return r;
        if (h->state == HSTATE_HANDED_OFF)
                return CALL_ERROR(c, ERR_NOT_DETACHABLE, .handle = (int64_t) h->id,
                                  .reason = "the link was already handed off");
        /* Without the pin and our fd, the receiver's last close is what detaches the link. */
        state_unpin(s, h);
        fd = TAKE_FD(h->fd);
        h->state = HSTATE_HANDED_OFF;
        h->holder_uid = c->peer.uid;
        h->holder_pid = c->peer.pid;
        holder_watch(s, h, true);
        h->conn_id = 0;
        update_program_state(s, h->program);
        log_full(LOG_INFO, &(struct log_ctx) { .handle = h->id, .kernel_id = h->kernel_id,
                                               .function = h->function, .uid = c->peer.uid,
                                               .pid = c->peer.pid },
                 "Handed off link handle %" PRIu64 " (link id %u) to uid %u pid %d", h->id,
                 h->kernel_id, (unsigned) c->peer.uid, (int) c->peer.pid);
        server_notify_status(s);
        p = vl_obj();
        vl_add_int(p, "fd", 0);
        vl_add(p, "link", handle_to_json(s, h));
        if (h->lifetime == LIFETIME_PERSISTENT)
                reply_fd_after_save(c, p, fd);   /* the holder's record must survive a crash first */
        else
                call_reply_fds(c, p, &fd, 1);
        return 0;
}

static int method_share_map(struct call *c, void *params) {
        struct handle *h;
        bool writable, was_frozen;
        json_object *p;
        int fd, r;

        r = call_get_handle(c, ((struct handle_params *) params)->handle, HANDLE_MAP, ACCESS_SHARE, &h);
        if (r != 0)
                return r;
        was_frozen = h->frozen;
        fd = bb_map_share(h->fd, c->server->cfg.pin_dir, &h->frozen, &writable);
        if (h->frozen && !was_frozen && h->lifetime == LIFETIME_PERSISTENT)
                (void) state_save(c->server);
        if (fd < 0)
                return fd;
        log_full(LOG_INFO, &(struct log_ctx) { .handle = h->id, .kernel_id = h->kernel_id,
                                               .uid = c->peer.uid, .pid = c->peer.pid },
                 "Shared map handle %" PRIu64 " (%s, %s)", h->id, h->name, writable ? "read-write" : "read-only");
        p = vl_obj();
        vl_add_int(p, "fd", 0);
        vl_add(p, "map", handle_to_json(c->server, h));
        vl_add_bool(p, "writable", writable);
        call_reply_fds(c, p, &fd, 1);
        return 0;
}

const struct method methods_link[] = {
        { "io.fexitd.Attach", method_attach, ROLE_CONSUMER,
          (const struct vl_param[]) {
                  { "handle", VL_INT, true, offsetof(struct attach_params, handle) },
                  { "lifetime", VL_STRING, false, offsetof(struct attach_params, lifetime) },
                  { "group", VL_BOOL, false, offsetof(struct attach_params, group) },
                  { "grants", VL_ARRAY, false, offsetof(struct attach_params, grants) },
                  {} },
          sizeof(struct attach_params), 0, .operation = "attach" },
        { "io.fexitd.Detach", method_detach, ROLE_CONSUMER,
          (const struct vl_param[]) {
                  { "handle", VL_INT, true, offsetof(struct detach_params, handle) },
                  { "group", VL_BOOL, false, offsetof(struct detach_params, group) },
                  {} },
          sizeof(struct detach_params), 0, .operation = "detach" },
        { "io.fexitd.TakeLink", method_take_link, ROLE_CONSUMER, (const struct vl_param[]) HANDLE_PARAM,
          sizeof(struct handle_params), 0, true },
        { "io.fexitd.ShareMap", method_share_map, ROLE_CONSUMER, (const struct vl_param[]) HANDLE_PARAM,
          sizeof(struct handle_params), 0, true, .operation = "share-map" },
        {}
};
