/* SPDX-License-Identifier: MIT */
/* common/varlink-json: strict parsing, call/reply objects, declarative parameter specs. */
#include <check.h>
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/macro.h"
#include "common/varlink-json.h"

static json_object *parse_ok(const char *text) {
        json_object *o = NULL;

        ck_assert_msg(vl_json_parse(text, &o) == 0, "refused valid JSON: %s", text);
        ck_assert_ptr_nonnull(o);
        return o;
}

/* ---- strict parsing ---- */

START_TEST(test_parse_valid) {
        static const char *const corpus[] = {
                "{}",
                " \t\r\n{}\n",
                "{\"a\":1}",
                "{\"a\":-0,\"b\":1.5e3,\"c\":-9223372036854775808}",
                "{\"s\":\"\\u00e9\\n\\\"\\\\\\/\",\"u\":\"\xc3\xa9\"}",
                "{\"nested\":{\"a\":[1,[2,[3]],{\"b\":null}],\"t\":true,\"f\":false}}",
                "{\"method\":\"io.fexitd.List\",\"parameters\":{}}",
        };

        for (size_t i = 0; i < ELEMENTSOF(corpus); i++)
                json_object_put(parse_ok(corpus[i]));
}
END_TEST

static const char *const malformed[] = {
        "", " ", "\n", "{", "}", "{{}}", "{\"a\"}", "{\"a\":}", "{\"a\" 1}", "{\"a\":1,}",
        "{,\"a\":1}", "{\"a\":1 \"b\":2}", "{a:1}", "{\"a\":'x'}",
        "{\"a\":01}", "{\"a\":.5}", "{\"a\":+1}", "{\"a\":0x10}", "{\"a\":1e}", "{\"a\":-}",
        "{\"a\":tru}", "{\"a\":TRUE}", "{\"a\":nul}", "{\"a\":nan}", "{\"a\":[1,]}", "{\"a\":[1 2]}",
        "{\"a\":\"unterminated}", "{\"a\":\"\\x41\"}", "{\"a\":\"\\u12\"}", "{\"a\":\"\\q\"}",
        "{/* comment */}", "{} // comment", "\xef\xbb\xbf{}",
        /* not an object at the top */
        "[]", "[{}]", "1", "-1", "\"s\"", "true", "null",
        /* trailing garbage */
        "{}{}", "{} {}", "{}x", "{}\n,", "{\"a\":1}]", "{}\x01",
};

START_TEST(test_parse_malformed) {
        json_object *o = (json_object *) 0x1;
        const char *text = malformed[_i];

        ck_assert_msg(vl_json_parse(text, &o) == -EBADMSG, "accepted: %s", text);
        ck_assert_ptr_eq(o, (json_object *) 0x1);   /* untouched on failure */
}
END_TEST

/* RFC 8259 conformance that a "strict" parser must also enforce. */
static const char *const non_json[] = {
        "{'a':1}",                      /* single-quoted key */
        "{\"a\":NaN}",                  /* not a JSON number */
        "{\"a\":Infinity}",
        "{\"a\":-Infinity}",
        "{\"a\":1.}",                   /* a fraction needs digits */
        "{\"a\":\"x\x01y\"}",           /* raw control character in a string */
        "{\"a\":\"tab\there\"}",
        "{\"a\":\"\xff\"}",             /* not UTF-8 */
        "{\"a\":\"\xc0\x80\"}",         /* overlong encoding of NUL */
        "{\"a\":\"\xed\xa0\x80\"}",     /* UTF-8 encoded surrogate */
        "{\"handle\\u0000x\":1}",          /* json-c would keep this key as "handle" */
        "{\"a\":[{\"\\u0000\":1}]}",
};

START_TEST(test_parse_strict_conformance) {
        json_object *o = NULL;
        const char *text = non_json[_i];

        ck_assert_msg(vl_json_parse(text, &o) == -EBADMSG, "accepted non-JSON #%d: %s", _i, text);
}
END_TEST

