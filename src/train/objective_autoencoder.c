/* The autoencoder objective (ae, denoising, vae, beta schedules, conditional): reconstruction + beta KL. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "clvae/data/labels.h"
#include "clvae/ops/basic.h"
#include "clvae/ops/noise.h"
#include "clvae/ops/rng.h"
#include "clvae/ops/loss.h"
#include "clvae/ops/optim.h"
#include "clvae/ops/reduce.h"
#include "train/objective_internal.h"

/* The output layer uses fused sigmoid + BCE (BCE with logits on pre) when it can. */
static int fused_bce(const clvae_objective_t *m)
{
    return m->d->recon == CLVAE_RECON_BCE && m->d->layers[m->last].act == CLVAE_ACT_SIGMOID;
}

clvae_status_t clvae_objective_recon_forward(clvae_objective_t *m, clvae_error_t *err)
{
    const clvae_model_desc_t *d = m->d;
    clvae_buf_t t = m->target, out = clvae_net_output(m->net, m->last, 0);
    clvae_buf_t rec_mean = clvae_buf_at(m->losses, 1);
    if (fused_bce(m))
        return clvae_bce_logits_forward(m->ctx, m->rec_ex, rec_mean,
                                        clvae_net_output(m->net, m->last, 1), t, m->B, m->D, err);
    if (d->recon == CLVAE_RECON_BCE)
        return clvae_bce_forward(m->ctx, m->rec_ex, rec_mean, out, t, m->B, m->D, err);
    return clvae_mse_forward(m->ctx, m->rec_ex, rec_mean, out, t, m->B, m->D,
                             d->recon == CLVAE_RECON_MSE_SUM ? CLVAE_MSE_SUM : CLVAE_MSE_MEAN,
                             err);
}

/* Per-example reconstruction and KL, and their means into losses [total, recon, kl]. */
static clvae_status_t losses_forward(clvae_objective_t *m, clvae_error_t *err)
{
    const clvae_model_desc_t *d = m->d;
    clvae_buf_t kl_mean = clvae_buf_at(m->losses, 2);
    clvae_status_t s = clvae_objective_recon_forward(m, err);
    if (s) return s;
    if (d->variational) {
        /* unweighted KL per example; the total adds beta times it */
        if ((s = clvae_kl_forward(m->ctx, m->kl_ex, kl_mean, clvae_net_latent(m->net, 0),
                                  clvae_net_latent(m->net, 1), 1.0f, m->B, m->J, err)))
            return s;
    }
    /* total = recon + beta * kl, on the device: sum of the per-example terms, averaged */
    clvae_reduce_shape_t one = {1, 1, m->B, 0, 0};
    float inv = 1.0f / (float)m->B;
    if ((s = clvae_reduce_forward(m->ctx, m->losses, m->rec_ex, CLVAE_REDUCE_SUM, inv, 0.0f, one,
                                  err)))
        return s;
    if (d->variational && m->beta != 0.0f)
        s = clvae_reduce_forward(m->ctx, m->losses, m->kl_ex, CLVAE_REDUCE_SUM, inv * m->beta, 1.0f,
                                 one, err);
    return s;
}

clvae_status_t clvae_objective_recon_backward(clvae_objective_t *m, int *pre, clvae_error_t *err)
{
    const clvae_model_desc_t *d = m->d;
    float scale = 1.0f / (float)m->B;
    size_t n_out = m->B * m->D;
    clvae_buf_t dpre = clvae_net_output_grad(m->net, m->last, 1);
    clvae_buf_t dact = clvae_net_output_grad(m->net, m->last, 0);
    clvae_buf_t out = clvae_net_output(m->net, m->last, 0);
    clvae_status_t s;
    *pre = fused_bce(m);
    if ((s = clvae_fill_forward(m->ctx, dpre.mem, dpre.off, 0.0f, n_out, err))) return s;
    if (*pre)
        return clvae_bce_logits_backward(m->ctx, dpre, clvae_net_output(m->net, m->last, 1),
                                         m->target, scale, m->B, m->D, err);
    if ((s = clvae_fill_forward(m->ctx, dact.mem, dact.off, 0.0f, n_out, err))) return s;
    if (d->recon == CLVAE_RECON_BCE)
        return clvae_bce_backward(m->ctx, dact, out, m->target, scale, m->B, m->D, err);
    return clvae_mse_backward(m->ctx, dact, out, m->target, scale, m->B, m->D,
                              d->recon == CLVAE_RECON_MSE_SUM ? CLVAE_MSE_SUM : CLVAE_MSE_MEAN,
                              err);
}

