/* Datasets on the host: IDX (raw or gzip) and digits CSV loaders, dataset specs, the shuffle. */
#include "clvae/data/data.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <zlib.h>

#include "clvae/ops/rng.h"

/* Largest IDX payload accepted (images or labels), in bytes. */
#define IDX_MAX_BYTES ((uint64_t)1 << 31)
/* Largest digits CSV accepted (uncompressed), in bytes; the real one is about 300 KB. */
#define DIGITS_MAX_BYTES ((size_t)16 << 20)
/* Fields of a digits CSV row: 64 pixels and the label. */
#define DIGITS_FIELDS 65
/* Rows of the digits set that form "digits:train"; the rest are "digits:test". */
#define DIGITS_TRAIN_ROWS 1500
/* Compressed bytes read from the file at a time. */
#define SRC_CHUNK 65536

/* ---- byte source: a file, raw or gzip (detected by the 1f 8b magic) -------------------- */

/* An open input file that yields its (uncompressed) bytes. */
typedef struct src {
    FILE *f;
    const char *path;
    int gz;          /* the file starts with the gzip magic */
    int zinit;       /* zs is initialised */
    int zend;        /* the current gzip member has ended (its CRC and length verified) */
    z_stream zs;     /* next_in/avail_in also buffer the raw file's first chunk */
    uint64_t out;    /* bytes delivered so far */
    unsigned char in[SRC_CHUNK];
} src_t;

static void src_close(src_t *s)
{
    if (s->zinit) inflateEnd(&s->zs);
    if (s->f) fclose(s->f);
    s->zinit = 0;
    s->f = NULL;
}

/* Reads the next chunk of the file into s->in after the `keep` bytes already at its start
 * and makes them the input; *got = 0 at the end of the file. */
static clvae_status_t src_refill(src_t *s, size_t keep, size_t *got, clvae_error_t *err)
{
    size_t n = feof(s->f) ? 0 : fread(s->in + keep, 1, sizeof s->in - keep, s->f);
    *got = n;
    if (n == 0 && ferror(s->f))
        return CLVAE_FAIL(err, CLVAE_ERR_IO, "%s: read failed: %s", s->path, strerror(errno));
    s->zs.next_in = s->in;
    s->zs.avail_in = (uInt)(keep + n);
    return CLVAE_OK;
}

/* Opens path and looks at its first bytes to tell gzip from raw. */
static clvae_status_t src_open(src_t *s, const char *path, clvae_error_t *err)
{
    memset(s, 0, offsetof(src_t, in));
    s->path = path;
    s->f = fopen(path, "rb");
    if (!s->f)
        return CLVAE_FAIL(err, errno == ENOENT ? CLVAE_ERR_NOT_FOUND : CLVAE_ERR_IO,
                          "%s: cannot open: %s", path, strerror(errno));
    size_t got;
    clvae_status_t st = src_refill(s, 0, &got, err);
    if (st) {
        src_close(s);
        return st;
    }
    if (s->zs.avail_in >= 2 && s->in[0] == 0x1f && s->in[1] == 0x8b) {
        s->gz = 1;
        unsigned char *next = s->zs.next_in;
        uInt avail = s->zs.avail_in;
        int rc = inflateInit2(&s->zs, 16 + MAX_WBITS); /* gzip wrapper only */
        if (rc != Z_OK) {
            src_close(s);
            return CLVAE_FAIL(err, rc == Z_MEM_ERROR ? CLVAE_ERR_NOMEM : CLVAE_ERR_IO,
                              "%s: cannot start gzip decompression (zlib error %d)", path, rc);
        }
        s->zinit = 1;
        s->zs.next_in = next;
        s->zs.avail_in = avail;
    }
    return CLVAE_OK;
}

/* Raw file: up to n bytes into dst; *got < n only at the end of the file. */
static clvae_status_t src_read_raw(src_t *s, unsigned char *dst, size_t n, size_t *got,
                                   clvae_error_t *err)
{
    size_t total = 0;
    if (s->zs.avail_in > 0) {
        size_t k = s->zs.avail_in < n ? s->zs.avail_in : n;
        memcpy(dst, s->zs.next_in, k);
        s->zs.next_in += k;
        s->zs.avail_in -= (uInt)k;
        total = k;
    }
    while (total < n) {
        size_t k = fread(dst + total, 1, n - total, s->f);
        if (k == 0) {
            if (ferror(s->f))
                return CLVAE_FAIL(err, CLVAE_ERR_IO, "%s: read failed: %s", s->path,
                                  strerror(errno));
            break;
        }
        total += k;
    }
    *got = total;
    return CLVAE_OK;
}

