/* The sinusoidal time embedding against the double reference (t from 0 to a DDPM's 999, fractional
 * t, several sizes and periods), its exact values at t = 0, bad input. It has no backward: t is
 * data (the dense layers after it are checked by tests/test_model.c). */
#define TEST_FILE "test_embed"
#include "ref/ref.h"
#include "test.h"
#include "testutil.h"

#include <math.h>

#include "clvae/ops/embed.h"

static clvae_ctx_t *ctx;

static void t_vs_reference(void)
{
    static const struct {
        size_t N, D;
        float P; /* max_period */
    } cases[] = {{5, 2, 10000.0f}, {8, 32, 10000.0f}, {3, 128, 10000.0f}, {4, 16, 100.0f},
                 {1, 6, 2.0f}};
    for (size_t s = 0; s < sizeof cases / sizeof *cases; s++) {
        size_t N = cases[s].N, D = cases[s].D, n = N * D;
        float P = cases[s].P;
        char name[96];
        snprintf(name, sizeof name, "N=%zu D=%zu max_period=%g", N, D, (double)P);
        float *t = malloc(N * sizeof *t);
        uint64_t seed = 17 + s;
        tu_rand(t, N, 0.0f, 1000.0f, &seed);
        for (size_t k = 0; k < N; k++)
            if (k % 2 == 0) t[k] = floorf(t[k]); /* integer steps, as DDPM draws them */
        t[0] = 999.0f;
        if (N > 1) t[N - 1] = 0.37f;
        clvae_buf_t bt = tu_upload(ctx, t, N), by = tu_zeros(ctx, n);
        clvae_error_t err = {0};
        CHECK(clvae_time_embed_forward(ctx, by, bt, N, D, P, &err) == CLVAE_OK, "%s: %s", name,
              err.msg);
        double *td = tu_double(t, N), *y = malloc(n * sizeof *y);
        clvae_time_embed_forward_ref(y, td, N, D, (double)P);
        float *gy = tu_download(ctx, by, n);
        double rel;
        /* the fp32 phase t * f_k: a few 1e-4 at t = 1000 */
        CHECK(tu_close(name, gy, y, n, 1e-3, 0.0, &rel), "%s y", name);
        tu_note_error("time_embed_forward", rel);
        free(t), free(td), free(y), free(gy);
        clvae_buf_free(&bt), clvae_buf_free(&by);
    }
}

/* t = 0: sin 0 = 0 and cos 0 = 1 exactly; t = 0.5 at the first two frequencies (1 and 0.1). */
static void t_exact_values(void)
{
    size_t N = 2, D = 8;
    float t[2] = {0.0f, 0.5f};
    clvae_buf_t bt = tu_upload(ctx, t, N), by = tu_zeros(ctx, N * D);
    clvae_error_t err = {0};
    REQUIRE(clvae_time_embed_forward(ctx, by, bt, N, D, 10000.0f, &err) == CLVAE_OK, "%s",
            err.msg);
    float *y = tu_download(ctx, by, N * D);
    REQUIRE(y, "download");
    for (size_t k = 0; k < D / 2; k++)
        CHECK(y[k] == 0.0f && y[D / 2 + k] == 1.0f, "t = 0, k = %zu: %g %g", k, (double)y[k],
              (double)y[D / 2 + k]);
    CHECK(fabs(y[D] - sin(0.5)) < 1e-6 && fabs(y[D + D / 2] - cos(0.5)) < 1e-6,
          "t = 0.5, f_0 = 1: %g %g", (double)y[D], (double)y[D + D / 2]);
    /* f_1 = 10000^(-1/4) = 0.1 */
    CHECK(fabs(y[D + 1] - sin(0.05)) < 1e-6, "t = 0.5, f_1 = 0.1: %g", (double)y[D + 1]);
    free(y);
    clvae_buf_free(&bt), clvae_buf_free(&by);
}

