/* The same ops, one of each family, on two devices agree within tolerance: pocl's threaded and basic
 * devices, or the two that CLVAE_CROSS_DEVICES names (tests/test_oclgrind.sh: pocl and Oclgrind). */
#define TEST_FILE "test_crossdevice"
#include "test.h"
#include "testutil.h"

#include <math.h>

#include "clvae/ops/activation.h"
#include "clvae/ops/basic.h"
#include "clvae/ops/concat.h"
#include "clvae/ops/noise.h"
#include "clvae/ops/xent.h"
#include "clvae/ops/conv.h"
#include "clvae/ops/dense.h"
#include "clvae/ops/latent.h"
#include "clvae/ops/loss.h"
#include "clvae/ops/optim.h"
#include "clvae/ops/reduce.h"
#include "clvae/ops/rng.h"

/* CLVAE_TEST_SMALL=1: smaller shapes, for a simulator (Oclgrind). */
static int small;

/* One case: runs an op on ctx and returns its n outputs (malloc'd), or NULL. */
typedef float *(*case_fn)(clvae_ctx_t *ctx, size_t *n);

static float *inputs(size_t n, float lo, float hi, uint64_t seed)
{
    float *x = malloc(n * sizeof *x);
    tu_rand(x, n, lo, hi, &seed);
    return x;
}

static float *c_reduce(clvae_ctx_t *ctx, size_t *n)
{
    size_t N = small ? 8 : 128, D = 784;
    float *x = inputs(N * D, -1, 1, 1);
    clvae_buf_t bx = tu_upload(ctx, x, N * D), bo = tu_zeros(ctx, N);
    clvae_error_t err = {0};
    clvae_reduce_shape_t sh = {N, 1, D, 0, D};
    float *out = NULL;
    if (clvae_reduce_forward(ctx, bo, bx, CLVAE_REDUCE_SUMSQ, 1, 0, sh, &err) == CLVAE_OK)
        out = tu_download(ctx, bo, N);
    *n = N;
    clvae_buf_free(&bx);
    clvae_buf_free(&bo);
    free(x);
    return out;
}

static float *c_bce_and_kl(clvae_ctx_t *ctx, size_t *n)
{
    size_t N = small ? 2 : 16, D = 784, J = 2;
    float *p = inputs(N * D, 0.01f, 0.99f, 2), *t = inputs(N * D, 0, 1, 3);
    float *mu = inputs(N * J, -2, 2, 4), *lv = inputs(N * J, -3, 1, 5);
    clvae_buf_t bp = tu_upload(ctx, p, N * D), bt = tu_upload(ctx, t, N * D);
    clvae_buf_t bmu = tu_upload(ctx, mu, N * J), blv = tu_upload(ctx, lv, N * J);
    clvae_buf_t out = tu_zeros(ctx, 2 * N + 2);
    clvae_buf_t dp = tu_zeros(ctx, N * D);
    clvae_error_t err = {0};
    float *res = NULL;
    if (clvae_bce_forward(ctx, out, clvae_buf_at(out, 2 * N), bp, bt, N, D, &err) == CLVAE_OK &&
        clvae_kl_forward(ctx, clvae_buf_at(out, N), clvae_buf_at(out, 2 * N + 1), bmu, blv,
                         1.0f, N, J, &err) == CLVAE_OK &&
        clvae_bce_backward(ctx, dp, bp, bt, 1.0f / (float)N, N, D, &err) == CLVAE_OK) {
        float *a = tu_download(ctx, out, 2 * N + 2), *b = tu_download(ctx, dp, N * D);
        if (a && b) {
            res = malloc((2 * N + 2 + N * D) * sizeof *res);
            memcpy(res, a, (2 * N + 2) * sizeof *res);
            memcpy(res + 2 * N + 2, b, N * D * sizeof *res);
        }
        free(a);
        free(b);
    }
    *n = 2 * N + 2 + N * D;
    clvae_buf_t *bufs[] = {&bp, &bt, &bmu, &blv, &out, &dp};
    for (size_t i = 0; i < sizeof bufs / sizeof bufs[0]; i++) clvae_buf_free(bufs[i]);
    free(p);
    free(t);
    free(mu);
    free(lv);
    return res;
}

