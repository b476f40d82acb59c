/* Figures: decode latents in batches, tile images, plot curves and scatters into PNG files. */
#include "clvae/eval/figures.h"

#include <dirent.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "clvae/io/fileio.h"
#include "clvae/io/image.h"
#include "clvae/data/labels.h"
#include "clvae/io/plot.h"
#include "clvae/ops/rng.h"

/* Decodes n latents (host, n x J) into out (n x D) in batches the model holds (a conditional
 * model needs labels: clvae_decode_labeled). */
static clvae_status_t decode_all(clvae_objective_t *model, const float *z, size_t n, float *out,
                                 clvae_error_t *err)
{
    if (clvae_objective_classes(model))
        return CLVAE_FAIL(err, CLVAE_ERR_INVALID, "a conditional model decodes with a label for "
                          "each image: give --label K (sample, manifold); interpolate does not "
                          "take conditional models");
    size_t J = clvae_objective_latent_dim(model), D = clvae_objective_example_dim(model);
    size_t mb = clvae_objective_max_batch(model);
    for (size_t s = 0; s < n; s += mb) {
        size_t B = n - s < mb ? n - s : mb;
        clvae_status_t st = clvae_objective_decode(model, z + s * J, B, out + s * D, err);
        if (st) return st;
    }
    return CLVAE_OK;
}

/* Runs the encoder on examples idx[0..n) and returns their z_mean (n x J) in mu; a conditional
 * model gets their labels (the dataset's, host) with them. */
static clvae_status_t encode_all(clvae_ctx_t *ctx, clvae_objective_t *model,
                                 const clvae_data_dev_t *dd, const uint8_t *labels,
                                 const uint32_t *idx, size_t n, float *mu, float *recon,
                                 clvae_error_t *err)
{
    size_t J = clvae_objective_latent_dim(model), D = clvae_objective_example_dim(model);
    size_t mb = clvae_objective_max_batch(model);
    if (clvae_objective_classes(model) && !labels)
        return CLVAE_FAIL(err, CLVAE_ERR_INVALID, "a conditional model encodes an image with its "
                          "label, and none was given (the data have no labels)");
    uint8_t *lab = clvae_objective_classes(model) ? malloc(mb) : NULL;
    if (clvae_objective_classes(model) && !lab)
        return CLVAE_FAIL(err, CLVAE_ERR_NOMEM, "out of host memory");
    cl_mem ib = NULL;
    clvae_buf_t none = {0};
    clvae_status_t s = clvae_data_upload_indices(ctx, &ib, idx, n, dd->n, err);
    for (size_t st = 0; !s && st < n; st += mb) {
        size_t B = n - st < mb ? n - st : mb;
        for (size_t b = 0; lab && b < B; b++) lab[b] = labels[idx[st + b]];
        if (lab) s = clvae_labels_set(ctx, clvae_objective_labels(model), lab, B, err);
        if (!s && !(s = clvae_data_gather(ctx, clvae_objective_input(model), dd, ib, st, B, err)) &&
            !(s = clvae_objective_forward(model, B, 0, 0, 0, none, err)) &&
            !(s = clvae_objective_latents(model, mu + st * J, NULL, NULL, NULL, err)) && recon)
            s = clvae_objective_outputs(model, recon + st * D, err);
    }
    if (ib) clReleaseMemObject(ib);
    free(lab);
    return s;
}

/* Image grids magnified for small images: 8x8 by 6, up to 32x32 by 2. */
static int zoom_for(const clvae_dataset_t *d) { return d->h <= 8 ? 6 : (d->h <= 32 ? 2 : 1); }

/* Pastes gray or RGB src into RGB dst at (x0, y0). */
static void paste(clvae_image_t *dst, const clvae_image_t *src, int x0, int y0)
{
    for (int y = 0; y < src->h; y++)
        for (int x = 0; x < src->w; x++)
            for (int ch = 0; ch < 3; ch++)
                dst->px[((size_t)(y0 + y) * (size_t)dst->w + (size_t)(x0 + x)) * 3 + ch] =
                    src->px[((size_t)y * (size_t)src->w + (size_t)x) * (size_t)src->channels +
                            (src->channels == 3 ? (size_t)ch : 0)];
}

clvae_status_t clvae_fig_grid_labelled(const float *imgs, size_t n, const clvae_dataset_t *shape,
                                       int cols, const char *title,
                                       const char *const *row_labels,
                                       const char *const *col_labels, const char *path,
                                       clvae_error_t *err)
{
    clvae_image_t grid = {0}, out = {0};
    int zoom = zoom_for(shape), pad = 2, rows = (int)((n + (size_t)cols - 1) / (size_t)cols);
    clvae_status_t s = clvae_image_grid(&grid, imgs, n, (int)shape->c, (int)shape->h,
                                        (int)shape->w, cols, pad, zoom, 255, err);
    if (s) return s;
    const int margin = 10, title_h = title ? 26 : margin, cap_h = col_labels ? 16 : 0;
    int left = 0;
    for (int r = 0; row_labels && r < rows; r++) {
        int w = clvae_plot_text_width(row_labels[r], 1) + 8;
        if (w > left) left = w;
    }
    int tw = title ? clvae_plot_text_width(title, 1) : 0;
    int w = grid.w + left + 2 * margin > tw + 2 * margin ? grid.w + left + 2 * margin
                                                         : tw + 2 * margin;
    if ((s = clvae_image_init(&out, w, grid.h + title_h + cap_h + margin, 3, 255, err))) {
        clvae_image_free(&grid);
        return s;
    }
    const uint8_t ink[3] = {0, 0, 0};
    if (title) clvae_plot_text(&out, margin, 8, title, 1, ink);
    int tile_w = (int)shape->w * zoom + pad, tile_h = (int)shape->h * zoom + pad;
    for (int c = 0; col_labels && c < cols; c++) {
        int cx = margin + left + pad + c * tile_w + ((int)shape->w * zoom) / 2;
        clvae_plot_text(&out, cx - clvae_plot_text_width(col_labels[c], 1) / 2, title_h,
                        col_labels[c], 1, ink);
    }
    for (int r = 0; row_labels && r < rows; r++)
        clvae_plot_text(&out, margin, title_h + cap_h + pad + r * tile_h + tile_h / 2 - 4,
                        row_labels[r], 1, ink);
    paste(&out, &grid, margin + left, title_h + cap_h);
    s = clvae_image_write(path, &out, err);
    clvae_image_free(&grid);
    clvae_image_free(&out);
    return s;
}

