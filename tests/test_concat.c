/* Label concat and one-hot: bit-exact against the double reference, gradients by differences,
 * bad labels, determinism, bad input. */
#define TEST_FILE "test_concat"
#include "ref/ref.h"
#include "test.h"
#include "testutil.h"

#include <math.h>

#include "clvae/ops/concat.h"

static clvae_ctx_t *ctx;

/* Random class indices 0..K-1 as floats, the first ones 0 and K-1. */
static void make_labels(float *y, size_t N, size_t K, uint64_t *seed)
{
    tu_rand(y, N, 0.0f, (float)K, seed);
    for (size_t n = 0; n < N; n++) y[n] = fminf(floorf(y[n]), (float)(K - 1));
    y[0] = 0.0f;
    if (N > 1) y[1] = (float)(K - 1);
}

/* got[i] == (float)want[i] bit for bit; prints the first mismatch. */
static int exact(const char *what, const float *got, const double *want, size_t n)
{
    if (!got) {
        fprintf(stderr, "  %s: no result\n", what);
        return 0;
    }
    for (size_t i = 0; i < n; i++) {
        float w = (float)want[i];
        if (memcmp(&got[i], &w, sizeof w) != 0) {
            fprintf(stderr, "  %s: element %zu is %.9g, want %.9g\n", what, i, (double)got[i],
                    (double)w);
            return 0;
        }
    }
    return 1;
}

/* Forward, backward and one-hot for one shape against the reference, then again for the
 * same bits. */
static void run_case(size_t N, size_t C, size_t H, size_t W, size_t K)
{
    char name[96];
    snprintf(name, sizeof name, "N=%zu C=%zu %zux%zu K=%zu", N, C, H, W, K);
    size_t hw = H * W, nin = N * C * hw, nout = N * (C + K) * hw;
    uint64_t seed = 0xca7ULL + 7 * nout + K;
    float *x = malloc(nin * sizeof *x), *y = malloc(N * sizeof *y);
    float *dout = malloc(nout * sizeof *dout), *g0 = malloc(nin * sizeof *g0);
    tu_rand(x, nin, -2.0f, 2.0f, &seed);
    make_labels(y, N, K, &seed);
    tu_rand(dout, nout, -1.0f, 1.0f, &seed);
    tu_rand(g0, nin, -1.0f, 1.0f, &seed); /* backward must accumulate onto these */
    double *xd = tu_double(x, nin), *yd = tu_double(y, N), *dd = tu_double(dout, nout);
    double *out = malloc(nout * sizeof *out), *g = tu_double(g0, nin);
    double *oh = malloc(N * K * sizeof *oh);
    clvae_label_concat_forward_ref(out, xd, yd, N, C, H, W, K);
    clvae_label_concat_backward_ref(g, dd, N, C, H, W, K);
    clvae_onehot_ref(oh, yd, N, K);
    /* the reference itself: the label planes of example n hold one 1 per pixel, at y_n */
    size_t wrong = 0;
    for (size_t n = 0; n < N; n++)
        for (size_t k = 0; k < K; k++)
            for (size_t s = 0; s < hw; s++)
                wrong += out[(n * (C + K) + C + k) * hw + s] != (k == (size_t)y[n] ? 1.0 : 0.0);
    CHECK(wrong == 0, "%s: reference has %zu wrong label values", name, wrong);

    clvae_buf_t bx = tu_upload(ctx, x, nin), by = tu_upload(ctx, y, N);
    clvae_buf_t bd = tu_upload(ctx, dout, nout);
    float *got[2][3] = {{0}};
    for (int run = 0; run < 2; run++) {
        clvae_buf_t bo = tu_zeros(ctx, nout), bg = tu_upload(ctx, g0, nin);
        clvae_buf_t bh = tu_zeros(ctx, N * K);
        clvae_error_t err = {0};
        CHECK(clvae_label_concat_forward(ctx, bo, bx, by, N, C, H, W, K, &err) == CLVAE_OK,
              "%s: %s", name, err.msg);
        CHECK(clvae_label_concat_backward(ctx, bg, bd, N, C, H, W, K, &err) == CLVAE_OK,
              "%s: %s", name, err.msg);
        CHECK(clvae_onehot(ctx, bh, by, N, K, &err) == CLVAE_OK, "%s: %s", name, err.msg);
        got[run][0] = tu_download(ctx, bo, nout);
        got[run][1] = tu_download(ctx, bg, nin);
        got[run][2] = tu_download(ctx, bh, N * K);
        clvae_buf_free(&bo);
        clvae_buf_free(&bg);
        clvae_buf_free(&bh);
    }
    char what[160];
    snprintf(what, sizeof what, "concat forward %s", name);
    CHECK(exact(what, got[0][0], out, nout), "%s", what);
    /* backward adds two floats: the double sum rounded once is the float sum, exactly */
    snprintf(what, sizeof what, "concat backward %s", name);
    CHECK(exact(what, got[0][1], g, nin), "%s", what);
    snprintf(what, sizeof what, "onehot %s", name);
    CHECK(exact(what, got[0][2], oh, N * K), "%s", what);
    double rel;
    CHECK(tu_close("concat forward", got[0][0], out, nout, 0, 0, &rel), "%s", name);
    tu_note_error("label_concat forward", rel);
    CHECK(tu_close("concat backward", got[0][1], g, nin, 0, 0, &rel), "%s", name);
    tu_note_error("label_concat backward", rel);
    CHECK(tu_close("onehot", got[0][2], oh, N * K, 0, 0, &rel), "%s", name);
    tu_note_error("onehot", rel);
    const size_t lens[3] = {nout, nin, N * K};
    for (int i = 0; i < 3; i++) {
        CHECK(got[0][i] && got[1][i] && memcmp(got[0][i], got[1][i], lens[i] * sizeof(float)) == 0,
              "%s: output %d differs on the second run", name, i);
        free(got[0][i]);
        free(got[1][i]);
    }
    clvae_buf_free(&bx);
    clvae_buf_free(&by);
    clvae_buf_free(&bd);
    free(x);
    free(y);
    free(dout);
    free(g0);
    free(xd);
    free(yd);
    free(dd);
    free(out);
    free(g);
    free(oh);
}

