/* Benchmarks: model throughput from wall-clock over whole steps, layer times from events. */
#include "clvae/eval/bench.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "clvae/device/blas.h"
#include "clvae/ops/basic.h"
#include "clvae/ops/rng.h"
#include "clvae/io/clock.h"


/* A prior's targets: code maps into a new buffer *out (img: host scratch of batch x P floats;
 * the input stays random: only time counts). */
static clvae_status_t prior_targets(clvae_ctx_t *ctx, const clvae_model_desc_t *d, size_t batch,
                                    float *img, clvae_buf_t *out, clvae_error_t *err)
{
    size_t P = d->layers[0].out_h * d->layers[0].out_w, Kc = d->layers[0].out_c;
    for (size_t i = 0; i < batch * P; i++) img[i] = (float)((i * 7) % Kc);
    clvae_status_t s = clvae_buf_alloc(ctx, batch * P, out, err);
    return s ? s : clvae_buf_upload(ctx, *out, img, batch * P, err);
}

/* A diffusion model's sampling: one batch through DDIM over `steps` steps (at least 2, at most
 * T; *S gets how many), a conditional model's with label 0. */
static clvae_status_t ddpm_sampling(clvae_objective_t *m, const clvae_model_desc_t *d,
                                    size_t batch, int steps, float *img, size_t *S,
                                    clvae_error_t *err)
{
    *S = (size_t)steps < 2 ? 2 : (size_t)steps;
    if (*S > d->diff_steps) *S = d->diff_steps;
    clvae_ddpm_sampler_t smp = {*S, 0.0f, 0, 1.0f, 1};
    int *lab = d->conditional ? calloc(batch, sizeof *lab) : NULL;
    if (d->conditional && !lab) return CLVAE_FAIL(err, CLVAE_ERR_NOMEM, "out of host memory");
    clvae_status_t s = clvae_objective_ddpm_sample(m, batch, 1, &smp, lab, img, err);
    free(lab);
    return s;
}

void clvae_bench_result_free(clvae_bench_result_t *r)
{
    free(r->fwd_ms);
    free(r->bwd_ms);
    r->fwd_ms = r->bwd_ms = NULL;
    free(r->kernels);
    r->kernels = NULL;
    r->nkernels = 0;
}

/* One training step on the input as it is: forward, backward, optimizer step (a GAN: its own
 * step of both networks). */
static clvae_status_t bench_step(clvae_objective_t *m, const clvae_model_desc_t *d, size_t batch,
                                 long step, clvae_buf_t target, clvae_error_t *err)
{
    clvae_status_t s;
    if (d->gan) return clvae_objective_train_step(m, batch, step, NULL, NULL, err);
    if ((s = clvae_objective_forward(m, batch, d->sample_latent, 1, (uint64_t)step, target, err)) ||
        (s = clvae_objective_backward(m, err)))
        return s;
    return clvae_objective_step(m, step, err);
}

/* A model made ready for bench steps: random inputs (a GAN's: z), labels and targets as its
 * kind wants them. */
typedef struct bench_run {
    clvae_objective_t *m;
    float *z, *img;     /* latents [batch, J]; host scratch of [batch, D] floats */
    clvae_buf_t target; /* the forward pass's target: none, a classifier's labels or a prior's
                           code maps */
} bench_run_t;

static void bench_close(bench_run_t *b)
{
    clvae_buf_free(&b->target);
    free(b->z);
    free(b->img);
    clvae_objective_free(b->m);
    memset(b, 0, sizeof *b);
}

