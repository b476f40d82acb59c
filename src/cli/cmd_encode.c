/* `clvae encode`: the latent means of a data set as .npy or .csv, image embeddings for other
 * tools (NumPy, scikit-learn, a spreadsheet). */
#include "cli.h"

#include <stdlib.h>
#include <string.h>

#include "clvae/eval/figures.h"
#include "clvae/io/fileio.h"
#include "clvae/io/npy.h"

typedef struct enc_args {
    const char *run, *out, *data;
    long limit;
} enc_args_t;

static int parse(int argc, char **argv, enc_args_t *a)
{
    for (int i = 0; i < argc; i++) {
        const char *v;
        int r;
        if ((r = cli_opt(&i, argc, argv, "--out", &v))) {
            if (r < 0) return cli_usage_error(&cli_cmd_encode, "--out needs a .npy or .csv file");
            a->out = v;
        } else if ((r = cli_opt(&i, argc, argv, "--data", &v))) {
            if (r < 0) return cli_usage_error(&cli_cmd_encode, "--data needs a data set spec");
            a->data = v;
        } else if ((r = cli_opt(&i, argc, argv, "--limit", &v))) {
            if (r < 0 || cli_parse_long(v, 1, 100000000L, &a->limit))
                return cli_usage_error(&cli_cmd_encode, "--limit wants a number of examples >= 1");
        } else if (argv[i][0] != '-' && !a->run) {
            a->run = argv[i];
        } else {
            return cli_unknown_arg(&cli_cmd_encode, argv[i]);
        }
    }
    if (!a->run) return cli_usage_error(&cli_cmd_encode, "which run (a run folder or a checkpoint file)?");
    if (!a->out) return cli_usage_error(&cli_cmd_encode, "--out FILE.npy or FILE.csv: where do the codes go?");
    size_t len = strlen(a->out);
    if (len < 5 || (strcmp(a->out + len - 4, ".npy") != 0 && strcmp(a->out + len - 4, ".csv") != 0))
        return cli_usage_error(&cli_cmd_encode, "--out %s: the file ends in .npy (float32 [N, J]) "
                               "or .csv", a->out);
    return 0;
}

/* FILE.npy's labels beside it: FILE_labels.npy. */
static void labels_path(const char *out, char *buf, size_t size)
{
    snprintf(buf, size, "%.*s_labels.npy", (int)(strlen(out) - 4), out);
}

/* The codes [n, J] (and labels, NULL without) into the file its extension names. */
static clvae_status_t write_codes(const char *out, const float *mu, size_t n, size_t J,
                                  const uint8_t *labels, clvae_error_t *err)
{
    if (strcmp(out + strlen(out) - 4, ".npy") == 0) {
        size_t shape[2] = {n, J};
        char lp[4200];
        clvae_status_t s = clvae_npy_write_f32(out, shape, 2, mu, err);
        labels_path(out, lp, sizeof lp);
        return s || !labels ? s : clvae_npy_write_u8(lp, shape, 1, labels, err);
    }
    size_t cap = n * (J * 16 + 24) + 64 + J * 8, len = 0;
    char *csv = malloc(cap);
    if (!csv) return CLVAE_FAIL(err, CLVAE_ERR_NOMEM, "out of host memory");
    len += (size_t)snprintf(csv + len, cap - len, "index,label");
    for (size_t j = 0; j < J; j++) len += (size_t)snprintf(csv + len, cap - len, ",z%zu", j);
    len += (size_t)snprintf(csv + len, cap - len, "\n");
    for (size_t i = 0; i < n; i++) {
        len += (size_t)snprintf(csv + len, cap - len, "%zu,", i);
        if (labels) len += (size_t)snprintf(csv + len, cap - len, "%u", labels[i]);
        for (size_t j = 0; j < J; j++)
            len += (size_t)snprintf(csv + len, cap - len, ",%.7g", (double)mu[i * J + j]);
        len += (size_t)snprintf(csv + len, cap - len, "\n");
    }
    clvae_status_t s = clvae_write_file_atomic(out, csv, len, err);
    free(csv);
    return s;
}

