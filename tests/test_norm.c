/* Batch normalization: both modes against the double reference, running statistics over
 * steps, gradients by central differences, eval mode independent of the batch, determinism,
 * bad input. */
#define TEST_FILE "test_norm"
#include "ref/ref.h"
#include "test.h"
#include "testutil.h"

#include <math.h>

#include "clvae/ops/norm.h"

static clvae_ctx_t *ctx;

#define EPS 1e-5f
#define MOM 0.1f

/* Device buffers of one case: x, y, dy, stats, sums, gamma, beta, dgamma, dbeta, dx, running. */
typedef struct bn_case {
    clvae_bn_shape_t sh;
    size_t n;
    float *x, *dy, *gamma, *beta, *g0, *run0;
    clvae_buf_t bx, by, bdy, bst, bsum, bg, bb, bdg, bdb, bdx, brun;
} bn_case_t;

static void case_make(bn_case_t *c, size_t N, size_t C, size_t HW, uint64_t seed)
{
    memset(c, 0, sizeof *c);
    c->sh.N = N;
    c->sh.C = C;
    c->sh.HW = HW;
    c->n = N * C * HW;
    c->x = malloc(c->n * sizeof *c->x);
    c->dy = malloc(c->n * sizeof *c->dy);
    c->gamma = malloc(C * sizeof *c->gamma);
    c->beta = malloc(C * sizeof *c->beta);
    c->g0 = malloc((c->n + 2 * C) * sizeof *c->g0);
    c->run0 = malloc((2 * C + 1) * sizeof *c->run0);
    tu_rand(c->x, c->n, -3.0f, 5.0f, &seed);
    /* channels of different scale and offset */
    for (size_t i = 0; i < c->n; i++) c->x[i] = c->x[i] * (float)(1 + (i / HW) % C) + 0.5f;
    tu_rand(c->dy, c->n, -1.0f, 1.0f, &seed);
    tu_rand(c->gamma, C, 0.5f, 1.5f, &seed);
    tu_rand(c->beta, C, -0.5f, 0.5f, &seed);
    tu_rand(c->g0, c->n + 2 * C, -1.0f, 1.0f, &seed); /* backward must add onto these */
    tu_rand(c->run0, 2 * C, 0.2f, 2.0f, &seed);
    c->run0[2 * C] = 3.0f;
    c->bx = tu_upload(ctx, c->x, c->n);
    c->by = tu_zeros(ctx, c->n);
    c->bdy = tu_upload(ctx, c->dy, c->n);
    c->bst = tu_zeros(ctx, 2 * C);
    c->bsum = tu_zeros(ctx, 2 * C);
    c->bg = tu_upload(ctx, c->gamma, C);
    c->bb = tu_upload(ctx, c->beta, C);
    c->bdx = tu_upload(ctx, c->g0, c->n);
    c->bdg = tu_upload(ctx, c->g0 + c->n, C);
    c->bdb = tu_upload(ctx, c->g0 + c->n + C, C);
    c->brun = tu_upload(ctx, c->run0, 2 * C + 1);
}

static void case_free(bn_case_t *c)
{
    clvae_buf_t *b[] = {&c->bx, &c->by, &c->bdy, &c->bst, &c->bsum, &c->bg,
                        &c->bb, &c->bdg, &c->bdb, &c->bdx, &c->brun};
    for (size_t i = 0; i < sizeof b / sizeof *b; i++) clvae_buf_free(b[i]);
    free(c->x);
    free(c->dy);
    free(c->gamma);
    free(c->beta);
    free(c->g0);
    free(c->run0);
}

/* Forward (stats, apply) and backward of one case on the device. */
static int case_run(bn_case_t *c, int train, int update, clvae_error_t *err)
{
    return clvae_batchnorm_stats(ctx, c->bst, c->bx, c->brun, train, update, MOM, EPS, c->sh,
                                 err) == CLVAE_OK &&
           clvae_batchnorm_apply(ctx, c->by, c->bx, c->bst, c->bg, c->bb, c->sh, err) ==
               CLVAE_OK &&
           clvae_batchnorm_backward(ctx, c->bdx, c->bdg, c->bdb, c->bsum, c->bdy, c->bx, c->bst,
                                    c->bg, train, c->sh, err) == CLVAE_OK;
}

