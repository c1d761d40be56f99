/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <bpf/bpf.h>
#include <bpf/btf.h>
#include <bpf/libbpf.h>
#include <linux/bpf.h>

#include "common/macro.h"
#include "daemon/bb-util.h"
#include "daemon/bpf-backend.h"
#include "daemon/bpf-internal.h"
#include "daemon/bpf-multi.h"
#include "daemon/btf-index.h"

void bb_load_ctx_done(struct load_ctx *c) {
        for (size_t i = 0; i < c->n_plans; i++) {
                for (size_t j = 0; j < c->plans[i].n_targets; j++)
                        free(c->plans[i].targets[j].function);
                free(c->plans[i].targets);
                free(c->plans[i].seen);
        }
        free(c->plans);
        for (size_t i = 0; i < c->n_tprogs; i++) {
                safe_close(c->tprogs[i]->fd);
                btf_index_unref(c->tprogs[i]->idx);
                free(c->tprogs[i]);
        }
        free(c->tprogs);
        for (size_t i = 0; i < c->n_mods; i++) {
                safe_close(c->mods[i].fd);
                free(c->mods[i].name);
        }
        free(c->mods);
        bpf_object__close(c->obj);
        btf_index_unref(c->sys);
        free(c->buf);
        free(c->license);
        bb_load_result_free(&c->res);
}

/* Loading ------------------------------------------------------------------------------------ */

/* libbpf 1.1 does not know fexit.multi/ sections and leaves their type unset. They load as
 * fexit programs (on the first target: libbpf relocates them there), then again as one
 * multi-link program where the kernel has them (load_multi()). */
static int prepare_multi_sections(struct bpf_object *obj) {
        struct bpf_program *p;

        bpf_object__for_each_program(p, obj) {
                bool sleepable;
                int r;

                if (!bb_multi_section(bpf_program__section_name(p), &sleepable))
                        continue;
                r = bpf_program__set_type(p, BPF_PROG_TYPE_TRACING);
                if (r >= 0)
                        r = bpf_program__set_expected_attach_type(p, BPF_TRACE_FEXIT);
                if (r >= 0 && sleepable)
                        r = bpf_program__set_flags(p, bpf_program__flags(p) | BPF_F_SLEEPABLE);
                if (r < 0)
                        return r;
        }
        return 0;
}

int bb_load_open(struct load_ctx *c) {
        const char *name = c->req->object_name ? c->req->object_name : "fexitd";
        LIBBPF_OPTS(bpf_object_open_opts, opts, .object_name = name);
        _cleanup_(bb_capture_done) struct bb_capture cap = {};
        int r;

        bb_capture_start(&cap);
        c->obj = bpf_object__open_mem(c->buf, c->size, &opts);
        bb_capture_stop(&cap);
        if (c->obj)
                return prepare_multi_sections(c->obj);
        r = bb_fail(c->err, BB_ERR_INVALID_OBJECT, -errno, NULL, NULL, "libbpf cannot open the object%s%s",
                    *cap.first ? ": " : "", cap.first);
        bb_set_log(c->err, cap.tail);
        return r;
}

/* The first instance of each program goes through libbpf, which resolves the function again
 * (it checked out in our index) and relocates CO-RE against the running kernel. */
static int set_targets(struct load_ctx *c) {
        for (size_t i = 0; i < c->n_plans; i++) {
                struct plan *pl = &c->plans[i];
                const struct target *t = &pl->targets[0];
                _cleanup_(bb_capture_done) struct bb_capture cap = {};
                int r;

                bb_capture_start(&cap);
                r = bpf_program__set_attach_target(pl->prog, t->tprog ? t->tprog->fd : 0, t->function);
                bb_capture_stop(&cap);
                if (r >= 0)
                        continue;
                r = bb_fail(c->err, BB_ERR_KERNEL, r, bpf_program__name(pl->prog), t->function, "%s",
                            r == -EPERM ? "libbpf 1.1 needs CAP_SYS_ADMIN to look up module functions "
                                       "(it walks module BTF by id)" :
                                       "libbpf cannot resolve the function");
                bb_set_operation(c->err, "resolve");
                bb_set_log(c->err, cap.tail);
                return r;
        }
        return 0;
}

