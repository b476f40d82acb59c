/* GEMMs of thin shapes (a side or the inner dimension of at most a few), which CLBlast pads to
 * its tiles (32 and more) and runs at 1-3 GFLOP/s on pocl: src/device/blas.c sends them here. */

/* C [m, n] (row stride ldc) = alpha op(A) op(B) + beta C, op(A) [m, k] = A [m, lda] or, ta,
 * A^T of A [k, lda]; op(B) [k, n] = B [k, ldb] or, tb, B^T of B [n, ldb]. A row kernel over the
 * m rows of C (ROW_SPAN): each work item takes up to CLVAE_ROW_CHUNK elements of a row, each the
 * dot product over p = 0, 1, ..., k-1 in that order (the same bits every run). With beta 0, C
 * is not read. */
__kernel void gemm_thin(__global float *c, uint c_off, uint ldc, __global const float *a,
                        uint a_off, uint lda, __global const float *b, uint b_off, uint ldb,
                        uint m, uint n, uint k, uint ta, uint tb, float alpha, float beta)
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
    __global float *cr = c + c_off + r * ldc + s0;
    for (uint q = 0; q < w; q++)
        cr[q] = beta == 0.0f ? alpha * acc[q] : beta * cr[q] + alpha * acc[q];
}