static void t_vs_reference(void)
{
    static const size_t shapes[][3] = {{4, 3, 25}, {128, 8, 1}, {3, 5, 49}, {2, 1, 1000},
                                       {1, 4, 7},  {16, 2, 196}};
    for (size_t s = 0; s < sizeof shapes / sizeof *shapes; s++)
        for (int train = 0; train < 2; train++) {
            size_t N = shapes[s][0], C = shapes[s][1], HW = shapes[s][2];
            char name[96];
            snprintf(name, sizeof name, "N=%zu C=%zu HW=%zu %s", N, C, HW,
                     train ? "train" : "eval");
            bn_case_t c;
            case_make(&c, N, C, HW, 77 + s);
            clvae_error_t err = {0};
            CHECK(case_run(&c, train, 1, &err), "%s: %s", name, err.msg);
            double *x = tu_double(c.x, c.n), *dy = tu_double(c.dy, c.n);
            double *g = tu_double(c.gamma, C), *b = tu_double(c.beta, C);
            double *run = tu_double(c.run0, 2 * C + 1), *y = malloc(c.n * sizeof *y);
            double *mean = malloc(C * sizeof *mean), *var = malloc(C * sizeof *var);
            double *dx = tu_double(c.g0, c.n), *dg = tu_double(c.g0 + c.n, C);
            double *db = tu_double(c.g0 + c.n + C, C), *st = malloc(2 * C * sizeof *st);
            clvae_batchnorm_forward_ref(y, mean, var, x, g, b, run, train, MOM, EPS, N, C, HW);
            clvae_batchnorm_backward_ref(dx, dg, db, dy, x, g, mean, var, train, EPS, N, C, HW);
            for (size_t k = 0; k < C; k++) {
                st[k] = mean[k];
                st[C + k] = 1.0 / sqrt(var[k] + EPS);
            }
            float *gy = tu_download(ctx, c.by, c.n), *gst = tu_download(ctx, c.bst, 2 * C);
            float *grun = tu_download(ctx, c.brun, 2 * C + 1);
            float *gdx = tu_download(ctx, c.bdx, c.n), *gdg = tu_download(ctx, c.bdg, C);
            float *gdb = tu_download(ctx, c.bdb, C);
            double rel;
            CHECK(tu_close(name, gy, y, c.n, 1e-4, 1e-4, &rel), "%s y", name);
            tu_note_error("batchnorm_apply", rel);
            CHECK(tu_close(name, gst, st, 2 * C, 1e-5, 1e-4, &rel), "%s stats", name);
            tu_note_error("batchnorm_stats", rel);
            CHECK(tu_close(name, grun, run, 2 * C + 1, 1e-5, 1e-5, NULL), "%s running", name);
            CHECK(tu_close(name, gdx, dx, c.n, 1e-4, 1e-3, &rel), "%s dx", name);
            tu_note_error("batchnorm_backward", rel);
            CHECK(tu_close(name, gdg, dg, C, 1e-3, 1e-4, NULL), "%s dgamma", name);
            CHECK(tu_close(name, gdb, db, C, 1e-3, 1e-4, NULL), "%s dbeta", name);
            free(x), free(dy), free(g), free(b), free(run), free(y), free(mean), free(var);
            free(dx), free(dg), free(db), free(st);
            free(gy), free(gst), free(grun), free(gdx), free(gdg), free(gdb);
            case_free(&c);
        }
}

/* L = sum w * y of the reference forward (train mode, no running update). */
static double ref_loss(const double *x, const double *g, const double *b, const double *w,
                       size_t N, size_t C, size_t HW)
{
    size_t n = N * C * HW;
    double *y = malloc(n * sizeof *y), L = 0.0;
    clvae_batchnorm_forward_ref(y, NULL, NULL, x, g, b, NULL, 1, MOM, EPS, N, C, HW);
    for (size_t i = 0; i < n; i++) L += w[i] * y[i];
    free(y);
    return L;
}

