/* Convolution geometry and the conv2d / conv_transpose2d launchers (im2col + GEMM, or direct). */
#include "clvae/ops/conv.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "clvae/device/blas.h"
#include "clvae/device/tuning.h"
#include "device/tuning_internal.h"

/* Method: im2col + one CLBlast SGEMM per chunk of images, col2im as a gather.
 *
 * Why: CLBlast's GEMM is the one tuned, vectorised kernel we have on every device,
 * and with im2col every conv of the thesis VAE (and its two gradients) becomes a
 * single large GEMM per chunk: [K, C*kh*kw] x [C*kh*kw, nb*OH*OW] with nb*OH*OW
 * in the thousands even at 7x7, where a per-image GEMM (OH*OW = 49 columns) or a
 * hand-written direct conv would waste most of the device. The price is the col
 * buffer (C*kh*kw*OH*OW floats per image) and two cheap memory-bound passes.
 * col2im gathers: one work item owns an input row and adds the col entries that
 * belong to it in a fixed order, so no atomics and the same bits every run.
 *
 * The three primitives, per chunk of nb images (P = OH*OW):
 *   forward      col = im2col(x); rows[K, nb*P] = w[K, CKK] col; y = rows^NCHW + b
 *   backward-data   rows = dy in [K, nb*P]; col = w^T rows; dx += col2im(col)
 *   backward-weight rows = dy in [K, nb*P]; colT = im2row(x) [nb*P, CKK]; dw += rows colT
 *                   (im2col's matrix transposed, so that the GEMM is an AB: CLBlast ran the
 *                   ABT rows col^T at 12-35 GFLOP/s here, the AB at 21-77)
 * A transposed conv is the adjoint of the conv its geometry describes, so
 *   deconv forward     = conv backward-data (overwriting, + bias)
 *   deconv backward-dx = conv forward (accumulating, no bias)
 *   deconv backward-dw = conv backward-weight with x := deconv dy, dy := deconv x.
 * Bias gradients are per-channel sums of dy: a sum per (image, channel) plane, then per
 * channel over the images in order (bias_grad).
 *
 * Workspaces: slot 0 holds col, slot 1 rows. A chunk's col is kept <= 64 MiB
 * (and within CL_DEVICE_MAX_MEM_ALLOC_SIZE) by splitting the batch into equal
 * chunks; only a single image whose col exceeds the device's limit is refused.
 * dw accumulates over the chunks through the GEMM's beta = 1.
 *
 * The direct path (cl/conv_direct.cl). GEMM is the wrong tool when the conv's input
 * side is tiny, C*kh*kw = 9 for the thesis VAE's first conv (1 -> 32) and last deconv
 * (32 -> 1, whose adjoint conv has C = 1): a GEMM with an inner dimension of 9, or
 * an output of one row, runs at ~3 GFLOP/s here against 30-60 for the other layers.
 * Those convs run as direct kernels, built per (C, kh, kw) so the taps unroll, each
 * work item taking a vector of vw neighbouring pixels of one row:
 *   cd_forward        y = (acc ? y : 0) + b + conv(x, w), per output row tile
 *   cd_backward_data  x = (acc ? x : 0) + b + conv^T(y, w), a gather per input row tile
 *   cd_weight_partial + cd_weight_sum: dw += sum of dy * patch and db += sum of dy, as
 *                     partial sums per chunk of images (workspace slot 0), then summed in
 *                     chunk order (no atomics)
 * and the transposed conv maps onto them as above (forward = backward-data, etc.). The
 * conv's bias gradient comes with its weight gradient's partial sums; the transposed
 * conv's, a sum over its own dy, goes through bias_grad. All sums run in a fixed order.
 *
 * Which path: direct when C*kh*kw <= conv_direct.max_ckk (default 27: any 3x3 conv with
 * at most 3 input channels, a 5x5 with 1; for a transposed conv C is its OUTPUT channel
 * count), else im2col + GEMM. The environment variable CLVAE_CONV_PATH overrides the
 * rule for tests and measurements: "gemm" always GEMM, "direct" direct wherever
 * C*kh*kw <= DIRECT_MAX_CKK (64, the kernels' private arrays), "auto" or unset the rule.
 * The direct path ignores geom.max_chunk.
 *
 * Tuning keys (clvae_tuning_int, for `clvae tune`; vw, dw_vw, wg and kb are rounded down
 * to a power of two, and every value is clamped as the list says):
 *   conv_direct.max_ckk   the rule's threshold on C*kh*kw; candidates 0 (never direct),
 *                         9, 18, 27, 36, 49, 64 (at most 64); default 27
 *   conv_direct.vw        vector width (columns per work item) of cd_forward and
 *                         cd_backward_data; 4, 8, 16; default 16 on pocl's CPU device (the
 *                         thesis VAE's last deconv, 128 images: forward 2.8 -> 1.3 ms and
 *                         backward-data 3.1 -> 1.1 against 4; a 28-wide row is two vectors),
 *                         4 elsewhere (clvae_conv_direct_vw_default)
 *   conv_direct.dw_vw     the same for cd_weight_partial; 4, 8, 16; default vw's (one program
 *                         build per geometry instead of two)
 *   conv_direct.wg        work-group size of cd_weight_partial; 16, 32, 64, 128, 256
 *                         (capped by the context's WGS and the kernel's limit); default 32
 *   conv_direct.kb        output channels per work item of cd_weight_partial; 1, 2, 4, 8,
 *                         16; default 4 (halved, then wg, until wg*kb*(C*kh*kw+1) floats fit
 *                         the device's local memory)
 *   conv_direct.dw_pixels output pixels per work group of cd_weight_partial (whole images,
 *                         at least one); 512, 1024, 2048, 4096, 8192, 16384; default 4096
 * A weight-gradient's bits depend on wg, kb, dw_vw and dw_pixels (the order of its sums),
 * not on the run: the same device and tuning give the same bits. */

#define WS_COL 0
#define WS_ROWS 1
#define WS_PART 0 /* the direct path's partial weight gradients (it has no col) */
#define DIRECT_MAX_CKK 64
#define IMPLICIT_MAX_KK 25 /* 5x5 */
#define CHUNK_BYTES ((size_t)64 << 20)
#define UINT_LIMIT 4294967295.0
#define INT_LIMIT 2147483647.0
#define SIZE_LIMIT ((size_t)1 << 30) /* no size, stride, dilation or padding beyond this */

/* The activation a forward's last pass applies to what it writes (cl/common.cl's act_f): the
 * kernels take it as their two last arguments; ACT_IDENTITY wherever they accumulate. */
typedef struct epi {
    cl_uint act;
    cl_float slope;
} epi_t;
static const epi_t NO_ACT = {0, 0.0f};

static clvae_status_t set_epi(cl_kernel k, cl_uint first, epi_t e, clvae_error_t *err)
{
    CLVAE_CL_RET(err, clSetKernelArg(k, first, sizeof e.act, &e.act));
    CLVAE_CL_RET(err, clSetKernelArg(k, first + 1, sizeof e.slope, &e.slope));
    return CLVAE_OK;
}

/* ---- geometry ------------------------------------------------------------ */

static clvae_status_t check_params(const clvae_conv_params_t *p, const char *op,
                                   clvae_error_t *err)
{
    if (!p) return CLVAE_FAIL(err, CLVAE_ERR_INVALID, "%s: parameters are NULL", op);
    if (p->kh < 1 || p->kh > CLVAE_CONV_MAX_KERNEL || p->kw < 1 ||
        p->kw > CLVAE_CONV_MAX_KERNEL)
        return CLVAE_FAIL(err, CLVAE_ERR_INVALID, "%s: kernel %zux%zu outside 1..%d", op, p->kh,
                          p->kw, CLVAE_CONV_MAX_KERNEL);
    if (p->sh == 0 || p->sw == 0)
        return CLVAE_FAIL(err, CLVAE_ERR_INVALID, "%s: stride %zux%zu has a zero", op, p->sh,
                          p->sw);
    if (p->dh == 0 || p->dw == 0)
        return CLVAE_FAIL(err, CLVAE_ERR_INVALID, "%s: dilation %zux%zu has a zero", op, p->dh,
                          p->dw);
    if (p->pad != CLVAE_CONV_PAD_EXPLICIT && p->pad != CLVAE_CONV_PAD_SAME)
        return CLVAE_FAIL(err, CLVAE_ERR_INVALID, "%s: unknown padding mode %d", op,
                          (int)p->pad);
    if (p->sh > SIZE_LIMIT || p->sw > SIZE_LIMIT || p->dh > SIZE_LIMIT || p->dw > SIZE_LIMIT ||
        p->pad_h > SIZE_LIMIT || p->pad_w > SIZE_LIMIT || p->out_pad_h > SIZE_LIMIT ||
        p->out_pad_w > SIZE_LIMIT)
        return CLVAE_FAIL(err, CLVAE_ERR_INVALID, "%s: stride, dilation or padding too large",
                          op);
    return CLVAE_OK;
}

