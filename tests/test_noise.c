/* Denoising noise: device against host twins, statistics, stream layout, in place, bad input. */
#define TEST_FILE "test_noise"
#include "ref/ref.h"
#include "test.h"
#include "testutil.h"

#include <math.h>

#include "clvae/ops/noise.h"
#include "clvae/ops/rng.h"

static clvae_ctx_t *ctx;

/* Noise kinds; `param` is sigma for Gaussian noise and p for masking. */
typedef enum { K_GAUSS, K_GAUSS_CLIP, K_MASK } kind_t;
static const char *kind_name[3] = {"gaussian", "gaussian clipped", "mask"};

static clvae_status_t dev_noise(kind_t k, clvae_buf_t out, clvae_buf_t in, size_t n, float param,
                                uint64_t seed, uint64_t offset, clvae_error_t *err)
{
    if (k == K_MASK) return clvae_noise_mask(ctx, out, in, n, param, seed, offset, err);
    return clvae_noise_gaussian(ctx, out, in, n, param, k == K_GAUSS_CLIP, seed, offset, err);
}

static void ref_noise(kind_t k, float *out, const float *in, size_t n, float param,
                      uint64_t seed, uint64_t offset)
{
    if (k == K_MASK) clvae_noise_mask_ref(out, in, n, param, seed, offset);
    else clvae_noise_gaussian_ref(out, in, n, param, k == K_GAUSS_CLIP, seed, offset);
}

/* The device's result of noise k on host input x (n floats), or NULL on failure. */
static float *device_noise(kind_t k, const float *x, size_t n, float param, uint64_t seed,
                           uint64_t offset)
{
    clvae_buf_t in = tu_upload(ctx, x, n), out = tu_zeros(ctx, n);
    clvae_error_t err = {0};
    float *h = NULL;
    if (dev_noise(k, out, in, n, param, seed, offset, &err) == CLVAE_OK)
        h = tu_download(ctx, out, n);
    else
        fprintf(stderr, "  %s failed: %s\n", kind_name[k], err.msg);
    clvae_buf_free(&in);
    clvae_buf_free(&out);
    return h;
}

/* n inputs in [0.05, 0.95): images-like and never 0, so a masked element is visible. */
static float *make_input(size_t n, uint64_t seed)
{
    float *x = malloc(n * sizeof *x);
    tu_rand(x, n, 0.05f, 0.95f, &seed);
    return x;
}

static void t_match_twins(void)
{
    static const size_t ns[] = {1, 3, 4, 5, 1000, 100003};
    static const uint64_t seeds[] = {0, 42, 0xdeadbeefcafef00dULL};
    /* the last offset makes the block index cross into the counter's high word */
    static const uint64_t offs[] = {0, 7, 0xfffffffeULL};
    static const float sigmas[] = {0.1f, 0.5f, 2.0f}, ps[] = {0.0f, 0.3f, 1.0f};
    for (int k = K_GAUSS; k <= K_MASK; k++) {
        double worst = 0;
        for (size_t a = 0; a < sizeof ns / sizeof *ns; a++) {
            for (size_t c = 0; c < 3; c++) {
                size_t n = a == 5 ? tu_size(ns[a], 10007) : ns[a];
                float param = k == K_MASK ? ps[c] : sigmas[c];
                float *x = make_input(n, 11 + a), *want = malloc(n * sizeof *want);
                ref_noise((kind_t)k, want, x, n, param, seeds[c], offs[c]);
                float *got = device_noise((kind_t)k, x, n, param, seeds[c], offs[c]);
                char what[128];
                snprintf(what, sizeof what, "%s n=%zu param %g seed %llu offset %llu",
                         kind_name[k], n, (double)param, (unsigned long long)seeds[c],
                         (unsigned long long)offs[c]);
                if (k == K_MASK) {
                    CHECK(got && memcmp(got, want, n * sizeof *got) == 0,
                          "%s: differs from the twin", what);
                } else {
                    /* the device's float log/cos/sin differ from the twin's double ones by a
                     * few ulps of |z| <= 5.8: that is 1e-5 relative to sigma at most */
                    double *wd = tu_double(want, n);
                    CHECK(tu_close(what, got, wd, n, 1e-5 * param, 1e-5, NULL), "%s", what);
                    /* noted: the error relative to max(|want|, sigma), the scale it is
                     * bounded by (relative to |want| alone it grows where x + sigma z ~ 0) */
                    for (size_t i = 0; got && i < n; i++)
                        worst = fmax(worst, fabs(got[i] - wd[i]) / fmax(fabs(wd[i]), param));
                    free(wd);
                }
                free(got);
                free(want);
                free(x);
            }
        }
        char what[64];
        snprintf(what, sizeof what, "noise %s", kind_name[k]);
        tu_note_error(what, worst);
    }
}

