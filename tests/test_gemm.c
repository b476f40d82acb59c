/* clvae_gemm's own paths in cl/gemm.cl, the thin one (m or the inner dimension k at most
 * gemm.thin_max, default 4) and the block one (B not transposed; k at most gemm_block.max_k, or
 * a small C with a long k split into slices), against a double reference and against CLBlast,
 * with every transpose, beta 0 and 1, offsets and row strides wider than the matrices; which
 * path ran, by the launch counter. */
#define TEST_FILE "test_gemm"
#include "ref/ref.h"
#include "test.h"
#include "testutil.h"

#include <math.h>

#include "clvae/device/blas.h"
#include "clvae/device/tuning.h"
#include "device/tuning_internal.h"

static clvae_ctx_t *ctx;

static uint64_t launches_now(void)
{
    clvae_counters_t c;
    clvae_ctx_counters(ctx, &c);
    return c.launches;
}

/* One call on the device at offsets 3, 5 and 7 with row strides 2 wider than needed; returns the
 * worst error against the reference relative to (1 + |want|) and the launches it made. */
static double run_case(int ta, int tb, size_t m, size_t n, size_t k, float beta,
                       uint64_t *launches, clvae_error_t *err)
{
    size_t lda = (ta ? m : k) + 2, ldb = (tb ? k : n) + 2, ldc = n + 2;
    size_t na = 3 + (ta ? k : m) * lda, nb = 5 + (tb ? n : k) * ldb, nc = 7 + m * ldc;
    float *a = malloc(na * sizeof *a), *b = malloc(nb * sizeof *b), *c = malloc(nc * sizeof *c);
    double *want = malloc(m * ldc * sizeof *want);
    uint64_t seed = 11 + m * 7 + n * 5 + k * 3 + (size_t)ta * 2 + (size_t)tb;
    tu_rand(a, na, -1, 1, &seed);
    tu_rand(b, nb, -1, 1, &seed);
    tu_rand(c, nc, -1, 1, &seed);
    clvae_gemm_ref(want, a + 3, b + 5, c + 7, ta, tb, m, n, k, lda, ldb, ldc, 0.5, beta);
    clvae_buf_t ba = tu_upload(ctx, a, na), bb = tu_upload(ctx, b, nb), bc = tu_upload(ctx, c, nc);
    uint64_t before = launches_now();
    double worst = INFINITY;
    if (clvae_gemm(ctx, ta, tb, m, n, k, 0.5f, clvae_buf_at(ba, 3), lda, clvae_buf_at(bb, 5),
                   ldb, beta, clvae_buf_at(bc, 7), ldc, err) == CLVAE_OK &&
        clvae_buf_download(ctx, c, bc, nc, err) == CLVAE_OK) {
        worst = 0;
        for (size_t i = 0; i < m; i++)
            for (size_t j = 0; j < ldc; j++) {
                /* the padding columns of C stay as they were */
                double w = j < n ? want[i * ldc + j] : (double)c[7 + i * ldc + j];
                double e = fabs((double)c[7 + i * ldc + j] - w) / (1 + fabs(w));
                if (!(e <= worst)) worst = e;
            }
    }
    *launches = launches_now() - before;
    clvae_buf_free(&ba), clvae_buf_free(&bb), clvae_buf_free(&bc);
    free(a), free(b), free(c), free(want);
    return worst;
}

/* One call (op(A) [m, k] with A transposed when bit 0 of t is set, op(B) [k, n] with B
 * transposed when bit 1 is, beta 0) made twice on the same inputs: 1 when both ran and gave the
 * same bits; *launches: clvae's own kernels launched. */
