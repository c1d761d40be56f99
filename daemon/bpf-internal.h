/* SPDX-License-Identifier: MIT */
#pragma once

/* What the files of the BPF backend share (bpf-errors.c, bpf-object.c, bpf-plan.c, bpf-load.c,
 * bpf-kernel.c). Private to them: the rest of the daemon includes daemon/bpf-backend.h only. */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include "common/macro.h"
#include "daemon/bpf-backend.h"

struct bpf_object;
struct bpf_program;
struct btf_index;

#define OBJECT_SIZE_MAX (64u << 20)
#define LOG_TAIL_MAX (16u << 10)
#define INSTANCE_LOG_MIN (64u << 10)
#define INSTANCE_LOG_MAX (16u << 20)

static inline uint64_t ptr_to_u64(const void *p) {
        return (uint64_t) (uintptr_t) p;
}

/* Frees n skipped entries and the array. */
static inline void bb_skipped_free(struct bb_skipped *v, size_t n) {
        for (size_t i = 0; i < n; i++) {
                free(v[i].function);
                free(v[i].reason);
        }
        free(v);
}

/* Errors and libbpf's messages (bpf-errors.c) ------------------------------------------------ */

struct bb_capture {
        char *tail;               /* warnings and infos, the last LOG_TAIL_MAX bytes */
        size_t n_tail;
        char *vlog;               /* the last verifier log libbpf printed */
        char vprog[64];           /* ... and its program */
        char prog[64];            /* the last program a warning named */
        char first[512];          /* the first warning, one line: usually the cause */
};

_printf_(6, 7)
int bb_fail(struct bb_error *e, enum bb_error_kind kind, int r, const char *program,
            const char *function, const char *fmt, ...);
void bb_set_operation(struct bb_error *e, const char *op);
void bb_set_log(struct bb_error *e, const char *log);
const char *bb_errno_hint(int err);
void bb_init(void);
void bb_capture_start(struct bb_capture *c);
void bb_capture_stop(struct bb_capture *c);
void bb_capture_done(struct bb_capture *c);
const char *bb_verifier_reason(const char *log, char *buf, size_t size);
int bb_fail_verifier(struct bb_error *e, int r, const char *prog, const char *function,
                     const char *log);
int bb_fail_load(struct bb_error *e, int r, const char *prog, const char *function,
                 const char *detail, const char *log);

/* Reading and checking the object (bpf-object.c) --------------------------------------------- */

int bb_object_read(int fd, char **ret, size_t *ret_size, struct bb_error *e);
int bb_object_check(char *buf, size_t size, char **ret_license, struct bb_error *e);

/* Planning (bpf-plan.c) ---------------------------------------------------------------------- */

struct tprog {                    /* a loaded BPF program to attach to */
        uint32_t id;
        int fd;
        struct btf_index *idx;    /* its functions */
};

struct target {
        char *function;
        uint32_t btf_id;
        const char *btf_object;   /* owned by an index the load holds */
        struct tprog *tprog;      /* NULL: a kernel function */
};

struct plan {
        struct bpf_program *prog;
        bool sleepable;
        bool want_multi;          /* given `functions` or a fexit.multi/ section */
        struct target *targets;
        size_t n_targets, n_alloc;
        const struct btf_func **seen; /* set of the targets' index entries: a power of two */
        size_t n_seen_slots;
};

struct module_fd {
        char *name;
        int fd;
};

/* What planning needs to know of the running kernel: bb_load() takes it from
 * btf_kernel_version() and bb_features(), a unit test gives its own. */
struct plan_kernel {
        uint32_t version;         /* KERNEL_VERSION(a, b, c) */
        unsigned max_args;        /* argument registers the trampoline saves; 0: unknown */
};

/* One bb_load(). Planning reads req, sys, kernel and obj, and fills plans, n_instances and
 * res.skipped; an error goes to err. */
struct load_ctx {
        const struct bb_load_request *req;
        struct bb_error *err;
        struct btf_index *sys;    /* kernel functions: the system index, or a test's */
        struct plan_kernel kernel;
        char *buf;
        size_t size;
        char *license;
        struct bpf_object *obj;
        struct plan *plans;
        size_t n_plans, n_instances;
        struct tprog **tprogs;
        size_t n_tprogs;
        struct module_fd *mods;
        size_t n_mods;
        struct bb_load_result res;
};

struct plan *bb_plan_find(struct load_ctx *c, const char *name);
bool bb_plan_multi_wanted(const struct load_ctx *c, const struct plan *pl);
int bb_fail_too_many(struct load_ctx *c, const struct plan *pl, const char *function);
/* The running kernel's: btf_kernel_version() and bb_features() (probed on the first call). */
struct plan_kernel bb_plan_kernel_running(void);

/* Plans every selected program of c->obj (opened, not loaded) against c->sys: targets, skipped
 * glob matches and the instance count; only the planned programs stay set to autoload. */
int bb_plan_load(struct load_ctx *c);

/* Loading (bpf-load.c) ----------------------------------------------------------------------- */

/* Opens c->buf with libbpf (no kernel involved) and gives fexit.multi/ programs their type. */
int bb_load_open(struct load_ctx *c);
/* Frees everything c holds, closes its fds and the object. */
void bb_load_ctx_done(struct load_ctx *c);
