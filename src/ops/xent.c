/* Launchers for cl/xent.cl (cross-entropies, softmax, argmax hits, class draws); label check. */
#include "clvae/ops/xent.h"

#include <math.h>
#include <stdint.h>

#include "clvae/ops/reduce.h"

clvae_status_t clvae_labels_check(const float *labels, size_t N, size_t K, clvae_error_t *err)
{
    if (!labels) return CLVAE_FAIL(err, CLVAE_ERR_INVALID, "labels: array is NULL");
    if (N == 0 || K == 0)
        return CLVAE_FAIL(err, CLVAE_ERR_INVALID, "labels: zero size (N=%zu K=%zu)", N, K);
    if (K > CLVAE_LABEL_MAX_CLASSES)
        return CLVAE_FAIL(err, CLVAE_ERR_INVALID, "labels: K=%zu classes exceeds the limit %zu",
                          K, CLVAE_LABEL_MAX_CLASSES);
    for (size_t n = 0; n < N; n++) {
        float y = labels[n];
        if (!(y >= 0.0f && y < (float)K && y == floorf(y)))
            return CLVAE_FAIL(err, CLVAE_ERR_INVALID,
                              "labels: label %zu of %zu is %g, not a class index 0..%zu", n, N,
                              (double)y, K - 1);
    }
    return CLVAE_OK;
}

/* N rows of K classes: both non-zero, K within the label limit, N*K within uint. */
static clvae_status_t check_shape(size_t N, size_t K, const char *op, clvae_error_t *err)
{
    if (N == 0 || K == 0)
        return CLVAE_FAIL(err, CLVAE_ERR_INVALID, "%s: zero size (N=%zu K=%zu)", op, N, K);
    if (K > CLVAE_LABEL_MAX_CLASSES)
        return CLVAE_FAIL(err, CLVAE_ERR_INVALID, "%s: K=%zu classes exceeds the limit %zu", op,
                          K, CLVAE_LABEL_MAX_CLASSES);
    if (N > UINT32_MAX / K)
        return CLVAE_FAIL(err, CLVAE_ERR_INVALID, "%s: N*K = %zu*%zu exceeds 2^32-1", op, N, K);
    return CLVAE_OK;
}

/* Refuses two views of one buffer whose ranges overlap (unless same_ok and identical). */
static clvae_status_t check_overlap(clvae_buf_t a, size_t na, const char *aname, clvae_buf_t b,
                                    size_t nb, const char *bname, int same_ok, const char *op,
                                    clvae_error_t *err)
{
    if (a.mem != b.mem || a.off + na <= b.off || b.off + nb <= a.off) return CLVAE_OK;
    if (same_ok && a.off == b.off && na == nb) return CLVAE_OK;
    return CLVAE_FAIL(err, CLVAE_ERR_INVALID, "%s: %s and %s overlap in one buffer", op, aname,
                      bname);
}

/* Sets the arguments (out, logits, labels, K) shared by the row kernels; labels.mem may be
 * NULL for softmax, which has no labels. Returns the next argument index in *next. */
static clvae_status_t set_row_args(cl_kernel k, clvae_buf_t out, clvae_buf_t z, clvae_buf_t y,
                                   size_t K, cl_uint *next, clvae_error_t *err)
{
    cl_uint oo = (cl_uint)out.off, zo = (cl_uint)z.off, yo = (cl_uint)y.off, kk = (cl_uint)K;
    cl_uint a = 0;
    CLVAE_CL_RET(err, clSetKernelArg(k, a++, sizeof out.mem, &out.mem));
    CLVAE_CL_RET(err, clSetKernelArg(k, a++, sizeof oo, &oo));
    CLVAE_CL_RET(err, clSetKernelArg(k, a++, sizeof z.mem, &z.mem));
    CLVAE_CL_RET(err, clSetKernelArg(k, a++, sizeof zo, &zo));
    if (y.mem) {
        CLVAE_CL_RET(err, clSetKernelArg(k, a++, sizeof y.mem, &y.mem));
        CLVAE_CL_RET(err, clSetKernelArg(k, a++, sizeof yo, &yo));
    }
    CLVAE_CL_RET(err, clSetKernelArg(k, a++, sizeof kk, &kk));
    *next = a;
    return CLVAE_OK;
}

