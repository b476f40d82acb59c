/* Helpers for op tests: random data, device views with guard bands, tolerant comparison. */
#include "testutil.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define GUARD_VALUE 1234.5f

clvae_ctx_t *tu_ctx(void)
{
    clvae_error_t err = {0};
    clvae_ctx_t *ctx = NULL;
    if (clvae_ctx_init(&ctx, NULL, &err) != CLVAE_OK) {
        fprintf(stderr, "cannot open a context: %s\n%s", err.msg, err.detail ? err.detail : "");
        clvae_error_clear(&err);
        return NULL;
    }
    return ctx;
}

void tu_rand(float *x, size_t n, float lo, float hi, uint64_t *state)
{
    for (size_t i = 0; i < n; i++) {
        /* xorshift64* */
        uint64_t s = *state;
        s ^= s >> 12;
        s ^= s << 25;
        s ^= s >> 27;
        *state = s;
        uint32_t r = (uint32_t)((s * 2685821657736338717ULL) >> 40); /* 24 bits */
        x[i] = lo + (hi - lo) * ((float)r / 16777216.0f);
    }
}

int tu_small(void)
{
    const char *v = getenv("CLVAE_TEST_SMALL");
    return v && *v && strcmp(v, "0") != 0;
}

size_t tu_size(size_t n, size_t small_n) { return tu_small() ? small_n : n; }

double *tu_double(const float *x, size_t n)
{
    double *d = malloc((n ? n : 1) * sizeof *d);
    if (d)
        for (size_t i = 0; i < n; i++) d[i] = x[i];
    return d;
}

static clvae_buf_t upload_guarded(clvae_ctx_t *ctx, const float *x, size_t n)
{
    clvae_buf_t b = {0};
    clvae_error_t err = {0};
    size_t total = n + 2 * TU_GUARD;
    float *h = malloc(total * sizeof *h);
    if (!h) return b;
    for (size_t i = 0; i < total; i++) h[i] = GUARD_VALUE;
    if (x) memcpy(h + TU_GUARD, x, n * sizeof *h);
    else memset(h + TU_GUARD, 0, n * sizeof *h);
    if (clvae_buf_alloc(ctx, total, &b, &err) == CLVAE_OK &&
        clvae_buf_upload(ctx, b, h, total, &err) == CLVAE_OK) {
        b.off = TU_GUARD;
    } else {
        fprintf(stderr, "upload failed: %s\n", err.msg);
        clvae_buf_free(&b);
    }
    clvae_error_clear(&err);
    free(h);
    return b;
}

clvae_buf_t tu_upload(clvae_ctx_t *ctx, const float *x, size_t n) { return upload_guarded(ctx, x, n); }

clvae_buf_t tu_zeros(clvae_ctx_t *ctx, size_t n) { return upload_guarded(ctx, NULL, n); }

float *tu_download(clvae_ctx_t *ctx, clvae_buf_t b, size_t n)
{
    clvae_error_t err = {0};
    size_t total = n + 2 * TU_GUARD;
    float *h = malloc(total * sizeof *h);
    clvae_buf_t whole = {b.mem, b.off - TU_GUARD};
    if (!h || clvae_buf_download(ctx, h, whole, total, &err) != CLVAE_OK) {
        fprintf(stderr, "download failed: %s\n", err.msg);
        clvae_error_clear(&err);
        free(h);
        return NULL;
    }
    for (size_t i = 0; i < TU_GUARD; i++) {
        if (h[i] != GUARD_VALUE || h[TU_GUARD + n + i] != GUARD_VALUE) {
            fprintf(stderr, "a write went outside its view (guard %zu: %g / %g)\n", i,
                    (double)h[i], (double)h[TU_GUARD + n + i]);
            free(h);
            return NULL;
        }
    }
    memmove(h, h + TU_GUARD, n * sizeof *h);
    return h;
}

int tu_close(const char *what, const float *got, const double *want, size_t n, double atol,
             double rtol, double *worst_rel)
{
    size_t bad = 0, worst_i = 0;
    double worst_excess = -1.0, wrel = 0.0;
    if (!got) {
        fprintf(stderr, "  %s: no result\n", what);
        return 0;
    }
    for (size_t i = 0; i < n; i++) {
        double g = got[i], w = want[i];
        int ok;
        if (isnan(w)) {
            ok = isnan(g);
        } else if (isinf(w)) {
            ok = g == w;
        } else {
            ok = isfinite(g) && fabs(g - w) <= atol + rtol * fabs(w);
            if (isfinite(g)) {
                double rel = fabs(g - w) / fmax(fabs(w), 1e-3);
                if (rel > wrel) wrel = rel;
            }
        }
        if (!ok) {
            double excess = isfinite(g) && isfinite(w) ? fabs(g - w) - (atol + rtol * fabs(w))
                                                       : INFINITY;
            if (excess > worst_excess) {
                worst_excess = excess;
                worst_i = i;
            }
            bad++;
        }
    }
    if (worst_rel) *worst_rel = wrel;
    if (bad) {
        fprintf(stderr, "  %s: %zu of %zu elements differ; worst at %zu: got %.9g, want %.9g "
                        "(atol %g, rtol %g)\n",
                what, bad, n, worst_i, (double)got[worst_i], want[worst_i], atol, rtol);
        return 0;
    }
    return 1;
}

double tu_dot(const float *a, const float *b, size_t n)
{
    double s = 0.0;
    for (size_t i = 0; i < n; i++) s += (double)a[i] * (double)b[i];
    return s;
}

#define MAX_NOTES 64
static struct { char op[48]; double rel; } notes[MAX_NOTES];
static int nnotes;

void tu_note_error(const char *op, double rel)
{
    for (int i = 0; i < nnotes; i++) {
        if (strcmp(notes[i].op, op) == 0) {
            if (rel > notes[i].rel) notes[i].rel = rel;
            return;
        }
    }
    if (nnotes < MAX_NOTES) {
        snprintf(notes[nnotes].op, sizeof notes[nnotes].op, "%s", op);
        notes[nnotes++].rel = rel;
    }
}

void tu_print_errors(void)
{
    for (int i = 0; i < nnotes; i++)
        fprintf(stderr, "worst relative error %-28s %.3g\n", notes[i].op, notes[i].rel);
}
