/* The diffusion objective (DDPM, Ho et al. 2020): a network predicts the noise eps of x_t =
 * sqrt(abar_t) x_0 + sqrt(1 - abar_t) eps at a step t drawn per example, trained by the MSE on
 * eps; sampling runs DDIM or ancestral DDPM on the device. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "clvae/data/labels.h"
#include "clvae/ops/basic.h"
#include "clvae/ops/diffusion.h"
#include "clvae/ops/reduce.h"
#include "clvae/ops/rng.h"
#include "train/objective_internal.h"

/*
 * Shape key: B examples, D values per image, T steps.
 *   real        [max_batch, D]  the batch's clean images x_0 in [-1, 1]
 *   target_buf  [max_batch, D]  the noise eps (the network's target)
 *   coef        [T, 2]          sqrt(abar_t), sqrt(1 - abar_t)
 * The network's input holds x_t, its times buffer t (as floats), a conditional model's labels
 * buffer the classes (K: none, classifier-free guidance's null class).
 */

enum { LOSS, MSE };
static const char *const columns[] = {"loss", "mse", NULL};

clvae_status_t clvae_objective_ddpm_setup(clvae_objective_t *m, clvae_error_t *err)
{
    const clvae_model_desc_t *d = m->d;
    size_t T = d->diff_steps;
    clvae_status_t s = clvae_schedule_init(&m->sched, d->diff_schedule, T, d->diff_beta_start,
                                           d->diff_beta_end, err);
    if (s) return s;
    m->sampler.steps = T < 50 ? T : 50;
    m->sampler.eta = 0.0f;
    m->sampler.ancestral = 0;
    m->sampler.guidance = 1.0f;
    m->sampler.clip = 1;
    float *coef = malloc(2 * T * sizeof *coef);
    if (!coef) return CLVAE_FAIL(err, CLVAE_ERR_NOMEM, "out of host memory");
    clvae_diffusion_coef(&m->sched, coef);
    s = clvae_objective_alloc(m, 2 * T, &m->coef, err);
    if (!s) s = clvae_buf_upload(m->ctx, m->coef, coef, 2 * T, err);
    free(coef);
    if (!s) s = clvae_objective_alloc(m, m->max_batch * m->D, &m->real, err);
    return s;
}

/* losses = [loss, mse]: the batch mean of the per-example MSE on eps (mse_mean: the mean over
 * the pixels; mse_sum: their sum), both columns the same value; per example in rec_ex. */
static clvae_status_t losses(clvae_objective_t *m, clvae_error_t *err)
{
    clvae_reduce_shape_t one = {1, 1, m->B, 0, 0};
    clvae_status_t s = clvae_objective_recon_forward(m, err);
    return s ? s : clvae_reduce_forward(m->ctx, m->losses, m->rec_ex, CLVAE_REDUCE_SUM,
                                        1.0f / (float)m->B, 0.0f, one, err);
}

/* The batch: x_0 = 2 x - 1 into real, eps of the normal stream (seed, step * per_step) into
 * target_buf, then t of the uniform stream (seed, the same offset) and x_t into the network's
 * input and times (one kernel); a conditional model's labels, each dropped to the null class
 * with probability [diffusion] uncond (uniforms of the stream (seed, that offset + the blocks
 * of max_batch)). */
static clvae_status_t load(clvae_objective_t *m, const clvae_data_dev_t *pixels,
                           const clvae_data_dev_t *labels, cl_mem idx, size_t start, size_t B,
                           long step, clvae_error_t *err)
{
    uint64_t off = clvae_objective_stream_step(m, step) * clvae_rng_blocks(m->max_batch * m->D);
    size_t n = B * m->D, K = m->d->conditional;
    clvae_status_t s;
    if ((s = clvae_data_gather(m->ctx, m->real, pixels, idx, start, B, err)) ||
        (s = clvae_affine_forward(m->ctx, m->real, m->real, 2.0f, -1.0f, n, err)) ||
        (s = clvae_rng_normal(m->ctx, m->target_buf, n, m->d->seed, off, err)))
        return s;
    if (K && ((s = clvae_labels_gather(m->ctx, clvae_net_labels(m->net), labels, idx, start, B,
                                       err)) ||
              (s = clvae_diffusion_drop_labels(m->ctx, clvae_net_labels(m->net), B, K,
                                               m->d->diff_uncond, m->d->seed,
                                               off + clvae_rng_blocks(m->max_batch), err))))
        return s;
    return clvae_diffusion_noisy(m->ctx, clvae_net_input(m->net), clvae_net_times(m->net),
                                 m->real, m->target_buf, m->coef, B, m->D, m->d->diff_steps,
                                 m->d->seed, off, err);
}

