/* Device views and tensors: the one view check, shapes, every op refusing a view past the end. */
#define TEST_FILE "test_tensor"
#include "test.h"
#include "testutil.h"

#include <math.h>
#include <string.h>

#include "clvae/ops/activation.h"
#include "clvae/ops/basic.h"
#include "clvae/ops/concat.h"
#include "clvae/ops/conv.h"
#include "clvae/ops/dense.h"
#include "clvae/ops/latent.h"
#include "clvae/ops/loss.h"
#include "clvae/ops/noise.h"
#include "clvae/ops/optim.h"
#include "clvae/ops/reduce.h"
#include "clvae/ops/rng.h"
#include "clvae/ops/xent.h"

/* Floats in the small buffer whose end the refused views reach past. */
#define SMALL 64

static clvae_ctx_t *ctx;

static void t_buf_check(void)
{
    clvae_error_t err = {0};
    clvae_buf_t b = {0}, none = {0};
    REQUIRE(clvae_buf_alloc(ctx, 10, &b, &err) == CLVAE_OK, "%s", err.msg);
    CHECK(clvae_buf_check(b, 10, "myop", "w", &err) == CLVAE_OK, "the whole buffer: %s", err.msg);
    CHECK(clvae_buf_check(clvae_buf_at(b, 4), 6, "myop", "w", &err) == CLVAE_OK,
          "a view up to the end: %s", err.msg);
    CHECK(clvae_buf_check(clvae_buf_at(b, 10), 0, "myop", "w", &err) == CLVAE_OK,
          "an empty view at the end: %s", err.msg);

    clvae_error_clear(&err);
    clvae_status_t s = clvae_buf_check(clvae_buf_at(b, 4), 7, "myop", "w", &err);
    CHECK(s == CLVAE_ERR_INVALID && strstr(err.msg, "myop: w needs floats [4, 11)") &&
              strstr(err.msg, "buffer holds 10"),
          "one float past the end: %s %s", clvae_status_name(s), err.msg);
    s = clvae_buf_check(clvae_buf_at(b, 11), 0, "myop", "w", &err);
    CHECK(s == CLVAE_ERR_INVALID && strstr(err.msg, "myop"), "an empty view past the end: %s",
          err.msg);
    s = clvae_buf_check(none, 1, "myop", "w", &err);
    CHECK(s == CLVAE_ERR_INVALID && strstr(err.msg, "myop: w buffer is NULL"), "no buffer: %s",
          err.msg);
    s = clvae_buf_check(clvae_buf_at(b, CLVAE_BUF_INDEX_LIMIT), 1, "myop", "w", &err);
    CHECK(s == CLVAE_ERR_INVALID && strstr(err.msg, "myop") && strstr(err.msg, "2^32"),
          "past the index limit: %s", err.msg);
    s = clvae_buf_check(b, (size_t)-1, "myop", "w", &err);
    CHECK(s == CLVAE_ERR_INVALID && strstr(err.msg, "2^32"), "a length of SIZE_MAX: %s", err.msg);

    CHECK(clvae_buf_check_opt(none, 100, "myop", "w", &err) == CLVAE_OK, "left out: %s", err.msg);
    CHECK(clvae_buf_check_opt(b, 11, "myop", "w", &err) == CLVAE_ERR_INVALID,
          "an optional view past the end accepted");
    clvae_buf_free(&b);
    clvae_error_clear(&err);
}

