/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/macro.h"
#include "fexitctl-args.h"

enum positional {
        POS_NONE,
        POS_TOPIC,              /* help [COMMAND] */
        POS_OBJECT,             /* load OBJECT.o */
        POS_HANDLE,             /* verb HANDLE */
        POS_HANDLE_COMMAND,     /* verb HANDLE [--] COMMAND [ARGS...] */
};

static const struct verb_def {
        const char *name;
        enum positional positional;
        const char *help;
} verb_defs[_FEXITCTL_VERB_MAX] = {
        [FEXITCTL_HELP] = { "help", POS_TOPIC,
                "fexitctl help [COMMAND]\n\nShows the overview, or the help of COMMAND.\n" },
        [FEXITCTL_VERSION] = { "version", POS_NONE,
                "fexitctl version\n\nPrints the version of fexitctl.\n" },
        [FEXITCTL_LOAD] = { "load", POS_OBJECT,
                "fexitctl load OBJECT.o [OPTIONS]\n"
                "fexitctl load --catalog NAME [OPTIONS]\n\n"
                "Loads the fexit programs of a BPF ELF object. fexitctl opens OBJECT.o itself, as the\n"
                "calling user, and passes the open file to fexitd; --catalog loads an object the\n"
                "administrator installed instead.\n\n"
                "  --program NAME[=FUNCTION]  load only this program (repeatable); FUNCTION overrides\n"
                "                             the one named in its fexit/ section\n"
                "  --target-prog ID           attach the preceding --program to a function of the\n"
                "                             BPF program with kernel id ID\n"
                "  --functions F1,F2,GLOB...  the preceding --program for these functions (names or\n"
                "                             globs such as vfs_*; repeatable): one program and one\n"
                "                             link for all where the kernel has multi-links, else\n"
                "                             one program per function\n"
                "  --lifetime persistent|connection\n"
                "                             default persistent: fexitctl exits right away, which\n"
                "                             would release connection handles at once\n"
                "  --grant user:NAME|group:NAME\n"
                "                             let a consumer take links and share maps (repeatable)\n"
                "  --attach                   attach every loaded program\n" },
        [FEXITCTL_ATTACH] = { "attach", POS_HANDLE,
                "fexitctl attach HANDLE [--group] [--lifetime persistent|connection] [--grant user:NAME|group:NAME]...\n\n"
                "Attaches a program handle and prints the new link handle. With --group, attaches\n"
                "every program of the same load that is not attached yet (one program loaded on\n"
                "many functions), all or nothing.\n" },
        [FEXITCTL_DETACH] = { "detach", POS_HANDLE,
                "fexitctl detach HANDLE [--group]\n\n"
                "Detaches a link handle; with --group, every attached link of the same load.\n" },
        [FEXITCTL_UNLOAD] = { "unload", POS_HANDLE,
                "fexitctl unload HANDLE\n\n"
                "Unloads a program handle after detaching its links; its maps go with the last\n"
                "program that uses them.\n" },
        [FEXITCTL_LIST] = { "list", POS_NONE,
                "fexitctl list\n\nLists every handle you may act on.\n" },
        [FEXITCTL_DESCRIBE] = { "describe", POS_HANDLE,
                "fexitctl describe HANDLE\n\nShows everything fexitd knows about a handle.\n" },
        [FEXITCTL_TAKE_LINK] = { "take-link", POS_HANDLE_COMMAND,
                "fexitctl take-link HANDLE [--fd N] [--] COMMAND [ARGS...]\n\n"
                "Takes the link out of fexitd and runs COMMAND with it as fd N (default 3) and\n"
                "FEXIT_LINK_FD=N in its environment. The program stays attached exactly as long as\n"
                "COMMAND and the processes it passes the fd to keep it open.\n" },
        [FEXITCTL_SHARE_MAP] = { "share-map", POS_HANDLE_COMMAND,
                "fexitctl share-map HANDLE [--fd N] [--] COMMAND [ARGS...]\n\n"
                "Runs COMMAND with an fd of the map as fd N (default 3) and FEXIT_MAP_FD=N in its\n"
                "environment (read-only, except for ring buffers).\n" },
        [FEXITCTL_STATUS] = { "status", POS_NONE,
                "fexitctl status\n\nShows the daemon's version, uptime, counts and your role.\n" },
        [FEXITCTL_INFO] = { "info", POS_NONE,
                "fexitctl info\n\nShows the daemon's Varlink service information.\n" },
};

