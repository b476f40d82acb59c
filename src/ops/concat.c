/* Launchers for cl/concat.cl: one-hot label channels joined to a tensor, gradient, one-hot rows. */
#include "clvae/ops/concat.h"

#include <stdint.h>

#include "clvae/ops/xent.h"

/* *p *= f when the product stays within 2^32-1; returns 0 when it would not. */
static int mul_u32(size_t *p, size_t f)
{
    if (f != 0 && *p > UINT32_MAX / f) return 0;
    *p *= f;
    return 1;
}

/* N, C (when need_c), H, W, K non-zero, K within the label limit, and N*(C+K)*H*W within
 * uint; *hw gets H*W. */
static clvae_status_t check_sizes(size_t N, size_t C, size_t H, size_t W, size_t K, int need_c,
                                  const char *op, size_t *hw, clvae_error_t *err)
{
    if (N == 0 || (need_c && C == 0) || H == 0 || W == 0 || K == 0)
        return CLVAE_FAIL(err, CLVAE_ERR_INVALID, "%s: zero size (N=%zu C=%zu H=%zu W=%zu K=%zu)",
                          op, N, C, H, W, K);
    if (K > CLVAE_LABEL_MAX_CLASSES)
        return CLVAE_FAIL(err, CLVAE_ERR_INVALID, "%s: K=%zu classes exceeds the limit %zu", op,
                          K, CLVAE_LABEL_MAX_CLASSES);
    size_t total = C + K; /* C, K < 2^32 is implied by the products below */
    if (C > UINT32_MAX || !mul_u32(&total, N) || !mul_u32(&total, H) || !mul_u32(&total, W))
        return CLVAE_FAIL(err, CLVAE_ERR_INVALID,
                          "%s: N*(C+K)*H*W = %zu*(%zu+%zu)*%zu*%zu exceeds 2^32-1", op, N, C, K,
                          H, W);
    *hw = H * W;
    return CLVAE_OK;
}

/* Refuses an output view that overlaps an input view of the same buffer. */
static clvae_status_t check_disjoint(clvae_buf_t a, size_t na, const char *aname, clvae_buf_t b,
                                     size_t nb, const char *bname, const char *op,
                                     clvae_error_t *err)
{
    if (a.mem != b.mem || a.off + na <= b.off || b.off + nb <= a.off) return CLVAE_OK;
    return CLVAE_FAIL(err, CLVAE_ERR_INVALID, "%s: %s and %s overlap in one buffer", op, aname,
                      bname);
}

/* out [N, C+K, HW] from in [N, C, HW] (C may be 0: in unused) and labels [N]. */
static clvae_status_t launch_concat(clvae_ctx_t *ctx, clvae_buf_t out, clvae_buf_t in,
                                    clvae_buf_t labels, size_t N, size_t C, size_t HW, size_t K,
                                    clvae_error_t *err)
{
    cl_kernel k;
    clvae_status_t s = clvae_kernel_get(ctx, "concat", "label_concat", &k, err);
    if (s) return s;
    cl_mem in_mem = C ? in.mem : labels.mem; /* never read when C = 0 */
    cl_uint oo = (cl_uint)out.off, io = (cl_uint)in.off, yo = (cl_uint)labels.off;
    cl_uint n = (cl_uint)(N * (C + K) * HW), cc = (cl_uint)C, kk = (cl_uint)K, hw = (cl_uint)HW;
    CLVAE_CL_RET(err, clSetKernelArg(k, 0, sizeof out.mem, &out.mem));
    CLVAE_CL_RET(err, clSetKernelArg(k, 1, sizeof oo, &oo));
    CLVAE_CL_RET(err, clSetKernelArg(k, 2, sizeof in_mem, &in_mem));
    CLVAE_CL_RET(err, clSetKernelArg(k, 3, sizeof io, &io));
    CLVAE_CL_RET(err, clSetKernelArg(k, 4, sizeof labels.mem, &labels.mem));
    CLVAE_CL_RET(err, clSetKernelArg(k, 5, sizeof yo, &yo));
    CLVAE_CL_RET(err, clSetKernelArg(k, 6, sizeof n, &n));
    CLVAE_CL_RET(err, clSetKernelArg(k, 7, sizeof cc, &cc));
    CLVAE_CL_RET(err, clSetKernelArg(k, 8, sizeof kk, &kk));
    CLVAE_CL_RET(err, clSetKernelArg(k, 9, sizeof hw, &hw));
    return clvae_launch_1d(ctx, k, n, err);
}

clvae_status_t clvae_label_concat_forward(clvae_ctx_t *ctx, clvae_buf_t out, clvae_buf_t in,
                                          clvae_buf_t labels, size_t N, size_t C, size_t H,
                                          size_t W, size_t K, clvae_error_t *err)
{
    const char *op = "label_concat_forward";
    size_t hw;
    clvae_status_t s;
    if ((s = check_sizes(N, C, H, W, K, 1, op, &hw, err))) return s;
    size_t nin = N * C * hw, nout = N * (C + K) * hw;
    if ((s = clvae_buf_check(out, nout, op, "out", err)) ||
        (s = clvae_buf_check(in, nin, op, "in", err)) ||
        (s = clvae_buf_check(labels, N, op, "labels", err)) ||
        (s = check_disjoint(out, nout, "out", in, nin, "in", op, err)) ||
        (s = check_disjoint(out, nout, "out", labels, N, "labels", op, err)))
        return s;
    return launch_concat(ctx, out, in, labels, N, C, hw, K, err);
}

