/* Philox streams: known answers, device against the host twin, layout, statistics, bad input. */
#define TEST_FILE "test_rng"
#include "test.h"
#include "testutil.h"

#include <math.h>

#include "clvae/ops/rng.h"

static clvae_ctx_t *ctx;

/* n floats of a device stream (uniform when !normal), or NULL on failure. */
static float *device_stream(int normal, size_t n, uint64_t seed, uint64_t offset)
{
    clvae_buf_t b = tu_zeros(ctx, n);
    clvae_error_t err = {0};
    clvae_status_t s = normal ? clvae_rng_normal(ctx, b, n, seed, offset, &err)
                              : clvae_rng_uniform(ctx, b, n, seed, offset, &err);
    float *h = NULL;
    if (s == CLVAE_OK) h = tu_download(ctx, b, n);
    else fprintf(stderr, "  stream failed: %s\n", err.msg);
    clvae_buf_free(&b);
    return h;
}

static void t_philox_known_answers(void)
{
    /* Random123 kat_vectors, "philox4x32 10" lines: counter, key, expected output */
    static const uint32_t kat[3][10] = {
        {0, 0, 0, 0, 0, 0, 0x6627e8d5, 0xe169c58d, 0xbc57ac4c, 0x9b00dbd8},
        {0xffffffff, 0xffffffff, 0xffffffff, 0xffffffff, 0xffffffff, 0xffffffff, 0x408f276d,
         0x41c83b0e, 0xa20bc7c6, 0x6d5451fd},
        {0x243f6a88, 0x85a308d3, 0x13198a2e, 0x03707344, 0xa4093822, 0x299f31d0, 0xd16cfe09,
         0x94fdcceb, 0x5001e420, 0x24126ea1},
    };
    for (int v = 0; v < 3; v++) {
        uint32_t out[4];
        clvae_philox4x32_10(kat[v], kat[v] + 4, out);
        for (int j = 0; j < 4; j++)
            CHECK(out[j] == kat[v][6 + j], "vector %d word %d: got %08x want %08x", v, j,
                  (unsigned)out[j], (unsigned)kat[v][6 + j]);
    }
}

static void t_uniform_device_known_answer(void)
{
    /* seed 0, offset 0: block 0 is philox(counter 0, key 0), the first KAT vector */
    static const uint32_t want[4] = {0x6627e8d5, 0xe169c58d, 0xbc57ac4c, 0x9b00dbd8};
    float *got = device_stream(0, 4, 0, 0);
    REQUIRE(got, "no device result");
    for (int j = 0; j < 4; j++) {
        float w = (float)(want[j] >> 8) / 16777216.0f;
        CHECK(got[j] == w, "word %d: got %.9g want %.9g", j, (double)got[j], (double)w);
    }
    free(got);
}

static void t_uniform_matches_twin(void)
{
    static const size_t ns[] = {1, 3, 4, 5, 1000, 100003};
    static const uint64_t seeds[] = {0, 42, 0xdeadbeefcafef00dULL};
    /* the last offset makes the block index cross into the counter's high word */
    static const uint64_t offs[] = {0, 7, 0xfffffffeULL};
    for (size_t a = 0; a < sizeof ns / sizeof *ns; a++) {
        for (size_t c = 0; c < 3; c++) {
            size_t n = a == 5 ? tu_size(ns[a], 10007) : ns[a];
            float *want = malloc(n * sizeof *want);
            clvae_rng_uniform_host(want, n, seeds[c], offs[c]);
            float *got = device_stream(0, n, seeds[c], offs[c]);
            CHECK(got && memcmp(got, want, n * sizeof *got) == 0,
                  "uniform n=%zu seed %llu offset %llu differs from the twin", n,
                  (unsigned long long)seeds[c], (unsigned long long)offs[c]);
            size_t out_of_range = 0;
            for (size_t i = 0; i < n; i++) out_of_range += !(want[i] >= 0.0f && want[i] < 1.0f);
            CHECK(out_of_range == 0, "%zu uniforms outside [0, 1)", out_of_range);
            free(got);
            free(want);
        }
    }
}

