/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <grp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <systemd/sd-daemon.h>
#include <unistd.h>

#include "common/macro.h"
#include "daemon/log.h"
#include "daemon/manager.h"
#include "daemon/policy.h"

enum role manager_peer_role(struct server *s, const struct peer *p) {
        if (p->uid == 0 || (s->have_admin_gid && peer_in_group(p, s->admin_gid)) ||
            policy_is_admin(s->policy, p))
                return ROLE_ADMIN;
        return ROLE_CONSUMER;
}

int server_load_policy(struct server *s) {
        char path[4096], *error = NULL;
        struct policy *p = NULL;
        int r;

        snprintf(path, sizeof(path), "%s/policy.conf", s->cfg.conf_dir);
        r = policy_load_file(path, &p, &error);
        if (r < 0) {
                log_error("%s", error ? error : strerror(-r));
                free(error);
                return r;
        }
        policy_free(s->policy);
        s->policy = p;
        /* roles follow the policy at once, for connections already open too */
        vl_server_refresh_roles(&s->vs);
        log_info("Policy %s: %zu rules.", r > 0 ? path : "(none)", policy_n_rules(p));
        return 0;
}

int manager_init(struct server *s, sd_event *e, const struct config *cfg) {
        *s = (struct server) { .event = sd_event_ref(e), .cfg = *cfg,
                               .vs = { .listen_fd = -EBADF, .epoll_fd = -EBADF },
                               .start_usec = now_usec(CLOCK_MONOTONIC) };
        handle_table_init(&s->handles);
        if (cfg->admin_group) {
                struct group *gr = getgrnam(cfg->admin_group);
                if (gr) {
                        s->admin_gid = gr->gr_gid;
                        s->have_admin_gid = true;
                } else
                        log_notice("Admin group '%s' does not exist; only root is admin.", cfg->admin_group);
        }
        return worker_pool_new(e, cfg->workers, &s->pool);
}

void manager_done(struct server *s) {
        s->pool = worker_pool_free(s->pool);
        handle_table_done(&s->handles);
        s->policy = policy_free(s->policy);
        s->event = sd_event_unref(s->event);
}

void server_call_internal(struct server *s, const char *origin, const char *method, json_object *msg,
                          int *fds, size_t n_fds) {
        struct peer root = { .uid = 0, .gid = 0, .pid = getpid(), .role = ROLE_ADMIN };

        vl_server_call_internal(&s->vs, &root, origin, method, msg, fds, n_fds);
}

void server_notify_status(struct server *s) {
        (void) sd_notifyf(false, "STATUS=%zu programs, %zu links, %zu maps, %zu clients",
                          handle_table_count(&s->handles, HANDLE_PROGRAM),
                          handle_table_count(&s->handles, HANDLE_LINK),
                          handle_table_count(&s->handles, HANDLE_MAP), s->n_conns);
}