static clvae_status_t train_forward(clvae_objective_t *m, size_t B, long step, clvae_error_t *err)
{
    (void)step;
    return clvae_objective_forward(m, B, 0, 0, 0, m->target_buf, err);
}

static size_t label_classes(const clvae_model_desc_t *d)
{
    return d->conditional;
}

const clvae_objective_kind_t clvae_objective_ddpm = {
    .name = "ddpm", .columns = columns, .can = CLVAE_CAN_SAMPLE,
    .losses = losses, .loss_backward = clvae_objective_recon_backward,
    .label_classes = label_classes, .load = load, .train_forward = train_forward,
    .test = clvae_objective_test_means,
};

/* The sampler's check against T. */
static clvae_status_t check_sampler(const clvae_objective_t *m, const clvae_ddpm_sampler_t *smp,
                                    clvae_error_t *err)
{
    if (!m->d->ddpm)
        return CLVAE_FAIL(err, CLVAE_ERR_INVALID, "%s is not a diffusion model: it has no "
                          "sampling steps", m->d->name);
    if (smp->ancestral) return CLVAE_OK;
    if (smp->steps < 2 || smp->steps > m->sched.T)
        return CLVAE_FAIL(err, CLVAE_ERR_INVALID, "%zu sampling steps: want 2 to T = %zu",
                          smp->steps, m->sched.T);
    if (!(smp->eta >= 0.0f && smp->eta <= 1.0f))
        return CLVAE_FAIL(err, CLVAE_ERR_INVALID, "eta %g: want 0 to 1", (double)smp->eta);
    return CLVAE_OK;
}

/* The guidance scale against the model (also for ancestral sampling). */
static clvae_status_t check_guidance(const clvae_objective_t *m, const clvae_ddpm_sampler_t *smp,
                                     clvae_error_t *err)
{
    if (!(smp->guidance >= 0.0f && smp->guidance <= 100.0f))
        return CLVAE_FAIL(err, CLVAE_ERR_INVALID, "guidance %g: want 0 to 100",
                          (double)smp->guidance);
    if (smp->guidance != 1.0f && !m->d->conditional)
        return CLVAE_FAIL(err, CLVAE_ERR_INVALID, "guidance %g: %s is not conditional (its "
                          "config has no [model] conditional = K), so there is nothing to guide",
                          (double)smp->guidance, m->d->name);
    return CLVAE_OK;
}

clvae_status_t clvae_objective_ddpm_set_sampler(clvae_objective_t *m,
                                                const clvae_ddpm_sampler_t *smp,
                                                clvae_error_t *err)
{
    clvae_status_t s = check_sampler(m, smp, err);
    if (!s) s = check_guidance(m, smp, err);
    if (!s) m->sampler = *smp;
    return s;
}

/* The network's eps for the x_t in its input at step t: one forward, or with guidance g != 1 two
 * (the labels', kept aside in cond, then the null class's) mixed eps_u + g (eps_c - eps_u),
 * the labels put back after; g = 0: the null class's alone. */
static clvae_status_t predict(clvae_objective_t *m, size_t B, float g, clvae_buf_t cond,
                              clvae_buf_t labels_kept, clvae_error_t *err)
{
    clvae_buf_t eps = clvae_net_output(m->net, m->last, 0), labels = clvae_net_labels(m->net);
    float null_class = (float)m->d->conditional;
    size_t n = B * m->D;
    clvae_status_t s;
    if (g == 1.0f) return clvae_net_forward(m->net, B, err);
    if (g != 0.0f && ((s = clvae_net_forward(m->net, B, err)) ||
                      (s = clvae_buf_copy(m->ctx, cond, eps, n, err))))
        return s;
    if ((s = clvae_fill_forward(m->ctx, labels.mem, labels.off, null_class, B, err)) ||
        (s = clvae_net_forward(m->net, B, err)) ||
        (g != 0.0f && (s = clvae_diffusion_guide(m->ctx, eps, cond, n, g, err))))
        return s;
    return clvae_buf_copy(m->ctx, labels, labels_kept, B, err);
}

