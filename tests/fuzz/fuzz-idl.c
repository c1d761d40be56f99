/* SPDX-License-Identifier: MIT */
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tests/fuzz/fuzz-idl.h"

#define DEPTH_MAX 8

static const char *skip_ws(const char *p) {
        while (isspace((unsigned char) *p))
                p++;
        return p;
}

/* p at '(': returns the matching ')' or NULL. */
static const char *match_paren(const char *p) {
        int depth = 0;

        for (; *p; p++) {
                depth += *p == '(';
                depth -= *p == ')';
                if (depth == 0)
                        return p;
        }
        return NULL;
}

static void copy_trimmed(char *dst, size_t size, const char *b, const char *e) {
        while (b < e && isspace((unsigned char) *b))
                b++;
        while (e > b && isspace((unsigned char) e[-1]))
                e--;
        snprintf(dst, size, "%.*s", (int) (e - b), b);
}

/* "a: int, b: ?(x, y)" into fields; a member without ':' (an enum) gets an empty type. */
static int split_fields(const char *b, const char *e, struct idl_field *ret, size_t *ret_n) {
        size_t n = 0;
        int depth = 0;

        for (const char *start = b, *p = b; p <= e; p++) {
                if (p < e && *p != ',') {
                        depth += *p == '(';
                        depth -= *p == ')';
                        continue;
                }
                if (p < e && depth > 0)
                        continue;
                const char *colon = memchr(start, ':', (size_t) (p - start));
                char name[64];
                copy_trimmed(name, sizeof(name), start, colon ? colon : p);
                if (*name) {
                        if (n == IDL_FIELDS_MAX)
                                return -E2BIG;
                        snprintf(ret[n].name, sizeof(ret[n].name), "%s", name);
                        if (colon)
                                copy_trimmed(ret[n].type, sizeof(ret[n].type), colon + 1, p);
                        else
                                ret[n].type[0] = 0;
                        n++;
                }
                start = p + 1;
        }
        *ret_n = n;
        return 0;
}

static char *strip_comments(const char *text) {
        char *s = strdup(text), *w = s;
        bool comment = false;

        if (!s)
                return NULL;
        for (const char *r = text; *r; r++) {
                if (*r == '#')
                        comment = true;
                else if (*r == '\n')
                        comment = false;
                if (!comment)
                        *w++ = *r;
        }
        *w = 0;
        return s;
}

static const char *read_word(const char *p, char *buf, size_t size) {
        size_t n = 0;

        while (*p && (isalnum((unsigned char) *p) || *p == '.' || *p == '_')) {
                if (n + 1 < size)
                        buf[n++] = *p;
                p++;
        }
        buf[n] = 0;
        return p;
}

static int parse_entry(struct idl *idl, const char *iface, const char *word, const char **pp) {
        struct idl_entry *e;
        const char *p = *pp, *end;
        char name[128];

        if (idl->n == IDL_ENTRIES_MAX)
                return -E2BIG;
        e = &idl->v[idl->n];
        *e = (struct idl_entry) { .kind = strcmp(word, "method") == 0 ? IDL_METHOD :
                                          strcmp(word, "error") == 0 ? IDL_ERROR : IDL_TYPE };
        p = read_word(skip_ws(p), name, sizeof(name));
        if (!*name)
                return -EBADMSG;
        if (e->kind == IDL_TYPE)
                snprintf(e->name, sizeof(e->name), "%s", name);
        else
                snprintf(e->name, sizeof(e->name), "%s.%s", iface, name);
        p = skip_ws(p);
        if (*p != '(' || !(end = match_paren(p)))
                return -EBADMSG;
        if (e->kind == IDL_METHOD) {           /* the input list; the output follows "->" */
                if (split_fields(p + 1, end, e->inputs, &e->n_inputs) < 0)
                        return -EBADMSG;
                p = skip_ws(end + 1);
                if (strncmp(p, "->", 2) != 0)
                        return -EBADMSG;
                p = skip_ws(p + 2);
                if (*p != '(' || !(end = match_paren(p)))
                        return -EBADMSG;
        }
        if (split_fields(p + 1, end, e->fields, &e->n_fields) < 0)
                return -EBADMSG;
        idl->n++;
        *pp = end + 1;
        return 0;
}

int idl_parse(struct idl *idl, const char *text) {
        char *s = strip_comments(text), iface[128] = "", word[32];
        const char *p = s;
        int r = 0;

        if (!s)
                return -ENOMEM;
        while (r >= 0 && *(p = skip_ws(p))) {
                p = read_word(p, word, sizeof(word));
                if (strcmp(word, "interface") == 0)
                        p = read_word(skip_ws(p), iface, sizeof(iface));
                else if (*iface && (strcmp(word, "method") == 0 || strcmp(word, "error") == 0 ||
                                    strcmp(word, "type") == 0))
                        r = parse_entry(idl, iface, word, &p);
                else
                        r = -EBADMSG;
        }
        free(s);
        return r;
}

