/* Figures of the generative family: class-conditional manifolds, denoising rows. */
#include "clvae/eval/figures_gen.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "clvae/eval/figures.h"
#include "clvae/io/image.h"
#include "clvae/data/labels.h"
#include "clvae/ops/rng.h"

clvae_status_t clvae_fig_manifold_label(clvae_ctx_t *ctx, clvae_objective_t *model,
                                        const clvae_dataset_t *shape, int grid, float range,
                                        int dx, int dy, int label, const char *path,
                                        clvae_error_t *err)
{
    clvae_status_t s = clvae_fig_check_label(model, label, err);
    if (s) return s;
    size_t J = clvae_objective_latent_dim(model), D = clvae_objective_example_dim(model);
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
    if (!s) s = clvae_fig_grid_save(out, n, shape, grid, path, err);
    free(z);
    free(lab);
    free(out);
    return s;
}

clvae_status_t clvae_fig_denoise(clvae_ctx_t *ctx, clvae_objective_t *model,
                                 const clvae_dataset_t *data, size_t n,
                                 const clvae_noise_spec_t *noise, uint64_t seed, const char *path,
                                 clvae_error_t *err)
{
    if (n == 0 || n > 64 || n > data->n)
        return CLVAE_FAIL(err, CLVAE_ERR_INVALID, "--count %zu: want 1 to %zu", n,
                          data->n < 64 ? data->n : (size_t)64);
    size_t K = clvae_objective_classes(model), D = clvae_objective_example_dim(model);
    size_t mb = clvae_objective_max_batch(model);
    if (K && !data->labels)
        return CLVAE_FAIL(err, CLVAE_ERR_INVALID, "%s has no labels, which a conditional model "
                          "needs", data->name);
    float *rows = malloc(3 * n * D * sizeof *rows);
    clvae_buf_t clean = {0}, input = clvae_objective_input(model);
    clvae_status_t s;
    if (!rows) return CLVAE_FAIL(err, CLVAE_ERR_NOMEM, "out of host memory");
    float *noisy = rows, *orig = rows + n * D, *den = rows + 2 * n * D;
    for (size_t i = 0; i < n * D; i++) orig[i] = data->pixels[i] * data->scale;
    if ((s = clvae_buf_alloc(ctx, (n < mb ? n : mb) * D, &clean, err))) goto out;
    for (size_t st = 0; st < n; st += mb) {
        size_t B = n - st < mb ? n - st : mb;
        /* the noise of image i depends on (seed, i) only, whatever the batch size (D % 4 == 0) */
        if ((s = clvae_buf_upload(ctx, clean, orig + st * D, B * D, err)) ||
            (K && (s = clvae_labels_set(ctx, clvae_objective_labels(model), data->labels + st, B,
                                        err))) ||
            (s = clvae_noise_apply(ctx, noise, input, clean, B * D, seed,
                                   clvae_rng_blocks(st * D), err)) ||
            (s = clvae_buf_download(ctx, noisy + st * D, input, B * D, err)) ||
            (s = clvae_objective_forward(model, B, 0, 0, 0, clean, err)) ||
            (s = clvae_objective_outputs(model, den + st * D, err)))
            goto out;
    }
    s = clvae_fig_grid_save(rows, 3 * n, data, (int)n, path, err);
out:
    clvae_buf_free(&clean);
    free(rows);
    return s;
}
