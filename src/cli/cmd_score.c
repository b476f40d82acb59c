/* `clvae score`: samples of a generative run judged by a classifier run (Frechet distance of
 * its penultimate features, confidence, class histogram). */
#include "cli.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "clvae/eval/cas.h"
#include "clvae/eval/score.h"
#include "clvae/io/fileio.h"

void cli_run_path(const char *run, char *buf, size_t size)
{
    struct stat sb;
    if (stat(run, &sb) == 0 && S_ISDIR(sb.st_mode))
        snprintf(buf, size, "%s/checkpoint.safetensors", run);
    else
        snprintf(buf, size, "%s", run);
}

void cli_fid_name(const clvae_model_desc_t *cd, char *buf, size_t size)
{
    const char *data = cd->train_data;
    const char *what = strncmp(data, "mnist:", 6) == 0           ? "MNIST"
                       : strncmp(data, "fashion-mnist:", 14) == 0 ? "Fashion-MNIST"
                       : strncmp(data, "digits", 6) == 0          ? "digits"
                                                                  : data;
    snprintf(buf, size, "FID (own %s classifier)", what);
}

const char *cli_sampling_note(const clvae_model_desc_t *gd)
{
    if (gd->gan && gd->conditional)
        return "z ~ N(0, I) through the generator, with the labels 0..K-1 in equal numbers";
    if (gd->gan) return "z ~ N(0, I) through the generator";
    if (gd->ddpm && gd->conditional)
        return "x_T ~ N(0, I) denoised step by step by the network, with the labels 0..K-1 in "
               "equal numbers";
    if (gd->ddpm) return "x_T ~ N(0, I) denoised step by step by the network";
    if (gd->prior)
        return "the 49 codes of each map drawn in raster order by the PixelCNN prior, decoded by "
               "its VQ-VAE";
    if (clvae_gen_conditional(gd))
        return "z ~ N(0, I) through the decoder, with the labels 0..K-1 in equal numbers";
    if (gd->variational) return "z ~ N(0, I) through the decoder (the VAE's prior)";
    return "z ~ N(0, I) through the decoder, as for a VAE, although a plain autoencoder's codes "
           "were never fitted to N(0, I): this is what shows a plain AE is a poor generator";
}

/* score's human output. */
static void print_text(const cli_run_t *g, const cli_run_t *c, const clvae_score_t *sc, long seed,
                       const char *how, const char *fid)
{
    printf("%s (%s): %zu samples, seed %ld: %s\n", g->ckpath,
           g->desc.gan ? "GAN" : g->desc.prior ? "VQ-VAE prior" : g->desc.ddpm ? "diffusion model"
           : g->desc.variational ? "VAE" : "plain autoencoder",
           sc->n, seed, how);
    printf("sampling: %.1f s, %.3g images/s\n", sc->sample_seconds,
           sc->sample_seconds > 0 ? (double)sc->n / sc->sample_seconds : 0.0);
    printf("classifier %s: %zu penultimate features, %d classes; reference: the first %zu "
           "images of %s\n", c->ckpath, sc->features, sc->classes, sc->ref_n, g->test.name);
    printf("  %s: %.3f  (samples against the test images; two halves of the test images "
           "against each other: %.3f)\n", fid, sc->frechet, sc->ref_frechet);
    printf("  mean max-softmax confidence: %.4f  (test images: %.4f)\n", sc->confidence,
           sc->ref_confidence);
    printf("  class histogram of the samples:");
    for (int k = 0; k < sc->classes; k++) printf(" %d:%zu", k, sc->hist[k]);
    printf("\n");
    char col[256];
    int nc = clvae_score_collapse(sc, col, sizeof col);
    if (nc)
        printf("  mode collapse: class%s %s get%s under a third of %s share (%zu samples "
               "each would be even)\n", nc == 1 ? "" : "es", col, nc == 1 ? "s" : "",
               nc == 1 ? "its" : "their", sc->n / (size_t)sc->classes);
    else
        printf("  no mode collapse: every class gets at least a third of its share\n");
    if (sc->conditional)
        printf("  classified as the requested label: %.2f%%\n", 100.0 * sc->label_match);
}