/* The reference backward against central differences of the reference forward (double). */
static void t_reference_gradients_by_differences(void)
{
    size_t N = 3, C = 2, HW = 5, n = N * C * HW;
    bn_case_t c;
    case_make(&c, N, C, HW, 5);
    double *x = tu_double(c.x, n), *w = tu_double(c.dy, n), *g = tu_double(c.gamma, C);
    double *b = tu_double(c.beta, C), *mean = malloc(C * sizeof *mean);
    double *var = malloc(C * sizeof *var), *y = malloc(n * sizeof *y);
    double *dx = calloc(n, sizeof *dx), *dg = calloc(C, sizeof *dg), *db = calloc(C, sizeof *db);
    clvae_batchnorm_forward_ref(y, mean, var, x, g, b, NULL, 1, MOM, EPS, N, C, HW);
    clvae_batchnorm_backward_ref(dx, dg, db, w, x, g, mean, var, 1, EPS, N, C, HW);
    const double h = 1e-6;
    double worst = 0.0;
    for (int which = 0; which < 3; which++) {
        double *p = which == 0 ? x : which == 1 ? g : b;
        double *an = which == 0 ? dx : which == 1 ? dg : db;
        size_t len = which == 0 ? n : C;
        for (size_t i = 0; i < len; i++) {
            double keep = p[i];
            p[i] = keep + h;
            double lp = ref_loss(x, g, b, w, N, C, HW);
            p[i] = keep - h;
            double lm = ref_loss(x, g, b, w, N, C, HW);
            p[i] = keep;
            double num = (lp - lm) / (2 * h), e = fabs(num - an[i]) / fmax(fabs(num), 1e-2);
            if (e > worst) worst = e;
        }
    }
    CHECK(worst < 1e-5, "worst relative error %g", worst);
    free(x), free(w), free(g), free(b), free(mean), free(var), free(y), free(dx), free(dg);
    free(db);
    case_free(&c);
}

/* L = sum dy * y of the device forward in train mode. */
static double dev_loss(bn_case_t *c)
{
    clvae_error_t err = {0};
    clvae_buf_t none = {0};
    if (clvae_batchnorm_stats(ctx, c->bst, c->bx, none, 1, 0, MOM, EPS, c->sh, &err) ||
        clvae_batchnorm_apply(ctx, c->by, c->bx, c->bst, c->bg, c->bb, c->sh, &err))
        return NAN;
    float *y = tu_download(ctx, c->by, c->n);
    double L = y ? tu_dot(y, c->dy, c->n) : NAN;
    free(y);
    return L;
}

/* The device backward against central differences of the device forward (fp32: a coarse h). */
static void t_device_gradients_by_differences(void)
{
    size_t N = 4, C = 3, HW = 6, n = N * C * HW;
    bn_case_t c;
    case_make(&c, N, C, HW, 9);
    clvae_error_t err = {0};
    float zeros[128] = {0};
    clvae_buf_t none = {0};
    REQUIRE(clvae_buf_upload(ctx, c.bdx, zeros, n, &err) == CLVAE_OK &&
                clvae_buf_upload(ctx, c.bdg, zeros, C, &err) == CLVAE_OK &&
                clvae_buf_upload(ctx, c.bdb, zeros, C, &err) == CLVAE_OK,
            "%s", err.msg);
    REQUIRE(clvae_batchnorm_stats(ctx, c.bst, c.bx, none, 1, 0, MOM, EPS, c.sh, &err) == 0 &&
                clvae_batchnorm_backward(ctx, c.bdx, c.bdg, c.bdb, c.bsum, c.bdy, c.bx, c.bst,
                                         c.bg, 1, c.sh, &err) == 0,
            "%s", err.msg);
    float *dx = tu_download(ctx, c.bdx, n), *dg = tu_download(ctx, c.bdg, C);
    float *db = tu_download(ctx, c.bdb, C);
    REQUIRE(dx && dg && db, "download");
    const float h = 1e-2f;
    double worst = 0.0;
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
        }
    }
    CHECK(worst < 2e-2, "worst relative error %g", worst);
    free(dx), free(dg), free(db);
    case_free(&c);
}

