/* SPDX-License-Identifier: MIT */
/* The daemon against its interface file, docs/io.fexitd.varlink, which GetInterfaceDescription
 * serves and varlinkctl validates: every verb of the method tables is declared there with exactly
 * the parameters its spec parses, of the declared types; every row of the error table
 * (daemon/errors.c) is a declared error with exactly its parameters and their types, and every
 * declared error has a row; and every error or method name the daemon's sources spell is
 * declared (or is one of org.varlink.service's). A new error or parameter is one edit plus the
 * IDL; forgetting the IDL fails here. (What the replies carry is checked against the same file
 * by the request fuzzer and its regression replay, test-fuzz-regressions.) */
#include <check.h>
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check-main.h"
#include "daemon/errors.h"
#include "daemon/methods.h"
#include "tests/fuzz/fuzz-idl.h"

static struct idl idl, service;   /* io.fexitd; org.varlink.service as the daemon serves it */

static char *slurp(const char *path) {
        FILE *f = fopen(path, "re");
        char *buf = NULL;
        size_t size = 0;

        ck_assert_msg(f, "cannot open %s", path);
        ck_assert(getdelim(&buf, &size, 0, f) >= 0 || feof(f));
        fclose(f);
        return buf ? buf : strdup("");
}

static void setup(void) {
        char *text = slurp(SOURCE_DIR "/docs/io.fexitd.varlink");

        memset(&idl, 0, sizeof(idl));
        ck_assert_int_eq(idl_parse(&idl, text), 0);
        free(text);
        memset(&service, 0, sizeof(service));
        ck_assert_int_eq(idl_parse(&service, interface_varlink_service), 0);
}

/* Whether a spec's type admits the declared one: the parser takes enums as strings. */
static bool type_matches(enum vl_param_type t, bool required, const char *declared) {
        if (*declared == '?') {
                if (required)
                        return false;
                declared++;
        } else if (!required)
                return false;
        switch (t) {
        case VL_INT:
        case VL_UINT32:
                return strcmp(declared, "int") == 0;
        case VL_STRING:
                return strcmp(declared, "string") == 0 || *declared == '(';
        case VL_BOOL:
                return strcmp(declared, "bool") == 0;
        case VL_ARRAY:
                return strncmp(declared, "[]", 2) == 0;
        case VL_OBJECT:
                return strcmp(declared, "object") == 0 || strncmp(declared, "[string]", 8) == 0 ||
                       (*declared >= 'A' && *declared <= 'Z');
        }
        return false;
}

/* The field called name of fields[n] (a method's inputs, an error's parameters), or NULL. */
static const struct idl_field *field_named(const struct idl_field *fields, size_t n, const char *name) {
        for (size_t i = 0; i < n; i++)
                if (strcmp(fields[i].name, name) == 0)
                        return &fields[i];
        return NULL;
}

static bool in_spec(const struct vl_param *spec, const char *name) {
        for (const struct vl_param *p = spec; p && p->name; p++)
                if (strcmp(p->name, name) == 0)
                        return true;
        return false;
}

static void check_table(const struct method *table) {
        for (const struct method *m = table; m->name; m++) {
                const struct idl_entry *e;

                if (strncmp(m->name, "io.fexitd.", 10) != 0)
                        continue;      /* org.varlink.service is the standard's */
                e = idl_find(&idl, IDL_METHOD, m->name);
                ck_assert_msg(e, "%s is in a method table but not declared in the IDL", m->name);
                for (const struct vl_param *p = m->params; p && p->name; p++) {
                        const struct idl_field *f = field_named(e->inputs, e->n_inputs, p->name);

                        ck_assert_msg(f, "%s parses parameter '%s', which the IDL does not declare",
                                      m->name, p->name);
                        ck_assert_msg(type_matches(p->type, p->required, f->type),
                                      "%s parses '%s' as type %d%s, the IDL declares %s", m->name,
                                      p->name, (int) p->type, p->required ? " (required)" : "", f->type);
                }
                for (size_t i = 0; i < e->n_inputs; i++)
                        ck_assert_msg(in_spec(m->params, e->inputs[i].name),
                                      "the IDL declares %s(%s), which its parameter spec lacks",
                                      m->name, e->inputs[i].name);
        }
}

START_TEST(method_tables_match_the_idl) {
        const struct method *tables[] = { methods_service, methods_query, methods_load, methods_link };
        size_t n = 0;

        for (size_t t = 0; t < sizeof(tables) / sizeof(tables[0]); t++)
                check_table(tables[t]);
        /* and every declared method has a row */
        for (size_t i = 0; i < idl.n; i++) {
                bool found = false;

                if (idl.v[i].kind != IDL_METHOD)
                        continue;
                n++;
                for (size_t t = 0; t < sizeof(tables) / sizeof(tables[0]) && !found; t++)
                        for (const struct method *m = tables[t]; m->name && !found; m++)
                                found = strcmp(m->name, idl.v[i].name) == 0;
                ck_assert_msg(found, "the IDL declares %s, which no method table serves", idl.v[i].name);
        }
        ck_assert_uint_gt(n, 5);
}
END_TEST

