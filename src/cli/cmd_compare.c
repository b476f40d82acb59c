/* `clvae compare`: several runs side by side: a markdown table of their test metrics and
 * sample quality, and a PNG of their sample grids. */
#include "cli.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "clvae/train/classify.h"
#include "clvae/eval/cas.h"
#include "clvae/eval/compare.h"
#include "clvae/eval/figures.h"
#include "clvae/io/fileio.h"
#include "clvae/data/labels.h"
#include "clvae/eval/score.h"
#include "clvae/train/train.h"

#define MAX_RUNS 32

typedef struct cmp_args {
    const char *runs[MAX_RUNS];
    int nruns;
    const char *classifier, *out;
    long count, iwae, ntest, seed;
    int cas;                /* --cas: a CAS column (the classifier config trained on samples) */
    long cas_epochs;        /* 0: the classifier config's */
    double *cas_real;       /* the same config trained on as many real images (the first run
                               with a CAS measures it) */
} cmp_args_t;

static const char *recon_name(clvae_recon_t r)
{
    return r == CLVAE_RECON_BCE ? "BCE" : r == CLVAE_RECON_MSE_SUM ? "MSE sum" : "MSE mean";
}

static void say_stderr(void *user, const char *line)
{
    fprintf(stderr, "clvae: compare: %s: %s\n", (const char *)user, line);
}

/* row's CAS: classifier c's config trained on the samples of run r (those it was scored on) in
 * a temporary folder (removed after); the first such run also trains it on as many real
 * images. */
static clvae_status_t cas(const cmp_args_t *a, cli_run_t *r, cli_run_t *c, const float *samples,
                          clvae_compare_row_t *row, clvae_error_t *err)
{
    char work[4096];
    const char *tmp = getenv("TMPDIR");
    snprintf(work, sizeof work, "%s/clvae-cas-XXXXXX", tmp && *tmp ? tmp : "/tmp");
    if (!mkdtemp(work))
        return CLVAE_FAIL(err, CLVAE_ERR_IO, "cannot make a temporary folder %s: %s", work,
                          strerror(errno));
    unsigned sets = CLVAE_CAS_GENERATED | (isnan(*a->cas_real) ? CLVAE_CAS_REAL : 0);
    clvae_cas_t k;
    clvae_status_t s = clvae_cas_run(r->ctx, r->model, &r->desc, c->model, &c->desc, c->ck.config,
                                     cli_data_dir(), work, (size_t)a->count, a->cas_epochs,
                                     (uint64_t)a->seed, samples, sets, say_stderr, row->name, &k,
                                     err);
    clvae_dir_remove_tree(work, 8);
    if (s) return s;
    row->cas = k.generated;
    if (sets & CLVAE_CAS_REAL) *a->cas_real = k.real;
    return CLVAE_OK;
}

/* The samples of run r: scored by classifier c (when given and of the same image shape) into
 * row, and 64 of them drawn into *grid. */
