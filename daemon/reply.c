/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <stdlib.h>

#include "daemon/log.h"
#include "daemon/reply.h"

int call_error(struct call *c, int code, const struct error_args *args) {
        struct call_frame *f = c->frame;

        if (!f) {   /* a bug: nobody would look at the code */
                log_error("Bug: an error code outside a handler (%s)", error_name(code) ?: "?");
                call_reply_code(c, code, args);
                return code;
        }
        vl_put(f->error_params);
        f->error = code;
        f->error_params = error_params(code, args);
        return code;
}

int call_invalid_parameter(struct call *c, const char *name) {
        return CALL_ERROR(c, ERR_INVALID_PARAMETER, .parameter = name);
}

void call_reply_code(struct call *c, int code, const struct error_args *args) {
        call_reply_error(c, error_name(code) ?: error_name(ERR_KERNEL), error_params(code, args));
}

void call_submit(struct call *c, struct job *j) {
        call_defer(c);
        worker_pool_submit(c->server->pool, j);
}

static const char *method_name(const struct call *c) {
        return c->method ? c->method->name : "a call";
}

void call_finish_handler(struct call *c, struct call_frame *f, int r) {
        json_object *params = TAKE_PTR(f->error_params);

        if (f->ended) {   /* c is gone */
                if (r != 0)
                        log_error("Bug: a handler replied and returned %d", r);
                vl_put(params);
                return;
        }
        c->frame = NULL;
        if (f->deferred) {
                if (r != 0)
                        log_error("Bug: %s returned %d after a job took the call", method_name(c), r);
                vl_put(params);
                return;
        }
        if (r == 0) {
                log_error("Bug: %s returned without a reply or a job to give one", method_name(c));
                r = -EPROTO;   /* the client would wait forever */
        }
        if (r < 0) {
                struct error_args a = { .operation = c->method && c->method->operation ?
                                                     c->method->operation : "call" };
                vl_put(params);
                error_args_errno(&a, r);
                call_reply_code(c, ERR_KERNEL, &a);
                return;
        }
        if (r != f->error || !params) {
                log_error("Bug: %s returned error %d but recorded %d", method_name(c), r, f->error);
                vl_put(params);
                params = error_params(r, NULL);
        }
        call_reply_error(c, error_name(r) ?: error_name(ERR_KERNEL), params);
}
