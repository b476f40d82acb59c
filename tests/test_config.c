/* Config files: the thesis model resolves to the right shapes and sizes; every error kind is caught. */
#define TEST_FILE "test_config"
#include "test.h"

#include "clvae/train/anneal.h"
#include "clvae/net/config.h"

static const char *thesis = "models/mnist_vae.cfg";

static void t_thesis_model(void)
{
    clvae_cfg_t cfg;
    clvae_error_t err = {0};
    REQUIRE(clvae_cfg_load(&cfg, thesis, &err) == CLVAE_OK, "%s", err.msg);
    clvae_model_desc_t m;
    REQUIRE(clvae_model_resolve(&m, &cfg, &err) == CLVAE_OK, "%s", err.msg);
    CHECK(strcmp(m.name, "mnist_vae") == 0 && m.variational == 1, "name %s", m.name);
    CHECK(m.epochs == 500 && m.batch == 128 && m.lr == 1e-3f && m.beta == 1.0f,
          "epochs %ld batch %zu lr %g", m.epochs, m.batch, (double)m.lr);
    CHECK(m.nlayers == 13 && m.latent == 6, "layers %d latent at %d", m.nlayers, m.latent);
    /* output shapes, layer by layer (c, h, w) */
    static const size_t want[13][3] = {{1, 28, 28}, {32, 28, 28}, {64, 14, 14}, {64, 7, 7},
                                       {64, 7, 7},  {3136, 1, 1}, {2, 1, 1},    {3136, 1, 1},
                                       {64, 7, 7},  {64, 7, 7},   {64, 14, 14}, {32, 28, 28},
                                       {1, 28, 28}};
    for (int i = 0; i < m.nlayers && i < 13; i++)
        CHECK(m.layers[i].out_c == want[i][0] && m.layers[i].out_h == want[i][1] &&
                  m.layers[i].out_w == want[i][2],
              "layer %d (%s): %zux%zux%zu", i, clvae_layer_kind_name(m.layers[i].kind),
              m.layers[i].out_c, m.layers[i].out_h, m.layers[i].out_w);
    /* 207,237 parameters: Keras' summary of this VAE (encoder 105,220 + decoder 102,017) */
    CHECK(m.nparams == 207237, "parameters %zu", m.nparams);
    /* forward FLOPs per image: 29,842,176 (x3 for a training step: the DESIGN's ~89 MFLOP) */
    CHECK(clvae_model_flops(&m) == 29842176.0, "flops %.0f", clvae_model_flops(&m));
    /* bench's traffic model at batch 2: conv1 reads the data (no gradient into it), the
     * latent reads a view of conv4 (its gradient goes there) and has two heads */
    double f, b;
    clvae_layer_traffic(&m, 1, 2, &f, &b);
    CHECK(f == 4.0 * (2 * (784 + 25088) + 320) && b == 4.0 * (2 * (25088 + 784) + 640),
          "conv1 traffic %.0f %.0f", f, b);
    clvae_layer_traffic(&m, 6, 2, &f, &b);
    CHECK(f == 4.0 * (2 * (3136 + 2) + 12548) && b == 4.0 * (2 * (2 + 3136 + 3136) + 25096),
          "latent traffic %.0f %.0f", f, b);
    clvae_layer_traffic(&m, 5, 2, &f, &b);
    CHECK(f == 0 && b == 0, "flatten traffic %.0f %.0f", f, b);
    clvae_layer_traffic(&m, 0, 2, &f, &b);
    CHECK(f == 0 && b == 0, "input traffic %.0f %.0f", f, b);
    CHECK(m.layers[1].act == CLVAE_ACT_LEAKY_RELU && m.layers[1].slope == 0.3f, "leaky 0.3");
    CHECK(m.layers[12].act == CLVAE_ACT_SIGMOID, "sigmoid out");
    clvae_model_desc_free(&m);
    clvae_cfg_free(&cfg);
}

/* Parses text (with optional overrides) and resolves it; returns the status, err set. */
static clvae_status_t try_cfg(const char *text, const char *set, clvae_error_t *err)
{
    clvae_cfg_t cfg;
    clvae_error_clear(err);
    clvae_status_t s = clvae_cfg_parse(&cfg, text, strlen(text), "t.cfg", err);
    if (s) return s;
    if (set) s = clvae_cfg_set(&cfg, set, err);
    clvae_model_desc_t m;
    if (!s) s = clvae_model_resolve(&m, &cfg, err);
    if (!s) clvae_model_desc_free(&m);
    clvae_cfg_free(&cfg);
    return s;
}

#define SMALL_HEAD "[input]\nchannels = 1\nheight = 8\nwidth = 8\n[flatten]\n"
#define SMALL_TAIL "[latent]\nsize = 2\n[dense]\nunits = 64\nactivation = sigmoid\n"

static void t_small_valid_and_format(void)
{
    clvae_error_t err = {0};
    const char *ok = "; a comment\r\n[model]   # trailing comment\r\nkind = ae ; inline\r\n" SMALL_HEAD
                     SMALL_TAIL;
    CHECK(try_cfg(ok, NULL, &err) == CLVAE_OK, "CRLF + comments: %s", err.msg);
    /* format -> parse gives the same sections and values */
    clvae_cfg_t a, b;
    REQUIRE(clvae_cfg_parse(&a, ok, strlen(ok), "t.cfg", &err) == CLVAE_OK, "%s", err.msg);
    char *text = clvae_cfg_format(&a);
    REQUIRE(text && clvae_cfg_parse(&b, text, strlen(text), "t.cfg", &err) == CLVAE_OK, "%s",
            err.msg);
    CHECK(a.nsections == b.nsections && strcmp(b.sections[0].entries[0].value, "ae") == 0,
          "round trip: %s", text);
    free(text);
    clvae_cfg_free(&a);
    clvae_cfg_free(&b);
}

/* Each error kind: status, and words the message must contain. */
static void expect(const char *text, const char *set, clvae_status_t want, const char *w1,
                   const char *w2)
{
    clvae_error_t err = {0};
    clvae_status_t s = try_cfg(text, set, &err);
    CHECK(s == want, "got %s for: %s", clvae_status_name(s), text);
    CHECK(strstr(err.msg, w1) != NULL, "message '%s' lacks '%s'", err.msg, w1);
    if (w2) CHECK(strstr(err.msg, w2) != NULL, "message '%s' lacks '%s'", err.msg, w2);
    clvae_error_clear(&err);
}

