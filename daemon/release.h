/* SPDX-License-Identifier: MIT */
#pragma once

/* Letting go of handles: of a connection that is gone, of orphaned records, and closing fds on a
 * worker (the last close of a tracing link waits for RCU). Also the start-up warm-up job. */

#include <json-c/json.h>

#include "daemon/manager.h"

/* Removes a handle from the table, unpins it and returns its fd (for a close job). */
int server_drop_handle(struct server *s, uint64_t id);
/* Drops the records of handed-off links whose program is no longer ours. */
void server_forget_orphans(struct server *s);
/* Releases the connection-bound handles of a connection that is gone. */
void server_release_connection(struct server *s, uint64_t conn_id);
/* Closes fds on a worker (detach is slow), then replies params to the call. */
void call_reply_after_close(struct call *c, int *fds, size_t n_fds, json_object *params);
/* Builds the BTF name index on a worker, so the first Load does not pay for it. */
void server_warm_up(struct server *s);
