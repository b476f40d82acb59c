/* `clvae selftest --all`: every kernel file built for the device, one launch per family checked against the host. */
#include "selftest_all.h"

#include <limits.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "clvae/data/data.h"
#include "clvae/device/blas.h"
#include "clvae/device/tensor.h"
#include "clvae/device/tuning.h"
#include "clvae/ops/activation.h"
#include "clvae/ops/basic.h"
#include "clvae/ops/concat.h"
#include "clvae/ops/conv.h"
#include "clvae/ops/dense.h"
#include "clvae/ops/embed.h"
#include "clvae/ops/latent.h"
#include "clvae/ops/loss.h"
#include "clvae/ops/noise.h"
#include "clvae/ops/norm.h"
#include "clvae/ops/vq.h"
#include "clvae/ops/optim.h"
#include "clvae/ops/reduce.h"
#include "clvae/ops/rng.h"
#include "clvae/ops/spatial.h"
#include "clvae/ops/diffusion.h"
#include "clvae/ops/xent.h"

/* Buffers of one check: device views and host arrays, freed together. Letters: N batch, C input
 * channels, K output channels/classes, H W sizes, D features, J latent size. */
#define POOL_MAX 12
typedef struct pool {
    clvae_ctx_t *ctx;
    clvae_buf_t dev[POOL_MAX];
    float *host[POOL_MAX];
    int ndev, nhost;
} pool_t;

static void pool_free(pool_t *p)
{
    for (int i = 0; i < p->ndev; i++) clvae_buf_free(&p->dev[i]);
    for (int i = 0; i < p->nhost; i++) free(p->host[i]);
    p->ndev = p->nhost = 0;
}

/* A host array of n floats, uniform in [lo, hi) from a fixed LCG (seed picks the stream). */
static float *hrand(pool_t *p, size_t n, float lo, float hi, uint32_t seed)
{
    float *x = p->nhost < POOL_MAX ? calloc(n ? n : 1, sizeof *x) : NULL;
    if (!x) return NULL;
    p->host[p->nhost++] = x;
    uint32_t r = seed * 2654435761u + 1u;
    for (size_t i = 0; i < n; i++) {
        r = r * 1664525u + 1013904223u;
        x[i] = lo + (hi - lo) * (float)(r >> 8) * (1.0f / 16777216.0f);
    }
    return x;
}

/* A device view of n floats, filled from host x (NULL: zeros). */
static clvae_status_t dbuf(pool_t *p, const float *x, size_t n, clvae_buf_t *out,
                           clvae_error_t *err)
{
    if (p->ndev >= POOL_MAX) return CLVAE_FAIL(err, CLVAE_ERR_INVALID, "selftest: too many buffers");
    clvae_status_t s = clvae_buf_alloc(p->ctx, n, &p->dev[p->ndev], err);
    if (s) return s;
    *out = p->dev[p->ndev++];
    if (x) return clvae_buf_upload(p->ctx, *out, x, n, err);
    return clvae_fill_forward(p->ctx, out->mem, out->off, 0.0f, n, err);
}

/* Downloads n floats of b and compares them with want (|got - want| <= tol (1 + |want|)). */
static clvae_status_t expect(pool_t *p, const char *what, clvae_buf_t b, const double *want,
                             size_t n, double tol, clvae_error_t *err)
{
    float *got = hrand(p, n, 0, 0, 0);
    if (!got) return CLVAE_FAIL(err, CLVAE_ERR_NOMEM, "out of host memory");
    clvae_status_t s = clvae_buf_download(p->ctx, got, b, n, err);
    if (s) return s;
    for (size_t i = 0; i < n; i++) {
        double d = fabs((double)got[i] - want[i]);
        if (!(d <= tol * (1.0 + fabs(want[i]))))
            return CLVAE_FAIL(err, CLVAE_ERR_CORRUPT, "%s: element %zu of %zu is %.9g, the host "
                              "says %.9g", what, i, n, (double)got[i], want[i]);
    }
    return CLVAE_OK;
}

#define TRY(x)                   \
    do {                         \
        if ((s = (x))) return s; \
    } while (0)
#define WANT(n) double want[(n)]

static clvae_status_t c_basic(pool_t *p, clvae_error_t *err)
{
    enum { N = 37 };
    clvae_status_t s;
    TRY(clvae_selftest(p->ctx, 1003, err));
    float *m = hrand(p, N, -1, 1, 3), *a = hrand(p, N, -1, 1, 4), *b = hrand(p, N, -1, 1, 5);
    if (!m || !a || !b) return CLVAE_FAIL(err, CLVAE_ERR_NOMEM, "out of host memory");
    for (int i = 0; i < N; i++) m[i] = m[i] > 0 ? 1.0f : 0.0f;
    clvae_buf_t bm, ba, bb, by;
    TRY(dbuf(p, m, N, &bm, err));
    TRY(dbuf(p, a, N, &ba, err));
    TRY(dbuf(p, b, N, &bb, err));
    TRY(dbuf(p, NULL, N, &by, err));
    TRY(clvae_select_forward(p->ctx, by, bm, ba, bb, N, err));
    WANT(N);
    for (int i = 0; i < N; i++) want[i] = m[i] != 0 ? a[i] : b[i];
    return expect(p, "select", by, want, N, 0.0, err);
}

