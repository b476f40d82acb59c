/* Convolutions: geometry maths, device against the double reference, gradients, determinism. */
#define TEST_FILE "test_conv"
#include "ref/ref.h"
#include "test.h"
#include "testutil.h"

#include <math.h>
#include <stdlib.h>

#include "clvae/ops/activation.h"
#include "clvae/ops/basic.h"
#include "clvae/ops/conv.h"
#include "clvae/device/blas.h"
#include "clvae/device/tuning.h"
#include "device/tuning_internal.h"

static clvae_ctx_t *ctx;

/* ---- parameters and the layer under test --------------------------------- */

/* Square kernel k, stride s, Keras 'same' padding. */
static clvae_conv_params_t p_same(size_t k, size_t s)
{
    clvae_conv_params_t p = {k, k, s, s, 1, 1, CLVAE_CONV_PAD_SAME, 0, 0, 0, 0};
    return p;
}

/* Kernel kh x kw, stride s, dilation d, PyTorch padding pad and output padding op. */
static clvae_conv_params_t p_explicit(size_t kh, size_t kw, size_t s, size_t d, size_t pad,
                                      size_t op)
{
    clvae_conv_params_t p = {kh, kw, s, s, d, d, CLVAE_CONV_PAD_EXPLICIT, pad, pad, op, op};
    return p;
}

/* A conv (tr = 0) or transposed conv (tr = 1) and its element counts. */
typedef struct layer {
    clvae_conv_geom_t g;
    int tr;
    size_t in_img, out_img; /* floats per image of the op's x and y */
    size_t nx, ny, nw, nb;  /* floats of x, y, w, b */
} layer_t;

static int layer_make(layer_t *l, int tr, size_t N, size_t Cin, size_t H, size_t W, size_t Cout,
                      clvae_conv_params_t p, clvae_error_t *err)
{
    clvae_status_t s = tr ? clvae_conv_transpose2d_geom(&l->g, N, Cin, H, W, Cout, &p, err)
                          : clvae_conv2d_geom(&l->g, N, Cin, H, W, Cout, &p, err);
    if (s) return 0;
    const clvae_conv_geom_t *g = &l->g;
    size_t cin = g->C * g->H * g->W, cout = g->K * g->OH * g->OW;
    l->tr = tr;
    l->in_img = tr ? cout : cin;
    l->out_img = tr ? cin : cout;
    l->nx = g->N * l->in_img;
    l->ny = g->N * l->out_img;
    l->nw = g->K * g->C * g->kh * g->kw;
    l->nb = tr ? g->C : g->K;
    return 1;
}

static clvae_status_t dev_fwd(const layer_t *l, clvae_buf_t y, clvae_buf_t x, clvae_buf_t w,
                              clvae_buf_t b, clvae_error_t *err)
{
    return l->tr ? clvae_conv_transpose2d_forward(ctx, y, x, w, b, &l->g, err)
                 : clvae_conv2d_forward(ctx, y, x, w, b, &l->g, err);
}

/* clvae_conv2d_forward_opts with only a kept im2col. */
static clvae_status_t forward_keep(clvae_ctx_t *c, clvae_buf_t y, clvae_buf_t x, clvae_buf_t w,
                                   clvae_buf_t b, const clvae_conv_geom_t *g, clvae_buf_t keep,
                                   int *kept, clvae_error_t *err)
{
    clvae_conv_fwd_opts_t o = {.keep = keep, .kept = kept};
    return clvae_conv2d_forward_opts(c, y, x, w, b, g, &o, err);
}

static clvae_status_t dev_bwd(const layer_t *l, clvae_buf_t dx, clvae_buf_t dw, clvae_buf_t db,
                              clvae_buf_t dy, clvae_buf_t x, clvae_buf_t w, clvae_error_t *err)
{
    return l->tr ? clvae_conv_transpose2d_backward(ctx, dx, dw, db, dy, x, w, &l->g, err)
                 : clvae_conv2d_backward(ctx, dx, dw, db, dy, x, w, &l->g, err);
}

static void ref_fwd(const layer_t *l, const clvae_conv_geom_t *g, double *y, const double *x,
                    const double *w, const double *b)
{
    if (l->tr) clvae_conv_transpose2d_forward_ref(y, x, w, b, g);
    else clvae_conv2d_forward_ref(y, x, w, b, g);
}

static void ref_bwd(const layer_t *l, const clvae_conv_geom_t *g, double *dx, double *dw,
                    double *db, const double *dy, const double *x, const double *w)
{
    if (l->tr) clvae_conv_transpose2d_backward_ref(dx, dw, db, dy, x, w, g);
    else clvae_conv2d_backward_ref(dx, dw, db, dy, x, w, g);
}

/* Floats as a new float array of n copies of v. */
static float *filled(size_t n, float v)
{
    float *a = malloc((n ? n : 1) * sizeof *a);
    for (size_t i = 0; a && i < n; i++) a[i] = v;
    return a;
}

static double rms(const double *a, size_t n)
{
    double s = 0;
    for (size_t i = 0; i < n; i++) s += a[i] * a[i];
    return sqrt(s / (double)(n ? n : 1));
}

/* Compares got with want. Float sums of up to ~1e5 terms: an element's rounding
 * error scales with the size of its partial sums, i.e. with the typical size of
 * the sums (the rms of the result, or scale when larger: the expected size of one
 * sum where there are too few outputs to tell), not with its own value, which
 * cancellation can bring near zero; so atol is 1e-4 of that on top of 1e-5. */
static int compare(const char *what, const char *op, const float *got, const double *want,
                   size_t n, double scale)
{
    double rel = 0, typical = fmax(rms(want, n), scale);
    int ok = tu_close(what, got, want, n, 1e-5 + 1e-4 * typical, 1e-4, &rel);
    tu_note_error(op, rel);
    return ok;
}

/* ---- device against reference over a table of shapes ---------------------- */

/* Runs forward and backward (dx, dw, db accumulated onto random values) of one
 * layer on the device and in the reference. subset: the reference of y and dx is
 * computed for images 0, N/2-1 and N-1 only (the double reference of a whole
 * batch of 128 is too slow for the time budget); dw and db always in full. */
static void run_case(const char *name, int tr, size_t N, size_t Cin, size_t H, size_t W,
                     size_t Cout, clvae_conv_params_t p, int bias, size_t max_chunk, int subset)
{
    clvae_error_t err = {0};
    layer_t l;
    REQUIRE(layer_make(&l, tr, N, Cin, H, W, Cout, p, &err), "%s: geometry: %s", name, err.msg);
    l.g.max_chunk = max_chunk;
    const char *fop = tr ? "conv_transpose2d forward" : "conv2d forward";
    const char *xop = tr ? "conv_transpose2d dx" : "conv2d dx";
    const char *wop = tr ? "conv_transpose2d dw" : "conv2d dw";
    const char *bop = tr ? "conv_transpose2d db" : "conv2d db";
    uint64_t seed = 0x2545f4914f6cdd1dULL ^ (l.nx * 31 + l.nw);
    float *x = malloc(l.nx * sizeof *x), *w = malloc(l.nw * sizeof *w);
    float *b = malloc(l.nb * sizeof *b), *dy = malloc(l.ny * sizeof *dy);
    float *gx = malloc(l.nx * sizeof *gx), *gw = malloc(l.nw * sizeof *gw);
    float *gb = malloc(l.nb * sizeof *gb), *ynan = filled(l.ny, NAN);
    double fan = (double)(l.g.C * l.g.kh * l.g.kw);
    tu_rand(x, l.nx, -1.0f, 1.0f, &seed);
    tu_rand(w, l.nw, (float)(-1.0 / sqrt(fan)), (float)(1.0 / sqrt(fan)), &seed);
    tu_rand(b, l.nb, -0.5f, 0.5f, &seed);
    tu_rand(dy, l.ny, -1.0f, 1.0f, &seed);
    tu_rand(gx, l.nx, -1.0f, 1.0f, &seed);
    tu_rand(gw, l.nw, -1.0f, 1.0f, &seed);
    tu_rand(gb, l.nb, -1.0f, 1.0f, &seed);

    /* device: y starts as NaN (must be overwritten), gradients as random values */
    clvae_buf_t bx = tu_upload(ctx, x, l.nx), bw = tu_upload(ctx, w, l.nw);
    clvae_buf_t bb = tu_upload(ctx, b, l.nb), bdy = tu_upload(ctx, dy, l.ny);
    clvae_buf_t by = tu_upload(ctx, ynan, l.ny), bgx = tu_upload(ctx, gx, l.nx);
    clvae_buf_t bgw = tu_upload(ctx, gw, l.nw), bgb = tu_upload(ctx, gb, l.nb);
    clvae_buf_t nob = {0};
    CHECK(dev_fwd(&l, by, bx, bw, bias ? bb : nob, &err) == CLVAE_OK, "%s: forward: %s", name,
          err.msg);
    CHECK(dev_bwd(&l, bgx, bgw, bgb, bdy, bx, bw, &err) == CLVAE_OK, "%s: backward: %s", name,
          err.msg);
    float *y = tu_download(ctx, by, l.ny), *dx = tu_download(ctx, bgx, l.nx);
    float *dw = tu_download(ctx, bgw, l.nw), *db = tu_download(ctx, bgb, l.nb);

    /* reference */
    double *xd = tu_double(x, l.nx), *wd = tu_double(w, l.nw), *bd = tu_double(b, l.nb);
    double *dyd = tu_double(dy, l.ny), *yd = tu_double(ynan, l.ny);
    double *gxd = tu_double(gx, l.nx), *gwd = tu_double(gw, l.nw), *gbd = tu_double(gb, l.nb);
    char what[256];
    if (!subset) {
        ref_fwd(&l, &l.g, yd, xd, wd, bias ? bd : NULL);
        ref_bwd(&l, &l.g, gxd, gwd, gbd, dyd, xd, wd);
        snprintf(what, sizeof what, "%s: y", name);
        CHECK(compare(what, fop, y, yd, l.ny, 0), "%s", what);
        snprintf(what, sizeof what, "%s: dx", name);
        CHECK(compare(what, xop, dx, gxd, l.nx, 0), "%s", what);
    } else {
        clvae_conv_geom_t g1 = l.g;
        g1.N = 1;
        size_t imgs[3] = {0, N / 2 - 1, N - 1};
        for (int t = 0; t < 3; t++) {
            size_t n = imgs[t];
            if (t > 0 && n == imgs[t - 1])
                continue; /* N = 2: image 0 twice, and ref_bwd accumulates into gxd */
            ref_fwd(&l, &g1, yd + n * l.out_img, xd + n * l.in_img, wd, bias ? bd : NULL);
            ref_bwd(&l, &g1, gxd + n * l.in_img, NULL, NULL, dyd + n * l.out_img,
                    xd + n * l.in_img, wd);
            snprintf(what, sizeof what, "%s: y of image %zu", name, n);
            CHECK(compare(what, fop, y ? y + n * l.out_img : NULL, yd + n * l.out_img,
                          l.out_img, 0), "%s", what);
            snprintf(what, sizeof what, "%s: dx of image %zu", name, n);
            CHECK(compare(what, xop, dx ? dx + n * l.in_img : NULL, gxd + n * l.in_img,
                          l.in_img, 0), "%s", what);
        }
        ref_bwd(&l, &l.g, NULL, gwd, gbd, dyd, xd, wd);
    }
    snprintf(what, sizeof what, "%s: dw", name);
    CHECK(compare(what, wop, dw, gwd, l.nw, 0), "%s", what);
    /* db[c] sums ny / nb values of dy, uniform in [-1, 1) (rms 1/sqrt(3)) */
    snprintf(what, sizeof what, "%s: db", name);
    CHECK(compare(what, bop, db, gbd, l.nb, sqrt((double)(l.ny / l.nb) / 3.0)), "%s", what);

    free(x), free(w), free(b), free(dy), free(gx), free(gw), free(gb), free(ynan);
    free(y), free(dx), free(dw), free(db);
    free(xd), free(wd), free(bd), free(dyd), free(yd), free(gxd), free(gwd), free(gbd);
    clvae_buf_free(&bx), clvae_buf_free(&bw), clvae_buf_free(&bb), clvae_buf_free(&bdy);
    clvae_buf_free(&by), clvae_buf_free(&bgx), clvae_buf_free(&bgw), clvae_buf_free(&bgb);
}

static void set_path(const char *path);

