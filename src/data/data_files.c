/* Datasets of one's own: a folder of PNG files (labels from sub-folder names) and NumPy .npy
 * arrays; hostile files get a clear error, never a crash. */
#include "clvae/data/data.h"

#include <dirent.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "clvae/io/fileio.h"
#include "clvae/io/image.h"
#include "clvae/io/npy.h"

/* Largest dataset (pixel bytes), like the IDX loader's limit. */
#define MAX_BYTES ((size_t)1 << 31)
/* Largest .npy file read. */
#define MAX_NPY ((size_t)4 << 30)

/* ---- npy: --------------------------------------------------------------------------------- */

/* The images array: uint8 (0..255) or float32 in [0, 1] (kept as bytes: round(x * 255)),
 * shaped [N, H, W] or [N, C, H, W] with C 1 or 3. */
static clvae_status_t npy_images(const clvae_npy_t *a, const char *path, clvae_dataset_t *out,
                                 clvae_error_t *err)
{
    if (a->dtype != CLVAE_NPY_U8 && a->dtype != CLVAE_NPY_F32)
        return CLVAE_FAIL(err, CLVAE_ERR_INVALID, "%s: images must be uint8 or float32", path);
    if (a->ndim != 3 && a->ndim != 4)
        return CLVAE_FAIL(err, CLVAE_ERR_INVALID, "%s: images must be [N, H, W] or [N, C, H, W] "
                          "(%d dimensions)", path, a->ndim);
    size_t n = a->shape[0], c = a->ndim == 4 ? a->shape[1] : 1, h = a->shape[a->ndim - 2],
           w = a->shape[a->ndim - 1];
    if (n == 0 || h == 0 || w == 0 || h > 16384 || w > 16384)
        return CLVAE_FAIL(err, CLVAE_ERR_INVALID, "%s: %zu images of %zux%zu: want at least one "
                          "image, sides 1 to 16384", path, n, h, w);
    if (c != 1 && c != 3)
        return CLVAE_FAIL(err, CLVAE_ERR_INVALID, "%s: %zu channels; want 1 (grey) or 3 (RGB)",
                          path, c);
    if (a->count > MAX_BYTES)
        return CLVAE_FAIL(err, CLVAE_ERR_INVALID, "%s: %zu pixel values exceed the limit of "
                          "2^31", path, a->count);
    uint8_t *px = malloc(a->count ? a->count : 1);
    if (!px) return CLVAE_FAIL(err, CLVAE_ERR_NOMEM, "out of host memory for %s", path);
    if (a->dtype == CLVAE_NPY_U8) {
        memcpy(px, a->data, a->count);
    } else {
        for (size_t i = 0; i < a->count; i++) {
            float v;
            memcpy(&v, a->data + 4 * i, 4);
            if (!(v >= 0.0f && v <= 1.0f)) {
                free(px);
                return CLVAE_FAIL(err, CLVAE_ERR_INVALID, "%s: value %g at index %zu: float32 "
                                  "images must lie in [0, 1]", path, (double)v, i);
            }
            px[i] = (uint8_t)lrintf(v * 255.0f);
        }
    }
    out->n = n;
    out->c = c;
    out->h = h;
    out->w = w;
    out->pixels = px;
    out->scale = 1.0f / 255.0f;
    return CLVAE_OK;
}