static clvae_status_t check_sizes(size_t N, size_t C, size_t H, size_t W, size_t K,
                                  const char *op, clvae_error_t *err)
{
    if (N == 0 || C == 0 || H == 0 || W == 0 || K == 0)
        return CLVAE_FAIL(err, CLVAE_ERR_INVALID,
                          "%s: zero size (N=%zu C=%zu H=%zu W=%zu channels out=%zu)", op, N, C, H,
                          W, K);
    if (N > SIZE_LIMIT || C > SIZE_LIMIT || H > SIZE_LIMIT || W > SIZE_LIMIT || K > SIZE_LIMIT)
        return CLVAE_FAIL(err, CLVAE_ERR_INVALID, "%s: size too large", op);
    return CLVAE_OK;
}

/* One spatial dimension of a conv: output size and padding before, or 0 when the
 * output would be empty. */
static int conv_dim(size_t in, size_t k, size_t s, size_t d, int same, size_t pad, size_t *out,
                    size_t *before)
{
    size_t ek = d * (k - 1) + 1; /* the dilated kernel's extent */
    if (same) {
        *out = (in + s - 1) / s;
        size_t need = (*out - 1) * s + ek;
        *before = (need > in ? need - in : 0) / 2;
        return 1;
    }
    if (in + 2 * pad < ek) return 0;
    *out = (in + 2 * pad - ek) / s + 1;
    *before = pad;
    return 1;
}

clvae_status_t clvae_conv2d_geom(clvae_conv_geom_t *g, size_t N, size_t C, size_t H, size_t W,
                                 size_t K, const clvae_conv_params_t *p, clvae_error_t *err)
{
    const char *op = "conv2d geometry";
    if (!g) return CLVAE_FAIL(err, CLVAE_ERR_INVALID, "%s: output is NULL", op);
    clvae_status_t s = check_params(p, op, err);
    if (!s) s = check_sizes(N, C, H, W, K, op, err);
    if (s) return s;
    if (p->out_pad_h || p->out_pad_w)
        return CLVAE_FAIL(err, CLVAE_ERR_INVALID,
                          "%s: output padding is for transposed convolutions only", op);
    clvae_conv_geom_t r = {0};
    int same = p->pad == CLVAE_CONV_PAD_SAME;
    if (!conv_dim(H, p->kh, p->sh, p->dh, same, p->pad_h, &r.OH, &r.pad_t) ||
        !conv_dim(W, p->kw, p->sw, p->dw, same, p->pad_w, &r.OW, &r.pad_l))
        return CLVAE_FAIL(err, CLVAE_ERR_INVALID,
                          "%s: %zux%zu input with padding %zu,%zu is smaller than the %zux%zu "
                          "kernel dilated by %zu,%zu: empty output",
                          op, H, W, p->pad_h, p->pad_w, p->kh, p->kw, p->dh, p->dw);
    r.N = N, r.C = C, r.H = H, r.W = W, r.K = K;
    r.kh = p->kh, r.kw = p->kw, r.sh = p->sh, r.sw = p->sw, r.dh = p->dh, r.dw = p->dw;
    *g = r;
    return CLVAE_OK;
}

/* One spatial dimension of a transposed conv of input size in: its output size and
 * the padding before of the adjoint conv, or a message in err. */
static clvae_status_t deconv_dim(size_t in, size_t k, size_t s, size_t d, int same, size_t pad,
                                 size_t out_pad, const char *what, size_t *out, size_t *before,
                                 clvae_error_t *err)
{
    const char *op = "conv_transpose2d geometry";
    if (same) {
        if (out_pad)
            return CLVAE_FAIL(err, CLVAE_ERR_INVALID,
                              "%s: output padding with 'same' padding is not supported", op);
        /* Keras Conv2DTranspose 'same' is TF's conv2d_transpose, the gradient of a
         * 'same' conv whose input is in*s: exactly that conv's geometry */
        size_t back = 0;
        *out = in * s;
        conv_dim(*out, k, s, d, 1, 0, &back, before);
        return CLVAE_OK; /* back == in: ceil(in*s / s) */
    }
    if (out_pad >= (s > d ? s : d))
        return CLVAE_FAIL(err, CLVAE_ERR_INVALID,
                          "%s: output padding %zu (%s) must be smaller than stride %zu or "
                          "dilation %zu",
                          op, out_pad, what, s, d);
    size_t full = (in - 1) * s + d * (k - 1) + out_pad + 1;
    if (full <= 2 * pad)
        return CLVAE_FAIL(err, CLVAE_ERR_INVALID,
                          "%s: padding %zu (%s) leaves an empty output of input size %zu", op,
                          pad, what, in);
    *out = full - 2 * pad;
    *before = pad;
    return CLVAE_OK;
}

clvae_status_t clvae_conv_transpose2d_geom(clvae_conv_geom_t *g, size_t N, size_t Cin, size_t H,
                                           size_t W, size_t Cout, const clvae_conv_params_t *p,
                                           clvae_error_t *err)
{
    const char *op = "conv_transpose2d geometry";
    if (!g) return CLVAE_FAIL(err, CLVAE_ERR_INVALID, "%s: output is NULL", op);
    clvae_status_t s = check_params(p, op, err);
    if (!s) s = check_sizes(N, Cin, H, W, Cout, op, err);
    if (s) return s;
    clvae_conv_geom_t r = {0};
    int same = p->pad == CLVAE_CONV_PAD_SAME;
    s = deconv_dim(H, p->kh, p->sh, p->dh, same, p->pad_h, p->out_pad_h, "height", &r.H,
                   &r.pad_t, err);
    if (!s)
        s = deconv_dim(W, p->kw, p->sw, p->dw, same, p->pad_w, p->out_pad_w, "width", &r.W,
                       &r.pad_l, err);
    if (s) return s;
    if (r.H > SIZE_LIMIT || r.W > SIZE_LIMIT)
        return CLVAE_FAIL(err, CLVAE_ERR_INVALID, "%s: output too large", op);
    /* the adjoint conv: from the output [N, Cout, r.H, r.W] to the input [N, Cin, H, W] */
    r.N = N, r.C = Cout, r.K = Cin, r.OH = H, r.OW = W;
    r.kh = p->kh, r.kw = p->kw, r.sh = p->sh, r.sw = p->sw, r.dh = p->dh, r.dw = p->dw;
    r.transposed = 1;
    *g = r;
    return CLVAE_OK;
}

void clvae_conv_geom_pack(const clvae_conv_geom_t *g, size_t dims[CLVAE_CONV_GEOM_PACKED])
{
    const size_t v[CLVAE_CONV_GEOM_PACKED] = {
        g->N,  g->C,  g->H,  g->W,  g->K,  g->OH,    g->OW,    g->kh,
        g->kw, g->sh, g->sw, g->dh, g->dw, g->pad_t, g->pad_l, (size_t)(g->transposed != 0)};
    memcpy(dims, v, sizeof v);
}

clvae_status_t clvae_conv_geom_unpack(clvae_conv_geom_t *g, const size_t *dims, int n,
                                      clvae_error_t *err)
{
    if (n != CLVAE_CONV_GEOM_PACKED || dims[15] > 1)
        return CLVAE_FAIL(err, CLVAE_ERR_INVALID, "not a packed conv geometry (%d numbers)", n);
    clvae_conv_geom_t r = {0};
    r.N = dims[0], r.C = dims[1], r.H = dims[2], r.W = dims[3], r.K = dims[4];
    r.OH = dims[5], r.OW = dims[6], r.kh = dims[7], r.kw = dims[8];
    r.sh = dims[9], r.sw = dims[10], r.dh = dims[11], r.dw = dims[12];
    r.pad_t = dims[13], r.pad_l = dims[14], r.transposed = (int)dims[15];
    *g = r;
    return CLVAE_OK;
}

/* Records a conv forward for `clvae tune` (a no-op unless the tuner is recording). */
static void note_conv(clvae_ctx_t *ctx, const clvae_conv_geom_t *g)
{
    _Static_assert(CLVAE_CONV_GEOM_PACKED <= CLVAE_TUNE_OP_DIMS, "the packing fits a record");
    size_t dims[CLVAE_CONV_GEOM_PACKED];
    clvae_conv_geom_pack(g, dims);
    clvae_tuning_note_op(ctx, CLVAE_CONV_TUNE_FAMILY, dims, CLVAE_CONV_GEOM_PACKED);
}

/* ---- argument checks ----------------------------------------------------- */

