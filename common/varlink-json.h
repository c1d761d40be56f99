/* SPDX-License-Identifier: MIT */
#pragma once

/* Varlink message encoding and declarative parameter parsing on top of json-c. */

#include <json-c/json.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define VL_JSON_DEPTH_MAX 32

/* Parses one message strictly: must be a JSON object, nothing after it. -EBADMSG otherwise. */
int vl_json_parse(const char *text, json_object **ret);

/* A method call as sent by a client. Strings are borrowed from the parsed object. */
struct vl_call {
        const char *method;
        json_object *parameters;   /* always an object (empty if absent) */
        bool oneway, more;
};
/* -EBADMSG with *ret_reason set if the call object is malformed. */
int vl_call_parse(json_object *msg, struct vl_call *ret, const char **ret_reason);

/* A reply: either parameters, or an error name with parameters. */
struct vl_reply {
        const char *error;         /* NULL on success */
        json_object *parameters;   /* always an object (empty if absent) */
        bool continues;
};
int vl_reply_parse(json_object *msg, struct vl_reply *ret);

/* Builders. They take ownership of `parameters` (which may be NULL) and return a malloc'd
 * NUL-terminated string, or NULL on ENOMEM. */
char *vl_format_call(const char *method, json_object *parameters, bool oneway);
char *vl_format_reply(json_object *parameters);
char *vl_format_error(const char *error, json_object *parameters);

/* Declarative parameter specs: one row per accepted parameter; unknown parameters are refused. */
enum vl_param_type {
        VL_INT,      /* int64_t */
        VL_UINT32,   /* uint32_t, range-checked */
        VL_STRING,   /* const char *, borrowed */
        VL_BOOL,     /* bool */
        VL_ARRAY,    /* json_object *, borrowed, checked to be an array */
        VL_OBJECT,   /* json_object *, borrowed, checked to be an object */
};

struct vl_param {
        const char *name;
        enum vl_param_type type;
        bool required;
        size_t offset;             /* offsetof() the field in the caller's struct */
        bool (*valid)(const char *s);   /* VL_STRING: also refused unless this holds (optional) */
};

/* Whether a string anywhere in v (nested arrays and objects included) holds a NUL ("\u0000"):
 * C code would see only what comes before it. */
bool vl_json_has_nul(json_object *v);

/* Fills the fields of *out. On failure returns -EINVAL and names the offending parameter; a
 * value with a NUL in any of its strings is refused, whatever its type in the spec. */
int vl_params_parse(json_object *parameters, const struct vl_param *spec, void *out,
                    const char **ret_bad);

/* Adds v, a string the client sent, echoed back in an error: at most VL_ECHO_MAX bytes of it
 * (cut at a character boundary, "..." appended), so a 200,000-character name costs its sender
 * a short reply, not the daemon a copy of it in every error and log line. */
#define VL_ECHO_MAX 256
void vl_add_echo(json_object *o, const char *key, const char *v);

/* Small builders used everywhere. They never return NULL nor fail loudly: when an allocation
 * fails the value is "broken", so is everything it is added to, and a broken message cannot be
 * formatted (vl_format_*() return NULL, as for ENOMEM). */
json_object *vl_obj(void);   /* a new empty object */
json_object *vl_array(void); /* a new empty array */
void vl_append(json_object *a, json_object *v);                  /* takes v */
bool vl_broken(json_object *o);   /* an allocation failed while it was built */
/* Releases o like json_object_put(). Use it for every tree the builders touched: json-c 0.19
 * crashes freeing a broken one itself (see varlink-json-build.c). */
void vl_put(json_object *o);
void vl_add_int(json_object *o, const char *key, int64_t v);
void vl_add_str(json_object *o, const char *key, const char *v);   /* NULL: not added */
void vl_add_bool(json_object *o, const char *key, bool v);
void vl_add_double(json_object *o, const char *key, double v);
void vl_add(json_object *o, const char *key, json_object *v);      /* takes v; NULL breaks o */

/* Lookup helpers that tolerate absence: return the default when missing or of another type. */
int64_t vl_get_int(json_object *o, const char *key, int64_t def);
const char *vl_get_str(json_object *o, const char *key);
bool vl_get_bool(json_object *o, const char *key, bool def);
