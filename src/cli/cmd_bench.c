/* `clvae bench`: training and sampling throughput, memory, per-layer times, GEMM speed. */
#include "cli.h"

#include <stdlib.h>
#include <string.h>

#include "clvae/eval/bench.h"
#include "clvae/device/tuning.h"

/* Who made a call, "conv2 fwd" (a GAN's layers: "layer 2 fwd", the two networks' layers
 * share numbers). */
static void maker(const clvae_model_desc_t *d, const clvae_gemm_shape_t *c, char *buf,
                  size_t size)
{
    const char *pass = c->backward ? "bwd" : "fwd";
    if (c->layer < 0)
        snprintf(buf, size, "outside the layers");
    else if (d->gan || c->layer >= d->nlayers)
        snprintf(buf, size, "layer %d %s", c->layer, pass);
    else
        snprintf(buf, size, "%s %s", d->layers[c->layer].name, pass);
}

/* The layer kinds that make calls equal to calls[i] (of calls[i..n-1]), "conv,deconv", into
 * buf; "" for a GAN (its two networks' layers share numbers) or a call no layer makes. */
static void kinds_of(const clvae_model_desc_t *d, const clvae_gemm_shape_t *calls, int i, int n,
                     char *buf, size_t size)
{
    size_t len = 0;
    buf[0] = 0;
    for (int j = i; j < n && !d->gan; j++) {
        if (!clvae_gemm_shape_same(&calls[j], &calls[i]) || calls[j].layer < 0 ||
            calls[j].layer >= d->nlayers)
            continue;
        const char *k = clvae_layer_kind_name(d->layers[calls[j].layer].kind);
        size_t kl = strlen(k);
        int seen = 0;
        for (const char *p = buf; (p = strstr(p, k)) && !seen; p += kl)
            seen = (p == buf || p[-1] == ',') && (p[kl] == ',' || p[kl] == 0);
        if (!seen && len + kl + 2 < size)
            len += (size_t)snprintf(buf + len, size - len, "%s%s", len ? "," : "", k);
    }
}

/* --gemm: each distinct call of the recorded step (calls[0..n-1], by layer) once, with its
 * count and who makes it, then a 1024^3; each timed as `clvae tune` times it. */
static clvae_status_t bench_gemms(clvae_ctx_t *ctx, const clvae_model_desc_t *d, const char *cfg,
                                  size_t B, const clvae_gemm_shape_t *calls, int n, int json,
                                  const char *params, clvae_error_t *err)
{
    if (!json)
        printf("GEMM on %s: the calls one training step of %s makes at batch %zu, and a 1024^3 "
               "(fastest of 5 runs after a warm-up, each waited for, as `clvae tune` times "
               "them)\n  %-22s %5s %9s %9s  %s\n",
               clvae_ctx_device(ctx)->name, cfg, B, "gemm", "calls", "GFLOP", "GFLOP/s", "made by");
    clvae_gemm_shape_t sq = clvae_gemm_shape_packed(0, 0, 1024, 1024, 1024, 0);
    for (int i = 0; i <= n; i++) {
        int seen = 0;
        for (int j = 0; j < i && i < n; j++) seen |= clvae_gemm_shape_same(&calls[j], &calls[i]);
        if (seen) continue;
        clvae_gemm_shape_t sh = i < n ? calls[i] : sq;
        char name[64], by[512] = "", one[64];
        size_t len = 0;
        for (int j = i; j < n; j++) {
            if (j > i && !clvae_gemm_shape_same(&calls[j], &calls[i])) continue;
            if (j > i) sh.calls += calls[j].calls;
            maker(d, &calls[j], one, sizeof one);
            if (len + strlen(one) + 3 < sizeof by)
                len += (size_t)snprintf(by + len, sizeof by - len, "%s%s", len ? ", " : "", one);
        }
        double t, fl = clvae_gemm_shape_flops(&sh);
        clvae_status_t s = clvae_bench_gemm(ctx, &sh, 5, &t, err);
        if (s) return s;
        clvae_gemm_shape_name(&sh, name, sizeof name);
        char kinds[128] = "";
        if (i < n) kinds_of(d, calls, i, n, kinds, sizeof kinds);
        if (json)
            printf("{\"gemm\": \"%s\", \"trans_a\": %d, \"trans_b\": %d, \"m\": %zu, \"n\": %zu, "
                   "\"k\": %zu, \"calls\": %d, \"flop\": %.0f, \"gflop_s\": %.2f, \"made_by\": "
                   "\"%s\", \"kinds\": \"%s\", \"params\": \"%s\"}\n", name, sh.trans_a,
                   sh.trans_b, sh.m, sh.n, sh.k, sh.calls, fl, fl / t / 1e9,
                   i < n ? by : "square 1024^3", kinds, params);
        else
            printf("  %-22s %5d %9.4f %9.1f  %s\n", name, sh.calls, fl / 1e9, fl / t / 1e9,
                   i < n ? by : "square 1024^3");
    }
    return CLVAE_OK;
}

