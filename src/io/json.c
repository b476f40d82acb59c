/* A small strict JSON reader (recursive descent into a tree) and an escaping writer. */
#include "clvae/io/json.h"

#include <errno.h>
#include <locale.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- UTF-8 --------------------------------------------------------------------------- */

/* Length of the valid UTF-8 sequence at s (n bytes left), or 0 (Unicode table 3-7). */
static size_t utf8_seq(const unsigned char *s, size_t n)
{
    unsigned c = s[0];
    if (c < 0x80) return 1;
    size_t len;
    unsigned lo = 0x80, hi = 0xBF; /* range of the second byte */
    if (c >= 0xC2 && c <= 0xDF) {
        len = 2;
    } else if (c >= 0xE0 && c <= 0xEF) {
        len = 3;
        if (c == 0xE0) lo = 0xA0;      /* no overlong forms */
        if (c == 0xED) hi = 0x9F;      /* no surrogates */
    } else if (c >= 0xF0 && c <= 0xF4) {
        len = 4;
        if (c == 0xF0) lo = 0x90;      /* no overlong forms */
        if (c == 0xF4) hi = 0x8F;      /* nothing past U+10FFFF */
    } else {
        return 0;
    }
    if (n < len || s[1] < lo || s[1] > hi) return 0;
    for (size_t i = 2; i < len; i++)
        if (s[i] < 0x80 || s[i] > 0xBF) return 0;
    return len;
}

int clvae_utf8_valid(const char *s, size_t n)
{
    const unsigned char *p = (const unsigned char *)s;
    size_t i = 0;
    while (i < n) {
        size_t k = utf8_seq(p + i, n - i);
        if (k == 0) return 0;
        i += k;
    }
    return 1;
}

void clvae_json_excerpt(char *dst, size_t cap, const char *s, size_t n)
{
    if (cap < 4) {
        if (cap) dst[0] = 0;
        return;
    }
    /* The copy has as many bytes as the text; if it does not fit, keep room for "...". */
    size_t limit = n < cap ? n : cap - 4, i = 0, o = 0;
    const unsigned char *p = (const unsigned char *)s;
    while (i < n) {
        size_t k = utf8_seq(p + i, n - i);
        if (o + (k ? k : 1) > limit) break;
        if (k == 0 || (k == 1 && (p[i] < 0x20 || p[i] == 0x7F))) {
            dst[o++] = '?';
            i++;
        } else {
            memcpy(dst + o, p + i, k);
            o += k;
            i += k;
        }
    }
    if (i < n)
        memcpy(dst + o, "...", 4);
    else
        dst[o] = 0;
}

/* Appends code point cp (< 0x110000, not a surrogate) as UTF-8; returns the new end. */
static char *put_utf8(char *o, unsigned long cp)
{
    if (cp < 0x80) {
        *o++ = (char)cp;
    } else if (cp < 0x800) {
        *o++ = (char)(0xC0 | (cp >> 6));
        *o++ = (char)(0x80 | (cp & 0x3F));
    } else if (cp < 0x10000) {
        *o++ = (char)(0xE0 | (cp >> 12));
        *o++ = (char)(0x80 | ((cp >> 6) & 0x3F));
        *o++ = (char)(0x80 | (cp & 0x3F));
    } else {
        *o++ = (char)(0xF0 | (cp >> 18));
        *o++ = (char)(0x80 | ((cp >> 12) & 0x3F));
        *o++ = (char)(0x80 | ((cp >> 6) & 0x3F));
        *o++ = (char)(0x80 | (cp & 0x3F));
    }
    return o;
}

/* ---- reader -------------------------------------------------------------------------- */

typedef struct parser {
    const char *start;  /* the document */
    const char *end;    /* one past its last byte */
    const char *p;      /* the next byte to read */
    const char *what;   /* name for messages */
    size_t values;      /* values created so far */
    clvae_error_t *err;
} parser_t;

/* Records a syntax error at byte pos with its line and column. */
static clvae_status_t fail_at(parser_t *ps, const char *pos, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 3, 4)))
#endif
    ;

