/* Losses: device against the double reference, gradients by finite differences, edge values,
 * determinism, bad input. */
#define TEST_FILE "test_loss"
#include "ref/ref.h"
#include "test.h"
#include "testutil.h"

#include <math.h>

#include "clvae/ops/loss.h"

static clvae_ctx_t *ctx;

/* The losses under test; MSE twice, once per reduction. a/b are p/t, z/t or mu/logvar. */
typedef enum { L_BCE, L_LOGITS, L_MSE_SUM, L_MSE_MEAN, L_KL, L_COUNT } kind_t;
static const char *kind_name[L_COUNT] = {"bce", "bce_logits", "mse_sum", "mse_mean", "kl"};

#define KL_BETA 1.7f

static clvae_status_t dev_forward(kind_t k, clvae_buf_t per, clvae_buf_t mean, clvae_buf_t a,
                                  clvae_buf_t b, size_t N, size_t D, clvae_error_t *err)
{
    switch (k) {
    case L_BCE: return clvae_bce_forward(ctx, per, mean, a, b, N, D, err);
    case L_LOGITS: return clvae_bce_logits_forward(ctx, per, mean, a, b, N, D, err);
    case L_MSE_SUM: return clvae_mse_forward(ctx, per, mean, a, b, N, D, CLVAE_MSE_SUM, err);
    case L_MSE_MEAN: return clvae_mse_forward(ctx, per, mean, a, b, N, D, CLVAE_MSE_MEAN, err);
    default: return clvae_kl_forward(ctx, per, mean, a, b, KL_BETA, N, D, err);
    }
}

/* ga += scale dL/da; gb += scale dL/db (KL only: dlogvar). */
static clvae_status_t dev_backward(kind_t k, clvae_buf_t ga, clvae_buf_t gb, clvae_buf_t a,
                                   clvae_buf_t b, float scale, size_t N, size_t D,
                                   clvae_error_t *err)
{
    switch (k) {
    case L_BCE: return clvae_bce_backward(ctx, ga, a, b, scale, N, D, err);
    case L_LOGITS: return clvae_bce_logits_backward(ctx, ga, a, b, scale, N, D, err);
    case L_MSE_SUM: return clvae_mse_backward(ctx, ga, a, b, scale, N, D, CLVAE_MSE_SUM, err);
    case L_MSE_MEAN:
        return clvae_mse_backward(ctx, ga, a, b, scale, N, D, CLVAE_MSE_MEAN, err);
    default: return clvae_kl_backward(ctx, ga, gb, a, b, KL_BETA, scale, N, D, err);
    }
}

static void ref_forward(kind_t k, double *per, double *mean, const double *a, const double *b,
                        size_t N, size_t D)
{
    switch (k) {
    case L_BCE: clvae_bce_forward_ref(per, mean, a, b, N, D); break;
    case L_LOGITS: clvae_bce_logits_forward_ref(per, mean, a, b, N, D); break;
    case L_MSE_SUM: clvae_mse_forward_ref(per, mean, a, b, N, D, CLVAE_MSE_SUM); break;
    case L_MSE_MEAN: clvae_mse_forward_ref(per, mean, a, b, N, D, CLVAE_MSE_MEAN); break;
    default: clvae_kl_forward_ref(per, mean, a, b, KL_BETA, N, D); break;
    }
}

static void ref_backward(kind_t k, double *ga, double *gb, const double *a, const double *b,
                         double scale, size_t N, size_t D)
{
    switch (k) {
    case L_BCE: clvae_bce_backward_ref(ga, a, b, scale, N, D); break;
    case L_LOGITS: clvae_bce_logits_backward_ref(ga, a, b, scale, N, D); break;
    case L_MSE_SUM: clvae_mse_backward_ref(ga, a, b, scale, N, D, CLVAE_MSE_SUM); break;
    case L_MSE_MEAN: clvae_mse_backward_ref(ga, a, b, scale, N, D, CLVAE_MSE_MEAN); break;
    default: clvae_kl_backward_ref(ga, gb, a, b, KL_BETA, scale, N, D); break;
    }
}

