/* Side-by-side comparison of runs: metrics summaries, the markdown table, the PNG of samples. */
#ifndef CLVAE_COMPARE_H
#define CLVAE_COMPARE_H

#include <stddef.h>

#include "clvae/io/image.h"

/* One run's row of the comparison; a NaN number or an empty text is drawn as "-". */
typedef struct clvae_compare_row {
    char name[128];        /* the run (its folder) */
    char model[64];        /* [model] name */
    char kind[32];         /* vae, ae, classifier */
    char dataset[256];     /* [data] train */
    long epochs;           /* epochs trained (metrics rows); -1 unknown */
    size_t params;         /* parameters */
    double sec_per_epoch;  /* mean training seconds per epoch (metrics.csv) */
    char recon_kind[16];   /* "BCE", "MSE sum", "MSE mean" */
    double recon;          /* test reconstruction error per image (z = mean) */
    double elbo;           /* test ELBO per image (z sampled, beta 1), VAE */
    double log_px;         /* IWAE estimate of log p(x) per image, VAE with BCE */
    double accuracy;       /* a classifier's test accuracy (0..1) */
    double frechet;        /* Frechet distance of classifier features (own classifier) */
    double confidence;     /* mean max-softmax confidence of the samples */
    int scored;            /* the samples were scored (frechet, confidence, collapsed) */
    double cas;            /* classification accuracy score: test accuracy (0..1) of the
                              classifier config trained on the samples alone */
    char collapsed[64];    /* classes under a third of their share of the samples ("1, 7"),
                              "" when none */
} clvae_compare_row_t;

/* A row with every number unknown (NaN, epochs -1) and empty texts. */
void clvae_compare_row_init(clvae_compare_row_t *r);

/* From metrics.csv text: epochs trained (rows) and the mean of the seconds column; a text with
 * no rows gives 0 and NaN; a malformed one is CLVAE_ERR_CORRUPT. */
clvae_status_t clvae_metrics_summary(const char *text, long *epochs, double *sec_per_epoch,
                                     clvae_error_t *err);

/* The markdown table of n rows (malloc'd text, NULL when out of memory): one line per run with
 * the columns run, model, kind, dataset, epochs, parameters, s/epoch, test reconstruction,
 * ELBO, log p(x) (IWAE), test accuracy, and fid_name (e.g. "FID (own MNIST classifier)"),
 * confidence, collapsed classes, CAS; a column after the reconstruction that is "-" in every row is left out unless
 * keep_all. */
char *clvae_compare_markdown(const clvae_compare_row_t *rows, size_t n, const char *fid_name,
                             int keep_all);

/* One panel of the comparison picture: a gray image and the caption above it. */
typedef struct clvae_compare_panel {
    const char *caption;
    const clvae_image_t *img;   /* 1 or 3 channels */
} clvae_compare_panel_t;

/* Places n panels side by side on a white RGB image with each caption above its panel (the
 * built-in font) and writes it as a PNG to path. */
clvae_status_t clvae_compare_png(const clvae_compare_panel_t *panels, size_t n, const char *path,
                                 clvae_error_t *err);

#endif