static const char *const varlink_service[] = {
        "GetInfo", "GetInterfaceDescription", "InterfaceNotFound", "MethodNotFound",
        "MethodNotImplemented", "InvalidParameter", "PermissionDenied", "ExpectedMore", NULL,
};

static bool standard_name(const char *name) {
        for (size_t i = 0; varlink_service[i]; i++)
                if (strcmp(varlink_service[i], name) == 0)
                        return true;
        return false;
}

/* Every "io.fexitd.Name" and "org.varlink.service.Name" literal of one source file: declared, and
 * an error name only in the error table. */
static size_t check_source(const char *path) {
        const char *base = strrchr(path, '/') ? strrchr(path, '/') + 1 : path;

        char *text = slurp(path), *p = text;
        size_t n = 0;

        while ((p = strstr(p, "\""))) {
                const char *start = ++p, *iface = NULL;
                char name[160];
                size_t len;

                if (strncmp(start, "io.fexitd.", 10) == 0)
                        iface = "io.fexitd";
                else if (strncmp(start, "org.varlink.service.", 20) == 0)
                        iface = "org.varlink.service";
                if (!iface)
                        continue;
                len = strspn(start + strlen(iface) + 1,
                             "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789");
                if (start[strlen(iface) + 1 + len] != '"' || len == 0)
                        continue;      /* a prefix built on, not a whole name */
                snprintf(name, sizeof(name), "%.*s", (int) (strlen(iface) + 1 + len), start);
                if (strcmp(iface, "io.fexitd") == 0)
                        ck_assert_msg(idl_find(&idl, IDL_ERROR, name) || idl_find(&idl, IDL_METHOD, name),
                                      "%s spells \"%s\", which docs/io.fexitd.varlink does not declare",
                                      path, name);
                else
                        ck_assert_msg(standard_name(name + 20), "%s spells \"%s\", not in the standard",
                                      path, name);
                /* the transport (common/varlink-*.c) sends the standard's own errors itself */
                ck_assert_msg(strcmp(base, "errors.c") == 0 || (!idl_find(&idl, IDL_ERROR, name) &&
                                                                (strncmp(base, "varlink-", 8) == 0 ||
                                                                 !idl_find(&service, IDL_ERROR, name))),
                              "%s spells the error \"%s\": use its code of daemon/errors.h", path, name);
                n++;
        }
        free(text);
        return n;
}

START_TEST(error_names_are_declared) {
        const char *dirs[] = { SOURCE_DIR "/daemon", SOURCE_DIR "/common" };
        size_t n = 0;

        for (size_t d = 0; d < 2; d++) {
                DIR *dir = opendir(dirs[d]);
                struct dirent *de;

                ck_assert(dir);
                while ((de = readdir(dir))) {
                        char path[4096];
                        size_t len = strlen(de->d_name);

                        if (len < 3 || (strcmp(de->d_name + len - 2, ".c") != 0 &&
                                        strcmp(de->d_name + len - 2, ".h") != 0))
                                continue;
                        snprintf(path, sizeof(path), "%s/%s", dirs[d], de->d_name);
                        n += check_source(path);
                }
                closedir(dir);
        }
        /* the scan must have found the names it exists for */
        ck_assert_uint_gt(n, 20);
}
END_TEST

/* The IDL type of an error parameter of the table. */
static const char *param_type(enum error_param_type t) {
        switch (t) {
        case EP_INT: return "int";
        case EP_INT_OPT: return "?int";
        case EP_STR: case EP_ECHO: return "string";
        case EP_STR_OPT: return "?string";
        case EP_STRV: return "[]string";
        }
        return "?";
}

static bool row_has(const struct error_row *row, const char *name) {
        for (const struct error_param *p = row->params; p->name; p++)
                if (strcmp(p->name, name) == 0)
                        return true;
        return false;
}

/* Every parameter set, strings long enough to be cut when echoed. */
static struct error_args full_args(void) {
        static char long_name[VL_ECHO_MAX * 2];

        memset(long_name, 'x', sizeof(long_name) - 1);
        return (struct error_args) { .handle = 7, .max = 1, .registers = 13, .expected_fds = 1,
                .received_fds = 2, .index = { true, 3 }, .expected_kind = "program",
                .actual_kind = "map", .name = long_name, .function = long_name, .reason = "r",
                .program = "p", .errno_name = "ENOENT", .message = "m", .log = "l",
                .operation = "o", .limit = "l", .parameter = long_name, .interface = long_name,
                .method = long_name, .suggestions = { "a", "b" } };
}

