/* Direct convolutions for few input channels (C*kh*kw small): forward, backward-data, weights. */

/* Layouts (the letters of include/clvae/ops/conv.h; a transposed conv uses its adjoint's):
 *   x  [N, C, H, W]     the convolution's input, C small
 *   y  [N, K, OH, OW]   the convolution's output; P = OH*OW
 *   w  [K, C, kh, kw]   so w[k, t] with tap t = (c*kh + i)*kw + j, t < CD_CKK
 * Output position (oh, ow) and tap (i, j) meet input position
 * h = oh*sh - pad_t + i*dh, v = ow*sw - pad_l + j*dw; outside the input reads as zero.
 * The host checks that every index fits in uint and every position in int.
 *
 * Each work item handles CD_VW neighbouring columns of one row as a vector (explicit
 * vectors: on pocl CPU the work-item loop around a loop with a run-time trip count is
 * not vectorised). Products are written a * b + c, not fma(): OpenCL C contracts them
 * where the device has a fused multiply-add, and fma() is slow where it has none.
 * Compile-time parameters (src/ops/conv.c passes them as -D, the tunable ones through
 * clvae_tuning_int): CD_C, CD_KH, CD_KW the geometry (so that the taps
 * unroll), CD_VW the vector width (4, 8 or 16), CD_WG the work-group size of
 * cd_weight_partial and CD_KB its output channels per work item. */

#ifndef CD_C
#define CD_C 1
#endif
#ifndef CD_KH
#define CD_KH 3
#endif
#ifndef CD_KW
#define CD_KW 3
#endif
#ifndef CD_VW
#define CD_VW 8
#endif
#ifndef CD_WG
#define CD_WG 64
#endif
#ifndef CD_KB
#define CD_KB 4
#endif
#define CD_KK (CD_KH * CD_KW)
#define CD_CKK (CD_C * CD_KK)
#define floatv CLVAE_CAT(float, CD_VW)
#define vloadv CLVAE_CAT(vload, CD_VW)
#define vstorev CLVAE_CAT(vstore, CD_VW)
#define intv CLVAE_CAT(int, CD_VW)
#define vloadiv CLVAE_CAT(vload, CD_VW)

__constant int cd_lane_ids[16] = {0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15};

/* Lane l true (all bits set) when lo <= s + l < hi and the lane's own column c0 + l < lim. */
intv cd_lane_mask(int s, int lo, int hi, uint c0, uint lim)
{
    intv l = vloadiv(0, cd_lane_ids);
    intv col = (intv)(s) + l;
    return (col >= (intv)(lo)) & (col < (intv)(hi)) & ((intv)((int)c0) + l < (intv)((int)lim));
}

/* The row tile of work item gid: image n, row r of R rows, columns c0 .. c0+CD_VW-1. */
#define CD_TILE(gid, R, cols, n, r, c0)                                                    \
    uint tiles_ = ((cols) + CD_VW - 1) / CD_VW;                                            \
    uint n = (gid) / ((R) * tiles_);                                                       \
    uint rt_ = (gid) - n * ((R) * tiles_);                                                 \
    uint r = rt_ / tiles_;                                                                 \
    uint c0 = (rt_ - r * tiles_) * CD_VW

/* The sum of v's lanes, in lane order. */
float cd_lane_sum(floatv v)
{
    float t[CD_VW];
    vstorev(v, 0, t);
    float s = t[0];
    for (int e = 1; e < CD_VW; e++) s += t[e];
    return s;
}

/* patch[t], lane e: the im2col entry of tap t for output pixel (oh, ow0 + e) of image n
 * (xn: its channel 0; the tensor holds N images), zero outside the input and for lanes
 * ow0 + e >= OW. Contiguous loads where a tap's lanes are all inside a row (stride 1); at a
 * row's ends (stride 1) a contiguous load of the neighbouring elements with the lanes outside
 * the row set to zero, where those elements are inside the tensor (all but the first and last
 * few of the whole tensor); else element by element. */
