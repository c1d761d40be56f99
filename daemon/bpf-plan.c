/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

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
#include "daemon/btf-rules.h"

DEFINE_TRIVIAL_CLEANUP_FUNC(struct btf_index *, btf_index_unref);

/* Planning: which program instance goes where ------------------------------------------------ */

static bool is_fexit(const struct bpf_program *p) {
        return bpf_program__type(p) == BPF_PROG_TYPE_TRACING &&
               bpf_program__expected_attach_type(p) == BPF_TRACE_FEXIT;
}

/* "fexit/do_unlinkat" and "fexit.s/do_unlinkat" name do_unlinkat; "fexit" names nothing. */
static const char *section_function(const struct bpf_program *p) {
        const char *s = strchr(bpf_program__section_name(p), '/');

        return s && s[1] ? s + 1 : NULL;
}

static bool section_sleepable(const char *section) {
        bool sleepable;

        if (bb_multi_section(section, &sleepable))
                return sleepable;
        return strncmp(section, "fexit.s", 7) == 0;
}

struct plan *bb_plan_find(struct load_ctx *c, const char *name) {
        for (size_t i = 0; name && i < c->n_plans; i++)
                if (strcmp(bpf_program__name(c->plans[i].prog), name) == 0)
                        return &c->plans[i];
        return NULL;
}

static int plan_get(struct load_ctx *c, struct bpf_program *p, struct plan **ret) {
        struct plan *v = bb_plan_find(c, bpf_program__name(p));

        if (!v) {
                v = reallocarray(c->plans, c->n_plans + 1, sizeof(*v));
                if (!v)
                        return -ENOMEM;
                c->plans = v;
                v = &c->plans[c->n_plans++];
                *v = (struct plan) { .prog = p,
                                     .sleepable = section_sleepable(bpf_program__section_name(p)) };
        }
        *ret = v;
        return 0;
}

static int skipped_add(struct load_ctx *c, const char *function, const char *reason) {
        struct bb_skipped *v;

        for (size_t i = 0; i < c->res.n_skipped; i++)
                if (strcmp(c->res.skipped[i].function, function) == 0)
                        return 0;
        v = reallocarray(c->res.skipped, c->res.n_skipped + 1, sizeof(*v));
        if (!v)
                return -ENOMEM;
        c->res.skipped = v;
        v = &c->res.skipped[c->res.n_skipped];
        *v = (struct bb_skipped) { .function = strdup(function), .reason = strdup(reason) };
        c->res.n_skipped++;
        return v->function && v->reason ? 0 : -ENOMEM;
}

struct plan_kernel bb_plan_kernel_running(void) {
        return (struct plan_kernel) { .version = btf_kernel_version(),
                                      .max_args = bb_features()->max_args };
}

/* Why fexitd will not attach to f, as a negative errno and a reason; 0 if it will. */
static int exclusion(const struct plan_kernel *k, const struct btf_func *f, bool kernel, char *reason,
                     size_t size) {
        const char *deny = kernel ? btf_func_deny_reason(f->name) : NULL;

        if (deny) {
                snprintf(reason, size, "%s is on fexitd's deny list: %s", f->name, deny);
                return -EACCES;
        }
        if (f->traceable == 0) {
                snprintf(reason, size, "%s cannot be traced: notrace, inlined, or not patchable by "
                         "ftrace (it is not in available_filter_functions)", f->name);
                return -EBUSY;
        }
        return btf_func_check_args(f, k->version, k->max_args, reason, size);
}

/* A multi-link program on a kernel that has them: its targets are not instances (yet). */
bool bb_plan_multi_wanted(const struct load_ctx *c, const struct plan *pl) {
        return c->req->multi_link && pl->want_multi;
}

