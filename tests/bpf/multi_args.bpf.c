// SPDX-License-Identifier: GPL-2.0
/* One program for many functions (tests/vm/cases/multi-link.sh). On a kernel with tracing
 * multi-links fexitd loads each program once and attaches it with one link; elsewhere once per
 * function. Both programs read the traced function's arguments only through bpf_get_func_arg(),
 * as multi programs must (their ctx has no typed arguments), so they load either way.
 *
 * check_args: BPF_PROG_TEST_RUN of any tracing program calls bpf_fentry_test1..8 (..10 on 7.3)
 * with fixed arguments (net/bpf/test_run.c). Test N of 1..6 takes N arguments, so the argument
 * count tells them apart; ok[N] counts the calls whose arguments and return value were right. */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>

char LICENSE[] SEC("license") = "GPL";

__u64 calls = 0;          /* every call of a traced function */
__u64 ok[7] = {};         /* ok[N]: bpf_fentry_testN (N = 1..6) with the right arguments and result */
__u64 bad = 0;            /* an N-argument call whose arguments or result were wrong */
__u64 cookie[7] = {};     /* cookie[N]: bpf_get_attach_cookie() in bpf_fentry_testN */

static __always_inline __u64 arg(void *ctx, __u32 i)
{
	__u64 v = 0;

	bpf_get_func_arg(ctx, i, &v);
	return v;
}

/* The arguments test_run passes: 1; 2,3; 4,5,6; 7..10; 11..15; 16..21: argument i is first + i.
 * bpf_fentry_test1 returns its argument plus one, the others the sum of their arguments. */
static __always_inline int check(void *ctx, __u64 n, __u64 ret)
{
	__u64 first = n * (n - 1) / 2 + 1, sum = 0;

	for (__u32 i = 0; i < 6; i++) {
		if (i >= n)
			break;
		if ((__u32) arg(ctx, i) != (__u32) (first + i))
			return 0;
		sum += first + i;
	}
	return (__u32) ret == (__u32) (n == 1 ? sum + 1 : sum);
}

SEC("fexit.multi/bpf_fentry_test[0-9]*")
int BPF_PROG(check_args)
{
	__u64 n = bpf_get_func_arg_cnt(ctx), ret = 0;

	__sync_fetch_and_add(&calls, 1);
	bpf_get_func_ret(ctx, &ret);
	if (n < 1 || n > 6)
		return 0;
	if (n == 1 && arg(ctx, 0) != 1)   /* bpf_fentry_test7..10 take one pointer */
		return 0;
	cookie[n] = bpf_get_attach_cookie(ctx);
	if (check(ctx, n, ret))
		__sync_fetch_and_add(&ok[n], 1);
	else
		__sync_fetch_and_add(&bad, 1);
	return 0;
}

/* No pattern: the loader names the functions (a glob over hundreds of them). */
__u64 glob_calls = 0;

SEC("fexit.multi")
int BPF_PROG(count_calls)
{
	__sync_fetch_and_add(&glob_calls, 1);
	return 0;
}
