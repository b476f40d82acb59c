/* `clvae codes RUN`: how a VQ-VAE uses its codebook on the test set (a code-use chart and
 * codes.csv) and one test image's code map drawn over the image. */
#include "cli.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "clvae/io/fileio.h"
#include "clvae/io/image.h"
#include "clvae/io/plot.h"

/* Copies src into dst at (x, y) (both RGB). */
static void blit(clvae_image_t *dst, const clvae_image_t *src, int x, int y)
{
    for (int r = 0; r < src->h && y + r < dst->h; r++)
        memcpy(dst->px + ((size_t)(y + r) * (size_t)dst->w + (size_t)x) * 3,
               src->px + (size_t)r * (size_t)src->w * 3,
               (size_t)(src->w < dst->w - x ? src->w : dst->w - x) * 3);
}

/* The code-use chart: each code's share of the positions, codes sorted from most to least
 * used. */
static clvae_status_t use_chart(clvae_image_t *img, const double *count, size_t K, double total,
                                clvae_error_t *err)
{
    float *x = malloc(K * sizeof *x), *y = malloc(K * sizeof *y);
    double *sorted = malloc(K * sizeof *sorted), h = 0;
    size_t used = 0;
    clvae_status_t s = CLVAE_OK;
    if (!x || !y || !sorted) {
        s = CLVAE_FAIL(err, CLVAE_ERR_NOMEM, "out of host memory");
        goto out;
    }
    memcpy(sorted, count, K * sizeof *sorted);
    for (size_t i = 1; i < K; i++) /* insertion sort, descending (K <= 65536, run once) */
        for (size_t j = i; j > 0 && sorted[j] > sorted[j - 1]; j--) {
            double t = sorted[j];
            sorted[j] = sorted[j - 1];
            sorted[j - 1] = t;
        }
    for (size_t k = 0; k < K; k++) {
        x[k] = (float)(k + 1);
        y[k] = (float)(100.0 * sorted[k] / total);
        if (count[k] > 0) {
            used++;
            h -= count[k] / total * log(count[k] / total);
        }
    }
    char title[160];
    snprintf(title, sizeof title, "Code use on the test set: %zu of %zu codes, perplexity %.1f",
             used, K, exp(h));
    clvae_plot_series_t ser = {"share of positions", x, y, K};
    s = clvae_plot_lines(img, 640, 420, title, "code rank (most used first)",
                         "positions (%)", &ser, 1, 0, err);
out:
    free(x);
    free(y);
    free(sorted);
    return s;
}

/* Test image `index` magnified 8x, its map's cells outlined and numbered with their codes. */
static clvae_status_t code_map(clvae_image_t *img, const clvae_dataset_t *ds, size_t index,
                               const uint8_t *codes, size_t H, size_t W, clvae_error_t *err)
{
    const int zoom = 8, ih = (int)ds->h * zoom, iw = (int)ds->w * zoom, top = 30;
    clvae_status_t s = clvae_image_init(img, iw + 20, ih + top + 10, 3, 255, err);
    if (s) return s;
    const uint8_t *px = ds->pixels + index * clvae_dataset_dim(ds);
    for (int r = 0; r < ih; r++)
        for (int c = 0; c < iw; c++) {
            float v = px[(size_t)(r / zoom) * ds->w + (size_t)(c / zoom)] * ds->scale;
            uint8_t g = (uint8_t)(255.0f - 200.0f * fminf(fmaxf(v, 0.0f), 1.0f));
            uint8_t *o = img->px + ((size_t)(top + r) * (size_t)img->w + 10 + (size_t)c) * 3;
            o[0] = o[1] = o[2] = g;
        }
    const uint8_t line[3] = {70, 130, 200}, ink[3] = {200, 30, 30}, black[3] = {0, 0, 0};
    int ch = ih / (int)H, cw = iw / (int)W;
    for (size_t i = 0; i <= H; i++)
        for (int c = 0; c < iw; c++)
            memcpy(img->px + ((size_t)(top + (int)i * ch - (i == H)) * (size_t)img->w +
                                  10 + (size_t)c) * 3, line, 3);
    for (size_t j = 0; j <= W; j++)
        for (int r = 0; r < ih; r++)
            memcpy(img->px + ((size_t)(top + r) * (size_t)img->w + 10 +
                                  (size_t)((int)j * cw - (j == W))) * 3, line, 3);
    for (size_t i = 0; i < H; i++)
        for (size_t j = 0; j < W; j++) {
            char t[8];
            snprintf(t, sizeof t, "%u", codes[i * W + j]);
            clvae_plot_text(img, 10 + (int)j * cw + 3, top + (int)i * ch + 3, t, 1, ink);
        }
    char title[96];
    snprintf(title, sizeof title, "Test image %zu: its %zux%zu codes", index, H, W);
    clvae_plot_text(img, 10, 8, title, 1, black);
    return CLVAE_OK;
}

/* codes.csv: code, positions, share. */
static clvae_status_t write_csv(const char *path, const double *count, size_t K, double total,
                               clvae_error_t *err)
{
    size_t cap = 64 + K * 48, len = 0;
    char *buf = malloc(cap);
    if (!buf) return CLVAE_FAIL(err, CLVAE_ERR_NOMEM, "out of host memory");
    len += (size_t)snprintf(buf, cap, "code,positions,share\n");
    for (size_t k = 0; k < K; k++)
        len += (size_t)snprintf(buf + len, cap - len, "%zu,%.0f,%.6f\n", k, count[k],
                                count[k] / total);
    clvae_status_t s = clvae_write_file_atomic(path, buf, len, err);
    free(buf);
    return s;
}

