/* Reparameterization: device against the double reference, noise from the Philox twin,
 * gradients by finite differences, determinism, bad input. */
#define TEST_FILE "test_latent"
#include "ref/ref.h"
#include "test.h"
#include "testutil.h"

#include <math.h>

#include "clvae/ops/latent.h"
#include "clvae/ops/rng.h"

static clvae_ctx_t *ctx;

/* Random mu, logvar, eps, dz of n elements (eps here is any fixed noise). */
static void make_inputs(float *mu, float *lv, float *eps, float *dz, size_t n, uint64_t seed)
{
    tu_rand(mu, n, -2.0f, 2.0f, &seed);
    tu_rand(lv, n, -6.0f, 4.0f, &seed);
    tu_rand(eps, n, -3.0f, 3.0f, &seed);
    tu_rand(dz, n, -1.0f, 1.0f, &seed);
}

static void t_apply_and_backward_vs_reference(void)
{
    static const size_t ns[] = {1, 15, 32, 256, 2048};
    for (size_t c = 0; c < sizeof ns / sizeof *ns; c++) {
        size_t n = tu_size(ns[c], ns[c] > 256 ? 257 : ns[c]);
        char name[64];
        float *buf = malloc(6 * n * sizeof *buf);
        float *mu = buf, *lv = buf + n, *eps = buf + 2 * n, *dz = buf + 3 * n;
        float *g0 = buf + 4 * n; /* initial dmu, dlogvar: backward must accumulate */
        make_inputs(mu, lv, eps, dz, n, 1000 + n);
        uint64_t seed = 17 + n;
        tu_rand(g0, 2 * n, -1.0f, 1.0f, &seed);
        double *mud = tu_double(mu, n), *lvd = tu_double(lv, n), *ed = tu_double(eps, n);
        double *dzd = tu_double(dz, n), *gmu = tu_double(g0, n), *glv = tu_double(g0 + n, n);
        double *z = malloc(n * sizeof *z);
        clvae_reparam_apply_ref(z, ed, mud, lvd, n);
        clvae_reparam_backward_ref(gmu, glv, dzd, ed, lvd, n);

        clvae_buf_t bmu = tu_upload(ctx, mu, n), blv = tu_upload(ctx, lv, n);
        clvae_buf_t beps = tu_upload(ctx, eps, n), bdz = tu_upload(ctx, dz, n);
        clvae_buf_t bz = tu_zeros(ctx, n), bgmu = tu_upload(ctx, g0, n);
        clvae_buf_t bglv = tu_upload(ctx, g0 + n, n);
        clvae_error_t err = {0};
        CHECK(clvae_reparam_apply(ctx, bz, beps, bmu, blv, n, &err) == CLVAE_OK, "%s", err.msg);
        CHECK(clvae_reparam_backward(ctx, bgmu, bglv, bdz, beps, blv, n, &err) == CLVAE_OK, "%s",
              err.msg);
        float *gz = tu_download(ctx, bz, n), *hgmu = tu_download(ctx, bgmu, n);
        float *hglv = tu_download(ctx, bglv, n);
        double rel;
        snprintf(name, sizeof name, "reparam_apply n=%zu", n);
        CHECK(tu_close(name, gz, z, n, 1e-5, 1e-4, &rel), "%s", name);
        tu_note_error("reparam_apply", rel);
        snprintf(name, sizeof name, "reparam_backward dmu n=%zu", n);
        CHECK(tu_close(name, hgmu, gmu, n, 1e-5, 1e-4, &rel), "%s", name);
        tu_note_error("reparam_backward", rel);
        snprintf(name, sizeof name, "reparam_backward dlogvar n=%zu", n);
        CHECK(tu_close(name, hglv, glv, n, 1e-5, 1e-4, &rel), "%s", name);
        tu_note_error("reparam_backward", rel);

        /* the same calls again give the same bits */
        clvae_buf_t bgmu2 = tu_upload(ctx, g0, n), bglv2 = tu_upload(ctx, g0 + n, n);
        CHECK(clvae_reparam_apply(ctx, bz, beps, bmu, blv, n, &err) == CLVAE_OK, "%s", err.msg);
        CHECK(clvae_reparam_backward(ctx, bgmu2, bglv2, bdz, beps, blv, n, &err) == CLVAE_OK,
              "%s", err.msg);
        float *gz2 = tu_download(ctx, bz, n), *hgmu2 = tu_download(ctx, bgmu2, n);
        float *hglv2 = tu_download(ctx, bglv2, n);
        CHECK(gz && gz2 && memcmp(gz, gz2, n * sizeof *gz) == 0, "n=%zu: z differs", n);
        CHECK(hgmu && hgmu2 && memcmp(hgmu, hgmu2, n * sizeof *gz) == 0, "n=%zu: dmu differs",
              n);
        CHECK(hglv && hglv2 && memcmp(hglv, hglv2, n * sizeof *gz) == 0,
              "n=%zu: dlogvar differs", n);
        free(gz2);
        free(hgmu2);
        free(hglv2);
        clvae_buf_free(&bgmu2);
        clvae_buf_free(&bglv2);

        free(gz);
        free(hgmu);
        free(hglv);
        clvae_buf_free(&bmu);
        clvae_buf_free(&blv);
        clvae_buf_free(&beps);
        clvae_buf_free(&bdz);
        clvae_buf_free(&bz);
        clvae_buf_free(&bgmu);
        clvae_buf_free(&bglv);
        free(buf);
        free(mud);
        free(lvd);
        free(ed);
        free(dzd);
        free(gmu);
        free(glv);
        free(z);
    }
}