/* Frames of a chain: after `done` of the S steps for done = round(f S / (F - 1)), f < F, x
 * into out [F, B, D] (as drawn, not scaled) and the step t it holds into t_of [F] (T for x_T). */
typedef struct chain_frames {
    size_t F;
    float *out;
    long *t_of;
} chain_frames_t;

/* Copies x into the frames that end after `done` steps (x holds step t). */
static clvae_status_t snap(clvae_objective_t *m, const chain_frames_t *fr, size_t S, size_t done,
                           size_t B, long t, clvae_error_t *err)
{
    for (size_t f = 0; fr && f < fr->F; f++) {
        size_t at = (size_t)floor((double)f * (double)S / (double)(fr->F - 1) + 0.5);
        if (at != done) continue;
        clvae_status_t s = clvae_buf_download(m->ctx, fr->out + f * B * m->D,
                                              clvae_net_input(m->net), B * m->D, err);
        if (s) return s;
        fr->t_of[f] = t;
    }
    return CLVAE_OK;
}

/* Inpainting: the known values of x0 [B, D] (in [-1, 1]) forward-noised to the step x holds and
 * put over x (RePaint's replacement, without its resampling), with noise from the stream
 * (seed, offset) of their own. */
typedef struct ddpm_known {
    clvae_buf_t x0, known, tmp;
    uint64_t seed, offset;
} ddpm_known_t;

/* x's known values := sqrt(abar_t) x0 + sqrt(1 - abar_t) z (t < 0: x0 itself). */
static clvae_status_t put_known(clvae_objective_t *m, ddpm_known_t *kn, size_t B, long t,
                                clvae_error_t *err)
{
    if (!kn) return CLVAE_OK;
    size_t n = B * m->D;
    double ab = t < 0 ? 1.0 : m->sched.abar[t];
    /* the step kernel with x0 = x (c0 1, c1 0): p x0 + sigma z */
    clvae_step_coef_t c = {1.0, 0.0, sqrt(ab), 0.0, t < 0 ? 0.0 : sqrt(1.0 - ab)};
    clvae_buf_t x = clvae_net_input(m->net);
    clvae_status_t s;
    if ((s = clvae_buf_copy(m->ctx, kn->tmp, kn->x0, n, err)) ||
        (s = clvae_diffusion_step(m->ctx, kn->tmp, kn->x0, n, &c, 0.0f, kn->seed, kn->offset,
                                  err)))
        return s;
    kn->offset += clvae_rng_blocks(m->max_batch * m->D);
    return clvae_select_forward(m->ctx, x, kn->known, kn->tmp, x, n, err);
}

/* Batch [st, st + B) of a sampling run: x_T, then every step on the device (frames: NULL, or
 * the chain's snapshots, one readback each; kn: NULL, or inpainting's known values). */
