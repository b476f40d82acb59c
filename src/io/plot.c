/* Line charts and class-coloured scatter plots drawn into RGB images with the built-in font. */
#include "clvae/io/plot.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "io/font.h"

#define MAX_SIDE 16384
#define MAX_TICKS 8      /* most ticks on an axis */
#define LABEL_CHARS 40   /* longest legend label kept, in characters */

/* tab10, the matplotlib default cycle: blue, orange, green, red, purple, brown, pink, gray,
 * olive, cyan. */
static const uint8_t palette[10][3] = {
    {31, 119, 180}, {255, 127, 14}, {44, 160, 44},   {214, 39, 40},   {148, 103, 189},
    {140, 86, 75},  {227, 119, 194}, {127, 127, 127}, {188, 189, 34}, {23, 190, 207},
};
static const uint8_t black[3] = {0, 0, 0};
static const uint8_t grid_gray[3] = {232, 232, 232};
static const uint8_t frame_gray[3] = {150, 150, 150};
static const uint8_t white[3] = {255, 255, 255};

void clvae_plot_color(int k, uint8_t rgb[3])
{
    int i = k % 10;
    if (i < 0) i += 10;
    memcpy(rgb, palette[i], 3);
}

/* ---- pixels and text --------------------------------------------------------------------- */

static int image_ok(const clvae_image_t *img)
{
    return img && img->px && img->w > 0 && img->h > 0 && (img->channels == 1 || img->channels == 3);
}

/* Fills the rectangle [x0, x1) x [y0, y1), clipped to the image. */
static void fill_rect(clvae_image_t *img, long long x0, long long y0, long long x1,
                      long long y1, const uint8_t rgb[3])
{
    if (x0 < 0) x0 = 0;
    if (y0 < 0) y0 = 0;
    if (x1 > img->w) x1 = img->w;
    if (y1 > img->h) y1 = img->h;
    uint8_t gray = (uint8_t)(((int)rgb[0] + rgb[1] + rgb[2] + 1) / 3);
    for (long long y = y0; y < y1; y++) {
        uint8_t *p = img->px + ((size_t)y * (size_t)img->w + (size_t)x0) * (size_t)img->channels;
        for (long long x = x0; x < x1; x++) {
            if (img->channels == 3) {
                p[0] = rgb[0];
                p[1] = rgb[1];
                p[2] = rgb[2];
                p += 3;
            } else {
                *p++ = gray;
            }
        }
    }
}

/* Draws text; up != 0 turns it 90 degrees counter-clockwise, reading upwards from (x, y), which
 * is then its bottom-left corner. */
static void draw_text(clvae_image_t *img, long long x, long long y, const char *text, int scale,
                      const uint8_t rgb[3], int up)
{
    if (!image_ok(img) || !text || !rgb) return;
    if (scale < 1) scale = 1;
    if (scale > 256) scale = 256;
    long long s = scale, pen = 0, line = 0;
    for (const unsigned char *p = (const unsigned char *)text; *p; p++) {
        if (*p == '\n') {
            pen = 0;
            line++;
            continue;
        }
        /* the glyph's box in text coordinates: columns pen.., rows line * LINE.. */
        long long gx = pen * CLVAE_FONT_ADVANCE * s, gy = line * CLVAE_FONT_LINE * s;
        pen++;
        long long bx = up ? x + gy : x + gx, by = up ? y - gx - CLVAE_FONT_W * s + 1 : y + gy;
        long long bw = up ? CLVAE_FONT_H * s : CLVAE_FONT_W * s;
        long long bh = up ? CLVAE_FONT_W * s : CLVAE_FONT_H * s;
        if (bx >= img->w || by >= img->h || bx + bw <= 0 || by + bh <= 0) continue;
        for (int r = 0; r < CLVAE_FONT_H; r++)
            for (int c = 0; c < CLVAE_FONT_W; c++) {
                if (!clvae_font_pixel(*p, c, r)) continue;
                long long px = up ? x + gy + r * s : x + gx + c * s;
                long long py = up ? y - gx - (c + 1) * s + 1 : y + gy + r * s;
                fill_rect(img, px, py, px + s, py + s, rgb);
            }
    }
}

void clvae_plot_text(clvae_image_t *img, int x, int y, const char *text, int scale,
                     const uint8_t rgb[3])
{
    draw_text(img, x, y, text, scale, rgb, 0);
}

int clvae_plot_text_width(const char *text, int scale)
{
    if (!text) return 0;
    if (scale < 1) scale = 1;
    if (scale > 256) scale = 256;
    size_t best = 0, cur = 0;
    for (const char *p = text;; p++) {
        if (*p == '\n' || *p == 0) {
            if (cur > best) best = cur;
            cur = 0;
            if (*p == 0) break;
        } else {
            cur++;
        }
    }
    if (best == 0) return 0;
    double wpx = ((double)best * CLVAE_FONT_ADVANCE - 1) * scale;
    return wpx > 1e9 ? 1000000000 : (int)wpx;
}

/* ---- ticks and numbers ------------------------------------------------------------------- */

