/* The diffusion model: its schedule against closed forms, x_t and the sampling steps against the
 * double references, its config checks, the loss's gradient through a tiny U-Net, the sampler. */
#include <math.h>
#include <stdint.h>

#include "clvae/net/config.h"
#include "clvae/net/net.h"
#include "clvae/ops/diffusion.h"
#include "clvae/ops/rng.h"
#include "clvae/train/objective.h"
#include "ref/ref.h"
#include "testutil.h"

#define TEST_FILE "test_ddpm"
#include "test.h"

static clvae_ctx_t *ctx;

/* A tiny time-conditioned U-Net for 1x4x4 images: a block with the time embedding added, a
 * stride-2 conv, upsampling, a skip by concat, the noise out; T = 20. */
#define TINY_DDPM                                                                              \
    "[model]\nkind = ddpm\n[diffusion]\nsteps = 20\n"                                          \
    "[input]\nname = x\nchannels = 1\nheight = 4\nwidth = 4\n"                                 \
    "[time_embed]\ndim = 4\n[dense]\nunits = 6\nactivation = silu\n"                          \
    "[dense]\nname = temb\nunits = 4\n"                                                         \
    "[conv]\nname = c1\nfrom = x\nfilters = 4\nsize = 3\n[add]\nfrom = c1, temb\n"          \
    "[groupnorm]\nname = h1\ngroups = 2\nactivation = silu\n"                                 \
    "[conv]\nfilters = 2\nsize = 3\nstride = 2\npadding = same\n[upsample]\nname = u\n"     \
    "[concat]\nfrom = u, h1\n[groupnorm]\ngroups = 3\nactivation = silu\n"                    \
    "[conv]\nfilters = 1\nsize = 3\n"

static int resolve(const char *text, clvae_cfg_t *cfg, clvae_model_desc_t *d, clvae_error_t *err)
{
    if (clvae_cfg_parse(cfg, text, strlen(text), "tiny.cfg", err)) return 0;
    if (clvae_model_resolve(d, cfg, err)) {
        clvae_cfg_free(cfg);
        return 0;
    }
    return 1;
}

/* The schedule against its definition (tests/ref) and the closed forms: alpha = 1 - beta, abar
 * = exp(sum log alpha), the posterior variance; cosine: abar_t = f(t + 1) / f(0) while no beta
 * is clipped, every beta <= 0.999 and the last one clipped. */
static void t_schedule_closed_forms(void)
{
    clvae_error_t err = {0};
    size_t T = 1000;
    double *ref = malloc(T * sizeof *ref);
    REQUIRE(ref, "memory");
    for (int cosine = 0; cosine < 2; cosine++) {
        clvae_schedule_t s;
        REQUIRE(clvae_schedule_init(&s, cosine ? CLVAE_SCHEDULE_COSINE : CLVAE_SCHEDULE_LINEAR,
                                    T, 1e-4, 0.02, &err) == CLVAE_OK, "%s", err.msg);
        clvae_schedule_beta_ref(ref, cosine, T, 1e-4, 0.02);
        double worst = 0, logsum = 0;
        int clipped = -1;
        for (size_t t = 0; t < T; t++) {
            logsum += log(1.0 - ref[t]);
            double prev = t ? exp(logsum - log(1.0 - ref[t])) : 1.0;
            double pv = ref[t] * (1.0 - prev) / (1.0 - exp(logsum));
            double e = fabs(s.beta[t] - ref[t]) / ref[t];
            e = fmax(e, fabs(s.alpha[t] - (1.0 - ref[t])));
            e = fmax(e, fabs(s.abar[t] - exp(logsum)) / exp(logsum));
            e = fmax(e, t ? fabs(s.post_var[t] - pv) / pv : fabs(s.post_var[t]));
            if (cosine && ref[t] >= 0.999 && clipped < 0) clipped = (int)t;
            if (cosine && clipped < 0) {
                const double f0 = pow(cos(0.008 / 1.008 * 3.14159265358979323846 / 2), 2);
                double f = pow(cos(((double)(t + 1) / (double)T + 0.008) / 1.008 * 3.14159265358979323846 / 2), 2);
                e = fmax(e, fabs(s.abar[t] - f / f0) / (f / f0));
            }
            if (e > worst) worst = e;
            CHECK(s.beta[t] > 0 && s.beta[t] <= 0.999, "beta_%zu = %g", t, s.beta[t]);
        }
        CHECK(worst < 1e-9, "%s schedule: worst relative error %g", cosine ? "cosine" : "linear",
              worst);
        if (!cosine)
            CHECK(s.beta[0] == 1e-4 && fabs(s.beta[T - 1] - 0.02) < 1e-15 && s.post_var[0] == 0,
                  "linear ends %g %g, posterior variance at 0 %g", s.beta[0], s.beta[T - 1],
                  s.post_var[0]);
        else
            CHECK(clipped == (int)T - 1 && s.beta[T - 1] == 0.999,
                  "cosine: first clipped beta at %d, the last %g", clipped, s.beta[T - 1]);
        clvae_schedule_free(&s);
    }
    free(ref);
    /* refused: T < 2, a beta of 1 or 0 */
    clvae_schedule_t s;
    CHECK(clvae_schedule_init(&s, CLVAE_SCHEDULE_LINEAR, 1, 1e-4, 0.02, &err) != CLVAE_OK,
          "T = 1 accepted");
    clvae_error_clear(&err);
    CHECK(clvae_schedule_init(&s, CLVAE_SCHEDULE_LINEAR, 10, 1e-4, 1.0, &err) != CLVAE_OK &&
              strstr(err.msg, "beta_9 = 1"), "beta_end = 1: %s", err.msg);
    clvae_error_clear(&err);
    CHECK(clvae_schedule_init(&s, CLVAE_SCHEDULE_LINEAR, 10, 0.0, 0.02, &err) != CLVAE_OK &&
              strstr(err.msg, "beta_0 = 0"), "beta_start = 0: %s", err.msg);
    clvae_error_clear(&err);
}