static char *nested(size_t depth) {
        char *s = malloc(2 * depth + 16), *p = s;

        p += sprintf(p, "{\"a\":");
        for (size_t i = 1; i < depth; i++)
                *p++ = '[';
        for (size_t i = 1; i < depth; i++)
                *p++ = ']';
        strcpy(p, "}");
        return s;
}

START_TEST(test_parse_depth) {
        _cleanup_free_ char *ok = nested(VL_JSON_DEPTH_MAX), *deep = nested(VL_JSON_DEPTH_MAX + 1);
        _cleanup_free_ char *bomb = malloc(1000002);
        json_object *o = NULL;

        json_object_put(parse_ok(ok));
        ck_assert_int_eq(vl_json_parse(deep, &o), -EBADMSG);
        memset(bomb, '[', 1000000);
        memcpy(bomb, "{\"a\":", 5);
        bomb[1000000] = 0;
        ck_assert_int_eq(vl_json_parse(bomb, &o), -EBADMSG);
        memset(bomb, '{', 1000000);
        ck_assert_int_eq(vl_json_parse(bomb, &o), -EBADMSG);
}
END_TEST

/* Raw UTF-8 is JSON, whatever json-c's version thinks (0.18's strict mode refuses it): a
 * method, a catalog name or a grant with an accent must reach the dispatcher intact, where it
 * gets its proper answer (MethodNotFound, NoSuchCatalogEntry...), never a ProtocolError. */
START_TEST(test_parse_raw_utf8) {
        json_object *o = parse_ok("{\"method\":\"io.fexitd.Frob\xc3\xa9\",\"parameters\":"
                                  "{\"catalog\":\"snoop\xc3\xa9\",\"grants\":[\"user:jos\xc3\xa9\"],"
                                  "\"note\":\"\xe2\x82\xac \xf0\x9f\x90\xa7 \\u00e9\"}}");
        const char *reason = NULL;
        struct vl_call c;

        ck_assert_int_eq(vl_call_parse(o, &c, &reason), 0);
        ck_assert_str_eq(c.method, "io.fexitd.Frob\xc3\xa9");
        ck_assert_str_eq(vl_get_str(c.parameters, "catalog"), "snoop\xc3\xa9");
        ck_assert_str_eq(json_object_get_string(json_object_array_get_idx(
                json_object_object_get(c.parameters, "grants"), 0)), "user:jos\xc3\xa9");
        ck_assert_str_eq(vl_get_str(c.parameters, "note"), "\xe2\x82\xac \xf0\x9f\x90\xa7 \xc3\xa9");
        json_object_put(o);

        /* a reply with non-ASCII text, as the client parses it */
        struct vl_reply r;
        o = parse_ok("{\"error\":\"io.fexitd.NoSuchCatalogEntry\",\"parameters\":{\"name\":\"caf\xc3\xa9\"}}");
        ck_assert_int_eq(vl_reply_parse(o, &r), 0);
        ck_assert_str_eq(vl_get_str(r.parameters, "name"), "caf\xc3\xa9");
        json_object_put(o);
}
END_TEST

/* ---- call and reply objects ---- */

START_TEST(test_call_parse) {
        json_object *o = parse_ok("{\"method\":\"io.fexitd.Describe\",\"parameters\":{\"handle\":3},"
                                  "\"oneway\":false,\"more\":true}");
        const char *reason = NULL;
        struct vl_call c;

        ck_assert_int_eq(vl_call_parse(o, &c, &reason), 0);
        ck_assert_str_eq(c.method, "io.fexitd.Describe");
        ck_assert_int_eq(vl_get_int(c.parameters, "handle", -1), 3);
        ck_assert(!c.oneway);
        ck_assert(c.more);
        ck_assert_ptr_null(reason);
        json_object_put(o);

        o = parse_ok("{\"method\":\"io.fexitd.List\"}");
        ck_assert_int_eq(vl_call_parse(o, &c, &reason), 0);
        ck_assert(json_object_is_type(c.parameters, json_type_object));
        ck_assert_int_eq(json_object_object_length(c.parameters), 0);
        ck_assert(!c.oneway && !c.more);
        json_object_put(o);
}
END_TEST

