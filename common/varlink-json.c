/* SPDX-License-Identifier: MIT */
#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <stdint.h>
#include <string.h>

#include "common/macro.h"
#include "common/utf8.h"
#include "common/varlink-json.h"

DEFINE_TRIVIAL_CLEANUP_FUNC(json_object *, json_object_put);

/* An RFC 8259 grammar check run before json-c. It is the only judge of what is JSON: json-c's
 * strict mode takes raw control characters in strings, text that is not UTF-8, Infinity, NaN and
 * numbers like "1.", and from 0.18 on refuses raw non-ASCII UTF-8 (json-c issues 875, 892), so
 * which valid text passed would depend on the json-c a distribution ships. */
struct scan {
        const unsigned char *p;
        unsigned depth;
        size_t n_wide;               /* integers beyond int64 and uint64 */
        /* second pass only: the text again, each wide integer marked as a float (below) */
        const unsigned char *text;
        char *out;
        size_t out_len, copied;
};

static void skip_ws(struct scan *s) {
        while (*s->p == ' ' || *s->p == '\t' || *s->p == '\n' || *s->p == '\r')
                s->p++;
}

static bool digits(struct scan *s) {
        const unsigned char *start = s->p;

        while (*s->p >= '0' && *s->p <= '9')
                s->p++;
        return s->p > start;
}

/* Whether the digits [d, end) of an integer are beyond what json-c can hold exactly: below
 * INT64_MIN or above UINT64_MAX. */
static bool integer_is_wide(const unsigned char *d, const unsigned char *end, bool negative) {
        const char *limit = negative ? "9223372036854775808" : "18446744073709551615";
        size_t n = (size_t) (end - d), max = strlen(limit);

        return n > max || (n == max && strncmp((const char *) d, limit, n) > 0);
}

/* json-c clamps such an integer to INT64_MIN or UINT64_MAX without a word, and nothing in the
 * object it builds tells "-99999999999999999999999" from "-9223372036854775808". Written with
 * "e0" it becomes the float it is as a number, which no int parameter accepts. */
static void mark_wide(struct scan *s) {
        size_t n = (size_t) (s->p - s->text) - s->copied;

        s->n_wide++;
        if (!s->out)
                return;
        memcpy(s->out + s->out_len, s->text + s->copied, n);
        memcpy(s->out + s->out_len + n, "e0", 2);
        s->out_len += n + 2;
        s->copied += n;
}

static bool scan_number(struct scan *s) {
        bool negative = *s->p == '-';
        const unsigned char *d;

        if (negative)
                s->p++;
        d = s->p;
        if (*s->p == '0')
                s->p++;
        else if (!digits(s))
                return false;
        if (*s->p != '.' && *s->p != 'e' && *s->p != 'E' && integer_is_wide(d, s->p, negative))
                mark_wide(s);
        if (*s->p == '.') {
                s->p++;
                if (!digits(s))
                        return false;
        }
        if (*s->p == 'e' || *s->p == 'E') {
                s->p++;
                if (*s->p == '+' || *s->p == '-')
                        s->p++;
                if (!digits(s))
                        return false;
        }
        return true;
}

/* A key is refused if it holds an escaped NUL: json-c keeps keys as C strings, so "handle\u0000x"
 * would silently become "handle", a different key than the one sent. */
static bool scan_string(struct scan *s, bool key) {
        s->p++;   /* the opening quote */
        for (;;) {
                unsigned char c = *s->p;
                size_t n;

                if (c == '"') {
                        s->p++;
                        return true;
                }
                if (c < 0x20)   /* raw control characters, and the end of the text */
                        return false;
                if (c == '\\') {
                        c = *++s->p;
                        if (c == 'u') {
                                for (int i = 1; i <= 4; i++)
                                        if (!isxdigit(s->p[i]))
                                                return false;
                                if (key && strncmp((const char *) s->p + 1, "0000", 4) == 0)
                                        return false;
                                s->p += 5;
                        } else if (c && strchr("\"\\/bfnrt", c))
                                s->p++;
                        else
                                return false;
                        continue;
                }
                n = c < 0x80 ? 1 : utf8_len(s->p);
                if (n == 0)
                        return false;
                s->p += n;
        }
}

static bool scan_value(struct scan *s);

