/* SPDX-License-Identifier: MIT */
#pragma once

/* The daemon-level targets' common ground: a real server and the daemon's log level. */

#include <stdbool.h>

#include "daemon/server.h"
#include "tests/fuzz/fuzz-util.h"

/* Log level for the daemon code from $FEXITD_FUZZ_LOG (debug, info, notice, warning, err, crit;
 * default debug, so every log line is formatted: run libFuzzer with -close_fd_mask=2 to keep the
 * output readable). */
void fuzz_log_setup(void);

/* A real server for the daemon-level targets: sd-event loop, one worker thread, an empty handle
 * table, and state/, pins/, conf/ and catalog/ under the scratch dir (catalog_dirs searches a
 * missing dir first, then catalog/). Persistence is off. */
struct fuzz_server {
        sd_event *event;
        struct server srv;
        char state[4096], pins[4096], conf[4096], catalog[4096], catalog_dirs[8300];
        int listen_peer;
};
void fuzz_server_init(struct fuzz_server *f);
/* Runs the loop until done(userdata); aborts after 30 s, naming what hung. */
void fuzz_server_run_until(struct fuzz_server *f, bool (*done)(void *), void *userdata, const char *what);
/* Runs the loop until the worker pool has no job left (userdata: the fuzz_server). */
bool fuzz_server_idle(void *userdata);