int clvae_plot_ticks_step(double lo, double hi, int max_ticks, double *ticks, double *step)
{
    if (step) *step = 0;
    if (!ticks || !isfinite(lo) || !isfinite(hi) || max_ticks < 2) return 0;
    if (lo > hi) {
        double t = lo;
        lo = hi;
        hi = t;
    }
    double span = hi - lo;
    if (!isfinite(span)) return 0;
    if (span == 0) {
        ticks[0] = lo + 0.0;
        return 1;
    }
    static const double mant[3] = {1, 2, 5};
    int k0 = (int)floor(log10(span) - log10((double)max_ticks)) - 1;
    for (int it = 0; it < 60; it++) {
        int k = k0 + it / 3;
        double m = mant[it % 3];
        /* m x 10^k; dividing by an exact power of ten keeps 0.6 as 6 / 10, not 3 x 0.2
         * (below 1e-300 the power itself would overflow, so it is multiplied instead) */
        double p = k >= -300 ? pow(10.0, k >= 0 ? k : -k) : pow(10.0, k);
        if (!isfinite(p) || p == 0) continue;
        double st = k >= 0 || k < -300 ? m * p : m / p;
        if (!(st > 0) || !isfinite(st)) continue;
        double a = ceil(lo / st - 1e-9), b = floor(hi / st + 1e-9);
        double cnt = b - a + 1;
        if (!(cnt <= max_ticks)) continue;
        if (cnt < 1) return 0;
        int n = (int)cnt;
        for (int j = 0; j < n; j++) {
            double i = a + j;
            ticks[j] = (k >= 0 || k < -300 ? i * m * p : (i * m) / p) + 0.0; /* no -0 */
        }
        if (step) *step = st;
        return n;
    }
    return 0;
}

int clvae_plot_ticks(double lo, double hi, int max_ticks, double *ticks)
{
    return clvae_plot_ticks_step(lo, hi, max_ticks, ticks, NULL);
}

/* The power of ten of step's last significant digit: 0.2 -> -1, 5 -> 0, 2500 -> 2. */
static int last_digit(double step)
{
    int q = (int)floor(log10(step) + 1e-9);
    for (int i = 0; i < 17; i++, q--) {
        double r = step / pow(10.0, q);
        if (fabs(r - nearbyint(r)) <= 1e-6 * r) break;
    }
    return q;
}

/* Drops trailing zeros after a decimal point (and the point itself) in s[0..end). */
static size_t strip_zeros(char *s, size_t end)
{
    if (!memchr(s, '.', end)) return end;
    while (end > 0 && s[end - 1] == '0') end--;
    if (end > 0 && s[end - 1] == '.') end--;
    return end;
}

void clvae_plot_format(double v, double step, char *buf, size_t size)
{
    if (!buf || size == 0) return;
    if (!isfinite(v)) {
        snprintf(buf, size, "%s", isnan(v) ? "nan" : v > 0 ? "inf" : "-inf");
        return;
    }
    if (!(step > 0) || !isfinite(step)) step = v != 0 ? fabs(v) : 1;
    if (fabs(v) < step * 1e-6) v = 0;
    char tmp[96];
    if (v == 0) {
        snprintf(buf, size, "0");
        return;
    }
    int q = last_digit(step);
    if (step >= 1000 || step < 1e-4) {
        int ev = (int)floor(log10(fabs(v)) + 1e-12);
        int digits = ev - q;
        if (digits < 0) digits = 0;
        if (digits > 16) digits = 16;
        snprintf(tmp, sizeof tmp, "%.*e", digits, v);
        char *e = strchr(tmp, 'e');
        if (e) {
            size_t keep = strip_zeros(tmp, (size_t)(e - tmp));
            memmove(tmp + keep, e, strlen(e) + 1);
        }
    } else {
        int dec = q < 0 ? -q : 0;
        if (dec > 17) dec = 17;
        snprintf(tmp, sizeof tmp, "%.*f", dec, v);
        tmp[strip_zeros(tmp, strlen(tmp))] = 0;
    }
    if (strcmp(tmp, "-0") == 0) strcpy(tmp, "0");
    snprintf(buf, size, "%s", tmp);
}

/* ---- layout ------------------------------------------------------------------------------ */

/* One legend line. */
typedef struct legend_entry {
    char text[LABEL_CHARS + 1];
    uint8_t rgb[3];
    int swatch; /* 1: a coloured swatch is drawn */
} legend_entry_t;

/* Everything one chart draws. */
typedef struct plot_job {
    const char *title, *xlabel, *ylabel;
    int log_y;
    const clvae_plot_series_t *series; /* line chart: nseries lines */
    int nseries;
    const float *x, *y;                /* scatter: n points coloured by cls */
    const int *cls;
    size_t n;
    legend_entry_t *entries;
    int nentries;
    int legend_discs;                  /* swatches: 1 filled discs, 0 line pieces */
    double dxlo, dxhi, dylo, dyhi;     /* data ranges (log10 of y when log_y) */
} plot_job_t;

/* The frame plus the ticks chosen for it. */
typedef struct layout {
    clvae_plot_frame_t f;
    double xt[MAX_TICKS], yt[MAX_TICKS]; /* tick values (y as data values, not log10) */
    char xl[MAX_TICKS][32], yl[MAX_TICKS][32];
    int nxt, nyt;
    int tick_len;
    int legend_w, legend_h, entry_h; /* legend size and height of one line */
    int shown;                       /* legend slots used (the last may say "(+N more)") */
    int legend_rows, col_w;          /* entries per column, width of a column */
} layout_t;

/* Widens [lo, hi] by 5% each side, or around a single value by 10% of it (1 for 0). */
static void pad_range(double *lo, double *hi)
{
    if (*hi > *lo) {
        double d = 0.05 * (*hi - *lo);
        *lo -= d;
        *hi += d;
    } else {
        double d = *lo != 0 ? 0.1 * fabs(*lo) : 1.0;
        *lo -= d;
        *hi += d;
    }
    if (!(*hi - *lo > 0) || !isfinite(*hi - *lo)) { /* denormal or huge: a plain unit range */
        double mid = isfinite(*lo + *hi) ? 0.5 * (*lo + *hi) : 0;
        *lo = mid - 1;
        *hi = mid + 1;
    }
}

