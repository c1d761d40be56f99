/* SPDX-License-Identifier: MIT */
/* The daemon against its interface file, docs/io.fexitd.varlink, which GetInterfaceDescription
 * serves and varlinkctl validates: every verb of the method tables is declared there with exactly
 * the parameters its spec parses, and every error or method name the daemon's sources spell is
 * declared (or is one of org.varlink.service's). A new error or parameter is one edit plus the
 * IDL; forgetting the IDL fails here. (What the replies carry is checked against the same file
 * by the request fuzzer and its regression replay, test-fuzz-regressions.) */
#include <check.h>
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check-main.h"
#include "daemon/methods.h"
#include "tests/fuzz/fuzz-idl.h"

static struct idl idl;

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
}

static bool declared_input(const struct idl_entry *m, const char *name) {
        for (size_t i = 0; i < m->n_inputs; i++)
                if (strcmp(m->inputs[i].name, name) == 0)
                        return true;
        return false;
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
                for (const struct vl_param *p = m->params; p && p->name; p++)
                        ck_assert_msg(declared_input(e, p->name),
                                      "%s parses parameter '%s', which the IDL does not declare",
                                      m->name, p->name);
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

/* Every "io.fexitd.Name" and "org.varlink.service.Name" literal of one source file. */
static size_t check_source(const char *path) {
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

START_TEST(every_error_is_sent_somewhere) {
        /* An error the IDL declares but no source spells is a client-visible promise nobody keeps. */
        for (size_t i = 0; i < idl.n; i++) {
                const char *dirs[] = { SOURCE_DIR "/daemon", SOURCE_DIR "/common" };
                char needle[200];
                bool found = false;

                if (idl.v[i].kind != IDL_ERROR)
                        continue;
                snprintf(needle, sizeof(needle), "\"%s\"", idl.v[i].name);
                for (size_t d = 0; d < 2 && !found; d++) {
                        DIR *dir = opendir(dirs[d]);
                        struct dirent *de;

                        ck_assert(dir);
                        while (!found && (de = readdir(dir))) {
                                char path[4096], *text;
                                size_t len = strlen(de->d_name);

                                if (len < 3 || de->d_name[len - 2] != '.' ||
                                    (de->d_name[len - 1] != 'c' && de->d_name[len - 1] != 'h'))
                                        continue;
                                snprintf(path, sizeof(path), "%s/%s", dirs[d], de->d_name);
                                text = slurp(path);
                                found = strstr(text, needle) != NULL;
                                free(text);
                        }
                        closedir(dir);
                }
                ck_assert_msg(found, "the IDL declares error %s, which no source sends", idl.v[i].name);
        }
}
END_TEST

Suite *test_suite(void) {
        Suite *s = suite_create("idl");
        TCase *tc = tcase_create("conformance");

        tcase_add_checked_fixture(tc, setup, NULL);
        tcase_add_test(tc, method_tables_match_the_idl);
        tcase_add_test(tc, error_names_are_declared);
        tcase_add_test(tc, every_error_is_sent_somewhere);
        suite_add_tcase(s, tc);
        return s;
}
