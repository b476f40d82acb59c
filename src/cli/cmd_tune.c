/* `clvae tune`: searches the device's GEMM and direct-conv parameters for the models and caches
 * them. */
#include "cli.h"

#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "clvae/io/fileio.h"

#include "clvae/device/tuning.h"

#define DEFAULT_CFG "models/mnist_vae.cfg"
#define MAX_CFGS 16

void cli_tuning_note(clvae_ctx_t *ctx)
{
    if (clvae_tuning_state(ctx) != CLVAE_TUNING_UNTUNED) return;
    /* once per device: a marker beside where the device's cache file would go */
    char path[4096], mark[4200], dir[4096];
    clvae_tuning_path(ctx, path, sizeof path);
    clvae_tuning_dir(dir, sizeof dir);
    if (path[0]) {
        snprintf(mark, sizeof mark, "%s.noted", path);
        if (access(mark, F_OK) == 0) return;
    }
    fprintf(stderr, "clvae: note: this device runs with default GEMM parameters; `clvae tune` "
                    "(once, a few minutes) measures faster ones (this note is shown once per "
                    "device)\n");
    static const char text[] = "the note on `clvae tune` was shown for this device\n";
    clvae_error_t err = {0};
    if (path[0] && dir[0] && clvae_mkdirs(dir) == 0)
        clvae_write_file_atomic(mark, text, sizeof text - 1, &err); /* best effort */
    clvae_error_clear(&err);
}

static void progress(void *user, const char *line)
{
    fprintf((FILE *)user, "%s\n", line);
    fflush((FILE *)user);
}

static int run(const cli_common_t *common, int argc, char **argv)
{
    const char *paths[MAX_CFGS];
    int npaths = 0, quick = 0, json = 0;
    double budget = 300;
    for (int i = 0; i < argc; i++) {
        const char *v;
        int r;
        if ((r = cli_opt(&i, argc, argv, "--budget", &v))) {
            long b;
            if (r < 0 || cli_parse_long(v, 1, 86400, &b))
                return cli_usage_error(&cli_cmd_tune, "--budget wants whole seconds, 1 to 86400");
            budget = (double)b;
        } else if (strcmp(argv[i], "--quick") == 0) {
            quick = 1;
        } else if (strcmp(argv[i], "--json") == 0) {
            json = 1;
        } else if (argv[i][0] == '-' && argv[i][1]) {
            return cli_unknown_arg(&cli_cmd_tune, argv[i]);
        } else if (npaths == MAX_CFGS) {
            return cli_usage_error(&cli_cmd_tune, "at most %d config files", MAX_CFGS);
        } else {
            paths[npaths++] = argv[i];
        }
    }
    if (quick && budget == 300) budget = 20;
    const char *gd = getenv("CLVAE_GEMM_DEFAULTS");
    if (gd && strcmp(gd, "1") == 0)
        return cli_usage_error(&cli_cmd_tune, "CLVAE_GEMM_DEFAULTS=1 keeps CLBlast's own GEMM "
                                              "parameters: unset it to tune");
    if (npaths == 0) paths[npaths++] = DEFAULT_CFG;

    clvae_cfg_t cfgs[MAX_CFGS];
    clvae_model_desc_t descs[MAX_CFGS];
    const struct clvae_model_desc *dp[MAX_CFGS];
    memset(cfgs, 0, sizeof cfgs);
    memset(descs, 0, sizeof descs);
    clvae_error_t err = {0};
    clvae_ctx_t *ctx = NULL;
    clvae_tune_shape_t *shapes = NULL;
    int nshapes = 0, code = 0, nloaded = 0;
    clvae_tune_result_t res;
    memset(&res, 0, sizeof res);
    FILE *out = json ? stderr : stdout;
    for (int i = 0; i < npaths; i++, nloaded++) {
        cli_cfg_args_t a;
        memset(&a, 0, sizeof a);
        a.path = paths[i];
        if (cli_cfg_load(&a, &cfgs[i], &descs[i], &err)) goto fail;
        dp[i] = &descs[i];
    }
    if (cli_ctx_open(common, 0, &ctx, &err)) goto fail;
    const clvae_device_info_t *dev = clvae_ctx_device(ctx);
    fprintf(out, "tuning GEMM for %s (%s): recording one training step of", dev->name,
            dev->platform_name);
    for (int i = 0; i < npaths; i++) fprintf(out, " %s", paths[i]);
    fprintf(out, "\n");
    if (clvae_tune_record_shapes(ctx, dp, npaths, &shapes, &nshapes, &err)) goto fail;
    /* and a large square one, the usual measure of a device's GEMM */
    clvae_tune_shape_t *p = realloc(shapes, (size_t)(nshapes + 1) * sizeof *p);
    if (!p) {
        CLVAE_FAIL(&err, CLVAE_ERR_NOMEM, "out of host memory");
        goto fail;
    }
    shapes = p;
    shapes[nshapes++] = (clvae_tune_shape_t){0, 0, 1024, 1024, 1024, 0};
    clvae_tune_opts_t o = {budget, quick, shapes, nshapes, progress, out};
    if (clvae_tune(ctx, &o, &res, &err)) goto fail;
    if (clvae_tuning_save(ctx, res.figs, res.nfigs, &err)) goto fail;
    char path[4096];
    clvae_tuning_path(ctx, path, sizeof path);
    if (json) {
        printf("{\"device\": ");
        cli_json_string(stdout, dev->name);
        printf(", \"cache\": ");
        cli_json_string(stdout, path);
        printf(", \"seconds\": %.1f, \"candidates\": %d, \"failed\": %d, \"before_ms\": %.3f, "
               "\"after_ms\": %.3f, \"params\": {",
               res.seconds, res.tried, res.failed, 1e3 * res.before_s, 1e3 * res.after_s);
        for (int i = 0; i < res.nparams; i++)
            printf("%s\"%s\": %d", i ? ", " : "", res.keys[i], res.values[i]);
        printf("}, \"conv_direct_before_ms\": %.3f, \"conv_direct_after_ms\": %.3f",
               1e3 * res.conv_before_s, 1e3 * res.conv_after_s);
        printf(", \"shapes\": [");
        for (int i = 0; i < res.nfigs; i++) {
            const clvae_tuning_figure_t *f = &res.figs[i];
            printf("%s{\"trans_a\": %d, \"trans_b\": %d, \"m\": %zu, \"n\": %zu, \"k\": %zu, "
                   "\"calls\": %d, \"default_gflop_s\": %.2f, \"tuned_gflop_s\": %.2f}",
                   i ? ", " : "", f->trans_a, f->trans_b, f->m, f->n, f->k, f->calls,
                   f->before_gflop_s, f->after_gflop_s);
        }
        printf("]}\n");
        goto out;
    }
    printf("done in %.0f s: %d candidates timed, %d skipped (failed to build or launch)\n",
           res.seconds, res.tried, res.failed);
    printf("chosen parameters:");
    for (int i = 0; i < res.nparams; i++) printf(" %s=%d", res.keys[i], res.values[i]);
    printf("%s\n", res.nparams ? "" : " none: the defaults stay (saved as such)");
    printf("  %-7s %-6s %-6s %-6s %5s %12s %12s\n", "op", "m", "n", "k", "calls", "default",
           "tuned GFLOP/s");
    for (int i = 0; i < res.nfigs; i++) {
        const clvae_tuning_figure_t *f = &res.figs[i];
        char op[8];
        snprintf(op, sizeof op, "%s%s", f->trans_a ? "AT" : "A", f->trans_b ? "BT" : "B");
        printf("  %-7s %-6zu %-6zu %-6zu %5d %12.1f %12.1f\n", op, f->m, f->n, f->k, f->calls,
               f->before_gflop_s, f->after_gflop_s);
    }
    printf("GEMM time per training step (+ one 1024^3): %.1f ms with the defaults, %.1f ms "
           "tuned (%.2fx)\n",
           1e3 * res.before_s, 1e3 * res.after_s, res.before_s / res.after_s);
    if (res.conv_before_s > 0)
        printf("direct-path convs per training step: %.1f ms with the defaults, %.1f ms tuned "
               "(%.2fx)\n",
               1e3 * res.conv_before_s, 1e3 * res.conv_after_s,
               res.conv_before_s / res.conv_after_s);
    printf("saved to %s (used from now on by every clvae run on this device)\n", path);
    goto out;
fail:
    code = cli_report(common, &err);
out:
    clvae_tune_result_free(&res);
    free(shapes);
    clvae_error_clear(&err);
    clvae_ctx_free(ctx);
    for (int i = 0; i < nloaded; i++) {
        clvae_model_desc_free(&descs[i]);
        clvae_cfg_free(&cfgs[i]);
    }
    return code;
}

