/* Frechet distance of Gaussians and its Jacobi eigen solver: closed forms and invariances. */
#define TEST_FILE "test_frechet"
#include "test.h"
#include "testutil.h"

#include <math.h>

#include "clvae/eval/frechet.h"

/* A random symmetric positive definite d x d matrix: b b^T / d + eps I. */
static double *random_spd(size_t d, double eps, uint64_t *seed)
{
    float *b = malloc(d * d * sizeof *b);
    double *s = malloc(d * d * sizeof *s);
    tu_rand(b, d * d, -1.0f, 1.0f, seed);
    for (size_t i = 0; i < d; i++)
        for (size_t j = 0; j < d; j++) {
            double acc = 0;
            for (size_t k = 0; k < d; k++) acc += (double)b[i * d + k] * b[j * d + k];
            s[i * d + j] = acc / (double)d + (i == j ? eps : 0.0);
        }
    free(b);
    return s;
}

static double *random_vec(size_t d, double scale, uint64_t *seed)
{
    float *f = malloc(d * sizeof *f);
    double *v = malloc(d * sizeof *v);
    tu_rand(f, d, -1.0f, 1.0f, seed);
    for (size_t i = 0; i < d; i++) v[i] = scale * f[i];
    free(f);
    return v;
}

static double fd(const double *m1, const double *s1, const double *m2, const double *s2,
                 size_t d)
{
    clvae_error_t err = {0};
    double out = NAN;
    clvae_status_t s = clvae_frechet_distance(m1, s1, m2, s2, d, &out, &err);
    CHECK(s == CLVAE_OK, "frechet: %s", err.msg);
    clvae_error_clear(&err);
    return out;
}

/* A v = v diag(w), v^T v = I and w ascending, for random symmetric matrices of several sizes
 * (128: the classifier's feature size). */
static void t_eigen_decomposes(void)
{
    static const size_t sizes[] = {1, 2, 5, 31, 128};
    uint64_t seed = 7;
    for (size_t c = 0; c < sizeof sizes / sizeof sizes[0]; c++) {
        size_t d = sizes[c];
        float *f = malloc(d * d * sizeof *f);
        double *a = malloc(d * d * sizeof *a), *a0 = malloc(d * d * sizeof *a0);
        double *v = malloc(d * d * sizeof *v), *w = malloc(d * sizeof *w);
        tu_rand(f, d * d, -2.0f, 2.0f, &seed);
        for (size_t i = 0; i < d; i++)
            for (size_t j = 0; j <= i; j++) a0[i * d + j] = a0[j * d + i] = f[i * d + j];
        memcpy(a, a0, d * d * sizeof *a);
        clvae_error_t err = {0};
        CHECK(clvae_sym_eigen(a, d, w, v, &err) == CLVAE_OK, "d %zu: %s", d, err.msg);
        double worst = 0, orth = 0;
        for (size_t i = 0; i < d; i++)
            for (size_t k = 0; k < d; k++) {
                double av = 0, vv = 0;
                for (size_t j = 0; j < d; j++) {
                    av += a0[i * d + j] * v[j * d + k];
                    vv += v[j * d + i] * v[j * d + k];
                }
                worst = fmax(worst, fabs(av - v[i * d + k] * w[k]));
                orth = fmax(orth, fabs(vv - (i == k ? 1.0 : 0.0)));
            }
        CHECK(worst < 1e-10 * (double)d, "d %zu: |A v - v w| = %g", d, worst);
        CHECK(orth < 1e-12 * (double)d, "d %zu: |V^T V - I| = %g", d, orth);
        for (size_t i = 1; i < d; i++) CHECK(w[i - 1] <= w[i], "d %zu: w not ascending at %zu", d, i);
        clvae_error_clear(&err);
        free(f);
        free(a);
        free(a0);
        free(v);
        free(w);
    }
}