/* The device buffers of clvae_objective_fit_latents. */
typedef struct fit_bufs {
    clvae_buf_t x, known, target, m1, m2, zs;
} fit_bufs_t;

static void fit_free(fit_bufs_t *f)
{
    clvae_buf_free(&f->x);
    clvae_buf_free(&f->known);
    clvae_buf_free(&f->target);
    clvae_buf_free(&f->m1);
    clvae_buf_free(&f->m2);
    clvae_buf_free(&f->zs);
}

/* One gradient of recon(decode(z), x on the known values) + |z|^2 / 2, averaged over the B
 * examples, into the latent's output gradient. */
static clvae_status_t fit_gradient(clvae_objective_t *m, const fit_bufs_t *f, clvae_error_t *err)
{
    int lat = m->d->latent, pre = 0;
    size_t B = m->B;
    clvae_buf_t z = clvae_net_output(m->net, lat, 0), dz = clvae_net_output_grad(m->net, lat, 0);
    clvae_status_t s;
    /* the missing values' target is the model's own output: no gradient from them */
    if ((s = clvae_net_forward_range(m->net, B, lat + 1, m->last, err)) ||
        (s = clvae_select_forward(m->ctx, f->target, f->known, f->x,
                                  clvae_net_output(m->net, m->last, 0), B * m->D, err)) ||
        (s = clvae_objective_recon_backward(m, &pre, err)) ||
        (s = clvae_net_backward_to(m->net, pre, lat, err)) ||
        (s = clvae_affine_forward(m->ctx, f->zs, z, 1.0f / (float)B, 0.0f, B * m->J, err)))
        return s;
    return clvae_add_forward(m->ctx, dz.mem, dz.off, dz.mem, dz.off, f->zs.mem, f->zs.off,
                             B * m->J, err);
}