static const struct {
        const char *text;
        const char *reason;
} bad_calls[] = {
        { "{}", "the call has no \"method\" string" },
        { "{\"parameters\":{}}", "the call has no \"method\" string" },
        { "{\"method\":\"\"}", "the call has no \"method\" string" },
        { "{\"method\":42}", "unknown or mistyped field in the call object" },
        { "{\"method\":\"a.B\",\"parameters\":[]}", "unknown or mistyped field in the call object" },
        { "{\"method\":\"a.B\",\"parameters\":\"x\"}", "unknown or mistyped field in the call object" },
        { "{\"method\":\"a.B\",\"oneway\":1}", "unknown or mistyped field in the call object" },
        { "{\"method\":\"a.B\",\"more\":\"yes\"}", "unknown or mistyped field in the call object" },
        { "{\"method\":\"a.B\",\"extra\":1}", "unknown or mistyped field in the call object" },
        { "{\"method\":\"io.fexitd.List\\u0000x\"}", "the method name contains a NUL" },
};

START_TEST(test_call_parse_bad) {
        json_object *o = parse_ok(bad_calls[_i].text);
        const char *reason = NULL;
        struct vl_call c;

        ck_assert_int_eq(vl_call_parse(o, &c, &reason), -EBADMSG);
        ck_assert_ptr_nonnull(reason);
        ck_assert_str_eq(reason, bad_calls[_i].reason);
        json_object_put(o);
}
END_TEST

START_TEST(test_reply_parse) {
        json_object *o = parse_ok("{\"error\":\"io.fexitd.NoSuchHandle\",\"parameters\":{\"handle\":7}}");
        struct vl_reply r;

        ck_assert_int_eq(vl_reply_parse(o, &r), 0);
        ck_assert_str_eq(r.error, "io.fexitd.NoSuchHandle");
        ck_assert_int_eq(vl_get_int(r.parameters, "handle", -1), 7);
        ck_assert(!r.continues);
        json_object_put(o);

        o = parse_ok("{\"continues\":true}");
        ck_assert_int_eq(vl_reply_parse(o, &r), 0);
        ck_assert_ptr_null(r.error);
        ck_assert(r.continues);
        ck_assert_int_eq(json_object_object_length(r.parameters), 0);
        json_object_put(o);

        o = parse_ok("{\"parameters\":{},\"surprise\":1}");
        ck_assert_int_eq(vl_reply_parse(o, &r), -EBADMSG);
        json_object_put(o);
        o = parse_ok("{\"error\":5}");
        ck_assert_int_eq(vl_reply_parse(o, &r), -EBADMSG);
        json_object_put(o);
        o = parse_ok("{\"error\":\"io.fexitd.NoSuchHandle\\u0000x\"}");
        ck_assert_int_eq(vl_reply_parse(o, &r), -EBADMSG);
        json_object_put(o);
}
END_TEST

START_TEST(test_format) {
        _cleanup_free_ char *call = vl_format_call("io.fexitd.List", NULL, false);
        _cleanup_free_ char *oneway = NULL, *reply = NULL, *error = NULL, *nul = NULL;
        json_object *p = vl_obj();

        ck_assert_str_eq(call, "{\"method\":\"io.fexitd.List\",\"parameters\":{}}");
        vl_add_int(p, "handle", 9);
        oneway = vl_format_call("io.fexitd.Detach", p, true);
        ck_assert_str_eq(oneway, "{\"method\":\"io.fexitd.Detach\",\"parameters\":{\"handle\":9},\"oneway\":true}");
        reply = vl_format_reply(NULL);
        ck_assert_str_eq(reply, "{\"parameters\":{}}");
        p = vl_obj();
        vl_add_str(p, "reason", "a/b");
        error = vl_format_error("io.fexitd.ProtocolError", p);
        ck_assert_str_eq(error, "{\"error\":\"io.fexitd.ProtocolError\",\"parameters\":{\"reason\":\"a/b\"}}");

        /* a NUL inside a string must be escaped, or it would end the frame early */
        p = vl_obj();
        vl_add(p, "s", json_object_new_string_len("a\0b\x01", 4));
        nul = vl_format_reply(p);
        ck_assert_str_eq(nul, "{\"parameters\":{\"s\":\"a\\u0000b\\u0001\"}}");
}
END_TEST

