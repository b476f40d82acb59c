/* Datasets: IDX and digits loaders on good and hostile files, specs, real data, shuffle, gather. */
#define TEST_FILE "test_data_load"
#include "ref/ref.h"
#include "test.h"
#include "testutil.h"

#include <stdint.h>
#include <sys/stat.h>
#include <unistd.h>

#include <zlib.h>

#include "clvae/data/data.h"
#include "clvae/ops/rng.h"
#include "clvae/io/sha256.h"

static char tmpdir[256];
static clvae_ctx_t *ctx;
static int verbose; /* TEST_VERBOSE=1 prints every rejection message */

/* ---- helpers ------------------------------------------------------------------------------ */

/* tmpdir/name into buf. */
static const char *tpath(char *buf, size_t size, const char *name)
{
    snprintf(buf, size, "%s/%s", tmpdir, name);
    return buf;
}

/* Writes n bytes to path; 1 on success. */
static int write_bytes(const char *path, const void *data, size_t n)
{
    FILE *f = fopen(path, "wb");
    if (!f) return 0;
    int ok = n == 0 || fwrite(data, 1, n, f) == n;
    return fclose(f) == 0 && ok;
}

/* A growable byte string (cap: bytes allocated; 0 for a block that does not grow). */
typedef struct bytes {
    uint8_t *p;
    size_t n, cap;
} bytes_t;

static void bytes_add(bytes_t *b, const void *data, size_t n)
{
    if (b->n + n + 1 > b->cap) {
        size_t cap = 2 * (b->n + n) + 64;
        uint8_t *q = realloc(b->p, cap);
        if (!q) abort();
        b->p = q;
        b->cap = cap;
    }
    if (n) memcpy(b->p + b->n, data, n);
    b->n += n;
}

static void bytes_be32(bytes_t *b, uint32_t v)
{
    uint8_t x[4] = {(uint8_t)(v >> 24), (uint8_t)(v >> 16), (uint8_t)(v >> 8), (uint8_t)v};
    bytes_add(b, x, 4);
}

/* The deterministic test pixel of flat index i. */
static uint8_t pix(size_t i) { return (uint8_t)(i * 37 + 11); }

/* An IDX image file's bytes: n x h x w pixels pix(i), plus `extra` bytes of payload. */
static bytes_t idx_images(uint32_t n, uint32_t h, uint32_t w, size_t held)
{
    bytes_t b = {0};
    bytes_be32(&b, 0x00000803);
    bytes_be32(&b, n);
    bytes_be32(&b, h);
    bytes_be32(&b, w);
    for (size_t i = 0; i < held; i++) {
        uint8_t v = pix(i);
        bytes_add(&b, &v, 1);
    }
    return b;
}

/* An IDX label file's bytes: declares n labels, holds `held` of them, label i = i % 4. */
static bytes_t idx_labels(uint32_t n, size_t held)
{
    bytes_t b = {0};
    bytes_be32(&b, 0x00000801);
    bytes_be32(&b, n);
    for (size_t i = 0; i < held; i++) {
        uint8_t v = (uint8_t)(i % 4);
        bytes_add(&b, &v, 1);
    }
    return b;
}

/* One gzip member holding data[0..n), compressed at `level` (0: stored blocks). */
static bytes_t gzip_level(const void *data, size_t n, int level)
{
    bytes_t out = {0};
    z_stream z;
    memset(&z, 0, sizeof z);
    if (deflateInit2(&z, level, Z_DEFLATED, 16 + MAX_WBITS, 8, Z_DEFAULT_STRATEGY) != Z_OK)
        abort();
    size_t cap = deflateBound(&z, (uLong)n) + 64;
    out.p = malloc(cap);
    if (!out.p) abort();
    z.next_in = (Bytef *)data;
    z.avail_in = (uInt)n;
    z.next_out = out.p;
    z.avail_out = (uInt)cap;
    if (deflate(&z, Z_FINISH) != Z_STREAM_END) abort();
    out.n = cap - z.avail_out;
    out.cap = cap;
    deflateEnd(&z);
    return out;
}

/* One gzip member holding data[0..n), default level. */
static bytes_t gzip_of(const void *data, size_t n) { return gzip_level(data, n, 6); }

/* Writes b (gzipped when gz) to tmpdir/name, frees b, and returns the path in buf. */
static const char *put(char *buf, size_t size, const char *name, bytes_t b, int gz)
{
    tpath(buf, size, name);
    int ok;
    if (gz) {
        bytes_t z = gzip_of(b.p, b.n);
        ok = write_bytes(buf, z.p, z.n);
        free(z.p);
    } else {
        ok = write_bytes(buf, b.p, b.n);
    }
    free(b.p);
    if (!ok) fprintf(stderr, "  cannot write %s\n", buf);
    return buf;
}

/* Checks a rejection: status, the message names `path` and contains `needle`, out is empty. */
static void expect_reject(const char *what, clvae_status_t st, const clvae_error_t *err,
                          clvae_status_t want, const char *path, const char *needle,
                          const clvae_dataset_t *d)
{
    if (verbose) fprintf(stderr, "  [%s] %s: %s\n", what, clvae_status_name(st), err->msg);
    CHECK(st == want, "%s: status %s, want %s (%s)", what, clvae_status_name(st),
          clvae_status_name(want), err->msg);
    CHECK(strstr(err->msg, path) != NULL, "%s: the message does not name %s: %s", what, path,
          err->msg);
    CHECK(!needle || strstr(err->msg, needle), "%s: the message lacks \"%s\": %s", what,
          needle ? needle : "", err->msg);
    if (d)
        CHECK(d->n == 0 && !d->pixels && !d->labels, "%s: the dataset was not left empty", what);
}

/* Loads images (and labels) expecting a rejection. */
static void idx_reject(const char *what, const char *images, const char *labels,
                       clvae_status_t want, const char *named, const char *needle)
{
    clvae_error_t err = {0};
    clvae_dataset_t d;
    memset(&d, 0x5a, sizeof d); /* the loader must clear it */
    clvae_status_t st = clvae_idx_load(images, labels, &d, &err);
    expect_reject(what, st, &err, want, named, needle, &d);
    clvae_dataset_free(&d);
    clvae_error_clear(&err);
}

/* ---- IDX ---------------------------------------------------------------------------------- */

/* Checks d against the generated n x h x w set with labels i % 4 and `classes` classes
 * (classes 0: no labels). */
static void check_generated(const char *what, const clvae_dataset_t *d, size_t n, size_t h,
                            size_t w, int classes)
{
    CHECK(d->n == n && d->c == 1 && d->h == h && d->w == w, "%s: shape %zu x %zux%zux%zu", what,
          d->n, d->c, d->h, d->w);
    CHECK(d->scale == 1.0f / 255.0f, "%s: scale %.9g", what, (double)d->scale);
    if (d->n != n || d->h != h || d->w != w || !d->pixels) return;
    size_t bad = 0;
    for (size_t i = 0; i < n * h * w; i++) bad += d->pixels[i] != pix(i);
    CHECK(bad == 0, "%s: %zu pixels differ", what, bad);
    if (classes) {
        REQUIRE(d->labels, "%s: no labels", what);
        bad = 0;
        for (size_t i = 0; i < n; i++) bad += d->labels[i] != i % 4;
        CHECK(bad == 0, "%s: %zu labels differ", what, bad);
        CHECK(d->classes == classes, "%s: classes %d, want %d", what, d->classes, classes);
    } else {
        CHECK(!d->labels && d->classes == 0, "%s: unlabeled set has labels/classes %d", what,
              d->classes);
    }
}

static void t_idx_raw_round_trip(void)
{
    char ip[512], lp[512];
    put(ip, sizeof ip, "raw-images.idx", idx_images(5, 3, 4, 60), 0);
    put(lp, sizeof lp, "raw-labels.idx", idx_labels(5, 5), 0);
    clvae_error_t err = {0};
    clvae_dataset_t d;
    REQUIRE(clvae_idx_load(ip, lp, &d, &err) == CLVAE_OK, "%s", err.msg);
    check_generated("raw", &d, 5, 3, 4, 4);
    CHECK(strcmp(d.name, ip) == 0 || (strlen(ip) >= sizeof d.name &&
                                      strncmp(d.name, ip, sizeof d.name - 1) == 0),
          "name %s, want %s", d.name, ip);
    CHECK(clvae_dataset_dim(&d) == 12, "dim %zu", clvae_dataset_dim(&d));
    clvae_dataset_free(&d);
    CHECK(d.pixels == NULL && d.labels == NULL && d.n == 0, "free did not zero the struct");
    clvae_dataset_free(&d); /* a zeroed struct is fine */

    REQUIRE(clvae_idx_load(ip, NULL, &d, &err) == CLVAE_OK, "%s", err.msg);
    check_generated("unlabeled", &d, 5, 3, 4, 0);
    clvae_dataset_free(&d);
}

