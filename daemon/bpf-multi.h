/* SPDX-License-Identifier: MIT */
#pragma once

/*
 * Tracing multi-link (Linux 7.3: one program, one link, N functions), issued with raw bpf()
 * because Debian 12's libbpf 1.1 predates it. Part of the BPF backend: private to
 * the backend's files (bpf-load.c, bpf-kernel.c, ...) and its unit tests; the rest of the
 * daemon sees bpf-backend.h only.
 */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "daemon/bpf-uapi-multi.h"

struct btf;

/* The multi-link's enum values as btf numbers them: -EOPNOTSUPP when its enum bpf_attach_type
 * or enum bpf_link_type has no such enumerator (a kernel without multi-links). */
int bb_multi_uapi_from_btf(const struct btf *btf, struct bb_uapi_multi *ret);

/* The same for the running kernel (vmlinux BTF), looked up once per process. */
int bb_multi_uapi(struct bb_uapi_multi *ret);

/* A multi-link's functions in the order its program has them: the kernel's link info lists ids
 * sorted, each with its cookie, and the cookie of a program's i-th function is i + 1. ret gets
 * the n ids in cookie order. 1 when the cookies are exactly 1..n (the link has every function of
 * its program, so the program's list is known too), 0 when some are missing (functions its
 * Attach left out), -EINVAL for a cookie 0 or twice (not a link of ours). Pure logic. */
int bb_multi_order_by_cookie(const uint32_t *ids, const uint64_t *cookies, size_t n, uint32_t *ret);

/* Whether an ELF section names a multi program, "fexit.multi[.s][/PATTERN]"; *ret_sleepable
 * for the ".s" form. Pure string logic. */
bool bb_multi_section(const char *section, bool *ret_sleepable);

/* Loads insns as a BPF_TRACE_FEXIT_MULTI program. btf_obj_fd: 0 for vmlinux functions, else the
 * module's BTF object. log may be NULL. Returns the fd (>= 3) or -errno. */
int bb_multi_prog_load(const char *name, const char *license, const void *insns, size_t insn_cnt,
                       uint32_t prog_flags, int btf_obj_fd, char *log, size_t log_size);

/* BPF_LINK_CREATE of a tracing multi-link over btf_ids with cookies (NULL: the i-th function's
 * cookie is i + 1; 0 stays free for per-function instances). Returns the link fd or -errno. */
int bb_multi_link_create(int prog_fd, const uint32_t *btf_ids, const uint64_t *cookies, size_t n);

/* At most this many functions are told apart as refused, in at most this many link requests. */
#define BB_MULTI_BAD_MAX 64
#define BB_MULTI_TRIES_MAX 512

/* The functions a refused multi-link request failed on: their index in btf_ids and the kernel's
 * errno for each, in the order of btf_ids. */
struct bb_multi_bad {
        size_t n;
        size_t index[BB_MULTI_BAD_MAX];
        int err[BB_MULTI_BAD_MAX];
};

/* The kernel checks every function of a multi-link request but names none when one fails. This
 * asks it: a program that does nothing (loaded against BTF object btf_obj_id) is attached to
 * halves of btf_ids, and each link closed again at once, down to the single functions it refuses.
 * Nothing stays attached, and only to functions the caller meant to trace anyway, by a program
 * without effect. 0 and ret filled; -ENOENT when every function attaches (the refusal was not
 * about a function); -ERANGE when more than BB_MULTI_BAD_MAX functions fail or the tries run out;
 * any other -errno when the search could not run. */
int bb_multi_find_bad(uint32_t btf_obj_id, const uint32_t *btf_ids, size_t n, struct bb_multi_bad *ret);

/* The kernel's id of vmlinux's BTF object, learnt without CAP_SYS_ADMIN (which BTF_GET_FD_BY_ID
 * needs): a multi program loaded against vmlinux names it in its info. Once per process. */
int bb_multi_vmlinux_btf_id(uint32_t *ret);
