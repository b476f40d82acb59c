/* A prior's VQ-VAE run: opened, checked against the prior, and its code maps of a dataset. */
#include "clvae/train/prior.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "clvae/io/fileio.h"
#include "clvae/io/sha256.h"

clvae_status_t clvae_file_sha256(const char *path, char hex[65], clvae_error_t *err)
{
    FILE *f = fopen(path, "rb");
    if (!f) return CLVAE_FAIL(err, CLVAE_ERR_NOT_FOUND, "%s: cannot open it", path);
    clvae_sha256_t h;
    clvae_sha256_init(&h);
    unsigned char buf[65536];
    size_t n;
    while ((n = fread(buf, 1, sizeof buf, f)) > 0) clvae_sha256_update(&h, buf, n);
    int bad = ferror(f);
    fclose(f);
    if (bad) return CLVAE_FAIL(err, CLVAE_ERR_IO, "%s: read error", path);
    uint8_t d[32];
    clvae_sha256_final(&h, d);
    clvae_sha256_hex(d, hex);
    return CLVAE_OK;
}

clvae_status_t clvae_vqvae_open(clvae_vqvae_run_t *v, clvae_ctx_t *ctx, const char *run,
                                size_t batch, clvae_error_t *err)
{
    memset(v, 0, sizeof *v);
    struct stat sb;
    int dir = stat(run, &sb) == 0 && S_ISDIR(sb.st_mode);
    snprintf(v->path, sizeof v->path, dir ? "%s/checkpoint.safetensors" : "%s", run);
    if (stat(v->path, &sb) != 0)
        return CLVAE_FAIL(err, CLVAE_ERR_NOT_FOUND, "the prior's VQ-VAE run %s has no checkpoint "
                          "(%s): train it first (clvae train models/mnist_vqvae.cfg --out %s)",
                          run, v->path, run);
    clvae_status_t s;
    if ((s = clvae_file_sha256(v->path, v->sha256, err)) ||
        (s = clvae_checkpoint_read(v->path, &v->ck, err)) ||
        (s = clvae_cfg_parse(&v->cfg, v->ck.config, strlen(v->ck.config), v->path, err)) ||
        (s = clvae_model_resolve(&v->desc, &v->cfg, err)))
        return s;
    if (!v->desc.vqvae)
        return CLVAE_FAIL(err, CLVAE_ERR_INVALID, "the prior's run %s is a %s, not a VQ-VAE: a "
                          "prior learns the codes of a [model] kind = vqvae run", run,
                          clvae_model_kind(&v->desc));
    size_t fit = clvae_objective_fit_batch(ctx, &v->desc, batch);
    if (fit > 0) batch = fit;
    if ((s = clvae_objective_init(&v->model, ctx, &v->desc, batch, err)) ||
        (s = clvae_checkpoint_restore(&v->ck, ctx, v->model, 0, v->path, err)))
        return s;
    return CLVAE_OK;
}

void clvae_vqvae_close(clvae_vqvae_run_t *v)
{
    clvae_objective_free(v->model);
    clvae_model_desc_free(&v->desc);
    clvae_cfg_free(&v->cfg);
    clvae_checkpoint_free(&v->ck);
    memset(v, 0, sizeof *v);
}

clvae_status_t clvae_prior_check(const clvae_model_desc_t *prior, const clvae_vqvae_run_t *v,
                                 clvae_error_t *err)
{
    const clvae_layer_t *q = &v->desc.layers[v->desc.latent], *in = &prior->layers[0];
    size_t P = q->out_c * q->out_h * q->out_w / q->vq_dim;
    size_t H = q->flat ? 1 : q->out_h, W = q->flat ? P : q->out_w;
    if (prior->codes_sha256[0] && strcmp(prior->codes_sha256, v->sha256) != 0)
        return CLVAE_FAIL(err, CLVAE_ERR_INVALID, "%s changed since the prior %s was trained on "
                          "it (sha256 %.12s..., now %.12s...): retrain the prior, or restore that "
                          "VQ-VAE checkpoint", v->path, prior->name, prior->codes_sha256,
                          v->sha256);
    if (in->out_c != q->vq_codes || in->out_h != H || in->out_w != W)
        return CLVAE_FAIL(err, CLVAE_ERR_INVALID, "the prior %s takes %zux%zux%zu one-hot maps, "
                          "but %s has %zu codes at %zux%zu positions: set its [input] channels "
                          "= %zu, height = %zu, width = %zu (and the last [conv]'s filters = %zu)",
                          prior->name, in->out_c, in->out_h, in->out_w, v->path, q->vq_codes, H,
                          W, q->vq_codes, H, W, q->vq_codes);
    if (q->vq_codes > 256)
        return CLVAE_FAIL(err, CLVAE_ERR_INVALID, "%s has %zu codes: a prior's code maps hold up "
                          "to 256 (one byte per position)", v->path, q->vq_codes);
    return CLVAE_OK;
}

clvae_status_t clvae_vqvae_codes(clvae_vqvae_run_t *v, const clvae_dataset_t *images,
                                 clvae_dataset_t *out, clvae_error_t *err)
{
    memset(out, 0, sizeof *out);
    clvae_ctx_t *ctx = clvae_objective_ctx(v->model);
    const clvae_layer_t *q = &v->desc.layers[v->desc.latent];
    size_t P = q->out_c * q->out_h * q->out_w / q->vq_dim, n = images->n;
    size_t mb = clvae_objective_max_batch(v->model);
    clvae_data_dev_t dd = {0};
    cl_mem idx = NULL;
    uint32_t *perm = malloc(n * sizeof *perm);
    float *codes = malloc(mb * P * sizeof *codes);
    out->pixels = malloc(n * P);
    out->labels = images->labels ? malloc(n) : NULL;
    clvae_status_t s = CLVAE_OK;
    if (!perm || !codes || !out->pixels || (images->labels && !out->labels)) {
        s = CLVAE_FAIL(err, CLVAE_ERR_NOMEM, "out of host memory");
        goto done;
    }
    for (size_t i = 0; i < n; i++) perm[i] = (uint32_t)i;
    if ((s = clvae_data_upload(ctx, images, &dd, err)) ||
        (s = clvae_data_upload_indices(ctx, &idx, perm, n, n, err)))
        goto done;
    for (size_t start = 0; start < n; start += mb) {
        size_t B = n - start < mb ? n - start : mb;
        if ((s = clvae_data_gather(ctx, clvae_objective_input(v->model), &dd, idx, start, B,
                                   err)) ||
            (s = clvae_objective_encode_codes(v->model, B, codes, err)))
            goto done;
        for (size_t j = 0; j < B * P; j++) out->pixels[start * P + j] = (uint8_t)codes[j];
    }
    out->n = n;
    out->c = 1;
    out->h = q->flat ? 1 : q->out_h;
    out->w = q->flat ? P : q->out_w;
    out->scale = 1.0f;
    out->classes = images->classes;
    if (out->labels) memcpy(out->labels, images->labels, n);
    snprintf(out->name, sizeof out->name, "codes of %.80s", images->name);
done:
    if (idx) clReleaseMemObject(idx);
    clvae_data_dev_free(&dd);
    free(perm);
    free(codes);
    if (s) clvae_dataset_free(out);
    return s;
}