/* --profile's JSON: per layer its times and the GEMM calls it made in the recorded step. */
static void json_layers(const clvae_model_desc_t *d, const clvae_bench_result_t *res,
                        const clvae_gemm_shape_t *calls, int n)
{
    printf(", \"copy_gb_s\": %.2f, \"layers\": [", res->copy_gb_s);
    for (int i = 1; i < d->nlayers; i++) {
        double bf, bb;
        clvae_layer_traffic(d, i, res->batch, &bf, &bb);
        printf("%s{\"layer\": %d, \"kind\": \"%s\", \"forward_ms\": %.3f, \"backward_ms\": %.3f, "
               "\"flop\": %.0f, \"bytes_forward\": %.0f, \"bytes_backward\": %.0f, \"gemms\": [",
               i > 1 ? ", " : "", i, clvae_layer_kind_name(d->layers[i].kind), res->fwd_ms[i],
               res->bwd_ms[i], d->layers[i].flops * (double)res->batch, bf, bb);
        int first = 1;
        for (int c = 0; c < n; c++) {
            if (calls[c].layer != i) continue;
            char name[64];
            clvae_gemm_shape_name(&calls[c], name, sizeof name);
            printf("%s{\"gemm\": \"%s\", \"backward\": %d, \"calls\": %d, \"flop\": %.0f}",
                   first ? "" : ", ", name, calls[c].backward, calls[c].calls,
                   clvae_gemm_shape_flops(&calls[c]));
            first = 0;
        }
        printf("]}");
    }
    printf("], \"kernels\": [");
    for (int i = 0; i < res->nkernels; i++) {
        printf("%s{\"kernel\": ", i ? ", " : "");
        cli_json_string(stdout, res->kernels[i].name);
        printf(", \"launches_per_step\": %.2f, \"ms_per_step\": %.4f}",
               (double)res->kernels[i].launches / res->steps,
               res->kernels[i].ns / res->steps / 1e6);
    }
    printf("]");
}

/* Orders kernel times by device time, the longest first (names break ties). */
static int by_time(const void *a, const void *b)
{
    const clvae_kernel_time_t *x = a, *y = b;
    if (x->ns != y->ns) return x->ns < y->ns ? 1 : -1;
    return strcmp(x->name, y->name);
}

/* --profile's kernel table: device time per training step by kernel, the longest first. */
static void print_kernels(const clvae_bench_result_t *res)
{
    if (!res->nkernels) return;
    qsort(res->kernels, (size_t)res->nkernels, sizeof *res->kernels, by_time);
    double total = 0, k = 1.0 / res->steps;
    for (int i = 0; i < res->nkernels; i++) total += res->kernels[i].ns;
    printf("per kernel (device time per training step, start to end of each launch, mean of %d "
           "steps; all: %.2f ms):\n  %-28s %9s %9s %7s\n", res->steps, total * k / 1e6, "kernel",
           "launches", "ms", "share");
    for (int i = 0; i < res->nkernels; i++) {
        const clvae_kernel_time_t *t = &res->kernels[i];
        printf("  %-28s %9g %9.3f %6.1f%%\n", t->name, (double)t->launches * k, t->ns * k / 1e6,
               total > 0 ? 100.0 * t->ns / total : 0.0);
    }
}

