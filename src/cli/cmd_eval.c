/* `clvae eval`: test-set loss, reconstruction, KL and the IWAE estimate of log p(x). */
#include "cli.h"

#include <math.h>
#include <string.h>

#include "clvae/data/labels.h"
#include "clvae/train/classify.h"
#include "clvae/train/train.h"

/* A classifier's test loss (mean softmax cross-entropy) and accuracy. */
static int eval_classifier(cli_run_t *r, long n, int json, clvae_error_t *err)
{
    size_t count = n > 0 && (size_t)n < r->test.n ? (size_t)n : r->test.n;
    clvae_class_result_t cr;
    if (clvae_classifier_evaluate(r->ctx, r->model, &r->desc, &r->test, &r->dtest, count,
                                  clvae_objective_max_batch(r->model), &cr, err))
        return cli_report(NULL, err);
    if (json) {
        printf("{\"run\": ");
        cli_json_string(stdout, r->ckpath);
        printf(", \"data\": ");
        cli_json_string(stdout, r->test.name);
        printf(", \"n\": %zu, \"kind\": \"classifier\", \"loss\": %.6f, \"accuracy\": %.6f}\n",
               cr.n, cr.loss, cr.accuracy);
    } else {
        printf("%s on %zu images of %s (classifier, %d classes):\n", r->ckpath, cr.n,
               r->test.name, r->desc.classes);
        printf("  test accuracy %.2f%%  loss %.4f  (mean softmax cross-entropy per image)\n",
               100.0 * cr.accuracy, cr.loss);
    }
    return 0;
}

static int run(const cli_common_t *common, int argc, char **argv)
{
    const char *runp = NULL;
    int sample = 0, json = 0;
    long iwae = 0, n = 0, seed = 1;
    for (int i = 0; i < argc; i++) {
        const char *v;
        int r;
        if ((r = cli_opt(&i, argc, argv, "--latent", &v))) {
            if (r < 0 || (strcmp(v, "mean") && strcmp(v, "sample")))
                return cli_usage_error(&cli_cmd_eval, "--latent wants mean or sample");
            sample = strcmp(v, "sample") == 0;
        } else if ((r = cli_opt(&i, argc, argv, "--iwae", &v))) {
            if (r < 0 || cli_parse_long(v, 1, 100000, &iwae))
                return cli_usage_error(&cli_cmd_eval, "--iwae wants a sample count from 1 to 100000");
        } else if ((r = cli_opt(&i, argc, argv, "--n", &v))) {
            if (r < 0 || cli_parse_long(v, 1, 100000000L, &n))
                return cli_usage_error(&cli_cmd_eval, "--n wants a number of test images");
        } else if ((r = cli_opt(&i, argc, argv, "--seed", &v))) {
            if (r < 0 || cli_parse_long(v, 0, 2147483647L, &seed))
                return cli_usage_error(&cli_cmd_eval, "--seed wants a whole number >= 0");
        } else if (strcmp(argv[i], "--json") == 0) {
            json = 1;
        } else if (argv[i][0] != '-' && !runp) {
            runp = argv[i];
        } else {
            return cli_unknown_arg(&cli_cmd_eval, argv[i]);
        }
    }
    if (!runp) return cli_usage_error(&cli_cmd_eval, "which run (a run folder or a checkpoint file)?");
    cli_run_t r;
    clvae_error_t err = {0};
    clvae_eval_result_t res;
    clvae_data_dev_t labels = {0};
    int code = 0;
    clvae_status_t s = cli_run_open(&r, common, runp, 256, &err);
    if (!s) s = cli_run_test_data(&r, &err);
    if (!s && (clvae_objective_can(&r.desc) & CLVAE_CAN_CLASSIFY) && (iwae || sample))
        s = CLVAE_FAIL(&err, CLVAE_ERR_INVALID, "%s is a classifier: %s applies to a VAE's "
                       "latent code; a classifier's eval is its test accuracy (leave it out)",
                       r.ckpath, iwae ? "--iwae" : "--latent sample");
    if (!s && (clvae_objective_can(&r.desc) & CLVAE_CAN_CLASSIFY)) {
        code = eval_classifier(&r, n, json, &err);
        clvae_error_clear(&err);
        cli_run_close(&r);
        return code;
    }
    /* with the true labels when the objective reads them (a conditional model) */
    if (!s) s = clvae_objective_labels_upload(r.ctx, &r.desc, &r.test, &labels, &err);
    if (!s) {
        size_t count = n > 0 && (size_t)n < r.test.n ? (size_t)n : r.test.n;
        s = clvae_evaluate_labels(r.ctx, r.model, &r.desc, &r.dtest,
                                  labels.n ? &labels : NULL, count,
                                  clvae_objective_max_batch(r.model), sample, (uint64_t)seed,
                                  (int)iwae, &res, &err);
    }
    if (s) {
        code = cli_report(common, &err);
    } else if (json) {
        printf("{\"run\": ");
        cli_json_string(stdout, r.ckpath);
        printf(", \"data\": ");
        cli_json_string(stdout, r.test.name);
        printf(", \"n\": %zu, \"latent\": \"%s\", \"loss\": %.6f, \"reconstruction\": %.6f, "
               "\"kl\": %.6f",
               res.n, sample ? "sample" : "mean", res.loss, res.recon, res.kl);
        if (r.desc.noise.kind != CLVAE_NOISE_NONE)
            printf(", \"noise\": \"%s\", \"plain_reconstruction\": %.6f",
                   clvae_noise_kind_name(r.desc.noise.kind), res.plain_recon);
        if (iwae) printf(", \"iwae_k\": %d, \"log_px\": %.6f", res.iwae_k, res.log_px);
        printf("}\n");
    } else {
        printf("%s on %zu images of %s (z = %s):\n", r.ckpath, res.n, r.test.name,
               sample ? "sample" : "mean");
        printf("  loss %.4f  reconstruction %.4f  KL %.4f  (per image%s)\n", res.loss, res.recon,
               res.kl, r.desc.variational ? "; loss = reconstruction + KL, beta 1: the negative "
               "ELBO, whatever beta the training used" : "");
        if (r.desc.noise.kind != CLVAE_NOISE_NONE)
            printf("  denoising: %s noise in, clean target (the numbers above); plain "
                   "reconstruction of clean images %.4f\n",
                   clvae_noise_kind_name(r.desc.noise.kind), res.plain_recon);
        if (iwae) printf("  log p(x) >= %.4f nats per image (IWAE, K = %d)\n", res.log_px, res.iwae_k);
    }
    clvae_error_clear(&err);
    clvae_data_dev_free(&labels);
    cli_run_close(&r);
    return code;
}

const cli_command_t cli_cmd_eval = {
    "eval", "test-set loss, reconstruction and KL (--iwae K: log p(x)); a classifier's accuracy",
    "clvae eval RUN [--latent mean|sample] [--iwae K] [--n N] [--seed S] [--json] [--device SPEC]",
    run};
