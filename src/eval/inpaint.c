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

/* The latent fit of one batch: z from the masked images' z_mean, fit_steps steps, the missing
 * values of cur taken from the decoding. */
static clvae_status_t fit_batch(clvae_ctx_t *ctx, clvae_objective_t *model, const float *masked,
                                const uint8_t *miss, size_t B, size_t D, size_t hw, int steps,
                                float lr, float *cur, clvae_error_t *err)
{
    size_t J = clvae_objective_latent_dim(model);
    float *z = malloc(B * J * sizeof *z), *known = malloc(B * D * sizeof *known);
    clvae_buf_t none = {0};
    clvae_status_t s = z && known ? CLVAE_OK : CLVAE_FAIL(err, CLVAE_ERR_NOMEM, "out of host memory");
    for (size_t i = 0; !s && i < B * D; i++) known[i] = miss[(i / D) * hw + i % hw] ? 0.0f : 1.0f;
    if (!s && !(s = clvae_buf_upload(ctx, clvae_objective_input(model), masked, B * D, err)) &&
        !(s = clvae_objective_forward(model, B, 0, 0, 0, none, err)) &&
        !(s = clvae_objective_latents(model, z, NULL, NULL, NULL, err)))
        s = clvae_objective_fit_latents(model, B, masked, known, z, steps, lr, cur, err);
    for (size_t i = 0; !s && i < B * D; i++)
        if (known[i]) cur[i] = masked[i];
    free(z);
    free(known);
    return s;
}

/* A diffusion model's fill of one batch [st, st + B): sampled with the known values put back
 * at every step (a conditional model with the images' labels); the missing values of cur
 * taken from it. */
static clvae_status_t ddpm_batch(clvae_objective_t *model, const clvae_dataset_t *data,
                                 size_t st, size_t B, const float *x, const uint8_t *miss,
                                 uint64_t seed, float *cur, clvae_error_t *err)
{
    size_t D = clvae_objective_example_dim(model), hw = data->h * data->w;
    int K = clvae_objective_classes(model) > 0;
    float *known = malloc(B * D * sizeof *known), *rec = malloc(B * D * sizeof *rec);
    int *labels = K ? malloc(B * sizeof *labels) : NULL;
    clvae_status_t s = known && rec && (!K || labels)
                           ? CLVAE_OK
                           : CLVAE_FAIL(err, CLVAE_ERR_NOMEM, "out of host memory");
    for (size_t i = 0; !s && i < B * D; i++) known[i] = miss[(i / D) * hw + i % hw] ? 0.0f : 1.0f;
    for (size_t b = 0; !s && K && b < B; b++) labels[b] = data->labels[st + b];
    if (!s) s = clvae_objective_ddpm_inpaint(model, B, seed + st, NULL, labels, x, known, rec, err);
    for (size_t i = 0; !s && i < B * D; i++)
        if (!known[i]) cur[i] = rec[i];
    free(known);
    free(rec);
    free(labels);
    return s;
}

/* The n images' PSNRs from their squared errors; 0 missing values is CLVAE_ERR_INVALID. */
static clvae_status_t finish(clvae_inpaint_t *out, size_t n, int iters, const double *se,
                             int fit, clvae_error_t *err)
{
    if (out->missing == 0)
        return CLVAE_FAIL(err, CLVAE_ERR_INVALID, "the mask leaves no pixel missing in %zu images",
                          n);
    double m = (double)out->missing, p[4];
    for (int k = 0; k < 4; k++) p[k] = 10.0 * log10(m / (se[k] > 0 ? se[k] : 1e-30));
    out->n = n;
    out->iters = iters;
    out->psnr_zero = p[0];
    out->psnr_once = iters ? p[1] : NAN;
    out->psnr_iter = p[2];
    out->psnr_fit = fit ? p[3] : NAN;
    return CLVAE_OK;
}

