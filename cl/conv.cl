/* Convolution helpers around the GEMMs: im2col, col2im (a gather), NCHW <-> rows transposes. */

/* Layouts (the letters of include/clvae/ops/conv.h): a chunk of nb images; P = OH*OW.
 *   x    [nb, C, H, W]        the convolution's input (NCHW)
 *   col  [C*kh*kw, nb*P]      row (c, i, j), column (n, oh, ow): the im2col matrix
 *   colT [nb*P, C*kh*kw]      its transpose (conv_im2row), for the weight gradient
 *   rows [K, nb*P]            the convolution's output as the GEMM writes it
 *   y    [nb, K, OH, OW]      the convolution's output (NCHW)
 * Input row of output row oh and kernel row i: h = oh*sh - pad_t + i*dh (columns
 * alike); positions outside the input read as zero. The host checks that every
 * index fits in uint and every position in int. */

/* Tap column j's output columns: ow in [*ow0, *ow1) read input column v0 + ow*sw inside
 * [0, W), where v0 = j*dw - pad_l (returned); the range is empty (*ow0 == *ow1) when none does. */
int conv_tap_cols(uint j, uint dw, uint pad_l, uint W, uint OW, uint sw, uint *ow0, uint *ow1)
{
    int v0 = (int)(j * dw) - (int)pad_l;
    int lim = (int)W - 1 - v0;
    *ow0 = v0 >= 0 ? 0u : min(OW, ((uint)(-v0) + sw - 1) / sw);
    *ow1 = lim < 0 ? *ow0 : max(*ow0, min(OW, (uint)lim / sw + 1));
    return v0;
}

/* One image's im2col row for tap (i, j) (conv_tap_cols gave v0, ow0, ow1): out [OH, OW] from
 * the input plane xc [H, W], zeros where the tap falls outside it. */
void conv_unfold_tap(__global float *restrict out, __global const float *restrict xc, uint i,
                     int v0, uint ow0, uint ow1, uint H, uint W, uint OH, uint OW, uint sh,
                     uint sw, uint dh, uint pad_t)
{
    for (uint oh = 0; oh < OH; oh++) {
        int h = (int)(oh * sh + i * dh) - (int)pad_t;
        __global float *orow = out + oh * OW;
        if (h < 0 || h >= (int)H) {
            for (uint ow = 0; ow < OW; ow++) orow[ow] = 0.0f;
            continue;
        }
        __global const float *xr = xc + (uint)h * W + v0; /* xr[ow*sw] for ow in [ow0, ow1) */
        for (uint ow = 0; ow < ow0; ow++) orow[ow] = 0.0f;
        if (sw == 1) {
            for (uint ow = ow0; ow < ow1; ow++) orow[ow] = xr[ow];
        } else {
            for (uint ow = ow0; ow < ow1; ow++) orow[ow] = xr[ow * sw];
        }
        for (uint ow = ow1; ow < OW; ow++) orow[ow] = 0.0f;
    }
}

/* p[0 .. n-1] = act(p[...]): the activation of a conv's output, fused into the pass that wrote
 * it (col2im's last step over its row or plane, still in cache). */
void conv_act_span(__global float *restrict p, uint n, uint act, float slope)
{
#define SPAN_ACT(A) for (uint v = 0; v < n; v++) p[v] = act_f(p[v], (A), slope)
    ACT_CASES(SPAN_ACT)
#undef SPAN_ACT
}

/* col[(c,i,j), (n,oh,ow)] = x[n, c, oh*sh - pad_t + i*dh, ow*sw - pad_l + j*dw] or 0.
 * One work item per (row of col, image): it writes P contiguous floats. */
__kernel void conv_im2col(__global float *restrict col, uint col_off,
                          __global const float *restrict x, uint x_off, uint nb, uint C, uint H,
                          uint W, uint OH, uint OW, uint kh, uint kw, uint sh, uint sw, uint dh,
                          uint dw, uint pad_t, uint pad_l)
{
    uint gid = CLVAE_GID0;
    uint kk = kh * kw;
    if (gid >= C * kk * nb) return;
    uint r = gid / nb;
    uint n = gid - r * nb;
    uint c = r / kk;
    uint ij = r - c * kk;
    uint i = ij / kw;
    uint j = ij - i * kw;
    uint P = OH * OW;
    __global float *out = col + col_off + r * (nb * P) + n * P;
    __global const float *xc = x + x_off + (n * C + c) * H * W;
    uint ow0, ow1;
    int v0 = conv_tap_cols(j, dw, pad_l, W, OW, sw, &ow0, &ow1);
    conv_unfold_tap(out, xc, i, v0, ow0, ow1, H, W, OH, OW, sh, sw, dh, pad_t);
}