static void t_error_kinds(void)
{
    const clvae_status_t I = CLVAE_ERR_INVALID;
    expect("", NULL, I, "t.cfg", "no sections");
    expect("# only comments\n", NULL, I, "t.cfg", "no sections");
    expect("key = 1\n[model]\n", NULL, I, "t.cfg:1", "before any [section]");
    expect("[model]\nname\n", NULL, I, "t.cfg:2", "expected [section] or key = value");
    expect("[model]\nname =\n", NULL, I, "t.cfg:2", "has no value");
    expect("[model]\nname = a\nname = b\n", NULL, I, "t.cfg:3", "given twice");
    expect("[model\n", NULL, I, "t.cfg:1", "[name]");
    expect("[Model]\n", NULL, I, "t.cfg:1", "lower-case");
    expect("[modle]\n" SMALL_HEAD SMALL_TAIL, NULL, I, "t.cfg:1", "unknown section [modle]");
    expect("[train]\nepohcs = 3\n" SMALL_HEAD SMALL_TAIL, NULL, I, "t.cfg:2",
           "unknown key 'epohcs' (allowed: epochs");
    expect("[train]\nepochs = -3\n" SMALL_HEAD SMALL_TAIL, NULL, I, "t.cfg:2",
           "epochs = -3: must be an integer from 1 to");
    expect("[train]\nbatch = 99999999999999999999999\n" SMALL_HEAD SMALL_TAIL, NULL, I,
           "t.cfg:2", "batch");
    expect("[train]\nlr = fast\n" SMALL_HEAD SMALL_TAIL, NULL, I, "lr = fast", "must be a number");
    expect("[train]\nlr = 1e999\n" SMALL_HEAD SMALL_TAIL, NULL, I, "lr = 1e999", "number");
    expect("[loss]\nreconstruction = l1\n" SMALL_HEAD SMALL_TAIL, NULL, I, "reconstruction = l1",
           "one of bce, mse_sum, mse_mean");
    expect("[conv]\nfilters = 2\n" SMALL_HEAD SMALL_TAIL, NULL, I, "t.cfg:1",
           "first layer section must be [input]");
    expect(SMALL_HEAD "[dense]\nunits = 4\n", NULL, I, "t.cfg", "no [latent] section");
    expect(SMALL_HEAD SMALL_TAIL "[latent]\nsize = 2\n", NULL, I, "second [latent]", NULL);
    expect(SMALL_HEAD "[latent]\nsize = 2\n[reshape]\nchannels = 1\nheight = 8\nwidth = 8\n",
           NULL, I, "[reshape] 1x8x8 = 64 values, but its input has 2", NULL);
    expect("[input]\nchannels = 1\nheight = 8\nwidth = 8\n[dense]\nunits = 3\n" SMALL_TAIL, NULL,
           I, "needs flat input", "add a [flatten]");
    expect(SMALL_HEAD "[conv]\nfilters = 2\n" SMALL_TAIL, NULL, I, "add a [reshape]", NULL);
    expect("[input]\nchannels = 1\nheight = 8\nwidth = 8\n[conv]\nfilters = 2\nstride = 0\n"
           "[flatten]\n" SMALL_TAIL,
           NULL, I, "stride = 0", "from 1 to 64");
    expect("[input]\nchannels = 1\nheight = 2\nwidth = 2\n[conv]\nfilters = 2\nsize = 5\n"
           "padding = valid\n[flatten]\n[latent]\nsize = 2\n[dense]\nunits = 4\n"
           "activation = sigmoid\n",
           NULL, I, "[conv] on a 1x2x2 input", NULL);
    expect(SMALL_HEAD "[latent]\nsize = 2\n[dense]\nunits = 63\nactivation = sigmoid\n", NULL, I,
           "decoder ends with 63x1x1", "input is 1x8x8");
    expect(SMALL_HEAD "[latent]\nsize = 2\n[dense]\nunits = 64\n", NULL, I,
           "must be sigmoid", NULL);
    expect(SMALL_HEAD "[latent]\nsize = 2\n[dense]\nunits = 64\nactivation = swishy\n", NULL, I,
           "activation = swishy", NULL);
    expect(SMALL_HEAD "[latent]\nsize = 2\n[dense]\nunits = 16\n[reshape]\nchannels = 1\n"
           "height = 4\nwidth = 4\n[deconv]\nfilters = 1\nstride = 2\noutput_padding = 1\n"
           "activation = sigmoid\n",
           NULL, I, "output_padding needs explicit padding", NULL);
    /* overrides */
    expect(SMALL_HEAD SMALL_TAIL, "train.epochs=3", I, "no section [train]", NULL);
    expect("[train]\n" SMALL_HEAD SMALL_TAIL, "train.epochs", I, "SECTION.KEY=VALUE", NULL);
    expect("[train]\n" SMALL_HEAD SMALL_TAIL, "train.epochs=0", I, "--set train.epochs=0",
           "from 1 to");
    expect("[train]\n" SMALL_HEAD "[dense]\nunits=64\n[dense]\nunits=64\n" SMALL_TAIL,
           "dense.units=3", I, "3 [dense] sections", "dense#K.units");
    expect("[train]\n" SMALL_HEAD SMALL_TAIL, "train.bogus=1", I, "--set train.bogus",
           "unknown key");
    /* a value a file could not hold (it would not survive clvae_cfg_format; found by fuzzing) */
    expect("[model]\n" SMALL_HEAD SMALL_TAIL, "model.name=a #b", I, "--set model.name=a #b",
           "comment");
    expect("[model]\n" SMALL_HEAD SMALL_TAIL, "model.name=a\n[train]", I, "line break", NULL);
    /* sizes whose product would wrap around (2^40 inputs x 2^24 units = 2^64 weights) */
    expect("[input]\nchannels = 4096\nheight = 16384\nwidth = 16384\n[flatten]\n[dense]\n"
           "units = 16777216\n" SMALL_TAIL,
           NULL, I, "[dense] is too large", "at most 2^40");
}

/* A value starting with # or ; is a value, and must stay one through format and parse. */
static void t_format_keeps_hash_values(void)
{
    clvae_error_t err = {0};
    const char *text = "[model]\nname =#1\n[data]\ntrain =;x\n";
    clvae_cfg_t a, b;
    REQUIRE(clvae_cfg_parse(&a, text, strlen(text), "t.cfg", &err) == CLVAE_OK, "%s", err.msg);
    char *out = clvae_cfg_format(&a);
    REQUIRE(out && clvae_cfg_parse(&b, out, strlen(out), "t.cfg", &err) == CLVAE_OK, "%s: %s",
            err.msg, out ? out : "");
    CHECK(strcmp(b.sections[0].entries[0].value, "#1") == 0 &&
              strcmp(b.sections[1].entries[0].value, ";x") == 0,
          "round trip lost a value: %s", out);
    free(out);
    clvae_cfg_free(&a);
    clvae_cfg_free(&b);
}

