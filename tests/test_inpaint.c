/* Inpainting by the latent (clvae_objective_fit_latents): the step follows the gradient of
 * -log p(x_known | z) - log p(z) that central differences of the decoded loss give, the missing
 * values do not matter, the loss falls; and the backward that stops at z (clvae_net_backward_to)
 * refuses what it cannot do. Untrained weights (seeded): the maths, not the quality. */
#define TEST_FILE "test_inpaint"
#include "test.h"
#include "testutil.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "clvae/net/config.h"
#include "clvae/net/net.h"
#include "clvae/train/objective.h"

static clvae_ctx_t *ctx;

/* A dense VAE and a conv VAE (conv down, deconv up) on 8x8 images; BCE on a sigmoid. */
#define DENSE_VAE                                                                               \
    "[model]\nname = dense\nkind = vae\n[input]\nchannels = 1\nheight = 8\nwidth = 8\n"         \
    "[flatten]\n[dense]\nunits = 16\nactivation = relu\n[latent]\nsize = 3\n[dense]\n"          \
    "units = 16\nactivation = leaky_relu\nslope = 0.2\n[dense]\nunits = 64\n"                  \
    "activation = sigmoid\n"
#define CONV_VAE                                                                                \
    "[model]\nname = conv\nkind = vae\n[input]\nchannels = 1\nheight = 8\nwidth = 8\n"          \
    "[conv]\nfilters = 4\nsize = 3\nstride = 2\npadding = same\nactivation = leaky_relu\n"     \
    "slope = 0.3\n[flatten]\n[latent]\nsize = 2\n[dense]\nunits = 64\n[reshape]\n"             \
    "channels = 4\nheight = 4\nwidth = 4\n[deconv]\nfilters = 1\nsize = 3\nstride = 2\n"       \
    "padding = same\nactivation = sigmoid\n"
/* a plain AE: no prior on z to fit against */
#define PLAIN_AE                                                                                \
    "[model]\nname = plain\nkind = ae\n[input]\nchannels = 1\nheight = 8\nwidth = 8\n"          \
    "[flatten]\n[latent]\nsize = 2\n[dense]\nunits = 64\nactivation = sigmoid\n"

enum { B = 3, D = 64 };

typedef struct model {
    clvae_model_desc_t d;
    clvae_objective_t *m;
} model_t;

static int model_open(model_t *o, const char *text)
{
    clvae_error_t err = {0};
    clvae_cfg_t cfg;
    memset(o, 0, sizeof *o);
    int ok = clvae_cfg_parse(&cfg, text, strlen(text), "t.cfg", &err) == CLVAE_OK &&
             clvae_model_resolve(&o->d, &cfg, &err) == CLVAE_OK &&
             clvae_objective_init(&o->m, ctx, &o->d, B, &err) == CLVAE_OK &&
             clvae_objective_init_params(o->m, 7, &err) == CLVAE_OK;
    clvae_cfg_free(&cfg);
    if (!ok) fprintf(stderr, "  model: %s\n", err.msg);
    clvae_error_clear(&err);
    return ok;
}

static void model_close(model_t *o)
{
    clvae_objective_free(o->m);
    clvae_model_desc_free(&o->d);
}

/* The fit's objective in double from the decoded images: mean over the examples of the BCE on
 * the known values plus |z|^2 / 2. */
static double loss_of(model_t *o, const float *z, const float *x, const float *known, size_t J)
{
    clvae_error_t err = {0};
    float out[B * D];
    if (clvae_objective_decode(o->m, z, B, out, &err) != CLVAE_OK) {
        fprintf(stderr, "  decode: %s\n", err.msg);
        clvae_error_clear(&err);
        return NAN;
    }
    double L = 0;
    for (size_t i = 0; i < (size_t)B * D; i++) {
        if (!known[i]) continue;
        double p = fmin(fmax(out[i], 1e-12), 1 - 1e-12);
        L -= x[i] * log(p) + (1 - x[i]) * log(1 - p);
    }
    for (size_t i = 0; i < B * J; i++) L += 0.5 * (double)z[i] * z[i];
    return L / B;
}

/* The images: a smooth blob per example in [0, 1]; the bottom half missing. */
static void images(float *x, float *known)
{
    for (int b = 0; b < B; b++)
        for (int i = 0; i < D; i++) {
            int y = i / 8, c = i % 8;
            x[b * D + i] = (float)(0.5 + 0.45 * sin(0.7 * y + 0.9 * c + b));
            known[b * D + i] = y < 4 ? 1.0f : 0.0f;
        }
}

/* One Adam step moves each z by -lr sign(g) (its first step: m/sqrt(v) = g/|g|): the signs of
 * the central-difference gradient of the double loss, wherever that gradient is clearly not 0. */
