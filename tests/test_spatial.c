/* Nearest upsampling and the per-channel broadcast add: against the double reference (forward and
 * backward, at offsets, in place), gradients by central differences, determinism, bad input. */
#define TEST_FILE "test_spatial"
#include "ref/ref.h"
#include "test.h"
#include "testutil.h"

#include <math.h>

#include "clvae/ops/spatial.h"

static clvae_ctx_t *ctx;

static void t_upsample_vs_reference(void)
{
    /* N, C, H, W, F */
    static const size_t shapes[][5] = {{2, 3, 4, 5, 2}, {1, 1, 1, 1, 2}, {3, 2, 7, 7, 3},
                                       {4, 8, 14, 14, 2}, {1, 2, 3, 2, 1}};
    for (size_t s = 0; s < sizeof shapes / sizeof *shapes; s++) {
        size_t N = shapes[s][0], C = shapes[s][1], H = shapes[s][2], W = shapes[s][3];
        size_t F = shapes[s][4];
        if (tu_small() && H > 8) H = W = 4;
        size_t n = N * C * H * W, m = n * F * F;
        char name[96];
        snprintf(name, sizeof name, "upsample N=%zu C=%zu %zux%zu F=%zu", N, C, H, W, F);
        uint64_t seed = 3 + s;
        float *x = malloc(n * sizeof *x), *dy = malloc(m * sizeof *dy), *g0 = malloc(n * 4);
        tu_rand(x, n, -2.0f, 2.0f, &seed);
        tu_rand(dy, m, -1.0f, 1.0f, &seed);
        tu_rand(g0, n, -1.0f, 1.0f, &seed);
        clvae_buf_t bx = tu_upload(ctx, x, n), by = tu_zeros(ctx, m), bdy = tu_upload(ctx, dy, m);
        clvae_buf_t bdx = tu_upload(ctx, g0, n);
        clvae_map_shape_t sh = {N, C, H, W};
        clvae_error_t err = {0};
        CHECK(clvae_upsample_forward(ctx, by, bx, F, sh, &err) == CLVAE_OK &&
                  clvae_upsample_backward(ctx, bdx, bdy, F, sh, &err) == CLVAE_OK,
              "%s: %s", name, err.msg);
        double *xd = tu_double(x, n), *dyd = tu_double(dy, m), *dx = tu_double(g0, n);
        double *y = malloc(m * sizeof *y);
        clvae_upsample_forward_ref(y, xd, F, N, C, H, W);
        clvae_upsample_backward_ref(dx, dyd, F, N, C, H, W);
        float *gy = tu_download(ctx, by, m), *gdx = tu_download(ctx, bdx, n);
        double rel;
        CHECK(tu_close(name, gy, y, m, 0.0, 0.0, NULL), "%s y (exact copies)", name);
        CHECK(tu_close(name, gdx, dx, n, 1e-5, 1e-5, &rel), "%s dx", name);
        tu_note_error("upsample_backward", rel);
        free(x), free(dy), free(g0), free(xd), free(dyd), free(dx), free(y), free(gy), free(gdx);
        clvae_buf_free(&bx), clvae_buf_free(&by), clvae_buf_free(&bdy), clvae_buf_free(&bdx);
    }
}

static void t_channel_add_vs_reference(void)
{
    /* N, C, HW */
    static const size_t shapes[][3] = {{2, 3, 20}, {1, 1, 1}, {5, 4, 49}, {8, 16, 196}};
    for (size_t s = 0; s < sizeof shapes / sizeof *shapes; s++)
        for (int inplace = 0; inplace < 2; inplace++) {
            size_t N = shapes[s][0], C = shapes[s][1], HW = shapes[s][2];
            if (tu_small() && HW > 50) HW = 9;
            size_t n = N * C * HW, nc = N * C;
            char name[96];
            snprintf(name, sizeof name, "channel_add N=%zu C=%zu HW=%zu%s", N, C, HW,
                     inplace ? " in place" : "");
            uint64_t seed = 13 + s;
            float *x = malloc(n * sizeof *x), *v = malloc(nc * sizeof *v);
            float *dy = malloc(n * sizeof *dy), *g0 = malloc(nc * sizeof *g0);
            tu_rand(x, n, -2.0f, 2.0f, &seed);
            tu_rand(v, nc, -1.0f, 1.0f, &seed);
            tu_rand(dy, n, -1.0f, 1.0f, &seed);
            tu_rand(g0, nc, -1.0f, 1.0f, &seed);
            clvae_buf_t bx = tu_upload(ctx, x, n), bv = tu_upload(ctx, v, nc);
            clvae_buf_t by = inplace ? bx : tu_zeros(ctx, n), bdy = tu_upload(ctx, dy, n);
            clvae_buf_t bdv = tu_upload(ctx, g0, nc);
            clvae_map_shape_t sh = {N, C, HW, 1};
            clvae_error_t err = {0};
            CHECK(clvae_channel_add_forward(ctx, by, bx, bv, sh, &err) == CLVAE_OK &&
                      clvae_channel_add_backward(ctx, bdv, bdy, sh, &err) == CLVAE_OK,
                  "%s: %s", name, err.msg);
            double *xd = tu_double(x, n), *vd = tu_double(v, nc), *dyd = tu_double(dy, n);
            double *dv = tu_double(g0, nc), *y = malloc(n * sizeof *y);
            clvae_channel_add_forward_ref(y, xd, vd, N, C, HW);
            clvae_channel_add_backward_ref(dv, dyd, N, C, HW);
            float *gy = tu_download(ctx, by, n), *gdv = tu_download(ctx, bdv, nc);
            double rel;
            CHECK(tu_close(name, gy, y, n, 1e-6, 1e-6, NULL), "%s y", name);
            CHECK(tu_close(name, gdv, dv, nc, 1e-5, 1e-5, &rel), "%s dv", name);
            tu_note_error("channel_add_backward", rel);
            free(x), free(v), free(dy), free(g0), free(xd), free(vd), free(dyd), free(dv);
            free(y), free(gy), free(gdv);
            clvae_buf_free(&bx), clvae_buf_free(&bv), clvae_buf_free(&bdy), clvae_buf_free(&bdv);
            if (!inplace) clvae_buf_free(&by);
        }
}

