/* SPDX-License-Identifier: MIT */

/*
 * Part 6: tracing multi-link (issue 10; Linux 7.3). For each N, one program on N functions:
 *  - multi: fexitd (which found multi-links at start) one Load of fexit_count with functions:
 *    [N names] and attach: true, which must give one program and one link; then Detach of that
 *    link (the reply comes after the close: the kernel's detach) and Unload;
 *  - instances (N <= instances_max): the same Load through a second fexitd started with
 *    --no-multi-link; nothing is detached (N x ~150 ms of RCU grace periods under TCG);
 *  - floor: in this process, what fexitd does inside, without the daemon: libbpf loads the object
 *    (retargeted to the first function, which relocates it), the instructions are loaded once
 *    more as a multi program, one BPF_LINK_CREATE over the BTF ids (resolved beforehand); then
 *    the link is closed (timed: the detach).
 * Functions: the vmlinux functions of subsystems a test VM does not exercise (the globs) that
 * fexitd would take from a glob (traceable, on no deny list, one kallsyms symbol, arguments the
 * trampoline takes), shuffled with a fixed seed; multi and the floor detach, so they reuse names,
 * the instances take fresh ones. Not every function: a run over 10,000 random functions of all of
 * vmlinux (spin locks, the page allocator...) attached and detached cleanly, and then the 7.3
 * guest died of an int3 oops in _raw_spin_trylock (docs/performance.md).
 * The daemon's RSS is read before the multi Load and after it (links attached): per function.
 */

#include <bpf/bpf.h>
#include <bpf/btf.h>
#include <bpf/libbpf.h>
#include <errno.h>
#include <fnmatch.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "bench/bench.h"
#include "common/macro.h"
#include "daemon/bpf-backend.h"
#include "daemon/bpf-multi.h"
#include "daemon/btf-index.h"
#include "daemon/btf-rules.h"

struct pool {
        const struct btf_func **v;
        size_t n, next;
        struct btf_index *idx;
};

static bool usable(const struct btf_func *f) {
        char reason[256];

        return f->obj == 0 && f->traceable == 1 && f->ksyms == 1 && !btf_func_deny_reason(f->name) &&
               btf_func_check_args(f, btf_kernel_version(), bb_features()->max_args, reason, sizeof(reason)) == 0;
}

static bool in_globs(const char *const *globs, const char *name) {
        for (size_t i = 0; globs[i]; i++)
                if (fnmatch(globs[i], name, 0) == 0)
                        return true;
        return false;
}

static int pool_build(struct pool *p, const char *const *globs) {
        const struct btf_func **all = NULL;
        size_t n = 0;
        uint64_t x = 0x9e3779b97f4a7c15u;
        int r = btf_index_system(&p->idx);

        if (r >= 0)
                r = btf_index_glob(p->idx, "*", &all, &n);
        if (r < 0)
                return r;
        p->v = all;
        for (size_t i = 0; i < n; i++)
                if (usable(all[i]) && in_globs(globs, all[i]->name))
                        p->v[p->n++] = all[i];
        for (size_t i = p->n; i > 1; i--) {     /* xorshift, fixed seed */
                const struct btf_func *t;
                size_t j;

                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                j = (size_t) (x % i);
                t = p->v[i - 1];
                p->v[i - 1] = p->v[j];
                p->v[j] = t;
        }
        return 0;
}

static const char **pool_names(const struct pool *p, size_t from, size_t n) {
        const char **v = calloc(n, sizeof(char *));

        for (size_t i = 0; v && i < n; i++)
                v[i] = p->v[from + i]->name;
        return v;
}

/* The floor: attach and detach times in ms. */
static int floor_once(const char *object_path, const struct pool *p, size_t n, double *ret_attach,
                      double *ret_detach) {
        _cleanup_free_ uint32_t *ids = calloc(n, sizeof(uint32_t));
        struct bpf_object *obj = NULL;
        struct bpf_program *prog;
        int prog_fd = -EBADF, link = -EBADF, r;
        uint64_t t0, t1;

        if (!ids)
                return -ENOMEM;
        for (size_t i = 0; i < n; i++)
                ids[i] = p->v[i]->btf_id;
        t0 = now_ns();
        r = object_load_retargeted(object_path, p->v[0]->name, &obj, &prog);
        if (r >= 0)
                r = prog_fd = bb_multi_prog_load("fexit_count", "GPL", bpf_program__insns(prog),
                                                 bpf_program__insn_cnt(prog), 0, 0, NULL, 0);
        if (r >= 0)
                r = link = bb_multi_link_create(prog_fd, ids, NULL, n);
        t1 = now_ns();
        *ret_attach = (double) (t1 - t0) / 1e6;
        safe_close(link);
        *ret_detach = (double) (now_ns() - t1) / 1e6;
        safe_close(prog_fd);
        bpf_object__close(obj);
        return r < 0 ? r : 0;
}

