/* SPDX-License-Identifier: MIT */
/* policy.conf: the parser's conformance and malformed-input corpora (every error with its line
 * and exact message), the evaluators (users, primary and supplementary groups, '*', globs, the
 * built-in rules of a NULL policy) and the file checks of policy_load_file(). Names resolved
 * through NSS are ones every Debian system has: root, daemon, nobody; nogroup, adm. */
#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "check-main.h"
#include "common/macro.h"
#include "common/peer.h"
#include "daemon/policy.h"

#define T(s) s, sizeof(s) - 1

static struct policy *parse_ok(const char *text, size_t len) {
        struct policy *p = NULL;
        char *error = NULL;
        int r = policy_parse(text, len, "policy.conf", &p, &error);

        ck_assert_msg(r == 0, "policy_parse: %d %s", r, error ? error : "(no message)");
        ck_assert_ptr_null(error);
        ck_assert_ptr_nonnull(p);
        return p;
}

static void check_error(const char *text, size_t len, int expected_r, const char *expected) {
        struct policy *sentinel = (struct policy *) &sentinel, *p = sentinel;
        char *error = NULL;
        int r = policy_parse(text, len, "policy.conf", &p, &error);

        ck_assert_int_eq(r, expected_r);
        ck_assert_ptr_eq(p, sentinel);   /* untouched on failure */
        ck_assert_ptr_nonnull(error);
        ck_assert_str_eq(error, expected);
        free(error);
}

static struct peer peer_of(uid_t uid, gid_t gid, size_t n_groups, const gid_t *groups) {
        struct peer p = { .uid = uid, .gid = gid, .pid = 4242, .n_groups = n_groups,
                          .role = uid == 0 ? ROLE_ADMIN : ROLE_CONSUMER };

        if (n_groups > 0)
                memcpy(p.groups, groups, n_groups * sizeof(gid_t));
        return p;
}

static char *repeat(char c, size_t n, const char *prefix, const char *suffix) {
        size_t a = strlen(prefix), b = strlen(suffix);
        char *s = malloc(a + n + b + 1);

        ck_assert_ptr_nonnull(s);
        memcpy(s, prefix, a);
        memset(s + a, c, n);
        memcpy(s + a + n, suffix, b + 1);
        return s;
}

/* ---- conformance ----------------------------------------------------------------------------- */

static const struct {
        const char *text;
        size_t len;
        size_t n_rules;
} valid[] = {
        { T(""), 0 },
        { T("\n\n\n"), 0 },
        { T("# only comments\n   # indented\n\t\n#\n"), 0 },
        { T("admin group:root"), 1 },                                  /* no final newline */
        { T("admin\tuser:0   # trailing comment"), 1 },
        { T("load * opensnoop execsnoop\n"), 1 },
        { T("use user:nobody open* exec?noop\nshare group:nogroup *\n"), 2 },
        { T("load group:65534 a-b_c.d A9\n"), 1 },
        { T("  load   *   x   \t\n"), 1 },
        { T("# UTF-8 in comments: caf\xc3\xa9 \xe2\x9c\x93 \xf0\x9f\x98\x80\tand a tab\nadmin group:adm\n"), 1 },
        { T("load * x # comment with # inside\n"), 1 },
        { T("admin user:root\nadmin user:root\n"), 2 },                /* duplicates are harmless */
        { T("share user:daemon * ? *?*\n"), 1 },
        { T("use group:0 x\nuse user:4294967294 y\n"), 2 },
        { T("load * x\n\n\n# done\n"), 1 },
};

START_TEST(conformance_corpus) {
        for (size_t i = 0; i < ELEMENTSOF(valid); i++) {
                struct policy *p = parse_ok(valid[i].text, valid[i].len);
                ck_assert_msg(policy_n_rules(p) == valid[i].n_rules, "case %zu: %zu rules", i,
                              policy_n_rules(p));
                policy_free(p);
        }
}
END_TEST

START_TEST(null_and_empty_text) {
        struct policy *p = NULL;

        ck_assert_int_eq(policy_parse(NULL, 0, NULL, &p, NULL), 0);
        ck_assert_uint_eq(policy_n_rules(p), 0);
        policy_free(p);
        ck_assert_int_eq(policy_parse(NULL, 5, NULL, &p, NULL), -EINVAL);
        ck_assert_uint_eq(policy_n_rules(NULL), 0);
        ck_assert_ptr_null(policy_free(NULL));
}
END_TEST

