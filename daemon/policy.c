/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <pwd.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/macro.h"
#include "common/parse-util.h"
#include "common/peer.h"
#include "common/utf8.h"
#include "daemon/policy.h"

#define NAME_LEN_MAX 255        /* a user or group name, as useradd allows */
#define ECHO_MAX 64             /* of a token quoted in an error message */
#define TOKENS_MAX (POLICY_LINE_MAX / 2 + 1)
#define NSS_BUF_MAX (1u << 20)

enum verb { VERB_ADMIN, VERB_LOAD, VERB_SHARE, VERB_USE, _VERB_MAX };
enum subject_kind { SUBJECT_ANY, SUBJECT_USER, SUBJECT_GROUP };

static const char *const verb_names[_VERB_MAX] = {
        [VERB_ADMIN] = "admin", [VERB_LOAD] = "load", [VERB_SHARE] = "share", [VERB_USE] = "use",
};

struct rule {
        enum verb verb;
        enum subject_kind kind;
        uint32_t id;                  /* uid or gid */
        char *patterns;               /* n_patterns NUL-terminated globs, back to back */
        size_t n_patterns;
};

struct policy {
        struct rule *rules;
        size_t n_rules, cap;
};

/* Where the parser is, for error messages. */
struct parser {
        const char *filename;
        size_t line;
        struct policy *policy;
        char *error;
};

/* ---- errors ---------------------------------------------------------------------------------- */

_printf_(3, 4)
static int fail(struct parser *ps, int r, const char *fmt, ...) {
        _cleanup_free_ char *msg = NULL;
        va_list ap;

        va_start(ap, fmt);
        if (vasprintf(&msg, fmt, ap) < 0)
                msg = NULL;
        va_end(ap);
        free(ps->error);
        if (!msg || asprintf(&ps->error, "%s:%zu: %s", ps->filename, ps->line, msg) < 0)
                ps->error = NULL;
        return r;
}

/* Tokens are printable ASCII by the time they are quoted, but may be long. */
#define ECHO "'%.*s%s'"
#define ECHO_ARGS(t) (int) (strlen(t) > ECHO_MAX ? ECHO_MAX : strlen(t)), (t), \
                     strlen(t) > ECHO_MAX ? "..." : ""

/* ---- characters ------------------------------------------------------------------------------ */

/* C1 controls, line separators and bidirectional formatting: they can make a comment display
 * differently from what the parser reads (the "Trojan Source" trick). */
static bool codepoint_hidden(uint32_t c) {
        return (c >= 0x80 && c < 0xa0) || c == 0x061c || c == 0x200e || c == 0x200f ||
               c == 0x2028 || c == 0x2029 || (c >= 0x202a && c <= 0x202e) ||
               (c >= 0x2066 && c <= 0x2069);
}

static bool is_blank(char c) {
        return c == ' ' || c == '\t';
}

static int check_comment_char(struct parser *ps, const unsigned char *s, size_t n, size_t i, size_t *ret_len) {
        uint32_t c;
        size_t k = utf8_decode(s + i, n - i, &c);

        if (k == 0)
                return fail(ps, -EINVAL, "invalid UTF-8 at column %zu", i + 1);
        if ((c < 0x20 && c != '\t') || c == 0x7f)
                return fail(ps, -EINVAL, "control character 0x%02x at column %zu", (unsigned) c, i + 1);
        if (codepoint_hidden(c))
                return fail(ps, -EINVAL, "character U+%04X at column %zu is not allowed "
                            "(control or bidirectional formatting)", (unsigned) c, i + 1);
        *ret_len = k;
        return 0;
}

/* Checks every byte of a line; returns where its comment starts (n if none) in *ret_end.
 * Outside comments only printable ASCII and tabs: no look-alike letters in names and verbs. */
static int check_line(struct parser *ps, const unsigned char *s, size_t n, size_t *ret_end) {
        size_t end = n;

        for (size_t i = 0, k = 1; i < n; i += k) {
                int r;

                if (end == n && s[i] == '#' && (i == 0 || is_blank((char) s[i - 1])))
                        end = i;
                if (end < n) {
                        r = check_comment_char(ps, s, n, i, &k);
                        if (r < 0)
                                return r;
                        continue;
                }
                k = 1;
                if (s[i] < 0x20 && s[i] != '\t') {
                        if (s[i] == '\r')
                                return fail(ps, -EINVAL, "carriage return at column %zu "
                                            "(use Unix line endings)", i + 1);
                        return fail(ps, -EINVAL, "control character 0x%02x at column %zu", s[i], i + 1);
                }
                if (s[i] == 0x7f)
                        return fail(ps, -EINVAL, "control character 0x7f at column %zu", i + 1);
                if (s[i] >= 0x80)
                        return fail(ps, -EINVAL, "non-ASCII character at column %zu outside a comment", i + 1);
        }
        *ret_end = end;
        return 0;
}

