/* SPDX-License-Identifier: GPL-2.0 */
/* The backend's success path: an fexit program with a .bss counter (an mmap-able array) and a ring
 * buffer, plus a program of another type that bb_load() must leave out. */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>

char LICENSE[] SEC("license") = "GPL";

struct unlink_event {
        __u32 pid;
        __s32 ret;
};

struct {
        __uint(type, BPF_MAP_TYPE_RINGBUF);
        __uint(max_entries, 4096);
} events SEC(".maps");

__u64 unlink_count;

/* vfs_unlink(idmap or user namespace, dir, dentry, delegated inode) on 6.1 to 7.x alike */
SEC("fexit/vfs_unlink")
int BPF_PROG(count_unlink, void *ns, struct inode *dir, struct dentry *dentry, void *delegated,
             int ret)
{
        struct unlink_event *e;

        __sync_fetch_and_add(&unlink_count, 1);
        e = bpf_ringbuf_reserve(&events, sizeof(*e), 0);
        if (!e)
                return 0;
        e->pid = bpf_get_current_pid_tgid() >> 32;
        e->ret = ret;
        bpf_ringbuf_submit(e, 0);
        return 0;
}

SEC("tp_btf/sched_switch")
int BPF_PROG(not_fexit)
{
        return 0;
}
