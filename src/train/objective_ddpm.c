/* The diffusion objective (DDPM, Ho et al. 2020): a network predicts the noise eps of x_t =
 * sqrt(abar_t) x_0 + sqrt(1 - abar_t) eps at a step t drawn per example, trained by the MSE on
 * eps; sampling runs DDIM or ancestral DDPM on the device. */
#include <math.h>
#include <stdlib.h>

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
 * The network's input holds x_t, its times buffer t (as floats).
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
 * input and times (one kernel). */
static clvae_status_t load(clvae_objective_t *m, const clvae_data_dev_t *pixels,
                           const clvae_data_dev_t *labels, cl_mem idx, size_t start, size_t B,
                           long step, clvae_error_t *err)
{
    (void)labels;
    uint64_t off = (uint64_t)step * clvae_rng_blocks(m->max_batch * m->D);
    size_t n = B * m->D;
    clvae_status_t s;
    if ((s = clvae_data_gather(m->ctx, m->real, pixels, idx, start, B, err)) ||
        (s = clvae_affine_forward(m->ctx, m->real, m->real, 2.0f, -1.0f, n, err)) ||
        (s = clvae_rng_normal(m->ctx, m->target_buf, n, m->d->seed, off, err)))
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
    (void)d;
    return 0;
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

clvae_status_t clvae_objective_ddpm_set_sampler(clvae_objective_t *m,
                                                const clvae_ddpm_sampler_t *smp,
                                                clvae_error_t *err)
{
    clvae_status_t s = check_sampler(m, smp, err);
    if (!s) m->sampler = *smp;
    return s;
}

clvae_status_t clvae_objective_ddpm_sample(clvae_objective_t *m, size_t n, uint64_t seed,
                                           const clvae_ddpm_sampler_t *smp, float *out,
                                           clvae_error_t *err)
{
    if (!smp) smp = &m->sampler;
    clvae_status_t s = check_sampler(m, smp, err);
    if (s) return s;
    size_t T = m->sched.T, S = smp->ancestral ? T : smp->steps, D = m->D, mb = m->max_batch;
    clvae_buf_t x = clvae_net_input(m->net), eps = clvae_net_output(m->net, m->last, 0);
    clvae_buf_t times = clvae_net_times(m->net);
    uint64_t per = clvae_rng_blocks(mb * D), offset = 0;
    for (size_t st = 0; st < n && !s; st += mb) {
        size_t B = n - st < mb ? n - st : mb;
        m->B = B;
        s = clvae_rng_normal(m->ctx, x, B * D, seed, offset, err);
        offset += per;
        for (size_t k = S; k-- > 0 && !s;) {
            long t = smp->ancestral ? (long)k : clvae_schedule_tau(T, S, k);
            long tp = smp->ancestral ? (long)k - 1 : k ? clvae_schedule_tau(T, S, k - 1) : -1;
            double a, b, sg;
            clvae_schedule_step(&m->sched, t, tp, smp->eta, smp->ancestral, &a, &b, &sg);
            if ((s = clvae_fill_forward(m->ctx, times.mem, times.off, (float)t, B, err)) ||
                (s = clvae_net_forward(m->net, B, err)) ||
                (s = clvae_diffusion_step(m->ctx, x, eps, B * D, (float)a, (float)b, (float)sg,
                                          seed, offset, err)))
                break;
            offset += per;
        }
        if (!s) s = clvae_buf_download(m->ctx, out + st * D, x, B * D, err);
        for (size_t i = st * D; !s && i < (st + B) * D; i++) {
            float v = 0.5f * (out[i] + 1.0f);
            out[i] = v < 0.0f ? 0.0f : v > 1.0f ? 1.0f : v;
        }
    }
    return s;
}
