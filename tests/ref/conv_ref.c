/* Plain-C references of the convolutions in double, written from the definitions. */
#include "ref.h"

#include <stddef.h>

/* Letters: n image, c input channel, k output channel, (h, v) input row/column,
 * (oh, ow) output row/column, (i, j) kernel row/column. Indices are signed so
 * that positions in the padding are simply out of range. */

typedef ptrdiff_t idx_t;

void clvae_conv2d_forward_ref(double *y, const double *x, const double *w, const double *b,
                              const clvae_conv_geom_t *g)
{
    /* y[n,k,oh,ow] = b[k] + sum_{c,i,j} w[k,c,i,j] * x[n, c, oh*sh - pad_t + i*dh,
     * ow*sw - pad_l + j*dw], terms outside the input being zero */
    idx_t N = (idx_t)g->N, C = (idx_t)g->C, H = (idx_t)g->H, W = (idx_t)g->W;
    idx_t K = (idx_t)g->K, OH = (idx_t)g->OH, OW = (idx_t)g->OW;
    idx_t kh = (idx_t)g->kh, kw = (idx_t)g->kw;
    for (idx_t n = 0; n < N; n++) {
        for (idx_t k = 0; k < K; k++) {
            double *yk = y + (n * K + k) * OH * OW; /* [OH, OW] */
            for (idx_t q = 0; q < OH * OW; q++) yk[q] = b ? b[k] : 0.0;
            for (idx_t c = 0; c < C; c++) {
                const double *xc = x + (n * C + c) * H * W; /* [H, W] */
                for (idx_t i = 0; i < kh; i++) {
                    for (idx_t j = 0; j < kw; j++) {
                        double wv = w[((k * C + c) * kh + i) * kw + j];
                        for (idx_t oh = 0; oh < OH; oh++) {
                            idx_t h = oh * (idx_t)g->sh - (idx_t)g->pad_t + i * (idx_t)g->dh;
                            if (h < 0 || h >= H) continue;
                            for (idx_t ow = 0; ow < OW; ow++) {
                                idx_t v = ow * (idx_t)g->sw - (idx_t)g->pad_l + j * (idx_t)g->dw;
                                if (v < 0 || v >= W) continue;
                                yk[oh * OW + ow] += wv * xc[h * W + v];
                            }
                        }
                    }
                }
            }
        }
    }
}

void clvae_conv2d_backward_ref(double *dx, double *dw, double *db, const double *dy,
                               const double *x, const double *w, const clvae_conv_geom_t *g)
{
    /* the same sum as the forward, each term's partial derivatives accumulated */
    idx_t N = (idx_t)g->N, C = (idx_t)g->C, H = (idx_t)g->H, W = (idx_t)g->W;
    idx_t K = (idx_t)g->K, OH = (idx_t)g->OH, OW = (idx_t)g->OW;
    idx_t kh = (idx_t)g->kh, kw = (idx_t)g->kw;
    for (idx_t n = 0; n < N; n++) {
        for (idx_t k = 0; k < K; k++) {
            const double *dyk = dy + (n * K + k) * OH * OW; /* [OH, OW] */
            if (db)
                for (idx_t q = 0; q < OH * OW; q++) db[k] += dyk[q];
            if (!dx && !dw) continue;
            for (idx_t c = 0; c < C; c++) {
                for (idx_t i = 0; i < kh; i++) {
                    for (idx_t j = 0; j < kw; j++) {
                        idx_t wi = ((k * C + c) * kh + i) * kw + j;
                        double wv = w ? w[wi] : 0.0, acc = 0.0;
                        for (idx_t oh = 0; oh < OH; oh++) {
                            idx_t h = oh * (idx_t)g->sh - (idx_t)g->pad_t + i * (idx_t)g->dh;
                            if (h < 0 || h >= H) continue;
                            for (idx_t ow = 0; ow < OW; ow++) {
                                idx_t v = ow * (idx_t)g->sw - (idx_t)g->pad_l + j * (idx_t)g->dw;
                                if (v < 0 || v >= W) continue;
                                idx_t xi = ((n * C + c) * H + h) * W + v;
                                if (dx) dx[xi] += dyk[oh * OW + ow] * wv;
                                if (dw) acc += dyk[oh * OW + ow] * x[xi];
                            }
                        }
                        if (dw) dw[wi] += acc;
                    }
                }
            }
        }
    }
}

/* The transposed conv as PyTorch defines it, a scatter: x [N, Cin, Hin, Win],
 * w [Cin, Cout, kh, kw], y [N, Cout, Hout, Wout] with
 *   y[n, co, ih*sh - p_t + i*dh, iw*sw - p_l + j*dw] += x[n, ci, ih, iw] * w[ci, co, i, j]
 * (targets outside y dropped). The sizes are read off the geometry: Cin = K,
 * Hin x Win = OH x OW, Cout = C, Hout x Wout = H x W, p = pad_t, pad_l. */
