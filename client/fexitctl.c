/* SPDX-License-Identifier: MIT */
/* fexitctl: the command line client of fexitd. One handler per command; each returns the exit
 * code (man fexitctl: docs/man/fexitctl.1.scd). Logs once, at this boundary, to stderr. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/macro.h"
#include "common/varlink-json.h"
#include "config.h"
#include "fexitctl-args.h"
#include "fexitctl-exit.h"
#include "fexitctl-print.h"
#include "libfexit.h"

struct ctl {
        const struct fexitctl_args *args;
        struct fexit_client *client;
};

/* Prints the failure of the last call and returns its exit code. */
static int report(struct ctl *x, int r) {
        const char *name = fexit_client_error_name(x->client);
        const char *message = fexit_client_error_message(x->client);
        const char *params = fexit_client_error_parameters(x->client);

        if (name)
                fprintf(stderr, "fexitctl: %s (%s)\n", message ? message : name, name);
        else
                fprintf(stderr, "fexitctl: %s\n", message ? message : strerror(-r));
        print_error_details(stderr, name, params);
        if (x->args->json && name) {
                json_object *o = vl_obj(), *p = NULL;
                vl_add_str(o, "error", name);
                if (params && vl_json_parse(params, &p) >= 0)
                        vl_add(o, "parameters", p);
                puts(json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE));
                vl_put(o);
        }
        return fexitctl_exit_code(name, r);
}

/* With --json the reply is the output; returns true if it was printed. */
static bool print_json(struct ctl *x) {
        if (!x->args->json)
                return false;
        puts(fexit_client_last_reply(x->client) ? fexit_client_last_reply(x->client) : "{}");
        return true;
}

static int open_object(const char *path, int *ret_fd) {
        int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);

        if (fd < 0) {
                int err = errno;
                fprintf(stderr, "fexitctl: cannot open %s: %s\n", path, strerror(err));
                return fexitctl_exit_code(NULL, -err);
        }
        *ret_fd = fd;
        return FEXITCTL_EXIT_OK;
}

static int cmd_load(struct ctl *x) {
        const struct fexitctl_args *a = x->args;
        _cleanup_free_ struct fexit_program_select *sel = calloc(a->n_programs + 1, sizeof(*sel));
        struct fexit_load_result *res = NULL;
        _cleanup_close_ int fd = -EBADF;
        char name[FEXITCTL_OBJECT_NAME_MAX + 1];
        int r;

        if (!sel)
                return FEXITCTL_EXIT_FAILURE;
        for (size_t i = 0; i < a->n_programs; i++)
                sel[i] = (struct fexit_program_select) {
                        .sz = sizeof(*sel),
                        .name = a->programs[i].name,
                        .function = a->programs[i].function,
                        .target_prog_id = a->programs[i].target_prog_id,
                        .functions = (const char *const *) a->programs[i].functions,
                        .n_functions = a->programs[i].n_functions,
                };
        FEXIT_OPTS(fexit_load_opts, opts, .programs = sel, .n_programs = a->n_programs,
                   .lifetime = a->lifetime, .grants = a->grants, .n_grants = a->n_grants,
                   .attach = a->attach,
                   .name = !a->catalog && fexitctl_object_name(a->object, name) ? name : NULL);
        if (a->catalog)
                r = fexit_client_load_catalog(x->client, a->catalog, &opts, &res);
        else {
                r = open_object(a->object, &fd);
                if (r != FEXITCTL_EXIT_OK)
                        return r;
                r = fexit_client_load(x->client, fd, &opts, &res);
        }
        if (r < 0)
                return report(x, r);
        if (!print_json(x))
                print_load_result(stdout, res);
        fexit_load_result_free(res);
        return FEXITCTL_EXIT_OK;
}

static int cmd_attach(struct ctl *x) {
        FEXIT_OPTS(fexit_attach_opts, opts, .lifetime = x->args->lifetime, .grants = x->args->grants,
                   .n_grants = x->args->n_grants);
        struct fexit_handle_list *links = NULL;
        struct fexit_handle *link = NULL;
        int r;

        if (x->args->group)
                r = fexit_client_attach_group(x->client, x->args->handle, &opts, &links);
        else
                r = fexit_client_attach(x->client, x->args->handle, &opts, &link);
        if (r < 0)
                return report(x, r);
        if (!print_json(x)) {
                if (links)
                        print_handle_table(stdout, links->handles, links->n_handles);
                else
                        print_handle_table(stdout, &link, 1);
        }
        fexit_handle_list_free(links);
        fexit_handle_free(link);
        return FEXITCTL_EXIT_OK;
}

static int cmd_detach(struct ctl *x) {
        int r = x->args->group ? fexit_client_detach_group(x->client, x->args->handle)
                               : fexit_client_detach(x->client, x->args->handle);

        if (r < 0)
                return report(x, r);
        print_json(x);
        return FEXITCTL_EXIT_OK;
}

static int cmd_unload(struct ctl *x) {
        int r = fexit_client_unload(x->client, x->args->handle);

        if (r < 0)
                return report(x, r);
        print_json(x);
        return FEXITCTL_EXIT_OK;
}

static int cmd_list(struct ctl *x) {
        struct fexit_handle_list *l = NULL;
        int r = fexit_client_list(x->client, &l);

        if (r < 0)
                return report(x, r);
        if (!print_json(x)) {
                if (l->n_handles == 0)
                        puts("No handles.");
                else
                        print_handle_table(stdout, l->handles, l->n_handles);
        }
        fexit_handle_list_free(l);
        return FEXITCTL_EXIT_OK;
}

