/* SPDX-License-Identifier: MIT */
#include <assert.h>
#include <errno.h>
#include <string.h>

#include "daemon/backend-errors.h"
#include "daemon/bpf-backend.h"
#include "daemon/reply.h"

static_assert(BB_SUGGESTIONS_MAX <= ERROR_STRV_MAX, "every suggestion fits in error_args");

int bb_error_to_args(const struct bb_error *e, struct error_args *ret) {
        struct error_args a = { .function = e->function, .reason = e->message, .program = e->program,
                                .name = e->program, .log = e->log, .max = e->limit_max };

        error_args_errno(&a, e->err);
        switch (e->kind) {
        case BB_ERR_INVALID_OBJECT:
                a.reason = e->message ? e->message : "not a BPF ELF object";
                *ret = a;
                return ERR_INVALID_OBJECT;
        case BB_ERR_NO_FEXIT_PROGRAMS:
                *ret = a;
                return ERR_NO_FEXIT_PROGRAMS;
        case BB_ERR_NO_SUCH_PROGRAM:
                *ret = a;
                return ERR_NO_SUCH_PROGRAM;
        case BB_ERR_NO_SUCH_FUNCTION:
                for (size_t i = 0; i < BB_SUGGESTIONS_MAX && e->suggestions[i]; i++)
                        a.suggestions[i] = e->suggestions[i];
                *ret = a;
                return ERR_NO_SUCH_FUNCTION;
        case BB_ERR_FUNCTION_DENIED:
                *ret = a;
                return ERR_FUNCTION_DENIED;
        case BB_ERR_VERIFIER:
                *ret = a;
                return ERR_VERIFIER_REJECTED;
        case BB_ERR_LIMIT_EXCEEDED:
                a.limit = e->operation ? e->operation : "instances";
                *ret = a;
                return ERR_LIMIT_EXCEEDED;
        case BB_ERR_NOT_SLEEPABLE:
                *ret = a;
                return ERR_FUNCTION_NOT_SLEEPABLE;
        case BB_ERR_TOO_MANY_ARGS:
                a.registers = e->n_args;
                *ret = a;
                return ERR_TOO_MANY_ARGUMENTS;
        default:
                a.operation = e->operation ? e->operation : "bpf";
                a.message = e->message ? e->message : strerror(e->err ? e->err : EIO);
                *ret = a;
                return ERR_KERNEL;
        }
}

void call_reply_bb_error(struct call *c, const struct bb_error *e) {
        struct error_args a;
        int code = bb_error_to_args(e, &a);

        call_reply_code(c, code, &a);
}