START_TEST(lines_at_the_limits) {
        /* 1024 bytes: a comment, a rule of 509 patterns; then 4096 rules with comments between */
        char *comment = repeat('c', POLICY_LINE_MAX - 1, "#", "");
        char *rule = repeat(' ', POLICY_LINE_MAX - 6, "load *", "");
        size_t cap = (size_t) POLICY_RULES_MAX * 16, len = 0;
        char *many = malloc(cap);
        struct policy *p;

        ck_assert_ptr_nonnull(many);
        for (size_t i = 7; i < POLICY_LINE_MAX; i += 2)
                rule[i] = 'b';
        ck_assert_uint_eq(strlen(comment), POLICY_LINE_MAX);
        ck_assert_uint_eq(strlen(rule), POLICY_LINE_MAX);
        p = parse_ok(comment, strlen(comment));
        ck_assert_uint_eq(policy_n_rules(p), 0);
        policy_free(p);
        p = parse_ok(rule, strlen(rule));
        ck_assert_uint_eq(policy_n_rules(p), 1);
        policy_free(p);
        for (size_t i = 0; i < POLICY_RULES_MAX; i++)
                len += (size_t) snprintf(many + len, cap - len, i % 1000 ? "load * x\n" : "#\nload * x\n");
        p = parse_ok(many, len);
        ck_assert_uint_eq(policy_n_rules(p), POLICY_RULES_MAX);
        policy_free(p);
        free(comment);
        free(rule);
        free(many);
}
END_TEST

START_TEST(pattern_too_long) {
        char *ok = repeat('a', POLICY_PATTERN_MAX, "load * ", "\n");
        char *bad = repeat('a', POLICY_PATTERN_MAX + 1, "# x\nload * ", "\n");
        struct policy *p = parse_ok(ok, strlen(ok));

        policy_free(p);
        check_error(bad, strlen(bad), -EINVAL,
                    "policy.conf:2: catalog entry pattern 'aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
                    "aaaaaaaaaaaaaaaa...' is longer than 128 characters");
        free(ok);
        free(bad);
}
END_TEST

START_TEST(name_too_long) {
        char *bad = repeat('a', 256, "use user:", " x\n");

        check_error(bad, strlen(bad), -EINVAL,
                    "policy.conf:1: invalid user name 'aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
                    "aaaaaaaaaaaaaaaa...'");
        free(bad);
}
END_TEST

/* ---- malformed input ------------------------------------------------------------------------- */

