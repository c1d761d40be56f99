/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <fnmatch.h>
#include <pthread.h>
#include <stdio.h>
#include <sys/utsname.h>

#include <linux/version.h>

#include "common/macro.h"
#include "daemon/btf-index.h"
#include "daemon/btf-rules.h"

/* Functions that fexitd never attaches to although the kernel may let it. */
static const struct {
        const char *pattern;
        const char *reason;
} deny_list[] = {
        /* The kernel's own btf_id_deny set (kernel/bpf/verifier.c): the trampoline calls them. */
        { "migrate_disable", "called by the BPF trampoline itself (the kernel's btf_id_deny set)" },
        { "migrate_enable", "called by the BPF trampoline itself (the kernel's btf_id_deny set)" },
        { "rcu_read_unlock_strict", "called by the BPF trampoline itself (the kernel's btf_id_deny set)" },
        { "preempt_count_add", "called by the BPF trampoline itself (the kernel's btf_id_deny set)" },
        { "preempt_count_sub", "called by the BPF trampoline itself (the kernel's btf_id_deny set)" },
        { "___migrate_enable", "called by the BPF trampoline itself (the kernel's btf_id_deny set)" },
        /* The kernel's noreturn_deny set: fexit on a function that never returns is refused (a
         * multi-link with one of them fails for all its functions). */
        { "do_exit", "never returns, so fexit cannot run (the kernel's noreturn_deny set)" },
        { "do_group_exit", "never returns, so fexit cannot run (the kernel's noreturn_deny set)" },
        { "make_task_dead", "never returns, so fexit cannot run (the kernel's noreturn_deny set)" },
        { "kthread_complete_and_exit", "never returns, so fexit cannot run (the kernel's noreturn_deny set)" },
        { "__module_put_and_kthread_exit", "never returns, so fexit cannot run (the kernel's noreturn_deny set)" },
        { "__x64_sys_exit", "never returns, so fexit cannot run (the kernel's noreturn_deny set)" },
        { "__x64_sys_exit_group", "never returns, so fexit cannot run (the kernel's noreturn_deny set)" },
        { "__ia32_sys_exit", "never returns, so fexit cannot run (the kernel's noreturn_deny set)" },
        { "__ia32_sys_exit_group", "never returns, so fexit cannot run (the kernel's noreturn_deny set)" },
        { "__kunit_abort", "never returns, so fexit cannot run (the kernel's noreturn_deny set)" },
        { "kunit_try_catch_throw", "never returns, so fexit cannot run (the kernel's noreturn_deny set)" },
        /* Debian's 6.1 lets these load; attaching __rcu_read_lock hung the machine. */
        { "__rcu_read_lock", "called by the BPF trampoline itself: attaching it hangs Linux 6.1" },
        { "__rcu_read_unlock", "called by the BPF trampoline itself: attaching it hangs Linux 6.1" },
        /* The trampoline's enter/exit path: tracing it would recurse into itself. */
        { "__bpf_prog_enter*", "part of the BPF trampoline: tracing it would recurse" },
        { "__bpf_prog_exit*", "part of the BPF trampoline: tracing it would recurse" },
        { "__bpf_tramp_enter", "part of the BPF trampoline: tracing it would recurse" },
        { "__bpf_tramp_exit", "part of the BPF trampoline: tracing it would recurse" },
        { "bpf_prog_start_time", "part of the BPF trampoline: tracing it would recurse" },
        { "update_prog_stats", "part of the BPF trampoline: tracing it would recurse" },
        /* Spin locks taken inside BPF programs with interrupts off. */
        { "bpf_spin_lock", "BPF spin lock internals: run inside BPF programs with interrupts off" },
        { "bpf_spin_unlock", "BPF spin lock internals: run inside BPF programs with interrupts off" },
        { "__bpf_spin_lock*", "BPF spin lock internals: run inside BPF programs with interrupts off" },
        { "__bpf_spin_unlock*", "BPF spin lock internals: run inside BPF programs with interrupts off" },
};

const char *btf_func_deny_reason(const char *name) {
        for (size_t i = 0; i < ELEMENTSOF(deny_list); i++)
                if (fnmatch(deny_list[i].pattern, name, 0) == 0)
                        return deny_list[i].reason;
        return NULL;
}

int btf_kernel_version_parse(const char *release, uint32_t *ret) {
        unsigned a = 0, b = 0, c = 0;

        if (!release || sscanf(release, "%u.%u.%u", &a, &b, &c) < 2 || a > 255 || b > 255)
                return -EINVAL;
        *ret = KERNEL_VERSION(a, b, c > 255 ? 255 : c);
        return 0;
}

static uint32_t running_kver;

static void kver_once(void) {
        struct utsname u;

        if (uname(&u) == 0)
                (void) btf_kernel_version_parse(u.release, &running_kver);
}

uint32_t btf_kernel_version(void) {
        static pthread_once_t once = PTHREAD_ONCE_INIT;

        pthread_once(&once, kver_once);
        return running_kver;
}

int btf_func_check_args(const struct btf_func *f, uint32_t kver, unsigned max_regs, char *reason,
                        size_t reason_size) {
        if (f->vararg)
                snprintf(reason, reason_size, "%s takes variable arguments, which fexit cannot save",
                         f->name);
        else if (f->nr_args > 12)
                snprintf(reason, reason_size, "%s takes %u arguments; BPF allows at most 12",
                         f->name, f->nr_args);
        else if (f->odd_return)
                snprintf(reason, reason_size,
                         "%s returns a struct, union or floating-point value, which fexit cannot read",
                         f->name);
        else if (f->big_struct_arg)
                snprintf(reason, reason_size,
                         "%s takes a struct of more than 16 bytes by value, which fexit cannot save",
                         f->name);
        else if (f->struct_arg && kver < KERNEL_VERSION(6, 1, 0))
                snprintf(reason, reason_size,
                         "%s takes a struct by value, which fexit supports only since Linux 6.1", f->name);
        else if (max_regs && f->nr_regs > max_regs) {
                snprintf(reason, reason_size,
                         "%s takes %u argument registers; this kernel's fexit trampoline saves at most %u",
                         f->name, f->nr_regs, max_regs);
                return -ERANGE;
        } else
                return 0;
        return -E2BIG;
}