int clvae_plot_frame_map(const clvae_plot_frame_t *f, double x, double y, double *px,
                         double *py)
{
    if (!f || !isfinite(x) || !isfinite(y)) return 0;
    if (f->log_y) {
        if (!(y > 0)) return 0;
        y = log10(y);
    }
    double X = f->x0 + (x - f->xlo) / (f->xhi - f->xlo) * (f->x1 - f->x0);
    double Y = f->y1 - (y - f->ylo) / (f->yhi - f->ylo) * (f->y1 - f->y0);
    if (!isfinite(X) || !isfinite(Y)) return 0;
    if (px) *px = X;
    if (py) *py = Y;
    return 1;
}

/* Row of y value v (a data value, not log10) on the frame. */
static double y_pixel(const clvae_plot_frame_t *f, double v)
{
    double t = f->log_y ? log10(v) : v;
    return f->y1 - (t - f->ylo) / (f->yhi - f->ylo) * (f->y1 - f->y0);
}

/* Values m x 10^k (m in mant[0..nm)) with log10 in [a, b], into out (room for max); returns
 * their count, or max + 1 when there are more. */
static int log_series(double a, double b, const double *mant, int nm, int max, double *out)
{
    int n = 0;
    for (int k = (int)floor(a) - 1; k <= (int)ceil(b); k++)
        for (int j = 0; j < nm; j++) {
            double v = k >= 0 ? mant[j] * pow(10.0, k) : mant[j] / pow(10.0, -k);
            double lv = log10(v);
            if (lv < a - 1e-9 || lv > b + 1e-9) continue;
            if (n == max) return max + 1;
            out[n++] = v;
        }
    return n;
}

/* Y ticks for a log axis over [10^a, 10^b]: whole decades when there are three or more, else
 * 1-2-5 or 1-5 steps, else plain linear ticks. Returns the count; labels are formatted here. */
static int log_ticks(layout_t *L, double a, double b, int max_ticks)
{
    static const double m125[3] = {1, 2, 5}, m15[2] = {1, 5}, m1[1] = {1};
    double t[MAX_TICKS], st = 0;
    int n = b - a > 2.0 * max_ticks ? max_ticks + 1 : log_series(a, b, m1, 1, max_ticks, t);
    if (n > max_ticks) { /* many decades: every 2nd, 5th, 10th... */
        n = clvae_plot_ticks_step(a, b, max_ticks, t, &st);
        for (int i = 0; i < n; i++) t[i] = pow(10.0, nearbyint(t[i]));
    }
    if (n < 3) {
        n = log_series(a, b, m125, 3, max_ticks, t);
        if (n > max_ticks) n = log_series(a, b, m15, 2, max_ticks, t);
        if (n > max_ticks) n = log_series(a, b, m1, 1, max_ticks, t);
    }
    if (n >= 3 && n <= max_ticks) {
        for (int i = 0; i < n; i++) {
            L->yt[i] = t[i];
            clvae_plot_format(t[i], t[i], L->yl[i], sizeof L->yl[i]);
        }
        return n;
    }
    n = clvae_plot_ticks_step(pow(10.0, a), pow(10.0, b), max_ticks, L->yt, &st);
    int kept = 0;
    for (int i = 0; i < n; i++) {
        if (!(L->yt[i] > 0)) continue; /* log axis: no zero or negative ticks */
        L->yt[kept] = L->yt[i];
        clvae_plot_format(L->yt[kept], st, L->yl[kept], sizeof L->yl[kept]);
        kept++;
    }
    return kept;
}

/* Lays out a w x h chart: margins from text sizes, ticks, plot area, legend size. With
 * outside set the legend gets a column right of the plot area. */
/* The legend's size: entries in columns as tall as the plot area (area_h) allows (sets
 * entry_h, shown, legend_rows, col_w, legend_w, legend_h). */
static void legend_size(layout_t *L, const plot_job_t *job, int w, int ts, int area_h)
{
    int ch = CLVAE_FONT_H * ts;
    int pad = 6 * ts, swatch = (job->legend_discs ? 12 : 20) * ts;
    L->entry_h = ch + 5 * ts;
    int text_w = 0;
    for (int i = 0; i < job->nentries; i++) {
        int tw = clvae_plot_text_width(job->entries[i].text, ts);
        if (tw > text_w) text_w = tw;
    }
    /* Entries fill columns as tall as the plot area allows, as many columns as fit in 2/5 of
     * the width; what is still left over is counted in a last "(+N more)" line. */
    int rows = (area_h - 2 * pad - 16 + 5 * ts) / L->entry_h;
    if (rows < 1) rows = 1;
    int cols = 1, gap = 10 * ts, col_w = swatch + 6 * ts + text_w;
    if (job->nentries > rows) {
        cols = (job->nentries + rows - 1) / rows;
        int max_cols = (w * 2 / 5 - 2 * pad + gap) / (col_w + gap);
        if (max_cols < 1) max_cols = 1;
        if (cols > max_cols) { /* not all fit: make room for "(+N more)" */
            int more_w = clvae_plot_text_width("(+99999 more)", ts);
            if (more_w > col_w) col_w = more_w;
            max_cols = (w * 2 / 5 - 2 * pad + gap) / (col_w + gap);
            cols = max_cols < 1 ? 1 : max_cols;
        }
    } else {
        rows = job->nentries;
    }
    L->shown = job->nentries < rows * cols ? job->nentries : rows * cols;
    if (cols > 1 && L->shown == job->nentries) rows = (job->nentries + cols - 1) / cols;
    L->legend_rows = rows;
    L->col_w = col_w;
    if (L->shown > 0) {
        L->legend_w = 2 * pad + cols * col_w + (cols - 1) * gap;
        L->legend_h = 2 * pad + rows * L->entry_h - 5 * ts;
    }
}