static const struct {
        const char *text;
        size_t len;
        const char *error;
} invalid[] = {
        /* verbs and fields */
        { T("admin group:root\nlod group:root x\n"),
          "policy.conf:2: unknown verb 'lod' (expected admin, load, share or use)" },
        { T("# x\nLOAD * x\n"), "policy.conf:2: unknown verb 'LOAD' (expected admin, load, share or use)" },
        { T("load\n"), "policy.conf:1: missing subject after 'load'" },
        { T("\n\nadmin   # nobody\n"), "policy.conf:3: missing subject after 'admin'" },
        { T("# c\n\nload group:root\n"), "policy.conf:3: missing catalog entry pattern after 'group:root'" },
        { T("use *"), "policy.conf:1: missing catalog entry pattern after '*'" },
        { T("share user:0 # x y\n"), "policy.conf:1: missing catalog entry pattern after 'user:0'" },
        { T("admin user:root extra\n"),
          "policy.conf:1: unexpected 'extra' after the subject (admin takes no catalog entries)" },
        { T("admin *\n"), "policy.conf:1: 'admin *' would make everyone who can reach the socket an admin; "
                          "name users or groups" },
        /* subjects */
        { T("use uid:0 x\n"), "policy.conf:1: unknown subject 'uid:0' (expected user:NAME, user:UID, "
                              "group:NAME, group:GID or *)" },
        { T("use user x\n"), "policy.conf:1: unknown subject 'user' (expected user:NAME, user:UID, "
                             "group:NAME, group:GID or *)" },
        { T("use ** x\n"), "policy.conf:1: unknown subject '**' (expected user:NAME, user:UID, "
                           "group:NAME, group:GID or *)" },
        { T("use *#x y\n"), "policy.conf:1: unknown subject '*#x' (expected user:NAME, user:UID, "
                            "group:NAME, group:GID or *)" },
        { T("use user: x\n"), "policy.conf:1: missing user name after 'user:'" },
        { T("use group: x\n"), "policy.conf:1: missing group name after 'group:'" },
        { T("use user:-rf x\n"), "policy.conf:1: invalid user name '-rf'" },
        { T("use group:a/b x\n"), "policy.conf:1: invalid group name 'a/b'" },
        { T("use group:.. x\n"), "policy.conf:1: invalid group name '..'" },
        { T("use user:$ x\n"), "policy.conf:1: invalid user name '$'" },
        { T("admin user:root#x\n"), "policy.conf:1: invalid user name 'root#x'" },
        { T("use user:4294967295 x\n"), "policy.conf:1: invalid user id '4294967295' (at most 4294967294)" },
        { T("use group:99999999999999999999999 x\n"),
          "policy.conf:1: invalid group id '99999999999999999999999' (at most 4294967294)" },
        { T("\n\n\n\n\n\nload group:fexitd-no-such-group opensnoop\n"),
          "policy.conf:7: unknown group 'fexitd-no-such-group'" },
        { T("use user:fexitd-no-such-user x\n"), "policy.conf:1: unknown user 'fexitd-no-such-user'" },
        /* patterns */
        { T("load * open[snoop]\n"), "policy.conf:1: invalid catalog entry pattern 'open[snoop]' (allowed: "
                                     "letters, digits, '_', '.', '-' and the wildcards '*', '?')" },
        { T("load * ok a/b\n"), "policy.conf:1: invalid catalog entry pattern 'a/b' (allowed: "
                                "letters, digits, '_', '.', '-' and the wildcards '*', '?')" },
        { T("load * foo#bar\n"), "policy.conf:1: invalid catalog entry pattern 'foo#bar' (allowed: "
                                 "letters, digits, '_', '.', '-' and the wildcards '*', '?')" },
        { T("load * \\*\n"), "policy.conf:1: invalid catalog entry pattern '\\*' (allowed: "
                             "letters, digits, '_', '.', '-' and the wildcards '*', '?')" },
        /* characters */
        { T("load * a\x07" "b\n"), "policy.conf:1: control character 0x07 at column 9" },
        { T("admin user:root\nload * a\0b\n"), "policy.conf:2: control character 0x00 at column 9" },
        { T("admin user:root\r\n"), "policy.conf:1: carriage return at column 16 (use Unix line endings)" },
        { T("load * ab\x7f\n"), "policy.conf:1: control character 0x7f at column 10" },
        { T("\xef\xbb\xbf" "admin user:root\n"), "policy.conf:1: non-ASCII character at column 1 outside a comment" },
        { T("admin user:r\xc3\xa9mi\n"), "policy.conf:1: non-ASCII character at column 13 outside a comment" },
        { T("load * \xd0\xb0\n"), "policy.conf:1: non-ASCII character at column 8 outside a comment" },
        { T("\x0c\n"), "policy.conf:1: control character 0x0c at column 1" },
        { T("\v"), "policy.conf:1: control character 0x0b at column 1" },
        /* comments: UTF-8, strictly */
        { T("# \xff\n"), "policy.conf:1: invalid UTF-8 at column 3" },
        { T("#\xc0\xaf\n"), "policy.conf:1: invalid UTF-8 at column 2" },                 /* overlong '/' */
        { T("# ab\xe0\x80\xaf\n"), "policy.conf:1: invalid UTF-8 at column 5" },          /* overlong */
        { T("# \xed\xa0\x80\n"), "policy.conf:1: invalid UTF-8 at column 3" },            /* surrogate */
        { T("# \xf4\x90\x80\x80\n"), "policy.conf:1: invalid UTF-8 at column 3" },        /* > U+10FFFF */
        { T("# \xf8\x88\x80\x80\x80\n"), "policy.conf:1: invalid UTF-8 at column 3" },    /* 5 bytes */
        { T("# \xe2\x82\n"), "policy.conf:1: invalid UTF-8 at column 3" },                /* cut by \n */
        { T("# \xe2\x82"), "policy.conf:1: invalid UTF-8 at column 3" },                  /* cut by EOF */
        { T("# \x80\n"), "policy.conf:1: invalid UTF-8 at column 3" },                    /* lone trail */
        { T("# ok \xc3(\n"), "policy.conf:1: invalid UTF-8 at column 6" },                 /* no trail */
        { T("# a\x01\n"), "policy.conf:1: control character 0x01 at column 4" },
        { T("load * x # \r\n"), "policy.conf:1: control character 0x0d at column 12" },
        { T("# \xe2\x80\xae evil\n"), "policy.conf:1: character U+202E at column 3 is not allowed "
                                      "(control or bidirectional formatting)" },
        { T("# \xe2\x81\xa6\n"), "policy.conf:1: character U+2066 at column 3 is not allowed "
                                 "(control or bidirectional formatting)" },
        { T("# \xc2\x85\n"), "policy.conf:1: character U+0085 at column 3 is not allowed "
                             "(control or bidirectional formatting)" },
        { T("# \xe2\x80\xa8\n"), "policy.conf:1: character U+2028 at column 3 is not allowed "
                                 "(control or bidirectional formatting)" },
        /* the first error wins; later lines are not read */
        { T("bogus\nadmin *\n"), "policy.conf:1: unknown verb 'bogus' (expected admin, load, share or use)" },
        /* long tokens are cut in messages */
        { T("loooooooooooooooooooooooooooooooooooooooooooooooooooooooooooooooooooooooooooooad * x\n"),
          "policy.conf:1: unknown verb 'l" "ooooooooooooooooooooooooooooooooooooooooooooooooooooooooooooooo...' "
          "(expected admin, load, share or use)" },
        /* crashes found by tests/fuzz/fuzz-policy go here (none in 7.4 million runs so far) */
};

