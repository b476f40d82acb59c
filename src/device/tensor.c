/* Device buffers and tensors: the one view check, allocation in limits, transfers, workspaces. */
#include "clvae/device/tensor.h"

#include <stdio.h>

#include "device/ctx_internal.h"

_Static_assert(CLVAE_WORKSPACES == CLVAE_CTX_WORKSPACES,
               "the context holds as many workspaces as clvae_workspace hands out");

clvae_status_t clvae_buf_check(clvae_buf_t b, size_t n, const char *op, const char *name,
                               clvae_error_t *err)
{
    if (!b.mem) return CLVAE_FAIL(err, CLVAE_ERR_INVALID, "%s: %s buffer is NULL", op, name);
    if (n > CLVAE_BUF_INDEX_LIMIT || b.off > CLVAE_BUF_INDEX_LIMIT - n)
        return CLVAE_FAIL(err, CLVAE_ERR_INVALID,
                          "%s: %s at offset %zu with %zu floats exceeds the kernel index limit "
                          "of 2^32-1",
                          op, name, b.off, n);
    size_t bytes = 0;
    CLVAE_CL_RET(err, clGetMemObjectInfo(b.mem, CL_MEM_SIZE, sizeof bytes, &bytes, NULL));
    if ((b.off + n) > bytes / sizeof(float))
        return CLVAE_FAIL(err, CLVAE_ERR_INVALID,
                          "%s: %s needs floats [%zu, %zu) but its buffer holds %zu", op, name,
                          b.off, b.off + n, bytes / sizeof(float));
    return CLVAE_OK;
}

clvae_status_t clvae_buf_check_opt(clvae_buf_t b, size_t n, const char *op, const char *name,
                                   clvae_error_t *err)
{
    return b.mem ? clvae_buf_check(b, n, op, name, err) : CLVAE_OK;
}

clvae_tensor_t clvae_tensor_of(clvae_buf_t b, int ndim, const size_t *dims)
{
    clvae_tensor_t t = {b, 0, {1, 1, 1, 1}};
    if (ndim < 1 || ndim > CLVAE_TENSOR_MAX_DIMS || !dims) return t;
    t.ndim = ndim;
    for (int i = 0; i < ndim; i++) t.dims[i] = dims[i];
    return t;
}

size_t clvae_tensor_numel(const clvae_tensor_t *t)
{
    if (!t || t->ndim < 1 || t->ndim > CLVAE_TENSOR_MAX_DIMS) return 0;
    size_t n = 1;
    for (int i = 0; i < t->ndim; i++) {
        if (t->dims[i] == 0 || n > SIZE_MAX / t->dims[i]) return 0;
        n *= t->dims[i];
    }
    return n;
}

/* The shape as text, "[2, 3, 4]", into buf. */
static void shape_text(const clvae_tensor_t *t, char *buf, size_t size)
{
    size_t len = (size_t)snprintf(buf, size, "[");
    for (int i = 0; i < t->ndim && i < CLVAE_TENSOR_MAX_DIMS && len < size; i++)
        len += (size_t)snprintf(buf + len, size - len, "%s%zu", i ? ", " : "", t->dims[i]);
    if (len < size) snprintf(buf + len, size - len, "]");
}

clvae_status_t clvae_tensor_check(const clvae_tensor_t *t, const char *op, const char *name,
                                  clvae_error_t *err)
{
    if (!t) return CLVAE_FAIL(err, CLVAE_ERR_INVALID, "%s: %s tensor is NULL", op, name);
    size_t n = clvae_tensor_numel(t);
    if (n == 0) {
        char shape[128];
        shape_text(t, shape, sizeof shape);
        return CLVAE_FAIL(err, CLVAE_ERR_INVALID,
                          "%s: %s has the shape %s (%d dims): want 1 to %d dims, none 0", op,
                          name, shape, t->ndim, CLVAE_TENSOR_MAX_DIMS);
    }
    return clvae_buf_check(t->buf, n, op, name, err);
}

clvae_status_t clvae_tensor_alloc(clvae_ctx_t *ctx, int ndim, const size_t *dims,
                                  clvae_tensor_t *out, clvae_error_t *err)
{
    clvae_buf_t none = {0};
    *out = clvae_tensor_of(none, ndim, dims);
    size_t n = clvae_tensor_numel(out);
    if (n == 0)
        return CLVAE_FAIL(err, CLVAE_ERR_INVALID,
                          "cannot allocate a tensor of %d dims with a dim of 0 or too many "
                          "floats", ndim);
    return clvae_buf_alloc(ctx, n, &out->buf, err);
}

