/* Device memory: float buffers with an offset, upload/download, reusable workspaces. */
#ifndef CLVAE_TENSOR_H
#define CLVAE_TENSOR_H

#include "clvae/device/device.h"

/* A view of device memory: a buffer and an offset into it, both in floats.
 * Every op takes its operands as views, so one allocation can hold many. */
typedef struct clvae_buf {
    cl_mem mem;  /* the OpenCL buffer (not owned by the view) */
    size_t off;  /* offset in floats */
} clvae_buf_t;

/* The view n floats further into b. */
static inline clvae_buf_t clvae_buf_at(clvae_buf_t b, size_t n)
{
    b.off += n;
    return b;
}

/* Allocates n floats on the device; refuses sizes over CL_DEVICE_MAX_MEM_ALLOC_SIZE
 * with a message that says so (CLVAE_ERR_DEVICE_MEMORY). */
clvae_status_t clvae_buf_alloc(clvae_ctx_t *ctx, size_t n, clvae_buf_t *out, clvae_error_t *err);

/* Releases b's buffer (NULL is fine) and clears the view. */
void clvae_buf_free(clvae_buf_t *b);

/* Copies n floats from host src into dst (returns when src may be reused). */
clvae_status_t clvae_buf_upload(clvae_ctx_t *ctx, clvae_buf_t dst, const float *src, size_t n,
                                clvae_error_t *err);

/* Copies n floats from src into host dst, waiting for the queue. */
clvae_status_t clvae_buf_download(clvae_ctx_t *ctx, float *dst, clvae_buf_t src, size_t n,
                                  clvae_error_t *err);

/* Copies n floats between device views (may be in the same buffer if they do not overlap). */
clvae_status_t clvae_buf_copy(clvae_ctx_t *ctx, clvae_buf_t dst, clvae_buf_t src, size_t n,
                              clvae_error_t *err);

/* Number of workspace slots a context keeps. */
#define CLVAE_WORKSPACES 5

/* A scratch buffer of at least n floats in slot (0..CLVAE_WORKSPACES-1), owned
 * by the context and grown on demand; valid until the next call for the same
 * slot. Ops that call each other use different slots: 0 and 1 conv, 4 GEMM (blas.c). */
clvae_status_t clvae_workspace(clvae_ctx_t *ctx, int slot, size_t n, clvae_buf_t *out,
                               clvae_error_t *err);

/* Bytes the context's workspaces hold now. */
size_t clvae_workspace_bytes(const clvae_ctx_t *ctx);

#endif
