/* Vector quantization: nearest codes and ties, the quantized map and its term, the
 * straight-through and commitment gradients (central differences), the codebook gradient, the
 * moving averages step by step, dead-code restarts, statistics, determinism, bad input. */
#define TEST_FILE "test_vq"
#include "ref/ref.h"
#include "test.h"
#include "testutil.h"

#include <math.h>

#include "clvae/ops/rng.h"
#include "clvae/ops/vq.h"

static clvae_ctx_t *ctx;

/* One case's host arrays and device buffers. */
typedef struct vq_case {
    clvae_vq_shape_t sh;
    size_t R, S;                 /* rows N*P, values N*D*P */
    float *z, *E;
    clvae_buf_t bz, bE, bq, bterm, bcodes, brows, bdots, bnorms, bcounts, bsums;
} vq_case_t;

static void case_make(vq_case_t *c, size_t N, size_t D, size_t P, size_t K, uint64_t seed)
{
    memset(c, 0, sizeof *c);
    clvae_vq_shape_t sh = {N, D, P, K};
    c->sh = sh;
    c->R = N * P;
    c->S = N * D * P;
    c->z = malloc(c->S * sizeof *c->z);
    c->E = malloc(K * D * sizeof *c->E);
    tu_rand(c->z, c->S, -1.0f, 1.0f, &seed);
    tu_rand(c->E, K * D, -1.0f, 1.0f, &seed);
    c->bz = tu_upload(ctx, c->z, c->S);
    c->bE = tu_upload(ctx, c->E, K * D);
    c->bq = tu_zeros(ctx, c->S);
    c->bterm = tu_zeros(ctx, N);
    c->bcodes = tu_zeros(ctx, c->R);
    c->brows = tu_zeros(ctx, c->R * D);
    c->bdots = tu_zeros(ctx, c->R * K);
    c->bnorms = tu_zeros(ctx, K);
    c->bcounts = tu_zeros(ctx, K);
    c->bsums = tu_zeros(ctx, K * D);
}

static void case_free(vq_case_t *c)
{
    clvae_buf_t *b[] = {&c->bz, &c->bE, &c->bq, &c->bterm, &c->bcodes, &c->brows, &c->bdots,
                        &c->bnorms, &c->bcounts, &c->bsums};
    for (size_t i = 0; i < sizeof b / sizeof *b; i++) clvae_buf_free(b[i]);
    free(c->z);
    free(c->E);
}

/* Assign + embed on the device. */
static int case_forward(vq_case_t *c, clvae_error_t *err)
{
    return clvae_vq_assign(ctx, c->bcodes, c->brows, c->bdots, c->bnorms, c->bz, c->bE, c->sh,
                           err) == CLVAE_OK &&
           clvae_vq_embed(ctx, c->bq, c->bterm, c->bz, c->bcodes, c->bE, c->sh, err) == CLVAE_OK;
}

/* Nearest codes, q and term against the reference for several shapes; rows whose two nearest
 * codes are within rounding of each other are not compared (counted). */