static void t_tensor_shape(void)
{
    clvae_error_t err = {0};
    clvae_buf_t none = {0};
    clvae_tensor_t t = clvae_tensor_nchw(none, 2, 3, 4, 5);
    CHECK(t.ndim == 4 && clvae_tensor_numel(&t) == 120, "NCHW: ndim %d numel %zu", t.ndim,
          clvae_tensor_numel(&t));
    t = clvae_tensor_2d(none, 7, 9);
    CHECK(t.ndim == 2 && t.dims[2] == 1 && t.dims[3] == 1 && clvae_tensor_numel(&t) == 63,
          "2-D: ndim %d numel %zu", t.ndim, clvae_tensor_numel(&t));
    const size_t five[5] = {1, 2, 3, 4, 5}, zero[2] = {3, 0}, huge[3] = {SIZE_MAX / 2, 3, 1};
    t = clvae_tensor_of(none, 5, five);
    CHECK(t.ndim == 0 && clvae_tensor_numel(&t) == 0, "5 dims: ndim %d", t.ndim);
    t = clvae_tensor_of(none, 0, five);
    CHECK(t.ndim == 0 && clvae_tensor_numel(&t) == 0, "0 dims: ndim %d", t.ndim);
    t = clvae_tensor_of(none, 2, zero);
    CHECK(clvae_tensor_numel(&t) == 0, "a dim of 0: numel %zu", clvae_tensor_numel(&t));
    t = clvae_tensor_of(none, 3, huge);
    CHECK(clvae_tensor_numel(&t) == 0, "overflow: numel %zu", clvae_tensor_numel(&t));
    CHECK(clvae_tensor_check(&t, "myop", "x", &err) == CLVAE_ERR_INVALID &&
              strstr(err.msg, "myop: x has the shape ["),
          "a shape too large: %s", err.msg);

    /* a tensor that fits its buffer, and one whose shape reaches past it */
    clvae_tensor_t a;
    const size_t d[4] = {2, 1, 3, 3};
    REQUIRE(clvae_tensor_alloc(ctx, 4, d, &a, &err) == CLVAE_OK, "%s", err.msg);
    CHECK(clvae_tensor_check(&a, "myop", "x", &err) == CLVAE_OK, "a fitting tensor: %s", err.msg);
    clvae_tensor_t past = clvae_tensor_nchw(a.buf, 2, 1, 3, 4);
    CHECK(clvae_tensor_check(&past, "myop", "x", &err) == CLVAE_ERR_INVALID &&
              strstr(err.msg, "myop: x needs floats [0, 24)") && strstr(err.msg, "holds 18"),
          "a shape past the end of its buffer: %s", err.msg);
    clvae_tensor_t shifted = clvae_tensor_nchw(clvae_buf_at(a.buf, 1), 2, 1, 3, 3);
    CHECK(clvae_tensor_check(&shifted, "myop", "x", &err) == CLVAE_ERR_INVALID,
          "a view shifted past the end accepted");
    clvae_tensor_free(&a);
    clvae_tensor_free(&a); /* a cleared tensor is fine */
    CHECK(a.buf.mem == NULL && a.ndim == 0, "free clears the tensor");
    CHECK(clvae_tensor_alloc(ctx, 2, zero, &a, &err) == CLVAE_ERR_INVALID, "a dim of 0 allocated");
    clvae_error_clear(&err);
}

/* Every op, each given one operand that reaches one float past the end of its buffer (the
 * others large enough): refused with CLVAE_ERR_INVALID before anything runs, and the message
 * names the op. */