static int cmd_describe(struct ctl *x) {
        struct fexit_handle *h = NULL;
        int r = fexit_client_describe(x->client, x->args->handle, &h);

        if (r < 0)
                return report(x, r);
        if (!print_json(x))
                print_handle(stdout, h);
        fexit_handle_free(h);
        return FEXITCTL_EXIT_OK;
}

static int cmd_status(struct ctl *x) {
        struct fexit_status *s = NULL;
        int r = fexit_client_status(x->client, &s);

        if (r < 0)
                return report(x, r);
        if (!print_json(x))
                print_status(stdout, s);
        fexit_status_free(s);
        return FEXITCTL_EXIT_OK;
}

static int cmd_info(struct ctl *x) {
        struct fexit_service_info *i = NULL;
        int r = fexit_client_get_info(x->client, &i);

        if (r < 0)
                return report(x, r);
        if (!print_json(x))
                print_service_info(stdout, i);
        fexit_service_info_free(i);
        return FEXITCTL_EXIT_OK;
}

/* Makes fd available as number `target` across exec, with `env`=target, and runs the command.
 * Only returns on failure. */
static int exec_with_fd(const struct fexitctl_args *a, int fd, const char *env) {
        char number[16];

        if (fd != a->fd) {
                if (dup2(fd, a->fd) < 0) {      /* the copy is not close-on-exec */
                        fprintf(stderr, "fexitctl: cannot make the fd number %d: %m\n", a->fd);
                        safe_close(fd);
                        return FEXITCTL_EXIT_FAILURE;
                }
                safe_close(fd);
        } else if (fcntl(fd, F_SETFD, 0) < 0) {
                fprintf(stderr, "fexitctl: cannot keep fd %d across exec: %m\n", fd);
                return FEXITCTL_EXIT_FAILURE;
        }
        snprintf(number, sizeof(number), "%d", a->fd);
        if (setenv(env, number, 1) < 0) {
                fprintf(stderr, "fexitctl: cannot set %s: %m\n", env);
                return FEXITCTL_EXIT_FAILURE;
        }
        fflush(stdout);
        execvp(a->exec_argv[0], a->exec_argv);
        fprintf(stderr, "fexitctl: cannot run %s: %m\n", a->exec_argv[0]);
        return errno == ENOENT ? FEXITCTL_EXIT_EXEC_NOT_FOUND : FEXITCTL_EXIT_EXEC_FAILED;
}

static int cmd_take_link(struct ctl *x) {
        int fd, r;

        r = fexit_client_take_link(x->client, x->args->handle, &fd, NULL);
        if (r < 0)
                return report(x, r);
        print_json(x);
        /* the socket must not be the number we are about to dup2() onto */
        x->client = fexit_client_free(x->client);
        return exec_with_fd(x->args, fd, "FEXIT_LINK_FD");
}

static int cmd_share_map(struct ctl *x) {
        int fd, r;

        r = fexit_client_share_map(x->client, x->args->handle, &fd, NULL, NULL);
        if (r < 0)
                return report(x, r);
        print_json(x);
        x->client = fexit_client_free(x->client);
        return exec_with_fd(x->args, fd, "FEXIT_MAP_FD");
}

static int (*const handlers[_FEXITCTL_VERB_MAX])(struct ctl *x) = {
        [FEXITCTL_LOAD] = cmd_load,
        [FEXITCTL_ATTACH] = cmd_attach,
        [FEXITCTL_DETACH] = cmd_detach,
        [FEXITCTL_UNLOAD] = cmd_unload,
        [FEXITCTL_LIST] = cmd_list,
        [FEXITCTL_DESCRIBE] = cmd_describe,
        [FEXITCTL_TAKE_LINK] = cmd_take_link,
        [FEXITCTL_SHARE_MAP] = cmd_share_map,
        [FEXITCTL_STATUS] = cmd_status,
        [FEXITCTL_INFO] = cmd_info,
};

static const char *socket_path(const struct fexitctl_args *a) {
        const char *env = getenv("FEXITD_SOCKET");

        return a->socket ? a->socket : env && *env ? env : FEXIT_DEFAULT_SOCKET;
}

static int run(const struct fexitctl_args *a) {
        FEXIT_OPTS(fexit_client_opts, opts, .timeout_ms = a->timeout_ms);
        struct ctl x = { .args = a };
        int r;

        r = fexit_client_open(socket_path(a), &opts, &x.client);
        if (r < 0) {
                fprintf(stderr, "fexitctl: cannot connect to fexitd at %s: %s\n", socket_path(a),
                        strerror(-r));
                return FEXITCTL_EXIT_UNREACHABLE;
        }
        r = handlers[a->verb](&x);
        fexit_client_free(x.client);
        return r;
}

int main(int argc, char **argv) {
        _cleanup_free_ char *error = NULL;
        struct fexitctl_args *a = NULL;
        int r;

        r = fexitctl_parse_args(argc, argv, &a, &error);
        if (r < 0) {
                fprintf(stderr, "fexitctl: %s\n", error ? error : strerror(-r));
                return r == -EINVAL ? FEXITCTL_EXIT_USAGE : FEXITCTL_EXIT_FAILURE;
        }
        if (a->verb == FEXITCTL_HELP)
                fputs(fexitctl_help_text(a->help_verb), stdout);
        else if (a->verb == FEXITCTL_VERSION)
                puts("fexitctl " FEXITD_VERSION);
        r = handlers[a->verb] ? run(a) : FEXITCTL_EXIT_OK;
        fexitctl_args_free(a);
        return r;
}