/* <r, y> of the device forward: upsample (which = 0) of x into by, or channel_add (1) of x and
 * v into bz. */
static double dev_loss(int which, clvae_buf_t by, clvae_buf_t bz, clvae_buf_t bx, clvae_buf_t bv,
                       size_t F, clvae_map_shape_t sh, const float *r, size_t m)
{
    clvae_error_t err = {0};
    clvae_status_t s = which == 0 ? clvae_upsample_forward(ctx, by, bx, F, sh, &err)
                                  : clvae_channel_add_forward(ctx, bz, bx, bv, sh, &err);
    float *y = s ? NULL : tu_download(ctx, which == 0 ? by : bz, m);
    double L = y ? tu_dot(y, r, m) : NAN;
    free(y);
    return L;
}

/* Both backwards (the reference's and the device's) against central differences of the
 * reference's and the device's forward. */
static void t_gradients_by_differences(void)
{
    size_t N = 2, C = 3, H = 3, W = 2, F = 2, n = N * C * H * W, m = n * F * F, nc = N * C;
    uint64_t seed = 71;
    float x[36], v[6], r[144];
    tu_rand(x, n, -1.0f, 1.0f, &seed);
    tu_rand(v, nc, -1.0f, 1.0f, &seed);
    tu_rand(r, m, -1.0f, 1.0f, &seed);
    clvae_map_shape_t sh = {N, C, H, W};
    clvae_buf_t bx = tu_upload(ctx, x, n), bv = tu_upload(ctx, v, nc), by = tu_zeros(ctx, m);
    clvae_buf_t bz = tu_zeros(ctx, n);
    clvae_buf_t br = tu_upload(ctx, r, m), bdx = tu_zeros(ctx, n), bdv = tu_zeros(ctx, nc);
    clvae_error_t err = {0};
    /* upsample: dx; channel_add (r's first n values as dy): dv, and dx = dy itself */
    REQUIRE(clvae_upsample_backward(ctx, bdx, br, F, sh, &err) == CLVAE_OK &&
                clvae_channel_add_backward(ctx, bdv, br, sh, &err) == CLVAE_OK,
            "%s", err.msg);
    float *gdx = tu_download(ctx, bdx, n), *gdv = tu_download(ctx, bdv, nc);
    REQUIRE(gdx && gdv, "download");
    double *rd = tu_double(r, m), *dxr = calloc(n, sizeof *dxr), *dvr = calloc(nc, sizeof *dvr);
    clvae_upsample_backward_ref(dxr, rd, F, N, C, H, W);
    clvae_channel_add_backward_ref(dvr, rd, N, C, H * W);
    double worst_dev = 0.0, worst_ref = 0.0, norm = 0.0;
    const float h = 1e-2f;
    for (int which = 0; which < 2; which++) {
        float *p = which == 0 ? x : v;
        clvae_buf_t bp = which == 0 ? bx : bv;
        size_t len = which == 0 ? n : nc, out = which == 0 ? m : n;
        for (size_t i = 0; i < len; i++) {
            float keep = p[i];
            double l[2], lr[2];
            for (int side = 0; side < 2; side++) {
                p[i] = keep + (side ? -h : h);
                clvae_buf_upload(ctx, bp, p, len, &err);
                l[side] = dev_loss(which, by, bz, bx, bv, F, sh, r, out);
                double *xd = tu_double(x, n), *vd = tu_double(v, nc), *y = malloc(m * 8);
                if (which == 0) clvae_upsample_forward_ref(y, xd, F, N, C, H, W);
                else clvae_channel_add_forward_ref(y, xd, vd, N, C, H * W);
                lr[side] = 0.0;
                for (size_t k = 0; k < out; k++) lr[side] += y[k] * rd[k];
                free(xd), free(vd), free(y);
            }
            p[i] = keep;
            clvae_buf_upload(ctx, bp, p, len, &err);
            double fd = (l[0] - l[1]) / (2.0 * h), fr = (lr[0] - lr[1]) / (2.0 * h);
            double an = which == 0 ? gdx[i] : gdv[i], ar = which == 0 ? dxr[i] : dvr[i];
            double e = fabs(fd - an) / fmax(fabs(fd), 0.1);
            double er = fabs(fr - ar) / fmax(fabs(fr), 0.1);
            if (!(e <= worst_dev)) worst_dev = e;
            if (!(er <= worst_ref)) worst_ref = er;
            norm += an * an;
        }
    }
    CHECK(worst_dev < 1e-2, "device: worst relative error %g", worst_dev);
    /* the differences in double of float steps: not exactly 2h apart */
    CHECK(worst_ref < 1e-5, "reference: worst relative error %g", worst_ref);
    CHECK(norm > 1e-3, "the gradient is trivially zero (%g)", norm);
    free(gdx), free(gdv), free(rd), free(dxr), free(dvr);
    clvae_buf_free(&bx), clvae_buf_free(&bv), clvae_buf_free(&by), clvae_buf_free(&br);
    clvae_buf_free(&bz), clvae_buf_free(&bdx), clvae_buf_free(&bdv);
}

