/* Plots: nice ticks, number labels, the font, and charts checked pixel by pixel. */
#define TEST_FILE "test_plot"
#include "test.h"

#include <math.h>
#include <stdint.h>

#include "clvae/io/plot.h"
#include "io/font.h"

/* tab10, written out again here so that a changed palette is noticed */
static const uint8_t tab10[10][3] = {
    {31, 119, 180}, {255, 127, 14}, {44, 160, 44},   {214, 39, 40},   {148, 103, 189},
    {140, 86, 75},  {227, 119, 194}, {127, 127, 127}, {188, 189, 34}, {23, 190, 207},
};

static const uint8_t *pix(const clvae_image_t *img, int x, int y)
{
    return img->px + ((size_t)y * img->w + x) * img->channels;
}

static int is_rgb(const clvae_image_t *img, int x, int y, const uint8_t rgb[3])
{
    if (x < 0 || y < 0 || x >= img->w || y >= img->h) return 0;
    return memcmp(pix(img, x, y), rgb, 3) == 0;
}

/* Pixels of colour rgb in the rectangle [x0, x1] x [y0, y1]. */
static int count_rgb(const clvae_image_t *img, int x0, int y0, int x1, int y1,
                     const uint8_t rgb[3])
{
    int n = 0;
    for (int y = y0; y <= y1; y++)
        for (int x = x0; x <= x1; x++) n += is_rgb(img, x, y, rgb);
    return n;
}

/* 1 when text, drawn in black at scale on white, appears exactly (ink black, paper white,
 * over its whole box) with its top-left corner somewhere in [x0, x1] x [y0, y1]. */
static int find_text(const clvae_image_t *img, int x0, int y0, int x1, int y1,
                     const char *text, int scale)
{
    int tw = clvae_plot_text_width(text, scale), th = CLVAE_FONT_H * scale;
    clvae_image_t t;
    clvae_error_t err = {0};
    if (tw <= 0 || clvae_image_init(&t, tw, th, 1, 255, &err) != CLVAE_OK) return 0;
    static const uint8_t black[3] = {0, 0, 0};
    clvae_plot_text(&t, 0, 0, text, scale, black);
    int found = 0;
    for (int y = y0; y <= y1 && !found; y++)
        for (int x = x0; x <= x1 && !found; x++) {
            if (x < 0 || y < 0 || x + tw > img->w || y + th > img->h) continue;
            int ok = 1;
            for (int j = 0; j < th && ok; j++)
                for (int i = 0; i < tw && ok; i++) {
                    const uint8_t *p = pix(img, x + i, y + j);
                    int v = t.px[j * tw + i] == 0 ? 0 : 255;
                    ok = p[0] == v && p[1] == v && p[2] == v;
                }
            found = ok;
        }
    clvae_image_free(&t);
    return found;
}

static void check_ticks(double lo, double hi, int max, const double *want, int nwant)
{
    double got[16];
    int n = clvae_plot_ticks(lo, hi, max, got);
    CHECK(n == nwant, "ticks(%g, %g, %d): %d ticks, want %d", lo, hi, max, n, nwant);
    for (int i = 0; i < n && i < nwant; i++)
        CHECK(got[i] == want[i] && !signbit(got[i]) == !signbit(want[i]),
              "ticks(%g, %g, %d)[%d] = %.17g, want %.17g", lo, hi, max, i, got[i], want[i]);
}

