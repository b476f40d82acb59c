/* `clvae sweep`: train one config per value of a key, then one picture and one table of all. */
#include "cli.h"

#include <stdlib.h>
#include <string.h>

#include "clvae/eval/figures.h"
#include "clvae/eval/pca.h"
#include "clvae/eval/score.h"
#include "clvae/io/fileio.h"
#include "clvae/io/image.h"
#include "clvae/io/plot.h"
#include "clvae/train/train.h"

#define MAX_VALUES 16

/* A sweep of latent.size: PCA's test error with as many components, fit on (the first 10,000
 * of) the same training images: into pca[v]; 0 when there is nothing to say (another key, a
 * value that is no size, images of more than 1,024 values), else 1, or -1 on an error. */
static int pca_column(const char *key, char values[][64], int nv, const char *train_spec,
                      const char *test_spec, double *pca, clvae_error_t *err)
{
    if (strcmp(key, "latent.size") != 0) return 0;
    size_t ks[MAX_VALUES];
    for (int v = 0; v < nv; v++) {
        char *end;
        long k = strtol(values[v], &end, 10);
        if (*end || k < 1) return 0;
        ks[v] = (size_t)k;
    }
    clvae_dataset_t tr = {0}, te = {0};
    float *a = NULL, *b = NULL;
    clvae_status_t s = clvae_dataset_open(train_spec, cli_data_dir(), &tr, err);
    if (!s) s = clvae_dataset_open(test_spec, cli_data_dir(), &te, err);
    size_t D = s ? 0 : clvae_dataset_dim(&tr), ntr = s ? 0 : tr.n < 10000 ? tr.n : 10000;
    int said = 0;
    if (!s && D <= 1024) {
        for (int v = 0; v < nv; v++)
            if (ks[v] > D) ks[v] = D;
        s = clvae_dataset_floats(&tr, ntr, &a, err);
        if (!s) s = clvae_dataset_floats(&te, te.n, &b, err);
        if (!s) s = clvae_pca_errors(a, ntr, b, te.n, D, ks, nv, pca, err);
        said = 1;
    }
    free(a);
    free(b);
    clvae_dataset_free(&tr);
    clvae_dataset_free(&te);
    return s ? -1 : said;
}

/* sweep.md: a row of final losses per value, and PCA's column (pca not NULL) with its note. */
static void format_table(char *table, size_t size, const char *key, char values[][64], int nv,
                         const size_t *nparams, double finals[][4], const double *pca,
                         int recon)
{
    size_t len = (size_t)snprintf(table, size,
                                  "| %s | parameters | train loss | test loss | test reconstruction | test KL |%s\n"
                                  "| --- | --- | --- | --- | --- | --- |%s\n",
                                  key, pca ? " PCA, as many components: test squared error per image |" : "",
                                  pca ? " --- |" : "");
    for (int v = 0; v < nv && len < size; v++) {
        len += (size_t)snprintf(table + len, size - len, "| %s | %zu | %.4f | %.4f | %.4f | %.4f |",
                                values[v], nparams[v], finals[v][0], finals[v][1], finals[v][2],
                                finals[v][3]);
        if (pca && len < size) len += (size_t)snprintf(table + len, size - len, " %.4f |", pca[v]);
        if (len < size) len += (size_t)snprintf(table + len, size - len, "\n");
    }
    if (pca && len < size)
        snprintf(table + len, size - len, "\nPCA: principal components of the first 10,000 "
                 "training images at most (host, double), the test images rebuilt from as many "
                 "as the latent has; %s\n",
                 recon == CLVAE_RECON_MSE_SUM
                     ? "the same unit as the model's test reconstruction (summed squared error)"
                     : "the model's test reconstruction is in its own loss's unit (not squared "
                       "error)");
}

/* The options: --out, --n and the config's own (cli_cfg_take); 0, or the exit status of a
 * usage error (printed). */
