/* Softmax cross-entropy, softmax and argmax hits: device against the double reference,
 * gradients by finite differences, extreme logits, bad labels, determinism, bad input. */
#define TEST_FILE "test_xent"
#include "ref/ref.h"
#include "test.h"
#include "testutil.h"

#include <math.h>

#include "clvae/ops/xent.h"

static clvae_ctx_t *ctx;

/* Random class indices 0..K-1 as floats. */
static void make_labels(float *y, size_t N, size_t K, uint64_t *seed)
{
    tu_rand(y, N, 0.0f, (float)K, seed);
    for (size_t n = 0; n < N; n++) y[n] = fminf(floorf(y[n]), (float)(K - 1));
}

/* The first index of the row maximum (no NaN in the row). */
static size_t host_argmax(const float *z, size_t K)
{
    size_t best = 0;
    for (size_t k = 1; k < K; k++)
        if (z[k] > z[best]) best = k;
    return best;
}

/* got[i] == (float)want[i] bit for bit (NaN matching NaN); prints the first mismatch. */
static int exact(const char *what, const float *got, const double *want, size_t n)
{
    if (!got) {
        fprintf(stderr, "  %s: no result\n", what);
        return 0;
    }
    for (size_t i = 0; i < n; i++) {
        float w = (float)want[i];
        if (isnan(w) ? !isnan(got[i]) : memcmp(&got[i], &w, sizeof w) != 0) {
            fprintf(stderr, "  %s: element %zu is %.9g, want %.9g\n", what, i, (double)got[i],
                    (double)w);
            return 0;
        }
    }
    return 1;
}

/* All four ops on N x K logits against the reference, then again for identical bits. */
static void run_case(size_t N, size_t K)
{
    char name[64], what[128];
    snprintf(name, sizeof name, "%zux%zu", N, K);
    size_t n = N * K;
    uint64_t seed = 0xc1a55ULL + 977 * n + N;
    float *z = malloc(n * sizeof *z), *y = malloc(N * sizeof *y), *g0 = malloc(n * sizeof *g0);
    tu_rand(z, n, -5.0f, 5.0f, &seed);
    make_labels(y, N, K, &seed);
    /* even examples are classified right, odd ones wrong, so hits and misses both occur */
    for (size_t i = 0; i < N; i++)
        y[i] = (float)((host_argmax(z + i * K, K) + (i % 2)) % K);
    tu_rand(g0, n, -1.0f, 1.0f, &seed); /* backward must accumulate onto these */
    float scale = 1.0f / (float)N;
    double *zd = tu_double(z, n), *yd = tu_double(y, N), *g = tu_double(g0, n);
    double *per = malloc(N * sizeof *per), *hit = malloc(N * sizeof *hit), mean;
    double *prob = malloc(n * sizeof *prob);
    clvae_xent_forward_ref(per, &mean, zd, yd, N, K);
    clvae_xent_backward_ref(g, zd, yd, scale, N, K);
    clvae_xent_correct_ref(hit, zd, yd, N, K);
    clvae_softmax_forward_ref(prob, zd, N, K);

    clvae_buf_t bz = tu_upload(ctx, z, n), by = tu_upload(ctx, y, N);
    float *got[2][5] = {{0}};
    for (int run = 0; run < 2; run++) {
        clvae_buf_t bper = tu_zeros(ctx, N), bmean = tu_zeros(ctx, 1), bg = tu_upload(ctx, g0, n);
        clvae_buf_t bhit = tu_zeros(ctx, N), bp = tu_zeros(ctx, n);
        clvae_error_t err = {0};
        CHECK(clvae_xent_forward(ctx, bper, bmean, bz, by, N, K, &err) == CLVAE_OK, "%s: %s",
              name, err.msg);
        CHECK(clvae_xent_backward(ctx, bg, bz, by, scale, N, K, &err) == CLVAE_OK, "%s: %s",
              name, err.msg);
        CHECK(clvae_xent_correct(ctx, bhit, bz, by, N, K, &err) == CLVAE_OK, "%s: %s", name,
              err.msg);
        CHECK(clvae_softmax_forward(ctx, bp, bz, N, K, &err) == CLVAE_OK, "%s: %s", name,
              err.msg);
        got[run][0] = tu_download(ctx, bper, N);
        got[run][1] = tu_download(ctx, bmean, 1);
        got[run][2] = tu_download(ctx, bg, n);
        got[run][3] = tu_download(ctx, bhit, N);
        got[run][4] = tu_download(ctx, bp, n);
        clvae_buf_free(&bper);
        clvae_buf_free(&bmean);
        clvae_buf_free(&bg);
        clvae_buf_free(&bhit);
        clvae_buf_free(&bp);
    }
    double rel, worst = 0;
    snprintf(what, sizeof what, "xent %s per-example", name);
    CHECK(tu_close(what, got[0][0], per, N, 1e-5, 1e-4, &rel), "%s", what);
    worst = fmax(worst, rel);
    snprintf(what, sizeof what, "xent %s mean", name);
    CHECK(tu_close(what, got[0][1], &mean, 1, 1e-5, 1e-4, &rel), "%s", what);
    tu_note_error("xent forward", fmax(worst, rel));
    snprintf(what, sizeof what, "xent %s gradient", name);
    CHECK(tu_close(what, got[0][2], g, n, 1e-5, 1e-4, &rel), "%s", what);
    tu_note_error("xent backward", rel);
    snprintf(what, sizeof what, "xent %s correct", name);
    CHECK(exact(what, got[0][3], hit, N), "%s", what);
    tu_note_error("xent correct", 0.0);
    size_t hits = 0;
    for (size_t i = 0; i < N; i++) hits += hit[i] == 1.0;
    CHECK(hits == (K == 1 ? N : (N + 1) / 2), "%s: %zu hits of %zu", name, hits, N);
    snprintf(what, sizeof what, "softmax %s", name);
    CHECK(tu_close(what, got[0][4], prob, n, 1e-6, 1e-4, &rel), "%s", what);
    tu_note_error("softmax forward", rel);
    const size_t lens[5] = {N, 1, n, N, n}; /* per-example, mean, gradient, correct, probs */
    for (int i = 0; i < 5; i++) {
        size_t len = lens[i];
        CHECK(got[0][i] && got[1][i] && memcmp(got[0][i], got[1][i], len * sizeof(float)) == 0,
              "%s: output %d differs on the second run", name, i);
        free(got[0][i]);
        free(got[1][i]);
    }
    clvae_buf_free(&bz);
    clvae_buf_free(&by);
    free(z);
    free(y);
    free(g0);
    free(zd);
    free(yd);
    free(g);
    free(per);
    free(hit);
    free(prob);
}