static clvae_status_t samples(const cmp_args_t *a, cli_run_t *r, cli_run_t *c,
                              clvae_compare_row_t *row, clvae_image_t *grid, clvae_error_t *err)
{
    const clvae_model_desc_t *d = &r->desc;
    clvae_status_t s;
    const clvae_layer_t *gi = clvae_objective_image_layer(d);
    int draws = (clvae_objective_can(d) & CLVAE_CAN_SAMPLE) != 0;
    if (c && draws) {
        const clvae_layer_t *ci = &c->desc.layers[0];
        if (gi->out_c == ci->out_c && gi->out_h == ci->out_h && gi->out_w == ci->out_w) {
            clvae_score_t sc;
            if ((s = clvae_score_run(r->ctx, r->model, d, c->model, &c->desc, &r->test,
                                     (size_t)a->count, (uint64_t)a->seed, &sc, err)))
                return s;
            row->frechet = sc.frechet;
            row->confidence = sc.confidence;
            clvae_score_collapse(&sc, row->collapsed, sizeof row->collapsed);
            row->scored = 1;
            s = a->cas ? cas(a, r, c, sc.samples, row, err) : CLVAE_OK;
            clvae_score_free(&sc);
            if (s) return s;
        }
    }
    /* the sample grid: 64 samples, tiles of about 56 pixels; a conditional model a row of 8 per
     * class (up to 16 classes: all ten digits) */
    size_t K = d->conditional < 16 ? d->conditional : 16;
    size_t ns = K ? 8 * K : 64, D = clvae_objective_sample_dim(r->model);
    float *imgs = malloc(ns * D * sizeof *imgs);
    if (!imgs) return CLVAE_FAIL(err, CLVAE_ERR_NOMEM, "out of host memory");
    int zoom = gi->out_h >= 56 ? 1 : (int)(56 / gi->out_h);
    int glab[128];
    for (size_t i = 0; i < ns; i++) glab[i] = K ? (int)(i / 8) : 0;
    /* a model that does not sample (a VQ-VAE without its prior): its reconstructions of the
     * first 64 test images */
    if (draws)
        s = clvae_generate(r->model, d, ns, (uint64_t)a->seed, d->conditional ? glab : NULL,
                           imgs, err);
    else
        s = clvae_reconstruct_first(r->ctx, r->model, &r->dtest, ns, imgs, err);
    if (!s)
        s = clvae_image_grid(grid, imgs, ns, (int)gi->out_c, (int)gi->out_h, (int)gi->out_w, 8,
                             2, zoom, 255, err);
    free(imgs);
    return s;
}

/* Fills row from run r (opened), its test set loaded; draws its samples into *grid. */
static clvae_status_t measure(const cmp_args_t *a, cli_run_t *r, cli_run_t *c,
                              clvae_compare_row_t *row, clvae_image_t *grid, clvae_error_t *err)
{
    const clvae_model_desc_t *d = &r->desc;
    snprintf(row->model, sizeof row->model, "%s", d->name);
    snprintf(row->kind, sizeof row->kind, "%s", clvae_model_kind(d));
    snprintf(row->dataset, sizeof row->dataset, "%s", d->train_data);
    if (d->prior) /* the codes of its VQ-VAE's training images */
        snprintf(row->dataset, sizeof row->dataset, "codes of %.200s", r->vq.desc.train_data);
    row->params = d->nparams + (d->disc ? d->disc->nparams : 0); /* a GAN: both networks */
    clvae_status_t s = clvae_metrics_summary(r->ck.metrics, &row->epochs, &row->sec_per_epoch,
                                             err);
    if (s) return s;
    if ((s = clvae_dataset_open(d->test_data, cli_data_dir(), &r->test, err)) ||
        (s = clvae_data_upload(r->ctx, &r->test, &r->dtest, err)))
        return s;
    size_t n = a->ntest > 0 && (size_t)a->ntest < r->test.n ? (size_t)a->ntest : r->test.n;
    size_t batch = clvae_objective_max_batch(r->model);
    if (clvae_objective_can(d) & CLVAE_CAN_CLASSIFY) {
        clvae_class_result_t cr;
        if ((s = clvae_classifier_evaluate(r->ctx, r->model, d, &r->test, &r->dtest, n, batch,
                                           &cr, err)))
            return s;
        row->accuracy = cr.accuracy;
        return CLVAE_OK;
    }
    if (!(clvae_objective_can(d) & CLVAE_CAN_RECONSTRUCT)) return samples(a, r, c, row, grid, err);
    /* with the test set's labels when the objective reads them (a conditional model) */
    clvae_data_dev_t labels = {0};
    if ((s = clvae_objective_labels_upload(r->ctx, d, &r->test, &labels, err))) return s;
    const clvae_data_dev_t *lp = labels.n ? &labels : NULL;
    clvae_eval_result_t ev;
    if ((s = clvae_evaluate_labels(r->ctx, r->model, d, &r->dtest, lp, n, batch, 0,
                                   (uint64_t)a->seed, 0, &ev, err))) {
        clvae_data_dev_free(&labels);
        return s;
    }
    /* a denoising model: the reconstruction of clean images, like the other rows */
    row->recon = d->noise.kind != CLVAE_NOISE_NONE ? ev.plain_recon : ev.recon;
    snprintf(row->recon_kind, sizeof row->recon_kind, "%s", recon_name(d->recon));
    if (d->variational) {
        int k = d->recon == CLVAE_RECON_BCE ? (int)a->iwae : 0;
        s = clvae_evaluate_labels(r->ctx, r->model, d, &r->dtest, lp, n, batch, 1,
                                  (uint64_t)a->seed, k, &ev, err);
        if (s) {
            clvae_data_dev_free(&labels);
            return s;
        }
        row->elbo = -(ev.recon + ev.kl);
        if (k > 0) row->log_px = ev.log_px;
    }
    clvae_data_dev_free(&labels);
    return samples(a, r, c, row, grid, err);
}

