/* Training runs: the loss falls, an interrupted run resumed gives bit-identical weights. */
#define TEST_FILE "test_train"
#include "test.h"
#include "testutil.h"

#include <math.h>

#include "clvae/ops/basic.h"
#include "clvae/eval/figures.h"
#include "clvae/io/image.h"
#include "clvae/train/train.h"

static clvae_ctx_t *ctx;
static char dir[64];

/* A dense VAE on the 8x8 digits: seconds per epoch. */
#define DIGITS_VAE                                                                              \
    "[model]\nname = tiny\nkind = vae\n[data]\ntrain = digits:train\ntest = digits:test\n"     \
    "[train]\nepochs = 3\nbatch = 64\nlr = 0.003\nseed = 5\n[input]\nchannels = 1\n"          \
    "height = 8\nwidth = 8\n[flatten]\n[dense]\nunits = 32\nactivation = relu\n[latent]\n"     \
    "size = 2\n[dense]\nunits = 32\nactivation = relu\n[dense]\nunits = 64\n"                  \
    "activation = sigmoid\n"

/* The same VAE conditional on the digit, trained on masked inputs, with the KL weight warming
 * up linearly (0, 0.5, 1): every feature that draws or changes per step or epoch. */
#define DIGITS_FAMILY                                                                           \
    "[model]\nname = family\nkind = vae\nconditional = 10\n[data]\ntrain = digits:train\n"      \
    "test = digits:test\n[train]\nepochs = 3\nbatch = 64\nlr = 0.003\nseed = 5\n"               \
    "[loss]\nbeta_schedule = linear\nwarmup_epochs = 2\n[noise]\ntype = mask\np = 0.25\n"      \
    "[input]\nchannels = 1\nheight = 8\nwidth = 8\n[flatten]\n[dense]\nunits = 32\n"           \
    "activation = relu\n[latent]\nsize = 2\n[dense]\nunits = 32\nactivation = relu\n[dense]\n"  \
    "units = 64\nactivation = sigmoid\n"

static const char *data_dir(void)
{
    const char *d = getenv("CLVAE_DATA_DIR");
    return d && *d ? d : "data";
}

typedef struct stopper {
    volatile sig_atomic_t flag;
    long at_epoch;
    size_t at_batch;
    int calls;
} stopper_t;

static void progress(void *user, const clvae_progress_t *p)
{
    stopper_t *s = user;
    s->calls++;
    if (!p->epoch_done && p->epoch == s->at_epoch && p->batch >= s->at_batch) s->flag = 1;
}

static clvae_status_t train_text(const char *text, const char *out, int resume, stopper_t *st,
                                 int *interrupted, clvae_error_t *err)
{
    clvae_cfg_t cfg;
    clvae_model_desc_t d;
    clvae_status_t s = clvae_cfg_parse(&cfg, text, strlen(text), "tiny.cfg", err);
    if (s) return s;
    if (!(s = clvae_model_resolve(&d, &cfg, err))) {
        clvae_train_opts_t o = {out, text, data_dir(), resume, NULL, 1, progress, st,
                                &st->flag, NULL, 0, NULL, NULL, 0};
        s = clvae_train_run(ctx, &d, &o, interrupted, err);
        clvae_model_desc_free(&d);
    }
    clvae_cfg_free(&cfg);
    return s;
}

static clvae_status_t train(const char *out, int resume, stopper_t *st, int *interrupted,
                            clvae_error_t *err)
{
    return train_text(DIGITS_VAE, out, resume, st, interrupted, err);
}

/* The parameters and moments stored in a run's checkpoint, bound to the tiny model. */
static float *weights(const char *out, size_t *n, clvae_train_state_t *state)
{
    char path[128];
    snprintf(path, sizeof path, "%s/checkpoint.safetensors", out);
    clvae_checkpoint_t ck;
    clvae_error_t err = {0};
    clvae_cfg_t cfg;
    clvae_model_desc_t d;
    float *w = NULL;
    if (clvae_checkpoint_read(path, &ck, &err) == CLVAE_OK &&
        clvae_cfg_parse(&cfg, ck.config, strlen(ck.config), path, &err) == CLVAE_OK &&
        clvae_model_resolve(&d, &cfg, &err) == CLVAE_OK &&
        clvae_checkpoint_bind(&ck, &d, path, &err) == CLVAE_OK) {
        *n = 3 * d.nparams;
        w = malloc(*n * sizeof *w);
        memcpy(w, ck.params, d.nparams * sizeof *w);
        memcpy(w + d.nparams, ck.m1, d.nparams * sizeof *w);
        memcpy(w + 2 * d.nparams, ck.m2, d.nparams * sizeof *w);
        *state = ck.state;
        clvae_model_desc_free(&d);
        clvae_cfg_free(&cfg);
    } else {
        fprintf(stderr, "  %s\n", err.msg);
    }
    clvae_checkpoint_free(&ck);
    return w;
}

