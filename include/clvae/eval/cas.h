/* The classification accuracy score (Ravuri & Vinyals, 2019): a classifier trained on a
 * generative model's samples alone, tested on real images. */
#ifndef CLVAE_CAS_H
#define CLVAE_CAS_H

#include "clvae/train/objective.h"

/* What clvae_cas_run measured: test accuracies (0..1) of the same classifier config trained
 * on three data sets of the same size per source, each for the same epochs and seed. */
typedef struct clvae_cas {
    size_t n;            /* generated images (and real ones) */
    long epochs;         /* training epochs of each classifier */
    int pseudo;          /* 1: an unconditional model: the samples' labels are classifier
                            cls's predictions; 0: the labels they were drawn with (i mod K) */
    size_t test_n;       /* real test images the accuracies are measured on */
    double generated;    /* trained on the n generated images alone: the CAS */
    double real;         /* trained on the first n real training images */
    double both;         /* trained on both (2n images: D u {G(z_i)}) */
                         /* (NaN: a set not asked for) */
} clvae_cas_t;

/* Which classifiers clvae_cas_run trains (a bit each). */
enum { CLVAE_CAS_GENERATED = 1, CLVAE_CAS_REAL = 2, CLVAE_CAS_BOTH = 4, CLVAE_CAS_ALL = 7 };

/* A line of progress (no newline), or NULL. */
typedef void (*clvae_cas_say_t)(void *user, const char *line);

/* The checks clvae_cas_run makes before any work (it makes them again): CLVAE_ERR_INVALID for
 * samples of another size than the classifier's input, a conditional model with more classes
 * than the classifier, a config that does not resolve, a real [data] train set without labels
 * or with fewer than n images; its loader's status when that set cannot be read. */
clvae_status_t clvae_cas_check(const clvae_model_desc_t *gd, const clvae_model_desc_t *cd,
                               const char *cls_text, const char *data_dir, size_t n,
                               clvae_error_t *err);

/* Takes n samples of gen (samples [n, D] in [0, 1] when not NULL: those clvae_generate draws
 * with seed, e.g. clvae_score_t's; else it draws them; a conditional model's with labels
 * i mod K, an unconditional model's labelled by classifier cls), writes them, the first n images of the classifier config's
 * [data] train set and the two together as MNIST IDX files (work/generated, work/real,
 * work/both: images-idx3-ubyte, labels-idx1-ubyte; pixels round(255 x)), and trains the
 * classifier config (cls_text: a config, e.g. the classifier run's own) on each set of sets
 * (CLVAE_CAS_* bits) into work/run_generated, work/run_real, work/run_both for epochs (0: the
 * config's), testing on its [data] test set. work must be an existing, writable folder; what clvae_cas_check refuses is
 * refused before any work. */
clvae_status_t clvae_cas_run(clvae_ctx_t *ctx, clvae_objective_t *gen, const clvae_model_desc_t *gd,
                             clvae_objective_t *cls, const clvae_model_desc_t *cd,
                             const char *cls_text, const char *data_dir, const char *work,
                             size_t n, long epochs, uint64_t seed, const float *samples,
                             unsigned sets, clvae_cas_say_t say,
                             void *user, clvae_cas_t *out, clvae_error_t *err);

#endif
