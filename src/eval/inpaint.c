/* Inpainting: missing pixels filled by the model, the known ones kept. */
#include "clvae/eval/inpaint.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "clvae/data/labels.h"
#include "clvae/ops/rng.h"

clvae_status_t clvae_mask_parse(const char *spec, size_t h, size_t w, clvae_mask_t *m,
                                clvae_error_t *err)
{
    memset(m, 0, sizeof *m);
    static const char *const sides[4] = {"bottom", "top", "left", "right"};
    for (int k = 0; k < 4; k++)
        if (strcmp(spec, sides[k]) == 0) {
            m->kind = k;
            return CLVAE_OK;
        }
    unsigned long long x, y, bw, bh;
    int used = 0;
    if (sscanf(spec, "box:%llu,%llu,%llu,%llu%n", &x, &y, &bw, &bh, &used) == 4 && !spec[used]) {
        if (bw == 0 || bh == 0 || x >= w || y >= h || bw > w - x || bh > h - y)
            return CLVAE_FAIL(err, CLVAE_ERR_INVALID, "--mask %s: the box must be non-empty and "
                              "inside the %zux%zu image (X + W <= %zu, Y + H <= %zu)", spec, w, h,
                              w, h);
        m->kind = CLVAE_MASK_BOX;
        m->x = (size_t)x, m->y = (size_t)y, m->w = (size_t)bw, m->h = (size_t)bh;
        return CLVAE_OK;
    }
    float p;
    if (sscanf(spec, "random:%f%n", &p, &used) == 1 && !spec[used]) {
        if (!(p > 0.0f && p < 1.0f))
            return CLVAE_FAIL(err, CLVAE_ERR_INVALID, "--mask %s: P is a fraction above 0 and "
                              "below 1", spec);
        m->kind = CLVAE_MASK_RANDOM;
        m->p = p;
        return CLVAE_OK;
    }
    return CLVAE_FAIL(err, CLVAE_ERR_INVALID, "--mask %s: want bottom, top, left, right, "
                      "box:X,Y,W,H or random:P", spec);
}

void clvae_mask_of(const clvae_mask_t *m, size_t h, size_t w, uint64_t seed, size_t i,
                   uint8_t *missing)
{
    float *u = NULL;
    if (m->kind == CLVAE_MASK_RANDOM && (u = malloc(h * w * sizeof *u)))
        clvae_rng_uniform_host(u, h * w, seed, clvae_rng_blocks(i * h * w));
    for (size_t y = 0; y < h; y++)
        for (size_t x = 0; x < w; x++) {
            int miss = 0;
            switch (m->kind) {
            case CLVAE_MASK_BOTTOM: miss = y >= h / 2; break;
            case CLVAE_MASK_TOP: miss = y < h / 2; break;
            case CLVAE_MASK_LEFT: miss = x < w / 2; break;
            case CLVAE_MASK_RIGHT: miss = x >= w / 2; break;
            case CLVAE_MASK_BOX:
                miss = x >= m->x && x < m->x + m->w && y >= m->y && y < m->y + m->h;
                break;
            case CLVAE_MASK_RANDOM: miss = u ? u[y * w + x] < m->p : 0; break;
            }
            missing[y * w + x] = (uint8_t)miss;
        }
    free(u);
}

/* Squared error on the missing values of one image. */
static double missing_se(const float *a, const float *x, const uint8_t *miss, size_t planes,
                         size_t hw)
{
    double se = 0.0;
    for (size_t p = 0; p < planes; p++)
        for (size_t i = 0; i < hw; i++)
            if (miss[i]) se += (a[p * hw + i] - x[p * hw + i]) * (a[p * hw + i] - x[p * hw + i]);
    return se;
}