static clvae_status_t bench_open(clvae_ctx_t *ctx, const clvae_model_desc_t *d, size_t batch,
                                 bench_run_t *b, clvae_error_t *err)
{
    memset(b, 0, sizeof *b);
    clvae_status_t s = clvae_objective_init(&b->m, ctx, d, batch, err);
    if (s) return s;
    size_t D = clvae_objective_example_dim(b->m), J = clvae_objective_latent_dim(b->m);
    float *x = malloc(batch * D * sizeof *x);
    b->z = malloc(batch * J * sizeof *b->z);
    b->img = malloc(batch * D * sizeof *b->img);
    if (!x || !b->z || !b->img) {
        free(x);
        bench_close(b);
        return CLVAE_FAIL(err, CLVAE_ERR_NOMEM, "out of host memory");
    }
    clvae_rng_uniform_host(x, batch * D, 11, 0);
    clvae_rng_normal_host(b->z, batch * J, 12, 0);
    if (!(s = clvae_objective_init_params(b->m, 1, err)))
        s = clvae_buf_upload(ctx, clvae_objective_input(b->m), d->gan ? b->z : x,
                             batch * (d->gan ? J : D), err); /* a GAN's input is z */
    free(x);
    /* labels: a classifier's targets, a conditional model's inputs (class i mod K) */
    size_t K = d->classes > 0 ? (size_t)d->classes : d->conditional;
    if (!s && K) {
        for (size_t i = 0; i < batch; i++) b->img[i] = (float)(i % K);
        if (d->classes) s = clvae_buf_alloc(ctx, batch, &b->target, err);
        if (!s)
            s = clvae_buf_upload(ctx, d->classes ? b->target : clvae_objective_labels(b->m),
                                 b->img, batch, err);
    }
    if (!s && d->prior) s = prior_targets(ctx, d, batch, b->img, &b->target, err);
    if (s) bench_close(b);
    return s;
}

clvae_status_t clvae_bench_record_calls(clvae_ctx_t *ctx, const clvae_model_desc_t *d,
                                        size_t batch, clvae_gemm_shape_t **calls, int *n,
                                        clvae_error_t *err)
{
    *calls = NULL;
    *n = 0;
    bench_run_t b;
    clvae_status_t s = bench_open(ctx, d, batch, &b, err);
    if (s) return s;
    if (!(s = clvae_gemm_record_start(ctx, err))) {
        clvae_status_t s2;
        s = bench_step(b.m, d, batch, 1, b.target, err);
        s2 = clvae_gemm_record_stop(ctx, calls, n, s ? NULL : err);
        if (!s) s = s2;
    }
    if (!s) s = clvae_ctx_finish(ctx, err);
    bench_close(&b);
    if (s) {
        free(*calls);
        *calls = NULL;
        *n = 0;
    }
    return s;
}

/* The timed sampling: `steps` decoding batches (a model that decodes), a diffusion model's
 * DDIM run; *seconds, the calls (the DDIM run's steps) into out->sample_calls and what they
 * asked of the device into out->sample_counts. */
static clvae_status_t time_sampling(clvae_ctx_t *ctx, bench_run_t *b, const clvae_model_desc_t *d,
                                    size_t batch, int steps, size_t *S, double *seconds,
                                    clvae_bench_result_t *out, clvae_error_t *err)
{
    clvae_status_t s = CLVAE_OK;
    int decodes = (clvae_objective_can(d) & CLVAE_CAN_DECODE) != 0; /* a classifier does not */
    clvae_ctx_counters_reset(ctx);
    double t0 = clvae_seconds();
    for (int i = 0; i < steps && decodes && !s; i++)
        s = clvae_objective_decode(b->m, b->z, batch, b->img, err);
    if (!s && d->ddpm) s = ddpm_sampling(b->m, d, batch, steps, b->img, S, err);
    *seconds = clvae_seconds() - t0;
    clvae_ctx_counters(ctx, &out->sample_counts);
    out->sample_calls = d->ddpm ? (int)*S : decodes ? steps : 0;
    return s;
}

