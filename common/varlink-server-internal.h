/* SPDX-License-Identifier: MIT */
#pragma once

/* Between the parts of the Varlink server: varlink-server.c (connections and the loop),
 * varlink-limits.c (budgets and deadlines) and varlink-call.c (calls and replies). Not for its
 * users. */

#include "common/varlink-server.h"

/* One line for the application's log (ops->log). */
void vl_server_log(const struct vl_server *s, int priority, const struct peer *peer, const char *method,
                   const char *fmt, ...) _printf_(5, 6);
/* Closes the connection; its pending call lives on without it. */
void vl_conn_free(struct vl_conn *c);
/* Queues a reply, and takes text and fds (NULL text: it could not be built; errors.system goes
 * out instead). */
void vl_conn_send(struct vl_conn *c, char *text, int *fds, size_t n_fds);
/* The connection goes on with its next call from the deferred source. */
void vl_conn_schedule(struct vl_conn *c);
/* The client broke the protocol: error with reason is its last message, then it closes. */
void vl_conn_protocol_error_reason(struct vl_conn *c, const char *error, const char *reason);
/* Parses one message into a call and dispatches it. Returns < 0 if the connection was freed. */
int vl_conn_handle_message(struct vl_conn *c, char *text, int *fds, size_t n_fds);

/* The loop's CLOCK_MONOTONIC now. */
uint64_t vl_server_now(struct vl_server *s);
/* Fires src once, usec from now. */
void vl_timer_arm(sd_event_source *src, uint64_t usec);

/* varlink-limits.c. Sends errors.limit (limit, max) on fd if the socket takes it at once, never
 * waiting: a message this small is one buffer to the kernel, taken whole or not at all. */
void vl_send_limit_error(const struct vl_server *s, int fd, const char *limit, int64_t max);
/* The connections of a uid, counted in its vl_user (made on the first). */
struct vl_user *vl_user_get(struct vl_server *s, uid_t uid);
void vl_user_drop_conn(struct vl_server *s, struct vl_user *u);
/* Counts what c's buffers hold now against its user and the server, then closes the largest
 * connections of whoever is over budget. Returns -ENOBUFS if c itself was closed. */
int vl_conn_charge(struct vl_conn *c);
/* The sweep timer (sweep_src) closes connections whose message or replies are overdue: started
 * when a connection comes, it runs while there are connections. */
void vl_sweep_start(struct vl_server *s);
int vl_sweep_run(sd_event_source *src, uint64_t usec, void *userdata);