static void t_binary_garbage(void)
{
    static const char text[] = "[model]\nname = a\x01\x00zz\n";
    clvae_cfg_t cfg;
    clvae_error_t err = {0};
    CHECK(clvae_cfg_parse(&cfg, text, sizeof text - 1, "t.cfg", &err) == CLVAE_ERR_INVALID,
          "NUL byte accepted");
    CHECK(strstr(err.msg, "t.cfg:2") && strstr(err.msg, "NUL"), "%s", err.msg);
}

static void t_huge_lines(void)
{
    /* a 1 MB value and a 1 MB key: errors with the line number, no crash or truncation */
    size_t big = 1 << 20;
    char *text = malloc(big + 64);
    REQUIRE(text, "malloc");
    strcpy(text, "[model]\nname = ");
    size_t n = strlen(text);
    memset(text + n, 'a', big);
    strcpy(text + n + big, "\n");
    clvae_cfg_t cfg;
    clvae_model_desc_t d;
    clvae_error_t err = {0};
    REQUIRE(clvae_cfg_parse(&cfg, text, strlen(text), "t.cfg", &err) == CLVAE_OK, "%s", err.msg);
    CHECK(clvae_model_resolve(&d, &cfg, &err) == CLVAE_ERR_INVALID && strstr(err.msg, "t.cfg:2") &&
              strstr(err.msg, "too long"),
          "%.200s", err.msg);
    clvae_cfg_free(&cfg);
    strcpy(text, "[model]\n");
    n = strlen(text);
    memset(text + n, 'k', big);
    strcpy(text + n + big, " = 1\n");
    CHECK(clvae_cfg_parse(&cfg, text, strlen(text), "t.cfg", &err) == CLVAE_OK, "%.200s", err.msg);
    CHECK(clvae_model_resolve(&d, &cfg, &err) == CLVAE_ERR_INVALID && strstr(err.msg, "t.cfg:2") &&
              strstr(err.msg, "unknown key"),
          "%.200s", err.msg);
    clvae_cfg_free(&cfg);
    free(text);
}

static void t_overrides_apply(void)
{
    clvae_cfg_t cfg;
    clvae_error_t err = {0};
    REQUIRE(clvae_cfg_load(&cfg, thesis, &err) == CLVAE_OK, "%s", err.msg);
    CHECK(clvae_cfg_set(&cfg, "train.epochs=3", &err) == CLVAE_OK, "%s", err.msg);
    CHECK(clvae_cfg_set(&cfg, "conv#2.filters = 48", &err) == CLVAE_OK, "%s", err.msg);
    CHECK(clvae_cfg_set(&cfg, "latent.size=16", &err) == CLVAE_OK, "%s", err.msg);
    CHECK(clvae_cfg_set(&cfg, "conv#9.filters=1", &err) == CLVAE_ERR_INVALID, "conv#9 accepted");
    clvae_model_desc_t m;
    REQUIRE(clvae_model_resolve(&m, &cfg, &err) == CLVAE_OK, "%s", err.msg);
    CHECK(m.epochs == 3, "epochs %ld", m.epochs);
    CHECK(m.layers[2].out_c == 48 && m.layers[3].in_c == 48, "conv#2 filters %zu",
          m.layers[2].out_c);
    CHECK(m.layers[m.latent].units == 16, "latent %zu", m.layers[m.latent].units);
    clvae_model_desc_free(&m);
    clvae_cfg_free(&cfg);
}

/* Resolves text into m (1 on success; the message goes to stderr otherwise). */
static int resolve_text(const char *text, clvae_model_desc_t *m)
{
    clvae_cfg_t cfg;
    clvae_error_t err = {0};
    int ok = clvae_cfg_parse(&cfg, text, strlen(text), "t.cfg", &err) == CLVAE_OK &&
             clvae_model_resolve(m, &cfg, &err) == CLVAE_OK;
    if (!ok) fprintf(stderr, "  %s\n", err.msg);
    clvae_cfg_free(&cfg);
    return ok;
}

