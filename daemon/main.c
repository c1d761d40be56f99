/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <getopt.h>
#include <malloc.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <systemd/sd-daemon.h>

#include "config.h"
#include "daemon/bpf-backend.h"
#include "daemon/holder.h"
#include "daemon/log.h"
#include "daemon/release.h"
#include "daemon/state.h"
#include "daemon/programs-d.h"
#include "daemon/server.h"

#define BPF_FS_MAGIC_ 0xcafe4a11

static void help(void) {
        printf("Usage: fexitd [OPTIONS]\n\n"
               "Owns fexit eBPF programs and their links; clients talk Varlink on a Unix socket.\n\n"
               "  --socket PATH        listen here unless socket-activated (default %s)\n"
               "  --pin-dir DIR        bpffs directory for persistent objects (default %s)\n"
               "  --state-dir DIR      where state.json is kept (default %s)\n"
               "  --conf-dir DIR       policy.conf, programs.d/ and programs/ (default %s)\n"
               "  --catalog DIRS       ':'-separated catalog dirs (default CONF/programs:%s)\n"
               "  --admin-group NAME   members may call everything, like root (default fexit-admin)\n"
               "  --socket-group NAME  without socket activation: the socket is 0660 root:NAME\n"
               "                       when NAME exists, like fexitd.socket (default fexit)\n"
               "  --workers N          threads for kernel work (default 4)\n"
               "  --limit NAME=VALUE   connection-queue, user-buffers, total-buffers (bytes, K/M/G),\n"
               "                       message-timeout, reply-timeout (ms or s); docs/security.md\n"
               "  --log-level LEVEL    debug, info, notice, warning, err (default info)\n"
               "  --no-multi-link      one program per function even where the kernel has\n"
               "                       tracing multi-links\n"
               "  --version, --help\n",
               FEXITD_SOCKET, FEXITD_PIN_DIR, FEXITD_STATE_DIR, FEXITD_CONF_DIR, FEXITD_CATALOG_DIR);
}

static int parse_level(const char *s) {
        static const char *const names[] = { "emerg", "alert", "crit", "err", "warning", "notice",
                                              "info", "debug" };
        for (size_t i = 0; i < ELEMENTSOF(names); i++)
                if (strcmp(s, names[i]) == 0)
                        return (int) i;
        return -EINVAL;
}

/* "64K", "32M", "1G", "250ms", "30s": a number with an optional unit. */
static int parse_number(const char *s, const char *const *units, const uint64_t *scale, uint64_t *ret) {
        char *end;
        unsigned long long n;

        errno = 0;
        n = strtoull(s, &end, 10);
        if (errno || end == s || *s == '-')
                return -EINVAL;
        for (size_t i = 0; units[i]; i++)
                if (strcmp(end, units[i]) == 0) {
                        if (n > UINT64_MAX / scale[i])
                                return -ERANGE;
                        *ret = n * scale[i];
                        return 0;
                }
        return -EINVAL;
}

static int parse_limit(const char *arg, struct limits *l) {
        static const char *const size_units[] = { "", "K", "M", "G", NULL };
        static const uint64_t size_scale[] = { 1, 1 << 10, 1 << 20, 1 << 30 };
        static const char *const time_units[] = { "ms", "s", NULL };
        static const uint64_t time_scale[] = { 1000, 1000000 };
        const char *eq = strchr(arg, '=');
        uint64_t v = 0;   /* 0 is refused: no limit may be switched off */
        int r = -EINVAL;

        if (!eq)
                return -EINVAL;
#define IS(name) (strncmp(arg, name, (size_t) (eq - arg)) == 0 && strlen(name) == (size_t) (eq - arg))
        if (IS("connection-queue") && (r = parse_number(eq + 1, size_units, size_scale, &v)) >= 0)
                l->conn_queue = v;
        else if (IS("user-buffers") && (r = parse_number(eq + 1, size_units, size_scale, &v)) >= 0)
                l->user_buffers = v;
        else if (IS("total-buffers") && (r = parse_number(eq + 1, size_units, size_scale, &v)) >= 0)
                l->total_buffers = v;
        else if (IS("message-timeout") && (r = parse_number(eq + 1, time_units, time_scale, &v)) >= 0)
                l->message_usec = v;
        else if (IS("reply-timeout") && (r = parse_number(eq + 1, time_units, time_scale, &v)) >= 0)
                l->reply_usec = v;
#undef IS
        return r < 0 || v == 0 ? -EINVAL : 0;
}