static int load_object(struct load_ctx *c) {
        _cleanup_(bb_capture_done) struct bb_capture cap = {};
        const struct plan *pl;
        const char *prog;
        int r;

        bb_capture_start(&cap);
        r = bpf_object__load(c->obj);
        bb_capture_stop(&cap);
        if (r >= 0)
                return 0;
        prog = cap.vlog ? cap.vprog : *cap.prog ? cap.prog : NULL;
        pl = bb_plan_find(c, prog);
        if (!pl && c->n_plans == 1)
                pl = &c->plans[0];
        if (pl)
                prog = bpf_program__name(pl->prog);
        if (cap.vlog && *cap.vlog)
                return bb_fail_verifier(c->err, r, prog, pl ? pl->targets[0].function : NULL, cap.vlog);
        return bb_fail_load(c->err, r, prog, pl ? pl->targets[0].function : NULL, cap.first, cap.tail);
}

/* The BTF object fd of a module, for attach_btf_obj_fd. Walking BTF ids needs CAP_SYS_ADMIN. */
static int module_btf_fd(struct load_ctx *c, const char *module, int *ret) {
        struct module_fd *v;
        uint32_t id = 0;
        int r;

        for (size_t i = 0; i < c->n_mods; i++)
                if (strcmp(c->mods[i].name, module) == 0)
                        return *ret = c->mods[i].fd, 0;
        while ((r = bpf_btf_get_next_id(id, &id)) >= 0) {
                _cleanup_close_ int fd = bpf_btf_get_fd_by_id(id);
                char name[64] = "";
                struct bpf_btf_info info = { .name = ptr_to_u64(name), .name_len = sizeof(name) };
                uint32_t len = sizeof(info);

                if (fd < 0 || bpf_obj_get_info_by_fd(fd, &info, &len) < 0)
                        continue;                 /* gone meanwhile */
                if (!info.kernel_btf || strcmp(name, module) != 0)
                        continue;
                v = reallocarray(c->mods, c->n_mods + 1, sizeof(*v));
                if (!v)
                        return -ENOMEM;
                c->mods = v;
                v[c->n_mods] = (struct module_fd) { .name = strdup(module), .fd = TAKE_FD(fd) };
                *ret = v[c->n_mods++].fd;
                return 0;
        }
        return r == -ENOENT ? -ESRCH : r;
}

static int load_instance_once(struct load_ctx *c, const struct plan *pl,
                              struct bpf_prog_load_opts *o) {
        return bpf_prog_load(BPF_PROG_TYPE_TRACING, bpf_program__name(pl->prog), c->license,
                             bpf_program__insns(pl->prog), bpf_program__insn_cnt(pl->prog), o);
}

/* Loads the program again for another function: the instructions libbpf loaded (CO-RE done,
 * subprograms appended, map fds embedded, so the object must still be open). */