/* Forward on the device: eps and z, downloaded; NULL arrays on failure. */
static void dev_forward(const float *mu, const float *lv, size_t n, uint64_t seed, uint64_t off,
                        float **z, float **eps)
{
    clvae_buf_t bmu = tu_upload(ctx, mu, n), blv = tu_upload(ctx, lv, n);
    clvae_buf_t bz = tu_zeros(ctx, n), beps = tu_zeros(ctx, n);
    clvae_error_t err = {0};
    *z = *eps = NULL;
    if (clvae_reparam_forward(ctx, bz, beps, bmu, blv, n, seed, off, &err) == CLVAE_OK) {
        *z = tu_download(ctx, bz, n);
        *eps = tu_download(ctx, beps, n);
    } else {
        fprintf(stderr, "  reparam_forward failed: %s\n", err.msg);
    }
    clvae_buf_free(&bmu);
    clvae_buf_free(&blv);
    clvae_buf_free(&bz);
    clvae_buf_free(&beps);
}

static void t_forward_noise_is_the_philox_twin(void)
{
    static const size_t ns[] = {1, 6, 2048};
    for (size_t c = 0; c < 3; c++) {
        size_t n = ns[c];
        uint64_t seed = 0xabcdef12345ULL + n, off = 1000 * c;
        float *mu = malloc(4 * n * sizeof *mu), *lv = mu + n, *e0 = mu + 2 * n, *dz = mu + 3 * n;
        make_inputs(mu, lv, e0, dz, n, 5 + n);
        float *z, *eps;
        dev_forward(mu, lv, n, seed, off, &z, &eps);
        REQUIRE(z && eps, "n=%zu: no result", n);
        /* eps is the normal stream (seed, offset), as the host twin draws it */
        float *twin = malloc(n * sizeof *twin);
        clvae_rng_normal_host(twin, n, seed, off);
        double *twd = tu_double(twin, n), rel;
        CHECK(tu_close("eps vs twin", eps, twd, n, 1e-5, 1e-5, &rel), "n=%zu", n);
        tu_note_error("reparam_forward eps", rel);
        /* z from the device's own eps, and from the reference forward (twin noise) */
        double *mud = tu_double(mu, n), *lvd = tu_double(lv, n), *ed = tu_double(eps, n);
        double *zr = malloc(n * sizeof *zr), *zf = malloc(n * sizeof *zf);
        double *ef = malloc(n * sizeof *ef);
        clvae_reparam_apply_ref(zr, ed, mud, lvd, n);
        CHECK(tu_close("z", z, zr, n, 1e-5, 1e-4, &rel), "n=%zu", n);
        tu_note_error("reparam_forward", rel);
        clvae_reparam_forward_ref(zf, ef, mud, lvd, n, seed, off);
        CHECK(memcmp(ef, twd, n * sizeof *ef) == 0, "forward_ref's eps is not the twin's");
        /* the twin's eps differs from the device's by a few ulps, scaled by exp(lv/2) <= e^2 */
        CHECK(tu_close("z vs forward_ref", z, zf, n, 1e-4, 1e-4, NULL), "n=%zu", n);
        free(z);
        free(eps);
        free(twin);
        free(twd);
        free(mud);
        free(lvd);
        free(ed);
        free(zr);
        free(zf);
        free(ef);
        free(mu);
    }
}

