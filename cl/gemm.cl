/* clvae's own GEMMs (src/device/blas.c decides which calls come here): gemm_thin for thin shapes
 * (a side or the inner dimension of at most a few), which CLBlast pads to its tiles (32 and
 * more) and runs at 1-3 GFLOP/s on pocl; gemm_block for a short inner dimension (the convs'
 * backward-data GEMMs, k = 32 or 64), which CLBlast ran at a quarter to a third of its 1024^3
 * rate there. */

/* C [m, n] (row stride ldc, column stride cs) = alpha op(A) op(B) + beta C, op(A) [m, k] =
 * A [m, lda] or, ta, A^T of A [k, lda]; op(B) [k, n] = B [k, ldb] or, tb, B^T of B [n, ldb].
 * (The host runs a call with a small n as its transpose, C^T = op(B)^T op(A)^T: ldc 1 and cs
 * the call's ldc.) A row kernel over the m rows of C (ROW_SPAN): each work item takes up to
 * CLVAE_ROW_CHUNK elements of a row, each the dot product over p = 0, 1, ..., k-1 in that order
 * (the same bits every run). With beta 0, C is not read. */
__kernel void gemm_thin(__global float *c, uint c_off, uint ldc, __global const float *a,
                        uint a_off, uint lda, __global const float *b, uint b_off, uint ldb,
                        uint m, uint n, uint k, uint ta, uint tb, float alpha, float beta,
                        uint cs)
{
    ROW_SPAN(n, m);
    uint as = ta ? lda : 1u; /* op(A)[r, p] = a0[p * as] */
    __global const float *a0 = a + a_off + (ta ? r : r * lda);
    uint bs = tb ? 1u : ldb; /* op(B)[p, j] = b0[j * bj + p * bs] */
    uint bj = tb ? ldb : 1u;
    __global const float *b0 = b + b_off + s0 * bj;
    uint w = s1 - s0;
    float acc[CLVAE_ROW_CHUNK];
    for (uint q = 0; q < CLVAE_ROW_CHUNK; q++) acc[q] = 0.0f;
    /* p outermost: B's row p is read along j (one cache line for the chunk when B is not
     * transposed), and each element still sums over p in order */
    for (uint p = 0; p < k; p++) {
        float ap = a0[p * as];
        __global const float *bp = b0 + p * bs;
        for (uint q = 0; q < w; q++) acc[q] += ap * bp[q * bj];
    }
    __global float *cr = c + c_off + r * ldc + s0 * cs;
    if (cs == 1u) /* contiguous stores where the row is C's own */
        for (uint q = 0; q < w; q++)
            cr[q] = beta == 0.0f ? alpha * acc[q] : beta * cr[q] + alpha * acc[q];
    else
        for (uint q = 0; q < w; q++)
            cr[q * cs] = beta == 0.0f ? alpha * acc[q] : beta * cr[q * cs] + alpha * acc[q];
}

/* C [m, n] (row stride ldc) = alpha op(A) B + beta C with B [k, ldb] not transposed; op(A) as in
 * gemm_thin. Each work item computes a GB_M x GB_N block of C, each row as GB_N / 8 float8, in
 * registers (the loops over the block are unrolled: on pocl an array indexed in a loop lived in
 * memory and ran 3-4x slower): per p, B's row is GB_N / 8 vector loads and op(A)'s GB_M values
 * are broadcast. Work item t takes row block t mod ceil(m / GB_M) and column block t div that,
 * so that neighbours read the same columns of B. Each element sums p = 0, 1, ..., k-1 in that
 * order (the same bits every run). With beta 0, C is not read. GB_M (1-16) and GB_N (8, 16 or
 * 32) come as build options (gemm_block.m, gemm_block.n).
 * Split over k (a small C with a long inner dimension: too few blocks to keep the device busy):
 * slice sl of ceil(k / kc) takes p = sl kc .. sl kc + kc - 1 and writes its C at C + sl cs
 * (work items t + sl * the blocks' count); gemm_slices_sum adds the slices up in order. One
 * slice: kc = k, cs unused. */