void clvae_tensor_free(clvae_tensor_t *t)
{
    if (!t) return;
    clvae_buf_free(&t->buf);
    t->ndim = 0;
}

clvae_status_t clvae_buf_alloc(clvae_ctx_t *ctx, size_t n, clvae_buf_t *out, clvae_error_t *err)
{
    out->mem = NULL;
    out->off = 0;
    if (n == 0) return CLVAE_FAIL(err, CLVAE_ERR_INVALID, "cannot allocate 0 floats");
    if (n > ctx->dev.max_alloc / sizeof(float))
        return CLVAE_FAIL(err, CLVAE_ERR_DEVICE_MEMORY,
                          "a buffer of %zu floats (%.1f MiB) exceeds the device's maximum "
                          "allocation of %.1f MiB",
                          n, (double)n * 4.0 / 1048576.0, (double)ctx->dev.max_alloc / 1048576.0);
    cl_int rc;
    out->mem = clCreateBuffer(ctx->context, CL_MEM_READ_WRITE, n * sizeof(float), NULL, &rc);
    if (rc != CL_SUCCESS) {
        out->mem = NULL;
        return clvae_error_cl(err, rc, "clCreateBuffer", __FILE__, __LINE__);
    }
    return CLVAE_OK;
}

void clvae_buf_free(clvae_buf_t *b)
{
    if (b->mem) clReleaseMemObject(b->mem);
    b->mem = NULL;
    b->off = 0;
}

clvae_status_t clvae_buf_upload(clvae_ctx_t *ctx, clvae_buf_t dst, const float *src, size_t n,
                                clvae_error_t *err)
{
    if (n == 0) return CLVAE_OK;
    CLVAE_CL_RET(err, clEnqueueWriteBuffer(ctx->queue, dst.mem, CL_TRUE, dst.off * sizeof(float),
                                           n * sizeof(float), src, 0, NULL, NULL));
    return CLVAE_OK;
}

clvae_status_t clvae_buf_download(clvae_ctx_t *ctx, float *dst, clvae_buf_t src, size_t n,
                                  clvae_error_t *err)
{
    if (n == 0) return CLVAE_OK;
    CLVAE_CL_RET(err, clEnqueueReadBuffer(ctx->queue, src.mem, CL_TRUE, src.off * sizeof(float),
                                          n * sizeof(float), dst, 0, NULL, NULL));
    return CLVAE_OK;
}

clvae_status_t clvae_buf_copy(clvae_ctx_t *ctx, clvae_buf_t dst, clvae_buf_t src, size_t n,
                              clvae_error_t *err)
{
    if (n == 0) return CLVAE_OK;
    CLVAE_CL_RET(err, clEnqueueCopyBuffer(ctx->queue, src.mem, dst.mem, src.off * sizeof(float),
                                          dst.off * sizeof(float), n * sizeof(float), 0, NULL,
                                          NULL));
    return CLVAE_OK;
}

clvae_status_t clvae_workspace(clvae_ctx_t *ctx, int slot, size_t n, clvae_buf_t *out,
                               clvae_error_t *err)
{
    if (slot < 0 || slot >= CLVAE_WORKSPACES)
        return CLVAE_FAIL(err, CLVAE_ERR_INVALID, "workspace slot %d out of range", slot);
    if (n == 0) n = 1;
    if (ctx->ws_size[slot] < n) {
        /* Commands already enqueued keep the old buffer alive until they finish. */
        clvae_buf_t b = {ctx->ws[slot], 0};
        clvae_buf_free(&b);
        ctx->ws[slot] = NULL;
        ctx->ws_size[slot] = 0;
        clvae_status_t s = clvae_buf_alloc(ctx, n, &b, err);
        if (s) return s;
        ctx->ws[slot] = b.mem;
        ctx->ws_size[slot] = n;
    }
    out->mem = ctx->ws[slot];
    out->off = 0;
    return CLVAE_OK;
}

size_t clvae_workspace_bytes(const clvae_ctx_t *ctx)
{
    size_t n = 0;
    for (int i = 0; i < CLVAE_WORKSPACES; i++) n += ctx->ws_size[i] * sizeof(float);
    return n;
}