static const char overview[] =
        "fexitctl [--socket PATH] [--json] [--timeout SEC] COMMAND [ARGS...]\n\n"
        "Controls fexitd, the daemon that owns fexit eBPF programs and their links.\n\n"
        "Commands:\n"
        "  load OBJECT.o|--catalog NAME  load fexit programs\n"
        "  attach HANDLE                 attach a program\n"
        "  detach HANDLE                 detach a link\n"
        "  unload HANDLE                 unload a program\n"
        "  list                          list handles\n"
        "  describe HANDLE               show one handle\n"
        "  take-link HANDLE -- COMMAND   run COMMAND holding the link\n"
        "  share-map HANDLE -- COMMAND   run COMMAND holding a map fd\n"
        "  status                        daemon status\n"
        "  info                          daemon service information\n"
        "  help [COMMAND]                this text, or a command's\n\n"
        "Options:\n"
        "  --socket PATH   control socket (default $FEXITD_SOCKET or " FEXIT_DEFAULT_SOCKET ")\n"
        "  --json          print the daemon's reply as JSON\n"
        "  --timeout SEC   give up waiting for a reply after SEC seconds\n"
        "  -h, --help      help (of a command, after it)\n"
        "  --version       print the version\n\n"
        "Exit codes: 0 ok, 1 failure, 2 usage, 3 not found, 4 permission denied,\n"
        "5 refused by the kernel or verifier, 6 daemon unreachable, 7 limit exceeded.\n";

const char *fexitctl_verb_name(enum fexitctl_verb verb) {
        return verb > FEXITCTL_NONE && verb < _FEXITCTL_VERB_MAX ? verb_defs[verb].name : NULL;
}

const char *fexitctl_help_text(enum fexitctl_verb verb) {
        return verb > FEXITCTL_HELP && verb < _FEXITCTL_VERB_MAX ? verb_defs[verb].help : overview;
}

static enum fexitctl_verb verb_lookup(const char *name) {
        for (enum fexitctl_verb v = FEXITCTL_NONE + 1; v < _FEXITCTL_VERB_MAX; v++)
                if (strcmp(verb_defs[v].name, name) == 0)
                        return v;
        return FEXITCTL_NONE;
}

enum opt_id {
        OPT_SOCKET, OPT_JSON, OPT_TIMEOUT, OPT_HELP, OPT_VERSION, OPT_PROGRAM, OPT_TARGET_PROG,
        OPT_FUNCTIONS, OPT_LIFETIME, OPT_GRANT, OPT_ATTACH, OPT_CATALOG, OPT_FD, OPT_GROUP,
};

#define V(verb) (1u << FEXITCTL_##verb)
static const struct opt_def {
        const char *name;
        enum opt_id id;
        bool has_value;
        unsigned verbs;         /* 0: global, valid anywhere before COMMAND */
} opt_defs[] = {
        { "socket",      OPT_SOCKET,      true,  0 },
        { "json",        OPT_JSON,        false, 0 },
        { "timeout",     OPT_TIMEOUT,     true,  0 },
        { "help",        OPT_HELP,        false, 0 },
        { "version",     OPT_VERSION,     false, 0 },
        { "program",     OPT_PROGRAM,     true,  V(LOAD) },
        { "target-prog", OPT_TARGET_PROG, true,  V(LOAD) },
        { "functions",   OPT_FUNCTIONS,   true,  V(LOAD) },
        { "lifetime",    OPT_LIFETIME,    true,  V(LOAD) | V(ATTACH) },
        { "grant",       OPT_GRANT,       true,  V(LOAD) | V(ATTACH) },
        { "attach",      OPT_ATTACH,      false, V(LOAD) },
        { "catalog",     OPT_CATALOG,     true,  V(LOAD) },
        { "fd",          OPT_FD,          true,  V(TAKE_LINK) | V(SHARE_MAP) },
        { "group",       OPT_GROUP,       false, V(ATTACH) | V(DETACH) },
};
#undef V

struct parser {
        struct fexitctl_args *a;
        char **error;
        bool help, version;
        bool have_handle;
};

