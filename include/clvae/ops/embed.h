/* Sinusoidal embeddings of a per-example scalar (cl/embed.cl): a diffusion model's time step. */
#ifndef CLVAE_EMBED_H
#define CLVAE_EMBED_H

#include "clvae/device/tensor.h"

/* y [N, D] = the sinusoidal features of t [N] (the transformer's / DDPM's time embedding):
 * y[n, k] = sin(t_n f_k) and y[n, D/2 + k] = cos(t_n f_k) for k < D/2, with
 * f_k = exp(-ln(max_period) k / (D/2)); D even and at least 2, max_period > 1. In fp32 the phase
 * t f_k is good to a few 1e-7 |t| (sin and cos to a few 1e-4 at t = 1000). No backward: t is
 * data. */
clvae_status_t clvae_time_embed_forward(clvae_ctx_t *ctx, clvae_buf_t y, clvae_buf_t t, size_t N,
                                        size_t D, float max_period, clvae_error_t *err);

/* The time embedding of a class-conditional model: y [N, D + K], each row the D sinusoidal
 * features of t_n (as clvae_time_embed_forward) followed by the K one-hot channels of label
 * labels[n] (class indices as floats; a label of K or more, the null class of classifier-free
 * guidance, sets none). K = 0: clvae_time_embed_forward (labels not read). */
clvae_status_t clvae_time_embed_label_forward(clvae_ctx_t *ctx, clvae_buf_t y, clvae_buf_t t,
                                              clvae_buf_t labels, size_t N, size_t D, size_t K,
                                              float max_period, clvae_error_t *err);

#endif
