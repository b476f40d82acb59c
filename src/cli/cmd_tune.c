/* `clvae tune`: searches the device's GEMM and direct-conv parameters for the models and caches
 * them. */
#include "cli.h"

#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "clvae/io/fileio.h"

#include "clvae/device/blas.h"
#include "clvae/device/tuning.h"

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

/* What the command line asks for. */
typedef struct tune_args {
    const char *paths[MAX_CFGS];
    char thesis[4500];          /* the default config's path (cli_thesis_cfg) */
    int npaths, quick, json, shapes_only;
    double budget;
} tune_args_t;

/* Parses the arguments into *t; 0, or the exit status of a usage error. */
static int parse(int argc, char **argv, tune_args_t *t)
{
    memset(t, 0, sizeof *t);
    t->budget = 300;
    for (int i = 0; i < argc; i++) {
        const char *v;
        int r;
        if ((r = cli_opt(&i, argc, argv, "--budget", &v))) {
            long b;
            if (r < 0 || cli_parse_long(v, 1, 86400, &b))
                return cli_usage_error(&cli_cmd_tune, "--budget wants whole seconds, 1 to 86400");
            t->budget = (double)b;
        } else if (strcmp(argv[i], "--quick") == 0) {
            t->quick = 1;
        } else if (strcmp(argv[i], "--json") == 0) {
            t->json = 1;
        } else if (strcmp(argv[i], "--shapes") == 0) {
            t->shapes_only = 1;
        } else if (argv[i][0] == '-' && argv[i][1]) {
            return cli_unknown_arg(&cli_cmd_tune, argv[i]);
        } else if (t->npaths == MAX_CFGS) {
            return cli_usage_error(&cli_cmd_tune, "at most %d config files", MAX_CFGS);
        } else {
            t->paths[t->npaths++] = argv[i];
        }
    }
    if (t->quick && t->budget == 300) t->budget = 20;
    if (t->npaths == 0) t->paths[t->npaths++] = cli_thesis_cfg(t->thesis, sizeof t->thesis);
    return 0;
}

/* One JSON object per GEMM call: its name, sizes, leading dimensions, FLOPs and calls. */
static void json_shape(const clvae_gemm_shape_t *sh)
{
    char name[64];
    clvae_gemm_shape_name(sh, name, sizeof name);
    printf("{\"gemm\": \"%s\", \"trans_a\": %d, \"trans_b\": %d, \"m\": %zu, \"n\": %zu, "
           "\"k\": %zu, \"lda\": %zu, \"ldb\": %zu, \"ldc\": %zu, \"accumulate\": %d, "
           "\"calls\": %d, \"flop\": %.0f", name, sh->trans_a, sh->trans_b, sh->m, sh->n, sh->k,
           sh->lda, sh->ldb, sh->ldc, sh->accumulate, sh->calls, clvae_gemm_shape_flops(sh));
}

/* --shapes: the GEMM calls the tuner would time, without tuning. */
static void print_shapes(const tune_args_t *a, const clvae_gemm_shape_t *shapes, int n)
{
    if (a->json) {
        printf("{\"shapes\": [");
        for (int i = 0; i < n; i++) {
            printf("%s", i ? ", " : "");
            json_shape(&shapes[i]);
            printf("}");
        }
        printf("]}\n");
        return;
    }
    printf("  %-22s %5s %9s\n", "gemm", "calls", "GFLOP");
    for (int i = 0; i < n; i++) {
        char name[64];
        clvae_gemm_shape_name(&shapes[i], name, sizeof name);
        printf("  %-22s %5d %9.4f\n", name, shapes[i].calls,
               clvae_gemm_shape_flops(&shapes[i]) / 1e9);
    }
}

