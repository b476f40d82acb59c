/* Optimizers: many Adam and SGD steps on the device against the double reference. */
#define TEST_FILE "test_optim"
#include "ref/ref.h"
#include "test.h"
#include "testutil.h"

#include <math.h>

#include "clvae/ops/optim.h"
#include "clvae/train/optimizer.h"

static clvae_ctx_t *ctx;

/* Runs `steps` steps of Adam (sgd == NULL) or SGD on n parameters with fresh random
 * gradients each step, on the device and on the reference, and compares all state. */
static void run_steps(const char *name, const clvae_adam_params_t *adam,
                      const clvae_sgd_params_t *sgd, size_t n, int steps)
{
    uint64_t seed = 0x1234567ULL + n;
    float *p = malloc(n * sizeof *p), *g = malloc(n * sizeof *g);
    tu_rand(p, n, -1.0f, 1.0f, &seed);
    double *pr = tu_double(p, n), *gr = malloc(n * sizeof *gr);
    double *mr = calloc(n, sizeof *mr), *vr = calloc(n, sizeof *vr);
    clvae_buf_t bp = tu_upload(ctx, p, n), bg = tu_zeros(ctx, n), bm = tu_zeros(ctx, n),
                bv = tu_zeros(ctx, n);
    clvae_error_t err = {0};
    for (int t = 1; t <= steps; t++) {
        tu_rand(g, n, -0.5f, 0.5f, &seed);
        if (t == 3) g[n / 2] = 0.0f; /* a zero gradient is a normal case */
        for (size_t i = 0; i < n; i++) gr[i] = g[i];
        clvae_buf_upload(ctx, bg, g, n, &err);
        clvae_status_t s;
        if (sgd) {
            s = clvae_sgd_step(ctx, bp, bg, bm, sgd, t, n, &err);
            clvae_sgd_step_ref(pr, gr, mr, sgd, t, n);
        } else {
            s = clvae_adam_step(ctx, bp, bg, bm, bv, adam, t, n, &err);
            clvae_adam_step_ref(pr, gr, mr, vr, adam, t, n);
        }
        CHECK(s == CLVAE_OK, "%s step %d: %s", name, t, err.msg);
    }
    float *gp = tu_download(ctx, bp, n), *gm = tu_download(ctx, bm, n);
    double rel = 0;
    /* parameters move by about lr per step: compare the change with lr-relative slack */
    CHECK(tu_close(name, gp, pr, n, 1e-6, 1e-5, &rel), "%s: parameters", name);
    tu_note_error(sgd ? "sgd" : "adam", rel);
    CHECK(tu_close(name, gm, mr, n, 1e-6, 1e-5, NULL), "%s: first moment / buffer", name);
    if (!sgd) {
        float *gv = tu_download(ctx, bv, n);
        CHECK(tu_close(name, gv, vr, n, 1e-9, 1e-5, NULL), "%s: second moment", name);
        free(gv);
    }
    free(gp);
    free(gm);
    clvae_buf_free(&bp);
    clvae_buf_free(&bg);
    clvae_buf_free(&bm);
    clvae_buf_free(&bv);
    free(p);
    free(g);
    free(pr);
    free(gr);
    free(mr);
    free(vr);
}

static void t_adam_matches_reference(void)
{
    clvae_adam_params_t hp = clvae_adam_defaults();
    run_steps("adam n=1", &hp, NULL, 1, 25);
    run_steps("adam n=257", &hp, NULL, 257, 25);
    run_steps("adam n=100003", &hp, NULL, 100003, 10);
    hp.weight_decay = 0.01f;
    hp.lr = 3e-3f;
    run_steps("adam wd=0.01", &hp, NULL, 1001, 25);
}