static void t_noise_keys(void)
{
    clvae_model_desc_t m;
    /* defaults: no noise; std 0.5 clipped, p 0.3 ready for when a type is chosen */
    REQUIRE(resolve_text(SMALL_HEAD SMALL_TAIL, &m), "defaults");
    CHECK(m.noise.kind == CLVAE_NOISE_NONE && m.noise.std == 0.5f && m.noise.clip == 1 &&
              m.noise.p == 0.3f,
          "defaults %d %g %d %g", (int)m.noise.kind, (double)m.noise.std, m.noise.clip,
          (double)m.noise.p);
    clvae_model_desc_free(&m);
    REQUIRE(resolve_text("[noise]\ntype = gaussian\nstd = 0.25\nclip = 0\n" SMALL_HEAD SMALL_TAIL,
                         &m), "gaussian");
    CHECK(m.noise.kind == CLVAE_NOISE_GAUSSIAN && m.noise.std == 0.25f && m.noise.clip == 0,
          "gaussian %d %g %d", (int)m.noise.kind, (double)m.noise.std, m.noise.clip);
    clvae_model_desc_free(&m);
    REQUIRE(resolve_text("[noise]\ntype = mask\np = 0.75\n" SMALL_HEAD SMALL_TAIL, &m), "mask");
    CHECK(m.noise.kind == CLVAE_NOISE_MASK && m.noise.p == 0.75f, "mask %d %g",
          (int)m.noise.kind, (double)m.noise.p);
    clvae_model_desc_free(&m);
    /* the model configs resolve with their parameter counts (check-config prints them) */
    static const struct { const char *path; size_t params; int kind; size_t K; } files[] = {
        {"models/mnist_dae.cfg", 288785, CLVAE_NOISE_GAUSSIAN, 0},
        {"models/mnist_beta_vae.cfg", 207237, CLVAE_NOISE_NONE, 0},
        {"models/mnist_cvae.cfg", 241477, CLVAE_NOISE_NONE, 10},
        {"models/mnist_superres.cfg", 334017, CLVAE_NOISE_DOWNSAMPLE, 0},
    };
    for (size_t i = 0; i < 4; i++) {
        clvae_cfg_t cfg;
        clvae_error_t err = {0};
        if (clvae_cfg_load(&cfg, files[i].path, &err) || clvae_model_resolve(&m, &cfg, &err)) {
            CHECK(0, "%s: %s", files[i].path, err.msg);
            clvae_cfg_free(&cfg);
            continue;
        }
        CHECK(m.nparams == files[i].params && (int)m.noise.kind == files[i].kind &&
                  m.conditional == files[i].K,
              "%s: %zu parameters, noise %d, conditional %zu", files[i].path, m.nparams,
              (int)m.noise.kind, m.conditional);
        clvae_model_desc_free(&m);
        clvae_cfg_free(&cfg);
    }
    const clvae_status_t I = CLVAE_ERR_INVALID;
    expect("[noise]\ntype = salt\n" SMALL_HEAD SMALL_TAIL, NULL, I, "t.cfg:2",
           "type = salt: must be one of none, gaussian, mask");
    expect("[noise]\ntype = gaussian\nstd = -0.1\n" SMALL_HEAD SMALL_TAIL, NULL, I, "t.cfg:3",
           "std = -0.1: must be a number from 0 to 100");
    expect("[noise]\nstd = nan\n" SMALL_HEAD SMALL_TAIL, NULL, I, "std = nan", "number");
    expect("[noise]\nclip = 2\n" SMALL_HEAD SMALL_TAIL, NULL, I, "t.cfg:2", "one of 0, 1");
    expect("[noise]\np = 1.5\n" SMALL_HEAD SMALL_TAIL, NULL, I, "p = 1.5", "from 0 to 1");
    expect("[noise]\ntype = mask\nsigma = 1\n" SMALL_HEAD SMALL_TAIL, NULL, I, "t.cfg:3",
           "unknown key 'sigma' (allowed: type, std, clip, p, factor)");
    /* downsampling: its factor, the input's planes; a factor that does not divide them */
    expect("[noise]\ntype = downsample\nfactor = 5\n" SMALL_HEAD SMALL_TAIL, NULL, I, "t.cfg:3",
           "factor = 5: must be one of 1, 2, 3, 4");
    REQUIRE(resolve_text("[noise]\ntype = downsample\nfactor = 4\n" SMALL_HEAD SMALL_TAIL, &m),
            "downsample");
    CHECK(m.noise.kind == CLVAE_NOISE_DOWNSAMPLE && m.noise.factor == 4 &&
              m.noise.h == m.layers[0].out_h && m.noise.w == m.layers[0].out_w,
          "downsample %d, factor %d, %zux%zu", (int)m.noise.kind, m.noise.factor, m.noise.h,
          m.noise.w);
    clvae_model_desc_free(&m);
    expect("[noise]\ntype = downsample\nfactor = 3\n" SMALL_HEAD SMALL_TAIL, NULL, I, "t.cfg:1",
           "factor = 3: want 2 or more, dividing the input's 8x8");
    expect("[noise]\n[noise]\n" SMALL_HEAD SMALL_TAIL, NULL, I, "t.cfg:2", "second [noise]");
    expect("[noise]\ntype = mask\n" SMALL_HEAD SMALL_TAIL, "noise.p=-1", I, "--set noise.p=-1",
           "from 0 to 1");
}

static void t_beta_schedules(void)
{
    clvae_model_desc_t m;
    /* constant: beta every epoch */
    REQUIRE(resolve_text("[loss]\nbeta = 4\n" SMALL_HEAD SMALL_TAIL, &m), "constant");
    CHECK(m.beta_schedule == CLVAE_BETA_CONSTANT && clvae_beta_at(&m, 0) == 4.0f &&
              clvae_beta_at(&m, 99) == 4.0f, "constant %g", (double)clvae_beta_at(&m, 0));
    clvae_model_desc_free(&m);
    /* linear from 0 to beta (4) over 10 epochs: 0, 0.4, ..., 3.6, then 4 */
    REQUIRE(resolve_text("[loss]\nbeta = 4\nbeta_schedule = linear\nwarmup_epochs = 10\n"
                         SMALL_HEAD SMALL_TAIL, &m), "linear");
    static const float lin[] = {0.0f, 0.4f, 0.8f, 1.2f, 1.6f, 2.0f, 2.4f, 2.8f, 3.2f, 3.6f,
                                4.0f, 4.0f};
    for (long e = 0; e < 12; e++)
        CHECK(clvae_beta_at(&m, e) == lin[e], "linear epoch %ld: %.9g, want %.9g", e,
              (double)clvae_beta_at(&m, e), (double)lin[e]);
    CHECK(clvae_beta_at(&m, 1000) == 4.0f && m.beta_start == 0.0f && m.beta_end == 4.0f,
          "after the warm-up %g", (double)clvae_beta_at(&m, 1000));
    clvae_model_desc_free(&m);
    /* linear between explicit ends, downwards */
    REQUIRE(resolve_text("[loss]\nbeta_schedule = linear\nbeta_start = 2\nbeta_end = 1\n"
                         "warmup_epochs = 4\n" SMALL_HEAD SMALL_TAIL, &m), "linear down");
    CHECK(clvae_beta_at(&m, 0) == 2.0f && clvae_beta_at(&m, 1) == 1.75f &&
              clvae_beta_at(&m, 2) == 1.5f && clvae_beta_at(&m, 4) == 1.0f,
          "down: %g %g %g %g", (double)clvae_beta_at(&m, 0), (double)clvae_beta_at(&m, 1),
          (double)clvae_beta_at(&m, 2), (double)clvae_beta_at(&m, 4));
    clvae_model_desc_free(&m);
    /* cyclical: 4-epoch cycles rising over the first half: 0, 0.5, 1, 1, 0, 0.5, ... */
    REQUIRE(resolve_text("[loss]\nbeta_schedule = cyclical\ncycle_epochs = 4\nramp = 0.5\n"
                         SMALL_HEAD SMALL_TAIL, &m), "cyclical");
    static const float cyc[] = {0.0f, 0.5f, 1.0f, 1.0f, 0.0f, 0.5f, 1.0f, 1.0f, 0.0f};
    for (long e = 0; e < 9; e++)
        CHECK(clvae_beta_at(&m, e) == cyc[e], "cyclical epoch %ld: %g, want %g", e,
              (double)clvae_beta_at(&m, e), (double)cyc[e]);
    clvae_model_desc_free(&m);
    /* cyclical 5-epoch cycles, ramp 0.8 (4 epochs) from 0.5 to 2.5: 0.5 1 1.5 2 2.5 | 0.5 */
    REQUIRE(resolve_text("[loss]\nbeta_schedule = cyclical\ncycle_epochs = 5\nramp = 0.8\n"
                         "beta_start = 0.5\nbeta_end = 2.5\n" SMALL_HEAD SMALL_TAIL, &m),
            "cyclical 5");
    static const float cyc5[] = {0.5f, 1.0f, 1.5f, 2.0f, 2.5f, 0.5f, 1.0f};
    for (long e = 0; e < 7; e++)
        CHECK(clvae_beta_at(&m, e) == cyc5[e], "cyclical/5 epoch %ld: %.9g, want %g", e,
              (double)clvae_beta_at(&m, e), (double)cyc5[e]);
    clvae_model_desc_free(&m);
    /* models/mnist_beta_vae.cfg: 0 to 4 over 10 epochs */
    clvae_cfg_t cfg;
    clvae_error_t err = {0};
    REQUIRE(clvae_cfg_load(&cfg, "models/mnist_beta_vae.cfg", &err) == CLVAE_OK &&
                clvae_model_resolve(&m, &cfg, &err) == CLVAE_OK,
            "%s", err.msg);
    CHECK(clvae_beta_at(&m, 0) == 0.0f && clvae_beta_at(&m, 5) == 2.0f &&
              clvae_beta_at(&m, 10) == 4.0f, "mnist_beta_vae: %g %g %g",
          (double)clvae_beta_at(&m, 0), (double)clvae_beta_at(&m, 5),
          (double)clvae_beta_at(&m, 10));
    clvae_model_desc_free(&m);
    clvae_cfg_free(&cfg);
    const clvae_status_t I = CLVAE_ERR_INVALID;
    expect("[loss]\nbeta_schedule = cosine\n" SMALL_HEAD SMALL_TAIL, NULL, I, "t.cfg:2",
           "one of constant, linear, cyclical");
    expect("[loss]\nbeta_schedule = linear\nwarmup_epochs = 0\n" SMALL_HEAD SMALL_TAIL, NULL, I,
           "t.cfg:3", "warmup_epochs = 0: must be an integer from 1 to");
    expect("[loss]\ncycle_epochs = -2\n" SMALL_HEAD SMALL_TAIL, NULL, I, "cycle_epochs = -2",
           "integer");
    expect("[loss]\nbeta_schedule = cyclical\nramp = 0\n" SMALL_HEAD SMALL_TAIL, NULL, I,
           "t.cfg:3", "ramp = 0: must be a fraction of the cycle above 0");
    expect("[loss]\nramp = 1.5\n" SMALL_HEAD SMALL_TAIL, NULL, I, "ramp = 1.5", "from 0 to 1");
    expect("[loss]\nbeta_end = -1\n" SMALL_HEAD SMALL_TAIL, NULL, I, "beta_end = -1", "number");
    expect("[loss]\nbeta_stat = 1\n" SMALL_HEAD SMALL_TAIL, NULL, I, "unknown key 'beta_stat'",
           "beta_schedule, beta_start, beta_end, warmup_epochs, cycle_epochs, ramp");
}

