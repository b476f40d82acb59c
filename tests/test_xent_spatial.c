/* Cross-entropy per map position and class draws at one position (a PixelCNN prior's ops):
 * device against the double reference, gradients by differences, bad labels, determinism,
 * draw frequencies, bad input. */
#define TEST_FILE "test_xent_spatial"
#include "ref/ref.h"
#include "test.h"
#include "testutil.h"

#include <math.h>

#include "clvae/ops/rng.h"
#include "clvae/ops/xent.h"

static clvae_ctx_t *ctx;

/* Shape key: N examples, K classes, P positions; logits [N, K, P], labels and codes [N, P]. */

/* Class k of position p of example n in logits [N, K, P]. */
static size_t at(size_t n, size_t k, size_t p, size_t K, size_t P) { return (n * K + k) * P + p; }

/* Labels [N, P]: the position's argmax at even positions (hits), another class at odd ones
 * (misses when K > 1), so hit counts are neither 0 nor P. */
static void make_labels(float *y, const float *z, size_t N, size_t K, size_t P)
{
    for (size_t n = 0; n < N; n++)
        for (size_t p = 0; p < P; p++) {
            size_t best = 0;
            for (size_t k = 1; k < K; k++)
                if (z[at(n, k, p, K, P)] > z[at(n, best, p, K, P)]) best = k;
            y[n * P + p] = (float)((best + (p + n) % 2 * (1 + n % 3)) % K);
        }
}

/* got[i] == (float)want[i] for i < n (NaN matching NaN); prints the first mismatch. */
static int exact(const char *what, const float *got, const double *want, size_t n)
{
    if (!got) return 0;
    for (size_t i = 0; i < n; i++) {
        float w = (float)want[i];
        if (isnan(w) ? !isnan(got[i]) : got[i] != w) {
            fprintf(stderr, "  %s: element %zu is %.9g, want %.9g\n", what, i, (double)got[i],
                    (double)w);
            return 0;
        }
    }
    return 1;
}

/* Forward, backward (onto random values) and hit counts of one shape against the reference,
 * then a second run that must give the same bits. */
static void run_case(size_t N, size_t K, size_t P)
{
    char name[64];
    snprintf(name, sizeof name, "%zux%zux%zu", N, K, P);
    size_t n = N * K * P, np = N * P;
    uint64_t seed = 0x5eaULL + 31 * n + P;
    float *z = malloc(n * sizeof *z), *y = malloc(np * sizeof *y), *g0 = malloc(n * sizeof *g0);
    tu_rand(z, n, -5.0f, 5.0f, &seed);
    make_labels(y, z, N, K, P);
    tu_rand(g0, n, -1.0f, 1.0f, &seed);
    float scale = 1.0f / (float)N;
    double *zd = tu_double(z, n), *yd = tu_double(y, np), *g = tu_double(g0, n);
    double *per = malloc(N * sizeof *per), *hit = malloc(N * sizeof *hit), mean;
    clvae_xent_spatial_forward_ref(per, &mean, zd, yd, N, K, P);
    clvae_xent_spatial_backward_ref(g, zd, yd, scale, N, K, P);
    clvae_xent_spatial_correct_ref(hit, zd, yd, N, K, P);
    clvae_buf_t bz = tu_upload(ctx, z, n), by = tu_upload(ctx, y, np);
    float *got[2][4] = {{0}};
    for (int run = 0; run < 2; run++) {
        clvae_buf_t bper = tu_zeros(ctx, N), bmean = tu_zeros(ctx, 1), bg = tu_upload(ctx, g0, n);
        clvae_buf_t bhit = tu_zeros(ctx, N);
        clvae_error_t err = {0};
        CHECK(!clvae_xent_spatial_forward(ctx, bper, bmean, bz, by, N, K, P, &err) &&
                  !clvae_xent_spatial_backward(ctx, bg, bz, by, scale, N, K, P, &err) &&
                  !clvae_xent_spatial_correct(ctx, bhit, bz, by, N, K, P, &err),
              "%s: %s", name, err.msg);
        got[run][0] = tu_download(ctx, bper, N);
        got[run][1] = tu_download(ctx, bmean, 1);
        got[run][2] = tu_download(ctx, bg, n);
        got[run][3] = tu_download(ctx, bhit, N);
        clvae_buf_free(&bper), clvae_buf_free(&bmean), clvae_buf_free(&bg);
        clvae_buf_free(&bhit);
    }
    double rel;
    CHECK(tu_close(name, got[0][0], per, N, 1e-5, 1e-5, &rel), "%s per-example loss", name);
    tu_note_error("xent spatial forward", rel);
    CHECK(tu_close(name, got[0][1], &mean, 1, 1e-5, 1e-5, NULL), "%s mean", name);
    CHECK(tu_close(name, got[0][2], g, n, 1e-6, 1e-5, &rel), "%s gradient", name);
    tu_note_error("xent spatial backward", rel);
    CHECK(exact(name, got[0][3], hit, N), "%s hit counts", name);
    double hits = 0;
    for (size_t i = 0; i < N; i++) hits += hit[i];
    CHECK(K == 1 ? hits == (double)np : hits > 0 && hits < (double)np, "%s: %g hits of %zu",
          name, hits, np);
    const size_t lens[4] = {N, 1, n, N};
    for (int i = 0; i < 4; i++) {
        CHECK(got[0][i] && got[1][i] && memcmp(got[0][i], got[1][i], lens[i] * 4) == 0,
              "%s: output %d differs on the second run", name, i);
        free(got[0][i]), free(got[1][i]);
    }
    clvae_buf_free(&bz), clvae_buf_free(&by);
    free(z), free(y), free(g0), free(zd), free(yd), free(g), free(per), free(hit);
}

