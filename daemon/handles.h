/* SPDX-License-Identifier: MIT */
#pragma once

/*
 * The handle table: every program, link and map the daemon owns, by handle number. Handles are
 * assigned in increasing order and never reused (next_id is persisted across restarts), so the
 * table is a sorted array searched by bisection. Only the event loop's thread touches it.
 */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "common/macro.h"

enum handle_kind { HANDLE_PROGRAM, HANDLE_LINK, HANDLE_MAP, _HANDLE_KIND_MAX };
enum handle_lifetime { LIFETIME_PERSISTENT, LIFETIME_CONNECTION, _LIFETIME_MAX };
enum handle_state { HSTATE_LOADED, HSTATE_ATTACHED, HSTATE_HANDED_OFF, _HSTATE_MAX };

#define GRANTS_MAX 16

struct grant {
        bool group;           /* false: a uid; true: a gid */
        uint32_t id;
};

struct handle {
        uint64_t id;
        enum handle_kind kind;
        enum handle_lifetime lifetime;
        enum handle_state state;
        int fd;                       /* -EBADF once handed off */
        uint32_t kernel_id;
        char *name;

        /* programs and links: where */
        char *function;
        char *btf_object;
        uint32_t btf_id;
        uint32_t target_prog_id;
        /* a multi-link program or link: all its functions (function above is the first) and
         * their BTF ids in btf_object, which Attach hands to the kernel */
        bool multi;
        char **functions;
        uint32_t *btf_ids;
        size_t n_functions;

        uint64_t program;             /* link: its program; map: first program of its load */
        uint64_t group;               /* the load it came from (id of its first handle) */
        char *source;                 /* programs.d file or catalog entry it came from, if any */

        uint32_t map_type, key_size, value_size, max_entries, map_flags;

        uid_t owner_uid;
        pid_t owner_pid;
        uid_t holder_uid;             /* handed-off links */
        pid_t holder_pid;
        unsigned long long holder_start; /* its start time (/proc/PID/stat field 22); 0: unknown */
        int holder_state;             /* enum holder_state (holder.h), not persisted */
        struct sd_event_source *holder_src; /* owns the holder's pidfd while it is watched */
        uint64_t conn_id;             /* connection-bound: the connection, else 0 */
        uint64_t created_usec;        /* CLOCK_REALTIME, survives restarts */
        bool busy;                    /* a kernel job is working on it */
        bool frozen;                  /* map: frozen by ShareMap (BPF_MAP_FREEZE works once) */
        const char *recovery;         /* static: NULL, or how a start without its state record
                                         rebuilt it from its pin (state-rebuild.c) */

        struct grant grants[GRANTS_MAX];
        size_t n_grants;
};

struct handle_table {
        struct handle **v;
        size_t n, cap;
        uint64_t next_id;
};

const char *handle_kind_to_string(enum handle_kind k);
const char *handle_lifetime_to_string(enum handle_lifetime l);
int handle_lifetime_from_string(const char *s);         /* -EINVAL if unknown */
const char *handle_state_to_string(enum handle_state s);

struct handle *handle_new(enum handle_kind kind, const char *name);
/* Frees memory only: the fd must have been taken or closed by the caller. Returns NULL. */
struct handle *handle_free(struct handle *h);
DEFINE_TRIVIAL_CLEANUP_FUNC(struct handle *, handle_free);

/* Makes h a multi-link handle over copies of the n functions and ids; -ENOMEM leaves h as it was. */
int handle_set_functions(struct handle *h, char *const *functions, const uint32_t *btf_ids, size_t n);

/* Removes the functions at positions index[0..n) (ascending) from a multi-link handle: the ones
 * its link left out. */
void handle_drop_functions(struct handle *h, const size_t *index, size_t n);

void handle_table_init(struct handle_table *t);
/* Frees every handle; fds still open are closed (only at shutdown). */
void handle_table_done(struct handle_table *t);

/* Assigns the next id and inserts; on error h is untouched and still the caller's. */
int handle_table_add(struct handle_table *t, struct handle *h);
/* Inserts with h->id already set (re-adoption after restart); -EEXIST on a duplicate. */
int handle_table_adopt(struct handle_table *t, struct handle *h);
struct handle *handle_table_get(const struct handle_table *t, uint64_t id);
/* Removes and returns the handle (caller frees), NULL if absent. */
struct handle *handle_table_remove(struct handle_table *t, uint64_t id);

size_t handle_table_count(const struct handle_table *t, enum handle_kind kind);

#define HANDLE_TABLE_FOREACH(t, h, i) \
        for (size_t i = 0; i < (t)->n && ((h) = (t)->v[i], 1); i++)

/* Parses "user:NAME|UID" or "group:NAME|GID" (names resolved through NSS). */
int grant_parse(const char *s, struct grant *ret);
/* "user:NAME" or "group:GID" form for display and persistence; buf of >= 64 bytes. */
const char *grant_format(const struct grant *g, char *buf, size_t size);

/* Parts of a handle as the verbs and state.json both write them (handles-json.c): the grants
 * ["user:UID", ...], and the functions of a multi-link handle [{"function": NAME, "btf_id": ID}]. */
struct json_object;
struct json_object *handle_grants_to_json(const struct handle *h);
struct json_object *handle_functions_to_json(const struct handle *h);
