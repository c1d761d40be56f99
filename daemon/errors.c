/* SPDX-License-Identifier: MIT */
#include <stdlib.h>
#include <string.h>

#include "common/macro.h"
#include "common/varlink-json.h"
#include "daemon/errors.h"

#define P(n, t, field) { n, t, offsetof(struct error_args, field) }
#define KERNEL_ERROR "io.fexitd.KernelError"

const struct error_row error_table[_ERR_MAX] = {
        [ERR_NO_SUCH_HANDLE] = { "io.fexitd.NoSuchHandle", { P("handle", EP_INT, handle) } },
        [ERR_WRONG_HANDLE_KIND] = { "io.fexitd.WrongHandleKind", {
                P("handle", EP_INT, handle), P("expected", EP_STR, expected_kind),
                P("actual", EP_STR, actual_kind) } },
        [ERR_NO_SUCH_PROGRAM] = { "io.fexitd.NoSuchProgram", { P("name", EP_ECHO, name) } },
        [ERR_NO_SUCH_FUNCTION] = { "io.fexitd.NoSuchFunction", {
                P("function", EP_ECHO, function), P("suggestions", EP_STRV, suggestions) } },
        [ERR_FUNCTION_DENIED] = { "io.fexitd.FunctionDenied", {
                P("function", EP_ECHO, function), P("reason", EP_STR, reason) } },
        [ERR_NO_SUCH_CATALOG_ENTRY] = { "io.fexitd.NoSuchCatalogEntry", { P("name", EP_ECHO, name) } },
        [ERR_INVALID_OBJECT] = { "io.fexitd.InvalidObject", { P("reason", EP_STR, reason) } },
        [ERR_NO_FEXIT_PROGRAMS] = { "io.fexitd.NoFexitPrograms", {} },
        [ERR_VERIFIER_REJECTED] = { "io.fexitd.VerifierRejected", {
                P("program", EP_STR, program), P("errno", EP_STR, errno_name), P("log", EP_STR, log) } },
        [ERR_KERNEL] = { KERNEL_ERROR, {
                P("operation", EP_STR, operation), P("errno", EP_STR, errno_name),
                P("message", EP_STR, message), P("program", EP_STR_OPT, program),
                P("function", EP_STR_OPT, function), P("log", EP_STR_OPT, log) } },
        [ERR_FUNCTION_NOT_SLEEPABLE] = { "io.fexitd.FunctionNotSleepable", {
                P("function", EP_STR, function), P("reason", EP_STR, reason) } },
        [ERR_TOO_MANY_ARGUMENTS] = { "io.fexitd.TooManyArguments", {
                P("function", EP_STR, function), P("registers", EP_INT, registers),
                P("max", EP_INT, max) } },
        [ERR_NOT_DETACHABLE] = { "io.fexitd.NotDetachable", {
                P("handle", EP_INT, handle), P("reason", EP_STR, reason) } },
        [ERR_FUNCTIONS_UNKNOWN] = { "io.fexitd.FunctionsUnknown", {
                P("handle", EP_INT, handle), P("reason", EP_STR, reason) } },
        [ERR_INVALID_FDS] = { "io.fexitd.InvalidFileDescriptors", {
                P("expected", EP_INT, expected_fds), P("received", EP_INT, received_fds),
                P("parameter", EP_STR_OPT, parameter), P("index", EP_INT_OPT, index) } },
        [ERR_PERMISSION_DENIED] = { "io.fexitd.PermissionDenied", { P("reason", EP_STR, reason) } },
        [ERR_LIMIT_EXCEEDED] = { "io.fexitd.LimitExceeded", {
                P("limit", EP_STR, limit), P("max", EP_INT, max) } },
        [ERR_PROTOCOL] = { "io.fexitd.ProtocolError", { P("reason", EP_STR, reason) } },
        [ERR_INTERFACE_NOT_FOUND] = { "org.varlink.service.InterfaceNotFound", {
                P("interface", EP_ECHO, interface) } },
        [ERR_METHOD_NOT_FOUND] = { "org.varlink.service.MethodNotFound", { P("method", EP_ECHO, method) } },
        [ERR_INVALID_PARAMETER] = { "org.varlink.service.InvalidParameter", {
                P("parameter", EP_ECHO, parameter) } },
};

const char error_reply_enomem[] = "{\"error\":\"" KERNEL_ERROR "\",\"parameters\":{"
        "\"operation\":\"reply\",\"errno\":\"ENOMEM\",\"message\":\"Cannot allocate memory\"}}";

const char *error_name(int code) {
        return code > _ERR_NONE && code < _ERR_MAX ? error_table[code].name : NULL;
}

static json_object *strv_to_json(const char *const *v) {
        json_object *a = vl_array();

        for (size_t i = 0; i < ERROR_STRV_MAX && v[i]; i++)
                vl_append(a, json_object_new_string(v[i]));
        return a;
}

static void add_param(json_object *o, const struct error_param *p, const struct error_args *a) {
        const void *field = (const char *) a + p->offset;
        const char *s = p->type == EP_STR || p->type == EP_STR_OPT || p->type == EP_ECHO ?
                        *(const char *const *) field : NULL;

        switch (p->type) {
        case EP_INT:
                vl_add_int(o, p->name, *(const int64_t *) field);
                break;
        case EP_INT_OPT:
                if (((const struct error_opt_int *) field)->set)
                        vl_add_int(o, p->name, ((const struct error_opt_int *) field)->v);
                break;
        case EP_STR:
        case EP_STR_OPT:
                vl_add_str(o, p->name, s || p->type == EP_STR_OPT ? s : "");
                break;
        case EP_ECHO:
                vl_add_echo(o, p->name, s ? s : "");
                break;
        case EP_STRV:
                vl_add(o, p->name, strv_to_json((const char *const *) field));
                break;
        }
}

json_object *error_params(int code, const struct error_args *args) {
        static const struct error_args none = {};
        json_object *o = vl_obj();

        if (!error_name(code))
                return o;
        for (const struct error_param *p = error_table[code].params; p->name; p++)
                add_param(o, p, args ? args : &none);
        return o;
}

void error_args_errno(struct error_args *args, int err) {
        const char *name;

        err = abs(err);
        name = err ? strerrorname_np(err) : NULL;
        args->errno_name = name ? name : "EUNKNOWN";
        args->message = strerror(err);
}
