/* Values moved across pixels: nearest upsampling of a map and its gradient, and a per-example
 * vector added to every pixel of its channel and its gradient (sums in pixel order). */

/* Layout: x [N, C, H, W]; y [N, C, F*H, F*W]; v [N, C]. */

/* y[n, c, oy, ox] = x[n, c, oy / F, ox / F] for each of the total = N*C*F*H*F*W outputs. */
__kernel void upsample_nearest(__global float *y, uint yo, __global const float *x, uint xo,
                               uint H, uint W, uint F, uint total)
{
    uint i = CLVAE_GID0;
    if (i >= total) return;
    uint OW = F * W, OH = F * H;
    uint r = i / OW;
    uint ox = i - r * OW;
    uint nc = r / OH;
    uint oy = r - nc * OH;
    y[yo + i] = x[xo + (nc * H + oy / F) * W + ox / F];
}

/* dx[n, c, h, w] += the sum of dy over its F x F block (row by row, each left to right) for each
 * of the total = N*C*H*W inputs. */
__kernel void upsample_nearest_grad(__global float *dx, uint dxo, __global const float *dy,
                                    uint dyo, uint H, uint W, uint F, uint total)
{
    uint i = CLVAE_GID0;
    if (i >= total) return;
    uint OW = F * W, OH = F * H;
    uint r = i / W;
    uint w = i - r * W;
    uint nc = r / H;
    uint h = r - nc * H;
    uint base = dyo + (nc * OH + h * F) * OW + w * F;
    float acc = 0.0f;
    for (uint a = 0; a < F; a++)
        for (uint b = 0; b < F; b++) acc += dy[base + a * OW + b];
    dx[dxo + i] += acc;
}

/* y[n, c, p] = x[n, c, p] + v[n, c] for each of the total = N*C*HW values (y may be x). */
__kernel void channel_add(__global float *y, uint yo, __global const float *x, uint xo,
                          __global const float *v, uint vo, uint HW, uint total)
{
    uint i = CLVAE_GID0;
    if (i >= total) return;
    y[yo + i] = x[xo + i] + v[vo + i / HW];
}

/* dv[j] += the sum of dy[j, p] over the HW pixels, in pixel order, for each j < NC = N*C. */
__kernel void channel_add_grad(__global float *dv, uint dvo, __global const float *dy, uint dyo,
                               uint HW, uint NC)
{
    uint j = CLVAE_GID0;
    if (j >= NC) return;
    uint base = dyo + j * HW;
    float acc = 0.0f;
    for (uint p = 0; p < HW; p++) acc += dy[base + p];
    dv[dvo + j] += acc;
}