/* The checks every labelled op shares: shape, logits [N, K] and labels [N]. */
static clvae_status_t check_labelled(clvae_buf_t logits, clvae_buf_t labels, size_t N, size_t K,
                                     const char *op, clvae_error_t *err)
{
    clvae_status_t s;
    if ((s = check_shape(N, K, op, err)) ||
        (s = clvae_buf_check(logits, N * K, op, "logits", err)) ||
        (s = clvae_buf_check(labels, N, op, "labels", err)))
        return s;
    return CLVAE_OK;
}

clvae_status_t clvae_xent_forward(clvae_ctx_t *ctx, clvae_buf_t per_example, clvae_buf_t mean,
                                  clvae_buf_t logits, clvae_buf_t labels, size_t N, size_t K,
                                  clvae_error_t *err)
{
    const char *op = "xent_forward";
    clvae_status_t s;
    if ((s = check_labelled(logits, labels, N, K, op, err)) ||
        (s = clvae_buf_check(per_example, N, op, "per_example", err)) ||
        (s = check_overlap(per_example, N, "per_example", logits, N * K, "logits", 0, op, err)) ||
        (s = check_overlap(per_example, N, "per_example", labels, N, "labels", 0, op, err)))
        return s;
    if (mean.mem && (s = clvae_buf_check(mean, 1, op, "mean", err))) return s;
    cl_kernel k;
    cl_uint next;
    if ((s = clvae_kernel_get(ctx, "xent", "xent_rows", &k, err)) ||
        (s = set_row_args(k, per_example, logits, labels, K, &next, err)) ||
        (s = clvae_launch_groups(ctx, k, N, err)))
        return s;
    if (!mean.mem) return CLVAE_OK;
    return clvae_reduce_all(ctx, mean, per_example, CLVAE_REDUCE_SUM, 1.0f / (float)N, N, err);
}

clvae_status_t clvae_xent_backward(clvae_ctx_t *ctx, clvae_buf_t dlogits, clvae_buf_t logits,
                                   clvae_buf_t labels, float scale, size_t N, size_t K,
                                   clvae_error_t *err)
{
    const char *op = "xent_backward";
    clvae_status_t s;
    if ((s = check_labelled(logits, labels, N, K, op, err))) return s;
    if (!isfinite(scale))
        return CLVAE_FAIL(err, CLVAE_ERR_INVALID, "%s: scale %g is not finite", op,
                          (double)scale);
    if (!dlogits.mem) return CLVAE_OK;
    if ((s = clvae_buf_check(dlogits, N * K, op, "dlogits", err)) ||
        (s = check_overlap(dlogits, N * K, "dlogits", logits, N * K, "logits", 0, op, err)) ||
        (s = check_overlap(dlogits, N * K, "dlogits", labels, N, "labels", 0, op, err)))
        return s;
    cl_kernel k;
    cl_uint next;
    if ((s = clvae_kernel_get(ctx, "xent", "xent_grad", &k, err)) ||
        (s = set_row_args(k, dlogits, logits, labels, K, &next, err)))
        return s;
    CLVAE_CL_RET(err, clSetKernelArg(k, next, sizeof scale, &scale));
    return clvae_launch_groups(ctx, k, N, err);
}

clvae_status_t clvae_xent_correct(clvae_ctx_t *ctx, clvae_buf_t correct, clvae_buf_t logits,
                                  clvae_buf_t labels, size_t N, size_t K, clvae_error_t *err)
{
    const char *op = "xent_correct";
    clvae_status_t s;
    if ((s = check_labelled(logits, labels, N, K, op, err)) ||
        (s = clvae_buf_check(correct, N, op, "correct", err)) ||
        (s = check_overlap(correct, N, "correct", logits, N * K, "logits", 0, op, err)) ||
        (s = check_overlap(correct, N, "correct", labels, N, "labels", 0, op, err)))
        return s;
    cl_kernel k;
    cl_uint next;
    if ((s = clvae_kernel_get(ctx, "xent", "xent_argmax", &k, err)) ||
        (s = set_row_args(k, correct, logits, labels, K, &next, err)))
        return s;
    return clvae_launch_groups(ctx, k, N, err);
}