/* The model's name, for titles. */
static const char *model_name(const clvae_objective_t *model)
{
    return clvae_objective_net_desc(model, 0)->name;
}

clvae_status_t clvae_fig_grid_save(const float *imgs, size_t n, const clvae_dataset_t *shape,
                                   int cols, const char *path, clvae_error_t *err)
{
    clvae_image_t img = {0};
    clvae_status_t s = clvae_image_grid(&img, imgs, n, (int)shape->c, (int)shape->h,
                                        (int)shape->w, cols, 2, zoom_for(shape), 255, err);
    if (!s) s = clvae_image_write(path, &img, err);
    clvae_image_free(&img);
    return s;
}

clvae_status_t clvae_decode_labeled(clvae_ctx_t *ctx, clvae_objective_t *model, const float *z,
                                    const float *labels, size_t n, float *out, clvae_error_t *err)
{
    size_t J = clvae_objective_latent_dim(model), D = clvae_objective_example_dim(model);
    size_t mb = clvae_objective_max_batch(model), K = clvae_objective_classes(model);
    if (K && !labels)
        return CLVAE_FAIL(err, CLVAE_ERR_INVALID, "a conditional model decodes with a label "
                          "for each image (clvae sample or manifold --label K)");
    for (size_t s = 0; s < n; s += mb) {
        size_t B = n - s < mb ? n - s : mb;
        clvae_status_t st = CLVAE_OK;
        if (K) st = clvae_buf_upload(ctx, clvae_objective_labels(model), labels + s, B, err);
        if (!st) st = clvae_objective_decode(model, z + s * J, B, out + s * D, err);
        if (st) return st;
    }
    return CLVAE_OK;
}

clvae_status_t clvae_fig_check_label(const clvae_objective_t *model, int label, clvae_error_t *err)
{
    size_t K = clvae_objective_classes(model);
    if (!K)
        return CLVAE_FAIL(err, CLVAE_ERR_INVALID, "--label %d: the model is not conditional "
                          "(its config has no [model] conditional = K)", label);
    if (label < 0 || (size_t)label >= K)
        return CLVAE_FAIL(err, CLVAE_ERR_INVALID, "--label %d: the model knows classes 0 to %zu",
                          label, K - 1);
    return CLVAE_OK;
}

clvae_status_t clvae_fig_samples_label(clvae_ctx_t *ctx, clvae_objective_t *model,
                                       const clvae_dataset_t *shape, size_t n, uint64_t seed,
                                       int label, const char *path, clvae_error_t *err)
{
    size_t K = clvae_objective_classes(model);
    if (!K && label < 0) return clvae_fig_samples(ctx, model, shape, n, seed, path, err);
    clvae_status_t s;
    if (label >= 0 && (s = clvae_fig_check_label(model, label, err))) return s;
    if (n == 0 || n > 4096) return CLVAE_FAIL(err, CLVAE_ERR_INVALID, "--n %zu: want 1 to 4096", n);
    size_t J = clvae_objective_latent_dim(model), D = clvae_objective_example_dim(model);
    /* label < 0: one z per column, decoded once per class (row) */
    size_t cols = label >= 0 ? (size_t)ceil(sqrt((double)n)) : (n + K - 1) / K;
    size_t nz = label >= 0 ? n : cols, total = label >= 0 ? n : K * cols;
    float *z0 = malloc(nz * J * sizeof *z0), *z = malloc(total * J * sizeof *z);
    float *lab = malloc(total * sizeof *lab), *out = malloc(total * D * sizeof *out);
    if (!z0 || !z || !lab || !out) {
        s = CLVAE_FAIL(err, CLVAE_ERR_NOMEM, "out of host memory");
        goto out;
    }
    clvae_rng_normal_host(z0, nz * J, seed, 0);
    for (size_t i = 0; i < total; i++) {
        size_t src = label >= 0 ? i : i % cols;
        memcpy(z + i * J, z0 + src * J, J * sizeof *z);
        lab[i] = label >= 0 ? (float)label : (float)(i / cols);
    }
    char title[256], rowcap[4096][12];
    const char *rows[4096];
    size_t nrows = (total + cols - 1) / cols;
    if (label >= 0)
        snprintf(title, sizeof title, "%s: %zu samples of class %d", model_name(model), total,
                 label);
    else
        snprintf(title, sizeof title, "%s: one row per class%s", model_name(model),
                 clvae_objective_net_desc(model, 0)->ddpm ? "" : ", one z per column");
    for (size_t r = 0; label < 0 && r < nrows && r < 4096; r++) {
        snprintf(rowcap[r], sizeof rowcap[r], "y=%zu", r);
        rows[r] = rowcap[r];
    }
    if (clvae_objective_net_desc(model, 0)->ddpm) {
        /* a diffusion model draws from its noise, the label of each image guiding it */
        int *il = malloc(total * sizeof *il);
        for (size_t i = 0; il && i < total; i++) il[i] = (int)lab[i];
        s = il ? clvae_objective_ddpm_sample(model, total, seed, NULL, il, out, err)
               : CLVAE_FAIL(err, CLVAE_ERR_NOMEM, "out of host memory");
        free(il);
    } else {
        s = clvae_decode_labeled(ctx, model, z, lab, total, out, err);
    }
    if (!s)
        s = clvae_fig_grid_labelled(out, total, shape, (int)cols, title, label < 0 ? rows : NULL,
                                    NULL, path, err);
out:
    free(z0);
    free(z);
    free(lab);
    free(out);
    return s;
}

