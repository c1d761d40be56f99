/* SPDX-License-Identifier: MIT */
/* libfexit's consumer helpers on real BPF maps: fexit_map_mmap() and the ring buffer wrapper.
 * Creating the maps needs CAP_BPF; without it the test exits 77 (skipped). The helpers
 * themselves only use what an unprivileged fd holder may do. */
#include <bpf/bpf.h>
#include <check.h>
#include <errno.h>
#include <linux/bpf.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "check-main.h"
#include "libfexit.h"

static int array_map(__u32 value_size, __u32 max_entries, __u32 flags) {
        LIBBPF_OPTS(bpf_map_create_opts, o, .map_flags = flags);
        int fd = bpf_map_create(BPF_MAP_TYPE_ARRAY, "test", 4, value_size, max_entries, &o);

        ck_assert_int_ge(fd, 0);
        return fd;
}

/* A read-only fd of the same map, as the daemon would share it. */
static int readonly_fd(int fd) {
        LIBBPF_OPTS(bpf_get_fd_by_id_opts, o, .open_flags = BPF_F_RDONLY);
        struct bpf_map_info info = {};
        __u32 len = sizeof(info);
        int ro;

        ck_assert_int_eq(bpf_obj_get_info_by_fd(fd, &info, &len), 0);
        ro = bpf_map_get_fd_by_id_opts(info.id, &o);
        ck_assert_int_ge(ro, 0);
        return ro;
}

START_TEST(test_mmap_read_write) {
        int fd = array_map(8, 3, BPF_F_MMAPABLE);
        size_t size = 0, page = (size_t) sysconf(_SC_PAGESIZE);
        __u64 value = 0x1122334455667788, got = 0;
        __u32 key = 1;
        volatile __u64 *v;
        void *addr = NULL;

        ck_assert_int_eq(fexit_map_mmap(fd, &addr, &size), 0);
        ck_assert_uint_eq(size, page);
        v = addr;
        ck_assert_int_eq(bpf_map_update_elem(fd, &key, &value, BPF_ANY), 0);
        ck_assert_uint_eq(v[1], value);          /* a syscall write is visible in the mapping */
        v[2] = 42;
        key = 2;
        ck_assert_int_eq(bpf_map_lookup_elem(fd, &key, &got), 0);
        ck_assert_uint_eq(got, 42);              /* and the other way round */
        ck_assert_int_eq(fexit_map_munmap(addr, size), 0);
        close(fd);
}
END_TEST

START_TEST(test_mmap_size_rounding) {
        size_t page = (size_t) sysconf(_SC_PAGESIZE), size = 0;
        /* value_size 12 is laid out as 16: 16 * (page / 8) = 2 pages */
        int fd = array_map(12, (__u32) (page / 8), BPF_F_MMAPABLE);
        void *addr = NULL;

        ck_assert_int_eq(fexit_map_mmap(fd, &addr, &size), 0);
        ck_assert_uint_eq(size, 2 * page);
        fexit_map_munmap(addr, size);
        close(fd);
}
END_TEST

/* The kernel cannot map a read-only map fd; the helper says so clearly instead of EINVAL, and
 * the value stays readable with a lookup. */
START_TEST(test_mmap_read_only_fd) {
        int fd = array_map(8, 1, BPF_F_MMAPABLE), ro = readonly_fd(fd);
        __u64 value = 7, got = 0;
        __u32 key = 0;
        size_t size = 99;
        void *addr = (void *) 0x1;

        ck_assert_int_eq(bpf_map_update_elem(fd, &key, &value, BPF_ANY), 0);
        ck_assert_int_eq(fexit_map_mmap(ro, &addr, &size), -EACCES);
        ck_assert_ptr_eq(addr, (void *) 0x1);
        ck_assert_uint_eq(size, 99);
        ck_assert(mmap(NULL, 4096, PROT_READ, MAP_SHARED, ro, 0) == MAP_FAILED);   /* the kernel's rule */
        ck_assert_int_eq(fexit_map_read(ro, 0, sizeof(got), &got), 8);
        ck_assert_uint_eq(got, 7);
        close(ro);
        close(fd);
}
END_TEST