/* One position (a plain classifier's shape), 7x7 maps of 512 codes (the VQ-VAE prior), K = 2,
 * K and P that are no multiple of a work group, P beyond one work group of positions. */
static void t_vs_reference(void)
{
    static const size_t shapes[][3] = {{3, 10, 1}, {4, 512, 49}, {5, 2, 49}, {2, 65, 7},
                                       {3, 1, 4},  {2, 3, 300},  {64, 16, 49}};
    for (size_t s = 0; s < sizeof shapes / sizeof *shapes; s++)
        run_case(shapes[s][0], shapes[s][1], shapes[s][2]);
}

/* With P = 1 the spatial ops are the row ops (to rounding: a row's sum is spread over work
 * items, a position's is taken in order by one). */
static void t_one_position_is_a_row(void)
{
    const size_t N = 6, K = 37;
    float z[6 * 37], y[6];
    uint64_t seed = 71;
    tu_rand(z, N * K, -4.0f, 4.0f, &seed);
    make_labels(y, z, N, K, 1);
    clvae_buf_t bz = tu_upload(ctx, z, N * K), by = tu_upload(ctx, y, N);
    /* [N] losses, then [N, K] gradients */
    clvae_buf_t a = tu_zeros(ctx, N + N * K), b = tu_zeros(ctx, N + N * K), none = {0};
    clvae_error_t err = {0};
    CHECK(!clvae_xent_forward(ctx, a, none, bz, by, N, K, &err) &&
              !clvae_xent_spatial_forward(ctx, b, none, bz, by, N, K, 1, &err) &&
              !clvae_xent_backward(ctx, clvae_buf_at(a, N), bz, by, 0.5f, N, K, &err) &&
              !clvae_xent_spatial_backward(ctx, clvae_buf_at(b, N), bz, by, 0.5f, N, K, 1, &err),
          "%s", err.msg);
    float *ga = tu_download(ctx, a, N + N * K), *gb = tu_download(ctx, b, N + N * K);
    double *want = ga ? tu_double(ga, N + N * K) : NULL;
    CHECK(want && tu_close("P = 1 against the rows", gb, want, N + N * K, 1e-6, 1e-6, NULL),
          "P = 1 differs from the rows");
    free(ga), free(gb), free(want);
    clvae_buf_free(&bz), clvae_buf_free(&by), clvae_buf_free(&a), clvae_buf_free(&b);
}

/* L = scale * sum_n L_n on the reference. */
static double ref_objective(const double *z, const double *y, double scale, size_t N, size_t K,
                            size_t P, double *per)
{
    clvae_xent_spatial_forward_ref(per, NULL, z, y, N, K, P);
    double s = 0;
    for (size_t i = 0; i < N; i++) s += per[i];
    return scale * s;
}