static void t_idx_gzip_and_misnamed(void)
{
    char ip[512], lp[512];
    clvae_error_t err = {0};
    clvae_dataset_t d;
    /* gzip with the usual names */
    put(ip, sizeof ip, "gz-images.idx.gz", idx_images(7, 2, 3, 42), 1);
    put(lp, sizeof lp, "gz-labels.idx.gz", idx_labels(7, 7), 1);
    REQUIRE(clvae_idx_load(ip, lp, &d, &err) == CLVAE_OK, "%s", err.msg);
    check_generated("gzip", &d, 7, 2, 3, 4);
    clvae_dataset_free(&d);
    /* gzip named as raw, raw named .gz: detection goes by content */
    put(ip, sizeof ip, "gzip-named-raw-ubyte", idx_images(7, 2, 3, 42), 1);
    put(lp, sizeof lp, "raw-named.gz", idx_labels(7, 7), 0);
    REQUIRE(clvae_idx_load(ip, lp, &d, &err) == CLVAE_OK, "misnamed: %s", err.msg);
    check_generated("misnamed", &d, 7, 2, 3, 4);
    clvae_dataset_free(&d);
    /* two gzip members back to back (as `gzip -c a b`), split inside the header */
    bytes_t raw = idx_images(7, 2, 3, 42);
    bytes_t a = gzip_of(raw.p, 6), b = gzip_of(raw.p + 6, raw.n - 6);
    bytes_add(&a, b.p, b.n);
    tpath(ip, sizeof ip, "two-members.gz");
    REQUIRE(write_bytes(ip, a.p, a.n), "write");
    free(raw.p);
    free(a.p);
    free(b.p);
    REQUIRE(clvae_idx_load(ip, NULL, &d, &err) == CLVAE_OK, "two members: %s", err.msg);
    check_generated("two members", &d, 7, 2, 3, 0);
    clvae_dataset_free(&d);
    /* a bigger set (crosses the reader's 64 KiB input and 1 MiB output chunks) */
    put(ip, sizeof ip, "big.gz", idx_images(300, 64, 64, 300 * 64 * 64), 1);
    put(lp, sizeof lp, "big-labels", idx_labels(300, 300), 0);
    REQUIRE(clvae_idx_load(ip, lp, &d, &err) == CLVAE_OK, "big: %s", err.msg);
    check_generated("big gzip", &d, 300, 64, 64, 4);
    clvae_dataset_free(&d);
}

static void t_idx_rejects_hostile_headers(void)
{
    char p[512], l[512];
    bytes_t b = {0};
    put(p, sizeof p, "empty", b, 0);
    idx_reject("empty file", p, NULL, CLVAE_ERR_INVALID, p, "empty");
    bytes_add(&b, "\0\0\x08", 3);
    put(p, sizeof p, "three-bytes", b, 0);
    idx_reject("3-byte file", p, NULL, CLVAE_ERR_INVALID, p, "too short");
    b = idx_images(2, 2, 2, 0);
    b.n = 12; /* magic and two of the three dimensions */
    put(p, sizeof p, "short-header", b, 0);
    idx_reject("short header", p, NULL, CLVAE_ERR_INVALID, p, "too short");
    put(p, sizeof p, "labels-as-images", idx_labels(4, 4), 0);
    idx_reject("label magic in images", p, NULL, CLVAE_ERR_INVALID, p, "magic");
    b = idx_images(2, 2, 2, 8);
    b.p[0] = 0xde;
    b.p[3] = 0xef;
    put(p, sizeof p, "bad-magic", b, 0);
    idx_reject("wrong magic", p, NULL, CLVAE_ERR_INVALID, p, "0xde0008ef");
    put(p, sizeof p, "zero-dim", idx_images(4, 0, 3, 0), 0);
    idx_reject("dimension 0", p, NULL, CLVAE_ERR_INVALID, p, "is 0");
    put(p, sizeof p, "zero-count", idx_images(0, 3, 3, 0), 0);
    idx_reject("count 0", p, NULL, CLVAE_ERR_INVALID, p, "is 0");
    put(p, sizeof p, "huge-count", idx_images(0xFFFFFFFFu, 28, 28, 16), 0);
    idx_reject("n = 0xFFFFFFFF", p, NULL, CLVAE_ERR_INVALID, p, "2^31");
    put(p, sizeof p, "huge-all", idx_images(0xFFFFFFFFu, 0xFFFFFFFFu, 0xFFFFFFFFu, 16), 0);
    idx_reject("all dims 0xFFFFFFFF (overflow)", p, NULL, CLVAE_ERR_INVALID, p, "2^31");
    put(p, sizeof p, "just-over", idx_images(0x80000001u, 1, 1, 16), 0);
    idx_reject("2^31 + 1 bytes", p, NULL, CLVAE_ERR_INVALID, p, "2^31");
    put(p, sizeof p, "huge-gz", idx_images(0xFFFFFFFFu, 0xFFFFFFFFu, 2, 16), 1);
    idx_reject("overflow, gzip", p, NULL, CLVAE_ERR_INVALID, p, "2^31");
    put(p, sizeof p, "beyond-file", idx_images(10, 3, 4, 36), 0);
    idx_reject("declares more than the file", p, NULL, CLVAE_ERR_INVALID, p, "declares 10");
    put(p, sizeof p, "trailing", idx_images(3, 3, 4, 37), 0);
    idx_reject("one trailing byte", p, NULL, CLVAE_ERR_INVALID, p, "declares 3");
    put(p, sizeof p, "beyond.gz", idx_images(10, 3, 4, 36), 1);
    idx_reject("declares more than the gzip holds", p, NULL, CLVAE_ERR_INVALID, p, "holds only");
    put(p, sizeof p, "trailing.gz", idx_images(3, 3, 4, 37), 1);
    idx_reject("gzip content one byte long", p, NULL, CLVAE_ERR_INVALID, p, "after the declared");
    b.p = NULL;
    b.n = b.cap = 0;
    put(p, sizeof p, "empty-content.gz", b, 1);
    idx_reject("gzip of nothing", p, NULL, CLVAE_ERR_INVALID, p, "empty");

    /* label files */
    put(p, sizeof p, "five-images", idx_images(5, 2, 2, 20), 0);
    put(l, sizeof l, "four-labels", idx_labels(4, 4), 0);
    idx_reject("4 labels for 5 images", p, l, CLVAE_ERR_INVALID, l, "4 labels");
    put(l, sizeof l, "labels-short", idx_labels(5, 3), 0);
    idx_reject("labels shorter than declared", p, l, CLVAE_ERR_INVALID, l, "declares 5 labels");
    put(l, sizeof l, "images-as-labels", idx_images(5, 2, 2, 20), 0);
    idx_reject("image magic in labels", p, l, CLVAE_ERR_INVALID, l, "magic");
    put(l, sizeof l, "labels-huge", idx_labels(0xFFFFFFFFu, 4), 0);
    idx_reject("labels n = 0xFFFFFFFF", p, l, CLVAE_ERR_INVALID, l, "2^31");

    /* files that are not there or not files */
    tpath(p, sizeof p, "no-such-file");
    idx_reject("missing images", p, NULL, CLVAE_ERR_NOT_FOUND, p, NULL);
    put(p, sizeof p, "five-images", idx_images(5, 2, 2, 20), 0);
    tpath(l, sizeof l, "no-such-labels");
    idx_reject("missing labels", p, l, CLVAE_ERR_NOT_FOUND, l, NULL);
    idx_reject("a folder", tmpdir, NULL, CLVAE_ERR_IO, tmpdir, NULL);
}

/* Writes the gzip of a small valid image file (stored blocks, so that every byte position
 * is known) cut by `cut` bytes, with bit 0 of byte n - flip flipped, or with `append` added. */
static void gz_variant(char *p, size_t size, const char *name, size_t cut, size_t flip,
                       const char *append)
{
    bytes_t raw = idx_images(20, 8, 8, 20 * 64);
    bytes_t z = gzip_level(raw.p, raw.n, 0);
    free(raw.p);
    if (flip) z.p[z.n - flip] ^= 0x01;
    if (cut) z.n -= cut;
    if (append) bytes_add(&z, append, strlen(append));
    tpath(p, size, name);
    if (!write_bytes(p, z.p, z.n)) fprintf(stderr, "  cannot write %s\n", p);
    free(z.p);
}