static clvae_status_t check_geom(const clvae_conv_geom_t *g, int transposed, const char *op,
                                 clvae_error_t *err)
{
    if (!g) return CLVAE_FAIL(err, CLVAE_ERR_INVALID, "%s: geometry is NULL", op);
    if (g->transposed != transposed)
        return CLVAE_FAIL(err, CLVAE_ERR_INVALID,
                          "%s: the geometry is of a %s convolution (use clvae_%s_geom)", op,
                          g->transposed ? "transposed" : "plain",
                          transposed ? "conv_transpose2d" : "conv2d");
    clvae_status_t s = check_sizes(g->N, g->C, g->H, g->W, g->K, op, err);
    if (s) return s;
    if (g->OH == 0 || g->OW == 0)
        return CLVAE_FAIL(err, CLVAE_ERR_INVALID, "%s: zero output size %zux%zu", op, g->OH,
                          g->OW);
    if (g->kh < 1 || g->kh > CLVAE_CONV_MAX_KERNEL || g->kw < 1 ||
        g->kw > CLVAE_CONV_MAX_KERNEL)
        return CLVAE_FAIL(err, CLVAE_ERR_INVALID, "%s: kernel %zux%zu outside 1..%d", op, g->kh,
                          g->kw, CLVAE_CONV_MAX_KERNEL);
    if (g->sh == 0 || g->sw == 0 || g->dh == 0 || g->dw == 0)
        return CLVAE_FAIL(err, CLVAE_ERR_INVALID, "%s: zero stride or dilation", op);
    /* every tensor's element count must fit in uint (then products of sizes fit in size_t) */
    double in = (double)g->N * (double)g->C * (double)g->H * (double)g->W;
    double out = (double)g->N * (double)g->K * (double)g->OH * (double)g->OW;
    double w = (double)g->K * (double)g->C * (double)g->kh * (double)g->kw;
    if (in >= UINT_LIMIT || out >= UINT_LIMIT || w >= UINT_LIMIT)
        return CLVAE_FAIL(err, CLVAE_ERR_INVALID, "%s: a tensor has 2^32 elements or more", op);
    /* the kernels compute positions in int: oh*sh + i*dh and h + pad_t must fit */
    double rows = (double)g->OH * (double)g->sh + (double)g->kh * (double)g->dh +
                  (double)g->pad_t + (double)g->H;
    double cols = (double)g->OW * (double)g->sw + (double)g->kw * (double)g->dw +
                  (double)g->pad_l + (double)g->W;
    if (rows >= INT_LIMIT || cols >= INT_LIMIT)
        return CLVAE_FAIL(err, CLVAE_ERR_INVALID, "%s: positions exceed 2^31", op);
    return CLVAE_OK;
}

/* ---- chunks and kernels --------------------------------------------------- */

/* Element counts of one conv. */
typedef struct sizes {
    size_t ckk, P;      /* C*kh*kw, OH*OW */
    size_t in, out, w;  /* floats per image of x, of y; of w */
} sizes_t;

static sizes_t sizes_of(const clvae_conv_geom_t *g)
{
    sizes_t z;
    z.ckk = g->C * g->kh * g->kw;
    z.P = g->OH * g->OW;
    z.in = g->C * g->H * g->W;
    z.out = g->K * z.P;
    z.w = g->K * z.ckk;
    return z;
}

/* Images per chunk: col (ckk*P per image) and rows (K*P) within CHUNK_BYTES and the
 * device's allocation limit, chunks of equal size; 0 with err set when one image
 * alone is too big. */
static size_t chunk_images(clvae_ctx_t *ctx, const clvae_conv_geom_t *g, const char *op,
                           clvae_error_t *err)
{
    sizes_t z = sizes_of(g);
    size_t max_alloc = (size_t)clvae_ctx_device(ctx)->max_alloc / sizeof(float);
    size_t budget = CHUNK_BYTES / sizeof(float);
    if (budget > max_alloc) budget = max_alloc;
    double col1 = (double)z.ckk * (double)z.P; /* col floats of one image */
    if (col1 >= UINT_LIMIT || col1 > (double)max_alloc) {
        CLVAE_FAIL(err, CLVAE_ERR_INVALID,
                   "%s: the im2col buffer of one image (%zu floats) exceeds the device's "
                   "maximum allocation",
                   op, (size_t)col1);
        return 0;
    }
    size_t per = z.ckk * z.P > z.out ? z.ckk * z.P : z.out;
    size_t nb = budget / per;
    if (nb < 1) nb = 1;
    if (g->max_chunk && nb > g->max_chunk) nb = g->max_chunk;
    if ((double)nb * (double)per >= UINT_LIMIT) nb = (size_t)(UINT_LIMIT / (double)per);
    if (nb >= g->N) return g->N;
    size_t chunks = (g->N + nb - 1) / nb;
    return (g->N + chunks - 1) / chunks;
}

/* Sets the geometry arguments nb, C, H, W, OH, OW, kh, kw, sh, sw, dh, dw, pad_t, pad_l
 * of im2col / col2im from argument index first on. */
static clvae_status_t set_geom_args(cl_kernel k, cl_uint first, const clvae_conv_geom_t *g,
                                    size_t nb, clvae_error_t *err)
{
    cl_uint v[14] = {(cl_uint)nb,    (cl_uint)g->C,     (cl_uint)g->H,    (cl_uint)g->W,
                     (cl_uint)g->OH, (cl_uint)g->OW,    (cl_uint)g->kh,   (cl_uint)g->kw,
                     (cl_uint)g->sh, (cl_uint)g->sw,    (cl_uint)g->dh,   (cl_uint)g->dw,
                     (cl_uint)g->pad_t, (cl_uint)g->pad_l};
    for (cl_uint i = 0; i < 14; i++)
        CLVAE_CL_RET(err, clSetKernelArg(k, first + i, sizeof v[i], &v[i]));
    return CLVAE_OK;
}

static clvae_status_t set_buf(cl_kernel k, cl_uint i, clvae_buf_t b, clvae_error_t *err)
{
    cl_uint off = (cl_uint)b.off;
    CLVAE_CL_RET(err, clSetKernelArg(k, i, sizeof b.mem, &b.mem));
    CLVAE_CL_RET(err, clSetKernelArg(k, i + 1, sizeof off, &off));
    return CLVAE_OK;
}

/* Kernel `name` (conv_im2col or conv_im2row: the same arguments) from nb images starting at x
 * into out, over `items` work items. */
static clvae_status_t unfold(clvae_ctx_t *ctx, const char *name, clvae_buf_t out, clvae_buf_t x,
                             const clvae_conv_geom_t *g, size_t nb, size_t items,
                             clvae_error_t *err)
{
    cl_kernel k;
    clvae_status_t s = clvae_kernel_get(ctx, "conv", name, &k, err);
    if (!s) s = set_buf(k, 0, out, err);
    if (!s) s = set_buf(k, 2, x, err);
    if (!s) s = set_geom_args(k, 4, g, nb, err);
    if (s) return s;
    return clvae_launch_1d(ctx, k, items, err);
}

/* Whether im2col and col2im run by (image, channel) plane (conv_im2col_planes,
 * conv_col2im_planes) rather than by row: input planes of at most the tuning key conv.plane_hw
 * pixels (default 256 on pocl's CPU device, where they ran 10-50% faster for the thesis VAE's
 * 14x14 and 7x7 planes and 25-50% slower for the U-Net's 28x28 ones; 0 elsewhere: a GPU wants
 * the row kernels' many more work items). */
static int by_planes(clvae_ctx_t *ctx, const clvae_conv_geom_t *g)
{
    int lim = clvae_tuning_int(ctx, "conv.plane_hw", clvae_device_is_pocl_cpu(ctx) ? 256 : 0);
    return lim > 0 && g->H * g->W <= (size_t)lim;
}

/* col [ckk, nb*P] = im2col of nb images starting at x (a work item per row of col and image, or
 * by_planes per channel and image). */
static clvae_status_t im2col(clvae_ctx_t *ctx, clvae_buf_t col, clvae_buf_t x,
                             const clvae_conv_geom_t *g, size_t nb, clvae_error_t *err)
{
    if (by_planes(ctx, g)) return unfold(ctx, "conv_im2col_planes", col, x, g, nb, g->C * nb, err);
    return unfold(ctx, "conv_im2col", col, x, g, nb, sizes_of(g).ckk * nb, err);
}

/* colT [nb*P, ckk] = im2col's matrix of nb images starting at x, transposed (a work item per
 * output pixel). */
static clvae_status_t im2row(clvae_ctx_t *ctx, clvae_buf_t colT, clvae_buf_t x,
                             const clvae_conv_geom_t *g, size_t nb, clvae_error_t *err)
{
    return unfold(ctx, "conv_im2row", colT, x, g, nb, sizes_of(g).P * nb, err);
}

/* Whether weight gradients run as the ABT rows col^T (tuning key conv.weight_abt, default 1 on
 * pocl's CPU device, where clvae's dot GEMM takes that call: `ABT 64x288x25088` 145 GFLOP/s
 * there, where CLBlast ran it at 30; 0 elsewhere), else as the AB rows colT (CLBlast ran it at
 * about twice its ABT). A key of its own, not gemm_dot.min_k: the tuner varies the GEMM keys
 * over the calls training makes, and those must not change with them. */
static int weight_abt(clvae_ctx_t *ctx)
{
    return clvae_tuning_int(ctx, "conv.weight_abt", clvae_device_is_pocl_cpu(ctx)) == 1;
}