static void layout_make(layout_t *L, const plot_job_t *job, int w, int h, int outside)
{
    memset(L, 0, sizeof *L);
    clvae_plot_frame_t *f = &L->f;
    int ts = (w >= 1000 && h >= 750) ? 2 : 1;
    f->text_scale = ts;
    f->title_scale = w >= 480 ? ts + 1 : ts;
    f->log_y = job->log_y;
    int ch = CLVAE_FONT_H * ts; /* text height */
    int tl = 4 + ts;            /* tick length */
    L->tick_len = tl;
    int has_title = job->title && *job->title;
    int has_xlabel = job->xlabel && *job->xlabel;
    int has_ylabel = job->ylabel && *job->ylabel;

    f->xlo = job->dxlo;
    f->xhi = job->dxhi;
    f->ylo = job->dylo;
    f->yhi = job->dyhi;
    pad_range(&f->xlo, &f->xhi);
    if (job->log_y && !(job->dyhi > job->dylo)) {
        f->ylo = job->dylo - 0.5; /* one decade around a single value */
        f->yhi = job->dyhi + 0.5;
    } else {
        pad_range(&f->ylo, &f->yhi);
    }

    int top = 10 + (has_title ? CLVAE_FONT_H * f->title_scale + 10 : 0);
    int bottom = tl + 4 * ts + ch + (has_xlabel ? 8 * ts + ch : 0) + 10;
    f->y0 = top;
    f->y1 = h - 1 - bottom;
    if (f->y1 < f->y0 + 20) f->y1 = f->y0 + 20;
    int area_h = f->y1 - f->y0;
    legend_size(L, job, w, ts, area_h);

    /* y ticks, spaced at least three text heights apart */
    int max_y = area_h / (3 * ch);
    if (max_y > MAX_TICKS) max_y = MAX_TICKS;
    if (max_y < 2) max_y = 2;
    if (job->log_y) {
        L->nyt = log_ticks(L, f->ylo, f->yhi, max_y);
    } else {
        double st = 0;
        L->nyt = clvae_plot_ticks_step(f->ylo, f->yhi, max_y, L->yt, &st);
        for (int i = 0; i < L->nyt; i++)
            clvae_plot_format(L->yt[i], st, L->yl[i], sizeof L->yl[i]);
    }
    int ylw = 0;
    for (int i = 0; i < L->nyt; i++) {
        int tw = clvae_plot_text_width(L->yl[i], ts);
        if (tw > ylw) ylw = tw;
    }
    f->x0 = 8 + (has_ylabel ? ch + 8 * ts : 0) + ylw + 4 * ts + tl;
    int right = 3 * CLVAE_FONT_ADVANCE * ts + 6; /* half of a wide last x label */
    if (outside && L->shown > 0 && L->legend_w + 20 > right) right = L->legend_w + 20;
    f->x1 = w - 1 - right;
    if (f->x1 < f->x0 + 20) f->x1 = f->x0 + 20; /* absurd label widths: keep an area */

    /* x ticks: as many as fit with a gap of two characters between labels */
    double area_w = f->x1 - f->x0;
    for (int max_x = MAX_TICKS; max_x >= 2; max_x--) {
        double st = 0;
        L->nxt = clvae_plot_ticks_step(f->xlo, f->xhi, max_x, L->xt, &st);
        int xlw = 0;
        for (int i = 0; i < L->nxt; i++) {
            clvae_plot_format(L->xt[i], st, L->xl[i], sizeof L->xl[i]);
            int tw = clvae_plot_text_width(L->xl[i], ts);
            if (tw > xlw) xlw = tw;
        }
        if (st > 0 && area_w * st / (f->xhi - f->xlo) >= xlw + 2 * CLVAE_FONT_ADVANCE * ts) break;
    }
    if (outside && L->shown > 0) {
        f->legend_x0 = f->x1 + 12;
        f->legend_y0 = f->y0;
        f->legend_x1 = f->legend_x0 + L->legend_w - 1;
        f->legend_y1 = f->legend_y0 + L->legend_h - 1;
    }
}

/* ---- drawing ----------------------------------------------------------------------------- */

/* The image, a mask of pixels covered by data, and the rectangle data may cover. */
typedef struct canvas {
    clvae_image_t *img;
    uint8_t *mask; /* [h, w] */
    int cx0, cy0, cx1, cy1;
} canvas_t;

