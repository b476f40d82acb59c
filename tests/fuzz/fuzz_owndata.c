/* libFuzzer harness: datasets of one's own, npy:IMAGES[,LABELS] and folder:PATH of PNG files (flat or in label sub-folders), on files made from the input. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "clvae/data/data.h"
#include "clvae/io/npy.h"
#include "fuzz.h"

/* Input: byte 0 says what to do with the rest; bytes 1-2 (little-endian) split the rest into
 * two files A and B:
 *   bit 0 clear: A is IMAGES.npy; bit 1: B is LABELS.npy (else B is ignored);
 *   bit 0 set: A and B are PNG files of a folder; bit 1: each in a label sub-folder of its
 *   own (PATH/a/0.png, PATH/b/1.png), else side by side (PATH/0.png, PATH/1.png). */
#define MODE_FOLDER 1
#define MODE_SECOND 2

static char dir[256];
static char fa[400], fb[400], sa[300], sb[300], la[400], lb[400];

static void cleanup(void)
{
    unlink(fa);
    unlink(fb);
    unlink(la);
    unlink(lb);
    rmdir(sa);
    rmdir(sb);
    rmdir(dir);
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    fuzz_scratch(dir, sizeof dir, "owndata");
    snprintf(fa, sizeof fa, "%s/0.png", dir);
    snprintf(fb, sizeof fb, "%s/1.png", dir);
    snprintf(sa, sizeof sa, "%s/a", dir);
    snprintf(sb, sizeof sb, "%s/b", dir);
    snprintf(la, sizeof la, "%s/a/0.png", dir);
    snprintf(lb, sizeof lb, "%s/b/1.png", dir);
    atexit(cleanup);
    return 0;
}

static void put(const char *path, const uint8_t *p, size_t n)
{
    FILE *f = fopen(path, "wb");
    if (!f || (n && fwrite(p, 1, n, f) != n) || fclose(f) != 0) abort();
}

static void check_dataset(const clvae_dataset_t *d)
{
    ASSERT(d->n >= 1 && (d->c == 1 || d->c == 3) && d->h >= 1 && d->w >= 1 && d->pixels);
    size_t dim = clvae_dataset_dim(d);
    volatile unsigned sum = 0; /* reads every byte, for ASan */
    for (size_t i = 0; i < d->n * dim; i++) sum += d->pixels[i];
    (void)sum;
    if (d->labels) {
        ASSERT(d->classes >= 1 && d->classes <= 256);
        for (size_t i = 0; i < d->n; i++) ASSERT(d->labels[i] < d->classes);
    } else {
        ASSERT(d->classes == 0);
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 3) return 0;
    int mode = data[0];
    size_t split = (size_t)(data[1] | data[2] << 8);
    const uint8_t *rest = data + 3;
    size_t n = size - 3;
    if (split > n) split = n;
    clvae_dataset_t d;
    clvae_error_t err = {0};
    clvae_status_t st;
    if (!(mode & MODE_FOLDER)) {
        /* the parser alone on the bytes, then the loader on files */
        clvae_npy_t a;
        if (clvae_npy_parse(rest, split, "A", &a, &err) == CLVAE_OK) {
            ASSERT(a.data >= rest && a.data + a.count * a.itemsize <= rest + split);
            volatile unsigned sum = 0;
            for (size_t i = 0; i < a.count * a.itemsize; i++) sum += a.data[i];
            (void)sum;
        }
        clvae_error_clear(&err);
        put(fa, rest, split);
        put(fb, rest + split, n - split);
        st = clvae_npy_load(fa, (mode & MODE_SECOND) ? fb : NULL, &d, &err);
        unlink(fa);
        unlink(fb);
    } else {
        if (mode & MODE_SECOND) {
            mkdir(sa, 0755);
            mkdir(sb, 0755);
            put(la, rest, split);
            put(lb, rest + split, n - split);
        } else {
            put(fa, rest, split);
            put(fb, rest + split, n - split);
        }
        st = clvae_folder_load(dir, &d, &err);
        unlink(fa);
        unlink(fb);
        unlink(la);
        unlink(lb);
        rmdir(sa);
        rmdir(sb);
    }
    if (st) {
        ASSERT(err.status == st && err.msg[0]);
        if (fuzz_verbose) fprintf(stderr, "fuzz_owndata: %s\n", err.msg);
        ASSERT(d.pixels == NULL && d.labels == NULL && d.n == 0);
    } else {
        if (fuzz_verbose)
            fprintf(stderr, "fuzz_owndata: loaded %zu x %zux%zux%zu, %d classes\n", d.n, d.c, d.h,
                    d.w, d.classes);
        check_dataset(&d);
    }
    clvae_error_clear(&err);
    clvae_dataset_free(&d);
    return 0;
}
