/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "daemon/log.h"
#include "tests/fuzz/fuzz-server.h"

void fuzz_log_setup(void) {
        static const char *const names[] = { "emerg", "alert", "crit", "err", "warning", "notice",
                                              "info", "debug" };
        const char *want = getenv("FEXITD_FUZZ_LOG");
        int level = LOG_DEBUG;

        for (size_t i = 0; want && i < sizeof(names) / sizeof(names[0]); i++)
                if (strcmp(want, names[i]) == 0)
                        level = (int) i;
        log_setup(level);
}

void fuzz_server_init(struct fuzz_server *f) {
        const char *dir = fuzz_scratch_dir();
        struct config cfg = { .workers = 1, .socket_path = "/nonexistent/fuzz.sock", .limits = LIMITS_DEFAULT };
        int sv[2];

        fuzz_mkdir(dir, "state", f->state, sizeof(f->state));
        fuzz_mkdir(dir, "pins", f->pins, sizeof(f->pins));
        fuzz_mkdir(dir, "conf", f->conf, sizeof(f->conf));
        fuzz_mkdir(dir, "catalog", f->catalog, sizeof(f->catalog));
        snprintf(f->catalog_dirs, sizeof(f->catalog_dirs), "%s/missing:%s", dir, f->catalog);
        cfg.pin_dir = f->pins;
        cfg.state_dir = f->state;
        cfg.conf_dir = f->conf;
        cfg.catalog_dirs = f->catalog_dirs;
        /* the listening socket is never readable: one end of a pair whose other end stays open */
        if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0, sv) < 0 ||
            sd_event_new(&f->event) < 0 || server_init(&f->srv, f->event, &cfg, sv[0]) < 0) {
                fuzz_fail("fuzz: cannot set up the server");
        }
        f->listen_peer = sv[1];
        f->srv.persist = false;
}

static uint64_t now_sec(void) {
        struct timespec ts;

        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (uint64_t) ts.tv_sec;
}

void fuzz_server_run_until(struct fuzz_server *f, bool (*done)(void *), void *userdata, const char *what) {
        uint64_t deadline = now_sec() + 30;

        while (!done(userdata)) {
                if (now_sec() > deadline) {
                        fuzz_fail("fuzz: %s after 30 s", what);
                }
                if (sd_event_run(f->event, 100 * 1000) < 0)
                        abort();
        }
}

bool fuzz_server_idle(void *userdata) {
        struct fuzz_server *f = userdata;

        return worker_pool_busy(f->srv.pool) == 0;
}