/* Running statistics after five training steps on different batches match the reference's,
 * and the batch count is five more. */
static void t_running_statistics_over_steps(void)
{
    size_t N = 8, C = 4, HW = 9;
    bn_case_t c;
    case_make(&c, N, C, HW, 21);
    double *run = tu_double(c.run0, 2 * C + 1), *y = malloc(c.n * sizeof *y);
    double *g = tu_double(c.gamma, C), *b = tu_double(c.beta, C);
    clvae_error_t err = {0};
    uint64_t seed = 99;
    for (int step = 0; step < 5; step++) {
        tu_rand(c.x, c.n, -2.0f + (float)step, 3.0f + 2.0f * (float)step, &seed);
        double *x = tu_double(c.x, c.n);
        clvae_batchnorm_forward_ref(y, NULL, NULL, x, g, b, run, 1, MOM, EPS, N, C, HW);
        free(x);
        CHECK(clvae_buf_upload(ctx, c.bx, c.x, c.n, &err) == CLVAE_OK &&
                  clvae_batchnorm_stats(ctx, c.bst, c.bx, c.brun, 1, 1, MOM, EPS, c.sh, &err) ==
                      CLVAE_OK,
              "%s", err.msg);
    }
    float *grun = tu_download(ctx, c.brun, 2 * C + 1);
    CHECK(tu_close("running after 5 steps", grun, run, 2 * C + 1, 1e-5, 1e-5, NULL), "running");
    CHECK(grun && grun[2 * C] == c.run0[2 * C] + 5.0f, "count %g, want %g",
          grun ? (double)grun[2 * C] : -1.0, (double)c.run0[2 * C] + 5.0);
    /* without update, and in eval mode, nothing moves */
    CHECK(clvae_batchnorm_stats(ctx, c.bst, c.bx, c.brun, 1, 0, MOM, EPS, c.sh, &err) == 0 &&
              clvae_batchnorm_stats(ctx, c.bst, c.bx, c.brun, 0, 1, MOM, EPS, c.sh, &err) == 0,
          "%s", err.msg);
    float *again = tu_download(ctx, c.brun, 2 * C + 1);
    CHECK(grun && again && memcmp(grun, again, (2 * C + 1) * sizeof *again) == 0,
          "running statistics moved without an update");
    free(grun), free(again), free(run), free(y), free(g), free(b);
    case_free(&c);
}

/* In eval mode an example's output does not depend on the rest of its batch; in train mode it
 * does. */
static void t_eval_independent_of_batch(void)
{
    size_t C = 3, HW = 4;
    bn_case_t big, one;
    case_make(&big, 8, C, HW, 31);
    case_make(&one, 1, C, HW, 31);
    clvae_error_t err = {0};
    /* the same first example, parameters and running statistics */
    REQUIRE(clvae_buf_upload(ctx, one.bx, big.x, C * HW, &err) == 0 &&
                clvae_buf_upload(ctx, one.bg, big.gamma, C, &err) == 0 &&
                clvae_buf_upload(ctx, one.bb, big.beta, C, &err) == 0 &&
                clvae_buf_upload(ctx, one.brun, big.run0, 2 * C + 1, &err) == 0,
            "%s", err.msg);
    for (int train = 0; train < 2; train++) {
        CHECK(case_run(&big, train, 0, &err) && case_run(&one, train, 0, &err), "%s", err.msg);
        float *a = tu_download(ctx, big.by, big.n), *b = tu_download(ctx, one.by, C * HW);
        int same = a && b && memcmp(a, b, C * HW * sizeof *a) == 0;
        if (train) CHECK(!same, "train mode: the batch made no difference");
        else CHECK(same, "eval mode: the output depends on the batch");
        free(a), free(b);
    }
    case_free(&big);
    case_free(&one);
}