typedef struct score_args {
    const char *run, *cls, *cas_out;
    long count, seed, cas_epochs;
    int json, cas;
    cli_sampler_opts_t so;
} score_args_t;

/* 0, or the exit status of a usage error (said). */
static int parse(int argc, char **argv, score_args_t *a)
{
    for (int i = 0; i < argc; i++) {
        const char *v;
        int r;
        if ((r = cli_sampler_take(&cli_cmd_score, &a->so, &i, argc, argv))) {
            if (r < 0) return 2;
        } else if ((r = cli_opt(&i, argc, argv, "--classifier", &v))) {
            if (r < 0) return cli_usage_error(&cli_cmd_score, "--classifier needs a classifier run");
            a->cls = v;
        } else if ((r = cli_opt(&i, argc, argv, "--count", &v))) {
            if (r < 0 || cli_parse_long(v, 2, 1000000, &a->count))
                return cli_usage_error(&cli_cmd_score, "--count wants a number of samples from 2 "
                                       "to 1000000");
        } else if ((r = cli_opt(&i, argc, argv, "--seed", &v))) {
            if (r < 0 || cli_parse_long(v, 0, 2147483647L, &a->seed))
                return cli_usage_error(&cli_cmd_score, "--seed wants a whole number >= 0");
        } else if ((r = cli_opt(&i, argc, argv, "--cas-epochs", &v))) {
            if (r < 0 || cli_parse_long(v, 1, 1000, &a->cas_epochs))
                return cli_usage_error(&cli_cmd_score, "--cas-epochs wants a number of epochs "
                                       "from 1 to 1000");
            a->cas = 1;
        } else if ((r = cli_opt(&i, argc, argv, "--cas-out", &v))) {
            if (r < 0) return cli_usage_error(&cli_cmd_score, "--cas-out needs a folder");
            a->cas_out = v;
            a->cas = 1;
        } else if (strcmp(argv[i], "--cas") == 0) {
            a->cas = 1;
        } else if (strcmp(argv[i], "--json") == 0) {
            a->json = 1;
        } else if (argv[i][0] != '-' && !a->run) {
            a->run = argv[i];
        } else {
            return cli_unknown_arg(&cli_cmd_score, argv[i]);
        }
    }
    if (!a->run) return cli_usage_error(&cli_cmd_score, "which run (a run folder or a checkpoint file)?");
    if (!a->cls) return cli_usage_error(&cli_cmd_score, "--classifier C: which classifier run?");
    return 0;
}

static void say_stderr(void *user, const char *line)
{
    (void)user;
    fprintf(stderr, "%s\n", line);
}

/* The classification accuracy score's folder: --cas-out (new, kept) or a temporary one (removed
 * by cas_close); made and checked writable before any work. */
static clvae_status_t cas_open(const score_args_t *a, char *work, size_t size, char *created,
                               size_t csize, clvae_error_t *err)
{
    struct stat sb;
    if (a->cas_out && stat(a->cas_out, &sb) == 0)
        return CLVAE_FAIL(err, CLVAE_ERR_INVALID, "--cas-out %s exists: score does not "
                          "overwrite; remove it or choose another folder", a->cas_out);
    if (a->cas_out) {
        snprintf(work, size, "%s", a->cas_out);
        return clvae_dir_prepare(work, created, csize, err);
    }
    const char *tmp = getenv("TMPDIR");
    snprintf(work, size, "%s/clvae-cas-XXXXXX", tmp && *tmp ? tmp : "/tmp");
    if (!mkdtemp(work))
        return CLVAE_FAIL(err, CLVAE_ERR_IO, "cannot make a temporary folder %s: %s", work,
                          strerror(errno));
    snprintf(created, csize, "%s", work);
    return CLVAE_OK;
}

/* Removes the temporary folder, or a --cas-out folder after a failure (with what it made). */
static void cas_close(const score_args_t *a, const char *work, const char *created, int failed)
{
    if (!*work || (a->cas_out && !failed)) return;
    if (a->cas_out) {
        /* only what this call wrote: the folder was new */
        if (*created) clvae_dir_remove_tree(work, 8);
        clvae_dir_unmake(work, created);
        return;
    }
    clvae_dir_remove_tree(work, 8);
}