START_TEST(test_getters) {
        json_object *o = parse_ok("{\"i\":5,\"s\":\"x\",\"b\":true,\"n\":null,\"d\":1.5}");

        ck_assert_int_eq(vl_get_int(o, "i", -1), 5);
        ck_assert_int_eq(vl_get_int(o, "s", -1), -1);
        ck_assert_int_eq(vl_get_int(o, "d", -1), -1);
        ck_assert_int_eq(vl_get_int(o, "missing", -7), -7);
        ck_assert_int_eq(vl_get_int(NULL, "i", -2), -2);
        ck_assert_str_eq(vl_get_str(o, "s"), "x");
        ck_assert_ptr_null(vl_get_str(o, "i"));
        ck_assert_ptr_null(vl_get_str(o, "n"));
        ck_assert(vl_get_bool(o, "b", false));
        ck_assert(!vl_get_bool(o, "i", false));
        ck_assert(vl_get_bool(o, "missing", true));
        json_object_put(o);
}
END_TEST

/* ---- parameter specs ---- */

struct params {
        int64_t handle;
        uint32_t id;
        const char *name;
        bool attach;
        json_object *list;
        json_object *obj;
};

static const struct vl_param spec[] = {
        { "handle", VL_INT,    true,  offsetof(struct params, handle) },
        { "id",     VL_UINT32, false, offsetof(struct params, id) },
        { "name",   VL_STRING, false, offsetof(struct params, name) },
        { "attach", VL_BOOL,   false, offsetof(struct params, attach) },
        { "list",   VL_ARRAY,  false, offsetof(struct params, list) },
        { "obj",    VL_OBJECT, false, offsetof(struct params, obj) },
        {}
};

START_TEST(test_params_all) {
        json_object *o = parse_ok("{\"handle\":-5,\"id\":4294967295,\"name\":\"n\",\"attach\":true,"
                                  "\"list\":[1],\"obj\":{\"k\":1}}");
        struct params p = {};
        const char *bad = NULL;

        ck_assert_int_eq(vl_params_parse(o, spec, &p, &bad), 0);
        ck_assert_int_eq(p.handle, -5);
        ck_assert_uint_eq(p.id, UINT32_MAX);
        ck_assert_str_eq(p.name, "n");
        ck_assert(p.attach);
        ck_assert_int_eq(json_object_array_length(p.list), 1);
        ck_assert_int_eq(vl_get_int(p.obj, "k", 0), 1);
        ck_assert_ptr_null(bad);
        json_object_put(o);
}
END_TEST

START_TEST(test_params_optional_null_and_absent) {
        json_object *o = parse_ok("{\"handle\":1,\"name\":null,\"attach\":null}");
        struct params p = { .id = 77, .name = "default", .attach = true };
        const char *bad = NULL;

        ck_assert_int_eq(vl_params_parse(o, spec, &p, &bad), 0);
        ck_assert_int_eq(p.handle, 1);
        ck_assert_uint_eq(p.id, 77);            /* absent: untouched */
        ck_assert_str_eq(p.name, "default");    /* null: untouched */
        ck_assert(p.attach);
        json_object_put(o);
}
END_TEST