/* A conditional model's embedding: each row the sinusoidal features (as without labels) then the
 * one-hot of its label; the null class K (and above) sets none. */
static void t_with_labels(void)
{
    enum { N = 5, D = 8, K = 3, R = D + K };
    float t[N] = {0.0f, 3.0f, 999.0f, 41.0f, 7.5f}, lab[N] = {0.0f, 2.0f, 1.0f, 3.0f, 2.0f};
    clvae_buf_t bt = tu_upload(ctx, t, N), bl = tu_upload(ctx, lab, N), by = tu_zeros(ctx, N * R),
                bp = tu_zeros(ctx, N * D), none = {0};
    clvae_error_t err = {0};
    REQUIRE(clvae_time_embed_label_forward(ctx, by, bt, bl, N, D, K, 10000.0f, &err) == CLVAE_OK &&
                clvae_time_embed_forward(ctx, bp, bt, N, D, 10000.0f, &err) == CLVAE_OK,
            "%s", err.msg);
    float *y = tu_download(ctx, by, N * R), *p = tu_download(ctx, bp, N * D);
    REQUIRE(y && p, "download (or a guard overwritten)");
    for (int n = 0; n < N; n++) {
        CHECK(memcmp(y + n * R, p + n * D, D * sizeof *y) == 0, "row %d: features differ", n);
        for (int k = 0; k < K; k++)
            CHECK(y[n * R + D + k] == (lab[n] == (float)k ? 1.0f : 0.0f), "row %d one-hot %d: %g",
                  n, k, (double)y[n * R + D + k]);
    }
    CHECK(clvae_time_embed_label_forward(ctx, by, bt, none, N, D, K, 10000.0f, &err) ==
              CLVAE_ERR_INVALID, "labels missing");
    clvae_error_clear(&err);
    free(y), free(p);
    clvae_buf_free(&bt), clvae_buf_free(&bl), clvae_buf_free(&by), clvae_buf_free(&bp);
}

static void t_invalid_arguments(void)
{
    float t[3] = {1, 2, 3};
    clvae_buf_t bt = tu_upload(ctx, t, 3), by = tu_zeros(ctx, 12), none = {0};
    clvae_error_t err = {0};
    const clvae_status_t INV = CLVAE_ERR_INVALID;
    CHECK(clvae_time_embed_forward(ctx, by, bt, 3, 3, 10000.0f, &err) == INV &&
              strstr(err.msg, "even") != NULL,
          "odd D: %s", err.msg);
    CHECK(clvae_time_embed_forward(ctx, by, bt, 3, 0, 10000.0f, &err) == INV, "D = 0");
    CHECK(clvae_time_embed_forward(ctx, by, bt, 0, 4, 10000.0f, &err) == INV, "N = 0");
    CHECK(clvae_time_embed_forward(ctx, by, bt, 3, 4, 1.0f, &err) == INV, "max_period 1");
    CHECK(clvae_time_embed_forward(ctx, by, bt, 3, 4, NAN, &err) == INV, "max_period NaN");
    CHECK(clvae_time_embed_forward(ctx, by, none, 3, 4, 10000.0f, &err) == INV &&
              strstr(err.msg, "t") != NULL,
          "NULL t: %s", err.msg);
    CHECK(clvae_time_embed_forward(ctx, by, bt, 4, 4, 10000.0f, &err) == INV, "y too small");
    float *y = tu_download(ctx, by, 12);
    int zeros = y != NULL;
    for (size_t i = 0; y && i < 12; i++) zeros &= y[i] == 0.0f;
    CHECK(zeros, "a rejected call wrote");
    free(y);
    clvae_buf_free(&bt), clvae_buf_free(&by);
}

int main(void)
{
    ctx = tu_ctx();
    if (!ctx) return 1;
    RUN(t_vs_reference);
    RUN(t_exact_values);
    RUN(t_with_labels);
    RUN(t_invalid_arguments);
    tu_print_errors();
    clvae_ctx_free(ctx);
    return TEST_EXIT();
}
