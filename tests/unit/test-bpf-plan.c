/* SPDX-License-Identifier: MIT */
/* Planning (daemon/bpf-plan.c) without a kernel: real BPF objects opened with libbpf (opening
 * touches no kernel) against a kernel BTF built by hand, with the kernel's version and trampoline
 * limit given, not probed. Which function each program gets, which glob matches are left out and
 * why, and every refusal a Load can meet before the kernel sees the program. */
#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <bpf/btf.h>
#include <bpf/libbpf.h>
#include <linux/version.h>

#include "check-main.h"
#include "daemon/bpf-backend.h"
#include "daemon/bpf-internal.h"
#include "daemon/btf-index.h"

#define MANY 1025                 /* BB_INSTANCES_MAX + 1 functions named many_NNNN */

static struct btf_index *kernel_index;
static uint32_t vfs_read_id;
static char traceable_path[] = "/tmp/test-bpf-plan-traceable-XXXXXX";
static char kallsyms_path[] = "/tmp/test-bpf-plan-kallsyms-XXXXXX";

/* A FUNC with n parameters of type arg (0 for the last: "..."), returning ret. */
static uint32_t add_func(struct btf *btf, const char *name, uint32_t ret, unsigned n, uint32_t arg,
                         bool vararg) {
        int proto = btf__add_func_proto(btf, ret), id;

        ck_assert_int_gt(proto, 0);
        for (unsigned i = 0; i < n; i++)
                ck_assert_int_eq(btf__add_func_param(btf, "a", arg), 0);
        if (vararg)
                ck_assert_int_eq(btf__add_func_param(btf, NULL, 0), 0);
        id = btf__add_func(btf, name, BTF_FUNC_GLOBAL, proto);
        ck_assert_int_gt(id, 0);
        return (uint32_t) id;
}

static const char *const traceable[] = {
        "vfs_read", "vfs_readv", "vfs_write", "vfs_unlink", "vfs_seven", "vfs_struct_ret",
        "vfs_vararg", "vfs_dup", "migrate_disable", "bpf_fentry_test1", "bpf_fentry_test2",
        "bpf_fentry_test3",
        /* not vfs_notrace: ftrace cannot patch it */
};

/* A temporary file of lines, and the many_NNNN names too when many. */
static void write_file(char *path, const char *const *lines, size_t n, const char *fmt, bool many) {
        int fd = mkstemp(path);
        FILE *f;

        ck_assert_int_ge(fd, 0);
        f = fdopen(fd, "w");
        ck_assert_ptr_nonnull(f);
        for (size_t i = 0; i < n; i++)
                fprintf(f, fmt, lines[i]);
        for (int i = 0; many && i < MANY; i++)
                fprintf(f, "many_%04d\n", i);
        ck_assert_int_eq(fclose(f), 0);
}

/* The kernel: a few vfs_ functions, one for each way fexitd refuses a function, the kernel's
 * test functions multi_args.bpf.o globs for, and more functions than one Load may instantiate. */