/* dw [K, ckk] += dL/dw for the chunk of m images at x (offset n0 of the batch) whose output
 * gradient is in rows [K, m*P]: with weight_abt, im2col into the col workspace (none when
 * have_col: col holds x's im2col already) and rows col^T; else im2row and rows colT. On pocl's
 * CPU device the im2row pass cost as much as the GEMM itself (conv2's weight gradient 14.9 ms,
 * its GEMM 7.1; 11.3 ms all told as rows col^T). */
static clvae_status_t weight_grad(clvae_ctx_t *ctx, clvae_buf_t dw, clvae_buf_t rows,
                                  clvae_buf_t col, clvae_buf_t x, const clvae_conv_geom_t *g,
                                  size_t m, int have_col, clvae_error_t *err)
{
    sizes_t z = sizes_of(g);
    size_t cols = m * z.P;
    clvae_status_t s;
    if (weight_abt(ctx)) { /* rows col^T */
        s = have_col ? CLVAE_OK : im2col(ctx, col, x, g, m, err);
        if (!s)
            s = clvae_gemm(ctx, 0, 1, g->K, z.ckk, cols, 1.0f, rows, cols, col, cols, 1.0f, dw,
                           z.ckk, err);
        return s;
    }
    s = im2row(ctx, col, x, g, m, err);
    if (!s)
        s = clvae_gemm(ctx, 0, 0, g->K, z.ckk, cols, 1.0f, rows, cols, col, z.ckk, 1.0f, dw,
                       z.ckk, err);
    return s;
}

/* x (nb images) = (accumulate ? x : 0) + b + col2im(col), then e's activation (a work item per
 * input row, or by_planes per image and channel). */
static clvae_status_t col2im(clvae_ctx_t *ctx, clvae_buf_t x, clvae_buf_t col, clvae_buf_t b,
                             const clvae_conv_geom_t *g, size_t nb, int accumulate, epi_t e,
                             clvae_error_t *err)
{
    cl_kernel k;
    cl_uint acc = accumulate ? 1 : 0, has_bias = b.mem ? 1 : 0;
    int planes = by_planes(ctx, g);
    clvae_status_t s =
        clvae_kernel_get(ctx, "conv", planes ? "conv_col2im_planes" : "conv_col2im", &k, err);
    if (!s) s = set_buf(k, 0, x, err);
    if (!s) s = set_buf(k, 2, col, err);
    if (!s) s = set_buf(k, 4, b, err);
    if (!s) s = set_geom_args(k, 6, g, nb, err);
    if (s) return s;
    CLVAE_CL_RET(err, clSetKernelArg(k, 20, sizeof acc, &acc));
    CLVAE_CL_RET(err, clSetKernelArg(k, 21, sizeof has_bias, &has_bias));
    if ((s = set_epi(k, 22, e, err))) return s;
    return clvae_launch_1d(ctx, k, nb * g->C * (planes ? 1 : g->H), err);
}

/* rows [K, nb*P] = the NCHW [nb, K, P] tensor at in. */
static clvae_status_t to_rows(clvae_ctx_t *ctx, clvae_buf_t rows, clvae_buf_t in, size_t nb,
                              size_t K, size_t P, clvae_error_t *err)
{
    cl_kernel k;
    cl_uint unb = (cl_uint)nb, uK = (cl_uint)K, uP = (cl_uint)P;
    clvae_status_t s = clvae_kernel_get(ctx, "conv", "conv_nchw_to_rows", &k, err);
    if (!s) s = set_buf(k, 0, rows, err);
    if (!s) s = set_buf(k, 2, in, err);
    if (s) return s;
    CLVAE_CL_RET(err, clSetKernelArg(k, 4, sizeof unb, &unb));
    CLVAE_CL_RET(err, clSetKernelArg(k, 5, sizeof uK, &uK));
    CLVAE_CL_RET(err, clSetKernelArg(k, 6, sizeof uP, &uP));
    return clvae_launch_1d(ctx, k, K * nb, err);
}

/* The NCHW [nb, K, P] tensor at y = (accumulate ? y : 0) + rows + b, then e's activation. */
static clvae_status_t from_rows(clvae_ctx_t *ctx, clvae_buf_t y, clvae_buf_t rows, clvae_buf_t b,
                                size_t nb, size_t K, size_t P, int accumulate, epi_t e,
                                clvae_error_t *err)
{
    cl_kernel k;
    cl_uint unb = (cl_uint)nb, uK = (cl_uint)K, uP = (cl_uint)P;
    cl_uint acc = accumulate ? 1 : 0, has_bias = b.mem ? 1 : 0;
    clvae_status_t s = clvae_kernel_get(ctx, "conv", "conv_rows_to_nchw", &k, err);
    if (!s) s = set_buf(k, 0, y, err);
    if (!s) s = set_buf(k, 2, rows, err);
    if (!s) s = set_buf(k, 4, b, err);
    if (s) return s;
    CLVAE_CL_RET(err, clSetKernelArg(k, 6, sizeof unb, &unb));
    CLVAE_CL_RET(err, clSetKernelArg(k, 7, sizeof uK, &uK));
    CLVAE_CL_RET(err, clSetKernelArg(k, 8, sizeof uP, &uP));
    CLVAE_CL_RET(err, clSetKernelArg(k, 9, sizeof acc, &acc));
    CLVAE_CL_RET(err, clSetKernelArg(k, 10, sizeof has_bias, &has_bias));
    if ((s = set_epi(k, 11, e, err))) return s;
    return clvae_launch_1d(ctx, k, nb * K, err);
}

/* The two workspaces for chunks of nb images. */
static clvae_status_t workspaces(clvae_ctx_t *ctx, const clvae_conv_geom_t *g, size_t nb,
                                 clvae_buf_t *col, clvae_buf_t *rows, clvae_error_t *err)
{
    sizes_t z = sizes_of(g);
    clvae_status_t s = clvae_workspace(ctx, WS_COL, z.ckk * z.P * nb, col, err);
    if (!s) s = clvae_workspace(ctx, WS_ROWS, z.out * nb, rows, err);
    return s;
}

/* ---- the three primitives, over the batch in chunks ----------------------- */

/* y (conv output) = (accumulate ? y : 0) + conv(x, w) + b, then e's activation (ACT_IDENTITY
 * with accumulate); and/or dw += dL/dw of the conv
 * for input x and output gradient dy (sharing x's im2col). y.mem or dw.mem NULL skips. */
static clvae_status_t conv_fwd(clvae_ctx_t *ctx, clvae_buf_t y, clvae_buf_t dw, clvae_buf_t dy,
                               clvae_buf_t x, clvae_buf_t w, clvae_buf_t b,
                               const clvae_conv_geom_t *g, int accumulate, epi_t e,
                               clvae_buf_t keep, const char *op, clvae_error_t *err)
{
    if (!y.mem && !dw.mem) return CLVAE_OK;
    sizes_t z = sizes_of(g);
    size_t nb = chunk_images(ctx, g, op, err);
    if (!nb) return err ? err->status : CLVAE_ERR_INVALID;
    clvae_buf_t col, rows;
    clvae_status_t s = workspaces(ctx, g, nb, &col, &rows, err);
    for (size_t n0 = 0; !s && n0 < g->N; n0 += nb) {
        size_t m = g->N - n0 < nb ? g->N - n0 : nb;
        size_t cols = m * z.P;
        if (y.mem) {
            /* keep: the chunk's matrix goes into the caller's buffer, for the backward */
            if (keep.mem) col = clvae_buf_at(keep, n0 * z.ckk * z.P);
            s = im2col(ctx, col, clvae_buf_at(x, n0 * z.in), g, m, err);
            if (!s)
                s = clvae_gemm(ctx, 0, 0, g->K, cols, z.ckk, 1.0f, w, z.ckk, col, cols, 0.0f,
                               rows, cols, err);
            if (!s)
                s = from_rows(ctx, clvae_buf_at(y, n0 * z.out), rows, b, m, g->K, z.P,
                              accumulate, e, err);
        }
        if (!s && dw.mem) { /* col and rows are free again: one in-order queue */
            s = to_rows(ctx, rows, clvae_buf_at(dy, n0 * z.out), m, g->K, z.P, err);
            if (!s)
                s = weight_grad(ctx, dw, rows, col, clvae_buf_at(x, n0 * z.in), g, m,
                                y.mem != NULL, err);
        }
    }
    return s;
}

/* dx (conv input) = (accumulate ? dx : 0) + b + conv^T(dy, w), then e's activation; and/or
 * dw += dL/dw of the conv
 * for input x and output gradient dy. dx.mem or dw.mem NULL skips that part. */
