/* SPDX-License-Identifier: MIT */

/* The five tables, rendered from the JSON the parts write, and the merge into one results file. */

#include <errno.h>
#include <getopt.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bench/bench.h"

/* Goals from the issue; docs/performance.md states them beside the numbers. */
#define GOAL_P50_FLOOR 1.5
#define GOAL_P99_FLOOR 2.0
#define GOAL_BUSY_P99 2.0
#define GOAL_LOAD_RATIO 1.15
#define GOAL_LINEAR 1.25      /* marginal cost per target, last step against the one before */
#define GOAL_PER_TARGET 1.15  /* fexitd's per-target cost against the kernel's own */
#define GOAL_PER_LINK_KIB 2.0
#define GOAL_MULTI_VS_INSTANCES 50.0   /* at N = 1,000: instances' per-target cost / multi-link's */
#define GOAL_MULTI_FLOOR 1.1           /* fexitd's multi-link against the in-process floor */

static json_object *get(json_object *o, const char *key) {
        json_object *v = NULL;

        return o && json_object_object_get_ex(o, key, &v) ? v : NULL;
}

static size_t len(json_object *a) {
        return a && json_object_is_type(a, json_type_array) ? json_object_array_length(a) : 0;
}

static json_object *at(json_object *a, size_t i) {
        return json_object_array_get_idx(a, i);
}

static const char *verdict(bool met) {
        return met ? "met" : "NOT met";
}

static void machine_line(FILE *f, const char *what, json_object *m) {
        if (!m)
                return;
        fprintf(f, "%s: %s, %d CPUs (%s), %s, libbpf %s%s%s, %s, load average %s%s%s\n", what,
                json_str(m, "kernel", "?"), (int) json_num(m, "cpus", 0), json_str(m, "cpu", "?"),
                json_str(m, "memory", "?"), json_str(m, "libbpf", "?"),
                json_str(m, "accel", NULL) ? ", accel " : "", json_str(m, "accel", ""),
                json_str(m, "date", "?"), json_str(m, "loadavg", "?"),
                json_str(m, "host_loadavg", NULL) ? ", host's " : "", json_str(m, "host_loadavg", ""));
}

static json_object *find_row(json_object *rows, int clients, const char *target) {
        for (size_t i = 0; i < len(rows); i++)
                if ((int) json_num(at(rows, i), "clients", -1) == clients &&
                    strcmp(json_str(at(rows, i), "target", ""), target) == 0)
                        return at(rows, i);
        return NULL;
}

/* Part 1: latency against the echo floor of the same run. Returns whether every goal was met.
 * Without goal (the VM's idle figures, the reference for part 2), the ratios are only shown. */
static bool print_latency(FILE *f, const char *title, json_object *rows, bool goal) {
        bool all = true;

        fprintf(f, "%s\n", title);
        fprintf(f, "%7s %-8s %9s %9s %9s %10s %8s %9s %9s  %s\n", "clients", "call", "p50 us", "p99 us",
                "p99.9 us", "calls/s", "loop us", "p50/floor", "p99/floor", "goal p50<=1.5x p99<=2x");
        for (size_t i = 0; i < len(rows); i++) {
                json_object *r = at(rows, i);
                json_object *floor = find_row(rows, (int) json_num(r, "clients", 0), "echo");
                bool is_floor = r == floor;
                double a = floor ? json_num(r, "p50_us", 0) / json_num(floor, "p50_us", 1) : NAN;
                double b = floor ? json_num(r, "p99_us", 0) / json_num(floor, "p99_us", 1) : NAN;

                fprintf(f, "%7d %-8s %9.1f %9.1f %9.1f %10.0f %8.1f", (int) json_num(r, "clients", 0),
                        json_str(r, "target", "?"), json_num(r, "p50_us", 0), json_num(r, "p99_us", 0),
                        json_num(r, "p999_us", 0), json_num(r, "calls_per_s", 0), json_num(r, "server_cpu_us", 0));
                if (is_floor || !floor) {
                        fprintf(f, " %9s %9s  %s\n", "", "", is_floor ? "(floor: bare AF_UNIX echo)" : "");
                        continue;
                }
                fprintf(f, " %8.2fx %8.2fx  %s\n", a, b,
                        goal ? verdict(a <= GOAL_P50_FLOOR && b <= GOAL_P99_FLOOR) : "(no goal in the VM)");
                all = all && a <= GOAL_P50_FLOOR && b <= GOAL_P99_FLOOR;
        }
        return all;
}