int bb_fail_too_many(struct load_ctx *c, const struct plan *pl, const char *function) {
        bool multi = bb_plan_multi_wanted(c, pl);
        unsigned max = multi ? BB_MULTI_FUNCTIONS_MAX : BB_INSTANCES_MAX;
        int r;

        r = bb_fail(c->err, BB_ERR_LIMIT_EXCEEDED, -E2BIG, bpf_program__name(pl->prog), function,
                    multi ? "more than %u functions in one multi-link program" :
                         "more than %u program instances in one load", max);
        bb_set_operation(c->err, multi ? "functions" : "instances");
        if (c->err)
                c->err->limit_max = max;
        return r;
}

static size_t seen_slot(const struct plan *pl, const struct btf_func *f) {
        size_t s = ((uintptr_t) f >> 4) * 0x9e3779b97f4a7c15ULL;

        for (s &= pl->n_seen_slots - 1; pl->seen[s] && pl->seen[s] != f; s = (s + 1) & (pl->n_seen_slots - 1))
                ;
        return s;
}

/* Adds f to the plan's set of targets; 1 if it was there already. An index entry is one function
 * of one BTF object, and each plan's targets come from one index (vmlinux and modules, or one
 * BPF program's), so the entry's address identifies the target: "vfs_read" and "vfs_*" give one
 * instance, and tens of thousands of glob matches cost no quadratic scan. */
static int seen_add(struct plan *pl, const struct btf_func *f) {
        size_t s;

        if (2 * (pl->n_targets + 1) > pl->n_seen_slots) {
                const struct btf_func **old = pl->seen;
                size_t n_old = pl->n_seen_slots, n = n_old ? 2 * n_old : 64;

                pl->seen = calloc(n, sizeof(*pl->seen));
                if (!pl->seen) {
                        pl->seen = old;
                        return -ENOMEM;
                }
                pl->n_seen_slots = n;
                for (size_t i = 0; i < n_old; i++)
                        if (old[i])
                                pl->seen[seen_slot(pl, old[i])] = old[i];
                free(old);
        }
        s = seen_slot(pl, f);
        if (pl->seen[s])
                return 1;
        pl->seen[s] = f;
        return 0;
}

static int targets_grow(struct plan *pl) {
        struct target *v;
        size_t n;

        if (pl->n_targets < pl->n_alloc)
                return 0;
        n = pl->n_alloc ? 2 * pl->n_alloc : 4;
        v = reallocarray(pl->targets, n, sizeof(*v));
        if (!v)
                return -ENOMEM;
        pl->targets = v;
        pl->n_alloc = n;
        return 0;
}

static int plan_add_target(struct load_ctx *c, struct plan *pl, const struct btf_index *idx,
                           const struct btf_func *f, struct tprog *tp) {
        const char *obj = btf_index_object_name(idx, f->obj);
        struct target *v;
        int r;

        if (bb_plan_multi_wanted(c, pl) ? pl->n_targets >= BB_MULTI_FUNCTIONS_MAX :
                                       c->n_instances >= BB_INSTANCES_MAX)
                return pl->n_seen_slots && pl->seen[seen_slot(pl, f)] ? 0 :
                                                                        bb_fail_too_many(c, pl, f->name);
        r = seen_add(pl, f);
        if (r != 0)
                return r < 0 ? r : 0;
        r = targets_grow(pl);
        if (r < 0)
                return r;
        v = pl->targets;
        v[pl->n_targets] = (struct target) { .function = strdup(f->name), .btf_id = f->btf_id,
                                             .btf_object = obj, .tprog = tp };
        if (!v[pl->n_targets].function)
                return -ENOMEM;
        pl->n_targets++;
        c->n_instances += !bb_plan_multi_wanted(c, pl);
        return 0;
}