static int fail(struct parser *p, const char *format, ...) _printf_(2, 3);
static int fail(struct parser *p, const char *format, ...) {
        va_list ap;

        va_start(ap, format);
        if (vasprintf(p->error, format, ap) < 0) {
                *p->error = NULL;
                va_end(ap);
                return -ENOMEM;
        }
        va_end(ap);
        return -EINVAL;
}

/* Strict decimal: digits only, within [min, max]. */
static int parse_int(const char *s, int64_t min, int64_t max, int64_t *ret) {
        char *end;
        long long v;

        if (!s || *s < '0' || *s > '9')
                return -EINVAL;
        errno = 0;
        v = strtoll(s, &end, 10);
        if (errno != 0 || *end != 0 || v < min || v > max)
                return -EINVAL;
        *ret = v;
        return 0;
}

static int parse_handle(struct parser *p, const char *s) {
        if (parse_int(s, 1, INT64_MAX, &p->a->handle) < 0)
                return fail(p, "invalid handle '%s': expected a positive integer", s);
        p->have_handle = true;
        return 0;
}

static int add_program(struct parser *p, const char *value) {
        const char *eq = strchr(value, '=');
        struct fexitctl_args *a = p->a;
        struct fexitctl_program *v, *prog;

        if (eq == value || !*value || (eq && !eq[1]))
                return fail(p, "invalid --program '%s': expected NAME or NAME=FUNCTION", value);
        v = realloc(a->programs, (a->n_programs + 1) * sizeof(*v));
        if (!v)
                return -ENOMEM;
        a->programs = v;
        prog = &v[a->n_programs++];
        *prog = (struct fexitctl_program) {
                .name = eq ? strndup(value, (size_t) (eq - value)) : strdup(value),
                .function = eq ? strdup(eq + 1) : NULL,
        };
        return prog->name && (!eq || prog->function) ? 0 : -ENOMEM;
}

static struct fexitctl_program *last_program(struct parser *p) {
        return p->a->n_programs > 0 ? &p->a->programs[p->a->n_programs - 1] : NULL;
}

static int add_functions(struct parser *p, const char *value) {
        struct fexitctl_program *prog = last_program(p);
        const char *s = value;

        if (!prog)
                return fail(p, "--functions applies to a --program NAME given before it");
        do {
                size_t len = strcspn(s, ",");
                char **v;
                if (len == 0)
                        return fail(p, "invalid --functions '%s': empty function name", value);
                v = realloc(prog->functions, (prog->n_functions + 2) * sizeof(*v));
                if (!v)
                        return -ENOMEM;
                prog->functions = v;
                v[prog->n_functions] = strndup(s, len);
                if (!v[prog->n_functions])
                        return -ENOMEM;
                v[++prog->n_functions] = NULL;
                s += len;
        } while (*s++ == ',');
        return 0;
}

static int add_grant(struct parser *p, const char *value) {
        struct fexitctl_args *a = p->a;
        const char **v;

        if (!((strncmp(value, "user:", 5) == 0 && value[5]) ||
              (strncmp(value, "group:", 6) == 0 && value[6])))
                return fail(p, "invalid --grant '%s': expected user:NAME or group:NAME", value);
        v = realloc(a->grants, (a->n_grants + 1) * sizeof(*v));
        if (!v)
                return -ENOMEM;
        a->grants = v;
        v[a->n_grants++] = value;
        return 0;
}

static int parse_timeout(struct parser *p, const char *value) {
        char *end;
        double sec;

        errno = 0;
        sec = strtod(value, &end);
        if (errno != 0 || end == value || *end != 0 || !isfinite(sec) || sec < 0 ||
            sec > INT_MAX / 1000)
                return fail(p, "invalid --timeout '%s': expected seconds", value);
        p->a->timeout_ms = (int) ceil(sec * 1000);
        return 0;
}

