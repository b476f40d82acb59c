/* Plain-C reference of the reductions, for the tests. */
#include <math.h>

#include "ref.h"

void clvae_reduce_forward_ref(double *out, const double *in, clvae_reduce_op_t op, double alpha,
                              double beta, clvae_reduce_shape_t sh)
{
    for (size_t r = 0; r < sh.R; r++) {
        double acc = 0.0;
        for (size_t a = 0; a < sh.A; a++) {
            for (size_t b = 0; b < sh.B; b++) {
                double x = in[a * sh.sa + r * sh.sr + b];
                acc += op == CLVAE_REDUCE_SUM     ? x
                       : op == CLVAE_REDUCE_SUMSQ ? x * x
                                                  : (isfinite(x) ? 0.0 : 1.0);
            }
        }
        out[r] = (beta != 0.0 ? beta * out[r] : 0.0) + alpha * acc;
    }
}