static void t_vs_reference(void)
{
    static const size_t shapes[][5] = {
        {1, 1, 28, 28, 10},   /* MNIST image + 10 digits, batch 1 */
        {128, 1, 28, 28, 10}, /* and batch 128 */
        {1, 2, 1, 1, 10},     /* flat z (2 latents) + 10 digits */
        {128, 2, 1, 1, 10},
        {3, 5, 7, 3, 4},      /* odd sizes */
        {2, 3, 5, 1, 1},      /* one class */
        {7, 1, 1, 1, 13},
        {5, 16, 7, 7, 3},
    };
    for (size_t s = 0; s < sizeof shapes / sizeof *shapes; s++)
        run_case(shapes[s][0], shapes[s][1], shapes[s][2], shapes[s][3], shapes[s][4]);
}

/* sum(r * out) of the reference forward. */
static double ref_objective(const double *r, const double *x, const double *y, size_t N,
                            size_t C, size_t H, size_t W, size_t K, double *out)
{
    size_t nout = N * (C + K) * H * W;
    clvae_label_concat_forward_ref(out, x, y, N, C, H, W, K);
    double s = 0;
    for (size_t i = 0; i < nout; i++) s += r[i] * out[i];
    return s;
}

/* Central differences of L = sum(r * out) on the reference, against backward with dout = r. */
static void t_reference_gradient_by_differences(void)
{
    static const size_t shapes[][5] = {{2, 3, 2, 2, 4}, {1, 2, 1, 1, 3}, {3, 1, 3, 1, 2}};
    const double h = 1e-6;
    for (size_t sh = 0; sh < 3; sh++) {
        size_t N = shapes[sh][0], C = shapes[sh][1], H = shapes[sh][2], W = shapes[sh][3];
        size_t K = shapes[sh][4], nin = N * C * H * W, nout = N * (C + K) * H * W;
        uint64_t seed = 90 + sh;
        float *x = malloc(nin * sizeof *x), *y = malloc(N * sizeof *y);
        float *r = malloc(nout * sizeof *r);
        tu_rand(x, nin, -1.0f, 1.0f, &seed);
        tu_rand(r, nout, -1.0f, 1.0f, &seed);
        make_labels(y, N, K, &seed);
        double *xd = tu_double(x, nin), *yd = tu_double(y, N), *rd = tu_double(r, nout);
        double *g = calloc(nin, sizeof *g), *out = malloc(nout * sizeof *out), norm = 0;
        clvae_label_concat_backward_ref(g, rd, N, C, H, W, K);
        for (size_t i = 0; i < nin; i++) {
            double x0 = xd[i];
            xd[i] = x0 + h;
            double lp = ref_objective(rd, xd, yd, N, C, H, W, K, out);
            xd[i] = x0 - h;
            double lm = ref_objective(rd, xd, yd, N, C, H, W, K, out);
            xd[i] = x0;
            double fd = (lp - lm) / (2 * h);
            CHECK(fabs(fd - g[i]) <= 1e-6 * fabs(g[i]) + 1e-8,
                  "shape %zu elem %zu: difference %.12g, gradient %.12g", sh, i, fd, g[i]);
            norm += g[i] * g[i];
        }
        CHECK(sqrt(norm) > 0.1, "shape %zu: gradient norm %g is trivial", sh, sqrt(norm));
        free(x);
        free(y);
        free(r);
        free(xd);
        free(yd);
        free(rd);
        free(g);
        free(out);
    }
}

