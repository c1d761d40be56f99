/* SPDX-License-Identifier: MIT */
#pragma once

/*
 * How a verb ends (docs/architecture.md, "Replies and errors"). A handler returns
 *   0     when it replied (call_reply*()), or handed the call to a job that will (call_submit());
 *   < 0   a negative errno: the dispatcher replies io.fexitd.KernelError, with the operation
 *         named in the method's row;
 *   > 0   an error code (daemon/errors.h) it recorded with call_error(): the dispatcher replies
 *         that error with the recorded parameters.
 * Helpers return codes the same way and never reply behind their caller's back. A job's done()
 * runs after the handler returned, so it replies itself (call_reply*(), call_reply_code()).
 */

#include "daemon/errors.h"
#include "daemon/manager.h"

/* Records the error code and its parameters (copied now) for the dispatcher; returns code. Only
 * while the call's handler runs. */
int call_error(struct call *c, int code, const struct error_args *args);
#define CALL_ERROR(c, code, ...) call_error((c), (code), &(struct error_args) { __VA_ARGS__ })
/* org.varlink.service.InvalidParameter, naming the parameter. */
int call_invalid_parameter(struct call *c, const char *name);

/* Replies the error code with its parameters now (from a job's done(), or the dispatcher). */
void call_reply_code(struct call *c, int code, const struct error_args *args);

/* Hands the call to a job: the handler then returns 0, and the job's done() replies. */
void call_submit(struct call *c, struct job *j);
/* For a reply that something else (a close job) will give: call_defer() (varlink-server.h). */

/* The dispatcher's end of a handler that returned r: sends the error a nonzero r stands for
 * unless the call was answered, and logs the bugs (an error returned after a reply, or 0
 * returned with no reply coming). */
void call_finish_handler(struct call *c, struct call_frame *f, int r);