START_TEST(malformed_corpus) {
        for (size_t i = 0; i < ELEMENTSOF(invalid); i++) {
                struct policy *p = NULL;
                char *error = NULL;
                int r = policy_parse(invalid[i].text, invalid[i].len, "policy.conf", &p, &error);

                ck_assert_msg(r == -EINVAL, "case %zu: r=%d", i, r);
                ck_assert_msg(error && strcmp(error, invalid[i].error) == 0, "case %zu:\n got  %s\n want %s",
                              i, error ? error : "(null)", invalid[i].error);
                ck_assert_ptr_null(p);
                free(error);
        }
}
END_TEST

START_TEST(line_too_long) {
        char *s = repeat('x', POLICY_LINE_MAX, "# fine\n#", "\nload * x\n");

        check_error(s, strlen(s), -EINVAL, "policy.conf:2: line too long (more than 1024 bytes)");
        free(s);
        s = repeat(' ', POLICY_LINE_MAX + 1, "", "");   /* even blanks */
        check_error(s, strlen(s), -EINVAL, "policy.conf:1: line too long (more than 1024 bytes)");
        free(s);
}
END_TEST

START_TEST(too_many_rules) {
        size_t cap = (size_t) (POLICY_RULES_MAX + 2) * 16, len = 0;
        char *s = malloc(cap);

        ck_assert_ptr_nonnull(s);
        len += (size_t) snprintf(s, cap, "# header\n\n");
        for (size_t i = 0; i < POLICY_RULES_MAX + 1; i++)
                len += (size_t) snprintf(s + len, cap - len, "load * x%zu\n", i);
        check_error(s, len, -EINVAL, "policy.conf:4099: more than 4096 rules");
        free(s);
}
END_TEST

START_TEST(filename_in_messages) {
        struct policy *p = NULL;
        char *error = NULL;

        ck_assert_int_eq(policy_parse(T("x"), "/etc/fexitd/policy.conf", &p, &error), -EINVAL);
        ck_assert_str_eq(error, "/etc/fexitd/policy.conf:1: unknown verb 'x' (expected admin, load, share or use)");
        free(error);
        error = NULL;
        ck_assert_int_eq(policy_parse(T("x"), NULL, &p, &error), -EINVAL);
        ck_assert_str_eq(error, "policy.conf:1: unknown verb 'x' (expected admin, load, share or use)");
        free(error);
        /* no message wanted */
        ck_assert_int_eq(policy_parse(T("x"), NULL, &p, NULL), -EINVAL);
        ck_assert_ptr_null(p);
        /* the message is untouched on success */
        error = (char *) "untouched";
        ck_assert_int_eq(policy_parse(T("admin user:root"), NULL, &p, &error), 0);
        ck_assert_str_eq(error, "untouched");
        policy_free(p);
}
END_TEST

/* ---- evaluation ------------------------------------------------------------------------------ */

