/* SPDX-License-Identifier: MIT */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "common/macro.h"
#include "common/varlink-json.h"
#include "daemon-helper.h"
#include "scm-rights.h"

static int spawn(struct test_daemon *d, const char *const *extra) {
        const char *argv[32] = { getenv("FEXITD_BIN") ?: FEXITD_BIN, "--socket", d->socket, "--pin-dir", d->pin_dir,
                                 "--state-dir", d->state_dir, "--conf-dir", d->conf_dir,
                                 "--log-level", getenv("FEXITD_TEST_LOG") ? "debug" : "warning",
                                 /* the gate of fexitd.socket, with the group our unprivileged
                                  * clients (65534:65534) are in: where the fexit group exists,
                                  * as in the VM, the default would lock them out */
                                 "--socket-group", "nogroup" };
        size_t n = 13;

        for (size_t i = 0; extra && extra[i] && n < ELEMENTSOF(argv) - 1; i++)
                argv[n++] = extra[i];
        d->pid = fork();
        if (d->pid < 0)
                return -errno;
        if (d->pid == 0) {
                struct rlimit rl = { d->nofile, d->nofile };
                int log;
                if (d->nofile && setrlimit(RLIMIT_NOFILE, &rl) < 0)
                        _exit(126);
                if (d->log[0] && ((log = open(d->log, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600)) < 0 ||
                                  dup2(log, STDERR_FILENO) < 0))
                        _exit(125);
                execv(argv[0], (char **) argv);
                _exit(127);
        }
        /* ready when it answers */
        for (int i = 0; i < 500; i++) {
                int fd = vl_connect(d->socket), st;
                if (fd >= 0) {
                        safe_close(fd);
                        return 0;
                }
                if (waitpid(d->pid, &st, WNOHANG) == d->pid) {
                        d->pid = 0;
                        return -ECHILD;
                }
                usleep(10000);
        }
        return -ETIMEDOUT;
}

static int start(struct test_daemon *d, const char *const *extra, unsigned nofile, bool logged) {
        *d = (struct test_daemon) { .nofile = nofile };
        snprintf(d->dir, sizeof(d->dir), "/tmp/fexitd-test-XXXXXX");
        if (!mkdtemp(d->dir) || chmod(d->dir, 0755) < 0)   /* unprivileged test clients connect too */
                return -errno;
        snprintf(d->socket, sizeof(d->socket), "%s/sock", d->dir);
        snprintf(d->pin_dir, sizeof(d->pin_dir), "%s/pins", d->dir);
        snprintf(d->state_dir, sizeof(d->state_dir), "%s/state", d->dir);
        snprintf(d->conf_dir, sizeof(d->conf_dir), "%s/conf", d->dir);
        (void) mkdir(d->pin_dir, 0700);
        (void) mkdir(d->conf_dir, 0755);
        /* our own bpffs, so tests never touch the host's /sys/fs/bpf */
        d->bpffs = mount("bpf", d->pin_dir, "bpf", 0, "mode=0700") == 0;
        d->extra_args = extra;
        if (logged)
                test_daemon_log_to_file(d);
        return spawn(d, extra);
}

int test_daemon_start(struct test_daemon *d, const char *const *extra) {
        return start(d, extra, 0, false);
}

int test_daemon_start_nofile(struct test_daemon *d, const char *const *extra, unsigned nofile) {
        return start(d, extra, nofile, false);
}

int test_daemon_start_logged(struct test_daemon *d, const char *const *extra) {
        return start(d, extra, 0, true);
}

void test_daemon_log_to_file(struct test_daemon *d) {
        snprintf(d->log, sizeof(d->log), "%s/daemon.log", d->dir);
}

int test_daemon_log_lines(const struct test_daemon *d, const char *text) {
        char line[4096];
        int n = 0;
        FILE *f = fopen(d->log, "re");

        if (!f)
                return -errno;
        while (fgets(line, sizeof(line), f))
                n += strstr(line, text) != NULL;
        fclose(f);
        return n;
}

static void reap(struct test_daemon *d, int sig) {
        if (d->pid <= 0)
                return;
        kill(d->pid, sig);
        (void) waitpid(d->pid, NULL, 0);
        d->pid = 0;
}

int test_daemon_restart(struct test_daemon *d, int sig) {
        reap(d, sig);
        return spawn(d, d->extra_args);
}

void test_daemon_stop(struct test_daemon *d) {
        char cmd[400];

        reap(d, SIGTERM);
        if (d->bpffs)
                (void) umount2(d->pin_dir, MNT_DETACH);
        snprintf(cmd, sizeof(cmd), "rm -rf '%s'", d->dir);
        if (d->dir[0])
                (void) system(cmd);
}

int test_daemon_fd_count(const struct test_daemon *d) {
        char path[64];
        struct dirent *de;
        int n = 0;
        DIR *dir;

        snprintf(path, sizeof(path), "/proc/%d/fd", (int) d->pid);
        dir = opendir(path);
        if (!dir)
                return -errno;
        while ((de = readdir(dir)))
                n += de->d_name[0] != '.';
        closedir(dir);
        return n;
}

long test_daemon_rss_kb(const struct test_daemon *d) {
        char path[64], line[256];
        long kb = -1;
        FILE *f;

        snprintf(path, sizeof(path), "/proc/%d/status", (int) d->pid);
        f = fopen(path, "re");
        if (!f)
                return -errno;
        while (fgets(line, sizeof(line), f))
                if (sscanf(line, "VmRSS: %ld kB", &kb) == 1)
                        break;
        fclose(f);
        return kb;
}