static clvae_status_t c_activation(pool_t *p, clvae_error_t *err)
{
    enum { N = 67 };
    clvae_status_t s;
    float *x = hrand(p, N, -3, 3, 1), *dy = hrand(p, N, -1, 1, 2);
    if (!x || !dy) return CLVAE_FAIL(err, CLVAE_ERR_NOMEM, "out of host memory");
    clvae_buf_t bx, by, bdy, bdx;
    TRY(dbuf(p, x, N, &bx, err));
    TRY(dbuf(p, NULL, N, &by, err));
    TRY(dbuf(p, dy, N, &bdy, err));
    TRY(dbuf(p, NULL, N, &bdx, err));
    TRY(clvae_act_forward(p->ctx, by, bx, CLVAE_ACT_LEAKY_RELU, 0.2f, N, err));
    TRY(clvae_act_backward(p->ctx, bdx, bdy, bx, by, CLVAE_ACT_LEAKY_RELU, 0.2f, N, err));
    WANT(N);
    for (int i = 0; i < N; i++) want[i] = x[i] > 0 ? x[i] : 0.2 * x[i];
    TRY(expect(p, "leaky_relu forward", by, want, N, 1e-6, err));
    for (int i = 0; i < N; i++) want[i] = dy[i] * (x[i] > 0 ? 1.0 : 0.2);
    return expect(p, "leaky_relu backward", bdx, want, N, 1e-6, err);
}

static clvae_status_t c_concat(pool_t *p, clvae_error_t *err)
{
    enum { N = 5, K = 10 };
    clvae_status_t s;
    float labels[N] = {3, 0, 9, 4, 7};
    clvae_buf_t bl, bo;
    TRY(dbuf(p, labels, N, &bl, err));
    TRY(dbuf(p, NULL, N * K, &bo, err));
    TRY(clvae_onehot(p->ctx, bo, bl, N, K, err));
    WANT(N * K);
    for (int n = 0; n < N; n++)
        for (int k = 0; k < K; k++) want[n * K + k] = (float)k == labels[n] ? 1.0 : 0.0;
    return expect(p, "one-hot", bo, want, N * K, 0, err);
}

/* y = conv(x, w) + b on the host, explicit padding, stride 1, dilation 1. */
static void conv_host(double *y, const float *x, const float *w, const float *b, int N, int C,
                      int H, int W, int K, int k, int pad)
{
    int OH = H + 2 * pad - k + 1, OW = W + 2 * pad - k + 1;
    for (int n = 0; n < N; n++)
        for (int o = 0; o < K; o++)
            for (int i = 0; i < OH; i++)
                for (int j = 0; j < OW; j++) {
                    double acc = b[o];
                    for (int c = 0; c < C; c++)
                        for (int u = 0; u < k; u++)
                            for (int v = 0; v < k; v++) {
                                int yy = i + u - pad, xx = j + v - pad;
                                if (yy < 0 || yy >= H || xx < 0 || xx >= W) continue;
                                acc += (double)x[((n * C + c) * H + yy) * W + xx] *
                                       w[((o * C + c) * k + u) * k + v];
                            }
                    y[((n * K + o) * OH + i) * OW + j] = acc;
                }
}

/* The gradients of conv_host's y given dy: dx, dw and db (each overwritten). */
static void conv_host_backward(double *dx, double *dw, double *db, const float *x, const float *w,
                               const float *dy, int N, int C, int H, int W, int K, int k, int pad)
{
    int OH = H + 2 * pad - k + 1, OW = W + 2 * pad - k + 1;
    for (int i = 0; i < N * C * H * W; i++) dx[i] = 0.0;
    for (int i = 0; i < K * C * k * k; i++) dw[i] = 0.0;
    for (int o = 0; o < K; o++) db[o] = 0.0;
    for (int n = 0; n < N; n++)
        for (int o = 0; o < K; o++)
            for (int i = 0; i < OH; i++)
                for (int j = 0; j < OW; j++) {
                    double g = dy[((n * K + o) * OH + i) * OW + j];
                    db[o] += g;
                    for (int c = 0; c < C; c++)
                        for (int u = 0; u < k; u++)
                            for (int v = 0; v < k; v++) {
                                int yy = i + u - pad, xx = j + v - pad;
                                if (yy < 0 || yy >= H || xx < 0 || xx >= W) continue;
                                int xi = ((n * C + c) * H + yy) * W + xx;
                                int wi = ((o * C + c) * k + u) * k + v;
                                dw[wi] += g * x[xi];
                                dx[xi] += g * w[wi];
                            }
                }
}

/* A 3x3 conv, padding 1, of C channels (C <= 4), forward and backward: C = 1 runs
 * cl/conv_direct.cl, C = 4 (C*kh*kw = 36 > 27) im2col (cl/conv.cl), the GEMMs, col2im and the
 * bias gradient's plane sums, unless CLVAE_CONV_PATH says otherwise. */
