/* SPDX-License-Identifier: MIT */

/*
 * Part 3: what a user pays for going through fexitd. The same object, the same target (the
 * function in its ELF section), loaded and attached in this process with libbpf and through the
 * daemon (Load with attach: true, the object passed as an fd), taking turns. Teardown is not
 * timed: each iteration waits for its detach to finish (libbpf: bpf_link__destroy; fexitd: Unload,
 * which answers after the close), and a pause, so the next one starts on an untraced function.
 */

#include <bpf/libbpf.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "bench/bench.h"

static int libbpf_once(const char *object_path, double *ret_ms, double *ret_teardown_ms) {
        uint64_t t0 = now_ns(), t1;
        struct bpf_object *obj = bpf_object__open_file(object_path, NULL);
        struct bpf_program *prog;
        struct bpf_link *link = NULL;
        int r;

        r = libbpf_get_error(obj);
        if (r < 0)
                return r;
        r = bpf_object__load(obj);
        prog = bpf_object__find_program_by_name(obj, "fexit_count");
        if (r >= 0 && !prog)
                r = -ENOENT;
        if (r >= 0) {
                link = bpf_program__attach(prog);
                r = link ? 0 : -errno;
        }
        t1 = now_ns();
        bpf_link__destroy(link);
        bpf_object__close(obj);
        *ret_ms = (double) (t1 - t0) / 1e6;
        *ret_teardown_ms = (double) (now_ns() - t1) / 1e6;
        return r;
}

static int fexitd_once(struct bconn *c, const char *object_path, double *ret_ms, double *ret_teardown_ms) {
        json_object *reply = NULL, *r2 = NULL;
        const char *error = NULL;
        char params[64];
        uint64_t t;
        int r;

        r = fexitd_load(c, object_path, NULL, ret_ms, &reply, &error);
        if (r >= 0 && error) {
                fprintf(stderr, "fexitd-bench: Load: %s\n", error);
                r = -EIO;
        }
        if (r < 0) {
                vl_put(reply);
                return r;
        }
        snprintf(params, sizeof(params), "{\"handle\":%lld}", (long long) load_reply_program(reply));
        vl_put(reply);
        t = now_ns();
        r = bconn_call(c, "io.fexitd.Unload", params, NULL, 0, &r2, &error);
        *ret_teardown_ms = (double) (now_ns() - t) / 1e6;
        vl_put(r2);
        return r < 0 ? r : error ? -EIO : 0;
}

static json_object *ms_row(const char *name, struct samples *s, struct samples *teardown) {
        json_object *o = json_object_new_object();

        json_object_object_add(o, "path", json_object_new_string(name));
        json_object_object_add(o, "n", json_object_new_int64((int64_t) s->n));
        json_object_object_add(o, "p50_ms", json_object_new_double((double) samples_percentile(s, 50) / 1e6));
        json_object_object_add(o, "min_ms", json_object_new_double(s->n ? (double) s->v[0] / 1e6 : 0));
        json_object_object_add(o, "max_ms", json_object_new_double(s->n ? (double) s->v[s->n - 1] / 1e6 : 0));
        json_object_object_add(o, "mean_ms", json_object_new_double(samples_mean(s) / 1e6));
        json_object_object_add(o, "teardown_p50_ms",
                               json_object_new_double((double) samples_percentile(teardown, 50) / 1e6));
        return o;
}

int loadattach_run(const char *socket, const char *object_path, unsigned iterations, unsigned settle_ms,
                   json_object **ret) {
        struct samples lib = {}, fx = {}, lib_td = {}, fx_td = {};
        struct bconn c = { .fd = -EBADF };
        json_object *o, *rows;
        double ms, td;
        int r;

        r = bconn_open(socket, &c);
        if (r < 0)
                return r;
        /* one warm-up each: the daemon builds its BTF name index on its first load */
        r = libbpf_once(object_path, &ms, &td);
        if (r >= 0)
                r = fexitd_once(&c, object_path, &ms, &td);
        for (unsigned i = 0; r >= 0 && i < iterations; i++) {
                /* alternate which goes first, against drift */
                for (unsigned k = 0; r >= 0 && k < 2; k++) {
                        /* the kernel finishes a detach's deferred work (RCU callbacks freeing the
                         * trampoline) after the close returns: let it, so it slows neither side */
                        usleep(settle_ms * 1000);
                        if ((k + i) % 2 == 0) {
                                r = libbpf_once(object_path, &ms, &td);
                                if (r >= 0) {
                                        (void) samples_add(&lib, (uint64_t) (ms * 1e6));
                                        (void) samples_add(&lib_td, (uint64_t) (td * 1e6));
                                }
                        } else {
                                r = fexitd_once(&c, object_path, &ms, &td);
                                if (r >= 0) {
                                        (void) samples_add(&fx, (uint64_t) (ms * 1e6));
                                        (void) samples_add(&fx_td, (uint64_t) (td * 1e6));
                                }
                        }
                }
        }
        bconn_close(&c);
        if (r < 0)
                fprintf(stderr, "fexitd-bench: load+attach: %s\n", strerror(-r));
        o = json_object_new_object();
        rows = json_object_new_array();
        json_object_array_add(rows, ms_row("libbpf", &lib, &lib_td));
        json_object_array_add(rows, ms_row("fexitd", &fx, &fx_td));
        json_object_object_add(o, "rows", rows);
        json_object_object_add(o, "object", json_object_new_string("fexit_count.bpf.o"));
        json_object_object_add(o, "target", json_object_new_string("do_unlinkat"));
        if (lib.n && fx.n) {
                json_object_object_add(o, "ratio_p50", json_object_new_double(
                        (double) samples_percentile(&fx, 50) / (double) samples_percentile(&lib, 50)));
                json_object_object_add(o, "ratio_mean", json_object_new_double(
                        samples_mean(&fx) / samples_mean(&lib)));
        }
        samples_done(&lib);
        samples_done(&fx);
        samples_done(&lib_td);
        samples_done(&fx_td);
        *ret = o;
        return r;
}