static void t_nice_ticks(void)
{
    check_ticks(0, 1, 8, (const double[]){0, 0.2, 0.4, 0.6, 0.8, 1}, 6);
    check_ticks(1, 0, 8, (const double[]){0, 0.2, 0.4, 0.6, 0.8, 1}, 6); /* swapped bounds */
    check_ticks(0, 1, 4, (const double[]){0, 0.5, 1}, 3);
    check_ticks(-3, 3, 8, (const double[]){-3, -2, -1, 0, 1, 2, 3}, 7);
    check_ticks(135, 180, 8, (const double[]){140, 150, 160, 170, 180}, 5);
    check_ticks(0, 500, 8, (const double[]){0, 100, 200, 300, 400, 500}, 6);
    check_ticks(1e-3, 2e-3, 8, (const double[]){0.001, 0.0012, 0.0014, 0.0016, 0.0018, 0.002},
                6);
    check_ticks(-0.3, 0.3, 8, (const double[]){-0.3, -0.2, -0.1, 0, 0.1, 0.2, 0.3}, 7);
    check_ticks(-1.45, 52.45, 8, (const double[]){0, 10, 20, 30, 40, 50}, 6);
    check_ticks(2, 2, 8, (const double[]){2}, 1); /* zero width: the one value */
    check_ticks(0, 0, 8, (const double[]){0}, 1);
    check_ticks(-7.3e5, 1.2e6, 6, (const double[]){-5e5, 0, 5e5, 1e6}, 4);
    double t[16], st = -1;
    CHECK(clvae_plot_ticks(NAN, 1, 8, t) == 0, "NaN bound gave ticks");
    CHECK(clvae_plot_ticks(0, INFINITY, 8, t) == 0, "infinite bound gave ticks");
    CHECK(clvae_plot_ticks(-1e308, 1e308, 8, t) == 0, "overflowing span gave ticks");
    CHECK(clvae_plot_ticks(0, 1, 1, t) == 0, "max_ticks 1 gave ticks");
    CHECK(clvae_plot_ticks(0, 1, 8, NULL) == 0, "NULL array gave ticks");
    CHECK(clvae_plot_ticks_step(0, 1, 8, t, &st) == 6 && st == 0.2, "step %g, want 0.2", st);
    CHECK(clvae_plot_ticks_step(3, 3, 8, t, &st) == 1 && st == 0, "zero width step %g", st);
    /* tiny and huge spans terminate with a sensible count */
    int n = clvae_plot_ticks(1, 1 + 1e-300, 8, t);
    CHECK(n == 0 || (n >= 1 && n <= 8), "1 + 1e-300: %d", n);
    n = clvae_plot_ticks(0, 4.9e-324, 8, t);
    CHECK(n >= 1 && n <= 8, "denormal span: %d", n);
    n = clvae_plot_ticks(-3e38, 3e38, 8, t);
    CHECK(n >= 3 && n <= 8, "float-sized span: %d", n);
}

static void check_fmt(double v, double step, const char *want)
{
    char buf[64];
    clvae_plot_format(v, step, buf, sizeof buf);
    CHECK(strcmp(buf, want) == 0, "format(%.17g, %g) = \"%s\", want \"%s\"", v, step, buf, want);
}

static void t_number_format(void)
{
    check_fmt(0, 0.2, "0");
    check_fmt(0.5, 0.5, "0.5");
    check_fmt(-2, 1, "-2");
    check_fmt(140, 10, "140");
    check_fmt(0.6000000000000001, 0.2, "0.6");
    check_fmt(1, 0.2, "1");
    check_fmt(-1e-17, 0.1, "0"); /* rounding noise at zero: never "-0" */
    check_fmt(-0.0, 1, "0");
    check_fmt(-0.04, 0.1, "0"); /* rounds to "-0.0" at one decimal */
    check_fmt(0.0012, 0.0002, "0.0012");
    check_fmt(1500, 500, "1500");
    check_fmt(1000, 1000, "1e+03");
    check_fmt(2e5, 5e4, "2e+05");
    check_fmt(2.5e5, 5e4, "2.5e+05");
    check_fmt(-1.5e6, 5e5, "-1.5e+06");
    check_fmt(1.2e-5, 1e-6, "1.2e-05");
    check_fmt(1e-5, 1e-5, "1e-05");
    check_fmt(7.5, 2.5, "7.5");
    check_fmt(0.25, 0.05, "0.25");
    check_fmt(NAN, 1, "nan");
    check_fmt(-INFINITY, 1, "-inf");
    check_fmt(3, 0, "3"); /* no usable step: v's own magnitude */
    char small[4];
    clvae_plot_format(123456.0, 1, small, sizeof small);
    CHECK(strcmp(small, "123") == 0, "truncated to \"%s\"", small);
    clvae_plot_format(1, 1, small, 0); /* size 0: nothing written, no crash */
}