static const struct {
        const char *text;
        const char *bad;
} bad_params[] = {
        { "{}", "handle" },                                     /* missing required */
        { "{\"handle\":null}", "handle" },                      /* null for required */
        { "{\"handle\":\"1\"}", "handle" },                     /* string for int */
        { "{\"handle\":1.0}", "handle" },                       /* double for int */
        { "{\"handle\":true}", "handle" },
        { "{\"handle\":[1]}", "handle" },
        { "{\"handle\":1,\"id\":-1}", "id" },                   /* uint32 range */
        { "{\"handle\":1,\"id\":4294967296}", "id" },
        { "{\"handle\":1,\"id\":1.5}", "id" },
        { "{\"handle\":1,\"name\":5}", "name" },
        { "{\"handle\":1,\"attach\":1}", "attach" },
        { "{\"handle\":1,\"attach\":\"true\"}", "attach" },
        { "{\"handle\":1,\"list\":{}}", "list" },
        { "{\"handle\":1,\"obj\":[]}", "obj" },
        { "{\"handle\":1,\"unknown\":1}", "unknown" },          /* unknown parameter */
        { "{\"unknown\":null,\"handle\":1}", "unknown" },
        /* a NUL in any string of a value: C would act on the part before it (issue 11, D3) */
        { "{\"handle\":1,\"name\":\"unlinksnoop\\u0000../../x\"}", "name" },
        { "{\"handle\":1,\"name\":\"\\u0000\"}", "name" },
        { "{\"handle\":1,\"list\":[\"user:root\\u0000junk\"]}", "list" },
        { "{\"handle\":1,\"obj\":{\"function\":\"vfs_read\\u0000x\"}}", "obj" },
        { "{\"handle\":1,\"list\":[{\"functions\":[\"a\",\"b\\u0000\"]}]}", "list" },
        { "{\"handle\":1,\"attach\":\"\\u0000\"}", "attach" },
};

START_TEST(test_params_bad) {
        json_object *o = parse_ok(bad_params[_i].text);
        struct params p = {};
        const char *bad = NULL;

        ck_assert_int_eq(vl_params_parse(o, spec, &p, &bad), -EINVAL);
        ck_assert_ptr_nonnull(bad);
        ck_assert_str_eq(bad, bad_params[_i].bad);
        json_object_put(o);
}
END_TEST

/* Integers beyond int64 must be refused, not clamped to INT64_MAX/INT64_MIN. */
START_TEST(test_params_int64_overflow) {
        json_object *o = parse_ok("{\"handle\":9223372036854775808}");
        struct params p = {};
        const char *bad = NULL;

        ck_assert_int_eq(vl_params_parse(o, spec, &p, &bad), -EINVAL);
        json_object_put(o);
        o = parse_ok("{\"handle\":9223372036854775807}");
        ck_assert_int_eq(vl_params_parse(o, spec, &p, &bad), 0);
        ck_assert_int_eq(p.handle, INT64_MAX);
        json_object_put(o);
}
END_TEST

/* Both sides (issue 11, D4): json-c clamped -99999999999999999999999 to INT64_MIN, a valid
 * handle number, so Describe answered NoSuchHandle -9223372036854775808. */
static const struct {
        const char *text;
        int r;
        int64_t handle;
} int_edges[] = {
        { "{\"handle\":-9223372036854775808}", 0, INT64_MIN },
        { "{\"handle\":-9223372036854775809}", -EINVAL, 0 },
        { "{\"handle\":-99999999999999999999999}", -EINVAL, 0 },
        { "{\"handle\":-18446744073709551616}", -EINVAL, 0 },
        { "{\"handle\":18446744073709551615}", -EINVAL, 0 },
        { "{\"handle\":18446744073709551616}", -EINVAL, 0 },
        { "{\"handle\":99999999999999999999999}", -EINVAL, 0 },
        { "{\"handle\":-0}", 0, 0 },
        { "{\"handle\":1,\"id\":-99999999999999999999999}", -EINVAL, 1 },
        /* a wide integer elsewhere in the message leaves the others as they were */
        { "{\"list\":[-99999999999999999999999,\"-99999999999999999999999\"],\"handle\":-7}", 0, -7 },
};

START_TEST(test_params_int64_edges) {
        json_object *o = parse_ok(int_edges[_i].text);
        struct params p = {};
        const char *bad = NULL;

        ck_assert_int_eq(vl_params_parse(o, spec, &p, &bad), int_edges[_i].r);
        if (int_edges[_i].r == 0)
                ck_assert_int_eq(p.handle, int_edges[_i].handle);
        else
                ck_assert_str_eq(bad, int_edges[_i].handle ? "id" : "handle");
        if (p.list) {
                ck_assert(json_object_is_type(json_object_array_get_idx(p.list, 0), json_type_double));
                ck_assert_str_eq(json_object_get_string(json_object_array_get_idx(p.list, 1)),
                                 "-99999999999999999999999");
        }
        json_object_put(o);
}
END_TEST