START_TEST(test_map_read) {
        int fd = array_map(12, 4, 0), hash;
        __u32 key = 3;
        char value[12] = "hello, bpf!", got[16] = {};

        ck_assert_int_eq(bpf_map_update_elem(fd, &key, value, BPF_ANY), 0);
        ck_assert_int_eq(fexit_map_read(fd, 3, sizeof(got), got), 12);
        ck_assert_str_eq(got, "hello, bpf!");
        memset(got, 'x', sizeof(got));
        ck_assert_int_eq(fexit_map_read(fd, 3, 11, got), -ENOBUFS);
        ck_assert_int_eq(got[0], 'x');                          /* untouched */
        ck_assert_int_eq(fexit_map_read(fd, 4, sizeof(got), got), -ENOENT);   /* beyond max_entries */
        hash = bpf_map_create(BPF_MAP_TYPE_HASH, "h", 4, 4, 4, NULL);
        ck_assert_int_eq(fexit_map_read(hash, 0, sizeof(got), got), -EOPNOTSUPP);
        close(hash);
        close(fd);
}
END_TEST

START_TEST(test_mmap_frozen_map) {
        int fd = array_map(8, 1, BPF_F_MMAPABLE);
        size_t size = 0;
        void *addr = NULL;

        ck_assert_int_eq(bpf_map_freeze(fd), 0);
        ck_assert_int_eq(fexit_map_mmap(fd, &addr, &size), 0);   /* falls back to read-only */
        ck_assert_int_eq(mprotect(addr, size, PROT_READ | PROT_WRITE), -1);
        fexit_map_munmap(addr, size);
        close(fd);
}
END_TEST

START_TEST(test_mmap_refused) {
        int plain = array_map(8, 1, 0), hash, p[2];
        void *addr = (void *) 0x1;
        size_t size = 99;

        hash = bpf_map_create(BPF_MAP_TYPE_HASH, "h", 4, 4, 4, NULL);
        ck_assert_int_ge(hash, 0);
        ck_assert_int_eq(fexit_map_mmap(plain, &addr, &size), -EOPNOTSUPP);
        ck_assert_int_eq(fexit_map_mmap(hash, &addr, &size), -EOPNOTSUPP);
        ck_assert_int_eq(pipe(p), 0);
        ck_assert_int_lt(fexit_map_mmap(p[0], &addr, &size), 0);
        ck_assert_int_eq(fexit_map_mmap(-1, &addr, &size), -EINVAL);
        ck_assert_ptr_eq(addr, (void *) 0x1);   /* untouched on failure */
        ck_assert_uint_eq(size, 99);
        close(plain);
        close(hash);
}
END_TEST

/* A socket filter that writes one 8-byte record into the ring buffer, run with TEST_RUN. */
static int ringbuf_writer(int rb_fd) {
        struct bpf_insn insns[] = {
                /* *(u64 *)(r10 - 8) = 0x11223344 */
                { .code = BPF_ST | BPF_MEM | BPF_DW, .dst_reg = BPF_REG_10, .off = -8, .imm = 0x11223344 },
                /* r1 = map (ld_imm64 with a map fd) */
                { .code = BPF_LD | BPF_DW | BPF_IMM, .dst_reg = BPF_REG_1, .src_reg = BPF_PSEUDO_MAP_FD, .imm = rb_fd },
                { 0 },
                /* r2 = r10 - 8; r3 = 8; r4 = 0 */
                { .code = BPF_ALU64 | BPF_MOV | BPF_X, .dst_reg = BPF_REG_2, .src_reg = BPF_REG_10 },
                { .code = BPF_ALU64 | BPF_ADD | BPF_K, .dst_reg = BPF_REG_2, .imm = -8 },
                { .code = BPF_ALU64 | BPF_MOV | BPF_K, .dst_reg = BPF_REG_3, .imm = 8 },
                { .code = BPF_ALU64 | BPF_MOV | BPF_K, .dst_reg = BPF_REG_4, .imm = 0 },
                { .code = BPF_JMP | BPF_CALL, .imm = BPF_FUNC_ringbuf_output },
                { .code = BPF_ALU64 | BPF_MOV | BPF_K, .dst_reg = BPF_REG_0, .imm = 0 },
                { .code = BPF_JMP | BPF_EXIT },
        };
        int fd = bpf_prog_load(BPF_PROG_TYPE_SOCKET_FILTER, "rbw", "GPL", insns,
                               sizeof(insns) / sizeof(insns[0]), NULL);

        ck_assert_int_ge(fd, 0);
        return fd;
}

