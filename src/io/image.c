/* Host images: allocation, grids of tiles, and PNG files through libpng (atomic writes). */
#include "clvae/io/image.h"

#include <errno.h>
#include <math.h>
#include <png.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "clvae/io/fileio.h"
#include "clvae/io/npy.h"

#define MAX_SIDE 16384
/* Deflate expands at most about 1032:1, so a PNG whose raw rows exceed this many times its
 * file size cannot be whole; it is refused before the rows are allocated. */
#define MAX_INFLATE_RATIO 1100

clvae_status_t clvae_image_init(clvae_image_t *img, int w, int h, int channels, uint8_t value,
                                clvae_error_t *err)
{
    if (!img) return CLVAE_FAIL(err, CLVAE_ERR_INVALID, "image: no image given");
    memset(img, 0, sizeof *img);
    if (w <= 0 || h <= 0 || w > MAX_SIDE || h > MAX_SIDE)
        return CLVAE_FAIL(err, CLVAE_ERR_INVALID,
                          "image: size %dx%d is outside 1..%d pixels per side", w, h, MAX_SIDE);
    if (channels != 1 && channels != 3)
        return CLVAE_FAIL(err, CLVAE_ERR_INVALID,
                          "image: %d channels; only 1 (gray) and 3 (RGB) are supported",
                          channels);
    size_t n = (size_t)w * (size_t)h * (size_t)channels; /* <= 16384^2 * 3, fits */
    img->px = malloc(n);
    if (!img->px)
        return CLVAE_FAIL(err, CLVAE_ERR_NOMEM, "image: out of host memory for %dx%dx%d", w,
                          h, channels);
    memset(img->px, value, n);
    img->w = w;
    img->h = h;
    img->channels = channels;
    return CLVAE_OK;
}

void clvae_image_free(clvae_image_t *img)
{
    if (!img) return;
    free(img->px);
    memset(img, 0, sizeof *img);
}

/* ---- libpng plumbing ------------------------------------------------------------------ */

/* Where libpng's error callback leaves its message before it jumps back. */
typedef struct png_errbox {
    char msg[256];
} png_errbox_t;

static void png_on_error(png_structp png, png_const_charp msg)
{
    png_errbox_t *box = png_get_error_ptr(png);
    if (box) snprintf(box->msg, sizeof box->msg, "%s", msg ? msg : "unknown libpng error");
    png_longjmp(png, 1);
}

static void png_on_warning(png_structp png, png_const_charp msg)
{
    (void)png; /* the library never prints; warnings are not failures */
    (void)msg;
}

/* Where libpng's output goes: the atomic file, and the error of a write that failed there. */
typedef struct png_sink {
    clvae_atomic_file_t *f;
    clvae_error_t *err;
    clvae_status_t status; /* of the failed write, CLVAE_OK while none failed */
} png_sink_t;

static void png_sink_write(png_structp png, png_bytep data, size_t n)
{
    png_sink_t *k = png_get_io_ptr(png);
    if (k->status) png_error(png, "write failed");
    k->status = clvae_atomic_write(k->f, data, n, k->err);
    if (k->status) png_error(png, "write failed");
}

static void png_sink_flush(png_structp png) { (void)png; }

/* Encodes img into k's file. Returns 0, or -1 with box->msg set (and k->status when the
 * write failed). Nothing that changes after setjmp is read after a jump. */
static int png_encode(png_sink_t *k, const clvae_image_t *img, png_errbox_t *box)
{
    png_structp png =
        png_create_write_struct(PNG_LIBPNG_VER_STRING, box, png_on_error, png_on_warning);
    if (!png) {
        snprintf(box->msg, sizeof box->msg, "libpng could not start (out of memory)");
        return -1;
    }
    png_infop info = png_create_info_struct(png);
    if (!info) {
        png_destroy_write_struct(&png, NULL);
        snprintf(box->msg, sizeof box->msg, "libpng could not start (out of memory)");
        return -1;
    }
    if (setjmp(png_jmpbuf(png))) {
        png_destroy_write_struct(&png, &info);
        return -1;
    }
    png_set_write_fn(png, k, png_sink_write, png_sink_flush);
    png_set_IHDR(png, info, (png_uint_32)img->w, (png_uint_32)img->h, 8,
                 img->channels == 1 ? PNG_COLOR_TYPE_GRAY : PNG_COLOR_TYPE_RGB,
                 PNG_INTERLACE_NONE, PNG_COMPRESSION_TYPE_DEFAULT, PNG_FILTER_TYPE_DEFAULT);
    png_write_info(png, info);
    size_t stride = (size_t)img->w * (size_t)img->channels;
    for (int y = 0; y < img->h; y++) png_write_row(png, img->px + (size_t)y * stride);
    png_write_end(png, info);
    png_destroy_write_struct(&png, &info);
    return 0;
}

