/* SPDX-License-Identifier: MIT */
#include <check.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "check-main.h"
#include "common/parse-util.h"
#include "daemon/handles.h"

START_TEST(ids_increase_and_are_never_reused) {
        struct handle_table t;
        struct handle *h[5];

        handle_table_init(&t);
        for (size_t i = 0; i < 5; i++) {
                h[i] = handle_new(HANDLE_PROGRAM, "p");
                ck_assert_int_eq(handle_table_add(&t, h[i]), 0);
                ck_assert_uint_eq(h[i]->id, i + 1);
        }
        handle_free(handle_table_remove(&t, 5));
        handle_free(handle_table_remove(&t, 2));
        struct handle *n = handle_new(HANDLE_LINK, "l");
        ck_assert_int_eq(handle_table_add(&t, n), 0);
        ck_assert_uint_eq(n->id, 6);
        ck_assert_ptr_null(handle_table_get(&t, 2));
        ck_assert_ptr_null(handle_table_get(&t, 5));
        ck_assert_ptr_eq(handle_table_get(&t, 6), n);
        ck_assert_ptr_eq(handle_table_get(&t, 3), h[2]);
        ck_assert_ptr_null(handle_table_remove(&t, 2));
        ck_assert_uint_eq(t.n, 4);
        handle_table_done(&t);
}
END_TEST

START_TEST(multi_link_functions_are_copies) {
        char *names[] = { "bpf_fentry_test1", "bpf_fentry_test2", "bpf_fentry_test3" };
        uint32_t ids[] = { 101, 102, 103 };
        struct handle *h = handle_new(HANDLE_PROGRAM, "p");

        ck_assert(!h->multi);
        ck_assert_int_eq(handle_set_functions(h, names, ids, 3), 0);
        ids[1] = 0;                                  /* the handle keeps its own copies */
        ck_assert(h->multi);
        ck_assert_uint_eq(h->n_functions, 3);
        ck_assert_str_eq(h->functions[2], "bpf_fentry_test3");
        ck_assert_ptr_ne(h->functions[2], names[2]);
        ck_assert_uint_eq(h->btf_ids[1], 102);
        ck_assert_int_eq(handle_set_functions(h, names, ids, 1), 0);   /* replaces */
        ck_assert_uint_eq(h->n_functions, 1);
        handle_free(h);
}
END_TEST

/* A link that left functions out has the rest, in order; the target follows the first kept. */
START_TEST(multi_link_drops_left_out_functions) {
        char *names[] = { "f1", "f2", "f3", "f4", "f5" };
        uint32_t ids[] = { 11, 12, 13, 14, 15 };
        size_t drop[] = { 0, 2, 4 };
        struct handle *h = handle_new(HANDLE_LINK, "l");

        ck_assert_int_eq(handle_set_functions(h, names, ids, 5), 0);
        h->function = strdup("f1");
        h->btf_id = 11;
        handle_drop_functions(h, drop, 0);          /* nothing left out */
        ck_assert_uint_eq(h->n_functions, 5);
        handle_drop_functions(h, drop, 3);
        ck_assert_uint_eq(h->n_functions, 2);
        ck_assert_str_eq(h->functions[0], "f2");
        ck_assert_str_eq(h->functions[1], "f4");
        ck_assert_uint_eq(h->btf_ids[0], 12);
        ck_assert_uint_eq(h->btf_ids[1], 14);
        ck_assert_str_eq(h->function, "f2");
        ck_assert_uint_eq(h->btf_id, 12);
        ck_assert(h->multi);
        handle_free(h);
}
END_TEST

START_TEST(adopt_keeps_order_and_counter) {
        struct handle_table t;
        uint64_t ids[] = { 40, 7, 19, 3 };
        struct handle *h;

        handle_table_init(&t);
        for (size_t i = 0; i < 4; i++) {
                h = handle_new(HANDLE_MAP, "m");
                h->id = ids[i];
                ck_assert_int_eq(handle_table_adopt(&t, h), 0);
        }
        h = handle_new(HANDLE_MAP, "dup");
        h->id = 19;
        ck_assert_int_eq(handle_table_adopt(&t, h), -EEXIST);
        h->id = 0;
        ck_assert_int_eq(handle_table_adopt(&t, h), -EINVAL);
        handle_free(h);
        for (size_t i = 1; i < t.n; i++)
                ck_assert_uint_lt(t.v[i - 1]->id, t.v[i]->id);
        ck_assert_uint_eq(t.next_id, 41);
        h = handle_new(HANDLE_PROGRAM, "p");
        ck_assert_int_eq(handle_table_add(&t, h), 0);
        ck_assert_uint_eq(h->id, 41);
        ck_assert_uint_eq(handle_table_count(&t, HANDLE_MAP), 4);
        ck_assert_uint_eq(handle_table_count(&t, HANDLE_PROGRAM), 1);
        handle_table_done(&t);
}
END_TEST

