/* The model: whole-network gradients against central differences, and training that learns. */
#define TEST_FILE "test_model"
#include "test.h"
#include "testutil.h"

#include <math.h>

#include "clvae/model.h"

static clvae_ctx_t *ctx;

#define TINY_VAE                                                                               \
    "[model]\nkind = vae\n[loss]\nreconstruction = bce\nbeta = 1\n"                            \
    "[input]\nchannels = 1\nheight = 6\nwidth = 6\n"                                           \
    "[conv]\nfilters = 3\nsize = 3\nstride = 2\npadding = same\nactivation = leaky_relu\n"     \
    "slope = 0.3\n[flatten]\n[latent]\nsize = 2\n[dense]\nunits = 27\nactivation = tanh\n"     \
    "[reshape]\nchannels = 3\nheight = 3\nwidth = 3\n"                                         \
    "[deconv]\nfilters = 1\nsize = 3\nstride = 2\npadding = same\nactivation = sigmoid\n"

#define TINY_AE                                                                                \
    "[model]\nkind = ae\n[loss]\nreconstruction = mse_sum\n"                                   \
    "[input]\nchannels = 1\nheight = 4\nwidth = 4\n[flatten]\n"                                \
    "[dense]\nunits = 5\nactivation = silu\n[latent]\nsize = 3\n"                              \
    "[dense]\nunits = 16\nactivation = sigmoid\n"

static int resolve(const char *text, clvae_cfg_t *cfg, clvae_model_desc_t *d)
{
    clvae_error_t err = {0};
    if (clvae_cfg_parse(cfg, text, strlen(text), "tiny.cfg", &err) ||
        clvae_model_resolve(d, cfg, &err)) {
        fprintf(stderr, "  %s\n", err.msg);
        return 0;
    }
    return 1;
}

/* Loss of the model on its current input with fixed noise. */
static double loss_now(clvae_model_t *m, size_t B, clvae_error_t *err)
{
    clvae_buf_t none = {0};
    clvae_losses_t l;
    if (clvae_model_forward(m, B, 1, 7, 3, none, err) || clvae_model_losses(m, &l, err))
        return NAN;
    return l.total;
}

/* Device backward against central differences of the device forward on sampled parameters. */
static void grad_check(const char *text, const char *what)
{
    clvae_cfg_t cfg;
    clvae_model_desc_t d;
    REQUIRE(resolve(text, &cfg, &d), "%s: config", what);
    clvae_error_t err = {0};
    clvae_model_t *m = NULL;
    size_t B = 3;
    REQUIRE(clvae_model_init(&m, ctx, &d, B, &err) == CLVAE_OK, "%s", err.msg);
    REQUIRE(clvae_model_init_params(m, 5, &err) == CLVAE_OK, "%s", err.msg);
    size_t D = clvae_model_example_dim(m), P = d.nparams;
    float *x = malloc(B * D * sizeof *x);
    uint64_t seed = 11;
    tu_rand(x, B * D, 0.05f, 0.95f, &seed);
    clvae_buf_upload(ctx, clvae_model_input(m), x, B * D, &err);
    double l0 = loss_now(m, B, &err);
    CHECK(isfinite(l0), "%s: loss %g", what, l0);
    REQUIRE(clvae_model_backward(m, &err) == CLVAE_OK, "%s", err.msg);
    float *g = malloc(P * sizeof *g), *p = malloc(P * sizeof *p);
    clvae_buf_download(ctx, g, clvae_model_grads(m), P, &err);
    clvae_buf_download(ctx, p, clvae_model_params(m), P, &err);
    double gnorm = 0;
    for (size_t i = 0; i < P; i++) gnorm += (double)g[i] * g[i];
    CHECK(gnorm > 1e-6, "%s: gradient is trivially zero (%g)", what, gnorm);
    /* every parameter of a tiny model, central differences in float */
    int bad = 0;
    double worst = 0, dot = 0, nfd = 0;
    for (size_t i = 0; i < P; i++) {
        float keep = p[i], h = 1e-2f;
        p[i] = keep + h;
        clvae_buf_upload(ctx, clvae_buf_at(clvae_model_params(m), i), &p[i], 1, &err);
        double lp = loss_now(m, B, &err);
        p[i] = keep - h;
        clvae_buf_upload(ctx, clvae_buf_at(clvae_model_params(m), i), &p[i], 1, &err);
        double lm = loss_now(m, B, &err);
        p[i] = keep;
        clvae_buf_upload(ctx, clvae_buf_at(clvae_model_params(m), i), &p[i], 1, &err);
        double fd = (lp - lm) / (2.0 * h);
        /* float losses of ~30 resolve differences of ~1e-3 / h: an absolute slack of 3e-3;
         * the cosine below checks the whole vector tightly */
        double e = fabs(fd - g[i]) / (3e-2 + fabs(fd));
        if (e > worst) worst = e;
        dot += fd * g[i];
        nfd += fd * fd;
        if (fabs(fd - g[i]) > 3e-3 + 5e-2 * fabs(fd) && bad++ < 5)
            CHECK(0, "%s: param %zu: backward %.6g, central difference %.6g", what, i,
                  (double)g[i], fd);
    }
    double cosine = dot / sqrt(nfd * gnorm);
    CHECK(cosine > 0.999, "%s: cosine of backward and central differences %.6f", what, cosine);
    fprintf(stderr, "%s: cosine %.6f over %zu parameters\n", what, cosine, P);
    tu_note_error(what, worst);
    free(x);
    free(g);
    free(p);
    clvae_model_free(m);
    clvae_model_desc_free(&d);
    clvae_cfg_free(&cfg);
}