static void print_busy(FILE *f, json_object *vm) {
        json_object *idle = get(vm, "latency_idle"), *busy = get(vm, "latency_busy"), *ch = get(vm, "churn");

        if (!busy)
                return;
        fprintf(f, "\n2. Latency while another client loads, attaches and detaches without pause (VM)\n");
        fprintf(f, "%7s %-8s %9s %9s %9s %9s %10s  %s\n", "clients", "call", "idle p99", "busy p50",
                "busy p99", "p99.9", "busy/idle", "goal p99<=2x idle");
        for (size_t i = 0; i < len(busy); i++) {
                json_object *b = at(busy, i);
                json_object *a = find_row(idle, (int) json_num(b, "clients", 0), json_str(b, "target", ""));
                double ratio = a ? json_num(b, "p99_us", 0) / json_num(a, "p99_us", 1) : NAN;
                bool floor = strcmp(json_str(b, "target", ""), "echo") == 0;

                fprintf(f, "%7d %-8s %9.0f %9.0f %9.0f %9.0f %9.2fx  %s\n", (int) json_num(b, "clients", 0),
                        json_str(b, "target", "?"), a ? json_num(a, "p99_us", 0) : NAN,
                        json_num(b, "p50_us", 0), json_num(b, "p99_us", 0), json_num(b, "p999_us", 0), ratio,
                        floor ? "(floor: the machine's own slowdown)" : verdict(ratio <= GOAL_BUSY_P99));
        }
        for (size_t i = 0; i < len(ch); i++) {
                json_object *c = at(ch, i);
                fprintf(f, "busy round %zu: %d load+attach+unload cycles in %.0f s (load+attach p50 %.0f ms, "
                        "unload p50 %.0f ms), %d errors%s%s\n", i + 1, (int) json_num(c, "cycles", 0),
                        json_num(c, "seconds", 0), json_num(get(c, "load_attach"), "p50_ms", 0),
                        json_num(get(c, "unload"), "p50_ms", 0), (int) json_num(c, "errors", 0),
                        json_str(c, "first_error", NULL) ? ": " : "", json_str(c, "first_error", ""));
        }
}

static void print_loadattach(FILE *f, json_object *la) {
        json_object *rows = get(la, "rows");
        double ratio = json_num(la, "ratio_p50", NAN);

        if (!la)
                return;
        fprintf(f, "\n3. Load+attach of %s on %s, fexitd against in-process libbpf (VM), ms\n",
                json_str(la, "object", "?"), json_str(la, "target", "?"));
        fprintf(f, "%-8s %4s %9s %9s %9s %9s %14s\n", "path", "n", "p50", "mean", "min", "max",
                "teardown p50");
        for (size_t i = 0; i < len(rows); i++) {
                json_object *r = at(rows, i);
                fprintf(f, "%-8s %4d %9.1f %9.1f %9.1f %9.1f %14.1f\n", json_str(r, "path", "?"),
                        (int) json_num(r, "n", 0), json_num(r, "p50_ms", 0), json_num(r, "mean_ms", 0),
                        json_num(r, "min_ms", 0), json_num(r, "max_ms", 0), json_num(r, "teardown_p50_ms", 0));
        }
        fprintf(f, "fexitd/libbpf: %.2fx at p50, %.2fx on the mean; goal <= %.2fx: %s\n", ratio,
                json_num(la, "ratio_mean", NAN), GOAL_LOAD_RATIO, verdict(ratio <= GOAL_LOAD_RATIO));
}

