/* Dense layers: device against the double reference, gradient checks, determinism, bad input. */
#define TEST_FILE "test_dense"
#include "ref/ref.h"
#include "test.h"
#include "testutil.h"

#include <math.h>

#include "clvae/device/tuning.h"
#include "clvae/ops/dense.h"

/* Key: N batch, I = in, O = out; x [N, I], y [N, O], w [O, I], b [O]. */

static clvae_ctx_t *ctx;

typedef struct dense_case {
    const char *name;
    size_t N, in, out;
    int bias; /* 0: forward without bias, backward without db */
} dense_case_t;

/* A float sum of k terms against the double one: the error grows like sqrt(k) times the
 * terms' size (here O(1)), so the absolute tolerance grows with the reduction length. */
static double sum_atol(size_t k) { return 1e-5 * (1.0 + sqrt((double)k)); }

/* Host data of one case: inputs, a random upstream gradient and initial gradients. */
typedef struct dense_data {
    float *x, *w, *b, *dy, *dx0, *dw0, *db0;
} dense_data_t;

static void data_init(dense_data_t *d, const dense_case_t *c, uint64_t seed)
{
    /* small: batch 8 at most, 196 inputs and outputs at most */
    size_t N = tu_small() && c->N > 8 ? 8 : c->N, I = tu_small() && c->in > 196 ? 196 : c->in;
    size_t O = tu_small() && c->out > 196 ? 196 : c->out;
    float a = 1.0f / sqrtf((float)I);
    d->x = malloc(N * I * sizeof(float));
    d->w = malloc(O * I * sizeof(float));
    d->b = malloc(O * sizeof(float));
    d->dy = malloc(N * O * sizeof(float));
    d->dx0 = malloc(N * I * sizeof(float));
    d->dw0 = malloc(O * I * sizeof(float));
    d->db0 = malloc(O * sizeof(float));
    tu_rand(d->x, N * I, -1.0f, 1.0f, &seed);
    tu_rand(d->w, O * I, -a, a, &seed);
    tu_rand(d->b, O, -0.5f, 0.5f, &seed);
    tu_rand(d->dy, N * O, -1.0f, 1.0f, &seed);
    tu_rand(d->dx0, N * I, -1.0f, 1.0f, &seed);
    tu_rand(d->dw0, O * I, -1.0f, 1.0f, &seed);
    tu_rand(d->db0, O, -1.0f, 1.0f, &seed);
}

static void data_free(dense_data_t *d)
{
    free(d->x);
    free(d->w);
    free(d->b);
    free(d->dy);
    free(d->dx0);
    free(d->dw0);
    free(d->db0);
}

/* Forward and backward of one case on the device against the reference, each run twice
 * to check that the bits repeat. */