static void t_adam_first_step_moves_by_lr(void)
{
    /* Step 1: m_hat = g and v_hat = g^2, so every parameter moves by lr * sign(g). */
    size_t n = 64;
    float p[64], g[64];
    for (size_t i = 0; i < n; i++) {
        p[i] = 0.5f;
        g[i] = (i % 2 ? 1.0f : -1.0f) * (0.01f + (float)i);
    }
    clvae_buf_t bp = tu_upload(ctx, p, n), bg = tu_upload(ctx, g, n), bm = tu_zeros(ctx, n),
                bv = tu_zeros(ctx, n);
    clvae_adam_params_t hp = clvae_adam_defaults();
    clvae_error_t err = {0};
    CHECK(clvae_adam_step(ctx, bp, bg, bm, bv, &hp, 1, n, &err) == CLVAE_OK, "%s", err.msg);
    float *got = tu_download(ctx, bp, n);
    for (size_t i = 0; got && i < n; i++) {
        float want = 0.5f - 1e-3f * (g[i] > 0 ? 1.0f : -1.0f);
        CHECK(fabsf(got[i] - want) < 1e-6f, "param %zu: %.9g want %.9g", i, (double)got[i],
              (double)want);
    }
    free(got);
    clvae_buf_free(&bp);
    clvae_buf_free(&bg);
    clvae_buf_free(&bm);
    clvae_buf_free(&bv);
}

static void t_sgd_matches_reference(void)
{
    clvae_sgd_params_t plain = {0.1f, 0.0f, 0.0f, 0.0f};
    run_steps("sgd plain", NULL, &plain, 333, 10);
    clvae_sgd_params_t mom = {0.05f, 0.9f, 0.0f, 0.0f};
    run_steps("sgd momentum", NULL, &mom, 1000, 20);
    clvae_sgd_params_t all = {0.05f, 0.9f, 0.1f, 1e-3f};
    run_steps("sgd momentum dampening wd", NULL, &all, 77, 20);
}

/* A guarded step with a non-zero skip value leaves parameters and state bit for bit as they
 * were (Adam and SGD with momentum); with 0 it is the ordinary step. */
static void t_guarded_step_skips(void)
{
    size_t n = 1000;
    float *p = malloc(n * sizeof *p), *g = malloc(n * sizeof *g), *m = malloc(n * sizeof *m);
    uint64_t seed = 7;
    tu_rand(p, n, -1, 1, &seed);
    tu_rand(g, n, -1, 1, &seed);
    tu_rand(m, n, 0, 1, &seed);
    g[n / 2] = NAN; /* what a poisoned batch leaves in the gradient */
    const float flags[3] = {1.0f, 42.0f, 0.0f};
    clvae_adam_params_t hp = clvae_adam_defaults();
    clvae_sgd_params_t sgd = {0.1f, 0.9f, 0.0f, 0.0f};
    clvae_error_t err = {0};
    for (int opt = 0; opt < 2; opt++) {
        for (int f = 0; f < 3; f++) {
            clvae_buf_t bp = tu_upload(ctx, p, n), bg = tu_upload(ctx, g, n),
                        bm = tu_upload(ctx, m, n), bv = tu_upload(ctx, m, n),
                        bs = tu_upload(ctx, &flags[f], 1);
            clvae_status_t s =
                opt == 0 ? clvae_adam_step_guarded(ctx, bp, bg, bm, bv, &hp, 3, n, bs, &err)
                         : clvae_sgd_step_guarded(ctx, bp, bg, bm, &sgd, 3, n, bs, &err);
            CHECK(s == CLVAE_OK, "%s", err.msg);
            float *gp = tu_download(ctx, bp, n), *gm = tu_download(ctx, bm, n),
                  *gv = tu_download(ctx, bv, n);
            REQUIRE(gp && gm && gv, "download");
            int same = memcmp(gp, p, n * sizeof *p) == 0 && memcmp(gm, m, n * sizeof *m) == 0 &&
                       memcmp(gv, m, n * sizeof *m) == 0;
            if (flags[f] != 0.0f)
                CHECK(same, "%s: skip flag %g but the step changed the state",
                      opt ? "sgd" : "adam", (double)flags[f]);
            else
                CHECK(!same && gp[0] != p[0] && isnan(gp[n / 2]),
                      "%s: flag 0 must step (and the NaN gradient spoils its parameter)",
                      opt ? "sgd" : "adam");
            free(gp);
            free(gm);
            free(gv);
            clvae_buf_free(&bp);
            clvae_buf_free(&bg);
            clvae_buf_free(&bm);
            clvae_buf_free(&bv);
            clvae_buf_free(&bs);
        }
    }
    free(p);
    free(g);
    free(m);
}