/* The eight layers of the thesis VAE (28x28x1 MNIST, 3x3 kernels, Keras 'same'). */
static void thesis_layers(size_t N, int subset)
{
    char name[128];
    static const struct { int tr; size_t Cin, H, Cout, s; } L[8] = {
        {0, 1, 28, 32, 1}, {0, 32, 28, 64, 2}, {0, 64, 14, 64, 2}, {0, 64, 7, 64, 1},
        {1, 64, 7, 64, 1}, {1, 64, 7, 64, 2},  {1, 64, 14, 32, 2}, {1, 32, 28, 1, 1},
    };
    for (int i = 0; i < 8; i++) {
        snprintf(name, sizeof name, "%s %zu->%zu %zux%zu s%zu batch %zu",
                 L[i].tr ? "deconv" : "conv", L[i].Cin, L[i].Cout, L[i].H, L[i].H, L[i].s, N);
        run_case(name, L[i].tr, N, L[i].Cin, L[i].H, L[i].H, L[i].Cout, p_same(3, L[i].s), 1, 0,
                 subset);
    }
}

static void t_thesis_layers_batch1(void) { thesis_layers(1, 0); }

/* The weight gradients as rows colT (im2row, the AB GEMM; conv.weight_abt 0), not as rows
 * col^T, the default on pocl's CPU device: the thesis layers and two odd ones. */
static void t_weight_ab(void)
{
    clvae_error_t err = {0};
    REQUIRE(clvae_tuning_set(ctx, "conv.weight_abt", 0, &err) == CLVAE_OK, "%s", err.msg);
    thesis_layers(2, 0);
    run_case("conv 13->19 k3 s2 23x21 [AB]", 0, 2, 13, 23, 21, 19, p_same(3, 2), 1, 0, 0);
    run_case("deconv 19->13 k3 s1 23x21 [AB]", 1, 2, 19, 23, 21, 13, p_same(3, 1), 1, 0, 0);
    /* the key picks the GEMM: the weight gradient's call has B transposed with 1, not with 0 */
    layer_t l;
    REQUIRE(layer_make(&l, 0, 2, 8, 9, 10, 16, p_same(3, 1), &err), "%s", err.msg);
    clvae_buf_t x = tu_zeros(ctx, l.nx), w = tu_zeros(ctx, l.nw), dy = tu_zeros(ctx, l.ny);
    clvae_buf_t dw = tu_zeros(ctx, l.nw), none = {0};
    for (int abt = 0; abt < 2; abt++) {
        REQUIRE(clvae_tuning_set(ctx, "conv.weight_abt", abt, &err) == CLVAE_OK, "%s", err.msg);
        clvae_gemm_shape_t *calls = NULL;
        int n = 0, bt = 0;
        REQUIRE(clvae_gemm_record_start(ctx, &err) == CLVAE_OK, "%s", err.msg);
        CHECK(dev_bwd(&l, none, dw, none, dy, x, w, &err) == CLVAE_OK, "%s", err.msg);
        REQUIRE(clvae_gemm_record_stop(ctx, &calls, &n, &err) == CLVAE_OK, "%s", err.msg);
        for (int i = 0; i < n; i++) bt += calls[i].trans_b;
        CHECK(n == 1 && bt == abt, "conv.weight_abt %d: %d GEMM calls, %d with B transposed", abt,
              n, bt);
        free(calls);
    }
    clvae_buf_free(&x), clvae_buf_free(&w), clvae_buf_free(&dy), clvae_buf_free(&dw);
    clvae_tuning_unset(ctx, "conv.weight_abt");
}

/* The forward's im2col kept for the backward (the keep of clvae_conv2d_forward_opts and clvae_conv2d_backward_opts): the
 * same bits as forward + backward, whole or in chunks of one image, one im2col launch a chunk
 * fewer; a shape on the direct kernels keeps nothing, a short buffer is refused, and on the
 * implicit path nothing is kept (*kept 0). */
static void t_keep(void)
{
    clvae_error_t err = {0};
    for (int chunked = 0; chunked < 2; chunked++) {
        layer_t l;
        REQUIRE(layer_make(&l, 0, 3, 13, 23, 21, 19, p_same(3, 2), &err), "%s", err.msg);
        l.g.max_chunk = chunked ? 1 : 0;
        size_t per = clvae_conv2d_keep_floats(&l.g);
        CHECK(per == 13 * 9 * l.g.OH * l.g.OW, "keep floats %zu", per);
        uint64_t seed = 77 + (uint64_t)chunked;
        float *h = malloc((l.nx + l.ny + l.nw + l.nb) * sizeof *h);
        tu_rand(h, l.nx + l.ny + l.nw + l.nb, -1.0f, 1.0f, &seed);
        clvae_buf_t x = tu_upload(ctx, h, l.nx), dy = tu_upload(ctx, h + l.nx, l.ny);
        clvae_buf_t w = tu_upload(ctx, h + l.nx + l.ny, l.nw);
        clvae_buf_t b = tu_upload(ctx, h + l.nx + l.ny + l.nw, l.nb);
        clvae_buf_t keep = tu_zeros(ctx, 3 * per);
        float *r[2][4];
        uint64_t launches[2];
        for (int k = 0; k < 2; k++) {
            clvae_buf_t y = tu_zeros(ctx, l.ny), dx = tu_zeros(ctx, l.nx);
            clvae_buf_t dw = tu_zeros(ctx, l.nw), db = tu_zeros(ctx, l.nb);
            int kept = -1;
            if (k) {
                CHECK(forward_keep(ctx, y, x, w, b, &l.g, keep, &kept, &err) ==
                          CLVAE_OK && kept == 1, "forward_keep: %s (kept %d)", err.msg, kept);
            } else {
                CHECK(clvae_conv2d_forward(ctx, y, x, w, b, &l.g, &err) == CLVAE_OK, "%s",
                      err.msg);
            }
            REQUIRE(clvae_ctx_finish(ctx, &err) == CLVAE_OK, "%s", err.msg);
            clvae_counters_t c0, c1;
            clvae_ctx_counters(ctx, &c0);
            clvae_buf_t none = {0};
            clvae_conv_bwd_opts_t o = {.keep = k ? keep : none};
            CHECK(clvae_conv2d_backward_opts(ctx, dx, dw, db, dy, x, w, &l.g, &o, &err) ==
                      CLVAE_OK, "%s", err.msg);
            clvae_ctx_counters(ctx, &c1);
            launches[k] = c1.launches - c0.launches;
            r[k][0] = tu_download(ctx, y, l.ny), r[k][1] = tu_download(ctx, dx, l.nx);
            r[k][2] = tu_download(ctx, dw, l.nw), r[k][3] = tu_download(ctx, db, l.nb);
            clvae_buf_free(&y), clvae_buf_free(&dx), clvae_buf_free(&dw), clvae_buf_free(&db);
        }
        size_t len[4] = {l.ny, l.nx, l.nw, l.nb};
        const char *what[4] = {"y", "dx", "dw", "db"};
        for (int i = 0; i < 4; i++)
            CHECK(r[0][i] && r[1][i] && memcmp(r[0][i], r[1][i], len[i] * sizeof(float)) == 0,
                  "%s with the kept im2col differs (%s)", what[i], chunked ? "chunks" : "whole");
        size_t chunks = chunked ? 3 : 1;
        CHECK(launches[0] == launches[1] + chunks,
              "backward launches %llu without, %llu with the kept im2col (%zu chunks)",
              (unsigned long long)launches[0], (unsigned long long)launches[1], chunks);
        for (int k = 0; k < 2; k++)
            for (int i = 0; i < 4; i++) free(r[k][i]);
        /* a buffer for one image of three */
        int kept = -1;
        clvae_buf_t y = tu_zeros(ctx, l.ny), one = tu_zeros(ctx, per);
        CHECK(forward_keep(ctx, y, x, w, b, &l.g, one, &kept, &err) ==
                      CLVAE_ERR_INVALID && kept == 0 && strstr(err.msg, "keep"),
              "a short keep buffer accepted (%s)", err.msg);
        clvae_error_clear(&err);
        clvae_buf_free(&one);
        /* the implicit path keeps nothing */
        REQUIRE(clvae_tuning_set(ctx, "conv_implicit.on", 1, &err) == CLVAE_OK, "%s", err.msg);
        CHECK(forward_keep(ctx, y, x, w, b, &l.g, keep, &kept, &err) == CLVAE_OK &&
                  kept == 0, "implicit path: %s (kept %d)", err.msg, kept);
        clvae_tuning_unset(ctx, "conv_implicit.");
        clvae_buf_free(&y), clvae_buf_free(&keep);
        clvae_buf_free(&x), clvae_buf_free(&dy), clvae_buf_free(&w), clvae_buf_free(&b);
        free(h);
    }
    /* a one-channel conv runs on the direct kernels: nothing to keep */
    layer_t d;
    REQUIRE(layer_make(&d, 0, 2, 1, 9, 9, 8, p_same(3, 1), &err), "%s", err.msg);
    CHECK(clvae_conv2d_keep_floats(&d.g) == 0, "a 1-channel conv keeps %zu floats",
          clvae_conv2d_keep_floats(&d.g));
    clvae_buf_t x = tu_zeros(ctx, d.nx), y = tu_zeros(ctx, d.ny), w = tu_zeros(ctx, d.nw);
    clvae_buf_t keep = tu_zeros(ctx, 1024), none = {0};
    int kept = -1;
    CHECK(forward_keep(ctx, y, x, w, none, &d.g, keep, &kept, &err) ==
              CLVAE_ERR_INVALID && kept == 0, "a keep buffer for a direct conv accepted");
    clvae_error_clear(&err);
    clvae_buf_free(&x), clvae_buf_free(&y), clvae_buf_free(&w), clvae_buf_free(&keep);
}

/* im2col and col2im by row and by plane (conv.plane_hw 0 and every size): the same bits for
 * convs and transposed convs of several shapes, forward and backward, chunked too. */
static void t_fold_variants(void)
{
    clvae_error_t err = {0};
    static const struct { int tr; size_t N, C, H, W, K, k, st; } sh[] = {
        {0, 3, 5, 13, 7, 4, 3, 1}, {0, 2, 9, 11, 12, 6, 3, 2}, {1, 2, 6, 7, 5, 9, 3, 2},
        {0, 2, 8, 17, 18, 5, 5, 2}, {1, 3, 10, 6, 6, 4, 3, 1}};
    for (size_t c = 0; c < sizeof sh / sizeof *sh; c++) {
        layer_t l;
        REQUIRE(layer_make(&l, sh[c].tr, sh[c].N, sh[c].C, sh[c].H, sh[c].W, sh[c].K,
                           p_same(sh[c].k, sh[c].st), &err), "%s", err.msg);
        l.g.max_chunk = c % 2 ? 1 : 0;
        uint64_t seed = 99 + c;
        size_t tot = l.nx + 2 * l.ny + l.nw + l.nb;
        float *h = malloc(tot * sizeof *h);
        tu_rand(h, tot, -1.0f, 1.0f, &seed);
        clvae_buf_t x = tu_upload(ctx, h, l.nx), dy = tu_upload(ctx, h + l.nx, l.ny);
        clvae_buf_t w = tu_upload(ctx, h + l.nx + l.ny, l.nw);
        clvae_buf_t b = tu_upload(ctx, h + l.nx + l.ny + l.nw, l.nb);
        float *r[2][4];
        for (int v = 0; v < 2; v++) {
            REQUIRE(clvae_tuning_set(ctx, "conv.plane_hw", v ? 1 << 20 : 0, &err) == CLVAE_OK,
                    "%s", err.msg);
            set_path("gemm");
            clvae_buf_t y = tu_zeros(ctx, l.ny), dx = tu_zeros(ctx, l.nx);
            clvae_buf_t dw = tu_zeros(ctx, l.nw), db = tu_zeros(ctx, l.nb);
            CHECK(dev_fwd(&l, y, x, w, b, &err) == CLVAE_OK, "%s", err.msg);
            CHECK(dev_bwd(&l, dx, dw, db, dy, x, w, &err) == CLVAE_OK, "%s", err.msg);
            r[v][0] = tu_download(ctx, y, l.ny), r[v][1] = tu_download(ctx, dx, l.nx);
            r[v][2] = tu_download(ctx, dw, l.nw), r[v][3] = tu_download(ctx, db, l.nb);
            clvae_buf_free(&y), clvae_buf_free(&dx), clvae_buf_free(&dw), clvae_buf_free(&db);
            set_path(NULL);
        }
        size_t len[4] = {l.ny, l.nx, l.nw, l.nb};
        for (int i = 0; i < 4; i++)
            CHECK(r[0][i] && r[1][i] && memcmp(r[0][i], r[1][i], len[i] * sizeof(float)) == 0,
                  "shape %zu: output %d differs between the row and plane kernels", c, i);
        for (int v = 0; v < 2; v++)
            for (int i = 0; i < 4; i++) free(r[v][i]);
        clvae_buf_free(&x), clvae_buf_free(&dy), clvae_buf_free(&w), clvae_buf_free(&b);
        free(h);
    }
    clvae_tuning_unset(ctx, "conv.plane_hw");
}

