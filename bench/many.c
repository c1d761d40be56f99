/* SPDX-License-Identifier: MIT */

/*
 * Part 4: one program on N functions. For each N, on fresh functions each time:
 *  - fexitd, one Load with functions: [N names] and attach: true;
 *  - the kernel's own cost, in this process: libbpf loads the object once (retargeted to the
 *    first function), then one BPF_PROG_LOAD of the same instructions and one BPF_LINK_CREATE per
 *    further function, which is what fexitd does inside; function ids are resolved beforehand;
 *  - fexitd, N separate Loads of one function each (up to separate_max: each load pays libbpf's
 *    vmlinux BTF parse).
 * Nothing is detached: a detach costs an RCU-tasks grace period (~150 ms under TCG) and the
 * kernel serialises them. fexitd's links stay on their open connections, ours in a bpffs of our
 * own, until the VM powers off.
 */

#include <bpf/bpf.h>
#include <bpf/btf.h>
#include <bpf/libbpf.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <unistd.h>

#include "bench/bench.h"
#include "common/macro.h"

#define PIN_DIR "/tmp/fexitd-bench-pins"
#define RETRIES 2

static struct btf *vmlinux;
static int pins = -1;            /* -1: not tried yet, 0: no bpffs, 1: mounted */
static unsigned n_pinned;

/* Links we keep attached: pinned in our own bpffs so this process can exit without waiting for
 * hundreds of detaches; without bpffs they stay open (and exiting is slow). */
static void keep_link(int fd) {
        char path[128];

        if (pins < 0) {
                pins = (mkdir(PIN_DIR, 0700) == 0 || errno == EEXIST) &&
                       mount("bpf", PIN_DIR, "bpf", 0, "mode=0700") == 0;
                if (!pins)
                        fprintf(stderr, "fexitd-bench: no bpffs at %s (%m): links stay open\n", PIN_DIR);
        }
        if (!pins)
                return;   /* the fd stays open on purpose */
        snprintf(path, sizeof(path), PIN_DIR "/link-%u", n_pinned++);
        if (bpf_obj_pin(fd, path) == 0)
                close(fd);
}

/* Loads every instance first, then attaches them all, in the order fexitd's Load job does: under
 * TCG each attach patches kernel text, which throws away translated code, so interleaving loads
 * and attaches would cost this side more than it costs fexitd. */
static int kernel_once(const char *object_path, const char *const *names, size_t n, double *ret_ms) {
        _cleanup_free_ int *ids = calloc(n, sizeof(int)), *progs = calloc(n, sizeof(int)),
                           *links = calloc(n, sizeof(int));
        struct bpf_object *obj = NULL;
        struct bpf_program *prog;
        size_t n_progs = 0, n_links = 0;
        uint64_t t0;
        int r;

        if (!ids || !progs || !links)
                return -ENOMEM;
        for (size_t i = 0; i < n; i++) {
                ids[i] = btf__find_by_name_kind(vmlinux, names[i], BTF_KIND_FUNC);
                if (ids[i] < 0)
                        return ids[i];
        }
        t0 = now_ns();
        r = object_load_retargeted(object_path, names[0], &obj, &prog);
        if (r >= 0)
                progs[n_progs++] = bpf_program__fd(prog);   /* owned by obj */
        for (size_t i = 1; r >= 0 && i < n; i++) {
                LIBBPF_OPTS(bpf_prog_load_opts, o, .expected_attach_type = BPF_TRACE_FEXIT,
                            .attach_btf_id = (uint32_t) ids[i], .prog_flags = bpf_program__flags(prog));
                r = bpf_prog_load(BPF_PROG_TYPE_TRACING, "fexit_count", "GPL", bpf_program__insns(prog),
                                  bpf_program__insn_cnt(prog), &o);
                if (r >= 0)
                        progs[n_progs++] = r;
        }
        for (size_t i = 0; r >= 0 && i < n_progs; i++) {
                r = bpf_link_create(progs[i], 0, BPF_TRACE_FEXIT, NULL);
                if (r >= 0)
                        links[n_links++] = r;
        }
        *ret_ms = (double) (now_ns() - t0) / 1e6;
        for (size_t i = 0; i < n_links; i++)
                keep_link(links[i]);   /* the link holds its program */
        for (size_t i = 1; i < n_progs; i++)
                close(progs[i]);
        bpf_object__close(obj);
        return r < 0 ? r : 0;
}

/* One Load of n functions through fexitd, on a connection left open so its links stay. */
static int fexitd_group_once(const char *socket, const char *object_path, const char *const *names,
                             size_t n, double *ret_ms, char *err, size_t err_size) {
        _cleanup_free_ char *params = load_params_functions(names, n, true);
        struct bconn c = { .fd = -EBADF };
        const char *error = NULL;
        int r = bconn_open(socket, &c);

        if (r >= 0)
                r = fexitd_load(&c, object_path, params, ret_ms, NULL, &error);
        if (r >= 0 && !error && (size_t) r == n)
                return 0;   /* c leaks on purpose: closing it would detach */
        if (r >= 0 && !error) {
                /* attached, but not all: leak c too, or hundreds of detaches would stall the rest */
                snprintf(err, err_size, "%d links for %zu functions", r, n);
                return -EIO;
        }
        snprintf(err, err_size, "%.240s", error ? c.buf : strerror(-r));
        bconn_close(&c);   /* a failed Load attached nothing (all or nothing) */
        return r < 0 ? r : -EIO;
}