static void t_loss_falls_and_metrics(void)
{
    char out[128];
    snprintf(out, sizeof out, "%s/straight", dir);
    stopper_t st = {0, -1, 0, 0};
    clvae_error_t err = {0};
    int interrupted = 1;
    REQUIRE(train(out, 0, &st, &interrupted, &err) == CLVAE_OK, "%s", err.msg);
    CHECK(!interrupted, "interrupted without a signal");
    char path[160];
    snprintf(path, sizeof path, "%s/metrics.csv", out);
    FILE *f = fopen(path, "r");
    REQUIRE(f, "no metrics.csv");
    char text[4096];
    size_t n = fread(text, 1, sizeof text - 1, f);
    fclose(f);
    text[n] = 0;
    clvae_epoch_metrics_t *rows = NULL;
    size_t nrows = 0;
    REQUIRE(clvae_metrics_parse(text, &rows, &nrows, &err) == CLVAE_OK, "%s", err.msg);
    CHECK(strncmp(text, clvae_metrics_header(), strlen(clvae_metrics_header())) == 0, "header");
    CHECK(nrows == 3, "%zu rows", nrows);
    if (nrows == 3) {
        CHECK(rows[2].train[0] < rows[0].train[0] && rows[2].test[0] < rows[0].test[0],
              "loss did not fall: train %g -> %g, test %g -> %g", rows[0].train[0],
              rows[2].train[0], rows[0].test[0], rows[2].test[0]);
        for (int k = 0; k < 3; k++)
            CHECK(fabs(rows[k].train[0] - rows[k].train[1] - rows[k].train[2]) < 1e-3 * rows[k].train[0],
                  "epoch %d: total %g != recon %g + kl %g", k + 1, rows[k].train[0],
                  rows[k].train[1], rows[k].train[2]);
        CHECK(rows[0].images_per_s > 0 && rows[0].seconds > 0, "timing");
    }
    free(rows);
}

static void t_resume_is_bit_exact(void)
{
    char a[128], b[128];
    snprintf(a, sizeof a, "%s/straight", dir);
    snprintf(b, sizeof b, "%s/interrupted", dir);
    clvae_error_t err = {0};
    int interrupted = 0;
    /* ask to stop in the middle of epoch 2 (after batch 7 of 24): the batch in progress (8)
     * finishes, then the state is saved; resume to the end */
    stopper_t st = {0, 2, 7, 0};
    REQUIRE(train(b, 0, &st, &interrupted, &err) == CLVAE_OK, "%s", err.msg);
    CHECK(interrupted, "the run was not interrupted");
    size_t nb = 0, na = 0;
    clvae_train_state_t sb, sa;
    float *mid = weights(b, &nb, &sb);
    CHECK(mid && sb.epoch == 1 && sb.cursor == 8 && sb.step == 1 * 24 + 8,
          "stopped at epoch %ld cursor %zu step %ld", sb.epoch, sb.cursor, sb.step);
    free(mid);
    stopper_t go = {0, -1, 0, 0};
    REQUIRE(train(b, 1, &go, &interrupted, &err) == CLVAE_OK, "%s", err.msg);
    CHECK(!interrupted, "resume interrupted");
    float *wa = weights(a, &na, &sa), *wb = weights(b, &nb, &sb);
    REQUIRE(wa && wb && na == nb, "weights");
    CHECK(memcmp(wa, wb, na * sizeof *wa) == 0,
          "3 epochs straight and 1.3 + resume differ (weights and Adam moments)");
    CHECK(sa.epoch == 3 && sb.epoch == 3 && sa.step == sb.step, "state %ld/%ld", sa.epoch, sb.epoch);
    /* metrics of the interrupted epoch match too (the loss sums were kept) */
    char pa[160], pb[160], ta[4096] = "", tb[4096] = "";
    snprintf(pa, sizeof pa, "%s/metrics.csv", a);
    snprintf(pb, sizeof pb, "%s/metrics.csv", b);
    FILE *fa = fopen(pa, "r"), *fb = fopen(pb, "r");
    if (fa && fb) {
        size_t la = fread(ta, 1, sizeof ta - 1, fa), lb = fread(tb, 1, sizeof tb - 1, fb);
        ta[la] = tb[lb] = 0;
        clvae_epoch_metrics_t *ra, *rb;
        size_t ka, kb;
        if (!clvae_metrics_parse(ta, &ra, &ka, &err) && !clvae_metrics_parse(tb, &rb, &kb, &err)) {
            CHECK(ka == 3 && kb == 3, "rows %zu %zu", ka, kb);
            for (size_t k = 0; k < ka && k < kb; k++)
                CHECK(ra[k].train[0] == rb[k].train[0] && ra[k].test[0] == rb[k].test[0],
                      "epoch %zu: %g vs %g", k + 1, ra[k].train[0], rb[k].train[0]);
            free(ra);
            free(rb);
        }
    }
    if (fa) fclose(fa);
    if (fb) fclose(fb);
    free(wa);
    free(wb);
}