static void t_font(void)
{
    int n = CLVAE_FONT_LAST - CLVAE_FONT_FIRST + 1;
    CHECK(n == 95, "%d glyphs", n);
    for (int g = 0; g < n; g++)
        for (int r = 0; r < CLVAE_FONT_H; r++) {
            const char *row = clvae_font_glyphs[g][r];
            int ok = row[CLVAE_FONT_W] == 0;
            for (int c = 0; c < CLVAE_FONT_W; c++) ok &= row[c] == '.' || row[c] == '#';
            CHECK(ok, "glyph '%c' row %d is \"%.6s\"", g + CLVAE_FONT_FIRST, r, row);
        }
    /* every printable glyph but the space has ink, and no two are the same (O and 0 share) */
    for (int g = 0; g < n; g++) {
        int ink = 0;
        for (int r = 0; r < CLVAE_FONT_H; r++)
            for (int c = 0; c < CLVAE_FONT_W; c++) ink += clvae_font_pixel(g + 32, c, r);
        CHECK((g == 0) == (ink == 0), "glyph '%c' has %d ink pixels", g + 32, ink);
        for (int o = g + 1; o < n; o++) {
            if (g + 32 == '0' && o + 32 == 'O') continue;
            CHECK(memcmp(clvae_font_glyphs[g], clvae_font_glyphs[o], sizeof clvae_font_glyphs[g]),
                  "glyphs '%c' and '%c' are the same", g + 32, o + 32);
        }
    }
    CHECK(clvae_font_pixel('A', 0, 0) == 0 && clvae_font_pixel('A', 1, 0) == 1 &&
              clvae_font_pixel('A', 0, 3) == 1 && clvae_font_pixel('A', 9, 0) == 0,
          "'A' pixels");
    CHECK(clvae_font_pixel('\t', 1, 0) == clvae_font_pixel('?', 1, 0), "tab is not drawn as ?");

    /* "A" drawn at (1, 2) on gray: the glyph's ink exactly, mean of the colour */
    clvae_image_t img;
    clvae_error_t err = {0};
    REQUIRE(clvae_image_init(&img, 8, 11, 1, 255, &err) == CLVAE_OK, "%s", err.msg);
    const uint8_t col[3] = {30, 60, 90};
    clvae_plot_text(&img, 1, 2, "A", 1, col);
    for (int y = 0; y < 11; y++)
        for (int x = 0; x < 8; x++) {
            int want = clvae_font_pixel('A', x - 1, y - 2) ? 60 : 255;
            CHECK(img.px[y * 8 + x] == want, "'A' pixel (%d,%d) is %d, want %d", x, y,
                  img.px[y * 8 + x], want);
        }
    clvae_image_free(&img);

    /* scale 2 on RGB: each ink pixel becomes a 2x2 block; second character advances 12 */
    REQUIRE(clvae_image_init(&img, 30, 20, 3, 255, &err) == CLVAE_OK, "%s", err.msg);
    clvae_plot_text(&img, 0, 0, "1|", 2, tab10[3]);
    int bad = 0;
    for (int y = 0; y < 20; y++)
        for (int x = 0; x < 30; x++) {
            int ink = (x < 10 && clvae_font_pixel('1', x / 2, y / 2)) ||
                      (x >= 12 && clvae_font_pixel('|', (x - 12) / 2, y / 2));
            if (is_rgb(&img, x, y, ink ? tab10[3] : (const uint8_t[]){255, 255, 255}) == 0)
                bad++;
        }
    CHECK(bad == 0, "%d pixels of \"1|\" at scale 2 are wrong", bad);
    /* clipping at every edge: nothing outside is touched, nothing crashes */
    clvae_plot_text(&img, -7, -5, "Wg@~", 3, tab10[0]);
    clvae_plot_text(&img, 25, 15, "Wg@~\nxyz", 3, tab10[0]);
    clvae_plot_text(&img, -100000, 100000, "far", 1, tab10[0]);
    clvae_plot_text(&img, 2147483000, 0, "far", 256, tab10[0]);
    clvae_plot_text(NULL, 0, 0, "x", 1, tab10[0]);
    clvae_plot_text(&img, 0, 0, NULL, 1, tab10[0]);
    CHECK(count_rgb(&img, 0, 0, 29, 19, tab10[0]) > 0, "clipped text left no ink");
    clvae_image_free(&img);

    CHECK(clvae_plot_text_width("abc", 1) == 17, "width of abc: %d",
          clvae_plot_text_width("abc", 1));
    CHECK(clvae_plot_text_width("ab\nabcd", 2) == 46, "width of ab/abcd at 2: %d",
          clvae_plot_text_width("ab\nabcd", 2));
    CHECK(clvae_plot_text_width("", 1) == 0 && clvae_plot_text_width(NULL, 1) == 0, "empty");
}

static void t_palette(void)
{
    for (int k = -10; k < 25; k++) {
        uint8_t rgb[3];
        clvae_plot_color(k, rgb);
        int i = ((k % 10) + 10) % 10;
        CHECK(memcmp(rgb, tab10[i], 3) == 0, "colour %d", k);
    }
    /* the ten colours are far apart */
    for (int a = 0; a < 10; a++)
        for (int b = a + 1; b < 10; b++) {
            int d = abs(tab10[a][0] - tab10[b][0]) + abs(tab10[a][1] - tab10[b][1]) +
                    abs(tab10[a][2] - tab10[b][2]);
            CHECK(d > 60, "colours %d and %d are close (%d)", a, b, d);
        }
}