clvae_status_t clvae_objective_fit_latents(clvae_objective_t *m, size_t B, const float *x,
                                           const float *known, float *z, int steps, float lr,
                                           float *out, clvae_error_t *err)
{
    const clvae_model_desc_t *d = m->d;
    if (!d->variational || d->vqvae || d->ddpm || d->gan || d->classes)
        return CLVAE_FAIL(err, CLVAE_ERR_INVALID, "%s is a %s: fitting latents to known pixels "
                          "wants a VAE (a Gaussian prior on z)", d->name, m->kind->name);
    if (B == 0 || B > m->max_batch)
        return CLVAE_FAIL(err, CLVAE_ERR_INVALID, "fit of %zu latents (the model holds 1 to %zu)",
                          B, m->max_batch);
    if (steps < 0 || steps > 100000 || !(lr > 0.0f))
        return CLVAE_FAIL(err, CLVAE_ERR_INVALID, "fit of latents: %d steps (0 to 100000) at "
                          "rate %g (> 0)", steps, (double)lr);
    size_t n = B * m->D, nz = B * m->J;
    fit_bufs_t f;
    memset(&f, 0, sizeof f);
    clvae_buf_t saved = m->target, zb = clvae_net_output(m->net, d->latent, 0);
    clvae_buf_t dz = clvae_net_output_grad(m->net, d->latent, 0);
    size_t savedB = m->B;
    clvae_status_t s;
    if ((s = clvae_buf_alloc(m->ctx, n, &f.x, err)) || (s = clvae_buf_alloc(m->ctx, n, &f.known, err)) ||
        (s = clvae_buf_alloc(m->ctx, n, &f.target, err)) ||
        (s = clvae_buf_alloc(m->ctx, nz, &f.m1, err)) ||
        (s = clvae_buf_alloc(m->ctx, nz, &f.m2, err)) ||
        (s = clvae_buf_alloc(m->ctx, nz, &f.zs, err)) ||
        (s = clvae_buf_upload(m->ctx, f.x, x, n, err)) ||
        (s = clvae_buf_upload(m->ctx, f.known, known, n, err)) ||
        (s = clvae_buf_upload(m->ctx, zb, z, nz, err)) ||
        (s = clvae_fill_forward(m->ctx, f.m1.mem, f.m1.off, 0.0f, nz, err)) ||
        (s = clvae_fill_forward(m->ctx, f.m2.mem, f.m2.off, 0.0f, nz, err))) {
        fit_free(&f);
        return s;
    }
    m->target = f.target;
    m->B = B;
    clvae_adam_params_t hp = clvae_adam_defaults();
    hp.lr = lr;
    for (int t = 1; !s && t <= steps; t++)
        if (!(s = fit_gradient(m, &f, err)))
            s = clvae_adam_step(m->ctx, zb, dz, f.m1, f.m2, &hp, t, nz, err);
    if (!s) s = clvae_net_forward_range(m->net, B, d->latent + 1, m->last, err);
    if (!s) s = clvae_buf_download(m->ctx, z, zb, nz, err);
    if (!s && out) s = clvae_objective_outputs(m, out, err);
    m->target = saved;
    m->B = savedB;
    fit_free(&f);
    return s;
}

/* log N(x; 0, 1) summed over J values. */
static double log_normal(const float *x, size_t J)
{
    double s = 0;
    for (size_t j = 0; j < J; j++) s += -0.5 * ((double)x[j] * x[j] + 1.8378770664093453);
    return s;
}

clvae_status_t clvae_evaluate(clvae_ctx_t *ctx, clvae_objective_t *model,
                              const clvae_model_desc_t *desc, const clvae_data_dev_t *dd,
                              size_t n, size_t batch, int sample, uint64_t seed, int iwae_k,
                              clvae_eval_result_t *out, clvae_error_t *err)
{
    return clvae_evaluate_labels(ctx, model, desc, dd, NULL, n, batch, sample, seed, iwae_k, out,
                                 err);
}