void clvae_conv_transpose2d_forward_ref(double *y, const double *x, const double *w,
                                        const double *b, const clvae_conv_geom_t *g)
{
    idx_t N = (idx_t)g->N, Cin = (idx_t)g->K, Hin = (idx_t)g->OH, Win = (idx_t)g->OW;
    idx_t Cout = (idx_t)g->C, Hout = (idx_t)g->H, Wout = (idx_t)g->W;
    idx_t kh = (idx_t)g->kh, kw = (idx_t)g->kw;
    for (idx_t n = 0; n < N; n++) {
        for (idx_t co = 0; co < Cout; co++) {
            double *yc = y + (n * Cout + co) * Hout * Wout;
            for (idx_t q = 0; q < Hout * Wout; q++) yc[q] = b ? b[co] : 0.0;
        }
        for (idx_t ci = 0; ci < Cin; ci++) {
            const double *xc = x + (n * Cin + ci) * Hin * Win; /* [Hin, Win] */
            for (idx_t co = 0; co < Cout; co++) {
                double *yc = y + (n * Cout + co) * Hout * Wout; /* [Hout, Wout] */
                for (idx_t i = 0; i < kh; i++) {
                    for (idx_t j = 0; j < kw; j++) {
                        double wv = w[((ci * Cout + co) * kh + i) * kw + j];
                        for (idx_t ih = 0; ih < Hin; ih++) {
                            idx_t oh = ih * (idx_t)g->sh - (idx_t)g->pad_t + i * (idx_t)g->dh;
                            if (oh < 0 || oh >= Hout) continue;
                            for (idx_t iw = 0; iw < Win; iw++) {
                                idx_t ow =
                                    iw * (idx_t)g->sw - (idx_t)g->pad_l + j * (idx_t)g->dw;
                                if (ow < 0 || ow >= Wout) continue;
                                yc[oh * Wout + ow] += xc[ih * Win + iw] * wv;
                            }
                        }
                    }
                }
            }
        }
    }
}

void clvae_conv_transpose2d_backward_ref(double *dx, double *dw, double *db, const double *dy,
                                         const double *x, const double *w,
                                         const clvae_conv_geom_t *g)
{
    /* each scatter term y[...] += x[...] * w[...] differentiated */
    idx_t N = (idx_t)g->N, Cin = (idx_t)g->K, Hin = (idx_t)g->OH, Win = (idx_t)g->OW;
    idx_t Cout = (idx_t)g->C, Hout = (idx_t)g->H, Wout = (idx_t)g->W;
    idx_t kh = (idx_t)g->kh, kw = (idx_t)g->kw;
    for (idx_t n = 0; n < N; n++) {
        if (db) {
            for (idx_t co = 0; co < Cout; co++) {
                const double *dyc = dy + (n * Cout + co) * Hout * Wout;
                for (idx_t q = 0; q < Hout * Wout; q++) db[co] += dyc[q];
            }
        }
        if (!dx && !dw) continue;
        for (idx_t ci = 0; ci < Cin; ci++) {
            idx_t xoff = (n * Cin + ci) * Hin * Win; /* [Hin, Win] */
            for (idx_t co = 0; co < Cout; co++) {
                const double *dyc = dy + (n * Cout + co) * Hout * Wout; /* [Hout, Wout] */
                for (idx_t i = 0; i < kh; i++) {
                    for (idx_t j = 0; j < kw; j++) {
                        idx_t wi = ((ci * Cout + co) * kh + i) * kw + j;
                        double wv = w ? w[wi] : 0.0, acc = 0.0;
                        for (idx_t ih = 0; ih < Hin; ih++) {
                            idx_t oh = ih * (idx_t)g->sh - (idx_t)g->pad_t + i * (idx_t)g->dh;
                            if (oh < 0 || oh >= Hout) continue;
                            for (idx_t iw = 0; iw < Win; iw++) {
                                idx_t ow =
                                    iw * (idx_t)g->sw - (idx_t)g->pad_l + j * (idx_t)g->dw;
                                if (ow < 0 || ow >= Wout) continue;
                                double d = dyc[oh * Wout + ow];
                                if (dx) dx[xoff + ih * Win + iw] += d * wv;
                                if (dw) acc += d * x[xoff + ih * Win + iw];
                            }
                        }
                        if (dw) dw[wi] += acc;
                    }
                }
            }
        }
    }
}

void clvae_conv2d_mask_ref(double *out, const double *w, clvae_conv_mask_t mask, size_t K,
                           size_t C, size_t kh, size_t kw)
{
    /* the definition: tap (i, j) is kept when it is above the centre row, or on it and left
     * of the centre column; mask B keeps the centre as well */
    idx_t ci = (idx_t)kh / 2, cj = (idx_t)kw / 2;
    for (size_t kc = 0; kc < K * C; kc++) {
        for (idx_t i = 0; i < (idx_t)kh; i++) {
            for (idx_t j = 0; j < (idx_t)kw; j++) {
                int keep = i < ci || (i == ci && j < cj) ||
                           (mask == CLVAE_CONV_MASK_B && i == ci && j == cj);
                size_t at = (kc * kh + (size_t)i) * kw + (size_t)j;
                out[at] = keep ? w[at] : 0.0;
            }
        }
    }
}
