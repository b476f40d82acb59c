/* The GAN objective: a generator G (z -> image) and a discriminator D (image -> one logit) trained
 * in turns, as the seeds give it: L_D = -E log D(x) - E log(1 - D(G(z))), L_G = -E log D(G(z))
 * (non-saturating; or the saturating E log(1 - D(G(z)))), with BCE on D's logits. */
#include <stdlib.h>

#include "clvae/data/labels.h"
#include "clvae/ops/activation.h"
#include "clvae/ops/basic.h"
#include "clvae/ops/loss.h"
#include "clvae/ops/reduce.h"
#include "clvae/ops/rng.h"
#include "train/objective_internal.h"

/* The loss columns (losses[] slots): the sum of the two losses, D's, G's, mean D(x), mean
 * D(G(z)). */
enum { LOSS, D_LOSS, G_LOSS, D_REAL, D_FAKE };
static const char *const columns[] = {"loss", "d_loss", "g_loss", "d_real", "d_fake", NULL};

static clvae_buf_t col(const clvae_objective_t *m, int k) { return clvae_buf_at(m->losses, (size_t)k); }

/* D's output layer, its logits [B] and their gradient. */
static int d_last(const clvae_objective_t *m) { return m->d2->nlayers - 1; }
static clvae_buf_t logits(const clvae_objective_t *m) { return clvae_net_output(m->net2, d_last(m), 0); }

/* The generator's images [B, D] (its last output). */
static clvae_buf_t fake(const clvae_objective_t *m) { return clvae_net_output(m->net, m->last, 0); }

/* D's forward on B images of src (the generator's, or the real ones). */
static clvae_status_t d_forward(clvae_objective_t *m, clvae_buf_t src, size_t B,
                                clvae_error_t *err)
{
    clvae_status_t s = clvae_buf_copy(m->ctx, clvae_net_input(m->net2), src, B * m->D, err);
    return s ? s : clvae_net_forward(m->net2, B, err);
}

/* out = beta * out + alpha * mean_b BCE(logit_b, t_b) (per example into rec_ex). */
static clvae_status_t bce_into(clvae_objective_t *m, size_t B, clvae_buf_t t, clvae_buf_t out,
                               float alpha, float beta, clvae_error_t *err)
{
    clvae_buf_t none = {0};
    clvae_reduce_shape_t all = {1, 1, B, 0, 0};
    clvae_status_t s = clvae_bce_logits_forward(m->ctx, m->rec_ex, none, logits(m), t, B, 1, err);
    return s ? s : clvae_reduce_forward(m->ctx, out, m->rec_ex, CLVAE_REDUCE_SUM,
                                        alpha / (float)B, beta, all, err);
}

/* out = mean_b sigmoid(logit_b): D's mean probability that its batch is real. */
static clvae_status_t mean_prob(clvae_objective_t *m, size_t B, clvae_buf_t out, clvae_error_t *err)
{
    clvae_reduce_shape_t all = {1, 1, B, 0, 0};
    clvae_status_t s = clvae_act_forward(m->ctx, m->kl_ex, logits(m), CLVAE_ACT_SIGMOID, 0.0f, B,
                                         err);
    return s ? s : clvae_reduce_forward(m->ctx, out, m->kl_ex, CLVAE_REDUCE_SUM,
                                        1.0f / (float)B, 0.0f, all, err);
}

/* The gradient of scale * sum_b BCE(logit_b, t_b) into D's output, then D's backward (its
 * parameter gradients are ADDED; the input's gradient into din when din.mem). */
static clvae_status_t d_backward(clvae_objective_t *m, size_t B, clvae_buf_t t, float scale,
                                 clvae_buf_t din, clvae_error_t *err)
{
    clvae_buf_t g = clvae_net_output_grad(m->net2, d_last(m), 0);
    clvae_status_t s;
    if ((s = clvae_fill_forward(m->ctx, g.mem, g.off, 0.0f, B, err)) ||
        (s = clvae_bce_logits_backward(m->ctx, g, logits(m), t, scale, B, 1, err)))
        return s;
    return clvae_net_backward(m->net2, 0, din, err);
}

/* The generator's loss on D's current logits of fake images: non-saturating BCE(l, 1), or the
 * saturating -BCE(l, 0) = log(1 - D(G(z))); its target and sign for the gradient. */
static clvae_status_t g_loss(clvae_objective_t *m, size_t B, clvae_buf_t *t, float *sign,
                             clvae_error_t *err)
{
    *t = m->d->saturating ? m->t_fake : m->t_one;
    *sign = m->d->saturating ? -1.0f : 1.0f;
    return bce_into(m, B, *t, col(m, G_LOSS), *sign, 0.0f, err);
}

/* The generator's images of the z in its input (and labels), in the current mode. */
static clvae_status_t generate(clvae_objective_t *m, size_t B, clvae_error_t *err)
{
    return clvae_net_forward(m->net, B, err);
}

