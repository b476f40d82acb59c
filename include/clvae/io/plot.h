/* Plots drawn by clvae itself into PNG files: line charts and class-coloured scatter plots. */
#ifndef CLVAE_PLOT_H
#define CLVAE_PLOT_H

#include <stddef.h>

#include "clvae/io/image.h"

/* One line of a line chart. */
typedef struct clvae_plot_series {
    const char *label;   /* legend text */
    const float *x, *y;  /* n points; non-finite points are skipped (the line breaks there) */
    size_t n;
} clvae_plot_series_t;

/* Draws a line chart (e.g. loss per epoch, one series per loss term) into img (created here,
 * RGB, w x h pixels, w, h >= 200): title on top, axis labels, axes with 4-8 "nice" ticks
 * (1, 2, 5 x 10^k) labelled with numbers, a legend with each series' colour and label, and the
 * data ranges padded by 5%. log_y draws y on a log10 axis (non-positive values skipped). All
 * text uses a built-in bitmap font (printable ASCII). */
clvae_status_t clvae_plot_lines(clvae_image_t *img, int w, int h, const char *title,
                                const char *xlabel, const char *ylabel,
                                const clvae_plot_series_t *series, int nseries, int log_y,
                                clvae_error_t *err);

/* Draws a scatter plot of n points (x[i], y[i]) coloured by cls[i] in 0..nclasses-1 (a
 * distinct colour per class from a fixed 10-colour palette, cycling beyond 10; cls may be NULL
 * for one colour) with axes, ticks, axis labels, title, and a legend naming each class
 * (class_names[k], or the number k when class_names is NULL). Points are small filled discs
 * (radius ~1.5 px for large n), drawn in index order. */
clvae_status_t clvae_plot_scatter(clvae_image_t *img, int w, int h, const char *title,
                                  const char *xlabel, const char *ylabel, const float *x,
                                  const float *y, const int *cls, size_t n, int nclasses,
                                  const char *const *class_names, clvae_error_t *err);

/* Draws text with the built-in font (scale >= 1 magnifies it) at (x, y) top-left, in rgb
 * (on a gray image the mean of the three is used); clipped at the image edges. */
void clvae_plot_text(clvae_image_t *img, int x, int y, const char *text, int scale,
                     const uint8_t rgb[3]);

/* ---- Added to the contract: layout, ticks, numbers, palette and text size. ---- */

/* Where a chart put its plot area and legend, and the data values at the area's edges. */
typedef struct clvae_plot_frame {
    int x0, y0, x1, y1;      /* plot area box (the axis lines): left, top, right, bottom */
    double xlo, xhi;         /* x values at columns x0 and x1 */
    double ylo, yhi;         /* y values at rows y1 and y0 (log10 of y when log_y) */
    int log_y;               /* 1 when y is drawn on a log10 axis */
    int legend_x0, legend_y0, legend_x1, legend_y1; /* legend box in pixels; all 0 when none */
    int text_scale;          /* font scale of ticks, axis labels and legend */
    int title_scale;         /* font scale of the title */
} clvae_plot_frame_t;

/* clvae_plot_lines that also reports the layout in *frame (may be NULL). */
clvae_status_t clvae_plot_lines_ex(clvae_image_t *img, int w, int h, const char *title,
                                   const char *xlabel, const char *ylabel,
                                   const clvae_plot_series_t *series, int nseries, int log_y,
                                   clvae_plot_frame_t *frame, clvae_error_t *err);

/* clvae_plot_scatter that also reports the layout in *frame (may be NULL). */
clvae_status_t clvae_plot_scatter_ex(clvae_image_t *img, int w, int h, const char *title,
                                     const char *xlabel, const char *ylabel, const float *x,
                                     const float *y, const int *cls, size_t n, int nclasses,
                                     const char *const *class_names, clvae_plot_frame_t *frame,
                                     clvae_error_t *err);

/* Maps a data point to pixel coordinates (not rounded) on a chart's frame; returns 0 when the
 * point cannot be drawn (non-finite, or y <= 0 on a log axis), else 1. */
int clvae_plot_frame_map(const clvae_plot_frame_t *f, double x, double y, double *px,
                         double *py);

/* Fills ticks[] (room for max_ticks) with the multiples of the smallest step 1, 2 or 5 x 10^k
 * that gives at most max_ticks of them within [lo, hi], and returns their count; a zero-width
 * range gives the one tick lo; non-finite bounds or max_ticks < 2 give 0. *step gets the step
 * (0 for none) when step is not NULL. */
int clvae_plot_ticks_step(double lo, double hi, int max_ticks, double *ticks, double *step);

/* clvae_plot_ticks_step without the step. */
int clvae_plot_ticks(double lo, double hi, int max_ticks, double *ticks);

/* Formats tick value v on an axis with tick spacing step, compactly: "0", "0.5", "-2", "140",
 * "0.0012"; steps >= 1000 or < 1e-4 use exponents ("1e+03", "2.5e+05", "1.2e-05"). No trailing
 * zeros, never "-0". */
void clvae_plot_format(double v, double step, char *buf, size_t size);

/* The colour of class or series k: the tab10 palette, cycling beyond 10. */
void clvae_plot_color(int k, uint8_t rgb[3]);

/* The width in pixels that clvae_plot_text gives the widest line of text at scale. */
int clvae_plot_text_width(const char *text, int scale);

#endif