/* Typical inputs of each loss; `smooth` keeps BCE's p away from 0 and 1 for differences. */
static void make_inputs(kind_t k, float *a, float *b, size_t n, uint64_t *seed, int smooth)
{
    switch (k) {
    case L_BCE:
        tu_rand(a, n, smooth ? 0.2f : 0.01f, smooth ? 0.8f : 0.99f, seed);
        tu_rand(b, n, 0.0f, 1.0f, seed);
        break;
    case L_LOGITS:
        tu_rand(a, n, -6.0f, 6.0f, seed);
        tu_rand(b, n, 0.0f, 1.0f, seed);
        break;
    case L_MSE_SUM:
    case L_MSE_MEAN:
        tu_rand(a, n, -1.0f, 2.0f, seed);
        tu_rand(b, n, 0.0f, 1.0f, seed);
        break;
    default:
        tu_rand(a, n, -2.0f, 2.0f, seed);
        tu_rand(b, n, -3.0f, 2.0f, seed);
        break;
    }
}

/* Forward and backward on the device against the reference, and again for identical bits. */
static void run_case(kind_t k, size_t N, size_t D)
{
    char name[96];
    snprintf(name, sizeof name, "%s %zux%zu", kind_name[k], N, D);
    size_t n = N * D;
    uint64_t seed = 0x5eed0000ULL + 131 * n + k;
    float *a = malloc(n * sizeof *a), *b = malloc(n * sizeof *b);
    float *g0 = malloc(2 * n * sizeof *g0); /* initial gradients: backward must accumulate */
    make_inputs(k, a, b, n, &seed, 0);
    tu_rand(g0, 2 * n, -1.0f, 1.0f, &seed);
    double *ad = tu_double(a, n), *bd = tu_double(b, n);
    double *per = malloc(N * sizeof *per), mean;
    double *ga = tu_double(g0, n), *gb = tu_double(g0 + n, n);
    float scale = 1.0f / (float)N;
    ref_forward(k, per, &mean, ad, bd, N, D);
    ref_backward(k, ga, gb, ad, bd, scale, N, D);

    clvae_buf_t ba = tu_upload(ctx, a, n), bb = tu_upload(ctx, b, n);
    clvae_buf_t bper = tu_zeros(ctx, N), bmean = tu_zeros(ctx, 1);
    clvae_buf_t bga = tu_upload(ctx, g0, n), bgb = tu_upload(ctx, g0 + n, n);
    clvae_buf_t none = {0};
    clvae_error_t err = {0};
    CHECK(dev_forward(k, bper, bmean, ba, bb, N, D, &err) == CLVAE_OK, "%s: %s", name, err.msg);
    CHECK(dev_backward(k, bga, k == L_KL ? bgb : none, ba, bb, scale, N, D, &err) == CLVAE_OK,
          "%s: %s", name, err.msg);
    float *gper = tu_download(ctx, bper, N), *gmean = tu_download(ctx, bmean, 1);
    float *gga = tu_download(ctx, bga, n), *ggb = tu_download(ctx, bgb, n);
    double rel = 0, worst = 0;
    char what[128];
    snprintf(what, sizeof what, "%s per-example", name);
    CHECK(tu_close(what, gper, per, N, 1e-5, 1e-4, &rel), "%s", what);
    worst = fmax(worst, rel);
    snprintf(what, sizeof what, "%s mean", name);
    CHECK(tu_close(what, gmean, &mean, 1, 1e-5, 1e-4, &rel), "%s", what);
    worst = fmax(worst, rel);
    snprintf(what, sizeof what, "%s forward", kind_name[k]);
    tu_note_error(what, worst);
    snprintf(what, sizeof what, "%s gradient", name);
    CHECK(tu_close(what, gga, ga, n, 1e-5, 1e-4, &rel), "%s", what);
    worst = rel;
    if (k == L_KL) {
        CHECK(tu_close("kl dlogvar", ggb, gb, n, 1e-5, 1e-4, &rel), "%s dlogvar", name);
        worst = fmax(worst, rel);
    } else {
        /* the target's gradient is not an output: that buffer is untouched */
        CHECK(ggb && memcmp(ggb, g0 + n, n * sizeof *ggb) == 0, "%s: wrote the second buffer",
              name);
    }
    snprintf(what, sizeof what, "%s backward", kind_name[k]);
    tu_note_error(what, worst);

    /* the same calls again give the same bits */
    clvae_buf_t bga2 = tu_upload(ctx, g0, n), bgb2 = tu_upload(ctx, g0 + n, n);
    CHECK(dev_forward(k, bper, bmean, ba, bb, N, D, &err) == CLVAE_OK, "%s: %s", name, err.msg);
    CHECK(dev_backward(k, bga2, k == L_KL ? bgb2 : none, ba, bb, scale, N, D, &err) == CLVAE_OK,
          "%s: %s", name, err.msg);
    float *gper2 = tu_download(ctx, bper, N), *gmean2 = tu_download(ctx, bmean, 1);
    float *gga2 = tu_download(ctx, bga2, n), *ggb2 = tu_download(ctx, bgb2, n);
    CHECK(gper && gper2 && memcmp(gper, gper2, N * sizeof *gper) == 0,
          "%s: per-example differs on the second run", name);
    CHECK(gmean && gmean2 && memcmp(gmean, gmean2, sizeof *gmean) == 0,
          "%s: mean differs on the second run", name);
    CHECK(gga && gga2 && memcmp(gga, gga2, n * sizeof *gga) == 0,
          "%s: gradient differs on the second run", name);
    CHECK(ggb && ggb2 && memcmp(ggb, ggb2, n * sizeof *ggb) == 0,
          "%s: second gradient differs on the second run", name);

    free(gper2);
    free(gmean2);
    free(gga2);
    free(ggb2);
    clvae_buf_free(&bga2);
    clvae_buf_free(&bgb2);
    free(gper);
    free(gmean);
    free(gga);
    free(ggb);
    clvae_buf_free(&ba);
    clvae_buf_free(&bb);
    clvae_buf_free(&bper);
    clvae_buf_free(&bmean);
    clvae_buf_free(&bga);
    clvae_buf_free(&bgb);
    free(a);
    free(b);
    free(g0);
    free(ad);
    free(bd);
    free(per);
    free(ga);
    free(gb);
}