START_TEST(null_policy_is_built_in_rules_only) {
        struct peer root = peer_of(0, 0, 0, NULL);
        struct peer nobody = peer_of(65534, 65534, 0, NULL);
        struct peer group_admin = peer_of(1000, 1000, 0, NULL);
        struct policy *empty = parse_ok(T(""));

        group_admin.role = ROLE_ADMIN;   /* as server.c sets it for --admin-group members */
        for (size_t i = 0; i < 2; i++) {
                struct policy *p = i ? empty : NULL;

                ck_assert(policy_is_admin(p, &root));
                ck_assert(policy_may_load(p, &root, "anything"));
                ck_assert(policy_may_use(p, &root, NULL));
                ck_assert(policy_may_share(p, &root, "programs.d/x.json"));
                ck_assert(!policy_is_admin(p, &nobody));
                ck_assert(!policy_may_load(p, &nobody, "opensnoop"));
                ck_assert(!policy_may_use(p, &nobody, "opensnoop"));
                ck_assert(!policy_may_share(p, &nobody, "opensnoop"));
                ck_assert(!policy_is_admin(p, &group_admin));   /* it computes the role, not reads it */
                ck_assert(policy_may_load(p, &group_admin, "opensnoop"));
                ck_assert(policy_may_use(p, &group_admin, NULL));
                ck_assert(policy_may_share(p, &group_admin, "x"));
        }
        /* root is admin by uid, even if the caller forgot to set the role */
        root.role = ROLE_CONSUMER;
        ck_assert(policy_may_load(NULL, &root, "x"));
        policy_free(empty);
}
END_TEST

START_TEST(admin_rules) {
        struct policy *p = parse_ok(T("admin user:nobody\nadmin group:adm\nadmin user:1\n"));
        gid_t adm = 4, other[] = { 100, 27 };
        struct peer nobody = peer_of(65534, 65534, 0, NULL);
        struct peer daemon_ = peer_of(1, 1, 0, NULL);
        struct peer primary = peer_of(1000, 4, 0, NULL);
        struct peer supplementary = peer_of(1000, 1000, 1, &adm);
        struct peer neither = peer_of(1000, 1000, 2, other);

        ck_assert(policy_is_admin(p, &nobody));
        ck_assert(policy_is_admin(p, &daemon_));           /* user:1 by number */
        ck_assert(policy_is_admin(p, &primary));
        ck_assert(policy_is_admin(p, &supplementary));
        ck_assert(!policy_is_admin(p, &neither));
        /* an admin rule makes the peer admin for the other questions too */
        ck_assert(policy_may_load(p, &supplementary, "whatever"));
        ck_assert(policy_may_use(p, &nobody, NULL));
        ck_assert(!policy_may_load(p, &neither, "whatever"));
        policy_free(p);
}
END_TEST

START_TEST(load_rules_match_users_and_groups) {
        struct policy *p = parse_ok(T("load group:nogroup opensnoop\n"
                                      "load user:daemon execsnoop\n"
                                      "load * pub-*\n"
                                      "load group:4 admsnoop\n"));
        gid_t sup[] = { 100, 65534 }, adm[] = { 4 };
        struct peer in_nogroup = peer_of(1000, 1000, 2, sup);
        struct peer primary_nogroup = peer_of(1001, 65534, 0, NULL);
        struct peer daemon_ = peer_of(1, 1, 0, NULL);
        struct peer stranger = peer_of(2000, 2000, 0, NULL);
        struct peer in_adm = peer_of(2001, 2001, 1, adm);

        ck_assert(policy_may_load(p, &in_nogroup, "opensnoop"));
        ck_assert(policy_may_load(p, &primary_nogroup, "opensnoop"));
        ck_assert(!policy_may_load(p, &in_nogroup, "execsnoop"));
        ck_assert(policy_may_load(p, &daemon_, "execsnoop"));
        ck_assert(!policy_may_load(p, &daemon_, "opensnoop"));
        ck_assert(policy_may_load(p, &stranger, "pub-x"));
        ck_assert(policy_may_load(p, &stranger, "pub-"));
        ck_assert(!policy_may_load(p, &stranger, "pub"));
        ck_assert(!policy_may_load(p, &stranger, "opensnoop"));
        ck_assert(policy_may_load(p, &in_adm, "admsnoop"));
        ck_assert(!policy_is_admin(p, &in_adm));
        /* load rules say nothing about handles */
        ck_assert(!policy_may_use(p, &in_nogroup, "opensnoop"));
        ck_assert(!policy_may_share(p, &in_nogroup, "opensnoop"));
        policy_free(p);
}
END_TEST

