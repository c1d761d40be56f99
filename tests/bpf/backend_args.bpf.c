/* SPDX-License-Identifier: GPL-2.0 */
/* Reads fexit's fifth context slot: vfs_read's return value (four arguments), but beyond the
 * arguments of vfs_fsync (two). Loaded for both, the verifier accepts the first instance and
 * rejects the second: the backend must name vfs_fsync and leave no instance behind. */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>

char LICENSE[] SEC("license") = "GPL";

__u64 sum;

SEC("fexit/vfs_read")
int fifth_slot(unsigned long long *ctx)
{
        sum += ctx[4];
        return 0;
}
