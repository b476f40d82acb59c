/* Benchmarks: training and sampling throughput of a model, per-layer device times, GEMM speed. */
#ifndef CLVAE_BENCH_H
#define CLVAE_BENCH_H

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
} clvae_bench_result_t;

/* Times `steps` training steps and `steps` decoding batches of the model on random inputs,
 * after two warm-up steps; with profile (the context must have profiling on) also per-layer
 * device times from events between layers. */
clvae_status_t clvae_bench_model(clvae_ctx_t *ctx, const clvae_model_desc_t *desc, size_t batch,
                                 int steps, int profile, clvae_bench_result_t *out,
                                 clvae_error_t *err);

/* Frees the per-layer arrays. */
void clvae_bench_result_free(clvae_bench_result_t *r);

/* GFLOP/s of C[m,n] = A[m,k] B[k,n] (row-major, no transposes) over reps runs, after one
 * warm-up: the device's GEMM speed as clvae calls it. */
clvae_status_t clvae_bench_gemm(clvae_ctx_t *ctx, size_t m, size_t n, size_t k, int reps,
                                double *gflop_s, clvae_error_t *err);

#endif