static json_object *many_find(json_object *rows, const char *variant, double n) {
        for (size_t i = 0; i < len(rows); i++)
                if (json_num(at(rows, i), "n", -1) == n &&
                    strcmp(json_str(at(rows, i), "variant", ""), variant) == 0)
                        return at(rows, i);
        return NULL;
}

/* Marginal cost per target between the last two sizes and the two before. */
static double growth(json_object *rows, const char *variant, const double *ns, size_t k,
                     double *ret_last) {
        double m[2];

        if (k < 3)
                return NAN;
        for (size_t j = 0; j < 2; j++) {
                json_object *a = many_find(rows, variant, ns[k - 3 + j]), *b = many_find(rows, variant, ns[k - 2 + j]);
                m[j] = (json_num(b, "total_ms", NAN) - json_num(a, "total_ms", NAN)) / (ns[k - 2 + j] - ns[k - 3 + j]);
        }
        *ret_last = m[1];
        return m[1] / m[0];
}

static void print_many(FILE *f, json_object *rows) {
        double ns[16], last_f = NAN, last_k = NAN, gf, gk, per_f, per_k;
        size_t k = 0;

        if (!rows)
                return;
        for (size_t i = 0; i < len(rows) && k < 16; i++)
                if (strcmp(json_str(at(rows, i), "variant", ""), "fexitd_one_load") == 0)
                        ns[k++] = json_num(at(rows, i), "n", 0);
        fprintf(f, "\n4. One program on N functions (VM), ms: one Load, the kernel's own load+attach, N Loads\n");
        fprintf(f, "%5s %11s %10s | %11s %10s | %9s | %11s %10s\n", "N", "fexitd 1x", "per target",
                "kernel", "per target", "fx/kernel", "fexitd Nx", "per target");
        for (size_t i = 0; i < k; i++) {
                json_object *a = many_find(rows, "fexitd_one_load", ns[i]), *b = many_find(rows, "kernel", ns[i]),
                            *c = many_find(rows, "fexitd_separate_loads", ns[i]);
                fprintf(f, "%5.0f %11.1f %10.2f | %11.1f %10.2f | %8.2fx |", ns[i], json_num(a, "total_ms", NAN),
                        json_num(a, "per_target_ms", NAN), json_num(b, "total_ms", NAN),
                        json_num(b, "per_target_ms", NAN),
                        json_num(a, "total_ms", NAN) / json_num(b, "total_ms", NAN));
                if (c)
                        fprintf(f, " %11.1f %10.2f\n", json_num(c, "total_ms", NAN), json_num(c, "per_target_ms", NAN));
                else
                        fprintf(f, " %11s %10s\n", "-", "-");
                for (json_object *x = a; x; x = x == a ? b : x == b ? c : NULL)
                        if (json_str(x, "error", NULL))
                                fprintf(f, "      %s N=%.0f failed: %s\n", json_str(x, "variant", ""), ns[i],
                                        json_str(x, "error", ""));
        }
        gf = growth(rows, "fexitd_one_load", ns, k, &last_f);
        gk = growth(rows, "kernel", ns, k, &last_k);
        per_f = k ? json_num(many_find(rows, "fexitd_one_load", ns[k - 1]), "per_target_ms", NAN) : NAN;
        per_k = k ? json_num(many_find(rows, "kernel", ns[k - 1]), "per_target_ms", NAN) : NAN;
        fprintf(f, "marginal cost per target, N=%.0f..%.0f: fexitd %.2f ms, kernel %.2f ms; against the step "
                "before: fexitd %.2fx, kernel %.2fx; goal linear (<= %.2fx): %s\n", k > 1 ? ns[k - 2] : 0,
                k ? ns[k - 1] : 0, last_f, last_k, gf, gk, GOAL_LINEAR, verdict(gf <= GOAL_LINEAR));
        fprintf(f, "per target at N=%.0f: fexitd %.2f ms, kernel %.2f ms (%.2fx); goal close to the kernel "
                "(<= %.2fx): %s\n", k ? ns[k - 1] : 0, per_f, per_k, per_f / per_k, GOAL_PER_TARGET,
                verdict(per_f / per_k <= GOAL_PER_TARGET));
}