/* ---- subjects -------------------------------------------------------------------------------- */

static bool all_digits(const char *s) {
        return *s && strspn(s, "0123456789") == strlen(s);
}

/* Like systemd's relaxed user name rules: portable characters, a Samba machine account's '$'. */
static bool valid_name(const char *s) {
        size_t n = strlen(s);

        if (n == 0 || n > NAME_LEN_MAX || s[0] == '-' || strcmp(s, ".") == 0 || strcmp(s, "..") == 0)
                return false;
        if (s[n - 1] == '$')
                n--;
        for (size_t i = 0; i < n; i++)
                if (!strchr("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_.-", s[i]))
                        return false;
        return n > 0;
}

/* getpwnam_r() and getgrnam_r(): 0 and no result, or one of these, mean "no such name". */
static int nss_result(int r, const void *found) {
        if (r == 0 || r == ENOENT || r == ESRCH || r == EBADF || r == EPERM)
                return found ? 0 : -ESRCH;
        return -r;
}

static int lookup(enum subject_kind kind, const char *name, char *buf, size_t size, uint32_t *ret) {
        int r;

        if (kind == SUBJECT_USER) {
                struct passwd pw, *res = NULL;
                r = getpwnam_r(name, &pw, buf, size, &res);
                r = nss_result(r, res);
                if (r >= 0)
                        *ret = res->pw_uid;
        } else {
                struct group gr, *res = NULL;
                r = getgrnam_r(name, &gr, buf, size, &res);
                r = nss_result(r, res);
                if (r >= 0)
                        *ret = res->gr_gid;
        }
        return r;
}

static int resolve(struct parser *ps, enum subject_kind kind, const char *name, uint32_t *ret) {
        const char *what = kind == SUBJECT_USER ? "user" : "group";
        long hint = sysconf(kind == SUBJECT_USER ? _SC_GETPW_R_SIZE_MAX : _SC_GETGR_R_SIZE_MAX);
        int r = -ERANGE;

        for (size_t size = hint > 0 ? (size_t) hint : 1024; r == -ERANGE && size <= NSS_BUF_MAX; size *= 2) {
                _cleanup_free_ char *buf = malloc(size);
                if (!buf)
                        return fail(ps, -ENOMEM, "out of memory");
                r = lookup(kind, name, buf, size, ret);
        }
        if (r == -ESRCH)
                return fail(ps, -EINVAL, "unknown %s " ECHO, what, ECHO_ARGS(name));
        if (r < 0)
                return fail(ps, r, "cannot resolve %s " ECHO ": %s", what, ECHO_ARGS(name), strerror(-r));
        return 0;
}

static int parse_subject(struct parser *ps, const char *tok, struct rule *rule) {
        const char *name, *what;

        if (strcmp(tok, "*") == 0) {
                rule->kind = SUBJECT_ANY;
                return 0;
        }
        if (strncmp(tok, "user:", 5) == 0)
                rule->kind = SUBJECT_USER;
        else if (strncmp(tok, "group:", 6) == 0)
                rule->kind = SUBJECT_GROUP;
        else
                return fail(ps, -EINVAL, "unknown subject " ECHO " (expected user:NAME, user:UID, "
                            "group:NAME, group:GID or *)", ECHO_ARGS(tok));
        what = rule->kind == SUBJECT_USER ? "user" : "group";
        name = strchr(tok, ':') + 1;
        if (!*name)
                return fail(ps, -EINVAL, "missing %s name after '%s:'", what, what);
        if (all_digits(name)) {
                if (parse_uid(name, &rule->id) < 0)
                        return fail(ps, -EINVAL, "invalid %s id " ECHO " (at most %u)", what,
                                    ECHO_ARGS(name), UINT32_MAX - 1);
                return 0;
        }
        if (!valid_name(name))
                return fail(ps, -EINVAL, "invalid %s name " ECHO, what, ECHO_ARGS(name));
        return resolve(ps, rule->kind, name, &rule->id);
}

