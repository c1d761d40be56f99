/* SPDX-License-Identifier: MIT */

/*
 * fexitd-bench: see bench.h and docs/performance.md. bench/run is the documented way to run it.
 *
 *   fexitd-bench host [--samples N] [--rounds N] [--warmup N] [--clients N,N,...] [--json FILE]
 *   fexitd-bench vm --object FEXIT_COUNT.bpf.o [--samples N] [--rounds N] [--warmup N]
 *                   [--clients N,N,...] [--settle-ms MS] [--iterations N] [--many N,N,...]
 *                   [--separate-max N] [--links N,N,...] [--multi N,N,...] [--multi-instances-max N]
 *                   [--parts load,latency,many,memory,multi]
 *                   [--malloc-variant NAME=VALUE|""] [--json FILE]
 *
 * --samples calls per concurrency level, target and round; --rounds rounds (in the VM each has an
 * idle and a busy half, --settle-ms apart); --iterations load+attach pairs; --many the N of part
 * 4; --separate-max the largest N also done as N separate Loads; --links the steps of part 5;
 * --malloc-variant an environment assignment for a second run of part 5's daemon ("" for none);
 * --multi the N of part 6 (tracing multi-link, kernels that have it), --multi-instances-max the
 * largest N also done as instances.
 *   fexitd-bench report [--host FILE] [--vm FILE] [--out FILE] [--txt FILE]
 *   fexitd-bench echo-server SOCKET
 *
 * host and vm print their tables and, on a line of its own starting with "@@fexitd-bench-json ",
 * their JSON document (how bench/run gets it out of the VM's console log).
 */

#include <bpf/libbpf.h>
#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/resource.h>
#include <unistd.h>

#include "bench/bench.h"
#include "common/macro.h"

#define JSON_LINE_PREFIX "@@fexitd-bench-json "

struct opts {
        size_t samples, warmup;
        unsigned rounds, iterations;
        const char *object, *json;
        size_t many[8], n_many, links[8], n_links, separate_max, multi[8], n_multi, multi_instances_max;
        unsigned clients[8];
        size_t n_clients;
        unsigned settle_ms;
        const char *parts;               /* vm: comma-separated subset of load,latency,many,memory */
        const char *malloc_variant;      /* vm: memory again with this in the daemon's environment */
};

/* Probed for loadable functions, in this order: subsystems a test VM never exercises, so the
 * programs left attached there do not slow the rest of the run down. */
static const char *const globs[] = {
        "xfrm*", "tcp_[a-m]*", "tcp_[n-z]*", "udp*", "ip6*", "ipv6_*", "inet*", "fib*", "neigh*",
        "icmp*", "igmp*", "arp_*", "raw_*", "ping_*", "rt6_*", "ndisc_*", "mld_*", "addrconf_*",
        "ip_*", "ipmr*", "rtnl_*", "nexthop*", "seg6*", "lwtunnel*", "mptcp*", "devlink*",
        "ethtool*", "ethnl*", "netlbl*", "cipso*", "calipso*", "ioam6*", "tcf_*", "qdisc_*", "tc_*",
        "genl*", "dst_*", "ipv4_*", "nf_*", "phy_*", "mdio*", "netpoll*", "dcb*", "switchdev*", NULL,
};

/* Part 6 needs thousands of functions: the globs above and more subsystems the VM leaves alone.
 * Nothing of the core (locks, memory, scheduler, RCU, interrupts, text patching). */
static const char *const multi_globs[] = {
        "xfrm*", "tcp_*", "udp*", "ip6*", "ipv6_*", "inet*", "fib*", "neigh*", "icmp*", "igmp*",
        "arp_*", "raw_*", "ping_*", "rt6_*", "ndisc_*", "mld_*", "addrconf_*", "ip_*", "ipmr*",
        "rtnl_*", "nexthop*", "seg6*", "lwtunnel*", "mptcp*", "devlink*", "ethtool*", "ethnl*",
        "netlbl*", "cipso*", "calipso*", "ioam6*", "tcf_*", "qdisc_*", "tc_*", "genl*", "dst_*",
        "ipv4_*", "nf_*", "phy_*", "mdio*", "netpoll*", "dcb*", "switchdev*", "sock_*", "sk_*",
        "skb_*", "netdev_*", "dev_*", "net_*", "nla_*", "netlink_*", "crypto_*", "acpi_*", "pci_*",
        "usb_*", "tty_*", "input_*", "hid_*", "kobject_*", "debugfs_*", "audit_*", "key_*", NULL,
};

