/* Elementwise activations and their gradients; the activation is a uniform uint argument. */

/* ACT_*, act_f, act_df and ACT_CASES: cl/common.cl (the conv epilogues apply them too). */

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