clvae_status_t clvae_label_concat_backward(clvae_ctx_t *ctx, clvae_buf_t din, clvae_buf_t dout,
                                           size_t N, size_t C, size_t H, size_t W, size_t K,
                                           clvae_error_t *err)
{
    const char *op = "label_concat_backward";
    size_t hw;
    clvae_status_t s;
    if ((s = check_sizes(N, C, H, W, K, 1, op, &hw, err))) return s;
    size_t nin = N * C * hw, nout = N * (C + K) * hw;
    if ((s = clvae_buf_check(dout, nout, op, "dout", err))) return s;
    if (!din.mem) return CLVAE_OK;
    if ((s = clvae_buf_check(din, nin, op, "din", err)) ||
        (s = check_disjoint(din, nin, "din", dout, nout, "dout", op, err)))
        return s;
    cl_kernel k;
    if ((s = clvae_kernel_get(ctx, "concat", "label_concat_grad", &k, err))) return s;
    cl_uint io = (cl_uint)din.off, oo = (cl_uint)dout.off, n = (cl_uint)nin;
    cl_uint cc = (cl_uint)C, kk = (cl_uint)K, hh = (cl_uint)hw;
    CLVAE_CL_RET(err, clSetKernelArg(k, 0, sizeof din.mem, &din.mem));
    CLVAE_CL_RET(err, clSetKernelArg(k, 1, sizeof io, &io));
    CLVAE_CL_RET(err, clSetKernelArg(k, 2, sizeof dout.mem, &dout.mem));
    CLVAE_CL_RET(err, clSetKernelArg(k, 3, sizeof oo, &oo));
    CLVAE_CL_RET(err, clSetKernelArg(k, 4, sizeof n, &n));
    CLVAE_CL_RET(err, clSetKernelArg(k, 5, sizeof cc, &cc));
    CLVAE_CL_RET(err, clSetKernelArg(k, 6, sizeof kk, &kk));
    CLVAE_CL_RET(err, clSetKernelArg(k, 7, sizeof hh, &hh));
    return clvae_launch_1d(ctx, k, nin, err);
}

clvae_status_t clvae_onehot(clvae_ctx_t *ctx, clvae_buf_t out, clvae_buf_t labels, size_t N,
                            size_t K, clvae_error_t *err)
{
    const char *op = "onehot";
    size_t hw;
    clvae_status_t s;
    if ((s = check_sizes(N, 0, 1, 1, K, 0, op, &hw, err)) ||
        (s = clvae_buf_check(out, N * K, op, "out", err)) ||
        (s = clvae_buf_check(labels, N, op, "labels", err)) ||
        (s = check_disjoint(out, N * K, "out", labels, N, "labels", op, err)))
        return s;
    clvae_buf_t none = {0};
    return launch_concat(ctx, out, none, labels, N, 0, 1, K, err);
}

clvae_status_t clvae_channel_slice(clvae_ctx_t *ctx, clvae_buf_t dst, size_t dst_C, size_t dst_c0,
                                   clvae_buf_t src, size_t src_C, size_t src_c0, size_t C,
                                   size_t N, size_t HW, int accumulate, clvae_error_t *err)
{
    const char *op = "channel_slice";
    clvae_status_t s;
    if (N == 0 || C == 0 || HW == 0 || dst_c0 + C > dst_C || src_c0 + C > src_C)
        return CLVAE_FAIL(err, CLVAE_ERR_INVALID,
                          "%s: channels %zu..%zu of %zu into %zu..%zu of %zu (N=%zu HW=%zu)", op,
                          src_c0, src_c0 + C, src_C, dst_c0, dst_c0 + C, dst_C, N, HW);
    size_t nd = N * dst_C, ns = N * src_C;
    if (!mul_u32(&nd, HW) || !mul_u32(&ns, HW))
        return CLVAE_FAIL(err, CLVAE_ERR_INVALID, "%s: N*C*H*W exceeds 2^32-1", op);
    if ((s = clvae_buf_check(dst, nd, op, "dst", err)) ||
        (s = clvae_buf_check(src, ns, op, "src", err)) ||
        (s = check_disjoint(dst, nd, "dst", src, ns, "src", op, err)))
        return s;
    cl_kernel k;
    if ((s = clvae_kernel_get(ctx, "concat", "channel_slice", &k, err))) return s;
    cl_uint a[10] = {(cl_uint)dst.off, (cl_uint)dst_C, (cl_uint)dst_c0, (cl_uint)src.off,
                     (cl_uint)src_C, (cl_uint)src_c0, (cl_uint)(N * C), (cl_uint)C,
                     (cl_uint)HW, (cl_uint)(accumulate != 0)};
    CLVAE_CL_RET(err, clSetKernelArg(k, 0, sizeof dst.mem, &dst.mem));
    for (int i = 0; i < 3; i++) CLVAE_CL_RET(err, clSetKernelArg(k, 1 + i, sizeof a[i], &a[i]));
    CLVAE_CL_RET(err, clSetKernelArg(k, 4, sizeof src.mem, &src.mem));
    for (int i = 3; i < 10; i++) CLVAE_CL_RET(err, clSetKernelArg(k, 2 + i, sizeof a[i], &a[i]));
    return clvae_launch_rows(ctx, k, HW, N * C, err);
}