static void run_case(const dense_case_t *c)
{
    /* small: batch 8 at most, 196 inputs and outputs at most */
    size_t N = tu_small() && c->N > 8 ? 8 : c->N, I = tu_small() && c->in > 196 ? 196 : c->in;
    size_t O = tu_small() && c->out > 196 ? 196 : c->out;
    dense_data_t d;
    data_init(&d, c, 0x2545f4914f6cdd1dULL ^ (N * 1000003 + I * 1009 + O));
    clvae_error_t err = {0};
    char what[160];

    /* forward: y starts as NaN, which must be overwritten */
    float *ynan = malloc(N * O * sizeof(float));
    for (size_t i = 0; i < N * O; i++) ynan[i] = NAN;
    clvae_buf_t bx = tu_upload(ctx, d.x, N * I), bw = tu_upload(ctx, d.w, O * I);
    clvae_buf_t bb = c->bias ? tu_upload(ctx, d.b, O) : (clvae_buf_t){0};
    clvae_buf_t by = tu_upload(ctx, ynan, N * O);
    double *xd = tu_double(d.x, N * I), *wd = tu_double(d.w, O * I), *bd = tu_double(d.b, O);
    double *yd = malloc(N * O * sizeof(double));
    clvae_dense_forward_ref(yd, xd, wd, c->bias ? bd : NULL, N, I, O);
    CHECK(clvae_dense_forward(ctx, by, bx, bw, bb, N, I, O, &err) == CLVAE_OK, "%s: %s", c->name,
          err.msg);
    float *y1 = tu_download(ctx, by, N * O);
    double rel = 0;
    snprintf(what, sizeof what, "%s forward", c->name);
    CHECK(tu_close(what, y1, yd, N * O, sum_atol(I), 1e-4, &rel), "%s", what);
    tu_note_error("dense_forward", rel);
    CHECK(clvae_dense_forward(ctx, by, bx, bw, bb, N, I, O, &err) == CLVAE_OK, "%s: %s", c->name,
          err.msg);
    float *y2 = tu_download(ctx, by, N * O);
    CHECK(y1 && y2 && memcmp(y1, y2, N * O * sizeof(float)) == 0, "%s: forward not repeatable",
          c->name);

    /* backward: gradients start random and must be accumulated into */
    double *dyd = tu_double(d.dy, N * O);
    double *dxd = tu_double(d.dx0, N * I), *dwd = tu_double(d.dw0, O * I);
    double *dbd = tu_double(d.db0, O);
    clvae_dense_backward_ref(dxd, dwd, c->bias ? dbd : NULL, dyd, xd, wd, N, I, O);
    clvae_buf_t bdy = tu_upload(ctx, d.dy, N * O);
    float *got[2][3] = {{NULL}};
    for (int rep = 0; rep < 2; rep++) {
        clvae_buf_t bdx = tu_upload(ctx, d.dx0, N * I), bdw = tu_upload(ctx, d.dw0, O * I);
        clvae_buf_t bdb = c->bias ? tu_upload(ctx, d.db0, O) : (clvae_buf_t){0};
        CHECK(clvae_dense_backward(ctx, bdx, bdw, bdb, bdy, bx, bw, N, I, O, &err) == CLVAE_OK,
              "%s: %s", c->name, err.msg);
        got[rep][0] = tu_download(ctx, bdx, N * I);
        got[rep][1] = tu_download(ctx, bdw, O * I);
        got[rep][2] = c->bias ? tu_download(ctx, bdb, O) : NULL;
        clvae_buf_free(&bdx);
        clvae_buf_free(&bdw);
        clvae_buf_free(&bdb);
    }
    snprintf(what, sizeof what, "%s dx", c->name);
    CHECK(tu_close(what, got[0][0], dxd, N * I, sum_atol(O), 1e-4, &rel), "%s", what);
    tu_note_error("dense_backward dx", rel);
    snprintf(what, sizeof what, "%s dw", c->name);
    CHECK(tu_close(what, got[0][1], dwd, O * I, sum_atol(N), 1e-4, &rel), "%s", what);
    tu_note_error("dense_backward dw", rel);
    if (c->bias) {
        snprintf(what, sizeof what, "%s db", c->name);
        CHECK(tu_close(what, got[0][2], dbd, O, sum_atol(N), 1e-4, &rel), "%s", what);
        tu_note_error("dense_backward db", rel);
    }
    const size_t gn[3] = {N * I, O * I, O};
    for (int g = 0; g < (c->bias ? 3 : 2); g++)
        CHECK(got[0][g] && got[1][g] && memcmp(got[0][g], got[1][g], gn[g] * sizeof(float)) == 0,
              "%s: backward gradient %d not repeatable", c->name, g);

    for (int rep = 0; rep < 2; rep++)
        for (int g = 0; g < 3; g++) free(got[rep][g]);
    clvae_buf_free(&bx);
    clvae_buf_free(&bw);
    clvae_buf_free(&bb);
    clvae_buf_free(&by);
    clvae_buf_free(&bdy);
    free(ynan);
    free(y1);
    free(y2);
    free(xd);
    free(wd);
    free(bd);
    free(yd);
    free(dyd);
    free(dxd);
    free(dwd);
    free(dbd);
    data_free(&d);
}

