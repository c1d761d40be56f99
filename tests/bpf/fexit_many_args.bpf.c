// SPDX-License-Identifier: GPL-2.0
/* fexit on a function of seven arguments, reading the seventh: the kernel's own test function
 * bpf_modify_return_test2(int a, int *b, short c, int d, void *e, char f, int g), which only
 * BPF_PROG_TEST_RUN of an fmod_ret program calls (with g = 7; test_run_trigger.bpf.c). The x86-64
 * trampoline saves 6 argument registers before Linux 6.6 and 12 after. */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>

char LICENSE[] SEC("license") = "GPL";

struct {
	__u64 calls;
	int seventh;
} result = {};

SEC("fexit/bpf_modify_return_test2")
int BPF_PROG(seven_args_exit, int a, int *b, short c, int d, void *e, char f, int g, int ret)
{
	result.seventh = g;
	__sync_fetch_and_add(&result.calls, 1);
	return 0;
}
