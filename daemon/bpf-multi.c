/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <bpf/bpf.h>
#include <bpf/btf.h>
#include <linux/bpf.h>

#include "daemon/bb-util.h"
#include "daemon/bpf-backend.h"
#include "daemon/bpf-multi.h"
#include "daemon/btf-index.h"

static inline uint64_t ptr_to_u64(const void *p) {
        return (uint64_t) (uintptr_t) p;
}

/* Keeps a new fd above stdio, as libbpf's ensure_good_fd() does; consumes fd. */
static int fd_good(int fd) {
        int n;

        if (fd < 0 || fd >= 3)
                return fd;
        n = bb_fd_dup(fd);
        n = n < 0 ? -errno : n;
        safe_close(fd);
        return n;
}

static long sys_bpf(int cmd, void *attr, size_t size) {
        return syscall(__NR_bpf, cmd, attr, size);
}

/* The value of enumerator name in the enum called enum_name, or -ENOENT. */
static int enum_value(const struct btf *btf, const char *enum_name, const char *name, uint32_t *ret) {
        int id = btf__find_by_name_kind(btf, enum_name, BTF_KIND_ENUM);
        const struct btf_type *t;

        if (id <= 0)
                return -ENOENT;
        t = btf__type_by_id(btf, id);
        for (uint16_t i = 0; i < btf_vlen(t); i++) {
                const struct btf_enum *e = &btf_enum(t)[i];
                const char *n = btf__name_by_offset(btf, e->name_off);

                if (n && strcmp(n, name) == 0) {
                        *ret = (uint32_t) e->val;
                        return 0;
                }
        }
        return -ENOENT;
}

int bb_multi_uapi_from_btf(const struct btf *btf, struct bb_uapi_multi *ret) {
        struct bb_uapi_multi u;
        int id;

        if (!btf)
                return -EINVAL;
        if (enum_value(btf, "bpf_attach_type", BB_UAPI_TRACE_FEXIT_MULTI_NAME, &u.fexit_multi) < 0 ||
            enum_value(btf, "bpf_link_type", BB_UAPI_LINK_TYPE_TRACING_MULTI_NAME, &u.link_type) < 0)
                return -EOPNOTSUPP;
        id = btf__find_by_name_kind(btf, BB_UAPI_MULTI_FUNC_NAME, BTF_KIND_FUNC);
        u.multi_func_id = id > 0 ? (uint32_t) id : 0;
        *ret = u;
        return 0;
}

static struct {
        pthread_once_t once;
        int r;
        struct bb_uapi_multi u;
} kernel_uapi = { .once = PTHREAD_ONCE_INIT };

static void kernel_uapi_init(void) {
        struct btf_index *idx = NULL;

        kernel_uapi.r = btf_index_system(&idx);
        if (kernel_uapi.r >= 0)
                kernel_uapi.r = bb_multi_uapi_from_btf(btf_index_object_btf(idx, 0), &kernel_uapi.u);
        btf_index_unref(idx);
}

int bb_multi_uapi(struct bb_uapi_multi *ret) {
        pthread_once(&kernel_uapi.once, kernel_uapi_init);
        if (kernel_uapi.r < 0)
                return kernel_uapi.r;
        *ret = kernel_uapi.u;
        return 0;
}

struct id_cookie {
        uint64_t cookie;
        uint32_t id;
};

static int cmp_cookie(const void *a, const void *b) {
        uint64_t x = ((const struct id_cookie *) a)->cookie, y = ((const struct id_cookie *) b)->cookie;

        return x < y ? -1 : x > y;
}

int bb_multi_order_by_cookie(const uint32_t *ids, const uint64_t *cookies, size_t n, uint32_t *ret) {
        _cleanup_free_ struct id_cookie *v = calloc(n ? n : 1, sizeof(*v));

        if (!v)
                return -ENOMEM;
        for (size_t i = 0; i < n; i++)
                v[i] = (struct id_cookie) { .cookie = cookies[i], .id = ids[i] };
        qsort(v, n, sizeof(*v), cmp_cookie);
        for (size_t i = 0; i < n; i++)
                if (v[i].cookie == 0 || (i > 0 && v[i].cookie == v[i - 1].cookie))
                        return -EINVAL;   /* not a link of ours */
        for (size_t i = 0; i < n; i++)
                ret[i] = v[i].id;
        /* distinct cookies from 1: the last is n only when none is missing */
        return n > 0 && v[n - 1].cookie == n;
}