static int parse_args(int argc, char **argv, cli_cfg_args_t *a, const char **out, long *n)
{
    for (int i = 0; i < argc; i++) {
        const char *v;
        int r;
        if ((r = cli_opt(&i, argc, argv, "--out", &v))) {
            if (r < 0) return cli_usage_error(&cli_cmd_sweep, "--out needs a folder");
            *out = v;
        } else if ((r = cli_opt(&i, argc, argv, "--n", &v))) {
            if (r < 0 || cli_parse_long(v, 1, 64, n))
                return cli_usage_error(&cli_cmd_sweep, "--n wants 1 to 64 test images");
        } else if ((r = cli_cfg_take(&cli_cmd_sweep, a, &i, argc, argv))) {
            if (r == 2) return 2;
        } else {
            return cli_unknown_arg(&cli_cmd_sweep, argv[i]);
        }
    }
    if (!a->path) return cli_usage_error(&cli_cmd_sweep, "which config file?");
    return 0;
}

/* Loads the config with each value of key (the --set at index which), before any training:
 * each must resolve to a plain autoencoder or VAE. Fills base (out, else runs/NAME_sweep), the
 * first value's data specs and reconstruction loss, and each value's parameter count. */
static clvae_status_t check_values(const cli_cfg_args_t *a, int which, const char *key,
                                   char values[][64], int nv, const char *out, char *base,
                                   size_t bsize, char *train_spec, char *test_spec, size_t ssize,
                                   int *recon, size_t *nparams, clvae_error_t *err)
{
    for (int v = 0; v < nv; v++) {
        cli_cfg_args_t b = *a;
        char setbuf[200];
        snprintf(setbuf, sizeof setbuf, "%s=%s", key, values[v]);
        b.sets[which] = setbuf;
        clvae_cfg_t cfg = {0};
        clvae_model_desc_t d;
        memset(&d, 0, sizeof d);
        clvae_status_t s = cli_cfg_load(&b, &cfg, &d, err);
        if (s) return s;
        if (d.classes || d.conditional)
            s = CLVAE_FAIL(err, CLVAE_ERR_INVALID, "sweep compares the reconstructions of plain "
                           "autoencoders and VAEs; %s is %s", d.name,
                           d.classes ? "a classifier" : "conditional");
        if (!s && v == 0) {
            snprintf(train_spec, ssize, "%s", d.train_data);
            snprintf(test_spec, ssize, "%s", d.test_data);
            *recon = (int)d.recon;
            if (out) snprintf(base, bsize, "%s", out);
            else snprintf(base, bsize, "runs/%s_sweep", d.name);
        }
        nparams[v] = d.nparams;
        clvae_model_desc_free(&d);
        clvae_cfg_free(&cfg);
        if (s) return s;
    }
    return CLVAE_OK;
}

/* The swept key and its values from the one --set with commas (index *which of a->sets);
 * 0, or the exit status of a usage error (printed). */
static int sweep_values(const cli_cfg_args_t *a, int *which, char *key, size_t ksize,
                        char values[][64], int *nv)
{
    *which = -1;
    for (int k = 0; k < a->nsets; k++) {
        if (!strchr(a->sets[k], ',')) continue;
        if (*which >= 0) return cli_usage_error(&cli_cmd_sweep, "sweep one key at a time");
        *which = k;
    }
    if (*which < 0)
        return cli_usage_error(&cli_cmd_sweep, "give the values to sweep: --set SECTION.KEY=V1,V2,...");
    const char *set = a->sets[*which], *eq = strchr(set, '=');
    if (!eq) return cli_usage_error(&cli_cmd_sweep, "--set %s: want SECTION.KEY=V1,V2,...", set);
    snprintf(key, ksize, "%.*s", (int)(eq - set), set);
    *nv = 0;
    for (const char *p = eq + 1; *p && *nv <= MAX_VALUES;) {
        size_t len = strcspn(p, ",");
        if (len == 0 || len >= 64 || *nv == MAX_VALUES)
            return cli_usage_error(&cli_cmd_sweep, "--set %s: 1 to %d non-empty values", set, MAX_VALUES);
        snprintf(values[(*nv)++], 64, "%.*s", (int)len, p);
        p += len + (p[len] == ',');
    }
    return 0;
}