/* An unknown name, with the closest names of the same index as suggestions. */
static int fail_no_such_function(struct bb_error *e, const struct btf_index *idx, const char *prog,
                                 uint32_t tprog_id, const char *name) {
        const char *s[BB_SUGGESTIONS_MAX];
        size_t n = btf_index_suggest(idx, name, s, BB_SUGGESTIONS_MAX);
        int r;

        if (tprog_id)
                r = bb_fail(e, BB_ERR_NO_SUCH_FUNCTION, -ESRCH, prog, name,
                            "BPF program %u has no function %s", tprog_id, name);
        else
                r = bb_fail(e, BB_ERR_NO_SUCH_FUNCTION, -ESRCH, prog, name,
                            "no function %s in the kernel's BTF (vmlinux and loaded modules)", name);
        for (size_t i = 0; e && i < n; i++)
                e->suggestions[i] = strdup(s[i]);
        return r;
}

/* A glob leaves out names of several kernel symbols: the kernel attaches by name to the first,
 * which may be a copy ftrace cannot patch; with a multi-link that fails all the functions. A name
 * asked for explicitly is tried anyway. */
static int ambiguity(const struct btf_func *f, char *reason, size_t size) {
        if (f->ksyms <= 1)
                return 0;
        snprintf(reason, size, "%s names %u kernel symbols: the kernel attaches to the first by "
                 "name, which may not be the one its BTF describes", f->name, f->ksyms);
        return -ENOTUNIQ;
}

static int plan_add_glob(struct load_ctx *c, struct plan *pl, const struct btf_index *idx,
                         struct tprog *tp, const char *pattern) {
        _cleanup_free_ const struct btf_func **v = NULL;
        char reason[256], first[256] = "";
        size_t n = 0, usable = 0;
        int r;

        r = btf_index_glob(idx, pattern, &v, &n);
        if (r < 0)
                return r;
        if (n == 0)
                return bb_fail(c->err, BB_ERR_NO_SUCH_FUNCTION, -ESRCH, bpf_program__name(pl->prog),
                               pattern, "no function matches %s", pattern);
        for (size_t i = 0; i < n; i++) {
                r = exclusion(&c->kernel, v[i], !tp, reason, sizeof(reason));
                if (r >= 0 && !tp)
                        r = ambiguity(v[i], reason, sizeof(reason));
                if (r < 0) {
                        if (!*first)
                                snprintf(first, sizeof(first), "%s", reason);
                        r = skipped_add(c, v[i]->name, reason);
                } else {
                        usable++;
                        r = plan_add_target(c, pl, idx, v[i], tp);
                }
                if (r < 0)
                        return r;
        }
        if (usable == 0)
                return bb_fail(c->err, BB_ERR_FUNCTION_DENIED, -EACCES, bpf_program__name(pl->prog),
                               pattern, "every function matching %s is excluded; %s", pattern, first);
        return 0;
}

/* Refused from BTF and the probed trampoline limit, before the kernel sees the program: 6.1
 * would load it and refuse only at attach, with a bare ENOTSUPP. */
static int fail_too_many_args(struct bb_error *e, const char *prog, const struct btf_func *f,
                              unsigned max_args, const char *reason) {
        int r = bb_fail(e, BB_ERR_TOO_MANY_ARGS, -ERANGE, prog, f->name, "%s", reason);

        if (e) {
                e->n_args = f->nr_regs;
                e->limit_max = max_args;
        }
        return r;
}

static int plan_add_name(struct load_ctx *c, struct plan *pl, struct tprog *tp, const char *name) {
        const struct btf_index *idx = tp ? tp->idx : c->sys;
        const struct btf_func *f;
        char reason[256];
        int r;

        if (btf_glob_is_pattern(name))
                return plan_add_glob(c, pl, idx, tp, name);
        f = btf_index_lookup(idx, name);
        if (!f)
                return fail_no_such_function(c->err, idx, bpf_program__name(pl->prog),
                                             tp ? tp->id : 0, name);
        r = exclusion(&c->kernel, f, !tp, reason, sizeof(reason));
        if (r == -ERANGE)
                return fail_too_many_args(c->err, bpf_program__name(pl->prog), f, c->kernel.max_args,
                                          reason);
        if (r < 0)
                return bb_fail(c->err, BB_ERR_FUNCTION_DENIED, r, bpf_program__name(pl->prog), name,
                               "%s", reason);
        return plan_add_target(c, pl, idx, f, tp);
}