static float *c_reparam(clvae_ctx_t *ctx, size_t *n)
{
    size_t m = 256;
    float *mu = inputs(m, -1, 1, 6), *lv = inputs(m, -2, 1, 7);
    clvae_buf_t bmu = tu_upload(ctx, mu, m), blv = tu_upload(ctx, lv, m);
    clvae_buf_t z = tu_zeros(ctx, m), eps = tu_zeros(ctx, m);
    clvae_error_t err = {0};
    float *res = NULL;
    if (clvae_reparam_forward(ctx, z, eps, bmu, blv, m, 42, 7, &err) == CLVAE_OK)
        res = tu_download(ctx, z, m);
    *n = m;
    clvae_buf_free(&bmu);
    clvae_buf_free(&blv);
    clvae_buf_free(&z);
    clvae_buf_free(&eps);
    free(mu);
    free(lv);
    return res;
}

static float *c_adam(clvae_ctx_t *ctx, size_t *n)
{
    size_t m = small ? 1000 : 10000;
    float *p = inputs(m, -1, 1, 8), *g = inputs(m, -1, 1, 9);
    clvae_buf_t bp = tu_upload(ctx, p, m), bg = tu_upload(ctx, g, m), bm = tu_zeros(ctx, m),
                bv = tu_zeros(ctx, m);
    clvae_adam_params_t hp = clvae_adam_defaults();
    clvae_error_t err = {0};
    float *res = NULL;
    int ok = 1;
    for (long t = 1; t <= 5 && ok; t++)
        ok = clvae_adam_step(ctx, bp, bg, bm, bv, &hp, t, m, &err) == CLVAE_OK;
    if (ok) res = tu_download(ctx, bp, m);
    *n = m;
    clvae_buf_free(&bp);
    clvae_buf_free(&bg);
    clvae_buf_free(&bm);
    clvae_buf_free(&bv);
    free(p);
    free(g);
    return res;
}

static float *c_dense_leaky(clvae_ctx_t *ctx, size_t *n)
{
    size_t N = small ? 8 : 128, in = small ? 196 : 3136, out = 2;
    float *x = inputs(N * in, -1, 1, 10), *w = inputs(out * in, -0.05f, 0.05f, 11);
    float *b = inputs(out, -1, 1, 12);
    clvae_buf_t bx = tu_upload(ctx, x, N * in), bw = tu_upload(ctx, w, out * in),
                bb = tu_upload(ctx, b, out), by = tu_zeros(ctx, N * out);
    clvae_error_t err = {0};
    float *res = NULL;
    if (clvae_dense_forward(ctx, by, bx, bw, bb, N, in, out, &err) == CLVAE_OK &&
        clvae_act_forward(ctx, by, by, CLVAE_ACT_LEAKY_RELU, 0.3f, N * out, &err) == CLVAE_OK)
        res = tu_download(ctx, by, N * out);
    *n = N * out;
    clvae_buf_free(&bx);
    clvae_buf_free(&bw);
    clvae_buf_free(&bb);
    clvae_buf_free(&by);
    free(x);
    free(w);
    free(b);
    return res;
}

/* The thesis encoder's second conv (32 -> 64, stride 2, same) forward and backward, batch 4
 * (small: 4 -> 8 channels of 8 x 8, batch 1). */
