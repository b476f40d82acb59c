/* Activations: device against the double reference, edge values, gradients, in place, bad input. */
#define TEST_FILE "test_activation"
#include "ref/ref.h"
#include "test.h"
#include "testutil.h"

#include <math.h>

#include "clvae/ops/activation.h"

static clvae_ctx_t *ctx;

/* Every activation, LeakyReLU with Keras' slope, PyTorch's slope and slope 0. */
static const struct {
    clvae_act_t act;
    float slope;
    const char *label;
} acts[] = {
    {CLVAE_ACT_IDENTITY, 0.0f, "identity"},
    {CLVAE_ACT_RELU, 0.0f, "relu"},
    {CLVAE_ACT_LEAKY_RELU, 0.3f, "leaky_relu 0.3"},
    {CLVAE_ACT_LEAKY_RELU, 0.01f, "leaky_relu 0.01"},
    {CLVAE_ACT_LEAKY_RELU, 0.0f, "leaky_relu 0"},
    {CLVAE_ACT_SIGMOID, 0.0f, "sigmoid"},
    {CLVAE_ACT_TANH, 0.0f, "tanh"},
    {CLVAE_ACT_SILU, 0.0f, "silu"},
};
#define NACTS (sizeof acts / sizeof acts[0])

/* Device results of one case, for checks beyond the comparison with the reference. */
typedef struct act_result {
    float *y;  /* act(x) */
    float *dx; /* dx0 + dy * act'(x) */
} act_result_t;

/* Forward and backward of activation a over x (n floats) on the device against the
 * reference, each run twice to check that the bits repeat. The caller frees the result. */
static act_result_t run_case(int a, const float *x, const float *dy, const float *dx0, size_t n,
                             const char *what)
{
    clvae_act_t act = acts[a].act;
    float slope = acts[a].slope;
    act_result_t res = {NULL, NULL};
    clvae_error_t err = {0};
    char msg[160], note[64];
    float *nan = malloc(n * sizeof(float));
    for (size_t i = 0; i < n; i++) nan[i] = NAN;

    /* forward into a NaN-filled y */
    clvae_buf_t bx = tu_upload(ctx, x, n), by = tu_upload(ctx, nan, n);
    double *xd = tu_double(x, n), *yd = malloc(n * sizeof(double));
    clvae_act_forward_ref(yd, xd, act, slope, n);
    CHECK(clvae_act_forward(ctx, by, bx, act, slope, n, &err) == CLVAE_OK, "%s %s: %s",
          acts[a].label, what, err.msg);
    res.y = tu_download(ctx, by, n);
    double rel = 0;
    snprintf(msg, sizeof msg, "%s forward %s", acts[a].label, what);
    CHECK(tu_close(msg, res.y, yd, n, 1e-5, 1e-4, &rel), "%s", msg);
    snprintf(note, sizeof note, "%s forward", clvae_act_name(act));
    tu_note_error(note, rel);
    CHECK(clvae_act_forward(ctx, by, bx, act, slope, n, &err) == CLVAE_OK, "%s", err.msg);
    float *y2 = tu_download(ctx, by, n);
    CHECK(res.y && y2 && memcmp(res.y, y2, n * sizeof(float)) == 0, "%s: not repeatable", msg);
    free(y2);

    /* backward from the device's y, accumulating into dx0 */
    double *yf = res.y ? tu_double(res.y, n) : NULL;
    double *dyd = tu_double(dy, n), *dxd = tu_double(dx0, n);
    if (yf) clvae_act_backward_ref(dxd, dyd, xd, yf, act, slope, n);
    clvae_buf_t bdy = tu_upload(ctx, dy, n);
    float *dx2 = NULL;
    for (int rep = 0; rep < 2; rep++) {
        clvae_buf_t bdx = tu_upload(ctx, dx0, n);
        CHECK(clvae_act_backward(ctx, bdx, bdy, bx, by, act, slope, n, &err) == CLVAE_OK,
              "%s %s: %s", acts[a].label, what, err.msg);
        if (rep == 0) res.dx = tu_download(ctx, bdx, n);
        else dx2 = tu_download(ctx, bdx, n);
        clvae_buf_free(&bdx);
    }
    snprintf(msg, sizeof msg, "%s backward %s", acts[a].label, what);
    CHECK(yf && tu_close(msg, res.dx, dxd, n, 1e-5, 1e-4, &rel), "%s", msg);
    snprintf(note, sizeof note, "%s backward", clvae_act_name(act));
    tu_note_error(note, rel);
    CHECK(res.dx && dx2 && memcmp(res.dx, dx2, n * sizeof(float)) == 0, "%s: not repeatable",
          msg);

    /* the writing form into a NaN-filled dx: dy * act'(x) against the reference from zeros */
    if (yf) {
        for (size_t i = 0; i < n; i++) dxd[i] = 0.0;
        clvae_act_backward_ref(dxd, dyd, xd, yf, act, slope, n);
        clvae_buf_t bdx = tu_upload(ctx, nan, n);
        CHECK(clvae_act_backward_set(ctx, bdx, bdy, bx, by, act, slope, n, &err) == CLVAE_OK,
              "%s %s (set): %s", acts[a].label, what, err.msg);
        float *set = tu_download(ctx, bdx, n);
        snprintf(msg, sizeof msg, "%s backward (set) %s", acts[a].label, what);
        CHECK(set && tu_close(msg, set, dxd, n, 1e-5, 1e-4, &rel), "%s", msg);
        free(set);
        clvae_buf_free(&bdx);
    }

    free(dx2);
    clvae_buf_free(&bx);
    clvae_buf_free(&by);
    clvae_buf_free(&bdy);
    free(nan);
    free(xd);
    free(yd);
    free(yf);
    free(dyd);
    free(dxd);
    return res;
}

