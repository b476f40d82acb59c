/* Datasets on the device: upload once, index buffers, batch gather (cl/data.cl), its reference. */
#include "clvae/data/data.h"

#include <stdint.h>
#include <stdlib.h>
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
    const clvae_device_info_t *dev = clvae_ctx_device(ctx);
    uint64_t max_alloc = dev->max_alloc < UINT32_MAX ? dev->max_alloc : UINT32_MAX;
    if ((uint64_t)dim > max_alloc)
        return CLVAE_FAIL(err, CLVAE_ERR_INVALID, "%s: one example of %zu bytes exceeds the "
                          "largest buffer clvae can use on this device, %llu bytes (its maximum "
                          "allocation, at most 2^32-1): use a device with a larger "
                          "CL_DEVICE_MAX_MEM_ALLOC_SIZE", d->name, dim,
                          (unsigned long long)max_alloc);
    if ((uint64_t)bytes > dev->global_mem)
        return CLVAE_FAIL(err, CLVAE_ERR_INVALID, "%s: %zu bytes (%.1f MiB) exceed the device's "
                          "global memory of %.1f MiB: use fewer examples (--limit %llu or less "
                          "for a training set) or a device with more memory", d->name, bytes,
                          (double)bytes / 1048576.0, (double)dev->global_mem / 1048576.0,
                          (unsigned long long)(dev->global_mem / 2 / dim));
    /* whole examples per buffer, as many as one allocation (and uint indexing) allows */
    size_t per = (size_t)(max_alloc / dim);
    if (per > d->n) per = d->n;
    size_t nchunks = (d->n + per - 1) / per;
    out->chunks = calloc(nchunks, sizeof *out->chunks);
    if (!out->chunks) return CLVAE_FAIL(err, CLVAE_ERR_NOMEM, "out of host memory");
    for (size_t i = 0; i < nchunks; i++) {
        size_t first = i * per, cnt = d->n - first < per ? d->n - first : per;
        cl_mem m;
        clvae_status_t s = clvae_mem_from_host(ctx, CL_MEM_READ_ONLY, d->pixels + first * dim,
                                               cnt * dim, &m, err);
        if (s) {
            clvae_data_dev_free(out);
            return s;
        }
        out->chunks[out->nchunks++] = m;
    }
    out->per_chunk = per;
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
    if (*idx && mem_size(*idx) >= bytes) return clvae_mem_write(ctx, *idx, 0, perm, bytes, err);
    cl_mem m;
    clvae_status_t s = clvae_mem_from_host(ctx, CL_MEM_READ_ONLY, perm, bytes, &m, err);
    if (s) return s;
    if (*idx) clReleaseMemObject(*idx);
    *idx = m;
    return CLVAE_OK;
}

clvae_status_t clvae_data_gather(clvae_ctx_t *ctx, clvae_buf_t out, const clvae_data_dev_t *dd,
                                 cl_mem idx, size_t idx_off, size_t B, clvae_error_t *err)
{
    if (!ctx || !dd || !dd->chunks || !dd->nchunks || !idx || !out.mem)
        return CLVAE_FAIL(err, CLVAE_ERR_INVALID, "clvae_data_gather: missing buffer");
    if (B == 0) return CLVAE_FAIL(err, CLVAE_ERR_INVALID, "clvae_data_gather: batch size is 0");
    if (dd->dim == 0 || B > UINT32_MAX / dd->dim)
        return CLVAE_FAIL(err, CLVAE_ERR_INVALID, "clvae_data_gather: %zu x %zu floats exceed "
                          "the kernel limit of 2^32-1", B, dd->dim);
    clvae_status_t s = clvae_buf_check(out, B * dd->dim, "clvae_data_gather", "out", err);
    if (s) return s;
    if (idx_off > UINT32_MAX - B)
        return CLVAE_FAIL(err, CLVAE_ERR_INVALID, "clvae_data_gather: index offset %zu + batch "
                          "%zu exceeds 2^32-1", idx_off, B);
    if (dd->n > UINT32_MAX || dd->per_chunk == 0 || dd->per_chunk > UINT32_MAX / dd->dim ||
        dd->nchunks != (dd->n + dd->per_chunk - 1) / dd->per_chunk)
        return CLVAE_FAIL(err, CLVAE_ERR_INVALID, "clvae_data_gather: the device dataset (%zu x "
                          "%zu bytes in %zu chunks of %zu) is not consistent", dd->n, dd->dim,
                          dd->nchunks, dd->per_chunk);
    size_t count = B * dd->dim;
    size_t idx_have = mem_size(idx) / sizeof(cl_uint);
    if (idx_off + B > idx_have)
        return CLVAE_FAIL(err, CLVAE_ERR_INVALID, "clvae_data_gather: indices %zu..%zu are past "
                          "the index buffer's %zu entries", idx_off, idx_off + B - 1, idx_have);
    cl_kernel k;
    if ((s = clvae_kernel_get(ctx, "data", "data_gather", &k, err))) return s;
    cl_uint oo = (cl_uint)out.off, po = 0, io = (cl_uint)idx_off, dim = (cl_uint)dd->dim;
    cl_uint cnt = (cl_uint)count;
    cl_float scale = dd->scale;
    for (size_t c = 0; c < dd->nchunks; c++) {
        size_t first = c * dd->per_chunk;
        size_t have = dd->n - first < dd->per_chunk ? dd->n - first : dd->per_chunk;
        if (mem_size(dd->chunks[c]) < have * dd->dim)
            return CLVAE_FAIL(err, CLVAE_ERR_INVALID, "clvae_data_gather: chunk %zu holds fewer "
                              "than its %zu examples of %zu bytes", c, have, dd->dim);
        cl_uint lo = (cl_uint)first, hi = (cl_uint)(first + have);
        CLVAE_CL_RET(err, clSetKernelArg(k, 0, sizeof out.mem, &out.mem));
        CLVAE_CL_RET(err, clSetKernelArg(k, 1, sizeof oo, &oo));
        CLVAE_CL_RET(err, clSetKernelArg(k, 2, sizeof dd->chunks[c], &dd->chunks[c]));
        CLVAE_CL_RET(err, clSetKernelArg(k, 3, sizeof po, &po));
        CLVAE_CL_RET(err, clSetKernelArg(k, 4, sizeof idx, &idx));
        CLVAE_CL_RET(err, clSetKernelArg(k, 5, sizeof io, &io));
        CLVAE_CL_RET(err, clSetKernelArg(k, 6, sizeof dim, &dim));
        CLVAE_CL_RET(err, clSetKernelArg(k, 7, sizeof lo, &lo));
        CLVAE_CL_RET(err, clSetKernelArg(k, 8, sizeof hi, &hi));
        CLVAE_CL_RET(err, clSetKernelArg(k, 9, sizeof cnt, &cnt));
        CLVAE_CL_RET(err, clSetKernelArg(k, 10, sizeof scale, &scale));
        if ((s = clvae_launch_1d(ctx, k, count, err))) return s;
    }
    return CLVAE_OK;
}

void clvae_data_dev_free(clvae_data_dev_t *dd)
{
    if (!dd) return;
    for (size_t i = 0; dd->chunks && i < dd->nchunks; i++)
        if (dd->chunks[i]) clReleaseMemObject(dd->chunks[i]);
    free(dd->chunks);
    memset(dd, 0, sizeof *dd);
}