/* The labels array: [N] integers 0..255 (uint8, int32 or int64). */
static clvae_status_t npy_labels(const clvae_npy_t *a, const char *path, clvae_dataset_t *out,
                                 clvae_error_t *err)
{
    if (a->ndim != 1 || a->shape[0] != out->n)
        return CLVAE_FAIL(err, CLVAE_ERR_INVALID, "%s: labels must be [N] with N = %zu, the "
                          "image count", path, out->n);
    if (a->dtype == CLVAE_NPY_F32)
        return CLVAE_FAIL(err, CLVAE_ERR_INVALID, "%s: labels must be integers (uint8, int32 or "
                          "int64), not float32", path);
    uint8_t *lb = malloc(out->n);
    if (!lb) return CLVAE_FAIL(err, CLVAE_ERR_NOMEM, "out of host memory for %s", path);
    int classes = 0;
    for (size_t i = 0; i < out->n; i++) {
        long long v = 0;
        if (a->itemsize == 1) {
            v = a->data[i];
        } else {
            unsigned long long u = 0;
            for (size_t k = 0; k < a->itemsize; k++)
                u |= (unsigned long long)a->data[i * a->itemsize + k] << (8 * k);
            if (a->itemsize == 4) v = (long long)(int32_t)(uint32_t)u;
            else v = (long long)u;
        }
        if (v < 0 || v > 255) {
            free(lb);
            return CLVAE_FAIL(err, CLVAE_ERR_INVALID, "%s: label %lld at index %zu: labels must "
                              "be 0 to 255", path, v, i);
        }
        lb[i] = (uint8_t)v;
        if ((int)v + 1 > classes) classes = (int)v + 1;
    }
    out->labels = lb;
    out->classes = classes;
    return CLVAE_OK;
}

/* Reads and parses one .npy file (the buffer is kept in *buf). */
static clvae_status_t npy_read(const char *path, char **buf, clvae_npy_t *a, clvae_error_t *err)
{
    size_t len = 0;
    clvae_status_t s = clvae_file_read(path, MAX_NPY, ".npy file of images or labels", buf,
                                       &len, err);
    if (!s) s = clvae_npy_parse(*buf, len, path, a, err);
    return s;
}

clvae_status_t clvae_npy_load(const char *images_path, const char *labels_path,
                              clvae_dataset_t *out, clvae_error_t *err)
{
    memset(out, 0, sizeof *out);
    char *buf = NULL;
    clvae_npy_t a;
    clvae_status_t s = npy_read(images_path, &buf, &a, err);
    if (!s) s = npy_images(&a, images_path, out, err);
    free(buf);
    buf = NULL;
    if (!s && labels_path) {
        s = npy_read(labels_path, &buf, &a, err);
        if (!s) s = npy_labels(&a, labels_path, out, err);
        free(buf);
    }
    if (s) {
        clvae_dataset_free(out);
        return s;
    }
    snprintf(out->name, sizeof out->name, "npy:%.90s", images_path);
    return CLVAE_OK;
}

/* ---- folder: ------------------------------------------------------------------------------ */

/* The names in a folder (sorted, hidden ones left out), split into sub-folders and .png files;
 * other files are ignored. */
typedef struct listing {
    char **dirs, **pngs;
    size_t ndirs, npngs;
} listing_t;

static void listing_free(listing_t *l)
{
    for (size_t i = 0; i < l->ndirs; i++) free(l->dirs[i]);
    for (size_t i = 0; i < l->npngs; i++) free(l->pngs[i]);
    free(l->dirs);
    free(l->pngs);
    memset(l, 0, sizeof *l);
}