static int load_instance(struct load_ctx *c, const struct plan *pl, const struct target *t,
                         int *ret_fd) {
        const char *name = bpf_program__name(pl->prog);
        /* libbpf adds BPF_F_SLEEPABLE for fexit.s/ at load time, not to the program's flags. */
        LIBBPF_OPTS(bpf_prog_load_opts, o, .expected_attach_type = BPF_TRACE_FEXIT,
                    .attach_btf_id = t->btf_id,
                    .prog_flags = bpf_program__flags(pl->prog) | (pl->sleepable ? BPF_F_SLEEPABLE : 0),
                    .kern_version = bpf_object__kversion(c->obj));
        _cleanup_free_ char *log = NULL;
        int fd, r, obj_fd;

        if (t->tprog)
                o.attach_prog_fd = t->tprog->fd;
        else if (strcmp(t->btf_object, "vmlinux") != 0) {
                r = module_btf_fd(c, t->btf_object, &obj_fd);
                if (r < 0) {
                        r = bb_fail(c->err, BB_ERR_KERNEL, r, name, t->function,
                                    "cannot open the BTF object of module %s: %s", t->btf_object,
                                    r == -EPERM ? "walking BTF objects by id needs CAP_SYS_ADMIN" :
                                    r == -ESRCH ? "the module is gone" : strerror(-r));
                        bb_set_operation(c->err, "open module BTF");
                        return r;
                }
                o.attach_btf_obj_fd = obj_fd;
        }
        fd = load_instance_once(c, pl, &o);
        /* Like libbpf: load again with a log only when it failed, growing it if it was short. */
        for (size_t size = INSTANCE_LOG_MIN; fd < 0 && size <= INSTANCE_LOG_MAX; size *= 4) {
                r = fd;
                if (r == -ENOMEM && !log)
                        break;
                free(log);
                log = calloc(1, size);
                if (!log)
                        return -ENOMEM;
                o.log_buf = log;
                o.log_size = size;
                o.log_level = 1;
                fd = load_instance_once(c, pl, &o);
                if (fd != -ENOSPC)
                        break;
        }
        if (fd >= 0) {
                *ret_fd = fd;
                return 0;
        }
        /* the verifier says no with EACCES or EINVAL; EMFILE, ENOMEM... are not its verdict,
         * even though the retry with a log ran it to the end */
        if (log && *log && (fd == -EACCES || fd == -EINVAL))
                return bb_fail_verifier(c->err, fd, name, t->function, log);
        return bb_fail_load(c->err, fd, name, t->function, NULL, NULL);
}

/* Results ------------------------------------------------------------------------------------ */

void bb_load_result_free(struct bb_load_result *r) {
        if (!r)
                return;
        for (size_t i = 0; i < r->n_progs; i++) {
                safe_close(r->progs[i].fd);
                free(r->progs[i].name);
                free(r->progs[i].function);
                free(r->progs[i].btf_object);
                for (size_t k = 0; k < r->progs[i].n_functions; k++)
                        free(r->progs[i].functions[k]);
                free(r->progs[i].functions);
                free(r->progs[i].btf_ids);
        }
        for (size_t i = 0; i < r->n_maps; i++) {
                safe_close(r->maps[i].fd);
                free(r->maps[i].name);
        }
        free(r->progs);
        free(r->maps);
        bb_skipped_free(r->skipped, r->n_skipped);
        free(r->multi_fallback);
        *r = (struct bb_load_result) {};
}

/* Takes fd: from here on the result closes it, also on failure. */
static int result_add_prog(struct load_ctx *c, const struct plan *pl, const struct target *t, int fd) {
        struct bpf_prog_info info = {};
        uint32_t len = sizeof(info);
        struct bb_prog *v;
        int r;

        v = reallocarray(c->res.progs, c->res.n_progs + 1, sizeof(*v));
        if (!v) {
                safe_close(fd);
                return -ENOMEM;
        }
        c->res.progs = v;
        v = &c->res.progs[c->res.n_progs++];
        *v = (struct bb_prog) { .fd = fd, .btf_id = t->btf_id, .sleepable = pl->sleepable,
                                .target_prog_id = t->tprog ? t->tprog->id : 0 };
        r = bpf_obj_get_info_by_fd(fd, &info, &len);
        if (r < 0)
                return r;
        v->id = info.id;
        if (info.attach_btf_id)
                v->btf_id = info.attach_btf_id;
        v->name = strdup(bpf_program__name(pl->prog));
        v->function = strdup(t->function);
        v->btf_object = strdup(t->btf_object);
        return v->name && v->function && v->btf_object ? 0 : -ENOMEM;
}