static void t_mask_statistics(void)
{
    const size_t n = tu_size(1000000, 100000);
    float *x = make_input(n, 5);
    static const float ps[] = {0.1f, 0.25f, 0.5f, 0.9f, 0.0f, 1.0f};
    for (size_t c = 0; c < sizeof ps / sizeof *ps; c++) {
        float p = ps[c];
        float *got = device_noise(K_MASK, x, n, p, 2024, 1000 * c);
        REQUIRE(got, "no result");
        size_t masked = 0, changed = 0;
        for (size_t i = 0; i < n; i++) {
            if (got[i] == 0.0f) masked++;
            else changed += memcmp(&got[i], &x[i], sizeof *x) != 0;
        }
        double frac = (double)masked / (double)n;
        CHECK(changed == 0, "p %g: %zu kept values changed", (double)p, changed);
        if (p == 0.0f || p == 1.0f)
            CHECK(masked == (p == 0.0f ? 0 : n), "p %g: %zu masked", (double)p, masked);
        else /* sampling noise sqrt(p(1-p)/n) is 3e-4 or less: 1% of p is >= 3 of them */
            CHECK(fabs(frac - p) <= (tu_small() ? 0.04 : 0.01) * p, /* small: 10x fewer draws */ "p %g: fraction masked %.6f", (double)p, frac);
        free(got);
    }
    free(x);
}

static void t_gaussian_statistics(void)
{
    const size_t n = tu_size(1000000, 100000);
    const float sigma = 0.3f;
    float *x = make_input(n, 6);
    float *plain = device_noise(K_GAUSS, x, n, sigma, 77, 5);
    float *clipped = device_noise(K_GAUSS_CLIP, x, n, sigma, 77, 5);
    REQUIRE(plain && clipped, "no result");
    double s = 0, ss = 0;
    size_t within = 0, low = 0, high = 0, mismatch = 0;
    for (size_t i = 0; i < n; i++) {
        double r = (double)plain[i] - x[i];
        s += r;
        ss += r * r;
        within += fabs(r) <= sigma;
        /* the clipped run is the plain one clamped, bit for bit */
        float want = plain[i] < 0.0f ? 0.0f : (plain[i] > 1.0f ? 1.0f : plain[i]);
        mismatch += memcmp(&clipped[i], &want, sizeof want) != 0;
        low += clipped[i] == 0.0f;
        high += clipped[i] == 1.0f;
    }
    double mean = s / (double)n, sd = sqrt(ss / (double)n - mean * mean);
    double frac1 = (double)within / (double)n;
    /* mean: 5 standard errors (sigma / sqrt(n) = 3e-4); sd: 1% (its error is 0.07%) */
    CHECK(fabs(mean) < 5 * sigma / sqrt((double)n), "residual mean %g", mean);
    CHECK(fabs(sd - sigma) < 0.01 * sigma, "residual std %g, sigma %g", sd, (double)sigma);
    CHECK(fabs(frac1 - 0.682689) < 0.003, "fraction within one sigma %.5f", frac1);
    CHECK(mismatch == 0, "%zu clipped values are not the clamped plain ones", mismatch);
    CHECK(low > n / 100 && high > n / 100, "clipped at 0: %zu, at 1: %zu", low, high);
    /* sigma 0 copies the input */
    float *same = device_noise(K_GAUSS, x, n, 0.0f, 77, 5);
    CHECK(same && memcmp(same, x, n * sizeof *x) == 0, "sigma 0 changed the input");
    free(same);
    free(plain);
    free(clipped);
    free(x);
}