/* The figure: rows masked / filled / (latent fit /) original of the first `show` images. */
static clvae_status_t draw(clvae_objective_t *model, const clvae_dataset_t *data,
                           const float *rows, size_t show, int fit, int ddpm, int iters,
                           int fit_steps, const clvae_inpaint_t *out, const char *path,
                           clvae_error_t *err)
{
    int nrows = fit ? 4 : 3;
    static const char *const names3[3] = {"masked", "filled", "original"};
    const char *name = clvae_objective_net_desc(model, 0)->name;
    static const char *const names4[4] = {"masked", "passes", "latent fit", "original"};
    char title[256];
    if (fit)
        snprintf(title, sizeof title, "%s: missing pixels filled by %d passes (%.2f dB) and "
                 "by %d steps of latent fit (%.2f dB)", name, iters, out->psnr_iter,
                 fit_steps, out->psnr_fit);
    else if (ddpm)
        snprintf(title, sizeof title, "%s: missing pixels sampled, the known ones noised and "
                 "put back at every step (PSNR on them %.2f dB)", name, out->psnr_iter);
    else
        snprintf(title, sizeof title, "%s: missing pixels filled (%d passes, known pixels "
                 "kept; PSNR on them %.2f dB)", name, iters, out->psnr_iter);
    return clvae_fig_grid_labelled(rows, (size_t)nrows * show, data, (int)show, title,
                                   fit ? names4 : names3, NULL, path, err);
}

clvae_status_t clvae_inpaint(clvae_ctx_t *ctx, clvae_objective_t *model,
                             const clvae_dataset_t *data, const clvae_mask_t *mask, int iters,
                             int fit_steps, float fit_lr, size_t n, size_t show, uint64_t seed,
                             const char *path, clvae_inpaint_t *out, clvae_error_t *err)
{
    size_t D = clvae_objective_example_dim(model), mb = clvae_objective_max_batch(model);
    size_t K = clvae_objective_classes(model), hw = data->h * data->w, planes = data->c;
    memset(out, 0, sizeof *out);
    int ddpm = clvae_objective_net_desc(model, 0)->ddpm;
    if (ddpm) iters = 0, fit_steps = 0; /* its sampler fills the values */
    if (!ddpm && (iters < 1 || iters > 1000))
        return CLVAE_FAIL(err, CLVAE_ERR_INVALID, "--iters %d: want 1 to 1000", iters);
    if (n == 0 || n > data->n) n = data->n;
    if (path && (show < 1 || show > 32 || show > n))
        return CLVAE_FAIL(err, CLVAE_ERR_INVALID, "--n %zu: want 1 to %zu", show,
                          n < 32 ? n : (size_t)32);
    if (K && !data->labels)
        return CLVAE_FAIL(err, CLVAE_ERR_INVALID, "%s has no labels, which a conditional model "
                          "needs", data->name);
    int fit = fit_steps > 0, nrows = fit ? 4 : 3;
    float *x = malloc(mb * D * sizeof *x), *cur = malloc(mb * D * sizeof *cur);
    float *rec = malloc(mb * D * sizeof *rec), *m0 = malloc(mb * D * sizeof *m0);
    float *rows = path ? malloc((size_t)nrows * show * D * sizeof *rows) : NULL;
    uint8_t *miss = malloc(mb * hw);
    clvae_buf_t input = clvae_objective_input(model), none = {0};
    double se[4] = {0, 0, 0, 0};
    clvae_status_t s = x && cur && rec && m0 && miss && (!path || rows)
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
        memcpy(m0, cur, B * D * sizeof *m0);
        if (!ddpm && K &&
            (s = clvae_labels_set(ctx, clvae_objective_labels(model), data->labels + st, B, err)))
            break;
        if (ddpm) s = ddpm_batch(model, data, st, B, x, miss, seed, cur, err);
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
                memcpy(rows + ((size_t)(nrows - 1) * show + st + b) * D, x + b * D,
                       D * sizeof *rows);
            }
        }
        if (!s && fit && !(s = fit_batch(ctx, model, m0, miss, B, D, hw, fit_steps, fit_lr, rec,
                                         err)))
            for (size_t b = 0; b < B; b++) {
                se[3] += missing_se(rec + b * D, x + b * D, miss + b * hw, planes, hw);
                if (path && st + b < show)
                    memcpy(rows + (2 * show + st + b) * D, rec + b * D, D * sizeof *rows);
            }
    }
    if (!s) s = finish(out, n, iters, se, fit, err);
    out->fit_steps = fit ? fit_steps : 0;
    if (!s && path) s = draw(model, data, rows, show, fit, ddpm, iters, fit_steps, out, path, err);
    free(x);
    free(cur);
    free(rec);
    free(m0);
    free(rows);
    free(miss);
    return s;
}
