/* Config files: the INI parser, --set overrides, and resolution into a model with shapes. */
#include "clvae/net/config.h"
#include "clvae/io/fileio.h"
#include "net/layer.h"

#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- parsing -------------------------------------------------------------------------- */

static char *dup_range(const char *s, size_t n)
{
    char *d = malloc(n + 1);
    if (d) {
        memcpy(d, s, n);
        d[n] = 0;
    }
    return d;
}

static int is_ident(const char *s, size_t n)
{
    if (n == 0) return 0;
    for (size_t i = 0; i < n; i++)
        if (!(islower((unsigned char)s[i]) || isdigit((unsigned char)s[i]) || s[i] == '_'))
            return 0;
    return 1;
}

static void trim(const char **s, size_t *n)
{
    while (*n > 0 && isspace((unsigned char)**s)) {
        (*s)++;
        (*n)--;
    }
    while (*n > 0 && isspace((unsigned char)(*s)[*n - 1])) (*n)--;
}

/* Cuts a comment: # or ; at the start or after whitespace. */
static size_t strip_comment(const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if ((s[i] == '#' || s[i] == ';') && (i == 0 || isspace((unsigned char)s[i - 1]))) return i;
    return n;
}

static clvae_cfg_section_t *add_section(clvae_cfg_t *cfg, const char *name, size_t n, int line)
{
    clvae_cfg_section_t *grown =
        realloc(cfg->sections, (size_t)(cfg->nsections + 1) * sizeof *grown);
    if (!grown) return NULL;
    cfg->sections = grown;
    clvae_cfg_section_t *s = &grown[cfg->nsections];
    memset(s, 0, sizeof *s);
    s->name = dup_range(name, n);
    s->line = line;
    if (!s->name) return NULL;
    cfg->nsections++;
    return s;
}

clvae_cfg_entry_t *clvae_cfg_find_entry(const clvae_cfg_section_t *s, const char *key)
{
    for (int i = 0; i < s->nentries; i++)
        if (strcmp(s->entries[i].key, key) == 0) return &s->entries[i];
    return NULL;
}

static int add_entry(clvae_cfg_section_t *s, const char *key, size_t kn, const char *value,
                     size_t vn, int line)
{
    clvae_cfg_entry_t *grown = realloc(s->entries, (size_t)(s->nentries + 1) * sizeof *grown);
    if (!grown) return -1;
    s->entries = grown;
    clvae_cfg_entry_t *e = &grown[s->nentries];
    e->key = dup_range(key, kn);
    e->value = dup_range(value, vn);
    e->line = line;
    if (!e->key || !e->value) {
        free(e->key);
        free(e->value);
        return -1;
    }
    s->nentries++;
    return 0;
}

/* A "[name]" line (start, n: trimmed, starting with '[') into a new section *cur. */
static clvae_status_t parse_header(clvae_cfg_t *cfg, const char *start, size_t n, const char *path,
                                   int line, clvae_cfg_section_t **cur, clvae_error_t *err)
{
    const char *name = start + 1;
    size_t nn = n - 1;
    if (nn == 0 || name[nn - 1] != ']')
        return CLVAE_FAIL(err, CLVAE_ERR_INVALID, "%s:%d: a section header must be [name]", path,
                          line);
    nn--;
    trim(&name, &nn);
    if (!is_ident(name, nn))
        return CLVAE_FAIL(err, CLVAE_ERR_INVALID,
                          "%s:%d: section name '%.*s' must be lower-case letters, digits, _",
                          path, line, (int)(nn > 64 ? 64 : nn), name);
    if (!(*cur = add_section(cfg, name, nn, line)))
        return CLVAE_FAIL(err, CLVAE_ERR_NOMEM, "out of host memory");
    return CLVAE_OK;
}

/* A "key = value" line (start, n: trimmed) into section cur (NULL: none yet). */
static clvae_status_t parse_entry(clvae_cfg_section_t *cur, const char *start, size_t n,
                                  const char *path, int line, clvae_error_t *err)
{
    const char *eq = memchr(start, '=', n);
    if (!eq)
        return CLVAE_FAIL(err, CLVAE_ERR_INVALID,
                          "%s:%d: expected [section] or key = value, found '%.*s'", path, line,
                          (int)(n > 40 ? 40 : n), start);
    const char *key = start, *value = eq + 1;
    size_t kn = (size_t)(eq - start), vn = n - kn - 1;
    trim(&key, &kn);
    trim(&value, &vn);
    if (!cur)
        return CLVAE_FAIL(err, CLVAE_ERR_INVALID, "%s:%d: key '%.*s' before any [section] header",
                          path, line, (int)(kn > 40 ? 40 : kn), key);
    if (!is_ident(key, kn))
        return CLVAE_FAIL(err, CLVAE_ERR_INVALID,
                          "%s:%d: [%s] key '%.*s' must be lower-case letters, digits, _", path,
                          line, cur->name, (int)(kn > 40 ? 40 : kn), key);
    if (vn == 0)
        return CLVAE_FAIL(err, CLVAE_ERR_INVALID, "%s:%d: [%s] %.*s has no value", path, line,
                          cur->name, (int)kn, key);
    for (int i = 0; i < cur->nentries; i++)
        if (strlen(cur->entries[i].key) == kn && memcmp(cur->entries[i].key, key, kn) == 0)
            return CLVAE_FAIL(err, CLVAE_ERR_INVALID,
                              "%s:%d: [%s] %.*s is given twice (first on line %d)", path, line,
                              cur->name, (int)kn, key, cur->entries[i].line);
    if (add_entry(cur, key, kn, value, vn, line))
        return CLVAE_FAIL(err, CLVAE_ERR_NOMEM, "out of host memory");
    return CLVAE_OK;
}

clvae_status_t clvae_cfg_parse(clvae_cfg_t *cfg, const char *text, size_t len, const char *path,
                               clvae_error_t *err)
{
    memset(cfg, 0, sizeof *cfg);
    cfg->path = strdup(path ? path : "config");
    if (!cfg->path) return CLVAE_FAIL(err, CLVAE_ERR_NOMEM, "out of host memory");
    clvae_status_t s = CLVAE_OK;
    if (memchr(text, 0, len)) {
        size_t at = (size_t)((const char *)memchr(text, 0, len) - text);
        int line = 1;
        for (size_t i = 0; i < at; i++) line += text[i] == '\n';
        s = CLVAE_FAIL(err, CLVAE_ERR_INVALID, "%s:%d: binary data (a NUL byte) in a config file",
                       path, line);
    }
    clvae_cfg_section_t *cur = NULL;
    size_t pos = 0;
    int line = 0;
    while (!s && pos < len) {
        line++;
        const char *start = text + pos;
        const char *nl = memchr(start, '\n', len - pos);
        size_t n = nl ? (size_t)(nl - start) : len - pos;
        pos += n + (nl ? 1 : 0);
        if (n > 0 && start[n - 1] == '\r') n--;
        n = strip_comment(start, n);
        trim(&start, &n);
        if (n == 0) continue;
        s = start[0] == '[' ? parse_header(cfg, start, n, path, line, &cur, err)
                            : parse_entry(cur, start, n, path, line, err);
    }
    if (!s && cfg->nsections == 0)
        s = CLVAE_FAIL(err, CLVAE_ERR_INVALID, "%s: no sections: the file is empty or all comments",
                       path);
    if (s) clvae_cfg_free(cfg);
    return s;
}

clvae_status_t clvae_cfg_load(clvae_cfg_t *cfg, const char *path, clvae_error_t *err)
{
    memset(cfg, 0, sizeof *cfg);
    char *buf = NULL;
    size_t n = 0;
    /* a config is text of a few KiB */
    clvae_status_t s = clvae_file_read(path, (size_t)64 << 20, "config file", &buf, &n, err);
    if (s) return s;
    s = clvae_cfg_parse(cfg, buf, n, path, err);
    free(buf);
    return s;
}