const struct idl_entry *idl_find(const struct idl *idl, enum idl_kind kind, const char *name) {
        for (size_t i = 0; i < idl->n; i++)
                if (idl->v[i].kind == kind && strcmp(idl->v[i].name, name) == 0)
                        return &idl->v[i];
        return NULL;
}

static char reason[512];

static const char *fail(const char *field, const char *what, const char *type) {
        snprintf(reason, sizeof(reason), "field \"%s\": %s (declared %s)", field, what, type);
        return reason;
}

static const char *check_fields(const struct idl *idl, const struct idl_field *f, size_t n,
                                json_object *o, int depth);

static bool is_member(const struct idl_field *f, size_t n, const char *s) {
        for (size_t i = 0; i < n; i++)
                if (strcmp(f[i].name, s) == 0)
                        return true;
        return false;
}

static const char *check_type(const struct idl *idl, const char *field, const char *type,
                              json_object *v, int depth) {
        const struct idl_entry *t;

        if (depth > DEPTH_MAX)
                return NULL;
        if (*type == '?') {
                if (!v)
                        return NULL;
                type++;
        }
        if (!v)
                return fail(field, "missing or null", type);
        if (strncmp(type, "[]", 2) == 0 || strncmp(type, "[string]", 8) == 0) {
                bool array = type[1] == ']';
                const char *r = NULL;
                if (!json_object_is_type(v, array ? json_type_array : json_type_object))
                        return fail(field, array ? "not an array" : "not a map", type);
                if (array)
                        for (size_t i = 0; !r && i < json_object_array_length(v); i++)
                                r = check_type(idl, field, type + 2, json_object_array_get_idx(v, i), depth + 1);
                else {
                        json_object_object_foreach(v, k, val)
                                if (!r)
                                        r = check_type(idl, k, type + 8, val, depth + 1);
                }
                return r;
        }
        if (*type == '(') {
                struct idl_field f[IDL_FIELDS_MAX];
                const char *end = match_paren(type);
                size_t n;
                if (!end || split_fields(type + 1, end, f, &n) < 0)
                        return fail(field, "unreadable declaration", type);
                if (n > 0 && !*f[0].type)     /* an enum */
                        return json_object_is_type(v, json_type_string) &&
                               is_member(f, n, json_object_get_string(v)) ? NULL :
                               fail(field, "not one of the enum's values", type);
                return check_fields(idl, f, n, v, depth + 1);
        }
        if (strcmp(type, "int") == 0)
                return json_object_is_type(v, json_type_int) ? NULL : fail(field, "not an int", type);
        if (strcmp(type, "float") == 0)
                return json_object_is_type(v, json_type_double) || json_object_is_type(v, json_type_int) ?
                       NULL : fail(field, "not a number", type);
        if (strcmp(type, "string") == 0)
                return json_object_is_type(v, json_type_string) ? NULL : fail(field, "not a string", type);
        if (strcmp(type, "bool") == 0)
                return json_object_is_type(v, json_type_boolean) ? NULL : fail(field, "not a bool", type);
        if (strcmp(type, "object") == 0)
                return json_object_is_type(v, json_type_object) ? NULL : fail(field, "not an object", type);
        t = idl_find(idl, IDL_TYPE, type);
        if (!t)
                return fail(field, "type not declared in the interface", type);
        if (t->n_fields > 0 && !*t->fields[0].type)
                return json_object_is_type(v, json_type_string) &&
                       is_member(t->fields, t->n_fields, json_object_get_string(v)) ? NULL :
                       fail(field, "not one of the enum's values", type);
        return check_fields(idl, t->fields, t->n_fields, v, depth + 1);
}

static const char *check_fields(const struct idl *idl, const struct idl_field *f, size_t n,
                                json_object *o, int depth) {
        const char *r;

        if (!json_object_is_type(o, json_type_object))
                return fail("(object)", "not an object", "a struct");
        for (size_t i = 0; i < n; i++)
                if ((r = check_type(idl, f[i].name, f[i].type, json_object_object_get(o, f[i].name), depth)))
                        return r;
        json_object_object_foreach(o, k, v) {
                (void) v;
                if (!is_member(f, n, k))
                        return fail(k, "not declared", "nowhere");
        }
        return NULL;
}

const char *idl_check(const struct idl *idl, const struct idl_entry *e, json_object *params) {
        return check_fields(idl, e->fields, e->n_fields, params, 0);
}
