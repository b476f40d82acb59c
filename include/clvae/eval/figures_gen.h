/* Figures of the generative family: conditional samples and manifolds, denoising rows. */
#ifndef CLVAE_FIGURES_GEN_H
#define CLVAE_FIGURES_GEN_H

#include "clvae/data/data.h"
#include "clvae/net/model.h"
#include "clvae/ops/noise.h"

/* Decodes n latents z (host, n x J) into out (n x D) in batches the model holds; a conditional
 * model decodes latent i with class labels[i] (labels NULL: CLVAE_ERR_INVALID for it). */
clvae_status_t clvae_decode_labeled(clvae_ctx_t *ctx, clvae_model_t *model, const float *z,
                                    const float *labels, size_t n, float *out, clvae_error_t *err);

/* Samples of a conditional model (z ~ N(0, I) from the Philox host stream (seed)): with
 * label >= 0, a square grid of n decodes of that class; with label < 0, K rows (one per class
 * 0..K-1) of ceil(n / K) columns, each column one z decoded with every label. A model that is
 * not conditional: CLVAE_ERR_INVALID when label >= 0, else clvae_fig_samples. */
clvae_status_t clvae_fig_samples_label(clvae_ctx_t *ctx, clvae_model_t *model,
                                       const clvae_dataset_t *shape, size_t n, uint64_t seed,
                                       int label, const char *path, clvae_error_t *err);

/* clvae_fig_manifold of a conditional model, every image decoded with class label. */
clvae_status_t clvae_fig_manifold_label(clvae_ctx_t *ctx, clvae_model_t *model,
                                        const clvae_dataset_t *shape, int grid, float range,
                                        int dx, int dy, int label, const char *path,
                                        clvae_error_t *err);

/* Three rows of the first n examples of data (n from 1 to 64): corrupted by noise (the Philox
 * noise stream (seed)), clean, and the model's output for the corrupted input (z = z_mean; a
 * conditional model gets the true labels). */
clvae_status_t clvae_fig_denoise(clvae_ctx_t *ctx, clvae_model_t *model,
                                 const clvae_dataset_t *data, size_t n,
                                 const clvae_noise_spec_t *noise, uint64_t seed, const char *path,
                                 clvae_error_t *err);

#endif