clvae_status_t clvae_cfg_set(clvae_cfg_t *cfg, const char *a, clvae_error_t *err)
{
    const char *eq = strchr(a, '=');
    const char *dot = strchr(a, '.');
    if (!eq || !dot || dot > eq)
        return CLVAE_FAIL(err, CLVAE_ERR_INVALID,
                          "--set %s: want SECTION.KEY=VALUE (or SECTION#K.KEY=VALUE)", a);
    const char *sec = a, *hash = memchr(a, '#', (size_t)(dot - a));
    size_t sn = (size_t)((hash ? hash : dot) - a);
    long which = 0;
    if (hash) {
        char *end;
        which = strtol(hash + 1, &end, 10);
        if (end != dot || which < 1)
            return CLVAE_FAIL(err, CLVAE_ERR_INVALID, "--set %s: K in SECTION#K counts from 1", a);
    }
    const char *key = dot + 1, *value = eq + 1;
    size_t kn = (size_t)(eq - key), vn = strlen(value);
    trim(&key, &kn);
    trim(&value, &vn);
    if (!is_ident(sec, sn) || !is_ident(key, kn))
        return CLVAE_FAIL(err, CLVAE_ERR_INVALID, "--set %s: section and key must be lower-case names",
                          a);
    if (vn == 0) return CLVAE_FAIL(err, CLVAE_ERR_INVALID, "--set %s: empty value", a);
    /* the value must survive clvae_cfg_format and a parse (what a checkpoint stores) */
    for (size_t i = 0; i < vn; i++)
        if (value[i] == '\n' || (i > 0 && (value[i] == '#' || value[i] == ';') &&
                                 isspace((unsigned char)value[i - 1])))
            return CLVAE_FAIL(err, CLVAE_ERR_INVALID,
                              "--set %s: a value cannot hold a line break or a comment (# or ; "
                              "after a blank)", a);
    clvae_cfg_section_t *target = NULL;
    int count = 0;
    for (int i = 0; i < cfg->nsections; i++) {
        if (strlen(cfg->sections[i].name) != sn || memcmp(cfg->sections[i].name, sec, sn)) continue;
        count++;
        if ((which == 0 && !target) || count == which) target = &cfg->sections[i];
    }
    if (!target)
        return CLVAE_FAIL(err, CLVAE_ERR_INVALID, "--set %s: %s has no section [%.*s]%s", a,
                          cfg->path, (int)sn, sec, hash ? " with that number" : "");
    if (which == 0 && count > 1)
        return CLVAE_FAIL(err, CLVAE_ERR_INVALID,
                          "--set %s: %s has %d [%.*s] sections; name one as %.*s#K.%.*s", a,
                          cfg->path, count, (int)sn, sec, (int)sn, sec, (int)kn, key);
    char keybuf[128];
    snprintf(keybuf, sizeof keybuf, "%.*s", (int)kn, key);
    clvae_cfg_entry_t *e = clvae_cfg_find_entry(target, keybuf);
    if (e) {
        char *v = dup_range(value, vn);
        if (!v) return CLVAE_FAIL(err, CLVAE_ERR_NOMEM, "out of host memory");
        free(e->value);
        e->value = v;
        e->line = 0;
        return CLVAE_OK;
    }
    if (add_entry(target, key, kn, value, vn, 0))
        return CLVAE_FAIL(err, CLVAE_ERR_NOMEM, "out of host memory");
    return CLVAE_OK;
}

char *clvae_cfg_format(const clvae_cfg_t *cfg)
{
    size_t size = 1;
    for (int i = 0; i < cfg->nsections; i++) {
        size += strlen(cfg->sections[i].name) + 4;
        for (int j = 0; j < cfg->sections[i].nentries; j++)
            size += strlen(cfg->sections[i].entries[j].key) +
                    strlen(cfg->sections[i].entries[j].value) + 4;
    }
    char *out = malloc(size), *p = out;
    if (!out) return NULL;
    for (int i = 0; i < cfg->nsections; i++) {
        p += sprintf(p, "%s[%s]\n", i ? "\n" : "", cfg->sections[i].name);
        for (int j = 0; j < cfg->sections[i].nentries; j++) {
            /* "key =#x": a # or ; right after the '=' is part of the value, not a comment */
            const char *v = cfg->sections[i].entries[j].value;
            p += sprintf(p, "%s =%s%s\n", cfg->sections[i].entries[j].key,
                         v[0] == '#' || v[0] == ';' ? "" : " ", v);
        }
    }
    *p = 0;
    return out;
}

void clvae_cfg_free(clvae_cfg_t *cfg)
{
    if (!cfg) return;
    for (int i = 0; i < cfg->nsections; i++) {
        for (int j = 0; j < cfg->sections[i].nentries; j++) {
            free(cfg->sections[i].entries[j].key);
            free(cfg->sections[i].entries[j].value);
        }
        free(cfg->sections[i].entries);
        free(cfg->sections[i].name);
    }
    free(cfg->sections);
    free(cfg->path);
    memset(cfg, 0, sizeof *cfg);
}

/* ---- resolution ----------------------------------------------------------------------- */

/* Most values a layer's output (per example) or weights, or the whole parameter array, may
 * hold: far beyond any device, and small enough that no size computed from them overflows. */
#define MAX_VALUES ((size_t)1 << 40)

/* a * b, or 0 when the product is above MAX_VALUES (every factor here is at least 1). */
size_t clvae_cfg_mul_values(size_t a, size_t b)
{
    if (a == 0 || b == 0 || a > MAX_VALUES / b) return 0;
    return a * b;
}

/* Where a value came from, for messages: "file:line: [sec] key = value" or "file: --set ...". */
clvae_status_t clvae_cfg_bad_value(clvae_error_t *err, const clvae_cfg_t *cfg,
                                const clvae_cfg_section_t *s, const clvae_cfg_entry_t *e,
                                const char *what)
{
    /* values and keys are shown whole up to 60 characters, then cut with "..." */
    int vl = strlen(e->value) > 60 ? 57 : 60, kl = strlen(e->key) > 60 ? 57 : 60;
    const char *vd = strlen(e->value) > 60 ? "..." : "", *kd = strlen(e->key) > 60 ? "..." : "";
    if (e->line > 0)
        return CLVAE_FAIL(err, CLVAE_ERR_INVALID, "%s:%d: [%s] %.*s%s = %.*s%s: %s", cfg->path,
                          e->line, s->name, kl, e->key, kd, vl, e->value, vd, what);
    return CLVAE_FAIL(err, CLVAE_ERR_INVALID, "%s: --set %s.%.*s%s=%.*s%s: %s", cfg->path, s->name,
                      kl, e->key, kd, vl, e->value, vd, what);
}

/* Checks that every key of s is in the NULL-terminated list allowed. */
clvae_status_t clvae_cfg_check_keys(const clvae_cfg_t *cfg, const clvae_cfg_section_t *s,
                                 const char *const *allowed, clvae_error_t *err)
{
    for (int i = 0; i < s->nentries; i++) {
        int ok = 0;
        for (const char *const *a = allowed; *a && !ok; a++) ok = strcmp(*a, s->entries[i].key) == 0;
        if (ok) continue;
        char list[512] = "";
        for (const char *const *a = allowed; *a; a++) {
            strncat(list, *a, sizeof list - strlen(list) - 1);
            if (a[1]) strncat(list, ", ", sizeof list - strlen(list) - 1);
        }
        const clvae_cfg_entry_t *e = &s->entries[i];
        if (!list[0]) snprintf(list, sizeof list, "(none)");
        int kl = strlen(e->key) > 60 ? 57 : 60;
        const char *kd = strlen(e->key) > 60 ? "..." : "";
        if (e->line > 0)
            return CLVAE_FAIL(err, CLVAE_ERR_INVALID, "%s:%d: [%s] unknown key '%.*s%s' (allowed: %s)",
                              cfg->path, e->line, s->name, kl, e->key, kd, list);
        return CLVAE_FAIL(err, CLVAE_ERR_INVALID, "%s: --set %s.%.*s%s: unknown key (allowed: %s)",
                          cfg->path, s->name, kl, e->key, kd, list);
    }
    return CLVAE_OK;
}

/* Reads an integer in [lo, hi]; absent keys keep *out (the default) unless required. */
clvae_status_t clvae_cfg_get_int(const clvae_cfg_t *cfg, const clvae_cfg_section_t *s, const char *key,
                              long long lo, long long hi, int required, long long *out,
                              clvae_error_t *err)
{
    const clvae_cfg_entry_t *e = clvae_cfg_find_entry(s, key);
    if (!e) {
        if (required)
            return CLVAE_FAIL(err, CLVAE_ERR_INVALID, "%s:%d: [%s] needs %s (an integer from %lld to %lld)",
                              cfg->path, s->line, s->name, key, lo, hi);
        return CLVAE_OK;
    }
    char *end;
    errno = 0;
    long long v = strtoll(e->value, &end, 10);
    char what[160];
    if (errno || *end || end == e->value || v < lo || v > hi) {
        snprintf(what, sizeof what, "must be an integer from %lld to %lld", lo, hi);
        return clvae_cfg_bad_value(err, cfg, s, e, what);
    }
    *out = v;
    return CLVAE_OK;
}

clvae_status_t clvae_cfg_get_size(const clvae_cfg_t *cfg, const clvae_cfg_section_t *s, const char *key,
                               long long lo, long long hi, int required, size_t *out,
                               clvae_error_t *err)
{
    long long v = (long long)*out;
    clvae_status_t st = clvae_cfg_get_int(cfg, s, key, lo, hi, required, &v, err);
    if (!st) *out = (size_t)v;
    return st;
}

clvae_status_t clvae_cfg_get_float(const clvae_cfg_t *cfg, const clvae_cfg_section_t *s,
                                const char *key, double lo, double hi, float *out,
                                clvae_error_t *err)
{
    const clvae_cfg_entry_t *e = clvae_cfg_find_entry(s, key);
    if (!e) return CLVAE_OK;
    char *end;
    errno = 0;
    double v = strtod(e->value, &end);
    if (errno || *end || end == e->value || !isfinite(v) || v < lo || v > hi) {
        char what[160];
        snprintf(what, sizeof what, "must be a number from %g to %g", lo, hi);
        return clvae_cfg_bad_value(err, cfg, s, e, what);
    }
    *out = (float)v;
    return CLVAE_OK;
}

