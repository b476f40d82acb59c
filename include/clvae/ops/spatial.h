/* Values moved across pixels (cl/spatial.cl): nearest upsampling, and a per-example vector added
 * to every pixel of its channel (a diffusion U-Net's time embedding entering a block). */
#ifndef CLVAE_SPATIAL_H
#define CLVAE_SPATIAL_H

#include "clvae/device/tensor.h"

/* The layout of a map: N examples of C channels of H x W pixels. */
typedef struct clvae_map_shape {
    size_t N, C, H, W;
} clvae_map_shape_t;

/* y [N, C, F*H, F*W] = x [N, C, H, W] with each pixel repeated over an F x F block (PyTorch's
 * nn.Upsample(scale_factor = F, mode = "nearest")); sh is x's shape, F >= 1. */
clvae_status_t clvae_upsample_forward(clvae_ctx_t *ctx, clvae_buf_t y, clvae_buf_t x, size_t F,
                                      clvae_map_shape_t sh, clvae_error_t *err);

/* ADDS to dx [N, C, H, W] the sum of dy [N, C, F*H, F*W] over each pixel's F x F block, in a fixed
 * order (the block's rows in turn, each left to right). */
clvae_status_t clvae_upsample_backward(clvae_ctx_t *ctx, clvae_buf_t dx, clvae_buf_t dy, size_t F,
                                       clvae_map_shape_t sh, clvae_error_t *err);

/* y [N, C, H, W] = x + v[n, c] at every pixel of channel c of example n; v [N, C]; y may be the
 * view x (in place). */
clvae_status_t clvae_channel_add_forward(clvae_ctx_t *ctx, clvae_buf_t y, clvae_buf_t x,
                                         clvae_buf_t v, clvae_map_shape_t sh, clvae_error_t *err);

/* ADDS to dv [N, C] the sum of dy [N, C, H, W] over each channel's pixels, in pixel order (the
 * gradient of channel_add to v; x's gradient is dy itself). */
clvae_status_t clvae_channel_add_backward(clvae_ctx_t *ctx, clvae_buf_t dv, clvae_buf_t dy,
                                          clvae_map_shape_t sh, clvae_error_t *err);

#endif
