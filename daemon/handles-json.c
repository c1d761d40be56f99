/* SPDX-License-Identifier: MIT */
/* Parts of a handle in JSON, as the verbs and state.json both write them. */
#include "common/varlink-json.h"
#include "daemon/handles.h"

json_object *handle_grants_to_json(const struct handle *h) {
        json_object *g = vl_array();
        char buf[64];

        for (size_t i = 0; i < h->n_grants; i++)
                vl_append(g, json_object_new_string(grant_format(&h->grants[i], buf, sizeof(buf))));
        return g;
}

json_object *handle_functions_to_json(const struct handle *h) {
        json_object *a = vl_array();

        for (size_t i = 0; i < h->n_functions; i++) {
                json_object *e = vl_obj();
                vl_add_str(e, "function", h->functions[i]);
                vl_add_int(e, "btf_id", h->btf_ids[i]);
                vl_append(a, e);
        }
        return a;
}