/* The shapes and variants of the forward's and the backward's last passes (t_fused_act,
 * t_dx_set): convs and transposed convs, strides 1 and 2, one input or output channel; the
 * im2col + GEMM path with the row and with the plane col2im, the direct and the implicit path
 * (where a shape fits them), the whole batch (even shapes) or chunks of one image (odd). */
static const struct { int tr; size_t N, C, H, W, K, k, st; } epi_shapes[] = {
    {0, 3, 5, 13, 7, 4, 3, 1}, {0, 2, 9, 11, 12, 6, 3, 2}, {1, 2, 6, 7, 5, 9, 3, 2},
    {0, 2, 1, 10, 19, 5, 3, 1}, {1, 3, 4, 6, 6, 1, 3, 1}, {1, 2, 8, 6, 7, 3, 3, 1}};
static const char *const epi_paths[] = {"gemm", "gemm", "direct", "implicit"};
#define EPI_SHAPES (sizeof epi_shapes / sizeof *epi_shapes)
#define EPI_PATHS (sizeof epi_paths / sizeof *epi_paths)

static int epi_layer(layer_t *l, size_t c, clvae_error_t *err)
{
    return layer_make(l, epi_shapes[c].tr, epi_shapes[c].N, epi_shapes[c].C, epi_shapes[c].H,
                      epi_shapes[c].W, epi_shapes[c].K,
                      p_same(epi_shapes[c].k, epi_shapes[c].st), err);
}

/* Variant pi (epi_paths[pi]; 1: the plane col2im) for shape c; 0 when the tuning key was refused. */
static int epi_variant(layer_t *l, size_t c, size_t pi, clvae_error_t *err)
{
    if (clvae_tuning_set(ctx, "conv.plane_hw", pi == 1 ? 1 << 20 : 0, err) != CLVAE_OK) return 0;
    set_path(epi_paths[pi]);
    l->g.max_chunk = c % 2 ? 1 : 0;
    return 1;
}

/* The activation fused into a forward (clvae_conv_fwd_opts_t act): the same bits as the plain
 * forward followed by clvae_act_forward, for every activation, on every path (im2col + GEMM with
 * the row and the plane col2im, direct, implicit), conv and transposed conv, whole batch and
 * chunks of one image; then the bad activations it refuses. */
static void t_fused_act(void)
{
    clvae_error_t err = {0};
    static const struct { clvae_act_t a; float slope; } acts[] = {
        {CLVAE_ACT_LEAKY_RELU, 0.3f}, {CLVAE_ACT_LEAKY_RELU, 0.0f}, {CLVAE_ACT_RELU, 0.0f},
        {CLVAE_ACT_SIGMOID, 0.0f},    {CLVAE_ACT_TANH, 0.0f},       {CLVAE_ACT_SILU, 0.0f}};
    for (size_t c = 0; c < EPI_SHAPES; c++) {
        layer_t l;
        REQUIRE(epi_layer(&l, c, &err), "%s", err.msg);
        uint64_t seed = 7 + c;
        size_t tot = l.nx + l.nw + l.nb;
        float *h = malloc(tot * sizeof *h);
        tu_rand(h, tot, -1.0f, 1.0f, &seed);
        clvae_buf_t x = tu_upload(ctx, h, l.nx), w = tu_upload(ctx, h + l.nx, l.nw);
        clvae_buf_t b = tu_upload(ctx, h + l.nx + l.nw, l.nb);
        for (size_t pi = 0; pi < EPI_PATHS; pi++) {
            REQUIRE(epi_variant(&l, c, pi, &err), "%s", err.msg);
            for (size_t ai = 0; ai < sizeof acts / sizeof *acts; ai++) {
                clvae_buf_t y0 = tu_zeros(ctx, l.ny), y1 = tu_zeros(ctx, l.ny);
                clvae_conv_fwd_opts_t o = {.act = acts[ai].a, .slope = acts[ai].slope};
                clvae_status_t s0 = dev_fwd(&l, y0, x, w, b, &err);
                if (!s0)
                    s0 = clvae_act_forward(ctx, y0, y0, o.act, o.slope, l.ny, &err);
                CHECK(s0 == CLVAE_OK, "plain: %s", err.msg);
                clvae_status_t s1 =
                    l.tr ? clvae_conv_transpose2d_forward_opts(ctx, y1, x, w, b, &l.g, &o, &err)
                         : clvae_conv2d_forward_opts(ctx, y1, x, w, b, &l.g, &o, &err);
                CHECK(s1 == CLVAE_OK, "fused: %s", err.msg);
                float *r0 = tu_download(ctx, y0, l.ny), *r1 = tu_download(ctx, y1, l.ny);
                CHECK(r0 && r1 && memcmp(r0, r1, l.ny * sizeof(float)) == 0,
                      "shape %zu path %s%s act %s slope %g: the fused activation differs from "
                      "the forward then clvae_act_forward",
                      c, epi_paths[pi], pi == 1 ? " (planes)" : "", clvae_act_name(o.act),
                      (double)o.slope);
                free(r0), free(r1);
                clvae_buf_free(&y0), clvae_buf_free(&y1);
            }
            set_path(NULL);
        }
        clvae_buf_free(&x), clvae_buf_free(&w), clvae_buf_free(&b);
        free(h);
    }
    clvae_tuning_unset(ctx, "conv.plane_hw");
    /* refused before any work: a bad slope, an unknown activation, a transposed conv's keep */
    layer_t l;
    REQUIRE(layer_make(&l, 0, 2, 3, 6, 6, 4, p_same(3, 1), &err), "%s", err.msg);
    clvae_buf_t x = tu_zeros(ctx, l.nx), w = tu_zeros(ctx, l.nw), y = tu_zeros(ctx, l.ny);
    clvae_buf_t none = {0};
    clvae_conv_fwd_opts_t bad = {.act = CLVAE_ACT_LEAKY_RELU, .slope = -0.5f};
    CHECK(clvae_conv2d_forward_opts(ctx, y, x, w, none, &l.g, &bad, &err) == CLVAE_ERR_INVALID &&
              strstr(err.msg, "conv2d_forward: leaky_relu slope -0.5 must be finite and >= 0"),
          "bad slope: %s", err.msg);
    clvae_error_clear(&err);
    bad.act = (clvae_act_t)9;
    CHECK(clvae_conv2d_forward_opts(ctx, y, x, w, none, &l.g, &bad, &err) == CLVAE_ERR_INVALID &&
              strstr(err.msg, "conv2d_forward: unknown activation 9"),
          "unknown activation: %s", err.msg);
    clvae_error_clear(&err);
    layer_t t;
    REQUIRE(layer_make(&t, 1, 2, 3, 6, 6, 4, p_same(3, 1), &err), "%s", err.msg);
    clvae_buf_t tx = tu_zeros(ctx, t.nx), ty = tu_zeros(ctx, t.ny);
    clvae_conv_fwd_opts_t keep = {.keep = ty};
    CHECK(clvae_conv_transpose2d_forward_opts(ctx, ty, tx, w, none, &t.g, &keep, &err) ==
                  CLVAE_ERR_INVALID &&
              strstr(err.msg, "conv_transpose2d_forward: a transposed conv keeps no im2col"),
          "transposed keep: %s", err.msg);
    clvae_error_clear(&err);
    clvae_buf_free(&x), clvae_buf_free(&w), clvae_buf_free(&y);
    clvae_buf_free(&tx), clvae_buf_free(&ty);
}

/* dx written, not added (clvae_conv_bwd_opts_t dx_set): into a dx full of NaN, the values of
 * the plain backward into zeros, on every path (im2col + GEMM with the row and the plane col2im,
 * direct, implicit), conv and transposed conv, whole batch and chunks of one image; dw and db
 * still added to what they held. */
static void t_dx_set(void)
{
    clvae_error_t err = {0};
    for (size_t c = 0; c < EPI_SHAPES; c++) {
        layer_t l;
        REQUIRE(epi_layer(&l, c, &err), "%s", err.msg);
        uint64_t seed = 31 + c;
        size_t tot = l.nx + l.ny + l.nw + l.nb;
        float *h = malloc(tot * sizeof *h), *nan = malloc(l.nx * sizeof *nan);
        tu_rand(h, tot, -1.0f, 1.0f, &seed);
        for (size_t i = 0; i < l.nx; i++) nan[i] = NAN;
        clvae_buf_t x = tu_upload(ctx, h, l.nx), dy = tu_upload(ctx, h + l.nx, l.ny);
        clvae_buf_t w = tu_upload(ctx, h + l.nx + l.ny, l.nw);
        for (size_t pi = 0; pi < EPI_PATHS; pi++) {
            REQUIRE(epi_variant(&l, c, pi, &err), "%s", err.msg);
            float *r[2][3];
            for (int v = 0; v < 2; v++) { /* 0: added into zeros, 1: set into NaN */
                clvae_buf_t dx = v ? tu_upload(ctx, nan, l.nx) : tu_zeros(ctx, l.nx);
                clvae_buf_t dw = tu_upload(ctx, h, l.nw), db = tu_upload(ctx, h, l.nb);
                clvae_conv_bwd_opts_t o = {.dx_set = v};
                clvae_status_t st =
                    l.tr ? clvae_conv_transpose2d_backward_opts(ctx, dx, dw, db, dy, x, w, &l.g,
                                                                &o, &err)
                         : clvae_conv2d_backward_opts(ctx, dx, dw, db, dy, x, w, &l.g, &o, &err);
                CHECK(st == CLVAE_OK, "%s", err.msg);
                r[v][0] = tu_download(ctx, dx, l.nx), r[v][1] = tu_download(ctx, dw, l.nw);
                r[v][2] = tu_download(ctx, db, l.nb);
                clvae_buf_free(&dx), clvae_buf_free(&dw), clvae_buf_free(&db);
            }
            size_t len[3] = {l.nx, l.nw, l.nb}, bad[3] = {0, 0, 0};
            for (int i = 0; i < 3; i++)
                for (size_t e = 0; r[0][i] && r[1][i] && e < len[i]; e++)
                    bad[i] += !(r[0][i][e] == r[1][i][e]); /* NaN differs; -0 == +0 */
            CHECK(r[0][0] && r[1][0] && bad[0] == 0 && bad[1] == 0 && bad[2] == 0,
                  "shape %zu path %s%s: dx set differs from dx added into zeros at %zu of %zu "
                  "(dw %zu, db %zu)",
                  c, epi_paths[pi], pi == 1 ? " (planes)" : "", bad[0], l.nx, bad[1], bad[2]);
            for (int v = 0; v < 2; v++)
                for (int i = 0; i < 3; i++) free(r[v][i]);
            set_path(NULL);
        }
        clvae_buf_free(&x), clvae_buf_free(&dy), clvae_buf_free(&w);
        free(h), free(nan);
    }
    clvae_tuning_unset(ctx, "conv.plane_hw");
    /* a transposed conv keeps no im2col for its backward either */
    layer_t t;
    REQUIRE(layer_make(&t, 1, 2, 3, 6, 6, 4, p_same(3, 1), &err), "%s", err.msg);
    clvae_buf_t tx = tu_zeros(ctx, t.nx), ty = tu_zeros(ctx, t.ny), tw = tu_zeros(ctx, t.nw);
    clvae_buf_t none = {0};
    clvae_conv_bwd_opts_t keep = {.keep = ty};
    CHECK(clvae_conv_transpose2d_backward_opts(ctx, tx, none, none, ty, tx, tw, &t.g, &keep,
                                               &err) == CLVAE_ERR_INVALID &&
              strstr(err.msg, "conv_transpose2d_backward: a transposed conv keeps no im2col"),
          "transposed keep: %s", err.msg);
    clvae_error_clear(&err);
    clvae_buf_free(&tx), clvae_buf_free(&ty), clvae_buf_free(&tw);
}

/* The thesis layers on the implicit path (CLVAE_CONV_PATH=implicit, the 1-channel ones too):
 * forward, backward-data of the stride-1 ones, and a transposed conv's backward-dx. */
static void t_thesis_layers_implicit(void)
{
    set_path("implicit");
    thesis_layers(2, 0);
    set_path(NULL);
}

/* 128 images, 4 with CLVAE_TEST_SMALL (the simulator: at 128 the thesis layers under all of
 * Oclgrind's checks ran past 30 minutes; 4 still makes a chunk of several images) */
static void t_thesis_layers_batch128(void) { thesis_layers(tu_size(128, 4), 1); }

/* Odd shapes, strides, dilations, paddings and kernels, on the path CLVAE_CONV_PATH names
 * (NULL: the automatic rule). */
