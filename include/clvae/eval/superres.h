/* Super-resolution with a trained model: the test set downsampled, restored by the model, and
 * its PSNR beside nearest and bilinear upsampling of the same low-resolution images. */
#ifndef CLVAE_SUPERRES_H
#define CLVAE_SUPERRES_H

#include "clvae/eval/figures_gen.h"

typedef struct clvae_superres {
    size_t n;              /* test images measured */
    int factor;
    double psnr_model;     /* dB: 10 log10(1 / MSE), the MSE over every pixel of the n images */
    double psnr_nearest;   /* the low-resolution image repeated (the model's input) */
    double psnr_bilinear;  /* bilinear upsampling of the block means (half-pixel centres,
                              edges clamped: PyTorch's align_corners=False) */
} clvae_superres_t;

/* Downsamples the first n test images (0: all) of data by factor (each f x f block averaged),
 * restores them with the model, and measures the three PSNRs into out; the first `show` (1 to
 * 32) as rows low resolution / bilinear / restored / original into path (NULL: no figure). */
clvae_status_t clvae_superres(clvae_ctx_t *ctx, clvae_objective_t *model,
                              const clvae_dataset_t *data, int factor, size_t n, size_t show,
                              const char *path, clvae_superres_t *out, clvae_error_t *err);

/* Bilinear upsampling of the f x f block means of low (one h x w plane, h and w multiples of f:
 * the mean of a block is its top-left value of the downsampled plane) into out, in double. */
void clvae_bilinear_from_blocks(const float *low, size_t h, size_t w, int f, float *out);

#endif
