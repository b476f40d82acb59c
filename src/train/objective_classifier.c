/* The classifier objective: the mean softmax cross-entropy of the logits, and the accuracy. */
#include "clvae/data/labels.h"
#include "clvae/ops/basic.h"
#include "clvae/train/classify.h"
#include "clvae/ops/reduce.h"
#include "clvae/ops/xent.h"
#include "train/objective_internal.h"

/* kind = classifier: the softmax cross-entropy per example into rec_ex and the hit flags into
 * kl_ex; losses = [mean cross-entropy, the same, accuracy]. */
static clvae_status_t losses(clvae_objective_t *m, clvae_error_t *err)
{
    clvae_buf_t labels = m->target;
    size_t B = m->B, K = (size_t)m->d->classes;
    clvae_buf_t logits = clvae_net_output(m->net, m->last, 0);
    clvae_reduce_shape_t one = {1, 1, B, 0, 0};
    float inv = 1.0f / (float)B;
    clvae_status_t s;
    if ((s = clvae_xent_forward(m->ctx, m->rec_ex, clvae_buf_at(m->losses, 1), logits, labels, B,
                                K, err)) ||
        (s = clvae_xent_correct(m->ctx, m->kl_ex, logits, labels, B, K, err)) ||
        (s = clvae_reduce_forward(m->ctx, m->losses, m->rec_ex, CLVAE_REDUCE_SUM, inv, 0.0f, one,
                                  err)))
        return s;
    return clvae_reduce_forward(m->ctx, clvae_buf_at(m->losses, 2), m->kl_ex, CLVAE_REDUCE_SUM,
                                inv, 0.0f, one, err);
}

/* The cross-entropy's gradient into the logits (the last layer's dpre: identity output). */
static clvae_status_t loss_backward(clvae_objective_t *m, int *pre, clvae_error_t *err)
{
    size_t K = (size_t)m->d->classes;
    clvae_buf_t dpre = clvae_net_output_grad(m->net, m->last, 1);
    *pre = 1;
    clvae_status_t s = clvae_fill_forward(m->ctx, dpre.mem, dpre.off, 0.0f, m->B * K, err);
    if (s) return s;
    return clvae_xent_backward(m->ctx, dpre, clvae_net_output(m->net, m->last, 0), m->target,
                               1.0f / (float)m->B, m->B, K, err);
}

static size_t label_classes(const clvae_model_desc_t *d) { return (size_t)d->classes; }

static clvae_status_t labels_usable(const clvae_model_desc_t *d, const clvae_dataset_t *ds,
                                    clvae_error_t *err)
{
    return clvae_class_labels_usable(ds, d->classes, err);
}

/* The batch's images into the input, their labels into the targets. */
static clvae_status_t load(clvae_objective_t *m, const clvae_data_dev_t *pixels,
                           const clvae_data_dev_t *labels, cl_mem idx, size_t start, size_t B,
                           long step, clvae_error_t *err)
{
    (void)step;
    clvae_status_t s = clvae_data_gather(m->ctx, clvae_net_input(m->net), pixels, idx, start, B,
                                         err);
    return s ? s : clvae_labels_gather(m->ctx, m->target_buf, labels, idx, start, B, err);
}

static clvae_status_t train_forward(clvae_objective_t *m, size_t B, long step, clvae_error_t *err)
{
    (void)step;
    return clvae_objective_forward(m, B, 0, 0, 0, m->target_buf, err);
}

/* The test pass: mean cross-entropy (loss and xent) and accuracy. */
static clvae_status_t test(clvae_objective_t *m, const clvae_dataset_t *ds,
                           const clvae_data_dev_t *pixels, const clvae_data_dev_t *labels,
                           size_t n, size_t batch, double *values, clvae_error_t *err)
{
    (void)labels;
    clvae_class_result_t cr;
    clvae_status_t s = clvae_classifier_evaluate(m->ctx, m, m->d, ds, pixels, n, batch, &cr, err);
    values[0] = values[1] = cr.loss;
    values[2] = cr.accuracy;
    return s;
}

static const char *const columns[] = {"loss", "xent", "acc", NULL};

const clvae_objective_kind_t clvae_objective_classifier = {
    .name = "classifier", .columns = columns, .can = CLVAE_CAN_CLASSIFY, .losses = losses,
    .loss_backward = loss_backward, .label_classes = label_classes,
    .labels_usable = labels_usable, .load = load, .train_forward = train_forward, .test = test,
};
