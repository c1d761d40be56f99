/* SPDX-License-Identifier: MIT */

/* The pure part of persistence: which pin names are the daemon's (daemon/state.c). The rest of
 * state.c needs a bpffs and a daemon: tests/integration/test-daemon-persist.c. */

#include <check.h>
#include <errno.h>
#include <stdlib.h>

#include "check-main.h"
#include "daemon/state.h"

START_TEST(pin_names_of_each_kind) {
        enum handle_kind kind;
        uint64_t id;

        ck_assert_int_eq(state_pin_name_parse("prog-1", &kind, &id), 0);
        ck_assert_int_eq(kind, HANDLE_PROGRAM);
        ck_assert_uint_eq(id, 1);
        ck_assert_int_eq(state_pin_name_parse("link-42", &kind, &id), 0);
        ck_assert_int_eq(kind, HANDLE_LINK);
        ck_assert_uint_eq(id, 42);
        ck_assert_int_eq(state_pin_name_parse("map-9007199254740992", &kind, &id), 0);
        ck_assert_int_eq(kind, HANDLE_MAP);
        ck_assert_uint_eq(id, STATE_HANDLE_MAX);
}
END_TEST

/* Anything else is not one of ours and is never adopted; outputs stay untouched. */
START_TEST(other_names_are_refused) {
        static const char *const bad[] = {
                "prog-0", "prog-03", "prog-+3", "prog--3", "prog- 3", "prog-3x", "prog-", "prog",
                "prog3", "program-3", "maps.debug", "fexitd-ro-1-2-3-4", "",
                "map-9007199254740993", "map-18446744073709551617", "link-99999999999999999999",
        };
        enum handle_kind kind = _HANDLE_KIND_MAX;
        uint64_t id = 77;

        for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
                ck_assert_msg(state_pin_name_parse(bad[i], &kind, &id) < 0, "accepted \"%s\"", bad[i]);
                ck_assert_int_eq(kind, _HANDLE_KIND_MAX);
                ck_assert_uint_eq(id, 77);
        }
}
END_TEST

Suite *test_suite(void) {
        Suite *s = suite_create("state");
        TCase *tc = tcase_create("pin-names");

        tcase_add_test(tc, pin_names_of_each_kind);
        tcase_add_test(tc, other_names_are_refused);
        suite_add_tcase(s, tc);
        return s;
}
