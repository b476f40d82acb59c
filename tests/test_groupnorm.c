/* Group normalization: forward and backward against the double reference, gradients by central
 * differences, each example independent of its batch, determinism, bad input. */
#define TEST_FILE "test_groupnorm"
#include "ref/ref.h"
#include "test.h"
#include "testutil.h"

#include <math.h>

#include "clvae/ops/norm.h"

static clvae_ctx_t *ctx;

#define EPS 1e-5f

/* One case: host arrays and their device views; x, dy, gamma, beta random, the gradients start
 * at g0 (backward must add onto them). */
typedef struct gn_case {
    clvae_gn_shape_t sh;
    size_t n, NG;
    float *x, *dy, *gamma, *beta, *g0;
    clvae_buf_t bx, by, bdy, bst, bsum, bg, bb, bdg, bdb, bdx;
} gn_case_t;

static void case_make(gn_case_t *c, size_t N, size_t C, size_t G, size_t HW, uint64_t seed)
{
    memset(c, 0, sizeof *c);
    clvae_gn_shape_t sh = {N, C, G, HW};
    c->sh = sh;
    c->n = N * C * HW;
    c->NG = N * G;
    c->x = malloc(c->n * sizeof *c->x);
    c->dy = malloc(c->n * sizeof *c->dy);
    c->gamma = malloc(C * sizeof *c->gamma);
    c->beta = malloc(C * sizeof *c->beta);
    c->g0 = malloc((c->n + 2 * C) * sizeof *c->g0);
    tu_rand(c->x, c->n, -3.0f, 5.0f, &seed);
    /* channels of different scale and offset */
    for (size_t i = 0; i < c->n; i++) c->x[i] = c->x[i] * (float)(1 + (i / HW) % C) + 0.5f;
    tu_rand(c->dy, c->n, -1.0f, 1.0f, &seed);
    tu_rand(c->gamma, C, 0.5f, 1.5f, &seed);
    tu_rand(c->beta, C, -0.5f, 0.5f, &seed);
    tu_rand(c->g0, c->n + 2 * C, -1.0f, 1.0f, &seed);
    c->bx = tu_upload(ctx, c->x, c->n);
    c->by = tu_zeros(ctx, c->n);
    c->bdy = tu_upload(ctx, c->dy, c->n);
    c->bst = tu_zeros(ctx, 2 * c->NG);
    c->bsum = tu_zeros(ctx, 2 * c->NG);
    c->bg = tu_upload(ctx, c->gamma, C);
    c->bb = tu_upload(ctx, c->beta, C);
    c->bdx = tu_upload(ctx, c->g0, c->n);
    c->bdg = tu_upload(ctx, c->g0 + c->n, C);
    c->bdb = tu_upload(ctx, c->g0 + c->n + C, C);
}

static void case_free(gn_case_t *c)
{
    clvae_buf_t *b[] = {&c->bx, &c->by, &c->bdy, &c->bst, &c->bsum,
                        &c->bg, &c->bb, &c->bdg, &c->bdb, &c->bdx};
    for (size_t i = 0; i < sizeof b / sizeof *b; i++) clvae_buf_free(b[i]);
    free(c->x);
    free(c->dy);
    free(c->gamma);
    free(c->beta);
    free(c->g0);
}

/* Forward (stats, apply) and backward of one case on the device. */
static int case_run(gn_case_t *c, clvae_error_t *err)
{
    return clvae_groupnorm_stats(ctx, c->bst, c->bx, EPS, c->sh, err) == CLVAE_OK &&
           clvae_groupnorm_apply(ctx, c->by, c->bx, c->bst, c->bg, c->bb, c->sh, err) ==
               CLVAE_OK &&
           clvae_groupnorm_backward(ctx, c->bdx, c->bdg, c->bdb, c->bsum, c->bdy, c->bx, c->bst,
                                    c->bg, c->sh, err) == CLVAE_OK;
}