/* col[(c,i,j), (n,oh,ow)] = x[n, c, oh*sh - pad_t + i*dh, ow*sw - pad_l + j*dw] or 0.
 * conv_im2col_planes: one work item per (channel, image): for each tap (i, j) in turn it writes
 * that row's P contiguous floats for image n from the one input plane (which stays in cache).
 * On pocl's CPU device 10-30% faster than conv_im2col for the thesis VAE's 14x14 and 7x7
 * inputs, 30% slower for the U-Net's 28x28 ones (src/ops/conv.c picks: conv.plane_hw). */
__kernel void conv_im2col_planes(__global float *restrict col, uint col_off,
                          __global const float *restrict x, uint x_off, uint nb, uint C, uint H,
                          uint W, uint OH, uint OW, uint kh, uint kw, uint sh, uint sw, uint dh,
                          uint dw, uint pad_t, uint pad_l)
{
    uint gid = CLVAE_GID0;
    if (gid >= C * nb) return;
    uint c = gid / nb;
    uint n = gid - c * nb;
    uint P = OH * OW, nbP = nb * P;
    __global const float *xc = x + x_off + (n * C + c) * H * W;
    __global float *out = col + col_off + c * kh * kw * nbP + n * P;
    for (uint i = 0; i < kh; i++)
        for (uint j = 0; j < kw; j++, out += nbP) {
            uint ow0, ow1;
            int v0 = conv_tap_cols(j, dw, pad_l, W, OW, sw, &ow0, &ow1);
            conv_unfold_tap(out, xc, i, v0, ow0, ow1, H, W, OH, OW, sh, sw, dh, pad_t);
        }
}

/* colT[q, (c,i,j)] = x[n, c, oh*sh - pad_t + i*dh, ow*sw - pad_l + j*dw] or 0 for the nb*P
 * output pixels q = n*P + oh*OW + ow: im2col's matrix transposed, a row of C*kh*kw per pixel,
 * the B of the weight gradient's GEMM dw += rows colT (AB, which CLBlast runs 1.7-2.2x faster
 * here than the ABT rows col^T). One work item per pixel, writing its row. */
__kernel void conv_im2row(__global float *restrict colT, uint col_off,
                          __global const float *restrict x, uint x_off, uint nb, uint C, uint H,
                          uint W, uint OH, uint OW, uint kh, uint kw, uint sh, uint sw, uint dh,
                          uint dw, uint pad_t, uint pad_l)
{
    uint q = CLVAE_GID0;
    uint P = OH * OW;
    if (q >= nb * P) return;
    uint n = q / P;
    uint p = q - n * P;
    uint oh = p / OW;
    uint ow = p - oh * OW;
    int h0 = (int)(oh * sh) - (int)pad_t, w0 = (int)(ow * sw) - (int)pad_l;
    __global float *out = colT + col_off + q * (C * kh * kw);
    __global const float *xc = x + x_off + n * C * H * W;
    for (uint c = 0; c < C; c++, xc += H * W)
        for (uint i = 0; i < kh; i++) {
            int h = h0 + (int)(i * dh);
            int hin = h >= 0 && h < (int)H;
            for (uint j = 0; j < kw; j++) {
                int v = w0 + (int)(j * dw);
                *out++ = hin && v >= 0 && v < (int)W ? xc[h * (int)W + v] : 0.0f;
            }
        }
}

/* x[n, c, h, :] = (accumulate ? x : 0) + (has_bias ? b[c] : 0) + the col entries that
 * im2col took from there, added in the order (i, j) ascending: a gather, so each
 * element is written by one work item only (no atomics, the same bits every run); then act of
 * the row (the host passes ACT_IDENTITY with accumulate). One work item per input row (n, c, h). */