static clvae_status_t conv_check(pool_t *p, int C, const char *what, clvae_error_t *err)
{
    enum { N = 2, H = 6, W = 5, K = 5 }; /* K > 4: CLBlast's GEMMs, not the thin kernel */
    clvae_status_t s;
    clvae_conv_params_t cp = {3, 3, 1, 1, 1, 1, CLVAE_CONV_PAD_EXPLICIT, 1, 1, 0, 0};
    clvae_conv_geom_t g;
    TRY(clvae_conv2d_geom(&g, N, (size_t)C, H, W, K, &cp, err));
    float *x = hrand(p, (size_t)N * C * H * W, -1, 1, 3), *w = hrand(p, (size_t)K * C * 9, -1, 1, 4);
    if (!x || !w) return CLVAE_FAIL(err, CLVAE_ERR_NOMEM, "out of host memory");
    float *b = hrand(p, K, -1, 1, 5);
    if (!b) return CLVAE_FAIL(err, CLVAE_ERR_NOMEM, "out of host memory");
    clvae_buf_t bx, bw, bb, by;
    TRY(dbuf(p, x, (size_t)N * C * H * W, &bx, err));
    TRY(dbuf(p, w, (size_t)K * C * 9, &bw, err));
    TRY(dbuf(p, b, K, &bb, err));
    TRY(dbuf(p, NULL, N * K * H * W, &by, err));
    TRY(clvae_conv2d_forward(p->ctx, by, bx, bw, bb, &g, err));
    WANT(N * K * H * W);
    conv_host(want, x, w, b, N, C, H, W, K, 3, 1);
    TRY(expect(p, what, by, want, N * K * H * W, 1e-5, err));
    float *dy = hrand(p, (size_t)N * K * H * W, -1, 1, 6);
    if (!dy) return CLVAE_FAIL(err, CLVAE_ERR_NOMEM, "out of host memory");
    clvae_buf_t bdy, bdx, bdw, bdb;
    TRY(dbuf(p, dy, N * K * H * W, &bdy, err));
    TRY(dbuf(p, NULL, (size_t)N * C * H * W, &bdx, err));
    TRY(dbuf(p, NULL, (size_t)K * C * 9, &bdw, err));
    TRY(dbuf(p, NULL, K, &bdb, err));
    TRY(clvae_conv2d_backward(p->ctx, bdx, bdw, bdb, bdy, bx, bw, &g, err));
    double gx[N * 4 * H * W], gw[K * 4 * 9], gb[K];
    conv_host_backward(gx, gw, gb, x, w, dy, N, C, H, W, K, 3, 1);
    char name[96];
    snprintf(name, sizeof name, "%s, dx", what);
    TRY(expect(p, name, bdx, gx, (size_t)N * C * H * W, 1e-5, err));
    snprintf(name, sizeof name, "%s, dw", what);
    TRY(expect(p, name, bdw, gw, (size_t)K * C * 9, 1e-5, err));
    snprintf(name, sizeof name, "%s, db", what);
    return expect(p, name, bdb, gb, K, 1e-5, err);
}

static clvae_status_t c_conv(pool_t *p, clvae_error_t *err)
{
    return conv_check(p, 4, "conv2d 2x4x6x5 -> 5 channels, 3x3", err);
}

static clvae_status_t c_conv_direct(pool_t *p, clvae_error_t *err)
{
    return conv_check(p, 1, "conv2d 2x1x6x5 -> 5 channels, 3x3", err);
}

/* A transposed 3x3 conv, stride 2, padding 1, output padding 1 (the thesis decoder's), of K = 3
 * input channels into C: C = 1 runs the direct kernels (cl/conv_direct.cl), C = 4 the GEMM and
 * the col2im gather (cl/conv.cl). Host: every input element scattered through the kernel. */
static clvae_status_t convt_check(pool_t *p, int C, const char *what, clvae_error_t *err)
{
    enum { N = 2, K = 3, H = 3, W = 4, S = 2, PAD = 1 };
    clvae_status_t s;
    clvae_conv_params_t cp = {3, 3, S, S, 1, 1, CLVAE_CONV_PAD_EXPLICIT, PAD, PAD, 1, 1};
    clvae_conv_geom_t g;
    TRY(clvae_conv_transpose2d_geom(&g, N, K, H, W, (size_t)C, &cp, err));
    size_t OH = g.H, OW = g.W, ny = (size_t)N * C * OH * OW; /* the adjoint conv's input size */
    float *x = hrand(p, N * K * H * W, -1, 1, 18), *w = hrand(p, (size_t)K * C * 9, -1, 1, 19);
    if (!x || !w) return CLVAE_FAIL(err, CLVAE_ERR_NOMEM, "out of host memory");
    float *b = hrand(p, (size_t)C, -1, 1, 20);
    if (!b) return CLVAE_FAIL(err, CLVAE_ERR_NOMEM, "out of host memory");
    double *want = p->nhost < POOL_MAX ? calloc(ny, sizeof *want) : NULL;
    if (!want) return CLVAE_FAIL(err, CLVAE_ERR_NOMEM, "out of host memory");
    p->host[p->nhost++] = (float *)want;
    for (int n = 0; n < N; n++)
        for (int c = 0; c < C; c++)
            for (size_t i = 0; i < OH * OW; i++) want[(n * C + c) * OH * OW + i] = b[c];
    for (int n = 0; n < N; n++)
        for (int k = 0; k < K; k++)
            for (int ih = 0; ih < H; ih++)
                for (int iw = 0; iw < W; iw++)
                    for (int c = 0; c < C; c++)
                        for (int u = 0; u < 3; u++)
                            for (int v = 0; v < 3; v++) {
                                int oh = ih * S - PAD + u, ow = iw * S - PAD + v;
                                if (oh < 0 || oh >= (int)OH || ow < 0 || ow >= (int)OW) continue;
                                want[((size_t)(n * C + c) * OH + (size_t)oh) * OW + (size_t)ow] +=
                                    (double)x[((n * K + k) * H + ih) * W + iw] *
                                    w[((k * C + c) * 3 + u) * 3 + v];
                            }
    clvae_buf_t bx, bw, bb, by;
    TRY(dbuf(p, x, N * K * H * W, &bx, err));
    TRY(dbuf(p, w, (size_t)K * C * 9, &bw, err));
    TRY(dbuf(p, b, (size_t)C, &bb, err));
    TRY(dbuf(p, NULL, ny, &by, err));
    TRY(clvae_conv_transpose2d_forward(p->ctx, by, bx, bw, bb, &g, err));
    return expect(p, what, by, want, ny, 1e-5, err);
}