clvae_status_t clvae_softmax_forward(clvae_ctx_t *ctx, clvae_buf_t probs, clvae_buf_t logits,
                                     size_t N, size_t K, clvae_error_t *err)
{
    const char *op = "softmax_forward";
    clvae_status_t s;
    if ((s = check_shape(N, K, op, err)) ||
        (s = clvae_buf_check(logits, N * K, op, "logits", err)) ||
        (s = clvae_buf_check(probs, N * K, op, "probs", err)) ||
        (s = check_overlap(probs, N * K, "probs", logits, N * K, "logits", 1, op, err)))
        return s;
    cl_kernel k;
    cl_uint next;
    clvae_buf_t none = {0};
    if ((s = clvae_kernel_get(ctx, "xent", "softmax_rows", &k, err)) ||
        (s = set_row_args(k, probs, logits, none, K, &next, err)))
        return s;
    return clvae_launch_groups(ctx, k, N, err);
}

/* ---- spatial cross-entropy and sampling ------------------------------------------------- */

/* N examples of K classes at P positions: all non-zero, K within the label limit, N*K*P and
 * so every index within uint. */
static clvae_status_t check_spatial_shape(size_t N, size_t K, size_t P, const char *op,
                                          clvae_error_t *err)
{
    clvae_status_t s = check_shape(N, K, op, err);
    if (s) return s;
    if (P == 0) return CLVAE_FAIL(err, CLVAE_ERR_INVALID, "%s: zero positions (P=0)", op);
    if (P > UINT32_MAX / (N * K))
        return CLVAE_FAIL(err, CLVAE_ERR_INVALID, "%s: N*K*P = %zu*%zu*%zu exceeds 2^32-1", op,
                          N, K, P);
    return CLVAE_OK;
}

/* The checks every spatial labelled op shares: shape, logits [N, K, P], labels [N, P]. */
static clvae_status_t check_spatial(clvae_buf_t logits, clvae_buf_t labels, size_t N, size_t K,
                                    size_t P, const char *op, clvae_error_t *err)
{
    clvae_status_t s;
    if ((s = check_spatial_shape(N, K, P, op, err)) ||
        (s = clvae_buf_check(logits, N * K * P, op, "logits", err)) ||
        (s = clvae_buf_check(labels, N * P, op, "labels", err)))
        return s;
    return CLVAE_OK;
}

/* The per-example ops (loss, hits): out [N] beside logits and labels, one group per example. */
static clvae_status_t spatial_per_example(clvae_ctx_t *ctx, const char *kernel, clvae_buf_t out,
                                          const char *oname, clvae_buf_t logits,
                                          clvae_buf_t labels, size_t N, size_t K, size_t P,
                                          const char *op, clvae_error_t *err)
{
    clvae_status_t s;
    if ((s = check_spatial(logits, labels, N, K, P, op, err)) ||
        (s = clvae_buf_check(out, N, op, oname, err)) ||
        (s = check_overlap(out, N, oname, logits, N * K * P, "logits", 0, op, err)) ||
        (s = check_overlap(out, N, oname, labels, N * P, "labels", 0, op, err)))
        return s;
    cl_kernel k;
    cl_uint next, pp = (cl_uint)P;
    if ((s = clvae_kernel_get(ctx, "xent", kernel, &k, err)) ||
        (s = set_row_args(k, out, logits, labels, K, &next, err)))
        return s;
    CLVAE_CL_RET(err, clSetKernelArg(k, next, sizeof pp, &pp));
    return clvae_launch_groups(ctx, k, N, err);
}

clvae_status_t clvae_xent_spatial_forward(clvae_ctx_t *ctx, clvae_buf_t per_example,
                                          clvae_buf_t mean, clvae_buf_t logits,
                                          clvae_buf_t labels, size_t N, size_t K, size_t P,
                                          clvae_error_t *err)
{
    const char *op = "xent_spatial_forward";
    clvae_status_t s;
    if (mean.mem && (s = clvae_buf_check(mean, 1, op, "mean", err))) return s;
    if ((s = spatial_per_example(ctx, "xent_spatial_rows", per_example, "per_example", logits,
                                 labels, N, K, P, op, err)))
        return s;
    if (!mean.mem) return CLVAE_OK;
    return clvae_reduce_all(ctx, mean, per_example, CLVAE_REDUCE_SUM, 1.0f / (float)N, N, err);
}

