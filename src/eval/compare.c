/* Comparison of runs: summaries of metrics.csv, the markdown table, samples side by side. */
#include "clvae/eval/compare.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "clvae/io/plot.h"
#include "clvae/train/train.h"

void clvae_compare_row_init(clvae_compare_row_t *r)
{
    memset(r, 0, sizeof *r);
    r->epochs = -1;
    r->sec_per_epoch = r->recon = r->elbo = r->log_px = r->accuracy = r->frechet =
        r->confidence = r->cas = NAN;
}

clvae_status_t clvae_metrics_summary(const char *text, long *epochs, double *sec_per_epoch,
                                     clvae_error_t *err)
{
    clvae_epoch_metrics_t *rows = NULL;
    size_t n = 0;
    *epochs = 0;
    *sec_per_epoch = NAN;
    clvae_status_t s = clvae_metrics_parse(text ? text : "", &rows, &n, err);
    if (s) return s;
    double sum = 0;
    for (size_t i = 0; i < n; i++) sum += rows[i].seconds;
    if (n) {
        *epochs = rows[n - 1].epoch;
        *sec_per_epoch = sum / (double)n;
    }
    free(rows);
    return CLVAE_OK;
}

/* A growing text. */
typedef struct text {
    char *s;
    size_t len, cap;
    int failed;
} text_t;

static void put(text_t *t, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 2, 3)))
#endif
    ;

static void put(text_t *t, const char *fmt, ...)
{
    if (t->failed) return;
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    if (n < 0) {
        t->failed = 1;
        return;
    }
    if (t->len + (size_t)n + 1 > t->cap) {
        size_t cap = (t->cap ? t->cap * 2 : 1024) + (size_t)n;
        char *g = realloc(t->s, cap);
        if (!g) {
            t->failed = 1;
            return;
        }
        t->s = g;
        t->cap = cap;
    }
    va_start(ap, fmt);
    vsnprintf(t->s + t->len, t->cap - t->len, fmt, ap);
    va_end(ap);
    t->len += (size_t)n;
}

/* The text of column c for row r ("-" when unknown); "" for a column not used by a row. */
static void cell(const clvae_compare_row_t *r, int c, char *buf, size_t size)
{
    snprintf(buf, size, "-");
    switch (c) {
    case 0: if (*r->name) snprintf(buf, size, "%s", r->name); break;
    case 1: if (*r->model) snprintf(buf, size, "%s", r->model); break;
    case 2: if (*r->kind) snprintf(buf, size, "%s", r->kind); break;
    case 3: if (*r->dataset) snprintf(buf, size, "%s", r->dataset); break;
    case 4: if (r->epochs >= 0) snprintf(buf, size, "%ld", r->epochs); break;
    case 5: if (r->params) snprintf(buf, size, "%zu", r->params); break;
    case 6: if (isfinite(r->sec_per_epoch)) snprintf(buf, size, "%.1f", r->sec_per_epoch); break;
    case 7:
        if (isfinite(r->recon)) snprintf(buf, size, "%.2f (%s)", r->recon, r->recon_kind);
        break;
    case 8: if (isfinite(r->elbo)) snprintf(buf, size, "%.2f", r->elbo); break;
    case 9: if (isfinite(r->log_px)) snprintf(buf, size, "%.2f", r->log_px); break;
    case 10: if (isfinite(r->accuracy)) snprintf(buf, size, "%.2f%%", 100.0 * r->accuracy); break;
    case 11: if (isfinite(r->frechet)) snprintf(buf, size, "%.2f", r->frechet); break;
    case 12: if (isfinite(r->confidence)) snprintf(buf, size, "%.3f", r->confidence); break;
    case 13:
        if (r->scored) snprintf(buf, size, "%s", *r->collapsed ? r->collapsed : "none");
        break;
    case 14: if (isfinite(r->cas)) snprintf(buf, size, "%.2f%%", 100.0 * r->cas); break;
    default: break;
    }
}

#define NCOLS 15

char *clvae_compare_markdown(const clvae_compare_row_t *rows, size_t n, const char *fid_name,
                             int keep_all)
{
    const char *heads[NCOLS] = {"run", "model", "kind", "dataset", "epochs", "parameters",
                                "s/epoch", "test reconstruction (per image)",
                                "ELBO (nats/image)", "log p(x) IWAE (nats/image)",
                                "test accuracy", fid_name ? fid_name : "FID (own classifier)",
                                "confidence", "classes under 1/3 of their share",
                                "CAS (trained on samples)"};
    int used[NCOLS];
    char buf[256];
    for (int c = 0; c < NCOLS; c++) {
        used[c] = keep_all || c < 8;
        for (size_t i = 0; i < n && !used[c]; i++) {
            cell(&rows[i], c, buf, sizeof buf);
            used[c] = strcmp(buf, "-") != 0;
        }
    }
    text_t t = {0};
    for (int pass = 0; pass < 2; pass++) {
        put(&t, "|");
        for (int c = 0; c < NCOLS; c++)
            if (used[c]) put(&t, pass ? " --- |" : " %s |", heads[c]);
        put(&t, "\n");
    }
    for (size_t i = 0; i < n; i++) {
        put(&t, "|");
        for (int c = 0; c < NCOLS; c++) {
            if (!used[c]) continue;
            cell(&rows[i], c, buf, sizeof buf);
            for (char *p = buf; *p; p++)
                if (*p == '|') *p = '/'; /* a run name must not split the cell */
            put(&t, " %s |", buf);
        }
        put(&t, "\n");
    }
    if (t.failed) {
        free(t.s);
        return NULL;
    }
    return t.s;
}

clvae_status_t clvae_compare_png(const clvae_compare_panel_t *panels, size_t n, const char *path,
                                 clvae_error_t *err)
{
    if (n == 0) return CLVAE_FAIL(err, CLVAE_ERR_INVALID, "no panels to draw");
    const int gap = 16, band = 24, scale = 2;
    int w = gap, h = 0;
    for (size_t i = 0; i < n; i++) {
        int tw = clvae_plot_text_width(panels[i].caption, scale);
        int pw = panels[i].img->w > tw ? panels[i].img->w : tw;
        w += pw + gap;
        if (panels[i].img->h > h) h = panels[i].img->h;
    }
    clvae_image_t out = {0};
    clvae_status_t s = clvae_image_init(&out, w, h + band + 2 * gap, 3, 255, err);
    if (s) return s;
    const uint8_t ink[3] = {0, 0, 0};
    int x = gap;
    for (size_t i = 0; i < n; i++) {
        const clvae_image_t *im = panels[i].img;
        int tw = clvae_plot_text_width(panels[i].caption, scale);
        int pw = im->w > tw ? im->w : tw;
        clvae_plot_text(&out, x + (pw - tw) / 2, gap, panels[i].caption, scale, ink);
        int x0 = x + (pw - im->w) / 2, y0 = gap + band;
        for (int y = 0; y < im->h; y++)
            for (int xx = 0; xx < im->w; xx++)
                for (int ch = 0; ch < 3; ch++)
                    out.px[((size_t)(y0 + y) * (size_t)out.w + (size_t)(x0 + xx)) * 3 + ch] =
                        im->px[((size_t)y * (size_t)im->w + (size_t)xx) * (size_t)im->channels +
                               (im->channels == 3 ? (size_t)ch : 0)];
        x += pw + gap;
    }
    s = clvae_png_write(path, &out, err);
    clvae_image_free(&out);
    return s;
}
