/* SPDX-License-Identifier: MIT */
#include <string.h>

#include "common/utf8.h"

size_t utf8_decode(const unsigned char *s, size_t n, uint32_t *ret) {
        size_t k;
        uint32_t c, min;

        if (s[0] < 0x80) {
                *ret = s[0];
                return 1;
        }
        if ((s[0] & 0xe0) == 0xc0) {
                k = 2;
                c = s[0] & 0x1f;
                min = 0x80;
        } else if ((s[0] & 0xf0) == 0xe0) {
                k = 3;
                c = s[0] & 0x0f;
                min = 0x800;
        } else if ((s[0] & 0xf8) == 0xf0) {
                k = 4;
                c = s[0] & 0x07;
                min = 0x10000;
        } else
                return 0;
        if (n < k)
                return 0;
        for (size_t i = 1; i < k; i++) {
                if ((s[i] & 0xc0) != 0x80)
                        return 0;
                c = c << 6 | (s[i] & 0x3f);
        }
        if (c < min || c > 0x10ffff || (c >= 0xd800 && c <= 0xdfff))
                return 0;
        *ret = c;
        return k;
}

size_t utf8_len(const unsigned char *p) {
        uint32_t c;

        return utf8_decode(p, strnlen((const char *) p, 4), &c);
}
