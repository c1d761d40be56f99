/* fexit-smoke: the smallest end-to-end proof that fexit works on a kernel.
 *
 * Opens a BPF object with one fexit program that counts calls in .bss (fexit_count.bpf.o),
 * loads and attaches it with plain libbpf (no skeleton), unlinks N temporary files, reads the
 * counters back through the .bss map and checks that they moved.
 *
 *   fexit-smoke [-f FUNCTION] [-n N] [-H READY-FILE] [-v] OBJECT.bpf.o
 *
 *   -f  attach to FUNCTION instead of the one named in the ELF section (default: $FEXITD_SMOKE_FUNC
 *       when set); unlinks are only counted when FUNCTION is on the unlink path
 *   -n  number of files to unlink (default 16)
 *   -H  after the checks, keep the link attached, write "link_id=L prog_id=P" to READY-FILE and
 *       wait for SIGTERM, SIGINT or SIGUSR1 (at most 120 s), so that a test can inspect the link
 *       with bpftool while it exists
 *   -v  libbpf debug output
 *
 * Exit status: 0 passed, 1 failed, 2 usage, 77 skipped: the kernel refused the fexit load with
 * EPERM (as the project's host kernels do, see shared/KERNEL-NOTES.md); the VM tier must pass. */
#include <bpf/bpf.h>
#include <bpf/btf.h>
#include <bpf/libbpf.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define EXIT_SKIP 77
#define HOLD_MAX_SEC 120

struct counters {
	uint64_t count;
	uint64_t own_count;
	uint32_t last_pid;
};

static bool verbose;

static int print_libbpf(enum libbpf_print_level level, const char *fmt, va_list args)
{
	if (level == LIBBPF_DEBUG && !verbose)
		return 0;
	return vfprintf(stderr, fmt, args);
}

static void cleanup_object(struct bpf_object **obj)
{
	bpf_object__close(*obj);
}

static void cleanup_link(struct bpf_link **link)
{
	bpf_link__destroy(*link);
}

/* The map that holds the object's section SEC (".bss", ".rodata"): libbpf names it
 * "<object-prefix>SEC". */
static struct bpf_map *internal_map(struct bpf_object *obj, const char *sec)
{
	struct bpf_map *map;
	size_t sec_len = strlen(sec);

	bpf_object__for_each_map(map, obj) {
		const char *name = bpf_map__name(map);
		size_t len = strlen(name);

		if (bpf_map__is_internal(map) && len >= sec_len && strcmp(name + len - sec_len, sec) == 0)
			return map;
	}
	return NULL;
}

/* Offset of global variable VAR inside data section SEC, from the object's BTF. */
static int var_offset(struct bpf_object *obj, const char *sec, const char *var, size_t *ret_off)
{
	const struct btf *btf = bpf_object__btf(obj);
	const struct btf_var_secinfo *vs;
	const struct btf_type *t;
	int id;

	if (!btf)
		return -ENODATA;
	id = btf__find_by_name_kind(btf, sec, BTF_KIND_DATASEC);
	if (id < 0)
		return id;
	t = btf__type_by_id(btf, id);
	vs = btf_var_secinfos(t);
	for (int i = 0; i < btf_vlen(t); i++, vs++) {
		const struct btf_type *vt = btf__type_by_id(btf, vs->type);

		if (strcmp(btf__name_by_offset(btf, vt->name_off), var) == 0) {
			*ret_off = vs->offset;
			return 0;
		}
	}
	return -ENOENT;
}

/* .rodata is frozen at load time: its initial value is the only way in. */
static int set_target_tgid(struct bpf_object *obj, uint32_t tgid)
{
	struct bpf_map *map = internal_map(obj, ".rodata");
	const void *init;
	size_t off, size;
	char *data;
	int r;

	if (!map)
		return -ENOENT;
	r = var_offset(obj, ".rodata", "target_tgid", &off);
	if (r < 0)
		return r;
	init = bpf_map__initial_value(map, &size);
	if (!init || off + sizeof(tgid) > size)
		return -EINVAL;
	data = malloc(size);
	if (!data)
		return -ENOMEM;
	memcpy(data, init, size);
	memcpy(data + off, &tgid, sizeof(tgid));
	r = bpf_map__set_initial_value(map, data, size);
	free(data);
	return r;
}

