/* 2-D convolutions and transposed convolutions (NCHW fp32): geometry, launchers, references. */
#ifndef CLVAE_CONV_H
#define CLVAE_CONV_H

#include "clvae/device/tensor.h"
#include "clvae/ops/activation.h"

/* Shape key: N images, C channels of the convolution's input, H x W its size,
 * K channels of its output, OH x OW its size, kh x kw the kernel.
 * Conv: x [N, C, H, W], w [K, C, kh, kw] (PyTorch Conv2d), b [K], y [N, K, OH, OW].
 * A transposed conv is described by the geometry of the ordinary conv it is the
 * adjoint of, the conv that maps the transposed conv's OUTPUT back to its INPUT:
 * its x [N, K, OH, OW] (K = in channels), w [K, C, kh, kw] (PyTorch
 * ConvTranspose2d [in, out, kh, kw]), b [C] (C = out channels), y [N, C, H, W].
 * The launchers use workspace slots 0 and 1. */

/* The largest kernel side the constructors accept. */
#define CLVAE_CONV_MAX_KERNEL 7

/* How the padding of a convolution is given. */
typedef enum clvae_conv_pad_mode {
    CLVAE_CONV_PAD_EXPLICIT = 0, /* PyTorch: pad_h rows above and below, pad_w columns each side */
    CLVAE_CONV_PAD_SAME = 1      /* TensorFlow/Keras 'same': OH = ceil(H/s); transposed OH = H*s */
} clvae_conv_pad_mode_t;

/* Hyperparameters of a (transposed) convolution layer, as a layer config states them. */
typedef struct clvae_conv_params {
    size_t kh, kw;               /* kernel size, 1..CLVAE_CONV_MAX_KERNEL */
    size_t sh, sw;               /* stride, >= 1 */
    size_t dh, dw;               /* dilation, >= 1 */
    clvae_conv_pad_mode_t pad;   /* explicit or same */
    size_t pad_h, pad_w;         /* explicit padding (PyTorch `padding`) */
    size_t out_pad_h, out_pad_w; /* transposed, explicit padding only: PyTorch `output_padding` */
} clvae_conv_params_t;

/* The geometry of one ordinary convolution (for a transposed conv: its adjoint, see above). */
typedef struct clvae_conv_geom {
    size_t N, C, H, W;             /* input of the convolution */
    size_t K, OH, OW;              /* output channels and spatial size */
    size_t kh, kw, sh, sw, dh, dw; /* kernel size, stride, dilation */
    size_t pad_t, pad_l;           /* top/left padding; bottom/right are implied by OH, OW */
    int transposed;                /* 1: made by clvae_conv_transpose2d_geom */
    size_t max_chunk;              /* images per im2col chunk at most; 0: automatic */
} clvae_conv_geom_t;

/* Geometry of a Conv2d of x [N, C, H, W] into K channels; explicit padding follows
 * PyTorch (OH = floor((H + 2p - d(k-1) - 1) / s) + 1), same padding TensorFlow
 * (OH = ceil(H / s), the odd pixel of padding at the bottom/right).
 * CLVAE_ERR_INVALID for zero sizes, stride or dilation 0, a kernel side outside
 * 1..7, output padding, or an output smaller than 1. */
clvae_status_t clvae_conv2d_geom(clvae_conv_geom_t *g, size_t N, size_t C, size_t H, size_t W,
                                 size_t K, const clvae_conv_params_t *p, clvae_error_t *err);

/* Geometry of a ConvTranspose2d of x [N, Cin, H, W] into Cout channels: explicit
 * padding follows PyTorch (OH = (H-1)s - 2p + d(k-1) + output_padding + 1, with
 * output_padding < max(s, d)), same padding Keras Conv2DTranspose (OH = H * s, no
 * output padding). The result describes the adjoint conv: C = Cout, H x W = the
 * output size, K = Cin, OH x OW = H x W of x. Rejects what clvae_conv2d_geom does. */
clvae_status_t clvae_conv_transpose2d_geom(clvae_conv_geom_t *g, size_t N, size_t Cin, size_t H,
                                           size_t W, size_t Cout, const clvae_conv_params_t *p,
                                           clvae_error_t *err);