const cli_command_t cli_cmd_tune = {
    "tune", "measure and cache the fastest GEMM and direct-conv parameters for this device",
    "clvae tune [--quick] [--budget SECONDS] [--json] [CFG...]\n"
    "  Records the GEMM shapes of one training step of each model (default:\n"
    "  " DEFAULT_CFG "), adds a 1024^3 one, then searches CLBlast's Xgemm\n"
    "  parameters (tiles, work groups, vectors; CLBlast's constraints on their\n"
    "  combinations kept) and its direct/indirect GEMM switch for the least total\n"
    "  time, then clvae's direct conv kernels (conv_direct.*: vector widths,\n"
    "  weight-gradient tiles, the direct/GEMM rule) on the models' convs with\n"
    "  C*kh*kw <= 64, starting from the defaults (fastest of several runs per shape;\n"
    "  candidates that fail to build or launch are skipped). Takes about --budget\n"
    "  seconds (default 300; --quick: 20 and fewer repeats) and prints each\n"
    "  candidate, then the parameters chosen and GFLOP/s per shape before and after.\n"
    "  The result goes to the tuning cache, one file per device (keyed by device\n"
    "  name, driver, platform and CLBlast versions): $CLVAE_TUNING_DIR, else\n"
    "  $XDG_CACHE_HOME/clvae/tuning, else ~/.cache/clvae/tuning. Every later run on\n"
    "  the device applies it. An untuned device runs with safe defaults (on pocl's\n"
    "  CPU device built-in Xgemm parameters, elsewhere CLBlast's database) and\n"
    "  `clvae train` / `clvae bench` suggest running this command; nothing is tuned\n"
    "  behind your back. A cache that is damaged or made for another driver is\n"
    "  ignored with one warning. CLVAE_TUNING=0 ignores the cache,\n"
    "  CLVAE_GEMM_DEFAULTS=1 uses CLBlast's own parameters throughout.",
    run};