void cd_load_patch(floatv *patch, __global const float *restrict xn, uint n, uint N, uint oh,
                   uint ow0, uint H, uint W, uint OW, uint sh, uint sw, uint dh, uint dw,
                   uint pad_t, uint pad_l)
{
    for (int i = 0; i < CD_KH; i++) {
        int h = (int)(oh * sh + (uint)i * dh) - (int)pad_t;
        int hok = h >= 0 && h < (int)H;
        for (int j = 0; j < CD_KW; j++) {
            int v0 = (int)(ow0 * sw + (uint)j * dw) - (int)pad_l;
            int inside = hok && sw == 1 && v0 >= 0 && v0 + CD_VW <= (int)W && ow0 + CD_VW <= OW;
            /* the first and one past the last element a contiguous load reads, from the
             * tensor's start, for channels 0 and CD_C-1 */
            long first = ((long)n * CD_C * H + (long)h) * W + v0;
            long last = first + (long)(CD_C - 1) * H * W + CD_VW;
            int masked = !inside && hok && sw == 1 && first >= 0 && last <= (long)N * CD_C * H * W;
            intv m = cd_lane_mask(v0, 0, (int)W, ow0, OW);
            for (int c = 0; c < CD_C; c++) {
                __global const float *xr = xn + (uint)c * H * W + (hok ? (uint)h : 0u) * W;
                floatv e;
                if (inside) {
                    e = vloadv(0, xr + v0);
                } else if (masked) {
                    e = select((floatv)0.0f, vloadv(0, xr + v0), m);
                } else {
                    float t[CD_VW];
                    for (int l = 0; l < CD_VW; l++) {
                        int v = v0 + l * (int)sw;
                        int ok = hok && v >= 0 && v < (int)W && ow0 + (uint)l < OW;
                        float a = xr[ok ? v : 0];
                        t[l] = ok ? a : 0.0f;
                    }
                    e = vloadv(0, t);
                }
                patch[(c * CD_KH + i) * CD_KW + j] = e;
            }
        }
    }
}

/* The CD_VW floats at p; when n < CD_VW only the first n exist and the other lanes are 0. */
floatv cd_load_row(__global const float *restrict p, uint n)
{
    if (n >= CD_VW) return vloadv(0, p);
    float t[CD_VW];
    for (uint l = 0; l < CD_VW; l++) {
        float a = p[l < n ? l : 0];
        t[l] = l < n ? a : 0.0f;
    }
    return vloadv(0, t);
}

/* act of each lane (the conv's activation, fused into the store): cl/common.cl. */
CLVAE_ACT_VEC(cd_act, floatv, CD_VW)

/* p[0 .. n-1] = (accumulate ? p : 0) + the first n lanes of s (all of them when n >= CD_VW). */
void cd_store_row(__global float *restrict p, uint n, floatv s, uint accumulate)
{
    if (n >= CD_VW) {
        vstorev(accumulate ? vloadv(0, p) + s : s, 0, p);
        return;
    }
    float t[CD_VW];
    vstorev(s, 0, t);
    uint l = 0;
    for (; l + 4 <= n; l += 4) { /* a row's tail four at a time (OW 28: 12 of 28 lanes) */
        float4 v = vload4(0, t + l);
        vstore4(accumulate ? vload4(0, p + l) + v : v, 0, p + l);
    }
    for (; l < n; l++) p[l] = accumulate ? p[l] + t[l] : t[l];
}

/* y[n, k, oh, ow] = (accumulate ? y : 0) + act((has_bias ? b[k] : 0) + sum_t w[k, t] *
 * patch[t]), the taps summed in the order t ascending (act: ACT_IDENTITY with accumulate). One work item per row tile
 * (n, oh, ow0 .. ow0+CD_VW-1): its patch stays in registers while it loops over K. */
