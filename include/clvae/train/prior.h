/* A prior's VQ-VAE: the trained run it belongs to, opened and checked, and the code maps of a
 * dataset's images computed on the device. */
#ifndef CLVAE_PRIOR_H
#define CLVAE_PRIOR_H

#include "clvae/net/config.h"
#include "clvae/train/checkpoint.h"
#include "clvae/train/objective.h"

/* An opened VQ-VAE run: its checkpoint file and that file's sha256, its config and model with
 * the checkpoint's weights and codebook. */
typedef struct clvae_vqvae_run {
    char path[4096];
    char sha256[65];
    clvae_checkpoint_t ck;
    clvae_cfg_t cfg;
    clvae_model_desc_t desc;
    clvae_objective_t *model;
} clvae_vqvae_run_t;

/* Opens run (a run folder or its checkpoint file) for batches of up to batch images. A
 * missing checkpoint is CLVAE_ERR_NOT_FOUND and a run of another kind CLVAE_ERR_INVALID, each
 * saying what to train. */
clvae_status_t clvae_vqvae_open(clvae_vqvae_run_t *v, clvae_ctx_t *ctx, const char *run,
                                size_t batch, clvae_error_t *err);

/* Frees it (a zeroed one is fine). */
void clvae_vqvae_close(clvae_vqvae_run_t *v);

/* Whether prior fits v (CLVAE_ERR_INVALID saying why not): the prior's one-hot input has K
 * channels at the code map's height and width, and v's checkpoint is the one the prior was
 * trained on (its sha256, when the prior records one). */
clvae_status_t clvae_prior_check(const clvae_model_desc_t *prior, const clvae_vqvae_run_t *v,
                                 clvae_error_t *err);

/* The code maps of images' examples through v's encoder and quantizer: out gets one example of
 * 1 x H x W bytes per image (the code indices, K <= 256; scale 1), images' labels, and the name
 * "codes of NAME". */
clvae_status_t clvae_vqvae_codes(clvae_vqvae_run_t *v, const clvae_dataset_t *images,
                                 clvae_dataset_t *out, clvae_error_t *err);

/* The sha256 of a file's bytes as 64 hex digits. */
clvae_status_t clvae_file_sha256(const char *path, char hex[65], clvae_error_t *err);

#endif