static int libbpf_quiet(enum libbpf_print_level level, const char *fmt, va_list ap) {
        return level == LIBBPF_WARN ? vfprintf(stderr, fmt, ap) : 0;
}

static size_t parse_list(const char *s, size_t *v, size_t max) {
        size_t n = 0;

        for (char *end; s && *s && n < max; s = *end ? end + 1 : end) {
                v[n++] = strtoul(s, &end, 10);
                if (end == s)
                        break;
        }
        return n;
}

static size_t parse_levels(const char *s, unsigned *v, size_t max) {
        size_t tmp[8], n = parse_list(s, tmp, max < 8 ? max : 8);

        for (size_t i = 0; i < n; i++)
                v[i] = tmp[i] > 0 && tmp[i] <= 1024 ? (unsigned) tmp[i] : 1;
        return n;
}

static int parse_opts(int argc, char **argv, struct opts *o) {
        static const struct option longopts[] = {
                { "samples", required_argument, NULL, 's' },
                { "rounds", required_argument, NULL, 'r' },
                { "warmup", required_argument, NULL, 'w' },
                { "iterations", required_argument, NULL, 'i' },
                { "object", required_argument, NULL, 'o' },
                { "json", required_argument, NULL, 'j' },
                { "many", required_argument, NULL, 'm' },
                { "separate-max", required_argument, NULL, 'S' },
                { "links", required_argument, NULL, 'l' },
                { "clients", required_argument, NULL, 'c' },
                { "settle-ms", required_argument, NULL, 'T' },
                { "parts", required_argument, NULL, 'p' },
                { "malloc-variant", required_argument, NULL, 'M' },
                { "multi", required_argument, NULL, 'u' },
                { "multi-instances-max", required_argument, NULL, 'U' },
                {}
        };
        int c;

        while ((c = getopt_long(argc, argv, "", longopts, NULL)) >= 0)
                switch (c) {
                case 's': o->samples = strtoul(optarg, NULL, 10); break;
                case 'r': o->rounds = (unsigned) strtoul(optarg, NULL, 10); break;
                case 'w': o->warmup = strtoul(optarg, NULL, 10); break;
                case 'i': o->iterations = (unsigned) strtoul(optarg, NULL, 10); break;
                case 'o': o->object = optarg; break;
                case 'j': o->json = optarg; break;
                case 'm': o->n_many = parse_list(optarg, o->many, ELEMENTSOF(o->many)); break;
                case 'S': o->separate_max = strtoul(optarg, NULL, 10); break;
                case 'l': o->n_links = parse_list(optarg, o->links, ELEMENTSOF(o->links)); break;
                case 'T': o->settle_ms = (unsigned) strtoul(optarg, NULL, 10); break;
                case 'p': o->parts = optarg; break;
                case 'M': o->malloc_variant = optarg; break;
                case 'u': o->n_multi = parse_list(optarg, o->multi, ELEMENTSOF(o->multi)); break;
                case 'U': o->multi_instances_max = strtoul(optarg, NULL, 10); break;
                case 'c': o->n_clients = parse_levels(optarg, o->clients, ELEMENTSOF(o->clients)); break;
                default: return -EINVAL;
                }
        return optind == argc ? 0 : -EINVAL;
}

/* The document so far, on its line: if the VM dies in a later part, the earlier ones survive. */
static void checkpoint(json_object *doc) {
        printf("%s%s\n", JSON_LINE_PREFIX, json_object_to_json_string_ext(doc, JSON_C_TO_STRING_PLAIN));
        fflush(stdout);
}