struct multi_row {
        double load_ms, detach_ms, floor_ms, floor_detach_ms, instances_ms;
        long rss_before, rss_after;
        const char *error;
        char buf[256];
};

/* One multi Load through fexitd, then its Detach and Unload. */
static int fexitd_multi_once(struct bench_daemon *d, const char *object_path, const char **names,
                             size_t n, struct multi_row *row) {
        _cleanup_free_ char *params = load_params_functions(names, n, true);
        struct bconn c = { .fd = -EBADF };
        json_object *reply = NULL, *r2 = NULL;
        const char *error = NULL;
        char p[64];
        int64_t prog, link;
        uint64_t t0;
        int r;

        (void) proc_rss_kib(d->pid, &row->rss_before, &(long) {0});
        r = bconn_open(d->socket, &c);
        if (r >= 0)
                r = fexitd_load(&c, object_path, params, &row->load_ms, &reply, &error);
        if (r >= 0 && (error || r != 1 || strcmp(json_str(reply, "mode", ""), "multi-link") != 0)) {
                snprintf(row->buf, sizeof(row->buf), "%.200s", error ? c.buf : "not one multi-link");
                row->error = row->buf;
                r = -EIO;
        }
        if (r < 0) {
                vl_put(reply);
                bconn_close(&c);
                return r;
        }
        (void) proc_rss_kib(d->pid, &row->rss_after, &(long) {0});
        prog = load_reply_program(reply);
        link = json_object_get_int64(json_object_object_get(
                json_object_array_get_idx(json_object_object_get(reply, "links"), 0), "handle"));
        vl_put(reply);
        snprintf(p, sizeof(p), "{\"handle\":%lld}", (long long) link);
        t0 = now_ns();
        r = bconn_call(&c, "io.fexitd.Detach", p, NULL, 0, &r2, &error);
        row->detach_ms = (double) (now_ns() - t0) / 1e6;
        vl_put(r2);
        snprintf(p, sizeof(p), "{\"handle\":%lld}", (long long) prog);
        if (r >= 0)
                r = bconn_call(&c, "io.fexitd.Unload", p, NULL, 0, &r2, &error);
        vl_put(r2);
        bconn_close(&c);
        return r;
}

/* Instances: the links stay, on a connection left open. */
static int fexitd_instances_once(struct bench_daemon *d, const char *object_path, const char **names,
                                 size_t n, struct multi_row *row) {
        _cleanup_free_ char *params = load_params_functions(names, n, true);
        struct bconn c = { .fd = -EBADF };
        const char *error = NULL;
        int r = bconn_open(d->socket, &c);

        if (r >= 0)
                r = fexitd_load(&c, object_path, params, &row->instances_ms, NULL, &error);
        if (r >= 0 && (error || (size_t) r != n)) {
                snprintf(row->buf, sizeof(row->buf), "instances: %.200s", error ? c.buf : "not one link each");
                row->error = row->buf;
                bconn_close(&c);
                return -EIO;
        }
        return r;   /* c leaks on purpose */
}

static void add_num(json_object *o, const char *key, double v) {
        if (v > 0)
                json_object_object_add(o, key, json_object_new_double(v));
}

