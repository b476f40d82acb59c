/* safetensors: exact round trips, a file as Python writes it, hostile files, atomic writes. */
#define TEST_FILE "test_safetensors"
#include "test.h"

#include "clvae/io/json.h"
#include "clvae/io/safetensors.h"

#include <dirent.h>
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

static char tmpdir[64]; /* the mkdtemp() folder for this run */

static void path_of(char *buf, size_t size, const char *name)
{
    snprintf(buf, size, "%s/%s", tmpdir, name);
}

static int write_bytes(const char *path, const void *data, size_t n)
{
    FILE *f = fopen(path, "wb");
    if (!f) return 0;
    int ok = fwrite(data, 1, n, f) == n;
    return fclose(f) == 0 && ok;
}

/* The whole file (free it) and its size, or NULL. */
static uint8_t *read_bytes(const char *path, size_t *n)
{
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    size_t cap = 1 << 16, len = 0;
    uint8_t *buf = malloc(cap);
    while (buf) {
        len += fread(buf + len, 1, cap - len, f);
        if (len < cap) break;
        uint8_t *grown = realloc(buf, cap * 2);
        if (!grown) {
            free(buf);
            buf = NULL;
        }
        buf = grown;
        cap *= 2;
    }
    fclose(f);
    *n = len;
    return buf;
}

/* Number of entries in the test folder other than . and .. */
static int folder_entries(void)
{
    DIR *d = opendir(tmpdir);
    if (!d) return -1;
    int n = 0;
    struct dirent *e;
    while ((e = readdir(d)) != NULL)
        if (strcmp(e->d_name, ".") != 0 && strcmp(e->d_name, "..") != 0) n++;
    closedir(d);
    return n;
}

/* Removes every file in the test folder (not the folder). */
static void empty_folder(void)
{
    DIR *d = opendir(tmpdir);
    if (!d) return;
    struct dirent *e;
    char path[512];
    while ((e = readdir(d)) != NULL) {
        if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0) continue;
        path_of(path, sizeof path, e->d_name);
        unlink(path);
    }
    closedir(d);
}

static uint64_t get_u64le(const uint8_t *p)
{
    uint64_t v = 0;
    for (int i = 0; i < 8; i++) v |= (uint64_t)p[i] << (8 * i);
    return v;
}

/* A file image: 8-byte length, the header padded with spaces to a multiple of 8 (when pad),
 * then the data. Returns a heap buffer of *n bytes. */
static uint8_t *make_file(const char *header, const void *data, size_t data_len, int pad,
                          size_t *n)
{
    size_t h = strlen(header), padded = pad ? h + (8 - h % 8) % 8 : h;
    uint8_t *buf = malloc(8 + padded + data_len + 1);
    if (!buf) return NULL;
    for (int i = 0; i < 8; i++) buf[i] = (uint8_t)((uint64_t)padded >> (8 * i));
    memcpy(buf + 8, header, h);
    memset(buf + 8 + h, ' ', padded - h);
    if (data_len) memcpy(buf + 8 + padded, data, data_len);
    *n = 8 + padded + data_len;
    return buf;
}

/* Writes bytes to NAME and reads it; returns the status, the error in *err. */
static clvae_status_t read_image(const char *name, const uint8_t *bytes, size_t n,
                                 clvae_error_t *err, clvae_st_file_t **out)
{
    char path[512];
    path_of(path, sizeof path, name);
    if (!write_bytes(path, bytes, n)) return (clvae_status_t)-1;
    clvae_error_clear(err);
    clvae_st_file_t *f = NULL;
    clvae_status_t s = clvae_st_read(path, &f, err);
    if (out) *out = f;
    else clvae_st_free(f);
    return s;
}

/* Checks that the file image is rejected as corrupt with a message naming the file and
 * holding `why`. */
static void expect_corrupt(const char *label, const uint8_t *bytes, size_t n, const char *why)
{
    clvae_error_t err = {0};
    char path[512];
    path_of(path, sizeof path, "bad.safetensors");
    clvae_status_t s = read_image("bad.safetensors", bytes, n, &err, NULL);
    CHECK(s == CLVAE_ERR_CORRUPT, "%s: status %s (%s)", label, clvae_status_name(s), err.msg);
    CHECK(strstr(err.msg, path) != NULL, "%s: message lacks the path: %s", label, err.msg);
    CHECK(!why || strstr(err.msg, why) != NULL, "%s: message lacks '%s': %s", label, why,
          err.msg);
    clvae_error_clear(&err);
}

/* Builds a file from header and data_len bytes of data (0x11, 0x22, ...) and expects it to
 * be rejected. */
static void expect_corrupt_header(const char *header, size_t data_len, const char *why)
{
    uint8_t data[64];
    for (size_t i = 0; i < sizeof data; i++) data[i] = (uint8_t)(0x11 * (i + 1));
    size_t n;
    uint8_t *bytes = make_file(header, data, data_len, 1, &n);
    if (!bytes) {
        CHECK(0, "out of memory");
        return;
    }
    expect_corrupt(header, bytes, n, why);
    free(bytes);
}

static void set_tensor(clvae_st_tensor_t *t, const char *name, clvae_st_dtype_t dtype, int ndim,
                       const uint64_t *shape, const void *data, size_t nbytes)
{
    memset(t, 0, sizeof *t);
    snprintf(t->name, sizeof t->name, "%s", name);
    t->dtype = dtype;
    t->ndim = ndim;
    for (int i = 0; i < ndim; i++) t->shape[i] = shape[i];
    t->data = data;
    t->nbytes = nbytes;
}

/* ---- the round trip ------------------------------------------------------------------ */

#define BIG_N ((size_t)1 << 20)
#define NT 9

static const char *const meta_keys[] = {"format", "quotes", "config", "empty", "controls",
                                        "emoji"};
static const char *const meta_values[] = {
    "pt",
    "he said \"hi\" \\ back\\slash / \\\"",
    "# VAE pro MNIST\n[model]\nname = \"vae\" ; \xc3\x9avod: popis \xc5\xbelu\xc5\xa5ou\xc4\x8dk"
    "\xc3\xbd k\xc5\xaf\xc5\x88\n\tlatent = 2\r\n[train]\nlr = 1e-3\n",
    "",
    "\x01\x02\x1f\x7f tab\there",
    "\xf0\x9f\x98\x80 \xe2\x80\xa8",
};
#define NMETA (sizeof meta_keys / sizeof meta_keys[0])