static void t_vs_reference(void)
{
    /* N, C, G, HW: groups of several channels, one group (layer norm), a group per channel
     * (instance norm), a flat input (HW = 1), a large group (more values than a work group), a
     * channel wider than a work group's blocks of 8 (4,500 pixels) */
    static const size_t shapes[][4] = {{4, 6, 3, 25}, {3, 4, 1, 9},   {2, 5, 5, 16},
                                       {8, 8, 2, 1},  {2, 32, 8, 196}, {1, 4, 2, 7},
                                       {2, 2, 1, 4500}};
    size_t ns = sizeof shapes / sizeof *shapes;
    for (size_t s = 0; s < ns; s++) {
        size_t N = shapes[s][0], C = shapes[s][1], G = shapes[s][2];
        size_t HW = tu_small() && shapes[s][3] > 100 ? 20 : shapes[s][3];
        char name[96];
        snprintf(name, sizeof name, "N=%zu C=%zu G=%zu HW=%zu", N, C, G, HW);
        gn_case_t c;
        case_make(&c, N, C, G, HW, 77 + s);
        clvae_error_t err = {0};
        CHECK(case_run(&c, &err), "%s: %s", name, err.msg);
        size_t NG = N * G;
        double *x = tu_double(c.x, c.n), *dy = tu_double(c.dy, c.n);
        double *g = tu_double(c.gamma, C), *b = tu_double(c.beta, C), *y = malloc(c.n * sizeof *y);
        double *mean = malloc(NG * sizeof *mean), *var = malloc(NG * sizeof *var);
        double *dx = tu_double(c.g0, c.n), *dg = tu_double(c.g0 + c.n, C);
        double *db = tu_double(c.g0 + c.n + C, C), *st = malloc(2 * NG * sizeof *st);
        clvae_groupnorm_forward_ref(y, mean, var, x, g, b, EPS, N, C, G, HW);
        clvae_groupnorm_backward_ref(dx, dg, db, dy, x, g, mean, var, EPS, N, C, G, HW);
        for (size_t k = 0; k < NG; k++) {
            st[k] = mean[k];
            st[NG + k] = 1.0 / sqrt(var[k] + EPS);
        }
        float *gy = tu_download(ctx, c.by, c.n), *gst = tu_download(ctx, c.bst, 2 * NG);
        float *gdx = tu_download(ctx, c.bdx, c.n), *gdg = tu_download(ctx, c.bdg, C);
        float *gdb = tu_download(ctx, c.bdb, C);
        double rel;
        CHECK(tu_close(name, gy, y, c.n, 1e-4, 1e-4, &rel), "%s y", name);
        tu_note_error("groupnorm_apply", rel);
        CHECK(tu_close(name, gst, st, 2 * NG, 1e-5, 1e-4, &rel), "%s stats", name);
        tu_note_error("groupnorm_stats", rel);
        CHECK(tu_close(name, gdx, dx, c.n, 1e-4, 1e-3, &rel), "%s dx", name);
        tu_note_error("groupnorm_backward", rel);
        CHECK(tu_close(name, gdg, dg, C, 1e-3, 1e-4, NULL), "%s dgamma", name);
        CHECK(tu_close(name, gdb, db, C, 1e-3, 1e-4, NULL), "%s dbeta", name);
        free(x), free(dy), free(g), free(b), free(y), free(mean), free(var);
        free(dx), free(dg), free(db), free(st);
        free(gy), free(gst), free(gdx), free(gdg), free(gdb);
        case_free(&c);
    }
}

/* L = sum w * y of the reference forward. */
static double ref_loss(const double *x, const double *g, const double *b, const double *w,
                       size_t N, size_t C, size_t G, size_t HW)
{
    size_t n = N * C * HW;
    double *y = malloc(n * sizeof *y), L = 0.0;
    clvae_groupnorm_forward_ref(y, NULL, NULL, x, g, b, EPS, N, C, G, HW);
    for (size_t i = 0; i < n; i++) L += w[i] * y[i];
    free(y);
    return L;
}

/* The reference backward against central differences of the reference forward (double). */
static void t_reference_gradients_by_differences(void)
{
    size_t N = 2, C = 4, G = 2, HW = 5, n = N * C * HW;
    gn_case_t c;
    case_make(&c, N, C, G, HW, 5);
    double *x = tu_double(c.x, n), *w = tu_double(c.dy, n), *g = tu_double(c.gamma, C);
    double *b = tu_double(c.beta, C), *mean = malloc(N * G * sizeof *mean);
    double *var = malloc(N * G * sizeof *var), *y = malloc(n * sizeof *y);
    double *dx = calloc(n, sizeof *dx), *dg = calloc(C, sizeof *dg), *db = calloc(C, sizeof *db);
    clvae_groupnorm_forward_ref(y, mean, var, x, g, b, EPS, N, C, G, HW);
    clvae_groupnorm_backward_ref(dx, dg, db, w, x, g, mean, var, EPS, N, C, G, HW);
    const double h = 1e-6;
    double worst = 0.0, norm = 0.0;
    for (int which = 0; which < 3; which++) {
        double *p = which == 0 ? x : which == 1 ? g : b;
        double *an = which == 0 ? dx : which == 1 ? dg : db;
        size_t len = which == 0 ? n : C;
        for (size_t i = 0; i < len; i++) {
            double keep = p[i];
            p[i] = keep + h;
            double lp = ref_loss(x, g, b, w, N, C, G, HW);
            p[i] = keep - h;
            double lm = ref_loss(x, g, b, w, N, C, G, HW);
            p[i] = keep;
            double num = (lp - lm) / (2 * h), e = fabs(num - an[i]) / fmax(fabs(num), 1e-2);
            if (e > worst) worst = e;
            norm += an[i] * an[i];
        }
    }
    CHECK(worst < 1e-5, "worst relative error %g", worst);
    CHECK(norm > 1e-3, "the gradient is trivially zero (%g)", norm);
    free(x), free(w), free(g), free(b), free(mean), free(var), free(y), free(dx), free(dg);
    free(db);
    case_free(&c);
}