/* Fills the pixels whose centres lie within r of (X, Y), inside the data rectangle. */
static void data_disc(canvas_t *cv, double X, double Y, double r, const uint8_t rgb[3])
{
    if (!(X > cv->cx0 - r - 1 && X < cv->cx1 + r + 1 && Y > cv->cy0 - r - 1 &&
          Y < cv->cy1 + r + 1))
        return;
    long i0 = (long)ceil(X - r), i1 = (long)floor(X + r);
    long j0 = (long)ceil(Y - r), j1 = (long)floor(Y + r);
    if (i0 < cv->cx0) i0 = cv->cx0;
    if (j0 < cv->cy0) j0 = cv->cy0;
    if (i1 > cv->cx1) i1 = cv->cx1;
    if (j1 > cv->cy1) j1 = cv->cy1;
    clvae_image_t *img = cv->img;
    for (long j = j0; j <= j1; j++)
        for (long i = i0; i <= i1; i++) {
            double dx = i - X, dy = j - Y;
            if (dx * dx + dy * dy > r * r + 1e-9) continue;
            size_t at = (size_t)j * (size_t)img->w + (size_t)i;
            memcpy(img->px + at * 3, rgb, 3);
            cv->mask[at] = 1;
        }
}

/* A thick line from (X0, Y0) to (X1, Y1): discs of radius r every half pixel. */
static void data_line(canvas_t *cv, double X0, double Y0, double X1, double Y1, double r,
                      const uint8_t rgb[3])
{
    double len = hypot(X1 - X0, Y1 - Y0);
    if (!isfinite(len)) return;
    long steps = (long)ceil(len * 2);
    if (steps > 200000) steps = 200000; /* points lie inside the frame; this is a guard */
    for (long s = 0; s <= steps; s++) {
        double t = steps ? (double)s / (double)steps : 0;
        data_disc(cv, X0 + t * (X1 - X0), Y0 + t * (Y1 - Y0), r, rgb);
    }
}

/* Box, grid lines, ticks, labels and title. */
static void draw_axes(clvae_image_t *img, const layout_t *L, const plot_job_t *job)
{
    const clvae_plot_frame_t *f = &L->f;
    int ts = f->text_scale, tl = L->tick_len, ch = CLVAE_FONT_H * ts;
    for (int i = 0; i < L->nxt; i++) {
        long px = lround(f->x0 + (L->xt[i] - f->xlo) / (f->xhi - f->xlo) * (f->x1 - f->x0));
        if (px <= f->x0 || px >= f->x1) continue;
        fill_rect(img, px, f->y0 + 1, px + 1, f->y1, grid_gray);
    }
    for (int i = 0; i < L->nyt; i++) {
        long py = lround(y_pixel(f, L->yt[i]));
        if (py <= f->y0 || py >= f->y1) continue;
        fill_rect(img, f->x0 + 1, py, f->x1, py + 1, grid_gray);
    }
    /* the box, ts pixels thick, growing outwards */
    fill_rect(img, f->x0 - ts + 1, f->y0 - ts + 1, f->x1 + ts, f->y0 + 1, black);
    fill_rect(img, f->x0 - ts + 1, f->y1, f->x1 + ts, f->y1 + ts, black);
    fill_rect(img, f->x0 - ts + 1, f->y0 - ts + 1, f->x0 + 1, f->y1 + ts, black);
    fill_rect(img, f->x1, f->y0 - ts + 1, f->x1 + ts, f->y1 + ts, black);
    for (int i = 0; i < L->nxt; i++) {
        long px = lround(f->x0 + (L->xt[i] - f->xlo) / (f->xhi - f->xlo) * (f->x1 - f->x0));
        fill_rect(img, px - (ts - 1) / 2, f->y1 + ts, px - (ts - 1) / 2 + ts, f->y1 + ts + tl,
                  black);
        int tw = clvae_plot_text_width(L->xl[i], ts);
        draw_text(img, px - tw / 2, f->y1 + ts + tl + 3 * ts, L->xl[i], ts, black, 0);
    }
    long prev = -1000000;
    for (int i = 0; i < L->nyt; i++) {
        long py = lround(y_pixel(f, L->yt[i]));
        fill_rect(img, f->x0 - ts + 1 - tl, py - (ts - 1) / 2, f->x0 - ts + 1,
                  py - (ts - 1) / 2 + ts, black);
        /* labels closer than 1.5 text heights to the one below are left out */
        if (labs(prev - py) < (3 * ch) / 2) continue;
        prev = py;
        int tw = clvae_plot_text_width(L->yl[i], ts);
        draw_text(img, f->x0 - ts + 1 - tl - 3 * ts - tw, py - (7 * ts) / 2, L->yl[i], ts,
                  black, 0);
    }
    if (job->xlabel && *job->xlabel) {
        int tw = clvae_plot_text_width(job->xlabel, ts);
        long cx = (f->x0 + f->x1) / 2 - tw / 2;
        if (cx < 2) cx = 2;
        draw_text(img, cx, f->y1 + ts + tl + 3 * ts + ch + 5 * ts, job->xlabel, ts, black, 0);
    }
    if (job->ylabel && *job->ylabel) {
        int tw = clvae_plot_text_width(job->ylabel, ts);
        long cy = (f->y0 + f->y1) / 2 + tw / 2;
        if (cy > img->h - 2) cy = img->h - 2;
        draw_text(img, 8, cy, job->ylabel, ts, black, 1);
    }
    if (job->title && *job->title) {
        int s = f->title_scale;
        while (s > 1 && clvae_plot_text_width(job->title, s) > img->w - 16) s--;
        char title[512];
        size_t fit = (size_t)((img->w - 16) / (CLVAE_FONT_ADVANCE * s)); /* characters */
        snprintf(title, sizeof title, "%s", job->title);
        for (char *p = title; *p; p++)
            if (*p == '\n') *p = ' ';
        if (fit < sizeof title && strlen(title) > fit && fit >= 3) strcpy(title + fit - 2, "..");
        int tw = clvae_plot_text_width(title, s);
        long cx = (f->x0 + f->x1) / 2 - tw / 2;
        if (cx + tw > img->w - 8) cx = img->w - 8 - tw;
        if (cx < 8) cx = 8;
        draw_text(img, cx, 10, title, s, black, 0);
    }
}