static void t_assign_embed_vs_reference(void)
{
    static const size_t shapes[][4] = {{3, 4, 5, 7}, {2, 16, 49, 64}, {4, 8, 9, 512}, {1, 1, 1, 2}};
    for (size_t s = 0; s < sizeof shapes / sizeof *shapes; s++) {
        vq_case_t c;
        case_make(&c, shapes[s][0], shapes[s][1], shapes[s][2], shapes[s][3], 0x5eed + s);
        clvae_error_t err = {0};
        REQUIRE(case_forward(&c, &err), "forward: %s", err.msg);
        double *z = tu_double(c.z, c.S), *E = tu_double(c.E, c.sh.K * c.sh.D);
        double *codes = malloc(c.R * sizeof *codes), *margin = malloc(c.R * sizeof *margin);
        double *q = malloc(c.S * sizeof *q), *term = malloc(c.sh.N * sizeof *term);
        float *gcodes = tu_download(ctx, c.bcodes, c.R);
        clvae_vq_assign_ref(codes, margin, z, E, c.sh);
        size_t close = 0, bad = 0;
        for (size_t r = 0; r < c.R; r++) {
            if (margin[r] < 1e-4) close++;
            else if (gcodes[r] != (float)codes[r]) bad++;
        }
        CHECK(bad == 0, "shape %zu: %zu of %zu codes differ", s, bad, c.R);
        CHECK(close * 10 < c.R + 10, "shape %zu: %zu near ties: the case tests little", s, close);
        /* q and term from the device's own codes */
        double *dc = tu_double(gcodes, c.R);
        clvae_vq_embed_ref(q, term, z, dc, E, c.sh);
        float *gq = tu_download(ctx, c.bq, c.S), *gt = tu_download(ctx, c.bterm, c.sh.N);
        CHECK(tu_close("vq_embed", gq, q, c.S, 0, 0, NULL), "shape %zu q", s);
        CHECK(tu_close("vq_term", gt, term, c.sh.N, 1e-5, 1e-5, NULL), "shape %zu term", s);
        free(z), free(E), free(codes), free(margin), free(q), free(term), free(gcodes), free(dc);
        free(gq), free(gt);
        case_free(&c);
    }
}

/* Ties go to the lowest index: duplicated code vectors, and a point halfway between two. */
static void t_ties_lowest_index(void)
{
    clvae_vq_shape_t sh = {1, 2, 3, 4};
    /* codes: 0 far, 1 = (1, 0), 2 = (-1, 0), 3 = (1, 0) again */
    float E[] = {5, 5, 1, 0, -1, 0, 1, 0};
    /* positions (channel-first): (0,0) halfway between 1 and 2; (1,0) exactly code 1 and 3;
     * (-1, 0) exactly code 2 */
    float z[] = {0, 1, -1, 0, 0, 0};
    clvae_buf_t bz = tu_upload(ctx, z, 6), bE = tu_upload(ctx, E, 8), codes = tu_zeros(ctx, 3);
    clvae_buf_t rows = tu_zeros(ctx, 6), dots = tu_zeros(ctx, 12), norms = tu_zeros(ctx, 4);
    clvae_error_t err = {0};
    CHECK(clvae_vq_assign(ctx, codes, rows, dots, norms, bz, bE, sh, &err) == CLVAE_OK, "%s",
          err.msg);
    float *g = tu_download(ctx, codes, 3);
    CHECK(g && g[0] == 1.0f && g[1] == 1.0f && g[2] == 2.0f, "codes %g %g %g, want 1 1 2",
          g ? (double)g[0] : -1, g ? (double)g[1] : -1, g ? (double)g[2] : -1);
    free(g);
    clvae_buf_t *b[] = {&bz, &bE, &codes, &rows, &dots, &norms};
    for (size_t i = 0; i < 6; i++) clvae_buf_free(b[i]);
}

/* dz = dq + 2 beta scale (z - q): the commitment part against central differences of
 * scale * beta * term(z) with the codes held (small steps do not change them), the
 * straight-through part exactly dq. */
