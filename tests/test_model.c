/* The model: whole-network gradients against central differences, and training that learns. */
#define TEST_FILE "test_model"
#include "test.h"
#include "testutil.h"

#include <math.h>

#include "clvae/train/objective.h"
#include "clvae/net/net.h"
#include "net/layer.h"

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

/* The tiny VAE conditional on 3 classes: 3 label channels on its 6x6 input, 3 more inputs to the
 * first decoder layer. */
#define TINY_CVAE                                                                              \
    "[model]\nkind = vae\nconditional = 3\n[loss]\nreconstruction = bce\nbeta = 1\n"          \
    "[input]\nchannels = 1\nheight = 6\nwidth = 6\n"                                           \
    "[conv]\nfilters = 3\nsize = 3\nstride = 2\npadding = same\nactivation = leaky_relu\n"     \
    "slope = 0.3\n[flatten]\n[latent]\nsize = 2\n[dense]\nunits = 27\nactivation = tanh\n"     \
    "[reshape]\nchannels = 3\nheight = 3\nwidth = 3\n"                                         \
    "[deconv]\nfilters = 1\nsize = 3\nstride = 2\npadding = same\nactivation = sigmoid\n"

/* A conditional dense AE whose encoder is only a [flatten]: the label planes go straight to
 * the latent head. */
#define TINY_CAE                                                                               \
    "[model]\nkind = ae\nconditional = 2\n[loss]\nreconstruction = mse_sum\n"                 \
    "[input]\nchannels = 1\nheight = 2\nwidth = 2\n[flatten]\n[latent]\nsize = 2\n"           \
    "[dense]\nunits = 4\nactivation = sigmoid\n"

/* A tiny U-Net autoencoder: e1 feeds e2 and the last [concat] (fan-out), e2 feeds the latent
 * path and the [add] (fan-out); skips as [add] and [concat]. */
#define TINY_UNET                                                                              \
    "[model]\nkind = vae\n[loss]\nreconstruction = bce\nbeta = 1\n"                            \
    "[input]\nchannels = 1\nheight = 4\nwidth = 4\n"                                           \
    "[conv]\nname = e1\nfilters = 2\nactivation = leaky_relu\nslope = 0.3\n"                  \
    "[conv]\nname = e2\nfilters = 2\nstride = 2\nactivation = tanh\n[flatten]\n"            \
    "[latent]\nsize = 2\n[dense]\nunits = 8\n[reshape]\nname = d0\nchannels = 2\n"           \
    "height = 2\nwidth = 2\n[add]\nfrom = d0, e2\nactivation = silu\n"                        \
    "[deconv]\nname = d1\nfilters = 2\nsize = 3\nstride = 2\npadding = 1\n"                 \
    "output_padding = 1\nactivation = leaky_relu\nslope = 0.3\n[concat]\nfrom = d1, e1\n"    \
    "[conv]\nfilters = 1\nactivation = sigmoid\n"

/* Batch normalization after a conv (a map), after a dense layer (flat) and before the output. */
#define TINY_BN                                                                                \
    "[model]\nkind = vae\n[loss]\nreconstruction = bce\nbeta = 1\n"                            \
    "[input]\nchannels = 1\nheight = 6\nwidth = 6\n"                                           \
    "[conv]\nfilters = 3\nsize = 3\nstride = 2\npadding = same\nbias = 0\n"                  \
    "[batchnorm]\nactivation = tanh\n[flatten]\n"                          \
    "[dense]\nunits = 5\n[batchnorm]\nmomentum = 0.2\nactivation = tanh\n"                    \
    "[latent]\nsize = 2\n[dense]\nunits = 27\nactivation = tanh\n"                             \
    "[reshape]\nchannels = 3\nheight = 3\nwidth = 3\n"                                         \
    "[deconv]\nfilters = 2\nsize = 3\nstride = 2\npadding = same\n"                           \
    "[batchnorm]\neps = 1e-3\n[conv]\nfilters = 1\nsize = 1\nactivation = sigmoid\n"

/* Group normalization after a conv (2 groups of 2 channels), after a dense layer (flat, 3 groups
 * of 2 units) and before the output (one group: every channel of an example). */
#define TINY_GN                                                                                \
    "[model]\nkind = vae\n[loss]\nreconstruction = bce\nbeta = 1\n"                            \
    "[input]\nchannels = 1\nheight = 6\nwidth = 6\n"                                           \
    "[conv]\nfilters = 4\nsize = 3\nstride = 2\npadding = same\nbias = 0\n"                  \
    "[groupnorm]\ngroups = 2\nactivation = silu\n[flatten]\n"                                  \
    "[dense]\nunits = 6\n[groupnorm]\ngroups = 3\nactivation = tanh\n"                        \
    "[latent]\nsize = 2\n[dense]\nunits = 27\nactivation = tanh\n"                             \
    "[reshape]\nchannels = 3\nheight = 3\nwidth = 3\n"                                         \
    "[deconv]\nfilters = 2\nsize = 3\nstride = 2\npadding = same\n"                           \
    "[groupnorm]\ngroups = 1\neps = 1e-3\n[conv]\nfilters = 1\nsize = 1\nactivation = sigmoid\n"

/* Nearest upsampling inside a small classifier: a 2x2 map upsampled to 4x4, then a conv. */
#define TINY_UP                                                                                \
    "[model]\nkind = classifier\n[input]\nchannels = 1\nheight = 4\nwidth = 4\n"              \
    "[conv]\nfilters = 2\nsize = 3\nstride = 2\npadding = same\nactivation = tanh\n"         \
    "[upsample]\nfactor = 2\n[conv]\nfilters = 2\nsize = 3\nactivation = tanh\n"           \
    "[upsample]\nfactor = 3\n[flatten]\n[dense]\nunits = 3\n"

/* A per-example vector (a dense layer of 2 units, from the flattened input) added to every pixel
 * of a 2-channel map, then a plain [add] of the sum and the map: both kinds in one network. */
#define TINY_BCAST                                                                             \
    "[model]\nkind = classifier\n[input]\nname = x\nchannels = 1\nheight = 4\nwidth = 4\n"   \
    "[flatten]\n[dense]\nname = v\nunits = 2\nactivation = tanh\n"                             \
    "[conv]\nname = m\nfrom = x\nfilters = 2\nsize = 3\nactivation = tanh\n"                 \
    "[add]\nname = s\nfrom = m, v\nactivation = silu\n[add]\nfrom = s, m\n"                 \
    "[flatten]\n[dense]\nunits = 3\n"

