/* Plain-C references of the optimizer steps, in double, following PyTorch's formulas. */
#include "ref.h"

#include <math.h>

void clvae_adam_step_ref(double *p, const double *g, double *m, double *v,
                         const clvae_adam_params_t *hp, long step, size_t n)
{
    double b1 = hp->beta1, b2 = hp->beta2;
    double step_size = hp->lr / (1.0 - pow(b1, (double)step));
    double bc2_sqrt = sqrt(1.0 - pow(b2, (double)step));
    for (size_t i = 0; i < n; i++) {
        double gi = g[i] + (hp->weight_decay != 0.0f ? hp->weight_decay * p[i] : 0.0);
        m[i] = m[i] + (1.0 - b1) * (gi - m[i]);
        v[i] = v[i] * b2 + (1.0 - b2) * gi * gi;
        p[i] -= step_size * m[i] / (sqrt(v[i]) / bc2_sqrt + hp->eps);
    }
}

void clvae_sgd_step_ref(double *p, const double *g, double *buf, const clvae_sgd_params_t *hp,
                        long step, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        double d = g[i] + (hp->weight_decay != 0.0f ? hp->weight_decay * p[i] : 0.0);
        if (hp->momentum != 0.0f) {
            buf[i] = step == 1 ? d : hp->momentum * buf[i] + (1.0 - hp->dampening) * d;
            d = buf[i];
        }
        p[i] -= hp->lr * d;
    }
}