/* z of step `step` (the Philox stream (seed, step)) into the generator's input. */
static clvae_status_t draw_z(clvae_objective_t *m, size_t B, uint64_t seed, uint64_t step,
                             clvae_error_t *err)
{
    uint64_t per_step = clvae_rng_blocks(m->max_batch * m->J);
    return clvae_rng_normal(m->ctx, clvae_net_input(m->net), B * m->J, seed, step * per_step, err);
}

/* Real images of idx[start ..] into m->real, in the generator's range, and their labels into
 * both networks (a conditional GAN's fakes are drawn for the same labels). */
static clvae_status_t load_real(clvae_objective_t *m, const clvae_data_dev_t *pixels,
                                const clvae_data_dev_t *labels, cl_mem idx, size_t start,
                                size_t B, clvae_error_t *err)
{
    clvae_status_t s = clvae_data_gather(m->ctx, m->real, pixels, idx, start, B, err);
    if (!s && m->out_lo < 0.0f) s = clvae_affine_forward(m->ctx, m->real, m->real, 2.0f, -1.0f, B * m->D, err);
    if (!s && m->d->conditional &&
        !(s = clvae_labels_gather(m->ctx, clvae_net_labels(m->net), labels, idx, start, B, err)))
        s = clvae_labels_gather(m->ctx, clvae_net_labels(m->net2), labels, idx, start, B, err);
    return s;
}

static clvae_status_t load(clvae_objective_t *m, const clvae_data_dev_t *pixels,
                           const clvae_data_dev_t *labels, cl_mem idx, size_t start, size_t B,
                           long step, clvae_error_t *err)
{
    clvae_status_t s = load_real(m, pixels, labels, idx, start, B, err);
    return s ? s : draw_z(m, B, m->d->seed, clvae_objective_stream_step(m, step), err);
}

/* The discriminator's step: BCE of D(G(z)) against 0 and of D(x) against real_label, their
 * gradients summed, the guard, the hook, Adam. G's loss on these logits is the g_loss column
 * of a step without a generator step. */
static clvae_status_t d_step(clvae_objective_t *m, size_t B, long step,
                             clvae_objective_hook_t hook, void *user, clvae_error_t *err)
{
    clvae_buf_t none = {0}, t;
    float sign;
    clvae_status_t s;
    if ((s = clvae_net_zero_grads(m->net2, err)) || (s = d_forward(m, fake(m), B, err)) ||
        (s = mean_prob(m, B, col(m, D_FAKE), err)) ||
        (s = bce_into(m, B, m->t_fake, col(m, D_LOSS), 1.0f, 0.0f, err)) ||
        (s = g_loss(m, B, &t, &sign, err)) ||
        (s = d_backward(m, B, m->t_fake, 1.0f / (float)B, none, err)) ||
        (s = d_forward(m, m->real, B, err)) || (s = mean_prob(m, B, col(m, D_REAL), err)) ||
        (s = bce_into(m, B, m->t_real, col(m, D_LOSS), 1.0f, 1.0f, err)) ||
        (s = d_backward(m, B, m->t_real, 1.0f / (float)B, none, err)) ||
        (s = clvae_objective_count_nonfinite(m, clvae_net_grads(m->net2), m->d2->nparams,
                                             col(m, D_LOSS), 0, err)) ||
        (hook && (s = hook(user, m, 1, err))))
        return s;
    return clvae_optimizer_step(m->opt2, clvae_net_params(m->net2), clvae_net_grads(m->net2),
                                step, col(m, (int)m->ncols), err);
}

/* The generator's step: D (just updated) on the same fakes, G's loss, its gradient through D's
 * input into G's output, G's backward, the guard (added to D's: a bad D step skips this one
 * too), the hook, Adam. D's parameter gradients of this pass are not used. */
static clvae_status_t g_step(clvae_objective_t *m, size_t B, long gstep,
                             clvae_objective_hook_t hook, void *user, clvae_error_t *err)
{
    clvae_buf_t t, none = {0};
    float sign;
    clvae_status_t s;
    if ((s = d_forward(m, fake(m), B, err)) || (s = g_loss(m, B, &t, &sign, err)) ||
        (s = d_backward(m, B, t, sign / (float)B, clvae_net_output_grad(m->net, m->last, 0),
                        err)) ||
        (s = clvae_net_zero_grads(m->net, err)) || (s = clvae_net_backward(m->net, 0, none, err)) ||
        (s = clvae_objective_count_nonfinite(m, clvae_net_grads(m->net), m->d->nparams,
                                             col(m, G_LOSS), 1, err)) ||
        (hook && (s = hook(user, m, 0, err))))
        return s;
    return clvae_optimizer_step(m->opt, clvae_net_params(m->net), clvae_net_grads(m->net), gstep,
                                col(m, (int)m->ncols), err);
}

