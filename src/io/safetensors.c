/* safetensors files: an atomic writer and a reader that checks every field of the header. */
#include "clvae/io/safetensors.h"
#include "clvae/io/fileio.h"
#include "clvae/io/json.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

/* Largest header clvae reads (the reference implementation's limit too). */
#define ST_MAX_HEADER ((uint64_t)100 << 20)
#define ST_MAX_DIMS 8
#define ST_NAME_MAX ((size_t)sizeof(((clvae_st_tensor_t *)0)->name) - 1)

struct clvae_st_file {
    clvae_st_tensor_t *tensors; /* [count], in order of data offsets */
    size_t count;
    char **meta;                /* [2 * nmeta]: key, value, key, value, ... */
    size_t nmeta;
    uint8_t *data;              /* the data section (at least 1 byte allocated) */
    size_t data_len;
};

static const struct {
    const char *name;
    size_t size;
} dtypes[] = {
    [CLVAE_ST_F32] = {"F32", 4}, [CLVAE_ST_U8] = {"U8", 1},  [CLVAE_ST_I32] = {"I32", 4},
    [CLVAE_ST_U32] = {"U32", 4}, [CLVAE_ST_I64] = {"I64", 8}, [CLVAE_ST_U64] = {"U64", 8},
};
#define NDTYPES (sizeof dtypes / sizeof dtypes[0])

const char *clvae_st_dtype_name(clvae_st_dtype_t t)
{
    return (unsigned)t < NDTYPES ? dtypes[t].name : "?";
}

size_t clvae_st_dtype_size(clvae_st_dtype_t t)
{
    return (unsigned)t < NDTYPES ? dtypes[t].size : 0;
}

static int host_is_little_endian(void)
{
    const uint16_t one = 1;
    return *(const uint8_t *)&one == 1;
}

static void put_u64le(uint8_t *p, uint64_t v)
{
    for (int i = 0; i < 8; i++) p[i] = (uint8_t)(v >> (8 * i));
}

static uint64_t get_u64le(const uint8_t *p)
{
    uint64_t v = 0;
    for (int i = 0; i < 8; i++) v |= (uint64_t)p[i] << (8 * i);
    return v;
}

/* The byte size of a tensor: product(shape) * element size, multiplied in order as the
 * reference implementation does; 0 (and *ok = 0) when it overflows uint64_t or size_t. */
static uint64_t shape_bytes(const uint64_t *shape, int ndim, size_t elsize, int *ok)
{
    uint64_t n = 1;
    *ok = 0;
    for (int i = 0; i < ndim; i++) {
        if (shape[i] != 0 && n > UINT64_MAX / shape[i]) return 0;
        n *= shape[i];
    }
    if (n > UINT64_MAX / elsize || n * elsize > SIZE_MAX) return 0;
    *ok = 1;
    return n * elsize;
}

/* Writes "[2, 3]" for messages. */
static void shape_text(const uint64_t *shape, int ndim, char *buf, size_t size)
{
    size_t n = (size_t)snprintf(buf, size, "[");
    for (int i = 0; i < ndim && n < size; i++)
        n += (size_t)snprintf(buf + n, size - n, "%s%llu", i ? ", " : "",
                              (unsigned long long)shape[i]);
    if (n < size) snprintf(buf + n, size - n, "]");
}

/* 1 when s (n bytes) is valid UTF-8 without control characters. */
static int clean_text(const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if ((unsigned char)s[i] < 0x20 || s[i] == 0x7F) return 0;
    return clvae_utf8_valid(s, n);
}