/* The run's name in the table: the path without a trailing slash or checkpoint file name. */
static void run_name(const char *path, char *buf, size_t size)
{
    snprintf(buf, size, "%s", path);
    size_t n = strlen(buf);
    while (n > 1 && buf[n - 1] == '/') buf[--n] = 0;
    const char *ck = "/checkpoint.safetensors";
    size_t k = strlen(ck);
    if (n > k && strcmp(buf + n - k, ck) == 0) buf[n - k] = 0;
}

/* A number, or null when unknown (NaN). */
static void json_num(const char *key, double v)
{
    printf(", \"%s\": ", key);
    if (isnan(v)) printf("null");
    else printf("%.6f", v);
}

/* `compare --json`: the rows as one JSON object, and the files written. */
static void print_json(const cmp_args_t *a, const clvae_compare_row_t *rows, const char *fid,
                       size_t npanels)
{
    char path[4200];
    printf("{\"out\": ");
    cli_json_string(stdout, a->out);
    snprintf(path, sizeof path, "%s/compare.md", a->out);
    printf(", \"table\": ");
    cli_json_string(stdout, path);
    printf(", \"png\": ");
    if (npanels) {
        snprintf(path, sizeof path, "%s/compare.png", a->out);
        cli_json_string(stdout, path);
    } else {
        printf("null");
    }
    printf(", \"fid_name\": ");
    cli_json_string(stdout, fid);
    printf(", \"runs\": [");
    for (int i = 0; i < a->nruns; i++) {
        const clvae_compare_row_t *r = &rows[i];
        printf("%s{\"name\": ", i ? ", " : "");
        cli_json_string(stdout, r->name);
        printf(", \"model\": ");
        cli_json_string(stdout, r->model);
        printf(", \"kind\": ");
        cli_json_string(stdout, r->kind);
        printf(", \"dataset\": ");
        cli_json_string(stdout, r->dataset);
        printf(", \"epochs\": %ld, \"parameters\": %zu", r->epochs, r->params);
        json_num("seconds_per_epoch", r->sec_per_epoch);
        printf(", \"reconstruction_loss\": ");
        cli_json_string(stdout, r->recon_kind);
        json_num("reconstruction", r->recon);
        json_num("elbo", r->elbo);
        json_num("log_px", r->log_px);
        json_num("accuracy", r->accuracy);
        json_num("frechet", r->frechet);
        json_num("confidence", r->confidence);
        json_num("cas", r->cas);
        printf("}");
    }
    printf("]}\n");
}

