/* kind = classifier: config rules, whole-network gradients, loss and accuracy consistent with
 * the logits, penultimate activations, training that learns, the metrics of a training run. */
#define TEST_FILE "test_classifier"
#include "ref/ref.h"
#include "test.h"
#include "testutil.h"

#include <math.h>
#include <unistd.h>

#include "clvae/train/classify.h"
#include "clvae/train/objective.h"
#include "clvae/eval/score.h"
#include "clvae/train/train.h"
#include "clvae/ops/xent.h"

static clvae_ctx_t *ctx;

/* 4 classes of 6x6 images; smooth activations so central differences are fair */
#define TINY_CLS                                                                               \
    "[model]\nkind = classifier\n"                                                             \
    "[input]\nchannels = 1\nheight = 6\nwidth = 6\n"                                           \
    "[conv]\nfilters = 3\nsize = 3\nstride = 2\npadding = same\nactivation = tanh\n"           \
    "[flatten]\n[dense]\nunits = 5\nactivation = tanh\n[dense]\nunits = 4\n"

static const char *data_dir(void)
{
    const char *d = getenv("CLVAE_DATA_DIR");
    return d && *d ? d : "data";
}

static int resolve(const char *text, clvae_cfg_t *cfg, clvae_model_desc_t *d, clvae_error_t *err)
{
    if (clvae_cfg_parse(cfg, text, strlen(text), "tiny.cfg", err)) return 0;
    if (clvae_model_resolve(d, cfg, err)) {
        clvae_cfg_free(cfg);
        return 0;
    }
    return 1;
}

static void t_config(void)
{
    clvae_cfg_t cfg;
    clvae_model_desc_t d;
    clvae_error_t err = {0};
    REQUIRE(resolve(TINY_CLS, &cfg, &d, &err), "%s", err.msg);
    CHECK(d.classes == 4 && d.latent == d.nlayers && !d.variational, "classes %d latent %d",
          d.classes, d.latent);
    CHECK(clvae_classifier_feature_dim(&d) == 5, "features %zu", clvae_classifier_feature_dim(&d));
    clvae_model_desc_free(&d);
    clvae_cfg_free(&cfg);
    /* the real config: 10 classes, 128 features */
    REQUIRE(clvae_cfg_load(&cfg, "models/mnist_classifier.cfg", &err) == CLVAE_OK, "%s", err.msg);
    REQUIRE(clvae_model_resolve(&d, &cfg, &err) == CLVAE_OK, "%s", err.msg);
    CHECK(d.classes == 10 && clvae_classifier_feature_dim(&d) == 128, "classes %d", d.classes);
    clvae_model_desc_free(&d);
    clvae_cfg_free(&cfg);
    static const char *const bad[] = {
        /* a latent section */
        "[model]\nkind = classifier\n[input]\nchannels = 1\nheight = 2\nwidth = 2\n[flatten]\n"
        "[latent]\nsize = 2\n[dense]\nunits = 3\n",
        /* an activation on the logits */
        "[model]\nkind = classifier\n[input]\nchannels = 1\nheight = 2\nwidth = 2\n[flatten]\n"
        "[dense]\nunits = 3\nactivation = relu\n",
        /* a last layer that is not dense */
        "[model]\nkind = classifier\n[input]\nchannels = 1\nheight = 2\nwidth = 2\n"
        "[conv]\nfilters = 3\n",
        /* one class */
        "[model]\nkind = classifier\n[input]\nchannels = 1\nheight = 2\nwidth = 2\n[flatten]\n"
        "[dense]\nunits = 1\n",
        /* no layer after the input */
        "[model]\nkind = classifier\n[input]\nchannels = 1\nheight = 2\nwidth = 2\n",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        clvae_error_clear(&err);
        int ok = resolve(bad[i], &cfg, &d, &err);
        CHECK(!ok && err.status == CLVAE_ERR_INVALID, "bad config %zu accepted", i);
        if (ok) {
            clvae_model_desc_free(&d);
            clvae_cfg_free(&cfg);
        }
    }
    clvae_error_clear(&err);
}

/* Random images and labels for B examples of the tiny classifier, on the device. */
static void tiny_batch(clvae_objective_t *m, size_t B, size_t K, uint64_t seed, float *y,
                       clvae_buf_t *labels)
{
    clvae_error_t err = {0};
    size_t D = clvae_objective_example_dim(m);
    float *x = malloc(B * D * sizeof *x);
    tu_rand(x, B * D, 0.0f, 1.0f, &seed);
    tu_rand(y, B, 0.0f, (float)K, &seed);
    for (size_t b = 0; b < B; b++) y[b] = fminf(floorf(y[b]), (float)(K - 1));
    clvae_buf_upload(ctx, clvae_objective_input(m), x, B * D, &err);
    *labels = tu_upload(ctx, y, B);
    free(x);
}