clvae_status_t clvae_png_write(const char *path, const clvae_image_t *img, clvae_error_t *err)
{
    if (!path || !*path) return CLVAE_FAIL(err, CLVAE_ERR_INVALID, "png: no file name given");
    if (!img || !img->px || img->w <= 0 || img->h <= 0 || img->w > MAX_SIDE ||
        img->h > MAX_SIDE || (img->channels != 1 && img->channels != 3))
        return CLVAE_FAIL(err, CLVAE_ERR_INVALID,
                          "%s: cannot write an image of %dx%d with %d channels", path,
                          img ? img->w : 0, img ? img->h : 0, img ? img->channels : 0);
    clvae_atomic_file_t f;
    clvae_status_t s = clvae_atomic_open(&f, path, err);
    if (s) return s;
    png_sink_t k = {&f, err, CLVAE_OK};
    png_errbox_t box = {{0}};
    if (png_encode(&k, img, &box) != 0) {
        clvae_atomic_abort(&f);
        return k.status ? k.status
                        : CLVAE_FAIL(err, CLVAE_ERR_IO, "cannot write %s: libpng: %s", path,
                                     box.msg);
    }
    return clvae_atomic_commit(&f, err);
}

/* State of one PNG read, reached through a pointer so that it survives a longjmp. */
typedef struct png_reader {
    FILE *f;
    const char *path;
    long long file_size;
    png_errbox_t box;
    clvae_error_t *err;
    clvae_status_t status; /* set when the file is refused for a reason of our own */
    uint8_t *px;           /* the pixels, owned here until handed over */
    png_bytep *rows;
    int w, h, channels;
} png_reader_t;

/* Decodes r->f into r->px. Returns 0, or -1 with r->status set (our refusal) or CLVAE_OK and
 * r->box.msg set (libpng's error). */
static int png_decode(png_reader_t *r)
{
    png_structp png =
        png_create_read_struct(PNG_LIBPNG_VER_STRING, &r->box, png_on_error, png_on_warning);
    if (!png) {
        r->status = CLVAE_FAIL(r->err, CLVAE_ERR_NOMEM, "%s: libpng could not start", r->path);
        return -1;
    }
    png_infop info = png_create_info_struct(png);
    if (!info) {
        png_destroy_read_struct(&png, NULL, NULL);
        r->status = CLVAE_FAIL(r->err, CLVAE_ERR_NOMEM, "%s: libpng could not start", r->path);
        return -1;
    }
    if (setjmp(png_jmpbuf(png))) {
        png_destroy_read_struct(&png, &info, NULL);
        return -1;
    }
    png_init_io(png, r->f);
    png_set_sig_bytes(png, 8);
    png_read_info(png, info);
    png_uint_32 w = 0, h = 0;
    int depth = 0, color = 0, interlace = 0;
    png_get_IHDR(png, info, &w, &h, &depth, &color, &interlace, NULL, NULL);
    const char *kind = NULL;
    if (color == PNG_COLOR_TYPE_GRAY) r->channels = 1;
    else if (color == PNG_COLOR_TYPE_RGB) r->channels = 3;
    else if (color == PNG_COLOR_TYPE_PALETTE) kind = "palette";
    else if (color == PNG_COLOR_TYPE_GRAY_ALPHA) kind = "gray+alpha";
    else if (color == PNG_COLOR_TYPE_RGB_ALPHA) kind = "RGBA";
    else kind = "unknown colour type";
    if (kind || depth != 8) {
        r->status = CLVAE_FAIL(r->err, CLVAE_ERR_INVALID,
                               "%s: a %d-bit %s PNG; only 8-bit gray and RGB are read", r->path,
                               depth, kind ? kind : (r->channels == 1 ? "gray" : "RGB"));
        png_destroy_read_struct(&png, &info, NULL);
        return -1;
    }
    if (w == 0 || h == 0 || w > MAX_SIDE || h > MAX_SIDE) {
        r->status = CLVAE_FAIL(r->err, CLVAE_ERR_INVALID,
                               "%s: PNG of %lux%lu pixels; at most %d per side is read", r->path,
                               (unsigned long)w, (unsigned long)h, MAX_SIDE);
        png_destroy_read_struct(&png, &info, NULL);
        return -1;
    }
    size_t stride = (size_t)w * (size_t)r->channels;
    double raw = (double)(stride + 1) * (double)h;
    if (raw > (double)MAX_INFLATE_RATIO * (double)r->file_size) {
        r->status = CLVAE_FAIL(r->err, CLVAE_ERR_CORRUPT,
                               "%s: declares %lux%lu pixels but holds only %lld bytes", r->path,
                               (unsigned long)w, (unsigned long)h, r->file_size);
        png_destroy_read_struct(&png, &info, NULL);
        return -1;
    }
    r->w = (int)w;
    r->h = (int)h;
    if (interlace != PNG_INTERLACE_NONE) png_set_interlace_handling(png);
    png_read_update_info(png, info);
    if (png_get_rowbytes(png, info) != stride) {
        r->status = CLVAE_FAIL(r->err, CLVAE_ERR_INVALID, "%s: unexpected PNG row size %lu",
                               r->path, (unsigned long)png_get_rowbytes(png, info));
        png_destroy_read_struct(&png, &info, NULL);
        return -1;
    }
    r->px = malloc(stride * h);
    r->rows = malloc(h * sizeof *r->rows);
    if (!r->px || !r->rows) {
        r->status = CLVAE_FAIL(r->err, CLVAE_ERR_NOMEM, "%s: out of host memory for %lux%lu",
                               r->path, (unsigned long)w, (unsigned long)h);
        png_destroy_read_struct(&png, &info, NULL);
        return -1;
    }
    for (png_uint_32 y = 0; y < h; y++) r->rows[y] = r->px + (size_t)y * stride;
    png_read_image(png, r->rows);
    png_read_end(png, NULL);
    png_destroy_read_struct(&png, &info, NULL);
    return 0;
}