static void t_pixel_losses_vs_reference(void)
{
    static const size_t shapes[][2] = {{1, 784}, {128, 784}, {3, 13}, {5, 1}, {2, 5003}};
    for (int k = L_BCE; k <= L_MSE_MEAN; k++)
        for (size_t s = 0; s < 5; s++) run_case((kind_t)k, shapes[s][0], shapes[s][1]);
}

static void t_kl_vs_reference(void)
{
    static const size_t Ns[] = {1, 128, 3}, Js[] = {2, 16};
    for (size_t i = 0; i < 3; i++)
        for (size_t j = 0; j < 2; j++) run_case(L_KL, Ns[i], Js[j]);
}

/* L = scale * sum_n L_n on the reference. */
static double ref_objective(kind_t k, const double *a, const double *b, double scale, size_t N,
                            size_t D, double *per)
{
    ref_forward(k, per, NULL, a, b, N, D);
    double s = 0;
    for (size_t i = 0; i < N; i++) s += per[i];
    return scale * s;
}

/* Central differences of the reference objective against the reference gradient, in double.
 * With a uniform backward scale, L = scale * sum_n L_n, so dL/dL_n = scale. */
static void t_reference_gradients_by_differences(void)
{
    static const size_t shapes[][2] = {{3, 13}, {2, 5}, {1, 1}};
    const double h = 1e-6, scale = 0.37;
    for (int k = 0; k < L_COUNT; k++) {
        for (size_t s = 0; s < 3; s++) {
            size_t N = shapes[s][0], D = shapes[s][1], n = N * D;
            uint64_t seed = 77 + 31 * k + s;
            float *a = malloc(n * sizeof *a), *b = malloc(n * sizeof *b);
            make_inputs((kind_t)k, a, b, n, &seed, 1);
            double *ad = tu_double(a, n), *bd = tu_double(b, n);
            double *ga = calloc(n, sizeof *ga), *gb = calloc(n, sizeof *gb);
            double *per = malloc(N * sizeof *per);
            ref_backward((kind_t)k, ga, gb, ad, bd, scale, N, D);
            int nvars = k == L_KL ? 2 : 1;
            for (int v = 0; v < nvars; v++) {
                double *x = v ? bd : ad, *g = v ? gb : ga, norm = 0, worst = 0;
                for (size_t i = 0; i < n; i++) {
                    double x0 = x[i];
                    x[i] = x0 + h;
                    double lp = ref_objective((kind_t)k, ad, bd, scale, N, D, per);
                    x[i] = x0 - h;
                    double lm = ref_objective((kind_t)k, ad, bd, scale, N, D, per);
                    x[i] = x0;
                    double fd = (lp - lm) / (2 * h);
                    double e = fabs(fd - g[i]) / (fabs(g[i]) + 1e-3);
                    if (e > worst) worst = e;
                    CHECK(fabs(fd - g[i]) <= 1e-6 * fabs(g[i]) + 1e-8,
                          "%s %zux%zu var %d elem %zu: difference %.12g, gradient %.12g",
                          kind_name[k], N, D, v, i, fd, g[i]);
                    norm += g[i] * g[i];
                }
                CHECK(sqrt(norm) > 1e-3, "%s %zux%zu var %d: gradient norm %g is trivial",
                      kind_name[k], N, D, v, sqrt(norm));
            }
            free(a);
            free(b);
            free(ad);
            free(bd);
            free(ga);
            free(gb);
            free(per);
        }
    }
}