static bool only_x(const char *s) {
        return strspn(s, "x") == strlen(s);
}

START_TEST(test_params_validator) {
        static const struct vl_param xs[] = { { "name", VL_STRING, true, 0, only_x }, {} };
        json_object *o = parse_ok("{\"name\":\"xxx\"}");
        const char *name = NULL, *bad = NULL;

        ck_assert_int_eq(vl_params_parse(o, xs, &name, &bad), 0);
        ck_assert_str_eq(name, "xxx");
        json_object_put(o);
        name = NULL;
        o = parse_ok("{\"name\":\"xyx\"}");
        ck_assert_int_eq(vl_params_parse(o, xs, &name, &bad), -EINVAL);
        ck_assert_str_eq(bad, "name");
        ck_assert_ptr_null(name);
        json_object_put(o);
}
END_TEST

/* An error echoes at most VL_ECHO_MAX bytes of what the client sent, cut between characters. */
START_TEST(test_add_echo) {
        char s[VL_ECHO_MAX * 2];
        json_object *o = vl_obj();

        memset(s, 'a', sizeof(s) - 1);
        s[sizeof(s) - 1] = 0;
        vl_add_echo(o, "long", s);
        s[VL_ECHO_MAX] = 0;
        vl_add_echo(o, "max", s);
        memcpy(s + VL_ECHO_MAX - 1, "\xc3\xa9\xc3\xa9", 5);   /* é across the cut */
        vl_add_echo(o, "utf8", s);
        vl_add_echo(o, "null", NULL);
        ck_assert_uint_eq(strlen(vl_get_str(o, "long")), VL_ECHO_MAX + 3);
        ck_assert_str_eq(vl_get_str(o, "long") + VL_ECHO_MAX, "...");
        ck_assert_uint_eq(strlen(vl_get_str(o, "max")), VL_ECHO_MAX);
        ck_assert_uint_eq(strlen(vl_get_str(o, "utf8")), VL_ECHO_MAX - 1 + 3);
        ck_assert_str_eq(vl_get_str(o, "utf8") + VL_ECHO_MAX - 1, "...");
        ck_assert_ptr_null(vl_get_str(o, "null"));
        json_object_put(o);
}
END_TEST

/* Our writer: every JSON type as json-c wrote it, and a double stays a double. */
START_TEST(test_format_values) {
        json_object *p = vl_obj(), *a = vl_array();
        _cleanup_free_ char *text = NULL;

        vl_add_double(p, "d", 1.5);
        vl_add_double(p, "two", 2.0);
        vl_add_double(p, "third", 1.0 / 3);
        vl_add(p, "u", json_object_new_uint64(UINT64_MAX));
        vl_add_int(p, "max", INT64_MAX);
        vl_add_int(p, "min", INT64_MIN);
        vl_add_bool(p, "b", true);
        vl_append(a, json_object_new_string("\"\\\b\f\n\r\t/\x7f\xc3\xa9"));
        vl_append(a, vl_obj());
        vl_add(p, "a", a);
        text = vl_format_reply(p);
        ck_assert_str_eq(text, "{\"parameters\":{\"d\":1.5,\"two\":2.0,\"third\":0.33333333333333331,"
                               "\"u\":18446744073709551615,\"max\":9223372036854775807,"
                               "\"min\":-9223372036854775808,\"b\":true,"
                               "\"a\":[\"\\\"\\\\\\b\\f\\n\\r\\t/\x7f\xc3\xa9\",{}]}}");
        json_object_put(parse_ok(text));
}
END_TEST

/* A builder that could not allocate breaks what it is added to, however deep, and a broken
 * message is never formatted: no reply with a field quietly missing. (json-c spells a failed
 * allocation and JSON null alike, NULL; builders never add null.) */
