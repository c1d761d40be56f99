/* SPDX-License-Identifier: MIT */
#pragma once

#include "daemon/manager.h"

/* Loads and attaches CONF_DIR/programs.d/ *.json at start and on reload, idempotently: a file
 * whose programs are already loaded (re-adopted after a restart) is left alone, and so is every
 * file while programs rebuilt from their pins without a source exist (state.json was lost: they
 * may be its programs); a file that fails
 * is reported and skipped, the others still load. Each file is a Load request:
 *   { "object": "/path/x.bpf.o" | "catalog": "NAME", "programs": [...], "grants": [...],
 *     "attach": true }
 * loaded persistent, owned by root, with source "programs.d/FILE". */
void programs_d_load(struct server *s);