static void t_ops_refuse_views_past_the_end(void)
{
    clvae_error_t err = {0};
    clvae_buf_t big = {0}, small = {0}, none = {0};
    REQUIRE(clvae_buf_alloc(ctx, 8192, &big, &err) == CLVAE_OK, "%s", err.msg);
    REQUIRE(clvae_buf_alloc(ctx, SMALL, &small, &err) == CLVAE_OK, "%s", err.msg);
    float *zeros = calloc(8192, sizeof *zeros);
    REQUIRE(zeros && clvae_buf_upload(ctx, big, zeros, 8192, &err) == CLVAE_OK, "%s", err.msg);
    free(zeros);
/* a view of n floats ending one float past the end of small */
#define PAST(n) clvae_buf_at(small, SMALL + 1 - (n))
/* disjoint views into big */
#define BIG(i) clvae_buf_at(big, 1024 * (size_t)(i))

    clvae_conv_params_t cp = {3, 3, 1, 1, 1, 1, CLVAE_CONV_PAD_SAME, 0, 0, 0, 0};
    clvae_conv_geom_t g, gt;
    REQUIRE(clvae_conv2d_geom(&g, 1, 1, 4, 4, 2, &cp, &err) == CLVAE_OK, "%s", err.msg);
    REQUIRE(clvae_conv_transpose2d_geom(&gt, 1, 2, 4, 4, 1, &cp, &err) == CLVAE_OK, "%s",
            err.msg);
    clvae_adam_params_t adam = clvae_adam_defaults();
    clvae_sgd_params_t sgd = {0.1f, 0.9f, 0.0f, 0.0f};
    clvae_noise_spec_t copy = {CLVAE_NOISE_NONE, 0, 0, 0, 0, 0, 0};
    clvae_reduce_shape_t rows = {2, 1, 8, 0, 8}; /* per-example sums of [2, 8] */
    const size_t n = 16, N = 2, D = 8, K = 4;

    int cases = 0;
/* call must fail as a bad argument, its message naming the op and the buffer's real size */
#define REFUSED(op, call)                                                                      \
    do {                                                                                       \
        clvae_error_clear(&err);                                                               \
        clvae_status_t s_ = (call);                                                            \
        CHECK(s_ == CLVAE_ERR_INVALID && strstr(err.msg, op ": ") &&                           \
                  strstr(err.msg, "buffer holds 64"),                                          \
              "%s: %s %s", op, clvae_status_name(s_), err.msg);                                \
        cases++;                                                                               \
    } while (0)
    REFUSED("activation", clvae_act_forward(ctx, PAST(n), BIG(0), CLVAE_ACT_RELU, 0, n, &err));
    REFUSED("activation",
            clvae_act_backward(ctx, BIG(0), PAST(n), BIG(1), BIG(2), CLVAE_ACT_RELU, 0, n, &err));
    REFUSED("dense", clvae_dense_forward(ctx, PAST(N * D), BIG(0), BIG(1), none, N, 4, D, &err));
    REFUSED("dense",
            clvae_dense_backward(ctx, PAST(N * 4), none, none, BIG(0), BIG(1), BIG(2), N, 4, D,
                                 &err));
    REFUSED("conv2d_forward", clvae_conv2d_forward(ctx, PAST(32), BIG(0), BIG(1), none, &g, &err));
    REFUSED("conv2d_backward",
            clvae_conv2d_backward(ctx, PAST(16), none, none, BIG(0), BIG(1), BIG(2), &g, &err));
    REFUSED("conv_transpose2d_forward",
            clvae_conv_transpose2d_forward(ctx, PAST(16), BIG(0), BIG(1), none, &gt, &err));
    REFUSED("conv_transpose2d_backward",
            clvae_conv_transpose2d_backward(ctx, PAST(32), none, none, BIG(0), BIG(1), BIG(2), &gt,
                                            &err));
    REFUSED("reparam_apply", clvae_reparam_apply(ctx, PAST(n), BIG(0), BIG(1), BIG(2), n, &err));
    REFUSED("reparam_forward",
            clvae_reparam_forward(ctx, BIG(0), BIG(1), BIG(2), PAST(n), n, 1, 0, &err));
    REFUSED("reparam_backward",
            clvae_reparam_backward(ctx, PAST(n), none, BIG(0), BIG(1), BIG(2), n, &err));
    REFUSED("bce_forward", clvae_bce_forward(ctx, BIG(0), none, PAST(N * D), BIG(1), N, D, &err));
    REFUSED("bce_backward", clvae_bce_backward(ctx, BIG(0), BIG(1), PAST(N * D), 1, N, D, &err));
    REFUSED("mse_forward",
            clvae_mse_forward(ctx, PAST(N), none, BIG(0), BIG(1), N, D, CLVAE_MSE_SUM, &err));
    REFUSED("kl_forward", clvae_kl_forward(ctx, BIG(0), PAST(1), BIG(1), BIG(2), 1, N, D, &err));
    REFUSED("kl_backward",
            clvae_kl_backward(ctx, BIG(0), PAST(N * D), BIG(1), BIG(2), 1, 1, N, D, &err));
    REFUSED("xent_forward", clvae_xent_forward(ctx, BIG(0), none, PAST(N * K), BIG(1), N, K, &err));
    REFUSED("xent_backward", clvae_xent_backward(ctx, PAST(N * K), BIG(0), BIG(1), 1, N, K, &err));
    REFUSED("softmax_forward", clvae_softmax_forward(ctx, PAST(N * K), BIG(0), N, K, &err));
    REFUSED("label_concat_forward",
            clvae_label_concat_forward(ctx, PAST(N * 5 * 4), BIG(0), BIG(1), N, 1, 2, 2, K, &err));
    REFUSED("label_concat_backward",
            clvae_label_concat_backward(ctx, PAST(N * 4), BIG(0), N, 1, 2, 2, K, &err));
    REFUSED("channel_slice",
            clvae_channel_slice(ctx, PAST(N * 2 * 4), 2, 0, BIG(0), 2, 1, 1, N, 4, 0, &err));
    REFUSED("onehot", clvae_onehot(ctx, BIG(0), PAST(N), N, K, &err));
    REFUSED("noise_gaussian", clvae_noise_gaussian(ctx, PAST(n), BIG(0), n, 0.1f, 0, 1, 0, &err));
    REFUSED("noise_mask", clvae_noise_mask(ctx, BIG(0), PAST(n), n, 0.5f, 1, 0, &err));
    REFUSED("noise_apply", clvae_noise_apply(ctx, &copy, PAST(n), BIG(0), n, 1, 0, &err));
    REFUSED("Adam step", clvae_adam_step(ctx, BIG(0), BIG(1), PAST(n), BIG(2), &adam, 1, n, &err));
    REFUSED("Adam step",
            clvae_adam_step_guarded(ctx, BIG(0), BIG(1), BIG(2), BIG(3), &adam, 1, n, PAST(1),
                                    &err));
    REFUSED("SGD step", clvae_sgd_step(ctx, BIG(0), BIG(1), PAST(n), &sgd, 1, n, &err));
    REFUSED("rng_uniform", clvae_rng_uniform(ctx, PAST(n), n, 1, 0, &err));
    REFUSED("rng_normal", clvae_rng_normal(ctx, PAST(n), n, 1, 0, &err));
    REFUSED("fill", clvae_fill_forward(ctx, small.mem, SMALL + 1 - n, 0.0f, n, &err));
    REFUSED("add",
            clvae_add_forward(ctx, big.mem, 0, small.mem, SMALL + 1 - n, big.mem, 1024, n, &err));
    REFUSED("reduce",
            clvae_reduce_forward(ctx, BIG(0), PAST(N * D), CLVAE_REDUCE_SUM, 1, 0, rows, &err));
    REFUSED("reduce", clvae_reduce_all(ctx, PAST(1), BIG(0), CLVAE_REDUCE_SUM, 1, n, &err));
    REFUSED("select", clvae_select_forward(ctx, BIG(0), PAST(n), BIG(1), BIG(2), n, &err));
#undef REFUSED
#undef PAST
#undef BIG
    CHECK(cases == 36, "%d cases", cases);
    clvae_buf_free(&big);
    clvae_buf_free(&small);
    clvae_error_clear(&err);
}