/* A diagonal matrix is its own decomposition; a known 2x2 has eigenvalues 1 and 3. */
static void t_eigen_known(void)
{
    double a[4] = {2, 1, 1, 2}, w[2], v[4];
    clvae_error_t err = {0};
    CHECK(clvae_sym_eigen(a, 2, w, v, &err) == CLVAE_OK, "%s", err.msg);
    CHECK(fabs(w[0] - 1) < 1e-14 && fabs(w[1] - 3) < 1e-14, "w = %g %g", w[0], w[1]);
    CHECK(fabs(fabs(v[0]) - sqrt(0.5)) < 1e-14, "v00 = %g", v[0]);
    double b[9] = {5, 0, 0, 0, -1, 0, 0, 0, 2}, w3[3], v3[9];
    CHECK(clvae_sym_eigen(b, 3, w3, v3, &err) == CLVAE_OK, "%s", err.msg);
    CHECK(w3[0] == -1 && w3[1] == 2 && w3[2] == 5, "w = %g %g %g", w3[0], w3[1], w3[2]);
    double bad[4] = {1, NAN, NAN, 1};
    CHECK(clvae_sym_eigen(bad, 2, w, v, &err) == CLVAE_ERR_INVALID, "NaN accepted");
    clvae_error_clear(&err);
}

/* The same Gaussian twice: 0 (up to round-off), also for a singular covariance. */
static void t_identical_is_zero(void)
{
    uint64_t seed = 11;
    size_t d = 40;
    double *mu = random_vec(d, 3.0, &seed), *s = random_spd(d, 0.01, &seed);
    double f = fd(mu, s, mu, s, d);
    CHECK(fabs(f) < 1e-8, "FD = %g", f);
    /* rank 1: s = u u^T */
    double *u = random_vec(d, 1.0, &seed), *r1 = malloc(d * d * sizeof *r1);
    for (size_t i = 0; i < d; i++)
        for (size_t j = 0; j < d; j++) r1[i * d + j] = u[i] * u[j];
    /* the square roots of the ~1e-16 eigenvalues cost about sqrt(eps) relative to the trace */
    double tr = 0;
    for (size_t i = 0; i < d; i++) tr += r1[i * d + i];
    f = fd(mu, r1, mu, r1, d);
    CHECK(fabs(f) < 1e-5 * tr, "rank-1 FD = %g (trace %g)", f, tr);
    free(mu);
    free(s);
    free(u);
    free(r1);
}

/* Diagonal covariances: ||mu1 - mu2||^2 + sum_i (sqrt(a_i) - sqrt(b_i))^2. */
static void t_diagonal_closed_form(void)
{
    uint64_t seed = 13;
    size_t d = 17;
    double *m1 = random_vec(d, 2.0, &seed), *m2 = random_vec(d, 2.0, &seed);
    double *s1 = calloc(d * d, sizeof *s1), *s2 = calloc(d * d, sizeof *s2);
    float a[17], b[17];
    tu_rand(a, d, 0.01f, 4.0f, &seed);
    tu_rand(b, d, 0.01f, 4.0f, &seed);
    double want = 0;
    for (size_t i = 0; i < d; i++) {
        s1[i * d + i] = a[i];
        s2[i * d + i] = b[i];
        double dm = m1[i] - m2[i], ds = sqrt((double)a[i]) - sqrt((double)b[i]);
        want += dm * dm + ds * ds;
    }
    double got = fd(m1, s1, m2, s2, d);
    CHECK(fabs(got - want) < 1e-10 * fmax(1.0, want), "FD %.15g, closed form %.15g", got, want);
    free(m1);
    free(m2);
    free(s1);
    free(s2);
}

/* One dimension: (m1 - m2)^2 + (sigma1 - sigma2)^2. */
static void t_one_dimension(void)
{
    double m1 = 1.5, m2 = -0.25, v1 = 4.0, v2 = 0.81;
    double got = fd(&m1, &v1, &m2, &v2, 1);
    double want = 1.75 * 1.75 + (2.0 - 0.9) * (2.0 - 0.9);
    CHECK(fabs(got - want) < 1e-12, "FD %.15g, want %.15g", got, want);
}

/* A translation alone: ||mu1 - mu2||^2, whatever the (shared, full) covariance. */
static void t_translation_only(void)
{
    uint64_t seed = 17;
    size_t d = 128;
    double *m1 = random_vec(d, 1.0, &seed), *m2 = random_vec(d, 1.0, &seed);
    double *s = random_spd(d, 0.001, &seed), want = 0;
    for (size_t i = 0; i < d; i++) want += (m1[i] - m2[i]) * (m1[i] - m2[i]);
    double got = fd(m1, s, m2, s, d);
    CHECK(fabs(got - want) < 1e-7 * want, "FD %.15g, want %.15g", got, want);
    free(m1);
    free(m2);
    free(s);
}

/* Two full 2x2 covariances that do not commute: Tr (s1^1/2 s2 s1^1/2)^1/2 = Tr (s1 s2)^1/2 =
 * sqrt(tr(s1 s2) + 2 sqrt(det(s1 s2))) in two dimensions. Also symmetric in its arguments. */