/* A diffusion U-Net's block in small: the time embedding through a dense MLP added to every pixel
 * of a conv map, groupnorm + SiLU, down by a strided conv, back up by [upsample], the skip joined
 * by [concat], groupnorm again. */
#define TINY_DIFF                                                                              \
    "[model]\nkind = classifier\n[input]\nname = x\nchannels = 1\nheight = 4\nwidth = 4\n"   \
    "[time_embed]\ndim = 4\n[dense]\nunits = 6\nactivation = silu\n"                          \
    "[dense]\nname = temb\nunits = 4\n"                                                         \
    "[conv]\nname = c1\nfrom = x\nfilters = 4\nsize = 3\n[add]\nfrom = c1, temb\n"          \
    "[groupnorm]\nname = h1\ngroups = 2\nactivation = silu\n"                                 \
    "[conv]\nfilters = 2\nsize = 3\nstride = 2\npadding = same\n[upsample]\nname = u\n"     \
    "[concat]\nfrom = u, h1\n[groupnorm]\ngroups = 3\nactivation = silu\n"                    \
    "[flatten]\n[dense]\nunits = 2\n"

/* A tiny VQ-VAE: a conv encoder to a 2x2 map of D = 2, K = 8 codes trained by their loss term,
 * a deconv decoder. */
#define TINY_VQVAE                                                                             \
    "[model]\nkind = vqvae\n[loss]\nreconstruction = bce\n"                                   \
    "[input]\nchannels = 1\nheight = 4\nwidth = 4\n"                                           \
    "[conv]\nfilters = 2\nsize = 3\nstride = 2\nactivation = tanh\n"                          \
    "[vq]\ncodes = 8\ncommitment = 0.25\nupdate = loss\n"                                      \
    "[deconv]\nfilters = 1\nsize = 3\nstride = 2\npadding = 1\noutput_padding = 1\n"         \
    "activation = sigmoid\n"

/* Activations on conv and deconv layers in the middle of a net (run in place, fused into the
 * conv's last pass) and at its end (relu, sigmoid, silu, leaky, tanh; a dense tanh between). */
#define TINY_FUSED                                                                             \
    "[model]\nkind = vae\n[loss]\nreconstruction = bce\nbeta = 1\n"                            \
    "[input]\nchannels = 1\nheight = 6\nwidth = 6\n"                                           \
    "[conv]\nfilters = 3\nsize = 3\nactivation = relu\n"                                      \
    "[conv]\nfilters = 3\nsize = 3\nstride = 2\nactivation = sigmoid\n"                       \
    "[conv]\nfilters = 2\nsize = 3\nactivation = silu\n[flatten]\n[latent]\nsize = 2\n"       \
    "[dense]\nunits = 18\nactivation = tanh\n[reshape]\nchannels = 2\nheight = 3\nwidth = 3\n" \
    "[deconv]\nfilters = 3\nsize = 3\nstride = 2\nactivation = leaky_relu\nslope = 0.2\n"    \
    "[deconv]\nfilters = 2\nsize = 3\nactivation = tanh\n"                                    \
    "[deconv]\nfilters = 1\nsize = 3\nactivation = sigmoid\n"

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
static double loss_now(clvae_objective_t *m, size_t B, clvae_error_t *err)
{
    clvae_buf_t none = {0};
    float l[CLVAE_OBJECTIVE_MAX_COLUMNS];
    if (clvae_objective_forward(m, B, 1, 7, 3, none, err) || clvae_objective_losses(m, l, err))
        return NAN;
    return l[0];
}

/* Device backward against central differences of the device forward on sampled parameters;
 * beta >= 0 sets the KL weight (clvae_objective_set_beta); h is the step of the differences. A
 * conditional model gets labels 0, 2, 1 (mod K) and its label weights must get gradients. */
