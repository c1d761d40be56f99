/* SPDX-License-Identifier: MIT */
/* The multi-link parts of the backend that need no kernel: section names and the uapi values as a
 * kernel's BTF numbers them. */
#include <check.h>
#include <errno.h>
#include <stdlib.h>

#include <bpf/btf.h>

#include "check-main.h"
#include "daemon/bpf-multi.h"

START_TEST(section_names) {
        bool s = true;

        ck_assert(bb_multi_section("fexit.multi/bpf_fentry_test*", &s) && !s);
        ck_assert(bb_multi_section("fexit.multi", &s) && !s);
        s = false;
        ck_assert(bb_multi_section("fexit.multi.s/bpf_fentry_test1", &s) && s);
        s = false;
        ck_assert(bb_multi_section("fexit.multi.s", &s) && s);
        ck_assert(!bb_multi_section("fexit/vfs_read", &s));
        ck_assert(!bb_multi_section("fexit.s/vfs_read", &s));
        ck_assert(!bb_multi_section("fexit.multix/vfs_read", &s));
        ck_assert(!bb_multi_section("fexit.multi.sx", &s));
        ck_assert(!bb_multi_section("fentry.multi/vfs_read", &s));
        ck_assert(!bb_multi_section(NULL, &s));
}
END_TEST

/* A BTF with the two enums, numbered as asked (a kernel may number them otherwise than 7.3). */
static struct btf *btf_with_enums(int fexit_multi, int link_type) {
        struct btf *btf = btf__new_empty();

        ck_assert_ptr_nonnull(btf);
        ck_assert_int_gt(btf__add_enum(btf, "bpf_attach_type", 4), 0);
        ck_assert_int_eq(btf__add_enum_value(btf, "BPF_TRACE_FEXIT", 25), 0);
        if (fexit_multi >= 0)
                ck_assert_int_eq(btf__add_enum_value(btf, "BPF_TRACE_FEXIT_MULTI", fexit_multi), 0);
        ck_assert_int_gt(btf__add_enum(btf, "bpf_link_type", 4), 0);
        ck_assert_int_eq(btf__add_enum_value(btf, "BPF_LINK_TYPE_TRACING", 2), 0);
        if (link_type >= 0)
                ck_assert_int_eq(btf__add_enum_value(btf, "BPF_LINK_TYPE_TRACING_MULTI", link_type), 0);
        return btf;
}

START_TEST(uapi_from_btf) {
        struct bb_uapi_multi u = {};
        struct btf *btf = btf_with_enums(BB_UAPI_TRACE_FEXIT_MULTI, BB_UAPI_LINK_TYPE_TRACING_MULTI);

        ck_assert_int_eq(bb_multi_uapi_from_btf(btf, &u), 0);
        ck_assert_uint_eq(u.fexit_multi, 60);
        ck_assert_uint_eq(u.link_type, 15);
        btf__free(btf);

        /* the kernel's numbering wins over our constant */
        btf = btf_with_enums(61, 16);
        ck_assert_int_eq(bb_multi_uapi_from_btf(btf, &u), 0);
        ck_assert_uint_eq(u.fexit_multi, 61);
        ck_assert_uint_eq(u.link_type, 16);
        btf__free(btf);
}
END_TEST

START_TEST(uapi_absent) {
        struct bb_uapi_multi u = { .fexit_multi = 7, .link_type = 7 };
        struct btf *btf = btf_with_enums(-1, 15);

        ck_assert_int_eq(bb_multi_uapi_from_btf(btf, &u), -EOPNOTSUPP);
        ck_assert_uint_eq(u.fexit_multi, 7);            /* untouched on failure */
        btf__free(btf);
        btf = btf_with_enums(60, -1);
        ck_assert_int_eq(bb_multi_uapi_from_btf(btf, &u), -EOPNOTSUPP);
        btf__free(btf);
        btf = btf__new_empty();
        ck_assert_int_eq(bb_multi_uapi_from_btf(btf, &u), -EOPNOTSUPP);
        btf__free(btf);
        ck_assert_int_eq(bb_multi_uapi_from_btf(NULL, &u), -EINVAL);
}
END_TEST

/* The kernel lists a link's functions sorted by BTF id; the cookies give its program's order. */
START_TEST(order_by_cookie) {
        uint32_t ids[] = { 10, 20, 30, 40 }, out[4] = {};
        uint64_t all[] = { 3, 1, 4, 2 }, gaps[] = { 5, 1, 9, 2 }, zero[] = { 1, 0, 2, 3 },
                 twice[] = { 1, 2, 2, 3 };

        ck_assert_int_eq(bb_multi_order_by_cookie(ids, all, 4, out), 1);
        ck_assert_uint_eq(out[0], 20);
        ck_assert_uint_eq(out[1], 40);
        ck_assert_uint_eq(out[2], 10);
        ck_assert_uint_eq(out[3], 30);
        /* functions its Attach left out: the order still holds, the program's list is not whole */
        ck_assert_int_eq(bb_multi_order_by_cookie(ids, gaps, 4, out), 0);
        ck_assert_uint_eq(out[0], 20);
        ck_assert_uint_eq(out[1], 40);
        ck_assert_uint_eq(out[2], 10);
        ck_assert_uint_eq(out[3], 30);
        ck_assert_int_eq(bb_multi_order_by_cookie(ids, all, 3, out), 0);   /* cookies 3, 1, 4 */
        ck_assert_int_eq(bb_multi_order_by_cookie(ids, zero, 4, out), -EINVAL);
        ck_assert_int_eq(bb_multi_order_by_cookie(ids, twice, 4, out), -EINVAL);
}
END_TEST

START_TEST(uapi_multi_func_id) {
        struct bb_uapi_multi u = {};
        struct btf *btf = btf_with_enums(60, 15);
        int proto, id;

        ck_assert_int_eq(bb_multi_uapi_from_btf(btf, &u), 0);
        ck_assert_uint_eq(u.multi_func_id, 0);          /* no placeholder in this BTF */
        proto = btf__add_func_proto(btf, 0);
        ck_assert_int_gt(proto, 0);
        id = btf__add_func(btf, "bpf_multi_func", BTF_FUNC_GLOBAL, proto);
        ck_assert_int_gt(id, 0);
        ck_assert_int_eq(bb_multi_uapi_from_btf(btf, &u), 0);
        ck_assert_uint_eq(u.multi_func_id, (uint32_t) id);
        btf__free(btf);
}
END_TEST

Suite *test_suite(void) {
        Suite *s = suite_create("bpf-multi");
        TCase *tc = tcase_create("core");

        tcase_add_test(tc, section_names);
        tcase_add_test(tc, uapi_from_btf);
        tcase_add_test(tc, uapi_absent);
        tcase_add_test(tc, uapi_multi_func_id);
        tcase_add_test(tc, order_by_cookie);
        suite_add_tcase(s, tc);
        return s;
}
