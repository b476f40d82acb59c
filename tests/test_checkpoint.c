/* Checkpoints: round trip of weights, moments and position; damaged or mismatched files rejected. */
#define TEST_FILE "test_checkpoint"
#include "test.h"
#include "testutil.h"

#include <math.h>
#include <unistd.h>

#include "clvae/train/checkpoint.h"
#include "clvae/io/safetensors.h"

static clvae_ctx_t *ctx;
static char dir[64];

#define TINY                                                                                    \
    "[model]\nkind = vae\n[input]\nchannels = 1\nheight = 4\nwidth = 4\n[conv]\nfilters = 2\n" \
    "stride = 2\nactivation = relu\n[flatten]\n[latent]\nsize = 2\n[dense]\nunits = 16\n"      \
    "activation = sigmoid\n"

static int setup(const char *text, clvae_cfg_t *cfg, clvae_model_desc_t *d, clvae_objective_t **m)
{
    clvae_error_t err = {0};
    if (clvae_cfg_parse(cfg, text, strlen(text), "tiny.cfg", &err) ||
        clvae_model_resolve(d, cfg, &err) || clvae_objective_init(m, ctx, d, 4, &err) ||
        clvae_objective_init_params(*m, 3, &err)) {
        fprintf(stderr, "  setup: %s\n", err.msg);
        return 0;
    }
    return 1;
}

static void t_round_trip(void)
{
    clvae_cfg_t cfg;
    clvae_model_desc_t d;
    clvae_objective_t *m = NULL, *m2 = NULL;
    REQUIRE(setup(TINY, &cfg, &d, &m), "setup");
    clvae_error_t err = {0};
    size_t P = d.nparams;
    float *mom = malloc(P * sizeof *mom);
    for (size_t i = 0; i < P; i++) mom[i] = (float)i * 0.5f;
    clvae_buf_upload(ctx, clvae_objective_moment1(m), mom, P, &err);
    clvae_train_state_t st = {7, 1234, 5, 3, {1.5, 2.25, -3.0}, 640, 12.5};
    char path[128];
    snprintf(path, sizeof path, "%s/ck.safetensors", dir);
    REQUIRE(clvae_checkpoint_save(path, ctx, m, &d, TINY, &st, "epoch\n1,2\n", &err) == CLVAE_OK,
            "%s", err.msg);
    clvae_checkpoint_t ck;
    REQUIRE(clvae_checkpoint_read(path, &ck, &err) == CLVAE_OK, "%s", err.msg);
    CHECK(strcmp(ck.config, TINY) == 0, "config text");
    CHECK(strcmp(ck.metrics, "epoch\n1,2\n") == 0, "metrics");
    CHECK(ck.has_state && ck.state.epoch == 7 && ck.state.step == 1234 && ck.state.cursor == 5 &&
              ck.state.seen == 640 && ck.state.sums[1] == 2.25 && ck.state.seconds == 12.5,
          "state");
    REQUIRE(clvae_checkpoint_bind(&ck, &d, path, &err) == CLVAE_OK, "%s", err.msg);
    clvae_model_desc_t d2;
    clvae_cfg_t cfg2;
    REQUIRE(setup(TINY, &cfg2, &d2, &m2), "setup 2");
    REQUIRE(clvae_checkpoint_apply(&ck, ctx, m2, P, 1, &err) == CLVAE_OK, "%s", err.msg);
    float *a = malloc(P * sizeof *a), *b = malloc(P * sizeof *b);
    clvae_buf_download(ctx, a, clvae_objective_params(m), P, &err);
    clvae_buf_download(ctx, b, clvae_objective_params(m2), P, &err);
    CHECK(memcmp(a, b, P * sizeof *a) == 0, "parameters differ after the round trip");
    clvae_buf_download(ctx, b, clvae_objective_moment1(m2), P, &err);
    CHECK(memcmp(mom, b, P * sizeof *b) == 0, "moments differ after the round trip");
    /* the file is plain safetensors with PyTorch-style names */
    clvae_st_file_t *f = NULL;
    REQUIRE(clvae_st_read(path, &f, &err) == CLVAE_OK, "%s", err.msg);
    const clvae_st_tensor_t *w = clvae_st_find(f, "encoder.0.weight");
    CHECK(w && w->ndim == 4 && w->shape[0] == 2 && w->shape[1] == 1 && w->shape[2] == 3,
          "encoder.0.weight [2, 1, 3, 3]");
    CHECK(clvae_st_find(f, "fc_mu.weight") && clvae_st_find(f, "fc_logvar.bias") &&
              clvae_st_find(f, "decoder.0.weight"),
          "latent heads and decoder names");
    CHECK(strcmp(clvae_st_meta(f, "format"), "pt") == 0, "format pt");
    clvae_st_free(f);
    free(a);
    free(b);
    free(mom);
    clvae_checkpoint_free(&ck);
    clvae_objective_free(m);
    clvae_objective_free(m2);
    clvae_model_desc_free(&d);
    clvae_model_desc_free(&d2);
    clvae_cfg_free(&cfg);
    clvae_cfg_free(&cfg2);
}