static void t_vs_reference(void)
{
    static const size_t shapes[][2] = {{1, 10}, {128, 10}, {3, 7}, {5, 1}, {2, 1024}};
    for (size_t s = 0; s < sizeof shapes / sizeof *shapes; s++)
        run_case(shapes[s][0], shapes[s][1]);
}

/* L = scale * sum_n L_n on the reference. */
static double ref_objective(const double *z, const double *y, double scale, size_t N, size_t K,
                            double *per)
{
    clvae_xent_forward_ref(per, NULL, z, y, N, K);
    double s = 0;
    for (size_t i = 0; i < N; i++) s += per[i];
    return scale * s;
}

/* Central differences of the reference objective against the reference gradient, in double. */
static void t_reference_gradients_by_differences(void)
{
    static const size_t shapes[][2] = {{3, 7}, {2, 5}, {4, 3}, {1, 2}};
    const double h = 1e-6, scale = 0.37;
    for (size_t sh = 0; sh < sizeof shapes / sizeof *shapes; sh++) {
        size_t N = shapes[sh][0], K = shapes[sh][1], n = N * K;
        uint64_t seed = 501 + sh;
        float *z = malloc(n * sizeof *z), *y = malloc(N * sizeof *y);
        tu_rand(z, n, -3.0f, 3.0f, &seed);
        make_labels(y, N, K, &seed);
        double *zd = tu_double(z, n), *yd = tu_double(y, N);
        double *g = calloc(n, sizeof *g), *per = malloc(N * sizeof *per), norm = 0;
        clvae_xent_backward_ref(g, zd, yd, scale, N, K);
        for (size_t i = 0; i < n; i++) {
            double x0 = zd[i];
            zd[i] = x0 + h;
            double lp = ref_objective(zd, yd, scale, N, K, per);
            zd[i] = x0 - h;
            double lm = ref_objective(zd, yd, scale, N, K, per);
            zd[i] = x0;
            double fd = (lp - lm) / (2 * h);
            CHECK(fabs(fd - g[i]) <= 1e-6 * fabs(g[i]) + 1e-8,
                  "%zux%zu elem %zu: difference %.12g, gradient %.12g", N, K, i, fd, g[i]);
            norm += g[i] * g[i];
        }
        CHECK(sqrt(norm) > 1e-2, "%zux%zu: gradient norm %g is trivial", N, K, sqrt(norm));
        free(z);
        free(y);
        free(zd);
        free(yd);
        free(g);
        free(per);
    }
    /* one class: the loss is 0 and so is its gradient, whatever the logit */
    double z1[3] = {-2.0, 0.0, 7.5}, y1[3] = {0, 0, 0}, per1[3], g1[3] = {0};
    clvae_xent_forward_ref(per1, NULL, z1, y1, 3, 1);
    clvae_xent_backward_ref(g1, z1, y1, 1.0, 3, 1);
    for (int i = 0; i < 3; i++)
        CHECK(per1[i] == 0.0 && g1[i] == 0.0, "K=1 row %d: loss %g gradient %g", i, per1[i],
              g1[i]);
}