/* The frame's box is drawn in black where the frame says. */
static void check_box(const clvae_image_t *img, const clvae_plot_frame_t *f)
{
    static const uint8_t black[3] = {0, 0, 0};
    int mx = (f->x0 + f->x1) / 2, my = (f->y0 + f->y1) / 2;
    CHECK(f->x0 > 0 && f->x1 < img->w - 1 && f->y0 > 0 && f->y1 < img->h - 1 &&
              f->x1 - f->x0 > 100 && f->y1 - f->y0 > 100,
          "plot area %d..%d x %d..%d in %dx%d", f->x0, f->x1, f->y0, f->y1, img->w, img->h);
    CHECK(is_rgb(img, f->x0, my, black) && is_rgb(img, f->x1, my, black) &&
              is_rgb(img, mx, f->y0, black) && is_rgb(img, mx, f->y1, black),
          "box not black at the frame's edges");
}

static void t_scatter_positions(void)
{
    /* points of 5 classes at known places; the last two coincide (drawn in index order) */
    const float x[] = {-2, 8, 3, -2, 8, 0.5f, 5.5f, 3, 3};
    const float y[] = {-1, -1, 1.5f, 4, 4, 0, 3, -0.5f, -0.5f};
    const int cls[] = {0, 1, 2, 3, 4, 1, 2, 0, 4};
    const size_t n = sizeof x / sizeof x[0];
    const char *names[] = {"zero", "one", "two", "three", "four"};
    clvae_image_t img;
    clvae_plot_frame_t f;
    clvae_error_t err = {0};
    REQUIRE(clvae_plot_scatter_ex(&img, 640, 480, "Known points", "x axis", "y axis", x, y, cls,
                                  n, 5, names, &f, &err) == CLVAE_OK,
            "%s", err.msg);
    CHECK(img.w == 640 && img.h == 480 && img.channels == 3, "image %dx%dx%d", img.w, img.h,
          img.channels);
    /* data -2..8 and -1..4, padded by 5% */
    CHECK(f.xlo == -2 - 0.05 * 10 && f.xhi == 8 + 0.05 * 10, "x range %g..%g", f.xlo, f.xhi);
    CHECK(f.ylo == -1 - 0.05 * 5 && f.yhi == 4 + 0.05 * 5, "y range %g..%g", f.ylo, f.yhi);
    CHECK(f.log_y == 0, "log_y set");
    check_box(&img, &f);
    for (size_t i = 0; i < n; i++) {
        double X = f.x0 + (x[i] - f.xlo) / (f.xhi - f.xlo) * (f.x1 - f.x0);
        double Y = f.y1 - (y[i] - f.ylo) / (f.yhi - f.ylo) * (f.y1 - f.y0);
        int px = (int)lround(X), py = (int)lround(Y);
        int k = i == 7 ? 4 : cls[i]; /* point 8 was drawn over point 7 */
        CHECK(is_rgb(&img, px, py, tab10[k]), "point %zu (class %d) at (%d,%d) is %d,%d,%d", i,
              k, px, py, pix(&img, px, py)[0], pix(&img, px, py)[1], pix(&img, px, py)[2]);
        /* few points: discs of radius 3, so the pixel 4 away is not the point's */
        CHECK(!is_rgb(&img, px + 4, py, tab10[k]), "point %zu is wider than expected", i);
        double mx, my;
        CHECK(clvae_plot_frame_map(&f, x[i], y[i], &mx, &my) && mx == X && my == Y,
              "frame_map disagrees for point %zu", i);
        CHECK(!(px >= f.legend_x0 && px <= f.legend_x1 && py >= f.legend_y0 &&
                py <= f.legend_y1),
              "legend covers point %zu", i);
    }
    /* class colours appear nowhere else in the plot area than at the points */
    int stray = count_rgb(&img, f.x0 + 1, f.y0 + 1, f.x1 - 1, f.y1 - 1, tab10[3]);
    int in_legend = count_rgb(&img, f.legend_x0, f.legend_y0, f.legend_x1, f.legend_y1,
                              tab10[3]);
    stray -= f.legend_x0 > f.x0 && f.legend_x1 < f.x1 ? in_legend : 0;
    CHECK(stray >= 20 && stray <= 32, "%d pixels of class 3's colour for one disc of radius 3",
          stray);
    /* the legend: a box with every class's colour and name */
    CHECK(f.legend_x1 > f.legend_x0 + 20 && f.legend_y1 > f.legend_y0 + 5 * 10,
          "legend box %d,%d..%d,%d", f.legend_x0, f.legend_y0, f.legend_x1, f.legend_y1);
    for (int k = 0; k < 5; k++) {
        CHECK(count_rgb(&img, f.legend_x0, f.legend_y0, f.legend_x1, f.legend_y1, tab10[k]) >=
                  20,
              "legend has no swatch of class %d", k);
        CHECK(find_text(&img, f.legend_x0, f.legend_y0, f.legend_x1, f.legend_y1, names[k],
                        f.text_scale),
              "legend does not show \"%s\"", names[k]);
    }
    CHECK(find_text(&img, 0, 0, img.w - 1, f.y0 - 1, "Known points", f.title_scale),
          "title not found above the plot area");
    CHECK(find_text(&img, f.x0, f.y1 + 1, f.x1, img.h - 1, "x axis", f.text_scale),
          "x label not found below the plot area");
    /* x ticks -2..8 padded: step 2 gives -2, 0, ..., 8, labelled under their tick marks */
    const char *xl[] = {"-2", "0", "2", "4", "6", "8"};
    for (int i = 0; i < 6; i++) {
        double v = -2 + 2 * i;
        int px = (int)lround(f.x0 + (v - f.xlo) / (f.xhi - f.xlo) * (f.x1 - f.x0));
        CHECK(is_rgb(&img, px, f.y1 + 3, (const uint8_t[]){0, 0, 0}), "no tick mark at x=%g",
              v);
        int tw = clvae_plot_text_width(xl[i], f.text_scale);
        CHECK(find_text(&img, px - tw / 2 - 1, f.y1 + 2, px - tw / 2 + 1, f.y1 + 20, xl[i],
                        f.text_scale),
              "x tick label \"%s\" not under its tick", xl[i]);
    }
    /* y ticks -1..4: step 1 */
    const char *yl[] = {"-1", "0", "1", "2", "3", "4"};
    for (int i = 0; i < 6; i++)
        CHECK(find_text(&img, 0, f.y0 - 10, f.x0 - 1, f.y1 + 10, yl[i], f.text_scale),
              "y tick label \"%s\" not found left of the plot", yl[i]);
    clvae_image_free(&img);

    /* without classes: one colour, no legend */
    REQUIRE(clvae_plot_scatter_ex(&img, 300, 200, NULL, NULL, NULL, x, y, NULL, n, 0, NULL, &f,
                                  &err) == CLVAE_OK,
            "%s", err.msg);
    CHECK(f.legend_x0 == 0 && f.legend_x1 == 0, "a legend without classes");
    double X, Y;
    clvae_plot_frame_map(&f, x[2], y[2], &X, &Y);
    CHECK(is_rgb(&img, (int)lround(X), (int)lround(Y), tab10[0]), "single-colour point");
    CHECK(count_rgb(&img, 0, 0, img.w - 1, img.h - 1, tab10[1]) == 0, "second colour used");
    clvae_image_free(&img);
}

