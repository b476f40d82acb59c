/* Sinusoidal embeddings: the features of a per-example scalar (a diffusion model's time step). */

/* y [N, R] from t [N], R = 2 H + K: y[n, h] = sin(t_n * f_h) and y[n, H + h] = cos(t_n * f_h)
 * for h < H, f_h = exp(h * c) with c = -ln(max_period) / H, then the K one-hot channels of
 * label lab[n] (none set for a label K or above: the null class), for each of the total = N*R
 * values (K = 0: no labels; lab is then not read). */
__kernel void time_embed(__global float *y, uint yo, __global const float *t, uint to,
                         __global const float *lab, uint lo, uint H, uint K, float c, uint total)
{
    uint i = CLVAE_GID0;
    if (i >= total) return;
    uint R = 2u * H + K;
    uint n = i / R;
    uint j = i - n * R;
    if (j >= 2u * H) {
        y[yo + i] = lab[lo + n] == (float)(j - 2u * H) ? 1.0f : 0.0f;
        return;
    }
    uint k = j < H ? j : j - H;
    float a = t[to + n] * exp((float)k * c);
    y[yo + i] = j < H ? sin(a) : cos(a);
}