/* --profile's table: per layer its device times and GFLOP/s, then the GEMM calls by layer. */
static void print_layers(const clvae_model_desc_t *d, const clvae_bench_result_t *res,
                         const clvae_gemm_shape_t *calls, int n)
{
    double tf = 0, tb = 0;
    for (int i = 1; i < d->nlayers; i++) {
        tf += res->fwd_ms[i];
        tb += res->bwd_ms[i];
    }
    printf("per layer (device time between events, mean of %d steps; GB/s: the layer's traffic\n"
           "model over its time, against the device's copy bandwidth of %.1f GB/s):\n",
           res->steps, res->copy_gb_s);
    printf("  %-3s %-8s %-12s %9s %7s %9s %7s %9s %7s %9s %7s\n", "#", "layer", "output",
           "fwd ms", "share", "GFLOP/s", "GB/s", "bwd ms", "share", "GFLOP/s", "GB/s");
    for (int i = 1; i < d->nlayers; i++) {
        const clvae_layer_t *L = &d->layers[i];
        if (L->kind == CLVAE_LAYER_FLATTEN || L->kind == CLVAE_LAYER_RESHAPE) continue;
        char shape[32];
        snprintf(shape, sizeof shape, "%zux%zux%zu", L->out_c, L->out_h, L->out_w);
        double fl = L->flops * (double)res->batch, bf, bb;
        clvae_layer_traffic(d, i, res->batch, &bf, &bb);
        printf("  %-3d %-8s %-12s %9.2f %6.1f%% %9.2f %7.2f %9.2f %6.1f%% %9.2f %7.2f%s\n", i,
               clvae_layer_kind_name(L->kind), shape, res->fwd_ms[i],
               100.0 * res->fwd_ms[i] / (tf + tb), fl / (res->fwd_ms[i] * 1e6),
               bf / (res->fwd_ms[i] * 1e6), res->bwd_ms[i], 100.0 * res->bwd_ms[i] / (tf + tb),
               2.0 * fl / (res->bwd_ms[i] * 1e6), bb / (res->bwd_ms[i] * 1e6),
               i == d->nlayers - 1 ? "  (fwd with the loss)" : "");
    }
    printf("  total: forward %.2f ms, backward %.2f ms (+ the optimizer step)\n", tf, tb);
    printf("GEMM calls per step by layer (named as `clvae bench --gemm` and `clvae tune` name "
           "them):\n  %-3s %-8s %-4s %-22s %5s %9s\n", "#", "layer", "pass", "gemm", "calls",
           "GFLOP");
    for (int c = 0; c < n; c++) {
        if (calls[c].layer < 1 || calls[c].layer >= d->nlayers) continue;
        char name[64];
        clvae_gemm_shape_name(&calls[c], name, sizeof name);
        printf("  %-3d %-8s %-4s %-22s %5d %9.4f\n", calls[c].layer,
               clvae_layer_kind_name(d->layers[calls[c].layer].kind),
               calls[c].backward ? "bwd" : "fwd", name, calls[c].calls,
               clvae_gemm_shape_flops(&calls[c]) / 1e9);
    }
}

/* The counters c of `calls` steps, per step, as one JSON object. */
static void json_counts(const char *key, const clvae_counters_t *c, int calls)
{
    printf(", \"%s\": ", key);
    if (calls < 1) {
        printf("null");
        return;
    }
    double k = 1.0 / calls;
    printf("{\"launches\": %.2f, \"gemm_calls\": %.2f, \"uploads\": %.2f, "
           "\"upload_bytes\": %.0f, \"downloads\": %.2f, \"download_bytes\": %.0f, "
           "\"copies\": %.2f, \"copy_bytes\": %.0f, \"waits\": %.2f}",
           (double)c->launches * k, (double)c->gemm_calls * k, (double)c->uploads * k,
           (double)c->upload_bytes * k, (double)c->downloads * k, (double)c->download_bytes * k,
           (double)c->copies * k, (double)c->copy_bytes * k, (double)c->waits * k);
}

