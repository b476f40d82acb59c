/* Plain-C reference in double of cl/embed.cl: the sinusoidal time embedding. */
#include <math.h>

#include "ref.h"

void clvae_time_embed_forward_ref(double *y, const double *t, size_t N, size_t D,
                                  double max_period)
{
    size_t half = D / 2;
    for (size_t n = 0; n < N; n++)
        for (size_t k = 0; k < half; k++) {
            double f = exp(-log(max_period) * (double)k / (double)half);
            y[n * D + k] = sin(t[n] * f);
            y[n * D + half + k] = cos(t[n] * f);
        }
}