/* n floats of a model buffer, downloaded into a new array (no guard bands there). */
static float *fetch(clvae_buf_t b, size_t n)
{
    clvae_error_t err = {0};
    float *x = malloc(n * sizeof *x);
    if (x && clvae_buf_download(ctx, x, b, n, &err)) {
        free(x);
        x = NULL;
    }
    return x;
}

static double loss_now(clvae_objective_t *m, size_t B, clvae_buf_t labels)
{
    clvae_error_t err = {0};
    float l[CLVAE_OBJECTIVE_MAX_COLUMNS];
    if (clvae_objective_forward(m, B, 0, 0, 0, labels, &err) || clvae_objective_losses(m, l, &err))
        return NAN;
    return l[0];
}

/* Backward of the mean cross-entropy against central differences for every parameter. */
static void t_gradients(void)
{
    clvae_cfg_t cfg;
    clvae_model_desc_t d;
    clvae_error_t err = {0};
    REQUIRE(resolve(TINY_CLS, &cfg, &d, &err), "%s", err.msg);
    clvae_objective_t *m = NULL;
    size_t B = 5, P = d.nparams;
    REQUIRE(clvae_objective_init(&m, ctx, &d, B, &err) == CLVAE_OK, "%s", err.msg);
    REQUIRE(clvae_objective_init_params(m, 3, &err) == CLVAE_OK, "%s", err.msg);
    float y[5];
    clvae_buf_t labels;
    tiny_batch(m, B, 4, 21, y, &labels);
    double l0 = loss_now(m, B, labels);
    CHECK(isfinite(l0) && l0 > 0, "loss %g", l0);
    REQUIRE(clvae_objective_backward(m, &err) == CLVAE_OK, "%s", err.msg);
    float *g = fetch(clvae_objective_grads(m), P), *p = fetch(clvae_objective_params(m), P);
    REQUIRE(g && p, "download");
    double gnorm = 0, dot = 0, nfd = 0;
    int bad = 0;
    for (size_t i = 0; i < P; i++) gnorm += (double)g[i] * g[i];
    CHECK(gnorm > 1e-8, "gradient is trivially zero (%g)", gnorm);
    for (size_t i = 0; i < P; i++) {
        float keep = p[i], h = 1e-2f;
        clvae_buf_t at = clvae_buf_at(clvae_objective_params(m), i);
        p[i] = keep + h;
        clvae_buf_upload(ctx, at, &p[i], 1, &err);
        double lp = loss_now(m, B, labels);
        p[i] = keep - h;
        clvae_buf_upload(ctx, at, &p[i], 1, &err);
        double lm = loss_now(m, B, labels);
        p[i] = keep;
        clvae_buf_upload(ctx, at, &p[i], 1, &err);
        double fd = (lp - lm) / (2.0 * h);
        dot += fd * g[i];
        nfd += fd * fd;
        if (fabs(fd - g[i]) > 2e-4 + 2e-2 * fabs(fd) && bad++ < 5)
            CHECK(0, "param %zu: backward %.6g, central difference %.6g", i, (double)g[i], fd);
    }
    double cosine = dot / sqrt(nfd * gnorm);
    CHECK(cosine > 0.9999, "cosine of backward and central differences %.6f", cosine);
    fprintf(stderr, "classifier gradients: cosine %.7f over %zu parameters\n", cosine, P);
    free(g);
    free(p);
    clvae_buf_free(&labels);
    clvae_objective_free(m);
    clvae_model_desc_free(&d);
    clvae_cfg_free(&cfg);
}

/* The reported loss and accuracy are those of the logits (double reference), the per-example
 * values too; the penultimate activations give the logits through the last dense layer; a
 * forward without labels gives the same logits and backward then refuses. */