clvae_status_t clvae_fig_samples(clvae_ctx_t *ctx, clvae_objective_t *model,
                                 const clvae_dataset_t *shape, size_t n, uint64_t seed,
                                 const char *path, clvae_error_t *err)
{
    /* a conditional model: one row per class */
    if (clvae_objective_classes(model))
        return clvae_fig_samples_label(ctx, model, shape, n, seed, -1, path, err);
    if (n == 0 || n > 4096) return CLVAE_FAIL(err, CLVAE_ERR_INVALID, "--n %zu: want 1 to 4096", n);
    size_t J = clvae_objective_latent_dim(model), D = clvae_objective_sample_dim(model);
    float *z = malloc(n * J * sizeof *z), *out = malloc(n * D * sizeof *out);
    clvae_status_t s;
    if (!z || !out) {
        s = CLVAE_FAIL(err, CLVAE_ERR_NOMEM, "out of host memory");
    } else {
        clvae_rng_normal_host(z, n * J, seed, 0);
        /* a prior draws code maps and decodes them with its VQ-VAE */
        const clvae_model_desc_t *d = clvae_objective_net_desc(model, 0);
        s = d->prior  ? clvae_objective_prior_sample(model, n, seed, 1.0f, out, err)
            : d->ddpm ? clvae_objective_ddpm_sample(model, n, seed, NULL, NULL, out, err)
                      : decode_all(model, z, n, out, err);
        char title[256];
        snprintf(title, sizeof title, "%s: %zu samples (seed %llu), %s", d->name, n,
                 (unsigned long long)seed,
                 d->prior  ? "codes drawn by the prior, decoded by its VQ-VAE"
                 : d->ddpm ? "denoised from x_T ~ N(0, I)"
                 : d->gan  ? "z ~ N(0, I) through the generator"
                           : "z ~ N(0, I) through the decoder");
        if (!s)
            s = clvae_fig_grid_labelled(out, n, shape, (int)ceil(sqrt((double)n)), title, NULL,
                                        NULL, path, err);
    }
    free(z);
    free(out);
    return s;
}

clvae_status_t clvae_fig_progress_row(clvae_ctx_t *ctx, clvae_objective_t *model,
                                      const clvae_dataset_t *shape, size_t n, uint64_t seed,
                                      const char *path, clvae_error_t *err)
{
    if (n == 0 || n > 64) return CLVAE_FAIL(err, CLVAE_ERR_INVALID, "a progress row of %zu", n);
    size_t J = clvae_objective_latent_dim(model), D = clvae_objective_example_dim(model);
    size_t K = clvae_objective_classes(model);
    float *z = malloc(n * J * sizeof *z), *out = malloc(n * D * sizeof *out);
    float *labels = malloc(n * sizeof *labels);
    clvae_status_t s;
    if (!z || !out || !labels) {
        s = CLVAE_FAIL(err, CLVAE_ERR_NOMEM, "out of host memory");
    } else {
        clvae_rng_normal_host(z, n * J, seed, 0);
        for (size_t i = 0; i < n; i++) labels[i] = K ? (float)(i % K) : 0.0f;
        s = clvae_decode_labeled(ctx, model, z, K ? labels : NULL, n, out, err);
        if (!s) s = clvae_fig_grid_save(out, n, shape, (int)n, path, err);
    }
    free(z);
    free(out);
    free(labels);
    return s;
}

clvae_status_t clvae_fig_progress_strip(const char *dir, long epochs, const char *path,
                                        clvae_error_t *err)
{
    clvae_image_t *rows = calloc((size_t)(epochs > 0 ? epochs : 1), sizeof *rows), all = {0};
    if (!rows) return CLVAE_FAIL(err, CLVAE_ERR_NOMEM, "out of host memory");
    clvae_status_t s = CLVAE_OK;
    char p[4200];
    int h = 0;
    long n = 0;
    for (long e = 1; !s && e <= epochs; e++, n++) {
        snprintf(p, sizeof p, "%.4000s/progress/epoch_%03ld.png", dir, e);
        s = clvae_png_read(p, &rows[n], err);
        if (!s && n > 0 && (rows[n].w != rows[0].w || rows[n].channels != rows[0].channels))
            s = CLVAE_FAIL(err, CLVAE_ERR_INVALID, "%s is not as wide as the first epoch's row", p);
        if (!s) h += rows[n].h;
    }
    if (!s && n == 0) s = CLVAE_FAIL(err, CLVAE_ERR_INVALID, "no epochs to draw");
    if (!s) s = clvae_image_init(&all, rows[0].w, h, rows[0].channels, 255, err);
    for (long e = 0, y = 0; !s && e < n; y += rows[e].h, e++)
        memcpy(all.px + (size_t)y * (size_t)all.w * (size_t)all.channels, rows[e].px,
               (size_t)rows[e].h * (size_t)rows[e].w * (size_t)rows[e].channels);
    if (!s) s = clvae_png_write(path, &all, err);
    for (long e = 0; e < (epochs > 0 ? epochs : 1); e++) clvae_image_free(&rows[e]);
    free(rows);
    clvae_image_free(&all);
    return s;
}

