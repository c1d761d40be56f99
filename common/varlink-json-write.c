/* SPDX-License-Identifier: MIT */
/* The JSON writer: vl_format_*() turn a tree into the text of one message (common/varlink-json.h). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <stdint.h>
#include <string.h>

#include "common/macro.h"
#include "common/utf8.h"
#include "common/varlink-json.h"

/* Strings that came from the kernel or an ELF file (section, program and map names, verifier
 * logs) need not be UTF-8, and json-c writes their bytes as they are. A byte that does not start
 * a well-formed sequence can only be inside a string here, so '?' in its place keeps the text
 * JSON, and one our own strict parser, and every other, accepts. */
static void make_utf8(char *text) {
        unsigned char *p = (unsigned char *) text;

        while (*p) {
                size_t n = *p < 0x80 ? 1 : utf8_len(p);
                if (n == 0) {
                        *p = '?';
                        n = 1;
                }
                p += n;
        }
}

/* Our own writer rather than json_object_to_json_string_ext(): json-c ignores failed appends
 * while it writes, and under memory pressure it printed "version":"" or "":0 for fields it had,
 * a valid message that says something else than the object. (glibc's open_memstream() is no
 * better: a failed grow there lost 32 bytes from the middle of a description.) Every append
 * here is checked; after the first failure nothing more is written and the text is refused. */
struct out {
        char *buf;
        size_t len, cap;
        bool failed;
};

static void put(struct out *o, const char *s, size_t n) {
        if (o->failed)
                return;
        if (GREEDY_REALLOC(o->buf, o->cap, o->len + n + 1) < 0) {
                o->failed = true;
                return;
        }
        memcpy(o->buf + o->len, s, n);
        o->len += n;
        o->buf[o->len] = 0;
}

static void put_str(struct out *o, const char *s) {
        put(o, s, strlen(s));
}

static bool needs_escape(unsigned char c) {
        return c < 0x20 || c == '"' || c == '\\';
}

static void put_string(struct out *o, const char *s, size_t n) {
        put(o, "\"", 1);
        for (size_t i = 0; i < n;) {
                size_t run = 0;
                unsigned char c;
                const char *esc;
                char u[8];

                while (i + run < n && !needs_escape((unsigned char) s[i + run]))
                        run++;
                put(o, s + i, run);   /* the common case: whole names and messages */
                i += run;
                if (i == n)
                        break;
                c = (unsigned char) s[i++];
                esc = c == '"' ? "\\\"" : c == '\\' ? "\\\\" : c == '\b' ? "\\b" : c == '\f' ? "\\f" :
                      c == '\n' ? "\\n" : c == '\r' ? "\\r" : c == '\t' ? "\\t" : NULL;
                if (!esc) {
                        snprintf(u, sizeof(u), "\\u%04x", c);
                        esc = u;
                }
                put_str(o, esc);
        }
        put(o, "\"", 1);
}

/* Without printf: replies are mostly integers, and this is the hot path of every call. */
static void put_uint(struct out *o, uint64_t u, bool minus) {
        char buf[24], *p = buf + sizeof(buf);

        do
                *--p = (char) ('0' + u % 10);
        while ((u /= 10) > 0);
        if (minus)
                *--p = '-';
        put(o, p, (size_t) (buf + sizeof(buf) - p));
}

/* The shortest of %.15g and %.17g that reads back as the same double, always with a '.' or an
 * exponent so that it stays a float, and a '.' whatever the locale. */
static void put_double(struct out *o, double d) {
        char buf[64], *comma;

        if (!isfinite(d)) {
                put_str(o, "null");   /* JSON has no NaN or infinity */
                return;
        }
        snprintf(buf, sizeof(buf), "%.15g", d);
        if (strtod(buf, NULL) != d)
                snprintf(buf, sizeof(buf), "%.17g", d);
        if ((comma = strchr(buf, ',')))
                *comma = '.';
        if (!strpbrk(buf, ".eEn"))
                strcat(buf, ".0");
        put_str(o, buf);
}

static void put_value(struct out *o, json_object *v) {
        struct json_object_iter it;
        bool first = true;

        switch (json_object_get_type(v)) {
        case json_type_null:
                put_str(o, "null");
                return;
        case json_type_boolean:
                put_str(o, json_object_get_boolean(v) ? "true" : "false");
                return;
        case json_type_int:
                if (json_object_get_int64(v) == INT64_MAX)   /* perhaps a uint64 above it */
                        put_uint(o, json_object_get_uint64(v), false);
                else if (json_object_get_int64(v) < 0)
                        put_uint(o, -(uint64_t) json_object_get_int64(v), true);
                else
                        put_uint(o, (uint64_t) json_object_get_int64(v), false);
                return;
        case json_type_double:
                put_double(o, json_object_get_double(v));
                return;
        case json_type_string:
                put_string(o, json_object_get_string(v), (size_t) json_object_get_string_len(v));
                return;
        case json_type_array:
                put(o, "[", 1);
                for (size_t i = 0; i < json_object_array_length(v); i++) {
                        if (i)
                                put(o, ",", 1);
                        put_value(o, json_object_array_get_idx(v, i));
                }
                put(o, "]", 1);
                return;
        case json_type_object:
                put(o, "{", 1);
                json_object_object_foreachC(v, it) {
                        if (!first)
                                put(o, ",", 1);
                        first = false;
                        put_string(o, it.key, strlen(it.key));
                        put(o, ":", 1);
                        put_value(o, it.val);
                }
                put(o, "}", 1);
                return;
        }
}

static char *format(json_object *o) {
        struct out out = {};

        if (!o || vl_broken(o)) {
                vl_put(o);
                return NULL;
        }
        put_value(&out, o);
        vl_put(o);
        if (out.failed || !out.buf) {
                free(out.buf);
                return NULL;
        }
        make_utf8(out.buf);
        return out.buf;
}

char *vl_format_call(const char *method, json_object *parameters, bool oneway) {
        json_object *o = json_object_new_object();

        if (!o) {
                vl_put(parameters);
                return NULL;
        }
        vl_add_str(o, "method", method);
        vl_add(o, "parameters", parameters ? parameters : json_object_new_object());
        if (oneway)
                vl_add_bool(o, "oneway", true);
        return format(o);
}

char *vl_format_reply(json_object *parameters) {
        json_object *o = json_object_new_object();

        if (!o) {
                vl_put(parameters);
                return NULL;
        }
        vl_add(o, "parameters", parameters ? parameters : json_object_new_object());
        return format(o);
}

char *vl_format_error(const char *error, json_object *parameters) {
        json_object *o = json_object_new_object();

        if (!o) {
                vl_put(parameters);
                return NULL;
        }
        vl_add_str(o, "error", error);
        vl_add(o, "parameters", parameters ? parameters : json_object_new_object());
        return format(o);
}