/* Bytes as "0 B", "512 B", "3.1 KiB", "2.0 MiB". */
static void bytes_text(double b, char *buf, size_t size)
{
    if (b < 1024) snprintf(buf, size, "%.0f B", b);
    else if (b < 1048576) snprintf(buf, size, "%.1f KiB", b / 1024);
    else snprintf(buf, size, "%.1f MiB", b / 1048576);
}

/* A row of --profile's counters table: what one step (the mean of `calls`) asked of the
 * device. */
static void print_counts(const char *what, const clvae_counters_t *c, int calls)
{
    if (calls < 1) {
        printf("  %-9s %9s\n", what, "-");
        return;
    }
    double k = 1.0 / calls;
    char up[48], down[48], cp[48], b[32];
    bytes_text((double)c->upload_bytes * k, b, sizeof b);
    snprintf(up, sizeof up, "%g (%s)", (double)c->uploads * k, b);
    bytes_text((double)c->download_bytes * k, b, sizeof b);
    snprintf(down, sizeof down, "%g (%s)", (double)c->downloads * k, b);
    bytes_text((double)c->copy_bytes * k, b, sizeof b);
    snprintf(cp, sizeof cp, "%g (%s)", (double)c->copies * k, b);
    printf("  %-9s %9g %10g  %-15s %-15s %-15s %5g\n", what, (double)c->launches * k,
           (double)c->gemm_calls * k, up, down, cp, (double)c->waits * k);
}

static void print_json(const clvae_model_desc_t *d, const clvae_device_info_t *dev,
                       const clvae_bench_result_t *res, const char *params,
                       const clvae_gemm_shape_t *calls, int n)
{
    double mib = 1048576.0;
    printf("{\"model\": ");
    cli_json_string(stdout, d->name);
    printf(", \"device\": ");
    cli_json_string(stdout, dev->name);
    printf(", \"batch\": %zu, \"steps\": %d, \"train_images_per_s\": %.1f, "
           "\"train_gflop_s\": %.2f, \"sample_images_per_s\": %.1f, \"sample_gflop_s\": %.2f, "
           "\"sample_steps_per_s\": %.1f, \"model_mib\": %.1f, \"workspace_mib\": %.1f, "
           "\"gemm_params\": \"%s\"",
           res->batch, res->steps, res->train_img_s, res->train_gflop_s, res->sample_img_s,
           res->sample_gflop_s, res->sample_pass_s, (double)res->model_bytes / mib,
           (double)res->workspace_bytes / mib, params);
    json_counts("train_per_step", &res->train_counts, res->steps);
    json_counts("sample_per_step", &res->sample_counts, res->sample_calls);
    if (res->fwd_ms) json_layers(d, res, calls, n);
    printf("}\n");
}

