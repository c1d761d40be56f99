/* SPDX-License-Identifier: MIT */
#pragma once

/* Just enough of the Varlink interface language to check that a reply matches its declaration:
 * every required field present, no undeclared field, each of the declared type (recursing into
 * named types). The request fuzzer checks every reply the daemon gives with it. */

#include <json-c/json.h>
#include <stdbool.h>
#include <stddef.h>

#define IDL_FIELDS_MAX 32
#define IDL_ENTRIES_MAX 96

enum idl_kind { IDL_METHOD, IDL_ERROR, IDL_TYPE };

struct idl_field {
        char name[64];
        char type[256];
};

struct idl_entry {
        enum idl_kind kind;
        char name[160];              /* methods and errors: INTERFACE.Name; types: Name */
        struct idl_field fields[IDL_FIELDS_MAX];   /* method: its output; error, type: its fields */
        size_t n_fields;
        struct idl_field inputs[IDL_FIELDS_MAX];   /* method: its parameters */
        size_t n_inputs;
};

struct idl {
        struct idl_entry v[IDL_ENTRIES_MAX];
        size_t n;
};

/* Adds the methods, errors and types of one interface description. -EBADMSG if it cannot read
 * it (which is a finding in itself: the daemon serves this text). */
int idl_parse(struct idl *idl, const char *text);

const struct idl_entry *idl_find(const struct idl *idl, enum idl_kind kind, const char *name);

/* NULL if params (an object) matches the fields of e, else a static description of the first
 * mismatch. */
const char *idl_check(const struct idl *idl, const struct idl_entry *e, json_object *params);
