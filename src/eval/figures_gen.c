/* Figures of the generative family: class-conditional manifolds, denoising rows, a diffusion
 * model's chain. */
#include "clvae/eval/figures_gen.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "clvae/eval/figures.h"
#include "clvae/io/image.h"
#include "clvae/io/plot.h"
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
    char title[256];
    snprintf(title, sizeof title, "%s: class %d, decodes of z%d from -%g to %g (across) and z%d "
             "from %g to -%g (down)", clvae_objective_net_desc(model, 0)->name, label, dx,
             (double)range, (double)range, dy, (double)range, (double)range);
    if (!s) s = clvae_fig_grid_labelled(out, n, shape, grid, title, NULL, NULL, path, err);
    free(z);
    free(lab);
    free(out);
    return s;
}

clvae_status_t clvae_restore_batch(clvae_ctx_t *ctx, clvae_objective_t *model,
                                   const clvae_dataset_t *data, size_t st, size_t B,
                                   const clvae_noise_spec_t *noise, uint64_t seed,
                                   clvae_buf_t clean, float *noisy, float *out, clvae_error_t *err)
{
    size_t K = clvae_objective_classes(model), D = clvae_objective_example_dim(model);
    clvae_buf_t input = clvae_objective_input(model);
    float *orig = malloc(B * D * sizeof *orig);
    if (!orig) return CLVAE_FAIL(err, CLVAE_ERR_NOMEM, "out of host memory");
    for (size_t i = 0; i < B * D; i++) orig[i] = data->pixels[st * D + i] * data->scale;
    /* the noise of image i depends on (seed, i) only, whatever the batch size (D % 4 == 0) */
    clvae_status_t s;
    if ((s = clvae_buf_upload(ctx, clean, orig, B * D, err)) ||
        (K && (s = clvae_labels_set(ctx, clvae_objective_labels(model), data->labels + st, B,
                                    err))) ||
        (s = clvae_noise_apply(ctx, noise, input, clean, B * D, seed, clvae_rng_blocks(st * D),
                               err)) ||
        (noisy && (s = clvae_buf_download(ctx, noisy, input, B * D, err))) ||
        (s = clvae_objective_forward(model, B, 0, 0, 0, clean, err)))
        goto out;
    s = clvae_objective_outputs(model, out, err);
out:
    free(orig);
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
    clvae_buf_t clean = {0};
    clvae_status_t s;
    if (!rows) return CLVAE_FAIL(err, CLVAE_ERR_NOMEM, "out of host memory");
    float *noisy = rows, *orig = rows + n * D, *den = rows + 2 * n * D;
    for (size_t i = 0; i < n * D; i++) orig[i] = data->pixels[i] * data->scale;
    if ((s = clvae_buf_alloc(ctx, (n < mb ? n : mb) * D, &clean, err))) goto out;
    for (size_t st = 0; st < n; st += mb) {
        size_t B = n - st < mb ? n - st : mb;
        if ((s = clvae_restore_batch(ctx, model, data, st, B, noise, seed, clean, noisy + st * D,
                                     den + st * D, err)))
            goto out;
    }
    static const char *const names[3] = {"noisy", "clean", "denoised"};
    char title[256];
    snprintf(title, sizeof title, "%s: %zu test images with %s noise, and denoised",
             clvae_objective_net_desc(model, 0)->name, n, clvae_noise_kind_name(noise->kind));
    s = clvae_fig_grid_labelled(rows, 3 * n, data, (int)n, title, names, NULL, path, err);
out:
    clvae_buf_free(&clean);
    free(rows);
    return s;
}

/* The chain's caption of frame f: x_T, t=..., x_0. */
static void frame_caption(long t, size_t T, char *buf, size_t size)
{
    if (t >= (long)T) snprintf(buf, size, "x_T");
    else if (t < 0) snprintf(buf, size, "x_0");
    else snprintf(buf, size, "t=%ld", t);
}

clvae_status_t clvae_fig_chain(clvae_objective_t *model, const clvae_dataset_t *shape, size_t n,
                               size_t F, uint64_t seed, int label, const char *what,
                               const char *path, clvae_error_t *err)
{
    const clvae_model_desc_t *d = clvae_objective_net_desc(model, 0);
    size_t K = d->conditional, D = clvae_objective_example_dim(model);
    if (!d->ddpm)
        return CLVAE_FAIL(err, CLVAE_ERR_INVALID, "%s is not a diffusion model: it has no "
                          "denoising chain", d->name);
    if (F < 2 || F > 20) return CLVAE_FAIL(err, CLVAE_ERR_INVALID, "%zu frames: want 2 to 20", F);
    if (n == 0 || n > 64)
        return CLVAE_FAIL(err, CLVAE_ERR_INVALID, "a chain of %zu samples: want 1 to 64", n);
    clvae_status_t s = label >= 0 ? clvae_fig_check_label(model, label, err) : CLVAE_OK;
    if (s) return s;
    float *frames = malloc(F * n * D * sizeof *frames), *tiles = malloc(F * n * D * sizeof *tiles);
    long *t_of = malloc(F * sizeof *t_of);
    int *labels = K ? malloc(n * sizeof *labels) : NULL;
    if (!frames || !tiles || !t_of || (K && !labels)) {
        s = CLVAE_FAIL(err, CLVAE_ERR_NOMEM, "out of host memory");
        goto done;
    }
    for (size_t i = 0; labels && i < n; i++) labels[i] = label >= 0 ? label : (int)(i % K);
    if ((s = clvae_objective_ddpm_chain(model, n, seed, NULL, labels, F, frames, t_of, err)))
        goto done;
    /* rows: samples; columns: frames */
    for (size_t i = 0; i < n; i++)
        for (size_t f = 0; f < F; f++)
            memcpy(tiles + (i * F + f) * D, frames + (f * n + i) * D, D * sizeof *tiles);
    char title[256], caps[20][24], rowcap[64][16];
    const char *cols[20], *rows[64];
    snprintf(title, sizeof title, "%s: denoising chain, %s", d->name, what);
    for (size_t f = 0; f < F; f++) {
        frame_caption(t_of[f], d->diff_steps, caps[f], sizeof caps[f]);
        cols[f] = caps[f];
    }
    for (size_t i = 0; labels && i < n && i < 64; i++) {
        snprintf(rowcap[i], sizeof rowcap[i], "y=%d", labels[i]);
        rows[i] = rowcap[i];
    }
    s = clvae_fig_grid_labelled(tiles, n * F, shape, (int)F, title, labels ? rows : NULL, cols,
                                path, err);
done:
    free(frames);
    free(tiles);
    free(t_of);
    free(labels);
    return s;
}
