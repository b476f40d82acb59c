/* The GAN objective: the generator's gradient through the discriminator's input against central
 * differences of L_G, the discriminator's against those of L_D, each optimizer moving only its
 * network, and bad configs refused. */
#define TEST_FILE "test_gan"
#include "test.h"
#include "testutil.h"

#include <math.h>

#include "clvae/io/sha256.h"
#include "clvae/net/net.h"
#include "clvae/train/objective.h"
#include "train/objective_internal.h"

static clvae_ctx_t *ctx;

/* G: z (3) -> dense 6 -> batchnorm, tanh -> dense 4, tanh; D: 4 -> dense 5, LeakyReLU 0.2 ->
 * batchnorm, tanh -> dense 1 (the logit). OPT sets each network's lr (and d_steps). */
#define TINY_GAN3(OPT, GOPT, DOPT)                                                             \
    "[model]\nkind = gan\n[train]\nbatch = 4\n" OPT "[generator]\n" GOPT "[input]\n"          \
    "channels = 3\nheight = 1\nwidth = 1\n[flatten]\n[dense]\nunits = 6\nbias = 0\n"           \
    "[batchnorm]\nactivation = tanh\n[dense]\nunits = 4\nactivation = tanh\n[discriminator]\n"  \
    DOPT "[input]\nchannels = 4\nheight = 1\nwidth = 1\n[flatten]\n[dense]\nunits = 5\n"       \
    "activation = leaky_relu\nslope = 0.2\n[batchnorm]\nactivation = tanh\n[dense]\nunits = 1\n"
#define TINY_GAN(OPT) TINY_GAN3(OPT, "", "")

typedef struct gan {
    clvae_cfg_t cfg;
    clvae_model_desc_t d;
    clvae_objective_t *m;
} gan_t;

static int gan_open(gan_t *g, const char *text, clvae_error_t *err)
{
    memset(g, 0, sizeof *g);
    if (clvae_cfg_parse(&g->cfg, text, strlen(text), "gan.cfg", err) ||
        clvae_model_resolve(&g->d, &g->cfg, err) ||
        clvae_objective_init(&g->m, ctx, &g->d, 4, err) ||
        clvae_objective_init_params(g->m, 5, err))
        return 0;
    /* real images in [-1, 1] and z, fixed */
    float real[16], z[12];
    uint64_t seed = 3;
    tu_rand(real, 16, -0.9f, 0.9f, &seed);
    tu_rand(z, 12, -1.5f, 1.5f, &seed);
    return clvae_buf_upload(ctx, g->m->real, real, 16, err) == CLVAE_OK &&
           clvae_buf_upload(ctx, clvae_objective_input(g->m), z, 12, err) == CLVAE_OK;
}

static void gan_close(gan_t *g)
{
    clvae_objective_free(g->m);
    clvae_model_desc_free(&g->d);
    clvae_cfg_free(&g->cfg);
}

/* One training step; the value of loss column col afterwards. */
static double step_loss(gan_t *g, long step, int col, clvae_error_t *err)
{
    float l[CLVAE_OBJECTIVE_MAX_COLUMNS];
    if (clvae_objective_train_step(g->m, 4, step, NULL, NULL, err) ||
        clvae_objective_losses(g->m, l, err))
        return NAN;
    return l[col];
}

/* Network k's gradient after a step against central differences of loss column col (lr 0:
 * the step computes gradients but moves nothing). */
static void grad_check(const char *opt, int k, long step, int col, const char *what)
{
    gan_t g;
    clvae_error_t err = {0};
    REQUIRE(gan_open(&g, opt, &err), "%s", err.msg);
    const clvae_model_desc_t *nd = clvae_objective_net_desc(g.m, k);
    size_t P = nd->nparams;
    clvae_buf_t params = clvae_objective_net_params(g.m, k);
    double l0 = step_loss(&g, step, col, &err);
    REQUIRE(isfinite(l0), "%s: loss %g: %s", what, l0, err.msg);
    float *grad = malloc(P * sizeof *grad), *p = malloc(P * sizeof *p);
    clvae_buf_download(ctx, grad, clvae_objective_net_grads(g.m, k), P, &err);
    clvae_buf_download(ctx, p, params, P, &err);
    const float h = 3e-3f;
    double dot = 0, nf = 0, ng = 0;
    int bad = 0;
    for (size_t i = 0; i < P; i++) {
        float keep = p[i];
        double l[2];
        for (int side = 0; side < 2; side++) {
            p[i] = keep + (side ? -h : h);
            clvae_buf_upload(ctx, clvae_buf_at(params, i), &p[i], 1, &err);
            l[side] = step_loss(&g, step, col, &err);
        }
        p[i] = keep;
        clvae_buf_upload(ctx, clvae_buf_at(params, i), &p[i], 1, &err);
        double fd = (l[0] - l[1]) / (2.0 * h);
        dot += fd * grad[i];
        nf += fd * fd;
        ng += (double)grad[i] * grad[i];
        if (fabs(fd - grad[i]) > 2e-3 + 3e-2 * fabs(fd) && bad++ < 5)
            CHECK(0, "%s: param %zu: backward %.6g, central difference %.6g", what, i,
                  (double)grad[i], fd);
    }
    double cosine = dot / sqrt(nf * ng);
    CHECK(ng > 1e-8 && cosine > 0.999, "%s: cosine %.6f, gradient norm %g", what, cosine, ng);
    fprintf(stderr, "%s: cosine %.6f over %zu parameters\n", what, cosine, P);
    free(grad);
    free(p);
    gan_close(&g);
}

/* G's gradient of the non-saturating L_G = -log D(G(z)), through D's input gradient. */
static void t_generator_gradient(void)
{
    grad_check(TINY_GAN("lr = 0\n"), 0, 1, 2, "generator, non-saturating");
}