static void kernel_setup(void) {
        static const char *const dup[] = { "vfs_dup", "vfs_dup" };
        struct btf *btf = btf__new_empty();
        uint32_t i32, i64, big;
        char name[32];

        ck_assert_ptr_nonnull(btf);
        i32 = (uint32_t) btf__add_int(btf, "int", 4, BTF_INT_SIGNED);
        i64 = (uint32_t) btf__add_int(btf, "long", 8, BTF_INT_SIGNED);
        big = (uint32_t) btf__add_struct(btf, "big", 24);
        ck_assert_int_eq(btf__add_field(btf, "x", i64, 0, 0), 0);
        vfs_read_id = add_func(btf, "vfs_read", i64, 3, i64, false);
        add_func(btf, "vfs_readv", i64, 3, i64, false);
        add_func(btf, "vfs_write", i64, 3, i64, false);
        add_func(btf, "vfs_unlink", i32, 3, i64, false);
        add_func(btf, "vfs_seven", i32, 7, i64, false);       /* 7 argument registers */
        add_func(btf, "vfs_struct_ret", big, 1, i64, false);  /* the trampoline cannot read it */
        add_func(btf, "vfs_vararg", i32, 1, i32, true);
        add_func(btf, "vfs_notrace", i32, 1, i32, false);
        add_func(btf, "vfs_dup", i32, 1, i32, false);         /* two kernel symbols of this name */
        add_func(btf, "migrate_disable", 0, 0, 0, false);     /* fexitd's deny list */
        for (int i = 1; i <= 3; i++) {
                snprintf(name, sizeof(name), "bpf_fentry_test%d", i);
                add_func(btf, name, i32, (unsigned) i, i32, false);
        }
        for (int i = 0; i < MANY; i++) {
                snprintf(name, sizeof(name), "many_%04d", i);
                add_func(btf, name, i32, 1, i32, false);
        }
        write_file(traceable_path, traceable, sizeof(traceable) / sizeof(*traceable), "%s\n", true);
        write_file(kallsyms_path, dup, 2, "ffffffff81000000 T %s\n", false);
        kernel_index = btf_index_new();
        ck_assert_ptr_nonnull(kernel_index);
        ck_assert_int_eq(btf_index_add_btf(kernel_index, "vmlinux", btf, true), 0);
        ck_assert_int_eq(btf_index_add_traceable(kernel_index, traceable_path), 0);
        ck_assert_int_eq(btf_index_add_kallsyms(kernel_index, kallsyms_path), 0);
        ck_assert_int_eq(btf_index_seal(kernel_index), 0);
}

static void kernel_teardown(void) {
        kernel_index = btf_index_unref(kernel_index);
        unlink(traceable_path);
        unlink(kallsyms_path);
}

/* One planning run, as bb_load() does it up to bb_plan_load(), on a Linux 6.1 with the given
 * trampoline limit. */
struct run {
        struct bb_load_request req;
        struct bb_error err;
        struct load_ctx c;
        int r;
};

static void plan(struct run *t, const char *object, const struct bb_select *sel, size_t n_sel,
                 bool multi_link, unsigned max_args) {
        _cleanup_free_ char *path = NULL;
        int fd;

        ck_assert_int_ge(asprintf(&path, "%s/%s.bpf.o", BPF_OBJ_DIR, object), 0);
        fd = open(path, O_RDONLY | O_CLOEXEC);
        ck_assert_msg(fd >= 0, "cannot open %s", path);
        *t = (struct run) { .req = { .object_fd = fd, .select = sel, .n_select = n_sel,
                                     .multi_link = multi_link } };
        t->c = (struct load_ctx) { .req = &t->req, .err = &t->err,
                                   .sys = btf_index_ref(kernel_index),
                                   .kernel = { .version = KERNEL_VERSION(6, 1, 0),
                                               .max_args = max_args } };
        bb_init();
        ck_assert_int_eq(bb_object_read(fd, &t->c.buf, &t->c.size, &t->err), 0);
        ck_assert_int_eq(bb_object_check(t->c.buf, t->c.size, &t->c.license, &t->err), 0);
        ck_assert_int_eq(bb_load_open(&t->c), 0);
        close(fd);
        t->r = bb_plan_load(&t->c);
}

static void done(struct run *t) {
        bb_load_ctx_done(&t->c);
        bb_error_clear(&t->err);
}

static const struct plan *only_plan(const struct run *t) {
        ck_assert_msg(t->r == 0, "planning failed (%d): %s", t->r, t->err.message ?: "-");
        ck_assert_uint_eq(t->c.n_plans, 1);
        return &t->c.plans[0];
}

static const char *skip_reason(const struct run *t, const char *function) {
        for (size_t i = 0; i < t->c.res.n_skipped; i++)
                if (strcmp(t->c.res.skipped[i].function, function) == 0)
                        return t->c.res.skipped[i].reason;
        return NULL;
}