START_TEST(test_broken_builders) {
        json_object *p = vl_obj(), *inner = vl_obj(), *list = vl_array();

        vl_add(p, "inner", inner);          /* added first, broken after */
        vl_add(p, "list", list);
        vl_add_int(p, "ok", 1);
        ck_assert(!vl_broken(p));
        vl_append(list, NULL);              /* what a failed json_object_new_*() returns */
        ck_assert(vl_broken(list));
        ck_assert(vl_broken(p));
        ck_assert_ptr_null(vl_format_reply(p));
        p = vl_obj();
        vl_add(p, "x", NULL);
        ck_assert_ptr_null(vl_format_error("io.fexitd.KernelError", p));
        vl_add(NULL, "x", json_object_new_int(1));   /* released, not leaked, not a crash */
        vl_append(NULL, json_object_new_int(1));
}
END_TEST

/* json-c 0.19 frees containers without recursion and crashed on a broken one with members; each
 * shape here aborted in json_object_put() on forky before vl_put() untagged trees first. */
START_TEST(test_put_broken_trees) {
        json_object *o = vl_obj(), *a = vl_array(), *deep = vl_obj(), *inner = vl_obj();

        vl_add_str(o, "k", "v");
        vl_add(o, "x", NULL);                 /* o: broken, with a member */
        ck_assert(vl_broken(o));
        vl_put(o);

        vl_append(a, json_object_new_int(3));
        vl_append(a, NULL);                   /* a: broken, with a member */
        vl_put(a);

        vl_add(deep, "inner", inner);
        vl_add_int(inner, "n", 1);
        vl_add(inner, "bad", NULL);           /* broken below the root */
        vl_add(deep, "inner", vl_obj());      /* and replaced: json-c frees the broken one */
        ck_assert(!vl_broken(deep));
        vl_put(deep);
        o = vl_obj();
        vl_add_int(o, "a", 1);
        vl_add(o, "b", NULL);
        ck_assert_ptr_null(vl_format_reply(o));   /* frees it inside a new envelope */
}
END_TEST

static Suite *suite(void) {
        Suite *s = suite_create("varlink-json");
        TCase *parse = tcase_create("parse"), *strict = tcase_create("strict-conformance");
        TCase *msg = tcase_create("call-reply"), *params = tcase_create("params");

        tcase_add_test(parse, test_parse_valid);
        tcase_add_loop_test(parse, test_parse_malformed, 0, ELEMENTSOF(malformed));
        tcase_add_test(parse, test_parse_depth);
        tcase_add_test(parse, test_parse_raw_utf8);
        tcase_add_loop_test(strict, test_parse_strict_conformance, 0, ELEMENTSOF(non_json));
        tcase_add_test(msg, test_call_parse);
        tcase_add_loop_test(msg, test_call_parse_bad, 0, ELEMENTSOF(bad_calls));
        tcase_add_test(msg, test_reply_parse);
        tcase_add_test(msg, test_format);
        tcase_add_test(msg, test_format_values);
        tcase_add_test(msg, test_broken_builders);
        tcase_add_test(msg, test_put_broken_trees);
        tcase_add_test(msg, test_getters);
        tcase_add_test(params, test_params_all);
        tcase_add_test(params, test_params_optional_null_and_absent);
        tcase_add_loop_test(params, test_params_bad, 0, ELEMENTSOF(bad_params));
        tcase_add_test(params, test_params_validator);
        tcase_add_test(params, test_add_echo);
        tcase_add_test(strict, test_params_int64_overflow);
        tcase_add_loop_test(strict, test_params_int64_edges, 0, ELEMENTSOF(int_edges));
        suite_add_tcase(s, parse);
        suite_add_tcase(s, strict);
        suite_add_tcase(s, msg);
        suite_add_tcase(s, params);
        return s;
}

int main(void) {
        SRunner *sr = srunner_create(suite());
        int failed;

        srunner_run_all(sr, CK_NORMAL);
        failed = srunner_ntests_failed(sr);
        srunner_free(sr);
        return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