static void t_losses_and_activations(void)
{
    clvae_cfg_t cfg;
    clvae_model_desc_t d;
    clvae_error_t err = {0};
    REQUIRE(resolve(TINY_CLS, &cfg, &d, &err), "%s", err.msg);
    clvae_objective_t *m = NULL;
    size_t B = 40, K = 4, F = 5;
    REQUIRE(clvae_objective_init(&m, ctx, &d, B, &err) == CLVAE_OK, "%s", err.msg);
    REQUIRE(clvae_objective_init_params(m, 9, &err) == CLVAE_OK, "%s", err.msg);
    float y[40], z[160], act[200], per[40], hit[40], z2[160];
    clvae_buf_t labels;
    tiny_batch(m, B, K, 33, y, &labels);
    float l[CLVAE_OBJECTIVE_MAX_COLUMNS];
    REQUIRE(clvae_objective_forward(m, B, 0, 0, 0, labels, &err) == CLVAE_OK, "%s", err.msg);
    REQUIRE(clvae_objective_losses(m, l, &err) == CLVAE_OK &&
                clvae_objective_outputs(m, z, &err) == CLVAE_OK &&
                clvae_objective_activations(m, d.nlayers - 2, act, &err) == CLVAE_OK &&
                clvae_objective_example_losses(m, per, hit, &err) == CLVAE_OK,
            "%s", err.msg);
    double *zd = tu_double(z, B * K), *yd = tu_double(y, B), ref[40], mean, corr[40];
    clvae_xent_forward_ref(ref, &mean, zd, yd, B, K);
    clvae_xent_correct_ref(corr, zd, yd, B, K);
    double acc = 0;
    for (size_t b = 0; b < B; b++) {
        acc += corr[b];
        CHECK(fabs(per[b] - ref[b]) < 1e-5 + 1e-5 * ref[b], "example %zu: %g vs %g", b,
              (double)per[b], ref[b]);
        CHECK(hit[b] == (float)corr[b], "example %zu: hit %g vs %g", b, (double)hit[b], corr[b]);
    }
    acc /= (double)B;
    CHECK(fabs(l[0] - mean) < 1e-5 * (1 + mean) && fabs(l[1] - mean) < 1e-5 * (1 + mean),
          "loss %g / %g vs %g", (double)l[0], (double)l[1], mean);
    CHECK(fabs(l[2] - acc) < 1e-6, "accuracy %g vs %g", (double)l[2], acc);
    CHECK(acc > 0 && acc < 1, "a random model should hit some, not all: %g", acc);
    /* logits = W act + b for the last dense layer */
    const clvae_layer_t *L = &d.layers[d.nlayers - 1];
    float *p = fetch(clvae_objective_params(m), d.nparams);
    REQUIRE(p, "download");
    double worst = 0;
    for (size_t b = 0; b < B; b++)
        for (size_t k = 0; k < K; k++) {
            double s = p[L->b_off + k];
            for (size_t f = 0; f < F; f++) s += (double)p[L->w_off + k * F + f] * act[b * F + f];
            worst = fmax(worst, fabs(s - z[b * K + k]));
        }
    CHECK(worst < 1e-5, "logits from the penultimate activations differ by %g", worst);
    for (size_t i = 0; i < B * F; i++) CHECK(fabsf(act[i]) <= 1.0f, "tanh feature %g", (double)act[i]);
    /* no labels: the same logits, no backward */
    clvae_buf_t none = {0};
    REQUIRE(clvae_objective_forward(m, B, 0, 0, 0, none, &err) == CLVAE_OK, "%s", err.msg);
    REQUIRE(clvae_objective_outputs(m, z2, &err) == CLVAE_OK, "%s", err.msg);
    CHECK(memcmp(z, z2, sizeof z) == 0, "logits differ without labels");
    CHECK(clvae_objective_backward(m, &err) == CLVAE_ERR_INVALID, "backward without labels ran");
    CHECK(clvae_objective_activations(m, d.nlayers, act, &err) == CLVAE_ERR_INVALID, "layer past the last");
    float zz[2];
    CHECK(clvae_objective_decode(m, zz, 1, z2, &err) == CLVAE_ERR_INVALID, "a classifier decoded");
    clvae_error_clear(&err);
    free(p);
    free(zd);
    free(yd);
    clvae_buf_free(&labels);
    clvae_objective_free(m);
    clvae_model_desc_free(&d);
    clvae_cfg_free(&cfg);
}

/* models/mnist_classifier.cfg on 64 MNIST training images: 12 Adam steps on that batch lower
 * the loss, and the accuracy reported is that of its logits. */