static void print_json(const clvae_device_info_t *dev, const char *path,
                       const clvae_tune_result_t *res, const clvae_gemm_shape_t *shapes)
{
    printf("{\"device\": ");
    cli_json_string(stdout, dev->name);
    printf(", \"cache\": ");
    cli_json_string(stdout, path);
    printf(", \"seconds\": %.1f, \"candidates\": %d, \"failed\": %d, \"before_ms\": %.3f, "
           "\"after_ms\": %.3f, \"params\": {",
           res->seconds, res->tried, res->failed, 1e3 * res->before_s, 1e3 * res->after_s);
    for (int i = 0; i < res->nparams; i++)
        printf("%s\"%s\": %d", i ? ", " : "", res->keys[i], res->values[i]);
    printf("}, \"conv_direct_before_ms\": %.3f, \"conv_direct_after_ms\": %.3f",
           1e3 * res->conv_before_s, 1e3 * res->conv_after_s);
    printf(", \"shapes\": [");
    for (int i = 0; i < res->nfigs; i++) {
        printf("%s", i ? ", " : "");
        json_shape(&shapes[i]);
        printf(", \"default_gflop_s\": %.2f, \"tuned_gflop_s\": %.2f}", res->figs[i].before_gflop_s,
               res->figs[i].after_gflop_s);
    }
    printf("]}\n");
}

static void print_text(const char *path, const clvae_tune_result_t *res,
                       const clvae_gemm_shape_t *shapes)
{
    printf("done in %.0f s: %d candidates timed, %d skipped (failed to build or launch)\n",
           res->seconds, res->tried, res->failed);
    printf("chosen parameters:");
    for (int i = 0; i < res->nparams; i++) printf(" %s=%d", res->keys[i], res->values[i]);
    printf("%s\n", res->nparams ? "" : " none: the defaults stay (saved as such)");
    printf("  %-22s %5s %9s %12s %12s\n", "gemm", "calls", "GFLOP", "default", "tuned GFLOP/s");
    for (int i = 0; i < res->nfigs; i++) {
        char name[64];
        clvae_gemm_shape_name(&shapes[i], name, sizeof name);
        printf("  %-22s %5d %9.4f %12.1f %12.1f\n", name, shapes[i].calls,
               clvae_gemm_shape_flops(&shapes[i]) / 1e9, res->figs[i].before_gflop_s,
               res->figs[i].after_gflop_s);
    }
    printf("GEMM time per training step (+ one 1024^3): %.1f ms with the defaults, %.1f ms "
           "tuned (%.2fx)\n",
           1e3 * res->before_s, 1e3 * res->after_s, res->before_s / res->after_s);
    if (res->conv_before_s > 0)
        printf("direct-path convs per training step: %.1f ms with the defaults, %.1f ms tuned "
               "(%.2fx)\n",
               1e3 * res->conv_before_s, 1e3 * res->conv_after_s,
               res->conv_before_s / res->conv_after_s);
    printf("saved to %s (used from now on by every clvae run on this device)\n", path);
}

/* Records the models' GEMM calls into *shapes, adds a large square one (the usual measure of a
 * device's GEMM), then prints them (--shapes) or tunes on them, saves and prints. */
static clvae_status_t tune_models(const tune_args_t *a, clvae_ctx_t *ctx,
                                  const struct clvae_model_desc *const *dp,
                                  clvae_gemm_shape_t **shapes, clvae_tune_result_t *res,
                                  clvae_error_t *err)
{
    int nshapes = 0;
    clvae_status_t s = clvae_tune_record_shapes(ctx, dp, a->npaths, shapes, &nshapes, err);
    if (s) return s;
    clvae_gemm_shape_t *p = realloc(*shapes, (size_t)(nshapes + 1) * sizeof *p);
    if (!p) return CLVAE_FAIL(err, CLVAE_ERR_NOMEM, "out of host memory");
    *shapes = p;
    p[nshapes++] = clvae_gemm_shape_packed(0, 0, 1024, 1024, 1024, 0);
    if (a->shapes_only) {
        print_shapes(a, p, nshapes);
        return CLVAE_OK;
    }
    clvae_tune_opts_t o = {a->budget, a->quick, p, nshapes, progress,
                           a->json ? stderr : stdout};
    if ((s = clvae_tune(ctx, &o, res, err))) return s;
    if ((s = clvae_tuning_save(ctx, res->figs, res->nfigs, err))) return s;
    char path[4096];
    clvae_tuning_path(ctx, path, sizeof path);
    if (a->json)
        print_json(clvae_ctx_device(ctx), path, res, p);
    else
        print_text(path, res, p);
    return CLVAE_OK;
}