/* An objective of two networks (a GAN's generator and discriminator, say): each network's
 * parameters and moments under its prefix, read back network by network; the unprefixed names
 * are not there, and a network bound under the wrong prefix is refused naming the tensor. */
#define TINY_CLS                                                                                \
    "[model]\nkind = classifier\n[input]\nchannels = 1\nheight = 4\nwidth = 4\n[flatten]\n"     \
    "[dense]\nunits = 3\n"

static void t_two_networks(void)
{
    clvae_cfg_t cg, cd;
    clvae_model_desc_t dg, dd;
    clvae_objective_t *g = NULL, *d = NULL, *g2 = NULL;
    REQUIRE(setup(TINY, &cg, &dg, &g) && setup(TINY_CLS, &cd, &dd, &d), "setup");
    clvae_error_t err = {0};
    size_t PG = dg.nparams, PD = dd.nparams;
    float *mom = malloc(PD * sizeof *mom);
    for (size_t i = 0; i < PD; i++) mom[i] = 0.25f * (float)i;
    clvae_buf_upload(ctx, clvae_objective_moment2(d), mom, PD, &err);
    clvae_checkpoint_net_t nets[2] = {
        {"generator", &dg, clvae_objective_params(g), clvae_objective_moment1(g),
         clvae_objective_moment2(g), clvae_objective_state(g), {0}},
        {"discriminator", &dd, clvae_objective_params(d), clvae_objective_moment1(d),
         clvae_objective_moment2(d), clvae_objective_state(d), {0}}};
    clvae_train_state_t st = {1, 10, 0, 3, {0, 0, 0}, 0, 0};
    char path[128];
    snprintf(path, sizeof path, "%s/two.safetensors", dir);
    REQUIRE(clvae_checkpoint_save_nets(path, ctx, nets, 2, &dg, TINY, &st, "", &err) == CLVAE_OK,
            "%s", err.msg);
    clvae_st_file_t *f = NULL;
    REQUIRE(clvae_st_read(path, &f, &err) == CLVAE_OK, "%s", err.msg);
    CHECK(clvae_st_find(f, "generator.encoder.0.weight") && clvae_st_find(f, "generator.fc_mu.bias") &&
              clvae_st_find(f, "discriminator.encoder.1.weight") &&
              clvae_st_find(f, "generator.optimizer.exp_avg") &&
              clvae_st_find(f, "discriminator.optimizer.exp_avg_sq") &&
              !clvae_st_find(f, "encoder.0.weight") && !clvae_st_find(f, "optimizer.exp_avg"),
          "prefixed names");
    clvae_st_free(f);
    clvae_checkpoint_t ck;
    REQUIRE(clvae_checkpoint_read(path, &ck, &err) == CLVAE_OK, "%s", err.msg);
    /* the discriminator's moments come back under its prefix */
    REQUIRE(clvae_checkpoint_bind_net(&ck, &dd, "discriminator", path, &err) == CLVAE_OK, "%s",
            err.msg);
    CHECK(ck.m2 && memcmp(ck.m2, mom, PD * sizeof *mom) == 0, "discriminator moments");
    /* the generator's parameters into a fresh generator */
    clvae_cfg_t cg2;
    clvae_model_desc_t dg2;
    REQUIRE(setup(TINY, &cg2, &dg2, &g2), "setup 2");
    REQUIRE(clvae_checkpoint_bind_net(&ck, &dg, "generator", path, &err) == CLVAE_OK &&
                clvae_checkpoint_apply(&ck, ctx, g2, PG, 1, &err) == CLVAE_OK,
            "%s", err.msg);
    float *a = malloc(PG * sizeof *a), *b = malloc(PG * sizeof *b);
    clvae_buf_download(ctx, a, clvae_objective_params(g), PG, &err);
    clvae_buf_download(ctx, b, clvae_objective_params(g2), PG, &err);
    CHECK(memcmp(a, b, PG * sizeof *a) == 0, "generator parameters differ after the round trip");
    CHECK(clvae_checkpoint_bind(&ck, &dg, path, &err) == CLVAE_ERR_INVALID &&
              strstr(err.msg, "no tensor 'encoder.0.weight'") != NULL,
          "unprefixed bind: %s", err.msg);
    clvae_error_clear(&err);
    CHECK(clvae_checkpoint_bind_net(&ck, &dg, "discriminator", path, &err) == CLVAE_ERR_INVALID &&
              strstr(err.msg, "discriminator.encoder.0.weight") != NULL,
          "the generator under the discriminator's prefix: %s", err.msg);
    clvae_error_clear(&err);
    free(a);
    free(b);
    free(mom);
    clvae_checkpoint_free(&ck);
    clvae_objective_free(g);
    clvae_objective_free(g2);
    clvae_objective_free(d);
    clvae_model_desc_free(&dg);
    clvae_model_desc_free(&dg2);
    clvae_model_desc_free(&dd);
    clvae_cfg_free(&cg);
    clvae_cfg_free(&cg2);
    clvae_cfg_free(&cd);
}