/* One selected program on one function: that function's BTF id in vmlinux. */
static void expect_one(const char *function, unsigned max_args) {
        struct bb_select s = { .name = "fexit_count", .function = function };
        struct run t;
        const struct plan *pl;

        plan(&t, "fexit_count", &s, 1, false, max_args);
        pl = only_plan(&t);
        ck_assert_uint_eq(pl->n_targets, 1);
        ck_assert_str_eq(pl->targets[0].function, function);
        ck_assert_str_eq(pl->targets[0].btf_object, "vmlinux");
        ck_assert_ptr_null(pl->targets[0].tprog);
        ck_assert_uint_eq(t.c.n_instances, 1);
        done(&t);
}

/* A refusal of one named function: its kind, errno and a word of its message. */
static void expect_refused(const char *function, unsigned max_args, enum bb_error_kind kind, int r,
                           const char *word) {
        struct bb_select s = { .name = "fexit_count", .function = function };
        struct run t;

        plan(&t, "fexit_count", &s, 1, false, max_args);
        ck_assert_msg(t.r == r, "%s: expected %d, got %d (%s)", function, r, t.r, t.err.message ?: "-");
        ck_assert_int_eq(t.err.kind, kind);
        ck_assert_str_eq(t.err.function, function);
        ck_assert_str_eq(t.err.program, "fexit_count");
        ck_assert_msg(t.err.message && strstr(t.err.message, word), "%s: '%s' not in '%s'", function,
                      word, t.err.message ?: "-");
        done(&t);
}

START_TEST(test_named_function) {
        struct bb_select s = { .name = "fexit_count", .function = "vfs_read" };
        struct run t;

        plan(&t, "fexit_count", &s, 1, false, 6);
        ck_assert_uint_eq(only_plan(&t)->targets[0].btf_id, vfs_read_id);
        ck_assert_int_eq(only_plan(&t)->sleepable, false);
        done(&t);
        expect_one("vfs_read", 6);
        /* a name of several kernel symbols is refused in globs only: asked for, it is tried */
        expect_one("vfs_dup", 6);
}
END_TEST

START_TEST(test_section_function) {
        struct run t;
        const struct plan *pl;

        plan(&t, "fexit_count", NULL, 0, false, 6);       /* no selection: the section's */
        pl = only_plan(&t);
        ck_assert_str_eq(bpf_program__name(pl->prog), "fexit_count");
        ck_assert_uint_eq(pl->n_targets, 1);
        ck_assert_str_eq(pl->targets[0].function, "vfs_unlink");
        ck_assert(bpf_program__autoload(pl->prog));
        done(&t);
}
END_TEST

START_TEST(test_sleepable_section) {
        struct run t;

        plan(&t, "fexit_sleepable", NULL, 0, false, 6);
        ck_assert(only_plan(&t)->sleepable);
        ck_assert_str_eq(only_plan(&t)->targets[0].function, "bpf_fentry_test1");
        done(&t);
}
END_TEST

START_TEST(test_unknown_function_suggests) {
        struct bb_select s = { .name = "fexit_count", .function = "vfs_raed" };
        struct run t;

        plan(&t, "fexit_count", &s, 1, false, 6);
        ck_assert_int_eq(t.r, -ESRCH);
        ck_assert_int_eq(t.err.kind, BB_ERR_NO_SUCH_FUNCTION);
        ck_assert_str_eq(t.err.function, "vfs_raed");
        ck_assert_ptr_nonnull(t.err.suggestions[0]);
        ck_assert_str_eq(t.err.suggestions[0], "vfs_read");
        done(&t);
}
END_TEST

START_TEST(test_refusals) {
        expect_refused("migrate_disable", 6, BB_ERR_FUNCTION_DENIED, -EACCES, "deny list");
        expect_refused("vfs_notrace", 6, BB_ERR_FUNCTION_DENIED, -EBUSY, "cannot be traced");
        expect_refused("vfs_struct_ret", 6, BB_ERR_FUNCTION_DENIED, -E2BIG, "returns a struct");
        expect_refused("vfs_vararg", 6, BB_ERR_FUNCTION_DENIED, -E2BIG, "variable arguments");
}
END_TEST