static void t_idx_rejects_broken_gzip(void)
{
    char p[512];
    bytes_t raw = idx_images(20, 8, 8, 20 * 64);
    bytes_t z = gzip_level(raw.p, raw.n, 0);
    free(raw.p);
    size_t half = z.n / 2;
    free(z.p);
    z.p = NULL;
    gz_variant(p, sizeof p, "cut-mid.gz", half, 0, NULL);
    idx_reject("gzip cut mid-stream", p, NULL, CLVAE_ERR_CORRUPT, p, "truncated");
    gz_variant(p, sizeof p, "cut-trailer.gz", 4, 0, NULL);
    idx_reject("gzip without its length word", p, NULL, CLVAE_ERR_CORRUPT, p, "truncated");
    gz_variant(p, sizeof p, "cut-one.gz", 1, 0, NULL);
    idx_reject("gzip one byte short", p, NULL, CLVAE_ERR_CORRUPT, p, "truncated");
    gz_variant(p, sizeof p, "bad-crc.gz", 0, 8, NULL); /* first byte of the CRC-32 */
    idx_reject("gzip with a broken CRC", p, NULL, CLVAE_ERR_CORRUPT, p, "corrupt");
    gz_variant(p, sizeof p, "bad-isize.gz", 0, 4, NULL); /* first byte of the length */
    idx_reject("gzip with a wrong length word", p, NULL, CLVAE_ERR_CORRUPT, p, "corrupt");
    gz_variant(p, sizeof p, "bad-data.gz", 0, 100, NULL); /* a pixel in the stored block */
    idx_reject("gzip with a flipped data bit", p, NULL, CLVAE_ERR_CORRUPT, p, "corrupt");
    gz_variant(p, sizeof p, "garbage-after.gz", 0, 0, "xyz");
    idx_reject("garbage after the gzip stream", p, NULL, CLVAE_ERR_CORRUPT, p, "after the end");
    gz_variant(p, sizeof p, "one-after.gz", 0, 0, "\x1f");
    idx_reject("one stray byte after the stream", p, NULL, CLVAE_ERR_CORRUPT, p, "after the end");
    raw = idx_images(300, 16, 16, 300 * 256);
    z = gzip_of(raw.p, raw.n); /* real deflate blocks this time */
    tpath(p, sizeof p, "cut-deflate.gz");
    REQUIRE(write_bytes(p, z.p, z.n / 2), "write");
    free(raw.p);
    free(z.p);
    idx_reject("deflate stream cut in half", p, NULL, CLVAE_ERR_CORRUPT, p, "truncated");
    tpath(p, sizeof p, "magic-only.gz");
    REQUIRE(write_bytes(p, "\x1f\x8b", 2), "write");
    idx_reject("gzip magic only", p, NULL, CLVAE_ERR_CORRUPT, p, "truncated");

    /* A bomb: a valid 2x2x2 header, its 8 bytes, then 64 MiB of zeros in one gzip member
     * (about 64 KB on disk). It must be refused as longer than declared. */
    z_stream s;
    memset(&s, 0, sizeof s);
    REQUIRE(deflateInit2(&s, 9, Z_DEFLATED, 16 + MAX_WBITS, 8, Z_DEFAULT_STRATEGY) == Z_OK, "zlib");
    bytes_t head = idx_images(2, 2, 2, 8), out = {0};
    static uint8_t zeros[1 << 20], obuf[1 << 16];
    for (int i = 0; i <= 64; i++) {
        s.next_in = i == 0 ? head.p : zeros;
        s.avail_in = i == 0 ? (uInt)head.n : (uInt)sizeof zeros;
        int flush = i == 64 ? Z_FINISH : Z_NO_FLUSH, rc;
        do {
            s.next_out = obuf;
            s.avail_out = sizeof obuf;
            rc = deflate(&s, flush);
            bytes_add(&out, obuf, sizeof obuf - s.avail_out);
        } while (s.avail_out == 0 || (flush == Z_FINISH && rc != Z_STREAM_END));
    }
    deflateEnd(&s);
    tpath(p, sizeof p, "bomb.gz");
    REQUIRE(write_bytes(p, out.p, out.n), "write");
    CHECK(out.n < (1u << 20), "the bomb is %zu bytes", out.n);
    free(head.p);
    free(out.p);
    idx_reject("decompression bomb", p, NULL, CLVAE_ERR_INVALID, p, "after the declared");
}

/* ---- digits CSV --------------------------------------------------------------------------- */

/* Label of row r in csv_row's pattern (row 1500's differs from row 0's). */
static int csv_label(size_t r) { return (int)((r * 3 + r / 7) % 10); }

/* A digits CSV row: pixel k = (r + k) % 17, label csv_label(r), with line ending eol. */
static void csv_row(bytes_t *b, size_t r, const char *eol)
{
    char line[512];
    int k = 0;
    for (int f = 0; f < 64; f++)
        k += snprintf(line + k, sizeof line - k, "%d,", (int)((r + f) % 17));
    snprintf(line + k, sizeof line - k, "%d%s", csv_label(r), eol);
    bytes_add(b, line, strlen(line));
}

/* Checks d against rows first..first+n-1 of csv_row's pattern. */
static void check_digits(const char *what, const clvae_dataset_t *d, size_t n, size_t first)
{
    CHECK(d->n == n && d->c == 1 && d->h == 8 && d->w == 8, "%s: shape %zu x %zux%zux%zu", what,
          d->n, d->c, d->h, d->w);
    CHECK(d->scale == 1.0f / 16.0f && d->classes == 10, "%s: scale %g classes %d", what,
          (double)d->scale, d->classes);
    REQUIRE(d->n == n && d->pixels && d->labels, "%s: no data", what);
    size_t bad = 0;
    for (size_t r = 0; r < n; r++) {
        for (size_t k = 0; k < 64; k++) bad += d->pixels[r * 64 + k] != (first + r + k) % 17;
        bad += d->labels[r] != csv_label(first + r);
    }
    CHECK(bad == 0, "%s: %zu values differ", what, bad);
}

static void t_digits_csv(void)
{
    char p[512];
    clvae_error_t err = {0};
    clvae_dataset_t d;
    const char *eols[] = {"\n", "\r\n"};
    for (int e = 0; e < 2; e++) {
        for (int gz = 0; gz < 2; gz++) {
            for (int last_nl = 0; last_nl < 2; last_nl++) {
                bytes_t b = {0};
                for (size_t r = 0; r < 3; r++) csv_row(&b, r, r < 2 || last_nl ? eols[e] : "");
                char name[64];
                /* the gzip copies are named .csv, the raw ones .csv.gz */
                snprintf(name, sizeof name, "digits-%d%d%d.csv%s", e, gz, last_nl, gz ? "" : ".gz");
                put(p, sizeof p, name, b, gz);
                clvae_status_t st = clvae_digits_load(p, &d, &err);
                CHECK(st == CLVAE_OK, "%s: %s", name, err.msg);
                if (st == CLVAE_OK) check_digits(name, &d, 3, 0);
                clvae_dataset_free(&d);
            }
        }
    }
    /* blanks around values, "16.0", trailing empty lines */
    char text[512] = " 0, 1 ,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16.0,";
    for (int f = 17; f < 63; f++) strcat(text, "0,");
    strcat(text, "16,9\n\n\r\n"); /* 65 fields, then two empty lines */
    tpath(p, sizeof p, "loose.csv");
    REQUIRE(write_bytes(p, text, strlen(text)), "write");
    REQUIRE(clvae_digits_load(p, &d, &err) == CLVAE_OK, "%s", err.msg);
    CHECK(d.n == 1 && d.pixels[1] == 1 && d.pixels[16] == 16 && d.pixels[63] == 16 &&
          d.labels[0] == 9, "loose row parsed wrong");
    CHECK(strcmp(d.name, p) == 0 || strlen(p) >= sizeof d.name, "name %s", d.name);
    clvae_dataset_free(&d);
}

/* Writes text as a CSV and expects a rejection naming the file (and `needle`). */
static void digits_reject(const char *what, const char *text, int gz, clvae_status_t want,
                          const char *needle)
{
    char p[512];
    bytes_t b = {0};
    bytes_add(&b, text, strlen(text));
    put(p, sizeof p, "bad-digits.csv", b, gz);
    clvae_error_t err = {0};
    clvae_dataset_t d;
    memset(&d, 0x5a, sizeof d);
    expect_reject(what, clvae_digits_load(p, &d, &err), &err, want, p, needle, &d);
    clvae_dataset_free(&d);
}

/* A good first row, then `second` as line 2. */
static char *two_rows(const char *second)
{
    bytes_t b = {0};
    csv_row(&b, 0, "\n");
    bytes_add(&b, second, strlen(second) + 1);
    return (char *)b.p;
}