static int parse_args(int argc, char **argv, struct config *cfg, int *level) {
        static const struct option opts[] = {
                { "socket", required_argument, NULL, 's' },
                { "pin-dir", required_argument, NULL, 'p' },
                { "state-dir", required_argument, NULL, 'S' },
                { "conf-dir", required_argument, NULL, 'c' },
                { "catalog", required_argument, NULL, 'C' },
                { "admin-group", required_argument, NULL, 'a' },
                { "socket-group", required_argument, NULL, 'g' },
                { "workers", required_argument, NULL, 'w' },
                { "limit", required_argument, NULL, 'L' },
                { "log-level", required_argument, NULL, 'l' },
                { "no-multi-link", no_argument, NULL, 'M' },
                { "version", no_argument, NULL, 'V' },
                { "help", no_argument, NULL, 'h' },
                {}
        };
        int c;

        while ((c = getopt_long(argc, argv, "h", opts, NULL)) >= 0)
                switch (c) {
                case 's': cfg->socket_path = optarg; break;
                case 'p': cfg->pin_dir = optarg; break;
                case 'S': cfg->state_dir = optarg; break;
                case 'c': cfg->conf_dir = optarg; break;
                case 'C': cfg->catalog_dirs = optarg; break;
                case 'a': cfg->admin_group = *optarg ? optarg : NULL; break;
                case 'g': cfg->socket_group = *optarg ? optarg : NULL; break;
                case 'L':
                        if (parse_limit(optarg, &cfg->limits) < 0) {
                                fprintf(stderr, "fexitd: --limit: cannot parse '%s'\n", optarg);
                                return -EINVAL;
                        }
                        break;
                case 'w': {
                        char *end;
                        unsigned long n = strtoul(optarg, &end, 10);
                        if (*end || n == 0 || n > 64) {
                                fprintf(stderr, "fexitd: --workers takes 1..64\n");
                                return -EINVAL;
                        }
                        cfg->workers = (unsigned) n;
                        break;
                }
                case 'l':
                        *level = parse_level(optarg);
                        if (*level < 0) {
                                fprintf(stderr, "fexitd: unknown log level '%s'\n", optarg);
                                return -EINVAL;
                        }
                        break;
                case 'M': cfg->no_multi_link = true; break;
                case 'V': printf("fexitd %s\n", FEXITD_VERSION); return 0;
                case 'h': help(); return 0;
                default: return -EINVAL;
                }
        if (optind < argc) {
                fprintf(stderr, "fexitd: unexpected argument '%s'\n", argv[optind]);
                return -EINVAL;
        }
        return 1;
}

static int mkdir_p(const char *path, mode_t mode) {
        char buf[4096];

        if (strlen(path) >= sizeof(buf))
                return -ENAMETOOLONG;
        strcpy(buf, path);
        for (char *p = buf + 1; *p; p++)
                if (*p == '/') {
                        *p = 0;
                        (void) mkdir(buf, mode);
                        *p = '/';
                }
        return mkdir(buf, mode) < 0 && errno != EEXIST ? -errno : 0;
}

/* Loads of many functions become one multi-link program where the kernel has them (Linux 7.3). */
static bool probe_tracing_multi(void) {
        char reason[256] = "";
        bool r = bb_probe_tracing_multi(reason, sizeof(reason)) > 0;

        if (r)
                log_info("Tracing multi-links available: a program for many functions is loaded once "
                         "and attached with one link.");
        else
                log_info("No tracing multi-links (%s): a program for many functions is loaded once "
                         "per function.", reason);
        return r;
}

/* Persistence needs our pin dir on bpffs; without it persistent handles live only in memory. */
static bool setup_pin_dir(const char *dir) {
        struct statfs sfs;
        int r = mkdir_p(dir, 0700);

        if (r < 0 || statfs(dir, &sfs) < 0 || sfs.f_type != BPF_FS_MAGIC_) {
                log_warning("%s is not a usable bpffs directory (%s): persistent handles will not "
                            "survive a restart.", dir, r < 0 ? strerror(-r) : "not on bpffs");
                return false;
        }
        return true;
}

static int on_reload(sd_event_source *s, const struct signalfd_siginfo *si, void *userdata) {
        struct server *srv = userdata;

        (void) sd_notify(false, "RELOADING=1");
        (void) server_load_policy(srv);
        programs_d_load(srv);
        (void) sd_notify(false, "READY=1");
        return 0;
}