/* Reads one of the NULL-terminated words; *out is the index; absent keeps *out. */
clvae_status_t clvae_cfg_get_word(const clvae_cfg_t *cfg, const clvae_cfg_section_t *s, const char *key,
                               const char *const *words, int *out, clvae_error_t *err)
{
    const clvae_cfg_entry_t *e = clvae_cfg_find_entry(s, key);
    if (!e) return CLVAE_OK;
    char list[256] = "";
    for (int i = 0; words[i]; i++) {
        if (strcmp(words[i], e->value) == 0) {
            *out = i;
            return CLVAE_OK;
        }
        strncat(list, words[i], sizeof list - strlen(list) - 1);
        if (words[i + 1]) strncat(list, ", ", sizeof list - strlen(list) - 1);
    }
    char what[300];
    snprintf(what, sizeof what, "must be one of %s", list);
    return clvae_cfg_bad_value(err, cfg, s, e, what);
}

static clvae_status_t clvae_cfg_get_text(const clvae_cfg_t *cfg, const clvae_cfg_section_t *s, const char *key,
                               char *out, size_t size, clvae_error_t *err)
{
    const clvae_cfg_entry_t *e = clvae_cfg_find_entry(s, key);
    if (!e) return CLVAE_OK;
    if (strlen(e->value) >= size) return clvae_cfg_bad_value(err, cfg, s, e, "too long");
    snprintf(out, size, "%s", e->value);
    return CLVAE_OK;
}

/* "3" or "3x5" (height x width), each from lo to hi. */
clvae_status_t clvae_cfg_get_pair(const clvae_cfg_t *cfg, const clvae_cfg_section_t *s, const char *key,
                               long lo, long hi, size_t *a, size_t *b, clvae_error_t *err)
{
    const clvae_cfg_entry_t *e = clvae_cfg_find_entry(s, key);
    if (!e) return CLVAE_OK;
    char *end;
    errno = 0;
    long x = strtol(e->value, &end, 10), y = x;
    if (!errno && end != e->value && *end == 'x') {
        const char *second = end + 1;
        y = strtol(second, &end, 10);
        if (end == second) end = (char *)"?";
    }
    if (errno || *end || end == e->value || x < lo || x > hi || y < lo || y > hi) {
        char what[160];
        snprintf(what, sizeof what, "must be N or HxW with each from %ld to %ld", lo, hi);
        return clvae_cfg_bad_value(err, cfg, s, e, what);
    }
    *a = (size_t)x;
    *b = (size_t)y;
    return CLVAE_OK;
}

clvae_status_t clvae_cfg_get_act(const clvae_cfg_t *cfg, const clvae_cfg_section_t *s, clvae_layer_t *L,
                              clvae_error_t *err)
{
    const clvae_cfg_entry_t *e = clvae_cfg_find_entry(s, "activation");
    L->act = CLVAE_ACT_IDENTITY;
    L->slope = 0.01f;
    if (e) {
        clvae_error_t sub = {0};
        if (clvae_act_parse(e->value, &L->act, &sub) != CLVAE_OK) {
            clvae_status_t st = clvae_cfg_bad_value(err, cfg, s, e, sub.msg);
            clvae_error_clear(&sub);
            return st;
        }
    }
    return clvae_cfg_get_float(cfg, s, "slope", 0.0, 1e3, &L->slope, err);
}


/* [noise]: the corruption of the training input of a denoising model. */
static clvae_status_t resolve_noise(clvae_model_desc_t *m, const clvae_cfg_t *cfg,
                                    const clvae_cfg_section_t *s, clvae_error_t *err)
{
    static const char *const noise_keys[] = {"type", "std", "clip", "p", "factor", NULL};
    static const char *const types[] = {"none", "gaussian", "mask", "downsample", NULL};
    static const char *const factors[] = {"1", "2", "3", "4", NULL};
    static const char *const bools[] = {"0", "1", NULL};
    clvae_status_t st;
    int w = (int)m->noise.kind;
    if ((st = clvae_cfg_check_keys(cfg, s, noise_keys, err)) ||
        (st = clvae_cfg_get_word(cfg, s, "type", types, &w, err)))
        return st;
    m->noise.kind = (clvae_noise_kind_t)w;
    w = m->noise.clip;
    if ((st = clvae_cfg_get_float(cfg, s, "std", 0.0, 100.0, &m->noise.std, err)) ||
        (st = clvae_cfg_get_word(cfg, s, "clip", bools, &w, err)) ||
        (st = clvae_cfg_get_float(cfg, s, "p", 0.0, 1.0, &m->noise.p, err)))
        return st;
    m->noise.clip = w;
    w = m->noise.factor - 1;
    if ((st = clvae_cfg_get_word(cfg, s, "factor", factors, &w, err))) return st;
    m->noise.factor = w + 1;
    m->noise_line = s->line;
    return CLVAE_OK;
}

/* Downsampling noise works on the input's planes: their size, which the factor divides. */
static clvae_status_t noise_shape(clvae_model_desc_t *m, const clvae_cfg_t *cfg,
                                  clvae_error_t *err)
{
    const clvae_layer_t *in = &m->layers[0];
    m->noise.h = in->out_h;
    m->noise.w = in->out_w;
    if (m->noise.kind != CLVAE_NOISE_DOWNSAMPLE) return CLVAE_OK;
    if (m->noise.factor < 2 || in->out_h % (size_t)m->noise.factor || in->out_w % (size_t)m->noise.factor)
        return CLVAE_FAIL(err, CLVAE_ERR_INVALID, "%s:%d: [noise] type = downsample with factor "
                          "= %d: want 2 or more, dividing the input's %zux%zu", cfg->path,
                          m->noise_line, m->noise.factor, in->out_h, in->out_w);
    return CLVAE_OK;
}

/* [loss] beta_schedule and its keys (beta itself is read before: beta_end defaults to it). */
static clvae_status_t resolve_beta_schedule(clvae_model_desc_t *m, const clvae_cfg_t *cfg,
                                            const clvae_cfg_section_t *s, clvae_error_t *err)
{
    static const char *const schedules[] = {"constant", "linear", "cyclical", NULL};
    clvae_status_t st;
    int w = (int)m->beta_schedule;
    long long v;
    if ((st = clvae_cfg_get_word(cfg, s, "beta_schedule", schedules, &w, err))) return st;
    m->beta_schedule = (clvae_beta_schedule_t)w;
    m->beta_end = m->beta;
    if ((st = clvae_cfg_get_float(cfg, s, "beta_start", 0.0, 1e6, &m->beta_start, err)) ||
        (st = clvae_cfg_get_float(cfg, s, "beta_end", 0.0, 1e6, &m->beta_end, err)))
        return st;
    v = m->warmup_epochs;
    if ((st = clvae_cfg_get_int(cfg, s, "warmup_epochs", 1, 1000000, 0, &v, err))) return st;
    m->warmup_epochs = (long)v;
    v = m->cycle_epochs;
    if ((st = clvae_cfg_get_int(cfg, s, "cycle_epochs", 1, 1000000, 0, &v, err))) return st;
    m->cycle_epochs = (long)v;
    if ((st = clvae_cfg_get_float(cfg, s, "ramp", 0.0, 1.0, &m->beta_ramp, err))) return st;
    if (!(m->beta_ramp > 0.0f))
        return clvae_cfg_bad_value(err, cfg, s, clvae_cfg_find_entry(s, "ramp"),
                         "must be a fraction of the cycle above 0, at most 1");
    return CLVAE_OK;
}

/* [model]: name, kind (one flag per kind), conditional (not for a classifier, a VQ-VAE or a
 * prior). */
static clvae_status_t resolve_model_section(clvae_model_desc_t *m, const clvae_cfg_t *cfg,
                                            const clvae_cfg_section_t *s, clvae_error_t *err)
{
    static const char *const model_keys[] = {"name", "kind", "conditional", NULL};
    static const char *const kinds[] = {"ae",    "vae",   "classifier", "gan",
                                        "vqvae", "prior", "ddpm",       NULL};
    clvae_status_t st;
    int w;
    if ((st = clvae_cfg_check_keys(cfg, s, model_keys, err))) return st;
    if ((st = clvae_cfg_get_text(cfg, s, "name", m->name, sizeof m->name, err))) return st;
    w = m->ddpm ? 6 : m->prior ? 5 : m->vqvae ? 4 : m->gan ? 3 : m->classes ? 2 : m->variational;
    if ((st = clvae_cfg_get_word(cfg, s, "kind", kinds, &w, err))) return st;
    m->variational = w == 1;
    m->classes = w == 2 ? -1 : 0; /* a classifier: the count comes from its last layer */
    m->gan = w == 3;
    m->vqvae = w == 4;
    m->prior = w == 5;
    m->ddpm = w == 6;
    if ((st = clvae_cfg_get_size(cfg, s, "conditional", 0, 4096, 0, &m->conditional, err))) return st;
    if (m->conditional == 1)
        return clvae_cfg_bad_value(err, cfg, s, clvae_cfg_find_entry(s, "conditional"),
                         "must be 0 (off) or the number of classes, at least 2");
    if (m->conditional && (m->vqvae || m->prior))
        return clvae_cfg_bad_value(err, cfg, s, clvae_cfg_find_entry(s, "conditional"),
                         "kind = vqvae and prior are unconditional here");
    if (m->conditional && m->classes)
        return clvae_cfg_bad_value(err, cfg, s, clvae_cfg_find_entry(s, "conditional"),
                         "a classifier cannot be conditional on its own labels");
    return CLVAE_OK;
}