__kernel void cd_forward(__global float *restrict y, uint y_off, __global const float *restrict x,
                         uint x_off, __global const float *restrict w, uint w_off,
                         __global const float *restrict b, uint b_off, uint N, uint H, uint W,
                         uint K, uint OH, uint OW, uint sh, uint sw, uint dh, uint dw,
                         uint pad_t, uint pad_l, uint accumulate, uint has_bias, uint act,
                         float slope)
{
    uint gid = CLVAE_GID0;
    if (gid >= N * OH * ((OW + CD_VW - 1) / CD_VW)) return;
    CD_TILE(gid, OH, OW, n, oh, ow0);
    floatv patch[CD_CKK];
    cd_load_patch(patch, x + x_off + n * (CD_C * H * W), n, N, oh, ow0, H, W, OW, sh, sw, dh,
                  dw, pad_t, pad_l);
    uint P = OH * OW;
    __global float *yk = y + y_off + n * K * P + oh * OW + ow0;
    __global const float *wk = w + w_off;
    for (uint k = 0; k < K; k++, yk += P, wk += CD_CKK) {
        floatv s = (floatv)(has_bias ? b[b_off + k] : 0.0f);
        for (int t = 0; t < CD_CKK; t++) s += (floatv)wk[t] * patch[t];
        cd_store_row(yk, OW - ow0, cd_act(s, act, slope), accumulate);
    }
}

/* x[n, c, h, v] = (accumulate ? x : 0) + act((has_bias ? b[c] : 0) + the sum over taps (i, j)
 * ascending of the sum over k ascending of w[k, c, i, j] * y[n, k, oh, ow] for the (oh, ow)
 * that tap (i, j) takes from (h, v)): the adjoint of cd_forward, a gather (no atomics).
 * One work item per row tile (n, h, v0 .. v0+CD_VW-1), all C channels. */