/* sum(r * out) of a device forward, in double on the host. */
static double dev_objective(const float *r, clvae_buf_t bo, clvae_buf_t bx, clvae_buf_t by,
                            size_t N, size_t C, size_t H, size_t W, size_t K)
{
    size_t nout = N * (C + K) * H * W;
    clvae_error_t err = {0};
    if (clvae_label_concat_forward(ctx, bo, bx, by, N, C, H, W, K, &err) != CLVAE_OK) return NAN;
    float *o = tu_download(ctx, bo, nout);
    if (!o) return NAN;
    double s = 0;
    for (size_t i = 0; i < nout; i++) s += (double)r[i] * o[i];
    free(o);
    return s;
}

/* Central differences of the device forward (float) against the device backward. */
static void t_device_gradient_by_differences(void)
{
    const size_t N = 2, C = 3, H = 2, W = 3, K = 4;
    const size_t nin = N * C * H * W, nout = N * (C + K) * H * W;
    const float h = 1e-2f;
    uint64_t seed = 4711;
    float *x = malloc(nin * sizeof *x), *y = malloc(N * sizeof *y), *r = malloc(nout * sizeof *r);
    tu_rand(x, nin, -1.0f, 1.0f, &seed);
    tu_rand(r, nout, -1.0f, 1.0f, &seed);
    make_labels(y, N, K, &seed);
    clvae_buf_t bx = tu_upload(ctx, x, nin), by = tu_upload(ctx, y, N);
    clvae_buf_t br = tu_upload(ctx, r, nout);
    clvae_buf_t bo = tu_zeros(ctx, nout), bg = tu_zeros(ctx, nin);
    clvae_error_t err = {0};
    CHECK(clvae_label_concat_backward(ctx, bg, br, N, C, H, W, K, &err) == CLVAE_OK, "%s",
          err.msg);
    float *g = tu_download(ctx, bg, nin);
    REQUIRE(g, "no gradient");
    double norm = 0, worst = 0;
    for (size_t i = 0; i < nin; i++) {
        float x0 = x[i], xp = x0 + h, xm = x0 - h;
        clvae_buf_upload(ctx, clvae_buf_at(bx, i), &xp, 1, &err);
        double lp = dev_objective(r, bo, bx, by, N, C, H, W, K);
        clvae_buf_upload(ctx, clvae_buf_at(bx, i), &xm, 1, &err);
        double lm = dev_objective(r, bo, bx, by, N, C, H, W, K);
        clvae_buf_upload(ctx, clvae_buf_at(bx, i), &x0, 1, &err);
        double fd = (lp - lm) / ((double)xp - (double)xm);
        double e = fabs(fd - g[i]) / fmax(fabs(g[i]), 1e-1);
        if (e > worst) worst = e;
        /* linear: only the products r*out summed in double carry rounding (~1e-16) */
        CHECK(fabs(fd - g[i]) <= 1e-2 * fabs(g[i]) + 1e-4,
              "elem %zu: difference %.7g, gradient %.7g", i, fd, (double)g[i]);
        norm += (double)g[i] * g[i];
    }
    CHECK(sqrt(norm) > 0.1, "gradient norm %g is trivial", sqrt(norm));
    tu_note_error("label_concat backward (differences)", worst);
    free(g);
    free(x);
    free(y);
    free(r);
    clvae_buf_free(&bx);
    clvae_buf_free(&by);
    clvae_buf_free(&br);
    clvae_buf_free(&bo);
    clvae_buf_free(&bg);
}