static void t_digits_rejects(void)
{
    char row[512];
    int k = 0;
    for (int f = 0; f < 62; f++) k += snprintf(row + k, sizeof row - k, "1,");
    char *t;
    snprintf(row + k, sizeof row - k, "3\n"); /* 63 fields */
    digits_reject("63 fields", t = two_rows(row), 0, CLVAE_ERR_INVALID, ":2: 63 fields");
    free(t);
    snprintf(row + k, sizeof row - k, "1,1,1,3\n"); /* 66 fields */
    digits_reject("66 fields", t = two_rows(row), 1, CLVAE_ERR_INVALID, ":2: 66 fields");
    free(t);
    snprintf(row + k, sizeof row - k, "17,1,3\n");
    digits_reject("value 17", t = two_rows(row), 0, CLVAE_ERR_INVALID, ":2: pixel value \"17\"");
    free(t);
    snprintf(row + k, sizeof row - k, "abc,1,3\n");
    digits_reject("abc", t = two_rows(row), 0, CLVAE_ERR_INVALID, "\"abc\" is not a whole");
    free(t);
    snprintf(row + k, sizeof row - k, "-1,1,3\n");
    digits_reject("-1", t = two_rows(row), 0, CLVAE_ERR_INVALID, "\"-1\" is not");
    free(t);
    snprintf(row + k, sizeof row - k, "1.5,1,3\n");
    digits_reject("1.5", t = two_rows(row), 0, CLVAE_ERR_INVALID, "\"1.5\" is not");
    free(t);
    snprintf(row + k, sizeof row - k, ",1,3\n");
    digits_reject("empty field", t = two_rows(row), 0, CLVAE_ERR_INVALID, "field 63");
    free(t);
    snprintf(row + k, sizeof row - k, "1,1,10\n");
    digits_reject("label 10", t = two_rows(row), 0, CLVAE_ERR_INVALID, ":2: label \"10\"");
    free(t);
    snprintf(row + k, sizeof row - k, "1,1,99999999999999999999\n");
    digits_reject("huge label", t = two_rows(row), 0, CLVAE_ERR_INVALID, "outside 0..9");
    free(t);
    bytes_t b = {0};
    csv_row(&b, 0, "\n\n");
    csv_row(&b, 1, "\n");
    bytes_add(&b, "", 1);
    digits_reject("blank line inside", (char *)b.p, 0, CLVAE_ERR_INVALID, ":2: empty line");
    free(b.p);
    digits_reject("header row", "pixel_0,pixel_1\n", 0, CLVAE_ERR_INVALID, ":1: 2 fields");
    digits_reject("empty file", "", 0, CLVAE_ERR_INVALID, "empty");
    digits_reject("only newlines", "\n\r\n\n", 0, CLVAE_ERR_INVALID, "no data rows");

    /* a truncated gzip CSV */
    char p[512];
    bytes_t raw = {0};
    for (size_t r = 0; r < 50; r++) csv_row(&raw, r, "\n");
    bytes_t z = gzip_of(raw.p, raw.n);
    tpath(p, sizeof p, "cut-digits.csv.gz");
    REQUIRE(write_bytes(p, z.p, z.n / 2), "write");
    free(raw.p);
    free(z.p);
    clvae_error_t err = {0};
    clvae_dataset_t d;
    expect_reject("truncated gzip CSV", clvae_digits_load(p, &d, &err), &err, CLVAE_ERR_CORRUPT,
                  p, "truncated", &d);
    tpath(p, sizeof p, "no-digits.csv");
    expect_reject("missing CSV", clvae_digits_load(p, &d, &err), &err, CLVAE_ERR_NOT_FOUND, p,
                  NULL, &d);
}

/* ---- specs -------------------------------------------------------------------------------- */

/* Builds a data folder under tmpdir/dd: mnist t10k raw and train gzip, fashion t10k gzip,
 * digits with 1797 rows of csv_row's pattern. Returns 1 on success. */
static int make_data_dir(char *dd, size_t size)
{
    char p[512];
    tpath(dd, size, "dd");
    const char *subs[] = {"", "/mnist", "/fashion-mnist", "/digits"};
    for (int i = 0; i < 4; i++) {
        snprintf(p, sizeof p, "%s%s", dd, subs[i]);
        if (mkdir(p, 0755) != 0) return 0;
    }
    put(p, sizeof p, "dd/mnist/t10k-images-idx3-ubyte", idx_images(6, 4, 5, 120), 0);
    put(p, sizeof p, "dd/mnist/t10k-labels-idx1-ubyte", idx_labels(6, 6), 0);
    put(p, sizeof p, "dd/mnist/train-images-idx3-ubyte.gz", idx_images(9, 4, 5, 180), 1);
    put(p, sizeof p, "dd/mnist/train-labels-idx1-ubyte.gz", idx_labels(9, 9), 1);
    put(p, sizeof p, "dd/fashion-mnist/t10k-images-idx3-ubyte.gz", idx_images(3, 2, 2, 12), 1);
    put(p, sizeof p, "dd/fashion-mnist/t10k-labels-idx1-ubyte.gz", idx_labels(3, 3), 1);
    bytes_t b = {0};
    for (size_t r = 0; r < 1797; r++) csv_row(&b, r, "\n");
    put(p, sizeof p, "dd/digits/digits.csv.gz", b, 1);
    return 1;
}

static void t_dataset_open_specs(void)
{
    char dd[300], p[512], l[512], spec[1100];
    REQUIRE(make_data_dir(dd, sizeof dd), "cannot build the data folder");
    clvae_error_t err = {0};
    clvae_dataset_t d;
    REQUIRE(clvae_dataset_open("mnist:test", dd, &d, &err) == CLVAE_OK, "%s", err.msg);
    check_generated("mnist:test (MNIST-like: at least 10 classes)", &d, 6, 4, 5, 10);
    CHECK(strcmp(d.name, "mnist:test") == 0, "name %s", d.name);
    clvae_dataset_free(&d);
    REQUIRE(clvae_dataset_open("mnist:train", dd, &d, &err) == CLVAE_OK, "%s", err.msg);
    check_generated("mnist:train (.gz)", &d, 9, 4, 5, 10);
    CHECK(strcmp(d.name, "mnist:train") == 0 && d.classes == 10, "name %s classes %d", d.name,
          d.classes);
    clvae_dataset_free(&d);
    REQUIRE(clvae_dataset_open("fashion-mnist:test", dd, &d, &err) == CLVAE_OK, "%s", err.msg);
    check_generated("fashion-mnist:test", &d, 3, 2, 2, 10);
    clvae_dataset_free(&d);

    REQUIRE(clvae_dataset_open("digits", dd, &d, &err) == CLVAE_OK, "%s", err.msg);
    check_digits("digits", &d, 1797, 0);
    CHECK(strcmp(d.name, "digits") == 0, "name %s", d.name);
    clvae_dataset_free(&d);
    REQUIRE(clvae_dataset_open("digits:train", dd, &d, &err) == CLVAE_OK, "%s", err.msg);
    check_digits("digits:train", &d, 1500, 0);
    clvae_dataset_free(&d);
    REQUIRE(clvae_dataset_open("digits:test", dd, &d, &err) == CLVAE_OK, "%s", err.msg);
    check_digits("digits:test", &d, 297, 1500);
    CHECK(strcmp(d.name, "digits:test") == 0, "name %s", d.name);
    clvae_dataset_free(&d);

    /* an uncompressed digits.csv is found too */
    char dd2[300];
    tpath(dd2, sizeof dd2, "dd2");
    snprintf(p, sizeof p, "%s/digits", dd2);
    REQUIRE(mkdir(dd2, 0755) == 0 && mkdir(p, 0755) == 0, "mkdir");
    bytes_t b = {0};
    for (size_t r = 0; r < 4; r++) csv_row(&b, r, "\n");
    put(p, sizeof p, "dd2/digits/digits.csv", b, 0);
    REQUIRE(clvae_dataset_open("digits", dd2, &d, &err) == CLVAE_OK, "%s", err.msg);
    check_digits("digits.csv", &d, 4, 0);
    clvae_dataset_free(&d);
    memset(&d, 0x5a, sizeof d);
    expect_reject("digits:train of 4 rows", clvae_dataset_open("digits:train", dd2, &d, &err),
                  &err, CLVAE_ERR_INVALID, p, "1500", &d);

    /* idx: explicit paths */
    snprintf(p, sizeof p, "%s/mnist/t10k-images-idx3-ubyte", dd);
    snprintf(l, sizeof l, "%s/mnist/train-labels-idx1-ubyte.gz", dd);
    snprintf(spec, sizeof spec, "idx:%s", p);
    REQUIRE(clvae_dataset_open(spec, dd, &d, &err) == CLVAE_OK, "%s", err.msg);
    check_generated("idx:IMAGES", &d, 6, 4, 5, 0);
    CHECK(strncmp(d.name, p, sizeof d.name - 1) == 0, "name %s", d.name);
    clvae_dataset_free(&d);
    snprintf(spec, sizeof spec, "idx:%s/mnist/t10k-images-idx3-ubyte,%s/mnist/"
             "t10k-labels-idx1-ubyte", dd, dd);
    REQUIRE(clvae_dataset_open(spec, NULL, &d, &err) == CLVAE_OK, "%s", err.msg);
    check_generated("idx:IMAGES,LABELS", &d, 6, 4, 5, 4);
    clvae_dataset_free(&d);
    snprintf(spec, sizeof spec, "idx:%s,%s", p, l); /* 6 images, 9 labels */
    memset(&d, 0x5a, sizeof d);
    expect_reject("idx: with mismatched labels", clvae_dataset_open(spec, dd, &d, &err), &err,
                  CLVAE_ERR_INVALID, l, "9 labels", &d);
}

