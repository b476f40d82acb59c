/* Elementwise activations (ReLU, LeakyReLU, sigmoid, tanh, SiLU) and their gradients. */
#ifndef CLVAE_ACTIVATION_H
#define CLVAE_ACTIVATION_H

#include "clvae/device/tensor.h"

/* An activation function. */
typedef enum clvae_act {
    CLVAE_ACT_IDENTITY = 0,   /* x */
    CLVAE_ACT_RELU = 1,       /* max(x, 0) */
    CLVAE_ACT_LEAKY_RELU = 2, /* x > 0 ? x : slope * x */
    CLVAE_ACT_SIGMOID = 3,    /* 1 / (1 + exp(-x)) */
    CLVAE_ACT_TANH = 4,       /* tanh(x) */
    CLVAE_ACT_SILU = 5        /* x * sigmoid(x), also called swish */
} clvae_act_t;

/* Reads an activation name, case-insensitively: "identity"/"linear", "relu",
 * "leaky_relu"/"leakyrelu", "sigmoid", "tanh", "silu"/"swish"; CLVAE_ERR_INVALID
 * naming the allowed names otherwise. */
clvae_status_t clvae_act_parse(const char *name, clvae_act_t *out, clvae_error_t *err);

/* CLVAE_ERR_INVALID, the message starting with op, for an unknown activation or a LeakyReLU
 * slope that is not finite and >= 0 (the rules of every launcher that takes an activation). */
clvae_status_t clvae_act_check(clvae_act_t act, float slope, const char *op, clvae_error_t *err);

/* The canonical name of act ("leaky_relu", ...), or "unknown". */
const char *clvae_act_name(clvae_act_t act);

/* Values at the edges, the same on the device and in the reference:
 *   every activation maps NaN to NaN; sigmoid(+-inf) = 1 / 0, tanh(+-inf) = +-1,
 *   silu(-inf) = 0 (the limit, not -inf * 0), leaky_relu with slope 0 maps -inf to 0.
 * Gradients: relu'(x) = x > 0 ? 1 : 0 and leaky'(x) = x > 0 ? 1 : slope (PyTorch's choice at
 * 0), sigmoid' = y (1 - y), tanh' = (1 - y)(1 + y), silu' = s (1 + x (1 - s)) with
 * silu'(+inf) = 1 and silu'(-inf) = 0; a NaN input gives a NaN gradient. */

/* y = act(x) over n floats; y may be exactly the view x (in place), but must not
 * overlap it otherwise. slope is LeakyReLU's negative slope (finite, >= 0; Keras uses
 * 0.3, PyTorch 0.01) and is ignored by the other activations. n = 0 is rejected. */
clvae_status_t clvae_act_forward(clvae_ctx_t *ctx, clvae_buf_t y, clvae_buf_t x, clvae_act_t act,
                                 float slope, size_t n, clvae_error_t *err);

/* dx += dy * act'(x) over n floats. Reads x only for SILU and y = act(x) only for
 * RELU, LEAKY_RELU, SIGMOID and TANH (IDENTITY reads neither); the operand that is not
 * read may have .mem NULL, so after an in-place forward every activation but SiLU can
 * still be differentiated. dx must not overlap dy, x or y. */
clvae_status_t clvae_act_backward(clvae_ctx_t *ctx, clvae_buf_t dx, clvae_buf_t dy, clvae_buf_t x,
                                  clvae_buf_t y, clvae_act_t act, float slope, size_t n,
                                  clvae_error_t *err);

/* dx = dy * act'(x): clvae_act_backward writing dx instead of adding to it (dx is not read, so
 * it needs no zeroing first: a pass over n floats and a read of dx saved). */
clvae_status_t clvae_act_backward_set(clvae_ctx_t *ctx, clvae_buf_t dx, clvae_buf_t dy,
                                      clvae_buf_t x, clvae_buf_t y, clvae_act_t act, float slope,
                                      size_t n, clvae_error_t *err);

#endif