static int tprog_open(struct load_ctx *c, uint32_t id, const char *prog, int *ret_fd,
                      struct bpf_prog_info *ret_info) {
        _cleanup_close_ int fd = bpf_prog_get_fd_by_id(id);
        uint32_t len = sizeof(*ret_info);
        int r;

        if (fd < 0) {
                r = bb_fail(c->err, BB_ERR_KERNEL, fd, prog, NULL, "%s",
                            fd == -ENOENT ? "no loaded BPF program has this id" :
                            fd == -EPERM ? "opening a BPF program by id needs CAP_SYS_ADMIN" :
                                        "cannot open the BPF program to attach to");
                bb_set_operation(c->err, "open target program");
                return r;
        }
        *ret_info = (struct bpf_prog_info) {};
        r = bpf_obj_get_info_by_fd(fd, ret_info, &len);
        if (r < 0) {
                r = bb_fail(c->err, BB_ERR_KERNEL, r, prog, NULL, "cannot read BPF program %u's info", id);
                bb_set_operation(c->err, "open target program");
                return r;
        }
        *ret_fd = TAKE_FD(fd);
        return 0;
}

/* Opens the program to attach to, once per load, with an index of its functions. */
static int tprog_get(struct load_ctx *c, uint32_t id, const char *prog, const char *function,
                     struct tprog **ret) {
        _cleanup_(btf_index_unrefp) struct btf_index *idx = NULL;
        _cleanup_close_ int fd = -EBADF;
        struct bpf_prog_info info;
        struct tprog **v, *t;
        struct btf *btf;
        int r;

        for (size_t i = 0; i < c->n_tprogs; i++)
                if (c->tprogs[i]->id == id)
                        return *ret = c->tprogs[i], 0;
        r = tprog_open(c, id, prog, &fd, &info);
        if (r < 0)
                return r;
        if (info.type == BPF_PROG_TYPE_TRACING)
                return bb_fail(c->err, BB_ERR_FUNCTION_DENIED, -EINVAL, prog, function,
                               "BPF program %u is itself an fentry/fexit program: the kernel refuses "
                               "to attach fexit to it (cannot recursively attach)", id);
        if (info.btf_id == 0)
                return bb_fail(c->err, BB_ERR_FUNCTION_DENIED, -EINVAL, prog, function,
                               "BPF program %u has no BTF: fexit needs it to find its functions", id);
        btf = btf__load_from_kernel_by_id(info.btf_id);
        if (!btf) {
                r = bb_fail(c->err, BB_ERR_KERNEL, -errno, prog, function,
                            "cannot read the BTF of BPF program %u", id);
                bb_set_operation(c->err, "load target program BTF");
                return r;
        }
        idx = btf_index_new();
        if (!idx) {
                btf__free(btf);
                return -ENOMEM;
        }
        r = btf_index_add_btf(idx, "bpf", btf, true);
        if (r >= 0)
                r = btf_index_seal(idx);
        if (r < 0)
                return r;
        v = reallocarray(c->tprogs, c->n_tprogs + 1, sizeof(*v));
        if (!v)
                return -ENOMEM;
        c->tprogs = v;
        t = malloc(sizeof(*t));
        if (!t)
                return -ENOMEM;
        *t = (struct tprog) { .id = id, .fd = TAKE_FD(fd), .idx = TAKE_PTR(idx) };
        c->tprogs[c->n_tprogs++] = t;
        *ret = t;
        return 0;
}