/* Labels that are not class indices give all-zero label channels and one-hot rows. */
static void t_invalid_labels_on_device(void)
{
    const size_t N = 8, C = 2, H = 2, W = 2, K = 3, hw = H * W;
    const size_t nin = N * C * hw, nout = N * (C + K) * hw;
    const float y[8] = {2.0f, -1.0f, 3.0f, 0.5f, NAN, -INFINITY, 1e30f, -0.0f};
    const size_t cls[8] = {2, K, K, K, K, K, K, 0};
    float x[64];
    uint64_t seed = 5;
    tu_rand(x, nin, -1.0f, 1.0f, &seed);
    double *xd = tu_double(x, nin), *yd = tu_double(y, N), out[160], oh[24];
    clvae_label_concat_forward_ref(out, xd, yd, N, C, H, W, K);
    clvae_onehot_ref(oh, yd, N, K);
    clvae_buf_t bx = tu_upload(ctx, x, nin), by = tu_upload(ctx, y, N);
    clvae_buf_t bo = tu_zeros(ctx, nout), bh = tu_zeros(ctx, N * K);
    clvae_error_t err = {0};
    CHECK(clvae_label_concat_forward(ctx, bo, bx, by, N, C, H, W, K, &err) == CLVAE_OK, "%s",
          err.msg);
    CHECK(clvae_onehot(ctx, bh, by, N, K, &err) == CLVAE_OK, "%s", err.msg);
    float *go = tu_download(ctx, bo, nout), *gh = tu_download(ctx, bh, N * K);
    REQUIRE(go && gh, "no result");
    CHECK(exact("bad labels concat", go, out, nout), "concat");
    CHECK(exact("bad labels onehot", gh, oh, N * K), "onehot");
    for (size_t n = 0; n < N; n++) {
        for (size_t k = 0; k < K; k++) {
            float want = k == cls[n] ? 1.0f : 0.0f;
            CHECK(gh[n * K + k] == want, "label %g class %zu: one-hot %g", (double)y[n], k,
                  (double)gh[n * K + k]);
            for (size_t s = 0; s < hw; s++)
                CHECK(go[(n * (C + K) + C + k) * hw + s] == want, "label %g class %zu: %g",
                      (double)y[n], k, (double)go[(n * (C + K) + C + k) * hw + s]);
        }
    }
    free(go);
    free(gh);
    free(xd);
    free(yd);
    clvae_buf_free(&bx);
    clvae_buf_free(&by);
    clvae_buf_free(&bo);
    clvae_buf_free(&bh);
}

static void t_skipped_gradient(void)
{
    float d[12] = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12};
    clvae_buf_t bd = tu_upload(ctx, d, 12), none = {0};
    clvae_error_t err = {0};
    CHECK(clvae_label_concat_backward(ctx, none, bd, 2, 2, 1, 1, 4, &err) == CLVAE_OK, "%s",
          err.msg);
    float *h = tu_download(ctx, bd, 12);
    CHECK(h && memcmp(h, d, sizeof d) == 0, "dout was written");
    free(h);
    clvae_buf_free(&bd);
}