__kernel void conv_col2im(__global float *restrict x, uint x_off,
                          __global const float *restrict col, uint col_off,
                          __global const float *restrict b, uint b_off, uint nb, uint C,
                          uint H, uint W, uint OH, uint OW, uint kh, uint kw, uint sh, uint sw,
                          uint dh, uint dw, uint pad_t, uint pad_l, uint accumulate,
                          uint has_bias, uint act, float slope)
{
    uint gid = CLVAE_GID0;
    if (gid >= nb * C * H) return;
    /* No / and % pair of one value here: LLVM puts a `freeze` on such a pair (of a value it
     * cannot prove defined), an instruction that Oclgrind 21.10's --uninitialized checker
     * (Debian 12) aborts on ("Unsupported instruction: freeze"). */
    uint t = gid / H;
    uint h = gid - t * H;
    uint n = t / C;
    uint c = t - n * C;
    __global float *xr = x + x_off + gid * W; /* ((n*C + c)*H + h)*W */
    float init = has_bias ? b[b_off + c] : 0.0f;
    for (uint v = 0; v < W; v++) xr[v] = accumulate ? xr[v] + init : init;
    uint P = OH * OW, nbP = nb * P;
    for (uint i = 0; i < kh; i++) {
        /* the output row oh with oh*sh - pad_t + i*dh == h, if any */
        int ohs = (int)(h + pad_t) - (int)(i * dh);
        if (ohs < 0) break; /* only smaller for larger i */
        uint oh = (uint)ohs / sh; /* and no %, as above */
        if (oh * sh != (uint)ohs || oh >= OH) continue;
        for (uint j = 0; j < kw; j++) {
            __global const float *cr =
                col + col_off + ((c * kh + i) * kw + j) * nbP + n * P + oh * OW;
            uint ow0, ow1;
            int v0 = conv_tap_cols(j, dw, pad_l, W, OW, sw, &ow0, &ow1);
            for (uint ow = ow0; ow < ow1; ow++) xr[(uint)(v0 + (int)(ow * sw))] += cr[ow];
        }
    }
    if (act != ACT_IDENTITY) conv_act_span(xr, W, act, slope);
}

/* x[n, c, :, :] = (accumulate ? x : 0) + (has_bias ? b[c] : 0) + the col entries that
 * im2col took from there, added in the order (i, j) ascending: a gather, so each element is
 * written by one work item only (no atomics, the same bits every run). conv_col2im_planes: one
 * work item per (image, channel) plane: the plane set first, then for each tap (i, j) in turn
 * that row's P contiguous col values of image n added where they came from (the same additions
 * in the same order as conv_col2im's, so the same bits). On pocl's CPU device 40-50% faster
 * than conv_col2im for 14x14 and 7x7 planes (which read nine short pieces of col rows for each
 * input row), 25-50% slower for the U-Net's 28x28 ones (src/ops/conv.c picks: conv.plane_hw).
 * Work item gid takes channel gid / nb of image gid mod nb: neighbouring work items read
 * neighbouring pieces of each col row (10% faster than channels side by side here).
 * Then act of the plane, as conv_col2im's rows. */
__kernel void conv_col2im_planes(__global float *restrict x, uint x_off,
                          __global const float *restrict col, uint col_off,
                          __global const float *restrict b, uint b_off, uint nb, uint C,
                          uint H, uint W, uint OH, uint OW, uint kh, uint kw, uint sh, uint sw,
                          uint dh, uint dw, uint pad_t, uint pad_l, uint accumulate,
                          uint has_bias, uint act, float slope)
{
    uint gid = CLVAE_GID0;
    if (gid >= nb * C) return;
    /* No / and % pair of one value here: LLVM puts a `freeze` on such a pair (of a value it
     * cannot prove defined), an instruction that Oclgrind 21.10's --uninitialized checker
     * (Debian 12) aborts on ("Unsupported instruction: freeze"). */
    uint c = gid / nb; /* images n side by side: their col pieces of a tap are neighbours */
    uint n = gid - c * nb;
    uint HW = H * W, P = OH * OW, nbP = nb * P;
    __global float *xp = x + x_off + (n * C + c) * HW;
    float init = has_bias ? b[b_off + c] : 0.0f;
    for (uint v = 0; v < HW; v++) xp[v] = accumulate ? xp[v] + init : init;
    __global const float *cr = col + col_off + c * kh * kw * nbP + n * P;
    for (uint i = 0; i < kh; i++)
        for (uint j = 0; j < kw; j++, cr += nbP) {
            uint ow0, ow1;
            int v0 = conv_tap_cols(j, dw, pad_l, W, OW, sw, &ow0, &ow1);
            if (ow0 == ow1) continue;
            for (uint oh = 0; oh < OH; oh++) {
                int h = (int)(oh * sh + i * dh) - (int)pad_t;
                if (h < 0 || h >= (int)H) continue;
                __global float *xr = xp + (uint)h * W + v0;
                __global const float *co = cr + oh * OW;
                if (sw == 1) {
                    for (uint ow = ow0; ow < ow1; ow++) xr[ow] += co[ow];
                } else {
                    for (uint ow = ow0; ow < ow1; ow++) xr[ow * sw] += co[ow];
                }
            }
        }
    if (act != ACT_IDENTITY) conv_act_span(xp, HW, act, slope);
}