/* Central differences of the reference objective against the reference gradient, in double. */
static void t_reference_gradients_by_differences(void)
{
    static const size_t shapes[][3] = {{2, 5, 3}, {1, 2, 4}, {3, 3, 1}};
    const double h = 1e-6, scale = 0.37;
    for (size_t sh = 0; sh < sizeof shapes / sizeof *shapes; sh++) {
        size_t N = shapes[sh][0], K = shapes[sh][1], P = shapes[sh][2], n = N * K * P;
        uint64_t seed = 601 + sh;
        float *z = malloc(n * sizeof *z), *y = malloc(N * P * sizeof *y);
        tu_rand(z, n, -3.0f, 3.0f, &seed);
        make_labels(y, z, N, K, P);
        double *zd = tu_double(z, n), *yd = tu_double(y, N * P);
        double *g = calloc(n, sizeof *g), *per = malloc(N * sizeof *per), norm = 0;
        clvae_xent_spatial_backward_ref(g, zd, yd, scale, N, K, P);
        for (size_t i = 0; i < n; i++) {
            double x0 = zd[i];
            zd[i] = x0 + h;
            double lp = ref_objective(zd, yd, scale, N, K, P, per);
            zd[i] = x0 - h;
            double lm = ref_objective(zd, yd, scale, N, K, P, per);
            zd[i] = x0;
            double fd = (lp - lm) / (2 * h);
            CHECK(fabs(fd - g[i]) <= 1e-6 * fabs(g[i]) + 1e-8,
                  "%zux%zux%zu elem %zu: difference %.12g, gradient %.12g", N, K, P, i, fd, g[i]);
            norm += g[i] * g[i];
        }
        CHECK(sqrt(norm) > 1e-2, "%zux%zux%zu: gradient norm %g is trivial", N, K, P, sqrt(norm));
        free(z), free(y), free(zd), free(yd), free(g), free(per);
    }
}

/* scale * sum_n L_n from a device forward, summed on the host in double. */
static double dev_objective(clvae_buf_t per, clvae_buf_t z, clvae_buf_t y, size_t N, size_t K,
                            size_t P, double scale)
{
    clvae_error_t err = {0};
    clvae_buf_t none = {0};
    if (clvae_xent_spatial_forward(ctx, per, none, z, y, N, K, P, &err)) return NAN;
    float *h = tu_download(ctx, per, N);
    if (!h) return NAN;
    double s = 0;
    for (size_t i = 0; i < N; i++) s += h[i];
    free(h);
    return scale * s;
}

/* Central differences of the device forward (float) against the device backward. */
static void t_device_gradients_by_differences(void)
{
    const size_t N = 2, K = 6, P = 5, n = N * K * P;
    const float scale = 0.75f, h = 1e-2f;
    float z[60], y[10];
    uint64_t seed = 8181;
    tu_rand(z, n, -3.0f, 3.0f, &seed);
    make_labels(y, z, N, K, P);
    clvae_buf_t bz = tu_upload(ctx, z, n), by = tu_upload(ctx, y, N * P);
    clvae_buf_t bper = tu_zeros(ctx, N), bg = tu_zeros(ctx, n);
    clvae_error_t err = {0};
    CHECK(!clvae_xent_spatial_backward(ctx, bg, bz, by, scale, N, K, P, &err), "%s", err.msg);
    float *g = tu_download(ctx, bg, n);
    REQUIRE(g, "no gradient");
    double norm = 0, worst = 0;
    for (size_t i = 0; i < n; i++) {
        float x0 = z[i], xp = x0 + h, xm = x0 - h;
        clvae_buf_upload(ctx, clvae_buf_at(bz, i), &xp, 1, &err);
        double lp = dev_objective(bper, bz, by, N, K, P, scale);
        clvae_buf_upload(ctx, clvae_buf_at(bz, i), &xm, 1, &err);
        double lm = dev_objective(bper, bz, by, N, K, P, scale);
        clvae_buf_upload(ctx, clvae_buf_at(bz, i), &x0, 1, &err);
        double fd = (lp - lm) / ((double)xp - (double)xm);
        worst = fmax(worst, fabs(fd - g[i]) / fmax(fabs(g[i]), 1e-1));
        /* losses of ~10 summed over 5 positions carry ~1e-6 of float noise, ~1e-4 over a
         * step of 2h; the h^2 term is below 1e-4 for these logits */
        CHECK(fabs(fd - g[i]) <= 1e-2 * fabs(g[i]) + 2e-3, "elem %zu: difference %.7g, "
              "gradient %.7g", i, fd, (double)g[i]);
        norm += (double)g[i] * g[i];
    }
    CHECK(sqrt(norm) > 0.1, "gradient norm %g is trivial", sqrt(norm));
    tu_note_error("xent spatial backward (differences)", worst);
    free(g);
    clvae_buf_free(&bz), clvae_buf_free(&by), clvae_buf_free(&bper), clvae_buf_free(&bg);
}