/* Objects and arrays: open, then values (with "key": in objects) separated by commas, close. */
static bool scan_container(struct scan *s, unsigned char close, bool object) {
        if (++s->depth > VL_JSON_DEPTH_MAX)
                return false;
        s->p++;
        skip_ws(s);
        if (*s->p == close) {
                s->p++;
                s->depth--;
                return true;
        }
        for (;;) {
                skip_ws(s);
                if (object) {
                        if (*s->p != '"' || !scan_string(s, true))
                                return false;
                        skip_ws(s);
                        if (*s->p++ != ':')
                                return false;
                }
                if (!scan_value(s))
                        return false;
                skip_ws(s);
                if (*s->p == close) {
                        s->p++;
                        s->depth--;
                        return true;
                }
                if (*s->p++ != ',')
                        return false;
        }
}

static bool literal(struct scan *s, const char *word) {
        size_t n = strlen(word);

        if (strncmp((const char *) s->p, word, n) != 0)
                return false;
        s->p += n;
        return true;
}

static bool scan_value(struct scan *s) {
        skip_ws(s);
        switch (*s->p) {
        case '{': return scan_container(s, '}', true);
        case '[': return scan_container(s, ']', false);
        case '"': return scan_string(s, false);
        case 't': return literal(s, "true");
        case 'f': return literal(s, "false");
        case 'n': return literal(s, "null");
        default: return scan_number(s);
        }
}

static bool scan_text(struct scan *s) {
        if (!scan_value(s))
                return false;
        skip_ws(s);
        return *s->p == 0;
}

/* -EBADMSG if text is not JSON. Otherwise *ret_rewritten is NULL, or the text to give json-c
 * instead, with its wide integers marked (mark_wide()). */
static int text_check(const char *text, size_t len, char **ret_rewritten) {
        struct scan s = { .p = (const unsigned char *) text, .text = (const unsigned char *) text };
        char *out;

        *ret_rewritten = NULL;
        if (!scan_text(&s))
                return -EBADMSG;
        if (s.n_wide == 0)
                return 0;
        out = malloc(len + 2 * s.n_wide + 1);
        if (!out)
                return -ENOMEM;
        s = (struct scan) { .p = (const unsigned char *) text, .text = (const unsigned char *) text,
                            .out = out };
        (void) scan_text(&s);
        memcpy(out + s.out_len, text + s.copied, len - s.copied + 1);
        *ret_rewritten = out;
        return 0;
}

int vl_json_parse(const char *text, json_object **ret) {
        json_tokener *tok = json_tokener_new_ex(VL_JSON_DEPTH_MAX);
        _cleanup_free_ char *rewritten = NULL;
        json_object *o;
        size_t len = strlen(text);
        bool trailing;
        int r;

        if (!tok)
                return -ENOMEM;
        r = text_check(text, len, &rewritten);
        if (r < 0) {
                json_tokener_free(tok);
                return r;
        }
        if (rewritten) {
                text = rewritten;
                len = strlen(text);
        }
        /* not JSON_TOKENER_STRICT: the text is known to be JSON (above), json-c only builds it */
        json_tokener_set_flags(tok, 0);
        if (len > INT32_MAX) {
                json_tokener_free(tok);
                return -EMSGSIZE;
        }
        o = json_tokener_parse_ex(tok, text, (int) len);
        trailing = json_tokener_get_error(tok) != json_tokener_success ||
                   text[json_tokener_get_parse_end(tok) + strspn(text + json_tokener_get_parse_end(tok), " \t\r\n")] != 0;
        json_tokener_free(tok);
        if (!o || trailing || !json_object_is_type(o, json_type_object)) {
                json_object_put(o);
                return -EBADMSG;
        }
        *ret = o;
        return 0;
}

/* json-c keeps what "\u0000" decodes to, but every C string taken from it ends there: a value
 * holding one would be acted on as a different, shorter string than the one sent. */
static bool string_has_nul(json_object *v) {
        return strlen(json_object_get_string(v)) != (size_t) json_object_get_string_len(v);
}

bool vl_json_has_nul(json_object *v) {
        switch (json_object_get_type(v)) {
        case json_type_string:
                return string_has_nul(v);
        case json_type_array:
                for (size_t i = 0; i < json_object_array_length(v); i++)
                        if (vl_json_has_nul(json_object_array_get_idx(v, i)))
                                return true;
                return false;
        case json_type_object: {
                struct json_object_iter it;
                json_object_object_foreachC(v, it)
                        if (vl_json_has_nul(it.val))
                                return true;
                return false;
        }
        default:
                return false;
        }
}

static json_object *params_or_empty(json_object *msg, json_object *p) {
        if (p)
                return p;
        p = json_object_new_object();
        json_object_object_add(msg, "parameters", p);   /* owned by msg from now on */
        return p;
}

