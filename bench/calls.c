/* SPDX-License-Identifier: MIT */

/* Loads through fexitd, and the pool of kernel functions the many-target parts spread over. */

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <bpf/libbpf.h>

#include "bench/bench.h"
#include "common/macro.h"

int object_load_retargeted(const char *object_path, const char *function, struct bpf_object **ret_obj,
                           struct bpf_program **ret_prog) {
        struct bpf_object *obj = bpf_object__open_file(object_path, NULL);
        struct bpf_program *prog;
        int r = libbpf_get_error(obj);

        if (r < 0) {
                *ret_obj = NULL;
                return r;
        }
        *ret_obj = obj;
        prog = bpf_object__find_program_by_name(obj, "fexit_count");
        r = prog ? bpf_program__set_attach_target(prog, 0, function) : -ENOENT;
        if (r >= 0)
                r = bpf_object__load(obj);
        *ret_prog = prog;
        return r;
}

char *load_params_functions(const char *const *functions, size_t n, bool attach) {
        json_object *p = json_object_new_object(), *progs = json_object_new_array(),
                    *sel = json_object_new_object(), *f = json_object_new_array();
        char *text;

        for (size_t i = 0; i < n; i++)
                json_object_array_add(f, json_object_new_string(functions[i]));
        json_object_object_add(sel, "name", json_object_new_string("fexit_count"));
        json_object_object_add(sel, "functions", f);
        json_object_array_add(progs, sel);
        json_object_object_add(p, "object", json_object_new_int(0));
        json_object_object_add(p, "programs", progs);
        json_object_object_add(p, "attach", json_object_new_boolean(attach));
        text = strdup(json_object_to_json_string_ext(p, JSON_C_TO_STRING_PLAIN));
        vl_put(p);
        return text;
}

/* The client opens the object and passes its fd, as every fexitd client must: that is timed too. */
int fexitd_load(struct bconn *c, const char *object_path, const char *params_json, double *ret_ms,
                json_object **ret_reply, const char **ret_error) {
        uint64_t t0 = now_ns();
        _cleanup_close_ int fd = open(object_path, O_RDONLY | O_CLOEXEC);
        json_object *reply = NULL, *links;
        int r;

        if (fd < 0)
                return -errno;
        r = bconn_call(c, "io.fexitd.Load", params_json ? params_json : "{\"object\":0,\"attach\":true}",
                       &fd, 1, &reply, ret_error);
        *ret_ms = (double) (now_ns() - t0) / 1e6;
        if (r < 0)
                return r;
        links = json_object_object_get(reply, "links");
        r = links ? (int) json_object_array_length(links) : 0;
        if (ret_reply)
                *ret_reply = reply;
        else
                vl_put(reply);
        return r;
}

/* The first handle of kind programs/links/maps in a Load reply. */
static int64_t first_handle(json_object *reply, const char *array) {
        json_object *a = json_object_object_get(reply, array);

        if (!a || json_object_array_length(a) == 0)
                return -1;
        return json_object_get_int64(json_object_object_get(json_object_array_get_idx(a, 0), "handle"));
}

int64_t load_reply_program(json_object *reply) {
        return first_handle(reply, "programs");
}

/* Deterministic shuffle (xorshift, fixed seed): each part gets a similar mix of subsystems. */
static void shuffle(char **v, size_t n) {
        uint64_t x = 0x9e3779b97f4a7c15u;

        for (size_t i = n; i > 1; i--) {
                size_t j;
                char *t;
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                j = (size_t) (x % i);
                t = v[i - 1];
                v[i - 1] = v[j];
                v[j] = t;
        }
}

static int cmp_str(const void *a, const void *b) {
        return strcmp(*(char *const *) a, *(char *const *) b);
}

/* Globs may overlap (fib* and fib6*): each function once. */
static void unique(struct func_pool *p) {
        size_t k = 0;

        qsort(p->names, p->n, sizeof(char *), cmp_str);
        for (size_t i = 0; i < p->n; i++) {
                if (k > 0 && strcmp(p->names[k - 1], p->names[i]) == 0)
                        free(p->names[i]);
                else
                        p->names[k++] = p->names[i];
        }
        p->n = k;
}

static int pool_add_programs(struct func_pool *p, json_object *reply) {
        json_object *progs = json_object_object_get(reply, "programs");
        size_t n = progs ? json_object_array_length(progs) : 0;
        char **v = reallocarray(p->names, p->n + n, sizeof(char *));

        if (!v)
                return -ENOMEM;
        p->names = v;
        for (size_t i = 0; i < n; i++) {
                json_object *t = json_object_object_get(json_object_array_get_idx(progs, i), "target");
                const char *f = json_str(t, "function", NULL);
                if (f && (p->names[p->n] = strdup(f)))
                        p->n++;
        }
        return (int) n;
}

int func_pool_probe(const char *socket, const char *object_path, const char *const *globs,
                    json_object **ret_info, struct func_pool *ret) {
        json_object *info = json_object_new_array();
        struct func_pool p = {};
        uint64_t t0 = now_ns();

        for (size_t g = 0; globs[g]; g++) {
                json_object *o = json_object_new_object(), *reply = NULL;
                char *params = load_params_functions(&globs[g], 1, false);
                const char *error = NULL;
                struct bconn c = { .fd = -EBADF };
                double ms = 0;
                int r = bconn_open(socket, &c);

                /* loaded, not attached: the connection's close unloads them cheaply */
                if (r >= 0)
                        r = fexitd_load(&c, object_path, params, &ms, &reply, &error);
                json_object_object_add(o, "glob", json_object_new_string(globs[g]));
                if (r >= 0 && !error) {
                        json_object *sk = json_object_object_get(reply, "skipped");
                        r = pool_add_programs(&p, reply);
                        json_object_object_add(o, "loadable", json_object_new_int(r));
                        json_object_object_add(o, "skipped", json_object_new_int(
                                sk ? (int) json_object_array_length(sk) : 0));
                } else {
                        json_object_object_add(o, "error", json_object_new_string(
                                error ? error : strerror(-r)));
                        const char *detail = error ? json_object_to_json_string(reply) : strerror(-r);
                        json_object_object_add(o, "detail", json_object_new_string_len(
                                detail, (int) (strlen(detail) < 600 ? strlen(detail) : 600)));
                        fprintf(stderr, "fexitd-bench: probing %s: %.600s\n", globs[g], detail);
                }
                json_object_object_add(o, "ms", json_object_new_double(ms));
                json_object_array_add(info, o);
                vl_put(reply);
                free(params);
                bconn_close(&c);
        }
        unique(&p);
        shuffle(p.names, p.n);
        fprintf(stderr, "fexitd-bench: %zu loadable functions found in %.1f s\n", p.n,
                (double) (now_ns() - t0) / 1e9);
        *ret_info = info;
        *ret = p;
        return 0;
}

const char *const *func_pool_take(struct func_pool *p, size_t n) {
        const char *const *v;

        if (p->n - p->next < n)
                return NULL;
        v = (const char *const *) p->names + p->next;
        p->next += n;
        return v;
}

void func_pool_done(struct func_pool *p) {
        for (size_t i = 0; i < p->n; i++)
                free(p->names[i]);
        free(p->names);
        *p = (struct func_pool) {};
}