static void t_vae_shapes(void)
{
    static const dense_case_t cases[] = {
        {"z_mean 3136->2 batch 1", 1, 3136, 2, 1},
        {"z_mean 3136->2 batch 128", 128, 3136, 2, 1},
        {"z_log_var 3136->2 batch 128", 128, 3136, 2, 1},
        {"decoder 2->3136 batch 1", 1, 2, 3136, 1},
        {"decoder 2->3136 batch 128", 128, 2, 3136, 1},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) run_case(&cases[i]);
}

static void t_digits_ae_shapes(void)
{
    static const dense_case_t cases[] = {
        {"digits 64->32 batch 128", 128, 64, 32, 1}, {"digits 32->2 batch 128", 128, 32, 2, 1},
        {"digits 2->32 batch 128", 128, 2, 32, 1},   {"digits 32->64 batch 128", 128, 32, 64, 1},
        {"digits 64->32 batch 3", 3, 64, 32, 1},     {"digits 32->64 batch 1", 1, 32, 64, 1},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) run_case(&cases[i]);
}

static void t_awkward_shapes(void)
{
    static const dense_case_t cases[] = {
        {"batch 3 in 1 out 1", 3, 1, 1, 1},  {"batch 1 in 1 out 1", 1, 1, 1, 1},
        {"in 1", 5, 1, 7, 1},                {"out 1", 5, 9, 1, 1},
        {"13x7 batch 3", 3, 13, 7, 1},       {"7x13 batch 13", 13, 7, 13, 1},
        {"100x37 batch 3", 3, 100, 37, 1},   {"100x37 batch 128", 128, 100, 37, 1},
        {"no bias 13x7 batch 3", 3, 13, 7, 0}, {"no bias 3136->2 batch 128", 128, 3136, 2, 0},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) run_case(&cases[i]);
}

/* L = sum r * y in double for the reference forward. */
static double ref_loss(const double *x, const double *w, const double *b, const double *r,
                       double *y, size_t N, size_t I, size_t O)
{
    clvae_dense_forward_ref(y, x, w, b, N, I, O);
    double L = 0;
    for (size_t i = 0; i < N * O; i++) L += r[i] * y[i];
    return L;
}

/* Central differences of L against the reference backward, every element, in double. */
static void fd_ref_case(size_t N, size_t I, size_t O)
{
    dense_case_t c = {"fd", N, I, O, 1};
    dense_data_t d;
    data_init(&d, &c, 0x853c49e6748fea9bULL + N * 31 + I * 7 + O);
    double *x = tu_double(d.x, N * I), *w = tu_double(d.w, O * I), *b = tu_double(d.b, O);
    double *r = tu_double(d.dy, N * O), *y = malloc(N * O * sizeof(double));
    double *dx = calloc(N * I, sizeof(double)), *dw = calloc(O * I, sizeof(double));
    double *db = calloc(O, sizeof(double));
    clvae_dense_backward_ref(dx, dw, db, r, x, w, N, I, O);
    double *params[3] = {x, w, b}, *grads[3] = {dx, dw, db};
    const size_t counts[3] = {N * I, O * I, O};
    const char *names[3] = {"dx", "dw", "db"};
    const double h = 1e-6;
    for (int p = 0; p < 3; p++) {
        double worst = 0, norm = 0;
        for (size_t i = 0; i < counts[p]; i++) {
            double keep = params[p][i];
            params[p][i] = keep + h;
            double lp = ref_loss(x, w, b, r, y, N, I, O);
            params[p][i] = keep - h;
            double lm = ref_loss(x, w, b, r, y, N, I, O);
            params[p][i] = keep;
            double fd = (lp - lm) / (2 * h), g = grads[p][i];
            double e = fabs(fd - g) / fmax(fabs(g), 1e-2);
            if (e > worst) worst = e;
            norm += g * g;
        }
        CHECK(worst < 1e-6, "reference %s N=%zu I=%zu O=%zu: FD rel error %g", names[p], N, I, O,
              worst);
        CHECK(sqrt(norm) > 1e-3, "reference %s is trivially zero (norm %g)", names[p], sqrt(norm));
    }
    free(x);
    free(w);
    free(b);
    free(r);
    free(y);
    free(dx);
    free(dw);
    free(db);
    data_free(&d);
}

