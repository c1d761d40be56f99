/* SPDX-License-Identifier: MIT */
#pragma once

/*
 * What fexitd will attach to, from nothing but a function's name, its BTF facts (struct btf_func)
 * and the kernel's version and trampoline limit: fexitd's deny list and the trampoline's argument
 * rules. Pure functions (the running kernel's version is read once), unit tested without a kernel.
 */

#include <stddef.h>
#include <stdint.h>

struct btf_func;

/* The reason fexitd refuses this function, or NULL. Static strings. */
const char *btf_func_deny_reason(const char *name);

/* Kernel version code as KERNEL_VERSION(a, b, c) from a uname release like "6.1.0-56-amd64". */
int btf_kernel_version_parse(const char *release, uint32_t *ret);
/* The running kernel's version code (uname), cached. */
uint32_t btf_kernel_version(void);

/* Why fexit cannot take f on kernel version kver, whose trampoline saves max_regs argument
 * registers (0: unknown, the kernel decides), or 0 when it can. -ERANGE: more registers than
 * max_regs; -E2BIG: what no fexit takes (varargs, more than 12 arguments, a struct too big).
 * On refusal writes a one-line reason. */
int btf_func_check_args(const struct btf_func *f, uint32_t kver, unsigned max_regs, char *reason,
                        size_t reason_size);