/* Reads a run's metrics.csv rows (NULL on failure). */
static clvae_epoch_metrics_t *read_metrics(const char *out, size_t *n)
{
    char path[160], text[4096];
    snprintf(path, sizeof path, "%s/metrics.csv", out);
    FILE *f = fopen(path, "r");
    if (!f) return NULL;
    size_t len = fread(text, 1, sizeof text - 1, f);
    fclose(f);
    text[len] = 0;
    clvae_epoch_metrics_t *rows = NULL;
    clvae_error_t err = {0};
    if (clvae_metrics_parse(text, &rows, n, &err)) return NULL;
    return rows;
}

/* Noise, labels and the KL schedule are functions of (seed, epoch, step): a run stopped in the
 * middle of epoch 2 and resumed ends bit-identical to a straight one; and each feature counts
 * (without the noise, or with other labels, the weights differ). */
static void t_family_resume_is_bit_exact(void)
{
    char a[128], b[128], c[128];
    snprintf(a, sizeof a, "%s/family", dir);
    snprintf(b, sizeof b, "%s/family_interrupted", dir);
    snprintf(c, sizeof c, "%s/family_clean", dir);
    clvae_error_t err = {0};
    int interrupted = 0;
    stopper_t go = {0, -1, 0, 0}, st = {0, 2, 7, 0};
    REQUIRE(train_text(DIGITS_FAMILY, a, 0, &go, &interrupted, &err) == CLVAE_OK, "%s", err.msg);
    REQUIRE(train_text(DIGITS_FAMILY, b, 0, &st, &interrupted, &err) == CLVAE_OK, "%s", err.msg);
    CHECK(interrupted, "the run was not interrupted");
    stopper_t go2 = {0, -1, 0, 0};
    REQUIRE(train_text(DIGITS_FAMILY, b, 1, &go2, &interrupted, &err) == CLVAE_OK, "%s", err.msg);
    CHECK(!interrupted, "resume interrupted");
    size_t na = 0, nb = 0, nc = 0;
    clvae_train_state_t sa, sb, sc;
    float *wa = weights(a, &na, &sa), *wb = weights(b, &nb, &sb);
    REQUIRE(wa && wb && na == nb, "weights");
    CHECK(memcmp(wa, wb, na * sizeof *wa) == 0,
          "family: 3 epochs straight and 1.3 + resume differ (weights and Adam moments)");
    size_t ka = 0, kb = 0;
    clvae_epoch_metrics_t *ra = read_metrics(a, &ka), *rb = read_metrics(b, &kb);
    CHECK(ra && rb && ka == 3 && kb == 3, "metrics rows %zu %zu", ka, kb);
    for (size_t k = 0; ra && rb && k < 3 && k < ka && k < kb; k++) {
        CHECK(ra[k].train[0] == rb[k].train[0] && ra[k].test[0] == rb[k].test[0],
              "epoch %zu: %g vs %g", k + 1, ra[k].train[0], rb[k].train[0]);
        CHECK(ra[k].beta == 0.5 * (double)k && rb[k].beta == ra[k].beta, "epoch %zu: beta %g",
              k + 1, ra[k].beta);
    }
    /* the KL weight 0 in epoch 1: the training loss is the reconstruction alone */
    if (ra && ka)
        CHECK(ra[0].train[0] == ra[0].train[1] && ra[0].train[2] > 0,
              "epoch 1 (beta 0): loss %g, recon %g, KL %g", ra[0].train[0], ra[0].train[1],
              ra[0].train[2]);
    /* the same run without the noise ends elsewhere */
    char clean_text[2048];
    snprintf(clean_text, sizeof clean_text, "%s", DIGITS_FAMILY);
    char *t = strstr(clean_text, "type = mask");
    REQUIRE(t, "config");
    memcpy(t, "type = none", 11);
    stopper_t go3 = {0, -1, 0, 0};
    REQUIRE(train_text(clean_text, c, 0, &go3, &interrupted, &err) == CLVAE_OK, "%s", err.msg);
    float *wc = weights(c, &nc, &sc);
    CHECK(wc && nc == na && memcmp(wa, wc, na * sizeof *wa) != 0, "the noise changed nothing");
    free(ra);
    free(rb);
    free(wa);
    free(wb);
    free(wc);
}