/* Invalid labels at some positions: those examples' losses NaN, those positions' gradient
 * columns untouched (the example's other positions still get theirs), no hit there. */
static void t_invalid_labels(void)
{
    const size_t N = 3, K = 4, P = 5, n = N * K * P;
    float z[60], g0[60], y[15];
    uint64_t seed = 99;
    tu_rand(z, n, -2.0f, 2.0f, &seed);
    tu_rand(g0, n, -1.0f, 1.0f, &seed);
    make_labels(y, z, N, K, P);
    y[1 * P + 2] = 4.0f; /* example 1: one label too large, one fractional */
    y[1 * P + 4] = 0.5f;
    y[2 * P + 0] = NAN;  /* example 2: NaN at the first position */
    double *zd = tu_double(z, n), *yd = tu_double(y, N * P), *g = tu_double(g0, n);
    double per[3], hit[3], mean;
    clvae_xent_spatial_forward_ref(per, &mean, zd, yd, N, K, P);
    clvae_xent_spatial_backward_ref(g, zd, yd, 0.5, N, K, P);
    clvae_xent_spatial_correct_ref(hit, zd, yd, N, K, P);
    clvae_buf_t bz = tu_upload(ctx, z, n), by = tu_upload(ctx, y, N * P);
    clvae_buf_t bper = tu_zeros(ctx, N), bmean = tu_zeros(ctx, 1), bg = tu_upload(ctx, g0, n);
    clvae_buf_t bhit = tu_zeros(ctx, N);
    clvae_error_t err = {0};
    CHECK(!clvae_xent_spatial_forward(ctx, bper, bmean, bz, by, N, K, P, &err) &&
              !clvae_xent_spatial_backward(ctx, bg, bz, by, 0.5f, N, K, P, &err) &&
              !clvae_xent_spatial_correct(ctx, bhit, bz, by, N, K, P, &err),
          "%s", err.msg);
    float *gper = tu_download(ctx, bper, N), *gmean = tu_download(ctx, bmean, 1);
    float *gg = tu_download(ctx, bg, n), *ghit = tu_download(ctx, bhit, N);
    REQUIRE(gper && gmean && gg && ghit, "no result");
    CHECK(isfinite(gper[0]) && isnan(gper[1]) && isnan(gper[2]) && isnan(gmean[0]),
          "losses %g %g %g mean %g", (double)gper[0], (double)gper[1], (double)gper[2],
          (double)gmean[0]);
    static const size_t bad[3][2] = {{1, 2}, {1, 4}, {2, 0}};
    for (int b = 0; b < 3; b++)
        for (size_t k = 0; k < K; k++) {
            size_t i = at(bad[b][0], k, bad[b][1], K, P);
            CHECK(gg[i] == g0[i], "position %zu of example %zu: gradient written", bad[b][1],
                  bad[b][0]);
        }
    CHECK(gg[at(1, 0, 3, K, P)] != g0[at(1, 0, 3, K, P)], "a valid position got no gradient");
    CHECK(tu_close("bad labels loss", gper, per, N, 1e-5, 1e-5, NULL), "loss");
    CHECK(tu_close("bad labels gradient", gg, g, n, 1e-6, 1e-5, NULL), "gradient");
    CHECK(exact("bad labels hits", ghit, hit, N), "hits");
    free(gper), free(gmean), free(gg), free(ghit), free(zd), free(yd), free(g);
    clvae_buf_free(&bz), clvae_buf_free(&by), clvae_buf_free(&bper), clvae_buf_free(&bmean);
    clvae_buf_free(&bg), clvae_buf_free(&bhit);
}

/* Argmax ties at one position go to the lowest class, also 256 classes apart. */
static void t_argmax_ties(void)
{
    const size_t N = 1, K = 300, P = 3;
    float *z = calloc(N * K * P, sizeof *z), y[3] = {5, 44, 0};
    z[at(0, 5, 0, K, P)] = z[at(0, 261, 0, K, P)] = 2.0f;   /* tie: 5 wins */
    z[at(0, 299, 1, K, P)] = z[at(0, 44, 1, K, P)] = 1.0f;  /* tie: 44 wins */
    z[at(0, 7, 2, K, P)] = NAN;                             /* NaN is the largest: 7, not 0 */
    clvae_buf_t bz = tu_upload(ctx, z, N * K * P), by = tu_upload(ctx, y, P), bh = tu_zeros(ctx, 1);
    clvae_error_t err = {0};
    CHECK(!clvae_xent_spatial_correct(ctx, bh, bz, by, N, K, P, &err), "%s", err.msg);
    float *h = tu_download(ctx, bh, 1);
    CHECK(h && h[0] == 2.0f, "hits %g, want 2", h ? (double)h[0] : -1.0);
    free(h), free(z);
    clvae_buf_free(&bz), clvae_buf_free(&by), clvae_buf_free(&bh);
}