/* L = scale * sum_n L_n from a device forward, summed on the host in double. */
static double dev_objective(kind_t k, clvae_buf_t per, clvae_buf_t a, clvae_buf_t b, size_t N,
                            size_t D, double scale)
{
    clvae_error_t err = {0};
    clvae_buf_t none = {0};
    if (dev_forward(k, per, none, a, b, N, D, &err) != CLVAE_OK) return NAN;
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
    const size_t N = 3, D = 13, n = N * D;
    const float scale = 0.75f;
    for (int k = 0; k < L_COUNT; k++) {
        /* BCE's third derivative ~ 2/p^3 needs a smaller step than the others */
        const float h = k == L_BCE ? 3e-3f : 1e-2f;
        uint64_t seed = 4242 + k;
        float *a = malloc(n * sizeof *a), *b = malloc(n * sizeof *b);
        make_inputs((kind_t)k, a, b, n, &seed, 1);
        clvae_buf_t ba = tu_upload(ctx, a, n), bb = tu_upload(ctx, b, n);
        clvae_buf_t bper = tu_zeros(ctx, N), bga = tu_zeros(ctx, n), bgb = tu_zeros(ctx, n);
        clvae_buf_t none = {0};
        clvae_error_t err = {0};
        CHECK(dev_backward((kind_t)k, bga, k == L_KL ? bgb : none, ba, bb, scale, N, D, &err) ==
                  CLVAE_OK, "%s: %s", kind_name[k], err.msg);
        float *ga = tu_download(ctx, bga, n), *gb = tu_download(ctx, bgb, n);
        REQUIRE(ga && gb, "%s: no gradient", kind_name[k]);
        int nvars = k == L_KL ? 2 : 1;
        double worst = 0;
        for (int v = 0; v < nvars; v++) {
            float *x = v ? b : a, *g = v ? gb : ga;
            clvae_buf_t bx = v ? bb : ba;
            double norm = 0;
            for (size_t i = 0; i < n; i++) {
                float x0 = x[i], xp = x0 + h, xm = x0 - h;
                clvae_buf_upload(ctx, clvae_buf_at(bx, i), &xp, 1, &err);
                double lp = dev_objective((kind_t)k, bper, ba, bb, N, D, scale);
                clvae_buf_upload(ctx, clvae_buf_at(bx, i), &xm, 1, &err);
                double lm = dev_objective((kind_t)k, bper, ba, bb, N, D, scale);
                clvae_buf_upload(ctx, clvae_buf_at(bx, i), &x0, 1, &err);
                double fd = (lp - lm) / ((double)xp - (double)xm);
                double e = fabs(fd - g[i]) / fmax(fabs(g[i]), 1e-1);
                if (e > worst) worst = e;
                /* float sums of ~10 terms: ~1e-6 noise over a step of 2h */
                CHECK(fabs(fd - g[i]) <= 1e-2 * fabs(g[i]) + 2e-3,
                      "%s var %d elem %zu: difference %.7g, gradient %.7g", kind_name[k], v, i,
                      fd, (double)g[i]);
                norm += (double)g[i] * g[i];
            }
            CHECK(sqrt(norm) > 0.1, "%s var %d: gradient norm %g is trivial", kind_name[k], v,
                  sqrt(norm));
        }
        char what[64];
        snprintf(what, sizeof what, "%s backward (differences)", kind_name[k]);
        tu_note_error(what, worst);
        free(ga);
        free(gb);
        free(a);
        free(b);
        clvae_buf_free(&ba);
        clvae_buf_free(&bb);
        clvae_buf_free(&bper);
        clvae_buf_free(&bga);
        clvae_buf_free(&bgb);
    }
}