static long file_size(const char *p)
{
    FILE *f = fopen(p, "rb");
    if (!f) return -1;
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fclose(f);
    return n;
}

/* Batch normalization's running statistics: saved beside the parameters under PyTorch's buffer
 * names (num_batches_tracked a scalar), read back into a fresh model bit for bit; a file
 * without them is refused naming the missing buffer; a NaN in them is not saved. */
#define TINY_BN                                                                                 \
    "[model]\nkind = ae\n[input]\nchannels = 1\nheight = 4\nwidth = 4\n[conv]\nfilters = 2\n"  \
    "stride = 2\n[batchnorm]\nactivation = relu\n[flatten]\n[latent]\nsize = 2\n"              \
    "[dense]\nunits = 16\nactivation = sigmoid\n"

static void t_batchnorm_buffers(void)
{
    clvae_cfg_t cfg, cfg2;
    clvae_model_desc_t d, d2;
    clvae_objective_t *m = NULL, *m2 = NULL;
    REQUIRE(setup(TINY_BN, &cfg, &d, &m) && setup(TINY_BN, &cfg2, &d2, &m2), "setup");
    clvae_error_t err = {0};
    size_t S = d.nstate;
    REQUIRE(S == 5, "state of %zu floats", S);
    float st[5] = {0.25f, -1.5f, 0.5f, 2.0f, 7.0f}, back[5] = {0};
    clvae_buf_upload(ctx, clvae_objective_state(m), st, S, &err);
    clvae_train_state_t ts = {1, 7, 0, 3, {0, 0, 0}, 0, 0};
    char path[128], bad[128];
    snprintf(path, sizeof path, "%s/bn.safetensors", dir);
    snprintf(bad, sizeof bad, "%s/bn_nan.safetensors", dir);
    REQUIRE(clvae_checkpoint_save(path, ctx, m, &d, TINY_BN, &ts, "", &err) == CLVAE_OK, "%s",
            err.msg);
    clvae_st_file_t *f = NULL;
    REQUIRE(clvae_st_read(path, &f, &err) == CLVAE_OK, "%s", err.msg);
    const clvae_st_tensor_t *rm = clvae_st_find(f, "encoder.1.running_mean");
    const clvae_st_tensor_t *rv = clvae_st_find(f, "encoder.1.running_var");
    const clvae_st_tensor_t *nb = clvae_st_find(f, "encoder.1.num_batches_tracked");
    CHECK(rm && rv && nb && rm->ndim == 1 && rm->shape[0] == 2 && nb->ndim == 0,
          "buffers with PyTorch's names and shapes");
    CHECK(clvae_st_find(f, "encoder.1.weight") && clvae_st_find(f, "encoder.1.bias"),
          "affine weight and bias");
    clvae_st_free(f);
    clvae_checkpoint_t ck;
    REQUIRE(clvae_checkpoint_read(path, &ck, &err) == CLVAE_OK &&
                clvae_checkpoint_bind(&ck, &d2, path, &err) == CLVAE_OK &&
                clvae_checkpoint_apply(&ck, ctx, m2, d2.nparams, 1, &err) == CLVAE_OK,
            "%s", err.msg);
    clvae_checkpoint_free(&ck);
    clvae_buf_download(ctx, back, clvae_objective_state(m2), S, &err);
    CHECK(memcmp(st, back, sizeof st) == 0, "state after the round trip %g %g ... %g",
          (double)back[0], (double)back[1], (double)back[4]);
    /* the same file without running_var (weights saved without the buffers) is refused */
    char nobuf[128];
    snprintf(nobuf, sizeof nobuf, "%s/nobuf.safetensors", dir);
    REQUIRE(clvae_st_read(path, &f, &err) == CLVAE_OK, "%s", err.msg);
    size_t nt = clvae_st_count(f), k = 0;
    clvae_st_tensor_t *keep = calloc(nt, sizeof *keep);
    for (size_t i = 0; i < nt; i++)
        if (!strstr(clvae_st_get(f, i)->name, "running_var")) keep[k++] = *clvae_st_get(f, i);
    const char *mk[] = {"format"}, *mv[] = {"pt"};
    CHECK(k == nt - 1 && clvae_st_write(nobuf, keep, k, mk, mv, 1, &err) == CLVAE_OK, "%s",
          err.msg);
    free(keep);
    clvae_st_free(f);
    clvae_status_t s = clvae_checkpoint_load_weights(nobuf, ctx, m2, &d2, &err);
    CHECK(s == CLVAE_ERR_INVALID && strstr(err.msg, "encoder.1.running_var"),
          "a file without the buffers: %d %s", (int)s, err.msg);
    /* NaN in a running statistic: not saved, the tensor named */
    st[1] = NAN;
    clvae_buf_upload(ctx, clvae_objective_state(m), st, S, &err);
    s = clvae_checkpoint_save(bad, ctx, m, &d, TINY_BN, &ts, "", &err);
    CHECK(s == CLVAE_ERR_CORRUPT && strstr(err.msg, "encoder.1.running_mean"),
          "NaN in the state: %d %s", (int)s, err.msg);
    CHECK(access(bad, F_OK) != 0, "a checkpoint with NaN state was written");
    clvae_objective_free(m);
    clvae_objective_free(m2);
    clvae_model_desc_free(&d);
    clvae_model_desc_free(&d2);
    clvae_cfg_free(&cfg);
    clvae_cfg_free(&cfg2);
}

