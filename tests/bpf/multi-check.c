/* SPDX-License-Identifier: MIT */
/* multi-check PROG_ID [MAP_ID]: runs BPF_PROG_TEST_RUN on a tracing program (which calls the
 * kernel's bpf_fentry_test* functions), then prints every __u64 variable of the .bss map MAP_ID
 * as NAME=VALUE (arrays as NAME[I]=VALUE), found through the map's BTF rather than by guessing
 * the compiler's layout. For tests/vm/cases/multi-link.sh; needs CAP_SYS_ADMIN (ids). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <bpf/bpf.h>
#include <bpf/btf.h>

static int fail(const char *what, int r) {
        fprintf(stderr, "multi-check: %s: %s\n", what, strerror(r < 0 ? -r : r));
        return 1;
}

static void print_var(const struct btf *btf, const struct btf_var_secinfo *v, const char *value) {
        const struct btf_type *var = btf__type_by_id(btf, v->type);
        const char *name = btf__name_by_offset(btf, var->name_off);
        const struct btf_type *t = btf__type_by_id(btf, btf__resolve_type(btf, var->type));
        size_t n = 1;

        if (btf_is_array(t))
                n = btf_array(t)->nelems;
        if (v->size != n * sizeof(__u64))
                return;                               /* only __u64 and __u64[] */
        for (size_t i = 0; i < n; i++) {
                __u64 x;

                memcpy(&x, value + v->offset + i * sizeof(x), sizeof(x));
                if (btf_is_array(t))
                        printf("%s[%zu]=%llu\n", name, i, (unsigned long long) x);
                else
                        printf("%s=%llu\n", name, (unsigned long long) x);
        }
}

static int dump_bss(__u32 map_id) {
        struct bpf_map_info info = {};
        __u32 len = sizeof(info), key = 0;
        const struct btf_type *sec;
        struct btf *btf;
        char *value;
        int fd = bpf_map_get_fd_by_id(map_id), r;

        if (fd < 0)
                return fail("open map", fd);
        if (bpf_obj_get_info_by_fd(fd, &info, &len) < 0 || !info.btf_id)
                return fail("map info (no BTF?)", info.btf_id ? errno : ENOENT);
        btf = btf__load_from_kernel_by_id(info.btf_id);
        value = calloc(1, info.value_size);
        if (!btf || !value)
                return fail("map BTF", -errno);
        r = bpf_map_lookup_elem(fd, &key, value);
        if (r < 0)
                return fail("map lookup", -errno);
        sec = btf__type_by_id(btf, info.btf_value_type_id);
        if (!sec || !btf_is_datasec(sec))
                return fail("the map's value is not a data section", -EINVAL);
        for (int i = 0; i < btf_vlen(sec); i++)
                print_var(btf, &btf_var_secinfos(sec)[i], value);
        free(value);
        btf__free(btf);
        close(fd);
        return 0;
}

int main(int argc, char **argv) {
        LIBBPF_OPTS(bpf_test_run_opts, o);
        int fd, r;

        if (argc < 2) {
                fprintf(stderr, "usage: multi-check PROG_ID [MAP_ID]\n");
                return 2;
        }
        fd = bpf_prog_get_fd_by_id((__u32) strtoul(argv[1], NULL, 10));
        if (fd < 0)
                return fail("open program", fd);
        r = bpf_prog_test_run_opts(fd, &o);
        if (r < 0)
                return fail("BPF_PROG_TEST_RUN", r);
        printf("test_run_retval=%u\n", o.retval);
        close(fd);
        return argc > 2 ? dump_bss((__u32) strtoul(argv[2], NULL, 10)) : 0;
}