/* Runs kind k on N x D device inputs a, b; checks loss and gradient (scale 1) against the
 * reference with tight tolerances and that everything is finite. */
static void edge_case(const char *name, kind_t k, const float *a, const float *b, size_t N,
                      size_t D)
{
    size_t n = N * D;
    double *ad = tu_double(a, n), *bd = tu_double(b, n);
    double *per = malloc(N * sizeof *per), mean;
    double *ga = calloc(n, sizeof *ga), *gb = calloc(n, sizeof *gb);
    ref_forward(k, per, &mean, ad, bd, N, D);
    ref_backward(k, ga, gb, ad, bd, 1.0, N, D);
    clvae_buf_t ba = tu_upload(ctx, a, n), bb = tu_upload(ctx, b, n);
    clvae_buf_t bper = tu_zeros(ctx, N), bmean = tu_zeros(ctx, 1);
    clvae_buf_t bga = tu_zeros(ctx, n), bgb = tu_zeros(ctx, n), none = {0};
    clvae_error_t err = {0};
    CHECK(dev_forward(k, bper, bmean, ba, bb, N, D, &err) == CLVAE_OK, "%s: %s", name, err.msg);
    CHECK(dev_backward(k, bga, k == L_KL ? bgb : none, ba, bb, 1.0f, N, D, &err) == CLVAE_OK,
          "%s: %s", name, err.msg);
    float *gper = tu_download(ctx, bper, N), *gmean = tu_download(ctx, bmean, 1);
    float *gga = tu_download(ctx, bga, n), *ggb = tu_download(ctx, bgb, n);
    REQUIRE(gper && gmean && gga && ggb, "%s: no result", name);
    size_t nonfinite = !isfinite(gmean[0]);
    for (size_t i = 0; i < N; i++) nonfinite += !isfinite(gper[i]);
    for (size_t i = 0; i < n; i++) nonfinite += !isfinite(gga[i]) + !isfinite(ggb[i]);
    CHECK(nonfinite == 0, "%s: %zu non-finite values", name, nonfinite);
    for (size_t i = 0; i < N; i++) CHECK(isfinite(per[i]), "%s: reference not finite", name);
    double rel;
    char what[128];
    snprintf(what, sizeof what, "%s loss", name);
    CHECK(tu_close(what, gper, per, N, 1e-5, 1e-5, &rel), "%s", what);
    snprintf(what, sizeof what, "%s mean", name);
    CHECK(tu_close(what, gmean, &mean, 1, 1e-5, 1e-5, &rel), "%s", what);
    snprintf(what, sizeof what, "%s gradient", name);
    CHECK(tu_close(what, gga, ga, n, 1e-5, 1e-5, &rel), "%s", what);
    if (k == L_KL) CHECK(tu_close("kl dlogvar", ggb, gb, n, 1e-5, 1e-5, &rel), "%s", name);
    free(gper);
    free(gmean);
    free(gga);
    free(ggb);
    clvae_buf_free(&ba);
    clvae_buf_free(&bb);
    clvae_buf_free(&bper);
    clvae_buf_free(&bmean);
    clvae_buf_free(&bga);
    clvae_buf_free(&bgb);
    free(ad);
    free(bd);
    free(per);
    free(ga);
    free(gb);
}

static void t_bce_at_zero_and_one(void)
{
    /* one pixel per example: (p, t) = (0,0) (0,1) (1,0) (1,1), then tiny and near-one p */
    const float p[7] = {0.0f, 0.0f, 1.0f, 1.0f, 1e-30f, 1.0f - 1.0f / 16777216.0f, 0.5f};
    const float t[7] = {0.0f, 1.0f, 0.0f, 1.0f, 1.0f, 0.0f, 1.0f};
    edge_case("bce p in {0,1}", L_BCE, p, t, 7, 1);
    /* the clamped values themselves, as PyTorch gives them */
    double pd[7], td[7], per[7];
    for (int i = 0; i < 7; i++) pd[i] = p[i], td[i] = t[i];
    clvae_bce_forward_ref(per, NULL, pd, td, 7, 1);
    CHECK(per[0] == 0.0 && per[1] == 100.0 && per[2] == 100.0 && per[3] == 0.0,
          "reference clamp: %g %g %g %g", per[0], per[1], per[2], per[3]);
    double g[4] = {0};
    clvae_bce_backward_ref(g, pd, td, 1.0, 4, 1);
    CHECK(g[0] == 0.0 && g[1] == -1e12 && g[2] == 1e12 && g[3] == 0.0,
          "reference gradient: %g %g %g %g", g[0], g[1], g[2], g[3]);
}