static float *c_conv(clvae_ctx_t *ctx, size_t *n)
{
    clvae_conv_params_t p = {3, 3, 2, 2, 1, 1, CLVAE_CONV_PAD_SAME, 0, 0, 0, 0};
    clvae_conv_geom_t g;
    clvae_error_t err = {0};
    size_t N = small ? 1 : 4, C = small ? 4 : 32, HW = small ? 8 : 28, K = small ? 8 : 64;
    if (clvae_conv2d_geom(&g, N, C, HW, HW, K, &p, &err)) return NULL;
    size_t nx = N * C * HW * HW, nw = K * C * 9, ny = N * K * (HW / 2) * (HW / 2);
    float *x = inputs(nx, -1, 1, 13), *w = inputs(nw, -0.1f, 0.1f, 14), *dy = inputs(ny, -1, 1, 15);
    clvae_buf_t bx = tu_upload(ctx, x, nx), bw = tu_upload(ctx, w, nw), bdy = tu_upload(ctx, dy, ny);
    clvae_buf_t by = tu_zeros(ctx, ny), bdx = tu_zeros(ctx, nx), bdw = tu_zeros(ctx, nw), none = {0};
    float *res = NULL;
    if (clvae_conv2d_forward(ctx, by, bx, bw, none, &g, &err) == CLVAE_OK &&
        clvae_conv2d_backward(ctx, bdx, bdw, none, bdy, bx, bw, &g, &err) == CLVAE_OK) {
        float *a = tu_download(ctx, by, ny), *b = tu_download(ctx, bdx, nx), *c = tu_download(ctx, bdw, nw);
        if (a && b && c) {
            res = malloc((ny + nx + nw) * sizeof *res);
            memcpy(res, a, ny * sizeof *res);
            memcpy(res + ny, b, nx * sizeof *res);
            memcpy(res + ny + nx, c, nw * sizeof *res);
        }
        free(a);
        free(b);
        free(c);
    }
    *n = ny + nx + nw;
    clvae_buf_t *bufs[] = {&bx, &bw, &bdy, &by, &bdx, &bdw};
    for (size_t i = 0; i < sizeof bufs / sizeof bufs[0]; i++) clvae_buf_free(bufs[i]);
    free(x);
    free(w);
    free(dy);
    return res;
}

/* basic: y = a + b */
static float *c_add(clvae_ctx_t *ctx, size_t *n)
{
    size_t m = 1003;
    float *a = inputs(m, -1, 1, 20), *b = inputs(m, -1, 1, 21);
    clvae_buf_t ba = tu_upload(ctx, a, m), bb = tu_upload(ctx, b, m), by = tu_zeros(ctx, m);
    clvae_error_t err = {0};
    float *res = NULL;
    if (clvae_add_forward(ctx, by.mem, by.off, ba.mem, ba.off, bb.mem, bb.off, m, &err) ==
        CLVAE_OK)
        res = tu_download(ctx, by, m);
    *n = m;
    clvae_buf_free(&ba);
    clvae_buf_free(&bb);
    clvae_buf_free(&by);
    free(a);
    free(b);
    return res;
}

/* concat: the label channels of a conditional model's input */
static float *c_label_concat(clvae_ctx_t *ctx, size_t *n)
{
    size_t N = 4, C = 1, HW = 16, K = 10, m = N * (C + K) * HW;
    float *x = inputs(N * C * HW, 0, 1, 22), labels[4] = {0, 9, 3, 3};
    clvae_buf_t bx = tu_upload(ctx, x, N * C * HW), bl = tu_upload(ctx, labels, N),
                by = tu_zeros(ctx, m);
    clvae_error_t err = {0};
    float *res = NULL;
    if (clvae_label_concat_forward(ctx, by, bx, bl, N, C, 4, 4, K, &err) == CLVAE_OK)
        res = tu_download(ctx, by, m);
    *n = m;
    clvae_buf_free(&bx);
    clvae_buf_free(&bl);
    clvae_buf_free(&by);
    free(x);
    return res;
}

/* noise: Gaussian corruption drawn on the device (Philox), clipped to [0, 1] */
static float *c_noise(clvae_ctx_t *ctx, size_t *n)
{
    size_t m = 1000;
    float *x = inputs(m, 0, 1, 23);
    clvae_buf_t bx = tu_upload(ctx, x, m), by = tu_zeros(ctx, m);
    clvae_error_t err = {0};
    float *res = NULL;
    if (clvae_noise_gaussian(ctx, by, bx, m, 0.5f, 1, 99, 3, &err) == CLVAE_OK)
        res = tu_download(ctx, by, m);
    *n = m;
    clvae_buf_free(&bx);
    clvae_buf_free(&by);
    free(x);
    return res;
}