static void emit(json_object *doc, const char *path) {
        report_print(stdout, doc);
        printf("%s%s\n", JSON_LINE_PREFIX, json_object_to_json_string_ext(doc, JSON_C_TO_STRING_PLAIN));
        fflush(stdout);
        if (path && json_object_to_file_ext(path, doc, JSON_C_TO_STRING_PRETTY) < 0)
                fprintf(stderr, "fexitd-bench: cannot write %s\n", path);
}

struct env {
        char dir[64], echo_socket[128];
        pid_t echo;
        struct bench_daemon d;
};

static struct latency_opts latency_opts(const struct opts *o, const struct env *e) {
        return (struct latency_opts) { .clients = o->clients, .n_clients = o->n_clients,
                                       .samples = o->samples, .warmup = o->warmup,
                                       .echo_socket = e->echo_socket, .daemon_socket = e->d.socket,
                                       .echo_pid = e->echo, .daemon_pid = e->d.pid };
}

/* RSS while n clients are connected and have each made a call. */
static json_object *memory_with_clients(struct bench_daemon *d, unsigned n) {
        struct bconn *c = calloc(n, sizeof(*c));
        char label[64];
        json_object *m;

        for (unsigned i = 0; c && i < n; i++) {
                json_object *reply = NULL;
                const char *error;
                c[i].fd = -EBADF;
                if (bconn_open(d->socket, &c[i]) >= 0)
                        (void) bconn_call(&c[i], "io.fexitd.Status", NULL, NULL, 0, &reply, &error);
                vl_put(reply);
        }
        snprintf(label, sizeof(label), "%u clients connected", n);
        m = bench_daemon_memory(d, label, NULL);
        for (unsigned i = 0; c && i < n; i++)
                bconn_close(&c[i]);
        free(c);
        return m;
}

static struct env *running;

/* Ctrl-C on the host: stop what we started (the daemon, the echo server, the daemon's bpffs). */
static void on_signal(int sig) {
        if (running) {
                if (running->d.pid > 0)
                        kill(running->d.pid, SIGTERM);
                if (running->d.pin_dir[0])
                        (void) umount2(running->d.pin_dir, MNT_DETACH);
                if (running->echo > 0)
                        kill(running->echo, SIGTERM);
                (void) unlink(running->echo_socket);
                (void) rmdir(running->dir);
        }
        _exit(128 + sig);
}

static void env_stop(struct env *e) {
        char path[160];

        running = NULL;
        bench_daemon_stop(&e->d);
        echo_server_stop(e->echo);
        e->echo = 0;
        (void) unlink(e->echo_socket);
        snprintf(path, sizeof(path), "%s", e->dir);
        if (*path)
                (void) rmdir(path);
}

static int env_start(struct env *e) {
        int r;

        snprintf(e->dir, sizeof(e->dir), "/tmp/fexitd-bench-XXXXXX");
        if (!mkdtemp(e->dir))
                return -errno;
        snprintf(e->echo_socket, sizeof(e->echo_socket), "%s/echo.sock", e->dir);
        r = echo_server_start(e->echo_socket, &e->echo);
        if (r < 0) {
                fprintf(stderr, "fexitd-bench: echo server: %s\n", strerror(-r));
                return r;
        }
        running = e;
        r = bench_daemon_start(&e->d);
        if (r < 0)
                fprintf(stderr, "fexitd-bench: cannot start fexitd ($FEXITD_BIN): %s\n", strerror(-r));
        return r;
}

static int cmd_host(const struct opts *o) {
        json_object *doc = json_object_new_object(), *mem = json_object_new_array();
        struct latency_acc *acc = NULL;
        struct latency_opts lo;
        struct env e = {};
        int r;

        json_object_object_add(doc, "part", json_object_new_string("host"));
        json_object_object_add(doc, "machine", machine_describe());
        r = env_start(&e);
        lo = latency_opts(o, &e);
        if (r >= 0)
                r = latency_acc_new(&lo, &acc);
        if (r >= 0) {
                json_object_array_add(mem, bench_daemon_memory(&e.d, "idle", NULL));
                for (unsigned i = 0; r >= 0 && i < o->rounds; i++)
                        r = latency_round(acc);
                json_object_object_add(doc, "latency", latency_acc_rows(acc));
                json_object_array_add(mem, bench_daemon_memory(&e.d, "after the latency runs", NULL));
                json_object_array_add(mem, memory_with_clients(&e.d, 64));
        }
        latency_acc_free(acc);
        json_object_object_add(doc, "memory", mem);
        env_stop(&e);
        emit(doc, o->json);
        vl_put(doc);
        return r < 0 ? 1 : 0;
}