__kernel void cd_backward_data(__global float *restrict x, uint x_off,
                               __global const float *restrict y, uint y_off,
                               __global const float *restrict w, uint w_off,
                               __global const float *restrict b, uint b_off, uint N, uint H,
                               uint W, uint K, uint OH, uint OW, uint sh, uint sw, uint dh,
                               uint dw, uint pad_t, uint pad_l, uint accumulate, uint has_bias,
                               uint act, float slope)
{
    uint gid = CLVAE_GID0;
    if (gid >= N * H * ((W + CD_VW - 1) / CD_VW)) return;
    CD_TILE(gid, H, W, n, h, v0);
    uint P = OH * OW;
    __global const float *yn = y + y_off + n * K * P;
    __global const float *wn = w + w_off;
    /* One sum per tap and channel over k, then the taps added in order (the same order
     * on both branches). Interior tiles (stride 1, every tap's lanes inside y) load
     * contiguous vectors; the others gather lane by lane, zero where a lane meets no
     * output pixel. Independent sums per tap keep the FMAs from waiting on each other. */
    floatv part[CD_KK][CD_C];
#pragma unroll
    for (int t = 0; t < CD_KK; t++)
#pragma unroll
        for (int c = 0; c < CD_C; c++) part[t][c] = (floatv)0.0f;
    int ohs0 = (int)(h + pad_t) - (int)((uint)(CD_KH - 1) * dh);
    int ows0 = (int)(v0 + pad_l) - (int)((uint)(CD_KW - 1) * dw);
    if (sh == 1 && sw == 1 && ohs0 >= 0 && (int)(h + pad_t) < (int)OH && ows0 >= 0 &&
        (int)(v0 + pad_l) + CD_VW <= (int)OW && v0 + CD_VW <= W) {
        __global const float *yk = yn + (h + pad_t) * OW + v0 + pad_l;
        for (uint k = 0; k < K; k++, yk += P) {
#pragma unroll
            for (int i = 0; i < CD_KH; i++) {
#pragma unroll
                for (int j = 0; j < CD_KW; j++) {
                    floatv e = vloadv(0, yk - (uint)i * dh * OW - (uint)j * dw);
#pragma unroll
                    for (int c = 0; c < CD_C; c++)
                        part[i * CD_KW + j][c] +=
                            (floatv)wn[(k * CD_C + (uint)c) * CD_KK + (uint)(i * CD_KW + j)] * e;
                }
            }
        }
    } else if (sw == 1) {
        /* Column stride 1 at an edge: tap (i, j) meets output row (h + pad_t - i*dh) / sh
         * where that divides and lies inside (the same for every lane: a tap row outside adds
         * nothing), and columns v0 + l + pad_l - j*dw, lanes outside [0, OW) (or past W) zero.
         * A contiguous load with those lanes masked where the elements it reads are inside the
         * tensor (channels 0 to K-1 of this image's row; all but the first and last few of the
         * whole tensor), else lane by lane. */
        long total = (long)N * K * P;
#pragma unroll
        for (int i = 0; i < CD_KH; i++) {
            int ohs = (int)(h + pad_t) - (int)((uint)i * dh);
            uint oh = (uint)max(ohs, 0) / sh;
            if (ohs < 0 || (uint)ohs != oh * sh || oh >= OH) continue;
#pragma unroll
            for (int j = 0; j < CD_KW; j++) {
                int t = i * CD_KW + j;
                int ows = (int)(v0 + pad_l) - (int)((uint)j * dw);
                intv m = cd_lane_mask(ows, 0, (int)OW, v0, W);
                long first = (long)n * K * P + (long)oh * OW + ows;
                long last = first + (long)(K - 1) * P + CD_VW;
                __global const float *yk = yn + oh * OW;
                if (first >= 0 && last <= total) {
                    for (uint k = 0; k < K; k++, yk += P) {
                        floatv e = select((floatv)0.0f, vloadv(0, yk + ows), m);
#pragma unroll
                        for (int c = 0; c < CD_C; c++)
                            part[t][c] += (floatv)wn[(k * CD_C + (uint)c) * CD_KK + (uint)t] * e;
                    }
                } else {
                    for (uint k = 0; k < K; k++, yk += P) {
                        float tv[CD_VW];
#pragma unroll
                        for (int l = 0; l < CD_VW; l++) {
                            int ow = ows + l;
                            int ok = ow >= 0 && ow < (int)OW && v0 + (uint)l < W;
                            float a = yk[ok ? ow : 0];
                            tv[l] = ok ? a : 0.0f;
                        }
                        floatv e = vloadv(0, tv);
#pragma unroll
                        for (int c = 0; c < CD_C; c++)
                            part[t][c] += (floatv)wn[(k * CD_C + (uint)c) * CD_KK + (uint)t] * e;
                    }
                }
            }
        }
    } else {
        /* lane l of tap (i, j): input (h, v0 + l) meets output
         * ((h + pad_t - i*dh) / sh, (v0 + l + pad_l - j*dw) / sw) where that divides */
        uint pos[CD_KK][CD_VW];
        int ok[CD_KK][CD_VW];
#pragma unroll
        for (int i = 0; i < CD_KH; i++) {
            int ohs = (int)(h + pad_t) - (int)((uint)i * dh);
            uint oh = (uint)max(ohs, 0) / sh;
            int hok = ohs >= 0 && (uint)ohs == oh * sh && oh < OH;
#pragma unroll
            for (int j = 0; j < CD_KW; j++) {
#pragma unroll
                for (int l = 0; l < CD_VW; l++) {
                    int ows = (int)(v0 + (uint)l + pad_l) - (int)((uint)j * dw);
                    uint ow = (uint)max(ows, 0) / sw;
                    int good = hok && ows >= 0 && (uint)ows == ow * sw && ow < OW &&
                               v0 + (uint)l < W;
                    ok[i * CD_KW + j][l] = good;
                    pos[i * CD_KW + j][l] = good ? oh * OW + ow : 0u;
                }
            }
        }
        __global const float *yk = yn;
        for (uint k = 0; k < K; k++, yk += P) {
#pragma unroll
            for (int t = 0; t < CD_KK; t++) {
                float tv[CD_VW];
#pragma unroll
                for (int l = 0; l < CD_VW; l++) {
                    float a = yk[pos[t][l]];
                    tv[l] = ok[t][l] ? a : 0.0f;
                }
                floatv e = vloadv(0, tv);
#pragma unroll
                for (int c = 0; c < CD_C; c++)
                    part[t][c] += (floatv)wn[(k * CD_C + (uint)c) * CD_KK + (uint)t] * e;
            }
        }
    }
    floatv acc[CD_C];
#pragma unroll
    for (int c = 0; c < CD_C; c++) {
        acc[c] = part[0][c];
#pragma unroll
        for (int t = 1; t < CD_KK; t++) acc[c] += part[t][c];
    }
    uint HW = H * W;
    __global float *xr = x + x_off + n * (CD_C * HW) + h * W + v0;
    for (int c = 0; c < CD_C; c++) {
        floatv s = (floatv)(has_bias ? b[b_off + (uint)c] : 0.0f) + acc[c];
        cd_store_row(xr + (uint)c * HW, W - v0, cd_act(s, act, slope), accumulate);
    }
}

