/* Reductions: device against the reference for every shape form, determinism, bad input. */
#define TEST_FILE "test_reduce"
#include "ref/ref.h"
#include "test.h"
#include "testutil.h"

#include <math.h>
#include <unistd.h>

#include "clvae/ops/reduce.h"

static clvae_ctx_t *ctx;

static void run_case(const char *name, clvae_reduce_op_t op, clvae_reduce_shape_t sh,
                     size_t nin, float alpha, float beta, int poison)
{
    uint64_t seed = 0x9e3779b97f4a7c15ULL ^ nin;
    float *x = malloc(nin * sizeof *x), *o = malloc(sh.R * sizeof *o);
    tu_rand(x, nin, -2.0f, 3.0f, &seed);
    tu_rand(o, sh.R, -1.0f, 1.0f, &seed);
    if (poison) {
        x[nin / 2] = NAN;
        x[nin / 3] = INFINITY;
        x[nin - 1] = -INFINITY;
    }
    double *xd = tu_double(x, nin), *want = tu_double(o, sh.R);
    clvae_reduce_forward_ref(want, xd, op, alpha, beta, sh);
    clvae_buf_t bx = tu_upload(ctx, x, nin), bo = tu_upload(ctx, o, sh.R);
    clvae_error_t err = {0};
    clvae_status_t s = clvae_reduce_forward(ctx, bo, bx, op, alpha, beta, sh, &err);
    CHECK(s == CLVAE_OK, "%s: %s", name, err.msg);
    float *got = tu_download(ctx, bo, sh.R);
    /* sums of up to ~1e5 terms in float against double */
    double rel = 0;
    CHECK(tu_close(name, got, want, sh.R, 1e-4 * sqrt((double)(sh.A * sh.B)), 1e-4, &rel),
          "%s", name);
    tu_note_error("reduce", rel);
    /* the same reduction again gives the same bits */
    float *o2 = NULL;
    if (beta == 0.0f && got) {
        clvae_reduce_forward(ctx, bo, bx, op, alpha, beta, sh, &err);
        o2 = tu_download(ctx, bo, sh.R);
        CHECK(o2 && memcmp(o2, got, sh.R * sizeof *got) == 0, "%s: second run differs", name);
    }
    free(o2);
    free(got);
    clvae_buf_free(&bx);
    clvae_buf_free(&bo);
    free(x);
    free(o);
    free(xd);
    free(want);
}

static void t_per_example_sums(void)
{
    clvae_reduce_shape_t sh = {128, 1, 784, 0, 784};
    run_case("per-example sum 128x784", CLVAE_REDUCE_SUM, sh, 128 * 784, 1.0f, 0.0f, 0);
    clvae_reduce_shape_t odd = {3, 1, 91, 0, 91};
    run_case("per-example sumsq 3x91", CLVAE_REDUCE_SUMSQ, odd, 3 * 91, 0.5f, 0.0f, 0);
}

static void t_per_channel_sums(void)
{
    /* NCHW [5, 7, 13, 7]: per channel over N and H*W, accumulated */
    clvae_reduce_shape_t sh = {7, 5, 13 * 7, 7 * 13 * 7, 13 * 7};
    run_case("per-channel sum 5x7x13x7", CLVAE_REDUCE_SUM, sh, 5 * 7 * 13 * 7, 1.0f, 1.0f, 0);
    clvae_reduce_shape_t big = {64, 128, 49, 64 * 49, 49};
    run_case("per-channel sum 128x64x7x7", CLVAE_REDUCE_SUM, big, 128 * 64 * 49, 1.0f, 0.0f, 0);
}

/* Column sums (B == 1) of 32 outputs or more take the one-item-per-output kernel, fewer the
 * work-group one: both, every op, beta 0 and 1, gaps between rows and between columns. */