/* ---- patterns -------------------------------------------------------------------------------- */

#define ENTRY_CHARS "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_.-"

static int check_pattern(struct parser *ps, const char *t) {
        size_t n = strlen(t);

        if (n > POLICY_PATTERN_MAX)
                return fail(ps, -EINVAL, "catalog entry pattern " ECHO " is longer than %d characters",
                            ECHO_ARGS(t), POLICY_PATTERN_MAX);
        for (size_t i = 0; i < n; i++)
                if (!strchr(ENTRY_CHARS "*?", t[i]))
                        return fail(ps, -EINVAL, "invalid catalog entry pattern " ECHO " (allowed: "
                                    "letters, digits, '_', '.', '-' and the wildcards '*', '?')",
                                    ECHO_ARGS(t));
        return 0;
}

static int parse_patterns(struct parser *ps, char **tok, size_t n, struct rule *rule) {
        size_t size = 0;
        char *p;

        for (size_t i = 0; i < n; i++) {
                int r = check_pattern(ps, tok[i]);
                if (r < 0)
                        return r;
                size += strlen(tok[i]) + 1;
        }
        if (n == 0)
                return 0;
        rule->patterns = p = malloc(size);
        if (!p)
                return fail(ps, -ENOMEM, "out of memory");
        for (size_t i = 0; i < n; i++)
                p = stpcpy(p, tok[i]) + 1;
        rule->n_patterns = n;
        return 0;
}

/* ---- rules and lines ------------------------------------------------------------------------- */

static int parse_verb(struct parser *ps, const char *tok, enum verb *ret) {
        for (size_t v = 0; v < _VERB_MAX; v++)
                if (strcmp(tok, verb_names[v]) == 0) {
                        *ret = (enum verb) v;
                        return 0;
                }
        return fail(ps, -EINVAL, "unknown verb " ECHO " (expected admin, load, share or use)",
                    ECHO_ARGS(tok));
}

/* Takes the rule's patterns, also on failure. */
static int policy_add(struct parser *ps, struct rule *rule) {
        struct policy *p = ps->policy;

        if (GREEDY_REALLOC(p->rules, p->cap, p->n_rules + 1) < 0) {
                free(rule->patterns);
                return fail(ps, -ENOMEM, "out of memory");
        }
        p->rules[p->n_rules++] = *rule;
        return 0;
}

static int parse_rule(struct parser *ps, char **tok, size_t n) {
        struct rule rule = {};
        int r;

        if (ps->policy->n_rules >= POLICY_RULES_MAX)
                return fail(ps, -EINVAL, "more than %d rules", POLICY_RULES_MAX);
        r = parse_verb(ps, tok[0], &rule.verb);
        if (r < 0)
                return r;
        if (n < 2)
                return fail(ps, -EINVAL, "missing subject after '%s'", tok[0]);
        r = parse_subject(ps, tok[1], &rule);
        if (r < 0)
                return r;
        if (rule.verb == VERB_ADMIN && rule.kind == SUBJECT_ANY)
                return fail(ps, -EINVAL, "'admin *' would make everyone who can reach the socket an "
                            "admin; name users or groups");
        if (rule.verb == VERB_ADMIN && n > 2)
                return fail(ps, -EINVAL, "unexpected " ECHO " after the subject (admin takes no "
                            "catalog entries)", ECHO_ARGS(tok[2]));
        if (rule.verb != VERB_ADMIN && n < 3)
                return fail(ps, -EINVAL, "missing catalog entry pattern after " ECHO, ECHO_ARGS(tok[1]));
        r = parse_patterns(ps, tok + 2, n - 2, &rule);
        if (r < 0)
                return r;
        return policy_add(ps, &rule);
}

/* Splits buf in place at blanks. */
static size_t tokenize(char *buf, char **tok) {
        size_t n = 0;

        for (char *s = buf; *s;) {
                while (is_blank(*s))
                        *s++ = '\0';
                if (!*s)
                        break;
                tok[n++] = s;
                while (*s && !is_blank(*s))
                        s++;
        }
        return n;
}