/* Loads the program once more, as a multi-link program for all its targets. A refusal is no error:
 * returns -EAGAIN with the reason in res.multi_fallback, and the caller loads instances. */
static bool plan_multi_possible(const struct load_ctx *c, const struct plan *pl, const char **ret_why) {
        for (size_t i = 0; i < pl->n_targets; i++) {
                if (pl->targets[i].tprog) {
                        *ret_why = "a multi-link attaches to kernel functions only, not to BPF programs";
                        return false;
                }
                if (strcmp(pl->targets[i].btf_object, pl->targets[0].btf_object) != 0) {
                        *ret_why = "a multi-link covers the functions of one BTF object (vmlinux or "
                                   "one module), these span several";
                        return false;
                }
        }
        return true;
}

static int multi_fallback(struct load_ctx *c, const struct plan *pl, const char *fmt, const char *why) {
        free(c->res.multi_fallback);
        if (asprintf(&c->res.multi_fallback, fmt, bpf_program__name(pl->prog), why) < 0) {
                c->res.multi_fallback = NULL;
                return -ENOMEM;
        }
        return -EAGAIN;
}

static int load_multi(struct load_ctx *c, const struct plan *pl, int btf_obj_fd, int *ret_fd) {
        uint32_t flags = bpf_program__flags(pl->prog) | (pl->sleepable ? BPF_F_SLEEPABLE : 0);
        const char *name = bpf_program__name(pl->prog);
        _cleanup_free_ char *log = NULL;
        char line[256], why[320];
        int fd;

        fd = bb_multi_prog_load(name, c->license, bpf_program__insns(pl->prog),
                                bpf_program__insn_cnt(pl->prog), flags, btf_obj_fd, NULL, 0);
        if (fd >= 0) {
                *ret_fd = fd;
                return 0;
        }
        if (fd == -ENOMEM)
                return fd;
        log = calloc(1, INSTANCE_LOG_MIN);    /* again with a log, for the reason */
        if (log)
                (void) bb_multi_prog_load(name, c->license, bpf_program__insns(pl->prog),
                                          bpf_program__insn_cnt(pl->prog), flags, btf_obj_fd, log,
                                          INSTANCE_LOG_MIN);
        snprintf(why, sizeof(why), "%s%s%s", strerror(-fd), log && *log ? ": " : "",
                 log ? bb_verifier_reason(log, line, sizeof(line)) : "");
        /* e.g. it reads arguments from ctx directly: multi programs use bpf_get_func_arg() */
        return multi_fallback(c, pl, "the kernel refused %s as a multi-link program (%s)", why);
}

static int result_add_multi(struct load_ctx *c, const struct plan *pl, int fd) {
        struct bb_prog *v;
        int r = result_add_prog(c, pl, &pl->targets[0], fd);

        if (r < 0)
                return r;
        v = &c->res.progs[c->res.n_progs - 1];
        v->multi = true;
        v->functions = calloc(pl->n_targets, sizeof(char *));
        v->btf_ids = calloc(pl->n_targets, sizeof(uint32_t));
        if (!v->functions || !v->btf_ids)
                return -ENOMEM;
        for (size_t i = 0; i < pl->n_targets; i++, v->n_functions++) {
                v->btf_ids[i] = pl->targets[i].btf_id;
                v->functions[i] = strdup(pl->targets[i].function);
                if (!v->functions[i])
                        return -ENOMEM;
        }
        return 0;
}

static int collect_multi(struct load_ctx *c, const struct plan *pl) {
        const char *why;
        int obj_fd = 0, fd, r;

        if (!plan_multi_possible(c, pl, &why))
                return multi_fallback(c, pl, "%s was loaded per function: %s", why);
        if (strcmp(pl->targets[0].btf_object, "vmlinux") != 0) {
                r = module_btf_fd(c, pl->targets[0].btf_object, &obj_fd);
                if (r < 0)
                        return multi_fallback(c, pl, "%s was loaded per function: %s",
                                              "cannot open its module's BTF object");
        }
        r = load_multi(c, pl, obj_fd, &fd);
        if (r < 0)
                return r;
        return result_add_multi(c, pl, fd);
}

