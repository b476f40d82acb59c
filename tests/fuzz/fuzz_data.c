/* libFuzzer harness: the IDX loader (images alone or with labels, raw or gzip) and the digits CSV loader on files made from the input. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <zlib.h>

#include "clvae/data/data.h"
#include "fuzz.h"

/* Input: byte 0 says what to do with the rest:
 *   bit 0: load it as a digits CSV (else as IDX);
 *   bit 1: gzip what is written (else write the bytes as they are; they may be gzip already);
 *   bit 2: IDX only: bytes 1-2 (little-endian) split the rest into an images file and a
 *          labels file, loaded as a pair (else the rest is one images file). */
#define MODE_DIGITS 1
#define MODE_GZIP 2
#define MODE_LABELS 4

static char dir[256];                 /* a folder of this process for the files */
static char img_path[300], lbl_path[300];

static void cleanup(void)
{
    unlink(img_path);
    unlink(lbl_path);
    rmdir(dir);
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    fuzz_scratch(dir, sizeof dir, "data");
    snprintf(img_path, sizeof img_path, "%s/images", dir);
    snprintf(lbl_path, sizeof lbl_path, "%s/labels", dir);
    atexit(cleanup);
    return 0;
}

/* Writes n bytes to path, gzip-compressed when gz. */
static void put(const char *path, const uint8_t *p, size_t n, int gz)
{
    if (gz) {
        gzFile g = gzopen(path, "wb");
        if (!g || (n && gzwrite(g, p, (unsigned)n) != (int)n) || gzclose(g) != Z_OK) abort();
        return;
    }
    FILE *f = fopen(path, "wb");
    if (!f || (n && fwrite(p, 1, n, f) != n) || fclose(f) != 0) abort();
}

/* What a loaded dataset promises: every byte readable, labels below classes. */
static void check_dataset(const clvae_dataset_t *d, int digits)
{
    ASSERT(d->n >= 1 && d->c == 1 && d->h >= 1 && d->w >= 1 && d->pixels);
    if (digits) ASSERT(d->h == 8 && d->w == 8 && d->labels && d->classes == 10);
    size_t dim = clvae_dataset_dim(d);
    volatile unsigned sum = 0; /* reads every byte, for ASan */
    for (size_t i = 0; i < d->n * dim; i++) sum += d->pixels[i];
    (void)sum;
    if (digits)
        for (size_t i = 0; i < d->n * dim; i++) ASSERT(d->pixels[i] <= 16);
    if (d->labels) {
        for (size_t i = 0; i < d->n; i++) ASSERT(d->labels[i] < d->classes);
    } else {
        ASSERT(d->classes == 0);
    }
}

static void check_error(clvae_status_t st, const clvae_error_t *err, const clvae_dataset_t *d)
{
    ASSERT(err->status == st && err->msg[0]);
    if (fuzz_verbose) fprintf(stderr, "fuzz_data: %s\n", err->msg);
    ASSERT(d->pixels == NULL && d->labels == NULL && d->n == 0);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1) return 0;
    int mode = data[0];
    const uint8_t *rest = data + 1;
    size_t n = size - 1;
    clvae_dataset_t d;
    clvae_error_t err = {0};
    clvae_status_t st;
    int gz = (mode & MODE_GZIP) != 0;
    if (mode & MODE_DIGITS) {
        put(img_path, rest, n, gz);
        st = clvae_digits_load(img_path, &d, &err);
        if (st) check_error(st, &err, &d);
        else check_dataset(&d, 1);
    } else if (mode & MODE_LABELS) {
        if (n < 2) return 0;
        size_t split = (size_t)(rest[0] | rest[1] << 8);
        rest += 2;
        n -= 2;
        if (split > n) split = n;
        put(img_path, rest, split, gz);
        put(lbl_path, rest + split, n - split, gz);
        st = clvae_idx_load(img_path, lbl_path, &d, &err);
        if (st) check_error(st, &err, &d);
        else {
            ASSERT(d.labels);
            check_dataset(&d, 0);
        }
    } else {
        put(img_path, rest, n, gz);
        st = clvae_idx_load(img_path, NULL, &d, &err);
        if (st) check_error(st, &err, &d);
        else {
            ASSERT(!d.labels);
            check_dataset(&d, 0);
        }
    }
    if (!st) {
        if (fuzz_verbose)
            fprintf(stderr, "fuzz_data: loaded %zu x %zux%zu, %d classes\n", d.n, d.h, d.w,
                    d.classes);
        size_t keep = d.n > 1 ? d.n / 2 : 1;
        ASSERT(clvae_dataset_limit(&d, keep, &err) == CLVAE_OK && d.n == keep);
        check_dataset(&d, (mode & MODE_DIGITS) != 0);
    }
    clvae_error_clear(&err);
    clvae_dataset_free(&d);
    return 0;
}
