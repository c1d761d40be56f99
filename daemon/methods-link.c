/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "daemon/bpf-backend.h"
#include "daemon/log.h"
#include "daemon/methods.h"

/* From linux/bpf.h; this file stays free of bpf headers. */
#define BPF_MAP_TYPE_RINGBUF_ 27
#define BPF_F_MMAPABLE_ (1U << 10)

struct handle_params {
        int64_t handle;
};

struct attach_params {
        int64_t handle;
        const char *lifetime;
};

struct attach_job {
        struct job job;
        struct call *call;
        uint64_t program;
        enum handle_lifetime lifetime;
        int prog_fd;             /* our own dup: the handle may be unloaded meanwhile */
        int link_fd;
        uint32_t link_id;
        int r;
        struct bb_error err;
};

static int dup_fd(int fd) {
        int r = fcntl(fd, F_DUPFD_CLOEXEC, 3);

        return r < 0 ? -errno : r;
}

static void attach_run(struct job *job) {
        struct attach_job *j = (struct attach_job *) job;

        j->r = bb_attach(j->prog_fd, &j->link_fd, &j->link_id, &j->err);
        j->prog_fd = safe_close(j->prog_fd);
}

static struct handle *link_new(struct call *c, const struct handle *prog, struct attach_job *j) {
        struct handle *l = handle_new(HANDLE_LINK, prog->name);
        struct timespec ts;

        if (!l)
                return NULL;
        clock_gettime(CLOCK_REALTIME, &ts);
        l->lifetime = j->lifetime;
        l->state = HSTATE_ATTACHED;
        l->function = prog->function ? strdup(prog->function) : NULL;
        l->btf_object = prog->btf_object ? strdup(prog->btf_object) : NULL;
        l->btf_id = prog->btf_id;
        l->target_prog_id = prog->target_prog_id;
        l->program = prog->id;
        l->group = prog->group;
        l->owner_uid = c->peer.uid;
        l->owner_pid = c->peer.pid;
        l->conn_id = j->lifetime == LIFETIME_CONNECTION ? c->conn_id : 0;
        l->created_usec = (uint64_t) ts.tv_sec * 1000000u + (uint64_t) ts.tv_nsec / 1000u;
        memcpy(l->grants, prog->grants, sizeof(l->grants));
        l->n_grants = prog->n_grants;
        if (handle_table_add(&c->server->handles, l) < 0)
                return handle_free(l);
        return l;
}

static void attach_done(struct job *job) {
        struct attach_job *j = (struct attach_job *) job;
        struct call *c = j->call;
        struct server *s = c->server;
        struct handle *prog = handle_table_get(&s->handles, j->program), *l = NULL;
        uint64_t conn_id = c->conn_id;
        bool gone = !c->conn;   /* c is freed by the reply */
        json_object *p;

        if (prog)
                prog->busy = false;
        if (j->r < 0)
                call_reply_bb_error(c, &j->err);
        else if (!prog || (gone && j->lifetime == LIFETIME_CONNECTION)) {
                /* unloaded meanwhile, or the client left and the link was to be its own */
                worker_pool_close_fds(s->pool, &j->link_fd, 1);
                p = vl_obj();
                vl_add_int(p, "handle", (int64_t) j->program);
                call_reply_error(c, "io.fexitd.NoSuchHandle", p);
        } else if (!(l = link_new(c, prog, j))) {
                worker_pool_close_fds(s->pool, &j->link_fd, 1);
                call_reply_errno(c, "attach", ENOMEM);
        } else {
                l->fd = TAKE_FD(j->link_fd);
                l->kernel_id = j->link_id;
                prog->state = HSTATE_ATTACHED;
                if (l->lifetime == LIFETIME_PERSISTENT) {
                        (void) state_pin(s, l);
                        (void) state_save(s);
                }
                log_full(LOG_INFO, &(struct log_ctx) { .handle = l->id, .kernel_id = l->kernel_id,
                                                       .function = l->function, .uid = c->peer.uid,
                                                       .pid = c->peer.pid },
                         "Attached program handle %" PRIu64 " to %s (link id %u, handle %" PRIu64 ")",
                         prog->id, l->function, l->kernel_id, l->id);
                server_notify_status(s);
                p = vl_obj();
                vl_add(p, "link", handle_to_json(s, l));
                call_reply(c, p);
        }
        /* a connection-bound program whose client left during the attach goes now */
        if (gone)
                server_release_connection(s, conn_id);
        bb_error_clear(&j->err);
        free(j);
}

