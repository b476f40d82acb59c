/* Values moved across pixels: nearest upsampling of a map and its gradient, and a per-example
 * vector added to every pixel of its channel and its gradient (sums in pixel order). */

/* Layout: x [N, C, H, W]; y [N, C, F*H, F*W]; v [N, C]. */

/* y[n, c, oy, ox] = x[n, c, oy / F, ox / F]: a row kernel over the rows = N*C*F*H output rows
 * of OW = F*W values; output row r = (n*C + c)*F*H + oy reads input row r / F. */
__kernel void upsample_nearest(__global float *y, uint yo, __global const float *x, uint xo,
                               uint H, uint W, uint F, uint rows)
{
    uint OW = F * W;
    ROW_SPAN(OW, rows);
    __global float *yr = y + yo + r * OW;
    __global const float *xr = x + xo + (r / F) * W;
    uint ix = s0 / F, k = s0 - ix * F; /* ox = ix * F + k */
    for (uint ox = s0; ox < s1; ox++) {
        yr[ox] = xr[ix];
        if (++k == F) {
            k = 0;
            ix++;
        }
    }
    (void)H;
}

/* dx[n, c, h, w] += the sum of dy over its F x F block (row by row, each left to right): a row
 * kernel over the rows = N*C*H input rows of W values; input row r's block starts at output
 * row r * F. */
__kernel void upsample_nearest_grad(__global float *dx, uint dxo, __global const float *dy,
                                    uint dyo, uint H, uint W, uint F, uint rows)
{
    ROW_SPAN(W, rows);
    uint OW = F * W;
    __global const float *dr = dy + dyo + r * F * OW;
    for (uint w = s0; w < s1; w++) {
        float acc = 0.0f;
        for (uint a = 0; a < F; a++)
            for (uint b = 0; b < F; b++) acc += dr[a * OW + w * F + b];
        dx[dxo + r * W + w] += acc;
    }
    (void)H;
}

/* y[n, c, p] = x[n, c, p] + v[n, c]: a row kernel over the NC = N*C rows (y may be x). */
__kernel void channel_add(__global float *y, uint yo, __global const float *x, uint xo,
                          __global const float *v, uint vo, uint HW, uint NC)
{
    ROW_SPAN(HW, NC);
    float b = v[vo + r];
    for (uint i = r * HW + s0; i < r * HW + s1; i++) y[yo + i] = x[xo + i] + b;
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