/* The backwards' sums are bit-identical between runs. */
static void t_determinism(void)
{
    size_t N = 4, C = 8, H = tu_size(14, 4), W = H, F = 2, n = N * C * H * W, m = n * F * F;
    float *dy = malloc(m * sizeof *dy);
    uint64_t seed = 5;
    tu_rand(dy, m, -1.0f, 1.0f, &seed);
    clvae_buf_t bdy = tu_upload(ctx, dy, m), bdx = tu_zeros(ctx, n), bdv = tu_zeros(ctx, N * C);
    clvae_map_shape_t sh = {N, C, H, W}, big = {N, C, F * H, F * W};
    float *first[2] = {0};
    for (int run = 0; run < 2; run++) {
        clvae_error_t err = {0};
        float zeros[8 * 4 * 14 * 14] = {0};
        clvae_buf_upload(ctx, bdx, zeros, n, &err);
        clvae_buf_upload(ctx, bdv, zeros, N * C, &err);
        CHECK(clvae_upsample_backward(ctx, bdx, bdy, F, sh, &err) == CLVAE_OK &&
                  clvae_channel_add_backward(ctx, bdv, bdy, big, &err) == CLVAE_OK,
              "%s", err.msg);
        float *got[2] = {tu_download(ctx, bdx, n), tu_download(ctx, bdv, N * C)};
        size_t len[2] = {n, N * C};
        for (int k = 0; k < 2; k++) {
            if (run == 0) first[k] = got[k];
            else {
                CHECK(first[k] && got[k] && memcmp(first[k], got[k], len[k] * 4) == 0,
                      "output %d differs between runs", k);
                free(got[k]);
            }
        }
    }
    free(first[0]), free(first[1]), free(dy);
    clvae_buf_free(&bdy), clvae_buf_free(&bdx), clvae_buf_free(&bdv);
}

static void t_invalid_arguments(void)
{
    float x[24] = {0};
    clvae_buf_t bx = tu_upload(ctx, x, 24), by = tu_zeros(ctx, 24), none = {0};
    clvae_map_shape_t sh = {1, 2, 3, 4}, zero = {0, 2, 3, 4};
    clvae_error_t err = {0};
    const clvae_status_t INV = CLVAE_ERR_INVALID;
    CHECK(clvae_upsample_forward(ctx, by, bx, 2, sh, &err) == INV && strstr(err.msg, "y"),
          "y too small for F = 2: %s", err.msg);
    CHECK(clvae_upsample_forward(ctx, by, bx, 0, sh, &err) == INV, "F = 0");
    CHECK(clvae_upsample_backward(ctx, bx, by, 1, zero, &err) == INV, "N = 0");
    CHECK(clvae_channel_add_forward(ctx, by, bx, none, sh, &err) == INV &&
              strstr(err.msg, "v") != NULL,
          "NULL v: %s", err.msg);
    CHECK(clvae_channel_add_backward(ctx, clvae_buf_at(bx, 2 * TU_GUARD + 23), by, sh, &err) == INV,
          "dv past its buffer");
    float *got = tu_download(ctx, by, 24);
    CHECK(got && memcmp(got, x, sizeof x) == 0, "a rejected call wrote");
    free(got);
    clvae_buf_free(&bx), clvae_buf_free(&by);
}

int main(void)
{
    ctx = tu_ctx();
    if (!ctx) return 1;
    RUN(t_upsample_vs_reference);
    RUN(t_channel_add_vs_reference);
    RUN(t_gradients_by_differences);
    RUN(t_determinism);
    RUN(t_invalid_arguments);
    tu_print_errors();
    clvae_ctx_free(ctx);
    return TEST_EXIT();
}