/* Gzip file: up to n uncompressed bytes into dst; *got < n only where the last gzip member
 * ends cleanly with the file. A stream cut short, a bad CRC or garbage after the last member
 * is CLVAE_ERR_CORRUPT. Never decompresses more than n bytes. */
static clvae_status_t src_read_gz(src_t *s, unsigned char *dst, size_t n, size_t *got,
                                  clvae_error_t *err)
{
    z_stream *z = &s->zs;
    size_t total = 0;
    clvae_status_t st;
    while (total < n) {
        size_t more;
        if (s->zend) {
            /* After a member: the end of the file, or another member (as gzip -c a b > c). */
            if (z->avail_in < 2) {
                size_t keep = z->avail_in;
                if (keep) s->in[0] = z->next_in[0];
                if ((st = src_refill(s, keep, &more, err))) return st;
                if (z->avail_in == 0) break; /* clean end */
            }
            if (z->avail_in < 2 || z->next_in[0] != 0x1f || z->next_in[1] != 0x8b)
                return CLVAE_FAIL(err, CLVAE_ERR_CORRUPT,
                                  "%s: unexpected bytes after the end of the gzip stream", s->path);
            if (inflateReset(z) != Z_OK)
                return CLVAE_FAIL(err, CLVAE_ERR_CORRUPT, "%s: cannot restart gzip decompression",
                                  s->path);
            s->zend = 0;
        }
        if (z->avail_in == 0) {
            if ((st = src_refill(s, 0, &more, err))) return st;
            if (more == 0)
                return CLVAE_FAIL(err, CLVAE_ERR_CORRUPT,
                                  "%s: gzip stream is truncated (it stops after %llu "
                                  "uncompressed bytes, before its end marker)",
                                  s->path, (unsigned long long)(s->out + total));
        }
        size_t want = n - total;
        if (want > (1u << 30)) want = 1u << 30;
        z->next_out = dst + total;
        z->avail_out = (uInt)want;
        int rc = inflate(z, Z_NO_FLUSH);
        total += want - z->avail_out;
        switch (rc) {
        case Z_STREAM_END:
            s->zend = 1;
            break;
        case Z_OK:
            break;
        case Z_BUF_ERROR: /* no progress: needs input, which the loop fetches */
            if (z->avail_in != 0)
                return CLVAE_FAIL(err, CLVAE_ERR_CORRUPT, "%s: gzip decompression is stuck",
                                  s->path);
            break;
        case Z_MEM_ERROR:
            return CLVAE_FAIL(err, CLVAE_ERR_NOMEM, "%s: out of memory decompressing", s->path);
        default: /* Z_DATA_ERROR (bad data, bad CRC or length), Z_NEED_DICT, Z_STREAM_ERROR */
            return CLVAE_FAIL(err, CLVAE_ERR_CORRUPT, "%s: gzip data is corrupt: %s", s->path,
                              z->msg ? z->msg : "zlib error");
        }
    }
    *got = total;
    return CLVAE_OK;
}

/* Up to n bytes of content; *got < n only at a clean end of the data. */
static clvae_status_t src_read(src_t *s, void *dst, size_t n, size_t *got, clvae_error_t *err)
{
    *got = 0;
    if (n == 0) return CLVAE_OK;
    clvae_status_t st = s->gz ? src_read_gz(s, dst, n, got, err)
                              : src_read_raw(s, dst, n, got, err);
    s->out += *got;
    return st;
}

/* Reads up to `limit` bytes into a heap buffer that grows only as data arrives (so a header
 * that declares much more than the file holds costs no memory); *got < limit at the end. */
