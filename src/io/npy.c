/* NumPy .npy arrays: the header's dict parsed with care (hostile files), uint8 written. */
#include "clvae/io/npy.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "clvae/io/fileio.h"

/* Skips spaces in [p, end). */
static const char *skip(const char *p, const char *end)
{
    while (p < end && (*p == ' ' || *p == '\t')) p++;
    return p;
}

/* The value after 'key': in the dict text [h, end), or NULL. */
static const char *value_of(const char *h, const char *end, const char *key)
{
    size_t k = strlen(key);
    for (const char *p = h; p + k + 2 < end; p++) {
        if ((*p == '\'' || *p == '"') && p[k + 1] == *p && memcmp(p + 1, key, k) == 0) {
            const char *q = skip(p + k + 2, end);
            if (q < end && *q == ':') return skip(q + 1, end);
        }
    }
    return NULL;
}

clvae_status_t clvae_npy_parse(const void *buf, size_t n, const char *origin, clvae_npy_t *out,
                               clvae_error_t *err)
{
    const unsigned char *b = buf;
    memset(out, 0, sizeof *out);
    if (n < 10 || memcmp(b, "\x93NUMPY", 6) != 0)
        return CLVAE_FAIL(err, CLVAE_ERR_INVALID, "%s: not a .npy file (no \\x93NUMPY magic)", origin);
    size_t hlen, start;
    if (b[6] == 1) {
        hlen = (size_t)b[8] | (size_t)b[9] << 8;
        start = 10;
    } else if (b[6] == 2 || b[6] == 3) {
        if (n < 12) return CLVAE_FAIL(err, CLVAE_ERR_INVALID, "%s: truncated .npy header", origin);
        hlen = (size_t)b[8] | (size_t)b[9] << 8 | (size_t)b[10] << 16 | (size_t)b[11] << 24;
        start = 12;
    } else {
        return CLVAE_FAIL(err, CLVAE_ERR_INVALID, "%s: .npy version %d is not supported", origin,
                          b[6]);
    }
    if (hlen > n - start || hlen > 65536)
        return CLVAE_FAIL(err, CLVAE_ERR_INVALID, "%s: the .npy header (%zu bytes) does not fit "
                          "the file of %zu bytes", origin, hlen, n);
    const char *h = (const char *)b + start, *end = h + hlen;
    const char *d = value_of(h, end, "descr"), *f = value_of(h, end, "fortran_order"),
               *s = value_of(h, end, "shape");
    if (!d || !f || !s)
        return CLVAE_FAIL(err, CLVAE_ERR_INVALID, "%s: the .npy header lacks descr, fortran_order "
                          "or shape", origin);
    static const struct { const char *name; clvae_npy_dtype_t t; size_t size; } types[] = {
        {"'|u1'", CLVAE_NPY_U8, 1}, {"'<u1'", CLVAE_NPY_U8, 1}, {"'|i1'", CLVAE_NPY_U8, 0},
        {"'<f4'", CLVAE_NPY_F32, 4}, {"'<i4'", CLVAE_NPY_I32, 4}, {"'<i8'", CLVAE_NPY_I64, 8}};
    for (size_t k = 0; k < sizeof types / sizeof types[0] && !out->itemsize; k++)
        if (end - d >= 5 && memcmp(d, types[k].name, 5) == 0 && types[k].size) {
            out->dtype = types[k].t;
            out->itemsize = types[k].size;
        }
    if (!out->itemsize) {
        int w = 0;
        while (d + w < end && w < 12 && d[w] != ',') w++;
        return CLVAE_FAIL(err, CLVAE_ERR_INVALID, "%s: dtype %.*s is not supported (uint8, or "
                          "little-endian float32, int32, int64)", origin, w, d);
    }
    if (!(end - f >= 5 && memcmp(f, "False", 5) == 0))
        return CLVAE_FAIL(err, CLVAE_ERR_INVALID, "%s: a Fortran-order array is not supported "
                          "(save it in C order)", origin);
    if (s >= end || *s != '(')
        return CLVAE_FAIL(err, CLVAE_ERR_INVALID, "%s: the .npy shape is not a tuple", origin);
    s++;
    size_t count = 1;
    for (;;) {
        s = skip(s, end);
        if (s < end && *s == ')') break;
        if (s >= end || *s < '0' || *s > '9' || out->ndim == CLVAE_NPY_MAX_DIMS)
            return CLVAE_FAIL(err, CLVAE_ERR_INVALID, "%s: bad .npy shape (at most %d whole "
                              "numbers)", origin, CLVAE_NPY_MAX_DIMS);
        size_t v = 0;
        while (s < end && *s >= '0' && *s <= '9') {
            if (v > ((size_t)1 << 40)) 
                return CLVAE_FAIL(err, CLVAE_ERR_INVALID, "%s: a .npy dimension is too large", origin);
            v = v * 10 + (size_t)(*s++ - '0');
        }
        if (v && count > ((size_t)1 << 46) / v)
            return CLVAE_FAIL(err, CLVAE_ERR_INVALID, "%s: the .npy array is too large", origin);
        count *= v;
        out->shape[out->ndim++] = v;
        s = skip(s, end);
        if (s < end && *s == ',') s++;
        else if (!(s < end && *s == ')'))
            return CLVAE_FAIL(err, CLVAE_ERR_INVALID, "%s: bad .npy shape", origin);
    }
    size_t need = count * out->itemsize, have = n - start - hlen;
    if (need > have)
        return CLVAE_FAIL(err, CLVAE_ERR_INVALID, "%s: the .npy data is %zu bytes, the shape "
                          "needs %zu (a truncated file?)", origin, have, need);
    out->count = count;
    out->data = b + start + hlen;
    return CLVAE_OK;
}

