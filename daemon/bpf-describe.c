/* SPDX-License-Identifier: MIT */

/*
 * What the kernel says about an object the daemon finds pinned but has no record of: which kind
 * of object an fd is, which maps a program uses, and the name behind a BTF type id. Part of the
 * BPF backend (the only code calling bpf()); used to rebuild the handle table from the pins.
 */

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include <bpf/bpf.h>
#include <bpf/btf.h>
#include <linux/bpf.h>

#include "common/macro.h"
#include "daemon/bpf-backend.h"
#include "daemon/bpf-multi.h"

DEFINE_TRIVIAL_CLEANUP_FUNC(struct btf *, btf__free);

int bb_obj_kind(int fd) {
        /* a link has two names: "bpf_link" from its creation, "bpf-link" from a pin (6.18) */
        static const struct {
                const char *name;
                int kind;
        } names[] = { { "anon_inode:bpf-prog", 0 }, { "anon_inode:bpf_link", 1 },
                      { "anon_inode:bpf-link", 1 }, { "anon_inode:bpf-map", 2 } };
        char path[64], target[64];
        ssize_t n;

        /* Each kind of bpf object has its own anonymous inode name; info_by_fd would read a map's
         * info into a program's struct without complaint. */
        snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
        n = readlink(path, target, sizeof(target) - 1);
        if (n < 0)
                return -errno;
        target[n] = 0;
        for (size_t k = 0; k < ELEMENTSOF(names); k++)
                if (strcmp(target, names[k].name) == 0)
                        return names[k].kind;
        return -EMEDIUMTYPE;
}

int bb_prog_map_ids(int fd, uint32_t *ids, uint32_t max, uint32_t *ret_n) {
        struct bpf_prog_info i = { .nr_map_ids = max, .map_ids = (uint64_t) (uintptr_t) ids };
        uint32_t len = sizeof(i);

        if (bpf_obj_get_info_by_fd(fd, &i, &len) < 0)
                return -errno;
        *ret_n = i.nr_map_ids < max ? i.nr_map_ids : max;
        return 0;
}

static int btf_object_name(uint32_t obj_id, char *buf, size_t size) {
        _cleanup_close_ int fd = bpf_btf_get_fd_by_id(obj_id);
        struct bpf_btf_info info = { .name = (uint64_t) (uintptr_t) buf, .name_len = (uint32_t) size };
        uint32_t len = sizeof(info);

        if (fd < 0)
                return fd;
        buf[0] = 0;
        if (bpf_obj_get_info_by_fd(fd, &info, &len) < 0)
                return -errno;
        buf[size - 1] = 0;
        return info.kernel_btf ? 1 : 0;
}

/* BTF object obj_id with its name ("vmlinux", a module, or "bpf"); *ret_base is what a module's
 * split BTF stands on (free it after *ret). */
static int btf_object_load(uint32_t obj_id, struct btf **ret, struct btf **ret_base, char *object, size_t size) {
        _cleanup_(btf__freep) struct btf *base = NULL;
        struct btf *btf;
        int r;

        r = btf_object_name(obj_id, object, size);
        if (r < 0)
                return r;
        /* a module's BTF is split: its type ids continue vmlinux's */
        if (r > 0 && strcmp(object, "vmlinux") != 0) {
                base = btf__load_vmlinux_btf();
                if (!base)
                        return -errno;
        }
        if (r == 0)
                snprintf(object, size, "bpf");
        btf = btf__load_from_kernel_by_id_split(obj_id, base);
        if (!btf)
                return -errno;
        *ret = btf;
        *ret_base = TAKE_PTR(base);
        return 0;
}

static const char *btf_func_name(const struct btf *btf, uint32_t type_id) {
        const struct btf_type *t = btf__type_by_id(btf, type_id);
        const char *name = t ? btf__name_by_offset(btf, t->name_off) : NULL;

        return name && *name ? name : NULL;
}

int bb_btf_type_name(uint32_t obj_id, uint32_t type_id, char **ret_name, char **ret_object) {
        _cleanup_(btf__freep) struct btf *base = NULL, *btf = NULL;
        char object[64];
        const char *name;
        int r;

        if (obj_id == 0 || type_id == 0)
                return -ENOENT;
        r = btf_object_load(obj_id, &btf, &base, object, sizeof(object));
        if (r < 0)
                return r;
        name = btf_func_name(btf, type_id);
        if (!name)
                return -ENOENT;
        _cleanup_free_ char *n = strdup(name), *o = strdup(object);
        if (!n || !o)
                return -ENOMEM;
        *ret_name = TAKE_PTR(n);
        *ret_object = TAKE_PTR(o);
        return 0;
}

void bb_multi_functions_done(struct bb_multi_functions *f) {
        for (size_t i = 0; f->names && i < f->n; i++)
                free(f->names[i]);
        free(f->names);
        free(f->ids);
        free(f->btf_object);
        *f = (struct bb_multi_functions) {};
}

int bb_multi_link_functions(int link_fd, struct bb_multi_functions *ret) {
        _cleanup_(bb_multi_link_info_done) struct bb_multi_link_info info = {};
        _cleanup_(bb_multi_functions_done) struct bb_multi_functions f = {};
        _cleanup_(btf__freep) struct btf *base = NULL, *btf = NULL;
        uint32_t vmlinux = 0;
        char object[64];
        int r;

        r = bb_multi_link_info(link_fd, &info);
        if (r < 0)
                return r;
        if (info.count == 0)
                return -ENOENT;
        /* vmlinux's BTF is a file anyone may read; a module's is asked of the kernel by id, which
         * needs CAP_SYS_ADMIN (the systemd unit does not grant it) */
        if (bb_multi_vmlinux_btf_id(&vmlinux) >= 0 && info.btf_obj_id == vmlinux) {
                btf = btf__load_vmlinux_btf();
                if (!btf)
                        return -errno;
                snprintf(object, sizeof(object), "vmlinux");
        } else {
                r = btf_object_load(info.btf_obj_id, &btf, &base, object, sizeof(object));
                if (r < 0)
                        return r;
        }
        f.ids = calloc(info.count, sizeof(uint32_t));
        f.names = calloc(info.count, sizeof(char *));
        f.btf_object = strdup(object);
        if (!f.ids || !f.names || !f.btf_object)
                return -ENOMEM;
        f.n = info.count;
        r = bb_multi_order_by_cookie(info.ids, info.cookies, info.count, f.ids);
        if (r < 0)
                return r;
        f.complete = r > 0;
        for (size_t i = 0; i < f.n; i++) {
                const char *name = btf_func_name(btf, f.ids[i]);

                if (!name)
                        return -ENOENT;
                if (!(f.names[i] = strdup(name)))
                        return -ENOMEM;
        }
        *ret = f;
        f = (struct bb_multi_functions) {};
        return 0;
}