static clvae_status_t c_conv_transpose(pool_t *p, clvae_error_t *err)
{
    return convt_check(p, 4, "conv_transpose2d 2x3x3x4 -> 4 channels, 3x3 s2", err);
}

static clvae_status_t c_conv_transpose_direct(pool_t *p, clvae_error_t *err)
{
    return convt_check(p, 1, "conv_transpose2d 2x3x3x4 -> 1 channel, 3x3 s2", err);
}

static clvae_status_t c_data(pool_t *p, clvae_error_t *err)
{
    enum { N = 7, D = 12, B = 4 };
    clvae_status_t s;
    uint8_t px[N * D];
    for (int i = 0; i < N * D; i++) px[i] = (uint8_t)(i * 37 % 256);
    clvae_dataset_t d = {N, 1, 3, 4, px, NULL, 0, 1.0f / 255.0f, "selftest"};
    clvae_data_dev_t dd;
    TRY(clvae_data_upload(p->ctx, &d, &dd, err));
    uint32_t perm[B] = {6, 0, 3, 3};
    cl_mem idx = NULL;
    clvae_buf_t bo;
    s = clvae_data_upload_indices(p->ctx, &idx, perm, B, N, err);
    if (!s) s = dbuf(p, NULL, B * D, &bo, err);
    if (!s) s = clvae_data_gather(p->ctx, bo, &dd, idx, 0, B, err);
    WANT(B * D);
    for (int b = 0; b < B; b++)
        for (int i = 0; i < D; i++) want[b * D + i] = (double)(px[perm[b] * D + i] * (1.0f / 255.0f));
    if (!s) s = expect(p, "data gather", bo, want, B * D, 1e-7, err);
    if (idx) clReleaseMemObject(idx);
    clvae_data_dev_free(&dd);
    return s;
}

/* A dense layer of N = 3 examples: its GEMM (m = 3 <= 4) runs cl/gemm.cl's thin kernel. */
static clvae_status_t c_dense(pool_t *p, clvae_error_t *err)
{
    enum { N = 3, IN = 5, OUT = 4 };
    clvae_status_t s;
    float *x = hrand(p, N * IN, -1, 1, 6), *w = hrand(p, OUT * IN, -1, 1, 7);
    if (!x || !w) return CLVAE_FAIL(err, CLVAE_ERR_NOMEM, "out of host memory");
    float *b = hrand(p, OUT, -1, 1, 8);
    if (!b) return CLVAE_FAIL(err, CLVAE_ERR_NOMEM, "out of host memory");
    clvae_buf_t bx, bw, bb, by;
    TRY(dbuf(p, x, N * IN, &bx, err));
    TRY(dbuf(p, w, OUT * IN, &bw, err));
    TRY(dbuf(p, b, OUT, &bb, err));
    TRY(dbuf(p, NULL, N * OUT, &by, err));
    TRY(clvae_dense_forward(p->ctx, by, bx, bw, bb, N, IN, OUT, err));
    WANT(N * OUT);
    for (int n = 0; n < N; n++)
        for (int o = 0; o < OUT; o++) {
            double acc = b[o];
            for (int i = 0; i < IN; i++) acc += (double)x[n * IN + i] * w[o * IN + i];
            want[n * OUT + o] = acc;
        }
    return expect(p, "dense 3x5 -> 4", by, want, N * OUT, 1e-5, err);
}

/* C = op(A) op(B) on cl/gemm.cl's block kernel, whole (ATB 10x20x8: edge blocks both ways) and
 * split over k (AB 9x17x600, gemm_slices_sum), and on its dot kernel (ABT 7x9x300: edge blocks,
 * k not a multiple of 8), whatever the device's defaults; the context's own gemm_block.* and
 * gemm_dot.* values are put back after. */
static clvae_status_t c_gemm_block(pool_t *p, clvae_error_t *err)
{
    static const char *keys[3] = {"gemm_block.max_k", "gemm_block.split", "gemm_dot.min_k"};
    static const struct { int ta, tb; size_t m, n, k; } cs[3] = {
        {1, 0, 10, 20, 8}, {0, 0, 9, 17, 600}, {0, 1, 7, 9, 300}};
    int old[3];
    clvae_status_t s = CLVAE_OK;
    for (int i = 0; i < 3; i++) old[i] = clvae_tuning_int(p->ctx, keys[i], INT_MIN);
    for (int c = 0; c < 3 && !s; c++) {
        size_t m = cs[c].m, n = cs[c].n, k = cs[c].k;
        float *a = hrand(p, m * k, -1, 1, 20 + (uint32_t)c), *b = hrand(p, k * n, -1, 1, 22);
        double *want = a && b ? malloc(m * n * sizeof *want) : NULL;
        if (!want) return CLVAE_FAIL(err, CLVAE_ERR_NOMEM, "out of host memory");
        for (size_t i = 0; i < m; i++)
            for (size_t j = 0; j < n; j++) {
                double acc = 0;
                for (size_t q = 0; q < k; q++)
                    acc += (double)(cs[c].ta ? a[q * m + i] : a[i * k + q]) *
                           (cs[c].tb ? b[j * k + q] : b[q * n + j]);
                want[i * n + j] = acc;
            }
        clvae_buf_t ba, bb, bc;
        s = dbuf(p, a, m * k, &ba, err);
        if (!s) s = dbuf(p, b, k * n, &bb, err);
        if (!s) s = dbuf(p, NULL, m * n, &bc, err);
        if (!s) s = clvae_tuning_set(p->ctx, keys[0], 64, err);
        if (!s) s = clvae_tuning_set(p->ctx, keys[1], 1, err);
        if (!s) s = clvae_tuning_set(p->ctx, keys[2], 256, err);
        if (!s)
            s = clvae_gemm(p->ctx, cs[c].ta, cs[c].tb, m, n, k, 1.0f, ba, cs[c].ta ? m : k, bb,
                           cs[c].tb ? k : n, 0.0f, bc, n, err);
        static const char *what[3] = {"gemm_block 10x20x8", "gemm_block split 9x17x600",
                                      "gemm_dot 7x9x300"};
        if (!s) s = expect(p, what[c], bc, want, m * n, 1e-5 * sqrt((double)k), err);
        free(want);
    }
    for (int i = 0; i < 3; i++) {
        clvae_error_t e = {0};
        if (old[i] != INT_MIN) clvae_tuning_set(p->ctx, keys[i], old[i], &e);
        else clvae_tuning_unset(p->ctx, keys[i]);
    }
    return s;
}