/* Both panels side by side into path, the counts into codes.csv beside it. */
static clvae_status_t draw(clvae_vqvae_run_t *v, const clvae_dataset_t *test, size_t index,
                           const char *path, const char *csv, clvae_error_t *err)
{
    clvae_dataset_t codes = {0};
    clvae_image_t chart = {0}, map = {0}, all = {0};
    const clvae_layer_t *q = &v->desc.layers[v->desc.latent];
    size_t K = q->vq_codes;
    double *count = calloc(K, sizeof *count);
    clvae_status_t s = count ? CLVAE_OK : CLVAE_FAIL(err, CLVAE_ERR_NOMEM, "out of host memory");
    if (!s) s = clvae_vqvae_codes(v, test, &codes, err);
    if (s) goto out;
    size_t P = clvae_dataset_dim(&codes);
    for (size_t i = 0; i < codes.n * P; i++) count[codes.pixels[i]] += 1;
    double total = (double)(codes.n * P);
    if ((s = use_chart(&chart, count, K, total, err)) ||
        (s = code_map(&map, test, index, codes.pixels + index * P, codes.h, codes.w, err)) ||
        (s = clvae_image_init(&all, chart.w + map.w + 10,
                              chart.h > map.h ? chart.h : map.h, 3, 255, err)))
        goto out;
    blit(&all, &chart, 0, 0);
    blit(&all, &map, chart.w + 10, 0);
    if ((s = clvae_image_write(path, &all, err)) || (s = write_csv(csv, count, K, total, err)))
        goto out;
out:
    free(count);
    clvae_dataset_free(&codes);
    clvae_image_free(&chart);
    clvae_image_free(&map);
    clvae_image_free(&all);
    return s;
}

static int codes_run(const cli_common_t *common, int argc, char **argv)
{
    const char *run = NULL, *out = NULL;
    long index = 0;
    for (int i = 0; i < argc; i++) {
        const char *val;
        int r;
        if ((r = cli_opt(&i, argc, argv, "--out", &val))) {
            if (r < 0) return cli_usage_error(&cli_cmd_codes, "--out needs a file name");
            out = val;
        } else if ((r = cli_opt(&i, argc, argv, "--index", &val))) {
            if (r < 0 || cli_parse_long(val, 0, 1000000, &index))
                return cli_usage_error(&cli_cmd_codes, "--index wants a test image number");
        } else if (argv[i][0] == '-' || run) {
            return cli_unknown_arg(&cli_cmd_codes, argv[i]);
        } else {
            run = argv[i];
        }
    }
    if (!run) return cli_usage_error(&cli_cmd_codes, "which VQ-VAE run?");
    char ck[4200], path[4300], csv[4300];
    cli_run_path(run, ck, sizeof ck);
    char *slash = strrchr(ck, '/');
    if (slash) *slash = 0;
    snprintf(path, sizeof path, "%s", out ? out : "");
    if (!out) snprintf(path, sizeof path, "%.4200s/codes.png", slash ? ck : ".");
    snprintf(csv, sizeof csv, "%.4200s", path);
    char *dot = strrchr(csv, '.');
    if (dot && !strchr(dot, '/')) *dot = 0;
    strncat(csv, ".csv", sizeof csv - strlen(csv) - 1);
    clvae_error_t err = {0};
    clvae_ctx_t *ctx = NULL;
    clvae_vqvae_run_t v;
    clvae_dataset_t test = {0};
    memset(&v, 0, sizeof v);
    clvae_status_t s = clvae_image_format(path, &err) < 0 ? CLVAE_ERR_INVALID : CLVAE_OK;
    if (!s) s = clvae_file_check_writable(path, &err);
    if (!s) s = cli_ctx_open(common, 0, &ctx, &err);
    if (!s) s = clvae_vqvae_open(&v, ctx, run, 256, &err);
    if (!s) s = clvae_dataset_open(v.desc.test_data, cli_data_dir(), &test, &err);
    if (!s && (size_t)index >= test.n)
        s = CLVAE_FAIL(&err, CLVAE_ERR_INVALID, "--index %ld: the test set %s has %zu images",
                       index, test.name, test.n);
    if (!s) s = draw(&v, &test, (size_t)index, path, csv, &err);
    int code = s ? cli_report(common, &err) : 0;
    if (!s) printf("wrote %s and %s\n", path, csv);
    clvae_error_clear(&err);
    clvae_dataset_free(&test);
    clvae_vqvae_close(&v);
    clvae_ctx_free(ctx);
    return code;
}

const cli_command_t cli_cmd_codes = {
    "codes", "a VQ-VAE's code use on the test set and one image's code map",
    "clvae codes RUN [--index I] [--out FILE] [--device SPEC]\n"
    "  RUN: a VQ-VAE run ([model] kind = vqvae). Draws the share of the test set's positions\n"
    "  each code takes (codes sorted by use; the title gives the codes in use and the\n"
    "  perplexity) beside test image I (default 0) with its code map, into FILE (default\n"
    "  RUN/codes.png), and writes the counts to FILE with .csv (code,positions,share)",
    codes_run};
