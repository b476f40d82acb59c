/* The classification accuracy score: the classifier config trained on generated, real and both
 * sets of images (MNIST IDX files in a work folder), each tested on the real test set. */
#include "clvae/eval/cas.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "clvae/eval/score.h"
#include "clvae/io/fileio.h"
#include "clvae/net/config.h"
#include "clvae/train/train.h"

/* The config cls_text with data.train = spec (NULL: unchanged), train.limit = 0 and, when
 * epochs > 0, train.epochs = epochs, resolved into *d; its text into *text (malloc'd). */
static clvae_status_t config_for(const char *cls_text, const char *spec, long epochs,
                                 clvae_model_desc_t *d, char **text, clvae_error_t *err)
{
    clvae_cfg_t cfg = {0};
    char set[4400];
    clvae_status_t s = clvae_cfg_parse(&cfg, cls_text, strlen(cls_text), "classifier config", err);
    if (!s && spec) {
        snprintf(set, sizeof set, "data.train=%s", spec);
        s = clvae_cfg_set(&cfg, set, err);
    }
    if (!s) s = clvae_cfg_set(&cfg, "train.limit=0", err);
    if (!s && epochs > 0) {
        snprintf(set, sizeof set, "train.epochs=%ld", epochs);
        s = clvae_cfg_set(&cfg, set, err);
    }
    memset(d, 0, sizeof *d);
    if (!s) s = clvae_model_resolve(d, &cfg, err);
    if (!s && text && !(*text = clvae_cfg_format(&cfg)))
        s = CLVAE_FAIL(err, CLVAE_ERR_NOMEM, "out of host memory");
    if (s) clvae_model_desc_free(d);
    clvae_cfg_free(&cfg);
    return s;
}

clvae_status_t clvae_cas_check(const clvae_model_desc_t *gd, const clvae_model_desc_t *cd,
                               const char *cls_text, const char *data_dir, size_t n,
                               clvae_error_t *err)
{
    const clvae_layer_t *gi = clvae_objective_image_layer(gd), *ci = &cd->layers[0];
    if (!(clvae_objective_can(cd) & CLVAE_CAN_CLASSIFY))
        return CLVAE_FAIL(err, CLVAE_ERR_INVALID, "%s is not a classifier", cd->name);
    if (!gi || gi->out_c != ci->out_c || gi->out_h != ci->out_h || gi->out_w != ci->out_w)
        return CLVAE_FAIL(err, CLVAE_ERR_INVALID, "%s draws %zux%zux%zu images; classifier %s "
                          "reads %zux%zux%zu", gd->name, gi ? gi->out_c : 0, gi ? gi->out_h : 0,
                          gi ? gi->out_w : 0, cd->name, ci->out_c, ci->out_h, ci->out_w);
    if (ci->out_c != 1)
        return CLVAE_FAIL(err, CLVAE_ERR_INVALID, "the classification accuracy score writes its "
                          "data sets as IDX files, which hold grey images; %s reads %zu channels",
                          cd->name, ci->out_c);
    if (clvae_gen_conditional(gd) > cd->classes)
        return CLVAE_FAIL(err, CLVAE_ERR_INVALID, "%s draws %d classes; classifier %s knows %d",
                          gd->name, clvae_gen_conditional(gd), cd->name, cd->classes);
    clvae_model_desc_t d;
    clvae_status_t s = config_for(cls_text, NULL, 0, &d, NULL, err);
    clvae_dataset_t real = {0};
    if (!s) s = clvae_dataset_open(d.train_data, data_dir, &real, err);
    if (!s && !real.labels)
        s = CLVAE_FAIL(err, CLVAE_ERR_INVALID, "%s has no labels: the classification accuracy "
                       "score trains on labelled real images too", real.name);
    if (!s && real.n < n)
        s = CLVAE_FAIL(err, CLVAE_ERR_INVALID, "%s holds %zu images, fewer than the %zu the "
                       "classification accuracy score compares the samples with; ask for at "
                       "most %zu", real.name, real.n, n, real.n);
    clvae_dataset_free(&real);
    if (!s) clvae_model_desc_free(&d);
    return s;
}