static clvae_status_t c_latent(pool_t *p, clvae_error_t *err)
{
    enum { N = 37 };
    clvae_status_t s;
    float *mu = hrand(p, N, -2, 2, 9), *lv = hrand(p, N, -3, 1, 10), *eps = hrand(p, N, 0, 0, 0);
    if (!mu || !lv || !eps) return CLVAE_FAIL(err, CLVAE_ERR_NOMEM, "out of host memory");
    clvae_buf_t bmu, blv, bz, beps;
    TRY(dbuf(p, mu, N, &bmu, err));
    TRY(dbuf(p, lv, N, &blv, err));
    TRY(dbuf(p, NULL, N, &bz, err));
    TRY(dbuf(p, NULL, N, &beps, err));
    TRY(clvae_reparam_forward(p->ctx, bz, beps, bmu, blv, N, 42, 5, err));
    clvae_rng_normal_host(eps, N, 42, 5);
    WANT(N);
    for (int i = 0; i < N; i++) want[i] = mu[i] + exp(0.5 * lv[i]) * eps[i];
    return expect(p, "reparameterization", bz, want, N, 1e-5, err);
}

static clvae_status_t c_loss(pool_t *p, clvae_error_t *err)
{
    enum { N = 3, D = 29 };
    clvae_status_t s;
    float *pr = hrand(p, N * D, 0.01f, 0.99f, 11), *t = hrand(p, N * D, 0, 1, 12);
    if (!pr || !t) return CLVAE_FAIL(err, CLVAE_ERR_NOMEM, "out of host memory");
    clvae_buf_t bp, bt, bo;
    TRY(dbuf(p, pr, N * D, &bp, err));
    TRY(dbuf(p, t, N * D, &bt, err));
    TRY(dbuf(p, NULL, N + 1, &bo, err));
    TRY(clvae_bce_forward(p->ctx, bo, clvae_buf_at(bo, N), bp, bt, N, D, err));
    WANT(N + 1);
    want[N] = 0;
    for (int n = 0; n < N; n++) {
        double l = 0;
        for (int d = 0; d < D; d++) {
            double q = pr[n * D + d], y = t[n * D + d];
            l -= y * log(q) + (1 - y) * log1p(-q);
        }
        want[n] = l;
        want[N] += l / N;
    }
    return expect(p, "binary cross-entropy", bo, want, N + 1, 1e-5, err);
}

static clvae_status_t c_noise(pool_t *p, clvae_error_t *err)
{
    enum { N = 1000 };
    clvae_status_t s;
    float *in = hrand(p, N, 0.5f, 1, 13), *out = hrand(p, N, 0, 0, 0);
    if (!in || !out) return CLVAE_FAIL(err, CLVAE_ERR_NOMEM, "out of host memory");
    clvae_buf_t bi, bo;
    TRY(dbuf(p, in, N, &bi, err));
    TRY(dbuf(p, NULL, N, &bo, err));
    TRY(clvae_noise_mask(p->ctx, bo, bi, N, 0.5f, 7, 0, err));
    TRY(clvae_buf_download(p->ctx, out, bo, N, err));
    int zeros = 0;
    for (int i = 0; i < N; i++) {
        if (out[i] == 0.0f) zeros++;
        else if (out[i] != in[i])
            return CLVAE_FAIL(err, CLVAE_ERR_CORRUPT, "masking noise: element %d is %.9g, "
                              "neither 0 nor the input %.9g", i, (double)out[i], (double)in[i]);
    }
    if (zeros < 400 || zeros > 600)
        return CLVAE_FAIL(err, CLVAE_ERR_CORRUPT, "masking noise p = 0.5: %d of %d zeroed", zeros,
                          N);
    return CLVAE_OK;
}

static clvae_status_t c_optim(pool_t *p, clvae_error_t *err)
{
    enum { N = 45 };
    clvae_status_t s;
    float *w = hrand(p, N, -1, 1, 14), *g = hrand(p, N, -1, 1, 15);
    if (!w || !g) return CLVAE_FAIL(err, CLVAE_ERR_NOMEM, "out of host memory");
    clvae_buf_t bw, bg, bm, bv;
    TRY(dbuf(p, w, N, &bw, err));
    TRY(dbuf(p, g, N, &bg, err));
    TRY(dbuf(p, NULL, N, &bm, err));
    TRY(dbuf(p, NULL, N, &bv, err));
    clvae_adam_params_t hp = clvae_adam_defaults();
    TRY(clvae_adam_step(p->ctx, bw, bg, bm, bv, &hp, 1, N, err));
    WANT(N);
    for (int i = 0; i < N; i++) { /* step 1 from zero moments: m_hat = g, v_hat = g^2 */
        double m = g[i], v = (double)g[i] * g[i];
        want[i] = w[i] - hp.lr * m / (sqrt(v) + hp.eps);
    }
    return expect(p, "adam step", bw, want, N, 1e-5, err);
}

