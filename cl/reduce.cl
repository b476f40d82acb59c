/* Reductions in a fixed order (no atomics): one work group per output element (reduce_rows),
 * or one work item per output for column sums (reduce_cols). */

#define REDUCE_SUM 0
#define REDUCE_SUMSQ 1
#define REDUCE_NONFINITE 2

/* f of eight values by op (the non-finite test on the bits, as CLVAE_NONFINITE). */
float8 reduce_f8(float8 x, uint op)
{
    if (op == REDUCE_SUM) return x;
    if (op == REDUCE_SUMSQ) return x * x;
    uint8 e = as_uint8(x) & (uint8)(0x7f800000u);
    return select((float8)(0.0f), (float8)(1.0f), e == (uint8)(0x7f800000u));
}

/* out[r] = (beta != 0 ? beta * out[r] : 0) + alpha * sum_{a<A, b<B} f(in[a*sa + r*sr + b])
 * for r = group id < R, f = identity, square, or "is not finite" by op (tested on the
 * bits, so that -cl-fast-relaxed-math cannot fold it away). The A runs of B values are cut
 * into blocks of 8 (the last of a run shorter); work item lid sums blocks lid, lid + ls, ...
 * as eight lanes (vector loads and maths: value by value, with a division each, this ran at a
 * fifth of an elementwise kernel's speed on pocl), then its lanes in order; the group adds
 * the items' sums in a tree: the order depends only on the local size. */
__kernel void reduce_rows(__global float *out, uint out_off, __global const float *in,
                          uint in_off, uint A, uint B, uint sa, uint sr, float alpha,
                          float beta, uint op)
{
    __local float part[CLVAE_WGS];
    uint r = (uint)get_group_id(0);
    uint lid = (uint)get_local_id(0);
    uint ls = (uint)get_local_size(0);
    uint nbk = (B + 7u) / 8u; /* blocks per run */
    float8 acc = (float8)(0.0f);
    for (uint q = lid; q < A * nbk; q += ls) {
        uint a = q / nbk;
        uint b0 = (q - a * nbk) * 8u;
        __global const float *p = in + in_off + a * sa + r * sr + b0;
        acc += select((float8)(0.0f), reduce_f8(clvae_load8(p, B - b0), op), clvae_lanes8(B - b0));
    }
    part[lid] = clvae_sum8(acc);
    barrier(CLK_LOCAL_MEM_FENCE);
    for (uint s2 = ls / 2; s2 > 0; s2 /= 2) {
        if (lid < s2) part[lid] += part[lid + s2];
        barrier(CLK_LOCAL_MEM_FENCE);
    }
    if (lid == 0) {
        float prev = beta != 0.0f ? beta * out[out_off + r] : 0.0f;
        out[out_off + r] = prev + alpha * part[0];
    }
}

/* The same sums for column-like shapes (B == 1: out[r] = f-sum over a < A of in[a*sa + r*sr]),
 * one work item per output summing a = 0, 1, ..., A-1 in that order: with one work group per
 * output, a bias gradient over 3,136 columns of 128 rows took 15 ms on pocl's CPU device. */
__kernel void reduce_cols(__global float *out, uint out_off, __global const float *in,
                          uint in_off, uint R, uint A, uint sa, uint sr, float alpha, float beta,
                          uint op)
{
    uint r = CLVAE_GID0;
    if (r >= R) return;
    __global const float *p = in + in_off + r * sr;
    float acc = 0.0f;
    for (uint a = 0; a < A; a++) {
        float x = p[a * sa];
        if (op == REDUCE_SUM)
            acc += x;
        else if (op == REDUCE_SUMSQ)
            acc += x * x;
        else
            acc += CLVAE_NONFINITE(x) ? 1.0f : 0.0f;
    }
    float prev = beta != 0.0f ? beta * out[out_off + r] : 0.0f;
    out[out_off + r] = prev + alpha * acc;
}