static void print_memory_rows(FILE *f, const char *where, json_object *rows) {
        for (size_t i = 0; i < len(rows); i++) {
                json_object *r = at(rows, i);
                fprintf(f, "%-5s %-34s %6d %9d %9d %9d %9d\n", where, json_str(r, "label", "?"),
                        (int) json_num(r, "links", -1), (int) json_num(r, "rss_kib", -1),
                        (int) json_num(r, "rss_anon_kib", -1), (int) json_num(r, "heap_kib", -1),
                        (int) json_num(r, "anon_maps_kib", -1));
        }
}

static void print_per_link(FILE *f, json_object *m, bool goal) {
        double per = json_num(m, "per_link_kib", NAN), per_plain = json_num(m, "per_link_kib_plain", NAN);

        fprintf(f, "per link, from %.0f to %.0f links: %.2f KiB (%.2f KiB before the List)%s%s; everything "
                "since idle included: %.2f KiB\n", json_num(m, "slope_from_links", NAN),
                json_num(m, "links", NAN), per, per_plain, goal ? "; goal <= 2.0 KiB: " : "",
                goal ? verdict(fmax(per, per_plain) <= GOAL_PER_LINK_KIB) : "",
                json_num(m, "per_link_kib_from_idle", NAN));
}

static void print_memory(FILE *f, json_object *host, json_object *vm) {
        json_object *hm = get(host, "memory"), *vm_idle = get(vm, "memory_idle"), *vm_links = get(vm, "memory"),
                    *variant = get(vm, "memory_malloc_variant");

        if (!hm && !vm_links)
                return;
        fprintf(f, "\n5. Daemon memory, KiB: VmRSS, RssAnon, and RSS in the main heap and in other anonymous "
                "mappings (threads' malloc arenas)\n");
        fprintf(f, "%-5s %-34s %6s %9s %9s %9s %9s\n", "where", "state", "links", "RSS", "anon", "heap",
                "arenas");
        print_memory_rows(f, "host", hm);
        print_memory_rows(f, "vm", vm_idle);
        print_memory_rows(f, "vm", get(vm_links, "rows"));
        if (vm_links)
                print_per_link(f, vm_links, true);
        if (variant) {
                fprintf(f, "the same, the daemon started with %s:\n", json_str(variant, "malloc", "?"));
                print_memory_rows(f, "vm", get(variant, "rows"));
                print_per_link(f, variant, false);
        }
}

/* Part 6: one program on N functions as one tracing multi-link, against instances and the floor. */
static void print_multi(FILE *f, json_object *rows) {
        if (!rows)
                return;
        fprintf(f, "\n6. Tracing multi-link (one program, one link, N functions), per target in us\n");
        if (len(rows) == 0) {
                fprintf(f, "   the kernel has no tracing multi-links: nothing measured\n");
                return;
        }
        fprintf(f, "%8s %12s %12s %12s %10s %10s %12s %12s\n", "N", "multi", "instances", "floor",
                "inst/multi", "multi/floor", "detach ms", "RSS B/func");
        for (size_t i = 0; i < len(rows); i++) {
                json_object *r = at(rows, i);
                double m = json_num(r, "per_target_us_multi", NAN), in = json_num(r, "per_target_us_instances", NAN),
                       fl = json_num(r, "per_target_us_floor", NAN);

                fprintf(f, "%8.0f %12.1f %12.1f %12.1f %10.1f %10.2f %12.1f %12.0f%s%s\n",
                        json_num(r, "n", 0), m, in, fl, in / m, m / fl, json_num(r, "multi_detach_ms", NAN),
                        json_num(r, "daemon_rss_bytes_per_function", NAN),
                        get(r, "error") ? "  error: " : "", json_str(r, "error", ""));
                if (json_num(r, "n", 0) == 1000)
                        fprintf(f, "   goal at N = 1,000: instances/multi >= %.0f: %s; multi/floor <= %.1f: %s\n",
                                GOAL_MULTI_VS_INSTANCES, verdict(in / m >= GOAL_MULTI_VS_INSTANCES),
                                GOAL_MULTI_FLOOR, verdict(m / fl <= GOAL_MULTI_FLOOR));
        }
}