static void awkward_shapes(const char *path)
{
    set_path(path);
    for (int tr = 0; tr < 2; tr++) {
        const char *k = tr ? "deconv" : "conv";
        char n[128];
#define CASE(label, N, Ci, H, W, Co, p, bias)                                   \
    do {                                                                        \
        snprintf(n, sizeof n, "%s %s [%s]", k, label, path ? path : "auto");    \
        run_case(n, tr, N, Ci, H, W, Co, p, bias, 0, 0);                        \
    } while (0)
        CASE("13x7 odd input", 2, 3, 13, 7, 5, p_same(3, 1), 1);
        CASE("13x7 stride 2", 2, 5, 13, 7, 3, p_same(3, 2), 1);
        CASE("channels 3->7 no bias", 3, 3, 9, 11, 7, p_same(3, 1), 0);
        CASE("k1", 2, 7, 6, 5, 5, p_same(1, 1), 1);
        CASE("k1 stride 2", 2, 3, 7, 5, 4, p_same(1, 2), 1);
        CASE("k5 stride 2", 2, 3, 11, 9, 5, p_same(5, 2), 1);
        CASE("k7", 1, 2, 9, 8, 3, p_same(7, 1), 1);
        CASE("3x5 kernel", 2, 3, 10, 9, 4, p_explicit(3, 5, 1, 1, 1, 0), 1);
        CASE("1x7 kernel same", 2, 3, 6, 10, 4,
             ((clvae_conv_params_t){1, 7, 1, 2, 1, 1, CLVAE_CONV_PAD_SAME, 0, 0, 0, 0}), 1);
        CASE("dilation 2 same", 2, 3, 12, 11, 5,
             ((clvae_conv_params_t){3, 3, 1, 1, 2, 2, CLVAE_CONV_PAD_SAME, 0, 0, 0, 0}), 1);
        CASE("dilation 2 stride 2 pad 2", 2, 3, 12, 11, 5, p_explicit(3, 3, 2, 2, 2, 0), 1);
        CASE("pytorch pad 1", 3, 5, 14, 14, 7, p_explicit(3, 3, 2, 1, 1, 0), 1);
        CASE("pytorch pad 0", 3, 5, 9, 8, 7, p_explicit(3, 3, 1, 1, 0, 0), 1);
        CASE("pytorch pad 0 stride 2", 3, 4, 9, 8, 3, p_explicit(3, 3, 2, 1, 0, 0), 1);
        CASE("stride 3 k3 same", 2, 3, 10, 8, 4, p_same(3, 3), 1);
        CASE("different strides", 2, 3, 9, 10, 4,
             ((clvae_conv_params_t){3, 3, 2, 1, 1, 1, CLVAE_CONV_PAD_SAME, 0, 0, 0, 0}), 1);
#undef CASE
    }
    /* transposed only: output padding, also larger than the padding */
    run_case("deconv k3 s2 p1 op1 7->14", 1, 3, 64, 7, 7, 32, p_explicit(3, 3, 2, 1, 1, 1), 1,
             0, 0);
    run_case("deconv k1 s2 p0 op1", 1, 2, 3, 5, 4, 2, p_explicit(1, 1, 2, 1, 0, 1), 1, 0, 0);
    run_case("deconv k3 s1 d2 op1", 1, 2, 3, 5, 6, 4, p_explicit(3, 3, 1, 2, 1, 1), 1, 0, 0);
    run_case("deconv k4 s2 p1", 1, 2, 3, 6, 5, 4, p_explicit(4, 4, 2, 1, 1, 0), 1, 0, 0);
    /* past one block of output channels and one vector of columns, channels not a multiple
     * of either (the implicit path's tiles: 8 channels by 8 columns by default) */
    run_case("conv 13->19 k3 s1 23x21", 0, 2, 13, 23, 21, 19, p_same(3, 1), 1, 0, 0);
    run_case("deconv 19->13 k3 s1 23x21", 1, 2, 19, 23, 21, 13, p_same(3, 1), 1, 0, 0);
    run_case("conv 13->19 k3 s2 23x21", 0, 2, 13, 23, 21, 19, p_same(3, 2), 1, 0, 0);
    run_case("deconv 19->13 k3 s2 pad 1 op 1", 1, 2, 19, 12, 11, 13, p_explicit(3, 3, 2, 1, 1, 1),
             1, 0, 0);
    set_path(NULL);
}

static void t_awkward_shapes(void) { awkward_shapes(NULL); }
static void t_awkward_shapes_implicit(void) { awkward_shapes("implicit"); }

static void t_chunked_batches(void)
{
    /* the batch split into chunks of 2 (3 = 2 + 1) and of 1: dw accumulates over chunks */
    run_case("conv chunks of 2", 0, 3, 5, 13, 7, 6, p_same(3, 2), 1, 2, 0);
    run_case("conv chunks of 1", 0, 3, 5, 13, 7, 6, p_same(3, 1), 1, 1, 0);
    run_case("deconv chunks of 2", 1, 3, 6, 7, 4, 5, p_same(3, 2), 1, 2, 0);
    run_case("deconv chunks of 1", 1, 5, 6, 7, 4, 5, p_explicit(3, 3, 2, 1, 1, 1), 1, 1, 0);
    /* a large batch that the 64 MiB workspace cap splits by itself (col = 451584
     * floats per image, 37 images per chunk): 40 images in chunks of 20. Not under
     * CLVAE_TEST_SMALL: the cap needs these 40 images, over an hour under all of Oclgrind's
     * checks, and the kernels it launches are those of the explicit chunks above (the split is
     * host code) */
    if (!tu_small())
        run_case("conv 64->64 28x28 batch 40 (auto chunks)", 0, 40, 64, 28, 28, 8, p_same(3, 1),
                 1, 0, 1);
}

/* ---- geometry maths ------------------------------------------------------- */

static void t_geometry_known_numbers(void)
{
    clvae_error_t err = {0};
    clvae_conv_geom_t g;
    clvae_conv_params_t p = p_same(3, 2);
    /* Keras 'same': 28 s2 -> 14 (total pad 1: none on top, one at the bottom) */
    REQUIRE(clvae_conv2d_geom(&g, 1, 1, 28, 28, 4, &p, &err) == CLVAE_OK, "%s", err.msg);
    CHECK(g.OH == 14 && g.OW == 14 && g.pad_t == 0 && g.pad_l == 0, "28 s2 same: %zux%zu pad %zu",
          g.OH, g.OW, g.pad_t);
    /* 7 s2 k3 -> 4 (total pad 2: one each side) */
    REQUIRE(clvae_conv2d_geom(&g, 1, 1, 7, 7, 4, &p, &err) == CLVAE_OK, "%s", err.msg);
    CHECK(g.OH == 4 && g.OW == 4 && g.pad_t == 1, "7 s2 same: %zu pad %zu", g.OH, g.pad_t);
    /* 14 s2 -> 7, 28 s1 -> 28 pad 1, k4 s1 -> pad 1 before (the odd one after) */
    REQUIRE(clvae_conv2d_geom(&g, 1, 1, 14, 14, 4, &p, &err) == CLVAE_OK, "%s", err.msg);
    CHECK(g.OH == 7 && g.pad_t == 0, "14 s2 same: %zu pad %zu", g.OH, g.pad_t);
    p = p_same(3, 1);
    REQUIRE(clvae_conv2d_geom(&g, 1, 1, 28, 28, 4, &p, &err) == CLVAE_OK, "%s", err.msg);
    CHECK(g.OH == 28 && g.pad_t == 1, "28 s1 same: %zu pad %zu", g.OH, g.pad_t);
    p = p_same(4, 1);
    REQUIRE(clvae_conv2d_geom(&g, 1, 1, 10, 10, 4, &p, &err) == CLVAE_OK, "%s", err.msg);
    CHECK(g.OH == 10 && g.pad_t == 1, "k4 s1 same: %zu pad %zu", g.OH, g.pad_t);
    /* explicit (k3, s2, p1) 28 -> 14; (k3, s1, p0) 9 -> 7; (k3, d2, p0) 9 -> 5 */
    p = p_explicit(3, 3, 2, 1, 1, 0);
    REQUIRE(clvae_conv2d_geom(&g, 1, 1, 28, 28, 4, &p, &err) == CLVAE_OK, "%s", err.msg);
    CHECK(g.OH == 14 && g.pad_t == 1, "k3 s2 p1 28: %zu", g.OH);
    p = p_explicit(3, 3, 1, 1, 0, 0);
    REQUIRE(clvae_conv2d_geom(&g, 1, 1, 9, 9, 4, &p, &err) == CLVAE_OK, "%s", err.msg);
    CHECK(g.OH == 7 && g.pad_t == 0, "k3 p0 9: %zu", g.OH);
    p = p_explicit(3, 3, 1, 2, 0, 0);
    REQUIRE(clvae_conv2d_geom(&g, 1, 1, 9, 9, 4, &p, &err) == CLVAE_OK, "%s", err.msg);
    CHECK(g.OH == 5, "k3 d2 p0 9: %zu", g.OH);
    /* transposed 'same' 7 s2 -> 14 (the adjoint of the 14 -> 7 'same' conv, pad_t 0);
     * 7 s1 -> 7 (pad 1); 14 s2 -> 28 */
    p = p_same(3, 2);
    REQUIRE(clvae_conv_transpose2d_geom(&g, 2, 64, 7, 7, 32, &p, &err) == CLVAE_OK, "%s",
            err.msg);
    CHECK(g.H == 14 && g.W == 14 && g.OH == 7 && g.OW == 7 && g.pad_t == 0 && g.C == 32 &&
              g.K == 64 && g.N == 2 && g.transposed == 1,
          "transposed 7 s2 same: %zu pad %zu", g.H, g.pad_t);
    REQUIRE(clvae_conv_transpose2d_geom(&g, 1, 64, 14, 14, 32, &p, &err) == CLVAE_OK, "%s",
            err.msg);
    CHECK(g.H == 28 && g.pad_t == 0, "transposed 14 s2 same: %zu", g.H);
    p = p_same(3, 1);
    REQUIRE(clvae_conv_transpose2d_geom(&g, 1, 64, 7, 7, 64, &p, &err) == CLVAE_OK, "%s",
            err.msg);
    CHECK(g.H == 7 && g.pad_t == 1, "transposed 7 s1 same: %zu pad %zu", g.H, g.pad_t);
    p = p_same(5, 2); /* total max(5 - 2, 0) = 3: one before */
    REQUIRE(clvae_conv_transpose2d_geom(&g, 1, 4, 7, 7, 4, &p, &err) == CLVAE_OK, "%s",
            err.msg);
    CHECK(g.H == 14 && g.pad_t == 1, "transposed k5 7 s2 same: %zu pad %zu", g.H, g.pad_t);
    /* PyTorch transposed (k3, s2, p1, op1) 7 -> 14; (k3, s2, p1, op0) 7 -> 13; (k4, s2, p1)
     * 7 -> 14 */
    p = p_explicit(3, 3, 2, 1, 1, 1);
    REQUIRE(clvae_conv_transpose2d_geom(&g, 1, 64, 7, 7, 32, &p, &err) == CLVAE_OK, "%s",
            err.msg);
    CHECK(g.H == 14 && g.W == 14 && g.pad_t == 1, "pytorch transposed op1: %zu", g.H);
    p = p_explicit(3, 3, 2, 1, 1, 0);
    REQUIRE(clvae_conv_transpose2d_geom(&g, 1, 64, 7, 7, 32, &p, &err) == CLVAE_OK, "%s",
            err.msg);
    CHECK(g.H == 13, "pytorch transposed op0: %zu", g.H);
    p = p_explicit(4, 4, 2, 1, 1, 0);
    REQUIRE(clvae_conv_transpose2d_geom(&g, 1, 64, 7, 7, 32, &p, &err) == CLVAE_OK, "%s",
            err.msg);
    CHECK(g.H == 14, "pytorch transposed k4 s2 p1: %zu", g.H);
}

/* The packed geometry the tuner records unpacks to the same geometry (max_chunk aside), for a
 * conv and a transposed conv; a wrong count or transposed flag is refused. */
