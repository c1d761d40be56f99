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
/* The fds of the handles a verb drops, closed on a worker afterwards (closing the last fd of a
 * tracing link waits for RCU grace periods). Grow or fail: a verb that drops all or nothing makes
 * room with fd_list_reserve() before it drops anything. */
struct fd_list {
        int *fds;
        size_t n, cap;
        bool persistent;             /* a persistent handle was dropped: state.json changes */
};
int fd_list_reserve(struct fd_list *l, size_t n);
/* Drops handle id (server_drop_handle()) and keeps its fd; without room the fd is closed here:
 * slow on the loop's thread, but nothing leaks and nothing is overwritten. */
void fd_list_drop(struct server *s, struct fd_list *l, uint64_t id);
/* Closes what it still holds and frees it. */
void fd_list_done(struct fd_list *l);
#define _cleanup_fd_list_ _cleanup_(fd_list_done)

/* Closes the fds of l on a worker (detach is slow), then replies to the call; l is emptied. If
 * a persistent handle was dropped, the reply also waits for state.json (state_save_then()). */
void call_reply_after_close(struct call *c, struct fd_list *l);
/* Builds the BTF name index on a worker, so the first Load does not pay for it. */
void server_warm_up(struct server *s);