/* xent: softmax cross-entropy per example and its mean, then its gradient */
static float *c_xent(clvae_ctx_t *ctx, size_t *n)
{
    size_t N = 8, K = 10;
    float *z = inputs(N * K, -4, 4, 24), labels[8] = {0, 1, 2, 3, 9, 8, 7, 6};
    clvae_buf_t bz = tu_upload(ctx, z, N * K), bl = tu_upload(ctx, labels, N),
                bo = tu_zeros(ctx, N + 1), bd = tu_zeros(ctx, N * K);
    clvae_error_t err = {0};
    float *res = NULL;
    if (clvae_xent_forward(ctx, bo, clvae_buf_at(bo, N), bz, bl, N, K, &err) == CLVAE_OK &&
        clvae_xent_backward(ctx, bd, bz, bl, 1.0f / (float)N, N, K, &err) == CLVAE_OK) {
        float *a = tu_download(ctx, bo, N + 1), *b = tu_download(ctx, bd, N * K);
        if (a && b) {
            res = malloc((N + 1 + N * K) * sizeof *res);
            memcpy(res, a, (N + 1) * sizeof *res);
            memcpy(res + N + 1, b, N * K * sizeof *res);
        }
        free(a);
        free(b);
    }
    *n = N + 1 + N * K;
    clvae_buf_free(&bz);
    clvae_buf_free(&bl);
    clvae_buf_free(&bo);
    clvae_buf_free(&bd);
    free(z);
    return res;
}

static const struct { const char *name; case_fn fn; double atol, rtol; } cases[] = {
    {"conv 32->64 s2 forward, dx, dw", c_conv, 1e-4, 1e-4},
    {"dense 3136->2 + leaky relu", c_dense_leaky, 1e-4, 1e-4},
    {"reduce sumsq 128x784", c_reduce, 1e-4, 1e-5},
    {"bce + kl + bce grad", c_bce_and_kl, 1e-4, 1e-5},
    {"reparam", c_reparam, 1e-6, 1e-5},
    {"adam 5 steps", c_adam, 1e-7, 1e-6},
    {"add", c_add, 0, 0},
    {"label concat", c_label_concat, 0, 0},
    {"gaussian noise", c_noise, 1e-6, 1e-5},
    {"softmax cross-entropy + grad", c_xent, 1e-5, 1e-5},
};

static clvae_ctx_t *open_on(const char *spec)
{
    clvae_ctx_opts_t o;
    clvae_ctx_opts_from_env(&o);
    o.device_spec = spec;
    clvae_error_t err = {0};
    clvae_ctx_t *ctx = NULL;
    if (clvae_ctx_init(&ctx, &o, &err) != CLVAE_OK) {
        fprintf(stderr, "  cannot open device '%s': %s\n", spec, err.msg);
        clvae_error_clear(&err);
    }
    return ctx;
}

/* The two device specs: CLVAE_CROSS_DEVICES="A,B", else pocl's pthread and basic devices. */
static char spec_a[128] = "pthread", spec_b[128] = "basic";

static void t_two_devices_agree(void)
{
    clvae_ctx_t *a = open_on(spec_a), *b = open_on(spec_b);
    REQUIRE(a && b, "need the devices '%s' and '%s' (pocl: POCL_DEVICES='pthread basic')", spec_a,
            spec_b);
    REQUIRE(strcmp(clvae_ctx_device(a)->name, clvae_ctx_device(b)->name) != 0,
            "both specs opened the same device");
    fprintf(stderr, "  comparing %s with %s\n", clvae_ctx_device(a)->name,
            clvae_ctx_device(b)->name);
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        size_t na = 0, nb = 0;
        float *ra = cases[i].fn(a, &na), *rb = cases[i].fn(b, &nb);
        CHECK(ra && rb && na == nb, "%s: a device failed", cases[i].name);
        if (ra && rb && na == nb) {
            double *want = tu_double(ra, na);
            CHECK(tu_close(cases[i].name, rb, want, na, cases[i].atol, cases[i].rtol, NULL),
                  "%s differs between devices", cases[i].name);
            free(want);
        }
        free(ra);
        free(rb);
    }
    clvae_ctx_free(a);
    clvae_ctx_free(b);
}

int main(void)
{
    const char *v = getenv("CLVAE_TEST_SMALL");
    small = v && *v && strcmp(v, "0") != 0;
    const char *two = getenv("CLVAE_CROSS_DEVICES");
    const char *comma = two ? strchr(two, ',') : NULL;
    if (comma && comma - two < (long)sizeof spec_a && strlen(comma + 1) < sizeof spec_b) {
        snprintf(spec_a, sizeof spec_a, "%.*s", (int)(comma - two), two);
        snprintf(spec_b, sizeof spec_b, "%s", comma + 1);
    }
    /* Two pocl devices in one process: pocl reads this when the platform starts. */
    setenv("POCL_DEVICES", "pthread basic", 1);
    RUN(t_two_devices_agree);
    return TEST_EXIT();
}
