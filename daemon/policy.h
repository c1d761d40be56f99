/* SPDX-License-Identifier: MIT */
#pragma once

/*
 * The access policy (policy.conf, docs/security.md): who is an admin, who may load which catalog
 * entries, and who may act on handles that came from which catalog entries. Parsing and
 * evaluation only: no kernel calls, no logging. Errors come back as one message naming the file
 * and line ("policy.conf:7: unknown group 'tracng'") for the daemon to log at its boundary.
 *
 * One rule per line; '#' at the start of a line or after a blank starts a comment:
 *
 *   admin  SUBJECT                 the subject gets the admin role (like --admin-group)
 *   load   SUBJECT PATTERN...      may Load {"catalog": NAME} for a NAME matching a pattern
 *   share  SUBJECT PATTERN...      may see (List, Describe) and ShareMap handles whose source
 *                                  is a matching catalog entry, whoever loaded them
 *   use    SUBJECT PATTERN...      share, plus Attach, Detach and TakeLink on those handles
 *
 * SUBJECT is user:NAME, user:UID, group:NAME, group:GID or '*' (anyone who can reach the socket;
 * not allowed for admin). Names are resolved through NSS when the file is parsed; numeric ids
 * are taken as they are. A group subject matches the primary and the supplementary groups the
 * kernel reports for the peer (SO_PEERCRED, SO_PEERGROUPS). PATTERN is a catalog entry name or
 * a glob of one: letters, digits, '_', '.', '-', and the wildcards '*' and '?'.
 *
 * Rules only ever add permissions; there is no deny, so their order does not matter.
 * Limits: 1024 bytes a line, 4096 rules, POLICY_FILE_MAX bytes a file. Outside comments a line
 * is printable ASCII and tabs; comments are UTF-8 without control or bidirectional formatting
 * characters.
 */

#include <stdbool.h>
#include <stddef.h>

struct peer;

#define POLICY_LINE_MAX 1024
#define POLICY_RULES_MAX 4096
#define POLICY_PATTERN_MAX 128          /* as long as a catalog entry name may be */

#define POLICY_FILE_MAX (4u << 20)

struct policy;

/* Parses text (len bytes, need not be NUL-terminated; NUL bytes are errors). filename is used in
 * error messages only. On success *ret is a new policy. On failure (-EINVAL for a mistake in the
 * text, -ENOMEM, or an NSS error) *ret is untouched and, if ret_error is not NULL, *ret_error is
 * set to a malloc'ed message "FILENAME:LINE: what" (NULL if even that could not be allocated);
 * *ret_error is untouched on success. */
int policy_parse(const char *text, size_t len, const char *filename, struct policy **ret,
                 char **ret_error);

/* Reads and parses path. A missing file is an empty policy: returns 0 then, 1 when a file was
 * read. The file must be a regular file owned by root (or by the daemon's own euid) and not
 * writable by group or others: the policy hands out admin rights, so whoever may write it is an
 * admin. Errors as for policy_parse, with the path in the message. */
int policy_load_file(const char *path, struct policy **ret, char **ret_error);

/* Accepts NULL; returns NULL. */
struct policy *policy_free(struct policy *p);

/* Number of rules, for the daemon's log line. 0 for NULL. */
size_t policy_n_rules(const struct policy *p);

/*
 * Evaluation. A NULL policy is an empty one: only the built-in rules apply. Built in: uid 0 is
 * admin, and the evaluators below treat a peer whose role is already ROLE_ADMIN (root, the
 * --admin-group, an admin rule) as allowed everything. A consumer's own handles and the handles
 * granted to it per handle are access.c's business; these only answer for the policy's rules.
 */

/* Root, or an admin rule matches the peer. Does not look at peer->role (it computes it). */
bool policy_is_admin(const struct policy *p, const struct peer *peer);

/* A valid catalog entry name: 1..POLICY_PATTERN_MAX of [A-Za-z0-9_.-], no leading '.'. Load's
 * object name follows the same rule; Load's parameter spec refuses any other catalog or object
 * name before a lookup or a policy decision (docs/security.md). */
bool policy_entry_name_valid(const char *s);

/* Whether the peer may Load the catalog entry. Names that are not valid catalog entry names
 * (empty, over POLICY_PATTERN_MAX, a leading '.', anything outside [A-Za-z0-9_.-]) are refused
 * to consumers whatever the rules say. */
bool policy_may_load(const struct policy *p, const struct peer *peer, const char *catalog_entry);

/* Whether the peer may Attach, Detach and TakeLink (and everything policy_may_share allows) a
 * handle whose source is this. source is the handle's: a catalog entry name, "programs.d/FILE"
 * or NULL (loaded from a client's object). Only catalog sources can match a rule: programs.d
 * handles are shared through the grants in their own file, client objects through their grants. */
bool policy_may_use(const struct policy *p, const struct peer *peer, const char *source);

/* Whether the peer may see (List, Describe) and ShareMap such a handle: a share or a use rule. */
bool policy_may_share(const struct policy *p, const struct peer *peer, const char *source);