static int result_add_map(struct load_ctx *c, const struct bpf_map *m) {
        struct bpf_map_info info = {};
        uint32_t len = sizeof(info);
        struct bb_map *v;
        int fd, r;

        fd = fcntl(bpf_map__fd(m), F_DUPFD_CLOEXEC, 3);
        if (fd < 0)
                return -errno;
        v = reallocarray(c->res.maps, c->res.n_maps + 1, sizeof(*v));
        if (!v) {
                safe_close(fd);
                return -ENOMEM;
        }
        c->res.maps = v;
        v = &c->res.maps[c->res.n_maps++];
        *v = (struct bb_map) { .fd = fd };
        r = bpf_obj_get_info_by_fd(fd, &info, &len);
        if (r < 0)
                return r;
        *v = (struct bb_map) { .fd = fd, .id = info.id, .type = info.type, .key_size = info.key_size,
                               .value_size = info.value_size, .max_entries = info.max_entries,
                               .flags = info.map_flags, .name = strdup(bpf_map__name(m)) };
        return v->name ? 0 : -ENOMEM;
}

/* One instance per target: the one libbpf loaded, then the others. */
static int collect_instances(struct load_ctx *c, const struct plan *pl) {
        int fd = fcntl(bpf_program__fd(pl->prog), F_DUPFD_CLOEXEC, 3), r;

        if (fd < 0)
                return -errno;
        r = result_add_prog(c, pl, &pl->targets[0], fd);
        for (size_t j = 1; r >= 0 && j < pl->n_targets; j++) {
                r = load_instance(c, pl, &pl->targets[j], &fd);
                if (r >= 0)
                        r = result_add_prog(c, pl, &pl->targets[j], fd);
        }
        return r;
}

static int collect_plan(struct load_ctx *c, const struct plan *pl) {
        int r;

        if (bb_plan_multi_wanted(c, pl)) {
                r = collect_multi(c, pl);
                if (r != -EAGAIN)
                        return r;
                /* refused as a multi-link program: per function, within the instances' limit */
                c->n_instances += pl->n_targets;
                if (c->n_instances > BB_INSTANCES_MAX)
                        return bb_fail_too_many(c, &(struct plan) { .prog = pl->prog }, NULL);
        }
        return collect_instances(c, pl);
}

static int collect(struct load_ctx *c) {
        const struct bpf_map *m;
        int r;

        for (size_t i = 0; i < c->n_plans; i++) {
                r = collect_plan(c, &c->plans[i]);
                if (r < 0)
                        return r;
        }
        bpf_object__for_each_map(m, c->obj) {
                if (bpf_map__fd(m) < 0)
                        continue;
                r = result_add_map(c, m);
                if (r < 0)
                        return r;
        }
        return 0;
}

int bb_load(const struct bb_load_request *req, struct bb_load_result *ret, struct bb_error *err) {
        _cleanup_(bb_load_ctx_done) struct load_ctx c = { .req = req, .err = err };
        int r;

        bb_init();
        r = bb_object_read(req->object_fd, &c.buf, &c.size, err);
        if (r >= 0)
                r = bb_object_check(c.buf, c.size, &c.license, err);
        if (r >= 0)
                r = bb_load_open(&c);
        if (r >= 0)
                r = btf_index_system(&c.sys);
        if (r >= 0)
                c.kernel = bb_plan_kernel_running();
        if (r >= 0)
                r = bb_plan_load(&c);
        if (r >= 0)
                r = set_targets(&c);
        if (r >= 0)
                r = load_object(&c);
        if (r >= 0)
                r = collect(&c);
        if (r < 0)
                return r;
        *ret = c.res;
        c.res = (struct bb_load_result) {};
        return 0;
}