clvae_status_t clvae_fig_reconstruct(clvae_ctx_t *ctx, clvae_objective_t *model,
                                     const clvae_dataset_t *data, const clvae_data_dev_t *dd,
                                     size_t n, const char *path, clvae_error_t *err)
{
    if (n == 0 || n > data->n || n > 1024)
        return CLVAE_FAIL(err, CLVAE_ERR_INVALID, "--n %zu: want 1 to %zu", n,
                          data->n < 1024 ? data->n : (size_t)1024);
    size_t J = clvae_objective_latent_dim(model), D = clvae_objective_example_dim(model);
    float *mu = malloc(n * J * sizeof *mu), *both = malloc(2 * n * D * sizeof *both);
    uint32_t *idx = malloc(n * sizeof *idx);
    clvae_status_t s;
    if (!mu || !both || !idx) {
        s = CLVAE_FAIL(err, CLVAE_ERR_NOMEM, "out of host memory");
        goto out;
    }
    for (size_t i = 0; i < n; i++) {
        idx[i] = (uint32_t)i;
        for (size_t k = 0; k < D; k++) both[i * D + k] = data->pixels[i * D + k] * data->scale;
    }
    s = encode_all(ctx, model, dd, data->labels, idx, n, mu, both + n * D, err);
    static const char *const rows[2] = {"original", "reconstruction"};
    char title[256];
    snprintf(title, sizeof title, "%s: the first %zu test images and their reconstructions",
             model_name(model), n);
    if (!s) s = clvae_fig_grid_labelled(both, 2 * n, data, (int)n, title, rows, NULL, path, err);
out:
    free(mu);
    free(both);
    free(idx);
    return s;
}

clvae_status_t clvae_manifold_codes(size_t J, int grid, float range, int dx, int dy, float **z,
                                    clvae_error_t *err)
{
    *z = NULL;
    if (grid < 2 || grid > 64) return CLVAE_FAIL(err, CLVAE_ERR_INVALID, "--grid %d: want 2 to 64", grid);
    if (!(range > 0.0f) || !isfinite(range))
        return CLVAE_FAIL(err, CLVAE_ERR_INVALID, "--range %g: want a number > 0", (double)range);
    if (dx < 0 || dy < 0 || (size_t)dx >= J || (size_t)dy >= J || dx == dy)
        return CLVAE_FAIL(err, CLVAE_ERR_INVALID,
                          "--dims %d,%d: want two different latent dimensions below %zu", dx, dy, J);
    *z = calloc((size_t)grid * (size_t)grid * J, sizeof **z);
    if (!*z) return CLVAE_FAIL(err, CLVAE_ERR_NOMEM, "out of host memory");
    for (int r = 0; r < grid; r++)
        for (int c = 0; c < grid; c++) {
            float *zi = *z + ((size_t)r * (size_t)grid + (size_t)c) * J;
            zi[dx] = -range + 2.0f * range * (float)c / (float)(grid - 1);
            zi[dy] = range - 2.0f * range * (float)r / (float)(grid - 1);
        }
    return CLVAE_OK;
}

clvae_status_t clvae_fig_manifold(clvae_ctx_t *ctx, clvae_objective_t *model,
                                  const clvae_dataset_t *shape, int grid, float range, int dx,
                                  int dy, const char *path, clvae_error_t *err)
{
    (void)ctx;
    size_t J = clvae_objective_latent_dim(model), D = clvae_objective_example_dim(model);
    size_t n = (size_t)grid * (size_t)grid;
    float *z = NULL, *out = NULL;
    clvae_status_t s = clvae_manifold_codes(J, grid, range, dx, dy, &z, err);
    if (!s && !(out = malloc(n * D * sizeof *out)))
        s = CLVAE_FAIL(err, CLVAE_ERR_NOMEM, "out of host memory");
    if (!s) s = decode_all(model, z, n, out, err);
    char title[256];
    snprintf(title, sizeof title, "%s: decodes of z%d from -%g to %g (across) and z%d from %g "
             "to -%g (down), the other dimensions 0", model_name(model), dx, (double)range,
             (double)range, dy, (double)range, (double)range);
    /* the z values of the columns and rows as ticks */
    char ticks[2][64][12];
    const char *cols[64], *rows[64];
    for (int k = 0; k < grid && k < 64; k++) {
        float v = -range + 2.0f * range * (float)k / (float)(grid - 1);
        snprintf(ticks[0][k], sizeof ticks[0][k], "%.2g", fabs(v) < 1e-6f ? 0.0 : (double)v);
        snprintf(ticks[1][k], sizeof ticks[1][k], "%.2g", fabs(v) < 1e-6f ? 0.0 : -(double)v);
        cols[k] = ticks[0][k];
        rows[k] = ticks[1][k];
    }
    if (!s) s = clvae_fig_grid_labelled(out, n, shape, grid, title, rows, cols, path, err);
    free(z);
    free(out);
    return s;
}

