/* SPDX-License-Identifier: MIT */
#pragma once

/* What survives a restart: pins in cfg.pin_dir as KIND-HANDLE, metadata in state.json. */

#include "daemon/manager.h"

int state_pin(struct server *s, const struct handle *h);
void state_unpin(struct server *s, const struct handle *h);
int state_save(struct server *s);
/* The same off the loop's thread (8-12 ms of fsync): the table is taken as it is now, written by
 * a worker job, and then(userdata) runs on the loop once it is on disk (or the write failed,
 * which is logged, as state_save() does). Writes are ordered, and a snapshot overtaken by a newer
 * one before its turn is never written: the newer one covers its waiters. */
void state_save_then(struct server *s, void (*then)(void *userdata), void *userdata);
struct state_writer *state_writer_free(struct state_writer *w);
/* Re-adopts the persistent handles of a previous run; cleans up stale pins and records. */
int state_restore(struct server *s);

/* Private to state.c and state-rebuild.c: how the state file and the pins are reconciled. */

/* state.json's text for the table as it is now (NULL when out of memory, logged), and its
 * atomic, durable write into dir (logged on failure). The writer is state-save.c. */
char *state_snapshot(struct server *s);
int state_write_file(const char *dir, const char *text);

/* Handle numbers above this are refused from a state file or a pin name, so that next_handle
 * can never wrap (and stays exact as a JSON number for any client). */
#define STATE_HANDLE_MAX ((uint64_t) 1 << 53)

void state_pin_path(const struct server *s, enum handle_kind kind, uint64_t id, char *buf, size_t size);
/* Parses "prog-N", "link-N", "map-N" strictly (decimal, no sign or leading zero, 1..STATE_HANDLE_MAX). */
int state_pin_name_parse(const char *name, enum handle_kind *ret_kind, uint64_t *ret_id);

/* The pins are the truth about what exists, the records (a table of parsed, checked state
 * records, not yet adopted) only describe it. Every pin of ours holding a live object of its
 * kind is adopted: with its record when the record names the same kernel object, else rebuilt
 * from the kernel's own info. Nothing is unpinned but the temporary read-only pins. Links'
 * programs and maps' groups are then checked against the kernel. Records without a pin are
 * adopted only as handed-off links of this boot whose program is ours; the rest are dropped
 * (they hold nothing). Every record ends up adopted or freed: records is empty afterwards.
 * Fails only if the pin folder cannot be read (then nothing is adopted). */
int state_rebuild(struct server *s, struct handle_table *records, bool same_boot);