#ifndef GB_M
#define GB_M 8u
#endif
#ifndef GB_N
#define GB_N 16u
#endif
#define GB_V (GB_N / 8u)
__kernel void gemm_block(__global float *c, uint c_off, uint ldc, __global const float *a,
                         uint a_off, uint lda, __global const float *b, uint b_off, uint ldb,
                         uint m, uint n, uint k, uint ta, float alpha, float beta, uint kc,
                         uint cs)
{
    uint mb = (m + GB_M - 1u) / GB_M, per = mb * ((n + GB_N - 1u) / GB_N), t = CLVAE_GID0;
    uint sl = t / per, k0 = sl * kc; /* slice sl: p = k0 .. k0 + kc - 1 into C + sl * cs */
    if (k0 >= k) return;
    t -= sl * per;
    /* one division and a multiply, not t / mb and t % mb: LLVM puts a freeze on such a pair,
     * which Oclgrind 21.10's uninitialized-memory checker cannot run (a fatal error) */
    uint q = t / mb;
    uint r0 = (t - q * mb) * GB_M, j0 = q * GB_N;
    uint as = ta ? lda : 1u, ar = ta ? 1u : lda; /* op(A)[r, p] = a0[r * ar + p * as] */
    __global const float *a0 = a + a_off + r0 * ar + k0 * as;
    __global const float *b0 = b + b_off + k0 * ldb + j0;
    __global float *c0 = c + c_off + sl * cs + r0 * ldc + j0;
    k = min(kc, k - k0);
    if (j0 + GB_N <= n && r0 + GB_M <= m) {
        float8 acc[GB_M][GB_V];
#pragma unroll
        for (uint i = 0; i < GB_M; i++)
#pragma unroll
            for (uint v = 0; v < GB_V; v++) acc[i][v] = (float8)(0.0f);
        for (uint p = 0; p < k; p++) {
            __global const float *bp = b0 + p * ldb;
            float8 bv[GB_V];
#pragma unroll
            for (uint v = 0; v < GB_V; v++) bv[v] = vload8(v, bp);
            __global const float *ap = a0 + p * as;
#pragma unroll
            for (uint i = 0; i < GB_M; i++) {
                float av = ap[i * ar];
#pragma unroll
                for (uint v = 0; v < GB_V; v++) acc[i][v] += av * bv[v];
            }
        }
#pragma unroll
        for (uint i = 0; i < GB_M; i++) {
            __global float *cr = c0 + i * ldc;
#pragma unroll
            for (uint v = 0; v < GB_V; v++) {
                float8 o = alpha * acc[i][v];
                if (beta != 0.0f) o += beta * vload8(v, cr);
                vstore8(o, v, cr);
            }
        }
        return;
    }
    /* a block at C's right or bottom edge: element by element, the same order over p */
    uint rows = min(GB_M, m - r0), cols = min(GB_N, n - j0);
    for (uint i = 0; i < rows; i++) {
        for (uint q = 0; q < cols; q++) {
            float acc = 0.0f;
            for (uint p = 0; p < k; p++) acc += a0[i * ar + p * as] * b0[p * ldb + q];
            __global float *cq = c0 + i * ldc + q;
            *cq = beta == 0.0f ? alpha * acc : beta * *cq + alpha * acc;
        }
    }
}

/* C [m, n] (row stride ldc) = alpha A B^T + beta C for A [m, lda] and B [n, ldb], both read
 * along their rows (the inner dimension k contiguous: the conv weight gradient rows col^T with
 * col im2col's matrix). Each work item computes a GD_M x GD_N block of C as dot products, eight
 * terms at a time as float8 (GD_M + GD_N vector loads per GD_M * GD_N products), then each
 * product's lanes added in lane order and the k mod 8 last terms after them: a fixed order,
 * the same bits every run. Split over k as gemm_block (slice sl takes p = sl kc .. + kc - 1
 * into C + sl cs; kc a multiple of 8; gemm_slices_sum adds the slices in order). Rows and
 * columns past m and n are computed from clamped indices and never stored. With beta 0, C is
 * not read. */