bool bb_multi_section(const char *section, bool *ret_sleepable) {
        static const char prefix[] = "fexit.multi";
        const char *rest;

        if (!section || strncmp(section, prefix, strlen(prefix)) != 0)
                return false;
        rest = section + strlen(prefix);
        if (*rest == '\0' || *rest == '/') {
                *ret_sleepable = false;
                return true;
        }
        if (strncmp(rest, ".s", 2) == 0 && (rest[2] == '\0' || rest[2] == '/')) {
                *ret_sleepable = true;
                return true;
        }
        return false;
}

int bb_multi_prog_load(const char *name, const char *license, const void *insns, size_t insn_cnt,
                       uint32_t prog_flags, int btf_obj_fd, char *log, size_t log_size) {
        struct bb_uapi_multi u;
        int r = bb_multi_uapi(&u), fd;
        /* libbpf 1.1's bpf_prog_load() passes expected_attach_type through unchecked, and the
         * kernel puts its own placeholder (bpf_multi_func) in for attach_btf_id 0. */
        LIBBPF_OPTS(bpf_prog_load_opts, o, .prog_flags = prog_flags, .attach_btf_obj_fd = btf_obj_fd,
                    .log_buf = log, .log_size = log ? (uint32_t) log_size : 0, .log_level = log ? 1 : 0);

        if (r < 0)
                return r;
        o.expected_attach_type = (enum bpf_attach_type) u.fexit_multi;
        fd = bpf_prog_load(BPF_PROG_TYPE_TRACING, name, license, insns, insn_cnt, &o);
        return fd < 0 ? fd : fd_good(fd);
}

/* Without the count check of bb_multi_link_create(): the probe sends none on purpose. */
static int link_create(int prog_fd, uint32_t attach_type, const uint32_t *btf_ids,
                       const uint64_t *cookies, uint32_t n) {
        struct bb_uapi_link_create_multi attr = { .prog_fd = (uint32_t) prog_fd,
                                                  .attach_type = attach_type,
                                                  .ids = ptr_to_u64(btf_ids),
                                                  .cookies = ptr_to_u64(cookies), .cnt = n };
        int fd = (int) sys_bpf(BPF_LINK_CREATE, &attr, sizeof(attr));

        return fd < 0 ? -errno : fd_good(fd);
}

int bb_multi_link_create(int prog_fd, const uint32_t *btf_ids, const uint64_t *cookies, size_t n) {
        _cleanup_free_ uint64_t *own = NULL;
        struct bb_uapi_multi u;
        int r = bb_multi_uapi(&u);

        if (r < 0)
                return r;
        if (n == 0 || n > UINT32_MAX)
                return -EINVAL;
        /* The i-th function's cookie is i + 1: bpf_get_attach_cookie() tells the program which
         * function fired (0 is an instance, attached without a cookie), and the kernel's link
         * info (sorted by id) maps back. */
        if (!cookies) {
                own = malloc(n * sizeof(uint64_t));
                if (!own)
                        return -ENOMEM;
                for (size_t i = 0; i < n; i++)
                        own[i] = i + 1;
                cookies = own;
        }
        return link_create(prog_fd, u.fexit_multi, btf_ids, cookies, (uint32_t) n);
}

/* A program that does nothing, loaded as a multi program against btf_obj_fd (0: vmlinux). */
static int noop_load(const char *name, int btf_obj_fd) {
        static const struct bpf_insn insns[] = {
                { .code = BPF_ALU64 | BPF_MOV | BPF_K, .dst_reg = BPF_REG_0, .imm = 0 },
                { .code = BPF_JMP | BPF_EXIT },
        };

        return bb_multi_prog_load(name, "GPL", insns, ELEMENTSOF(insns), 0, btf_obj_fd, NULL, 0);
}

static struct {
        pthread_once_t once;
        int r;
        uint32_t id;
} vmlinux_btf = { .once = PTHREAD_ONCE_INIT };

/* A multi program loaded against vmlinux names vmlinux's BTF object in its info. */
static void vmlinux_btf_init(void) {
        _cleanup_close_ int fd = noop_load("fexitd_btf_id", 0);
        struct bpf_prog_info pi = {};
        uint32_t len = sizeof(pi);

        vmlinux_btf.r = fd < 0 ? fd : bpf_obj_get_info_by_fd(fd, &pi, &len) < 0 ? -errno :
                        pi.attach_btf_obj_id == 0 ? -ENOENT : 0;
        vmlinux_btf.id = pi.attach_btf_obj_id;
}

int bb_multi_vmlinux_btf_id(uint32_t *ret) {
        pthread_once(&vmlinux_btf.once, vmlinux_btf_init);
        if (vmlinux_btf.r < 0)
                return vmlinux_btf.r;
        *ret = vmlinux_btf.id;
        return 0;
}

