/* Plain-C reference of the dense layer in double, for the tests. */
#include "ref.h"

/* Key: N batch, I = in, O = out; x [N, I], y [N, O], w [O, I], b [O]. */

void clvae_dense_forward_ref(double *y, const double *x, const double *w, const double *b,
                             size_t N, size_t in, size_t out)
{
    for (size_t n = 0; n < N; n++) {
        for (size_t o = 0; o < out; o++) {
            double acc = b ? b[o] : 0.0;
            for (size_t i = 0; i < in; i++) acc += x[n * in + i] * w[o * in + i];
            y[n * out + o] = acc;
        }
    }
}

void clvae_dense_backward_ref(double *dx, double *dw, double *db, const double *dy,
                              const double *x, const double *w, size_t N, size_t in, size_t out)
{
    if (dx) { /* dx[n, i] += sum_o dy[n, o] w[o, i] */
        for (size_t n = 0; n < N; n++) {
            for (size_t i = 0; i < in; i++) {
                double acc = 0.0;
                for (size_t o = 0; o < out; o++) acc += dy[n * out + o] * w[o * in + i];
                dx[n * in + i] += acc;
            }
        }
    }
    if (dw) { /* dw[o, i] += sum_n dy[n, o] x[n, i] */
        for (size_t o = 0; o < out; o++) {
            for (size_t i = 0; i < in; i++) {
                double acc = 0.0;
                for (size_t n = 0; n < N; n++) acc += dy[n * out + o] * x[n * in + i];
                dw[o * in + i] += acc;
            }
        }
    }
    if (db) { /* db[o] += sum_n dy[n, o] */
        for (size_t o = 0; o < out; o++) {
            double acc = 0.0;
            for (size_t n = 0; n < N; n++) acc += dy[n * out + o];
            db[o] += acc;
        }
    }
}

void clvae_gemm_ref(double *c, const float *a, const float *b, const float *c0, int ta, int tb,
                    size_t m, size_t n, size_t k, size_t lda, size_t ldb, size_t ldc,
                    double alpha, double beta)
{
    for (size_t i = 0; i < m; i++)
        for (size_t j = 0; j < n; j++) {
            double acc = 0;
            for (size_t p = 0; p < k; p++)
                acc += (double)(ta ? a[p * lda + i] : a[i * lda + p]) *
                       (double)(tb ? b[j * ldb + p] : b[p * ldb + j]);
            c[i * ldc + j] = alpha * acc + (beta != 0 ? beta * c0[i * ldc + j] : 0);
        }
}
