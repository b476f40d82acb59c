/* Elementwise activations and their gradients; the activation is a uniform uint argument. */

#define ACT_IDENTITY 0
#define ACT_RELU 1
#define ACT_LEAKY_RELU 2
#define ACT_SIGMOID 3
#define ACT_TANH 4
#define ACT_SILU 5

/* sigmoid(x) into *s and 1 - sigmoid(x) into *sc, taking exp of -|x| only, so that no
 * intermediate overflows (sigmoid(+-inf) = 1 / 0, NaN stays NaN). */
void act_sigmoid_pair(float x, float *s, float *sc)
{
    float e = exp(-fabs(x));
    float r = 1.0f / (1.0f + e);
    *s = x >= 0.0f ? r : e * r;
    *sc = x >= 0.0f ? e * r : r;
    if (isnan(x)) *s = *sc = x;
}

float act_f(float x, uint act, float slope)
{
    float s, sc;
    switch (act) {
    case ACT_RELU: return x > 0.0f || isnan(x) ? x : 0.0f;
    case ACT_LEAKY_RELU: return x < 0.0f ? (slope > 0.0f ? slope * x : 0.0f) : x;
    case ACT_SIGMOID: act_sigmoid_pair(x, &s, &sc); return s;
    case ACT_TANH: /* tanh rounds to +-1 beyond |x| = 9.02; some libraries stop 1 ulp short */
        return fabs(x) > 9.1f ? copysign(1.0f, x) : tanh(x);
    case ACT_SILU:
        if (isinf(x)) return x > 0.0f ? x : 0.0f; /* not -inf * 0 */
        act_sigmoid_pair(x, &s, &sc);
        return x * s;
    default: return x;
    }
}

/* act'(x) from v = x (SILU) or v = y = act(x) (the others); NaN in, NaN out. */
float act_df(float v, uint act, float slope)
{
    float s, sc;
    if (isnan(v)) return v;
    switch (act) {
    case ACT_RELU: return v > 0.0f ? 1.0f : 0.0f;
    case ACT_LEAKY_RELU: return v > 0.0f ? 1.0f : slope;
    case ACT_SIGMOID: return v * (1.0f - v);
    case ACT_TANH: return (1.0f - v) * (1.0f + v);
    case ACT_SILU:
        if (isinf(v)) return v > 0.0f ? 1.0f : 0.0f;
        act_sigmoid_pair(v, &s, &sc);
        return s * (1.0f + v * sc);
    default: return 1.0f;
    }
}

/* The loop of a chunk [s0, s1) with the activation a compile-time constant in each case (the
 * switch once per chunk, not once per value: act_f and act_df inline to straight-line code). */
#define ACT_CASES(LOOP)                                  \
    switch (act) {                                       \
    case ACT_RELU: LOOP(ACT_RELU); break;                \
    case ACT_LEAKY_RELU: LOOP(ACT_LEAKY_RELU); break;    \
    case ACT_SIGMOID: LOOP(ACT_SIGMOID); break;          \
    case ACT_TANH: LOOP(ACT_TANH); break;                \
    case ACT_SILU: LOOP(ACT_SILU); break;                \
    default: LOOP(ACT_IDENTITY); break;                  \
    }

/* y[i] = act(x[i]) for i < n, CLVAE_ROW_CHUNK values per work item (clvae_launch_rows with one
 * row of n); y may be the same memory as x */
__kernel void act_forward(__global float *y, uint y_off, __global const float *x, uint x_off,
                          uint n, uint act, float slope)
{
    ROW_SPAN(n, 1u);
    __global float *yp = y + y_off;
    __global const float *xp = x + x_off;
#define ACT_FWD(A) for (uint i = s0; i < s1; i++) yp[i] = act_f(xp[i], (A), slope)
    ACT_CASES(ACT_FWD)
#undef ACT_FWD
}

/* dx[i] += dy[i] * act'(v[i]) for i < n (accumulate 0: dx[i] = ..., dx not read), where v is
 * x (SILU) or y (the others; IDENTITY does not read v); chunks as act_forward's */
__kernel void act_backward(__global float *dx, uint dx_off, __global const float *dy,
                           uint dy_off, __global const float *v, uint v_off, uint n, uint act,
                           float slope, uint accumulate)
{
    ROW_SPAN(n, 1u);
    __global float *dp = dx + dx_off;
    __global const float *gp = dy + dy_off;
    __global const float *vp = v + v_off;
    if (!accumulate) { /* dx = ...: dx is not read */
        if (act == ACT_IDENTITY) {
            for (uint i = s0; i < s1; i++) dp[i] = gp[i];
            return;
        }
#define ACT_BWD_SET(A) for (uint i = s0; i < s1; i++) dp[i] = gp[i] * act_df(vp[i], (A), slope)
        ACT_CASES(ACT_BWD_SET)
#undef ACT_BWD_SET
        return;
    }
    if (act == ACT_IDENTITY) {
        for (uint i = s0; i < s1; i++) dp[i] += gp[i];
        return;
    }
#define ACT_BWD(A) for (uint i = s0; i < s1; i++) dp[i] += gp[i] * act_df(vp[i], (A), slope)
    ACT_CASES(ACT_BWD)
#undef ACT_BWD
}