static void t_missing_data_is_found_first(void)
{
    clvae_cfg_t cfg;
    clvae_model_desc_t d;
    clvae_error_t err = {0};
    REQUIRE(clvae_cfg_parse(&cfg, DIGITS_VAE, strlen(DIGITS_VAE), "tiny.cfg", &err) == CLVAE_OK &&
                clvae_model_resolve(&d, &cfg, &err) == CLVAE_OK,
            "%s", err.msg);
    char out[128];
    snprintf(out, sizeof out, "%s/nodata", dir);
    stopper_t st = {0, -1, 0, 0};
    int interrupted;
    clvae_train_opts_t o = {out, DIGITS_VAE, "/nonexistent/data", 0, NULL, 1, progress, &st,
                            &st.flag, NULL, 0, NULL, NULL, 0};
    clvae_status_t s = clvae_train_run(ctx, &d, &o, &interrupted, &err);
    CHECK(s == CLVAE_ERR_NOT_FOUND && strstr(err.msg, "make data"), "%s: %s",
          clvae_status_name(s), err.msg);
    FILE *f = fopen(out, "r");
    CHECK(!f, "the run folder was created before the data was checked");
    if (f) fclose(f);
    clvae_model_desc_free(&d);
    clvae_cfg_free(&cfg);
}

/* The gradient hook runs once per step between backward and the optimizer step, and the
 * non-finite guard comes after it: a hook that poisons the gradients gets every step skipped
 * (the run stops naming them); a hook's error stops the run with that error. */
typedef struct hook_state {
    int calls, poison, fail;
} hook_state_t;

static clvae_status_t hook(void *user, clvae_objective_t *model, int k, clvae_error_t *err)
{
    hook_state_t *h = user;
    (void)k;
    h->calls++;
    if (h->fail) return CLVAE_FAIL(err, CLVAE_ERR_IO, "the hook failed on purpose");
    if (!h->poison) return CLVAE_OK;
    clvae_buf_t g = clvae_objective_grads(model);
    return clvae_fill_forward(clvae_objective_ctx(model), g.mem, g.off, NAN, 1, err);
}

static void t_gradient_hook(void)
{
    const char *cases[3] = {"plain", "poison", "fail"};
    for (int c = 0; c < 3; c++) {
        clvae_cfg_t cfg;
        clvae_model_desc_t d;
        clvae_error_t err = {0};
        REQUIRE(clvae_cfg_parse(&cfg, DIGITS_VAE, strlen(DIGITS_VAE), "tiny.cfg", &err) == 0 &&
                    clvae_model_resolve(&d, &cfg, &err) == 0,
                "%s", err.msg);
        d.epochs = 1;
        char out[96];
        snprintf(out, sizeof out, "%s/hook_%s", dir, cases[c]);
        hook_state_t h = {0, c == 1, c == 2};
        clvae_train_opts_t o = {out, DIGITS_VAE, data_dir(), 0, NULL, 1, NULL, &h, NULL, NULL, 0,
                                hook, NULL, 0};
        int interrupted = 0;
        clvae_status_t s = clvae_train_run(ctx, &d, &o, &interrupted, &err);
        size_t nb = (1497 + d.batch - 1) / d.batch; /* the digits' training split: 1497 */
        if (c == 0)
            CHECK(s == CLVAE_OK && h.calls == (int)nb, "plain: %s, %d calls for %zu batches",
                  err.msg, h.calls, nb);
        else if (c == 1)
            CHECK(s == CLVAE_ERR_INVALID && strstr(err.msg, "NaN or infinite") != NULL,
                  "poisoned gradients were not skipped: %s", err.msg);
        else
            CHECK(s == CLVAE_ERR_IO && strstr(err.msg, "on purpose") != NULL && h.calls == 1,
                  "a failing hook: %s after %d calls", err.msg, h.calls);
        clvae_error_clear(&err);
        clvae_model_desc_free(&d);
        clvae_cfg_free(&cfg);
    }
}

/* metrics.csv names the objective's loss columns: a header of any count of them is built and
 * read back, an autoencoder's is today's, a row of the wrong length is refused. */