static int name_cmp(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* Finds a string given twice among n (sorting a copy of the pointers); NULL if none. */
static const char *find_duplicate(const char *const *names, size_t n, clvae_status_t *s,
                                  const char *path, clvae_error_t *err)
{
    *s = CLVAE_OK;
    if (n < 2) return NULL;
    const char **sorted = malloc(n * sizeof *sorted);
    if (!sorted) {
        *s = CLVAE_FAIL(err, CLVAE_ERR_NOMEM, "%s: out of host memory", path);
        return NULL;
    }
    memcpy(sorted, names, n * sizeof *sorted);
    qsort(sorted, n, sizeof *sorted, name_cmp);
    const char *dup = NULL;
    for (size_t i = 1; i < n && !dup; i++)
        if (strcmp(sorted[i - 1], sorted[i]) == 0) dup = sorted[i];
    free(sorted);
    return dup;
}

/* ---- writing ------------------------------------------------------------------------- */

/* Checks the tensors and metadata given to clvae_st_write. */
static clvae_status_t check_write_args(const char *path, const clvae_st_tensor_t *tensors,
                                       size_t ntensors, const char *const *meta_keys,
                                       const char *const *meta_values, size_t nmeta,
                                       clvae_error_t *err)
{
    if (ntensors > 0 && !tensors)
        return CLVAE_FAIL(err, CLVAE_ERR_INVALID, "%s: %zu tensors but no array", path,
                          ntensors);
    if (nmeta > 0 && (!meta_keys || !meta_values))
        return CLVAE_FAIL(err, CLVAE_ERR_INVALID, "%s: %zu metadata entries but no arrays", path,
                          nmeta);
    char shown[160];
    for (size_t i = 0; i < ntensors; i++) {
        const clvae_st_tensor_t *t = &tensors[i];
        size_t n = strnlen(t->name, sizeof t->name);
        clvae_json_excerpt(shown, sizeof shown, t->name, n);
        if (n == sizeof t->name)
            return CLVAE_FAIL(err, CLVAE_ERR_INVALID,
                              "%s: tensor %zu's name '%s' is not NUL-terminated", path, i, shown);
        if (n == 0)
            return CLVAE_FAIL(err, CLVAE_ERR_INVALID, "%s: tensor %zu has an empty name", path, i);
        if (!clean_text(t->name, n))
            return CLVAE_FAIL(err, CLVAE_ERR_INVALID,
                              "%s: tensor name '%s' is not UTF-8 text without control "
                              "characters", path, shown);
        if (strcmp(t->name, "__metadata__") == 0)
            return CLVAE_FAIL(err, CLVAE_ERR_INVALID,
                              "%s: a tensor cannot be named '__metadata__'", path);
        if ((unsigned)t->dtype >= NDTYPES)
            return CLVAE_FAIL(err, CLVAE_ERR_INVALID, "%s: tensor '%s' has unknown dtype %d",
                              path, shown, (int)t->dtype);
        if (t->ndim < 0 || t->ndim > ST_MAX_DIMS)
            return CLVAE_FAIL(err, CLVAE_ERR_INVALID,
                              "%s: tensor '%s' has %d dimensions (0 to %d allowed)", path, shown,
                              t->ndim, ST_MAX_DIMS);
        int ok;
        uint64_t want = shape_bytes(t->shape, t->ndim, dtypes[t->dtype].size, &ok);
        char sh[200];
        shape_text(t->shape, t->ndim, sh, sizeof sh);
        if (!ok)
            return CLVAE_FAIL(err, CLVAE_ERR_INVALID, "%s: tensor '%s' of shape %s is too large",
                              path, shown, sh);
        if (want != t->nbytes)
            return CLVAE_FAIL(err, CLVAE_ERR_INVALID,
                              "%s: tensor '%s' has %zu bytes but shape %s of %s needs %llu",
                              path, shown, t->nbytes, sh, dtypes[t->dtype].name,
                              (unsigned long long)want);
        if (t->nbytes > 0 && !t->data)
            return CLVAE_FAIL(err, CLVAE_ERR_INVALID, "%s: tensor '%s' has no data", path, shown);
    }
    for (size_t i = 0; i < nmeta; i++) {
        if (!meta_keys[i] || !meta_values[i])
            return CLVAE_FAIL(err, CLVAE_ERR_INVALID, "%s: metadata entry %zu is NULL", path, i);
        clvae_json_excerpt(shown, sizeof shown, meta_keys[i], strlen(meta_keys[i]));
        if (!clean_text(meta_keys[i], strlen(meta_keys[i])))
            return CLVAE_FAIL(err, CLVAE_ERR_INVALID,
                              "%s: metadata key '%s' is not UTF-8 text without control "
                              "characters", path, shown);
        if (!clvae_utf8_valid(meta_values[i], strlen(meta_values[i])))
            return CLVAE_FAIL(err, CLVAE_ERR_INVALID,
                              "%s: metadata value for '%s' is not valid UTF-8", path, shown);
    }
    clvae_status_t s;
    const char *dup = find_duplicate(meta_keys, nmeta, &s, path, err);
    if (s) return s;
    if (dup) {
        clvae_json_excerpt(shown, sizeof shown, dup, strlen(dup));
        return CLVAE_FAIL(err, CLVAE_ERR_INVALID, "%s: metadata key '%s' is given twice", path,
                          shown);
    }
    const char **names = malloc((ntensors ? ntensors : 1) * sizeof *names);
    if (!names) return CLVAE_FAIL(err, CLVAE_ERR_NOMEM, "%s: out of host memory", path);
    for (size_t i = 0; i < ntensors; i++) names[i] = tensors[i].name;
    dup = find_duplicate(names, ntensors, &s, path, err);
    if (!s && dup) {
        clvae_json_excerpt(shown, sizeof shown, dup, strlen(dup));
        s = CLVAE_FAIL(err, CLVAE_ERR_INVALID, "%s: tensor name '%s' is given twice", path,
                       shown);
    }
    free(names);
    return s;
}

/* Builds the header: JSON padded with spaces to a multiple of 8 bytes, after the 8-byte
 * length. Returns a heap buffer of *len bytes (length field included). */
static clvae_status_t build_header(const char *path, const clvae_st_tensor_t *tensors,
                                   size_t ntensors, const char *const *meta_keys,
                                   const char *const *meta_values, size_t nmeta, uint8_t **out,
                                   size_t *len, clvae_error_t *err)
{
    clvae_jw_t w;
    clvae_jw_init(&w);
    clvae_jw_begin_object(&w);
    if (nmeta > 0) {
        clvae_jw_key(&w, "__metadata__");
        clvae_jw_begin_object(&w);
        for (size_t i = 0; i < nmeta; i++) {
            clvae_jw_key(&w, meta_keys[i]);
            clvae_jw_string(&w, meta_values[i]);
        }
        clvae_jw_end_object(&w);
    }
    uint64_t offset = 0;
    for (size_t i = 0; i < ntensors; i++) {
        const clvae_st_tensor_t *t = &tensors[i];
        if (t->nbytes > UINT64_MAX - offset) {
            clvae_jw_free(&w);
            return CLVAE_FAIL(err, CLVAE_ERR_INVALID, "%s: the tensors hold more than 2^64 bytes",
                              path);
        }
        clvae_jw_key(&w, t->name);
        clvae_jw_begin_object(&w);
        clvae_jw_key(&w, "dtype");
        clvae_jw_string(&w, dtypes[t->dtype].name);
        clvae_jw_key(&w, "shape");
        clvae_jw_begin_array(&w);
        for (int d = 0; d < t->ndim; d++) clvae_jw_uint(&w, t->shape[d]);
        clvae_jw_end_array(&w);
        clvae_jw_key(&w, "data_offsets");
        clvae_jw_begin_array(&w);
        clvae_jw_uint(&w, offset);
        clvae_jw_uint(&w, offset + t->nbytes);
        clvae_jw_end_array(&w);
        clvae_jw_end_object(&w);
        offset += t->nbytes;
    }
    clvae_jw_end_object(&w);
    clvae_status_t s = clvae_jw_finish(&w, path, err);
    if (s) {
        clvae_jw_free(&w);
        return s;
    }
    size_t n = w.len, padded = n + (8 - n % 8) % 8;
    if (padded > ST_MAX_HEADER) {
        clvae_jw_free(&w);
        return CLVAE_FAIL(err, CLVAE_ERR_INVALID,
                          "%s: the header would be %zu bytes, more than the limit of %llu", path,
                          padded, (unsigned long long)ST_MAX_HEADER);
    }
    uint8_t *buf = malloc(8 + padded);
    if (!buf) {
        clvae_jw_free(&w);
        return CLVAE_FAIL(err, CLVAE_ERR_NOMEM, "%s: out of host memory", path);
    }
    put_u64le(buf, padded);
    memcpy(buf + 8, w.buf, n);
    memset(buf + 8 + n, ' ', padded - n);
    clvae_jw_free(&w);
    *out = buf;
    *len = 8 + padded;
    return CLVAE_OK;
}

/* The temp file being written (clvae_atomic_file_t), with the fault-injection budget. */
typedef struct sink {
    clvae_atomic_file_t f;
    uint64_t written;
    int fault;          /* CLVAE_FAULT_WRITE_AFTER is set */
    uint64_t fault_at;  /* its value */
} sink_t;

/* Writes n bytes; a fault budget that runs out writes what it allows, then fails as a full
 * disk would (ENOSPC), the temp file removed. */
static clvae_status_t sink_write(sink_t *k, const void *data, size_t n, clvae_error_t *err)
{
    size_t allowed = n;
    if (k->fault && (uint64_t)n > (k->fault_at > k->written ? k->fault_at - k->written : 0))
        allowed = (size_t)(k->fault_at > k->written ? k->fault_at - k->written : 0);
    clvae_status_t s = clvae_atomic_write(&k->f, data, allowed, err);
    if (s) return s;
    k->written += allowed;
    if (allowed < n) {
        s = CLVAE_FAIL(err, CLVAE_ERR_IO, "%s: cannot write the temp file %s: %s "
                       "(CLVAE_FAULT_WRITE_AFTER)", k->f.path, k->f.tmp, strerror(ENOSPC));
        clvae_atomic_abort(&k->f);
    }
    return s;
}

/* Reads CLVAE_FAULT_WRITE_AFTER (only when it is set): k fails after k bytes, -k k bytes
 * before the end of a file of total bytes. */
static clvae_status_t fault_setting(const char *path, uint64_t total, sink_t *k,
                                   clvae_error_t *err)
{
    const char *v = getenv("CLVAE_FAULT_WRITE_AFTER");
    if (!v) return CLVAE_OK;
    uint64_t n = 0;
    const char *c = v + (*v == '-');
    const char *digits = c;
    for (; *c >= '0' && *c <= '9'; c++) {
        unsigned d = (unsigned)(*c - '0');
        if (n > (UINT64_MAX - d) / 10) break;
        n = n * 10 + d;
    }
    if (c == digits || *c)
        return CLVAE_FAIL(err, CLVAE_ERR_INVALID,
                          "%s: CLVAE_FAULT_WRITE_AFTER='%s' is not a byte count (k, or -k for k "
                          "bytes before the end)", path, v);
    k->fault = 1;
    k->fault_at = *v == '-' ? (n < total ? total - n : 0) : n;
    return CLVAE_OK;
}

clvae_status_t clvae_st_write(const char *path, const clvae_st_tensor_t *tensors, size_t ntensors,
                              const char *const *meta_keys, const char *const *meta_values,
                              size_t nmeta, clvae_error_t *err)
{
    if (!path || !*path)
        return CLVAE_FAIL(err, CLVAE_ERR_INVALID, "safetensors: no file name to write to");
    if (!host_is_little_endian())
        return CLVAE_FAIL(err, CLVAE_ERR_INVALID, "%s: writing needs a little-endian host",
                          path);
    clvae_status_t s =
        check_write_args(path, tensors, ntensors, meta_keys, meta_values, nmeta, err);
    if (s) return s;
    sink_t k = {{NULL, NULL, -1}, 0, 0, 0};
    uint8_t *header = NULL;
    size_t header_len = 0;
    s = build_header(path, tensors, ntensors, meta_keys, meta_values, nmeta, &header,
                     &header_len, err);
    if (s) return s;
    uint64_t total = header_len;
    for (size_t i = 0; i < ntensors; i++) total += tensors[i].nbytes;
    if ((s = fault_setting(path, total, &k, err))) {
        free(header);
        return s;
    }

    if ((s = clvae_atomic_open(&k.f, path, err))) {
        free(header);
        return s;
    }
    s = sink_write(&k, header, header_len, err);
    for (size_t i = 0; i < ntensors && !s; i++) s = sink_write(&k, tensors[i].data,
                                                               tensors[i].nbytes, err);
    if (!s) s = clvae_atomic_commit(&k.f, err);
    clvae_atomic_abort(&k.f); /* after a failure (a no-op once committed) */
    free(header);
    return s;
}

/* ---- reading ------------------------------------------------------------------------- */

void clvae_st_free(clvae_st_file_t *f)
{
    if (!f) return;
    if (f->meta)
        for (size_t i = 0; i < 2 * f->nmeta; i++) free(f->meta[i]);
    free(f->meta);
    free(f->tensors);
    free(f->data);
    free(f);
}

size_t clvae_st_count(const clvae_st_file_t *f)
{
    return f ? f->count : 0;
}

const clvae_st_tensor_t *clvae_st_get(const clvae_st_file_t *f, size_t i)
{
    return f && i < f->count ? &f->tensors[i] : NULL;
}

const clvae_st_tensor_t *clvae_st_find(const clvae_st_file_t *f, const char *name)
{
    if (!f || !name) return NULL;
    for (size_t i = 0; i < f->count; i++)
        if (strcmp(f->tensors[i].name, name) == 0) return &f->tensors[i];
    return NULL;
}

const char *clvae_st_meta(const clvae_st_file_t *f, const char *key)
{
    if (!f || !key) return NULL;
    for (size_t i = 0; i < f->nmeta; i++)
        if (strcmp(f->meta[2 * i], key) == 0) return f->meta[2 * i + 1];
    return NULL;
}

size_t clvae_st_meta_count(const clvae_st_file_t *f)
{
    return f ? f->nmeta : 0;
}

const char *clvae_st_meta_key(const clvae_st_file_t *f, size_t i)
{
    return f && i < f->nmeta ? f->meta[2 * i] : NULL;
}

/* A tensor entry while the header is checked. */
typedef struct entry {
    uint64_t begin, end;
    size_t order;   /* position in the header */
} entry_t;

static int entry_cmp(const void *a, const void *b)
{
    const entry_t *x = a, *y = b;
    if (x->begin != y->begin) return x->begin < y->begin ? -1 : 1;
    if (x->end != y->end) return x->end < y->end ? -1 : 1;
    return (x->order > y->order) - (x->order < y->order);
}

#define CORRUPT(...) CLVAE_FAIL(err, CLVAE_ERR_CORRUPT, __VA_ARGS__)

/* Reads a list of non-negative integers (shape or data_offsets) of tensor `shown`. */
static clvae_status_t read_ints(const char *path, const char *shown, const char *field,
                                const clvae_json_t *v, size_t max, uint64_t *out, size_t *n,
                                clvae_error_t *err)
{
    if (!v) return CORRUPT("%s: tensor '%s' has no \"%s\"", path, shown, field);
    if (v->type != CLVAE_JSON_ARRAY)
        return CORRUPT("%s: tensor '%s': \"%s\" is not an array", path, shown, field);
    if (v->count > max)
        return CORRUPT("%s: tensor '%s': \"%s\" has %zu entries, at most %zu allowed", path,
                       shown, field, v->count, max);
    for (size_t i = 0; i < v->count; i++) {
        if (!clvae_json_u64(&v->items[i], &out[i]))
            return CORRUPT("%s: tensor '%s': \"%s\" entry %zu is not a non-negative integer "
                           "below 2^64 written without sign, fraction or exponent",
                           path, shown, field, i);
    }
    *n = v->count;
    return CLVAE_OK;
}

/* 1 when the object member's key is exactly word (keys may hold NULs). */
static int key_is(const clvae_json_t *member, const char *word)
{
    return member->key_len == strlen(word) && memcmp(member->key, word, member->key_len) == 0;
}

/* Checks one tensor entry of the header and fills t (except data) and e. */
static clvae_status_t read_entry(const char *path, const clvae_json_t *item, uint64_t data_len,
                                 clvae_st_tensor_t *t, entry_t *e, clvae_error_t *err)
{
    char shown[160];
    clvae_json_excerpt(shown, sizeof shown, item->key, item->key_len);
    if (item->key_len == 0) return CORRUPT("%s: a tensor has an empty name", path);
    if (memchr(item->key, 0, item->key_len))
        return CORRUPT("%s: tensor name '%s' holds a NUL character", path, shown);
    if (item->key_len > ST_NAME_MAX)
        return CORRUPT("%s: tensor name '%s' is %zu bytes, more than clvae's limit of %zu", path,
                       shown, item->key_len, ST_NAME_MAX);
    memcpy(t->name, item->key, item->key_len);
    t->name[item->key_len] = 0;
    if (item->type != CLVAE_JSON_OBJECT)
        return CORRUPT("%s: tensor '%s' is not described by an object", path, shown);
    for (size_t i = 0; i < item->count; i++) {
        const clvae_json_t *f = &item->items[i];
        if (!key_is(f, "dtype") && !key_is(f, "shape") && !key_is(f, "data_offsets")) {
            char field[100];
            clvae_json_excerpt(field, sizeof field, f->key, f->key_len);
            return CORRUPT("%s: tensor '%s' has an unknown field \"%s\"", path, shown, field);
        }
    }
    const clvae_json_t *dt = clvae_json_get(item, "dtype");
    if (!dt) return CORRUPT("%s: tensor '%s' has no \"dtype\"", path, shown);
    if (dt->type != CLVAE_JSON_STRING)
        return CORRUPT("%s: tensor '%s': \"dtype\" is not a string", path, shown);
    size_t d;
    for (d = 0; d < NDTYPES; d++)
        if (dt->len == strlen(dtypes[d].name) && memcmp(dt->str, dtypes[d].name, dt->len) == 0)
            break;
    if (d == NDTYPES) {
        char name[40];
        clvae_json_excerpt(name, sizeof name, dt->str, dt->len);
        return CORRUPT("%s: tensor '%s' has dtype \"%s\"; clvae reads F32, U8, I32, U32, I64 "
                       "and U64", path, shown, name);
    }
    t->dtype = (clvae_st_dtype_t)d;
    size_t ndim, noff;
    uint64_t off[2];
    clvae_status_t s = read_ints(path, shown, "shape", clvae_json_get(item, "shape"),
                                 ST_MAX_DIMS, t->shape, &ndim, err);
    if (!s)
        s = read_ints(path, shown, "data_offsets", clvae_json_get(item, "data_offsets"), 2, off,
                      &noff, err);
    if (s) return s;
    t->ndim = (int)ndim;
    if (noff != 2)
        return CORRUPT("%s: tensor '%s': \"data_offsets\" has %zu entries, not 2", path, shown,
                       noff);
    char sh[200];
    shape_text(t->shape, t->ndim, sh, sizeof sh);
    int ok;
    uint64_t want = shape_bytes(t->shape, t->ndim, dtypes[d].size, &ok);
    if (!ok) return CORRUPT("%s: tensor '%s' of shape %s is too large", path, shown, sh);
    if (off[1] < off[0])
        return CORRUPT("%s: tensor '%s' ends at byte %llu, before it begins at %llu", path,
                       shown, (unsigned long long)off[1], (unsigned long long)off[0]);
    if (off[1] - off[0] != want)
        return CORRUPT("%s: tensor '%s' has %llu bytes but shape %s of %s needs %llu", path,
                       shown, (unsigned long long)(off[1] - off[0]), sh, dtypes[d].name,
                       (unsigned long long)want);
    if (off[1] > data_len)
        return CORRUPT("%s: tensor '%s' ends at byte %llu but the data is %llu bytes", path,
                       shown, (unsigned long long)off[1], (unsigned long long)data_len);
    t->nbytes = (size_t)want;
    e->begin = off[0];
    e->end = off[1];
    return CLVAE_OK;
}

/* Copies the string->string metadata object into f. */
static clvae_status_t read_meta(const char *path, const clvae_json_t *m, clvae_st_file_t *f,
                                clvae_error_t *err)
{
    if (m->type != CLVAE_JSON_OBJECT)
        return CORRUPT("%s: \"__metadata__\" is not an object", path);
    f->meta = calloc(2 * m->count + 1, sizeof *f->meta);
    if (!f->meta) return CLVAE_FAIL(err, CLVAE_ERR_NOMEM, "%s: out of host memory", path);
    for (size_t i = 0; i < m->count; i++) {
        const clvae_json_t *v = &m->items[i];
        char shown[160];
        clvae_json_excerpt(shown, sizeof shown, v->key, v->key_len);
        if (v->type != CLVAE_JSON_STRING)
            return CORRUPT("%s: metadata '%s' is not a string", path, shown);
        if (memchr(v->key, 0, v->key_len))
            return CORRUPT("%s: metadata key '%s' holds a NUL character", path, shown);
        if (memchr(v->str, 0, v->len))
            return CORRUPT("%s: metadata '%s' holds a NUL character", path, shown);
        f->meta[2 * i] = strdup(v->key);
        f->meta[2 * i + 1] = strdup(v->str);
        f->nmeta = i + 1;
        if (!f->meta[2 * i] || !f->meta[2 * i + 1])
            return CLVAE_FAIL(err, CLVAE_ERR_NOMEM, "%s: out of host memory", path);
    }
    return CLVAE_OK;
}

/* Checks the header text (hlen bytes) and fills f's tensors and metadata. */
static clvae_status_t read_header(const char *path, const char *header, size_t hlen,
                                  clvae_st_file_t *f, clvae_error_t *err)
{
    if (header[0] != '{')
        return CORRUPT("%s: the header does not start with '{' (byte 0x%02X)", path,
                       (unsigned char)header[0]);
    size_t n = hlen;
    while (n > 0 && header[n - 1] == ' ') n--;
    if (n == 0 || header[n - 1] != '}')
        return CORRUPT("%s: the header does not end in '}' and then only spaces (its last "
                       "byte that is not a space is 0x%02X)", path,
                       n ? (unsigned char)header[n - 1] : 0x20);
    size_t what_size = strlen(path) + 16;
    char *what = malloc(what_size);
    if (!what) return CLVAE_FAIL(err, CLVAE_ERR_NOMEM, "%s: out of host memory", path);
    snprintf(what, what_size, "%s: header", path);
    clvae_json_t *root = NULL;
    clvae_status_t s = clvae_json_parse(header, n, what, &root, err);
    free(what);
    if (s == CLVAE_ERR_INVALID) {
        if (err) err->status = CLVAE_ERR_CORRUPT;
        return CLVAE_ERR_CORRUPT;
    }
    if (s) return s;
    /* root is an object: the text starts with '{' and parsed as one value */
    size_t ntensors = root->count;
    const clvae_json_t *meta = clvae_json_get(root, "__metadata__");
    if (meta) ntensors--;
    f->tensors = calloc(ntensors ? ntensors : 1, sizeof *f->tensors);
    entry_t *entries = calloc(ntensors ? ntensors : 1, sizeof *entries);
    if (!f->tensors || !entries) {
        free(entries);
        clvae_json_free(root);
        return CLVAE_FAIL(err, CLVAE_ERR_NOMEM, "%s: out of host memory", path);
    }
    if (meta) s = read_meta(path, meta, f, err);
    size_t j = 0;
    for (size_t i = 0; i < root->count && !s; i++) {
        const clvae_json_t *item = &root->items[i];
        if (item == meta) continue;
        entries[j].order = j;
        s = read_entry(path, item, f->data_len, &f->tensors[j], &entries[j], err);
        j++;
    }
    clvae_json_free(root);
    if (s) {
        free(entries);
        return s;
    }
    /* The tensors must tile the data exactly, in order of their offsets. */
    qsort(entries, ntensors, sizeof *entries, entry_cmp);
    clvae_st_tensor_t *sorted = calloc(ntensors ? ntensors : 1, sizeof *sorted);
    if (!sorted) {
        free(entries);
        return CLVAE_FAIL(err, CLVAE_ERR_NOMEM, "%s: out of host memory", path);
    }
    uint64_t covered = 0;
    for (size_t i = 0; i < ntensors && !s; i++) {
        const entry_t *e = &entries[i];
        const clvae_st_tensor_t *t = &f->tensors[e->order];
        char shown[160];
        clvae_json_excerpt(shown, sizeof shown, t->name, strlen(t->name));
        if (e->begin < covered) {
            char prev[160];
            const clvae_st_tensor_t *p = &f->tensors[entries[i - 1].order];
            clvae_json_excerpt(prev, sizeof prev, p->name, strlen(p->name));
            s = CORRUPT("%s: tensor '%s' (bytes %llu to %llu) overlaps tensor '%s' (bytes %llu to "
                        "%llu)", path, shown, (unsigned long long)e->begin,
                        (unsigned long long)e->end, prev,
                        (unsigned long long)entries[i - 1].begin,
                        (unsigned long long)entries[i - 1].end);
        } else if (e->begin > covered) {
            s = CORRUPT("%s: bytes %llu to %llu of the data belong to no tensor (a hole before "
                        "tensor '%s')", path, (unsigned long long)covered,
                        (unsigned long long)e->begin, shown);
        }
        sorted[i] = *t;
        sorted[i].data = f->data + e->begin;
        covered = e->end;
    }
    free(entries);
    free(f->tensors);
    f->tensors = sorted;
    f->count = ntensors;
    if (!s && covered != f->data_len)
        s = CORRUPT("%s: the data is %llu bytes but the tensors cover only %llu", path,
                    (unsigned long long)f->data_len, (unsigned long long)covered);
    return s;
}

clvae_status_t clvae_st_read(const char *path, clvae_st_file_t **out, clvae_error_t *err)
{
    *out = NULL;
    if (!path) return CLVAE_FAIL(err, CLVAE_ERR_INVALID, "safetensors: no file name to read");
    if (!host_is_little_endian())
        return CLVAE_FAIL(err, CLVAE_ERR_INVALID, "%s: reading needs a little-endian host", path);
    FILE *fp = fopen(path, "rb");
    if (!fp)
        return CLVAE_FAIL(err, errno == ENOENT ? CLVAE_ERR_NOT_FOUND : CLVAE_ERR_IO,
                          "%s: cannot open: %s", path, strerror(errno));
    struct stat st;
    if (fstat(fileno(fp), &st) != 0 || !S_ISREG(st.st_mode)) {
        fclose(fp);
        return CLVAE_FAIL(err, CLVAE_ERR_IO, "%s: not a regular file", path);
    }
    uint64_t size = (uint64_t)st.st_size;
    uint8_t len8[8];
    if (size < 8) {
        fclose(fp);
        return CORRUPT("%s: the file is %llu bytes, too short for the 8-byte header length",
                       path, (unsigned long long)size);
    }
    if (fread(len8, 1, 8, fp) != 8) {
        fclose(fp);
        return CLVAE_FAIL(err, CLVAE_ERR_IO, "%s: cannot read the header length", path);
    }
    uint64_t hlen = get_u64le(len8);
    if (hlen == 0) {
        fclose(fp);
        return CORRUPT("%s: the header length is 0", path);
    }
    if (hlen > size - 8) {
        fclose(fp);
        return CORRUPT("%s: the header length is %llu bytes but the file has only %llu after "
                       "it", path, (unsigned long long)hlen, (unsigned long long)(size - 8));
    }
    if (hlen > ST_MAX_HEADER) {
        fclose(fp);
        return CORRUPT("%s: the header length is %llu bytes, more than the limit of %llu", path,
                       (unsigned long long)hlen, (unsigned long long)ST_MAX_HEADER);
    }
    uint64_t data_len = size - 8 - hlen;
    if (data_len > SIZE_MAX - 1) {
        fclose(fp);
        return CLVAE_FAIL(err, CLVAE_ERR_NOMEM, "%s: %llu bytes of data do not fit in memory",
                          path, (unsigned long long)data_len);
    }
    clvae_st_file_t *f = calloc(1, sizeof *f);
    char *header = malloc((size_t)hlen);
    if (f) f->data = malloc((size_t)data_len ? (size_t)data_len : 1);
    if (!f || !header || !f->data) {
        fclose(fp);
        free(header);
        clvae_st_free(f);
        return CLVAE_FAIL(err, CLVAE_ERR_NOMEM, "%s: out of host memory for %llu bytes", path,
                          (unsigned long long)size);
    }
    f->data_len = (size_t)data_len;
    int short_read = fread(header, 1, (size_t)hlen, fp) != hlen ||
                     fread(f->data, 1, f->data_len, fp) != f->data_len;
    fclose(fp);
    clvae_status_t s = CLVAE_OK;
    if (short_read)
        s = CLVAE_FAIL(err, CLVAE_ERR_IO, "%s: cannot read %llu bytes (did the file change?)",
                       path, (unsigned long long)size);
    else
        s = read_header(path, header, (size_t)hlen, f, err);
    free(header);
    if (s) {
        clvae_st_free(f);
        return s;
    }
    *out = f;
    return CLVAE_OK;
}