/* L = scale * sum_n L_n from a device forward, summed on the host in double. */
static double dev_objective(clvae_buf_t per, clvae_buf_t z, clvae_buf_t y, size_t N, size_t K,
                            double scale)
{
    clvae_error_t err = {0};
    clvae_buf_t none = {0};
    if (clvae_xent_forward(ctx, per, none, z, y, N, K, &err) != CLVAE_OK) return NAN;
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
    static const size_t shapes[][2] = {{3, 7}, {2, 10}};
    const float scale = 0.75f, h = 1e-2f;
    double worst = 0;
    for (size_t sh = 0; sh < 2; sh++) {
        size_t N = shapes[sh][0], K = shapes[sh][1], n = N * K;
        uint64_t seed = 8080 + sh;
        float *z = malloc(n * sizeof *z), *y = malloc(N * sizeof *y);
        tu_rand(z, n, -3.0f, 3.0f, &seed);
        make_labels(y, N, K, &seed);
        clvae_buf_t bz = tu_upload(ctx, z, n), by = tu_upload(ctx, y, N);
        clvae_buf_t bper = tu_zeros(ctx, N), bg = tu_zeros(ctx, n);
        clvae_error_t err = {0};
        CHECK(clvae_xent_backward(ctx, bg, bz, by, scale, N, K, &err) == CLVAE_OK, "%s",
              err.msg);
        float *g = tu_download(ctx, bg, n);
        REQUIRE(g, "no gradient");
        double norm = 0;
        for (size_t i = 0; i < n; i++) {
            float x0 = z[i], xp = x0 + h, xm = x0 - h;
            clvae_buf_upload(ctx, clvae_buf_at(bz, i), &xp, 1, &err);
            double lp = dev_objective(bper, bz, by, N, K, scale);
            clvae_buf_upload(ctx, clvae_buf_at(bz, i), &xm, 1, &err);
            double lm = dev_objective(bper, bz, by, N, K, scale);
            clvae_buf_upload(ctx, clvae_buf_at(bz, i), &x0, 1, &err);
            double fd = (lp - lm) / ((double)xp - (double)xm);
            double e = fabs(fd - g[i]) / fmax(fabs(g[i]), 1e-1);
            if (e > worst) worst = e;
            /* float losses of ~2 carry ~2e-7 noise, ~2e-5 over a step of 2h; the h^2 term of
             * the difference is below 1e-4 for these logits */
            CHECK(fabs(fd - g[i]) <= 1e-2 * fabs(g[i]) + 1e-3,
                  "%zux%zu elem %zu: difference %.7g, gradient %.7g", N, K, i, fd, (double)g[i]);
            norm += (double)g[i] * g[i];
        }
        CHECK(sqrt(norm) > 0.1, "%zux%zu: gradient norm %g is trivial", N, K, sqrt(norm));
        free(g);
        free(z);
        free(y);
        clvae_buf_free(&bz);
        clvae_buf_free(&by);
        clvae_buf_free(&bper);
        clvae_buf_free(&bg);
    }
    tu_note_error("xent backward (differences)", worst);
}

/* Loss, gradient (scale 1) and softmax of N x K logits against the reference, tight, and
 * all finite. */