clvae_status_t clvae_png_read(const char *path, clvae_image_t *out, clvae_error_t *err)
{
    if (out) memset(out, 0, sizeof *out);
    if (!path || !out) return CLVAE_FAIL(err, CLVAE_ERR_INVALID, "png: no file or image given");
    FILE *f = fopen(path, "rb");
    if (!f)
        return CLVAE_FAIL(err, errno == ENOENT ? CLVAE_ERR_NOT_FOUND : CLVAE_ERR_IO,
                          "cannot open %s: %s", path, strerror(errno));
    struct stat st;
    if (fstat(fileno(f), &st) != 0 || !S_ISREG(st.st_mode)) {
        fclose(f);
        return CLVAE_FAIL(err, CLVAE_ERR_IO, "cannot read %s: not a regular file", path);
    }
    static const uint8_t sig[8] = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n'};
    uint8_t head[8];
    size_t got = fread(head, 1, sizeof head, f);
    if (ferror(f)) {
        fclose(f);
        return CLVAE_FAIL(err, CLVAE_ERR_IO, "cannot read %s: %s", path, strerror(errno));
    }
    if (got == 0 || memcmp(head, sig, got) != 0) {
        fclose(f);
        return CLVAE_FAIL(err, CLVAE_ERR_INVALID, "%s: not a PNG file (%s)", path,
                          got == 0 ? "empty" : "no PNG signature");
    }
    if (got < sizeof head) {
        fclose(f);
        return CLVAE_FAIL(err, CLVAE_ERR_CORRUPT, "%s: truncated PNG (%zu bytes)", path, got);
    }
    png_reader_t r;
    memset(&r, 0, sizeof r);
    r.f = f;
    r.path = path;
    r.file_size = (long long)st.st_size;
    r.err = err;
    clvae_status_t s = CLVAE_OK;
    if (png_decode(&r) != 0) {
        s = r.status != CLVAE_OK
                ? r.status
                : CLVAE_FAIL(err, CLVAE_ERR_CORRUPT, "%s: corrupt or truncated PNG (libpng: %s)",
                             path, r.box.msg);
        free(r.px);
        r.px = NULL;
    }
    free(r.rows);
    fclose(f);
    if (s != CLVAE_OK) return s;
    out->w = r.w;
    out->h = r.h;
    out->channels = r.channels;
    out->px = r.px;
    return CLVAE_OK;
}

/* ---- grids ---------------------------------------------------------------------------- */

static uint8_t to_byte(float v)
{
    if (!(v > 0.0f)) return 0; /* NaN, negatives and zero */
    if (v >= 1.0f) return 255;
    return (uint8_t)(v * 255.0f + 0.5f);
}

