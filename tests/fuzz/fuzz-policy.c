/* SPDX-License-Identifier: MIT */
/* libFuzzer target for policy_parse(): any bytes either parse or fail with -EINVAL/-ENOMEM and
 * one printable message naming the file and line (it goes to the journal as it is); the
 * evaluators then answer for a few peers and names, one of them taken from the input. */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "common/peer.h"
#include "daemon/policy.h"

#define INPUT_MAX (64u << 10)   /* longer inputs only repeat lines: keep the fuzzer fast */

static void check_message(const char *error) {
        if (!error)
                return;   /* only when even the message could not be allocated */
        if (strncmp(error, "fuzz.conf:", 10) != 0)
                abort();
        for (const char *s = error; *s; s++)
                if ((unsigned char) *s < 0x20 || (unsigned char) *s >= 0x7f)
                        abort();   /* tokens are quoted only once known to be printable ASCII */
        if (strlen(error) > 512)
                abort();   /* quoted tokens are cut */
}

static void evaluate(const struct policy *p, const uint8_t *data, size_t size) {
        static const gid_t groups[] = { 4, 65534, 100 };
        struct peer peers[3] = {
                { .uid = 1000, .gid = 1000, .n_groups = 3, .role = ROLE_CONSUMER },
                { .uid = 65534, .gid = 65534, .role = ROLE_CONSUMER },
                { .uid = 1, .gid = 1, .n_groups = 1, .role = ROLE_CONSUMER },
        };
        const char *names[] = { "opensnoop", "execsnoop", "a", "programs.d/x.json", NULL, NULL };
        char tail[POLICY_PATTERN_MAX + 8];
        size_t n = size < sizeof(tail) - 1 ? size : sizeof(tail) - 1;

        memcpy(peers[0].groups, groups, sizeof(groups));
        memcpy(tail, data + size - n, n);
        tail[n] = '\0';
        names[5] = tail;
        for (size_t i = 0; i < 3; i++) {
                if (policy_is_admin(p, &peers[i]) != policy_may_load(p, &peers[i], NULL))
                        abort();   /* only an admin may load a NULL name */
                for (size_t j = 0; j < sizeof(names) / sizeof(names[0]); j++) {
                        bool use = policy_may_use(p, &peers[i], names[j]);
                        if (use && !policy_may_share(p, &peers[i], names[j]))
                                abort();   /* use includes share */
                        (void) policy_may_load(p, &peers[i], names[j]);
                }
        }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        struct policy *p = NULL;
        char *error = NULL;
        int r;

        if (size > INPUT_MAX)
                return 0;
        r = policy_parse((const char *) data, size, "fuzz.conf", &p, &error);
        if (r < 0) {
                if (p || (r != -EINVAL && r != -ENOMEM))
                        abort();
                check_message(error);
                free(error);
                return 0;
        }
        if (!p || error || policy_n_rules(p) > POLICY_RULES_MAX)
                abort();
        evaluate(p, data, size);
        policy_free(p);
        return 0;
}