clvae_status_t clvae_encode_means(clvae_ctx_t *ctx, clvae_objective_t *model,
                                  const clvae_dataset_t *data, const clvae_data_dev_t *dd,
                                  size_t n, float *mu, clvae_error_t *err)
{
    if (n == 0 || n > data->n) n = data->n;
    uint32_t *idx = malloc(n * sizeof *idx);
    if (!idx) return CLVAE_FAIL(err, CLVAE_ERR_NOMEM, "out of host memory");
    for (size_t i = 0; i < n; i++) idx[i] = (uint32_t)i;
    clvae_status_t s = encode_all(ctx, model, dd, data->labels, idx, n, mu, NULL, err);
    free(idx);
    return s;
}

clvae_status_t clvae_fig_latent(clvae_ctx_t *ctx, clvae_objective_t *model,
                                const clvae_dataset_t *data, const clvae_data_dev_t *dd, size_t n,
                                int dx, int dy, const char *path, const char *csv_path,
                                clvae_error_t *err)
{
    size_t J = clvae_objective_latent_dim(model);
    if (n == 0 || n > data->n) n = data->n;
    if (dx < 0 || dy < 0 || (size_t)dx >= J || (size_t)dy >= J)
        return CLVAE_FAIL(err, CLVAE_ERR_INVALID, "--dims %d,%d: the latent has %zu dimensions",
                          dx, dy, J);
    float *mu = malloc(n * J * sizeof *mu), *x = malloc(n * sizeof *x), *y = malloc(n * sizeof *y);
    int *cls = malloc(n * sizeof *cls);
    uint32_t *idx = malloc(n * sizeof *idx);
    char *csv = NULL;
    clvae_status_t s;
    if (!mu || !x || !y || !cls || !idx) {
        s = CLVAE_FAIL(err, CLVAE_ERR_NOMEM, "out of host memory");
        goto out;
    }
    for (size_t i = 0; i < n; i++) idx[i] = (uint32_t)i;
    if ((s = encode_all(ctx, model, dd, data->labels, idx, n, mu, NULL, err))) goto out;
    for (size_t i = 0; i < n; i++) {
        x[i] = mu[i * J + (size_t)dx];
        y[i] = mu[i * J + (size_t)(J > 1 ? dy : dx)];
        cls[i] = data->labels ? data->labels[i] : 0;
    }
    char title[160], xl[32], yl[32];
    snprintf(title, sizeof title, "z_mean of %zu %s examples by class", n, data->name);
    snprintf(xl, sizeof xl, "z[%d]", dx);
    snprintf(yl, sizeof yl, "z[%d]", dy);
    clvae_image_t img = {0};
    s = clvae_plot_scatter(&img, 900, 800, title, xl, yl, x, y, data->labels ? cls : NULL, n,
                           data->labels ? data->classes : 1, NULL, err);
    if (!s) s = clvae_image_write(path, &img, err);
    clvae_image_free(&img);
    if (s || !csv_path) goto out;
    size_t cap = n * (J * 16 + 24) + 64, len = 0;
    csv = malloc(cap);
    if (!csv) {
        s = CLVAE_FAIL(err, CLVAE_ERR_NOMEM, "out of host memory");
        goto out;
    }
    len += (size_t)snprintf(csv + len, cap - len, "index,label");
    for (size_t j = 0; j < J; j++) len += (size_t)snprintf(csv + len, cap - len, ",z%zu", j);
    len += (size_t)snprintf(csv + len, cap - len, "\n");
    for (size_t i = 0; i < n; i++) {
        len += (size_t)snprintf(csv + len, cap - len, "%zu,%d", i, data->labels ? cls[i] : -1);
        for (size_t j = 0; j < J; j++)
            len += (size_t)snprintf(csv + len, cap - len, ",%.6g", (double)mu[i * J + j]);
        len += (size_t)snprintf(csv + len, cap - len, "\n");
    }
    s = clvae_write_file_atomic(csv_path, csv, len, err);
out:
    free(mu);
    free(x);
    free(y);
    free(cls);
    free(idx);
    free(csv);
    return s;
}