static void extreme_case(const char *name, const float *z, const float *y, size_t N, size_t K)
{
    size_t n = N * K;
    double *zd = tu_double(z, n), *yd = tu_double(y, N);
    double *per = malloc(N * sizeof *per), mean, *g = calloc(n, sizeof *g);
    double *prob = malloc(n * sizeof *prob);
    clvae_xent_forward_ref(per, &mean, zd, yd, N, K);
    clvae_xent_backward_ref(g, zd, yd, 1.0, N, K);
    clvae_softmax_forward_ref(prob, zd, N, K);
    clvae_buf_t bz = tu_upload(ctx, z, n), by = tu_upload(ctx, y, N);
    clvae_buf_t bper = tu_zeros(ctx, N), bmean = tu_zeros(ctx, 1), bg = tu_zeros(ctx, n);
    clvae_buf_t bp = tu_zeros(ctx, n);
    clvae_error_t err = {0};
    CHECK(clvae_xent_forward(ctx, bper, bmean, bz, by, N, K, &err) == CLVAE_OK, "%s", err.msg);
    CHECK(clvae_xent_backward(ctx, bg, bz, by, 1.0f, N, K, &err) == CLVAE_OK, "%s", err.msg);
    CHECK(clvae_softmax_forward(ctx, bp, bz, N, K, &err) == CLVAE_OK, "%s", err.msg);
    float *gper = tu_download(ctx, bper, N), *gmean = tu_download(ctx, bmean, 1);
    float *gg = tu_download(ctx, bg, n), *gp = tu_download(ctx, bp, n);
    REQUIRE(gper && gmean && gg && gp, "%s: no result", name);
    size_t bad = !isfinite(gmean[0]);
    for (size_t i = 0; i < N; i++) bad += !isfinite(gper[i]) + !isfinite(per[i]);
    for (size_t i = 0; i < n; i++) bad += !isfinite(gg[i]) + !isfinite(gp[i]);
    CHECK(bad == 0, "%s: %zu non-finite values", name, bad);
    char what[128];
    double rel;
    snprintf(what, sizeof what, "%s loss", name);
    CHECK(tu_close(what, gper, per, N, 1e-5, 1e-5, &rel), "%s", what);
    snprintf(what, sizeof what, "%s mean", name);
    CHECK(tu_close(what, gmean, &mean, 1, 1e-5, 1e-5, &rel), "%s", what);
    snprintf(what, sizeof what, "%s gradient", name);
    CHECK(tu_close(what, gg, g, n, 1e-6, 1e-5, &rel), "%s", what);
    snprintf(what, sizeof what, "%s softmax", name);
    CHECK(tu_close(what, gp, prob, n, 1e-6, 1e-5, &rel), "%s", what);
    free(gper);
    free(gmean);
    free(gg);
    free(gp);
    clvae_buf_free(&bz);
    clvae_buf_free(&by);
    clvae_buf_free(&bper);
    clvae_buf_free(&bmean);
    clvae_buf_free(&bg);
    clvae_buf_free(&bp);
    free(zd);
    free(yd);
    free(per);
    free(g);
    free(prob);
}

static void t_extreme_logits(void)
{
    /* rows of +-1e4: label on the maximum (loss 0), on the minimum (loss 2e4), on a 0 */
    const float z[4 * 5] = {1e4f, -1e4f, 0, 0, 0,    1e4f,  -1e4f, 0,     0,     0,
                            -1e4f, 1e4f, 1e4f, 0, -1e4f, -1e4f, -1e4f, -1e4f, -1e4f, -1e4f};
    const float y[4] = {0, 1, 3, 4};
    extreme_case("+-1e4 logits", z, y, 4, 5);
    double zd[20], yd[4], per[4], g[20] = {0};
    for (int i = 0; i < 20; i++) zd[i] = z[i];
    for (int i = 0; i < 4; i++) yd[i] = y[i];
    clvae_xent_forward_ref(per, NULL, zd, yd, 4, 5);
    clvae_xent_backward_ref(g, zd, yd, 1.0, 4, 5);
    CHECK(per[0] == 0.0 && per[1] == 2e4 && fabs(per[2] - (1e4 + log(2.0))) < 1e-9 &&
              fabs(per[3] - log(5.0)) < 1e-12,
          "reference losses %g %g %g %g", per[0], per[1], per[2], per[3]);
    CHECK(g[5] == 1.0 && g[6] == -1.0 && g[11] == 0.5 && g[12] == 0.5 && g[13] == -1.0,
          "reference gradient %g %g %g %g %g", g[5], g[6], g[11], g[12], g[13]);
    /* random logits of magnitude up to 1e4 over 1024 classes, and single spikes */
    size_t N = 3, K = 1024, n = N * K;
    float *zz = malloc(n * sizeof *zz), yy[3];
    uint64_t seed = 10000;
    tu_rand(zz, n, -1e4f, 1e4f, &seed);
    for (size_t k = 0; k < K; k++) zz[2 * K + k] = -1e4f;
    zz[2 * K + 777] = 1e4f;
    yy[0] = (float)host_argmax(zz, K);
    yy[1] = 5.0f;
    yy[2] = 776.0f;
    extreme_case("+-1e4 logits 3x1024", zz, yy, N, K);
    free(zz);
}

/* Labels that are not class indices: NaN loss, untouched gradient rows, no hit; the
 * other examples unaffected. */
