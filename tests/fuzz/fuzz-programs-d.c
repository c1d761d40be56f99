/* SPDX-License-Identifier: MIT */

/*
 * The programs.d parser: the input becomes CONF_DIR/programs.d/x.json, programs_d_load() turns it
 * into a Load call on the daemon's own behalf (json_object_from_file, the "object" path the
 * daemon opens itself, the defaults it adds), and the loop runs until every job is done. bpf()
 * fails with EPERM in this process (fuzz_deny_bpf), so nothing is ever loaded or attached.
 *
 * Input layout: the file's bytes up to the first NUL; what follows the NUL becomes the file
 * obj.bpf.o in the scratch dir, which the path OBJ_DIR names in every process (fd OBJ_DIR_FD is
 * kept open on it), so "object": "/proc/self/fd/1000/obj.bpf.o" reads fuzz bytes. An "object"
 * naming anything else than a path under OBJ_DIR or a path that does not exist is not tried (the
 * input is refused): the daemon opens what the administrator names, and a fuzzer must not open
 * devices or FIFOs as root.
 *
 * No fd may outlive the input.
 */

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "daemon/programs-d.h"
#include "tests/fuzz/fuzz-server.h"

#define OBJ_DIR_FD 1000
#define OBJ_DIR "/proc/self/fd/1000"

static struct fuzz_server F;
static char programs_d[4096];

/* Paths the daemon may open for this input: a path that does not exist, or a regular file or
 * directory under OBJ_DIR reached without "..". */
static bool object_is_safe(const char *path) {
        struct stat st;

        if (stat(path, &st) < 0)
                return errno == ENOENT || errno == ENOTDIR || errno == ENAMETOOLONG;
        return strncmp(path, OBJ_DIR, strlen(OBJ_DIR)) == 0 && !strstr(path, "..") &&
               (S_ISREG(st.st_mode) || S_ISDIR(st.st_mode));
}

static bool input_is_safe(const char *path) {
        json_object *o = json_object_from_file(path), *obj;
        bool safe = true;

        obj = o && json_object_is_type(o, json_type_object) ? json_object_object_get(o, "object") : NULL;
        if (obj && json_object_is_type(obj, json_type_string))
                safe = object_is_safe(json_object_get_string(obj));
        json_object_put(o);
        return safe;
}

int LLVMFuzzerInitialize(int *argc, char ***argv) {
        int fd;

        fuzz_log_setup();
        fuzz_deny_bpf();
        fuzz_server_init(&F);
        fuzz_mkdir(F.conf, "programs.d", programs_d, sizeof(programs_d));
        fd = open(fuzz_scratch_dir(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (fd < 0 || dup2(fd, OBJ_DIR_FD) != OBJ_DIR_FD)
                fuzz_fail("fuzz-programs-d: cannot keep fd %d on the scratch dir: %m", OBJ_DIR_FD);
        close(fd);
        return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        struct fuzz_input in = { data, size };
        const uint8_t *file;
        size_t len = fuzz_take_until_nul(&in, &file);
        char path[8192];
        int before = fuzz_fd_count(), r = 0;

        fuzz_write_file(programs_d, "x.json", file, len);
        fuzz_write_file(fuzz_scratch_dir(), "obj.bpf.o", in.p, in.n);
        snprintf(path, sizeof(path), "%s/x.json", programs_d);
        if (input_is_safe(path)) {
                programs_d_load(&F.srv);
                fuzz_server_run_until(&F, fuzz_server_idle, &F, "a programs.d load did not finish");
        } else
                r = -1;
        handle_table_done(&F.srv.handles);   /* nothing loads; if something did, it goes */
        handle_table_init(&F.srv.handles);
        fuzz_empty_dir(programs_d);
        fuzz_check_fds(before, "programs-d");
        return r;
}