static void t_sizes(void)
{
    static const size_t sizes[] = {1, 63, 64, 65, 1000003};
    for (size_t s = 0; s < sizeof sizes / sizeof sizes[0]; s++) {
        size_t n = s == 4 ? tu_size(sizes[s], 4099) : sizes[s];
        uint64_t seed = 0x9e3779b97f4a7c15ULL ^ n;
        float *x = malloc(n * sizeof(float)), *dy = malloc(n * sizeof(float));
        float *dx0 = malloc(n * sizeof(float));
        tu_rand(x, n, -6.0f, 6.0f, &seed);
        tu_rand(dy, n, -1.0f, 1.0f, &seed);
        tu_rand(dx0, n, -1.0f, 1.0f, &seed);
        char what[32];
        snprintf(what, sizeof what, "n=%zu", n);
        for (size_t a = 0; a < NACTS; a++) {
            act_result_t r = run_case((int)a, x, dy, dx0, n, what);
            free(r.y);
            free(r.dx);
        }
        free(x);
        free(dy);
        free(dx0);
    }
}

/* Edge values: compared with the reference (NaN and infinities must match exactly), then
 * the promised values checked one by one, with dy = 1 and dx0 = 0 so that dx = act'(x). */
static void t_special_values(void)
{
    enum { ZERO, NZERO, TINY, NTINY, P88, N88, BIG, NBIG, INF, NINF, QNAN, ONE, NONE, NSPEC };
    float x[NSPEC] = {0.0f, -0.0f, 1e-30f, -1e-30f, 88.0f, -88.0f, 1e4f,
                      -1e4f, INFINITY, -INFINITY, NAN, 1.0f, -1.0f};
    float dy[NSPEC], dx0[NSPEC];
    for (int i = 0; i < NSPEC; i++) {
        dy[i] = 1.0f;
        dx0[i] = 0.0f;
    }
    for (size_t a = 0; a < NACTS; a++) {
        act_result_t r = run_case((int)a, x, dy, dx0, NSPEC, "special values");
        const char *l = acts[a].label;
        float slope = acts[a].slope;
        if (!r.y || !r.dx) {
            CHECK(0, "%s: no result", l);
            continue;
        }
        /* NaN propagates through forward and backward; nothing else makes a NaN */
        CHECK(isnan(r.y[QNAN]), "%s(NaN) = %g", l, (double)r.y[QNAN]);
        if (acts[a].act != CLVAE_ACT_IDENTITY) /* identity' = 1 does not look at x */
            CHECK(isnan(r.dx[QNAN]), "%s'(NaN) = %g", l, (double)r.dx[QNAN]);
        for (int i = 0; i < NSPEC; i++) {
            if (i == QNAN) continue;
            CHECK(!isnan(r.y[i]) && !isnan(r.dx[i]), "%s at %g gives %g, gradient %g", l,
                  (double)x[i], (double)r.y[i], (double)r.dx[i]);
        }
        switch (acts[a].act) {
        case CLVAE_ACT_RELU:
            CHECK(r.y[NINF] == 0.0f && r.y[INF] == INFINITY, "relu(+-inf)");
            CHECK(r.dx[ZERO] == 0.0f && r.dx[NZERO] == 0.0f, "relu'(0) = %g", (double)r.dx[ZERO]);
            CHECK(r.dx[TINY] == 1.0f && r.dx[NTINY] == 0.0f, "relu'(+-1e-30)");
            break;
        case CLVAE_ACT_LEAKY_RELU:
            CHECK(r.dx[ZERO] == slope && r.dx[NZERO] == slope, "leaky'(0) = %g, slope %g",
                  (double)r.dx[ZERO], (double)slope);
            CHECK(r.dx[TINY] == 1.0f && r.dx[NTINY] == slope, "leaky'(+-1e-30)");
            CHECK(r.y[NINF] == (slope > 0 ? -INFINITY : 0.0f), "leaky(-inf) = %g",
                  (double)r.y[NINF]);
            CHECK(r.y[NBIG] == -1e4f * slope, "leaky(-1e4) = %g", (double)r.y[NBIG]);
            break;
        case CLVAE_ACT_SIGMOID:
            CHECK(r.y[INF] == 1.0f && r.y[NINF] == 0.0f, "sigmoid(+-inf) = %g %g",
                  (double)r.y[INF], (double)r.y[NINF]);
            CHECK(r.y[BIG] == 1.0f && r.y[NBIG] == 0.0f, "sigmoid(+-1e4)");
            CHECK(r.y[ZERO] == 0.5f && r.dx[ZERO] == 0.25f, "sigmoid(0), sigmoid'(0)");
            CHECK(r.dx[INF] == 0.0f && r.dx[NINF] == 0.0f, "sigmoid'(+-inf)");
            break;
        case CLVAE_ACT_TANH:
            CHECK(r.y[INF] == 1.0f && r.y[NINF] == -1.0f, "tanh(+-inf) = %.9g %.9g",
                  (double)r.y[INF], (double)r.y[NINF]);
            CHECK(r.y[P88] == 1.0f && r.y[BIG] == 1.0f && r.y[NBIG] == -1.0f, "tanh(88, +-1e4)");
            CHECK(r.dx[ZERO] == 1.0f && r.dx[INF] == 0.0f && r.dx[NINF] == 0.0f, "tanh'");
            break;
        case CLVAE_ACT_SILU:
            CHECK(r.y[NINF] == 0.0f && r.y[INF] == INFINITY, "silu(+-inf) = %g %g",
                  (double)r.y[NINF], (double)r.y[INF]);
            CHECK(r.dx[INF] == 1.0f && r.dx[NINF] == 0.0f, "silu'(+-inf) = %g %g",
                  (double)r.dx[INF], (double)r.dx[NINF]);
            CHECK(r.y[BIG] == 1e4f && r.dx[BIG] == 1.0f && r.dx[ZERO] == 0.5f, "silu at 1e4, 0");
            break;
        case CLVAE_ACT_IDENTITY:
            CHECK(r.y[INF] == INFINITY && r.y[NTINY] == -1e-30f && r.dx[INF] == 1.0f,
                  "identity");
            break;
        }
        free(r.y);
        free(r.dx);
    }
}