static int parse_line(struct parser *ps, const char *s, size_t n) {
        char buf[POLICY_LINE_MAX + 1], *tok[TOKENS_MAX];
        size_t end = 0, n_tok;
        int r;

        if (n > POLICY_LINE_MAX)
                return fail(ps, -EINVAL, "line too long (more than %d bytes)", POLICY_LINE_MAX);
        r = check_line(ps, (const unsigned char *) s, n, &end);
        if (r < 0)
                return r;
        memcpy(buf, s, end);
        buf[end] = '\0';
        n_tok = tokenize(buf, tok);
        return n_tok == 0 ? 0 : parse_rule(ps, tok, n_tok);
}

static struct policy *policy_new(void) {
        return calloc(1, sizeof(struct policy));
}

struct policy *policy_free(struct policy *p) {
        if (!p)
                return NULL;
        for (size_t i = 0; i < p->n_rules; i++)
                free(p->rules[i].patterns);
        free(p->rules);
        free(p);
        return NULL;
}

DEFINE_TRIVIAL_CLEANUP_FUNC(struct policy *, policy_free);

size_t policy_n_rules(const struct policy *p) {
        return p ? p->n_rules : 0;
}

static int parse_error(struct parser *ps, int r, char **ret_error) {
        if (ret_error)
                *ret_error = TAKE_PTR(ps->error);
        free(ps->error);
        return r;
}

int policy_parse(const char *text, size_t len, const char *filename, struct policy **ret,
                 char **ret_error) {
        _cleanup_(policy_freep) struct policy *p = NULL;
        struct parser ps = { .filename = filename ? filename : "policy.conf" };
        int r = 0;

        if (!text && len > 0)
                return -EINVAL;
        ps.policy = p = policy_new();
        if (!p)
                return parse_error(&ps, fail(&ps, -ENOMEM, "out of memory"), ret_error);
        for (size_t off = 0; off < len && r >= 0;) {
                const char *nl = memchr(text + off, '\n', len - off);
                size_t n = nl ? (size_t) (nl - (text + off)) : len - off;

                ps.line++;
                r = parse_line(&ps, text + off, n);
                off += n + 1;
        }
        if (r < 0)
                return parse_error(&ps, r, ret_error);
        *ret = TAKE_PTR(p);
        return 0;
}

/* ---- the file -------------------------------------------------------------------------------- */

_printf_(4, 5)
static int file_fail(const char *path, int r, char **ret_error, const char *fmt, ...) {
        _cleanup_free_ char *msg = NULL;
        va_list ap;

        if (!ret_error)
                return r;
        va_start(ap, fmt);
        if (vasprintf(&msg, fmt, ap) < 0)
                msg = NULL;
        va_end(ap);
        if (!msg || asprintf(ret_error, "%s: %s", path, msg) < 0)
                *ret_error = NULL;
        return r;
}

/* Whoever may write the policy may make themselves an admin: only root (or our own euid, for
 * tests and unprivileged runs) may. */
static int check_trusted(int fd, const char *path, char **ret_error) {
        struct stat st;

        if (fstat(fd, &st) < 0)
                return file_fail(path, -errno, ret_error, "cannot stat: %s", strerror(errno));
        if (!S_ISREG(st.st_mode))
                return file_fail(path, -EINVAL, ret_error, "not a regular file");
        if (st.st_uid != 0 && st.st_uid != geteuid())
                return file_fail(path, -EPERM, ret_error, "owned by uid %u, not by root; refusing to "
                                 "trust it", (unsigned) st.st_uid);
        if (st.st_mode & (S_IWGRP | S_IWOTH))
                return file_fail(path, -EPERM, ret_error, "writable by group or others (mode %04o); "
                                 "refusing to trust it", (unsigned) (st.st_mode & 07777));
        return 0;
}

/* Reads at most POLICY_FILE_MAX bytes; st_size is not trusted (it may change under us). */
static int read_all(int fd, char **ret, size_t *ret_len) {
        _cleanup_free_ char *buf = NULL;
        size_t len = 0, cap = 0;

        for (;;) {
                ssize_t k;

                if (len == cap) {
                        char *b;
                        if (cap > POLICY_FILE_MAX)
                                return -EFBIG;
                        cap = cap ? cap * 2 : 16384;
                        b = realloc(buf, cap + 1);
                        if (!b)
                                return -ENOMEM;
                        buf = b;
                }
                k = read(fd, buf + len, cap - len);
                if (k < 0 && errno == EINTR)
                        continue;
                if (k < 0)
                        return -errno;
                if (k == 0)
                        break;
                len += (size_t) k;
        }
        if (len > POLICY_FILE_MAX)
                return -EFBIG;
        *ret = TAKE_PTR(buf);
        *ret_len = len;
        return 0;
}