static void t_determinism_and_offsets(void)
{
    size_t n = 128 * 16;
    float *mu = malloc(4 * n * sizeof *mu), *lv = mu + n, *e0 = mu + 2 * n, *dz = mu + 3 * n;
    make_inputs(mu, lv, e0, dz, n, 808);
    float *z1, *e1, *z2, *e2, *z3, *e3, *z4, *e4;
    dev_forward(mu, lv, n, 42, 0, &z1, &e1);
    dev_forward(mu, lv, n, 42, 0, &z2, &e2);
    dev_forward(mu, lv, n, 42, clvae_rng_blocks(n), &z3, &e3); /* the next draw */
    dev_forward(mu, lv, n, 43, 0, &z4, &e4);
    REQUIRE(z1 && z2 && z3 && z4 && e1 && e2 && e3 && e4, "no result");
    CHECK(memcmp(z1, z2, n * sizeof *z1) == 0, "same seed and offset: z differs");
    CHECK(memcmp(e1, e2, n * sizeof *e1) == 0, "same seed and offset: eps differs");
    size_t same3 = 0, same4 = 0;
    for (size_t i = 0; i < n; i++) {
        same3 += z1[i] == z3[i];
        same4 += z1[i] == z4[i];
    }
    CHECK(same3 < 8, "next offset: %zu of %zu z equal", same3, n);
    CHECK(same4 < 8, "other seed: %zu of %zu z equal", same4, n);
    free(z1);
    free(e1);
    free(z2);
    free(e2);
    free(z3);
    free(e3);
    free(z4);
    free(e4);
    free(mu);
}

/* L = sum_i r_i z_i on the reference. */
static double ref_objective(const double *r, const double *eps, const double *mu,
                            const double *lv, size_t n, double *z)
{
    clvae_reparam_apply_ref(z, eps, mu, lv, n);
    double s = 0;
    for (size_t i = 0; i < n; i++) s += r[i] * z[i];
    return s;
}

static void t_reference_gradients_by_differences(void)
{
    static const size_t ns[] = {1, 6, 15};
    const double h = 1e-6;
    for (size_t c = 0; c < 3; c++) {
        size_t n = ns[c];
        float *f = malloc(4 * n * sizeof *f);
        make_inputs(f, f + n, f + 2 * n, f + 3 * n, n, 4000 + n);
        double *mu = tu_double(f, n), *lv = tu_double(f + n, n), *eps = tu_double(f + 2 * n, n);
        double *r = tu_double(f + 3 * n, n), *z = malloc(n * sizeof *z);
        double *gmu = calloc(n, sizeof *gmu), *glv = calloc(n, sizeof *glv);
        clvae_reparam_backward_ref(gmu, glv, r, eps, lv, n);
        for (int v = 0; v < 2; v++) {
            double *x = v ? lv : mu, *g = v ? glv : gmu, norm = 0;
            for (size_t i = 0; i < n; i++) {
                double x0 = x[i];
                x[i] = x0 + h;
                double lp = ref_objective(r, eps, mu, lv, n, z);
                x[i] = x0 - h;
                double lm = ref_objective(r, eps, mu, lv, n, z);
                x[i] = x0;
                double fd = (lp - lm) / (2 * h);
                CHECK(fabs(fd - g[i]) <= 1e-6 * fabs(g[i]) + 1e-8,
                      "n=%zu var %d elem %zu: difference %.12g, gradient %.12g", n, v, i, fd,
                      g[i]);
                norm += g[i] * g[i];
            }
            CHECK(sqrt(norm) > 1e-3, "n=%zu var %d: gradient norm %g is trivial", n, v,
                  sqrt(norm));
        }
        free(f);
        free(mu);
        free(lv);
        free(eps);
        free(r);
        free(z);
        free(gmu);
        free(glv);
    }
}