static clvae_status_t c_reduce(pool_t *p, clvae_error_t *err)
{
    enum { N = 1000 };
    clvae_status_t s;
    float *x = hrand(p, N, -1, 1, 16);
    if (!x) return CLVAE_FAIL(err, CLVAE_ERR_NOMEM, "out of host memory");
    clvae_buf_t bx, bo;
    TRY(dbuf(p, x, N, &bx, err));
    TRY(dbuf(p, NULL, 1, &bo, err));
    TRY(clvae_reduce_all(p->ctx, bo, bx, CLVAE_REDUCE_SUMSQ, 1.0f, N, err));
    WANT(1);
    want[0] = 0;
    for (int i = 0; i < N; i++) want[0] += (double)x[i] * x[i];
    return expect(p, "sum of squares", bo, want, 1, 1e-5, err);
}

/* Batch normalization in training mode: per-channel statistics and the normalized output
 * (gamma 1, beta 0), and the running statistics moved by momentum 0.1. */
static clvae_status_t c_norm(pool_t *p, clvae_error_t *err)
{
    enum { N = 4, C = 3, HW = 25, T = N * C * HW };
    clvae_status_t s;
    float *x = hrand(p, T, -2, 3, 19), ones[C] = {1, 1, 1}, run[2 * C + 1] = {0, 0, 0, 1, 1, 1, 0};
    if (!x) return CLVAE_FAIL(err, CLVAE_ERR_NOMEM, "out of host memory");
    clvae_buf_t bx, by, bst, bg, bb, br;
    TRY(dbuf(p, x, T, &bx, err));
    TRY(dbuf(p, NULL, T, &by, err));
    TRY(dbuf(p, NULL, 2 * C, &bst, err));
    TRY(dbuf(p, ones, C, &bg, err));
    TRY(dbuf(p, NULL, C, &bb, err));
    TRY(dbuf(p, run, 2 * C + 1, &br, err));
    clvae_bn_shape_t sh = {N, C, HW};
    TRY(clvae_batchnorm_stats(p->ctx, bst, bx, br, 1, 1, 0.1f, 1e-5f, sh, err));
    TRY(clvae_batchnorm_apply(p->ctx, by, bx, bst, bg, bb, sh, err));
    WANT(T);
    double mean[C], var[C];
    for (int c = 0; c < C; c++) {
        double m = 0, v = 0;
        for (int n = 0; n < N; n++)
            for (int i = 0; i < HW; i++) m += x[(n * C + c) * HW + i];
        m /= N * HW;
        for (int n = 0; n < N; n++)
            for (int i = 0; i < HW; i++) v += pow(x[(n * C + c) * HW + i] - m, 2);
        mean[c] = m;
        var[c] = v / (N * HW);
        for (int n = 0; n < N; n++)
            for (int i = 0; i < HW; i++)
                want[(n * C + c) * HW + i] = (x[(n * C + c) * HW + i] - m) / sqrt(var[c] + 1e-5);
    }
    TRY(expect(p, "batchnorm forward", by, want, T, 1e-4, err));
    for (int c = 0; c < C; c++) {
        want[c] = 0.1 * mean[c];
        want[C + c] = 0.9 + 0.1 * var[c] * (N * HW) / (N * HW - 1);
    }
    want[2 * C] = 1;
    return expect(p, "batchnorm running statistics", br, want, 2 * C + 1, 1e-4, err);
}

/* Group normalization: 2 groups of 2 channels per example, weight 1 and bias 0. */
static clvae_status_t c_groupnorm(pool_t *p, clvae_error_t *err)
{
    enum { N = 3, C = 4, G = 2, HW = 9, T = N * C * HW, M = C / G * HW };
    clvae_status_t s;
    float *x = hrand(p, T, -2, 3, 23), ones[C] = {1, 1, 1, 1};
    if (!x) return CLVAE_FAIL(err, CLVAE_ERR_NOMEM, "out of host memory");
    clvae_buf_t bx, by, bst, bg, bb;
    TRY(dbuf(p, x, T, &bx, err));
    TRY(dbuf(p, NULL, T, &by, err));
    TRY(dbuf(p, NULL, 2 * N * G, &bst, err));
    TRY(dbuf(p, ones, C, &bg, err));
    TRY(dbuf(p, NULL, C, &bb, err));
    clvae_gn_shape_t sh = {N, C, G, HW};
    TRY(clvae_groupnorm_stats(p->ctx, bst, bx, 1e-5f, sh, err));
    TRY(clvae_groupnorm_apply(p->ctx, by, bx, bst, bg, bb, sh, err));
    WANT(T);
    for (int g = 0; g < N * G; g++) {
        const float *xg = x + g * M;
        double m = 0, v = 0;
        for (int i = 0; i < M; i++) m += xg[i];
        m /= M;
        for (int i = 0; i < M; i++) v += pow(xg[i] - m, 2);
        for (int i = 0; i < M; i++) want[g * M + i] = (xg[i] - m) / sqrt(v / M + 1e-5);
    }
    return expect(p, "groupnorm forward", by, want, T, 1e-4, err);
}