static void t_backward_by_differences(void)
{
    vq_case_t c;
    case_make(&c, 2, 3, 4, 5, 0xbac);
    clvae_error_t err = {0};
    REQUIRE(case_forward(&c, &err), "%s", err.msg);
    float beta = 0.25f, scale = 0.5f;
    float *dq = malloc(c.S * sizeof *dq), *zero = calloc(c.S, sizeof *zero);
    uint64_t seed = 7;
    tu_rand(dq, c.S, -1.0f, 1.0f, &seed);
    clvae_buf_t bdq = tu_upload(ctx, dq, c.S), bdz = tu_zeros(ctx, c.S), bz0 = tu_zeros(ctx, c.S);
    REQUIRE(clvae_vq_backward(ctx, bdz, bdq, c.bz, c.bq, beta, scale, c.sh, &err) == CLVAE_OK,
            "%s", err.msg);
    /* the straight-through part alone: beta 0 */
    REQUIRE(clvae_vq_backward(ctx, bz0, bdq, c.bz, c.bq, 0.0f, scale, c.sh, &err) == CLVAE_OK,
            "%s", err.msg);
    float *gdz = tu_download(ctx, bdz, c.S), *gst = tu_download(ctx, bz0, c.S);
    double *want = malloc(c.S * sizeof *want), *dqd = tu_double(dq, c.S);
    CHECK(tu_close("vq straight-through", gst, dqd, c.S, 0, 0, NULL), "dz = dq with beta 0");
    float *codes = tu_download(ctx, c.bcodes, c.R);
    double *z = tu_double(c.z, c.S), *E = tu_double(c.E, c.sh.K * c.sh.D);
    double *dc = tu_double(codes, c.R), *q = malloc(c.S * sizeof *q), t1[2], t2[2];
    const double h = 1e-4;
    for (size_t i = 0; i < c.S; i++) {
        double keep = z[i];
        z[i] = keep + h;
        clvae_vq_embed_ref(q, t1, z, dc, E, c.sh);
        z[i] = keep - h;
        clvae_vq_embed_ref(q, t2, z, dc, E, c.sh);
        z[i] = keep;
        size_t n = i / (c.sh.D * c.sh.P);
        want[i] = dq[i] + scale * beta * (t1[n] - t2[n]) / (2 * h);
    }
    CHECK(tu_close("vq_backward", gdz, want, c.S, 1e-4, 1e-3, NULL), "commitment gradient");
    free(dq), free(zero), free(gdz), free(gst), free(want), free(dqd), free(codes), free(z);
    free(E), free(dc), free(q);
    clvae_buf_free(&bdq), clvae_buf_free(&bdz), clvae_buf_free(&bz0);
    case_free(&c);
}

/* The codebook gradient (update = loss) against central differences of scale * sum_n term_n
 * with respect to E, codes held; counts and sums against the reference. */
static void t_codebook_grad_by_differences(void)
{
    vq_case_t c;
    case_make(&c, 3, 2, 5, 4, 0xc0de);
    clvae_error_t err = {0};
    REQUIRE(case_forward(&c, &err), "%s", err.msg);
    REQUIRE(clvae_vq_counts(ctx, c.bcounts, c.bsums, c.brows, c.bcodes, c.sh, &err) == CLVAE_OK,
            "%s", err.msg);
    size_t KD = c.sh.K * c.sh.D;
    float *g0 = malloc(KD * sizeof *g0);
    uint64_t seed = 3;
    tu_rand(g0, KD, -1.0f, 1.0f, &seed);
    clvae_buf_t bdE = tu_upload(ctx, g0, KD);
    float scale = 0.3f;
    REQUIRE(clvae_vq_codebook_grad(ctx, bdE, c.bE, c.bcounts, c.bsums, scale, c.sh, &err) ==
                CLVAE_OK, "%s", err.msg);
    float *codes = tu_download(ctx, c.bcodes, c.R), *gdE = tu_download(ctx, bdE, KD);
    float *gcounts = tu_download(ctx, c.bcounts, c.sh.K), *gsums = tu_download(ctx, c.bsums, KD);
    double *z = tu_double(c.z, c.S), *E = tu_double(c.E, KD), *dc = tu_double(codes, c.R);
    double *counts = malloc(c.sh.K * sizeof *counts), *sums = malloc(KD * sizeof *sums);
    clvae_vq_counts_ref(counts, sums, z, dc, c.sh);
    CHECK(tu_close("vq_counts", gcounts, counts, c.sh.K, 0, 0, NULL), "counts");
    CHECK(tu_close("vq_sums", gsums, sums, KD, 1e-5, 1e-5, NULL), "sums");
    double *want = malloc(KD * sizeof *want), *q = malloc(c.S * sizeof *q);
    double *t1 = malloc(c.sh.N * sizeof *t1), *t2 = malloc(c.sh.N * sizeof *t2);
    const double h = 1e-4;
    for (size_t i = 0; i < KD; i++) {
        double keep = E[i], s1 = 0, s2 = 0;
        E[i] = keep + h;
        clvae_vq_embed_ref(q, t1, z, dc, E, c.sh);
        E[i] = keep - h;
        clvae_vq_embed_ref(q, t2, z, dc, E, c.sh);
        E[i] = keep;
        for (size_t n = 0; n < c.sh.N; n++) s1 += t1[n], s2 += t2[n];
        want[i] = g0[i] + scale * (s1 - s2) / (2 * h);
    }
    CHECK(tu_close("vq_codebook_grad", gdE, want, KD, 1e-4, 1e-3, NULL), "codebook gradient");
    free(g0), free(codes), free(gdE), free(gcounts), free(gsums), free(z), free(E), free(dc);
    free(counts), free(sums), free(want), free(q), free(t1), free(t2);
    clvae_buf_free(&bdE);
    case_free(&c);
}