static clvae_status_t conv_bwd(clvae_ctx_t *ctx, clvae_buf_t dx, clvae_buf_t dw, clvae_buf_t dy,
                               clvae_buf_t x, clvae_buf_t w, clvae_buf_t b,
                               const clvae_conv_geom_t *g, int accumulate, epi_t e,
                               clvae_buf_t keep, const char *op, clvae_error_t *err)
{
    if (!dx.mem && !dw.mem) return CLVAE_OK;
    sizes_t z = sizes_of(g);
    size_t nb = chunk_images(ctx, g, op, err);
    if (!nb) return err ? err->status : CLVAE_ERR_INVALID;
    clvae_buf_t col, rows;
    clvae_status_t s = workspaces(ctx, g, nb, &col, &rows, err);
    for (size_t n0 = 0; !s && n0 < g->N; n0 += nb) {
        size_t m = g->N - n0 < nb ? g->N - n0 : nb;
        size_t cols = m * z.P;
        s = to_rows(ctx, rows, clvae_buf_at(dy, n0 * z.out), m, g->K, z.P, err);
        if (!s && dw.mem && keep.mem) /* x's im2col kept by the forward: rows col^T, on any
                                          device (conv.weight_abt decides where it is not) */
            s = clvae_gemm(ctx, 0, 1, g->K, z.ckk, cols, 1.0f, rows, cols,
                           clvae_buf_at(keep, n0 * z.ckk * z.P), cols, 1.0f, dw, z.ckk, err);
        else if (!s && dw.mem)
            s = weight_grad(ctx, dw, rows, col, clvae_buf_at(x, n0 * z.in), g, m, 0, err);
        if (!s && dx.mem) {
            s = clvae_gemm(ctx, 1, 0, z.ckk, cols, g->K, 1.0f, w, z.ckk, rows, cols, 0.0f, col,
                           cols, err);
            if (!s)
                s = col2im(ctx, clvae_buf_at(dx, n0 * z.in), col, b, g, m, accumulate, e, err);
        }
    }
    return s;
}

/* db [C] += the per-channel sums of t [N, C, P] (a bias gradient): plane sums into
 * workspace slot 1 (free again once the GEMMs before it are queued: one in-order queue),
 * then their totals per channel in image order. Replaces clvae_reduce_forward, whose one
 * work group per channel took 4-8 ms here for [128, 64, 196] and [128, 32, 784]. */
static clvae_status_t bias_grad(clvae_ctx_t *ctx, clvae_buf_t db, clvae_buf_t t, size_t N,
                                size_t C, size_t P, clvae_error_t *err)
{
    clvae_buf_t part;
    cl_kernel k1, k2;
    cl_uint uN = (cl_uint)N, uC = (cl_uint)C, uP = (cl_uint)P;
    clvae_status_t s = clvae_workspace(ctx, WS_ROWS, N * C, &part, err);
    if (!s) s = clvae_kernel_get(ctx, "conv", "conv_plane_sums", &k1, err);
    if (!s) s = clvae_kernel_get(ctx, "conv", "conv_plane_total", &k2, err);
    if (!s) s = set_buf(k1, 0, part, err);
    if (!s) s = set_buf(k1, 2, t, err);
    if (s) return s;
    CLVAE_CL_RET(err, clSetKernelArg(k1, 4, sizeof uN, &uN));
    CLVAE_CL_RET(err, clSetKernelArg(k1, 5, sizeof uC, &uC));
    CLVAE_CL_RET(err, clSetKernelArg(k1, 6, sizeof uP, &uP));
    s = clvae_launch_1d(ctx, k1, N * C, err);
    if (!s) s = set_buf(k2, 0, db, err);
    if (!s) s = set_buf(k2, 2, part, err);
    if (s) return s;
    CLVAE_CL_RET(err, clSetKernelArg(k2, 4, sizeof uC, &uC));
    CLVAE_CL_RET(err, clSetKernelArg(k2, 5, sizeof uN, &uN));
    return clvae_launch_1d(ctx, k2, C, err);
}

/* ---- the direct path ------------------------------------------------------ */

/* How a conv's passes run, decided once per launch from CLVAE_CONV_PATH ("auto" or unset: the
 * tuning rules; "gemm": im2col + GEMM throughout; "direct": the direct kernels wherever
 * C*kh*kw <= DIRECT_MAX_CKK, their own weight gradient included; "implicit": ci_forward wherever
 * it can run) and the tuning keys conv_direct.max_ckk, conv_implicit.on and conv.weight_abt. */
typedef struct conv_path {
    int direct;       /* the direct kernels for the data passes */
    int implicit_fwd; /* (not direct) the conv's forward, a transposed conv's backward-dx */
    int implicit_bwd; /* (not direct) the conv's backward-data, a transposed conv's forward */
    int weight_gemm;  /* (direct) the weight gradient as the GEMM path's (im2col, rows col^T) */
} conv_path_t;

static int weight_abt(clvae_ctx_t *ctx);
static int implicit_fits(const clvae_conv_geom_t *g, int fwd);

static clvae_status_t conv_path(clvae_ctx_t *ctx, const clvae_conv_geom_t *g, conv_path_t *p,
                                const char *op, clvae_error_t *err)
{
    size_t ckk = g->C * g->kh * g->kw;
    const char *env = getenv("CLVAE_CONV_PATH");
    int path_auto = !env || !*env || strcmp(env, "auto") == 0;
    int path_direct = !path_auto && strcmp(env, "direct") == 0;
    int path_implicit = !path_auto && strcmp(env, "implicit") == 0;
    if (!path_auto && !path_direct && !path_implicit && strcmp(env, "gemm") != 0)
        return CLVAE_FAIL(err, CLVAE_ERR_INVALID,
                          "%s: CLVAE_CONV_PATH is '%s'; use auto, gemm, direct or implicit", op,
                          env);
    memset(p, 0, sizeof *p);
    if (path_auto) {
        int lim = clvae_tuning_int(ctx, "conv_direct.max_ckk", 27);
        if (lim > DIRECT_MAX_CKK) lim = DIRECT_MAX_CKK;
        p->direct = lim > 0 && ckk <= (size_t)lim;
    } else {
        p->direct = path_direct && ckk <= DIRECT_MAX_CKK;
    }
    int imp = path_implicit || (path_auto && clvae_tuning_int(ctx, "conv_implicit.on", 0) == 1);
    p->implicit_fwd = !p->direct && imp && implicit_fits(g, 1);
    p->implicit_bwd = !p->direct && imp && implicit_fits(g, 0);
    p->weight_gemm = p->direct && !path_direct && weight_abt(ctx);
    return CLVAE_OK;
}

/* A power of two in [1, cap] no larger than v (1 for v < 1). */
static size_t pow2_at_most(int v, size_t cap)
{
    size_t r = 1;
    while (r * 2 <= cap && (int)(r * 2) <= v) r *= 2;
    return r;
}

int clvae_conv_direct_vw_default(const clvae_ctx_t *ctx)
{
    return clvae_device_is_pocl_cpu(ctx) ? 16 : 4;
}

/* The direct kernels for g's (C, kh, kw), and the tile parameters they were built with:
 * cd_forward and cd_backward_data from one build (vector width vw), the weight kernels
 * from another (dw_vw, wg, kb), so that each kind may get its own vector width. */
typedef struct direct {
    cl_kernel fwd, bwd_data, partial, sum;
    size_t vw, dw_vw, wg, kb;
} direct_t;

/* The build options of cl/conv_direct.cl for g and the given tile parameters. */
static void direct_defs(char *buf, size_t size, const clvae_conv_geom_t *g, size_t vw,
                        size_t wg, size_t kb)
{
    snprintf(buf, size, "-DCD_C=%zu -DCD_KH=%zu -DCD_KW=%zu -DCD_VW=%zu -DCD_WG=%zu -DCD_KB=%zu",
             g->C, g->kh, g->kw, vw, wg, kb);
}

