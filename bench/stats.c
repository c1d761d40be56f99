/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "bench/bench.h"

uint64_t now_ns(void) {
        struct timespec ts;

        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (uint64_t) ts.tv_sec * 1000000000u + (uint64_t) ts.tv_nsec;
}

static int samples_reserve(struct samples *s, size_t n) {
        uint64_t *v;
        size_t cap;

        if (s->n + n <= s->cap)
                return 0;
        cap = s->cap ? s->cap : 1024;
        while (cap < s->n + n)
                cap *= 2;
        v = realloc(s->v, cap * sizeof(*v));
        if (!v)
                return -ENOMEM;
        s->v = v;
        s->cap = cap;
        return 0;
}

int samples_add(struct samples *s, uint64_t ns) {
        int r = samples_reserve(s, 1);

        if (r < 0)
                return r;
        s->v[s->n++] = ns;
        return 0;
}

int samples_append(struct samples *s, const struct samples *other) {
        int r = samples_reserve(s, other->n);

        if (r < 0)
                return r;
        memcpy(s->v + s->n, other->v, other->n * sizeof(*s->v));
        s->n += other->n;
        return 0;
}

void samples_done(struct samples *s) {
        free(s->v);
        *s = (struct samples) {};
}

static int cmp_u64(const void *a, const void *b) {
        uint64_t x = *(const uint64_t *) a, y = *(const uint64_t *) b;

        return x < y ? -1 : x > y;
}

/* Nearest rank: the smallest sample with at least p% of the samples at or below it. */
uint64_t samples_percentile(struct samples *s, double p) {
        size_t rank;

        if (s->n == 0)
                return 0;
        qsort(s->v, s->n, sizeof(*s->v), cmp_u64);
        rank = (size_t) (p / 100.0 * (double) s->n + 0.999999);
        if (rank < 1)
                rank = 1;
        if (rank > s->n)
                rank = s->n;
        return s->v[rank - 1];
}

double samples_mean(const struct samples *s) {
        double sum = 0;

        for (size_t i = 0; i < s->n; i++)
                sum += (double) s->v[i];
        return s->n ? sum / (double) s->n : 0;
}

static json_object *us(uint64_t ns) {
        return json_object_new_double((double) ns / 1000.0);
}

json_object *samples_to_json(struct samples *s) {
        json_object *o = json_object_new_object();

        json_object_object_add(o, "n", json_object_new_int64((int64_t) s->n));
        json_object_object_add(o, "p50_us", us(samples_percentile(s, 50)));
        json_object_object_add(o, "p99_us", us(samples_percentile(s, 99)));
        json_object_object_add(o, "p999_us", us(samples_percentile(s, 99.9)));
        json_object_object_add(o, "mean_us", json_object_new_double(samples_mean(s) / 1000.0));
        json_object_object_add(o, "max_us", us(s->n ? s->v[s->n - 1] : 0));
        return o;
}
