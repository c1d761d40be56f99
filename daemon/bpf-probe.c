/* SPDX-License-Identifier: MIT */
/* What this kernel's fexit can do, found by trying, as libbpf's feature probes do: a version
 * number says nothing about a distribution's config or its backports. Each probe loads a
 * two-instruction program ("return 0") on one of the kernel's own test functions
 * (bpf_fentry_test1, bpf_modify_return_test2: nothing calls them but BPF_PROG_TEST_RUN). Only
 * a kernel without bpf_modify_return_test2 (before 6.6) gets it on an ordinary function instead,
 * for the moment of one attach, which its trampoline refuses there anyway. */
#include <dirent.h>
#include <errno.h>
#include <pthread.h>
#include <string.h>

#include <bpf/bpf.h>
#include <linux/bpf.h>

#include "daemon/bb-util.h"
#include "daemon/bpf-backend.h"
#include "daemon/btf-index.h"
#include "daemon/btf-rules.h"

DEFINE_TRIVIAL_CLEANUP_FUNC(struct btf_index *, btf_index_unref);

/* The trampoline saves at most this many argument registers once it saves more than 6 (x86-64
 * since 6.6, arm64 since 6.9): MAX_BPF_FUNC_ARGS. */
#define PROBE_ARGS_MAX 12

static struct bb_features features;

static int probe_load(uint32_t btf_id, uint32_t flags) {
        const struct bpf_insn insns[] = {
                { .code = BPF_ALU64 | BPF_MOV | BPF_K, .dst_reg = BPF_REG_0, .imm = 0 },
                { .code = BPF_JMP | BPF_EXIT },
        };
        LIBBPF_OPTS(bpf_prog_load_opts, o, .expected_attach_type = BPF_TRACE_FEXIT,
                    .attach_btf_id = btf_id, .prog_flags = flags);
        int fd = bpf_prog_load(BPF_PROG_TYPE_TRACING, "fexitd_probe", "GPL", insns, 2, &o);

        return fd < 0 ? -errno : fd;
}

#define PROBE_TRIES_MAX 8

/* Whether f's trampoline takes more than 6 registers: 1 yes, 0 no (ENOTSUPP, 524), -1 it did not
 * tell (f cannot be traced at all, ...). Loading succeeds before 6.6 too; only attach refuses. */
static int probe_attach_many(const struct btf_func *f) {
        _cleanup_close_ int fd = probe_load(f->btf_id, 0), link = -EBADF;

        if (fd < 0)
                return -1;
        link = bpf_link_create(fd, 0, BPF_TRACE_FEXIT, NULL);
        return link >= 0 ? 1 : link == -524 || link == -E2BIG ? 0 : -1;
}

static bool many_args_candidate(const struct btf_func *f) {
        return f->obj == 0 && f->nr_regs > 6 && f->nr_regs <= PROBE_ARGS_MAX && f->traceable != 0 &&
               !f->vararg && !f->odd_return && !f->big_struct_arg && !btf_func_deny_reason(f->name);
}

/* The kernel's own 7-argument test function where it has one (6.6+), else the first vmlinux
 * functions in name order that need 7..12 registers, until one tells. */
static unsigned probe_max_args(const struct btf_index *idx) {
        const struct btf_func *f = btf_index_lookup(idx, "bpf_modify_return_test2");
        _cleanup_free_ const struct btf_func **v = NULL;
        size_t n = 0, tries = 0;
        int r = f && many_args_candidate(f) ? probe_attach_many(f) : -1;

        if (r < 0 && btf_index_glob(idx, "*", &v, &n) >= 0)
                for (size_t i = 0; r < 0 && i < n && tries < PROBE_TRIES_MAX; i++)
                        if (many_args_candidate(v[i])) {
                                tries++;
                                r = probe_attach_many(v[i]);
                        }
        return r < 0 ? 0 : r ? PROBE_ARGS_MAX : 6;
}

/* Modules' BTF is in /sys/kernel/btf next to vmlinux when the kernel builds it
 * (CONFIG_DEBUG_INFO_BTF_MODULES) and a module is loaded. */
static bool probe_module_btf(void) {
        _cleanup_(closedirp) DIR *d = opendir("/sys/kernel/btf");
        struct dirent *de;

        while (d && (de = readdir(d)))
                if (de->d_name[0] != '.' && strcmp(de->d_name, "vmlinux") != 0)
                        return true;
        return false;
}

static void probe_once(void) {
        _cleanup_(btf_index_unrefp) struct btf_index *idx = NULL;
        const struct btf_func *f;
        int fd;

        features.module_btf = probe_module_btf();
        if (btf_index_system(&idx) < 0 || !(f = btf_index_lookup(idx, "bpf_fentry_test1"))) {
                features.fexit_errno = ENOENT;   /* no kernel BTF, or no test function in it */
                return;
        }
        fd = probe_load(f->btf_id, 0);
        if (fd < 0) {
                features.fexit_errno = -fd;
                return;
        }
        safe_close(fd);
        features.fexit = true;
        /* Newer kernels list bpf_fentry_test1 as sleepable (a KF_SLEEPABLE fmod_ret set); Debian's
         * 6.1 does not, and lacks CONFIG_FUNCTION_ERROR_INJECTION, so nothing is sleepable there. */
        fd = probe_load(f->btf_id, BPF_F_SLEEPABLE);
        features.sleepable_fexit = fd >= 0;
        safe_close(fd);
        features.max_args = probe_max_args(idx);
}

const struct bb_features *bb_features(void) {
        static pthread_once_t once = PTHREAD_ONCE_INIT;

        pthread_once(&once, probe_once);
        return &features;
}