static void t_scatter_many_points_legend_clear(void)
{
    /* 10,000 points filling the whole range: no corner is free, the legend moves outside */
    enum { N = 10000 };
    static float x[N], y[N];
    static int cls[N];
    uint32_t r = 7;
    for (int i = 0; i < N; i++) {
        r = r * 1664525u + 1013904223u;
        x[i] = (float)(r >> 8) / 16777216.0f;
        r = r * 1664525u + 1013904223u;
        y[i] = (float)(r >> 8) / 16777216.0f * 100.0f;
        cls[i] = i % 10;
    }
    clvae_image_t img;
    clvae_plot_frame_t f;
    clvae_error_t err = {0};
    REQUIRE(clvae_plot_scatter_ex(&img, 640, 480, "Uniform", "u", "v", x, y, cls, N, 10, NULL,
                                  &f, &err) == CLVAE_OK,
            "%s", err.msg);
    check_box(&img, &f);
    CHECK(f.legend_x0 > f.x1, "legend at x %d, plot area ends at %d", f.legend_x0, f.x1);
    CHECK(f.legend_x1 < img.w && f.legend_y1 < img.h, "legend leaves the image");
    char name[16];
    for (int k = 0; k < 10; k++) {
        snprintf(name, sizeof name, "%d", k);
        CHECK(find_text(&img, f.legend_x0, f.legend_y0, f.legend_x1, f.legend_y1, name,
                        f.text_scale),
              "legend does not name class %d", k);
        /* every class shows in the plot area, in bulk */
        CHECK(count_rgb(&img, f.x0 + 1, f.y0 + 1, f.x1 - 1, f.y1 - 1, tab10[k]) > 1000,
              "class %d barely visible", k);
    }
    clvae_image_free(&img);

    /* 25 classes: colours cycle, the legend stays inside the image */
    for (int i = 0; i < N; i++) cls[i] = i % 25;
    REQUIRE(clvae_plot_scatter_ex(&img, 640, 480, "25 classes", "u", "v", x, y, cls, N, 25,
                                  NULL, &f, &err) == CLVAE_OK,
            "%s", err.msg);
    CHECK(f.legend_x0 >= 0 && f.legend_x1 < img.w && f.legend_y0 >= 0 && f.legend_y1 < img.h,
          "legend %d,%d..%d,%d outside %dx%d", f.legend_x0, f.legend_y0, f.legend_x1,
          f.legend_y1, img.w, img.h);
    CHECK(find_text(&img, f.legend_x0, f.legend_y0, f.legend_x1, f.legend_y1, "24",
                    f.text_scale) ||
              find_text(&img, f.legend_x0, f.legend_y0, f.legend_x1, f.legend_y1, "more",
                        f.text_scale),
          "last class neither named nor counted");
    clvae_image_free(&img);

    /* the smallest size still lays out */
    for (int i = 0; i < N; i++) cls[i] = i % 10;
    REQUIRE(clvae_plot_scatter_ex(&img, 200, 200, "A title far too long for two hundred pixels",
                                  "u", "v", x, y, cls, N, 10, NULL, &f, &err) == CLVAE_OK,
            "%s", err.msg);
    CHECK(f.x1 - f.x0 >= 60 && f.y1 - f.y0 >= 60, "200x200 plot area %dx%d", f.x1 - f.x0,
          f.y1 - f.y0);
    clvae_image_free(&img);
}