static void t_geometry_pack(void)
{
    clvae_error_t err = {0};
    clvae_conv_geom_t g[2], back;
    clvae_conv_params_t p = p_explicit(3, 5, 2, 1, 1, 0);
    REQUIRE(clvae_conv2d_geom(&g[0], 3, 2, 11, 13, 4, &p, &err) == CLVAE_OK, "%s", err.msg);
    p.out_pad_h = 1;
    REQUIRE(clvae_conv_transpose2d_geom(&g[1], 2, 5, 6, 7, 3, &p, &err) == CLVAE_OK, "%s",
            err.msg);
    for (int i = 0; i < 2; i++) {
        size_t dims[CLVAE_CONV_GEOM_PACKED];
        g[i].max_chunk = 9;
        clvae_conv_geom_pack(&g[i], dims);
        REQUIRE(clvae_conv_geom_unpack(&back, dims, CLVAE_CONV_GEOM_PACKED, &err) == CLVAE_OK,
                "%s", err.msg);
        const clvae_conv_geom_t *a = &g[i];
        CHECK(back.N == a->N && back.C == a->C && back.H == a->H && back.W == a->W &&
                  back.K == a->K && back.OH == a->OH && back.OW == a->OW && back.kh == a->kh &&
                  back.kw == a->kw && back.sh == a->sh && back.sw == a->sw && back.dh == a->dh &&
                  back.dw == a->dw && back.pad_t == a->pad_t && back.pad_l == a->pad_l &&
                  back.transposed == a->transposed && back.max_chunk == 0,
              "geometry %d changed by pack/unpack", i);
        CHECK(clvae_conv_geom_unpack(&back, dims, CLVAE_CONV_GEOM_PACKED - 1, &err) ==
                  CLVAE_ERR_INVALID, "a short packing accepted");
        dims[CLVAE_CONV_GEOM_PACKED - 1] = 2;
        CHECK(clvae_conv_geom_unpack(&back, dims, CLVAE_CONV_GEOM_PACKED, &err) ==
                  CLVAE_ERR_INVALID, "transposed = 2 accepted");
    }
    clvae_error_clear(&err);
}

static void t_geometry_invalid(void)
{
    clvae_error_t err = {0};
    clvae_conv_geom_t g;
    clvae_conv_params_t ok = p_same(3, 1), p;
#define BAD_CONV(label, N, C, H, W, K, pp)                                                  \
    do {                                                                                    \
        clvae_error_clear(&err);                                                            \
        CHECK(clvae_conv2d_geom(&g, N, C, H, W, K, pp, &err) == CLVAE_ERR_INVALID &&        \
                  err.msg[0],                                                               \
              "conv %s accepted", label);                                                   \
        clvae_error_clear(&err);                                                            \
        CHECK(clvae_conv_transpose2d_geom(&g, N, C, H, W, K, pp, &err) ==                   \
                      CLVAE_ERR_INVALID && err.msg[0],                                      \
              "transposed %s accepted", label);                                             \
    } while (0)
    BAD_CONV("N=0", 0, 1, 5, 5, 1, &ok);
    BAD_CONV("C=0", 1, 0, 5, 5, 1, &ok);
    BAD_CONV("H=0", 1, 1, 0, 5, 1, &ok);
    BAD_CONV("W=0", 1, 1, 5, 0, 1, &ok);
    BAD_CONV("K=0", 1, 1, 5, 5, 0, &ok);
    BAD_CONV("NULL params", 1, 1, 5, 5, 1, NULL);
    p = ok, p.sh = 0;
    BAD_CONV("stride 0", 1, 1, 5, 5, 1, &p);
    p = ok, p.dw = 0;
    BAD_CONV("dilation 0", 1, 1, 5, 5, 1, &p);
    p = p_same(8, 1);
    BAD_CONV("kernel 8", 1, 1, 9, 9, 1, &p);
    p = ok, p.kw = 0;
    BAD_CONV("kernel 0", 1, 1, 5, 5, 1, &p);
    p = ok, p.pad = (clvae_conv_pad_mode_t)5;
    BAD_CONV("padding mode 5", 1, 1, 5, 5, 1, &p);
    p = ok, p.out_pad_h = 1;
    BAD_CONV("output padding with same", 1, 1, 5, 5, 1, &p);
#undef BAD_CONV
    /* conv: empty output; output padding on a plain conv */
    p = p_explicit(5, 5, 1, 1, 0, 0);
    CHECK(clvae_conv2d_geom(&g, 1, 1, 4, 9, 1, &p, &err) == CLVAE_ERR_INVALID,
          "empty output accepted");
    p = p_explicit(3, 3, 1, 2, 0, 0);
    CHECK(clvae_conv2d_geom(&g, 1, 1, 4, 9, 1, &p, &err) == CLVAE_ERR_INVALID,
          "dilated kernel larger than input accepted");
    p = p_explicit(3, 3, 2, 1, 1, 1);
    CHECK(clvae_conv2d_geom(&g, 1, 1, 9, 9, 1, &p, &err) == CLVAE_ERR_INVALID,
          "conv output padding accepted");
    /* transposed: output padding must be < max(stride, dilation); empty output */
    p = p_explicit(3, 3, 2, 1, 1, 2);
    CHECK(clvae_conv_transpose2d_geom(&g, 1, 1, 7, 7, 1, &p, &err) == CLVAE_ERR_INVALID,
          "output padding 2 with stride 2 accepted");
    p = p_explicit(3, 3, 1, 1, 1, 1);
    CHECK(clvae_conv_transpose2d_geom(&g, 1, 1, 7, 7, 1, &p, &err) == CLVAE_ERR_INVALID,
          "output padding 1 with stride 1 accepted");
    p = p_explicit(1, 1, 1, 1, 1, 0);
    CHECK(clvae_conv_transpose2d_geom(&g, 1, 1, 2, 2, 1, &p, &err) == CLVAE_ERR_INVALID,
          "empty transposed output accepted");
    CHECK(clvae_conv2d_geom(NULL, 1, 1, 5, 5, 1, &ok, &err) == CLVAE_ERR_INVALID,
          "NULL geometry accepted");
    clvae_error_clear(&err);
}

/* ---- known values ---------------------------------------------------------- */

/* Runs the layer on x with weights w (no bias) on the device and in the reference,
 * and checks both against want (ny values). */
static void known_values(const char *name, int tr, size_t N, size_t Cin, size_t H, size_t W,
                         size_t Cout, clvae_conv_params_t p, const float *x, const float *w,
                         const double *want)
{
    clvae_error_t err = {0};
    layer_t l;
    REQUIRE(layer_make(&l, tr, N, Cin, H, W, Cout, p, &err), "%s: %s", name, err.msg);
    double *xd = tu_double(x, l.nx), *wd = tu_double(w, l.nw);
    double *yd = malloc(l.ny * sizeof *yd);
    ref_fwd(&l, &l.g, yd, xd, wd, NULL);
    float *yr = malloc(l.ny * sizeof *yr);
    for (size_t i = 0; i < l.ny; i++) yr[i] = (float)yd[i];
    CHECK(tu_close(name, yr, want, l.ny, 0, 0, NULL), "%s: reference", name);
    clvae_buf_t bx = tu_upload(ctx, x, l.nx), bw = tu_upload(ctx, w, l.nw), nob = {0};
    clvae_buf_t by = tu_zeros(ctx, l.ny);
    CHECK(dev_fwd(&l, by, bx, bw, nob, &err) == CLVAE_OK, "%s: %s", name, err.msg);
    float *y = tu_download(ctx, by, l.ny);
    CHECK(tu_close(name, y, want, l.ny, 0, 0, NULL), "%s: device", name);
    free(xd), free(wd), free(yd), free(yr), free(y);
    clvae_buf_free(&bx), clvae_buf_free(&bw), clvae_buf_free(&by);
}

static void t_known_values(void)
{
    float ones[9] = {1, 1, 1, 1, 1, 1, 1, 1, 1}, x[16];
    for (int i = 0; i < 16; i++) x[i] = (float)(i + 1);
    /* 3x3 box sums of 1..9 with 'same' padding, stride 1 and 2 */
    const double s1[9] = {12, 21, 16, 27, 45, 33, 24, 39, 28};
    known_values("box 3x3 same s1", 0, 1, 1, 3, 3, 1, p_same(3, 1), x, ones, s1);
    const double s2[4] = {12, 16, 24, 28};
    known_values("box 3x3 same s2", 0, 1, 1, 3, 3, 1, p_same(3, 2), x, ones, s2);
    /* 4x4 'same' stride 2: total padding 1, all of it at the bottom/right */
    const double s2odd[4] = {54, 45, 72, 54};
    known_values("box 4x4 same s2 odd padding", 0, 1, 1, 4, 4, 1, p_same(3, 2), x, ones, s2odd);
    /* transposed (k3, s2) of [[1,2],[3,4]] with ones: the 5x5 scatter
     *   1 1 3 2 2 / 1 1 3 2 2 / 4 4 10 6 6 / 3 3 7 4 4 / 3 3 7 4 4
     * cropped by padding 1 (and extended by output padding 1), and Keras 'same'
     * (4x4, pad_t 0: the first four rows and columns) */
    const double full[25] = {1, 1, 3, 2, 2, 1, 1, 3, 2, 2, 4, 4, 10, 6, 6,
                             3, 3, 7, 4, 4, 3, 3, 7, 4, 4};
    known_values("transposed k3 s2 p0", 1, 1, 1, 2, 2, 1, p_explicit(3, 3, 2, 1, 0, 0), x, ones,
                 full);
    const double p1[9] = {1, 3, 2, 4, 10, 6, 3, 7, 4};
    known_values("transposed k3 s2 p1", 1, 1, 1, 2, 2, 1, p_explicit(3, 3, 2, 1, 1, 0), x, ones,
                 p1);
    const double p1op1[16] = {1, 3, 2, 2, 4, 10, 6, 6, 3, 7, 4, 4, 3, 7, 4, 4};
    known_values("transposed k3 s2 p1 op1", 1, 1, 1, 2, 2, 1, p_explicit(3, 3, 2, 1, 1, 1), x,
                 ones, p1op1);
    const double same4[16] = {1, 1, 3, 2, 1, 1, 3, 2, 4, 4, 10, 6, 3, 3, 7, 4};
    known_values("transposed k3 s2 same", 1, 1, 1, 2, 2, 1, p_same(3, 2), x, ones, same4);
}

/* ---- gradients by central differences -------------------------------------- */

/* L = sum r * y of the reference in double. */
static double ref_loss(const layer_t *l, const double *r, const double *x, const double *w,
                       const double *b, double *y)
{
    ref_fwd(l, &l->g, y, x, w, b);
    double s = 0;
    for (size_t i = 0; i < l->ny; i++) s += r[i] * y[i];
    return s;
}

/* Checks every element of every gradient of the reference against central differences
 * of L (h = 1e-6; the forward is linear in each operand, so the differences are exact
 * up to rounding, ~1e-10 here). */
static void ref_fd_case(const char *name, int tr, size_t N, size_t Cin, size_t H, size_t W,
                        size_t Cout, clvae_conv_params_t p)
{
    clvae_error_t err = {0};
    layer_t l;
    REQUIRE(layer_make(&l, tr, N, Cin, H, W, Cout, p, &err), "%s: %s", name, err.msg);
    uint64_t seed = 0x853c49e6748fea9bULL ^ l.nx;
    float *t = malloc((l.nx + l.nw + l.nb + l.ny) * sizeof *t);
    tu_rand(t, l.nx + l.nw + l.nb + l.ny, -1.0f, 1.0f, &seed);
    double *all = tu_double(t, l.nx + l.nw + l.nb + l.ny);
    double *x = all, *w = all + l.nx, *b = w + l.nw, *r = b + l.nb;
    double *y = malloc(l.ny * sizeof *y);
    double *gx = calloc(l.nx, sizeof *gx), *gw = calloc(l.nw, sizeof *gw);
    double *gb = calloc(l.nb, sizeof *gb);
    ref_bwd(&l, &l.g, gx, gw, gb, r, x, w);
    struct { const char *what; double *v, *g; size_t n; } ops[3] = {
        {"x", x, gx, l.nx}, {"w", w, gw, l.nw}, {"b", b, gb, l.nb}};
    const double h = 1e-6;
    for (int o = 0; o < 3; o++) {
        double worst = 0, norm = 0;
        for (size_t i = 0; i < ops[o].n; i++) {
            double v = ops[o].v[i];
            ops[o].v[i] = v + h;
            double lp = ref_loss(&l, r, x, w, b, y);
            ops[o].v[i] = v - h;
            double lm = ref_loss(&l, r, x, w, b, y);
            ops[o].v[i] = v;
            double fd = (lp - lm) / (2 * h), an = ops[o].g[i];
            double e = fabs(fd - an) / (fabs(an) + 1e-3);
            if (e > worst) worst = e;
            norm += an * an;
        }
        CHECK(worst < 1e-6, "%s: d%s off by %.3g relative", name, ops[o].what, worst);
        CHECK(sqrt(norm) > 1e-1, "%s: d%s is trivially small (%.3g)", name, ops[o].what,
              sqrt(norm));
        tu_note_error(tr ? "reference FD conv_transpose2d" : "reference FD conv2d", worst);
    }
    free(t), free(all), free(y), free(gx), free(gw), free(gb);
}