/* --profile: per-layer device times over `steps` more steps, mean per step in ms, into out. */
static clvae_status_t profile_layers(bench_run_t *b, const clvae_model_desc_t *d, size_t batch,
                                     int steps, long step, clvae_bench_result_t *out,
                                     clvae_error_t *err)
{
    double *fwd = calloc((size_t)d->nlayers, sizeof *fwd);
    double *bwd = calloc((size_t)d->nlayers, sizeof *bwd);
    clvae_status_t s = fwd && bwd ? clvae_objective_profile(b->m, 1, err)
                                  : CLVAE_FAIL(err, CLVAE_ERR_NOMEM, "out of host memory");
    clvae_ctx_t *ctx = clvae_objective_ctx(b->m);
    if (!s) s = clvae_ctx_kernel_profile(ctx, 1, err);
    for (int i = 0; i < steps && !s; i++, step++)
        if (!(s = bench_step(b->m, d, batch, step, b->target, err)) &&
            !(s = clvae_objective_profile_read(b->m, fwd, bwd, err)))
            s = clvae_ctx_kernel_times(ctx, &out->kernels, &out->nkernels, err);
    clvae_ctx_kernel_profile(ctx, 0, NULL);
    if (s) {
        free(fwd);
        free(bwd);
        return s;
    }
    for (int i = 0; i < d->nlayers; i++) {
        fwd[i] /= 1e6 * steps;
        bwd[i] /= 1e6 * steps;
    }
    out->fwd_ms = fwd;
    out->bwd_ms = bwd;
    return CLVAE_OK;
}

clvae_status_t clvae_bench_model(clvae_ctx_t *ctx, const clvae_model_desc_t *d, size_t batch,
                                 int steps, int profile, clvae_bench_result_t *out,
                                 clvae_error_t *err)
{
    memset(out, 0, sizeof *out);
    if (steps < 1) return CLVAE_FAIL(err, CLVAE_ERR_INVALID, "bench needs at least one step");
    if (profile && d->gan)
        return CLVAE_FAIL(err, CLVAE_ERR_INVALID, "--profile times the layers of one network; a "
                          "GAN has two (bench it without --profile)");
    bench_run_t b;
    clvae_status_t s = bench_open(ctx, d, batch, &b, err);
    if (s) return s;
    long step = 1;
    for (; step <= 2; step++) /* warm-up: kernels built, workspaces grown */
        if ((s = bench_step(b.m, d, batch, step, b.target, err))) goto out;
    if ((s = clvae_ctx_finish(ctx, err))) goto out;
    clvae_ctx_counters_reset(ctx);
    double t0 = clvae_seconds();
    for (int i = 0; i < steps; i++, step++)
        if ((s = bench_step(b.m, d, batch, step, b.target, err))) goto out;
    clvae_ctx_counters(ctx, &out->train_counts); /* before bench's own wait */
    if ((s = clvae_ctx_finish(ctx, err))) goto out;
    double t1 = clvae_seconds(), ts = 0;
    size_t S = 0;
    if ((s = time_sampling(ctx, &b, d, batch, steps, &S, &ts, out, err))) goto out;
    double flops = clvae_model_flops(d), dec = 0;
    for (int i = d->latent + 1; i < d->nlayers; i++) dec += d->layers[i].flops;
    out->batch = batch;
    out->steps = steps;
    out->train_img_s = (double)(batch * (size_t)steps) / (t1 - t0);
    out->sample_img_s = d->classes ? 0 : (double)(batch * (size_t)steps) / ts;
    if (d->ddpm) {
        out->sample_pass_s = (double)(batch * S) / ts;
        out->sample_img_s = out->sample_pass_s / (double)(d->diff_steps < 50 ? d->diff_steps : 50);
        dec = flops * (double)(d->diff_steps < 50 ? d->diff_steps : 50);
    }
    /* a GAN's step: G forward and backward, D forward and backward three times (fakes, real
     * images, fakes again for G's gradient) */
    double train_flops = d->gan ? 3.0 * flops + 9.0 * clvae_model_flops(d->disc) : 3.0 * flops;
    out->train_gflop_s = out->train_img_s * train_flops / 1e9;
    out->sample_gflop_s = out->sample_img_s * dec / 1e9;
    out->model_bytes = clvae_objective_device_bytes(b.m);
    out->workspace_bytes = clvae_workspace_bytes(ctx);
    if (profile) s = profile_layers(&b, d, batch, steps, step, out, err);
    if (profile && !s) s = clvae_bench_copy(ctx, 5, &out->copy_gb_s, err);
out:
    bench_close(&b);
    return s;
}

