/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <stdint.h>
#include <string.h>

#include "common/macro.h"
#include "common/varlink-json.h"

DEFINE_TRIVIAL_CLEANUP_FUNC(json_object *, json_object_put);

int vl_json_parse(const char *text, json_object **ret) {
        json_tokener *tok = json_tokener_new_ex(VL_JSON_DEPTH_MAX);
        json_object *o;
        size_t len = strlen(text);
        bool trailing;

        if (!tok)
                return -ENOMEM;
        json_tokener_set_flags(tok, JSON_TOKENER_STRICT);
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
        r.parameters = params_or_empty(msg, p);
        if (!r.parameters)
                return -ENOMEM;
        *ret = r;
        return 0;
}

static char *format(json_object *o) {
        const char *s;
        char *copy;

        if (!o)
                return NULL;
        s = json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE);
        copy = s ? strdup(s) : NULL;
        json_object_put(o);
        return copy;
}

char *vl_format_call(const char *method, json_object *parameters, bool oneway) {
        json_object *o = json_object_new_object();

        if (!o) {
                json_object_put(parameters);
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
                json_object_put(parameters);
                return NULL;
        }
        vl_add(o, "parameters", parameters ? parameters : json_object_new_object());
        return format(o);
}

char *vl_format_error(const char *error, json_object *parameters) {
        json_object *o = json_object_new_object();

        if (!o) {
                json_object_put(parameters);
                return NULL;
        }
        vl_add_str(o, "error", error);
        vl_add(o, "parameters", parameters ? parameters : json_object_new_object());
        return format(o);
}

static int param_store(const struct vl_param *p, json_object *val, void *out) {
        char *field = (char *) out + p->offset;
        int64_t i;

        switch (p->type) {
        case VL_INT:
                if (!json_object_is_type(val, json_type_int))
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
                if (!json_object_is_type(val, json_type_string))
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
                /* null is how varlink spells an absent optional field */
                if (!p->name || (val ? param_store(p, val, out) : (p->required ? -EINVAL : 0)) < 0) {
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

json_object *vl_obj(void) {
        return json_object_new_object();
}

void vl_add(json_object *o, const char *key, json_object *v) {
        json_object_object_add(o, key, v);
}

void vl_add_int(json_object *o, const char *key, int64_t v) {
        vl_add(o, key, json_object_new_int64(v));
}

void vl_add_str(json_object *o, const char *key, const char *v) {
        if (v)
                vl_add(o, key, json_object_new_string(v));
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
