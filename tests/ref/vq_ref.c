/* Plain-C references of the vector quantization ops (include/clvae/ops/vq.h), in double. */
#include <math.h>

#include "ref.h"

/* z's value at channel d of row r (= n*P + p). */
static double zval(const double *z, size_t r, size_t d, clvae_vq_shape_t sh)
{
    return z[(r / sh.P * sh.D + d) * sh.P + r % sh.P];
}

void clvae_vq_assign_ref(double *codes, double *margin, const double *z, const double *E,
                         clvae_vq_shape_t sh)
{
    for (size_t r = 0; r < sh.N * sh.P; r++) {
        double best = INFINITY, second = INFINITY;
        size_t bk = 0;
        for (size_t k = 0; k < sh.K; k++) {
            double s = 0;
            for (size_t d = 0; d < sh.D; d++) {
                double e = zval(z, r, d, sh) - E[k * sh.D + d];
                s += e * e;
            }
            if (s < best) {
                second = best;
                best = s;
                bk = k;
            } else if (s < second) {
                second = s;
            }
        }
        codes[r] = (double)bk;
        if (margin) margin[r] = second - best;
    }
}

void clvae_vq_embed_ref(double *q, double *term, const double *z, const double *codes,
                        const double *E, clvae_vq_shape_t sh)
{
    for (size_t n = 0; n < sh.N; n++) {
        double t = 0;
        for (size_t d = 0; d < sh.D; d++)
            for (size_t p = 0; p < sh.P; p++) {
                double c = codes[n * sh.P + p];
                size_t i = (n * sh.D + d) * sh.P + p;
                int ok = c >= 0 && c < (double)sh.K && c == floor(c);
                q[i] = ok ? E[(size_t)c * sh.D + d] : 0.0;
                if (z) t += (z[i] - q[i]) * (z[i] - q[i]);
            }
        if (term) term[n] = t;
    }
}

void clvae_vq_counts_ref(double *counts, double *sums, const double *z, const double *codes,
                         clvae_vq_shape_t sh)
{
    for (size_t i = 0; i < sh.K * sh.D; i++) sums[i] = 0;
    for (size_t k = 0; k < sh.K; k++) counts[k] = 0;
    for (size_t r = 0; r < sh.N * sh.P; r++) {
        size_t k = (size_t)codes[r];
        counts[k] += 1;
        for (size_t d = 0; d < sh.D; d++) sums[k * sh.D + d] += zval(z, r, d, sh);
    }
}

void clvae_vq_ema_ref(double *E, double *cluster, double *avg, const double *counts,
                      const double *sums, double decay, double eps, clvae_vq_shape_t sh)
{
    double n = 0;
    for (size_t k = 0; k < sh.K; k++) {
        cluster[k] = decay * cluster[k] + (1 - decay) * counts[k];
        for (size_t d = 0; d < sh.D; d++)
            avg[k * sh.D + d] = decay * avg[k * sh.D + d] + (1 - decay) * sums[k * sh.D + d];
        n += cluster[k];
    }
    for (size_t k = 0; k < sh.K; k++) {
        double size = (cluster[k] + eps) / (n + (double)sh.K * eps) * n;
        for (size_t d = 0; d < sh.D; d++) E[k * sh.D + d] = avg[k * sh.D + d] / size;
    }
}

void clvae_vq_restart_ref(double *E, double *cluster, double *avg, double *unused, double *flags,
                          const double *counts, const double *z, long after, const float *u,
                          clvae_vq_shape_t sh)
{
    size_t R = sh.N * sh.P;
    for (size_t k = 0; k < sh.K; k++) {
        double n = counts[k] > 0 ? 0 : unused[k] + 1;
        int restart = n >= (double)after;
        flags[k] = restart;
        unused[k] = restart ? 0 : n;
        if (!restart) continue;
        size_t r = (size_t)((double)u[k] * (double)R);
        if (r >= R) r = R - 1;
        for (size_t d = 0; d < sh.D; d++) {
            E[k * sh.D + d] = zval(z, r, d, sh);
            if (avg) avg[k * sh.D + d] = E[k * sh.D + d];
        }
        if (cluster) cluster[k] = 1;
    }
}

void clvae_vq_stats_ref(double out[3], const double *counts, const double *flags,
                        clvae_vq_shape_t sh)
{
    double h = 0, used = 0, restarts = 0, R = (double)(sh.N * sh.P);
    for (size_t k = 0; k < sh.K; k++) {
        if (counts[k] > 0) {
            h -= counts[k] / R * log(counts[k] / R);
            used++;
        }
        if (flags) restarts += flags[k];
    }
    out[0] = exp(h);
    out[1] = used;
    out[2] = restarts;
}