/* Random x away from 0 (|x| in [0.05, 4]) so that no finite difference crosses a kink. */
static void rand_away_from_zero(float *x, size_t n, uint64_t *seed)
{
    tu_rand(x, n, -1.0f, 1.0f, seed);
    for (size_t i = 0; i < n; i++) x[i] = x[i] < 0 ? -0.05f + 3.95f * x[i] : 0.05f + 3.95f * x[i];
}

/* L = sum r * act(x) with the reference in double. */
static double ref_loss(const double *x, const double *r, double *y, clvae_act_t act,
                       double slope, size_t n)
{
    clvae_act_forward_ref(y, x, act, slope, n);
    double L = 0;
    for (size_t i = 0; i < n; i++) L += r[i] * y[i];
    return L;
}

static void t_fd_reference(void)
{
    enum { N = 24 };
    for (size_t a = 0; a < NACTS; a++) {
        clvae_act_t act = acts[a].act;
        double slope = acts[a].slope;
        uint64_t seed = 1234 + a;
        float xf[N], rf[N];
        rand_away_from_zero(xf, N, &seed);
        tu_rand(rf, N, -1.0f, 1.0f, &seed);
        double x[N], r[N], y[N], dx[N] = {0};
        for (int i = 0; i < N; i++) {
            x[i] = xf[i];
            r[i] = rf[i];
        }
        clvae_act_forward_ref(y, x, act, slope, N);
        clvae_act_backward_ref(dx, r, x, y, act, slope, N);
        const double h = 1e-6;
        double worst = 0, norm = 0;
        for (int i = 0; i < N; i++) {
            double keep = x[i], tmp[N];
            x[i] = keep + h;
            double lp = ref_loss(x, r, tmp, act, slope, N);
            x[i] = keep - h;
            double lm = ref_loss(x, r, tmp, act, slope, N);
            x[i] = keep;
            double fd = (lp - lm) / (2 * h);
            double e = fabs(fd - dx[i]) / fmax(fabs(dx[i]), 1e-3);
            if (e > worst) worst = e;
            norm += dx[i] * dx[i];
        }
        CHECK(worst < 1e-6, "reference %s: FD rel error %g", acts[a].label, worst);
        CHECK(sqrt(norm) > 0.1, "reference %s: gradient trivially zero (%g)", acts[a].label,
              sqrt(norm));
    }
}

