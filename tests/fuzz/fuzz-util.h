/* SPDX-License-Identifier: MIT */
#pragma once

/* Helpers shared by the libFuzzer targets in tests/fuzz/ (docs/fuzzing.md). */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Makes bpf(2) fail with EPERM in this process and its threads, for good: the request and file
 * fuzzers must get as far as the kernel calls and no further, even when an input happens to be a
 * valid BPF object or a pinned path. Aborts if the filter cannot be installed. */
void fuzz_deny_bpf(void);

/* Prints a finding to the original stderr (kept open even when libFuzzer's -close_fd_mask=2
 * closes fd 2 to silence the daemon's logs) and aborts, so libFuzzer saves the input. */
_Noreturn void fuzz_fail(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* The same without the abort, for what a target shows on request. */
void fuzz_note(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* Open fds of this process (entries of /proc/self/fd, minus the one used to count). */
int fuzz_fd_count(void);

/* Aborts with a message when an input leaves more fds open than it found. */
void fuzz_check_fds(int before, const char *target);

/* Consumes an input from the front, like libFuzzer's FuzzedDataProvider: reads past the end give
 * zeros, so every byte string is a valid input. */
struct fuzz_input {
        const uint8_t *p;
        size_t n;
};
uint8_t fuzz_u8(struct fuzz_input *in);
uint16_t fuzz_u16(struct fuzz_input *in);
/* The bytes up to the first NUL (consumed with it), or all that is left. */
size_t fuzz_take_until_nul(struct fuzz_input *in, const uint8_t **ret);

/* A private scratch directory under $TMPDIR (else /dev/shm, else /tmp), created once, removed at
 * exit. */
const char *fuzz_scratch_dir(void);
/* Writes len bytes to dir/name (created or truncated). Aborts on error. */
void fuzz_write_file(const char *dir, const char *name, const void *data, size_t len);
/* Removes every entry of dir (not recursive: the targets create flat directories). */
void fuzz_empty_dir(const char *dir);
/* mkdir -p for one level below an existing directory; aborts on error. */
void fuzz_mkdir(const char *dir, const char *name, char *ret_path, size_t size);

/* A memfd holding len bytes, offset 0. Aborts on error. */
int fuzz_memfd(const void *data, size_t len);