static void t_invalid_arguments(void)
{
    clvae_buf_t b = tu_zeros(ctx, 256), o = tu_zeros(ctx, 256), y = tu_zeros(ctx, 4);
    clvae_buf_t none = {0}, far = clvae_buf_at(b, (size_t)UINT32_MAX - 10);
    clvae_error_t err = {0};
    const clvae_status_t INV = CLVAE_ERR_INVALID;
    const size_t big = ((size_t)1 << 24) + 1;
    /* forward: N=4 C=2 H=3 W=2 K=3 -> in 48, out 120 floats */
    static const size_t zero[5][5] = {
        {0, 2, 3, 2, 3}, {4, 0, 3, 2, 3}, {4, 2, 0, 2, 3}, {4, 2, 3, 0, 3}, {4, 2, 3, 2, 0}};
    for (int z = 0; z < 5; z++) {
        const size_t *s = zero[z];
        CHECK(clvae_label_concat_forward(ctx, o, b, y, s[0], s[1], s[2], s[3], s[4], &err) == INV,
              "forward with zero size %d accepted", z);
        CHECK(strstr(err.msg, "zero size") != NULL, "message: %s", err.msg);
        CHECK(clvae_label_concat_backward(ctx, b, o, s[0], s[1], s[2], s[3], s[4], &err) == INV,
              "backward with zero size %d accepted", z);
    }
    CHECK(clvae_label_concat_forward(ctx, none, b, y, 4, 2, 3, 2, 3, &err) == INV, "NULL out");
    CHECK(clvae_label_concat_forward(ctx, o, none, y, 4, 2, 3, 2, 3, &err) == INV, "NULL in");
    CHECK(clvae_label_concat_forward(ctx, o, b, none, 4, 2, 3, 2, 3, &err) == INV, "NULL labels");
    CHECK(clvae_label_concat_forward(ctx, far, b, y, 4, 2, 3, 2, 3, &err) == INV, "far out");
    CHECK(clvae_label_concat_forward(ctx, o, far, y, 4, 2, 3, 2, 3, &err) == INV, "far in");
    CHECK(clvae_label_concat_forward(ctx, o, b, y, 1, 1, 1, 1, big, &err) == INV, "K > 2^24");
    CHECK(clvae_label_concat_forward(ctx, o, b, y, (size_t)1 << 16, 1, 256, 256, 1, &err) == INV,
          "N*(C+K)*H*W > 2^32 accepted");
    CHECK(strstr(err.msg, "exceeds") != NULL, "message: %s", err.msg);
    CHECK(clvae_label_concat_forward(ctx, o, b, y, SIZE_MAX / 2, 1, 2, 1, 1, &err) == INV,
          "huge N accepted");
    CHECK(clvae_label_concat_forward(ctx, clvae_buf_at(b, 40), b, y, 4, 2, 3, 2, 3, &err) == INV,
          "out overlapping in");
    CHECK(strstr(err.msg, "overlap") != NULL, "message: %s", err.msg);
    CHECK(clvae_label_concat_forward(ctx, y, b, y, 1, 1, 1, 1, 3, &err) == INV,
          "out overlapping labels");
    /* backward */
    CHECK(clvae_label_concat_backward(ctx, b, none, 4, 2, 3, 2, 3, &err) == INV, "NULL dout");
    CHECK(clvae_label_concat_backward(ctx, b, far, 4, 2, 3, 2, 3, &err) == INV, "far dout");
    CHECK(clvae_label_concat_backward(ctx, far, o, 4, 2, 3, 2, 3, &err) == INV, "far din");
    CHECK(clvae_label_concat_backward(ctx, clvae_buf_at(o, 100), o, 4, 2, 3, 2, 3, &err) == INV,
          "din overlapping dout");
    CHECK(clvae_label_concat_backward(ctx, b, o, 1, 1, 1, 1, big, &err) == INV, "bwd K > 2^24");
    /* one-hot */
    CHECK(clvae_onehot(ctx, o, y, 0, 3, &err) == INV, "onehot N=0");
    CHECK(clvae_onehot(ctx, o, y, 4, 0, &err) == INV, "onehot K=0");
    CHECK(clvae_onehot(ctx, none, y, 4, 3, &err) == INV, "onehot NULL out");
    CHECK(clvae_onehot(ctx, o, none, 4, 3, &err) == INV, "onehot NULL labels");
    CHECK(clvae_onehot(ctx, far, y, 4, 3, &err) == INV, "onehot far out");
    CHECK(clvae_onehot(ctx, o, y, 1, big, &err) == INV, "onehot K > 2^24");
    CHECK(clvae_onehot(ctx, y, y, 1, 3, &err) == INV, "onehot on labels");
    /* the rejected calls wrote nothing */
    float *hb = tu_download(ctx, b, 256), *ho = tu_download(ctx, o, 256);
    float *hy = tu_download(ctx, y, 4);
    int clean = hb && ho && hy;
    for (int i = 0; clean && i < 256; i++) clean = hb[i] == 0.0f && ho[i] == 0.0f;
    for (int i = 0; clean && i < 4; i++) clean = hy[i] == 0.0f;
    CHECK(clean, "a rejected call wrote");
    free(hb);
    free(ho);
    free(hy);
    clvae_buf_free(&b);
    clvae_buf_free(&o);
    clvae_buf_free(&y);
}

/* Channel slices ([concat] layers): a concat of two tensors and its gradient, bit for bit
 * against the reference (moves are exact; += of floats is one rounding, as in double then
 * rounded, since each element gets one addition); bad slices are refused. */
#define SLICE_HW_MAX 37