static void t_dataset_open_errors(void)
{
    char dd[300], p[512];
    tpath(dd, sizeof dd, "empty-dd");
    REQUIRE(mkdir(dd, 0755) == 0, "mkdir");
    clvae_error_t err = {0};
    clvae_dataset_t d;
    const char *specs[] = {"mnist:train", "mnist:test", "fashion-mnist:train",
                           "fashion-mnist:test", "digits", "digits:train", "digits:test"};
    const char *files[] = {"mnist/train-images-idx3-ubyte", "mnist/t10k-images-idx3-ubyte",
                           "fashion-mnist/train-images-idx3-ubyte",
                           "fashion-mnist/t10k-images-idx3-ubyte", "digits/digits.csv",
                           "digits/digits.csv", "digits/digits.csv"};
    for (int i = 0; i < 7; i++) {
        snprintf(p, sizeof p, "%s/%s", dd, files[i]);
        memset(&d, 0x5a, sizeof d);
        expect_reject(specs[i], clvae_dataset_open(specs[i], dd, &d, &err), &err,
                      CLVAE_ERR_NOT_FOUND, p, "run 'make data' or set CLVAE_DATA_DIR", &d);
    }
    /* images present, labels missing */
    snprintf(p, sizeof p, "%s/mnist", dd);
    REQUIRE(mkdir(p, 0755) == 0, "mkdir");
    put(p, sizeof p, "empty-dd/mnist/t10k-images-idx3-ubyte", idx_images(2, 2, 2, 8), 0);
    snprintf(p, sizeof p, "%s/mnist/t10k-labels-idx1-ubyte", dd);
    expect_reject("labels missing", clvae_dataset_open("mnist:test", dd, &d, &err), &err,
                  CLVAE_ERR_NOT_FOUND, p, "make data", &d);

    const char *bad[] = {"mnist", "mnist:val", "MNIST:train", "", "digits:all", "cifar10",
                         "idx:", "idx:,labels", "idx:images,"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        memset(&d, 0x5a, sizeof d);
        clvae_status_t st = clvae_dataset_open(bad[i], dd, &d, &err);
        expect_reject(bad[i], st, &err, CLVAE_ERR_INVALID, bad[i], "idx:IMAGES", &d);
        if (strncmp(bad[i], "idx:", 4) != 0)
            CHECK(strstr(err.msg, "mnist:train") && strstr(err.msg, "fashion-mnist:test") &&
                  strstr(err.msg, "digits:test"), "'%s': forms not listed: %s", bad[i], err.msg);
    }
}

static void t_dataset_limit(void)
{
    char p[512], l[512];
    put(p, sizeof p, "lim-images", idx_images(10, 3, 3, 90), 0);
    put(l, sizeof l, "lim-labels", idx_labels(10, 10), 0);
    clvae_error_t err = {0};
    clvae_dataset_t d;
    REQUIRE(clvae_idx_load(p, l, &d, &err) == CLVAE_OK, "%s", err.msg);
    CHECK(clvae_dataset_limit(&d, 0, &err) == CLVAE_ERR_INVALID, "limit 0 accepted");
    CHECK(strstr(err.msg, p) != NULL, "limit message lacks the name: %s", err.msg);
    CHECK(clvae_dataset_limit(&d, 11, &err) == CLVAE_ERR_INVALID, "limit 11 of 10 accepted");
    CHECK(d.n == 10, "a refused limit changed n to %zu", d.n);
    CHECK(clvae_dataset_limit(&d, 10, &err) == CLVAE_OK, "limit to n: %s", err.msg);
    REQUIRE(clvae_dataset_limit(&d, 4, &err) == CLVAE_OK, "%s", err.msg);
    check_generated("limited", &d, 4, 3, 3, 4);
    CHECK(clvae_dataset_limit(&d, 5, &err) == CLVAE_ERR_INVALID, "grew back to 5");
    CHECK(clvae_dataset_limit(NULL, 1, &err) == CLVAE_ERR_INVALID, "NULL dataset accepted");
    clvae_dataset_free(&d);
    clvae_dataset_free(NULL);
}

/* ---- the real data sets (present: `make check` fetches them first) ------------------------ */

static const char *data_dir(void)
{
    const char *d = getenv("CLVAE_DATA_DIR");
    return d && *d ? d : "data";
}

/* SHA-256 (hex) of the IDX file content that d's images (ndims 3) or labels (ndims 1) came from. */
static void idx_sha(const clvae_dataset_t *d, int labels, char hex[65])
{
    clvae_sha256_t s;
    uint8_t dig[32];
    bytes_t h = {0};
    bytes_be32(&h, labels ? 0x00000801 : 0x00000803);
    bytes_be32(&h, (uint32_t)d->n);
    if (!labels) {
        bytes_be32(&h, (uint32_t)d->h);
        bytes_be32(&h, (uint32_t)d->w);
    }
    clvae_sha256_init(&s);
    clvae_sha256_update(&s, h.p, h.n);
    clvae_sha256_update(&s, labels ? d->labels : d->pixels, labels ? d->n : d->n * d->h * d->w);
    clvae_sha256_final(&s, dig);
    clvae_sha256_hex(dig, hex);
    free(h.p);
}

/* Opens spec from the real data folder and checks size, first label and checksums (the
 * SHA-256 values tools/fetch_data.sh verifies the files with). */
static void check_real_idx(const char *spec, size_t n, int first_label, const char *img_sha,
                           const char *lbl_sha)
{
    clvae_error_t err = {0};
    clvae_dataset_t d;
    clvae_status_t st = clvae_dataset_open(spec, data_dir(), &d, &err);
    REQUIRE(st == CLVAE_OK, "%s from %s: %s", spec, data_dir(), err.msg);
    CHECK(d.n == n && d.c == 1 && d.h == 28 && d.w == 28, "%s: %zu x %zux%zux%zu", spec, d.n, d.c,
          d.h, d.w);
    CHECK(d.labels && d.labels[0] == first_label, "%s: first label %d, want %d", spec,
          d.labels ? d.labels[0] : -1, first_label);
    CHECK(d.classes == 10 && d.scale == 1.0f / 255.0f, "%s: classes %d scale %g", spec,
          d.classes, (double)d.scale);
    char hex[65];
    idx_sha(&d, 0, hex);
    CHECK(strcmp(hex, img_sha) == 0, "%s: images hash %s, want %s", spec, hex, img_sha);
    if (d.labels) {
        idx_sha(&d, 1, hex);
        CHECK(strcmp(hex, lbl_sha) == 0, "%s: labels hash %s, want %s", spec, hex, lbl_sha);
    }
    clvae_dataset_free(&d);
}

static void t_real_mnist(void)
{
    check_real_idx("mnist:test", 10000, 7,
                   "0fa7898d509279e482958e8ce81c8e77db3f2f8254e26661ceb7762c4d494ce7",
                   "ff7bcfd416de33731a308c3f266cc351222c34898ecbeaf847f06e48f7ec33f2");
    check_real_idx("mnist:train", 60000, 5,
                   "ba891046e6505d7aadcbbe25680a0738ad16aec93bde7f9b65e87a2fc25776db",
                   "65a50cbbf4e906d70832878ad85ccda5333a97f0f4c3dd2ef09a8a9eef7101c5");
}

static void t_real_fashion_mnist(void)
{
    check_real_idx("fashion-mnist:test", 10000, 9,
                   "5b4141f0afbad91edebe8549f8fcffe087ea10ca49f1dbef5c9a5cd8815ce37b",
                   "0402a96d92fd2663957122ceb108a494c5af83dab82d92729df917d7dec38c34");
}

static void t_real_digits(void)
{
    clvae_error_t err = {0};
    clvae_dataset_t d;
    REQUIRE(clvae_dataset_open("digits", data_dir(), &d, &err) == CLVAE_OK,
            "digits from %s: %s", data_dir(), err.msg);
    CHECK(d.n == 1797 && d.c == 1 && d.h == 8 && d.w == 8, "digits: %zu x %zux%zux%zu", d.n, d.c,
          d.h, d.w);
    CHECK(d.scale == 1.0f / 16.0f && d.classes == 10, "scale %g classes %d", (double)d.scale,
          d.classes);
    REQUIRE(d.n == 1797 && d.labels, "no labels");
    static const uint8_t row0[8] = {0, 0, 5, 13, 9, 1, 0, 0}; /* first row of digits.csv */
    CHECK(memcmp(d.pixels, row0, 8) == 0 && d.labels[0] == 0, "first row differs");
    /* totals computed with zcat | awk from the verified file */
    uint64_t sum = 0;
    size_t per[10] = {0};
    for (size_t i = 0; i < 1797 * 64; i++) sum += d.pixels[i];
    for (size_t i = 0; i < 1797; i++) per[d.labels[i] % 10]++;
    CHECK(sum == 561718, "pixel sum %llu, want 561718", (unsigned long long)sum);
    CHECK(per[0] == 178 && per[3] == 183 && per[8] == 174, "label counts %zu %zu %zu", per[0],
          per[3], per[8]);
    clvae_dataset_free(&d);
    REQUIRE(clvae_dataset_open("digits:test", data_dir(), &d, &err) == CLVAE_OK, "%s", err.msg);
    CHECK(d.n == 297 && d.labels[0] == 1, "digits:test: n %zu first label %d", d.n, d.labels[0]);
    clvae_dataset_free(&d);
    REQUIRE(clvae_dataset_open("digits:train", data_dir(), &d, &err) == CLVAE_OK, "%s", err.msg);
    CHECK(d.n == 1500 && d.labels[0] == 0, "digits:train: n %zu", d.n);
    clvae_dataset_free(&d);
}