static int apply_option(struct parser *p, const struct opt_def *o, const char *value) {
        struct fexitctl_args *a = p->a;
        int64_t n;

        switch (o->id) {
        case OPT_SOCKET:
                if (!*value)
                        return fail(p, "--socket needs a path");
                a->socket = value;
                return 0;
        case OPT_JSON:
                a->json = true;
                return 0;
        case OPT_TIMEOUT:
                return parse_timeout(p, value);
        case OPT_HELP:
                p->help = true;
                return 0;
        case OPT_VERSION:
                p->version = true;
                return 0;
        case OPT_PROGRAM:
                return add_program(p, value);
        case OPT_TARGET_PROG:
                if (!last_program(p))
                        return fail(p, "--target-prog applies to a --program NAME given before it");
                if (parse_int(value, 1, UINT32_MAX, &n) < 0)
                        return fail(p, "invalid --target-prog '%s': expected a BPF program id", value);
                last_program(p)->target_prog_id = (uint32_t) n;
                return 0;
        case OPT_FUNCTIONS:
                return add_functions(p, value);
        case OPT_LIFETIME:
                if (strcmp(value, "persistent") == 0)
                        a->lifetime = FEXIT_LIFETIME_PERSISTENT;
                else if (strcmp(value, "connection") == 0)
                        a->lifetime = FEXIT_LIFETIME_CONNECTION;
                else
                        return fail(p, "invalid --lifetime '%s': expected persistent or connection", value);
                return 0;
        case OPT_GRANT:
                return add_grant(p, value);
        case OPT_ATTACH:
                a->attach = true;
                return 0;
        case OPT_CATALOG:
                if (!*value)
                        return fail(p, "--catalog needs a name");
                a->catalog = value;
                return 0;
        case OPT_GROUP:
                a->group = true;
                return 0;
        case OPT_FD:
                if (parse_int(value, 3, INT_MAX, &n) < 0)
                        return fail(p, "invalid --fd '%s': expected a number >= 3", value);
                a->fd = (int) n;
                return 0;
        }
        return -EINVAL;
}

/* Handles argv[*i], an option; may consume the next argument as its value. */
static int parse_option(struct parser *p, int argc, char **argv, int *i) {
        const char *arg = argv[*i], *name = arg + 2, *value = NULL;
        const struct opt_def *o = NULL;
        size_t len;

        if (strcmp(arg, "-h") == 0)
                name = "help";
        else if (arg[1] != '-')
                return fail(p, "unknown option '%s'", arg);
        len = strcspn(name, "=");
        for (size_t k = 0; k < ELEMENTSOF(opt_defs) && !o; k++)
                if (strlen(opt_defs[k].name) == len && strncmp(opt_defs[k].name, name, len) == 0)
                        o = &opt_defs[k];
        if (!o)
                return fail(p, "unknown option '%.*s'", (int) (len + 2), arg);
        if (o->verbs && p->a->verb == FEXITCTL_NONE)
                return fail(p, "option --%s must follow its command", o->name);
        if (o->verbs && !(o->verbs & (1u << p->a->verb)))
                return fail(p, "option --%s does not apply to '%s'", o->name, verb_defs[p->a->verb].name);
        if (name[len] == '=') {
                if (!o->has_value)
                        return fail(p, "option --%s takes no value", o->name);
                value = name + len + 1;
        } else if (o->has_value) {
                if (*i + 1 >= argc)
                        return fail(p, "option --%s needs a value", o->name);
                value = argv[++*i];
        }
        return apply_option(p, o, value);
}

/* Handles a positional argument. Returns 1 when it starts COMMAND: parsing stops there. */
static int parse_positional(struct parser *p, char **argv, int i) {
        struct fexitctl_args *a = p->a;
        const char *arg = argv[i];

        if (a->verb == FEXITCTL_NONE) {
                a->verb = verb_lookup(arg);
                if (a->verb == FEXITCTL_NONE)
                        return fail(p, "unknown command '%s' (try 'fexitctl help')", arg);
                return 0;
        }
        switch (verb_defs[a->verb].positional) {
        case POS_TOPIC:
                if (a->help_verb != FEXITCTL_NONE)
                        break;
                a->help_verb = verb_lookup(arg);
                if (a->help_verb == FEXITCTL_NONE)
                        return fail(p, "no help for unknown command '%s'", arg);
                return 0;
        case POS_OBJECT:
                if (a->object)
                        break;
                a->object = arg;
                return 0;
        case POS_HANDLE:
                if (p->have_handle)
                        break;
                return parse_handle(p, arg);
        case POS_HANDLE_COMMAND:
                if (!p->have_handle)
                        return parse_handle(p, arg);
                a->exec_argv = argv + i;
                return 1;
        case POS_NONE:
                break;
        }
        return fail(p, "unexpected argument '%s' for '%s'", arg, verb_defs[a->verb].name);
}