/* f = the last metrics row's train loss and test loss, reconstruction and KL of run r. */
static clvae_status_t read_finals(const cli_run_t *r, double f[4], clvae_error_t *err)
{
    clvae_epoch_metrics_t *rows = NULL;
    size_t nrows = 0;
    clvae_status_t s = clvae_metrics_parse(r->ck.metrics, &rows, &nrows, err);
    if (!s && nrows) {
        f[0] = rows[nrows - 1].train[0];
        f[1] = rows[nrows - 1].test[0];
        f[2] = rows[nrows - 1].test[1];
        f[3] = rows[nrows - 1].test[2];
    }
    free(rows);
    return s;
}

/* BASE/sweep.png: the shown originals on top, one row of reconstructions per value (imgs holds
 * nv + 1 rows of shown images), each row labelled in a left margin. */
static clvae_status_t write_picture(const char *base, const char *key, char values[][64], int nv,
                                    const float *imgs, size_t shown, const clvae_dataset_t *shape,
                                    clvae_error_t *err)
{
    clvae_image_t grid = {0}, pic = {0};
    int zoom = shape->h <= 8 ? 6 : 2, margin = 110;
    char path[4300];
    if (clvae_image_grid(&grid, imgs, (size_t)(nv + 1) * shown, (int)shape->c, (int)shape->h,
                         (int)shape->w, (int)shown, 2, zoom, 255, err) ||
        clvae_image_init(&pic, grid.w + margin, grid.h, 3, 255, err)) {
        clvae_image_free(&grid);
        return err->status;
    }
    for (int y = 0; y < grid.h; y++)
        for (int x = 0; x < grid.w; x++)
            for (int c = 0; c < 3; c++)
                pic.px[((size_t)y * (size_t)pic.w + (size_t)(x + margin)) * 3 + (size_t)c] =
                    grid.px[((size_t)y * (size_t)grid.w + (size_t)x) * (size_t)grid.channels +
                            (size_t)(grid.channels == 3 ? c : 0)];
    int row_h = grid.h / (nv + 1);
    static const uint8_t black[3] = {0, 0, 0};
    clvae_plot_text(&pic, 4, row_h / 2 - 4, "original", 1, black);
    for (int v = 0; v < nv; v++) {
        char label[96];
        snprintf(label, sizeof label, "%.40s=%.40s", strrchr(key, '.') ? strrchr(key, '.') + 1 : key,
                 values[v]);
        clvae_plot_text(&pic, 4, (v + 1) * row_h + row_h / 2 - 4, label, 1, black);
    }
    snprintf(path, sizeof path, "%s/sweep.png", base);
    clvae_status_t s = clvae_png_write(path, &pic, err);
    clvae_image_free(&grid);
    clvae_image_free(&pic);
    return s;
}

