/* SPDX-License-Identifier: MIT */
#pragma once

/* Shared between the files of libfexit; nothing here is exported. */

#include <json-c/json.h>
#include <stdlib.h>
#include <string.h>

#include "client/libfexit.h"
#include "common/macro.h"
#include "common/varlink-io.h"
#include "common/varlink-json.h"

struct fexit_client {
        struct vl_io io;
        int timeout_ms;                 /* 0: wait forever */
        bool broken;                    /* a failure left the stream out of step */
        char *error_name;
        char *error_message;
        char *error_parameters;
        char *last_reply;
};

/* libbpf-style options checks: sz must cover at least the size field, and bytes a newer caller
 * set beyond what this library knows must be zero. "What it knows" ends with the last field,
 * not at sizeof: a newer field may sit in what is tail padding here (an int after
 * fexit_client_opts.timeout_ms), and sizeof would never look at it. Each options struct names
 * its last field below; a new field moves that line with it. */
bool opts_valid(const void *opts, size_t known_size);
#define offsetofend(TYPE, FIELD) (offsetof(TYPE, FIELD) + sizeof(((TYPE *) 0)->FIELD))
#define OPTS_VALID(opts, type) \
        (!(opts) || opts_valid((opts), offsetofend(struct type, type##__last_field)))
#define fexit_client_opts__last_field timeout_ms
#define fexit_program_select__last_field n_functions
#define fexit_load_opts__last_field name
#define fexit_attach_opts__last_field n_grants
#define OPTS_HAS(opts, field) \
        ((opts) && (opts)->sz >= offsetof(typeof(*(opts)), field) + sizeof((opts)->field))
#define OPTS_GET(opts, field, fallback) (OPTS_HAS(opts, field) ? (opts)->field : (fallback))

void fexit_debug(const char *format, ...) _printf_(1, 2);

/* Records a local failure (no Varlink error name) and returns err. */
int client_fail(struct fexit_client *c, int err, const char *format, ...) _printf_(3, 4);

/* Sends one call and waits for its reply. Takes parameters (may be NULL). The fds are borrowed
 * (duplicates are sent). On success *ret_params holds a reference to the reply's parameters and
 * ret_fds (room for FEXIT_FDS_MAX, or NULL to close them) the received fds, >= 3. */
int client_call(struct fexit_client *c, const char *method, json_object *parameters,
                const int *fds, size_t n_fds,
                json_object **ret_params, int *ret_fds, size_t *ret_n_fds);

/* Error name -> negative errno, following the table in libfexit.h. */
int error_to_errno(const char *name, json_object *parameters);
/* A one-line description of a Varlink error from its parameters; malloc'd, NULL on ENOMEM. */
char *error_describe(const char *name, json_object *parameters);

/* Result decoding (results.c). Each returns -EBADMSG if the reply lacks a required field. */
int handle_from_json(json_object *o, struct fexit_handle **ret);
int handles_from_json(json_object *array, struct fexit_handle ***ret, size_t *ret_n);
void handles_free(struct fexit_handle **h, size_t n);
int load_result_from_json(json_object *o, struct fexit_load_result **ret);
int status_from_json(json_object *o, struct fexit_status **ret);
int service_info_from_json(json_object *o, struct fexit_service_info **ret);

static inline void *mfree(void *p) {
        free(p);
        return NULL;
}

static inline bool streq(const char *a, const char *b) {
        return strcmp(a, b) == 0;
}

DEFINE_TRIVIAL_CLEANUP_FUNC(json_object *, vl_put);
#define _cleanup_json_ _cleanup_(vl_putp)
DEFINE_TRIVIAL_CLEANUP_FUNC(struct fexit_handle *, fexit_handle_free);