START_TEST(only_the_groups_the_kernel_reported) {
        /* n_groups beyond the array (a caller's bug) is clamped, never read past */
        struct policy *p = parse_ok(T("load group:nogroup x\n"));
        struct peer q = peer_of(1000, 1000, 0, NULL);

        q.n_groups = PEER_GROUPS_MAX + 100;
        q.groups[PEER_GROUPS_MAX - 1] = 65534;
        ck_assert(policy_may_load(p, &q, "x"));
        q.groups[PEER_GROUPS_MAX - 1] = 1;
        ck_assert(!policy_may_load(p, &q, "x"));
        q.n_groups = 0;
        q.groups[0] = 65534;   /* beyond n_groups: not a group of the peer */
        ck_assert(!policy_may_load(p, &q, "x"));
        policy_free(p);
}
END_TEST

static const struct {
        const char *pattern, *name;
        bool match;
} globs[] = {
        { "opensnoop", "opensnoop", true },
        { "opensnoop", "opensnoop2", false },
        { "opensnoop", "xopensnoop", false },
        { "open", "opensnoop", false },
        { "Opensnoop", "opensnoop", false },      /* case matters */
        { "open*", "open", true },                /* '*' matches nothing too */
        { "open*", "opensnoop", true },
        { "*snoop", "execsnoop", true },
        { "*snoop", "snoopy", false },
        { "exec?noop", "execsnoop", true },
        { "exec?noop", "execnoop", false },
        { "exec?noop", "execssnoop", false },
        { "?", "a", true },
        { "?", "ab", false },
        { "*", "anything-at.all_9", true },
        { "a*b*c", "abc", true },
        { "a*b*c", "a-b-c", true },
        { "a*b*c", "a-c-b", false },
        { "a*b*c", "abcabd", false },
        { "*a*", "bab", true },
        { "**", "x", true },
        { "*?", "", false },                      /* (never asked: empty names are refused) */
        { "*.v2", "open.v2", true },
        { "*.v2", "openv2", false },
        { "v1.*", "v1.x", true },
        { "*-*-*", "a-b-c", true },
        { "*-*-*", "a-bc", false },
};

START_TEST(glob_matching) {
        struct peer q = peer_of(1000, 1000, 0, NULL);

        for (size_t i = 0; i < ELEMENTSOF(globs); i++) {
                char text[256];
                struct policy *p;

                snprintf(text, sizeof(text), "use * %s\n", globs[i].pattern);
                p = parse_ok(text, strlen(text));
                ck_assert_msg(policy_may_use(p, &q, globs[i].name) == globs[i].match,
                              "'%s' against '%s'", globs[i].pattern, globs[i].name);
                ck_assert(policy_may_load(p, &q, globs[i].name) == false);
                policy_free(p);
        }
}
END_TEST

START_TEST(glob_cost_is_bounded) {
        /* backtracking to every star would take forever here; this matcher needs ~128 * 128 steps */
        char *name = repeat('a', POLICY_PATTERN_MAX, "", "");
        char text[POLICY_LINE_MAX];
        struct peer q = peer_of(1000, 1000, 0, NULL);
        struct policy *p;

        snprintf(text, sizeof(text), "use * %s\n",
                 "*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*b");
        p = parse_ok(text, strlen(text));
        for (size_t i = 0; i < 1000; i++)
                ck_assert(!policy_may_use(p, &q, name));
        policy_free(p);
        free(name);
}
END_TEST