/* [data]: train, test, and a prior's codes and codes_sha256 (data_of_prior checks them). */
static clvae_status_t resolve_data_section(clvae_model_desc_t *m, const clvae_cfg_t *cfg,
                                           const clvae_cfg_section_t *s, clvae_error_t *err)
{
    static const char *const data_keys[] = {"train", "test", "codes", "codes_sha256", NULL};
    clvae_status_t st;
    if ((st = clvae_cfg_check_keys(cfg, s, data_keys, err))) return st;
    if ((st = clvae_cfg_get_text(cfg, s, "train", m->train_data, sizeof m->train_data, err))) return st;
    if ((st = clvae_cfg_get_text(cfg, s, "test", m->test_data, sizeof m->test_data, err))) return st;
    if ((st = clvae_cfg_get_text(cfg, s, "codes", m->codes_run, sizeof m->codes_run, err)) ||
        (st = clvae_cfg_get_text(cfg, s, "codes_sha256", m->codes_sha256,
                                 sizeof m->codes_sha256, err)))
        return st;
    return CLVAE_OK;
}

static clvae_status_t resolve_globals(clvae_model_desc_t *m, const clvae_cfg_t *cfg,
                                      const clvae_cfg_section_t *s, clvae_error_t *err)
{
    static const char *const train_keys[] = {"epochs", "batch", "limit", "optimizer", "lr",
                                             "beta1", "beta2", "eps", "weight_decay", "momentum",
                                             "ema", "seed", "shuffle", "sample_latent", "max_skipped",
                                             "d_steps", "test_limit", "test_every", "snapshot_every",
                                             NULL};
    static const char *const loss_keys[] = {"reconstruction", "beta", "beta_schedule",
                                            "beta_start", "beta_end", "warmup_epochs",
                                            "cycle_epochs", "ramp", "generator_loss", "real_label",
                                            NULL};
    static const char *const diff_keys[] = {"steps", "schedule", "beta_start", "beta_end",
                                            "uncond", NULL};
    static const char *const schedules[] = {"linear", "cosine", NULL};
    static const char *const g_losses[] = {"nonsaturating", "saturating", NULL};
    static const char *const opts[] = {"adam", "sgd", NULL};
    static const char *const recons[] = {"bce", "mse_sum", "mse_mean", NULL};
    static const char *const bools[] = {"0", "1", NULL};
    clvae_status_t st;
    long long v;
    int w;
    if (strcmp(s->name, "model") == 0) {
        if ((st = resolve_model_section(m, cfg, s, err))) return st;
    } else if (strcmp(s->name, "data") == 0) {
        if ((st = resolve_data_section(m, cfg, s, err))) return st;
    } else if (strcmp(s->name, "train") == 0) {
        if ((st = clvae_cfg_check_keys(cfg, s, train_keys, err))) return st;
        v = m->epochs;
        if ((st = clvae_cfg_get_int(cfg, s, "epochs", 1, 1000000, 0, &v, err))) return st;
        m->epochs = (long)v;
        if ((st = clvae_cfg_get_size(cfg, s, "batch", 1, 65536, 0, &m->batch, err))) return st;
        if ((st = clvae_cfg_get_size(cfg, s, "limit", 0, 1LL << 31, 0, &m->limit, err))) return st;
        w = strcmp(m->optimizer, "sgd") == 0;
        if ((st = clvae_cfg_get_word(cfg, s, "optimizer", opts, &w, err))) return st;
        snprintf(m->optimizer, sizeof m->optimizer, "%s", opts[w]);
        if ((st = clvae_cfg_get_float(cfg, s, "lr", 0.0, 1e6, &m->lr, err)) ||
            (st = clvae_cfg_get_float(cfg, s, "beta1", 0.0, 0.999999, &m->beta1, err)) ||
            (st = clvae_cfg_get_float(cfg, s, "beta2", 0.0, 0.999999999, &m->beta2, err)) ||
            (st = clvae_cfg_get_float(cfg, s, "eps", 0.0, 1.0, &m->eps, err)) ||
            (st = clvae_cfg_get_float(cfg, s, "weight_decay", 0.0, 1.0, &m->weight_decay, err)) ||
            (st = clvae_cfg_get_float(cfg, s, "momentum", 0.0, 0.999999, &m->momentum, err)) ||
            (st = clvae_cfg_get_float(cfg, s, "ema", 0.0, 0.999999, &m->ema, err)))
            return st;
        v = (long long)m->seed;
        if ((st = clvae_cfg_get_int(cfg, s, "seed", 0, 9007199254740991LL, 0, &v, err))) return st;
        m->seed = (uint64_t)v;
        w = m->shuffle;
        if ((st = clvae_cfg_get_word(cfg, s, "shuffle", bools, &w, err))) return st;
        m->shuffle = w;
        w = m->sample_latent;
        if ((st = clvae_cfg_get_word(cfg, s, "sample_latent", bools, &w, err))) return st;
        m->sample_latent = w;
        v = m->max_skipped;
        if ((st = clvae_cfg_get_int(cfg, s, "max_skipped", 0, 1000000, 0, &v, err))) return st;
        m->max_skipped = (long)v;
        v = m->d_steps;
        if ((st = clvae_cfg_get_int(cfg, s, "d_steps", 1, 1000, 0, &v, err))) return st;
        m->d_steps = (long)v;
        if ((st = clvae_cfg_get_size(cfg, s, "test_limit", 0, 1LL << 31, 0, &m->test_limit, err)))
            return st;
        v = m->test_every;
        if ((st = clvae_cfg_get_int(cfg, s, "test_every", 1, 1000000, 0, &v, err))) return st;
        m->test_every = (long)v;
        v = m->snapshot_every;
        if ((st = clvae_cfg_get_int(cfg, s, "snapshot_every", 0, 1000000, 0, &v, err))) return st;
        m->snapshot_every = (long)v;
    } else if (strcmp(s->name, "noise") == 0) {
        return resolve_noise(m, cfg, s, err);
    } else if (strcmp(s->name, "diffusion") == 0) {
        m->diff_line = s->line;
        w = (int)m->diff_schedule;
        if ((st = clvae_cfg_check_keys(cfg, s, diff_keys, err)) ||
            (st = clvae_cfg_get_size(cfg, s, "steps", 2, 100000, 0, &m->diff_steps, err)) ||
            (st = clvae_cfg_get_word(cfg, s, "schedule", schedules, &w, err)) ||
            (st = clvae_cfg_get_float(cfg, s, "beta_start", 0.0, 1.0, &m->diff_beta_start, err)) ||
            (st = clvae_cfg_get_float(cfg, s, "beta_end", 0.0, 1.0, &m->diff_beta_end, err)) ||
            (st = clvae_cfg_get_float(cfg, s, "uncond", 0.0, 1.0, &m->diff_uncond, err)))
            return st;
        m->diff_schedule = (clvae_schedule_kind_t)w;
        const char *lin[2] = {"beta_start", "beta_end"};
        for (int k = 0; k < 2 && w == CLVAE_SCHEDULE_COSINE; k++) {
            const clvae_cfg_entry_t *e = clvae_cfg_find_entry(s, lin[k]);
            if (e) return clvae_cfg_bad_value(err, cfg, s, e, "only schedule = linear reads it");
        }
    } else {
        if ((st = clvae_cfg_check_keys(cfg, s, loss_keys, err))) return st;
        w = (int)m->recon;
        if ((st = clvae_cfg_get_word(cfg, s, "reconstruction", recons, &w, err))) return st;
        m->recon = (clvae_recon_t)w;
        if ((st = clvae_cfg_get_float(cfg, s, "beta", 0.0, 1e6, &m->beta, err))) return st;
        w = m->saturating;
        if ((st = clvae_cfg_get_word(cfg, s, "generator_loss", g_losses, &w, err)) ||
            (st = clvae_cfg_get_float(cfg, s, "real_label", 0.5, 1.0, &m->real_label, err)))
            return st;
        m->saturating = w;
        return resolve_beta_schedule(m, cfg, s, err);
    }
    return CLVAE_OK;
}

/* The kind whose section name is name (not the implicit ones). */
static int layer_kind_of(const char *name, clvae_layer_kind_t *k)
{
    for (int i = 0; i < CLVAE_LAYER_KINDS; i++) {
        if (i == CLVAE_LAYER_LABELS) continue;
        if (strcmp(name, clvae_layer_kind_name((clvae_layer_kind_t)i)) == 0) {
            *k = (clvae_layer_kind_t)i;
            return 1;
        }
    }
    return 0;
}

/* The index of the layer called name (n characters) among the first m->nlayers, or -1. */
static int find_layer(const clvae_model_desc_t *m, const char *name, size_t n)
{
    for (int i = 0; i < m->nlayers; i++)
        if (strlen(m->layers[i].name) == n && strncmp(m->layers[i].name, name, n) == 0) return i;
    return -1;
}