static void t_invalid_labels_on_device(void)
{
    const size_t N = 9, K = 5, n = N * K;
    const float y[9] = {0.0f, -1.0f, 5.0f, 2.5f, NAN, INFINITY, 1e30f, 4.0f, -0.0f};
    const int valid[9] = {1, 0, 0, 0, 0, 0, 0, 1, 1};
    float z[45], g0[45];
    uint64_t seed = 606;
    tu_rand(z, n, -2.0f, 2.0f, &seed);
    tu_rand(g0, n, -1.0f, 1.0f, &seed);
    z[0 * K + 0] = 5.0f; /* example 0 is a hit, example 8 (label -0 = class 0) too */
    z[8 * K + 0] = 5.0f;
    z[7 * K + 0] = 5.0f; /* example 7 (label 4) is a miss */
    double *zd = tu_double(z, n), *yd = tu_double(y, N), *g = tu_double(g0, n);
    double per[9], hit[9], mean;
    clvae_xent_forward_ref(per, &mean, zd, yd, N, K);
    clvae_xent_backward_ref(g, zd, yd, 0.5, N, K);
    clvae_xent_correct_ref(hit, zd, yd, N, K);
    clvae_buf_t bz = tu_upload(ctx, z, n), by = tu_upload(ctx, y, N);
    clvae_buf_t bper = tu_zeros(ctx, N), bmean = tu_zeros(ctx, 1), bg = tu_upload(ctx, g0, n);
    clvae_buf_t bhit = tu_zeros(ctx, N);
    clvae_error_t err = {0};
    CHECK(clvae_xent_forward(ctx, bper, bmean, bz, by, N, K, &err) == CLVAE_OK, "%s", err.msg);
    CHECK(clvae_xent_backward(ctx, bg, bz, by, 0.5f, N, K, &err) == CLVAE_OK, "%s", err.msg);
    CHECK(clvae_xent_correct(ctx, bhit, bz, by, N, K, &err) == CLVAE_OK, "%s", err.msg);
    float *gper = tu_download(ctx, bper, N), *gmean = tu_download(ctx, bmean, 1);
    float *gg = tu_download(ctx, bg, n), *ghit = tu_download(ctx, bhit, N);
    REQUIRE(gper && gmean && gg && ghit, "no result");
    for (size_t i = 0; i < N; i++) {
        CHECK(valid[i] ? isfinite(gper[i]) && isfinite(per[i]) : isnan(gper[i]) && isnan(per[i]),
              "label %g: loss %g (reference %g)", (double)y[i], (double)gper[i], per[i]);
        if (!valid[i])
            CHECK(memcmp(gg + i * K, g0 + i * K, K * sizeof *gg) == 0,
                  "label %g: gradient row written", (double)y[i]);
        CHECK(ghit[i] == (i == 0 || i == 8 ? 1.0f : 0.0f), "label %g: correct %g",
              (double)y[i], (double)ghit[i]);
    }
    CHECK(isnan(gmean[0]) && isnan(mean), "mean %g is not NaN", (double)gmean[0]);
    CHECK(tu_close("bad labels loss", gper, per, N, 1e-5, 1e-5, NULL), "loss");
    CHECK(tu_close("bad labels gradient", gg, g, n, 1e-6, 1e-5, NULL), "gradient");
    CHECK(exact("bad labels correct", ghit, hit, N), "correct");
    free(gper);
    free(gmean);
    free(gg);
    free(ghit);
    clvae_buf_free(&bz);
    clvae_buf_free(&by);
    clvae_buf_free(&bper);
    clvae_buf_free(&bmean);
    clvae_buf_free(&bg);
    clvae_buf_free(&bhit);
    free(zd);
    free(yd);
    free(g);
}

