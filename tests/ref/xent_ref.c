/* Plain-C references in double of cl/xent.cl: cross-entropy, its gradient, argmax hits, softmax. */
#include "ref.h"

#include <math.h>
#include <stdlib.h>

#include "clvae/ops/rng.h"

/* The class of label y, or K when y is not an integer in 0..K-1 (the kernels' rule). */
static size_t ref_class(double y, size_t K)
{
    return (y >= 0.0 && y < (double)K && y == floor(y)) ? (size_t)y : K;
}

/* Row maximum (NaN ignored, as fmax does) and sum of exp(z - max) of one row. */
static void row_stats(const double *z, size_t K, double *max, double *sum)
{
    double m = -INFINITY, s = 0.0;
    for (size_t k = 0; k < K; k++) m = fmax(m, z[k]);
    for (size_t k = 0; k < K; k++) s += exp(z[k] - m);
    *max = m;
    *sum = s;
}

void clvae_xent_forward_ref(double *per_example, double *mean, const double *logits,
                            const double *labels, size_t N, size_t K)
{
    double total = 0.0;
    for (size_t n = 0; n < N; n++) {
        const double *z = logits + n * K;
        double m, s;
        row_stats(z, K, &m, &s);
        size_t c = ref_class(labels[n], K);
        per_example[n] = c < K ? (m - z[c]) + log(s) : NAN;
        total += per_example[n];
    }
    if (mean) *mean = total / (double)N;
}

void clvae_xent_backward_ref(double *dlogits, const double *logits, const double *labels,
                             double scale, size_t N, size_t K)
{
    for (size_t n = 0; n < N; n++) {
        const double *z = logits + n * K;
        size_t c = ref_class(labels[n], K);
        if (c >= K) continue;
        double m, s;
        row_stats(z, K, &m, &s);
        for (size_t k = 0; k < K; k++)
            dlogits[n * K + k] += scale * (exp(z[k] - m) / s - (k == c ? 1.0 : 0.0));
    }
}

/* a beats b in the argmax: larger, NaN above any number (ties are left to the scan order). */
static int ref_greater(double a, double b)
{
    if (isnan(a) || isnan(b)) return isnan(a) && !isnan(b);
    return a > b;
}

void clvae_xent_correct_ref(double *correct, const double *logits, const double *labels,
                            size_t N, size_t K)
{
    for (size_t n = 0; n < N; n++) {
        const double *z = logits + n * K;
        size_t best = 0;
        for (size_t k = 1; k < K; k++)
            if (ref_greater(z[k], z[best])) best = k;
        correct[n] = ref_class(labels[n], K) == best ? 1.0 : 0.0;
    }
}

void clvae_softmax_forward_ref(double *probs, const double *logits, size_t N, size_t K)
{
    for (size_t n = 0; n < N; n++) {
        double m, s;
        row_stats(logits + n * K, K, &m, &s);
        for (size_t k = 0; k < K; k++) probs[n * K + k] = exp(logits[n * K + k] - m) / s;
    }
}

/* Column p of example n of logits [N, K, P] as a row of K (the classes of one position). */
static void column(double *row, const double *logits, size_t n, size_t p, size_t K, size_t P)
{
    for (size_t k = 0; k < K; k++) row[k] = logits[(n * K + k) * P + p];
}

void clvae_xent_spatial_forward_ref(double *per_example, double *mean, const double *logits,
                                    const double *labels, size_t N, size_t K, size_t P)
{
    double *row = malloc(K * sizeof *row), total = 0.0, loss;
    for (size_t n = 0; n < N; n++) {
        per_example[n] = 0.0;
        for (size_t p = 0; p < P; p++) {
            column(row, logits, n, p, K, P);
            clvae_xent_forward_ref(&loss, NULL, row, &labels[n * P + p], 1, K);
            per_example[n] += loss;
        }
        total += per_example[n];
    }
    if (mean) *mean = total / (double)N;
    free(row);
}

void clvae_xent_spatial_backward_ref(double *dlogits, const double *logits, const double *labels,
                                     double scale, size_t N, size_t K, size_t P)
{
    double *row = malloc(K * sizeof *row), *g = malloc(K * sizeof *g);
    for (size_t n = 0; n < N; n++)
        for (size_t p = 0; p < P; p++) {
            column(row, logits, n, p, K, P);
            column(g, dlogits, n, p, K, P);
            clvae_xent_backward_ref(g, row, &labels[n * P + p], scale, 1, K);
            for (size_t k = 0; k < K; k++) dlogits[(n * K + k) * P + p] = g[k];
        }
    free(row);
    free(g);
}

void clvae_xent_spatial_correct_ref(double *correct, const double *logits, const double *labels,
                                    size_t N, size_t K, size_t P)
{
    double *row = malloc(K * sizeof *row), hit;
    for (size_t n = 0; n < N; n++) {
        correct[n] = 0.0;
        for (size_t p = 0; p < P; p++) {
            column(row, logits, n, p, K, P);
            clvae_xent_correct_ref(&hit, row, &labels[n * P + p], 1, K);
            correct[n] += hit;
        }
    }
    free(row);
}

/* One draw by the inverse CDF from weights w[0..K-1] with sum s at u: the first k with
 * u < cdf_k, else the last k of non-zero weight; the distance from u to the nearest cdf_k. */
static double draw(const double *w, size_t K, double s, double u, double *margin)
{
    double cum = 0.0, code = NAN, near = INFINITY;
    for (size_t k = 0; k < K; k++) {
        cum += w[k];
        near = fmin(near, fabs(cum / s - u));
        if (isnan(code) && u < cum / s) code = (double)k;
    }
    if (isnan(code))
        for (size_t k = 0; k < K; k++)
            if (w[k] > 0.0) code = (double)k;
    if (margin) *margin = near;
    return code;
}

void clvae_xent_sample_position_ref(double *codes, double *margin, const double *logits,
                                    size_t p, double temperature, uint64_t seed,
                                    uint64_t offset, size_t N, size_t K, size_t P)
{
    float *u = malloc(N * sizeof *u);
    double *row = malloc(K * sizeof *row);
    clvae_rng_uniform_host(u, N, seed, offset);
    for (size_t n = 0; n < N; n++) {
        column(row, logits, n, p, K, P);
        double m = -INFINITY, s = 0.0, near = 0.0;
        for (size_t k = 0; k < K; k++) m = fmax(m, row[k]);
        for (size_t k = 0; k < K; k++) {
            row[k] = exp((row[k] - m) / temperature);
            s += row[k];
        }
        codes[n * P + p] = isnan(s) ? NAN : draw(row, K, s, (double)u[n], &near);
        if (margin) margin[n] = near;
    }
    free(u);
    free(row);
}