/* The line of a later layer section called name (n characters), or 0. */
static int later_section(const clvae_cfg_t *cfg, int after, const char *name, size_t n)
{
    for (int i = after + 1; i < cfg->nsections; i++) {
        const clvae_cfg_entry_t *e = clvae_cfg_find_entry(&cfg->sections[i], "name");
        clvae_layer_kind_t k;
        if (e && layer_kind_of(cfg->sections[i].name, &k) && strlen(e->value) == n &&
            strncmp(e->value, name, n) == 0)
            return cfg->sections[i].line;
    }
    return 0;
}

/* name = (letters, digits, _ and -, unique; default the kind and its index, "conv3"). */
static clvae_status_t resolve_name(clvae_model_desc_t *m, const clvae_cfg_t *cfg,
                                   const clvae_cfg_section_t *s, clvae_layer_t *L,
                                   clvae_error_t *err)
{
    const clvae_cfg_entry_t *e = clvae_cfg_find_entry(s, "name");
    if (!e) {
        snprintf(L->name, sizeof L->name, "%s%d", s->name, m->nlayers);
        return CLVAE_OK;
    }
    size_t n = strlen(e->value);
    if (n >= sizeof L->name || strspn(e->value, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
                                                "0123456789_-") != n)
        return clvae_cfg_bad_value(err, cfg, s, e, "a layer name is 1 to 31 letters, digits, _ "
                                   "or -");
    int other = find_layer(m, e->value, n);
    if (other >= 0) {
        char what[120];
        snprintf(what, sizeof what, "the name is taken by the layer on line %d",
                 m->layers[other].line);
        return clvae_cfg_bad_value(err, cfg, s, e, what);
    }
    snprintf(L->name, sizeof L->name, "%s", e->value);
    return CLVAE_OK;
}

/* from = a, b: earlier layers by name (default: the layer above); a later layer or the layer
 * itself would make a cycle. */
static clvae_status_t resolve_from(clvae_model_desc_t *m, const clvae_cfg_t *cfg, int si,
                                   clvae_layer_t *L, int max_from, clvae_error_t *err)
{
    const clvae_cfg_section_t *s = &cfg->sections[si];
    const clvae_cfg_entry_t *e = clvae_cfg_find_entry(s, "from");
    if (!e) {
        L->from[0] = m->nlayers - 1;
        L->nfrom = 1;
        return CLVAE_OK;
    }
    for (const char *p = e->value; *p;) {
        p += strspn(p, " \t");
        size_t n = strcspn(p, ",");
        while (n && (p[n - 1] == ' ' || p[n - 1] == '\t')) n--;
        char what[200];
        int j = n ? find_layer(m, p, n) : -1;
        if (j < 0) {
            int later = n ? later_section(cfg, si - 1, p, n) : 0;
            if (!n)
                snprintf(what, sizeof what, "an empty name in the list");
            else if (later == s->line)
                snprintf(what, sizeof what, "a layer cannot read itself (a cycle)");
            else if (later)
                snprintf(what, sizeof what, "'%.*s' is a later layer (line %d): a layer reads "
                         "only layers above it, so the graph has no cycle", (int)n, p, later);
            else
                snprintf(what, sizeof what, "no layer above is named '%.*s'", (int)n, p);
            return clvae_cfg_bad_value(err, cfg, s, e, what);
        }
        if (L->nfrom == max_from) {
            snprintf(what, sizeof what, "[%s] takes at most %d input%s", s->name, max_from,
                     max_from == 1 ? "" : "s");
            return clvae_cfg_bad_value(err, cfg, s, e, what);
        }
        L->from[L->nfrom++] = j;
        p += strcspn(p, ",");
        if (*p == ',') p++;
    }
    return CLVAE_OK;
}

/* Parameters of L after those placed so far: weight, bias; the VAE latent's second head. */
static clvae_status_t place_params(clvae_model_desc_t *m, clvae_layer_t *L, const char *where,
                                   clvae_error_t *err)
{
    if (!clvae_cfg_mul_values(clvae_cfg_mul_values(L->out_c, L->out_h), L->out_w) ||
        (clvae_layer_kind(L->kind)->fans && !L->w_len))
        return CLVAE_FAIL(err, CLVAE_ERR_INVALID,
                          "%s is too large: %zux%zux%zu outputs per example from %zux%zux%zu "
                          "inputs; a layer's outputs and its weights may hold at most 2^40 "
                          "values", where, L->out_c, L->out_h, L->out_w, L->in_c, L->in_h,
                          L->in_w);
    L->s_off = m->nstate;
    m->nstate += L->s_len;
    if (!L->w_len) return CLVAE_OK;
    L->w_off = m->nparams;
    L->b_off = L->w_off + L->w_len;
    L->b_len = L->bias ? L->out_c : 0;
    m->nparams = L->b_off + L->b_len;
    if (L->kind == CLVAE_LAYER_LATENT && m->variational) {
        L->w2_off = m->nparams;
        L->b2_off = L->w2_off + L->w_len;
        m->nparams = L->b2_off + L->b_len;
    }
    if (m->nparams > MAX_VALUES) /* each term is at most 2^40: no overflow before this */
        return CLVAE_FAIL(err, CLVAE_ERR_INVALID,
                          "%s: the model has %zu parameters up to here, more than 2^40", where,
                          m->nparams);
    return CLVAE_OK;
}

/* Shapes of L from its inputs, then the kind's own resolution and the parameters. */
static clvae_status_t resolve_kind(clvae_model_desc_t *m, const clvae_cfg_t *cfg,
                                   const clvae_cfg_section_t *s, clvae_layer_t *L,
                                   clvae_error_t *err)
{
    const clvae_layer_kind_ops_t *k = clvae_layer_kind(L->kind);
    clvae_layer_resolve_t r = {cfg, s, m, {NULL}, L->nfrom, ""};
    snprintf(r.where, sizeof r.where, "%s:%d: [%s]", cfg->path, s->line, s->name);
    for (int j = 0; j < L->nfrom; j++) r.in[j] = &m->layers[L->from[j]];
    if (L->nfrom) {
        L->in_c = r.in[0]->out_c;
        L->in_h = r.in[0]->out_h;
        L->in_w = r.in[0]->out_w;
    }
    L->bias = 1;
    L->act = CLVAE_ACT_IDENTITY;
    clvae_status_t st = k->resolve(L, &r, err);
    return st ? st : place_params(m, L, r.where, err);
}

/* [model] conditional: the implicit layer that joins the one-hot label to the layer above
 * (before the first layer after [input], and before the first decoder layer, a [dense]). */
static clvae_status_t add_labels(clvae_model_desc_t *m, const clvae_cfg_t *cfg,
                                 const clvae_cfg_section_t *s, clvae_layer_kind_t next,
                                 clvae_error_t *err)
{
    int first_decoder = m->latent >= 0 && m->nlayers == m->latent + 1;
    /* a diffusion model's label enters through its [time_embed] instead */
    if (!m->conditional || m->ddpm || (m->nlayers != 1 && !first_decoder)) return CLVAE_OK;
    if (first_decoder && next != CLVAE_LAYER_DENSE)
        return CLVAE_FAIL(err, CLVAE_ERR_INVALID,
                          "%s:%d: [%s] right after [latent]: with [model] conditional the first "
                          "decoder layer must be a [dense] (it takes z and the one-hot label)",
                          cfg->path, s->line, s->name);
    clvae_layer_t *L = &m->layers[m->nlayers];
    memset(L, 0, sizeof *L);
    L->kind = CLVAE_LAYER_LABELS;
    L->line = s->line;
    L->implicit = 1;
    snprintf(L->name, sizeof L->name, "%.24s+labels", m->layers[m->nlayers - 1].name);
    L->from[0] = m->nlayers - 1;
    L->nfrom = 1;
    clvae_status_t st = resolve_kind(m, cfg, s, L, err);
    if (!st) m->nlayers++;
    return st;
}

