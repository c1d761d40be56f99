/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <string.h>

#include "common/macro.h"
#include "fexitctl-exit.h"

static const struct {
        const char *name;
        int code;
} error_codes[] = {
        { "io.fexitd.NoSuchHandle",                 FEXITCTL_EXIT_NOT_FOUND },
        { "io.fexitd.NoSuchProgram",                FEXITCTL_EXIT_NOT_FOUND },
        { "io.fexitd.NoSuchFunction",               FEXITCTL_EXIT_NOT_FOUND },
        { "io.fexitd.NoSuchCatalogEntry",           FEXITCTL_EXIT_NOT_FOUND },
        { "io.fexitd.WrongHandleKind",              FEXITCTL_EXIT_USAGE },
        { "org.varlink.service.InvalidParameter",   FEXITCTL_EXIT_USAGE },
        { "io.fexitd.PermissionDenied",             FEXITCTL_EXIT_PERMISSION },
        { "io.fexitd.FunctionDenied",               FEXITCTL_EXIT_PERMISSION },
        { "org.varlink.service.PermissionDenied",   FEXITCTL_EXIT_PERMISSION },
        { "io.fexitd.VerifierRejected",             FEXITCTL_EXIT_REFUSED },
        { "io.fexitd.KernelError",                  FEXITCTL_EXIT_REFUSED },
        { "io.fexitd.FunctionNotSleepable",         FEXITCTL_EXIT_REFUSED },
        { "io.fexitd.TooManyArguments",             FEXITCTL_EXIT_REFUSED },
        { "io.fexitd.InvalidObject",                FEXITCTL_EXIT_REFUSED },
        { "io.fexitd.NoFexitPrograms",              FEXITCTL_EXIT_REFUSED },
        { "io.fexitd.LimitExceeded",                FEXITCTL_EXIT_LIMIT },
};

int fexitctl_exit_code(const char *error_name, int err) {
        if (error_name) {
                for (size_t i = 0; i < ELEMENTSOF(error_codes); i++)
                        if (strcmp(error_codes[i].name, error_name) == 0)
                                return error_codes[i].code;
                return FEXITCTL_EXIT_FAILURE;
        }
        switch (-err) {
        case 0:
                return FEXITCTL_EXIT_OK;
        case ENOENT:
                return FEXITCTL_EXIT_NOT_FOUND;
        case EACCES:
        case EPERM:
                return FEXITCTL_EXIT_PERMISSION;
        case ECONNREFUSED:
        case ECONNRESET:
        case EPIPE:
        case ENOTCONN:
        case ETIMEDOUT:
                return FEXITCTL_EXIT_UNREACHABLE;
        default:
                return FEXITCTL_EXIT_FAILURE;
        }
}
