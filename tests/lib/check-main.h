/* SPDX-License-Identifier: MIT */
#pragma once

/* The one main() of the Check suites (tests/lib/check-main.c): a test program defines
 * test_suite() and links fexitd_check_main; main() runs the suite and exits 0 when every test
 * passed, 1 otherwise. The print mode is Check's CK_VERBOSITY (silent, minimal, normal, verbose;
 * normal when unset). */

#include <check.h>

/* The suite of this test program. One that cannot apply here calls test_skip() instead. */
Suite *test_suite(void);

/* Prints why on stdout and exits 77, CTest's "skipped" (docs/testing.md: a test that cannot
 * apply says so and never passes). */
_Noreturn void test_skip(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
