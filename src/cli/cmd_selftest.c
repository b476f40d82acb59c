/* `clvae selftest`: builds the first kernels on the chosen device and checks their results. */
#include "cli.h"

#include <string.h>
#include <time.h>

#include "clvae/ops/basic.h"
#include "clvae/io/clock.h"
#include "selftest_all.h"


static int run(const cli_common_t *common, int argc, char **argv)
{
    size_t n = 1000003; /* not a multiple of any work-group size */
    int all = 0;
    for (int i = 0; i < argc; i++) {
        if (strcmp(argv[i], "--all") == 0) {
            all = 1;
        } else if (strcmp(argv[i], "--n") == 0 && i + 1 < argc) {
            if (cli_parse_size(argv[++i], &n) || n == 0)
                return cli_usage_error(&cli_cmd_selftest, "--n wants a whole number > 0, not '%s'",
                                       argv[i]);
        } else {
            return cli_unknown_arg(&cli_cmd_selftest, argv[i]);
        }
    }
    clvae_error_t err = {0};
    clvae_ctx_t *ctx = NULL;
    double t0 = clvae_seconds();
    int code = 0;
    if (cli_ctx_open(common, 0, &ctx, &err) != CLVAE_OK) goto fail;
    double t1 = clvae_seconds();
    if (all) {
        const clvae_device_info_t *d = clvae_ctx_device(ctx);
        printf("selftest --all on device %d (%d:%d) %s\n", d->index, d->platform, d->device,
               d->name);
        int failed = clvae_selftest_all(ctx, stdout, &err);
        if (failed) {
            fprintf(stderr, "clvae: selftest --all: %d check%s failed on %s\n", failed,
                    failed == 1 ? "" : "s", d->name);
            goto fail;
        }
        printf("selftest --all passed in %.3f s\n", clvae_seconds() - t1);
        goto out;
    }
    if (clvae_selftest(ctx, n, &err) != CLVAE_OK) goto fail;
    double t2 = clvae_seconds();
    clvae_program_stats_t st = clvae_ctx_program_stats(ctx);
    const clvae_device_info_t *d = clvae_ctx_device(ctx);
    printf("selftest passed on device %d (%d:%d) %s: fill and add over %zu floats\n", d->index,
           d->platform, d->device, d->name, n);
    printf("open %.3f s, kernels + run %.3f s; programs built from source %d, "
           "from cache %d, cache entries rejected %d, written %d\n",
           t1 - t0, t2 - t1, st.built_from_source, st.disk_hits, st.disk_rejected,
           st.disk_writes);
    goto out;
fail:
    code = cli_report(common, &err);
out:
    clvae_error_clear(&err);
    clvae_ctx_free(ctx);
    return code;
}

const cli_command_t cli_cmd_selftest = {
    "selftest", "build the kernels on the device and check them against the host",
    "clvae selftest [--n COUNT] [--all] [--device SPEC]\n"
    "  without --all: fill and add over COUNT floats (default 1000003)\n"
    "  --all: build every kernel file, then one launch of each op family against the host;\n"
    "         exit status 1 when any fails", run};
