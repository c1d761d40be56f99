/* SPDX-License-Identifier: MIT */
#pragma once

#include "common/varlink-server.h"

/* Replies the backend's error as the matching io.fexitd error. */
struct bb_error;
struct error_args;
/* The backend's error as the matching error code and its parameters (borrowed from e). */
int bb_error_to_args(const struct bb_error *e, struct error_args *ret);
/* Replies the backend's error (from a job's done()). */
void call_reply_bb_error(struct call *c, const struct bb_error *e);