static void t_labels_check(void)
{
    const float good[5] = {0.0f, 9.0f, 3.0f, -0.0f, 7.0f};
    clvae_error_t err = {0};
    CHECK(clvae_labels_check(good, 5, 10, &err) == CLVAE_OK, "%s", err.msg);
    CHECK(clvae_labels_check(good, 5, 9, &err) == CLVAE_ERR_INVALID, "9 accepted with K=9");
    CHECK(strstr(err.msg, "label 1 of 5") && strstr(err.msg, "0..8"), "message: %s", err.msg);
    const float bad[6] = {-1.0f, 10.0f, 2.5f, NAN, INFINITY, 1e-30f};
    for (int i = 0; i < 6; i++) {
        float arr[3] = {1.0f, 2.0f, bad[i]};
        clvae_error_clear(&err);
        CHECK(clvae_labels_check(arr, 3, 10, &err) == CLVAE_ERR_INVALID, "%g accepted",
              (double)bad[i]);
        CHECK(strstr(err.msg, "label 2 of 3") != NULL, "message: %s", err.msg);
    }
    CHECK(clvae_labels_check(NULL, 5, 10, &err) == CLVAE_ERR_INVALID, "NULL accepted");
    CHECK(clvae_labels_check(good, 0, 10, &err) == CLVAE_ERR_INVALID, "N=0 accepted");
    CHECK(clvae_labels_check(good, 5, 0, &err) == CLVAE_ERR_INVALID, "K=0 accepted");
    CHECK(clvae_labels_check(good, 5, CLVAE_LABEL_MAX_CLASSES + 1, &err) == CLVAE_ERR_INVALID,
          "K > 2^24 accepted");
    CHECK(clvae_labels_check(good, 5, CLVAE_LABEL_MAX_CLASSES, &err) == CLVAE_OK, "K = 2^24: %s",
          err.msg);
}

/* Argmax ties go to the lowest index, also across work items; NaN counts as the largest. */
static void t_argmax_ties_and_nan(void)
{
    const size_t K = 1024, N = 8, n = N * K;
    float *z = calloc(n, sizeof *z), y[8];
    uint64_t seed = 31;
    tu_rand(z, n, -1.0f, 1.0f, &seed);
    size_t want[8];
    /* row 0: equal maxima at indices spread over the work items; the lowest is 2 */
    static const size_t ties[] = {1000, 65, 130, 2, 513, 1023};
    for (size_t i = 0; i < 6; i++) z[0 * K + ties[i]] = 3.0f;
    want[0] = 2;
    /* row 1: all equal, so index 0 */
    for (size_t k = 0; k < K; k++) z[1 * K + k] = 0.25f;
    want[1] = 0;
    /* row 2: NaN at 700 and 900 beats the 5.0 at 3 */
    z[2 * K + 3] = 5.0f;
    z[2 * K + 900] = NAN;
    z[2 * K + 700] = NAN;
    want[2] = 700;
    /* row 3: all -inf, so index 0 */
    for (size_t k = 0; k < K; k++) z[3 * K + k] = -INFINITY;
    want[3] = 0;
    /* row 4: a single maximum at the last index; row 5: +inf at 64 and 1 */
    z[4 * K + 1023] = 2.0f;
    want[4] = 1023;
    z[5 * K + 64] = INFINITY;
    z[5 * K + 1] = INFINITY;
    want[5] = 1;
    /* row 6, 7: ties between index 63 and 64, 127 and 128 (work-group boundaries) */
    z[6 * K + 64] = 4.0f;
    z[6 * K + 63] = 4.0f;
    want[6] = 63;
    z[7 * K + 128] = 4.0f;
    z[7 * K + 127] = 4.0f;
    want[7] = 127;
    double *zd = tu_double(z, n), hit[8];
    clvae_buf_t bz = tu_upload(ctx, z, n), by = tu_zeros(ctx, N), bhit = tu_zeros(ctx, N);
    clvae_error_t err = {0};
    /* labels at the expected argmax (all hits), then one past it (all misses) */
    for (int shift = 0; shift < 2; shift++) {
        for (size_t i = 0; i < N; i++) y[i] = (float)(want[i] + (size_t)shift);
        double yd[8];
        for (size_t i = 0; i < N; i++) yd[i] = y[i];
        clvae_xent_correct_ref(hit, zd, yd, N, K);
        clvae_buf_upload(ctx, by, y, N, &err);
        CHECK(clvae_xent_correct(ctx, bhit, bz, by, N, K, &err) == CLVAE_OK, "%s", err.msg);
        float *got = tu_download(ctx, bhit, N);
        REQUIRE(got, "no result");
        for (size_t i = 0; i < N; i++) {
            CHECK(got[i] == (shift ? 0.0f : 1.0f), "row %zu label %g: correct %g", i,
                  (double)y[i], (double)got[i]);
            CHECK(hit[i] == (shift ? 0.0 : 1.0), "reference row %zu label %g: correct %g", i,
                  (double)y[i], hit[i]);
        }
        free(got);
    }
    clvae_buf_free(&bz);
    clvae_buf_free(&by);
    clvae_buf_free(&bhit);
    free(z);
    free(zd);
}