static int by_name(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static clvae_status_t push(char ***v, size_t *n, const char *name, clvae_error_t *err)
{
    if (*n >= ((size_t)1 << 24))
        return CLVAE_FAIL(err, CLVAE_ERR_INVALID, "more than 2^24 entries in one folder");
    if ((*n & (*n - 1)) == 0) { /* grow at powers of two */
        char **g = realloc(*v, (*n ? *n * 2 : 1) * sizeof *g);
        if (!g) return CLVAE_FAIL(err, CLVAE_ERR_NOMEM, "out of host memory");
        *v = g;
    }
    if (!((*v)[*n] = strdup(name))) return CLVAE_FAIL(err, CLVAE_ERR_NOMEM, "out of host memory");
    (*n)++;
    return CLVAE_OK;
}

static clvae_status_t list_folder(const char *path, listing_t *l, clvae_error_t *err)
{
    memset(l, 0, sizeof *l);
    DIR *d = opendir(path);
    if (!d)
        return CLVAE_FAIL(err, errno == ENOENT ? CLVAE_ERR_NOT_FOUND : CLVAE_ERR_INVALID,
                          "cannot open the folder %s: %s", path, strerror(errno));
    struct dirent *e;
    clvae_status_t s = CLVAE_OK;
    while (!s && (e = readdir(d)) != NULL) {
        if (e->d_name[0] == '.') continue;
        char full[4200];
        snprintf(full, sizeof full, "%s/%s", path, e->d_name);
        struct stat sb;
        if (stat(full, &sb) != 0) continue;
        size_t n = strlen(e->d_name);
        if (S_ISDIR(sb.st_mode)) s = push(&l->dirs, &l->ndirs, e->d_name, err);
        else if (n > 4 && (strcmp(e->d_name + n - 4, ".png") == 0 ||
                           strcmp(e->d_name + n - 4, ".PNG") == 0))
            s = push(&l->pngs, &l->npngs, e->d_name, err);
    }
    closedir(d);
    if (s) {
        listing_free(l);
        return s;
    }
    if (l->ndirs) qsort(l->dirs, l->ndirs, sizeof *l->dirs, by_name);
    if (l->npngs) qsort(l->pngs, l->npngs, sizeof *l->pngs, by_name);
    return CLVAE_OK;
}

/* Appends one PNG to the dataset being built; the first fixes the size and channels. */
static clvae_status_t add_png(const char *file, clvae_dataset_t *out, size_t *cap,
                              clvae_error_t *err)
{
    clvae_image_t im = {0};
    clvae_status_t s = clvae_png_read(file, &im, err);
    if (s) return s == CLVAE_ERR_CORRUPT ? CLVAE_FAIL(err, CLVAE_ERR_INVALID, "%s", err->msg) : s;
    size_t c = (size_t)im.channels, h = (size_t)im.h, w = (size_t)im.w;
    if (out->n == 0) {
        out->c = c;
        out->h = h;
        out->w = w;
    } else if (c != out->c || h != out->h || w != out->w) {
        clvae_image_free(&im);
        return CLVAE_FAIL(err, CLVAE_ERR_INVALID, "%s is %zux%zu with %zu channel%s, the images "
                          "before it %zux%zu with %zu: every image must have the same size and "
                          "channels", file, w, h, c, c == 1 ? "" : "s", out->w, out->h, out->c);
    }
    size_t dim = c * h * w;
    if ((out->n + 1) * dim > MAX_BYTES) {
        clvae_image_free(&im);
        return CLVAE_FAIL(err, CLVAE_ERR_INVALID, "%s: the images exceed 2^31 bytes", file);
    }
    if (out->n == *cap) {
        size_t nc = *cap ? *cap * 2 : 64;
        uint8_t *g = realloc(out->pixels, nc * dim);
        if (!g) {
            clvae_image_free(&im);
            return CLVAE_FAIL(err, CLVAE_ERR_NOMEM, "out of host memory");
        }
        out->pixels = g;
        *cap = nc;
    }
    /* PNG rows are [h, w, c]; the dataset is [c, h, w] */
    uint8_t *dst = out->pixels + out->n * dim;
    for (size_t y = 0; y < h; y++)
        for (size_t x = 0; x < w; x++)
            for (size_t k = 0; k < c; k++) dst[k * h * w + y * w + x] = im.px[(y * w + x) * c + k];
    clvae_image_free(&im);
    out->n++;
    return CLVAE_OK;
}

clvae_status_t clvae_folder_load(const char *path, clvae_dataset_t *out, clvae_error_t *err)
{
    memset(out, 0, sizeof *out);
    listing_t top;
    clvae_status_t s = list_folder(path, &top, err);
    if (s) return s;
    size_t cap = 0, nl = 0;
    uint8_t *labels = NULL;
    char file[8400];
    if (top.ndirs && top.npngs) {
        s = CLVAE_FAIL(err, CLVAE_ERR_INVALID, "%s holds both PNG files (%s) and sub-folders "
                       "(%s): put every image in a sub-folder named by its label, or none",
                       path, top.pngs[0], top.dirs[0]);
    } else if (top.ndirs > 256) {
        s = CLVAE_FAIL(err, CLVAE_ERR_INVALID, "%s has %zu sub-folders: at most 256 labels",
                       path, top.ndirs);
    } else if (top.ndirs) {
        /* PATH/<label>/NAME.png: labels are the sub-folders' ranks in name order */
        size_t lcap = 0;
        for (size_t k = 0; !s && k < top.ndirs; k++) {
            char sub[4200];
            snprintf(sub, sizeof sub, "%s/%s", path, top.dirs[k]);
            listing_t l;
            if ((s = list_folder(sub, &l, err))) break;
            if (l.npngs == 0)
                s = CLVAE_FAIL(err, CLVAE_ERR_INVALID, "%s holds no .png files (every label "
                               "sub-folder needs at least one image)", sub);
            for (size_t i = 0; !s && i < l.npngs; i++) {
                snprintf(file, sizeof file, "%s/%s", sub, l.pngs[i]);
                if (!(s = add_png(file, out, &cap, err))) {
                    if (nl == lcap) {
                        lcap = lcap ? lcap * 2 : 64;
                        uint8_t *g = realloc(labels, lcap);
                        if (!g) s = CLVAE_FAIL(err, CLVAE_ERR_NOMEM, "out of host memory");
                        else labels = g;
                    }
                    if (!s) labels[nl++] = (uint8_t)k;
                }
            }
            listing_free(&l);
        }
        out->classes = (int)top.ndirs;
    } else if (top.npngs == 0) {
        s = CLVAE_FAIL(err, CLVAE_ERR_INVALID, "%s holds no .png files and no label sub-folders",
                       path);
    } else {
        for (size_t i = 0; !s && i < top.npngs; i++) {
            snprintf(file, sizeof file, "%s/%s", path, top.pngs[i]);
            s = add_png(file, out, &cap, err);
        }
    }
    listing_free(&top);
    if (s) {
        free(labels);
        clvae_dataset_free(out);
        return s;
    }
    out->labels = labels;
    if (!labels) out->classes = 0;
    out->scale = 1.0f / 255.0f;
    snprintf(out->name, sizeof out->name, "folder:%.88s", path);
    return CLVAE_OK;
}

/* ---- IDX writer ---------------------------------------------------------------------------- */

void clvae_floats_to_u8(const float *x, size_t n, uint8_t *out)
{
    for (size_t i = 0; i < n; i++) {
        float v = x[i] < 0.0f ? 0.0f : x[i] > 1.0f ? 1.0f : x[i];
        out[i] = (uint8_t)lrintf(255.0f * v);
    }
}

clvae_status_t clvae_idx_write_u8(const char *path, const size_t *dims, int ndim,
                                  const uint8_t *data, clvae_error_t *err)
{
    if (ndim < 1 || ndim > 4)
        return CLVAE_FAIL(err, CLVAE_ERR_INVALID, "%s: an IDX file has 1 to 4 dimensions, not %d",
                          path, ndim);
    size_t n = 1;
    for (int k = 0; k < ndim; k++) {
        if (dims[k] == 0 || dims[k] > 0xffffffffu || n > ((size_t)1 << 40) / dims[k])
            return CLVAE_FAIL(err, CLVAE_ERR_INVALID, "%s: dimension %d is %zu", path, k, dims[k]);
        n *= dims[k];
    }
    size_t head = 4 + 4 * (size_t)ndim;
    uint8_t *buf = malloc(head + n);
    if (!buf) return CLVAE_FAIL(err, CLVAE_ERR_NOMEM, "out of host memory");
    buf[0] = buf[1] = 0;
    buf[2] = 0x08; /* unsigned bytes */
    buf[3] = (uint8_t)ndim;
    for (int k = 0; k < ndim; k++)
        for (int b = 0; b < 4; b++) buf[4 + 4 * k + b] = (uint8_t)(dims[k] >> (8 * (3 - b)));
    memcpy(buf + head, data, n);
    clvae_status_t s = clvae_write_file_atomic(path, buf, head + n, err);
    free(buf);
    return s;
}