static void t_mnist_config_learns(void)
{
    clvae_cfg_t cfg;
    clvae_model_desc_t d;
    clvae_error_t err = {0};
    clvae_dataset_t ds = {0};
    REQUIRE(clvae_cfg_load(&cfg, "models/mnist_classifier.cfg", &err) == CLVAE_OK, "%s", err.msg);
    REQUIRE(clvae_model_resolve(&d, &cfg, &err) == CLVAE_OK, "%s", err.msg);
    REQUIRE(clvae_dataset_open("mnist:train", data_dir(), &ds, &err) == CLVAE_OK, "%s", err.msg);
    size_t B = 64;
    REQUIRE(clvae_dataset_limit(&ds, B, &err) == CLVAE_OK, "%s", err.msg);
    clvae_objective_t *m = NULL;
    REQUIRE(clvae_objective_init(&m, ctx, &d, B, &err) == CLVAE_OK, "%s", err.msg);
    REQUIRE(clvae_objective_init_params(m, d.seed, &err) == CLVAE_OK, "%s", err.msg);
    float *x = NULL;
    clvae_buf_t labels = {0};
    REQUIRE(clvae_dataset_floats(&ds, B, &x, &err) == CLVAE_OK, "%s", err.msg);
    REQUIRE(clvae_class_labels_upload(ctx, &ds, NULL, B, &labels, &err) == CLVAE_OK, "%s", err.msg);
    float first[CLVAE_OBJECTIVE_MAX_COLUMNS] = {0}, last[CLVAE_OBJECTIVE_MAX_COLUMNS] = {0};
    for (long step = 1; step <= 12; step++) {
        clvae_buf_upload(ctx, clvae_objective_input(m), x, B * 784, &err);
        if (clvae_objective_forward(m, B, 0, 0, 0, labels, &err) || clvae_objective_backward(m, &err) ||
            clvae_objective_step(m, step, &err)) {
            CHECK(0, "step %ld: %s", step, err.msg);
            break;
        }
        clvae_objective_losses(m, step == 1 ? first : last, &err);
    }
    CHECK(last[0] < 0.5f * first[0], "loss %g -> %g", (double)first[0],
          (double)last[0]);
    CHECK(last[2] > first[2], "accuracy %g -> %g", (double)first[2], (double)last[2]);
    /* the accuracy of the last forward is that of its logits */
    float *z = malloc(B * 10 * sizeof *z);
    clvae_objective_outputs(m, z, &err);
    size_t hits = 0;
    for (size_t b = 0; b < B; b++) {
        size_t best = 0;
        for (size_t k = 1; k < 10; k++)
            if (z[b * 10 + k] > z[b * 10 + best]) best = k;
        hits += best == ds.labels[b];
    }
    CHECK(fabs(last[2] - (double)hits / (double)B) < 1e-6, "accuracy %g, logits say %g",
          (double)last[2], (double)hits / (double)B);
    fprintf(stderr, "mnist_classifier on 64 images: loss %.4f -> %.4f, accuracy %.3f -> %.3f\n",
            (double)first[0], (double)last[0], (double)first[2], (double)last[2]);
    free(z);
    free(x);
    clvae_buf_free(&labels);
    clvae_dataset_free(&ds);
    clvae_objective_free(m);
    clvae_model_desc_free(&d);
    clvae_cfg_free(&cfg);
}

/* A dense classifier on the 8x8 digits through clvae_train_run: classifier metrics.csv, loss
 * falling over the epochs, the test accuracy of the last row equal to a fresh test pass. */
#define DIGITS_CLS                                                                              \
    "[model]\nname = digits_cls\nkind = classifier\n[data]\ntrain = digits:train\n"            \
    "test = digits:test\n[train]\nepochs = 3\nbatch = 32\nlr = 0.003\nseed = 2\n"              \
    "[input]\nchannels = 1\nheight = 8\nwidth = 8\n[flatten]\n[dense]\nunits = 32\n"           \
    "activation = relu\n[dense]\nunits = 10\n"