/* One layer section: its keys, name, inputs, shapes and parameters. */
static clvae_status_t resolve_section(clvae_model_desc_t *m, const clvae_cfg_t *cfg, int si,
                                      clvae_layer_kind_t k, clvae_error_t *err)
{
    const clvae_cfg_section_t *s = &cfg->sections[si];
    const clvae_layer_kind_ops_t *ops = clvae_layer_kind(k);
    clvae_status_t st;
    if (m->nlayers == 0 && k != CLVAE_LAYER_INPUT)
        return CLVAE_FAIL(err, CLVAE_ERR_INVALID,
                          "%s:%d: the first layer section must be [input], not [%s]", cfg->path,
                          s->line, s->name);
    if (m->nlayers > 0 && k == CLVAE_LAYER_INPUT)
        return CLVAE_FAIL(err, CLVAE_ERR_INVALID, "%s:%d: [input] must be the first layer section",
                          cfg->path, s->line);
    if (k == CLVAE_LAYER_LATENT && m->vqvae)
        return CLVAE_FAIL(err, CLVAE_ERR_INVALID,
                          "%s:%d: a VQ-VAE has no [latent] section: its [vq] layer marks where "
                          "the encoder ends", cfg->path, s->line);
    if ((k == CLVAE_LAYER_LATENT || k == CLVAE_LAYER_VQ) && m->latent >= 0)
        return CLVAE_FAIL(err, CLVAE_ERR_INVALID,
                          "%s:%d: a second [%s] section (the first is on line %d)", cfg->path,
                          s->line, s->name, m->layers[m->latent].line);
    const char *keys[24];
    int nk = 0;
    for (const char *const *p = ops->keys; *p && nk < 20; p++) keys[nk++] = *p;
    keys[nk++] = "name";
    if (ops->max_from) keys[nk++] = "from";
    keys[nk] = NULL;
    if ((st = clvae_cfg_check_keys(cfg, s, keys, err)) ||
        (st = add_labels(m, cfg, s, k, err)))
        return st;
    clvae_layer_t *L = &m->layers[m->nlayers];
    memset(L, 0, sizeof *L);
    L->kind = k;
    L->line = s->line;
    if ((st = resolve_name(m, cfg, s, L, err)) ||
        (ops->max_from && (st = resolve_from(m, cfg, si, L, ops->max_from, err))) ||
        (st = resolve_kind(m, cfg, s, L, err)))
        return st;
    if (k == CLVAE_LAYER_LATENT || k == CLVAE_LAYER_VQ) m->latent = m->nlayers;
    m->nlayers++;
    return CLVAE_OK;
}

/* Every layer but the last feeds another: an unread output is a mistake in the graph. */
static clvae_status_t check_all_used(const clvae_model_desc_t *m, const clvae_cfg_t *cfg,
                                     clvae_error_t *err)
{
    for (int i = 0; i + 1 < m->nlayers; i++) {
        int used = 0;
        for (int j = i + 1; j < m->nlayers && !used; j++)
            for (int k = 0; k < m->layers[j].nfrom; k++) used |= m->layers[j].from[k] == i;
        if (!used)
            return CLVAE_FAIL(err, CLVAE_ERR_INVALID,
                              "%s:%d: [%s] '%s' feeds no layer (its output would be lost): read "
                              "it with from = in a later section, or remove it",
                              cfg->path, m->layers[i].line,
                              clvae_layer_kind_name(m->layers[i].kind), m->layers[i].name);
    }
    return CLVAE_OK;
}

/* [data] of a prior: codes = a VQ-VAE run instead of train and test (its images are its
 * VQ-VAE's); codes only in a prior. After every global section is read ([data] may come
 * before [model]). */
static clvae_status_t data_of_prior(const clvae_model_desc_t *m, const clvae_cfg_t *cfg,
                                    clvae_error_t *err)
{
    const clvae_cfg_section_t *s = NULL;
    for (int i = 0; i < cfg->nsections && !s; i++)
        if (strcmp(cfg->sections[i].name, "data") == 0) s = &cfg->sections[i];
    if (!s) return CLVAE_OK;
    const clvae_cfg_entry_t *codes = clvae_cfg_find_entry(s, "codes");
    const clvae_cfg_entry_t *train = clvae_cfg_find_entry(s, "train");
    const clvae_cfg_entry_t *hash = clvae_cfg_find_entry(s, "codes_sha256");
    if (hash && strlen(hash->value) != 64)
        return clvae_cfg_bad_value(err, cfg, s, hash, "must be 64 hexadecimal digits (the "
                                   "VQ-VAE checkpoint's sha256, written by clvae train)");
    if (!m->prior) {
        const clvae_cfg_entry_t *e = codes ? codes : hash;
        if (e)
            return clvae_cfg_bad_value(err, cfg, s, e, "only a prior ([model] kind = prior) "
                                       "trains on the codes of a VQ-VAE run");
        return CLVAE_OK;
    }
    if (!train) train = clvae_cfg_find_entry(s, "test");
    if (train)
        return clvae_cfg_bad_value(err, cfg, s, train, "a prior trains on the codes of its "
                                   "VQ-VAE's images: give [data] codes = RUN, not train/test");
    return CLVAE_OK;
}

/* kind = prior: [data] codes, no [latent] or [vq]; a last [conv] without activation whose
 * filters are the codes K (a softmax over K at each position), over a map of the input's
 * height and width; the input is the one-hot code map (channels = K). */
static clvae_status_t resolve_prior(clvae_model_desc_t *m, const clvae_cfg_t *cfg,
                                    clvae_error_t *err)
{
    const clvae_layer_t *in = &m->layers[0], *out = &m->layers[m->nlayers - 1];
    if (!m->codes_run[0])
        return CLVAE_FAIL(err, CLVAE_ERR_INVALID, "%s: a prior needs [data] codes = RUN, the "
                          "VQ-VAE run whose codes it learns", cfg->path);
    if (m->latent >= 0)
        return CLVAE_FAIL(err, CLVAE_ERR_INVALID, "%s:%d: kind = prior has no [latent] or [vq] "
                          "section (its layers go from the one-hot code map to the logits)",
                          cfg->path, m->layers[m->latent].line);
    if (m->nlayers < 2 || out->kind != CLVAE_LAYER_CONV || out->act != CLVAE_ACT_IDENTITY ||
        out->out_c != in->out_c || out->out_h != in->out_h || out->out_w != in->out_w ||
        in->out_c < 2 || in->out_c > 256)
        return CLVAE_FAIL(err, CLVAE_ERR_INVALID,
                          "%s:%d: kind = prior must end with a [conv] of activation = identity "
                          "whose filters are the codes K (2 to 256; the [input]'s channels, a "
                          "one-hot map) at the input's height and width (it is %zux%zux%zu, the "
                          "input %zux%zux%zu)",
                          cfg->path, out->line, out->out_c, out->out_h, out->out_w, in->out_c,
                          in->out_h, in->out_w);
    m->latent = m->nlayers;
    return CLVAE_OK;
}

/* kind = ddpm: no [latent] or [vq]; a [time_embed] (the step t enters the network there); the
 * last layer has the input's shape and activation = identity (it predicts the noise eps); the
 * loss is mse_mean (default) or mse_sum; the schedule has every beta_t in (0, 1). */
static clvae_status_t resolve_ddpm(clvae_model_desc_t *m, const clvae_cfg_t *cfg,
                                   clvae_error_t *err)
{
    const clvae_layer_t *in = &m->layers[0], *out = &m->layers[m->nlayers - 1];
    if (m->latent >= 0)
        return CLVAE_FAIL(err, CLVAE_ERR_INVALID, "%s:%d: kind = ddpm has no [latent] or [vq] "
                          "section (its layers map the noisy image x_t and t to the noise)",
                          cfg->path, m->layers[m->latent].line);
    int temb = 0;
    for (int i = 0; i < m->nlayers; i++) temb |= m->layers[i].kind == CLVAE_LAYER_TIME_EMBED;
    if (!temb)
        return CLVAE_FAIL(err, CLVAE_ERR_INVALID, "%s: kind = ddpm needs a [time_embed] section "
                          "(the step t enters the network there)", cfg->path);
    const clvae_layer_t *act = clvae_model_output_act_layer(m);
    if (m->nlayers < 2 || out->out_c != in->out_c || out->out_h != in->out_h ||
        out->out_w != in->out_w || act->act != CLVAE_ACT_IDENTITY)
        return CLVAE_FAIL(err, CLVAE_ERR_INVALID,
                          "%s:%d: kind = ddpm must end with a layer of the input's shape "
                          "%zux%zux%zu and activation = identity (the predicted noise; it is "
                          "%zux%zux%zu with %s)", cfg->path, out->line, in->out_c, in->out_h,
                          in->out_w, out->out_c, out->out_h, out->out_w, clvae_act_name(act->act));
    for (int i = 0; i < cfg->nsections; i++) {
        const clvae_cfg_section_t *s = &cfg->sections[i];
        const clvae_cfg_entry_t *e = strcmp(s->name, "loss") == 0
                                         ? clvae_cfg_find_entry(s, "reconstruction") : NULL;
        if (e && m->recon == CLVAE_RECON_BCE)
            return clvae_cfg_bad_value(err, cfg, s, e, "a diffusion model's loss on the noise "
                                       "is mse_mean (the mean over pixels) or mse_sum");
        e = strcmp(s->name, "diffusion") == 0 ? clvae_cfg_find_entry(s, "uncond") : NULL;
        if (e && !m->conditional)
            return clvae_cfg_bad_value(err, cfg, s, e, "the share of examples trained without "
                                       "their label needs [model] conditional = K");
    }
    if (m->recon == CLVAE_RECON_BCE) m->recon = CLVAE_RECON_MSE_MEAN;
    clvae_schedule_t sch;
    clvae_error_t sub = {0};
    if (clvae_schedule_init(&sch, m->diff_schedule, m->diff_steps, m->diff_beta_start,
                            m->diff_beta_end, &sub)) {
        clvae_status_t st = CLVAE_FAIL(err, CLVAE_ERR_INVALID, "%s:%d: [diffusion]: %s", cfg->path,
                                       m->diff_line, sub.msg);
        clvae_error_clear(&sub);
        return st;
    }
    clvae_schedule_free(&sch);
    m->latent = m->nlayers;
    return CLVAE_OK;
}

