/* SPDX-License-Identifier: MIT */
/* Varlink error names -> errnos and one-line descriptions. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "client/libfexit-internal.h"
#include "common/varlink-json.h"

/* Templates name parameters in braces; "{suggestions}" expands an array to "a, b, c". A row
 * with `when` applies only to a reply that has that parameter; the row without it follows. */
static const struct error_desc {
        const char *name;
        int err;
        const char *template;
        const char *when;
} error_table[] = {
        { "io.fexitd.NoSuchHandle",          ENOENT,     "no such handle {handle}" },
        { "io.fexitd.WrongHandleKind",       EINVAL,     "handle {handle} is a {actual}, not a {expected}" },
        { "io.fexitd.NoSuchProgram",         ENOENT,     "no program named '{name}' in the object" },
        { "io.fexitd.NoSuchFunction",        ESRCH,      "no function '{function}' in the kernel's BTF" },
        { "io.fexitd.FunctionDenied",        EPERM,      "function '{function}' may not be traced: {reason}" },
        { "io.fexitd.FunctionNotSleepable",  EOPNOTSUPP, "function '{function}' cannot take a sleepable fexit.s/ program: {reason}" },
        { "io.fexitd.TooManyArguments",      E2BIG,      "function '{function}' takes {registers} argument registers; this kernel's fexit saves at most {max}" },
        { "io.fexitd.NoSuchCatalogEntry",    ENOENT,     "no catalog entry named '{name}'" },
        { "io.fexitd.InvalidObject",         ENOEXEC,    "invalid BPF object: {reason}" },
        { "io.fexitd.NoFexitPrograms",       ENOEXEC,    "the object contains no fexit programs" },
        { "io.fexitd.VerifierRejected",      EINVAL,     "the verifier rejected program '{program}' ({errno})" },
        { "io.fexitd.KernelError",           0,          "{operation} failed: {message} ({errno})" },
        { "io.fexitd.NotDetachable",         EOPNOTSUPP, "handle {handle} cannot be detached: {reason}" },
        { "io.fexitd.FunctionsUnknown",      ENODATA,    "handle {handle} cannot be attached, its functions are unknown: {reason}" },
        { "io.fexitd.InvalidFileDescriptors", EBADF,     "{parameter} names fd index {index}, which the message does not carry", "index" },
        { "io.fexitd.InvalidFileDescriptors", EBADF,     "expected {expected} file descriptors, received {received}" },
        { "io.fexitd.PermissionDenied",      EACCES,     "permission denied: {reason}" },
        { "io.fexitd.LimitExceeded",         EDQUOT,     "limit exceeded: {limit} (at most {max})" },
        { "io.fexitd.ProtocolError",         EPROTO,     "protocol error: {reason}" },
        { "org.varlink.service.InvalidParameter", EINVAL, "invalid parameter '{parameter}'" },
        { "org.varlink.service.MethodNotFound", EOPNOTSUPP, "fexitd does not know method {method}" },
        { "org.varlink.service.MethodNotImplemented", EOPNOTSUPP, "fexitd does not implement {method}" },
        { "org.varlink.service.InterfaceNotFound", EOPNOTSUPP, "fexitd does not provide interface {interface}" },
        { "org.varlink.service.PermissionDenied", EACCES, "permission denied" },
        { "org.varlink.service.ExpectedMore", EPROTO,    "the method expects a 'more' call" },
};

static const struct error_desc *error_lookup(const char *name, json_object *parameters) {
        for (size_t i = 0; i < ELEMENTSOF(error_table); i++)
                if (streq(error_table[i].name, name) &&
                    (!error_table[i].when || json_object_object_get_ex(parameters, error_table[i].when, NULL)))
                        return &error_table[i];
        return NULL;
}

/* "EPERM" -> EPERM; 0 if unknown. */
static int errno_from_name(const char *name) {
        if (!name)
                return 0;
        for (int e = 1; e < 4096; e++) {
                const char *n = strerrorname_np(e);
                if (n && streq(n, name))
                        return e;
        }
        return 0;
}

int error_to_errno(const char *name, json_object *parameters) {
        const struct error_desc *d = error_lookup(name, parameters);
        int e;

        if (!d)
                return -EIO;
        if (d->err != 0)
                return -d->err;
        e = errno_from_name(vl_get_str(parameters, "errno"));
        return e ? -e : -EIO;
}

/* Appends the text of one parameter to f; unknown or missing parameters print as "?". */
static void put_param(FILE *f, json_object *parameters, const char *key, size_t len) {
        char k[64];
        json_object *v;

        snprintf(k, sizeof(k), "%.*s", (int) len, key);
        v = json_object_object_get(parameters, k);
        if (json_object_is_type(v, json_type_string))
                fputs(json_object_get_string(v), f);
        else if (json_object_is_type(v, json_type_array))
                for (size_t i = 0; i < json_object_array_length(v); i++)
                        fprintf(f, "%s%s", i ? ", " : "",
                                json_object_get_string(json_object_array_get_idx(v, i)));
        else if (v)
                fputs(json_object_get_string(v), f);
        else
                fputs("?", f);
}

char *error_describe(const char *name, json_object *parameters) {
        const struct error_desc *d = error_lookup(name, parameters);
        char *buf = NULL;
        size_t size = 0;
        FILE *f;

        if (!d)
                return strdup(name);
        f = open_memstream(&buf, &size);
        if (!f)
                return NULL;
        for (const char *t = d->template; *t; t++) {
                const char *end = *t == '{' ? strchr(t, '}') : NULL;
                if (!end) {
                        fputc(*t, f);
                        continue;
                }
                put_param(f, parameters, t + 1, (size_t) (end - t - 1));
                t = end;
        }
        if (fclose(f) != 0)
                return mfree(buf);
        return buf;
}