/* ---- shuffle ------------------------------------------------------------------------------ */

/* 1 when perm is a permutation of 0..n-1. */
static int is_permutation(const uint32_t *perm, size_t n)
{
    uint8_t *seen = calloc(n ? n : 1, 1);
    int ok = seen != NULL;
    for (size_t i = 0; ok && i < n; i++) {
        if (perm[i] >= n || seen[perm[i]]) ok = 0;
        else seen[perm[i]] = 1;
    }
    free(seen);
    return ok;
}

/* The spec in data.h written out directly: word d computed on its own, every time. */
static uint32_t twin_word(uint64_t seed, uint64_t epoch, uint64_t d)
{
    uint64_t c = epoch * 4294967296ull + d / 4;
    const uint32_t ctr[4] = {(uint32_t)c, (uint32_t)(c >> 32), 2u, 0u};
    const uint32_t key[2] = {(uint32_t)seed, (uint32_t)(seed >> 32)};
    uint32_t out[4];
    clvae_philox4x32_10(ctr, key, out);
    return out[d % 4];
}

static void twin_shuffle(uint32_t *perm, size_t n, uint64_t seed, uint64_t epoch,
                         size_t *rejected)
{
    uint64_t d = 0;
    *rejected = 0;
    for (size_t k = 0; k < n; k++) perm[k] = (uint32_t)k;
    for (size_t i = n; i-- > 1;) {
        uint64_t r = (uint64_t)i + 1, limit = 4294967296ull - 4294967296ull % r, w;
        while ((w = twin_word(seed, epoch, d++)) >= limit) ++*rejected;
        uint32_t j = (uint32_t)(w % r), t = perm[i];
        perm[i] = perm[j];
        perm[j] = t;
    }
}

static void t_shuffle_is_permutation(void)
{
    static const size_t ns[] = {1, 2, 3, 10, 1000, 60000};
    for (size_t a = 0; a < sizeof ns / sizeof ns[0]; a++) {
        uint32_t *p = malloc(ns[a] * sizeof *p);
        clvae_shuffle(p, ns[a], 42, 3);
        CHECK(is_permutation(p, ns[a]), "n=%zu: not a permutation", ns[a]);
        if (ns[a] == 60000) {
            size_t fixed = 0;
            for (size_t i = 0; i < ns[a]; i++) fixed += p[i] == i;
            CHECK(fixed < 20, "n=60000: %zu fixed points (about 1 expected)", fixed);
        }
        free(p);
    }
    uint32_t sentinel = 0xabcdef01u;
    clvae_shuffle(&sentinel, 0, 1, 1);
    CHECK(sentinel == 0xabcdef01u, "n=0 wrote into perm");
}

static void t_shuffle_matches_spec(void)
{
    static const struct { size_t n; uint64_t seed, epoch; } c[] = {
        {2, 0, 0}, {5, 1, 0}, {97, 0xdeadbeefcafef00dull, 7}, {1000, 42, 0xffffffffull},
        {4099, 3, 0x100000000ull}, {(1u << 21) + 12345, 5, 1},
    };
    for (size_t a = 0; a < sizeof c / sizeof c[0]; a++) {
        uint32_t *p = malloc(c[a].n * sizeof *p), *q = malloc(c[a].n * sizeof *q);
        size_t rejected;
        clvae_shuffle(p, c[a].n, c[a].seed, c[a].epoch);
        twin_shuffle(q, c[a].n, c[a].seed, c[a].epoch, &rejected);
        CHECK(memcmp(p, q, c[a].n * sizeof *p) == 0, "n=%zu seed %llu epoch %llu differs from "
              "the spec", c[a].n, (unsigned long long)c[a].seed, (unsigned long long)c[a].epoch);
        /* the big case must exercise the rejection step (about 260 words are rejected) */
        if (c[a].n > 1000000) CHECK(rejected > 50, "only %zu rejections", rejected);
        free(p);
        free(q);
    }
    /* n = 2 by hand: j = word 0 of philox({0, 0, 2, 0}, {seed}) mod 2; j = 0 swaps */
    uint32_t p[2], w[4];
    const uint32_t ctr[4] = {0, 0, 2, 0}, key[2] = {77, 0};
    clvae_philox4x32_10(ctr, key, w);
    clvae_shuffle(p, 2, 77, 0);
    CHECK(p[0] == (w[0] % 2 ? 0u : 1u) && p[1] == 1 - p[0], "n=2: got %u %u, word %08x",
          (unsigned)p[0], (unsigned)p[1], (unsigned)w[0]);
}

static void t_shuffle_deterministic_and_varies(void)
{
    enum { N = 1000 };
    static uint32_t a[N], b[N], c[N], d[N];
    clvae_shuffle(a, N, 123, 4);
    clvae_shuffle(b, N, 123, 4);
    CHECK(memcmp(a, b, sizeof a) == 0, "same (seed, epoch) gave different orders");
    clvae_shuffle(c, N, 123, 5);
    clvae_shuffle(d, N, 124, 4);
    size_t same_c = 0, same_d = 0;
    for (size_t i = 0; i < N; i++) {
        same_c += a[i] == c[i];
        same_d += a[i] == d[i];
    }
    CHECK(same_c < 20, "epochs 4 and 5 agree in %zu of %d places", same_c, N);
    CHECK(same_d < 20, "seeds 123 and 124 agree in %zu of %d places", same_d, N);
    /* seed and epoch do not alias: (seed 0, epoch 1) differs from (seed 1, epoch 0) */
    clvae_shuffle(c, N, 0, 1);
    clvae_shuffle(d, N, 1, 0);
    CHECK(memcmp(c, d, sizeof c) != 0, "(0, 1) and (1, 0) gave the same order");
}

/* Pearson's chi-square of counts against a uniform expectation. */
static double chi_square(const size_t *count, int bins, size_t total)
{
    double e = (double)total / bins, x = 0.0;
    for (int i = 0; i < bins; i++) x += ((double)count[i] - e) * ((double)count[i] - e) / e;
    return x;
}

static void t_shuffle_uniform(void)
{
    /* n = 10 over 20000 seeds: where element 0..9 lands first, and the last position over
     * 20000 epochs. 9 degrees of freedom: P(chi2 > 27.88) = 0.001. The seeds are fixed, so
     * this passes or fails the same way every run. */
    enum { N = 10, RUNS = 20000 };
    size_t first[N] = {0}, last[N] = {0}, pos_of_0[N] = {0};
    uint32_t p[N];
    for (uint64_t s = 0; s < RUNS; s++) {
        clvae_shuffle(p, N, s, 0);
        first[p[0]]++;
        for (int i = 0; i < N; i++)
            if (p[i] == 0) pos_of_0[i]++;
        clvae_shuffle(p, N, 99, s);
        last[p[N - 1]]++;
    }
    double c1 = chi_square(first, N, RUNS), c2 = chi_square(last, N, RUNS),
           c3 = chi_square(pos_of_0, N, RUNS);
    CHECK(c1 < 27.88, "first position over seeds: chi2 %.2f", c1);
    CHECK(c2 < 27.88, "last position over epochs: chi2 %.2f", c2);
    CHECK(c3 < 27.88, "position of element 0: chi2 %.2f", c3);
    /* and the check has teeth: an identity "shuffle" would be far off */
    size_t biased[N] = {RUNS};
    CHECK(chi_square(biased, N, RUNS) > 1000.0, "chi2 of a constant is small");
}

/* ---- device ------------------------------------------------------------------------------- */

/* A random n x 1 x h x w dataset with the given scale (values 0..maxv). */
static clvae_dataset_t random_set(size_t n, size_t h, size_t w, int maxv, float scale,
                                  uint64_t seed)
{
    clvae_dataset_t d;
    memset(&d, 0, sizeof d);
    d.n = n;
    d.c = 1;
    d.h = h;
    d.w = w;
    d.scale = scale;
    d.pixels = malloc(n * h * w);
    snprintf(d.name, sizeof d.name, "random %zux%zux%zu", n, h, w);
    for (size_t i = 0; i < n * h * w; i++) {
        seed = seed * 6364136223846793005ull + 1442695040888963407ull;
        d.pixels[i] = (uint8_t)((seed >> 33) % (uint64_t)(maxv + 1));
    }
    d.pixels[0] = 0;
    d.pixels[n * h * w - 1] = (uint8_t)maxv;
    return d;
}