static int read_u64(struct bpf_object *obj, const char *buf, const char *var, uint64_t *ret)
{
	size_t off;
	int r = var_offset(obj, ".bss", var, &off);

	if (r < 0)
		return r;
	memcpy(ret, buf + off, sizeof(*ret));
	return 0;
}

/* Reads the counters with a BPF_MAP_LOOKUP_ELEM on the .bss map, as any holder of its fd could. */
static int read_counters(struct bpf_object *obj, struct counters *ret)
{
	struct bpf_map *map = internal_map(obj, ".bss");
	uint32_t key = 0, pid;
	size_t off, size;
	char *buf;
	int r;

	if (!map)
		return -ENOENT;
	size = bpf_map__value_size(map);
	buf = calloc(1, size);
	if (!buf)
		return -ENOMEM;
	r = bpf_map__lookup_elem(map, &key, sizeof(key), buf, size, 0);
	if (r >= 0)
		r = read_u64(obj, buf, "count", &ret->count);
	if (r >= 0)
		r = read_u64(obj, buf, "own_count", &ret->own_count);
	if (r >= 0)
		r = var_offset(obj, ".bss", "last_pid", &off);
	if (r >= 0) {
		memcpy(&pid, buf + off, sizeof(pid));
		ret->last_pid = pid;
	}
	free(buf);
	return r < 0 ? r : 0;
}

static int unlink_files(int n)
{
	char dir[] = "/tmp/fexit-smoke.XXXXXX", path[sizeof(dir) + 16];
	int r = 0;

	if (!mkdtemp(dir))
		return -errno;
	for (int i = 0; i < n && r == 0; i++) {
		int fd;

		snprintf(path, sizeof(path), "%s/%d", dir, i);
		fd = open(path, O_CREAT | O_WRONLY | O_CLOEXEC, 0600);
		if (fd < 0 || close(fd) < 0 || unlink(path) < 0)
			r = -errno;
	}
	if (rmdir(dir) < 0 && r == 0)
		r = -errno;
	return r;
}

static int link_ids(struct bpf_link *link, uint32_t *ret_link_id, uint32_t *ret_prog_id)
{
	struct bpf_link_info info = {};
	uint32_t len = sizeof(info);

	if (bpf_obj_get_info_by_fd(bpf_link__fd(link), &info, &len) < 0)
		return -errno;
	*ret_link_id = info.id;
	*ret_prog_id = info.prog_id;
	return 0;
}

static int write_ready(const char *path, uint32_t link_id, uint32_t prog_id)
{
	char tmp[4096];
	FILE *f;

	snprintf(tmp, sizeof(tmp), "%s.tmp", path);
	f = fopen(tmp, "we");
	if (!f)
		return -errno;
	fprintf(f, "link_id=%u prog_id=%u\n", link_id, prog_id);
	if (fclose(f) != 0 || rename(tmp, path) < 0)
		return -errno;
	return 0;
}

/* Keeps the link attached until a signal says the test has seen it. */
static int hold(const char *ready, uint32_t link_id, uint32_t prog_id)
{
	struct timespec limit = { .tv_sec = HOLD_MAX_SEC };
	sigset_t set;
	int r, sig;

	sigemptyset(&set);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGUSR1);
	sigprocmask(SIG_BLOCK, &set, NULL);
	r = write_ready(ready, link_id, prog_id);
	if (r < 0)
		return r;
	printf("holding link %u until signalled (%s)\n", link_id, ready);
	fflush(stdout);
	sig = sigtimedwait(&set, NULL, &limit);
	if (sig < 0)
		return errno == EAGAIN ? -ETIME : -errno;
	return 0;
}

static int fail(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	fputs("FAIL: ", stdout);
	vprintf(fmt, ap);
	putchar('\n');
	va_end(ap);
	return EXIT_FAILURE;
}

static int open_and_load(const char *path, const char *func, struct bpf_object **ret_obj,
			 struct bpf_program **ret_prog)
{
	__attribute__((cleanup(cleanup_object))) struct bpf_object *obj = NULL;
	struct bpf_program *prog;
	int r;