int policy_load_file(const char *path, struct policy **ret, char **ret_error) {
        _cleanup_close_ int fd = -EBADF;
        _cleanup_free_ char *text = NULL;
        struct policy *p;
        size_t len = 0;
        int r;

        /* O_NONBLOCK: a FIFO put there must not hang the daemon; it is refused below. */
        fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
        if (fd < 0 && errno == ENOENT) {
                p = policy_new();
                if (!p)
                        return file_fail(path, -ENOMEM, ret_error, "out of memory");
                *ret = p;
                return 0;
        }
        if (fd < 0)
                return file_fail(path, -errno, ret_error, "cannot open: %s", strerror(errno));
        r = check_trusted(fd, path, ret_error);
        if (r < 0)
                return r;
        r = read_all(fd, &text, &len);
        if (r == -EFBIG)
                return file_fail(path, r, ret_error, "larger than %u bytes", POLICY_FILE_MAX);
        if (r < 0)
                return file_fail(path, r, ret_error, "cannot read: %s", strerror(-r));
        r = policy_parse(text, len, path, ret, ret_error);
        return r < 0 ? r : 1;
}

/* ---- evaluation ------------------------------------------------------------------------------ */

/* Only '*' and '?' (patterns have no other specials). Backtracks to the last star only, so the
 * cost is at most length(pattern) * length(name), whatever the pattern. */
static bool glob_match(const char *p, const char *s) {
        const char *star = NULL, *resume = NULL;

        while (*s) {
                if (*p == '*') {
                        star = p++;
                        resume = s;
                } else if (*p && (*p == '?' || *p == *s)) {
                        p++;
                        s++;
                } else if (star) {
                        p = star + 1;
                        s = ++resume;
                } else
                        return false;
        }
        while (*p == '*')
                p++;
        return !*p;
}

/* What catalog_open() can find and what a rule can name; also bounds glob_match's work. */
bool policy_entry_name_valid(const char *s) {
        size_t n = strlen(s);

        return n > 0 && n <= POLICY_PATTERN_MAX && s[0] != '.' && strspn(s, ENTRY_CHARS) == n;
}

static bool subject_matches(const struct rule *r, const struct peer *peer) {
        switch (r->kind) {
        case SUBJECT_ANY:
                return true;
        case SUBJECT_USER:
                return peer->uid == r->id;
        case SUBJECT_GROUP:
                return peer_in_group(peer, r->id);
        }
        return false;
}

/* Is there a rule with one of the verbs in mask, for this peer, with a pattern matching entry? */
static bool rules_allow(const struct policy *p, unsigned mask, const struct peer *peer, const char *entry) {
        for (size_t i = 0; p && i < p->n_rules; i++) {
                const struct rule *r = &p->rules[i];
                const char *pat = r->patterns;

                if (!(mask & (1u << r->verb)) || !subject_matches(r, peer))
                        continue;
                for (size_t j = 0; j < r->n_patterns; j++, pat += strlen(pat) + 1)
                        if (glob_match(pat, entry))
                                return true;
        }
        return false;
}

bool policy_is_admin(const struct policy *p, const struct peer *peer) {
        if (peer->uid == 0)
                return true;
        for (size_t i = 0; p && i < p->n_rules; i++)
                if (p->rules[i].verb == VERB_ADMIN && subject_matches(&p->rules[i], peer))
                        return true;
        return false;
}

static bool peer_is_admin(const struct policy *p, const struct peer *peer) {
        return peer->role == ROLE_ADMIN || policy_is_admin(p, peer);
}

bool policy_may_load(const struct policy *p, const struct peer *peer, const char *catalog_entry) {
        if (peer_is_admin(p, peer))
                return true;
        return catalog_entry && policy_entry_name_valid(catalog_entry) &&
               rules_allow(p, 1u << VERB_LOAD, peer, catalog_entry);
}

bool policy_may_use(const struct policy *p, const struct peer *peer, const char *source) {
        if (peer_is_admin(p, peer))
                return true;
        return source && policy_entry_name_valid(source) && rules_allow(p, 1u << VERB_USE, peer, source);
}

bool policy_may_share(const struct policy *p, const struct peer *peer, const char *source) {
        if (peer_is_admin(p, peer))
                return true;
        return source && policy_entry_name_valid(source) &&
               rules_allow(p, 1u << VERB_USE | 1u << VERB_SHARE, peer, source);
}