static int plan_select(struct load_ctx *c, const struct bb_select *s) {
        struct bpf_program *p = s->name ? bpf_object__find_program_by_name(c->obj, s->name) : NULL;
        struct tprog *tp = NULL;
        const char *sec_fn;
        struct plan *pl;
        int r;

        if (!p)
                return bb_fail(c->err, BB_ERR_NO_SUCH_PROGRAM, -ENOENT, s->name, NULL,
                               "the object has no program named %s", s->name ? s->name : "(null)");
        if (!is_fexit(p))
                return bb_fail(c->err, BB_ERR_NO_SUCH_PROGRAM, -ENOENT, s->name, NULL,
                               "program %s is not an fexit program (section %s)", s->name,
                               bpf_program__section_name(p));
        r = plan_get(c, p, &pl);
        if (r >= 0 && (s->n_functions > 0 || bb_multi_section(bpf_program__section_name(p), &(bool) {0})))
                pl->want_multi = true;
        if (r >= 0 && s->target_prog_id)
                r = tprog_get(c, s->target_prog_id, s->name, s->function, &tp);
        if (r >= 0 && s->function)
                r = plan_add_name(c, pl, tp, s->function);
        for (size_t i = 0; r >= 0 && s->functions && i < s->n_functions; i++)
                r = plan_add_name(c, pl, tp, s->functions[i]);
        if (r < 0 || s->function || s->n_functions > 0)
                return r;
        sec_fn = section_function(p);
        if (!sec_fn)
                return bb_fail(c->err, BB_ERR_NO_SUCH_FUNCTION, -ESRCH, s->name, "",
                               "program %s names no function (section %s): select one", s->name,
                               bpf_program__section_name(p));
        return plan_add_name(c, pl, tp, sec_fn);
}

/* No selection: every fexit program, each to the function its section names. */
static int plan_all(struct load_ctx *c) {
        struct bpf_program *p;

        bpf_object__for_each_program(p, c->obj) {
                struct bb_select s = { .name = bpf_program__name(p) };
                int r;

                if (!is_fexit(p))
                        continue;
                r = plan_select(c, &s);
                if (r < 0)
                        return r;
        }
        return 0;
}

int bb_plan_load(struct load_ctx *c) {
        const struct bb_load_request *req = c->req;
        struct bpf_program *p;
        bool any = false;
        int r = 0;

        bpf_object__for_each_program(p, c->obj)
                any = any || is_fexit(p);
        if (!any)
                return bb_fail(c->err, BB_ERR_NO_FEXIT_PROGRAMS, -ENOENT, NULL, NULL,
                               "the object has no fexit program (section fexit/, fexit.s/ or "
                               "fexit.multi/)");
        if (!req->select || req->n_select == 0)
                r = plan_all(c);
        for (size_t i = 0; r >= 0 && req->select && i < req->n_select; i++)
                r = plan_select(c, &req->select[i]);
        if (r < 0)
                return r;
        bpf_object__for_each_program(p, c->obj)      /* only what was asked for goes in */
                bpf_program__set_autoload(p, bb_plan_find(c, bpf_program__name(p)) != NULL);
        return 0;
}

int bb_check_function(const char *function, struct bb_error *err) {
        _cleanup_(btf_index_unrefp) struct btf_index *idx = NULL;
        struct plan_kernel k = bb_plan_kernel_running();
        const struct btf_func *f;
        char reason[256];
        int r;

        r = btf_index_system(&idx);
        if (r < 0) {
                r = bb_fail(err, BB_ERR_KERNEL, r, NULL, function, "cannot read the kernel's BTF");
                bb_set_operation(err, "read BTF");
                return r;
        }
        f = btf_index_lookup(idx, function);
        if (!f)
                return fail_no_such_function(err, idx, NULL, 0, function);
        r = exclusion(&k, f, true, reason, sizeof(reason));
        if (r < 0)
                return bb_fail(err, BB_ERR_FUNCTION_DENIED, r, NULL, function, "%s", reason);
        return 0;
}