static int run(const cli_common_t *common, int argc, char **argv)
{
    tune_args_t a;
    int code = parse(argc, argv, &a);
    if (code) return code;
    const char *gd = getenv("CLVAE_GEMM_DEFAULTS");
    if (gd && strcmp(gd, "1") == 0 && !a.shapes_only)
        return cli_usage_error(&cli_cmd_tune, "CLVAE_GEMM_DEFAULTS=1 keeps CLBlast's own GEMM "
                                              "parameters: unset it to tune");
    clvae_cfg_t cfgs[MAX_CFGS];
    clvae_model_desc_t descs[MAX_CFGS];
    const struct clvae_model_desc *dp[MAX_CFGS];
    memset(cfgs, 0, sizeof cfgs);
    memset(descs, 0, sizeof descs);
    clvae_error_t err = {0};
    clvae_ctx_t *ctx = NULL;
    clvae_gemm_shape_t *shapes = NULL;
    int nloaded = 0;
    clvae_tune_result_t res;
    memset(&res, 0, sizeof res);
    FILE *out = a.json ? stderr : stdout;
    for (int i = 0; i < a.npaths; i++, nloaded++) {
        cli_cfg_args_t ca;
        memset(&ca, 0, sizeof ca);
        ca.path = a.paths[i];
        if (cli_cfg_load(&ca, &cfgs[i], &descs[i], &err)) goto fail;
        dp[i] = &descs[i];
    }
    if (cli_ctx_open(common, 0, &ctx, &err)) goto fail;
    const clvae_device_info_t *dev = clvae_ctx_device(ctx);
    fprintf(out, "%s GEMM for %s (%s): recording one training step of",
            a.shapes_only ? "the calls to tune" : "tuning", dev->name, dev->platform_name);
    for (int i = 0; i < a.npaths; i++) fprintf(out, " %s", a.paths[i]);
    fprintf(out, "\n");
    if (tune_models(&a, ctx, dp, &shapes, &res, &err)) goto fail;
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
    "clvae tune [--quick] [--budget SECONDS] [--json] [--shapes] [CFG...]\n"
    "  Records the GEMM calls of one training step of each model (default:\n"
    "  " CLI_THESIS_CFG "), adds a 1024^3 one, times them with the defaults,\n"
    "  then searches CLBlast's Xgemm parameters (tiles, work groups, vectors;\n"
    "  CLBlast's constraints on their combinations kept) and its direct/indirect\n"
    "  GEMM switch for the least total time, then clvae's block GEMM kernel\n"
    "  (gemm_block.*: which calls it takes, its block per work item), then clvae's\n"
    "  direct conv kernels\n"
    "  (conv_direct.*: vector widths, weight-gradient tiles, the direct/GEMM rule) on\n"
    "  the models' convs with C*kh*kw <= 64, starting from the defaults (fastest of\n"
    "  several runs per call; candidates that fail to build or launch are skipped).\n"
    "  Takes about --budget seconds (default 300; --quick: 20 and fewer repeats) and\n"
    "  prints each candidate, then the parameters chosen and GFLOP/s per call before\n"
    "  and after, calls named as `clvae bench --gemm` and `--profile` name them\n"
    "  (\"ATB 288x25088x64\": A transposed, m x n x k). --shapes only prints the calls.\n"
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