START_TEST(test_argument_registers) {
        struct bb_select s = { .name = "fexit_count", .function = "vfs_seven" };
        struct run t;

        plan(&t, "fexit_count", &s, 1, false, 6);          /* 6.1's x86 trampoline */
        ck_assert_int_eq(t.r, -ERANGE);
        ck_assert_int_eq(t.err.kind, BB_ERR_TOO_MANY_ARGS);
        ck_assert_uint_eq(t.err.n_args, 7);
        ck_assert_uint_eq(t.err.limit_max, 6);
        done(&t);
        expect_one("vfs_seven", 12);                       /* from 6.6 */
        expect_one("vfs_seven", 0);                        /* unknown: the kernel decides */
}
END_TEST

START_TEST(test_glob_skips_with_reasons) {
        const char *const functions[] = { "vfs_read", "vfs_*" };
        struct bb_select s = { .name = "fexit_count", .functions = functions, .n_functions = 2 };
        struct run t;
        const struct plan *pl;

        plan(&t, "fexit_count", &s, 1, false, 6);
        pl = only_plan(&t);
        /* vfs_read named and matched is one instance; the excluded are skipped, not errors */
        ck_assert_uint_eq(pl->n_targets, 4);
        ck_assert_str_eq(pl->targets[0].function, "vfs_read");
        ck_assert_str_eq(pl->targets[1].function, "vfs_readv");
        ck_assert_str_eq(pl->targets[2].function, "vfs_unlink");
        ck_assert_str_eq(pl->targets[3].function, "vfs_write");
        ck_assert_uint_eq(t.c.n_instances, 4);
        ck_assert_uint_eq(t.c.res.n_skipped, 5);
        ck_assert_ptr_nonnull(strstr(skip_reason(&t, "vfs_notrace"), "cannot be traced"));
        ck_assert_ptr_nonnull(strstr(skip_reason(&t, "vfs_seven"), "at most 6"));
        ck_assert_ptr_nonnull(strstr(skip_reason(&t, "vfs_struct_ret"), "returns a struct"));
        ck_assert_ptr_nonnull(strstr(skip_reason(&t, "vfs_vararg"), "variable arguments"));
        ck_assert_ptr_nonnull(strstr(skip_reason(&t, "vfs_dup"), "2 kernel symbols"));
        done(&t);
}
END_TEST

START_TEST(test_glob_refusals) {
        const char *const excluded[] = { "vfs_s*" }, *const none[] = { "nomatch_*" },
                          *const denied[] = { "migrate_*" };
        struct bb_select s = { .name = "fexit_count", .functions = excluded, .n_functions = 1 };
        struct run t;

        plan(&t, "fexit_count", &s, 1, false, 6);
        ck_assert_int_eq(t.r, -EACCES);
        ck_assert_int_eq(t.err.kind, BB_ERR_FUNCTION_DENIED);
        ck_assert_ptr_nonnull(strstr(t.err.message, "every function matching vfs_s* is excluded"));
        done(&t);
        s.functions = denied;
        plan(&t, "fexit_count", &s, 1, false, 6);
        ck_assert_int_eq(t.err.kind, BB_ERR_FUNCTION_DENIED);
        ck_assert_ptr_nonnull(strstr(t.err.message, "deny list"));
        done(&t);
        s.functions = none;
        plan(&t, "fexit_count", &s, 1, false, 6);
        ck_assert_int_eq(t.r, -ESRCH);
        ck_assert_int_eq(t.err.kind, BB_ERR_NO_SUCH_FUNCTION);
        ck_assert_str_eq(t.err.function, "nomatch_*");
        done(&t);
}
END_TEST

/* fexit.multi/bpf_fentry_test[0-9]*: one program for all matches where the kernel has
 * multi-links, one instance each elsewhere. */
