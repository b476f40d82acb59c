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

static int run(const cli_common_t *common, int argc, char **argv)
{
    cli_cfg_args_t a;
    memset(&a, 0, sizeof a);
    const char *out = NULL;
    long n = 10;
    for (int i = 0; i < argc; i++) {
        const char *v;
        int r;
        if ((r = cli_opt(&i, argc, argv, "--out", &v))) {
            if (r < 0) return cli_usage_error(&cli_cmd_sweep, "--out needs a folder");
            out = v;
        } else if ((r = cli_opt(&i, argc, argv, "--n", &v))) {
            if (r < 0 || cli_parse_long(v, 1, 64, &n))
                return cli_usage_error(&cli_cmd_sweep, "--n wants 1 to 64 test images");
        } else if ((r = cli_cfg_take(&cli_cmd_sweep, &a, &i, argc, argv))) {
            if (r == 2) return 2;
        } else {
            return cli_unknown_arg(&cli_cmd_sweep, argv[i]);
        }
    }
    if (!a.path) return cli_usage_error(&cli_cmd_sweep, "which config file?");
    /* the one --set with commas is the sweep */
    int which = -1;
    for (int k = 0; k < a.nsets; k++) {
        if (!strchr(a.sets[k], ',')) continue;
        if (which >= 0) return cli_usage_error(&cli_cmd_sweep, "sweep one key at a time");
        which = k;
    }
    if (which < 0)
        return cli_usage_error(&cli_cmd_sweep, "give the values to sweep: --set SECTION.KEY=V1,V2,...");
    const char *eq = strchr(a.sets[which], '=');
    if (!eq) return cli_usage_error(&cli_cmd_sweep, "--set %s: want SECTION.KEY=V1,V2,...", a.sets[which]);
    char key[96], values[MAX_VALUES][64];
    snprintf(key, sizeof key, "%.*s", (int)(eq - a.sets[which]), a.sets[which]);
    int nv = 0;
    for (const char *p = eq + 1; *p && nv <= MAX_VALUES;) {
        size_t len = strcspn(p, ",");
        if (len == 0 || len >= sizeof values[0] || nv == MAX_VALUES)
            return cli_usage_error(&cli_cmd_sweep, "--set %s: 1 to %d non-empty values", a.sets[which], MAX_VALUES);
        snprintf(values[nv++], sizeof values[0], "%.*s", (int)len, p);
        p += len + (p[len] == ',');
    }
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
    for (int v = 0; v < nv; v++) {
        cli_cfg_args_t b = a;
        snprintf(setbuf, sizeof setbuf, "%s=%s", key, values[v]);
        b.sets[which] = setbuf;
        if (cli_cfg_load(&b, &cfg, &d, &err)) goto fail;
        if (d.classes || d.conditional) {
            CLVAE_FAIL(&err, CLVAE_ERR_INVALID, "sweep compares the reconstructions of plain "
                       "autoencoders and VAEs; %s is %s", d.name,
                       d.classes ? "a classifier" : "conditional");
            clvae_model_desc_free(&d);
            clvae_cfg_free(&cfg);
            goto fail;
        }
        if (v == 0) {
            snprintf(train_spec, sizeof train_spec, "%s", d.train_data);
            snprintf(test_spec, sizeof test_spec, "%s", d.test_data);
            recon = (int)d.recon;
        }
        if (v == 0) snprintf(base, sizeof base, "%s", out ? out : "");
        if (v == 0 && !out) snprintf(base, sizeof base, "runs/%s_sweep", d.name);
        nparams[v] = d.nparams;
        clvae_model_desc_free(&d);
        clvae_cfg_free(&cfg);
    }
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
        clvae_epoch_metrics_t *rows = NULL;
        size_t nrows = 0;
        if (!s) s = clvae_metrics_parse(r.ck.metrics, &rows, &nrows, &err);
        if (!s && nrows) {
            finals[v][0] = rows[nrows - 1].train[0];
            finals[v][1] = rows[nrows - 1].test[0];
            finals[v][2] = rows[nrows - 1].test[1];
            finals[v][3] = rows[nrows - 1].test[2];
        }
        free(rows);
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
    /* one picture: originals on top, one row of reconstructions per value, labelled */
    clvae_image_t grid = {0}, pic = {0};
    int zoom = shape.h <= 8 ? 6 : 2, margin = 110;
    char path[4300];
    if (clvae_image_grid(&grid, imgs, (size_t)(nv + 1) * shown, (int)shape.c, (int)shape.h,
                         (int)shape.w, (int)shown, 2, zoom, 255, &err) ||
        clvae_image_init(&pic, grid.w + margin, grid.h, 3, 255, &err)) {
        clvae_image_free(&grid);
        goto fail;
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
    clvae_status_t s = clvae_png_write(path, &pic, &err);
    clvae_image_free(&grid);
    clvae_image_free(&pic);
    if (s) goto fail;
    /* and a table, with PCA beside a sweep of the latent size */
    int with_pca = pca_column(key, values, nv, train_spec, test_spec, pca, &err);
    if (with_pca < 0) goto fail;
    char table[8192];
    format_table(table, sizeof table, key, values, nv, nparams, finals, with_pca ? pca : NULL,
                 recon);
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