static clvae_status_t sample_batch(clvae_objective_t *m, size_t B, uint64_t seed, uint64_t *offset,
                                   const clvae_ddpm_sampler_t *smp, clvae_buf_t cond,
                                   clvae_buf_t labels_kept, const chain_frames_t *frames,
                                   ddpm_known_t *kn, clvae_error_t *err)
{
    size_t T = m->sched.T, S = smp->ancestral ? T : smp->steps, D = m->D;
    clvae_buf_t x = clvae_net_input(m->net), eps = clvae_net_output(m->net, m->last, 0);
    clvae_buf_t times = clvae_net_times(m->net);
    uint64_t per = clvae_rng_blocks(m->max_batch * D);
    clvae_status_t s = clvae_rng_normal(m->ctx, x, B * D, seed, *offset, err);
    *offset += per;
    if (!s) s = put_known(m, kn, B, (long)T - 1, err);
    if (!s) s = snap(m, frames, S, 0, B, (long)T, err);
    for (size_t k = S; k-- > 0 && !s;) {
        long t = smp->ancestral ? (long)k : clvae_schedule_tau(T, S, k);
        long tp = smp->ancestral ? (long)k - 1 : k ? clvae_schedule_tau(T, S, k - 1) : -1;
        clvae_step_coef_t c;
        clvae_schedule_step(&m->sched, t, tp, smp->eta, smp->ancestral, &c);
        if ((s = clvae_fill_forward(m->ctx, times.mem, times.off, (float)t, B, err)) ||
            (s = predict(m, B, smp->guidance, cond, labels_kept, err)) ||
            (s = clvae_diffusion_step(m->ctx, x, eps, B * D, &c, smp->clip ? 1.0f : 0.0f,
                                      seed, *offset, err)) ||
            (s = put_known(m, kn, B, tp, err)) ||
            (s = snap(m, frames, S, S - k, B, tp, err)))
            break;
        *offset += per;
    }
    return s;
}

/* Inpainting's buffers (one batch); its noise streams' key: the sampling seed's, changed. */
static clvae_status_t known_open(clvae_objective_t *m, ddpm_known_t *kn, uint64_t seed,
                                 clvae_error_t *err)
{
    size_t n = m->max_batch * m->D;
    memset(kn, 0, sizeof *kn);
    kn->seed = seed ^ 0x6b6e6f776e000000ULL;
    clvae_status_t s = clvae_buf_alloc(m->ctx, n, &kn->x0, err);
    if (!s) s = clvae_buf_alloc(m->ctx, n, &kn->known, err);
    if (!s) s = clvae_buf_alloc(m->ctx, n, &kn->tmp, err);
    return s;
}

static void known_free(ddpm_known_t *kn)
{
    clvae_buf_free(&kn->x0);
    clvae_buf_free(&kn->known);
    clvae_buf_free(&kn->tmp);
}

/* A batch's known images x [B, D] in [0, 1] (as 2 x - 1, through h) and mask onto the device. */
static clvae_status_t known_load(clvae_objective_t *m, ddpm_known_t *kn, const float *x,
                                 const float *known, size_t B, float *h, clvae_error_t *err)
{
    for (size_t i = 0; i < B * m->D; i++) h[i] = 2.0f * x[i] - 1.0f;
    clvae_status_t s = clvae_buf_upload(m->ctx, kn->x0, h, B * m->D, err);
    return s ? s : clvae_buf_upload(m->ctx, kn->known, known, B * m->D, err);
}

/* n samples into out, or with frames (n up to a batch) the chain's frames too, or with xk
 * (inpainting) the known values of xk [n, D] where known [n, D] is not 0 kept at every step. */