START_TEST(entry_names_consumers_may_ask_for) {
        struct policy *p = parse_ok(T("load * *\nuse * *\n"));
        struct peer q = peer_of(1000, 1000, 0, NULL), root = peer_of(0, 0, 0, NULL);
        char *longest = repeat('a', POLICY_PATTERN_MAX, "", "");
        char *too_long = repeat('a', POLICY_PATTERN_MAX + 1, "", "");

        ck_assert(policy_may_load(p, &q, "opensnoop"));
        ck_assert(policy_may_load(p, &q, "a.b-c_D9"));
        ck_assert(policy_may_load(p, &q, longest));
        ck_assert(!policy_may_load(p, &q, too_long));
        ck_assert(!policy_may_load(p, &q, ""));
        ck_assert(!policy_may_load(p, &q, NULL));
        ck_assert(!policy_may_load(p, &q, ".hidden"));
        ck_assert(!policy_may_load(p, &q, ".."));
        ck_assert(!policy_may_load(p, &q, "../../etc/x"));
        ck_assert(!policy_may_load(p, &q, "a/b"));
        ck_assert(!policy_may_load(p, &q, "a b"));
        ck_assert(!policy_may_load(p, &q, "a*"));           /* a name, not a pattern */
        ck_assert(!policy_may_load(p, &q, "caf\xc3\xa9"));
        /* handles loaded by programs.d or from a client's object never match a rule */
        ck_assert(!policy_may_use(p, &q, "programs.d/opensnoop.json"));
        ck_assert(!policy_may_share(p, &q, "programs.d/opensnoop.json"));
        ck_assert(!policy_may_use(p, &q, NULL));
        ck_assert(!policy_may_share(p, &q, NULL));
        /* admins are not held to the names */
        ck_assert(policy_may_load(p, &root, "a b"));
        ck_assert(policy_may_use(p, &root, "programs.d/opensnoop.json"));
        policy_free(p);
        free(longest);
        free(too_long);
}
END_TEST

START_TEST(use_and_share) {
        struct policy *p = parse_ok(T("use user:nobody rw-*\nshare user:nobody ro-*\nshare group:adm stats\n"));
        gid_t adm = 4;
        struct peer nobody = peer_of(65534, 65534, 0, NULL);
        struct peer in_adm = peer_of(1000, 1000, 1, &adm);

        ck_assert(policy_may_use(p, &nobody, "rw-x"));
        ck_assert(policy_may_share(p, &nobody, "rw-x"));          /* use includes share */
        ck_assert(!policy_may_use(p, &nobody, "ro-x"));
        ck_assert(policy_may_share(p, &nobody, "ro-x"));
        ck_assert(!policy_may_share(p, &nobody, "stats"));
        ck_assert(policy_may_share(p, &in_adm, "stats"));
        ck_assert(!policy_may_use(p, &in_adm, "stats"));
        ck_assert(!policy_may_load(p, &nobody, "rw-x"));         /* nor does use include load */
        policy_free(p);
}
END_TEST

/* ---- the file -------------------------------------------------------------------------------- */

static char tmpdir[] = "/tmp/test-policy-XXXXXX";

static char *write_file(const char *name, const char *text, size_t len, mode_t mode) {
        char *path;
        int fd;

        ck_assert_int_ge(asprintf(&path, "%s/%s", tmpdir, name), 0);
        fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
        ck_assert_int_ge(fd, 0);
        ck_assert_int_eq(write(fd, text, len), (ssize_t) len);
        ck_assert_int_eq(fchmod(fd, mode), 0);
        close(fd);
        return path;
}

static void check_file_error(const char *path, int expected_r, const char *what) {
        struct policy *sentinel = (struct policy *) &sentinel, *p = sentinel;
        char *error = NULL, *expected;

        ck_assert_int_eq(policy_load_file(path, &p, &error), expected_r);
        ck_assert_ptr_eq(p, sentinel);
        ck_assert_int_ge(asprintf(&expected, "%s%s", path, what), 0);
        ck_assert_str_eq(error, expected);
        free(expected);
        free(error);
}

static void setup_tmpdir(void) {
        strcpy(tmpdir, "/tmp/test-policy-XXXXXX");
        ck_assert_ptr_nonnull(mkdtemp(tmpdir));
}

static void teardown_tmpdir(void) {
        char cmd[64];

        snprintf(cmd, sizeof(cmd), "rm -rf '%s'", tmpdir);
        (void) !system(cmd);
}

START_TEST(file_missing_is_empty) {
        struct policy *p = NULL;
        char *path, *error = NULL;

        ck_assert_int_ge(asprintf(&path, "%s/none.conf", tmpdir), 0);
        ck_assert_int_eq(policy_load_file(path, &p, &error), 0);
        ck_assert_ptr_nonnull(p);
        ck_assert_ptr_null(error);
        ck_assert_uint_eq(policy_n_rules(p), 0);
        policy_free(p);
        free(path);
}
END_TEST

