/* Figures of the generative family: conditional manifolds, denoising rows. */
#ifndef CLVAE_FIGURES_GEN_H
#define CLVAE_FIGURES_GEN_H

#include "clvae/eval/figures.h"
#include "clvae/ops/noise.h"

/* clvae_fig_manifold of a conditional model, every image decoded with class label. */
clvae_status_t clvae_fig_manifold_label(clvae_ctx_t *ctx, clvae_objective_t *model,
                                        const clvae_dataset_t *shape, int grid, float range,
                                        int dx, int dy, int label, const char *path,
                                        clvae_error_t *err);

/* Three rows of the first n examples of data (n from 1 to 64): corrupted by noise (the Philox
 * noise stream (seed)), clean, and the model's output for the corrupted input (z = z_mean; a
 * conditional model gets the true labels). */
clvae_status_t clvae_fig_denoise(clvae_ctx_t *ctx, clvae_objective_t *model,
                                 const clvae_dataset_t *data, size_t n,
                                 const clvae_noise_spec_t *noise, uint64_t seed, const char *path,
                                 clvae_error_t *err);

/* A diffusion model's denoising chain: n samples (1 to the model's batch; a conditional model
 * draws labels 0, 1, ... per row, or label for all when >= 0) as rows, F frames (2 to 20) from
 * x_T to x_0 as columns under their step ("x_T", "t=749", ..., "x_0"), a title naming the
 * sampler (what; e.g. "DDIM over 50 steps"), with the model's sampler. */
clvae_status_t clvae_fig_chain(clvae_objective_t *model, const clvae_dataset_t *shape, size_t n,
                               size_t F, uint64_t seed, int label, const char *what,
                               const char *path, clvae_error_t *err);

/* Examples [st, st + B) of data (B up to the model's batch) corrupted by noise (the stream
 * (seed), example i's values at its own offset, whatever the batch) and run through the model:
 * the corrupted inputs into noisy (NULL: not wanted), the outputs into out, B x D each; clean:
 * a device buffer of B x D floats or more (the clean images go there: the target). A
 * conditional model reads the examples' labels. */
clvae_status_t clvae_restore_batch(clvae_ctx_t *ctx, clvae_objective_t *model,
                                   const clvae_dataset_t *data, size_t st, size_t B,
                                   const clvae_noise_spec_t *noise, uint64_t seed,
                                   clvae_buf_t clean, float *noisy, float *out, clvae_error_t *err);

#endif