/* Same call, same bits; other offsets, seeds and tags, other noise; offset + 1 = shift by 4. */
static void t_streams(void)
{
    const size_t n = 4096;
    float *x = make_input(n, 8);
    for (int k = K_GAUSS; k <= K_MASK; k += 2) {
        float param = k == K_MASK ? 0.5f : 0.2f;
        const char *nm = kind_name[k];
        float *a = device_noise((kind_t)k, x, n, param, 9, 100);
        float *a2 = device_noise((kind_t)k, x, n, param, 9, 100);
        float *next = device_noise((kind_t)k, x, n, param, 9, 100 + clvae_rng_blocks(n));
        float *other = device_noise((kind_t)k, x, n, param, 10, 100);
        float *shifted = device_noise((kind_t)k, x + 4, n - 4, param, 9, 101);
        REQUIRE(a && a2 && next && other && shifted, "%s: no result", nm);
        CHECK(memcmp(a, a2, n * sizeof *a) == 0, "%s: second run differs", nm);
        CHECK(memcmp(a + 4, shifted, (n - 4) * sizeof *a) == 0,
              "%s: offset + 1 is not the stream shifted by 4", nm);
        size_t same_next = 0, same_other = 0;
        for (size_t i = 0; i < n; i++) {
            same_next += a[i] == next[i];
            same_other += a[i] == other[i];
        }
        /* masks agree by chance on half the elements; normals practically never */
        size_t limit = k == K_MASK ? n * 6 / 10 : n / 100;
        CHECK(same_next < limit, "%s: next offset agrees on %zu of %zu", nm, same_next, n);
        CHECK(same_other < limit, "%s: other seed agrees on %zu of %zu", nm, same_other, n);
        free(a);
        free(a2);
        free(next);
        free(other);
        free(shifted);
    }
    /* the noise streams are not the plain normal / uniform streams of the same seed, offset */
    float *z = malloc(n * sizeof *z), *u = malloc(n * sizeof *u), *zero = calloc(n, sizeof *zero);
    clvae_rng_normal_host(z, n, 9, 100);
    clvae_rng_uniform_host(u, n, 9, 100);
    float *g = device_noise(K_GAUSS, zero, n, 1.0f, 9, 100);
    float *m = device_noise(K_MASK, x, n, 0.5f, 9, 100);
    REQUIRE(g && m, "no result");
    size_t same_z = 0, same_mask = 0;
    for (size_t i = 0; i < n; i++) {
        same_z += fabsf(g[i] - z[i]) < 1e-3f;
        same_mask += (m[i] == 0.0f) == (u[i] < 0.5f);
    }
    CHECK(same_z < n / 100, "gaussian noise follows the normal stream (%zu of %zu)", same_z, n);
    CHECK(same_mask < n * 6 / 10, "mask follows the uniform stream (%zu of %zu)", same_mask, n);
    /* with sigma 1 and a zero input the noise is the normal stream's maths on tag 3 */
    size_t big = 0;
    for (size_t i = 0; i < n; i++) big += fabsf(g[i]) > 5.8f;
    CHECK(big == 0, "%zu normals beyond the Box-Muller bound 5.77", big);
    free(g);
    free(m);
    free(z);
    free(u);
    free(zero);
    free(x);
}

static void t_in_place(void)
{
    const size_t n = 10007;
    float *x = make_input(n, 12);
    for (int k = K_GAUSS; k <= K_MASK; k++) {
        float param = k == K_MASK ? 0.3f : 0.4f;
        float *want = device_noise((kind_t)k, x, n, param, 3, 33);
        clvae_buf_t b = tu_upload(ctx, x, n);
        clvae_error_t err = {0};
        CHECK(dev_noise((kind_t)k, b, b, n, param, 3, 33, &err) == CLVAE_OK, "%s: %s",
              kind_name[k], err.msg);
        float *got = tu_download(ctx, b, n);
        CHECK(got && want && memcmp(got, want, n * sizeof *got) == 0,
              "%s: in place differs from out of place", kind_name[k]);
        CHECK(want && memcmp(want, x, n * sizeof *x) != 0, "%s: nothing changed", kind_name[k]);
        /* the twins work in place too */
        float *h = malloc(n * sizeof *h), *h2 = malloc(n * sizeof *h2);
        memcpy(h, x, n * sizeof *h);
        ref_noise((kind_t)k, h, h, n, param, 3, 33);
        ref_noise((kind_t)k, h2, x, n, param, 3, 33);
        CHECK(memcmp(h, h2, n * sizeof *h) == 0, "%s: twin in place differs", kind_name[k]);
        free(h);
        free(h2);
        free(got);
        free(want);
        clvae_buf_free(&b);
    }
    free(x);
}