static void t_reference_gradients(void)
{
    /* stride 2 with odd total 'same' padding (6 -> 3: total 1), dilation, explicit */
    ref_fd_case("conv k3 s2 same odd pad", 0, 2, 3, 6, 5, 4, p_same(3, 2));
    ref_fd_case("conv k3 d2 same", 0, 2, 2, 7, 6, 3,
                (clvae_conv_params_t){3, 3, 1, 1, 2, 2, CLVAE_CONV_PAD_SAME, 0, 0, 0, 0});
    ref_fd_case("conv 3x5 s2 p1", 0, 1, 2, 7, 8, 3, p_explicit(3, 5, 2, 1, 1, 0));
    ref_fd_case("deconv k3 s2 same", 1, 2, 3, 3, 4, 2, p_same(3, 2));
    ref_fd_case("deconv k3 s2 p1 op1", 1, 2, 3, 3, 4, 2, p_explicit(3, 3, 2, 1, 1, 1));
    ref_fd_case("deconv k3 d2 s1 p1", 1, 1, 2, 4, 5, 3, p_explicit(3, 3, 1, 2, 1, 0));
}

/* L = sum r * y of the device forward, in double. */
static double dev_loss(const layer_t *l, const float *r, const float *x, const float *w,
                       const float *b, clvae_buf_t by)
{
    clvae_error_t err = {0};
    clvae_buf_t bx = tu_upload(ctx, x, l->nx), bw = tu_upload(ctx, w, l->nw);
    clvae_buf_t bb = tu_upload(ctx, b, l->nb);
    double s = NAN;
    if (dev_fwd(l, by, bx, bw, bb, &err) == CLVAE_OK) {
        float *y = tu_download(ctx, by, l->ny);
        if (y) s = tu_dot(r, y, l->ny);
        free(y);
    }
    clvae_buf_free(&bx), clvae_buf_free(&bw), clvae_buf_free(&bb);
    return s;
}

/* Checks a sample of each device gradient against central differences of the device
 * forward in float (h = 1e-2: L is linear in each operand, so only float rounding of
 * y, ~1e-6 in L, limits the differences). */
static void dev_fd_case(const char *name, int tr, size_t N, size_t Cin, size_t H, size_t W,
                        size_t Cout, clvae_conv_params_t p)
{
    clvae_error_t err = {0};
    layer_t l;
    REQUIRE(layer_make(&l, tr, N, Cin, H, W, Cout, p, &err), "%s: %s", name, err.msg);
    uint64_t seed = 0xda942042e4dd58b5ULL ^ l.ny;
    float *x = malloc(l.nx * sizeof *x), *w = malloc(l.nw * sizeof *w);
    float *b = malloc(l.nb * sizeof *b), *r = malloc(l.ny * sizeof *r);
    tu_rand(x, l.nx, -1.0f, 1.0f, &seed);
    tu_rand(w, l.nw, -1.0f, 1.0f, &seed);
    tu_rand(b, l.nb, -1.0f, 1.0f, &seed);
    tu_rand(r, l.ny, -1.0f, 1.0f, &seed);
    clvae_buf_t bx = tu_upload(ctx, x, l.nx), bw = tu_upload(ctx, w, l.nw);
    clvae_buf_t br = tu_upload(ctx, r, l.ny), by = tu_zeros(ctx, l.ny);
    clvae_buf_t bgx = tu_zeros(ctx, l.nx), bgw = tu_zeros(ctx, l.nw), bgb = tu_zeros(ctx, l.nb);
    CHECK(dev_bwd(&l, bgx, bgw, bgb, br, bx, bw, &err) == CLVAE_OK, "%s: %s", name, err.msg);
    float *gx = tu_download(ctx, bgx, l.nx), *gw = tu_download(ctx, bgw, l.nw);
    float *gb = tu_download(ctx, bgb, l.nb);
    if (gx && gw && gb) {
        struct { const char *what; float *v, *g; size_t n; } ops[3] = {
            {"x", x, gx, l.nx}, {"w", w, gw, l.nw}, {"b", b, gb, l.nb}};
        const float h = 1e-2f;
        for (int o = 0; o < 3; o++) {
            double worst = 0, norm = 0, fdnorm = 0;
            for (size_t i = 0; i < ops[o].n; i++) norm += (double)ops[o].g[i] * ops[o].g[i];
            size_t samples = ops[o].n < 12 ? ops[o].n : 12;
            for (size_t s = 0; s < samples; s++) {
                size_t i = (s * 7919 + 13) % ops[o].n;
                float v = ops[o].v[i];
                ops[o].v[i] = v + h;
                double lp = dev_loss(&l, r, x, w, b, by);
                ops[o].v[i] = v - h;
                double lm = dev_loss(&l, r, x, w, b, by);
                ops[o].v[i] = v;
                double fd = (lp - lm) / (2.0 * (double)h), an = ops[o].g[i];
                double e = fabs(fd - an) / (fabs(an) + 1e-1);
                if (isnan(e) || e > worst) worst = e; /* NaN sticks */
                fdnorm += fd * fd;
            }
            CHECK(worst < 1e-2, "%s: d%s off by %.3g relative", name, ops[o].what, worst);
            CHECK(sqrt(norm) > 1e-1 && sqrt(fdnorm) > 1e-2,
                  "%s: d%s is trivially small (%.3g, differences %.3g)", name, ops[o].what,
                  sqrt(norm), sqrt(fdnorm));
            tu_note_error(tr ? "device FD conv_transpose2d" : "device FD conv2d", worst);
        }
    }
    free(x), free(w), free(b), free(r), free(gx), free(gw), free(gb);
    clvae_buf_free(&bx), clvae_buf_free(&bw), clvae_buf_free(&br), clvae_buf_free(&by);
    clvae_buf_free(&bgx), clvae_buf_free(&bgw), clvae_buf_free(&bgb);
}

static void t_device_gradients(void)
{
    dev_fd_case("conv k3 s2 same odd pad", 0, 2, 3, 6, 5, 4, p_same(3, 2));
    dev_fd_case("conv k3 d2 p2", 0, 2, 2, 7, 6, 3, p_explicit(3, 3, 1, 2, 2, 0));
    dev_fd_case("deconv k3 s2 same", 1, 2, 3, 3, 4, 2, p_same(3, 2));
    dev_fd_case("deconv k3 s2 p1 op1", 1, 2, 3, 3, 4, 2, p_explicit(3, 3, 2, 1, 1, 1));
}

/* ---- determinism, stale workspaces, bad input ------------------------------ */

/* Forward and backward twice each (gradients from zero): the same bits both times. */
static void determinism_case(const char *name, int tr, size_t N, size_t Cin, size_t H,
                             size_t Cout, size_t s)
{
    clvae_error_t err = {0};
    layer_t l;
    REQUIRE(layer_make(&l, tr, N, Cin, H, H, Cout, p_same(3, s), &err), "%s", err.msg);
    uint64_t seed = 0x9e3779b97f4a7c15ULL;
    size_t tot = l.nx + l.nw + l.nb + l.ny;
    float *t = malloc(tot * sizeof *t);
    tu_rand(t, tot, -1.0f, 1.0f, &seed);
    clvae_buf_t bx = tu_upload(ctx, t, l.nx), bw = tu_upload(ctx, t + l.nx, l.nw);
    clvae_buf_t bb = tu_upload(ctx, t + l.nx + l.nw, l.nb);
    clvae_buf_t bdy = tu_upload(ctx, t + l.nx + l.nw + l.nb, l.ny);
    float *out[2][4] = {{NULL}};
    size_t n[4] = {l.ny, l.nx, l.nw, l.nb};
    for (int run = 0; run < 2; run++) {
        clvae_buf_t by = tu_zeros(ctx, l.ny), bgx = tu_zeros(ctx, l.nx);
        clvae_buf_t bgw = tu_zeros(ctx, l.nw), bgb = tu_zeros(ctx, l.nb);
        CHECK(dev_fwd(&l, by, bx, bw, bb, &err) == CLVAE_OK, "%s: %s", name, err.msg);
        CHECK(dev_bwd(&l, bgx, bgw, bgb, bdy, bx, bw, &err) == CLVAE_OK, "%s: %s", name,
              err.msg);
        out[run][0] = tu_download(ctx, by, l.ny);
        out[run][1] = tu_download(ctx, bgx, l.nx);
        out[run][2] = tu_download(ctx, bgw, l.nw);
        out[run][3] = tu_download(ctx, bgb, l.nb);
        clvae_buf_free(&by), clvae_buf_free(&bgx), clvae_buf_free(&bgw), clvae_buf_free(&bgb);
    }
    static const char *what[4] = {"y", "dx", "dw", "db"};
    for (int i = 0; i < 4; i++) {
        CHECK(out[0][i] && out[1][i] && memcmp(out[0][i], out[1][i], n[i] * sizeof(float)) == 0,
              "%s: %s differs between runs", name, what[i]);
        /* the outputs are real results, not zeros */
        CHECK(out[0][i] && tu_dot(out[0][i], out[0][i], n[i]) > 1e-3, "%s: %s is all zero",
              name, what[i]);
        free(out[0][i]), free(out[1][i]);
    }
    free(t);
    clvae_buf_free(&bx), clvae_buf_free(&bw), clvae_buf_free(&bb), clvae_buf_free(&bdy);
}

/* 16 images, 2 under CLVAE_TEST_SMALL (the simulator) */
static void t_determinism(void)
{
    char n[96];
    size_t N = tu_size(16, 2);
    snprintf(n, sizeof n, "conv 32->64 28 s2 batch %zu", N);
    determinism_case(n, 0, N, 32, 28, 64, 2);
    snprintf(n, sizeof n, "deconv 64->32 14 s2 batch %zu", N);
    determinism_case(n, 1, N, 64, 14, 32, 2);
}

/* Fills workspace slots 0 and 1 (n floats each) with NaN, as an earlier op may leave them. By a
 * kernel, as ops write them: Oclgrind's uninitialized-memory checker does not see what
 * clEnqueueFillBuffer writes, and CLBlast's XgemmDirectTN loads workspace floats that no kernel
 * of the case wrote into its local tiles (the results do not depend on them: the NaN stays out
 * of every result, which is what the cases check), so a
 * fill by clEnqueueFillBuffer made 1000 "Uninitialized value written to local memory" reports
 * in XgemmDirectTN under `oclgrind --uninitialized` (CLVAE_TEST_SMALL, t_stale_workspaces); by
 * the fill kernel, none. */
static int poison_workspaces(size_t n)
{
    clvae_error_t err = {0};
    for (int slot = 0; slot < 2; slot++) {
        clvae_buf_t ws;
        if (clvae_workspace(ctx, slot, n, &ws, &err) != CLVAE_OK ||
            clvae_fill_forward(ctx, ws.mem, ws.off, NAN, n, &err) != CLVAE_OK)
            return 0;
    }
    return 1;
}

/* NaN left in the workspaces must not leak into results: the GEMMs that write them
 * run with beta = 0, on CLBlast's direct path (small sizes) and on its indirect path
 * (m*n*k >= 576^3 on this device: the batch-32 cases; 2 images under CLVAE_TEST_SMALL, where
 * only the direct path runs: at 32 each case is over 10^9 multiply-adds for the simulator). */
static void t_stale_workspaces(void)
{
    size_t n = (size_t)4 << 20, N = tu_size(32, 2);
    char name[96];
    REQUIRE(poison_workspaces(n), "poison");
    run_case("conv after NaN workspaces", 0, 2, 5, 9, 8, 6, p_same(3, 2), 1, 0, 0);
    REQUIRE(poison_workspaces(n), "poison");
    run_case("deconv after NaN workspaces", 1, 2, 6, 5, 4, 5, p_same(3, 2), 1, 0, 0);
    REQUIRE(poison_workspaces(n), "poison");
    snprintf(name, sizeof name, "conv 64->64 14x14 batch %zu after NaN workspaces", N);
    run_case(name, 0, N, 64, 14, 14, 64, p_same(3, 1), 1, 0, 1);
    REQUIRE(poison_workspaces(n), "poison");
    snprintf(name, sizeof name, "deconv 64->64 14x14 batch %zu after NaN workspaces", N);
    run_case(name, 1, N, 64, 14, 14, 64, p_same(3, 1), 1, 0, 1);
}

