/* Datasets on the device: upload once, index buffers, batch gather (cl/data.cl), its reference. */
#include "clvae/data.h"

#include <stdint.h>
#include <string.h>

/* The byte size of a buffer, or 0 when it cannot be queried. */
static size_t mem_size(cl_mem m)
{
    size_t size = 0;
    if (clGetMemObjectInfo(m, CL_MEM_SIZE, sizeof size, &size, NULL) != CL_SUCCESS) return 0;
    return size;
}

clvae_status_t clvae_data_upload(clvae_ctx_t *ctx, const clvae_dataset_t *d, clvae_data_dev_t *out,
                                 clvae_error_t *err)
{
    if (!out) return CLVAE_FAIL(err, CLVAE_ERR_INVALID, "clvae_data_upload: no output");
    memset(out, 0, sizeof *out);
    if (!ctx || !d) return CLVAE_FAIL(err, CLVAE_ERR_INVALID, "clvae_data_upload: no dataset");
    if (d->n == 0 || d->c == 0 || d->h == 0 || d->w == 0 || !d->pixels)
        return CLVAE_FAIL(err, CLVAE_ERR_INVALID, "%s: cannot upload an empty dataset", d->name);
    if (d->h > SIZE_MAX / d->c || d->w > SIZE_MAX / (d->c * d->h) ||
        d->n > SIZE_MAX / clvae_dataset_dim(d))
        return CLVAE_FAIL(err, CLVAE_ERR_INVALID, "%s: %zu examples of %zux%zux%zu bytes "
                          "overflow the address space", d->name, d->n, d->c, d->h, d->w);
    size_t dim = clvae_dataset_dim(d), bytes = d->n * dim;
    uint64_t max_alloc = clvae_ctx_device(ctx)->max_alloc;
    if ((uint64_t)bytes > max_alloc)
        return CLVAE_FAIL(err, CLVAE_ERR_INVALID, "%s: %zu bytes (%.1f MiB) exceed the device's "
                          "maximum allocation of %llu bytes (%.1f MiB)", d->name, bytes,
                          (double)bytes / 1048576.0, (unsigned long long)max_alloc,
                          (double)max_alloc / 1048576.0);
    if (bytes > UINT32_MAX)
        return CLVAE_FAIL(err, CLVAE_ERR_INVALID, "%s: %zu bytes exceed the kernel index limit "
                          "of 2^32-1", d->name, bytes);
    cl_int rc;
    cl_mem m = clCreateBuffer(clvae_ctx_cl_context(ctx), CL_MEM_READ_ONLY | CL_MEM_COPY_HOST_PTR,
                              bytes, d->pixels, &rc);
    if (rc != CL_SUCCESS) return clvae_error_cl(err, rc, "clCreateBuffer", __FILE__, __LINE__);
    out->pixels = m;
    out->n = d->n;
    out->dim = dim;
    out->scale = d->scale;
    return CLVAE_OK;
}

clvae_status_t clvae_data_upload_indices(clvae_ctx_t *ctx, cl_mem *idx, const uint32_t *perm,
                                         size_t n, size_t limit, clvae_error_t *err)
{
    if (!ctx || !idx || !perm || n == 0)
        return CLVAE_FAIL(err, CLVAE_ERR_INVALID, "clvae_data_upload_indices: %s",
                          n == 0 ? "no indices" : "missing argument");
    for (size_t i = 0; i < n; i++)
        if (perm[i] >= limit)
            return CLVAE_FAIL(err, CLVAE_ERR_INVALID, "index %lu at position %zu is out of "
                              "range: the dataset has %zu examples", (unsigned long)perm[i], i,
                              limit);
    if (n > SIZE_MAX / sizeof(cl_uint) ||
        (uint64_t)n * sizeof(cl_uint) > clvae_ctx_device(ctx)->max_alloc || n > UINT32_MAX)
        return CLVAE_FAIL(err, CLVAE_ERR_INVALID, "%zu indices exceed the device's limits", n);
    size_t bytes = n * sizeof(cl_uint);
    if (*idx && mem_size(*idx) >= bytes) {
        CLVAE_CL_RET(err, clEnqueueWriteBuffer(clvae_ctx_queue(ctx), *idx, CL_TRUE, 0, bytes, perm,
                                               0, NULL, NULL));
        return CLVAE_OK;
    }
    cl_int rc;
    cl_mem m = clCreateBuffer(clvae_ctx_cl_context(ctx), CL_MEM_READ_ONLY | CL_MEM_COPY_HOST_PTR,
                              bytes, (void *)perm, &rc);
    if (rc != CL_SUCCESS) return clvae_error_cl(err, rc, "clCreateBuffer", __FILE__, __LINE__);
    if (*idx) clReleaseMemObject(*idx);
    *idx = m;
    return CLVAE_OK;
}