static int run(const cli_common_t *common, int argc, char **argv)
{
    enc_args_t a = {NULL, NULL, NULL, 0};
    int bad = parse(argc, argv, &a);
    if (bad) return bad;
    cli_run_t r;
    clvae_error_t err = {0};
    clvae_dataset_t own = {0};
    clvae_data_dev_t dd = {0};
    float *mu = NULL;
    char lp[4200];
    labels_path(a.out, lp, sizeof lp);
    /* the output is checked writable before any work */
    clvae_status_t s = clvae_file_check_writable(a.out, &err);
    if (!s) s = cli_run_open(&r, common, a.run, 256, &err);
    else memset(&r, 0, sizeof r);
    if (!s && !(clvae_objective_can(&r.desc) & CLVAE_CAN_ENCODE))
        s = CLVAE_FAIL(&err, CLVAE_ERR_INVALID, "%s is a %s: it has no latent code to write",
                       r.ckpath, clvae_objective_kind_name(&r.desc));
    const clvae_dataset_t *ds = &r.test;
    const clvae_data_dev_t *dev = &r.dtest;
    if (!s && a.data) {
        const clvae_layer_t *in = clvae_objective_image_layer(&r.desc);
        s = clvae_dataset_open(a.data, cli_data_dir(), &own, &err);
        if (!s && (own.c != in->out_c || own.h != in->out_h || own.w != in->out_w))
            s = CLVAE_FAIL(&err, CLVAE_ERR_INVALID, "--data %s holds %zux%zux%zu images; %s "
                           "encodes %zux%zux%zu", a.data, own.c, own.h, own.w, r.ckpath,
                           in->out_c, in->out_h, in->out_w);
        if (!s && r.desc.conditional && !own.labels)
            s = CLVAE_FAIL(&err, CLVAE_ERR_INVALID, "--data %s has no labels; %s is conditional "
                           "and encodes an image with its label", a.data, r.ckpath);
        if (!s) s = clvae_data_upload(r.ctx, &own, &dd, &err);
        ds = &own;
        dev = &dd;
    } else if (!s) {
        s = cli_run_test_data(&r, &err);
    }
    size_t n = s ? 0 : ds->n, J = s ? 0 : clvae_objective_latent_dim(r.model);
    if (!s && a.limit && (size_t)a.limit < n) n = (size_t)a.limit;
    if (!s && !(mu = malloc(n * J * sizeof *mu)))
        s = CLVAE_FAIL(&err, CLVAE_ERR_NOMEM, "out of host memory for %zu codes", n);
    if (!s) s = clvae_encode_means(r.ctx, r.model, ds, dev, n, mu, &err);
    if (!s) s = write_codes(a.out, mu, n, J, ds->labels, &err);
    int code = 0;
    if (s) {
        code = cli_report(common, &err);
    } else {
        int npy = strcmp(a.out + strlen(a.out) - 4, ".npy") == 0;
        printf("z_mean of %zu %s examples (%zu dimensions) into %s", n, ds->name, J, a.out);
        if (ds->labels) printf(npy ? ", their labels into %s" : " (with their labels)", lp);
        printf("\n");
    }
    free(mu);
    clvae_data_dev_free(&dd);
    clvae_dataset_free(&own);
    clvae_error_clear(&err);
    cli_run_close(&r);
    return code;
}

const cli_command_t cli_cmd_encode = {
    "encode", "a data set's latent codes (z_mean) as .npy or .csv, embeddings for other tools",
    "clvae encode RUN --out FILE.npy|FILE.csv [--data SPEC] [--limit N] [--device SPEC]\n"
    "  encodes the run's test set (or --data SPEC, e.g. mnist:train, any spec of [data]; the\n"
    "  first --limit N examples) and writes each example's z_mean: FILE.npy as float32 [N, J]\n"
    "  with the labels, when the data has them, in FILE_labels.npy (uint8 [N]) for\n"
    "  numpy.load; FILE.csv as index,label,z0,...,zJ-1. An autoencoder or VAE (a conditional\n"
    "  one reads each example's label); other kinds have no code and are refused. The file's\n"
    "  folder must exist and be writable (checked before any work).",
    run};
