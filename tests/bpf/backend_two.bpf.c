/* SPDX-License-Identifier: GPL-2.0 */
/* Two fexit programs sharing one counter map; selecting one must leave the other out. */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>

char LICENSE[] SEC("license") = "GPL";

__u64 unlinks, mkdirs;

SEC("fexit/vfs_unlink")
int BPF_PROG(on_unlink)
{
        __sync_fetch_and_add(&unlinks, 1);
        return 0;
}

SEC("fexit/vfs_mkdir")
int BPF_PROG(on_mkdir)
{
        __sync_fetch_and_add(&mkdirs, 1);
        return 0;
}
