/* Per-device tuned parameters: the cache file (JSON with a checksum, one per device and driver),
 * its loading with one warning when it is unusable, and the context's parameter table. */
#include "device/tuning_internal.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <clblast_c.h>

#include "clvae/io/fileio.h"
#include "clvae/io/json.h"
#include "clvae/io/sha256.h"
#include "device/ctx_internal.h"

/* The largest cache file read (a real one is a few KiB). */
#define MAX_FILE ((size_t)1 << 20)
/* What the checksum line looks like: the checksum covers every byte before it. */
#define SUM_MARK ",\n  \"checksum\": \""
#define CLBLAST_VERSION_TEXT                                                                  \
    CLVAE_STR(CLBLAST_VERSION_MAJOR) "." CLVAE_STR(CLBLAST_VERSION_MINOR) "." CLVAE_STR(      \
        CLBLAST_VERSION_PATCH)
#define CLVAE_STR2(x) #x
#define CLVAE_STR(x) CLVAE_STR2(x)

const char *clvae_tuning_state_name(clvae_tuning_state_t s)
{
    switch (s) {
    case CLVAE_TUNING_OFF: return "defaults (CLVAE_TUNING=0)";
    case CLVAE_TUNING_UNTUNED: return "defaults (untuned device)";
    case CLVAE_TUNING_TUNED: return "tuned";
    case CLVAE_TUNING_REJECTED: return "defaults (tuning cache rejected)";
    }
    return "?";
}

/* Copies s with every byte outside printable ASCII, '"' and '\\' turned into '?': the form
 * device strings take in the cache file and in its key, so they need no JSON escapes. */
static void plain(char *dst, size_t cap, const char *s)
{
    size_t i = 0;
    for (; s[i] && i + 1 < cap; i++) {
        unsigned char c = (unsigned char)s[i];
        dst[i] = (c < 0x20 || c > 0x7e || c == '"' || c == '\\') ? '?' : (char)c;
    }
    dst[i] = 0;
}

/* The device strings the cache is keyed by. */
typedef struct key_parts {
    char device[256], driver[128], platform[128], clblast[32];
} key_parts_t;

static void key_parts(const clvae_ctx_t *ctx, key_parts_t *k)
{
    plain(k->device, sizeof k->device, ctx->dev.name);
    plain(k->driver, sizeof k->driver, ctx->dev.driver_version);
    plain(k->platform, sizeof k->platform, ctx->dev.platform_version);
    snprintf(k->clblast, sizeof k->clblast, "%s", CLBLAST_VERSION_TEXT);
}

void clvae_tuning_key(const clvae_ctx_t *ctx, char *buf, size_t size)
{
    key_parts_t k;
    key_parts(ctx, &k);
    snprintf(buf, size,
             "clvae tuning format %d\ndevice %s\ndriver %s\nplatform %s\nCLBlast %s\n",
             CLVAE_TUNING_FORMAT, k.device, k.driver, k.platform, k.clblast);
}

void clvae_tuning_dir(char *buf, size_t size)
{
    const char *v = getenv("CLVAE_TUNING_DIR");
    const char *xdg = getenv("XDG_CACHE_HOME");
    const char *home = getenv("HOME");
    if (v && *v)
        snprintf(buf, size, "%s", v);
    else if (xdg && *xdg)
        snprintf(buf, size, "%s/clvae/tuning", xdg);
    else if (home && *home)
        snprintf(buf, size, "%s/.cache/clvae/tuning", home);
    else if (size)
        buf[0] = 0;
}