/* kind = classifier: no [latent], a last [dense] layer without activation whose units are the
 * classes (its outputs are the logits of the softmax cross-entropy). */
static clvae_status_t resolve_classifier(clvae_model_desc_t *m, const clvae_cfg_t *cfg,
                                         clvae_error_t *err)
{
    const clvae_layer_t *out = &m->layers[m->nlayers - 1];
    if (m->latent >= 0)
        return CLVAE_FAIL(err, CLVAE_ERR_INVALID,
                          "%s:%d: kind = classifier has no [latent] section (its layers go from "
                          "[input] to a last [dense] with one unit per class)",
                          cfg->path, m->layers[m->latent].line);
    if (m->nlayers < 2 || out->kind != CLVAE_LAYER_DENSE || out->act != CLVAE_ACT_IDENTITY ||
        out->units < 2 || out->units > 65536)
        return CLVAE_FAIL(err, CLVAE_ERR_INVALID,
                          "%s:%d: kind = classifier must end with a [dense] layer of 2 to 65536 "
                          "units (one per class) and activation = identity (the logits)",
                          cfg->path, out->line);
    m->classes = (int)out->units;
    m->latent = m->nlayers;
    return CLVAE_OK;
}

/* Every setting's default; the name is the config file's base name. */
static void set_defaults(clvae_model_desc_t *m, const clvae_cfg_t *cfg)
{
    memset(m, 0, sizeof *m);
    const char *base = strrchr(cfg->path, '/');
    base = base ? base + 1 : cfg->path;
    snprintf(m->name, sizeof m->name, "%.*s", (int)strcspn(base, "."), base);
    m->variational = 1;
    snprintf(m->train_data, sizeof m->train_data, "mnist:train");
    snprintf(m->test_data, sizeof m->test_data, "mnist:test");
    m->epochs = 10;
    m->batch = 128;
    snprintf(m->optimizer, sizeof m->optimizer, "adam");
    m->lr = 1e-3f;
    m->beta1 = 0.9f;
    m->beta2 = 0.999f;
    m->eps = 1e-8f;
    m->seed = 1;
    m->shuffle = 1;
    m->sample_latent = 1;
    m->max_skipped = 10;
    m->recon = CLVAE_RECON_BCE;
    m->beta = 1.0f;
    m->beta_end = 1.0f;
    m->warmup_epochs = 10;
    m->cycle_epochs = 4;
    m->beta_ramp = 0.5f;
    m->noise.std = 0.5f;
    m->noise.clip = 1;
    m->noise.p = 0.3f;
    m->noise.factor = 2;
    m->latent = -1;
    m->d_steps = 1;
    m->real_label = 1.0f;
    m->test_every = 1;
    m->diff_steps = 1000;
    m->diff_schedule = CLVAE_SCHEDULE_LINEAR;
    m->diff_beta_start = 1e-4f;
    m->diff_beta_end = 0.02f;
    m->diff_uncond = 0.1f;
}

/* A network's section of a GAN: 1 [generator], 2 [discriminator], 0 neither. */
static int part_of(const char *name)
{
    if (strcmp(name, "generator") == 0) return 1;
    return strcmp(name, "discriminator") == 0 ? 2 : 0;
}

/* [generator] / [discriminator]: that network's optimizer settings (default: [train]'s). */
static clvae_status_t resolve_part(clvae_model_desc_t *d, const clvae_cfg_t *cfg,
                                   const clvae_cfg_section_t *s, clvae_error_t *err)
{
    static const char *const keys[] = {"lr", "beta1", "beta2", NULL};
    clvae_status_t st;
    if ((st = clvae_cfg_check_keys(cfg, s, keys, err)) ||
        (st = clvae_cfg_get_float(cfg, s, "lr", 0.0, 1e6, &d->lr, err)) ||
        (st = clvae_cfg_get_float(cfg, s, "beta1", 0.0, 0.999999, &d->beta1, err)) ||
        (st = clvae_cfg_get_float(cfg, s, "beta2", 0.0, 0.999999999, &d->beta2, err)))
        return st;
    return CLVAE_OK;
}

/* The settings only a GAN reads are refused elsewhere; a GAN's optimizer defaults are Adam
 * lr 2e-4, beta1 0.5 (DCGAN's) unless [train] sets them. */
static clvae_status_t gan_settings(clvae_model_desc_t *m, const clvae_cfg_t *cfg,
                                   clvae_error_t *err)
{
    static const char *const only[][2] = {{"train", "d_steps"},
                                          {"loss", "generator_loss"},
                                          {"loss", "real_label"}};
    for (int i = 0; i < cfg->nsections; i++) {
        const clvae_cfg_section_t *s = &cfg->sections[i];
        for (size_t k = 0; !m->gan && k < sizeof only / sizeof *only; k++) {
            clvae_cfg_entry_t *e = strcmp(s->name, only[k][0]) == 0
                                       ? clvae_cfg_find_entry(s, only[k][1]) : NULL;
            if (e) return clvae_cfg_bad_value(err, cfg, s, e, "only a GAN (kind = gan) has it");
        }
        if (m->gan && strcmp(s->name, "train") == 0) {
            if (!clvae_cfg_find_entry(s, "lr")) m->lr = 2e-4f;
            if (!clvae_cfg_find_entry(s, "beta1")) m->beta1 = 0.5f;
        }
    }
    return CLVAE_OK;
}

/* kind = gan: two networks without [latent]; the generator's output is an image of the
 * discriminator's input shape from a tanh ([-1, 1]) or sigmoid ([0, 1]) output, the
 * discriminator's output one logit. */
static clvae_status_t resolve_gan(clvae_model_desc_t *m, const clvae_cfg_t *cfg,
                                  clvae_error_t *err)
{
    clvae_model_desc_t *g = m, *d = m->disc;
    const char *names[2] = {"generator", "discriminator"};
    clvae_model_desc_t *nets[2] = {g, d};
    clvae_status_t st;
    for (int k = 0; k < 2; k++) {
        if (nets[k]->nlayers == 0)
            return CLVAE_FAIL(err, CLVAE_ERR_INVALID, "%s: kind = gan needs a [%s] section "
                              "followed by its layers ([input] ...)", cfg->path, names[k]);
        if (nets[k]->latent >= 0)
            return CLVAE_FAIL(err, CLVAE_ERR_INVALID, "%s:%d: a GAN has no [latent] section "
                              "(the generator's [input] is z)", cfg->path,
                              nets[k]->layers[nets[k]->latent].line);
        if (nets[k]->nlayers < 2)
            return CLVAE_FAIL(err, CLVAE_ERR_INVALID, "%s: the %s has no layer after [input]",
                              cfg->path, names[k]);
        if ((st = check_all_used(nets[k], cfg, err))) return st;
    }
    const clvae_layer_t *gout = &g->layers[g->nlayers - 1], *din = &d->layers[0];
    const clvae_layer_t *dout = &d->layers[d->nlayers - 1];
    if (gout->out_c != din->out_c || gout->out_h != din->out_h || gout->out_w != din->out_w)
        return CLVAE_FAIL(err, CLVAE_ERR_INVALID,
                          "%s:%d: the generator makes %zux%zux%zu images but the discriminator's "
                          "[input] (line %d) takes %zux%zux%zu", cfg->path, gout->line,
                          gout->out_c, gout->out_h, gout->out_w, din->line, din->out_c,
                          din->out_h, din->out_w);
    const clvae_layer_t *gact = clvae_model_output_act_layer(g);
    if (gact->act != CLVAE_ACT_TANH && gact->act != CLVAE_ACT_SIGMOID)
        return CLVAE_FAIL(err, CLVAE_ERR_INVALID,
                          "%s:%d: the generator's last layer needs activation = tanh (images in "
                          "[-1, 1]) or sigmoid ([0, 1]), not %s", cfg->path, gact->line,
                          clvae_act_name(gact->act));
    if (dout->out_c * dout->out_h * dout->out_w != 1 || dout->act != CLVAE_ACT_IDENTITY)
        return CLVAE_FAIL(err, CLVAE_ERR_INVALID,
                          "%s:%d: the discriminator must end with one unit (its logit) and "
                          "activation = identity, not %zux%zux%zu with %s", cfg->path,
                          dout->line, dout->out_c, dout->out_h, dout->out_w,
                          clvae_act_name(dout->act));
    g->latent = 0;           /* z is the generator's input: its layers are decoder.N */
    d->latent = d->nlayers;  /* all of the discriminator's are encoder.N */
    return CLVAE_OK;
}