/* Three steps of the moving averages on the device against the reference, step by step, with
 * the statistics of each batch. */
static void t_ema_step_by_step(void)
{
    vq_case_t c;
    case_make(&c, 4, 3, 6, 8, 0xe3a);
    size_t K = c.sh.K, KD = K * c.sh.D;
    float *ones = malloc(K * sizeof *ones);
    for (size_t k = 0; k < K; k++) ones[k] = 1.0f;
    clvae_buf_t bcl = tu_upload(ctx, ones, K), bavg = tu_upload(ctx, c.E, KD);
    clvae_buf_t bstats = tu_zeros(ctx, 3), none = {0};
    double *E = tu_double(c.E, KD), *cl = malloc(K * sizeof *cl), *avg = tu_double(c.E, KD);
    for (size_t k = 0; k < K; k++) cl[k] = 1.0;
    double *counts = malloc(K * sizeof *counts), *sums = malloc(KD * sizeof *sums), st[3];
    uint64_t seed = 11;
    clvae_error_t err = {0};
    for (int step = 0; step < 3; step++) {
        tu_rand(c.z, c.S, -1.0f, 1.0f, &seed);
        float *fz = c.z;
        REQUIRE(clvae_buf_upload(ctx, c.bz, fz, c.S, &err) == CLVAE_OK, "%s", err.msg);
        REQUIRE(case_forward(&c, &err) &&
                    clvae_vq_counts(ctx, c.bcounts, c.bsums, c.brows, c.bcodes, c.sh, &err) ==
                        CLVAE_OK &&
                    clvae_vq_stats(ctx, bstats, c.bcounts, none, c.sh, &err) == CLVAE_OK &&
                    clvae_vq_ema(ctx, c.bE, bcl, bavg, c.bcounts, c.bsums, 0.9f, 1e-5f, c.sh,
                                 &err) == CLVAE_OK,
                "step %d: %s", step, err.msg);
        float *codes = tu_download(ctx, c.bcodes, c.R);
        double *z = tu_double(c.z, c.S), *dc = tu_double(codes, c.R);
        clvae_vq_counts_ref(counts, sums, z, dc, c.sh);
        clvae_vq_stats_ref(st, counts, NULL, c.sh);
        clvae_vq_ema_ref(E, cl, avg, counts, sums, 0.9, 1e-5, c.sh);
        float *gE = tu_download(ctx, c.bE, KD), *gcl = tu_download(ctx, bcl, K);
        float *gavg = tu_download(ctx, bavg, KD), *gst = tu_download(ctx, bstats, 3);
        CHECK(tu_close("vq_ema cluster", gcl, cl, K, 1e-6, 1e-5, NULL), "step %d cluster", step);
        CHECK(tu_close("vq_ema avg", gavg, avg, KD, 1e-6, 1e-5, NULL), "step %d avg", step);
        CHECK(tu_close("vq_ema codebook", gE, E, KD, 1e-5, 1e-4, NULL), "step %d E", step);
        CHECK(tu_close("vq_stats", gst, st, 3, 1e-5, 1e-5, NULL), "step %d stats", step);
        /* continue from the device's state so rounding does not pile up */
        for (size_t i = 0; i < KD; i++) E[i] = gE[i], avg[i] = gavg[i];
        for (size_t k = 0; k < K; k++) cl[k] = gcl[k];
        free(codes), free(z), free(dc), free(gE), free(gcl), free(gavg), free(gst);
    }
    free(ones), free(E), free(cl), free(avg), free(counts), free(sums);
    clvae_buf_free(&bcl), clvae_buf_free(&bavg), clvae_buf_free(&bstats);
    case_free(&c);
}

