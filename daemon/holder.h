/* SPDX-License-Identifier: MIT */
#pragma once
/* Holder liveness of handed-off links. The daemon cannot look a link up by id without
 * CAP_SYS_ADMIN, so it watches the process it handed the fd to: a pidfd opened at TakeLink,
 * re-opened after a restart if the pid still has the start time recorded then. */
#include <stdbool.h>

struct server;
struct handle;

enum holder_state {
        HOLDER_UNKNOWN = 0,   /* cannot tell: no pidfd, or the pid's identity is unproven */
        HOLDER_ALIVE,
        HOLDER_EXITED,        /* the link is detached, unless the holder passed its fd on */
};

const char *holder_state_to_string(enum holder_state st);

/* Starts watching h's holder. At the hand-off the peer is connected, so its pid is its own and
 * its start time is recorded in h->holder_start; after a restart the pid counts only if its
 * start time matches (pids are reused). Logs a holder found exited or unknown after a restart
 * and, later, its exit. */
void holder_watch(struct server *s, struct handle *h, bool at_handoff);

/* After state_restore(): watch the holder of every handed-off link. */
void holder_watch_all(struct server *s);

/* The start time of pid in clock ticks since boot (/proc/PID/stat field 22). */
int holder_start_time(int pid, unsigned long long *ret);