/* A .npy file (version 1.0) of elements of `size` bytes described by descr. */
static clvae_status_t write_npy(const char *path, const char *descr, size_t size,
                                const size_t *shape, int ndim, const void *data,
                                clvae_error_t *err)
{
    if (ndim < 1 || ndim > CLVAE_NPY_MAX_DIMS)
        return CLVAE_FAIL(err, CLVAE_ERR_INVALID, "%s: %d dimensions", path, ndim);
    char dict[512];
    size_t len = (size_t)snprintf(dict, sizeof dict, "{'descr': '%s', 'fortran_order': False, "
                                  "'shape': (", descr);
    size_t count = 1;
    for (int i = 0; i < ndim; i++) {
        len += (size_t)snprintf(dict + len, sizeof dict - len, "%zu,%s", shape[i],
                                i + 1 < ndim ? " " : "");
        count *= shape[i];
    }
    if (ndim > 1) len--; /* (3,) for one dimension, (2, 3) for more */
    len += (size_t)snprintf(dict + len, sizeof dict - len, "), }");
    size_t total = 10 + len + 1;
    size_t pad = (64 - total % 64) % 64;
    size_t hlen = len + pad + 1;
    count *= size;
    unsigned char *buf = malloc(10 + hlen + count);
    if (!buf) return CLVAE_FAIL(err, CLVAE_ERR_NOMEM, "out of host memory");
    memcpy(buf, "\x93NUMPY\x01\x00", 8);
    buf[8] = (unsigned char)(hlen & 0xff);
    buf[9] = (unsigned char)(hlen >> 8);
    memcpy(buf + 10, dict, len);
    memset(buf + 10 + len, ' ', pad);
    buf[10 + len + pad] = '\n';
    memcpy(buf + 10 + hlen, data, count);
    clvae_status_t s = clvae_write_file_atomic(path, buf, 10 + hlen + count, err);
    free(buf);
    return s;
}

clvae_status_t clvae_npy_write_u8(const char *path, const size_t *shape, int ndim,
                                  const uint8_t *data, clvae_error_t *err)
{
    return write_npy(path, "|u1", 1, shape, ndim, data, err);
}

clvae_status_t clvae_npy_write_f32(const char *path, const size_t *shape, int ndim,
                                   const float *data, clvae_error_t *err)
{
    /* '<f4': little-endian, the host's order on every machine clvae runs on (x86, ARM) */
    const uint16_t one = 1;
    if (*(const uint8_t *)&one != 1)
        return CLVAE_FAIL(err, CLVAE_ERR_INVALID, "%s: a big-endian host writes no .npy floats",
                          path);
    return write_npy(path, "<f4", 4, shape, ndim, data, err);
}