static void t_bce_logits_extremes(void)
{
    float z[12], t[12];
    const float zs[4] = {100.0f, -100.0f, 1e4f, -1e4f}, ts[3] = {0.0f, 1.0f, 0.25f};
    for (int i = 0; i < 4; i++)
        for (int j = 0; j < 3; j++) z[i * 3 + j] = zs[i], t[i * 3 + j] = ts[j];
    edge_case("bce_logits |z| in {100, 1e4}", L_LOGITS, z, t, 12, 1);
    /* and the values themselves: z = 1e4, t = 0.25 costs 7500; z = -100, t = 1 costs 100 */
    double zd[12], td[12], per[12];
    for (int i = 0; i < 12; i++) zd[i] = z[i], td[i] = t[i];
    clvae_bce_logits_forward_ref(per, NULL, zd, td, 12, 1);
    CHECK(per[8] == 7500.0 && fabs(per[4] - 100.0) < 1e-12 && per[9] == 0.0,
          "reference values %g %g %g", per[8], per[4], per[9]);
    /* all of them in one row too */
    edge_case("bce_logits extremes in one row", L_LOGITS, z, t, 1, 12);
}

static void t_kl_extreme_logvar(void)
{
    size_t N = 3, J = 16, n = N * J;
    float mu[48], lv[48];
    uint64_t seed = 99;
    tu_rand(mu, n, -3.0f, 3.0f, &seed);
    tu_rand(lv, n, -30.0f, 20.0f, &seed);
    lv[0] = -30.0f;
    lv[1] = 20.0f;
    edge_case("kl logvar in [-30, 20]", L_KL, mu, lv, N, J);
}

static void t_logits_equal_sigmoid_then_bce(void)
{
    size_t N = 3, D = 784, n = N * D;
    float *z = malloc(n * sizeof *z), *t = malloc(n * sizeof *t), *p = malloc(n * sizeof *p);
    uint64_t seed = 31337;
    tu_rand(z, n, -8.0f, 8.0f, &seed);
    tu_rand(t, n, 0.0f, 1.0f, &seed);
    for (size_t i = 0; i < n; i++) p[i] = (float)(1.0 / (1.0 + exp(-(double)z[i])));
    clvae_buf_t bz = tu_upload(ctx, z, n), bt = tu_upload(ctx, t, n), bp = tu_upload(ctx, p, n);
    clvae_buf_t per1 = tu_zeros(ctx, N), per2 = tu_zeros(ctx, N);
    clvae_buf_t dz = tu_zeros(ctx, n), dp = tu_zeros(ctx, n), none = {0};
    clvae_error_t err = {0};
    CHECK(clvae_bce_logits_forward(ctx, per1, none, bz, bt, N, D, &err) == CLVAE_OK, "%s",
          err.msg);
    CHECK(clvae_bce_forward(ctx, per2, none, bp, bt, N, D, &err) == CLVAE_OK, "%s", err.msg);
    CHECK(clvae_bce_logits_backward(ctx, dz, bz, bt, 1.0f, N, D, &err) == CLVAE_OK, "%s",
          err.msg);
    CHECK(clvae_bce_backward(ctx, dp, bp, bt, 1.0f, N, D, &err) == CLVAE_OK, "%s", err.msg);
    float *l1 = tu_download(ctx, per1, N), *l2 = tu_download(ctx, per2, N);
    float *g1 = tu_download(ctx, dz, n), *g2 = tu_download(ctx, dp, n);
    REQUIRE(l1 && l2 && g1 && g2, "no result");
    double *want = tu_double(l2, N), *chain = malloc(n * sizeof *chain);
    /* through p the float rounding of p near 1 costs up to ~1e-4 per pixel in log1p(-p) */
    CHECK(tu_close("logits vs sigmoid+bce", l1, want, N, 1e-3, 1e-4, NULL), "losses differ");
    /* dz = dp * p (1 - p) */
    for (size_t i = 0; i < n; i++) chain[i] = (double)g2[i] * p[i] * (1.0 - p[i]);
    CHECK(tu_close("logits vs sigmoid+bce gradient", g1, chain, n, 1e-5, 1e-4, NULL),
          "gradients differ");
    free(l1);
    free(l2);
    free(g1);
    free(g2);
    free(want);
    free(chain);
    clvae_buf_free(&bz);
    clvae_buf_free(&bt);
    clvae_buf_free(&bp);
    clvae_buf_free(&per1);
    clvae_buf_free(&per2);
    clvae_buf_free(&dz);
    clvae_buf_free(&dp);
    free(z);
    free(t);
    free(p);
}