/* The sections: globals and GAN parts first (their settings), counting layer sections. */
static clvae_status_t read_globals(clvae_model_desc_t *m, const clvae_cfg_t *cfg, int *nlayer,
                                   clvae_error_t *err)
{
    const char *globals[] = {"model", "data", "train", "loss", "noise", "diffusion"};
    int seen[8] = {0};
    clvae_status_t st;
    *nlayer = 0;
    for (int i = 0; i < cfg->nsections; i++) {
        const clvae_cfg_section_t *s = &cfg->sections[i];
        int g = -1;
        for (int j = 0; j < 6; j++)
            if (strcmp(s->name, globals[j]) == 0) g = j;
        if (part_of(s->name)) g = 5 + part_of(s->name);
        clvae_layer_kind_t k;
        if (g < 0) {
            if (!layer_kind_of(s->name, &k)) {
                char kinds[256] = "";
                for (int j = 0, len = 0; j < CLVAE_LAYER_KINDS && len < (int)sizeof kinds; j++)
                    if (j != CLVAE_LAYER_LABELS)
                        len += snprintf(kinds + len, sizeof kinds - (size_t)len, ", %s",
                                        clvae_layer_kind_name((clvae_layer_kind_t)j));
                return CLVAE_FAIL(err, CLVAE_ERR_INVALID,
                                  "%s:%d: unknown section [%s] (sections: model, data, train, loss, "
                                  "noise, diffusion, generator, discriminator%s)", cfg->path, s->line,
                                  s->name, kinds);
            }
            (*nlayer)++;
            continue;
        }
        if (seen[g])
            return CLVAE_FAIL(err, CLVAE_ERR_INVALID, "%s:%d: a second [%s] section (the first is on line %d)",
                              cfg->path, s->line, s->name, seen[g]);
        seen[g] = s->line;
        if (g < 6 && (st = resolve_globals(m, cfg, s, err))) return st;
    }
    return gan_settings(m, cfg, err);
}

/* An autoencoder (ae, vae, vqvae): a [latent] or [vq] that ends the encoder, a decoder back
 * to the input's size, a sigmoid output for a BCE reconstruction. */
static clvae_status_t resolve_autoencoder(const clvae_model_desc_t *m, const clvae_cfg_t *cfg,
                                          clvae_error_t *err)
{
    if (m->latent < 0) {
        return CLVAE_FAIL(err, CLVAE_ERR_INVALID,
                        m->vqvae ? "%s: no [vq] section: a VQ-VAE quantizes its encoder's map "
                                   "there (codes = K)"
                                 : "%s: no [latent] section: it marks where the encoder ends "
                                   "(size = N)",
                        cfg->path);
    }
    const clvae_layer_t *in = &m->layers[0], *out = &m->layers[m->nlayers - 1];
    if (m->latent == m->nlayers - 1 || out->out_c * out->out_h * out->out_w !=
                                           in->out_c * in->out_h * in->out_w) {
        return CLVAE_FAIL(err, CLVAE_ERR_INVALID,
                        "%s: the decoder ends with %zux%zux%zu values but the input is %zux%zux%zu",
                        cfg->path, out->out_c, out->out_h, out->out_w, in->out_c, in->out_h,
                        in->out_w);
    }
    const clvae_layer_t *act = clvae_model_output_act_layer(m);
    if (m->recon == CLVAE_RECON_BCE && act->act != CLVAE_ACT_SIGMOID) {
        return CLVAE_FAIL(err, CLVAE_ERR_INVALID,
                        "%s:%d: reconstruction = bce needs probabilities: the last layer's "
                        "activation must be sigmoid (it is %s)",
                        cfg->path, act->line, clvae_act_name(act->act));
    }
    return CLVAE_OK;
}

clvae_status_t clvae_model_resolve(clvae_model_desc_t *m, const clvae_cfg_t *cfg,
                                   clvae_error_t *err)
{
    set_defaults(m, cfg);
    int nlayer_sections;
    clvae_status_t st = read_globals(m, cfg, &nlayer_sections, err);
    if (!st) st = data_of_prior(m, cfg, err);
    if (!st && m->diff_line && !m->ddpm)
        st = CLVAE_FAIL(err, CLVAE_ERR_INVALID, "%s:%d: [diffusion] belongs to a diffusion model: "
                        "set [model] kind = ddpm, or remove it", cfg->path, m->diff_line);
    if (st) return st;
    /* two more for the implicit label layers of a conditional model */
    m->layers = calloc((size_t)nlayer_sections + 2, sizeof *m->layers);
    if (!m->layers) return CLVAE_FAIL(err, CLVAE_ERR_NOMEM, "out of host memory");
    if (m->gan) {
        /* the discriminator: the same settings, its own layers */
        m->disc = malloc(sizeof *m->disc);
        if (m->disc) {
            *m->disc = *m;
            m->disc->gan = 0;
            m->disc->disc = NULL;
            m->disc->ema = 0.0f; /* sampling reads the generator alone */
            m->disc->layers = calloc((size_t)nlayer_sections + 2, sizeof *m->layers);
        }
        if (!m->disc || !m->disc->layers) {
            st = CLVAE_FAIL(err, CLVAE_ERR_NOMEM, "out of host memory");
            goto fail;
        }
    }
    clvae_model_desc_t *cur = m->gan ? NULL : m;
    for (int i = 0; i < cfg->nsections; i++) {
        const clvae_cfg_section_t *s = &cfg->sections[i];
        clvae_layer_kind_t k;
        int part = part_of(s->name);
        if (part && !m->gan) {
            st = CLVAE_FAIL(err, CLVAE_ERR_INVALID, "%s:%d: [%s] belongs to a GAN: set [model] "
                            "kind = gan, or remove it", cfg->path, s->line, s->name);
            goto fail;
        }
        if (part) {
            cur = part == 1 ? m : m->disc;
            if ((st = resolve_part(cur, cfg, s, err))) goto fail;
            continue;
        }
        if (!layer_kind_of(s->name, &k)) continue;
        if (!cur) {
            st = CLVAE_FAIL(err, CLVAE_ERR_INVALID, "%s:%d: [%s] before [generator] or "
                            "[discriminator]: a GAN's layers follow the section of their network",
                            cfg->path, s->line, s->name);
            goto fail;
        }
        if ((st = resolve_section(cur, cfg, i, k, err))) goto fail;
    }
    if (m->gan) {
        if ((st = resolve_gan(m, cfg, err))) goto fail;
        return CLVAE_OK;
    }
    if (m->nlayers == 0) {
        st = CLVAE_FAIL(err, CLVAE_ERR_INVALID,
                        "%s: no layers: the model needs [input] ... [latent] ...", cfg->path);
        goto fail;
    }
    if ((st = check_all_used(m, cfg, err))) goto fail;
    if (m->classes) {
        if ((st = resolve_classifier(m, cfg, err))) goto fail;
        return CLVAE_OK;
    }
    if (m->prior) {
        if ((st = resolve_prior(m, cfg, err))) goto fail;
        return CLVAE_OK;
    }
    if (m->ddpm) {
        if ((st = resolve_ddpm(m, cfg, err))) goto fail;
        return CLVAE_OK;
    }
    if ((st = resolve_autoencoder(m, cfg, err)) || (st = noise_shape(m, cfg, err))) goto fail;
    return CLVAE_OK;
fail:
    clvae_model_desc_free(m);
    return st;
}

void clvae_model_desc_free(clvae_model_desc_t *m)
{
    if (!m) return;
    if (m->disc) {
        clvae_model_desc_free(m->disc);
        free(m->disc);
        m->disc = NULL;
    }
    free(m->layers);
    m->layers = NULL;
    m->nlayers = 0;
}

const clvae_layer_t *clvae_model_output_act_layer(const clvae_model_desc_t *m)
{
    const clvae_layer_t *L = &m->layers[m->nlayers - 1];
    while ((L->kind == CLVAE_LAYER_FLATTEN || L->kind == CLVAE_LAYER_RESHAPE) && L->nfrom)
        L = &m->layers[L->from[0]];
    return L;
}

const char *clvae_model_kind(const clvae_model_desc_t *m)
{
    if (m->gan) return "gan";
    if (m->vqvae) return "vqvae";
    if (m->prior) return "prior";
    if (m->ddpm) return "ddpm";
    if (m->classes) return "classifier";
    return m->variational ? "vae" : "ae";
}

double clvae_model_flops(const clvae_model_desc_t *m)
{
    double f = 0;
    for (int i = 0; i < m->nlayers; i++) f += m->layers[i].flops;
    return f;
}

void clvae_layer_traffic(const clvae_model_desc_t *m, int i, size_t batch, double *fwd,
                         double *bwd)
{
    const clvae_layer_t *L = &m->layers[i];
    *fwd = *bwd = 0;
    if (L->kind == CLVAE_LAYER_INPUT || L->kind == CLVAE_LAYER_FLATTEN ||
        L->kind == CLVAE_LAYER_RESHAPE)
        return;
    double B = (double)batch, in = 0, din = 0;
    for (int k = 0; k < L->nfrom; k++) {
        const clvae_layer_t *F = &m->layers[L->from[k]];
        double n = (double)(F->out_c * F->out_h * F->out_w);
        in += n;
        while ((F->kind == CLVAE_LAYER_FLATTEN || F->kind == CLVAE_LAYER_RESHAPE) && F->nfrom)
            F = &m->layers[F->from[0]]; /* a view: the gradient goes where its source's goes */
        if (F->kind != CLVAE_LAYER_INPUT) din += n;
    }
    double out = (double)(L->out_c * L->out_h * L->out_w);
    double params = (double)(L->w_len + L->b_len);
    if (L->kind == CLVAE_LAYER_LATENT && m->variational) params *= 2; /* the z_log_var head */
    *fwd = 4.0 * (B * (in + out) + params);
    *bwd = 4.0 * (B * (out + in + din) + 2.0 * params);
}