static void t_invalid_arguments(void)
{
    clvae_buf_t b = tu_zeros(ctx, 64), y = tu_zeros(ctx, 16), o = tu_zeros(ctx, 4);
    clvae_buf_t m = tu_zeros(ctx, 1), none = {0};
    clvae_buf_t far = clvae_buf_at(b, (size_t)UINT32_MAX - 10);
    clvae_error_t err = {0};
    const clvae_status_t INV = CLVAE_ERR_INVALID;
    const size_t big = CLVAE_LABEL_MAX_CLASSES + 1;
    /* forward: shapes N x K x P = 4 x 4 x 4 fit the buffers */
    CHECK(clvae_xent_spatial_forward(ctx, o, m, b, y, 0, 4, 4, &err) == INV, "fwd N=0");
    CHECK(clvae_xent_spatial_forward(ctx, o, m, b, y, 4, 0, 4, &err) == INV, "fwd K=0");
    CHECK(clvae_xent_spatial_forward(ctx, o, m, b, y, 4, 4, 0, &err) == INV, "fwd P=0");
    CHECK(strstr(err.msg, "positions") != NULL, "message: %s", err.msg);
    CHECK(clvae_xent_spatial_forward(ctx, o, m, b, y, 1, big, 1, &err) == INV, "fwd K > 2^24");
    CHECK(clvae_xent_spatial_forward(ctx, o, m, b, y, 1 << 10, 1 << 12, 1 << 10, &err) == INV,
          "fwd N*K*P > 2^32");
    CHECK(strstr(err.msg, "2^32") != NULL, "message: %s", err.msg);
    CHECK(clvae_xent_spatial_forward(ctx, o, m, b, y, 4, 4, 5, &err) == INV, "fwd 80 logits");
    CHECK(clvae_xent_spatial_forward(ctx, o, m, none, y, 4, 4, 4, &err) == INV, "fwd NULL z");
    CHECK(clvae_xent_spatial_forward(ctx, o, m, b, none, 4, 4, 4, &err) == INV, "fwd NULL y");
    CHECK(clvae_xent_spatial_forward(ctx, none, m, b, y, 4, 4, 4, &err) == INV, "fwd NULL out");
    CHECK(clvae_xent_spatial_forward(ctx, o, m, far, y, 4, 4, 4, &err) == INV, "fwd far z");
    CHECK(clvae_xent_spatial_forward(ctx, clvae_buf_at(b, 60), m, b, y, 4, 4, 4, &err) == INV,
          "fwd per_example on logits");
    CHECK(clvae_xent_spatial_forward(ctx, clvae_buf_at(y, 12), m, b, y, 4, 4, 4, &err) == INV,
          "fwd per_example on labels");
    /* backward */
    CHECK(clvae_xent_spatial_backward(ctx, b, b, y, 1.0f, 4, 4, 4, &err) == INV, "bwd on z");
    CHECK(clvae_xent_spatial_backward(ctx, y, b, y, 1.0f, 1, 4, 4, &err) == INV, "bwd on y");
    CHECK(clvae_xent_spatial_backward(ctx, b, clvae_buf_at(b, 16), y, 1.0f, 2, 4, 4, &err) ==
              INV, "bwd overlap");
    CHECK(clvae_xent_spatial_backward(ctx, none, b, y, NAN, 4, 4, 4, &err) == INV, "NaN scale");
    CHECK(clvae_xent_spatial_backward(ctx, none, b, y, 1.0f, 4, 4, 0, &err) == INV, "bwd P=0");
    CHECK(clvae_xent_spatial_backward(ctx, far, b, y, 1.0f, 4, 4, 4, &err) == INV, "far g");
    /* hits */
    CHECK(clvae_xent_spatial_correct(ctx, o, b, y, 4, 4, 0, &err) == INV, "correct P=0");
    CHECK(clvae_xent_spatial_correct(ctx, none, b, y, 4, 4, 4, &err) == INV, "correct NULL");
    CHECK(clvae_xent_spatial_correct(ctx, b, b, y, 4, 4, 4, &err) == INV, "correct on z");
    /* the rejected calls wrote nothing */
    float *h = tu_download(ctx, b, 64), *ho = tu_download(ctx, o, 4), *hm = tu_download(ctx, m, 1);
    float *hy = tu_download(ctx, y, 16);
    int clean = h && ho && hm && hy && hm[0] == 0.0f;
    for (int i = 0; clean && i < 64; i++) clean = h[i] == 0.0f && (i >= 16 || hy[i] == 0.0f);
    for (int i = 0; clean && i < 4; i++) clean = ho[i] == 0.0f;
    CHECK(clean, "a rejected call wrote");
    free(h), free(ho), free(hm), free(hy);
    clvae_buf_free(&b), clvae_buf_free(&y), clvae_buf_free(&o), clvae_buf_free(&m);
}

