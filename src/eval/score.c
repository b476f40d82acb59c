/* Scoring: samples from a generative model judged by a classifier (features, Frechet, confidence). */
#include "clvae/eval/score.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "clvae/eval/frechet.h"
#include "clvae/io/clock.h"
#include "clvae/ops/rng.h"

static size_t layer_size(const clvae_layer_t *L) { return L->out_c * L->out_h * L->out_w; }

size_t clvae_classifier_feature_dim(const clvae_model_desc_t *d)
{
    return d->classes && d->nlayers >= 2 ? layer_size(&d->layers[d->nlayers - 2]) : 0;
}

clvae_status_t clvae_classify_images(clvae_ctx_t *ctx, clvae_objective_t *cls, const clvae_model_desc_t *cd,
                                     const float *imgs, size_t n, float *features, float *probs,
                                     clvae_error_t *err)
{
    if (!(clvae_objective_can(cd) & CLVAE_CAN_CLASSIFY))
        return CLVAE_FAIL(err, CLVAE_ERR_INVALID, "%s is not a classifier (kind = classifier)",
                          cd->name);
    size_t D = clvae_objective_example_dim(cls), K = (size_t)cd->classes;
    size_t F = clvae_classifier_feature_dim(cd), mb = clvae_objective_max_batch(cls);
    float *logits = malloc(mb * K * sizeof *logits);
    if (!logits) return CLVAE_FAIL(err, CLVAE_ERR_NOMEM, "out of host memory");
    clvae_buf_t none = {0};
    clvae_status_t s = CLVAE_OK;
    for (size_t st = 0; st < n && !s; st += mb) {
        size_t B = n - st < mb ? n - st : mb;
        if ((s = clvae_buf_upload(ctx, clvae_objective_input(cls), imgs + st * D,
                                  B * D, err)) ||
            (s = clvae_objective_forward(cls, B, 0, 0, 0, none, err)) ||
            (features && (s = clvae_objective_activations(cls, cd->nlayers - 2, features + st * F,
                                                      err))) ||
            (probs && (s = clvae_objective_outputs(cls, logits, err))))
            break;
        for (size_t b = 0; probs && b < B; b++) {
            const float *z = logits + b * K;
            double mx = z[0], sum = 0;
            for (size_t k = 1; k < K; k++) mx = z[k] > mx ? z[k] : mx;
            for (size_t k = 0; k < K; k++) sum += exp((double)z[k] - mx);
            for (size_t k = 0; k < K; k++)
                probs[(st + b) * K + k] = (float)(exp((double)z[k] - mx) / sum);
        }
    }
    free(logits);
    return s;
}

int clvae_gen_conditional(const clvae_model_desc_t *d)
{
    return (int)d->conditional;
}

clvae_status_t clvae_generate(clvae_objective_t *gen, const clvae_model_desc_t *gd, size_t n,
                              uint64_t seed, const int *labels, float *out, clvae_error_t *err)
{
    if (!(clvae_objective_can(gd) & CLVAE_CAN_SAMPLE))
        return CLVAE_FAIL(err, CLVAE_ERR_INVALID, "%s is a classifier, not a generative model",
                          gd->name);
    if (labels && !clvae_gen_conditional(gd))
        return CLVAE_FAIL(err, CLVAE_ERR_INVALID, "%s is not a conditional model: it samples "
                          "without labels", gd->name);
    if (gd->prior) return clvae_objective_prior_sample(gen, n, seed, 1.0f, out, err);
    if (gd->ddpm) return clvae_objective_ddpm_sample(gen, n, seed, NULL, labels, out, err);
    size_t J = clvae_objective_latent_dim(gen), D = clvae_objective_example_dim(gen);
    size_t mb = clvae_objective_max_batch(gen);
    float *z = malloc(n * J * sizeof *z);
    if (!z) return CLVAE_FAIL(err, CLVAE_ERR_NOMEM, "out of host memory");
    clvae_rng_normal_host(z, n * J, seed, 0);
    size_t K = clvae_objective_classes(gen);
    if (K && !labels) {
        free(z);
        return CLVAE_FAIL(err, CLVAE_ERR_INVALID, "%s is a conditional model: it samples with a "
                          "label for each image", gd->name);
    }
    float *fl = K ? malloc(mb * sizeof *fl) : NULL;
    clvae_status_t s = K && !fl ? CLVAE_FAIL(err, CLVAE_ERR_NOMEM, "out of host memory") : CLVAE_OK;
    for (size_t st = 0; st < n && !s; st += mb) {
        size_t B = n - st < mb ? n - st : mb;
        if (K) {
            for (size_t b = 0; b < B; b++) {
                if (labels[st + b] < 0 || (size_t)labels[st + b] >= K) {
                    s = CLVAE_FAIL(err, CLVAE_ERR_INVALID, "label %d of sample %zu is not below "
                                   "%zu", labels[st + b], st + b, K);
                    break;
                }
                fl[b] = (float)labels[st + b];
            }
            if (!s) s = clvae_buf_upload(clvae_objective_ctx(gen), clvae_objective_labels(gen), fl, B, err);
        }
        if (!s) s = clvae_objective_decode(gen, z + st * J, B, out + st * D, err);
    }
    free(fl);
    free(z);
    return s;
}

