/* SPDX-License-Identifier: GPL-2.0 */
/* The verifier must reject this: the map lookup's NULL case is dereferenced. */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>

char LICENSE[] SEC("license") = "GPL";

struct {
        __uint(type, BPF_MAP_TYPE_ARRAY);
        __uint(max_entries, 1);
        __type(key, __u32);
        __type(value, __u64);
} counts SEC(".maps");

SEC("fexit/vfs_unlink")
int BPF_PROG(null_deref)
{
        __u32 key = 0;
        __u64 *v = bpf_map_lookup_elem(&counts, &key);

        return *v;      /* no NULL check */
}