static int same_twice(int t, size_t m, size_t n, size_t k, uint64_t seed, uint64_t *launches)
{
    int ta = t & 1, tb = t >> 1;
    float *a = malloc(m * k * sizeof *a), *b = malloc(k * n * sizeof *b);
    float *c1 = malloc(m * n * sizeof *c1), *c2 = malloc(m * n * sizeof *c2);
    tu_rand(a, m * k, -1, 1, &seed);
    tu_rand(b, k * n, -1, 1, &seed);
    clvae_buf_t ba = tu_upload(ctx, a, m * k), bb = tu_upload(ctx, b, k * n);
    clvae_buf_t bc = tu_zeros(ctx, m * n);
    clvae_error_t err = {0};
    float *out[2] = {c1, c2};
    int ok = 1;
    uint64_t before = launches_now();
    for (int r = 0; r < 2; r++)
        ok &= clvae_gemm(ctx, ta, tb, m, n, k, 1.0f, ba, ta ? m : k, bb, tb ? k : n, 0.0f, bc,
                         n, &err) == CLVAE_OK &&
              clvae_buf_download(ctx, out[r], bc, m * n, &err) == CLVAE_OK;
    *launches = launches_now() - before;
    ok = ok && memcmp(c1, c2, m * n * sizeof *c1) == 0;
    clvae_buf_free(&ba), clvae_buf_free(&bb), clvae_buf_free(&bc);
    free(a), free(b), free(c1), free(c2);
    return ok;
}

/* Thin shapes (a one-filter conv's three GEMMs, the latent layer's inner dimension of 2, m of 4,
 * an n of 2 alone: the latent layer's outputs, run as the transpose) by the thin kernel, then by
 * CLBlast (gemm.thin_max 0); a square 8^3 by CLBlast either way (the block and dot kernels off:
 * gemm_block.max_k 0, gemm_dot.min_k 0). */
static void t_thin_against_reference(void)
{
    clvae_error_t e0 = {0};
    REQUIRE(clvae_tuning_set(ctx, "gemm_block.max_k", 0, &e0) == CLVAE_OK &&
                clvae_tuning_set(ctx, "gemm_dot.min_k", 0, &e0) == CLVAE_OK,
            "%s", e0.msg);
    static const size_t shapes[][3] = {{128, 2, 300}, {300, 2, 128}, {128, 300, 2},
                                       {1, 500, 27},  {1, 27, 500},  {27, 500, 1},
                                       {4, 4, 4},     {37, 3, 19},   {8, 8, 8}};
    for (int thin = 1; thin >= 0; thin--) {
        clvae_error_t err = {0};
        REQUIRE(clvae_tuning_set(ctx, "gemm.thin_max", thin ? 4 : 0, &err) == CLVAE_OK, "%s",
                err.msg);
        for (size_t s = 0; s < sizeof shapes / sizeof *shapes; s++)
            for (int t = 0; t < 4; t++)
                for (int beta = 0; beta < 2; beta++) {
                    size_t m = shapes[s][0], n = shapes[s][1], k = shapes[s][2];
                    uint64_t launches = 0;
                    double e = run_case(t & 1, t >> 1, m, n, k, (float)beta, &launches, &err);
                    int want_thin = thin && (m <= 4 || k <= 4 || n <= 4);
                    CHECK(e <= 1e-5, "%s %s%s %zux%zux%zu beta %d: error %.3g %s",
                          thin ? "thin" : "CLBlast", t & 1 ? "AT" : "A", t >> 1 ? "BT" : "B", m,
                          n, k, beta, e, err.msg);
                    CHECK(launches == (want_thin ? 1u : 0u),
                          "%zux%zux%zu (thin_max %d): %llu launches of clvae's own kernels", m, n,
                          k, thin ? 4 : 0, (unsigned long long)launches);
                }
    }
    clvae_tuning_unset(ctx, "gemm.thin_max");
    clvae_tuning_unset(ctx, "gemm_block.");
    clvae_tuning_unset(ctx, "gemm_dot.");
}

/* The thin kernel's sums run in a fixed order: two runs, the same bits (m = 3: thin; n = 2:
 * thin, as the transpose). */
static void t_deterministic(void)
{
    uint64_t launches;
    CHECK(same_twice(0, 3, 64, 2000, 5, &launches), "two runs differ");
    CHECK(launches == 2, "not the thin kernel: %llu launches", (unsigned long long)launches);
    CHECK(same_twice(1, 64, 2, 2000, 6, &launches), "two runs differ (n = 2)");
    CHECK(launches == 2, "n = 2: not the thin kernel: %llu launches",
          (unsigned long long)launches);
}

/* The block kernel over each of several block shapes (gemm_block.m x gemm_block.n), on shapes
 * with whole blocks only, partial ones at the right and bottom edges, and fewer rows or columns
 * than one block; A transposed or not, beta 0 and 1. B transposed, k above gemm_block.max_k,
 * or max_k 0 go to CLBlast (no launch of clvae's own), m or k <= 4 to the thin kernel. */