static clvae_status_t src_read_alloc(src_t *s, size_t limit, uint8_t **out, size_t *got,
                                     clvae_error_t *err)
{
    *out = NULL;
    *got = 0;
    size_t cap = limit < ((size_t)1 << 20) ? limit : ((size_t)1 << 20), have = 0;
    uint8_t *buf = malloc(cap ? cap : 1);
    if (!buf) return CLVAE_FAIL(err, CLVAE_ERR_NOMEM, "%s: out of host memory", s->path);
    for (;;) {
        size_t k;
        clvae_status_t st = src_read(s, buf + have, cap - have, &k, err);
        if (st) {
            free(buf);
            return st;
        }
        have += k;
        if (have < cap || cap == limit) break;
        size_t ncap = cap > limit / 2 ? limit : cap * 2;
        uint8_t *grown = realloc(buf, ncap);
        if (!grown) {
            free(buf);
            return CLVAE_FAIL(err, CLVAE_ERR_NOMEM, "%s: out of host memory (%zu bytes)",
                              s->path, ncap);
        }
        buf = grown;
        cap = ncap;
    }
    *out = buf;
    *got = have;
    return CLVAE_OK;
}

/* ---- IDX --------------------------------------------------------------------------------- */

#define IDX_IMAGES_MAGIC 0x00000803u
#define IDX_LABELS_MAGIC 0x00000801u

/* "N images of HxW" or "N labels" for messages. */
static void idx_describe(char *buf, size_t size, int ndims, const uint32_t *d)
{
    if (ndims == 3)
        snprintf(buf, size, "%lu images of %lux%lu", (unsigned long)d[0], (unsigned long)d[1],
                 (unsigned long)d[2]);
    else
        snprintf(buf, size, "%lu labels", (unsigned long)d[0]);
}

/* Reads an IDX file of unsigned bytes with ndims dimensions (3: images, 1: labels): its
 * dimensions into dims and its payload into a new *data. */