#ifndef GD_M
#define GD_M 4u
#endif
#ifndef GD_N
#define GD_N 4u
#endif
__kernel void gemm_dot(__global float *c, uint c_off, uint ldc, __global const float *a,
                       uint a_off, uint lda, __global const float *b, uint b_off, uint ldb,
                       uint m, uint n, uint k, uint tb, float alpha, float beta, uint kc,
                       uint cs)
{
    (void)tb; /* 1: B transposed (the arguments gemm_block shares) */
    uint mb = (m + GD_M - 1u) / GD_M, per = mb * ((n + GD_N - 1u) / GD_N), t = CLVAE_GID0;
    uint sl = t / per, k0 = sl * kc;
    if (k0 >= k) return;
    t -= sl * per;
    uint q = t / mb; /* no / and % pair: see gemm_block */
    uint r0 = (t - q * mb) * GD_M, j0 = q * GD_N;
    uint len = min(kc, k - k0);
    __global const float *ar[GD_M], *br[GD_N];
#pragma unroll
    for (uint i = 0; i < GD_M; i++) ar[i] = a + a_off + min(r0 + i, m - 1u) * lda + k0;
#pragma unroll
    for (uint j = 0; j < GD_N; j++) br[j] = b + b_off + min(j0 + j, n - 1u) * ldb + k0;
    float8 acc[GD_M][GD_N];
#pragma unroll
    for (uint i = 0; i < GD_M; i++)
#pragma unroll
        for (uint j = 0; j < GD_N; j++) acc[i][j] = (float8)(0.0f);
    uint p = 0;
    for (; p + 8u <= len; p += 8u) {
        float8 av[GD_M], bv[GD_N];
#pragma unroll
        for (uint i = 0; i < GD_M; i++) av[i] = vload8(0, ar[i] + p);
#pragma unroll
        for (uint j = 0; j < GD_N; j++) bv[j] = vload8(0, br[j] + p);
#pragma unroll
        for (uint i = 0; i < GD_M; i++)
#pragma unroll
            for (uint j = 0; j < GD_N; j++) acc[i][j] += av[i] * bv[j];
    }
    __global float *c0 = c + c_off + sl * cs + r0 * ldc + j0;
    for (uint i = 0; i < GD_M && r0 + i < m; i++)
        for (uint j = 0; j < GD_N && j0 + j < n; j++) {
            float s = clvae_sum8(acc[i][j]);
            for (uint e = p; e < len; e++) s += ar[i][e] * br[j][e];
            __global float *cp = c0 + i * ldc + j;
            *cp = beta == 0.0f ? alpha * s : beta * *cp + alpha * s;
        }
}

/* C [m, n] (row stride ldc) = alpha (W_0 + W_1 + ... + W_{S-1}) + beta C, W_s [m, n] dense at
 * w + w_off + s m n: gemm_block's slices summed in order s = 0, 1, ... (the same bits every run). A row
 * kernel over C's m rows (ROW_SPAN). With beta 0, C is not read. */
__kernel void gemm_slices_sum(__global float *c, uint c_off, uint ldc, __global const float *w,
                              uint w_off, uint slices, uint m, uint n, float alpha, float beta)
{
    ROW_SPAN(n, m);
    __global float *cr = c + c_off + r * ldc;
    __global const float *wr = w + w_off + r * n;
    for (uint j = s0; j < s1; j++) {
        float acc = 0.0f;
        for (uint sl = 0; sl < slices; sl++) acc += wr[sl * m * n + j];
        cr[j] = beta == 0.0f ? alpha * acc : beta * cr[j] + alpha * acc;
    }
}