static void method_attach(struct call *c, void *params) {
        struct attach_params *p = params;
        struct handle *h = call_get_handle(c, p->handle, HANDLE_PROGRAM);
        struct attach_job *j;
        int lifetime;

        if (!h)
                return;
        lifetime = p->lifetime ? handle_lifetime_from_string(p->lifetime) : (int) h->lifetime;
        if (lifetime < 0)
                return call_reply_invalid_parameter(c, "lifetime");
        j = calloc(1, sizeof(*j));
        if (!j)
                return call_reply_errno(c, "attach", ENOMEM);
        *j = (struct attach_job) { .job = { .run = attach_run, .done = attach_done }, .call = c,
                                   .program = h->id, .lifetime = (enum handle_lifetime) lifetime,
                                   .link_fd = -EBADF,
                                   .prog_fd = dup_fd(h->fd) };
        if (j->prog_fd < 0) {
                int r = j->prog_fd;
                free(j);
                return call_reply_errno(c, "attach", r);
        }
        h->busy = true;
        worker_pool_submit(c->server->pool, &j->job);
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

static void method_detach(struct call *c, void *params) {
        struct handle *h = call_get_handle(c, ((struct handle_params *) params)->handle, HANDLE_LINK);
        uint64_t program;
        int fd;

        if (!h)
                return;
        if (h->state == HSTATE_HANDED_OFF) {
                json_object *p = vl_obj();
                char reason[160];
                snprintf(reason, sizeof(reason),
                         "handed off to uid %u pid %d: a tracing link detaches only when its holder "
                         "closes its last fd", (unsigned) h->holder_uid, (int) h->holder_pid);
                vl_add_int(p, "handle", (int64_t) h->id);
                vl_add_str(p, "reason", reason);
                return call_reply_error(c, "io.fexitd.NotDetachable", p);
        }
        program = h->program;
        log_full(LOG_INFO, &(struct log_ctx) { .handle = h->id, .kernel_id = h->kernel_id,
                                               .function = h->function, .uid = c->peer.uid,
                                               .pid = c->peer.pid },
                 "Detaching link handle %" PRIu64 " from %s", h->id, h->function);
        fd = server_drop_handle(c->server, h->id);
        update_program_state(c->server, program);
        (void) state_save(c->server);
        server_notify_status(c->server);
        call_reply_after_close(c, &fd, 1, NULL);
}

static void method_take_link(struct call *c, void *params) {
        struct handle *h = call_get_handle(c, ((struct handle_params *) params)->handle, HANDLE_LINK);
        struct server *s = c->server;
        json_object *p;
        int fd;

        if (!h)
                return;
        if (h->state == HSTATE_HANDED_OFF) {
                p = vl_obj();
                vl_add_int(p, "handle", (int64_t) h->id);
                vl_add_str(p, "reason", "the link was already handed off");
                return call_reply_error(c, "io.fexitd.NotDetachable", p);
        }
        /* Without the pin and our fd, the receiver's last close is what detaches the link. */
        state_unpin(s, h);
        fd = TAKE_FD(h->fd);
        h->state = HSTATE_HANDED_OFF;
        h->holder_uid = c->peer.uid;
        h->holder_pid = c->peer.pid;
        h->conn_id = 0;
        update_program_state(s, h->program);
        (void) state_save(s);
        log_full(LOG_INFO, &(struct log_ctx) { .handle = h->id, .kernel_id = h->kernel_id,
                                               .function = h->function, .uid = c->peer.uid,
                                               .pid = c->peer.pid },
                 "Handed off link handle %" PRIu64 " (link id %u) to uid %u pid %d", h->id,
                 h->kernel_id, (unsigned) c->peer.uid, (int) c->peer.pid);
        server_notify_status(s);
        p = vl_obj();
        vl_add_int(p, "fd", 0);
        vl_add(p, "link", handle_to_json(s, h));
        call_reply_fds(c, p, &fd, 1);
}

static void method_share_map(struct call *c, void *params) {
        struct handle *h = call_get_handle(c, ((struct handle_params *) params)->handle, HANDLE_MAP);
        bool writable;
        json_object *p;
        int fd;

        if (!h)
                return;
        /* Least access that still serves. A ring buffer's reader writes its consumer position,
         * so it needs a writable fd (the kernel maps the data pages read-only for it). The kernel
         * cannot mmap a read-only fd, so an mmap-able map (.bss, .data) is frozen instead: no
         * holder can write it from user space any more, the program still does, and its fd can
         * be mapped PROT_READ. Everything else gets a read-only fd. */
        if (h->map_type == BPF_MAP_TYPE_RINGBUF_)
                fd = dup_fd(h->fd);
        else if (h->map_flags & BPF_F_MMAPABLE_) {
                fd = bb_map_freeze(h->fd);
                if (fd >= 0)
                        fd = dup_fd(h->fd);
        } else
                fd = bb_map_fd_readonly(h->fd, c->server->cfg.pin_dir);
        writable = h->map_type == BPF_MAP_TYPE_RINGBUF_;
        if (fd < 0)
                return call_reply_errno(c, "share-map", fd);
        log_full(LOG_INFO, &(struct log_ctx) { .handle = h->id, .kernel_id = h->kernel_id,
                                               .uid = c->peer.uid, .pid = c->peer.pid },
                 "Shared map handle %" PRIu64 " (%s, %s)", h->id, h->name, writable ? "read-write" : "read-only");
        p = vl_obj();
        vl_add_int(p, "fd", 0);
        vl_add(p, "map", handle_to_json(c->server, h));
        vl_add_bool(p, "writable", writable);
        call_reply_fds(c, p, &fd, 1);
}

#define HANDLE_PARAM { { "handle", VL_INT, true, offsetof(struct handle_params, handle) }, {} }

const struct method methods_link[] = {
        { "io.fexitd.Attach", method_attach, ROLE_CONSUMER,
          (const struct vl_param[]) {
                  { "handle", VL_INT, true, offsetof(struct attach_params, handle) },
                  { "lifetime", VL_STRING, false, offsetof(struct attach_params, lifetime) },
                  {} },
          sizeof(struct attach_params), 0 },
        { "io.fexitd.Detach", method_detach, ROLE_CONSUMER, (const struct vl_param[]) HANDLE_PARAM,
          sizeof(struct handle_params), 0 },
        { "io.fexitd.TakeLink", method_take_link, ROLE_CONSUMER, (const struct vl_param[]) HANDLE_PARAM,
          sizeof(struct handle_params), 0 },
        { "io.fexitd.ShareMap", method_share_map, ROLE_CONSUMER, (const struct vl_param[]) HANDLE_PARAM,
          sizeof(struct handle_params), 0 },
        {}
};