/* Downsampling (super-resolution's corruption) against the double reference: MNIST-sized
 * planes at factors 2 and 4, several planes of 8x8, and one plane as wide as its factor; its
 * launcher refuses overlapping buffers and shapes the factor does not divide. */
static void t_downsample(void)
{
    static const struct { size_t n, h, w; int f; } c[] = {
        {3 * 28 * 28, 28, 28, 2}, {2 * 28 * 28, 28, 28, 4}, {5 * 64, 8, 8, 2}, {4 * 12, 4, 3, 1},
        {2 * 16, 4, 4, 4}};
    clvae_error_t err = {0};
    for (size_t k = 0; k < sizeof c / sizeof *c; k++) {
        float *x = make_input(c[k].n, 40 + (int)k);
        double *want = malloc(c[k].n * sizeof *want);
        clvae_buf_t in = tu_upload(ctx, x, c[k].n), out = tu_zeros(ctx, c[k].n);
        REQUIRE(want && clvae_noise_downsample(ctx, out, in, c[k].n, c[k].h, c[k].w, c[k].f,
                                               &err) == CLVAE_OK, "%s", err.msg);
        clvae_noise_downsample_ref(want, x, c[k].n, c[k].h, c[k].w, c[k].f);
        float *got = tu_download(ctx, out, c[k].n);
        char what[64];
        snprintf(what, sizeof what, "downsample %zux%zu by %d", c[k].h, c[k].w, c[k].f);
        CHECK(got && tu_close(what, got, want, c[k].n, 1e-6, 1e-6, NULL), "%s", what);
        /* through the spec, as a denoising model's load applies it */
        clvae_noise_spec_t spec = {CLVAE_NOISE_DOWNSAMPLE, 0, 0, 0, c[k].f, c[k].h, c[k].w};
        clvae_buf_t o2 = tu_zeros(ctx, c[k].n);
        REQUIRE(clvae_noise_apply(ctx, &spec, o2, in, c[k].n, 1, 0, &err) == CLVAE_OK, "%s",
                err.msg);
        float *got2 = tu_download(ctx, o2, c[k].n);
        CHECK(got && got2 && memcmp(got, got2, c[k].n * sizeof *got) == 0, "%s: apply differs",
              what);
        free(x), free(want), free(got), free(got2);
        clvae_buf_free(&in), clvae_buf_free(&out), clvae_buf_free(&o2);
    }
    clvae_buf_t b = tu_zeros(ctx, 64), o = tu_zeros(ctx, 64);
    const clvae_status_t INV = CLVAE_ERR_INVALID;
    CHECK(clvae_noise_downsample(ctx, b, b, 64, 8, 8, 2, &err) == INV, "in place accepted");
    clvae_error_clear(&err);
    CHECK(clvae_noise_downsample(ctx, clvae_buf_at(b, 4), b, 32, 8, 4, 2, &err) == INV,
          "overlap accepted");
    clvae_error_clear(&err);
    CHECK(clvae_noise_downsample(ctx, o, b, 64, 8, 8, 3, &err) == INV, "factor 3 of 8 accepted");
    clvae_error_clear(&err);
    CHECK(clvae_noise_downsample(ctx, o, b, 60, 8, 8, 2, &err) == INV, "60 values of 8x8 planes");
    clvae_error_clear(&err);
    CHECK(clvae_noise_downsample(ctx, o, b, 64, 8, 8, 0, &err) == INV, "factor 0 accepted");
    clvae_error_clear(&err);
    clvae_buf_free(&b), clvae_buf_free(&o);
}