clvae_status_t clvae_evaluate_labels(clvae_ctx_t *ctx, clvae_objective_t *model,
                                     const clvae_model_desc_t *desc, const clvae_data_dev_t *dd,
                                     const clvae_data_dev_t *labels, size_t n, size_t batch,
                                     int sample, uint64_t seed, int iwae_k,
                                     clvae_eval_result_t *out, clvae_error_t *err)
{
    memset(out, 0, sizeof *out);
    if (desc->classes)
        return CLVAE_FAIL(err, CLVAE_ERR_INVALID, "%s is a classifier: its test pass is "
                          "clvae_classifier_evaluate (loss and accuracy)", desc->name);
    if (n == 0 || n > dd->n) return CLVAE_FAIL(err, CLVAE_ERR_INVALID, "evaluate %zu of %zu examples", n, dd->n);
    if (desc->conditional && (!labels || labels->n < n))
        return CLVAE_FAIL(err, CLVAE_ERR_INVALID, "a conditional model is evaluated with the "
                          "labels of its examples (clvae_evaluate_labels)");
    int noisy = desc->noise.kind != CLVAE_NOISE_NONE;
    clvae_buf_t clean = {0};
    if (iwae_k > 0 && (!desc->variational || desc->recon != CLVAE_RECON_BCE))
        return CLVAE_FAIL(err, CLVAE_ERR_INVALID,
                          "the IWAE estimate of log p(x) needs a VAE with a BCE reconstruction");
    size_t J = clvae_objective_latent_dim(model);
    uint32_t *perm = malloc(n * sizeof *perm);
    float *rec = malloc(batch * sizeof *rec), *kl = malloc(batch * sizeof *kl);
    float *lat = malloc(4 * batch * J * sizeof *lat);
    double *lse = malloc(batch * sizeof *lse);
    cl_mem idx = NULL;
    clvae_buf_t none = {0}, input = clvae_objective_input(model);
    clvae_status_t s = CLVAE_OK;
    if (!perm || !rec || !kl || !lat || !lse) {
        s = CLVAE_FAIL(err, CLVAE_ERR_NOMEM, "out of host memory");
        goto out;
    }
    size_t D = clvae_objective_example_dim(model);
    if (noisy && (s = clvae_buf_alloc(ctx, batch * D, &clean, err))) goto out;
    for (size_t i = 0; i < n; i++) perm[i] = (uint32_t)i;
    if ((s = clvae_data_upload_indices(ctx, &idx, perm, n, dd->n, err))) goto out;
    double sums[3] = {0, 0, 0}, lp = 0, plain = 0;
    uint64_t offset = 0, per_call = clvae_rng_blocks(batch * J), noise_off = 0;
    for (size_t start = 0; start < n && !clvae_objective_stopped(model); start += batch) {
        size_t B = n - start < batch ? n - start : batch;
        /* with [noise]: clean images aside, the corrupted ones in the input */
        if ((s = clvae_data_gather(ctx, noisy ? clean : input, dd, idx, start, B, err)) ||
            (desc->conditional &&
             (s = clvae_labels_gather(ctx, clvae_objective_labels(model), labels, idx, start, B,
                                      err))) ||
            (noisy && (s = clvae_noise_apply(ctx, &desc->noise, input, clean, B * D, seed,
                                             noise_off, err))) ||
            (s = clvae_objective_forward(model, B, sample, seed, offset, clean, err)) ||
            (s = clvae_objective_example_losses(model, rec, kl, err)))
            goto out;
        offset += per_call;
        noise_off += clvae_rng_blocks(batch * D);
        for (size_t b = 0; b < B; b++) {
            sums[1] += rec[b];
            sums[2] += desc->variational ? kl[b] : 0.0;
        }
        for (int k = 0; k < iwae_k; k++) {
            if ((s = clvae_objective_forward(model, B, 1, seed ^ 0x1a3e5ULL, offset, clean, err)) ||
                (s = clvae_objective_example_losses(model, rec, NULL, err)) ||
                (s = clvae_objective_latents(model, NULL, lat + batch * J, lat + 2 * batch * J,
                                         lat + 3 * batch * J, err)))
                goto out;
            offset += per_call;
            for (size_t b = 0; b < B; b++) {
                const float *lv = lat + batch * J + b * J, *z = lat + 2 * batch * J + b * J;
                const float *e = lat + 3 * batch * J + b * J;
                double logq = log_normal(e, J);
                for (size_t j = 0; j < J; j++) logq -= 0.5 * lv[j];
                double logw = -(double)rec[b] + log_normal(z, J) - logq;
                if (k == 0) {
                    lse[b] = logw;
                } else {
                    double hi = fmax(lse[b], logw);
                    lse[b] = hi + log(exp(lse[b] - hi) + exp(logw - hi));
                }
            }
        }
        if (iwae_k > 0)
            for (size_t b = 0; b < B; b++) lp += lse[b] - log((double)iwae_k);
        if (noisy) {
            /* plain reconstruction: the clean images in, the same latent noise */
            if ((s = clvae_buf_copy(ctx, input, clean, B * D, err)) ||
                (s = clvae_objective_forward(model, B, sample, seed, offset - per_call, none, err)) ||
                (s = clvae_objective_example_losses(model, rec, NULL, err)))
                goto out;
            for (size_t b = 0; b < B; b++) plain += rec[b];
        }
    }
    out->n = n;
    out->recon = sums[1] / (double)n;
    out->kl = sums[2] / (double)n;
    out->plain_recon = noisy ? plain / (double)n : out->recon;
    /* the negative ELBO: beta = 1, whatever beta the training used */
    out->loss = out->recon + out->kl;
    out->iwae_k = iwae_k;
    out->log_px = iwae_k > 0 ? lp / (double)n : NAN;
out:
    if (idx) clReleaseMemObject(idx);
    clvae_buf_free(&clean);
    free(perm);
    free(rec);
    free(kl);
    free(lat);
    free(lse);
    return s;
}