static void t_fd_reference(void)
{
    fd_ref_case(3, 5, 4);
    fd_ref_case(1, 1, 1);
    fd_ref_case(2, 1, 3);
    fd_ref_case(4, 13, 7);
}

/* L = sum r * y with y from the device forward (host copies of x, w, b uploaded). */
static double dev_loss(const float *x, const float *w, const float *b, const float *r, size_t N,
                       size_t I, size_t O, int *ok)
{
    clvae_error_t err = {0};
    clvae_buf_t bx = tu_upload(ctx, x, N * I), bw = tu_upload(ctx, w, O * I);
    clvae_buf_t bb = tu_upload(ctx, b, O), by = tu_zeros(ctx, N * O);
    double L = NAN;
    if (clvae_dense_forward(ctx, by, bx, bw, bb, N, I, O, &err) == CLVAE_OK) {
        float *y = tu_download(ctx, by, N * O);
        if (y) L = tu_dot(r, y, N * O);
        free(y);
    }
    if (isnan(L)) *ok = 0;
    clvae_buf_free(&bx);
    clvae_buf_free(&bw);
    clvae_buf_free(&bb);
    clvae_buf_free(&by);
    return L;
}

/* Central differences of L on the device in float, for a sample of elements of x, w, b. */
static void fd_dev_case(size_t N, size_t I, size_t O)
{
    dense_case_t c = {"fd", N, I, O, 1};
    dense_data_t d;
    data_init(&d, &c, 0xda942042e4dd58b5ULL + N * 31 + I * 7 + O);
    clvae_error_t err = {0};
    clvae_buf_t bx = tu_upload(ctx, d.x, N * I), bw = tu_upload(ctx, d.w, O * I);
    clvae_buf_t br = tu_upload(ctx, d.dy, N * O);
    clvae_buf_t bdx = tu_zeros(ctx, N * I), bdw = tu_zeros(ctx, O * I), bdb = tu_zeros(ctx, O);
    /* (REQUIRE evaluates its condition twice: call first, then check) */
    clvae_status_t st = clvae_dense_backward(ctx, bdx, bdw, bdb, br, bx, bw, N, I, O, &err);
    REQUIRE(st == CLVAE_OK, "%s", err.msg);
    float *grads[3] = {tu_download(ctx, bdx, N * I), tu_download(ctx, bdw, O * I),
                       tu_download(ctx, bdb, O)};
    float *params[3] = {d.x, d.w, d.b};
    const size_t counts[3] = {N * I, O * I, O};
    const char *names[3] = {"dx", "dw", "db"};
    const float h = 1e-2f;
    int ok = 1;
    uint64_t seed = 77;
    for (int p = 0; p < 3; p++) {
        REQUIRE(grads[p], "download of %s failed", names[p]);
        double worst = 0, norm = 0;
        for (int s = 0; s < 8; s++) {
            float u;
            tu_rand(&u, 1, 0.0f, 1.0f, &seed);
            size_t i = (size_t)(u * (float)counts[p]) % counts[p];
            float keep = params[p][i];
            params[p][i] = keep + h;
            double lp = dev_loss(d.x, d.w, d.b, d.dy, N, I, O, &ok);
            params[p][i] = keep - h;
            double lm = dev_loss(d.x, d.w, d.b, d.dy, N, I, O, &ok);
            params[p][i] = keep;
            /* the step actually taken, after rounding keep +- h to float */
            double step = (double)(keep + h) - (double)(keep - h);
            double fd = (lp - lm) / step, g = grads[p][i];
            double e = fabs(fd - g) / fmax(fabs(g), 1e-2);
            if (e > worst) worst = e;
            norm += g * g;
        }
        CHECK(ok, "device forward failed during FD");
        CHECK(worst < 1e-2, "device %s N=%zu I=%zu O=%zu: FD rel error %g", names[p], N, I, O,
              worst);
        CHECK(sqrt(norm) > 1e-3, "device %s is trivially zero (norm %g)", names[p], sqrt(norm));
        tu_note_error("dense FD (device)", worst);
    }
    for (int p = 0; p < 3; p++) free(grads[p]);
    clvae_buf_free(&bx);
    clvae_buf_free(&bw);
    clvae_buf_free(&br);
    clvae_buf_free(&bdx);
    clvae_buf_free(&bdw);
    clvae_buf_free(&bdb);
    data_free(&d);
}