static void grad_check_beta(const char *text, const char *what, float beta, float h)
{
    clvae_cfg_t cfg;
    clvae_model_desc_t d;
    REQUIRE(resolve(text, &cfg, &d), "%s: config", what);
    clvae_error_t err = {0};
    clvae_objective_t *m = NULL;
    size_t B = 3;
    REQUIRE(clvae_objective_init(&m, ctx, &d, B, &err) == CLVAE_OK, "%s", err.msg);
    REQUIRE(clvae_objective_init_params(m, 5, &err) == CLVAE_OK, "%s", err.msg);
    size_t D = clvae_objective_example_dim(m), P = d.nparams;
    float *x = malloc(B * D * sizeof *x);
    uint64_t seed = 11;
    tu_rand(x, B * D, 0.05f, 0.95f, &seed);
    clvae_buf_upload(ctx, clvae_objective_input(m), x, B * D, &err);
    if (beta >= 0) clvae_objective_set_beta(m, beta);
    if (d.conditional) {
        float lab[3] = {0.0f, (float)(2 % d.conditional), 1.0f};
        REQUIRE(clvae_buf_upload(ctx, clvae_objective_labels(m), lab, B, &err) == CLVAE_OK, "%s",
                err.msg);
    }
    double l0 = loss_now(m, B, &err);
    CHECK(isfinite(l0), "%s: loss %g", what, l0);
    REQUIRE(clvae_objective_backward(m, &err) == CLVAE_OK, "%s", err.msg);
    float *g = malloc(P * sizeof *g), *p = malloc(P * sizeof *p);
    clvae_buf_download(ctx, g, clvae_objective_grads(m), P, &err);
    clvae_buf_download(ctx, p, clvae_objective_params(m), P, &err);
    double gnorm = 0;
    for (size_t i = 0; i < P; i++) gnorm += (double)g[i] * g[i];
    CHECK(gnorm > 1e-6, "%s: gradient is trivially zero (%g)", what, gnorm);
    /* every parameter of a tiny model, central differences in float */
    int bad = 0;
    double worst = 0, dot = 0, nfd = 0;
    for (size_t i = 0; i < P; i++) {
        float keep = p[i];
        p[i] = keep + h;
        clvae_buf_upload(ctx, clvae_buf_at(clvae_objective_params(m), i), &p[i], 1, &err);
        double lp = loss_now(m, B, &err);
        p[i] = keep - h;
        clvae_buf_upload(ctx, clvae_buf_at(clvae_objective_params(m), i), &p[i], 1, &err);
        double lm = loss_now(m, B, &err);
        p[i] = keep;
        clvae_buf_upload(ctx, clvae_buf_at(clvae_objective_params(m), i), &p[i], 1, &err);
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
    if (d.conditional) {
        /* the label inputs' weights: the first layer's after [input] (channels C.. of a conv,
         * columns of a dense) and the first decoder layer's last K columns; each part must get
         * a gradient. Layers 1 and latent + 1 are the implicit label layers before them. */
        CHECK(d.layers[1].implicit && d.layers[1].kind == CLVAE_LAYER_LABELS &&
                  d.layers[d.latent + 1].kind == CLVAE_LAYER_LABELS,
              "%s: implicit label layers at 1 and %d", what, d.latent + 1);
        const clvae_layer_t *l1 = &d.layers[2], *dec = &d.layers[d.latent + 2];
        size_t K = d.conditional, C = d.layers[0].out_c, J = d.layers[d.latent].units;
        double genc = 0, gdec = 0;
        if (l1->kind == CLVAE_LAYER_CONV) {
            size_t kk = l1->conv.kh * l1->conv.kw;
            for (size_t o = 0; o < l1->out_c; o++)
                for (size_t c = C; c < C + K; c++)
                    for (size_t q = 0; q < kk; q++) {
                        double v = g[l1->w_off + (o * (C + K) + c) * kk + q];
                        genc += v * v;
                    }
        } else { /* the latent head straight after [flatten]: label planes are the last K*H*W */
            const clvae_layer_t *lat = &d.layers[d.latent];
            size_t F = lat->in_c, F0 = F - K * d.layers[0].out_h * d.layers[0].out_w;
            for (size_t o = 0; o < lat->units; o++)
                for (size_t f = F0; f < F; f++) {
                    double v = g[lat->w_off + o * F + f];
                    genc += v * v;
                }
        }
        for (size_t o = 0; o < dec->units; o++)
            for (size_t k = 0; k < K; k++) {
                double v = g[dec->w_off + o * (J + K) + J + k];
                gdec += v * v;
            }
        CHECK(genc > 1e-8 && gdec > 1e-8, "%s: label weights get no gradient (encoder %g, "
              "decoder %g)", what, genc, gdec);
    }
    fprintf(stderr, "%s: cosine %.6f over %zu parameters\n", what, cosine, P);
    tu_note_error(what, worst);
    free(x);
    free(g);
    free(p);
    clvae_objective_free(m);
    clvae_model_desc_free(&d);
    clvae_cfg_free(&cfg);
}

static void grad_check(const char *text, const char *what)
{
    grad_check_beta(text, what, -1.0f, 1e-2f);
}

static void t_vae_gradients(void) { grad_check(TINY_VAE, "tiny VAE (conv, leaky, tanh, deconv, BCE+KL)"); }

/* Which layers keep a pre-activation buffer of their own: a conv or deconv whose activation
 * is not SiLU, not the last layer, shares one with its output (the activation fused into the
 * conv, its gradient taken from the output); the footprint counts what the net allocates. The
 * gradients of such a net against central differences. */
static void t_act_in_place(void)
{
    clvae_cfg_t cfg;
    clvae_model_desc_t d;
    REQUIRE(resolve(TINY_FUSED, &cfg, &d), "config");
    clvae_error_t err = {0};
    clvae_net_t *net = NULL;
    size_t B = 3;
    REQUIRE(clvae_net_init(&net, ctx, &d, B, 0, &err) == CLVAE_OK, "%s", err.msg);
    static const struct { clvae_layer_kind_t kind; clvae_act_t act; int shared; } want[] = {
        {CLVAE_LAYER_CONV, CLVAE_ACT_RELU, 1},        {CLVAE_LAYER_CONV, CLVAE_ACT_SIGMOID, 1},
        {CLVAE_LAYER_CONV, CLVAE_ACT_SILU, 0},        {CLVAE_LAYER_DENSE, CLVAE_ACT_TANH, 0},
        {CLVAE_LAYER_DECONV, CLVAE_ACT_LEAKY_RELU, 1}, {CLVAE_LAYER_DECONV, CLVAE_ACT_TANH, 1},
        {CLVAE_LAYER_DECONV, CLVAE_ACT_SIGMOID, 0}};
    size_t k = 0;
    for (int i = 1; i < d.nlayers && k < sizeof want / sizeof *want; i++) {
        const clvae_layer_t *L = &d.layers[i];
        if (L->act == CLVAE_ACT_IDENTITY) continue;
        clvae_buf_t pre = clvae_net_output(net, i, 1), act = clvae_net_output(net, i, 0);
        int shared = pre.mem == act.mem && pre.off == act.off;
        CHECK(L->kind == want[k].kind && L->act == want[k].act && shared == want[k].shared,
              "layer %d (kind %d, %s): pre-activation %s its output, want %s", i,
              (int)L->kind, clvae_act_name(L->act),
              shared ? "shares a buffer with" : "apart from", want[k].shared ? "shared" : "apart");
        k++;
    }
    CHECK(k == sizeof want / sizeof *want, "%zu activated layers, want 7", k);
    clvae_net_footprint_t f = clvae_net_footprint(&d, 0);
    /* the footprint keeps one float per example besides (labels or times) */
    size_t said = (f.fixed + f.per * B) * sizeof(float), got = clvae_net_device_bytes(net);
    CHECK(said >= got && said - got <= B * sizeof(float),
          "the net allocated %zu bytes, its footprint says %zu", got, said);
    clvae_net_free(net);
    clvae_model_desc_free(&d);
    clvae_cfg_free(&cfg);
    grad_check_beta(TINY_FUSED, "tiny VAE with activations in place (relu, sigmoid, leaky, tanh)",
                    -1.0f, 1e-3f);
}

/* Which gradients a layer writes (=) instead of adding to a zeroed buffer: input 0 of a conv,
 * deconv or dense that is its only reader (through views too), not the net's input, not the
 * output the objective's gradient goes to; a layer read by two is zeroed and added to. The
 * gradients of such nets against central differences: t_act_in_place (TINY_FUSED), the U-Net
 * tests (fan-out). */
static void t_one_writer(void)
{
    static const struct { const char *cfg; int want[14]; } nets[] = {
        /* TINY_FUSED: input, conv, conv, conv, flatten, latent, dense, reshape, deconv x3 */
        {TINY_FUSED, {0, 0, 1, 1, 0, 0, 1, 0, 1, 1, 1, -1}},
        /* TINY_DIFF: x, time_embed, dense, dense (temb), conv c1 (reads x), add, groupnorm h1,
         * conv (h1 is also the concat's), upsample, concat, groupnorm, flatten, dense (the
         * last: it writes the groupnorm's gradient through the flatten) */
        {TINY_DIFF, {0, 0, 1, 1, 0, 0, 0, 0, 0, 0, 0, 0, 1, -1}}};
    for (size_t c = 0; c < sizeof nets / sizeof *nets; c++) {
        clvae_cfg_t cfg;
        clvae_model_desc_t d;
        REQUIRE(resolve(nets[c].cfg, &cfg, &d), "config %zu", c);
        clvae_error_t err = {0};
        clvae_net_t *net = NULL;
        REQUIRE(clvae_net_init(&net, ctx, &d, 2, 0, &err) == CLVAE_OK, "%s", err.msg);
        for (int i = 1; i < d.nlayers && i < 14 && nets[c].want[i] >= 0; i++) {
            if (d.layers[i].nfrom < 1) continue;
            int got = clvae_net_din_set(net, i, 0);
            CHECK(got == nets[c].want[i], "net %zu layer %d (kind %d): writes its input's gradient "
                  "%s, want %s", c, i, (int)d.layers[i].kind, got ? "(=)" : "(+=)",
                  nets[c].want[i] ? "(=)" : "(+=)");
        }
        CHECK(d.nlayers < 14 && nets[c].want[d.nlayers] == -1, "net %zu: %d layers", c,
              d.nlayers);
        clvae_net_free(net);
        clvae_model_desc_free(&d);
        clvae_cfg_free(&cfg);
    }
}

static void t_beta_vae_gradients(void)
{
    grad_check_beta(TINY_VAE, "tiny VAE, beta 0.35 (KL annealing)", 0.35f, 1e-2f);
    grad_check_beta(TINY_VAE, "tiny VAE, beta 0 (first warm-up epoch)", 0.0f, 1e-2f);
}

static void t_cvae_gradients(void)
{
    /* a step of 1e-2 on a weight of a constant label plane moves 9 pre-activations of an
     * example at once, and at this init one crosses LeakyReLU's kink: a smaller step */
    grad_check_beta(TINY_CVAE, "tiny CVAE (3 label channels on the input and on z)", -1.0f,
                    3e-3f);
    grad_check(TINY_CAE, "tiny conditional AE (label planes straight to the latent head)");
}

/* The conditional model's output depends on the label, and the loss follows the KL weight. */
static void t_labels_and_beta_matter(void)
{
    clvae_cfg_t cfg;
    clvae_model_desc_t d;
    REQUIRE(resolve(TINY_CVAE, &cfg, &d), "config");
    clvae_error_t err = {0};
    clvae_objective_t *m = NULL;
    size_t B = 3, D = 36;
    REQUIRE(clvae_objective_init(&m, ctx, &d, B, &err) == CLVAE_OK, "%s", err.msg);
    REQUIRE(clvae_objective_init_params(m, 5, &err) == CLVAE_OK, "%s", err.msg);
    CHECK(clvae_objective_classes(m) == 3 && clvae_objective_labels(m).mem, "classes");
    float x[108], out[2][108], z[6] = {0.5f, -1, 0.5f, -1, 0.5f, -1};
    uint64_t seed = 3;
    tu_rand(x, B * D, 0.0f, 1.0f, &seed);
    clvae_buf_upload(ctx, clvae_objective_input(m), x, B * D, &err);
    clvae_buf_t none = {0};
    float l[2][CLVAE_OBJECTIVE_MAX_COLUMNS];
    for (int k = 0; k < 2; k++) {
        float lab[3] = {(float)k, (float)k, (float)(2 - k)};
        REQUIRE(clvae_buf_upload(ctx, clvae_objective_labels(m), lab, B, &err) == CLVAE_OK &&
                    clvae_objective_decode(m, z, B, out[k], &err) == CLVAE_OK,
                "%s", err.msg);
    }
    /* the same z decoded with labels 0 and 1 (examples 0, 1), 2 and 1 (example 2) */
    CHECK(memcmp(out[0], out[1], sizeof out[0]) != 0, "the label does not change the decode");
    CHECK(memcmp(out[0], out[1], D * sizeof(float)) != 0 &&
              memcmp(out[0] + 2 * D, out[1] + 2 * D, D * sizeof(float)) != 0,
          "each example's own label counts");
    /* total = recon + beta * kl for beta 1 and 0.25 */
    for (int k = 0; k < 2; k++) {
        clvae_objective_set_beta(m, k ? 0.25f : 1.0f);
        REQUIRE(clvae_objective_forward(m, B, 1, 7, 3, none, &err) == CLVAE_OK &&
                    clvae_objective_losses(m, l[k], &err) == CLVAE_OK,
                "%s", err.msg);
    }
    CHECK(l[0][1] == l[1][1] && l[0][2] == l[1][2] && l[0][2] > 0, "same terms");
    CHECK(fabsf(l[1][0] - (l[1][1] + 0.25f * l[1][2])) < 1e-4f * l[1][0] &&
              fabsf(l[0][0] - (l[0][1] + l[0][2])) < 1e-4f * l[0][0],
          "beta 1: %g = %g + %g; beta 0.25: %g = %g + 0.25 %g", (double)l[0][0],
          (double)l[0][1], (double)l[0][2], (double)l[1][0], (double)l[1][1],
          (double)l[1][2]);
    clvae_objective_free(m);
    clvae_model_desc_free(&d);
    clvae_cfg_free(&cfg);
}

static void t_unet_gradients(void)
{
    /* leaky ReLU and the skips: a step of 1e-2 can cross a kink, as for the CVAE */
    grad_check_beta(TINY_UNET, "tiny U-Net VAE (fan-out, [add], [concat])", -1.0f, 3e-3f);
}

/* The network's gradient with respect to its input (what a GAN's generator gets through the
 * discriminator) against central differences of L(x) = <r, net(x)> for a fixed r. */
static void t_input_gradient(void)
{
    clvae_cfg_t cfg;
    clvae_model_desc_t d;
    REQUIRE(resolve(TINY_UNET, &cfg, &d), "config");
    clvae_error_t err = {0};
    clvae_net_t *net = NULL;
    size_t B = 2, D = 16, n = B * D;
    REQUIRE(clvae_net_init(&net, ctx, &d, B, 1, &err) == CLVAE_OK, "%s", err.msg);
    REQUIRE(clvae_net_init_params(net, 3, &err) == CLVAE_OK, "%s", err.msg);
    float x[32], r[32], y[32], g[32];
    uint64_t seed = 5;
    tu_rand(x, n, 0.05f, 0.95f, &seed);
    tu_rand(r, n, -1.0f, 1.0f, &seed);
    clvae_buf_t din;
    REQUIRE(clvae_buf_alloc(ctx, n, &din, &err) == CLVAE_OK, "%s", err.msg);
    int last = d.nlayers - 1;
    clvae_net_set_sampling(net, 0, 0, 0); /* z = mu: L is a function of x alone */
    REQUIRE(clvae_buf_upload(ctx, clvae_net_input(net), x, n, &err) == CLVAE_OK &&
                clvae_net_forward(net, B, &err) == CLVAE_OK &&
                clvae_buf_upload(ctx, clvae_net_output_grad(net, last, 0), r, n, &err) ==
                    CLVAE_OK &&
                clvae_net_zero_grads(net, &err) == CLVAE_OK &&
                clvae_net_backward(net, 0, din, &err) == CLVAE_OK &&
                clvae_buf_download(ctx, g, din, n, &err) == CLVAE_OK,
            "%s", err.msg);
    double worst = 0, gnorm = 0, dot = 0, fnorm = 0;
    for (size_t i = 0; i < n; i++) {
        double l[2];
        for (int side = 0; side < 2; side++) {
            float xs[32];
            memcpy(xs, x, sizeof xs);
            xs[i] += side ? -2e-3f : 2e-3f;
            REQUIRE(clvae_buf_upload(ctx, clvae_net_input(net), xs, n, &err) == CLVAE_OK &&
                        clvae_net_forward(net, B, &err) == CLVAE_OK &&
                        clvae_buf_download(ctx, y, clvae_net_output(net, last, 0), n, &err) ==
                            CLVAE_OK,
                    "%s", err.msg);
            l[side] = 0;
            for (size_t k = 0; k < n; k++) l[side] += (double)r[k] * y[k];
        }
        double fd = (l[0] - l[1]) / 4e-3, diff = fabs(fd - g[i]);
        dot += fd * g[i];
        fnorm += fd * fd;
        gnorm += (double)g[i] * g[i];
        if (diff > worst) worst = diff;
        CHECK(diff <= 2e-3 + 2e-2 * fabs(fd), "input %zu: backward %.6g, central difference %.6g",
              i, (double)g[i], fd);
    }
    CHECK(gnorm > 1e-6, "the input gradient is zero");
    CHECK(dot / sqrt(gnorm * fnorm) > 0.999, "cosine of the input gradient and central "
          "differences %.6f", dot / sqrt(gnorm * fnorm));
    fprintf(stderr, "input gradient: worst difference %.3g over %zu inputs\n", worst, n);
    clvae_buf_free(&din);
    clvae_net_free(net);
    clvae_model_desc_free(&d);
    clvae_cfg_free(&cfg);
}

/* L(x, params) = <r, net(x)> for a fixed r: the network's forward in the given mode. */
static double net_loss(clvae_net_t *net, const float *x, const float *r, size_t B, size_t n_in,
                       size_t n_out, int last, clvae_error_t *err)
{
    float *y = malloc(n_out * sizeof *y);
    double l = NAN;
    if (y && !clvae_buf_upload(ctx, clvae_net_input(net), x, n_in, err) &&
        !clvae_net_forward(net, B, err) &&
        !clvae_buf_download(ctx, y, clvae_net_output(net, last, 0), n_out, err)) {
        l = 0;
        for (size_t k = 0; k < n_out; k++) l += (double)r[k] * y[k];
    }
    free(y);
    return l;
}

/* The network's backward (parameters and input) against central differences of <r, net(x)>,
 * in training mode (batch statistics) or evaluation mode (running ones, after a few training
 * forwards moved them). */
static void net_grad_check(const char *text, const char *what, int training, float h)
{
    clvae_cfg_t cfg;
    clvae_model_desc_t d;
    REQUIRE(resolve(text, &cfg, &d), "%s: config", what);
    clvae_error_t err = {0};
    clvae_net_t *net = NULL;
    int last = d.nlayers - 1;
    const clvae_layer_t *L0 = &d.layers[0], *Ln = &d.layers[last];
    size_t B = 4, n_in = B * L0->out_c * L0->out_h * L0->out_w, P = d.nparams;
    size_t n_out = B * Ln->out_c * Ln->out_h * Ln->out_w;
    REQUIRE(clvae_net_init(&net, ctx, &d, B, 1, &err) == CLVAE_OK, "%s", err.msg);
    REQUIRE(clvae_net_init_params(net, 3, &err) == CLVAE_OK, "%s", err.msg);
    float *x = malloc(n_in * sizeof *x), *r = malloc(n_out * sizeof *r);
    float *gx = malloc(n_in * sizeof *gx), *gp = malloc(P * sizeof *gp);
    float *p = malloc(P * sizeof *p);
    uint64_t seed = 8;
    tu_rand(x, n_in, 0.05f, 0.95f, &seed);
    tu_rand(r, n_out, -1.0f, 1.0f, &seed);
    /* non-trivial gamma and beta, and running statistics moved by three training batches */
    clvae_buf_download(ctx, p, clvae_net_params(net), P, &err);
    for (int i = 0; i < d.nlayers; i++)
        if (d.layers[i].kind == CLVAE_LAYER_BATCHNORM ||
            d.layers[i].kind == CLVAE_LAYER_GROUPNORM)
            for (size_t c = 0; c < 2 * d.layers[i].in_c; c++) p[d.layers[i].w_off + c] += 0.3f * sinf((float)c + 1.0f);
    clvae_buf_upload(ctx, clvae_net_params(net), p, P, &err);
    if (clvae_net_times(net).mem) { /* a model with [time_embed]: fixed steps, early to late */
        float t[4] = {3.0f, 250.0f, 999.0f, 0.5f};
        REQUIRE(clvae_buf_upload(ctx, clvae_net_times(net), t, B, &err) == CLVAE_OK, "%s",
                err.msg);
    }
    clvae_net_set_sampling(net, 0, 0, 0);
    clvae_net_set_training(net, 1);
    for (int k = 0; k < 3; k++) {
        float *xs = malloc(n_in * sizeof *xs);
        tu_rand(xs, n_in, 0.0f, 1.0f, &seed);
        net_loss(net, xs, r, B, n_in, n_out, last, &err);
        free(xs);
    }
    clvae_net_set_training(net, training);
    /* running statistics stay fixed from here: the check's forwards must not move them */
    float *state = malloc(d.nstate * sizeof *state);
    clvae_buf_download(ctx, state, clvae_net_state(net), d.nstate, &err);
    clvae_buf_t din;
    REQUIRE(clvae_buf_alloc(ctx, n_in, &din, &err) == CLVAE_OK, "%s", err.msg);
    double l0 = net_loss(net, x, r, B, n_in, n_out, last, &err);
    REQUIRE(isfinite(l0) && clvae_buf_upload(ctx, clvae_net_output_grad(net, last, 0), r, n_out,
                                             &err) == CLVAE_OK &&
                clvae_net_zero_grads(net, &err) == CLVAE_OK &&
                clvae_net_backward(net, 0, din, &err) == CLVAE_OK &&
                clvae_buf_download(ctx, gx, din, n_in, &err) == CLVAE_OK &&
                clvae_buf_download(ctx, gp, clvae_net_grads(net), P, &err) == CLVAE_OK,
            "%s: %s", what, err.msg);
    double dot = 0, nfd = 0, ng = 0;
    int bad = 0;
    for (size_t i = 0; i < n_in + P; i++) {
        int is_x = i < n_in;
        float *v = is_x ? &x[i] : &p[i - n_in], keep = *v, g = is_x ? gx[i] : gp[i - n_in];
        double l[2];
        for (int side = 0; side < 2; side++) {
            *v = keep + (side ? -h : h);
            if (!is_x) clvae_buf_upload(ctx, clvae_buf_at(clvae_net_params(net), i - n_in), v, 1, &err);
            if (training) clvae_buf_upload(ctx, clvae_net_state(net), state, d.nstate, &err);
            l[side] = net_loss(net, x, r, B, n_in, n_out, last, &err);
        }
        *v = keep;
        if (!is_x) clvae_buf_upload(ctx, clvae_buf_at(clvae_net_params(net), i - n_in), v, 1, &err);
        double fd = (l[0] - l[1]) / (2.0 * h);
        dot += fd * g;
        nfd += fd * fd;
        ng += (double)g * g;
        if (fabs(fd - g) > 3e-3 + 5e-2 * fabs(fd) && bad++ < 5)
            CHECK(0, "%s: %s %zu: backward %.6g, central difference %.6g", what,
                  is_x ? "input" : "param", is_x ? i : i - n_in, (double)g, fd);
    }
    double cosine = dot / sqrt(nfd * ng);
    CHECK(ng > 1e-6 && cosine > 0.999, "%s: cosine %.6f (gradient norm %g)", what, cosine, ng);
    fprintf(stderr, "%s: cosine %.6f over %zu inputs and %zu parameters\n", what, cosine, n_in,
            P);
    clvae_buf_free(&din);
    free(x), free(r), free(gx), free(gp), free(p), free(state);
    clvae_net_free(net);
    clvae_model_desc_free(&d);
    clvae_cfg_free(&cfg);
}

static void t_batchnorm_gradients_training(void)
{
    net_grad_check(TINY_BN, "tiny VAE with batchnorm, training mode", 1, 3e-3f);
}

static void t_batchnorm_gradients_evaluation(void)
{
    net_grad_check(TINY_BN, "tiny VAE with batchnorm, evaluation mode", 0, 3e-3f);
}

/* Group normalization has no running statistics: one check (its forward is the same in either
 * mode), on non-trivial weight and bias. */
static void t_groupnorm_gradients(void)
{
    net_grad_check(TINY_GN, "tiny VAE with groupnorm (map, flat, one group)", 0, 3e-3f);
}

static void t_upsample_gradients(void)
{
    net_grad_check(TINY_UP, "tiny classifier with [upsample] (factors 2 and 3)", 0, 3e-3f);
}

static void t_broadcast_add_gradients(void)
{
    net_grad_check(TINY_BCAST, "tiny classifier with a vector added to every pixel", 0, 3e-3f);
}

/* Parameters and input against central differences; the output depends on t (two examples of
 * one image at different steps differ); only a model with [time_embed] has a times buffer. */
static void t_diffusion_block_gradients(void)
{
    net_grad_check(TINY_DIFF, "tiny diffusion U-Net block (time_embed, broadcast add, groupnorm, "
                   "upsample, concat)", 0, 3e-3f);
    clvae_cfg_t cfg;
    clvae_model_desc_t d;
    REQUIRE(resolve(TINY_DIFF, &cfg, &d), "config");
    clvae_error_t err = {0};
    clvae_net_t *net = NULL, *plain = NULL;
    REQUIRE(clvae_net_init(&net, ctx, &d, 2, 0, &err) == CLVAE_OK, "%s", err.msg);
    CHECK(clvae_net_times(net).mem != NULL, "no times buffer in a model with [time_embed]");
    /* two examples of one image at different t: different outputs */
    float x[32], t[2] = {10.0f, 500.0f}, y[4];
    for (int k = 0; k < 32; k++) x[k] = (float)(k % 16) / 16.0f;
    REQUIRE(clvae_net_init_params(net, 3, &err) == CLVAE_OK &&
                clvae_buf_upload(ctx, clvae_net_input(net), x, 32, &err) == CLVAE_OK &&
                clvae_buf_upload(ctx, clvae_net_times(net), t, 2, &err) == CLVAE_OK &&
                clvae_net_forward(net, 2, &err) == CLVAE_OK &&
                clvae_buf_download(ctx, y, clvae_net_output(net, d.nlayers - 1, 0), 4, &err) ==
                    CLVAE_OK,
            "%s", err.msg);
    CHECK(y[0] != y[2] || y[1] != y[3], "the output does not depend on t");
    clvae_net_free(net);
    clvae_model_desc_free(&d);
    clvae_cfg_free(&cfg);
    REQUIRE(resolve(TINY_UP, &cfg, &d), "config");
    REQUIRE(clvae_net_init(&plain, ctx, &d, 2, 0, &err) == CLVAE_OK, "%s", err.msg);
    CHECK(clvae_net_times(plain).mem == NULL, "a times buffer in a model without [time_embed]");
    clvae_net_free(plain);
    clvae_model_desc_free(&d);
    clvae_cfg_free(&cfg);
}

/* The state: PyTorch's buffer names and shapes, the initial values (gamma 1, running_var 1),
 * training forwards move it (count + 1 each), evaluation forwards do not, and in evaluation
 * mode an example's output does not depend on the rest of its batch. */
static void t_batchnorm_state(void)
{
    clvae_cfg_t cfg;
    clvae_model_desc_t d;
    REQUIRE(resolve(TINY_BN, &cfg, &d), "config");
    char name[64];
    size_t off;
    int ndim, n = 0;
    uint64_t shape[4];
    const char *want[] = {"encoder.1.running_mean", "encoder.1.running_var",
                          "encoder.1.num_batches_tracked", "encoder.4.running_mean"};
    while (clvae_net_state_tensor(&d, n, name, sizeof name, &off, &ndim, shape)) {
        if (n < 4) CHECK(strcmp(name, want[n]) == 0, "state tensor %d is %s, want %s", n, name, want[n]);
        if (n == 2) CHECK(ndim == 0 && off == 6, "num_batches_tracked: ndim %d offset %zu", ndim, off);
        if (n == 3) CHECK(ndim == 1 && shape[0] == 5 && off == 7, "encoder.4.running_mean");
        n++;
    }
    CHECK(n == 9 && d.nstate == 7 + 11 + 5, "%d state tensors, %zu floats", n, d.nstate);
    CHECK(clvae_net_tensor(&d, 1, name, sizeof name, &off, &ndim, shape) &&
              strcmp(name, "encoder.1.weight") == 0 && ndim == 1 && shape[0] == 3,
          "the batchnorm weight is %s", name);
    clvae_error_t err = {0};
    clvae_net_t *net = NULL;
    size_t B = 8, D = 36, S = d.nstate;
    int last = d.nlayers - 1;
    REQUIRE(clvae_net_init(&net, ctx, &d, B, 0, &err) == CLVAE_OK, "%s", err.msg);
    REQUIRE(clvae_net_init_params(net, 3, &err) == CLVAE_OK, "%s", err.msg);
    float *st0 = malloc(S * sizeof *st0), *st1 = malloc(S * sizeof *st1);
    float *st2 = malloc(S * sizeof *st2), *x = malloc(B * D * sizeof *x);
    clvae_buf_download(ctx, st0, clvae_net_state(net), S, &err);
    CHECK(st0[0] == 0.0f && st0[3] == 1.0f && st0[6] == 0.0f, "initial state %g %g %g",
          (double)st0[0], (double)st0[3], (double)st0[6]);
    float g1[3];
    clvae_buf_download(ctx, g1, clvae_buf_at(clvae_net_params(net), d.layers[2].w_off), 3, &err);
    CHECK(g1[0] == 1.0f && g1[2] == 1.0f, "gamma starts at %g", (double)g1[0]);
    uint64_t seed = 4;
    tu_rand(x, B * D, 0.0f, 1.0f, &seed);
    clvae_net_set_sampling(net, 0, 0, 0);
    clvae_buf_upload(ctx, clvae_net_input(net), x, B * D, &err);
    clvae_net_set_training(net, 1);
    REQUIRE(clvae_net_forward(net, B, &err) == CLVAE_OK, "%s", err.msg);
    REQUIRE(clvae_net_forward(net, B, &err) == CLVAE_OK, "%s", err.msg);
    clvae_buf_download(ctx, st1, clvae_net_state(net), S, &err);
    CHECK(st1[6] == 2.0f && st1[17] == 2.0f && st1[22] == 2.0f, "counts %g %g %g", (double)st1[6],
          (double)st1[17], (double)st1[22]);
    CHECK(st1[0] != 0.0f && st1[3] != 1.0f, "running statistics did not move");
    clvae_net_set_training(net, 0);
    float *y8 = malloc(B * sizeof(float)), y1[1];
    REQUIRE(clvae_net_forward(net, B, &err) == CLVAE_OK, "%s", err.msg);
    clvae_buf_download(ctx, y8, clvae_net_output(net, last, 0), B, &err); /* first 8 pixels */
    clvae_buf_download(ctx, st2, clvae_net_state(net), S, &err);
    CHECK(memcmp(st1, st2, S * sizeof *st1) == 0, "an evaluation forward moved the state");
    REQUIRE(clvae_net_forward(net, 1, &err) == CLVAE_OK, "%s", err.msg);
    clvae_buf_download(ctx, y1, clvae_net_output(net, last, 0), 1, &err);
    CHECK(y1[0] == y8[0], "evaluation output depends on the batch: %.9g vs %.9g", (double)y1[0],
          (double)y8[0]);
    free(st0), free(st1), free(st2), free(x), free(y8);
    clvae_net_free(net);
    clvae_model_desc_free(&d);
    clvae_cfg_free(&cfg);
}

static void t_ae_gradients(void) { grad_check(TINY_AE, "tiny AE (dense, silu, MSE)"); }

/* A network that ends with a view ([reshape] of the last dense layer): the loss's gradient
 * lands in the view's source, which backward must neither zero nor overwrite. */
static void t_view_at_the_end_gradients(void)
{
    grad_check("[model]\nkind = ae\n[loss]\nreconstruction = bce\n[input]\nchannels = 1\n"
               "height = 4\nwidth = 4\n[flatten]\n[dense]\nunits = 5\nactivation = tanh\n"
               "[latent]\nsize = 3\n[dense]\nunits = 16\nactivation = sigmoid\n[reshape]\n"
               "channels = 1\nheight = 4\nwidth = 4\n",
               "tiny AE ending with [reshape] (BCE)");
    grad_check("[model]\nkind = ae\n[loss]\nreconstruction = mse_sum\n[input]\nchannels = 1\n"
               "height = 4\nwidth = 4\n[flatten]\n[dense]\nunits = 5\nactivation = tanh\n"
               "[latent]\nsize = 3\n[dense]\nunits = 16\nactivation = sigmoid\n[reshape]\n"
               "channels = 1\nheight = 4\nwidth = 4\n",
               "tiny AE ending with [reshape] (MSE)");
}

static void t_training_learns(void)
{
    /* 64 fixed images: training the tiny VAE for 300 steps must lower the loss a lot */
    clvae_cfg_t cfg;
    clvae_model_desc_t d;
    REQUIRE(resolve(TINY_VAE, &cfg, &d), "config");
    clvae_error_t err = {0};
    clvae_objective_t *m = NULL;
    size_t B = 64;
    d.lr = 0.01f;
    REQUIRE(clvae_objective_init(&m, ctx, &d, B, &err) == CLVAE_OK, "%s", err.msg);
    REQUIRE(clvae_objective_init_params(m, 1, &err) == CLVAE_OK, "%s", err.msg);
    size_t D = clvae_objective_example_dim(m);
    float *x = malloc(B * D * sizeof *x);
    for (size_t b = 0; b < B; b++) /* two kinds of images: a bar and a frame */
        for (size_t i = 0; i < D; i++) {
            size_t r = i / 6, c = i % 6;
            x[b * D + i] = (b % 2) ? (c == 2 || c == 3) : (r == 0 || r == 5 || c == 0 || c == 5);
        }
    clvae_buf_t none = {0};
    float first[CLVAE_OBJECTIVE_MAX_COLUMNS] = {0}, last[CLVAE_OBJECTIVE_MAX_COLUMNS] = {0};
    for (long step = 1; step <= 300; step++) {
        clvae_buf_upload(ctx, clvae_objective_input(m), x, B * D, &err);
        if (clvae_objective_forward(m, B, 1, 1, (uint64_t)step, none, &err) ||
            clvae_objective_backward(m, &err) || clvae_objective_step(m, step, &err)) {
            CHECK(0, "step %ld: %s", step, err.msg);
            break;
        }
        if (step == 1) clvae_objective_losses(m, first, &err);
        if (step == 300) clvae_objective_losses(m, last, &err);
    }
    CHECK(last[0] < 0.5f * first[0], "loss %g -> %g", (double)first[0],
          (double)last[0]);
    CHECK(fabsf(last[0] - (last[1] + last[2])) < 1e-3f * last[0],
          "total %g != recon %g + kl %g", (double)last[0], (double)last[1],
          (double)last[2]);
    free(x);
    clvae_objective_free(m);
    clvae_model_desc_free(&d);
    clvae_cfg_free(&cfg);
}

/* The encoder's output [B*D*P] of the tiny VQ-VAE (layer 1) into the codebook: each position's
 * own vector becomes code n*P + p, so q = z exactly (B*P = K). */
static int codebook_from_encoder(clvae_objective_t *m, const clvae_model_desc_t *d, size_t B,
                                 clvae_error_t *err)
{
    const clvae_layer_t *q = &d->layers[2];
    size_t D = q->vq_dim, P = q->out_h * q->out_w;
    float z[64], E[64];
    if (clvae_objective_activations(m, 1, z, err)) return 0;
    for (size_t n = 0; n < B; n++)
        for (size_t p = 0; p < P; p++)
            for (size_t k = 0; k < D; k++) E[(n * P + p) * D + k] = z[(n * D + k) * P + p];
    return clvae_buf_upload(ctx, clvae_buf_at(clvae_objective_params(m), q->w_off), E,
                            q->vq_codes * D, err) == CLVAE_OK;
}

/* The whole VQ-VAE's gradients. With the codebook set to the encoder's own outputs (q = z, so
 * the codebook and commitment terms and their gradients vanish), the straight-through
 * gradient of every encoder parameter must equal the central difference of recon(dec(z(w))):
 * the loss with the codebook reset to z(w) at each step. The decoder's against central
 * differences of the loss itself (codes unchanged). The codebook's gradient (its term alone,
 * by the stop-gradient) is checked by test_vq. */
static void t_vqvae_gradients(void)
{
    clvae_cfg_t cfg;
    clvae_model_desc_t d;
    REQUIRE(resolve(TINY_VQVAE, &cfg, &d), "config");
    clvae_error_t err = {0};
    clvae_objective_t *m = NULL;
    size_t B = 2;
    REQUIRE(clvae_objective_init(&m, ctx, &d, B, &err) == CLVAE_OK, "%s", err.msg);
    REQUIRE(clvae_objective_init_params(m, 5, &err) == CLVAE_OK, "%s", err.msg);
    float x[32];
    uint64_t seed = 13;
    tu_rand(x, 32, 0.05f, 0.95f, &seed);
    clvae_buf_upload(ctx, clvae_objective_input(m), x, 32, &err);
    REQUIRE(!isnan(loss_now(m, B, &err)) && codebook_from_encoder(m, &d, B, &err), "%s",
            err.msg);
    float l[CLVAE_OBJECTIVE_MAX_COLUMNS];
    double l0 = loss_now(m, B, &err);
    REQUIRE(clvae_objective_losses(m, l, &err) == CLVAE_OK, "%s", err.msg);
    CHECK(isfinite(l0) && l[3] < 1e-9, "loss %g, commitment %g: q = z", l0, (double)l[3]);
    REQUIRE(clvae_objective_backward(m, &err) == CLVAE_OK, "%s", err.msg);
    size_t P = d.nparams, enc_end = d.layers[2].w_off;
    float *g = malloc(P * sizeof *g), *p = malloc(P * sizeof *p);
    clvae_buf_download(ctx, g, clvae_objective_grads(m), P, &err);
    clvae_buf_download(ctx, p, clvae_objective_params(m), P, &err);
    const float h = 1e-2f;
    double dot = 0, nfd = 0, ng = 0;
    int bad = 0;
    for (size_t i = 0; i < P; i++) {
        if (i >= enc_end && i < enc_end + d.layers[2].w_len) continue; /* the codebook */
        double lpm[2];
        for (int sgn = 0; sgn < 2; sgn++) {
            float v = p[i] + (sgn ? -h : h);
            clvae_buf_upload(ctx, clvae_buf_at(clvae_objective_params(m), i), &v, 1, &err);
            if (i < enc_end) { /* an encoder weight: q follows z */
                loss_now(m, B, &err);
                codebook_from_encoder(m, &d, B, &err);
            }
            lpm[sgn] = loss_now(m, B, &err);
        }
        clvae_buf_upload(ctx, clvae_buf_at(clvae_objective_params(m), i), &p[i], 1, &err);
        if (i < enc_end) {
            loss_now(m, B, &err);
            codebook_from_encoder(m, &d, B, &err);
        }
        double fd = (lpm[0] - lpm[1]) / (2.0 * h);
        dot += fd * g[i];
        nfd += fd * fd;
        ng += (double)g[i] * g[i];
        if (fabs(fd - g[i]) > 3e-3 + 5e-2 * fabs(fd) && bad++ < 5)
            CHECK(0, "param %zu (%s): backward %.6g, central difference %.6g", i,
                  i < enc_end ? "encoder" : "decoder", (double)g[i], fd);
    }
    double cosine = dot / sqrt(nfd * ng);
    CHECK(ng > 1e-6 && cosine > 0.999, "cosine of backward and central differences %.6f", cosine);
    fprintf(stderr, "tiny VQ-VAE: cosine %.6f over the encoder and decoder parameters\n", cosine);
    free(g);
    free(p);
    clvae_objective_free(m);
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
    while (clvae_net_tensor(&d, n, name, sizeof name, &off, &ndim, shape)) {
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
    RUN(t_act_in_place);
    RUN(t_one_writer);
    RUN(t_ae_gradients);
    RUN(t_view_at_the_end_gradients);
    RUN(t_beta_vae_gradients);
    RUN(t_cvae_gradients);
    RUN(t_unet_gradients);
    RUN(t_input_gradient);
    RUN(t_labels_and_beta_matter);
    RUN(t_training_learns);
    RUN(t_tensor_names);
    RUN(t_batchnorm_gradients_training);
    RUN(t_batchnorm_gradients_evaluation);
    RUN(t_batchnorm_state);
    RUN(t_groupnorm_gradients);
    RUN(t_upsample_gradients);
    RUN(t_broadcast_add_gradients);
    RUN(t_diffusion_block_gradients);
    RUN(t_vqvae_gradients);
    tu_print_errors();
    clvae_ctx_free(ctx);
    return TEST_EXIT();
}