static int fexitd_separate(const char *socket, const char *object_path, const char *const *names,
                           size_t n, double *ret_ms, char *err, size_t err_size) {
        struct bconn c = { .fd = -EBADF };
        double total = 0, ms;
        int r = bconn_open(socket, &c);

        for (size_t i = 0; r >= 0 && i < n; i++) {
                _cleanup_free_ char *params = load_params_functions(&names[i], 1, true);
                const char *error = NULL;
                r = fexitd_load(&c, object_path, params, &ms, NULL, &error);
                if (r >= 0 && error) {
                        snprintf(err, err_size, "%.240s", c.buf);
                        r = -EIO;
                }
                total += ms;
        }
        *ret_ms = total;
        return r < 0 ? r : 0;   /* c leaks on purpose */
}

static json_object *variant(const char *name, size_t n, struct samples *ms, unsigned retries,
                            const char *err) {
        json_object *o = json_object_new_object(), *all = json_object_new_array();
        double median;

        json_object_object_add(o, "variant", json_object_new_string(name));
        json_object_object_add(o, "n", json_object_new_int64((int64_t) n));
        for (size_t i = 0; i < ms->n; i++)
                json_object_array_add(all, json_object_new_double((double) ms->v[i] / 1e6));
        if (ms->n > 0) {
                median = (double) samples_percentile(ms, 50) / 1e6;
                json_object_object_add(o, "total_ms", json_object_new_double(median));
                json_object_object_add(o, "per_target_ms", json_object_new_double(median / (double) n));
        }
        json_object_object_add(o, "runs_ms", all);
        json_object_object_add(o, "retries", json_object_new_int((int) retries));
        if (err && *err)
                json_object_object_add(o, "error", json_object_new_string(err));
        return o;
}

typedef int (*variant_fn)(const char *socket, const char *object_path, const char *const *names,
                          size_t n, double *ret_ms, char *err, size_t err_size);

static int kernel_variant(const char *socket, const char *object_path, const char *const *names,
                          size_t n, double *ret_ms, char *err, size_t err_size) {
        int r = kernel_once(object_path, names, n, ret_ms);

        if (r < 0)
                snprintf(err, err_size, "%s", strerror(-r));
        return r;
}

/* Runs one variant on fresh functions; a function that misbehaves costs a retry on others. */
static int run_variant(const char *name, variant_fn fn, const char *socket, const char *object_path,
                       struct func_pool *pool, size_t n, struct samples *ms, unsigned *retries,
                       char *err, size_t err_size) {
        int r = -EAGAIN;

        for (unsigned tries = 0; r < 0 && tries < RETRIES; tries++) {
                const char *const *names = func_pool_take(pool, n);
                double t = 0;

                if (!names) {
                        snprintf(err, err_size, "only %zu unused functions left", pool->n - pool->next);
                        return -ENOSPC;
                }
                if (tries > 0)
                        (*retries)++;
                r = fn(socket, object_path, names, n, &t, err, err_size);
                if (r < 0)
                        fprintf(stderr, "fexitd-bench: %s N=%zu: %s\n", name, n, err);
                else {
                        fprintf(stderr, "fexitd-bench: %s N=%zu: %.1f ms\n", name, n, t);
                        (void) samples_add(ms, (uint64_t) (t * 1e6));
                }
        }
        return r;
}

static const struct {
        const char *name;
        variant_fn fn;
        bool separate;
} variants[] = {
        { "fexitd_one_load", fexitd_group_once, false },
        { "kernel", kernel_variant, false },
        { "fexitd_separate_loads", fexitd_separate, true },
};

/* Repeated on fresh functions each time, the median kept: small N because they are cheap and
 * noisy, large N so that one burst of the shared host's load does not decide a ratio. The pool
 * must hold 2 x (3 + 30 + 2 x 100 + 2 x 500) + 3 + 30 + 2 x 100 functions for 1,10,100,500. */
static unsigned repeats_for(size_t n) {
        return n <= 10 ? 3 : 2;
}

int many_run(const char *socket, const char *object_path, struct func_pool *pool,
             const size_t *ns, size_t n_ns, size_t separate_max, json_object **ret) {
        json_object *rows = json_object_new_array();

        vmlinux = btf__load_vmlinux_btf();
        if (!vmlinux)
                return -errno;
        for (size_t i = 0; i < n_ns; i++) {
                struct samples ms[ELEMENTSOF(variants)] = {};
                unsigned retries[ELEMENTSOF(variants)] = {};
                char err[ELEMENTSOF(variants)][256] = {};
                bool failed[ELEMENTSOF(variants)] = {};

                /* the variants take turns within each repeat, and who goes first rotates */
                for (unsigned k = 0; k < repeats_for(ns[i]); k++)
                        for (size_t j = 0; j < ELEMENTSOF(variants); j++) {
                                size_t v = (j + k + i) % ELEMENTSOF(variants);
                                if (failed[v] || (variants[v].separate && ns[i] > separate_max))
                                        continue;
                                failed[v] = run_variant(variants[v].name, variants[v].fn, socket,
                                                        object_path, pool, ns[i], &ms[v], &retries[v],
                                                        err[v], sizeof(err[v])) < 0;
                        }
                for (size_t v = 0; v < ELEMENTSOF(variants); v++) {
                        if (variants[v].separate && ns[i] > separate_max)
                                continue;
                        json_object_array_add(rows, variant(variants[v].name, ns[i], &ms[v], retries[v],
                                                            failed[v] ? err[v] : NULL));
                        samples_done(&ms[v]);
                }
        }
        btf__free(vmlinux);
        vmlinux = NULL;
        *ret = rows;
        return 0;
}