static void t_column_sums(void)
{
    clvae_reduce_shape_t sh = {3136, 128, 1, 3136, 1};
    run_case("column sum 128x3136", CLVAE_REDUCE_SUM, sh, 128 * 3136, 1.0f, 0.0f, 0);
    clvae_reduce_shape_t gaps = {40, 17, 1, 100, 2}, few = {31, 17, 1, 100, 2};
    for (int op = 0; op < 3; op++)
        for (int beta = 0; beta < 2; beta++) {
            char name[80];
            snprintf(name, sizeof name, "columns with gaps, op %d beta %d", op, beta);
            run_case(name, (clvae_reduce_op_t)op, gaps, 16 * 100 + 39 * 2 + 1, 0.5f,
                     (float)beta, op == 2);
            snprintf(name, sizeof name, "31 columns with gaps, op %d beta %d", op, beta);
            run_case(name, (clvae_reduce_op_t)op, few, 16 * 100 + 30 * 2 + 1, 0.5f, (float)beta,
                     op == 2);
        }
}

static void t_whole_array_and_nonfinite(void)
{
    size_t n = tu_size(100003, 10007);
    clvae_reduce_shape_t sh = {1, 1, n, 0, 0};
    run_case("mean of 100003 (10007 small)", CLVAE_REDUCE_SUM, sh, n, 1.0f / (float)n, 0.0f, 0);
    run_case("sumsq of 100003 (10007 small)", CLVAE_REDUCE_SUMSQ, sh, n, 1.0f, 0.0f, 0);
    run_case("non-finite count", CLVAE_REDUCE_NONFINITE, sh, n, 1.0f, 0.0f, 1);
    run_case("sum with NaN and Inf is NaN", CLVAE_REDUCE_SUM, sh, n, 1.0f, 0.0f, 1);
    run_case("tiny", CLVAE_REDUCE_SUM, (clvae_reduce_shape_t){1, 1, 1, 0, 0}, 1, 1.0f, 0.0f, 0);
}

static void t_beta_zero_overwrites_nan(void)
{
    float x[4] = {1, 2, 3, 4}, o = NAN;
    clvae_buf_t bx = tu_upload(ctx, x, 4), bo = tu_upload(ctx, &o, 1);
    clvae_error_t err = {0};
    CHECK(clvae_reduce_all(ctx, bo, bx, CLVAE_REDUCE_SUM, 1.0f, 4, &err) == CLVAE_OK, "%s",
          err.msg);
    float *got = tu_download(ctx, bo, 1);
    CHECK(got && got[0] == 10.0f, "sum %g", got ? (double)got[0] : -1.0);
    free(got);
    clvae_buf_free(&bx);
    clvae_buf_free(&bo);
}

/* Copies cl/NAME.cl from the source tree into dir, with text put in front. */
static int copy_kernel(const char *dir, const char *name, const char *front)
{
    char src[512], dst[512];
    const char *kd = getenv("CLVAE_KERNEL_DIR");
    snprintf(src, sizeof src, "%s/%s.cl", kd && *kd ? kd : "cl", name);
    snprintf(dst, sizeof dst, "%s/%s.cl", dir, name);
    FILE *in = fopen(src, "rb"), *out = fopen(dst, "wb");
    int ok = in && out && fputs(front, out) >= 0;
    char buf[4096];
    size_t n;
    while (ok && (n = fread(buf, 1, sizeof buf, in)) > 0) ok = fwrite(buf, 1, n, out) == n;
    if (in) fclose(in);
    if (out && fclose(out) != 0) ok = 0;
    return ok;
}

/* The count of 5 non-finite values among 12 (NaN of both signs, both infinities; the largest
 * finite, denormal and zero values do not count), whole and in 3 rows. */