/* Gathers B rows from indices [off, off+B) of idx and compares with the reference bit for bit. */
static void gather_case(const char *what, const clvae_data_dev_t *dd, const clvae_dataset_t *d,
                        cl_mem idx, const uint32_t *perm, size_t off, size_t B)
{
    clvae_error_t err = {0};
    size_t dim = clvae_dataset_dim(d), count = B * dim;
    clvae_buf_t out = tu_zeros(ctx, count);
    REQUIRE(out.mem, "%s: no output buffer", what);
    clvae_status_t st = clvae_data_gather(ctx, out, dd, idx, off, B, &err);
    float *got = st == CLVAE_OK ? tu_download(ctx, out, count) : NULL;
    float *want = malloc(count * sizeof *want);
    memset(want, 0, count * sizeof *want);
    clvae_data_gather_ref(want, d, perm + off, B);
    CHECK(st == CLVAE_OK, "%s: %s", what, err.msg);
    CHECK(got && memcmp(got, want, count * sizeof *got) == 0, "%s: device differs from the "
          "reference", what);
    /* the reference itself: row b is example perm[off + b] scaled */
    size_t nonzero = 0, bad = 0;
    for (size_t b = 0; b < B; b++)
        for (size_t k = 0; k < dim; k++) {
            float v = (float)d->pixels[(size_t)perm[off + b] * dim + k] * d->scale;
            bad += want[b * dim + k] != v;
            nonzero += v != 0.0f;
        }
    CHECK(bad == 0 && nonzero > 0, "%s: reference wrong (%zu) or all zero", what, bad);
    free(got);
    free(want);
    clvae_buf_free(&out);
}

static void t_gather_matches_reference(void)
{
    REQUIRE(ctx, "no OpenCL context");
    clvae_error_t err = {0};
    clvae_dataset_t d = random_set(37, 5, 7, 255, 1.0f / 255.0f, 1);
    clvae_data_dev_t dd;
    REQUIRE(clvae_data_upload(ctx, &d, &dd, &err) == CLVAE_OK, "%s", err.msg);
    CHECK(dd.n == 37 && dd.dim == 35 && dd.scale == d.scale, "device set %zu x %zu", dd.n, dd.dim);
    uint32_t perm[37], perm2[37];
    clvae_shuffle(perm, 37, 9, 1);
    cl_mem idx = NULL;
    REQUIRE(clvae_data_upload_indices(ctx, &idx, perm, 37, 37, &err) == CLVAE_OK, "%s", err.msg);
    gather_case("B=16 at 7", &dd, &d, idx, perm, 7, 16);
    gather_case("B=1 at 0", &dd, &d, idx, perm, 0, 1);
    gather_case("the last 5", &dd, &d, idx, perm, 32, 5);
    gather_case("all 37", &dd, &d, idx, perm, 0, 37);

    /* refill the same buffer with the next epoch's order */
    cl_mem before = idx;
    clvae_shuffle(perm2, 37, 9, 2);
    CHECK(memcmp(perm, perm2, sizeof perm) != 0, "epochs 1 and 2 agree");
    REQUIRE(clvae_data_upload_indices(ctx, &idx, perm2, 37, 37, &err) == CLVAE_OK, "%s", err.msg);
    CHECK(idx == before, "a big-enough index buffer was replaced");
    gather_case("refilled, B=11 at 13", &dd, &d, idx, perm2, 13, 11);
    /* a longer list needs a new buffer */
    uint32_t twice[74];
    memcpy(twice, perm, sizeof perm);
    memcpy(twice + 37, perm2, sizeof perm2);
    REQUIRE(clvae_data_upload_indices(ctx, &idx, twice, 74, 37, &err) == CLVAE_OK, "%s", err.msg);
    CHECK(idx != before, "a too-small index buffer was reused");
    gather_case("grown, B=20 at 30", &dd, &d, idx, twice, 30, 20);
    clReleaseMemObject(idx);
    idx = NULL;
    clvae_data_dev_free(&dd);
    CHECK(dd.chunks == NULL && dd.nchunks == 0 && dd.n == 0, "dev_free did not zero");
    clvae_data_dev_free(&dd);
    clvae_dataset_free(&d);

    /* a digits-like set (scale 1/16) and an MNIST-sized batch over many work groups */
    d = random_set(50, 8, 8, 16, 1.0f / 16.0f, 2);
    REQUIRE(clvae_data_upload(ctx, &d, &dd, &err) == CLVAE_OK, "%s", err.msg);
    uint32_t p50[50];
    clvae_shuffle(p50, 50, 3, 0);
    REQUIRE(clvae_data_upload_indices(ctx, &idx, p50, 50, 50, &err) == CLVAE_OK, "%s", err.msg);
    gather_case("digits-like B=32 at 9", &dd, &d, idx, p50, 9, 32);
    clReleaseMemObject(idx);
    idx = NULL;
    clvae_data_dev_free(&dd);
    clvae_dataset_free(&d);

    d = random_set(300, 28, 28, 255, 1.0f / 255.0f, 3);
    REQUIRE(clvae_data_upload(ctx, &d, &dd, &err) == CLVAE_OK, "%s", err.msg);
    uint32_t p300[300];
    clvae_shuffle(p300, 300, 4, 0);
    REQUIRE(clvae_data_upload_indices(ctx, &idx, p300, 300, 300, &err) == CLVAE_OK, "%s",
            err.msg);
    gather_case("28x28 B=128 at 171", &dd, &d, idx, p300, 171, 128);
    clReleaseMemObject(idx);
    clvae_data_dev_free(&dd);
    clvae_dataset_free(&d);
}

static void t_gather_out_of_range_index_is_noop(void)
{
    REQUIRE(ctx, "no OpenCL context");
    clvae_error_t err = {0};
    clvae_dataset_t d = random_set(4, 2, 3, 255, 1.0f / 255.0f, 5);
    clvae_data_dev_t dd;
    REQUIRE(clvae_data_upload(ctx, &d, &dd, &err) == CLVAE_OK, "%s", err.msg);
    /* bypass the host check: a raw buffer holding index 999 */
    uint32_t ix[3] = {3, 999, 1};
    cl_int rc;
    cl_mem idx = clCreateBuffer(clvae_ctx_cl_context(ctx), CL_MEM_READ_ONLY |
                                CL_MEM_COPY_HOST_PTR, sizeof ix, ix, &rc);
    REQUIRE(rc == CL_SUCCESS, "clCreateBuffer %d", rc);
    float init[18], want[18];
    for (int i = 0; i < 18; i++) init[i] = want[i] = -7.0f;
    clvae_buf_t out = tu_upload(ctx, init, 18);
    REQUIRE(out.mem, "upload");
    CHECK(clvae_data_gather(ctx, out, &dd, idx, 0, 3, &err) == CLVAE_OK, "%s", err.msg);
    float *got = tu_download(ctx, out, 18);
    clvae_data_gather_ref(want, &d, ix, 3);
    CHECK(got && memcmp(got, want, sizeof want) == 0, "device and reference differ");
    CHECK(want[6] == -7.0f && want[11] == -7.0f && want[0] != -7.0f,
          "row 1 should be untouched, row 0 written");
    free(got);
    clvae_buf_free(&out);
    clReleaseMemObject(idx);
    clvae_data_dev_free(&dd);
    clvae_dataset_free(&d);
}

/* With CLVAE_MAX_ALLOC below the dataset's size, the pixels go up in chunks of whole examples
 * and the gather (one launch per chunk) matches the reference bit for bit. */