static clvae_status_t sample_run(clvae_objective_t *m, size_t n, uint64_t seed,
                                 const clvae_ddpm_sampler_t *smp, const int *labels, float *out,
                                 const chain_frames_t *frames, const float *xk,
                                 const float *known, clvae_error_t *err)
{
    if (!smp) smp = &m->sampler;
    size_t D = m->D, mb = m->max_batch, K = m->d->conditional;
    clvae_status_t s = check_sampler(m, smp, err);
    if (!s) s = check_guidance(m, smp, err);
    if (s) return s;
    if (K && !labels)
        return CLVAE_FAIL(err, CLVAE_ERR_INVALID, "%s is a conditional model: it samples with a "
                          "label for each image", m->d->name);
    if (!K && labels)
        return CLVAE_FAIL(err, CLVAE_ERR_INVALID, "%s is not a conditional model: it samples "
                          "without labels", m->d->name);
    for (size_t i = 0; labels && i < n; i++)
        if (labels[i] < 0 || (size_t)labels[i] >= K)
            return CLVAE_FAIL(err, CLVAE_ERR_INVALID, "label %d of sample %zu: want 0 to %zu",
                              labels[i], i, K - 1);
    /* guidance keeps the conditional eps and the labels aside (workspace-free: own buffers) */
    int guided = K && smp->guidance != 1.0f;
    clvae_buf_t cond = {0}, kept = {0};
    ddpm_known_t kn;
    memset(&kn, 0, sizeof kn);
    float *fl = K ? malloc(mb * sizeof *fl) : NULL, *h = xk ? malloc(mb * D * sizeof *h) : NULL;
    if ((K && !fl) || (xk && !h)) s = CLVAE_FAIL(err, CLVAE_ERR_NOMEM, "out of host memory");
    if (!s && guided && !(s = clvae_buf_alloc(m->ctx, mb * D, &cond, err)))
        s = clvae_buf_alloc(m->ctx, mb, &kept, err);
    if (!s && xk) s = known_open(m, &kn, seed, err);
    uint64_t offset = 0;
    for (size_t st = 0; st < n && !s; st += mb) {
        size_t B = n - st < mb ? n - st : mb;
        m->B = B;
        for (size_t b = 0; K && b < B; b++) fl[b] = (float)labels[st + b];
        if (K && ((s = clvae_buf_upload(m->ctx, clvae_net_labels(m->net), fl, B, err)) ||
                  (guided && (s = clvae_buf_upload(m->ctx, kept, fl, B, err)))))
            break;
        if (xk && (s = known_load(m, &kn, xk + st * D, known + st * D, B, h, err))) break;
        if ((s = sample_batch(m, B, seed, &offset, smp, cond, kept, frames, xk ? &kn : NULL,
                              err)) ||
            (s = clvae_buf_download(m->ctx, out + st * D, clvae_net_input(m->net), B * D, err)))
            break;
        for (size_t i = st * D; i < (st + B) * D; i++) {
            float v = 0.5f * (out[i] + 1.0f);
            out[i] = v < 0.0f ? 0.0f : v > 1.0f ? 1.0f : v;
        }
    }
    clvae_buf_free(&cond);
    clvae_buf_free(&kept);
    known_free(&kn);
    free(fl);
    free(h);
    return s;
}

clvae_status_t clvae_objective_ddpm_sample(clvae_objective_t *m, size_t n, uint64_t seed,
                                           const clvae_ddpm_sampler_t *smp, const int *labels,
                                           float *out, clvae_error_t *err)
{
    return sample_run(m, n, seed, smp, labels, out, NULL, NULL, NULL, err);
}

clvae_status_t clvae_objective_ddpm_inpaint(clvae_objective_t *m, size_t n, uint64_t seed,
                                            const clvae_ddpm_sampler_t *smp, const int *labels,
                                            const float *x, const float *known, float *out,
                                            clvae_error_t *err)
{
    if (!m->d->ddpm)
        return CLVAE_FAIL(err, CLVAE_ERR_INVALID, "%s is not a diffusion model", m->d->name);
    return sample_run(m, n, seed, smp, labels, out, NULL, x, known, err);
}

clvae_status_t clvae_objective_ddpm_chain(clvae_objective_t *m, size_t n, uint64_t seed,
                                          const clvae_ddpm_sampler_t *smp, const int *labels,
                                          size_t F, float *frames, long *t_of, clvae_error_t *err)
{
    if (!smp) smp = &m->sampler;
    size_t S = smp->ancestral ? m->sched.T : smp->steps;
    if (n == 0 || n > m->max_batch)
        return CLVAE_FAIL(err, CLVAE_ERR_INVALID, "a chain of %zu samples: want 1 to %zu (one "
                          "batch)", n, m->max_batch);
    if (F < 2 || F > S + 1)
        return CLVAE_FAIL(err, CLVAE_ERR_INVALID, "%zu frames of a chain of %zu steps: want 2 to "
                          "%zu", F, S, S + 1);
    float *last = malloc(n * m->D * sizeof *last);
    if (!last) return CLVAE_FAIL(err, CLVAE_ERR_NOMEM, "out of host memory");
    chain_frames_t fr = {F, frames, t_of};
    clvae_status_t s = sample_run(m, n, seed, smp, labels, last, &fr, NULL, NULL, err);
    for (size_t i = 0; !s && i < F * n * m->D; i++) {
        float v = 0.5f * (frames[i] + 1.0f);
        frames[i] = v < 0.0f ? 0.0f : v > 1.0f ? 1.0f : v;
    }
    free(last);
    return s;
}