static void t_conditional(void)
{
    clvae_model_desc_t m;
    /* the first layer sees 1 + 10 channels, the first decoder layer 2 + 10 inputs */
    REQUIRE(resolve_text("[model]\nconditional = 10\n[input]\nchannels = 1\nheight = 8\n"
                         "width = 8\n[conv]\nfilters = 4\n[flatten]\n" SMALL_TAIL, &m),
            "conditional conv");
    /* layers 1 and latent + 1 are the implicit label layers that join the one-hot label */
    CHECK(m.layers[1].kind == CLVAE_LAYER_LABELS && m.layers[1].implicit &&
              m.layers[m.latent + 1].kind == CLVAE_LAYER_LABELS,
          "label layers %d, %d", (int)m.layers[1].kind, (int)m.layers[m.latent + 1].kind);
    CHECK(m.conditional == 10 && m.layers[2].in_c == 11 && m.layers[2].w_len == 4 * 11 * 9 &&
              m.layers[m.latent + 2].in_c == 12 && m.layers[m.latent + 2].w_len == 64 * 12,
          "in %zu, decoder in %zu", m.layers[2].in_c, m.layers[m.latent + 2].in_c);
    CHECK(m.nparams == (4 * 11 * 9 + 4) + (2 * 256 + 2) * 2 + (64 * 12 + 64), "params %zu",
          m.nparams);
    clvae_model_desc_free(&m);
    /* a flatten first: the label planes flatten with the image (K x H x W more values) */
    REQUIRE(resolve_text("[model]\nconditional = 3\n" SMALL_HEAD SMALL_TAIL, &m), "flatten");
    CHECK(m.layers[2].out_c == 4 * 64 && m.layers[m.latent].in_c == 256, "flatten %zu",
          m.layers[2].out_c);
    clvae_model_desc_free(&m);
    const clvae_status_t I = CLVAE_ERR_INVALID;
    expect("[model]\nconditional = 1\n" SMALL_HEAD SMALL_TAIL, NULL, I, "t.cfg:2",
           "at least 2");
    expect("[model]\nconditional = ten\n" SMALL_HEAD SMALL_TAIL, NULL, I, "conditional = ten",
           "integer from 0 to 4096");
    expect("[model]\nconditional = 10\n" SMALL_HEAD "[latent]\nsize = 4\n[reshape]\n"
           "channels = 1\nheight = 2\nwidth = 2\n[deconv]\nfilters = 1\nstride = 4\n"
           "activation = sigmoid\n", NULL, I, "t.cfg:10", "first decoder layer must be a [dense]");
}

/* A small graph: two convs, a skip as [add], another as [concat], names and from =. */
#define GRAPH_HEAD "[input]\nname = x\nchannels = 1\nheight = 8\nwidth = 8\n"                   \
                   "[conv]\nname = a\nfilters = 2\n[conv]\nname = b\nfilters = 2\n"
#define GRAPH_TAIL "[flatten]\n" SMALL_TAIL