/* The family name under which the launchers record convs for `clvae tune`. */
#define CLVAE_CONV_TUNE_FAMILY "conv"

/* The direct conv kernels' default vector width (tuning keys conv_direct.vw and .dw_vw) on the
 * context's device: 16 on pocl's CPU device, 4 elsewhere. */
int clvae_conv_direct_vw_default(const clvae_ctx_t *ctx);

/* How many numbers clvae_conv_geom_pack writes. */
#define CLVAE_CONV_GEOM_PACKED 16

/* Packs what identifies a conv's geometry (every field but max_chunk) into numbers: the shape
 * the launchers record for the tuner, which keeps it without knowing what it means. */
void clvae_conv_geom_pack(const clvae_conv_geom_t *g, size_t dims[CLVAE_CONV_GEOM_PACKED]);

/* The geometry clvae_conv_geom_pack packed into n numbers (max_chunk 0: automatic);
 * CLVAE_ERR_INVALID when n is not CLVAE_CONV_GEOM_PACKED or the numbers are no such packing. */
clvae_status_t clvae_conv_geom_unpack(clvae_conv_geom_t *g, const size_t *dims, int n,
                                      clvae_error_t *err);

/* y = conv(x, w) + b: y [N, K, OH, OW] is overwritten; b.mem NULL means no bias. */
clvae_status_t clvae_conv2d_forward(clvae_ctx_t *ctx, clvae_buf_t y, clvae_buf_t x, clvae_buf_t w,
                                    clvae_buf_t b, const clvae_conv_geom_t *g,
                                    clvae_error_t *err);

/* dx += dL/dx, dw += dL/dw, db += dL/db of y = conv(x, w) + b given dy; a gradient
 * whose .mem is NULL is skipped (x is needed for dw, w for dx). */
clvae_status_t clvae_conv2d_backward(clvae_ctx_t *ctx, clvae_buf_t dx, clvae_buf_t dw,
                                     clvae_buf_t db, clvae_buf_t dy, clvae_buf_t x, clvae_buf_t w,
                                     const clvae_conv_geom_t *g, clvae_error_t *err);

/* Keeping x's im2col matrix from a conv's forward for its backward's weight gradient (which
 * otherwise builds it again): the floats per image of that matrix (C*kh*kw * OH*OW) when the
 * conv's shape takes the im2col path (C*kh*kw above the direct kernels' 64) and the matrix is at
 * most CLVAE_CONV_KEEP_MAX floats per image, else 0 (nothing to keep). g->N is not used. */
#define CLVAE_CONV_KEEP_MAX ((size_t)131072) /* 512 KiB per image */
size_t clvae_conv2d_keep_floats(const clvae_conv_geom_t *g);

/* What a forward does besides y = conv(x, w) + b (all zero: nothing more). */
typedef struct clvae_conv_fwd_opts {
    clvae_act_t act; /* y = act(conv(x, w) + b), applied by the pass that writes y (no pass of
                      * its own on the im2col and direct paths); act and slope as
                      * clvae_act_forward's */
    float slope;
    clvae_buf_t keep; /* (conv only) where the conv runs on the im2col path, x's im2col matrix
                       * written here (g->N times clvae_conv2d_keep_floats(g) floats) instead of
                       * a workspace, for clvae_conv2d_backward_opts: *kept 1 then, else 0 (keep
                       * untouched; the direct or implicit kernels ran) */
    int *kept;
} clvae_conv_fwd_opts_t;

/* clvae_conv2d_forward with o's activation and kept im2col (o NULL: none). */
clvae_status_t clvae_conv2d_forward_opts(clvae_ctx_t *ctx, clvae_buf_t y, clvae_buf_t x,
                                         clvae_buf_t w, clvae_buf_t b, const clvae_conv_geom_t *g,
                                         const clvae_conv_fwd_opts_t *o, clvae_error_t *err);

