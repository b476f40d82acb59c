/* Elementwise basics on device buffers (fill, add): the first kernels, used by selftest. */
#ifndef CLVAE_BASIC_H
#define CLVAE_BASIC_H

#include "clvae/device/tensor.h"

/* x[x_off .. x_off+n) = v, offsets and n in floats. */
clvae_status_t clvae_fill_forward(clvae_ctx_t *ctx, cl_mem x, size_t x_off, float v, size_t n,
                                  clvae_error_t *err);

/* y = a x + b elementwise over n floats (in place when y and x are one view). */
clvae_status_t clvae_affine_forward(clvae_ctx_t *ctx, clvae_buf_t y, clvae_buf_t x, float a,
                                    float b, size_t n, clvae_error_t *err);

/* y = a + b elementwise over n floats, each buffer at its own offset. */
clvae_status_t clvae_add_forward(clvae_ctx_t *ctx, cl_mem y, size_t y_off, cl_mem a,
                                 size_t a_off, cl_mem b, size_t b_off, size_t n,
                                 clvae_error_t *err);

/* y = m != 0 ? a : b elementwise over n floats (a bit-exact choice; y may be the same view as a
 * or b, any other overlap is the caller's). */
clvae_status_t clvae_select_forward(clvae_ctx_t *ctx, clvae_buf_t y, clvae_buf_t m, clvae_buf_t a,
                                    clvae_buf_t b, size_t n, clvae_error_t *err);

/* Runs fill and add on the context's device over n floats and compares with
 * the host; CLVAE_ERR_CORRUPT with the first mismatch when they differ. */
clvae_status_t clvae_selftest(clvae_ctx_t *ctx, size_t n, clvae_error_t *err);

#endif
