/* SPDX-License-Identifier: GPL-2.0 */
/* One program for many functions: it reads no argument, so any target's signature fits. A static
 * subprogram makes sure instances re-use libbpf's final instructions (subprograms appended). */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>

char LICENSE[] SEC("license") = "GPL";

__u64 hits;

static __noinline __u64 bump(__u64 *p)
{
        return __sync_fetch_and_add(p, 1);
}

SEC("fexit/vfs_read")
int count_any(void *ctx)
{
        bump(&hits);
        return 0;
}
