/* SPDX-License-Identifier: MIT */
/* What connections may hold and how long they may keep the server waiting (docs/security.md,
 * "Limits"): the buffers counted per uid and in all, and the deadlines of the sweep timer. */
#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <syslog.h>

#include "common/macro.h"
#include "common/varlink-server-internal.h"

struct vl_user *vl_user_get(struct vl_server *s, uid_t uid) {
        struct vl_user *u;

        for (u = s->users; u; u = u->next)
                if (u->uid == uid)
                        return u;
        u = calloc(1, sizeof(*u));
        if (!u)
                return NULL;
        *u = (struct vl_user) { .uid = uid, .next = s->users };
        s->users = u;
        return u;
}

void vl_user_drop_conn(struct vl_server *s, struct vl_user *u) {
        if (--u->n_conns > 0)
                return;
        for (struct vl_user **p = &s->users; *p; p = &(*p)->next)
                if (*p == u) {
                        *p = u->next;
                        break;
                }
        free(u);
}

void vl_send_limit_error(const struct vl_server *s, int fd, const char *limit, int64_t max) {
        json_object *p = vl_obj();
        char *text;

        vl_add_str(p, "limit", limit);
        vl_add_int(p, "max", max);
        text = vl_format_error(s->cfg.errors.limit, p);
        if (text)
                (void) send(fd, text, strlen(text) + 1, MSG_DONTWAIT | MSG_NOSIGNAL);
        free(text);
}

/* Closes a connection that holds or withholds too much, naming who it was, and tells the client
 * which limit it went over when that costs nothing: a send the socket takes at once, never our
 * buffers (what it holds there is why it goes). Not after a reply sent in part, where the client
 * would read the two as one garbled message. Replies still queued are lost with it. */
static void conn_evict(struct vl_conn *c, const char *why, const char *limit, int64_t max) {
        vl_server_log(c->server, LOG_WARNING, &c->peer, NULL,
                 "Disconnecting client (connection %" PRIu64 "): %s (%s)", c->id, why, limit);
        if (vl_io_out_whole(&c->io))
                vl_send_limit_error(c->server, c->io.fd, limit, max);
        vl_conn_free(c);
}

/* The largest connection of user u (any user if NULL) that may be closed now. */
static struct vl_conn *largest_conn(struct vl_server *s, const struct vl_user *u) {
        struct vl_conn *best = NULL;

        for (struct vl_conn *c = s->conns; c; c = c->next)
                if ((!u || c->user == u) && !c->in_process && (!best || c->charged > best->charged))
                        best = c;
        return best;
}

static struct vl_user *largest_user(struct vl_server *s) {
        struct vl_user *best = NULL;

        for (struct vl_user *u = s->users; u; u = u->next)
                if (!best || u->buffers > best->buffers)
                        best = u;
        return best;
}

/* Counts what c's buffers hold now against its user and the server, then closes the largest
 * connections of whoever is over budget. Returns -ENOBUFS if c itself was closed. */
int vl_conn_charge(struct vl_conn *c) {
        struct vl_server *s = c->server;
        const struct limits *l = &s->cfg.limits;
        struct vl_user *u = c->user;
        size_t held;
        bool gone = false;

        vl_io_trim(&c->io);
        held = vl_io_footprint(&c->io);
        u->buffers = u->buffers - c->charged + held;
        s->buffers = s->buffers - c->charged + held;
        c->charged = held;
        while (!gone && u->buffers > l->user_buffers) {
                struct vl_conn *victim = largest_conn(s, u);
                if (!victim)
                        break;
                gone = victim == c;
                conn_evict(victim, "its user holds more buffers than its share (unread replies, unfinished messages)",
                           "user-buffers", (int64_t) l->user_buffers);
        }
        while (!gone && s->buffers > l->total_buffers) {
                struct vl_conn *victim = largest_conn(s, largest_user(s));
                if (!victim)
                        victim = largest_conn(s, NULL);
                if (!victim)
                        break;
                gone = victim == c;
                conn_evict(victim, "the daemon's buffers are full and its user holds the most", "total-buffers",
                           (int64_t) l->total_buffers);
        }
        return gone ? -ENOBUFS : 0;
}

/* Closes the connections whose message or replies are overdue. The timer runs while there are
 * connections, at a quarter of the shorter deadline. */
static uint64_t sweep_interval(const struct vl_server *s) {
        const struct limits *l = &s->cfg.limits;

        return (l->message_usec < l->reply_usec ? l->message_usec : l->reply_usec) / 4;
}

int vl_sweep_run(sd_event_source *src, uint64_t usec, void *userdata) {
        struct vl_server *s = userdata;
        const struct limits *l = &s->cfg.limits;
        uint64_t now = vl_server_now(s);

        for (struct vl_conn *c = s->conns, *next; c; c = next) {
                next = c->next;
                if (c->in_process)
                        continue;
                if (c->out_since && now - c->out_since > l->reply_usec)
                        conn_evict(c, "it did not read its replies in time", "reply-timeout",
                                   (int64_t) (l->reply_usec / 1000));
                else if (c->in_since && now - c->in_since > l->message_usec)
                        conn_evict(c, "it did not finish its message in time", "message-timeout",
                                   (int64_t) (l->message_usec / 1000));
        }
        if (s->n_conns > 0)
                vl_timer_arm(src, sweep_interval(s));
        return 0;
}

void vl_sweep_start(struct vl_server *s) {
        int on;

        if (sd_event_source_get_enabled(s->sweep_src, &on) < 0 || !on)
                vl_timer_arm(s->sweep_src, sweep_interval(s));
}
