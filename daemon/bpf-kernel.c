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

/* Why the kernel refuses one function of a multi-link (kernel/bpf/trampoline.c, verifier.c). */
static const char *multi_bad_reason(int err) {
        switch (err) {
        case E2BIG:
                return "its trampoline holds as many programs as the kernel allows";
        case EBUSY:
                return "the function is taken: an freplace program, or this program is on it already";
        case ENOENT:
                return "not traceable: no ftrace location, or the function is gone";
        case EINVAL:
                return "the kernel refuses to trace it (its deny list, or its prototype)";
        case EOPNOTSUPP:
                return "the kernel cannot trace its return value";
        default:
                return strerror(err);
        }
}

/* The BTF object a multi program was loaded against, for a probe to load against. */
static int prog_btf_obj_id(int prog_fd, uint32_t *ret) {
        struct bpf_prog_info pi = {};
        uint32_t len = sizeof(pi);

        if (bpf_obj_get_info_by_fd(prog_fd, &pi, &len) < 0)
                return -errno;
        *ret = pi.attach_btf_obj_id;
        return 0;
}

static int skipped_set(struct bb_skipped *s, const char *function, int err) {
        char reason[256];

        snprintf(reason, sizeof(reason), "attach: %s (%s)", multi_bad_reason(err),
                 strerrorname_np(err) ?: "?");
        *s = (struct bb_skipped) { .function = strdup(function), .reason = strdup(reason) };
        return s->function && s->reason ? 0 : -ENOMEM;
}

/* The functions of btf_ids the kernel refuses, as skipped entries, and the rest with their
 * cookies (their position in functions, plus one). 0, or -errno when they cannot be told. */
static int multi_split(int prog_fd, char *const *functions, const uint32_t *btf_ids, size_t n,
                       struct bb_multi_attach *ret, uint32_t *good, uint64_t *cookies, size_t *ret_n_good) {
        _cleanup_free_ struct bb_multi_bad *bad = malloc(sizeof(*bad));
        size_t k = 0, n_good = 0;
        uint32_t btf_obj_id = 0;
        bool too_many;
        int r;

        if (!bad)
                return -ENOMEM;
        r = prog_btf_obj_id(prog_fd, &btf_obj_id);
        if (r >= 0)
                r = bb_multi_find_bad(btf_obj_id, btf_ids, n, bad);
        if (r < 0 && r != -ERANGE)
                return r;
        /* too many to leave out: still named, for the error */
        too_many = r == -ERANGE;
        ret->skipped = calloc(bad->n + 1, sizeof(*ret->skipped));
        ret->skipped_index = calloc(bad->n + 1, sizeof(size_t));
        if (!ret->skipped || !ret->skipped_index)
                return -ENOMEM;
        for (size_t i = 0; i < n; i++) {
                if (k < bad->n && bad->index[k] == i) {
                        ret->skipped_index[ret->n_skipped] = i;
                        r = skipped_set(&ret->skipped[ret->n_skipped++], functions[i], bad->err[k++]);
                        if (r < 0)
                                return r;
                        continue;
                }
                good[n_good] = btf_ids[i];
                cookies[n_good++] = i + 1;
        }
        *ret_n_good = n_good;
        return too_many ? -ERANGE : 0;
}