static void t_invalid_arguments(void)
{
    clvae_error_t err = {0};
    layer_t c, d;
    REQUIRE(layer_make(&c, 0, 2, 3, 6, 6, 4, p_same(3, 1), &err), "%s", err.msg);
    REQUIRE(layer_make(&d, 1, 2, 3, 6, 6, 4, p_same(3, 1), &err), "%s", err.msg);
    size_t big = 2 * 4 * 6 * 6 * 4;
    clvae_buf_t a = tu_zeros(ctx, big), bw = tu_zeros(ctx, big), none = {0};
#define BAD(label, call)                                                          \
    do {                                                                          \
        clvae_error_clear(&err);                                                  \
        CHECK((call) == CLVAE_ERR_INVALID && err.msg[0], "%s accepted", label);   \
    } while (0)
    for (int tr = 0; tr < 2; tr++) {
        layer_t *l = tr ? &d : &c;
        clvae_conv_geom_t g = l->g;
        BAD("NULL x", dev_fwd(l, a, none, bw, none, &err));
        BAD("NULL y", dev_fwd(l, none, a, bw, none, &err));
        BAD("NULL w", dev_fwd(l, a, a, none, none, &err));
        BAD("NULL dy", dev_bwd(l, a, bw, none, none, a, bw, &err));
        BAD("dx without w", dev_bwd(l, a, none, none, a, a, none, &err));
        BAD("dw without x", dev_bwd(l, none, bw, none, a, none, bw, &err));
        l->g.N = 0;
        BAD("zero batch", dev_fwd(l, a, a, bw, none, &err));
        l->g = g, l->g.C = 0;
        BAD("zero channels", dev_fwd(l, a, a, bw, none, &err));
        l->g = g, l->g.OW = 0;
        BAD("zero output", dev_fwd(l, a, a, bw, none, &err));
        l->g = g, l->g.sh = 0;
        BAD("stride 0", dev_bwd(l, a, bw, none, a, a, bw, &err));
        l->g = g, l->g.dw = 0;
        BAD("dilation 0", dev_fwd(l, a, a, bw, none, &err));
        l->g = g, l->g.kh = 8;
        BAD("kernel 8", dev_fwd(l, a, a, bw, none, &err));
        l->g = g, l->g.N = (size_t)1 << 30;
        BAD("2^32 elements", dev_fwd(l, a, a, bw, none, &err));
        l->g = g, l->g.transposed = !tr;
        BAD("geometry of the other kind", dev_fwd(l, a, a, bw, none, &err));
        l->g = g;
        clvae_buf_t far = {a.mem, (size_t)1 << 32};
        BAD("index over 2^32", dev_fwd(l, a, far, bw, none, &err));
        /* nothing to compute is fine */
        clvae_error_clear(&err);
        CHECK(dev_bwd(l, none, none, none, a, none, none, &err) == CLVAE_OK,
              "backward with no gradients: %s", err.msg);
    }
    BAD("NULL geometry", clvae_conv2d_forward(ctx, a, a, bw, none, NULL, &err));
    BAD("NULL geometry (transposed)",
        clvae_conv_transpose2d_backward(ctx, a, bw, none, a, a, bw, NULL, &err));
#undef BAD
    clvae_error_clear(&err);
    clvae_buf_free(&a), clvae_buf_free(&bw);
}

/* ---- the two paths (src/conv.c: im2col + GEMM, or direct for small C*kh*kw) ---- */

/* Selects the path for the ops that follow (NULL: the automatic rule). */
static void set_path(const char *path)
{
    if (path) setenv("CLVAE_CONV_PATH", path, 1);
    else unsetenv("CLVAE_CONV_PATH");
}

/* Every shape the direct path takes by default (C*kh*kw <= 27, C being the OUTPUT channels
 * of a transposed conv), forward and all gradients against the reference on both paths. */
static void direct_shapes(const char *path)
{
    char n[160];
    set_path(path);
#define DCASE(label, tr, N, Ci, H, W, Co, p, bias, subset)                                  \
    do {                                                                                    \
        snprintf(n, sizeof n, "%s %s [%s]", (tr) ? "deconv" : "conv", label, path);          \
        run_case(n, tr, N, Ci, H, W, Co, p, bias, 0, subset);                               \
    } while (0)
    /* the thesis VAE's first conv and last deconv; the batch of 128 is 4 images under
     * CLVAE_TEST_SMALL (Oclgrind's --data-races kept 24 GB for the case at 128 and was killed) */
    char big[64];
    size_t nb = tu_size(128, 4);
    DCASE("1->32 28x28 s1 batch 1", 0, 1, 1, 28, 28, 32, p_same(3, 1), 1, 0);
    snprintf(big, sizeof big, "1->32 28x28 s1 batch %zu", nb);
    DCASE(big, 0, nb, 1, 28, 28, 32, p_same(3, 1), 1, 1);
    DCASE("32->1 28x28 s1 batch 1", 1, 1, 32, 28, 28, 1, p_same(3, 1), 1, 0);
    snprintf(big, sizeof big, "32->1 28x28 s1 batch %zu", nb);
    DCASE(big, 1, nb, 32, 28, 28, 1, p_same(3, 1), 1, 1);
    for (int tr = 0; tr < 2; tr++) {
        /* conv: C = in channels; transposed: C = out channels (the last argument) */
        size_t one_in = tr ? 5 : 1, one_out = tr ? 1 : 5;
        DCASE("13x7 odd input batch 3", tr, 3, one_in, 13, 7, one_out, p_same(3, 1), 1, 0);
        DCASE("13x7 stride 2", tr, 3, one_in, 13, 7, one_out, p_same(3, 2), 1, 0);
        DCASE("k5 stride 2 (25 taps)", tr, 3, one_in, 11, 9, one_out, p_same(5, 2), 1, 0);
        DCASE("3x5 kernel pad 1", tr, 2, one_in, 10, 9, one_out, p_explicit(3, 5, 1, 1, 1, 0),
              1, 0);
        DCASE("pytorch pad 0 no bias", tr, 3, one_in, 9, 8, one_out,
              p_explicit(3, 3, 1, 1, 0, 0), 0, 0);
        DCASE("pytorch pad 1 stride 2", tr, 3, one_in, 14, 14, one_out,
              p_explicit(3, 3, 2, 1, 1, 0), 1, 0);
        DCASE("dilation 2 same", tr, 2, one_in, 12, 11, one_out,
              ((clvae_conv_params_t){3, 3, 1, 1, 2, 2, CLVAE_CONV_PAD_SAME, 0, 0, 0, 0}), 1, 0);
        DCASE("stride 3 different strides", tr, 2, one_in, 10, 8, one_out,
              ((clvae_conv_params_t){3, 3, 3, 2, 1, 1, CLVAE_CONV_PAD_SAME, 0, 0, 0, 0}), 1, 0);
        DCASE("3 channels k3 (27 taps)", tr, 3, tr ? 7 : 3, 9, 11, tr ? 3 : 7, p_same(3, 1), 1, 0);
        DCASE("k1 stride 2", tr, 3, one_in, 7, 5, one_out, p_same(1, 2), 1, 0);
        DCASE("50x50 (one image per partial sum)", tr, 3, one_in, 50, 50, one_out,
              p_same(3, 1), 1, 0);
        DCASE("wide 3x31 pad 0", tr, 2, one_in, 3, 31, one_out, p_explicit(3, 3, 1, 1, 0, 0), 1,
              0);
    }
    DCASE("k3 s2 p1 op1 7->14", 1, 3, 64, 7, 7, 1, p_explicit(3, 3, 2, 1, 1, 1), 1, 0);
#undef DCASE
    set_path(NULL);
}

static void t_direct_shapes_gemm(void) { direct_shapes("gemm"); }

static void t_direct_shapes_direct(void) { direct_shapes("direct"); }

/* The automatic rule: direct kernels for the data, and on pocl's CPU device the GEMM path's
 * weight gradient on the dot kernel (CLVAE_CONV_PATH=direct keeps the direct one). */
static void t_direct_shapes_auto(void) { direct_shapes("auto"); }

/* Forced onto the direct path beyond the automatic rule (36 taps). */
static void t_direct_forced(void)
{
    set_path("direct");
    run_case("conv 4->6 k3 s2 [direct]", 0, 3, 4, 9, 10, 6, p_same(3, 2), 1, 0, 0);
    run_case("deconv 6->4 k3 s2 [direct]", 1, 3, 6, 5, 4, 4, p_same(3, 2), 1, 0, 0);
    set_path(NULL);
}

static void t_direct_gradients(void)
{
    set_path("direct");
    dev_fd_case("direct conv 1->4 k3 s2 same odd pad", 0, 2, 1, 6, 5, 4, p_same(3, 2));
    dev_fd_case("direct conv 3->2 k3 d2 p2", 0, 2, 3, 7, 6, 2, p_explicit(3, 3, 1, 2, 2, 0));
    dev_fd_case("direct conv 1->5 28x28", 0, 1, 1, 28, 28, 5, p_same(3, 1));
    dev_fd_case("direct deconv 3->1 k3 s2 same", 1, 2, 3, 3, 4, 1, p_same(3, 2));
    dev_fd_case("direct deconv 2->3 k3 s2 p1 op1", 1, 2, 2, 3, 4, 3, p_explicit(3, 3, 2, 1, 1, 1));
    dev_fd_case("direct deconv 6->1 28x28", 1, 1, 6, 28, 28, 1, p_same(3, 1));
    set_path(NULL);
}

static void t_direct_determinism(void)
{
    set_path("direct");
    determinism_case("direct conv 1->32 28 s1 batch 16", 0, 16, 1, 28, 32, 1);
    determinism_case("direct deconv 32->1 28 s1 batch 16", 1, 16, 32, 28, 1, 1);
    determinism_case("direct deconv 16->1 14 s2 batch 5", 1, 5, 16, 14, 1, 2);
    set_path(NULL);
}

static void t_direct_stale_workspaces(void)
{
    set_path("direct");
    REQUIRE(poison_workspaces((size_t)1 << 20), "poison");
    run_case("direct conv after NaN workspaces", 0, 5, 1, 28, 28, 8, p_same(3, 1), 1, 0, 0);
    REQUIRE(poison_workspaces((size_t)1 << 20), "poison");
    run_case("direct deconv after NaN workspaces", 1, 5, 8, 28, 28, 1, p_same(3, 1), 1, 0, 0);
    set_path(NULL);
}

/* Each gradient asked for alone (the others NULL), from zero, against the reference. */
static void single_grads_case(const char *name, int tr, size_t N, size_t Cin, size_t H, size_t W,
                              size_t Cout, clvae_conv_params_t p)
{
    clvae_error_t err = {0};
    layer_t l;
    REQUIRE(layer_make(&l, tr, N, Cin, H, W, Cout, p, &err), "%s: %s", name, err.msg);
    uint64_t seed = 0x5851f42d4c957f2dULL ^ l.nx;
    size_t tot = l.nx + l.nw + l.ny;
    float *t = malloc(tot * sizeof *t);
    tu_rand(t, tot, -1.0f, 1.0f, &seed);
    double *d = tu_double(t, tot);
    double *gx = calloc(l.nx, sizeof *gx), *gw = calloc(l.nw, sizeof *gw);
    double *gb = calloc(l.nb, sizeof *gb);
    ref_bwd(&l, &l.g, gx, gw, gb, d + l.nx + l.nw, d, d + l.nx);
    clvae_buf_t bx = tu_upload(ctx, t, l.nx), bw = tu_upload(ctx, t + l.nx, l.nw);
    clvae_buf_t bdy = tu_upload(ctx, t + l.nx + l.nw, l.ny), none = {0};
    const double *want[3] = {gx, gw, gb};
    size_t n[3] = {l.nx, l.nw, l.nb};
    static const char *what[3] = {"dx", "dw", "db"};
    for (int i = 0; i < 3; i++) {
        clvae_buf_t g = tu_zeros(ctx, n[i]);
        CHECK(dev_bwd(&l, i == 0 ? g : none, i == 1 ? g : none, i == 2 ? g : none, bdy, bx, bw,
                      &err) == CLVAE_OK,
              "%s: %s alone: %s", name, what[i], err.msg);
        float *got = tu_download(ctx, g, n[i]);
        char label[200];
        snprintf(label, sizeof label, "%s: %s alone", name, what[i]);
        CHECK(compare(label, "single gradient", got, want[i], n[i],
                      i == 2 ? sqrt((double)(l.ny / l.nb) / 3.0) : 0), "%s", label);
        free(got);
        clvae_buf_free(&g);
    }
    free(t), free(d), free(gx), free(gw), free(gb);
    clvae_buf_free(&bx), clvae_buf_free(&bw), clvae_buf_free(&bdy);
}

