/* Inpainting with a trained autoencoder or VAE: missing pixels of test images filled by
 * iterating encode -> decode and putting the known pixels back. */
#ifndef CLVAE_INPAINT_H
#define CLVAE_INPAINT_H

#include "clvae/eval/figures_gen.h"

/* Which pixels are missing. */
typedef struct clvae_mask {
    enum { CLVAE_MASK_BOTTOM, CLVAE_MASK_TOP, CLVAE_MASK_LEFT, CLVAE_MASK_RIGHT, CLVAE_MASK_BOX,
           CLVAE_MASK_RANDOM } kind;
    size_t x, y, w, h;     /* box: the missing rectangle */
    float p;               /* random: each pixel missing with probability p (the Philox uniform
                              stream (seed, image i's offset)) */
} clvae_mask_t;

/* Parses bottom | top | left | right | box:X,Y,W,H | random:P for images of h x w
 * (CLVAE_ERR_INVALID naming what is wrong: a box outside the image or empty, P outside (0, 1)). */
clvae_status_t clvae_mask_parse(const char *spec, size_t h, size_t w, clvae_mask_t *m,
                                clvae_error_t *err);

/* The mask of image i: missing[y * w + x] = 1 for a missing pixel (every channel). */
void clvae_mask_of(const clvae_mask_t *m, size_t h, size_t w, uint64_t seed, size_t i,
                   uint8_t *missing);

typedef struct clvae_inpaint {
    size_t n, missing;       /* images, and missing values over all of them */
    int iters;
    double psnr_zero;        /* dB on the missing values: left at 0 */
    double psnr_once;        /* one pass: the reconstruction of the masked image */
    double psnr_iter;        /* after iters passes, the known pixels put back after each */
    int fit_steps;           /* steps of the latent fit (0: not run) */
    double psnr_fit;         /* the latent fit (clvae_objective_fit_latents from the masked
                                image's z_mean), NaN when not run */
} clvae_inpaint_t;

/* Fills the missing pixels of the first n test images (0: all) of data: the masked image
 * (missing values 0) through the model, the known values put back, iters times (1 to 1000);
 * with fit_steps > 0 (a VAE) also by the latent fit: z from the masked image's z_mean, then
 * fit_steps Adam steps of rate fit_lr on -log p(x_known | z) - log p(z), decoded. PSNRs on the
 * missing values into out; the first `show` (1 to 32) as rows masked / filled / (fitted /)
 * original into path (NULL: none). */
clvae_status_t clvae_inpaint(clvae_ctx_t *ctx, clvae_objective_t *model,
                             const clvae_dataset_t *data, const clvae_mask_t *mask, int iters,
                             int fit_steps, float fit_lr, size_t n, size_t show, uint64_t seed,
                             const char *path, clvae_inpaint_t *out, clvae_error_t *err);

#endif