clvae_status_t clvae_xent_spatial_backward(clvae_ctx_t *ctx, clvae_buf_t dlogits,
                                           clvae_buf_t logits, clvae_buf_t labels, float scale,
                                           size_t N, size_t K, size_t P, clvae_error_t *err)
{
    const char *op = "xent_spatial_backward";
    clvae_status_t s;
    if ((s = check_spatial(logits, labels, N, K, P, op, err))) return s;
    if (!isfinite(scale))
        return CLVAE_FAIL(err, CLVAE_ERR_INVALID, "%s: scale %g is not finite", op,
                          (double)scale);
    if (!dlogits.mem) return CLVAE_OK;
    size_t n = N * K * P;
    if ((s = clvae_buf_check(dlogits, n, op, "dlogits", err)) ||
        (s = check_overlap(dlogits, n, "dlogits", logits, n, "logits", 0, op, err)) ||
        (s = check_overlap(dlogits, n, "dlogits", labels, N * P, "labels", 0, op, err)))
        return s;
    cl_kernel k;
    cl_uint next, pp = (cl_uint)P, nn = (cl_uint)N;
    if ((s = clvae_kernel_get(ctx, "xent", "xent_spatial_grad", &k, err)) ||
        (s = set_row_args(k, dlogits, logits, labels, K, &next, err)))
        return s;
    CLVAE_CL_RET(err, clSetKernelArg(k, next, sizeof pp, &pp));
    CLVAE_CL_RET(err, clSetKernelArg(k, next + 1, sizeof nn, &nn));
    CLVAE_CL_RET(err, clSetKernelArg(k, next + 2, sizeof scale, &scale));
    return clvae_launch_1d(ctx, k, N * P, err);
}

clvae_status_t clvae_xent_spatial_correct(clvae_ctx_t *ctx, clvae_buf_t correct,
                                          clvae_buf_t logits, clvae_buf_t labels, size_t N,
                                          size_t K, size_t P, clvae_error_t *err)
{
    return spatial_per_example(ctx, "xent_spatial_argmax", correct, "correct", logits, labels, N,
                               K, P, "xent_spatial_correct", err);
}

clvae_status_t clvae_xent_sample_position(clvae_ctx_t *ctx, clvae_buf_t codes,
                                          clvae_buf_t logits, size_t p, float temperature,
                                          uint64_t seed, uint64_t offset, size_t N, size_t K,
                                          size_t P, clvae_error_t *err)
{
    const char *op = "xent_sample_position";
    clvae_status_t s;
    if ((s = check_spatial_shape(N, K, P, op, err))) return s;
    if (p >= P)
        return CLVAE_FAIL(err, CLVAE_ERR_INVALID, "%s: position %zu of %zu positions", op, p, P);
    if (!(temperature > 0.0f) || !isfinite(temperature))
        return CLVAE_FAIL(err, CLVAE_ERR_INVALID, "%s: temperature %g is not a positive number",
                          op, (double)temperature);
    if ((s = clvae_buf_check(logits, N * K * P, op, "logits", err)) ||
        (s = clvae_buf_check(codes, N * P, op, "codes", err)) ||
        (s = check_overlap(codes, N * P, "codes", logits, N * K * P, "logits", 0, op, err)))
        return s;
    cl_kernel k;
    cl_uint next, v[3] = {(cl_uint)N, (cl_uint)P, (cl_uint)p};
    cl_ulong sd = seed, off = offset;
    clvae_buf_t none = {0};
    if ((s = clvae_kernel_get(ctx, "xent", "xent_sample", &k, err)) ||
        (s = set_row_args(k, codes, logits, none, K, &next, err)))
        return s;
    for (cl_uint i = 0; i < 3; i++)
        CLVAE_CL_RET(err, clSetKernelArg(k, next + i, sizeof v[i], &v[i]));
    CLVAE_CL_RET(err, clSetKernelArg(k, next + 3, sizeof temperature, &temperature));
    CLVAE_CL_RET(err, clSetKernelArg(k, next + 4, sizeof sd, &sd));
    CLVAE_CL_RET(err, clSetKernelArg(k, next + 5, sizeof off, &off));
    return clvae_launch_1d(ctx, k, N, err);
}
