/* Plain-C reference of the activations and their gradients in double, for the tests. */
#include "ref.h"

#include <math.h>

/* sigmoid(x) and 1 - sigmoid(x) without overflow: exp of a non-positive number only. */
static void sigmoid_pair(double x, double *s, double *sc)
{
    double e = exp(-fabs(x)), r = 1.0 / (1.0 + e);
    *s = x >= 0 ? r : e * r;
    *sc = x >= 0 ? e * r : r;
    if (isnan(x)) *s = *sc = x;
}

static double act_f(double x, clvae_act_t act, double slope)
{
    double s, sc;
    switch (act) {
    case CLVAE_ACT_RELU: return x > 0 || isnan(x) ? x : 0.0;
    case CLVAE_ACT_LEAKY_RELU: return x < 0 ? (slope > 0 ? slope * x : 0.0) : x;
    case CLVAE_ACT_SIGMOID: sigmoid_pair(x, &s, &sc); return s;
    case CLVAE_ACT_TANH: return tanh(x);
    case CLVAE_ACT_SILU:
        if (isinf(x)) return x > 0 ? x : 0.0;
        sigmoid_pair(x, &s, &sc);
        return x * s;
    default: return x;
    }
}

/* act'(x) from v = x (SILU) or v = y (the others). */
static double act_df(double v, clvae_act_t act, double slope)
{
    double s, sc;
    if (isnan(v)) return v;
    switch (act) {
    case CLVAE_ACT_RELU: return v > 0 ? 1.0 : 0.0;
    case CLVAE_ACT_LEAKY_RELU: return v > 0 ? 1.0 : slope;
    case CLVAE_ACT_SIGMOID: return v * (1.0 - v);
    case CLVAE_ACT_TANH: return (1.0 - v) * (1.0 + v);
    case CLVAE_ACT_SILU:
        if (isinf(v)) return v > 0 ? 1.0 : 0.0;
        sigmoid_pair(v, &s, &sc);
        return s * (1.0 + v * sc);
    default: return 1.0;
    }
}

void clvae_act_forward_ref(double *y, const double *x, clvae_act_t act, double slope, size_t n)
{
    for (size_t i = 0; i < n; i++) y[i] = act_f(x[i], act, slope);
}

void clvae_act_backward_ref(double *dx, const double *dy, const double *x, const double *y,
                            clvae_act_t act, double slope, size_t n)
{
    const double *v = act == CLVAE_ACT_SILU ? x : y;
    for (size_t i = 0; i < n; i++)
        dx[i] += dy[i] * (act == CLVAE_ACT_IDENTITY ? 1.0 : act_df(v[i], act, slope));
}