/* ---- class draws at one position ------------------------------------------------------ */

/* Draws at position p of codes [N, P] (filled with -7 first) from logits on the device; every
 * other position must keep its -7. Returns the codes at p (free them), NULL on failure. */
static float *dev_draw(const float *z, size_t N, size_t K, size_t P, size_t p, float t,
                       uint64_t seed, uint64_t offset)
{
    float *fill = malloc(N * P * sizeof *fill), *out = malloc(N * sizeof *out), *codes;
    for (size_t i = 0; i < N * P; i++) fill[i] = -7.0f;
    clvae_buf_t bz = tu_upload(ctx, z, N * K * P), bc = tu_upload(ctx, fill, N * P);
    clvae_error_t err = {0};
    if (clvae_xent_sample_position(ctx, bc, bz, p, t, seed, offset, N, K, P, &err))
        fprintf(stderr, "  %s\n", err.msg);
    codes = tu_download(ctx, bc, N * P);
    int ok = codes != NULL;
    for (size_t i = 0; ok && i < N * P; i++) {
        if (i % P == p) out[i / P] = codes[i];
        else ok = codes[i] == -7.0f;
    }
    if (!ok) fprintf(stderr, "  a draw wrote outside its position\n");
    clvae_buf_free(&bz), clvae_buf_free(&bc);
    free(fill), free(codes);
    if (!ok) free(out);
    return ok ? out : NULL;
}

/* Device draws equal the reference's wherever u is 1e-5 or more from every cumulative
 * probability; the others (where float and double sums may round to different sides) are
 * skipped and counted, and must be few. */
static void sample_case(size_t N, size_t K, size_t P, size_t p, float t, float spread)
{
    size_t n = N * K * P;
    uint64_t seed = 4242 + n + p, draw_seed = 0xfeedULL + K;
    float *z = malloc(n * sizeof *z);
    tu_rand(z, n, -spread, spread, &seed);
    double *zd = tu_double(z, n), *want = malloc(N * P * sizeof *want);
    double *margin = malloc(N * sizeof *margin);
    clvae_xent_sample_position_ref(want, margin, zd, p, t, draw_seed, 9, N, K, P);
    float *got = dev_draw(z, N, K, P, p, t, draw_seed, 9);
    REQUIRE(got, "%zux%zux%zu: no draw", N, K, P);
    size_t skipped = 0, wrong = 0, classes = 0;
    unsigned char *seen = calloc(K, 1);
    for (size_t i = 0; i < N; i++) {
        if (margin[i] < 1e-5) {
            skipped++;
            continue;
        }
        if (got[i] != (float)want[i * P + p] && wrong++ < 5)
            fprintf(stderr, "  example %zu: drew %g, reference %g\n", i, (double)got[i],
                    want[i * P + p]);
        if (got[i] >= 0 && got[i] < (float)K && !seen[(size_t)got[i]]++) classes++;
    }
    CHECK(wrong == 0, "%zux%zux%zu t=%g: %zu draws differ from the reference", N, K, P,
          (double)t, wrong);
    /* u falls within 1e-5 of one of K cumulative sums with a chance of about K * 2e-5 */
    CHECK(skipped <= 3 * N * K * 2e-5 + 3, "%zux%zux%zu: %zu of %zu draws too close to call",
          N, K, P, skipped, N);
    CHECK(classes >= (K < 8 ? K : 8), "%zux%zux%zu: only %zu classes drawn", N, K, P, classes);
    fprintf(stderr, "draws %zux%zux%zu t=%g: %zu of %zu skipped as too close to call\n", N, K,
            P, (double)t, skipped, N);
    free(z), free(zd), free(want), free(margin), free(got), free(seen);
}