static void t_fd_device(void)
{
    fd_dev_case(3, 13, 7);
    fd_dev_case(2, 64, 32);
    fd_dev_case(4, 2, 32);
}

/* dx written, not added (clvae_dense_backward_dx_set): into a dx full of NaN, the reference's
 * dy W; on clvae's own GEMM kernels (thin and block) and on CLBlast (its kernels read C
 * only where beta is not 0: a NaN left in dx must not come through); dx_set 0 adds. */
static void t_dx_set(void)
{
    static const size_t shapes[][3] = {{4, 6, 5}, {8, 40, 24}, {8, 2, 49}}; /* data_init: N <= 8 */
    clvae_error_t err = {0};
    for (int clblast = 0; clblast < 2; clblast++) {
        if (!clblast) /* the block kernel for a long k on any device (pocl's default) */
            REQUIRE(clvae_tuning_set(ctx, "gemm_block.max_k", 4096, &err) == CLVAE_OK, "%s",
                    err.msg);
        if (clblast)
            REQUIRE(clvae_tuning_set(ctx, "gemm.thin_max", 0, &err) == CLVAE_OK &&
                        clvae_tuning_set(ctx, "gemm_block.max_k", 0, &err) == CLVAE_OK &&
                        clvae_tuning_set(ctx, "gemm_block.split", 0, &err) == CLVAE_OK &&
                        clvae_tuning_set(ctx, "gemm_dot.min_k", 0, &err) == CLVAE_OK,
                    "%s", err.msg);
        for (size_t k = 0; k < sizeof shapes / sizeof *shapes; k++) {
            size_t N = shapes[k][0], I = shapes[k][1], O = shapes[k][2];
            dense_case_t c = {"dx_set", N, I, O, 1};
            dense_data_t d;
            data_init(&d, &c, 7 + k);
            double *wd = tu_double(d.w, O * I), *dyd = tu_double(d.dy, N * O);
            double *dxd = calloc(N * I, sizeof *dxd);
            clvae_dense_backward_ref(dxd, NULL, NULL, dyd, NULL, wd, N, I, O);
            float *nan = malloc(N * I * sizeof *nan);
            for (size_t i = 0; i < N * I; i++) nan[i] = NAN;
            clvae_buf_t bw = tu_upload(ctx, d.w, O * I), bdy = tu_upload(ctx, d.dy, N * O);
            clvae_buf_t bdx = tu_upload(ctx, nan, N * I), none = {0};
            clvae_counters_t c0, c1;
            clvae_ctx_counters(ctx, &c0);
            CHECK(clvae_dense_backward_dx_set(ctx, bdx, 1, none, none, bdy, none, bw, N, I, O,
                                              &err) == CLVAE_OK,
                  "%s", err.msg);
            clvae_ctx_counters(ctx, &c1);
            CHECK(clblast ? c1.launches == c0.launches : c1.launches > c0.launches,
                  "%zux%zux%zu: %llu launches of clvae's own kernels%s", N, I, O,
                  (unsigned long long)(c1.launches - c0.launches), clblast ? ", want CLBlast's" : "");
            float *gx = tu_download(ctx, bdx, N * I);
            char what[64];
            snprintf(what, sizeof what, "dx set %zux%zux%zu%s", N, I, O,
                     clblast ? " (CLBlast)" : "");
            CHECK(gx && tu_close(what, gx, dxd, N * I, 1e-5, 1e-4, NULL), "%s", what);
            /* dx_set 0 adds: twice the reference after a second call */
            CHECK(clvae_dense_backward_dx_set(ctx, bdx, 0, none, none, bdy, none, bw, N, I, O,
                                              &err) == CLVAE_OK,
                  "%s", err.msg);
            free(gx);
            gx = tu_download(ctx, bdx, N * I);
            for (size_t i = 0; i < N * I; i++) dxd[i] *= 2.0;
            snprintf(what, sizeof what, "dx added %zux%zux%zu%s", N, I, O,
                     clblast ? " (CLBlast)" : "");
            CHECK(gx && tu_close(what, gx, dxd, N * I, 1e-5, 1e-4, NULL), "%s", what);
            free(gx), free(nan), free(wd), free(dyd), free(dxd);
            clvae_buf_free(&bw), clvae_buf_free(&bdy), clvae_buf_free(&bdx);
            data_free(&d);
        }
    }
    clvae_tuning_unset(ctx, "gemm");
}

