/* Device memory: float views (and views with a shape), their one check, transfers, workspaces. */
#ifndef CLVAE_TENSOR_H
#define CLVAE_TENSOR_H

#include <stdint.h>

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

/* The kernels index in uint: a view's offset + length may not pass this many floats. */
#define CLVAE_BUF_INDEX_LIMIT ((size_t)UINT32_MAX)

/* The one check of an op's operand: view b holds n floats. CLVAE_ERR_INVALID, with a message
 * naming op and the operand (name), when b has no buffer, when off + n passes
 * CLVAE_BUF_INDEX_LIMIT, or when [off, off + n) reaches past the end of the buffer. */
clvae_status_t clvae_buf_check(clvae_buf_t b, size_t n, const char *op, const char *name,
                               clvae_error_t *err);

/* clvae_buf_check of an operand the caller may leave out: a view without a buffer passes. */
clvae_status_t clvae_buf_check_opt(clvae_buf_t b, size_t n, const char *op, const char *name,
                                   clvae_error_t *err);

/* The most dimensions a tensor has. */
#define CLVAE_TENSOR_MAX_DIMS 4

/* A view with a shape: fp32, row-major, dims[0] outermost (NCHW for images: [N, C, H, W];
 * [N, features] for a dense layer). dims past ndim are 1. The view holds
 * clvae_tensor_numel(t) floats from buf.off on. */
typedef struct clvae_tensor {
    clvae_buf_t buf;                     /* where the values are (not owned) */
    int ndim;                            /* 1..CLVAE_TENSOR_MAX_DIMS */
    size_t dims[CLVAE_TENSOR_MAX_DIMS];  /* the shape */
} clvae_tensor_t;

/* The tensor of ndim dims (1..CLVAE_TENSOR_MAX_DIMS, else ndim 0: no shape) over view b. */
clvae_tensor_t clvae_tensor_of(clvae_buf_t b, int ndim, const size_t *dims);

/* The tensor [n, c, h, w] over view b. */
static inline clvae_tensor_t clvae_tensor_nchw(clvae_buf_t b, size_t n, size_t c, size_t h,
                                               size_t w)
{
    const size_t d[4] = {n, c, h, w};
    return clvae_tensor_of(b, 4, d);
}

/* The tensor [rows, cols] over view b. */
static inline clvae_tensor_t clvae_tensor_2d(clvae_buf_t b, size_t rows, size_t cols)
{
    const size_t d[2] = {rows, cols};
    return clvae_tensor_of(b, 2, d);
}

/* The number of floats t's shape holds; 0 for a shape that is empty (a dim of 0), malformed
 * (ndim outside 1..CLVAE_TENSOR_MAX_DIMS) or larger than size_t counts. */
size_t clvae_tensor_numel(const clvae_tensor_t *t);

/* An op's check of a tensor operand: a shape of at least one float, and clvae_buf_check of its
 * view for that many floats (the message names op and name). */
clvae_status_t clvae_tensor_check(const clvae_tensor_t *t, const char *op, const char *name,
                                  clvae_error_t *err);

/* Allocates a tensor of ndim dims on the device (clvae_buf_alloc of its numel floats); free it
 * with clvae_tensor_free. */
clvae_status_t clvae_tensor_alloc(clvae_ctx_t *ctx, int ndim, const size_t *dims,
                                  clvae_tensor_t *out, clvae_error_t *err);

/* Releases a tensor from clvae_tensor_alloc (a cleared one is fine) and clears it. */
void clvae_tensor_free(clvae_tensor_t *t);

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

/* Enqueues a copy of n >= 1 floats from src into host dst and returns without waiting: *done
 * gets the read's event (wait for it with clvae_ctx_wait_events, then clReleaseEvent it); dst
 * must stay valid until then. */
clvae_status_t clvae_buf_download_start(clvae_ctx_t *ctx, float *dst, clvae_buf_t src, size_t n,
                                        cl_event *done, clvae_error_t *err);

/* Copies `bytes` from host src into buffer m from byte off on, for buffers that are not float
 * views (index lists); returns when src may be reused. */
clvae_status_t clvae_mem_write(clvae_ctx_t *ctx, cl_mem m, size_t off, const void *src,
                               size_t bytes, clvae_error_t *err);

/* A new buffer of `bytes` made with flags (CL_MEM_READ_ONLY, ...) holding a copy of host src
 * (release it with clReleaseMemObject). */
clvae_status_t clvae_mem_from_host(clvae_ctx_t *ctx, cl_mem_flags flags, const void *src,
                                   size_t bytes, cl_mem *out, clvae_error_t *err);

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