static void t_line_chart(void)
{
    enum { E = 50 };
    float ep[E], a[E], b[E], c[E];
    for (int i = 0; i < E; i++) {
        ep[i] = (float)(i + 1);
        a[i] = 300.0f + 200.0f * expf(-i / 5.0f);
        b[i] = 150.0f + 100.0f * expf(-i / 5.0f);
        c[i] = 20.0f + 5.0f * (float)i / E;
    }
    clvae_plot_series_t s[3] = {
        {"total", ep, a, E}, {"reconstruction", ep, b, E}, {"KL", ep, c, E}};
    clvae_image_t img;
    clvae_plot_frame_t f;
    clvae_error_t err = {0};
    REQUIRE(clvae_plot_lines_ex(&img, 640, 480, "Loss", "epoch", "loss", s, 3, 0, &f, &err) ==
                CLVAE_OK,
            "%s", err.msg);
    check_box(&img, &f);
    CHECK(f.xlo == 1 - 0.05 * 49 && f.xhi == 50 + 0.05 * 49, "x range %g..%g", f.xlo, f.xhi);
    /* non-white pixels inside the plot area, and each series' colour on its own line */
    int nonwhite = 0;
    for (int y = f.y0 + 1; y < f.y1; y++)
        for (int x = f.x0 + 1; x < f.x1; x++)
            nonwhite += !is_rgb(&img, x, y, (const uint8_t[]){255, 255, 255});
    CHECK(nonwhite > 1000, "%d non-white pixels in the plot area", nonwhite);
    const float *ys[3] = {a, b, c};
    for (int k = 0; k < 3; k++) {
        int hits = 0;
        for (int i = 2; i < E; i += 4) {
            double X, Y;
            clvae_plot_frame_map(&f, ep[i], ys[k][i], &X, &Y);
            int px = (int)lround(X), py = (int)lround(Y);
            if (px >= f.legend_x0 - 2 && px <= f.legend_x1 + 2 && py >= f.legend_y0 - 2 &&
                py <= f.legend_y1 + 2)
                continue;
            hits += is_rgb(&img, px, py, tab10[k]);
        }
        CHECK(hits >= 10, "series %d: its colour at only %d of 12 points", k, hits);
    }
    /* the legend: a swatch per series, labels in text */
    const char *labels[3] = {"total", "reconstruction", "KL"};
    for (int k = 0; k < 3; k++) {
        CHECK(count_rgb(&img, f.legend_x0, f.legend_y0, f.legend_x1, f.legend_y1, tab10[k]) >=
                  20,
              "no legend swatch for series %d", k);
        CHECK(find_text(&img, f.legend_x0, f.legend_y0, f.legend_x1, f.legend_y1, labels[k],
                        f.text_scale),
              "legend text \"%s\" not found", labels[k]);
    }
    CHECK(find_text(&img, 0, 0, img.w - 1, f.y0 - 1, "Loss", f.title_scale), "no title");
    CHECK(find_text(&img, f.x0, f.y1 + 1, f.x1, img.h - 1, "epoch", f.text_scale),
          "no x label");
    /* x ticks 0, 10, ..., 50 */
    for (int v = 0; v <= 50; v += 10) {
        char t[16];
        snprintf(t, sizeof t, "%d", v);
        int px = (int)lround(f.x0 + (v - f.xlo) / (f.xhi - f.xlo) * (f.x1 - f.x0));
        int tw = clvae_plot_text_width(t, f.text_scale);
        CHECK(find_text(&img, px - tw / 2 - 1, f.y1 + 2, px - tw / 2 + 1, f.y1 + 20, t,
                        f.text_scale),
              "x tick label %s", t);
    }
    /* the y label reads upwards left of the tick labels: ink there, none right of it */
    int ink = 0;
    for (int y = f.y0; y <= f.y1; y++)
        for (int x = 0; x < 20; x++) ink += is_rgb(&img, x, y, (const uint8_t[]){0, 0, 0});
    CHECK(ink > 20, "no y label ink (%d)", ink);
    clvae_image_free(&img);
}