static void t_damage_rejected(void)
{
    clvae_cfg_t cfg;
    clvae_model_desc_t d;
    clvae_objective_t *m = NULL;
    REQUIRE(setup(TINY, &cfg, &d, &m), "setup");
    clvae_error_t err = {0};
    char path[128], bad[128];
    snprintf(path, sizeof path, "%s/good.safetensors", dir);
    snprintf(bad, sizeof bad, "%s/bad.safetensors", dir);
    clvae_train_state_t st = {1, 10, 0, 3, {0, 0, 0}, 0, 0};
    REQUIRE(clvae_checkpoint_save(path, ctx, m, &d, TINY, &st, "", &err) == CLVAE_OK, "%s",
            err.msg);
    long size = file_size(path);
    FILE *f = fopen(path, "rb");
    unsigned char *bytes = malloc((size_t)size);
    REQUIRE(f && fread(bytes, 1, (size_t)size, f) == (size_t)size, "read back");
    fclose(f);
    /* a flipped byte in every 7th data position: the checksum catches each */
    uint64_t hlen = 0;
    memcpy(&hlen, bytes, 8);
    int rejected = 0, tried = 0;
    for (long pos = (long)(8 + hlen); pos < size; pos += 7) {
        bytes[pos] ^= 0x10;
        f = fopen(bad, "wb");
        fwrite(bytes, 1, (size_t)size, f);
        fclose(f);
        bytes[pos] ^= 0x10;
        clvae_checkpoint_t ck;
        clvae_status_t s = clvae_checkpoint_read(bad, &ck, &err);
        tried++;
        if (s == CLVAE_ERR_CORRUPT && strstr(err.msg, bad)) rejected++;
        if (s == CLVAE_OK) clvae_checkpoint_free(&ck);
    }
    CHECK(rejected == tried, "%d of %d flipped data bytes rejected", rejected, tried);
    /* truncations */
    for (long cut = 0; cut < size; cut += size / 13 + 1) {
        f = fopen(bad, "wb");
        fwrite(bytes, 1, (size_t)cut, f);
        fclose(f);
        clvae_checkpoint_t ck;
        CHECK(clvae_checkpoint_read(bad, &ck, &err) == CLVAE_ERR_CORRUPT, "cut at %ld accepted",
              cut);
    }
    /* a config whose shapes differ: bind names the tensor and both shapes */
    clvae_checkpoint_t ck;
    REQUIRE(clvae_checkpoint_read(path, &ck, &err) == CLVAE_OK, "%s", err.msg);
    clvae_cfg_t cfg2;
    clvae_model_desc_t d2;
    const char *other = "[model]\nkind = vae\n[input]\nchannels = 1\nheight = 4\nwidth = 4\n"
                        "[conv]\nfilters = 3\nstride = 2\nactivation = relu\n[flatten]\n"
                        "[latent]\nsize = 2\n[dense]\nunits = 16\nactivation = sigmoid\n";
    REQUIRE(clvae_cfg_parse(&cfg2, other, strlen(other), "o.cfg", &err) == CLVAE_OK &&
                clvae_model_resolve(&d2, &cfg2, &err) == CLVAE_OK,
            "%s", err.msg);
    CHECK(clvae_checkpoint_bind(&ck, &d2, path, &err) == CLVAE_ERR_INVALID, "mismatch accepted");
    CHECK(strstr(err.msg, "encoder.0.weight") && strstr(err.msg, "[2x1x3x3]") &&
              strstr(err.msg, "[3x1x3x3]"),
          "%s", err.msg);
    clvae_checkpoint_free(&ck);
    /* a safetensors file without clvae metadata is not a checkpoint (but --init can use it) */
    clvae_st_tensor_t t = {"x", CLVAE_ST_F32, 1, {1}, "\0\0\0\0", 4};
    REQUIRE(clvae_st_write(bad, &t, 1, NULL, NULL, 0, &err) == CLVAE_OK, "%s", err.msg);
    CHECK(clvae_checkpoint_read(bad, &ck, &err) == CLVAE_ERR_CORRUPT &&
              strstr(err.msg, "not a clvae checkpoint"),
          "%s", err.msg);
    snprintf(bad, sizeof bad, "%s/none.safetensors", dir);
    CHECK(clvae_checkpoint_read(bad, &ck, &err) == CLVAE_ERR_NOT_FOUND, "missing file");
    free(bytes);
    clvae_objective_free(m);
    clvae_model_desc_free(&d);
    clvae_model_desc_free(&d2);
    clvae_cfg_free(&cfg);
    clvae_cfg_free(&cfg2);
}

