/* SPDX-License-Identifier: MIT */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "daemon/log.h"
#include "daemon/methods.h"
#include "daemon/programs-d.h"

#define PROGRAMS_D_MAX 256

static bool already_loaded(struct server *s, const char *origin) {
        struct handle *h;

        HANDLE_TABLE_FOREACH(&s->handles, h, i)
                if (h->kind == HANDLE_PROGRAM && h->source && strcmp(h->source, origin) == 0)
                        return true;
        return false;
}

/* A program rebuilt from its pin after state.json was lost has no source any more: it may be
 * this very file's, and loading the file again would run it twice. Returns such a handle. */
static uint64_t maybe_loaded(struct server *s) {
        struct handle *h;

        HANDLE_TABLE_FOREACH(&s->handles, h, i)
                if (h->kind == HANDLE_PROGRAM && h->recovery && !h->source)
                        return h->id;
        return 0;
}

/* Turns one file into a Load call: "object" names a path the administrator wrote, which the
 * daemon opens itself (unlike a client's path), and becomes fd 0 of the call. */
static int load_file(struct server *s, const char *dir, const char *name) {
        char path[4096], origin[300];
        json_object *msg, *obj;
        int fd = -EBADF;

        if ((size_t) snprintf(path, sizeof(path), "%s/%s", dir, name) >= sizeof(path) ||
            (size_t) snprintf(origin, sizeof(origin), "programs.d/%s", name) >= sizeof(origin))
                return -ENAMETOOLONG;
        if (already_loaded(s, origin)) {
                log_debug("%s: already loaded, left alone", origin);
                return 0;
        }
        if (maybe_loaded(s)) {
                log_warning("%s: not loaded: programs rebuilt from their pins (handle %" PRIu64 " and "
                            "maybe more) may be this file's, and it would run twice. Unload them, then "
                            "reload (SIGHUP) to load it.", origin, maybe_loaded(s));
                return -EEXIST;
        }
        msg = json_object_from_file(path);
        if (!msg || !json_object_is_type(msg, json_type_object)) {
                log_error("%s: not a JSON object (%s); skipped", path, json_util_get_last_err());
                vl_put(msg);
                return -EBADMSG;
        }
        obj = json_object_object_get(msg, "object");
        if (obj && json_object_is_type(obj, json_type_string)) {
                fd = open(json_object_get_string(obj), O_RDONLY | O_CLOEXEC | O_NOCTTY);
                if (fd < 0) {
                        log_error("%s: cannot open %s: %m; skipped", path, json_object_get_string(obj));
                        vl_put(msg);
                        return -errno;
                }
                json_object_object_add(msg, "object", json_object_new_int(0));
        }
        json_object_object_add(msg, "lifetime", json_object_new_string("persistent"));
        if (!json_object_object_get(msg, "attach"))
                json_object_object_add(msg, "attach", json_object_new_boolean(true));
        log_info("%s: loading", origin);
        server_call_internal(s, origin, "io.fexitd.Load", msg, &fd, fd >= 0 ? 1 : 0);
        return 0;
}

static int compare(const void *a, const void *b) {
        return strcmp(*(char *const *) a, *(char *const *) b);
}

void programs_d_load(struct server *s) {
        char dir[4096], *names[PROGRAMS_D_MAX];
        size_t n = 0;
        struct dirent *de;
        DIR *d;

        snprintf(dir, sizeof(dir), "%s/programs.d", s->cfg.conf_dir);
        d = opendir(dir);
        if (!d)
                return;
        while ((de = readdir(d)) && n < PROGRAMS_D_MAX) {
                size_t len = strlen(de->d_name);
                if (de->d_name[0] != '.' && len > 5 && strcmp(de->d_name + len - 5, ".json") == 0)
                        if ((names[n] = strdup(de->d_name)))
                                n++;
        }
        closedir(d);
        qsort(names, n, sizeof(char *), compare);   /* a stable, documented order */
        for (size_t i = 0; i < n; i++) {
                (void) load_file(s, dir, names[i]);
                free(names[i]);
        }
}