static void print_cas(const cli_run_t *c, const clvae_cas_t *k, const char *work, int kept)
{
    printf("  classification accuracy score: classifier config of %s, %ld epoch%s on each set, "
           "tested on %zu real test images\n", c->ckpath, k->epochs, k->epochs == 1 ? "" : "s",
           k->test_n);
    printf("    trained on %zu generated images alone: %.2f%%  (labels: %s)\n", k->n,
           100.0 * k->generated, k->pseudo ? "the classifier's predictions of the samples"
                                           : "the ones they were drawn with");
    printf("    trained on the first %zu real training images: %.2f%%\n", k->n, 100.0 * k->real);
    printf("    trained on both (%zu images): %.2f%%\n", 2 * k->n, 100.0 * k->both);
    if (kept) printf("  the data sets and the three classifier runs: %s\n", work);
}

static void print_json(const cli_run_t *g, const cli_run_t *c, const clvae_score_t *sc,
                       long seed, const char *how, const char *fid, const clvae_cas_t *k)
{
    printf("{\"run\": ");
    cli_json_string(stdout, g->ckpath);
    printf(", \"kind\": \"%s\", \"classifier\": ", clvae_model_kind(&g->desc));
    cli_json_string(stdout, c->ckpath);
    printf(", \"samples\": %zu, \"seed\": %ld, \"sampling_seconds\": %.3f, \"sampling\": ",
           sc->n, seed, sc->sample_seconds);
    cli_json_string(stdout, how);
    printf(", \"test_data\": ");
    cli_json_string(stdout, g->test.name);
    printf(", \"test_images\": %zu, \"features\": %zu, \"fid_name\": ", sc->ref_n, sc->features);
    cli_json_string(stdout, fid);
    printf(", \"fid_own_classifier\": %.6f, \"fid_test_halves\": %.6f, \"confidence\": %.6f, "
           "\"test_confidence\": %.6f, \"histogram\": [",
           sc->frechet, sc->ref_frechet, sc->confidence, sc->ref_confidence);
    for (int i = 0; i < sc->classes; i++) printf("%s%zu", i ? ", " : "", sc->hist[i]);
    char col[256];
    printf("], \"collapsed_classes\": %d, \"label_match\": ", clvae_score_collapse(sc, col, sizeof col));
    if (sc->conditional) printf("%.6f", sc->label_match);
    else printf("null");
    if (k)
        printf(", \"cas\": {\"images\": %zu, \"epochs\": %ld, \"labels\": \"%s\", \"test_images\": "
               "%zu, \"generated\": %.6f, \"real\": %.6f, \"both\": %.6f}}\n", k->n, k->epochs,
               k->pseudo ? "classifier" : "drawn", k->test_n, k->generated, k->real, k->both);
    else
        printf(", \"cas\": null}\n");
}

/* The two runs opened and checked (and the CAS folder made) before any work. */
static clvae_status_t open_runs(const cli_common_t *common, const score_args_t *a, cli_run_t *g,
                                cli_run_t *c, clvae_error_t *err)
{
    clvae_status_t s = cli_run_open(g, common, a->run, 256, err);
    if (!s && !(clvae_objective_can(&g->desc) & CLVAE_CAN_SAMPLE))
        s = CLVAE_FAIL(err, CLVAE_ERR_INVALID, "%s is a classifier: score wants a generative "
                       "run (ae or vae) and the classifier after --classifier", g->ckpath);
    if (!s) s = cli_sampler_apply(g, &a->so, err);
    if (!s) s = cli_run_open_in(c, g->ctx, a->cls, 256, err);
    if (!s && !(clvae_objective_can(&c->desc) & CLVAE_CAN_CLASSIFY))
        s = CLVAE_FAIL(err, CLVAE_ERR_INVALID, "--classifier %s: %s is not a classifier (its "
                       "[model] kind is %s)", a->cls, c->ckpath, c->desc.variational ? "vae" : "ae");
    if (!s && a->cas)
        s = clvae_cas_check(&g->desc, &c->desc, c->ck.config, cli_data_dir(), (size_t)a->count,
                            err);
    if (!s) s = clvae_dataset_open(g->desc.test_data, cli_data_dir(), &g->test, err);
    return s;
}