static void t_device_gradients_by_differences(void)
{
    const size_t n = 15;
    const float h = 1e-2f;
    float f[4 * 15];
    float *mu = f, *lv = f + n, *eps = f + 2 * n, *r = f + 3 * n;
    make_inputs(mu, lv, eps, r, n, 9090);
    clvae_buf_t bmu = tu_upload(ctx, mu, n), blv = tu_upload(ctx, lv, n);
    clvae_buf_t beps = tu_upload(ctx, eps, n), br = tu_upload(ctx, r, n);
    clvae_buf_t bz = tu_zeros(ctx, n), bgmu = tu_zeros(ctx, n), bglv = tu_zeros(ctx, n);
    clvae_error_t err = {0};
    CHECK(clvae_reparam_backward(ctx, bgmu, bglv, br, beps, blv, n, &err) == CLVAE_OK, "%s",
          err.msg);
    float *gmu = tu_download(ctx, bgmu, n), *glv = tu_download(ctx, bglv, n);
    REQUIRE(gmu && glv, "no gradient");
    double worst = 0;
    for (int v = 0; v < 2; v++) {
        float *x = v ? lv : mu, *g = v ? glv : gmu;
        clvae_buf_t bx = v ? blv : bmu;
        double norm = 0;
        for (size_t i = 0; i < n; i++) {
            float x0 = x[i], xs[2] = {x0 + h, x0 - h};
            double l[2];
            for (int s = 0; s < 2; s++) {
                clvae_buf_upload(ctx, clvae_buf_at(bx, i), &xs[s], 1, &err);
                CHECK(clvae_reparam_apply(ctx, bz, beps, bmu, blv, n, &err) == CLVAE_OK, "%s",
                      err.msg);
                float *z = tu_download(ctx, bz, n);
                REQUIRE(z, "no result");
                l[s] = tu_dot(r, z, n);
                free(z);
            }
            clvae_buf_upload(ctx, clvae_buf_at(bx, i), &x0, 1, &err);
            double fd = (l[0] - l[1]) / ((double)xs[0] - (double)xs[1]);
            double e = fabs(fd - g[i]) / fmax(fabs(g[i]), 1e-1);
            if (e > worst) worst = e;
            CHECK(fabs(fd - g[i]) <= 1e-2 * fabs(g[i]) + 1e-3,
                  "var %d elem %zu: difference %.7g, gradient %.7g", v, i, fd, (double)g[i]);
            norm += (double)g[i] * g[i];
        }
        CHECK(sqrt(norm) > 0.1, "var %d: gradient norm %g is trivial", v, sqrt(norm));
    }
    tu_note_error("reparam_backward (differences)", worst);
    free(gmu);
    free(glv);
    clvae_buf_free(&bmu);
    clvae_buf_free(&blv);
    clvae_buf_free(&beps);
    clvae_buf_free(&br);
    clvae_buf_free(&bz);
    clvae_buf_free(&bgmu);
    clvae_buf_free(&bglv);
}

static void t_skipped_gradients(void)
{
    size_t n = 9;
    float f[4 * 9];
    make_inputs(f, f + 9, f + 18, f + 27, n, 31);
    double *lv = tu_double(f + 9, n), *eps = tu_double(f + 18, n), *dz = tu_double(f + 27, n);
    double gmu[9] = {0}, glv[9] = {0};
    clvae_reparam_backward_ref(gmu, glv, dz, eps, lv, n);
    clvae_buf_t blv = tu_upload(ctx, f + 9, n), beps = tu_upload(ctx, f + 18, n);
    clvae_buf_t bdz = tu_upload(ctx, f + 27, n), g1 = tu_zeros(ctx, n), g2 = tu_zeros(ctx, n);
    clvae_buf_t none = {0};
    clvae_error_t err = {0};
    CHECK(clvae_reparam_backward(ctx, none, g1, bdz, beps, blv, n, &err) == CLVAE_OK, "%s",
          err.msg);
    CHECK(clvae_reparam_backward(ctx, g2, none, bdz, beps, blv, n, &err) == CLVAE_OK, "%s",
          err.msg);
    CHECK(clvae_reparam_backward(ctx, none, none, bdz, beps, blv, n, &err) == CLVAE_OK, "%s",
          err.msg);
    float *h1 = tu_download(ctx, g1, n), *h2 = tu_download(ctx, g2, n);
    float *hdz = tu_download(ctx, bdz, n);
    CHECK(tu_close("dlogvar alone", h1, glv, n, 1e-6, 1e-5, NULL), "dlogvar alone");
    CHECK(tu_close("dmu alone", h2, gmu, n, 1e-6, 1e-5, NULL), "dmu alone");
    CHECK(hdz && memcmp(hdz, f + 27, n * sizeof *hdz) == 0, "dz (the stand-in) was written");
    free(h1);
    free(h2);
    free(hdz);
    free(lv);
    free(eps);
    free(dz);
    clvae_buf_free(&blv);
    clvae_buf_free(&beps);
    clvae_buf_free(&bdz);
    clvae_buf_free(&g1);
    clvae_buf_free(&g2);
}

