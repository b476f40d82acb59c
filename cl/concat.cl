/* Label conditioning: one-hot label channels joined after a tensor's channels, and back. */

/* Layout: out [N, C+K, HW], in [N, C, HW], y [N]; label_class is in cl/common.cl. */

/* out[i] for i < n = N*(C+K)*HW: in's value for a channel c < C, else 1 when c - C is the
 * example's class and 0 otherwise (also for an invalid label). With C = 0 (one-hot rows)
 * in is never read. */
__kernel void label_concat(__global float *out, uint out_off, __global const float *in,
                           uint in_off, __global const float *y, uint y_off, uint n, uint C,
                           uint K, uint HW)
{
    uint i = CLVAE_GID0;
    if (i >= n) return;
    uint per = (C + K) * HW;
    uint e = i / per, r = i - e * per;
    uint c = r / HW;
    float v;
    if (c < C)
        v = in[in_off + e * C * HW + r];
    else
        v = label_class(y[y_off + e], K) == c - C ? 1.0f : 0.0f;
    out[out_off + i] = v;
}

/* din[i] += dout[e, c, s] for i = (e*C + c)*HW + s < n = N*C*HW. */
__kernel void label_concat_grad(__global float *din, uint din_off, __global const float *dout,
                                uint dout_off, uint n, uint C, uint K, uint HW)
{
    uint i = CLVAE_GID0;
    if (i >= n) return;
    uint per = C * HW;
    uint e = i / per, r = i - e * per;
    din[din_off + i] += dout[dout_off + e * (C + K) * HW + r];
}

/* Channel slices of NCHW tensors ([concat] layers): dst[e, dc0 + c, s] = src[e, sc0 + c, s], or
 * dst += src when acc is 1 (dst [N, dC, HW], src [N, sC, HW]); a row kernel over the rows =
 * N*C rows r = e*C + c of the slice. */
__kernel void channel_slice(__global float *dst, uint dst_off, uint dC, uint dc0,
                            __global const float *src, uint src_off, uint sC, uint sc0, uint rows,
                            uint C, uint HW, uint acc)
{
    ROW_SPAN(HW, rows);
    uint e = r / C, c = r - e * C;
    __global const float *sr = src + src_off + (e * sC + sc0 + c) * HW;
    __global float *dr = dst + dst_off + (e * dC + dc0 + c) * HW;
    if (acc) {
        for (uint s = s0; s < s1; s++) dr[s] += sr[s];
    } else {
        for (uint s = s0; s < s1; s++) dr[s] = sr[s];
    }
}