static int run(const cli_common_t *common, int argc, char **argv)
{
    score_args_t a = {NULL, NULL, NULL, 10000, 1, 0, 0, 0, {0, -1.0f, 0, -1.0f, 0, 0}};
    int bad = parse(argc, argv, &a);
    if (bad) return bad;
    cli_run_t g, c;
    memset(&c, 0, sizeof c);
    clvae_error_t err = {0};
    clvae_score_t sc;
    memset(&sc, 0, sizeof sc);
    clvae_cas_t cas;
    memset(&cas, 0, sizeof cas);
    char work[4096] = "", created[4096] = "";
    int code = 0;
    clvae_status_t s = open_runs(common, &a, &g, &c, &err);
    if (!s && a.cas) s = cas_open(&a, work, sizeof work, created, sizeof created, &err);
    if (!s)
        s = clvae_score_run(g.ctx, g.model, &g.desc, c.model, &c.desc, &g.test, (size_t)a.count,
                            (uint64_t)a.seed, &sc, &err);
    if (!s && a.cas)
        s = clvae_cas_run(g.ctx, g.model, &g.desc, c.model, &c.desc, c.ck.config, cli_data_dir(),
                          work, (size_t)a.count, a.cas_epochs, (uint64_t)a.seed, sc.samples,
                          CLVAE_CAS_ALL,
                          say_stderr, NULL,
                          &cas, &err);
    char fid[96], how[512];
    if (!s) cli_fid_name(&c.desc, fid, sizeof fid);
    snprintf(how, sizeof how, "%s", cli_sampling_note(&g.desc));
    if (!s && g.desc.ddpm) {
        char smp[128];
        cli_sampler_text(&g, &a.so, smp, sizeof smp);
        snprintf(how, sizeof how, "%s: %s", cli_sampling_note(&g.desc), smp);
    }
    if (s) {
        code = cli_report(common, &err);
    } else if (a.json) {
        print_json(&g, &c, &sc, a.seed, how, fid, a.cas ? &cas : NULL);
    } else {
        print_text(&g, &c, &sc, a.seed, how, fid);
        if (a.cas) print_cas(&c, &cas, work, a.cas_out != NULL);
    }
    cas_close(&a, work, created, s != CLVAE_OK);
    clvae_score_free(&sc);
    clvae_error_clear(&err);
    c.ctx = NULL; /* g's */
    cli_run_close(&c);
    cli_run_close(&g);
    return code;
}

const cli_command_t cli_cmd_score = {
    "score", "judge a run's samples with a classifier run: FID (own classifier), confidence",
    "clvae score RUN --classifier C [--count N] [--seed S] [--json] [--device SPEC]\n"
    "                [--steps S] [--eta E] [--ancestral] [--guidance G] [--no-clip]\n"
    "                [--raw-weights] [--cas] [--cas-epochs E] [--cas-out DIR]\n"
    "  draws N samples (default 10000) from RUN, z ~ N(0, I) through the decoder (a plain AE\n"
    "  too), and prints the Frechet distance between Gaussian fits of classifier C's\n"
    "  penultimate features of the samples and of the first N test images (\"FID (own MNIST\n"
    "  classifier)\": not comparable with the Inception FID), the mean max-softmax confidence\n"
    "  and the class histogram; for a conditional model the fraction classified as asked;\n"
    "  and how long drawing the samples took (images/s). A diffusion model samples as\n"
    "  `clvae sample` does, with the same --steps, --eta, --ancestral, --guidance and\n"
    "  --no-clip; a run with [train] ema uses its weights' moving average unless\n"
    "  --raw-weights.\n"
    "  --cas adds the classification accuracy score (Ravuri & Vinyals): C's config trained\n"
    "  on the N samples alone (a conditional model's labels, else C's predictions), on the\n"
    "  first N real training images and on both, for E epochs each (default: the config's),\n"
    "  each tested on the real test set. Its data sets and runs go to a temporary folder,\n"
    "  removed after, or to --cas-out DIR (a new folder, kept).",
    run};