static void t_block_against_reference(void)
{
    static const size_t shapes[][3] = {{16, 32, 64}, {13, 37, 5}, {24, 48, 17}, {17, 33, 64},
                                       {5, 100, 9},  {40, 7, 12}, {9, 9, 65}};
    static const int blocks[][2] = {{8, 16}, {1, 8}, {4, 32}, {16, 8}, {2, 16}};
    clvae_error_t err = {0};
    REQUIRE(clvae_tuning_set(ctx, "gemm_block.max_k", 64, &err) == CLVAE_OK &&
                clvae_tuning_set(ctx, "gemm_block.split", 0, &err) == CLVAE_OK,
            "%s", err.msg);
    for (size_t bl = 0; bl < sizeof blocks / sizeof *blocks; bl++) {
        REQUIRE(clvae_tuning_set(ctx, "gemm_block.m", blocks[bl][0], &err) == CLVAE_OK &&
                    clvae_tuning_set(ctx, "gemm_block.n", blocks[bl][1], &err) == CLVAE_OK,
                "%s", err.msg);
        for (size_t s = 0; s < sizeof shapes / sizeof *shapes; s++)
            for (int t = 0; t < 4; t++)
                for (int beta = 0; beta < 2; beta++) {
                    size_t m = shapes[s][0], n = shapes[s][1], k = shapes[s][2];
                    uint64_t launches = 0;
                    double e = run_case(t & 1, t >> 1, m, n, k, (float)beta, &launches, &err);
                    int own = !(t >> 1) && k <= 64;
                    CHECK(e <= 1e-5, "block %dx%d %s%s %zux%zux%zu beta %d: error %.3g %s",
                          blocks[bl][0], blocks[bl][1], t & 1 ? "AT" : "A", t >> 1 ? "BT" : "B",
                          m, n, k, beta, e, err.msg);
                    CHECK(launches == (own ? 1u : 0u),
                          "block %dx%d %s%s %zux%zux%zu: %llu launches of clvae's own kernels",
                          blocks[bl][0], blocks[bl][1], t & 1 ? "AT" : "A", t >> 1 ? "BT" : "B",
                          m, n, k, (unsigned long long)launches);
                }
    }
    /* max_k 0: CLBlast for all of them */
    REQUIRE(clvae_tuning_set(ctx, "gemm_block.max_k", 0, &err) == CLVAE_OK, "%s", err.msg);
    uint64_t launches = 0;
    double e = run_case(1, 0, 24, 48, 17, 1.0f, &launches, &err);
    CHECK(e <= 1e-5 && launches == 0, "max_k 0: error %.3g, %llu launches", e,
          (unsigned long long)launches);
    clvae_tuning_unset(ctx, "gemm_block.");
}

/* A small C with a long inner dimension (the convs' weight gradients) split over k on the block
 * kernel (gemm_block.split 1): the slices' launch and their sum's, 2 launches; k not a multiple
 * of the slices' length; A transposed or not, beta 0 and 1; gemm_block.split 0 sends the same
 * calls to CLBlast. Then two runs of one split call give the same bits. */
static void t_block_split(void)
{
    static const size_t shapes[][3] = {{16, 24, 3001}, {9, 40, 1100}, {3 * 8 + 5, 17, 700}};
    clvae_error_t err = {0};
    REQUIRE(clvae_tuning_set(ctx, "gemm_block.max_k", 64, &err) == CLVAE_OK, "%s", err.msg);
    for (int split = 1; split >= 0; split--) {
        REQUIRE(clvae_tuning_set(ctx, "gemm_block.split", split, &err) == CLVAE_OK, "%s",
                err.msg);
        for (size_t s = 0; s < sizeof shapes / sizeof *shapes; s++)
            for (int ta = 0; ta < 2; ta++)
                for (int beta = 0; beta < 2; beta++) {
                    size_t m = shapes[s][0], n = shapes[s][1], k = shapes[s][2];
                    uint64_t launches = 0;
                    double e = run_case(ta, 0, m, n, k, (float)beta, &launches, &err);
                    /* float sums of k terms: rounding grows like sqrt(k) (CLBlast 1.9e-5 at
                     * k = 3001) */
                    CHECK(e <= 3e-5 * sqrt((double)k / 1000.0),
                          "split %d %sB %zux%zux%zu beta %d: error %.3g %s", split,
                          ta ? "AT" : "A", m, n, k, beta, e, err.msg);
                    CHECK(launches == (split ? 2u : 0u),
                          "split %d %zux%zux%zu: %llu launches of clvae's own kernels", split, m,
                          n, k, (unsigned long long)launches);
                }
    }
    /* the same bits twice */
    REQUIRE(clvae_tuning_set(ctx, "gemm_block.split", 1, &err) == CLVAE_OK, "%s", err.msg);
    uint64_t launches;
    CHECK(same_twice(0, 16, 24, 3001, 13, &launches) && launches == 4, "two split runs differ");
    clvae_tuning_unset(ctx, "gemm_block.");
}