static void print_text(const clvae_model_desc_t *d, const clvae_device_info_t *dev,
                       const clvae_bench_result_t *res, const clvae_gemm_shape_t *calls, int n)
{
    double mib = 1048576.0;
    printf("bench %s on %s (%d:%d), batch %zu, %d steps after 2 warm-up steps\n", d->name,
           dev->name, dev->platform, dev->device, res->batch, res->steps);
    printf("training: %8.1f images/s  %6.2f GFLOP/s (%.1f MFLOP per image)\n", res->train_img_s,
           res->train_gflop_s,
           res->train_img_s > 0 ? res->train_gflop_s * 1e3 / res->train_img_s : 0.0);
    if (d->ddpm)
        printf("sampling: %8.2f images/s with DDIM over %zu steps, %.3g with DDPM over all %zu "
               "(%.1f sampling steps per image per second over %d timed DDIM steps)  %6.2f "
               "GFLOP/s\n", res->sample_img_s, d->diff_steps < 50 ? d->diff_steps : 50,
               res->sample_pass_s / (double)d->diff_steps, d->diff_steps, res->sample_pass_s,
               res->steps < 2 ? 2 : res->steps, res->sample_gflop_s);
    else if (!(clvae_objective_can(d) & CLVAE_CAN_DECODE))
        printf("sampling: - (%s)\n", d->vqvae   ? "a VQ-VAE samples through its prior"
                                     : d->prior ? "bench times a prior's training; time its "
                                                  "sampling with clvae sample"
                                                : "a classifier");
    else
        printf("sampling: %8.1f images/s  %6.2f GFLOP/s\n", res->sample_img_s,
               res->sample_gflop_s);
    printf("device memory: model %.1f MiB + op workspaces %.1f MiB = %.1f MiB (a resident "
           "dataset comes on top: MNIST train + test as bytes is 52.3 MiB)\n",
           (double)res->model_bytes / mib, (double)res->workspace_bytes / mib,
           (double)(res->model_bytes + res->workspace_bytes) / mib);
    if (!res->fwd_ms) return;
    printf("per step on the device (mean of the timed steps; the kernels CLBlast launches for a "
           "GEMM call\nare not among the launches, clvae's own GEMM kernels are):\n  %-9s %9s %10s  %-15s %-15s %-15s %5s\n",
           "", "launches", "GEMM calls", "uploads", "downloads", "copies", "waits");
    print_counts("training:", &res->train_counts, res->steps);
    print_counts(d->ddpm ? "sampling:" : "decoding:", &res->sample_counts, res->sample_calls);
    print_layers(d, res, calls, n);
    print_kernels(res);
}

/* What the command line asks for. */
typedef struct bench_args {
    cli_cfg_args_t cfg;
    long batch, steps;
    int profile, json, gemm;
} bench_args_t;

/* Parses the arguments into *b; 0, or the exit status of a usage error. */
static int parse(int argc, char **argv, bench_args_t *b)
{
    memset(b, 0, sizeof *b);
    b->steps = 10;
    for (int i = 0; i < argc; i++) {
        const char *v;
        int r;
        if ((r = cli_opt(&i, argc, argv, "--steps", &v))) {
            if (r < 0 || cli_parse_long(v, 1, 100000, &b->steps))
                return cli_usage_error(&cli_cmd_bench, "--steps wants a whole number >= 1");
        } else if ((r = cli_opt(&i, argc, argv, "--batch", &v))) {
            if (r < 0 || cli_parse_long(v, 1, 65536, &b->batch))
                return cli_usage_error(&cli_cmd_bench, "--batch wants 1 to 65536");
        } else if (strcmp(argv[i], "--profile") == 0) {
            b->profile = 1;
        } else if (strcmp(argv[i], "--json") == 0) {
            b->json = 1;
        } else if (strcmp(argv[i], "--gemm") == 0) {
            b->gemm = 1;
        } else if ((r = cli_cfg_take(&cli_cmd_bench, &b->cfg, &i, argc, argv))) {
            if (r == 2) return 2;
        } else {
            return cli_unknown_arg(&cli_cmd_bench, argv[i]);
        }
    }
    if (!b->cfg.path && !b->gemm)
        return cli_usage_error(&cli_cmd_bench, "which config file (or --gemm)?");
    return 0;
}