static clvae_status_t idx_read(const char *path, int ndims, uint32_t dims[3], uint8_t **data,
                               clvae_error_t *err)
{
    const uint32_t want = ndims == 3 ? IDX_IMAGES_MAGIC : IDX_LABELS_MAGIC;
    const char *what = ndims == 3 ? "IDX images (magic 0x00000803, n x h x w unsigned bytes)"
                                  : "IDX labels (magic 0x00000801, n unsigned bytes)";
    src_t *s = malloc(sizeof *s);
    uint8_t *buf = NULL;
    *data = NULL;
    if (!s) return CLVAE_FAIL(err, CLVAE_ERR_NOMEM, "%s: out of host memory", path);
    clvae_status_t st = src_open(s, path, err);
    if (st) {
        free(s);
        return st;
    }
    unsigned char hdr[16];
    const size_t hlen = 4 + 4 * (size_t)ndims;
    size_t got;
    char desc[96];
    if ((st = src_read(s, hdr, hlen, &got, err))) goto out;
    if (got == 0) {
        st = CLVAE_FAIL(err, CLVAE_ERR_INVALID, "%s: empty file (expected %s)", path, what);
        goto out;
    }
    if (got >= 4) {
        uint32_t magic = (uint32_t)hdr[0] << 24 | (uint32_t)hdr[1] << 16 |
                         (uint32_t)hdr[2] << 8 | hdr[3];
        if (magic != want) {
            st = CLVAE_FAIL(err, CLVAE_ERR_INVALID, "%s: wrong magic 0x%08lx, expected %s%s",
                            path, (unsigned long)magic, what,
                            magic == (ndims == 3 ? IDX_LABELS_MAGIC : IDX_IMAGES_MAGIC)
                                ? " (is this the other file of the pair?)" : "");
            goto out;
        }
    }
    if (got < hlen) {
        st = CLVAE_FAIL(err, CLVAE_ERR_INVALID, "%s: only %zu bytes, too short for the %zu-byte "
                        "header of %s", path, got, hlen, what);
        goto out;
    }
    uint64_t bytes = 1;
    for (int i = 0; i < ndims; i++) {
        const unsigned char *p = hdr + 4 + 4 * i;
        dims[i] = (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
        if (dims[i] == 0) {
            st = CLVAE_FAIL(err, CLVAE_ERR_INVALID, "%s: dimension %d of the IDX header is 0",
                            path, i);
            goto out;
        }
    }
    idx_describe(desc, sizeof desc, ndims, dims);
    for (int i = 0; i < ndims; i++) {
        if (dims[i] > IDX_MAX_BYTES / bytes) {
            st = CLVAE_FAIL(err, CLVAE_ERR_INVALID, "%s: declares %s, more than the limit of "
                            "2^31 bytes", path, desc);
            goto out;
        }
        bytes *= dims[i];
    }
    if (!s->gz) { /* a raw file's size is known up front: compare before allocating */
        struct stat sb;
        if (fstat(fileno(s->f), &sb) == 0 && S_ISREG(sb.st_mode) &&
            (uint64_t)sb.st_size != hlen + bytes) {
            st = CLVAE_FAIL(err, CLVAE_ERR_INVALID, "%s: declares %s (%llu bytes with the "
                            "header) but the file holds %lld bytes", path, desc,
                            (unsigned long long)(hlen + bytes), (long long)sb.st_size);
            goto out;
        }
    }
    if ((st = src_read_alloc(s, (size_t)bytes, &buf, &got, err))) goto out;
    if (got < bytes) {
        st = CLVAE_FAIL(err, CLVAE_ERR_INVALID, "%s: declares %s (%llu bytes) but holds only "
                        "%zu bytes of data%s", path, desc, (unsigned long long)bytes, got,
                        s->gz ? " once uncompressed" : "");
        goto out;
    }
    unsigned char extra;
    if ((st = src_read(s, &extra, 1, &got, err))) goto out;
    if (got != 0) {
        st = CLVAE_FAIL(err, CLVAE_ERR_INVALID, "%s: has bytes after the declared %s "
                        "(%llu bytes%s)", path, desc, (unsigned long long)bytes,
                        s->gz ? " uncompressed" : "");
        goto out;
    }
    *data = buf;
    buf = NULL;
out:
    free(buf);
    src_close(s);
    free(s);
    return st;
}

clvae_status_t clvae_idx_load(const char *images_path, const char *labels_path,
                              clvae_dataset_t *out, clvae_error_t *err)
{
    if (!out) return CLVAE_FAIL(err, CLVAE_ERR_INVALID, "clvae_idx_load: no output dataset");
    memset(out, 0, sizeof *out);
    if (!images_path || !*images_path)
        return CLVAE_FAIL(err, CLVAE_ERR_INVALID, "clvae_idx_load: no images path");
    uint32_t idims[3] = {0}, ldims[3] = {0};
    uint8_t *pixels = NULL, *labels = NULL;
    clvae_status_t st = idx_read(images_path, 3, idims, &pixels, err);
    if (st) return st;
    if (labels_path) {
        if ((st = idx_read(labels_path, 1, ldims, &labels, err))) {
            free(pixels);
            return st;
        }
        if (ldims[0] != idims[0]) {
            free(pixels);
            free(labels);
            return CLVAE_FAIL(err, CLVAE_ERR_INVALID, "%s: holds %lu labels but %s holds %lu "
                              "images", labels_path, (unsigned long)ldims[0], images_path,
                              (unsigned long)idims[0]);
        }
    }
    out->n = idims[0];
    out->c = 1;
    out->h = idims[1];
    out->w = idims[2];
    out->pixels = pixels;
    out->labels = labels;
    out->scale = 1.0f / 255.0f;
    if (labels) {
        int mx = 0;
        for (size_t i = 0; i < out->n; i++)
            if (labels[i] > mx) mx = labels[i];
        out->classes = mx + 1;
    }
    snprintf(out->name, sizeof out->name, "%s", images_path);
    return CLVAE_OK;
}

/* ---- digits CSV -------------------------------------------------------------------------- */

/* The whole number in [p, e) (blanks around it allowed, and a fraction of zeros as in "16.0"),
 * or -1 when it is not one. */
static long parse_count(const char *p, const char *e)
{
    while (p < e && (*p == ' ' || *p == '\t')) p++;
    while (e > p && (e[-1] == ' ' || e[-1] == '\t')) e--;
    long v = 0;
    int digits = 0;
    while (p < e && *p >= '0' && *p <= '9') {
        if (v < 1000000) v = v * 10 + (*p - '0');
        p++;
        digits++;
    }
    if (digits == 0) return -1;
    if (p < e && *p == '.') {
        p++;
        while (p < e && *p == '0') p++;
    }
    return p == e ? v : -1;
}

/* Parses the CSV text buf[0..len) into d (rows of 64 pixels and a label). */
static clvae_status_t digits_parse(const char *path, const char *buf, size_t len,
                                   clvae_dataset_t *d, clvae_error_t *err)
{
    size_t max_rows = 1;
    for (size_t i = 0; i < len; i++) max_rows += buf[i] == '\n';
    uint8_t *px = malloc(max_rows * 64), *lb = malloc(max_rows);
    if (!px || !lb) {
        free(px);
        free(lb);
        return CLVAE_FAIL(err, CLVAE_ERR_NOMEM, "%s: out of host memory", path);
    }
    size_t rows = 0, line = 0, blank = 0;
    clvae_status_t st = CLVAE_OK;
    for (size_t pos = 0; pos < len;) {
        const char *b = buf + pos;
        const char *nl = memchr(b, '\n', len - pos);
        const char *e = nl ? nl : buf + len;
        pos = (size_t)(e - buf) + (nl ? 1 : 0);
        line++;
        if (e > b && e[-1] == '\r') e--;
        if (e == b) {
            if (!blank) blank = line;
            continue;
        }
        if (blank) {
            st = CLVAE_FAIL(err, CLVAE_ERR_INVALID, "%s:%zu: empty line inside the data", path,
                            blank);
            goto fail;
        }
        size_t fields = 1;
        for (const char *p = b; p < e; p++) fields += *p == ',';
        if (fields != DIGITS_FIELDS) {
            st = CLVAE_FAIL(err, CLVAE_ERR_INVALID, "%s:%zu: %zu fields, expected %d (64 pixel "
                            "values 0..16 and a label 0..9)", path, line, fields, DIGITS_FIELDS);
            goto fail;
        }
        const char *p = b;
        for (int f = 0; f < DIGITS_FIELDS; f++) {
            const char *q = memchr(p, ',', (size_t)(e - p));
            if (!q) q = e;
            long v = parse_count(p, q);
            int shown = q - p > 24 ? 24 : (int)(q - p);
            const char *more = q - p > 24 ? "..." : "";
            if (v < 0) {
                st = CLVAE_FAIL(err, CLVAE_ERR_INVALID, "%s:%zu: field %d \"%.*s%s\" is not a "
                                "whole number", path, line, f + 1, shown, p, more);
                goto fail;
            }
            if (f < 64 && v > 16) {
                st = CLVAE_FAIL(err, CLVAE_ERR_INVALID, "%s:%zu: pixel value \"%.*s%s\" in field "
                                "%d is outside 0..16", path, line, shown, p, more, f + 1);
                goto fail;
            }
            if (f == 64 && v > 9) {
                st = CLVAE_FAIL(err, CLVAE_ERR_INVALID, "%s:%zu: label \"%.*s%s\" (field 65) is "
                                "outside 0..9", path, line, shown, p, more);
                goto fail;
            }
            if (f < 64) px[rows * 64 + (size_t)f] = (uint8_t)v;
            else lb[rows] = (uint8_t)v;
            p = q + 1;
        }
        rows++;
    }
    if (rows == 0) {
        st = CLVAE_FAIL(err, CLVAE_ERR_INVALID, "%s: no data rows (expected rows of 64 pixel "
                        "values and a label)", path);
        goto fail;
    }
    d->n = rows;
    d->c = 1;
    d->h = 8;
    d->w = 8;
    d->pixels = px;
    d->labels = lb;
    d->classes = 10;
    d->scale = 1.0f / 16.0f;
    snprintf(d->name, sizeof d->name, "%s", path);
    return CLVAE_OK;
fail:
    free(px);
    free(lb);
    return st;
}

clvae_status_t clvae_digits_load(const char *path, clvae_dataset_t *out, clvae_error_t *err)
{
    if (!out) return CLVAE_FAIL(err, CLVAE_ERR_INVALID, "clvae_digits_load: no output dataset");
    memset(out, 0, sizeof *out);
    if (!path || !*path) return CLVAE_FAIL(err, CLVAE_ERR_INVALID, "clvae_digits_load: no path");
    src_t *s = malloc(sizeof *s);
    if (!s) return CLVAE_FAIL(err, CLVAE_ERR_NOMEM, "%s: out of host memory", path);
    clvae_status_t st = src_open(s, path, err);
    if (st) {
        free(s);
        return st;
    }
    uint8_t *buf = NULL;
    size_t len = 0;
    st = src_read_alloc(s, DIGITS_MAX_BYTES + 1, &buf, &len, err);
    src_close(s);
    free(s);
    if (st) return st;
    if (len == 0) st = CLVAE_FAIL(err, CLVAE_ERR_INVALID, "%s: empty file", path);
    else if (len > DIGITS_MAX_BYTES)
        st = CLVAE_FAIL(err, CLVAE_ERR_INVALID, "%s: more than %zu MiB of text, too large for "
                        "a digits CSV", path, DIGITS_MAX_BYTES >> 20);
    else st = digits_parse(path, (const char *)buf, len, out, err);
    free(buf);
    return st;
}

/* ---- dataset specs ----------------------------------------------------------------------- */

#define SPEC_FORMS                                                                        \
    "mnist:train, mnist:test, fashion-mnist:train, fashion-mnist:test, digits, digits:train, " \
    "digits:test, idx:IMAGES or idx:IMAGES,LABELS, npy:IMAGES.npy or npy:IMAGES.npy,LABELS.npy, " \
    "folder:PATH (PNG files, PATH/<label>/*.png for labels)"
#define DATA_HINT "run 'make data' or set CLVAE_DATA_DIR"

/* Finds DIR/sub/name for each folder DIR of the ':'-separated list data_dir (name = base +
 * suffix, for each of the two suffixes in turn) and writes the first path found;
 * CLVAE_ERR_NOT_FOUND with the folders searched and the hint when none exists. */
static clvae_status_t find_file(const char *spec, const char *data_dir, const char *sub,
                                const char *base, const char *const suffix[2], char *path,
                                size_t size, clvae_error_t *err)
{
    for (const char *p = data_dir;;) {
        size_t len = strcspn(p, ":");
        for (int i = 0; len && i < 2; i++) {
            int k = snprintf(path, size, "%.*s/%s/%s%s", (int)len, p, sub, base, suffix[i]);
            if (k < 0 || (size_t)k >= size)
                return CLVAE_FAIL(err, CLVAE_ERR_INVALID, "%s: data folder path too long: %.*s",
                                  spec, (int)len, p);
            struct stat sb;
            if (stat(path, &sb) == 0 || errno != ENOENT) return CLVAE_OK;
        }
        if (!p[len]) break;
        p += len + 1;
    }
    size_t first = strcspn(data_dir, ":");
    return CLVAE_FAIL(err, CLVAE_ERR_NOT_FOUND, "%s: %.*s/%s/%s%s not found (nor %s%s)%s%s%s: "
                      DATA_HINT, spec, (int)first, data_dir, sub, base, suffix[0], base,
                      suffix[1], data_dir[first] ? ", nor in the other data folders (" : "",
                      data_dir[first] ? data_dir + first + 1 : "", data_dir[first] ? ")" : "");
}

void clvae_data_dirs(char *buf, size_t size)
{
    const char *d = getenv("CLVAE_DATA_DIR");
    if (d && *d) {
        snprintf(buf, size, "%s", d);
        return;
    }
    const char *x = getenv("XDG_DATA_HOME"), *home = getenv("HOME");
    if (x && *x) snprintf(buf, size, "%s/clvae:data", x);
    else if (home && *home) snprintf(buf, size, "%s/.local/share/clvae:data", home);
    else snprintf(buf, size, "data");
}

/* Adds the "make data" hint to a file that vanished between the look-up and the load. */
static clvae_status_t with_hint(clvae_status_t st, clvae_error_t *err)
{
    if (st == CLVAE_ERR_NOT_FOUND && err && !strstr(err->msg, DATA_HINT)) {
        size_t k = strlen(err->msg);
        snprintf(err->msg + k, sizeof err->msg - k, " (" DATA_HINT ")");
    }
    return st;
}

/* "mnist:train" etc.: the IDX pair under data_dir/sub. */
static clvae_status_t open_mnist_like(const char *spec, const char *data_dir, const char *sub,
                                      const char *stem, clvae_dataset_t *out, clvae_error_t *err)
{
    static const char *const suffix[2] = {"", ".gz"};
    char images[4096], labels[4096], base[64];
    snprintf(base, sizeof base, "%s-images-idx3-ubyte", stem);
    clvae_status_t st = find_file(spec, data_dir, sub, base, suffix, images, sizeof images, err);
    if (st) return st;
    snprintf(base, sizeof base, "%s-labels-idx1-ubyte", stem);
    if ((st = find_file(spec, data_dir, sub, base, suffix, labels, sizeof labels, err)))
        return st;
    if ((st = clvae_idx_load(images, labels, out, err))) return with_hint(st, err);
    if (out->classes < 10) out->classes = 10;
    snprintf(out->name, sizeof out->name, "%s", spec);
    return CLVAE_OK;
}

/* "digits", "digits:train", "digits:test" (part: 0 all, 1 train, 2 test). */
static clvae_status_t open_digits(const char *spec, const char *data_dir, int part,
                                  clvae_dataset_t *out, clvae_error_t *err)
{
    static const char *const suffix[2] = {".gz", ""};
    char path[4096];
    clvae_status_t st = find_file(spec, data_dir, "digits", "digits.csv", suffix, path,
                                  sizeof path, err);
    if (st) return st;
    if ((st = clvae_digits_load(path, out, err))) return with_hint(st, err);
    if (part != 0) {
        if (out->n <= DIGITS_TRAIN_ROWS) {
            size_t n = out->n;
            clvae_dataset_free(out);
            return CLVAE_FAIL(err, CLVAE_ERR_INVALID, "%s: %s holds %zu rows; the digits "
                              "train/test split needs more than %d", spec, path, n,
                              DIGITS_TRAIN_ROWS);
        }
        if (part == 2) {
            size_t rest = out->n - DIGITS_TRAIN_ROWS, dim = clvae_dataset_dim(out);
            memmove(out->pixels, out->pixels + DIGITS_TRAIN_ROWS * dim, rest * dim);
            memmove(out->labels, out->labels + DIGITS_TRAIN_ROWS, rest);
            out->n = rest;
        } else {
            out->n = DIGITS_TRAIN_ROWS;
        }
    }
    snprintf(out->name, sizeof out->name, "%s", spec);
    return CLVAE_OK;
}

/* "idx:IMAGES" or "idx:IMAGES,LABELS". */
static clvae_status_t open_idx(const char *spec, clvae_dataset_t *out, clvae_error_t *err)
{
    const char *rest = spec + 4, *comma = strchr(rest, ',');
    size_t ilen = comma ? (size_t)(comma - rest) : strlen(rest);
    if (ilen == 0 || (comma && comma[1] == 0))
        return CLVAE_FAIL(err, CLVAE_ERR_INVALID, "dataset '%s': empty path (use idx:IMAGES or "
                          "idx:IMAGES,LABELS)", spec);
    char *images = malloc(ilen + 1);
    if (!images) return CLVAE_FAIL(err, CLVAE_ERR_NOMEM, "out of host memory");
    memcpy(images, rest, ilen);
    images[ilen] = 0;
    clvae_status_t st = clvae_idx_load(images, comma ? comma + 1 : NULL, out, err);
    free(images);
    return st;
}

/* "npy:IMAGES.npy" or "npy:IMAGES.npy,LABELS.npy". */
static clvae_status_t open_npy(const char *spec, clvae_dataset_t *out, clvae_error_t *err)
{
    const char *rest = spec + 4, *comma = strchr(rest, ',');
    size_t ilen = comma ? (size_t)(comma - rest) : strlen(rest);
    if (ilen == 0 || (comma && comma[1] == 0))
        return CLVAE_FAIL(err, CLVAE_ERR_INVALID, "dataset '%s': empty path (use npy:IMAGES.npy "
                          "or npy:IMAGES.npy,LABELS.npy)", spec);
    char *images = malloc(ilen + 1);
    if (!images) return CLVAE_FAIL(err, CLVAE_ERR_NOMEM, "out of host memory");
    memcpy(images, rest, ilen);
    images[ilen] = 0;
    clvae_status_t st = clvae_npy_load(images, comma ? comma + 1 : NULL, out, err);
    free(images);
    return st;
}

clvae_status_t clvae_dataset_open(const char *spec, const char *data_dir, clvae_dataset_t *out,
                                  clvae_error_t *err)
{
    if (!out) return CLVAE_FAIL(err, CLVAE_ERR_INVALID, "clvae_dataset_open: no output dataset");
    memset(out, 0, sizeof *out);
    if (!spec) spec = "";
    char dirs[4096];
    if (!data_dir || !*data_dir) {
        clvae_data_dirs(dirs, sizeof dirs);
        data_dir = dirs;
    }
    static const struct { const char *spec, *sub, *stem; } named[] = {
        {"mnist:train", "mnist", "train"},
        {"mnist:test", "mnist", "t10k"},
        {"fashion-mnist:train", "fashion-mnist", "train"},
        {"fashion-mnist:test", "fashion-mnist", "t10k"},
    };
    for (size_t i = 0; i < sizeof named / sizeof named[0]; i++)
        if (strcmp(spec, named[i].spec) == 0)
            return open_mnist_like(spec, data_dir, named[i].sub, named[i].stem, out, err);
    if (strcmp(spec, "digits") == 0) return open_digits(spec, data_dir, 0, out, err);
    if (strcmp(spec, "digits:train") == 0) return open_digits(spec, data_dir, 1, out, err);
    if (strcmp(spec, "digits:test") == 0) return open_digits(spec, data_dir, 2, out, err);
    if (strncmp(spec, "idx:", 4) == 0) return open_idx(spec, out, err);
    if (strncmp(spec, "npy:", 4) == 0) return open_npy(spec, out, err);
    if (strncmp(spec, "folder:", 7) == 0) {
        if (!spec[7])
            return CLVAE_FAIL(err, CLVAE_ERR_INVALID, "dataset '%s': empty path (use folder:PATH)",
                              spec);
        return clvae_folder_load(spec + 7, out, err);
    }
    return CLVAE_FAIL(err, CLVAE_ERR_INVALID, "unknown dataset '%s': expected " SPEC_FORMS, spec);
}

clvae_status_t clvae_dataset_limit(clvae_dataset_t *d, size_t n, clvae_error_t *err)
{
    if (!d) return CLVAE_FAIL(err, CLVAE_ERR_INVALID, "clvae_dataset_limit: no dataset");
    if (n == 0 || n > d->n)
        return CLVAE_FAIL(err, CLVAE_ERR_INVALID, "%s: cannot keep %zu examples; it has %zu "
                          "(allowed: 1..%zu)", d->name, n, d->n, d->n);
    if (n < d->n) {
        /* Give the rest back; a failed shrink keeps the larger block, which is fine. */
        uint8_t *p = realloc(d->pixels, n * clvae_dataset_dim(d));
        if (p) d->pixels = p;
        if (d->labels) {
            uint8_t *l = realloc(d->labels, n);
            if (l) d->labels = l;
        }
        d->n = n;
    }
    return CLVAE_OK;
}

void clvae_dataset_free(clvae_dataset_t *d)
{
    if (!d) return;
    free(d->pixels);
    free(d->labels);
    memset(d, 0, sizeof *d);
}

/* ---- shuffle ----------------------------------------------------------------------------- */

/* The shuffle's word stream: word d of (seed, epoch), blocks cached. */
typedef struct shuffle_stream {
    uint32_t key[2];
    uint64_t base;     /* epoch * 2^32 */
    uint64_t d;        /* next word index */
    uint32_t w[4];     /* block d / 4, valid when d % 4 != 0 */
} shuffle_stream_t;

static uint32_t shuffle_word(shuffle_stream_t *s)
{
    if (s->d % 4 == 0) {
        uint64_t c = s->base + s->d / 4;
        const uint32_t ctr[4] = {(uint32_t)c, (uint32_t)(c >> 32), CLVAE_SHUFFLE_TAG, 0u};
        clvae_philox4x32_10(ctr, s->key, s->w);
    }
    return s->w[s->d++ % 4];
}

/* Unbiased integer in [0, r), 1 <= r <= 2^32: rejection on 32-bit words. */
static uint32_t shuffle_draw(shuffle_stream_t *s, uint64_t r)
{
    const uint64_t lim = (((uint64_t)1 << 32) / r) * r;
    uint64_t w;
    do w = shuffle_word(s);
    while (w >= lim);
    return (uint32_t)(w % r);
}

void clvae_shuffle(uint32_t *perm, size_t n, uint64_t seed, uint64_t epoch)
{
    if (!perm || n == 0 || (uint64_t)n > ((uint64_t)1 << 32)) return;
    shuffle_stream_t s = {{(uint32_t)seed, (uint32_t)(seed >> 32)}, epoch << 32, 0, {0}};
    for (size_t k = 0; k < n; k++) perm[k] = (uint32_t)k;
    for (size_t i = n - 1; i > 0; i--) {
        uint32_t j = shuffle_draw(&s, (uint64_t)i + 1);
        uint32_t t = perm[i];
        perm[i] = perm[j];
        perm[j] = t;
    }
}