static void t_skipped_outputs(void)
{
    size_t N = 2, J = 3, n = N * J;
    float mu[6] = {0.5f, -1.0f, 2.0f, 0.0f, 1.5f, -0.25f};
    float lv[6] = {0.1f, -1.0f, 1.0f, 0.0f, 2.0f, -3.0f};
    double mud[6], lvd[6], gmu[6] = {0}, glv[6] = {0};
    for (size_t i = 0; i < n; i++) mud[i] = mu[i], lvd[i] = lv[i];
    clvae_kl_backward_ref(gmu, glv, mud, lvd, 2.0, 0.5, N, J);
    clvae_buf_t bmu = tu_upload(ctx, mu, n), blv = tu_upload(ctx, lv, n);
    clvae_buf_t g1 = tu_zeros(ctx, n), g2 = tu_zeros(ctx, n), none = {0};
    clvae_error_t err = {0};
    /* only dlogvar, then only dmu */
    CHECK(clvae_kl_backward(ctx, none, g1, bmu, blv, 2.0f, 0.5f, N, J, &err) == CLVAE_OK, "%s",
          err.msg);
    CHECK(clvae_kl_backward(ctx, g2, none, bmu, blv, 2.0f, 0.5f, N, J, &err) == CLVAE_OK, "%s",
          err.msg);
    CHECK(clvae_kl_backward(ctx, none, none, bmu, blv, 2.0f, 0.5f, N, J, &err) == CLVAE_OK,
          "%s", err.msg);
    CHECK(clvae_bce_backward(ctx, none, bmu, blv, 1.0f, N, J, &err) == CLVAE_OK, "%s", err.msg);
    float *h1 = tu_download(ctx, g1, n), *h2 = tu_download(ctx, g2, n);
    CHECK(tu_close("kl dlogvar alone", h1, glv, n, 1e-6, 1e-6, NULL), "dlogvar alone");
    CHECK(tu_close("kl dmu alone", h2, gmu, n, 1e-6, 1e-6, NULL), "dmu alone");
    /* the inputs are unchanged (a skipped output's stand-in is never written) */
    float *m2 = tu_download(ctx, bmu, n);
    CHECK(m2 && memcmp(m2, mu, sizeof mu) == 0, "mu was written");
    /* forward without a mean */
    clvae_buf_t per = tu_zeros(ctx, N);
    CHECK(clvae_kl_forward(ctx, per, none, bmu, blv, 1.0f, N, J, &err) == CLVAE_OK, "%s",
          err.msg);
    double perd[2];
    clvae_kl_forward_ref(perd, NULL, mud, lvd, 1.0, N, J);
    float *hp = tu_download(ctx, per, N);
    CHECK(tu_close("kl without mean", hp, perd, N, 1e-5, 1e-5, NULL), "kl without mean");
    free(hp);
    free(m2);
    free(h1);
    free(h2);
    clvae_buf_free(&per);
    clvae_buf_free(&bmu);
    clvae_buf_free(&blv);
    clvae_buf_free(&g1);
    clvae_buf_free(&g2);
}