clvae_status_t clvae_bench_gemm_time(clvae_ctx_t *ctx, const clvae_gemm_shape_t *s, clvae_buf_t a,
                                     clvae_buf_t b, clvae_buf_t c, int reps, double *seconds,
                                     clvae_error_t *err)
{
    double best = INFINITY;
    *seconds = 0;
    for (int r = -1; r < reps; r++) {
        double t0 = clvae_seconds();
        clvae_status_t st = clvae_gemm_shape_run(ctx, s, a, b, c, err);
        if (!st) st = clvae_ctx_finish(ctx, err);
        if (st) return st;
        double dt = clvae_seconds() - t0;
        if (r >= 0 && dt < best) best = dt;
    }
    *seconds = reps > 0 ? best : 0;
    return CLVAE_OK;
}

clvae_status_t clvae_bench_gemm(clvae_ctx_t *ctx, const clvae_gemm_shape_t *s, int reps,
                                double *seconds, clvae_error_t *err)
{
    clvae_buf_t buf[3] = {{0}, {0}, {0}};
    size_t n[3];
    clvae_gemm_shape_sizes(s, &n[0], &n[1], &n[2]);
    size_t most = n[0] > n[1] ? n[0] : n[1];
    if (n[2] > most) most = n[2];
    *seconds = 0;
    float *host = malloc(most * sizeof *host);
    clvae_status_t st = host ? CLVAE_OK : CLVAE_FAIL(err, CLVAE_ERR_NOMEM, "out of host memory");
    for (int j = 0; j < 3 && !st; j++) {
        clvae_rng_uniform_host(host, n[j], 1 + (uint64_t)j, 0);
        if (!(st = clvae_buf_alloc(ctx, n[j], &buf[j], err)))
            st = clvae_buf_upload(ctx, buf[j], host, n[j], err);
    }
    free(host);
    if (!st) st = clvae_bench_gemm_time(ctx, s, buf[0], buf[1], buf[2], reps, seconds, err);
    for (int j = 0; j < 3; j++) clvae_buf_free(&buf[j]);
    return st;
}

clvae_status_t clvae_bench_copy(clvae_ctx_t *ctx, int reps, double *gb_s, clvae_error_t *err)
{
    size_t n = (size_t)16 << 20, most = (size_t)clvae_ctx_device(ctx)->max_alloc / sizeof(float);
    if (n > most) n = most;
    clvae_buf_t x = {0}, y = {0};
    double best = INFINITY;
    *gb_s = 0;
    clvae_status_t st = clvae_buf_alloc(ctx, n, &x, err);
    if (!st) st = clvae_buf_alloc(ctx, n, &y, err);
    if (!st) st = clvae_fill_forward(ctx, x.mem, x.off, 0.5f, n, err);
    for (int r = -1; r < reps && !st; r++) {
        if ((st = clvae_ctx_finish(ctx, err))) break;
        double t0 = clvae_seconds();
        st = clvae_affine_forward(ctx, y, x, 1.0f, 0.0f, n, err);
        if (!st) st = clvae_ctx_finish(ctx, err);
        double dt = clvae_seconds() - t0;
        if (!st && r >= 0 && dt < best) best = dt;
    }
    clvae_buf_free(&x);
    clvae_buf_free(&y);
    if (!st && reps > 0) *gb_s = 2.0 * (double)n * sizeof(float) / best / 1e9;
    return st;
}