/* L = sum dy * y of the device forward. */
static double dev_loss(gn_case_t *c)
{
    clvae_error_t err = {0};
    if (clvae_groupnorm_stats(ctx, c->bst, c->bx, EPS, c->sh, &err) ||
        clvae_groupnorm_apply(ctx, c->by, c->bx, c->bst, c->bg, c->bb, c->sh, &err))
        return NAN;
    float *y = tu_download(ctx, c->by, c->n);
    double L = y ? tu_dot(y, c->dy, c->n) : NAN;
    free(y);
    return L;
}

/* The device backward against central differences of the device forward (fp32: a coarse h). */
static void t_device_gradients_by_differences(void)
{
    size_t N = 3, C = 4, G = 2, HW = 6, n = N * C * HW;
    gn_case_t c;
    case_make(&c, N, C, G, HW, 9);
    clvae_error_t err = {0};
    float zeros[128] = {0};
    REQUIRE(clvae_buf_upload(ctx, c.bdx, zeros, n, &err) == CLVAE_OK &&
                clvae_buf_upload(ctx, c.bdg, zeros, C, &err) == CLVAE_OK &&
                clvae_buf_upload(ctx, c.bdb, zeros, C, &err) == CLVAE_OK,
            "%s", err.msg);
    REQUIRE(case_run(&c, &err), "%s", err.msg);
    float *dx = tu_download(ctx, c.bdx, n), *dg = tu_download(ctx, c.bdg, C);
    float *db = tu_download(ctx, c.bdb, C);
    REQUIRE(dx && dg && db, "download");
    const float h = 1e-2f;
    double worst = 0.0, norm = 0.0;
    for (int which = 0; which < 3; which++) {
        float *p = which == 0 ? c.x : which == 1 ? c.gamma : c.beta;
        clvae_buf_t bp = which == 0 ? c.bx : which == 1 ? c.bg : c.bb;
        float *an = which == 0 ? dx : which == 1 ? dg : db;
        size_t len = which == 0 ? n : C;
        for (size_t i = 0; i < len; i++) {
            float keep = p[i];
            p[i] = keep + h;
            clvae_buf_upload(ctx, bp, p, len, &err);
            double lp = dev_loss(&c);
            p[i] = keep - h;
            clvae_buf_upload(ctx, bp, p, len, &err);
            double lm = dev_loss(&c);
            p[i] = keep;
            clvae_buf_upload(ctx, bp, p, len, &err);
            double num = (lp - lm) / (2.0 * h);
            double e = fabs(num - an[i]) / fmax(fabs(num), 0.1);
            if (!(e <= worst)) worst = e;
            norm += (double)an[i] * an[i];
        }
    }
    CHECK(worst < 2e-2, "worst relative error %g", worst);
    CHECK(norm > 1e-3, "the gradient is trivially zero (%g)", norm);
    free(dx), free(dg), free(db);
    case_free(&c);
}

