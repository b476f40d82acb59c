/* Helpers for op tests: random data, device views with guard bands, tolerant comparison. */
#ifndef CLVAE_TESTUTIL_H
#define CLVAE_TESTUTIL_H

#include <stddef.h>
#include <stdint.h>

#include "clvae/device/tensor.h"

/* Opens a context as the CLI would (environment defaults); prints and returns NULL on failure. */
clvae_ctx_t *tu_ctx(void);

/* 1 when CLVAE_TEST_SMALL is set (not "0"): the op tests swap their largest shapes for small ones,
 * for a simulator (make check-oclgrind). */
int tu_small(void);

/* n, or small_n under CLVAE_TEST_SMALL. */
size_t tu_size(size_t n, size_t small_n);

/* Deterministic uniform floats in [lo, hi) from *state (any non-zero seed). */
void tu_rand(float *x, size_t n, float lo, float hi, uint64_t *state);

/* A new double copy of x (free it). */
double *tu_double(const float *x, size_t n);

/* Guard floats kept on each side of a tu_upload'ed view. */
#define TU_GUARD 3

/* Uploads n floats into a new buffer at offset TU_GUARD, with TU_GUARD sentinel
 * values on both sides (so ops are tested at a non-zero offset); NULL mem on failure. */
clvae_buf_t tu_upload(clvae_ctx_t *ctx, const float *x, size_t n);

/* A device view of n zeros, laid out like tu_upload's. */
clvae_buf_t tu_zeros(clvae_ctx_t *ctx, size_t n);

/* Downloads n floats of b into a new array (free it), or NULL when the
 * transfer fails or a guard value next to the view was overwritten. */
float *tu_download(clvae_ctx_t *ctx, clvae_buf_t b, size_t n);

/* Compares got with want element by element: |got - want| <= atol + rtol*|want|;
 * NaN must match NaN and an infinity the same infinity. Returns 1 when all agree;
 * otherwise prints what, the count of bad elements and the worst one, and returns 0.
 * *worst_rel (may be NULL) gets the largest |got-want| / max(|want|, 1e-3) over finite pairs. */
int tu_close(const char *what, const float *got, const double *want, size_t n, double atol,
             double rtol, double *worst_rel);

/* Sum of a[i] * b[i] in double. */
double tu_dot(const float *a, const float *b, size_t n);

/* Records the largest relative error seen per op name and prints the table on exit
 * (for the closing notes of the kernels issue). */
void tu_note_error(const char *op, double rel);
void tu_print_errors(void);

#endif