/* A code unused for `after` steps restarts from a row of the batch chosen by the stream; the
 * others keep their vectors; flags and the restart count; the same again is bit-identical. */
static void t_dead_code_restart(void)
{
    vq_case_t c;
    case_make(&c, 2, 3, 4, 6, 0xdead);
    size_t K = c.sh.K, KD = K * c.sh.D;
    /* codes 4 and 5 far away: never assigned */
    for (size_t d = 0; d < c.sh.D; d++) c.E[4 * c.sh.D + d] = 50.0f, c.E[5 * c.sh.D + d] = -50.0f;
    clvae_error_t err = {0};
    REQUIRE(clvae_buf_upload(ctx, c.bE, c.E, KD, &err) == CLVAE_OK, "%s", err.msg);
    float unused0[6] = {0, 0, 0, 0, 1, 0};
    clvae_buf_t bun = tu_upload(ctx, unused0, K), bflags = tu_zeros(ctx, K), none = {0};
    clvae_buf_t bstats = tu_zeros(ctx, 3);
    double *E = tu_double(c.E, KD), *un = tu_double(unused0, K), flags[6], st[3];
    float u[6];
    double *z = tu_double(c.z, c.S), *counts = malloc(K * sizeof *counts);
    double *sums = malloc(KD * sizeof *sums);
    const long after = 2;
    for (int step = 0; step < 2; step++) {
        uint64_t seed = 99, offset = 1000 + (uint64_t)step;
        REQUIRE(case_forward(&c, &err) &&
                    clvae_vq_counts(ctx, c.bcounts, c.bsums, c.brows, c.bcodes, c.sh, &err) ==
                        CLVAE_OK &&
                    clvae_vq_restart(ctx, c.bE, none, none, bun, bflags, c.bcounts, c.brows,
                                     after, seed, offset, c.sh, &err) == CLVAE_OK &&
                    clvae_vq_stats(ctx, bstats, c.bcounts, bflags, c.sh, &err) == CLVAE_OK,
                "step %d: %s", step, err.msg);
        float *codes = tu_download(ctx, c.bcodes, c.R);
        double *dc = tu_double(codes, c.R);
        clvae_vq_counts_ref(counts, sums, z, dc, c.sh);
        clvae_rng_uniform_host(u, K, seed, offset);
        clvae_vq_restart_ref(E, NULL, NULL, un, flags, counts, z, after, u, c.sh);
        clvae_vq_stats_ref(st, counts, flags, c.sh);
        float *gE = tu_download(ctx, c.bE, KD), *gun = tu_download(ctx, bun, K);
        float *gfl = tu_download(ctx, bflags, K), *gst = tu_download(ctx, bstats, 3);
        CHECK(tu_close("vq_restart codebook", gE, E, KD, 0, 0, NULL), "step %d E", step);
        CHECK(tu_close("vq_restart unused", gun, un, K, 0, 0, NULL), "step %d unused", step);
        CHECK(tu_close("vq_restart flags", gfl, flags, K, 0, 0, NULL), "step %d flags", step);
        CHECK(tu_close("vq_stats restarts", gst, st, 3, 1e-5, 1e-5, NULL), "step %d", step);
        /* step 0 restarts code 4 (unused 1 -> 2), step 1 code 5 (0 -> 1 -> 2) */
        CHECK(gfl && gfl[4] == (step == 0) && gfl[5] == (step == 1), "step %d: flags %g %g",
              step, gfl ? (double)gfl[4] : -1, gfl ? (double)gfl[5] : -1);
        free(codes), free(dc), free(gE), free(gun), free(gfl), free(gst);
    }
    free(E), free(un), free(z), free(counts), free(sums);
    clvae_buf_free(&bun), clvae_buf_free(&bflags), clvae_buf_free(&bstats);
    case_free(&c);
}