/* One case of t_channel_slices with HW pixels per channel (at most SLICE_HW_MAX). */
static void slices_case(size_t HW)
{
    size_t N = 3, C1 = 2, C2 = 3, C = C1 + C2;
    float a[3 * 2 * SLICE_HW_MAX], b[3 * 3 * SLICE_HW_MAX], cat[3 * 5 * SLICE_HW_MAX];
    float ga[3 * 2 * SLICE_HW_MAX];
    double da[3 * 2 * SLICE_HW_MAX], db[3 * 3 * SLICE_HW_MAX], dcat[3 * 5 * SLICE_HW_MAX];
    double dga[3 * 2 * SLICE_HW_MAX];
    uint64_t seed = 9 + HW;
    tu_rand(a, N * C1 * HW, -1, 1, &seed);
    tu_rand(b, N * C2 * HW, -1, 1, &seed);
    for (size_t i = 0; i < N * C1 * HW; i++) da[i] = a[i];
    for (size_t i = 0; i < N * C2 * HW; i++) db[i] = b[i];
    clvae_error_t err = {0};
    clvae_buf_t A, Bb, Cc;
    REQUIRE(clvae_buf_alloc(ctx, N * C1 * HW, &A, &err) == CLVAE_OK &&
                clvae_buf_alloc(ctx, N * C2 * HW, &Bb, &err) == CLVAE_OK &&
                clvae_buf_alloc(ctx, N * C * HW, &Cc, &err) == CLVAE_OK,
            "%s", err.msg);
    clvae_buf_upload(ctx, A, a, N * C1 * HW, &err);
    clvae_buf_upload(ctx, Bb, b, N * C2 * HW, &err);
    REQUIRE(clvae_channel_slice(ctx, Cc, C, 0, A, C1, 0, C1, N, HW, 0, &err) == CLVAE_OK &&
                clvae_channel_slice(ctx, Cc, C, C1, Bb, C2, 0, C2, N, HW, 0, &err) == CLVAE_OK &&
                clvae_buf_download(ctx, cat, Cc, N * C * HW, &err) == CLVAE_OK,
            "%s", err.msg);
    clvae_channel_slice_ref(dcat, C, 0, da, C1, 0, C1, N, HW, 0);
    clvae_channel_slice_ref(dcat, C, C1, db, C2, 0, C2, N, HW, 0);
    CHECK(exact("concat", cat, dcat, N * C * HW), "concat of 2 + 3 channels of %zu", HW);
    /* the gradient of the first input: += the first C1 channels of the output */
    for (size_t i = 0; i < N * C1 * HW; i++) dga[i] = a[i];
    REQUIRE(clvae_channel_slice(ctx, A, C1, 0, Cc, C, 0, C1, N, HW, 1, &err) == CLVAE_OK &&
                clvae_buf_download(ctx, ga, A, N * C1 * HW, &err) == CLVAE_OK,
            "%s", err.msg);
    clvae_channel_slice_ref(dga, C1, 0, dcat, C, 0, C1, N, HW, 1);
    CHECK(exact("accumulated slice", ga, dga, N * C1 * HW), "din += dout's first channels (%zu)",
          HW);
    /* a slice past either tensor's channels, or one view overlapping the other */
    const clvae_status_t I = CLVAE_ERR_INVALID;
    CHECK(clvae_channel_slice(ctx, Cc, C, 4, A, C1, 0, C1, N, HW, 0, &err) == I &&
              strstr(err.msg, "channel_slice") != NULL,
          "dst channels past the end: %s", err.msg);
    clvae_error_clear(&err);
    CHECK(clvae_channel_slice(ctx, Cc, C, 0, A, C1, 1, C1, N, HW, 0, &err) == I,
          "src channels past the end");
    clvae_error_clear(&err);
    CHECK(clvae_channel_slice(ctx, Cc, C, 0, Cc, C, 2, 2, N, HW, 0, &err) == I,
          "overlapping views of one buffer");
    clvae_error_clear(&err);
    clvae_buf_free(&A);
    clvae_buf_free(&Bb);
    clvae_buf_free(&Cc);
}

/* Rows shorter than a work item's chunk of values (5), and longer with a partial last chunk. */
static void t_channel_slices(void)
{
    slices_case(5);
    slices_case(SLICE_HW_MAX);
}

int main(void)
{
    ctx = tu_ctx();
    if (!ctx) return 1;
    RUN(t_vs_reference);
    RUN(t_reference_gradient_by_differences);
    RUN(t_device_gradient_by_differences);
    RUN(t_invalid_labels_on_device);
    RUN(t_skipped_gradient);
    RUN(t_invalid_arguments);
    RUN(t_channel_slices);
    tu_print_errors();
    clvae_ctx_free(ctx);
    return TEST_EXIT();
}