clvae_status_t clvae_dataset_floats(const clvae_dataset_t *ds, size_t n, float **out,
                                    clvae_error_t *err)
{
    *out = NULL;
    if (n == 0 || n > ds->n)
        return CLVAE_FAIL(err, CLVAE_ERR_INVALID, "%zu of the %zu examples of %s", n, ds->n,
                          ds->name);
    size_t D = clvae_dataset_dim(ds);
    float *f = malloc(n * D * sizeof *f);
    if (!f) return CLVAE_FAIL(err, CLVAE_ERR_NOMEM, "out of host memory");
    for (size_t i = 0; i < n * D; i++) f[i] = (float)ds->pixels[i] * ds->scale;
    *out = f;
    return CLVAE_OK;
}

int clvae_score_collapse(const clvae_score_t *s, char *buf, size_t size)
{
    int n = 0;
    size_t len = 0;
    if (size) buf[0] = 0;
    for (int k = 0; s->hist && k < s->classes; k++) {
        /* hist[k] < n / (3K), in integers */
        if (3 * (size_t)s->classes * s->hist[k] >= s->n) continue;
        n++;
        if (len < size) len += (size_t)snprintf(buf + len, size - len, "%s%d", len ? ", " : "", k);
    }
    return n;
}

void clvae_score_free(clvae_score_t *s)
{
    free(s->hist);
    free(s->samples);
    s->hist = NULL;
    s->samples = NULL;
}

/* Frechet distance between the Gaussian fits of two feature sets. */
static clvae_status_t frechet_of(const float *a, size_t na, const float *b, size_t nb, size_t F,
                                 double *out, clvae_error_t *err)
{
    double *m1 = malloc(F * sizeof *m1), *m2 = malloc(F * sizeof *m2);
    double *c1 = malloc(F * F * sizeof *c1), *c2 = malloc(F * F * sizeof *c2);
    clvae_status_t s;
    if (!m1 || !m2 || !c1 || !c2)
        s = CLVAE_FAIL(err, CLVAE_ERR_NOMEM, "out of host memory");
    else if (!(s = clvae_gauss_fit(a, na, F, m1, c1, err)) &&
             !(s = clvae_gauss_fit(b, nb, F, m2, c2, err)))
        s = clvae_frechet_distance(m1, c1, m2, c2, F, out, err);
    free(m1);
    free(m2);
    free(c1);
    free(c2);
    return s;
}