/* 0, or the exit status of a usage error (said). */
static int parse(int argc, char **argv, cmp_args_t *a, int *json)
{
    for (int i = 0; i < argc; i++) {
        const char *v;
        int r;
        if ((r = cli_opt(&i, argc, argv, "--classifier", &v))) {
            if (r < 0) return cli_usage_error(&cli_cmd_compare, "--classifier needs a classifier run");
            a->classifier = v;
        } else if ((r = cli_opt(&i, argc, argv, "--out", &v))) {
            if (r < 0 || !*v) return cli_usage_error(&cli_cmd_compare, "--out needs a folder");
            a->out = v;
        } else if ((r = cli_opt(&i, argc, argv, "--count", &v))) {
            if (r < 0 || cli_parse_long(v, 2, 1000000, &a->count))
                return cli_usage_error(&cli_cmd_compare, "--count wants a number of samples from 2 "
                                       "to 1000000");
        } else if ((r = cli_opt(&i, argc, argv, "--iwae", &v))) {
            if (r < 0 || cli_parse_long(v, 0, 100000, &a->iwae))
                return cli_usage_error(&cli_cmd_compare, "--iwae wants a sample count from 0 "
                                       "(none) to 100000");
        } else if ((r = cli_opt(&i, argc, argv, "--n", &v))) {
            if (r < 0 || cli_parse_long(v, 1, 100000000L, &a->ntest))
                return cli_usage_error(&cli_cmd_compare, "--n wants a number of test images");
        } else if ((r = cli_opt(&i, argc, argv, "--seed", &v))) {
            if (r < 0 || cli_parse_long(v, 0, 2147483647L, &a->seed))
                return cli_usage_error(&cli_cmd_compare, "--seed wants a whole number >= 0");
        } else if ((r = cli_opt(&i, argc, argv, "--cas-epochs", &v))) {
            if (r < 0 || cli_parse_long(v, 1, 1000, &a->cas_epochs))
                return cli_usage_error(&cli_cmd_compare, "--cas-epochs wants a number of epochs "
                                       "from 1 to 1000");
            a->cas = 1;
        } else if (strcmp(argv[i], "--cas") == 0) {
            a->cas = 1;
        } else if (strcmp(argv[i], "--json") == 0) {
            *json = 1;
        } else if (argv[i][0] != '-') {
            if (a->nruns == MAX_RUNS)
                return cli_usage_error(&cli_cmd_compare, "at most %d runs", MAX_RUNS);
            a->runs[a->nruns++] = argv[i];
        } else {
            return cli_unknown_arg(&cli_cmd_compare, argv[i]);
        }
    }
    if (a->nruns == 0) return cli_usage_error(&cli_cmd_compare, "which runs?");
    if (a->cas && !a->classifier)
        return cli_usage_error(&cli_cmd_compare, "--cas trains the config of the classifier "
                               "given by --classifier C: which one?");
    return 0;
}

/* compare.md: the table and the notes on its columns, into *md (malloc'd, also printed by
 * run) and a->out/compare.md. */