static void t_sample_vs_reference(void)
{
    sample_case(2000, 7, 5, 2, 1.0f, 2.0f);
    sample_case(500, 512, 49, 48, 1.0f, 4.0f);
    sample_case(1000, 10, 1, 0, 0.7f, 2.0f);
    sample_case(1000, 2, 3, 0, 2.5f, 3.0f);
    sample_case(300, 65, 4, 3, 0.25f, 1.0f);
}

/* The same (seed, offset) gives the same bits; another seed or another offset other draws. */
static void t_sample_determinism(void)
{
    const size_t N = 400, K = 16, P = 3;
    float z[400 * 16 * 3];
    uint64_t seed = 5;
    tu_rand(z, N * K * P, -1.0f, 1.0f, &seed);
    float *a = dev_draw(z, N, K, P, 1, 1.0f, 77, 0), *b = dev_draw(z, N, K, P, 1, 1.0f, 77, 0);
    float *c = dev_draw(z, N, K, P, 1, 1.0f, 78, 0), *d = dev_draw(z, N, K, P, 1, 1.0f, 77, 100);
    REQUIRE(a && b && c && d, "no draws");
    size_t dc = 0, dd = 0;
    for (size_t i = 0; i < N; i++) dc += a[i] != c[i], dd += a[i] != d[i];
    CHECK(memcmp(a, b, N * sizeof *a) == 0, "the same seed drew differently");
    CHECK(dc > N / 2 && dd > N / 2, "another seed changed %zu of %zu draws, another offset %zu",
          dc, N, dd);
    free(a), free(b), free(c), free(d);
}

/* Counts of N draws from logits log(prob) at temperature t (one position of P = 2) against
 * N * softmax(log(prob) / t): each within 4.5 standard errors. */
static void frequency_case(const double *prob, size_t K, float t, uint64_t s)
{
    const size_t N = 20000, P = 2;
    float *z = malloc(N * K * P * sizeof *z);
    double want[8], sum = 0;
    for (size_t k = 0; k < K; k++) {
        want[k] = prob[k] > 0 ? pow(prob[k], 1.0 / t) : 0;
        sum += want[k];
    }
    for (size_t n = 0; n < N; n++)
        for (size_t k = 0; k < K; k++) {
            z[at(n, k, 0, K, P)] = 0.0f;
            z[at(n, k, 1, K, P)] = prob[k] > 0 ? (float)log(prob[k]) : -1e30f;
        }
    float *got = dev_draw(z, N, K, P, 1, t, s, 3);
    REQUIRE(got, "no draws");
    size_t count[8] = {0}, other = 0;
    for (size_t n = 0; n < N; n++) {
        if (got[n] >= 0 && got[n] < (float)K && got[n] == floorf(got[n])) count[(size_t)got[n]]++;
        else other++;
    }
    CHECK(other == 0, "%zu draws are not classes", other);
    for (size_t k = 0; k < K; k++) {
        double q = want[k] / sum, se = sqrt((double)N * q * (1 - q));
        if (q == 0) {
            CHECK(count[k] == 0, "class %zu of weight 0 drawn %zu times", k, count[k]);
            continue;
        }
        CHECK(fabs((double)count[k] - N * q) <= 4.5 * se, "t=%g class %zu: %zu draws, expected "
              "%.1f +- %.1f", (double)t, k, count[k], N * q, se);
    }
    free(z), free(got);
}

static void t_sample_frequencies(void)
{
    static const double p4[4] = {0.1, 0.2, 0.3, 0.4};
    frequency_case(p4, 4, 1.0f, 11);
    frequency_case(p4, 4, 0.5f, 12); /* sharper: 1/30, 4/30, 9/30, 16/30 */
    frequency_case(p4, 4, 3.0f, 13); /* flatter */
    /* classes at -1e30 (weight 0) first, in the middle and last are never drawn, even at a
     * high temperature */
    static const double gaps[6] = {0, 0.25, 0, 0.5, 0.25, 0};
    frequency_case(gaps, 6, 1.0f, 14);
    frequency_case(gaps, 6, 50.0f, 15);
}

