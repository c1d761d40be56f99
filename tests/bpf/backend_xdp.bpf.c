/* SPDX-License-Identifier: GPL-2.0 */
/* No fexit program at all (bb_load must say so), and a target for fexit on a BPF program. */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>

char LICENSE[] SEC("license") = "GPL";

SEC("xdp")
int xdp_pass_main(struct xdp_md *ctx)
{
        return XDP_PASS;
}
