/* SPDX-License-Identifier: MIT */
/* The builders and getters of JSON values (common/varlink-json.h): never NULL, broken instead. */
#include <stdlib.h>
#include <string.h>

#include "common/macro.h"
#include "common/utf8.h"
#include "common/varlink-json.h"

/* Builders never hand out NULL: when json-c cannot allocate, they return a reference to a
 * preallocated broken object or array, and whatever a broken or missing value is added to is
 * broken too. A broken message cannot be formatted (vl_format_*() return NULL), so an
 * allocation failure anywhere while a reply is built ends in an error, never in a reply that
 * quietly lacks a field. */
static int broken_tag;
static json_object *broken_object, *broken_array;

/* The tag lives in json-c's userdata slot. json-c 0.19 (Debian forky) frees containers without
 * recursion and takes that slot for its own bookkeeping while it does (json-c issues 923, 934):
 * freeing a tagged container that has members crashes there. So no tagged container reaches
 * json-c's free: vl_put() untags a tree first, and tags are counted so that the walk costs
 * nothing while no allocation has failed (almost always). */
static _Atomic size_t tags;

__attribute__((constructor)) static void broken_init(void) {
        broken_object = json_object_new_object();
        broken_array = json_object_new_array();
        if (!broken_object || !broken_array)
                abort();   /* at program start: nothing to lose yet */
        json_object_set_userdata(broken_object, &broken_tag, NULL);
        json_object_set_userdata(broken_array, &broken_tag, NULL);
}

static bool tagged(json_object *o) {
        return o && json_object_get_userdata(o) == &broken_tag;
}

static void mark_broken(json_object *o) {
        if (o && !tagged(o)) {
                json_object_set_userdata(o, &broken_tag, NULL);
                tags++;
        }
}

/* The two preallocated ones keep their tag: they are never freed (a reference is always held). */
static void untag(json_object *o) {
        if (tagged(o) && o != broken_object && o != broken_array) {
                json_object_set_userdata(o, NULL, NULL);
                tags--;
        }
        if (json_object_is_type(o, json_type_array)) {
                for (size_t i = 0; i < json_object_array_length(o); i++)
                        untag(json_object_array_get_idx(o, i));
        } else if (json_object_is_type(o, json_type_object)) {
                struct json_object_iter it;
                json_object_object_foreachC(o, it)
                        untag(it.val);
        }
}

void vl_put(json_object *o) {
        if (tags > 0)
                untag(o);
        json_object_put(o);
}

/* Deep: a container may have been added to its parent before it was filled. */
bool vl_broken(json_object *o) {
        if (tagged(o))
                return true;
        if (json_object_is_type(o, json_type_array)) {
                for (size_t i = 0; i < json_object_array_length(o); i++)
                        if (vl_broken(json_object_array_get_idx(o, i)))
                                return true;
        } else if (json_object_is_type(o, json_type_object)) {
                struct json_object_iter it;
                json_object_object_foreachC(o, it)
                        if (vl_broken(it.val))
                                return true;
        }
        return false;
}

json_object *vl_obj(void) {
        json_object *o = json_object_new_object();

        return o ? o : json_object_get(broken_object);
}

json_object *vl_array(void) {
        json_object *a = json_object_new_array();

        return a ? a : json_object_get(broken_array);
}

/* Takes v. Returns whether v can go into o; if not, v is released and o is broken. */
static bool can_add(json_object *o, json_object *v) {
        if (o && !tagged(o) && v && !tagged(v))
                return true;
        vl_put(v);
        mark_broken(o);
        return false;
}

void vl_add(json_object *o, const char *key, json_object *v) {
        if (!can_add(o, v))
                return;
        if (tags > 0)   /* json-c frees the value a key had */
                untag(json_object_object_get(o, key));
        if (json_object_object_add(o, key, v) < 0) {
                vl_put(v);
                mark_broken(o);
        }
}

void vl_append(json_object *a, json_object *v) {
        if (can_add(a, v) && json_object_array_add(a, v) < 0) {
                vl_put(v);
                mark_broken(a);
        }
}

void vl_add_int(json_object *o, const char *key, int64_t v) {
        vl_add(o, key, json_object_new_int64(v));
}

void vl_add_str(json_object *o, const char *key, const char *v) {
        if (v)
                vl_add(o, key, json_object_new_string(v));
}

void vl_add_echo(json_object *o, const char *key, const char *v) {
        size_t n = v ? strlen(v) : 0;
        char buf[VL_ECHO_MAX + 4];

        if (n <= VL_ECHO_MAX) {
                vl_add_str(o, key, v);
                return;
        }
        n = VL_ECHO_MAX;
        while (n > 0 && utf8_cont((unsigned char) v[n]))
                n--;
        memcpy(buf, v, n);
        strcpy(buf + n, "...");
        vl_add_str(o, key, buf);
}

void vl_add_bool(json_object *o, const char *key, bool v) {
        vl_add(o, key, json_object_new_boolean(v));
}

void vl_add_double(json_object *o, const char *key, double v) {
        vl_add(o, key, json_object_new_double(v));
}

int64_t vl_get_int(json_object *o, const char *key, int64_t def) {
        json_object *v = o ? json_object_object_get(o, key) : NULL;

        return v && json_object_is_type(v, json_type_int) ? json_object_get_int64(v) : def;
}

const char *vl_get_str(json_object *o, const char *key) {
        json_object *v = o ? json_object_object_get(o, key) : NULL;

        return v && json_object_is_type(v, json_type_string) ? json_object_get_string(v) : NULL;
}

bool vl_get_bool(json_object *o, const char *key, bool def) {
        json_object *v = o ? json_object_object_get(o, key) : NULL;

        return v && json_object_is_type(v, json_type_boolean) ? json_object_get_boolean(v) : def;
}
