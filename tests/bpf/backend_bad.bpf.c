/* SPDX-License-Identifier: GPL-2.0 */
/* The verifier must reject this: the map lookup's NULL case is dereferenced ("invalid mem
 * access 'map_value_or_null'"). A hash map, since 7.x knows that an array lookup with a constant
 * key in range cannot be NULL; and fexit must return 0, or 7.x rejects it for that instead. */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>

char LICENSE[] SEC("license") = "GPL";

struct {
        __uint(type, BPF_MAP_TYPE_HASH);
        __uint(max_entries, 1);
        __type(key, __u32);
        __type(value, __u64);
} counts SEC(".maps");

SEC("fexit/vfs_unlink")
int BPF_PROG(null_deref)
{
        __u32 key = 0;
        __u64 *v = bpf_map_lookup_elem(&counts, &key);

        *v += 1;        /* no NULL check */
        return 0;
}