/* work/name/{images-idx3-ubyte,labels-idx1-ubyte}: n images of h x w bytes and their labels;
 * the data spec that reads them into spec. */
static clvae_status_t write_set(const char *work, const char *name, const uint8_t *px,
                                const uint8_t *lab, size_t n, size_t h, size_t w, char *spec,
                                size_t size, clvae_error_t *err)
{
    char dir[2100], img[2200], lbl[2200];
    snprintf(dir, sizeof dir, "%.2000s/%.60s", work, name);
    if (mkdir(dir, 0755) != 0 && errno != EEXIST)
        return CLVAE_FAIL(err, CLVAE_ERR_IO, "cannot make %s: %s", dir, strerror(errno));
    snprintf(img, sizeof img, "%.2100s/images-idx3-ubyte", dir);
    snprintf(lbl, sizeof lbl, "%.2100s/labels-idx1-ubyte", dir);
    size_t dims[3] = {n, h, w};
    clvae_status_t s = clvae_idx_write_u8(img, dims, 3, px, err);
    if (!s) s = clvae_idx_write_u8(lbl, dims, 1, lab, err);
    snprintf(spec, size, "idx:%.2190s,%.2190s", img, lbl);
    return s;
}

typedef struct cas_train {
    clvae_cas_say_t say;
    void *user;
    const char *what;
    double acc;
    size_t test_n;
} cas_train_t;

static void on_progress(void *user, const clvae_progress_t *p)
{
    cas_train_t *t = user;
    if (!p->epoch_done || !p->metrics) return;
    t->acc = p->metrics->test[2]; /* loss, xent, acc */
    t->test_n = p->test_n;
    if (t->say) {
        char line[256];
        snprintf(line, sizeof line, "CAS, trained on %s: epoch %ld/%ld, test accuracy %.2f%%",
                 t->what, p->epoch, p->epochs, 100.0 * t->acc);
        t->say(t->user, line);
    }
}

/* Trains the classifier config on spec into work/run_name; its last test accuracy into *acc. */
static clvae_status_t train_on(clvae_ctx_t *ctx, const char *cls_text, const char *data_dir,
                               const char *work, const char *name, const char *what,
                               const char *spec, long epochs, clvae_cas_say_t say, void *user,
                               double *acc, size_t *test_n, clvae_error_t *err)
{
    clvae_model_desc_t d;
    char *text = NULL, out[4300];
    clvae_status_t s = config_for(cls_text, spec, epochs, &d, &text, err);
    if (s) return s;
    snprintf(out, sizeof out, "%.4000s/run_%s", work, name);
    cas_train_t t = {say, user, what, NAN, 0};
    clvae_train_opts_t o = {out, text, data_dir, 0, NULL, 0, on_progress, &t, NULL, NULL, 0, NULL,
                            NULL, 0};
    int interrupted = 0;
    s = clvae_train_run(ctx, &d, &o, &interrupted, err);
    if (!s && !isfinite(t.acc))
        s = CLVAE_FAIL(err, CLVAE_ERR_INVALID, "the classifier trained on %s has no test "
                       "accuracy: its config tests on no images", what);
    *acc = t.acc;
    *test_n = t.test_n;
    clvae_model_desc_free(&d);
    free(text);
    return s;
}