static void t_graph_layers(void)
{
    clvae_model_desc_t m;
    /* b's output and a's meet in [add]; the concat joins x and the sum */
    REQUIRE(resolve_text(GRAPH_HEAD "[add]\nname = s\nfrom = a, b\n[concat]\nfrom = x, s\n"
                         GRAPH_TAIL, &m), "graph");
    const clvae_layer_t *add = &m.layers[3], *cat = &m.layers[4];
    CHECK(add->kind == CLVAE_LAYER_ADD && add->nfrom == 2 && add->from[0] == 1 &&
              add->from[1] == 2 && add->out_c == 2 && add->out_h == 8,
          "add: kind %d from %d,%d out %zu", (int)add->kind, add->from[0], add->from[1],
          add->out_c);
    CHECK(cat->kind == CLVAE_LAYER_CONCAT && cat->from[0] == 0 && cat->from[1] == 3 &&
              cat->out_c == 3 && cat->out_h == 8 && cat->w_len == 0,
          "concat: out %zux%zux%zu", cat->out_c, cat->out_h, cat->out_w);
    CHECK(m.layers[2].from[0] == 1 && m.layers[2].nfrom == 1, "default from: the layer above");
    CHECK(strcmp(m.layers[3].name, "s") == 0 && strcmp(m.layers[5].name, "flatten5") == 0,
          "names '%s' '%s'", m.layers[3].name, m.layers[5].name);
    CHECK(m.layers[5].in_c == 3 && m.layers[m.latent].in_c == 3 * 64, "flatten of the concat");
    clvae_model_desc_free(&m);
    /* bench's traffic model: a latent reading a view of the data writes no input gradient */
    REQUIRE(resolve_text("[model]\nkind = ae\n" SMALL_HEAD SMALL_TAIL, &m), "small");
    double f, b, p = (double)(m.layers[2].w_len + m.layers[2].b_len);
    clvae_layer_traffic(&m, 2, 3, &f, &b);
    CHECK(m.layers[2].kind == CLVAE_LAYER_LATENT && !m.variational && p == 130 &&
              f == 4.0 * (3 * (64 + 2) + p) && b == 4.0 * (3 * (2 + 64) + 2 * p),
          "latent on a view of the data: %.0f %.0f", f, b);
    clvae_model_desc_free(&m);
}

/* [batchnorm]: shapes kept (map or flat), weight and bias [C] and 2C + 1 state floats placed,
 * PyTorch's defaults; bad values refused with file:line. */
static void t_batchnorm_keys(void)
{
    clvae_model_desc_t m;
    REQUIRE(resolve_text(GRAPH_HEAD "[batchnorm]\nactivation = relu\n[batchnorm]\nmomentum = 0.2\n"
                         "eps = 1e-3\n" GRAPH_TAIL, &m), "batchnorm");
    const clvae_layer_t *a = &m.layers[3], *b = &m.layers[4];
    CHECK(a->kind == CLVAE_LAYER_BATCHNORM && a->out_c == 2 && a->out_h == 8 && !a->flat &&
              a->w_len == 2 && a->b_len == 2 && a->s_len == 5 && a->s_off == 0 &&
              a->act == CLVAE_ACT_RELU,
          "batchnorm: out %zux%zux%zu w %zu b %zu state %zu@%zu", a->out_c, a->out_h, a->out_w,
          a->w_len, a->b_len, a->s_len, a->s_off);
    CHECK(a->momentum == 0.1f && a->norm_eps == 1e-5f && b->momentum == 0.2f &&
              b->norm_eps == 1e-3f && b->s_off == 5 && m.nstate == 10,
          "momentum %g eps %g; second at %zu; nstate %zu", (double)a->momentum,
          (double)a->norm_eps, b->s_off, m.nstate);
    clvae_model_desc_free(&m);
    const clvae_status_t I = CLVAE_ERR_INVALID;
    expect(GRAPH_HEAD "[batchnorm]\nmomentum = 2\n" GRAPH_TAIL, NULL, I, "t.cfg:13",
           "must be a number from 0 to 1");
    expect(GRAPH_HEAD "[batchnorm]\neps = 0\n" GRAPH_TAIL, NULL, I, "t.cfg:13",
           "must be a number from 1e-12 to 1");
    expect(GRAPH_HEAD "[batchnorm]\nunits = 3\n" GRAPH_TAIL, NULL, I, "t.cfg:13",
           "unknown key 'units'");
}

/* [groupnorm]: shapes kept (map or flat), weight and bias [C], no state, PyTorch's eps; groups
 * required and dividing the channels, else refused with file:line. */
static void t_groupnorm_keys(void)
{
    clvae_model_desc_t m;
    REQUIRE(resolve_text(GRAPH_HEAD "[groupnorm]\ngroups = 2\nactivation = silu\n[groupnorm]\n"
                         "groups = 1\neps = 1e-3\n" GRAPH_TAIL, &m), "groupnorm");
    const clvae_layer_t *a = &m.layers[3], *b = &m.layers[4];
    CHECK(a->kind == CLVAE_LAYER_GROUPNORM && a->out_c == 2 && a->out_h == 8 && !a->flat &&
              a->w_len == 2 && a->b_len == 2 && a->s_len == 0 && a->groups == 2 &&
              a->act == CLVAE_ACT_SILU,
          "groupnorm: out %zux%zux%zu w %zu b %zu state %zu groups %zu", a->out_c, a->out_h,
          a->out_w, a->w_len, a->b_len, a->s_len, a->groups);
    CHECK(a->norm_eps == 1e-5f && b->norm_eps == 1e-3f && b->groups == 1 && m.nstate == 0,
          "eps %g %g groups %zu nstate %zu", (double)a->norm_eps, (double)b->norm_eps,
          b->groups, m.nstate);
    clvae_model_desc_free(&m);
    const clvae_status_t I = CLVAE_ERR_INVALID;
    expect(GRAPH_HEAD "[groupnorm]\ngroups = 3\n" GRAPH_TAIL, NULL, I, "t.cfg:13",
           "the 2 channels of 'b' do not split into 3 groups");
    expect(GRAPH_HEAD "[groupnorm]\neps = 1e-3\n" GRAPH_TAIL, NULL, I, "t.cfg:12", "needs groups");
    expect(GRAPH_HEAD "[groupnorm]\ngroups = 0\n" GRAPH_TAIL, NULL, I, "t.cfg:13",
           "groups");
    expect(GRAPH_HEAD "[groupnorm]\ngroups = 1\neps = 0\n" GRAPH_TAIL, NULL, I, "t.cfg:14",
           "must be a number from 1e-12 to 1");
    expect(GRAPH_HEAD "[groupnorm]\ngroups = 1\nmomentum = 0.1\n" GRAPH_TAIL, NULL, I,
           "t.cfg:14", "unknown key 'momentum'");
}

/* [upsample]: the map's sides times the factor (2 by default), no parameters; a flat input, a
 * factor out of range and an unknown key refused with file:line. */