static int run(const cli_common_t *common, int argc, char **argv)
{
    bench_args_t a;
    int code = parse(argc, argv, &a);
    if (code) return code;
    int gemm_only = !a.cfg.path; /* --gemm alone: the thesis VAE's calls */
    char thesis[4500];
    if (gemm_only) a.cfg.path = cli_thesis_cfg(thesis, sizeof thesis);
    clvae_cfg_t cfg = {0};
    clvae_model_desc_t d;
    memset(&d, 0, sizeof d);
    clvae_error_t err = {0};
    clvae_ctx_t *ctx = NULL;
    clvae_bench_result_t res;
    memset(&res, 0, sizeof res);
    clvae_gemm_shape_t *calls = NULL;
    int ncalls = 0;
    if (cli_cfg_load(&a.cfg, &cfg, &d, &err)) goto fail;
    if (cli_ctx_open(common, a.profile, &ctx, &err)) goto fail;
    const clvae_device_info_t *dev = clvae_ctx_device(ctx);
    clvae_tuning_state_t ts = clvae_tuning_state(ctx);
    const char *gd = getenv("CLVAE_GEMM_DEFAULTS");
    const char *params = (gd && strcmp(gd, "1") == 0) ? "CLBlast's own (CLVAE_GEMM_DEFAULTS=1)"
                                                      : clvae_tuning_state_name(ts);
    char tpath[4096];
    clvae_tuning_path(ctx, tpath, sizeof tpath);
    if (!a.json) {
        printf("GEMM parameters: %s%s%s\n", params, ts == CLVAE_TUNING_TUNED ? " from " : "",
               ts == CLVAE_TUNING_TUNED ? tpath : "");
        cli_tuning_note(ctx);
    }
    size_t B = a.batch ? (size_t)a.batch : d.batch;
    /* the GEMM calls of one training step, as `clvae tune` records them */
    if ((a.gemm || a.profile) && clvae_bench_record_calls(ctx, &d, B, &calls, &ncalls, &err))
        goto fail;
    if (a.gemm && bench_gemms(ctx, &d, a.cfg.path, B, calls, ncalls, a.json, params, &err))
        goto fail;
    if (gemm_only) goto out;
    if (clvae_bench_model(ctx, &d, B, (int)a.steps, a.profile, &res, &err)) goto fail;
    if (a.json)
        print_json(&d, dev, &res, params, calls, ncalls);
    else
        print_text(&d, dev, &res, calls, ncalls);
    goto out;
fail:
    code = cli_report(common, &err);
out:
    free(calls);
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
    "  OpenCL events, its GFLOP/s and GB/s, and the GEMM calls each layer makes. GB/s\n"
    "  counts each tensor once (forward: read the inputs and parameters, write the\n"
    "  output; backward: read the output's gradient, the inputs and the parameters, write\n"
    "  their gradients) against the device's copy bandwidth (one kernel reading and\n"
    "  writing 64 MiB; bytes read + written per second). --gemm times every GEMM call\n"
    "  one training step makes (of CFG, else " CLI_THESIS_CFG "), each distinct\n"
    "  call once (transposes, sizes, leading dimensions as training makes it), and a\n"
    "  1024^3, as `clvae tune` times them; calls are named alike in all three\n"
    "  (\"ATB 288x25088x64\": A transposed, m x n x k). The first line says which GEMM\n"
    "  parameters are in use (tuned by `clvae tune`, or defaults).\n"
    "  --profile also counts, per step (mean of the timed steps) of training and of\n"
    "  sampling (a decoding batch; a diffusion model: one DDIM step), what it asks of the\n"
    "  device on any device, in a table: launches (clvae's own kernels), GEMM calls\n"
    "  (CLBlast's, whose kernels are not among the launches; one that clvae's own\n"
    "  cl/gemm.cl runs, thin or with a short inner dimension, counts as a launch too),\n"
    "  uploads and downloads (host-device transfers, count and bytes), copies (between\n"
    "  device buffers) and waits (blocking reads and writes, clFinish,\n"
    "  clWaitForEvents; a training step should have none).\n  --json has them as train_per_step and sample_per_step.\n"
    "  Last, --profile lists the device time per training step by kernel (each launch\n"
    "  timed from its start to its end, the longest first; a CLBlast GEMM call is one\n"
    "  row, \"CLBlast gemm\"): which kernels the step's time goes to (--json: kernels).",
    run};
