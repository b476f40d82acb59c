/* The classifier objective: the mean softmax cross-entropy of the logits, and the accuracy. */
#include "clvae/ops/basic.h"
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

static const char *const columns[] = {"loss", "xent", "acc", NULL};

const clvae_objective_kind_t clvae_objective_classifier = {
    "classifier", columns, CLVAE_CAN_CLASSIFY, losses, loss_backward};