static clvae_status_t direct_get(clvae_ctx_t *ctx, const clvae_conv_geom_t *g, direct_t *d,
                                 clvae_error_t *err)
{
    const char *f = "conv_direct";
    char defs[CLVAE_KERNEL_DEFS_MAX];
    size_t ps = g->C * g->kh * g->kw + 1; /* partial sums per channel: taps and the bias */
    size_t local = (size_t)clvae_ctx_device(ctx)->local_mem / sizeof(float);
    int vw0 = clvae_conv_direct_vw_default(ctx);
    size_t vw = pow2_at_most(clvae_tuning_int(ctx, "conv_direct.vw", vw0), 16);
    size_t dw_vw = pow2_at_most(clvae_tuning_int(ctx, "conv_direct.dw_vw", vw0), 16);
    size_t wg = pow2_at_most(clvae_tuning_int(ctx, "conv_direct.wg", 32), clvae_ctx_wgs(ctx));
    size_t kb = pow2_at_most(clvae_tuning_int(ctx, "conv_direct.kb", 4), 16);
    if (vw < 4) vw = 4;
    if (dw_vw < 4) dw_vw = 4;
    for (int attempt = 0; attempt < 2; attempt++) {
        while (wg * kb * ps > local && kb > 1) kb /= 2;
        while (wg * kb * ps > local && wg > 1) wg /= 2;
        if (wg * kb * ps > local)
            return CLVAE_FAIL(err, CLVAE_ERR_INVALID,
                              "direct conv: %zu floats of local memory needed, the device has "
                              "%zu", ps, local);
        direct_defs(defs, sizeof defs, g, dw_vw, wg, kb);
        clvae_status_t s =
            clvae_kernel_get_defs(ctx, f, defs, "cd_weight_partial", &d->partial, err);
        if (!s) s = clvae_kernel_get_defs(ctx, f, defs, "cd_weight_sum", &d->sum, err);
        if (s) return s;
        size_t kwg = clvae_kernel_wg(ctx, d->partial);
        if (kwg >= wg) break;
        wg = kwg; /* the kernel allows less than asked for: build it for that */
        if (attempt == 1)
            return CLVAE_FAIL(err, CLVAE_ERR_INVALID, "direct conv: no usable work-group size");
    }
    /* the same build when vw == dw_vw (one program per geometry) */
    direct_defs(defs, sizeof defs, g, vw, wg, kb);
    clvae_status_t s = clvae_kernel_get_defs(ctx, f, defs, "cd_forward", &d->fwd, err);
    if (!s) s = clvae_kernel_get_defs(ctx, f, defs, "cd_backward_data", &d->bwd_data, err);
    d->vw = vw, d->dw_vw = dw_vw, d->wg = wg, d->kb = kb;
    return s;
}

/* Sets N, H, W, K, OH, OW, sh, sw, dh, dw, pad_t, pad_l from argument index first on. */
static clvae_status_t set_direct_geom(cl_kernel k, cl_uint first, const clvae_conv_geom_t *g,
                                      clvae_error_t *err)
{
    cl_uint v[12] = {(cl_uint)g->N,  (cl_uint)g->H,  (cl_uint)g->W,     (cl_uint)g->K,
                     (cl_uint)g->OH, (cl_uint)g->OW, (cl_uint)g->sh,    (cl_uint)g->sw,
                     (cl_uint)g->dh, (cl_uint)g->dw, (cl_uint)g->pad_t, (cl_uint)g->pad_l};
    for (cl_uint i = 0; i < 12; i++)
        CLVAE_CL_RET(err, clSetKernelArg(k, first + i, sizeof v[i], &v[i]));
    return CLVAE_OK;
}

/* out = (accumulate ? out : 0) + b + conv(in, w) (fwd = 1: in [N, C, H, W], out the
 * conv's output) or + conv^T(in, w) (fwd = 0: in [N, K, OH, OW], out [N, C, H, W]), then e's
 * activation. */
static clvae_status_t direct_apply(clvae_ctx_t *ctx, int fwd, clvae_buf_t out, clvae_buf_t in,
                                   clvae_buf_t w, clvae_buf_t b, const clvae_conv_geom_t *g,
                                   int accumulate, epi_t e, clvae_error_t *err)
{
    direct_t d;
    clvae_status_t s = direct_get(ctx, g, &d, err);
    if (s) return s;
    cl_kernel k = fwd ? d.fwd : d.bwd_data;
    cl_uint acc = accumulate ? 1 : 0, has_bias = b.mem ? 1 : 0;
    s = set_buf(k, 0, out, err);
    if (!s) s = set_buf(k, 2, in, err);
    if (!s) s = set_buf(k, 4, w, err);
    if (!s) s = set_buf(k, 6, b, err);
    if (!s) s = set_direct_geom(k, 8, g, err);
    if (s) return s;
    CLVAE_CL_RET(err, clSetKernelArg(k, 20, sizeof acc, &acc));
    CLVAE_CL_RET(err, clSetKernelArg(k, 21, sizeof has_bias, &has_bias));
    if ((s = set_epi(k, 22, e, err))) return s;
    size_t rows = fwd ? g->OH : g->H, cols = fwd ? g->OW : g->W;
    return clvae_launch_1d(ctx, k, g->N * rows * ((cols + d.vw - 1) / d.vw), err);
}

/* dw += dL/dw and/or db += dL/db (per output channel: the sum of dy) of the conv for input
 * x [N, C, H, W] and output gradient dy [N, K, OH, OW]; .mem NULL skips one. */
static clvae_status_t direct_weight(clvae_ctx_t *ctx, clvae_buf_t dw, clvae_buf_t db,
                                    clvae_buf_t x, clvae_buf_t dy, const clvae_conv_geom_t *g,
                                    clvae_error_t *err)
{
    if (!dw.mem && !db.mem) return CLVAE_OK;
    direct_t d;
    clvae_status_t s = direct_get(ctx, g, &d, err);
    if (s) return s;
    size_t ps = g->C * g->kh * g->kw + 1, P = g->OH * g->OW, np = g->K * ps;
    int pix = clvae_tuning_int(ctx, "conv_direct.dw_pixels", 4096);
    size_t nb = pix > 0 ? (size_t)pix / P : 0;
    if (nb < 1) nb = 1;
    size_t max_alloc = (size_t)clvae_ctx_device(ctx)->max_alloc / sizeof(float);
    size_t chunks = (g->N + nb - 1) / nb;
    while (nb < g->N && ((double)chunks * (double)np >= UINT_LIMIT ||
                         chunks * np > max_alloc || chunks * np > CHUNK_BYTES / sizeof(float))) {
        nb *= 2; /* fewer, larger chunks keep the partials within the limits */
        chunks = (g->N + nb - 1) / nb;
    }
    clvae_buf_t part;
    s = clvae_workspace(ctx, WS_PART, chunks * np, &part, err);
    if (s) return s;
    cl_uint unb = (cl_uint)nb, uK = (cl_uint)g->K, uch = (cl_uint)chunks;
    cl_uint has_dw = dw.mem ? 1 : 0, has_db = db.mem ? 1 : 0;
    s = set_buf(d.partial, 0, part, err);
    if (!s) s = set_buf(d.partial, 2, dy, err);
    if (!s) s = set_buf(d.partial, 4, x, err);
    if (!s) s = set_direct_geom(d.partial, 6, g, err);
    if (s) return s;
    CLVAE_CL_RET(err, clSetKernelArg(d.partial, 18, sizeof unb, &unb));
    size_t groups = chunks * ((g->K + d.kb - 1) / d.kb);
    if ((s = clvae_launch_wg(ctx, d.partial, groups, d.wg, err))) return s;
    s = set_buf(d.sum, 0, dw, err);
    if (!s) s = set_buf(d.sum, 2, db, err);
    if (!s) s = set_buf(d.sum, 4, part, err);
    if (s) return s;
    CLVAE_CL_RET(err, clSetKernelArg(d.sum, 6, sizeof uK, &uK));
    CLVAE_CL_RET(err, clSetKernelArg(d.sum, 7, sizeof uch, &uch));
    CLVAE_CL_RET(err, clSetKernelArg(d.sum, 8, sizeof has_dw, &has_dw));
    CLVAE_CL_RET(err, clSetKernelArg(d.sum, 9, sizeof has_db, &has_db));
    return clvae_launch_1d(ctx, d.sum, np, err);
}

/* ---- the implicit path ----------------------------------------------------- */

/* Whether ci_forward can run g's pass: fwd 1 the conv's forward (a transposed conv's
 * backward-dx), any stride; fwd 0 its backward-data (a transposed conv's forward), stride 1 with
 * pad_t <= (kh-1)*dh and pad_l <= (kw-1)*dw only (then it is a conv of dy with w transposed and
 * flipped). kh*kw at most IMPLICIT_MAX_KK (the taps live in registers), w's elements and the
 * work items within int and uint. Whether it does is conv_path's: the tuning key
 * conv_implicit.on, default 0 (on pocl's CPU device it ran the DDPM U-Net's training step as
 * fast as im2col + gemm_block, 105 against 96-109 images/s, and the thesis VAE's slower, 507
 * against 639: its stride-2 loads go element by element; it needs no col buffer), or
 * CLVAE_CONV_PATH=implicit. */
static int implicit_fits(const clvae_conv_geom_t *g, int fwd)
{
    if (g->kh * g->kw > IMPLICIT_MAX_KK) return 0;
    if (!fwd && (g->sh != 1 || g->sw != 1 || g->pad_t > (g->kh - 1) * g->dh ||
                 g->pad_l > (g->kw - 1) * g->dw))
        return 0;
    size_t rows = fwd ? g->OH : g->H, cols = fwd ? g->OW : g->W, k = fwd ? g->K : g->C;
    double items = (double)g->N * (double)rows * (double)(cols / 4 + 1) * (double)(k / 4 + 1);
    double w = (double)g->K * (double)g->C * (double)(g->kh * g->kw);
    return items < UINT_LIMIT && w < INT_LIMIT;
}