clvae_status_t clvae_score_run(clvae_ctx_t *ctx, clvae_objective_t *gen, const clvae_model_desc_t *gd,
                               clvae_objective_t *cls, const clvae_model_desc_t *cd,
                               const clvae_dataset_t *test, size_t n, uint64_t seed,
                               clvae_score_t *out, clvae_error_t *err)
{
    memset(out, 0, sizeof *out);
    out->label_match = NAN;
    if (!(clvae_objective_can(cd) & CLVAE_CAN_CLASSIFY))
        return CLVAE_FAIL(err, CLVAE_ERR_INVALID, "%s is not a classifier (kind = classifier)",
                          cd->name);
    if (!(clvae_objective_can(gd) & CLVAE_CAN_SAMPLE))
        return CLVAE_FAIL(err, CLVAE_ERR_INVALID, "%s is a classifier, not a generative model",
                          gd->name);
    size_t D = clvae_objective_sample_dim(gen), K = (size_t)cd->classes;
    const clvae_layer_t *gi = clvae_objective_image_layer(gd), *ci = &cd->layers[0];
    if (gi->out_c != ci->out_c || gi->out_h != ci->out_h || gi->out_w != ci->out_w ||
        clvae_dataset_dim(test) != D)
        return CLVAE_FAIL(err, CLVAE_ERR_INVALID,
                          "the classifier %s reads %zux%zux%zu images, but %s makes %zux%zux%zu "
                          "and its test set %s holds %zux%zux%zu",
                          cd->name, ci->out_c, ci->out_h, ci->out_w, gd->name, gi->out_c,
                          gi->out_h, gi->out_w, test->name, test->c, test->h, test->w);
    if (n < 2) return CLVAE_FAIL(err, CLVAE_ERR_INVALID, "score needs at least 2 samples");
    size_t rn = n < test->n ? n : test->n, F = clvae_classifier_feature_dim(cd);
    if (rn < 4)
        return CLVAE_FAIL(err, CLVAE_ERR_INVALID, "%s has %zu examples: too few for a Gaussian "
                          "fit", test->name, test->n);
    int C = clvae_gen_conditional(gd);
    float *imgs = malloc(n * D * sizeof *imgs), *ref = NULL;
    float *fs = malloc(n * F * sizeof *fs), *fr = malloc(rn * F * sizeof *fr);
    float *ps = malloc(n * K * sizeof *ps), *pr = malloc(rn * K * sizeof *pr);
    int *labels = C ? malloc(n * sizeof *labels) : NULL;
    out->hist = calloc(K, sizeof *out->hist);
    clvae_status_t s = CLVAE_OK;
    if (!imgs || !fs || !fr || !ps || !pr || (C && !labels) || !out->hist) {
        s = CLVAE_FAIL(err, CLVAE_ERR_NOMEM, "out of host memory");
        goto done;
    }
    for (size_t i = 0; labels && i < n; i++) labels[i] = (int)(i % (size_t)C);
    double t0 = clvae_seconds();
    s = clvae_generate(gen, gd, n, seed, labels, imgs, err);
    out->sample_seconds = clvae_seconds() - t0;
    if (s || (s = clvae_classify_images(ctx, cls, cd, imgs, n, fs, ps, err)) ||
        (s = clvae_dataset_floats(test, rn, &ref, err)) ||
        (s = clvae_classify_images(ctx, cls, cd, ref, rn, fr, pr, err)) ||
        (s = frechet_of(fs, n, fr, rn, F, &out->frechet, err)) ||
        (s = frechet_of(fr, rn / 2, fr + (rn / 2) * F, rn - rn / 2, F, &out->ref_frechet, err)))
        goto done;
    double conf = 0, rconf = 0;
    size_t match = 0;
    for (size_t i = 0; i < n; i++) {
        size_t best = 0;
        for (size_t k = 1; k < K; k++)
            if (ps[i * K + k] > ps[i * K + best]) best = k;
        conf += ps[i * K + best];
        out->hist[best]++;
        if (labels && (size_t)labels[i] == best) match++;
    }
    for (size_t i = 0; i < rn; i++) {
        float mx = pr[i * K];
        for (size_t k = 1; k < K; k++) mx = pr[i * K + k] > mx ? pr[i * K + k] : mx;
        rconf += mx;
    }
    out->n = n;
    out->ref_n = rn;
    out->features = F;
    out->confidence = conf / (double)n;
    out->ref_confidence = rconf / (double)rn;
    out->classes = (int)K;
    out->conditional = C > 0;
    if (C) out->label_match = (double)match / (double)n;
    out->samples = imgs; /* kept for what comes after (the classification accuracy score) */
    imgs = NULL;
done:
    if (s) clvae_score_free(out);
    free(imgs);
    free(ref);
    free(fs);
    free(fr);
    free(ps);
    free(pr);
    free(labels);
    return s;
}