/* select against the host: a bit-exact choice per element (NaN and -0 kept), at offsets, and
 * in place (y the same view as b: inpainting's known pixels put back into the model's). */
static void t_select(void)
{
    enum { N = 1031, OFF = 5 };
    clvae_error_t err = {0};
    float m[N], a[N], b[N], got[N];
    uint64_t st = 11;
    tu_rand(a, N, -2.0f, 2.0f, &st);
    tu_rand(b, N, -2.0f, 2.0f, &st);
    tu_rand(m, N, -1.0f, 1.0f, &st);
    for (int i = 0; i < N; i++) m[i] = m[i] > 0.3f ? 1.0f : i % 7 == 0 ? -0.0f : 0.0f;
    a[3] = NAN, b[4] = -0.0f, m[3] = 1.0f, m[4] = 0.0f;
    clvae_buf_t bm = {0}, ba = {0}, bb = {0}, by = {0};
    REQUIRE(clvae_buf_alloc(ctx, N + OFF, &bm, &err) == CLVAE_OK &&
                clvae_buf_alloc(ctx, N + OFF, &ba, &err) == CLVAE_OK &&
                clvae_buf_alloc(ctx, N + OFF, &bb, &err) == CLVAE_OK &&
                clvae_buf_alloc(ctx, N + 2 * OFF, &by, &err) == CLVAE_OK,
            "%s", err.msg);
    clvae_buf_t vm = clvae_buf_at(bm, OFF), va = clvae_buf_at(ba, 1), vb = clvae_buf_at(bb, 2),
                vy = clvae_buf_at(by, 2 * OFF);
    REQUIRE(clvae_buf_upload(ctx, vm, m, N, &err) == CLVAE_OK &&
                clvae_buf_upload(ctx, va, a, N, &err) == CLVAE_OK &&
                clvae_buf_upload(ctx, vb, b, N, &err) == CLVAE_OK,
            "%s", err.msg);
    REQUIRE(clvae_select_forward(ctx, vy, vm, va, vb, N, &err) == CLVAE_OK, "%s", err.msg);
    REQUIRE(clvae_buf_download(ctx, got, vy, N, &err) == CLVAE_OK, "%s", err.msg);
    int bad = 0;
    for (int i = 0; i < N; i++) {
        float want = m[i] != 0.0f ? a[i] : b[i];
        bad += memcmp(&got[i], &want, sizeof want) != 0;
    }
    CHECK(bad == 0, "%d of %d elements differ from the host's choice", bad, N);
    /* in place: b = m ? a : b */
    REQUIRE(clvae_select_forward(ctx, vb, vm, va, vb, N, &err) == CLVAE_OK, "%s", err.msg);
    REQUIRE(clvae_buf_download(ctx, got, vb, N, &err) == CLVAE_OK, "%s", err.msg);
    bad = 0;
    for (int i = 0; i < N; i++) {
        float want = m[i] != 0.0f ? a[i] : b[i];
        bad += memcmp(&got[i], &want, sizeof want) != 0;
    }
    CHECK(bad == 0, "in place: %d of %d elements differ", bad, N);
    clvae_buf_free(&bm);
    clvae_buf_free(&ba);
    clvae_buf_free(&bb);
    clvae_buf_free(&by);
    clvae_error_clear(&err);
}

int main(void)
{
    ctx = tu_ctx();
    if (!ctx) return 1;
    RUN(t_buf_check);
    RUN(t_tensor_shape);
    RUN(t_ops_refuse_views_past_the_end);
    RUN(t_select);
    clvae_ctx_free(ctx);
    return TEST_EXIT();
}