static void t_determinism(void)
{
    bn_case_t c;
    case_make(&c, 32, 5, 49, 41);
    float *first[4] = {0};
    for (int run = 0; run < 2; run++) {
        clvae_error_t err = {0};
        clvae_buf_upload(ctx, c.bdx, c.g0, c.n, &err);
        clvae_buf_upload(ctx, c.bdg, c.g0 + c.n, c.sh.C, &err);
        clvae_buf_upload(ctx, c.brun, c.run0, 2 * c.sh.C + 1, &err);
        CHECK(case_run(&c, 1, 1, &err), "%s", err.msg);
        float *got[4] = {tu_download(ctx, c.by, c.n), tu_download(ctx, c.bdx, c.n),
                         tu_download(ctx, c.bdg, c.sh.C), tu_download(ctx, c.brun, 2 * c.sh.C + 1)};
        size_t len[4] = {c.n, c.n, c.sh.C, 2 * c.sh.C + 1};
        for (int k = 0; k < 4; k++) {
            if (run == 0) first[k] = got[k];
            else {
                CHECK(first[k] && got[k] && memcmp(first[k], got[k], len[k] * 4) == 0,
                      "output %d differs between runs", k);
                free(got[k]);
            }
        }
    }
    for (int k = 0; k < 4; k++) free(first[k]);
    case_free(&c);
}

static void t_invalid_arguments(void)
{
    bn_case_t c;
    case_make(&c, 2, 3, 4, 51);
    clvae_error_t err = {0};
    clvae_buf_t none = {0}, far = clvae_buf_at(c.bx, 2 * TU_GUARD);
    clvae_bn_shape_t zero = {0, 3, 4};
    const clvae_status_t INV = CLVAE_ERR_INVALID;
    CHECK(clvae_batchnorm_stats(ctx, c.bst, c.bx, c.brun, 1, 1, MOM, EPS, zero, &err) == INV,
          "N = 0");
    CHECK(clvae_batchnorm_stats(ctx, c.bst, c.bx, none, 0, 0, MOM, EPS, c.sh, &err) == INV,
          "eval without running statistics");
    CHECK(clvae_batchnorm_stats(ctx, c.bst, c.bx, none, 1, 1, MOM, EPS, c.sh, &err) == INV,
          "update without running statistics");
    CHECK(clvae_batchnorm_stats(ctx, c.bst, c.bx, c.brun, 1, 1, MOM, 0.0f, c.sh, &err) == INV,
          "eps 0");
    CHECK(clvae_batchnorm_stats(ctx, c.bst, c.bx, c.brun, 1, 1, 1.5f, EPS, c.sh, &err) == INV,
          "momentum 1.5");
    CHECK(clvae_batchnorm_stats(ctx, c.bst, far, c.brun, 1, 1, MOM, EPS, c.sh, &err) == INV,
          "x past its buffer");
    CHECK(clvae_batchnorm_apply(ctx, c.by, c.bx, c.bst, none, c.bb, c.sh, &err) == INV,
          "NULL gamma");
    CHECK(clvae_batchnorm_backward(ctx, c.bdx, c.bdg, c.bdb, none, c.bdy, c.bx, c.bst, c.bg, 1,
                                   c.sh, &err) == INV,
          "NULL sums");
    CHECK(strstr(err.msg, "sums") != NULL, "message names the operand: %s", err.msg);
    /* rejected calls wrote nothing */
    float *run = tu_download(ctx, c.brun, 2 * 3 + 1);
    CHECK(run && memcmp(run, c.run0, 7 * sizeof *run) == 0, "a rejected call wrote");
    free(run);
    case_free(&c);
}

int main(void)
{
    ctx = tu_ctx();
    if (!ctx) return 1;
    RUN(t_vs_reference);
    RUN(t_reference_gradients_by_differences);
    RUN(t_device_gradients_by_differences);
    RUN(t_running_statistics_over_steps);
    RUN(t_eval_independent_of_batch);
    RUN(t_determinism);
    RUN(t_invalid_arguments);
    tu_print_errors();
    clvae_ctx_free(ctx);
    return TEST_EXIT();
}