/* An example's output and input gradient do not depend on the rest of its batch. */
static void t_examples_independent(void)
{
    size_t C = 6, G = 3, HW = 10;
    gn_case_t big, one;
    case_make(&big, 5, C, G, HW, 31);
    case_make(&one, 1, C, G, HW, 31);
    clvae_error_t err = {0};
    float zeros[64] = {0};
    REQUIRE(clvae_buf_upload(ctx, one.bx, big.x, C * HW, &err) == 0 &&
                clvae_buf_upload(ctx, one.bdy, big.dy, C * HW, &err) == 0 &&
                clvae_buf_upload(ctx, one.bg, big.gamma, C, &err) == 0 &&
                clvae_buf_upload(ctx, one.bb, big.beta, C, &err) == 0 &&
                clvae_buf_upload(ctx, one.bdx, zeros, C * HW, &err) == 0 &&
                clvae_buf_upload(ctx, big.bdx, zeros, C * HW, &err) == 0,
            "%s", err.msg);
    CHECK(case_run(&big, &err) && case_run(&one, &err), "%s", err.msg);
    float *a = tu_download(ctx, big.by, big.n), *b = tu_download(ctx, one.by, C * HW);
    float *da = tu_download(ctx, big.bdx, big.n), *db = tu_download(ctx, one.bdx, C * HW);
    CHECK(a && b && memcmp(a, b, C * HW * sizeof *a) == 0, "the output depends on the batch");
    CHECK(da && db && memcmp(da, db, C * HW * sizeof *da) == 0,
          "the input gradient depends on the batch");
    free(a), free(b), free(da), free(db);
    case_free(&big);
    case_free(&one);
}

static void t_determinism(void)
{
    gn_case_t c;
    case_make(&c, tu_size(16, 3), 8, 4, tu_size(49, 9), 41);
    float *first[3] = {0};
    size_t len[3] = {c.n, c.n, c.sh.C};
    for (int run = 0; run < 2; run++) {
        clvae_error_t err = {0};
        clvae_buf_upload(ctx, c.bdx, c.g0, c.n, &err);
        clvae_buf_upload(ctx, c.bdg, c.g0 + c.n, c.sh.C, &err);
        CHECK(case_run(&c, &err), "%s", err.msg);
        float *got[3] = {tu_download(ctx, c.by, c.n), tu_download(ctx, c.bdx, c.n),
                         tu_download(ctx, c.bdg, c.sh.C)};
        for (int k = 0; k < 3; k++) {
            if (run == 0) first[k] = got[k];
            else {
                CHECK(first[k] && got[k] && memcmp(first[k], got[k], len[k] * 4) == 0,
                      "output %d differs between runs", k);
                free(got[k]);
            }
        }
    }
    for (int k = 0; k < 3; k++) free(first[k]);
    case_free(&c);
}

static void t_invalid_arguments(void)
{
    gn_case_t c;
    case_make(&c, 2, 4, 2, 3, 51);
    clvae_error_t err = {0};
    clvae_buf_t none = {0}, far = clvae_buf_at(c.bx, 2 * TU_GUARD);
    clvae_gn_shape_t zero = {0, 4, 2, 3}, nodiv = {2, 4, 3, 3}, nog = {2, 4, 0, 3};
    const clvae_status_t INV = CLVAE_ERR_INVALID;
    CHECK(clvae_groupnorm_stats(ctx, c.bst, c.bx, EPS, zero, &err) == INV, "N = 0");
    CHECK(clvae_groupnorm_stats(ctx, c.bst, c.bx, EPS, nog, &err) == INV, "G = 0");
    CHECK(clvae_groupnorm_stats(ctx, c.bst, c.bx, EPS, nodiv, &err) == INV &&
              strstr(err.msg, "groups") != NULL,
          "4 channels in 3 groups: %s", err.msg);
    CHECK(clvae_groupnorm_stats(ctx, c.bst, c.bx, 0.0f, c.sh, &err) == INV, "eps 0");
    CHECK(clvae_groupnorm_stats(ctx, c.bst, far, EPS, c.sh, &err) == INV, "x past its buffer");
    CHECK(clvae_groupnorm_apply(ctx, c.by, c.bx, c.bst, none, c.bb, c.sh, &err) == INV,
          "NULL gamma");
    CHECK(clvae_groupnorm_backward(ctx, c.bdx, c.bdg, c.bdb, none, c.bdy, c.bx, c.bst, c.bg,
                                   c.sh, &err) == INV,
          "NULL sums with dx");
    CHECK(strstr(err.msg, "sums") != NULL, "message names the operand: %s", err.msg);
    /* rejected calls wrote nothing */
    float *dg = tu_download(ctx, c.bdg, 4);
    CHECK(dg && memcmp(dg, c.g0 + c.n, 4 * sizeof *dg) == 0, "a rejected call wrote");
    free(dg);
    case_free(&c);
}

int main(void)
{
    ctx = tu_ctx();
    if (!ctx) return 1;
    RUN(t_vs_reference);
    RUN(t_reference_gradients_by_differences);
    RUN(t_device_gradients_by_differences);
    RUN(t_examples_independent);
    RUN(t_determinism);
    RUN(t_invalid_arguments);
    tu_print_errors();
    clvae_ctx_free(ctx);
    return TEST_EXIT();
}
