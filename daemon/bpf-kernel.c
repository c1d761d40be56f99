/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <bpf/bpf.h>
#include <bpf/btf.h>
#include <bpf/libbpf.h>
#include <linux/bpf.h>

#include "common/macro.h"
#include "daemon/bb-util.h"
#include "daemon/bpf-backend.h"
#include "daemon/bpf-internal.h"
#include "daemon/bpf-multi.h"
#include "daemon/btf-index.h"

DEFINE_TRIVIAL_CLEANUP_FUNC(struct btf_index *, btf_index_unref);
DEFINE_TRIVIAL_CLEANUP_FUNC(struct btf *, btf__free);

/* Attaching ---------------------------------------------------------------------------------- */

/* The name of the function prog_fd is (to be) attached to, for error messages. Best effort. */
static void attach_function_name(int prog_fd, char *buf, size_t size) {
        _cleanup_(btf_index_unrefp) struct btf_index *idx = NULL;
        _cleanup_(btf__freep) struct btf *own = NULL;
        struct bpf_prog_info pi = {};
        uint32_t len = sizeof(pi);
        const struct btf *btf = NULL;
        const struct btf_type *t;

        if (bpf_obj_get_info_by_fd(prog_fd, &pi, &len) < 0 || pi.attach_btf_id == 0 ||
            btf_index_system(&idx) < 0)
                return;
        btf = btf_index_object_btf(idx, 0);
        t = btf__type_by_id(btf, pi.attach_btf_id);
        if (pi.attach_btf_obj_id) {              /* a module or a BPF program: ask the kernel */
                _cleanup_close_ int fd = bpf_btf_get_fd_by_id(pi.attach_btf_obj_id);
                char name[64] = "";
                struct bpf_btf_info bi = { .name = ptr_to_u64(name), .name_len = sizeof(name) };
                uint32_t blen = sizeof(bi);

                if (fd < 0 || bpf_obj_get_info_by_fd(fd, &bi, &blen) < 0)
                        return;
                if (strcmp(name, "vmlinux") != 0) {
                        own = bi.kernel_btf ?
                                btf__load_from_kernel_by_id_split(bi.id, (struct btf *) btf) :
                                btf__load_from_kernel_by_id(bi.id);
                        btf = own;
                        t = own ? btf__type_by_id(own, pi.attach_btf_id) : NULL;
                }
        }
        if (t && btf_is_func(t))
                snprintf(buf, size, "%s", btf__name_by_offset(btf, t->name_off));
}

static int fail_attach(int prog_fd, int r, struct bb_error *e) {
        const char *hint = bb_errno_hint(-r);
        char function[128] = "";

        if (e)
                attach_function_name(prog_fd, function, sizeof(function));
        r = bb_fail(e, BB_ERR_KERNEL, r, NULL, *function ? function : NULL, "attaching%s%s failed: %s",
                    *function ? " to " : "", function, hint ? hint : strerror(-r));
        bb_set_operation(e, "attach");
        return r;
}

static int link_id(int fd, uint32_t *ret, struct bb_error *err) {
        struct bpf_link_info info = {};
        uint32_t len = sizeof(info);
        int r = bpf_obj_get_info_by_fd(fd, &info, &len);

        if (r < 0) {
                r = bb_fail(err, BB_ERR_KERNEL, r, NULL, NULL, "cannot read the new link's id");
                bb_set_operation(err, "link info");
                return r;
        }
        *ret = info.id;
        return 0;
}

int bb_attach(int prog_fd, int *ret_link_fd, uint32_t *ret_link_id, struct bb_error *err) {
        _cleanup_close_ int fd = -EBADF;
        int r;

        bb_init();
        fd = bpf_link_create(prog_fd, 0, BPF_TRACE_FEXIT, NULL);
        if (fd == -EINVAL)                       /* kernels before 5.10 only know this way */
                fd = bpf_raw_tracepoint_open(NULL, prog_fd);
        if (fd < 0)
                return fail_attach(prog_fd, fd, err);
        r = link_id(fd, ret_link_id, err);
        if (r < 0)
                return r;
        *ret_link_fd = TAKE_FD(fd);
        return 0;
}