/* Two runs of every op give identical bits. */
static void t_determinism(void)
{
    float *a[2] = {NULL, NULL}, *b[2] = {NULL, NULL};
    for (int run = 0; run < 2; run++) {
        vq_case_t c;
        case_make(&c, 8, 16, 49, 128, 0xd37);
        clvae_error_t err = {0};
        CHECK(case_forward(&c, &err) &&
                  clvae_vq_counts(ctx, c.bcounts, c.bsums, c.brows, c.bcodes, c.sh, &err) ==
                      CLVAE_OK,
              "%s", err.msg);
        a[run] = tu_download(ctx, c.bterm, c.sh.N);
        b[run] = tu_download(ctx, c.bsums, c.sh.K * c.sh.D);
        case_free(&c);
    }
    CHECK(a[0] && a[1] && memcmp(a[0], a[1], 8 * sizeof(float)) == 0, "terms differ");
    CHECK(b[0] && b[1] && memcmp(b[0], b[1], 128 * 16 * sizeof(float)) == 0, "sums differ");
    free(a[0]), free(a[1]), free(b[0]), free(b[1]);
}

/* Zero sizes, short buffers, bad decay / eps / after are refused with the op's name. */
static void t_invalid_arguments(void)
{
    vq_case_t c;
    case_make(&c, 2, 3, 4, 5, 1);
    clvae_error_t err = {0};
    clvae_vq_shape_t zero = c.sh, none0 = {0};
    clvae_buf_t none = {0};
    zero.K = 0;
    (void)none0;
    const clvae_status_t INV = CLVAE_ERR_INVALID;
    CHECK(clvae_vq_assign(ctx, c.bcodes, c.brows, c.bdots, c.bnorms, c.bz, c.bE, zero, &err) ==
              INV, "K = 0");
    CHECK(strstr(err.msg, "vq_assign") != NULL, "names the op: %s", err.msg);
    clvae_buf_t shortb = {0};
    REQUIRE(clvae_buf_alloc(ctx, c.R * c.sh.K - 1, &shortb, &err) == CLVAE_OK, "%s", err.msg);
    CHECK(clvae_vq_assign(ctx, c.bcodes, c.brows, shortb, c.bnorms, c.bz, c.bE, c.sh, &err) ==
              INV, "dots too short");
    clvae_buf_free(&shortb);
    CHECK(strstr(err.msg, "dots") != NULL, "names the operand: %s", err.msg);
    CHECK(clvae_vq_ema(ctx, c.bE, c.bcounts, c.bsums, c.bcounts, c.bsums, 1.0f, 1e-5f, c.sh,
                       &err) == INV, "decay 1");
    CHECK(clvae_vq_ema(ctx, c.bE, c.bcounts, c.bsums, c.bcounts, c.bsums, 0.9f, 0.0f, c.sh,
                       &err) == INV, "eps 0");
    CHECK(clvae_vq_restart(ctx, c.bE, none, none, c.bcounts, c.bcounts, c.bcounts, c.brows, 0, 1,
                           0, c.sh, &err) == INV, "after 0");
    CHECK(clvae_vq_embed(ctx, c.bq, none, c.bz, c.bcodes, c.bE, c.sh, &err) == INV,
          "z without term");
    case_free(&c);
}

int main(void)
{
    ctx = tu_ctx();
    if (!ctx) return 1;
    RUN(t_assign_embed_vs_reference);
    RUN(t_ties_lowest_index);
    RUN(t_backward_by_differences);
    RUN(t_codebook_grad_by_differences);
    RUN(t_ema_step_by_step);
    RUN(t_dead_code_restart);
    RUN(t_determinism);
    RUN(t_invalid_arguments);
    tu_print_errors();
    clvae_ctx_free(ctx);
    return TEST_EXIT();
}
