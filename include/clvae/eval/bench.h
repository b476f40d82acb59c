/* Benchmarks: training and sampling throughput of a model, per-layer device times, GEMM speed. */
#ifndef CLVAE_BENCH_H
#define CLVAE_BENCH_H

#include "clvae/device/blas.h"
#include "clvae/train/objective.h"

/* What clvae_bench_model measured. */
typedef struct clvae_bench_result {
    size_t batch;            /* examples per step */
    int steps;               /* timed steps (after warm-up) */
    double train_img_s;      /* training images per second (forward, backward, Adam) */
    double sample_img_s;     /* decoded images per second (a diffusion model: images per
                                second of its default sampler, DDIM over min(T, 50) steps) */
    double sample_pass_s;    /* a diffusion model: sampling steps per second per image (one
                                network pass and one step kernel each); 0 for the others */
    double train_gflop_s;    /* 3x the forward FLOPs per image, times train_img_s */
    double sample_gflop_s;   /* decoder FLOPs per image, times sample_img_s */
    size_t model_bytes;      /* device memory of the model */
    size_t workspace_bytes;  /* device memory of the op workspaces */
    double *fwd_ms, *bwd_ms; /* per layer, mean per step (NULL without profiling) */
    double copy_gb_s;        /* with profiling: clvae_bench_copy's bandwidth (else 0) */
    clvae_kernel_time_t *kernels; /* with profiling: device time by kernel over the profiled
                                     steps, all together (divide by steps); NULL without */
    int nkernels;
    clvae_counters_t train_counts;  /* what the timed training steps asked of the device, all
                                       `steps` together (divide for one step) */
    clvae_counters_t sample_counts; /* ... the timed sampling, its sample_calls together */
    int sample_calls;        /* decoding batches timed (`steps`); a diffusion model: the DDIM
                                run's steps; 0: no sampling (a classifier, a prior, a VQ-VAE) */
} clvae_bench_result_t;

/* Times `steps` training steps and `steps` decoding batches of the model on random inputs,
 * after two warm-up steps, and counts what they ask of the device (clvae_ctx_counters); with
 * profile (the context must have profiling on) also per-layer device times from events
 * between layers. */
clvae_status_t clvae_bench_model(clvae_ctx_t *ctx, const clvae_model_desc_t *desc, size_t batch,
                                 int steps, int profile, clvae_bench_result_t *out,
                                 clvae_error_t *err);

/* Records the GEMM calls one training step of the model makes at batch (the step bench
 * times, on the same inputs, with the context's parameters as they are), as clvae_gemm gets
 * them: each distinct call of each layer and pass once in *calls, counted (*n; free() it). */
clvae_status_t clvae_bench_record_calls(clvae_ctx_t *ctx, const clvae_model_desc_t *desc,
                                        size_t batch, clvae_gemm_shape_t **calls, int *n,
                                        clvae_error_t *err);

/* The device's copy bandwidth as a kernel sees it: one elementwise kernel reading 16 Mi floats
 * and writing 16 Mi others (fewer where the device's largest allocation is smaller), the
 * fastest of reps runs after one untimed, each waited for: *gb_s = bytes read + written per
 * second / 1e9. The yardstick for memory-bound layers in `bench --profile`. */
clvae_status_t clvae_bench_copy(clvae_ctx_t *ctx, int reps, double *gb_s, clvae_error_t *err);

/* Frees the per-layer arrays. */
void clvae_bench_result_free(clvae_bench_result_t *r);

/* Times the call s describes on a, b, c (large enough: clvae_gemm_shape_sizes): one call
 * (kernels built), then the fastest of reps calls, each waited for: *seconds. The timing
 * `clvae tune` and `clvae bench --gemm` share. */
clvae_status_t clvae_bench_gemm_time(clvae_ctx_t *ctx, const clvae_gemm_shape_t *s, clvae_buf_t a,
                                     clvae_buf_t b, clvae_buf_t c, int reps, double *seconds,
                                     clvae_error_t *err);

/* clvae_bench_gemm_time on operands of its own (values in [0, 1)): the device's speed at the
 * call as clvae makes it; GFLOP/s = clvae_gemm_shape_flops(s) / *seconds / 1e9. */
clvae_status_t clvae_bench_gemm(clvae_ctx_t *ctx, const clvae_gemm_shape_t *s, int reps,
                                double *seconds, clvae_error_t *err);

#endif