typedef struct fixture {
    float f32[6];
    uint8_t u8[5];
    int32_t i32[3];
    uint32_t u32[4];
    int64_t i64[2];
    uint64_t u64[1];
    float scalar;
    float *big;
    clvae_st_tensor_t t[NT];
} fixture_t;

/* Tensors of every dtype, a scalar, an empty one, a big one; the U8 one shifts those after it
 * off their natural alignment. */
static int fixture_init(fixture_t *fx)
{
    memset(fx, 0, sizeof *fx);
    fx->big = malloc(BIG_N * sizeof *fx->big);
    if (!fx->big) return 0;
    uint32_t st = 12345;
    for (size_t i = 0; i < BIG_N; i++) {
        st = st * 1664525u + 1013904223u;
        uint32_t bits = st;
        memcpy(&fx->big[i], &bits, 4); /* every bit pattern, NaNs included */
    }
    const float f32[6] = {1.0f, -2.5f, 3.14159274f, 0.0f, -0.0f, 1e-40f};
    memcpy(fx->f32, f32, sizeof f32);
    const uint8_t u8[5] = {0, 1, 127, 128, 255};
    memcpy(fx->u8, u8, sizeof u8);
    fx->i32[0] = INT32_MIN, fx->i32[1] = -1, fx->i32[2] = INT32_MAX;
    fx->u32[0] = 0, fx->u32[1] = 1, fx->u32[2] = 0x80000000u, fx->u32[3] = UINT32_MAX;
    fx->i64[0] = INT64_MIN, fx->i64[1] = INT64_MAX;
    fx->u64[0] = UINT64_MAX;
    fx->scalar = 42.5f;
    const uint64_t s23[] = {2, 3}, s5[] = {5}, s3[] = {3}, s22[] = {2, 2}, s2[] = {2},
                   s1[] = {1}, s03[] = {0, 3}, sbig[] = {1024, 32, 32};
    set_tensor(&fx->t[0], "encoder.0.weight", CLVAE_ST_F32, 2, s23, fx->f32, sizeof fx->f32);
    set_tensor(&fx->t[1], "bytes.u8", CLVAE_ST_U8, 1, s5, fx->u8, sizeof fx->u8);
    set_tensor(&fx->t[2], "i32", CLVAE_ST_I32, 1, s3, fx->i32, sizeof fx->i32);
    set_tensor(&fx->t[3], "u32.\"x\"\\y", CLVAE_ST_U32, 2, s22, fx->u32, sizeof fx->u32);
    set_tensor(&fx->t[4], "i64", CLVAE_ST_I64, 1, s2, fx->i64, sizeof fx->i64);
    set_tensor(&fx->t[5], "u64", CLVAE_ST_U64, 1, s1, fx->u64, sizeof fx->u64);
    set_tensor(&fx->t[6], "scalar", CLVAE_ST_F32, 0, NULL, &fx->scalar, sizeof fx->scalar);
    set_tensor(&fx->t[7], "empty.\xc3\x9avod", CLVAE_ST_F32, 2, s03, NULL, 0);
    set_tensor(&fx->t[8], "decoder.big", CLVAE_ST_F32, 3, sbig, fx->big,
               BIG_N * sizeof *fx->big);
    return 1;
}

/* Checks that f holds exactly the fixture's tensors and metadata. */
static void check_same(const fixture_t *fx, const clvae_st_file_t *f, const char *label)
{
    CHECK(clvae_st_count(f) == NT, "%s: %zu tensors", label, clvae_st_count(f));
    for (size_t i = 0; i < NT && i < clvae_st_count(f); i++) {
        const clvae_st_tensor_t *want = &fx->t[i], *got = clvae_st_get(f, i);
        CHECK(got && strcmp(got->name, want->name) == 0, "%s: tensor %zu is %s, want %s", label,
              i, got ? got->name : "-", want->name);
        CHECK(clvae_st_find(f, want->name) == got, "%s: find(%s)", label, want->name);
        if (!got) continue;
        CHECK(got->dtype == want->dtype && got->ndim == want->ndim &&
                  got->nbytes == want->nbytes &&
                  memcmp(got->shape, want->shape, sizeof got->shape) == 0,
              "%s: tensor %s: dtype %d ndim %d nbytes %zu", label, want->name, got->dtype,
              got->ndim, got->nbytes);
        CHECK(want->nbytes == 0 || (got->data && memcmp(got->data, want->data,
                                                         want->nbytes) == 0),
              "%s: tensor %s: data differ", label, want->name);
    }
    CHECK(clvae_st_get(f, NT) == NULL && clvae_st_find(f, "missing") == NULL &&
              clvae_st_find(f, "encoder.0") == NULL, "%s: found a missing tensor", label);
    CHECK(clvae_st_meta_count(f) == NMETA, "%s: %zu metadata", label, clvae_st_meta_count(f));
    for (size_t i = 0; i < NMETA; i++) {
        const char *v = clvae_st_meta(f, meta_keys[i]);
        CHECK(v && strcmp(v, meta_values[i]) == 0, "%s: metadata %s = '%s'", label,
              meta_keys[i], v ? v : "(none)");
        const char *k = clvae_st_meta_key(f, i);
        CHECK(k && strcmp(k, meta_keys[i]) == 0, "%s: metadata key %zu is %s", label, i,
              k ? k : "(none)");
    }
    CHECK(clvae_st_meta(f, "missing") == NULL && clvae_st_meta_key(f, NMETA) == NULL,
          "%s: found missing metadata", label);
}