/* Parts 1 (in the VM) and 2: idle and busy rounds alternate, so that both see the same drift;
 * before an idle round, the kernel gets time to finish the deferred work of the last detaches. */
static int vm_latency(const struct opts *o, struct env *e, json_object *doc) {
        struct latency_opts lo = latency_opts(o, e);
        struct latency_acc *idle = NULL, *busy = NULL;
        json_object *churns = json_object_new_array();
        int r;

        r = latency_acc_new(&lo, &idle);
        if (r >= 0)
                r = latency_acc_new(&lo, &busy);
        for (unsigned i = 0; r >= 0 && i < o->rounds; i++) {
                struct churn *ch;
                fprintf(stderr, "fexitd-bench: latency round %u/%u, idle\n", i + 1, o->rounds);
                usleep(o->settle_ms * 1000);
                r = latency_round(idle);
                if (r < 0)
                        break;
                fprintf(stderr, "fexitd-bench: latency round %u/%u, while loading, attaching and "
                        "detaching\n", i + 1, o->rounds);
                r = churn_start(e->d.socket, o->object, &ch);
                if (r < 0)
                        break;
                usleep(o->settle_ms * 1000);   /* the first cycle under way */
                r = latency_round(busy);
                json_object_array_add(churns, churn_stop(ch));
        }
        json_object_object_add(doc, "latency_idle", latency_acc_rows(idle));
        json_object_object_add(doc, "latency_busy", latency_acc_rows(busy));
        json_object_object_add(doc, "churn", churns);
        latency_acc_free(idle);
        latency_acc_free(busy);
        return r;
}

static bool want(const struct opts *o, const char *part) {
        return !o->parts || strstr(o->parts, part);
}

static int cmd_vm(const struct opts *o) {
        json_object *doc = json_object_new_object(), *x = NULL, *probe = NULL;
        struct func_pool pool = {};
        struct env e = {};
        int r;

        if (!o->object) {
                fprintf(stderr, "fexitd-bench vm: --object FEXIT_COUNT.bpf.o is required\n");
                return 2;
        }
        json_object_object_add(doc, "part", json_object_new_string("vm"));
        json_object_object_add(doc, "machine", machine_describe());
        r = env_start(&e);
        if (r >= 0) {
                x = json_object_new_array();
                json_object_array_add(x, bench_daemon_memory(&e.d, "idle, before any load", NULL));
                json_object_object_add(doc, "memory_idle", x);
        }
        if (r >= 0 && want(o, "load")) {
                fprintf(stderr, "fexitd-bench: load+attach against libbpf\n");
                r = loadattach_run(e.d.socket, o->object, o->iterations, o->settle_ms / 2, &x);
                json_object_object_add(doc, "load_attach", x);
                checkpoint(doc);
        }
        if (r >= 0 && want(o, "latency")) {
                r = vm_latency(o, &e, doc);
                checkpoint(doc);
        }
        echo_server_stop(e.echo);
        if (r >= 0 && (want(o, "many") || want(o, "memory"))) {
                fprintf(stderr, "fexitd-bench: probing functions\n");
                r = func_pool_probe(e.d.socket, o->object, globs, &probe, &pool);
                json_object_object_add(doc, "function_probe", probe);
        }
        if (r >= 0 && want(o, "many")) {
                r = many_run(e.d.socket, o->object, &pool, o->many, o->n_many, o->separate_max, &x);
                json_object_object_add(doc, "many", x);
                checkpoint(doc);
        }
        if (r >= 0 && want(o, "memory")) {
                fprintf(stderr, "fexitd-bench: memory with links\n");
                r = memory_run(o->object, &pool, o->links, o->n_links, NULL, &x);
                json_object_object_add(doc, "memory", x);
                checkpoint(doc);
        }
        if (r >= 0 && want(o, "memory") && o->malloc_variant && *o->malloc_variant) {
                /* the same daemon with glibc's malloc told to hand large blocks back: the difference
                 * is what the allocator keeps, not what fexitd holds per link */
                fprintf(stderr, "fexitd-bench: memory with links, %s\n", o->malloc_variant);
                r = memory_run(o->object, &pool, o->links, o->n_links, o->malloc_variant, &x);
                json_object_object_add(doc, "memory_malloc_variant", x);
        }
        if (r >= 0 && want(o, "multi")) {
                /* last: its instances stay attached until the VM powers off */
                fprintf(stderr, "fexitd-bench: tracing multi-link\n");
                r = multi_run(o->object, multi_globs, o->multi, o->n_multi, o->multi_instances_max, &x);
                json_object_object_add(doc, "multi_link", x);
                checkpoint(doc);
        }
        /* The daemons are left running: stopping them would detach every link, ~150 ms each under
         * TCG, one after the other. The VM powers off instead. */
        func_pool_done(&pool);
        emit(doc, o->json);
        vl_put(doc);
        return r < 0 ? 1 : 0;
}

