/* Class labels on the device for conditional models: a dataset's labels uploaded once, gathered per batch. */
#ifndef CLVAE_LABELS_H
#define CLVAE_LABELS_H

#include "clvae/data/data.h"

/* Uploads d's labels (one byte per example) as a dataset of 1 x 1 x 1 examples with scale 1, so
 * that clvae_labels_gather gives them as floats. Refused (CLVAE_ERR_INVALID, naming d) when d
 * has no labels or a label is classes or more. */
clvae_status_t clvae_labels_upload(clvae_ctx_t *ctx, const clvae_dataset_t *d, size_t classes,
                                   clvae_data_dev_t *out, clvae_error_t *err);

/* out[b] = (float)label[idx[idx_off + b]] for b < B: the labels of a batch gathered with the
 * same index buffer as its images (clvae_data_gather). */
clvae_status_t clvae_labels_gather(clvae_ctx_t *ctx, clvae_buf_t out, const clvae_data_dev_t *dl,
                                   cl_mem idx, size_t idx_off, size_t B, clvae_error_t *err);

/* Uploads host labels of B examples (bytes) as floats into out. */
clvae_status_t clvae_labels_set(clvae_ctx_t *ctx, clvae_buf_t out, const uint8_t *labels,
                                size_t B, clvae_error_t *err);

#endif