START_TEST(handed_off_links_are_not_counted) {
        struct handle_table t;
        struct handle *h = handle_new(HANDLE_LINK, "l");

        handle_table_init(&t);
        ck_assert_int_eq(handle_table_add(&t, h), 0);
        ck_assert_uint_eq(handle_table_count(&t, HANDLE_LINK), 1);
        h->state = HSTATE_HANDED_OFF;
        ck_assert_uint_eq(handle_table_count(&t, HANDLE_LINK), 0);
        handle_table_done(&t);
}
END_TEST

START_TEST(many_handles) {
        struct handle_table t;

        handle_table_init(&t);
        for (int i = 0; i < 5000; i++)
                ck_assert_int_eq(handle_table_add(&t, handle_new(HANDLE_LINK, "l")), 0);
        for (uint64_t id = 2; id <= 5000; id += 2)
                handle_free(handle_table_remove(&t, id));
        ck_assert_uint_eq(t.n, 2500);
        for (uint64_t id = 1; id <= 5000; id++)
                ck_assert((handle_table_get(&t, id) != NULL) == (id % 2 == 1));
        handle_table_done(&t);
}
END_TEST

START_TEST(strings) {
        ck_assert_str_eq(handle_kind_to_string(HANDLE_MAP), "map");
        ck_assert_str_eq(handle_kind_to_string(99), "unknown");
        ck_assert_int_eq(handle_lifetime_from_string("persistent"), LIFETIME_PERSISTENT);
        ck_assert_int_eq(handle_lifetime_from_string("connection"), LIFETIME_CONNECTION);
        ck_assert_int_eq(handle_lifetime_from_string("Persistent"), -EINVAL);
        ck_assert_str_eq(handle_state_to_string(HSTATE_HANDED_OFF), "handed-off");
}
END_TEST

START_TEST(grants) {
        struct grant g;
        char buf[64];

        ck_assert_int_eq(grant_parse("user:0", &g), 0);
        ck_assert(!g.group);
        ck_assert_uint_eq(g.id, 0);
        ck_assert_int_eq(grant_parse("user:root", &g), 0);
        ck_assert_uint_eq(g.id, 0);
        ck_assert_int_eq(grant_parse("group:1234", &g), 0);
        ck_assert(g.group);
        ck_assert_uint_eq(g.id, 1234);
        ck_assert_str_eq(grant_format(&g, buf, sizeof(buf)), "group:1234");
        ck_assert_int_eq(grant_parse("group:no-such-group-here", &g), -ESRCH);
        ck_assert_int_eq(grant_parse("uid:5", &g), -EINVAL);
        ck_assert_int_eq(grant_parse("user:", &g), -ESRCH);
        ck_assert_int_eq(grant_parse("user:4294967295", &g), -ESRCH);
}
END_TEST

/* The one parser of numeric uids and gids, for grants and policy.conf alike. */
START_TEST(uids) {
        uint32_t id = 42;

        ck_assert_int_eq(parse_uid("0", &id), 0);
        ck_assert_uint_eq(id, 0);
        ck_assert_int_eq(parse_uid("007", &id), 0);
        ck_assert_uint_eq(id, 7);
        ck_assert_int_eq(parse_uid("4294967294", &id), 0);
        ck_assert_uint_eq(id, 4294967294u);
        ck_assert_int_eq(parse_uid("4294967295", &id), -ERANGE);
        ck_assert_int_eq(parse_uid("99999999999999999999999", &id), -ERANGE);
        ck_assert_int_eq(parse_uid("", &id), -EINVAL);
        ck_assert_int_eq(parse_uid("+5", &id), -EINVAL);
        ck_assert_int_eq(parse_uid(" 5", &id), -EINVAL);
        ck_assert_int_eq(parse_uid("5x", &id), -EINVAL);
        ck_assert_int_eq(parse_uid("-1", &id), -EINVAL);
        ck_assert_uint_eq(id, 4294967294u);   /* untouched on failure */
}
END_TEST

Suite *test_suite(void) {
        Suite *s = suite_create("handles");
        TCase *tc = tcase_create("table");

        tcase_add_test(tc, ids_increase_and_are_never_reused);
        tcase_add_test(tc, adopt_keeps_order_and_counter);
        tcase_add_test(tc, multi_link_functions_are_copies);
        tcase_add_test(tc, multi_link_drops_left_out_functions);
        tcase_add_test(tc, handed_off_links_are_not_counted);
        tcase_add_test(tc, many_handles);
        tcase_add_test(tc, strings);
        tcase_add_test(tc, grants);
        tcase_add_test(tc, uids);
        suite_add_tcase(s, tc);
        return s;
}
