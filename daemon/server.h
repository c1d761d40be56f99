/* SPDX-License-Identifier: MIT */
#pragma once

/*
 * The daemon: the manager (daemon/manager.h) served by the Varlink transport
 * (common/varlink-server.h). This is where the two are wired together: the method tables, the
 * error names, and the hooks through which the transport asks the manager about peers and tells
 * it about connections. Only main() (and the fuzzers) start and stop it.
 */

#include "daemon/manager.h"

int server_init(struct server *s, sd_event *e, const struct config *cfg, int listen_fd);
void server_done(struct server *s);