static int fail_attach_multi(int r, size_t n, const struct bb_multi_attach *a, bool too_many,
                             struct bb_error *err) {
        const char *hint = bb_errno_hint(-r);

        if (too_many)
                r = bb_fail(err, BB_ERR_KERNEL, r, NULL, a->n_skipped ? a->skipped[0].function : NULL,
                            "attaching the multi-link to %zu functions failed: the kernel refuses "
                            "more than %d of them (or they could not be told apart), the first %s: %s",
                            n, BB_MULTI_BAD_MAX, a->n_skipped ? a->skipped[0].function : "?",
                            a->n_skipped ? a->skipped[0].reason + strlen("attach: ") : "?");
        else if (a->n_skipped > 0 && a->n_skipped == n)
                r = bb_fail(err, BB_ERR_KERNEL, r, NULL, a->skipped[0].function, "the kernel refuses "
                            "every function of the multi-link; %s: %s", a->skipped[0].function,
                            a->skipped[0].reason + strlen("attach: "));
        else if (a->n_skipped > 0)
                r = bb_fail(err, BB_ERR_KERNEL, r, NULL, a->skipped[0].function, "attaching the "
                            "multi-link to %zu functions failed (%s) after leaving out %zu it refuses, "
                            "the first %s", n - a->n_skipped, hint ? hint : strerror(-r), a->n_skipped,
                            a->skipped[0].function);
        else
                /* the kernel names no function; a program doing nothing attached to every one of
                 * them, so it is this program's refusal (or too many functions fail to tell) */
                r = bb_fail(err, BB_ERR_KERNEL, r, NULL, NULL, "attaching the multi-link to %zu "
                            "functions failed: %s", n, r == -ENOENT ? "a function is not traceable "
                            "(no ftrace location) or is gone (ENOENT)" : hint ? hint : strerror(-r));
        bb_set_operation(err, "attach");
        return r;
}

void bb_multi_attach_done(struct bb_multi_attach *a) {
        bb_skipped_free(a->skipped, a->n_skipped);
        free(a->skipped_index);
        safe_close(a->link_fd);
        *a = (struct bb_multi_attach) { .link_fd = -EBADF };
}

/* One link over every function; when the kernel refuses that, over those it accepts, the others
 * left out with the reason for each (bb_multi_find_bad()). */
int bb_attach_multi(int prog_fd, char *const *functions, const uint32_t *btf_ids, size_t n,
                    struct bb_multi_attach *ret, struct bb_error *err) {
        _cleanup_(bb_multi_attach_done) struct bb_multi_attach a = { .link_fd = -EBADF };
        _cleanup_free_ uint32_t *good = NULL;
        _cleanup_free_ uint64_t *cookies = NULL;
        size_t n_good = 0;
        int r, first;

        bb_init();
        a.link_fd = first = bb_multi_link_create(prog_fd, btf_ids, NULL, n);
        if (first == -ENOMEM || first == -EFAULT || first == -EPERM)
                return fail_attach_multi(first, n, &a, false, err);
        if (first < 0) {
                good = malloc(n * sizeof(uint32_t));
                cookies = malloc(n * sizeof(uint64_t));
                r = good && cookies ? multi_split(prog_fd, functions, btf_ids, n, &a, good, cookies, &n_good) :
                                      -ENOMEM;
                if (r < 0 || n_good == 0)
                        return fail_attach_multi(first, n, &a, r == -ERANGE, err);
                a.link_fd = bb_multi_link_create(prog_fd, good, cookies, n_good);
                if (a.link_fd < 0)
                        return fail_attach_multi(a.link_fd, n, &a, false, err);
        }
        r = link_id(a.link_fd, &a.link_id, err);
        if (r < 0)
                return r;
        *ret = a;
        a = (struct bb_multi_attach) { .link_fd = -EBADF };
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
        struct bb_uapi_multi u;
        int r = bpf_obj_get_info_by_fd(fd, &i, &len);

        if (r < 0)
                return r;
        *ret = (struct bb_info) { .id = i.id, .type = i.type, .run_cnt = i.run_cnt,
                                  .run_time_ns = i.run_time_ns, .attach_btf_id = i.attach_btf_id,
                                  .attach_btf_obj_id = i.attach_btf_obj_id };
        ret->multi = i.type == BPF_PROG_TYPE_TRACING && i.attach_btf_id != 0 && bb_multi_uapi(&u) >= 0 &&
                     i.attach_btf_id == u.multi_func_id;
        copy_name(ret->name, i.name);
        return 0;
}

int bb_link_info(int fd, struct bb_info *ret) {
        struct bpf_link_info i = {};
        uint32_t len = sizeof(i);
        struct bb_uapi_multi u;
        int r = bpf_obj_get_info_by_fd(fd, &i, &len);

        if (r < 0)
                return r;
        *ret = (struct bb_info) { .id = i.id, .type = i.type, .prog_id = i.prog_id };
        ret->multi = bb_multi_uapi(&u) >= 0 && i.type == u.link_type;
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