static void t_softmax_in_place(void)
{
    const size_t N = 3, K = 1024, n = N * K;
    float *z = malloc(n * sizeof *z);
    uint64_t seed = 4;
    tu_rand(z, n, -20.0f, 20.0f, &seed);
    z[2 * K + 5] = 1e4f;
    z[2 * K + 6] = -1e4f;
    double *zd = tu_double(z, n), *prob = malloc(n * sizeof *prob);
    clvae_softmax_forward_ref(prob, zd, N, K);
    clvae_buf_t bz = tu_upload(ctx, z, n);
    clvae_error_t err = {0};
    CHECK(clvae_softmax_forward(ctx, bz, bz, N, K, &err) == CLVAE_OK, "%s", err.msg);
    float *got = tu_download(ctx, bz, n);
    REQUIRE(got, "no result");
    CHECK(tu_close("softmax in place", got, prob, n, 1e-6, 1e-4, NULL), "in place");
    for (size_t r = 0; r < N; r++) {
        double s = 0;
        for (size_t k = 0; k < K; k++) s += got[r * K + k];
        CHECK(fabs(s - 1.0) < 1e-5, "row %zu sums to %.9g", r, s);
    }
    CHECK(got[2 * K + 5] == 1.0f && got[2 * K + 6] == 0.0f, "spike row %g %g",
          (double)got[2 * K + 5], (double)got[2 * K + 6]);
    free(got);
    free(z);
    free(zd);
    free(prob);
    clvae_buf_free(&bz);
}

static void t_skipped_outputs(void)
{
    const size_t N = 2, K = 4, n = N * K;
    const float z[8] = {1, 2, 3, 4, -1, 0, 1, 0}, y[2] = {3, 0};
    double zd[8], yd[2] = {3, 0}, per[2];
    for (int i = 0; i < 8; i++) zd[i] = z[i];
    clvae_xent_forward_ref(per, NULL, zd, yd, N, K);
    clvae_buf_t bz = tu_upload(ctx, z, n), by = tu_upload(ctx, y, N), bper = tu_zeros(ctx, N);
    clvae_buf_t none = {0};
    clvae_error_t err = {0};
    CHECK(clvae_xent_forward(ctx, bper, none, bz, by, N, K, &err) == CLVAE_OK, "%s", err.msg);
    CHECK(clvae_xent_backward(ctx, none, bz, by, 1.0f, N, K, &err) == CLVAE_OK, "%s", err.msg);
    float *got = tu_download(ctx, bper, N), *zz = tu_download(ctx, bz, n);
    CHECK(tu_close("xent without mean", got, per, N, 1e-6, 1e-6, NULL), "without mean");
    CHECK(zz && memcmp(zz, z, sizeof z) == 0, "logits were written");
    free(got);
    free(zz);
    clvae_buf_free(&bz);
    clvae_buf_free(&by);
    clvae_buf_free(&bper);
}

