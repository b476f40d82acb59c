/* Images in host memory and PNG files (libpng): write atomically, read back, tile into grids. */
#ifndef CLVAE_IMAGE_H
#define CLVAE_IMAGE_H

#include <stddef.h>
#include <stdint.h>

#include "clvae/io/error.h"

/* An 8-bit image: gray (channels 1) or RGB (channels 3), rows top to bottom. */
typedef struct clvae_image {
    int w, h;        /* size in pixels */
    int channels;    /* 1 or 3 */
    uint8_t *px;     /* [h, w, channels] */
} clvae_image_t;

/* Allocates a w x h image with 1 or 3 channels, filled with value (0..255) in every channel.
 * Rejects non-positive sizes, sizes over 16384, and other channel counts. */
clvae_status_t clvae_image_init(clvae_image_t *img, int w, int h, int channels, uint8_t value,
                                clvae_error_t *err);

/* Frees the pixels and zeroes the struct (a zeroed struct is fine). */
void clvae_image_free(clvae_image_t *img);

/* Writes img as an 8-bit gray or RGB PNG, atomically (temp file in the same folder, fsync,
 * rename, fsync of the folder). Any failure (unwritable folder, disk full, libpng error via
 * setjmp) returns CLVAE_ERR_IO naming the path and leaves neither a partial file nor a temp. */
clvae_status_t clvae_png_write(const char *path, const clvae_image_t *img, clvae_error_t *err);

/* The format path's extension chooses for a figure: 0 for .png, 1 for .npy (the figure's
 * pixels as a uint8 array [h, w] or [h, w, 3]); another extension is CLVAE_ERR_INVALID
 * (returned as -1 with err set). */
int clvae_image_format(const char *path, clvae_error_t *err);

/* Writes img in the format path's extension names (clvae_image_format), atomically. */
clvae_status_t clvae_image_write(const char *path, const clvae_image_t *img, clvae_error_t *err);

/* Reads an 8-bit gray or RGB PNG (other formats: CLVAE_ERR_INVALID; a broken file:
 * CLVAE_ERR_CORRUPT), for tests and for tools. */
clvae_status_t clvae_png_read(const char *path, clvae_image_t *out, clvae_error_t *err);

/* Tiles n images into a new image: each image is c x ih x iw floats in CHW order (c = 1 gray,
 * c = 3 RGB), values clamped to [0, 1] and scaled to 0..255 (NaN drawn as 0); cols images per
 * row (rows = ceil(n / cols)), pad pixels of background (255 = white) between and around them,
 * and every tile magnified by an integer zoom >= 1 (nearest neighbour). */
clvae_status_t clvae_image_grid(clvae_image_t *out, const float *imgs, size_t n, int c, int ih,
                                int iw, int cols, int pad, int zoom, uint8_t background,
                                clvae_error_t *err);

#endif