START_TEST(test_multi_section) {
        const char *const functions[] = { "vfs_read", "vfs_write" };
        struct bb_select s = { .name = "check_args" },
                         f = { .name = "fexit_count", .functions = functions, .n_functions = 2 };
        struct run t;
        const struct plan *pl;

        for (int multi = 0; multi <= 1; multi++) {
                plan(&t, "multi_args", &s, 1, multi, 6);
                pl = only_plan(&t);
                ck_assert(pl->want_multi);
                ck_assert_int_eq(bb_plan_multi_wanted(&t.c, pl), multi);
                ck_assert_uint_eq(pl->n_targets, 3);
                ck_assert_str_eq(pl->targets[2].function, "bpf_fentry_test3");
                ck_assert_uint_eq(t.c.n_instances, (multi ? 0u : 3u));
                /* only what was planned is loaded */
                ck_assert(!bpf_program__autoload(bpf_object__find_program_by_name(t.c.obj, "count_calls")));
                done(&t);
        }
        /* a program given functions wants one program too */
        plan(&t, "fexit_count", &f, 1, true, 6);
        ck_assert(only_plan(&t)->want_multi);
        ck_assert_uint_eq(t.c.n_instances, 0);
        done(&t);
}
END_TEST

START_TEST(test_instance_limit) {
        const char *const functions[] = { "many_*" };
        struct bb_select s = { .name = "fexit_count", .functions = functions, .n_functions = 1 };
        struct run t;

        plan(&t, "fexit_count", &s, 1, false, 6);
        ck_assert_int_eq(t.r, -E2BIG);
        ck_assert_int_eq(t.err.kind, BB_ERR_LIMIT_EXCEEDED);
        ck_assert_str_eq(t.err.operation, "instances");
        ck_assert_uint_eq(t.err.limit_max, BB_INSTANCES_MAX);
        done(&t);
        /* one multi-link program takes them all */
        plan(&t, "fexit_count", &s, 1, true, 6);
        ck_assert_uint_eq(only_plan(&t)->n_targets, MANY);
        ck_assert_uint_eq(t.c.n_instances, 0);
        done(&t);
}
END_TEST

START_TEST(test_programs) {
        struct bb_select s = { .name = "nope" };
        struct run t;

        plan(&t, "fexit_count", &s, 1, false, 6);
        ck_assert_int_eq(t.r, -ENOENT);
        ck_assert_int_eq(t.err.kind, BB_ERR_NO_SUCH_PROGRAM);
        ck_assert_str_eq(t.err.program, "nope");
        done(&t);
        plan(&t, "backend_xdp", NULL, 0, false, 6);
        ck_assert_int_eq(t.r, -ENOENT);
        ck_assert_int_eq(t.err.kind, BB_ERR_NO_FEXIT_PROGRAMS);
        done(&t);
        /* fexit.multi with no pattern names no function: it must be given some */
        s.name = "count_calls";
        plan(&t, "multi_args", &s, 1, true, 6);
        ck_assert_int_eq(t.r, -ESRCH);
        ck_assert_int_eq(t.err.kind, BB_ERR_NO_SUCH_FUNCTION);
        ck_assert_ptr_nonnull(strstr(t.err.message, "names no function"));
        done(&t);
}
END_TEST

Suite *test_suite(void) {
        Suite *s = suite_create("bpf-plan");
        TCase *tc = tcase_create("plan");

        tcase_add_unchecked_fixture(tc, kernel_setup, kernel_teardown);
        tcase_add_test(tc, test_named_function);
        tcase_add_test(tc, test_section_function);
        tcase_add_test(tc, test_sleepable_section);
        tcase_add_test(tc, test_unknown_function_suggests);
        tcase_add_test(tc, test_refusals);
        tcase_add_test(tc, test_argument_registers);
        tcase_add_test(tc, test_glob_skips_with_reasons);
        tcase_add_test(tc, test_glob_refusals);
        tcase_add_test(tc, test_multi_section);
        tcase_add_test(tc, test_instance_limit);
        tcase_add_test(tc, test_programs);
        suite_add_tcase(s, tc);
        return s;
}
