/* Scoring generative runs with a classifier: samples, features, Frechet distance, confidence. */
#ifndef CLVAE_SCORE_H
#define CLVAE_SCORE_H

#include "clvae/data/data.h"
#include "clvae/train/objective.h"

/*
 * Shapes: n images of D = C*H*W floats in [0, 1]; a classifier with K classes whose last
 * [dense] layer reads F features (its penultimate layer's output).
 *   imgs       [n, D]
 *   features   [n, F]
 *   probs      [n, K]   softmax of the logits
 *   labels     [n]      class indices (conditional sampling)
 */

/* F: the output size of a classifier's penultimate layer (the input of its last dense). */
size_t clvae_classifier_feature_dim(const clvae_model_desc_t *d);

/* Runs classifier cls (desc cd) over n host images in batches it holds: penultimate features
 * and softmax probabilities (computed on the host in double from the logits); either output
 * may be NULL. Images of another size than the classifier's input are CLVAE_ERR_INVALID. */
clvae_status_t clvae_classify_images(clvae_ctx_t *ctx, clvae_objective_t *cls, const clvae_model_desc_t *cd,
                                     const float *imgs, size_t n, float *features, float *probs,
                                     clvae_error_t *err);

/* The class count a generative model is conditioned on (sampled with labels), 0 when none. */
int clvae_gen_conditional(const clvae_model_desc_t *d);

/* n samples of a generative model (AE or VAE): z ~ N(0, I) from the Philox host stream
 * (clvae_rng_normal_host, seed, offset 0) through the decoder into out [n, D]. labels: the
 * class of each sample for a conditional model (NULL otherwise). A classifier is refused. */
clvae_status_t clvae_generate(clvae_objective_t *gen, const clvae_model_desc_t *gd, size_t n,
                              uint64_t seed, const int *labels, float *out, clvae_error_t *err);

/* The first n examples of ds as floats [n, D] (pixel * scale), malloc'd into *out. */
clvae_status_t clvae_dataset_floats(const clvae_dataset_t *ds, size_t n, float **out,
                                    clvae_error_t *err);

/* What `clvae score` reports. */
typedef struct clvae_score {
    size_t n;              /* samples scored */
    size_t ref_n;          /* test images of the reference statistics */
    size_t features;       /* F */
    double frechet;        /* Frechet distance of the Gaussian fits of the features of the
                              samples and of the test images ("FID (own MNIST classifier)") */
    double ref_frechet;    /* the same between two halves of the test images: the noise floor */
    double confidence;     /* mean max softmax probability over the samples */
    double ref_confidence; /* the same over the test images */
    int classes;           /* K */
    size_t *hist;          /* [K] samples per predicted class (malloc'd) */
    int conditional;       /* samples were drawn with labels 0..K-1 in equal numbers */
    double label_match;    /* conditional: fraction classified as their label; else NaN */
    double sample_seconds; /* wall time of drawing the n samples (images back on the host) */
    float *samples;        /* [n, D] the samples scored, in [0, 1] (malloc'd) */
} clvae_score_t;

/* Scores generative model gen on n samples (seed) against the first min(n, test->n) images
 * of test with classifier cls. A conditional model draws labels i mod K for sample i. */
clvae_status_t clvae_score_run(clvae_ctx_t *ctx, clvae_objective_t *gen, const clvae_model_desc_t *gd,
                               clvae_objective_t *cls, const clvae_model_desc_t *cd,
                               const clvae_dataset_t *test, size_t n, uint64_t seed,
                               clvae_score_t *out, clvae_error_t *err);

/* Mode collapse: the classes whose samples are under a third of their share (n / K), listed
 * into buf ("1, 7"; "" when none); returns how many. */
int clvae_score_collapse(const clvae_score_t *s, char *buf, size_t size);

/* Frees the score's histogram and samples (a zeroed struct is fine). */
void clvae_score_free(clvae_score_t *s);

#endif