static void t_upsample_keys(void)
{
    clvae_model_desc_t m;
    REQUIRE(resolve_text(GRAPH_HEAD "[upsample]\n[upsample]\nfactor = 3\nactivation = relu\n"
                         "[conv]\nfilters = 2\nstride = 6\n" GRAPH_TAIL, &m), "upsample");
    const clvae_layer_t *a = &m.layers[3], *b = &m.layers[4];
    CHECK(a->kind == CLVAE_LAYER_UPSAMPLE && a->up_factor == 2 && a->out_c == 2 &&
              a->out_h == 16 && a->out_w == 16 && a->w_len == 0 && b->up_factor == 3 &&
              b->out_h == 48 && b->act == CLVAE_ACT_RELU,
          "upsample: %zux%zux%zu, then %zux%zux%zu", a->out_c, a->out_h, a->out_w, b->out_c,
          b->out_h, b->out_w);
    clvae_model_desc_free(&m);
    const clvae_status_t I = CLVAE_ERR_INVALID;
    expect(GRAPH_HEAD "[upsample]\nfactor = 1\n" GRAPH_TAIL, NULL, I, "t.cfg:13",
           "must be an integer from 2 to 16");
    expect(GRAPH_HEAD "[upsample]\nfactor = two\n" GRAPH_TAIL, NULL, I, "t.cfg:13", "factor");
    expect(GRAPH_HEAD "[upsample]\nsize = 2\n" GRAPH_TAIL, NULL, I, "t.cfg:13",
           "unknown key 'size'");
    expect(GRAPH_HEAD "[flatten]\n[upsample]\n[dense]\nunits = 4\n" SMALL_TAIL, NULL, I,
           "t.cfg:13", "upsamples a C x H x W map, but 'flatten3' is flat");
}

/* [add] from = map, vector: a flat input of the map's C values added to every pixel; any other
 * count, or the vector named first, refused with file:line. */
static void t_add_broadcast(void)
{
    clvae_model_desc_t m;
    REQUIRE(resolve_text(GRAPH_HEAD "[flatten]\n[dense]\nname = v\nunits = 2\n"
                         "[add]\nfrom = b, v, a\n" GRAPH_TAIL, &m), "broadcast add");
    const clvae_layer_t *add = &m.layers[5];
    CHECK(add->kind == CLVAE_LAYER_ADD && add->nfrom == 3 && add->out_c == 2 &&
              add->out_h == 8 && add->out_w == 8 && !add->flat,
          "add: %zux%zux%zu", add->out_c, add->out_h, add->out_w);
    clvae_model_desc_free(&m);
    const clvae_status_t I = CLVAE_ERR_INVALID;
    expect(GRAPH_HEAD "[flatten]\n[dense]\nname = v\nunits = 3\n[add]\nfrom = b, v\n"
           GRAPH_TAIL, NULL, I, "t.cfg:16",
           "adds the flat input 'v' to every pixel of 'b' (2x8x8), so it must have exactly 2 "
           "values, one per channel, but it has 3");
    expect(GRAPH_HEAD "[flatten]\n[dense]\nname = v\nunits = 2\n[add]\nfrom = v, b\n"
           GRAPH_TAIL, NULL, I, "t.cfg:16", "name the map first, from = map, vector");
}

/* [time_embed]: a flat D-vector that reads no layer (from = is not a key), max_period 10000 by
 * default; D odd or missing, a period of 1 or less refused with file:line. */
static void t_time_embed_keys(void)
{
    clvae_model_desc_t m;
    REQUIRE(resolve_text(GRAPH_HEAD "[time_embed]\nname = t\ndim = 8\n[dense]\nunits = 2\n"
                         "[time_embed]\ndim = 4\nmax_period = 100\n[concat]\nfrom = a, b\n"
                         "[flatten]\n[concat]\nfrom = flatten7, dense4, time_embed5\n" SMALL_TAIL,
                         &m), "time_embed");
    const clvae_layer_t *a = &m.layers[3], *b = &m.layers[5];
    CHECK(a->kind == CLVAE_LAYER_TIME_EMBED && a->nfrom == 0 && a->flat && a->out_c == 8 &&
              a->out_h == 1 && a->out_w == 1 && a->w_len == 0 && a->embed_max_period == 10000.0f,
          "time_embed: from %d, %zux%zux%zu", a->nfrom, a->out_c, a->out_h, a->out_w);
    CHECK(b->out_c == 4 && b->embed_max_period == 100.0f && m.layers[4].from[0] == 3 &&
              m.layers[m.latent].in_c == 4 * 64 + 2 + 4,
          "second: %zu, period %g; the dense reads the embedding", b->out_c,
          (double)b->embed_max_period);
    clvae_model_desc_free(&m);
    const clvae_status_t I = CLVAE_ERR_INVALID;
    expect(GRAPH_HEAD "[time_embed]\ndim = 7\n" GRAPH_TAIL, NULL, I, "t.cfg:13",
           "must be even");
    expect(GRAPH_HEAD "[time_embed]\nmax_period = 50\n" GRAPH_TAIL, NULL, I, "t.cfg:12",
           "needs dim");
    expect(GRAPH_HEAD "[time_embed]\ndim = 8\nmax_period = 1\n" GRAPH_TAIL, NULL, I,
           "t.cfg:14", "max_period");
    expect(GRAPH_HEAD "[time_embed]\ndim = 8\nfrom = x\n" GRAPH_TAIL, NULL, I, "t.cfg:14",
           "unknown key 'from'");
}

/* [conv] mask = A | B (PixelCNN): stored in the layer; refused with file:line where the mask
 * would not make the conv causal (kernel, stride, dilation, padding) and on a [deconv]. */