/* Skipped gradients: only dw (dx, db and w NULL), only dx (x NULL), nothing at all. */
static void t_skipped_gradients(void)
{
    dense_case_t c = {"skip", 4, 6, 5, 1};
    size_t N = 4, I = 6, O = 5;
    dense_data_t d;
    data_init(&d, &c, 99);
    clvae_error_t err = {0};
    clvae_buf_t none = {0};
    double *xd = tu_double(d.x, N * I), *wd = tu_double(d.w, O * I), *dyd = tu_double(d.dy, N * O);
    double *dwd = tu_double(d.dw0, O * I), *dxd = tu_double(d.dx0, N * I);
    clvae_dense_backward_ref(dxd, dwd, NULL, dyd, xd, wd, N, I, O);
    clvae_buf_t bx = tu_upload(ctx, d.x, N * I), bw = tu_upload(ctx, d.w, O * I);
    clvae_buf_t bdy = tu_upload(ctx, d.dy, N * O);
    clvae_buf_t bdw = tu_upload(ctx, d.dw0, O * I), bdx = tu_upload(ctx, d.dx0, N * I);
    CHECK(clvae_dense_backward(ctx, none, bdw, none, bdy, bx, none, N, I, O, &err) == CLVAE_OK,
          "dw only: %s", err.msg);
    CHECK(clvae_dense_backward(ctx, bdx, none, none, bdy, none, bw, N, I, O, &err) == CLVAE_OK,
          "dx only: %s", err.msg);
    CHECK(clvae_dense_backward(ctx, none, none, none, bdy, none, none, N, I, O, &err) ==
              CLVAE_OK, "nothing: %s", err.msg);
    float *gw = tu_download(ctx, bdw, O * I), *gx = tu_download(ctx, bdx, N * I);
    CHECK(tu_close("dw only", gw, dwd, O * I, 1e-5, 1e-4, NULL), "dw only");
    CHECK(tu_close("dx only", gx, dxd, N * I, 1e-5, 1e-4, NULL), "dx only");
    free(gw);
    free(gx);
    clvae_buf_free(&bx);
    clvae_buf_free(&bw);
    clvae_buf_free(&bdy);
    clvae_buf_free(&bdw);
    clvae_buf_free(&bdx);
    free(xd);
    free(wd);
    free(dyd);
    free(dwd);
    free(dxd);
    data_free(&d);
}

/* y = x W^T + b where W and b sit inside one bigger allocation (views at offsets). */
static void t_shared_allocation(void)
{
    size_t N = 3, I = 4, O = 2;
    float params[2 * 4 + 2] = {1, 2, 3, 4, -1, 0.5f, 0, 2, 10, -20}; /* w [2, 4] then b [2] */
    float x[3 * 4] = {1, 0, 0, 0, 0, 1, 0, 0, 1, 1, 1, 1};
    double want[3 * 2] = {11, -21, 12, -19.5, 20, -18.5};
    clvae_buf_t bp = tu_upload(ctx, params, 10), bx = tu_upload(ctx, x, 12);
    clvae_buf_t by = tu_zeros(ctx, 6);
    clvae_error_t err = {0};
    CHECK(clvae_dense_forward(ctx, by, bx, bp, clvae_buf_at(bp, 8), N, I, O, &err) == CLVAE_OK,
          "%s", err.msg);
    float *y = tu_download(ctx, by, 6);
    CHECK(tu_close("hand-computed 3x4->2", y, want, 6, 0, 0, NULL), "exact small case");
    free(y);
    clvae_buf_free(&bp);
    clvae_buf_free(&bx);
    clvae_buf_free(&by);
}