static void t_invalid_arguments(void)
{
    clvae_buf_t b = tu_zeros(ctx, 64), o = tu_zeros(ctx, 64), none = {0};
    clvae_buf_t far = clvae_buf_at(b, (size_t)UINT32_MAX - 10);
    clvae_error_t err = {0};
    const clvae_status_t INV = CLVAE_ERR_INVALID;
    static const float bad_p[] = {-0.01f, 1.01f, NAN, INFINITY, -INFINITY};
    for (size_t i = 0; i < sizeof bad_p / sizeof *bad_p; i++) {
        CHECK(clvae_noise_mask(ctx, o, b, 64, bad_p[i], 1, 0, &err) == INV, "p %g accepted",
              (double)bad_p[i]);
        CHECK(strstr(err.msg, "p ") != NULL, "message: %s", err.msg);
    }
    static const float bad_sigma[] = {-0.5f, -1e-30f, NAN, INFINITY};
    for (size_t i = 0; i < sizeof bad_sigma / sizeof *bad_sigma; i++) {
        CHECK(clvae_noise_gaussian(ctx, o, b, 64, bad_sigma[i], 0, 1, 0, &err) == INV,
              "sigma %g accepted", (double)bad_sigma[i]);
        CHECK(strstr(err.msg, "sigma") != NULL, "message: %s", err.msg);
    }
    CHECK(clvae_noise_gaussian(ctx, o, b, 64, 0.1f, 2, 1, 0, &err) == INV, "clip 2 accepted");
    CHECK(clvae_noise_gaussian(ctx, o, b, 64, 0.1f, -1, 1, 0, &err) == INV, "clip -1 accepted");
    for (int k = K_GAUSS; k <= K_MASK; k++) {
        const char *nm = kind_name[k];
        CHECK(dev_noise((kind_t)k, o, b, 0, 0.1f, 1, 0, &err) == INV, "%s: n=0 accepted", nm);
        CHECK(strstr(err.msg, "n must be") != NULL, "message: %s", err.msg);
        CHECK(dev_noise((kind_t)k, none, b, 64, 0.1f, 1, 0, &err) == INV, "%s: NULL out", nm);
        CHECK(dev_noise((kind_t)k, o, none, 64, 0.1f, 1, 0, &err) == INV, "%s: NULL in", nm);
        CHECK(dev_noise((kind_t)k, far, b, 64, 0.1f, 1, 0, &err) == INV, "%s: far out", nm);
        CHECK(dev_noise((kind_t)k, o, far, 64, 0.1f, 1, 0, &err) == INV, "%s: far in", nm);
        CHECK(dev_noise((kind_t)k, clvae_buf_at(b, 1), b, 32, 0.1f, 1, 0, &err) == INV,
              "%s: overlapping views accepted", nm);
        CHECK(strstr(err.msg, "overlap") != NULL, "message: %s", err.msg);
        CHECK(dev_noise((kind_t)k, o, b, (size_t)UINT32_MAX + 1, 0.1f, 1, 0, &err) == INV,
              "%s: n > 2^32 accepted", nm);
    }
    /* the rejected calls wrote nothing */
    float *hb = tu_download(ctx, b, 64), *ho = tu_download(ctx, o, 64);
    int clean = hb && ho;
    for (int i = 0; clean && i < 64; i++) clean = hb[i] == 0.0f && ho[i] == 0.0f;
    CHECK(clean, "a rejected call wrote");
    free(hb);
    free(ho);
    /* the limits themselves are fine: p 0 and 1, sigma 0 */
    CHECK(clvae_noise_mask(ctx, o, b, 64, 0.0f, 1, 0, &err) == CLVAE_OK, "p 0: %s", err.msg);
    CHECK(clvae_noise_mask(ctx, o, b, 64, 1.0f, 1, 0, &err) == CLVAE_OK, "p 1: %s", err.msg);
    CHECK(clvae_noise_gaussian(ctx, o, b, 64, 0.0f, 1, 1, 0, &err) == CLVAE_OK, "sigma 0: %s",
          err.msg);
    clvae_buf_free(&b);
    clvae_buf_free(&o);
}

int main(void)
{
    ctx = tu_ctx();
    if (!ctx) return 1;
    RUN(t_match_twins);
    RUN(t_mask_statistics);
    RUN(t_gaussian_statistics);
    RUN(t_streams);
    RUN(t_in_place);
    RUN(t_downsample);
    RUN(t_invalid_arguments);
    tu_print_errors();
    clvae_ctx_free(ctx);
    return TEST_EXIT();
}
