/* SPDX-License-Identifier: MIT */

/* Reads the catalog program "vfsret" (vfsret.bpf.c): loads and attaches it through fexitd as an
 * unprivileged consumer, takes its link (it is detached when this process exits), and prints the
 * calls and errors of every vfs_* function every --interval seconds. On a kernel with tracing
 * multi-links that is one program and one link for all of them, and the stats are per function;
 * elsewhere one program per function, and the stats add up in one line.
 *
 *   vfsret [--socket PATH] [--seconds S] [--interval S]
 */

#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <libfexit.h>

struct vfs_ret {        /* as in vfsret.bpf.c */
        uint64_t calls;
        uint64_t errors;
        int64_t last_error;
};

static int fail(struct fexit_client *c, const char *what, int r) {
        fprintf(stderr, "vfsret: %s: %s (%s)\n", what,
                c && fexit_client_error_message(c) ? fexit_client_error_message(c) : strerror(-r),
                c && fexit_client_error_name(c) ? fexit_client_error_name(c) : "-");
        return EXIT_FAILURE;
}

static void print_slot(int map_fd, uint32_t slot, const char *name) {
        struct vfs_ret v;

        if (fexit_map_read(map_fd, slot, sizeof(v), &v) < 0 || v.calls == 0)
                return;
        printf("%-32s %12llu %10llu %6lld\n", name, (unsigned long long) v.calls,
               (unsigned long long) v.errors, (long long) v.last_error);
}

static void print_stats(int map_fd, const struct fexit_handle *prog) {
        printf("%-32s %12s %10s %6s\n", "function", "calls", "errors", "last");
        if (prog->n_functions == 0)     /* instances: every function's program counts in slot 0 */
                print_slot(map_fd, 0, "(all vfs_* functions)");
        for (size_t i = 0; i < prog->n_functions && i < 1023; i++)
                print_slot(map_fd, (uint32_t) i + 1, prog->functions[i]);
        fflush(stdout);
}

int main(int argc, char **argv) {
        static const struct option opts[] = {
                { "socket", required_argument, NULL, 's' },
                { "seconds", required_argument, NULL, 't' },
                { "interval", required_argument, NULL, 'i' },
                {}
        };
        struct fexit_load_opts lo = { .sz = sizeof(lo), .lifetime = FEXIT_LIFETIME_CONNECTION, .attach = true };
        struct fexit_client *c = NULL;
        struct fexit_load_result *res = NULL;
        struct fexit_handle *prog = NULL;
        const char *socket = NULL;
        long seconds = 10, interval = 5;
        int link_fd = -1, map_fd = -1, r, o;

        while ((o = getopt_long(argc, argv, "", opts, NULL)) >= 0)
                switch (o) {
                case 's': socket = optarg; break;
                case 't': seconds = strtol(optarg, NULL, 10); break;
                case 'i': interval = strtol(optarg, NULL, 10); break;
                default: return 2;
                }
        r = fexit_client_open(socket, NULL, &c);
        if (r < 0)
                return fail(NULL, "cannot reach fexitd", r);
        r = fexit_client_load_catalog(c, "vfsret", &lo, &res);
        if (r < 0)
                return fail(c, "load of catalog program vfsret", r);
        if (res->n_programs == 0 || res->n_maps == 0 || res->n_links == 0)
                return fail(c, "unexpected load result", -EPROTO);
        /* the program's functions (a multi-link program lists them all), then the link is ours */
        r = fexit_client_describe(c, res->programs[0]->handle, &prog);
        for (size_t i = 0; r >= 0 && i < res->n_links; i++) {
                int fd;
                r = fexit_client_take_link(c, res->links[i]->handle, &fd, NULL);
                if (r >= 0 && i == 0)
                        link_fd = fd;   /* the others stay open until we exit, as this one */
        }
        if (r >= 0)
                r = fexit_client_share_map(c, res->maps[0]->handle, &map_fd, NULL, NULL);
        if (r < 0)
                return fail(c, "describe, take-link or share-map", r);
        printf("vfsret: %s: %zu programs, %zu links for %lld functions\n",
               res->mode ? res->mode : "instances", res->n_programs, res->n_links,
               (long long) (prog->function_count > 0 ? prog->function_count : (int64_t) res->n_programs));
        for (long t = 0; t < seconds; t += interval) {
                sleep((unsigned) (interval < seconds - t ? interval : seconds - t));
                print_stats(map_fd, prog);
        }
        close(map_fd);
        close(link_fd);
        fexit_handle_free(prog);
        fexit_load_result_free(res);
        fexit_client_free(c);
        return EXIT_SUCCESS;
}