/* What systemd/fexitd.service gives the daemon (LimitNOFILE=65536: every program, link and map is
 * an fd), and this process needs as much for the links it holds itself. The daemon inherits it. */
#define NOFILE 65536

static void raise_nofile(void) {
        struct rlimit rl;

        if (getrlimit(RLIMIT_NOFILE, &rl) < 0)
                return;
        if (rl.rlim_max < NOFILE) {
                struct rlimit want = { NOFILE, NOFILE };
                if (setrlimit(RLIMIT_NOFILE, &want) == 0)
                        return;
        }
        rl.rlim_cur = rl.rlim_max < NOFILE ? rl.rlim_max : NOFILE;
        (void) setrlimit(RLIMIT_NOFILE, &rl);
}

int main(int argc, char **argv) {
        struct opts o = { .samples = 20000, .warmup = 50, .rounds = 3, .iterations = 10,
                          .separate_max = 100, .settle_ms = 2000,
                          .malloc_variant = "GLIBC_TUNABLES=glibc.malloc.mmap_threshold=131072:"
                                            "glibc.malloc.trim_threshold=131072" };
        const char *cmd = argc > 1 ? argv[1] : "";

        libbpf_set_print(libbpf_quiet);
        signal(SIGPIPE, SIG_IGN);
        signal(SIGINT, on_signal);
        signal(SIGTERM, on_signal);
        raise_nofile();
        if (strcmp(cmd, "echo-server") == 0 && argc == 3)
                return echo_server_main(argv[2]) < 0 ? 1 : 0;
        if (strcmp(cmd, "report") == 0)
                return report_main(argc - 1, argv + 1);
        o.n_many = parse_list("1,10,100,500", o.many, ELEMENTSOF(o.many));
        o.n_links = parse_list("1,10,100,1000", o.links, ELEMENTSOF(o.links));
        o.n_multi = parse_list("10,100,1000,10000", o.multi, ELEMENTSOF(o.multi));
        o.multi_instances_max = 1000;
        o.n_clients = parse_levels("1,8,64", o.clients, ELEMENTSOF(o.clients));
        if (parse_opts(argc - 1, argv + 1, &o) < 0 || o.rounds == 0 || o.samples == 0) {
                fprintf(stderr, "usage: fexitd-bench host|vm|report|echo-server ... (see bench/main.c)\n");
                return 2;
        }
        if (strcmp(cmd, "host") == 0)
                return cmd_host(&o);
        if (strcmp(cmd, "vm") == 0)
                return cmd_vm(&o);
        fprintf(stderr, "fexitd-bench: unknown command '%s'\n", cmd);
        return 2;
}