clvae_status_t clvae_fig_interpolate(clvae_ctx_t *ctx, clvae_objective_t *model,
                                     const clvae_dataset_t *data, const clvae_data_dev_t *dd,
                                     size_t i, size_t j, int steps, const char *path,
                                     clvae_error_t *err)
{
    if (i >= data->n || j >= data->n)
        return CLVAE_FAIL(err, CLVAE_ERR_INVALID, "--from %zu --to %zu: the test set has %zu examples",
                          i, j, data->n);
    if (steps < 2 || steps > 64) return CLVAE_FAIL(err, CLVAE_ERR_INVALID, "--steps %d: want 2 to 64", steps);
    size_t J = clvae_objective_latent_dim(model), D = clvae_objective_example_dim(model);
    size_t n = (size_t)steps + 2;
    float *mu = malloc(2 * J * sizeof *mu), *z = malloc((size_t)steps * J * sizeof *z);
    float *imgs = malloc(n * D * sizeof *imgs);
    uint32_t idx[2] = {(uint32_t)i, (uint32_t)j};
    clvae_status_t s;
    if (!mu || !z || !imgs) {
        s = CLVAE_FAIL(err, CLVAE_ERR_NOMEM, "out of host memory");
        goto out;
    }
    if (clvae_objective_classes(model)) {
        s = CLVAE_FAIL(err, CLVAE_ERR_INVALID, "interpolate does not take a conditional model "
                       "(its decoder needs one label for the whole path): use manifold --label "
                       "or sample --label");
        goto out;
    }
    if ((s = encode_all(ctx, model, dd, NULL, idx, 2, mu, NULL, err))) goto out;
    for (int k = 0; k < steps; k++) {
        float t = (float)k / (float)(steps - 1);
        for (size_t q = 0; q < J; q++) z[(size_t)k * J + q] = (1 - t) * mu[q] + t * mu[J + q];
    }
    if ((s = decode_all(model, z, (size_t)steps, imgs + D, err))) goto out;
    for (size_t q = 0; q < D; q++) {
        imgs[q] = data->pixels[i * D + q] * data->scale;
        imgs[(n - 1) * D + q] = data->pixels[j * D + q] * data->scale;
    }
    char title[256], a[24], b[24];
    const char *cols[66];
    snprintf(title, sizeof title, "%s: test image %zu to test image %zu through latent space "
             "(z_mean, %d steps)", model_name(model), i, j, steps);
    snprintf(a, sizeof a, "#%zu", i);
    snprintf(b, sizeof b, "#%zu", j);
    for (size_t k = 0; k < n; k++) cols[k] = "";
    cols[0] = a;
    cols[n - 1] = b;
    s = clvae_fig_grid_labelled(imgs, n, data, (int)n, title, NULL, cols, path, err);
out:
    free(mu);
    free(z);
    free(imgs);
    return s;
}

clvae_status_t clvae_fig_restyle(clvae_ctx_t *ctx, clvae_objective_t *model,
                                 const clvae_dataset_t *data, const clvae_data_dev_t *dd,
                                 const size_t *from, int nfrom, const char *path,
                                 clvae_error_t *err)
{
    size_t K = clvae_objective_classes(model), J = clvae_objective_latent_dim(model);
    size_t D = clvae_objective_example_dim(model), R = (size_t)nfrom, C = K + 1;
    if (!K)
        return CLVAE_FAIL(err, CLVAE_ERR_INVALID, "%s is not conditional: restyle decodes one "
                          "image's code with every label, which needs a decoder that takes a "
                          "label ([model] conditional = K)", model_name(model));
    if (!data->labels)
        return CLVAE_FAIL(err, CLVAE_ERR_INVALID, "%s has no labels: a conditional model encodes "
                          "an image with its label", data->name);
    if (nfrom < 1 || nfrom > 16)
        return CLVAE_FAIL(err, CLVAE_ERR_INVALID, "--from: 1 to 16 images, not %d", nfrom);
    for (size_t r = 0; r < R; r++)
        if (from[r] >= data->n)
            return CLVAE_FAIL(err, CLVAE_ERR_INVALID, "--from %zu: the test set has %zu examples",
                              from[r], data->n);
    float *mu = malloc(R * J * sizeof *mu), *z = malloc(R * K * J * sizeof *z);
    float *lab = malloc(R * K * sizeof *lab), *dec = malloc(R * K * D * sizeof *dec);
    float *imgs = malloc(R * C * D * sizeof *imgs);
    uint32_t idx[16];
    char rows[16][32], cols[16][8];
    const char *rl[16], *cl[17];
    clvae_status_t s = CLVAE_OK;
    if (!mu || !z || !lab || !dec || !imgs) {
        s = CLVAE_FAIL(err, CLVAE_ERR_NOMEM, "out of host memory");
        goto out;
    }
    for (size_t r = 0; r < R; r++) idx[r] = (uint32_t)from[r];
    /* each source's z_mean, encoded with its own label; then that z with every label */
    if ((s = encode_all(ctx, model, dd, data->labels, idx, R, mu, NULL, err))) goto out;
    for (size_t r = 0; r < R; r++)
        for (size_t k = 0; k < K; k++) {
            memcpy(z + (r * K + k) * J, mu + r * J, J * sizeof *z);
            lab[r * K + k] = (float)k;
        }
    if ((s = clvae_decode_labeled(ctx, model, z, lab, R * K, dec, err))) goto out;
    for (size_t r = 0; r < R; r++) {
        for (size_t q = 0; q < D; q++)
            imgs[r * C * D + q] = data->pixels[from[r] * D + q] * data->scale;
        memcpy(imgs + (r * C + 1) * D, dec + r * K * D, K * D * sizeof *imgs);
        snprintf(rows[r], sizeof rows[r], "#%zu y=%u", from[r], data->labels[from[r]]);
        rl[r] = rows[r];
    }
    cl[0] = "source";
    for (size_t k = 0; k < K && k < 16; k++) {
        snprintf(cols[k], sizeof cols[k], "%zu", k);
        cl[k + 1] = cols[k];
    }
    char title[256];
    snprintf(title, sizeof title, "%s: each test image's code (z_mean with its label) decoded "
             "with every label: its style, other digits", model_name(model));
    s = clvae_fig_grid_labelled(imgs, R * C, data, (int)C, title, rl, K <= 16 ? cl : NULL, path,
                                err);
out:
    free(mu);
    free(z);
    free(lab);
    free(dec);
    free(imgs);
    return s;
}