struct seen {
        int n;
        size_t size;
        __u64 value;
};

static int on_sample(void *ctx, const void *data, size_t size) {
        struct seen *s = ctx;

        s->n++;
        s->size = size;
        memcpy(&s->value, data, sizeof(s->value));
        return 0;
}

START_TEST(test_ringbuf) {
        int rb_fd = bpf_map_create(BPF_MAP_TYPE_RINGBUF, "rb", 0, 0, 4096, NULL), prog;
        char pkt[64] = {};
        LIBBPF_OPTS(bpf_test_run_opts, run, .data_in = pkt, .data_size_in = sizeof(pkt));
        struct fexit_ringbuf *rb = NULL;
        struct seen seen = {};

        ck_assert_int_ge(rb_fd, 0);
        ck_assert_int_eq(fexit_ringbuf_new(rb_fd, on_sample, &seen, &rb), 0);
        ck_assert_int_ge(fexit_ringbuf_epoll_fd(rb), 0);
        ck_assert_int_eq(fexit_ringbuf_consume(rb), 0);
        ck_assert_int_eq(fexit_ringbuf_poll(rb, 10), 0);
        prog = ringbuf_writer(rb_fd);
        ck_assert_int_eq(bpf_prog_test_run_opts(prog, &run), 0);
        ck_assert_int_eq(bpf_prog_test_run_opts(prog, &run), 0);
        ck_assert_int_eq(fexit_ringbuf_poll(rb, 1000), 2);
        ck_assert_int_eq(seen.n, 2);
        ck_assert_uint_eq(seen.size, 8);
        ck_assert_uint_eq(seen.value, 0x11223344);
        ck_assert_int_eq(fexit_ringbuf_consume(rb), 0);
        ck_assert_ptr_null(fexit_ringbuf_free(rb));
        ck_assert_int_eq(fexit_ringbuf_new(-1, on_sample, NULL, &rb), -EINVAL);
        ck_assert_int_eq(fexit_ringbuf_new(rb_fd, NULL, NULL, &rb), -EINVAL);
        close(prog);
        close(rb_fd);
}
END_TEST

Suite *test_suite(void) {
        int probe = bpf_map_create(BPF_MAP_TYPE_ARRAY, "probe", 4, 4, 1, NULL);
        Suite *s;
        TCase *tc;

        if (probe < 0)
                test_skip("SKIP: no bpf() here: creating an array map failed (%s)", strerror(-probe));
        close(probe);
        s = suite_create("libfexit-maps");
        tc = tcase_create("maps");
        tcase_add_test(tc, test_mmap_read_write);
        tcase_add_test(tc, test_mmap_size_rounding);
        tcase_add_test(tc, test_mmap_read_only_fd);
        tcase_add_test(tc, test_mmap_frozen_map);
        tcase_add_test(tc, test_map_read);
        tcase_add_test(tc, test_mmap_refused);
        tcase_add_test(tc, test_ringbuf);
        suite_add_tcase(s, tc);
        return s;
}