static void t_round_trip(void)
{
    fixture_t fx;
    REQUIRE(fixture_init(&fx), "out of memory");
    char path[512], path2[512], path3[512];
    path_of(path, sizeof path, "model.safetensors");
    path_of(path2, sizeof path2, "again.safetensors");
    path_of(path3, sizeof path3, "copy.safetensors");
    clvae_error_t err = {0};
    clvae_st_file_t *f = NULL, *g = NULL;
    uint8_t *bytes = NULL, *bytes2 = NULL, *bytes3 = NULL;
    size_t n = 0, n2 = 0, n3 = 0;
    clvae_status_t s = clvae_st_write(path, fx.t, NT, meta_keys, meta_values, NMETA, &err);
    CHECK(s == CLVAE_OK, "write: %s", err.msg);
    if (s == CLVAE_OK) s = clvae_st_read(path, &f, &err);
    CHECK(s == CLVAE_OK, "read: %s", err.msg);
    if (f) check_same(&fx, f, "read back");

    /* The file's layout: header length a multiple of 8, data right after, header valid JSON
     * that the generic reader takes with its padding, holding the offsets we expect. */
    bytes = read_bytes(path, &n);
    if (bytes && n >= 8) {
        uint64_t h = get_u64le(bytes);
        size_t total = 0;
        for (size_t i = 0; i < NT; i++) total += fx.t[i].nbytes;
        CHECK(h % 8 == 0 && (8 + h) % 8 == 0, "header length %llu", (unsigned long long)h);
        CHECK(8 + h + total == n, "file is %zu bytes, want 8 + %llu + %zu", n,
              (unsigned long long)h, total);
        CHECK(bytes[8] == '{', "header starts with 0x%02X", bytes[8]);
        size_t end = (size_t)h;
        while (end > 0 && bytes[8 + end - 1] == ' ') end--;
        CHECK(end > 0 && bytes[8 + end - 1] == '}' && h - end < 8, "padding of %zu bytes",
              (size_t)h - end);
        clvae_json_t *j = NULL;
        clvae_status_t js = clvae_json_parse((const char *)bytes + 8, (size_t)h, "header", &j,
                                             &err);
        CHECK(js == CLVAE_OK, "header is not JSON: %s", err.msg);
        if (j) {
            CHECK(j->type == CLVAE_JSON_OBJECT && j->count == NT + 1 &&
                      strcmp(j->items[0].key, "__metadata__") == 0,
                  "header has %zu members, first %s", j->count, j->items[0].key);
            uint64_t offset = 0;
            for (size_t i = 0; i < NT && i + 1 < j->count; i++) {
                const clvae_json_t *e = &j->items[i + 1];
                const clvae_json_t *off = clvae_json_get(e, "data_offsets");
                const clvae_json_t *dt = clvae_json_get(e, "dtype");
                uint64_t b = 1, en = 0;
                CHECK(strcmp(e->key, fx.t[i].name) == 0 && e->count == 3 && off &&
                          off->count == 2 && clvae_json_u64(&off->items[0], &b) &&
                          clvae_json_u64(&off->items[1], &en) && b == offset &&
                          en == offset + fx.t[i].nbytes && dt &&
                          strcmp(dt->str, clvae_st_dtype_name(fx.t[i].dtype)) == 0,
                      "entry %zu (%s): offsets %llu..%llu, want %llu", i, e->key,
                      (unsigned long long)b, (unsigned long long)en,
                      (unsigned long long)offset);
                offset += fx.t[i].nbytes;
            }
            const clvae_json_t *cfg = clvae_json_get(clvae_json_get(j, "__metadata__"),
                                                     "config");
            CHECK(cfg && cfg->type == CLVAE_JSON_STRING && strcmp(cfg->str, meta_values[2]) == 0,
                  "config text through the generic reader");
            clvae_json_free(j);
        }
        /* data starts 8-byte aligned and holds the tensors back to back */
        CHECK(memcmp(bytes + 8 + h, fx.f32, sizeof fx.f32) == 0, "first tensor's bytes");
        CHECK(memcmp(bytes + n - BIG_N * 4, fx.big, BIG_N * 4) == 0, "last tensor's bytes");
    } else {
        CHECK(0, "cannot read %s back", path);
    }

    /* Writing the same again gives the same bytes; so does writing what was read. */
    s = clvae_st_write(path2, fx.t, NT, meta_keys, meta_values, NMETA, &err);
    bytes2 = s == CLVAE_OK ? read_bytes(path2, &n2) : NULL;
    CHECK(bytes && bytes2 && n == n2 && memcmp(bytes, bytes2, n) == 0, "second write differs");
    if (f) {
        clvae_st_tensor_t copy[NT];
        const char *keys[NMETA], *values[NMETA];
        for (size_t i = 0; i < NT; i++) copy[i] = *clvae_st_get(f, i);
        for (size_t i = 0; i < NMETA; i++) {
            keys[i] = clvae_st_meta_key(f, i);
            values[i] = clvae_st_meta(f, keys[i]);
        }
        s = clvae_st_write(path3, copy, NT, keys, values, NMETA, &err);
        CHECK(s == CLVAE_OK, "rewrite: %s", err.msg);
        bytes3 = s == CLVAE_OK ? read_bytes(path3, &n3) : NULL;
        CHECK(bytes && bytes3 && n == n3 && memcmp(bytes, bytes3, n) == 0, "rewrite differs");
        if (clvae_st_read(path3, &g, &err) == CLVAE_OK) check_same(&fx, g, "rewritten");
        else CHECK(0, "reading the rewrite: %s", err.msg);
    }
    CHECK(folder_entries() == 3, "%d files in the folder, want 3", folder_entries());
    clvae_st_free(f);
    clvae_st_free(g);
    free(bytes);
    free(bytes2);
    free(bytes3);
    free(fx.big);
    clvae_error_clear(&err);
    empty_folder();
}

static void t_no_tensors(void)
{
    /* No tensors, no metadata: "{}" padded to 8 bytes, and it reads back empty. */
    char path[512];
    path_of(path, sizeof path, "empty.safetensors");
    clvae_error_t err = {0};
    REQUIRE(clvae_st_write(path, NULL, 0, NULL, NULL, 0, &err) == CLVAE_OK, "%s", err.msg);
    size_t n;
    uint8_t *bytes = read_bytes(path, &n);
    static const uint8_t want[] = {8, 0, 0, 0, 0, 0, 0, 0, '{', '}', ' ', ' ', ' ', ' ', ' ', ' '};
    CHECK(bytes && n == sizeof want && memcmp(bytes, want, n) == 0, "empty file is %zu bytes",
          n);
    free(bytes);
    clvae_st_file_t *f = NULL;
    CHECK(clvae_st_read(path, &f, &err) == CLVAE_OK && clvae_st_count(f) == 0 &&
              clvae_st_meta_count(f) == 0 && clvae_st_get(f, 0) == NULL, "%s", err.msg);
    clvae_st_free(f);
    clvae_st_free(NULL);
    empty_folder();
}

/* ---- compatibility ------------------------------------------------------------------- */

/* Exactly what Python's safetensors writes for
 *   save_file({"a": np.array([1.0, -2.5], np.float32)}, p, metadata={"format": "pt"}):
 * metadata first, compact JSON, padded with spaces to a multiple of 8 (85 -> 88 bytes). */
