/* Figures of the generative family: class-conditional sample grids and manifolds, denoising rows. */
#include "clvae/eval/figures_gen.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "clvae/eval/figures.h"
#include "clvae/io/image.h"
#include "clvae/data/labels.h"
#include "clvae/ops/rng.h"

clvae_status_t clvae_decode_labeled(clvae_ctx_t *ctx, clvae_model_t *model, const float *z,
                                    const float *labels, size_t n, float *out, clvae_error_t *err)
{
    size_t J = clvae_model_latent_dim(model), D = clvae_model_example_dim(model);
    size_t mb = clvae_model_max_batch(model), K = clvae_model_classes(model);
    if (K && !labels)
        return CLVAE_FAIL(err, CLVAE_ERR_INVALID, "a conditional model decodes with a label "
                          "for each image (clvae sample or manifold --label K)");
    for (size_t s = 0; s < n; s += mb) {
        size_t B = n - s < mb ? n - s : mb;
        clvae_status_t st = CLVAE_OK;
        if (K) st = clvae_buf_upload(ctx, clvae_model_labels(model), labels + s, B, err);
        if (!st) st = clvae_model_decode(model, z + s * J, B, out + s * D, err);
        if (st) return st;
    }
    return CLVAE_OK;
}

static int zoom_of(const clvae_dataset_t *d) { return d->h <= 8 ? 6 : (d->h <= 32 ? 2 : 1); }

static clvae_status_t save_grid(const float *imgs, size_t n, const clvae_dataset_t *shape,
                                int cols, const char *path, clvae_error_t *err)
{
    clvae_image_t img = {0};
    clvae_status_t s = clvae_image_grid(&img, imgs, n, (int)shape->c, (int)shape->h,
                                        (int)shape->w, cols, 2, zoom_of(shape), 255, err);
    if (!s) s = clvae_png_write(path, &img, err);
    clvae_image_free(&img);
    return s;
}

/* A label must name one of the model's K classes. */
static clvae_status_t check_label(const clvae_model_t *model, int label, clvae_error_t *err)
{
    size_t K = clvae_model_classes(model);
    if (!K)
        return CLVAE_FAIL(err, CLVAE_ERR_INVALID, "--label %d: the model is not conditional "
                          "(its config has no [model] conditional = K)", label);
    if (label < 0 || (size_t)label >= K)
        return CLVAE_FAIL(err, CLVAE_ERR_INVALID, "--label %d: the model knows classes 0 to %zu",
                          label, K - 1);
    return CLVAE_OK;
}

clvae_status_t clvae_fig_samples_label(clvae_ctx_t *ctx, clvae_model_t *model,
                                       const clvae_dataset_t *shape, size_t n, uint64_t seed,
                                       int label, const char *path, clvae_error_t *err)
{
    size_t K = clvae_model_classes(model);
    if (!K && label < 0) return clvae_fig_samples(ctx, model, shape, n, seed, path, err);
    clvae_status_t s;
    if (label >= 0 && (s = check_label(model, label, err))) return s;
    if (n == 0 || n > 4096) return CLVAE_FAIL(err, CLVAE_ERR_INVALID, "--n %zu: want 1 to 4096", n);
    size_t J = clvae_model_latent_dim(model), D = clvae_model_example_dim(model);
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
    s = clvae_decode_labeled(ctx, model, z, lab, total, out, err);
    if (!s) s = save_grid(out, total, shape, (int)cols, path, err);
out:
    free(z0);
    free(z);
    free(lab);
    free(out);
    return s;
}

clvae_status_t clvae_fig_manifold_label(clvae_ctx_t *ctx, clvae_model_t *model,
                                        const clvae_dataset_t *shape, int grid, float range,
                                        int dx, int dy, int label, const char *path,
                                        clvae_error_t *err)
{
    clvae_status_t s = check_label(model, label, err);
    if (s) return s;
    size_t J = clvae_model_latent_dim(model), D = clvae_model_example_dim(model);
    size_t n = (size_t)grid * (size_t)grid;
    float *z = NULL, *lab = NULL, *out = NULL;
    /* the same lattice as clvae_fig_manifold, every code with the one label */
    s = clvae_manifold_codes(J, grid, range, dx, dy, &z, err);
    if (!s && (!(lab = malloc(n * sizeof *lab)) || !(out = malloc(n * D * sizeof *out))))
        s = CLVAE_FAIL(err, CLVAE_ERR_NOMEM, "out of host memory");
    if (!s) {
        for (size_t i = 0; i < n; i++) lab[i] = (float)label;
        s = clvae_decode_labeled(ctx, model, z, lab, n, out, err);
    }
    if (!s) s = save_grid(out, n, shape, grid, path, err);
    free(z);
    free(lab);
    free(out);
    return s;
}

clvae_status_t clvae_fig_denoise(clvae_ctx_t *ctx, clvae_model_t *model,
                                 const clvae_dataset_t *data, size_t n,
                                 const clvae_noise_spec_t *noise, uint64_t seed, const char *path,
                                 clvae_error_t *err)
{
    if (n == 0 || n > 64 || n > data->n)
        return CLVAE_FAIL(err, CLVAE_ERR_INVALID, "--count %zu: want 1 to %zu", n,
                          data->n < 64 ? data->n : (size_t)64);
    size_t K = clvae_model_classes(model), D = clvae_model_example_dim(model);
    size_t mb = clvae_model_max_batch(model);
    if (K && !data->labels)
        return CLVAE_FAIL(err, CLVAE_ERR_INVALID, "%s has no labels, which a conditional model "
                          "needs", data->name);
    float *rows = malloc(3 * n * D * sizeof *rows);
    clvae_buf_t clean = {0}, input = clvae_model_input(model);
    clvae_status_t s;
    if (!rows) return CLVAE_FAIL(err, CLVAE_ERR_NOMEM, "out of host memory");
    float *noisy = rows, *orig = rows + n * D, *den = rows + 2 * n * D;
    for (size_t i = 0; i < n * D; i++) orig[i] = data->pixels[i] * data->scale;
    if ((s = clvae_buf_alloc(ctx, (n < mb ? n : mb) * D, &clean, err))) goto out;
    for (size_t st = 0; st < n; st += mb) {
        size_t B = n - st < mb ? n - st : mb;
        /* the noise of image i depends on (seed, i) only, whatever the batch size (D % 4 == 0) */
        if ((s = clvae_buf_upload(ctx, clean, orig + st * D, B * D, err)) ||
            (K && (s = clvae_labels_set(ctx, clvae_model_labels(model), data->labels + st, B,
                                        err))) ||
            (s = clvae_noise_apply(ctx, noise, input, clean, B * D, seed,
                                   clvae_rng_blocks(st * D), err)) ||
            (s = clvae_buf_download(ctx, noisy + st * D, input, B * D, err)) ||
            (s = clvae_model_forward(model, B, 0, 0, 0, clean, err)) ||
            (s = clvae_model_outputs(model, den + st * D, err)))
            goto out;
    }
    s = save_grid(rows, 3 * n, data, (int)n, path, err);
out:
    clvae_buf_free(&clean);
    free(rows);
    return s;
}