/* What a backward does besides adding the gradients (all zero: clvae_conv2d_backward). */
typedef struct clvae_conv_bwd_opts {
    clvae_buf_t keep; /* (conv only) x's im2col matrix, which a clvae_conv2d_forward_opts of
                       * this x and g kept (*kept 1), where the backward runs on the im2col path
                       * (else not read): dw += rows col^T (an A B^T GEMM) on any device,
                       * whatever the tuning key conv.weight_abt, which picks between that and
                       * rows colT only where no matrix is at hand */
    int dx_set;       /* dx = dL/dx, written, not added (dx is not read): no zero fill first */
} clvae_conv_bwd_opts_t;

/* clvae_conv2d_backward with o's kept im2col and dx mode (o NULL: none). */
clvae_status_t clvae_conv2d_backward_opts(clvae_ctx_t *ctx, clvae_buf_t dx, clvae_buf_t dw,
                                          clvae_buf_t db, clvae_buf_t dy, clvae_buf_t x,
                                          clvae_buf_t w, const clvae_conv_geom_t *g,
                                          const clvae_conv_bwd_opts_t *o, clvae_error_t *err);

/* y = conv_transpose(x, w) + b: x [N, K, OH, OW], y [N, C, H, W] overwritten, b [C] or NULL. */
clvae_status_t clvae_conv_transpose2d_forward(clvae_ctx_t *ctx, clvae_buf_t y, clvae_buf_t x,
                                              clvae_buf_t w, clvae_buf_t b,
                                              const clvae_conv_geom_t *g, clvae_error_t *err);

/* clvae_conv_transpose2d_forward with o's activation (o NULL: none; o->keep must be empty). */
clvae_status_t clvae_conv_transpose2d_forward_opts(clvae_ctx_t *ctx, clvae_buf_t y,
                                                   clvae_buf_t x, clvae_buf_t w, clvae_buf_t b,
                                                   const clvae_conv_geom_t *g,
                                                   const clvae_conv_fwd_opts_t *o,
                                                   clvae_error_t *err);

/* dx += ..., dw += ..., db += ... for the transposed conv given dy [N, C, H, W];
 * .mem NULL skips a gradient (x is needed for dw, w for dx). */
clvae_status_t clvae_conv_transpose2d_backward(clvae_ctx_t *ctx, clvae_buf_t dx, clvae_buf_t dw,
                                               clvae_buf_t db, clvae_buf_t dy, clvae_buf_t x,
                                               clvae_buf_t w, const clvae_conv_geom_t *g,
                                               clvae_error_t *err);

/* clvae_conv_transpose2d_backward with o's dx mode (o NULL: add; o->keep must be empty). */
clvae_status_t clvae_conv_transpose2d_backward_opts(clvae_ctx_t *ctx, clvae_buf_t dx,
                                                    clvae_buf_t dw, clvae_buf_t db,
                                                    clvae_buf_t dy, clvae_buf_t x, clvae_buf_t w,
                                                    const clvae_conv_geom_t *g,
                                                    const clvae_conv_bwd_opts_t *o,
                                                    clvae_error_t *err);

/* The causal masks of a PixelCNN conv (van den Oord et al. 2016), the same for every
 * (output, input) channel pair. With the kernel's centre (cy, cx) = (kh/2, kw/2), tap (ky, kx)
 * is kept when it comes before the centre in raster order (ky < cy, or ky == cy and kx < cx);
 * mask B keeps the centre too. With stride 1, dilation 1 and 'same' padding, output position
 * p then reads the input only at positions before p (A) or at and before p (B). */
typedef enum clvae_conv_mask {
    CLVAE_CONV_MASK_NONE = 0, /* every tap */
    CLVAE_CONV_MASK_A = 1,    /* taps before the centre: a first layer, which must not see p */
    CLVAE_CONV_MASK_B = 2     /* those and the centre: the layers after it */
} clvae_conv_mask_t;

/* out = w * mask for w [K, C, kh, kw]: the taps mask drops are 0, the others copied. out may
 * be the very same view as w (in place: a masked conv's weight gradient); any other overlap is
 * refused, as are a mask other than A or B and an even or out-of-range kernel side. */
clvae_status_t clvae_conv2d_mask(clvae_ctx_t *ctx, clvae_buf_t out, clvae_buf_t w,
                                 clvae_conv_mask_t mask, size_t K, size_t C, size_t kh,
                                 size_t kw, clvae_error_t *err);

#endif