static void t_invalid_arguments(void)
{
    clvae_buf_t b = tu_zeros(ctx, 16), e = tu_zeros(ctx, 16), none = {0};
    clvae_buf_t far = clvae_buf_at(b, (size_t)UINT32_MAX - 8);
    clvae_error_t err = {0};
    const clvae_status_t INV = CLVAE_ERR_INVALID;
    CHECK(clvae_reparam_forward(ctx, b, e, b, b, 0, 1, 0, &err) == INV, "n=0 accepted");
    CHECK(clvae_reparam_forward(ctx, none, e, b, b, 16, 1, 0, &err) == INV, "NULL z accepted");
    CHECK(clvae_reparam_forward(ctx, b, none, b, b, 16, 1, 0, &err) == INV, "NULL eps");
    CHECK(clvae_reparam_forward(ctx, b, e, none, b, 16, 1, 0, &err) == INV, "NULL mu");
    CHECK(clvae_reparam_forward(ctx, b, e, b, none, 16, 1, 0, &err) == INV, "NULL logvar");
    CHECK(clvae_reparam_forward(ctx, far, e, b, b, 16, 1, 0, &err) == INV, "far z accepted");
    CHECK(strstr(err.msg, "2^32") != NULL, "message: %s", err.msg);
    CHECK(clvae_reparam_apply(ctx, b, e, b, b, 0, &err) == INV, "apply n=0");
    CHECK(clvae_reparam_apply(ctx, b, none, b, b, 16, &err) == INV, "apply NULL eps");
    CHECK(clvae_reparam_apply(ctx, b, e, far, b, 16, &err) == INV, "apply far mu");
    CHECK(clvae_reparam_backward(ctx, b, b, b, b, b, 0, &err) == INV, "backward n=0");
    CHECK(clvae_reparam_backward(ctx, b, b, none, b, b, 16, &err) == INV, "NULL dz");
    CHECK(clvae_reparam_backward(ctx, b, b, b, none, b, 16, &err) == INV, "NULL eps");
    CHECK(clvae_reparam_backward(ctx, b, b, b, b, none, 16, &err) == INV, "NULL logvar");
    CHECK(clvae_reparam_backward(ctx, far, b, b, b, b, 16, &err) == INV, "far dmu");
    CHECK(clvae_reparam_backward(ctx, b, far, b, b, b, 16, &err) == INV, "far dlogvar");
    /* a rejected forward draws no noise: eps and z keep their zeros */
    float *he = tu_download(ctx, e, 16), *hb = tu_download(ctx, b, 16);
    int clean = he && hb;
    for (int i = 0; clean && i < 16; i++) clean = he[i] == 0.0f && hb[i] == 0.0f;
    CHECK(clean, "a rejected call wrote");
    free(he);
    free(hb);
    clvae_buf_free(&b);
    clvae_buf_free(&e);
}

int main(void)
{
    ctx = tu_ctx();
    if (!ctx) return 1;
    RUN(t_apply_and_backward_vs_reference);
    RUN(t_forward_noise_is_the_philox_twin);
    RUN(t_determinism_and_offsets);
    RUN(t_reference_gradients_by_differences);
    RUN(t_device_gradients_by_differences);
    RUN(t_skipped_gradients);
    RUN(t_invalid_arguments);
    tu_print_errors();
    clvae_ctx_free(ctx);
    return TEST_EXIT();
}