clvae_status_t clvae_image_grid(clvae_image_t *out, const float *imgs, size_t n, int c, int ih,
                                int iw, int cols, int pad, int zoom, uint8_t background,
                                clvae_error_t *err)
{
    if (!out) return CLVAE_FAIL(err, CLVAE_ERR_INVALID, "grid: no output image given");
    memset(out, 0, sizeof *out);
    if (n == 0 || !imgs)
        return CLVAE_FAIL(err, CLVAE_ERR_INVALID, "grid: no images given (n = %zu)", n);
    if (c != 1 && c != 3)
        return CLVAE_FAIL(err, CLVAE_ERR_INVALID, "grid: %d channels; only 1 and 3", c);
    if (ih <= 0 || iw <= 0 || ih > MAX_SIDE || iw > MAX_SIDE)
        return CLVAE_FAIL(err, CLVAE_ERR_INVALID, "grid: tile size %dx%d is outside 1..%d", iw,
                          ih, MAX_SIDE);
    if (cols <= 0 || pad < 0 || pad > MAX_SIDE || zoom < 1 || zoom > MAX_SIDE)
        return CLVAE_FAIL(err, CLVAE_ERR_INVALID,
                          "grid: cols %d, pad %d, zoom %d (want cols >= 1, pad >= 0, zoom >= 1)",
                          cols, pad, zoom);
    /* Fewer images than columns: the grid is only as wide as the images need. */
    size_t ncols = (size_t)cols < n ? (size_t)cols : n;
    size_t nrows = n / ncols + (n % ncols != 0);
    int64_t tw = (int64_t)iw * zoom, th = (int64_t)ih * zoom; /* each <= 2^28 */
    int64_t gw = INT64_MAX, gh = INT64_MAX;
    if (ncols <= (size_t)MAX_SIDE) gw = (int64_t)ncols * (tw + pad) + pad;
    if (nrows <= (size_t)MAX_SIDE) gh = (int64_t)nrows * (th + pad) + pad;
    if (gw > MAX_SIDE || gh > MAX_SIDE)
        return CLVAE_FAIL(err, CLVAE_ERR_INVALID,
                          "grid: %zu tiles of %dx%d (zoom %d, pad %d) in %zu columns exceed %d "
                          "pixels per side",
                          n, iw, ih, zoom, pad, ncols, MAX_SIDE);
    clvae_status_t s = clvae_image_init(out, (int)gw, (int)gh, c, background, err);
    if (s != CLVAE_OK) return s;
    size_t plane = (size_t)ih * (size_t)iw; /* <= 2^28 */
    size_t per = plane * (size_t)c;
    size_t ow = (size_t)gw;
    for (size_t k = 0; k < n; k++) {
        const float *im = imgs + k * per; /* n * per fits: the grid holds every pixel */
        size_t ox = (size_t)pad + (k % ncols) * (size_t)(tw + pad);
        size_t oy = (size_t)pad + (k / ncols) * (size_t)(th + pad);
        for (int y = 0; y < th; y++) {
            uint8_t *row = out->px + ((oy + (size_t)y) * ow + ox) * (size_t)c;
            const float *src = im + (size_t)(y / zoom) * (size_t)iw;
            for (int x = 0; x < tw; x++)
                for (int ch = 0; ch < c; ch++)
                    row[(size_t)x * (size_t)c + (size_t)ch] =
                        to_byte(src[(size_t)ch * plane + (size_t)(x / zoom)]);
        }
    }
    return CLVAE_OK;
}

int clvae_image_format(const char *path, clvae_error_t *err)
{
    const char *dot = path ? strrchr(path, '.') : NULL;
    const char *slash = path ? strrchr(path, '/') : NULL;
    if (dot && (!slash || dot > slash)) {
        if (strcmp(dot, ".png") == 0 || strcmp(dot, ".PNG") == 0) return 0;
        if (strcmp(dot, ".npy") == 0) return 1;
    }
    CLVAE_FAIL(err, CLVAE_ERR_INVALID, "%s: the extension chooses the format: .png (an image) or "
               ".npy (its pixels as a uint8 array); %s is neither", path ? path : "",
               dot && (!slash || dot > slash) ? dot : "no extension");
    return -1;
}

clvae_status_t clvae_image_write(const char *path, const clvae_image_t *img, clvae_error_t *err)
{
    int fmt = clvae_image_format(path, err);
    if (fmt < 0) return CLVAE_ERR_INVALID;
    if (fmt == 0) return clvae_png_write(path, img, err);
    if (!img || !img->px || img->w <= 0 || img->h <= 0 || (img->channels != 1 && img->channels != 3))
        return CLVAE_FAIL(err, CLVAE_ERR_INVALID, "%s: no image to write", path);
    size_t shape[3] = {(size_t)img->h, (size_t)img->w, (size_t)img->channels};
    return clvae_npy_write_u8(path, shape, img->channels == 1 ? 2 : 3, img->px, err);
}