void report_print(FILE *f, json_object *doc) {
        json_object *host = get(doc, "host"), *vm = get(doc, "vm");
        const char *part = json_str(doc, "part", NULL);

        if (part && strcmp(part, "host") == 0)
                host = doc;
        if (part && strcmp(part, "vm") == 0)
                vm = doc;
        machine_line(f, "host", get(host, "machine"));
        machine_line(f, "vm", get(vm, "machine"));
        if (get(host, "latency"))
                fprintf(f, "every row met its goal: %s\n",
                        print_latency(f, "\n1. Control-call latency, idle daemon (host)",
                                      get(host, "latency"), true) ? "yes" : "NO");
        if (get(vm, "latency_idle"))
                print_latency(f, "\n1b. The same in the VM, idle: the reference for 2 (TCG and a shared "
                              "host: loop CPU includes steal time)", get(vm, "latency_idle"), false);
        print_busy(f, vm);
        print_loadattach(f, get(vm, "load_attach"));
        print_many(f, get(vm, "many"));
        print_memory(f, host, vm);
        print_multi(f, get(vm, "multi_link"));
}

/* fexitd-bench report [--host FILE] [--vm FILE] [--out FILE] [--txt FILE]: merges the parts into
 * {"schema": 1, "host": {...}, "vm": {...}}, writes it and its tables, and prints the tables. */
int report_main(int argc, char **argv) {
        static const struct option longopts[] = {
                { "host", required_argument, NULL, 'h' },
                { "vm", required_argument, NULL, 'v' },
                { "out", required_argument, NULL, 'o' },
                { "txt", required_argument, NULL, 't' },
                {}
        };
        const char *host = NULL, *vm = NULL, *out = NULL, *txt = NULL;
        json_object *doc = json_object_new_object();
        int c, r = 0;

        while ((c = getopt_long(argc, argv, "", longopts, NULL)) >= 0)
                switch (c) {
                case 'h': host = optarg; break;
                case 'v': vm = optarg; break;
                case 'o': out = optarg; break;
                case 't': txt = optarg; break;
                default: return 2;
                }
        json_object_object_add(doc, "schema", json_object_new_int(1));
        for (size_t i = 0; i < 2; i++) {
                const char *path = i == 0 ? host : vm;
                json_object *part = path ? json_object_from_file(path) : NULL;
                if (path && !part) {
                        fprintf(stderr, "fexitd-bench report: cannot read %s\n", path);
                        r = 1;
                }
                if (part)
                        json_object_object_add(doc, i == 0 ? "host" : "vm", part);
        }
        if (out && json_object_to_file_ext(out, doc, JSON_C_TO_STRING_PRETTY) < 0) {
                fprintf(stderr, "fexitd-bench report: cannot write %s\n", out);
                r = 1;
        }
        if (txt) {
                FILE *f = fopen(txt, "we");
                if (f) {
                        report_print(f, doc);
                        fclose(f);
                } else {
                        fprintf(stderr, "fexitd-bench report: cannot write %s: %m\n", txt);
                        r = 1;
                }
        }
        report_print(stdout, doc);
        vl_put(doc);
        return r;
}