/* Draws every line or point of the job onto the canvas. */
static void draw_data(canvas_t *cv, const layout_t *L, const plot_job_t *job)
{
    const clvae_plot_frame_t *f = &L->f;
    int ts = f->text_scale;
    if (job->series) {
        double r = (ts + 1) / 2.0;
        for (int s = 0; s < job->nseries; s++) {
            const clvae_plot_series_t *se = &job->series[s];
            uint8_t rgb[3];
            clvae_plot_color(s, rgb);
            int marks = se->n <= 20;
            double pX = 0, pY = 0;
            int have_prev = 0;
            for (size_t i = 0; i < se->n; i++) {
                double X, Y;
                if (!clvae_plot_frame_map(f, se->x[i], se->y[i], &X, &Y)) {
                    have_prev = 0;
                    continue;
                }
                if (have_prev) {
                    data_line(cv, pX, pY, X, Y, r, rgb);
                } else {
                    /* a point with no finite neighbour before it stays visible as a dot */
                    int next_ok = i + 1 < se->n &&
                                  clvae_plot_frame_map(f, se->x[i + 1], se->y[i + 1], NULL,
                                                       NULL);
                    if (!next_ok) data_disc(cv, X, Y, 2.0 * ts, rgb);
                }
                if (marks) data_disc(cv, X, Y, 2.5 * ts, rgb);
                pX = X;
                pY = Y;
                have_prev = 1;
            }
        }
    } else {
        double r = (job->n > 2000 ? 1.5 : job->n > 300 ? 2.0 : 3.0) * ts;
        uint8_t one[3];
        clvae_plot_color(0, one);
        for (size_t i = 0; i < job->n; i++) {
            double X, Y;
            if (!clvae_plot_frame_map(f, job->x[i], job->y[i], &X, &Y)) continue;
            uint8_t rgb[3];
            if (job->cls) clvae_plot_color(job->cls[i], rgb);
            else memcpy(rgb, one, 3);
            data_disc(cv, X, Y, r, rgb);
        }
    }
}

/* Number of data pixels in the rectangle, grown by m pixels. */
static size_t mask_count(const canvas_t *cv, int x0, int y0, int x1, int y1, int m)
{
    size_t n = 0;
    for (int y = y0 - m; y <= y1 + m; y++)
        for (int x = x0 - m; x <= x1 + m; x++)
            if (x >= 0 && y >= 0 && x < cv->img->w && y < cv->img->h)
                n += cv->mask[(size_t)y * (size_t)cv->img->w + (size_t)x];
    return n;
}

static void draw_legend(clvae_image_t *img, const layout_t *L, const plot_job_t *job)
{
    const clvae_plot_frame_t *f = &L->f;
    if (L->shown == 0) return;
    int ts = f->text_scale, pad = 6 * ts, swatch = (job->legend_discs ? 12 : 20) * ts;
    fill_rect(img, f->legend_x0, f->legend_y0, f->legend_x1 + 1, f->legend_y1 + 1, white);
    fill_rect(img, f->legend_x0, f->legend_y0, f->legend_x1 + 1, f->legend_y0 + 1, frame_gray);
    fill_rect(img, f->legend_x0, f->legend_y1, f->legend_x1 + 1, f->legend_y1 + 1, frame_gray);
    fill_rect(img, f->legend_x0, f->legend_y0, f->legend_x0 + 1, f->legend_y1 + 1, frame_gray);
    fill_rect(img, f->legend_x1, f->legend_y0, f->legend_x1 + 1, f->legend_y1 + 1, frame_gray);
    for (int i = 0; i < L->shown; i++) {
        const legend_entry_t *e = &job->entries[i];
        int ty = f->legend_y0 + pad + (i % L->legend_rows) * L->entry_h;
        int cy = ty + (7 * ts) / 2; /* middle of the capitals */
        int sx = f->legend_x0 + pad + (i / L->legend_rows) * (L->col_w + 10 * ts);
        if (i == L->shown - 1 && L->shown < job->nentries) {
            char more[32];
            snprintf(more, sizeof more, "(+%d more)", job->nentries - L->shown + 1);
            draw_text(img, sx, ty, more, ts, black, 0);
            break;
        }
        if (e->swatch && job->legend_discs) {
            int r = 4 * ts;
            for (int dy = -r; dy <= r; dy++)
                for (int dx = -r; dx <= r; dx++)
                    if (dx * dx + dy * dy <= r * r + r)
                        fill_rect(img, sx + swatch / 2 + dx, cy + dy, sx + swatch / 2 + dx + 1,
                                  cy + dy + 1, e->rgb);
        } else if (e->swatch) {
            fill_rect(img, sx, cy - ts, sx + swatch, cy + ts + 1, e->rgb);
        }
        draw_text(img, sx + swatch + 6 * ts, ty, e->text, ts, black, 0);
    }
}

/* Draws the job into a new w x h RGB image. With outside == 0 the legend goes into the first
 * corner of the plot area free of data; *moved is set when there is none and there is room
 * outside (nothing is drawn then, and the caller lays the chart out again with the legend
 * outside). */