/* Partial weight (and bias) gradients: for chunk = images chunk*nb .. chunk*nb + nb - 1
 * (fewer in the last), part[chunk, k, t] = sum over the chunk's output pixels of
 * y[n, k, p] * patch(n, p)[t] for t < CD_CKK, and part[chunk, k, CD_CKK] = sum of
 * y[n, k, p] (the bias gradient), where y is the output gradient. Work group (chunk, kb)
 * owns channels kb*CD_KB .. + CD_KB-1; its CD_WG work items take the chunk's row tiles in
 * turn (lid, lid + CD_WG, ...), each summing in that order, then lane sums in lane order,
 * then item sums in the order lid = 0 .. CD_WG-1: a fixed order, the same bits every run.
 * Launched with exactly CD_WG items per group. */
#define CD_PS (CD_CKK + 1) /* partial sums per channel */
__kernel __attribute__((reqd_work_group_size(CD_WG, 1, 1))) void
cd_weight_partial(__global float *restrict part, uint part_off, __global const float *restrict y,
                  uint y_off, __global const float *restrict x, uint x_off, uint N, uint H,
                  uint W, uint K, uint OH, uint OW, uint sh, uint sw, uint dh, uint dw,
                  uint pad_t, uint pad_l, uint nb)
{
    __local float red[CD_WG * CD_KB * CD_PS];
    uint lid = (uint)get_local_id(0);
    uint nkb = (K + CD_KB - 1) / CD_KB;
    uint grp = (uint)get_group_id(0);
    uint chunk = grp / nkb, kb = grp - chunk * nkb;
    uint P = OH * OW;
    uint n0 = chunk * nb;
    uint m = min(nb, N - n0);
    uint k0 = kb * CD_KB;
    floatv acc[CD_KB][CD_PS];
    #pragma unroll
    for (int a = 0; a < CD_KB; a++)
        #pragma unroll
        for (int t = 0; t < CD_PS; t++) acc[a][t] = (floatv)0.0f;
    uint tiles = m * OH * ((OW + CD_VW - 1) / CD_VW);
    for (uint q = lid; q < tiles; q += CD_WG) {
        CD_TILE(q, OH, OW, nl, oh, ow0);
        uint n = n0 + nl;
        floatv patch[CD_CKK];
        cd_load_patch(patch, x + x_off + n * (CD_C * H * W), n, N, oh, ow0, H, W, OW, sh, sw,
                      dh, dw, pad_t, pad_l);
        __global const float *yp = y + y_off + n * K * P + oh * OW + ow0;
        #pragma unroll
        for (int a = 0; a < CD_KB; a++) {
            uint k = min(k0 + (uint)a, K - 1); /* channels past K: computed, never stored */
            floatv d = cd_load_row(yp + k * P, OW - ow0);
            #pragma unroll
            for (int t = 0; t < CD_CKK; t++) acc[a][t] += d * patch[t];
            acc[a][CD_CKK] += d;
        }
    }
    #pragma unroll
    for (int a = 0; a < CD_KB; a++)
        #pragma unroll
        for (int t = 0; t < CD_PS; t++)
            red[lid * (CD_KB * CD_PS) + (uint)(a * CD_PS + t)] = cd_lane_sum(acc[a][t]);
    barrier(CLK_LOCAL_MEM_FENCE);
    for (uint e = lid; e < CD_KB * CD_PS; e += CD_WG) {
        float s = 0.0f;
        for (uint l = 0; l < CD_WG; l++) s += red[l * (CD_KB * CD_PS) + e];
        uint k = k0 + e / CD_PS;
        if (k < K) part[part_off + (chunk * K + k0) * CD_PS + e] = s;
    }
}

/* dw[k, t] += sum over chunk = 0 .. chunks-1, in that order, of part[chunk, k, t], and
 * (has_db) db[k] += the same of part[chunk, k, CD_CKK]; dw.mem may be NULL (has_dw 0).
 * One work item per partial sum e = k*(CD_CKK+1) + t. */