/* ... and of the saturating log(1 - D(G(z))). */
static void t_generator_gradient_saturating(void)
{
    grad_check(TINY_GAN("lr = 0\n[loss]\ngenerator_loss = saturating\n"), 0, 1, 2,
               "generator, saturating");
}

/* D's gradient of L_D (a step without a generator step: d_steps 2, step 1), with one-sided
 * label smoothing. */
static void t_discriminator_gradient(void)
{
    grad_check(TINY_GAN("lr = 0\nd_steps = 2\n[loss]\nreal_label = 0.9\n"), 1, 1, 1,
               "discriminator, real label 0.9");
}

/* SHA-256 of network k's parameters, as hex. */
static void params_hash(gan_t *g, int k, char hex[65])
{
    size_t P = clvae_objective_net_desc(g->m, k)->nparams;
    float *p = malloc(P * sizeof *p);
    clvae_error_t err = {0};
    uint8_t d[32];
    clvae_buf_download(ctx, p, clvae_objective_net_params(g->m, k), P, &err);
    clvae_sha256(p, P * sizeof *p, d);
    clvae_sha256_hex(d, hex);
    free(p);
}

/* With one network's lr at 0, a step leaves it alone and moves the other: the generator step
 * does not touch the discriminator's parameters, nor the discriminator step the generator's.
 * With d_steps 2, step 1 moves the discriminator only. */
static void t_each_optimizer_its_network(void)
{
    const char *cfgs[3] = {TINY_GAN3("", "", "lr = 0\n"), TINY_GAN3("", "lr = 0\n", ""),
                           TINY_GAN("d_steps = 2\n")};
    /* which network must move: generator, discriminator */
    int moves[3][2] = {{1, 0}, {0, 1}, {0, 1}};
    for (int c = 0; c < 3; c++) {
        gan_t g;
        clvae_error_t err = {0};
        char before[2][65], after[2][65];
        REQUIRE(gan_open(&g, cfgs[c], &err), "%s", err.msg);
        for (int k = 0; k < 2; k++) params_hash(&g, k, before[k]);
        CHECK(isfinite(step_loss(&g, 1, 0, &err)), "case %d: %s", c, err.msg);
        for (int k = 0; k < 2; k++) {
            params_hash(&g, k, after[k]);
            int moved = strcmp(before[k], after[k]) != 0;
            CHECK(moved == moves[c][k], "case %d: %s %s", c, k ? "discriminator" : "generator",
                  moved ? "moved" : "did not move");
        }
        gan_close(&g);
    }
}

/* Bad GAN configs are refused before any work, saying what is wrong. */
static void t_bad_configs(void)
{
    static const struct {
        const char *text, *want;
    } cases[] = {
        {"[model]\nkind = gan\n[generator]\n[input]\nchannels = 3\nheight = 1\nwidth = 1\n"
         "[flatten]\n[dense]\nunits = 4\nactivation = tanh\n",
         "needs a [discriminator] section"},
        {"[model]\nkind = gan\n[generator]\n[input]\nchannels = 3\nheight = 1\nwidth = 1\n"
         "[flatten]\n[dense]\nunits = 4\nactivation = tanh\n[discriminator]\n[input]\n"
         "channels = 4\nheight = 1\nwidth = 1\n[flatten]\n[dense]\nunits = 2\n",
         "must end with one unit"},
        {"[model]\nkind = gan\n[generator]\n[input]\nchannels = 3\nheight = 1\nwidth = 1\n"
         "[flatten]\n[dense]\nunits = 5\nactivation = tanh\n[discriminator]\n[input]\n"
         "channels = 4\nheight = 1\nwidth = 1\n[flatten]\n[dense]\nunits = 1\n",
         "the generator makes 5x1x1 images but the discriminator's [input]"},
        {"[model]\nkind = gan\n[generator]\n[input]\nchannels = 3\nheight = 1\nwidth = 1\n"
         "[flatten]\n[dense]\nunits = 4\n[discriminator]\n[input]\n"
         "channels = 4\nheight = 1\nwidth = 1\n[flatten]\n[dense]\nunits = 1\n",
         "needs activation = tanh"},
        {"[model]\nkind = gan\n[train]\nd_steps = 0\n", "d_steps = 0"},
        {"[model]\nkind = vae\n[train]\nd_steps = 2\n", "only a GAN (kind = gan) has it"},
        {"[model]\nkind = gan\n[input]\nchannels = 3\nheight = 1\nwidth = 1\n",
         "before [generator] or [discriminator]"},
        {"[model]\nkind = vae\n[generator]\n", "belongs to a GAN"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        clvae_cfg_t cfg;
        clvae_model_desc_t d;
        clvae_error_t err = {0};
        memset(&d, 0, sizeof d);
        clvae_status_t s = clvae_cfg_parse(&cfg, cases[i].text, strlen(cases[i].text), "g.cfg",
                                           &err);
        if (!s) s = clvae_model_resolve(&d, &cfg, &err);
        CHECK(s == CLVAE_ERR_INVALID && strstr(err.msg, cases[i].want),
              "case %zu: status %d, message '%s', want '%s'", i, (int)s, err.msg, cases[i].want);
        if (!s) clvae_model_desc_free(&d);
        clvae_cfg_free(&cfg);
    }
}

int main(void)
{
    ctx = tu_ctx();
    if (!ctx) return 1;
    RUN(t_generator_gradient);
    RUN(t_generator_gradient_saturating);
    RUN(t_discriminator_gradient);
    RUN(t_each_optimizer_its_network);
    RUN(t_bad_configs);
    clvae_ctx_free(ctx);
    return TEST_EXIT();
}
