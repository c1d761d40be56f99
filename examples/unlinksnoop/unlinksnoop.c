/* SPDX-License-Identifier: MIT */

/* An unprivileged tracing service built on fexitd (docs/security.md): it asks the daemon to load
 * the catalog program "unlinksnoop" and attach it, takes the link (so the program is detached
 * exactly when this process exits, however it exits), receives the event ring buffer and the
 * frozen .bss counters, and prints one line per unlink. It needs no capability: only access to
 * the socket and a policy line that lets it load "unlinksnoop".
 *
 *   unlinksnoop [--socket PATH] [--events N] [--seconds S] [--keep-connection]
 *
 * --keep-connection leaves the link with the daemon, bound to this connection (for tests: the
 * daemon must release it when the connection goes, including when the daemon restarts).
 */

#include <errno.h>
#include <stdbool.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <libfexit.h>

struct unlink_event {   /* as in unlinksnoop.bpf.c */
        uint32_t pid;
        uint32_t uid;
        int32_t ret;
        char comm[16];
        char name[128];
};

struct counters {       /* the .bss section: calls, failures */
        uint64_t calls;
        uint64_t failures;
};

static volatile sig_atomic_t stop;
static long events_seen, events_max = -1;

static void on_signal(int sig) {
        stop = 1;
}

static int on_event(void *ctx, const void *data, size_t size) {
        const struct unlink_event *e = data;

        if (size < sizeof(*e))
                return 0;
        printf("unlink pid=%u uid=%u comm=%.16s ret=%d name=%.128s\n", e->pid, e->uid, e->comm,
               e->ret, e->name);
        if (events_max >= 0 && ++events_seen >= events_max)
                stop = 1;
        return 0;
}

static const struct fexit_handle *find_map(const struct fexit_load_result *r, const char *suffix) {
        for (size_t i = 0; i < r->n_maps; i++) {
                size_t n = strlen(r->maps[i]->name), k = strlen(suffix);
                if (n >= k && strcmp(r->maps[i]->name + n - k, suffix) == 0)
                        return r->maps[i];
        }
        return NULL;
}

static int fail(struct fexit_client *c, const char *what, int r) {
        fprintf(stderr, "unlinksnoop: %s: %s (%s)\n", what,
                c && fexit_client_error_message(c) ? fexit_client_error_message(c) : strerror(-r),
                c && fexit_client_error_name(c) ? fexit_client_error_name(c) : "-");
        return EXIT_FAILURE;
}

int main(int argc, char **argv) {
        static const struct option opts[] = {
                { "socket", required_argument, NULL, 's' },
                { "events", required_argument, NULL, 'e' },
                { "seconds", required_argument, NULL, 't' },
                { "keep-connection", no_argument, NULL, 'k' },
                {}
        };
        struct fexit_client *c = NULL;
        struct fexit_load_result *res = NULL;
        struct fexit_ringbuf *rb = NULL;
        const struct fexit_handle *events, *bss;
        const char *socket = NULL;
        struct counters *counters = NULL;
        size_t counters_size = 0;
        int link_fd = -1, events_fd = -1, bss_fd = -1, r, o;
        long seconds = -1;
        bool keep_connection = false;
        time_t end;

        while ((o = getopt_long(argc, argv, "", opts, NULL)) >= 0)
                switch (o) {
                case 's': socket = optarg; break;
                case 'e': events_max = strtol(optarg, NULL, 10); break;
                case 't': seconds = strtol(optarg, NULL, 10); break;
                case 'k': keep_connection = true; break;
                default: return 2;
                }
        setvbuf(stdout, NULL, _IOLBF, 0);
        signal(SIGTERM, on_signal);
        signal(SIGINT, on_signal);

        r = fexit_client_open(socket, NULL, &c);
        if (r < 0)
                return fail(NULL, "cannot reach fexitd", r);
        /* Connection-bound: should we die before taking the link, the daemon cleans up. */
        r = fexit_client_load_catalog(c, "unlinksnoop",
                                      &(struct fexit_load_opts) { .sz = sizeof(struct fexit_load_opts),
                                                                  .lifetime = FEXIT_LIFETIME_CONNECTION,
                                                                  .attach = true },
                                      &res);
        if (r < 0)
                return fail(c, "load of catalog program unlinksnoop", r);
        events = find_map(res, "events");
        bss = find_map(res, ".bss");
        if (res->n_links != 1 || !events || !bss)
                return fail(c, "unexpected load result", -EPROTO);
        if (!keep_connection) {
                r = fexit_client_take_link(c, res->links[0]->handle, &link_fd, NULL);
                if (r < 0)
                        return fail(c, "take-link", r);
        }
        r = fexit_client_share_map(c, events->handle, &events_fd, NULL, NULL);
        if (r >= 0)
                r = fexit_client_share_map(c, bss->handle, &bss_fd, NULL, NULL);
        if (r < 0)
                return fail(c, "share-map", r);
        r = fexit_map_mmap(bss_fd, (void **) &counters, &counters_size);
        if (r < 0)
                return fail(NULL, "mmap of .bss", r);
        r = fexit_ringbuf_new(events_fd, on_event, NULL, &rb);
        if (r < 0)
                return fail(NULL, "ring buffer", r);
        printf("unlinksnoop: tracing vfs_unlink as uid %u (link fd %d, program %lld on %s)\n",
               (unsigned) getuid(), link_fd, (long long) res->programs[0]->kernel_id,
               res->programs[0]->target ? res->programs[0]->target->function : "?");

        end = seconds >= 0 ? time(NULL) + seconds : 0;
        while (!stop && (!end || time(NULL) < end)) {
                r = fexit_ringbuf_poll(rb, 200);
                if (r < 0 && r != -EINTR)
                        return fail(NULL, "ring buffer poll", r);
                /* with the link still the daemon's, a daemon that went away took it along */
                if (keep_connection) {
                        struct fexit_status *st = NULL;
                        if (fexit_client_status(c, &st) < 0)
                                break;
                        fexit_status_free(st);
                }
        }
        (void) fexit_ringbuf_consume(rb);
        printf("unlinksnoop: %llu unlinks seen by the program, %llu failed\n",
               (unsigned long long) counters->calls, (unsigned long long) counters->failures);

        /* Closing the link fd (here, or by exiting) detaches the program. */
        fexit_ringbuf_free(rb);
        fexit_map_munmap(counters, counters_size);
        if (link_fd >= 0)
                close(link_fd);
        close(events_fd);
        close(bss_fd);
        fexit_load_result_free(res);
        fexit_client_free(c);
        return EXIT_SUCCESS;
}