static size_t label_classes(const clvae_model_desc_t *d) { return d->conditional; }

/* The batch's images into the input (a denoising model: into the target, and the input gets
 * them with noise of the stream (seed, step)); a conditional model's labels. */
clvae_status_t clvae_objective_autoencoder_load(clvae_objective_t *m,
                                               const clvae_data_dev_t *pixels,
                           const clvae_data_dev_t *labels, cl_mem idx, size_t start, size_t B,
                           long step, clvae_error_t *err)
{
    const clvae_model_desc_t *d = m->d;
    int noisy = d->noise.kind != CLVAE_NOISE_NONE;
    clvae_buf_t input = clvae_net_input(m->net);
    clvae_status_t s;
    if ((s = clvae_data_gather(m->ctx, noisy ? m->target_buf : input, pixels, idx, start, B,
                               err)) ||
        (d->conditional &&
         (s = clvae_labels_gather(m->ctx, clvae_net_labels(m->net), labels, idx, start, B, err))))
        return s;
    if (!noisy) return CLVAE_OK;
    uint64_t per_step = clvae_rng_blocks(m->max_batch * m->D);
    return clvae_noise_apply(m->ctx, &d->noise, input, m->target_buf, B * m->D, d->seed,
                             clvae_objective_stream_step(m, step) * per_step, err);
}

/* The forward of training step `step`: z = mu + sigma eps with eps of the stream (seed, step)
 * unless [train] sample_latent = 0; the target is the clean batch of a denoising model. */
static clvae_status_t train_forward(clvae_objective_t *m, size_t B, long step, clvae_error_t *err)
{
    const clvae_model_desc_t *d = m->d;
    uint64_t per_step = clvae_rng_blocks(m->max_batch * m->J);
    return clvae_objective_forward(m, B, d->sample_latent, d->seed,
                                   clvae_objective_stream_step(m, step) * per_step, m->target_buf,
                                   err);
}

/* The test pass: loss (the negative ELBO for a VAE, beta 1), reconstruction, KL. */
static clvae_status_t test(clvae_objective_t *m, const clvae_dataset_t *ds,
                           const clvae_data_dev_t *pixels, const clvae_data_dev_t *labels,
                           size_t n, size_t batch, double *values, clvae_error_t *err)
{
    (void)ds;
    const clvae_model_desc_t *d = m->d;
    clvae_eval_result_t ev;
    clvae_status_t s = clvae_evaluate_labels(m->ctx, m, d, pixels, d->conditional ? labels : NULL,
                                             n, batch, d->sample_latent, d->seed ^ 0x7e57ULL, 0,
                                             &ev, err);
    values[0] = ev.loss;
    values[1] = ev.recon;
    values[2] = ev.kl;
    return s;
}

static const char *const columns[] = {"loss", "recon", "kl", NULL};

const clvae_objective_kind_t clvae_objective_autoencoder = {
    .name = "autoencoder", .columns = columns,
    .can = CLVAE_CAN_RECONSTRUCT | CLVAE_CAN_ENCODE | CLVAE_CAN_DECODE,
    .losses = losses_forward, .loss_backward = clvae_objective_recon_backward, .label_classes = label_classes,
    .load = clvae_objective_autoencoder_load, .train_forward = train_forward, .test = test,
};