static void t_invalid_arguments(void)
{
    size_t N = 2, I = 3, O = 4;
    clvae_buf_t x = tu_zeros(ctx, N * I), w = tu_zeros(ctx, O * I), b = tu_zeros(ctx, O);
    clvae_buf_t y = tu_zeros(ctx, N * O), dx = tu_zeros(ctx, N * I), dw = tu_zeros(ctx, O * I);
    clvae_buf_t db = tu_zeros(ctx, O), none = {0};
    clvae_error_t err = {0};
#define BAD_FWD(what, ...)                                                             \
    CHECK(clvae_dense_forward(ctx, __VA_ARGS__, &err) == CLVAE_ERR_INVALID,            \
          "forward accepted %s", what)
#define BAD_BWD(what, ...)                                                             \
    CHECK(clvae_dense_backward(ctx, __VA_ARGS__, &err) == CLVAE_ERR_INVALID,           \
          "backward accepted %s", what)
    BAD_FWD("N=0", y, x, w, b, 0, I, O);
    BAD_FWD("in=0", y, x, w, b, N, 0, O);
    BAD_FWD("out=0", y, x, w, b, N, I, 0);
    BAD_FWD("NULL y", none, x, w, b, N, I, O);
    BAD_FWD("NULL x", y, none, w, b, N, I, O);
    BAD_FWD("NULL w", y, x, none, b, N, I, O);
    BAD_FWD("y past its buffer", y, x, w, b, N + 1, I, O);
    BAD_FWD("w past its buffer", y, x, w, b, 1, I + 1, O);
    BAD_FWD("b past its buffer", y, x, w, clvae_buf_at(b, O + TU_GUARD), 1, 1, 1);
    BAD_FWD("y overlapping x", clvae_buf_at(x, 0), x, w, b, 1, 2, 2);
    BAD_FWD("sizes over 2^31", y, x, w, b, (size_t)1 << 20, (size_t)1 << 12, O);
    BAD_BWD("N=0", dx, dw, db, y, x, w, 0, I, O);
    BAD_BWD("NULL dy", dx, dw, db, none, x, w, N, I, O);
    BAD_BWD("dx without w", dx, none, none, y, x, none, N, I, O);
    BAD_BWD("dw without x", none, dw, none, y, none, w, N, I, O);
    BAD_BWD("dx past its buffer", dx, none, none, y, x, w, N + 2, I, 1);
    BAD_BWD("dx overlapping dy", clvae_buf_at(y, 0), none, none, y, x, w, N, 2, 2);
    BAD_BWD("dw overlapping w", none, w, none, y, x, w, N, I, O);
    BAD_BWD("dw overlapping dx", dw, dw, none, y, x, w, N, I, O);
#undef BAD_FWD
#undef BAD_BWD
    CHECK(err.msg[0] != '\0', "no message recorded");
    /* nothing was written: every buffer still reads back as zeros inside intact guards */
    clvae_buf_t all[7] = {x, w, b, y, dx, dw, db};
    const size_t n[7] = {N * I, O * I, O, N * O, N * I, O * I, O};
    for (int i = 0; i < 7; i++) {
        float *h = tu_download(ctx, all[i], n[i]);
        int zero = h != NULL;
        for (size_t j = 0; h && j < n[i]; j++) zero &= h[j] == 0.0f;
        CHECK(zero, "buffer %d was written by a rejected call", i);
        free(h);
        clvae_buf_free(&all[i]);
    }
}

int main(void)
{
    ctx = tu_ctx();
    if (!ctx) return 1;
    RUN(t_vae_shapes);
    RUN(t_digits_ae_shapes);
    RUN(t_awkward_shapes);
    RUN(t_skipped_gradients);
    RUN(t_shared_allocation);
    RUN(t_fd_reference);
    RUN(t_fd_device);
    RUN(t_invalid_arguments);
    RUN(t_dx_set);
    tu_print_errors();
    clvae_ctx_free(ctx);
    return TEST_EXIT();
}
