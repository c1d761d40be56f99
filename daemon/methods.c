/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "common/macro.h"
#include "config.h"
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

const struct method *const methods_all[] = {
        methods_service, methods_query, methods_load, methods_link, NULL,
};