int vl_call_parse(json_object *msg, struct vl_call *ret, const char **ret_reason) {
        struct vl_call c = {};
        json_object *p = NULL;

        json_object_object_foreach(msg, key, val) {
                if (strcmp(key, "method") == 0 && json_object_is_type(val, json_type_string))
                        c.method = json_object_get_string(val);
                else if (strcmp(key, "parameters") == 0 && json_object_is_type(val, json_type_object))
                        p = val;
                else if (strcmp(key, "oneway") == 0 && json_object_is_type(val, json_type_boolean))
                        c.oneway = json_object_get_boolean(val);
                else if (strcmp(key, "more") == 0 && json_object_is_type(val, json_type_boolean))
                        c.more = json_object_get_boolean(val);
                else {
                        *ret_reason = "unknown or mistyped field in the call object";
                        return -EBADMSG;
                }
        }
        if (!c.method || !*c.method) {
                *ret_reason = "the call has no \"method\" string";
                return -EBADMSG;
        }
        if (vl_json_has_nul(json_object_object_get(msg, "method"))) {
                *ret_reason = "the method name contains a NUL";
                return -EBADMSG;
        }
        c.parameters = params_or_empty(msg, p);
        if (!c.parameters)
                return -ENOMEM;
        *ret = c;
        return 0;
}

int vl_reply_parse(json_object *msg, struct vl_reply *ret) {
        struct vl_reply r = {};
        json_object *p = NULL;

        json_object_object_foreach(msg, key, val) {
                if (strcmp(key, "error") == 0 && json_object_is_type(val, json_type_string))
                        r.error = json_object_get_string(val);
                else if (strcmp(key, "parameters") == 0 && json_object_is_type(val, json_type_object))
                        p = val;
                else if (strcmp(key, "continues") == 0 && json_object_is_type(val, json_type_boolean))
                        r.continues = json_object_get_boolean(val);
                else
                        return -EBADMSG;
        }
        if (r.error && vl_json_has_nul(json_object_object_get(msg, "error")))
                return -EBADMSG;
        r.parameters = params_or_empty(msg, p);
        if (!r.parameters)
                return -ENOMEM;
        *ret = r;
        return 0;
}

static int param_store(const struct vl_param *p, json_object *val, void *out) {
        char *field = (char *) out + p->offset;
        int64_t i;

        switch (p->type) {
        case VL_INT:
                /* json-c reads 2^63..2^64-1 as uint64 and get_int64 clamps it to INT64_MAX; what
                 * is wider still arrives as a float (mark_wide()) */
                if (!json_object_is_type(val, json_type_int) ||
                    (json_object_get_int64(val) == INT64_MAX && json_object_get_uint64(val) != INT64_MAX))
                        return -EINVAL;
                *(int64_t *) field = json_object_get_int64(val);
                return 0;
        case VL_UINT32:
                if (!json_object_is_type(val, json_type_int))
                        return -EINVAL;
                i = json_object_get_int64(val);
                if (i < 0 || i > UINT32_MAX)
                        return -EINVAL;
                *(uint32_t *) field = (uint32_t) i;
                return 0;
        case VL_STRING:
                if (!json_object_is_type(val, json_type_string) ||
                    (p->valid && !p->valid(json_object_get_string(val))))
                        return -EINVAL;
                *(const char **) field = json_object_get_string(val);
                return 0;
        case VL_BOOL:
                if (!json_object_is_type(val, json_type_boolean))
                        return -EINVAL;
                *(bool *) field = json_object_get_boolean(val);
                return 0;
        case VL_ARRAY:
                if (!json_object_is_type(val, json_type_array))
                        return -EINVAL;
                *(json_object **) field = val;
                return 0;
        case VL_OBJECT:
                if (!json_object_is_type(val, json_type_object))
                        return -EINVAL;
                *(json_object **) field = val;
                return 0;
        }
        return -EINVAL;
}

int vl_params_parse(json_object *parameters, const struct vl_param *spec, void *out,
                    const char **ret_bad) {
        json_object_object_foreach(parameters, key, val) {
                const struct vl_param *p = spec;

                while (p->name && strcmp(p->name, key) != 0)
                        p++;
                /* null is how varlink spells an absent optional field; a NUL anywhere in a
                 * value (a grant in an array, a function in an object) refuses the parameter */
                if (!p->name || vl_json_has_nul(val) ||
                    (val ? param_store(p, val, out) : (p->required ? -EINVAL : 0)) < 0) {
                        *ret_bad = key;
                        return -EINVAL;
                }
        }
        for (const struct vl_param *p = spec; p->name; p++)
                if (p->required && !json_object_object_get(parameters, p->name)) {
                        *ret_bad = p->name;
                        return -EINVAL;
                }
        return 0;
}
