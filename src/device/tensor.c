/* Device buffers: allocation within the device's limits, transfers, workspaces. */
#include "clvae/device/tensor.h"

#include "device/ctx_internal.h"

_Static_assert(CLVAE_WORKSPACES == CLVAE_CTX_WORKSPACES,
               "the context holds as many workspaces as clvae_workspace hands out");

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