/* rows[k, n*P + p] = in[n, k, p]: NCHW [nb, K, P] to [K, nb*P]. One work item per (k, n). */
__kernel void conv_nchw_to_rows(__global float *restrict rows, uint rows_off,
                                __global const float *restrict in, uint in_off, uint nb, uint K,
                                uint P)
{
    uint gid = CLVAE_GID0;
    if (gid >= K * nb) return;
    uint k = gid / nb;
    uint n = gid - k * nb;
    __global float *o = rows + rows_off + gid * P; /* k*nb*P + n*P */
    __global const float *s = in + in_off + (n * K + k) * P;
    for (uint p = 0; p < P; p++) o[p] = s[p];
}

/* y[n, k, p] = (accumulate ? y[n, k, p] : 0) + rows[k, n*P + p] + (has_bias ? b[k] : 0):
 * [K, nb*P] back to NCHW, with the bias; without accumulate, act(...) of that (the conv's
 * activation fused into this pass). One work item per (n, k). */
__kernel void conv_rows_to_nchw(__global float *restrict y, uint y_off,
                                __global const float *restrict rows, uint rows_off,
                                __global const float *restrict b, uint b_off, uint nb,
                                uint K, uint P, uint accumulate, uint has_bias, uint act,
                                float slope)
{
    uint gid = CLVAE_GID0;
    if (gid >= nb * K) return;
    uint n = gid / K;
    uint k = gid - n * K;
    __global float *o = y + y_off + gid * P; /* (n*K + k)*P */
    __global const float *s = rows + rows_off + (k * nb + n) * P;
    float bias = has_bias ? b[b_off + k] : 0.0f;
    if (accumulate) {
        for (uint p = 0; p < P; p++) o[p] += s[p] + bias;
        return;
    }
#define ROWS_OUT(A) for (uint p = 0; p < P; p++) o[p] = act_f(s[p] + bias, (A), slope)
    ACT_CASES(ROWS_OUT)
#undef ROWS_OUT
}

/* part[c, n] = the sum of plane (n, c) of in [N, C, P]: four interleaved partial sums
 * (q = 0, 4, 8, ... ; 1, 5, ... ; ...), then (s0 + s1) + (s2 + s3), then the P % 4 last
 * elements, a fixed order. One work item per plane (n, c); the first pass of a bias gradient.
 * Four scalars, not a float4 with vload4: the same sums bit for bit, but Oclgrind 21.10's
 * --uninitialized checker (Debian 12) crashed on the vector form (SIGSEGV in its
 * Uninitialized::instructionExecuted; `clvae selftest --all` under it checks conv backward). */
__kernel void conv_plane_sums(__global float *restrict part, uint part_off,
                              __global const float *restrict in, uint in_off, uint N, uint C,
                              uint P)
{
    uint gid = CLVAE_GID0;
    if (gid >= N * C) return;
    uint n = gid / C;
    uint c = gid - n * C;
    __global const float *p = in + in_off + gid * P; /* (n*C + c)*P */
    float s0 = 0.0f, s1 = 0.0f, s2 = 0.0f, s3 = 0.0f;
    uint q = 0;
    for (; q + 4 <= P; q += 4) {
        s0 += p[q];
        s1 += p[q + 1];
        s2 += p[q + 2];
        s3 += p[q + 3];
    }
    float t = (s0 + s1) + (s2 + s3);
    for (; q < P; q++) t += p[q];
    part[part_off + c * N + n] = t;
}

/* out[c] += the sum of part[c, 0 .. N-1] in that order: the second pass of a bias
 * gradient. One work item per channel c < C. */
__kernel void conv_plane_total(__global float *restrict out, uint out_off,
                               __global const float *restrict part, uint part_off, uint C,
                               uint N)
{
    uint c = CLVAE_GID0;
    if (c >= C) return;
    __global const float *p = part + part_off + c * N;
    float s = 0.0f;
    for (uint n = 0; n < N; n++) s += p[n];
    out[out_off + c] += s;
}

/* out[i] = w[i] where the causal mask keeps tap i % (kh*kw), else 0, for i < n (n = K*C*kh*kw):
 * the masks of include/clvae/ops/conv.h, as tap t = ky*kw + kx against the centre's
 * index (kh/2)*kw + kw/2, which is the same raster order. out may be w itself: each item
 * reads its own element before it writes it. */
__kernel void conv_mask(__global float *out, uint out_off, __global const float *w, uint w_off,
                        uint n, uint kh, uint kw, uint keep_centre)
{
    uint i = CLVAE_GID0;
    if (i >= n) return;
    uint kk = kh * kw;
    uint t = i % kk, centre = (kh / 2u) * kw + kw / 2u;
    int keep = t < centre || (keep_centre && t == centre);
    out[out_off + i] = keep ? w[w_off + i] : 0.0f;
}