static int run(const cli_common_t *common, int argc, char **argv)
{
    cli_cfg_args_t a;
    memset(&a, 0, sizeof a);
    const char *out = NULL;
    long n = 10;
    int bad = parse_args(argc, argv, &a, &out, &n);
    if (bad) return bad;
    int which = -1, nv = 0;
    char key[96], values[MAX_VALUES][64];
    bad = sweep_values(&a, &which, key, sizeof key, values, &nv);
    if (bad) return bad;
    clvae_error_t err = {0};
    clvae_cfg_t cfg = {0};
    clvae_model_desc_t d;
    memset(&d, 0, sizeof d);
    char base[4096], dirs[MAX_VALUES][4200], setbuf[200], *text = NULL, created[4096] = "";
    int prepared = 0;
    double finals[MAX_VALUES][4], pca[MAX_VALUES];
    char train_spec[512] = "", test_spec[512] = "";
    int recon = 0;
    size_t nparams[MAX_VALUES];
    float *imgs = NULL;
    size_t D = 0, shown = 0;
    clvae_dataset_t shape = {0};
    int code = 0;
    /* every value is checked before any training starts */
    if (check_values(&a, which, key, values, nv, out, base, sizeof base, train_spec, test_spec,
                     sizeof train_spec, &recon, nparams, &err))
        goto fail;
    /* the sweep's folder can be made and written before any training */
    if (clvae_dir_prepare(base, created, sizeof created, &err)) goto fail;
    prepared = 1;
    for (int v = 0; v < nv; v++) {
        cli_cfg_args_t b = a;
        snprintf(setbuf, sizeof setbuf, "%s=%s", key, values[v]);
        b.sets[which] = setbuf;
        snprintf(dirs[v], sizeof dirs[v], "%s/%s=%s", base, key, values[v]);
        if (cli_cfg_load(&b, &cfg, &d, &err) || !(text = clvae_cfg_format(&cfg))) {
            if (!err.status) CLVAE_FAIL(&err, CLVAE_ERR_NOMEM, "out of host memory");
            goto fail;
        }
        clvae_ctx_t *ctx = NULL;
        int interrupted = 0;
        printf("%s = %s: training %ld epochs into %s\n", key, values[v], d.epochs, dirs[v]);
        fflush(stdout);
        clvae_train_opts_t o = {dirs[v], text, cli_data_dir(), 0, NULL, 0, NULL, NULL, NULL, NULL, 0, NULL, NULL, 0};
        clvae_status_t s = cli_ctx_open(common, 0, &ctx, &err);
        if (!s) s = clvae_train_run(ctx, &d, &o, &interrupted, &err);
        clvae_ctx_free(ctx);
        free(text);
        text = NULL;
        clvae_model_desc_free(&d);
        clvae_cfg_free(&cfg);
        if (s) goto fail;
        /* final metrics and reconstructions of the first n test images */
        cli_run_t r;
        s = cli_run_open(&r, common, dirs[v], 256, &err);
        if (!s) s = cli_run_test_data(&r, &err);
        if (!s) s = read_finals(&r, finals[v], &err);
        if (!s && !imgs) {
            D = clvae_objective_example_dim(r.model);
            shown = (size_t)n < r.test.n ? (size_t)n : r.test.n;
            shape.c = r.test.c;
            shape.h = r.test.h;
            shape.w = r.test.w;
            imgs = malloc((size_t)(nv + 1) * shown * D * sizeof *imgs);
            if (!imgs) s = CLVAE_FAIL(&err, CLVAE_ERR_NOMEM, "out of host memory");
            for (size_t i = 0; !s && i < shown * D; i++) imgs[i] = r.test.pixels[i] * r.test.scale;
        }
        if (!s) s = clvae_reconstruct_first(r.ctx, r.model, &r.dtest, shown,
                                            imgs + (size_t)(v + 1) * shown * D, &err);
        cli_run_close(&r);
        if (s) goto fail;
        printf("%s = %s: train loss %.4f, test loss %.4f\n", key, values[v], finals[v][0], finals[v][1]);
    }
    if (write_picture(base, key, values, nv, imgs, shown, &shape, &err)) goto fail;
    /* and a table, with PCA beside a sweep of the latent size */
    int with_pca = pca_column(key, values, nv, train_spec, test_spec, pca, &err);
    if (with_pca < 0) goto fail;
    char table[8192];
    format_table(table, sizeof table, key, values, nv, nparams, finals, with_pca ? pca : NULL,
                 recon);
    char path[4300];
    snprintf(path, sizeof path, "%s/sweep.md", base);
    if (clvae_write_file_atomic(path, table, strlen(table), &err)) goto fail;
    printf("\n%s\nwrote %s/sweep.png and %s/sweep.md\n", table, base, base);
    goto out;
fail:
    code = cli_report(common, &err);
    if (prepared) clvae_dir_unmake(base, created); /* only when it is empty */
out:
    free(imgs);
    free(text);
    clvae_error_clear(&err);
    clvae_model_desc_free(&d);
    clvae_cfg_free(&cfg);
    return code;
}

const cli_command_t cli_cmd_sweep = {
    "sweep", "train a config once per value of one key; one PNG of reconstructions, one table",
    "clvae sweep CFG --set SECTION.KEY=V1,V2,... [--out DIR] [--n 10] [other overrides]\n"
    "  e.g. clvae sweep models/digits_ae.cfg --set latent.size=1,2,4,8,16\n"
    "  DIR (default runs/<name>_sweep) gets a run folder per value, sweep.png (originals on\n"
    "  top, a row of test reconstructions per value) and sweep.md (final losses). A sweep of\n"
    "  latent.size adds PCA's test error with as many components (fit on the same training\n"
    "  images): the lesson's \"usually better than PCA\", measured.",
    run};