clvae_status_t clvae_inpaint(clvae_ctx_t *ctx, clvae_objective_t *model,
                             const clvae_dataset_t *data, const clvae_mask_t *mask, int iters,
                             size_t n, size_t show, uint64_t seed, const char *path,
                             clvae_inpaint_t *out, clvae_error_t *err)
{
    size_t D = clvae_objective_example_dim(model), mb = clvae_objective_max_batch(model);
    size_t K = clvae_objective_classes(model), hw = data->h * data->w, planes = data->c;
    memset(out, 0, sizeof *out);
    if (iters < 1 || iters > 1000)
        return CLVAE_FAIL(err, CLVAE_ERR_INVALID, "--iters %d: want 1 to 1000", iters);
    if (n == 0 || n > data->n) n = data->n;
    if (path && (show < 1 || show > 32 || show > n))
        return CLVAE_FAIL(err, CLVAE_ERR_INVALID, "--n %zu: want 1 to %zu", show,
                          n < 32 ? n : (size_t)32);
    if (K && !data->labels)
        return CLVAE_FAIL(err, CLVAE_ERR_INVALID, "%s has no labels, which a conditional model "
                          "needs", data->name);
    float *x = malloc(mb * D * sizeof *x), *cur = malloc(mb * D * sizeof *cur);
    float *rec = malloc(mb * D * sizeof *rec), *rows = path ? malloc(3 * show * D * sizeof *rows) : NULL;
    uint8_t *miss = malloc(mb * hw);
    clvae_buf_t input = clvae_objective_input(model), none = {0};
    double se[3] = {0, 0, 0};
    clvae_status_t s = x && cur && rec && miss && (!path || rows)
                           ? CLVAE_OK
                           : CLVAE_FAIL(err, CLVAE_ERR_NOMEM, "out of host memory");
    for (size_t st = 0; !s && st < n; st += mb) {
        size_t B = n - st < mb ? n - st : mb;
        for (size_t b = 0; b < B; b++) {
            clvae_mask_of(mask, data->h, data->w, seed, st + b, miss + b * hw);
            for (size_t i = 0; i < D; i++) {
                x[b * D + i] = data->pixels[(st + b) * D + i] * data->scale;
                cur[b * D + i] = miss[b * hw + i % hw] ? 0.0f : x[b * D + i];
            }
            for (size_t i = 0; i < hw; i++) out->missing += miss[b * hw + i] ? planes : 0;
            se[0] += missing_se(cur + b * D, x + b * D, miss + b * hw, planes, hw);
            if (path && st + b < show) memcpy(rows + (st + b) * D, cur + b * D, D * sizeof *rows);
        }
        if (K && (s = clvae_labels_set(ctx, clvae_objective_labels(model), data->labels + st, B,
                                       err)))
            break;
        for (int it = 0; it < iters && !s; it++) {
            if ((s = clvae_buf_upload(ctx, input, cur, B * D, err)) ||
                (s = clvae_objective_forward(model, B, 0, 0, 0, none, err)) ||
                (s = clvae_objective_outputs(model, rec, err)))
                break;
            for (size_t b = 0; b < B; b++)
                for (size_t i = 0; i < D; i++)
                    if (miss[b * hw + i % hw]) cur[b * D + i] = rec[b * D + i];
            if (it == 0)
                for (size_t b = 0; b < B; b++)
                    se[1] += missing_se(cur + b * D, x + b * D, miss + b * hw, planes, hw);
        }
        for (size_t b = 0; !s && b < B; b++) {
            se[2] += missing_se(cur + b * D, x + b * D, miss + b * hw, planes, hw);
            if (path && st + b < show) {
                memcpy(rows + (show + st + b) * D, cur + b * D, D * sizeof *rows);
                memcpy(rows + (2 * show + st + b) * D, x + b * D, D * sizeof *rows);
            }
        }
    }
    if (!s && out->missing == 0)
        s = CLVAE_FAIL(err, CLVAE_ERR_INVALID, "the mask leaves no pixel missing in %zu images",
                       n);
    if (!s) {
        double m = (double)out->missing;
        out->n = n;
        out->iters = iters;
        out->psnr_zero = 10.0 * log10(m / (se[0] > 0 ? se[0] : 1e-30));
        out->psnr_once = 10.0 * log10(m / (se[1] > 0 ? se[1] : 1e-30));
        out->psnr_iter = 10.0 * log10(m / (se[2] > 0 ? se[2] : 1e-30));
    }
    if (!s && path) {
        static const char *const names[3] = {"masked", "filled", "original"};
        char title[256];
        snprintf(title, sizeof title, "%s: missing pixels filled (%d passes, known pixels kept; "
                 "PSNR on them %.2f dB)", clvae_objective_net_desc(model, 0)->name, iters,
                 out->psnr_iter);
        s = clvae_fig_grid_labelled(rows, 3 * show, data, (int)show, title, names, NULL, path,
                                    err);
    }
    free(x);
    free(cur);
    free(rec);
    free(rows);
    free(miss);
    return s;
}