START_TEST(error_table_matches_the_idl) {
        struct error_args full = full_args();
        size_t n = 0;

        for (int code = _ERR_NONE + 1; code < _ERR_MAX; code++) {
                const struct error_row *row = &error_table[code];
                const struct idl *in;
                const struct idl_entry *e;

                ck_assert_msg(row->name, "error code %d has no row", code);
                in = strncmp(row->name, "org.varlink.service.", 20) == 0 ? &service : &idl;
                e = idl_find(in, IDL_ERROR, row->name);
                ck_assert_msg(e, "the error table sends %s, which its interface does not declare", row->name);
                for (const struct error_param *p = row->params; p->name; p++) {
                        const struct idl_field *f = field_named(e->fields, e->n_fields, p->name);

                        ck_assert_msg(f, "%s sends '%s', which the IDL does not declare", row->name, p->name);
                        ck_assert_msg(strcmp(f->type, param_type(p->type)) == 0,
                                      "%s sends '%s' as %s, the IDL declares %s", row->name, p->name,
                                      param_type(p->type), f->type);
                }
                for (size_t i = 0; i < e->n_fields; i++)
                        ck_assert_msg(row_has(row, e->fields[i].name),
                                      "the IDL declares %s(%s), which its row of the error table lacks",
                                      row->name, e->fields[i].name);
                /* and what the builder makes of the row conforms, with everything and nothing set */
                for (int all = 0; all < 2; all++) {
                        json_object *o = error_params(code, all ? &full : NULL);
                        const char *bad = idl_check(in, e, o);

                        ck_assert_msg(!bad, "%s built %s: %s", row->name,
                                      json_object_to_json_string(o), bad);
                        vl_put(o);
                }
                n++;
        }
        /* every error the IDL declares is in the table */
        for (size_t i = 0; i < idl.n; i++) {
                bool found = false;

                if (idl.v[i].kind != IDL_ERROR)
                        continue;
                for (int code = _ERR_NONE + 1; code < _ERR_MAX && !found; code++)
                        found = strcmp(error_table[code].name, idl.v[i].name) == 0;
                ck_assert_msg(found, "the IDL declares error %s, which the error table lacks", idl.v[i].name);
        }
        ck_assert_uint_gt(n, 17);
}
END_TEST

START_TEST(error_params_echo_and_omit) {
        struct error_args a = full_args();
        json_object *o = error_params(ERR_INVALID_FDS, &a);

        /* a client's string comes back cut; an unset optional int is not sent */
        ck_assert_int_eq(vl_get_int(o, "index", -1), 3);
        vl_put(o);
        a.index.set = false;
        a.parameter = NULL;
        o = error_params(ERR_INVALID_FDS, &a);
        ck_assert(!json_object_object_get_ex(o, "index", NULL));
        ck_assert(!json_object_object_get_ex(o, "parameter", NULL));
        vl_put(o);
        o = error_params(ERR_NO_SUCH_PROGRAM, &(struct error_args) { .name = full_args().name });
        ck_assert_uint_eq(strlen(vl_get_str(o, "name")), VL_ECHO_MAX + 3);
        vl_put(o);
        /* the reply for when no reply can be built is a KernelError too */
        ck_assert_int_eq(vl_json_parse(error_reply_enomem, &o), 0);
        ck_assert_str_eq(vl_get_str(o, "error"), error_name(ERR_KERNEL));
        ck_assert_ptr_null(idl_check(&idl, idl_find(&idl, IDL_ERROR, error_name(ERR_KERNEL)),
                                     json_object_object_get(o, "parameters")));
        vl_put(o);
        o = error_params(ERR_KERNEL, NULL);
        ck_assert_str_eq(vl_get_str(o, "operation"), "");
        ck_assert(!json_object_object_get_ex(o, "log", NULL));
        vl_put(o);
        ck_assert_ptr_null(error_name(_ERR_MAX));
        ck_assert_ptr_null(error_name(0));
}
END_TEST

Suite *test_suite(void) {
        Suite *s = suite_create("idl");
        TCase *tc = tcase_create("conformance");

        tcase_add_checked_fixture(tc, setup, NULL);
        tcase_add_test(tc, method_tables_match_the_idl);
        tcase_add_test(tc, error_names_are_declared);
        tcase_add_test(tc, error_table_matches_the_idl);
        tcase_add_test(tc, error_params_echo_and_omit);
        suite_add_tcase(s, tc);
        return s;
}
