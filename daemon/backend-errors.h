/* SPDX-License-Identifier: MIT */
#pragma once

#include "common/varlink-server.h"

/* Replies the backend's error as the matching io.fexitd error. */
struct bb_error;
void call_reply_bb_error(struct call *c, const struct bb_error *e);