#define MASK_HEAD "[input]\nchannels = 1\nheight = 8\nwidth = 8\n[conv]\nfilters = 2\n"
static void t_conv_mask_keys(void)
{
    clvae_model_desc_t m;
    REQUIRE(resolve_text(MASK_HEAD "mask = A\nsize = 5\n[conv]\nfilters = 1\nmask = B\n"
                         "[conv]\nfilters = 1\nmask = none\n[conv]\nfilters = 1\nsize = 1\n"
                         "mask = B\n[flatten]\n" SMALL_TAIL, &m), "masked convs");
    CHECK(m.layers[1].mask == CLVAE_CONV_MASK_A && m.layers[2].mask == CLVAE_CONV_MASK_B &&
              m.layers[3].mask == CLVAE_CONV_MASK_NONE && m.layers[4].mask == CLVAE_CONV_MASK_B,
          "masks %d %d %d %d", (int)m.layers[1].mask, (int)m.layers[2].mask,
          (int)m.layers[3].mask, (int)m.layers[4].mask);
    CHECK(m.layers[1].w_len == 2 * 25 && m.layers[1].out_h == 8, "a masked conv keeps its shape");
    clvae_model_desc_free(&m);
    const clvae_status_t I = CLVAE_ERR_INVALID;
    expect(MASK_HEAD "mask = C\n[flatten]\n" SMALL_TAIL, NULL, I, "t.cfg:7: [conv] mask = C",
           "must be one of none, A, B");
    expect(MASK_HEAD "mask = A\nsize = 4\n[flatten]\n" SMALL_TAIL, NULL, I,
           "t.cfg:7: [conv] mask = A", "odd square kernel (size = 3, 5 or 7), not 4x4");
    expect(MASK_HEAD "mask = B\nsize = 3x5\n[flatten]\n" SMALL_TAIL, NULL, I, "t.cfg:7",
           "odd square kernel (size = 3, 5 or 7), not 3x5");
    expect(MASK_HEAD "mask = A\nsize = 1\n[flatten]\n" SMALL_TAIL, NULL, I, "t.cfg:7",
           "mask A keeps no tap of a 1x1 kernel");
    expect(MASK_HEAD "mask = A\nstride = 2\n[flatten]\n" SMALL_TAIL, NULL, I, "t.cfg:7",
           "needs stride 1, not 2x2");
    expect(MASK_HEAD "mask = B\ndilation = 1x2\n[flatten]\n" SMALL_TAIL, NULL, I, "t.cfg:7",
           "needs dilation 1, not 1x2");
    expect(MASK_HEAD "mask = A\npadding = 1\n[flatten]\n" SMALL_TAIL, NULL, I, "t.cfg:7",
           "needs padding = same");
    expect(MASK_HEAD "mask = A\npadding = valid\n[flatten]\n" SMALL_TAIL, NULL, I, "t.cfg:7",
           "needs padding = same");
    expect(MASK_HEAD "mask = A\n[flatten]\n" SMALL_TAIL, "conv.stride=2", I, "t.cfg:7",
           "needs stride 1");
    expect(SMALL_HEAD "[latent]\nsize = 2\n[dense]\nunits = 16\n[reshape]\nchannels = 1\n"
           "height = 4\nwidth = 4\n[deconv]\nfilters = 1\nstride = 2\nmask = A\n"
           "activation = sigmoid\n", NULL, I, "t.cfg:17", "unknown key 'mask'");
}

/* Bad graphs are refused with file:line before any work. */
static void t_graph_errors(void)
{
    const clvae_status_t I = CLVAE_ERR_INVALID;
    expect(GRAPH_HEAD "[add]\nfrom = a, nope\n" GRAPH_TAIL, NULL, I, "t.cfg:13",
           "no layer above is named 'nope'");
    /* a later layer, or a cycle: a reads b, b reads a */
    expect("[input]\nchannels = 1\nheight = 8\nwidth = 8\n[conv]\nname = a\nfrom = b\n"
           "filters = 2\n[conv]\nname = b\nfrom = a\nfilters = 2\n" GRAPH_TAIL,
           NULL, I, "t.cfg:7", "'b' is a later layer (line 9)");
    expect(GRAPH_HEAD "[conv]\nname = c\nfrom = c\nfilters = 2\n[add]\nfrom = a, c\n" GRAPH_TAIL,
           NULL, I, "t.cfg:14", "a layer cannot read itself");
    /* [concat] of different heights and widths; [add] of different shapes */
    expect(GRAPH_HEAD "[conv]\nname = h\nfilters = 2\nstride = 2\n[concat]\nfrom = b, h\n"
           GRAPH_TAIL, NULL, I, "t.cfg:16", "'b' is 2x8x8 and 'h' is 2x4x4");
    expect(GRAPH_HEAD "[conv]\nname = c\nfilters = 3\n[add]\nfrom = b, c\n" GRAPH_TAIL, NULL, I,
           "t.cfg:15", "adds inputs of one shape, but 'b' is 2x8x8 and 'c' is 3x8x8");
    expect(GRAPH_HEAD "[add]\nfrom = b\n" GRAPH_TAIL, NULL, I, "t.cfg:12", "at least two inputs");
    /* a layer whose output nobody reads */
    expect(GRAPH_HEAD "[conv]\nname = lost\nfilters = 2\n[add]\nfrom = a, b\n" GRAPH_TAIL, NULL, I,
           "t.cfg:12", "'lost' feeds no layer");
    expect(GRAPH_HEAD "[add]\nname = a\nfrom = a, b\n" GRAPH_TAIL, NULL, I, "t.cfg:13",
           "the name is taken by the layer on line 6");
    expect(GRAPH_HEAD "[conv]\nname = b c\nfilters = 2\n" GRAPH_TAIL, NULL, I, "t.cfg:13",
           "a layer name is 1 to 31 letters");
    expect(GRAPH_HEAD "[conv]\nfrom = a, b\nfilters = 2\n" GRAPH_TAIL, NULL, I, "t.cfg:13",
           "[conv] takes at most 1 input");
    expect("[input]\nchannels = 1\nheight = 8\nwidth = 8\nfrom = x\n" GRAPH_TAIL, NULL, I,
           "t.cfg:5", "unknown key 'from'");
}

static void t_missing_file(void)
{
    clvae_cfg_t cfg;
    clvae_error_t err = {0};
    CHECK(clvae_cfg_load(&cfg, "models/no_such.cfg", &err) == CLVAE_ERR_NOT_FOUND, "status");
    CHECK(strstr(err.msg, "models/no_such.cfg") != NULL, "%s", err.msg);
}

int main(void)
{
    RUN(t_thesis_model);
    RUN(t_small_valid_and_format);
    RUN(t_error_kinds);
    RUN(t_binary_garbage);
    RUN(t_huge_lines);
    RUN(t_overrides_apply);
    RUN(t_format_keeps_hash_values);
    RUN(t_noise_keys);
    RUN(t_beta_schedules);
    RUN(t_conditional);
    RUN(t_graph_layers);
    RUN(t_graph_errors);
    RUN(t_batchnorm_keys);
    RUN(t_groupnorm_keys);
    RUN(t_upsample_keys);
    RUN(t_add_broadcast);
    RUN(t_time_embed_keys);
    RUN(t_conv_mask_keys);
    RUN(t_missing_file);
    return TEST_EXIT();
}