	obj = bpf_object__open_file(path, NULL);
	if (!obj)
		return fail("cannot open %s: %s", path, strerror(errno));
	prog = bpf_object__next_program(obj, NULL);
	if (!prog)
		return fail("%s has no program", path);
	if (func) {
		r = bpf_program__set_attach_target(prog, 0, func);
		if (r == -ESRCH)
			return fail("no kernel function named '%s' in the kernel's BTF (ESRCH)", func);
		if (r < 0)
			return fail("cannot target '%s': %s", func, strerror(-r));
	}
	r = set_target_tgid(obj, getpid());
	if (r < 0)
		return fail("cannot set target_tgid in .rodata: %s", strerror(-r));
	r = bpf_object__load(obj);
	if (r == -EPERM) {
		printf("SKIP: the kernel refused to load %s with EPERM (fexit is not allowed here; "
		       "the VM tier tests it on a real kernel)\n", bpf_program__section_name(prog));
		return EXIT_SKIP;
	}
	if (r < 0)
		return fail("loading %s (%s): %s", bpf_program__section_name(prog), func ? func : "as in ELF",
			    strerror(-r));
	*ret_prog = prog;
	*ret_obj = obj;
	obj = NULL;
	return 0;
}

static int run(const char *path, const char *func, int n, const char *ready)
{
	__attribute__((cleanup(cleanup_object))) struct bpf_object *obj = NULL;
	__attribute__((cleanup(cleanup_link))) struct bpf_link *link = NULL;
	struct counters before = {}, after = {};
	struct bpf_program *prog = NULL;
	uint32_t link_id = 0, prog_id = 0;
	const char *target;
	int r;

	r = open_and_load(path, func, &obj, &prog);
	if (r != 0)
		return r;
	target = func ? func : strchr(bpf_program__section_name(prog), '/') + 1;
	link = bpf_program__attach(prog);
	if (!link)
		return fail("attaching fexit to %s: %s", target, strerror(errno));
	r = link_ids(link, &link_id, &prog_id);
	if (r < 0)
		return fail("BPF_OBJ_GET_INFO_BY_FD on the link: %s", strerror(-r));
	printf("attached fexit/%s: link id %u, prog id %u\n", target, link_id, prog_id);

	r = read_counters(obj, &before);
	if (r >= 0)
		r = unlink_files(n);
	if (r >= 0)
		r = read_counters(obj, &after);
	if (r < 0)
		return fail("counting unlinks: %s", strerror(-r));
	printf("unlinked %d files: count %llu -> %llu, own_count %llu -> %llu, last_pid %u (mine %d)\n",
	       n, (unsigned long long)before.count, (unsigned long long)after.count,
	       (unsigned long long)before.own_count, (unsigned long long)after.own_count,
	       after.last_pid, (int)getpid());
	if (after.count - before.count < (uint64_t)n)
		return fail("fexit/%s counted %llu calls for %d unlinks", target,
			    (unsigned long long)(after.count - before.count), n);
	if (after.own_count - before.own_count != (uint64_t)n)
		return fail("fexit/%s counted %llu calls from this process for %d unlinks", target,
			    (unsigned long long)(after.own_count - before.own_count), n);

	if (ready) {
		r = hold(ready, link_id, prog_id);
		if (r < 0)
			return fail("holding the link: %s", r == -ETIME ? "nobody signalled within the limit" :
				    strerror(-r));
	}
	printf("PASS: fexit/%s counted every unlink\n", target);
	return EXIT_SUCCESS;
}

int main(int argc, char **argv)
{
	const char *func = getenv("FEXITD_SMOKE_FUNC"), *ready = NULL;
	int n = 16, opt;

	while ((opt = getopt(argc, argv, "f:n:H:v")) != -1) {
		switch (opt) {
		case 'f': func = optarg; break;
		case 'n': n = atoi(optarg); break;
		case 'H': ready = optarg; break;
		case 'v': verbose = true; break;
		default: goto usage;
		}
	}
	if (optind != argc - 1 || n <= 0)
		goto usage;
	if (func && !*func)
		func = NULL;
	setvbuf(stdout, NULL, _IOLBF, 0);
	libbpf_set_print(print_libbpf);
	return run(argv[optind], func, n, ready);
usage:
	fprintf(stderr, "usage: %s [-f FUNCTION] [-n N] [-H READY-FILE] [-v] OBJECT.bpf.o\n", argv[0]);
	return 2;
}
