/* SPDX-License-Identifier: MIT */
#pragma once

/*
 * Who is at the other end of a connection: the credentials the kernel gave when it connected
 * (SO_PEERCRED, SO_PEERGROUPS) and the role the application gave it. Plain data, so that code
 * judging peers (the policy, access checks) needs nothing of the transport.
 */

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#define PEER_GROUPS_MAX 64

/* Roles are ordered: a method's least role admits every role above it. */
enum role { ROLE_CONSUMER, ROLE_ADMIN };

struct peer {
        uid_t uid;
        gid_t gid;
        pid_t pid;
        gid_t groups[PEER_GROUPS_MAX];
        size_t n_groups;
        enum role role;
};

/* The peer's primary or one of its supplementary groups is gid. */
static inline bool peer_in_group(const struct peer *p, gid_t gid) {
        size_t n = p->n_groups < PEER_GROUPS_MAX ? p->n_groups : PEER_GROUPS_MAX;

        if (p->gid == gid)
                return true;
        for (size_t i = 0; i < n; i++)
                if (p->groups[i] == gid)
                        return true;
        return false;
}
