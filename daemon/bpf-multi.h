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

/* Whether an ELF section names a multi program, "fexit.multi[.s][/PATTERN]"; *ret_sleepable
 * for the ".s" form. Pure string logic. */
bool bb_multi_section(const char *section, bool *ret_sleepable);

/* Loads insns as a BPF_TRACE_FEXIT_MULTI program. btf_obj_fd: 0 for vmlinux functions, else the
 * module's BTF object. log may be NULL. Returns the fd (>= 3) or -errno. */
int bb_multi_prog_load(const char *name, const char *license, const void *insns, size_t insn_cnt,
                       uint32_t prog_flags, int btf_obj_fd, char *log, size_t log_size);

/* BPF_LINK_CREATE of a tracing multi-link over btf_ids, the i-th function's cookie i + 1 (0 stays
 * free for per-function instances). Returns the link fd or -errno. */
int bb_multi_link_create(int prog_fd, const uint32_t *btf_ids, size_t n);