clvae_status_t clvae_data_gather(clvae_ctx_t *ctx, clvae_buf_t out, const clvae_data_dev_t *dd,
                                 cl_mem idx, size_t idx_off, size_t B, clvae_error_t *err)
{
    if (!ctx || !dd || !dd->pixels || !idx || !out.mem)
        return CLVAE_FAIL(err, CLVAE_ERR_INVALID, "clvae_data_gather: missing buffer");
    if (B == 0) return CLVAE_FAIL(err, CLVAE_ERR_INVALID, "clvae_data_gather: batch size is 0");
    if (dd->dim == 0 || B > UINT32_MAX / dd->dim || out.off > UINT32_MAX - B * dd->dim)
        return CLVAE_FAIL(err, CLVAE_ERR_INVALID, "clvae_data_gather: offset %zu + %zu x %zu "
                          "floats exceeds the kernel limit of 2^32-1", out.off, B, dd->dim);
    if (idx_off > UINT32_MAX - B)
        return CLVAE_FAIL(err, CLVAE_ERR_INVALID, "clvae_data_gather: index offset %zu + batch "
                          "%zu exceeds 2^32-1", idx_off, B);
    if (dd->n > UINT32_MAX / dd->dim || mem_size(dd->pixels) < dd->n * dd->dim)
        return CLVAE_FAIL(err, CLVAE_ERR_INVALID, "clvae_data_gather: the device dataset (%zu x "
                          "%zu bytes) does not match its buffer or exceeds 2^32-1 bytes", dd->n,
                          dd->dim);
    size_t count = B * dd->dim;
    size_t idx_have = mem_size(idx) / sizeof(cl_uint), out_have = mem_size(out.mem) / sizeof(float);
    if (idx_off + B > idx_have)
        return CLVAE_FAIL(err, CLVAE_ERR_INVALID, "clvae_data_gather: indices %zu..%zu are past "
                          "the index buffer's %zu entries", idx_off, idx_off + B - 1, idx_have);
    if (out.off + count > out_have)
        return CLVAE_FAIL(err, CLVAE_ERR_INVALID, "clvae_data_gather: %zu floats at offset %zu "
                          "do not fit the output buffer of %zu floats", count, out.off, out_have);
    cl_kernel k;
    clvae_status_t s = clvae_kernel_get(ctx, "data", "data_gather", &k, err);
    if (s) return s;
    cl_uint oo = (cl_uint)out.off, po = 0, io = (cl_uint)idx_off, dim = (cl_uint)dd->dim;
    cl_uint n = (cl_uint)dd->n, cnt = (cl_uint)count;
    cl_float scale = dd->scale;
    CLVAE_CL_RET(err, clSetKernelArg(k, 0, sizeof out.mem, &out.mem));
    CLVAE_CL_RET(err, clSetKernelArg(k, 1, sizeof oo, &oo));
    CLVAE_CL_RET(err, clSetKernelArg(k, 2, sizeof dd->pixels, &dd->pixels));
    CLVAE_CL_RET(err, clSetKernelArg(k, 3, sizeof po, &po));
    CLVAE_CL_RET(err, clSetKernelArg(k, 4, sizeof idx, &idx));
    CLVAE_CL_RET(err, clSetKernelArg(k, 5, sizeof io, &io));
    CLVAE_CL_RET(err, clSetKernelArg(k, 6, sizeof dim, &dim));
    CLVAE_CL_RET(err, clSetKernelArg(k, 7, sizeof n, &n));
    CLVAE_CL_RET(err, clSetKernelArg(k, 8, sizeof cnt, &cnt));
    CLVAE_CL_RET(err, clSetKernelArg(k, 9, sizeof scale, &scale));
    return clvae_launch_1d(ctx, k, count, err);
}

void clvae_data_dev_free(clvae_data_dev_t *dd)
{
    if (!dd) return;
    if (dd->pixels) clReleaseMemObject(dd->pixels);
    memset(dd, 0, sizeof *dd);
}

void clvae_data_gather_ref(float *out, const clvae_dataset_t *d, const uint32_t *idx, size_t B)
{
    size_t dim = clvae_dataset_dim(d);
    for (size_t b = 0; b < B; b++) {
        if (idx[b] >= d->n) continue; /* as on the device: a no-op */
        const uint8_t *src = d->pixels + (size_t)idx[b] * dim;
        for (size_t k = 0; k < dim; k++) out[b * dim + k] = (float)src[k] * d->scale;
    }
}