/* The config: kind = ddpm resolves with its defaults; what is wrong names file:line. */
static void t_config(void)
{
    clvae_cfg_t cfg;
    clvae_model_desc_t d;
    clvae_error_t err = {0};
    REQUIRE(resolve(TINY_DDPM, &cfg, &d, &err), "%s", err.msg);
    CHECK(d.ddpm && d.diff_steps == 20 && d.diff_schedule == CLVAE_SCHEDULE_LINEAR &&
              d.recon == CLVAE_RECON_MSE_MEAN && d.latent == d.nlayers &&
              strcmp(clvae_model_kind(&d), "ddpm") == 0 &&
              strcmp(clvae_objective_kind_name(&d), "ddpm") == 0 &&
              clvae_objective_can(&d) == CLVAE_CAN_SAMPLE,
          "ddpm %d T %zu recon %d latent %d", d.ddpm, d.diff_steps, (int)d.recon, d.latent);
    const char *const *cols;
    CHECK(clvae_objective_columns(&d, &cols) == 2 && strcmp(cols[0], "loss") == 0 &&
              strcmp(cols[1], "mse") == 0, "columns");
    clvae_model_desc_free(&d);
    clvae_cfg_free(&cfg);
    static const struct {
        const char *set, *want;
    } bad[] = {
        {"diffusion.steps=1", "tiny.cfg: --set diffusion.steps=1: must be an integer from 2"},
        {"diffusion.beta_end=1", "tiny.cfg:3: [diffusion]: beta_19 = 1 is outside (0, 1)"},
        {"diffusion.beta_start=0", "tiny.cfg:3: [diffusion]: beta_0 = 0 is outside (0, 1)"},
        {"diffusion.beta_end=1.5", "must be a number from 0 to 1"},
        {"diffusion.schedule=quadratic", "must be one of linear, cosine"},
        {"diffusion.uncond=0.2", "needs [model] conditional = K"},
        {"model.kind=vae", "tiny.cfg:3: [diffusion] belongs to a diffusion model"},
        {"conv#3.activation=sigmoid", "must end with a layer of the input's shape"},
        {"conv#3.filters=2", "must end with a layer of the input's shape 1x4x4"},
        {"diffusion.tmax=3", "unknown key"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        REQUIRE(clvae_cfg_parse(&cfg, TINY_DDPM, strlen(TINY_DDPM), "tiny.cfg", &err) ==
                    CLVAE_OK, "%s", err.msg);
        clvae_status_t s = clvae_cfg_set(&cfg, bad[i].set, &err);
        if (!s) s = clvae_model_resolve(&d, &cfg, &err);
        CHECK(s == CLVAE_ERR_INVALID && strstr(err.msg, bad[i].want), "%s: got '%s'",
              bad[i].set, s ? err.msg : "accepted");
        if (!s) clvae_model_desc_free(&d);
        clvae_error_clear(&err);
        clvae_cfg_free(&cfg);
    }
    /* text edits: no [time_embed]; bce; cosine with beta_start; a [latent] */
    static const struct {
        const char *text, *want;
    } texts[] = {
        {"[model]\nkind = ddpm\n[input]\nchannels = 1\nheight = 4\nwidth = 4\n[conv]\n"
         "filters = 1\nsize = 3\n", "tiny.cfg: kind = ddpm needs a [time_embed]"},
        {TINY_DDPM "[loss]\nreconstruction = bce\n", "tiny.cfg:45: [loss] reconstruction = bce"},
        {TINY_DDPM "[loss]\nreconstruction = mse_sum\n", NULL},
        {"[model]\nkind = ddpm\n[diffusion]\nschedule = cosine\nbeta_start = 0.001\n",
         "tiny.cfg:5: [diffusion] beta_start = 0.001: only schedule = linear reads it"},
        {TINY_DDPM "[flatten]\n[latent]\nsize = 4\n[dense]\nunits = 16\n[reshape]\nchannels = 1\nheight = 4\nwidth = 4\n",
         "kind = ddpm has no [latent]"},
    };
    for (size_t i = 0; i < sizeof texts / sizeof *texts; i++) {
        int ok = resolve(texts[i].text, &cfg, &d, &err);
        if (!texts[i].want) {
            CHECK(ok && d.recon == CLVAE_RECON_MSE_SUM, "case %zu: %s", i, err.msg);
        } else {
            CHECK(!ok && strstr(err.msg, texts[i].want), "case %zu: got '%s'", i,
                  ok ? "accepted" : err.msg);
        }
        if (ok) {
            clvae_model_desc_free(&d);
            clvae_cfg_free(&cfg);
        }
        clvae_error_clear(&err);
    }
}

/* x_t on the device against the double reference for fixed x_0 and noise; the steps t drawn
 * from the uniform stream as the host computes them, and written to times. */
static void t_noisy_against_ref(void)
{
    enum { B = 9, D = 13, T = 37 };
    clvae_error_t err = {0};
    clvae_schedule_t s;
    REQUIRE(clvae_schedule_init(&s, CLVAE_SCHEDULE_COSINE, T, 0, 0, &err) == CLVAE_OK, "%s",
            err.msg);
    float x0[B * D], eps[B * D], coef[2 * T], u[B];
    uint64_t st = 3;
    tu_rand(x0, B * D, -1.0f, 1.0f, &st);
    tu_rand(eps, B * D, -3.0f, 3.0f, &st);
    clvae_diffusion_coef(&s, coef);
    clvae_buf_t bx = tu_upload(ctx, x0, B * D), be = tu_upload(ctx, eps, B * D);
    clvae_buf_t bc = tu_upload(ctx, coef, 2 * T), bt = tu_zeros(ctx, B), bo = tu_zeros(ctx, B * D);
    REQUIRE(clvae_diffusion_noisy(ctx, bo, bt, bx, be, bc, B, D, T, 77, 5, &err) == CLVAE_OK,
            "%s", err.msg);
    float *got = tu_download(ctx, bo, B * D), *times = tu_download(ctx, bt, B);
    REQUIRE(got && times, "download (or a guard overwritten)");
    clvae_rng_uniform_host(u, B, 77, 5);
    long t[B];
    double want_t[B], *want = malloc(B * D * sizeof *want);
    double *dx = tu_double(x0, B * D), *de = tu_double(eps, B * D);
    int spread = 0;
    for (int b = 0; b < B; b++) {
        t[b] = (long)(((uint64_t)((double)u[b] * 16777216.0) * T) >> 24);
        want_t[b] = (double)t[b];
        spread |= t[b] != t[0];
        CHECK(t[b] >= 0 && t[b] < T && t[b] == (long)floor((double)u[b] * T), "t %ld", t[b]);
    }
    CHECK(spread, "every example drew the same step");
    clvae_diffusion_noisy_ref(want, dx, de, t, s.abar, B, D);
    double worst = 0;
    CHECK(tu_close("times", times, want_t, B, 0, 0, NULL), "steps differ");
    CHECK(tu_close("x_t", got, want, B * D, 1e-6, 1e-6, &worst), "x_t differs");
    tu_note_error("diffusion_noisy", worst);
    /* a bad table size is refused */
    CHECK(clvae_diffusion_noisy(ctx, bo, bt, bx, be, bc, B, D, T + 5, 77, 5, &err) ==
              CLVAE_ERR_INVALID, "a short coef table accepted");
    clvae_error_clear(&err);
    free(got);
    free(times);
    free(want);
    free(dx);
    free(de);
    clvae_buf_free(&bx);
    clvae_buf_free(&be);
    clvae_buf_free(&bc);
    clvae_buf_free(&bt);
    clvae_buf_free(&bo);
    clvae_schedule_free(&s);
}

/* Classifier-free guidance's kernels: label dropout against the uniforms of the host twin of
 * the stream (about p of the labels become K, the rest stay), and the mix eps_u + g (eps_c -
 * eps_u) against double. */
static void t_guidance_kernels(void)
{
    enum { B = 400, K = 10, N = 37 };
    clvae_error_t err = {0};
    float lab[B], u[B];
    for (int b = 0; b < B; b++) lab[b] = (float)(b % K);
    clvae_buf_t bl = tu_upload(ctx, lab, B);
    REQUIRE(clvae_diffusion_drop_labels(ctx, bl, B, K, 0.25f, 5, 9, &err) == CLVAE_OK, "%s",
            err.msg);
    float *got = tu_download(ctx, bl, B);
    REQUIRE(got, "download (or a guard overwritten)");
    clvae_rng_uniform_host(u, B, 5, 9);
    int dropped = 0, ok = 1;
    for (int b = 0; b < B; b++) {
        float want = u[b] < 0.25f ? (float)K : lab[b];
        ok &= got[b] == want;
        dropped += got[b] == (float)K;
    }
    CHECK(ok, "dropped labels differ from the host's uniforms");
    CHECK(dropped > 70 && dropped < 130, "%d of %d dropped at p = 0.25", dropped, B);
    float e[N], c[N];
    uint64_t st = 4;
    tu_rand(e, N, -2.0f, 2.0f, &st);
    tu_rand(c, N, -2.0f, 2.0f, &st);
    clvae_buf_t be = tu_upload(ctx, e, N), bc = tu_upload(ctx, c, N);
    REQUIRE(clvae_diffusion_guide(ctx, be, bc, N, 2.5f, &err) == CLVAE_OK, "%s", err.msg);
    float *g = tu_download(ctx, be, N);
    double want[N];
    for (int i = 0; i < N; i++) want[i] = (double)e[i] + 2.5 * ((double)c[i] - (double)e[i]);
    CHECK(g && tu_close("guide", g, want, N, 1e-6, 1e-6, NULL), "the guided eps differs");
    CHECK(clvae_diffusion_drop_labels(ctx, bl, B, K, 1.5f, 5, 9, &err) == CLVAE_ERR_INVALID,
          "p 1.5 accepted");
    clvae_error_clear(&err);
    free(got), free(g);
    clvae_buf_free(&bl), clvae_buf_free(&be), clvae_buf_free(&bc);
}

/* The step kernel with the coefficients of clvae_schedule_step against the double references,
 * with the noise z of the same stream from the host twin; clip 1 also checks that values were
 * clipped (x in [-2, 2] makes x0 reach past [-1, 1]). */
static void step_case(const clvae_schedule_t *s, long t, long tp, double eta, int ancestral,
                      float clip, const char *what)
{
    enum { N = 23 };
    clvae_error_t err = {0};
    float x[N], eps[N], z[N];
    uint64_t st = 11 + (uint64_t)t;
    tu_rand(x, N, -2.0f, 2.0f, &st);
    tu_rand(eps, N, -2.0f, 2.0f, &st);
    clvae_rng_normal_host(z, N, 99, 4);
    clvae_step_coef_t c;
    clvae_schedule_step(s, t, tp, eta, ancestral, &c);
    clvae_buf_t bx = tu_upload(ctx, x, N), be = tu_upload(ctx, eps, N);
    REQUIRE(clvae_diffusion_step(ctx, bx, be, N, &c, clip, 99, 4, &err) == CLVAE_OK, "%s",
            err.msg);
    float *got = tu_download(ctx, bx, N);
    double *dx = tu_double(x, N), *de = tu_double(eps, N), *dz = tu_double(z, N), want[N];
    double prev = tp >= 0 ? s->abar[tp] : 1.0;
    if (ancestral)
        clvae_ddpm_step_ref(want, dx, de, dz, s->beta[t], s->abar[t], prev,
                            t ? s->beta[t] : 0.0, clip, N);
    else
        clvae_ddim_step_ref(want, dx, de, dz, s->abar[t], prev, eta, clip, N);
    double worst = 0;
    CHECK(got && tu_close(what, got, want, N, 1e-5, 1e-5, &worst), "%s", what);
    tu_note_error("diffusion_step", worst);
    if (clip > 0.0f) {
        int clipped = 0;
        for (int i = 0; i < N; i++)
            clipped += fabs((dx[i] - sqrt(1.0 - s->abar[t]) * de[i]) / sqrt(s->abar[t])) > clip;
        CHECK(clipped >= 3 && clipped < N, "%s: %d of %d values clipped (want some, not all)",
              what, clipped, N);
    }
    free(got);
    free(dx);
    free(de);
    free(dz);
    clvae_buf_free(&bx);
    clvae_buf_free(&be);
}

static void t_steps_against_ref(void)
{
    clvae_error_t err = {0};
    clvae_schedule_t s;
    REQUIRE(clvae_schedule_init(&s, CLVAE_SCHEDULE_LINEAR, 100, 1e-4, 0.02, &err) == CLVAE_OK,
            "%s", err.msg);
    for (int clip = 0; clip < 2; clip++) {
        float c = (float)clip;
        step_case(&s, 60, 59, 0.0, 1, c, clip ? "DDPM step t = 60, clipped" : "DDPM step t = 60");
        step_case(&s, 0, -1, 0.0, 1, 0.0f, "DDPM last step (no noise)");
        step_case(&s, 60, 40, 0.0, 0, c, clip ? "DDIM 60 -> 40, eta 0, clipped" : "DDIM 60 -> 40");
        step_case(&s, 60, 40, 0.7, 0, c, clip ? "DDIM 60 -> 40, eta 0.7, clipped"
                                              : "DDIM 60 -> 40, eta 0.7");
        step_case(&s, 9, -1, 1.0, 0, 0.0f, "DDIM last step 9 -> x_0, eta 1");
    }
    /* the last step with clipping gives the clipped x0 itself */
    enum { N = 8 };
    float x[N] = {-3, -1, -0.5f, 0, 0.25f, 0.9f, 1.5f, 4}, e[N] = {0};
    clvae_step_coef_t c;
    clvae_schedule_step(&s, 0, -1, 0.0, 1, &c);
    clvae_buf_t bx = tu_upload(ctx, x, N), be = tu_upload(ctx, e, N);
    REQUIRE(clvae_diffusion_step(ctx, bx, be, N, &c, 1.0f, 1, 0, &err) == CLVAE_OK, "%s",
            err.msg);
    float *got = tu_download(ctx, bx, N);
    int in = got != NULL;
    for (int i = 0; in && i < N; i++) in &= got[i] >= -1.0f && got[i] <= 1.0f;
    CHECK(in && got[0] == -1.0f && got[7] == 1.0f, "the clipped last step leaves [-1, 1]");
    c.sigma = -1.0;
    CHECK(clvae_diffusion_step(ctx, bx, be, N, &c, 1.0f, 1, 0, &err) == CLVAE_ERR_INVALID,
          "sigma -1 accepted");
    clvae_error_clear(&err);
    free(got);
    clvae_buf_free(&bx);
    clvae_buf_free(&be);
    clvae_schedule_free(&s);
    CHECK(clvae_schedule_tau(1000, 10, 0) == 99 && clvae_schedule_tau(1000, 10, 9) == 999 &&
              clvae_schedule_tau(7, 7, 3) == 3 && clvae_schedule_tau(10, 3, 0) == 2,
          "evenly spaced steps");
}

/* DDIM over S = T steps with eta = 1 is ancestral DDPM with sigma_t^2 = the posterior variance:
 * the same mean (the references' steps without noise) and the same variance, at every t of
 * both schedules. */
static void t_ddim_eta1_is_ddpm(void)
{
    enum { N = 16 };
    clvae_error_t err = {0};
    float x[N], eps[N];
    uint64_t st = 5;
    tu_rand(x, N, -2.0f, 2.0f, &st);
    tu_rand(eps, N, -2.0f, 2.0f, &st);
    double *dx = tu_double(x, N), *de = tu_double(eps, N), zero[N] = {0}, m1[N], m2[N];
    for (int cosine = 0; cosine < 2; cosine++) {
        clvae_schedule_t s;
        size_t T = 1000;
        REQUIRE(clvae_schedule_init(&s, cosine ? CLVAE_SCHEDULE_COSINE : CLVAE_SCHEDULE_LINEAR,
                                    T, 1e-4, 0.02, &err) == CLVAE_OK, "%s", err.msg);
        double worst_mean = 0, worst_var = 0;
        for (size_t i = 0; i < T; i++) {
            long t = clvae_schedule_tau(T, T, i), tp = i ? clvae_schedule_tau(T, T, i - 1) : -1;
            CHECK(t == (long)i && tp == (long)i - 1, "tau");
            clvae_step_coef_t c, ca;
            clvae_schedule_step(&s, t, tp, 1.0, 0, &c);
            clvae_schedule_step(&s, t, tp, 0.0, 1, &ca);
            double prev = t ? s.abar[t - 1] : 1.0;
            clvae_ddim_step_ref(m1, dx, de, zero, s.abar[t], prev, 1.0, 0.0, N);
            clvae_ddpm_step_ref(m2, dx, de, zero, s.beta[t], s.abar[t], prev, 0.0, 0.0, N);
            for (int k = 0; k < N; k++) {
                worst_mean = fmax(worst_mean, fabs(m1[k] - m2[k]) / (1.0 + fabs(m2[k])));
                /* both coefficient sets, unclipped, give the seed's step */
                double x0 = c.c0 * dx[k] - c.c1 * de[k], x0a = ca.c0 * dx[k] - ca.c1 * de[k];
                double mine = c.p * x0 + c.q * dx[k], anc = ca.p * x0a + ca.q * dx[k];
                worst_mean = fmax(worst_mean, fabs(mine - m2[k]) / (1.0 + fabs(m2[k])));
                worst_mean = fmax(worst_mean, fabs(anc - m2[k]) / (1.0 + fabs(m2[k])));
            }
            double pv = s.post_var[t];
            worst_var = fmax(worst_var, fabs(c.sigma * c.sigma - pv) / (pv > 1e-300 ? pv : 1.0));
        }
        CHECK(worst_mean < 1e-9 && worst_var < 1e-9, "%s: mean %g, variance %g",
              cosine ? "cosine" : "linear", worst_mean, worst_var);
        clvae_schedule_free(&s);
    }
    free(dx);
    free(de);
}

/* The loss at fixed x_t, t and eps. */
static double loss_at(clvae_objective_t *m, size_t B, clvae_buf_t eps, clvae_error_t *err)
{
    float l[CLVAE_OBJECTIVE_MAX_COLUMNS];
    if (clvae_objective_forward(m, B, 0, 0, 0, eps, err) || clvae_objective_losses(m, l, err))
        return NAN;
    return l[0];
}

/* The MSE on eps's gradient through the tiny U-Net against central differences, t fixed. */
static void t_gradients(void)
{
    clvae_cfg_t cfg;
    clvae_model_desc_t d;
    clvae_error_t err = {0};
    REQUIRE(resolve(TINY_DDPM, &cfg, &d, &err), "%s", err.msg);
    clvae_objective_t *m = NULL;
    size_t B = 3, D = 16, P = d.nparams;
    REQUIRE(clvae_objective_init(&m, ctx, &d, B, &err) == CLVAE_OK &&
                clvae_objective_init_params(m, 5, &err) == CLVAE_OK, "%s", err.msg);
    float x[48], e[48], t[3] = {2.0f, 9.0f, 19.0f};
    uint64_t st = 21;
    tu_rand(x, B * D, -1.5f, 1.5f, &st);
    tu_rand(e, B * D, -1.5f, 1.5f, &st);
    clvae_buf_t eps;
    REQUIRE(clvae_buf_alloc(ctx, B * D, &eps, &err) == CLVAE_OK &&
                clvae_buf_upload(ctx, eps, e, B * D, &err) == CLVAE_OK &&
                clvae_buf_upload(ctx, clvae_objective_input(m), x, B * D, &err) == CLVAE_OK,
            "%s", err.msg);
    /* t fixed: the network's times buffer filled by hand */
    REQUIRE(clvae_buf_upload(ctx, clvae_objective_times(m), t, B, &err) == CLVAE_OK, "%s",
            err.msg);
    double l0 = loss_at(m, B, eps, &err);
    REQUIRE(isfinite(l0) && clvae_objective_backward(m, &err) == CLVAE_OK, "%s", err.msg);
    float *g = malloc(P * sizeof *g), *p = malloc(P * sizeof *p);
    REQUIRE(g && p, "memory");
    clvae_buf_download(ctx, g, clvae_objective_grads(m), P, &err);
    clvae_buf_download(ctx, p, clvae_objective_params(m), P, &err);
    double dot = 0, nfd = 0, ng = 0, h = 1e-2;
    int bad = 0;
    for (size_t i = 0; i < P; i++) {
        float keep = p[i];
        double l[2];
        for (int side = 0; side < 2; side++) {
            p[i] = keep + (float)(side ? -h : h);
            clvae_buf_upload(ctx, clvae_buf_at(clvae_objective_params(m), i), &p[i], 1, &err);
            l[side] = loss_at(m, B, eps, &err);
        }
        p[i] = keep;
        clvae_buf_upload(ctx, clvae_buf_at(clvae_objective_params(m), i), &p[i], 1, &err);
        double fd = (l[0] - l[1]) / (2 * h);
        dot += fd * g[i];
        nfd += fd * fd;
        ng += (double)g[i] * g[i];
        if (fabs(fd - g[i]) > 2e-4 + 5e-2 * fabs(fd) && bad++ < 5)
            CHECK(0, "param %zu: backward %.6g, central difference %.6g", i, (double)g[i], fd);
    }
    double cosine = dot / sqrt(nfd * ng);
    CHECK(ng > 1e-8, "gradient trivially zero");
    CHECK(cosine > 0.999, "cosine of backward and central differences %.6f", cosine);
    fprintf(stderr, "tiny diffusion U-Net (MSE on eps, t fixed): cosine %.6f over %zu "
            "parameters\n", cosine, P);
    free(g);
    free(p);
    clvae_buf_free(&eps);
    clvae_objective_free(m);
    clvae_model_desc_free(&d);
    clvae_cfg_free(&cfg);
}

/* The sampler: the same seed gives the same images bit for bit (DDIM eta 0 and 1, ancestral);
 * another seed others; values in [0, 1]; bad samplers refused. */
static void t_sampler(void)
{
    clvae_cfg_t cfg;
    clvae_model_desc_t d;
    clvae_error_t err = {0};
    REQUIRE(resolve(TINY_DDPM, &cfg, &d, &err), "%s", err.msg);
    clvae_objective_t *m = NULL;
    enum { N = 5, D = 16 };
    REQUIRE(clvae_objective_init(&m, ctx, &d, 2, &err) == CLVAE_OK &&
                clvae_objective_init_params(m, 5, &err) == CLVAE_OK, "%s", err.msg);
    clvae_ddpm_sampler_t smp[4] = {{5, 0.0f, 0, 1.0f, 1}, {20, 1.0f, 0, 1.0f, 1},
                                   {0, 0.0f, 1, 1.0f, 1}, {5, 0.0f, 0, 1.0f, 0}};
    for (int k = 0; k < 4; k++) {
        float a[N * D], b[N * D], c[N * D];
        REQUIRE(clvae_objective_ddpm_sample(m, N, 7, &smp[k], NULL, a, &err) == CLVAE_OK &&
                    clvae_objective_ddpm_sample(m, N, 7, &smp[k], NULL, b, &err) == CLVAE_OK &&
                    clvae_objective_ddpm_sample(m, N, 8, &smp[k], NULL, c, &err) == CLVAE_OK,
                "%s", err.msg);
        CHECK(memcmp(a, b, sizeof a) == 0, "sampler %d: not deterministic for a seed", k);
        CHECK(memcmp(a, c, sizeof a) != 0, "sampler %d: seeds 7 and 8 gave the same images", k);
        int in = 1, distinct = 0;
        for (int i = 0; i < N * D; i++) {
            in &= a[i] >= 0.0f && a[i] <= 1.0f;
            distinct |= a[i] != a[D + i % D];
        }
        CHECK(in && distinct, "sampler %d: values outside [0, 1] or images all alike", k);
    }
    /* x_0 clipped at each step or not: an untrained network's x_0 reaches past [-1, 1] */
    float a[N * D], b[N * D];
    REQUIRE(clvae_objective_ddpm_sample(m, N, 7, &smp[0], NULL, a, &err) == CLVAE_OK &&
                clvae_objective_ddpm_sample(m, N, 7, &smp[3], NULL, b, &err) == CLVAE_OK,
            "%s", err.msg);
    CHECK(memcmp(a, b, sizeof a) != 0, "clipped and unclipped samplers drew the same images");
    /* the model's sampler: set, used by NULL */
    REQUIRE(clvae_objective_ddpm_set_sampler(m, &smp[0], &err) == CLVAE_OK &&
                clvae_objective_ddpm_sample(m, N, 7, NULL, NULL, a, &err) == CLVAE_OK &&
                clvae_objective_ddpm_sample(m, N, 7, &smp[0], NULL, b, &err) == CLVAE_OK,
            "%s", err.msg);
    CHECK(memcmp(a, b, sizeof a) == 0, "the model's sampler is not the one set");
    clvae_ddpm_sampler_t bad[4] = {{1, 0.0f, 0, 1.0f, 1}, {21, 0.0f, 0, 1.0f, 1},
                                   {5, 1.5f, 0, 1.0f, 1}, {5, 0.0f, 0, 2.0f, 1}};
    for (int k = 0; k < 4; k++) {
        CHECK(clvae_objective_ddpm_set_sampler(m, &bad[k], &err) == CLVAE_ERR_INVALID,
              "bad sampler %d accepted", k);
        clvae_error_clear(&err);
    }
    clvae_objective_free(m);
    clvae_model_desc_free(&d);
    clvae_cfg_free(&cfg);
}

/* Inpainting: the known values come back exactly, the missing values of x change nothing, a
 * mask with nothing known is plain sampling (its own noise streams leave the sampler's alone),
 * and the known values steer the missing ones. */
static void t_inpaint(void)
{
    clvae_cfg_t cfg;
    clvae_model_desc_t d;
    clvae_error_t err = {0};
    REQUIRE(resolve(TINY_DDPM, &cfg, &d, &err), "%s", err.msg);
    clvae_objective_t *m = NULL;
    enum { N = 3, D = 16 };
    REQUIRE(clvae_objective_init(&m, ctx, &d, 2, &err) == CLVAE_OK &&
                clvae_objective_init_params(m, 5, &err) == CLVAE_OK, "%s", err.msg);
    clvae_ddpm_sampler_t smp = {5, 1.0f, 0, 1.0f, 1};
    float x[N * D], x2[N * D], known[N * D], none[N * D], a[N * D], b[N * D], plain[N * D];
    for (int i = 0; i < N * D; i++) {
        x[i] = (float)(i % 7) / 6.0f;
        known[i] = (i % D) < 8 ? 1.0f : 0.0f; /* the top two rows */
        x2[i] = known[i] ? x[i] : 1.0f - x[i];
        none[i] = 0.0f;
    }
    REQUIRE(clvae_objective_ddpm_inpaint(m, N, 9, &smp, NULL, x, known, a, &err) == CLVAE_OK &&
                clvae_objective_ddpm_inpaint(m, N, 9, &smp, NULL, x2, known, b, &err) == CLVAE_OK,
            "%s", err.msg);
    double worst = 0;
    for (int i = 0; i < N * D; i++)
        if (known[i]) worst = fmax(worst, fabs(a[i] - x[i]));
    CHECK(worst < 1e-6, "known values off by %g", worst);
    CHECK(memcmp(a, b, sizeof a) == 0, "the missing values of x changed the result");
    REQUIRE(clvae_objective_ddpm_inpaint(m, N, 9, &smp, NULL, x, none, b, &err) == CLVAE_OK &&
                clvae_objective_ddpm_sample(m, N, 9, &smp, NULL, plain, &err) == CLVAE_OK,
            "%s", err.msg);
    CHECK(memcmp(b, plain, sizeof b) == 0, "nothing known is not plain sampling");
    int differ = 0;
    for (int i = 0; i < N * D; i++) differ += !known[i] && a[i] != plain[i];
    CHECK(differ > N * D / 4, "the known values changed %d missing values only", differ);
    clvae_objective_free(m);
    clvae_model_desc_free(&d);
    clvae_cfg_free(&cfg);
    clvae_error_clear(&err);
}

int main(void)
{
    ctx = tu_ctx();
    if (!ctx) return 1;
    RUN(t_schedule_closed_forms);
    RUN(t_config);
    RUN(t_noisy_against_ref);
    RUN(t_guidance_kernels);
    RUN(t_steps_against_ref);
    RUN(t_ddim_eta1_is_ddpm);
    RUN(t_gradients);
    RUN(t_sampler);
    RUN(t_inpaint);
    tu_print_errors();
    clvae_ctx_free(ctx);
    return TEST_EXIT();
}