/* Central differences on the device in float. Each y[i] depends on x[i] alone, so the
 * central difference of L = sum r * y in x[i] is r[i] (y+[i] - y-[i]) / step[i], where
 * y+ = act(x + h) and y- = act(x - h) come from two launches over all elements. */
static void t_fd_device(void)
{
    enum { N = 257 };
    for (size_t a = 0; a < NACTS; a++) {
        clvae_act_t act = acts[a].act;
        float slope = acts[a].slope;
        uint64_t seed = 4321 + a;
        float x[N], r[N], xp[N], xm[N], zero[N] = {0};
        rand_away_from_zero(x, N, &seed);
        tu_rand(r, N, -1.0f, 1.0f, &seed);
        const float h = 1e-2f;
        for (int i = 0; i < N; i++) {
            xp[i] = x[i] + h;
            xm[i] = x[i] - h;
        }
        clvae_error_t err = {0};
        clvae_buf_t bx = tu_upload(ctx, x, N), by = tu_zeros(ctx, N), br = tu_upload(ctx, r, N);
        clvae_buf_t bdx = tu_upload(ctx, zero, N);
        clvae_buf_t bp = tu_upload(ctx, xp, N), bm = tu_upload(ctx, xm, N);
        int ok = clvae_act_forward(ctx, by, bx, act, slope, N, &err) == CLVAE_OK &&
                 clvae_act_backward(ctx, bdx, br, bx, by, act, slope, N, &err) == CLVAE_OK &&
                 clvae_act_forward(ctx, bp, bp, act, slope, N, &err) == CLVAE_OK &&
                 clvae_act_forward(ctx, bm, bm, act, slope, N, &err) == CLVAE_OK;
        CHECK(ok, "%s: %s", acts[a].label, err.msg);
        float *g = tu_download(ctx, bdx, N), *yp = tu_download(ctx, bp, N);
        float *ym = tu_download(ctx, bm, N);
        double worst = 0, norm = 0;
        if (ok && g && yp && ym) {
            for (int i = 0; i < N; i++) {
                double step = (double)xp[i] - (double)xm[i];
                double fd = (double)r[i] * ((double)yp[i] - (double)ym[i]) / step;
                double e = fabs(fd - g[i]) / fmax(fabs((double)g[i]), 1e-2);
                if (e > worst) worst = e;
                norm += (double)g[i] * g[i];
            }
        }
        CHECK(ok && g && yp && ym && worst < 1e-2, "device %s: FD rel error %g", acts[a].label,
              worst);
        CHECK(sqrt(norm) > 0.1, "device %s: gradient trivially zero (%g)", acts[a].label,
              sqrt(norm));
        tu_note_error("activation FD (device)", worst);
        free(g);
        free(yp);
        free(ym);
        clvae_buf_free(&bx);
        clvae_buf_free(&by);
        clvae_buf_free(&br);
        clvae_buf_free(&bdx);
        clvae_buf_free(&bp);
        clvae_buf_free(&bm);
    }
}

