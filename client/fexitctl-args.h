/* SPDX-License-Identifier: MIT */
#pragma once

/* fexitctl's command line: a pure function from argv to a command struct (no I/O, no global
 * state), so that every rule of docs/man/fexitctl.1.scd can be unit tested. */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "libfexit.h"

enum fexitctl_verb {
        FEXITCTL_NONE = 0,
        FEXITCTL_HELP,          /* help_verb says about what (FEXITCTL_NONE: overview) */
        FEXITCTL_VERSION,
        FEXITCTL_LOAD,
        FEXITCTL_ATTACH,
        FEXITCTL_DETACH,
        FEXITCTL_UNLOAD,
        FEXITCTL_LIST,
        FEXITCTL_DESCRIBE,
        FEXITCTL_TAKE_LINK,
        FEXITCTL_SHARE_MAP,
        FEXITCTL_STATUS,
        FEXITCTL_INFO,
        _FEXITCTL_VERB_MAX,
};

/* One --program and the options that followed it. */
struct fexitctl_program {
        char *name;
        char *function;                 /* NAME=FUNCTION; NULL if not given */
        uint32_t target_prog_id;        /* --target-prog; 0 if not given */
        char **functions;               /* --functions, split at commas */
        size_t n_functions;
};

struct fexitctl_args {
        enum fexitctl_verb verb;
        enum fexitctl_verb help_verb;

        /* global */
        const char *socket;             /* NULL: the library's default */
        bool json;
        int timeout_ms;                 /* 0: none */

        /* load */
        const char *object;             /* path of the ELF object */
        const char *catalog;
        struct fexitctl_program *programs;
        size_t n_programs;
        enum fexit_lifetime lifetime;   /* load, attach; default persistent */
        const char **grants;
        size_t n_grants;
        bool attach;

        /* attach, detach, unload, describe, take-link, share-map */
        int64_t handle;
        bool group;                     /* attach, detach: every program/link of the same Load */

        /* take-link, share-map */
        int fd;                         /* --fd, default 3 */
        char **exec_argv;               /* borrowed from argv, NULL-terminated */
};

/* Parses argv (argv[0] is the program name). Returns 0 and a new struct, or -EINVAL and a
 * malloc'd one-line message for the user (-ENOMEM without one). Strings are borrowed from argv
 * where possible, so argv must outlive the struct. */
int fexitctl_parse_args(int argc, char **argv, struct fexitctl_args **ret, char **ret_error);
struct fexitctl_args *fexitctl_args_free(struct fexitctl_args *a);

/* The command's name ("take-link") and its help text (synopsis first). */
const char *fexitctl_verb_name(enum fexitctl_verb verb);
const char *fexitctl_help_text(enum fexitctl_verb verb);

/* The object name load sends (libbpf names the object's .bss/.data maps after it): the base
 * name of path without ".bpf.o" or ".o", leading dots dropped, every character outside
 * [A-Za-z0-9_.-] replaced by '_', cut at FEXITCTL_OBJECT_NAME_MAX. Returns false, and sends no
 * name, when nothing is left. */
#define FEXITCTL_OBJECT_NAME_MAX 128
bool fexitctl_object_name(const char *path, char ret[static FEXITCTL_OBJECT_NAME_MAX + 1]);
