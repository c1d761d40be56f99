/* SPDX-License-Identifier: MIT */

/*
 * The state file: the input becomes STATE_DIR/state.json and state_restore() reads it back as at
 * start, with persistence on and a pin dir holding the pins the input names. Re-opening a pin
 * goes through bpf(), which fails with EPERM in this process (fuzz_deny_bpf), so nothing with a
 * pin is adopted, and neither is a handed-off link (its program must be ours); pins are left in
 * place (only temporary read-only ones are removed); the state is written back. The handle table
 * is reset between inputs and no fd may outlive the input.
 *
 * Input layout: the file's bytes up to the first NUL; after it, pin names separated by newlines
 * (at most 16, no '/'), created as empty files in the pin dir.
 */

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "daemon/methods.h"
#include "tests/fuzz/fuzz-server.h"

#define PINS_MAX 16

static struct fuzz_server F;

int LLVMFuzzerInitialize(int *argc, char ***argv) {
        fuzz_log_setup();
        fuzz_deny_bpf();
        fuzz_server_init(&F);
        F.srv.persist = true;
        return 0;
}

static void make_pins(const uint8_t *p, size_t n) {
        size_t made = 0;

        while (n > 0 && made < PINS_MAX) {
                const uint8_t *nl = memchr(p, '\n', n);
                size_t len = nl ? (size_t) (nl - p) : n;
                char name[256];

                if (len > 0 && len < sizeof(name) && !memchr(p, '/', len) && !memchr(p, 0, len)) {
                        memcpy(name, p, len);
                        name[len] = 0;
                        if (strcmp(name, ".") != 0 && strcmp(name, "..") != 0) {
                                fuzz_write_file(F.pins, name, "", 0);
                                made++;
                        }
                }
                p += len + (nl ? 1 : 0);
                n -= len + (nl ? 1 : 0);
        }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        struct fuzz_input in = { data, size };
        const uint8_t *file;
        size_t len = fuzz_take_until_nul(&in, &file);
        int before = fuzz_fd_count();

        fuzz_write_file(F.state, "state.json", file, len);
        make_pins(in.p, in.n);
        (void) state_restore(&F.srv);
        fuzz_server_run_until(&F, fuzz_server_idle, &F, "a job did not finish");
        /* what was re-adopted must describe itself without trouble */
        for (size_t i = 0; i < F.srv.handles.n; i++)
                json_object_put(handle_to_json(&F.srv, F.srv.handles.v[i]));
        (void) state_save(&F.srv);
        handle_table_done(&F.srv.handles);
        handle_table_init(&F.srv.handles);
        fuzz_empty_dir(F.pins);
        fuzz_empty_dir(F.state);
        fuzz_check_fds(before, "state");
        return 0;
}