int bb_attach_multi(int prog_fd, const uint32_t *btf_ids, size_t n, int *ret_link_fd,
                    uint32_t *ret_link_id, struct bb_error *err) {
        _cleanup_close_ int fd = -EBADF;
        const char *hint;
        int r;

        bb_init();
        fd = bb_multi_link_create(prog_fd, btf_ids, n);
        if (fd < 0) {
                /* the kernel checks every function again and names none: ENOENT is one that
                 * ftrace cannot patch (any more), EINVAL one on its deny list */
                hint = bb_errno_hint(-fd);
                r = bb_fail(err, BB_ERR_KERNEL, fd, NULL, NULL, "attaching the multi-link to %zu "
                            "functions failed: %s", n, fd == -ENOENT ? "a function is not traceable "
                            "(no ftrace location) or is gone (ENOENT)" : hint ? hint : strerror(-fd));
                bb_set_operation(err, "attach");
                return r;
        }
        r = link_id(fd, ret_link_id, err);
        if (r < 0)
                return r;
        *ret_link_fd = TAKE_FD(fd);
        return 0;
}

static int multi_link_info_get(int fd, struct bb_uapi_link_info_multi *i) {
        uint32_t len = sizeof(*i);

        return bpf_obj_get_info_by_fd(fd, i, &len) < 0 ? -errno : 0;
}

int bb_multi_link_info(int link_fd, struct bb_multi_link_info *ret) {
        struct bb_uapi_link_info_multi i = {};
        struct bb_multi_link_info v = {};
        struct bb_uapi_multi u;
        int r;

        r = bb_multi_uapi(&u);
        if (r >= 0)
                r = multi_link_info_get(link_fd, &i);         /* first the count */
        if (r < 0)
                return r;
        if (i.type != u.link_type)
                return -EMEDIUMTYPE;
        v.count = i.count;
        v.btf_obj_id = i.btf_obj_id;
        v.ids = calloc(v.count + 1, sizeof(uint32_t));
        v.addrs = calloc(v.count + 1, sizeof(uint64_t));
        v.cookies = calloc(v.count + 1, sizeof(uint64_t));
        i = (struct bb_uapi_link_info_multi) { .count = (uint32_t) v.count, .ids = ptr_to_u64(v.ids),
                                               .addrs = ptr_to_u64(v.addrs),
                                               .cookies = ptr_to_u64(v.cookies) };
        r = v.ids && v.addrs && v.cookies ? multi_link_info_get(link_fd, &i) : -ENOMEM;
        if (r < 0) {
                bb_multi_link_info_done(&v);
                return r;
        }
        *ret = v;
        return 0;
}

void bb_multi_link_info_done(struct bb_multi_link_info *i) {
        free(i->ids);
        free(i->addrs);
        free(i->cookies);
        *i = (struct bb_multi_link_info) {};
}

/* Pins and fds ------------------------------------------------------------------------------- */

int bb_pin(int fd, const char *path) {
        int r = bpf_obj_pin(fd, path);

        return r < 0 ? -errno : 0;
}

int bb_obj_get(const char *path, bool read_only) {
        LIBBPF_OPTS(bpf_obj_get_opts, o, .file_flags = read_only ? BPF_F_RDONLY : 0);
        int fd = bpf_obj_get_opts(path, &o);

        return fd < 0 ? -errno : fd;
}

/* The pin route for a process without CAP_SYS_ADMIN: pin, open read-only, unpin. */
static int map_fd_readonly_pinned(int map_fd, uint32_t id, const char *pin_dir) {
        static unsigned long counter;
        _cleanup_free_ char *path = NULL;
        int fd, r;

        /* bpffs refuses names with dots (EPERM): they are reserved for the kernel. */
        if (asprintf(&path, "%s/fexitd-ro-%d-%ld-%lu-%u", pin_dir, getpid(), (long) syscall(SYS_gettid),
                     __atomic_add_fetch(&counter, 1, __ATOMIC_RELAXED), id) < 0)
                return -ENOMEM;
        r = bb_pin(map_fd, path);
        if (r < 0)
                return r;
        fd = bb_obj_get(path, true);
        (void) unlink(path);
        return fd;
}