static void t_gather_from_chunks(void)
{
    REQUIRE(ctx, "no OpenCL context");
    /* the cap also limits the index and output buffers: small batches of a larger set */
    static const struct { const char *cap; size_t n, h, w, per, chunks, B; } cases[] = {
        {"1000", 200, 5, 7, 28, 8, 6},   /* 35-byte examples, 28 to a chunk, the last holds 4 */
        {"200", 40, 5, 7, 5, 8, 1},      /* 5 to a chunk */
        {"3200", 50, 28, 28, 4, 13, 1},  /* MNIST-sized examples, 4 to a chunk */
        {"100000", 37, 5, 7, 37, 1, 37}, /* the whole set fits one buffer */
    };
    for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
        clvae_ctx_opts_t o;
        clvae_ctx_opts_from_env(&o);
        o.max_alloc = cases[c].cap;
        clvae_ctx_t *small = NULL;
        clvae_error_t err = {0};
        REQUIRE(clvae_ctx_init(&small, &o, &err) == CLVAE_OK, "%s", err.msg);
        CHECK(clvae_ctx_device(small)->max_alloc == strtoull(cases[c].cap, NULL, 10),
              "cap %s not applied", cases[c].cap);
        clvae_dataset_t d = random_set(cases[c].n, cases[c].h, cases[c].w, 255, 1.0f / 255.0f,
                                       (uint64_t)c + 11);
        clvae_data_dev_t dd;
        CHECK(clvae_data_upload(small, &d, &dd, &err) == CLVAE_OK, "%s", err.msg);
        CHECK(dd.nchunks == cases[c].chunks && dd.per_chunk == cases[c].per,
              "cap %s: %zu chunks of %zu, want %zu of %zu", cases[c].cap, dd.nchunks,
              dd.per_chunk, cases[c].chunks, cases[c].per);
        uint32_t *perm = malloc(d.n * sizeof *perm);
        clvae_shuffle(perm, d.n, 5, (uint64_t)c);
        cl_mem idx = NULL;
        clvae_ctx_t *keep = ctx;
        ctx = small; /* gather_case works on the global context */
        if (clvae_data_upload_indices(small, &idx, perm, d.n, d.n, &err) == CLVAE_OK) {
            size_t B = cases[c].B;
            for (size_t at = 0; at + B <= d.n; at += B * 3 + 1)
                gather_case(cases[c].cap, &dd, &d, idx, perm, at, B);
            gather_case(cases[c].cap, &dd, &d, idx, perm, d.n - B, B);
            clReleaseMemObject(idx);
        } else {
            CHECK(0, "%s", err.msg);
        }
        ctx = keep;
        free(perm);
        clvae_data_dev_free(&dd);
        clvae_dataset_free(&d);
        clvae_ctx_free(small);
    }
    /* a cap that is not a byte count is refused, naming the variable */
    const char *bad[] = {"", "x", "12Q", "-5", "0", "99999999999999999999"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        clvae_ctx_opts_t o;
        clvae_ctx_opts_from_env(&o);
        o.max_alloc = bad[i];
        clvae_ctx_t *small = NULL;
        clvae_error_t err = {0};
        CHECK(clvae_ctx_init(&small, &o, &err) == CLVAE_ERR_INVALID &&
                  strstr(err.msg, "CLVAE_MAX_ALLOC"), "'%s': %s", bad[i], err.msg);
        clvae_ctx_free(small);
    }
    clvae_ctx_opts_t o;
    clvae_ctx_opts_from_env(&o);
    o.max_alloc = "64K";
    clvae_ctx_t *small = NULL;
    clvae_error_t err = {0};
    CHECK(clvae_ctx_init(&small, &o, &err) == CLVAE_OK &&
              clvae_ctx_device(small)->max_alloc == 65536, "64K: %s", err.msg);
    clvae_ctx_free(small);
}

static void t_device_rejects(void)
{
    REQUIRE(ctx, "no OpenCL context");
    clvae_error_t err = {0};
    /* indices out of range never reach the device */
    uint32_t perm[5] = {0, 1, 4, 5, 2};
    cl_mem idx = NULL;
    CHECK(clvae_data_upload_indices(ctx, &idx, perm, 5, 5, &err) == CLVAE_ERR_INVALID,
          "index 5 of 5 accepted");
    CHECK(strstr(err.msg, "index 5 at position 3"), "message: %s", err.msg);
    CHECK(idx == NULL, "a buffer was created for rejected indices");
    CHECK(clvae_data_upload_indices(ctx, &idx, perm, 0, 5, &err) == CLVAE_ERR_INVALID,
          "0 indices accepted");
    CHECK(clvae_data_upload_indices(ctx, &idx, perm, 3, 5, &err) == CLVAE_OK, "%s", err.msg);
    cl_mem kept = idx;
    CHECK(clvae_data_upload_indices(ctx, &idx, perm, 5, 4, &err) == CLVAE_ERR_INVALID,
          "index 4 of 4 accepted into an existing buffer");
    CHECK(idx == kept, "a rejected refill changed the buffer");

    /* a dataset over the device's global memory, and one example over the maximum allocation
     * (the pixels are never read) */
    const clvae_device_info_t *dev = clvae_ctx_device(ctx);
    clvae_dataset_t big;
    memset(&big, 0, sizeof big);
    uint8_t one = 0;
    big.pixels = &one;
    big.c = 1;
    big.h = 1;
    big.w = 2;
    big.n = (size_t)(dev->global_mem / 2) + 1;
    big.scale = 1.0f;
    snprintf(big.name, sizeof big.name, "too-big");
    clvae_data_dev_t dd;
    memset(&dd, 0x5a, sizeof dd);
    char want[64];
    snprintf(want, sizeof want, "--limit %llu", (unsigned long long)(dev->global_mem / 4));
    CHECK(clvae_data_upload(ctx, &big, &dd, &err) == CLVAE_ERR_INVALID, "too big accepted");
    CHECK(strstr(err.msg, "global memory") && strstr(err.msg, want) &&
          strstr(err.msg, "too-big"), "message: %s", err.msg);
    CHECK(dd.chunks == NULL && dd.nchunks == 0, "output not cleared");
    big.n = 1;
    big.w = (size_t)dev->max_alloc + 1;
    snprintf(want, sizeof want, "%llu bytes",
             (unsigned long long)(dev->max_alloc < UINT32_MAX ? dev->max_alloc : UINT32_MAX));
    CHECK(clvae_data_upload(ctx, &big, &dd, &err) == CLVAE_ERR_INVALID, "huge example accepted");
    CHECK(strstr(err.msg, "one example") && strstr(err.msg, want) && strstr(err.msg, "too-big"),
          "message: %s", err.msg);
    big.n = 0;
    CHECK(clvae_data_upload(ctx, &big, &dd, &err) == CLVAE_ERR_INVALID, "empty set accepted");

    /* gather arguments */
    clvae_dataset_t d = random_set(3, 2, 2, 255, 1.0f / 255.0f, 6);
    REQUIRE(clvae_data_upload(ctx, &d, &dd, &err) == CLVAE_OK, "%s", err.msg);
    clvae_buf_t out = tu_zeros(ctx, 12);
    CHECK(clvae_data_gather(ctx, out, &dd, idx, 0, 0, &err) == CLVAE_ERR_INVALID, "B=0");
    CHECK(clvae_data_gather(ctx, out, &dd, NULL, 0, 1, &err) == CLVAE_ERR_INVALID, "no idx");
    CHECK(clvae_data_gather(ctx, out, &dd, idx, 1, 3, &err) == CLVAE_ERR_INVALID,
          "indices 1..3 of a 3-entry buffer");
    CHECK(strstr(err.msg, "index buffer"), "message: %s", err.msg);
    clvae_buf_t late = clvae_buf_at(out, 8); /* 4 + 3 guards left: room for 7 floats */
    CHECK(clvae_data_gather(ctx, late, &dd, idx, 0, 2, &err) == CLVAE_ERR_INVALID,
          "8 floats into 7");
    CHECK(strstr(err.msg, "clvae_data_gather: out needs floats [11, 19)") &&
              strstr(err.msg, "buffer holds 18"), "message: %s", err.msg);
    CHECK(clvae_data_gather(ctx, out, &dd, idx, 0, 3, &err) == CLVAE_OK, "%s", err.msg);
    clvae_buf_free(&out);
    clReleaseMemObject(idx);
    clvae_data_dev_free(&dd);
    clvae_dataset_free(&d);
}

int main(void)
{
    verbose = getenv("TEST_VERBOSE") && atoi(getenv("TEST_VERBOSE")) > 0;
    snprintf(tmpdir, sizeof tmpdir, "/tmp/clvae-test-data-XXXXXX");
    if (!mkdtemp(tmpdir)) {
        perror("mkdtemp");
        return 1;
    }
    RUN(t_idx_raw_round_trip);
    RUN(t_idx_gzip_and_misnamed);
    RUN(t_idx_rejects_hostile_headers);
    RUN(t_idx_rejects_broken_gzip);
    RUN(t_digits_csv);
    RUN(t_digits_rejects);
    RUN(t_dataset_open_specs);
    RUN(t_dataset_open_errors);
    RUN(t_dataset_limit);
    RUN(t_real_mnist);
    RUN(t_real_fashion_mnist);
    RUN(t_real_digits);
    RUN(t_shuffle_is_permutation);
    RUN(t_shuffle_matches_spec);
    RUN(t_shuffle_deterministic_and_varies);
    RUN(t_shuffle_uniform);
    ctx = tu_ctx();
    RUN(t_gather_matches_reference);
    RUN(t_gather_out_of_range_index_is_noop);
    RUN(t_gather_from_chunks);
    RUN(t_device_rejects);
    clvae_ctx_free(ctx);
    char cmd[300];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", tmpdir);
    if (system(cmd) != 0) fprintf(stderr, "could not remove %s\n", tmpdir);
    return TEST_EXIT();
}