static void t_line_breaks_and_nonfinite(void)
{
    float x[11], y[11], bad[4] = {NAN, INFINITY, -INFINITY, NAN};
    for (int i = 0; i < 11; i++) {
        x[i] = (float)i;
        y[i] = 1.0f;
    }
    y[5] = NAN; /* the line breaks between x = 4 and x = 6 */
    float y2[11];
    for (int i = 0; i < 11; i++) y2[i] = 2.0f + (float)i / 10;
    y2[3] = INFINITY;
    clvae_plot_series_t s[3] = {{"flat", x, y, 11}, {"rising", x, y2, 11}, {"broken", bad, bad, 4}};
    clvae_image_t img;
    clvae_plot_frame_t f;
    clvae_error_t err = {0};
    REQUIRE(clvae_plot_lines_ex(&img, 400, 300, "Gaps", "x", "y", s, 3, 0, &f, &err) ==
                CLVAE_OK,
            "%s", err.msg);
    double X, Y;
    clvae_plot_frame_map(&f, 2.0, 1.0, &X, &Y);
    CHECK(is_rgb(&img, (int)lround(X), (int)lround(Y), tab10[0]), "line missing at x=2");
    clvae_plot_frame_map(&f, 5.0, 1.0, &X, &Y);
    int gap = 0;
    for (int d = -1; d <= 1; d++) gap += is_rgb(&img, (int)lround(X), (int)lround(Y) + d, tab10[0]);
    CHECK(gap == 0, "line drawn across the NaN at x=5");
    CHECK(f.yhi < 3.5 && f.ylo > 0.8, "infinite value widened the range: %g..%g", f.ylo, f.yhi);
    clvae_image_free(&img);

    /* log y: non-positive values skipped, decades labelled */
    float ly[6] = {1, 10, -5, 100, 0, 1e4f};
    float lx[6] = {0, 1, 2, 3, 4, 5};
    clvae_plot_series_t ls = {"loss", lx, ly, 6};
    REQUIRE(clvae_plot_lines_ex(&img, 640, 480, "Log", "step", "value", &ls, 1, 1, &f, &err) ==
                CLVAE_OK,
            "%s", err.msg);
    CHECK(f.log_y == 1 && fabs(f.ylo - (0 - 0.05 * 4)) < 1e-12 &&
              fabs(f.yhi - (4 + 0.05 * 4)) < 1e-12,
          "log range %g..%g", f.ylo, f.yhi);
    const char *decades[] = {"1", "10", "100", "1e+03", "1e+04"};
    for (int i = 0; i < 5; i++)
        CHECK(find_text(&img, 0, f.y0 - 10, f.x0 - 1, f.y1 + 10, decades[i], f.text_scale),
              "log tick label %s missing", decades[i]);
    CHECK(!clvae_plot_frame_map(&f, 1, 0, NULL, NULL) && !clvae_plot_frame_map(&f, 1, -1, NULL,
                                                                                 NULL),
          "non-positive y mapped on a log axis");
    clvae_plot_frame_map(&f, 3, 100, &X, &Y);
    CHECK(is_rgb(&img, (int)lround(X), (int)lround(Y), tab10[0]), "point (3, 100) missing");
    clvae_image_free(&img);

    /* nothing finite at all, no series, zero-width data: empty but valid charts */
    clvae_plot_series_t only_bad = {"nan", bad, bad, 4};
    CHECK(clvae_plot_lines(&img, 300, 200, "empty", "x", "y", &only_bad, 1, 0, &err) ==
              CLVAE_OK,
          "%s", err.msg);
    clvae_image_free(&img);
    CHECK(clvae_plot_lines(&img, 300, 200, NULL, NULL, NULL, NULL, 0, 1, &err) == CLVAE_OK, "%s",
          err.msg);
    clvae_image_free(&img);
    float same[3] = {3, 3, 3};
    int cl[3] = {0, 1, 2};
    REQUIRE(clvae_plot_scatter_ex(&img, 300, 200, "one spot", NULL, NULL, same, same, cl, 3, 3,
                                  NULL, &f, &err) == CLVAE_OK,
            "%s", err.msg);
    CHECK(fabs(f.xlo - 2.7) < 1e-12 && fabs(f.xhi - 3.3) < 1e-12, "zero-width x range %g..%g",
          f.xlo, f.xhi);
    clvae_plot_frame_map(&f, 3, 3, &X, &Y);
    CHECK(is_rgb(&img, (int)lround(X), (int)lround(Y), tab10[2]), "the last point is on top");
    clvae_image_free(&img);
    float nx[3] = {NAN, 1, INFINITY}, ny[3] = {1, NAN, 2};
    CHECK(clvae_plot_scatter(&img, 300, 200, "none", NULL, NULL, nx, ny, NULL, 3, 0, NULL,
                             &err) == CLVAE_OK,
          "%s", err.msg);
    clvae_image_free(&img);
}