static int run(struct config *cfg) {
        sd_event *e = NULL;
        struct server srv;
        bool open_to_all = false;
        int fd, r;

        r = mkdir_p(cfg->state_dir, 0700);
        if (r < 0)
                return log_error_errno(r, "Cannot create state dir %s: %m", cfg->state_dir);
        fd = vl_server_listen(cfg->socket_path, cfg->socket_group, &open_to_all);
        if (fd < 0)
                return log_error_errno(fd, "Cannot listen on %s: %m", cfg->socket_path);
        if (open_to_all)
                log_notice("Group '%s' does not exist: %s is 0666, open to every local user "
                           "(the policy still decides what each may do).", cfg->socket_group ?: "",
                           cfg->socket_path);
        r = sd_event_default(&e);
        if (r < 0)
                return log_error_errno(r, "Cannot create the event loop: %m");
        r = server_init(&srv, e, cfg, fd);
        if (r < 0) {
                sd_event_unref(e);
                return log_error_errno(r, "Cannot start: %m");
        }
        r = server_load_policy(&srv);
        if (r < 0) {
                server_done(&srv);
                sd_event_unref(e);
                return r;   /* a policy with a mistake must not run as an empty one */
        }
        srv.persist = setup_pin_dir(cfg->pin_dir);
        srv.tracing_multi = !cfg->no_multi_link && probe_tracing_multi();
        (void) state_restore(&srv);
        holder_watch_all(&srv);
        (void) sd_event_add_signal(e, NULL, SIGTERM, NULL, NULL);
        (void) sd_event_add_signal(e, NULL, SIGINT, NULL, NULL);
        (void) sd_event_add_signal(e, NULL, SIGHUP, on_reload, &srv);
        (void) sd_event_set_watchdog(e, true);   /* WATCHDOG=1 from the loop itself */

        (void) sd_notify(false, "READY=1");
        server_notify_status(&srv);
        log_info("fexitd %s ready: %zu programs, %zu links, %zu maps re-adopted.", FEXITD_VERSION,
                 handle_table_count(&srv.handles, HANDLE_PROGRAM),
                 handle_table_count(&srv.handles, HANDLE_LINK), handle_table_count(&srv.handles, HANDLE_MAP));
        programs_d_load(&srv);
        server_warm_up(&srv);

        r = sd_event_loop(e);
        (void) sd_notify(false, "STOPPING=1");
        log_info("Stopping; persistent handles stay pinned for the next start.");
        server_done(&srv);
        sd_event_unref(e);
        return r < 0 ? r : 0;
}

int main(int argc, char **argv) {
        struct config cfg = {
                .socket_path = FEXITD_SOCKET,
                .pin_dir = FEXITD_PIN_DIR,
                .state_dir = FEXITD_STATE_DIR,
                .conf_dir = FEXITD_CONF_DIR,
                .admin_group = "fexit-admin",
                .socket_group = "fexit",
                .workers = 4,
                .limits = LIMITS_DEFAULT,
        };
        char catalog[8192];
        int level = LOG_INFO, r;

        r = parse_args(argc, argv, &cfg, &level);
        if (r <= 0)
                return r < 0 ? 2 : 0;
        log_setup(level);
        if (!cfg.catalog_dirs) {
                snprintf(catalog, sizeof(catalog), "%s/programs:%s", cfg.conf_dir, FEXITD_CATALOG_DIR);
                cfg.catalog_dirs = catalog;
        }
        /* Every program, link and map is an fd: take the hard limit (the unit sets 65536);
         * 1024 ran out at about 500 links. */
        struct rlimit rl;
        if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
                rl.rlim_cur = rl.rlim_max;
                (void) setrlimit(RLIMIT_NOFILE, &rl);
        }
        /* libbpf allocates and frees megabytes per load on the workers; with glibc's dynamic
         * thresholds their arenas kept it (14 KiB of RSS per link in bench/): fixed, lower
         * thresholds hand it back (1.9 KiB per link, docs/performance.md). */
        (void) mallopt(M_MMAP_THRESHOLD, 128 << 10);
        (void) mallopt(M_TRIM_THRESHOLD, 128 << 10);
        /* Closing a link fd detaches it; a SIGPIPE must never take the owner of record down. */
        (void) signal(SIGPIPE, SIG_IGN);
        /* Blocked before any thread exists, so that every thread inherits the mask and the loop's
         * signalfd alone receives them: a worker with SIGHUP unblocked would die of a reload. */
        sigset_t mask;
        sigemptyset(&mask);
        sigaddset(&mask, SIGTERM);
        sigaddset(&mask, SIGINT);
        sigaddset(&mask, SIGHUP);
        (void) pthread_sigmask(SIG_BLOCK, &mask, NULL);
        return run(&cfg) < 0 ? 1 : 0;
}