static void t_layout_independent_of_n_and_shifts_by_offset(void)
{
    for (int normal = 0; normal < 2; normal++) {
        float *full = device_stream(normal, 1000, 9, 100);
        float *part = device_stream(normal, 37, 9, 100);
        float *shifted = device_stream(normal, 996, 9, 101); /* one block = 4 elements on */
        REQUIRE(full && part && shifted, "no device result");
        CHECK(memcmp(full, part, 37 * sizeof *part) == 0, "%s: prefix depends on n",
              normal ? "normal" : "uniform");
        CHECK(memcmp(full + 4, shifted, 996 * sizeof *full) == 0,
              "%s: offset + 1 is not the stream shifted by 4", normal ? "normal" : "uniform");
        /* the host twin has the same layout */
        float hfull[1000], hpart[37];
        if (normal) {
            clvae_rng_normal_host(hfull, 1000, 9, 100);
            clvae_rng_normal_host(hpart, 37, 9, 100);
        } else {
            clvae_rng_uniform_host(hfull, 1000, 9, 100);
            clvae_rng_uniform_host(hpart, 37, 9, 100);
        }
        CHECK(memcmp(hfull, hpart, sizeof hpart) == 0, "host twin prefix depends on n");
        free(full);
        free(part);
        free(shifted);
    }
}

static void t_normal_matches_twin(void)
{
    static const size_t ns[] = {1, 2, 3, 5, 4096, 100001};
    for (size_t a = 0; a < sizeof ns / sizeof *ns; a++) {
        size_t n = a == 5 ? tu_size(ns[a], 10007) : ns[a];
        uint64_t seed = 1234 + a, offset = 0xfffffff0ULL * (a % 2);
        float *want = malloc(n * sizeof *want);
        clvae_rng_normal_host(want, n, seed, offset);
        double *wd = tu_double(want, n);
        float *got = device_stream(1, n, seed, offset);
        char name[64];
        snprintf(name, sizeof name, "normal n=%zu", n);
        double rel = 0;
        /* device log/sqrt/cospi/sinpi are within a few float ulps of the twin's */
        CHECK(tu_close(name, got, wd, n, 1e-5, 1e-5, &rel), "%s", name);
        tu_note_error("rng_normal", rel);
        free(got);
        free(wd);
        free(want);
    }
}

static void t_normal_statistics(void)
{
    size_t n = tu_size(1000000, 100000);
    float *z = device_stream(1, n, 2024, 0);
    REQUIRE(z, "no device result");
    double sum = 0, sumsq = 0, lag = 0, maxabs = 0;
    size_t tail = 0;
    for (size_t i = 0; i < n; i++) {
        sum += z[i];
        sumsq += (double)z[i] * z[i];
        if (i + 1 < n) lag += (double)z[i] * z[i + 1];
        if (fabs(z[i]) > 1.959964) tail++;
        if (fabs(z[i]) > maxabs) maxabs = fabs(z[i]);
    }
    double mean = sum / n, var = sumsq / n - mean * mean, corr = lag / (n - 1);
    double tailfrac = (double)tail / n;
    CHECK(fabs(mean) < 0.01, "mean %g", mean);
    CHECK(fabs(var - 1.0) < 0.01, "variance %g", var);
    /* 5% two-sided tail, standard error 2.2e-4 */
    CHECK(fabs(tailfrac - 0.05) < 0.002, "fraction beyond 1.96: %g", tailfrac);
    CHECK(fabs(corr) < 0.01, "lag-1 correlation %g", corr);
    CHECK(maxabs < 5.78 && maxabs > 4.0, "max |z| %g", maxabs);
    free(z);

    float *u = device_stream(0, n, 2024, 0);
    REQUIRE(u, "no device result");
    sum = sumsq = 0;
    size_t bins[10] = {0};
    for (size_t i = 0; i < n; i++) {
        sum += u[i];
        sumsq += (double)u[i] * u[i];
        bins[(int)(u[i] * 10.0f)]++;
    }
    mean = sum / n;
    var = sumsq / n - mean * mean;
    CHECK(fabs(mean - 0.5) < 0.002, "uniform mean %g", mean);
    CHECK(fabs(var - 1.0 / 12.0) < 0.002, "uniform variance %g", var);
    double chi2 = 0;
    for (int k = 0; k < 10; k++) chi2 += pow((double)bins[k] - n / 10.0, 2) / (n / 10.0);
    CHECK(chi2 < 30.0, "uniform decile chi^2 %g (9 degrees of freedom)", chi2);
    free(u);
}

/* Number of positions where a and b hold the same bits. */
static size_t same_count(const float *a, const float *b, size_t n)
{
    size_t same = 0;
    for (size_t i = 0; i < n; i++) same += memcmp(a + i, b + i, sizeof *a) == 0;
    return same;
}

