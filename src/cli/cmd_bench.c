/* `clvae bench`: training and sampling throughput, memory, per-layer times, GEMM speed. */
#include "cli.h"

#include <stdlib.h>
#include <string.h>

#include "clvae/eval/bench.h"
#include "clvae/device/tuning.h"

static int run(const cli_common_t *common, int argc, char **argv)
{
    cli_cfg_args_t a;
    memset(&a, 0, sizeof a);
    long batch = 0, steps = 10;
    int profile = 0, json = 0, gemm = 0;
    for (int i = 0; i < argc; i++) {
        const char *v;
        int r;
        if ((r = cli_opt(&i, argc, argv, "--steps", &v))) {
            if (r < 0 || cli_parse_long(v, 1, 100000, &steps))
                return cli_usage_error(&cli_cmd_bench, "--steps wants a whole number >= 1");
        } else if ((r = cli_opt(&i, argc, argv, "--batch", &v))) {
            if (r < 0 || cli_parse_long(v, 1, 65536, &batch))
                return cli_usage_error(&cli_cmd_bench, "--batch wants 1 to 65536");
        } else if (strcmp(argv[i], "--profile") == 0) {
            profile = 1;
        } else if (strcmp(argv[i], "--json") == 0) {
            json = 1;
        } else if (strcmp(argv[i], "--gemm") == 0) {
            gemm = 1;
        } else if ((r = cli_cfg_take(&cli_cmd_bench, &a, &i, argc, argv))) {
            if (r == 2) return 2;
        } else {
            return cli_unknown_arg(&cli_cmd_bench, argv[i]);
        }
    }
    if (!a.path && !gemm) return cli_usage_error(&cli_cmd_bench, "which config file (or --gemm)?");
    clvae_cfg_t cfg = {0};
    clvae_model_desc_t d;
    memset(&d, 0, sizeof d);
    clvae_error_t err = {0};
    clvae_ctx_t *ctx = NULL;
    clvae_bench_result_t res;
    memset(&res, 0, sizeof res);
    int code = 0;
    if (a.path && cli_cfg_load(&a, &cfg, &d, &err)) goto fail;
    if (cli_ctx_open(common, profile, &ctx, &err)) goto fail;
    const clvae_device_info_t *dev = clvae_ctx_device(ctx);
    clvae_tuning_state_t ts = clvae_tuning_state(ctx);
    const char *gd = getenv("CLVAE_GEMM_DEFAULTS");
    const char *params = (gd && strcmp(gd, "1") == 0) ? "CLBlast's own (CLVAE_GEMM_DEFAULTS=1)"
                                                      : clvae_tuning_state_name(ts);
    char tpath[4096];
    clvae_tuning_path(ctx, tpath, sizeof tpath);
    if (!json) {
        printf("GEMM parameters: %s%s%s\n", params, ts == CLVAE_TUNING_TUNED ? " from " : "",
               ts == CLVAE_TUNING_TUNED ? tpath : "");
        cli_tuning_note(ctx);
    }
    if (gemm) {
        static const size_t shapes[][3] = {{1024, 1024, 1024}, {64, 25088, 288}, {64, 6272, 576},
                                           {288, 25088, 64}, {64, 288, 25088}};
        static const char *what[] = {"square 1024^3", "conv 32->64 s2 forward (128 images)",
                                     "conv 64->64 7x7 forward", "conv 32->64 backward-data",
                                     "conv 32->64 backward-weight"};
        if (!json) printf("GEMM on %s (C[m,n] = A[m,k] B[k,n], 5 runs after a warm-up)\n", dev->name);
        for (int i = 0; i < 5; i++) {
            double g;
            if (clvae_bench_gemm(ctx, shapes[i][0], shapes[i][1], shapes[i][2], 5, &g, &err))
                goto fail;
            if (json)
                printf("{\"gemm\": \"%s\", \"m\": %zu, \"n\": %zu, \"k\": %zu, \"gflop_s\": %.2f, "
                       "\"params\": \"%s\"}\n",
                       what[i], shapes[i][0], shapes[i][1], shapes[i][2], g, params);
            else
                printf("  m=%-5zu n=%-6zu k=%-6zu %8.1f GFLOP/s  %s\n", shapes[i][0], shapes[i][1],
                       shapes[i][2], g, what[i]);
        }
        if (!a.path) goto out;
    }
    size_t B = batch ? (size_t)batch : d.batch;
    if (clvae_bench_model(ctx, &d, B, (int)steps, profile, &res, &err)) goto fail;
    double mib = 1048576.0;
    if (json) {
        printf("{\"model\": ");
        cli_json_string(stdout, d.name);
        printf(", \"device\": ");
        cli_json_string(stdout, dev->name);
        printf(", \"batch\": %zu, \"steps\": %d, \"train_images_per_s\": %.1f, "
               "\"train_gflop_s\": %.2f, \"sample_images_per_s\": %.1f, \"sample_gflop_s\": %.2f, "
               "\"sample_steps_per_s\": %.1f, \"model_mib\": %.1f, \"workspace_mib\": %.1f, "
               "\"gemm_params\": \"%s\"",
               res.batch, res.steps, res.train_img_s, res.train_gflop_s, res.sample_img_s,
               res.sample_gflop_s, res.sample_pass_s, (double)res.model_bytes / mib,
               (double)res.workspace_bytes / mib, params);
        if (res.fwd_ms) {
            printf(", \"layers\": [");
            for (int i = 1; i < d.nlayers; i++)
                printf("%s{\"layer\": %d, \"kind\": \"%s\", \"forward_ms\": %.3f, \"backward_ms\": %.3f}",
                       i > 1 ? ", " : "", i, clvae_layer_kind_name(d.layers[i].kind), res.fwd_ms[i],
                       res.bwd_ms[i]);
            printf("]");
        }
        printf("}\n");
        goto out;
    }
    printf("bench %s on %s (%d:%d), batch %zu, %d steps after 2 warm-up steps\n", d.name,
           dev->name, dev->platform, dev->device, res.batch, res.steps);
    printf("training: %8.1f images/s  %6.2f GFLOP/s (%.1f MFLOP per image)\n", res.train_img_s,
           res.train_gflop_s, res.train_img_s > 0 ? res.train_gflop_s * 1e3 / res.train_img_s : 0.0);
    if (d.ddpm)
        printf("sampling: %8.2f images/s with DDIM over %zu steps, %.3g with DDPM over all %zu "
               "(%.1f sampling steps per image per second over %d timed DDIM steps)  %6.2f "
               "GFLOP/s\n", res.sample_img_s, d.diff_steps < 50 ? d.diff_steps : 50,
               res.sample_pass_s / (double)d.diff_steps, d.diff_steps, res.sample_pass_s,
               res.steps < 2 ? 2 : res.steps, res.sample_gflop_s);
    else if (!(clvae_objective_can(&d) & CLVAE_CAN_DECODE))
        printf("sampling: - (%s)\n", d.vqvae   ? "a VQ-VAE samples through its prior"
                                     : d.prior ? "bench times a prior's training; time its "
                                                 "sampling with clvae sample"
                                               : "a classifier");
    else
        printf("sampling: %8.1f images/s  %6.2f GFLOP/s\n", res.sample_img_s, res.sample_gflop_s);
    printf("device memory: model %.1f MiB + op workspaces %.1f MiB = %.1f MiB (a resident "
           "dataset comes on top: MNIST train + test as bytes is 52.3 MiB)\n",
           (double)res.model_bytes / mib, (double)res.workspace_bytes / mib,
           (double)(res.model_bytes + res.workspace_bytes) / mib);
    if (res.fwd_ms) {
        double tf = 0, tb = 0;
        for (int i = 1; i < d.nlayers; i++) {
            tf += res.fwd_ms[i];
            tb += res.bwd_ms[i];
        }
        printf("per layer (device time between events, mean of %d steps):\n", res.steps);
        printf("  %-3s %-8s %-12s %10s %8s %10s %10s %8s %10s\n", "#", "layer", "output", "fwd ms",
               "share", "GFLOP/s", "bwd ms", "share", "GFLOP/s");
        for (int i = 1; i < d.nlayers; i++) {
            const clvae_layer_t *L = &d.layers[i];
            if (L->kind == CLVAE_LAYER_FLATTEN || L->kind == CLVAE_LAYER_RESHAPE) continue;
            char shape[32];
            snprintf(shape, sizeof shape, "%zux%zux%zu", L->out_c, L->out_h, L->out_w);
            double fl = L->flops * (double)res.batch;
            printf("  %-3d %-8s %-12s %10.2f %7.1f%% %10.2f %10.2f %7.1f%% %10.2f%s\n", i,
                   clvae_layer_kind_name(L->kind), shape, res.fwd_ms[i],
                   100.0 * res.fwd_ms[i] / (tf + tb), fl / (res.fwd_ms[i] * 1e6), res.bwd_ms[i],
                   100.0 * res.bwd_ms[i] / (tf + tb), 2.0 * fl / (res.bwd_ms[i] * 1e6),
                   i == d.nlayers - 1 ? "  (fwd with the loss)" : "");
        }
        printf("  total: forward %.2f ms, backward %.2f ms (+ the optimizer step)\n", tf, tb);
    }
    goto out;
fail:
    code = cli_report(common, &err);
out:
    clvae_bench_result_free(&res);
    clvae_error_clear(&err);
    clvae_ctx_free(ctx);
    clvae_model_desc_free(&d);
    clvae_cfg_free(&cfg);
    return code;
}

const cli_command_t cli_cmd_bench = {
    "bench", "training and sampling images/s, GFLOP/s, device memory; --profile per layer",
    "clvae bench CFG [--batch N] [--steps 10] [--profile] [--gemm] [--json] [--set ...]\n"
    "       clvae bench --gemm\n"
    "  Times whole steps on random inputs (kernels built and workspaces grown in two\n"
    "  warm-up steps). --profile adds each layer's forward and backward device time from\n"
    "  OpenCL events; --gemm measures the device's GEMM at a square size and at the\n"
    "  thesis VAE's conv shapes. The first line says which GEMM parameters are in use\n"
    "  (tuned by `clvae tune`, or defaults).",
    run};
