/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "daemon/log.h"
#include "daemon/methods.h"
#include "io.fexitd.varlink.h"

const char interface_varlink_service[] =
        "# The Varlink Service Interface is provided by every varlink service.\n"
        "interface org.varlink.service\n\n"
        "method GetInfo() -> (\n  vendor: string,\n  product: string,\n  version: string,\n"
        "  url: string,\n  interfaces: []string\n)\n\n"
        "method GetInterfaceDescription(interface: string) -> (description: string)\n\n"
        "error InterfaceNotFound (interface: string)\n"
        "error MethodNotFound (method: string)\n"
        "error MethodNotImplemented (method: string)\n"
        "error InvalidParameter (parameter: string)\n"
        "error PermissionDenied ()\n"
        "error ExpectedMore ()\n";

static const struct { const char *name; const char *description; } interfaces[] = {
        { "org.varlink.service", interface_varlink_service },
        { "io.fexitd", interface_io_fexitd },
};

static int method_get_info(struct call *c, void *params) {
        json_object *p = vl_obj(), *list = vl_array();

        for (size_t i = 0; i < ELEMENTSOF(interfaces); i++)
                vl_append(list, json_object_new_string(interfaces[i].name));
        vl_add_str(p, "vendor", "fexitd");
        vl_add_str(p, "product", "fexitd");
        vl_add_str(p, "version", FEXITD_VERSION);
        vl_add_str(p, "url", "https://fexitd.invalid/");
        vl_add(p, "interfaces", list);
        call_reply(c, p);
        return 0;
}

struct describe_params {
        const char *interface;
};

static int method_get_interface_description(struct call *c, void *params) {
        struct describe_params *p = params;
        json_object *r;

        for (size_t i = 0; i < ELEMENTSOF(interfaces); i++)
                if (strcmp(p->interface, interfaces[i].name) == 0) {
                        r = vl_obj();
                        vl_add_str(r, "description", interfaces[i].description);
                        call_reply(c, r);
                        return 0;
                }
        return CALL_ERROR(c, ERR_INTERFACE_NOT_FOUND, .interface = p->interface);
}

const struct method methods_service[] = {
        { "org.varlink.service.GetInfo", method_get_info, ROLE_CONSUMER,
          (const struct vl_param[]) { {} }, 0, 0 },
        { "org.varlink.service.GetInterfaceDescription", method_get_interface_description, ROLE_CONSUMER,
          (const struct vl_param[]) {
                  { "interface", VL_STRING, true, offsetof(struct describe_params, interface) },
                  {} },
          sizeof(struct describe_params), 0 },
        {}
};

static const struct method *const method_tables[] = {
        methods_service, methods_query, methods_load, methods_link,
};

static const struct method *method_find(const char *name) {
        for (size_t i = 0; i < ELEMENTSOF(method_tables); i++)
                for (const struct method *m = method_tables[i]; m->name; m++)
                        if (strcmp(m->name, name) == 0)
                                return m;
        return NULL;
}

static int not_found(struct call *c, const char *name) {
        const char *dot = strrchr(name, '.');
        _cleanup_free_ char *interface = NULL;

        for (size_t i = 0; dot && i < ELEMENTSOF(interfaces); i++)
                if (strlen(interfaces[i].name) == (size_t) (dot - name) &&
                    strncmp(interfaces[i].name, name, (size_t) (dot - name)) == 0)
                        return CALL_ERROR(c, ERR_METHOD_NOT_FOUND, .method = name);
        if (dot)
                interface = strndup(name, (size_t) (dot - name));
        return CALL_ERROR(c, ERR_INTERFACE_NOT_FOUND, .interface = !dot ? name : interface ? interface : "");
}

/* Checks the call against its method's row, then runs the handler; returns as a handler does. */
static int method_run(struct call *c, const char *name) {
        const struct method *m = method_find(name);
        _cleanup_free_ void *params = NULL;
        const char *bad = NULL;

        if (!m)
                return not_found(c, name);
        c->method = m;
        /* the fds would be closed unsent while the handle counts as handed off or shared */
        if (c->oneway && m->returns_fds) {
                call_reply_protocol_error(c, "oneway is refused for methods that return file descriptors");
                return 0;
        }
        log_full(LOG_DEBUG, &(struct log_ctx) { .uid = c->peer.uid, .pid = c->peer.pid, .method = m->name },
                 "Call %s", m->name);
        if (c->peer.role < m->role)
                return call_denied(c, NULL, "this method is for root and the admin group only");
        if (c->n_fds > m->max_fds)
                return CALL_ERROR(c, ERR_INVALID_FDS, .expected_fds = m->max_fds, .received_fds = (int64_t) c->n_fds);
        params = calloc(1, m->params_size ? m->params_size : 1);
        if (!params) {
                call_reply_errno(c, "call", ENOMEM);
                return 0;
        }
        if (vl_params_parse(c->params, m->params, params, &bad) < 0)
                return call_invalid_parameter(c, bad);
        return m->handler(c, params);
}

void method_dispatch(struct call *c, const char *name) {
        struct call_frame f = {};

        c->frame = &f;
        call_finish_handler(c, &f, method_run(c, name));
}