clvae_status_t clvae_reconstruct_first(clvae_ctx_t *ctx, clvae_objective_t *model,
                                       const clvae_data_dev_t *dd, size_t n, float *out,
                                       clvae_error_t *err)
{
    size_t J = clvae_objective_latent_dim(model);
    if (n == 0 || n > dd->n) return CLVAE_FAIL(err, CLVAE_ERR_INVALID, "reconstruct %zu of %zu", n, dd->n);
    float *mu = malloc(n * J * sizeof *mu);
    uint32_t *idx = malloc(n * sizeof *idx);
    clvae_status_t s;
    if (!mu || !idx) {
        s = CLVAE_FAIL(err, CLVAE_ERR_NOMEM, "out of host memory");
    } else {
        for (size_t i = 0; i < n; i++) idx[i] = (uint32_t)i;
        s = encode_all(ctx, model, dd, NULL, idx, n, mu, out, err);
    }
    free(mu);
    free(idx);
    return s;
}

/* A loss column's name as a legend says it ("recon": "reconstruction"). */
static const char *column_title(const char *c)
{
    static const char *const names[][2] = {{"recon", "reconstruction"}, {"kl", "KL"},
                                           {"xent", "cross-entropy"}, {"acc", "accuracy"}};
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
        if (strcmp(c, names[i][0]) == 0) return names[i][1];
    return c;
}

/* The per-readback curve of loss column `name` from steps.csv text (header step,epoch,batch,
 * examples, the columns, ...): x = epoch - 1 + batch / (that epoch's last batch), into x, y
 * (malloc'd); how many points (0: none, or no such column). */
static size_t steps_curve(const char *text, const char *name, float **x, float **y)
{
    *x = *y = NULL;
    if (!text) return 0;
    const char *nl = strchr(text, '\n');
    if (!nl) return 0;
    /* the column's index in the header */
    int col = -1, c = 0;
    for (const char *p = text; p < nl; c++) {
        const char *e = p;
        while (e < nl && *e != ',') e++;
        if ((size_t)(e - p) == strlen(name) && strncmp(p, name, (size_t)(e - p)) == 0) col = c;
        p = e < nl ? e + 1 : nl;
    }
    if (col < 4) return 0;
    size_t cap = 0, n = 0;
    for (const char *p = nl + 1; *p; p++) cap += *p == '\n';
    float *ex = malloc((cap + 1) * sizeof *ex), *b = malloc((cap + 1) * sizeof *b);
    *x = malloc((cap + 1) * sizeof **x);
    *y = malloc((cap + 1) * sizeof **y);
    if (!ex || !b || !*x || !*y) cap = 0;
    for (const char *p = nl + 1; *p && n < cap; p = strchr(p, '\n') ? strchr(p, '\n') + 1 : "") {
        long step, epoch, batch;
        if (sscanf(p, "%ld,%ld,%ld", &step, &epoch, &batch) != 3) continue;
        const char *f = p;
        for (int k = 0; k < col && f; k++) f = strchr(f, ','), f = f ? f + 1 : NULL;
        if (!f) continue;
        ex[n] = (float)epoch;
        b[n] = (float)batch;
        (*y)[n++] = strtof(f, NULL);
    }
    for (size_t i = 0; i < n; i++) { /* the epoch's last batch: its batch count */
        float nb = b[i];
        for (size_t j = 0; j < n; j++)
            if (ex[j] == ex[i] && b[j] > nb) nb = b[j];
        (*x)[i] = ex[i] - 1.0f + b[i] / (nb > 0 ? nb : 1.0f);
    }
    free(ex);
    free(b);
    if (n == 0) {
        free(*x);
        free(*y);
        *x = *y = NULL;
    }
    return n;
}

clvae_status_t clvae_fig_loss(const clvae_epoch_metrics_t *rows, size_t n,
                              const char *const *columns, const char *title,
                              const char *steps_text, const char *path, clvae_error_t *err)
{
    if (n == 0) return CLVAE_FAIL(err, CLVAE_ERR_INVALID, "no metrics to plot");
    int nc = rows[0].ncols;
    for (int k = 0; k < nc; k++)
        if (!columns[k])
            return CLVAE_FAIL(err, CLVAE_ERR_INVALID, "metrics with %d loss columns, %d names", nc,
                              k);
    /* one panel per column (its train and test curves, on its own scale: a KL of 5 is not a flat
     * line beside losses of 170), three panels a row, under the run's title */
    const int pw = 450, ph = 300, top = 36, per_row = nc < 3 ? nc : 3;
    int prow = (nc + per_row - 1) / per_row;
    float *v = malloc((size_t)3 * n * sizeof *v);
    clvae_image_t out = {0}, panel = {0};
    clvae_status_t st = v ? clvae_image_init(&out, per_row * pw, top + prow * ph, 3, 255, err)
                          : CLVAE_FAIL(err, CLVAE_ERR_NOMEM, "out of host memory");
    for (int k = 0; !st && k < nc; k++) {
        for (size_t i = 0; i < n; i++) {
            v[i] = (float)rows[i].epoch;
            v[n + i] = (float)rows[i].train[k];
            v[2 * n + i] = (float)rows[i].test[k];
        }
        float *sx = NULL, *sy = NULL;
        size_t ns = steps_curve(steps_text, columns[k], &sx, &sy);
        /* the per-readback curve first (under the per-epoch points), when there is one */
        clvae_plot_series_t sr[3] = {{"train (every readback)", sx, sy, ns},
                                     {"train", v, v + n, n}, {"test", v, v + 2 * n, n}};
        int acc = strcmp(columns[k], "acc") == 0;
        st = clvae_plot_lines(&panel, pw, ph, column_title(columns[k]), "epoch",
                              acc ? "fraction correct" : "per example", ns ? sr : sr + 1,
                              ns ? 3 : 2, 0, err);
        free(sx);
        free(sy);
        if (!st) paste(&out, &panel, (k % per_row) * pw, top + (k / per_row) * ph);
        clvae_image_free(&panel);
    }
    const uint8_t ink[3] = {0, 0, 0};
    if (!st) {
        clvae_plot_text(&out, (out.w - clvae_plot_text_width(title, 2)) / 2, 8, title, 2, ink);
        st = clvae_image_write(path, &out, err);
    }
    clvae_image_free(&out);
    free(v);
    return st;
}

