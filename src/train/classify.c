/* Classifier runs: label checks and uploads, and the test pass with loss and accuracy. */
#include "clvae/train/classify.h"

#include <stdlib.h>
#include <string.h>


clvae_status_t clvae_class_labels_usable(const clvae_dataset_t *ds, int classes, clvae_error_t *err)
{
    if (!ds->labels)
        return CLVAE_FAIL(err, CLVAE_ERR_INVALID, "%s has no labels: a classifier needs them",
                          ds->name);
    for (size_t i = 0; i < ds->n; i++)
        if ((int)ds->labels[i] >= classes)
            return CLVAE_FAIL(err, CLVAE_ERR_INVALID,
                              "%s: example %zu has label %d, but the classifier has %d classes "
                              "(its last [dense] layer's units)",
                              ds->name, i, (int)ds->labels[i], classes);
    return CLVAE_OK;
}

clvae_status_t clvae_class_labels_upload(clvae_ctx_t *ctx, const clvae_dataset_t *ds,
                                   const uint32_t *perm, size_t n, clvae_buf_t *out,
                                   clvae_error_t *err)
{
    if (!ds->labels) return CLVAE_FAIL(err, CLVAE_ERR_INVALID, "%s has no labels", ds->name);
    if (n == 0 || n > ds->n)
        return CLVAE_FAIL(err, CLVAE_ERR_INVALID, "%zu labels of %zu examples", n, ds->n);
    float *host = malloc(n * sizeof *host);
    if (!host) return CLVAE_FAIL(err, CLVAE_ERR_NOMEM, "out of host memory");
    for (size_t i = 0; i < n; i++) {
        size_t k = perm ? perm[i] : i;
        host[i] = k < ds->n ? (float)ds->labels[k] : -1.0f;
    }
    clvae_status_t s = CLVAE_OK;
    if (!out->mem) s = clvae_buf_alloc(ctx, n, out, err);
    if (!s) s = clvae_buf_upload(ctx, *out, host, n, err);
    free(host);
    return s;
}

clvae_status_t clvae_classifier_evaluate(clvae_ctx_t *ctx, clvae_objective_t *model,
                                         const clvae_model_desc_t *desc, const clvae_dataset_t *ds,
                                         const clvae_data_dev_t *dd, size_t n, size_t batch,
                                         clvae_class_result_t *out, clvae_error_t *err)
{
    memset(out, 0, sizeof *out);
    if (!desc->classes)
        return CLVAE_FAIL(err, CLVAE_ERR_INVALID, "%s is not a classifier (kind = classifier)",
                          desc->name);
    if (n == 0 || n > dd->n || n > ds->n)
        return CLVAE_FAIL(err, CLVAE_ERR_INVALID, "evaluate %zu of %zu examples", n, dd->n);
    if (batch > clvae_objective_max_batch(model)) batch = clvae_objective_max_batch(model);
    clvae_status_t s = clvae_class_labels_usable(ds, desc->classes, err);
    if (s) return s;
    uint32_t *perm = malloc(n * sizeof *perm);
    float *loss = malloc(batch * sizeof *loss), *hit = malloc(batch * sizeof *hit);
    cl_mem idx = NULL;
    clvae_buf_t labels = {0};
    if (!perm || !loss || !hit) {
        s = CLVAE_FAIL(err, CLVAE_ERR_NOMEM, "out of host memory");
        goto out;
    }
    for (size_t i = 0; i < n; i++) perm[i] = (uint32_t)i;
    if ((s = clvae_data_upload_indices(ctx, &idx, perm, n, dd->n, err)) ||
        (s = clvae_class_labels_upload(ctx, ds, NULL, n, &labels, err)))
        goto out;
    double sl = 0, sh = 0;
    for (size_t start = 0; start < n && !clvae_objective_stopped(model); start += batch) {
        size_t B = n - start < batch ? n - start : batch;
        if ((s = clvae_data_gather(ctx, clvae_objective_input(model), dd, idx, start, B, err)) ||
            (s = clvae_objective_forward(model, B, 0, 0, 0, clvae_buf_at(labels, start), err)) ||
            (s = clvae_objective_example_losses(model, loss, hit, err)))
            goto out;
        for (size_t b = 0; b < B; b++) {
            sl += loss[b];
            sh += hit[b];
        }
    }
    out->n = n;
    out->loss = sl / (double)n;
    out->accuracy = sh / (double)n;
out:
    if (idx) clReleaseMemObject(idx);
    clvae_buf_free(&labels);
    free(perm);
    free(loss);
    free(hit);
    return s;
}