static void t_deterministic(void)
{
    size_t n = tu_size(50000, 5000);
    float *p = malloc(n * sizeof *p), *g = malloc(n * sizeof *g);
    uint64_t seed = 99;
    tu_rand(p, n, -1, 1, &seed);
    tu_rand(g, n, -1, 1, &seed);
    float *res[2] = {NULL, NULL};
    clvae_adam_params_t hp = clvae_adam_defaults();
    clvae_error_t err = {0};
    for (int r = 0; r < 2; r++) {
        clvae_buf_t bp = tu_upload(ctx, p, n), bg = tu_upload(ctx, g, n), bm = tu_zeros(ctx, n),
                    bv = tu_zeros(ctx, n);
        for (int t = 1; t <= 3; t++) clvae_adam_step(ctx, bp, bg, bm, bv, &hp, t, n, &err);
        res[r] = tu_download(ctx, bp, n);
        clvae_buf_free(&bp);
        clvae_buf_free(&bg);
        clvae_buf_free(&bm);
        clvae_buf_free(&bv);
    }
    CHECK(res[0] && res[1] && memcmp(res[0], res[1], n * sizeof(float)) == 0,
          "two runs differ");
    free(res[0]);
    free(res[1]);
    free(p);
    free(g);
}

/* The weights' moving average over 30 steps of changing weights against e = d e + (1 - d) p in
 * double; a step with the skip flag set leaves it bit for bit; decays outside [0, 1) refused. */
static void t_ema_matches_reference(void)
{
    size_t n = 2049;
    const float decay = 0.9f;
    float *p = malloc(n * sizeof *p), *e0 = malloc(n * sizeof *e0);
    uint64_t seed = 21;
    tu_rand(e0, n, -1, 1, &seed);
    double *er = tu_double(e0, n);
    clvae_buf_t be = tu_upload(ctx, e0, n), bp = tu_zeros(ctx, n), none = {0};
    const float one = 1.0f;
    clvae_buf_t skip = tu_upload(ctx, &one, 1);
    clvae_error_t err = {0};
    for (int t = 1; t <= 30; t++) {
        tu_rand(p, n, -1, 1, &seed);
        clvae_buf_upload(ctx, bp, p, n, &err);
        CHECK(clvae_ema_step_guarded(ctx, be, bp, decay, n, none, &err) == CLVAE_OK, "%s", err.msg);
        for (size_t i = 0; i < n; i++) er[i] = decay * er[i] + (1.0 - decay) * p[i];
    }
    float *got = tu_download(ctx, be, n);
    CHECK(tu_close("ema", got, er, n, 1e-6, 1e-5, NULL), "the average after 30 steps");
    tu_rand(p, n, -1, 1, &seed);
    clvae_buf_upload(ctx, bp, p, n, &err);
    CHECK(clvae_ema_step_guarded(ctx, be, bp, decay, n, skip, &err) == CLVAE_OK, "%s", err.msg);
    float *after = tu_download(ctx, be, n);
    CHECK(got && after && memcmp(got, after, n * sizeof *got) == 0, "a skipped step moved the average");
    CHECK(clvae_ema_step_guarded(ctx, be, bp, 1.0f, n, none, &err) == CLVAE_ERR_INVALID, "decay 1");
    CHECK(clvae_ema_step_guarded(ctx, be, bp, -0.5f, n, none, &err) == CLVAE_ERR_INVALID, "decay < 0");
    free(got);
    free(after);
    free(p);
    free(e0);
    free(er);
    clvae_buf_free(&be);
    clvae_buf_free(&bp);
    clvae_buf_free(&skip);
}

/* The optimizer's average warms up: with [train] ema = 0.999, step t moves it with the decay
 * min(0.999, (1 + t) / (10 + t)) (plain SGD, lr 0.5, so that the weights move a lot). */