static void t_single_gradients(void)
{
    static const char *paths[2] = {"gemm", "direct"};
    for (int i = 0; i < 2; i++) {
        char name[96];
        set_path(paths[i]);
        snprintf(name, sizeof name, "conv 1->6 13x7 s2 [%s]", paths[i]);
        single_grads_case(name, 0, 3, 1, 13, 7, 6, p_same(3, 2));
        snprintf(name, sizeof name, "deconv 6->1 13x7 s2 [%s]", paths[i]);
        single_grads_case(name, 1, 3, 6, 13, 7, 1, p_same(3, 2));
    }
    set_path("implicit");
    single_grads_case("conv 5->6 13x7 s1 [implicit]", 0, 3, 5, 13, 7, 6, p_same(3, 1));
    single_grads_case("deconv 6->5 13x7 s1 [implicit]", 1, 3, 6, 13, 7, 5, p_same(3, 1));
    single_grads_case("deconv 6->5 13x7 s2 [implicit]", 1, 3, 6, 13, 7, 5, p_same(3, 2));
    set_path(NULL);
}

static void t_path_variable(void)
{
    clvae_error_t err = {0};
    layer_t l;
    REQUIRE(layer_make(&l, 0, 1, 1, 5, 5, 2, p_same(3, 1), &err), "%s", err.msg);
    clvae_buf_t x = tu_zeros(ctx, l.nx), w = tu_zeros(ctx, l.nw), y = tu_zeros(ctx, l.ny);
    clvae_buf_t none = {0};
    set_path("fastest");
    CHECK(dev_fwd(&l, y, x, w, none, &err) == CLVAE_ERR_INVALID && strstr(err.msg, "fastest"),
          "CLVAE_CONV_PATH=fastest accepted: %s", err.msg);
    clvae_error_clear(&err);
    for (int i = 0; i < 4; i++) {
        static const char *ok[4] = {"auto", "gemm", "direct", "implicit"};
        set_path(ok[i]);
        CHECK(dev_fwd(&l, y, x, w, none, &err) == CLVAE_OK, "CLVAE_CONV_PATH=%s: %s", ok[i],
              err.msg);
    }
    set_path(NULL);
    clvae_error_clear(&err);
    clvae_buf_free(&x), clvae_buf_free(&w), clvae_buf_free(&y);

    /* the variable does switch paths: the direct path adds the bias first, GEMM's path
     * last, so the thesis layer's 25088 outputs cannot all come out with the same bits */
    REQUIRE(layer_make(&l, 0, 1, 1, 28, 28, 32, p_same(3, 1), &err), "%s", err.msg);
    uint64_t seed = 0x1234567887654321ULL;
    float *hx = malloc(l.nx * sizeof *hx), *hw = malloc(l.nw * sizeof *hw);
    tu_rand(hx, l.nx, -1.0f, 1.0f, &seed);
    tu_rand(hw, l.nw, -1.0f, 1.0f, &seed);
    x = tu_upload(ctx, hx, l.nx), w = tu_upload(ctx, hw, l.nw), y = tu_zeros(ctx, l.ny);
    clvae_buf_t b = tu_upload(ctx, hw, l.nb);
    float *got[2] = {NULL, NULL};
    for (int i = 0; i < 2; i++) {
        set_path(i ? "direct" : "gemm");
        CHECK(dev_fwd(&l, y, x, w, b, &err) == CLVAE_OK, "%s", err.msg);
        got[i] = tu_download(ctx, y, l.ny);
    }
    set_path(NULL);
    CHECK(got[0] && got[1] && memcmp(got[0], got[1], l.ny * sizeof(float)) != 0,
          "gemm and direct paths gave the same bits: is CLVAE_CONV_PATH read?");
    free(hx), free(hw), free(got[0]), free(got[1]);
    clvae_buf_free(&x), clvae_buf_free(&w), clvae_buf_free(&y), clvae_buf_free(&b);
}

/* The implicit path (src/ops/conv.c: ci_forward, the col of im2col never stored): its gradients
 * against central differences, two runs the same bits, and its tuning keys. */
static void t_implicit_gradients(void)
{
    set_path("implicit");
    dev_fd_case("implicit conv 5->4 k3 s1 same", 0, 2, 5, 6, 5, 4, p_same(3, 1));
    dev_fd_case("implicit conv 3->9 k3 s2 same odd pad", 0, 2, 3, 7, 6, 9, p_same(3, 2));
    dev_fd_case("implicit conv 3->2 k3 d2 p2", 0, 2, 3, 7, 6, 2, p_explicit(3, 3, 1, 2, 2, 0));
    dev_fd_case("implicit deconv 9->4 k3 s1 same", 1, 2, 9, 5, 6, 4, p_same(3, 1));
    dev_fd_case("implicit deconv 4->3 k3 s2 p1 op1", 1, 2, 4, 3, 4, 3,
                p_explicit(3, 3, 2, 1, 1, 1));
    set_path(NULL);
}

static void t_implicit_determinism(void)
{
    set_path("implicit");
    determinism_case("implicit conv 32->32 28 s1 batch 4", 0, 4, 32, 28, 32, 1);
    determinism_case("implicit deconv 32->16 14 s2 batch 3", 1, 3, 32, 14, 16, 2);
    set_path(NULL);
}

/* conv_implicit.on = 1 under the automatic rule with every vector width and block of output
 * channels, as `clvae tune` would set them; then on = 0, and CLVAE_CONV_PATH=gemm over on = 1,
 * take the GEMM path. */
static void t_implicit_tuned_values(void)
{
    static const int vals[4][2] = {{4, 1}, {16, 16}, {8, 4}, {4, 2}};
    clvae_error_t err = {0};
    char n[160];
    set_path(NULL);
    for (int c = 0; c < 4; c++) {
        REQUIRE(clvae_tuning_set(ctx, "conv_implicit.on", 1, &err) == CLVAE_OK &&
                    clvae_tuning_set(ctx, "conv_implicit.vw", vals[c][0], &err) == CLVAE_OK &&
                    clvae_tuning_set(ctx, "conv_implicit.kb", vals[c][1], &err) == CLVAE_OK,
                "%s", err.msg);
        snprintf(n, sizeof n, "implicit vw %d kb %d: conv 13->19 k3 s1 23x21", vals[c][0],
                 vals[c][1]);
        run_case(n, 0, 2, 13, 23, 21, 19, p_same(3, 1), 1, 0, 0);
        snprintf(n, sizeof n, "implicit vw %d kb %d: deconv 19->13 k3 s2 pad 1 op 1", vals[c][0],
                 vals[c][1]);
        run_case(n, 1, 2, 19, 12, 11, 13, p_explicit(3, 3, 2, 1, 1, 1), 1, 0, 0);
    }
    /* which path ran, by its launches: the implicit forward is one kernel, the GEMM path's
     * three or more (im2col, the GEMM, the copy from its rows); both sum in the same order
     * (input channels, then taps) and give the same bits */
    layer_t l;
    REQUIRE(layer_make(&l, 0, 2, 16, 9, 10, 8, p_same(3, 1), &err), "%s", err.msg);
    clvae_buf_t x = tu_zeros(ctx, l.nx), w = tu_zeros(ctx, l.nw), y = tu_zeros(ctx, l.ny);
    clvae_buf_t none = {0};
    uint64_t launches[3]; /* on = 1, on = 0, CLVAE_CONV_PATH=gemm with on = 1 */
    for (int i = 0; i < 3; i++) {
        REQUIRE(clvae_tuning_set(ctx, "conv_implicit.on", i != 1, &err) == CLVAE_OK, "%s",
                err.msg);
        set_path(i == 2 ? "gemm" : NULL);
        CHECK(dev_fwd(&l, y, x, w, none, &err) == CLVAE_OK, "%s", err.msg); /* built */
        clvae_counters_t c0, c1;
        clvae_ctx_counters(ctx, &c0);
        CHECK(dev_fwd(&l, y, x, w, none, &err) == CLVAE_OK, "%s", err.msg);
        clvae_ctx_counters(ctx, &c1);
        launches[i] = c1.launches - c0.launches;
    }
    set_path(NULL);
    CHECK(launches[0] == 1 && launches[1] >= 2 && launches[2] >= 2,
          "launches: %llu with conv_implicit.on = 1, %llu with 0, %llu with CLVAE_CONV_PATH=gemm",
          (unsigned long long)launches[0], (unsigned long long)launches[1],
          (unsigned long long)launches[2]);
    clvae_buf_free(&x), clvae_buf_free(&w), clvae_buf_free(&y);
    clvae_tuning_unset(ctx, "conv_implicit.");
    clvae_error_clear(&err);
}

/* The direct kernels' default vector width: 16 on pocl's CPU device (2.2-2.8x faster there than
 * 4 for the thesis VAE's last deconv), 4 elsewhere; the direct tests run both (tuned values). */
static void t_direct_default_vw(void)
{
    int want = clvae_device_is_pocl_cpu(ctx) ? 16 : 4;
    CHECK(clvae_conv_direct_vw_default(ctx) == want, "default vector width %d, not %d",
          clvae_conv_direct_vw_default(ctx), want);
}

/* The direct path with tuned values, set as `clvae tune` sets its candidates (the context's
 * tuning table): every vector width, the weight-gradient tiles away from their defaults, and
 * max_ckk = 64 sending a 36-tap conv down the direct path under the automatic rule. */
static void t_direct_tuned_values(void)
{
    static const char *keys[6] = {"conv_direct.vw", "conv_direct.dw_vw", "conv_direct.kb",
                                  "conv_direct.wg", "conv_direct.dw_pixels",
                                  "conv_direct.max_ckk"};
    static const int vals[3][6] = {{8, 16, 1, 16, 512, 64},
                                   {16, 8, 8, 64, 16384, 64},
                                   {16, 4, 2, 128, 1024, 64}};
    clvae_error_t err = {0};
    char n[160];
    set_path(NULL);
    /* the direct weight-gradient kernels, not the GEMM path's dot kernel that pocl's CPU
     * device gives the direct convs' weight gradients by default */
    REQUIRE(clvae_tuning_set(ctx, "conv.weight_abt", 0, &err) == CLVAE_OK, "%s", err.msg);
    for (int c = 0; c < 3; c++) {
        for (int i = 0; i < 6; i++)
            REQUIRE(clvae_tuning_set(ctx, keys[i], vals[c][i], &err) == CLVAE_OK, "%s: %s",
                    keys[i], err.msg);
        snprintf(n, sizeof n, "tuned set %d: conv 1->32 28x28 batch 5", c);
        run_case(n, 0, 5, 1, 28, 28, 32, p_same(3, 1), 1, 0, 0);
        snprintf(n, sizeof n, "tuned set %d: deconv 32->1 28x28 batch 5", c);
        run_case(n, 1, 5, 32, 28, 28, 1, p_same(3, 1), 1, 0, 0);
        snprintf(n, sizeof n, "tuned set %d: conv 1->5 13x7 stride 2", c);
        run_case(n, 0, 3, 1, 13, 7, 5, p_same(3, 2), 1, 0, 0);
        snprintf(n, sizeof n, "tuned set %d: conv 4->6 k3 s2 (36 taps)", c);
        run_case(n, 0, 3, 4, 9, 10, 6, p_same(3, 2), 1, 0, 0);
    }
    clvae_tuning_unset(ctx, "conv_direct.");
    clvae_tuning_unset(ctx, "conv.weight_abt");
    clvae_error_clear(&err);
}

int main(void)
{
    set_path(NULL); /* the automatic rule unless a test says otherwise */
    ctx = tu_ctx();
    if (!ctx) return 1;
    RUN(t_geometry_known_numbers);
    RUN(t_geometry_invalid);
    RUN(t_geometry_pack);
    RUN(t_known_values);
    RUN(t_thesis_layers_batch1);
    RUN(t_thesis_layers_implicit);
    RUN(t_weight_ab);
    RUN(t_thesis_layers_batch128);
    /* the general tables on the im2col + GEMM path (each shape the direct path would take
     * builds its own program; the direct path has its own tables below) */
    set_path("gemm");
    RUN(t_awkward_shapes);
    RUN(t_awkward_shapes_implicit);
    RUN(t_chunked_batches);
    RUN(t_reference_gradients);
    RUN(t_device_gradients);
    RUN(t_determinism);
    RUN(t_stale_workspaces);
    set_path(NULL);
    RUN(t_invalid_arguments);
    RUN(t_direct_shapes_gemm);
    RUN(t_direct_shapes_direct);
    RUN(t_direct_shapes_auto);
    RUN(t_direct_forced);
    RUN(t_direct_gradients);
    RUN(t_direct_determinism);
    RUN(t_direct_stale_workspaces);
    RUN(t_direct_tuned_values);
    RUN(t_direct_default_vw);
    RUN(t_implicit_gradients);
    RUN(t_implicit_determinism);
    RUN(t_implicit_tuned_values);
    RUN(t_single_gradients);
    RUN(t_path_variable);
    RUN(t_keep);
    RUN(t_fold_variants);
    RUN(t_fused_act);
    RUN(t_dx_set);
    tu_print_errors();
    clvae_ctx_free(ctx);
    return TEST_EXIT();
}