/* Nearest upsampling by 2 of a 3x2 map, and a per-channel vector added to every pixel. */
static clvae_status_t c_spatial(pool_t *p, clvae_error_t *err)
{
    enum { N = 2, C = 3, H = 3, W = 2, F = 2, T = N * C * H * W, U = T * F * F };
    clvae_status_t s;
    float *x = hrand(p, T, -2, 3, 29), *v = hrand(p, N * C, -1, 1, 31);
    if (!x || !v) return CLVAE_FAIL(err, CLVAE_ERR_NOMEM, "out of host memory");
    clvae_buf_t bx, by, bv, bz;
    TRY(dbuf(p, x, T, &bx, err));
    TRY(dbuf(p, NULL, U, &by, err));
    TRY(dbuf(p, v, N * C, &bv, err));
    TRY(dbuf(p, NULL, T, &bz, err));
    clvae_map_shape_t sh = {N, C, H, W};
    TRY(clvae_upsample_forward(p->ctx, by, bx, F, sh, err));
    TRY(clvae_channel_add_forward(p->ctx, bz, bx, bv, sh, err));
    WANT(U);
    for (int nc = 0; nc < N * C; nc++)
        for (int oy = 0; oy < F * H; oy++)
            for (int ox = 0; ox < F * W; ox++)
                want[(nc * F * H + oy) * F * W + ox] = x[(nc * H + oy / F) * W + ox / F];
    TRY(expect(p, "upsample forward", by, want, U, 0.0, err));
    for (int i = 0; i < T; i++) want[i] = (double)x[i] + v[i / (H * W)];
    return expect(p, "channel add forward", bz, want, T, 1e-6, err);
}

/* One diffusion sampling step in place: x0 = c0 x - c1 eps clipped to [-1, 1], x = p x0 + q x
 * + sigma z with z of the normal stream. */
static clvae_status_t c_diffusion(pool_t *p, clvae_error_t *err)
{
    enum { N = 11 };
    clvae_status_t s;
    float *x = hrand(p, N, -2, 2, 37), *e = hrand(p, N, -2, 2, 41), *z = hrand(p, N, 0, 0, 0);
    if (!x || !e || !z) return CLVAE_FAIL(err, CLVAE_ERR_NOMEM, "out of host memory");
    clvae_buf_t bx, be;
    TRY(dbuf(p, x, N, &bx, err));
    TRY(dbuf(p, e, N, &be, err));
    clvae_step_coef_t c = {1.25, 0.5, 0.75, 0.25, 0.3};
    TRY(clvae_diffusion_step(p->ctx, bx, be, N, &c, 1.0f, 1234, 7, err));
    clvae_rng_normal_host(z, N, 1234, 7);
    WANT(N);
    for (int i = 0; i < N; i++) {
        double x0 = 1.25 * x[i] - 0.5 * e[i];
        x0 = x0 < -1.0 ? -1.0 : x0 > 1.0 ? 1.0 : x0;
        want[i] = 0.75 * x0 + 0.25 * x[i] + 0.3 * z[i];
    }
    return expect(p, "diffusion step", bx, want, N, 1e-5, err);
}

/* The sinusoidal time embedding of three steps in 8 features. */
static clvae_status_t c_embed(pool_t *p, clvae_error_t *err)
{
    enum { N = 3, D = 8, K = D / 2 };
    clvae_status_t s;
    float t[N] = {0.0f, 7.0f, 123.0f};
    clvae_buf_t bt, by;
    TRY(dbuf(p, t, N, &bt, err));
    TRY(dbuf(p, NULL, N * D, &by, err));
    TRY(clvae_time_embed_forward(p->ctx, by, bt, N, D, 10000.0f, err));
    WANT(N * D);
    for (int n = 0; n < N; n++)
        for (int k = 0; k < K; k++) {
            double a = t[n] * exp(-log(10000.0) * k / K);
            want[n * D + k] = sin(a);
            want[n * D + K + k] = cos(a);
        }
    return expect(p, "time embedding", by, want, N * D, 1e-4, err);
}

static clvae_status_t c_rng(pool_t *p, clvae_error_t *err)
{
    enum { N = 101 };
    clvae_status_t s;
    float *u = hrand(p, N, 0, 0, 0), *z = hrand(p, N, 0, 0, 0);
    if (!u || !z) return CLVAE_FAIL(err, CLVAE_ERR_NOMEM, "out of host memory");
    clvae_buf_t bu, bz;
    TRY(dbuf(p, NULL, N, &bu, err));
    TRY(dbuf(p, NULL, N, &bz, err));
    TRY(clvae_rng_uniform(p->ctx, bu, N, 1234, 3, err));
    TRY(clvae_rng_normal(p->ctx, bz, N, 1234, 3, err));
    clvae_rng_uniform_host(u, N, 1234, 3);
    clvae_rng_normal_host(z, N, 1234, 3);
    WANT(N);
    for (int i = 0; i < N; i++) want[i] = u[i];
    TRY(expect(p, "uniform stream", bu, want, N, 0, err));
    for (int i = 0; i < N; i++) want[i] = z[i];
    return expect(p, "normal stream", bz, want, N, 1e-6, err);
}