void clvae_tuning_path(const clvae_ctx_t *ctx, char *buf, size_t size)
{
    char dir[3072], key[1024], name[41], hex[65];
    uint8_t h[32];
    clvae_tuning_dir(dir, sizeof dir);
    if (!*dir) {
        if (size) buf[0] = 0;
        return;
    }
    clvae_tuning_key(ctx, key, sizeof key);
    clvae_sha256(key, strlen(key), h);
    clvae_sha256_hex(h, hex);
    /* the device name, reduced to [A-Za-z0-9_-], helps a person find the file */
    size_t j = 0;
    for (const char *c = ctx->dev.name; *c && j + 1 < sizeof name; c++) {
        char ch = *c;
        int ok = (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9');
        if (ok)
            name[j++] = ch;
        else if (j > 0 && name[j - 1] != '-')
            name[j++] = '-';
    }
    name[j] = 0;
    hex[16] = 0;
    snprintf(buf, size, "%s/%s%s%s.json", dir, name, j ? "-" : "", hex);
}

static int key_ok(const char *key)
{
    size_t n = strlen(key);
    if (n == 0 || n > CLVAE_TUNING_KEY_MAX) return 0;
    for (const char *c = key; *c; c++)
        if (!((*c >= 'a' && *c <= 'z') || (*c >= 'A' && *c <= 'Z') || (*c >= '0' && *c <= '9') ||
              *c == '_' || *c == '.'))
            return 0;
    return 1;
}

/* Checks the checksum line at the end of text; 0 when it holds. */
static int checksum_ok(const char *text, size_t len)
{
    const char *mark = NULL;
    for (const char *p = strstr(text, SUM_MARK); p; p = strstr(p + 1, SUM_MARK)) mark = p;
    if (!mark || strlen(text) != len) return 0;
    const char *hex = mark + strlen(SUM_MARK);
    if ((size_t)(text + len - hex) != 64 + 4 || strcmp(hex + 64, "\"\n}\n") != 0) return 0;
    uint8_t h[32];
    char want[65];
    clvae_sha256(text, (size_t)(mark - text), h);
    clvae_sha256_hex(h, want);
    return memcmp(want, hex, 64) == 0;
}

/* Compares a string member of the document with want; 0 when equal. */
static int member_is(const clvae_json_t *doc, const char *name, const char *want)
{
    const clvae_json_t *v = clvae_json_get(doc, name);
    return !(v && v->type == CLVAE_JSON_STRING && strcmp(v->str, want) == 0);
}

clvae_status_t clvae_tuning_read(const clvae_ctx_t *ctx, const char *path,
                                 char (*keys)[CLVAE_TUNING_KEY_MAX + 1], int *values, int max,
                                 int *n, clvae_error_t *err)
{
    *n = 0;
    char *text = NULL;
    size_t len = 0;
    clvae_status_t s = clvae_file_read(path, MAX_FILE, "tuning cache", &text, &len, err);
    if (s) return s;
    clvae_json_t *doc = NULL;
    key_parts_t k;
    key_parts(ctx, &k);
    if (len == 0) {
        s = CLVAE_FAIL(err, CLVAE_ERR_CORRUPT, "empty file");
        goto out;
    }
    if (!checksum_ok(text, len)) {
        s = CLVAE_FAIL(err, CLVAE_ERR_CORRUPT, "checksum missing or wrong (truncated or altered)");
        goto out;
    }
    clvae_error_t e2 = {0};
    if (clvae_json_parse(text, len, path, &doc, &e2)) {
        s = CLVAE_FAIL(err, CLVAE_ERR_CORRUPT, "not JSON: %s", e2.msg);
        clvae_error_clear(&e2);
        goto out;
    }
    uint64_t version = 0;
    if (member_is(doc, "format", "clvae-tuning") ||
        !clvae_json_u64(clvae_json_get(doc, "version"), &version)) {
        s = CLVAE_FAIL(err, CLVAE_ERR_CORRUPT, "not a clvae tuning file");
        goto out;
    }
    if (version != CLVAE_TUNING_FORMAT) {
        s = CLVAE_FAIL(err, CLVAE_ERR_CORRUPT, "format version %llu, this clvae reads %d",
                       (unsigned long long)version, CLVAE_TUNING_FORMAT);
        goto out;
    }
    if (member_is(doc, "device", k.device) || member_is(doc, "driver_version", k.driver) ||
        member_is(doc, "platform_version", k.platform) || member_is(doc, "clblast", k.clblast)) {
        s = CLVAE_FAIL(err, CLVAE_ERR_CORRUPT,
                       "made for another device, driver or CLBlast version");
        goto out;
    }
    const clvae_json_t *params = clvae_json_get(doc, "params");
    if (!params || params->type != CLVAE_JSON_OBJECT) {
        s = CLVAE_FAIL(err, CLVAE_ERR_CORRUPT, "no \"params\" object");
        goto out;
    }
    for (size_t i = 0; i < params->count; i++) {
        const clvae_json_t *p = &params->items[i];
        int64_t v;
        if (!key_ok(p->key) || strlen(p->key) != p->key_len || !clvae_json_i64(p, &v) ||
            v < 0 || v > (1 << 30)) {
            s = CLVAE_FAIL(err, CLVAE_ERR_CORRUPT, "bad parameter \"%.60s\"", p->key);
            goto out;
        }
        if (*n >= max) {
            s = CLVAE_FAIL(err, CLVAE_ERR_CORRUPT, "more than %d parameters", max);
            goto out;
        }
        snprintf(keys[*n], CLVAE_TUNING_KEY_MAX + 1, "%s", p->key);
        values[*n] = (int)v;
        (*n)++;
    }
out:
    clvae_json_free(doc);
    free(text);
    return s;
}

/* Looks for the device's cache file (once per context): a missing one means defaults without
 * a word, an unusable one defaults with one warning. */
static void load(clvae_ctx_t *ctx, clvae_tuning_t *t)
{
    t->loaded = 1;
    const char *env = getenv("CLVAE_TUNING");
    if (env && strcmp(env, "0") == 0) {
        t->state = CLVAE_TUNING_OFF;
        return;
    }
    char path[4096];
    clvae_tuning_path(ctx, path, sizeof path);
    t->state = CLVAE_TUNING_UNTUNED;
    if (!*path || access(path, F_OK) != 0) return;
    clvae_error_t err = {0};
    int n = 0;
    char(*keys)[CLVAE_TUNING_KEY_MAX + 1] = malloc(CLVAE_TUNING_MAX_PARAMS * sizeof *keys);
    int *values = malloc(CLVAE_TUNING_MAX_PARAMS * sizeof *values);
    clvae_status_t s = (keys && values) ? clvae_tuning_read(ctx, path, keys, values,
                                                            CLVAE_TUNING_MAX_PARAMS, &n, &err)
                                        : CLVAE_FAIL(&err, CLVAE_ERR_NOMEM, "out of host memory");
    if (s) {
        t->state = CLVAE_TUNING_REJECTED;
        clvae_ctx_log(ctx, CLVAE_LOG_WARN,
                      "tuning cache %s ignored (%s); using default parameters (run `clvae tune` "
                      "to replace it)",
                      path, err.msg[0] ? err.msg : clvae_status_name(err.status));
    } else {
        t->state = CLVAE_TUNING_TUNED;
        for (int i = 0; i < n; i++) {
            /* values the tuner set before the first use stay */
            int have;
            if (!clvae_tuning_find(ctx, keys[i], &have)) clvae_tuning_set(ctx, keys[i], values[i], NULL);
        }
        clvae_ctx_log(ctx, CLVAE_LOG_INFO, "tuned parameters from %s (%d values)", path, n);
    }
    clvae_error_clear(&err);
    free(keys);
    free(values);
}

/* Frees a context's table: installed as the context's tuning_free when the table is made. */
static void tuning_free(struct clvae_tuning *t)
{
    if (!t) return;
    free(t->shapes);
    free(t->ops);
    free(t);
}

clvae_tuning_t *clvae_tuning_get(clvae_ctx_t *ctx)
{
    if (!ctx->tuning) {
        ctx->tuning = calloc(1, sizeof *ctx->tuning);
        if (!ctx->tuning) return NULL;
        ctx->tuning_free = tuning_free;
        load(ctx, ctx->tuning);
    }
    return ctx->tuning;
}

clvae_tuning_state_t clvae_tuning_state(clvae_ctx_t *ctx)
{
    clvae_tuning_t *t = clvae_tuning_get(ctx);
    return t ? t->state : CLVAE_TUNING_UNTUNED;
}

int clvae_tuning_find(clvae_ctx_t *ctx, const char *key, int *value)
{
    clvae_tuning_t *t = ctx->tuning;
    if (!t) return 0;
    for (int i = 0; i < t->n; i++)
        if (strcmp(t->key[i], key) == 0) {
            *value = t->value[i];
            return 1;
        }
    return 0;
}

int clvae_tuning_int(clvae_ctx_t *ctx, const char *key, int dflt)
{
    int v;
    if (!ctx || !key || !clvae_tuning_get(ctx)) return dflt;
    return clvae_tuning_find(ctx, key, &v) ? v : dflt;
}

clvae_status_t clvae_tuning_set(clvae_ctx_t *ctx, const char *key, int value, clvae_error_t *err)
{
    if (!key || !key_ok(key))
        return CLVAE_FAIL(err, CLVAE_ERR_INVALID, "bad tuning parameter name '%.60s'",
                          key ? key : "(null)");
    /* the table exists (and the cache was read) before the value goes in */
    clvae_tuning_t *t = ctx->tuning ? ctx->tuning : clvae_tuning_get(ctx);
    if (!t) return CLVAE_FAIL(err, CLVAE_ERR_NOMEM, "out of host memory");
    int i = 0;
    while (i < t->n && strcmp(t->key[i], key) != 0) i++;
    if (i == t->n) {
        if (t->n >= CLVAE_TUNING_MAX_PARAMS)
            return CLVAE_FAIL(err, CLVAE_ERR_NOMEM, "more than %d tuning parameters",
                              CLVAE_TUNING_MAX_PARAMS);
        snprintf(t->key[i], sizeof t->key[i], "%s", key);
        t->n++;
    } else if (t->value[i] == value) {
        return CLVAE_OK;
    }
    t->value[i] = value;
    t->generation++;
    return CLVAE_OK;
}

void clvae_tuning_unset(clvae_ctx_t *ctx, const char *prefix)
{
    clvae_tuning_t *t = clvae_tuning_get(ctx);
    if (!t) return;
    size_t np = strlen(prefix);
    int j = 0;
    for (int i = 0; i < t->n; i++) {
        if (strncmp(t->key[i], prefix, np) == 0) continue;
        if (i != j) {
            memcpy(t->key[j], t->key[i], sizeof t->key[j]);
            t->value[j] = t->value[i];
        }
        j++;
    }
    if (j != t->n) t->generation++;
    t->n = j;
}

void clvae_tuning_note_layer(clvae_ctx_t *ctx, int layer, int backward)
{
    clvae_tuning_t *t = ctx->tuning;
    if (!t || !t->recording) return;
    t->layer = layer;
    t->backward = backward;
}

void clvae_tuning_note_op(clvae_ctx_t *ctx, const char *family, const size_t *dims, int ndims)
{
    clvae_tuning_t *t = ctx->tuning;
    if (!t || !t->recording) return;
    if (ndims < 0 || ndims > CLVAE_TUNE_OP_DIMS || strlen(family) > CLVAE_TUNE_FAMILY_MAX) {
        t->record_failed = 1; /* a caller's mistake: the recording is not to be trusted */
        return;
    }
    for (int i = 0; i < t->nops; i++) {
        clvae_tune_op_t *o = &t->ops[i];
        if (o->ndims == ndims && strcmp(o->family, family) == 0 &&
            memcmp(o->dims, dims, (size_t)ndims * sizeof *dims) == 0) {
            o->calls++;
            return;
        }
    }
    if (t->nops == t->capops) {
        int cap = t->capops ? 2 * t->capops : 8;
        clvae_tune_op_t *p = realloc(t->ops, (size_t)cap * sizeof *p);
        if (!p) {
            t->record_failed = 1;
            return;
        }
        t->ops = p;
        t->capops = cap;
    }
    clvae_tune_op_t *o = &t->ops[t->nops++];
    memset(o, 0, sizeof *o);
    snprintf(o->family, sizeof o->family, "%s", family);
    o->ndims = ndims;
    memcpy(o->dims, dims, (size_t)ndims * sizeof *dims);
    o->calls = 1;
}

/* ---- writing ----------------------------------------------------------------------------- */

/* A growing text buffer; a failed append is remembered. */
typedef struct text {
    char *buf;
    size_t len, cap;
    int failed;
} text_t;

#if defined(__GNUC__)
__attribute__((format(printf, 2, 3)))
#endif
static void put(text_t *t, const char *fmt, ...)
{
    if (t->failed) return;
    va_list ap;
    for (;;) {
        va_start(ap, fmt);
        int w = vsnprintf(t->buf ? t->buf + t->len : NULL, t->buf ? t->cap - t->len : 0, fmt, ap);
        va_end(ap);
        if (w < 0) {
            t->failed = 1;
            return;
        }
        if (t->buf && t->len + (size_t)w < t->cap) {
            t->len += (size_t)w;
            return;
        }
        size_t cap = t->cap ? t->cap : 4096;
        while (cap <= t->len + (size_t)w) cap *= 2;
        char *p = realloc(t->buf, cap);
        if (!p) {
            t->failed = 1;
            return;
        }
        t->buf = p;
        t->cap = cap;
    }
}

clvae_status_t clvae_tuning_save(clvae_ctx_t *ctx, const clvae_tuning_figure_t *figs, int nfigs,
                                 clvae_error_t *err)
{
    char path[4096], dir[3072];
    clvae_tuning_dir(dir, sizeof dir);
    clvae_tuning_path(ctx, path, sizeof path);
    if (!*path)
        return CLVAE_FAIL(err, CLVAE_ERR_NOT_FOUND,
                          "no folder for the tuning cache (set CLVAE_TUNING_DIR, XDG_CACHE_HOME "
                          "or HOME)");
    clvae_tuning_t *t = clvae_tuning_get(ctx);
    if (!t) return CLVAE_FAIL(err, CLVAE_ERR_NOMEM, "out of host memory");
    key_parts_t k;
    key_parts(ctx, &k);
    char when[32] = "";
    time_t now = time(NULL);
    struct tm tm;
    if (gmtime_r(&now, &tm)) strftime(when, sizeof when, "%Y-%m-%dT%H:%M:%SZ", &tm);
    text_t o = {0};
    put(&o, "{\n  \"format\": \"clvae-tuning\",\n  \"version\": %d,\n", CLVAE_TUNING_FORMAT);
    put(&o, "  \"device\": \"%s\",\n  \"driver_version\": \"%s\",\n", k.device, k.driver);
    put(&o, "  \"platform_version\": \"%s\",\n  \"clblast\": \"%s\",\n", k.platform, k.clblast);
    put(&o, "  \"created\": \"%s\",\n  \"params\": {", when);
    for (int i = 0; i < t->n; i++)
        put(&o, "%s\n    \"%s\": %d", i ? "," : "", t->key[i], t->value[i]);
    put(&o, "%s},\n  \"measured\": [", t->n ? "\n  " : "");
    for (int i = 0; i < nfigs; i++) {
        const clvae_tuning_figure_t *f = &figs[i];
        put(&o,
            "%s\n    {\"trans_a\": %d, \"trans_b\": %d, \"m\": %zu, \"n\": %zu, \"k\": %zu, "
            "\"calls\": %d, \"default_gflop_s\": %.2f, \"tuned_gflop_s\": %.2f}",
            i ? "," : "", f->trans_a, f->trans_b, f->m, f->n, f->k, f->calls,
            f->before_gflop_s, f->after_gflop_s);
    }
    put(&o, "%s]", nfigs ? "\n  " : "");
    if (o.failed) {
        free(o.buf);
        return CLVAE_FAIL(err, CLVAE_ERR_NOMEM, "out of host memory");
    }
    uint8_t h[32];
    char hex[65];
    clvae_sha256(o.buf, o.len, h);
    clvae_sha256_hex(h, hex);
    put(&o, "%s%s\"\n}\n", SUM_MARK, hex);
    if (o.failed) {
        free(o.buf);
        return CLVAE_FAIL(err, CLVAE_ERR_NOMEM, "out of host memory");
    }
    clvae_status_t s = CLVAE_OK;
    if (clvae_mkdirs(dir) != 0) {
        s = CLVAE_FAIL(err, CLVAE_ERR_IO, "cannot create %s: %s", dir, strerror(errno));
        goto out;
    }
    s = clvae_write_file_atomic(path, o.buf, o.len, err);
out:
    free(o.buf);
    return s;
}