static void t_optimizer_ema_warmup(void)
{
    enum { N = 33 };
    clvae_model_desc_t d;
    memset(&d, 0, sizeof d);
    snprintf(d.optimizer, sizeof d.optimizer, "sgd");
    d.lr = 0.5f;
    d.ema = 0.999f;
    float p[N], g[N];
    uint64_t seed = 8;
    tu_rand(p, N, -1, 1, &seed);
    tu_rand(g, N, -1, 1, &seed);
    clvae_error_t err = {0};
    clvae_optimizer_t *o = NULL;
    REQUIRE(clvae_optimizer_init(&o, ctx, &d, N, &err) == CLVAE_OK, "%s", err.msg);
    clvae_buf_t bp = tu_upload(ctx, p, N), bg = tu_upload(ctx, g, N), none = {0};
    REQUIRE(clvae_optimizer_ema(o).mem && clvae_optimizer_ema_reset(o, bp, &err) == CLVAE_OK, "%s",
            err.msg);
    double w[N], e[N];
    for (int i = 0; i < N; i++) w[i] = e[i] = p[i];
    for (long t = 1; t <= 3; t++) {
        REQUIRE(clvae_optimizer_step(o, bp, bg, t, none, &err) == CLVAE_OK, "%s", err.msg);
        double dec = (1.0 + (double)t) / (10.0 + (double)t);
        for (int i = 0; i < N; i++) {
            w[i] -= 0.5 * g[i];
            e[i] = dec * e[i] + (1.0 - dec) * w[i];
        }
    }
    float got[N];
    REQUIRE(clvae_buf_download(ctx, got, clvae_optimizer_ema(o), N, &err) == CLVAE_OK, "%s",
            err.msg);
    CHECK(tu_close("ema warm-up", got, e, N, 1e-6, 1e-5, NULL),
          "the average after 3 steps is not the warmed-up one");
    clvae_buf_free(&bp);
    clvae_buf_free(&bg);
    clvae_optimizer_free(o);
}

static void t_invalid_arguments(void)
{
    clvae_buf_t b = tu_zeros(ctx, 4), none = {0};
    clvae_adam_params_t hp = clvae_adam_defaults();
    clvae_error_t err = {0};
    CHECK(clvae_adam_step(ctx, b, b, b, b, &hp, 1, 0, &err) == CLVAE_ERR_INVALID, "n=0");
    CHECK(clvae_adam_step(ctx, b, b, b, b, &hp, 0, 4, &err) == CLVAE_ERR_INVALID, "step 0");
    CHECK(clvae_adam_step(ctx, b, none, b, b, &hp, 1, 4, &err) == CLVAE_ERR_INVALID,
          "NULL grad");
    hp.beta1 = 1.0f;
    CHECK(clvae_adam_step(ctx, b, b, b, b, &hp, 1, 4, &err) == CLVAE_ERR_INVALID, "beta1 1");
    hp = clvae_adam_defaults();
    hp.lr = NAN;
    CHECK(clvae_adam_step(ctx, b, b, b, b, &hp, 1, 4, &err) == CLVAE_ERR_INVALID, "lr NaN");
    CHECK(strstr(err.msg, "lr nan") != NULL, "message '%s' shows the value", err.msg);
    clvae_sgd_params_t s = {0.1f, 0.9f, 0.0f, 0.0f};
    CHECK(clvae_sgd_step(ctx, b, b, none, &s, 1, 4, &err) == CLVAE_ERR_INVALID,
          "momentum without a buffer");
    s.momentum = 0.0f;
    CHECK(clvae_sgd_step(ctx, b, b, none, &s, 1, 4, &err) == CLVAE_OK,
          "plain SGD needs no buffer: %s", err.msg);
    s.lr = -1.0f;
    CHECK(clvae_sgd_step(ctx, b, b, none, &s, 1, 4, &err) == CLVAE_ERR_INVALID, "lr < 0");
    clvae_buf_free(&b);
}

int main(void)
{
    ctx = tu_ctx();
    if (!ctx) return 1;
    RUN(t_adam_matches_reference);
    RUN(t_adam_first_step_moves_by_lr);
    RUN(t_sgd_matches_reference);
    RUN(t_guarded_step_skips);
    RUN(t_deterministic);
    RUN(t_ema_matches_reference);
    RUN(t_optimizer_ema_warmup);
    RUN(t_invalid_arguments);
    tu_print_errors();
    clvae_ctx_free(ctx);
    return TEST_EXIT();
}