static const uint8_t python_file[] =
    "\x58\x00\x00\x00\x00\x00\x00\x00"
    "{\"__metadata__\":{\"format\":\"pt\"},\"a\":{\"dtype\":\"F32\",\"shape\":[2],"
    "\"data_offsets\":[0,8]}}   "
    "\x00\x00\x80\x3f\x00\x00\x20\xc0";

static void t_python_compat(void)
{
    size_t n = sizeof python_file - 1;
    clvae_error_t err = {0};
    clvae_st_file_t *f = NULL;
    REQUIRE(read_image("py.safetensors", python_file, n, &err, &f) == CLVAE_OK, "%s", err.msg);
    const clvae_st_tensor_t *a = clvae_st_find(f, "a");
    float v[2] = {0, 0};
    if (a && a->nbytes == 8) memcpy(v, a->data, 8);
    CHECK(clvae_st_count(f) == 1 && a && a->dtype == CLVAE_ST_F32 && a->ndim == 1 &&
              a->shape[0] == 2 && a->nbytes == 8 && v[0] == 1.0f && v[1] == -2.5f,
          "tensor a read wrong");
    const char *fmt = clvae_st_meta(f, "format");
    CHECK(fmt && strcmp(fmt, "pt") == 0, "format metadata");
    clvae_st_free(f);

    /* And clvae writes the very same bytes. */
    clvae_st_tensor_t t;
    const float data[2] = {1.0f, -2.5f};
    const uint64_t shape[1] = {2};
    set_tensor(&t, "a", CLVAE_ST_F32, 1, shape, data, sizeof data);
    const char *k[] = {"format"}, *val[] = {"pt"};
    char path[512];
    path_of(path, sizeof path, "ours.safetensors");
    REQUIRE(clvae_st_write(path, &t, 1, k, val, 1, &err) == CLVAE_OK, "%s", err.msg);
    size_t m;
    uint8_t *ours = read_bytes(path, &m);
    CHECK(ours && m == n && memcmp(ours, python_file, n) == 0, "clvae's bytes differ (%zu)", m);
    free(ours);

    /* Another writer's habits that are still valid: tensors listed out of offset order,
     * whitespace between tokens, no metadata, a header length that is not a multiple of 8. */
    const char *header = "{ \"b\": {\"data_offsets\": [4, 8], \"shape\": [], \"dtype\": \"I32\"},\n"
                         "  \"a\": {\"dtype\": \"U8\", \"shape\": [1, 4], "
                         "\"data_offsets\": [0, 4]} }";
    const uint8_t data2[8] = {1, 2, 3, 4, 0xff, 0xff, 0xff, 0xff};
    uint8_t *bytes = make_file(header, data2, 8, 0, &n);
    REQUIRE(bytes, "out of memory");
    f = NULL;
    CHECK(read_image("other.safetensors", bytes, n, &err, &f) == CLVAE_OK, "%s", err.msg);
    const clvae_st_tensor_t *t0 = clvae_st_get(f, 0), *t1 = clvae_st_get(f, 1);
    int32_t b = 0;
    if (t1 && t1->nbytes == 4) memcpy(&b, t1->data, 4);
    CHECK(t0 && t1 && strcmp(t0->name, "a") == 0 && strcmp(t1->name, "b") == 0 &&
              t1->ndim == 0 && b == -1 && t0->ndim == 2 && t0->shape[1] == 4 &&
              memcmp(t0->data, data2, 4) == 0, "tensors not in offset order or read wrong");
    clvae_st_free(f);
    free(bytes);
    clvae_error_clear(&err);
    empty_folder();
}

/* ---- rejection ----------------------------------------------------------------------- */

/* A small valid file (a few hundred bytes) to cut and damage. */
static uint8_t *small_file(size_t *n, size_t *header_end)
{
    char path[512];
    path_of(path, sizeof path, "small.safetensors");
    const float w[6] = {0.5f, -1.0f, 2.0f, 4.0f, -8.0f, 16.0f};
    const uint8_t u[3] = {7, 8, 9};
    const int64_t c[2] = {-3, 1234567890123ll};
    const uint64_t s23[] = {2, 3}, s3[] = {3}, s2[] = {2};
    clvae_st_tensor_t t[3];
    set_tensor(&t[0], "enc.w", CLVAE_ST_F32, 2, s23, w, sizeof w);
    set_tensor(&t[1], "lbl", CLVAE_ST_U8, 1, s3, u, sizeof u);
    set_tensor(&t[2], "step", CLVAE_ST_I64, 1, s2, c, sizeof c);
    const char *k[] = {"v"}, *v[] = {"1"};
    clvae_error_t err = {0};
    if (clvae_st_write(path, t, 3, k, v, 1, &err) != CLVAE_OK) return NULL;
    uint8_t *bytes = read_bytes(path, n);
    unlink(path);
    if (bytes && *n >= 8) *header_end = 8 + (size_t)get_u64le(bytes);
    return bytes;
}

static void t_truncated_everywhere(void)
{
    size_t n, header_end;
    uint8_t *bytes = small_file(&n, &header_end);
    REQUIRE(bytes, "cannot make the small file");
    clvae_error_t err = {0};
    char path[512];
    path_of(path, sizeof path, "cut.safetensors");
    REQUIRE(read_image("cut.safetensors", bytes, n, &err, NULL) == CLVAE_OK, "%s", err.msg);
    size_t rejected = 0, bad_msg = 0;
    for (size_t cut = 0; cut < n; cut++) {
        clvae_status_t s = read_image("cut.safetensors", bytes, cut, &err, NULL);
        if (s == CLVAE_ERR_CORRUPT) rejected++;
        else CHECK(0, "cut at %zu of %zu: %s %s", cut, n, clvae_status_name(s), err.msg);
        if (!strstr(err.msg, path)) bad_msg++;
    }
    CHECK(rejected == n, "%zu of %zu truncations rejected", rejected, n);
    CHECK(bad_msg == 0, "%zu messages lack the path", bad_msg);
    printf("  truncation: %zu of %zu cuts rejected\n", rejected, n);
    free(bytes);
    clvae_error_clear(&err);
    empty_folder();
}