/* A model holding a NaN or an infinity (in a weight or in Adam's moments) is not saved: the
 * previous file stays byte for byte, and the message names the file and the tensor. */
static void t_nonfinite_not_saved(void)
{
    clvae_cfg_t cfg;
    clvae_model_desc_t d;
    clvae_objective_t *m = NULL;
    REQUIRE(setup(TINY, &cfg, &d, &m), "setup");
    clvae_error_t err = {0};
    char path[128];
    snprintf(path, sizeof path, "%s/keep.safetensors", dir);
    clvae_train_state_t st = {1, 10, 0, 3, {0, 0, 0}, 0, 0};
    REQUIRE(clvae_checkpoint_save(path, ctx, m, &d, TINY, &st, "", &err) == CLVAE_OK, "%s",
            err.msg);
    long size = file_size(path);
    size_t P = d.nparams;
    float *good = malloc(P * sizeof *good);
    REQUIRE(good && clvae_buf_download(ctx, good, clvae_objective_params(m), P, &err) == CLVAE_OK,
            "%s", err.msg);
    /* the last weight of the dense decoder, then Adam's second moment */
    const float bad[2] = {NAN, -INFINITY};
    for (int c = 0; c < 4; c++) {
        clvae_buf_t where = c < 2 ? clvae_buf_at(clvae_objective_params(m), P - 1)
                                  : clvae_buf_at(clvae_objective_moment2(m), 3);
        clvae_buf_upload(ctx, where, &bad[c % 2], 1, &err);
        clvae_status_t s = clvae_checkpoint_save(path, ctx, m, &d, TINY, &st, "", &err);
        CHECK(s == CLVAE_ERR_CORRUPT && strstr(err.msg, path) && strstr(err.msg, "not saved") &&
                  strstr(err.msg, c < 2 ? "decoder.0.bias" : "optimizer.exp_avg_sq"),
              "case %d: %s %s", c, clvae_status_name(s), err.msg);
        CHECK(file_size(path) == size, "case %d: the previous file changed", c);
        /* weights only (no state): the moments are not looked at */
        s = clvae_checkpoint_save(path, ctx, m, &d, TINY, NULL, "", &err);
        CHECK(c < 2 ? s == CLVAE_ERR_CORRUPT : s == CLVAE_OK, "case %d without state: %s", c,
              err.msg);
        float zero = 0.0f;
        clvae_buf_upload(ctx, where, c < 2 ? &good[P - 1] : &zero, 1, &err);
        REQUIRE(clvae_checkpoint_save(path, ctx, m, &d, TINY, &st, "", &err) == CLVAE_OK, "%s",
                err.msg);
    }
    free(good);
    clvae_objective_free(m);
    clvae_model_desc_free(&d);
    clvae_cfg_free(&cfg);
}

int main(void)
{
    snprintf(dir, sizeof dir, "/tmp/clvae-test-ck-XXXXXX");
    if (!mkdtemp(dir)) return 1;
    ctx = tu_ctx();
    if (!ctx) return 1;
    RUN(t_round_trip);
    RUN(t_two_networks);
    RUN(t_batchnorm_buffers);
    RUN(t_damage_rejected);
    RUN(t_nonfinite_not_saved);
    clvae_ctx_free(ctx);
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    if (system(cmd) != 0) return 1;
    return TEST_EXIT();
}
