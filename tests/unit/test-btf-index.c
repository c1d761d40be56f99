/* SPDX-License-Identifier: MIT */
/* The BTF name index and the function policy, without a kernel where possible. */
#include <check.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <bpf/btf.h>
#include <linux/version.h>

#include "check-main.h"
#include "daemon/btf-index.h"
#include "daemon/btf-rules.h"

static struct btf_index *index_of(const char *const *names) {
        struct btf_index *idx = btf_index_new();

        ck_assert_ptr_nonnull(idx);
        for (uint32_t i = 0; names[i]; i++) {
                struct btf_func f = { .name = names[i], .btf_id = 100 + i, .nr_args = 1, .nr_regs = 1,
                                      .traceable = -1 };
                ck_assert_int_eq(btf_index_add(idx, &f), 0);
        }
        ck_assert_int_eq(btf_index_seal(idx), 0);
        return idx;
}

static const char *const names[] = {
        "vfs_read", "vfs_readv", "vfs_write", "vfs_writev", "vfs_unlink", "do_unlinkat",
        "do_linkat", "io_unlinkat", "__x64_sys_unlinkat", "tcp_sendmsg", "tcp_recvmsg",
        "kmalloc_reserve", "ext4_file_write_iter", "a", NULL,
};

static double now_ms(void) {
        struct timespec ts;

        clock_gettime(CLOCK_MONOTONIC, &ts);
        return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

static bool have_vmlinux(void) {
        return access("/sys/kernel/btf/vmlinux", R_OK) == 0;
}

START_TEST(test_insert_lookup) {
        struct btf_index *idx = btf_index_new();
        struct btf_func a = { .name = "dup", .btf_id = 1, .obj = 0 }, b = { .name = "dup", .btf_id = 2, .obj = 1 };

        ck_assert_int_eq(btf_index_add(idx, &a), 0);
        ck_assert_int_eq(btf_index_add(idx, &b), 0);
        ck_assert_ptr_null(btf_index_lookup(idx, "dup"));     /* not sealed yet */
        ck_assert_int_eq(btf_index_seal(idx), 0);
        ck_assert_uint_eq(btf_index_size(idx), 1);
        ck_assert_uint_eq(btf_index_lookup(idx, "dup")->btf_id, 1);     /* the first one wins */
        ck_assert_int_eq(btf_index_add(idx, &a), -EBUSY);     /* sealed: read-only */
        btf_index_unref(idx);

        idx = index_of(names);
        ck_assert_uint_eq(btf_index_size(idx), 14);
        for (uint32_t i = 0; names[i]; i++) {
                const struct btf_func *f = btf_index_lookup(idx, names[i]);

                ck_assert_ptr_nonnull(f);
                ck_assert_str_eq(f->name, names[i]);
                ck_assert_uint_eq(f->btf_id, 100 + i);
        }
        ck_assert_ptr_null(btf_index_lookup(idx, "vfs_rea"));
        ck_assert_ptr_null(btf_index_lookup(idx, ""));
        ck_assert_ptr_null(btf_index_lookup(idx, "vfs_read_"));
        btf_index_unref(idx);
}
END_TEST

START_TEST(test_refcount) {
        struct btf_index *idx = index_of(names);

        ck_assert_ptr_eq(btf_index_ref(idx), idx);
        ck_assert_ptr_null(btf_index_unref(idx));
        ck_assert_ptr_nonnull(btf_index_lookup(idx, "vfs_read"));       /* still one ref */
        btf_index_unref(idx);
        ck_assert_ptr_null(btf_index_unref(NULL));
}
END_TEST

START_TEST(test_glob) {
        struct btf_index *idx = index_of(names);
        const struct btf_func **v;
        size_t n;

        ck_assert(btf_glob_is_pattern("vfs_*"));
        ck_assert(btf_glob_is_pattern("vfs_rea?"));
        ck_assert(btf_glob_is_pattern("[tv]*"));
        ck_assert(btf_glob_is_pattern("vfs\\_read"));   /* fnmatch escapes: a pattern */
        ck_assert(!btf_glob_is_pattern("vfs_read"));

        ck_assert_int_eq(btf_index_glob(idx, "vfs_*", &v, &n), 0);
        ck_assert_uint_eq(n, 5);
        ck_assert_str_eq(v[0]->name, "vfs_read");       /* name order */
        ck_assert_str_eq(v[1]->name, "vfs_readv");
        ck_assert_str_eq(v[4]->name, "vfs_writev");
        free(v);

        ck_assert_int_eq(btf_index_glob(idx, "*unlinkat", &v, &n), 0);
        ck_assert_uint_eq(n, 3);
        free(v);

        ck_assert_int_eq(btf_index_glob(idx, "vfs_write?", &v, &n), 0);
        ck_assert_uint_eq(n, 1);
        ck_assert_str_eq(v[0]->name, "vfs_writev");
        free(v);

        ck_assert_int_eq(btf_index_glob(idx, "[t]cp_*msg", &v, &n), 0);
        ck_assert_uint_eq(n, 2);
        free(v);

        ck_assert_int_eq(btf_index_glob(idx, "nothing_*", &v, &n), 0);
        ck_assert_uint_eq(n, 0);
        free(v);
        btf_index_unref(idx);
}
END_TEST

static size_t suggest(const struct btf_index *idx, const char *name, const char **s) {
        return btf_index_suggest(idx, name, s, 5);
}

START_TEST(test_suggest) {
        struct btf_index *idx = index_of(names);
        const char *s[5];
        size_t n;

        n = suggest(idx, "do_unlinkatt", s);            /* one extra letter */
        ck_assert_uint_ge(n, 1);
        ck_assert_str_eq(s[0], "do_unlinkat");

        n = suggest(idx, "vfs_raed", s);                /* a transposition counts one */
        ck_assert_uint_ge(n, 2);
        ck_assert_str_eq(s[0], "vfs_read");
        ck_assert_str_eq(s[1], "vfs_readv");

        n = suggest(idx, "unlinkat", s);                /* contained in longer names */
        ck_assert_uint_eq(n, 3);
        ck_assert_str_eq(s[0], "do_unlinkat");          /* the shortest of the equal ones first */

        n = suggest(idx, "kmalloc_foo", s);             /* two thirds of the prefix */
        ck_assert_uint_eq(n, 1);
        ck_assert_str_eq(s[0], "kmalloc_reserve");

        ck_assert_uint_eq(suggest(idx, "completely_different", s), 0);
        ck_assert_uint_eq(btf_index_suggest(idx, "vfs_raed", s, 1), 1);

        n = suggest(idx, "vfs_read", s);                /* the name itself is not a suggestion */
        for (size_t i = 0; i < n; i++)
                ck_assert_str_ne(s[i], "vfs_read");
        btf_index_unref(idx);
}
END_TEST

START_TEST(test_deny_list) {
        static const char *const denied[] = {
                "migrate_disable", "migrate_enable", "rcu_read_unlock_strict", "preempt_count_add",
                "preempt_count_sub", "__rcu_read_lock", "__rcu_read_unlock", "__bpf_prog_enter",
                "__bpf_prog_enter_recur", "__bpf_prog_exit_sleepable_recur", "__bpf_tramp_enter",
                "__bpf_tramp_exit", "bpf_spin_lock", "bpf_spin_unlock", "___migrate_enable", "do_exit",
                "do_group_exit", "make_task_dead", "__x64_sys_exit_group", "kthread_complete_and_exit",
        };
        static const char *const allowed[] = {
                "do_unlinkat", "vfs_read", "rcu_read_lock_held", "bpf_prog_load", "__bpf_prog_run",
                "migrate_disable_x", "do_exit_x", "exit_group",
        };

        for (size_t i = 0; i < sizeof(denied) / sizeof(*denied); i++)
                ck_assert_msg(btf_func_deny_reason(denied[i]), "%s must be denied", denied[i]);
        for (size_t i = 0; i < sizeof(allowed) / sizeof(*allowed); i++)
                ck_assert_msg(!btf_func_deny_reason(allowed[i]), "%s must be allowed", allowed[i]);
        ck_assert_ptr_nonnull(strstr(btf_func_deny_reason("__rcu_read_lock"), "hang"));
}
END_TEST

START_TEST(test_kernel_version) {
        uint32_t v = 0;

        ck_assert_int_eq(btf_kernel_version_parse("6.1.0-56-amd64", &v), 0);
        ck_assert_uint_eq(v, KERNEL_VERSION(6, 1, 0));
        ck_assert_int_eq(btf_kernel_version_parse("6.18.44-fc-v669", &v), 0);
        ck_assert_uint_eq(v, KERNEL_VERSION(6, 18, 44));
        ck_assert_int_eq(btf_kernel_version_parse("5.10", &v), 0);
        ck_assert_uint_eq(v, KERNEL_VERSION(5, 10, 0));
        ck_assert_int_eq(btf_kernel_version_parse("4.19.300", &v), 0);
        ck_assert_uint_eq(v, KERNEL_VERSION(4, 19, 255));     /* clamped, as the kernel does */
        ck_assert_int_eq(btf_kernel_version_parse("garbage", &v), -EINVAL);
        ck_assert_int_eq(btf_kernel_version_parse(NULL, &v), -EINVAL);
        ck_assert_uint_gt(btf_kernel_version(), KERNEL_VERSION(3, 0, 0));
}
END_TEST

START_TEST(test_arg_limit) {
        const uint32_t v61 = KERNEL_VERSION(6, 1, 0), v66 = KERNEL_VERSION(6, 6, 0);
        struct btf_func f = { .name = "f" };
        char reason[256];

        /* The limit is what the daemon probed (6 or 12), whatever the version says. */
        f.nr_args = f.nr_regs = 6;
        ck_assert_int_eq(btf_func_check_args(&f, v61, 6, reason, sizeof(reason)), 0);
        f.nr_args = f.nr_regs = 7;
        ck_assert_int_eq(btf_func_check_args(&f, v61, 6, reason, sizeof(reason)), -ERANGE);
        ck_assert_ptr_nonnull(strstr(reason, "at most 6"));
        ck_assert_int_eq(btf_func_check_args(&f, v66, 6, reason, sizeof(reason)), -ERANGE);
        ck_assert_int_eq(btf_func_check_args(&f, v66, 12, reason, sizeof(reason)), 0);
        ck_assert_int_eq(btf_func_check_args(&f, v61, 12, reason, sizeof(reason)), 0);
        /* unknown (fexit does not load here): the kernel decides */
        ck_assert_int_eq(btf_func_check_args(&f, v61, 0, reason, sizeof(reason)), 0);

        /* Five arguments, one a 16-byte struct: six registers, fine on 6.1. */
        f = (struct btf_func) { .name = "f", .nr_args = 5, .nr_regs = 6, .struct_arg = true };
        ck_assert_int_eq(btf_func_check_args(&f, v61, 6, reason, sizeof(reason)), 0);
        ck_assert_int_eq(btf_func_check_args(&f, KERNEL_VERSION(5, 15, 0), 6, reason, sizeof(reason)), -E2BIG);
        ck_assert_ptr_nonnull(strstr(reason, "struct"));
        f.nr_args = 6;
        f.nr_regs = 7;
        ck_assert_int_eq(btf_func_check_args(&f, v61, 6, reason, sizeof(reason)), -ERANGE);

        f = (struct btf_func) { .name = "f", .nr_args = 1, .nr_regs = 1, .big_struct_arg = true,
                                .struct_arg = true };
        ck_assert_int_eq(btf_func_check_args(&f, v66, 12, reason, sizeof(reason)), -E2BIG);
        f = (struct btf_func) { .name = "printk", .nr_args = 1, .nr_regs = 1, .vararg = true };
        ck_assert_int_eq(btf_func_check_args(&f, v66, 12, reason, sizeof(reason)), -E2BIG);
        ck_assert_ptr_nonnull(strstr(reason, "variable"));
        f = (struct btf_func) { .name = "f", .nr_args = 13, .nr_regs = 13 };
        ck_assert_int_eq(btf_func_check_args(&f, v66, 12, reason, sizeof(reason)), -E2BIG);
}
END_TEST

START_TEST(test_traceable) {
        char path[] = "/tmp/test-btf-index-XXXXXX";
        int fd = mkstemp(path);
        FILE *f = fdopen(fd, "w");
        struct btf_index *idx = btf_index_new();
        struct btf_func a = { .name = "vfs_read", .traceable = -1 }, b = { .name = "hidden", .traceable = -1 },
                        c = { .name = "modfn", .obj = 1, .traceable = -1 },
                        d = { .name = "shadowed", .traceable = -1 };

        /* shadowed: a vmlinux function that only a module's namesake makes look traceable */
        fputs("vfs_read\nmodfn [some_module]\nnot_in_btf\nshadowed [other_module]\n", f);
        fclose(f);
        btf_index_add(idx, &a);
        btf_index_add(idx, &b);
        btf_index_add(idx, &c);
        btf_index_add(idx, &d);
        ck_assert_int_eq(btf_index_add_traceable(idx, path), 0);
        ck_assert_int_eq(btf_index_seal(idx), 0);
        ck_assert_int_eq(btf_index_lookup(idx, "vfs_read")->traceable, 1);
        ck_assert_int_eq(btf_index_lookup(idx, "modfn")->traceable, 1);
        ck_assert_int_eq(btf_index_lookup(idx, "hidden")->traceable, 0);
        ck_assert_int_eq(btf_index_lookup(idx, "shadowed")->traceable, 0);
        ck_assert_int_eq(btf_index_add_traceable(idx, path), -EBUSY);
        btf_index_unref(idx);
        unlink(path);

        idx = index_of(names);                          /* never told: unknown */
        ck_assert_int_eq(btf_index_lookup(idx, "vfs_read")->traceable, -1);
        btf_index_unref(idx);
}
END_TEST

/* Names of several vmlinux text symbols are counted, module symbols and data are not. */
START_TEST(test_kallsyms) {
        char path[] = "/tmp/test-btf-index-XXXXXX";
        int fd = mkstemp(path);
        FILE *f = fdopen(fd, "w");
        struct btf_index *idx = btf_index_new();
        struct btf_func a = { .name = "t_start" }, b = { .name = "vfs_read" }, c = { .name = "modfn" },
                        d = { .name = "unlisted" };

        fputs("ffffffff81000000 t t_start\n"
              "ffffffff81000100 T vfs_read\n"
              "ffffffff81000200 t t_start\n"
              "ffffffff81000300 d vfs_read\n"          /* data, not text */
              "ffffffffc0000000 t modfn\t[some_module]\n"
              "ffffffffc0000100 t modfn\t[other_module]\n"
              "ffffffff81000400 t t_start\n", f);
        fclose(f);
        btf_index_add(idx, &a);
        btf_index_add(idx, &b);
        btf_index_add(idx, &c);
        btf_index_add(idx, &d);
        ck_assert_int_eq(btf_index_add_kallsyms(idx, path), 0);
        ck_assert_int_eq(btf_index_seal(idx), 0);
        ck_assert_uint_eq(btf_index_lookup(idx, "t_start")->ksyms, 3);
        ck_assert_uint_eq(btf_index_lookup(idx, "vfs_read")->ksyms, 1);
        ck_assert_uint_eq(btf_index_lookup(idx, "modfn")->ksyms, 0);
        ck_assert_uint_eq(btf_index_lookup(idx, "unlisted")->ksyms, 0);
        ck_assert_int_eq(btf_index_add_kallsyms(idx, path), -EBUSY);
        btf_index_unref(idx);
        unlink(path);
}
END_TEST

START_TEST(test_system_vmlinux) {
        struct btf_index *idx = NULL, *again = NULL;
        const struct btf_func *f, **v;
        const char *s[5];
        char reason[256];
        double t0, t1;
        size_t n;

        if (!have_vmlinux())
                return;
        btf_index_system_set_paths(NULL, "");          /* tracefs is no business of a unit test */
        t0 = now_ms();
        ck_assert_int_eq(btf_index_system(&idx), 0);
        t1 = now_ms();
        printf("system index: %zu functions in %.1f ms\n", btf_index_size(idx), t1 - t0);
        ck_assert_uint_gt(btf_index_size(idx), 10000);
        ck_assert_str_eq(btf_index_object_name(idx, 0), "vmlinux");
        ck_assert_ptr_nonnull(btf_index_object_btf(idx, 0));

        f = btf_index_lookup(idx, "do_unlinkat");
        ck_assert_ptr_nonnull(f);
        ck_assert_uint_eq(f->nr_args, 2);
        ck_assert_uint_eq(f->obj, 0);
        ck_assert_uint_gt(f->btf_id, 0);
        ck_assert_int_eq(f->traceable, -1);

        f = btf_index_lookup(idx, "do_mmap");           /* 8 or 9 arguments, depending on version */
        ck_assert_ptr_nonnull(f);
        ck_assert_uint_ge(f->nr_regs, 7);
        ck_assert_int_eq(btf_func_check_args(f, KERNEL_VERSION(6, 1, 0), 6, reason, sizeof(reason)), -ERANGE);
        ck_assert_int_eq(btf_func_check_args(f, KERNEL_VERSION(6, 6, 0), 12, reason, sizeof(reason)), 0);

        f = btf_index_lookup(idx, "_printk");           /* varargs */
        if (f)
                ck_assert(f->vararg);

        ck_assert_int_eq(btf_index_glob(idx, "vfs_*", &v, &n), 0);
        ck_assert_uint_gt(n, 10);
        free(v);

        t0 = now_ms();
        n = btf_index_suggest(idx, "do_unlinkatt", s, 5);
        t1 = now_ms();
        printf("suggestions for do_unlinkatt in %.2f ms:", t1 - t0);
        for (size_t i = 0; i < n; i++)
                printf(" %s", s[i]);
        printf("\n");
        ck_assert_uint_ge(n, 1);
        ck_assert_str_eq(s[0], "do_unlinkat");
        ck_assert_msg(t1 - t0 < 100, "suggestions took %.1f ms", t1 - t0);

        /* The same snapshot while /sys/kernel/btf does not change. */
        ck_assert_int_eq(btf_index_system(&again), 0);
        ck_assert_ptr_eq(again, idx);
        btf_index_unref(again);
        btf_index_unref(idx);
}
END_TEST

static void write_file(const char *path, const void *data, size_t size) {
        FILE *f = fopen(path, "we");

        ck_assert_ptr_nonnull(f);
        ck_assert_uint_eq(fwrite(data, 1, size, f), size);
        ck_assert_int_eq(fclose(f), 0);
}

/* A module's BTF as /sys/kernel/btf/<module> has it: split BTF on top of vmlinux. */
static void write_fake_module(const char *dir, const char *vmlinux) {
        struct btf *base = btf__parse(vmlinux, NULL), *mod;
        char path[512];
        const void *raw;
        uint32_t size;
        int int_id, proto;

        ck_assert_ptr_nonnull(base);
        mod = btf__new_empty_split(base);
        int_id = btf__find_by_name_kind(base, "int", BTF_KIND_INT);
        ck_assert_int_gt(int_id, 0);
        proto = btf__add_func_proto(mod, int_id);
        ck_assert_int_gt(proto, 0);
        ck_assert_int_eq(btf__add_func_param(mod, "a", int_id), 0);
        ck_assert_int_eq(btf__add_func_param(mod, "b", int_id), 0);
        ck_assert_int_gt(btf__add_func(mod, "fakemod_func", BTF_FUNC_GLOBAL, proto), 0);
        raw = btf__raw_data(mod, &size);
        snprintf(path, sizeof(path), "%s/fakemod", dir);
        write_file(path, raw, size);
        btf__free(mod);
        btf__free(base);
}

START_TEST(test_system_refresh) {
        char dir[] = "/tmp/test-btf-index-sys-XXXXXX", vmlinux[512], mod[512];
        struct btf_index *a = NULL, *b = NULL, *c = NULL;
        const struct btf_func *f;
        void *data;
        size_t size;
        FILE *in;

        if (!have_vmlinux())
                return;
        ck_assert_ptr_nonnull(mkdtemp(dir));
        snprintf(vmlinux, sizeof(vmlinux), "%s/vmlinux", dir);
        snprintf(mod, sizeof(mod), "%s/fakemod", dir);
        in = fopen("/sys/kernel/btf/vmlinux", "re");
        data = malloc(64 << 20);
        size = fread(data, 1, 64 << 20, in);
        fclose(in);
        write_file(vmlinux, data, size);
        free(data);

        btf_index_system_set_paths(dir, "");
        ck_assert_int_eq(btf_index_system(&a), 0);
        ck_assert_ptr_null(btf_index_lookup(a, "fakemod_func"));

        /* A module appears: a new snapshot has its functions; the old one stays usable. */
        write_fake_module(dir, vmlinux);
        ck_assert_int_eq(btf_index_system(&b), 0);
        ck_assert_ptr_ne(a, b);
        f = btf_index_lookup(b, "fakemod_func");
        ck_assert_ptr_nonnull(f);
        ck_assert_str_eq(btf_index_object_name(b, f->obj), "fakemod");
        ck_assert_uint_eq(f->nr_args, 2);
        ck_assert_uint_eq(btf_index_lookup(b, "do_unlinkat")->obj, 0);
        ck_assert_ptr_nonnull(btf_index_lookup(a, "do_unlinkat"));
        btf_index_unref(a);

        /* ... and goes away again. */
        ck_assert_int_eq(unlink(mod), 0);
        ck_assert_int_eq(btf_index_system(&c), 0);
        ck_assert_ptr_null(btf_index_lookup(c, "fakemod_func"));
        ck_assert_str_eq(btf_index_object_name(b, f->obj), "fakemod");   /* b still holds it */
        btf_index_unref(b);
        btf_index_unref(c);
        unlink(vmlinux);
        rmdir(dir);
}
END_TEST

Suite *test_suite(void) {
        Suite *s = suite_create("btf-index");
        TCase *tc = tcase_create("logic");

        tcase_add_test(tc, test_insert_lookup);
        tcase_add_test(tc, test_refcount);
        tcase_add_test(tc, test_glob);
        tcase_add_test(tc, test_kallsyms);
        tcase_add_test(tc, test_suggest);
        tcase_add_test(tc, test_deny_list);
        tcase_add_test(tc, test_kernel_version);
        tcase_add_test(tc, test_arg_limit);
        tcase_add_test(tc, test_traceable);
        suite_add_tcase(s, tc);

        tc = tcase_create("vmlinux");
        tcase_set_timeout(tc, 30);
        tcase_add_test(tc, test_system_vmlinux);
        tcase_add_test(tc, test_system_refresh);
        suite_add_tcase(s, tc);
        return s;
}
