/* Super-resolution: the model against nearest and bilinear upsampling, on the test set. */
#include "clvae/eval/superres.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Output position pos of a side of n low-resolution blocks of f: the two blocks it lies
 * between (their centres at (k + 0.5) f - 0.5, clamped at the edges) and the weight of the
 * second. */
static void between(size_t pos, int f, size_t n, size_t *k0, size_t *k1, double *wt)
{
    double s = ((double)pos + 0.5) / f - 0.5;
    if (s < 0) s = 0;
    if (s > (double)(n - 1)) s = (double)(n - 1);
    *k0 = (size_t)s;
    *k1 = *k0 + 1 < n ? *k0 + 1 : *k0;
    *wt = s - (double)*k0;
}

void clvae_bilinear_from_blocks(const float *low, size_t h, size_t w, int f, float *out)
{
    size_t F = (size_t)f;
    for (size_t y = 0; y < h; y++) {
        size_t y0, y1, x0, x1;
        double wy, wx;
        between(y, f, h / F, &y0, &y1, &wy);
        for (size_t x = 0; x < w; x++) {
            between(x, f, w / F, &x0, &x1, &wx);
            /* block (by, bx)'s mean: the low-resolution plane's value at its top-left */
#define B(by, bx) (double)low[(by) * F * w + (bx) * F]
            double v = (1 - wy) * ((1 - wx) * B(y0, x0) + wx * B(y0, x1)) +
                       wy * ((1 - wx) * B(y1, x0) + wx * B(y1, x1));
#undef B
            out[y * w + x] = (float)v;
        }
    }
}

clvae_status_t clvae_superres(clvae_ctx_t *ctx, clvae_objective_t *model,
                              const clvae_dataset_t *data, int factor, size_t n, size_t show,
                              const char *path, clvae_superres_t *out, clvae_error_t *err)
{
    size_t D = clvae_objective_example_dim(model), mb = clvae_objective_max_batch(model);
    size_t planes = data->c, h = data->h, w = data->w;
    memset(out, 0, sizeof *out);
    if (factor < 2 || h % (size_t)factor || w % (size_t)factor)
        return CLVAE_FAIL(err, CLVAE_ERR_INVALID, "--factor %d: want 2 or more, dividing the "
                          "images' %zux%zu", factor, h, w);
    if (n == 0 || n > data->n) n = data->n;
    if (path && (show < 1 || show > 32 || show > n))
        return CLVAE_FAIL(err, CLVAE_ERR_INVALID, "--n %zu: want 1 to %zu", show,
                          n < 32 ? n : (size_t)32);
    clvae_noise_spec_t spec = {CLVAE_NOISE_DOWNSAMPLE, 0, 0, 0, factor, h, w};
    float *low = malloc(mb * D * sizeof *low), *res = malloc(mb * D * sizeof *res);
    float *bil = malloc(D * sizeof *bil), *rows = path ? malloc(4 * show * D * sizeof *rows) : NULL;
    clvae_buf_t clean = {0};
    double se[3] = {0, 0, 0};
    clvae_status_t s = low && res && bil && (!path || rows)
                           ? clvae_buf_alloc(ctx, mb * D, &clean, err)
                           : CLVAE_FAIL(err, CLVAE_ERR_NOMEM, "out of host memory");
    for (size_t st = 0; !s && st < n; st += mb) {
        size_t B = n - st < mb ? n - st : mb;
        if ((s = clvae_restore_batch(ctx, model, data, st, B, &spec, 0, clean, low, res, err)))
            break;
        for (size_t b = 0; b < B; b++) {
            const float *lo = low + b * D, *re = res + b * D;
            for (size_t p = 0; p < planes; p++)
                clvae_bilinear_from_blocks(lo + p * h * w, h, w, factor, bil + p * h * w);
            for (size_t i = 0; i < D; i++) {
                double x = data->pixels[(st + b) * D + i] * data->scale;
                se[0] += (re[i] - x) * (re[i] - x);
                se[1] += (lo[i] - x) * (lo[i] - x);
                se[2] += (bil[i] - x) * (bil[i] - x);
            }
            size_t k = st + b;
            if (rows && k < show) {
                memcpy(rows + k * D, lo, D * sizeof *rows);
                memcpy(rows + (show + k) * D, bil, D * sizeof *rows);
                memcpy(rows + (2 * show + k) * D, re, D * sizeof *rows);
                for (size_t i = 0; i < D; i++)
                    rows[(3 * show + k) * D + i] = data->pixels[k * D + i] * data->scale;
            }
        }
    }
    if (!s) {
        double total = (double)n * (double)D;
        out->n = n;
        out->factor = factor;
        out->psnr_model = 10.0 * log10(total / (se[0] > 0 ? se[0] : 1e-30));
        out->psnr_nearest = 10.0 * log10(total / (se[1] > 0 ? se[1] : 1e-30));
        out->psnr_bilinear = 10.0 * log10(total / (se[2] > 0 ? se[2] : 1e-30));
    }
    if (!s && path) {
        static const char *const names[4] = {"low res.", "bilinear", "restored", "original"};
        char title[256];
        snprintf(title, sizeof title, "%s: test images at 1/%d resolution, restored (PSNR %.2f "
                 "dB; bilinear %.2f, nearest %.2f)", clvae_objective_net_desc(model, 0)->name,
                 factor, out->psnr_model, out->psnr_bilinear, out->psnr_nearest);
        s = clvae_fig_grid_labelled(rows, 4 * show, data, (int)show, title, names, NULL, path,
                                    err);
    }
    clvae_buf_free(&clean);
    free(low);
    free(res);
    free(bil);
    free(rows);
    return s;
}