long test_daemon_cpu_ticks(const struct test_daemon *d) {
        char path[64], buf[1024], *p;
        unsigned long utime, stime;
        ssize_t n;
        int fd;

        snprintf(path, sizeof(path), "/proc/%d/stat", (int) d->pid);
        fd = open(path, O_RDONLY | O_CLOEXEC);
        if (fd < 0)
                return -errno;
        n = read(fd, buf, sizeof(buf) - 1);
        safe_close(fd);
        if (n <= 0)
                return -EIO;
        buf[n] = 0;
        /* the name may hold spaces and parentheses: fields count from the last ')' */
        p = strrchr(buf, ')');
        if (!p || sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %lu %lu", &utime, &stime) != 2)
                return -EIO;
        return (long) (utime + stime);
}

int test_daemon_quiet_fd_count(const struct test_daemon *d) {
        int fd = test_connect(d), n = -1;

        if (fd < 0)
                return fd;
        /* once the daemon counts only this connection and no kernel job, earlier connections
         * are fully closed and no worker holds a file open */
        for (int i = 0; i < 200; i++) {
                json_object *o;
                const char *err;
                if (test_call(fd, "io.fexitd.Status", NULL, NULL, 0, &o, &err) < 0)
                        break;
                int64_t conns = vl_get_int(json_object_object_get(o, "parameters"), "connections", -1);
                int64_t jobs = vl_get_int(json_object_object_get(o, "parameters"), "jobs", -1);
                json_object_put(o);
                if (conns == 1 && jobs == 0) {
                        n = test_daemon_fd_count(d) - 1;
                        break;
                }
                usleep(10000);
        }
        test_disconnect(fd);
        return n;
}

int test_connect(const struct test_daemon *d) {
        return vl_connect(d->socket);
}

int test_send_raw(int fd, const void *buf, size_t len, const int *fds, size_t n_fds) {
        size_t off = 0;

        if (n_fds > 16)
                return -EINVAL;
        while (off < len) {
                struct pollfd p = { .fd = fd, .events = POLLOUT };
                ssize_t n;

                n = scm_send(fd, (const char *) buf + off, len - off, fds, n_fds, 0);
                if (n == -EAGAIN) {
                        (void) poll(&p, 1, 1000);
                        continue;
                }
                if (n < 0)
                        return (int) n;
                off += (size_t) n;
                n_fds = 0;      /* the fds ride on the first byte sent */
        }
        return 0;
}

int test_send_call(int fd, const char *method, const char *params_json, const int *fds, size_t n_fds) {
        char *text;
        int r;

        if (asprintf(&text, "{\"method\":\"%s\",\"parameters\":%s}", method,
                     params_json ? params_json : "{}") < 0)
                return -ENOMEM;
        r = test_send_raw(fd, text, strlen(text) + 1, fds, n_fds);
        free(text);
        return r;
}

static struct vl_io ios[1024];   /* per socket fd, kept across calls for pipelining */

void test_disconnect(int fd) {
        if (fd >= 0 && fd < 1024 && ios[fd].fd == fd) {
                vl_io_done(&ios[fd]);   /* closes fd */
                return;
        }
        safe_close(fd);
}

int test_recv(int fd, json_object **ret, int *ret_fds, size_t *ret_n_fds) {
        struct vl_io *io;
        int fds[VL_FDS_MAX];
        size_t n_fds = 0;
        char *text = NULL;
        int r;

        if (fd < 0 || fd >= 1024)
                return -EBADF;
        io = &ios[fd];
        if (io->fd != fd) {
                vl_io_done(io);   /* a previous socket that had this number */
                vl_io_init(io, -EBADF);
                io->fd = fd;
        }
        for (;;) {
                struct pollfd p = { .fd = fd, .events = POLLIN };

                r = vl_io_next(io, &text, fds, &n_fds);
                if (r != 0)
                        break;
                if (poll(&p, 1, 30000) <= 0)
                        return -ETIMEDOUT;
                r = vl_io_read(io);
                if (r < 0) {
                        io->fd = -EBADF;   /* the caller owns and closes the socket */
                        vl_io_done(io);
                        return r == -ECONNRESET ? -EPIPE : r;
                }
        }
        if (r < 0)
                return r;
        r = vl_json_parse(text, ret);
        free(text);
        if (ret_fds)
                memcpy(ret_fds, fds, n_fds * sizeof(int));
        else
                close_many(fds, n_fds);
        if (ret_n_fds)
                *ret_n_fds = n_fds;
        return r;
}

int test_call(int fd, const char *method, const char *params_json, const int *fds, size_t n_fds,
              json_object **ret_reply, const char **ret_error) {
        json_object *o = NULL;
        int r = test_send_call(fd, method, params_json, fds, n_fds);

        if (r >= 0)
                r = test_recv(fd, &o, NULL, NULL);
        if (r < 0)
                return r;
        *ret_error = vl_get_str(o, "error") ? vl_get_str(o, "error") : "";
        *ret_reply = o;
        return 0;
}

json_object *test_features(int fd) {
        /* the probe runs on a worker after start: up to a minute under emulation */
        for (int i = 0; i < 1200; i++) {
                json_object *o, *f;
                const char *err;

                if (test_call(fd, "io.fexitd.Status", NULL, NULL, 0, &o, &err) < 0 || *err) {
                        json_object_put(o);
                        return NULL;
                }
                f = json_object_object_get(json_object_object_get(o, "parameters"), "features");
                if (f) {
                        json_object_get(f);
                        json_object_put(o);
                        return f;
                }
                json_object_put(o);
                usleep(50000);
        }
        return NULL;
}