static clvae_status_t render(const plot_job_t *job, clvae_image_t *img, int w, int h,
                             int outside, clvae_plot_frame_t *frame, int *moved,
                             clvae_error_t *err)
{
    *moved = 0;
    layout_t L;
    layout_make(&L, job, w, h, outside);
    clvae_status_t s = clvae_image_init(img, w, h, 3, 255, err);
    if (s != CLVAE_OK) return s;
    canvas_t cv = {img, calloc((size_t)w * (size_t)h, 1), L.f.x0 + 1, L.f.y0 + 1, L.f.x1 - 1,
                   L.f.y1 - 1};
    if (!cv.mask) {
        clvae_image_free(img);
        return CLVAE_FAIL(err, CLVAE_ERR_NOMEM, "plot: out of host memory for %dx%d", w, h);
    }
    draw_axes(img, &L, job);
    draw_data(&cv, &L, job);
    clvae_plot_frame_t *f = &L.f;
    if (!outside && L.shown > 0) {
        int lw = L.legend_w, lh = L.legend_h, m = 8;
        int fits = L.shown == job->nentries && lw + 2 * m < f->x1 - f->x0 &&
                   lh + 2 * m < f->y1 - f->y0;
        int xs[4] = {f->x1 - m - lw, f->x0 + m, f->x1 - m - lw, f->x0 + m};
        int ys[4] = {f->y0 + m, f->y0 + m, f->y1 - m - lh, f->y1 - m - lh};
        int at = -1;
        size_t cnt[4] = {0};
        for (int c = 0; c < 4 && fits && at < 0; c++) {
            cnt[c] = mask_count(&cv, xs[c], ys[c], xs[c] + lw - 1, ys[c] + lh - 1, 3);
            if (cnt[c] == 0) at = c;
        }
        if (at < 0 && fits) {
            /* No free corner. Outside, unless that would squeeze the plot area below half the
             * width: then over the corner with the least data. */
            layout_t out;
            layout_make(&out, job, w, h, 1);
            if (out.f.x1 - out.f.x0 < w / 2) {
                at = 0;
                for (int c = 1; c < 4; c++)
                    if (cnt[c] < cnt[at]) at = c;
            }
        }
        if (at < 0) {
            free(cv.mask);
            clvae_image_free(img);
            *moved = 1;
            return CLVAE_OK;
        }
        f->legend_x0 = xs[at];
        f->legend_y0 = ys[at];
        f->legend_x1 = xs[at] + lw - 1;
        f->legend_y1 = ys[at] + lh - 1;
    }
    draw_legend(img, &L, job);
    free(cv.mask);
    if (frame) *frame = *f;
    return CLVAE_OK;
}

static clvae_status_t plot_run(const plot_job_t *job, clvae_image_t *img, int w, int h,
                               clvae_plot_frame_t *frame, clvae_error_t *err)
{
    int moved = 0;
    clvae_status_t s = render(job, img, w, h, 0, frame, &moved, err);
    if (s == CLVAE_OK && moved) s = render(job, img, w, h, 1, frame, &moved, err);
    return s;
}

static clvae_status_t check_size(clvae_image_t *img, int w, int h, clvae_error_t *err)
{
    if (!img) return CLVAE_FAIL(err, CLVAE_ERR_INVALID, "plot: no image given");
    memset(img, 0, sizeof *img);
    if (w < 200 || h < 200 || w > MAX_SIDE || h > MAX_SIDE)
        return CLVAE_FAIL(err, CLVAE_ERR_INVALID,
                          "plot: size %dx%d; width and height must be within 200..%d", w, h,
                          MAX_SIDE);
    return CLVAE_OK;
}

/* Copies label into e->text, shortened with ".." to at most max_chars characters. */
static void set_label(legend_entry_t *e, const char *label, int max_chars)
{
    if (max_chars > LABEL_CHARS) max_chars = LABEL_CHARS;
    if (max_chars < 3) max_chars = 3;
    size_t n = strlen(label);
    if (n <= (size_t)max_chars) {
        memcpy(e->text, label, n + 1);
    } else {
        memcpy(e->text, label, (size_t)max_chars - 2);
        memcpy(e->text + max_chars - 2, "..", 3);
    }
    for (char *p = e->text; *p; p++)
        if (*p == '\n') *p = ' ';
}

/* Longest legend label, in characters, that keeps the legend within 2/5 of the width. */
static int label_room(int w, int h)
{
    int ts = (w >= 1000 && h >= 750) ? 2 : 1;
    return (w * 2 / 5 - 38 * ts) / (CLVAE_FONT_ADVANCE * ts);
}

