/* PCA beside the autoencoder (src/eval/pca.c) against what is known in closed form: data in a
 * plane of 6-d space is rebuilt exactly by 2 components and to the smaller direction's variance
 * by 1; k = 0 is the distance to the training mean; the error falls with k; bad input. */
#define TEST_FILE "test_pca"
#include "test.h"

#include <math.h>
#include <stdint.h>

#include "clvae/eval/pca.h"
#include "testutil.h"

enum { D = 6, NTR = 3000, NTE = 500 };

/* x = m + a u + b w with orthonormal u, w (a in [-3, 3], b in [-1, 1]): into x, and b^2 summed
 * and |x - m|^2 summed into *b2 and *all. */
static void plane(float *x, size_t n, uint64_t *st, double *b2, double *all)
{
    static const double m[D] = {0.5, -1, 2, 0, 0.25, 1};
    double u[D] = {1, 1, 1, 1, 1, 1}, w[D] = {1, -1, 1, -1, 1, -1};
    for (int i = 0; i < D; i++) {
        u[i] /= sqrt(6.0);
        w[i] /= sqrt(6.0);
    }
    *b2 = *all = 0.0;
    for (size_t k = 0; k < n; k++) {
        float ab[2];
        tu_rand(ab, 2, -1.0f, 1.0f, st);
        double a = 3.0 * ab[0], b = ab[1];
        for (int i = 0; i < D; i++) x[k * D + i] = (float)(m[i] + a * u[i] + b * w[i]);
        *b2 += b * b;
        *all += a * a + b * b;
    }
}

static void t_plane(void)
{
    static float tr[NTR * D], te[NTE * D];
    uint64_t st = 7;
    double b2, all, unused;
    plane(tr, NTR, &st, &unused, &unused);
    plane(te, NTE, &st, &b2, &all);
    size_t ks[4] = {0, 1, 2, D};
    double e[4];
    clvae_error_t err = {0};
    REQUIRE(clvae_pca_errors(tr, NTR, te, NTE, D, ks, 4, e, &err) == CLVAE_OK, "%s", err.msg);
    /* k = 2 and k = D: the plane holds every point (float inputs: ~1e-12) */
    CHECK(e[2] < 1e-9 && e[3] < 1e-9, "k = 2: %g, k = D: %g", e[2], e[3]);
    /* k = 1: what is left is the smaller direction, b^2 (the fitted first component is u up to
     * the sampling noise of 3,000 points) */
    CHECK(fabs(e[1] - b2 / NTE) < 0.02 * (b2 / NTE), "k = 1: %g, want %g", e[1], b2 / NTE);
    /* k = 0: the squared distance to the training mean, about that to m */
    CHECK(fabs(e[0] - all / NTE) < 0.05 * (all / NTE), "k = 0: %g, want about %g", e[0], all / NTE);
}

/* On random data the error falls (not rising) with k and reaches 0 at k = D. */
static void t_falls_with_k(void)
{
    static float tr[400 * D], te[100 * D];
    uint64_t st = 3;
    tu_rand(tr, 400 * D, 0.0f, 1.0f, &st);
    tu_rand(te, 100 * D, 0.0f, 1.0f, &st);
    size_t ks[D + 1];
    double e[D + 1];
    for (int k = 0; k <= D; k++) ks[k] = (size_t)k;
    clvae_error_t err = {0};
    REQUIRE(clvae_pca_errors(tr, 400, te, 100, D, ks, D + 1, e, &err) == CLVAE_OK, "%s", err.msg);
    int falls = 1;
    for (int k = 1; k <= D; k++) falls &= e[k] <= e[k - 1] + 1e-12;
    CHECK(falls && e[D] < 1e-9 && e[0] > 0.1, "errors %g .. %g not falling to 0", e[0], e[D]);
}

static void t_bad_input(void)
{
    float x[2 * D] = {0};
    size_t k = D + 1, k0 = 0;
    double e;
    clvae_error_t err = {0};
    CHECK(clvae_pca_errors(x, 2, x, 1, D, &k, 1, &e, &err) == CLVAE_ERR_INVALID, "k > D accepted");
    clvae_error_clear(&err);
    CHECK(clvae_pca_errors(x, 1, x, 1, D, &k0, 1, &e, &err) == CLVAE_ERR_INVALID,
          "one training example accepted");
    clvae_error_clear(&err);
}

int main(void)
{
    RUN(t_plane);
    RUN(t_falls_with_k);
    RUN(t_bad_input);
    return TEST_EXIT();
}
