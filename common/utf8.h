/* SPDX-License-Identifier: MIT */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* A continuation byte of a UTF-8 sequence. */
static inline bool utf8_cont(unsigned char c) {
        return (c & 0xC0) == 0x80;
}

/* Strict UTF-8 (RFC 3629): no overlong forms, no surrogates, nothing above U+10FFFF. Decodes the
 * sequence at s (at most n bytes) into *ret and returns its length, or 0 if it is not valid. */
size_t utf8_decode(const unsigned char *s, size_t n, uint32_t *ret);
/* Length of the well-formed UTF-8 sequence at p, a NUL-terminated string, or 0. */
size_t utf8_len(const unsigned char *p);