static void t_metrics_columns(void)
{
    const char *four[] = {"loss", "d", "g", "acc", NULL};
    char h[256];
    clvae_metrics_header_of(four, 4, h, sizeof h);
    CHECK(strcmp(h, "epoch,train_loss,train_d,train_g,train_acc,test_loss,test_d,test_g,"
                    "test_acc,seconds,images_per_s,beta") == 0,
          "header %s", h);
    const char *ae[] = {"loss", "recon", "kl", NULL};
    clvae_metrics_header_of(ae, 3, h, sizeof h);
    CHECK(strcmp(h, clvae_metrics_header()) == 0, "the autoencoder's header %s", h);
    char text[512];
    clvae_metrics_header_of(four, 4, h, sizeof h);
    snprintf(text, sizeof text, "%s\n1,1,2,3,4,5,6,7,8,9.5,100,0\n2,1,2,3,4,5,6,7,8,9.5,100\n", h);
    clvae_epoch_metrics_t *rows = NULL;
    size_t n = 0;
    clvae_error_t err = {0};
    REQUIRE(clvae_metrics_parse(text, &rows, &n, &err) == CLVAE_OK && n == 2, "%s", err.msg);
    CHECK(rows[0].ncols == 4 && rows[0].train[3] == 4 && rows[0].test[0] == 5 &&
              rows[0].test[3] == 8 && rows[0].seconds == 9.5 && rows[0].beta == 0 &&
              rows[1].beta == 1,
          "row: %d columns, train %g test %g %g, seconds %g, beta %g %g", rows[0].ncols,
          rows[0].train[3], rows[0].test[0], rows[0].test[3], rows[0].seconds, rows[0].beta,
          rows[1].beta);
    /* the loss figure draws each named column's train and test curve on a panel of its own
     * (450 x 300), three a row under a 36-pixel title: four columns take two rows */
    char png[96];
    snprintf(png, sizeof png, "%s/loss4.png", dir);
    CHECK(clvae_fig_loss(rows, n, four, "four columns", NULL, png, &err) == CLVAE_OK, "%s", err.msg);
    clvae_image_t img = {0};
    CHECK(clvae_png_read(png, &img, &err) == CLVAE_OK && img.w == 1350 && img.h == 636,
          "loss4.png: %dx%d %s", img.w, img.h, err.msg);
    /* with steps.csv text the panels gain the per-readback curve (other pixels, same size) */
    char png2[96];
    snprintf(png2, sizeof png2, "%s/loss4_steps.png", dir);
    const char *steps = "step,epoch,batch,examples,loss,recon,kl,acc,lr,images_per_s\n"
                        "5,1,5,40,3.5,2,1,0.5,0.001,10\n10,1,10,80,2.5,2,1,0.5,0.001,10\n"
                        "15,2,5,40,1.5,2,1,0.5,0.001,10\n20,2,10,80,1.0,2,1,0.5,0.001,10\n";
    clvae_image_t img2 = {0};
    CHECK(clvae_fig_loss(rows, n, four, "four columns", steps, png2, &err) == CLVAE_OK &&
              clvae_png_read(png2, &img2, &err) == CLVAE_OK && img2.w == img.w &&
              img2.h == img.h && memcmp(img.px, img2.px, (size_t)img.w * (size_t)img.h * 3) != 0,
          "the per-readback curve is not drawn: %s", err.msg);
    clvae_image_free(&img2);
    clvae_image_free(&img);
    const char *three[] = {"loss", "recon", NULL};
    CHECK(clvae_fig_loss(rows, n, three, "too few names", NULL, png, &err) == CLVAE_ERR_INVALID,
          "four columns drawn with two names");
    clvae_error_clear(&err);
    free(rows);
    snprintf(text, sizeof text, "%s\n1,1,2,3,4,5,6,9.5,100,0\n", h); /* two values short */
    CHECK(clvae_metrics_parse(text, &rows, &n, &err) == CLVAE_ERR_CORRUPT &&
              strstr(err.msg, "line 2") != NULL,
          "a row two values short: %s", err.msg);
    clvae_error_clear(&err);
}

int main(void)
{
    snprintf(dir, sizeof dir, "/tmp/clvae-test-train-XXXXXX");
    if (!mkdtemp(dir)) return 1;
    ctx = tu_ctx();
    if (!ctx) return 1;
    RUN(t_loss_falls_and_metrics);
    RUN(t_resume_is_bit_exact);
    RUN(t_family_resume_is_bit_exact);
    RUN(t_missing_data_is_found_first);
    RUN(t_gradient_hook);
    RUN(t_metrics_columns);
    clvae_ctx_free(ctx);
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    if (system(cmd) != 0) return 1;
    return TEST_EXIT();
}
