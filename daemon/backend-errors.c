/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <string.h>

#include "daemon/backend-errors.h"
#include "daemon/bpf-backend.h"

static const char *errno_name(int err) {
        const char *n = err ? strerrorname_np(err) : NULL;

        return n ? n : "EUNKNOWN";
}

void call_reply_bb_error(struct call *c, const struct bb_error *e) {
        json_object *p = vl_obj();
        const char *name;

        switch (e->kind) {
        case BB_ERR_INVALID_OBJECT:
                name = "io.fexitd.InvalidObject";
                vl_add_str(p, "reason", e->message ? e->message : "not a BPF ELF object");
                break;
        case BB_ERR_NO_FEXIT_PROGRAMS:
                name = "io.fexitd.NoFexitPrograms";
                break;
        case BB_ERR_NO_SUCH_PROGRAM:
                name = "io.fexitd.NoSuchProgram";
                vl_add_echo(p, "name", e->program ? e->program : "");
                break;
        case BB_ERR_NO_SUCH_FUNCTION: {
                json_object *list = vl_array();
                name = "io.fexitd.NoSuchFunction";
                vl_add_echo(p, "function", e->function ? e->function : "");
                for (size_t i = 0; i < BB_SUGGESTIONS_MAX && e->suggestions[i]; i++)
                        vl_append(list, json_object_new_string(e->suggestions[i]));
                vl_add(p, "suggestions", list);
                break;
        }
        case BB_ERR_FUNCTION_DENIED:
                name = "io.fexitd.FunctionDenied";
                vl_add_echo(p, "function", e->function ? e->function : "");
                vl_add_str(p, "reason", e->message ? e->message : "");
                break;
        case BB_ERR_VERIFIER:
                name = "io.fexitd.VerifierRejected";
                vl_add_str(p, "program", e->program ? e->program : "");
                vl_add_str(p, "errno", errno_name(e->err));
                vl_add_str(p, "log", e->log ? e->log : "");
                break;
        case BB_ERR_LIMIT_EXCEEDED:
                name = "io.fexitd.LimitExceeded";
                vl_add_str(p, "limit", e->operation ? e->operation : "instances");
                vl_add_int(p, "max", e->limit_max);
                break;
        case BB_ERR_NOT_SLEEPABLE:
                name = "io.fexitd.FunctionNotSleepable";
                vl_add_str(p, "function", e->function ? e->function : "");
                vl_add_str(p, "reason", e->message ? e->message : "");
                break;
        case BB_ERR_TOO_MANY_ARGS:
                name = "io.fexitd.TooManyArguments";
                vl_add_str(p, "function", e->function ? e->function : "");
                vl_add_int(p, "registers", e->n_args);
                vl_add_int(p, "max", e->limit_max);
                break;
        default:
                name = "io.fexitd.KernelError";
                vl_add_str(p, "operation", e->operation ? e->operation : "bpf");
                vl_add_str(p, "errno", errno_name(e->err));
                vl_add_str(p, "message", e->message ? e->message : strerror(e->err ? e->err : EIO));
                vl_add_str(p, "program", e->program);
                vl_add_str(p, "function", e->function);
                vl_add_str(p, "log", e->log);
                break;
        }
        call_reply_error(c, name, p);
}