static void t_train_run_metrics(void)
{
    char dir[64];
    snprintf(dir, sizeof dir, "/tmp/clvae_test_cls_%ld", (long)getpid());
    clvae_cfg_t cfg;
    clvae_model_desc_t d;
    clvae_error_t err = {0};
    REQUIRE(resolve(DIGITS_CLS, &cfg, &d, &err), "%s", err.msg);
    clvae_train_opts_t o = {dir, DIGITS_CLS, data_dir(), 0, NULL, 1, NULL, NULL, NULL, NULL, 0, NULL, NULL, 0};
    int interrupted = 0;
    REQUIRE(clvae_train_run(ctx, &d, &o, &interrupted, &err) == CLVAE_OK, "%s", err.msg);
    char path[128];
    snprintf(path, sizeof path, "%s/metrics.csv", dir);
    FILE *f = fopen(path, "rb");
    REQUIRE(f, "no %s", path);
    char text[4096];
    size_t n = fread(text, 1, sizeof text - 1, f);
    fclose(f);
    text[n] = 0;
    /* the classifier's 7 columns, then the common ones (seconds, images_per_s, ...) */
    const char *cols = clvae_metrics_columns_classifier(), *common = clvae_metrics_header();
    for (int k = 0; k < 7 && common; k++) common = strchr(common + 1, ',');
    REQUIRE(common, "common header");
    CHECK(strncmp(text, cols, strlen(cols)) == 0 &&
              strncmp(text + strlen(cols), common, strlen(common)) == 0 &&
              text[strlen(cols) + strlen(common)] == '\n',
          "header: %.100s", text);
    clvae_epoch_metrics_t *rows = NULL;
    size_t nr = 0;
    REQUIRE(clvae_metrics_parse(text, &rows, &nr, &err) == CLVAE_OK && nr == 3, "%zu rows", nr);
    CHECK(rows[2].train[0] < rows[0].train[0] && rows[2].test[0] < rows[0].test[0],
          "loss %g -> %g, test %g -> %g", rows[0].train[0], rows[2].train[0], rows[0].test[0],
          rows[2].test[0]);
    for (size_t i = 0; i < nr; i++)
        CHECK(rows[i].test[2] >= 0 && rows[i].test[2] <= 1 && rows[i].train[2] >= 0 &&
                  rows[i].train[2] <= 1 && rows[i].train[0] == rows[i].train[1],
              "row %zu: accuracy %g / %g", i, rows[i].train[2], rows[i].test[2]);
    CHECK(rows[2].test[2] > 0.5, "test accuracy after 3 epochs %g", rows[2].test[2]);
    /* a fresh test pass from the checkpoint agrees with the last row */
    clvae_checkpoint_t ck;
    memset(&ck, 0, sizeof ck);
    snprintf(path, sizeof path, "%s/checkpoint.safetensors", dir);
    clvae_objective_t *m = NULL;
    clvae_dataset_t test = {0};
    clvae_data_dev_t dt = {0};
    clvae_class_result_t cr;
    REQUIRE(clvae_checkpoint_read(path, &ck, &err) == CLVAE_OK &&
                clvae_checkpoint_bind(&ck, &d, path, &err) == CLVAE_OK &&
                clvae_objective_init(&m, ctx, &d, 100, &err) == CLVAE_OK &&
                clvae_checkpoint_apply(&ck, ctx, m, d.nparams, 0, &err) == CLVAE_OK &&
                clvae_dataset_open("digits:test", data_dir(), &test, &err) == CLVAE_OK &&
                clvae_data_upload(ctx, &test, &dt, &err) == CLVAE_OK &&
                clvae_classifier_evaluate(ctx, m, &d, &test, &dt, test.n, 100, &cr, &err) ==
                    CLVAE_OK,
            "%s", err.msg);
    CHECK(fabs(cr.accuracy - rows[2].test[2]) < 1e-6 && fabs(cr.loss - rows[2].test[0]) < 1e-4,
          "test pass %g / %g, metrics %g / %g", cr.accuracy, cr.loss, rows[2].test[2],
          rows[2].test[0]);
    /* the generative test pass refuses a classifier */
    clvae_eval_result_t ev;
    CHECK(clvae_evaluate(ctx, m, &d, &dt, test.n, 100, 0, 0, 0, &ev, &err) == CLVAE_ERR_INVALID,
          "clvae_evaluate ran a classifier");
    clvae_error_clear(&err);
    free(rows);
    clvae_data_dev_free(&dt);
    clvae_dataset_free(&test);
    clvae_objective_free(m);
    clvae_checkpoint_free(&ck);
    clvae_model_desc_free(&d);
    clvae_cfg_free(&cfg);
    char cmd[160];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    if (system(cmd) != 0) fprintf(stderr, "  could not remove %s\n", dir);
}

int main(void)
{
    ctx = tu_ctx();
    if (!ctx) return 1;
    RUN(t_config);
    RUN(t_gradients);
    RUN(t_losses_and_activations);
    RUN(t_mnist_config_learns);
    RUN(t_train_run_metrics);
    clvae_ctx_free(ctx);
    return TEST_EXIT();
}