/* y = act(y) in place; then the gradient from y alone (x NULL) for all but SiLU. */
static void t_in_place(void)
{
    static const size_t sizes[] = {65, 1000};
    for (size_t s = 0; s < 2; s++) {
        size_t n = sizes[s];
        uint64_t seed = 555 + n;
        float *x = malloc(n * sizeof(float)), *dy = malloc(n * sizeof(float));
        tu_rand(x, n, -5.0f, 5.0f, &seed);
        tu_rand(dy, n, -1.0f, 1.0f, &seed);
        double *xd = tu_double(x, n), *yd = malloc(n * sizeof(double));
        for (size_t a = 0; a < NACTS; a++) {
            clvae_act_t act = acts[a].act;
            float slope = acts[a].slope;
            clvae_error_t err = {0};
            clvae_buf_t b = tu_upload(ctx, x, n), bdy = tu_upload(ctx, dy, n);
            clvae_buf_t bdx = tu_zeros(ctx, n), none = {0};
            clvae_act_forward_ref(yd, xd, act, slope, n);
            CHECK(clvae_act_forward(ctx, b, b, act, slope, n, &err) == CLVAE_OK, "%s", err.msg);
            float *y = tu_download(ctx, b, n);
            char msg[96];
            snprintf(msg, sizeof msg, "%s in place n=%zu", acts[a].label, n);
            CHECK(tu_close(msg, y, yd, n, 1e-5, 1e-4, NULL), "%s", msg);
            if (act != CLVAE_ACT_SILU && y) {
                double *yf = tu_double(y, n), *dyd = tu_double(dy, n);
                double *want = calloc(n, sizeof(double));
                clvae_act_backward_ref(want, dyd, NULL, yf, act, slope, n);
                CHECK(clvae_act_backward(ctx, bdx, bdy, none, b, act, slope, n, &err) ==
                          CLVAE_OK, "%s: %s", msg, err.msg);
                float *dx = tu_download(ctx, bdx, n);
                snprintf(msg, sizeof msg, "%s backward from y only n=%zu", acts[a].label, n);
                CHECK(tu_close(msg, dx, want, n, 1e-5, 1e-4, NULL), "%s", msg);
                free(dx);
                free(yf);
                free(dyd);
                free(want);
            }
            free(y);
            clvae_buf_free(&b);
            clvae_buf_free(&bdy);
            clvae_buf_free(&bdx);
        }
        free(x);
        free(dy);
        free(xd);
        free(yd);
    }
}

static void t_names(void)
{
    static const struct {
        const char *name;
        clvae_act_t act;
    } ok[] = {
        {"identity", CLVAE_ACT_IDENTITY}, {"linear", CLVAE_ACT_IDENTITY},
        {"relu", CLVAE_ACT_RELU},         {"ReLU", CLVAE_ACT_RELU},
        {"leaky_relu", CLVAE_ACT_LEAKY_RELU}, {"LeakyReLU", CLVAE_ACT_LEAKY_RELU},
        {"sigmoid", CLVAE_ACT_SIGMOID},   {"tanh", CLVAE_ACT_TANH},
        {"silu", CLVAE_ACT_SILU},         {"swish", CLVAE_ACT_SILU},
    };
    clvae_error_t err = {0};
    for (size_t i = 0; i < sizeof ok / sizeof ok[0]; i++) {
        clvae_act_t a = (clvae_act_t)-1;
        CHECK(clvae_act_parse(ok[i].name, &a, &err) == CLVAE_OK && a == ok[i].act,
              "\"%s\" parsed as %d", ok[i].name, (int)a);
    }
    for (int a = CLVAE_ACT_IDENTITY; a <= CLVAE_ACT_SILU; a++) {
        clvae_act_t back = (clvae_act_t)-1;
        const char *name = clvae_act_name((clvae_act_t)a);
        CHECK(clvae_act_parse(name, &back, &err) == CLVAE_OK && (int)back == a,
              "name %s does not parse back", name);
    }
    CHECK(strcmp(clvae_act_name((clvae_act_t)42), "unknown") == 0, "name of 42");
    static const char *bad[] = {"", "relu6", "gelu", "leaky relu", "sigmoid ", "relux"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        clvae_act_t a = CLVAE_ACT_TANH;
        clvae_error_clear(&err);
        CHECK(clvae_act_parse(bad[i], &a, &err) == CLVAE_ERR_INVALID, "\"%s\" accepted", bad[i]);
        CHECK(a == CLVAE_ACT_TANH, "\"%s\" changed the output", bad[i]);
        CHECK(strstr(err.msg, "leaky_relu") && strstr(err.msg, "swish"),
              "message does not list the names: %s", err.msg);
    }
    clvae_act_t a;
    CHECK(clvae_act_parse(NULL, &a, &err) == CLVAE_ERR_INVALID, "NULL name accepted");
}