static clvae_status_t c_xent(pool_t *p, clvae_error_t *err)
{
    enum { N = 4, K = 10 };
    clvae_status_t s;
    float *z = hrand(p, N * K, -4, 4, 17);
    if (!z) return CLVAE_FAIL(err, CLVAE_ERR_NOMEM, "out of host memory");
    float labels[N] = {1, 9, 0, 5};
    clvae_buf_t bz, bl, bo;
    TRY(dbuf(p, z, N * K, &bz, err));
    TRY(dbuf(p, labels, N, &bl, err));
    TRY(dbuf(p, NULL, N + 1, &bo, err));
    TRY(clvae_xent_forward(p->ctx, bo, clvae_buf_at(bo, N), bz, bl, N, K, err));
    WANT(N + 1);
    want[N] = 0;
    for (int n = 0; n < N; n++) {
        double m = z[n * K], sum = 0;
        for (int k = 1; k < K; k++) m = fmax(m, z[n * K + k]);
        for (int k = 0; k < K; k++) sum += exp(z[n * K + k] - m);
        want[n] = m + log(sum) - z[n * K + (int)labels[n]];
        want[N] += want[n] / N;
    }
    return expect(p, "softmax cross-entropy", bo, want, N + 1, 1e-5, err);
}

/* Vector quantization: the nearest of K codes for each position of a small map (through the
 * GEMM), the quantized map and its squared distance to the input per example. */
static clvae_status_t c_vq(pool_t *p, clvae_error_t *err)
{
    enum { N = 2, D = 3, P = 5, K = 7, S = N * D * P };
    clvae_status_t s;
    float *z = hrand(p, S, -1, 1, 23), *E = hrand(p, K * D, -1, 1, 29);
    if (!z || !E) return CLVAE_FAIL(err, CLVAE_ERR_NOMEM, "out of host memory");
    clvae_buf_t bz, bE, bc, br, bd, bn, bq, bt;
    TRY(dbuf(p, z, S, &bz, err));
    TRY(dbuf(p, E, K * D, &bE, err));
    TRY(dbuf(p, NULL, N * P, &bc, err));
    TRY(dbuf(p, NULL, S, &br, err));
    TRY(dbuf(p, NULL, N * P * K, &bd, err));
    TRY(dbuf(p, NULL, K, &bn, err));
    TRY(dbuf(p, NULL, S, &bq, err));
    TRY(dbuf(p, NULL, N, &bt, err));
    clvae_vq_shape_t sh = {N, D, P, K};
    TRY(clvae_vq_assign(p->ctx, bc, br, bd, bn, bz, bE, sh, err));
    TRY(clvae_vq_embed(p->ctx, bq, bt, bz, bc, bE, sh, err));
    WANT(S);
    double term[N] = {0, 0};
    for (int n = 0; n < N; n++)
        for (int q = 0; q < P; q++) {
            int best = 0;
            double bd2 = INFINITY;
            for (int k = 0; k < K; k++) {
                double d2 = 0;
                for (int c = 0; c < D; c++) d2 += pow(z[(n * D + c) * P + q] - E[k * D + c], 2);
                if (d2 < bd2) bd2 = d2, best = k;
            }
            for (int c = 0; c < D; c++) want[(n * D + c) * P + q] = E[best * D + c];
            term[n] += bd2;
        }
    TRY(expect(p, "quantized map", bq, want, S, 1e-6, err));
    for (int n = 0; n < N; n++) want[n] = term[n];
    return expect(p, "commitment term", bt, want, N, 1e-5, err);
}

static const struct {
    const char *family; /* the cl/ file the check launches */
    clvae_status_t (*fn)(pool_t *p, clvae_error_t *err);
} checks[] = {
    {"basic", c_basic},   {"activation", c_activation}, {"concat", c_concat},
    {"conv", c_conv},     {"conv_direct", c_conv_direct}, {"conv (transposed)", c_conv_transpose},
    {"conv_direct (transposed)", c_conv_transpose_direct}, {"data", c_data},
    {"dense", c_dense},   {"gemm (block)", c_gemm_block}, {"diffusion", c_diffusion}, {"embed", c_embed},   {"latent", c_latent},         {"loss", c_loss},
    {"noise", c_noise},   {"norm", c_norm},             {"norm (groupnorm)", c_groupnorm},
    {"optim", c_optim},
    {"reduce", c_reduce}, {"spatial", c_spatial},
    {"rng", c_rng},       {"vq", c_vq},                 {"xent", c_xent},
};

int clvae_selftest_all(clvae_ctx_t *ctx, FILE *out, clvae_error_t *first)
{
    int failed = 0, np = 0, nk = 0;
    clvae_error_t err = {0};
    if (clvae_program_build_all(ctx, &np, &nk, &err) != CLVAE_OK) {
        fprintf(out, "FAIL build: %s\n", err.msg);
        failed++;
        if (first && !first->status) *first = err;
        else clvae_error_clear(&err);
    } else {
        fprintf(out, "ok   build: %d kernel files, %d kernels\n", np, nk);
    }
    for (size_t i = 0; i < sizeof checks / sizeof checks[0]; i++) {
        pool_t p = {ctx, {{0}}, {0}, 0, 0};
        clvae_error_t e = {0};
        clvae_status_t s = checks[i].fn(&p, &e);
        clvae_status_t fs = clvae_ctx_finish(ctx, s ? NULL : &e);
        if (!s) s = fs;
        pool_free(&p);
        if (s) {
            fprintf(out, "FAIL %s: %s\n", checks[i].family, e.msg);
            failed++;
            if (first && !first->status) *first = e;
            else clvae_error_clear(&e);
        } else {
            fprintf(out, "ok   %s\n", checks[i].family);
        }
    }
    return failed;
}