static clvae_status_t fail_at(parser_t *ps, const char *pos, const char *fmt, ...)
{
    size_t line = 1, col = 1;
    for (const char *q = ps->start; q < pos; q++) {
        if (*q == '\n') {
            line++;
            col = 1;
        } else {
            col++;
        }
    }
    char why[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(why, sizeof why, fmt, ap);
    va_end(ap);
    return CLVAE_FAIL(ps->err, CLVAE_ERR_INVALID, "%s: line %zu column %zu: %s", ps->what, line,
                      col, why);
}

/* Says what the byte at pos is, for "expected X but found Y" messages. */
static void describe(const parser_t *ps, const char *pos, char *buf, size_t size)
{
    if (pos >= ps->end) {
        snprintf(buf, size, "the end of the text");
        return;
    }
    unsigned char c = (unsigned char)*pos;
    if (c > 0x20 && c < 0x7F)
        snprintf(buf, size, "'%c'", c);
    else
        snprintf(buf, size, "byte 0x%02X", c);
}

static clvae_status_t unexpected(parser_t *ps, const char *expected)
{
    char got[32];
    describe(ps, ps->p, got, sizeof got);
    return fail_at(ps, ps->p, "expected %s but found %s", expected, got);
}

static void skip_ws(parser_t *ps)
{
    while (ps->p < ps->end &&
           (*ps->p == ' ' || *ps->p == '\t' || *ps->p == '\n' || *ps->p == '\r'))
        ps->p++;
}

static void free_contents(clvae_json_t *v)
{
    for (size_t i = 0; i < v->count; i++) free_contents(&v->items[i]);
    free(v->items);
    free(v->str);
    free(v->key);
}

void clvae_json_free(clvae_json_t *v)
{
    if (!v) return;
    free_contents(v);
    free(v);
}

static int hex4(const char *s, unsigned long *out)
{
    unsigned long v = 0;
    for (int i = 0; i < 4; i++) {
        char c = s[i];
        int d = (c >= '0' && c <= '9')   ? c - '0'
                : (c >= 'a' && c <= 'f') ? c - 'a' + 10
                : (c >= 'A' && c <= 'F') ? c - 'A' + 10
                                         : -1;
        if (d < 0) return 0;
        v = v * 16 + (unsigned long)d;
    }
    *out = v;
    return 1;
}

/* Parses the string starting at the '"' at ps->p into a new heap buffer. */
static clvae_status_t parse_string(parser_t *ps, char **out, size_t *out_len)
{
    const char *open = ps->p, *q = ps->p + 1;
    /* first pass: find the closing quote */
    while (q < ps->end && *q != '"') {
        if (*q == '\\' && ps->end - q < 2) break;
        q += (*q == '\\') ? 2 : 1;
    }
    if (q >= ps->end || *q != '"') return fail_at(ps, open, "string is not terminated");
    const char *close = q;
    size_t span = (size_t)(close - open - 1);
    char *buf = malloc(span + 1), *o = buf;
    if (!buf) return CLVAE_FAIL(ps->err, CLVAE_ERR_NOMEM, "%s: out of host memory", ps->what);
    /* second pass: check and decode */
    const char *s = open + 1;
    while (s < close) {
        unsigned char c = (unsigned char)*s;
        if (c < 0x20) {
            free(buf);
            return fail_at(ps, s, "raw control character 0x%02X inside a string", c);
        }
        if (c >= 0x80) {
            size_t k = utf8_seq((const unsigned char *)s, (size_t)(close - s));
            if (k == 0) {
                free(buf);
                return fail_at(ps, s, "invalid UTF-8 (byte 0x%02X) inside a string", c);
            }
            memcpy(o, s, k);
            o += k;
            s += k;
            continue;
        }
        if (c != '\\') {
            *o++ = (char)c;
            s++;
            continue;
        }
        const char *esc = s;
        char e = s[1]; /* s + 1 < close: the first pass skipped it */
        s += 2;
        switch (e) {
        case '"': *o++ = '"'; break;
        case '\\': *o++ = '\\'; break;
        case '/': *o++ = '/'; break;
        case 'b': *o++ = '\b'; break;
        case 'f': *o++ = '\f'; break;
        case 'n': *o++ = '\n'; break;
        case 'r': *o++ = '\r'; break;
        case 't': *o++ = '\t'; break;
        case 'u': {
            unsigned long cp, lo;
            if (close - s < 4 || !hex4(s, &cp)) {
                free(buf);
                return fail_at(ps, esc, "\\u must be followed by four hex digits");
            }
            s += 4;
            if (cp >= 0xDC00 && cp <= 0xDFFF) {
                free(buf);
                return fail_at(ps, esc, "lone low surrogate \\u%04lX", cp);
            }
            if (cp >= 0xD800 && cp <= 0xDBFF) {
                if (close - s < 6 || s[0] != '\\' || s[1] != 'u' || !hex4(s + 2, &lo) ||
                    lo < 0xDC00 || lo > 0xDFFF) {
                    free(buf);
                    return fail_at(ps, esc,
                                   "high surrogate \\u%04lX is not followed by a low surrogate",
                                   cp);
                }
                s += 6;
                cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
            }
            o = put_utf8(o, cp);
            break;
        }
        default:
            free(buf);
            if ((unsigned char)e > 0x20 && (unsigned char)e < 0x7F)
                return fail_at(ps, esc, "unknown escape \\%c", e);
            return fail_at(ps, esc, "unknown escape: backslash then byte 0x%02X",
                           (unsigned char)e);
        }
    }
    *o = 0;
    *out = buf;
    *out_len = (size_t)(o - buf);
    ps->p = close + 1;
    return CLVAE_OK;
}

static int is_digit(const parser_t *ps, const char *q)
{
    return q < ps->end && *q >= '0' && *q <= '9';
}

static clvae_status_t parse_number(parser_t *ps, clvae_json_t *v)
{
    const char *s = ps->p, *q = s;
    int integer = 1, fits = 1;
    uint64_t mag = 0;
    if (*q == '-') q++;
    if (!is_digit(ps, q)) {
        ps->p = q;
        return unexpected(ps, "a digit");
    }
    if (*q == '0') {
        q++;
        if (is_digit(ps, q)) return fail_at(ps, s, "number has a leading zero");
    } else {
        while (is_digit(ps, q)) {
            unsigned d = (unsigned)(*q - '0');
            if (mag > (UINT64_MAX - d) / 10) fits = 0;
            else mag = mag * 10 + d;
            q++;
        }
    }
    if (q < ps->end && *q == '.') {
        integer = 0;
        q++;
        if (!is_digit(ps, q)) {
            ps->p = q;
            return unexpected(ps, "a digit after the decimal point");
        }
        while (is_digit(ps, q)) q++;
    }
    if (q < ps->end && (*q == 'e' || *q == 'E')) {
        integer = 0;
        q++;
        if (q < ps->end && (*q == '+' || *q == '-')) q++;
        if (!is_digit(ps, q)) {
            ps->p = q;
            return unexpected(ps, "a digit in the exponent");
        }
        while (is_digit(ps, q)) q++;
    }
    size_t n = (size_t)(q - s);
    if (n > CLVAE_JSON_MAX_NUMBER)
        return fail_at(ps, s, "number literal longer than %d characters", CLVAE_JSON_MAX_NUMBER);
    char lit[CLVAE_JSON_MAX_NUMBER + 1];
    memcpy(lit, s, n);
    lit[n] = 0;
    /* strtod reads the locale's decimal point; JSON's is always '.' */
    const char *dp = localeconv()->decimal_point;
    if (dp && dp[0] && !dp[1] && dp[0] != '.') {
        char *dot = strchr(lit, '.');
        if (dot) *dot = dp[0];
    }
    errno = 0;
    double x = strtod(lit, NULL);
    if (isinf(x)) return fail_at(ps, s, "number %s is out of range", lit);
    v->type = CLVAE_JSON_NUMBER;
    v->number = x;
    v->negative = s[0] == '-';
    v->integer = integer && fits;
    v->magnitude = v->integer ? mag : 0;
    ps->p = q;
    return CLVAE_OK;
}

static int key_cmp(const void *a, const void *b)
{
    const clvae_json_t *x = *(const clvae_json_t *const *)a, *y = *(const clvae_json_t *const *)b;
    size_t n = x->key_len < y->key_len ? x->key_len : y->key_len;
    int c = memcmp(x->key, y->key, n);
    if (c) return c;
    return (x->key_len > y->key_len) - (x->key_len < y->key_len);
}

/* Rejects an object with two equal keys (sorting, so that it stays n log n). */
static clvae_status_t check_duplicates(parser_t *ps, const clvae_json_t *obj, const char *pos)
{
    if (obj->count < 2) return CLVAE_OK;
    const clvae_json_t **sorted = malloc(obj->count * sizeof *sorted);
    if (!sorted) return CLVAE_FAIL(ps->err, CLVAE_ERR_NOMEM, "%s: out of host memory", ps->what);
    for (size_t i = 0; i < obj->count; i++) sorted[i] = &obj->items[i];
    qsort(sorted, obj->count, sizeof *sorted, key_cmp);
    clvae_status_t s = CLVAE_OK;
    for (size_t i = 1; i < obj->count && !s; i++) {
        if (key_cmp(&sorted[i - 1], &sorted[i]) == 0) {
            char key[96];
            clvae_json_excerpt(key, sizeof key, sorted[i]->key, sorted[i]->key_len);
            s = fail_at(ps, pos, "object has the key \"%s\" twice", key);
        }
    }
    free(sorted);
    return s;
}

/* Makes room for one more item in v (array or object); NULL when out of memory. */
static clvae_json_t *add_item(parser_t *ps, clvae_json_t *v, size_t *cap)
{
    if (v->count == *cap) {
        size_t ncap = *cap ? *cap * 2 : 4;
        clvae_json_t *grown = realloc(v->items, ncap * sizeof *grown);
        if (!grown) {
            CLVAE_FAIL(ps->err, CLVAE_ERR_NOMEM, "%s: out of host memory", ps->what);
            return NULL;
        }
        v->items = grown;
        *cap = ncap;
    }
    clvae_json_t *item = &v->items[v->count++];
    memset(item, 0, sizeof *item);
    return item;
}

static clvae_status_t parse_value(parser_t *ps, clvae_json_t *v, int depth);

static clvae_status_t parse_container(parser_t *ps, clvae_json_t *v, int depth)
{
    const char *open = ps->p;
    int object = *open == '{';
    char close = object ? '}' : ']';
    if (depth >= CLVAE_JSON_MAX_DEPTH)
        return fail_at(ps, open, "nested deeper than %d levels", CLVAE_JSON_MAX_DEPTH);
    v->type = object ? CLVAE_JSON_OBJECT : CLVAE_JSON_ARRAY;
    ps->p++;
    skip_ws(ps);
    if (ps->p < ps->end && *ps->p == close) {
        ps->p++;
        return CLVAE_OK;
    }
    size_t cap = 0;
    for (;;) {
        clvae_status_t s;
        clvae_json_t *item;
        if (object) {
            skip_ws(ps);
            if (ps->p >= ps->end || *ps->p != '"') return unexpected(ps, "a string key");
            char *key;
            size_t key_len;
            s = parse_string(ps, &key, &key_len);
            if (s) return s;
            item = add_item(ps, v, &cap);
            if (!item) {
                free(key);
                return CLVAE_ERR_NOMEM;
            }
            item->key = key;
            item->key_len = key_len;
            skip_ws(ps);
            if (ps->p >= ps->end || *ps->p != ':') return unexpected(ps, "':' after the key");
            ps->p++;
        } else {
            item = add_item(ps, v, &cap);
            if (!item) return CLVAE_ERR_NOMEM;
        }
        s = parse_value(ps, item, depth + 1);
        if (s) return s;
        skip_ws(ps);
        if (ps->p < ps->end && *ps->p == ',') {
            ps->p++;
            continue;
        }
        if (ps->p < ps->end && *ps->p == close) {
            ps->p++;
            break;
        }
        return unexpected(ps, object ? "',' or '}'" : "',' or ']'");
    }
    return object ? check_duplicates(ps, v, open) : CLVAE_OK;
}

static clvae_status_t parse_value(parser_t *ps, clvae_json_t *v, int depth)
{
    skip_ws(ps);
    if (ps->p >= ps->end) return unexpected(ps, "a value");
    if (++ps->values > CLVAE_JSON_MAX_VALUES)
        return fail_at(ps, ps->p, "more than %zu values", CLVAE_JSON_MAX_VALUES);
    char c = *ps->p;
    if (c == '{' || c == '[') return parse_container(ps, v, depth);
    if (c == '"') {
        v->type = CLVAE_JSON_STRING;
        return parse_string(ps, &v->str, &v->len);
    }
    if (c == '-' || (c >= '0' && c <= '9')) return parse_number(ps, v);
    static const struct { const char *word; clvae_json_type_t type; int b; } lits[] = {
        {"true", CLVAE_JSON_BOOL, 1}, {"false", CLVAE_JSON_BOOL, 0}, {"null", CLVAE_JSON_NULL, 0}};
    for (size_t i = 0; i < sizeof lits / sizeof lits[0]; i++) {
        size_t n = strlen(lits[i].word);
        if (c != lits[i].word[0]) continue;
        if ((size_t)(ps->end - ps->p) < n || memcmp(ps->p, lits[i].word, n) != 0)
            return fail_at(ps, ps->p, "unknown word (expected %s)", lits[i].word);
        v->type = lits[i].type;
        v->boolean = lits[i].b;
        ps->p += n;
        return CLVAE_OK;
    }
    return unexpected(ps, "a value");
}

clvae_status_t clvae_json_parse(const char *text, size_t len, const char *what, clvae_json_t **out,
                                clvae_error_t *err)
{
    *out = NULL;
    if (!what) what = "JSON text";
    if (len > CLVAE_JSON_MAX_BYTES)
        return CLVAE_FAIL(err, CLVAE_ERR_INVALID,
                          "%s: %zu bytes of JSON, more than the limit of %zu", what, len,
                          CLVAE_JSON_MAX_BYTES);
    parser_t ps = {text, text + len, text, what, 0, err};
    clvae_json_t *root = calloc(1, sizeof *root);
    if (!root) return CLVAE_FAIL(err, CLVAE_ERR_NOMEM, "%s: out of host memory", what);
    clvae_status_t s = parse_value(&ps, root, 0);
    if (!s) {
        skip_ws(&ps);
        if (ps.p < ps.end) s = unexpected(&ps, "the end of the text after the value");
    }
    if (s) {
        clvae_json_free(root);
        return s;
    }
    *out = root;
    return CLVAE_OK;
}

const clvae_json_t *clvae_json_get(const clvae_json_t *obj, const char *key)
{
    if (!obj || obj->type != CLVAE_JSON_OBJECT) return NULL;
    size_t n = strlen(key);
    for (size_t i = 0; i < obj->count; i++)
        if (obj->items[i].key_len == n && memcmp(obj->items[i].key, key, n) == 0)
            return &obj->items[i];
    return NULL;
}

int clvae_json_u64(const clvae_json_t *v, uint64_t *out)
{
    if (!v || v->type != CLVAE_JSON_NUMBER || !v->integer || v->negative) return 0;
    *out = v->magnitude;
    return 1;
}

int clvae_json_i64(const clvae_json_t *v, int64_t *out)
{
    if (!v || v->type != CLVAE_JSON_NUMBER || !v->integer) return 0;
    if (v->negative) {
        if (v->magnitude > (uint64_t)INT64_MAX + 1) return 0;
        *out = v->magnitude == (uint64_t)INT64_MAX + 1 ? INT64_MIN : -(int64_t)v->magnitude;
    } else {
        if (v->magnitude > (uint64_t)INT64_MAX) return 0;
        *out = (int64_t)v->magnitude;
    }
    return 1;
}

/* ---- writer -------------------------------------------------------------------------- */

void clvae_jw_init(clvae_jw_t *w)
{
    memset(w, 0, sizeof *w);
}

void clvae_jw_free(clvae_jw_t *w)
{
    free(w->buf);
    memset(w, 0, sizeof *w);
}

static void jw_fail(clvae_jw_t *w, clvae_status_t s, const char *why)
{
    if (w->status) return;
    w->status = s;
    w->why = why;
}

static void jw_put(clvae_jw_t *w, const char *s, size_t n)
{
    if (w->status) return;
    if (n >= SIZE_MAX - w->len) {
        jw_fail(w, CLVAE_ERR_NOMEM, "the text does not fit in memory");
        return;
    }
    if (w->len + n + 1 > w->cap) {
        size_t ncap = w->cap ? w->cap : 256;
        while (ncap < w->len + n + 1) ncap = ncap > SIZE_MAX / 2 ? w->len + n + 1 : ncap * 2;
        char *grown = realloc(w->buf, ncap);
        if (!grown) {
            jw_fail(w, CLVAE_ERR_NOMEM, "out of host memory");
            return;
        }
        w->buf = grown;
        w->cap = ncap;
    }
    memcpy(w->buf + w->len, s, n);
    w->len += n;
    w->buf[w->len] = 0;
}

/* Checks that a value may come here and writes the comma before it if one is due. */
static int jw_value_start(clvae_jw_t *w)
{
    if (w->status) return 0;
    if (w->depth == 0) {
        if (w->done) jw_fail(w, CLVAE_ERR_INVALID, "a second value after the whole document");
        return !w->status;
    }
    if (w->open[w->depth - 1] == '{') {
        if (!w->after_key) jw_fail(w, CLVAE_ERR_INVALID, "a value in an object without a key");
        w->after_key = 0;
        return !w->status;
    }
    if (w->has_items[w->depth - 1]) jw_put(w, ",", 1);
    w->has_items[w->depth - 1] = 1;
    return !w->status;
}

static void jw_value_end(clvae_jw_t *w)
{
    if (w->depth == 0) w->done = 1;
}

static void jw_put_string(clvae_jw_t *w, const char *s, size_t n)
{
    if (!s) {
        jw_fail(w, CLVAE_ERR_INVALID, "a NULL string");
        return;
    }
    jw_put(w, "\"", 1);
    const unsigned char *p = (const unsigned char *)s;
    size_t i = 0, run = 0; /* bytes p[i - run, i) are pending as they are */
    while (i < n && !w->status) {
        unsigned char c = p[i];
        const char *esc = NULL;
        char ubuf[8];
        if (c >= 0x80) {
            size_t k = utf8_seq(p + i, n - i);
            if (k == 0) {
                jw_fail(w, CLVAE_ERR_INVALID, "a string that is not valid UTF-8");
                return;
            }
            i += k;
            run += k;
            continue;
        }
        switch (c) {
        case '"': esc = "\\\""; break;
        case '\\': esc = "\\\\"; break;
        case '\b': esc = "\\b"; break;
        case '\f': esc = "\\f"; break;
        case '\n': esc = "\\n"; break;
        case '\r': esc = "\\r"; break;
        case '\t': esc = "\\t"; break;
        default:
            if (c < 0x20) {
                snprintf(ubuf, sizeof ubuf, "\\u%04x", c);
                esc = ubuf;
            }
        }
        if (esc) {
            jw_put(w, (const char *)p + i - run, run);
            jw_put(w, esc, strlen(esc));
            run = 0;
        } else {
            run++;
        }
        i++;
    }
    jw_put(w, (const char *)p + i - run, run);
    jw_put(w, "\"", 1);
}

void clvae_jw_begin_object(clvae_jw_t *w)
{
    if (!jw_value_start(w)) return;
    if (w->depth >= CLVAE_JSON_MAX_DEPTH) {
        jw_fail(w, CLVAE_ERR_INVALID, "nesting deeper than the reader's limit");
        return;
    }
    w->open[w->depth] = '{';
    w->has_items[w->depth] = 0;
    w->depth++;
    jw_put(w, "{", 1);
}

void clvae_jw_begin_array(clvae_jw_t *w)
{
    if (!jw_value_start(w)) return;
    if (w->depth >= CLVAE_JSON_MAX_DEPTH) {
        jw_fail(w, CLVAE_ERR_INVALID, "nesting deeper than the reader's limit");
        return;
    }
    w->open[w->depth] = '[';
    w->has_items[w->depth] = 0;
    w->depth++;
    jw_put(w, "[", 1);
}

static void jw_end(clvae_jw_t *w, char open, const char *text)
{
    if (w->status) return;
    if (w->depth == 0 || w->open[w->depth - 1] != open) {
        jw_fail(w, CLVAE_ERR_INVALID, "a close that matches no open object or array");
        return;
    }
    if (w->after_key) {
        jw_fail(w, CLVAE_ERR_INVALID, "a key without a value");
        return;
    }
    w->depth--;
    jw_put(w, text, 1);
    jw_value_end(w);
}

void clvae_jw_end_object(clvae_jw_t *w)
{
    jw_end(w, '{', "}");
}

void clvae_jw_end_array(clvae_jw_t *w)
{
    jw_end(w, '[', "]");
}

void clvae_jw_key(clvae_jw_t *w, const char *key)
{
    if (w->status) return;
    if (w->depth == 0 || w->open[w->depth - 1] != '{' || w->after_key) {
        jw_fail(w, CLVAE_ERR_INVALID, "a key outside an object or after another key");
        return;
    }
    if (w->has_items[w->depth - 1]) jw_put(w, ",", 1);
    w->has_items[w->depth - 1] = 1;
    jw_put_string(w, key, key ? strlen(key) : 0);
    jw_put(w, ":", 1);
    w->after_key = 1;
}

void clvae_jw_string_n(clvae_jw_t *w, const char *s, size_t n)
{
    if (!jw_value_start(w)) return;
    jw_put_string(w, s, n);
    jw_value_end(w);
}

void clvae_jw_string(clvae_jw_t *w, const char *s)
{
    clvae_jw_string_n(w, s, s ? strlen(s) : 0);
}

/* Writes a formatted number, forcing '.' as the decimal point whatever the locale. */
static void jw_number(clvae_jw_t *w, const char *fmt, double x)
{
    if (isnan(x) || isinf(x)) {
        clvae_jw_null(w);
        return;
    }
    if (!jw_value_start(w)) return;
    char raw[64], num[64];
    snprintf(raw, sizeof raw, fmt, x);
    size_t n = 0;
    for (const char *r = raw; *r && n + 1 < sizeof num;) {
        char c = *r;
        if ((c >= '0' && c <= '9') || c == '-' || c == '+' || c == 'e') {
            num[n++] = c;
            r++;
        } else { /* the decimal point, one or more bytes */
            num[n++] = '.';
            while (*r && !((*r >= '0' && *r <= '9') || *r == '-' || *r == '+' || *r == 'e'))
                r++;
        }
    }
    num[n] = 0;
    jw_put(w, num, n);
    jw_value_end(w);
}

void clvae_jw_float(clvae_jw_t *w, float x)
{
    jw_number(w, "%.9g", (double)x);
}

void clvae_jw_double(clvae_jw_t *w, double x)
{
    jw_number(w, "%.17g", x);
}

void clvae_jw_int(clvae_jw_t *w, int64_t x)
{
    if (!jw_value_start(w)) return;
    char num[32];
    int n = snprintf(num, sizeof num, "%lld", (long long)x);
    jw_put(w, num, (size_t)n);
    jw_value_end(w);
}

void clvae_jw_uint(clvae_jw_t *w, uint64_t x)
{
    if (!jw_value_start(w)) return;
    char num[32];
    int n = snprintf(num, sizeof num, "%llu", (unsigned long long)x);
    jw_put(w, num, (size_t)n);
    jw_value_end(w);
}

void clvae_jw_bool(clvae_jw_t *w, int b)
{
    if (!jw_value_start(w)) return;
    jw_put(w, b ? "true" : "false", b ? 4 : 5);
    jw_value_end(w);
}

void clvae_jw_null(clvae_jw_t *w)
{
    if (!jw_value_start(w)) return;
    jw_put(w, "null", 4);
    jw_value_end(w);
}

clvae_status_t clvae_jw_finish(clvae_jw_t *w, const char *what, clvae_error_t *err)
{
    if (!what) what = "JSON output";
    if (!w->status && (!w->done || w->depth != 0))
        jw_fail(w, CLVAE_ERR_INVALID, "the document is not complete");
    if (w->status)
        return CLVAE_FAIL(err, w->status, "%s: cannot write JSON: %s", what, w->why);
    return CLVAE_OK;
}