static void t_vae_gradients(void) { grad_check(TINY_VAE, "tiny VAE (conv, leaky, tanh, deconv, BCE+KL)"); }

static void t_ae_gradients(void) { grad_check(TINY_AE, "tiny AE (dense, silu, MSE)"); }

static void t_training_learns(void)
{
    /* 64 fixed images: training the tiny VAE for 300 steps must lower the loss a lot */
    clvae_cfg_t cfg;
    clvae_model_desc_t d;
    REQUIRE(resolve(TINY_VAE, &cfg, &d), "config");
    clvae_error_t err = {0};
    clvae_model_t *m = NULL;
    size_t B = 64;
    d.lr = 0.01f;
    REQUIRE(clvae_model_init(&m, ctx, &d, B, &err) == CLVAE_OK, "%s", err.msg);
    REQUIRE(clvae_model_init_params(m, 1, &err) == CLVAE_OK, "%s", err.msg);
    size_t D = clvae_model_example_dim(m);
    float *x = malloc(B * D * sizeof *x);
    for (size_t b = 0; b < B; b++) /* two kinds of images: a bar and a frame */
        for (size_t i = 0; i < D; i++) {
            size_t r = i / 6, c = i % 6;
            x[b * D + i] = (b % 2) ? (c == 2 || c == 3) : (r == 0 || r == 5 || c == 0 || c == 5);
        }
    clvae_buf_t none = {0};
    clvae_losses_t first = {0}, last = {0};
    for (long step = 1; step <= 300; step++) {
        clvae_buf_upload(ctx, clvae_model_input(m), x, B * D, &err);
        if (clvae_model_forward(m, B, 1, 1, (uint64_t)step, none, &err) ||
            clvae_model_backward(m, &err) || clvae_model_step(m, step, &err)) {
            CHECK(0, "step %ld: %s", step, err.msg);
            break;
        }
        if (step == 1) clvae_model_losses(m, &first, &err);
        if (step == 300) clvae_model_losses(m, &last, &err);
    }
    CHECK(last.total < 0.5f * first.total, "loss %g -> %g", (double)first.total,
          (double)last.total);
    CHECK(fabsf(last.total - (last.recon + last.kl)) < 1e-3f * last.total,
          "total %g != recon %g + kl %g", (double)last.total, (double)last.recon,
          (double)last.kl);
    free(x);
    clvae_model_free(m);
    clvae_model_desc_free(&d);
    clvae_cfg_free(&cfg);
}

static void t_tensor_names(void)
{
    clvae_cfg_t cfg;
    clvae_error_t err = {0};
    clvae_model_desc_t d;
    REQUIRE(clvae_cfg_load(&cfg, "models/mnist_vae.cfg", &err) == CLVAE_OK, "%s", err.msg);
    REQUIRE(clvae_model_resolve(&d, &cfg, &err) == CLVAE_OK, "%s", err.msg);
    char name[64];
    size_t off, total = 0;
    int ndim, n = 0;
    uint64_t shape[4];
    while (clvae_model_tensor(&d, n, name, sizeof name, &off, &ndim, shape)) {
        size_t count = 1;
        for (int k = 0; k < ndim; k++) count *= shape[k];
        total += count;
        if (n == 0) CHECK(strcmp(name, "encoder.0.weight") == 0 && ndim == 4 && shape[0] == 32 &&
                              shape[1] == 1, "first tensor %s", name);
        if (strcmp(name, "fc_logvar.weight") == 0)
            CHECK(ndim == 2 && shape[0] == 2 && shape[1] == 3136, "fc_logvar shape");
        if (strcmp(name, "decoder.3.weight") == 0) /* ConvTranspose2d(64, 64): [in, out, kh, kw] */
            CHECK(ndim == 4 && shape[0] == 64 && shape[1] == 64, "decoder.3 shape");
        if (strcmp(name, "decoder.6.weight") == 0)
            CHECK(ndim == 4 && shape[0] == 32 && shape[1] == 1, "decoder.6 shape");
        n++;
    }
    CHECK(n == 22 && total == d.nparams, "%d tensors, %zu floats of %zu", n, total, d.nparams);
    clvae_model_desc_free(&d);
    clvae_cfg_free(&cfg);
}

int main(void)
{
    ctx = tu_ctx();
    if (!ctx) return 1;
    RUN(t_vae_gradients);
    RUN(t_ae_gradients);
    RUN(t_training_learns);
    RUN(t_tensor_names);
    tu_print_errors();
    clvae_ctx_free(ctx);
    return TEST_EXIT();
}