static json_object *row_json(size_t n, const struct multi_row *m) {
        json_object *o = json_object_new_object();

        json_object_object_add(o, "n", json_object_new_int64((int64_t) n));
        add_num(o, "per_target_us_multi", m->load_ms * 1e3 / (double) n);
        add_num(o, "per_target_us_instances", m->instances_ms * 1e3 / (double) n);
        add_num(o, "per_target_us_floor", m->floor_ms * 1e3 / (double) n);
        add_num(o, "multi_load_attach_ms", m->load_ms);
        add_num(o, "multi_detach_ms", m->detach_ms);
        add_num(o, "floor_attach_ms", m->floor_ms);
        add_num(o, "floor_detach_ms", m->floor_detach_ms);
        add_num(o, "instances_load_attach_ms", m->instances_ms);
        if (m->rss_after > 0 && m->rss_before > 0)
                json_object_object_add(o, "daemon_rss_bytes_per_function", json_object_new_double(
                        (double) (m->rss_after - m->rss_before) * 1024.0 / (double) n));
        if (m->error)
                json_object_object_add(o, "error", json_object_new_string(m->error));
        return o;
}

static bool daemon_has_multi_link(struct bench_daemon *d) {
        struct bconn c = { .fd = -EBADF };
        json_object *reply = NULL;
        const char *error = NULL;
        bool yes = false;

        if (bconn_open(d->socket, &c) >= 0 &&
            bconn_call(&c, "io.fexitd.Status", NULL, NULL, 0, &reply, &error) >= 0 && !error)
                yes = json_object_get_boolean(json_object_object_get(
                        json_object_object_get(reply, "features"), "tracing_multi"));
        vl_put(reply);
        bconn_close(&c);
        return yes;
}

int multi_run(const char *object_path, const char *const *globs, const size_t *ns, size_t n_ns,
              size_t instances_max, json_object **ret) {
        static const char *const no_multi[] = { "--no-multi-link", NULL };
        struct bench_daemon dm = {}, di = {};
        json_object *rows = json_object_new_array();
        struct pool p = {};
        size_t fresh;
        int r;

        r = pool_build(&p, globs);
        if (r >= 0)
                r = bench_daemon_start_args(&dm, NULL);
        if (r >= 0)
                r = bench_daemon_start_args(&di, no_multi);
        if (r < 0)
                goto out;
        if (!daemon_has_multi_link(&dm)) {
                fprintf(stderr, "fexitd-bench: multi-link: this kernel has none, nothing to measure\n");
                goto out;
        }
        fprintf(stderr, "fexitd-bench: multi-link: %zu usable vmlinux functions\n", p.n);
        fresh = 0;
        for (size_t i = 0; i < n_ns; i++)       /* multi and floor share [0, the largest N that fits) */
                fresh = ns[i] > fresh && ns[i] <= p.n ? ns[i] : fresh;
        for (size_t i = 0; i < n_ns; i++) {
                struct multi_row m = {};
                _cleanup_free_ const char **names = NULL;
                size_t n = ns[i];

                if (n > p.n) {
                        fprintf(stderr, "fexitd-bench: multi-link N=%zu: only %zu functions\n", n, p.n);
                        break;
                }
                names = pool_names(&p, 0, n);
                if (!names)
                        break;
                if (fexitd_multi_once(&dm, object_path, names, n, &m) < 0)
                        fprintf(stderr, "fexitd-bench: multi-link N=%zu: %s\n", n, m.error ? m.error : "failed");
                if (floor_once(object_path, &p, n, &m.floor_ms, &m.floor_detach_ms) < 0)
                        fprintf(stderr, "fexitd-bench: multi-link floor N=%zu failed\n", n);
                if (n <= instances_max && fresh + n > p.n)
                        fprintf(stderr, "fexitd-bench: instances N=%zu: only %zu fresh functions left\n",
                                n, p.n - fresh);
                if (n <= instances_max && fresh + n <= p.n) {
                        _cleanup_free_ const char **inst = pool_names(&p, fresh, n);
                        if (inst && fexitd_instances_once(&di, object_path, inst, n, &m) < 0)
                                fprintf(stderr, "fexitd-bench: instances N=%zu: %s\n", n, m.error);
                        fresh += n;
                }
                fprintf(stderr, "fexitd-bench: multi-link N=%zu: fexitd %.1f ms (detach %.1f), floor "
                        "%.1f ms (detach %.1f), instances %.1f ms\n", n, m.load_ms, m.detach_ms,
                        m.floor_ms, m.floor_detach_ms, m.instances_ms);
                json_object_array_add(rows, row_json(n, &m));
        }
out:
        /* di keeps its instances attached: the VM powers off instead of detaching them */
        bench_daemon_stop(&dm);
        free(p.v);
        btf_index_unref(p.idx);
        *ret = rows;
        return r;
}