static void t_general_2d_closed_form(void)
{
    double s1[4] = {2.0, 0.7, 0.7, 1.0}, s2[4] = {0.5, -0.3, -0.3, 3.0};
    double m1[2] = {0.1, 0.2}, m2[2] = {-1.0, 0.5};
    double p[4] = {s1[0] * s2[0] + s1[1] * s2[2], s1[0] * s2[1] + s1[1] * s2[3],
                   s1[2] * s2[0] + s1[3] * s2[2], s1[2] * s2[1] + s1[3] * s2[3]};
    double det = p[0] * p[3] - p[1] * p[2], trp = p[0] + p[3];
    double want = 1.1 * 1.1 + 0.3 * 0.3 + (s1[0] + s1[3] + s2[0] + s2[3]) -
                  2.0 * sqrt(trp + 2.0 * sqrt(det));
    double got = fd(m1, s1, m2, s2, 2), back = fd(m2, s2, m1, s1, 2);
    CHECK(fabs(got - want) < 1e-12, "FD %.15g, want %.15g", got, want);
    CHECK(fabs(back - got) < 1e-12, "not symmetric: %.15g vs %.15g", back, got);
}

/* A Gaussian fit of known rows: mean and unbiased covariance; a NaN row is refused. */
static void t_gauss_fit(void)
{
    const float x[] = {1, 2, 3, 6, 5, 10}; /* 3 rows of 2 */
    double mu[2], cov[4];
    clvae_error_t err = {0};
    CHECK(clvae_gauss_fit(x, 3, 2, mu, cov, &err) == CLVAE_OK, "%s", err.msg);
    CHECK(mu[0] == 3 && mu[1] == 6, "mu %g %g", mu[0], mu[1]);
    /* deviations (-2,-4), (0,0), (2,4): cov = [[8, 16], [16, 32]] / 2 */
    CHECK(cov[0] == 4 && cov[1] == 8 && cov[2] == 8 && cov[3] == 16, "cov %g %g %g %g", cov[0],
          cov[1], cov[2], cov[3]);
    const float bad[] = {1, 2, NAN, 4};
    CHECK(clvae_gauss_fit(bad, 2, 2, mu, cov, &err) == CLVAE_ERR_INVALID, "NaN accepted");
    CHECK(clvae_gauss_fit(x, 1, 2, mu, cov, &err) == CLVAE_ERR_INVALID, "1 row accepted");
    clvae_error_clear(&err);
}

/* Samples of two Gaussians: the FD of their fits comes near the FD of the true ones, and a
 * larger shift gives a larger distance. */
static void t_fit_then_distance(void)
{
    size_t n = 4000, d = 3;
    float *x = malloc(n * d * sizeof *x), *y = malloc(n * d * sizeof *y);
    uint64_t seed = 23;
    /* uniform on [-1, 1]: variance 1/3 */
    tu_rand(x, n * d, -1.0f, 1.0f, &seed);
    tu_rand(y, n * d, -1.0f, 1.0f, &seed);
    for (size_t i = 0; i < n * d; i++) y[i] = 2.0f * y[i] + 1.0f; /* var 4/3, mean 1 */
    double m1[3], m2[3], c1[9], c2[9];
    clvae_error_t err = {0};
    CHECK(clvae_gauss_fit(x, n, d, m1, c1, &err) == CLVAE_OK, "%s", err.msg);
    CHECK(clvae_gauss_fit(y, n, d, m2, c2, &err) == CLVAE_OK, "%s", err.msg);
    double want = 3 * (1.0 + (sqrt(4.0 / 3.0) - sqrt(1.0 / 3.0)) * (sqrt(4.0 / 3.0) - sqrt(1.0 / 3.0)));
    double got = fd(m1, c1, m2, c2, d);
    CHECK(fabs(got - want) < 0.15, "FD of fits %g, of the true Gaussians %g", got, want);
    clvae_error_clear(&err);
    free(x);
    free(y);
}

int main(void)
{
    RUN(t_eigen_decomposes);
    RUN(t_eigen_known);
    RUN(t_identical_is_zero);
    RUN(t_diagonal_closed_form);
    RUN(t_one_dimension);
    RUN(t_translation_only);
    RUN(t_general_2d_closed_form);
    RUN(t_gauss_fit);
    RUN(t_fit_then_distance);
    return TEST_EXIT();
}