clvae_status_t clvae_plot_lines_ex(clvae_image_t *img, int w, int h, const char *title,
                                   const char *xlabel, const char *ylabel,
                                   const clvae_plot_series_t *series, int nseries, int log_y,
                                   clvae_plot_frame_t *frame, clvae_error_t *err)
{
    clvae_status_t s = check_size(img, w, h, err);
    if (s != CLVAE_OK) return s;
    if (nseries < 0 || (nseries > 0 && !series))
        return CLVAE_FAIL(err, CLVAE_ERR_INVALID, "plot: %d series given%s", nseries,
                          nseries > 0 ? " but no array" : "");
    plot_job_t job;
    memset(&job, 0, sizeof job);
    job.title = title;
    job.xlabel = xlabel;
    job.ylabel = ylabel;
    job.log_y = log_y != 0;
    job.series = series;
    job.nseries = nseries;
    double xlo = INFINITY, xhi = -INFINITY, ylo = INFINITY, yhi = -INFINITY;
    int nlabels = 0;
    for (int k = 0; k < nseries; k++) {
        const clvae_plot_series_t *se = &series[k];
        if (se->n > 0 && (!se->x || !se->y))
            return CLVAE_FAIL(err, CLVAE_ERR_INVALID,
                              "plot: series %d (%s) has %zu points but no x or y array", k,
                              se->label ? se->label : "unnamed", se->n);
        if (se->label && *se->label) nlabels++;
        for (size_t i = 0; i < se->n; i++) {
            double x = se->x[i], y = se->y[i];
            if (!isfinite(x) || !isfinite(y)) continue;
            if (job.log_y) {
                if (!(y > 0)) continue;
                y = log10(y);
            }
            if (x < xlo) xlo = x;
            if (x > xhi) xhi = x;
            if (y < ylo) ylo = y;
            if (y > yhi) yhi = y;
        }
    }
    if (!(xlo <= xhi)) { /* nothing finite to draw: empty axes over 0..1 */
        xlo = 0;
        xhi = 1;
        ylo = 0;
        yhi = 1;
    }
    job.dxlo = xlo;
    job.dxhi = xhi;
    job.dylo = ylo;
    job.dyhi = yhi;
    if (nlabels > 0) {
        job.entries = calloc((size_t)nlabels, sizeof *job.entries);
        if (!job.entries) return CLVAE_FAIL(err, CLVAE_ERR_NOMEM, "plot: out of host memory");
        int room = label_room(w, h);
        for (int k = 0; k < nseries; k++) {
            if (!series[k].label || !*series[k].label) continue;
            legend_entry_t *e = &job.entries[job.nentries++];
            set_label(e, series[k].label, room);
            clvae_plot_color(k, e->rgb);
            e->swatch = 1;
        }
    }
    s = plot_run(&job, img, w, h, frame, err);
    free(job.entries);
    return s;
}

clvae_status_t clvae_plot_lines(clvae_image_t *img, int w, int h, const char *title,
                                const char *xlabel, const char *ylabel,
                                const clvae_plot_series_t *series, int nseries, int log_y,
                                clvae_error_t *err)
{
    return clvae_plot_lines_ex(img, w, h, title, xlabel, ylabel, series, nseries, log_y, NULL,
                               err);
}

clvae_status_t clvae_plot_scatter_ex(clvae_image_t *img, int w, int h, const char *title,
                                     const char *xlabel, const char *ylabel, const float *x,
                                     const float *y, const int *cls, size_t n, int nclasses,
                                     const char *const *class_names, clvae_plot_frame_t *frame,
                                     clvae_error_t *err)
{
    clvae_status_t s = check_size(img, w, h, err);
    if (s != CLVAE_OK) return s;
    if (n > 0 && (!x || !y))
        return CLVAE_FAIL(err, CLVAE_ERR_INVALID, "plot: %zu points but no x or y array", n);
    if (cls && (nclasses < 1 || nclasses > 100000))
        return CLVAE_FAIL(err, CLVAE_ERR_INVALID,
                          "plot: %d classes; with class labels there must be 1..100000",
                          nclasses);
    plot_job_t job;
    memset(&job, 0, sizeof job);
    job.title = title;
    job.xlabel = xlabel;
    job.ylabel = ylabel;
    job.x = x;
    job.y = y;
    job.cls = cls;
    job.n = n;
    job.legend_discs = 1;
    double xlo = INFINITY, xhi = -INFINITY, ylo = INFINITY, yhi = -INFINITY;
    for (size_t i = 0; i < n; i++) {
        if (cls && (cls[i] < 0 || cls[i] >= nclasses))
            return CLVAE_FAIL(err, CLVAE_ERR_INVALID,
                              "plot: point %zu has class %d, outside 0..%d", i, cls[i],
                              nclasses - 1);
        if (!isfinite(x[i]) || !isfinite(y[i])) continue;
        if (x[i] < xlo) xlo = x[i];
        if (x[i] > xhi) xhi = x[i];
        if (y[i] < ylo) ylo = y[i];
        if (y[i] > yhi) yhi = y[i];
    }
    if (!(xlo <= xhi)) {
        xlo = 0;
        xhi = 1;
        ylo = 0;
        yhi = 1;
    }
    job.dxlo = xlo;
    job.dxhi = xhi;
    job.dylo = ylo;
    job.dyhi = yhi;
    if (cls) {
        job.entries = calloc((size_t)nclasses, sizeof *job.entries);
        if (!job.entries) return CLVAE_FAIL(err, CLVAE_ERR_NOMEM, "plot: out of host memory");
        int room = label_room(w, h);
        for (int k = 0; k < nclasses; k++) {
            legend_entry_t *e = &job.entries[k];
            char num[16];
            snprintf(num, sizeof num, "%d", k);
            set_label(e, class_names && class_names[k] ? class_names[k] : num, room);
            clvae_plot_color(k, e->rgb);
            e->swatch = 1;
        }
        job.nentries = nclasses;
    }
    s = plot_run(&job, img, w, h, frame, err);
    free(job.entries);
    return s;
}

clvae_status_t clvae_plot_scatter(clvae_image_t *img, int w, int h, const char *title,
                                  const char *xlabel, const char *ylabel, const float *x,
                                  const float *y, const int *cls, size_t n, int nclasses,
                                  const char *const *class_names, clvae_error_t *err)
{
    return clvae_plot_scatter_ex(img, w, h, title, xlabel, ylabel, x, y, cls, n, nclasses,
                                 class_names, NULL, err);
}