START_TEST(file_loaded) {
        char *path = write_file("policy.conf", T("admin group:adm\nload * opensnoop\n"), 0644);
        struct policy *p = NULL;

        ck_assert_int_eq(policy_load_file(path, &p, NULL), 1);
        ck_assert_uint_eq(policy_n_rules(p), 2);
        policy_free(p);
        free(path);
        path = write_file("readonly.conf", T("load * x\n"), 0400);
        ck_assert_int_eq(policy_load_file(path, &p, NULL), 1);
        policy_free(p);
        free(path);
}
END_TEST

START_TEST(file_errors) {
        char *path = write_file("bad.conf", T("admin group:adm\nlod * x\n"), 0644), *dir, *fifo;

        check_file_error(path, -EINVAL, ":2: unknown verb 'lod' (expected admin, load, share or use)");
        ck_assert_int_eq(chmod(path, 0664), 0);
        check_file_error(path, -EPERM, ": writable by group or others (mode 0664); refusing to trust it");
        ck_assert_int_eq(chmod(path, 0646), 0);
        check_file_error(path, -EPERM, ": writable by group or others (mode 0646); refusing to trust it");
        ck_assert_int_eq(chmod(path, 0644), 0);
        if (geteuid() == 0) {
                ck_assert_int_eq(chown(path, 65534, 0), 0);
                check_file_error(path, -EPERM, ": owned by uid 65534, not by root; refusing to trust it");
        }
        ck_assert_int_ge(asprintf(&dir, "%s/dir.conf", tmpdir), 0);
        ck_assert_int_eq(mkdir(dir, 0755), 0);
        check_file_error(dir, -EINVAL, ": not a regular file");
        ck_assert_int_ge(asprintf(&fifo, "%s/fifo.conf", tmpdir), 0);
        ck_assert_int_eq(mkfifo(fifo, 0644), 0);
        check_file_error(fifo, -EINVAL, ": not a regular file");   /* and no hang on open */
        free(dir);
        ck_assert_int_ge(asprintf(&dir, "%s/x", path), 0);           /* a file as a folder */
        check_file_error(dir, -ENOTDIR, ": cannot open: Not a directory");
        ck_assert_int_eq(policy_load_file(fifo, &(struct policy *) { NULL }, NULL), -EINVAL);
        free(path);
        free(dir);
        free(fifo);
}
END_TEST

START_TEST(file_too_large) {
        size_t n = POLICY_FILE_MAX + 1;
        char *text = malloc(n), *path;

        ck_assert_ptr_nonnull(text);
        for (size_t i = 0; i < n; i++)
                text[i] = i % 64 == 63 ? '\n' : i % 64 == 0 ? '#' : 'c';
        path = write_file("large.conf", text, n, 0644);
        check_file_error(path, -EFBIG, ": larger than 4194304 bytes");
        free(path);
        path = write_file("limit.conf", text, n - 1, 0644);
        struct policy *p = NULL;
        ck_assert_int_eq(policy_load_file(path, &p, NULL), 1);
        policy_free(p);
        free(path);
        free(text);
}
END_TEST

Suite *test_suite(void) {
        Suite *s = suite_create("policy");
        TCase *parse = tcase_create("parse"), *eval = tcase_create("evaluate"), *file = tcase_create("file");

        tcase_add_test(parse, conformance_corpus);
        tcase_add_test(parse, null_and_empty_text);
        tcase_add_test(parse, lines_at_the_limits);
        tcase_add_test(parse, malformed_corpus);
        tcase_add_test(parse, line_too_long);
        tcase_add_test(parse, pattern_too_long);
        tcase_add_test(parse, name_too_long);
        tcase_add_test(parse, too_many_rules);
        tcase_add_test(parse, filename_in_messages);
        tcase_add_test(eval, null_policy_is_built_in_rules_only);
        tcase_add_test(eval, admin_rules);
        tcase_add_test(eval, load_rules_match_users_and_groups);
        tcase_add_test(eval, only_the_groups_the_kernel_reported);
        tcase_add_test(eval, glob_matching);
        tcase_add_test(eval, glob_cost_is_bounded);
        tcase_add_test(eval, entry_names_consumers_may_ask_for);
        tcase_add_test(eval, use_and_share);
        tcase_add_checked_fixture(file, setup_tmpdir, teardown_tmpdir);
        tcase_add_test(file, file_missing_is_empty);
        tcase_add_test(file, file_loaded);
        tcase_add_test(file, file_errors);
        tcase_add_test(file, file_too_large);
        suite_add_tcase(s, parse);
        suite_add_tcase(s, eval);
        suite_add_tcase(s, file);
        return s;
}
