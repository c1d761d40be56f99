// SPDX-License-Identifier: GPL-2.0
/* Return-value statistics of every vfs_* function, from ONE program (catalog entry "vfsret").
 * On a kernel with tracing multi-links fexitd loads it once and attaches it to all of them with
 * one link; each function fires with its own cookie (its position in the handle's functions, plus
 * one), which indexes the stats. On older kernels fexitd loads one instance per function, all
 * with cookie 0: the stats then add up in slot 0. A consumer reads them with a read-only fd
 * (fexitctl share-map, or examples/vfsret/vfsret.c). */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>

char LICENSE[] SEC("license") = "GPL";

struct vfs_ret {
	__u64 calls;
	__u64 errors;        /* returned a negative errno */
	__s64 last_error;
};

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1024);   /* slot 0 and up to 1,023 functions */
	__type(key, __u32);
	__type(value, struct vfs_ret);
} vfs_returns SEC(".maps");

SEC("fexit.multi/vfs_*")
int BPF_PROG(vfs_ret)
{
	__u32 slot = (__u32) bpf_get_attach_cookie(ctx);
	struct vfs_ret *v = bpf_map_lookup_elem(&vfs_returns, &slot);
	__u64 ret = 0;

	if (!v)
		return 0;
	bpf_get_func_ret(ctx, &ret);
	__sync_fetch_and_add(&v->calls, 1);
	if ((__s64) ret < 0 && (__s64) ret >= -4095) {
		__sync_fetch_and_add(&v->errors, 1);
		v->last_error = (__s64) ret;
	}
	return 0;
}
