/* SPDX-License-Identifier: MIT */
#pragma once

/*
 * Every error the daemon sends, in one table: a code, its Varlink name and the parameters it
 * carries, declared in the order of docs/io.fexitd.varlink (tests/unit/test-idl.c holds the two
 * against each other, names and types). A new error is one enum value, one row and the IDL.
 * Handlers return the code (daemon/reply.h); the parameters come from one struct error_args,
 * each row naming the fields it sends.
 */

#include <json-c/json.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum error_code {
        _ERR_NONE,                      /* 0 is "replied" for a handler, never an error */
        ERR_NO_SUCH_HANDLE,
        ERR_WRONG_HANDLE_KIND,
        ERR_NO_SUCH_PROGRAM,
        ERR_NO_SUCH_FUNCTION,
        ERR_FUNCTION_DENIED,
        ERR_NO_SUCH_CATALOG_ENTRY,
        ERR_INVALID_OBJECT,
        ERR_NO_FEXIT_PROGRAMS,
        ERR_VERIFIER_REJECTED,
        ERR_KERNEL,
        ERR_FUNCTION_NOT_SLEEPABLE,
        ERR_TOO_MANY_ARGUMENTS,
        ERR_NOT_DETACHABLE,
        ERR_FUNCTIONS_UNKNOWN,
        ERR_INVALID_FDS,
        ERR_PERMISSION_DENIED,
        ERR_LIMIT_EXCEEDED,
        ERR_PROTOCOL,
        /* org.varlink.service */
        ERR_INTERFACE_NOT_FOUND,
        ERR_METHOD_NOT_FOUND,
        ERR_INVALID_PARAMETER,
        _ERR_MAX
};

#define ERROR_STRV_MAX 8

/* An int parameter the IDL declares optional (?int): sent only when set. */
struct error_opt_int {
        bool set;
        int64_t v;
};

/* The parameters of every error; a row sends the fields it names, the rest are ignored. Strings
 * are borrowed: error_params() copies them. */
struct error_args {
        int64_t handle;
        int64_t max;
        int64_t registers;
        int64_t expected_fds, received_fds;
        struct error_opt_int index;
        const char *expected_kind, *actual_kind;
        const char *name;               /* a program, a catalog entry (echoed) */
        const char *function;
        const char *reason;
        const char *program;
        const char *errno_name;         /* "ENOENT": see error_args_errno() */
        const char *message;
        const char *log;
        const char *operation;
        const char *limit;
        const char *parameter;
        const char *interface;
        const char *method;
        const char *suggestions[ERROR_STRV_MAX + 1];   /* NULL-terminated */
};

enum error_param_type {
        EP_INT,          /* int64_t: int */
        EP_INT_OPT,      /* struct error_opt_int: ?int */
        EP_STR,          /* const char *: string, NULL sends "" */
        EP_STR_OPT,      /* const char *: ?string, NULL sends nothing */
        EP_ECHO,         /* const char * the client sent: string, cut to VL_ECHO_MAX */
        EP_STRV,         /* const char *[ERROR_STRV_MAX + 1], NULL-terminated: []string */
};

#define ERROR_PARAMS_MAX 6

struct error_param {
        const char *name;
        enum error_param_type type;
        size_t offset;                  /* offsetof(struct error_args, field) */
};

struct error_row {
        const char *name;
        struct error_param params[ERROR_PARAMS_MAX + 1];   /* ends with a row without name */
};

extern const struct error_row error_table[_ERR_MAX];

/* A whole KernelError reply for when a reply could not be built (ENOMEM): it needs no memory. */
extern const char error_reply_enomem[];

/* The name of a code, NULL for none. */
const char *error_name(int code);
/* The parameters of the error code as its row says, from args (NULL: all empty). A new object,
 * "broken" (vl_broken()) if an allocation failed, as every builder of common/varlink-json.h. */
json_object *error_params(int code, const struct error_args *args);
/* errno_name and message of a KernelError for err (either sign). */
void error_args_errno(struct error_args *args, int err);