static void step_follows_gradient(const char *text)
{
    model_t o;
    REQUIRE(model_open(&o, text), "model");
    clvae_error_t err = {0};
    size_t J = clvae_objective_latent_dim(o.m);
    float x[B * D], known[B * D], z0[B * 4] = {0}, z[B * 4], zp[B * 4];
    images(x, known);
    for (size_t i = 0; i < B * J; i++) z0[i] = (float)(0.3 * sin(1.7 * (double)i + 0.4));
    const float lr = 1e-3f;
    memcpy(z, z0, sizeof z);
    REQUIRE(clvae_objective_fit_latents(o.m, B, x, known, z, 1, lr, NULL, &err) == CLVAE_OK,
            "%s", err.msg);
    int checked = 0, wrong = 0;
    for (size_t i = 0; i < B * J; i++) {
        const float h = 1e-2f;
        memcpy(zp, z0, sizeof zp);
        zp[i] = z0[i] + h;
        double lp = loss_of(&o, zp, x, known, J);
        zp[i] = z0[i] - h;
        double lm = loss_of(&o, zp, x, known, J);
        double g = (lp - lm) / (2.0 * h), moved = (double)z[i] - z0[i];
        if (fabs(g) < 1e-3) continue;
        checked++;
        if (!(fabs(moved + lr * (g > 0 ? 1 : -1)) < 0.1 * lr)) {
            wrong++;
            fprintf(stderr, "  %s: z[%zu] moved %.3g, gradient %.4g\n", o.d.name, i, moved, g);
        }
    }
    CHECK(checked >= (int)(B * J) / 2 && wrong == 0, "%s: %d of %d steps against the gradient",
          o.d.name, wrong, checked);
    model_close(&o);
    clvae_error_clear(&err);
}

static void t_dense_step_follows_gradient(void) { step_follows_gradient(DENSE_VAE); }
static void t_conv_step_follows_gradient(void) { step_follows_gradient(CONV_VAE); }

/* 200 steps lower the loss; the missing values of x change nothing (bit for bit); the decoded
 * images are those of the returned z. */
static void t_fit_lowers_loss_and_ignores_missing(void)
{
    model_t o;
    REQUIRE(model_open(&o, CONV_VAE), "model");
    clvae_error_t err = {0};
    size_t J = clvae_objective_latent_dim(o.m);
    float x[B * D], x2[B * D], known[B * D], z[B * 4], z2[B * 4], out[B * D], out2[B * D];
    images(x, known);
    memcpy(x2, x, sizeof x2);
    for (int i = 0; i < B * D; i++)
        if (!known[i]) x2[i] = 1.0f - x[i];
    memset(z, 0, sizeof z);
    double before = loss_of(&o, z, x, known, J);
    REQUIRE(clvae_objective_fit_latents(o.m, B, x, known, z, 200, 0.05f, out, &err) == CLVAE_OK,
            "%s", err.msg);
    double after = loss_of(&o, z, x, known, J);
    CHECK(after < before - 1e-3, "loss %.6f before, %.6f after 200 steps", before, after);
    memset(z2, 0, sizeof z2);
    REQUIRE(clvae_objective_fit_latents(o.m, B, x2, known, z2, 200, 0.05f, out2, &err) == CLVAE_OK,
            "%s", err.msg);
    CHECK(memcmp(z, z2, B * J * sizeof *z) == 0, "the missing values moved z");
    float dec[B * D];
    REQUIRE(clvae_objective_decode(o.m, z, B, dec, &err) == CLVAE_OK, "%s", err.msg);
    CHECK(memcmp(dec, out, sizeof dec) == 0, "out is not the decoding of z");
    model_close(&o);
    clvae_error_clear(&err);
}

/* Refusals: a plain AE (no prior), a bad batch or rate; backward_to at the input, the output,
 * or past a skip connection. */
static void t_refusals(void)
{
    model_t o;
    REQUIRE(model_open(&o, PLAIN_AE), "model");
    clvae_error_t err = {0};
    float x[B * D], known[B * D], z[B * 4];
    images(x, known);
    memset(z, 0, sizeof z);
    CHECK(clvae_objective_fit_latents(o.m, B, x, known, z, 5, 0.1f, NULL, &err) ==
                  CLVAE_ERR_INVALID && strstr(err.msg, "wants a VAE"),
          "plain AE: %s", err.msg);
    model_close(&o);
    REQUIRE(model_open(&o, DENSE_VAE), "model");
    clvae_error_clear(&err);
    CHECK(clvae_objective_fit_latents(o.m, B + 1, x, known, z, 5, 0.1f, NULL, &err) ==
              CLVAE_ERR_INVALID, "batch over the model's: %s", err.msg);
    clvae_error_clear(&err);
    CHECK(clvae_objective_fit_latents(o.m, B, x, known, z, 5, 0.0f, NULL, &err) ==
              CLVAE_ERR_INVALID, "rate 0: %s", err.msg);
    clvae_net_t *net = NULL;
    REQUIRE(clvae_net_init(&net, ctx, &o.d, B, 0, &err) == CLVAE_OK, "%s", err.msg);
    clvae_error_clear(&err);
    CHECK(clvae_net_backward_to(net, 0, 0, &err) == CLVAE_ERR_INVALID, "to the input");
    clvae_error_clear(&err);
    CHECK(clvae_net_backward_to(net, 0, o.d.nlayers - 1, &err) == CLVAE_ERR_INVALID, "to the output");
    clvae_net_free(net);
    model_close(&o);
    clvae_error_clear(&err);
}

int main(void)
{
    ctx = tu_ctx();
    if (!ctx) return 1;
    RUN(t_dense_step_follows_gradient);
    RUN(t_conv_step_follows_gradient);
    RUN(t_fit_lowers_loss_and_ignores_missing);
    RUN(t_refusals);
    clvae_ctx_free(ctx);
    return TEST_EXIT();
}