/* The block kernel's sums run in a fixed order too: two runs, the same bits. */
static void t_block_deterministic(void)
{
    clvae_error_t err = {0};
    REQUIRE(clvae_tuning_set(ctx, "gemm_block.max_k", 64, &err) == CLVAE_OK, "%s", err.msg);
    uint64_t launches;
    CHECK(same_twice(1, 40, 50, 64, 9, &launches), "two runs differ");
    CHECK(launches == 2, "not the block kernel: %llu launches", (unsigned long long)launches);
    clvae_tuning_unset(ctx, "gemm_block.");
}

/* The untuned defaults (no gemm_block.* or gemm_dot.* key set): on pocl's CPU device every
 * call with B not transposed goes to the block kernel, a long inner dimension whole (AB
 * 16x40x500, one launch) and a small C with a long k split first whatever max_k (AB 16x24x3001:
 * slices and their sum, 2 launches); A B^T with k >= 256 to the dot kernel (ABT 16x40x500, one
 * launch; ABT 64x288x25088 the conv weight gradient's, whole or split: 1 or 2), a shorter k to
 * CLBlast (ABT 16x40x200). Elsewhere CLBlast takes them all. */
static void t_block_defaults(void)
{
    static const struct { int tb; size_t m, n, k; unsigned pocl; } cs[6] = {
        {0, 16, 40, 500, 1}, {0, 16, 24, 3001, 2}, {1, 16, 40, 500, 1},
        {1, 16, 40, 200, 0}, {1, 64, 288, 0, 3}, {1, 7, 5, 3001, 2}};
    int pocl = clvae_device_is_pocl_cpu(ctx);
    clvae_tuning_unset(ctx, "gemm_block.");
    clvae_tuning_unset(ctx, "gemm_dot.");
    for (int c = 0; c < 6; c++) {
        clvae_error_t err = {0};
        uint64_t launches = 0;
        /* k 0: the weight gradient's 25,088 (3,001 under Oclgrind, CLVAE_TEST_SMALL) */
        size_t k = cs[c].k ? cs[c].k : tu_size(25088, 3001);
        double e = run_case(0, cs[c].tb, cs[c].m, cs[c].n, k, 1.0f, &launches, &err);
        CHECK(e <= 3e-5 * sqrt((double)k / 1000.0), "A%s %zux%zux%zu: error %.3g %s",
              cs[c].tb ? "BT" : "B", cs[c].m, cs[c].n, k, e, err.msg);
        /* 3: one launch or two (whole or split: how many slices depends on the work-group
         * size, 1,152 blocks of C are enough for some) */
        unsigned want = pocl ? cs[c].pocl : 0u;
        int ok = want == 3u ? launches == 1u || launches == 2u : launches == want;
        CHECK(ok, "A%s %zux%zux%zu: %llu launches of clvae's own kernels, not %s%u",
              cs[c].tb ? "BT" : "B", cs[c].m, cs[c].n, k, (unsigned long long)launches,
              want == 3u ? "1 or " : "", want == 3u ? 2u : want);
    }
}

/* The dot kernel (C = op(A) B^T, k contiguous in both) against the reference: k a multiple of 8
 * and not (the tail after the vectors), edge blocks (m, n not multiples of 4, fewer than 4),
 * whole and split over k (the split's slices a multiple of 8 long), beta 0 and 1; then two runs
 * of a split call, the same bits. A transposed goes elsewhere (no launch of the dot kernel's). */