/* The epochs of dir's snapshots (latent/epoch_NNN.csv), sorted, into ep (up to cap); how many. */
static int snapshot_epochs(const char *dir, long *ep, int cap)
{
    char path[4200];
    snprintf(path, sizeof path, "%.4000s/latent", dir);
    DIR *dp = opendir(path);
    if (!dp) return 0;
    int n = 0;
    struct dirent *e;
    while ((e = readdir(dp)) && n < cap) {
        long v;
        char tail[8];
        if (sscanf(e->d_name, "epoch_%ld.%7s", &v, tail) == 2 && strcmp(tail, "csv") == 0 && v > 0)
            ep[n++] = v;
    }
    closedir(dp);
    for (int i = 1; i < n; i++) /* insertion sort: a few hundred at most */
        for (int j = i; j > 0 && ep[j - 1] > ep[j]; j--) {
            long t = ep[j];
            ep[j] = ep[j - 1];
            ep[j - 1] = t;
        }
    return n;
}

/* One snapshot's points: label, z0, z1 of each row of "index,label,z0,z1,..." (up to cap). */
static clvae_status_t snapshot_read(const char *path, float *x, float *y, int *cls, size_t cap,
                                    size_t *n, clvae_error_t *err)
{
    char *text = NULL;
    clvae_status_t s = clvae_file_read(path, (size_t)1 << 28, "latent snapshot", &text, NULL, err);
    if (s) return s;
    *n = 0;
    char *line = strchr(text, '\n'); /* past the header */
    while (line && *n < cap) {
        long idx, lab;
        float a, b;
        if (sscanf(line + 1, "%ld,%ld,%f,%f", &idx, &lab, &a, &b) == 4) {
            x[*n] = a;
            y[*n] = b;
            cls[*n] = (int)lab;
            (*n)++;
        }
        line = strchr(line + 1, '\n');
    }
    free(text);
    if (*n == 0)
        return CLVAE_FAIL(err, CLVAE_ERR_CORRUPT, "%s: no points (want index,label,z0,z1 rows)",
                          path);
    return CLVAE_OK;
}

clvae_status_t clvae_fig_latent_epochs(const char *dir, const char *path, clvae_error_t *err)
{
    long all[1024], ep[8];
    int total = snapshot_epochs(dir, all, 1024), np = total < 8 ? total : 8;
    if (total == 0)
        return CLVAE_FAIL(err, CLVAE_ERR_NOT_FOUND, "%s has no latent snapshots (latent/"
                          "epoch_NNN.csv): train with [train] snapshot_every = N (--set "
                          "train.snapshot_every=1)", dir);
    for (int k = 0; k < np; k++) /* evenly chosen, the last one always */
        ep[k] = all[np == 1 ? total - 1 : (int)((long)k * (total - 1) / (np - 1))];
    const int pw = 400, ph = 380, top = 36, per_row = np < 4 ? np : 4, cap = 2000;
    int prow = (np + per_row - 1) / per_row;
    float *x = malloc(cap * sizeof *x), *y = malloc(cap * sizeof *y);
    int *cls = malloc(cap * sizeof *cls);
    clvae_image_t out = {0}, panel = {0};
    clvae_status_t s = x && y && cls ? clvae_image_init(&out, per_row * pw, top + prow * ph, 3,
                                                         255, err)
                                     : CLVAE_FAIL(err, CLVAE_ERR_NOMEM, "out of host memory");
    for (int k = 0; !s && k < np; k++) {
        char file[4200], title[64];
        size_t n = 0;
        int K = 1;
        snprintf(file, sizeof file, "%.4000s/latent/epoch_%03ld.csv", dir, ep[k]);
        if ((s = snapshot_read(file, x, y, cls, cap, &n, err))) break;
        for (size_t i = 0; i < n; i++) K = cls[i] + 1 > K ? cls[i] + 1 : K;
        snprintf(title, sizeof title, "epoch %ld", ep[k]);
        s = clvae_plot_scatter(&panel, pw, ph, title, "z[0]", "z[1]", x, y, cls, n, K, NULL, err);
        if (!s) paste(&out, &panel, (k % per_row) * pw, top + (k / per_row) * ph);
        clvae_image_free(&panel);
    }
    if (!s) {
        char title[256];
        const uint8_t ink[3] = {0, 0, 0};
        snprintf(title, sizeof title, "the latent space over training: z_mean of the first test "
                 "images by class, %d of %d snapshots", np, total);
        clvae_plot_text(&out, (out.w - clvae_plot_text_width(title, 1)) / 2, 12, title, 1, ink);
        s = clvae_image_write(path, &out, err);
    }
    clvae_image_free(&out);
    free(x);
    free(y);
    free(cls);
    return s;
}