static void t_flipped_header_bytes(void)
{
    size_t n, header_end;
    uint8_t *bytes = small_file(&n, &header_end);
    REQUIRE(bytes, "cannot make the small file");
    uint8_t *copy = malloc(n);
    REQUIRE(copy, "out of memory");
    static const uint8_t masks[] = {0x01, 0x02, 0x20, 0x80, 0xFF};
    size_t tried = 0, rejected = 0, len_rejected = 0;
    clvae_error_t err = {0};
    char path[512];
    path_of(path, sizeof path, "flip.safetensors");
    for (size_t pos = 0; pos < header_end; pos++) {
        for (size_t m = 0; m < sizeof masks; m++) {
            memcpy(copy, bytes, n);
            copy[pos] ^= masks[m];
            clvae_st_file_t *f = NULL;
            clvae_status_t s = read_image("flip.safetensors", copy, n, &err, &f);
            tried++;
            if (s == CLVAE_OK) {
                /* still a valid file: it must describe data inside the file */
                size_t sum = 0;
                for (size_t i = 0; i < clvae_st_count(f); i++) sum += clvae_st_get(f, i)->nbytes;
                CHECK(sum == n - header_end, "flip at %zu: tensors cover %zu of %zu bytes", pos,
                      sum, n - header_end);
            } else {
                CHECK(s == CLVAE_ERR_CORRUPT && strstr(err.msg, path),
                      "flip at %zu (^0x%02X): %s %s", pos, masks[m], clvae_status_name(s),
                      err.msg);
                rejected++;
                if (pos < 8) len_rejected++;
            }
            clvae_st_free(f);
        }
    }
    CHECK(len_rejected == 8 * sizeof masks, "%zu of %zu flips of the length field rejected",
          len_rejected, 8 * sizeof masks);
    CHECK(rejected * 10 >= tried * 8, "only %zu of %zu header flips rejected", rejected, tried);
    printf("  header flips: %zu of %zu rejected, the rest still valid files\n", rejected, tried);
    free(copy);
    free(bytes);
    clvae_error_clear(&err);
    empty_folder();
}

static void t_bad_lengths(void)
{
    uint8_t b[32];
    memset(b, ' ', sizeof b);
    memcpy(b + 8, "{}", 2);
    /* 2^63 */
    memset(b, 0, 8);
    b[7] = 0x80;
    expect_corrupt("length 2^63", b, 16, "header length");
    /* 2^64 - 1 */
    memset(b, 0xff, 8);
    expect_corrupt("length 2^64-1", b, 16, "header length");
    /* larger than the file */
    memset(b, 0, 8);
    b[0] = 9;
    expect_corrupt("length 9 with 8 after", b, 16, "header length is 9");
    /* larger than the limit, and than the file */
    memset(b, 0, 8);
    b[3] = 0x10; /* 256 MiB */
    expect_corrupt("length 256 MiB", b, 16, "header length");
    /* zero */
    memset(b, 0, 8);
    expect_corrupt("length 0", b, 16, "header length is 0");
    /* shorter than the length field */
    expect_corrupt("empty file", b, 0, "too short");
    expect_corrupt("7 bytes", b, 7, "too short");
    /* a length that cuts the JSON short, and one that takes data as header */
    const char *hdr = "{\"a\":{\"dtype\":\"U8\",\"shape\":[8],\"data_offsets\":[0,8]}}";
    size_t n;
    uint8_t *img = make_file(hdr, "abcdefgh", 8, 1, &n);
    REQUIRE(img, "out of memory");
    img[0] = (uint8_t)(img[0] - 8);
    expect_corrupt("length 8 short", img, n, "header");
    img[0] = (uint8_t)(img[0] + 16);
    expect_corrupt("length 8 long", img, n, "only spaces");
    free(img);
}