static void t_invalid_arguments(void)
{
    size_t n = 16;
    clvae_buf_t x = tu_zeros(ctx, n), y = tu_zeros(ctx, n), dx = tu_zeros(ctx, n);
    clvae_buf_t dy = tu_zeros(ctx, n), none = {0};
    const clvae_act_t R = CLVAE_ACT_RELU, L = CLVAE_ACT_LEAKY_RELU, S = CLVAE_ACT_SILU;
    clvae_error_t err = {0};
#define BAD_FWD(what, ...)                                                              \
    CHECK(clvae_act_forward(ctx, __VA_ARGS__, &err) == CLVAE_ERR_INVALID, "forward accepted %s", \
          what)
#define BAD_BWD(what, ...)                                                              \
    CHECK(clvae_act_backward(ctx, __VA_ARGS__, &err) == CLVAE_ERR_INVALID,              \
          "backward accepted %s", what)
    BAD_FWD("n=0", y, x, R, 0.0f, 0);
    BAD_FWD("act 6", y, x, (clvae_act_t)6, 0.0f, n);
    BAD_FWD("act -1", y, x, (clvae_act_t)-1, 0.0f, n);
    BAD_FWD("NaN slope", y, x, L, NAN, n);
    BAD_FWD("negative slope", y, x, L, -0.1f, n);
    BAD_FWD("infinite slope", y, x, L, INFINITY, n);
    BAD_FWD("NULL x", y, none, R, 0.0f, n);
    BAD_FWD("NULL y", none, x, R, 0.0f, n);
    BAD_FWD("y past its buffer", y, x, R, 0.0f, n + TU_GUARD + 1);
    BAD_FWD("offset past the buffer", clvae_buf_at(y, 100), x, R, 0.0f, 1);
    BAD_FWD("partial overlap", clvae_buf_at(x, 1), x, R, 0.0f, n - 1);
    BAD_FWD("n over 2^32", y, x, R, 0.0f, (size_t)1 << 32);
    BAD_BWD("n=0", dx, dy, x, y, R, 0.0f, 0);
    BAD_BWD("act 99", dx, dy, x, y, (clvae_act_t)99, 0.0f, n);
    BAD_BWD("NaN slope", dx, dy, x, y, L, NAN, n);
    BAD_BWD("NULL dx", none, dy, x, y, R, 0.0f, n);
    BAD_BWD("NULL dy", dx, none, x, y, R, 0.0f, n);
    BAD_BWD("relu without y", dx, dy, x, none, R, 0.0f, n);
    BAD_BWD("silu without x", dx, dy, none, y, S, 0.0f, n);
    BAD_BWD("dx same as dy", dy, dy, x, y, R, 0.0f, n);
    BAD_BWD("dx overlapping y", clvae_buf_at(y, 2), dy, x, y, R, 0.0f, n - 2);
    BAD_BWD("dx overlapping unread x", x, dy, x, y, R, 0.0f, n);
    BAD_BWD("dx past its buffer", dx, dy, x, y, R, 0.0f, n + TU_GUARD + 1);
#undef BAD_FWD
#undef BAD_BWD
    CHECK(strstr(err.msg, "activation") != NULL, "no message recorded: %s", err.msg);
    /* identity needs neither x nor y for its gradient, and slope is only checked for leaky */
    CHECK(clvae_act_backward(ctx, dx, dy, none, none, CLVAE_ACT_IDENTITY, NAN, n, &err) ==
              CLVAE_OK, "identity backward without x, y: %s", err.msg);
    /* nothing was written: every buffer still reads back as zeros inside intact guards */
    clvae_buf_t all[4] = {x, y, dx, dy};
    for (int i = 0; i < 4; i++) {
        float *h = tu_download(ctx, all[i], n);
        int zero = h != NULL;
        for (size_t j = 0; h && j < n; j++) zero &= h[j] == 0.0f;
        CHECK(zero, "buffer %d was written by a rejected call", i);
        free(h);
        clvae_buf_free(&all[i]);
    }
}

int main(void)
{
    ctx = tu_ctx();
    if (!ctx) return 1;
    RUN(t_sizes);
    RUN(t_special_values);
    RUN(t_fd_reference);
    RUN(t_fd_device);
    RUN(t_in_place);
    RUN(t_names);
    RUN(t_invalid_arguments);
    tu_print_errors();
    clvae_ctx_free(ctx);
    return TEST_EXIT();
}