static void check_nonfinite_count(clvae_ctx_t *c, const char *label)
{
    clvae_error_t err = {0};
    const float big = 3.4028235e38f, tiny = 1.4e-45f;
    float x[12] = {1.0f, NAN, -NAN, INFINITY, -INFINITY, big, -big, tiny, -0.0f, 0.0f, NAN, 2.0f};
    clvae_buf_t bx = tu_upload(c, x, 12), bo = tu_zeros(c, 3);
    REQUIRE(bx.mem && bo.mem, "upload");
    clvae_reduce_shape_t all = {1, 1, 12, 0, 0}, rows = {3, 1, 4, 0, 4};
    CHECK(clvae_reduce_forward(c, bo, bx, CLVAE_REDUCE_NONFINITE, 1.0f, 0.0f, all, &err) ==
              CLVAE_OK, "%s", err.msg);
    float *got = tu_download(c, bo, 3);
    CHECK(got && got[0] == 5.0f, "%s: %g non-finite of 12, want 5", label,
          got ? (double)got[0] : -1.0);
    free(got);
    CHECK(clvae_reduce_forward(c, bo, bx, CLVAE_REDUCE_NONFINITE, 1.0f, 0.0f, rows, &err) ==
              CLVAE_OK, "%s", err.msg);
    got = tu_download(c, bo, 3);
    CHECK(got && got[0] == 3.0f && got[1] == 1.0f && got[2] == 1.0f,
          "%s: rows %g %g %g, want 3 1 1", label, got ? (double)got[0] : -1.0,
          got ? (double)got[1] : -1.0, got ? (double)got[2] : -1.0);
    free(got);
    clvae_buf_free(&bx);
    clvae_buf_free(&bo);
}

/* The non-finite count must hold under -cl-fast-relaxed-math too (the training guard relies
 * on it): on pocl, and with a compiler that folds isfinite()/isnan()/isinf() to constants as
 * finite-only maths allows (emulated by macros in front of the kernel sources). */
static void t_nonfinite_with_fast_math(void)
{
    char dir[] = "/tmp/clvae-folding-XXXXXX";
    REQUIRE(mkdtemp(dir), "mkdtemp");
    int copied = copy_kernel(dir, "common",
                             "#define isfinite(x) 1\n#define isnan(x) 0\n#define isinf(x) 0\n") &&
                 copy_kernel(dir, "reduce", "");
    CHECK(copied, "cannot copy the kernels into %s", dir);
    for (int folding = 0; folding < 2 && copied; folding++) {
        clvae_ctx_opts_t o;
        clvae_ctx_opts_from_env(&o);
        o.fast_math = 1;
        if (folding) o.kernel_dir = dir;
        /* the macros that emulate the folding compiler redefine builtins: a warning, not an
         * error, for this build only (CLVAE_CL_WERROR is on in the tests) */
        if (folding) o.werror = 0;
        clvae_ctx_t *fast = NULL;
        clvae_error_t err = {0};
        CHECK(clvae_ctx_init(&fast, &o, &err) == CLVAE_OK, "%s", err.msg);
        if (fast) check_nonfinite_count(fast, folding ? "folding compiler" : "fast math");
        clvae_ctx_free(fast);
    }
    char path[600];
    const char *names[] = {"common", "reduce"};
    for (int i = 0; i < 2; i++) {
        snprintf(path, sizeof path, "%s/%s.cl", dir, names[i]);
        remove(path);
    }
    rmdir(dir);
}

static void t_invalid_arguments(void)
{
    clvae_buf_t b = tu_zeros(ctx, 8);
    clvae_error_t err = {0};
    clvae_reduce_shape_t zero = {0, 1, 8, 0, 8};
    CHECK(clvae_reduce_forward(ctx, b, b, CLVAE_REDUCE_SUM, 1, 0, zero, &err) ==
              CLVAE_ERR_INVALID, "R=0 accepted");
    clvae_reduce_shape_t ok = {1, 1, 8, 0, 8};
    CHECK(clvae_reduce_forward(ctx, b, b, (clvae_reduce_op_t)7, 1, 0, ok, &err) ==
              CLVAE_ERR_INVALID, "op 7 accepted");
    clvae_reduce_shape_t huge = {2, 1, 8, 0, (size_t)1 << 33};
    CHECK(clvae_reduce_forward(ctx, b, b, CLVAE_REDUCE_SUM, 1, 0, huge, &err) ==
              CLVAE_ERR_INVALID, "index over 2^32 accepted");
    clvae_buf_free(&b);
}

int main(void)
{
    ctx = tu_ctx();
    if (!ctx) return 1;
    RUN(t_per_example_sums);
    RUN(t_per_channel_sums);
    RUN(t_column_sums);
    RUN(t_whole_array_and_nonfinite);
    RUN(t_beta_zero_overwrites_nan);
    RUN(t_nonfinite_with_fast_math);
    RUN(t_invalid_arguments);
    tu_print_errors();
    clvae_ctx_free(ctx);
    return TEST_EXIT();
}
