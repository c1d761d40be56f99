/* SPDX-License-Identifier: MIT */
#pragma once

/* fexitctl's exit codes, a stable contract for scripts (man fexitctl, docs/man/fexitctl.1.scd). */

enum {
        FEXITCTL_EXIT_OK = 0,
        FEXITCTL_EXIT_FAILURE = 1,      /* anything not listed below */
        FEXITCTL_EXIT_USAGE = 2,        /* bad command line, or a parameter the daemon refused */
        FEXITCTL_EXIT_NOT_FOUND = 3,    /* no such handle, program, function, catalog entry, file */
        FEXITCTL_EXIT_PERMISSION = 4,   /* not allowed, by fexitd's policy or the file system */
        FEXITCTL_EXIT_REFUSED = 5,      /* the kernel, the verifier or the object itself refused */
        FEXITCTL_EXIT_UNREACHABLE = 6,  /* cannot connect, connection lost, or timed out */
        FEXITCTL_EXIT_LIMIT = 7,        /* a limit of fexitd was reached; retrying later may work */
        FEXITCTL_EXIT_EXEC_FAILED = 126,/* take-link/share-map: COMMAND could not be run */
        FEXITCTL_EXIT_EXEC_NOT_FOUND = 127, /* take-link/share-map: COMMAND was not found */
};

/* The exit code for a failure: by the Varlink error name when there is one, else by the
 * negative errno of the local failure. */
int fexitctl_exit_code(const char *error_name, int err);