/* NaN and +inf logits give a NaN code; -inf or -1e30 at a class only removes it. */
static void t_sample_nonfinite(void)
{
    const size_t N = 4, K = 3, P = 1;
    const float z[12] = {0.0f, NAN,       1.0f,      INFINITY, 0.0f, 0.0f,
                         0.0f, -INFINITY, -INFINITY, -1e30f,   -1e30f, 2.0f};
    float *got = dev_draw(z, N, K, P, 0, 1.0f, 1, 0);
    REQUIRE(got, "no draws");
    CHECK(isnan(got[0]) && isnan(got[1]) && got[2] == 0.0f && got[3] == 2.0f,
          "codes %g %g %g %g", (double)got[0], (double)got[1], (double)got[2], (double)got[3]);
    double zd[12], want[4], margin[4];
    for (int i = 0; i < 12; i++) zd[i] = z[i];
    clvae_xent_sample_position_ref(want, margin, zd, 0, 1.0, 1, 0, N, K, P);
    CHECK(isnan(want[0]) && isnan(want[1]) && want[2] == 0.0 && want[3] == 2.0,
          "reference codes %g %g %g %g", want[0], want[1], want[2], want[3]);
    free(got);
}

static void t_sample_invalid_arguments(void)
{
    clvae_buf_t z = tu_zeros(ctx, 64), c = tu_zeros(ctx, 8), none = {0};
    clvae_error_t err = {0};
    const clvae_status_t INV = CLVAE_ERR_INVALID;
    /* N x K x P = 2 x 4 x 4 */
    CHECK(clvae_xent_sample_position(ctx, c, z, 0, 0.0f, 1, 0, 2, 4, 4, &err) == INV, "t = 0");
    CHECK(strstr(err.msg, "temperature") != NULL, "message: %s", err.msg);
    CHECK(clvae_xent_sample_position(ctx, c, z, 0, -1.0f, 1, 0, 2, 4, 4, &err) == INV, "t < 0");
    CHECK(clvae_xent_sample_position(ctx, c, z, 0, NAN, 1, 0, 2, 4, 4, &err) == INV, "t NaN");
    CHECK(clvae_xent_sample_position(ctx, c, z, 0, INFINITY, 1, 0, 2, 4, 4, &err) == INV,
          "t inf");
    CHECK(clvae_xent_sample_position(ctx, c, z, 4, 1.0f, 1, 0, 2, 4, 4, &err) == INV, "p = P");
    CHECK(strstr(err.msg, "position 4 of 4") != NULL, "message: %s", err.msg);
    CHECK(clvae_xent_sample_position(ctx, c, z, 0, 1.0f, 1, 0, 0, 4, 4, &err) == INV, "N = 0");
    CHECK(clvae_xent_sample_position(ctx, c, z, 0, 1.0f, 1, 0, 2, 0, 4, &err) == INV, "K = 0");
    CHECK(clvae_xent_sample_position(ctx, c, z, 0, 1.0f, 1, 0, 2, 4, 0, &err) == INV, "P = 0");
    CHECK(clvae_xent_sample_position(ctx, none, z, 0, 1.0f, 1, 0, 2, 4, 4, &err) == INV,
          "NULL codes");
    CHECK(clvae_xent_sample_position(ctx, c, none, 0, 1.0f, 1, 0, 2, 4, 4, &err) == INV,
          "NULL logits");
    CHECK(clvae_xent_sample_position(ctx, c, z, 0, 1.0f, 1, 0, 2, 4, 8, &err) == INV,
          "codes too short");
    CHECK(clvae_xent_sample_position(ctx, clvae_buf_at(z, 8), z, 0, 1.0f, 1, 0, 2, 4, 4, &err) ==
              INV, "codes on logits");
    CHECK(strstr(err.msg, "overlap") != NULL, "message: %s", err.msg);
    float *hz = tu_download(ctx, z, 64), *hc = tu_download(ctx, c, 8);
    int clean = hz && hc;
    for (int i = 0; clean && i < 64; i++) clean = hz[i] == 0.0f && (i >= 8 || hc[i] == 0.0f);
    CHECK(clean, "a rejected call wrote");
    free(hz), free(hc);
    clvae_buf_free(&z), clvae_buf_free(&c);
}

int main(void)
{
    ctx = tu_ctx();
    if (!ctx) return 1;
    RUN(t_vs_reference);
    RUN(t_one_position_is_a_row);
    RUN(t_reference_gradients_by_differences);
    RUN(t_device_gradients_by_differences);
    RUN(t_invalid_labels);
    RUN(t_argmax_ties);
    RUN(t_invalid_arguments);
    RUN(t_sample_vs_reference);
    RUN(t_sample_determinism);
    RUN(t_sample_frequencies);
    RUN(t_sample_nonfinite);
    RUN(t_sample_invalid_arguments);
    tu_print_errors();
    clvae_ctx_free(ctx);
    return TEST_EXIT();
}
