/* SPDX-License-Identifier: MIT */
/* What this kernel's fexit can do, found by trying, as libbpf's feature probes do: a version
 * number says nothing about a distribution's config or its backports. Each probe loads a
 * two-instruction program ("return 0") on one of the kernel's own test functions
 * (bpf_fentry_test1, bpf_modify_return_test2: nothing calls them but BPF_PROG_TEST_RUN), so
 * attaching it for a moment changes nothing that runs. */
#include <dirent.h>
#include <errno.h>
#include <pthread.h>
#include <string.h>

#include <bpf/bpf.h>
#include <linux/bpf.h>

#include "daemon/bb-util.h"
#include "daemon/bpf-backend.h"
#include "daemon/btf-index.h"

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

/* A vmlinux function that needs more than 6 argument registers and that fexitd may attach to:
 * the kernel's own test function when it has one (6.6+), else the first one in name order. */
static const struct btf_func *many_args_function(const struct btf_index *idx) {
        _cleanup_free_ const struct btf_func **v = NULL;
        const struct btf_func *f = btf_index_lookup(idx, "bpf_modify_return_test2");
        size_t n = 0;

        if (f && f->obj == 0 && f->nr_regs > 6)
                return f;
        if (btf_index_glob(idx, "*", &v, &n) < 0)
                return NULL;
        for (size_t i = 0; i < n; i++)
                if (v[i]->obj == 0 && v[i]->nr_regs > 6 && v[i]->nr_regs <= PROBE_ARGS_MAX &&
                    v[i]->traceable == 1 && !v[i]->vararg && !v[i]->odd_return &&
                    !v[i]->big_struct_arg && !btf_func_deny_reason(v[i]->name))
                        return v[i];
        return NULL;
}

/* Loading a program for 7+ registers succeeds before 6.6 too; the trampoline refuses it only at
 * attach (-ENOTSUPP, 524). Attach and detach it to know. */
static unsigned probe_max_args(const struct btf_index *idx) {
        const struct btf_func *f = many_args_function(idx);
        _cleanup_close_ int fd = -EBADF, link = -EBADF;

        if (!f)
                return 0;
        fd = probe_load(f->btf_id, 0);
        if (fd < 0)
                return 0;
        link = bpf_link_create(fd, 0, BPF_TRACE_FEXIT, NULL);
        return link >= 0 ? PROBE_ARGS_MAX : 6;
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
