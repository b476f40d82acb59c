/* Classifier runs (kind = classifier): labels on the device and the test pass (loss, accuracy). */
#ifndef CLVAE_CLASSIFY_H
#define CLVAE_CLASSIFY_H

#include "clvae/data/data.h"
#include "clvae/train/objective.h"

/* Result of a classifier's test pass. */
typedef struct clvae_class_result {
    size_t n;          /* examples */
    double loss;       /* mean softmax cross-entropy per example (nats) */
    double accuracy;   /* fraction whose argmax logit is the label, 0..1 */
} clvae_class_result_t;

/* Checks that ds has labels and that every one is below classes (CLVAE_ERR_INVALID naming the
 * dataset otherwise): what a classifier needs before training or testing on it. */
clvae_status_t clvae_class_labels_usable(const clvae_dataset_t *ds, int classes, clvae_error_t *err);

/* Uploads the labels of ds's examples perm[0..n-1] (perm NULL: 0..n-1) as floats into *out,
 * allocating it (n floats) when out->mem is NULL; an allocated *out must hold n floats. */
clvae_status_t clvae_class_labels_upload(clvae_ctx_t *ctx, const clvae_dataset_t *ds,
                                   const uint32_t *perm, size_t n, clvae_buf_t *out,
                                   clvae_error_t *err);

/* The classifier's mean cross-entropy and accuracy on the first n examples of ds (pixels on
 * the device in dd) in batches of at most batch (<= the model's). */
clvae_status_t clvae_classifier_evaluate(clvae_ctx_t *ctx, clvae_objective_t *model,
                                         const clvae_model_desc_t *desc, const clvae_dataset_t *ds,
                                         const clvae_data_dev_t *dd, size_t n, size_t batch,
                                         clvae_class_result_t *out, clvae_error_t *err);

#endif