static void t_bad_headers(void)
{
    static const struct { const char *header; size_t data; const char *why; } cases[] = {
        /* numbers that are not plain non-negative integers */
        {"{\"a\":{\"dtype\":\"F32\",\"shape\":[-1],\"data_offsets\":[0,4]}}", 4, "integer"},
        {"{\"a\":{\"dtype\":\"F32\",\"shape\":[1.5],\"data_offsets\":[0,4]}}", 4, "integer"},
        {"{\"a\":{\"dtype\":\"F32\",\"shape\":[1e0],\"data_offsets\":[0,4]}}", 4, "integer"},
        {"{\"a\":{\"dtype\":\"F32\",\"shape\":[1.0],\"data_offsets\":[0,4]}}", 4, "integer"},
        {"{\"a\":{\"dtype\":\"F32\",\"shape\":[\"1\"],\"data_offsets\":[0,4]}}", 4, "integer"},
        {"{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[-0,4]}}", 4, "integer"},
        {"{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4.0]}}", 4, "integer"},
        {"{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4e0]}}", 4, "integer"},
        {"{\"a\":{\"dtype\":\"F32\",\"shape\":[1000],\"data_offsets\":[0,1e3]}}", 4, "integer"},
        {"{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[-1,3]}}", 4, "integer"},
        {"{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,18446744073709551620]}}", 4,
         "integer"},
        {"{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,null]}}", 4, "integer"},
        /* offsets */
        {"{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]},"
         "\"b\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[4,12]}}", 12, "overlaps"},
        {"{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]},"
         "\"b\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]}}", 8, "overlaps"},
        {"{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]},"
         "\"b\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[12,20]}}", 20, "no tensor"},
        {"{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[4,12]}}", 12, "no tensor"},
        {"{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[8,0]}}", 8, "before it begins"},
        {"{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]}}", 4,
         "ends at byte 8 but the data is 4 bytes"},
        {"{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]}}", 12, "cover only 8"},
        {"{}", 8, "cover only 0"},
        {"{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0]}}", 8, "not 2"},
        {"{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8,8]}}", 8, "at most 2"},
        {"{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":{\"b\":0}}}", 8,
         "not an array"},
        /* dtypes and shapes */
        {"{\"a\":{\"dtype\":\"F16\",\"shape\":[2],\"data_offsets\":[0,4]}}", 4, "dtype \"F16\""},
        {"{\"a\":{\"dtype\":\"f32\",\"shape\":[2],\"data_offsets\":[0,8]}}", 8, "dtype \"f32\""},
        {"{\"a\":{\"dtype\":\"F32 \",\"shape\":[2],\"data_offsets\":[0,8]}}", 8, "dtype"},
        {"{\"a\":{\"dtype\":\"BF16\",\"shape\":[2],\"data_offsets\":[0,4]}}", 4, "dtype"},
        {"{\"a\":{\"dtype\":4,\"shape\":[2],\"data_offsets\":[0,8]}}", 8, "not a string"},
        {"{\"a\":{\"dtype\":\"F32\",\"shape\":[3],\"data_offsets\":[0,8]}}", 8, "needs 12"},
        {"{\"a\":{\"dtype\":\"I64\",\"shape\":[],\"data_offsets\":[0,4]}}", 4, "needs 8"},
        {"{\"a\":{\"dtype\":\"U8\",\"shape\":[0,3],\"data_offsets\":[0,4]}}", 4, "needs 0"},
        {"{\"a\":{\"dtype\":\"U8\",\"shape\":[1,1,1,1,1,1,1,1,2],\"data_offsets\":[0,2]}}", 2,
         "at most 8"},
        {"{\"a\":{\"dtype\":\"F32\",\"shape\":[4294967296,4294967296],\"data_offsets\":[0,4]}}",
         4, "too large"},
        {"{\"a\":{\"dtype\":\"U8\",\"shape\":[18446744073709551615,2],\"data_offsets\":[0,4]}}",
         4, "too large"},
        {"{\"a\":{\"dtype\":\"U64\",\"shape\":[2305843009213693952],\"data_offsets\":[0,0]}}", 0,
         "too large"},
        {"{\"a\":{\"dtype\":\"F32\",\"shape\":2,\"data_offsets\":[0,8]}}", 8, "not an array"},
        /* names, fields, entries */
        {"{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]},"
         "\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[8,16]}}", 16, "twice"},
        {"{\"a\":{\"shape\":[2],\"data_offsets\":[0,8]}}", 8, "no \"dtype\""},
        {"{\"a\":{\"dtype\":\"F32\",\"data_offsets\":[0,8]}}", 8, "no \"shape\""},
        {"{\"a\":{\"dtype\":\"F32\",\"shape\":[2]}}", 8, "no \"data_offsets\""},
        {"{\"a\":{}}", 0, "no \"dtype\""},
        {"{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8],\"extra\":1}}", 8,
         "unknown field \"extra\""},
        {"{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8],\"dtype\\u0000\":1}}", 8,
         "unknown field"},
        {"{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8],\"dtype\":\"F32\"}}", 8,
         "twice"},
        {"{\"a\":[1]}", 0, "not described by an object"},
        {"{\"a\":null}", 0, "not described by an object"},
        {"{\"\":{\"dtype\":\"U8\",\"shape\":[0],\"data_offsets\":[0,0]}}", 0, "empty name"},
        {"{\"a\\u0000b\":{\"dtype\":\"U8\",\"shape\":[0],\"data_offsets\":[0,0]}}", 0, "NUL"},
        {"{\"xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"
         "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx\":{\"dtype\":\"U8\","
         "\"shape\":[0],\"data_offsets\":[0,0]}}", 0, "limit of 127"},
        /* metadata */
        {"{\"__metadata__\":{\"x\":1}}", 0, "not a string"},
        {"{\"__metadata__\":{\"x\":{\"y\":\"z\"}}}", 0, "not a string"},
        {"{\"__metadata__\":{\"x\":null}}", 0, "not a string"},
        {"{\"__metadata__\":\"pt\"}", 0, "not an object"},
        {"{\"__metadata__\":[\"pt\"]}", 0, "not an object"},
        {"{\"__metadata__\":{\"x\":\"a\\u0000b\"}}", 0, "NUL"},
        {"{\"__metadata__\":{\"x\\u0000\":\"a\"}}", 0, "NUL"},
        {"{\"__metadata__\":{\"x\":\"1\",\"x\":\"2\"}}", 0, "twice"},
        {"{\"__metadata__\":{},\"__metadata__\":{}}", 0, "twice"},
        /* the JSON text itself */
        {"{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]}}x", 8, "only spaces"},
        {"{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]}}\n", 8, "only spaces"},
        {"{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]}} }", 8, "header"},
        {"{} {}", 0, "header"},
        {" {}", 0, "start with '{'"},
        {"[]", 0, "start with '{'"},
        {"\"{}\"", 0, "start with '{'"},
        {"{\"a\":}", 0, "header: line 1"},
        {"{\"a\":{\"dtype\":\"F32\",\"shape\":[2,],\"data_offsets\":[0,8]}}", 8, "header: line 1"},
        {"{\"__metadata__\":{\"x\":\"\xc3\x28\"}}", 0, "UTF-8"},
        {"{\"__metadata__\":{\"x\":\"a\nb\"}}", 0, "control character"},
        {"{\"__metadata__\":{\"x\":\"\\ud800\"}}", 0, "surrogate"},
        {"{\"__metadata__\":{\"x\":\"1\"}", 0, "header"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
        expect_corrupt_header(cases[i].header, cases[i].data, cases[i].why);

    /* Nesting 100 deep inside the metadata. */
    char deep[400];
    char *p = deep + sprintf(deep, "{\"__metadata__\":{\"x\":");
    for (int i = 0; i < 100; i++) *p++ = '[';
    for (int i = 0; i < 100; i++) *p++ = ']';
    strcpy(p, "}}");
    expect_corrupt_header(deep, 0, "nested deeper");

    /* Huge but valid shapes whose product is zero are fine (as in the reference). */
    const char *zero = "{\"a\":{\"dtype\":\"U64\",\"shape\":[18446744073709551615,0],"
                       "\"data_offsets\":[0,0]}}";
    size_t n;
    uint8_t *img = make_file(zero, NULL, 0, 1, &n);
    REQUIRE(img, "out of memory");
    clvae_error_t err = {0};
    clvae_st_file_t *f = NULL;
    CHECK(read_image("zero.safetensors", img, n, &err, &f) == CLVAE_OK &&
              clvae_st_get(f, 0)->nbytes == 0, "zero-size tensor with a huge dim: %s", err.msg);
    clvae_st_free(f);
    free(img);
    empty_folder();
}

static void t_read_missing_and_odd_paths(void)
{
    char path[512];
    path_of(path, sizeof path, "nothing.safetensors");
    clvae_error_t err = {0};
    clvae_st_file_t *f = (clvae_st_file_t *)1;
    CHECK(clvae_st_read(path, &f, &err) == CLVAE_ERR_NOT_FOUND && f == NULL &&
              strstr(err.msg, path), "missing file: %s %s", clvae_status_name(err.status),
          err.msg);
    CHECK(clvae_st_read(tmpdir, &f, &err) == CLVAE_ERR_IO && f == NULL && strstr(err.msg, tmpdir),
          "a folder: %s %s", clvae_status_name(err.status), err.msg);
    clvae_error_clear(&err);
}

/* ---- the writer ---------------------------------------------------------------------- */

/* Writes a one-tensor file with the given fill byte; returns its bytes (free them). */
static uint8_t *write_simple(const char *path, uint8_t fill, size_t len, size_t *n,
                             clvae_status_t *s, clvae_error_t *err)
{
    uint8_t *data = malloc(len);
    if (!data) return NULL;
    memset(data, fill, len);
    clvae_st_tensor_t t;
    const uint64_t shape[1] = {len};
    set_tensor(&t, "w", CLVAE_ST_U8, 1, shape, data, len);
    const char *k[] = {"note"}, *v[] = {fill == 0xAA ? "old" : "the new file"};
    *s = clvae_st_write(path, &t, 1, k, v, 1, err);
    free(data);
    return *s == CLVAE_OK ? read_bytes(path, n) : NULL;
}

/* Checks that the file at path still has exactly the n bytes old, and is the only file. */
static void check_intact(const char *label, const char *path, const uint8_t *old, size_t n)
{
    size_t m = 0;
    uint8_t *now = read_bytes(path, &m);
    CHECK(now && m == n && memcmp(now, old, n) == 0, "%s: the previous file changed", label);
    CHECK(folder_entries() == 1, "%s: %d entries in the folder (a temp file left?)", label,
          folder_entries());
    free(now);
}

static void t_writer_rejects(void)
{
    char path[512];
    path_of(path, sizeof path, "keep.safetensors");
    clvae_error_t err = {0};
    clvae_status_t s;
    size_t n = 0;
    uint8_t *old = write_simple(path, 0xAA, 100, &n, &s, &err);
    REQUIRE(old, "cannot write the first file: %s", err.msg);

    float a[4] = {1, 2, 3, 4};
    const uint64_t s4[] = {4}, s22[] = {2, 2}, s9[9] = {1, 1, 1, 1, 1, 1, 1, 1, 4},
                   shuge[] = {UINT64_MAX, 2};
    clvae_st_tensor_t t[2];
    const char *ok_k[] = {"a"}, *ok_v[] = {"b"};
    for (int c = 0; c < 16; c++) {
        const char *const *mk = ok_k, *const *mv = ok_v;
        const char *dup_k[] = {"a", "a"}, *dup_v[] = {"1", "2"}, *bad[] = {"x\ny"},
                   *badv[] = {"\xc3\x28"}, *nullv[] = {NULL};
        size_t nt = 1, nm = 1;
        const char *why = NULL;
        set_tensor(&t[0], "x", CLVAE_ST_F32, 1, s4, a, sizeof a);
        set_tensor(&t[1], "y", CLVAE_ST_F32, 2, s22, a, sizeof a);
        switch (c) {
        case 0: nt = 2; strcpy(t[1].name, "x"); why = "twice"; break;
        case 1: t[0].nbytes = 12; why = "needs 16"; break;
        case 2: t[0].dtype = CLVAE_ST_I64; why = "needs 32"; break;
        case 3: t[0].name[0] = 0; why = "empty name"; break;
        case 4: strcpy(t[0].name, "a\tb"); why = "control"; break;
        case 5: strcpy(t[0].name, "\xff"); why = "UTF-8"; break;
        case 6: strcpy(t[0].name, "__metadata__"); why = "__metadata__"; break;
        case 7: t[0].dtype = (clvae_st_dtype_t)99; why = "dtype 99"; break;
        case 8: t[0].ndim = 9; memcpy(t[0].shape, s9, sizeof t[0].shape); why = "9 dim"; break;
        case 9: t[0].ndim = -1; why = "dimensions"; break;
        case 10: t[0].ndim = 2; memcpy(t[0].shape, shuge, sizeof shuge); why = "too large";
            break;
        case 11: t[0].data = NULL; why = "no data"; break;
        case 12: mk = dup_k; mv = dup_v; nm = 2; why = "twice"; break;
        case 13: mk = bad; why = "control"; break;
        case 14: mv = badv; why = "UTF-8"; break;
        case 15: mv = nullv; why = "NULL"; break;
        }
        clvae_error_clear(&err);
        s = clvae_st_write(path, t, nt, mk, mv, nm, &err);
        CHECK(s == CLVAE_ERR_INVALID && strstr(err.msg, path) && strstr(err.msg, why),
              "case %d: %s %s", c, clvae_status_name(s), err.msg);
        char label[32];
        snprintf(label, sizeof label, "case %d", c);
        check_intact(label, path, old, n);
    }
    memset(t[0].name, 'n', sizeof t[0].name); /* no NUL */
    s = clvae_st_write(path, t, 1, NULL, NULL, 0, &err);
    CHECK(s == CLVAE_ERR_INVALID && strstr(err.msg, "NUL"), "unterminated name: %s", err.msg);
    check_intact("unterminated name", path, old, n);
    free(old);
    clvae_error_clear(&err);
    empty_folder();
}

static void t_writer_unwritable(void)
{
    char path[512], missing[600];
    path_of(path, sizeof path, "keep.safetensors");
    clvae_error_t err = {0};
    clvae_status_t s;
    size_t n = 0, m = 0;
    uint8_t *old = write_simple(path, 0xAA, 100, &n, &s, &err);
    REQUIRE(old, "cannot write the first file: %s", err.msg);

    /* inside a missing folder */
    snprintf(missing, sizeof missing, "%s/no/such/folder/x.safetensors", tmpdir);
    uint8_t *none = write_simple(missing, 0x55, 10, &m, &s, &err);
    CHECK(!none && s == CLVAE_ERR_IO && strstr(err.msg, missing), "missing folder: %s %s",
          clvae_status_name(s), err.msg);
    free(none);
    check_intact("missing folder", path, old, n);

    /* over a folder: the rename fails after the temp file was written */
    char sub[600];
    snprintf(sub, sizeof sub, "%s/sub", tmpdir);
    REQUIRE(mkdir(sub, 0755) == 0, "mkdir %s", sub);
    none = write_simple(sub, 0x55, 10, &m, &s, &err);
    CHECK(!none && s == CLVAE_ERR_IO && strstr(err.msg, sub) && strstr(err.msg, "rename"),
          "over a folder: %s %s", clvae_status_name(s), err.msg);
    free(none);
    CHECK(folder_entries() == 2, "%d entries after writing over a folder", folder_entries());
    rmdir(sub);
    check_intact("over a folder", path, old, n);
    free(old);
    clvae_error_clear(&err);
    empty_folder();
}

static void t_writer_fault_injection(void)
{
    char path[512];
    path_of(path, sizeof path, "keep.safetensors");
    clvae_error_t err = {0};
    clvae_status_t s;
    size_t n = 0, m = 0;
    unsetenv("CLVAE_FAULT_WRITE_AFTER");
    uint8_t *old = write_simple(path, 0xAA, 100, &n, &s, &err);
    REQUIRE(old, "cannot write the first file: %s", err.msg);
    /* the size of the new file, written elsewhere first */
    char probe[512];
    path_of(probe, sizeof probe, "probe.safetensors");
    uint8_t *fresh = write_simple(probe, 0x55, 300, &m, &s, &err);
    REQUIRE(fresh, "cannot write the probe: %s", err.msg);
    unlink(probe);
    size_t header_end = 8 + (size_t)get_u64le(fresh);
    const size_t ks[] = {0, 1, 7, 8, 9, 20, header_end / 2, header_end - 1, header_end,
                         header_end + 1, header_end + 150, m - 1};
    for (size_t i = 0; i < sizeof ks / sizeof ks[0]; i++) {
        char value[32], label[64];
        snprintf(value, sizeof value, "%zu", ks[i]);
        snprintf(label, sizeof label, "fault after %zu of %zu bytes", ks[i], m);
        setenv("CLVAE_FAULT_WRITE_AFTER", value, 1);
        size_t got = 0;
        uint8_t *none = write_simple(path, 0x55, 300, &got, &s, &err);
        unsetenv("CLVAE_FAULT_WRITE_AFTER");
        CHECK(!none && s == CLVAE_ERR_IO && strstr(err.msg, path) &&
                  strstr(err.msg, strerror(ENOSPC)), "%s: %s %s", label, clvae_status_name(s),
              err.msg);
        free(none);
        check_intact(label, path, old, n);
    }
    /* -k counts from the end: -1 is one byte short, -m (or more) fails at once */
    const char *negs[] = {"-1", "-2", "-150", "-999999"};
    for (size_t i = 0; i < sizeof negs / sizeof negs[0]; i++) {
        setenv("CLVAE_FAULT_WRITE_AFTER", negs[i], 1);
        size_t got = 0;
        uint8_t *none = write_simple(path, 0x55, 300, &got, &s, &err);
        unsetenv("CLVAE_FAULT_WRITE_AFTER");
        CHECK(!none && s == CLVAE_ERR_IO && strstr(err.msg, strerror(ENOSPC)), "fault %s: %s %s",
              negs[i], clvae_status_name(s), err.msg);
        free(none);
        check_intact(negs[i], path, old, n);
    }
    setenv("CLVAE_FAULT_WRITE_AFTER", "-0", 1);
    {
        size_t got = 0;
        uint8_t *all = write_simple(path, 0x55, 300, &got, &s, &err);
        CHECK(all && got == m && memcmp(all, fresh, m) == 0, "-0 budget: %s", err.msg);
        free(all);
        unsetenv("CLVAE_FAULT_WRITE_AFTER");
        free(write_simple(path, 0xAA, 100, &got, &s, &err)); /* the old file back */
    }
    /* a budget of the whole file lets it through */
    char value[32];
    snprintf(value, sizeof value, "%zu", m);
    setenv("CLVAE_FAULT_WRITE_AFTER", value, 1);
    size_t got = 0;
    uint8_t *now = write_simple(path, 0x55, 300, &got, &s, &err);
    CHECK(now && got == m && memcmp(now, fresh, m) == 0, "budget of %zu: %s", m, err.msg);
    free(now);
    /* a malformed value is an error, not ignored */
    const char *bad[] = {"12x", "-", "--1", "", "+3", "1-"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        setenv("CLVAE_FAULT_WRITE_AFTER", bad[i], 1);
        now = write_simple(path, 0xAA, 100, &got, &s, &err);
        CHECK(!now && s == CLVAE_ERR_INVALID && strstr(err.msg, "CLVAE_FAULT_WRITE_AFTER"),
              "'%s': %s", bad[i], err.msg);
        free(now);
    }
    unsetenv("CLVAE_FAULT_WRITE_AFTER");
    CHECK(folder_entries() == 1, "%d entries at the end", folder_entries());
    free(old);
    free(fresh);
    clvae_error_clear(&err);
    empty_folder();
}

static void t_dtype_names(void)
{
    static const struct { clvae_st_dtype_t t; const char *name; size_t size; } d[] = {
        {CLVAE_ST_F32, "F32", 4}, {CLVAE_ST_U8, "U8", 1},   {CLVAE_ST_I32, "I32", 4},
        {CLVAE_ST_U32, "U32", 4}, {CLVAE_ST_I64, "I64", 8}, {CLVAE_ST_U64, "U64", 8},
    };
    for (size_t i = 0; i < sizeof d / sizeof d[0]; i++)
        CHECK(strcmp(clvae_st_dtype_name(d[i].t), d[i].name) == 0 &&
                  clvae_st_dtype_size(d[i].t) == d[i].size, "dtype %d", (int)d[i].t);
    CHECK(strcmp(clvae_st_dtype_name((clvae_st_dtype_t)6), "?") == 0 &&
              clvae_st_dtype_size((clvae_st_dtype_t)6) == 0, "unknown dtype");
}

int main(void)
{
    strcpy(tmpdir, "/tmp/clvae-st-XXXXXX");
    if (!mkdtemp(tmpdir)) {
        perror("mkdtemp");
        return 1;
    }
    unsetenv("CLVAE_FAULT_WRITE_AFTER");
    RUN(t_round_trip);
    RUN(t_no_tensors);
    RUN(t_python_compat);
    RUN(t_truncated_everywhere);
    RUN(t_flipped_header_bytes);
    RUN(t_bad_lengths);
    RUN(t_bad_headers);
    RUN(t_read_missing_and_odd_paths);
    RUN(t_writer_rejects);
    RUN(t_writer_unwritable);
    RUN(t_writer_fault_injection);
    RUN(t_dtype_names);
    empty_folder();
    if (rmdir(tmpdir) != 0) {
        printf("FAIL: %s cannot remove %s: %s\n", TEST_FILE, tmpdir, strerror(errno));
        return 1;
    }
    return TEST_EXIT();
}