/* out = (accumulate ? out : 0) + b + conv(in, w) (fwd 1: in = x [N, C, H, W], out = y) or
 * conv^T(in, w) (fwd 0: in = dy [N, K, OH, OW], out = dx [N, C, H, W]; implicit_fits(g, 0)
 * true) by ci_forward, then e's activation. Keys: conv_implicit.vw (columns per work item: 4, 8 or 16; default 16)
 * and conv_implicit.kb (output channels per work item: 1-16, a power of two; default 16: on
 * pocl's CPU device 16 x 16 ran the U-Net's 96->32 28x28 forward at 89 GFLOP/s, 8 x 8 at 50). The
 * sums run over input channels, then taps, in order: the same bits every run. */
static clvae_status_t implicit_apply(clvae_ctx_t *ctx, int fwd, clvae_buf_t out, clvae_buf_t in,
                                     clvae_buf_t w, clvae_buf_t b, const clvae_conv_geom_t *g,
                                     int accumulate, epi_t e, clvae_error_t *err)
{
    size_t kk = g->kh * g->kw;
    clvae_conv_geom_t a = *g; /* the conv ci_forward runs */
    cl_uint v[4] = {(cl_uint)g->C, (cl_uint)(g->C * kk), (cl_uint)kk, 0}; /* C, wk, wc, flip */
    if (!fwd) {
        a.C = g->K, a.K = g->C, a.H = g->OH, a.W = g->OW, a.OH = g->H, a.OW = g->W;
        a.pad_t = (g->kh - 1) * g->dh - g->pad_t, a.pad_l = (g->kw - 1) * g->dw - g->pad_l;
        v[0] = (cl_uint)g->K, v[1] = (cl_uint)kk, v[2] = (cl_uint)(g->C * kk), v[3] = 1;
    }
    size_t vw = pow2_at_most(clvae_tuning_int(ctx, "conv_implicit.vw", 16), 16);
    size_t kb = pow2_at_most(clvae_tuning_int(ctx, "conv_implicit.kb", 16), 16);
    if (vw < 4) vw = 4;
    char defs[CLVAE_KERNEL_DEFS_MAX];
    snprintf(defs, sizeof defs,
             "-DCD_C=1 -DCD_KH=%zu -DCD_KW=%zu -DCD_VW=%zu -DCD_WG=32 -DCD_KB=%zu", g->kh, g->kw,
             vw, kb);
    cl_kernel k;
    clvae_status_t s = clvae_kernel_get_defs(ctx, "conv_direct", defs, "ci_forward", &k, err);
    cl_uint acc = accumulate ? 1 : 0, has_bias = b.mem ? 1 : 0;
    if (!s) s = set_buf(k, 0, out, err);
    if (!s) s = set_buf(k, 2, in, err);
    if (!s) s = set_buf(k, 4, w, err);
    if (!s) s = set_buf(k, 6, b, err);
    if (!s) s = set_direct_geom(k, 8, &a, err);
    if (s) return s;
    CLVAE_CL_RET(err, clSetKernelArg(k, 20, sizeof acc, &acc));
    CLVAE_CL_RET(err, clSetKernelArg(k, 21, sizeof has_bias, &has_bias));
    for (cl_uint i = 0; i < 4; i++) CLVAE_CL_RET(err, clSetKernelArg(k, 22 + i, sizeof v[i], &v[i]));
    if ((s = set_epi(k, 26, e, err))) return s;
    size_t tiles = a.N * a.OH * ((a.OW + vw - 1) / vw);
    return clvae_launch_1d(ctx, k, tiles * ((a.K + kb - 1) / kb), err);
}

/* A direct conv's weight gradient goes the GEMM path's way (conv_path's weight_gemm) with
 * weight_abt: on pocl's CPU device cd_weight_partial ran the thesis VAE's 1 -> 32 conv's weight
 * gradient (128 images) in 5.4-6.0 ms, about 10 GFLOP/s (its partial sums too many for the
 * registers), the GEMM path's in 2.0-2.2. */

/* ---- launchers ------------------------------------------------------------ */

size_t clvae_conv2d_keep_floats(const clvae_conv_geom_t *g)
{
    size_t ckk = g->C * g->kh * g->kw, per = ckk * g->OH * g->OW;
    return ckk > DIRECT_MAX_CKK && per <= CLVAE_CONV_KEEP_MAX ? per : 0;
}

/* The activation of o (NO_ACT without o), checked. */
static clvae_status_t epi_of(const clvae_conv_fwd_opts_t *o, const char *op, epi_t *e,
                             clvae_error_t *err)
{
    *e = NO_ACT;
    if (!o) return CLVAE_OK;
    clvae_status_t s = clvae_act_check(o->act, o->slope, op, err);
    e->act = (cl_uint)o->act;
    e->slope = o->slope;
    return s;
}

clvae_status_t clvae_conv2d_forward_opts(clvae_ctx_t *ctx, clvae_buf_t y, clvae_buf_t x,
                                         clvae_buf_t w, clvae_buf_t b, const clvae_conv_geom_t *g,
                                         const clvae_conv_fwd_opts_t *o, clvae_error_t *err)
{
    const char *op = "conv2d_forward";
    clvae_buf_t none = {0}, keep = o ? o->keep : none;
    if (o && o->kept) *o->kept = 0;
    epi_t e;
    clvae_status_t s = check_geom(g, 0, op, err);
    if (!s) s = epi_of(o, op, &e, err);
    if (s) return s;
    sizes_t z = sizes_of(g);
    if (!s) s = clvae_buf_check(y, g->N * z.out, op, "y", err);
    if (!s) s = clvae_buf_check(x, g->N * z.in, op, "x", err);
    if (!s) s = clvae_buf_check(w, z.w, op, "w", err);
    if (!s) s = clvae_buf_check_opt(b, g->K, op, "b", err);
    size_t per = clvae_conv2d_keep_floats(g);
    if (!s && keep.mem && !per)
        s = CLVAE_FAIL(err, CLVAE_ERR_INVALID, "%s: a conv of this shape keeps no im2col", op);
    if (!s) s = clvae_buf_check_opt(keep, g->N * per, op, "keep", err);
    if (s) return s;
    if (g->C * g->kh * g->kw <= DIRECT_MAX_CKK) note_conv(ctx, g); /* `clvae tune` */
    conv_path_t p;
    if ((s = conv_path(ctx, g, &p, op, err))) return s;
    if (p.direct) return direct_apply(ctx, 1, y, x, w, b, g, 0, e, err);
    if (p.implicit_fwd) return implicit_apply(ctx, 1, y, x, w, b, g, 0, e, err);
    s = conv_fwd(ctx, y, none, none, x, w, b, g, 0, e, keep, op, err);
    if (!s && o && o->kept && keep.mem) *o->kept = 1;
    return s;
}

clvae_status_t clvae_conv2d_forward(clvae_ctx_t *ctx, clvae_buf_t y, clvae_buf_t x, clvae_buf_t w,
                                    clvae_buf_t b, const clvae_conv_geom_t *g, clvae_error_t *err)
{
    return clvae_conv2d_forward_opts(ctx, y, x, w, b, g, NULL, err);
}

clvae_status_t clvae_conv2d_backward(clvae_ctx_t *ctx, clvae_buf_t dx, clvae_buf_t dw,
                                     clvae_buf_t db, clvae_buf_t dy, clvae_buf_t x, clvae_buf_t w,
                                     const clvae_conv_geom_t *g, clvae_error_t *err)
{
    return clvae_conv2d_backward_opts(ctx, dx, dw, db, dy, x, w, g, NULL, err);
}

clvae_status_t clvae_conv2d_backward_opts(clvae_ctx_t *ctx, clvae_buf_t dx, clvae_buf_t dw,
                                          clvae_buf_t db, clvae_buf_t dy, clvae_buf_t x,
                                          clvae_buf_t w, const clvae_conv_geom_t *g,
                                          const clvae_conv_bwd_opts_t *o, clvae_error_t *err)
{
    const char *op = "conv2d_backward";
    clvae_buf_t keep = o ? o->keep : (clvae_buf_t){0};
    int acc = !(o && o->dx_set); /* dx += ..., or dx = ... */
    clvae_status_t s = check_geom(g, 0, op, err);
    if (s) return s;
    sizes_t z = sizes_of(g);
    if (!s) s = clvae_buf_check_opt(dx, g->N * z.in, op, "dx", err);
    if (!s) s = clvae_buf_check_opt(dw, z.w, op, "dw", err);
    if (!s) s = clvae_buf_check_opt(db, g->K, op, "db", err);
    if (!s) s = clvae_buf_check(dy, g->N * z.out, op, "dy", err);
    if (!s && dw.mem) s = clvae_buf_check(x, g->N * z.in, op, "x (needed for dw)", err);
    if (!s && dx.mem) s = clvae_buf_check(w, z.w, op, "w (needed for dx)", err);
    if (!s && keep.mem)
        s = clvae_buf_check(keep, g->N * clvae_conv2d_keep_floats(g), op, "keep", err);
    if (s) return s;
    clvae_buf_t none = {0};
    conv_path_t p;
    if ((s = conv_path(ctx, g, &p, op, err))) return s;
    if (!p.direct) {
        int imp = dx.mem && p.implicit_bwd;
        s = conv_bwd(ctx, imp ? none : dx, dw, dy, x, w, none, g, acc, NO_ACT, keep, op, err);
        if (!s && imp) s = implicit_apply(ctx, 0, dx, dy, w, none, g, acc, NO_ACT, err);
    } else {
        /* the bias gradient comes with the direct weight gradient's partial sums */
        if (dw.mem && p.weight_gemm) {
            s = conv_bwd(ctx, none, dw, dy, x, w, none, g, 1, NO_ACT, none, op, err);
        } else if (dw.mem) {
            s = direct_weight(ctx, dw, db, x, dy, g, err);
            db.mem = NULL;
        }
        if (!s && dx.mem) s = direct_apply(ctx, 0, dx, dy, w, none, g, acc, NO_ACT, err);
    }
    if (!s && db.mem) s = bias_grad(ctx, db, dy, g->N, g->K, z.P, err);
    return s;
}