static clvae_status_t write_md(const cmp_args_t *a, int argc, char **argv,
                               const clvae_compare_row_t *rows, const char *fid,
                               const cli_run_t *c, clvae_ctx_t *ctx, char **mdp,
                               clvae_error_t *err)
{
    clvae_status_t s = CLVAE_OK;
    char *md = NULL, path[4200];
    char *table = clvae_compare_markdown(rows, (size_t)a->nruns, fid, 0);
    size_t cap = (table ? strlen(table) : 0) + 8192;
    md = malloc(cap);
    if (!table || !md) {
        s = CLVAE_FAIL(err, CLVAE_ERR_NOMEM, "out of host memory");
    } else {
        char when[64], cmd[2048] = "clvae compare", which[96] = ", on the whole test set";
        char iw[96] = "not computed (--iwae 0)";
        if (a->iwae)
            snprintf(iw, sizeof iw, "the IWAE bound with K = %ld samples (VAEs with BCE)",
                     a->iwae);
        if (a->ntest)
            snprintf(which, sizeof which, ", on the first %ld test images (--n; test "
                     "accuracy too)", a->ntest);
        time_t now = time(NULL);
        strftime(when, sizeof when, "%Y-%m-%d %H:%M UTC", gmtime(&now));
        for (int i = 0; i < argc; i++) {
            size_t l = strlen(cmd);
            snprintf(cmd + l, sizeof cmd - l, " %s", argv[i]);
        }
        const clvae_device_info_t *dev = clvae_ctx_device(ctx);
        int n = snprintf(md, cap,
                         "# Comparison of %d runs\n\n"
                         "`%s`\n\n"
                         "Device: %s (%s), %s.\n\n%s\n"
                         "- test reconstruction: the configured loss per test image with z = "
                         "z_mean%s; ELBO: -(reconstruction + KL) with z sampled once, "
                         "beta = 1; log p(x): %s.\n"
                         "- s/epoch: mean training time per epoch from metrics.csv (this "
                         "device, or the one the run trained on).\n",
                         a->nruns, cmd, dev->name, dev->platform_name, when, table,
                         which, iw);
        if (a->classifier && n > 0 && (size_t)n < cap)
            n += snprintf(md + n, cap - (size_t)n,
                          "- %s: Frechet distance between Gaussian fits of the penultimate "
                          "features of classifier `%s` for %ld samples (each model's own "
                          "sampling: z ~ N(0, I) through a decoder, a plain AE's too, or a "
                          "generator; a prior's codes through its VQ-VAE; a diffusion "
                          "model's DDIM over min(T, 50) steps, eta 0, with its weights' "
                          "moving average when it keeps one) and for as many test images (or the "
                          "whole test set when smaller; it is not the Inception FID); confidence: the samples' mean max-softmax "
                          "probability. Lower FID and higher confidence are better.\n",
                          fid, c->ckpath, a->count);
        if (a->cas && n > 0 && (size_t)n < cap)
            n += snprintf(md + n, cap - (size_t)n,
                          "- CAS (classification accuracy score, Ravuri & Vinyals): the test "
                          "accuracy of classifier `%s`'s config trained from scratch on the "
                          "%ld samples alone (a conditional model's labels; otherwise the "
                          "classifier's predictions of them)%s; the same config on the first "
                          "%ld real training images: %.2f%%. A generator that covers the "
                          "classes scores near that, a collapsed one low.\n",
                          c->ckpath, a->count, a->cas_epochs ? "" : ", for the config's epochs",
                          a->count, 100.0 * *a->cas_real);
        if (n > 0 && (size_t)n < cap) {
            snprintf(path, sizeof path, "%s/compare.md", a->out);
            s = clvae_write_file_atomic(path, md, strlen(md), err);
        }
    }
    free(table);
    *mdp = md;
    return s;
}