static int parse_argv(struct parser *p, int argc, char **argv) {
        bool options = true;
        int r;

        for (int i = 1; i < argc; i++) {
                if (options && strcmp(argv[i], "--") == 0) {
                        options = false;
                        continue;
                }
                if (options && argv[i][0] == '-' && argv[i][1] != 0)
                        r = parse_option(p, argc, argv, &i);
                else
                        r = parse_positional(p, argv, i);
                if (r != 0)
                        return r < 0 ? r : 0;
        }
        return 0;
}

/* Rules that need the whole command line. */
static int validate(struct parser *p) {
        struct fexitctl_args *a = p->a;
        const char *name = verb_defs[a->verb].name;

        switch (verb_defs[a->verb].positional) {
        case POS_OBJECT:
                if (!a->object && !a->catalog)
                        return fail(p, "'load' needs OBJECT.o or --catalog NAME");
                if (a->object && a->catalog)
                        return fail(p, "'load' takes OBJECT.o or --catalog NAME, not both");
                for (size_t i = 0; i < a->n_programs; i++)
                        if (a->programs[i].function && a->programs[i].n_functions > 0)
                                return fail(p, "--program %s=FUNCTION and --functions exclude each other",
                                            a->programs[i].name);
                return 0;
        case POS_HANDLE:
                return p->have_handle ? 0 : fail(p, "'%s' needs a HANDLE", name);
        case POS_HANDLE_COMMAND:
                if (!p->have_handle)
                        return fail(p, "'%s' needs a HANDLE", name);
                return a->exec_argv ? 0 : fail(p, "'%s' needs a COMMAND to run", name);
        default:
                return 0;
        }
}

int fexitctl_parse_args(int argc, char **argv, struct fexitctl_args **ret, char **ret_error) {
        struct fexitctl_args *a = calloc(1, sizeof(*a));
        struct parser p = { .a = a, .error = ret_error };
        int r;

        *ret_error = NULL;
        if (!a)
                return -ENOMEM;
        a->lifetime = FEXIT_LIFETIME_PERSISTENT;
        a->fd = 3;
        r = parse_argv(&p, argc, argv);
        if (r >= 0 && p.help) {
                a->help_verb = a->verb == FEXITCTL_HELP ? a->help_verb : a->verb;
                a->verb = FEXITCTL_HELP;
        } else if (r >= 0 && p.version) {
                a->verb = FEXITCTL_VERSION;
        } else if (r >= 0 && a->verb == FEXITCTL_NONE) {
                r = fail(&p, "missing command (try 'fexitctl help')");
        } else if (r >= 0) {
                r = validate(&p);
        }
        if (r < 0) {
                fexitctl_args_free(a);
                return r;
        }
        *ret = a;
        return 0;
}

struct fexitctl_args *fexitctl_args_free(struct fexitctl_args *a) {
        if (!a)
                return NULL;
        for (size_t i = 0; i < a->n_programs; i++) {
                free(a->programs[i].name);
                free(a->programs[i].function);
                for (size_t k = 0; k < a->programs[i].n_functions; k++)
                        free(a->programs[i].functions[k]);
                free(a->programs[i].functions);
        }
        free(a->programs);
        free(a->grants);
        free(a);
        return NULL;
}

static bool ends_with(const char *s, size_t n, const char *suffix) {
        size_t k = strlen(suffix);

        return n >= k && memcmp(s + n - k, suffix, k) == 0;
}

bool fexitctl_object_name(const char *path, char ret[static FEXITCTL_OBJECT_NAME_MAX + 1]) {
        static const char allowed[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_.-";
        const char *base = strrchr(path, '/') ? strrchr(path, '/') + 1 : path;
        size_t n = strlen(base), k = 0;

        if (ends_with(base, n, ".bpf.o"))
                n -= strlen(".bpf.o");
        else if (ends_with(base, n, ".o"))
                n -= strlen(".o");
        while (n > 0 && *base == '.')
                base++, n--;
        for (size_t i = 0; i < n && k < FEXITCTL_OBJECT_NAME_MAX; i++)
                ret[k++] = base[i] && strchr(allowed, base[i]) ? base[i] : '_';
        ret[k] = '\0';
        return k > 0;
}