static void t_invalid_arguments(void)
{
    clvae_buf_t b = tu_zeros(ctx, 64), per = tu_zeros(ctx, 4), m = tu_zeros(ctx, 1), none = {0};
    clvae_buf_t far = clvae_buf_at(b, (size_t)UINT32_MAX - 10);
    clvae_error_t err = {0};
    const clvae_status_t INV = CLVAE_ERR_INVALID;
    for (int k = 0; k < L_COUNT; k++) {
        const char *nm = kind_name[k];
        CHECK(dev_forward((kind_t)k, per, m, b, b, 0, 4, &err) == INV, "%s: N=0 accepted", nm);
        CHECK(dev_forward((kind_t)k, per, m, b, b, 4, 0, &err) == INV, "%s: D=0 accepted", nm);
        CHECK(dev_forward((kind_t)k, per, m, none, b, 4, 4, &err) == INV, "%s: NULL a", nm);
        CHECK(dev_forward((kind_t)k, per, m, b, none, 4, 4, &err) == INV, "%s: NULL b", nm);
        CHECK(dev_forward((kind_t)k, none, m, b, b, 4, 4, &err) == INV, "%s: NULL per", nm);
        CHECK(dev_forward((kind_t)k, per, m, far, b, 4, 4, &err) == INV, "%s: index > 2^32", nm);
        CHECK(dev_forward((kind_t)k, per, m, b, b, (size_t)1 << 20, (size_t)1 << 13, &err) ==
                  INV, "%s: N*D > 2^32 accepted", nm);
        CHECK(dev_backward((kind_t)k, b, b, b, b, 1.0f, 0, 4, &err) == INV, "%s: bwd N=0", nm);
        CHECK(dev_backward((kind_t)k, b, b, b, b, 1.0f, 4, 0, &err) == INV, "%s: bwd D=0", nm);
        CHECK(dev_backward((kind_t)k, b, b, none, b, 1.0f, 4, 4, &err) == INV, "%s: bwd NULL a",
              nm);
        CHECK(dev_backward((kind_t)k, b, b, b, none, 1.0f, 4, 4, &err) == INV, "%s: bwd NULL b",
              nm);
        CHECK(dev_backward((kind_t)k, b, b, b, b, NAN, 4, 4, &err) == INV, "%s: NaN scale", nm);
        CHECK(dev_backward((kind_t)k, far, b, b, b, 1.0f, 4, 4, &err) == INV, "%s: far grad", nm);
    }
    CHECK(clvae_kl_forward(ctx, per, m, b, b, NAN, 4, 4, &err) == INV, "NaN beta accepted");
    CHECK(strstr(err.msg, "beta") != NULL, "message: %s", err.msg);
    CHECK(clvae_kl_forward(ctx, per, m, b, b, -1.0f, 4, 4, &err) == INV, "beta -1 accepted");
    CHECK(clvae_kl_forward(ctx, per, m, b, b, INFINITY, 4, 4, &err) == INV, "inf beta");
    CHECK(clvae_kl_backward(ctx, b, b, b, b, -0.5f, 1.0f, 4, 4, &err) == INV, "bwd beta < 0");
    CHECK(clvae_mse_forward(ctx, per, m, b, b, 4, 4, (clvae_mse_reduction_t)7, &err) == INV,
          "reduction 7 accepted");
    CHECK(clvae_mse_backward(ctx, b, b, b, 1.0f, 4, 4, (clvae_mse_reduction_t)-1, &err) == INV,
          "reduction -1 accepted");
    /* the buffers still hold what they held: the rejected calls wrote nothing */
    float *h = tu_download(ctx, b, 64), *hm = tu_download(ctx, m, 1);
    int clean = h && hm && hm[0] == 0.0f;
    for (int i = 0; clean && i < 64; i++) clean = h[i] == 0.0f;
    CHECK(clean, "a rejected call wrote");
    free(h);
    free(hm);
    CHECK(clvae_kl_forward(ctx, per, m, b, b, 0.0f, 4, 4, &err) == CLVAE_OK,
          "beta 0 (KL warm-up) refused: %s", err.msg);
    clvae_buf_free(&b);
    clvae_buf_free(&per);
    clvae_buf_free(&m);
}

int main(void)
{
    ctx = tu_ctx();
    if (!ctx) return 1;
    RUN(t_pixel_losses_vs_reference);
    RUN(t_kl_vs_reference);
    RUN(t_reference_gradients_by_differences);
    RUN(t_device_gradients_by_differences);
    RUN(t_bce_at_zero_and_one);
    RUN(t_bce_logits_extremes);
    RUN(t_kl_extreme_logvar);
    RUN(t_logits_equal_sigmoid_then_bce);
    RUN(t_skipped_outputs);
    RUN(t_invalid_arguments);
    tu_print_errors();
    clvae_ctx_free(ctx);
    return TEST_EXIT();
}
