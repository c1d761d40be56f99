// SPDX-License-Identifier: GPL-2.0
/* fexit on another BPF program: counts the runs of backend_xdp's xdp_pass_main and records its
 * verdict. The daemon attaches it with target_prog_id = that XDP program's id. */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>

char LICENSE[] SEC("license") = "GPL";

__u64 xdp_runs = 0;
__s32 last_verdict = -1;

SEC("fexit/xdp_pass_main")
int BPF_PROG(on_xdp, struct xdp_md *xdp, int ret)
{
	__sync_fetch_and_add(&xdp_runs, 1);
	last_verdict = ret;
	return 0;
}
