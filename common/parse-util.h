/* SPDX-License-Identifier: MIT */
#pragma once

#include <stdint.h>

/* A uid or gid in decimal digits only (no sign, no blanks): 0 to 4294967294, since (uid_t) -1
 * means "no id" to the kernel. -EINVAL for anything but digits, -ERANGE above. */
int parse_uid(const char *s, uint32_t *ret);