/* Finding the functions a refused multi-link request failed on ------------------------------- */

struct bisect {
        int probe_fd;                 /* a multi program that does nothing */
        uint32_t attach_type;
        const uint32_t *ids;
        unsigned tries;               /* link requests left */
        struct bb_multi_bad *ret;
};

/* Whether ids[lo, hi) attach together: the probe's link is made and closed again at once. */
static int bisect_try(struct bisect *b, size_t lo, size_t hi) {
        int fd;

        b->tries--;
        fd = link_create(b->probe_fd, b->attach_type, b->ids + lo, NULL, (uint32_t) (hi - lo));
        if (fd < 0)
                return fd;
        safe_close(fd);
        return 0;
}

/* Narrows a refused range down to the single functions the kernel refuses. -ENOMEM (or any
 * failure not of one function's making, -EFAULT, -EPERM) ends the search, as do -ERANGE when the
 * tries or the room for bad functions run out. */
static int bisect_range(struct bisect *b, size_t lo, size_t hi, int r) {
        struct bb_multi_bad *v = b->ret;
        size_t mid = lo + (hi - lo) / 2;

        if (r == 0 && b->tries == 0)
                return -ERANGE;
        if (r == 0)
                r = bisect_try(b, lo, hi);
        if (r >= 0)
                return 0;
        if (r == -ENOMEM || r == -EFAULT || r == -EPERM)
                return r;
        if (hi - lo > 1) {
                r = bisect_range(b, lo, mid, 0);
                return r < 0 ? r : bisect_range(b, mid, hi, 0);
        }
        if (v->n == BB_MULTI_BAD_MAX)
                return -ERANGE;
        v->index[v->n] = lo;
        v->err[v->n++] = -r;
        return 0;
}

int bb_multi_find_bad(uint32_t btf_obj_id, const uint32_t *btf_ids, size_t n, struct bb_multi_bad *ret) {
        _cleanup_close_ int probe = -EBADF, btf_fd = -EBADF;
        struct bisect b = { .ids = btf_ids, .tries = BB_MULTI_TRIES_MAX, .ret = ret };
        struct bb_uapi_multi u;
        uint32_t vmlinux = 0;
        int r;

        *ret = (struct bb_multi_bad) {};
        r = bb_multi_uapi(&u);
        if (r < 0)
                return r;
        if (n == 0 || n > UINT32_MAX)
                return -EINVAL;
        /* vmlinux needs no fd (0); opening a module's BTF by id needs CAP_SYS_ADMIN */
        if (btf_obj_id != 0 && (bb_multi_vmlinux_btf_id(&vmlinux) < 0 || btf_obj_id != vmlinux)) {
                btf_fd = bpf_btf_get_fd_by_id(btf_obj_id);
                if (btf_fd < 0)
                        return -errno;
        }
        probe = noop_load("fexitd_bisect", btf_fd >= 0 ? btf_fd : 0);
        if (probe < 0)
                return probe;
        b.probe_fd = probe;
        b.attach_type = u.fexit_multi;
        r = bisect_range(&b, 0, n, 0);
        if (r < 0)
                return r;
        return ret->n > 0 ? 0 : -ENOENT;
}

/* The probe: the kernel must know the attach type (BTF says so), load a trivial program with it,
 * and answer a link request without targets with EINVAL from the multi-link code (a kernel built
 * without direct ftrace calls answers EOPNOTSUPP). Nothing gets attached. */
int bb_probe_tracing_multi(char *reason, size_t size) {
        _cleanup_close_ int prog = -EBADF, link = -EBADF;
        uint32_t none = 0;
        struct bb_uapi_multi u;
        int r;

        r = bb_multi_uapi(&u);
        if (r < 0) {
                snprintf(reason, size, "%s", r == -EOPNOTSUPP ?
                         "the kernel's BTF has no BPF_TRACE_FEXIT_MULTI" : "cannot read the kernel's BTF");
                return 0;
        }
        prog = noop_load("fexitd_probe", 0);
        if (prog < 0) {
                snprintf(reason, size, "loading a fexit.multi program failed: %s", strerror(-prog));
                return 0;
        }
        link = link_create(prog, u.fexit_multi, &none, NULL, 0);
        if (link == -EINVAL)
                return 1;
        snprintf(reason, size, "an empty tracing multi-link request was answered with %s, not EINVAL",
                 link >= 0 ? "a link" : strerror(-link));
        return 0;
}