int bb_map_fd_readonly(int map_fd, const char *pin_dir) {
        LIBBPF_OPTS(bpf_get_fd_by_id_opts, o, .open_flags = BPF_F_RDONLY);
        struct bb_info info;
        int fd, r;

        r = bb_map_info(map_fd, &info);
        if (r < 0)
                return r;
        if (info.type == BPF_MAP_TYPE_RINGBUF || info.type == BPF_MAP_TYPE_USER_RINGBUF)
                return -EOPNOTSUPP;
        fd = bpf_map_get_fd_by_id_opts(info.id, &o);
        if (fd >= 0)
                return fd;
        if ((fd == -EPERM || fd == -EACCES) && pin_dir)
                return map_fd_readonly_pinned(map_fd, info.id, pin_dir);
        return fd;
}

int bb_map_freeze(int map_fd) {
        long page = sysconf(_SC_PAGESIZE);
        int err;
        void *p;

        if (bpf_map_freeze(map_fd) == 0)
                return 0;
        err = errno;
        if (err != EPERM && err != EBUSY)
                return -err;
        /* Already frozen? A second freeze fails with EBUSY (6.1) or EPERM (newer kernels drop
         * write permission first), and libbpf freezes .rodata itself. A frozen map refuses a
         * writable mapping with EPERM: that tells. */
        p = mmap(NULL, (size_t) page, PROT_READ | PROT_WRITE, MAP_SHARED, map_fd, 0);
        if (p != MAP_FAILED) {
                munmap(p, (size_t) page);
                return -err;
        }
        return errno == EPERM ? 0 : -err;
}

/* The least access that still serves: see bpf-backend.h. */
int bb_map_share(int map_fd, const char *pin_dir, bool *frozen, bool *ret_writable) {
        struct bb_info info;
        int fd, r;

        r = bb_map_info(map_fd, &info);
        if (r < 0)
                return r;
        if (info.type != BPF_MAP_TYPE_RINGBUF && !(info.map_flags & BPF_F_MMAPABLE)) {
                fd = bb_map_fd_readonly(map_fd, pin_dir);
                if (fd >= 0)
                        *ret_writable = false;
                return fd;
        }
        if (info.type != BPF_MAP_TYPE_RINGBUF && !*frozen) {
                r = bb_map_freeze(map_fd);
                if (r < 0)
                        return r;
                *frozen = true;
        }
        fd = bb_fd_dup(map_fd);
        if (fd < 0)
                return -errno;
        *ret_writable = info.type == BPF_MAP_TYPE_RINGBUF;
        return fd;
}

/* Kernel-side facts -------------------------------------------------------------------------- */

static void copy_name(char dst[16], const char *src) {
        memcpy(dst, src, 15);
        dst[15] = '\0';
}

int bb_prog_info(int fd, struct bb_info *ret) {
        struct bpf_prog_info i = {};
        uint32_t len = sizeof(i);
        int r = bpf_obj_get_info_by_fd(fd, &i, &len);

        if (r < 0)
                return r;
        *ret = (struct bb_info) { .id = i.id, .type = i.type, .run_cnt = i.run_cnt,
                                  .run_time_ns = i.run_time_ns, .attach_btf_id = i.attach_btf_id,
                                  .attach_btf_obj_id = i.attach_btf_obj_id };
        copy_name(ret->name, i.name);
        return 0;
}

int bb_link_info(int fd, struct bb_info *ret) {
        struct bpf_link_info i = {};
        uint32_t len = sizeof(i);
        int r = bpf_obj_get_info_by_fd(fd, &i, &len);

        if (r < 0)
                return r;
        *ret = (struct bb_info) { .id = i.id, .type = i.type, .prog_id = i.prog_id };
        if (i.type == BPF_LINK_TYPE_TRACING) {
                /* The trampoline's key: (BTF object id or target program id, BTF type id). */
                ret->attach_btf_id = i.tracing.target_btf_id;
                ret->attach_btf_obj_id = i.tracing.target_obj_id;
        }
        return 0;
}

int bb_map_info(int fd, struct bb_info *ret) {
        struct bpf_map_info i = {};
        uint32_t len = sizeof(i);
        int r = bpf_obj_get_info_by_fd(fd, &i, &len);

        if (r < 0)
                return r;
        *ret = (struct bb_info) { .id = i.id, .type = i.type, .key_size = i.key_size,
                                  .value_size = i.value_size, .max_entries = i.max_entries,
                                  .map_flags = i.map_flags };
        copy_name(ret->name, i.name);
        return 0;
}

const char *bb_map_type_name(uint32_t type) {
        const char *s = libbpf_bpf_map_type_str(type);

        return s ? s : "unknown";
}