clvae_status_t clvae_conv_transpose2d_forward_opts(clvae_ctx_t *ctx, clvae_buf_t y,
                                                   clvae_buf_t x, clvae_buf_t w, clvae_buf_t b,
                                                   const clvae_conv_geom_t *g,
                                                   const clvae_conv_fwd_opts_t *o,
                                                   clvae_error_t *err)
{
    const char *op = "conv_transpose2d_forward";
    epi_t e;
    clvae_status_t s = check_geom(g, 1, op, err);
    if (!s) s = epi_of(o, op, &e, err);
    if (!s && o && o->keep.mem)
        s = CLVAE_FAIL(err, CLVAE_ERR_INVALID, "%s: a transposed conv keeps no im2col", op);
    if (s) return s;
    if (o && o->kept) *o->kept = 0;
    sizes_t z = sizes_of(g);
    if (!s) s = clvae_buf_check(y, g->N * z.in, op, "y", err);
    if (!s) s = clvae_buf_check(x, g->N * z.out, op, "x", err);
    if (!s) s = clvae_buf_check(w, z.w, op, "w", err);
    if (!s) s = clvae_buf_check_opt(b, g->C, op, "b", err);
    if (s) return s;
    if (g->C * g->kh * g->kw <= DIRECT_MAX_CKK) note_conv(ctx, g); /* `clvae tune` */
    /* the adjoint conv's backward-data: dy := x, dx := y (overwritten, + bias) */
    conv_path_t p;
    if ((s = conv_path(ctx, g, &p, op, err))) return s;
    if (p.direct) return direct_apply(ctx, 0, y, x, w, b, g, 0, e, err);
    if (p.implicit_bwd) return implicit_apply(ctx, 0, y, x, w, b, g, 0, e, err);
    clvae_buf_t none = {0};
    return conv_bwd(ctx, y, none, x, none, w, b, g, 0, e, none, op, err);
}

clvae_status_t clvae_conv_transpose2d_forward(clvae_ctx_t *ctx, clvae_buf_t y, clvae_buf_t x,
                                              clvae_buf_t w, clvae_buf_t b,
                                              const clvae_conv_geom_t *g, clvae_error_t *err)
{
    return clvae_conv_transpose2d_forward_opts(ctx, y, x, w, b, g, NULL, err);
}

clvae_status_t clvae_conv_transpose2d_backward(clvae_ctx_t *ctx, clvae_buf_t dx, clvae_buf_t dw,
                                               clvae_buf_t db, clvae_buf_t dy, clvae_buf_t x,
                                               clvae_buf_t w, const clvae_conv_geom_t *g,
                                               clvae_error_t *err)
{
    return clvae_conv_transpose2d_backward_opts(ctx, dx, dw, db, dy, x, w, g, NULL, err);
}

clvae_status_t clvae_conv_transpose2d_backward_opts(clvae_ctx_t *ctx, clvae_buf_t dx,
                                                    clvae_buf_t dw, clvae_buf_t db,
                                                    clvae_buf_t dy, clvae_buf_t x, clvae_buf_t w,
                                                    const clvae_conv_geom_t *g,
                                                    const clvae_conv_bwd_opts_t *o,
                                                    clvae_error_t *err)
{
    const char *op = "conv_transpose2d_backward";
    int acc = !(o && o->dx_set); /* dx += ..., or dx = ... */
    clvae_status_t s = check_geom(g, 1, op, err);
    if (!s && o && o->keep.mem)
        s = CLVAE_FAIL(err, CLVAE_ERR_INVALID, "%s: a transposed conv keeps no im2col", op);
    if (s) return s;
    sizes_t z = sizes_of(g);
    if (!s) s = clvae_buf_check_opt(dx, g->N * z.out, op, "dx", err);
    if (!s) s = clvae_buf_check_opt(dw, z.w, op, "dw", err);
    if (!s) s = clvae_buf_check_opt(db, g->C, op, "db", err);
    if (!s) s = clvae_buf_check(dy, g->N * z.in, op, "dy", err);
    if (!s && dw.mem) s = clvae_buf_check(x, g->N * z.out, op, "x (needed for dw)", err);
    if (!s && dx.mem) s = clvae_buf_check(w, z.w, op, "w (needed for dx)", err);
    if (s) return s;
    /* dx += the adjoint conv's forward of dy (no bias), and dw += the adjoint conv's
     * weight gradient with x := dy and dy := x, from one im2col of dy per chunk */
    clvae_buf_t none = {0};
    conv_path_t p;
    if ((s = conv_path(ctx, g, &p, op, err))) return s;
    if (!p.direct) {
        int imp = dx.mem && p.implicit_fwd;
        s = conv_fwd(ctx, imp ? none : dx, dw, x, dy, w, none, g, acc, NO_ACT, none, op, err);
        if (!s && imp) s = implicit_apply(ctx, 1, dx, dy, w, none, g, acc, NO_ACT, err);
    } else {
        if (dw.mem && p.weight_gemm)
            s = conv_fwd(ctx, none, dw, x, dy, w, none, g, 1, NO_ACT, none, op, err);
        else
            s = direct_weight(ctx, dw, none, dy, x, g, err);
        if (!s && dx.mem) s = direct_apply(ctx, 1, dx, dy, w, none, g, acc, NO_ACT, err);
    }
    if (!s && db.mem) s = bias_grad(ctx, db, dy, g->N, g->C, g->H * g->W, err);
    return s;
}

/* ---- causal masks ---------------------------------------------------------- */

clvae_status_t clvae_conv2d_mask(clvae_ctx_t *ctx, clvae_buf_t out, clvae_buf_t w,
                                 clvae_conv_mask_t mask, size_t K, size_t C, size_t kh,
                                 size_t kw, clvae_error_t *err)
{
    const char *op = "conv2d_mask";
    if (mask != CLVAE_CONV_MASK_A && mask != CLVAE_CONV_MASK_B)
        return CLVAE_FAIL(err, CLVAE_ERR_INVALID, "%s: mask %d is not A (1) or B (2)", op,
                          (int)mask);
    /* the centre of an even side falls between two taps: no raster order to cut at */
    if (kh % 2 == 0 || kw % 2 == 0 || kh > CLVAE_CONV_MAX_KERNEL || kw > CLVAE_CONV_MAX_KERNEL)
        return CLVAE_FAIL(err, CLVAE_ERR_INVALID, "%s: kernel %zux%zu is not odd, 1..%d", op, kh,
                          kw, CLVAE_CONV_MAX_KERNEL);
    if (K == 0 || C == 0)
        return CLVAE_FAIL(err, CLVAE_ERR_INVALID, "%s: zero size (K=%zu C=%zu)", op, K, C);
    if ((double)K * (double)C * (double)(kh * kw) >= UINT_LIMIT)
        return CLVAE_FAIL(err, CLVAE_ERR_INVALID, "%s: the weight has 2^32 elements or more", op);
    size_t n = K * C * kh * kw;
    clvae_status_t s;
    if ((s = clvae_buf_check(out, n, op, "out", err)) || (s = clvae_buf_check(w, n, op, "w", err)))
        return s;
    int same = out.mem == w.mem && out.off == w.off;
    if (out.mem == w.mem && !same && out.off < w.off + n && w.off < out.off + n)
        return CLVAE_FAIL(err, CLVAE_ERR_INVALID, "%s: out and w overlap in one buffer", op);
    cl_kernel k;
    cl_uint v[4] = {(cl_uint)n, (cl_uint)kh, (cl_uint)kw, mask == CLVAE_CONV_MASK_B ? 1u : 0u};
    if ((s = clvae_kernel_get(ctx, "conv", "conv_mask", &k, err)) ||
        (s = set_buf(k, 0, out, err)) || (s = set_buf(k, 2, w, err)))
        return s;
    for (cl_uint i = 0; i < 4; i++)
        CLVAE_CL_RET(err, clSetKernelArg(k, 4 + i, sizeof v[i], &v[i]));
    return clvae_launch_1d(ctx, k, n, err);
}
