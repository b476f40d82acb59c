/* Class labels on the device: upload (checked against the class count), batch gather, host set. */
#include "clvae/data/labels.h"

#include <stdio.h>
#include <stdlib.h>

clvae_status_t clvae_labels_upload(clvae_ctx_t *ctx, const clvae_dataset_t *d, size_t classes,
                                   clvae_data_dev_t *out, clvae_error_t *err)
{
    if (!d->labels)
        return CLVAE_FAIL(err, CLVAE_ERR_INVALID,
                          "%s has no labels: a conditional model ([model] conditional = %zu) "
                          "trains and evaluates on labelled data", d->name, classes);
    for (size_t i = 0; i < d->n; i++)
        if (d->labels[i] >= classes)
            return CLVAE_FAIL(err, CLVAE_ERR_INVALID,
                              "%s: example %zu has label %d, but the model is conditional on %zu "
                              "classes ([model] conditional)", d->name, i, d->labels[i], classes);
    clvae_dataset_t lab = {0};
    lab.n = d->n;
    lab.c = lab.h = lab.w = 1;
    lab.pixels = d->labels;
    lab.scale = 1.0f;
    snprintf(lab.name, sizeof lab.name, "%.80s labels", d->name);
    return clvae_data_upload(ctx, &lab, out, err);
}

clvae_status_t clvae_labels_gather(clvae_ctx_t *ctx, clvae_buf_t out, const clvae_data_dev_t *dl,
                                   cl_mem idx, size_t idx_off, size_t B, clvae_error_t *err)
{
    if (dl->dim != 1 || dl->scale != 1.0f)
        return CLVAE_FAIL(err, CLVAE_ERR_INVALID, "clvae_labels_gather: not a label upload");
    return clvae_data_gather(ctx, out, dl, idx, idx_off, B, err);
}

clvae_status_t clvae_labels_set(clvae_ctx_t *ctx, clvae_buf_t out, const uint8_t *labels,
                                size_t B, clvae_error_t *err)
{
    float *f = malloc((B ? B : 1) * sizeof *f);
    if (!f) return CLVAE_FAIL(err, CLVAE_ERR_NOMEM, "out of host memory");
    for (size_t b = 0; b < B; b++) f[b] = (float)labels[b];
    clvae_status_t s = clvae_buf_upload(ctx, out, f, B, err);
    free(f);
    return s;
}