/* loss = d_loss + g_loss. */
static clvae_status_t total(clvae_objective_t *m, clvae_error_t *err)
{
    clvae_reduce_shape_t two = {1, 1, 2, 0, 0};
    return clvae_reduce_forward(m->ctx, col(m, LOSS), col(m, D_LOSS), CLVAE_REDUCE_SUM, 1.0f, 0.0f,
                                two, err);
}

/* One step: G makes B images (training mode: batch statistics), D's step on them and the real
 * batch, and every d_steps steps G's step (its step count is step / d_steps). */
static clvae_status_t train_step(clvae_objective_t *m, size_t B, long step,
                                 clvae_objective_hook_t hook, void *user, clvae_error_t *err)
{
    m->B = B;
    clvae_net_set_training(m->net, 1);
    clvae_net_set_training(m->net2, 1);
    clvae_status_t s = generate(m, B, err);
    if (!s) s = d_step(m, B, step, hook, user, err);
    if (!s && step % m->d->d_steps == 0) s = g_step(m, B, step / m->d->d_steps, hook, user, err);
    if (!s) s = total(m, err);
    clvae_net_set_training(m->net, 0);
    clvae_net_set_training(m->net2, 0);
    return s;
}

/* The forward of a loaded batch without a step (bench, profiling): G, then D on its images. */
static clvae_status_t train_forward(clvae_objective_t *m, size_t B, long step, clvae_error_t *err)
{
    (void)step;
    m->B = B;
    clvae_status_t s = generate(m, B, err);
    return s ? s : d_forward(m, fake(m), B, err);
}

/* The columns' values of one test batch (images idx[start ..], z of stream k) into l. */
static clvae_status_t test_batch(clvae_objective_t *m, const clvae_data_dev_t *pixels,
                                 const clvae_data_dev_t *labels, cl_mem idx, size_t start,
                                 size_t B, uint64_t k, float *l, clvae_error_t *err)
{
    clvae_buf_t t;
    float sign;
    clvae_status_t s;
    m->B = B;
    if ((s = load_real(m, pixels, labels, idx, start, B, err)) ||
        (s = draw_z(m, B, m->d->seed ^ 0x7e57ULL, k, err)) || (s = generate(m, B, err)) ||
        (s = d_forward(m, fake(m), B, err)) || (s = mean_prob(m, B, col(m, D_FAKE), err)) ||
        (s = bce_into(m, B, m->t_fake, col(m, D_LOSS), 1.0f, 0.0f, err)) ||
        (s = g_loss(m, B, &t, &sign, err)) || (s = d_forward(m, m->real, B, err)) ||
        (s = mean_prob(m, B, col(m, D_REAL), err)) ||
        (s = bce_into(m, B, m->t_real, col(m, D_LOSS), 1.0f, 1.0f, err)) || (s = total(m, err)))
        return s;
    return clvae_objective_losses(m, l, err);
}

/* The test pass in evaluation mode: per batch of test images and as many z (a fixed stream),
 * the columns' values; their means over n examples. */
static clvae_status_t test(clvae_objective_t *m, const clvae_dataset_t *ds,
                           const clvae_data_dev_t *pixels, const clvae_data_dev_t *labels,
                           size_t n, size_t batch, double *values, clvae_error_t *err)
{
    (void)ds;
    uint32_t *perm = calloc(n ? n : 1, sizeof *perm);
    if (!perm) return CLVAE_FAIL(err, CLVAE_ERR_NOMEM, "out of host memory");
    for (size_t i = 0; i < n; i++) perm[i] = (uint32_t)i;
    cl_mem idx = NULL;
    clvae_status_t s = clvae_data_upload_indices(m->ctx, &idx, perm, n, pixels->n, err);
    free(perm);
    double sums[CLVAE_OBJECTIVE_MAX_COLUMNS] = {0};
    float l[CLVAE_OBJECTIVE_MAX_COLUMNS];
    for (size_t start = 0, k = 0; !s && start < n && !clvae_objective_stopped(m);
         start += batch, k++) {
        size_t B = n - start < batch ? n - start : batch;
        s = test_batch(m, pixels, labels, idx, start, B, k, l, err);
        for (int q = 0; !s && q < m->ncols; q++) sums[q] += (double)l[q] * (double)B;
    }
    for (int q = 0; q < m->ncols; q++) values[q] = sums[q] / (double)n;
    if (idx) clReleaseMemObject(idx);
    return s;
}

static size_t label_classes(const clvae_model_desc_t *d) { return d->conditional; }

const clvae_objective_kind_t clvae_objective_gan = {
    .name = "gan", .columns = columns, .can = CLVAE_CAN_DECODE, .label_classes = label_classes,
    .load = load, .train_forward = train_forward, .train_step = train_step, .test = test,
};