static int run(const cli_common_t *common, int argc, char **argv)
{
    double cas_real = NAN;
    cmp_args_t a = {{0}, 0, NULL, "runs/compare", 10000, 10, 0, 1, 0, 0, &cas_real};
    int json = 0, bad = parse(argc, argv, &a, &json);
    if (bad) return bad;
    clvae_error_t err = {0};
    clvae_ctx_t *ctx = NULL;
    cli_run_t c, r;
    memset(&c, 0, sizeof c);
    memset(&r, 0, sizeof r);
    clvae_compare_row_t rows[MAX_RUNS];
    clvae_image_t grids[MAX_RUNS];
    clvae_compare_panel_t panels[MAX_RUNS];
    char names[MAX_RUNS][128];
    size_t npanels = 0;
    memset(grids, 0, sizeof grids);
    char *md = NULL, fid[96] = "FID (own classifier)", path[4200];
    int code = 0;
    clvae_status_t s = CLVAE_OK;
    /* every run readable before any work */
    for (int i = 0; i < a.nruns && !s; i++) {
        clvae_checkpoint_t ck;
        memset(&ck, 0, sizeof ck);
        cli_run_t probe;
        memset(&probe, 0, sizeof probe);
        cli_run_path(a.runs[i], probe.ckpath, sizeof probe.ckpath);
        s = clvae_checkpoint_read(probe.ckpath, &ck, &err);
        clvae_checkpoint_free(&ck);
    }
    /* the output folder can be made and written before any work (and is removed again when
     * this run made it and fails) */
    char created[4200] = "";
    int prepared = 0;
    if (!s && !(s = clvae_dir_prepare(a.out, created, sizeof created, &err))) prepared = 1;
    if (!s) s = cli_ctx_open(common, 0, &ctx, &err);
    if (!s && a.classifier) {
        s = cli_run_open_in(&c, ctx, a.classifier, 256, &err);
        if (!s && !(clvae_objective_can(&c.desc) & CLVAE_CAN_CLASSIFY))
            s = CLVAE_FAIL(&err, CLVAE_ERR_INVALID, "--classifier %s: %s is not a classifier "
                           "(its [model] kind is %s)", a.classifier, c.ckpath,
                           clvae_model_kind(&c.desc));
        if (!s) cli_fid_name(&c.desc, fid, sizeof fid);
        /* the real training set holds --count labelled images (the classifier stands in for a
         * generator: the shape checks are each run's, made when it is scored) */
        if (!s && a.cas)
            s = clvae_cas_check(&c.desc, &c.desc, c.ck.config, cli_data_dir(), (size_t)a.count,
                                &err);
    }
    for (int i = 0; i < a.nruns && !s; i++) {
        clvae_compare_row_init(&rows[i]);
        run_name(a.runs[i], rows[i].name, sizeof rows[i].name);
        fprintf(stderr, "clvae: compare: %s\n", rows[i].name);
        if (!(s = cli_run_open_in(&r, ctx, a.runs[i], 256, &err))) {
            r.ctx = ctx;
            s = measure(&a, &r, a.classifier ? &c : NULL, &rows[i], &grids[npanels], &err);
            if (!s && grids[npanels].px) {
                snprintf(names[npanels], sizeof names[npanels], "%s", rows[i].name);
                panels[npanels].caption = names[npanels];
                panels[npanels].img = &grids[npanels];
                npanels++;
            }
        }
        r.ctx = NULL;
        cli_run_close(&r);
    }
    if (!s) s = write_md(&a, argc, argv, rows, fid, &c, ctx, &md, &err);
    if (!s && npanels) {
        snprintf(path, sizeof path, "%s/compare.png", a.out);
        s = clvae_compare_png(panels, npanels, path, &err);
    }
    if (s) {
        code = cli_report(common, &err);
        if (prepared) clvae_dir_unmake(a.out, created);
    } else if (json) {
        print_json(&a, rows, fid, npanels);
    } else {
        fputs(md, stdout);
        printf("wrote %s/compare.md%s%s%s\n", a.out, npanels ? " and " : "",
               npanels ? a.out : "", npanels ? "/compare.png" : " (no generative run: no PNG)");
    }
    for (size_t i = 0; i < npanels; i++) clvae_image_free(&grids[i]);
    free(md);
    clvae_error_clear(&err);
    c.ctx = NULL;
    cli_run_close(&c);
    clvae_ctx_free(ctx);
    return code;
}

const cli_command_t cli_cmd_compare = {
    "compare", "runs side by side: DIR/compare.md (table) and DIR/compare.png (samples)",
    "clvae compare RUN... [--classifier C] [--out DIR] [--count N] [--iwae K] [--n N]\n"
    "              [--seed S] [--json] [--cas] [--cas-epochs E] [--device SPEC]\n"
    "  per run: model, kind, dataset, epochs, parameters, seconds per epoch, test\n"
    "  reconstruction per image, ELBO and IWAE log p(x) (VAE, K = --iwae, default 10; 0\n"
    "  skips it), test accuracy (classifiers) and with --classifier the Frechet distance of\n"
    "  its features (\"FID (own MNIST classifier)\") and confidence of --count samples\n"
    "  (default 10000). --n evaluates the first N test images only. DIR: runs/compare,\n"
    "  made and checked writable before any work. --json prints the rows as one JSON\n"
    "  object instead of the table (the files are written all the same). --cas (with\n"
    "  --classifier) adds the classification accuracy score: C's config trained on the N\n"
    "  samples alone for E epochs (default: the config's), tested on the real test set.",
    run};