static void t_dot_against_reference(void)
{
    static const size_t shapes[][3] = {{16, 24, 256}, {13, 37, 263}, {3, 2, 300},
                                       {9, 5, 3001},  {64, 7, 4099}, {1, 9, 1000}};
    clvae_error_t err = {0};
    REQUIRE(clvae_tuning_set(ctx, "gemm_dot.min_k", 256, &err) == CLVAE_OK &&
                clvae_tuning_set(ctx, "gemm.thin_max", 0, &err) == CLVAE_OK,
            "%s", err.msg);
    for (size_t sh = 0; sh < sizeof shapes / sizeof *shapes; sh++)
        for (int beta = 0; beta < 2; beta++) {
            size_t m = shapes[sh][0], n = shapes[sh][1], k = shapes[sh][2];
            uint64_t launches = 0;
            double e = run_case(0, 1, m, n, k, (float)beta, &launches, &err);
            CHECK(e <= 3e-5 * sqrt((double)k / 1000.0), "dot ABT %zux%zux%zu beta %d: error %.3g %s",
                  m, n, k, beta, e, err.msg);
            CHECK(launches == 1u || launches == 2u,
                  "dot ABT %zux%zux%zu: %llu launches of clvae's own kernels", m, n, k,
                  (unsigned long long)launches);
        }
    uint64_t launches = 0;
    double e = run_case(1, 1, 16, 24, 500, 1.0f, &launches, &err);
    CHECK(e <= 1e-5 && launches == 0, "ATBT 16x24x500: error %.3g, %llu launches", e,
          (unsigned long long)launches);
    REQUIRE(clvae_tuning_set(ctx, "gemm_dot.min_k", 0, &err) == CLVAE_OK, "%s", err.msg);
    e = run_case(0, 1, 16, 24, 500, 1.0f, &launches, &err);
    CHECK(e <= 1e-5 && launches == 0, "min_k 0: error %.3g, %llu launches", e,
          (unsigned long long)launches);
    /* split (2 launches a call): the same bits twice */
    REQUIRE(clvae_tuning_set(ctx, "gemm_dot.min_k", 256, &err) == CLVAE_OK, "%s", err.msg);
    CHECK(same_twice(2, 16, 24, 3001, 17, &launches) && launches == 4,
          "two split dot runs differ (%llu launches)", (unsigned long long)launches);
    clvae_tuning_unset(ctx, "gemm_dot.");
    clvae_tuning_unset(ctx, "gemm.thin_max");
    /* thin A with a long k and a wide n (a one-filter conv's weight gradient) goes to the dot
     * kernel where it runs (min_k), to gemm_thin where it does not, and is right either way */
    clvae_gemm_shape_t one = {0, 1, 1, 288, 1200, 1200, 1200, 288, 0, 1, -1, 0};
    for (int dk = 0; dk < 2; dk++) {
        REQUIRE(clvae_tuning_set(ctx, "gemm_dot.min_k", dk ? 256 : 0, &err) == CLVAE_OK, "%s",
                err.msg);
        int own = clvae_gemm_shape_own(ctx, &one);
        CHECK(own == (dk ? 3 : 1), "ABT 1x288x1200 with gemm_dot.min_k %d: kernel %d", dk ? 256 : 0,
              own);
        e = run_case(0, 1, 1, 288, 1200, 0.0f, &launches, &err);
        CHECK(e <= 3e-5 * sqrt(1.2) && (launches == 1u || launches == 2u),
              "ABT 1x288x1200 (min_k %d): error %.3g, %llu launches %s", dk ? 256 : 0, e,
              (unsigned long long)launches, err.msg);
    }
    clvae_tuning_unset(ctx, "gemm_dot.");
}

int main(void)
{
    ctx = tu_ctx();
    if (!ctx) return 1;
    RUN(t_thin_against_reference);
    RUN(t_deterministic);
    RUN(t_block_against_reference);
    RUN(t_block_deterministic);
    RUN(t_block_split);
    RUN(t_block_defaults);
    RUN(t_dot_against_reference);
    clvae_ctx_free(ctx);
    return TEST_EXIT();
}