static void t_invalid_arguments(void)
{
    clvae_buf_t b = tu_zeros(ctx, 64), y = tu_zeros(ctx, 4), o = tu_zeros(ctx, 4);
    clvae_buf_t m = tu_zeros(ctx, 1), none = {0};
    clvae_buf_t far = clvae_buf_at(b, (size_t)UINT32_MAX - 10);
    clvae_error_t err = {0};
    const clvae_status_t INV = CLVAE_ERR_INVALID;
    const size_t big = CLVAE_LABEL_MAX_CLASSES + 1;
    /* forward */
    CHECK(clvae_xent_forward(ctx, o, m, b, y, 0, 4, &err) == INV, "fwd N=0");
    CHECK(clvae_xent_forward(ctx, o, m, b, y, 4, 0, &err) == INV, "fwd K=0");
    CHECK(clvae_xent_forward(ctx, o, m, none, y, 4, 4, &err) == INV, "fwd NULL logits");
    CHECK(strstr(err.msg, "logits") != NULL, "message: %s", err.msg);
    CHECK(clvae_xent_forward(ctx, o, m, b, none, 4, 4, &err) == INV, "fwd NULL labels");
    CHECK(clvae_xent_forward(ctx, none, m, b, y, 4, 4, &err) == INV, "fwd NULL per_example");
    CHECK(clvae_xent_forward(ctx, o, m, far, y, 4, 4, &err) == INV, "fwd far logits");
    CHECK(clvae_xent_forward(ctx, o, m, b, y, (size_t)1 << 20, (size_t)1 << 13, &err) == INV,
          "fwd N*K > 2^32");
    CHECK(clvae_xent_forward(ctx, o, m, b, y, 1, big, &err) == INV, "fwd K > 2^24");
    CHECK(clvae_xent_forward(ctx, b, m, b, y, 4, 4, &err) == INV, "fwd per_example on logits");
    CHECK(clvae_xent_forward(ctx, y, m, b, y, 4, 4, &err) == INV, "fwd per_example on labels");
    /* backward */
    CHECK(clvae_xent_backward(ctx, b, b, y, 1.0f, 0, 4, &err) == INV, "bwd N=0");
    CHECK(clvae_xent_backward(ctx, clvae_buf_at(b, 16), b, y, 1.0f, 4, 0, &err) == INV,
          "bwd K=0");
    CHECK(clvae_xent_backward(ctx, clvae_buf_at(b, 16), none, y, 1.0f, 4, 4, &err) == INV,
          "bwd NULL logits");
    CHECK(clvae_xent_backward(ctx, clvae_buf_at(b, 16), b, none, 1.0f, 4, 4, &err) == INV,
          "bwd NULL labels");
    CHECK(clvae_xent_backward(ctx, clvae_buf_at(b, 16), b, y, NAN, 4, 4, &err) == INV,
          "bwd NaN scale");
    CHECK(clvae_xent_backward(ctx, clvae_buf_at(b, 16), b, y, INFINITY, 4, 4, &err) == INV,
          "bwd inf scale");
    CHECK(clvae_xent_backward(ctx, far, b, y, 1.0f, 4, 4, &err) == INV, "bwd far dlogits");
    CHECK(clvae_xent_backward(ctx, clvae_buf_at(b, 8), b, y, 1.0f, 4, 4, &err) == INV,
          "bwd dlogits overlapping logits");
    CHECK(strstr(err.msg, "overlap") != NULL, "message: %s", err.msg);
    CHECK(clvae_xent_backward(ctx, b, b, y, 1.0f, 4, 4, &err) == INV, "bwd dlogits == logits");
    /* correct */
    CHECK(clvae_xent_correct(ctx, o, b, y, 0, 4, &err) == INV, "correct N=0");
    CHECK(clvae_xent_correct(ctx, o, b, y, 4, 0, &err) == INV, "correct K=0");
    CHECK(clvae_xent_correct(ctx, none, b, y, 4, 4, &err) == INV, "correct NULL out");
    CHECK(clvae_xent_correct(ctx, o, none, y, 4, 4, &err) == INV, "correct NULL logits");
    CHECK(clvae_xent_correct(ctx, o, b, none, 4, 4, &err) == INV, "correct NULL labels");
    CHECK(clvae_xent_correct(ctx, o, b, y, 1, big, &err) == INV, "correct K > 2^24");
    CHECK(clvae_xent_correct(ctx, clvae_buf_at(b, 2), b, y, 4, 4, &err) == INV,
          "correct on logits");
    /* softmax */
    CHECK(clvae_softmax_forward(ctx, o, b, 0, 4, &err) == INV, "softmax N=0");
    CHECK(clvae_softmax_forward(ctx, o, b, 1, 0, &err) == INV, "softmax K=0");
    CHECK(clvae_softmax_forward(ctx, none, b, 1, 4, &err) == INV, "softmax NULL probs");
    CHECK(clvae_softmax_forward(ctx, o, none, 1, 4, &err) == INV, "softmax NULL logits");
    CHECK(clvae_softmax_forward(ctx, clvae_buf_at(b, 1), b, 2, 4, &err) == INV,
          "softmax partial overlap");
    CHECK(clvae_softmax_forward(ctx, far, b, 2, 4, &err) == INV, "softmax far probs");
    /* the rejected calls wrote nothing */
    float *h = tu_download(ctx, b, 64), *ho = tu_download(ctx, o, 4), *hm = tu_download(ctx, m, 1);
    float *hy = tu_download(ctx, y, 4);
    int clean = h && ho && hm && hy && hm[0] == 0.0f;
    for (int i = 0; clean && i < 64; i++) clean = h[i] == 0.0f;
    for (int i = 0; clean && i < 4; i++) clean = ho[i] == 0.0f && hy[i] == 0.0f;
    CHECK(clean, "a rejected call wrote");
    free(h);
    free(ho);
    free(hm);
    free(hy);
    clvae_buf_free(&b);
    clvae_buf_free(&y);
    clvae_buf_free(&o);
    clvae_buf_free(&m);
}

int main(void)
{
    ctx = tu_ctx();
    if (!ctx) return 1;
    RUN(t_vs_reference);
    RUN(t_reference_gradients_by_differences);
    RUN(t_device_gradients_by_differences);
    RUN(t_extreme_logits);
    RUN(t_invalid_labels_on_device);
    RUN(t_labels_check);
    RUN(t_argmax_ties_and_nan);
    RUN(t_softmax_in_place);
    RUN(t_skipped_outputs);
    RUN(t_invalid_arguments);
    tu_print_errors();
    clvae_ctx_free(ctx);
    return TEST_EXIT();
}