static void t_streams_differ_and_repeat(void)
{
    size_t n = 4096;
    for (int normal = 0; normal < 2; normal++) {
        const char *what = normal ? "normal" : "uniform";
        float *a = device_stream(normal, n, 77, 5);
        float *a2 = device_stream(normal, n, 77, 5);
        float *s = device_stream(normal, n, 78, 5);
        float *hi = device_stream(normal, n, 77ULL | (1ULL << 40), 5);
        float *o = device_stream(normal, n, 77, 5 + clvae_rng_blocks(n));
        float *oh = device_stream(normal, n, 77, 5 + (1ULL << 33));
        REQUIRE(a && a2 && s && hi && o && oh, "no device result");
        CHECK(memcmp(a, a2, n * sizeof *a) == 0, "%s: same seed and offset differ", what);
        /* 24-bit values: a few coincidences are possible, many are not */
        CHECK(same_count(a, s, n) < 8, "%s: seed 77 and 78 agree at %zu places", what,
              same_count(a, s, n));
        CHECK(same_count(a, hi, n) < 8, "%s: seed high word ignored (%zu equal)", what,
              same_count(a, hi, n));
        CHECK(same_count(a, o, n) < 8, "%s: next offset agrees at %zu places", what,
              same_count(a, o, n));
        CHECK(same_count(a, oh, n) < 8, "%s: offset high word ignored (%zu equal)", what,
              same_count(a, oh, n));
        free(a);
        free(a2);
        free(s);
        free(hi);
        free(o);
        free(oh);
    }
    /* uniform and normal streams with the same (seed, offset) use different counters */
    float u[1000], z[1000], zu[1000];
    clvae_rng_uniform_host(u, 1000, 5, 0);
    clvae_rng_normal_host(z, 1000, 5, 0);
    for (size_t i = 0; i < 1000; i += 2) {
        /* the normals Box-Muller would give from the uniform stream's words */
        double u1 = u[i] + 1.0 / 16777216.0, u2 = u[i + 1];
        double r = sqrt(-2.0 * log(u1));
        zu[i] = (float)(r * cos(6.283185307179586 * u2));
        zu[i + 1] = (float)(r * sin(6.283185307179586 * u2));
    }
    CHECK(same_count(z, zu, 1000) < 8, "normal stream reuses the uniform stream's words");
}

static void t_invalid_arguments(void)
{
    clvae_buf_t b = tu_zeros(ctx, 8), none = {0};
    clvae_error_t err = {0};
    CHECK(clvae_rng_uniform(ctx, b, 0, 1, 0, &err) == CLVAE_ERR_INVALID, "n=0 accepted");
    CHECK(clvae_rng_normal(ctx, b, 0, 1, 0, &err) == CLVAE_ERR_INVALID, "n=0 accepted");
    CHECK(clvae_rng_uniform(ctx, none, 8, 1, 0, &err) == CLVAE_ERR_INVALID, "NULL accepted");
    CHECK(clvae_rng_normal(ctx, none, 8, 1, 0, &err) == CLVAE_ERR_INVALID, "NULL accepted");
    clvae_buf_t far = clvae_buf_at(b, (size_t)UINT32_MAX - 4);
    CHECK(clvae_rng_normal(ctx, far, 8, 1, 0, &err) == CLVAE_ERR_INVALID,
          "index over 2^32 accepted");
    CHECK(strstr(err.msg, "2^32") != NULL, "message: %s", err.msg);
    /* nothing was written by the rejected calls */
    float *h = tu_download(ctx, b, 8);
    CHECK(h && h[0] == 0.0f && h[7] == 0.0f, "a rejected call wrote");
    free(h);
    clvae_buf_free(&b);
}

int main(void)
{
    ctx = tu_ctx();
    if (!ctx) return 1;
    RUN(t_philox_known_answers);
    RUN(t_uniform_device_known_answer);
    RUN(t_uniform_matches_twin);
    RUN(t_layout_independent_of_n_and_shifts_by_offset);
    RUN(t_normal_matches_twin);
    RUN(t_normal_statistics);
    RUN(t_streams_differ_and_repeat);
    RUN(t_invalid_arguments);
    tu_print_errors();
    clvae_ctx_free(ctx);
    return TEST_EXIT();
}