/* The n samples' labels: i mod K for a conditional model, else classifier cls's argmax. */
static clvae_status_t sample_set(clvae_ctx_t *ctx, clvae_objective_t *gen,
                                 const clvae_model_desc_t *gd, clvae_objective_t *cls,
                                 const clvae_model_desc_t *cd, size_t n, uint64_t seed,
                                 const float *samples, uint8_t *px, uint8_t *lab,
                                 clvae_error_t *err)
{
    size_t D = clvae_objective_sample_dim(gen), K = (size_t)cd->classes;
    int C = clvae_gen_conditional(gd);
    float *x = malloc(n * D * sizeof *x), *probs = malloc(n * K * sizeof *probs);
    int *labels = C ? malloc(n * sizeof *labels) : NULL;
    clvae_status_t s = !x || !probs || (C && !labels)
                           ? CLVAE_FAIL(err, CLVAE_ERR_NOMEM, "out of host memory")
                           : CLVAE_OK;
    for (size_t i = 0; !s && C && i < n; i++) labels[i] = (int)(i % (size_t)C);
    if (!s && samples) memcpy(x, samples, n * D * sizeof *x);
    else if (!s) s = clvae_generate(gen, gd, n, seed, labels, x, err);
    if (!s && !C) s = clvae_classify_images(ctx, cls, cd, x, n, NULL, probs, err);
    for (size_t i = 0; !s && i < n; i++) {
        size_t best = 0;
        for (size_t k = 1; !C && k < K; k++)
            if (probs[i * K + k] > probs[i * K + best]) best = k;
        lab[i] = (uint8_t)(C ? (size_t)labels[i] : best);
    }
    clvae_floats_to_u8(x, n * D, px);
    free(x);
    free(probs);
    free(labels);
    return s;
}

clvae_status_t clvae_cas_run(clvae_ctx_t *ctx, clvae_objective_t *gen, const clvae_model_desc_t *gd,
                             clvae_objective_t *cls, const clvae_model_desc_t *cd,
                             const char *cls_text, const char *data_dir, const char *work,
                             size_t n, long epochs, uint64_t seed, const float *samples,
                             unsigned sets, clvae_cas_say_t say,
                             void *user, clvae_cas_t *out, clvae_error_t *err)
{
    clvae_status_t s = clvae_cas_check(gd, cd, cls_text, data_dir, n, err);
    if (s) return s;
    const clvae_layer_t *ci = &cd->layers[0];
    size_t D = ci->out_h * ci->out_w;
    clvae_dataset_t real = {0};
    uint8_t *px = malloc(2 * n * D), *lab = malloc(2 * n);
    char gspec[4400], rspec[4400], bspec[4400];
    if (!px || !lab) s = CLVAE_FAIL(err, CLVAE_ERR_NOMEM, "out of host memory");
    /* [0, n): real, [n, 2n): generated */
    if (!s) s = clvae_dataset_open(cd->train_data, data_dir, &real, err);
    for (size_t i = 0; !s && i < n * D; i++) {
        float v = real.pixels[i] * real.scale;
        px[i] = (uint8_t)lrintf(255.0f * (v > 1.0f ? 1.0f : v));
    }
    if (!s) memcpy(lab, real.labels, n);
    if (!s && say && !samples) say(user, "CAS: drawing the samples");
    if (!s) s = sample_set(ctx, gen, gd, cls, cd, n, seed, samples, px + n * D, lab + n, err);
    if (!s) s = write_set(work, "generated", px + n * D, lab + n, n, ci->out_h, ci->out_w, gspec,
                          sizeof gspec, err);
    if (!s) s = write_set(work, "real", px, lab, n, ci->out_h, ci->out_w, rspec, sizeof rspec, err);
    if (!s) s = write_set(work, "both", px, lab, 2 * n, ci->out_h, ci->out_w, bspec, sizeof bspec,
                          err);
    memset(out, 0, sizeof *out);
    out->n = n;
    out->pseudo = !clvae_gen_conditional(gd);
    out->generated = out->real = out->both = NAN;
    if (!s && (sets & CLVAE_CAS_GENERATED)) s = train_on(ctx, cls_text, data_dir, work, "generated", "the generated images", gspec,
                         epochs, say, user, &out->generated, &out->test_n, err);
    if (!s && (sets & CLVAE_CAS_REAL)) s = train_on(ctx, cls_text, data_dir, work, "real", "the real images", rspec, epochs,
                         say, user, &out->real, &out->test_n, err);
    if (!s && (sets & CLVAE_CAS_BOTH)) s = train_on(ctx, cls_text, data_dir, work, "both", "real + generated", bspec, epochs,
                         say, user, &out->both, &out->test_n, err);
    clvae_model_desc_t d;
    if (!s && !(s = config_for(cls_text, NULL, epochs, &d, NULL, err))) {
        out->epochs = d.epochs;
        clvae_model_desc_free(&d);
    }
    clvae_dataset_free(&real);
    free(px);
    free(lab);
    return s;
}