static void t_invalid_arguments(void)
{
    float x[2] = {0, 1};
    int cls[2] = {0, 3};
    clvae_plot_series_t s = {"s", x, x, 2}, nox = {"nox", NULL, x, 2};
    clvae_image_t img;
    clvae_error_t err = {0};
    struct { int w, h; } sizes[] = {{199, 300}, {300, 199}, {0, 0}, {-5, 300}, {16385, 300},
                                    {300, 20000}};
    for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++) {
        memset(&img, 0x5A, sizeof img);
        CHECK(clvae_plot_lines(&img, sizes[i].w, sizes[i].h, "t", "x", "y", &s, 1, 0, &err) ==
                  CLVAE_ERR_INVALID,
              "lines %dx%d accepted", sizes[i].w, sizes[i].h);
        CHECK(img.px == NULL, "image not zeroed after a refusal");
        CHECK(clvae_plot_scatter(&img, sizes[i].w, sizes[i].h, "t", "x", "y", x, x, NULL, 2, 0,
                                 NULL, &err) == CLVAE_ERR_INVALID,
              "scatter %dx%d accepted", sizes[i].w, sizes[i].h);
        CHECK(strstr(err.msg, "200") != NULL, "message: %s", err.msg);
    }
    CHECK(clvae_plot_lines(&img, 300, 300, "t", "x", "y", &s, -1, 0, &err) == CLVAE_ERR_INVALID,
          "-1 series accepted");
    CHECK(clvae_plot_lines(&img, 300, 300, "t", "x", "y", NULL, 2, 0, &err) == CLVAE_ERR_INVALID,
          "NULL series accepted");
    CHECK(clvae_plot_lines(&img, 300, 300, "t", "x", "y", &nox, 1, 0, &err) == CLVAE_ERR_INVALID,
          "series without x accepted");
    CHECK(strstr(err.msg, "nox") != NULL, "message does not name the series: %s", err.msg);
    CHECK(clvae_plot_scatter(&img, 300, 300, "t", "x", "y", x, x, cls, 2, 3, NULL, &err) ==
              CLVAE_ERR_INVALID,
          "class 3 of 3 accepted");
    CHECK(strstr(err.msg, "point 1") != NULL, "message: %s", err.msg);
    cls[1] = -1;
    CHECK(clvae_plot_scatter(&img, 300, 300, "t", "x", "y", x, x, cls, 2, 3, NULL, &err) ==
              CLVAE_ERR_INVALID,
          "class -1 accepted");
    cls[1] = 0;
    CHECK(clvae_plot_scatter(&img, 300, 300, "t", "x", "y", x, x, cls, 2, 0, NULL, &err) ==
              CLVAE_ERR_INVALID,
          "0 classes with labels accepted");
    CHECK(clvae_plot_scatter(&img, 300, 300, "t", "x", "y", NULL, x, NULL, 2, 0, NULL, &err) ==
              CLVAE_ERR_INVALID,
          "NULL x accepted");
    CHECK(clvae_plot_scatter(NULL, 300, 300, "t", "x", "y", x, x, NULL, 2, 0, NULL, &err) ==
              CLVAE_ERR_INVALID,
          "NULL image accepted");
    CHECK(img.px == NULL, "image allocated by a refused call");
}

int main(void)
{
    RUN(t_nice_ticks);
    RUN(t_number_format);
    RUN(t_font);
    RUN(t_palette);
    RUN(t_scatter_positions);
    RUN(t_scatter_many_points_legend_clear);
    RUN(t_line_chart);
    RUN(t_line_breaks_and_nonfinite);
    RUN(t_invalid_arguments);
    return TEST_EXIT();
}
