/* SPDX-License-Identifier: MIT */
#pragma once

/* fexitctl's human-readable output. */

#include <stdio.h>

#include "libfexit.h"

void print_handle_table(FILE *f, struct fexit_handle *const *handles, size_t n);
void print_handle(FILE *f, const struct fexit_handle *h);
void print_load_result(FILE *f, const struct fexit_load_result *r);
void print_status(FILE *f, const struct fexit_status *s);
void print_service_info(FILE *f, const struct fexit_service_info *i);
/* The lines that follow the one-line error: suggestions, verifier or libbpf log. */
void print_error_details(FILE *f, const char *error_name, const char *parameters_json);