__kernel void cd_weight_sum(__global float *restrict dw, uint dw_off, __global float *restrict db,
                            uint db_off, __global const float *restrict part, uint part_off,
                            uint K, uint chunks, uint has_dw, uint has_db)
{
    uint e = CLVAE_GID0;
    uint n = K * CD_PS;
    if (e >= n) return;
    uint k = e / CD_PS, t = e - k * CD_PS;
    if (t < CD_CKK ? !has_dw : !has_db) return;
    float s = 0.0f;
    for (uint c = 0; c < chunks; c++) s += part[part_off + c * n + e];
    if (t < CD_CKK) dw[dw_off + k * CD_CKK + t] += s;
    else db[db_off + k] += s;
}

/* The implicit-GEMM conv for any C (src/ops/conv.c's implicit path; built with CD_C = 1, so
 * that cd_load_patch loads one channel's taps): the GEMM y = w col of the im2col path with
 * col's entries loaded where they are used, no col in memory.
 *   y[n, k, oh, ow] = (accumulate ? y : 0) + (the sum over c = 0 .. C-1 of the sum over taps
 *                     t ascending of w[k*wk + c*wc + (flip ? CD_KK-1-t : t)] * patch_c[t])
 *                     + (has_bias ? b[k] : 0), act of that without accumulate
 * x [N, C, H, W], y [N, K, OH, OW], geometry as cd_forward's. wk, wc and flip let the host
 * run the conv's backward-data (stride 1) as a conv of dy with w transposed and flipped
 * (wk = CD_KK, wc = the conv's C*CD_KK, flip 1) without a copy of w. Work item gid: row
 * tile gid / nkb, output channels kb*CD_KB .. + CD_KB-1 for kb = gid mod nkb (neighbours
 * share a tile: x is read once per work group, not once per channel block); each keeps
 * CD_KB vectors of sums while it loops over C. Channels past K are computed from a clamped
 * index and never stored. */
__kernel void ci_forward(__global float *restrict y, uint y_off, __global const float *restrict x,
                         uint x_off, __global const float *restrict w, uint w_off,
                         __global const float *restrict b, uint b_off, uint N, uint H, uint W,
                         uint K, uint OH, uint OW, uint sh, uint sw, uint dh, uint dw,
                         uint pad_t, uint pad_l, uint accumulate, uint has_bias, uint C, uint wk,
                         uint wc, uint flip, uint act, float slope)
{
    uint nkb = (K + CD_KB - 1) / CD_KB;
    uint gid = CLVAE_GID0;
    uint tile = gid / nkb;
    if (tile >= N * OH * ((OW + CD_VW - 1) / CD_VW)) return;
    uint k0 = (gid - tile * nkb) * CD_KB;
    CD_TILE(tile, OH, OW, n, oh, ow0);
    int t0 = flip ? CD_KK - 1 : 0, ts = flip ? -1 : 1;
    __global const float *wa[CD_KB];
    #pragma unroll
    for (int a = 0; a < CD_KB; a++) wa[a] = w + w_off + min(k0 + (uint)a, K - 1) * wk + t0;
    floatv acc[CD_KB];
    #pragma unroll
    for (int a = 0; a < CD_KB; a++) acc[a] = (floatv)0.0f;
    uint HW = H * W;
    for (uint c = 0; c < C; c++) {
        floatv patch[CD_KK];
        cd_load_patch(patch, x + x_off + (n * C + c) * HW, n * C + c, N * C, oh, ow0, H, W, OW,
                      sh, sw, dh, dw, pad_t, pad_l);
        #pragma unroll
        for (int a = 0; a < CD_KB; a++) {
            __global const float *wt = wa[a] + c * wc;
            #pragma unroll
            for (int t = 0; t < CD_KK; t++) acc[a] += (floatv)wt[t * ts] * patch[t];
        }
    }
    uint P = OH * OW;
    __global float *yk = y + y_off + (n * K + k0) * P + oh * OW + ow0;
    for (int a = 0; a < CD_KB && k0 + (uint)a < K; a++, yk += P)
        cd_store_row(yk, OW - ow0,
                     cd_act(acc[a] + (floatv)(has_bias ? b[b_off + k0 + (uint)a] : 0.0f), act,
                            slope),
                     accumulate);
}
